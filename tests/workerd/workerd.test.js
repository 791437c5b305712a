// tests/workerd/workerd.test.js — veclite in the real Cloudflare runtime: the workerd binary from
// the `workerd` npm package (docs/building.md §5), docs/api.md §10 (examples/cloudflare-worker.js).
//
// What it checks:
//   - both builds load from an imported WebAssembly.Module via createDatabase({ wasmModule, simd })
//     and their top-k equal a brute force computed here in Node (tests/browser/pages/oracle.js);
//     bad calls give VecliteError codes there too;
//   - workerd refuses byte compilation, eval and new Function, allows WebAssembly.validate, has no
//     import.meta.url — and createDatabase() without a wasmModule rejects with a VecliteError
//     instead of hanging;
//   - examples/cloudflare-worker.js, unchanged, serves upsert/search/delete correctly.
//
// Invariants: one workerd process per file on free 127.0.0.1 ports, started in before() (bounded
// ~10 s wait) and killed in after(), also if the test process exits early; the generated config
// lives in a temp dir that after() removes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { writeConfig, ROOT, EXAMPLE_DIMENSION } from './workerd-config.js';
import {
  verifyRun, verifyErrors, makeVectors, makeMetadata, makeQueries, bruteForce, compareTopK, FILTERS,
} from '../browser/pages/oracle.js';

const require = createRequire(import.meta.url);
const BUILT = ['web/index.js', 'pkg/veclite.mjs', 'pkg/veclite.wasm', 'pkg-simd/veclite.mjs', 'pkg-simd/veclite.wasm'];
const START_MS = 10_000;

let proc;
let tmp;
let output = '';
let base = {}; // { check: 'http://127.0.0.1:P', example: 'http://127.0.0.1:Q' }
const killOnExit = () => proc?.kill('SIGKILL');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tail = () => output.slice(-4000);

async function get(url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { raw: text }; }
  return { status: res.status, body };
}

async function startWorkerd(configPath) {
  const bin = require('workerd').default;
  assert.ok(existsSync(bin), `workerd binary ${bin} not found: run tools/ensure-deps.sh (npm ci)`);
  const ports = { check: await freePort(), example: await freePort() };
  output = '';
  proc = spawn(bin, ['serve', configPath,
    '--socket-addr', `check=127.0.0.1:${ports.check}`, '--socket-addr', `example=127.0.0.1:${ports.example}`],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  process.once('exit', killOnExit);
  const collect = (d) => { output = (output + d).slice(-64_000); };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  let exited = null;
  proc.once('exit', (code, signal) => { exited = { code, signal }; });
  base = { check: `http://127.0.0.1:${ports.check}`, example: `http://127.0.0.1:${ports.example}` };
  const deadline = Date.now() + START_MS;
  for (;;) {
    if (exited) return { ok: false, why: `workerd exited (${JSON.stringify(exited)})` };
    try {
      const r = await fetch(`${base.check}/health`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) {
        await fetch(`${base.example}/nope`, { signal: AbortSignal.timeout(1000) }).catch(() => {});
        return { ok: true };
      }
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) return { ok: false, why: `no answer within ${START_MS / 1000} s` };
    await sleep(100);
  }
}

async function stopWorkerd() {
  if (!proc) return;
  const p = proc;
  proc = undefined;
  process.off('exit', killOnExit);
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
}

before(async () => {
  for (const f of BUILT) assert.ok(existsSync(path.join(ROOT, f)), `${f} is missing: run \`make build\` first`);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'veclite-workerd-'));
  const { configPath, checkModules } = writeConfig(tmp);
  for (const m of ['web/index.js', 'pkg-simd/veclite.wasm', 'pkg/veclite.wasm', 'pkg-simd/veclite.mjs', 'pkg/veclite.mjs']) {
    assert.ok(checkModules.includes(m), `generated config lacks ${m}: ${checkModules.join(', ')}`);
  }
  // Free ports are picked then released, so another process may grab one first: retry once.
  let started = await startWorkerd(configPath);
  if (!started.ok && /address already in use|bind/i.test(output)) {
    await stopWorkerd();
    started = await startWorkerd(configPath);
  }
  assert.ok(started.ok, `workerd did not start: ${started.why}\n${tail()}`);
});

after(async () => {
  await stopWorkerd();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

for (const [build, implementation, simd] of [['simd', 'wasm-simd', true], ['scalar', 'wasm', false]]) {
  test(`${build} build in workerd: createDatabase({wasmModule, simd:${simd}}), top-k equals a brute force in Node`, { timeout: 60_000 }, async () => {
    const { status, body } = await get(`${base.check}/check?build=${build}`);
    assert.equal(status, 200, `worker failed: ${JSON.stringify(body.error ?? body)}\n${tail()}`);
    const { run, errors } = body;
    assert.equal(run.implementation, implementation, 'getImplementation()');
    assert.equal(body.implementationAfter, implementation, 'getImplementation() after the error checks');
    assert.equal(run.wasmInfo.simdEnabled, simd, 'getWasmInfo().simdEnabled');
    assert.equal(run.wasmInfo.simdSupported, true, 'workerd (V8) supports wasm SIMD');
    for (const [c, n] of Object.entries(run.counts)) assert.equal(n, run.params.n, `${c}`);
    const verdict = verifyRun(run); // the oracle, computed here in Node from the run's seed
    assert.ok(verdict.searches >= 100, `only ${verdict.searches} searches`);
    assert.deepEqual(verdict.problems, [], 'engine results in workerd differ from the brute force');
    assert.deepEqual(verifyErrors(errors), [], `VecliteError behaviour in workerd: ${JSON.stringify(errors.cases, null, 1)}`);
  });
}

test('workerd refuses byte compilation and eval; imported .wasm is a WebAssembly.Module', { timeout: 30_000 }, async () => {
  const { status, body: r } = await get(`${base.check}/restrictions`);
  assert.equal(status, 200, JSON.stringify(r));
  for (const k of ['compileBytes', 'instantiateBytes', 'newModuleBytes']) {
    assert.equal(r[k].refused, true, `${k} must be refused: ${JSON.stringify(r[k])}`);
    assert.match(r[k].message, /disallowed/i, k);
  }
  for (const k of ['indirectEval', 'newFunction']) {
    assert.equal(r[k].refused, true, `${k} must be refused: ${JSON.stringify(r[k])}`);
    assert.match(r[k].message, /disallowed/i, k);
  }
  assert.deepEqual(r.validateSimdProbe, { refused: false, value: 'true' }, 'WebAssembly.validate works');
  assert.equal(r.importMetaUrl, 'undefined');
  assert.equal(r.importedWasmIsModule, true);
  assert.equal(r.glueIsFactory, true, 'both Emscripten glues import as factories');
});

test('workerd: createDatabase() without wasmModule rejects with a VecliteError that says what to pass', { timeout: 30_000 }, async () => {
  const { body: r } = await get(`${base.check}/restrictions`);
  const c = r.createDatabaseWithoutModule;
  assert.equal(c.refused, true, `it must fail in workerd (no import.meta.url, no byte compilation): ${JSON.stringify(c)}`);
  assert.doesNotMatch(c.message, /no answer within/, 'it must reject, not hang');
  assert.equal(c.name, 'VecliteError', `every failure is a VecliteError (docs/api.md §8): ${JSON.stringify(c)}`);
  assert.match(c.message, /wasmModule|WebAssembly\.Module/, `the message must say to pass a compiled module: ${c.message}`);
});

test('examples/cloudflare-worker.js in workerd: upsert, search (with filter), delete, errors', { timeout: 60_000 }, async () => {
  const n = 400, dim = EXAMPLE_DIMENSION, seed = 777, nQueries = 6, k = 10;
  const vectors = makeVectors(n, dim, seed);
  const post = (route, body) => get(`${base.example}${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });

  let r = await get(`${base.example}/`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { implementation: 'wasm-simd', simdEnabled: true, count: 0, dimension: dim });

  const items = vectors.map((v, i) => ({ id: i, vector: Array.from(v), metadata: makeMetadata(i) }));
  r = await post('/upsert', { items: items.slice(0, 250) });
  assert.deepEqual(r.body, { upserted: 250, count: 250 });
  r = await post('/upsert', { items: items.slice(250) });
  assert.deepEqual(r.body, { upserted: n - 250, count: n });

  const queries = makeQueries({ n, dim, seed, nQueries });
  const problems = [];
  let recallSum = 0, searches = 0;
  for (let q = 0; q < nQueries; q++) {
    for (const f of [FILTERS[0], FILTERS[1], FILTERS[4]]) {
      const res = await post('/search', { vector: Array.from(queries[q]), k, ef: 128, ...(f.filter ? { filter: f.filter } : {}) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const oracle = bruteForce('cosine', vectors, queries[q], f.pred);
      const c = compareTopK({ label: `example q${q} [${f.name}]`, metric: 'cosine', mode: 'recall', k, hits: res.body.hits }, oracle,
        { recallFloor: 0.8 });
      problems.push(...c.problems);
      recallSum += c.recall;
      searches++;
    }
  }
  assert.deepEqual(problems, [], 'example search results vs brute force');
  assert.ok(recallSum / searches >= 0.9, `mean recall@10 ${recallSum / searches}`);

  // A query that is a stored vector finds itself first.
  r = await post('/search', { vector: Array.from(vectors[42]), k: 1 });
  assert.equal(r.body.hits[0].id, 42);

  r = await post('/delete', { ids: [42, 43, 100000] });
  assert.deepEqual(r.body, { deleted: 2, count: n - 2 });
  r = await post('/search', { vector: Array.from(vectors[42]), k: 5 });
  assert.ok(!r.body.hits.some((h) => h.id === 42 || h.id === 43), 'deleted ids are never returned');

  r = await post('/search', { vector: [1, 2, 3], k: 3 });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'EINVAL', 'wrong dimension is a VecliteError EINVAL');
  r = await get(`${base.example}/search`, { method: 'POST', body: 'not json' });
  assert.equal(r.status, 400);
  r = await get(`${base.example}/`);
  assert.equal(r.body.count, n - 2, 'the failed calls changed nothing');
});
