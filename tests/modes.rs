//! The attacker modes: EOT sees the expected network, fixed masks freeze one network per
//! image, and the paper's mode sees a new one at every call.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use advdrop::attack::{AttackKind, Criterion, Mode, PIXELS};
use advdrop::eval::recognition::read_floats;
use advdrop::model::{CLASSES, DropoutScheme, FrozenMasks, MaskRng};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use common::linear::Linear;
use common::probe::Probe;

fn input_dropout(p: f32) -> DropoutScheme {
    DropoutScheme::new(p, 0.0, 0.0).unwrap()
}

/// The linear model's label for a mid-grey image, and its least likely class (a target no
/// single pass reaches by chance, so the probe always runs).
fn grey(model: &Linear) -> (Vec<f32>, u8, u8) {
    let x = vec![0.5f32; PIXELS];
    let z = model.host_logits(&x);
    let by = |a: &usize, b: &usize| z[*a].total_cmp(&z[*b]);
    let label = (0..CLASSES).max_by(by).unwrap() as u8;
    let unlikely = (0..CLASSES).min_by(by).unwrap() as u8;
    (x, label, unlikely)
}

/// ‖a − b‖ / ‖b‖.
fn relative_error(a: &[f32], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(a, b)| (*a as f64 - b).powi(2)).sum();
    let norm: f64 = b.iter().map(|b| b * b).sum();
    (diff / norm).sqrt()
}

#[test]
fn eot_sees_the_expected_network() {
    let model = Linear::new(1, &Device::flex().autodiff());
    let plain = Linear::new(1, &Device::flex());
    let (x, label, unlikely) = grey(&model);
    // Input dropout keeps E[x ⊙ m] = x, so the expected linear network is the deterministic
    // one: logits z and ∇ₓ CE(z, label) = Wᵀ(softmax(z) − e_label).
    let z = model.host_logits(&x);
    let max = z.iter().cloned().fold(f64::MIN, f64::max);
    let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
    let mut residual: Vec<f64> = z.iter().map(|v| (v - max).exp() / sum).collect();
    residual[label as usize] -= 1.0;
    let expected: Vec<f64> = (0..PIXELS)
        .map(|p| {
            (0..CLASSES)
                .map(|k| model.w[k * PIXELS + p] as f64 * residual[k])
                .sum()
        })
        .collect();

    let mut errors = Vec::new();
    for (mode, passes) in [(Mode::Eot { samples: 4000 }, 4000), (Mode::Paper, 1)] {
        let probe = Probe::new(1);
        let out = common::attack(
            advdrop::attack::Outputs::Logits,
            mode,
            &probe,
            &model,
            &plain,
            input_dropout(0.5),
            &x,
            &[label],
            Criterion::TargetClass(vec![unlikely]),
            3,
        )
        .unwrap();
        let seen = probe.seen.into_inner();
        assert_eq!(seen.len(), 1, "{mode}: the probe ran");
        // The first check of the original and the probe's call, each `passes` passes.
        assert_eq!(out.queries, vec![2 * passes], "{mode}");
        let logits = seen[0].checked[0].logits;
        let logit_error = logits
            .iter()
            .zip(&z)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        errors.push((logit_error, relative_error(&seen[0].gradient, &expected)));
    }
    let ((eot_logits, eot_gradient), (paper_logits, paper_gradient)) = (errors[0], errors[1]);
    eprintln!(
        "logits off by {eot_logits:.4} (EOT) vs {paper_logits:.4} (one pass); gradient {eot_gradient:.4} vs {paper_gradient:.4}"
    );
    // One pass: each logit is off by ~0.8 (σ of Σ w x m), the gradient by ~100 % (m ∈ {0, 2}).
    // The mean of 4000 passes: σ / √4000 ≈ 0.013 and ~1.6 %.
    assert!(eot_logits < 0.1, "EOT logits off by {eot_logits}");
    assert!(eot_gradient < 0.1, "EOT gradient off by {eot_gradient}");
    assert!(paper_logits > 5.0 * eot_logits, "one pass: {paper_logits}");
    assert!(
        paper_gradient > 0.5,
        "one pass: gradient off by {paper_gradient}"
    );
}

#[test]
fn fixed_masks_freeze_one_network_per_image() {
    let model = Linear::new(2, &Device::flex().autodiff());
    let plain = Linear::new(2, &Device::flex());
    let (x, label, unlikely) = grey(&model);
    let images = [x.clone(), x].concat();
    let call = |mode: Mode| {
        let probe = Probe::new(2);
        common::attack(
            advdrop::attack::Outputs::Logits,
            mode,
            &probe,
            &model,
            &plain,
            input_dropout(0.3),
            &images,
            &[label, label],
            Criterion::TargetClass(vec![unlikely, unlikely]),
            5,
        )
        .unwrap();
        probe.seen.into_inner()
    };

    let fixed = call(Mode::FixedMask);
    assert_eq!(fixed.len(), 2);
    for image in 0..2 {
        let logits = |call: usize| fixed[call].checked[image].logits;
        let gradient = |call: usize| &fixed[call].gradient[image * PIXELS..(image + 1) * PIXELS];
        assert_eq!(
            logits(0),
            logits(1),
            "image {image}: the same network twice"
        );
        assert_eq!(
            logits(0),
            fixed[0].first_logits[image],
            "and at the first check"
        );
        assert_eq!(gradient(0), gradient(1));
    }
    assert_ne!(
        fixed[0].checked[0].logits, fixed[0].checked[1].logits,
        "two images, two masks"
    );

    let paper = call(Mode::Paper);
    assert_ne!(
        paper[0].checked[0].logits, paper[1].checked[0].logits,
        "the paper's mode draws new masks at every call"
    );
}

#[test]
fn fixed_mask_adversarials_hold_under_their_frozen_masks() {
    let device = Device::flex().autodiff();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let indices: Vec<usize> = (0..8).collect();
    let images = common::test_pixels(&indices);
    let labels = common::mnist().test.labels_at(&indices);
    let seed = 7;
    let out = common::attack(
        advdrop::attack::Outputs::Logits,
        Mode::FixedMask,
        &"deepfool".parse::<AttackKind>().unwrap(),
        &model,
        &plain,
        DropoutScheme::ALL,
        &images,
        &labels,
        Criterion::TopKMisclassification(3),
        seed,
    )
    .unwrap();
    let successes = out.success.iter().filter(|&&s| s).count();
    assert!(
        successes >= 7,
        "{successes} of 8: a frozen network is no defence"
    );

    // Image i's masks are seeded by the i-th draw of the attack's stream (see `Mode`).
    let mut rng = MaskRng::seed(seed);
    let seeds: Vec<u64> = labels.iter().map(|_| rng.next_u64()).collect();
    let x = Tensor::<4>::from_data(
        TensorData::new(out.adversarials.clone(), [labels.len(), 1, 28, 28]),
        &Device::flex(),
    );
    let logits = plain.forward(x, &DropoutScheme::ALL, &mut FrozenMasks::new(seeds));
    let logits = pollster::block_on(read_floats(logits)).unwrap();
    for (i, z) in logits.chunks(CLASSES).enumerate() {
        if !out.success[i] {
            continue;
        }
        let above = z.iter().filter(|&&v| v > z[labels[i] as usize]).count();
        assert!(
            above >= 3,
            "image {i}: label still in the top 3 of its frozen network"
        );
    }
}
