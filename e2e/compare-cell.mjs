// The page against the CLI, digit by digit (not a test): `node e2e/compare-cell.mjs N attack goal
// scheme [votes]` after `make dist` and a release build. Runs one cell in the page (CPU backend,
// one worker) and through `advdrop reproduce` with the same settings, then lists every digit
// whose outcome differs (adversarial or not, queries, MAD).
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from './serve.mjs';

const [n = '20', attack = 'fgsm', goal = 'targeted', scheme = 'none', votes = '20'] = process.argv.slice(2);
const bin = process.env.ADVDROP_BIN ?? `${process.env.CARGO_TARGET_DIR ?? 'target'}/release/advdrop`;
const mnist = process.env.ADVDROP_MNIST ?? '../shared/data/mnist';

const server = await serve(process.env.ADVDROP_DIST ?? 'dist');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
let pageCell;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(60 * 60 * 1000);
  await page.goto(`${server.url}/index.html?backend=cpu`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.click('#tab-experiment');
  await page.fill('#exp-n', n);
  await page.fill('#exp-seed', '0');
  await page.fill('#exp-votes', votes);
  await page.fill('#exp-workers', '1');
  const only = async (name, value) => { for (const box of await page.$$(`input[name="${name}"]`)) await box.setChecked(await box.getAttribute('value') === value); };
  await only('exp-attack', attack);
  await only('exp-goal', goal);
  await only('exp-scheme', scheme);
  await page.click('#exp-clear');
  await page.click('#exp-run');
  await page.waitForSelector('#exp-status[data-finished="true"]');
  // The stored cell, straight from the page's IndexedDB.
  [pageCell] = await page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('advdrop', 1);
    open.onsuccess = () => {
      const all = open.result.transaction('cells').objectStore('cells').getAll();
      all.onsuccess = () => resolve(all.result.map((r) => r.stored.cell));
      all.onerror = () => reject(all.error);
    };
  }));
} finally {
  await browser.close();
  server.close();
}

const out = mkdtempSync(join(tmpdir(), 'advdrop-compare-'));
let cliCell;
try {
  execFileSync(bin, ['reproduce', '--samples', n, '--seed', '0', '--votes', votes, '--attacks', attack,
    '--goals', goal, '--schemes', scheme, '--jobs', '1', '--out', out, '--mnist', mnist], { stdio: ['ignore', 'ignore', 'pipe'] });
  cliCell = JSON.parse(readFileSync(join(out, 'cells', `${goal}-${attack}-${scheme}.json`), 'utf8'));
} finally {
  rmSync(out, { recursive: true, force: true });
}

const outcomes = (cell) => new Map([
  ...cell.samples.map((s) => [s.index, `adversarial at ${s.queries} queries, MAD ${(s.distances.mad * 255).toFixed(3)}`]),
  ...cell.failures.map((f) => [f.index, `failed after ${f.queries} queries`]),
]);
const [p, c] = [outcomes(pageCell), outcomes(cliCell)];
const shared = [...p.keys()].filter((k) => c.has(k));
const differ = shared.filter((k) => p.get(k) !== c.get(k));
console.log(`${goal} ${attack} ${scheme}, N = ${n}: the page tried ${pageCell.attempted} digits, the CLI ${cliCell.attempted}; of the ${shared.length} both tried, ${shared.length - differ.length} agree and ${differ.length} differ`);
for (const k of differ) console.log(`  digit #${k}: page ${p.get(k)}; CLI ${c.get(k)}`);
