//! How the attacker queries a network whose dropout stays on (ATTACKS.md, "Evaluation modes").
//!
//! The paper let every model call draw fresh masks and judged success on that one call: the
//! randomness then works against the attacker twice, in noisy gradients and in lucky passes.
//! A modern evaluation asks whether the defence survives an attacker who knows about the
//! randomness, so two more modes exist beside the paper's:
//!
//! - **fixed-mask**: one mask per image, frozen for the whole attack — the sanity check of
//!   Carlini et al. (2019, *On evaluating adversarial robustness*): against a network made
//!   deterministic again, an attack must do as well as under `none`, or it is broken;
//! - **EOT** (Expectation over Transformation; Athalye, Carlini & Wagner, ICML 2018): every
//!   call averages the logits of `samples` passes with their own masks, and the value and
//!   gradient the attack sees are those of that average — the attack fights the expected
//!   network, not one draw of it. Success is judged on the averaged logits; the defender's
//!   view (one pass, or a vote over many) is measured afterwards by recognition.
//!
//! The mode changes what one query costs: an EOT call counts `samples` queries per point.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Passes averaged per EOT call when none is given (ATTACKS.md asks for 10–20).
pub const EOT_SAMPLES: usize = 10;

/// How model calls see the dropout masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Mode {
    /// Fresh masks at every call; one pass decides (the paper, Foolbox 0.8).
    #[default]
    Paper,
    /// One mask per image, the same at every call: image `i` of a batch has its masks
    /// seeded by the `i`-th draw from the attack's mask stream.
    FixedMask,
    /// Logits averaged over `samples` passes, each with fresh masks, at every call.
    Eot { samples: usize },
}

impl Mode {
    /// The modes front ends offer, as `(name, what a menu says)`; every name parses.
    pub const MENU: [(&'static str, &'static str); 3] = [
        ("paper", "paper (fresh masks)"),
        ("fixed-mask", "fixed mask (sanity check)"),
        ("eot:10", "EOT, 10 passes (adaptive)"),
    ];

    pub fn is_paper(&self) -> bool {
        *self == Mode::Paper
    }

    /// Forward passes behind one query of one point.
    pub fn passes(&self) -> usize {
        match self {
            Mode::Eot { samples } => *samples,
            _ => 1,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Paper => f.write_str("paper"),
            Mode::FixedMask => f.write_str("fixed-mask"),
            Mode::Eot { samples } => write!(f, "eot:{samples}"),
        }
    }
}

/// A mode name that is not `paper`, `fixed-mask`, `eot` or `eot:K` with K ≥ 1.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown attacker mode '{0}': use paper, fixed-mask, eot (K = 10) or eot:K")]
pub struct UnknownMode(String);

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        match name.as_str() {
            "paper" => return Ok(Mode::Paper),
            "fixed-mask" | "fixed" => return Ok(Mode::FixedMask),
            "eot" => {
                return Ok(Mode::Eot {
                    samples: EOT_SAMPLES,
                });
            }
            _ => {}
        }
        match name
            .strip_prefix("eot:")
            .and_then(|k| k.parse::<usize>().ok())
        {
            Some(samples) if samples >= 1 => Ok(Mode::Eot { samples }),
            _ => Err(UnknownMode(s.to_owned())),
        }
    }
}

impl TryFrom<String> for Mode {
    type Error = UnknownMode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Mode> for String {
    fn from(mode: Mode) -> Self {
        mode.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for mode in [Mode::Paper, Mode::FixedMask, Mode::Eot { samples: 20 }] {
            assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(serde_json::from_str::<Mode>(&json).unwrap(), mode);
        }
        assert_eq!("EOT".parse::<Mode>(), Ok(Mode::Eot { samples: 10 }));
        assert!("eot:0".parse::<Mode>().is_err());
        assert!("eot:x".parse::<Mode>().is_err());
        assert!("random".parse::<Mode>().is_err());
        assert!(serde_json::from_str::<Mode>("\"eot:-1\"").is_err());
    }
}
