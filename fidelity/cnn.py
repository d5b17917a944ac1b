"""NumPy copy of advdrop's CNN (src/model/cnn.rs), float32, with dropout and input gradients.

[n,1,28,28] -> input dropout -> conv5x5x32 (same) -> ReLU -> maxpool 2 -> feature dropout
-> conv5x5x64 (same) -> ReLU -> maxpool 2 -> feature dropout -> flatten (NCHW, 3136)
-> fc1 1024 -> ReLU -> fc dropout -> fc2 10 -> logits.

Dropout is inverted (kept units scaled by 1/(1-p)); every call draws fresh masks from the
numpy Generator it is given (the masks are not those of the Rust ChaCha stream, so under
dropout only distributions can be compared). Weights are read from the shipped f16
safetensors file by hand (no extra package) and widened to float32.
"""

import json
import struct

import numpy as np

SCHEMES = {
    "none": (0.0, 0.0, 0.0),
    "input": (0.1, 0.0, 0.0),
    "feature": (0.0, 0.2, 0.0),
    "fc": (0.0, 0.0, 0.5),
    "all": (0.1, 0.2, 0.5),
}

_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "BF16": None}


def parse_scheme(scheme):
    """A scheme name ('none', 'all', ...), 'a,b,c' rates, or a 3-tuple -> tuple of floats."""
    if isinstance(scheme, str):
        s = scheme.strip().lower()
        if s in SCHEMES:
            return SCHEMES[s]
        rates = tuple(float(r) for r in s.split(","))
        if len(rates) != 3:
            raise ValueError("unknown dropout scheme %r" % scheme)
        return rates
    rates = tuple(float(r) for r in scheme)
    if len(rates) != 3:
        raise ValueError("a scheme has three rates (input, feature, fc): %r" % (scheme,))
    return rates


def load_safetensors(path):
    """{name: float32 array} from a safetensors file (8-byte LE header length, JSON, data)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n :]
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(meta["dtype"])
        if dtype is None:
            raise ValueError("unsupported dtype %s for %s" % (meta["dtype"], name))
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=np.dtype(dtype).newbyteorder("<"))
        tensors[name] = arr.reshape(meta["shape"]).astype(np.float32)
    return tensors


def _windows(x, k):
    """[n,c,h,w] (already padded) -> [n,h',w',c,k,k] view of the k x k windows (stride 1)."""
    n, c, h, w = x.shape
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x,
        shape=(n, h - k + 1, w - k + 1, c, k, k),
        strides=(s[0], s[2], s[3], s[1], s[2], s[3]),
        writeable=False,
    )


def conv_same(x, w2d, bias, k=5):
    """Cross-correlation with 'same' zero padding (stride 1, odd k), like burn's Conv2d.

    x [n,c,h,w]; w2d [c*k*k, out] (the PyTorch weight [out,c,k,k] reshaped and transposed).
    """
    n, c, h, wd = x.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = _windows(xp, k).reshape(n * h * wd, c * k * k)
    y = cols @ w2d
    if bias is not None:
        y += bias
    return np.ascontiguousarray(y.reshape(n, h, wd, -1).transpose(0, 3, 1, 2))


def maxpool2(x):
    """2x2 max pool, stride 2; returns the output and the one-hot argmax (first max wins)."""
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // 2, w // 2, 4
    )
    idx = win.argmax(axis=-1)
    out = np.take_along_axis(win, idx[..., None], axis=-1)[..., 0]
    return out, idx


def maxpool2_backward(g, idx, shape):
    n, c, h, w = shape
    onehot = np.zeros(idx.shape + (4,), dtype=g.dtype)
    np.put_along_axis(onehot, idx[..., None], g[..., None], axis=-1)
    return np.ascontiguousarray(
        onehot.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)
    )


def _mask(rng, shape, p):
    """Inverted dropout mask: 0 with probability p, else 1/(1-p); None when p == 0."""
    if p <= 0.0:
        return None
    if rng is None:
        raise ValueError("a dropout scheme with non-zero rates needs an rng")
    keep = rng.random(shape, dtype=np.float32) >= np.float32(p)
    return keep.astype(np.float32) * np.float32(1.0 / (1.0 - p))


def _has_avx512f():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return " avx512f" in line
    except OSError:
        pass
    return False


# How burn's flex backend sums a row of 10 f32 values (`float_sum_dim`, via macerator SIMD):
# with AVX-512 (16 lanes) the row is shorter than a vector and is folded left to right; with
# AVX2/SSE the first 8 go through a vector and a pairwise lane reduction, then the last 2.
ROW_SUM = "sequential" if _has_avx512f() else "tree8"


def _row_sum(e):
    """Sum of each row of e [n,10] (float32) in burn flex's order (see ROW_SUM)."""
    e = np.asarray(e, dtype=np.float32)
    if ROW_SUM == "tree8" and e.shape[1] >= 8:
        a = e[:, 0:4] + e[:, 4:8]
        b = a[:, 0:2] + a[:, 2:4]
        s = b[:, 0] + b[:, 1]
        tail = np.zeros(len(e), dtype=np.float32)
        for k in range(8, e.shape[1]):
            tail = tail + e[:, k]
        return s + tail
    s = np.zeros(len(e), dtype=np.float32)
    for k in range(e.shape[1]):
        s = s + e[:, k]
    return s


def cross_entropy_upstream(logits, labels):
    """d CE(softmax(z), label) / dz for logits [n,10] float32, computed as advdrop's burn graph
    computes it: log_softmax(z) = (z - max) - log(sum(exp(z - max))) differentiated by autodiff,
    i.e. exp(z - max) * (1 / s) - onehot, with s summed in burn flex's order.

    This matters. For a confidently classified image p_label - 1 is a multiple of 2^-24 and
    the other p_k are ~1e-8, so the direction of the gradient — and its sign pattern, which
    is all FGSM uses — hangs on how s rounds: numpy's pairwise sum gives FGSM adversarials
    that differ from advdrop's on ~5 % of images; this order gave identical ones on 40/40.
    exp is evaluated in float64 and rounded (glibc's expf, which Rust calls, is correctly
    rounded in nearly all cases).
    """
    if np.asarray(logits).dtype == np.float64:  # the float64 copy (self-test): plain softmax
        z64 = np.asarray(logits, dtype=np.float64)
        e = np.exp(z64 - z64.max(axis=1, keepdims=True))
        g = e / e.sum(axis=1, keepdims=True)
        g[np.arange(len(g)), labels] -= 1.0
        return g
    z = np.asarray(logits, dtype=np.float32)
    t = z - z.max(axis=1, keepdims=True)
    e = np.exp(t.astype(np.float64)).astype(np.float32)
    r = np.float32(1.0) / _row_sum(e)
    g = e * r[:, None]
    g[np.arange(len(g)), labels] -= np.float32(1.0)
    return g


class Cnn:
    """The advdrop CNN in NumPy. Thread-unsafe only in the sense that rng is caller-owned."""

    def __init__(self, weights_path):
        t = load_safetensors(weights_path)
        self.w1 = t["conv1.weight"]  # [32,1,5,5]
        self.b1 = t["conv1.bias"]
        self.w2 = t["conv2.weight"]  # [64,32,5,5]
        self.b2 = t["conv2.bias"]
        self.fc1_w = np.ascontiguousarray(t["fc1.weight"].T)  # [3136,1024]
        self.fc1_b = t["fc1.bias"]
        self.fc2_w = np.ascontiguousarray(t["fc2.weight"].T)  # [1024,10]
        self.fc2_b = t["fc2.bias"]
        self.fc2_w64 = self.fc2_w.astype(np.float64)
        self.fc2_b64 = self.fc2_b.astype(np.float64)
        # im2col weights [c*25, out]
        self.w1_2d = np.ascontiguousarray(self.w1.reshape(32, -1).T)
        self.w2_2d = np.ascontiguousarray(self.w2.reshape(64, -1).T)
        # input-gradient of a same conv = same conv of the output gradient with the kernel
        # transposed over channels and flipped in space
        self.w1_back = np.ascontiguousarray(
            self.w1.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1].reshape(1, -1).T
        )
        self.w2_back = np.ascontiguousarray(
            self.w2.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1].reshape(32, -1).T
        )

    dtype = np.float32

    def astype(self, dtype):
        """A copy computing in `dtype` (float64 for finite-difference checks)."""
        import copy

        other = copy.copy(self)
        other.dtype = dtype
        for k in ("w1_2d", "b1", "w2_2d", "b2", "fc1_w", "fc1_b", "fc2_w", "fc2_b",
                  "w1_back", "w2_back"):
            setattr(other, k, getattr(self, k).astype(dtype))
        return other

    def _as_images(self, x):
        x = np.asarray(x, dtype=self.dtype)
        shape = x.shape
        if x.ndim == 1:
            x = x.reshape(1, 1, 28, 28)
        elif x.ndim == 2:
            x = x.reshape(-1, 1, 28, 28)
        elif x.ndim == 3:
            x = x.reshape(-1, 1, 28, 28)
        elif x.ndim != 4:
            raise ValueError("images must be [n,1,28,28] or [n,784], got %s" % (shape,))
        return np.ascontiguousarray(x), shape

    def _forward(self, x, scheme, rng):
        p_in, p_feat, p_fc = parse_scheme(scheme)
        n = x.shape[0]
        c = {}
        m0 = _mask(rng, x.shape, p_in)
        a0 = x * m0 if m0 is not None else x
        z1 = conv_same(a0, self.w1_2d, self.b1)  # [n,32,28,28]
        r1 = np.maximum(z1, 0)
        p1, i1 = maxpool2(r1)  # [n,32,14,14]
        m1 = _mask(rng, p1.shape, p_feat)
        a1 = p1 * m1 if m1 is not None else p1
        z2 = conv_same(a1, self.w2_2d, self.b2)  # [n,64,14,14]
        r2 = np.maximum(z2, 0)
        p2, i2 = maxpool2(r2)  # [n,64,7,7]
        m2 = _mask(rng, p2.shape, p_feat)
        a2 = p2 * m2 if m2 is not None else p2
        f = a2.reshape(n, -1)
        h = f @ self.fc1_w + self.fc1_b
        hr = np.maximum(h, 0)
        m3 = _mask(rng, hr.shape, p_fc)
        hd = hr * m3 if m3 is not None else hr
        # the last 1024-term dot product is accumulated in float64 and rounded once: with a
        # float32 BLAS sum the logits (|z| ~ 20) differ from burn's by up to ~1.2e-5, in
        # float64 by < 4e-6, inside the 1e-5 the self-test demands (cost: negligible)
        logits = hd.astype(np.float64) @ self.fc2_w64 + self.fc2_b64
        c.update(m0=m0, z1=z1, i1=i1, r1shape=r1.shape, m1=m1, z2=z2, i2=i2,
                 r2shape=r2.shape, m2=m2, h=h, m3=m3)
        return logits.astype(self.dtype), c

    def _backward(self, g, c):
        """g = dL/dlogits [n,10] -> dL/dx [n,1,28,28]."""
        n = g.shape[0]
        g = g @ self.fc2_w.T
        if c["m3"] is not None:
            g = g * c["m3"]
        g = g * (c["h"] > 0)
        g = (g @ self.fc1_w.T).reshape(n, 64, 7, 7)
        if c["m2"] is not None:
            g = g * c["m2"]
        g = maxpool2_backward(g, c["i2"], c["r2shape"])
        g = g * (c["z2"] > 0)
        g = conv_same(g, self.w2_back, None)  # [n,32,14,14]
        if c["m1"] is not None:
            g = g * c["m1"]
        g = maxpool2_backward(g, c["i1"], c["r1shape"])
        g = g * (c["z1"] > 0)
        g = conv_same(g, self.w1_back, None)  # [n,1,28,28]
        if c["m0"] is not None:
            g = g * c["m0"]
        return g.astype(self.dtype)

    def logits(self, x, scheme=(0.0, 0.0, 0.0), rng=None):
        """Logits float32 [n,10] for images [n,1,28,28] or [n,784] in [0,1]; fresh masks."""
        x, _ = self._as_images(x)
        return self._forward(x, scheme, rng)[0]

    def logits_and_gradient(self, x, label, scheme=(0.0, 0.0, 0.0), rng=None):
        """(logits [n,10], d CE(softmax(logits), label) / dx, shaped like x).

        label: an int (all images) or an int array [n]. The loss is the sum over the batch of
        the per-image cross-entropies, so each image's gradient is its own. One mask draw is
        shared by the forward and the backward pass.
        """
        xi, shape = self._as_images(x)
        logits, cache = self._forward(xi, scheme, rng)
        n = logits.shape[0]
        labels = np.broadcast_to(np.asarray(label, dtype=np.int64), (n,))
        grad = self._backward(cross_entropy_upstream(logits, labels), cache)
        return logits, grad.reshape(shape)

    def logits_and_logit_gradient(self, x, grad_logits, scheme=(0.0, 0.0, 0.0), rng=None):
        """(logits, d <grad_logits, logits> / dx) for an arbitrary upstream gradient [n,10]."""
        xi, shape = self._as_images(x)
        logits, cache = self._forward(xi, scheme, rng)
        g = np.broadcast_to(np.asarray(grad_logits, dtype=self.dtype), logits.shape)
        return logits, self._backward(np.ascontiguousarray(g), cache).reshape(shape)
