// tests/js/json-filters.test.js — the $contains operator and dotted field paths into JSON
// metadata (docs/api.md §5), in the engine's filtered search and in deleteWhere.
//
// Every expectation comes from the oracle in this file: a brute-force predicate over the
// metadata as inserted (random, seeded, with nested objects and arrays), implementing the
// documented rules independently of the code under test; results are never hard-coded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase } from '../../web/index.js';
import { bruteForce, mulberry32, rejectsWith } from './helpers.js';

const DIM = 4;
const WORDS = ['red', 'green', 'blue', 'redish', 'a"b', 'x\\y', 'é', 'line\nbreak', ''];

// ---- the oracle ---------------------------------------------------------------

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
const isJson = (v) => Array.isArray(v) || isObj(v);

/**
 * The value a filter key reads in one row: { v } or undefined when missing. `names` holds every
 * top-level name the collection has stored: an exact name wins; otherwise the longest dotted
 * prefix that is a name is the field and the rest a path into its JSON value.
 */
function lookup(meta, key, names) {
  if (names.has(key)) return Object.hasOwn(meta, key) ? { v: meta[key] } : undefined;
  const segs = key.split('.');
  for (let i = segs.length - 1; i >= 1; i--) {
    const head = segs.slice(0, i).join('.');
    if (!names.has(head)) continue;
    if (!Object.hasOwn(meta, head) || !isJson(meta[head])) return undefined;
    let v = meta[head];
    for (const seg of segs.slice(i)) {
      if (Array.isArray(v)) {
        if (!/^(0|[1-9][0-9]*)$/.test(seg) || Number(seg) >= v.length) return undefined;
        v = v[Number(seg)];
      } else if (isObj(v)) {
        if (!Object.hasOwn(v, seg)) return undefined;
        v = v[seg];
      } else {
        return undefined;
      }
    }
    return { v };
  }
  return undefined;
}

/** Equality as documented: numbers numerically, strings, booleans, null; JSON values by text. */
function eq(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (isJson(a) && isJson(b)) return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}
/** Ordered comparison: -1/0/1, or null when the pair does not compare (ASCII strings only here). */
function order(a, b) {
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return null;
}
function contains(a, x) {
  if (typeof a === 'string') return typeof x === 'string' && a.includes(x);
  if (Array.isArray(a)) return a.some((e) => !isJson(e) && eq(e, x));
  return false;
}

/** A brute-force predicate for a structured filter (the subset of operators used here). */
function predicate(filter, names) {
  return (meta) => Object.entries(filter).every(([key, cond]) => {
    if (key === '$and') return cond.every((f) => predicate(f, names)(meta));
    if (key === '$or') return cond.some((f) => predicate(f, names)(meta));
    if (key === '$not') return !predicate(cond, names)(meta);
    const got = lookup(meta, key, names);
    const ops = isObj(cond) && Object.keys(cond).every((k) => k.startsWith('$')) && Object.keys(cond).length
      ? cond : { $eq: cond };
    return Object.entries(ops).every(([op, x]) => {
      if (op === '$exists') return (got !== undefined) === x;
      if (op === '$ne') return got === undefined || !eq(got.v, x);
      if (op === '$nin') return got === undefined || !x.some((y) => eq(got.v, y));
      if (got === undefined) return false;
      const c = order(got.v, Array.isArray(x) ? x[0] : x);
      switch (op) {
        case '$eq': return eq(got.v, x);
        case '$in': return x.some((y) => eq(got.v, y));
        case '$contains': return contains(got.v, x);
        case '$lt': return c === -1;
        case '$lte': return c === -1 || c === 0;
        case '$gt': return c === 1;
        case '$gte': return c === 1 || c === 0;
        case '$range': return order(got.v, x[0]) !== null && order(got.v, x[0]) >= 0 && order(got.v, x[1]) <= 0;
        default: throw new Error(`oracle has no ${op}`);
      }
    });
  });
}

// ---- data ---------------------------------------------------------------------

function randomMeta(r, i) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const scalar = () => {
    const t = r();
    if (t < 0.35) return pick(WORDS);
    if (t < 0.7) return Math.floor(r() * 10) - 3 + (r() < 0.2 ? 0.5 : 0);
    if (t < 0.85) return r() < 0.5;
    return null;
  };
  const m = { i };
  if (r() < 0.85) m.title = pick(WORDS) + pick(WORDS);
  if (r() < 0.9) {
    const info = {};
    if (r() < 0.8) info.score = Math.floor(r() * 20) / 2;
    if (r() < 0.7) info.tags = Array.from({ length: Math.floor(r() * 4) }, scalar);
    if (r() < 0.6) info.sub = r() < 0.8 ? { deep: pick(WORDS), n: Math.floor(r() * 5) } : [pick(WORDS)];
    if (r() < 0.3) info.flag = r() < 0.5;
    if (r() < 0.2) info.nil = null;
    m.info = info;
  } else if (r() < 0.5) {
    m.info = pick(WORDS);            // not JSON: every path under it is missing
  }
  if (r() < 0.6) m.list = Array.from({ length: Math.floor(r() * 5) }, () => (r() < 0.25 ? [Math.floor(r() * 3)] : scalar()));
  return m;
}

async function setup(n, seed, index = { type: 'flat' }) {
  const r = mulberry32(seed);
  const rows = [];
  for (let i = 0; i < n; i++) {
    rows.push({ id: i, vector: Float32Array.from({ length: DIM }, () => r() * 2 - 1), metadata: randomMeta(r, i) });
  }
  const db = await createDatabase();
  const col = await db.createCollection('c', { dimension: DIM, metric: 'euclidean', index });
  await col.insertBatch(rows);
  const names = new Set(rows.flatMap((x) => Object.keys(x.metadata)));
  return { db, col, rows, names };
}

const FILTERS = [
  { title: { $contains: 'red' } },
  { title: { $contains: '"' } },
  { title: { $contains: '' } },
  { 'info.tags': { $contains: 'green' } },
  { 'info.tags': { $contains: 2 } },
  { 'info.tags': { $contains: true } },
  { 'info.tags': { $contains: null } },
  { list: { $contains: 'a"b' } },
  { list: { $contains: 0 } },
  { list: { $contains: 'line\nbreak' } },
  { $not: { list: { $contains: 1 } } },
  { 'info.score': 3 },
  { 'info.score': { $gt: 4, $lte: 8 } },
  { 'info.score': { $range: [2, 5] } },
  { 'info.score': { $ne: 3 } },
  { 'info.score': { $in: [1, 2.5, 9] } },
  { 'info.score': { $nin: [1, 2.5, 9] } },
  { 'info.sub.deep': 'é' },
  { 'info.sub.deep': { $contains: 'ed' } },
  { 'info.sub.deep': { $lt: 'h' } },
  { 'info.sub.0': { $exists: true } },
  { 'info.sub.n': { $gte: 2 } },
  { 'info.flag': false },
  { 'info.nil': null },
  { 'info.nil': { $exists: true } },
  { 'info.missing': { $exists: false } },
  { 'info.tags.0': { $in: ['red', 1, null] } },
  { 'info.tags.1': { $exists: true } },
  { 'info.tags': [] },
  { 'info.sub': { deep: 'red', n: 1 } },
  { 'list.0': { $eq: [0] } },
  { 'list.2': { $contains: 1 } },
  { 'title.x': { $exists: false } },
  { 'info.score.x': { $exists: true } },
  { $or: [{ 'info.tags': { $contains: 'blue' } }, { 'info.sub.n': 0 }] },
  { 'info.score': { $gte: 3 }, list: { $contains: 'red' } },
  { 'nope.a': { $ne: 1 } },
];

describe('$contains and dotted paths against a brute-force oracle', () => {
  test('flat index, k = every row: the matching set is exactly the oracle\'s', async () => {
    const { db, col, rows, names } = await setup(600, 11);
    const q = [0.1, 0.2, -0.3, 0.4];
    for (const filter of FILTERS) {
      const want = rows.filter((x) => predicate(filter, names)(x.metadata)).map((x) => x.id).sort((a, b) => a - b);
      const hits = await col.search(q, { k: rows.length, filter, includeMetadata: false });
      assert.deepEqual(hits.map((h) => h.id).sort((a, b) => a - b), want, JSON.stringify(filter));
    }
    // every filter splits the rows, except four that are all or nothing by design
    const trivial = FILTERS.filter((f) => {
      const m = rows.filter((x) => predicate(f, names)(x.metadata)).length;
      return m === 0 || m === rows.length;
    }).map((f) => JSON.stringify(f));
    assert.deepEqual(trivial, ['{"info.missing":{"$exists":false}}', '{"title.x":{"$exists":false}}',
      '{"info.score.x":{"$exists":true}}', '{"nope.a":{"$ne":1}}']);
    await db.close();
  });

  test('HNSW: a selective path or $contains filter still returns the exact top k', async () => {
    const { db, col, rows, names } = await setup(1500, 12, { type: 'hnsw', m: 8, efConstruction: 64 });
    const r = mulberry32(99);
    for (const filter of FILTERS) {
      const pred = predicate(filter, names);
      const keep = rows.map((x) => pred(x.metadata));
      for (let t = 0; t < 3; t++) {
        const q = Array.from({ length: DIM }, () => r() * 2 - 1);
        const want = bruteForce('euclidean', q, rows.map((x) => x.vector), 10, (i) => keep[i]);
        const hits = await col.search(q, { k: 10, filter, includeMetadata: false, ef: 200 });
        assert.equal(hits.length, want.length, JSON.stringify(filter));
        for (const h of hits) assert.ok(keep[h.id], `${JSON.stringify(filter)}: hit ${h.id} does not match`);
        const got = new Set(hits.map((h) => h.id));
        const found = want.filter((w) => got.has(w.i)).length;
        assert.ok(found >= want.length - 1, `${JSON.stringify(filter)}: ${found} of ${want.length}`);
      }
    }
    await db.close();
  });

  test('deleteWhere with a path filter deletes exactly the oracle\'s rows', async () => {
    const { db, col, rows, names } = await setup(300, 13);
    const filter = { $or: [{ 'info.tags': { $contains: 'red' } }, { 'info.sub.n': { $lt: 2 } }] };
    const gone = rows.filter((x) => predicate(filter, names)(x.metadata));
    assert.ok(gone.length > 0 && gone.length < rows.length);
    assert.equal(await col.deleteWhere(filter), gone.length);
    assert.equal(await col.count(), rows.length - gone.length);
    for (const x of gone.slice(0, 20)) assert.equal(await col.get(x.id), null);
    await db.close();
  });
});

describe('a dotted key that is also a top-level field name', () => {
  test('the exact top-level name wins; without it the key is a path; longest prefix otherwise', async () => {
    const db = await createDatabase();
    const col = await db.createCollection('c', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
    await col.insertBatch([
      { id: 1, vector: [0, 1], metadata: { a: { b: 1 } } },
      { id: 2, vector: [1, 0], metadata: { 'a.b': 1 } },
      { id: 3, vector: [1, 1], metadata: { a: { b: 2 }, 'a.b': 2 } },
      { id: 4, vector: [0, 2], metadata: { 'p.q': { r: 5 }, p: { q: { r: 6 } } } },
      { id: 5, vector: [2, 0], metadata: { x: { y: { z: 'deep' } } } },
    ]);
    const ids = async (filter) => (await col.search([0, 0], { k: 10, filter })).map((h) => h.id).sort();
    // the collection has a field named 'a.b': the key means that field, not a.b inside a
    assert.deepEqual(await ids({ 'a.b': 1 }), [2]);
    assert.deepEqual(await ids({ 'a.b': { $exists: true } }), [2, 3]);
    // 'a.b.c' has no field of that name: its longest named prefix 'a.b' is the field
    assert.deepEqual(await ids({ 'p.q.r': 5 }), [4]);    // field 'p.q', path r
    assert.deepEqual(await ids({ 'p.q.r': 6 }), []);     // not p -> q -> r
    // no dotted field: plain paths, nested
    assert.deepEqual(await ids({ 'x.y.z': 'deep' }), [5]);
    assert.deepEqual(await ids({ 'x.y': { z: 'deep' } }), [5]);
    // a field never stored: missing for every row
    assert.deepEqual(await ids({ 'zz.y': { $exists: false } }), [1, 2, 3, 4, 5]);

    // a second collection without the field 'a.b': the same key is the path b inside a
    const c2 = await db.createCollection('d', { dimension: 2, metric: 'euclidean', index: { type: 'flat' } });
    await c2.insertBatch([
      { id: 1, vector: [0, 1], metadata: { a: { b: 1 } } },
      { id: 2, vector: [1, 0], metadata: { a: { b: 2 } } },
    ]);
    assert.deepEqual((await c2.search([0, 0], { k: 10, filter: { 'a.b': 1 } })).map((h) => h.id), [1]);
    await db.close();
  });
});

describe('bad $contains operands and paths', () => {
  test('objects, arrays, bytes and undefined are EINVAL naming the operator; nothing changes', async () => {
    const db = await createDatabase();
    const col = await db.createCollection('c', { dimension: 2, metric: 'euclidean' });
    await col.insert({ id: 1, vector: [1, 0], metadata: { t: ['a'] } });
    const q = [1, 0];
    await rejectsWith(() => col.search(q, { filter: { t: { $contains: ['a'] } } }), 'EINVAL', /\$contains must be a string.*got an array/);
    await rejectsWith(() => col.search(q, { filter: { t: { $contains: { a: 1 } } } }), 'EINVAL', /\$contains must be a string.*got an object/);
    await rejectsWith(() => col.search(q, { filter: { t: { $contains: new Uint8Array(1) } } }), 'EINVAL', /\$contains must be a string.*Uint8Array/);
    await rejectsWith(() => col.search(q, { filter: { t: { $contains: undefined } } }), 'EINVAL', /\$contains is undefined/);
    await rejectsWith(() => col.search(q, { filter: { t: { $contains: NaN } } }), 'EINVAL', /NaN/);
    await rejectsWith(() => col.deleteWhere({ t: { $contains: [] } }), 'EINVAL', /\$contains/);
    const deep = `t.${Array.from({ length: 65 }, () => 'x').join('.')}`;
    await rejectsWith(() => col.search(q, { filter: { [deep]: 1 } }), 'EINVAL', /path of 65 segments after field "t"; at most 64/);
    // 64 segments are allowed (and simply find nothing here)
    const ok = `t.${Array.from({ length: 64 }, () => 'x').join('.')}`;
    assert.deepEqual(await col.search(q, { filter: { [ok]: 1 } }), []);
    assert.equal(await col.count(), 1);
    assert.deepEqual((await col.search(q, { filter: { t: { $contains: 'a' } } })).map((h) => h.id), [1]);
    await db.close();
  });
});
