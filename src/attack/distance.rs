//! Distances between an adversarial and its original, on the [0, 1] pixel scale.

use serde::{Deserialize, Serialize};

/// Pixels per MNIST image.
pub const PIXELS: usize = 28 * 28;

/// The five distances the reports print. MAD is the paper's metric (Tables 2 and 4 print it on
/// the 0–255 scale: multiply by 255); MSE is what Foolbox 0.8 minimised and tracked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Distances {
    /// Mean squared difference per pixel.
    pub mse: f32,
    /// Mean absolute difference per pixel.
    pub mad: f32,
    /// Pixels changed at all.
    pub l0: u32,
    pub l2: f32,
    pub linf: f32,
}

impl Distances {
    pub fn between(adversarial: &[f32], original: &[f32]) -> Self {
        let (mut sq, mut abs, mut l0, mut linf) = (0f64, 0f64, 0u32, 0f32);
        for (a, o) in adversarial.iter().zip(original) {
            let d = (a - o).abs();
            sq += (d as f64) * (d as f64);
            abs += d as f64;
            l0 += (d > 0.0) as u32;
            linf = linf.max(d);
        }
        let n = original.len().max(1) as f64;
        Self {
            mse: (sq / n) as f32,
            mad: (abs / n) as f32,
            l0,
            l2: sq.sqrt() as f32,
            linf,
        }
    }
}

/// Which distance decides the best adversarial.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Foolbox 0.8's default.
    #[default]
    Mse,
    Mad,
}

impl Metric {
    pub fn of(self, adversarial: &[f32], original: &[f32]) -> f32 {
        let n = original.len().max(1) as f32;
        let sum: f32 = match self {
            Self::Mse => adversarial
                .iter()
                .zip(original)
                .map(|(a, o)| (a - o) * (a - o))
                .sum(),
            Self::Mad => adversarial
                .iter()
                .zip(original)
                .map(|(a, o)| (a - o).abs())
                .sum(),
        };
        sum / n
    }
}
