//! JSMA — the Jacobian-based saliency map attack (Papernot, McDaniel, Jha, Fredrikson, Celik
//! & Swami, *The Limitations of Deep Learning in Adversarial Settings*, EuroS&P 2016).
//!
//! Two variants:
//!
//! - [`JsmaVariant::Fast`] — Foolbox 0.8's `SaliencyMapAttack(fast=True)`, which the paper
//!   ran: one pixel per iteration, the still-allowed pixel with the largest
//!   `|∂ CE(f(x), t) / ∂x_p|`, moved by `−sign(∂CE/∂x_p) · theta` (towards the target t).
//!   A pixel leaves the search set when it reaches a bound or has been changed
//!   `max_changes_per_pixel` times; at most `max_iterations` iterations.
//! - [`JsmaVariant::Pairs`] — the original paper's Algorithm 3: pixel *pairs* from the saliency
//!   map of the logits, `α = Σ_{p∈pair} ∂z_t/∂x_p`, `β = Σ_{p∈pair} Σ_{j≠t} ∂z_j/∂x_p`, choosing
//!   the pair with `α > 0`, `β < 0` and the largest `α·|β|` (eq. 5–6), and setting both pixels
//!   to the top of the range (theta = +1). Pixels leave the search set once changed; at most
//!   `gamma · 784` pixels are changed (Papernot's γ = 14.5 % on MNIST).
//!
//! Each iteration makes one checked call whose prediction and gradient share one mask (Foolbox
//! made a prediction and then a separate gradient call; one call halves the cost and keeps every
//! prediction checked). For untargeted goals the target is the class of a quick gradient
//! attack's result, as Foolbox did (see [`super::targets`]).

use serde::{Deserialize, Serialize};

use super::oracle::one_hot;
use super::{Attack, AttackError, Oracle, PIXELS, targets};
use crate::model::CLASSES;

/// Foolbox 0.8's defaults (`SaliencyMapAttack`).
pub const THETA: f32 = 0.1;
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
    /// Fast: change per step, as a fraction of the range (0.1). Pairs: ignored (pixels go to 1).
    pub theta: f32,
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
    changes: Vec<u8>,
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
        let mut searching: Vec<Search> = active
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
        let iterations = match self.variant {
            JsmaVariant::Fast => self.max_iterations,
            JsmaVariant::Pairs => self.pixel_budget() / 2,
        };
        for _ in 0..=iterations {
            if searching.is_empty() {
                break;
            }
            let ids: Vec<usize> = searching.iter().map(|s| s.id).collect();
            let points: Vec<f32> = searching.iter().flat_map(|s| s.point.clone()).collect();
            let targets: Vec<u8> = searching.iter().map(|s| s.target).collect();
            let (checked, grads, rows) = match self.variant {
                JsmaVariant::Fast => {
                    let (c, g) = oracle.predict_and_gradient(&ids, &points, &targets).await?;
                    (c, g, 1)
                }
                JsmaVariant::Pairs => {
                    // Replica 0: ∂z_t; replica 1: ∂Σ_{j≠t} z_j.
                    let mut weights = Vec::with_capacity(ids.len() * 2 * CLASSES);
                    for &t in &targets {
                        let target = one_hot(&[t], 1.0);
                        weights.extend_from_slice(&target);
                        weights.extend(target.iter().map(|w| 1.0 - w));
                    }
                    let (c, g) = oracle.logit_gradients(&ids, &points, &weights, 2).await?;
                    (c, g, 2)
                }
            };
            let mut still = Vec::new();
            for (j, mut s) in searching.into_iter().enumerate() {
                if checked[j].adversarial {
                    continue;
                }
                let g = &grads[j * rows * PIXELS..(j + 1) * rows * PIXELS];
                let moved = match self.variant {
                    JsmaVariant::Fast => self.fast_step(&mut s, g),
                    JsmaVariant::Pairs => self.pair_step(&mut s, g),
                };
                if moved {
                    still.push(s);
                }
            }
            searching = still;
        }
        Ok(())
    }
}

impl Jsma {
    /// Foolbox's fast saliency: the allowed pixel with the largest |gradient|. Returns false
    /// when no pixel may move any more.
    fn fast_step(&self, s: &mut Search, g: &[f32]) -> bool {
        let best = (0..PIXELS)
            .filter(|&p| s.allowed[p] && g[p] != 0.0)
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()));
        let Some(p) = best else {
            return false;
        };
        if s.changes[p] == 0 {
            s.changed_pixels += 1;
        }
        s.point[p] = (s.point[p] - super::fgsm::sign(g[p]) * self.theta).clamp(0.0, 1.0);
        s.changes[p] += 1;
        if s.point[p] <= 0.0 || s.point[p] >= 1.0 || s.changes[p] >= self.max_changes_per_pixel {
            s.allowed[p] = false;
        }
        true
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
