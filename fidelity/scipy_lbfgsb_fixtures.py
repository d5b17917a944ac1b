"""Fixture for tests/lbfgsb.rs: every evaluation scipy's fmin_l_bfgs_b makes, on 20+ problems.

src/attack/lbfgsb.rs ports L-BFGS-B 3.0 as scipy 1.14.1 runs it (the last scipy with the
Fortran original). This script runs the original on box-constrained problems and records, for
each, everything the Rust test needs to replay the run: the settings and bounds, x0, every
evaluation of f and g in order (the x requested, f, g), the iterates passed to the callback
(as the number of evaluations made when each was reached), the final x, nit, nfev and the
task message. The test hands the solver scipy's own f and g and checks that it asks for the
same points and stops in the same place.

Problems: quadratics (diagonal and dense SPD; bounds inactive, active at the solution, active
at the start; no bounds at all; a fixed variable), bounded Rosenbrock in several dimensions and
from several starts, a linear objective (the Cauchy point at a corner), mixed bound types
(none / lower / both / upper), runs stopped by maxiter and by maxfun, an abnormal line search
(a wrong gradient), loose factr, several m — and three runs of the L-BFGS attack objective on
MNIST test images under no dropout, formed by Foolbox 0.8.1's own LBFGSAttack code
(`1e10 * (MSE + c * CE)`, float32 inside, bounds [0, 1]^784, m=15, maxiter=150), on the
NumPy copy of the shipped CNN (cnn.py).

Regenerate (from the repository root; the venv has numpy 1.26.4, scipy 1.14.1, foolbox 0.8.1
pinned in requirements.txt, `make deps-fidelity`):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 fidelity/.venv/bin/python \
        fidelity/scipy_lbfgsb_fixtures.py --out tests/fixtures/lbfgsb-scipy.json.gz

Options: --mnist DIR (default ../shared/data/mnist, then data/mnist), --weights FILE (default
www/model/advdrop-cnn.safetensors), --no-mnist (the analytic problems only), --any-cpu.

The CPU matters: scipy's L-BFGS-B calls BLAS ddot/daxpy, and the OpenBLAS in scipy's wheels
picks its kernels by CPU. The Rust port rounds as the kernels for AVX-512 CPUs (OpenBLAS cores
SkylakeX, Cooperlake, SapphireRapids) do, so on such a CPU the replay is bit-exact; elsewhere
scipy itself takes a path that differs in the last bits, and an ill-conditioned problem can
drift onto another path. The script therefore refuses other cores unless --any-cpu is given.
The output is deterministic: run twice on the same kind of CPU, it is the same file.

Format (gzip'd JSON): {"scipy", "numpy", "openblas_core", "problems": [...]}; each problem has "name", "n",
"m", "factr", "pgtol", "maxiter", "maxfun", "maxls", "lower", "upper" (±inf = no bound),
"x0", "requests" (k·n, the x of each evaluation in order), "request_sha256" (null, or when
the requests are stored as float32 the first 16 hex digits of the SHA-256 of each exact request's
float64 little-endian bytes), "f" (k), "g" (k·n), "iterates"
(the number of evaluations made at each callback; the iterate is the last one evaluated),
"x" (final), "nit", "nfev", "task". Every array is a string "f64:HEX" or "f32:HEX" of its
little-endian bytes, so the values the test feeds to the solver arrive bit-exact ("f32:" only
where every value is a float32: the MNIST gradients, which Foolbox computes in float32; and
the requested x of the MNIST problems, which the test compares at 1e-6 relative anyway —
rounded to float32, to keep the file small).
"""

import argparse
import gzip
import hashlib
import json
import os
import sys

import numpy as np
import scipy
import scipy.optimize as so

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
INF = np.inf


# ------------------------------------------------------------------------------ encoding

def enc(values, dtype="f64"):
    a = np.ascontiguousarray(np.asarray(values, dtype=np.float64).ravel())
    if dtype == "f32":
        b = a.astype("<f4")
    else:
        b = a.astype("<f8")
    return dtype + ":" + b.tobytes().hex()


def exact_f32(values):
    a = np.asarray(values, dtype=np.float64)
    return bool(np.array_equal(a.astype(np.float32).astype(np.float64), a))


# ------------------------------------------------------------------------------ recording

def record(name, func, x0, bounds=None, m=10, factr=1e7, pgtol=1e-5, maxiter=15000,
           maxfun=15000, maxls=20, expect=None, lossy_requests=False):
    """Runs fmin_l_bfgs_b(func, x0, ...) with func returning (f, g); returns the record."""
    x0 = np.asarray(x0, dtype=np.float64)
    n = x0.size
    evals = []

    def logged(x, *args):
        f, g = func(x, *args)
        evals.append((np.array(x, dtype=np.float64), float(f), np.array(g, dtype=np.float64)))
        return f, g

    iterates = []

    def callback(xk):
        # The iterate is the point evaluated last (scipy memoises f and g on it).
        assert np.array_equal(xk, evals[-1][0]), name
        iterates.append(len(evals))

    x, f, d = so.fmin_l_bfgs_b(logged, x0, bounds=bounds, m=m, factr=factr, pgtol=pgtol,
                               maxiter=maxiter, maxfun=maxfun, maxls=maxls, callback=callback)
    task = d["task"]
    task = task.decode() if isinstance(task, bytes) else str(task)
    assert d["funcalls"] == len(evals), (name, d["funcalls"], len(evals))
    assert d["nit"] == len(iterates), (name, d["nit"], len(iterates))
    if expect is not None:
        assert task.startswith(expect), (name, task)
    if bounds is None:
        lower = np.full(n, -INF)
        upper = np.full(n, INF)
    else:
        lower = np.array([-INF if b[0] is None else b[0] for b in bounds], dtype=np.float64)
        upper = np.array([INF if b[1] is None else b[1] for b in bounds], dtype=np.float64)
    requests = np.concatenate([e[0] for e in evals])
    gs = np.concatenate([e[2] for e in evals])
    rec = {
        "name": name,
        "n": int(n),
        "m": int(m),
        "factr": enc([factr]),
        "pgtol": enc([pgtol]),
        "maxiter": int(maxiter),
        "maxfun": int(maxfun),
        "maxls": int(maxls),
        "lower": enc(lower),
        "upper": enc(upper),
        "x0": enc(x0),
        "requests": enc(requests, "f32" if lossy_requests else "f64"),
        # With float32 requests, the first 8 bytes of the SHA-256 of each exact request (its
        # float64 little-endian bytes), so that the test can tell bit-exact replays.
        "request_sha256": [hashlib.sha256(e[0].astype("<f8").tobytes()).hexdigest()[:16]
                           for e in evals] if lossy_requests else None,
        "f": enc([e[1] for e in evals]),
        "g": enc(gs, "f32" if exact_f32(gs) else "f64"),
        "iterates": iterates,
        "x": enc(x),
        "nit": int(d["nit"]),
        "nfev": int(d["funcalls"]),
        "task": task,
    }
    print("%-34s n=%4d m=%2d nit=%4d nfev=%4d  %s" % (name, n, m, d["nit"], d["funcalls"], task),
          file=sys.stderr)
    return rec


# ------------------------------------------------------------------------------ problems

def quadratic(a, b):
    """f = ½ xᵀAx − bᵀx."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)

    def f(x):
        ax = a @ x
        return 0.5 * x @ ax - b @ x, ax - b

    return f


def diagonal(w, c):
    """f = Σ wᵢ (xᵢ − cᵢ)²."""
    w = np.asarray(w, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)

    def f(x):
        r = x - c
        return float(np.sum(w * r * r)), 2.0 * w * r

    return f


def spd(rng, n, condition):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = np.geomspace(1.0, condition, n)
    return (q * eig) @ q.T


def rosenbrock(x):
    x = np.asarray(x, dtype=np.float64)
    a = x[1:] - x[:-1] ** 2
    b = 1.0 - x[:-1]
    f = float(np.sum(100.0 * a * a + b * b))
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * a - 2.0 * b
    g[1:] += 200.0 * a
    return f, g


def mixed(x):
    """A smooth non-quadratic: Σ (xᵢ − cᵢ)⁴ + ½ (xᵢ − cᵢ)² + a coupling term."""
    c = np.array([3.0, -2.0, 0.5, 4.0, -3.0, 1.0, -1.5, 2.5])
    r = x - c
    coupling = np.sum(x[1:] * x[:-1])
    f = float(np.sum(r ** 4 + 0.5 * r * r) + 0.3 * coupling)
    g = 4.0 * r ** 3 + r
    g[1:] += 0.3 * x[:-1]
    g[:-1] += 0.3 * x[1:]
    return f, g


def wrong_gradient(x):
    """f = Σ xᵢ² with a gradient that is wrong near the minimum: the line search fails."""
    return float(np.sum(x * x)), 2.0 * x + 0.5


def analytic_problems():
    rng = np.random.default_rng(20240611)
    probs = []
    w5 = [1.0, 10.0, 0.1, 100.0, 3.0]
    probs.append(dict(name="quad-diag-inactive", func=diagonal(w5, [0.3, -0.5, 1.7, 0.9, 0.5]),
                      x0=[0.0] * 5, bounds=[(-10.0, 10.0)] * 5, expect="CONV"))
    probs.append(dict(name="quad-diag-active-at-solution",
                      func=diagonal(w5, [0.3, -0.5, 1.7, 0.9, 0.5]),
                      x0=[0.5] * 5, bounds=[(0.0, 1.0)] * 5, m=5, expect="CONV"))
    probs.append(dict(name="quad-diag-active-at-start",
                      func=diagonal([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [-1.0, 2.0, 0.5, -3.0, 0.2, 1.5]),
                      x0=[-5.0, 5.0, 0.0, 1.0, 0.5, 7.0], bounds=[(0.0, 1.0)] * 6,
                      expect="CONV"))
    a8 = spd(rng, 8, 1e3)
    probs.append(dict(name="quad-dense-inactive", func=quadratic(a8, rng.standard_normal(8)),
                      x0=np.zeros(8), bounds=[(-100.0, 100.0)] * 8, expect="CONV"))
    a10 = spd(rng, 10, 1e2)
    probs.append(dict(name="quad-dense-active", func=quadratic(a10, 5.0 * rng.standard_normal(10)),
                      x0=np.zeros(10), bounds=[(-0.5, 0.5)] * 10, expect="CONV"))
    a20 = spd(rng, 20, 1e4)
    b20 = 10.0 * rng.standard_normal(20)
    probs.append(dict(name="quad-dense-m3-partial-bounds", func=quadratic(a20, b20),
                      x0=rng.uniform(-1, 1, 20),
                      bounds=[(-1.0, 1.0) if i % 2 else (None, None) for i in range(20)],
                      m=3, expect="CONV"))
    probs.append(dict(name="quad-dense-unbounded", func=quadratic(a8, rng.standard_normal(8)),
                      x0=np.ones(8), bounds=None, expect="CONV"))
    probs.append(dict(name="quad-fixed-variable",
                      func=diagonal([1.0, 2.0, 3.0, 4.0], [2.0, -1.0, 0.5, 0.25]),
                      x0=[0.0, 0.0, 0.0, 0.0],
                      bounds=[(0.0, 1.0), (0.3, 0.3), (-1.0, 1.0), (0.25, 0.25)],
                      expect="CONV"))
    a100 = spd(rng, 100, 1e3)
    probs.append(dict(name="quad-dense-100-box-m5", func=quadratic(a100, 20.0 * rng.standard_normal(100)),
                      x0=rng.uniform(0, 1, 100), bounds=[(0.0, 1.0)] * 100, m=5, expect="CONV"))
    probs.append(dict(name="linear-corner", func=lambda x: (float(np.dot([1.0, -2.0, 3.0, -0.5], x)),
                                                            np.array([1.0, -2.0, 3.0, -0.5])),
                      x0=[0.3, 0.4, 0.5, 0.6], bounds=[(0.0, 1.0)] * 4, expect="CONV"))
    probs.append(dict(name="rosenbrock-2-interior", func=rosenbrock, x0=[-1.2, 1.0],
                      bounds=[(-2.0, 2.0)] * 2, expect="CONV"))
    probs.append(dict(name="rosenbrock-2-active", func=rosenbrock, x0=[-1.2, 1.0],
                      bounds=[(-2.0, 0.5), (-2.0, 2.0)], expect="CONV"))
    probs.append(dict(name="rosenbrock-5-box", func=rosenbrock, x0=[-1.2, 1.0, -1.2, 1.0, -1.2],
                      bounds=[(-2.0, 2.0)] * 5, expect="CONV"))
    probs.append(dict(name="rosenbrock-10-tight-box-m4", func=rosenbrock,
                      x0=rng.uniform(-1.5, 0.8, 10), bounds=[(-1.5, 0.8)] * 10, m=4,
                      expect="CONV"))
    probs.append(dict(name="rosenbrock-4-unbounded", func=rosenbrock, x0=[-1.2, 1.0, -1.2, 1.0],
                      bounds=None, expect="CONV"))
    probs.append(dict(name="rosenbrock-3-m1-lower", func=rosenbrock, x0=[2.0, 2.0, 2.0],
                      bounds=[(1.2, None)] * 3, m=1, expect="CONV"))
    probs.append(dict(name="mixed-bound-types", func=mixed, x0=np.zeros(8),
                      bounds=[(None, None), (-1.0, None), (0.0, 1.0), (None, 3.0),
                              (None, None), (1.5, None), (-1.0, 1.0), (None, 2.0)],
                      expect="CONV"))
    probs.append(dict(name="rosenbrock-10-maxiter", func=rosenbrock, x0=np.full(10, -1.0),
                      bounds=[(-2.0, 2.0)] * 10, maxiter=7, expect="STOP: TOTAL NO. of ITER"))
    probs.append(dict(name="rosenbrock-6-maxfun", func=rosenbrock, x0=np.full(6, 0.5),
                      bounds=[(-2.0, 2.0)] * 6, maxfun=12, expect="STOP: TOTAL NO. of f AND g"))
    probs.append(dict(name="wrong-gradient-abnormal", func=wrong_gradient, x0=[1.0, -2.0, 0.5],
                      bounds=[(-5.0, 5.0)] * 3, expect="ABNORMAL"))
    probs.append(dict(name="rosenbrock-5-loose-factr-maxls5", func=rosenbrock,
                      x0=[0.0, -1.0, 2.0, 0.5, -0.5], bounds=[(-2.0, 2.0)] * 5, factr=1e12,
                      maxls=5, expect="CONV"))
    return probs


# ------------------------------------------------------------------------------ MNIST

# (test image, target, c): the target is the runner-up class, c = 2e-5·2^k chosen so that each
# run does real work and the three end differently: image 0 (a 7) -> 9 runs into maxiter=150
# and ends adversarial; image 1 (a 2) -> 0 converges by factr after 45 iterations; image 2 (a 1)
# -> 4 ends in an abnormal line search after 30 iterations.
MNIST_RUNS = [(0, 9, 2e-5 * 2 ** 6, "STOP: TOTAL NO. of ITER"),
              (1, 0, 2e-5 * 2 ** 2, "CONVERGENCE: REL_REDUCTION"),
              (2, 4, 2e-5 * 2 ** 1, "ABNORMAL")]


def foolbox_loss(cnn, image, label, target):
    """Foolbox 0.8.1's LBFGSAttack objective for (image, target), taken from the attack itself:
    its `_optimize` is run with scipy's fmin_l_bfgs_b replaced by a stub that hands back the
    `loss` closure and the arguments the attack passes, and stops it."""
    sys.path.insert(0, HERE)
    from foolbox_model import DropoutCnnModel, foolbox
    import foolbox.attacks.lbfgs as fb_lbfgs

    model = DropoutCnnModel(cnn, "none")
    criterion = foolbox.criteria.TargetClass(int(target))
    adv = foolbox.Adversarial(model, criterion, image, int(label))
    captured = {}

    class Stop(Exception):
        pass

    class Scipy:
        @staticmethod
        def fmin_l_bfgs_b(func, x0, **kwargs):
            captured.update(func=func, x0=x0, kwargs=kwargs)
            raise Stop

    real = fb_lbfgs.so
    fb_lbfgs.so = Scipy
    try:
        fb_lbfgs.LBFGSAttack()._optimize(adv, int(target), epsilon=1e-5, maxiter=150,
                                         verbose=False)
    except Stop:
        pass
    finally:
        fb_lbfgs.so = real
    return captured


def mnist_problems(mnist_dir, weights):
    sys.path.insert(0, HERE)
    from cnn import Cnn
    from mnist import load_test

    cnn = Cnn(weights)
    images, labels = load_test(mnist_dir)
    probs = []
    for index, target, c, expect in MNIST_RUNS:
        label = int(labels[index])
        assert target != label
        cap = foolbox_loss(cnn, images[index], label, target)
        kw = cap["kwargs"]
        assert kw["m"] == 15 and kw["maxiter"] == 150 and not kw["approx_grad"], kw
        func = cap["func"]
        probs.append(dict(name="mnist-%d-target-%d-c-%g" % (index, target, c),
                          func=lambda x, func=func, c=c: func(x, c), x0=cap["x0"],
                          bounds=kw["bounds"], m=kw["m"], maxiter=kw["maxiter"],
                          expect=expect, lossy_requests=True))
    return probs


# ------------------------------------------------------------------------------ main

def openblas_core():
    """The kernel family ("SkylakeX", "Haswell", ...) of the OpenBLAS scipy runs on, or None."""
    import ctypes
    import glob

    libs = glob.glob(os.path.join(os.path.dirname(scipy.__file__), "..", "scipy.libs",
                                  "libscipy_openblas*.so*"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename", "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


AVX512_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures",
                                                  "lbfgsb-scipy.json.gz"))
    ap.add_argument("--mnist", default=None)
    ap.add_argument("--weights", default=os.path.join(ROOT, "www", "model",
                                                      "advdrop-cnn.safetensors"))
    ap.add_argument("--no-mnist", action="store_true")
    ap.add_argument("--any-cpu", action="store_true",
                    help="record even where OpenBLAS does not use its AVX-512 kernels")
    args = ap.parse_args(argv)
    assert scipy.__version__ == "1.14.1" and np.__version__ == "1.26.4", \
        (scipy.__version__, np.__version__)
    core = openblas_core()
    if core not in AVX512_CORES and not args.any_cpu:
        sys.exit("OpenBLAS runs its %s kernels here, not those of %s: the Rust port would not "
                 "replay this scipy bit-exactly (see the header; --any-cpu to record anyway)"
                 % (core, "/".join(AVX512_CORES)))

    problems = analytic_problems()
    if not args.no_mnist:
        mnist_dir = args.mnist
        if mnist_dir is None:
            for d in (os.path.join(ROOT, "..", "shared", "data", "mnist"),
                      os.path.join(ROOT, "data", "mnist")):
                if os.path.isdir(d):
                    mnist_dir = d
                    break
        problems += mnist_problems(mnist_dir, args.weights)

    records = []
    for p in problems:
        p = dict(p)
        records.append(record(p.pop("name"), p.pop("func"), p.pop("x0"), **p))
    doc = {"scipy": scipy.__version__, "numpy": np.__version__, "openblas_core": core,
           "problems": records}
    data = json.dumps(doc, separators=(",", ":")).encode()
    # No file name or time in the gzip header: the same records give the same file.
    with open(args.out, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(data)
    print("%d problems, %d bytes (%d uncompressed) -> %s"
          % (len(records), os.path.getsize(args.out), len(data), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
