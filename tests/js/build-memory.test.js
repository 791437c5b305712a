// tests/js/build-memory.test.js — what a bulk build into a file-backed store holds in WebAssembly
// memory (issue 10 item 5), pinned on the engine's own traces, not on timing or RSS: mem.c's byte
// trace (vl__wasm_mem_live / vl__wasm_mem_peak) and the staging block's size (vl__wasm_stage_cap).
//   - an insert writes the batch's vectors once, into the store's index room (vl_store_rows): the
//     staging block holds ids only, never a second copy of the vectors;
//   - compaction of a store without tombstones keeps the live index: its traced peak is below that
//     of the same store with a few tombstones by more than a copy of the vectors (re-importing the
//     compacted graph, which with tombstones still happens: memory follows it, nodes == live);
//   - a bad batch (wrong dimension, NaN) still leaves the collection as it was;
//   - the facade reuses a settled insertBatch's row matrix (web/args.js), never one in use;
//   - attacks (atk3): what a write stores is what the caller passed at the call, even when the
//     write is queued and the caller changes its vectors or bytes before awaiting; a vector that
//     throws when copied is EINVAL naming its row, with nothing written (a dimension-0 store keeps
//     no dimension); a settled batch's vector objects are collectable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createDatabase, openCollection, VecliteError } from '../../web/index.js';
import { Engine } from '../../worker/bind.js';

const DIM = 64;

/** The Engine behind a collection (captured from a call it makes). */
async function engineOf(col) {
  const orig = Engine.prototype.count;
  let eng;
  Engine.prototype.count = function (hh) { eng = this; return orig.call(this, hh); };
  try { await col.count(); } finally { Engine.prototype.count = orig; }
  return eng;
}

const vec = (i) => Float32Array.from({ length: DIM }, (_, d) => Math.sin(i * 0.37 + d * 1.3) + (i % 7) * 0.01);
const rows = (from, n) => Array.from({ length: n }, (_, k) => ({ id: from + k, vector: vec(from + k) }));

async function withStore(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-buildmem-'));
  const db = await createDatabase({ path: dir });
  try {
    const col = await db.createCollection('c', { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw', m: 8, efConstruction: 40 } });
    await fn(col, await engineOf(col));
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a file-backed insert stages no copy of the batch: vectors go straight into the index', async () => {
  await withStore(async (col, eng) => {
    const N = 8000;   // 2 MB of vectors: far above what the ids (64 KB) need
    await col.insertBatch(rows(0, N));
    assert.equal(await col.count(), N);
    const cap = eng.M._vl__wasm_stage_cap();
    assert.ok(cap < N * DIM * 4 / 4, `the staging block is ${cap} bytes: it held the vectors (${N * DIM * 4} bytes)`);
    const hit = await col.search(vec(1234), { k: 1 });
    assert.equal(hit[0].id, 1234);
    assert.deepEqual((await col.get(4321)).vector, vec(4321));
  });
});

test('a bad batch into a file-backed store leaves it as it was', async () => {
  await withStore(async (col) => {
    await col.insertBatch(rows(0, 500));
    const before = await col.stats();
    const nan = rows(500, 300);
    nan[200].vector[3] = NaN;
    await assert.rejects(col.insertBatch(nan), (e) => e.code === 'EINVAL');
    const short = rows(500, 300);
    short[10] = { id: 510, vector: new Float32Array(DIM - 1) };
    await assert.rejects(col.insertBatch(short), (e) => e.code === 'EINVAL');
    const after = await col.stats();
    assert.equal(after.count, before.count);
    assert.equal(after.nodes, before.nodes);
    assert.equal(await col.get(510), null);
    await col.insertBatch(rows(500, 300));
    assert.equal(await col.count(), 800);
    assert.deepEqual((await col.get(700)).vector, vec(700));
  });
});

/** Build N rows in batches of 1000, delete `del` of them, compact; the traced transient peak. */
async function compactPeak(col, eng, N, del) {
  for (let i = 0; i < N; i += 1000) await col.insertBatch(rows(i, 1000));
  if (del) await col.delete(Array.from({ length: del }, (_, k) => k * 7));   // few: no automatic compaction
  const before = await col.stats();
  const M = eng.M;
  const live0 = M._vl__wasm_mem_live();
  M._vl__wasm_mem_peak_reset();
  await col.compact();
  return { before, after: await col.stats(), peak: M._vl__wasm_mem_peak() - live0 };
}

test('compaction keeps the live index without tombstones, re-imports the compacted graph with them', async () => {
  const N = 6000;
  let keep, reimport;
  await withStore(async (col, eng) => {
    keep = await compactPeak(col, eng, N, 0);
    assert.equal(keep.after.count, N);
    // the index was kept (its vectors, links and nodes as they were); memoryBytes also counts the
    // file layer's tables, which the compacted file's handle holds at their exact size
    for (const k of ['vectorBytes', 'graphBytes', 'nodes']) assert.equal(keep.after[k], keep.before[k], `the index was kept: ${k}`);
    assert.ok(keep.after.memoryBytes <= keep.before.memoryBytes, 'compaction does not grow the engine');
    for (const i of [0, 2999, 5999]) assert.equal((await col.search(vec(i), { k: 1 }))[0].id, i);
    assert.deepEqual((await col.get(4321)).vector, vec(4321));
  });
  await withStore(async (col, eng) => {
    reimport = await compactPeak(col, eng, N, 20);
    assert.ok(reimport.before.tombstones > 0);
    assert.equal(reimport.after.count, N - 20);
    assert.equal(reimport.after.tombstones, 0, 'memory follows the compacted graph');
    assert.equal((await col.search(vec(1), { k: 1 }))[0].id, 1);
  });
  // re-importing builds a second node block and copies every vector next to the live index
  assert.ok(keep.peak + N * DIM * 4 < reimport.peak,
    `compaction's transient peak: ${keep.peak} bytes keeping the index, ${reimport.peak} re-importing`);
});

test('insertBatch row matrices are reused only once their call settled: concurrent and sequential batches, in-thread and in a worker, keep their own vectors', async () => {
  for (const workers of [0, 1]) {
    const db = await createDatabase(workers ? { workers } : {});
    try {
      const col = await db.createCollection('c', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
      // same-sized batches, so any of them could take another's matrix
      await Promise.all([0, 1, 2].map((b) => col.insertBatch(rows(b * 400, 400))));
      for (const b of [3, 4, 5]) await col.insertBatch(rows(b * 400, 400));
      // and a batch that fails while reading its rows: its matrix is not offered back half-written
      const bad = rows(2400, 400);
      bad[399].vector = 'x';
      await assert.rejects(col.insertBatch(bad), (e) => e.code === 'EINVAL');
      await col.insertBatch(rows(2400, 400));
      const got = await col.getMany(Array.from({ length: 2800 }, (_, i) => i));
      for (let i = 0; i < 2800; i++) assert.deepEqual(got[i].vector, vec(i), `vector of ${i} (workers ${workers})`);
    } finally {
      await db.close();
    }
  }
});

test('a batch is read without an object per row, and still names its rows and counts its distinct ids exactly', async () => {
  const db = await createDatabase();
  try {
    const col = await db.createCollection('c', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
    // distinct ids counted on the u64 values: ids above 2^53 differ in their low bits only
    const big = 2n ** 60n;
    const batch = [big, big + 1n, big, 5, 5, 2n ** 64n - 1n, big + 2n ** 32n].map((id, i) => ({ id, vector: [i, 1] }));
    assert.equal(await col.insertBatch(batch), 5);
    assert.equal(await col.count(), 5);
    assert.deepEqual((await col.get(big)).vector, Float32Array.from([2, 1]), 'the last row of a repeated id wins');
    // every kind of bad row is named by its index, after good rows that did not build a name
    const good = (n, meta) => Array.from({ length: n }, (_, i) => ({ id: 100 + i, vector: [i, 0], ...(meta ? { metadata: { a: i, b: 'x' } } : {}) }));
    const cases = [
      [{ id: 9, vector: [1, Number.NaN] }, /^insertBatch\[7\]: vector component 1 is NaN/],
      [{ id: 9, vector: [1, 1], extra: 1 }, /^insertBatch\[7\]: unknown key 'extra'/],
      [{ id: -1, vector: [1, 1] }, /^insertBatch\[7\]: numeric id -1 is negative/],
      [{ id: '9', vector: [1, 1] }, /^insertBatch\[7\]: collection 'c' has numeric ids, and this id is the string "9"/],
      [{ id: 9, vector: [1, 1], metadata: { ok: 1, bad: Number.POSITIVE_INFINITY } }, /^insertBatch\[7\]: metadata\.bad is Infinity/],
      [{ id: 9, vector: [1, 1], metadata: { j: { deep: [1, Number.NaN] } } }, /^insertBatch\[7\]: metadata\.j\.deep\[1\]/],
    ];
    for (const meta of [false, true]) {
      for (const [row, re] of cases) {
        const b = good(7, meta);
        b.push(row, ...good(3, meta));
        await assert.rejects(col.insertBatch(b), (e) => e.code === 'EINVAL' && re.test(e.message), `${re} (metadata ${meta})`);
      }
    }
    assert.equal(await col.count(), 5, 'no bad batch wrote a row');
    await assert.rejects(col.insert({ id: 1, vector: [1] }), (e) => /^insert: vector has 1 component/.test(e.message));
    // a key on the prototype is not the row's own: accepted, as it always was
    const proto = { stray: 1 };
    const inherited = Object.assign(Object.create(proto), { id: 50, vector: [5, 5] });
    assert.equal(await col.insertBatch([inherited]), 1);
    // rows without metadata share one empty list: a later row's metadata is its own
    await col.insertBatch([{ id: 60, vector: [6, 6] }, { id: 61, vector: [6, 7], metadata: { t: 'x' } }, { id: 62, vector: [6, 8] }]);
    assert.deepEqual((await col.getMany([60, 61, 62])).map((r) => r.metadata), [{}, { t: 'x' }, {}]);
  } finally {
    await db.close();
  }
});

test('in-thread, a batch\'s vectors are copied once, into the engine, and stay what they were at the call (queued or not, hostile or not)', async () => {
  const { RowVectors } = await import('../../web/args.js');
  const orig = RowVectors.prototype.copyTo;
  const copies = [];
  RowVectors.prototype.copyTo = function (out, off) { copies.push(off === 0 ? 'matrix' : 'engine'); return orig.call(this, out, off); };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vl-rowvec-'));
  try {
    for (const where of ['memory', 'file']) {
      const db = await createDatabase(where === 'file' ? { path: dir } : {});
      try {
        const col = await db.createCollection(`c${where}`, { dimension: DIM, metric: 'cosine', index: { type: 'hnsw', m: 8 } });
        // a lone batch: the session takes its vectors within the call, straight into the engine
        copies.length = 0;
        const a = rows(0, 50);
        const pa = col.insertBatch(a);
        a[0].vector.fill(7);            // the caller reuses its buffers as soon as the call returns
        a[1].vector = vec(999);
        await pa;
        assert.deepEqual(copies, ['engine'], `${where}: one copy, into the engine`);
        // a batch queued behind another: its vectors are copied in the call's turn, then written
        copies.length = 0;
        const b = rows(50, 50), c = rows(100, 50);
        const pb = col.insertBatch(b), pc = col.insertBatch(c);
        for (const r of [...b, ...c]) r.vector.fill(-3);
        c[5].vector = 'not a vector any more';
        await Promise.all([pb, pc]);
        if (where === 'file') assert.deepEqual(copies, ['engine', 'matrix', 'engine'], 'the second write was queued: its rows were copied into a matrix at the call, and from it into the engine');
        const got = await col.getMany(Array.from({ length: 150 }, (_, i) => i));
        for (let i = 0; i < 150; i++) {
          const want = vec(i), n = Math.hypot(...want);
          assert.ok(got[i] && got[i].vector.every((x, d) => Math.abs(x - want[d] / n) < 1e-6 || Math.abs(x - want[d]) < 1e-6), `${where}: row ${i} is the vector given at the call`);
        }
        // a vector that answers a second read differently: refused, nothing written
        const base = Float32Array.from(vec(500));
        let reads = 0;
        const sly = new Proxy(base, { get(t, k) { if (k === 'length') return t.length; if (typeof k === 'string' && /^\d+$/.test(k)) return ++reads > DIM ? Number.NaN : t[k]; const v = Reflect.get(t, k); return typeof v === 'function' ? v.bind(t) : v; } });
        const before = await col.count();
        await assert.rejects(col.insertBatch([...rows(500, 3), { id: 503, vector: sly }]), (e) => e.code === 'EINVAL' && /insertBatch\[3\]: vector component 0 is NaN/.test(e.message));
        assert.equal(await col.count(), before, `${where}: nothing of the refused batch was written`);
        assert.equal(await col.get(500), null);
      } finally {
        await db.close();
      }
    }
  } finally {
    RowVectors.prototype.copyTo = orig;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** fn(db, where) on an in-memory database, then on one in a temporary folder (removed after). */
async function eachBackend(prefix, fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    for (const where of ['memory', 'file']) {
      const db = await createDatabase(where === 'file' ? { path: dir } : {});
      try {
        await fn(db, where);
      } finally {
        await db.close();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A Float32Array behind a Proxy whose component reads number `from` < r <= `to` throw (1-based). */
function slyVector(t, from, to) {
  let reads = 0;
  return new Proxy(t, {
    get(tt, k) {
      if (typeof k === 'string' && /^\d+$/.test(k)) {
        reads++;
        if (reads > from && reads <= to) throw new Error('sly read');
        return tt[k];
      }
      const v = Reflect.get(tt, k);
      return typeof v === 'function' ? v.bind(tt) : v;
    },
  });
}

test('attack (atk3): a queued batch whose vector fails its snapshot is refused, never re-read later when the caller has changed it; the error names the row', async () => {
  await eachBackend('vl-rowvec-sly-', async (db, where) => {
    const col = await db.createCollection('s', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
    const t = new Float32Array([1, 2]);
    // reads 1-2: readRows' check; read 3: the snapshot (queued behind pa) throws; later reads succeed
    const pa = col.insertBatch([{ id: 1, vector: [0, 0] }]);
    const pb = col.insertBatch([{ id: 7, vector: [0, 1] }, { id: 2, vector: slyVector(t, 2, 3) }]);
    t[0] = 99;   // the caller changes its vector before awaiting
    await pa;
    await assert.rejects(pb, (e) => e instanceof VecliteError && e.code === 'EINVAL' && /^insertBatch\[1\]: the argument could not be read/.test(e.message));
    assert.equal(await col.get(2), null, `${where}: nothing stored from a vector read after the call`);
    assert.equal(await col.get(7), null, `${where}: nothing of the refused batch was written`);
    assert.equal(await col.count(), 1);
    // not queued: the session's own copy throws, named by row
    const pc = col.insertBatch([{ id: 8, vector: [0, 1] }, { id: 9, vector: [0, 2] }, { id: 3, vector: slyVector(new Float32Array([3, 3]), 2, 3) }]);
    await assert.rejects(pc, (e) => e.code === 'EINVAL' && /^insertBatch\[2\]: the argument could not be read/.test(e.message));
    assert.equal(await col.count(), 1);
    // a getter on a row that throws while the batch is read: named by its row too
    const b = [0, 1, 2, 3].map((i) => ({ id: 10 + i, vector: [i, 1] }));
    Object.defineProperty(b[2], 'vector', { get() { throw new Error('getter'); }, enumerable: true });
    await assert.rejects(col.insertBatch(b), (e) => e.code === 'EINVAL' && /^insertBatch\[2\]: the argument could not be read \(Error: getter\)/.test(e.message));
    b[2] = { id: 12, vector: [2, 1], metadata: { get x() { throw new Error('meta getter'); } } };
    await assert.rejects(col.insertBatch(b), (e) => e.code === 'EINVAL' && /^insertBatch\[2\]: the argument could not be read/.test(e.message));
    assert.equal(await col.count(), 1);
    assert.equal(await col.insertBatch([{ id: 3, vector: [3, 3] }]), 1, 'the collection still takes writes');
  });
});

test('attack (atk3): Uint8Array metadata of a queued write (insert, insertBatch, update) is what it was at the call', async () => {
  await eachBackend('vl-rowvec-bytes-', async (db, where) => {
    const col = await db.createCollection('b', { dimension: 2, metric: 'cosine', index: { type: 'hnsw', m: 8 } });
    const b1 = new Uint8Array([1, 2, 3]), b2 = Buffer.from([4, 5, 6]), b3 = new Uint8Array([7, 8, 9]);
    const ps = [
      col.insertBatch([{ id: 0, vector: [1, 0] }]),
      col.insertBatch([{ id: 1, vector: [1, 1], metadata: { b: b1 } }]),
      col.insert({ id: 2, vector: [1, 2], metadata: { b: b2 } }),
      col.update(0, { metadata: { b: b3 } }),
    ];
    b1.fill(200); b2.fill(201); b3.fill(202);
    await Promise.all(ps);
    assert.deepEqual([...(await col.get(1)).metadata.b], [1, 2, 3], `${where}: insertBatch`);
    assert.deepEqual([...(await col.get(2)).metadata.b], [4, 5, 6], `${where}: insert`);
    assert.deepEqual([...(await col.get(0)).metadata.b], [7, 8, 9], `${where}: update`);
  });
});

test('attack (atk3): a dimension-0 store whose first batch has a vector that fails its copy keeps no dimension', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vl-rowvec-dim0-'));
  const file = path.join(dir, 'd0.rvf');
  fs.copyFileSync(new URL('../golden/rvf/dim0-empty.rvf', import.meta.url), file);
  try {
    const col = await openCollection(file);
    try {
      await assert.rejects(col.insertBatch([{ id: 1, vector: slyVector(new Float32Array([1, 2, 3]), 3, 1e9) }]),
        (e) => e instanceof VecliteError && e.code === 'EINVAL' && /^insertBatch\[0\]/.test(e.message));
      assert.equal(col.dimension, 0, 'nothing was written: no dimension');
      assert.equal((await col.stats()).dimension, 0);
      assert.equal(await col.insertBatch([{ id: 1, vector: [1, 2] }, { id: 2, vector: [3, 4] }]), 2, 'a later batch of another dimension fixes it');
      assert.equal(col.dimension, 2);
    } finally {
      await col.close();
    }
    const back = await openCollection(file, { readOnly: true });
    try {
      assert.equal(back.dimension, 2);
      assert.deepEqual((await back.get(2)).vector, Float32Array.of(3, 4));
    } finally {
      await back.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('attack (atk3): batches on two collections at once, and behind a compaction, store the vectors of the call; the caller\'s rows are not kept after the call', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vl-rowvec-two-'));
  try {
    const db = await createDatabase({ path: dir });
    try {
      const a = await db.createCollection('a', { dimension: DIM, metric: 'cosine', index: { type: 'hnsw', m: 8 } });
      const b = await db.createCollection('b', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
      await a.insertBatch(rows(0, 200));
      await a.delete(Array.from({ length: 100 }, (_, i) => i));
      const ra = rows(1000, 40), rb = rows(2000, 40), rc = rows(3000, 40);
      const ps = [a.compact(), a.insertBatch(ra), b.insertBatch(rb), b.insertBatch(rc)];
      for (const r of [...ra, ...rb, ...rc]) r.vector.fill(5);
      await Promise.all(ps);
      for (const [col, from] of [[a, 1000], [b, 2000], [b, 3000]]) {
        const got = await col.getMany(Array.from({ length: 40 }, (_, k) => from + k));
        got.forEach((g, k) => {
          assert.deepEqual(g.vector, vec(from + k), `row ${from + k}`);   // get() gives a cosine vector as given
        });
      }
      // the batch's vector objects are not held once its promise settled
      {
        v8.setFlagsFromString('--expose-gc');
        const gc = vm.runInNewContext('gc');
        let weak;
        await (async () => {
          const big = rows(5000, 50);
          weak = new WeakRef(big[7].vector);
          await a.insertBatch(big);
        })();
        for (let i = 0; i < 5 && weak.deref(); i++) {
          await new Promise((r) => setTimeout(r, 10));
          gc();
        }
        assert.equal(weak.deref(), undefined, 'a vector object of a settled batch was collected');
      }
    } finally {
      await db.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('attack (atk3): a compaction that fails after the store moved (VL_EFATAL: out of memory building the new handle\'s id tables) leaves the collection refusing every call with EIO, the file whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vl-compact-fatal-'));
  try {
    const db = await createDatabase({ path: dir });
    const col = await db.createCollection('f', { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw', m: 8 } });
    await col.insertBatch(rows(0, 300));
    await col.delete([5, 6, 7]);
    const eng = await engineOf(col);
    const M = eng.M, orig = M._vl_store_compact;
    // what vl_store_compact returns then (tests/unit test_store_compact_nomem drives the real one)
    M._vl_store_compact = () => eng.C.errors.EFATAL;
    try {
      await assert.rejects(col.compact(), (e) => e instanceof VecliteError && e.code === 'EIO' && /close the collection and reopen it/.test(e.message));
    } finally {
      M._vl_store_compact = orig;
    }
    await assert.rejects(col.get(1), (e) => e.code === 'EIO', 'a poisoned handle answers nothing');
    await assert.rejects(col.insert({ id: 1000, vector: vec(1000) }), (e) => e.code === 'EIO');
    await db.close();
    const db2 = await createDatabase({ path: dir });
    try {
      const back = await db2.getCollection('f');
      assert.equal(await back.count(), 297, 'the file is as it was before the compaction');
      assert.deepEqual((await back.get(299)).vector, vec(299));
      assert.equal(await back.get(6), null);
    } finally {
      await db2.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a typed array whose length getter lies is measured by its real length: refused, never copied past its row (the copy may go straight into the engine heap)', async () => {
  class Liar extends Float32Array { get length() { return DIM; } }
  for (const workers of [0, 1]) {
    const db = await createDatabase(workers ? { workers } : {});
    try {
      const col = await db.createCollection('c', { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw', m: 8 } });
      await col.insertBatch(rows(0, 200));
      const big = new Liar(DIM * 4096).fill(1e30);   // 16 MiB of huge values behind a claimed DIM
      for (const at of [0, 5, 9]) {
        const b = rows(1000, 10);
        b[at].vector = big;
        await assert.rejects(col.insertBatch(b), (e) => e.code === 'EINVAL' &&
          new RegExp(`^insertBatch\\[${at}\\]: vector has ${DIM * 4096} components`).test(e.message), `row ${at} (workers ${workers})`);
      }
      assert.equal(await col.count(), 200, 'nothing of the refused batches was written');
      const got = await col.getMany(Array.from({ length: 200 }, (_, i) => i));
      for (let i = 0; i < 200; i++) assert.deepEqual(got[i].vector, vec(i), `row ${i} intact (workers ${workers})`);
      for (const i of [0, 77, 199]) assert.equal((await col.search(vec(i), { k: 1 }))[0].id, i);
      await col.insertBatch(rows(200, 50));   // and the engine still takes rows
      assert.equal(await col.count(), 250);
    } finally {
      await db.close();
    }
  }
});
