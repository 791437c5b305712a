// tests/seed/judge.js — judges a run of tests/seed/seed-scenario.js, in Node, against values
// computed from the scenario's own inputs (the cosine oracle below), never from the engine.

import assert from 'node:assert/strict';

/** Cosine similarity of two plain arrays (the oracle). */
function cos(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
}

/** Judge a run of the scenario (shared with tests/browser/seed.test.js). */
export function judgeSeed(out, { indexedDb }) {
  assert.equal(out.implType, 'wasm');
  assert.ok(['wasm', 'wasm-simd'].includes(out.implBuild));
  assert.equal(out.poolSize, 0);
  assert.equal(out.indexedDb, indexedDb);
  assert.equal(out.missing, null, 'getCollection of an absent name resolves null');
  assert.deepEqual(out.get, { id: 'b', vector: [0.9, 0.1, 0, 0].map(Math.fround), metadata: { tag: 'even' } });
  assert.equal(out.getMissing, null);
  assert.equal(out.updated, true);
  assert.equal(out.updatedMissing, false, 'update of an absent id resolves false');
  assert.deepEqual(out.afterUpdate, { vector: [0, 0, 0.5, 0.5], metadata: { tag: 'moved' } });
  const vecs = { a: [1, 0, 0, 0], b: [0.9, 0.1, 0, 0], c: [0, 1, 0, 0], d: [0, 0, 0.5, 0.5], e: [0.7, 0.7, 0, 0] };
  const want = Object.entries(vecs).map(([id, v]) => [id, cos([1, 0, 0, 0], v)]).sort((x, y) => y[1] - x[1]).slice(0, 3);
  assert.deepEqual(out.search.map((h) => h[0]), want.map((w) => w[0]));
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(out.search[i][1] - want[i][1]) < 1e-6, `score of ${want[i][0]}`);
  assert.deepEqual(out.filtered, ['c'], 'the predicate filter');
  assert.equal(out.stats.vectorCount, 5);
  assert.equal(out.stats.dimensions, 4);
  assert.equal(out.stats.metric, 'cosine');
  assert.ok(out.stats.memoryUsage > 0 && out.stats.indexSize > 0);
  assert.equal(out.stats.quantization, 'none');
  assert.equal(out.stats.simdEnabled, out.implBuild === 'wasm-simd');
  assert.equal(out.deleted, true);
  assert.equal(out.deletedAgain, false);
  assert.equal(out.afterDelete, null);
  assert.equal(out.overCapacity, 'EBUDGET');
  assert.equal(out.quantization, 'EINVAL');
}

