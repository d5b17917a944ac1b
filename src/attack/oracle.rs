//! The network as the attacker sees it: batched model calls that draw fresh dropout masks,
//! check every prediction against the criterion, feed the best-adversarial tracker and count
//! queries. Attacks never touch the model directly, so they cannot forget any of that.
//!
//! The attacker's [`Mode`] is applied here too: frozen masks per image, or logits averaged over
//! several passes (EOT), without the attacks knowing.
//!
//! Points travel as host vectors (`n × 784` f32): the attacks' bookkeeping (per-image step
//! sizes, L-BFGS histories, JSMA search sets) is small and branchy, while the model calls —
//! the expensive part — run batched on the device.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use super::criterion::Criterion;
use super::distance::PIXELS;
use super::mode::Mode;
use super::outputs::Outputs;
use super::tracker::Tracker;
use super::{AttackError, Victim};
use crate::backend::read_floats;
use crate::model::host::Tape;
use crate::model::{
    CLASSES, Classifier, DropoutScheme, FrozenMasks, ImageStreams, MaskRng, MaskSource,
};

/// Logits of one image from a checked call, and whether they satisfy the criterion.
#[derive(Clone, Copy, Debug)]
pub struct Checked {
    pub logits: [f32; CLASSES],
    pub adversarial: bool,
}

/// What a gradient is taken of, per row.
enum Objective<'c> {
    /// Softmax cross-entropy for the given class (Foolbox's `gradient(x, label)`).
    CrossEntropy(&'c [u8]),
    /// A weighted sum of the logits, one weight row of 10 per row (DeepFool's and the
    /// saliency map's linearisations).
    Logits(&'c [f32]),
}

/// Where a batch under attack draws its dropout masks.
pub enum Masks<'r> {
    /// One stream for the whole batch, drawn call after call (what an image sees depends on
    /// the batch it is in; the streams `results/paper` was made with).
    Shared(&'r mut MaskRng),
    /// A stream per image and evaluation ([`ImageStreams`]): an image's masks do not depend on
    /// the batch, so a batch may be split or resized without changing any number.
    PerImage(ImageStreams),
}

impl<'r> From<&'r mut MaskRng> for Masks<'r> {
    fn from(rng: &'r mut MaskRng) -> Self {
        Masks::Shared(rng)
    }
}

/// A batch of images under attack.
pub struct Oracle<'a> {
    model: &'a dyn Classifier,
    inference: &'a dyn Classifier,
    scheme: DropoutScheme,
    mode: Mode,
    outputs: Outputs,
    masks: Masks<'a>,
    /// Per image, the seed of its frozen masks (fixed-mask mode only).
    frozen: Vec<u64>,
    device: Device,
    plain_device: Device,
    criterion: Criterion,
    labels: Vec<u8>,
    tracker: Tracker,
    queries: Vec<u32>,
    /// Per image, points evaluated past the one Foolbox would have stopped at, to keep a call
    /// wide ([`Oracle::predict_until_adversarial`]); not queries.
    extra: Vec<u32>,
    first_logits: Vec<[f32; CLASSES]>,
}

impl<'a> Oracle<'a> {
    /// `tracker` holds the originals, `labels.len() × 784` pixels.
    pub(crate) fn new(
        victim: Victim<'a>,
        mut masks: Masks<'a>,
        criterion: Criterion,
        labels: Vec<u8>,
        tracker: Tracker,
    ) -> Self {
        let n = labels.len();
        let frozen = match (victim.mode, &mut masks) {
            (Mode::FixedMask, Masks::Shared(rng)) => (0..n).map(|_| rng.next_u64()).collect(),
            (Mode::FixedMask, Masks::PerImage(streams)) => {
                (0..n).map(|i| streams.seed(i)).collect()
            }
            _ => Vec::new(),
        };
        Self {
            model: victim.model,
            inference: victim.inference,
            scheme: victim.scheme,
            mode: victim.mode,
            outputs: victim.outputs,
            masks,
            frozen,
            device: victim.device.clone(),
            plain_device: victim.device.clone().without_autodiff(),
            criterion,
            labels,
            tracker,
            queries: vec![0; n],
            extra: vec![0; n],
            first_logits: vec![[0.0; CLASSES]; n],
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    pub fn criterion(&self) -> &Criterion {
        &self.criterion
    }

    /// Forward passes behind one query of one point: the EOT samples, or 1 (a deterministic
    /// scheme has nothing to average).
    pub fn passes(&self) -> usize {
        if self.scheme.is_deterministic() {
            1
        } else {
            self.mode.passes()
        }
    }

    /// Whether a call repeated on the same point gives the same answer: no dropout, or the
    /// fixed-mask mode's frozen masks.
    pub fn is_repeatable(&self) -> bool {
        self.scheme.is_deterministic() || self.mode == Mode::FixedMask
    }

    /// Counts `calls` queries of image `i` that an attack knows would repeat an answer it
    /// already has (a fixed point under a repeatable oracle), so they are not run.
    pub fn count_unrun_queries(&mut self, i: usize, calls: u32) {
        self.queries[i] += calls * self.passes() as u32;
    }

    pub fn original(&self, i: usize) -> &[f32] {
        self.tracker.original(i)
    }

    /// Logits of the first prediction of original `i` (the pass that decided whether to attack).
    pub fn first_logits(&self, i: usize) -> &[f32; CLASSES] {
        &self.first_logits[i]
    }

    /// The best adversarial of image `i` so far (its original when none).
    pub fn best(&self, i: usize) -> &[f32] {
        self.tracker.best_or_original(i)
    }

    /// Whether an adversarial has been found for image `i` in any call so far.
    pub fn found(&self, i: usize) -> bool {
        self.tracker.found(i)
    }

    /// The tracker, the queries and the extra evaluations per image.
    pub(crate) fn into_parts(self) -> (Tracker, Vec<u32>, Vec<u32>) {
        (self.tracker, self.queries, self.extra)
    }

    /// Foolbox's first step: predict every original once. Images already adversarial on that
    /// pass get distance 0 and are not attacked; the rest are returned, in order.
    pub(crate) async fn check_originals(&mut self) -> Result<Vec<usize>, AttackError> {
        let ids: Vec<usize> = (0..self.len()).collect();
        let points = self.gather_originals(&ids);
        let checked = self.predict(&ids, &points).await?;
        let mut active = Vec::new();
        for (&i, c) in ids.iter().zip(&checked) {
            self.first_logits[i] = c.logits;
            if c.adversarial {
                self.tracker.mark_first_pass(i);
            } else {
                active.push(i);
            }
        }
        Ok(active)
    }

    /// The originals of `ids`, concatenated.
    pub fn gather_originals(&self, ids: &[usize]) -> Vec<f32> {
        ids.iter()
            .flat_map(|&i| self.tracker.original(i).iter().copied())
            .collect()
    }

    /// One checked prediction per point (`ids.len() × 784` pixels).
    pub async fn predict(
        &mut self,
        ids: &[usize],
        points: &[f32],
    ) -> Result<Vec<Checked>, AttackError> {
        let (logits, _) = self.call(points, ids, None).await?;
        Ok(self.check(ids, points, &logits, 1))
    }

    /// Several points per image in one call, as if predicted one by one in order until the
    /// first adversarial: `points` holds `k` consecutive points of each of `ids` (`ids.len() ×
    /// k × 784` pixels, image by image). Each point draws its own masks, as one call per point
    /// would. Points up to and including an image's first adversarial are checked (counted as
    /// queries, offered to the tracker); those after it were evaluated only to keep the call
    /// wide, so they count as extra evaluations instead, and change nothing else. Returns,
    /// per image, the position (0..k) of its first adversarial point.
    pub async fn predict_until_adversarial(
        &mut self,
        ids: &[usize],
        points: &[f32],
        k: usize,
    ) -> Result<Vec<Option<usize>>, AttackError> {
        if points.len() != ids.len() * k * PIXELS {
            return Err(AttackError::Shape(format!(
                "{} pixels for {} images × {k} points",
                points.len(),
                ids.len()
            )));
        }
        let rows: Vec<usize> = ids
            .iter()
            .flat_map(|&i| std::iter::repeat_n(i, k))
            .collect();
        let (logits, _) = self.call(points, &rows, None).await?;
        let passes = self.passes() as u32;
        let mut first = Vec::with_capacity(ids.len());
        for (j, &i) in ids.iter().enumerate() {
            let mut hit = None;
            for r in 0..k {
                let row = j * k + r;
                if hit.is_some() {
                    self.extra[i] += passes;
                    continue;
                }
                let checked = self.check(
                    &[i],
                    &points[row * PIXELS..(row + 1) * PIXELS],
                    &logits[row * CLASSES..(row + 1) * CLASSES],
                    1,
                );
                if checked[0].adversarial {
                    hit = Some(r);
                }
            }
            first.push(hit);
        }
        Ok(first)
    }

    /// A checked prediction and the gradient of CE(`classes[j]`) w.r.t. point `j`, both from
    /// the same masks (Foolbox's `predictions_and_gradient`).
    pub async fn predict_and_gradient(
        &mut self,
        ids: &[usize],
        points: &[f32],
        classes: &[u8],
    ) -> Result<(Vec<Checked>, Vec<f32>), AttackError> {
        let objective = Objective::CrossEntropy(classes);
        let (logits, gradient) = self.call(points, ids, Some(objective)).await?;
        Ok((self.check(ids, points, &logits, 1), gradient))
    }

    /// The gradient of CE(`classes[j]`) w.r.t. point `j`; the prediction it came with is not
    /// checked (Foolbox's gradient-only call).
    pub async fn gradient(
        &mut self,
        ids: &[usize],
        points: &[f32],
        classes: &[u8],
    ) -> Result<Vec<f32>, AttackError> {
        let passes = self.passes() as u32;
        for &i in ids {
            self.queries[i] += passes;
        }
        let (_, gradient) = self
            .call(points, ids, Some(Objective::CrossEntropy(classes)))
            .await?;
        Ok(gradient)
    }

    /// Gradients of `k` weighted sums of logits per point: point `j` is replicated `k` times
    /// and replica `r` yields the gradient of `Σ_c weights[(j·k + r)·10 + c] · logit_c`. Each
    /// replica draws its own masks, as Foolbox 0.8's one call per class did; replica 0's
    /// prediction is the checked one. Returns the checked logits and `ids.len() × k × 784`
    /// gradients.
    pub async fn logit_gradients(
        &mut self,
        ids: &[usize],
        points: &[f32],
        weights: &[f32],
        k: usize,
    ) -> Result<(Vec<Checked>, Vec<f32>), AttackError> {
        let mut replicated = Vec::with_capacity(points.len() * k);
        for point in points.chunks(PIXELS) {
            for _ in 0..k {
                replicated.extend_from_slice(point);
            }
        }
        let rows: Vec<usize> = ids
            .iter()
            .flat_map(|&i| std::iter::repeat_n(i, k))
            .collect();
        let (logits, gradient) = self
            .call(&replicated, &rows, Some(Objective::Logits(weights)))
            .await?;
        let first: Vec<f32> = logits
            .chunks(CLASSES * k)
            .flat_map(|replicas| replicas[..CLASSES].iter().copied())
            .collect();
        Ok((self.check(ids, points, &first, k as u32), gradient))
    }

    /// Judges each row against the criterion, feeds the tracker, counts `cost` queries each
    /// (times the mode's passes).
    fn check(&mut self, ids: &[usize], points: &[f32], logits: &[f32], cost: u32) -> Vec<Checked> {
        let cost = cost * self.passes() as u32;
        ids.iter()
            .enumerate()
            .map(|(j, &i)| {
                self.queries[i] += cost;
                let mut z = [0f32; CLASSES];
                z.copy_from_slice(&logits[j * CLASSES..(j + 1) * CLASSES]);
                let adversarial = self.criterion.is_adversarial(i, self.labels[i], &z);
                if adversarial {
                    self.tracker.offer(i, &points[j * PIXELS..(j + 1) * PIXELS]);
                }
                Checked {
                    logits: z,
                    adversarial,
                }
            })
            .collect()
    }

    /// One query of every point: row `r` of `points` belongs to image `images[r]`. Returns
    /// the outputs (logits, or Foolbox 0.8's clipped log-probabilities: [`Outputs`]) `[rows, 10]` and, when `objective` is given, its input gradient per row. Under
    /// the paper's mode that is one forward pass with fresh masks; with fixed masks each row
    /// uses its image's frozen masks; under EOT each row is replicated once per pass, and the
    /// logits (the objective's argument) are the replicas' mean — so the gradient, summed
    /// back over the replicas, is that of the mean.
    async fn call(
        &mut self,
        points: &[f32],
        images: &[usize],
        objective: Option<Objective<'_>>,
    ) -> Result<(Vec<f32>, Vec<f32>), AttackError> {
        let rows = images.len();
        let passes = self.passes();
        let expanded = if passes == 1 {
            points.to_vec()
        } else {
            points
                .chunks(PIXELS)
                .flat_map(|p| std::iter::repeat_n(p, passes).flatten().copied())
                .collect()
        };
        let shape = [rows * passes, 1, 28, 28];
        let mut frozen;
        let mut per_row;
        let masks: &mut dyn MaskSource = match (self.mode, &mut self.masks) {
            (Mode::FixedMask, _) => {
                frozen = FrozenMasks::new(images.iter().map(|&i| self.frozen[i]).collect());
                &mut frozen
            }
            (_, Masks::Shared(rng)) => &mut **rng,
            (_, Masks::PerImage(streams)) => {
                // Every row of the pass, EOT replicas included, is one evaluation of its image.
                let expanded: Vec<usize> = images
                    .iter()
                    .flat_map(|&i| std::iter::repeat_n(i, passes))
                    .collect();
                per_row = streams.next_pass(&expanded);
                &mut per_row
            }
        };
        let mean = |logits: Tensor<2>| {
            if passes == 1 {
                logits
            } else {
                logits
                    .reshape([rows, passes, CLASSES])
                    .mean_dim(1)
                    .reshape([rows, CLASSES])
            }
        };
        let Some(objective) = objective else {
            let x = Tensor::<4>::from_data(TensorData::new(expanded, shape), &self.plain_device);
            let logits = mean(
                self.outputs
                    .apply(self.inference.logits(x, &self.scheme, masks)),
            );
            return Ok((read_floats(logits).await?, Vec::new()));
        };
        // In the page the forward pass runs on the host kernels and keeps a tape; autodiff
        // then only differentiates the objective with respect to the logits.
        let (logits, input) = match self.inference.taped(&expanded, &self.scheme, masks) {
            Some((logits, tape)) => {
                let z = TensorData::new(logits, [rows * passes, CLASSES]);
                let z = Tensor::<2>::from_data(z, &self.device).require_grad();
                (z.clone(), Input::Logits(z, Box::new(tape)))
            }
            None => {
                let x = Tensor::<4>::from_data(TensorData::new(expanded, shape), &self.device)
                    .require_grad();
                let logits = self.model.logits(x.clone(), &self.scheme, masks);
                (logits, Input::Images(x))
            }
        };
        let logits = mean(self.outputs.apply(logits));
        let (weights, scored) = match objective {
            Objective::CrossEntropy(classes) => {
                (one_hot(classes, -1.0), log_softmax(logits.clone(), 1))
            }
            Objective::Logits(weights) => (weights.to_vec(), logits.clone()),
        };
        let weights =
            Tensor::<2>::from_data(TensorData::new(weights, [rows, CLASSES]), &self.device);
        let grads = (scored * weights).sum().backward();
        let logits = logits.detach();
        let mut gradient = match input {
            Input::Images(x) => read_floats(x.grad(&grads).ok_or(AttackError::NoGradient)?).await?,
            Input::Logits(z, tape) => {
                let dz = z.grad(&grads).ok_or(AttackError::NoGradient)?;
                tape.input_gradient(&read_floats(dz).await?)
            }
        };
        if passes > 1 {
            gradient = gradient
                .chunks(PIXELS * passes)
                .flat_map(|replicas| {
                    (0..PIXELS).map(move |p| (0..passes).map(|r| replicas[r * PIXELS + p]).sum())
                })
                .collect();
        }
        Ok((read_floats(logits).await?, gradient))
    }
}

/// What a gradient call differentiates with respect to: the images (burn's autodiff through
/// the whole network), or the host pass's logits (the page: the [`Tape`] takes them back to the
/// images).
enum Input {
    Images(Tensor<4>),
    Logits(Tensor<2>, Box<Tape>),
}

/// Row `j` is `value` at `classes[j]` and 0 elsewhere.
pub fn one_hot(classes: &[u8], value: f32) -> Vec<f32> {
    let mut w = vec![0f32; classes.len() * CLASSES];
    for (j, &c) in classes.iter().enumerate() {
        w[j * CLASSES + c as usize] = value;
    }
    w
}
