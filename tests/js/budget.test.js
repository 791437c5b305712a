// tests/js/budget.test.js — memoryBudgetMB: on a collection (createCollection, openCollection) and
// on a database (all its open collections together), an insert that would go past the budget
// rejects with EBUDGET before anything is staged, and the collection is left as it was (count,
// rows, answers, the file after a reopen). A batch whose vectors alone exceed the budget is
// refused before any of its rows is read (counted with getters), in this thread and in a pool.
// Bad budgets are EINVAL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection } from '../../web/index.js';
import { BASE, QUERIES, DIM, bruteForce, assertExact, rejectsWith } from './helpers.js';

const row = (i) => ({ id: i, vector: BASE[i % BASE.length], metadata: { i } });
const batch = (from, n) => Array.from({ length: n }, (_, k) => row(from + k));

/** Insert batches of 100 until EBUDGET; returns how many rows went in and the error. */
async function fill(col) {
  let n = 0;
  for (;;) {
    try {
      await col.insertBatch(batch(n, 100));
      n += 100;
    } catch (e) {
      return { n, e };
    }
    if (n > 100000) assert.fail('no EBUDGET after 100,000 rows');
  }
}

/**
 * Insert batches of 100 two-dimension rows (ids from `from`) until EBUDGET, asserting after each
 * that the collection's memory is within `budget` bytes; returns the id after the last row in.
 */
async function fillTiny(col, from, budget) {
  let m = from;
  for (;;) {
    try {
      await col.insertBatch(Array.from({ length: 100 }, (_, k) => ({ id: m + k, vector: [m + k, 1] })));
    } catch (e) {
      assert.equal(e.code, 'EBUDGET', String(e));
      return m;
    }
    m += 100;
    const st = await col.stats();
    assert.ok(st.memoryBytes <= budget, `${m} rows: the collection uses ${st.memoryBytes} B, over its budget`);
  }
}

async function assertIntact(col, n) {
  assert.equal(await col.count(), n);
  for (const q of QUERIES.slice(0, 5)) {
    const want = bruteForce('euclidean', q, BASE.slice(0, n), 5);
    assertExact(await col.search(q, { k: 5 }), want, (id) => id, 'euclidean', q, BASE);
  }
}

const FLAT = { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } };

test('a collection budget: inserts up to it succeed, the one past it is EBUDGET and changes nothing', async () => {
  const db = await createDatabase();
  const col = await db.createCollection('c', { ...FLAT, memoryBudgetMB: 0.25 });
  const { n, e } = await fill(col);
  assert.equal(e.code, 'EBUDGET', String(e));
  assert.match(e.message, /memory budget of 0\.25 MiB.*memoryBudgetMB.*nothing was written/s);
  assert.ok(n >= 100, `only ${n} rows fit`);
  const st = await col.stats();
  assert.ok(st.memoryBytes <= 0.25 * 1048576, `the collection uses ${st.memoryBytes} B, over its budget`);
  // and the estimate is not so cautious that most of the budget stays unused
  assert.ok(st.memoryBytes + 100 * (DIM * 4) * 3 > 0.25 * 1048576 * 0.6, `only ${st.memoryBytes} B of 262144 used`);
  await assertIntact(col, n);
  // overwriting existing ids adds no rows: still allowed at the limit
  await col.insertBatch(batch(0, 10));
  assert.equal(await col.count(), n);
  // a collection without a budget in the same database is not limited by the other's
  const free = await db.createCollection('free', FLAT);
  await free.insertBatch(batch(0, 2000));
  assert.equal(await free.count(), 2000);
  await db.close();
});

test('a database budget covers its collections together', async () => {
  const db = await createDatabase({ memoryBudgetMB: 0.5 });
  const a = await db.createCollection('a', FLAT);
  const b = await db.createCollection('b', FLAT);
  const ra = await fill(a);
  assert.equal(ra.e.code, 'EBUDGET');
  assert.match(ra.e.message, /the database has a memory budget of 0\.50 MiB/);
  // the database is full: b cannot take what a already holds
  await rejectsWith(() => b.insertBatch(batch(0, 200)), 'EBUDGET', /the database has a memory budget/);
  assert.equal(await b.count(), 0);
  // freeing memory in a makes room again
  await a.delete(Array.from({ length: ra.n }, (_, i) => i));
  await db.deleteCollection('a');
  await b.insertBatch(batch(0, 100));
  assert.equal(await b.count(), 100);
  await db.close();
});

test('a batch whose vectors alone exceed the budget is refused before any row is read', async () => {
  for (const workers of [0, 2]) {
    const db = await createDatabase({ workers });
    const col = await db.createCollection('c', { ...FLAT, memoryBudgetMB: 1 });
    await col.insertBatch(batch(0, 10));
    let reads = 0;
    const spy = { id: 1, get vector() { reads++; return BASE[1]; } };
    const huge = new Array(20000).fill(spy); // 20,000 x 32 x 4 B = 2.4 MiB of vectors
    await rejectsWith(() => col.insertBatch(huge), 'EBUDGET', /need 2\.4 MiB, over collection 'c''s memory budget of 1\.0 MiB/);
    assert.equal(reads, 0, `workers: ${workers}: rows were read`);
    assert.equal(await col.count(), 10);
    await db.close();
  }
});

test('openCollection({ memoryBudgetMB }) bounds a file store; the file after a refused insert holds only what was written', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-budget-'));
  try {
    const file = path.join(dir, 'c.rvf');
    const col = await openCollection(file, { create: FLAT, memoryBudgetMB: 0.25 });
    const { n, e } = await fill(col);
    assert.equal(e.code, 'EBUDGET');
    await col.close();
    const again = await openCollection(file, { readOnly: true });
    await assertIntact(again, n);
    await again.close();
    // the budget is the handle's, not the file's: without one the same file takes more rows
    const w = await openCollection(file);
    await w.insertBatch(batch(n, 500));
    assert.equal(await w.count(), n + 500);
    await w.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a pool database enforces its budget in its writer; replicas see only what was written', async () => {
  const db = await createDatabase({ workers: 2, memoryBudgetMB: 0.25 });
  const col = await db.createCollection('c', FLAT);
  const { n, e } = await fill(col);
  assert.equal(e.code, 'EBUDGET');
  await assertIntact(col, n);
  await assertIntact(col, n); // reads rotate over writer and replica
  await db.close();
});

test('bad budgets are EINVAL', async () => {
  for (const bad of [0, -1, Number.NaN, Infinity, 4097, '1', {}]) {
    await rejectsWith(() => createDatabase({ memoryBudgetMB: bad }), 'EINVAL', /memoryBudgetMB must be a number of MiB/);
    const db = await createDatabase();
    await rejectsWith(() => db.createCollection('c', { ...FLAT, memoryBudgetMB: bad }), 'EINVAL', /memoryBudgetMB/);
    await db.close();
  }
  await rejectsWith(() => openCollection(new Uint8Array(0), { create: FLAT, memoryBudgetMB: -5 }), 'EINVAL', /memoryBudgetMB/);
});

test('update() that grows a row\'s metadata is held to the budget too (it was not checked at all)', async () => {
  const db = await createDatabase();
  const col = await db.createCollection('c', { ...FLAT, memoryBudgetMB: 0.25 });
  const { n, e } = await fill(col);
  assert.equal(e.code, 'EBUDGET');
  const big = 'x'.repeat(200000); // 200 KB of metadata on a collection already at its 256 KiB budget
  await rejectsWith(() => col.update(0, { metadata: { big } }), 'EBUDGET', /memory budget of 0\.25 MiB.*nothing was written/s);
  await rejectsWith(() => col.update(1, { metadata: { big } }, { merge: true }), 'EBUDGET', /memory budget/);
  const st = await col.stats();
  assert.ok(st.memoryBytes <= 0.25 * 1048576, `the collection uses ${st.memoryBytes} B, over its budget`);
  assert.deepEqual((await col.get(0)).metadata, { i: 0 });
  assert.deepEqual((await col.get(1)).metadata, { i: 1 });
  assert.equal(await col.count(), n);
  // a small update still fits
  await col.update(2, { metadata: { i: 2, tag: 'ok' } });
  assert.deepEqual((await col.get(2)).metadata, { i: 2, tag: 'ok' });
  await db.close();
});

test('writes the estimate missed stay within the budget: HNSW overwrites (each adds a node) and the id map doubling', async () => {
  const db = await createDatabase();
  // an HNSW overwrite appends a node (the old one stays as a tombstone): not free at the limit
  const h = await db.createCollection('h', { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw' }, memoryBudgetMB: 0.5 });
  const { n } = await fill(h);
  let refused = null;
  for (let r = 0; r < 10 && !refused; r++) {
    try {
      await h.insertBatch(batch(0, 100).map((x, k) => ({ ...x, vector: BASE[(k + 7 * r + 1) % BASE.length] })));
    } catch (e) { refused = e; }
    const st = await h.stats();
    assert.ok(st.memoryBytes <= 0.5 * 1048576, `round ${r}: the collection uses ${st.memoryBytes} B, over its budget`);
  }
  assert.equal(refused?.code, 'EBUDGET', String(refused));
  assert.equal(await h.count(), n);
  // tiny rows: the id map's doubling (12 bytes a slot) is a large part of what a batch costs
  const f = await db.createCollection('f', { dimension: 2, metric: 'euclidean', index: { type: 'flat' }, memoryBudgetMB: 1 });
  const m = await fillTiny(f, 0, 1048576);
  assert.ok(m >= 5000, `only ${m} rows fit`);
  await db.close();
});

test('the filter columns a filtered search built (9 bytes a node each) are part of what a new node costs', async () => {
  const db = await createDatabase();
  const col = await db.createCollection('c', { dimension: 2, metric: 'euclidean', index: { type: 'flat' }, memoryBudgetMB: 1 });
  const md = Object.fromEntries(Array.from({ length: 16 }, (_, f) => [`f${f}`, f]));
  await col.insertBatch([{ id: 0, vector: [0, 1], metadata: md }]);
  for (let f = 0; f < 16; f++) await col.search([0, 1], { k: 1, filter: { [`f${f}`]: { $gte: 0 } } });
  const m = await fillTiny(col, 1, 1048576);
  assert.ok(m > 1000, `only ${m} rows fit`);
  await db.close();
});

test('a derived child is held to its parent\'s budgets (it shares the engine memory they bound)', async () => {
  for (const where of ['collection', 'database']) {
    const db = where === 'database' ? await createDatabase({ memoryBudgetMB: 0.25 }) : await createDatabase();
    const col = await db.createCollection('c', where === 'database' ? FLAT : { ...FLAT, memoryBudgetMB: 0.25 });
    await col.insertBatch(batch(0, 100));
    const child = await col.derive();
    const { n, e } = await fill(child);
    assert.equal(e.code, 'EBUDGET', `${where}: ${e}`);
    assert.ok(n < 2000, `${where}: the child took ${n} rows past a 0.25 MiB budget`);
    const st = await child.stats();
    assert.ok(st.memoryBytes <= 0.25 * 1048576, `${where}: the child uses ${st.memoryBytes} B`);
    await child.close();
    await db.close();
  }
});

test('update() of a vector under HNSW (a new node each time) is held to the budget', async () => {
  const db = await createDatabase();
  const h = await db.createCollection('h', { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw' }, memoryBudgetMB: 0.5 });
  await fill(h);
  let refused = null;
  for (let r = 0; r < 300 && !refused; r++) {
    try {
      await h.update(r % 50, { vector: BASE[(r + 11) % BASE.length] });
    } catch (e) { refused = e; }
    const st = await h.stats();
    assert.ok(st.memoryBytes <= 0.5 * 1048576, `update ${r}: the collection uses ${st.memoryBytes} B, over its budget`);
  }
  assert.equal(refused?.code, 'EBUDGET', String(refused));
  await db.close();
});
