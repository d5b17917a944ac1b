//! The CNN's 2×2, stride-2 max-pool on the CPU without autodiff: the same values as burn's
//! `MaxPool2d`, bit for bit, in about a third of its time.
//!
//! burn-flex's inference max-pool is its with-indices kernel with the indices dropped: a
//! scalar loop over a general 3-D window that also writes an `i64` index per output. Half the
//! CNN's pooled rows are read by every prediction the attacks make (JSMA's, FGSM's sweep,
//! L-BFGS's line searches, every recognition pass), and the pool was a quarter of a forward
//! pass's time (docs/performance.md). This kernel knows the window: it reads two rows and
//! writes one, which LLVM vectorises (simd128 in the page).
//!
//! It takes each window's maximum exactly as flex does, in row-major order, keeping the first
//! of equal values and letting any NaN win, so the logits are those of burn's pool, bit for
//! bit (tested below). Gradients still go through burn's `MaxPool2d`: its backward pass routes
//! each window's gradient to that first maximum, which this kernel does not record.

use burn::tensor::{Tensor, TensorData};

/// Whether [`max_pool_2x2`] applies: a tensor on burn's flex CPU device, outside autodiff, of
/// even height and width.
pub fn applies(x: &Tensor<4>) -> bool {
    let [_, _, h, w] = x.dims();
    h % 2 == 0 && w % 2 == 0 && super::on_host_cpu(x)
}

/// Max-pools `x` `[n, c, h, w]` (h and w even) with a 2×2 window and stride 2 on the host.
pub fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let input = x
        .into_data()
        .try_into_vec::<f32>()
        .expect("the CNN's activations are f32");
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0f32; n * c * oh * ow];
    let pool_plane = |(plane, pooled): (&[f32], &mut [f32])| {
        for (rows, pooled_row) in plane.chunks_exact(2 * w).zip(pooled.chunks_exact_mut(ow)) {
            let (top, bottom) = rows.split_at(w);
            for (j, y) in pooled_row.iter_mut().enumerate() {
                let m = later(top[2 * j], top[2 * j + 1]);
                let m = later(m, bottom[2 * j]);
                *y = later(m, bottom[2 * j + 1]);
            }
        }
    };
    // Natively on the current rayon pool, as burn's own kernels (one core under `--jobs`).
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        input
            .par_chunks_exact(h * w)
            .zip(out.par_chunks_exact_mut(oh * ow))
            .for_each(pool_plane);
    }
    #[cfg(target_family = "wasm")]
    input
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(oh * ow))
        .for_each(pool_plane);
    Tensor::from_data(TensorData::new(out, [n, c, oh, ow]), &device)
}

/// flex's rule for the next value of a window: it replaces the running maximum when greater,
/// or when NaN.
#[inline(always)]
pub fn later(max: f32, value: f32) -> f32 {
    if value > max || value.is_nan() {
        value
    } else {
        max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Device;
    use burn::tensor::Distribution;

    fn bits(t: Tensor<4>) -> Vec<u32> {
        t.into_data()
            .try_into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect()
    }

    #[test]
    fn equals_burns_pool_bit_for_bit() {
        let device = Device::flex();
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        for shape in [[3, 4, 28, 28], [2, 5, 14, 14], [1, 1, 2, 6]] {
            // Rounded values tie inside windows; -0.0 against 0.0 ties with different bits.
            let x = Tensor::<4>::random(shape, Distribution::Uniform(-2.0, 2.0), &device).round();
            let mut values = x.into_data().try_into_vec::<f32>().unwrap();
            values[0] = f32::NAN;
            values[5] = -0.0;
            values[shape[3] + 1] = f32::NAN;
            let x = Tensor::<4>::from_data(TensorData::new(values, shape), &device);
            assert!(applies(&x));
            let ours = bits(max_pool_2x2(x.clone()));
            let burns = bits(pool.forward(x));
            assert_eq!(ours, burns, "{shape:?}");
        }
    }

    #[test]
    fn leaves_autodiff_and_odd_sizes_to_burn() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 1, 4, 4], &device);
        assert!(applies(&x));
        assert!(!applies(&x.clone().autodiff()));
        assert!(!applies(&Tensor::<4>::zeros([1, 1, 5, 4], &device)));
    }
}
