#!/usr/bin/env python3
"""advdrop's core benchmarks (benches/core.rs) beside the same CNN in PyTorch, in one run.

Usage (from the repository root; benches/pytorch/run.sh makes the venv and calls this):

    python benches/pytorch/side_by_side.py             # PyTorch, then cargo bench, then the table
    python benches/pytorch/side_by_side.py --ndarray   # also burn's ndarray backend
    python benches/pytorch/side_by_side.py --profile   # also where the time goes, batch 64
    python benches/pytorch/side_by_side.py --gpu       # burn's wgpu beside PyTorch on CUDA

With --gpu both sides run on the machine's GPU: PyTorch on CUDA (TF32 off, so that both
compute in float32) and advdrop's `wgpu` criterion groups (Vulkan). --bench-binary runs a
prebuilt `core` bench executable instead of cargo (a GPU machine without the Rust toolchain).

The network is src/model/cnn.rs's: [n,1,28,28] -> input dropout -> conv 5x5x32 (same) -> ReLU
-> max-pool 2 -> feature dropout -> conv 5x5x64 (same) -> ReLU -> max-pool 2 -> feature dropout
-> flatten 3136 -> fc 1024 -> ReLU -> fc dropout -> fc 10. Before timing anything it loads the
shipped weights (www/model/advdrop-cnn.safetensors) and checks its logits for test images 0-7
against tests/fixtures/native-logits.json (what advdrop computes natively), within 1e-4.

Each PyTorch figure times what the criterion bench of the same name times, on the same test
images: a forward pass with its logits read back (`forward/<scheme>/<batch>`), the gradient of
the summed logits with respect to the input, read back (`input_gradient/<scheme>/64`), and one
epoch of 64 training images at batch 64 (`training_step/batch64`: shuffle, forward with FC
dropout 0.5, cross-entropy, backward, Adam, loss and accuracy read back, then validation on one
image). Dropout is inverted dropout drawn by PyTorch's own RNG (advdrop draws its masks with
ChaCha8 on the CPU: same work, other random numbers). Figures are images/s at the median of
the per-iteration times, after a warm-up, over at least --seconds seconds each; advdrop's are
images/s at criterion's median estimate.
"""

import argparse
import gzip
import json
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "www/model/advdrop-cnn.safetensors"
FIXTURE = ROOT / "tests/fixtures/native-logits.json"
# The fixture is advdrop's own output; PyTorch's kernels may sum in another order.
FIXTURE_TOLERANCE = 1e-4

# src/model/dropout.rs: rates (input, feature, fc) of the two schemes the benches time.
SCHEMES = {"none": (0.0, 0.0, 0.0), "all": (0.1, 0.2, 0.5)}
# benches/core.rs: batch sizes and the training configuration.
FORWARD_BATCHES = (1, 64, 256)
GRADIENT_BATCH = 64
TRAIN_BATCH = 64
TRAIN_RATES = (0.0, 0.0, 0.5)
LEARNING_RATE = 1e-3
# burn's AdamConfig defaults (PyTorch's own epsilon is 1e-8).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-5
# The paper's split of the training file: the last 10,000 images validate.
TRAINING_IMAGES = 50_000

WARM_UP_SECONDS = 0.5
MIN_ITERATIONS = 10


class Cnn(torch.nn.Module):
    """Fig. 1's network with advdrop's three dropout sites, PyTorch layout (as the file)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 5, padding="same")
        self.conv2 = torch.nn.Conv2d(32, 64, 5, padding="same")
        self.fc1 = torch.nn.Linear(7 * 7 * 64, 1024)
        self.fc2 = torch.nn.Linear(1024, 10)

    def forward(self, x, rates):
        p_input, p_feature, p_fc = rates
        x = dropout(x, p_input)
        x = dropout(F.max_pool2d(F.relu(self.conv1(x)), 2), p_feature)
        x = dropout(F.max_pool2d(F.relu(self.conv2(x)), 2), p_feature)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(dropout(x, p_fc))


def dropout(x, p):
    """Test-time inverted dropout: always on when p > 0, the identity (and no draw) at 0."""
    return F.dropout(x, p, training=True) if p > 0 else x


# Where PyTorch computes: the CPU, or CUDA under --gpu.
DEVICE = torch.device("cpu")


def shipped_model():
    model = Cnn()
    weights = {k: torch.from_numpy(v.astype(np.float32)) for k, v in load_file(WEIGHTS).items()}
    model.load_state_dict(weights, strict=True)
    return model.to(DEVICE).eval()


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_dir():
    return Path(os.environ.get("ADVDROP_MNIST", ROOT.parent / "shared/data/mnist"))


def to_images(pixels):
    """Bytes [n,28,28] -> float [n,1,28,28] in [0,1], as Split::images_tensor makes them."""
    return torch.from_numpy(pixels.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)


def check_fixture(model, test_pixels):
    fixture = json.loads(FIXTURE.read_text())
    images = to_images(test_pixels[fixture["images"]]).to(DEVICE)
    with torch.inference_mode():
        logits = model(images, SCHEMES["none"]).flatten().cpu().numpy()
    want = np.asarray(fixture["logits"], dtype=np.float32)
    worst = float(np.max(np.abs(logits - want)))
    if worst > FIXTURE_TOLERANCE:
        sys.exit(
            f"PyTorch logits differ from {FIXTURE.name} by {worst:.2e} (> {FIXTURE_TOLERANCE})"
        )
    print(
        f"PyTorch logits match {FIXTURE.relative_to(ROOT)}: max |diff| {worst:.1e}",
        file=sys.stderr,
    )


def images_per_second(step, images, seconds):
    """Median images/s of `step` over at least `seconds` seconds, after a warm-up."""
    end = time.perf_counter() + WARM_UP_SECONDS
    while time.perf_counter() < end:
        step()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < MIN_ITERATIONS:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return images / statistics.median(times)


def forward_step(model, images, rates):
    def step():
        with torch.inference_mode():
            return model(images, rates).cpu().numpy()

    return step


def input_gradient_step(model, images, rates):
    def step():
        x = images.detach().requires_grad_(True)
        model(x, rates).sum().backward()
        return x.grad.cpu().numpy()

    return step


def training_step(train_pixels, train_labels, validation_pixels, validation_labels):
    """One epoch of TRAIN_BATCH images, as Training::run_epoch runs it."""
    torch.manual_seed(0)
    model = Cnn().to(DEVICE)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS, eps=ADAM_EPSILON
    )
    rng = np.random.default_rng(0)

    def step():
        model.train()
        order = rng.permutation(len(train_labels))
        for start in range(0, len(order), TRAIN_BATCH):
            chunk = order[start : start + TRAIN_BATCH]
            images = to_images(train_pixels[chunk]).to(DEVICE)
            targets = torch.from_numpy(train_labels[chunk].astype(np.int64)).to(DEVICE)
            logits = model(images, TRAIN_RATES)
            predicted = logits.argmax(1)
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
            int((predicted == targets).sum())
        with torch.inference_mode():
            hits = model(to_images(validation_pixels).to(DEVICE), SCHEMES["none"]).argmax(1).cpu()
            int((hits == torch.from_numpy(validation_labels.astype(np.int64))).sum())

    return step


def pytorch_figures(seconds, test_pixels, train):
    model = shipped_model()
    # Attacks differentiate with respect to the input only (benches/core.rs: `no_grad()`).
    model.requires_grad_(False)
    figures = {}
    for scheme, rates in SCHEMES.items():
        for n in FORWARD_BATCHES:
            images = to_images(test_pixels[:n]).to(DEVICE)
            key = f"forward/{scheme}/{n}"
            figures[key] = images_per_second(forward_step(model, images, rates), n, seconds)
            print(f"  pytorch {key}: {figures[key]:,.0f} img/s", file=sys.stderr)
    for scheme, rates in SCHEMES.items():
        images = to_images(test_pixels[:GRADIENT_BATCH]).to(DEVICE)
        key = f"input_gradient/{scheme}/{GRADIENT_BATCH}"
        step = input_gradient_step(model, images, rates)
        figures[key] = images_per_second(step, GRADIENT_BATCH, seconds)
        print(f"  pytorch {key}: {figures[key]:,.0f} img/s", file=sys.stderr)
    key = f"training_step/batch{TRAIN_BATCH}"
    figures[key] = images_per_second(training_step(*train), TRAIN_BATCH, seconds)
    print(f"  pytorch {key}: {figures[key]:,.0f} img/s", file=sys.stderr)
    return figures


def bench_keys():
    keys = [f"forward/{s}/{n}" for s in SCHEMES for n in FORWARD_BATCHES]
    keys += [f"input_gradient/{s}/{GRADIENT_BATCH}" for s in SCHEMES]
    return keys + [f"training_step/batch{TRAIN_BATCH}"]


def images_of(key):
    return int(re.search(r"(\d+)$", key).group(1))


# Cargo features of every build here: `--ndarray` adds burn's ndarray backend (off by default).
CARGO_FEATURES = []


def cargo_bench(criterion_home, threads, criterion_filter=None, binary=None, seconds=None):
    """Runs `cargo bench --bench core` (or the prebuilt `binary`) on `threads` rayon threads
    (its output on stderr) and reads criterion's medians. `seconds`: criterion's measuring time
    per bench (its own default when None)."""
    command = [binary, "--bench"] if binary else ["cargo", "bench", *CARGO_FEATURES, "--bench", "core", "--"]
    if criterion_filter:
        command += [criterion_filter]
    if seconds:
        command += ["--warm-up-time", "2", "--measurement-time", str(seconds)]
    print("$ " + " ".join(command), file=sys.stderr)
    env = dict(os.environ, CRITERION_HOME=str(criterion_home), RAYON_NUM_THREADS=str(threads))
    subprocess.run(command, cwd=ROOT, env=env, stdout=sys.stderr, check=True)
    figures = {}
    suffix = f"_{criterion_filter}" if criterion_filter else ""
    for key in bench_keys():
        group, rest = key.split("/", 1)
        path = Path(criterion_home, group + suffix, rest, "new", "estimates.json")
        median_ns = json.loads(path.read_text())["median"]["point_estimate"]
        figures[key] = images_of(key) / (median_ns * 1e-9)
    return figures


# Line tables for the crates whose inlined closures the profile must name (rayon inlines the
# op's closure into its own frames). Only these crates and the ones above them rebuild, once.
PROFILE_DEBUG_CRATES = ("burn-flex", "gemm-common", "advdrop")


def bench_executable():
    """The `core` bench binary, built with PROFILE_DEBUG_CRATES' line tables (for perf)."""
    command = ["cargo", "bench", *CARGO_FEATURES, "--bench", "core", "--no-run", "--message-format=json"]
    for crate in PROFILE_DEBUG_CRATES:
        command += ["--config", f'profile.bench.package.{crate}.debug="line-tables-only"']
    print("$ " + " ".join(command), file=sys.stderr)
    out = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    for line in out.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "core":
            if message.get("executable"):
                return message["executable"]
    raise RuntimeError("cargo built no `core` bench executable")


# Where a sample's time goes: to the innermost burn op (`burn_flex::ops::<module>`) or advdrop
# dropout frame on its stack. burn's convolutions run im2col + gemm inside burn_flex::ops::conv,
# so their gemm counts as convolution. Profiles run on one thread (PROFILE_THREADS): then every
# gemm job runs on the stack of the op that called it, except a linear layer's, which rayon
# hands from the calling thread to its worker (hence a gemm with no op above it is a matmul).
PROFILE_THREADS = 1
CONVOLUTION = "convolution (im2col + gemm, bias)"
MATMUL = "matmul (fc layers)"
POOLING = "max-pool"
ELEMENTWISE = "elementwise (ReLU, dropout, sums)"
OTHER = "other (copies, layout, allocation)"
BURN_MODULES = {
    "conv": CONVOLUTION, "conv_common": CONVOLUTION, "conv_transpose": CONVOLUTION,
    "matmul": MATMUL, "pool": POOLING,
    "unary": ELEMENTWISE, "binary": ELEMENTWISE, "activation": ELEMENTWISE,
    "reduce": ELEMENTWISE, "mask": ELEMENTWISE, "comparison": ELEMENTWISE,
}
BURN_OP = re.compile(r"burn_flex::ops::(\w+)|advdrop::model::dropout")
GEMM = re.compile(r"gemm")
# PyTorch's profiler names each operator; its self time excludes the operators it calls.
TORCH_CATEGORIES = [
    (CONVOLUTION, re.compile(r"conv", re.I)),
    (MATMUL, re.compile(r"addmm|aten::mm$|matmul|linear|MmBackward", re.I)),
    (POOLING, re.compile(r"pool", re.I)),
    (ELEMENTWISE, re.compile(
        r"relu|threshold|clamp|dropout|bernoulli|mul|div|add|sum|fill|ones_like|AccumulateGrad",
        re.I,
    )),
]


def burn_category(stack):
    """The category of one sample (symbols from the leaf up)."""
    for symbol in stack:
        match = BURN_OP.search(symbol)
        if match:
            return BURN_MODULES.get(match.group(1), OTHER) if match.group(1) else ELEMENTWISE
    return MATMUL if any(GEMM.search(symbol) for symbol in stack) else OTHER


def split_burn(samples):
    """{category: share} of perf samples [(time, stack)] within the timed loop.

    The loop is the span from the first to the last sample inside a convolution: the set-up
    (MNIST, the model, the other groups' set-up) runs outside it and uses no convolution.
    """
    inside = [t for t, stack in samples if burn_category(stack) == CONVOLUTION]
    counts = Counter(
        burn_category(stack) for t, stack in samples if inside and min(inside) <= t <= max(inside)
    )
    total = sum(counts.values())
    return {k: v / total for k, v in counts.most_common()}, total


def perf_profile(executable, bench_id, seconds):
    """perf samples [(time, stack)] of one criterion bench run in --profile-time mode."""
    env = dict(os.environ, RAYON_NUM_THREADS=str(PROFILE_THREADS))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "perf.data")
        subprocess.run(
            ["perf", "record", "-q", "-F", "499", "--call-graph", "dwarf,16384", "-o", str(data),
             "--", executable, "--bench", "--profile-time", str(seconds), f"^{bench_id}$"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
        )
        script = subprocess.run(
            ["perf", "script", "-i", str(data), "-F", "time,ip,sym"],
            capture_output=True, text=True, check=True,
        ).stdout
    samples = []
    for block in script.split("\n\n"):
        lines = block.strip().splitlines()
        if len(lines) < 2:
            continue
        time_s = float(lines[0].strip().rstrip(":"))
        stack = [(line.strip().split(None, 1) + ["?"])[1] for line in lines[1:]]
        samples.append((time_s, stack))
    return samples


def torch_profile(step):
    """{category: share} of PyTorch's self CPU time over a few iterations of `step`."""
    for _ in range(5):
        step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(20):
            step()
    counts = Counter()
    for event in prof.key_averages():
        category = next(
            (name for name, rx in TORCH_CATEGORIES if rx.search(event.key)), OTHER
        )
        counts[category] += event.self_cpu_time_total
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def burn_milliseconds(executable, bench_id):
    """Median ms of one iteration of `bench_id` on PROFILE_THREADS threads (short criterion)."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, RAYON_NUM_THREADS=str(PROFILE_THREADS), CRITERION_HOME=home)
        subprocess.run(
            [executable, "--bench", "--warm-up-time", "1", "--measurement-time", "3",
             f"^{bench_id}$"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True,
        )
        estimates = json.loads(Path(home, bench_id, "new", "estimates.json").read_text())
    return estimates["median"]["point_estimate"] * 1e-6


def profile(test_pixels, seconds):
    """Where the time of a batch-64 forward pass and input gradient goes, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(PROFILE_THREADS)
    model = shipped_model().requires_grad_(False)
    images = to_images(test_pixels[:GRADIENT_BATCH])
    targets = [
        ("forward/none/64", forward_step(model, images, SCHEMES["none"])),
        ("input_gradient/none/64", input_gradient_step(model, images, SCHEMES["none"])),
    ]
    if not shutil.which("perf"):
        print("\n(no `perf` on this machine: only PyTorch is profiled)")
    executable = bench_executable() if shutil.which("perf") else None
    for bench_id, step in targets:
        torch_ms = 1e3 * GRADIENT_BATCH / images_per_second(step, GRADIENT_BATCH, seconds)
        torch_split = torch_profile(step)
        if executable:
            burn_ms = burn_milliseconds(executable, bench_id)
            burn_split, samples = split_burn(perf_profile(executable, bench_id, seconds))
        else:
            burn_ms, burn_split, samples = float("nan"), {}, 0
        print(f"\n`{bench_id}` on {PROFILE_THREADS} thread: advdrop {burn_ms:.1f} ms per batch "
              f"(perf, {samples:,} samples), PyTorch {torch_ms:.1f} ms "
              "(torch.profiler self time)\n")
        print("| where | advdrop ms (share) | PyTorch ms (share) | advdrop/PyTorch |")
        print("|---|---|---|---|")
        for category in (CONVOLUTION, MATMUL, POOLING, ELEMENTWISE, OTHER):
            b, t = burn_split.get(category, 0.0), torch_split.get(category, 0.0)
            ratio = f"{b * burn_ms / (t * torch_ms):.1f}" if t > 0 else "–"
            print(f"| {category} | {b * burn_ms:.1f} ({b:.0%}) "
                  f"| {t * torch_ms:.1f} ({t:.0%}) | {ratio} |")
    torch.set_num_threads(threads)


def print_table(advdrop, pytorch, advdrop_name="advdrop", pytorch_name="PyTorch"):
    print(f"| bench | {advdrop_name} img/s | {pytorch_name} img/s | advdrop/PyTorch |")
    print("|---|---|---|---|")
    for key in bench_keys():
        a, p = advdrop[key], pytorch[key]
        print(f"| {key} | {a:,.0f} | {p:,.0f} | {a / p:.2f} |")


def print_backends(flex, ndarray, pytorch):
    print("| bench | flex img/s | ndarray img/s | ndarray/flex | ndarray/PyTorch |")
    print("|---|---|---|---|---|")
    for key in bench_keys():
        f, n, p = flex[key], ndarray[key], pytorch[key]
        print(f"| {key} | {f:,.0f} | {n:,.0f} | {n / f:.2f} | {n / p:.2f} |")


def cpu_name():
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    return names[0] if names else platform.processor()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cores = len(os.sched_getaffinity(0))
    parser.add_argument("--threads", type=int, default=cores,
                        help="PyTorch's intra-op threads and burn's rayon threads "
                        f"(default: the {cores} usable cores)")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="least measuring time per PyTorch figure (default 2)")
    parser.add_argument("--ndarray", action="store_true",
                        help="also `cargo bench --bench core -- ndarray` (burn's ndarray backend)")
    parser.add_argument("--gpu", action="store_true",
                        help="PyTorch on CUDA beside `cargo bench --bench core -- wgpu`")
    parser.add_argument("--bench-binary",
                        help="a prebuilt `core` bench executable to run instead of cargo")
    parser.add_argument("--criterion-seconds", type=float,
                        help="criterion's measuring time per bench (default: its own, 5 s)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile forward and input gradient at batch 64 "
                        "(perf and torch.profiler)")
    args = parser.parse_args()
    if args.ndarray:
        CARGO_FEATURES.extend(["--features", "ndarray"])
    if args.gpu and (args.ndarray or args.profile):
        parser.error("--gpu times the GPUs alone: no --ndarray or --profile with it")

    global DEVICE
    if args.gpu:
        DEVICE = torch.device("cuda")
        # float32 on both sides: no TF32 in cuDNN's convolutions or cuBLAS's matmuls.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    test_pixels = read_idx(mnist_dir() / "t10k-images-idx3-ubyte.gz")
    train_pixels = read_idx(mnist_dir() / "train-images-idx3-ubyte.gz")
    train_labels = read_idx(mnist_dir() / "train-labels-idx1-ubyte.gz")
    train = (
        train_pixels[:TRAIN_BATCH], train_labels[:TRAIN_BATCH],
        train_pixels[TRAINING_IMAGES : TRAINING_IMAGES + 1],
        train_labels[TRAINING_IMAGES : TRAINING_IMAGES + 1],
    )
    check_fixture(shipped_model(), test_pixels)

    # Build first, so that PyTorch and advdrop are timed back to back, not a build apart.
    if not args.bench_binary:
        print("$ cargo bench " + " ".join(CARGO_FEATURES + ["--bench", "core", "--no-run"]),
              file=sys.stderr)
        subprocess.run(
            ["cargo", "bench", *CARGO_FEATURES, "--bench", "core", "--no-run"],
            cwd=ROOT, stdout=sys.stderr, check=True,
        )
    started = time.strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()[0]
    print(f"PyTorch {torch.__version__}, {args.threads} threads:", file=sys.stderr)
    pytorch = pytorch_figures(args.seconds, test_pixels, train)
    bench = dict(binary=args.bench_binary, seconds=args.criterion_seconds)
    with tempfile.TemporaryDirectory() as criterion_home:
        if args.gpu:
            wgpu = cargo_bench(criterion_home, args.threads, "wgpu", **bench)
        else:
            flex = cargo_bench(criterion_home, args.threads, **bench)
        ndarray = (
            cargo_bench(criterion_home, args.threads, "ndarray", **bench) if args.ndarray else None
        )
    if args.gpu:
        print(f"\n{started}, {torch.cuda.get_device_name()} (PyTorch {torch.__version__}, CUDA "
              f"{torch.version.cuda}, float32) and advdrop (burn wgpu, Vulkan), "
              f"{cpu_name()}; one run.\n")
        print_table(wgpu, pytorch, "advdrop wgpu", "PyTorch CUDA")
        return

    print(f"\n{started}, {cpu_name()}, {cores} cores, load average {load:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end; "
          f"PyTorch {torch.__version__} and advdrop (burn flex), {args.threads} "
          f"thread{'s' if args.threads > 1 else ''} each; one run.\n")
    print_table(flex, pytorch)
    if ndarray:
        print("\nburn's ndarray backend, same run:\n")
        print_backends(flex, ndarray, pytorch)
    if args.profile:
        profile(test_pixels, max(5.0, 2 * args.seconds))


if __name__ == "__main__":
    main()
