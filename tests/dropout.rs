//! Test-time dropout: identity at p = 0, rate and mean within binomial bounds, fresh masks
//! per pass, reproducible per seed.
// Native only: `wasm-pack test` builds every test target for wasm32; tests/web.rs is the wasm one.
#![cfg(not(target_family = "wasm"))]

use advdrop::eval::recognition::{EVAL_BATCH, recognise};
use advdrop::model::dropout::dropout;
use advdrop::model::{Cnn, DropoutScheme, MaskRng};
use burn::tensor::{Device, Tensor, TensorData};

fn ones(n: usize, device: &Device) -> Tensor<2> {
    Tensor::ones([n / 100, 100], device)
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

#[test]
fn rate_zero_is_the_identity() {
    let device = Device::flex();
    let x = Tensor::<2>::random([8, 50], burn::tensor::Distribution::Default, &device);
    let mut rng = MaskRng::seed(1);
    let before = rng.clone().next_u64();
    assert_eq!(values(dropout(x.clone(), 0.0, &mut rng)), values(x));
    assert_eq!(rng.next_u64(), before, "p = 0 must not consume randomness");
}

#[test]
fn zeroed_fraction_and_mean_match_the_rate() {
    let device = Device::flex();
    let n = 200_000;
    for p in [0.1f32, 0.2, 0.5] {
        let out = values(dropout(ones(n, &device), p, &mut MaskRng::seed(3)));
        let zeros = out.iter().filter(|&&v| v == 0.0).count() as f64;
        let sd = (p as f64 * (1.0 - p as f64) / n as f64).sqrt();
        // 5 standard deviations: fails by chance with probability < 1e-6.
        assert!(
            (zeros / n as f64 - p as f64).abs() < 5.0 * sd,
            "p={p} zeroed {zeros}"
        );
        let kept = 1.0 / (1.0 - p);
        assert!(out.iter().all(|&v| v == 0.0 || (v - kept).abs() < 1e-6));
        let mean = out.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        // Inverted dropout: the mean of a unit input stays 1 (sd of the mean: sd·kept).
        assert!(
            (mean - 1.0).abs() < 5.0 * sd * kept as f64,
            "p={p} mean {mean}"
        );
    }
}

#[test]
fn every_pass_draws_new_masks_and_a_seed_reproduces_them() {
    let device = Device::flex();
    let model = Cnn::new(&device);
    let images = Tensor::<4>::random([4, 1, 28, 28], burn::tensor::Distribution::Default, &device);
    let mut rng = MaskRng::seed(11);
    let first = values(model.forward(images.clone(), &DropoutScheme::ALL, &mut rng));
    let second = values(model.forward(images.clone(), &DropoutScheme::ALL, &mut rng));
    assert_ne!(first, second, "two passes must use different masks");
    let again = values(model.forward(images.clone(), &DropoutScheme::ALL, &mut MaskRng::seed(11)));
    assert_eq!(first, again, "one seed must reproduce its masks");
    let plain_a = values(model.forward(images.clone(), &DropoutScheme::NONE, &mut rng));
    let plain_b = values(model.forward(images, &DropoutScheme::NONE, &mut rng));
    assert_eq!(plain_a, plain_b, "scheme none is deterministic");
}

#[test]
fn each_site_is_actually_used() {
    let device = Device::flex();
    let model = Cnn::new(&device);
    let images = Tensor::<4>::random([2, 1, 28, 28], burn::tensor::Distribution::Default, &device);
    let plain = values(model.forward(images.clone(), &DropoutScheme::NONE, &mut MaskRng::seed(0)));
    for scheme in [
        DropoutScheme::INPUT,
        DropoutScheme::FEATURE,
        DropoutScheme::FC,
    ] {
        let dropped = values(model.forward(images.clone(), &scheme, &mut MaskRng::seed(0)));
        assert_ne!(plain, dropped, "scheme {scheme} changed nothing");
    }
}

#[test]
fn recognition_under_fc_dropout_equals_a_plain_loop_of_passes() {
    // `recognise` computes the convolutional features once when only the FC layer drops out;
    // the classes must be those of full forward passes drawing masks in the same order.
    let device = Device::flex();
    let model = Cnn::new(&device);
    let n = 600; // two chunks of EVAL_BATCH
    let passes = 4;
    let images: Vec<f32> = {
        let mut rng = MaskRng::seed(5);
        (0..n * 784)
            .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
            .collect()
    };
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let scheme = DropoutScheme::FC;

    let mut rng = MaskRng::seed(9);
    let mut votes = vec![[0u32; 10]; n];
    let mut single_pass = 0;
    for pass in 0..passes {
        for start in (0..n).step_by(EVAL_BATCH) {
            let len = EVAL_BATCH.min(n - start);
            let x = Tensor::<4>::from_data(
                TensorData::new(
                    images[start * 784..(start + len) * 784].to_vec(),
                    [len, 1, 28, 28],
                ),
                &device,
            );
            let classes: Vec<i64> = model
                .forward(x, &scheme, &mut rng)
                .argmax(1)
                .into_data()
                .iter::<i64>()
                .collect();
            for (j, &c) in classes.iter().enumerate() {
                votes[start + j][c as usize] += 1;
                single_pass += (pass == 0 && c == labels[start + j] as i64) as usize;
            }
        }
    }
    let r = pollster::block_on(recognise(
        &model,
        &images,
        &labels,
        &scheme,
        passes,
        &mut MaskRng::seed(9),
        &device,
    ))
    .unwrap();
    let vote = votes
        .iter()
        .zip(&labels)
        .filter(|(v, l)| (0..10).fold(0, |b, c| if v[c] > v[b] { c } else { b }) == **l as usize)
        .count();
    assert_eq!(
        (r.single_pass, r.vote, r.passes),
        (single_pass, vote, passes)
    );
    let split = votes
        .iter()
        .filter(|v| v.iter().all(|&c| c < passes as u32))
        .count();
    assert!(
        split > 0,
        "the passes must disagree somewhere, or the test proves nothing"
    );
}
