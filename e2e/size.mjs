// The page's code as a browser downloads it: the wasm module and the JavaScript, raw and
// gzip-compressed (GitHub Pages serves gzip; level 6, zlib's default). Weights, MNIST, the
// reference run and the vendored Chart.js are data or third-party and listed apart.
// `node e2e/size.mjs [dist] [--budget-wasm-gzip BYTES]` exits 1 when the compressed wasm is
// over the budget (CI's check that the module does not silently grow).
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const args = process.argv.slice(2);
const flag = args.indexOf('--budget-wasm-gzip');
const budget = flag >= 0 ? Number(args[flag + 1]) : null;
const dist = args.find((a, i) => !a.startsWith('--') && (flag < 0 || i !== flag + 1)) ?? 'dist';

async function files(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await files(path));
    else out.push(path);
  }
  return out;
}

const all = await files(dist);
const code = all.filter((f) => /\.(wasm|m?js|html|css)$/.test(f) && !f.includes('/vendor/'));
const rows = [];
let raw = 0;
let gz = 0;
let wasmGzip = 0;
for (const f of code.sort()) {
  const body = await readFile(f);
  const z = gzipSync(body, { level: 6 }).length;
  raw += body.length;
  gz += z;
  if (f.endsWith('.wasm')) wasmGzip += z;
  rows.push([relative(dist, f), body.length, z]);
}
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
console.log('| file | raw | gzip |\n|---|---|---|');
for (const [f, r, z] of rows.filter(([, r]) => r > 20000)) console.log(`| ${f} | ${mb(r)} | ${mb(z)} |`);
console.log(`| **the page's code** (${rows.length} files: wasm, JS, HTML, CSS) | ${mb(raw)} | **${mb(gz)}** |`);
const data = all.filter((f) => !code.includes(f));
let dataRaw = 0;
for (const f of data) dataRaw += (await stat(f)).size;
console.log(`\nBeside it: ${data.length} data and vendored files (weights, MNIST, the reference run, Chart.js), ${mb(dataRaw)}.`);
if (budget !== null) {
  if (!(wasmGzip <= budget)) {
    console.error(`The compressed wasm is ${wasmGzip} bytes, over its budget of ${budget}: find what grew (or raise the budget in the Makefile, saying why).`);
    process.exit(1);
  }
  console.log(`Compressed wasm ${wasmGzip} bytes, within its budget of ${budget}.`);
}
