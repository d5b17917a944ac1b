//! The protocol's report: every cell with confidence intervals, the paper's Tables 2–5 beside
//! ours, and a verdict on each of the paper's three conclusions with the numbers that decide it.

use serde::{Deserialize, Serialize};

use super::paper;
use super::protocol::{AttackCell, Goal, ProtocolConfig};
use super::table1::Table1;
use crate::eval::{MeanCi, mean_ci, wilson};

/// Where the run ran and on what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub weights: String,
    pub weights_sha256: Option<String>,
    pub backend: String,
    /// Size of the pool samples are drawn from: test images the network gets right.
    pub test_images_correct: usize,
}

/// A percentage with its 95 % Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub percent: f64,
    pub low: f64,
    pub high: f64,
    pub count: usize,
    pub n: usize,
}

impl Proportion {
    pub fn of(count: usize, n: usize) -> Self {
        let (low, high) = wilson(count, n);
        Self {
            percent: 100.0 * count as f64 / n.max(1) as f64,
            low: 100.0 * low,
            high: 100.0 * high,
            count,
            n,
        }
    }
}

/// How the adversarials of one cell fare under one test scheme.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecognitionSummary {
    pub test_scheme: String,
    /// Recognised as the true label in one stochastic pass (the paper's Tables 3 and 5).
    pub single_pass: Proportion,
    /// Recognised as the true label by the majority of `passes` passes.
    pub vote: Proportion,
    pub passes: usize,
    /// Mean per-pass probability of the true label, in %.
    pub true_class_percent: f64,
    pub paper: Option<f64>,
}

/// One cell: goal × attack × generating scheme.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    pub goal: Goal,
    pub attack: String,
    pub scheme: String,
    pub finished: bool,
    pub attempted: usize,
    pub successes: usize,
    pub success_rate: Proportion,
    /// Successes that were already adversarial on the first stochastic pass (distance 0).
    pub first_pass: usize,
    /// Mean absolute difference per pixel, 0–255 scale (Tables 2 and 4), with its 95 % CI.
    pub mad: MeanCi,
    pub paper_mad: Option<f64>,
    pub mean_l2: f64,
    pub mean_l0: f64,
    pub mean_linf: f64,
    pub mean_queries: f64,
    /// Forward passes per success spent past Foolbox's stopping point to keep calls wide
    /// (FGSM's ε chunks); not part of `mean_queries`.
    #[serde(default)]
    pub mean_extra: f64,
    pub attack_seconds: f64,
    /// Images attacked per second (successes and skipped failures).
    pub images_per_second: f64,
    pub recognition_seconds: f64,
    pub recognition: Vec<RecognitionSummary>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Confirmed,
    PartlyConfirmed,
    Refuted,
    /// The run lacks the cells the claim needs.
    Undecided,
    /// The cells are there, but a 95 % interval that decides the verdict straddles its
    /// threshold: the verdict would change within the uncertainty.
    TooFewToJudge,
}

impl Verdict {
    /// The verdict in words, as every front end prints it.
    pub fn words(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::PartlyConfirmed => "partly confirmed",
            Self::Refuted => "refuted",
            Self::Undecided => "undecided: cells missing or unfinished",
            Self::TooFewToJudge => "too few adversarials to judge",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conclusion {
    pub claim: String,
    pub rule: String,
    pub verdict: Verdict,
    /// [`Verdict::words`], for front ends that read the JSON.
    #[serde(default)]
    pub verdict_words: String,
    pub evidence: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub advdrop_version: String,
    pub burn_version: String,
    pub config: ProtocolConfig,
    pub run: RunInfo,
    pub cells: Vec<CellSummary>,
    pub conclusions: Vec<Conclusion>,
}

/// burn, as pinned in Cargo.toml.
pub const BURN_VERSION: &str = "0.22.1";

impl Report {
    pub fn build(
        config: &ProtocolConfig,
        run: RunInfo,
        cells: &[AttackCell],
        table1: Option<&Table1>,
    ) -> Self {
        let cells: Vec<CellSummary> = cells.iter().map(summarise).collect();
        let conclusions = conclusions(&cells, table1);
        Self {
            advdrop_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: BURN_VERSION.into(),
            config: config.clone(),
            run,
            cells,
            conclusions,
        }
    }

    /// One line per cell for the terminal.
    pub fn cell_line(cell: &AttackCell) -> String {
        let s = summarise(cell);
        format!(
            "{:>8} {:>10} {:>8}: {}/{} ({:.1} %), first pass {}, MAD {:.2}{}, {:.0} s attacking ({:.2} img/s), {:.0} s recognising",
            s.goal.name(),
            s.attack,
            s.scheme,
            s.successes,
            s.attempted,
            s.success_rate.percent,
            s.first_pass,
            s.mad.mean,
            s.paper_mad
                .map(|p| format!(" (paper {p:.2})"))
                .unwrap_or_default(),
            s.attack_seconds,
            s.images_per_second,
            s.recognition_seconds
        )
    }

    fn cell(&self, goal: Goal, attack: &str, scheme: &str) -> Option<&CellSummary> {
        self.cells
            .iter()
            .find(|c| c.goal == goal && c.attack == attack && c.scheme == scheme)
    }

    fn attacks(&self, goal: Goal) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in self.cells.iter().filter(|c| c.goal == goal) {
            if !out.contains(&c.attack) {
                out.push(c.attack.clone());
            }
        }
        out
    }

    fn schemes(&self) -> Vec<String> {
        self.config.schemes.iter().map(|s| s.to_string()).collect()
    }

    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Reproduction of Wang et al. 2019, Tables 2–5\n\n\
             {} successes wanted per cell, seed {}, {} voting passes, attacker mode {}, \
             backend {}, weights {} (sha256 {}); samples drawn in order from the {} test \
             images the network classifies correctly. advdrop {}, burn {}.\n\n",
            self.config.samples,
            self.config.seed,
            self.config.votes,
            self.config.mode,
            self.run.backend,
            self.run.weights,
            self.run.weights_sha256.as_deref().unwrap_or("unchecked"),
            self.run.test_images_correct,
            self.advdrop_version,
            self.burn_version
        );
        md += "## Cells\n\n| goal | attack | scheme | successes / tried | first pass | MAD (0–255) | paper | L2 | L∞ | queries | attack s | img/s |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n";
        for c in &self.cells {
            md += &format!(
                "| {} | {} | {} | {} / {} ({:.1} % [{:.1}, {:.1}]){} | {} | {:.2} ± {:.2} | {} | {:.2} | {:.3} | {:.0}{} | {:.0} | {:.2} |\n",
                c.goal.name(),
                c.attack,
                c.scheme,
                c.successes,
                c.attempted,
                c.success_rate.percent,
                c.success_rate.low,
                c.success_rate.high,
                if c.finished { "" } else { " unfinished" },
                c.first_pass,
                c.mad.mean,
                c.mad.half_width,
                c.paper_mad.map(|p| format!("{p:.2}")).unwrap_or("–".into()),
                c.mean_l2,
                c.mean_linf,
                c.mean_queries,
                if c.mean_extra > 0.0 {
                    format!(" (+{:.0} extra)", c.mean_extra)
                } else {
                    String::new()
                },
                c.attack_seconds,
                c.images_per_second
            );
        }
        for (goal, table) in [(Goal::Targeted, 2), (Goal::Top3, 4)] {
            md += &self.mad_table(goal, table);
        }
        for (goal, table) in [(Goal::Targeted, 3), (Goal::Top3, 5)] {
            for attack in self.attacks(goal) {
                md += &self.recognition_table(goal, table, &attack, false);
                md += &self.recognition_table(goal, table, &attack, true);
            }
        }
        md += &self.time_table();
        md += "\n## The paper's conclusions\n\n";
        for c in &self.conclusions {
            md += &format!(
                "- **{}** — *{}*. {} Rule: {}\n",
                c.claim,
                c.verdict.words(),
                c.evidence,
                c.rule
            );
        }
        md
    }

    fn mad_table(&self, goal: Goal, number: usize) -> String {
        let schemes = self.schemes();
        let mut md = format!(
            "\n## Table {number} — MAD (0–255), {} adversarials: ours ± 95 % CI (paper; difference)\n\n| attack | {} |\n|---|{}\n",
            goal.name(),
            schemes.join(" | "),
            "---|".repeat(schemes.len())
        );
        for attack in self.attacks(goal) {
            md += &format!("| {attack} |");
            for scheme in &schemes {
                md += &match self.cell(goal, &attack, scheme) {
                    Some(c) => match c.paper_mad {
                        Some(p) => format!(
                            " {:.2} ± {:.2} ({p:.2}; {:+.2}) |",
                            c.mad.mean,
                            c.mad.half_width,
                            c.mad.mean - p
                        ),
                        None => format!(" {:.2} ± {:.2} |", c.mad.mean, c.mad.half_width),
                    },
                    None => " – |".into(),
                };
            }
            md += "\n";
        }
        md
    }

    /// Compute time per goal × attack, summed over its cells. A run resumed across sessions or
    /// split between processes has no single wall time, so the sums are what a rerun costs on
    /// one process of the same machine (less where cells shared the CPU).
    fn time_table(&self) -> String {
        let mut md = String::from(
            "\n## Time — summed over each attack's cells\n\nimg/s counts every image attacked, skipped failures included.\n\n| goal | attack | cells | images attacked | attack s | img/s | recognition s |\n|---|---|---|---|---|---|---|\n",
        );
        for goal in Goal::ALL {
            for attack in self.attacks(goal) {
                let cells: Vec<&CellSummary> = self
                    .cells
                    .iter()
                    .filter(|c| c.goal == goal && c.attack == attack)
                    .collect();
                md += &time_row(goal.name(), &attack, &cells);
            }
        }
        let all: Vec<&CellSummary> = self.cells.iter().collect();
        md += &time_row("all", "", &all);
        let hours: f64 = all
            .iter()
            .map(|c| c.attack_seconds + c.recognition_seconds)
            .sum::<f64>()
            / 3600.0;
        md += &format!("\nTotal: {hours:.1} h of compute.\n");
        md
    }

    fn recognition_table(&self, goal: Goal, number: usize, attack: &str, vote: bool) -> String {
        let schemes = self.schemes();
        let mode = if vote {
            format!("majority of {} passes (no paper figure)", self.config.votes)
        } else {
            "one stochastic pass: ours [95 % CI] (paper)".into()
        };
        let mut md = format!(
            "\n## Table {number} — {attack}, {}: % recognised as the true label, {mode}\nRows: test scheme; columns: generating scheme.\n\n| test \\ generated | {} | row mean |\n|---|{}---|\n",
            goal.name(),
            schemes.join(" | "),
            "---|".repeat(schemes.len())
        );
        let mut column_sums = vec![(0.0, 0usize); schemes.len()];
        for test in &schemes {
            md += &format!("| {test} |");
            let mut row = Vec::new();
            for (g, generating) in schemes.iter().enumerate() {
                let r = self
                    .cell(goal, attack, generating)
                    .and_then(|c| c.recognition.iter().find(|r| &r.test_scheme == test));
                md += &match r {
                    Some(r) => {
                        let p = if vote { r.vote } else { r.single_pass };
                        row.push(p.percent);
                        column_sums[g].0 += p.percent;
                        column_sums[g].1 += 1;
                        match (vote, r.paper) {
                            (false, Some(paper)) => format!(
                                " {:.1} [{:.1}, {:.1}] ({paper:.1}) |",
                                p.percent, p.low, p.high
                            ),
                            _ => format!(" {:.1} [{:.1}, {:.1}] |", p.percent, p.low, p.high),
                        }
                    }
                    None => " – |".into(),
                };
            }
            md += &format!(" {} |\n", mean_text(&row));
        }
        md += "| column mean |";
        for (sum, n) in column_sums {
            md += &if n > 0 {
                format!(" {:.1} |", sum / n as f64)
            } else {
                " – |".into()
            };
        }
        md += " |\n";
        md
    }

    /// One CSV row per (cell, test scheme), quoted where a field needs it (a custom scheme's
    /// name `0,0,0.3` stays one field).
    pub fn csv(&self) -> String {
        let opt = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        let mut rows = vec![
            [
                "goal",
                "attack",
                "generating_scheme",
                "test_scheme",
                "attempted",
                "successes",
                "first_pass",
                "mad",
                "mad_ci",
                "paper_mad",
                "single_pass_pct",
                "single_low",
                "single_high",
                "paper_single_pct",
                "vote_pct",
                "vote_low",
                "vote_high",
                "passes",
                "true_class_pct",
                "attack_seconds",
                "images_per_second",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for c in &self.cells {
            for r in &c.recognition {
                rows.push(vec![
                    c.goal.name().to_string(),
                    c.attack.clone(),
                    c.scheme.clone(),
                    r.test_scheme.clone(),
                    c.attempted.to_string(),
                    c.successes.to_string(),
                    c.first_pass.to_string(),
                    format!("{:.4}", c.mad.mean),
                    format!("{:.4}", c.mad.half_width),
                    opt(c.paper_mad),
                    format!("{:.2}", r.single_pass.percent),
                    format!("{:.2}", r.single_pass.low),
                    format!("{:.2}", r.single_pass.high),
                    opt(r.paper),
                    format!("{:.2}", r.vote.percent),
                    format!("{:.2}", r.vote.low),
                    format!("{:.2}", r.vote.high),
                    r.passes.to_string(),
                    format!("{:.2}", r.true_class_percent),
                    format!("{:.1}", c.attack_seconds),
                    format!("{:.3}", c.images_per_second),
                ]);
            }
        }
        super::csv(&rows)
    }
}

/// One line of the time table: the cells' attack and recognition seconds summed.
fn time_row(goal: &str, attack: &str, cells: &[&CellSummary]) -> String {
    let images: usize = cells.iter().map(|c| c.attempted).sum();
    let attack_s: f64 = cells.iter().map(|c| c.attack_seconds).sum();
    let recognition_s: f64 = cells.iter().map(|c| c.recognition_seconds).sum();
    format!(
        "| {goal} | {attack} | {} | {images} | {attack_s:.0} | {:.2} | {recognition_s:.0} |\n",
        cells.len(),
        images as f64 / attack_s.max(f64::MIN_POSITIVE),
    )
}

fn mean_text(values: &[f64]) -> String {
    if values.is_empty() {
        "–".into()
    } else {
        format!("{:.1}", values.iter().sum::<f64>() / values.len() as f64)
    }
}

fn summarise(cell: &AttackCell) -> CellSummary {
    let n = cell.samples.len();
    let mean = |f: &dyn Fn(&super::protocol::Sample) -> f64| {
        cell.samples.iter().map(f).sum::<f64>() / n.max(1) as f64
    };
    let mads: Vec<f64> = cell
        .samples
        .iter()
        .map(|s| s.distances.mad as f64 * 255.0)
        .collect();
    let recognition = cell
        .recognition
        .iter()
        .map(|(test, r)| RecognitionSummary {
            test_scheme: test.clone(),
            single_pass: Proportion::of(r.single_pass, r.images),
            vote: Proportion::of(r.vote, r.images),
            passes: r.passes,
            true_class_percent: 100.0 * r.true_class_rate,
            paper: paper::cross_recognition(cell.goal.name(), &cell.attack, test, &cell.scheme),
        })
        .collect::<Vec<_>>();
    // Test schemes in the paper's order where they are presets.
    let mut recognition = recognition;
    recognition.sort_by_key(|r| {
        paper::SCHEMES
            .iter()
            .position(|s| *s == r.test_scheme)
            .unwrap_or(99)
    });
    CellSummary {
        goal: cell.goal,
        attack: cell.attack.clone(),
        scheme: cell.scheme.clone(),
        finished: cell.finished,
        attempted: cell.attempted,
        successes: n,
        success_rate: Proportion::of(n, cell.attempted),
        first_pass: cell.samples.iter().filter(|s| s.first_pass).count(),
        mad: mean_ci(&mads),
        paper_mad: paper::mad(cell.goal.name(), &cell.attack, &cell.scheme),
        mean_l2: mean(&|s| s.distances.l2 as f64),
        mean_l0: mean(&|s| s.distances.l0 as f64),
        mean_linf: mean(&|s| s.distances.linf as f64),
        mean_queries: mean(&|s| s.queries as f64),
        mean_extra: mean(&|s| s.extra as f64),
        attack_seconds: cell.attack_seconds,
        images_per_second: cell.attempted as f64 / cell.attack_seconds.max(1e-9),
        recognition_seconds: cell.recognition_seconds,
        recognition,
    }
}

/// A ratio of MADs with the half-width of its 95 % interval (delta method on the two cells'
/// intervals; a mean of ratios adds their variances).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ratio {
    mean: f64,
    half_width: f64,
}

impl Ratio {
    fn low(self) -> f64 {
        self.mean - self.half_width
    }
    fn high(self) -> f64 {
        self.mean + self.half_width
    }
    /// Whether the ratio is above `threshold`: `Some` when its whole interval is on one side,
    /// `None` when the interval straddles it.
    fn above(self, threshold: f64) -> Option<bool> {
        if self.low() > threshold {
            Some(true)
        } else if self.high() <= threshold {
            Some(false)
        } else {
            None
        }
    }
    fn text(self) -> String {
        format!("{:.2}× [{:.2}, {:.2}]", self.mean, self.low(), self.high())
    }
    fn mean_of(ratios: &[Ratio]) -> Option<Ratio> {
        let k = ratios.len() as f64;
        (!ratios.is_empty()).then(|| Ratio {
            mean: ratios.iter().map(|r| r.mean).sum::<f64>() / k,
            half_width: ratios
                .iter()
                .map(|r| r.half_width.powi(2))
                .sum::<f64>()
                .sqrt()
                / k,
        })
    }
}

/// MAD under `scheme` relative to `none`, for one goal and attack. Only finished cells count:
/// a snapshot of a run in progress must not decide a verdict on a cell's first batches.
fn mad_ratio(cells: &[CellSummary], goal: Goal, attack: &str, scheme: &str) -> Option<Ratio> {
    let find = |s: &str| {
        cells.iter().find(|c| {
            c.goal == goal && c.attack == attack && c.scheme == s && c.finished && c.successes > 0
        })
    };
    let (a, b) = (find(scheme)?.mad, find("none")?.mad);
    let mean = a.mean / b.mean;
    let relative = ((a.half_width / a.mean).powi(2) + (b.half_width / b.mean).powi(2)).sqrt();
    Some(Ratio {
        mean,
        half_width: mean * relative,
    })
}

/// Mean of the MAD ratios of `scheme` over every (goal, attack) row that has both cells.
fn mean_mad_ratio(cells: &[CellSummary], scheme: &str) -> Option<Ratio> {
    // Each (goal, attack) once, whatever order the cells come in (IndexedDB returns them by key).
    let mut rows: Vec<(Goal, &str)> = Vec::new();
    for row in cells.iter().map(|c| (c.goal, c.attack.as_str())) {
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    let ratios: Vec<Ratio> = rows
        .into_iter()
        .filter_map(|(g, a)| mad_ratio(cells, g, a, scheme))
        .collect();
    Ratio::mean_of(&ratios)
}

/// The verdict `rule` gives for every way the undecided facts (`None`: their interval straddles
/// the threshold) could fall. One verdict for all of them is the verdict; several mean the run
/// has too few adversarials to judge. `possible` rules out combinations that cannot happen.
fn judge(
    facts: &[Option<bool>],
    possible: impl Fn(&[bool]) -> bool,
    rule: impl Fn(&[bool]) -> Verdict,
) -> Verdict {
    let open: Vec<usize> = (0..facts.len()).filter(|&i| facts[i].is_none()).collect();
    let mut seen: Option<Verdict> = None;
    for bits in 0u32..1 << open.len() {
        let mut case: Vec<bool> = facts.iter().map(|f| f.unwrap_or(false)).collect();
        for (j, &i) in open.iter().enumerate() {
            case[i] = bits >> j & 1 == 1;
        }
        if !possible(&case) {
            continue;
        }
        let verdict = rule(&case);
        match seen {
            None => seen = Some(verdict),
            Some(v) if v != verdict => return Verdict::TooFewToJudge,
            Some(_) => {}
        }
    }
    seen.unwrap_or(Verdict::TooFewToJudge)
}

fn conclusion(claim: &str, rule: &str, verdict: Verdict, evidence: String) -> Conclusion {
    Conclusion {
        claim: claim.into(),
        rule: rule.into(),
        verdict,
        verdict_words: verdict.words().into(),
        evidence,
    }
}

fn conclusions(cells: &[CellSummary], table1: Option<&Table1>) -> Vec<Conclusion> {
    let dropout = ["input", "feature", "fc", "all"];
    let ratios: Vec<(&str, Option<Ratio>)> = dropout
        .iter()
        .map(|s| (*s, mean_mad_ratio(cells, s)))
        .collect();
    let ratio_text = ratios
        .iter()
        .map(|(s, r)| format!("{s} {}", r.map(Ratio::text).unwrap_or("–".into())))
        .collect::<Vec<_>>()
        .join(", ");
    let cost = table1.map(|t| {
        let none = t
            .rows
            .iter()
            .find(|r| r.scheme == "none")
            .map(|r| r.test.mean);
        t.rows
            .iter()
            .filter(|r| r.scheme != "none")
            .filter_map(|r| Some((r.scheme.clone(), none? - r.test.mean)))
            .collect::<Vec<_>>()
    });
    let max_cost = cost
        .as_ref()
        .and_then(|c| c.iter().map(|(_, v)| *v).reduce(f64::max));

    // 1. More robust at a small accuracy cost.
    let known: Vec<Option<bool>> = ratios
        .iter()
        .filter_map(|(_, r)| r.map(|r| r.above(1.0)))
        .collect();
    let cheap = max_cost.is_some_and(|c| c <= 1.0);
    let first = conclusion(
        "Test-time dropout makes the network more robust at a small accuracy cost.",
        "confirmed when every dropout scheme's MAD, averaged over the attack × goal rows relative to `none`, exceeds 1 and no scheme costs more than 1 point of test accuracy (Table 1); refuted when no scheme's exceeds 1; partly otherwise. A ratio counts only when its 95 % interval is clear of 1; when the verdict would change within the intervals, there are too few adversarials to judge.",
        if known.is_empty() {
            Verdict::Undecided
        } else {
            judge(
                &known,
                |_| true,
                |above| {
                    if above.iter().all(|a| *a) && cheap {
                        Verdict::Confirmed
                    } else if above.iter().all(|a| !*a) {
                        Verdict::Refuted
                    } else {
                        Verdict::PartlyConfirmed
                    }
                },
            )
        },
        format!(
            "Mean MAD relative to no dropout, with 95 % intervals: {ratio_text}. Test-accuracy cost (points): {}.",
            cost.map(|c| c
                .iter()
                .map(|(s, v)| format!("{s} {v:.2}"))
                .collect::<Vec<_>>()
                .join(", "))
                .unwrap_or("Table 1 not recorded".into())
        ),
    );

    // 2. FC > feature > input.
    let single: Vec<(&str, Ratio)> = ratios
        .iter()
        .filter(|(s, _)| ["input", "feature", "fc"].contains(s))
        .filter_map(|(s, r)| Some((*s, (*r)?)))
        .collect();
    let mut ranked = single.clone();
    ranked.sort_by(|a, b| b.1.mean.total_cmp(&a.1.mean));
    let second_verdict = if single.len() < 3 {
        Verdict::Undecided
    } else {
        let get = |s: &str| single.iter().find(|(n, _)| *n == s).unwrap().1;
        let (fc, feature, input) = (get("fc"), get("feature"), get("input"));
        // a > b decided when the interval of the difference is clear of 0.
        let greater = |a: Ratio, b: Ratio| {
            Ratio {
                mean: a.mean - b.mean,
                half_width: (a.half_width.powi(2) + b.half_width.powi(2)).sqrt(),
            }
            .above(0.0)
        };
        let facts = [
            greater(fc, feature),
            greater(feature, input),
            greater(fc, input),
        ];
        // Orders are transitive: fc > feature > input forces fc > input, and the reverse
        // order forces fc < input; the two other cases are cycles.
        let transitive = |c: &[bool]| !(c[0] == c[1] && c[2] != c[0]);
        judge(&facts, transitive, |c| {
            if c[0] && c[1] {
                Verdict::Confirmed
            } else if c[0] && c[2] {
                Verdict::PartlyConfirmed
            } else {
                Verdict::Refuted
            }
        })
    };
    let second = conclusion(
        "Fully-connected dropout is the most efficient place, then feature, then input.",
        "the three single-site schemes ranked by mean MAD relative to `none`: confirmed when the order is fc > feature > input, partly when fc comes first, refuted otherwise. Two schemes are ordered only when the 95 % interval of their difference is clear of 0; when the verdict would change within the intervals, there are too few adversarials to judge.",
        second_verdict,
        format!(
            "Order measured: {}.",
            ranked
                .iter()
                .map(|(s, r)| format!("{s} ({})", r.text()))
                .collect::<Vec<_>>()
                .join(" > ")
        ),
    );

    // 3. Per attack.
    let dropout_mean = |goal: Goal, attack: &str| -> Option<Ratio> {
        let r: Vec<Ratio> = dropout
            .iter()
            .filter_map(|s| mad_ratio(cells, goal, attack, s))
            .collect();
        Ratio::mean_of(&r)
    };
    // Within ±20 %: decided when the interval lies inside the band or wholly outside it.
    let within = |r: Ratio| {
        if r.low() >= 0.8 && r.high() <= 1.2 {
            Some(true)
        } else if r.high() < 0.8 || r.low() > 1.2 {
            Some(false)
        } else {
            None
        }
    };
    // Each check: its words, and its ratio with whether the interval decides it.
    type Check<'a> = (&'a str, Option<(Ratio, Option<bool>)>);
    let checks: [Check; 4] = [
        (
            "targeted L-BFGS MAD grows",
            dropout_mean(Goal::Targeted, "lbfgs").map(|r| (r, r.above(1.0))),
        ),
        (
            "targeted FGSM MAD grows",
            dropout_mean(Goal::Targeted, "fgsm").map(|r| (r, r.above(1.0))),
        ),
        (
            "targeted JSMA MAD barely moves (within ±20 %)",
            dropout_mean(Goal::Targeted, "jsma").map(|r| (r, within(r))),
        ),
        (
            "top-3 JSMA MAD shrinks",
            dropout_mean(Goal::Top3, "jsma").map(|r| (r, r.above(1.0).map(|above| !above))),
        ),
    ];
    let facts: Vec<Option<bool>> = checks.iter().filter_map(|(_, c)| c.map(|c| c.1)).collect();
    let third = conclusion(
        "The effect differs per attack: targeted L-BFGS and FGSM get harder (larger MAD), targeted JSMA barely changes, top-3 JSMA gets easier.",
        "four checks on the MAD under dropout relative to `none`, averaged over the four dropout schemes; confirmed when all hold, refuted when none does, partly otherwise. A check counts only when the ratio's 95 % interval decides it; when the verdict would change within the intervals, there are too few adversarials to judge.",
        if facts.len() < checks.len() {
            Verdict::Undecided
        } else {
            judge(
                &facts,
                |_| true,
                |holds| {
                    if holds.iter().all(|b| *b) {
                        Verdict::Confirmed
                    } else if holds.iter().all(|b| !*b) {
                        Verdict::Refuted
                    } else {
                        Verdict::PartlyConfirmed
                    }
                },
            )
        },
        checks
            .iter()
            .map(|(what, c)| match c {
                Some((r, ok)) => format!(
                    "{what}: {} ({})",
                    r.text(),
                    match ok {
                        Some(true) => "holds",
                        Some(false) => "fails",
                        None => "undecided within the interval",
                    }
                ),
                None => format!("{what}: not run or not finished"),
            })
            .collect::<Vec<_>>()
            .join("; ")
            + ".",
    );
    vec![first, second, third]
}
