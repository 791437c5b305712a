// tests/js/api.test.js — the whole public API (web/index.js) against both engine builds.
//
// Every expectation comes from an oracle in this file (float64 brute force over the committed
// dataset in tests/data, JS predicates mirroring each filter), never from the code under test.
// The suite runs once with { simd: true } and once with { simd: false }; a final block loads both
// builds side by side and compares them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, getImplementation, getWasmInfo, VecliteError } from '../../web/index.js';
import { Engine } from '../../worker/bind.js';
import {
  BASE, QUERIES, DIM, dist64, scoreOf, bruteForce, assertExact, recall, rejectsWith,
} from './helpers.js';

const N = BASE.length;
const U64_MAX = 2n ** 64n - 1n;

/** Metadata of row i: every value kind, with fields of known selectivity. */
function metaOf(i) {
  const m = {
    cat: i % 100,                       // F64, 1% per value
    tag: `t${i % 7}`,                   // STR
    even: i % 2 === 0,                  // BOOL
    name: `n${String(i).padStart(4, '0')}`,
    big: BigInt(i) << 44n,              // U64, above 2^53 for i >= 512
    neg: -BigInt(i),                    // I64 (0n for i = 0 is U64)
    frac: i / 10,                       // F64, non-integer
    bytes: Uint8Array.of(i % 4, i % 3), // BYTES
  };
  if (i % 3 === 0) m.opt = i;           // present on a third
  if (i % 5 === 0) m.nul = null;        // NULL on a fifth
  if (i % 11 === 0) m.json = { g: i % 2, list: [i, 'x'] }; // JSON
  return m;
}
const META = Array.from({ length: N }, (_, i) => metaOf(i));

function cmpBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Structured filters and the JS predicate (over row metadata) each must equal. */
const FILTERS = [
  ['implicit eq number', { cat: 37 }, (m) => m.cat === 37],
  ['implicit eq string', { tag: 't3' }, (m) => m.tag === 't3'],
  ['implicit eq bool', { even: false }, (m) => m.even === false],
  ['implicit eq null', { nul: null }, (m) => 'nul' in m],
  ['implicit eq bytes', { bytes: Uint8Array.of(1, 2) }, (m) => cmpBytes(m.bytes, [1, 2]) === 0],
  ['implicit eq json', { json: { g: 1, list: [11, 'x'] } }, (m) => m.json?.g === 1 && m.json.list[0] === 11],
  ['$eq', { cat: { $eq: 5 } }, (m) => m.cat === 5],
  ['$ne', { cat: { $ne: 5 } }, (m) => m.cat !== 5],
  ['$ne on sometimes-missing field', { opt: { $ne: 3 } }, (m) => m.opt !== 3],
  ['$lt', { cat: { $lt: 10 } }, (m) => m.cat < 10],
  ['$le', { cat: { $le: 10 } }, (m) => m.cat <= 10],
  ['$lte', { cat: { $lte: 3 } }, (m) => m.cat <= 3],
  ['$gt', { cat: { $gt: 90 } }, (m) => m.cat > 90],
  ['$ge', { cat: { $ge: 95 } }, (m) => m.cat >= 95],
  ['$gte', { cat: { $gte: 98 } }, (m) => m.cat >= 98],
  ['$lt string', { name: { $lt: 'n0100' } }, (m) => m.name < 'n0100'],
  ['$gt bigint u64 above 2^53', { big: { $gt: 1900n << 44n } }, (m) => m.big > 1900n << 44n],
  ['$ge number vs u64', { big: { $ge: 2 ** 50 } }, (m) => m.big >= 2n ** 50n],
  ['$lt number vs i64', { neg: { $lt: -1990 } }, (m) => m.neg < -1990n],
  ['$lt bytes', { bytes: { $lt: Uint8Array.of(1) } }, (m) => cmpBytes(m.bytes, [1]) < 0],
  ['$in numbers', { cat: { $in: [1, 2, 3] } }, (m) => [1, 2, 3].includes(m.cat)],
  ['$in strings', { tag: { $in: ['t1', 't2'] } }, (m) => m.tag === 't1' || m.tag === 't2'],
  ['$in empty', { cat: { $in: [] } }, () => false],
  ['$range', { frac: { $range: [10, 20.5] } }, (m) => m.frac >= 10 && m.frac <= 20.5],
  ['$exists true', { opt: { $exists: true } }, (m) => 'opt' in m],
  ['$exists false', { nul: { $exists: false } }, (m) => !('nul' in m)],
  ['$and', { $and: [{ cat: { $lt: 50 } }, { even: true }] }, (m) => m.cat < 50 && m.even],
  ['$and empty', { $and: [] }, () => true],
  ['$or', { $or: [{ cat: 1 }, { tag: 't2' }] }, (m) => m.cat === 1 || m.tag === 't2'],
  ['$or empty', { $or: [] }, () => false],
  ['$not', { $not: { even: true } }, (m) => !m.even],
  ['several keys = AND', { even: false, cat: { $gte: 90 } }, (m) => !m.even && m.cat >= 90],
  ['several operators = AND', { cat: { $gt: 10, $lt: 13 } }, (m) => m.cat > 10 && m.cat < 13],
  ['nested', { $or: [{ $and: [{ tag: 't1' }, { $not: { opt: { $exists: true } } }] }, { cat: 99 }] },
    (m) => (m.tag === 't1' && !('opt' in m)) || m.cat === 99],
  ['unknown field eq', { nope: 1 }, () => false],
  ['unknown field $exists false', { nope: { $exists: false } }, () => true],
  ['unknown field $ne', { nope: { $ne: 1 } }, () => true],
  ['32 nested $not', (() => { let f = { even: true }; for (let i = 0; i < 32; i++) f = { $not: f }; return f; })(), (m) => m.even],
];

async function loadRows(col, n = N, withMeta = true, idOf = (i) => i) {
  const items = [];
  for (let i = 0; i < n; i++) items.push({ id: idOf(i), vector: BASE[i], ...(withMeta ? { metadata: META[i] } : {}) });
  assert.equal(await col.insertBatch(items), n);
}

/** Count calls of an Engine method during fn. */
async function countCalls(method, fn) {
  const orig = Engine.prototype[method];
  let calls = 0;
  Engine.prototype[method] = function (...a) { calls++; return orig.apply(this, a); };
  try { await fn(); } finally { Engine.prototype[method] = orig; }
  return calls;
}

for (const simd of [true, false]) {
  const build = simd ? 'simd' : 'scalar';
  describe(`API on the ${build} build`, () => {
    let db;
    const cols = {};
    const rowOf = (id) => Number(id);

    before(async () => {
      db = await createDatabase({ simd });
      cols.flatL2 = await db.createCollection('flat-l2', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
      cols.flatCos = await db.createCollection('flat-cos', { dimension: DIM, metric: 'cosine', index: { type: 'flat' } });
      cols.flatDot = await db.createCollection('flat-dot', { dimension: DIM, metric: 'dotProduct', index: { type: 'flat' } });
      cols.hnswL2 = await db.createCollection('hnsw-l2', {
        dimension: DIM, metric: 'euclidean', index: { type: 'hnsw', m: 16, efConstruction: 200, ef: 64, seed: 7 },
      });
      cols.hnswCos = await db.createCollection('hnsw-cos', { dimension: DIM, index: { m: 16 } });
      for (const c of Object.values(cols)) await loadRows(c);
    });
    after(async () => { await db?.close(); });

    test('loads the requested build and reports it', async () => {
      const want = simd ? 'wasm-simd' : 'wasm';
      assert.equal(db.implementation, want);
      assert.equal(getImplementation().build, want);
      const info = getWasmInfo();
      assert.equal(info.simdEnabled, simd);
      assert.equal(info.simdSupported, true);
      assert.equal(info.workerPoolSize, 0);
      assert.equal(info.indexedDbEnabled, false);
      assert.equal(info.opfsEnabled, false);
      assert.equal((await cols.flatL2.stats()).implementation, want);
    });

    test('collections: create, get, list, delete', async () => {
      const before = await db.listCollections();
      assert.deepEqual(before, ['flat-l2', 'flat-cos', 'flat-dot', 'hnsw-l2', 'hnsw-cos']);
      const c = await db.createCollection('tmp', { dimension: 4 });
      assert.equal(await db.getCollection('tmp'), c);
      assert.equal(c.name, 'tmp');
      assert.equal(c.dimension, 4);
      assert.equal(c.metric, 'cosine');
      assert.deepEqual(await db.listCollections(), [...before, 'tmp']);
      await rejectsWith(() => db.createCollection('tmp', { dimension: 4 }), 'EINVAL', /already exists/);
      await c.insert({ id: 1, vector: [1, 2, 3, 4] });
      await db.deleteCollection('tmp');
      assert.deepEqual(await db.listCollections(), before);
      assert.equal(await db.getCollection('tmp'), null); // the seed's getCollection: null when absent
      assert.equal(await db.deleteCollection('tmp'), false); // the seed's deleteCollection: false when absent
      await rejectsWith(() => c.count(), 'ECLOSED', /deleted/);
      await rejectsWith(() => c.search([1, 2, 3, 4]), 'ECLOSED');
      // The name is free again and the new collection starts empty.
      const c2 = await db.createCollection('tmp', { dimension: 4 });
      assert.equal(await c2.count(), 0);
      await db.deleteCollection('tmp');
    });

    test('count and stats', async () => {
      assert.equal(await cols.hnswL2.count(), N);
      const st = await cols.hnswL2.stats();
      assert.equal(st.count, N);
      assert.equal(st.dimension, DIM);
      assert.equal(st.metric, 'euclidean');
      assert.deepEqual(st.index, { type: 'hnsw', m: 16, efConstruction: 200, ef: 64 });
      assert.equal(st.tombstones, 0);
      assert.ok(st.memoryBytes >= N * DIM * 4, `memoryBytes ${st.memoryBytes} holds at least the raw vectors`);
      assert.equal(st.bytesPerVector, st.memoryBytes / N);
      assert.equal(st.idType, 'number');
      const sf = await cols.flatDot.stats();
      assert.deepEqual(sf.index, { type: 'flat' });
      assert.equal(sf.metric, 'dotProduct');
      const sc = await cols.hnswCos.stats();
      assert.deepEqual(sc.index, { type: 'hnsw', m: 16, efConstruction: 200, ef: 64 }, 'defaults applied');
    });

    test('flat index equals the float64 brute-force oracle (all metrics)', async () => {
      for (const [col, metric] of [[cols.flatL2, 'euclidean'], [cols.flatCos, 'cosine'], [cols.flatDot, 'dotProduct']]) {
        for (const q of QUERIES) {
          const hits = await col.search(q, { k: 10, includeMetadata: false });
          assertExact(hits, bruteForce(metric, q, BASE, 10), rowOf, metric, q, BASE);
          for (const h of hits) {
            assert.ok(Math.abs(h.score - scoreOf(metric, h.distance)) < 1e-12, `${metric} score`);
            assert.equal(h.metadata, undefined);
            assert.equal(h.vector, undefined);
          }
          for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score, 'best first');
        }
      }
    });

    test('HNSW recall@10 >= 0.95 at ef=64, M=16 against brute force', async () => {
      for (const [col, metric] of [[cols.hnswL2, 'euclidean'], [cols.hnswCos, 'cosine']]) {
        let r = 0;
        for (const q of QUERIES) {
          const hits = await col.search(q, { k: 10, ef: 64, includeMetadata: false });
          assert.equal(hits.length, 10);
          for (const h of hits) {
            assert.ok(Math.abs(h.distance - dist64(metric, q, BASE[rowOf(h.id)])) < 1e-4, 'true distance');
          }
          r += recall(hits, bruteForce(metric, q, BASE, 10), rowOf);
        }
        r /= QUERIES.length;
        assert.ok(r >= 0.95, `${metric} recall@10 = ${r}`);
      }
    });

    test('score and distance follow the contract for each metric', async () => {
      const q = QUERIES[3];
      for (const [col, metric] of [[cols.flatL2, 'euclidean'], [cols.flatCos, 'cosine'], [cols.flatDot, 'dotProduct']]) {
        const [h] = await col.search(q, { k: 1 });
        const d = dist64(metric, q, BASE[h.id]);
        assert.ok(Math.abs(h.distance - d) <= 1e-4 * Math.max(1, Math.abs(d)), `${metric} distance`);
        const s = metric === 'euclidean' ? 1 / (1 + d) : metric === 'cosine' ? 1 - d : -d;
        assert.ok(Math.abs(h.score - s) <= 1e-4 * Math.max(1, Math.abs(s)), `${metric} score`);
      }
    });

    test('every filter operator through search equals the exact filtered answer', async () => {
      for (const [name, filter, pred] of FILTERS) {
        const p = (i) => pred(META[i]);
        const matches = META.filter(pred).length;
        for (const q of QUERIES.slice(0, 3)) {
          const want = bruteForce('euclidean', q, BASE, 10, p);
          const hits = await cols.flatL2.search(q, { k: 10, filter });
          assertExact(hits, want, rowOf, 'euclidean', q, BASE);
          for (const h of hits) assert.ok(pred(h.metadata), `${name}: hit ${h.id} matches`);
          // HNSW: filtered inside the traversal, completed exactly when the graph runs short.
          const hh = await cols.hnswL2.search(q, { k: 10, filter });
          assert.equal(hh.length, Math.min(10, matches), `${name}: HNSW returns min(k, matches)`);
          for (const h of hh) assert.ok(pred(META[h.id]), `${name}: HNSW hit ${h.id} matches`);
        }
      }
    });

    test('a 1%-selective filter still returns k results, all matching', async () => {
      const filter = { cat: 42 };
      assert.equal(META.filter((m) => m.cat === 42).length, N / 100);
      let r = 0;
      for (const q of QUERIES) {
        const hits = await cols.hnswL2.search(q, { k: 10, filter });
        assert.equal(hits.length, 10);
        for (const h of hits) assert.equal(h.metadata.cat, 42);
        r += recall(hits, bruteForce('euclidean', q, BASE, 10, (i) => META[i].cat === 42), rowOf);
      }
      assert.ok(r / QUERIES.length >= 0.9, `filtered recall ${r / QUERIES.length}`);
    });

    test('JS predicate filters: exact on flat, k matching hits on HNSW, exact scan for rare matches', async () => {
      const preds = [
        (m) => m.tag === 't4' && m.cat < 50,
        (m) => m.name.endsWith('7'),
        (m) => m.name === 'n1234',           // one match: found by the exact scan
        () => false,
      ];
      for (const pred of preds) {
        const p = (i) => pred(META[i]);
        const matches = META.filter(pred).length;
        for (const q of QUERIES.slice(0, 4)) {
          const want = bruteForce('euclidean', q, BASE, 10, p);
          const seen = [];
          const hits = await cols.flatL2.search(q, { k: 10, filter: (m, id) => { seen.push(id); return pred(m); } });
          assertExact(hits, want, rowOf, 'euclidean', q, BASE);
          assert.ok(seen.every((id) => typeof id === 'number'), 'predicate receives public ids');
          assert.equal(new Set(seen).size, seen.length, 'predicate called once per id');
          const hh = await cols.hnswL2.search(q, { k: 10, filter: pred });
          assert.equal(hh.length, Math.min(10, matches));
          for (const h of hh) assert.ok(pred(META[h.id]));
          if (matches <= 10) assert.deepEqual(hh.map((h) => h.id).sort(), want.map((w) => w.i).sort());
        }
      }
      // With includeMetadata: false the predicate still sees metadata, the hits do not carry it.
      const hits = await cols.hnswL2.search(QUERIES[0], { k: 5, includeMetadata: false, filter: (m) => m.even });
      assert.equal(hits.length, 5);
      for (const h of hits) { assert.equal(h.metadata, undefined); assert.equal(h.id % 2, 0); }
    });

    test('a predicate that mutates the collection does not corrupt the search', async () => {
      const c = await db.createCollection('reent', { dimension: 2, metric: 'euclidean' });
      await c.insertBatch(Array.from({ length: 300 }, (_, i) => ({ id: i, vector: [i, 0], metadata: { i } })));
      let n = 0;
      // Rare matches force the exact scan; each call deletes another row and inserts a new one.
      const hits = await c.search([0, 0], {
        k: 3,
        filter: (m, id) => {
          n++;
          c.delete(299 - (n % 100));
          c.insert({ id: 1000 + n, vector: [5000 + n, 0] });
          return id % 97 === 0;
        },
      });
      assert.ok(n > 0);
      for (const h of hits) assert.equal(h.id % 97, 0);
      assert.ok(hits.length >= 1 && hits.length <= 3);
      assert.equal(hits[0].id, 0);
      await db.deleteCollection('reent');
    });

    test('threshold keeps exactly the hits with score >= threshold', async () => {
      const q = QUERIES[5];
      const all = bruteForce('euclidean', q, BASE, 50);
      const threshold = scoreOf('euclidean', (all[20].d + all[21].d) / 2);
      const hits = await cols.flatL2.search(q, { k: 50, threshold });
      assert.equal(hits.length, 21);
      for (const h of hits) assert.ok(h.score >= threshold);
      const none = await cols.flatL2.search(q, { k: 10, threshold: 2 });
      assert.equal(none.length, 0);
      const pf = await cols.flatL2.search(q, { k: 50, threshold, filter: (m) => m.even });
      assert.deepEqual(pf.map((h) => h.id), all.slice(0, 21).filter((x) => x.i % 2 === 0).map((x) => x.i));
    });

    test('includeVectors and includeMetadata', async () => {
      const q = QUERIES[1];
      const hits = await cols.hnswL2.search(q, { k: 5, includeVectors: true });
      for (const h of hits) {
        assert.ok(h.vector instanceof Float32Array);
        assert.deepEqual(h.vector, BASE[h.id]);
        assert.deepEqual(h.metadata, META[h.id]);
      }
      const bare = await cols.hnswL2.search(q, { k: 5, includeMetadata: false });
      for (const h of bare) assert.deepEqual(Object.keys(h).sort(), ['distance', 'id', 'score']);
      assert.deepEqual(bare.map((h) => h.id), hits.map((h) => h.id));
    });

    test('searchBatch equals search per query, in ONE engine call', async () => {
      const qs = QUERIES.slice(0, 20);
      const single = [];
      for (const q of qs) single.push(await cols.hnswL2.search(q, { k: 7, filter: { even: true } }));
      let batch;
      const calls = await countCalls('search', async () => {
        batch = await cols.hnswL2.searchBatch(qs, { k: 7, filter: { even: true } });
      });
      assert.equal(calls, 1);
      assert.deepEqual(batch, single);
      assert.deepEqual(await cols.hnswL2.searchBatch([]), []);
      const arr = await cols.flatL2.searchBatch(qs.map((q) => Array.from(q)), { k: 3, includeMetadata: false });
      for (let i = 0; i < qs.length; i++) assertExact(arr[i], bruteForce('euclidean', qs[i], BASE, 3), rowOf, 'euclidean', qs[i], BASE);
    });

    test('insertBatch is ONE engine call and atomic', async () => {
      const c = await db.createCollection('atomic', { dimension: DIM, index: { type: 'flat' } });
      const items = Array.from({ length: 100 }, (_, i) => ({ id: i, vector: BASE[i], metadata: META[i] }));
      const calls = await countCalls('upsert', async () => assert.equal(await c.insertBatch(items), 100));
      assert.equal(calls, 1);
      // A zero vector under cosine is rejected by the engine: nothing of the batch lands.
      const bad = [{ id: 1000, vector: BASE[5] }, { id: 1001, vector: new Float32Array(DIM) }];
      await rejectsWith(() => c.insertBatch(bad), 'EINVAL', /zero/);
      // A bad row at the end (JS validation) leaves nothing either.
      await rejectsWith(() => c.insertBatch([{ id: 1002, vector: BASE[6] }, { id: 1003, vector: [1] }]), 'EINVAL', /dimension/);
      assert.equal(await c.count(), 100);
      assert.equal(await c.get(1000), null);
      assert.equal(await c.get(1002), null);
      assert.equal(await c.insertBatch([]), 0);
      await db.deleteCollection('atomic');
    });

    test('insert is an upsert; get, update, delete, clear', async () => {
      const c = await db.createCollection('crud', { dimension: 4, metric: 'euclidean', index: { type: 'flat' } });
      await c.insert({ id: 1, vector: [1, 0, 0, 0], metadata: { a: 1 } });
      await c.insert({ id: 2, vector: new Float32Array([0, 1, 0, 0]) });
      assert.deepEqual(await c.get(1), { id: 1, vector: Float32Array.of(1, 0, 0, 0), metadata: { a: 1 } });
      assert.deepEqual(await c.get(2), { id: 2, vector: Float32Array.of(0, 1, 0, 0), metadata: {} });
      assert.equal(await c.get(3), null);
      // upsert replaces vector and metadata
      await c.insert({ id: 1, vector: [0, 0, 1, 0], metadata: { b: 'x' } });
      assert.equal(await c.count(), 2);
      assert.deepEqual(await c.get(1), { id: 1, vector: Float32Array.of(0, 0, 1, 0), metadata: { b: 'x' } });
      // update metadata only, vector only, both
      await c.update(1, { metadata: { c: true } });
      assert.deepEqual(await c.get(1), { id: 1, vector: Float32Array.of(0, 0, 1, 0), metadata: { c: true } });
      await c.update(1, { vector: [0, 0, 0, 1] });
      assert.deepEqual(await c.get(1), { id: 1, vector: Float32Array.of(0, 0, 0, 1), metadata: { c: true } });
      await c.update(2, { vector: [2, 0, 0, 0], metadata: { d: null } });
      assert.deepEqual(await c.get(2), { id: 2, vector: Float32Array.of(2, 0, 0, 0), metadata: { d: null } });
      await c.update(2, { metadata: null });
      assert.deepEqual((await c.get(2)).metadata, {});
      const [top] = await c.search([0, 0, 0, 1], { k: 1 });
      assert.equal(top.id, 1);
      assert.equal(top.distance, 0);
      assert.equal(top.score, 1);
      // the seed's update: an absent id resolves false and changes nothing
      assert.equal(await c.update(99, { metadata: { a: 1 } }), false);
      assert.equal(await c.update(99, { vector: [1, 1, 1, 1] }), false);
      assert.equal(await c.get(99), null);
      assert.equal(await c.get(99), null, 'a failed update does not insert');
      // delete one / many
      assert.equal(await c.delete(1), true);
      assert.equal(await c.delete(1), false);
      assert.equal(await c.get(1), null);
      await c.insertBatch([3, 4, 5].map((id) => ({ id, vector: [id, 1, 1, 1] })));
      assert.equal(await c.delete([3, 4, 77, 3]), 2);
      assert.equal(await c.delete([]), 0);
      assert.equal(await c.count(), 2);
      assert.deepEqual((await c.search([1, 1, 1, 1], { k: 10 })).map((h) => h.id).sort(), [2, 5]);
      await c.clear();
      assert.equal(await c.count(), 0);
      assert.deepEqual(await c.search([1, 1, 1, 1]), []);
      await c.insert({ id: 8, vector: [1, 2, 3, 4] });
      assert.equal(await c.count(), 1);
      await db.deleteCollection('crud');
    });

    test('string, number and bigint ids round-trip exactly', async () => {
      const c = await db.createCollection('ids', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      const ids = [0, 1, Number.MAX_SAFE_INTEGER, 2n ** 53n + 1n, U64_MAX, 2n ** 63n, 12345n];
      await c.insertBatch(ids.map((id, i) => ({ id, vector: [i, 0] })));
      const back = (await c.search([0, 0], { k: 10 })).map((h) => h.id);
      // number when safe, bigint above 2^53 - 1: 12345n comes back as 12345
      assert.deepEqual(back, [0, 1, Number.MAX_SAFE_INTEGER, 2n ** 53n + 1n, U64_MAX, 2n ** 63n, 12345]);
      assert.equal(typeof back[3], 'bigint');
      assert.deepEqual((await c.get(U64_MAX)).id, U64_MAX);
      assert.deepEqual((await c.get(2n ** 53n + 1n)).vector, Float32Array.of(3, 0));
      assert.equal(await c.get(2n ** 53n), null, '2^53 is a different id from 2^53+1');
      assert.equal((await c.get(12345)).id, 12345, 'number and bigint name the same id');
      assert.equal(await c.delete(U64_MAX), true);
      await rejectsWith(() => c.insert({ id: 'str', vector: [1, 1] }), 'EINVAL', /numeric|mix/);

      const s = await db.createCollection('sids', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
      const long = 'é'.repeat(512); // 1024 UTF-8 bytes: the maximum
      const names = ['a', 'b', '', '🙂 emoji', long, '0', '1'].filter((x) => x);
      await s.insertBatch(names.map((id, i) => ({ id, vector: [i, 0], metadata: { i } })));
      const hits = await s.search([0, 0], { k: 10 });
      assert.deepEqual(hits.map((h) => h.id), names);
      assert.deepEqual(hits.map((h) => h.metadata), names.map((_, i) => ({ i })), '$id is not user metadata');
      assert.deepEqual(await s.get('🙂 emoji'), { id: '🙂 emoji', vector: Float32Array.of(2, 0), metadata: { i: 2 } });
      assert.equal(await s.get('zzz'), null);
      await rejectsWith(() => s.insert({ id: 5, vector: [1, 1] }), 'EINVAL', /string ids/);
      await rejectsWith(() => s.get(5), 'EINVAL');
      await s.update('a', { metadata: { z: 1 } });
      assert.deepEqual(await s.get('a'), { id: 'a', vector: Float32Array.of(0, 0), metadata: { z: 1 } });
      await s.update('a', { vector: [9, 9] });
      assert.deepEqual(await s.get('a'), { id: 'a', vector: Float32Array.of(9, 9), metadata: { z: 1 } });
      assert.equal((await s.search([9, 9], { k: 1, filter: { z: 1 } }))[0].id, 'a');
      assert.equal(await s.delete('b'), true);
      assert.equal(await s.delete(['b', '0', 'nope']), 1);
      assert.equal(await s.count(), names.length - 2);
      await s.insert({ id: 'b', vector: [7, 7] });
      assert.equal((await s.get('b')).id, 'b');
      assert.equal((await s.stats()).idType, 'string');
      // idType fixed in the config
      const t = await db.createCollection('typed', { dimension: 2, idType: 'string' });
      await rejectsWith(() => t.insert({ id: 1, vector: [1, 1] }), 'EINVAL');
      await t.insert({ id: 'x', vector: [1, 1] });
      for (const n of ['ids', 'sids', 'typed']) await db.deleteCollection(n);
    });

    test('metadata of every kind round-trips exactly', async () => {
      const c = await db.createCollection('meta', { dimension: 2, index: { type: 'flat' } });
      const meta = {
        s: 'text ✓ 🙂', empty: '', f: 3.25, int: 42, negz: -0, huge: 1e300, tiny: 5e-324,
        t: true, fa: false, nul: null,
        u64: U64_MAX, i64: -(2n ** 63n), small: 5n,
        bytes: Uint8Array.of(0, 255, 7), noBytes: new Uint8Array(0),
        arr: [1, 'two', null, true, { x: [3] }], obj: { nested: { deep: 'yes', n: -1.5 } }, emptyObj: {},
        ['key with spaces & ünïcode']: 1,
      };
      await c.insert({ id: 1, vector: [1, 2], metadata: meta });
      const got = await c.get(1);
      assert.deepEqual(got.metadata, meta);
      assert.ok(Object.is(got.metadata.negz, -0));
      assert.equal(typeof got.metadata.small, 'bigint');
      const [hit] = await c.search([1, 2], { k: 1 });
      assert.deepEqual(hit.metadata, meta);
      // undefined values are skipped, like JSON.stringify
      await c.insert({ id: 2, vector: [1, 1], metadata: { a: 1, skip: undefined } });
      assert.deepEqual((await c.get(2)).metadata, { a: 1 });
      await db.deleteCollection('meta');
    });

    test('memory growth: a batch larger than the initial heap, then correct answers', async () => {
      const dim = 256, n = 20000; // 20 MB of vectors > 16 MB initial memory
      const c = await db.createCollection('big', { dimension: dim, metric: 'euclidean', index: { type: 'flat' } });
      let s = 12345;
      const rnd = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296 - 0.5; };
      const rows = Array.from({ length: n }, () => Float32Array.from({ length: dim }, rnd));
      assert.equal(await c.insertBatch(rows.map((vector, id) => ({ id, vector }))), n);
      for (const q of [rows[17], rows[19999].map((x) => x + 0.01)]) {
        const hits = await c.search(q, { k: 5 });
        assertExact(hits, bruteForce('euclidean', q, rows, 5), Number, 'euclidean', q, rows);
      }
      assert.deepEqual((await c.get(19999)).vector, rows[19999]);
      await db.deleteCollection('big');
    });

    describe('bad input is rejected with the right code and leaves the collection intact', () => {
      let c, snap;
      const q0 = QUERIES[0];
      const snapshot = async () => ({
        count: await c.count(),
        hits: await c.search(q0, { k: 10 }),
        fields: (await c.stats()).fields,
      });
      before(async () => {
        c = await db.createCollection('guard', { dimension: DIM, metric: 'cosine', index: { type: 'hnsw', m: 8 } });
        await loadRows(c, 300);
        snap = await snapshot();
      });
      const intact = async () => assert.deepEqual(await snapshot(), snap);
      const cases = [
        // insert / insertBatch
        ['insert without id', () => c.insert({ vector: BASE[0] }), 'EINVAL', /id/],
        ['insert wrong dimension', () => c.insert({ id: 1, vector: [1, 2, 3] }), 'EINVAL', /dimension/],
        ['insert NaN', () => c.insert({ id: 1, vector: Float32Array.from(BASE[0], (x, j) => (j === 3 ? NaN : x)) }), 'EINVAL', /component 3/],
        ['insert Infinity', () => c.insert({ id: 1, vector: Array.from(BASE[0], (x, j) => (j === 0 ? Infinity : x)) }), 'EINVAL', /finite/],
        ['insert float32 overflow', () => c.insert({ id: 1, vector: Array.from(BASE[0], (x, j) => (j === 0 ? 1e39 : x)) }), 'EINVAL', /overflow/],
        ['insert zero vector (cosine)', () => c.insert({ id: 1, vector: new Float32Array(DIM) }), 'EINVAL', /zero/],
        ['insert non-number component', () => c.insert({ id: 1, vector: Array.from(BASE[0], (x, j) => (j === 0 ? '1' : x)) }), 'EINVAL'],
        ['insert vector as string', () => c.insert({ id: 1, vector: 'abc' }), 'EINVAL', /Float32Array/],
        ['insert negative id', () => c.insert({ id: -1, vector: BASE[0] }), 'EINVAL', /non-negative/],
        ['insert fractional id', () => c.insert({ id: 1.5, vector: BASE[0] }), 'EINVAL'],
        ['insert id above 2^53 as number', () => c.insert({ id: 2 ** 53, vector: BASE[0] }), 'EINVAL', /bigint/],
        ['insert NaN id', () => c.insert({ id: NaN, vector: BASE[0] }), 'EINVAL'],
        ['insert bigint id above 2^64-1', () => c.insert({ id: 2n ** 64n, vector: BASE[0] }), 'EINVAL', /2\^64/],
        ['insert negative bigint id', () => c.insert({ id: -1n, vector: BASE[0] }), 'EINVAL'],
        ['insert object id', () => c.insert({ id: {}, vector: BASE[0] }), 'EINVAL'],
        ['insert string id into numeric collection', () => c.insert({ id: 'a', vector: BASE[0] }), 'EINVAL', /mix|numeric/],
        ['insert metadata array', () => c.insert({ id: 1, vector: BASE[0], metadata: [1] }), 'EINVAL', /plain object/],
        ['insert metadata $key', () => c.insert({ id: 1, vector: BASE[0], metadata: { $id: 'x' } }), 'EINVAL', /reserve/],
        ['insert metadata NaN', () => c.insert({ id: 1, vector: BASE[0], metadata: { x: NaN } }), 'EINVAL'],
        ['insert metadata function', () => c.insert({ id: 1, vector: BASE[0], metadata: { f() {} } }), 'EINVAL'],
        ['insert metadata Date', () => c.insert({ id: 1, vector: BASE[0], metadata: { d: new Date() } }), 'EINVAL'],
        ['insert metadata nested undefined', () => c.insert({ id: 1, vector: BASE[0], metadata: { o: { u: undefined } } }), 'EINVAL'],
        ['insert metadata cycle', () => { const o = {}; o.o = o; return c.insert({ id: 1, vector: BASE[0], metadata: { o } }); }, 'EINVAL', /cycle/],
        ['insert metadata bigint out of range', () => c.insert({ id: 1, vector: BASE[0], metadata: { b: 2n ** 64n } }), 'EINVAL'],
        ['insert item null', () => c.insert(null), 'EINVAL'],
        ['insertBatch not an array', () => c.insertBatch({}), 'EINVAL'],
        ['insertBatch bad last row', () => c.insertBatch([{ id: 5000, vector: BASE[1] }, { id: 5001, vector: [] }]), 'EINVAL', /insertBatch\[1\]/],
        ['insertBatch mixed id kinds', () => c.insertBatch([{ id: 5000, vector: BASE[1] }, { id: 'x', vector: BASE[2] }]), 'EINVAL'],
        // search / searchBatch
        ['search wrong dimension', () => c.search([1, 2]), 'EINVAL', /dimension/],
        ['search NaN', () => c.search(Float32Array.from(q0, (x, j) => (j === 5 ? NaN : x))), 'EINVAL'],
        ['search zero query (cosine)', () => c.search(new Float32Array(DIM)), 'EINVAL', /zero/],
        ['search k = 0', () => c.search(q0, { k: 0 }), 'EINVAL', /k/],
        ['search k fractional', () => c.search(q0, { k: 2.5 }), 'EINVAL'],
        ['search k too large', () => c.search(q0, { k: 100001 }), 'EINVAL'],
        ['search ef = 0', () => c.search(q0, { ef: 0 }), 'EINVAL'],
        ['search ef too large', () => c.search(q0, { ef: 1e6 }), 'EINVAL'],
        ['search unknown option', () => c.search(q0, { topK: 3 }), 'EINVAL', /topK/],
        ['search threshold string', () => c.search(q0, { threshold: '0.5' }), 'EINVAL'],
        ['search includeVectors non-boolean', () => c.search(q0, { includeVectors: 1 }), 'EINVAL'],
        ['search filter string', () => c.search(q0, { filter: 'cat = 1' }), 'EINVAL'],
        ['filter unknown operator', () => c.search(q0, { filter: { cat: { $regex: 'a' } } }), 'EINVAL', /\$regex/],
        ['filter unknown top-level operator', () => c.search(q0, { filter: { $nor: [] } }), 'EINVAL'],
        ['filter $in not an array', () => c.search(q0, { filter: { cat: { $in: 3 } } }), 'EINVAL'],
        ['filter $range malformed', () => c.search(q0, { filter: { cat: { $range: [1] } } }), 'EINVAL'],
        ['filter $exists non-boolean', () => c.search(q0, { filter: { cat: { $exists: 1 } } }), 'EINVAL'],
        ['filter $lt on a boolean', () => c.search(q0, { filter: { even: { $lt: true } } }), 'EINVAL'],
        ['filter NaN operand', () => c.search(q0, { filter: { cat: NaN } }), 'EINVAL'],
        ['filter undefined operand', () => c.search(q0, { filter: { cat: undefined } }), 'EINVAL'],
        ['filter $and not an array', () => c.search(q0, { filter: { $and: { cat: 1 } } }), 'EINVAL'],
        ['filter mixed operator object', () => c.search(q0, { filter: { cat: { $gt: 1, x: 2 } } }), 'EINVAL'],
        ['filter nested too deep', () => { let f = { cat: 1 }; for (let i = 0; i < 100; i++) f = { $not: f }; return c.search(q0, { filter: f }); }, 'EINVAL', /deep/],
        ['searchBatch not an array', () => c.searchBatch(q0), 'EINVAL'],
        ['searchBatch one bad query', () => c.searchBatch([q0, [1]]), 'EINVAL', /searchBatch\[1\]/],
        // get / update / delete
        ['get negative id', () => c.get(-5), 'EINVAL'],
        ['get string id in numeric collection', () => c.get('x'), 'EINVAL'],
        ['update empty patch', () => c.update(1, {}), 'EINVAL'],
        ['update unknown key', () => c.update(1, { meta: {} }), 'EINVAL', /meta/],
        ['update bad vector', () => c.update(1, { vector: [1] }), 'EINVAL', /dimension/],
        ['update bad metadata', () => c.update(1, { metadata: { $x: 1 } }), 'EINVAL'],
        ['delete bad id', () => c.delete(1.5), 'EINVAL'],
        ['delete array with a bad id', () => c.delete([1, 2, -3]), 'EINVAL'],
      ];
      for (const [name, fn, code, re] of cases) {
        test(name, async () => {
          await rejectsWith(fn, code, re);
          await intact();
        });
      }
    });

    describe('configuration errors', () => {
      const bad = [
        ['dimension 0', { dimension: 0 }],
        ['dimension 65536', { dimension: 65536 }],
        ['dimension fractional', { dimension: 1.5 }],
        ['dimension missing', {}],
        ['dimension as string', { dimension: '3' }],
        ['unknown metric', { dimension: 3, metric: 'manhattan' }],
        ['unknown index type', { dimension: 3, index: { type: 'ivf' } }],
        ['m = 1', { dimension: 3, index: { m: 1 } }],
        ['m = 257', { dimension: 3, index: { m: 257 } }],
        ['efConstruction 0', { dimension: 3, index: { efConstruction: 0 } }],
        ['option for another index', { dimension: 3, index: { type: 'flat', m: 8 } }],
        ['unknown quantization', { dimension: 3, quantization: 'int4' }],
        ['quantization of a flat index', { dimension: 3, index: { type: 'flat' }, quantization: 'scalar' }],
        ['bad idType', { dimension: 3, idType: 'uuid' }],
      ];
      for (const [name, cfg] of bad) {
        test(name, async () => {
          await rejectsWith(() => db.createCollection(`bad-${name}`, cfg), 'EINVAL');
          assert.ok(!(await db.listCollections()).includes(`bad-${name}`));
        });
      }
      test('bad names and configs', async () => {
        await rejectsWith(() => db.createCollection('', { dimension: 3 }), 'EINVAL');
        await rejectsWith(() => db.createCollection(5, { dimension: 3 }), 'EINVAL');
        await rejectsWith(() => db.createCollection('x'), 'EINVAL');
        const c = await db.createCollection('max-dim', { dimension: 65535, index: { type: 'flat' } });
        await c.insert({ id: 1, vector: new Float32Array(65535).fill(1) });
        assert.equal((await c.search(new Float32Array(65535).fill(2), { k: 1 }))[0].id, 1);
        await db.deleteCollection('max-dim');
      });
    });
  });
}

describe('database-level behaviour', () => {
  test('createDatabase validates its config', async () => {
    await rejectsWith(() => createDatabase({ backend: 'indexeddb' }), 'EBACKEND', /memory/);
    await rejectsWith(() => createDatabase({ backend: 'opfs' }), 'EBACKEND');
    await rejectsWith(() => createDatabase({ simd: 'yes' }), 'EINVAL');
    await rejectsWith(() => createDatabase({ wasmModule: new Uint8Array(8) }), 'EINVAL', /WebAssembly.Module/);
    await rejectsWith(() => createDatabase({ persist: true }), 'EINVAL', /persist/);
    await rejectsWith(() => createDatabase(null), 'EINVAL');
    const db = await createDatabase({ backend: 'memory' });
    await db.close();
  });

  test('ECLOSED after close for the database and its collections', async () => {
    const db = await createDatabase({ simd: false });
    const c = await db.createCollection('c', { dimension: 2 });
    await c.insert({ id: 1, vector: [1, 2] });
    await db.close();
    await db.close(); // idempotent
    const calls = [
      () => db.createCollection('d', { dimension: 2 }), () => db.getCollection('c'),
      () => db.listCollections(), () => db.deleteCollection('c'),
      () => c.insert({ id: 2, vector: [1, 1] }), () => c.insertBatch([]), () => c.search([1, 1]),
      () => c.searchBatch([[1, 1]]), () => c.get(1), () => c.update(1, { metadata: {} }),
      () => c.delete(1), () => c.count(), () => c.clear(), () => c.stats(),
    ];
    for (const fn of calls) await rejectsWith(fn, 'ECLOSED', /closed/);
    assert.equal(c.name, 'c', 'plain properties stay readable');
  });

  test('errors are VecliteErrors with name and code', async () => {
    const db = await createDatabase();
    const c = await db.createCollection('e', { dimension: 2 });
    try {
      await c.insert({ id: 1, vector: [1] });
      assert.fail('should have thrown');
    } catch (e) {
      assert.ok(e instanceof VecliteError);
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'VecliteError');
      assert.equal(e.code, 'EINVAL');
      assert.match(String(e), /^VecliteError: /);
    }
    await db.close();
  });
});

describe('both builds give the same results', () => {
  let dbs;
  before(async () => {
    dbs = [await createDatabase({ simd: true }), await createDatabase({ simd: false })];
  });
  after(async () => { for (const d of dbs ?? []) await d.close(); });

  test('flat: identical ids, distances within float rounding', async () => {
    const res = [];
    for (const db of dbs) {
      assert.equal(db.implementation, res.length === 0 ? 'wasm-simd' : 'wasm');
      const c = await db.createCollection('x', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
      await loadRows(c);
      res.push(await c.searchBatch(QUERIES, { k: 10, filter: { even: true } }));
    }
    for (let q = 0; q < QUERIES.length; q++) {
      const [a, b] = [res[0][q], res[1][q]];
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i++) {
        assert.ok(Math.abs(a[i].distance - b[i].distance) <= 1e-5 * Math.max(1, a[i].distance));
        if (a[i].id !== b[i].id) {
          // only a float-rounding tie may swap neighbours
          assert.ok(Math.abs(dist64('euclidean', QUERIES[q], BASE[a[i].id]) - dist64('euclidean', QUERIES[q], BASE[b[i].id])) < 1e-5);
        }
      }
    }
  });

  test('HNSW: same seed and inserts give (nearly) the same answers', async () => {
    const res = [];
    for (const db of dbs) {
      const c = await db.createCollection('h', { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw', m: 16, seed: 3 } });
      await loadRows(c, N, false);
      res.push(await c.searchBatch(QUERIES, { k: 10 }));
    }
    let same = 0, total = 0;
    for (let q = 0; q < QUERIES.length; q++) {
      const b = new Set(res[1][q].map((h) => h.id));
      for (const h of res[0][q]) { total++; if (b.has(h.id)) same++; }
    }
    assert.ok(same / total >= 0.98, `overlap ${same}/${total}`);
  });
});
