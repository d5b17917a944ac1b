//! The network: shapes, parameter count, weight files (round trip and every malformed case),
//! the shipped weights' accuracy, and agreement of the CPU backends.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use std::collections::HashMap;

#[cfg(feature = "ndarray")]
use advdrop::backend::Backend;
use advdrop::data::Split;
use advdrop::eval;
use advdrop::model::weights::sha256_hex;
use advdrop::model::{Cnn, DropoutScheme, MaskRng, ModelCard, PARAMETERS, Precision, WeightsError};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

fn logits(model: &Cnn, images: Tensor<4>) -> Vec<f32> {
    model
        .forward(images, &DropoutScheme::NONE, &mut MaskRng::seed(0))
        .into_data()
        .iter::<f32>()
        .collect()
}

fn test_images(n: usize, device: &Device) -> Tensor<4> {
    let idx: Vec<usize> = (0..n).collect();
    common::mnist().test.images_tensor(&idx, device)
}

#[cfg(feature = "ndarray")]
fn shipped() -> (Vec<u8>, ModelCard) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/model");
    let bytes = std::fs::read(dir.join("advdrop-cnn.safetensors")).expect("shipped weights");
    let card =
        serde_json::from_str(&std::fs::read_to_string(dir.join("advdrop-cnn.json")).unwrap())
            .expect("model card parses");
    (bytes, card)
}

#[test]
fn shapes_and_parameter_count_match_fig_1() {
    let device = Device::flex();
    let model = Cnn::new(&device);
    assert_eq!(model.num_params(), PARAMETERS);
    assert_eq!(PARAMETERS, 3_274_634);
    let out = model.forward(
        test_images(3, &device),
        &DropoutScheme::ALL,
        &mut MaskRng::seed(1),
    );
    assert_eq!(out.dims(), [3, 10]);
}

#[test]
fn f32_weight_round_trip_gives_identical_logits() {
    let device = Device::flex();
    let model = Cnn::new(&device);
    let bytes = model
        .to_safetensors(Precision::F32, HashMap::new())
        .unwrap();
    let loaded = Cnn::from_safetensors(&bytes, &device).unwrap();
    let images = test_images(8, &device);
    assert_eq!(logits(&model, images.clone()), logits(&loaded, images));
}

#[test]
fn f16_round_trip_is_close_and_half_the_size() {
    let device = Device::flex();
    let model = Cnn::new(&device);
    let full = model
        .to_safetensors(Precision::F32, HashMap::new())
        .unwrap();
    let half = model
        .to_safetensors(Precision::F16, HashMap::new())
        .unwrap();
    assert!(half.len() * 2 < full.len() + 4096);
    let loaded = Cnn::from_safetensors(&half, &device).unwrap();
    let images = test_images(8, &device);
    for (a, b) in logits(&model, images.clone())
        .iter()
        .zip(logits(&loaded, images))
    {
        assert!((a - b).abs() < 1e-2, "{a} vs {b}");
    }
}

#[test]
fn malformed_weight_files_give_clear_errors() {
    let device = Device::flex();
    let bytes = Cnn::new(&device)
        .to_safetensors(Precision::F16, HashMap::new())
        .unwrap();
    // Truncated download.
    let err = Cnn::from_safetensors(&bytes[..bytes.len() / 2], &device).unwrap_err();
    assert!(matches!(err, WeightsError::Format(_)), "{err}");
    // Not a weight file at all.
    let err = Cnn::from_safetensors(b"hello", &device).unwrap_err();
    assert!(matches!(err, WeightsError::Format(_)), "{err}");
    // Hash mismatch.
    let err = Cnn::from_verified_safetensors(&bytes, &"0".repeat(64), &device).unwrap_err();
    assert!(matches!(err, WeightsError::Hash { .. }), "{err}");
    assert!(Cnn::from_verified_safetensors(&bytes, &sha256_hex(&bytes), &device).is_ok());
}

/// A tensor of a hand-made weight file: name and shape.
type Spec = (String, Vec<usize>);

#[test]
fn wrong_shapes_missing_and_unknown_tensors_are_named() {
    use safetensors::tensor::{Dtype, TensorView};
    let device = Device::flex();
    let zeros = |n: usize| vec![0u8; n * 4];
    let shapes: Vec<(&str, Vec<usize>)> = advdrop::model::weights::TENSORS
        .iter()
        .map(|(n, s)| (*n, s.to_vec()))
        .collect();
    let build = |edit: &dyn Fn(&mut Vec<Spec>)| {
        let mut spec: Vec<Spec> = shapes
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect();
        edit(&mut spec);
        let data: Vec<Vec<u8>> = spec
            .iter()
            .map(|(_, s)| zeros(s.iter().product()))
            .collect();
        let views: Vec<(String, TensorView)> = spec
            .iter()
            .zip(&data)
            .map(|((n, s), d)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
                )
            })
            .collect();
        safetensors::serialize(views, None).unwrap()
    };
    assert!(Cnn::from_safetensors(&build(&|_| {}), &device).is_ok());
    let err = Cnn::from_safetensors(&build(&|s| s[4].1 = vec![3136, 1024]), &device).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor 'fc1.weight': expected shape [1024, 3136], found [3136, 1024]"
    );
    let err = Cnn::from_safetensors(
        &build(&|s| {
            s.remove(7);
        }),
        &device,
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::Missing("fc2.bias")), "{err}");
    let err = Cnn::from_safetensors(&build(&|s| s.push(("fc3.weight".into(), vec![2]))), &device)
        .unwrap_err();
    assert!(
        matches!(err, WeightsError::Unexpected(ref n) if n == "fc3.weight"),
        "{err}"
    );
}

/// Every weight set the page and `--weights` offer (`www/model/index.json`): its card parses,
/// its weights match the card's sha256 and load, and it recognises the test digits as well as
/// its card says.
#[test]
fn every_shipped_weight_set_loads_verified_and_scores_at_least_99_percent() {
    let device = Device::flex();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/model");
    let cards: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(cards[0], "advdrop-cnn.json", "the default set comes first");
    let first: Split = common::mnist().test.slice(0..2000);
    for name in &cards {
        let card: ModelCard =
            serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(card.parameters, PARAMETERS, "{name}");
        assert!(
            card.training_command.starts_with("advdrop train")
                && !card.training_command.split(' ').any(|a| a.starts_with('/')),
            "{name}: the training command must rerun anywhere: {}",
            card.training_command
        );
        let bytes = std::fs::read(dir.join(&card.weights_file)).unwrap();
        let model = Cnn::from_verified_safetensors(&bytes, &card.weights_sha256, &device).unwrap();
        let acc = pollster::block_on(eval::accuracy(
            &model,
            &first,
            &DropoutScheme::NONE,
            &mut MaskRng::seed(0),
            &device,
            |_, _| {},
        ))
        .unwrap();
        assert!(
            acc >= 0.99,
            "{name}: accuracy on the first 2,000 test images: {acc}"
        );
        assert!(
            card.accuracy.test >= 0.99,
            "{name}: card claims test accuracy {}",
            card.accuracy.test
        );
    }
}

/// The ndarray backend, kept as the documented CPU fallback, gives flex's logits.
#[cfg(feature = "ndarray")]
#[test]
fn ndarray_agrees_with_flex_on_logits() {
    let (bytes, _) = shipped();
    let on = |backend: Backend| {
        let device = backend.device();
        logits(
            &Cnn::from_safetensors(&bytes, &device).unwrap(),
            test_images(16, &device),
        )
    };
    let (want, got) = (on(Backend::Flex), on(Backend::NdArray));
    assert_eq!(want.len(), 16 * 10);
    for (a, b) in want.iter().zip(&got) {
        assert!((a - b).abs() < 1e-4, "ndarray: {a} vs {b}");
    }
}

#[derive(serde::Deserialize)]
struct LogitsFixture {
    logits: Vec<f32>,
}

/// `tests/fixtures/native-logits.json`: logits of the shipped weights for test images 0–7 under
/// `none`, computed natively on flex. The wasm tests (`tests/web.rs`) compare the page's CPU
/// backend against it; this test keeps it true (rewrite it with `ADVDROP_BLESS=1`).
#[test]
fn native_logits_fixture_is_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/native-logits.json");
    let device = Device::flex();
    let model = common::shipped_model(&device);
    let computed = logits(&model, test_images(8, &device));
    if std::env::var_os("ADVDROP_BLESS").is_some() {
        let json = serde_json::json!({ "images": (0..8).collect::<Vec<_>>(), "logits": computed });
        std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    }
    let fixture: LogitsFixture =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).unwrap();
    let stored = fixture.logits;
    assert_eq!(stored.len(), 80);
    for (a, b) in stored.iter().zip(&computed) {
        assert!((a - b).abs() < 1e-5, "fixture {a} vs computed {b}");
    }
}
