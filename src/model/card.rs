//! The model card shipped beside the weights: what was trained, how, how long, how well, and
//! the sha256 that loading checks. JSON, so the page and scripts read it too.

use serde::{Deserialize, Serialize};

use super::weights::Precision;

/// Hyper-parameters of a training run (the CLI's defaults are in `advdrop train --help`;
/// the paper trained 40 epochs with Adam and FC dropout 0.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Per-epoch multiplicative learning-rate decay (1 = constant rate).
    #[serde(default = "no_decay")]
    pub lr_decay: f64,
    pub seed: u64,
    /// Training-time dropout on the FC hidden layer.
    pub fc_dropout: f32,
}

fn no_decay() -> f64 {
    1.0
}

/// Accuracy (fraction in [0, 1]) of the trained network without dropout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accuracies {
    pub train: f64,
    pub validation: f64,
    pub test: f64,
}

/// The model card (`www/model/advdrop-cnn.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub architecture: String,
    pub parameters: usize,
    pub weights_file: String,
    pub weights_sha256: String,
    pub precision: Precision,
    pub training_command: String,
    pub config: TrainConfig,
    pub epochs_trained: usize,
    pub training_wall_time_s: f64,
    pub training_backend: String,
    /// Measured on the stored (possibly half-precision) weights, scheme `none`.
    pub accuracy: Accuracies,
    pub crate_version: String,
    pub burn_version: String,
}

/// One-line description of Fig. 1, for the card.
pub const ARCHITECTURE: &str = "conv5x5x32(same)-relu-maxpool2 -> conv5x5x64(same)-relu-maxpool2 -> fc1024-relu -> fc10 (Wang et al., Fig. 1)";
