// tests/browser/browser.test.js — veclite in real headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core; docs/building.md §4). docs/api.md §10: browser main thread and module Worker.
//
// What it checks, each against the exact brute-force oracle of pages/oracle.js run in the page:
//   (a) auto-detect loads pkg-simd/ ('wasm-simd', simdEnabled), exact flat top-10 with and without
//       structured/JS filters for three metrics, HNSW recall, searchBatch, threshold, get, vectors;
//   (b) {simd:false} loads pkg/ ('wasm');
//   (c) with WebAssembly.validate faked to refuse the SIMD probe, auto-detect loads pkg/;
//   (d) the same check inside a module Worker (new Worker(url, {type:'module'}));
//   (e) bad calls reject with a VecliteError carrying the right code.
//
// Invariants: one browser per file (before/after), one fresh context per test (closed in finally);
// tools/serve.mjs serves the repo on a random 127.0.0.1 port; no browser is ever downloaded — a
// missing /usr/bin/chromium FAILS every test with a hint to run tools/ensure-deps.sh.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE, useBrowser, within } from './harness.js';
import { DEFAULT_PARAMS } from './pages/check.js';

const COLLECTIONS = ['flat-cosine', 'flat-euclidean', 'flat-dot', 'hnsw-cosine'];
const STEP_MS = 30_000;

let browser;
let server;

useBrowser((b, s) => { browser = b; server = s; });


/**
 * A fresh context + page on the test page, recording console errors, page errors and responses.
 * @param {{initScript?: Function}} [opt]
 */
async function openPage({ initScript } = {}) {
  const ctx = await browser.newContext();
  if (initScript) await ctx.addInitScript(initScript);
  const page = await ctx.newPage();
  const log = { errors: [], responses: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.errors.push(`console.${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('response', (r) => log.responses.push({
    path: new URL(r.url()).pathname, status: r.status(), type: r.headers()['content-type'] ?? '',
  }));
  const resp = await page.goto(server.url + PAGE);
  assert.equal(resp?.status(), 200, `GET ${PAGE}`);
  const note = () => (log.errors.length ? `\npage log:\n  ${log.errors.join('\n  ')}` : '');
  return { ctx, page, log, note };
}

/** Run check.js in the page: import /web/index.js, build, search, judge with the oracle in the page. */
function checkInPage(page, dbOptions) {
  return within(STEP_MS, 'check in page', page.evaluate(async (opts) => {
    const veclite = await import('/web/index.js');
    const { runCheck } = await import('/tests/browser/pages/check.js');
    const { verifyRun } = await import('/tests/browser/pages/oracle.js');
    const run = await runCheck(veclite, opts);
    return { run, verdict: verifyRun(run), crossOriginIsolated: self.crossOriginIsolated };
  }, dbOptions));
}

/** Assertions shared by every successful run. */
function assertRun(res, { implementation, simdEnabled, simdSupported }, note) {
  const { run, verdict } = res;
  assert.equal(run.implementation, implementation, `getImplementation() after createDatabase${note()}`);
  assert.equal(run.wasmInfo.simdEnabled, simdEnabled, `getWasmInfo().simdEnabled${note()}`);
  assert.equal(run.wasmInfo.simdSupported, simdSupported, `getWasmInfo().simdSupported${note()}`);
  for (const c of COLLECTIONS) assert.equal(run.counts[c], DEFAULT_PARAMS.n, `${c}.count()${note()}`);
  for (const c of ['flat-cosine', 'flat-euclidean', 'flat-dot']) {
    assert.equal(run.counts[`${c} insertBatch returned`], DEFAULT_PARAMS.n, `${c}.insertBatch() return value`);
  }
  assert.deepEqual([...run.listCollections].sort(), [...COLLECTIONS].sort(), 'listCollections()');
  // 4 collections x 6 queries x their filters + searchBatch + threshold + includeVectors
  assert.ok(verdict.searches >= 100, `only ${verdict.searches} searches were judged`);
  assert.deepEqual(verdict.problems, [], `engine results differ from the brute-force oracle${note()}`);
  assert.ok(verdict.minRecall >= 0.8, `HNSW recall ${verdict.minRecall}`);
}

/** Which of the two .wasm files the page fetched, and with which MIME type. */
function wasmFetches(log) {
  return log.responses.filter((r) => r.path.endsWith('.wasm'));
}

test('(a) page: auto-detect loads pkg-simd/; top-10 equals the in-page brute force, with filters', { timeout: 60_000 }, async () => {
  const { ctx, page, log, note } = await openPage();
  try {
    const res = await checkInPage(page, {});
    assert.equal(res.crossOriginIsolated, true, 'tools/serve.mjs COOP/COEP headers make the page crossOriginIsolated');
    assert.equal(res.run.implementationBefore, 'wasm-simd', `getImplementation() before any load${note()}`);
    assertRun(res, { implementation: 'wasm-simd', simdEnabled: true, simdSupported: true }, note);
    const wasm = wasmFetches(log);
    assert.ok(wasm.some((r) => r.path === '/pkg-simd/veclite.wasm' && r.status === 200 && r.type === 'application/wasm'),
      `pkg-simd/veclite.wasm was fetched as application/wasm: ${JSON.stringify(wasm)}`);
    assert.ok(!wasm.some((r) => r.path === '/pkg/veclite.wasm'), `the scalar build must not be fetched: ${JSON.stringify(wasm)}`);
  } finally {
    await ctx.close();
  }
});

test('(b) page: {simd:false} loads pkg/ (wasm) and gives the same exact results', { timeout: 60_000 }, async () => {
  const { ctx, page, log, note } = await openPage();
  try {
    const res = await checkInPage(page, { simd: false });
    assertRun(res, { implementation: 'wasm', simdEnabled: false, simdSupported: true }, note);
    const wasm = wasmFetches(log);
    assert.ok(wasm.some((r) => r.path === '/pkg/veclite.wasm' && r.status === 200), `pkg/veclite.wasm fetched: ${JSON.stringify(wasm)}`);
    assert.ok(!wasm.some((r) => r.path === '/pkg-simd/veclite.wasm'), `pkg-simd must not be fetched: ${JSON.stringify(wasm)}`);
  } finally {
    await ctx.close();
  }
});

test('(c) page: engine without SIMD (WebAssembly.validate refuses the probe) -> auto-detect loads pkg/', { timeout: 60_000 }, async () => {
  // Runs before any page script. Small modules containing a SIMD opcode prefix (0xfd) or the v128
  // value type (0x7b) are reported invalid, as an engine without SIMD would; the rest is untouched.
  const initScript = () => {
    const orig = WebAssembly.validate;
    const calls = [];
    Object.defineProperty(globalThis, '__vlValidateCalls', { value: calls });
    WebAssembly.validate = function validate(bytes, ...rest) {
      const u8 = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : new Uint8Array(bytes);
      const simd = u8.length < 1024 && (u8.includes(0xfd) || u8.includes(0x7b));
      calls.push({ length: u8.length, refused: simd });
      return simd ? false : orig.call(this, bytes, ...rest);
    };
  };
  const { ctx, page, log, note } = await openPage({ initScript });
  try {
    const res = await checkInPage(page, {});
    const calls = await page.evaluate(() => globalThis.__vlValidateCalls);
    assert.ok(calls.some((c) => c.refused), `the loader must probe SIMD with WebAssembly.validate; calls: ${JSON.stringify(calls)}`);
    assert.equal(res.run.implementationBefore, 'wasm', `getImplementation() before any load, without SIMD${note()}`);
    assertRun(res, { implementation: 'wasm', simdEnabled: false, simdSupported: false }, note);
    const wasm = wasmFetches(log);
    assert.ok(wasm.some((r) => r.path === '/pkg/veclite.wasm' && r.status === 200), `pkg/veclite.wasm fetched: ${JSON.stringify(wasm)}`);
    assert.ok(!wasm.some((r) => r.path === '/pkg-simd/veclite.wasm'), `pkg-simd must not be fetched: ${JSON.stringify(wasm)}`);
  } finally {
    await ctx.close();
  }
});

test('(d) module Worker: the same check runs inside new Worker(url, {type:"module"})', { timeout: 60_000 }, async () => {
  const { ctx, page, note } = await openPage();
  try {
    const res = await within(STEP_MS + 5_000, 'module Worker', page.evaluate(() => new Promise((resolve, reject) => {
      const w = new Worker('/tests/browser/pages/worker.js', { type: 'module' });
      const done = (fn, v) => { clearTimeout(t); w.terminate(); fn(v); };
      const t = setTimeout(() => done(reject, new Error('worker did not answer within 30 s')), 30_000);
      w.onmessage = (ev) => done(resolve, ev.data);
      w.onerror = (ev) => done(reject, new Error(`worker error event: ${ev.message || 'module failed to load (see console)'}`));
      w.onmessageerror = () => done(reject, new Error('worker reply could not be deserialized'));
      w.postMessage({ dbOptions: {} });
    })));
    assert.equal(res.ok, true, `worker failed: ${JSON.stringify(res.error)}${note()}`);
    assert.equal(res.isWorker, true, 'ran in a WorkerGlobalScope');
    assertRun(res, { implementation: 'wasm-simd', simdEnabled: true, simdSupported: true }, note);
    assert.deepEqual(res.errorProblems, [], `errors inside the worker${note()}`);
  } finally {
    await ctx.close();
  }
});

test('(e) page: bad calls reject with VecliteError and a code; the collection stays intact', { timeout: 60_000 }, async () => {
  const { ctx, page, note } = await openPage();
  try {
    const rec = await within(STEP_MS, 'error checks in page', page.evaluate(async () => {
      const veclite = await import('/web/index.js');
      const { runErrorChecks } = await import('/tests/browser/pages/check.js');
      const { verifyErrors } = await import('/tests/browser/pages/oracle.js');
      const r = await runErrorChecks(veclite, {});
      // The thrown object itself, checked where it was thrown (not after serialisation).
      let direct;
      try {
        const db = await veclite.createDatabase();
        try { await db.createCollection('x', { dimension: 0 }); } catch (e) {
          direct = { name: e.name, code: e.code, ctorName: e.constructor?.name, hasStack: typeof e.stack === 'string' };
        }
        await db.close();
      } catch (e) { direct = { outer: String(e) }; }
      return { ...r, problems: verifyErrors(r), direct };
    }));
    assert.deepEqual(rec.problems, [], `error behaviour: ${JSON.stringify(rec.cases, null, 1)}${note()}`);
    assert.equal(rec.direct?.name, 'VecliteError', JSON.stringify(rec.direct));
    assert.equal(rec.direct?.code, 'EINVAL', JSON.stringify(rec.direct));
    assert.equal(rec.direct?.hasStack, true, 'VecliteError has a stack');
  } finally {
    await ctx.close();
  }
});
