//! Helpers shared by the integration tests.
#![allow(dead_code)]

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
