//! The page's input gradients: the CNN's forward pass on the host kernels, keeping what its
//! backward pass needs (a [`Tape`]), and that backward pass written out by hand.
//!
//! In the page every gradient an attack asks for (FGSM's, JSMA's saliency maps, DeepFool's
//! linearisations, L-BFGS's) went through burn's autodiff on flex: im2col convolutions forward,
//! their transposes backward, and a with-indices max-pool, none of them the page's own kernels.
//! Here the forward pass is the page's prediction path — [`conv`](super::conv)'s direct
//! kernel with bias and ReLU, the 2×2 pool in flex's order, the same masks drawn in the same
//! order — so its logits are the page's logits, bit for bit. The backward pass needs only the
//! input gradient (the weights are frozen):
//!
//! - the FC layers: `dh = g · W₂ᵀ`, gated by the FC mask and the ReLU, then `d = dh · W₁ᵀ`,
//!   through burn's matmul (strided gemm: the transposes are views, not copies);
//! - each max-pool routes a window's gradient to the first maximum of the window, as burn's
//!   pool does, and only where that maximum is positive (the ReLU before it);
//! - so each convolution's output gradient is zero at three pixels of every four or more, and
//!   its input gradient is taken as a transposed convolution over the others: each picked
//!   pixel adds its gradient times its 25 taps' weights into the input channels under them
//!   ([`conv_pool_backward`]), a quarter of the dense convolution's work at most.
//!
//! Natively the CLI keeps burn's autodiff (committed runs reproduce bit for bit); these unit
//! tests check this path against it on the same masks.

use burn::tensor::{Device, Tensor, TensorData};

use super::cnn::{CLASSES, Cnn, FLAT_FEATURES, HIDDEN};
use super::conv::{self, Epilogue, Packed, TAPS, lanes};
use super::dropout::{DropoutScheme, MaskSource};
use super::floats;
use super::pool::later;

/// Pixels of an MNIST image.
const PIXELS: usize = 28 * 28;
/// The CNN's channels after its two convolutions.
const C1: usize = 32;
const C2: usize = 64;
/// A window whose maximum is not positive: the ReLU before the pool passes no gradient.
const NONE: u8 = u8::MAX;

/// Whether the page's host forward and backward apply to a CNN on `device`: in the page
/// (wasm32) on burn's flex CPU device.
pub fn applies(device: &Device) -> bool {
    cfg!(target_family = "wasm") && device.clone().without_autodiff() == Device::flex()
}

/// What the backward pass of one forward pass needs.
pub struct Tape {
    rows: usize,
    /// The convolutions' weights, tap-major: `[cout, 25, cin]`.
    conv1: Vec<f32>,
    conv2: Vec<f32>,
    fc1: Tensor<2>,
    fc2: Tensor<2>,
    input_mask: Option<Vec<f32>>,
    /// Per pooled output, which of its window's four pixels was the maximum, or [`NONE`].
    picks1: Vec<u8>,
    feature_mask1: Option<Vec<f32>>,
    picks2: Vec<u8>,
    feature_mask2: Option<Vec<f32>>,
    /// The FC hidden layer after its ReLU, before its dropout.
    hidden: Vec<f32>,
    fc_mask: Option<Vec<f32>>,
}

/// Logits `[rows, 10]` of `images` (`rows × 784` pixels) under `scheme`, masks drawn from
/// `masks` in [`Cnn::forward`]'s order, and the tape of the pass.
pub fn forward(
    cnn: &Cnn,
    images: &[f32],
    scheme: &DropoutScheme,
    masks: &mut dyn MaskSource,
) -> (Vec<f32>, Tape) {
    let rows = images.len() / PIXELS;
    assert_eq!(images.len(), rows * PIXELS, "images [rows, 784]");
    let device = cnn.conv1.weight.device().without_autodiff();
    let mut draw = |x: &mut [f32], p: f32| {
        (p > 0.0).then(|| {
            let mask = masks.mask(rows, x.len() / rows.max(1), p);
            x.iter_mut().zip(&mask).for_each(|(v, m)| *v *= m);
            mask
        })
    };
    let mut x = images.to_vec();
    let input_mask = draw(&mut x, scheme.input);
    let (w1, b1) = conv::weights(&cnn.conv1);
    let a1 = Packed::new(&w1, C1, 1, &b1).convolve(&x, rows, 28, 28, Epilogue::Relu);
    let (mut p1, picks1) = pool(&a1, rows * C1, 28, 28);
    let feature_mask1 = draw(&mut p1, scheme.feature);
    let (w2, b2) = conv::weights(&cnn.conv2);
    let a2 = Packed::new(&w2, C2, C1, &b2).convolve(&p1, rows, 14, 14, Epilogue::Relu);
    let (mut p2, picks2) = pool(&a2, rows * C2, 14, 14);
    let feature_mask2 = draw(&mut p2, scheme.feature);
    let features = Tensor::<2>::from_data(TensorData::new(p2, [rows, FLAT_FEATURES]), &device);
    let mut hidden = floats(cnn.fc1_relu(features).into_data());
    let kept = hidden.clone();
    let fc_mask = draw(&mut hidden, scheme.fc);
    let dropped = Tensor::<2>::from_data(TensorData::new(hidden, [rows, HIDDEN]), &device);
    let logits = floats(cnn.fc2.forward(dropped).into_data());
    let tape = Tape {
        rows,
        conv1: tap_major(&w1, C1, 1),
        conv2: tap_major(&w2, C2, C1),
        fc1: cnn.fc1.weight.val(),
        fc2: cnn.fc2.weight.val(),
        input_mask,
        picks1,
        feature_mask1,
        picks2,
        feature_mask2,
        hidden: kept,
        fc_mask,
    };
    (logits, tape)
}

impl Tape {
    /// The input gradient (`rows × 784`) of `Σ g ⊙ logits`, for `g` `[rows, 10]`.
    pub fn input_gradient(self, g: &[f32]) -> Vec<f32> {
        let rows = self.rows;
        assert_eq!(g.len(), rows * CLASSES, "logit gradients [rows, 10]");
        let device = self.fc2.device();
        let g = Tensor::<2>::from_data(TensorData::new(g.to_vec(), [rows, CLASSES]), &device);
        let mut dh = floats(g.matmul(self.fc2.transpose()).into_data());
        gate(&mut dh, self.fc_mask.as_deref());
        for (d, &h) in dh.iter_mut().zip(&self.hidden) {
            if h <= 0.0 {
                *d = 0.0;
            }
        }
        let dh = Tensor::<2>::from_data(TensorData::new(dh, [rows, HIDDEN]), &device);
        let mut dp2 = floats(dh.matmul(self.fc1.transpose()).into_data());
        gate(&mut dp2, self.feature_mask2.as_deref());
        let mut dp1 = conv_pool_backward::<C1>(&dp2, &self.picks2, &self.conv2, rows, C2, 14, 14);
        gate(&mut dp1, self.feature_mask1.as_deref());
        let mut dx = conv_pool_backward::<1>(&dp1, &self.picks1, &self.conv1, rows, C1, 28, 28);
        gate(&mut dx, self.input_mask.as_deref());
        dx
    }
}

/// `x ⊙ mask`, where a dropout site drew one.
fn gate(x: &mut [f32], mask: Option<&[f32]>) {
    if let Some(mask) = mask {
        x.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
    }
}

/// A convolution's weights `[cout, cin, 5, 5]` as `[cout, 25, cin]`: per output channel and
/// tap, the input channels side by side.
fn tap_major(weights: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let mut t = vec![0f32; weights.len()];
    for co in 0..cout {
        for ci in 0..cin {
            for tap in 0..TAPS {
                t[(co * TAPS + tap) * cin + ci] = weights[(co * cin + ci) * TAPS + tap];
            }
        }
    }
    t
}

/// The input gradient `[rows, CIN, h, w]` of a layer `pool(relu(conv(x) + b))` — a
/// same-padded 5×5 convolution with `weights` `[cout, 25, CIN]` ([`tap_major`]), then the
/// 2×2 pool whose `picks` [`pool`] recorded — from the gradient `grad` `[rows, cout, h/2,
/// w/2]` of its pooled output. Each pooled output passes its gradient to its picked pixel
/// `(y, x)` (none where the ReLU was off), which fed input pixel `(y + ky − 2, x + kx − 2)`
/// through tap `(ky, kx)`: so it adds `g · w[co, tap, ·]` to those pixels' channels.
fn conv_pool_backward<const CIN: usize>(
    grad: &[f32],
    picks: &[u8],
    weights: &[f32],
    rows: usize,
    cout: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
    let (oh, ow) = (h / 2, w / 2);
    let pooled = oh * ow;
    assert_eq!(
        grad.len(),
        rows * cout * pooled,
        "pooled gradients [rows, cout, h/2, w/2]"
    );
    assert_eq!(picks.len(), grad.len(), "a pick per pooled output");
    assert_eq!(weights.len(), cout * TAPS * CIN, "weights [cout, 25, cin]");
    // The input's gradient, zero-padded by 2 on each side and channels-last, so that every
    // tap of every pixel lands inside it.
    let (ph, pw) = (h + 4, w + 4);
    let mut acc = vec![0f32; ph * pw * CIN];
    let mut out = vec![0f32; rows * CIN * h * w];
    for row in 0..rows {
        acc.fill(0.0);
        for co in 0..cout {
            let taps = &weights[co * TAPS * CIN..(co + 1) * TAPS * CIN];
            let at = (row * cout + co) * pooled;
            for (k, (&g, &pick)) in grad[at..at + pooled]
                .iter()
                .zip(&picks[at..at + pooled])
                .enumerate()
            {
                if pick == NONE || g == 0.0 {
                    continue;
                }
                let y = 2 * (k / ow) + pick as usize / 2;
                let x = 2 * (k % ow) + pick as usize % 2;
                for ky in 0..5 {
                    let line = ((y + ky) * pw + x) * CIN;
                    let weights = &taps[ky * 5 * CIN..(ky + 1) * 5 * CIN];
                    axpy::<CIN>(&mut acc[line..line + 5 * CIN], g, weights);
                }
            }
        }
        let out = &mut out[row * CIN * h * w..(row + 1) * CIN * h * w];
        for ci in 0..CIN {
            for yy in 0..h {
                for xx in 0..w {
                    out[(ci * h + yy) * w + xx] = acc[((yy + 2) * pw + xx + 2) * CIN + ci];
                }
            }
        }
    }
    out
}

/// `acc += g · weights` over five taps' `CIN` channels (`5 × CIN` floats each): four lanes at
/// a time where `CIN` allows.
#[inline(always)]
fn axpy<const CIN: usize>(acc: &mut [f32], g: f32, weights: &[f32]) {
    let len = 5 * CIN;
    assert!(acc.len() == len && weights.len() == len);
    if CIN.is_multiple_of(4) {
        let g = lanes::F4::splat(g);
        let (a, w) = (acc.as_mut_ptr(), weights.as_ptr());
        let mut i = 0;
        loop {
            // SAFETY: i + 4 ≤ len for both slices (asserted above; len is a multiple of 4).
            unsafe {
                let v = lanes::F4::read(a.add(i)).mul_add(g, lanes::F4::read(w.add(i)));
                v.write(a.add(i));
            }
            i += 4;
            if i == len {
                break;
            }
        }
    } else {
        for (a, &w) in acc.iter_mut().zip(weights) {
            *a += g * w;
        }
    }
}

/// The 2×2, stride-2 max-pool of `planes` planes `h × w`: the values of
/// [`max_pool_2x2`](super::pool::max_pool_2x2), and per output which window pixel (0–3, row
/// by row) holds the first maximum, or [`NONE`] where that maximum is not positive.
fn pool(input: &[f32], planes: usize, h: usize, w: usize) -> (Vec<f32>, Vec<u8>) {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0f32; planes * oh * ow];
    let mut picks = vec![NONE; planes * oh * ow];
    for (k, (y, pick)) in out.iter_mut().zip(&mut picks).enumerate() {
        let (plane, r, c) = (k / (oh * ow), k / ow % oh, k % ow);
        let at = plane * h * w + 2 * r * w + 2 * c;
        let window = [input[at], input[at + 1], input[at + w], input[at + w + 1]];
        let mut m = window[0];
        let mut best = 0;
        for (i, &v) in window.iter().enumerate().skip(1) {
            let next = later(m, v);
            if next.to_bits() != m.to_bits() {
                best = i;
            }
            m = next;
        }
        *y = m;
        if m > 0.0 {
            *pick = best as u8;
        }
    }
    (out, picks)
}

// Native only: they read the weights and MNIST from disk (tests/web.rs checks the same in wasm).
#[cfg(all(test, not(target_family = "wasm")))]
mod tests {
    use super::*;
    use crate::model::MaskRng;
    use burn::module::Module;

    fn images(rows: usize) -> Vec<f32> {
        let mnist = crate::data::Mnist::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist"),
        );
        match mnist {
            Ok(m) => (0..rows)
                .flat_map(|i| m.test.image(i).iter().map(|&p| p as f32 / 255.0))
                .collect(),
            // Without MNIST beside the repository: smooth strokes of a deterministic pattern.
            Err(_) => (0..rows * PIXELS)
                .map(|k| (((k * 7919) % 113) as f32 / 113.0).powi(3))
                .collect(),
        }
    }

    /// The shipped network on `device`, frozen as the attacks use it.
    fn shipped(device: &Device) -> Cnn {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("www/model/advdrop-cnn.safetensors"),
        )
        .expect("shipped weights");
        Cnn::from_safetensors(&bytes, device)
            .expect("weights")
            .no_grad()
    }

    /// burn's logits and input gradient of `Σ g ⊙ logits` under `scheme`, masks from `seed`.
    fn burns(x: &[f32], g: &[f32], scheme: &DropoutScheme, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        let cnn = shipped(&device);
        let rows = x.len() / PIXELS;
        let x = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [rows, 1, 28, 28]), &device)
            .require_grad();
        let logits = cnn.forward(x.clone(), scheme, &mut MaskRng::seed(seed));
        let g = Tensor::<2>::from_data(TensorData::new(g.to_vec(), [rows, CLASSES]), &device);
        let grads = (logits.clone() * g).sum().backward();
        let dx = x.grad(&grads).expect("input gradient");
        (floats(logits.into_data()), floats(dx.into_data()))
    }

    fn close(ours: &[f32], burns: &[f32], tolerance: f32, what: &str) {
        assert_eq!(ours.len(), burns.len(), "{what}");
        let scale = burns.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{what}: all zero");
        for (i, (a, b)) in ours.iter().zip(burns).enumerate() {
            assert!(
                (a - b).abs() <= tolerance * scale,
                "{what}[{i}]: {a} against burn's {b} (scale {scale})"
            );
        }
    }

    #[test]
    fn gradients_equal_burns_autodiff_on_the_same_masks() {
        let cnn = shipped(&Device::flex());
        let rows = 3;
        let x = images(rows);
        // A weighted sum of logits per row, as DeepFool's and JSMA's queries ask.
        let g: Vec<f32> = (0..rows * CLASSES)
            .map(|k| ((k * 37 % 11) as f32 - 5.0) / 5.0)
            .collect();
        for (name, scheme) in [("none", DropoutScheme::NONE), ("all", DropoutScheme::ALL)] {
            let (logits, tape) = forward(&cnn, &x, &scheme, &mut MaskRng::seed(9));
            let ours = tape.input_gradient(&g);
            let (want_logits, want) = burns(&x, &g, &scheme, 9);
            close(&logits, &want_logits, 1e-5, &format!("logits under {name}"));
            close(&ours, &want, 1e-4, &format!("input gradient under {name}"));
        }
    }

    #[test]
    fn the_pool_picks_the_first_maximum_and_gates_the_relu() {
        // One 2×4 plane: windows [1, 3 / 3, 0] (first 3 wins, at 1) and [0, 0 / 0, 0] (none).
        let input = [1.0, 3.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0];
        let (out, picks) = pool(&input, 1, 2, 4);
        assert_eq!(out, [3.0, 0.0]);
        assert_eq!(picks, [1, NONE]);
    }
}
