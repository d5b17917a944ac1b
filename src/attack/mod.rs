//! Adversarial attacks against the CNN with test-time dropout, batched, on any burn device.
//!
//! One [`Attack`] trait, one [`Criterion`], one [`AttackOutcome`] (after Foolbox 3's design):
//! the experiment runner and the UI treat every attack alike, and a new attack is one file.
//! All model access goes through the [`Oracle`], which gives the paper's (Foolbox 0.8's)
//! semantics for free: fresh masks per call, every prediction checked, the best adversarial
//! tracked over all calls, queries counted.

pub mod catalogue;
pub mod criterion;
pub mod deepfool;
pub mod distance;
pub mod fgsm;
pub mod jsma;
pub mod lbfgs;
pub mod lbfgsb;
pub mod mode;
pub mod oracle;
pub mod outputs;
pub mod tracker;

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use criterion::Criterion;
pub use deepfool::DeepFool;
pub use distance::{Distances, Metric, PIXELS};
pub use fgsm::Fgsm;
pub use jsma::{Jsma, JsmaVariant};
pub use lbfgs::Lbfgs;
pub use mode::Mode;
pub use oracle::{Checked, Masks, Oracle};
pub use outputs::Outputs;
pub use tracker::Tracker;

use crate::backend::ReadError;
use crate::model::{CLASSES, Classifier, DropoutScheme};

/// Why an attack could not run.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{attack} cannot pursue a {goal} goal: {why}")]
    UnsupportedGoal {
        attack: &'static str,
        goal: String,
        why: &'static str,
    },
    #[error("the backend returned no input gradient (is the model on an autodiff device?)")]
    NoGradient,
    #[error("batch shapes disagree: {0}")]
    Shape(String),
    #[error("{what} {value} of image {image} is not a class (0–9)")]
    NotAClass {
        what: &'static str,
        value: u8,
        image: usize,
    },
    #[error("pixel {pixel} of image {image} is {value}, outside [0, 1]")]
    PixelOutOfRange {
        image: usize,
        pixel: usize,
        value: f32,
    },
}

/// An attack: given the oracle over a batch and the images still to attack, it drives the
/// oracle until it is done with every one of them. What it returns is whatever the oracle's
/// tracker kept.
// Single-threaded by design (the browser has one thread per worker), so the futures need not
// be `Send`; the lint warning about that is therefore silenced.
#[allow(async_fn_in_trait)]
pub trait Attack {
    /// Short name for reports: `lbfgs`, `fgsm`, `jsma`, `deepfool`.
    fn name(&self) -> &'static str;

    /// Refuses goals the attack cannot pursue, before any model call.
    fn check_goal(&self, _criterion: &Criterion) -> Result<(), AttackError> {
        Ok(())
    }

    /// Attacks images `active` of the oracle's batch (those not already adversarial).
    async fn run(&self, oracle: &mut Oracle<'_>, active: Vec<usize>) -> Result<(), AttackError>;
}

/// The attacked network (the paper's [`Cnn`](crate::model::Cnn)) and the dropout it keeps on.
///
/// The weights come twice: on an autodiff device for gradients, and on the plain device for
/// predictions, because a forward pass through the autodiff wrapper costs several times as
/// much on the CPU even when nothing is tracked.
#[derive(Clone, Copy)]
pub struct Victim<'a> {
    /// On `device` (an autodiff device).
    pub model: &'a dyn Classifier,
    /// The same weights on `device.without_autodiff()` (`Module::valid`).
    pub inference: &'a dyn Classifier,
    pub scheme: DropoutScheme,
    pub device: &'a Device,
    /// How the attacker's calls see the dropout: the paper's fresh masks, frozen masks, or EOT.
    pub mode: Mode,
    /// What the attacks see as logits: the logits, or Foolbox 0.8's Keras probabilities mode.
    pub outputs: Outputs,
}

/// What an attack produced for a batch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackOutcome {
    /// `n × 784` pixels: the best adversarial of each image, or its original where none.
    pub adversarials: Vec<f32>,
    pub success: Vec<bool>,
    /// The first stochastic pass of the original already satisfied the criterion (distance 0;
    /// Foolbox counts it a success). Counted separately in reports.
    pub first_pass: Vec<bool>,
    pub distances: Vec<Distances>,
    /// Forward passes spent per image (a replicated DeepFool call counts each replica).
    pub queries: Vec<u32>,
    /// Forward passes per image beyond the point where Foolbox would have stopped, spent only
    /// to keep a model call wide (FGSM's ε chunks); not queries, and they change nothing else.
    #[serde(default)]
    pub extra: Vec<u32>,
}

impl AttackOutcome {
    pub fn len(&self) -> usize {
        self.success.len()
    }

    pub fn is_empty(&self) -> bool {
        self.success.is_empty()
    }

    pub fn adversarial(&self, i: usize) -> &[f32] {
        &self.adversarials[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The outcomes of consecutive parts of a batch, as the outcome of the whole.
    pub fn concat(parts: Vec<AttackOutcome>) -> AttackOutcome {
        let mut whole = AttackOutcome::default();
        for part in parts {
            whole.adversarials.extend(part.adversarials);
            whole.success.extend(part.success);
            whole.first_pass.extend(part.first_pass);
            whole.distances.extend(part.distances);
            whole.queries.extend(part.queries);
            whole.extra.extend(part.extra);
        }
        whole
    }
}

/// Runs `attack` on a batch: `images` are `labels.len() × 784` pixels in [0, 1]; masks come
/// from `masks` (a shared [`crate::model::MaskRng`], or per-image [`crate::model::ImageStreams`]); `metric`
/// decides which adversarial is best.
pub async fn run_attack(
    attack: &impl Attack,
    victim: Victim<'_>,
    images: &[f32],
    labels: &[u8],
    criterion: Criterion,
    metric: Metric,
    masks: impl Into<Masks<'_>>,
) -> Result<AttackOutcome, AttackError> {
    let masks = masks.into();
    if let Masks::PerImage(streams) = &masks
        && streams.len() != labels.len()
    {
        return Err(AttackError::Shape(format!(
            "{} mask streams for {} images",
            streams.len(),
            labels.len()
        )));
    }
    if images.len() != labels.len() * PIXELS {
        return Err(AttackError::Shape(format!(
            "{} pixels for {} labels (expected {} per image)",
            images.len(),
            labels.len(),
            PIXELS
        )));
    }
    if let Criterion::TargetClass(targets) = &criterion
        && targets.len() != labels.len()
    {
        return Err(AttackError::Shape(format!(
            "{} targets for {} images",
            targets.len(),
            labels.len()
        )));
    }
    let not_a_class = |what, values: &[u8]| {
        values
            .iter()
            .position(|&c| usize::from(c) >= crate::model::CLASSES)
            .map(|image| AttackError::NotAClass {
                what,
                value: values[image],
                image,
            })
    };
    if let Some(e) = not_a_class("label", labels) {
        return Err(e);
    }
    if let Criterion::TargetClass(targets) = &criterion
        && let Some(e) = not_a_class("target", targets)
    {
        return Err(e);
    }
    if let Some(at) = images.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(AttackError::PixelOutOfRange {
            image: at / PIXELS,
            pixel: at % PIXELS,
            value: images[at],
        });
    }
    attack.check_goal(&criterion)?;
    let tracker = Tracker::new(images.to_vec(), metric);
    let mut oracle = Oracle::new(victim, masks, criterion, labels.to_vec(), tracker);
    let active = oracle.check_originals().await?;
    attack.run(&mut oracle, active).await?;
    let (tracker, queries, extra) = oracle.into_parts();
    let n = tracker.len();
    let mut outcome = AttackOutcome {
        queries,
        extra,
        ..Default::default()
    };
    for i in 0..n {
        let adversarial = tracker.best_or_original(i);
        outcome.adversarials.extend_from_slice(adversarial);
        outcome.success.push(tracker.found(i));
        outcome.first_pass.push(tracker.first_pass(i));
        outcome
            .distances
            .push(Distances::between(adversarial, tracker.original(i)));
    }
    Ok(outcome)
}

/// The four attacks of the paper, for dispatch by name (CLI, experiment, web).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AttackKind {
    Lbfgs(Lbfgs),
    Fgsm(Fgsm),
    Jsma(Jsma),
    DeepFool(DeepFool),
}

impl AttackKind {
    /// The paper's order: L-BFGS, FGSM, JSMA, DeepFool — with paper-mode defaults.
    pub fn paper() -> [AttackKind; 4] {
        [
            Self::Lbfgs(Lbfgs::default()),
            Self::Fgsm(Fgsm::default()),
            Self::Jsma(Jsma::default()),
            Self::DeepFool(DeepFool::default()),
        ]
    }

    /// Whether the attack can pursue a random target (DeepFool cannot).
    pub fn supports_targeted(&self) -> bool {
        !matches!(self, Self::DeepFool(_))
    }

    /// The attack's catalogue entry.
    pub fn entry(&self) -> &'static catalogue::AttackEntry {
        catalogue::attack(self.name()).expect("every attack has a catalogue entry")
    }
}

impl Attack for AttackKind {
    fn name(&self) -> &'static str {
        match self {
            Self::Lbfgs(a) => a.name(),
            Self::Fgsm(a) => a.name(),
            Self::Jsma(a) => a.name(),
            Self::DeepFool(a) => a.name(),
        }
    }

    fn check_goal(&self, criterion: &Criterion) -> Result<(), AttackError> {
        match self {
            Self::Lbfgs(a) => a.check_goal(criterion),
            Self::Fgsm(a) => a.check_goal(criterion),
            Self::Jsma(a) => a.check_goal(criterion),
            Self::DeepFool(a) => a.check_goal(criterion),
        }
    }

    async fn run(&self, oracle: &mut Oracle<'_>, active: Vec<usize>) -> Result<(), AttackError> {
        match self {
            Self::Lbfgs(a) => a.run(oracle, active).await,
            Self::Fgsm(a) => a.run(oracle, active).await,
            Self::Jsma(a) => a.run(oracle, active).await,
            Self::DeepFool(a) => a.run(oracle, active).await,
        }
    }
}

impl fmt::Display for AttackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown attack name.
#[derive(Debug, thiserror::Error)]
#[error("unknown attack '{0}': use {names}", names = catalogue::ATTACKS.map(|a| a.name).join(", "))]
pub struct UnknownAttack(String);

impl FromStr for AttackKind {
    type Err = UnknownAttack;

    /// A name of the [`catalogue`], with the attack's defaults.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        catalogue::attack(s)
            .map(|entry| (entry.make)())
            .ok_or_else(|| UnknownAttack(s.to_owned()))
    }
}

/// The class each of `active` is pushed towards. Targeted goals give it; for untargeted goals
/// (top-k), attacks that need a target (L-BFGS, JSMA) do what Foolbox 0.8 did: run its
/// `GradientAttack` first (its adversarials count like any other) and aim at the class the
/// network gives the result on a fresh checked pass — the label itself when that pass says so,
/// as Foolbox kept it; where that attack failed, a (pseudo-)random class other than the label
/// (Foolbox drew one with Python's `random`).
pub(crate) async fn targets(
    oracle: &mut Oracle<'_>,
    active: &[usize],
) -> Result<Vec<u8>, AttackError> {
    if let Some(targets) = active
        .iter()
        .map(|&i| oracle.criterion().target(i))
        .collect::<Option<Vec<u8>>>()
    {
        return Ok(targets);
    }
    fgsm::gradient_attack(oracle, active).await?;
    let found: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&i| oracle.found(i))
        .collect();
    let points: Vec<f32> = found
        .iter()
        .flat_map(|&i| oracle.best(i).to_vec())
        .collect();
    let checked = oracle.predict(&found, &points).await?;
    let mut aimed = std::collections::HashMap::new();
    for (&i, c) in found.iter().zip(&checked) {
        aimed.insert(i, criterion::ranked(&c.logits)[0]);
    }
    Ok(active
        .iter()
        .map(|&i| match aimed.get(&i) {
            // Foolbox keeps the class even when this fresh (stochastic) pass names the label.
            Some(&t) => t,
            None => pseudo_random_class(oracle, i),
        })
        .collect())
}

/// A class other than the label, drawn uniformly by hashing the image's pixels (FNV-1a, then
/// SplitMix64's finaliser): random like Foolbox's fallback, yet the same whether the image is
/// attacked alone or in a batch, and under any seed.
fn pseudo_random_class(oracle: &Oracle<'_>, i: usize) -> u8 {
    let hash = oracle
        .original(i)
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, p| {
            (h ^ p.to_bits() as u64).wrapping_mul(0x0100_0000_01b3)
        });
    let mut z = hash;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let label = oracle.label(i) as u64;
    ((label + 1 + z % (CLASSES as u64 - 1)) % CLASSES as u64) as u8
}
