//! The attacks: closed forms on a linear model, the paper's goals on the shipped CNN,
//! budgets, batching, and the best-adversarial bookkeeping.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use advdrop::attack::{
    Attack, AttackError, AttackKind, AttackOutcome, Criterion, DeepFool, Fgsm, Jsma, Mode, Outputs,
    PIXELS,
};
use advdrop::eval::recognition::read_floats;
use advdrop::model::{CLASSES, Classifier, Cnn, DropoutScheme, MaskRng};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use common::linear::Linear;

fn ad_device() -> Device {
    Device::flex().autodiff()
}

/// The network twice: on the autodiff device and on the plain one.
type Pair<'a> = (&'a dyn Classifier, &'a dyn Classifier);

/// A paper-mode attack (see `common::attack`).
fn run(
    attack: &impl Attack,
    (model, inference): Pair<'_>,
    scheme: DropoutScheme,
    images: &[f32],
    labels: &[u8],
    criterion: Criterion,
    seed: u64,
) -> Result<AttackOutcome, AttackError> {
    common::attack(
        advdrop::attack::Outputs::Logits,
        Mode::Paper,
        attack,
        model,
        inference,
        scheme,
        images,
        labels,
        criterion,
        seed,
    )
}

/// A mid-grey image, far from the box's faces, and the linear model's label for it.
fn grey_point(model: &Linear) -> (Vec<f32>, u8) {
    let x = vec![0.5f32; PIXELS];
    let z = model.host_logits(&x);
    let label = (0..CLASSES).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap() as u8;
    (x, label)
}

#[test]
fn deepfool_first_step_lands_on_the_analytic_nearest_boundary() {
    let device = ad_device();
    for seed in 0..4 {
        let model = Linear::new(seed, &device);
        let plain = Linear::new(seed, &Device::flex());
        let (x, y) = grey_point(&model);
        let z = model.host_logits(&x);
        let row = |k: usize| &model.w[k * PIXELS..(k + 1) * PIXELS];
        // argmin_k |z_k − z_y| / ‖w_k − w_y‖, step (|f| + 1e-4) / ‖w‖² · w, overshoot 1.05.
        let (k, _) = (0..CLASSES)
            .filter(|&k| k != y as usize)
            .map(|k| {
                let norm = row(k)
                    .iter()
                    .zip(row(y as usize))
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                (k, (z[k] - z[y as usize]).abs() / norm)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let w: Vec<f64> = row(k)
            .iter()
            .zip(row(y as usize))
            .map(|(a, b)| (a - b) as f64)
            .collect();
        let norm2: f64 = w.iter().map(|v| v * v).sum();
        let f = (z[k] - z[y as usize]).abs() + advdrop::attack::deepfool::PAST_BOUNDARY as f64;
        let expected: Vec<f64> = x
            .iter()
            .zip(&w)
            .map(|(x, w)| *x as f64 + 1.05 * f / norm2 * w)
            .collect();
        let out = run(
            &DeepFool::default(),
            (&model, &plain),
            DropoutScheme::NONE,
            &x,
            &[y],
            Criterion::Misclassification,
            0,
        )
        .unwrap();
        assert!(out.success[0]);
        assert_eq!(
            out.queries[0],
            1 + CLASSES as u32 * 2,
            "one step, then the check"
        );
        let err = out
            .adversarial(0)
            .iter()
            .zip(&expected)
            .map(|(a, e)| (*a as f64 - e).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-5, "seed {seed}: off the analytic step by {err}");
    }
}

#[test]
fn fgsm_equals_its_closed_form_on_a_linear_model() {
    let device = ad_device();
    for seed in 0..4 {
        let model = Linear::new(seed, &device);
        let plain = Linear::new(seed, &Device::flex());
        let (x, y) = grey_point(&model);
        let y = y as usize;
        let z = model.host_logits(&x);
        // ∇ CE(y) = Wᵀ (softmax(z) − e_y); its sign, then z(ε) = z + ε·W·s while unclipped.
        let max = z.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|v| v / sum).collect();
        let sign: Vec<f64> = (0..PIXELS)
            .map(|i| {
                let g: f64 = (0..CLASSES)
                    .map(|k| model.w[k * PIXELS + i] as f64 * (p[k] - (k == y) as u8 as f64))
                    .sum();
                if g > 0.0 {
                    1.0
                } else if g < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            })
            .collect();
        let ws: Vec<f64> = (0..CLASSES)
            .map(|k| {
                (0..PIXELS)
                    .map(|i| model.w[k * PIXELS + i] as f64 * sign[i])
                    .sum()
            })
            .collect();
        let crossing = (0..CLASSES)
            .filter(|&k| k != y && ws[k] > ws[y])
            .map(|k| (z[y] - z[k]) / (ws[k] - ws[y]))
            .fold(f64::INFINITY, f64::min);
        let epsilon = (crossing * 1000.0).ceil() / 1000.0;
        assert!(epsilon < 0.5, "the test wants an unclipped crossing");
        let out = run(
            &Fgsm::default(),
            (&model, &plain),
            DropoutScheme::NONE,
            &x,
            &[y as u8],
            Criterion::Misclassification,
            0,
        )
        .unwrap();
        assert!(out.success[0]);
        let step = (epsilon * 1000.0).round() as u32;
        assert_eq!(out.queries[0], 2 + step);
        // One image: 32 ε per call; the rest of the crossing's chunk is extra, not queries.
        let chunk_end = (step.div_ceil(32) * 32).min(1000);
        assert_eq!(out.extra[0], chunk_end - step, "ε step {step}");
        for (a, (x, s)) in out.adversarial(0).iter().zip(x.iter().zip(&sign)) {
            assert!((*a as f64 - (*x as f64 + epsilon * s)).abs() < 1e-6);
        }
    }
}

/// Foolbox 0.8's `SaliencyMapAttack` loop (fast mode) written out on the host for a linear
/// model: per step a prediction (stop when it is the target), then α = ∇CE(t)·mask, the first
/// index of the largest α, moved by −sign(α)·0.1 in f64 and stored as f32, the count and mask
/// rules, no early stop. Returns the final point, whether it was adversarial, and the calls
/// (first prediction of the original, then a prediction and a gradient per step).
fn foolbox_jsma(model: &Linear, x0: &[f32], t: usize, max_iter: usize) -> (Vec<f32>, bool, u32) {
    let argmax = |z: &[f64; CLASSES]| (0..CLASSES).fold(0, |b, k| if z[k] > z[b] { k } else { b });
    let (mut x, mut mask, mut counts) = (x0.to_vec(), vec![1f32; PIXELS], vec![0u32; PIXELS]);
    let mut calls = 1;
    for _ in 0..max_iter {
        calls += 1;
        let z = model.host_logits(&x);
        if argmax(&z) == t {
            return (x, true, calls);
        }
        calls += 1;
        let max = z.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        let alpha: Vec<f32> = (0..PIXELS)
            .map(|i| {
                let g: f64 = (0..CLASSES)
                    .map(|k| model.w[k * PIXELS + i] as f64 * (e[k] / sum - (k == t) as u8 as f64))
                    .sum();
                g as f32 * mask[i]
            })
            .collect();
        let idx = (0..PIXELS).fold(0, |b, i| if -alpha[i] < -alpha[b] { i } else { b });
        let sign = (alpha[idx] > 0.0) as i32 as f64 - (alpha[idx] < 0.0) as i32 as f64;
        x[idx] = (x[idx] as f64 - sign * 0.1) as f32;
        counts[idx] += 1;
        if x[idx] <= 0.0 || x[idx] >= 1.0 || counts[idx] >= 7 {
            mask[idx] = 0.0;
        }
        x[idx] = x[idx].clamp(0.0, 1.0);
    }
    (x0.to_vec(), false, calls)
}

#[test]
fn jsma_takes_foolbox_steps_on_a_linear_model() {
    let device = ad_device();
    let mut checked = 0;
    for seed in 0..6 {
        let model = Linear::new(seed, &device);
        let plain = Linear::new(seed, &Device::flex());
        let (x, y) = grey_point(&model);
        let z = model.host_logits(&x);
        // The least likely class: a long walk.
        let t = (0..CLASSES).fold(0, |b, k| if z[k] < z[b] { k } else { b });
        for max_iter in [3, 400] {
            let (expected, success, calls) = foolbox_jsma(&model, &x, t, max_iter);
            let attack = Jsma {
                max_iterations: max_iter,
                ..Jsma::default()
            };
            let out = run(
                &attack,
                (&model, &plain),
                DropoutScheme::NONE,
                &x,
                &[y],
                Criterion::TargetClass(vec![t as u8]),
                0,
            )
            .unwrap();
            let what = format!("seed {seed}, {max_iter} steps");
            assert_eq!(out.success[0], success, "{what}");
            assert_eq!(out.queries[0], calls, "{what}: model calls");
            assert_eq!(out.adversarial(0), &expected[..], "{what}: pixels");
            checked += success as usize;
        }
    }
    assert!(
        checked >= 3,
        "too few walks reached their target ({checked})"
    );
}

/// The first `n` test images the deterministic network classifies correctly.
fn correct_test_images(model: &Cnn, n: usize) -> (Vec<usize>, Vec<f32>, Vec<u8>) {
    let device = Device::flex();
    let candidates: Vec<usize> = (0..2 * n).collect();
    let pixels = common::test_pixels(&candidates);
    let x = Tensor::<4>::from_data(TensorData::new(pixels, [2 * n, 1, 28, 28]), &device);
    let predicted: Vec<i64> = model
        .forward(x, &DropoutScheme::NONE, &mut MaskRng::seed(0))
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .collect();
    let labels = common::mnist().test.labels_at(&candidates);
    let chosen: Vec<usize> = candidates
        .into_iter()
        .filter(|&i| predicted[i] == labels[i] as i64)
        .take(n)
        .collect();
    (
        chosen.clone(),
        common::test_pixels(&chosen),
        common::mnist().test.labels_at(&chosen),
    )
}

/// Classes the deterministic network gives the adversarials.
fn classify(model: &Cnn, images: &[f32]) -> Vec<u8> {
    let n = images.len() / PIXELS;
    let x = Tensor::<4>::from_data(
        TensorData::new(images.to_vec(), [n, 1, 28, 28]),
        &Device::flex(),
    );
    let z = pollster::block_on(read_floats(model.forward(
        x,
        &DropoutScheme::NONE,
        &mut MaskRng::seed(0),
    )))
    .unwrap();
    z.chunks(CLASSES)
        .map(|z| (0..CLASSES).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap() as u8)
        .collect()
}

fn random_targets(labels: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = MaskRng::seed(seed);
    labels
        .iter()
        .map(|&l| ((l as u64 + 1 + rng.next_u64() % 9) % 10) as u8)
        .collect()
}

fn success_rate(out: &AttackOutcome) -> f64 {
    out.success.iter().filter(|&&s| s).count() as f64 / out.len() as f64
}

fn assert_in_box(out: &AttackOutcome, what: &str) {
    assert!(
        out.adversarials.iter().all(|v| (0.0..=1.0).contains(v)),
        "{what}: left [0, 1]"
    );
}

const N: usize = 16;
/// Semantics on few images (the protocol's numbers come from `advdrop reproduce` and `make
/// fidelity`): L-BFGS's c search costs thousands of model calls per image.
const N_LBFGS: usize = 4;
/// FGSM's single untargeted direction leaves the true label in the top 3 for some confident
/// images even at ε = 1 (84 % success measured on the first 50); the paper skipped failures.
const FGSM_TOP3_FLOOR: f64 = 0.75;
/// Foolbox 0.8's JSMA only ever lowers pixels (it picks the largest gradient of CE(target), not
/// the largest magnitude), so some targets are out of its reach: targeted 8 of these 8 (85 of
/// the protocol's first 100 under `none`); top-3, where the target is the gradient attack's
/// class or, where that fails, a random one, 5 of 8 (10 of the first 16).
const N_JSMA: usize = 8;
const JSMA_TARGETED_FLOOR: f64 = 0.8;
const JSMA_TOP3_FLOOR: f64 = 0.5;

/// Runs `attack` on the first `n` correctly classified test images, for top-3 and (where the
/// attack has one) a random target, checks every reported success against the network, and
/// returns the rates and the top-3 outcome.
fn reaches_its_goals(attack: AttackKind, n: usize) -> (f64, Option<f64>, AttackOutcome) {
    let device = ad_device();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let pair: Pair<'_> = (&model, &plain);
    let (_, all_images, all_labels) = correct_test_images(&model, n);
    let (images, labels) = (&all_images[..n * PIXELS], &all_labels[..n]);
    let targets = random_targets(labels, 1);
    let mut goals = vec![Criterion::TopKMisclassification(3)];
    if attack.supports_targeted() {
        goals.push(Criterion::TargetClass(targets.clone()));
    }
    let (mut top3, mut targeted_rate) = (None, None);
    for goal in goals {
        let targeted = matches!(goal, Criterion::TargetClass(_));
        let what = format!("{attack} {}", goal.goal_name());
        let out = run(
            &attack,
            pair,
            DropoutScheme::NONE,
            images,
            labels,
            goal.clone(),
            3,
        )
        .unwrap();
        assert_in_box(&out, &what);
        let rate = success_rate(&out);
        eprintln!("{what}: {:.0} % of {n}", rate * 100.0);
        for i in (0..n).filter(|&i| out.success[i]) {
            let z = logits_of(&model, out.adversarial(i));
            assert!(
                goal.is_adversarial(i, labels[i], &z),
                "{what}: image {i} reported a success that the network does not confirm: {z:?}"
            );
            if targeted {
                assert_eq!(
                    classify(&model, out.adversarial(i))[0],
                    targets[i],
                    "{what}: image {i}"
                );
            }
        }
        if targeted {
            targeted_rate = Some(rate);
        } else {
            top3 = Some((rate, out));
        }
    }
    let (rate, out) = top3.unwrap();
    (rate, targeted_rate, out)
}

/// L-BFGS on a shorter budget than Foolbox's: the c search starts at 200 (not 2e-5) and bisects
/// down to a width of 100 (not 1e-5), each L-BFGS-B run stops after 20 iterations (not 150).
/// On this network a top-3 goal needs c ≈ 1e5, which Foolbox's defaults reach after 24
/// doublings and 24 bisections, about 5,000 model calls per image (184 s of CPU for these 4
/// images). The search and the solver are the same code; `make fidelity` checks the defaults
/// against Foolbox 0.8 itself. Measured: L2 4.46 against FGSM's 6.44 on the images both solve.
#[test]
fn lbfgs_reaches_its_goals_and_beats_fgsm_on_distance() {
    let lbfgs = AttackKind::Lbfgs(advdrop::attack::Lbfgs {
        epsilon: 100.0,
        max_iterations: 20,
        ..Default::default()
    });
    let (top3, targeted, lbfgs) = reaches_its_goals(lbfgs, N_LBFGS);
    assert!(top3 >= 0.95, "top-3 success {top3}");
    assert!(targeted.unwrap() >= 0.95, "targeted success {targeted:?}");
    // L-BFGS minimises the distance; FGSM only walks one direction.
    let (_, _, fgsm) = reaches_its_goals(AttackKind::Fgsm(Fgsm::default()), N_LBFGS);
    let both: Vec<usize> = (0..N_LBFGS)
        .filter(|&i| lbfgs.success[i] && fgsm.success[i])
        .collect();
    let mean = |o: &AttackOutcome| {
        both.iter().map(|&i| o.distances[i].l2).sum::<f32>() / both.len() as f32
    };
    assert!(both.len() >= N_LBFGS / 2);
    assert!(
        mean(&lbfgs) < mean(&fgsm),
        "L-BFGS {} vs FGSM {}",
        mean(&lbfgs),
        mean(&fgsm)
    );
}

#[test]
fn fgsm_reaches_its_goals() {
    let (top3, targeted, _) = reaches_its_goals(AttackKind::Fgsm(Fgsm::default()), N);
    assert!(top3 >= FGSM_TOP3_FLOOR, "top-3 success {top3}");
    // Foolbox 0.8's untargeted direction reaches a random target only sometimes.
    let targeted = targeted.unwrap();
    assert!(targeted < 0.95, "targeted {targeted} is implausibly high");
}

#[test]
fn jsma_reaches_its_goals() {
    let (top3, targeted, _) = reaches_its_goals(AttackKind::Jsma(Jsma::default()), N_JSMA);
    assert!(top3 >= JSMA_TOP3_FLOOR, "top-3 success {top3}");
    let targeted = targeted.unwrap();
    assert!(
        targeted >= JSMA_TARGETED_FLOOR,
        "targeted success {targeted}"
    );
}

#[test]
fn deepfool_reaches_its_goal() {
    let (top3, targeted, _) = reaches_its_goals(AttackKind::DeepFool(DeepFool::default()), N);
    assert!(top3 >= 0.95, "top-3 success {top3}");
    assert_eq!(targeted, None);
}

fn logits_of(model: &Cnn, image: &[f32]) -> Vec<f32> {
    let x = Tensor::<4>::from_data(
        TensorData::new(image.to_vec(), [1, 1, 28, 28]),
        &Device::flex(),
    );
    model
        .forward(x, &DropoutScheme::NONE, &mut MaskRng::seed(0))
        .into_data()
        .iter::<f32>()
        .collect()
}

#[test]
fn jsma_respects_its_budgets() {
    let device = ad_device();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let pair: Pair<'_> = (&model, &plain);
    let (_, images, labels) = correct_test_images(&model, 10);
    let targets = random_targets(&labels, 2);
    // A short budget: failures run every step (Foolbox does not stop early).
    let fast = Jsma {
        max_iterations: 300,
        ..Jsma::default()
    };
    let out = run(
        &fast,
        pair,
        DropoutScheme::ALL,
        &images,
        &labels,
        Criterion::TargetClass(targets.clone()),
        4,
    )
    .unwrap();
    for i in 0..out.len() {
        let d = &out.distances[i];
        // Seven changes of 0.1 at most per pixel.
        assert!(
            d.linf <= 7.0 * fast.theta as f32 + 1e-5,
            "image {i}: L∞ {}",
            d.linf
        );
        assert!(d.l0 as usize <= fast.pixel_budget());
    }
    let pairs = Jsma::pairs();
    let out = run(
        &pairs,
        pair,
        DropoutScheme::NONE,
        &images,
        &labels,
        Criterion::TargetClass(targets),
        4,
    )
    .unwrap();
    assert_in_box(&out, "jsma-pairs");
    assert!(
        success_rate(&out) >= 0.8,
        "jsma-pairs: {}",
        success_rate(&out)
    );
    for i in 0..out.len() {
        assert!(
            out.distances[i].l0 as usize <= pairs.pixel_budget(),
            "image {i}: {} pixels",
            out.distances[i].l0
        );
        let original = &images[i * PIXELS..(i + 1) * PIXELS];
        for (a, o) in out.adversarial(i).iter().zip(original) {
            assert!(
                a == o || *a == 1.0,
                "pairs set changed pixels to the top of the range"
            );
        }
    }
}

#[test]
fn batched_and_one_at_a_time_runs_agree() {
    let device = ad_device();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let pair: Pair<'_> = (&model, &plain);
    let (_, images, labels) = correct_test_images(&model, 6);
    let goal = Criterion::TopKMisclassification(3);
    // JSMA on a short budget: an image that fails runs every step (Foolbox does not stop
    // early), and at the default 2,000 this test alone took 116 s of CPU.
    let jsma = Jsma {
        max_iterations: 300,
        ..Jsma::default()
    };
    for attack in [
        AttackKind::DeepFool(DeepFool::default()),
        AttackKind::Jsma(jsma),
    ] {
        let batched = run(
            &attack,
            pair,
            DropoutScheme::NONE,
            &images,
            &labels,
            goal.clone(),
            0,
        )
        .unwrap();
        for i in 0..labels.len() {
            let one = run(
                &attack,
                pair,
                DropoutScheme::NONE,
                &images[i * PIXELS..(i + 1) * PIXELS],
                &labels[i..=i],
                goal.clone(),
                0,
            )
            .unwrap();
            assert_eq!(one.success[0], batched.success[i]);
            assert_eq!(one.queries[0], batched.queries[i], "{attack} image {i}");
            let diff = one
                .adversarial(0)
                .iter()
                .zip(batched.adversarial(i))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                diff < 1e-4,
                "{attack} image {i}: batched and single differ by {diff}"
            );
        }
    }
}

/// FGSM's wide sweep (several ε of an image per call once few images are left) against
/// Foolbox's one ε per call: without dropout the same answers and queries, image by image;
/// under `all` (every point its own masks either way) the same distribution.
#[test]
fn fgsm_wide_sweep_changes_no_answer_without_dropout_and_no_distribution_with_it() {
    let device = ad_device();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let pair: Pair<'_> = (&model, &plain);
    let (_, images, labels) = correct_test_images(&model, 24);
    let narrow = Fgsm {
        wide: false,
        ..Fgsm::default()
    };
    let goal = Criterion::TopKMisclassification(3);
    let sweep = |attack: &Fgsm, scheme, seed| {
        run(attack, pair, scheme, &images, &labels, goal.clone(), seed).unwrap()
    };
    let (one, wide) = (
        sweep(&narrow, DropoutScheme::NONE, 0),
        sweep(&Fgsm::default(), DropoutScheme::NONE, 0),
    );
    assert_eq!(one.success, wide.success);
    assert_eq!(one.queries, wide.queries);
    assert!(one.extra.iter().all(|&e| e == 0));
    assert!(wide.extra.iter().sum::<u32>() > 0, "the tail ran wide");
    for i in 0..labels.len() {
        let diff = one
            .adversarial(i)
            .iter()
            .zip(wide.adversarial(i))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-6, "image {i}: {diff}");
    }
    // Under dropout: success rate and mean MAD of successes, two seeds of 24 images each way.
    // Between two seeds the one-ε-per-call sweep's mean MAD moves by ~6 % (measured: 0.138 vs
    // 0.130), so 15 % between the two sweeps' means flags a biased sweep, not noise.
    let summary = |out: &AttackOutcome| {
        let mads: Vec<f64> = (0..out.len())
            .filter(|&i| out.success[i] && !out.first_pass[i])
            .map(|i| {
                let d = advdrop::attack::Distances::between(
                    out.adversarial(i),
                    &images[i * PIXELS..(i + 1) * PIXELS],
                );
                d.mad as f64
            })
            .collect();
        (
            success_rate(out),
            mads.iter().sum::<f64>() / mads.len().max(1) as f64,
        )
    };
    let narrow_runs: Vec<_> = (1..3)
        .map(|seed| summary(&sweep(&narrow, DropoutScheme::ALL, seed)))
        .collect();
    let wide_runs: Vec<_> = (1..3)
        .map(|seed| summary(&sweep(&Fgsm::default(), DropoutScheme::ALL, seed)))
        .collect();
    let mean = |runs: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
        runs.iter().map(f).sum::<f64>() / runs.len() as f64
    };
    let (rate_n, rate_w) = (mean(&narrow_runs, |r| r.0), mean(&wide_runs, |r| r.0));
    let (mad_n, mad_w) = (mean(&narrow_runs, |r| r.1), mean(&wide_runs, |r| r.1));
    assert!(
        (rate_n - rate_w).abs() <= 0.1,
        "success {rate_n} vs {rate_w}"
    );
    assert!(
        (mad_w / mad_n - 1.0).abs() < 0.15,
        "mean MAD {mad_n} (one ε per call) vs {mad_w} (wide)"
    );
}

#[test]
fn deepfool_refuses_targeted_goals_and_shapes_are_checked() {
    let device = ad_device();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let pair: Pair<'_> = (&model, &plain);
    let (_, images, labels) = correct_test_images(&model, 2);
    let err = run(
        &DeepFool::default(),
        pair,
        DropoutScheme::NONE,
        &images,
        &labels,
        Criterion::TargetClass(vec![1, 2]),
        0,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("deepfool cannot pursue a targeted goal"),
        "{err}"
    );
    let err = run(
        &Fgsm::default(),
        pair,
        DropoutScheme::NONE,
        &images[..PIXELS],
        &labels,
        Criterion::Misclassification,
        0,
    )
    .unwrap_err();
    assert!(matches!(err, AttackError::Shape(_)));
    // Classes and pixels out of range are refused with a reason before any model call (the JS
    // API passes whatever a page sends).
    let refused = |images: &[f32], labels: &[u8], criterion| {
        run(
            &Fgsm::default(),
            pair,
            DropoutScheme::NONE,
            images,
            labels,
            criterion,
            0,
        )
        .unwrap_err()
    };
    let err = refused(&images, &[labels[0], 10], Criterion::Misclassification);
    assert_eq!(err.to_string(), "label 10 of image 1 is not a class (0–9)");
    let err = refused(&images, &labels, Criterion::TargetClass(vec![3, 255]));
    assert_eq!(
        err.to_string(),
        "target 255 of image 1 is not a class (0–9)"
    );
    let mut bright = images.clone();
    bright[5] = 1.5;
    let err = refused(&bright, &labels, Criterion::Misclassification);
    assert_eq!(err.to_string(), "pixel 5 of image 0 is 1.5, outside [0, 1]");
    bright[5] = f32::NAN;
    assert!(matches!(
        refused(&bright, &labels, Criterion::Misclassification),
        AttackError::PixelOutOfRange { .. }
    ));
}

#[test]
fn first_pass_adversarials_are_counted_separately() {
    let device = ad_device();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let pair: Pair<'_> = (&model, &plain);
    let (_, images, mut labels) = correct_test_images(&model, 4);
    labels[1] = (labels[1] + 1) % 10; // a wrong label: the first pass already "misclassifies"
    let out = run(
        &Fgsm::default(),
        pair,
        DropoutScheme::NONE,
        &images,
        &labels,
        Criterion::Misclassification,
        0,
    )
    .unwrap();
    assert_eq!(out.first_pass, vec![false, true, false, false]);
    assert!(out.success[1]);
    assert_eq!(out.distances[1].l2, 0.0);
    assert_eq!(out.queries[1], 1);
}

/// Foolbox 0.8's Keras wrapper in its default probabilities mode (`Outputs::ClippedLogProbs`):
/// on digits the network is sure of (the label's logit leads by more than ln 10⁷ ≈ 16.1), every
/// probability sits at a clip bound, so the gradient the attacks see is exactly zero and FGSM
/// never moves (1000 predictions of the original); on the logits it succeeds.
#[test]
fn clipped_log_probabilities_hide_the_gradient_of_confident_digits() {
    let device = ad_device();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let indices = [4, 5];
    let images = common::test_pixels(&indices);
    let labels = common::mnist().test.labels_at(&indices);
    for (i, image) in images.chunks(PIXELS).enumerate() {
        let mut z = logits_of(&model, image);
        z.sort_by(f32::total_cmp);
        assert!(z[9] - z[8] > 17.0, "digit {i} is not saturated: {z:?}");
    }
    let run_with = |outputs| {
        common::attack(
            outputs,
            Mode::Paper,
            &Fgsm::default(),
            &model,
            &plain,
            DropoutScheme::NONE,
            &images,
            &labels,
            Criterion::TopKMisclassification(3),
            0,
        )
        .unwrap()
    };
    let logits = run_with(Outputs::Logits);
    let clipped = run_with(Outputs::ClippedLogProbs);
    for i in 0..indices.len() {
        assert!(logits.success[i], "digit {i} on logits");
        assert!(
            !clipped.success[i],
            "digit {i} on clipped log-probabilities"
        );
        assert_eq!(
            clipped.adversarial(i),
            &images[i * PIXELS..(i + 1) * PIXELS]
        );
        assert_eq!(
            clipped.queries[i],
            1 + 1 + 1000,
            "digit {i}: every ε predicted"
        );
    }
}
