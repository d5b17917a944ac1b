//! L-BFGS — the box-constrained attack of Szegedy et al. (*Intriguing properties of neural
//! networks*, ICLR 2014, §4.1), as Foolbox 0.8's `LBFGSAttack` ran it:
//!
//! minimise `D(x', x) + c · CE(f(x'), t)` over `x' ∈ [0, 1]ⁿ`,
//!
//! with `D` the mean squared difference per pixel and `t` the target class, by L-BFGS-B exactly
//! as scipy's `fmin_l_bfgs_b` runs it ([`super::lbfgsb`]; history `m = 15`, at most 150
//! iterations per c, scipy's other defaults; the objective is scaled by 1e10 as Foolbox did,
//! which makes scipy's stopping rules relative). The constant c is searched per
//! image: start at `2·epsilon` and double (at most 30 times) until the minimiser is
//! adversarial, then bisect `[0, c]` until the interval is narrower than `epsilon = 1e-5`.
//! Every evaluation of the objective is a checked model call (prediction and gradient from one
//! mask), and so is the final check of each minimiser; the best adversarial over all of them
//! is the answer.
//!
//! For untargeted goals the target is the class of a quick gradient attack's result, as
//! Foolbox did (see [`super::targets`]). Batched: every image runs its own c search and its own solver
//! ([`BoxLbfgs`]); each round evaluates all pending points in one call, and an image whose
//! search has ended stops costing anything.

use serde::{Deserialize, Serialize};

use super::lbfgsb::{BoxLbfgs, Settings};
use super::{Attack, AttackError, Oracle, PIXELS, targets};

/// Foolbox 0.8's defaults.
pub const EPSILON: f64 = 1e-5;
pub const MAX_ITERATIONS: usize = 150;
pub const HISTORY: usize = 15;
pub const DOUBLINGS: usize = 30;
/// Foolbox multiplied the objective by 1e10 before handing it to scipy.
const SCALE: f64 = 1e10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lbfgs {
    /// First c is 2·epsilon; the bisection stops below this width (1e-5).
    pub epsilon: f64,
    /// L-BFGS-B iterations per value of c (150).
    pub max_iterations: usize,
    /// L-BFGS-B correction pairs (15).
    pub history: usize,
    /// Doublings of c before giving up (30).
    pub doublings: usize,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self {
            epsilon: EPSILON,
            max_iterations: MAX_ITERATIONS,
            history: HISTORY,
            doublings: DOUBLINGS,
        }
    }
}

/// Where an image's search for c stands.
#[derive(Clone, Copy, Debug)]
enum CSearch {
    Doubling { round: usize },
    Bisecting { low: f64, high: f64 },
}

struct Problem {
    id: usize,
    target: u8,
    /// The original image, f32 as Foolbox held it.
    original: Vec<f32>,
    c: f64,
    search: CSearch,
    solver: BoxLbfgs,
}

impl Lbfgs {
    /// scipy's `fmin_l_bfgs_b` as Foolbox called it: bounds [0, 1] for every pixel, `m` and
    /// `maxiter` from the attack, everything else scipy's default.
    fn settings(&self) -> Settings {
        Settings {
            history: self.history,
            max_iterations: self.max_iterations,
            ..Settings::boxed(0.0, 1.0)
        }
    }

    /// A fresh solver from the original (`image.astype(np.float64)` in Foolbox).
    fn solver(&self, original: &[f32]) -> BoxLbfgs {
        let x0: Vec<f64> = original.iter().map(|&v| v as f64).collect();
        BoxLbfgs::new(&x0, self.settings())
    }

    /// Moves the c search on after the minimiser for the current c was judged; returns false
    /// when the search has ended.
    fn advance(&self, p: &mut Problem, adversarial: bool) -> bool {
        p.search = match (p.search, adversarial) {
            (CSearch::Doubling { .. }, true) => CSearch::Bisecting {
                low: 0.0,
                high: p.c,
            },
            (CSearch::Doubling { round }, false) if round + 1 < self.doublings => {
                CSearch::Doubling { round: round + 1 }
            }
            (CSearch::Doubling { .. }, false) => return false,
            (CSearch::Bisecting { low, .. }, true) => CSearch::Bisecting { low, high: p.c },
            (CSearch::Bisecting { high, .. }, false) => CSearch::Bisecting { low: p.c, high },
        };
        p.c = match p.search {
            CSearch::Doubling { .. } => p.c * 2.0,
            CSearch::Bisecting { low, high } => {
                if high - low < self.epsilon {
                    return false;
                }
                (low + high) / 2.0
            }
        };
        p.solver = self.solver(&p.original);
        true
    }
}

impl Attack for Lbfgs {
    fn name(&self) -> &'static str {
        "lbfgs"
    }

    async fn run(&self, oracle: &mut Oracle<'_>, active: Vec<usize>) -> Result<(), AttackError> {
        let aims = targets(oracle, &active).await?;
        let mut problems: Vec<Problem> = active
            .iter()
            .zip(aims)
            .map(|(&i, target)| {
                let original = oracle.original(i).to_vec();
                Problem {
                    id: i,
                    target,
                    solver: self.solver(&original),
                    original,
                    c: 2.0 * self.epsilon,
                    search: CSearch::Doubling { round: 0 },
                }
            })
            .collect();
        while !problems.is_empty() {
            let (finished, running): (Vec<usize>, Vec<usize>) =
                (0..problems.len()).partition(|&j| problems[j].solver.is_done());
            let mut ended = vec![false; problems.len()];

            // Minimisers that have converged: one checked prediction decides on c.
            if !finished.is_empty() {
                let ids: Vec<usize> = finished.iter().map(|&j| problems[j].id).collect();
                let points = as_f32(finished.iter().map(|&j| problems[j].solver.solution()));
                let checked = oracle.predict(&ids, &points).await?;
                for (&j, c) in finished.iter().zip(&checked) {
                    ended[j] = !self.advance(&mut problems[j], c.adversarial);
                }
            }

            // Solvers that want f and ∇f: one checked call with gradients.
            if !running.is_empty() {
                let ids: Vec<usize> = running.iter().map(|&j| problems[j].id).collect();
                let targets: Vec<u8> = running.iter().map(|&j| problems[j].target).collect();
                let points = as_f32(running.iter().map(|&j| problems[j].solver.point()));
                let (checked, grads) = oracle.predict_and_gradient(&ids, &points, &targets).await?;
                for (row, &j) in running.iter().enumerate() {
                    let p = &mut problems[j];
                    let grad = &grads[row * PIXELS..(row + 1) * PIXELS];
                    let (f, g) = objective(p, &checked[row].logits, grad);
                    p.solver.tell(f, &g);
                }
            }

            let mut j = 0;
            problems.retain(|_| {
                j += 1;
                !ended[j - 1]
            });
        }
        Ok(())
    }
}

/// Foolbox 0.8's `loss(x, c)` as NumPy 1.x evaluates it for a float32 model: the point rounded
/// to f32; MSE and its gradient in f32 (`np.mean` by NumPy's pairwise summation); the
/// cross-entropy of the f32 logits in f32; `v = MSE + c·CE` in f64 (a Python float times a
/// NumPy f32 scalar is f64) and `g = ∇MSE + c·∇CE` in f32 (a Python float times an f32 array
/// stays f32); both × 1e10. Returns `(f, g)` as scipy received them.
fn objective(p: &Problem, logits: &[f32], ce_gradient: &[f32]) -> (f64, Vec<f64>) {
    let x = p.solver.point();
    let diff: Vec<f32> = x
        .iter()
        .zip(&p.original)
        .map(|(&a, &b)| a as f32 - b)
        .collect();
    let squares: Vec<f32> = diff.iter().map(|d| d * d).collect();
    // `np.mean`: the f32 sum divided by the count as a NumPy f64 scalar, stored back as f32.
    let mse = (pairwise_sum(&squares) as f64 / PIXELS as f64) as f32;
    // `1 / n * 2` is a NumPy f64 scalar; times an f32 array it is cast to f32 first.
    let two_over_n = (1.0 / PIXELS as f64 * 2.0) as f32;
    let c32 = p.c as f32;
    let g = diff
        .iter()
        .zip(ce_gradient)
        .map(|(&d, &dce)| (SCALE as f32 * (two_over_n * d + c32 * dce)) as f64)
        .collect();
    (
        SCALE * (mse as f64 + p.c * crossentropy(logits, p.target) as f64),
        g,
    )
}

/// Foolbox 0.8's `utils.crossentropy` in f32: `log Σ exp(z − max z) − (z_t − max z)`.
fn crossentropy(logits: &[f32], target: u8) -> f32 {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &z| m.max(z));
    let shifted: Vec<f32> = logits.iter().map(|z| z - max).collect();
    let e: Vec<f32> = shifted.iter().map(|z| z.exp()).collect();
    pairwise_sum(&e).ln() - shifted[target as usize]
}

/// NumPy's pairwise summation of an f32 array (`np.sum` of a contiguous float32 vector): runs
/// shorter than 8 add in order; up to 128, eight interleaved partial sums joined as a tree; longer
/// ones split in halves (rounded down to a multiple of 8).
fn pairwise_sum(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, v| s + v)
    } else if n <= 128 {
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (r, v) in r.iter_mut().zip(chunk) {
                *r += v;
            }
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &a[whole..] {
            sum += v;
        }
        sum
    } else {
        let half = n / 2 - (n / 2) % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

fn as_f32<'p>(points: impl Iterator<Item = &'p [f64]>) -> Vec<f32> {
    points.flat_map(|x| x.iter().map(|&v| v as f32)).collect()
}
