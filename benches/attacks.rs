//! Attack throughput: images per second at batch 100 under `none` and `all`, for each attack
//! and goal, on the first 100 test images the shipped network classifies correctly (flex CPU).
//!
//! `cargo bench --bench attacks` runs everything (about 30 minutes on two cores, three quarters
//! of it L-BFGS); `cargo bench --bench attacks -- deepfool fgsm` runs the named attacks only.
//! One timed run per line rather than criterion's repetitions: a single L-BFGS batch takes
//! minutes, and the spread between runs is far below the differences that matter here.

use std::time::Instant;

use advdrop::attack::{Attack, AttackKind, Criterion, Metric, Mode, Victim, run_attack};
use advdrop::data::Mnist;
use advdrop::experiment::protocol;
use advdrop::model::{Cnn, DropoutScheme, MaskRng};
use burn::module::Module;
use burn::tensor::Device;

const BATCH: usize = 100;

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = std::env::var_os("ADVDROP_MNIST")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist")
        });
    let mnist = Mnist::load(&dir).expect("MNIST (set ADVDROP_MNIST)");
    let device = Device::flex().autodiff();
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/model/advdrop-cnn.safetensors"),
    )
    .expect("shipped weights");
    let model = Cnn::from_safetensors(&bytes, &device).expect("weights");
    let plain = model.valid();
    let candidates = pollster::block_on(protocol::candidates(
        &plain,
        &mnist.test,
        &device.clone().without_autodiff(),
    ))
    .expect("candidates");
    let indices = &candidates[..BATCH];
    let labels = mnist.test.labels_at(indices);
    let images: Vec<f32> = indices
        .iter()
        .flat_map(|&i| mnist.test.image(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    let targets: Vec<u8> = indices
        .iter()
        .zip(&labels)
        .map(|(&i, &l)| protocol::target_for(0, i, l))
        .collect();
    println!("attack      goal      scheme  success  img/s   queries/img");
    for attack in AttackKind::paper() {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == attack.name()) {
            continue;
        }
        for (scheme_name, scheme) in [("none", DropoutScheme::NONE), ("all", DropoutScheme::ALL)] {
            let mut goals = vec![("top3", Criterion::TopKMisclassification(3))];
            if attack.supports_targeted() {
                goals.insert(0, ("targeted", Criterion::TargetClass(targets.clone())));
            }
            for (goal_name, goal) in goals {
                let victim = Victim {
                    model: &model,
                    inference: &plain,
                    scheme,
                    device: &device,
                    mode: Mode::Paper,
                    outputs: advdrop::attack::Outputs::Logits,
                };
                let mut rng = MaskRng::seed(0);
                let started = Instant::now();
                let out = pollster::block_on(run_attack(
                    &attack,
                    victim,
                    &images,
                    &labels,
                    goal,
                    Metric::Mse,
                    &mut rng,
                ))
                .expect("attack");
                let seconds = started.elapsed().as_secs_f64();
                let successes = out.success.iter().filter(|&&s| s).count();
                let queries = out.queries.iter().map(|&q| q as f64).sum::<f64>() / BATCH as f64;
                println!(
                    "{:<11} {:<9} {:<7} {:>3}/{BATCH}  {:>6.2}  {:>8.0}",
                    attack.name(),
                    goal_name,
                    scheme_name,
                    successes,
                    BATCH as f64 / seconds,
                    queries
                );
            }
        }
    }
}
