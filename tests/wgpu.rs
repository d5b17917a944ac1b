//! The wgpu backend (Vulkan natively; in CI a software Vulkan driver, Mesa's lavapipe, stands in
//! for a GPU): the same weights give the same logits and input gradients as on flex, an EOT
//! query (replicas, their mean, the gradient summed back) answers as on flex, and a training
//! step runs.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use std::collections::HashMap;

use advdrop::attack::{Criterion, Metric, Mode, Victim, run_attack};
use advdrop::backend::Backend;
use advdrop::model::{Cnn, DropoutScheme, MaskRng, Precision, TrainConfig};
use advdrop::train::Training;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

fn images(n: usize, device: &Device) -> Tensor<4> {
    let idx: Vec<usize> = (0..n).collect();
    common::mnist().test.images_tensor(&idx, device)
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// Logits and the input gradient of the summed logits, under `scheme` with mask seed 3.
fn logits_and_gradient(
    bytes: &[u8],
    device: Device,
    scheme: DropoutScheme,
) -> (Vec<f32>, Vec<f32>) {
    let device = device.autodiff();
    let model = Cnn::from_safetensors(bytes, &device).unwrap().no_grad();
    let x = images(8, &device).require_grad();
    let logits = model.forward(x.clone(), &scheme, &mut MaskRng::seed(3));
    let grads = logits.clone().sum().backward();
    let gradient = x.grad(&grads).expect("input gradient");
    (floats(logits), floats(gradient))
}

/// The logits and CE gradients one EOT query (K = 4, scheme `all`) returns for test images 0–2
/// with the shipped weights on `device`.
fn eot_query(device: Device) -> (Vec<f32>, Vec<f32>) {
    let device = device.autodiff();
    let model = common::shipped_model(&device);
    let plain = model.valid();
    let indices = [0, 1, 2];
    let images = common::test_pixels(&indices);
    let labels = common::mnist().test.labels_at(&indices);
    let probe = common::probe::Probe::new(1);
    let victim = Victim {
        model: &model,
        inference: &plain,
        scheme: DropoutScheme::ALL,
        device: &device,
        mode: Mode::Eot { samples: 4 },
        outputs: advdrop::attack::Outputs::Logits,
    };
    // Top-9 (the label must be the smallest logit) is never met by these digits, so the probe
    // queries all three.
    pollster::block_on(run_attack(
        &probe,
        victim,
        &images,
        &labels,
        Criterion::TopKMisclassification(9),
        Metric::Mse,
        &mut MaskRng::seed(5),
    ))
    .unwrap();
    let seen = probe.seen.into_inner();
    assert_eq!(seen[0].checked.len(), 3);
    let logits = seen[0].checked.iter().flat_map(|c| c.logits).collect();
    (logits, seen[0].gradient.clone())
}

fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < tol, "{what}: max difference {worst} ≥ {tol}");
}

#[test]
fn wgpu_matches_flex_and_trains() {
    let bytes = Cnn::new(&Device::flex())
        .to_safetensors(Precision::F32, HashMap::new())
        .unwrap();
    for scheme in [DropoutScheme::NONE, DropoutScheme::ALL] {
        let (cpu_logits, cpu_grad) = logits_and_gradient(&bytes, Backend::Flex.device(), scheme);
        let (gpu_logits, gpu_grad) = logits_and_gradient(&bytes, Backend::Wgpu.device(), scheme);
        assert_close(
            &format!("logits ({scheme})"),
            &cpu_logits,
            &gpu_logits,
            1e-4,
        );
        assert_close(
            &format!("input gradient ({scheme})"),
            &cpu_grad,
            &gpu_grad,
            1e-4,
        );
    }

    let (cpu_logits, cpu_grad) = eot_query(Backend::Flex.device());
    let (gpu_logits, gpu_grad) = eot_query(Backend::Wgpu.device());
    assert_close("EOT logits", &cpu_logits, &gpu_logits, 1e-3);
    assert_close("EOT gradient", &cpu_grad, &gpu_grad, 1e-3);

    let mnist = common::mnist();
    let config = TrainConfig {
        epochs: 1,
        batch_size: 32,
        learning_rate: 1e-3,
        lr_decay: 1.0,
        seed: 1,
        fc_dropout: 0.5,
    };
    let mut run = Training::start(config, &Backend::Wgpu.device(), None, false).unwrap();
    let stats = run
        .run_epoch(
            &mnist.train().slice(0..64),
            &mnist.validation().slice(0..64),
            &mut |_| {},
        )
        .unwrap();
    assert!(
        stats.mean_loss.is_finite() && stats.mean_loss < 2.4,
        "loss {}",
        stats.mean_loss
    );
}
