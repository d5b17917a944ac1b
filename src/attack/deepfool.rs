//! DeepFool (Moosavi-Dezfooli, Fawzi & Frossard, *DeepFool: a simple and accurate method to
//! fool deep neural networks*, CVPR 2016), L2 version, as Foolbox 0.8 ran it.
//!
//! At each step the network is linearised around the current point x_i. For the true class y
//! and every other class k, with `f_k = z_k − z_y` (difference of logits; Foolbox 0.8 used
//! log-softmax, whose differences are the same) and `w_k = ∇f_k`, the nearest linearised
//! boundary is `l = argmin_k |f_k| / ‖w_k‖₂` (eq. 8 of the paper, p = 2) and the step to it is
//! `r_i = (|f_l| + 10⁻⁴) / ‖w_l‖₂² · w_l` (see [`PAST_BOUNDARY`]), and `x_{i+1} = clip(x_i + (1 + overshoot) · r_i)` — Foolbox
//! applied the overshoot to every step (the original code scales the accumulated sum once,
//! which stalls against the box's faces). It stops as soon as a checked prediction satisfies
//! the criterion (for top-k goals, the true label has left the top k) or after `steps` steps,
//! whose last point is checked too.
//!
//! Only classes not yet above the true label are candidates: for misclassification that is
//! every class (Foolbox's rule), and for top-k goals it keeps DeepFool walking towards the next
//! class to overtake instead of pushing one already ahead.
//!
//! The gradients of all ten logits come from one batched call with ten replicas of each
//! point; with dropout each replica draws its own masks, as Foolbox 0.8's separate call per
//! class did. DeepFool has no notion of a target class and refuses targeted goals.

use serde::{Deserialize, Serialize};

use super::oracle::one_hot;
use super::{Attack, AttackError, Criterion, Oracle, PIXELS};
use crate::model::CLASSES;

/// Foolbox 0.8's defaults.
pub const STEPS: usize = 100;
pub const OVERSHOOT: f32 = 0.05;
/// Guards the division when two classes' gradients coincide (Foolbox's 1e-8).
const TINY: f32 = 1e-8;
/// Each step aims this far (in logit difference) past the linearised boundary: Foolbox 3's
/// guard. Without it, a step clipped by the box's faces only ever closes a fixed fraction of
/// the gap, and on this network the walk converges *onto* the boundary without crossing it.
pub const PAST_BOUNDARY: f32 = 1e-4;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeepFool {
    /// Maximum linearisation steps; default 100.
    pub steps: usize,
    /// Each step is scaled by 1 + overshoot; default 0.05.
    pub overshoot: f32,
}

impl Default for DeepFool {
    fn default() -> Self {
        Self {
            steps: STEPS,
            overshoot: OVERSHOOT,
        }
    }
}

impl Attack for DeepFool {
    fn name(&self) -> &'static str {
        "deepfool"
    }

    fn check_goal(&self, criterion: &Criterion) -> Result<(), AttackError> {
        match criterion {
            Criterion::TargetClass(_) => Err(AttackError::UnsupportedGoal {
                attack: "deepfool",
                goal: criterion.goal_name(),
                why: "DeepFool steps to the nearest decision boundary, whichever class lies beyond it; use a top-k or misclassification goal",
            }),
            _ => Ok(()),
        }
    }

    async fn run(&self, oracle: &mut Oracle<'_>, active: Vec<usize>) -> Result<(), AttackError> {
        // Row r of the replicated call differentiates logit r: replica 0 is class 0, etc.
        let classes: Vec<u8> = (0..CLASSES as u8).collect();
        let mut points = oracle.gather_originals(&active);
        let mut searching: Vec<usize> = (0..active.len()).collect();
        for _ in 0..self.steps {
            if searching.is_empty() {
                break;
            }
            let ids: Vec<usize> = searching.iter().map(|&j| active[j]).collect();
            let batch: Vec<f32> = searching
                .iter()
                .flat_map(|&j| points[j * PIXELS..(j + 1) * PIXELS].iter().copied())
                .collect();
            let weights = one_hot(&classes.repeat(ids.len()), 1.0);
            let (checked, grads) = oracle
                .logit_gradients(&ids, &batch, &weights, CLASSES)
                .await?;
            let mut still = Vec::new();
            for (row, &j) in searching.iter().enumerate() {
                if checked[row].adversarial {
                    continue;
                }
                let z = &checked[row].logits;
                let y = oracle.label(active[j]) as usize;
                let g = &grads[row * CLASSES * PIXELS..(row + 1) * CLASSES * PIXELS];
                let Some(step) = nearest_boundary(z, g, y) else {
                    continue; // every class already ahead of y: nothing left to linearise
                };
                let scale = 1.0 + self.overshoot;
                for (x, r) in points[j * PIXELS..(j + 1) * PIXELS].iter_mut().zip(&step) {
                    *x = (*x + scale * r).clamp(0.0, 1.0);
                }
                still.push(j);
            }
            searching = still;
        }
        // The last step's point has not been judged yet.
        if !searching.is_empty() {
            let ids: Vec<usize> = searching.iter().map(|&j| active[j]).collect();
            let batch: Vec<f32> = searching
                .iter()
                .flat_map(|&j| points[j * PIXELS..(j + 1) * PIXELS].iter().copied())
                .collect();
            oracle.predict(&ids, &batch).await?;
        }
        Ok(())
    }
}

/// The minimal L2 step `r` to the nearest linearised boundary between class `y` and a class
/// not above it. `g` holds the ten logit gradients, class-major.
pub fn nearest_boundary(z: &[f32; CLASSES], g: &[f32], y: usize) -> Option<Vec<f32>> {
    let grad = |k: usize| &g[k * PIXELS..(k + 1) * PIXELS];
    let mut best: Option<(f32, usize, f32)> = None;
    for k in (0..CLASSES).filter(|&k| k != y && z[k] <= z[y]) {
        let f = z[k] - z[y];
        let norm2: f32 = grad(k)
            .iter()
            .zip(grad(y))
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        let distance = f.abs() / (norm2.sqrt() + TINY);
        if best.is_none_or(|(d, _, _)| distance < d) {
            best = Some((distance, k, norm2));
        }
    }
    let (_, k, norm2) = best?;
    let factor = ((z[k] - z[y]).abs() + PAST_BOUNDARY) / (norm2.sqrt() + TINY).powi(2);
    Some(
        grad(k)
            .iter()
            .zip(grad(y))
            .map(|(a, b)| factor * (a - b))
            .collect(),
    )
}
