// tests/browser/package.test.js — the installed tarball in a page built by a bundler: `npm pack`,
// install into a fresh project (tests/js/pack.js), build that project's page with Vite (its
// default configuration), serve only the build output, and run it in headless Chromium.
//
// What it shows, against the exact brute force of tests/browser/pages/oracle.js (computed here):
//   (b) the bundled page imports 'veclite' by name and searches in this thread, in a worker pool
//       (`workers: 2`: the pool's worker entry must have been bundled) and over OPFS (a session
//       in a worker), which survives a reload;
//   (c) a module Worker of the page (`new Worker(new URL(...), { type: 'module' })`) imports
//       'veclite' and searches there;
//   the same page under `vite` (the dev server) works too;
//   and that both .wasm builds were emitted by the bundler and fetched from the build output as
//   application/wasm, nothing was fetched from node_modules, and no request failed or logged an error.
//
// Invariants: the server's root is the build output (dist/), so nothing outside it can be
// loaded; each test uses its own browser context (fresh OPFS); the temp project is removed after.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { build, createServer } from 'vite';
import { packAndInstall, ROOT } from '../js/pack.js';
import { startServer } from '../../tools/serve.mjs';
import { CHROMIUM, ARGS, within } from './harness.js';
import { bruteForce, compareTopK, makeVectors, makeQueries } from './pages/oracle.js';

const N = 400, DIM = 16, SEED = 4242, NQ = 8, K = 10;

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>veclite from npm</title><link rel="icon" href="data:,"></head>
<body><pre id="out">running…</pre><script type="module" src="./main.js"></script></body></html>
`;

// Shared by the page and its worker: the same rows, queries and search calls.
const SCENARIO_JS = `
import { makeVectors, makeMetadata, makeQueries } from './oracle.js';
export const N = ${N}, DIM = ${DIM}, SEED = ${SEED}, NQ = ${NQ}, K = ${K};
export const rows = () => makeVectors(N, DIM, SEED).map((vector, id) => ({ id, vector, metadata: makeMetadata(id) }));
export async function searchAll(col) {
  const out = [];
  for (const q of makeQueries({ n: N, dim: DIM, seed: SEED, nQueries: NQ })) {
    out.push((await col.search(q, { k: K, ef: 200 })).map(({ id, distance, score, metadata }) => ({ id, distance, score, metadata })));
  }
  return out;
}
`;

const MAIN_JS = `
import { createDatabase, getImplementation } from 'veclite';
import { rows, searchAll } from './scenario.js';

async function fill(db) {
  const col = await db.createCollection('items', { dimension: ${DIM}, metric: 'cosine' });
  await col.insertBatch(rows());
  return col;
}

window.veclitePkg = {
  async inThread() {
    const db = await createDatabase();
    const hits = await searchAll(await fill(db));
    const r = { workers: db.workers, implementation: getImplementation(), hits };
    await db.close();
    return r;
  },
  async pool() {
    const db = await createDatabase({ workers: 2 });
    const hits = await searchAll(await fill(db));
    const r = { workers: db.workers, hits };
    await db.close();
    return r;
  },
  async opfsWrite() {
    const db = await createDatabase({ path: 'pkg-test' });
    await fill(db);
    const r = { workers: db.workers };
    await db.close();
    return r;
  },
  async opfsRead() {
    const db = await createDatabase({ path: 'pkg-test' });
    const col = await db.getCollection('items');
    const r = { count: await col.count(), hits: await searchAll(col) };
    await db.close();
    return r;
  },
  worker() {
    return new Promise((resolve, reject) => {
      const w = new Worker(new URL('./search-worker.js', import.meta.url), { type: 'module' });
      w.onmessage = (ev) => { w.terminate(); resolve(ev.data); };
      w.onerror = (ev) => { w.terminate(); reject(new Error('worker: ' + (ev.message || 'failed to load'))); };
      w.postMessage('go');
    });
  },
};
document.getElementById('out').textContent = 'ready';
`;

const WORKER_JS = `
import { createDatabase, getImplementation } from 'veclite';
import { rows, searchAll } from './scenario.js';
self.onmessage = async () => {
  try {
    const db = await createDatabase();
    const col = await db.createCollection('items', { dimension: ${DIM}, metric: 'cosine' });
    await col.insertBatch(rows());
    self.postMessage({ inWorker: typeof WorkerGlobalScope !== 'undefined', implementation: getImplementation(), hits: await searchAll(col) });
    await db.close();
  } catch (e) {
    self.postMessage({ error: String(e && e.stack || e) });
  }
};
`;

let pack, dist, server, browser;
const buildLog = [];

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: run tools/ensure-deps.sh`);
  pack = packAndInstall('veclite-vite-');
  const { project } = pack;
  const files = { 'index.html': INDEX_HTML, 'main.js': MAIN_JS, 'scenario.js': SCENARIO_JS, 'search-worker.js': WORKER_JS };
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(project, f), text);
  fs.copyFileSync(path.join(ROOT, 'tests/browser/pages/oracle.js'), path.join(project, 'oracle.js'));
  dist = path.join(project, 'dist');
  const logger = {
    info: () => {}, clearScreen: () => {}, hasErrorLogged: () => false, hasWarned: false,
    warn: (m) => buildLog.push(`warn: ${m}`), warnOnce: (m) => buildLog.push(`warn: ${m}`), error: (m) => buildLog.push(`error: ${m}`),
  };
  // Vite with no configuration file: what `npx vite build` does in that project.
  await build({ root: project, configFile: false, logLevel: 'warn', customLogger: logger, build: { outDir: dist, emptyOutDir: true } });
  server = await startServer(dist);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 20_000 });
});

after(async () => {
  await browser?.close();
  await server?.close();
  pack?.cleanup();
});

/** A fresh context's page on the built index.html, recording console errors and every response. */
async function openPage(origin = server.url) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const log = { errors: [], responses: [] };
  const watch = (target) => target.on('console', (m) => { if (m.type() === 'error') log.errors.push(m.text()); });
  watch(page);
  page.on('worker', (w) => watch(w));
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => log.errors.push(`request failed: ${r.url()}`));
  ctx.on('response', (r) => log.responses.push({ url: new URL(r.url()).pathname, status: r.status(), type: r.headers()['content-type'] }));
  const resp = await page.goto(origin + '/index.html');
  assert.equal(resp?.status(), 200);
  await page.waitForFunction(() => window.veclitePkg, null, { timeout: 20_000 });
  return { ctx, page, log };
}

const call = (page, fn) => within(60_000, fn, page.evaluate((f) => window.veclitePkg[f](), fn));

function judge(label, hitsPerQuery) {
  const vectors = makeVectors(N, DIM, SEED);
  const queries = makeQueries({ n: N, dim: DIM, seed: SEED, nQueries: NQ });
  assert.equal(hitsPerQuery.length, NQ, label);
  const problems = [];
  for (const [q, hits] of hitsPerQuery.entries()) {
    const oracle = bruteForce('cosine', vectors, queries[q]);
    problems.push(...compareTopK({ label: `${label} q${q}`, metric: 'cosine', mode: 'exact', k: K, hits }, oracle).problems);
  }
  assert.deepEqual(problems, [], `${label}: results differ from the brute force`);
}

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors or failed requests');
  const bad = log.responses.filter((r) => r.status >= 400);
  assert.deepEqual(bad, [], 'failed responses');
  assert.deepEqual(log.responses.filter((r) => r.url.includes('node_modules')), [], 'nothing is fetched from node_modules');
}

test('the bundler emitted both .wasm builds and the pool worker; the build warned of nothing but Node-only modules', () => {
  const assets = fs.readdirSync(path.join(dist, 'assets'));
  assert.equal(assets.filter((f) => /^veclite-[\w-]+\.wasm$/.test(f)).length, 2, `assets: ${assets.join(', ')}`);
  assert.ok(assets.some((f) => /^host-[\w-]+\.js$/.test(f)), `the pool's worker entry (worker/host.js) was not bundled: ${assets.join(', ')}`);
  const other = buildLog.filter((m) => !/Module "node:[\w/]+" has been externalized for browser compatibility/.test(m));
  assert.deepEqual(other, [], 'unexpected build messages');
});

test('(b) bundled page: import by name, in-thread and a 2-worker pool == brute force; OPFS survives a reload', { timeout: 180_000 }, async () => {
  const { ctx, page, log } = await openPage();
  try {
    const a = await call(page, 'inThread');
    assert.equal(a.workers, 0);
    assert.deepEqual(a.implementation, { type: 'wasm', build: 'wasm-simd', simd: true });
    judge('in-thread', a.hits);
    const p = await call(page, 'pool');
    assert.equal(p.workers, 2);
    judge('pool', p.hits);
    assert.deepEqual(p.hits, a.hits, 'the pool answers exactly as this thread does');

    const w = await call(page, 'opfsWrite');
    assert.equal(w.workers, 1, 'an OPFS database runs its session in a (bundled) worker');
    await page.reload();
    await page.waitForFunction(() => window.veclitePkg, null, { timeout: 20_000 });
    const o = await call(page, 'opfsRead');
    assert.equal(o.count, N);
    judge('opfs after reload', o.hits);

    const wasm = log.responses.filter((r) => r.url.endsWith('.wasm'));
    assert.ok(wasm.length >= 1, 'the page fetched a .wasm');
    for (const r of wasm) {
      assert.match(r.url, /^\/assets\/veclite-[\w-]+\.wasm$/, 'the .wasm comes from the build output');
      assert.equal(r.type, 'application/wasm');
    }
    assert.ok(log.responses.some((r) => /^\/assets\/host-[\w-]+\.js$/.test(r.url) && r.status === 200), 'the pool loaded its bundled worker');
    assertClean(log);
  } finally {
    await ctx.close();
  }
});

test('(c) a module Worker of the bundled page imports veclite and searches == brute force', { timeout: 120_000 }, async () => {
  const { ctx, page, log } = await openPage();
  try {
    const r = await call(page, 'worker');
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.inWorker, true);
    assert.equal(r.implementation.build, 'wasm-simd');
    judge('module worker', r.hits);
    assert.ok(log.responses.some((x) => /^\/assets\/search-worker-[\w-]+\.js$/.test(x.url)), 'the worker script was bundled');
    assertClean(log);
  } finally {
    await ctx.close();
  }
});

test('the same page under the Vite dev server (no pre-bundling configuration): in-thread and a pool == brute force', { timeout: 120_000 }, async () => {
  const dev = await createServer({ root: pack.project, configFile: false, logLevel: 'silent', server: { host: '127.0.0.1', port: 0 } });
  await dev.listen();
  const { ctx, page, log } = await openPage(dev.resolvedUrls.local[0].replace(/\/$/, ''));
  try {
    judge('dev in-thread', (await call(page, 'inThread')).hits);
    const p = await call(page, 'pool');
    assert.equal(p.workers, 2);
    judge('dev pool', p.hits);
    assert.deepEqual(log.errors, [], 'console errors or failed requests');
    assert.deepEqual(log.responses.filter((r) => r.status >= 400), [], 'failed responses');
  } finally {
    await ctx.close();
    await dev.close();
  }
});
