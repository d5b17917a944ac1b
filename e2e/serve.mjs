// A static file server for dist/ on 127.0.0.1 (a secure context, so WebGPU is allowed), with
// the MIME types module workers and WebAssembly streaming need. `mounts` serves more folders
// beside it: {'/bench/': 'e2e/bench'} answers /bench/x from e2e/bench/x.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.png': 'image/png', '.gz': 'application/octet-stream', '.safetensors': 'application/octet-stream',
};

export function serve(root, port = 0, mounts = {}) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const mount = Object.keys(mounts).find((prefix) => path.startsWith(prefix));
    const [dir, rest] = mount ? [mounts[mount], path.slice(mount.length)] : [root, path];
    try {
      const body = await readFile(join(dir, path.endsWith('/') ? `${rest}index.html` : rest));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => {
    resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() });
  }));
}
