//! Data: MNIST's IDX files → validated byte images and labels → tensors in [0, 1].
//!
//! Bytes come from disk (native), from a mirror (`fetch`, native) or from the page (web); all
//! paths meet in [`Mnist::from_bytes`], so the web and the CLI check files the same way.

#[cfg(not(target_family = "wasm"))]
pub mod fetch;
pub mod idx;
pub mod mnist;

pub use idx::{IdxError, PIXELS, SIDE};
pub use mnist::{FILES, Mnist, MnistError, Split, TEST_IMAGES, TRAIN_IMAGES};
