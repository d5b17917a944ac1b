//! The paper's protocol (§4): for every dropout scheme, adversarials with every attack for two
//! goals — a random target ≠ label, and top-3 misclassification — on consecutive correctly
//! classified test images, skipping failures until N successes; then every set of
//! adversarials is classified under every scheme (cross recognition).
//!
//! The work is cut into *cells* (goal × attack × generating scheme) and each cell into
//! batches. A cell's state is plain data ([`AttackCell`]): the caller stores it after every
//! batch (files natively, IndexedDB in the page), and hands it back to continue. Every batch
//! and every recognition pass draws its masks from its own stream of the seed, so a resumed
//! run gives exactly the numbers an uninterrupted one would have.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;
use std::time::Duration;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::attack::{
    Attack, AttackError, AttackKind, AttackOutcome, Criterion, Distances, Masks, Metric, Mode,
    Outputs, PIXELS, Victim, run_attack,
};
use crate::data::Split;
use crate::eval::{self, ReadError, Recognition};
use crate::model::{CLASSES, Cnn, DropoutScheme, ImageStreams, MaskRng};

/// The paper's two goals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Goal {
    /// A random target class ≠ the true label (Tables 2, 3).
    Targeted,
    /// The true label leaves the 3 largest logits (Tables 4, 5).
    Top3,
}

impl Goal {
    pub const ALL: [Goal; 2] = [Goal::Targeted, Goal::Top3];

    pub fn name(self) -> &'static str {
        match self {
            Goal::Targeted => "targeted",
            Goal::Top3 => "top3",
        }
    }

    /// What a menu says.
    pub fn title(self) -> &'static str {
        match self {
            Goal::Targeted => "targeted",
            Goal::Top3 => "top-3 misclassification",
        }
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Goal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "targeted" => Ok(Goal::Targeted),
            "top3" | "top-3" => Ok(Goal::Top3),
            other => Err(format!("unknown goal '{other}': use targeted or top3")),
        }
    }
}

/// Where a cell's dropout masks come from while it is attacked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Streams {
    /// One stream per batch, drawn call after call: an image's masks depend on the batch it
    /// was attacked in. Runs made before per-image streams (`results/paper`) used these; a
    /// configuration without the field reads as this, so they resume and reproduce.
    #[default]
    Batch,
    /// One stream per image and evaluation ([`ImageStreams`]): numbers do not depend on the
    /// batch, so a batch can be split across threads (`--jobs`). What new runs use.
    Image,
}

impl Streams {
    pub fn is_batch(&self) -> bool {
        *self == Streams::Batch
    }

    /// The part size a configuration of these streams records for `wanted`: batch streams
    /// attack batches whole, so they record none (as their configurations always did).
    pub fn part(self, wanted: usize) -> usize {
        match self {
            Streams::Image => wanted,
            Streams::Batch => 0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Streams::Batch => "batch",
            Streams::Image => "image",
        }
    }
}

impl FromStr for Streams {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "batch" => Ok(Streams::Batch),
            "image" => Ok(Streams::Image),
            other => Err(format!("unknown streams '{other}': use image or batch")),
        }
    }
}

/// What to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtocolConfig {
    /// Successful adversarials wanted per cell (the paper's 1,000).
    pub samples: usize,
    pub seed: u64,
    pub attacks: Vec<AttackKind>,
    pub schemes: Vec<DropoutScheme>,
    pub goals: Vec<Goal>,
    /// Passes per image for the majority-vote recognition (ATTACKS.md asks R ≥ 100).
    pub votes: usize,
    /// Images attacked together.
    pub batch: usize,
    /// How the attacker queries the network (the paper's mode is left out of the JSON, so a
    /// paper run's configuration reads as it always did).
    #[serde(default, skip_serializing_if = "Mode::is_paper")]
    pub mode: Mode,
    /// What the attacks see as logits (left out of the JSON when they are the logits).
    #[serde(default, skip_serializing_if = "Outputs::is_logits")]
    pub outputs: Outputs,
    /// Where masks come from while attacking (left out of the JSON for the batch streams, so
    /// a configuration written before the field reads as it always did).
    #[serde(default, skip_serializing_if = "Streams::is_batch")]
    pub streams: Streams,
    /// Under per-image streams, a batch is attacked in parts of at most this many images, each
    /// its own series of model calls, one after another or on several threads at once (`0`:
    /// the whole batch at once, as under batch streams). burn's kernels round differently at
    /// other widths, so this is part of a run's identity; the threads are not.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub part: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

/// Defaults of `advdrop reproduce`.
pub const DEFAULT_VOTES: usize = 100;
pub const DEFAULT_BATCH: usize = 100;
/// Images per part of a batch under per-image streams: two parts of a full batch, so two cores
/// share one cell; natively, on one core, calls of 50 images run about as fast per image as
/// calls of 100 (narrower ones fall behind).
pub const DEFAULT_PART: usize = 50;

impl ProtocolConfig {
    /// The paper's protocol with `samples` per cell.
    pub fn paper(samples: usize, seed: u64) -> Self {
        Self {
            samples,
            seed,
            attacks: AttackKind::paper().to_vec(),
            schemes: DropoutScheme::PRESETS.iter().map(|(_, s)| *s).collect(),
            goals: Goal::ALL.to_vec(),
            votes: DEFAULT_VOTES,
            batch: DEFAULT_BATCH,
            mode: Mode::Paper,
            outputs: Outputs::Logits,
            streams: Streams::Image,
            part: DEFAULT_PART,
        }
    }

    /// The cells of this configuration, in run order: goal, then attack, then scheme
    /// (DeepFool has no targeted cells).
    pub fn cells(&self) -> Vec<CellId> {
        let mut cells = Vec::new();
        for &goal in &self.goals {
            for attack in &self.attacks {
                if goal == Goal::Targeted && !attack.supports_targeted() {
                    continue;
                }
                for scheme in &self.schemes {
                    cells.push(CellId {
                        goal,
                        attack: attack.clone(),
                        scheme: *scheme,
                    });
                }
            }
        }
        cells
    }

    /// Images per part of a batch ([`Self::part`]); `None` when batches are attacked whole: under
    /// batch streams (an image's masks depend on its batch) or with `part` 0.
    pub fn part_size(&self) -> Option<usize> {
        (self.streams == Streams::Image && self.part > 0).then_some(self.part)
    }

    /// Whether the cells of `other` are cells of this run, for runs that split the goals or
    /// attacks between processes or machines. A cell's numbers depend on its own goal,
    /// attack and scheme, and on the seed, sample count, batch size, mode, votes and the list
    /// of schemes (its recognition streams are numbered by scheme position), never on which
    /// other goals or attacks a run has; so those must agree, and these may differ.
    pub fn shares_cells_with(&self, other: &ProtocolConfig) -> Result<(), String> {
        let same = |what: &str, equal: bool| {
            if equal {
                Ok(())
            } else {
                Err(format!("the runs differ in {what}"))
            }
        };
        same("samples", self.samples == other.samples)?;
        same("seed", self.seed == other.seed)?;
        same("schemes", self.schemes == other.schemes)?;
        same("votes", self.votes == other.votes)?;
        same("batch", self.batch == other.batch)?;
        same("mode", self.mode == other.mode)?;
        same("outputs", self.outputs == other.outputs)?;
        same("mask streams", self.streams == other.streams)?;
        same("part", self.part_size() == other.part_size())
    }
}

/// One cell of the protocol.
#[derive(Clone, Debug, PartialEq)]
pub struct CellId {
    pub goal: Goal,
    pub attack: AttackKind,
    pub scheme: DropoutScheme,
}

impl CellId {
    /// File-name-safe key: `targeted-lbfgs-none`.
    pub fn key(&self) -> String {
        format!("{}-{}-{}", self.goal, self.attack, self.scheme).replace(',', "_")
    }

    /// A number that names the cell's random streams, independent of which other cells the
    /// run has, so `--attacks fgsm` alone reproduces the FGSM cells of a full run.
    fn stream_base(&self) -> u64 {
        let goal = Goal::ALL.iter().position(|g| *g == self.goal).unwrap_or(0) as u64;
        // The catalogue's fixed id: every attack has its own (no silent fallback).
        let attack = self.attack.entry().stream_id;
        let scheme = self
            .scheme
            .to_string()
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
            & 0xffff;
        (goal << 36) | (attack << 32) | (scheme << 16)
    }
}

/// One successful adversarial's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Index in the MNIST test set.
    pub index: usize,
    pub label: u8,
    pub target: Option<u8>,
    /// The first stochastic pass of the original already met the goal (distance 0).
    pub first_pass: bool,
    pub distances: Distances,
    pub queries: u32,
    /// Forward passes past Foolbox's stopping point, spent to keep calls wide (not queries).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extra: u32,
}

/// An attempted image the attack did not turn adversarial: kept so that a run can be checked
/// image by image against another tool (the fidelity harness) on exactly what it attacked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Index in the MNIST test set.
    pub index: usize,
    pub label: u8,
    pub target: Option<u8>,
    pub queries: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extra: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A cell's state: its adversarials so far, where it stands, and (once recognised) how every
/// scheme recognises them. Also its checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackCell {
    pub goal: Goal,
    pub attack: String,
    pub scheme: String,
    /// Candidates attacked so far (successes + skipped failures).
    pub attempted: usize,
    pub batches: u64,
    pub finished: bool,
    /// Time spent attacking, summed over sessions.
    pub attack_seconds: f64,
    pub samples: Vec<Sample>,
    /// The attempted images that failed, in order (absent from checkpoints written before it
    /// was recorded).
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// `samples.len() × 784` pixels; stored beside the JSON, not in it.
    #[serde(skip)]
    pub adversarials: Vec<f32>,
    /// Test scheme → recognition of this cell's adversarials.
    pub recognition: BTreeMap<String, Recognition>,
    pub recognition_seconds: f64,
}

impl AttackCell {
    /// Whether attacking is over: N adversarials found, or the pool of `pool` images used up.
    /// The one place that says so (attacking and the run's steps both ask here).
    pub fn attacked_enough(&self, config: &ProtocolConfig, pool: usize) -> bool {
        self.finished || self.samples.len() >= config.samples || self.attempted >= pool
    }

    pub fn new(id: &CellId) -> Self {
        Self {
            goal: id.goal,
            attack: id.attack.name().into(),
            scheme: id.scheme.to_string(),
            attempted: 0,
            batches: 0,
            finished: false,
            attack_seconds: 0.0,
            samples: Vec::new(),
            failures: Vec::new(),
            adversarials: Vec::new(),
            recognition: BTreeMap::new(),
            recognition_seconds: 0.0,
        }
    }
}

/// The test images the deterministic network classifies correctly, in order: the pool every
/// cell draws its consecutive samples from (the same for every scheme, so cells compare).
pub async fn candidates(
    model: &Cnn,
    test: &Split,
    device: &Device,
) -> Result<Vec<usize>, ReadError> {
    let mut correct = Vec::new();
    let all: Vec<usize> = (0..test.len()).collect();
    let mut rng = MaskRng::seed(0);
    for chunk in all.chunks(eval::EVAL_BATCH) {
        let predicted = eval::predict(
            model,
            test.images_tensor(chunk, device),
            &DropoutScheme::NONE,
            &mut rng,
        )
        .await?;
        for (&i, p) in chunk.iter().zip(predicted) {
            if p == test.labels()[i] {
                correct.push(i);
            }
        }
    }
    Ok(correct)
}

/// The random target of test image `index`: uniform over the nine other classes, fixed by the
/// seed so every attack and scheme aims the same image at the same class.
pub fn target_for(seed: u64, index: usize, label: u8) -> u8 {
    let draw = MaskRng::stream(seed, (3 << 40) | index as u64).next_u64();
    ((label as u64 + 1 + draw % (CLASSES as u64 - 1)) % CLASSES as u64) as u8
}

/// One batch of a cell, planned: the images it attacks (consecutive in the pool), their labels
/// and targets, and where their masks come from. Attacking it is all that is left.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Indices in the MNIST test set.
    pub indices: Vec<usize>,
    pub labels: Vec<u8>,
    /// The random target of each image (used by targeted cells).
    pub targets: Vec<u8>,
    images: Vec<f32>,
    goal: Goal,
    attack: AttackKind,
    scheme: DropoutScheme,
    mode: Mode,
    outputs: Outputs,
    masks: BatchMasks,
    /// Images per part (`None`: attacked whole).
    part: Option<usize>,
}

#[derive(Clone, Debug)]
enum BatchMasks {
    /// Stream `stream` of `seed`, shared by the batch ([`Streams::Batch`]).
    Shared {
        seed: u64,
        stream: u64,
    },
    PerImage(ImageStreams),
}

impl Batch {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The parts the batch is attacked in: consecutive runs of at most the configuration's
    /// [`part`](ProtocolConfig::part) images, each a batch of its own with its images' own
    /// streams, or the whole batch under batch streams. They may be attacked in any order or at
    /// once; joined in order ([`AttackOutcome::concat`]), their outcomes are the batch's.
    pub fn parts(&self) -> Vec<Batch> {
        let (Some(size), BatchMasks::PerImage(streams)) = (self.part, &self.masks) else {
            return vec![self.clone()];
        };
        (0..self.len())
            .step_by(size.max(1))
            .map(|start| {
                let range = start..(start + size.max(1)).min(self.len());
                Batch {
                    indices: self.indices[range.clone()].to_vec(),
                    labels: self.labels[range.clone()].to_vec(),
                    targets: self.targets[range.clone()].to_vec(),
                    images: self.images[range.start * PIXELS..range.end * PIXELS].to_vec(),
                    attack: self.attack.clone(),
                    masks: BatchMasks::PerImage(streams.split(range)),
                    part: None,
                    ..*self
                }
            })
            .collect()
    }

    /// Attacks the batch through `victim` (its scheme, mode and outputs are the batch's).
    pub async fn attack(&self, victim: Victim<'_>) -> Result<AttackOutcome, AttackError> {
        let criterion = match self.goal {
            Goal::Targeted => Criterion::TargetClass(self.targets.clone()),
            Goal::Top3 => Criterion::TopKMisclassification(3),
        };
        let victim = Victim {
            scheme: self.scheme,
            mode: self.mode,
            outputs: self.outputs,
            ..victim
        };
        let (images, labels) = (&self.images, &self.labels);
        match &self.masks {
            BatchMasks::Shared { seed, stream } => {
                let mut rng = MaskRng::stream(*seed, *stream);
                let (attack, metric) = (&self.attack, Metric::Mse);
                run_attack(attack, victim, images, labels, criterion, metric, &mut rng).await
            }
            BatchMasks::PerImage(streams) => {
                let masks = Masks::PerImage(streams.clone());
                let (attack, metric) = (&self.attack, Metric::Mse);
                run_attack(attack, victim, images, labels, criterion, metric, masks).await
            }
        }
    }
}

/// Threads that attack the parts of a batch at once, each on its own copy of the network (the
/// CLI's `--jobs`; the page has no threads and passes none). Which thread takes which part
/// changes nothing: every part is a batch of its own.
pub trait Crew: Sync {
    /// The outcome of every part, in order.
    fn attack(&self, parts: &[Batch]) -> Result<Vec<AttackOutcome>, AttackError>;
}

/// A [`Crew`] of threads, one per copy of the network, each taking the next part of a batch and
/// running burn's kernels on its own single-threaded pool (one core each): the CLI's `--jobs`.
#[cfg(not(target_family = "wasm"))]
pub struct ThreadCrew {
    models: Vec<Cnn>,
    device: Device,
    pools: Vec<rayon::ThreadPool>,
}

#[cfg(not(target_family = "wasm"))]
impl ThreadCrew {
    /// One thread per model (each model on `device`, an autodiff device).
    pub fn new(models: Vec<Cnn>, device: &Device) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pools = (0..models.len())
            .map(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .collect::<Result<_, _>>()?;
        Ok(Self {
            models,
            device: device.clone(),
            pools,
        })
    }
}

#[cfg(not(target_family = "wasm"))]
impl Crew for ThreadCrew {
    fn attack(&self, parts: &[Batch]) -> Result<Vec<AttackOutcome>, AttackError> {
        use burn::module::Module;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = std::sync::Mutex::new((0..parts.len()).map(|_| None).collect::<Vec<_>>());
        std::thread::scope(|scope| {
            for (model, pool) in self.models.iter().zip(&self.pools) {
                let (next, done) = (&next, &done);
                scope.spawn(move || {
                    pool.install(|| {
                        let plain = model.valid();
                        let victim = Victim {
                            model,
                            inference: &plain,
                            scheme: DropoutScheme::NONE,
                            device: &self.device,
                            mode: Mode::Paper,
                            outputs: Outputs::Logits,
                        };
                        loop {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(part) = parts.get(k) else { break };
                            let outcome = pollster::block_on(part.attack(victim));
                            done.lock().expect("outcomes")[k] = Some(outcome);
                        }
                    })
                });
            }
        });
        done.into_inner()
            .expect("outcomes")
            .into_iter()
            .map(|o| o.expect("every part taken"))
            .collect()
    }
}

/// The next batch of a cell that still needs attacking: sized to what is still needed at the
/// success rate seen so far, at most `config.batch` images, from where the cell stands in the
/// pool.
pub fn next_batch(
    test: &Split,
    candidates: &[usize],
    config: &ProtocolConfig,
    id: &CellId,
    cell: &AttackCell,
) -> Batch {
    let needed = config.samples.saturating_sub(cell.samples.len());
    let rate = if cell.attempted == 0 {
        1.0
    } else {
        (cell.samples.len() as f64 / cell.attempted as f64).max(0.05)
    };
    let left = candidates.len().saturating_sub(cell.attempted);
    let size = ((needed as f64 / rate).ceil() as usize)
        .clamp(1, config.batch.max(1))
        .min(left);
    let indices = candidates[cell.attempted..cell.attempted + size].to_vec();
    let labels = test.labels_at(&indices);
    let images: Vec<f32> = indices
        .iter()
        .flat_map(|&i| test.image(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    let targets: Vec<u8> = indices
        .iter()
        .zip(&labels)
        .map(|(&i, &l)| target_for(config.seed, i, l))
        .collect();
    let masks = match config.streams {
        Streams::Batch => BatchMasks::Shared {
            seed: config.seed,
            stream: (1 << 48) | id.stream_base() | cell.batches,
        },
        Streams::Image => BatchMasks::PerImage(ImageStreams::new(
            indices
                .iter()
                .map(|&i| {
                    MaskRng::stream(config.seed, (4 << 48) | id.stream_base() | i as u64).next_u64()
                })
                .collect(),
        )),
    };
    Batch {
        indices,
        labels,
        targets,
        images,
        goal: id.goal,
        attack: id.attack.clone(),
        scheme: id.scheme,
        mode: config.mode,
        outputs: config.outputs,
        masks,
        part: config.part_size(),
    }
}

/// Adds what attacking `batch` gave to `cell`: successes as samples, failures as failures, in
/// pool order, stopping at `config.samples` (later images of the batch do not count as
/// attempted).
fn record_batch(
    config: &ProtocolConfig,
    cell: &mut AttackCell,
    batch: &Batch,
    outcome: &AttackOutcome,
    pool: usize,
) {
    let targeted = batch.goal == Goal::Targeted;
    let mut used = batch.len();
    for j in 0..batch.len() {
        let target = targeted.then_some(batch.targets[j]);
        if !outcome.success[j] {
            cell.failures.push(Failure {
                index: batch.indices[j],
                label: batch.labels[j],
                target,
                queries: outcome.queries[j],
                extra: outcome.extra[j],
            });
            continue;
        }
        cell.samples.push(Sample {
            index: batch.indices[j],
            label: batch.labels[j],
            target,
            first_pass: outcome.first_pass[j],
            distances: outcome.distances[j],
            queries: outcome.queries[j],
            extra: outcome.extra[j],
        });
        cell.adversarials.extend_from_slice(outcome.adversarial(j));
        if cell.samples.len() == config.samples {
            used = j + 1;
            break;
        }
    }
    cell.attempted += used;
    cell.batches += 1;
    cell.finished = cell.attacked_enough(config, pool);
}

/// Runs batches of a cell until it has `config.samples` successes, the candidates run out, or
/// `after_batch` says stop. `after_batch` sees the cell after every batch (to checkpoint it and
/// report progress). A batch is attacked in its [parts](Batch::parts): one after another
/// through `victim`, or at once by a `crew`.
#[allow(clippy::too_many_arguments)]
pub async fn attack_cell(
    victim: Victim<'_>,
    crew: Option<&dyn Crew>,
    test: &Split,
    candidates: &[usize],
    config: &ProtocolConfig,
    id: &CellId,
    cell: &mut AttackCell,
    clock: &dyn Fn() -> Duration,
    mut after_batch: impl FnMut(&AttackCell) -> ControlFlow<()>,
) -> Result<(), AttackError> {
    if cell.attempted > candidates.len() {
        return Err(AttackError::Shape(format!(
            "cell {} has attempted {} images but the pool holds {}: it belongs to another run (other weights or data)",
            id.key(),
            cell.attempted,
            candidates.len()
        )));
    }
    loop {
        if cell.attacked_enough(config, candidates.len()) {
            cell.finished = true;
            break;
        }
        let started = clock();
        let batch = next_batch(test, candidates, config, id, cell);
        let parts = batch.parts();
        let outcomes = match crew {
            Some(crew) if parts.len() > 1 => crew.attack(&parts)?,
            _ => {
                let mut outcomes = Vec::with_capacity(parts.len());
                for part in &parts {
                    outcomes.push(part.attack(victim).await?);
                }
                outcomes
            }
        };
        if outcomes.len() != parts.len() {
            return Err(AttackError::Shape(format!(
                "{} outcomes for {} parts of a batch",
                outcomes.len(),
                parts.len()
            )));
        }
        let outcome = AttackOutcome::concat(outcomes);
        record_batch(config, cell, &batch, &outcome, candidates.len());
        cell.attack_seconds += (clock() - started).as_secs_f64();
        if after_batch(cell).is_break() {
            break;
        }
    }
    Ok(())
}

/// Classifies a finished cell's adversarials under every scheme of `config` it has not been
/// classified under yet; `after_scheme` sees the cell after each (to checkpoint it).
#[allow(clippy::too_many_arguments)]
pub async fn recognise_cell(
    model: &Cnn,
    device: &Device,
    config: &ProtocolConfig,
    id: &CellId,
    cell: &mut AttackCell,
    clock: &dyn Fn() -> Duration,
    mut after_scheme: impl FnMut(&AttackCell) -> ControlFlow<()>,
) -> Result<(), ReadError> {
    let labels: Vec<u8> = cell.samples.iter().map(|s| s.label).collect();
    for (e, scheme) in config.schemes.iter().enumerate() {
        let name = scheme.to_string();
        if cell.recognition.contains_key(&name) {
            continue;
        }
        let started = clock();
        let mut rng = MaskRng::stream(config.seed, (2 << 48) | id.stream_base() | e as u64);
        let r = eval::recognise(
            model,
            &cell.adversarials,
            &labels,
            scheme,
            config.votes,
            &mut rng,
            device,
        )
        .await?;
        cell.recognition.insert(name, r);
        cell.recognition_seconds += (clock() - started).as_secs_f64();
        if after_scheme(cell).is_break() {
            break;
        }
    }
    Ok(())
}

/// Adversarials as little-endian f32 bytes (the checkpoint's binary half).
pub fn adversarials_to_bytes(cell: &AttackCell) -> Vec<u8> {
    cell.adversarials
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Restores the binary half of a checkpoint. Adversarials are only ever appended and the
/// binary is written before the JSON, so a longer binary is a batch whose JSON never landed:
/// its prefix is exactly the state the JSON describes. A shorter one is damage.
pub fn adversarials_from_bytes(cell: &mut AttackCell, bytes: &[u8]) -> Result<(), String> {
    let expected = cell.samples.len() * PIXELS * 4;
    if bytes.len() < expected || !bytes.len().is_multiple_of(PIXELS * 4) {
        return Err(format!(
            "{} bytes of adversarials for {} samples (expected {expected})",
            bytes.len(),
            cell.samples.len()
        ));
    }
    cell.adversarials = bytes[..expected]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(())
}
