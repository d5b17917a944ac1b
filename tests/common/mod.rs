//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod linear;
pub mod probe;

use std::path::PathBuf;
use std::sync::OnceLock;

use advdrop::data::Mnist;

/// MNIST for tests: `ADVDROP_TEST_MNIST`, else the project's shared copy beside the clone.
pub fn mnist_dir() -> PathBuf {
    std::env::var_os("ADVDROP_TEST_MNIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist"))
}

/// MNIST, parsed once per test binary.
pub fn mnist() -> &'static Mnist {
    static MNIST: OnceLock<Mnist> = OnceLock::new();
    MNIST.get_or_init(|| Mnist::load(&mnist_dir()).expect("MNIST for tests"))
}

/// Raw (gunzipped) bytes of one of the four files.
pub fn raw_file(name: &str) -> Vec<u8> {
    let gz = std::fs::read(mnist_dir().join(format!("{name}.gz"))).expect("MNIST file");
    advdrop::data::idx::decompress(name, &gz).expect("gunzip")
}

/// Where the shipped weight file is in the repository.
pub fn shipped_weights_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/model/advdrop-cnn.safetensors")
}

/// The shipped weights on `device`, checked against their model card.
pub fn shipped_model(device: &burn::tensor::Device) -> advdrop::model::Cnn {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/model");
    let bytes = std::fs::read(dir.join("advdrop-cnn.safetensors")).expect("shipped weights");
    let card: advdrop::model::ModelCard =
        serde_json::from_slice(&std::fs::read(dir.join("advdrop-cnn.json")).unwrap()).unwrap();
    advdrop::model::Cnn::from_verified_safetensors(&bytes, &card.weights_sha256, device)
        .expect("shipped weights load")
}

/// Pixels in [0, 1] of test images `indices`, flattened.
pub fn test_pixels(indices: &[usize]) -> Vec<f32> {
    indices
        .iter()
        .flat_map(|&i| mnist().test.image(i).iter().map(|&p| p as f32 / 255.0))
        .collect()
}

/// Runs `attack` through the library's `run_attack` on flex (gradients on its autodiff
/// device), the attacker seeing `outputs`, with masks seeded by `seed` and the MSE deciding
/// the best adversarial.
#[allow(clippy::too_many_arguments)]
pub fn attack(
    outputs: advdrop::attack::Outputs,
    mode: advdrop::attack::Mode,
    attack: &impl advdrop::attack::Attack,
    model: &dyn advdrop::model::Classifier,
    inference: &dyn advdrop::model::Classifier,
    scheme: advdrop::model::DropoutScheme,
    images: &[f32],
    labels: &[u8],
    criterion: advdrop::attack::Criterion,
    seed: u64,
) -> Result<advdrop::attack::AttackOutcome, advdrop::attack::AttackError> {
    let device = burn::tensor::Device::flex().autodiff();
    let victim = advdrop::attack::Victim {
        model,
        inference,
        scheme,
        device: &device,
        mode,
        outputs,
    };
    pollster::block_on(advdrop::attack::run_attack(
        attack,
        victim,
        images,
        labels,
        criterion,
        advdrop::attack::Metric::Mse,
        &mut advdrop::model::MaskRng::seed(seed),
    ))
}
