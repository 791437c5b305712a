// tests/js/regressions.test.js — one test per confirmed bug of the JS layer (web/*.js,
// worker/bind.js), each named after the bug and run on both engine builds. Every test asserts
// the correct behaviour (the VecliteError code, the answer from a brute-force oracle) and that
// the collection is intact afterwards (rows, counts, registered field names).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, VecliteError } from '../../web/index.js';
import { Engine, STAGE_MAX, layout } from '../../worker/bind.js';
import { dist64, rejectsWith } from './helpers.js';

/** The Engine behind a collection and the collection's handle (captured from a call it makes). */
async function engineOf(col) {
  const orig = Engine.prototype.count;
  let eng, h;
  Engine.prototype.count = function (hh) { eng = this; h = hh; return orig.call(this, hh); };
  try { await col.count(); } finally { Engine.prototype.count = orig; }
  return { eng, h };
}

/** Everything observable about a collection that a rejected call must leave unchanged. */
async function snapshot(col, ids) {
  const st = await col.stats();
  const rows = [];
  for (const id of ids) rows.push(await col.get(id));
  return { count: st.count, fields: st.fields, idType: st.idType, rows };
}

/** A revoked Proxy: any inspection of it throws a TypeError. */
function revoked(target = {}) {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

// ---- bind.js layout arithmetic (no engine needed) --------------------------------------------

test('regression: layout() aligns sizes >= 2^31 without int32 overflow and refuses totals above STAGE_MAX', () => {
  // The old align16 was (n + 15) & ~15: 2^31 became negative and 2^32 became 0.
  assert.deepEqual(layout([2 ** 31 - 1, 16]), { off: [0, 2 ** 31], total: 2 ** 31 + 16 });
  assert.deepEqual(layout([2 ** 31, 1]), { off: [0, 2 ** 31], total: 2 ** 31 + 16 });
  assert.deepEqual(layout([STAGE_MAX]), { off: [0], total: STAGE_MAX });
  assert.deepEqual(layout([0, 1, 17]), { off: [0, 0, 16], total: 48 });
  for (const sizes of [[2 ** 32], [2 ** 32 + 8], [STAGE_MAX + 1], [STAGE_MAX - 8, 32], [2 ** 31, 2 ** 31], [65536 * 65535 * 4 * 100000]]) {
    assert.throws(() => layout(sizes, 'test'), (e) => e instanceof VecliteError && e.code === 'EBUDGET' && /test/.test(e.message),
      `layout(${sizes}) must refuse`);
  }
  for (const bad of [-1, 1.5, NaN, Infinity]) {
    assert.throws(() => layout([bad]), (e) => e instanceof VecliteError && e.code === 'EINVAL');
  }
});

for (const simd of [true, false]) {
  const build = simd ? 'simd' : 'scalar';
  describe(`regressions on the ${build} build`, () => {
    let db;
    before(async () => { db = await createDatabase({ simd }); });
    after(async () => { await db?.close(); });

    // ---- 1. search scratch overflow ------------------------------------------------------------

    test('regression: search with k*dim*4 >= 2^32 does not overflow scratch', async () => {
      // k * dim * 4 === 2^32 exactly: the vectors region used to be sized 0 and C wrote the hits'
      // vectors over whatever followed the staging block (stored vectors of this and other
      // collections). Now result space is sized for min(k, live) hits and checked in bind.search.
      const DIM = 16384, K = 65536, N = 40;
      const big = await db.createCollection('scratch-big', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
      const other = await db.createCollection('scratch-other', { dimension: 4, metric: 'euclidean', index: { type: 'flat' } });
      const vec = (i) => new Float32Array(DIM).fill(i + 1);
      await big.insert({ id: 0, vector: vec(0), metadata: { i: 0 } });
      await big.search(vec(0), { k: K });   // sizes the staging block, as in the original repro
      for (let i = 1; i < N; i++) await big.insert({ id: i, vector: vec(i), metadata: { i } });
      for (let i = 0; i < 50; i++) await other.insert({ id: i, vector: [i, i, i, i], metadata: { tag: `row${i}` } });
      const { eng } = await engineOf(big);
      const heap0 = eng.heapBytes();

      const hits = await big.search(vec(N - 1), { k: K, includeVectors: true });
      assert.equal(hits.length, N);
      // Oracle: distance from row N-1 to row i is |i - (N-1)| * sqrt(DIM).
      const want = Array.from({ length: N }, (_, i) => i)
        .sort((a, b) => Math.abs(a - (N - 1)) - Math.abs(b - (N - 1)) || a - b);
      assert.deepEqual(hits.map((h) => h.id), want);
      for (const h of hits) {
        assert.ok(h.vector.every((x) => x === h.id + 1), `returned vector of ${h.id}`);
        assert.equal(h.distance, Math.abs(h.id - (N - 1)) * Math.sqrt(DIM));
        assert.deepEqual(h.metadata, { i: h.id });
      }
      assert.ok(eng.heapBytes() - heap0 < 64 << 20, `the search grew the heap by ${eng.heapBytes() - heap0} bytes`);
      assert.ok(eng.M._vl__wasm_stage_cap() <= 8 << 20, 'a large staging block is released after the call');
      const intact = async () => {
        for (let i = 0; i < N; i++) {
          const g = await big.get(i);
          assert.ok(g.vector.every((x) => x === i + 1), `big row ${i} vector`);
          assert.deepEqual(g.metadata, { i });
        }
        for (let i = 0; i < 50; i++) {
          assert.deepEqual(await other.get(i), { id: i, vector: Float32Array.of(i, i, i, i), metadata: { tag: `row${i}` } });
        }
      };
      await intact();

      // dimension 65535, k 100000, includeVectors: 26 GB if sized by k; by live rows it is small.
      const wide = await db.createCollection('scratch-wide', { dimension: 65535, metric: 'euclidean', index: { type: 'hnsw', m: 4 } });
      const wv = (i) => new Float32Array(65535).fill(i);
      for (let i = 0; i < 3; i++) await wide.insert({ id: i, vector: wv(i) });
      await wide.update(1, { vector: wv(1) });   // a tombstone: graph nodes > live rows
      const wh = await wide.search(wv(2), { k: 100000, includeVectors: true });
      assert.deepEqual(wh.map((h) => h.id), [2, 1, 0]);
      for (const h of wh) assert.ok(h.vector.every((x) => x === h.id));
      const sb = await wide.searchBatch([wv(0), wv(2)], { k: 100000, includeVectors: true, includeMetadata: false });
      assert.deepEqual(sb.map((r) => r.map((h) => h.id)), [[0, 1, 2], [2, 1, 0]]);

      // The size check itself, at the binding: refused with EBUDGET before anything is staged.
      const { eng: weng, h } = await engineOf(wide);
      const heap1 = weng.heapBytes(), cap1 = weng.M._vl__wasm_stage_cap();
      for (const [nq, k] of [[1, 100000], [1, 16385], [16, 4096]]) {   // each > STAGE_MAX bytes of vectors
        assert.throws(() => weng.search(h, 65535, nq, new Float32Array(65535 * nq).fill(1), k, 0, null, false, true),
          (e) => e instanceof VecliteError && e.code === 'EBUDGET' && /includeVectors/.test(e.message));
      }
      assert.equal(weng.heapBytes(), heap1, 'nothing was allocated');
      assert.equal(weng.M._vl__wasm_stage_cap(), cap1, 'the staging block was not touched');

      // Every row of every collection is intact.
      await intact();
      for (let i = 0; i < 3; i++) assert.ok((await wide.get(i)).vector.every((x) => x === i));
      for (const n of ['scratch-big', 'scratch-other', 'scratch-wide']) await db.deleteCollection(n);
    });

    // ---- 2. deep filters -----------------------------------------------------------------------

    test('regression: deeply nested filters are EINVAL, not a stack overflow', async () => {
      const c = await db.createCollection('deep', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      for (let i = 0; i < 10; i++) await c.insert({ id: i, vector: [i, 0], metadata: { n: i % 3 } });
      const snap = await snapshot(c, [0, 5, 9]);
      const wrap = (f, times, how) => { for (let i = 0; i < times; i++) f = how(f); return f; };
      const deep = [
        ['20000 x $not', wrap({ n: 1 }, 20000, (f) => ({ $not: f }))],
        ['20000 x single-child $and', wrap({ n: 1 }, 20000, (f) => ({ $and: [f] }))],
        ['20000 x single-child $or', wrap({ n: 1 }, 20000, (f) => ({ $or: [f] }))],
        ['65 levels', wrap({ n: 1 }, 64, (f) => ({ $and: [f, { n: { $exists: true } }] }))],
      ];
      for (const [name, f] of deep) {
        await rejectsWith(() => c.search([0, 0], { filter: f, k: 10 }), 'EINVAL', /deeper than 64 levels/);
        await rejectsWith(() => c.searchBatch([[0, 0]], { filter: f }), 'EINVAL', /deeper than 64 levels/);
        assert.deepEqual(await snapshot(c, [0, 5, 9]), snap, name);
      }
      // 64 levels is the limit, and such a filter answers like its JS equivalent.
      const ok64 = wrap({ n: 1 }, 63, (f) => ({ $not: f }));   // 63 $not objects + the leaf: 64
      const hits = await c.search([0, 0], { filter: ok64, k: 10 });
      const want = [...Array(10).keys()].filter((i) => i % 3 !== 1);   // odd number of $not
      assert.deepEqual(hits.map((h) => h.id), want);
      await db.deleteCollection('deep');
    });

    // ---- 3. async predicates -------------------------------------------------------------------

    test('regression: an async filter predicate is rejected, not treated as match-all', async () => {
      const c = await db.createCollection('pred', { dimension: 2, metric: 'euclidean', index: { type: 'hnsw', m: 4 } });
      for (let i = 0; i < 20; i++) await c.insert({ id: i, vector: [i, 1], metadata: { n: i } });
      const snap = await snapshot(c, [0, 19]);
      let unhandled = 0;
      const onUnhandled = () => { unhandled++; };
      process.on('unhandledRejection', onUnhandled);
      try {
        const bad = [
          ['async function', async (m) => m.n === 999],
          ['async function that throws', async () => { throw new Error('inside'); }],
          ['returns a Promise', (m) => Promise.resolve(m.n === 3)],
          ['returns a thenable', () => ({ then(res) { res(false); } })],
        ];
        for (const [name, pred] of bad) {
          await rejectsWith(() => c.search([0, 1], { filter: pred }), 'EINVAL', /synchronous/);
          await rejectsWith(() => c.searchBatch([[0, 1], [5, 1]], { filter: pred }), 'EINVAL', /synchronous/);
          assert.deepEqual(await snapshot(c, [0, 19]), snap, name);
        }
        await new Promise((r) => setTimeout(r, 10));
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      assert.equal(unhandled, 0, 'a rejected Promise from the predicate is not left unhandled');
      // Plain (non-thenable) results count by truthiness, like Array.prototype.filter.
      const truthy = [(m) => (m.n % 2 ? 'odd' : ''), (m) => (m.n % 2 ? {} : null), (m) => m.n % 2];
      const want = [...Array(20).keys()].filter((i) => i % 2).sort((a, b) => a - b).slice(0, 5);
      for (const pred of truthy) {
        assert.deepEqual((await c.search([0, 1], { filter: pred, k: 5 })).map((h) => h.id), want);
      }
      await db.deleteCollection('pred');
    });

    // ---- 4. field names registered by rejected writes ---------------------------------------------

    test('regression: rejected inserts and updates leave stats().fields unchanged', async () => {
      const c = await db.createCollection('fields', { dimension: 2, metric: 'cosine', index: { type: 'flat' } });
      await c.insert({ id: 1, vector: [1, 0], metadata: { a: 1 } });
      await c.insert({ id: 2, vector: [0, 1] });
      const snap = await snapshot(c, [1, 2, 3]);
      assert.equal(snap.fields, 1);
      const huge = 'x'.repeat(17 << 20);
      const cases = [
        ['insert zero vector', () => c.insert({ id: 3, vector: [0, 0], metadata: { b: 1, c: 1 } }), /zero/],
        ['insert 17 MiB record', () => c.insert({ id: 3, vector: [1, 1], metadata: { big: huge, k1: 1 } }), /16 MiB/],
        ['insert NaN', () => c.insert({ id: 3, vector: [NaN, 1], metadata: { d: 1 } }), /finite/],
        ['insert wrong dimension', () => c.insert({ id: 3, vector: [1, 1, 1], metadata: { d: 1 } }), /dimension/],
        ['insertBatch zero vector in the last row', () => c.insertBatch([
          { id: 3, vector: [1, 1], metadata: { e: 1 } }, { id: 4, vector: [0, 0], metadata: { f: 1 } }]), /insertBatch\[1\].*zero/],
        ['insertBatch oversized record in the first row', () => c.insertBatch([
          { id: 3, vector: [1, 1], metadata: { g: huge } }, { id: 4, vector: [1, 2], metadata: { h: 1 } }]), /insertBatch\[0\].*16 MiB/],
        ['update zero vector with new metadata', () => c.update(1, { vector: [0, 0], metadata: { i: 1 } }), /zero/],
        ['update with a 17 MiB record', () => c.update(2, { metadata: { j: huge } }), /16 MiB/],
      ];
      for (const [name, fn, re] of cases) {
        await rejectsWith(fn, 'EINVAL', re);
        assert.deepEqual(await snapshot(c, [1, 2, 3]), snap, name);
      }
      assert.equal(await c.update(3, { metadata: { k: 1 } }), false);
      assert.deepEqual(await snapshot(c, [1, 2, 3]), snap, 'update of an absent id');

      // A string-id collection registers '$id' on its first write: not if that write fails.
      const s = await db.createCollection('fields-str', { dimension: 2, metric: 'cosine', index: { type: 'flat' } });
      await rejectsWith(() => s.insert({ id: 'a', vector: [0, 0], metadata: { x: 1 } }), 'EINVAL', /zero/);
      await rejectsWith(() => s.insertBatch([{ id: 'a', vector: [1, 0] }, { id: 'b', vector: [0, 0] }]), 'EINVAL', /zero/);
      assert.deepEqual(await snapshot(s, ['a', 'b']), { count: 0, fields: 0, idType: null, rows: [null, null] });
      await s.insert({ id: 'a', vector: [1, 0], metadata: { x: 1 } });
      assert.equal((await s.stats()).fields, 2);   // '$id' and 'x'
      await rejectsWith(() => s.update('a', { vector: [0, 0], metadata: { y: 1 } }), 'EINVAL', /zero/);
      assert.equal((await s.stats()).fields, 2);
      assert.deepEqual(await s.get('a'), { id: 'a', vector: Float32Array.of(1, 0), metadata: { x: 1 } });

      // The field-name limit (65535) is checked before anything is registered.
      const L = await db.createCollection('fields-limit', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      const many = {};
      for (let i = 0; i < 65534; i++) many[`f${i}`] = i;
      await L.insert({ id: 1, vector: [1, 0], metadata: many });
      assert.equal((await L.stats()).fields, 65534);
      await rejectsWith(() => L.insert({ id: 2, vector: [0, 1], metadata: { f0: 1, new1: 1, new2: 2 } }), 'EINVAL', /limit of 65535/);
      await rejectsWith(() => L.update(1, { metadata: { new1: 1, new2: 2 } }), 'EINVAL', /limit of 65535/);
      assert.equal((await L.stats()).fields, 65534);
      assert.equal(await L.count(), 1);
      assert.equal(Object.keys((await L.get(1)).metadata).length, 65534);
      await L.insert({ id: 2, vector: [0, 1], metadata: { f7: 'x', last: true } });   // exactly at the limit
      assert.equal((await L.stats()).fields, 65535);
      assert.deepEqual((await L.get(2)).metadata, { f7: 'x', last: true });
      for (const n of ['fields', 'fields-str', 'fields-limit']) await db.deleteCollection(n);
    });

    // ---- 5. unknown item keys ------------------------------------------------------------------

    test('regression: insert items with unknown keys (e.g. metdata) are rejected, not silently dropped', async () => {
      const c = await db.createCollection('keys', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      await c.insert({ id: 1, vector: [1, 0], metadata: { a: 1 } });
      const snap = await snapshot(c, [1, 2, 3]);
      await rejectsWith(() => c.insert({ id: 2, vector: [0, 1], metdata: { a: 2 } }), 'EINVAL', /unknown key 'metdata'/);
      await rejectsWith(() => c.insertBatch([{ id: 2, vector: [0, 1] }, { id: 3, vec: [1, 1], vector: [1, 1] }]),
        'EINVAL', /insertBatch\[1\]: unknown key 'vec'/);
      await rejectsWith(() => c.insert({ id: 2, vector: [0, 1], metadata: undefined, score: 1 }), 'EINVAL', /'score'/);
      assert.deepEqual(await snapshot(c, [1, 2, 3]), snap);
      await c.insert({ id: 2, vector: [0, 1], metadata: undefined });   // the allowed keys still work
      assert.equal(await c.count(), 2);
      await db.deleteCollection('keys');
    });

    // ---- 6. toJSON values and hostile objects --------------------------------------------------

    test('regression: metadata values with toJSON are rejected instead of stored as something else', async () => {
      const c = await db.createCollection('tojson', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      await c.insert({ id: 1, vector: [1, 0], metadata: { tags: [1, 2] } });
      const snap = await snapshot(c, [1, 2]);
      const arr = [1, 2, 3];
      arr.toJSON = () => 'not an array';
      class TaggedArray extends Array { toJSON() { return 'inherited'; } }
      const inherited = TaggedArray.from([1, 2]);
      const bad = [
        ['array with own toJSON', { tags: arr }],
        ['object with own toJSON', { o: { a: 1, toJSON() { return 1; } } }],
        ['array with inherited toJSON', { tags: inherited }],
        ['nested toJSON', { o: { list: [1, { toJSON: () => 2 }] } }],
      ];
      for (const [name, metadata] of bad) {
        await rejectsWith(() => c.insert({ id: 2, vector: [0, 1], metadata }), 'EINVAL', /toJSON/);
        await rejectsWith(() => c.update(1, { metadata }), 'EINVAL', /toJSON/);
        await rejectsWith(() => c.search([0, 0], { filter: { tags: { $eq: metadata.tags ?? metadata.o } } }), 'EINVAL', /toJSON/);
        assert.deepEqual(await snapshot(c, [1, 2]), snap, name);
      }
      await db.deleteCollection('tojson');
    });

    test('regression: revoked Proxies and throwing getters in input are EINVAL, not a raw TypeError', async () => {
      const c = await db.createCollection('proxy', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      await c.insert({ id: 1, vector: [1, 0], metadata: { a: 1 } });
      const snap = await snapshot(c, [1, 3]);
      const boom = { get vector() { throw new Error('boom'); }, id: 3 };
      const cases = [
        ['metadata', () => c.insert({ id: 3, vector: [1, 1], metadata: revoked() })],
        ['vector', () => c.insert({ id: 3, vector: revoked([1, 1]) })],
        ['item', () => c.insert(revoked())],
        ['items array', () => c.insertBatch(revoked([]))],
        ['nested metadata value', () => c.insert({ id: 3, vector: [1, 1], metadata: { o: revoked() } })],
        ['throwing getter', () => c.insert(boom)],
        ['search query', () => c.search(revoked([1, 1]))],
        ['search options', () => c.search([1, 1], revoked())],
        ['search filter', () => c.search([1, 1], { filter: revoked() })],
        ['filter operand', () => c.search([1, 1], { filter: { a: { $in: revoked([]) } } })],
        ['searchBatch queries', () => c.searchBatch(revoked([]))],
        ['update patch', () => c.update(1, revoked())],
        ['update metadata', () => c.update(1, { metadata: revoked() })],
        ['delete ids', () => c.delete(revoked([]))],
        ['get id', () => c.get(revoked())],
        ['createCollection config', () => db.createCollection('p2', revoked())],
      ];
      for (const [name, fn] of cases) {
        await rejectsWith(fn, 'EINVAL');
        assert.deepEqual(await snapshot(c, [1, 3]), snap, name);
      }
      await rejectsWith(() => c.insert(boom), 'EINVAL', /boom/);
      await rejectsWith(() => createDatabase(revoked()), 'EINVAL');
      assert.ok(!(await db.listCollections()).includes('p2'));
      await db.deleteCollection('proxy');
    });

    // ---- 7. insertBatch count ------------------------------------------------------------------

    test('regression: insertBatch resolves to the number of distinct ids written (last row wins)', async () => {
      const c = await db.createCollection('dups', { dimension: 2, metric: 'euclidean', index: { type: 'hnsw', m: 4 } });
      assert.equal(await c.insertBatch([{ id: 9, vector: [1, 0] }, { id: 9, vector: [0, 1], metadata: { last: true } }]), 1);
      assert.deepEqual(await c.get(9), { id: 9, vector: Float32Array.of(0, 1), metadata: { last: true } });
      const big = 2n ** 60n + 5n;
      assert.equal(await c.insertBatch([
        { id: 12345, vector: [1, 1] }, { id: 12345n, vector: [2, 2] },   // number and bigint: one id
        { id: big, vector: [3, 3] }, { id: big + 1n, vector: [4, 4] }, { id: big, vector: [5, 5] },
        { id: 9, vector: [6, 6] },
      ]), 4);
      assert.equal(await c.count(), 4);
      assert.deepEqual((await c.get(12345)).vector, Float32Array.of(2, 2));
      assert.deepEqual((await c.get(big)).vector, Float32Array.of(5, 5));
      // Exact oracle over the live rows: search returns them all, in distance order.
      const rows = new Map([[9, [6, 6]], [12345, [2, 2]], [big, [5, 5]], [big + 1n, [4, 4]]]);
      const q = [0, 0];
      const want = [...rows].map(([id, v]) => [id, dist64('euclidean', q, v)]).sort((a, b) => a[1] - b[1]).map((x) => x[0]);
      assert.deepEqual((await c.search(q, { k: 10 })).map((h) => h.id), want);

      const s = await db.createCollection('dups-str', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      assert.equal(await s.insertBatch(['a', 'b', 'a', 'c', 'b'].map((id, i) => ({ id, vector: [i, 0], metadata: { i } }))), 3);
      assert.equal(await s.count(), 3);
      assert.deepEqual((await s.get('a')).metadata, { i: 2 });
      assert.deepEqual((await s.get('b')).metadata, { i: 4 });
      assert.equal(await s.insertBatch([{ id: 'a', vector: [9, 9] }]), 1);
      for (const n of ['dups', 'dups-str']) await db.deleteCollection(n);
    });
  });
}
