// The page e2e/bench.mjs opens: advdrop's lab worker (dist's www/worker.js, on the backend
// `?backend=` names, as the lab's page takes it) and TF.js's worker (tfjs-worker.js), each on
// the same MNIST test digits and weights, called one at a time through `window.bench`.
const MAX_BATCH = 256;
const MAX_REPS = 10000; // the most advdrop's benchmark takes

function rpc(worker) {
  const pending = new Map();
  let nextId = 1;
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    if (!p) return; // advdrop's progress events
    pending.delete(data.id);
    if (data.error) p.reject(new Error(data.error)); else p.resolve(data.result);
  };
  worker.onerror = (e) => { for (const p of pending.values()) p.reject(new Error(`worker failed: ${e.message}`)); };
  return (op, args = {}) => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, ...args });
    });
  };
}

const advdrop = rpc(new Worker('/www/worker.js', { type: 'module' }));
const tfjs = rpc(new Worker('./tfjs-worker.js'));
let pixels = null; // the first MAX_BATCH test digits, [n, 28, 28] in [0, 1]
let labels = null;

const run = {
  advdrop: ({ kind, batch, reps }) => advdrop('benchmark', { kind, batch, reps, scheme: 'none' }),
  tfjs: ({ kind, batch, reps, backend, fused }) => tfjs('time', { kind, batch, reps, backend, fused, pixels, labels }),
};

window.bench = {
  // Starts both; the digits come from advdrop's lab, so both see the same pixels.
  async start() {
    const base = new URL('/', location.href).href;
    const backend = new URLSearchParams(location.search).get('backend') ?? 'cpu';
    const lab = await advdrop('start', { backend, base });
    if (lab.dataError) throw new Error(`MNIST test set: ${lab.dataError}`);
    const digits = await advdrop('gallery', { indices: [...Array(MAX_BATCH).keys()] });
    pixels = Float32Array.from(digits.flatMap((d) => Array.from(d.pixels, (p) => p / 255)));
    labels = digits.map((d) => d.label);
    const tf = await tfjs('start', { weightsUrl: new URL(`www/model/${lab.card.weights_file}`, base).href });
    return { backend: lab.backend, adapter: lab.adapter, weights: lab.card.weights_file, sha256: lab.sha256, tfjs: tf };
  },

  // Largest |advdrop − TF.js| over what one call gives (logits or input gradients) on the
  // first `batch` digits, and the largest |advdrop| for scale.
  async check({ kind, batch, backend, fused }) {
    const ours = (await advdrop('benchmark', { kind, batch, reps: 1, scheme: 'none' })).values;
    const theirs = await tfjs('values', { kind, batch, backend, fused, pixels, labels });
    let maxDiff = 0;
    let maxAbs = 0;
    ours.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - theirs[i]));
      maxAbs = Math.max(maxAbs, Math.abs(v));
    });
    return { values: ours.length, maxDiff, maxAbs };
  },

  // Throughput of `who` (advdrop or tfjs) with enough reps that the timed calls take at least
  // `minSeconds`: a one-rep call first sizes the run.
  async time(who, { minSeconds, ...what }) {
    let reps = 1;
    let reply = await run[who]({ ...what, reps });
    while (reply.seconds < minSeconds && reps < MAX_REPS) {
      reps = Math.min(MAX_REPS, Math.ceil((1.2 * minSeconds * reps) / Math.max(reply.seconds, 1e-3)));
      reply = await run[who]({ ...what, reps });
    }
    return { seconds: reply.seconds, images: reply.images, imgPerSec: reply.imgPerSec };
  },
};
