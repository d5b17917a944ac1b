//! Table 1: accuracy of the trained network under each dropout scheme, on the paper's 50,000
//! training images and the 10,000 test images. A stochastic scheme is evaluated in R passes,
//! each with fresh masks, and reported as mean ± 95 % CI over the passes.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::paper;
use crate::data::Split;
use crate::eval::{self, MeanCi, ReadError};
use crate::model::{Cnn, DropoutScheme, MaskRng};

/// R of the issue: passes per stochastic scheme unless the user asks otherwise.
pub const DEFAULT_REPEATS: usize = 5;

/// One scheme's row. Accuracies are percentages (0–100), as in the paper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table1Row {
    pub scheme: String,
    pub rates: DropoutScheme,
    pub train: MeanCi,
    pub test: MeanCi,
    /// The paper's figures for this scheme, when it is one of the five presets.
    pub paper_train: Option<f64>,
    pub paper_test: Option<f64>,
}

/// The whole table and what produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table1 {
    pub repeats: usize,
    pub seed: u64,
    pub train_images: usize,
    pub test_images: usize,
    pub rows: Vec<Table1Row>,
    /// The sha256 of the weight file measured, so a report never pairs a run with the Table 1
    /// of other weights. Absent in tables written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
}

/// What to evaluate: which schemes, how many passes each, and the seed of the masks.
#[derive(Clone, Debug, PartialEq)]
pub struct Table1Config {
    pub schemes: Vec<DropoutScheme>,
    pub repeats: usize,
    pub seed: u64,
}

/// Where a Table 1 run is, for progress bars.
#[derive(Clone, Debug)]
pub struct Table1Progress<'a> {
    pub scheme: &'a str,
    pub split: &'static str,
    pub pass: usize,
    pub passes: usize,
    pub images_done: usize,
    pub images: usize,
}

/// The two splits of Table 1, by the bit their streams carry.
pub const TRAIN: &str = "train";
pub const TEST: &str = "test";

/// Which entry of Table 1 a [`scheme_accuracy`] call computes; it fixes the random streams.
#[derive(Clone, Copy, Debug)]
pub struct Table1Cell {
    /// Position of the scheme in the run's scheme list.
    pub scheme_index: usize,
    /// [`TRAIN`] or [`TEST`].
    pub split: &'static str,
    pub seed: u64,
    pub repeats: usize,
}

/// One entry of Table 1: accuracy (%) of `scheme` on `split` over `repeats` stochastic passes
/// (one for a deterministic scheme), mean ± 95 % CI. The page calls it for the test split
/// alone; [`table1`] for both.
pub async fn scheme_accuracy(
    model: &Cnn,
    split: &Split,
    scheme: &DropoutScheme,
    at: Table1Cell,
    device: &Device,
    on_progress: &mut impl FnMut(Table1Progress<'_>),
) -> Result<MeanCi, ReadError> {
    let name = scheme.to_string();
    let passes = if scheme.is_deterministic() {
        1
    } else {
        at.repeats.max(1)
    };
    let s = u64::from(at.split == TEST);
    let mut accuracies = Vec::new();
    for pass in 0..passes {
        let stream = ((at.scheme_index as u64) << 32) | (s << 31) | pass as u64;
        let mut rng = MaskRng::stream(at.seed, stream);
        let acc = eval::accuracy(model, split, scheme, &mut rng, device, |done, total| {
            on_progress(Table1Progress {
                scheme: &name,
                split: at.split,
                pass,
                passes,
                images_done: done,
                images: total,
            })
        })
        .await?;
        accuracies.push(acc * 100.0);
    }
    Ok(eval::mean_ci(&accuracies))
}

/// Evaluates every scheme of `config` on `train` and `test`. Pass `r` of the `k`-th scheme on
/// split `s` (0 train, 1 test) draws its masks from stream `k·2³² + s·2³¹ + r` of the seed,
/// so any row can be recomputed alone with the same numbers.
pub async fn table1(
    model: &Cnn,
    train: &Split,
    test: &Split,
    config: &Table1Config,
    device: &Device,
    mut on_progress: impl FnMut(Table1Progress<'_>),
) -> Result<Table1, ReadError> {
    let Table1Config {
        schemes,
        repeats,
        seed,
    } = config;
    let (repeats, seed) = (*repeats, *seed);
    let mut rows = Vec::new();
    for (k, scheme) in schemes.iter().enumerate() {
        let name = scheme.to_string();
        let mut measured = Vec::new();
        for (s, split) in [TRAIN, TEST].into_iter().zip([train, test]) {
            let at = Table1Cell {
                scheme_index: k,
                split: s,
                seed,
                repeats,
            };
            measured
                .push(scheme_accuracy(model, split, scheme, at, device, &mut on_progress).await?);
        }
        let paper = scheme.preset_name().and_then(paper::table1);
        rows.push(Table1Row {
            scheme: name,
            rates: *scheme,
            train: measured[0],
            test: measured[1],
            paper_train: paper.map(|p| p.0),
            paper_test: paper.map(|p| p.1),
        });
    }
    Ok(Table1 {
        repeats,
        seed,
        train_images: train.len(),
        test_images: test.len(),
        rows,
        weights_sha256: None,
    })
}

fn cell(m: &MeanCi) -> String {
    if m.n > 1 {
        format!("{:.2} ± {:.2}", m.mean, m.half_width)
    } else {
        format!("{:.2}", m.mean)
    }
}

fn paper_cell(p: Option<f64>, measured: &MeanCi) -> (String, String) {
    match p {
        Some(p) => (format!("{p:.2}"), format!("{:+.2}", measured.mean - p)),
        None => ("–".into(), "–".into()),
    }
}

impl Table1 {
    /// The same table, marked as measured on the weights with this sha256.
    pub fn of_weights(mut self, sha256: &str) -> Self {
        self.weights_sha256 = Some(sha256.to_string());
        self
    }

    /// Whether this table was measured on the weights with this sha256 (a table that does not
    /// say is not taken for any weights).
    pub fn is_of(&self, sha256: &str) -> bool {
        self.weights_sha256.as_deref() == Some(sha256)
    }

    /// The table in markdown, the paper's figures beside each measured one.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Table 1 — accuracy % ({} training / {} test images; stochastic schemes: mean ± 95 % CI over {} passes)\n\n",
            self.train_images, self.test_images, self.repeats
        );
        out.push_str(
            "| scheme | rates (in, feat, fc) | train | paper train | Δ | test | paper test | Δ |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let (ptr, dtr) = paper_cell(r.paper_train, &r.train);
            let (pte, dte) = paper_cell(r.paper_test, &r.test);
            out.push_str(&format!(
                "| {} | {}, {}, {} | {} | {} | {} | {} | {} | {} |\n",
                r.scheme,
                r.rates.input,
                r.rates.feature,
                r.rates.fc,
                cell(&r.train),
                ptr,
                dtr,
                cell(&r.test),
                pte,
                dte
            ));
        }
        out
    }

    /// The table as CSV, one row per scheme, quoted where a field needs it.
    pub fn csv(&self) -> String {
        let opt = |p: Option<f64>| p.map(|v| v.to_string()).unwrap_or_default();
        let mut rows = vec![
            [
                "scheme",
                "input",
                "feature",
                "fc",
                "passes",
                "train_mean",
                "train_ci95",
                "paper_train",
                "test_mean",
                "test_ci95",
                "paper_test",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for r in &self.rows {
            rows.push(vec![
                r.scheme.clone(),
                r.rates.input.to_string(),
                r.rates.feature.to_string(),
                r.rates.fc.to_string(),
                r.train.n.to_string(),
                format!("{:.4}", r.train.mean),
                format!("{:.4}", r.train.half_width),
                opt(r.paper_train),
                format!("{:.4}", r.test.mean),
                format!("{:.4}", r.test.half_width),
                opt(r.paper_test),
            ]);
        }
        super::csv(&rows)
    }
}
