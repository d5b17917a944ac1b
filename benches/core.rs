//! Core throughput on the CPU backend (flex): forward passes, input gradients, a training step.
//! `cargo bench --bench core`; criterion prints images/s (its "elem/s").
//!
//! `cargo bench --features ndarray --bench core -- ndarray` times the same three on burn's ndarray
//! backend (compiled in only with that feature) instead
//! (groups `forward_ndarray`, ...): they are registered only when the filter names them, so the
//! default run stays flex-only and as long as before.
//!
//! `cargo bench --bench core -- wgpu` likewise times them on burn's wgpu backend (Vulkan on the
//! machine's first GPU; `benches/pytorch/run.sh --gpu` runs it beside PyTorch on CUDA). Each
//! iteration reads its result back, so a GPU figure includes the transfer and the wait.

use advdrop::backend::Backend;
use advdrop::data::Mnist;
use advdrop::model::{Cnn, DropoutScheme, MaskRng, MaskSource, RowStreams, TrainConfig};
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

/// The filter words that register the ndarray and the wgpu groups.
const NDARRAY: &str = "ndarray";
const WGPU: &str = "wgpu";

/// Whether the command line's filter names `word` (criterion's own arguments start with `-`).
fn filter_names(word: &str) -> bool {
    std::env::args()
        .skip(1)
        .any(|arg| !arg.starts_with('-') && arg.contains(word))
}

/// ndarray's backward pass takes seconds per batch of 64: criterion's fewest samples keep each
/// of its gradient and training benches to about a minute.
const NDARRAY_SAMPLES: usize = 10;

/// Group `name` on flex, `name_ndarray` on ndarray.
fn group_name(name: &str, backend: Backend) -> String {
    match backend {
        Backend::Flex => name.to_owned(),
        other => format!("{name}_{other}"),
    }
}

fn forward(c: &mut Criterion, backend: Backend) {
    let mnist = mnist();
    let device = backend.device();
    let model = Cnn::new(&device);
    let mut group = c.benchmark_group(group_name("forward", backend));
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

fn input_gradient(c: &mut Criterion, backend: Backend) {
    let mnist = mnist();
    let device = backend.device().autodiff();
    // Attacks differentiate with respect to the input only.
    let model = Cnn::new(&device).no_grad();
    let mut group = c.benchmark_group(group_name("input_gradient", backend));
    if backend.name() == NDARRAY {
        group.sample_size(NDARRAY_SAMPLES);
    }
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

fn training_step(c: &mut Criterion, backend: Backend) {
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
    let mut run = Training::start(config, &backend.device(), None, false).unwrap();
    let mut group = c.benchmark_group(group_name("training_step", backend));
    group.throughput(Throughput::Elements(64));
    group.sample_size(if backend.name() == NDARRAY {
        NDARRAY_SAMPLES
    } else {
        20
    });
    group.bench_function("batch64", |b| {
        b.iter(|| run.run_epoch(&train, &val, &mut |_| {}).unwrap())
    });
    group.finish();
}

/// The three groups on `backend`.
fn groups(c: &mut Criterion, backend: Backend) {
    forward(c, backend);
    input_gradient(c, backend);
    training_step(c, backend);
}

fn flex(c: &mut Criterion) {
    groups(c, Backend::Flex);
}

#[cfg(feature = "ndarray")]
fn ndarray(c: &mut Criterion) {
    if !filter_names(NDARRAY) {
        return;
    }
    groups(c, Backend::NdArray);
}

#[cfg(not(feature = "ndarray"))]
fn ndarray(_: &mut Criterion) {
    assert!(
        !filter_names(NDARRAY),
        "this build has no ndarray backend: cargo bench --features ndarray --bench core -- ndarray"
    );
}

fn wgpu(c: &mut Criterion) {
    if !filter_names(WGPU) {
        return;
    }
    groups(c, Backend::Wgpu);
}

/// The masks of one forward pass under `all` for 256 images, each image from its own stream
/// (as the protocol draws them): 784 + 6,272 + 3,136 + 1,024 values per image, on one core.
fn masks(c: &mut Criterion) {
    let mut group = c.benchmark_group("masks");
    group.throughput(Throughput::Elements(256));
    group.bench_function("all/256", |b| {
        let mut pass = 0;
        b.iter(|| {
            pass += 1;
            let rows = (0..256).map(|i| MaskRng::stream(i, pass)).collect();
            let mut masks = RowStreams::new(rows);
            let s = DropoutScheme::ALL;
            let sites = [
                (784, s.input),
                (6272, s.feature),
                (3136, s.feature),
                (1024, s.fc),
            ];
            sites.map(|(per_row, p)| masks.mask(256, per_row, p).len())
        })
    });
    group.finish();
}

criterion_group!(benches, flex, ndarray, wgpu, masks);
criterion_main!(benches);
