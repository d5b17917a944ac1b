// advdrop's CPU backend beside TensorFlow.js's wasm backend, in headless Chromium (not a test):
// `npm run bench:browser` after `make dist`. The same CNN with the same shipped weights on the
// same MNIST test digits: advdrop through its lab worker (`benchmark`), TF.js (npm, served from
// node_modules/ for this page only) in a worker of its own; the two are checked to give the
// same logits and gradients before either is timed. Forward passes at batch 1, 64 and 256,
// input gradients at 64, each timing at least MIN_SECONDS long. Prints a markdown table.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const MIN_SECONDS = 2;
// Each figure is the median of this many timings, advdrop's and TF.js's taken in turn, so that
// other work on the machine weighs on both alike.
const ROUNDS = 3;
// Largest |advdrop − TF.js| accepted: float32 sums taken in a different order, and the f16
// weights decoded by each.
const TOLERANCE = 1e-3;
const dist = process.env.ADVDROP_DIST ?? 'dist';
// TensorFlow.js is an optional npm dependency (`make test` leaves it out): say how to get it.
if (!existsSync('node_modules/@tensorflow/tfjs-backend-wasm')) {
  console.error('TensorFlow.js is not installed: run `npm ci` (or `make bench-browser`, which does).');
  process.exit(1);
}
const backend = 'cpu';

// The features the wasm module was compiled with (its `target_features` custom section).
async function targetFeatures(file) {
  const b = await readFile(file);
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    let byte;
    do { byte = b[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return value;
  };
  const name = () => { const n = leb(); at += n; return b.subarray(at - n, at).toString(); };
  while (at < b.length) {
    const id = b[at++];
    const end = leb() + at;
    if (id === 0 && name() === 'target_features') {
      return Array.from({ length: leb() }, () => { const prefix = String.fromCharCode(b[at++]); return prefix + name(); });
    }
    at = end;
  }
  return [];
}

const server = await serve(dist, 0, { '/bench/': 'e2e/bench', '/tfjs/': 'node_modules/@tensorflow' });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-sync', '--disable-gpu'],
});
const log = (line) => process.stderr.write(`${line}\n`);
let failed = false;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(30 * 60 * 1000);
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.goto(`${server.url}/bench/index.html?backend=${backend}`);
  await page.waitForFunction(() => window.bench);
  const bench = (method, ...args) => page.evaluate(([m, a]) => window.bench[m](...a), [method, args]);
  const started = await bench('start');
  const simd = (await targetFeatures(join(dist, 'advdrop_bg.wasm'))).includes('+simd128');
  console.log(`Chromium ${browser.version()}, headless, --disable-gpu; ${cpus().length} CPU cores (${cpus()[0].model.trim()})`);
  console.log(`advdrop: ${started.backend} backend (${started.adapter}), module compiled ${simd ? 'with' : 'without'} SIMD (simd128)`);
  console.log(`TF.js ${started.tfjs.version}: wasm backend, SIMD ${started.tfjs.simd ? 'on' : 'off'}, ${started.tfjs.threads} thread(s)`);
  console.log(`weights: ${started.weights} (sha256 ${started.sha256.slice(0, 12)}…), the first 256 MNIST test digits\n`);

  // A benchmark of a different network is worthless: the same answers first.
  const checks = [
    ['logits, 8 digits, TF.js fused ops (the forward timed)', { kind: 'forward', batch: 8, backend: 'wasm', fused: true }],
    ['logits, 8 digits, TF.js plain ops (the gradient timed)', { kind: 'forward', batch: 8, backend: 'wasm', fused: false }],
  ];
  for (const [what, args] of checks) {
    const c = await bench('check', args);
    console.log(`check ${what}: max |advdrop − TF.js| = ${c.maxDiff.toExponential(2)} (largest |logit| ${c.maxAbs.toFixed(2)})`);
    if (!(c.maxDiff <= TOLERANCE)) throw new Error(`the TF.js network is not advdrop's: ${what} differ by ${c.maxDiff}`);
  }
  // Gradients: TF.js's cpu backend breaks max-pool ties as advdrop (and PyTorch) do, at the
  // window's first maximum, so it must agree; its wasm backend's MaxPoolGrad takes the last
  // (`>=` in MaxPoolGrad.cc), which in blank regions, where a window's maxima are equal, routes
  // the gradient to other pixels: a different subgradient of the same network, reported only.
  const c = await bench('check', { kind: 'gradient', batch: 64, backend: 'cpu', fused: false });
  console.log(`check input gradients, 64 digits, TF.js cpu: max |advdrop − TF.js| = ${c.maxDiff.toExponential(2)} (largest |gradient| ${c.maxAbs.toExponential(2)})`);
  if (!(c.maxDiff <= TOLERANCE)) throw new Error(`input gradients differ by ${c.maxDiff}`);
  let gradientBackend = 'wasm';
  let noKernel = false;
  try {
    const w = await bench('check', { kind: 'gradient', batch: 64, backend: 'wasm', fused: false });
    console.log(`check input gradients, 64 digits, TF.js wasm: max |advdrop − TF.js| = ${w.maxDiff.toExponential(2)} (max-pool ties taken at the window's last maximum, not its first)`);
  } catch (e) {
    if (!/not registered|kernel/i.test(e.message)) throw e;
    noKernel = true;
    gradientBackend = 'cpu';
    console.log(`TF.js wasm cannot take the gradient (${e.message}): its cpu backend is timed instead`);
  }

  const rows = [
    ['forward', 1, { backend: 'wasm', fused: true }],
    ['forward', 64, { backend: 'wasm', fused: true }],
    ['forward', 256, { backend: 'wasm', fused: true }],
    ['gradient', 64, { backend: gradientBackend, fused: false }],
  ];
  const median = (runs) => runs.map((r) => r.imgPerSec).sort((a, b) => a - b)[runs.length >> 1];
  const table = [];
  for (const [kind, batch, tf] of rows) {
    log(`timing ${kind} at batch ${batch}…`);
    const runs = { ours: [], theirs: [] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.ours.push(await bench('time', 'advdrop', { kind, batch, minSeconds: MIN_SECONDS }));
      runs.theirs.push(await bench('time', 'tfjs', { kind, batch, minSeconds: MIN_SECONDS, ...tf }));
      const [a, b] = [runs.ours.at(-1), runs.theirs.at(-1)];
      log(`  advdrop ${a.imgPerSec.toFixed(1)} img/s (${a.seconds.toFixed(1)} s), TF.js ${tf.backend} ${b.imgPerSec.toFixed(1)} img/s (${b.seconds.toFixed(1)} s)`);
    }
    table.push({ kind, batch, ours: { imgPerSec: median(runs.ours) }, theirs: { imgPerSec: median(runs.theirs) } });
  }
  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  console.log(`\nimages/s, median of ${ROUNDS} timings each:\n\n| what | batch | advdrop img/s | TF.js wasm img/s | ratio |\n|---|---|---|---|---|`);
  for (const { kind, batch, ours, theirs } of table) {
    const what = kind === 'forward' ? 'forward (logits read back)' : 'input gradient (cross-entropy)';
    const tf = kind === 'gradient' && noKernel ? `n/a (no kernel); cpu backend ${fmt(theirs.imgPerSec)}` : fmt(theirs.imgPerSec);
    console.log(`| ${what} | ${batch} | ${fmt(ours.imgPerSec)} | ${tf} | ${(ours.imgPerSec / theirs.imgPerSec).toFixed(2)}× |`);
  }
  const forward64 = table.find((r) => r.kind === 'forward' && r.batch === 64);
  const gradient64 = table.find((r) => r.kind === 'gradient');
  const verdict = (ok) => (ok ? 'met' : 'not met');
  const f = forward64.ours.imgPerSec / forward64.theirs.imgPerSec;
  const g = gradient64.ours.imgPerSec / forward64.theirs.imgPerSec;
  console.log(`\nTargets: forward at 64 ≥ TF.js wasm's: ${verdict(f >= 1)} (${f.toFixed(2)}×); `
    + `gradients at 64 ≥ half of TF.js wasm's forward at 64: ${verdict(g >= 0.5)} (${g.toFixed(2)}×).`);
} catch (e) {
  failed = true;
  log(`bench failed: ${e.message}`);
} finally {
  await browser.close();
  server.close();
}
process.exitCode = failed ? 1 : 0;
