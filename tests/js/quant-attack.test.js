// tests/js/quant-attack.test.js — quantized collections under the paths that move rows around:
// a pool's writer and read replica, updates of existing ids after a checkpoint, delete and
// re-insert, automatic compaction and reopen. Every answer is checked against the rows this
// test wrote: a moved row is found at distance 0 under its id, get() returns the exact vector,
// and the reported distances of a query are exact (brute force over the live rows).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection } from '../../web/index.js';
import { BASE, QUERIES, DIM, dist64 } from './helpers.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-qattack-'));

/** rows: Map id -> Float32Array (the live rows). Exact get, exact distances, moved rows found. */
async function checkAll(col, live, moved, what) {
  for (const id of moved) {
    const v = live.get(id);
    const got = await col.get(id);
    assert.ok(got, `${what}: get(${id})`);
    assert.deepEqual(got.vector, v, `${what}: get(${id}) exact`);
    const top = await col.search(Array.from(v), { k: 1, ef: 200 });
    assert.deepEqual([top[0].id, top[0].distance], [id, 0], `${what}: search for the row of ${id}`);
  }
  for (const q of QUERIES.slice(0, 10)) {
    const hits = await col.search(q, { k: 10, ef: 200 });
    assert.equal(hits.length, 10);
    for (const h of hits) {
      assert.ok(live.has(h.id), `${what}: id ${h.id} is live`);
      const d = dist64('euclidean', q, live.get(h.id));
      assert.ok(Math.abs(h.distance - d) <= 1e-4 * (d + 1), `${what}: id ${h.id} reported ${h.distance}, exact ${d}`);
    }
  }
}

const shift = (v, s) => Float32Array.from(v, (x) => x + s);

for (const quantization of ['scalar', 'product']) {
  test(`${quantization}: pool writer + replica, moved rows, delete and re-insert, auto-compaction, reopen`, async () => {
    const onDisk = true;
    const dir = tmp();
    const live = new Map();
    try {
      const db = await createDatabase({ path: dir, workers: 2 });
      const col = await db.createCollection('q', { dimension: DIM, metric: 'euclidean', quantization });
      const rows = BASE.map((v, i) => ({ id: i, vector: v }));
      await col.insertBatch(rows);
      for (const r of rows) live.set(r.id, Float32Array.from(r.vector));
      assert.equal((await col.stats()).quantization.trained, true);
      await db.close();                                         // a checkpoint: the QUANT is in the file

      const db2 = await createDatabase({ path: dir, workers: 2 });
      const c2 = await db2.getCollection('q');
      assert.equal((await c2.stats()).quantization.trainedOn, 0, 'adopted from the file');
      const moved = [5, 6, 7];
      for (const id of moved) {                                 // existing ids, new vectors
        const v = shift(BASE[1900 + id], 0.37);
        await c2.update(id, v);
        live.set(id, v);
      }
      await c2.delete(8);                                       // delete, then the same id again
      live.delete(8);
      const v8 = shift(BASE[1234], -0.21);
      await c2.insert({ id: 8, vector: v8 });
      live.set(8, v8);
      moved.push(8);
      // many deletes: the file outgrows its live size, automatic compaction runs
      const gone = [];
      for (let i = 100; i < 1100; i++) gone.push(i);
      await c2.delete(gone);
      for (const i of gone) live.delete(i);
      const v9 = shift(BASE[9], 0.5);                           // after the compaction's QUANT
      await c2.update(9, v9);
      live.set(9, v9);
      moved.push(9);
      const st = await c2.status();
      assert.ok(st.autoCompaction.runs >= 1, `automatic compaction ran (${JSON.stringify(st.autoCompaction)})`);
      for (let r = 0; r < 4; r++) await checkAll(c2, live, moved, `pool read ${r}`);   // writer and replica
      await db2.close();

      if (!onDisk) return;
      const c3 = await openCollection(path.join(dir, 'q.rvf'));
      await checkAll(c3, live, moved, 'reopened');
      await c3.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const quantization of ['scalar', 'product']) {
  test(`${quantization}: in-memory pool writer + replica, moved rows after training, delete and re-insert`, async () => {
    const live = new Map();
    const db = await createDatabase({ workers: 2 });
    try {
      const col = await db.createCollection('q', { dimension: DIM, metric: 'euclidean', quantization });
      await col.insertBatch(BASE.map((v, i) => ({ id: i, vector: v })));
      BASE.forEach((v, i) => live.set(i, Float32Array.from(v)));
      assert.equal((await col.stats()).quantization.trained, true);
      const moved = [5, 6];
      for (const id of moved) { const v = shift(BASE[1900 + id], 0.37); await col.update(id, v); live.set(id, v); }
      await col.delete([8]);
      live.delete(8);
      const v8 = shift(BASE[1234], -0.21);
      await col.insert({ id: 8, vector: v8 });
      live.set(8, v8);
      moved.push(8);
      const gone = [];
      for (let i = 100; i < 1100; i++) gone.push(i);
      await col.delete(gone);
      for (const i of gone) live.delete(i);
      for (let r = 0; r < 4; r++) await checkAll(col, live, moved, `memory pool read ${r}`);
    } finally {
      await db.close();
    }
  });
}

test('a device read that fails while re-ranking: search and get reject with EIO, the handle answers again once the file is whole', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'q.rvf');
    const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', quantization: 'scalar' } });
    await w.insertBatch(BASE.map((v, i) => ({ id: i, vector: v })));
    await w.close();
    const live = new Map(BASE.map((v, i) => [i, Float32Array.from(v)]));
    const col = await openCollection(file, { readOnly: true });
    const bytes = fs.readFileSync(file);
    fs.truncateSync(file, 4096);                                 // the rows are gone from under it
    await assert.rejects(col.search(QUERIES[0], { k: 10 }), (e) => e.code === 'EIO' && /re-rank/.test(e.message), 'search');
    await assert.rejects(col.get(1500), (e) => e.code === 'EIO', 'get');
    fs.writeFileSync(file, bytes);                               // whole again (same bytes)
    await checkAll(col, live, [1, 1500], 'after the device recovered');
    await col.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a derive() child of a quantized collection is quantized in its first session as on reopen (file and memory children)', async () => {
  const dir = tmp();
  try {
    const p = await openCollection(path.join(dir, 'p.rvf'), { create: { dimension: DIM, metric: 'euclidean', quantization: 'scalar' } });
    await p.insertBatch(BASE.slice(0, 50).map((v, i) => ({ id: i, vector: v })));
    const live = new Map(BASE.map((v, i) => [i, Float32Array.from(v)]));
    for (const target of [path.join(dir, 'c.rvf'), undefined]) {
      const c = await p.derive(target);
      assert.equal((await c.stats()).quantization.kind, 'scalar', 'the child says what its file says');
      await c.insertBatch(BASE.map((v, i) => ({ id: i, vector: v })));
      const q = (await c.stats()).quantization;
      assert.deepEqual([q.kind, q.trained, q.trainedOn], ['scalar', true, BASE.length]);
      await checkAll(c, live, [3, 1500], target ? 'file child' : 'memory child');
      await c.close();
    }
    const c2 = await openCollection(path.join(dir, 'c.rvf'));
    const q2 = (await c2.stats()).quantization;
    assert.deepEqual([q2.kind, q2.trained, q2.trainedOn], ['scalar', true, 0], 'reopened: adopted, not trained again');
    await checkAll(c2, live, [3, 1500], 'file child reopened');
    await c2.close();
    await p.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('openCollection with create on an existing product store whose sub-vectors differ is EINVAL (the same count, or none given, opens it)', async () => {
  const dir = tmp();
  try {
    const create = (quantization) => ({ create: { dimension: DIM, metric: 'euclidean', quantization } });
    const a = path.join(dir, 'a.rvf');
    const b = path.join(dir, 'b.rvf');
    const ca = await openCollection(a, create({ type: 'product', subvectors: 4 }));
    await ca.insertBatch(BASE.slice(0, 1100).map((v, i) => ({ id: i, vector: v })));
    await ca.close();
    await (await openCollection(b, create('product'))).close();   // the default: (32 + 2) / 5 = 6, not trained yet
    for (const [file, q, ok] of [[a, { type: 'product', subvectors: 8 }, false], [a, { type: 'product', subvectors: 4 }, true],
      [a, 'product', true], [b, { type: 'product', subvectors: 5 }, false], [b, { type: 'product', subvectors: 6 }, true]]) {
      const what = `${path.basename(file)} with ${JSON.stringify(q)}`;
      if (ok) await (await openCollection(file, create(q))).close();
      else await assert.rejects(openCollection(file, create(q)), (e) => e.code === 'EINVAL' && /sub-vectors/.test(e.message), what);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
