//! Recognition: what a network with test-time dropout answers for a set of images.
//!
//! Every read from the device is async ([`crate::backend::read_floats`]), because on WebGPU in
//! the browser a blocking read panics; natively the future is ready at once.

use burn::tensor::{Device, Tensor, TensorData};

use crate::attack::PIXELS;
pub use crate::backend::{ReadError, read_floats, read_ints};

use crate::data::Split;
use crate::model::{Cnn, DropoutScheme, MaskRng};

/// Images per forward pass when evaluating: large enough to keep a CPU's SIMD lanes and a GPU
/// busy, small enough for a browser's memory.
pub const EVAL_BATCH: usize = 500;

/// Predicted class of each image: one stochastic pass (the paper's rule), masks from `rng`.
pub async fn predict(
    model: &Cnn,
    images: Tensor<4>,
    scheme: &DropoutScheme,
    rng: &mut MaskRng,
) -> Result<Vec<u8>, ReadError> {
    classes(model.forward(images, scheme, rng)).await
}

/// The class with the largest logit, per row.
async fn classes(logits: Tensor<2>) -> Result<Vec<u8>, ReadError> {
    Ok(read_ints(logits.argmax(1))
        .await?
        .into_iter()
        .map(|c| c as u8)
        .collect())
}

/// Fraction of `split` recognised correctly in one stochastic pass over all its images.
/// `on_batch(done, total)` reports progress after each batch.
pub async fn accuracy(
    model: &Cnn,
    split: &Split,
    scheme: &DropoutScheme,
    rng: &mut MaskRng,
    device: &Device,
    mut on_batch: impl FnMut(usize, usize),
) -> Result<f64, ReadError> {
    let mut correct = 0usize;
    let indices: Vec<usize> = (0..split.len()).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let predicted = predict(model, split.images_tensor(chunk, device), scheme, rng).await?;
        correct += predicted
            .iter()
            .zip(split.labels_at(chunk))
            .filter(|(p, l)| **p == *l)
            .count();
        on_batch(chunk[chunk.len() - 1] + 1, split.len());
    }
    Ok(correct as f64 / split.len().max(1) as f64)
}

/// How a set of images (adversarials, usually) is recognised under one dropout scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recognition {
    pub images: usize,
    /// Recognised as their true label in the first stochastic pass (the paper's rule).
    pub single_pass: usize,
    /// Recognised as their true label by the majority over all passes (ties: lowest class).
    pub vote: usize,
    /// Passes per image (1 for a deterministic scheme).
    pub passes: usize,
    /// Mean over images of the fraction of passes that gave the true label.
    pub true_class_rate: f64,
}

/// Classifies `images` (`labels.len() × 784` pixels) in `passes` stochastic passes (one if the
/// scheme is deterministic) and counts how often the true label comes back.
pub async fn recognise(
    model: &Cnn,
    images: &[f32],
    labels: &[u8],
    scheme: &DropoutScheme,
    passes: usize,
    rng: &mut MaskRng,
    device: &Device,
) -> Result<Recognition, ReadError> {
    let n = labels.len();
    let passes = if scheme.is_deterministic() {
        1
    } else {
        passes.max(1)
    };
    let chunks: Vec<(usize, &[u8])> = (0..n)
        .step_by(EVAL_BATCH)
        .zip(labels.chunks(EVAL_BATCH))
        .collect();
    let tensor = |start: usize, len: usize| {
        let pixels = images[start * PIXELS..(start + len) * PIXELS].to_vec();
        Tensor::<4>::from_data(TensorData::new(pixels, [len, 1, 28, 28]), device)
    };
    // Under FC-only dropout the convolutional features are the same in every pass: computed
    // once per chunk, they leave each pass only the FC layers (a quarter of the work). The
    // masks are drawn in the same order either way, so the numbers are the same.
    let shared: Vec<Tensor<2>> = if passes > 1 && scheme.input == 0.0 && scheme.feature == 0.0 {
        chunks
            .iter()
            .map(|&(start, chunk)| model.features(tensor(start, chunk.len()), scheme, rng))
            .collect()
    } else {
        Vec::new()
    };
    let mut votes = vec![[0u32; crate::model::CLASSES]; n];
    let mut single_pass = 0;
    for pass in 0..passes {
        for (k, &(start, chunk)) in chunks.iter().enumerate() {
            let logits = match shared.get(k) {
                Some(features) => model.head(features.clone(), scheme, rng),
                None => model.forward(tensor(start, chunk.len()), scheme, rng),
            };
            for (j, class) in classes(logits).await?.into_iter().enumerate() {
                votes[start + j][class as usize] += 1;
                if pass == 0 && class == chunk[j] {
                    single_pass += 1;
                }
            }
        }
    }
    let mut vote = 0;
    let mut true_rate = 0.0;
    for (v, &label) in votes.iter().zip(labels) {
        let winner = (0..v.len()).fold(0, |best, c| if v[c] > v[best] { c } else { best });
        vote += (winner == label as usize) as usize;
        true_rate += v[label as usize] as f64 / passes as f64;
    }
    Ok(Recognition {
        images: n,
        single_pass,
        vote,
        passes,
        true_class_rate: true_rate / n.max(1) as f64,
    })
}

/// How often each class comes back for one image over `passes` stochastic passes: the
/// histogram the page draws so the randomness of a dropout network is visible. The image is
/// tiled into batches, each copy with its own masks, so R passes cost R/[`EVAL_BATCH`] calls.
pub async fn class_histogram(
    model: &Cnn,
    image: &[f32],
    scheme: &DropoutScheme,
    passes: usize,
    rng: &mut MaskRng,
    device: &Device,
) -> Result<[u32; crate::model::CLASSES], ReadError> {
    let passes = if scheme.is_deterministic() {
        1
    } else {
        passes.max(1)
    };
    let mut counts = [0u32; crate::model::CLASSES];
    let mut done = 0;
    while done < passes {
        let copies = (passes - done).min(EVAL_BATCH);
        let pixels: Vec<f32> = (0..copies).flat_map(|_| image.iter().copied()).collect();
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [copies, 1, 28, 28]), device);
        for class in predict(model, x, scheme, rng).await? {
            counts[class as usize] += 1;
        }
        done += copies;
    }
    Ok(counts)
}
