//! JSMA — the Jacobian-based saliency map attack (Papernot, McDaniel, Jha, Fredrikson, Celik
//! & Swami, *The Limitations of Deep Learning in Adversarial Settings*, EuroS&P 2016).
//!
//! Two variants:
//!
//! - [`JsmaVariant::Fast`] — exactly Foolbox 0.8's `SaliencyMapAttack(fast=True)`
//!   (`attacks/saliency.py`), which the paper ran. Each of `max_iterations` steps makes one
//!   checked prediction of the current point (the attack ends when it is adversarial), then a
//!   separate, unchecked gradient call — each call with its own dropout masks — of CE(target).
//!   With `α = ∂CE/∂x · mask` and Foolbox's fast `β = −1`, the saliency map
//!   `|α|·|β|·sign(α·β)` is `−α`, so the chosen pixel is the **first index of the largest α**
//!   (masked pixels have α = 0 and can be chosen), moved by `−sign(α)·theta`: in practice a
//!   pixel is only ever decreased. The pixel's change count grows even when it did not move
//!   (α = 0); it leaves the mask when it reaches a bound or its `max_changes_per_pixel`-th
//!   change. There is no early stop when nothing can move: every step still predicts (under
//!   dropout each prediction is a fresh chance). Pixel arithmetic follows NumPy's: the step
//!   is added in f64 and stored as f32. Under a deterministic scheme (or frozen masks) a
//!   step that changes nothing leaves the attack in a fixed point; its remaining steps are
//!   counted as queries (Foolbox makes them) but not run, which changes no result.
//! - [`JsmaVariant::Pairs`] — the original paper's Algorithm 3: pixel *pairs* from the saliency
//!   map of the logits, `α = Σ_{p∈pair} ∂z_t/∂x_p`, `β = Σ_{p∈pair} Σ_{j≠t} ∂z_j/∂x_p`, choosing
//!   the pair with `α > 0`, `β < 0` and the largest `α·|β|` (eq. 5–6), and setting both pixels
//!   to the top of the range (theta = +1). Pixels leave the search set once changed; at most
//!   `gamma · 784` pixels are changed (Papernot's γ = 14.5 % on MNIST). Its prediction and
//!   gradients come from one checked call.
//!
//! For untargeted goals the target is the class of a quick gradient attack's result, as
//! Foolbox did (see [`super::targets`]).

use serde::{Deserialize, Serialize};

use super::oracle::one_hot;
use super::{Attack, AttackError, Oracle, PIXELS, targets};
use crate::model::CLASSES;

/// Foolbox 0.8's defaults (`SaliencyMapAttack`).
pub const THETA: f64 = 0.1;
pub const MAX_CHANGES_PER_PIXEL: u8 = 7;
pub const MAX_ITERATIONS: usize = 2000;
/// Papernot et al.'s maximum distortion on MNIST (14.5 % of the pixels).
pub const GAMMA: f32 = 0.145;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JsmaVariant {
    /// Foolbox 0.8's fast one-pixel variant (the paper's).
    Fast,
    /// Papernot et al.'s pixel-pair saliency map.
    Pairs,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jsma {
    pub variant: JsmaVariant,
    /// Fast: change per step, as a fraction of the range (0.1; f64 as in Foolbox's NumPy
    /// arithmetic). Pairs: ignored (pixels go to 1).
    pub theta: f64,
    /// Fast: how often one pixel may be changed (7).
    pub max_changes_per_pixel: u8,
    /// Fast: iterations (2000).
    pub max_iterations: usize,
    /// Pairs: the largest fraction of pixels changed (0.145).
    pub gamma: f32,
}

impl Default for Jsma {
    fn default() -> Self {
        Self {
            variant: JsmaVariant::Fast,
            theta: THETA,
            max_changes_per_pixel: MAX_CHANGES_PER_PIXEL,
            max_iterations: MAX_ITERATIONS,
            gamma: GAMMA,
        }
    }
}

impl Jsma {
    /// Papernot et al.'s pixel-pair variant with its defaults.
    pub fn pairs() -> Self {
        Self {
            variant: JsmaVariant::Pairs,
            ..Self::default()
        }
    }

    /// Pixels the pair variant may change.
    pub fn pixel_budget(&self) -> usize {
        match self.variant {
            JsmaVariant::Fast => self.max_iterations,
            JsmaVariant::Pairs => (self.gamma * PIXELS as f32).floor() as usize,
        }
    }
}

/// Search state of one image.
struct Search {
    /// Position in the batch.
    id: usize,
    target: u8,
    point: Vec<f32>,
    /// Changes per pixel (Foolbox's `counts`; a masked pixel chosen again still counts).
    changes: Vec<u16>,
    allowed: Vec<bool>,
    changed_pixels: usize,
}

impl Attack for Jsma {
    fn name(&self) -> &'static str {
        match self.variant {
            JsmaVariant::Fast => "jsma",
            JsmaVariant::Pairs => "jsma-pairs",
        }
    }

    async fn run(&self, oracle: &mut Oracle<'_>, active: Vec<usize>) -> Result<(), AttackError> {
        let aims = targets(oracle, &active).await?;
        let searching: Vec<Search> = active
            .iter()
            .zip(aims)
            .map(|(&i, target)| Search {
                id: i,
                target,
                point: oracle.original(i).to_vec(),
                changes: vec![0; PIXELS],
                allowed: vec![true; PIXELS],
                changed_pixels: 0,
            })
            .collect();
        match self.variant {
            JsmaVariant::Fast => self.run_fast(oracle, searching).await,
            JsmaVariant::Pairs => self.run_pairs(oracle, searching).await,
        }
    }
}

fn batch(searching: &[Search]) -> (Vec<usize>, Vec<f32>, Vec<u8>) {
    (
        searching.iter().map(|s| s.id).collect(),
        searching.iter().flat_map(|s| s.point.clone()).collect(),
        searching.iter().map(|s| s.target).collect(),
    )
}

impl Jsma {
    /// Foolbox 0.8's loop: `max_iterations` steps of (checked prediction, unchecked gradient,
    /// one pixel moved).
    async fn run_fast(
        &self,
        oracle: &mut Oracle<'_>,
        mut searching: Vec<Search>,
    ) -> Result<(), AttackError> {
        let repeatable = oracle.is_repeatable();
        for step in 0..self.max_iterations {
            if searching.is_empty() {
                break;
            }
            let (ids, points, _) = batch(&searching);
            let checked = oracle.predict(&ids, &points).await?;
            let mut verdicts = checked.iter();
            searching.retain(|_| verdicts.next().is_some_and(|c| !c.adversarial));
            if searching.is_empty() {
                break;
            }
            let (ids, points, targets) = batch(&searching);
            let grads = oracle.gradient(&ids, &points, &targets).await?;
            let mut still = Vec::with_capacity(searching.len());
            for (j, mut s) in searching.into_iter().enumerate() {
                let moved = self.fast_step(&mut s, &grads[j * PIXELS..(j + 1) * PIXELS]);
                if !moved && repeatable {
                    // A fixed point: every later step would see the same point and gradient.
                    let left = (self.max_iterations - step - 1) as u32;
                    oracle.count_unrun_queries(s.id, 2 * left);
                    continue;
                }
                still.push(s);
            }
            searching = still;
        }
        Ok(())
    }

    /// Papernot's variant: one checked call per step gives the prediction and both gradients.
    async fn run_pairs(
        &self,
        oracle: &mut Oracle<'_>,
        mut searching: Vec<Search>,
    ) -> Result<(), AttackError> {
        for _ in 0..=self.pixel_budget() / 2 {
            if searching.is_empty() {
                break;
            }
            let (ids, points, targets) = batch(&searching);
            // Replica 0: ∂z_t; replica 1: ∂Σ_{j≠t} z_j.
            let mut weights = Vec::with_capacity(ids.len() * 2 * CLASSES);
            for &t in &targets {
                let target = one_hot(&[t], 1.0);
                weights.extend_from_slice(&target);
                weights.extend(target.iter().map(|w| 1.0 - w));
            }
            let (checked, grads) = oracle.logit_gradients(&ids, &points, &weights, 2).await?;
            let mut still = Vec::new();
            for (j, mut s) in searching.into_iter().enumerate() {
                if !checked[j].adversarial
                    && self.pair_step(&mut s, &grads[j * 2 * PIXELS..(j + 1) * 2 * PIXELS])
                {
                    still.push(s);
                }
            }
            searching = still;
        }
        Ok(())
    }

    /// One step of Foolbox's fast saliency map on gradient `g` of CE(target): the first pixel
    /// of largest `α = g · mask`, moved by `−sign(α)·theta` (in f64, stored as f32, as NumPy
    /// does). Returns whether anything can change at the next step (false when `α = 0`: the
    /// point stays where it is).
    fn fast_step(&self, s: &mut Search, g: &[f32]) -> bool {
        let alpha = |p: usize| if s.allowed[p] { g[p] } else { 0.0 };
        let (mut p, mut best) = (0, alpha(0));
        for q in 1..PIXELS {
            if alpha(q) > best {
                (p, best) = (q, alpha(q));
            }
        }
        let sign = super::fgsm::sign(best) as f64;
        if s.changes[p] == 0 {
            s.changed_pixels += 1;
        }
        let moved = (s.point[p] as f64 - sign * self.theta) as f32;
        s.changes[p] += 1;
        if moved <= 0.0 || moved >= 1.0 || s.changes[p] >= self.max_changes_per_pixel as u16 {
            s.allowed[p] = false;
        }
        s.point[p] = moved.clamp(0.0, 1.0);
        sign != 0.0
    }

    /// Papernot's pair saliency map; both chosen pixels go to 1 and leave the search set.
    /// Returns false when no admissible pair is left or the pixel budget is spent.
    fn pair_step(&self, s: &mut Search, g: &[f32]) -> bool {
        if s.changed_pixels + 2 > self.pixel_budget() {
            return false;
        }
        let (target, others) = g.split_at(PIXELS);
        let candidates: Vec<usize> = (0..PIXELS)
            .filter(|&p| s.allowed[p] && s.point[p] < 1.0)
            .collect();
        let mut best: Option<(f32, usize, usize)> = None;
        for (a, &p) in candidates.iter().enumerate() {
            for &q in &candidates[a + 1..] {
                let alpha = target[p] + target[q];
                let beta = others[p] + others[q];
                if alpha > 0.0 && beta < 0.0 {
                    let score = alpha * -beta;
                    if best.is_none_or(|(b, _, _)| score > b) {
                        best = Some((score, p, q));
                    }
                }
            }
        }
        let Some((_, p, q)) = best else {
            return false;
        };
        for pixel in [p, q] {
            s.point[pixel] = 1.0;
            s.allowed[pixel] = false;
            s.changes[pixel] += 1;
        }
        s.changed_pixels += 2;
        true
    }
}
