//! Model: the paper's CNN, its dropout schemes, and its weight files.

pub mod card;
pub mod cnn;
mod conv;
pub mod dropout;
mod pool;
pub mod weights;

pub use card::{ModelCard, TrainConfig};
pub use cnn::{CLASSES, Classifier, Cnn, PARAMETERS};
pub use dropout::{
    DropoutScheme, FrozenMasks, ImageStreams, MaskRng, MaskSource, RowStreams, SchemeError,
};
pub use weights::{Precision, WeightsError};
