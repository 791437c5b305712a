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
//   - examples/cloudflare-worker.js, unchanged, opens the .rvf store it bundles
//     (examples/cloudflare-store.mjs) and answers /search with the same top-10 as Node over the
//     same file; upsert, delete and errors (tests/workerd/example-check.js).
//
// Invariants: one workerd process per file (tests/workerd/workerd-process.js), started in before()
// and killed in after(), also if the test process exits early; the generated config and store live
// in a temp dir that after() removes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeConfig, ROOT } from './workerd-config.js';
import { startWorkerd, request as get } from './workerd-process.js';
import { checkExample, topKWith } from './example-check.js';
import { writeStore } from '../../examples/cloudflare-store.mjs';
import { openCollection } from '../../web/index.js';
import { verifyRun, verifyErrors } from '../browser/pages/oracle.js';

const BUILT = ['web/index.js', 'pkg/veclite.mjs', 'pkg/veclite.wasm', 'pkg-simd/veclite.mjs', 'pkg-simd/veclite.wasm'];

let tmp;
let store; // the .rvf the example bundles
let wd;    // { base: { check, example }, tail(), stop() }
const tail = () => wd?.tail() ?? '';

before(async () => {
  for (const f of BUILT) assert.ok(existsSync(path.join(ROOT, f)), `${f} is missing: run \`make build\` first`);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'veclite-workerd-'));
  store = path.join(tmp, 'docs.rvf');
  await writeStore(store);
  const { configPath, checkModules, exampleModules } = writeConfig(tmp, { store });
  for (const m of ['web/index.js', 'pkg-simd/veclite.wasm', 'pkg/veclite.wasm', 'pkg-simd/veclite.mjs', 'pkg/veclite.mjs']) {
    assert.ok(checkModules.includes(m), `generated config lacks ${m}: ${checkModules.join(', ')}`);
  }
  for (const m of ['examples/veclite', 'examples/veclite/pkg-simd/veclite.wasm', 'examples/docs.rvf', 'web/index.js']) {
    assert.ok(exampleModules.includes(m), `the example's modules lack ${m}: ${exampleModules.join(', ')}`);
  }
  wd = await startWorkerd(configPath, ['check', 'example'], { socket: 'check', path: '/health' });
});

after(async () => {
  await wd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const base = new Proxy({}, { get: (_, k) => wd.base[k] });

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

test('examples/cloudflare-worker.js in workerd: a bundled .rvf store, the same top-10 as Node, writes, errors', { timeout: 120_000 }, async () => {
  const col = await openCollection(store, { readOnly: true });
  try {
    const { queries, recall } = await checkExample(base.example, (qs) => topKWith(col, qs));
    assert.ok(queries >= 60, `${queries} queries`);
    assert.ok(recall >= 0.95);
  } finally {
    await col.close();
  }
});
