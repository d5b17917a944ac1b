//! The CNN's same-padded 5×5 convolutions as one direct kernel on 4-lane vectors, for the
//! page: wasm `simd128` there, plain `[f32; 4]` natively (where only the tests run it).
//!
//! In the page burn-flex convolves by copying each image into an im2col matrix, letting gemm
//! pack it once more, and multiplying: the profile of a forward pass (docs/performance.md) put
//! 58 % of its time in gemm's simd128 micro-kernels and another 28 % in those two copies. This
//! kernel reads a zero-padded, channels-last copy of the image in place (4 % of the work of
//! one im2col), keeps its weights packed eight output channels at a time, and adds the bias
//! and the ReLU as it stores, so a convolution costs its multiply-adds and little else.
//!
//! Every output is summed in one fixed order — taps row by row, input channels within a tap,
//! the bias last — with a multiply and an add per term (wasm has no fused multiply-add outside
//! relaxed SIMD), so an image's features do not depend on the batch it came in (tested), and the
//! native `[f32; 4]` build does the page's roundings in the page's order. They are not burn's
//! sums: flex adds in gemm's order, with fused multiply-adds natively. So the native CLI keeps
//! burn's convolution, and committed runs reproduce bit for bit; only the page, whose rounding
//! already differed from the CLI's (its gemm has no fused multiply-add either), uses this
//! kernel. Its logits stay within 1e-4 of the CLI's (`tests/web.rs`, in wasm).

use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, TensorData};

use super::floats;
use super::pool::later;

/// Side of the square kernel.
pub const SIDE: usize = 5;
/// Taps of the kernel.
pub const TAPS: usize = SIDE * SIDE;
/// Zero padding on each side that keeps the output the input's size ("same").
const PAD: usize = SIDE / 2;
/// Output channels per packed block: two vectors.
const BLOCK: usize = 8;
/// Output pixels per register tile: 4 pixels × 2 vectors = 8 accumulators, which with the two
/// weight vectors, four broadcast inputs and a product fits the 15 vector registers V8
/// allocates from on x86-64. Measured in the page (`npm run profile:browser`): 4 × 8 channels
/// beat 5 × 8 and 8 × 4.
const TILE: usize = 4;

/// What [`Packed::convolve`] does to the sums it stores, after adding the bias: the ReLU, or
/// the ReLU and then the 2×2 max-pool.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Epilogue {
    Relu,
    ReluPool,
}

impl Epilogue {
    fn relu(pool: bool) -> Self {
        if pool { Self::ReluPool } else { Self::Relu }
    }
}

/// Whether [`conv_relu_pool`] applies: in the page (wasm32) on burn's flex CPU device, outside
/// autodiff, to an input with as many channels as the kernel has instances for (1, 32, 64)
/// and an even height and width.
pub fn applies(x: &Tensor<4>) -> bool {
    let [_, cin, h, w] = x.dims();
    cfg!(target_family = "wasm")
        && matches!(cin, 1 | 32 | 64)
        && h.is_multiple_of(2)
        && w.is_multiple_of(2)
        && super::on_host_cpu(x)
}

/// `pool(relu(conv(x) + bias))` for the CNN's same-padded 5×5, stride-1 convolution `conv`
/// on `x` `[n, cin, h, w]` (h and w even) and its 2×2, stride-2 max-pool, computed by
/// [`Packed::convolve`] on the host: the values of [`pool::max_pool_2x2`] on
/// [`Packed::convolve`]'s, bit for bit (tested), without writing the convolution's output.
pub fn conv_relu_pool(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    on_host(x, conv, true)
}

/// `relu(conv(x) + bias)`, then the pool when `pool`.
fn on_host(x: Tensor<4>, conv: &Conv2d, pool: bool) -> Tensor<4> {
    let [n, cin, h, w] = x.dims();
    let device = x.device();
    let [cout, ..] = conv.weight.dims();
    let (weights, bias) = weights(conv);
    let packed = Packed::new(&weights, cout, cin, &bias);
    let input = floats(x.into_data());
    let out = packed.convolve(&input, n, h, w, Epilogue::relu(pool));
    let (oh, ow) = if pool { (h / 2, w / 2) } else { (h, w) };
    Tensor::from_data(TensorData::new(out, [n, cout, oh, ow]), &device)
}

/// `conv`'s weights `[cout, cin, 5, 5]` and bias `[cout]` (zeros without one) on the host.
pub fn weights(conv: &Conv2d) -> (Vec<f32>, Vec<f32>) {
    let [cout, ..] = conv.weight.dims();
    let weights = floats(conv.weight.val().into_data());
    let bias = match &conv.bias {
        Some(b) => floats(b.val().into_data()),
        None => vec![0.0; cout],
    };
    (weights, bias)
}

/// A convolution's weights `[cout, cin, 5, 5]` repacked for the kernel: per block of eight
/// output channels, per tap, per input channel, the block's eight weights (zeros past
/// `cout`); and its bias, padded the same way.
#[derive(Clone, Debug)]
pub struct Packed {
    cin: usize,
    cout: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Packed {
    /// Packs `weights` `[cout, cin, 5, 5]` (PyTorch's and burn's layout) and `bias` `[cout]`.
    pub fn new(weights: &[f32], cout: usize, cin: usize, bias: &[f32]) -> Self {
        assert_eq!(
            weights.len(),
            cout * cin * TAPS,
            "weights [cout, cin, 5, 5]"
        );
        assert_eq!(bias.len(), cout, "bias [cout]");
        let blocks = cout.div_ceil(BLOCK);
        let mut packed = vec![0f32; blocks * TAPS * cin * BLOCK];
        for co in 0..cout {
            let (block, lane) = (co / BLOCK, co % BLOCK);
            for ci in 0..cin {
                for tap in 0..TAPS {
                    packed[((block * TAPS + tap) * cin + ci) * BLOCK + lane] =
                        weights[(co * cin + ci) * TAPS + tap];
                }
            }
        }
        let mut padded_bias = vec![0f32; blocks * BLOCK];
        padded_bias[..cout].copy_from_slice(bias);
        Self {
            cin,
            cout,
            weights: packed,
            bias: padded_bias,
        }
    }

    fn blocks(&self) -> usize {
        self.cout.div_ceil(BLOCK)
    }

    /// Convolves `input` `[n, cin, h, w]` (row-major, NCHW) into `[n, cout, h, w]`, adding the
    /// bias, clamping at 0 and, when `then` says so, max-pooling into `[n, cout, h/2, w/2]`
    /// (h and w even): each window's first maximum, or any NaN, as [`later`] takes it.
    pub fn convolve(
        &self,
        input: &[f32],
        n: usize,
        h: usize,
        w: usize,
        then: Epilogue,
    ) -> Vec<f32> {
        assert_eq!(input.len(), n * self.cin * h * w, "input [n, cin, h, w]");
        assert!(
            then != Epilogue::ReluPool || (h.is_multiple_of(2) && w.is_multiple_of(2)),
            "the pool needs an even height and width"
        );
        match self.cin {
            1 => self.convolve_with::<1>(input, n, h, w, then),
            32 => self.convolve_with::<32>(input, n, h, w, then),
            64 => self.convolve_with::<64>(input, n, h, w, then),
            cin => panic!("no kernel for {cin} input channels (the CNN has 1, 32 and 64)"),
        }
    }

    fn convolve_with<const CIN: usize>(
        &self,
        input: &[f32],
        n: usize,
        h: usize,
        w: usize,
        then: Epilogue,
    ) -> Vec<f32> {
        let (ph, pw) = (h + 2 * PAD, w + 2 * PAD);
        let plane = h * w;
        // What each image's output channel takes: a plane, or its pooled quarter.
        let (oh, ow) = match then {
            Epilogue::ReluPool => (h / 2, w / 2),
            _ => (h, w),
        };
        let out_plane = oh * ow;
        let mut padded = vec![0f32; ph * pw * CIN];
        let mut out = vec![0f32; n * self.cout * out_plane];
        let mut pixels = vec![0f32; plane * BLOCK];
        let block_len = TAPS * CIN * BLOCK;
        // Where each output pixel's window starts in the padded image, and each tap's offset.
        let starts: Vec<usize> = (0..plane).map(|p| (p / w * pw + p % w) * CIN).collect();
        let taps: [usize; TAPS] = std::array::from_fn(|t| (t / SIDE * pw + t % SIDE) * CIN);
        // The tiles' contract: the last pixel's last tap ends where the padded image does.
        let reach = starts.last().map_or(0, |s| s + taps[TAPS - 1] + CIN);
        assert!(reach <= padded.len() && self.weights.len() == self.blocks() * block_len);
        for img in 0..n {
            let image = &input[img * CIN * plane..(img + 1) * CIN * plane];
            let out = &mut out[img * self.cout * out_plane..(img + 1) * self.cout * out_plane];
            for ci in 0..CIN {
                for y in 0..h {
                    let at = ((y + PAD) * pw + PAD) * CIN + ci;
                    let row = &image[(ci * h + y) * w..(ci * h + y + 1) * w];
                    for x in 0..w {
                        padded[at + x * CIN] = row[x];
                    }
                }
            }
            for block in 0..self.blocks() {
                let weights = self.weights[block * block_len..(block + 1) * block_len].as_ptr();
                let bias = [
                    lanes::F4::load(&self.bias[block * BLOCK..block * BLOCK + 4]),
                    lanes::F4::load(&self.bias[block * BLOCK + 4..(block + 1) * BLOCK]),
                ];
                // Each pixel's eight channels as they come, then channel by channel into `out`.
                let mut store = |p: usize, acc: [lanes::F4; 2]| {
                    for half in 0..2 {
                        let v = acc[half].add(bias[half]).relu();
                        let at = p * BLOCK + half * 4;
                        v.store(&mut pixels[at..at + 4]);
                    }
                };
                let mut p = 0;
                while p + TILE <= plane {
                    let starts: &[usize; TILE] = starts[p..p + TILE].try_into().expect("a tile");
                    // SAFETY: every start and tap lies within `reach` (asserted above).
                    let acc = unsafe { tile_n::<CIN>(padded.as_ptr(), starts, &taps, weights) };
                    for (i, acc) in acc.into_iter().enumerate() {
                        store(p + i, acc);
                    }
                    p += TILE;
                }
                while p < plane {
                    // SAFETY: as above.
                    let [acc] =
                        unsafe { tile_1::<CIN>(padded.as_ptr(), &[starts[p]], &taps, weights) };
                    store(p, acc);
                    p += 1;
                }
                let channels = (self.cout - block * BLOCK).min(BLOCK);
                for lane in 0..channels {
                    let co = block * BLOCK + lane;
                    let channel = &mut out[co * out_plane..(co + 1) * out_plane];
                    let at = |p: usize| pixels[p * BLOCK + lane];
                    if then == Epilogue::ReluPool {
                        // The window row by row, as pool::max_pool_2x2 reads it.
                        for (py, row) in channel.chunks_exact_mut(ow).enumerate() {
                            for (px, y) in row.iter_mut().enumerate() {
                                let p = 2 * py * w + 2 * px;
                                let m = later(at(p), at(p + 1));
                                let m = later(m, at(p + w));
                                *y = later(m, at(p + w + 1));
                            }
                        }
                    } else {
                        for (p, y) in channel.iter_mut().enumerate() {
                            *y = at(p);
                        }
                    }
                }
            }
        }
        out
    }
}

/// `tile_n` and `tile_1`: the accumulators of [`TILE`] (or 1) consecutive output pixels × one
/// block of eight channels: for each tap, for each input channel, two weight vectors times
/// each pixel's broadcast input.
///
/// The page's crate is built for size (`opt-level = "z"`), which neither unrolls loops nor
/// inlines the standard library's iterator and `expect` calls: so the pixels are spelled out
/// (a loop over them would keep the accumulators in memory rather than registers) and the
/// loops walk raw pointers, whose bounds [`Packed::convolve_with`] checks once per call.
///
/// # Safety
/// For every pixel `i` and tap `t`, `padded[starts[i] + taps[t] .. + CIN]` and
/// `weights[t·CIN·8 .. (t+1)·CIN·8]` are in bounds.
/// One input channel `ci` of a tile: a vector of four channels' weights times each pixel's
/// input, broadcast.
macro_rules! step {
    ($acc:ident, $w:ident, $inputs:ident, $ci:expr; $($i:literal)+) => {{
        let ci = $ci;
        let w0 = lanes::F4::read($w.add(ci * BLOCK));
        let w1 = lanes::F4::read($w.add(ci * BLOCK + 4));
        $(
            let x = lanes::F4::splat(*$inputs[$i].add(ci));
            $acc[$i][0] = $acc[$i][0].mul_add(x, w0);
            $acc[$i][1] = $acc[$i][1].mul_add(x, w1);
        )+
    }};
}

macro_rules! tile {
    ($name:ident, $n:literal: $($i:literal)+) => {
        #[inline(always)]
        unsafe fn $name<const CIN: usize>(
            padded: *const f32,
            starts: &[usize; $n],
            taps: &[usize; TAPS],
            weights: *const f32,
        ) -> [[lanes::F4; 2]; $n] {
            let mut acc = [[lanes::F4::ZERO; 2]; $n];
            // Loops tested at the bottom (there is at least one tap and one channel): at
            // opt-level "z" LLVM does not rotate a `while` loop, which costs a second branch
            // per channel.
            let mut t = 0;
            loop {
                // SAFETY: in bounds by the caller's contract.
                unsafe {
                    let w = weights.add(t * CIN * BLOCK);
                    let inputs: [*const f32; $n] = [$(padded.add(starts[$i] + taps[t])),+];
                    let mut ci = 0;
                    loop {
                        step!(acc, w, inputs, ci; $($i)+);
                        ci += 1;
                        if ci == CIN {
                            break;
                        }
                    }
                }
                t += 1;
                if t == TAPS {
                    break;
                }
            }
            acc
        }
    };
}

tile!(tile_n, 4: 0 1 2 3);
tile!(tile_1, 1: 0);

/// Four f32 lanes: wasm `v128` in the page, an array natively; the same roundings in both
/// (a multiply, then an add).
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
pub(super) mod lanes {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct F4(v128);

    impl F4 {
        pub const ZERO: F4 = F4(f32x4(0.0, 0.0, 0.0, 0.0));

        #[inline(always)]
        pub fn load(v: &[f32]) -> F4 {
            let v: &[f32; 4] = v.try_into().expect("four lanes");
            // SAFETY: `v` is 16 readable bytes; v128.load has no alignment requirement.
            F4(unsafe { v128_load(v.as_ptr().cast::<v128>()) })
        }

        /// # Safety
        /// `p` points at 4 readable floats.
        #[inline(always)]
        pub unsafe fn read(p: *const f32) -> F4 {
            // SAFETY: by the contract; v128.load has no alignment requirement.
            F4(unsafe { v128_load(p.cast::<v128>()) })
        }

        #[inline(always)]
        pub fn splat(x: f32) -> F4 {
            F4(f32x4_splat(x))
        }

        /// `self + a·b`, rounded after the product and after the sum.
        #[inline(always)]
        pub fn mul_add(self, a: F4, b: F4) -> F4 {
            F4(f32x4_add(self.0, f32x4_mul(a.0, b.0)))
        }

        #[inline(always)]
        pub fn add(self, b: F4) -> F4 {
            F4(f32x4_add(self.0, b.0))
        }

        /// `max(self, 0)`; NaN stays NaN, as in burn's ReLU.
        #[inline(always)]
        pub fn relu(self) -> F4 {
            F4(f32x4_pmax(self.0, f32x4_splat(0.0)))
        }

        #[inline(always)]
        pub fn store(self, out: &mut [f32]) {
            let out: &mut [f32; 4] = out.try_into().expect("four lanes");
            // SAFETY: `out` is 16 writable bytes; v128.store has no alignment requirement.
            unsafe { v128_store(out.as_mut_ptr().cast::<v128>(), self.0) }
        }

        /// # Safety
        /// `p` points at 4 writable floats.
        #[inline(always)]
        pub unsafe fn write(self, p: *mut f32) {
            // SAFETY: by the contract; v128.store has no alignment requirement.
            unsafe { v128_store(p.cast::<v128>(), self.0) }
        }
    }
}

#[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
pub(super) mod lanes {
    #[derive(Clone, Copy)]
    pub struct F4([f32; 4]);

    impl F4 {
        pub const ZERO: F4 = F4([0.0; 4]);

        #[inline(always)]
        pub fn load(v: &[f32]) -> F4 {
            F4(v.try_into().expect("four lanes"))
        }

        /// # Safety
        /// `p` points at 4 readable floats.
        #[inline(always)]
        pub unsafe fn read(p: *const f32) -> F4 {
            // SAFETY: by the contract.
            F4(unsafe { p.cast::<[f32; 4]>().read_unaligned() })
        }

        #[inline(always)]
        pub fn splat(x: f32) -> F4 {
            F4([x; 4])
        }

        /// `self + a·b`, rounded after the product and after the sum (Rust never fuses them).
        #[inline(always)]
        pub fn mul_add(self, a: F4, b: F4) -> F4 {
            F4(std::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
        }

        #[inline(always)]
        pub fn add(self, b: F4) -> F4 {
            F4(std::array::from_fn(|i| self.0[i] + b.0[i]))
        }

        /// `max(self, 0)` as wasm's `f32x4.pmax(self, 0)` takes it: `x < 0 ? 0 : x`, so NaN
        /// stays NaN, as in burn's ReLU.
        #[inline(always)]
        pub fn relu(self) -> F4 {
            F4(self.0.map(|x| if x < 0.0 { 0.0 } else { x }))
        }

        #[inline(always)]
        pub fn store(self, out: &mut [f32]) {
            out.copy_from_slice(&self.0);
        }

        /// # Safety
        /// `p` points at 4 writable floats.
        #[inline(always)]
        pub unsafe fn write(self, p: *mut f32) {
            // SAFETY: by the contract.
            unsafe { p.cast::<[f32; 4]>().write_unaligned(self.0) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Device;
    use burn::tensor::Distribution;
    use burn::tensor::activation::relu;

    fn vec(t: Tensor<4>) -> Vec<f32> {
        floats(t.into_data())
    }

    fn close(ours: &[f32], burns: &[f32], what: &str) {
        assert_eq!(ours.len(), burns.len(), "{what}");
        let scale = burns.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in ours.iter().zip(burns).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * scale,
                "{what}[{i}]: {a} against burn's {b} (scale {scale})"
            );
        }
    }

    fn layer(cin: usize, cout: usize) -> Conv2d {
        Conv2dConfig::new([cin, cout], [SIDE, SIDE])
            .with_padding(PaddingConfig2d::Same)
            .init(&Device::flex())
    }

    fn normal(shape: [usize; 4]) -> Tensor<4> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Device::flex())
    }

    #[test]
    fn equals_burns_convolution_and_relu() {
        // The CNN's two convolutions, and sizes whose pixels are not a whole number of tiles.
        for (n, cin, cout, side) in [(3, 1, 32, 28), (2, 32, 64, 14), (1, 32, 64, 5)] {
            let conv = layer(cin, cout);
            let x = normal([n, cin, side, side]);
            let ours = vec(on_host(x.clone(), &conv, false));
            let burns = vec(relu(conv.forward(x)));
            close(
                &ours,
                &burns,
                &format!("conv {cin}→{cout} on {side}×{side}"),
            );
            assert!(ours.contains(&0.0) && ours.iter().any(|&v| v > 0.0));
        }
    }

    #[test]
    fn the_pooled_epilogue_is_the_pool_of_the_plain_one_bit_for_bit() {
        for (n, cin, cout, side) in [(2, 1, 32, 28), (3, 32, 64, 14), (1, 32, 64, 6)] {
            let conv = layer(cin, cout);
            let x = normal([n, cin, side, side]);
            let fused = vec(conv_relu_pool(x.clone(), &conv));
            let apart = vec(super::super::pool::max_pool_2x2(on_host(x, &conv, false)));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&fused),
                bits(&apart),
                "conv {cin}→{cout} on {side}×{side}"
            );
            assert!(fused.contains(&0.0) && fused.iter().any(|&v| v > 0.0));
        }
    }

    #[test]
    fn an_image_gets_the_same_bits_in_any_batch() {
        let conv = layer(32, 64);
        let x = normal([4, 32, 14, 14]);
        let whole = vec(on_host(x.clone(), &conv, false));
        let one = vec(on_host(x.narrow(0, 2, 1), &conv, false));
        let plane = 64 * 14 * 14;
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&whole[2 * plane..3 * plane]), bits(&one));
    }

    #[test]
    #[should_panic(expected = "no kernel for 3 input channels")]
    fn refuses_shapes_the_cnn_has_not() {
        Packed::new(&[0.0; 3 * 8 * TAPS], 8, 3, &[0.0; 8]).convolve(
            &[0.0; 3 * 4],
            1,
            2,
            2,
            Epilogue::Relu,
        );
    }
}
