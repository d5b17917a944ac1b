// In-page timings (not a test): `npm run timings -- [cpu|webgpu] [N] [attacks] [workers]` after
// `make dist`. Times one attack of each type on test digit #0 in the attack lab, Table 1 on 1,000
// test digits, and the protocol (attacks default fgsm,jsma,deepfool; both goals; the five schemes;
// 20 votes) at N per cell on `workers` Web Workers (default: the page's), as the page reports
// them. PROTOCOL_ONLY=1 times the protocol alone; PROTOCOL_LIMIT_S (default 3600) stops waiting
// for it and reports the cells done by then. The page's estimate is printed before the run
// (ESTIMATE=0 skips it). Prints a markdown table, a row at a time.
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const backend = process.argv[2] ?? 'cpu';
const n = process.argv[3] ?? '10';
const attacks = (process.argv[4] ?? 'fgsm,jsma,deepfool').split(',');
const workers = process.argv[5];
const protocolOnly = process.env.PROTOCOL_ONLY === '1';
const server = await serve(process.env.ADVDROP_DIST ?? 'dist');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-sync', ...(backend === 'webgpu' ? ['--enable-unsafe-webgpu'] : ['--disable-gpu'])],
});
const rows = [];
// Rows print as they come, so a long protocol run still leaves the attack timings behind.
const row = (r) => { rows.push(r); console.log(`| ${r.join(' | ')} |`); };
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(60 * 60 * 1000);
  const t0 = Date.now();
  await page.goto(`${server.url}/index.html?backend=${backend}`);
  await page.waitForSelector('body[data-ready="true"]');
  console.log(`${await page.textContent('#status-backend')}\n\n| what | outcome | time |\n|---|---|---|`);
  row(['page ready (wasm, weights, MNIST)', '', `${((Date.now() - t0) / 1000).toFixed(1)} s`]);

  await page.click('.thumb[data-index="0"]');
  await page.fill('#passes', '1');
  if (!protocolOnly) for (const [attack, goal] of [['fgsm', 'top3'], ['lbfgs', 'targeted'], ['jsma', 'targeted'], ['jsma-pairs', 'targeted'], ['deepfool', 'top3']]) {
    await page.selectOption('#attack', attack);
    await page.selectOption('#goal', goal);
    if (goal === 'targeted') await page.selectOption('#target', '3');
    await page.evaluate(() => { delete document.getElementById('attack-status').dataset.success; });
    await page.click('#run-attack');
    await page.waitForSelector('#attack-status[data-success]');
    const time = await page.textContent('td[data-metric="time"]');
    const ok = await page.getAttribute('#attack-status', 'data-success');
    const queries = await page.textContent('td[data-metric="queries"]');
    row([`${attack}, ${goal}, digit #0 (a 7)${goal === 'targeted' ? ' → 3' : ''}`, `${ok === 'true' ? 'success' : 'failed'}, ${queries} queries`, time.split(' on ')[0]]);
  }

  if (!protocolOnly) {
    await page.click('#tab-table1');
    await page.click('#t1-run');
    await page.waitForFunction(() => /Done in/.test(document.getElementById('t1-status').textContent));
    row(['Table 1, 1,000 test digits × 5 schemes × 3 passes', '', (await page.textContent('#t1-status')).match(/in ([\d.]+ s)/)[1]]);
  }

  await page.click('#tab-experiment');
  await page.fill('#exp-n', n);
  if (workers) await page.fill('#exp-workers', workers);
  for (const box of await page.$$('input[name="exp-attack"]')) await box.setChecked(attacks.includes(await box.getAttribute('value')));
  await page.click('#exp-clear');
  // The page's own estimate first, where the build has one (ESTIMATE=0 skips it).
  if (process.env.ESTIMATE !== '0' && await page.$('#exp-estimate')) {
    const t = Date.now();
    await page.click('#exp-estimate');
    await page.waitForSelector('#exp-eta-text[data-seconds]');
    const eta = Number(await page.getAttribute('#exp-eta-text', 'data-seconds'));
    row([`estimate before the run (timing took ${((Date.now() - t) / 1000).toFixed(1)} s)`, `proposes N = ${await page.getAttribute('#exp-eta-text', 'data-proposed')} for ~5 min`, `${eta.toFixed(1)} s`]);
  }
  const started = Date.now();
  await page.click('#exp-run');
  // PROTOCOL_LIMIT_S: stop waiting after that many seconds and report the cells done by then.
  const limit = Number(process.env.PROTOCOL_LIMIT_S ?? 3600) * 1000;
  const finished = await page.waitForSelector('#exp-status[data-finished="true"]', { timeout: limit }).then(() => true, () => false);
  const cells = await page.$$eval('#exp-cells tr[data-cell]', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  for (const c of cells) row([`protocol cell ${c[0]}`, `${c[1]} adversarials of ${c[2]} tried (${c[3]})`, c[4]]);
  const status = await page.textContent('#exp-status');
  const what = `protocol (${attacks.join(', ')}), N = ${n}, ${cells.length} cells, ${workers ?? 'default'} worker(s)`;
  if (finished) row([what, '', status.match(/in ([\d.]+ s)/)[1]]);
  else row([what, `not finished: ${cells.filter((c) => c[3] === 'done').length} of ${cells.length} cells done`, `> ${((Date.now() - started) / 1000).toFixed(0)} s`]);
} finally {
  await browser.close();
  server.close();
}
