// Where the page's CPU backend spends its time (not a test): V8's sampling profiler around the
// lab's `benchmark` (forward passes, then input gradients, batch 64, `none`) in headless
// Chromium, on the main thread, with a module that still has its function names.
// `make dist` first; its module is stripped of names, so this loads the unstripped one
// wasm-bindgen left in the target directory (or the path given):
//   node e2e/profile.mjs [module with names]
// Prints each function's share of the samples (self time). PROFILE_BATCH (default 64) and
// PROFILE_SCHEME (default none) choose the calls.
import { mkdtemp, writeFile, copyFile, rm } from 'node:fs/promises';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const dist = process.env.ADVDROP_DIST ?? 'dist';
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache/advdrop-target');
const batch = Number(process.env.PROFILE_BATCH ?? 64);
const scheme = process.env.PROFILE_SCHEME ?? 'none';
const named = process.argv[2] ?? join(target, 'wasm-bindgen/release/advdrop_bg.wasm');
const here = await mkdtemp(join(tmpdir(), 'advdrop-profile-'));
await copyFile(named, join(here, 'advdrop_bg.wasm'));
await writeFile(join(here, 'index.html'), `<!doctype html><script type="module">
import init, { createLab } from '../advdrop.js';
try {
  await init({ module_or_path: './advdrop_bg.wasm' });
  const lab = await createLab('cpu');
  const card = await (await fetch('../www/model/advdrop-cnn.json')).json();
  const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
  lab.loadWeights(await bytes('../www/model/' + card.weights_file), card.weights_file, card.weights_sha256);
  lab.loadTestSet(await bytes('../data/mnist/t10k-images-idx3-ubyte.gz'), await bytes('../data/mnist/t10k-labels-idx1-ubyte.gz'));
  window.run = (kind, batch, reps, scheme) => lab.benchmark(kind, batch, reps, scheme);
  window.ready = true;
} catch (e) { window.failed = String(e); }
</script>`);
const server = await serve(dist, 0, { '/profile/': here });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/profile/index.html`);
  await page.waitForFunction(() => window.ready || window.failed, null, { timeout: 120000 });
  const failed = await page.evaluate(() => window.failed);
  if (failed) throw new Error(failed);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  for (const [kind, reps] of [['forward', 40], ['gradient', 20]]) {
    await page.evaluate(([k, b, s]) => window.run(k, b, 2, s), [kind, batch, scheme]);
    await cdp.send('Profiler.start');
    const r = await page.evaluate(([k, b, n, s]) => window.run(k, b, n, s), [kind, batch, Math.max(1, Math.round(reps * 64 / batch)), scheme]);
    const { profile } = await cdp.send('Profiler.stop');
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    for (const id of profile.samples) {
      const f = nodes.get(id).callFrame;
      // Rust's symbol hashes go; what is left names the function.
      const name = (f.functionName || `(${f.url.split('/').pop() || 'native'})`).replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');
      self.set(name, (self.get(name) ?? 0) + 1);
    }
    const total = profile.samples.length;
    console.log(`\n${kind}, batch ${batch}, \`${scheme}\`: ${r.imgPerSec.toFixed(0)} images/s while profiled, ${total} samples\n`);
    console.log('| self time | function |\n|---|---|');
    [...self.entries()].sort((a, b) => b[1] - a[1]).filter(([, c]) => c / total >= 0.005)
      .forEach(([name, c]) => console.log(`| ${(100 * c / total).toFixed(1)} % | \`${name.slice(0, 120)}\` |`));
  }
} finally {
  await browser.close();
  server.close();
  await rm(here, { recursive: true, force: true });
}
