"""Self-test of the NumPy model the fidelity harness attacks.

    python fidelity/selftest.py [--weights FILE] [--mnist DIR] [--fixture FILE]

Checks, exiting non-zero on any failure:
  1. logits of test images 0-7 under `none` equal tests/fixtures/native-logits.json (the Rust
     model's, on flex) within 1e-5;
  2. the input gradient of the softmax cross-entropy equals central finite differences of a
     float64 copy (under `none` and under `all`, the masks replayed from the same seed), at
     points jittered off the max-pool ties of blank regions, where the network is not
     differentiable;
  3. the Foolbox 0.8 wrapper: deterministic under `none`, fresh masks per call under `all`,
     shapes and counts as Foolbox expects; Foolbox's FGSM runs on it.
"""

import argparse
import json
import os
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from cnn import Cnn  # noqa: E402
from mnist import load_test  # noqa: E402

LOGIT_TOLERANCE = 1e-5


def check(ok, what, failures):
    print("%s  %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        failures.append(what)


def fixture_logits(cnn, images, fixture_path, failures):
    with open(fixture_path) as f:
        fixture = json.load(f)
    idx = fixture["images"]
    want = np.asarray(fixture["logits"], dtype=np.float32).reshape(len(idx), 10)
    got = cnn.logits(images[idx])
    err = float(np.abs(got - want).max())
    check(got.dtype == np.float32, "logits are float32", failures)
    check(
        err < LOGIT_TOLERANCE,
        "logits of test images %s match the Rust fixture: max |diff| %.2e < %.0e"
        % (idx, err, LOGIT_TOLERANCE),
        failures,
    )
    # the batch answer must not depend on the batch it is in
    single = np.concatenate([cnn.logits(images[i : i + 1]) for i in idx])
    check(np.abs(single - got).max() < 1e-5, "logits do not depend on the batch", failures)
    # [n,784] input accepted
    flat = cnn.logits(images[idx].reshape(len(idx), 784))
    check(np.array_equal(flat, got), "[n,784] input gives the same logits", failures)


def gradient_check(cnn, images, failures):
    rng = np.random.default_rng(0)
    cnn64 = cnn.astype(np.float64)
    labels = np.array([3, 5, 0])
    # jitter off the exact ties of the blank background (max-pool of equal ReLU outputs)
    x = (images[[0, 1, 2]] + rng.uniform(0, 0.02, (3, 1, 28, 28))).astype(np.float32)
    h = 1e-6
    for name, scheme in (("none", (0.0, 0.0, 0.0)), ("all", (0.1, 0.2, 0.5))):
        _, g32 = cnn.logits_and_gradient(x, labels, scheme, np.random.default_rng(11))
        _, g64 = cnn64.logits_and_gradient(x.astype(np.float64), labels, scheme,
                                           np.random.default_rng(11))
        check(g32.shape == x.shape and g32.dtype == np.float32,
              "gradient shape/dtype under %s" % name, failures)

        def loss(xx):
            z = cnn64.logits(xx, scheme, np.random.default_rng(11))
            z = z - z.max(axis=1, keepdims=True)
            return float((np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(z)), labels]).sum())

        worst = 0.0
        # random coordinates, and random directions
        probes = []
        for _ in range(12):
            e = np.zeros(x.shape)
            e.reshape(-1)[rng.integers(x.size)] = 1.0
            probes.append(e)
        for _ in range(4):
            d = rng.standard_normal(x.shape)
            probes.append(d / np.linalg.norm(d))
        x64 = x.astype(np.float64)
        for e in probes:
            fd = (loss(x64 + h * e) - loss(x64 - h * e)) / (2 * h)
            an = float((g64 * e).sum())
            worst = max(worst, abs(fd - an) / max(1.0, abs(fd)))
        check(worst < 1e-4,
              "float64 gradient = finite differences under %s (worst rel. err %.1e)"
              % (name, worst), failures)
        rel = float(np.abs(g32 - g64).max() / max(1e-12, np.abs(g64).max()))
        check(rel < 1e-4, "float32 gradient = float64 gradient under %s (%.1e)" % (name, rel),
              failures)
    # the float32 dCE/dlogits (burn's order of operations) is the softmax minus the one-hot
    from cnn import cross_entropy_upstream

    z = cnn.logits(images[:64])
    lab = np.arange(64) % 10
    up = cross_entropy_upstream(z, lab)
    z64 = z.astype(np.float64)
    p64 = np.exp(z64 - z64.max(axis=1, keepdims=True))
    p64 /= p64.sum(axis=1, keepdims=True)
    p64[np.arange(64), lab] -= 1.0
    err = float(np.abs(up - p64).max())
    check(up.dtype == np.float32 and err < 1e-6,
          "dCE/dlogits in float32 = float64 softmax - onehot (max |diff| %.1e)" % err, failures)
    # an int label broadcasts to the batch
    _, ga = cnn.logits_and_gradient(x, 4)
    _, gb = cnn.logits_and_gradient(x, np.array([4, 4, 4]))
    check(np.array_equal(ga, gb), "an int label means that label for every image", failures)


def foolbox_check(cnn, images, labels, failures):
    warnings.simplefilter("ignore")
    from foolbox_model import DropoutCnnModel, foolbox

    check(foolbox.__version__ == "0.8.1", "foolbox is 0.8.1 (%s)" % foolbox.__version__,
          failures)
    x = images[0]
    m = DropoutCnnModel(cnn, "none")
    p1, p2 = m.predictions(x), m.predictions(x)
    check(np.array_equal(p1, p2) and p1.shape == (10,), "deterministic under none", failures)
    check(np.array_equal(p1, cnn.logits(x[None])[0]), "wrapper = Cnn.logits", failures)
    d = DropoutCnnModel(cnn, "all", np.random.default_rng(1))
    q1, q2 = d.predictions(x), d.predictions(x)
    check(not np.array_equal(q1, q2), "fresh masks per call under all", failures)
    batch = d.batch_predictions(np.stack([x, x]))
    check(not np.array_equal(batch[0], batch[1]), "fresh masks per image in a batch", failures)
    pg, g = m.predictions_and_gradient(x, int(labels[0]))
    check(g.shape == x.shape and np.array_equal(pg, p1), "predictions_and_gradient", failures)
    m.reset_counts()
    adv = foolbox.Adversarial(m, foolbox.criteria.TopKMisclassification(3), images[1],
                              int(labels[1]))
    foolbox.attacks.GradientSignAttack()(adv)
    check(m.forwards >= 2 and m.gradients == 1,
          "Foolbox FGSM runs on the wrapper (%d forwards, %d gradient)"
          % (m.forwards, m.gradients), failures)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default=os.path.join(ROOT, "www/model/advdrop-cnn.safetensors"))
    p.add_argument("--mnist", default=os.path.join(ROOT, "../shared/data/mnist"))
    p.add_argument("--fixture", default=os.path.join(ROOT, "tests/fixtures/native-logits.json"))
    p.add_argument("--no-foolbox", action="store_true", help="skip the Foolbox wrapper checks")
    args = p.parse_args(argv)
    failures = []
    cnn = Cnn(args.weights)
    images, labels = load_test(args.mnist)
    check(images.shape == (10000, 1, 28, 28) and list(labels[:5]) == [7, 2, 1, 0, 4],
          "MNIST test set loaded (10000 images, labels 7 2 1 0 4 ...)", failures)
    fixture_logits(cnn, images, args.fixture, failures)
    gradient_check(cnn, images, failures)
    if not args.no_foolbox:
        foolbox_check(cnn, images, labels, failures)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
