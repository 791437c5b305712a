// tests/js/auto-compact.test.js — files stay near their live size without compact(): after a
// write, a store whose file exceeds its live size by more than 25% (and 64 KiB) is compacted
// (worker/collection.js AUTO_COMPACT). Checked for ingest in batches of 1, 100 and 2,000 rows
// and for deletes; the answers stay exact (brute force), a reopen sees the same rows, a read-only
// follower of the file and a pool's replicas (file and memory) keep answering exactly, and a
// compaction that fails leaves the write that triggered it committed and is reported.
//
// Sizes are compared with what an explicit compact() of the same store writes, never with
// numbers this code produced elsewhere.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection } from '../../web/index.js';
import { BASE, QUERIES, DIM, bruteForce, assertExact } from './helpers.js';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-autocompact-'));
const row = (i) => ({ id: i, vector: BASE[i], metadata: { i, tag: `t${i % 7}` } });
const FLAT = { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } };

async function ingest(col, n, batch) {
  for (let i = 0; i < n; i += batch) {
    const rows = [];
    for (let j = i; j < Math.min(n, i + batch); j++) rows.push(row(j));
    await col.insertBatch(rows);
  }
}

async function assertAnswers(col, live, label) {
  const rows = BASE;
  for (const q of QUERIES.slice(0, 8)) {
    const want = bruteForce('euclidean', q, rows, 10, (i) => live.has(i));
    assertExact(await col.search(q, { k: 10 }), want, (id) => id, 'euclidean', q, rows);
  }
  assert.equal(await col.count(), live.size, `${label}: count`);
  const some = [...live].slice(0, 5);
  for (const i of some) assert.deepEqual((await col.get(i)).metadata, { i, tag: `t${i % 7}` }, `${label}: metadata of ${i}`);
}

for (const [batch, n] of [[1, 700], [100, 2000], [2000, 2000]]) {
  test(`ingest in batches of ${batch}: the file stays within 1.3x of its compacted size; answers exact`, { timeout: 120_000 }, async () => {
    const dir = tmpDir();
    try {
      const file = path.join(dir, 'c.rvf');
      const col = await openCollection(file, { create: FLAT });
      await ingest(col, n, batch);
      const st = await col.status();
      const size = fs.statSync(file).size;
      assert.equal(st.bytes, size);
      await assertAnswers(col, new Set([...Array(n).keys()]), `batch ${batch}`);
      const { bytesBefore, bytesAfter } = await col.compact();
      assert.equal(bytesBefore, size);
      assert.ok(size <= 1.3 * bytesAfter, `batch ${batch}: file ${size} B is ${(size / bytesAfter).toFixed(2)}x its compacted size ${bytesAfter} B`);
      if (batch < n) assert.ok(st.autoCompaction.runs >= 1, `batch ${batch}: no automatic compaction ran (${JSON.stringify(st.autoCompaction)})`);
      assert.equal(st.autoCompaction.lastError, null);
      await col.close();
      const again = await openCollection(file, { readOnly: true });
      await assertAnswers(again, new Set([...Array(n).keys()]), `batch ${batch} reopened`);
      await again.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('deletes: dead rows are reclaimed without compact(); deleted ids stay deleted across the compactions and a reopen', { timeout: 120_000 }, async () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'c.rvf');
    const col = await openCollection(file, { create: { ...FLAT, index: { type: 'hnsw', m: 12, efConstruction: 64 } } });
    await ingest(col, 2000, 500);
    const live = new Set([...Array(2000).keys()]);
    for (let start = 0; start < 1400; start += 100) {
      const ids = [];
      for (let i = start; i < start + 100; i++) { ids.push(i); live.delete(i); }
      assert.equal(await col.delete(ids), 100);
    }
    const st = await col.status();
    assert.ok(st.autoCompaction.runs >= 1, JSON.stringify(st.autoCompaction));
    const size = fs.statSync(file).size;
    // exact answers: a search with ef above the live count is a full graph search here
    for (const q of QUERIES.slice(0, 8)) {
      const want = bruteForce('euclidean', q, BASE, 10, (i) => live.has(i));
      assertExact(await col.search(q, { k: 10, ef: 1000 }), want, (id) => id, 'euclidean', q, BASE);
    }
    for (const i of [0, 99, 1399]) assert.equal(await col.get(i), null, `deleted ${i}`);
    const { bytesAfter } = await col.compact();
    assert.ok(size <= 1.3 * bytesAfter, `file ${size} B vs compacted ${bytesAfter} B`);
    await col.close();
    const again = await openCollection(file, { readOnly: true });
    assert.equal(await again.count(), live.size);
    for (const i of [0, 99, 1399]) assert.equal(await again.get(i), null, `deleted ${i} after reopen`);
    assert.notEqual(await again.get(1400), null);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a read-only follower of the file keeps up across automatic compactions', { timeout: 120_000 }, async () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'c.rvf');
    const col = await openCollection(file, { create: FLAT });
    await col.insertBatch([row(0)]);
    const reader = await openCollection(file, { readOnly: true });
    for (let i = 1; i < 1500; i += 50) {
      await col.insertBatch(Array.from({ length: 50 }, (_, j) => row(i + j)).filter((r) => r.id < 1500));
      if (i % 250 === 1) await reader.refresh();
    }
    assert.ok((await col.status()).autoCompaction.runs >= 1);
    await reader.refresh();
    await assertAnswers(reader, new Set([...Array(1500).keys()]), 'follower');
    await reader.close();
    await col.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

for (const where of ['file', 'memory']) {
  test(`a ${where} pool: replicas answer exactly after the writer compacted on its own`, { timeout: 120_000 }, async () => {
    const dir = tmpDir();
    try {
      const db = await createDatabase(where === 'file' ? { path: dir, workers: 2 } : { workers: 2 });
      const col = await db.createCollection('c', FLAT);
      await ingest(col, 1500, 100);
      const st = await col.status();
      assert.ok(st.autoCompaction.runs >= 1, JSON.stringify(st.autoCompaction));
      // reads rotate over the writer and the replica: every one must be exact
      await assertAnswers(col, new Set([...Array(1500).keys()]), `${where} pool`);
      await assertAnswers(col, new Set([...Array(1500).keys()]), `${where} pool, second round`);
      await db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a compaction that fails leaves the write committed, is reported in status(), and is not retried on every write', { timeout: 120_000 }, async () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'c.rvf');
    // The compaction's temporary name is taken by a directory: it cannot be created.
    fs.mkdirSync(`${file}.compact.tmp`);
    const col = await openCollection(file, { create: FLAT });
    await ingest(col, 1500, 100);
    const st = await col.status();
    assert.equal(st.autoCompaction.runs, 0);
    assert.match(String(st.autoCompaction.lastError), /compact/i);
    assert.equal(st.count, 1500, 'every write that triggered a failed compaction is committed');
    // Not retried on every write of this handle: with the obstacle gone, writes still do not compact.
    fs.rmdirSync(`${file}.compact.tmp`);
    await ingest(col, 1500, 300);
    await col.insertBatch([row(1500)]);
    assert.equal((await col.status()).autoCompaction.runs, 0);
    const { bytesBefore, bytesAfter } = await col.compact(); // an explicit one still works
    assert.ok(bytesAfter < bytesBefore);
    await col.close();
    const again = await openCollection(file, { readOnly: true });
    assert.equal(await again.count(), 1501);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** dir/seed.rvf with rows 0..999, closed. */
async function seedFile(dir) {
  const seed = path.join(dir, 'seed.rvf');
  const col = await openCollection(seed, { create: FLAT });
  await col.insertBatch(Array.from({ length: 1000 }, (_, i) => row(i)));
  await col.close();
  return seed;
}

/**
 * Delete 800 of the seed's 1,000 rows (the file is then far above its live size, so this write
 * compacts) and return, after `turns` microtask turns, its pending promise (in an array, so the
 * caller's await does not wait for it).
 */
async function compactingDelete(col, turns) {
  const del = col.delete(Array.from({ length: 800 }, (_, i) => i));
  for (let k = 0; k < turns; k++) await null;
  return [del];
}

// An in-thread file compaction awaits its lock claim after the store has moved onto the
// compacted image (idb/node-store.js compactFile). A write, close() or deleteCollection that got
// in there used to commit to, or close, that image before it took the file's name: the write
// resolved but was gone after a reopen, and <file>.compact.tmp stayed behind. The calls below are
// sent while the delete that triggers the compaction is still running, after 0..40 microtask
// turns, so some land inside that window whatever its exact position.
for (const how of ['close()', 'db.close()', 'deleteCollection']) {
  test(`writes and ${how} sent during an automatic compaction wait for it: nothing acknowledged is lost, nothing is left behind`, { timeout: 120_000 }, async () => {
    const dir = tmpDir();
    try {
      const seed = await seedFile(dir);
      for (const turns of [0, 1, 2, 3, 4, 6, 8, 12, 20, 40]) {
        const sub = path.join(dir, `t${turns}`);
        fs.mkdirSync(sub);
        const file = path.join(sub, 'c.rvf');
        fs.copyFileSync(seed, file);
        const db = how === 'close()' ? null : await createDatabase({ path: sub });
        const col = db ? await db.getCollection('c') : await openCollection(file);
        const [del] = await compactingDelete(col, turns);
        const ins = col.insert({ id: 5000, vector: BASE[0], metadata: { late: true } });
        const end = how === 'close()' ? col.close() : how === 'db.close()' ? db.close() : db.deleteCollection('c');
        const settled = await Promise.allSettled([del, ins, end]);
        assert.deepEqual(settled.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled'],
          `after ${turns} turns: ${settled.map((r) => r.reason?.message ?? 'ok').join(' | ')}`);
        assert.deepEqual(fs.readdirSync(sub), how === 'deleteCollection' ? [] : ['c.rvf'], `after ${turns} turns: files left`);
        if (how !== 'deleteCollection') {
          const again = await openCollection(file, { readOnly: true });
          assert.equal(await again.count(), 201, `after ${turns} turns: 200 rows kept + the insert`);
          assert.deepEqual((await again.get(5000))?.metadata, { late: true }, `after ${turns} turns: the acknowledged insert`);
          await again.close();
        }
        if (db && how === 'deleteCollection') await db.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

// export()/exportTo() read the store's device; sent in the same window they used to read the
// old file up to the compacted image's length and reject with ECORRUPT ("no longer holds the
// commit this handle opened") on a healthy store.
test('export() and exportTo() sent during an automatic compaction wait for it and give the compacted rows', { timeout: 120_000 }, async () => {
  const dir = tmpDir();
  try {
    const seed = await seedFile(dir);
    for (const turns of [0, 1, 2, 3, 4, 6, 8, 12, 20, 40]) {
      const file = path.join(dir, `c${turns}.rvf`);
      fs.copyFileSync(seed, file);
      const col = await openCollection(file);
      const [del] = await compactingDelete(col, turns);
      const out = path.join(dir, `out${turns}.rvf`);
      const [, bytes] = await Promise.all([del, col.export(), col.exportTo(out)]);
      for (const src of [bytes, out]) {
        const copy = await openCollection(src, typeof src === 'string' ? { readOnly: true } : {});
        const n = await copy.count();
        assert.ok(n === 200 || n === 1000, `after ${turns} turns: an export holds ${n} rows`);
        await copy.close();
      }
      await col.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The queue behind the two tests above must not delay a write on an idle collection: a read sent
// right after an unawaited write has always seen it in-thread.
test('a read sent right after an unawaited write sees it', async () => {
  const dir = tmpDir();
  try {
    const col = await openCollection(path.join(dir, 'c.rvf'), { create: FLAT });
    const counts = [];
    for (let i = 0; i < 5; i++) {
      const w = col.insert(row(i));
      counts.push(await col.count());
      await w;
    }
    assert.deepEqual(counts, [1, 2, 3, 4, 5]);
    await col.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
