//! How long a run will take on this device, said before it starts. A few digits of each attack
//! are attacked and timed here ([`probe`]), one recognition pass is timed ([`probe_recognition`]),
//! and the rest is counted ([`estimate`]): how many digits a cell attacks per adversarial comes
//! from a finished reference run of the same weights and attack settings where there is one
//! (else from the probe's few digits), and whole cells are handed to the workers in run order,
//! as the page does. The same numbers give the largest N that fits a time budget.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::protocol::{self, AttackCell, CellId, Goal, ProtocolConfig};
use super::report::{CellSummary, Report};
use super::run::{self, Runner};
use crate::attack::{AttackError, AttackKind};
use crate::eval::{self, ReadError};
use crate::model::{DropoutScheme, MaskRng};

/// Digits attacked per (goal, attack) to time it: one batch.
pub const PROBE_IMAGES: usize = 2;

/// The page proposes the largest N that finishes within this.
pub const BUDGET_SECONDS: f64 = 300.0;

/// The largest N an estimate proposes (the paper's).
pub const MAX_SAMPLES: usize = 1000;

/// One attack timed on a few digits of the run's pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub goal: Goal,
    /// The attack's name (`AttackKind`'s).
    pub attack: String,
    /// The scheme it was timed under (`DropoutScheme`'s name).
    pub scheme: String,
    /// Digits attacked.
    pub images: usize,
    /// Of which adversarial.
    pub successes: usize,
    pub seconds: f64,
}

/// What timing a few steps measured on this device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub probes: Vec<Probe>,
    /// One image through one recognition pass (the plain network, batched as recognition is).
    pub seconds_per_pass: f64,
}

/// The scheme a probe runs under: the run's scheme with the most dropout (where a digit is
/// as slow as anywhere: every call draws fresh masks). Falls back to no dropout for an empty
/// list.
pub fn probe_scheme(config: &ProtocolConfig) -> DropoutScheme {
    config
        .schemes
        .iter()
        .copied()
        .max_by(|a, b| {
            (a.input + a.feature + a.fc)
                .partial_cmp(&(b.input + b.feature + b.fc))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .unwrap_or(DropoutScheme::NONE)
}

/// Attacks the first `images` digits of the runner's pool with `attack` for `goal` under
/// [`probe_scheme`], as one batch of a cell would, and times it. Nothing is stored: the probe's
/// digits are attacked again by the run itself.
pub async fn probe(
    runner: &Runner<'_>,
    goal: Goal,
    attack: &AttackKind,
    images: usize,
) -> Result<Probe, AttackError> {
    let scheme = probe_scheme(runner.config);
    let config = ProtocolConfig {
        samples: images.max(1),
        batch: images.max(1),
        schemes: vec![scheme],
        ..runner.config.clone()
    };
    let id = CellId {
        goal,
        attack: attack.clone(),
        scheme,
    };
    let mut cell = AttackCell::new(&id);
    protocol::attack_cell(
        runner.victim,
        None,
        runner.test,
        runner.candidates,
        &config,
        &id,
        &mut cell,
        runner.clock,
        |_| ControlFlow::Break(()),
    )
    .await?;
    Ok(Probe {
        goal,
        attack: attack.to_string(),
        scheme: scheme.to_string(),
        images: cell.attempted,
        successes: cell.samples.len(),
        seconds: cell.attack_seconds,
    })
}

/// Seconds of one image through one recognition pass: the first `images` digits of the pool
/// recognised under [`probe_scheme`] with the run's votes (one pass if it has no dropout).
pub async fn probe_recognition(runner: &Runner<'_>, images: usize) -> Result<f64, ReadError> {
    let scheme = probe_scheme(runner.config);
    let indices = &runner.candidates[..images.max(1).min(runner.candidates.len())];
    let labels = runner.test.labels_at(indices);
    let pixels: Vec<f32> = indices
        .iter()
        .flat_map(|&i| runner.test.image(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    let passes = passes(&scheme, runner.config.votes);
    let mut rng = MaskRng::stream(runner.config.seed, 5 << 48);
    let started = (runner.clock)();
    eval::recognise(
        runner.plain,
        &pixels,
        &labels,
        &scheme,
        runner.config.votes,
        &mut rng,
        runner.plain_device,
    )
    .await?;
    let seconds = ((runner.clock)() - started).as_secs_f64();
    Ok(seconds / (indices.len().max(1) * passes) as f64)
}

/// Recognition passes per image under `scheme` (as `eval::recognise` runs them).
fn passes(scheme: &DropoutScheme, votes: usize) -> usize {
    if scheme.is_deterministic() {
        1
    } else {
        votes.max(1)
    }
}

/// One cell's share of an [`Estimate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellEstimate {
    pub key: String,
    /// Digits attacked per adversarial found.
    pub attempts_per_adversarial: f64,
    /// Whether that rate came from the reference run (else from the probe's few digits).
    pub from_reference: bool,
    pub seconds: f64,
}

/// How long a run of `samples` per cell takes on `workers` workers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub samples: usize,
    pub workers: usize,
    /// Wall time: screening the pool, then the cells handed to the workers in run order.
    pub seconds: f64,
    pub cells: Vec<CellEstimate>,
    /// The largest N (1..=[`MAX_SAMPLES`]) estimated to finish within `budget_seconds`, and its
    /// wall time; N = 1 when even that does not.
    pub budget_seconds: f64,
    pub proposed_samples: usize,
    pub proposed_seconds: f64,
    /// Digits each attack was timed on.
    pub probe_images: usize,
}

/// The reference run's cells, if they may inform this run: its attacks were run with the same
/// settings, mode and outputs (the caller checks it attacked the same weights).
fn usable_reference<'a>(
    config: &ProtocolConfig,
    reference: Option<&'a Report>,
) -> &'a [CellSummary] {
    match reference {
        Some(r) if r.config.mode == config.mode && r.config.outputs == config.outputs => &r.cells,
        _ => &[],
    }
}

/// The estimate of a run of `config` (its own `samples`) on `workers` workers, and the largest
/// N that fits `budget_seconds`. `reference` is a finished run of the same weights, or `None`.
pub fn estimate(
    config: &ProtocolConfig,
    timing: &Timing,
    reference: Option<&Report>,
    workers: usize,
    budget_seconds: f64,
) -> Estimate {
    let cells = config.cells();
    let reference_cells = usable_reference(config, reference);
    let same_settings = |attack: &AttackKind| {
        reference.is_some_and(|r| r.config.attacks.iter().any(|a| a == attack))
    };
    let find = |goal: Goal, attack: &str, scheme: &str| {
        reference_cells
            .iter()
            .find(|c| c.goal == goal && c.attack == attack && c.scheme == scheme && c.attempted > 0)
    };
    // Per cell: seconds per digit attacked (the probe's, whatever the scheme: measured on the
    // page, a digit costs about the same under every scheme, while the reference run's ratios
    // between schemes, taken natively at batch 100, misled by up to 4×), digits per adversarial
    // (the reference run's where it has the cell, else the probe's), whether from the reference.
    let rates: Vec<(f64, f64, bool)> = cells
        .iter()
        .map(|id| {
            let attack = id.attack.to_string();
            let probe = timing
                .probes
                .iter()
                .find(|p| p.goal == id.goal && p.attack == attack);
            let Some(p) = probe else {
                return (0.0, 1.0, false);
            };
            let per_digit = p.seconds / p.images.max(1) as f64;
            let reference = same_settings(&id.attack)
                .then(|| find(id.goal, &attack, &id.scheme.to_string()))
                .flatten()
                .filter(|c| c.successes > 0);
            match reference {
                Some(c) => (per_digit, c.attempted as f64 / c.successes as f64, true),
                // The probe alone: its success rate, pulled towards one in two (a probe of two
                // digits that found none still expects to find some).
                None => (
                    per_digit,
                    (p.images + 1) as f64 / (p.successes + 1) as f64,
                    false,
                ),
            }
        })
        .collect();
    let passes: usize = config.schemes.iter().map(|s| passes(s, config.votes)).sum();
    let workers = workers.max(1);
    let at = |n: usize| -> (f64, Vec<CellEstimate>) {
        let screened = run::screened_images(n) as f64;
        let screening = screened * timing.seconds_per_pass;
        let per_cell: Vec<CellEstimate> = cells
            .iter()
            .zip(&rates)
            .map(|(id, &(per_digit, attempts, from_reference))| {
                // A cell stops when the pool runs out, whatever it found by then.
                let attempted = (n as f64 * attempts).min(screened);
                let found = attempted / attempts;
                CellEstimate {
                    key: id.key(),
                    attempts_per_adversarial: attempts,
                    from_reference,
                    seconds: attempted * per_digit
                        + found * passes as f64 * timing.seconds_per_pass,
                }
            })
            .collect();
        // Whole cells, in run order, each to the worker free first (the page's queue).
        let mut free = vec![0.0f64; workers];
        for c in &per_cell {
            let w = (0..workers)
                .min_by(|&a, &b| free[a].total_cmp(&free[b]))
                .unwrap_or(0);
            free[w] += c.seconds;
        }
        let makespan = free.iter().copied().fold(0.0, f64::max);
        (screening + makespan, per_cell)
    };
    let (seconds, per_cell) = at(config.samples);
    let (proposed_samples, proposed_seconds) = (1..=MAX_SAMPLES)
        .rev()
        .map(|n| (n, at(n).0))
        .find(|&(n, s)| s <= budget_seconds || n == 1)
        .unwrap_or((1, at(1).0));
    Estimate {
        samples: config.samples,
        workers,
        seconds,
        cells: per_cell,
        budget_seconds,
        proposed_samples,
        proposed_seconds,
        probe_images: timing.probes.iter().map(|p| p.images).min().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::report::RunInfo;
    use std::str::FromStr;

    fn config(samples: usize) -> ProtocolConfig {
        let mut c = ProtocolConfig::paper(samples, 0);
        c.attacks = vec!["fgsm".parse().unwrap(), "deepfool".parse().unwrap()];
        c.schemes = vec!["none".parse().unwrap(), "all".parse().unwrap()];
        c.votes = 10;
        c
    }

    fn timing() -> Timing {
        let probe = |goal, attack: &str, seconds| Probe {
            goal,
            attack: attack.into(),
            scheme: "all".into(),
            images: 2,
            successes: 1,
            seconds,
        };
        Timing {
            probes: vec![
                probe(Goal::Targeted, "fgsm", 2.0),
                probe(Goal::Top3, "fgsm", 1.0),
                probe(Goal::Top3, "deepfool", 0.5),
            ],
            seconds_per_pass: 0.001,
        }
    }

    #[test]
    fn probe_scheme_is_the_one_with_most_dropout() {
        assert_eq!(probe_scheme(&config(1)).to_string(), "all");
        let mut c = config(1);
        c.schemes.clear();
        assert_eq!(probe_scheme(&c).to_string(), "none");
    }

    #[test]
    fn the_probe_alone_counts_digits_per_adversarial_and_recognition() {
        let e = estimate(&config(10), &timing(), None, 1, BUDGET_SECONDS);
        // Cells: targeted fgsm ×2, top-3 fgsm ×2, top-3 deepfool ×2 (DeepFool is untargeted).
        assert_eq!(e.cells.len(), 6);
        // (2 + 1) / (1 + 1) digits per adversarial, 1 s per digit, 10 adversarials recognised in
        // 1 + 10 passes at 1 ms.
        let c = &e.cells[0];
        assert_eq!(c.key, "targeted-fgsm-none");
        assert!((c.attempts_per_adversarial - 1.5).abs() < 1e-12);
        assert!((c.seconds - (15.0 + 10.0 * 11.0 * 0.001)).abs() < 1e-9);
        assert!(e.cells.iter().all(|c| !c.from_reference));
        // One worker: the cells one after the other, after screening 100 + 40 N digits.
        let sum: f64 = e.cells.iter().map(|c| c.seconds).sum();
        assert!((e.seconds - (sum + 500.0 * 0.001)).abs() < 1e-9);
    }

    #[test]
    fn workers_take_whole_cells_in_run_order() {
        let one = estimate(&config(10), &timing(), None, 1, BUDGET_SECONDS);
        let two = estimate(&config(10), &timing(), None, 2, BUDGET_SECONDS);
        let many = estimate(&config(10), &timing(), None, 64, BUDGET_SECONDS);
        assert!(two.seconds < one.seconds && two.seconds > one.seconds / 2.0 - 1e-9);
        // With a worker per cell, the slowest cell decides.
        let slowest = many.cells.iter().map(|c| c.seconds).fold(0.0, f64::max);
        assert!((many.seconds - (slowest + 500.0 * 0.001)).abs() < 1e-9);
    }

    #[test]
    fn the_proposed_n_is_the_largest_that_fits_the_budget() {
        let e = estimate(&config(10), &timing(), None, 1, 100.0);
        assert!(e.proposed_seconds <= 100.0);
        let next = estimate(&config(e.proposed_samples + 1), &timing(), None, 1, 100.0);
        assert!(next.seconds > 100.0, "{} fits too", e.proposed_samples + 1);
        // Nothing fits: N = 1, with its time.
        let tight = estimate(&config(10), &timing(), None, 1, 0.01);
        assert_eq!(tight.proposed_samples, 1);
        assert!(tight.proposed_seconds > 0.01);
        // Everything fits: the paper's N.
        let loose = estimate(&config(10), &timing(), None, 1, 1e9);
        assert_eq!(loose.proposed_samples, MAX_SAMPLES);
    }

    #[test]
    fn a_reference_run_supplies_digits_per_adversarial() {
        let config = config(10);
        let cell = |goal, attack: &str, scheme: &str, attempted, successes, seconds| {
            let mut s: CellSummary = serde_json::from_value(serde_json::json!({
                "goal": goal, "attack": attack, "scheme": scheme, "finished": true,
                "attempted": attempted, "successes": successes,
                "success_rate": {"percent": 0.0, "low": 0.0, "high": 0.0, "count": successes, "n": attempted},
                "first_pass": 0, "mad": {"n": 0, "mean": 0.0, "half_width": 0.0},
                "paper_mad": null, "mean_l2": 0.0, "mean_l0": 0.0, "mean_linf": 0.0,
                "mean_queries": 0.0, "attack_seconds": seconds, "images_per_second": 0.0,
                "recognition_seconds": 0.0, "recognition": []
            }))
            .unwrap();
            s.attempted = attempted;
            s
        };
        let reference = Report {
            advdrop_version: String::new(),
            burn_version: String::new(),
            config: config.clone(),
            run: RunInfo {
                weights: String::new(),
                weights_sha256: None,
                backend: String::new(),
                test_images_correct: 0,
            },
            cells: vec![
                // Under `none` targeted FGSM finds one in five (its seconds are not used).
                cell("Targeted", "fgsm", "none", 500, 100, 50.0),
                cell("Targeted", "fgsm", "all", 120, 100, 48.0),
            ],
            conclusions: vec![],
        };
        let e = estimate(&config, &timing(), Some(&reference), 1, BUDGET_SECONDS);
        let none = &e.cells[0];
        assert!(none.from_reference);
        assert!((none.attempts_per_adversarial - 5.0).abs() < 1e-12);
        // 50 digits at the probe's 1 s, and 10 adversarials recognised.
        assert!((none.seconds - (50.0 + 10.0 * 11.0 * 0.001)).abs() < 1e-9);
        let all = &e.cells[1];
        assert!(all.from_reference && (all.attempts_per_adversarial - 1.2).abs() < 1e-12);
        // Cells the reference lacks fall back to the probe.
        assert!(!e.cells[2].from_reference);
        // A reference run with other attack settings informs nothing.
        let mut other = reference.clone();
        let mut fgsm = serde_json::to_value(AttackKind::from_str("fgsm").unwrap()).unwrap();
        fgsm["Fgsm"]["steps"] = serde_json::json!(10);
        other.config.attacks = vec![serde_json::from_value(fgsm).unwrap()];
        let e = estimate(&config, &timing(), Some(&other), 1, BUDGET_SECONDS);
        assert!(e.cells.iter().all(|c| !c.from_reference));
    }
}
