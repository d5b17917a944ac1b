//! IDX parsing against the real MNIST files, corruptions of them, and random bytes.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

mod common;

use advdrop::data::idx::{IdxError, parse_images, parse_labels};
use advdrop::data::{Mnist, MnistError};
use proptest::prelude::*;

#[test]
fn real_files_load_with_known_facts() {
    let mnist = common::mnist();
    assert_eq!(mnist.training_file.len(), 60_000);
    assert_eq!(mnist.test.len(), 10_000);
    assert_eq!(
        &mnist.training_file.labels()[..8],
        &[5, 0, 4, 1, 9, 2, 1, 3]
    );
    assert_eq!(&mnist.test.labels()[..8], &[7, 2, 1, 0, 4, 1, 4, 9]);
    let mean = mnist.training_file.mean_pixel();
    assert!((mean - 33.3184).abs() < 1e-4, "mean pixel {mean}");
    assert_eq!(mnist.train().len(), 50_000);
    assert_eq!(mnist.validation().len(), 10_000);
    assert_eq!(
        mnist.validation().labels()[0],
        mnist.training_file.labels()[50_000]
    );
}

#[test]
fn raw_and_gzip_forms_parse_alike() {
    let raw = common::raw_file("t10k-labels-idx1-ubyte");
    let gz = std::fs::read(common::mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(
        parse_labels("raw", &raw).unwrap(),
        parse_labels("gz", &gz).unwrap()
    );
}

#[test]
fn corrupted_magic_is_named() {
    let mut raw = common::raw_file("t10k-labels-idx1-ubyte");
    raw[3] = 0x03;
    let err = parse_labels("t10k-labels-idx1-ubyte", &raw).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::BadMagic {
                expected: 2049,
                found: 2051,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "t10k-labels-idx1-ubyte: expected magic 2049 (labels), found 2051"
    );
}

#[test]
fn truncated_data_is_named() {
    let raw = common::raw_file("t10k-images-idx3-ubyte");
    let err = parse_images("t10k", &raw[..raw.len() - 100]).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Truncated {
                expected: 7_840_000,
                found: 7_839_900,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn trailing_bytes_are_named() {
    let mut raw = common::raw_file("t10k-labels-idx1-ubyte");
    raw.extend_from_slice(&[0, 0, 0]);
    let err = parse_labels("t10k", &raw).unwrap_err();
    assert!(
        matches!(err, IdxError::TrailingBytes { extra: 3, .. }),
        "{err}"
    );
}

#[test]
fn wrong_dimensions_are_named() {
    let mut raw = common::raw_file("t10k-images-idx3-ubyte");
    raw[11] = 27; // rows 28 → 27
    let err = parse_images("t10k", &raw).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::WrongDimensions {
                rows: 27,
                cols: 28,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn truncated_gzip_is_a_gzip_error() {
    let gz = std::fs::read(common::mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let err = parse_labels("t10k", &gz[..gz.len() / 2]).unwrap_err();
    assert!(matches!(err, IdxError::Gzip { .. }), "{err}");
}

#[test]
fn images_and_labels_must_agree_in_count() {
    let mnist_dir = common::mnist_dir();
    let read = |n: &str| std::fs::read(mnist_dir.join(format!("{n}.gz"))).unwrap();
    let (ti, tl, si, sl) = (
        read("train-images-idx3-ubyte"),
        read("train-labels-idx1-ubyte"),
        read("t10k-images-idx3-ubyte"),
        read("t10k-labels-idx1-ubyte"),
    );
    // Test images paired with training labels: 10,000 vs 60,000.
    let err = Mnist::from_bytes([&si, &tl, &si, &sl]).unwrap_err();
    assert!(
        matches!(
            err,
            MnistError::CountMismatch {
                n_images: 10_000,
                n_labels: 60_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(Mnist::from_bytes([&ti, &tl, &si, &sl]).is_ok());
}

#[test]
fn missing_directory_says_how_to_fetch() {
    let err = Mnist::load(std::path::Path::new("/nonexistent/mnist")).unwrap_err();
    assert!(err.to_string().contains("advdrop fetch-mnist"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_images("fuzz", &bytes);
        let _ = parse_labels("fuzz", &bytes);
    }

    #[test]
    fn random_bodies_behind_valid_headers_never_panic(
        magic in prop_oneof![Just(0x803u32), Just(0x801u32), any::<u32>()],
        dims in proptest::collection::vec(0u32..100, 3),
        body in proptest::collection::vec(any::<u8>(), 0..4096),
        gzip in any::<bool>(),
    ) {
        let mut bytes = magic.to_be_bytes().to_vec();
        for d in &dims { bytes.extend_from_slice(&d.to_be_bytes()); }
        bytes.extend_from_slice(&body);
        if gzip {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&bytes).unwrap();
            bytes = enc.finish().unwrap();
        }
        let _ = parse_images("fuzz", &bytes);
        let _ = parse_labels("fuzz", &bytes);
    }
}
