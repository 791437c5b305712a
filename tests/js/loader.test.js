// tests/js/loader.test.js — build selection and loading (docs/api.md §1, docs/building.md §1-§2):
// SIMD auto-detection, the { simd: false } override, pre-compiled modules (the workerd path),
// wrong modules rejecting instead of hanging, and the two artifacts' instruction sets checked
// with wabt (wasm-validate, wasm-objdump).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createDatabase, getImplementation, getWasmInfo } from '../../web/index.js';
import { simdSupported, compileWasm, loadModule } from '../../web/loader.js';
import { Engine } from '../../worker/bind.js';
import { rejectsWith, within } from './helpers.js';

const file = (rel) => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
const compile = async (rel) => WebAssembly.compile(await readFile(file(rel)));

/** A tiny round trip proving an engine works: exact nearest neighbour on 3 points. */
async function smoke(db) {
  const c = await db.createCollection('s', { dimension: 3, metric: 'euclidean' });
  await c.insertBatch([{ id: 1, vector: [1, 0, 0] }, { id: 2, vector: [0, 1, 0] }, { id: 3, vector: [0, 0, 1] }]);
  const [hit] = await c.search([0.1, 0.9, 0], { k: 1 });
  assert.equal(hit.id, 2);
  await db.deleteCollection('s');
}

test('before any load, getImplementation() names the build that would load', () => {
  // This file runs in its own process; nothing is loaded yet.
  assert.equal(simdSupported(), true, 'Node 20 supports wasm SIMD');
  assert.equal(getImplementation().build, 'wasm-simd');
  assert.equal(String(getImplementation()), 'wasm-simd', 'it still reads as the build name');
  // Regression: an enumerable toString function made it fail to cross postMessage from a Worker.
  assert.deepEqual(structuredClone(getImplementation()), { type: 'wasm', build: 'wasm-simd', simd: true });
  assert.deepEqual(getWasmInfo(), {
    simdEnabled: true, simdSupported: true, workerPoolSize: 0, indexedDbEnabled: false, opfsEnabled: false, backend: null,
  });
});

test('auto-detect picks the SIMD build in Node', async () => {
  const db = await createDatabase();
  assert.equal(db.implementation, 'wasm-simd');
  assert.equal(getImplementation().build, 'wasm-simd');
  assert.equal(getWasmInfo().simdEnabled, true);
  await smoke(db);
  await db.close();
});

test('{ simd: false } picks the scalar build', async () => {
  const db = await createDatabase({ simd: false });
  assert.equal(db.implementation, 'wasm');
  assert.equal(getImplementation().build, 'wasm', 'the last loaded engine');
  assert.equal(getWasmInfo().simdEnabled, false);
  await smoke(db);
  await db.close();
});

test('the engine reports its own kernels (vl_isa_name)', async () => {
  const a = new Engine((await loadModule({ simd: true })).M);
  const b = new Engine((await loadModule({ simd: false })).M);
  assert.equal(a.isa, 'simd128');
  assert.equal(b.isa, 'scalar');
});

test('both builds live side by side in one process', async () => {
  const [s, p] = await Promise.all([createDatabase({ simd: true }), createDatabase({ simd: false })]);
  assert.equal(s.implementation, 'wasm-simd');
  assert.equal(p.implementation, 'wasm');
  await smoke(s);
  await smoke(p);
  await s.close();
  await smoke(p); // closing one does not affect the other
  await p.close();
});

test('a pre-compiled WebAssembly.Module is accepted (the workerd path)', async () => {
  const simdMod = await compile('pkg-simd/veclite.wasm');
  const scalarMod = await compile('pkg/veclite.wasm');
  const d1 = await createDatabase({ wasmModule: simdMod });
  assert.equal(d1.implementation, 'wasm-simd');
  await smoke(d1);
  const d2 = await createDatabase({ wasmModule: scalarMod, simd: false });
  assert.equal(d2.implementation, 'wasm');
  await smoke(d2);
  // The implementation is read from the instance, so a mismatched flag cannot lie.
  const d3 = await createDatabase({ wasmModule: scalarMod, simd: true });
  assert.equal(d3.implementation, 'wasm');
  await smoke(d3);
  // One compiled module serves several instances.
  const d4 = await createDatabase({ wasmModule: simdMod });
  await smoke(d4);
  for (const d of [d1, d2, d3, d4]) await d.close();
});

test('compileWasm reads file: URLs', async () => {
  const mod = await compileWasm(new URL('../../pkg/veclite.wasm', import.meta.url));
  assert.ok(mod instanceof WebAssembly.Module);
  const db = await createDatabase({ wasmModule: mod, simd: false });
  await smoke(db);
  await db.close();
  await assert.rejects(compileWasm(new URL('../../pkg/no-such.wasm', import.meta.url)), /ENOENT/);
});

test('a wrong module rejects with EBACKEND instead of hanging', async () => {
  // Imports the glue cannot satisfy -> LinkError.
  // (module (import "env" "no_such_function" (func)))
  const needsImport = new WebAssembly.Module(new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 24, 1, 3, 101, 110, 118, 16,
    110, 111, 95, 115, 117, 99, 104, 95, 102, 117, 110, 99, 116, 105, 111, 110, 0, 0,
  ]));
  await within(5000, rejectsWith(() => createDatabase({ wasmModule: needsImport }), 'EBACKEND', /LinkError|instantiate/), 'LinkError');
  // Instantiates but exports nothing the glue needs (no memory).
  const empty = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  await within(5000, rejectsWith(() => createDatabase({ wasmModule: empty }), 'EBACKEND'), 'empty module');
  // The C unit-test build: same toolchain, not the engine.
  const unit = await compile('build/unit-scalar.wasm').catch(() => null);
  if (unit) await within(5000, rejectsWith(() => createDatabase({ wasmModule: unit }), 'EBACKEND'), 'unit module');
  // And loading still works afterwards.
  const db = await createDatabase({ simd: false });
  await smoke(db);
  await db.close();
});

test('wasm-validate --disable-simd: pkg/ passes, pkg-simd/ fails', () => {
  const ok = spawnSync('wasm-validate', ['--disable-simd', file('pkg/veclite.wasm')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, `pkg/veclite.wasm should validate without SIMD:\n${ok.stderr}`);
  const bad = spawnSync('wasm-validate', ['--disable-simd', file('pkg-simd/veclite.wasm')], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0, 'pkg-simd/veclite.wasm must need SIMD');
  assert.match(bad.stderr, /0xfd|simd|v128/i, 'rejected for the SIMD prefix opcode 0xfd');
  const both = spawnSync('wasm-validate', [file('pkg-simd/veclite.wasm')], { encoding: 'utf8' });
  assert.equal(both.status, 0, `pkg-simd/veclite.wasm should validate with SIMD:\n${both.stderr}`);
});

test('wasm-objdump: pkg-simd/ has f32x4 ops, pkg/ has no v128 op at all', () => {
  const dis = (rel) => execFileSync('wasm-objdump', ['-d', file(rel)], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const simd = dis('pkg-simd/veclite.wasm');
  const scalar = dis('pkg/veclite.wasm');
  for (const op of ['f32x4.mul', 'f32x4.add', 'v128.load']) assert.ok(simd.includes(op), `pkg-simd uses ${op}`);
  const simdOp = /\b(v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2)\./;
  assert.ok(scalar.length > 10000, 'disassembly is not empty');
  const hit = scalar.split('\n').find((l) => simdOp.test(l));
  assert.equal(hit, undefined, `pkg/ contains a SIMD op: ${hit}`);
});
