// The Web Worker that hosts the wasm module, so the page never freezes (not even on the
// single-threaded CPU backend). The page sends {id, op, ...} messages; every reply carries
// the same id. Long runs post {type: 'progress'} events and stop between steps on 'cancel'.
import init, { createLab, paperNumbers, catalogue, estimateRun } from '../advdrop.js';
import * as store from './store.js';

let lab = null;
let weightsSha = '';
let cancelled = false;
let pool = null; // {samples, indices}: the test images the running experiment draws from

const post = (msg) => self.postMessage(msg);
const progress = (event) => post({ type: 'progress', ...event });
// Gives the worker's event loop a turn, so a queued 'cancel' message is seen.
const breathe = () => new Promise((resolve) => setTimeout(resolve, 0));

async function fetchWithProgress(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${what}: ${url} answered ${response.status}`);
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    progress({ what, loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return bytes;
}

// One of the weight sets in www/model/ (listed in index.json), checked against its model card.
async function loadShipped(base, cardFile) {
  const response = await fetch(new URL(`www/model/${cardFile}`, base));
  if (!response.ok) throw new Error(`model card ${cardFile}: the server answered ${response.status}`);
  const card = await response.json();
  const weights = await fetchWithProgress(new URL(`www/model/${card.weights_file}`, base), 'weights');
  const name = `www/model/${card.weights_file}`;
  const sha256 = lab.loadWeights(weights, name, card.weights_sha256);
  return { card, sha256, bytes: weights, name };
}

// Milliseconds for 64 stochastic forward passes (under `all`) of one image, after a warm-up
// call (WebGPU compiles its shaders on the first).
async function timeForward(l) {
  const image = new Float32Array(784).fill(0.1);
  await l.classify(image, ['all'], 64, 0n);
  const t0 = performance.now();
  for (let k = 0; k < 3; k++) await l.classify(image, ['all'], 64, BigInt(k + 1));
  return (performance.now() - t0) / 3;
}

// The correctly classified test images a run draws from (how many the library decides), built
// once per N and weights (loading weights resets it).
async function poolFor(config) {
  if (!pool || pool.samples !== config.samples) {
    progress({ what: 'pool', samples: config.samples });
    pool = { samples: config.samples, indices: Uint32Array.from(await lab.candidates(config)) };
  }
  return pool.indices;
}

// What "auto" picks: WebGPU on a hardware adapter, else the CPU backend, with the reason. A
// software adapter (Chromium's SwiftShader, Mesa's llvmpipe/lavapipe, anything flagged as a
// fallback adapter) runs this network an order of magnitude slower than the CPU backend.
// On a hardware adapter both backends are timed once the weights are in (`timed`), and the
// faster kept; `alwaysTime` (the page's `?auto=time`) times them on a software adapter too.
async function autoBackend(alwaysTime) {
  if (!self.navigator.gpu) return { wanted: 'cpu', why: 'this browser offers no WebGPU' };
  let adapter = null;
  try { adapter = await self.navigator.gpu.requestAdapter(); } catch { /* no adapter */ }
  if (!adapter) return { wanted: 'cpu', why: 'WebGPU found no adapter' };
  const i = adapter.info ?? {};
  const name = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ');
  const software = i.isFallbackAdapter || adapter.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software|basic render/i.test(name);
  if (software && !alwaysTime) {
    return { wanted: 'cpu', why: `WebGPU's adapter (${name || 'unnamed'}) is a software one, slower than the CPU backend` };
  }
  return { wanted: 'webgpu', why: null, timed: true };
}

const ops = {
  async start({ backend, base, weights, alwaysTime }) {
    await init();
    const auto = backend === 'auto' ? await autoBackend(alwaysTime) : null;
    const wanted = auto ? auto.wanted : backend;
    let fallback = null;
    try {
      lab = await createLab(wanted);
    } catch (e) {
      if (wanted !== 'webgpu' || backend === 'webgpu') throw e;
      fallback = String(e.message || e);
      lab = await createLab('cpu');
    }
    let adapter = lab.adapter;
    if (lab.backend === 'webgpu') {
      // wgpu sees little of a browser adapter; WebGPU's own info names it.
      const a = await self.navigator.gpu.requestAdapter();
      const i = a && a.info;
      if (i) adapter = [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || adapter;
    }
    // The weights the page asked for: one of the shipped sets (by its model card) or the
    // user's own file, so a restart (cancel, backend switch) keeps what the user chose.
    const loaded = weights && weights.bytes
      ? { card: null, sha256: lab.loadWeights(weights.bytes, weights.name, undefined), bytes: weights.bytes, name: weights.name }
      : await loadShipped(base, weights?.card ?? 'advdrop-cnn.json');
    const { card, sha256 } = loaded;
    let why = auto?.why ?? null;
    if (auto?.timed && lab.backend === 'webgpu') {
      // Both are real: time a few forward passes on each and keep the faster.
      const cpu = await createLab('cpu');
      cpu.loadWeights(loaded.bytes, loaded.name, sha256);
      const gpuMs = await timeForward(lab);
      const cpuMs = await timeForward(cpu);
      const ms = (x) => `${x.toFixed(0)} ms`;
      if (cpuMs < gpuMs) {
        lab.free();
        lab = cpu;
        adapter = lab.adapter;
        why = `timed: the CPU backend ${ms(cpuMs)} vs WebGPU ${ms(gpuMs)} for 64 forward passes`;
      } else {
        why = `timed: WebGPU ${ms(gpuMs)} vs the CPU backend ${ms(cpuMs)} for 64 forward passes`;
        cpu.free();
      }
    }
    weightsSha = sha256;
    let testSize = 0;
    let dataError = null;
    try {
      const images = await fetchWithProgress(new URL('data/mnist/t10k-images-idx3-ubyte.gz', base), 'test images');
      const labels = await fetchWithProgress(new URL('data/mnist/t10k-labels-idx1-ubyte.gz', base), 'test labels');
      testSize = lab.loadTestSet(images, labels);
    } catch (e) {
      dataError = String(e.message || e);
    }
    return { backend: lab.backend, adapter, fallback, why, sha256, card, testSize, dataError, paper: paperNumbers(), catalogue: catalogue() };
  },

  async useShipped({ base, card }) {
    const loaded = await loadShipped(base, card);
    weightsSha = loaded.sha256;
    pool = null;
    return loaded;
  },

  async loadWeights({ bytes, name }) {
    weightsSha = lab.loadWeights(bytes, name, undefined);
    pool = null;
    return { sha256: weightsSha };
  },

  async gallery({ indices }) {
    return indices.map((i) => ({ index: i, label: lab.testLabel(i), pixels: lab.testImage(i) }));
  },

  async classify({ image, schemes, passes, seed }) {
    return lab.classify(Float32Array.from(image), schemes, passes, BigInt(seed));
  },

  async attack({ image, label, request }) {
    return lab.attack(Float32Array.from(image), { ...request, labels: [label] });
  },

  async table1({ schemes, limit, repeats, seed }) {
    return lab.table1(schemes, limit, repeats, BigInt(seed), (p) => progress({ what: 'table1', ...p }));
  },

  // Throughput of the loaded network on this backend (the library's `benchmark`, for
  // e2e/bench.mjs): {seconds, images, imgPerSec, values}.
  async benchmark({ kind, batch, reps, scheme }) {
    return lab.benchmark(kind, batch, reps, scheme ?? 'none');
  },

  async cells({ config }) {
    return lab.cells(config);
  },

  async stored({ config }) {
    return store.cells(lab.runKey(config));
  },

  async clear({ config }) {
    await store.clear(lab.runKey(config));
    return true;
  },

  async report({ config }) {
    const stored = await store.cells(lab.runKey(config));
    // The pool the cells drew from, rebuilt after a reload (the report states its size).
    const indices = stored.length ? await poolFor(config) : [];
    // The JSON halves only: the report needs no pixels.
    return lab.report(config, stored.map((s) => ({ cell: s.stored.cell })), indices.length);
  },

  // The pool the main worker screened, for the page to hand to the other workers of a run.
  async pool({ config }) {
    return poolFor(config);
  },

  // Times the run's attacks on a few digits of its pool (the library's `timeRun`); a cancel
  // stops between attacks.
  async timeRun({ config }) {
    cancelled = false;
    const indices = await poolFor(config);
    return lab.timeRun(config, indices, (p) => { progress({ what: 'probe', ...p }); return cancelled; });
  },

  // The library's estimate of a run from a timing: wall time for N on `workers` workers, and
  // the largest N that fits its budget.
  async estimate({ config, timing, reference, workers }) {
    return estimateRun(config, timing, reference ?? null, workers);
  },

  // One cell of an experiment, run to done by the library (`runCell`): it loads the cell from
  // IndexedDB, takes its steps and stores each before the next, so a cancel or a reload loses
  // nothing finished. The worker only persists, reports progress and says when to stop. The
  // page hands cells to its workers.
  async runCell({ config, cell, indices, index, total }) {
    cancelled = false;
    if (indices) pool = { samples: config.samples, indices: Uint32Array.from(indices) };
    await poolFor(config);
    const key = lab.runKey(config);
    const cellStore = {
      load: (cellKey) => store.get(key, cellKey),
      // A turn of the event loop after every stored step, so a queued 'cancel' is seen.
      save: async (cellKey, stored) => { await store.put(key, cellKey, stored); await breathe(); },
    };
    const started = performance.now();
    const next = await lab.runCell(config, cell, pool.indices, cellStore, (stored) => {
      const state = stored.next === 'done' ? 'done' : cancelled ? 'cancelled' : 'running';
      progress({ what: 'cell', index, total, cell, stored, state, elapsed: (performance.now() - started) / 1000 });
      return cancelled;
    });
    return { cancelled: next !== 'done' };
  },
};

self.onmessage = async ({ data }) => {
  if (data.op === 'cancel') {
    cancelled = true;
    return;
  }
  try {
    const result = await ops[data.op](data);
    post({ type: 'reply', id: data.id, result });
  } catch (e) {
    post({ type: 'reply', id: data.id, error: String((e && e.message) || e) });
  }
};
self.onerror = (e) => post({ type: 'crash', error: String(e.message || e) });
