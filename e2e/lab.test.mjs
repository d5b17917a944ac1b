// End-to-end: the trunk-built dist/ served on 127.0.0.1, driven in Debian's headless Chromium
// by playwright-core: every view on the CPU backend, and a smoke on WebGPU (Chromium's software
// adapter). Screenshots of every view land in e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const DIST = process.env.ADVDROP_DIST ?? 'dist';
const ARTIFACTS = 'e2e/artifacts';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Minutes, not seconds: the CPU backend in wasm is single-threaded and SwiftShader is slow.
const LONG = 8 * 60 * 1000;

let server;
before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await serve(DIST);
});
after(() => server?.close());

// playwright gives every launch a fresh, empty profile of its own.
function launch(webgpu) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--disable-quic',
      ...(webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-gpu']),
    ],
  });
}

async function open(page, backend) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/index.html?backend=${backend}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: LONG });
  return errors;
}

// N = 2, top-3 DeepFool (the cheapest attack in model calls: FGSM's ε sweep costs up to 1,000
// sequential calls per image, JSMA all of its 2,000 steps on an image it cannot move), under
// four schemes, on two Web Workers. Returns the number of cells.
const TINY = { samples: 2, seed: 0, votes: 5, goals: ['top3'], attacks: ['deepfool'], schemes: ['none', 'input', 'fc', 'all'] };
async function tinyExperiment(page) {
  await page.fill('#exp-n', String(TINY.samples));
  await page.fill('#exp-seed', String(TINY.seed));
  await page.fill('#exp-votes', String(TINY.votes));
  await page.fill('#exp-workers', '2');
  const only = async (name, values) => {
    for (const box of await page.$$(`input[name="${name}"]`)) await box.setChecked(values.includes(await box.getAttribute('value')));
  };
  await only('exp-attack', TINY.attacks);
  await only('exp-goal', TINY.goals);
  await only('exp-scheme', TINY.schemes);
  return TINY.schemes.length;
}

// The same run through the CLI (`advdrop reproduce`, native): the page's cells must equal its
// cells — same images attacked, same successes and queries, same recognition counts, the same
// MAD and L0 up to rounding.
function sameAsCli(pageReport) {
  const bin = process.env.ADVDROP_BIN ?? `${process.env.CARGO_TARGET_DIR ?? 'target'}/release/advdrop`;
  const out = mkdtempSync(join(tmpdir(), 'advdrop-e2e-'));
  try {
    execFileSync(bin, ['reproduce', '--samples', String(TINY.samples), '--seed', String(TINY.seed),
      '--votes', String(TINY.votes), '--attacks', TINY.attacks.join(','), '--goals', TINY.goals.join(','),
      '--schemes', TINY.schemes.join(';'), '--jobs', '1', '--out', out,
      '--mnist', process.env.ADVDROP_MNIST ?? '../shared/data/mnist'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const cli = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const key = (c) => `${c.goal}-${c.attack}-${JSON.stringify(c.scheme)}`;
    const cliCells = new Map(cli.cells.map((c) => [key(c), c]));
    assert.equal(pageReport.cells.length, cliCells.size);
    for (const p of pageReport.cells) {
      const c = cliCells.get(key(p));
      assert.ok(c, `the CLI has no cell ${key(p)}`);
      for (const field of ['attempted', 'successes', 'first_pass', 'mean_queries']) assert.equal(p[field], c[field], `${key(p)} ${field}`);
      // L0 counts every pixel changed at all, so a component at rounding level (a gradient that
      // is 0 in one rounding and 1e-9 in another) moves it by one: the page's kernels round
      // differently from burn's, and natively burn's gemm rounds as the CPU's kernels do (an
      // AMD Zen 3 gave 608 where the page and another CPU gave 607.5). Within one pixel on average.
      assert.ok(Math.abs(p.mean_l0 - c.mean_l0) <= 1, `${key(p)} mean_l0 ${p.mean_l0} vs the CLI's ${c.mean_l0}`);
      assert.ok(Math.abs(p.mad.mean - c.mad.mean) <= 1e-3 * Math.max(1, c.mad.mean), `${key(p)} MAD ${p.mad.mean} vs the CLI's ${c.mad.mean}`);
      assert.deepEqual(p.recognition.map((r) => [r.test_scheme, r.single_pass.count, r.vote.count]),
        c.recognition.map((r) => [r.test_scheme, r.single_pass.count, r.vote.count]), `${key(p)} recognition`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

for (const backend of (process.env.ADVDROP_E2E_BACKENDS ?? 'cpu,webgpu').split(',')) {
  test(`the lab on ${backend}`, { timeout: 4 * LONG }, async () => {
    const browser = await launch(backend === 'webgpu');
    try {
      // One persistent context per backend, so the reload below sees the same IndexedDB.
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      page.setDefaultTimeout(LONG);
      const errors = await open(page, backend);

      // The status bar names the backend the page asked for, and the weights checked out.
      assert.equal(await page.getAttribute('#status-backend', 'data-backend'), backend);
      assert.match(await page.textContent('#status-weights'), /sha256 [0-9a-f]{12}… ✓/);
      // The weight-set menu lists the shipped sets from their model cards; the default is chosen.
      assert.equal(await page.inputValue('#weights-set'), 'advdrop-cnn.json');
      assert.match(await page.textContent('#weights-set'), /12 epochs, LR ×0\.75 per epoch/);
      assert.match(await page.textContent('#weights-set'), /40 epochs, constant LR/);
      assert.match(await page.textContent('#status-data'), /10,000 test digits/);

      // A corrupted weight file is refused with a reason, and the shipped weights stay loaded
      // (the attack below runs on them).
      await page.setInputFiles('#weights-file', { name: 'bad.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a weight file') });
      await page.waitForFunction(() => /refused/.test(document.getElementById('status-weights').textContent));

      await page.click('.thumb[data-index="0"]');
      assert.equal(await page.getAttribute('#selected', 'data-label'), '7');

      if (backend === 'webgpu') {
        // A smoke on WebGPU: the only adapter here is Chromium's SwiftShader, a software one
        // that takes minutes for what the CPU backend does in seconds, and every computation
        // is the CPU backend's (tests/web.rs compares the two). One top-3 DeepFool attack
        // under fc dropout, classified under every scheme.
        await page.selectOption('#attack', 'deepfool');
        await page.selectOption('#goal', 'top3');
        await page.selectOption('#gen-scheme', 'fc');
        await page.fill('#passes', '5');
        await page.click('#run-attack');
        await page.waitForSelector('#attack-status[data-success]');
        await page.waitForSelector('#recognition figure[data-scheme="all"]');
        assert.equal(await page.getAttribute('#attack-status', 'data-success'), 'true', await page.textContent('#attack-status'));
        assert.match(await page.textContent('td[data-metric="time"]'), /on WebGPU/);
        await page.screenshot({ path: `${ARTIFACTS}/${backend}-lab.png`, fullPage: true });

        // Left to choose, the page never prefers a software WebGPU adapter (here SwiftShader)
        // over the CPU backend, and says why.
        const auto = await context.newPage();
        await auto.goto(`${server.url}/index.html`);
        await auto.waitForSelector('body[data-ready="true"]', { timeout: LONG });
        assert.equal(await auto.getAttribute('#status-backend', 'data-backend'), 'cpu');
        assert.match(await auto.textContent('#status-backend'), /auto: WebGPU's adapter .* is a software one/);
        // Where both are real (forced here with ?auto=time), it times both and keeps the faster.
        const timed = await context.newPage();
        await timed.goto(`${server.url}/index.html?auto=time`);
        await timed.waitForSelector('body[data-ready="true"]', { timeout: LONG });
        assert.equal(await timed.getAttribute('#status-backend', 'data-backend'), 'cpu', await timed.textContent('#status-backend'));
        assert.match(await timed.textContent('#status-backend'), /auto: timed: the CPU backend \d+ ms vs WebGPU \d+ ms/);
        assert.deepEqual(errors, []);
        return;
      }

      // Targeted FGSM on gallery digit #0 (a 7). FGSM's Foolbox-0.8 direction is untargeted, so
      // it reaches a given target only sometimes: try targets until one succeeds, then check
      // that the page shows the adversarial recognised as that target under `none`.
      await page.selectOption('#attack', 'fgsm');
      await page.selectOption('#goal', 'targeted');
      await page.selectOption('#gen-scheme', 'none');
      await page.fill('#passes', '20');
      let target = null;
      for (const t of [3, 2, 9, 8, 5, 1, 0, 4, 6]) {
        await page.selectOption('#target', String(t));
        await page.click('#run-attack');
        await page.waitForSelector('#attack-status[data-success]');
        await page.waitForSelector('#recognition figure[data-scheme="all"]');
        const ok = await page.getAttribute('#attack-status', 'data-success');
        if (ok === 'true') { target = t; break; }
        await page.evaluate(() => { delete document.getElementById('attack-status').dataset.success; document.getElementById('recognition').innerHTML = ''; });
      }
      assert.notEqual(target, null, 'targeted FGSM reached none of the nine targets');
      assert.equal(await page.getAttribute('#recognition figure[data-scheme="none"]', 'data-top-class'), String(target));
      const mad = Number(await page.textContent('td[data-metric="MAD (0–255)"]'));
      assert.ok(mad > 0 && mad < 255, `MAD ${mad}`);
      await page.screenshot({ path: `${ARTIFACTS}/${backend}-lab.png`, fullPage: true });

      // The attacker modes reach the attack: targeted JSMA under `all` with frozen masks, then
      // with EOT, whose every query costs 10 passes. CPU only: on a software WebGPU adapter
      // EOT's tenfold cost would take minutes.
      if (backend === 'cpu') {
        await page.selectOption('#attack', 'jsma');
        await page.selectOption('#target', '3');
        await page.selectOption('#gen-scheme', 'all');
        for (const mode of ['fixed-mask', 'eot:10']) {
          await page.evaluate(() => { delete document.getElementById('attack-status').dataset.success; document.getElementById('recognition').innerHTML = ''; });
          await page.selectOption('#mode', mode);
          await page.click('#run-attack');
          await page.waitForSelector('#attack-status[data-success]');
          await page.waitForSelector('#recognition figure[data-scheme="all"]');
          assert.equal(await page.getAttribute('#attack-status', 'data-success'), 'true', `${mode}: ${await page.textContent('#attack-status')}`);
          assert.equal(await page.textContent('td[data-metric="attacker"]'), mode);
          const queries = Number(await page.textContent('td[data-metric="queries"]'));
          if (mode === 'eot:10') assert.equal(queries % 10, 0, `EOT queries ${queries}`);
        }
        await page.screenshot({ path: `${ARTIFACTS}/${backend}-lab-eot.png`, fullPage: true });
        await page.selectOption('#mode', 'paper');
      }

      // A tiny experiment (see tinyExperiment).
      await page.click('#tab-experiment');
      // Before any run, the view shows the committed N = 1000 reference run: its charts, its
      // heatmaps and its verdicts.
      assert.match(await page.textContent('#ref-status'), /reference run, advdrop reproduce at N = 1000/);
      assert.equal(await page.getAttribute('#mad-targeted', 'data-ref-bars'), '15'); // 3 attacks × 5 schemes
      assert.equal(await page.getAttribute('#heat-top3-deepfool', 'data-drawn'), 'reference');
      assert.equal(await page.locator('#ref-conclusions li').count(), 3);
      assert.equal(await page.locator('#ref-table tr[data-cell]').count(), 35);
      const cells = await tinyExperiment(page);
      await page.click('#exp-clear');
      // Before the run: the estimate times each attack on a few digits, says how long N takes and
      // proposes the largest N for about five minutes; "Use N" sets it.
      await page.click('#exp-estimate');
      await page.waitForSelector('#exp-eta-text[data-seconds]');
      const estimated = Number(await page.getAttribute('#exp-eta-text', 'data-seconds'));
      const proposed = Number(await page.getAttribute('#exp-eta-text', 'data-proposed'));
      assert.ok(estimated > 0 && Number.isFinite(estimated), await page.textContent('#exp-eta-text'));
      assert.ok(proposed >= 1 && proposed <= 1000, await page.textContent('#exp-eta-text'));
      assert.match(await page.textContent('#exp-eta-text'), /for N = 2 on 2 workers/);
      if (proposed !== TINY.samples) {
        await page.click('#exp-use-n');
        assert.equal(await page.inputValue('#exp-n'), String(proposed));
        await page.waitForFunction((n) => new RegExp(`for N = ${n} on`).test(document.getElementById('exp-eta-text').textContent), proposed);
        await page.fill('#exp-n', String(TINY.samples));
      }
      const t0 = Date.now();
      await page.click('#exp-run');
      await page.waitForSelector('#exp-status[data-finished]');
      assert.equal(await page.getAttribute('#exp-status', 'data-finished'), 'true', await page.textContent('#exp-status'));
      // The estimate is a guide, not a promise, but not off by an order of magnitude.
      const took = (Date.now() - t0) / 1000;
      console.log(`# ${backend}: estimated ${estimated.toFixed(1)} s, took ${took.toFixed(1)} s (N = ${TINY.samples}, ${cells} cells, 2 workers)`);
      assert.ok(took / estimated < 10 && estimated / took < 10, `estimated ${estimated} s, took ${took} s`);
      assert.equal(await page.getAttribute('#exp-status', 'data-workers'), '2');
      assert.equal(await page.locator('#exp-cells tr[data-state="done"]').count(), cells);
      assert.ok(Number(await page.getAttribute('#mad-top3', 'data-bars')) >= 2, 'MAD chart has bars');
      assert.equal(await page.getAttribute('#heat-top3-deepfool', 'data-filled'), String(cells * cells));
      assert.equal(await page.getAttribute('#heat-top3-deepfool', 'data-drawn'), 'both');
      await page.screenshot({ path: `${ARTIFACTS}/${backend}-experiment.png`, fullPage: true });
      // The exported report equals the CLI's run of the same settings, cell by cell.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#exp-json')]);
      sameAsCli(JSON.parse(readFileSync(await download.path(), 'utf8')));

      // A reload shows the finished cells again, from IndexedDB, without running anything.
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      await page.click('#tab-experiment');
      await tinyExperiment(page);
      await page.waitForFunction((n) => document.querySelectorAll('#exp-cells tr[data-state="done"]').length === n, cells);
      await page.waitForSelector(`#heat-top3-deepfool[data-filled="${cells * cells}"]`);
      await page.screenshot({ path: `${ARTIFACTS}/${backend}-reloaded.png`, fullPage: true });

      await page.click('#tab-about');
      await page.screenshot({ path: `${ARTIFACTS}/${backend}-about.png`, fullPage: true });
      assert.deepEqual(errors, []);

    } finally {
      await browser.close();
    }
  });
}
