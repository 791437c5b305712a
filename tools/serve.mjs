#!/usr/bin/env node
// tools/serve.mjs — a tiny static file server for the browser tests and the example pages.
//
// How it fits: tests/browser/*.test.js start it on a random free port with the repository as the
// root, and headless Chromium loads /web/index.js, /pkg-simd/veclite.wasm, ... from it. People can
// also run it by hand to open examples/*.html:  node tools/serve.mjs [root] [--port N] [--host H]
// [--page /examples/browser.html ...] (`make serve` does; each --page's URL is printed)
//
// Invariants (docs/building.md §4):
//   - binds 127.0.0.1 only (127.0.0.1 is a secure context: OPFS and Web Locks are available);
//   - `.wasm` is served as application/wasm (otherwise compileStreaming refuses it), `.js`/`.mjs`
//     as text/javascript (otherwise module scripts and module Workers refuse to load);
//   - every response carries COOP/COEP/CORP so pages are `crossOriginIsolated`, and
//     `Cache-Control: no-store` so a rebuilt pkg/ is never served stale;
//   - no file outside the root is ever served: the decoded path is resolved under the root and the
//     real path (symlinks followed) must stay inside it, else 403;
//   - only GET and HEAD; no directory listings (a directory serves its index.html or 404).

import http from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (this file lives in <root>/tools/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MIME = {
  '.wasm': 'application/wasm',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const BASE_HEADERS = {
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

/**
 * The MIME type the server sends for a file name.
 * @param {string} file
 * @returns {string}
 */
export function mimeType(file) {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function inside(root, p) {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function sendText(res, status, text, extra = {}) {
  res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

async function handle(root, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  let rel;
  try {
    rel = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    sendText(res, 400, 'bad request path\n');
    return;
  }
  if (rel.includes('\0')) {
    sendText(res, 400, 'bad request path\n');
    return;
  }
  // `rel` is decoded, so it may contain `..` again (%2e%2e): resolve, then check containment.
  let file = path.resolve(root, '.' + path.sep + rel);
  if (!inside(root, file)) {
    sendText(res, 403, 'forbidden\n');
    return;
  }
  let st;
  try {
    st = await stat(file);
    if (st.isDirectory()) {
      file = path.join(file, 'index.html');
      st = await stat(file);
    }
    if (!st.isFile()) throw new Error('not a file');
    // Symlinks must not lead out of the root either.
    if (!inside(root, await realpath(file))) {
      sendText(res, 403, 'forbidden\n');
      return;
    }
  } catch {
    sendText(res, 404, 'not found\n');
    return;
  }
  res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': mimeType(file), 'Content-Length': st.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/**
 * Start the static server.
 * @param {string} [rootDir] directory to serve (default: the repository root)
 * @param {{port?: number, host?: string}} [options] port 0 (default) picks a free port
 * @returns {Promise<{url: string, port: number, close: () => Promise<void>}>} `url` has no
 *   trailing slash; `close()` stops listening and drops open keep-alive connections.
 */
export async function startServer(rootDir = REPO_ROOT, { port = 0, host = '127.0.0.1' } = {}) {
  const root = await realpath(path.resolve(rootDir));
  const server = http.createServer((req, res) => {
    handle(root, req, res).catch((err) => {
      if (!res.headersSent) sendText(res, 500, `internal error: ${err?.message ?? err}\n`);
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  let closing;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ---- CLI ---------------------------------------------------------------------------------------

function parseArgs(argv) {
  const out = { root: REPO_ROOT, port: 8080, host: '127.0.0.1', pages: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') out.port = Number(argv[++i]);
    else if (a.startsWith('--port=')) out.port = Number(a.slice(7));
    else if (a === '--host') out.host = argv[++i];
    else if (a.startsWith('--host=')) out.host = a.slice(7);
    else if (a === '--page') out.pages.push(argv[++i]);
    else if (a.startsWith('--page=')) out.pages.push(a.slice(7));
    else if (a === '-h' || a === '--help') out.help = true;
    else out.root = path.resolve(a);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    throw new Error(`--port must be an integer 0..65535 (0 = a free port)`);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`serve: ${e.message}`);
    process.exit(2);
  }
  if (args.help) {
    console.log('usage: node tools/serve.mjs [root] [--port N (default 8080, 0 = free port)] [--host 127.0.0.1] [--page /path/to/print ...]');
    process.exit(0);
  }
  const srv = await startServer(args.root, { port: args.port, host: args.host });
  console.log(`serving ${args.root} at ${srv.url}/  (examples: ${srv.url}/examples/)  Ctrl-C to stop`);
  for (const page of args.pages) console.log(`open ${srv.url}${page.startsWith('/') ? '' : '/'}${page}`);
  const stop = () => srv.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
