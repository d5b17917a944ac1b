//! A small box-constrained L-BFGS solver, driven from outside (ask / tell), so that a whole
//! batch of independent problems can share one batched model call per evaluation.
//!
//! It is the projected variant of L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995; the projected
//! two-loop form of Kim, Sra & Dhillon 2010): variables at a bound whose gradient points out
//! of the box are held fixed; the two-loop recursion gives a quasi-Newton direction on the free
//! ones; a backtracking Armijo search runs along the projected path `P(x + s·d)`. Its stopping
//! rules are scipy's `fmin_l_bfgs_b` defaults, which Foolbox 0.8 used: history `m`, at most
//! `max_iterations`, relative decrease below `factr · ε_machine`, projected gradient below
//! `pgtol`, and at most `max_line_search` trial points per iteration.

use std::collections::VecDeque;

/// scipy's defaults.
pub const FACTR: f64 = 1e7;
pub const PGTOL: f64 = 1e-5;
pub const MAX_LINE_SEARCH: usize = 20;
/// Armijo's sufficient-decrease constant (scipy's line search uses the same `ftol`).
const ARMIJO: f64 = 1e-3;

/// Solver settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    pub lower: f64,
    pub upper: f64,
    /// Correction pairs kept (Foolbox: 15).
    pub history: usize,
    /// Iterations (accepted steps) at most (Foolbox: 150).
    pub max_iterations: usize,
}

#[derive(Clone, Debug)]
enum Phase {
    /// Waiting for f and g at the start point.
    Start,
    /// Waiting for f and g at a trial point `P(x + step·d)`.
    Search {
        direction: Vec<f64>,
        step: f64,
        tries: usize,
    },
    Done,
}

/// One minimisation in progress.
#[derive(Clone, Debug)]
pub struct BoxLbfgs {
    settings: Settings,
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    trial: Vec<f64>,
    s: VecDeque<Vec<f64>>,
    y: VecDeque<Vec<f64>>,
    iterations: usize,
    phase: Phase,
}

impl BoxLbfgs {
    /// Starts at `x0` (projected into the box); the first point to evaluate is `x0`.
    pub fn new(x0: &[f64], settings: Settings) -> Self {
        let x: Vec<f64> = x0
            .iter()
            .map(|v| v.clamp(settings.lower, settings.upper))
            .collect();
        Self {
            settings,
            trial: x.clone(),
            g: vec![0.0; x.len()],
            x,
            f: f64::INFINITY,
            s: VecDeque::new(),
            y: VecDeque::new(),
            iterations: 0,
            phase: Phase::Start,
        }
    }

    /// The point whose value and gradient the solver needs next.
    pub fn point(&self) -> &[f64] {
        &self.trial
    }

    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The best point accepted so far (the solution once done).
    pub fn solution(&self) -> &[f64] {
        &self.x
    }

    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Reports f and its gradient at [`point`](Self::point); afterwards either a new point is
    /// wanted or the solver is done.
    pub fn tell(&mut self, f: f64, g: &[f64]) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Start => {
                self.f = f;
                self.g = g.to_vec();
                self.begin_iteration(true);
            }
            Phase::Search {
                direction,
                step,
                tries,
            } => {
                let decrease: f64 = self
                    .g
                    .iter()
                    .zip(self.trial.iter().zip(&self.x))
                    .map(|(g, (t, x))| g * (t - x))
                    .sum();
                if f.is_finite() && f <= self.f + ARMIJO * decrease {
                    self.accept(f, g);
                } else if tries + 1 < MAX_LINE_SEARCH {
                    let step = step / 2.0;
                    self.trial = self.project_step(&direction, step);
                    self.phase = Phase::Search {
                        direction,
                        step,
                        tries: tries + 1,
                    };
                } // else: the line search failed (scipy's ABNORMAL_TERMINATION_IN_LNSRCH).
            }
            Phase::Done => {}
        }
    }

    fn accept(&mut self, f: f64, g: &[f64]) {
        let s: Vec<f64> = self.trial.iter().zip(&self.x).map(|(t, x)| t - x).collect();
        let y: Vec<f64> = g.iter().zip(&self.g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if self.s.len() == self.settings.history {
                self.s.pop_front();
                self.y.pop_front();
            }
            self.s.push_back(s);
            self.y.push_back(y);
        }
        let f_old = self.f;
        self.x = self.trial.clone();
        self.f = f;
        self.g = g.to_vec();
        self.iterations += 1;
        let relative = (f_old - f) / f_old.abs().max(f.abs()).max(1.0);
        if relative <= FACTR * f64::EPSILON || self.iterations >= self.settings.max_iterations {
            return; // phase stays Done
        }
        self.begin_iteration(false);
    }

    /// Computes the next direction and first trial point, or finishes.
    fn begin_iteration(&mut self, first: bool) {
        let Settings { lower, upper, .. } = self.settings;
        let free: Vec<bool> = self
            .x
            .iter()
            .zip(&self.g)
            .map(|(&x, &g)| !((x <= lower && g > 0.0) || (x >= upper && g < 0.0)))
            .collect();
        let projected_gradient = self
            .x
            .iter()
            .zip(&self.g)
            .map(|(&x, &g)| ((x - g).clamp(lower, upper) - x).abs())
            .fold(0.0, f64::max);
        if projected_gradient <= PGTOL {
            return;
        }
        let mut direction = self.two_loop(&free);
        if dot(&direction, &self.g) >= 0.0 {
            // Not a descent direction on the free set: restart from steepest descent.
            self.s.clear();
            self.y.clear();
            direction = self
                .g
                .iter()
                .zip(&free)
                .map(|(g, &f)| if f { -g } else { 0.0 })
                .collect();
        }
        // scipy's first step has unit length; later ones take the quasi-Newton step.
        let step = if first || self.s.is_empty() {
            1.0 / dot(&direction, &direction).sqrt().max(f64::MIN_POSITIVE)
        } else {
            1.0
        };
        self.trial = self.project_step(&direction, step);
        self.phase = Phase::Search {
            direction,
            step,
            tries: 0,
        };
    }

    /// `−H·g` on the free variables by the two-loop recursion (zero on the fixed ones).
    fn two_loop(&self, free: &[bool]) -> Vec<f64> {
        let mask = |v: &[f64]| -> Vec<f64> {
            v.iter()
                .zip(free)
                .map(|(x, &f)| if f { *x } else { 0.0 })
                .collect()
        };
        let mut q = mask(&self.g);
        let k = self.s.len();
        let mut alpha = vec![0.0; k];
        for i in (0..k).rev() {
            let (s, y) = (mask(&self.s[i]), mask(&self.y[i]));
            let sy = dot(&s, &y);
            if sy <= 0.0 {
                continue;
            }
            alpha[i] = dot(&s, &q) / sy;
            axpy(-alpha[i], &y, &mut q);
        }
        if let (Some(s), Some(y)) = (self.s.back(), self.y.back()) {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y), a) in self.s.iter().zip(&self.y).zip(&alpha) {
            let (s, y) = (mask(s), mask(y));
            let sy = dot(&s, &y);
            if sy <= 0.0 {
                continue;
            }
            let beta = dot(&y, &q) / sy;
            axpy(a - beta, &s, &mut q);
        }
        mask(&q).into_iter().map(|v| -v).collect()
    }

    fn project_step(&self, direction: &[f64], step: f64) -> Vec<f64> {
        self.x
            .iter()
            .zip(direction)
            .map(|(x, d)| (x + step * d).clamp(self.settings.lower, self.settings.upper))
            .collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimises Σ wᵢ (xᵢ − cᵢ)² over [0, 1]ⁿ; the answer is cᵢ clipped to the box.
    #[test]
    fn solves_a_box_constrained_quadratic() {
        let c = [0.3, -0.5, 1.7, 0.9, 0.5];
        let w = [1.0, 10.0, 0.1, 100.0, 3.0];
        let settings = Settings {
            lower: 0.0,
            upper: 1.0,
            history: 5,
            max_iterations: 200,
        };
        let mut solver = BoxLbfgs::new(&[0.5; 5], settings);
        let mut evaluations = 0;
        while !solver.is_done() {
            let x = solver.point().to_vec();
            let f = x
                .iter()
                .zip(c.iter().zip(&w))
                .map(|(x, (c, w))| w * (x - c).powi(2))
                .sum();
            let g: Vec<f64> = x
                .iter()
                .zip(c.iter().zip(&w))
                .map(|(x, (c, w))| 2.0 * w * (x - c))
                .collect();
            solver.tell(f, &g);
            evaluations += 1;
            assert!(evaluations < 1000, "no convergence");
        }
        for (x, c) in solver.solution().iter().zip(c) {
            assert!((x - c.clamp(0.0, 1.0)).abs() < 1e-4, "{x} vs {c}");
        }
    }
}
