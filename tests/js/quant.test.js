// tests/js/quant.test.js — quantization through the public API (SPEC F12): 'scalar' and 'product'
// collections in files and in memory. Checked against brute force over the test set: recall@10,
// exact reported distances (re-ranked with the float32 rows), get() returning the inserted vector
// bit for bit; stats().vectorBytes against the float32 bytes; the quantizer trained once (1,024
// rows) and adopted from the file on reopen (trainedOn 0) with identical answers; the choice kept
// in the store (openCollection without options, the create mismatch); bad options EINVAL; and the
// file read by the real @ruvector/rvf-node with every float32 row (the QUANT segment skipped).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createDatabase, openCollection } from '../../web/index.js';
import { BASE, QUERIES, DIM, bruteForce, dist64, rejectsWith } from './helpers.js';

const require = createRequire(import.meta.url);
const N = BASE.length;                 // 2,000 x 32: past the 1,024 rows a quantizer trains on
const rows = () => BASE.map((v, i) => ({ id: i, vector: v, metadata: { even: i % 2 === 0 } }));
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-quant-'));

/** Mean recall@10 over the test queries, and every reported distance exact. */
async function check(col, metric, { ef = 100, filter } = {}) {
  let hit = 0;
  for (const q of QUERIES) {
    const pred = filter ? (i) => i % 2 === 0 : () => true;
    const want = bruteForce(metric, q, BASE, 10, pred).map((w) => w.i);
    const got = await col.search(q, { k: 10, ef, ...(filter ? { filter } : {}) });
    assert.equal(got.length, 10);
    for (let r = 0; r < got.length; r++) {
      const d = dist64(metric, q, BASE[got[r].id]);
      assert.ok(Math.abs(got[r].distance - d) <= 1e-4 * (Math.abs(d) + 1), `id ${got[r].id}: reported ${got[r].distance}, exact ${d}`);
      if (r) assert.ok(got[r].distance >= got[r - 1].distance, 'sorted');
      if (filter) assert.equal(got[r].id % 2, 0, 'the filter applies');
    }
    hit += got.filter((h) => want.includes(h.id)).length;
  }
  return hit / (QUERIES.length * 10);
}

for (const kind of ['scalar', 'product']) {
  for (const metric of ['euclidean', 'cosine', 'dotProduct']) {
    test(`${kind} ${metric}: recall, exact distances, get, memory, reopen without training`, async () => {
      const dir = tmp();
      try {
        const db = await createDatabase({ path: dir });
        const col = await db.createCollection('q', { dimension: DIM, metric, quantization: kind });
        let st = await col.stats();
        assert.deepEqual([st.quantization.kind, st.quantization.trained], [kind, false]);
        await col.insertBatch(rows().slice(0, 1000));
        assert.equal((await col.stats()).quantization.trained, false, 'under 1,024 rows: float32, exact');
        await col.insertBatch(rows().slice(1000));
        st = await col.stats();
        assert.equal(st.quantization.trained, true);
        assert.equal(st.quantization.trainedOn, N);
        const f32 = N * DIM * 4;
        assert.equal(st.vectorBytes, N * st.quantization.codeBytes + st.quantization.tableBytes);
        if (kind === 'scalar') assert.equal(st.quantization.codeBytes, DIM);   // 32: one byte each
        else assert.ok(st.quantization.codeBytes <= DIM / 4, `${st.quantization.codeBytes} code bytes`);
        assert.ok(st.vectorBytes < (kind === 'scalar' ? 0.3 : 0.2) * f32, `vectorBytes ${st.vectorBytes} of ${f32}`);
        const r = await check(col, metric);
        assert.ok(r >= (kind === 'scalar' ? 0.97 : 0.9), `recall@10 ${r}`);
        assert.ok(await check(col, metric, { filter: { even: true } }) >= (kind === 'scalar' ? 0.95 : 0.85));
        for (const i of [0, 17, 1999]) {
          const g = await col.get(i);
          assert.deepEqual(g.vector, Float32Array.from(BASE[i]), `get(${i}) is the inserted vector`);
        }
        const before = await col.search(QUERIES[0], { k: 10 });
        await db.close();

        const db2 = await createDatabase({ path: dir });
        const c2 = await db2.getCollection('q');
        const q2 = (await c2.stats()).quantization;
        assert.deepEqual([q2.kind, q2.trained, q2.trainedOn], [kind, true, 0], 'adopted from the file');
        assert.deepEqual(await c2.search(QUERIES[0], { k: 10 }), before);
        // rows written after the quantizer: encoded with it, found exactly
        const v = BASE[3].map((x) => x + 1e-3);
        await c2.insert({ id: 5000, vector: v });
        const all = [...BASE, v];
        const want = bruteForce(metric, v, all, 1)[0].i;
        const top = await c2.search(v, { k: 1 });
        assert.equal(top[0].id, want === N ? 5000 : want);
        await db2.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

test('quantized collection in memory: exact distances from the store the collection keeps; export reopens quantized', async () => {
  const db = await createDatabase();
  const col = await db.createCollection('m', { dimension: DIM, metric: 'euclidean', quantization: 'scalar' });
  await col.insertBatch(rows());
  assert.ok(await check(col, 'euclidean') >= 0.97);
  assert.deepEqual((await col.get(5)).vector, Float32Array.from(BASE[5]));
  const bytes = await col.export();
  await db.close();
  const c = await openCollection(bytes);
  const q = (await c.stats()).quantization;
  assert.deepEqual([q.kind, q.trained], ['scalar', true]);
  assert.ok(await check(c, 'euclidean') >= 0.97);
  await c.close();
});

test('the rerank search option reaches the engine: re-ranking only k product-coded candidates loses recall that re-ranking 200 keeps; out of range is EINVAL', async () => {
  const db = await createDatabase();
  const col = await db.createCollection('p', { dimension: DIM, metric: 'euclidean', quantization: { type: 'product', subvectors: 4 } });
  await col.insertBatch(rows());
  assert.equal((await col.stats()).quantization.subvectors, 4);
  let few = 0, many = 0;
  for (const q of QUERIES) {
    const want = bruteForce('euclidean', q, BASE, 10).map((w) => w.i);
    few += (await col.search(q, { k: 10, ef: 200, rerank: 10 })).filter((h) => want.includes(h.id)).length;
    many += (await col.search(q, { k: 10, ef: 200, rerank: 200 })).filter((h) => want.includes(h.id)).length;
  }
  // (a facade that dropped the option, as web/index.js wire() once did, makes both the default)
  assert.ok(many > few, `rerank 200: ${many} hits, rerank 10: ${few}`);
  assert.ok(many / (QUERIES.length * 10) >= 0.9);
  await rejectsWith(() => col.search(QUERIES[0], { rerank: 0 }), 'EINVAL', /rerank/);
  await rejectsWith(() => col.search(QUERIES[0], { rerank: 1.5 }), 'EINVAL', /rerank/);
  await db.close();
});

test('quantization options: bad values, a flat index, and a store that holds rows are EINVAL', async () => {
  const db = await createDatabase();
  await rejectsWith(() => db.createCollection('a', { dimension: 8, quantization: 'int4' }), 'EINVAL', /quantization/);
  await rejectsWith(() => db.createCollection('a', { dimension: 8, quantization: { type: 'product', subvectors: 9 } }), 'EINVAL', /subvectors/);
  await rejectsWith(() => db.createCollection('a', { dimension: 8, quantization: { type: 'scalar', subvectors: 2 } }), 'EINVAL', /subvectors/);
  await rejectsWith(() => db.createCollection('a', { dimension: 8, index: { type: 'flat' }, quantization: 'scalar' }), 'EINVAL', /hnsw/);
  await rejectsWith(() => createDatabase({ quantization: 'binary' }), 'EINVAL', /quantization/);
  await db.close();
  const dir = tmp();
  try {
    const file = path.join(dir, 'plain.rvf');
    const c = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean' } });
    await c.insertBatch(rows().slice(0, 10));
    await c.close();
    // the store exists unquantized: create asking for 'scalar' does not silently change it
    await rejectsWith(() => openCollection(file, { create: { dimension: DIM, metric: 'euclidean', quantization: 'scalar' } }),
      'EINVAL', /quantization 'none'/);
    const d = await createDatabase({ path: dir, dimensions: DIM, metric: 'euclidean', quantization: 'scalar' });
    const q = await d.createCollection('dflt');
    assert.equal((await q.stats()).quantization.kind, 'scalar', "createDatabase's quantization is the collections' default");
    assert.equal((await d.stats()).quantization, 'scalar');
    await d.close();
    const again = await openCollection(path.join(dir, 'dflt.rvf'));
    assert.equal((await again.stats()).quantization.kind, 'scalar', 'kept in the store');
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('@ruvector/rvf-node opens a quantized store and reads every float32 row (QUANT skipped)', async () => {
  const { RvfDatabase } = require('@ruvector/rvf-node');
  const dir = tmp();
  try {
    const file = path.join(dir, 'q.rvf');
    const c = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', quantization: 'product' } });
    await c.insertBatch(rows().map(({ id, vector }) => ({ id, vector })));
    await c.close();
    const types = new Set();
    const raw = fs.readFileSync(file);
    for (let o = 0; o + 64 <= raw.length; o++) {        // segment headers: magic "RVFS", version 1, type
      if (raw[o] === 0x53 && raw[o + 1] === 0x46 && raw[o + 2] === 0x56 && raw[o + 3] === 0x52 && raw[o + 4] === 1) types.add(raw[o + 5]);
    }
    assert.ok(types.has(0x06), `a QUANT segment is in the file (types ${[...types]})`);
    const db = RvfDatabase.openReadonly(file);
    assert.equal(db.status().totalVectors, N);
    for (const q of QUERIES.slice(0, 10)) {
      const want = bruteForce('euclidean', q, BASE, 10);
      const got = db.query(Float32Array.from(q), 10);
      assert.deepEqual(got.map((h) => Number(h.id)).sort((a, b) => a - b), want.map((w) => w.i).sort((a, b) => a - b));
    }
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a read-only follower of a quantized store: refresh() applies changed and new rows (codes from the new vectors)', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'f.rvf');
    const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', quantization: 'scalar' } });
    await w.insertBatch(rows());
    const r = await openCollection(file, { readOnly: true });
    assert.equal((await r.stats()).quantization.trained, true);
    const moved = BASE[1500].map((x) => x + 0.5);
    await w.insert({ id: 5, vector: moved });                       // an existing id, a new vector
    await w.insert({ id: 9000, vector: BASE[7].map((x) => x - 0.25) });
    await r.refresh();
    assert.deepEqual((await r.get(5)).vector, Float32Array.from(moved));
    const top = await r.search(moved, { k: 1 });
    assert.deepEqual([top[0].id, top[0].distance], [5, 0]);
    const n = await r.search(BASE[7].map((x) => x - 0.25), { k: 1 });
    assert.deepEqual([n[0].id, n[0].distance], [9000, 0]);
    await r.close();
    await w.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
