//! What the attacker's model hands the attacks as its "logits" — an oracle option for testing
//! why the paper's numbers differ from Foolbox 0.8 run on logits.
//!
//! Foolbox 0.8 wraps a Keras model with `predicts='probabilities'` by default (its
//! `KerasModel`): the attacks then see `log(clip(softmax(z), 1e-7, 1 − 1e-7))` instead of the
//! logits `z`, and every gradient is that of Keras's `sparse_categorical_crossentropy` on the
//! probabilities, which clips them the same way (Keras's ε = 1e-7) before its softmax
//! cross-entropy. Where a probability sits at a clip bound its gradient vanishes: on an image
//! the network is very sure of (the label's probability above 1 − 1e-7, every other one below
//! 1e-7, as for most MNIST test digits here) every input gradient is exactly zero, so the
//! gradient attacks cannot start. The paper used Foolbox 0.8 with a TensorFlow/Keras CNN; if it
//! left the wrapper at its default, this is what its attacks saw.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

/// Keras's `_EPSILON` (and Foolbox 0.8's `10e-8` in `KerasModel._as_logits`).
pub const CLIP: f32 = 1e-7;

/// The attacker's view of the network's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outputs {
    /// The logits (Foolbox's `predicts='logits'`): advdrop's default and Foolbox 3's.
    #[default]
    Logits,
    /// `log(clip(softmax(z), 1e-7, 1 − 1e-7))`: Foolbox 0.8's Keras wrapper in its default
    /// probabilities mode.
    ClippedLogProbs,
}

impl Outputs {
    pub fn is_logits(&self) -> bool {
        *self == Outputs::Logits
    }

    /// The outputs for logits `[n, 10]` (differentiable: gradients flow through it, and vanish
    /// where a probability is clipped).
    pub fn apply(&self, logits: Tensor<2>) -> Tensor<2> {
        match self {
            Outputs::Logits => logits,
            Outputs::ClippedLogProbs => softmax(logits, 1).clamp(CLIP, 1.0 - CLIP).log(),
        }
    }
}

impl fmt::Display for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outputs::Logits => "logits",
            Outputs::ClippedLogProbs => "clipped-log-probs",
        })
    }
}

/// An unknown `--outputs` value.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown outputs '{0}': use logits or clipped-log-probs")]
pub struct UnknownOutputs(String);

impl FromStr for Outputs {
    type Err = UnknownOutputs;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "logits" => Ok(Outputs::Logits),
            "clipped-log-probs" | "probabilities" => Ok(Outputs::ClippedLogProbs),
            _ => Err(UnknownOutputs(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for o in [Outputs::Logits, Outputs::ClippedLogProbs] {
            assert_eq!(o.to_string().parse::<Outputs>(), Ok(o));
        }
        assert!("softmax".parse::<Outputs>().is_err());
    }
}
