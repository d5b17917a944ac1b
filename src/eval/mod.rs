//! Evaluation: recognition of images under a dropout scheme, and confidence intervals.

pub mod recognition;
pub mod stats;

pub use recognition::{
    EVAL_BATCH, ReadError, Recognition, accuracy, class_histogram, predict, recognise,
};
pub use stats::{MeanCi, mean_ci, wilson};
