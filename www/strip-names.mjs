// Trunk post-build hook (release builds): drops the wasm module's `name` and `producers`
// custom sections — function names for stack traces, a sixth of the gzip-compressed module —
// and nothing else. A plain section copy: binaryen's wasm-opt --strip-debug re-encodes the
// whole module, which makes it smaller raw but larger gzip-compressed (docs/performance.md).
// `node www/strip-names.mjs file.wasm…` also works outside trunk.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const DROP = new Set(['name', 'producers']);

function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, at];
  }
}

export function strip(bytes) {
  if (bytes.length < 8 || bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  const kept = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const [size, body] = leb(bytes, at);
    at = body + size;
    if (at > bytes.length) throw new Error('truncated section');
    if (id === 0) {
      const [length, name] = leb(bytes, body);
      if (DROP.has(bytes.subarray(name, name + length).toString('utf8'))) continue;
    }
    kept.push(bytes.subarray(start, at));
  }
  return Buffer.concat(kept);
}

let files = process.argv.slice(2);
if (!files.length) {
  if (process.env.TRUNK_PROFILE !== 'release') process.exit(0);
  const dir = process.env.TRUNK_STAGING_DIR;
  if (!dir) throw new Error('run by trunk, or name the files');
  files = (await readdir(dir)).filter((f) => f.endsWith('.wasm')).map((f) => join(dir, f));
}
for (const file of files) {
  const before = await readFile(file);
  const after = strip(before);
  await writeFile(file, after);
  console.log(`${file}: ${before.length} → ${after.length} bytes`);
}
