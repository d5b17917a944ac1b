//! Recognition: what a network with test-time dropout answers for a set of images.
//!
//! Every read from the device is `into_data_async`, because on WebGPU in the browser a blocking
//! read panics; natively the future is ready at once and [`pollster`] drives it.

use burn::tensor::{Device, Int, Tensor};

use crate::data::Split;
use crate::model::{Cnn, DropoutScheme, MaskRng};

/// A read back from the device failed (a lost GPU device, say).
#[derive(Debug, thiserror::Error)]
#[error("reading results from the device failed: {0}")]
pub struct ReadError(String);

/// Images per forward pass when evaluating: large enough to keep a CPU's SIMD lanes and a GPU
/// busy, small enough for a browser's memory.
pub const EVAL_BATCH: usize = 500;

/// Reads an integer tensor back to the host, asynchronously.
pub async fn read_ints<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<i64>, ReadError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ReadError(format!("{e:?}")))?;
    Ok(data.iter::<i64>().collect())
}

/// Reads a float tensor back to the host, asynchronously.
pub async fn read_floats<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ReadError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ReadError(format!("{e:?}")))?;
    Ok(data.iter::<f32>().collect())
}

/// Predicted class of each image: one stochastic pass (the paper's rule), masks from `rng`.
pub async fn predict(
    model: &Cnn,
    images: Tensor<4>,
    scheme: &DropoutScheme,
    rng: &mut MaskRng,
) -> Result<Vec<u8>, ReadError> {
    let classes = model.forward(images, scheme, rng).argmax(1);
    Ok(read_ints(classes)
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
