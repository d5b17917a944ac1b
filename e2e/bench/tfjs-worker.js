// advdrop's CNN (src/model/cnn.rs, the paper's Fig. 1) written with TensorFlow.js ops, for
// e2e/bench.mjs only: the same shipped weights, so the two implementations can be checked
// against each other before either is timed. A classic worker loading TF.js's script bundles
// from npm as its wasm backend's README shows (served by the benchmark, never copied into
// dist/): @tensorflow/tfjs, because tfjs-core's own bundle registers no gradients, then the
// wasm backend. The page sends {id, op, ...} and every reply carries the same id, as
// www/worker.js does.
importScripts('/tfjs/tfjs/dist/tf.min.js', '/tfjs/tfjs-backend-wasm/dist/tf-backend-wasm.min.js');

const SIDE = 28;
const FLAT = 7 * 7 * 64; // features entering fc1 (cnn.rs: FLAT_FEATURES)
const CLASSES = 10;

// Host copies of the weights in TF.js's layouts; `params` holds them as tensors of the current
// backend.
let host = null;
let params = null;

// IEEE 754 half precision to a JS number (the shipped file is f16).
function half(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// safetensors: an 8-byte little-endian header length, a JSON header of
// {name: {dtype, shape, data_offsets: [begin, end]}} (offsets into what follows), the data.
function safetensors(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const data = 8 + headerLength;
  const tensors = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: [begin, end] } = entry;
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    if (dtype === 'F16') for (let i = 0; i < n; i++) values[i] = half(view.getUint16(data + begin + 2 * i, true));
    else if (dtype === 'F32') for (let i = 0; i < n; i++) values[i] = view.getFloat32(data + begin + 4 * i, true);
    else throw new Error(`${name}: dtype ${dtype} is not F16 or F32`);
    if (end - begin !== n * (dtype === 'F16' ? 2 : 4)) throw new Error(`${name}: ${end - begin} bytes for shape ${shape}`);
    tensors[name] = { shape, values };
  }
  return tensors;
}

// PyTorch's conv weight [out, in, kh, kw] to TF.js's filter [kh, kw, in, out].
function filter({ shape: [out, inp, kh, kw], values }) {
  const t = new Float32Array(values.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) for (let h = 0; h < kh; h++) for (let w = 0; w < kw; w++) {
    t[((h * kw + w) * inp + i) * out + o] = values[((o * inp + i) * kh + h) * kw + w];
  }
  return { shape: [kh, kw, inp, out], values: t };
}

// PyTorch's linear weight [out, in] to [in, out]. fc1's inputs are flattened from NCHW
// (c·49 + h·7 + w) in advdrop and from NHWC ((h·7 + w)·64 + c) here: with `chw` = [64, 7, 7],
// its rows are permuted to match.
function dense({ shape: [out, inp], values }, chw = null) {
  const t = new Float32Array(values.length);
  let from = (k) => k;
  if (chw) {
    const [C, H, W] = chw;
    from = (k) => {
      const c = k % C, w = Math.floor(k / C) % W, h = Math.floor(k / (C * W));
      return (c * H + h) * W + w;
    };
  }
  for (let k = 0; k < inp; k++) {
    const row = from(k);
    for (let o = 0; o < out; o++) t[k * out + o] = values[o * inp + row];
  }
  return { shape: [inp, out], values: t };
}

async function useBackend(backend) {
  if (tf.getBackend() !== backend) {
    if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not start`);
  }
  if (params) tf.dispose(Object.values(params));
  params = Object.fromEntries(Object.entries(host).map(([k, { shape, values }]) => [k, tf.tensor(values, shape)]));
}

// Logits [n, 10] as a TF.js user would write the network for inference: fused conv + bias +
// ReLU and matMul + bias (+ ReLU), NHWC.
function logitsFused(x) {
  const p = params;
  let h = tf.fused.conv2d({ x, filter: p.conv1, strides: 1, pad: 'same', bias: p.conv1Bias, activation: 'relu' });
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.fused.conv2d({ x: h, filter: p.conv2, strides: 1, pad: 'same', bias: p.conv2Bias, activation: 'relu' });
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.fused.matMul({ a: tf.reshape(h, [-1, FLAT]), b: p.fc1, bias: p.fc1Bias, activation: 'relu' });
  return tf.fused.matMul({ a: h, b: p.fc2, bias: p.fc2Bias });
}

// The same network from plain ops, on which the gradient is timed (under tf.grad TF.js runs
// fused ops unfused anyway).
function logitsPlain(x) {
  const p = params;
  let h = tf.relu(tf.add(tf.conv2d(x, p.conv1, 1, 'same'), p.conv1Bias));
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.relu(tf.add(tf.conv2d(h, p.conv2, 1, 'same'), p.conv2Bias));
  h = tf.maxPool(h, 2, 2, 'valid');
  h = tf.relu(tf.add(tf.matMul(tf.reshape(h, [-1, FLAT]), p.fc1), p.fc1Bias));
  return tf.add(tf.matMul(h, p.fc2), p.fc2Bias);
}

// d/dx of Σ_j CE(logits_j, label_j), as advdrop's Oracle takes it (log-softmax times a one-hot
// of -1 at the label, summed).
function inputGradient(logits, labels) {
  const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES));
  return tf.grad((x) => tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits(x)), oneHot))));
}

const images = (pixels, n) => tf.tensor4d(pixels.subarray(0, n * SIDE * SIDE), [n, SIDE, SIDE, 1]);

// One call as the benchmark times it: images in from the host, the result read back.
function caller(kind, pixels, labels, batch, fused) {
  const logits = fused ? logitsFused : logitsPlain;
  const gradient = kind === 'gradient' ? inputGradient(logits, labels.slice(0, batch)) : null;
  return async () => {
    const x = images(pixels, batch);
    const y = tf.tidy(() => (gradient ? gradient(x) : logits(x)));
    const values = await y.data();
    tf.dispose([x, y]);
    return values;
  };
}

const ops = {
  async start({ weightsUrl }) {
    tf.wasm.setWasmPaths('/tfjs/tfjs-backend-wasm/dist/');
    // One thread, as advdrop's wasm module has (the threaded build also needs a cross-origin
    // isolated page).
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    const response = await fetch(weightsUrl);
    if (!response.ok) throw new Error(`${weightsUrl}: the server answered ${response.status}`);
    const w = safetensors(new Uint8Array(await response.arrayBuffer()));
    host = {
      conv1: filter(w['conv1.weight']), conv1Bias: w['conv1.bias'],
      conv2: filter(w['conv2.weight']), conv2Bias: w['conv2.bias'],
      fc1: dense(w['fc1.weight'], [64, 7, 7]), fc1Bias: w['fc1.bias'],
      fc2: dense(w['fc2.weight']), fc2Bias: w['fc2.bias'],
    };
    await useBackend('wasm');
    return {
      version: tf.version_core,
      simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      threads: tf.wasm.getThreadsCount(),
    };
  },

  // What one call gives (logits or input gradients), to check against advdrop's.
  async values({ backend, kind, fused, pixels, labels, batch }) {
    await useBackend(backend);
    return caller(kind, pixels, labels, batch, fused)();
  },

  // `reps` timed calls after a warm-up call: {seconds, images, imgPerSec}.
  async time({ backend, kind, fused, pixels, labels, batch, reps }) {
    await useBackend(backend);
    const call = caller(kind, pixels, labels, batch, fused);
    await call();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) await call();
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, images: batch * reps, imgPerSec: (batch * reps) / seconds };
  },
};

self.onmessage = async ({ data }) => {
  try {
    self.postMessage({ id: data.id, result: await ops[data.op](data) });
  } catch (e) {
    self.postMessage({ id: data.id, error: String((e && e.message) || e) });
  }
};
