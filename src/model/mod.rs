//! Model: the paper's CNN, its dropout schemes, and its weight files.

pub mod card;
pub mod cnn;
mod conv;
mod dense;
pub mod dropout;
pub mod host;
mod pool;
pub mod weights;

pub use card::{ModelCard, TrainConfig};
pub use cnn::{CLASSES, Classifier, Cnn, PARAMETERS};
pub use dropout::{
    DropoutScheme, FrozenMasks, ImageStreams, MaskRng, MaskSource, RowStreams, SchemeError,
};
pub use weights::{Precision, WeightsError};

use burn::tensor::{Device, Tensor};

/// Whether `x` is a value the CNN's host kernels (`pool`, `conv`, `dense`) may compute: on
/// burn's flex CPU device and outside autodiff, where no backward pass needs burn's own ops.
fn on_host_cpu<const D: usize>(x: &Tensor<D>) -> bool {
    !x.is_autodiff() && x.device() == Device::flex()
}

/// A host copy of one of the CNN's f32 tensors.
fn floats(data: burn::tensor::TensorData) -> Vec<f32> {
    data.try_into_vec::<f32>()
        .expect("the CNN's tensors are f32")
}
