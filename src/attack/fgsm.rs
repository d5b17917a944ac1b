//! FGSM — the fast gradient sign method (Goodfellow, Shlens & Szegedy, *Explaining and
//! Harnessing Adversarial Examples*, ICLR 2015), as Foolbox 0.8's `GradientSignAttack` ran it:
//!
//! `x'(ε) = clip₀¹(x + ε · sign(∇ₓ CE(f(x), y)))`, for ε = 1/steps, 2/steps, …, `max_epsilon`,
//! returning the first ε whose point satisfies the criterion.
//!
//! The direction is always the *untargeted* one (the gradient of the cross-entropy of the true
//! label `y`), even for a targeted goal: that is what the paper's toolkit did, which is why
//! targeted FGSM often fails and the paper skipped its failures. The gradient is one unchecked
//! call at the original; each ε is one checked prediction with fresh masks (several ε of an
//! image may share a model call, each with its own masks: [`epsilon_sweep`]).

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
    /// Several ε of an image per model call once few images are left ([`epsilon_sweep`]);
    /// `false` makes one call per ε, as Foolbox did. Always on in runs (not part of a
    /// configuration); the tests turn it off to compare.
    #[serde(skip, default = "wide_sweep")]
    pub wide: bool,
}

fn wide_sweep() -> bool {
    true
}

impl Default for Fgsm {
    fn default() -> Self {
        Self {
            steps: STEPS,
            max_epsilon: 1.0,
            wide: true,
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
        let width = if self.wide { SWEEP_WIDTH } else { 0 };
        epsilon_sweep(oracle, &active, &signs, self.steps, self.max_epsilon, width).await
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
    epsilon_sweep(oracle, active, &directions, STEPS, 1.0, SWEEP_WIDTH).await
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

/// The fewest rows a sweep's model call is given: once few images are still searching, each
/// gets several consecutive ε in one call instead of one call per ε.
pub const SWEEP_WIDTH: usize = 32;

/// Walks `x + ε·direction` (clipped) for ε = max/steps … max until each image is adversarial,
/// as Foolbox does one checked prediction per ε. With `min_width` > 0 a call holds at least the
/// batch's (or `min_width`) rows: with `s` images searching, each gets the next ⌈width / s⌉ ε,
/// every point with its own masks; the first adversarial in ε order is the answer, and points past it
/// count as extra evaluations, not queries ([`Oracle::predict_until_adversarial`]). Without
/// dropout that gives exactly the one-ε-per-call answers and query counts.
async fn epsilon_sweep(
    oracle: &mut Oracle<'_>,
    active: &[usize],
    directions: &[f32],
    steps: usize,
    max_epsilon: f32,
    min_width: usize,
) -> Result<(), AttackError> {
    let originals = oracle.gather_originals(active);
    let width = if min_width == 0 {
        1
    } else {
        oracle.len().max(min_width)
    };
    // Position in `active` of each image still searching.
    let mut searching: Vec<usize> = (0..active.len()).collect();
    let mut step = 1;
    while step <= steps && !searching.is_empty() {
        let k = width.div_ceil(searching.len()).min(steps + 1 - step);
        let ids: Vec<usize> = searching.iter().map(|&j| active[j]).collect();
        let mut points = Vec::with_capacity(ids.len() * k * PIXELS);
        for &j in &searching {
            let x = &originals[j * PIXELS..(j + 1) * PIXELS];
            let d = &directions[j * PIXELS..(j + 1) * PIXELS];
            for s in step..step + k {
                let epsilon = max_epsilon * s as f32 / steps as f32;
                points.extend(
                    x.iter()
                        .zip(d)
                        .map(|(x, d)| (x + epsilon * d).clamp(0.0, 1.0)),
                );
            }
        }
        let first = oracle.predict_until_adversarial(&ids, &points, k).await?;
        searching = searching
            .into_iter()
            .zip(&first)
            .filter(|(_, hit)| hit.is_none())
            .map(|(j, _)| j)
            .collect();
        step += k;
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
