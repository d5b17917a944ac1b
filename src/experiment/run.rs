//! What makes a protocol run one run: the weights it attacks and the test images it draws from
//! (its configuration is kept beside it). Resuming or merging checks them, so a run never mixes
//! two models or two data sets in one cell.

use serde::{Deserialize, Serialize};

use crate::data::Split;

/// The identity of a run beyond its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    /// sha256 of the weight file attacked.
    pub weights_sha256: String,
    /// [`Split::sha256`] of the test split the pool is drawn from.
    pub data_sha256: String,
}

impl RunId {
    pub fn new(weights_sha256: &str, test: &Split) -> Self {
        Self {
            weights_sha256: weights_sha256.into(),
            data_sha256: test.sha256(),
        }
    }

    /// Whether a run recorded as `stored` may go on (or be merged) as this one: the same
    /// weights and the same data, or the reason why not.
    pub fn continues(&self, stored: &RunId) -> Result<(), String> {
        if self.weights_sha256 != stored.weights_sha256 {
            return Err(format!(
                "it attacked other weights (sha256 {}…, these are {}…)",
                &stored.weights_sha256[..stored.weights_sha256.len().min(12)],
                &self.weights_sha256[..self.weights_sha256.len().min(12)]
            ));
        }
        if self.data_sha256 != stored.data_sha256 {
            return Err("it drew from other MNIST test images".into());
        }
        Ok(())
    }
}
