//! The CNN's first fully-connected layer (3136 → 1024, bias, ReLU) as a direct kernel on
//! 4-lane vectors, for the page: wasm `simd128` there, `[f32; 4]` natively (where only its
//! tests run it).
//!
//! In the page burn's `Linear` multiplies through gemm, which packs its operands into panels on
//! every call (7 % of a forward pass in the profile, docs/performance.md), then adds the bias
//! and takes the ReLU as two more passes. Here the weights are packed once per loaded model —
//! per block of eight output units, the 3,136 inputs' eight weights in a row — and kept beside
//! it ([`Cache`]); each block of four rows then walks its block's weights in order with the
//! rows' inputs broadcast, in 8 accumulators, and adds the bias and the ReLU as it stores. Each
//! output is summed in one fixed order (the inputs in turn, a multiply then an add each, the bias
//! last), so a row's outputs do not depend on its batch (tested); they are not gemm's sums, so
//! natively the CLI keeps burn's layer.

use std::sync::{Arc, Mutex};

use burn::module::ParamId;
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};

use super::conv::lanes::F4;
use super::floats;

/// Output units per block: two vectors.
const BLOCK: usize = 8;
/// Rows per register tile: 4 rows × 2 vectors = 8 accumulators, as the convolution's tile.
const TILE: usize = 4;
/// Inputs per chunk: a block's 224 × 8 weights (7 KB) stay in the L1 data cache, and a batch
/// of 256 rows' 224 inputs (229 KB) in L2; 3136 = 14 × 224.
const CHUNK: usize = 224;

/// A layer's weights packed for [`Packed::forward`], and its bias.
#[derive(Debug)]
pub struct Packed {
    d_in: usize,
    d_out: usize,
    /// `[d_out / 8, d_in, 8]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// The packed weights of the layer a model last ran, kept with the model (its clones share
/// it) and keyed by the weight parameter's id, so a model whose weights were replaced packs
/// them again.
#[derive(Clone, Debug, Default)]
pub struct Cache(Arc<Mutex<Option<Entry>>>);

/// The weight parameter a [`Packed`] was made from, and it.
type Entry = (ParamId, Arc<Packed>);

/// Whether [`linear_relu`] applies: in the page (wasm32) on burn's flex CPU device, outside
/// autodiff, to a layer whose outputs fill whole blocks.
pub fn applies(x: &Tensor<2>, layer: &Linear) -> bool {
    cfg!(target_family = "wasm")
        && layer.weight.dims()[1].is_multiple_of(BLOCK)
        && super::on_host_cpu(x)
}

/// `relu(x · W + b)` for `layer` (`W` `[d_in, d_out]`) on `x` `[n, d_in]`, on the host.
pub fn linear_relu(x: Tensor<2>, layer: &Linear, cache: &Cache) -> Tensor<2> {
    let [n, _] = x.dims();
    let device = x.device();
    let packed = cache.packed(layer);
    let out = packed.forward(&floats(x.into_data()), n);
    Tensor::from_data(TensorData::new(out, [n, packed.d_out]), &device)
}

impl Cache {
    fn packed(&self, layer: &Linear) -> Arc<Packed> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some((id, packed)) if *id == layer.weight.id => packed.clone(),
            _ => {
                let [d_in, d_out] = layer.weight.dims();
                let weights = floats(layer.weight.val().into_data());
                let bias = match &layer.bias {
                    Some(b) => floats(b.val().into_data()),
                    None => vec![0.0; d_out],
                };
                let packed = Arc::new(Packed::new(&weights, &bias, d_in, d_out));
                *slot = Some((layer.weight.id, packed.clone()));
                packed
            }
        }
    }
}

impl Packed {
    /// Packs `weights` `[d_in, d_out]` (row-major, `d_out` a multiple of 8) and `bias` `[d_out]`.
    pub fn new(weights: &[f32], bias: &[f32], d_in: usize, d_out: usize) -> Self {
        assert!(
            d_in > 0 && d_out.is_multiple_of(BLOCK),
            "d_in > 0, d_out a multiple of 8"
        );
        assert_eq!(weights.len(), d_in * d_out, "weights [d_in, d_out]");
        assert_eq!(bias.len(), d_out, "bias [d_out]");
        let mut packed = Vec::with_capacity(weights.len());
        for block in 0..d_out / BLOCK {
            for k in 0..d_in {
                let at = k * d_out + block * BLOCK;
                packed.extend_from_slice(&weights[at..at + BLOCK]);
            }
        }
        Self {
            d_in,
            d_out,
            weights: packed,
            bias: bias.to_vec(),
        }
    }

    /// `relu(x · W + bias)` for `x` `[n, d_in]`.
    ///
    /// Walking all 3,136 inputs of each row per block of outputs would read a block's weights
    /// (100 KB) from L2 and the batch's rows (0.8 MB at batch 64, 3.2 MB at 256) from beyond
    /// it, once per block. So the inputs go in chunks of [`CHUNK`]: each chunk of a block's
    /// weights serves every row of the batch from L1, the rows' chunk staying in L2, and a
    /// row's running sums wait in `sums` between chunks. Storing a sum and loading it back
    /// changes no bit, so every output is still summed in one fixed order, whatever the batch
    /// (tested).
    pub fn forward(&self, x: &[f32], n: usize) -> Vec<f32> {
        let (d_in, d_out) = (self.d_in, self.d_out);
        assert_eq!(x.len(), n * d_in, "x [n, d_in]");
        let mut out = vec![0f32; n * d_out];
        let mut sums = vec![[F4::ZERO; 2]; n];
        for block in 0..d_out / BLOCK {
            let col = block * BLOCK;
            let weights = &self.weights[block * d_in * BLOCK..(block + 1) * d_in * BLOCK];
            sums.fill([F4::ZERO; 2]);
            let mut k = 0;
            while k < d_in {
                let len = CHUNK.min(d_in - k);
                let w = weights[k * BLOCK..(k + len) * BLOCK].as_ptr();
                let mut row = 0;
                while row + TILE <= n {
                    let tile: &mut [[F4; 2]; TILE] =
                        (&mut sums[row..row + TILE]).try_into().expect("a tile");
                    // SAFETY: rows row..row + 4 of x from input k on hold `len` inputs each,
                    // and `w` the chunk's len × 8 weights (asserted above and by the slices).
                    *tile = unsafe { tile_n(x.as_ptr().add(row * d_in + k), w, d_in, len, *tile) };
                    row += TILE;
                }
                // The last 1–3 rows in one tile too: each tile streams the chunk once.
                let rest = &mut sums[row..];
                // SAFETY: as above, for the remaining rows.
                unsafe {
                    let x = x.as_ptr().add(row * d_in + k);
                    match rest {
                        [] => {}
                        [a] => [*a] = tile_1(x, w, d_in, len, [*a]),
                        [a, b] => [*a, *b] = tile_2(x, w, d_in, len, [*a, *b]),
                        [a, b, c] => [*a, *b, *c] = tile_3(x, w, d_in, len, [*a, *b, *c]),
                        _ => unreachable!("fewer rows than a tile"),
                    }
                }
                k += len;
            }
            let b = [
                F4::load(&self.bias[col..col + 4]),
                F4::load(&self.bias[col + 4..col + BLOCK]),
            ];
            for (row, acc) in sums.iter().enumerate() {
                for (half, acc) in acc.iter().enumerate() {
                    let at = row * d_out + col + half * 4;
                    acc.add(b[half]).relu().store(&mut out[at..at + 4]);
                }
            }
        }
        out
    }
}

/// `tile_n`, `tile_3`, `tile_2` and `tile_1`: the accumulators `acc` of 4 (3, 2, 1) rows ×
/// one block of 8 outputs, carried over `len` inputs in order. Spelled out row by row and
/// walking raw pointers for the page's size-optimised build, as the convolution's tile
/// (conv.rs says why).
///
/// # Safety
/// `len > 0`; `x` points at the tile's first row's first input of the chunk, each next row
/// `stride` floats on, each with `len` readable inputs; `w` at the chunk's `len × 8` packed
/// weights.
macro_rules! tile {
    ($name:ident, $n:literal: $($i:literal)+) => {
        #[inline(always)]
        unsafe fn $name(
            x: *const f32,
            w: *const f32,
            stride: usize,
            len: usize,
            mut acc: [[F4; 2]; $n],
        ) -> [[F4; 2]; $n] {
            let mut k = 0;
            // Tested at the bottom (len > 0): opt-level "z" does not rotate loops.
            loop {
                // SAFETY: in bounds by the caller's contract.
                unsafe {
                    let w0 = F4::read(w.add(k * BLOCK));
                    let w1 = F4::read(w.add(k * BLOCK + 4));
                    $(
                        let v = F4::splat(*x.add($i * stride + k));
                        acc[$i][0] = acc[$i][0].mul_add(v, w0);
                        acc[$i][1] = acc[$i][1].mul_add(v, w1);
                    )+
                }
                k += 1;
                if k == len {
                    break;
                }
            }
            acc
        }
    };
}

tile!(tile_n, 4: 0 1 2 3);
tile!(tile_3, 3: 0 1 2);
tile!(tile_2, 2: 0 1);
tile!(tile_1, 1: 0);

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::LinearConfig;
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution};

    #[test]
    fn equals_burns_linear_and_relu() {
        let device = Device::flex();
        // The CNN's layer, and batches ending in each partial tile.
        let layer = LinearConfig::new(3136, 1024).init(&device);
        let cache = Cache::default();
        for n in [4, 5, 6, 7] {
            let x = Tensor::<2>::random([n, 3136], Distribution::Normal(0.0, 1.0), &device);
            let ours = floats(linear_relu(x.clone(), &layer, &cache).into_data());
            let burns = floats(relu(layer.forward(x)).into_data());
            let scale = burns.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (i, (a, b)) in ours.iter().zip(&burns).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * scale,
                    "n {n}, [{i}]: {a} against {b}"
                );
            }
            assert!(ours.contains(&0.0) && ours.iter().any(|&v| v > 0.0));
        }
    }

    #[test]
    fn replaced_weights_are_packed_again() {
        let device = Device::flex();
        let mut layer = LinearConfig::new(5, 8).init(&device);
        let x = Tensor::<2>::ones([1, 5], &device);
        let cache = Cache::default();
        let before = floats(linear_relu(x.clone(), &layer, &cache).into_data());
        layer.weight = Param::from_data(TensorData::new(vec![1.0f32; 40], [5, 8]), &device);
        layer.bias = Some(Param::from_data(
            TensorData::new(vec![0.5f32; 8], [8]),
            &device,
        ));
        let after = floats(linear_relu(x, &layer, &cache).into_data());
        assert_ne!(before, after);
        assert_eq!(after, vec![5.5; 8]);
    }

    /// Each output summed in order, a multiply then an add per input, the bias last.
    fn in_order(x: &[f32], w: &[f32], bias: &[f32], d_in: usize, d_out: usize) -> Vec<f32> {
        let rows = x.len() / d_in;
        let mut out = vec![0f32; rows * d_out];
        for r in 0..rows {
            for o in 0..d_out {
                let mut acc = 0f32;
                for k in 0..d_in {
                    acc += x[r * d_in + k] * w[k * d_out + o];
                }
                let v = acc + bias[o];
                out[r * d_out + o] = if v < 0.0 { 0.0 } else { v };
            }
        }
        out
    }

    #[test]
    fn chunks_sum_every_output_in_order() {
        // Over two chunks and a part of a third, with batches ending in each partial tile.
        let (d_in, d_out) = (2 * CHUNK + 37, 16);
        let w: Vec<f32> = (0..d_in * d_out)
            .map(|k| ((k * 31 % 97) as f32 - 48.0) / 97.0)
            .collect();
        let bias: Vec<f32> = (0..d_out).map(|o| o as f32 / 8.0 - 1.0).collect();
        let packed = Packed::new(&w, &bias, d_in, d_out);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for rows in [1, 4, 6, 7] {
            let x: Vec<f32> = (0..rows * d_in)
                .map(|k| ((k * 7919 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let ours = packed.forward(&x, rows);
            assert_eq!(
                bits(&ours),
                bits(&in_order(&x, &w, &bias, d_in, d_out)),
                "{rows} rows"
            );
            assert!(ours.contains(&0.0) && ours.iter().any(|&v| v > 0.0));
        }
    }

    #[test]
    fn a_row_gets_the_same_bits_in_any_batch() {
        let (d_in, d_out) = (37, 16);
        let x: Vec<f32> = (0..5 * d_in)
            .map(|k| ((k * 7919 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let w: Vec<f32> = (0..d_in * d_out)
            .map(|k| ((k * 31 % 97) as f32 - 48.0) / 97.0)
            .collect();
        let packed = Packed::new(&w, &vec![0.1; d_out], d_in, d_out);
        let whole = packed.forward(&x, 5);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (start, rows) in [(4, 1), (3, 2), (2, 3), (1, 4)] {
            let part = packed.forward(&x[start * d_in..(start + rows) * d_in], rows);
            assert_eq!(
                bits(&whole[start * d_out..(start + rows) * d_out]),
                bits(&part)
            );
        }
    }
}
