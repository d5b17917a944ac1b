//! Training: a short run learns, and a run resumed from a checkpoint continues exactly as the
//! uninterrupted run does.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use advdrop::model::TrainConfig;
use advdrop::train::{EpochStats, Training};
use burn::module::Module;
use burn::tensor::Device;

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: 32,
        learning_rate: 1e-3,
        lr_decay: 0.5,
        seed: 5,
        fc_dropout: 0.5,
    }
}

fn params(t: &Training) -> Vec<f32> {
    let bytes = t
        .model()
        .to_safetensors(advdrop::model::Precision::F32, Default::default())
        .unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// The history goes through JSON in the checkpoint, whose float parsing may drop the last bit;
/// the weights above are compared exactly.
fn assert_same_epoch(a: &EpochStats, b: &EpochStats) {
    assert_eq!(a.epoch, b.epoch);
    let pairs = [
        (a.mean_loss, b.mean_loss),
        (a.train_accuracy, b.train_accuracy),
        (a.validation_accuracy, b.validation_accuracy),
        (a.learning_rate, b.learning_rate),
    ];
    for (x, y) in pairs {
        assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{a:?} vs {b:?}");
    }
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let mnist = common::mnist();
    let (train, val) = (
        mnist.train().slice(0..512),
        mnist.validation().slice(0..256),
    );
    let device = Device::flex();
    let dir = std::env::temp_dir().join(format!("advdrop-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let mut full = Training::start(config(), &device, Some(&dir), false).unwrap();
    let first = full.run_epoch(&train, &val, &mut |_| {}).unwrap();
    full.save_checkpoint(&dir).unwrap();
    full.run_epoch(&train, &val, &mut |_| {}).unwrap();

    let mut resumed = Training::start(config(), &device, Some(&dir), true).unwrap();
    assert_eq!(resumed.epochs_done(), 1);
    assert_same_epoch(&resumed.history()[0], &first);
    resumed.run_epoch(&train, &val, &mut |_| {}).unwrap();
    assert_eq!(params(&full), params(&resumed));
    assert_same_epoch(&full.history()[1], &resumed.history()[1]);
    assert!(
        first.validation_accuracy > 0.5,
        "one epoch on 512 images should beat chance by far"
    );
    assert_eq!(resumed.model().num_params(), advdrop::model::PARAMETERS);

    let other = TrainConfig {
        seed: 6,
        ..config()
    };
    assert!(Training::start(other, &device, Some(&dir), true).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
