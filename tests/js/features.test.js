// tests/js/features.test.js — ids() paging, getMany(), the $nin filter operator, deleteWhere()
// and update(..., { merge: true }).
//
// Every expectation comes from an oracle kept in this file (the rows as inserted, brute-force
// predicates over their metadata), never from the code under test.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase } from '../../web/index.js';
import { mulberry32, rejectsWith } from './helpers.js';

const DIM = 4;

const rng = mulberry32; // deterministic, seeded

const TAGS = ['red', 'green', 'blue', 'cyan'];

/** n rows with ids from `idOf`, random vectors and metadata where `tag` and `n` are sometimes missing. */
function makeRows(n, idOf, seed = 1) {
  const r = rng(seed);
  const rows = [];
  for (let i = 0; i < n; i++) {
    const vector = Float32Array.from({ length: DIM }, () => r() * 2 - 1 + 0.01);
    const metadata = { i };
    if (i % 5 !== 0) metadata.tag = TAGS[Math.floor(r() * TAGS.length)];
    if (i % 3 !== 0) metadata.num = Math.floor(r() * 10);
    if (i % 7 === 0) metadata.flag = true;
    rows.push({ id: idOf(i), vector, metadata });
  }
  return rows;
}

/** Shuffle a copy (insertion order must not matter). */
function shuffled(arr, seed) {
  const r = rng(seed);
  const a = arr.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

async function allIds(col, limit) {
  const out = [];
  const pages = [];
  let after = null;
  for (;;) {
    const page = await col.ids({ after, limit });
    pages.push(page.ids.length);
    out.push(...page.ids);
    if (page.next === null) break;
    after = page.next;
  }
  return { ids: out, pages };
}

async function memCollection(name = 'c', config = {}) {
  const db = await createDatabase();
  const col = await db.createCollection(name, { dimension: DIM, metric: 'euclidean', index: { type: 'flat' }, ...config });
  return { db, col };
}

describe('ids({ after, limit })', () => {
  test('pages through 2,500 numeric ids with limit 1000: each id once, ascending', async () => {
    const { db, col } = await memCollection();
    const rows = makeRows(2500, (i) => i * 3 + 1);
    const mixed = shuffled(rows, 5);
    for (let i = 0; i < mixed.length; i += 700) await col.insertBatch(mixed.slice(i, i + 700));
    const { ids, pages } = await allIds(col, 1000);
    const expected = rows.map((r) => r.id).sort((a, b) => a - b);
    assert.equal(ids.length, expected.length);
    assert.equal(new Set(ids).size, ids.length, 'no id twice');
    assert.deepEqual(ids, expected); // numeric ids: internal order is numeric order
    assert.deepEqual(pages.slice(0, 3), [1000, 1000, 500]);
    await db.close();
  });

  test('string ids, deletions, default limit and a bad cursor', async () => {
    const { db, col } = await memCollection();
    const rows = makeRows(2500, (i) => `doc-${i}`, 7);
    await col.insertBatch(shuffled(rows, 3));
    const gone = new Set();
    for (let i = 0; i < 2500; i += 9) gone.add(`doc-${i}`);
    assert.equal(await col.delete([...gone]), gone.size);
    const { ids } = await allIds(col, 1000);
    const expected = new Set(rows.map((r) => r.id).filter((id) => !gone.has(id)));
    assert.equal(ids.length, expected.size);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(new Set(ids), expected);
    const first = await col.ids();
    assert.equal(first.ids.length, 1000);
    assert.equal(typeof first.next, 'string');
    await rejectsWith(() => col.ids({ after: 'nope' }), 'EINVAL', /cursor/);
    await rejectsWith(() => col.ids({ limit: 0 }), 'EINVAL', /limit/);
    await rejectsWith(() => col.ids({ lmit: 3 }), 'EINVAL');
    await db.close();
  });

  test('an empty collection has no ids', async () => {
    const { db, col } = await memCollection();
    assert.deepEqual(await col.ids(), { ids: [], next: null });
    await db.close();
  });
});

describe('getMany(ids)', () => {
  test('records in the order given, null where absent', async () => {
    const { db, col } = await memCollection();
    const rows = makeRows(300, (i) => i + 100, 11);
    await col.insertBatch(rows);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const ask = [150, 5, 399, 100, 150, 1000000, 250];
    const got = await col.getMany(ask);
    assert.equal(got.length, ask.length);
    for (let i = 0; i < ask.length; i++) {
      const want = byId.get(ask[i]);
      if (!want) { assert.equal(got[i], null); continue; }
      assert.equal(got[i].id, want.id);
      assert.deepEqual(Array.from(got[i].vector), Array.from(want.vector));
      assert.deepEqual(got[i].metadata, want.metadata);
    }
    assert.deepEqual(await col.getMany([]), []);
    await rejectsWith(() => col.getMany(5), 'EINVAL', /array/);
    await db.close();
  });

  test('string ids: unknown strings are null; a numeric id is refused', async () => {
    const { db, col } = await memCollection();
    const rows = makeRows(50, (i) => `s${i}`, 12);
    await col.insertBatch(rows);
    const got = await col.getMany(['s3', 'zz', 's49']);
    assert.deepEqual(got.map((r) => r && r.id), ['s3', null, 's49']);
    assert.deepEqual(got[0].metadata, rows[3].metadata);
    assert.deepEqual(Array.from(got[2].vector), Array.from(rows[49].vector));
    await rejectsWith(() => col.getMany(['s1', 2]), 'EINVAL');
    await db.close();
  });
});

/** Brute-force $nin: the field is missing, or its value is none of the list. */
const ninPred = (field, list) => (m) => !(field in m) || !list.includes(m[field]);

describe('$nin', () => {
  const cases = [
    [{ tag: { $nin: ['red', 'blue'] } }, ninPred('tag', ['red', 'blue'])],
    [{ num: { $nin: [0, 1, 2, 3, 4] } }, ninPred('num', [0, 1, 2, 3, 4])],
    [{ tag: { $nin: [] } }, () => true],
    [{ missing: { $nin: ['x'] } }, () => true],
    [{ tag: { $nin: ['green'] }, num: { $gt: 5 } }, (m) => ninPred('tag', ['green'])(m) && 'num' in m && m.num > 5],
    [{ $not: { tag: { $nin: ['cyan'] } } }, (m) => !ninPred('tag', ['cyan'])(m)],
    [{ $or: [{ tag: { $nin: ['red', 'green', 'blue'] } }, { flag: true }] }, (m) => ninPred('tag', ['red', 'green', 'blue'])(m) || m.flag === true],
  ];
  test('matches a brute-force NOT IN over the rows (missing field matches)', async () => {
    const { db, col } = await memCollection();
    const rows = makeRows(600, (i) => i, 21);
    await col.insertBatch(rows);
    const q = [0.1, 0.2, 0.3, 0.4];
    for (const [filter, pred] of cases) {
      const hits = await col.search(q, { k: rows.length, filter });
      const want = new Set(rows.filter((r) => pred(r.metadata)).map((r) => r.id));
      assert.ok(want.size > 0, 'each case matches some rows');
      assert.deepEqual(new Set(hits.map((h) => h.id)), want, JSON.stringify(filter));
    }
    await rejectsWith(() => col.search(q, { filter: { tag: { $nin: 'red' } } }), 'EINVAL', /\$nin must be an array/);
    await rejectsWith(() => col.search(q, { filter: { tag: { $nin: [undefined] } } }), 'EINVAL', /undefined/);
    await db.close();
  });
});

describe('deleteWhere(filter)', () => {
  const filters = [
    [{ tag: 'red' }, (m) => m.tag === 'red'],
    [{ num: { $range: [2, 4] }, tag: { $nin: ['blue'] } }, (m) => 'num' in m && m.num >= 2 && m.num <= 4 && ninPred('tag', ['blue'])(m)],
    [{ tag: { $exists: false } }, (m) => !('tag' in m)],
    [{ nothere: 1 }, () => false],
  ];

  test('deletes exactly the brute-force matches (memory, numeric and string ids)', async () => {
    for (const idOf of [(i) => i * 2, (i) => `k${i}`]) {
      const { db, col } = await memCollection();
      const rows = makeRows(5000, idOf, 31);
      await col.insertBatch(rows);
      let left = rows;
      for (const [filter, pred] of filters) {
        const want = left.filter((r) => pred(r.metadata));
        assert.equal(await col.deleteWhere(filter), want.length, JSON.stringify(filter));
        left = left.filter((r) => !pred(r.metadata));
        assert.equal(await col.count(), left.length);
        const { ids } = await allIds(col, 1000);
        assert.deepEqual(new Set(ids), new Set(left.map((r) => r.id)));
      }
      for (const r of [rows[0], rows[1]]) assert.equal(await col.get(r.id) !== null, left.includes(r));
      await rejectsWith(() => col.deleteWhere((m) => true), 'EINVAL', /structured filter/);
      await rejectsWith(() => col.deleteWhere(null), 'EINVAL');
      await rejectsWith(() => col.deleteWhere({ a: { $bogus: 1 } }), 'EINVAL');
      assert.equal(await col.deleteWhere({}), left.length);
      assert.equal(await col.count(), 0);
      await db.close();
    }
  });

  test('is durable in a file store (reopened)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veclite-featx-'));
    try {
      const rows = makeRows(2500, (i) => `f${i}`, 41);
      let db = await createDatabase({ path: dir });
      let col = await db.createCollection('docs', { dimension: DIM, metric: 'euclidean' });
      await col.insertBatch(rows);
      const pred = (m) => m.tag === 'green' || m.num === 7;
      const want = rows.filter((r) => pred(r.metadata)).length;
      assert.equal(await col.deleteWhere({ $or: [{ tag: 'green' }, { num: 7 }] }), want);
      await db.close();
      db = await createDatabase({ path: dir });
      col = await db.getCollection('docs');
      const left = rows.filter((r) => !pred(r.metadata));
      assert.equal(await col.count(), left.length);
      const { ids } = await allIds(col, 1000);
      assert.deepEqual(new Set(ids), new Set(left.map((r) => r.id)));
      const back = await col.getMany([left[0].id, rows.find((r) => pred(r.metadata)).id]);
      assert.deepEqual(back[0].metadata, left[0].metadata);
      assert.equal(back[1], null);
      await db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('update(id, { metadata }, { merge: true })', () => {
  /** The documented rule: shallow merge; a null value removes the key. */
  function merged(old, patch) {
    const out = { ...old };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      if (v === null) delete out[k];
      else out[k] = v;
    }
    return out;
  }

  test('merges shallowly, null removes a key, vector kept or replaced', async () => {
    for (const idOf of [(i) => i, (i) => `m${i}`]) {
      const { db, col } = await memCollection();
      const rows = makeRows(20, idOf, 51);
      await col.insertBatch(rows);
      const oracle = new Map(rows.map((r) => [r.id, { vector: r.vector, metadata: { ...r.metadata } }]));
      const patches = [
        [1, { tag: 'violet', extra: { deep: [1, 2] } }],
        [1, { extra: { other: true } }],
        [2, { num: null, tag: null, added: 5n }],
        [3, { i: undefined, fresh: 'x' }],
        [0, {}],
      ];
      for (const [i, patch] of patches) {
        const id = idOf(i);
        assert.equal(await col.update(id, { metadata: patch }, { merge: true }), true);
        const o = oracle.get(id);
        o.metadata = merged(o.metadata, patch);
        const got = await col.get(id);
        assert.deepEqual(got.metadata, o.metadata, `${id}`);
        assert.deepEqual(Array.from(got.vector), Array.from(o.vector));
      }
      const v = [1, 2, 3, 4];
      assert.equal(await col.update(idOf(4), { vector: v, metadata: { tag: 'new' } }, { merge: true }), true);
      const got = await col.get(idOf(4));
      assert.deepEqual(got.metadata, merged(rows[4].metadata, { tag: 'new' }));
      assert.deepEqual(Array.from(got.vector), v);
      // without merge the metadata is still replaced
      assert.equal(await col.update(idOf(5), { metadata: { only: 1 } }), true);
      assert.deepEqual((await col.get(idOf(5))).metadata, { only: 1 });
      assert.equal(await col.update(idOf(6), { metadata: { only: 2 } }, { merge: false }), true);
      assert.deepEqual((await col.get(idOf(6))).metadata, { only: 2 });
      // absent id
      assert.equal(await col.update(idOf(999), { metadata: { a: 1 } }, { merge: true }), false);
      await rejectsWith(() => col.update(idOf(1), { metadata: {} }, { merge: 'yes' }), 'EINVAL', /merge/);
      await rejectsWith(() => col.update(idOf(1), { metadata: {} }, { mrege: true }), 'EINVAL');
      // the other rows are untouched
      for (const i of [7, 8, 19]) assert.deepEqual((await col.get(idOf(i))).metadata, rows[i].metadata);
      await db.close();
    }
  });

  test('merge into a row stored without metadata, and filters see the merged record', async () => {
    const { db, col } = await memCollection();
    await col.insert({ id: 1, vector: [1, 0, 0, 0] });
    await col.insert({ id: 2, vector: [0, 1, 0, 0], metadata: { a: 1 } });
    await col.update(1, { metadata: { b: 2 } }, { merge: true });
    await col.update(2, { metadata: { b: 2 } }, { merge: true });
    assert.deepEqual((await col.get(1)).metadata, { b: 2 });
    assert.deepEqual((await col.get(2)).metadata, { a: 1, b: 2 });
    const hits = await col.search([1, 1, 0, 0], { k: 10, filter: { b: 2, a: { $nin: [1] } } });
    assert.deepEqual(hits.map((h) => h.id), [1]);
    await db.close();
  });
});

describe('in a worker pool', () => {
  test('deleteWhere reaches the replicas; getMany, ids and merge work through the pool', async () => {
    const db = await createDatabase({ workers: 2 });
    try {
      const col = await db.createCollection('p', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
      const rows = makeRows(1200, (i) => `p${i}`, 61);
      await col.insertBatch(rows);
      const pred = (m) => m.tag === 'blue';
      const left = rows.filter((r) => !pred(r.metadata));
      assert.equal(await col.deleteWhere({ tag: 'blue' }), rows.length - left.length);
      for (let round = 0; round < 4; round++) { // reads rotate over the writer and the replica
        assert.equal(await col.count(), left.length);
        const got = await col.getMany([rows[0].id, rows.find((r) => pred(r.metadata)).id]);
        assert.equal(got[0] !== null, !pred(rows[0].metadata));
        assert.equal(got[1], null);
      }
      const { ids } = await allIds(col, 500);
      assert.deepEqual(new Set(ids), new Set(left.map((r) => r.id)));
      await col.update(left[0].id, { metadata: { extra: 1 } }, { merge: true });
      for (let round = 0; round < 2; round++) {
        assert.deepEqual((await col.getMany([left[0].id]))[0].metadata, { ...left[0].metadata, extra: 1 });
      }
    } finally {
      await db.close();
    }
  });
});
