//! Confidence intervals for the figures the reports print.

use serde::{Deserialize, Serialize};

/// A mean with the half-width of its 95 % confidence interval: `mean ± half_width`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    pub mean: f64,
    /// Zero for a single observation of a deterministic quantity.
    pub half_width: f64,
    pub n: usize,
}

/// Two-sided 97.5 % quantiles of Student's t for 1–30 degrees of freedom (standard tables).
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];
/// Normal 97.5 % quantile, used past 30 degrees of freedom.
const Z_975: f64 = 1.959_964;

/// Student-t 95 % interval of the mean of `samples` (the spread over R stochastic passes).
pub fn mean_ci(samples: &[f64]) -> MeanCi {
    let n = samples.len();
    let mean = samples.iter().sum::<f64>() / n.max(1) as f64;
    if n < 2 {
        return MeanCi {
            mean,
            half_width: 0.0,
            n,
        };
    }
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T_975.get(n - 2).copied().unwrap_or(Z_975);
    MeanCi {
        mean,
        half_width: t * (var / n as f64).sqrt(),
        n,
    }
}

/// Wilson score 95 % interval `(low, high)` of a proportion `successes / n`: sound near 0 % and
/// 100 %, where the cross-recognition cells of the paper often sit.
pub fn wilson(successes: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, successes as f64 / n as f64, Z_975);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_interval_matches_hand_computation() {
        // mean 2, sample sd 1, n 3 → 4.303 · 1/√3.
        let ci = mean_ci(&[1.0, 2.0, 3.0]);
        assert!((ci.mean - 2.0).abs() < 1e-12);
        assert!((ci.half_width - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(mean_ci(&[0.5]).half_width, 0.0);
    }

    #[test]
    fn wilson_brackets_and_stays_in_unit_interval() {
        let (lo, hi) = wilson(0, 100);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.03 && hi < 0.04, "{hi}"); // 3.70 % for 0/100
        let (lo, hi) = wilson(50, 100);
        assert!(lo < 0.5 && hi > 0.5 && (0.5 - lo - (hi - 0.5)).abs() < 1e-12);
    }
}
