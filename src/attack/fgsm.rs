//! FGSM — the fast gradient sign method (Goodfellow, Shlens & Szegedy, *Explaining and
//! Harnessing Adversarial Examples*, ICLR 2015), as Foolbox 0.8's `GradientSignAttack` ran it:
//!
//! `x'(ε) = clip₀¹(x + ε · sign(∇ₓ CE(f(x), y)))`, for ε = 1/steps, 2/steps, …, `max_epsilon`,
//! returning the first ε whose point satisfies the criterion.
//!
//! The direction is always the *untargeted* one (the gradient of the cross-entropy of the true
//! label `y`), even for a targeted goal: that is what the paper's toolkit did, which is why
//! targeted FGSM often fails and the paper skipped its failures. The gradient is one unchecked
//! call at the original; each ε is one checked prediction with fresh masks.

use serde::{Deserialize, Serialize};

use super::{Attack, AttackError, Oracle, PIXELS};

/// Foolbox 0.8's default number of ε steps.
pub const STEPS: usize = 1000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fgsm {
    /// ε steps in (0, `max_epsilon`]; default 1000.
    pub steps: usize,
    /// Largest ε, as a fraction of the pixel range; default 1.
    pub max_epsilon: f32,
}

impl Default for Fgsm {
    fn default() -> Self {
        Self {
            steps: STEPS,
            max_epsilon: 1.0,
        }
    }
}

impl Attack for Fgsm {
    fn name(&self) -> &'static str {
        "fgsm"
    }

    async fn run(&self, oracle: &mut Oracle<'_>, active: Vec<usize>) -> Result<(), AttackError> {
        let gradient = untargeted_gradient(oracle, &active).await?;
        let signs: Vec<f32> = gradient.iter().map(|&g| sign(g)).collect();
        epsilon_sweep(oracle, &active, &signs, self.steps, self.max_epsilon).await
    }
}

/// Foolbox 0.8's `GradientAttack` (the fast gradient method with an L2-style direction), used
/// to pick a target class for untargeted goals: direction `∇ / (rms(∇) + 1e-8)`, ε swept over
/// 1000 steps in (0, 1]. The 1e-8 is Foolbox's: for an image the network is very sure of, the
/// gradient of its cross-entropy is far smaller than that, and the attack then barely moves.
pub(crate) async fn gradient_attack(
    oracle: &mut Oracle<'_>,
    active: &[usize],
) -> Result<(), AttackError> {
    let gradient = untargeted_gradient(oracle, active).await?;
    let mut directions = Vec::with_capacity(gradient.len());
    for g in gradient.chunks(PIXELS) {
        let rms = (g.iter().map(|v| v * v).sum::<f32>() / PIXELS as f32).sqrt();
        directions.extend(g.iter().map(|v| v / (rms + 1e-8)));
    }
    epsilon_sweep(oracle, active, &directions, STEPS, 1.0).await
}

/// One unchecked gradient of CE(true label) at each original.
async fn untargeted_gradient(
    oracle: &mut Oracle<'_>,
    active: &[usize],
) -> Result<Vec<f32>, AttackError> {
    if active.is_empty() {
        return Ok(Vec::new());
    }
    let originals = oracle.gather_originals(active);
    let labels: Vec<u8> = active.iter().map(|&i| oracle.label(i)).collect();
    oracle.gradient(active, &originals, &labels).await
}

/// Walks `x + ε·direction` (clipped) for ε = max/steps … max, one checked prediction per ε,
/// until each image is adversarial.
async fn epsilon_sweep(
    oracle: &mut Oracle<'_>,
    active: &[usize],
    directions: &[f32],
    steps: usize,
    max_epsilon: f32,
) -> Result<(), AttackError> {
    let originals = oracle.gather_originals(active);
    // Position in `active` of each image still searching.
    let mut searching: Vec<usize> = (0..active.len()).collect();
    for step in 1..=steps {
        if searching.is_empty() {
            break;
        }
        let epsilon = max_epsilon * step as f32 / steps as f32;
        let ids: Vec<usize> = searching.iter().map(|&j| active[j]).collect();
        let mut points = Vec::with_capacity(ids.len() * PIXELS);
        for &j in &searching {
            let x = &originals[j * PIXELS..(j + 1) * PIXELS];
            let d = &directions[j * PIXELS..(j + 1) * PIXELS];
            points.extend(
                x.iter()
                    .zip(d)
                    .map(|(x, d)| (x + epsilon * d).clamp(0.0, 1.0)),
            );
        }
        let checked = oracle.predict(&ids, &points).await?;
        searching = searching
            .into_iter()
            .zip(&checked)
            .filter(|(_, c)| !c.adversarial)
            .map(|(j, _)| j)
            .collect();
    }
    Ok(())
}

/// numpy's sign: 0 stays 0, so pixels the loss ignores are left alone.
pub(crate) fn sign(g: f32) -> f32 {
    if g > 0.0 {
        1.0
    } else if g < 0.0 {
        -1.0
    } else {
        0.0
    }
}
