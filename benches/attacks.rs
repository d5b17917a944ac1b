//! Attack throughput: images per second at batch 100 under `none` and `all`, for each attack
//! and goal, on the first 100 test images the shipped network classifies correctly, on the CPU
//! backend (flex) or the one `ADVDROP_BACKEND` names (`wgpu`: the machine's first GPU).
//!
//! `cargo bench --bench attacks` runs everything (about 30 minutes on two cores, three quarters
//! of it L-BFGS); `cargo bench --bench attacks -- deepfool fgsm` runs the named attacks only
//! (`fgsm` names both FGSM lines, `fgsm-wide` the wide one alone).
//! One timed run per line rather than criterion's repetitions: a single L-BFGS batch takes
//! minutes, and the spread between runs is far below the differences that matter here.
//!
//! FGSM runs twice: `fgsm-1ε` makes one model call per ε as Foolbox did (the sweep before wide
//! calls), `fgsm` gives each image still searching several ε per call; success and MAD must
//! agree, and `extra/img` counts the evaluations past the answer that the wide calls spent.

use std::time::Instant;

use advdrop::attack::{Attack, AttackKind, Criterion, Fgsm, Metric, Mode, Victim, run_attack};
use advdrop::backend::Backend;
use advdrop::data::Mnist;
use advdrop::experiment::protocol;
use advdrop::model::{Cnn, DropoutScheme, MaskRng};
use burn::module::Module;

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
    let backend: Backend = std::env::var("ADVDROP_BACKEND")
        .map(|name| name.parse().expect("ADVDROP_BACKEND"))
        .unwrap_or(Backend::Flex);
    let device = backend.device().autodiff();
    // Relative to the repository root, where cargo runs benches (and a prebuilt copy runs too).
    let bytes = std::fs::read("www/model/advdrop-cnn.safetensors").expect("shipped weights");
    // Frozen, as the CLI loads them: attacks differentiate with respect to the input only.
    let model = Cnn::from_safetensors(&bytes, &device)
        .expect("weights")
        .no_grad();
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
    println!("backend {backend}, batch {BATCH}");
    println!("attack      goal      scheme  success  img/s   queries/img  extra/img  MAD (0-255)");
    let mut attacks: Vec<(&str, AttackKind)> = Vec::new();
    for attack in AttackKind::paper() {
        if let AttackKind::Fgsm(f) = &attack {
            let narrow = Fgsm {
                wide: false,
                ..f.clone()
            };
            attacks.push(("fgsm-1ε", AttackKind::Fgsm(narrow)));
        }
        attacks.push((attack.name(), attack));
    }
    for (label, attack) in attacks {
        let named = |w: &String| w == attack.name() || (w == "fgsm-wide" && label == "fgsm");
        if !wanted.is_empty() && !wanted.iter().any(named) {
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
                let per_image = |v: &[u32]| v.iter().map(|&q| q as f64).sum::<f64>() / BATCH as f64;
                let mad = (0..BATCH)
                    .filter(|&i| out.success[i])
                    .map(|i| out.distances[i].mad as f64 * 255.0)
                    .sum::<f64>()
                    / successes.max(1) as f64;
                println!(
                    "{:<11} {:<9} {:<7} {:>3}/{BATCH}  {:>6.2}  {:>11.0}  {:>9.0}  {:>11.2}",
                    label,
                    goal_name,
                    scheme_name,
                    successes,
                    BATCH as f64 / seconds,
                    per_image(&out.queries),
                    per_image(&out.extra),
                    mad
                );
            }
        }
    }
}
