//! Core throughput on the CPU backend (flex): forward passes, input gradients, a training step.
//! `cargo bench --bench core`; criterion prints images/s (its "elem/s").

use advdrop::data::Mnist;
use advdrop::model::{Cnn, DropoutScheme, MaskRng, TrainConfig};
use advdrop::train::Training;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn mnist() -> Mnist {
    let dir = std::env::var_os("ADVDROP_MNIST")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist")
        });
    Mnist::load(&dir).expect("MNIST (set ADVDROP_MNIST)")
}

fn batch(mnist: &Mnist, n: usize, device: &Device) -> Tensor<4> {
    let idx: Vec<usize> = (0..n).collect();
    mnist.test.images_tensor(&idx, device)
}

fn forward(c: &mut Criterion) {
    let mnist = mnist();
    let device = Device::flex();
    let model = Cnn::new(&device);
    let mut group = c.benchmark_group("forward");
    for (name, scheme) in [("none", DropoutScheme::NONE), ("all", DropoutScheme::ALL)] {
        for n in [1usize, 64, 256] {
            let images = batch(&mnist, n, &device);
            let mut rng = MaskRng::seed(0);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| model.forward(images.clone(), &scheme, &mut rng).into_data())
            });
        }
    }
    group.finish();
}

fn input_gradient(c: &mut Criterion) {
    let mnist = mnist();
    let device = Device::flex().autodiff();
    // Attacks differentiate with respect to the input only.
    let model = Cnn::new(&device).no_grad();
    let mut group = c.benchmark_group("input_gradient");
    for (name, scheme) in [("none", DropoutScheme::NONE), ("all", DropoutScheme::ALL)] {
        let n = 64;
        let images = batch(&mnist, n, &device);
        let mut rng = MaskRng::seed(0);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter(|| {
                let x = images.clone().require_grad();
                let loss = model.forward(x.clone(), &scheme, &mut rng).sum();
                let grads = loss.backward();
                x.grad(&grads).expect("input gradient").into_data()
            })
        });
    }
    group.finish();
}

fn training_step(c: &mut Criterion) {
    let mnist = mnist();
    let train = mnist.train().slice(0..64);
    let val = mnist.validation().slice(0..1);
    let config = TrainConfig {
        epochs: 1,
        batch_size: 64,
        learning_rate: 1e-3,
        lr_decay: 1.0,
        seed: 0,
        fc_dropout: 0.5,
    };
    let mut run = Training::start(config, &Device::flex(), None, false).unwrap();
    let mut group = c.benchmark_group("training_step");
    group.throughput(Throughput::Elements(64));
    group.sample_size(20);
    group.bench_function("batch64", |b| {
        b.iter(|| run.run_epoch(&train, &val, &mut |_| {}).unwrap())
    });
    group.finish();
}

criterion_group!(benches, forward, input_gradient, training_step);
criterion_main!(benches);
