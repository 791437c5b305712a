// tests/js/pool.test.js — the worker pool in Node (worker_threads): createDatabase({ workers }),
// replicas that follow the writer, searchBatch split over sessions, crashes, and the protocol's
// error crossing (docs/workers.md).
//
// Every answer is judged against an oracle computed here: the exact brute force of helpers.js,
// the rows this test wrote, or the same calls on an in-thread database.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, getWasmInfo, initWorkerPool, openCollection } from '../../web/index.js';
import { BASE, QUERIES, DIM, assertExact, bruteForce, within } from './helpers.js';

const POOL = Symbol.for('veclite.pool');

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-pool-'));
}

const rowsOf = (n, off = 0) => Array.from({ length: n }, (_, i) => ({
  id: `r${i + off}`, vector: BASE[i + off], metadata: { i: i + off, even: (i + off) % 2 === 0 },
}));

/** How many reads it takes to have asked every session of a pool at least once (round robin). */
const everySession = (db) => db.workers * 2;

test('a pool runs one writer and n-1 replicas, each a worker; getWasmInfo counts them', async () => {
  const before = getWasmInfo().workerPoolSize;
  const db = await createDatabase({ workers: 3 });
  try {
    assert.equal(db.workers, 3);
    assert.equal(getWasmInfo().workerPoolSize, before + 3);
    const pool = db[POOL];
    assert.equal(pool.clients.length, 3);
    assert.equal(new Set(pool.clients.map((c) => c.worker.threadId)).size, 3, 'three distinct threads');
  } finally {
    await db.close();
  }
  assert.equal(getWasmInfo().workerPoolSize, before);
  assert.equal(db[POOL] === null, false);
  const inThread = await createDatabase();
  assert.equal(inThread.workers, 0);
  assert.equal(inThread[POOL], null);
  await inThread.close();
});

test('memory pool: every read issued after a write resolved sees it, on every session', async () => {
  const db = await createDatabase({ workers: 3 });
  try {
    const col = await db.createCollection('c', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
    const rows = rowsOf(60);
    for (let i = 0; i < rows.length; i++) {
      if (i % 3 === 0) await col.insert(rows[i]);
      else await col.insertBatch([rows[i]]);
      const counts = await Promise.all(Array.from({ length: everySession(db) }, () => col.count()));
      assert.deepEqual(counts, counts.map(() => i + 1), `after insert ${i}`);
      const got = await Promise.all(Array.from({ length: everySession(db) }, () => col.get(rows[i].id)));
      for (const g of got) {
        assert.equal(g.id, rows[i].id);
        assert.deepEqual([...g.vector], [...rows[i].vector]);
        assert.deepEqual(g.metadata, rows[i].metadata);
      }
    }
    // update, delete and clear reach the replicas too
    await col.update('r5', { metadata: { i: 5, changed: true } });
    for (let j = 0; j < everySession(db); j++) assert.deepEqual((await col.get('r5')).metadata, { i: 5, changed: true });
    assert.equal(await col.delete(['r1', 'r2', 'nope']), 2);
    for (let j = 0; j < everySession(db); j++) {
      assert.equal(await col.get('r1'), null);
      assert.equal(await col.count(), 58);
    }
    await col.clear();
    for (let j = 0; j < everySession(db); j++) assert.equal(await col.count(), 0);
  } finally {
    await db.close();
  }
});

test('searchBatch over a pool equals the exact oracle and the in-thread answer, with metadata and vectors', async () => {
  const rows = rowsOf(800);
  const qs = QUERIES.slice(0, 25);
  const db = await createDatabase({ workers: 2 });
  const ref = await createDatabase();
  try {
    const cfg = { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } };
    const col = await db.createCollection('c', cfg);
    const rcol = await ref.createCollection('c', cfg);
    await col.insertBatch(rows);
    await rcol.insertBatch(rows);
    const opts = { k: 7, includeVectors: true, filter: { even: true } };
    const got = await col.searchBatch(qs, opts);
    const want = await rcol.searchBatch(qs, opts);
    assert.deepEqual(got, want);
    for (let q = 0; q < qs.length; q++) {
      const exact = bruteForce('euclidean', qs[q], BASE.slice(0, 800), 7, (i) => i % 2 === 0);
      assertExact(got[q], exact, (id) => Number(id.slice(1)), 'euclidean', qs[q], BASE);
      for (const h of got[q]) assert.deepEqual([...h.vector], [...BASE[Number(h.id.slice(1))]]);
    }
    // a JS predicate runs in this thread over the pool's pages
    const pred = await col.search(qs[0], { k: 5, filter: (m) => m.i % 7 === 0 });
    const exact = bruteForce('euclidean', qs[0], BASE.slice(0, 800), 5, (i) => i % 7 === 0);
    assertExact(pred, exact, (id) => Number(id.slice(1)), 'euclidean', qs[0], BASE);
    // the caller's buffers are never transferred away
    const q0 = Float32Array.from(qs[0]);
    await col.searchBatch([q0, q0], { k: 1 });
    await col.insert({ id: 'own', vector: q0 });
    assert.equal(q0.length, DIM, "the caller's Float32Array is still usable");
  } finally {
    await db.close();
    await ref.close();
  }
});

test('errors cross the protocol as VecliteErrors with their code; a closed database is ECLOSED', async () => {
  const db = await createDatabase({ workers: 2 });
  const col = await db.createCollection('c', { dimension: 3 });
  await assert.rejects(col.insert({ id: 1, vector: [1, 2] }), { name: 'VecliteError', code: 'EINVAL' });
  await col.insert({ id: 1, vector: [1, 2, 3] });
  await assert.rejects(col.insert({ id: 'a', vector: [1, 2, 3] }), { code: 'EINVAL', message: /cannot mix/ });
  assert.equal(await col.update(99, { metadata: { a: 1 } }), false);
  assert.equal(await db.getCollection('nope'), null);
  // A pooled memory collection is a store in memory (its replicas follow its bytes): it compacts.
  await col.delete(1);
  const c = await col.compact();
  assert.ok(c.bytesAfter < c.bytesBefore, JSON.stringify(c));
  for (let j = 0; j < 4; j++) assert.equal(await col.count(), 0);
  await col.insert({ id: 1, vector: [1, 2, 3] });
  for (let j = 0; j < 4; j++) assert.equal((await col.get(1)).id, 1);
  await assert.rejects(createDatabase({ workers: -1 }), { code: 'EINVAL' });
  await assert.rejects(createDatabase({ workers: 1.5 }), { code: 'EINVAL' });
  await db.close();
  await assert.rejects(col.count(), { code: 'ECLOSED' });
  await assert.rejects(db.createCollection('d', { dimension: 3 }), { code: 'ECLOSED' });
});

test('file pool: replicas read the segments the writer appends, across compaction, and the files reopen', async () => {
  const dir = tmpDir();
  try {
    const db = await createDatabase({ path: dir, workers: 3 });
    const col = await db.createCollection('c', { dimension: DIM, metric: 'cosine' });
    const rows = rowsOf(40);
    for (let i = 0; i < rows.length; i += 4) {
      await col.insertBatch(rows.slice(i, i + 4));
      const counts = await Promise.all(Array.from({ length: everySession(db) }, () => col.count()));
      assert.deepEqual(counts, counts.map(() => i + 4));
    }
    await col.delete(['r0', 'r1', 'r2']);
    const epochBefore = (await col.status()).epoch;
    await col.compact();
    await col.insert(rowsOf(1, 100)[0]);
    for (let j = 0; j < everySession(db); j++) {
      assert.equal(await col.count(), 38);
      assert.equal(await col.get('r0'), null);
      assert.equal((await col.get('r100')).id, 'r100');
    }
    assert.ok((await col.status()).epoch > epochBefore);
    await db.close();
    const again = await openCollection(path.join(dir, 'c.rvf'), { readOnly: true });
    assert.equal(await again.count(), 38);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a replica that is terminated rejects its pending calls at once, is replaced, and the pool keeps serving', async () => {
  const db = await createDatabase({ workers: 3 });
  try {
    const col = await db.createCollection('c', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
    await col.insertBatch(rowsOf(300));
    const pool = db[POOL];
    const victim = pool.clients[1];
    // Many calls in flight, some of them on the victim; then it dies.
    const calls = Array.from({ length: 12 }, () => col.searchBatch(QUERIES.slice(0, 6), { k: 5 }));
    victim.worker.terminate(); // not awaited: an idle pool's workers are unref()ed, so nothing would keep Node waiting for the exit
    const settled = await within(1000, Promise.allSettled(calls), 'pending calls after a worker was terminated');
    const failed = settled.filter((s) => s.status === 'rejected');
    for (const f of failed) {
      assert.equal(f.reason.name, 'VecliteError');
      assert.equal(f.reason.code, 'EBACKEND');
      assert.match(f.reason.message, /replica 1.*stopped/);
    }
    // The pool replaces it and serves on: every session again, with every row.
    for (let t = 0; t < 100 && (pool.workers < 3 || pool.clients[1] === victim); t++) await new Promise((r) => setTimeout(r, 20));
    assert.notEqual(pool.clients[1], victim);
    assert.equal(getWasmInfo().workerPoolSize >= 3, true);
    await col.insert(rowsOf(1, 400)[0]);
    for (let t = 0; t < 100; t++) {
      const counts = await Promise.all(Array.from({ length: 6 }, () => col.count()));
      assert.deepEqual(counts, counts.map(() => 301));
      if (pool.clients.every((c) => c.alive)) break;
    }
    const want = bruteForce('euclidean', QUERIES[0], BASE.slice(0, 300), 5);
    for (let j = 0; j < 6; j++) {
      const got = await col.search(QUERIES[0], { k: 5 });
      assertExact(got, want, (id) => Number(id.slice(1)), 'euclidean', QUERIES[0], BASE);
    }
  } finally {
    await db.close();
  }
});

test('a writer that is killed mid-write: its calls reject, a new writer takes over from a replica, nothing acknowledged is lost', async () => {
  const db = await createDatabase({ workers: 2 });
  try {
    const col = await db.createCollection('c', { dimension: DIM, metric: 'euclidean' });
    const acked = new Set();
    for (const r of rowsOf(50)) { await col.insert(r); acked.add(r.id); }
    const pool = db[POOL];
    const writer = pool.clients[0];
    const inFlight = rowsOf(20, 50).map((r) => col.insert(r).then(() => acked.add(r.id)));
    writer.kill('killed by the test');
    const settled = await within(1000, Promise.allSettled(inFlight), 'writes in flight on a killed writer');
    for (const s of settled) if (s.status === 'rejected') assert.equal(s.reason.code, 'EBACKEND');
    // The next calls wait for the new writer and see every acknowledged row.
    await col.insert({ id: 'after', vector: BASE[99] });
    acked.add('after');
    assert.notEqual(pool.clients[0], writer);
    const count = await col.count();
    assert.ok(count >= acked.size, `${count} rows, ${acked.size} acknowledged`);
    for (const id of acked) assert.notEqual(await col.get(id), null, `acknowledged ${id} survives`);
  } finally {
    await db.close();
  }
});

test('a one-worker memory database whose writer dies says its data is gone (EBACKEND), and nothing hangs', async () => {
  const db = await createDatabase({ workers: 1 });
  try {
    const col = await db.createCollection('c', { dimension: 3 });
    await col.insert({ id: 1, vector: [1, 2, 3] });
    db[POOL].clients[0].kill('killed by the test');
    await assert.rejects(within(1000, col.count(), 'count after the only worker died'), { code: 'EBACKEND', message: /lost/ });
    // The database itself still works: a new collection lives in the new writer.
    const c2 = await db.createCollection('d', { dimension: 3 });
    await c2.insert({ id: 1, vector: [1, 2, 3] });
    assert.equal(await c2.count(), 1);
  } finally {
    await db.close();
  }
});

test('a file pool whose writer dies reopens the file: every acknowledged write is there', async () => {
  const dir = tmpDir();
  try {
    const db = await createDatabase({ path: dir, workers: 2 });
    const col = await db.createCollection('c', { dimension: DIM });
    await col.insertBatch(rowsOf(30));
    db[POOL].clients[0].kill('killed by the test');
    await col.insert(rowsOf(1, 30)[0]);
    assert.equal(await col.count(), 31);
    assert.equal(await col.count(), 31);
    await db.close();
    const again = await openCollection(path.join(dir, 'c.rvf'));
    assert.equal(await again.count(), 31);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('derive, deleteCollection and initWorkerPool in a pool', async () => {
  await initWorkerPool(2);
  const db = await createDatabase();
  try {
    assert.equal(db.workers, 2);
    const col = await db.createCollection('c', { dimension: 3, idType: 'string' });
    await col.insert({ id: 'a', vector: [1, 0, 0], metadata: { x: 1 } });
    const child = await col.derive();
    await child.insert({ id: 'b', vector: [0, 1, 0], metadata: { x: 2 } });
    for (let j = 0; j < 4; j++) {
      assert.equal(await child.count(), 1);
      assert.deepEqual((await child.get('b')).metadata, { x: 2 });
    }
    await db.deleteCollection('c');
    await assert.rejects(col.count(), { code: 'ECLOSED' });
    assert.deepEqual(await db.listCollections(), []);
    await child.close();
  } finally {
    await initWorkerPool(0);
    await db.close();
  }
  await assert.rejects(initWorkerPool(65), { code: 'EINVAL' });
});
