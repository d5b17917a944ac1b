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

/// Normal 97.5 % quantile (Wilson intervals).
const Z_975: f64 = 1.959_964;

/// Student's t 97.5 % quantile with `df` ≥ 1 degrees of freedom, exact at every df (no table
/// that stops at 30 and jumps to z). Hand-written because the well-kept crate for it (statrs)
/// changes shared dependencies' features and so forces a rebuild of burn: the quantile solves
/// A(t | ν) = 0.95 by bisection, with P(|T| < t) in the closed form for integer ν
/// (Abramowitz & Stegun 26.7.3–4).
pub fn t_975(df: usize) -> f64 {
    let (mut low, mut high) = (0.0f64, 20.0f64);
    while t_central(high, df) < 0.95 {
        high *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if t_central(mid, df) < 0.95 {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

/// P(|T| < t) for Student's t with `df` ≥ 1 degrees of freedom.
fn t_central(t: f64, df: usize) -> f64 {
    let nu = df.max(1);
    let theta = (t / (nu as f64).sqrt()).atan();
    let (s, c2) = (theta.sin(), theta.cos().powi(2));
    // 1 + a₁cos²θ + a₂cos⁴θ + …, each term from the last by the ratio of the next odd and even
    // numbers; the series has (ν − 1)/2 (odd ν) or ν/2 (even ν) terms before the last.
    let mut sum = 1.0;
    let mut term = 1.0;
    if nu % 2 == 1 {
        if nu == 1 {
            return 2.0 * theta / std::f64::consts::PI;
        }
        let mut k = 2;
        while k + 1 < nu {
            term *= k as f64 / (k + 1) as f64 * c2;
            sum += term;
            k += 2;
        }
        2.0 / std::f64::consts::PI * (theta + s * theta.cos() * sum)
    } else {
        let mut k = 1;
        while k + 1 < nu {
            term *= k as f64 / (k + 1) as f64 * c2;
            sum += term;
            k += 2;
        }
        s * sum
    }
}

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
    let t = t_975(n - 1);
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
        assert!((ci.half_width - 4.302_653 / 3f64.sqrt()).abs() < 1e-6);
        assert_eq!(mean_ci(&[0.5]).half_width, 0.0);
    }

    #[test]
    fn t_quantiles_match_the_tables_and_approach_the_normal() {
        // Standard table values (4 decimals) on both sides of the old table's end at 30 df.
        for (df, t) in [
            (1, 12.7062),
            (2, 4.3027),
            (10, 2.2281),
            (30, 2.0423),
            (31, 2.0395),
            (40, 2.0211),
            (60, 2.0003),
            (120, 1.9799),
        ] {
            assert!(
                (t_975(df) - t).abs() < 1e-4,
                "df {df}: {} vs {t}",
                t_975(df)
            );
        }
        // No jump past 30: monotone down to the normal quantile.
        let ts: Vec<f64> = (1..=1000).map(t_975).collect();
        assert!(ts.windows(2).all(|w| w[1] < w[0]));
        // t(1000) = 1.96234, z = 1.95996.
        assert!((ts[999] - Z_975).abs() < 3e-3);
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
