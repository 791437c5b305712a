// tests/js/interop.test.js — .rvf compatibility between veclite's public persistence API
// (openCollection / createDatabase({path}), docs/api.md) and the real
// @ruvector/rvf-node 0.2.3, both ways (docs/format.md; docs/api.md §9 failure mode 5 in Node form).
//
//   a. every golden file rvf-node wrote (tests/golden/rvf) opens read-only with rvf-node's own
//      count, epoch, metric, lineage and top-10 (tests/golden/rvf/expected.json);
//   b. files veclite writes (each metric, deletes, compacted, derived, metadata + string ids, a
//      10,000-vector HNSW store with its persisted graph) open in rvf-node with the same live
//      ids, identity and top-10;
//   c. rvf-node appends to a veclite file; veclite sees rvf-node's rows and deletes, and its own
//      metadata and string ids survive rvf-node's commit and compaction; after rvf-node replaces
//      rows of a quantized file and compacts, veclite searches the new vectors; an id rvf-node
//      deleted and veclite re-inserts without metadata stays without it; a read-only handle
//      follows rvf-node's compaction and a veclite session (refresh reloads, searches work);
//   d. writer locks hold both ways; read-only opens succeed meanwhile;
//   e. write in veclite, read in rvf-node, write in rvf-node, read back in veclite: top-10 agree
//      within 1e-6 relative;
//   f. the two shapes veclite once refused: a dimension-0 empty store (its first insert fixes the
//      dimension; rvf-node reads the result) and branch() children (parent + child rows as rvf-node
//      shows them, veclite's writes and compaction read back by rvf-node, a missing parent is
//      ENOTFOUND, a changed parent ECORRUPT).
//
// Oracles: float64 brute force over the rows this test wrote (or, for golden files, the rows an
// independent reader, fixtures/interop-rvf-reader.js, finds on disk) — never either
// implementation's answer. Units: rvf-node reports L2 squared, -dot and 1 - cos; veclite's
// euclidean `distance` is the true L2 (its square is compared). Ties: ids are compared as sets
// where distances tie within 1e-6; distances within 1e-5 relative (1e-6 for part e).
// rvf-node (0.2.3) API used: RvfDatabase.create(path, {dimension, metric: 'l2'|'cosine'|
// 'inner_product'}), .open(path), .openReadonly(path); db.ingestBatch(Float32Array flat, ids),
// db.query(Float32Array, k, {efSearch}) -> [{id, distance}], db.delete(ids) -> {deleted, epoch},
// db.status() -> {totalVectors, currentEpoch, ...}, db.fileId()/parentId() (hex),
// db.lineageDepth(), db.metric(), db.dimension(), db.close(); a held lock throws an Error whose
// message is "RVF error 0x0300: LockHeld".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, openCollection, recoverCollection } from '../../web/index.js';
import { rejectsWith, mulberry32 } from './helpers.js';
import { SEG, readState } from './fixtures/interop-rvf-reader.js';

const { RvfDatabase } = createRequire(import.meta.url)('@ruvector/rvf-node');
const here = path.dirname(fileURLToPath(import.meta.url));
const GOLDEN = path.join(here, '../golden/rvf');
const EXPECTED = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'expected.json'), 'utf8'));
const RVF_METRIC = { euclidean: 'l2', cosine: 'cosine', dotProduct: 'inner_product' };
const OUR_METRIC = { l2: 'euclidean', cosine: 'cosine', inner_product: 'dotProduct' };
let dir;

before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-interop-api-')); });
after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

// ---- oracle and comparisons ----------------------------------------------------------------------
const randVec = (rnd, dim) => Float32Array.from({ length: dim }, () => Math.fround(rnd() * 2 - 1));

/** Distance in rvf-node's units (L2 squared, -dot, 1 - cos), float64. */
function rvfDist(metric, q, v) {
  let dot = 0, nq = 0, nv = 0, l2 = 0;
  for (let j = 0; j < q.length; j++) {
    dot += q[j] * v[j]; nq += q[j] * q[j]; nv += v[j] * v[j]; l2 += (q[j] - v[j]) ** 2;
  }
  if (metric === 'euclidean') return l2;
  if (metric === 'dotProduct') return -dot;
  return 1 - dot / Math.sqrt(nq * nv);
}

/** Exact top-k of a Map id -> vector, [[id, distance]] in rvf-node units. */
function oracleTop(metric, q, rows, k = 10) {
  return [...rows].map(([id, v]) => [id, rvfDist(metric, q, v)])
    .sort((a, b) => a[1] - b[1]).slice(0, k);
}

/** veclite hits -> [[id, distance in rvf-node units]]. */
const fromVeclite = (metric, hits) => hits.map((h) => [h.id, metric === 'euclidean' ? h.distance * h.distance : h.distance]);
/** rvf-node hits -> [[id, distance]]. */
const fromRvf = (hits) => hits.map((h) => [h.id, h.distance]);

/**
 * got equals want up to float rounding: same length; distance at each rank within `rel`
 * (relative, floor 0.1); ids distinct; ids equal as sets inside every run of tied distances
 * (within 1e-6) that ends before the last rank; and, when `distOf` is given, each returned id
 * really lies at the distance reported for it.
 */
function assertSameTop(got, want, why, { rel = 1e-5, distOf } = {}) {
  assert.equal(got.length, want.length, `${why}: result count`);
  const tol = (d) => rel * Math.max(Math.abs(d), 0.1);
  assert.equal(new Set(got.map((g) => String(g[0]))).size, got.length, `${why}: duplicate ids in ${JSON.stringify(got)}`);
  for (let r = 0; r < want.length; r++) {
    assert.ok(Math.abs(got[r][1] - want[r][1]) <= tol(want[r][1]),
      `${why}: rank ${r} distance ${got[r][1]} vs ${want[r][1]} (got ${JSON.stringify(got)}, want ${JSON.stringify(want)})`);
    if (distOf) {
      const d = distOf(got[r][0]);
      assert.ok(d !== undefined, `${why}: rank ${r} id ${got[r][0]} is not a live row`);
      assert.ok(Math.abs(d - got[r][1]) <= tol(d), `${why}: id ${got[r][0]} reported at ${got[r][1]}, really at ${d}`);
    }
  }
  const tie = (a, b) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a));
  for (let s = 0; s < want.length;) {
    let e = s + 1;
    while (e < want.length && tie(want[e][1], want[e - 1][1])) e++;
    if (e < want.length) {
      const g = got.slice(s, e).map((x) => String(x[0])).sort();
      const w = want.slice(s, e).map((x) => String(x[0])).sort();
      assert.deepEqual(g, w, `${why}: ids at ranks ${s}..${e - 1}`);
    }
    s = e;
  }
}

/** Copy a golden file into the temp dir (tests never touch tests/golden). */
function golden(name) {
  const e = EXPECTED[name];
  if (e?.branchParent) return goldenBranch(name).child; // its parent must sit beside it, under its own name
  const f = path.join(dir, `golden-${name}`);
  fs.copyFileSync(path.join(GOLDEN, name), f);
  fs.chmodSync(f, 0o644);
  return f;
}

/** A fresh directory holding a branch() child golden and its parent, under their own names. */
function goldenBranch(name) {
  const d = fs.mkdtempSync(path.join(dir, 'branch-'));
  const out = {};
  for (const [k, n] of [['child', name], ['parent', EXPECTED[name].branchParent]]) {
    out[k] = path.join(d, n);
    fs.copyFileSync(path.join(GOLDEN, n), out[k]);
    fs.chmodSync(out[k], 0o644);
  }
  return out;
}

/**
 * The rows a branch() child shows, from the bytes on disk (independent reader): the parent's live
 * rows the child's newest MEMBERSHIP bitmap keeps, overridden by the child's own live rows.
 */
function branchRows(childFile, parentFile) {
  const c = readState(fs.readFileSync(childFile));
  const p = readState(fs.readFileSync(parentFile));
  const bytes = fs.readFileSync(childFile);
  const mem = c.manifest.dir.filter((e) => e.type === 0x22).at(-1); // MEMBERSHIP
  const at = mem.offset + 64;
  const vc = bytes.readBigUInt64LE(at + 8);
  const live = new Map();
  for (const [id, v] of p.live) {
    if (id < vc && (bytes.readBigUInt64LE(at + 96 + Number(id / 64n) * 8) >> (id % 64n)) & 1n) live.set(Number(id), v);
  }
  for (const [id, v] of c.live) live.set(Number(id), v);
  return live;
}

/** Open with rvf-node read-only, run fn, always close. */
function withRvf(file, fn, { write = false } = {}) {
  const db = write ? RvfDatabase.open(file) : RvfDatabase.openReadonly(file);
  try { return fn(db); } finally { db.close(); }
}

/**
 * rvf-node reads `file` as holding exactly `rows` (id -> vector; keys are rvf-node ids) with the
 * given identity, and its top-10 equals the oracle's.
 */
function assertRvfReads(file, { rows, metric, dim, queries, fileId, epoch, parentId, depth }, why) {
  withRvf(file, (db) => {
    assert.equal(db.dimension(), dim, `${why}: dimension`);
    assert.equal(db.metric(), RVF_METRIC[metric], `${why}: metric`);
    const st = db.status();
    assert.equal(st.totalVectors, rows.size, `${why}: rvf-node live count`);
    if (fileId !== undefined) assert.equal(db.fileId(), fileId, `${why}: fileId`);
    if (epoch !== undefined) assert.equal(st.currentEpoch, epoch, `${why}: epoch`);
    if (parentId !== undefined) assert.equal(db.parentId(), parentId, `${why}: parentId`);
    if (depth !== undefined) assert.equal(db.lineageDepth(), depth, `${why}: lineageDepth`);
    if (rows.size <= 1000) {
      // every live id, through rvf-node's own search
      const all = db.query(queries[0], rows.size, { efSearch: Math.max(100, rows.size) });
      assert.deepEqual(all.map((h) => h.id).sort((a, b) => a - b), [...rows.keys()].sort((a, b) => a - b), `${why}: live ids`);
    }
    for (const [i, q] of queries.entries()) {
      assertSameTop(fromRvf(db.query(q, 10)), oracleTop(metric, q, rows), `${why}: rvf-node query ${i}`,
        { distOf: (id) => (rows.has(id) ? rvfDist(metric, q, rows.get(id)) : undefined) });
    }
  });
}

/** veclite (reopened read-only) answers the oracle's top-10 with `rows` (keys are veclite ids). */
async function assertVecliteReads(file, { rows, metric, queries }, why) {
  const col = await openCollection(file, { readOnly: true });
  try {
    assert.equal(await col.count(), rows.size, `${why}: veclite count`);
    for (const [i, q] of queries.entries()) {
      const hits = await col.search(q, { k: 10, ef: 256 });
      assertSameTop(fromVeclite(metric, hits), oracleTop(metric, q, rows), `${why}: veclite query ${i}`,
        { distOf: (id) => (rows.has(id) ? rvfDist(metric, q, rows.get(id)) : undefined) });
    }
    return await col.status();
  } finally { await col.close(); }
}

// ---- a. golden files ------------------------------------------------------------------------------

for (const [name, e] of Object.entries(EXPECTED)) {
  test(`golden ${name} opens read-only with rvf-node's count, epoch, metric, lineage and top-10`, { timeout: 30_000 }, async () => {
    const f = golden(name);
    const disk = readState(fs.readFileSync(f));
    if (name === 'torn.rvf') assert.ok(fs.statSync(f).size > disk.committedEnd, 'torn.rvf has a torn tail');
    const col = await openCollection(f, { readOnly: true });
    try {
      const metric = OUR_METRIC[e.metric];
      // a branch() child counts what rvf-node's queries see (parent + child rows), while rvf-node's
      // status().totalVectors (liveVectors) counts the child's own rows only
      const count = e.branchParent ? e.visibleIds.length : e.liveVectors;
      assert.equal(await col.count(), count, 'count');
      const st = await col.status();
      assert.equal(st.readOnly, true);
      assert.equal(st.count, count, 'status().count');
      assert.equal(st.epoch, e.epoch, 'epoch');
      assert.equal(st.metric, metric, 'metric');
      assert.equal(st.dimension, e.dimension, 'dimension');
      assert.equal(st.fileId, e.fileId, 'fileId');
      assert.equal(st.parentId, e.parentId, 'parentId');
      assert.equal(st.lineageDepth, e.lineageDepth, 'lineageDepth');
      const live = e.branchParent ? branchRows(f, path.join(path.dirname(f), e.branchParent))
        : new Map([...disk.live].map(([id, v]) => [Number(id), v]));
      if (e.branchParent) assert.deepEqual([...live.keys()].sort((a, b) => a - b), e.visibleIds, 'visible ids (disk)');
      if (e.dimension === 0) assert.deepEqual(await col.search([1, 2, 3]), [], 'a dimension-0 store answers []');
      for (const [i, q32] of e.queries.entries()) {
        const q = Float32Array.from(q32);
        const hits = await col.search(q, { k: 10, ef: 256 });
        assertSameTop(fromVeclite(metric, hits), e.top10[i], `${name} query ${i}`,
          { distOf: (id) => (live.has(id) ? rvfDist(metric, q, live.get(id)) : undefined) });
      }
    } finally { await col.close(); }
    // a read-only open writes nothing (nor to a branch child's parent)
    assert.deepEqual(fs.readFileSync(f), fs.readFileSync(path.join(GOLDEN, name)));
    if (e.branchParent) {
      assert.deepEqual(fs.readFileSync(path.join(path.dirname(f), e.branchParent)), fs.readFileSync(path.join(GOLDEN, e.branchParent)));
    }
    assert.equal(fs.existsSync(`${f}.lock`), false);
  });
}

// ---- b. veclite writes, rvf-node reads -----------------------------------------------------------

/** Insert n seeded rows (numeric ids from `from`) in batches; returns the rows. */
async function fill(col, rnd, dim, n, from = 0, batch = 500) {
  const rows = new Map();
  for (let s = 0; s < n; s += batch) {
    const items = [];
    for (let i = s; i < Math.min(n, s + batch); i++) {
      const v = randVec(rnd, dim);
      rows.set(from + i, v);
      items.push({ id: from + i, vector: v });
    }
    await col.insertBatch(items);
  }
  return rows;
}

for (const metric of ['euclidean', 'cosine', 'dotProduct']) {
  test(`veclite writes a ${metric} store (createDatabase({path})); rvf-node reads the same ids and top-10`, { timeout: 60_000 }, async () => {
    const rnd = mulberry32(metric.length * 101);
    const dim = 16;
    const base = path.join(dir, `db-${metric}`);
    const db = await createDatabase({ path: base });
    const col = await db.createCollection('vecs', { dimension: dim, metric, index: { type: 'hnsw', m: 12, efConstruction: 100, seed: 3 } });
    const rows = await fill(col, rnd, dim, 600, 10, 250);
    await db.close();
    const file = path.join(base, 'vecs.rvf');
    assert.ok(fs.existsSync(file), 'vecs.rvf exists');
    assert.equal(fs.existsSync(`${file}.lock`), false, 'lock released by close');
    const queries = Array.from({ length: 6 }, () => randVec(rnd, dim));
    const st = await assertVecliteReads(file, { rows, metric, queries }, metric);
    assertRvfReads(file, { rows, metric, dim, queries, fileId: st.fileId, epoch: st.epoch, depth: 0, parentId: '0'.repeat(32) }, metric);
  });
}

test('veclite deletes, then compacts; rvf-node reads both files', { timeout: 60_000 }, async () => {
  const rnd = mulberry32(77);
  const dim = 8;
  const file = path.join(dir, 'deletes.rvf');
  const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean', index: { type: 'hnsw', m: 8, efConstruction: 64 } } });
  const rows = await fill(col, rnd, dim, 400, 1000, 200);
  const dead = Array.from({ length: 40 }, (_, i) => 1000 + 9 * i);
  assert.equal(await col.delete(dead.slice(0, 20)), 20);
  assert.equal(await col.delete([...dead.slice(20), 999999]), 20);
  assert.equal(await col.delete(1000), false);
  dead.forEach((id) => rows.delete(id));
  const queries = Array.from({ length: 5 }, () => randVec(rnd, dim));
  const before = await col.status();
  assert.equal(before.count, rows.size);
  await col.close();
  const copy = path.join(dir, 'deletes-uncompacted.rvf');
  fs.copyFileSync(file, copy);
  const st1 = await assertVecliteReads(copy, { rows, metric: 'euclidean', queries }, 'deletes');
  assertRvfReads(copy, { rows, metric: 'euclidean', dim, queries, fileId: st1.fileId, epoch: st1.epoch }, 'deletes');

  const w = await openCollection(file);
  const { bytesBefore, bytesAfter } = await w.compact();
  assert.ok(bytesAfter < bytesBefore, `compact: ${bytesBefore} -> ${bytesAfter}`);
  const cst = await w.status();
  assert.equal(cst.deleted, 0, 'no dead rows after compact');
  await w.close();
  const st2 = await assertVecliteReads(file, { rows, metric: 'euclidean', queries }, 'compacted');
  assert.equal(st2.fileId, st1.fileId, 'compaction keeps the file id');
  assertRvfReads(file, { rows, metric: 'euclidean', dim, queries, fileId: st2.fileId, epoch: st2.epoch }, 'compacted');
  const disk = readState(fs.readFileSync(file));
  assert.equal(disk.manifest.deleted.length, 0, 'compacted manifest has no deleted list');
  assert.equal(disk.rows.size, rows.size, 'compacted file holds only live rows');
});

test('veclite derive(): rvf-node reads the child with its lineage', { timeout: 30_000 }, async () => {
  const rnd = mulberry32(5);
  const dim = 8;
  const pfile = path.join(dir, 'parent.rvf');
  const cfile = path.join(dir, 'child.rvf');
  const parent = await openCollection(pfile, { create: { dimension: dim, metric: 'cosine', index: { type: 'flat' } } });
  const prows = await fill(parent, rnd, dim, 100, 1);
  const pst = await parent.status();
  const child = await parent.derive(cfile);
  const c0 = await child.status();
  assert.equal(c0.parentId, pst.fileId);
  assert.equal(c0.lineageDepth, 1);
  assert.notEqual(c0.fileId, pst.fileId);
  assert.equal(c0.count, 0);
  const crows = await fill(child, rnd, dim, 30, 500);
  await child.close();
  await parent.close();
  const queries = Array.from({ length: 4 }, () => randVec(rnd, dim));
  const cst = await assertVecliteReads(cfile, { rows: crows, metric: 'cosine', queries }, 'child');
  assertRvfReads(cfile, { rows: crows, metric: 'cosine', dim, queries, fileId: c0.fileId, parentId: pst.fileId, depth: 1, epoch: cst.epoch }, 'child');
  assertRvfReads(pfile, { rows: prows, metric: 'cosine', dim, queries, fileId: pst.fileId, depth: 0 }, 'parent');
  // and a grandchild derived by rvf-node from veclite's child
  const gfile = path.join(dir, 'grandchild.rvf');
  withRvf(cfile, (db) => { db.derive(gfile).close(); }, { write: true });
  const g = await openCollection(gfile, { readOnly: true });
  try {
    const gs = await g.status();
    assert.equal(gs.parentId, c0.fileId);
    assert.equal(gs.lineageDepth, 2);
    assert.equal(gs.count, 0);
  } finally { await g.close(); }
});

test('veclite metadata + string ids: rvf-node reads the rows; veclite keeps ids and metadata', { timeout: 30_000 }, async () => {
  const rnd = mulberry32(11);
  const dim = 8;
  const file = path.join(dir, 'strings.rvf');
  const col = await openCollection(file, { create: { dimension: dim, metric: 'cosine', index: { type: 'hnsw', m: 8, efConstruction: 64 } } });
  const rows = new Map();
  const meta = new Map();
  const items = [];
  for (let i = 0; i < 200; i++) {
    const id = `doc-${i}`;
    const v = randVec(rnd, dim);
    const m = { title: `Title ${i}`, n: i, even: i % 2 === 0, tags: ['a', i % 3], nested: { x: i / 4 }, none: null };
    rows.set(id, v); meta.set(id, m);
    items.push({ id, vector: v, metadata: m });
  }
  await col.insertBatch(items.slice(0, 120));
  await col.insertBatch(items.slice(120));
  await col.update('doc-7', { metadata: { title: 'changed' } });
  meta.set('doc-7', { title: 'changed' });
  assert.equal(await col.delete('doc-9'), true);
  rows.delete('doc-9'); meta.delete('doc-9');
  const st = await col.status();
  await col.close();

  const disk = readState(fs.readFileSync(file));
  assert.ok(disk.manifest.dir.some((s) => s.type === SEG.META), 'a META segment is in the committed directory');
  // rvf-node sees internal u64 ids: the on-disk live rows are exactly our vectors, and rvf-node's
  // top-10 lies at the oracle's distances
  const key = (v) => Array.from(v).join(',');
  assert.deepEqual([...disk.live.values()].map(key).sort(), [...rows.values()].map(key).sort(), 'on-disk live vectors');
  const internal = new Map([...disk.live].map(([id, v]) => [Number(id), v]));
  const queries = Array.from({ length: 5 }, () => randVec(rnd, dim));
  const st2 = await assertVecliteReads(file, { rows, metric: 'cosine', queries }, 'string ids');
  assert.equal(st2.fileId, st.fileId);
  assertRvfReads(file, { rows: internal, metric: 'cosine', dim, queries, fileId: st.fileId, epoch: st2.epoch }, 'string ids');
  const ro = await openCollection(file, { readOnly: true });
  try {
    for (const id of ['doc-0', 'doc-7', 'doc-8', 'doc-199']) {
      const got = await ro.get(id);
      assert.equal(got.id, id);
      assert.deepEqual(got.metadata, meta.get(id), `metadata of ${id}`);
      assert.deepEqual(Array.from(got.vector), Array.from(rows.get(id)));
    }
    assert.equal(await ro.get('doc-9'), null);
    const hits = await ro.search(queries[0], { k: 5, filter: { even: true } });
    assert.ok(hits.length === 5 && hits.every((h) => meta.get(h.id).even === true), 'filter over persisted metadata');
  } finally { await ro.close(); }
});

test('a 10,000-vector HNSW store closed with its graph: veclite reloads the graph; rvf-node reads it', { timeout: 120_000 }, async () => {
  const rnd = mulberry32(10_000);
  const dim = 16;
  const file = path.join(dir, 'big.rvf');
  const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean', index: { type: 'hnsw', m: 12, efConstruction: 80, seed: 9 } } });
  const rows = await fill(col, rnd, dim, 10_000, 0, 2_000);
  await col.close();
  const disk = readState(fs.readFileSync(file));
  assert.ok(disk.manifest.dir.some((s) => s.type === SEG.INDEX), 'an INDEX segment is in the committed directory');
  assert.equal(disk.live.size, 10_000);
  const queries = Array.from({ length: 5 }, () => randVec(rnd, dim));
  const ro = await openCollection(file, { readOnly: true });
  let st;
  try {
    st = await ro.status();
    assert.equal(st.indexLoaded, true, 'graph loaded from the INDEX segment, not rebuilt');
    for (const [i, q] of queries.entries()) {
      const hits = await ro.search(q, { k: 10, ef: 400 });
      assertSameTop(fromVeclite('euclidean', hits), oracleTop('euclidean', q, rows), `veclite query ${i}`,
        { distOf: (id) => rvfDist('euclidean', q, rows.get(id)) });
    }
  } finally { await ro.close(); }
  assertRvfReads(file, { rows, metric: 'euclidean', dim, queries, fileId: st.fileId, epoch: st.epoch }, '10k HNSW');
});

// ---- c. rvf-node appends to a veclite file ---------------------------------------------------------

test('rvf-node appends to a veclite file: veclite sees its rows and deletes; veclite metadata survives', { timeout: 30_000 }, async () => {
  const rnd = mulberry32(3);
  const dim = 8;
  const base = path.join(dir, 'append-db');
  const db = await createDatabase({ path: base });
  const col = await db.createCollection('c', { dimension: dim, metric: 'euclidean', index: { type: 'hnsw', m: 8, efConstruction: 64 } });
  const rows = new Map();
  const meta = new Map();
  const items = [];
  for (let i = 1; i <= 100; i++) {
    const v = randVec(rnd, dim);
    const m = { group: i % 2 ? 'odd' : 'even', i, label: `row ${i}` };
    rows.set(i, v); meta.set(i, m);
    items.push({ id: i, vector: v, metadata: m });
  }
  await col.insertBatch(items);
  await col.delete([2, 4]);
  [2, 4].forEach((id) => { rows.delete(id); meta.delete(id); });
  await db.close();
  const file = path.join(base, 'c.rvf');

  // rvf-node: open for write, ingest a batch, delete one of its own and one of ours, close
  const theirs = Array.from({ length: 10 }, (_, i) => 5000 + i);
  const tv = theirs.map(() => randVec(rnd, dim));
  withRvf(file, (r) => {
    assert.equal(r.status().totalVectors, 98);
    const res = r.ingestBatch(Float32Array.from(tv.flatMap((v) => Array.from(v))), theirs);
    assert.equal(res.accepted, 10);
    assert.equal(r.delete([5003, 7]).deleted, 2);
  }, { write: true });
  theirs.forEach((id, i) => rows.set(id, tv[i]));
  rows.delete(5003); rows.delete(7); meta.delete(7);
  const after = readState(fs.readFileSync(file));
  assert.ok(after.manifest.dir.some((s) => s.type === SEG.META), "rvf-node's manifest still lists veclite's META segments");
  assert.equal(after.live.size, rows.size, "independent reader after rvf-node's commit");

  const db2 = await createDatabase({ path: base });
  const c2 = await db2.getCollection('c');
  try {
    assert.equal(await c2.count(), rows.size, 'count after rvf-node commit');
    assert.equal(await c2.get(7), null, 'rvf-node deleted our id 7');
    assert.equal(await c2.get(5003), null, 'rvf-node deleted its id 5003');
    const r0 = await c2.get(5000);
    assert.ok(r0, "rvf-node's row 5000");
    assert.deepEqual(Array.from(r0.vector), Array.from(rows.get(5000)));
    assert.equal(metaOrNull(r0.metadata), null, "rvf-node's rows have no metadata");
    for (const id of [1, 3, 50, 100]) {
      const got = await c2.get(id);
      assert.ok(got, `our id ${id}`);
      assert.deepEqual(got.metadata, meta.get(id), `metadata of our id ${id} survived rvf-node's commit`);
    }
    const q = randVec(rnd, dim);
    const odd = await c2.search(q, { k: 10, filter: { group: 'odd' } });
    const oddRows = new Map([...rows].filter(([id]) => meta.get(id)?.group === 'odd'));
    assertSameTop(fromVeclite('euclidean', odd), oracleTop('euclidean', q, oddRows), 'filtered search after rvf-node commit');
    assertSameTop(fromVeclite('euclidean', await c2.search(q, { k: 10, ef: 256 })), oracleTop('euclidean', q, rows), 'search after rvf-node commit');
    // rvf-node 0.2.x restarts the witness chain in every session (docs/format.md §4), so the only
    // problem verify() may report now is the chain; the data itself must check out
    const v = await c2.verify();
    assert.deepEqual(v.problems.filter((p) => !/witness/i.test(p)), [], v.problems.join('; '));
    // veclite writes again after rvf-node
    await c2.insert({ id: 6000, vector: randVec(rnd, dim), metadata: { group: 'late' } });
    meta.set(6000, { group: 'late' });
    rows.set(6000, (await c2.get(6000)).vector);
  } finally { await db2.close(); }
  const ro = await openCollection(file, { readOnly: true });
  try {
    assert.equal(await ro.count(), rows.size);
    assert.deepEqual((await ro.get(6000)).metadata, { group: 'late' });
    assert.deepEqual((await ro.get(1)).metadata, meta.get(1), 'metadata survives the next veclite commit too');
  } finally { await ro.close(); }
  withRvf(file, (r) => assert.equal(r.status().totalVectors, rows.size));
});

test('rvf-node commits to a veclite string-id file: string ids and metadata survive', { timeout: 30_000 }, async () => {
  const rnd = mulberry32(4);
  const dim = 8;
  const file = path.join(dir, 'append-strings.rvf');
  const col = await openCollection(file, { create: { dimension: dim, metric: 'cosine', index: { type: 'flat' } } });
  const rows = new Map();
  const items = [];
  for (let i = 0; i < 50; i++) {
    const v = randVec(rnd, dim);
    rows.set(`s${i}`, v);
    items.push({ id: `s${i}`, vector: v, metadata: { i, word: `w${i}` } });
  }
  await col.insertBatch(items);
  await col.close();
  // rvf-node finds the internal id of s3 by its vector and deletes it
  withRvf(file, (r) => {
    const [hit] = r.query(rows.get('s3'), 1);
    assert.ok(hit.distance < 1e-6);
    assert.equal(r.delete([hit.id]).deleted, 1);
  }, { write: true });
  rows.delete('s3');
  const c = await openCollection(file);
  try {
    assert.equal(await c.count(), 49);
    assert.equal(await c.get('s3'), null);
    for (const i of [0, 4, 49]) {
      const got = await c.get(`s${i}`);
      assert.ok(got, `s${i} survives`);
      assert.deepEqual(got.metadata, { i, word: `w${i}` });
    }
    const q = randVec(rnd, dim);
    const hits = await c.search(q, { k: 10 });
    assertSameTop(fromVeclite('cosine', hits), oracleTop('cosine', q, rows), 'string ids after rvf-node commit');
    // and veclite can still write string ids after rvf-node's commit
    await c.insert({ id: 's-new', vector: randVec(rnd, dim), metadata: { i: -1 } });
    assert.deepEqual((await c.get('s-new')).metadata, { i: -1 });
    assert.equal(await c.count(), 50);
  } finally { await c.close(); }
});

test('rvf-node compacts a veclite file: veclite keeps its rows, string ids and metadata', { timeout: 30_000 }, async () => {
  const rnd = mulberry32(8);
  const dim = 8;
  const file = path.join(dir, 'rvf-compacted.rvf');
  const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean', index: { type: 'hnsw', m: 8, efConstruction: 32 } } });
  const rows = new Map();
  const items = [];
  for (let i = 0; i < 60; i++) {
    const v = randVec(rnd, dim);
    rows.set(`k${i}`, v);
    items.push({ id: `k${i}`, vector: v, metadata: { i, odd: i % 2 === 1 } });
  }
  await col.insertBatch(items);
  const gone = ['k1', 'k2', 'k30'];
  assert.equal(await col.delete(gone), 3);
  gone.forEach((id) => rows.delete(id));
  await col.close();
  const res = withRvf(file, (r) => r.compact(), { write: true });
  assert.ok(res.bytesReclaimed > 0, `rvf-node compact: ${JSON.stringify(res)}`);
  const disk = readState(fs.readFileSync(file));
  assert.equal(disk.rows.size, rows.size, "rvf-node's compaction dropped the dead rows");
  const c = await openCollection(file);
  try {
    assert.equal(await c.count(), rows.size);
    for (const id of gone) assert.equal(await c.get(id), null, `${id} stays deleted`);
    for (const i of [0, 3, 59]) assert.deepEqual((await c.get(`k${i}`)).metadata, { i, odd: i % 2 === 1 }, `metadata of k${i}`);
    const q = randVec(rnd, dim);
    assertSameTop(fromVeclite('euclidean', await c.search(q, { k: 10, filter: { odd: true } })),
      oracleTop('euclidean', q, new Map([...rows].filter(([id]) => Number(id.slice(1)) % 2 === 1))), 'filtered search after rvf-node compact');
    await c.insert({ id: 'k-new', vector: randVec(rnd, dim), metadata: { i: -1, odd: false } });
    assert.equal(await c.count(), rows.size + 1);
  } finally { await c.close(); }
});

test('rvf-node compacts a veclite file whose META is a snapshot and deltas: veclite opens it with every record, and its next META commit lists one snapshot', { timeout: 60_000 }, async () => {
  // rvf-node 0.2.3's compaction lists every META segment the file ever held (superseded deltas and
  // merged deltas over them, in file order); veclite once refused the result as a broken chain.
  const rnd = mulberry32(9);
  const dim = 4;
  const file = path.join(dir, 'rvf-compacted-deltas.rvf');
  const meta = new Map();
  const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean' } });
  const items = [];
  for (let i = 0; i < 400; i++) {
    meta.set(i, { i, tag: `t${i % 7}`, pad: 'x'.repeat(24) });
    items.push({ id: i, vector: randVec(rnd, dim), metadata: meta.get(i) });
  }
  await col.insertBatch(items);
  await col.close();
  const metaSegs = async (f) => {
    const r = await openCollection(f, { readOnly: true });
    try { return (await r.segments()).filter((s) => s.typeName === 'meta').length; } finally { await r.close(); }
  };
  // small commits in separate sessions: a delta each, merged into tiers, the snapshot left listed
  for (let k = 0; k < 6; k++) {
    const w = await openCollection(file);
    const id = (k * 37) % 400;
    meta.set(id, { i: id, tag: 'updated', k });
    await w.update(id, { metadata: meta.get(id) });
    meta.set(1000 + k, { i: 1000 + k, k });
    await w.insert({ id: 1000 + k, vector: randVec(rnd, dim), metadata: meta.get(1000 + k) });
    await w.close();
  }
  assert.ok(await metaSegs(file) >= 2, 'a snapshot and deltas are listed');
  withRvf(file, (r) => { r.delete([5]); r.compact(); }, { write: true });
  meta.delete(5);
  assert.ok(await metaSegs(file) > 6, 'rvf-node relisted superseded META');
  const check = async (c, what) => {
    assert.equal(await c.count(), meta.size, what);
    for (const [id, m] of meta) assert.deepEqual((await c.get(id))?.metadata, m, `${what}: metadata of ${id}`);
    assert.equal(await c.get(5), null, `${what}: 5 stays deleted`);
  };
  const ro = await openCollection(file, { readOnly: true });
  try {
    await check(ro, 'read-only open after rvf-node compact');
    // verify() finds no META problem (only rvf-node's restarted witness chain, which it always reports)
    const v = await ro.verify();
    assert.ok(v.problems.every((p) => /witness chain/.test(p)), JSON.stringify(v.problems));
  } finally { await ro.close(); }
  const w = await openCollection(file);
  try {
    await check(w, 'writer open');
    meta.set(7, { i: 7, tag: 'after' });
    await w.update(7, { metadata: meta.get(7) });
  } finally { await w.close(); }
  assert.equal(await metaSegs(file), 1, "the writer's next META commit is a snapshot that unlists the rest");
  const again = await openCollection(file, { readOnly: true });
  try { await check(again, 'reopen'); } finally { await again.close(); }
  withRvf(file, (r) => assert.equal(r.status().totalVectors, meta.size));
});

for (const quantization of ['scalar', 'product']) {
  test(`rvf-node replaces rows of a ${quantization}-quantized veclite file, then compacts: veclite encodes the new vectors (not the QUANT's stale codes)`, { timeout: 60_000 }, async () => {
    // rvf-node 0.2.3's compaction writes the rows from offset 0 and copies veclite's QUANT after
    // them, so "a code is used only for a row before the QUANT" no longer proves it is current:
    // veclite once searched rvf-node's new vectors by their old codes and missed them.
    const rnd = mulberry32(12);
    const dim = 16;
    const file = path.join(dir, `rvf-compacted-${quantization}.rvf`);
    const rows = new Map();
    const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean', quantization, index: { type: 'hnsw', m: 8, efConstruction: 64 } } });
    const items = [];
    for (let i = 0; i < 1500; i++) { const v = randVec(rnd, dim); rows.set(i, v); items.push({ id: i, vector: v }); }
    await col.insertBatch(items);
    await col.close();            // INDEX + QUANT (codes of all 1500 rows)
    const ids = Array.from({ length: 200 }, (_, i) => i * 7);
    const vs = ids.map(() => randVec(rnd, dim));
    withRvf(file, (r) => {
      assert.equal(r.ingestBatch(Float32Array.from(vs.flatMap((v) => Array.from(v))), ids).accepted, ids.length);
      r.compact();
    }, { write: true });
    ids.forEach((id, i) => rows.set(id, vs[i]));
    const c = await openCollection(file, { readOnly: true });
    try {
      assert.equal(await c.count(), rows.size);
      let found = 0;
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(Array.from((await c.get(id)).vector), Array.from(vs[i]), `row ${id} is rvf-node's`);
        const hits = await c.search(vs[i], { k: 10, ef: 200 });
        assertSameTop(fromVeclite('euclidean', hits).slice(0, 1), oracleTop('euclidean', vs[i], rows, 1), `query at row ${id}`,
          { distOf: (x) => (rows.has(x) ? rvfDist('euclidean', vs[i], rows.get(x)) : undefined) });
        if (hits[0]?.id === id) found++;
      }
      assert.equal(found, ids.length, 'each replaced row is its own nearest neighbour');
    } finally { await c.close(); }
  });
}

test('rvf-node deletes an id that has metadata; veclite re-inserts it without metadata: the old metadata stays gone after a reopen', { timeout: 30_000 }, async () => {
  // rvf-node's delete writes no META record, so the listed META still holds the deleted id's
  // record; veclite's re-insert without metadata once wrote no META and the reopen revived it.
  const rnd = mulberry32(13);
  const dim = 8;
  const file = path.join(dir, 'rvf-deleted-meta.rvf');
  const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean', text: { field: 't' } } });
  await col.insertBatch([1, 2, 3].map((id) => ({ id, vector: randVec(rnd, dim), metadata: { t: `word${id} shared` } })));
  await col.close();
  withRvf(file, (r) => assert.equal(r.delete([2]).deleted, 1), { write: true });
  const w = await openCollection(file);
  try {
    await w.insert({ id: 2, vector: randVec(rnd, dim) });
    assert.equal(metaOrNull((await w.get(2)).metadata), null, 'same session');
  } finally { await w.close(); }
  const ro = await openCollection(file, { readOnly: true });
  try {
    assert.equal(metaOrNull((await ro.get(2)).metadata), null, 'after a reopen');
    assert.deepEqual((await ro.get(1)).metadata, { t: 'word1 shared' });
    assert.deepEqual((await ro.search(null, { k: 10, text: 'shared' })).map((h) => h.id).sort(), [1, 3]);
  } finally { await ro.close(); }
});

test('a read-only handle of a quantized veclite file follows rvf-node delete + compact, then a veclite writer session: refresh() reloads and searches', { timeout: 60_000 }, async () => {
  // Each file replacement makes refresh() reload (a fresh open swapped into the handle); the
  // reloaded quantized index once kept reading rows through the temporary store it was opened
  // with, which the reload then closed: the next search failed ("reading float32 rows to
  // re-rank: not found") while a fresh open of the same file was fine.
  const rnd = mulberry32(14);
  const dim = 8;
  const file = path.join(dir, 'rvf-compacted-refresh.rvf');
  const rows = new Map();
  const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean', quantization: 'scalar', index: { type: 'hnsw', m: 8, efConstruction: 64 } } });
  const items = [];
  for (let i = 0; i < 1200; i++) { const v = randVec(rnd, dim); rows.set(i, v); items.push({ id: i, vector: v, metadata: { t: 'x' } }); }
  await col.insertBatch(items);
  await col.close();
  const ro = await openCollection(file, { readOnly: true });
  const searchAll = async (why) => {
    assert.equal(await ro.count(), rows.size, why);
    for (let i = 0; i < 10; i++) {
      const q = randVec(rnd, dim);
      assertSameTop(fromVeclite('euclidean', await ro.search(q, { k: 1, ef: 400 })), oracleTop('euclidean', q, rows, 1), `${why}: query ${i}`,
        { distOf: (id) => (rows.has(id) ? rvfDist('euclidean', q, rows.get(id)) : undefined) });
    }
  };
  try {
    withRvf(file, (r) => { r.delete([1, 2]); r.compact(); }, { write: true });
    rows.delete(1); rows.delete(2);
    await ro.refresh();
    await searchAll('after rvf-node compact');
    const w = await openCollection(file);   // its close writes the INDEX + QUANT rvf-node dropped
    await w.close();
    await ro.refresh();
    await searchAll('after a veclite writer session');
  } finally { await ro.close(); }
});

test('rvf-node ingests numeric ids into a string-id veclite store: every call says which rows and what to do, verify() lists them; rvf-node deleting them, or recoverCollection, gives the store back', { timeout: 30_000 }, async () => {
  const file = path.join(dir, 'strings-plus-numeric.rvf');
  const rnd = mulberry32(33);
  const rows = new Map([['s1', randVec(rnd, 4)], ['s2', randVec(rnd, 4)], ['s3', randVec(rnd, 4)]]);
  const col = await openCollection(file, { create: { dimension: 4, metric: 'euclidean' } });
  await col.insertBatch([...rows].map(([id, vector], i) => ({ id, vector, metadata: { i } })));
  await col.close();
  withRvf(file, (r) => r.ingestBatch(Float32Array.from([...randVec(rnd, 4), ...randVec(rnd, 4)]), [1000, 1001]), { write: true });
  const said = /mixes 3 string ids and 2 rows with only a numeric id \(1000, 1001\).*@ruvector\/rvf-node.*recoverCollection/;
  const w = await openCollection(file);
  try {
    await rejectsWith(() => w.get('s1'), 'ECORRUPT', said);
    await rejectsWith(() => w.search(rows.get('s1'), { k: 2 }), 'ECORRUPT', said);
    const v = await w.verify();
    assert.equal(v.ok, false);
    assert.ok(v.problems.some((p) => said.test(p)), JSON.stringify(v.problems));
  } finally { await w.close(); }
  // the first way out: recoverCollection salvages the string-id rows and names the others
  const out = path.join(dir, 'strings-recovered.rvf');
  const rep = await recoverCollection(file, out);
  assert.deepEqual(rep.lostRows.map((x) => x.id).sort(), [1000, 1001]);
  const rec = await openCollection(out, { readOnly: true });
  try { assert.deepEqual((await rec.ids()).ids.sort(), ['s1', 's2', 's3']); } finally { await rec.close(); }
  // the second: the tool that wrote them deletes them
  withRvf(file, (r) => r.delete([1000, 1001]), { write: true });
  const back = await openCollection(file);
  try {
    assert.deepEqual((await back.get('s2'))?.metadata, { i: 1 });
    const q = rows.get('s3');
    assert.deepEqual((await back.search(q, { k: 1 })).map((h) => h.id), ['s3']);
    assert.ok((await back.verify()).problems.every((p) => !/mixes/.test(p)));
  } finally { await back.close(); }
});

// ---- d. locks ----------------------------------------------------------------------------------------

test('writer locks hold both ways; read-only opens succeed meanwhile', { timeout: 30_000 }, async () => {
  const file = path.join(dir, 'locks.rvf');
  const w = await openCollection(file, { create: { dimension: 4, metric: 'euclidean', index: { type: 'flat' } } });
  await w.insert({ id: 1, vector: [1, 2, 3, 4] });
  try {
    assert.ok(fs.existsSync(`${file}.lock`), 'veclite writer holds <file>.lock');
    assert.throws(() => RvfDatabase.open(file), /LockHeld/, 'rvf-node writer open while veclite writes');
    withRvf(file, (r) => assert.equal(r.status().totalVectors, 1));
    const ro = await openCollection(file, { readOnly: true });
    assert.equal(await ro.count(), 1);
    await rejectsWith(() => ro.insert({ id: 2, vector: [1, 1, 1, 1] }), 'EREADONLY');
    await ro.close();
    await rejectsWith(() => openCollection(file), 'ELOCK');
  } finally { await w.close(); }
  assert.equal(fs.existsSync(`${file}.lock`), false, 'veclite close() removes its lock');

  const r = RvfDatabase.open(file);
  try {
    await rejectsWith(() => openCollection(file), 'ELOCK', new RegExp(String(process.pid)));
    const base = path.dirname(file);
    const db = await createDatabase({ path: base });
    await rejectsWith(() => db.getCollection('locks'), 'ELOCK');
    await db.close();
    const ro = await openCollection(file, { readOnly: true });
    assert.equal(await ro.count(), 1);
    await ro.close();
    withRvf(file, (x) => assert.equal(x.status().totalVectors, 1));
    r.ingestBatch(Float32Array.from([4, 3, 2, 1]), [2]);
  } finally { r.close(); }
  const again = await openCollection(file);
  try {
    assert.equal(await again.count(), 2, 'veclite writes after rvf-node released the lock');
  } finally { await again.close(); }
});

// ---- e. round trip (docs/api.md §9 failure mode 5, in Node) --------------------------------------------------

for (const metric of ['cosine', 'euclidean', 'dotProduct']) {
  test(`round trip ${metric}: veclite -> rvf-node -> rvf-node writes -> veclite, top-10 within 1e-6`, { timeout: 60_000 }, async () => {
    const rnd = mulberry32(500 + metric.length);
    const dim = 16;
    const file = path.join(dir, `trip-${metric}.rvf`);
    const col = await openCollection(file, { create: { dimension: dim, metric, index: { type: 'hnsw', m: 16, efConstruction: 100 } } });
    const rows = await fill(col, rnd, dim, 1000, 1, 500);
    await col.close();
    const queries = Array.from({ length: 8 }, () => randVec(rnd, dim));
    const distOf = (q) => (id) => (rows.has(id) ? rvfDist(metric, q, rows.get(id)) : undefined);
    const strict = { rel: 1e-6 };

    // veclite and rvf-node read the same file
    const ours1 = [];
    const ro = await openCollection(file, { readOnly: true });
    for (const q of queries) ours1.push(fromVeclite(metric, await ro.search(q, { k: 10, ef: 256 })));
    await ro.close();
    withRvf(file, (r) => queries.forEach((q, i) => {
      const theirs = fromRvf(r.query(q, 10));
      assertSameTop(theirs, oracleTop(metric, q, rows), `rvf-node query ${i}`, { distOf: distOf(q) });
      assertSameTop(ours1[i], theirs, `veclite vs rvf-node query ${i}`, strict);
    }));

    // rvf-node writes; veclite reads back
    const extra = Array.from({ length: 100 }, (_, i) => 2000 + i);
    const ev = extra.map(() => randVec(rnd, dim));
    withRvf(file, (r) => {
      r.ingestBatch(Float32Array.from(ev.flatMap((v) => Array.from(v))), extra);
      r.delete([1, 2, 3, 2000, 2001]);
    }, { write: true });
    extra.forEach((id, i) => rows.set(id, ev[i]));
    [1, 2, 3, 2000, 2001].forEach((id) => rows.delete(id));
    const theirs2 = withRvf(file, (r) => {
      assert.equal(r.status().totalVectors, rows.size);
      return queries.map((q) => fromRvf(r.query(q, 10)));
    });
    const back = await openCollection(file, { readOnly: true });
    try {
      assert.equal(await back.count(), rows.size);
      for (const [i, q] of queries.entries()) {
        const ours = fromVeclite(metric, await back.search(q, { k: 10, ef: 256 }));
        assertSameTop(ours, oracleTop(metric, q, rows), `veclite after rvf-node write, query ${i}`, { distOf: distOf(q) });
        assertSameTop(ours, theirs2[i], `veclite vs rvf-node after rvf-node write, query ${i}`, strict);
      }
    } finally { await back.close(); }
  });
}

/** Metadata as the API returns it for "none": null or {} both mean none. */
function metaOrNull(m) {
  return m && typeof m === 'object' && Object.keys(m).length > 0 ? m : null;
}

// ---- f. the two rvf-node shapes veclite once refused (tests/golden/rvf/README.md) --------------

test('dimension-0 store (rvf-node derive({dimension: 0})): opens empty; the first insert fixes the dimension; rvf-node reads it', { timeout: 30_000 }, async () => {
  const file = golden('dim0-empty.rvf');
  const ro = await openCollection(file, { readOnly: true });
  try {
    assert.equal(await ro.count(), 0);
    assert.equal(ro.dimension, 0);
    assert.equal((await ro.status()).dimension, 0);
    assert.deepEqual(await ro.search([0.5, 0.5]), []);
    assert.deepEqual(await ro.searchBatch([[1], [1, 2, 3]]), [[], []]);
  } finally { await ro.close(); }
  const rnd = mulberry32(61);
  const dim = 6;
  const col = await openCollection(file);
  let rows;
  try {
    // a first vector that cannot set it: EINVAL, nothing fixed
    await rejectsWith(() => col.insert({ id: 1, vector: [] }), 'EINVAL', /no dimension yet/);
    assert.equal(col.dimension, 0);
    rows = await fill(col, rnd, dim, 40, 100, 40);
    assert.equal(col.dimension, dim);
    await rejectsWith(() => col.insert({ id: 1, vector: randVec(rnd, dim + 1) }), 'EINVAL', /dimension 6/);
    await rejectsWith(() => col.search(randVec(rnd, 3)), 'EINVAL', /dimension 6/);
  } finally { await col.close(); }
  const queries = [randVec(rnd, dim), randVec(rnd, dim), rows.get(120)];
  // rvf-node: same ids and top-10; the file keeps rvf-node's identity (derived child, depth 1)
  const e = EXPECTED['dim0-empty.rvf'];
  assertRvfReads(file, { rows, metric: 'euclidean', dim, queries, fileId: e.fileId, parentId: e.parentId, depth: 1 }, 'dim0 after veclite insert');
  // rvf-node appends; veclite reads both
  const more = randVec(rnd, dim);
  withRvf(file, (r) => { r.ingestBatch(more, [999]); }, { write: true });
  rows.set(999, more);
  const back = await openCollection(file, { readOnly: true });
  try {
    assert.equal(back.dimension, dim);
    assert.equal(await back.count(), rows.size);
    for (const [i, q] of queries.entries()) {
      assertSameTop(fromVeclite('euclidean', await back.search(q, { k: 10, ef: 256 })), oracleTop('euclidean', q, rows), `dim0 reopened, query ${i}`);
    }
  } finally { await back.close(); }
});

/** Every id rvf-node's queries reach in a file, ascending, and its top-10 for each query. */
function rvfView(file, queries) {
  return withRvf(file, (r) => ({
    ids: r.query(queries[0], 1_000_000).map((h) => h.id).sort((a, b) => a - b),
    top: queries.map((q) => fromRvf(r.query(q, 10))),
    own: r.status().totalVectors,
  }));
}

/** veclite's view of the same file: ids ascending, count, top-10 (rvf-node units). */
async function vecliteView(file, queries) {
  const col = await openCollection(file, { readOnly: true });
  try {
    const n = await col.count();
    const all = await col.search(queries[0], { k: Math.max(1, n), ef: 1024 });
    return {
      count: n,
      ids: all.map((h) => Number(h.id)).sort((a, b) => a - b),
      top: await Promise.all(queries.map(async (q) => fromVeclite('euclidean', await col.search(q, { k: 10, ef: 256 })))),
    };
  } finally { await col.close(); }
}

async function assertSameView(file, queries, why) {
  const theirs = rvfView(file, queries);
  const ours = await vecliteView(file, queries);
  assert.deepEqual(ours.ids, theirs.ids, `${why}: visible ids`);
  assert.equal(ours.count, theirs.ids.length, `${why}: count = rows rvf-node's queries see`);
  for (const [i] of queries.entries()) assertSameTop(ours.top[i], theirs.top[i], `${why}: query ${i}`);
  return theirs;
}

test('branch() child: veclite sees parent + child as rvf-node does, writes go to the child, rvf-node reads them', { timeout: 60_000 }, async () => {
  const e = EXPECTED['branch-child.rvf'];
  const { child, parent } = goldenBranch('branch-child.rvf');
  const parentBytes = fs.readFileSync(parent);
  const queries = e.queries.map((q) => Float32Array.from(q));
  const v0 = await assertSameView(child, queries, 'golden child');
  assert.deepEqual(v0.ids, e.visibleIds);
  assert.equal(v0.own, e.liveVectors);

  // veclite writes: delete an inherited row and one of the child's, override an inherited row,
  // add a row; rvf-node sees exactly that, and the parent is not touched
  const rnd = mulberry32(62);
  const col = await openCollection(child);
  try {
    assert.equal(await col.delete(1030), true);
    assert.equal(await col.delete(5001), true);
    assert.equal(await col.delete(1003), false); // deleted in the parent before the branch
    await col.insert({ id: 1031, vector: queries[1] });
    await col.insert({ id: 7000, vector: randVec(rnd, 8) });
    assert.equal(await col.count(), e.visibleIds.length - 2 + 1);
  } finally { await col.close(); }
  const vc = await openCollection(child, { readOnly: true });
  try { assert.deepEqual((await vc.verify()).problems, [], 'verify of the child (parent beside it)'); } finally { await vc.close(); }
  const v1 = await assertSameView(child, queries, 'after veclite writes');
  assert.ok(!v1.ids.includes(1030) && !v1.ids.includes(5001) && v1.ids.includes(7000));
  assert.deepEqual(v1.top[1][0], [1031, 0], 'the override is the row rvf-node finds');
  assert.deepEqual(fs.readFileSync(parent), parentBytes, 'parent untouched');

  // rvf-node writes on top of veclite's commit (it keeps veclite's MEMBERSHIP); veclite follows
  withRvf(child, (r) => { r.delete([1040, 7000]); r.ingestBatch(randVec(rnd, 8), [8000]); }, { write: true });
  const v2 = await assertSameView(child, queries, 'after rvf-node writes on top');
  assert.ok(!v2.ids.includes(1040) && !v2.ids.includes(7000) && v2.ids.includes(8000));

  // compaction keeps the copy-on-write link: same view, still a child of the same parent
  const c2 = await openCollection(child);
  try { await c2.compact(); } finally { await c2.close(); }
  const v3 = await assertSameView(child, queries, 'after veclite compact');
  assert.deepEqual(v3.ids, v2.ids);
  withRvf(child, (r) => { assert.equal(r.parentId(), EXPECTED['branch-parent.rvf'].fileId); assert.equal(r.lineageDepth(), 1); });
  assert.deepEqual(fs.readFileSync(parent), parentBytes, 'parent untouched after compaction');

  // without its parent: ENOTFOUND naming the file looked for (file and bytes opens)
  fs.renameSync(parent, `${parent}.away`);
  try {
    await rejectsWith(() => openCollection(child, { readOnly: true }), 'ENOTFOUND', new RegExp(`parent ${parent.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    await rejectsWith(() => openCollection(child), 'ENOTFOUND', /branch-parent\.rvf/);
    await rejectsWith(() => openCollection(fs.readFileSync(child)), 'ENOTFOUND', /branch-parent\.rvf/);
    assert.equal(fs.existsSync(`${child}.lock`), false, 'a failed open leaves no lock');
  } finally { fs.renameSync(`${parent}.away`, parent); }
});

test('branch() child in another directory (rvf-node stores ../a/parent.rvf): veclite finds the parent; a changed parent is refused', { timeout: 30_000 }, async () => {
  const base = fs.mkdtempSync(path.join(dir, 'branch-dirs-'));
  fs.mkdirSync(path.join(base, 'a'));
  fs.mkdirSync(path.join(base, 'b'));
  const parent = path.join(base, 'a', 'parent.rvf');
  const child = path.join(base, 'b', 'child.rvf');
  const rnd = mulberry32(63);
  const p = RvfDatabase.create(parent, { dimension: 4, metric: 'l2' });
  const ids = Array.from({ length: 30 }, (_, i) => i + 1);
  p.ingestBatch(Float32Array.from(ids.flatMap(() => Array.from(randVec(rnd, 4)))), ids);
  const c = p.branch(child);
  p.close();
  c.delete([5]);
  c.ingestBatch(randVec(rnd, 4), [2]);
  c.close();
  const queries = [randVec(rnd, 4), randVec(rnd, 4)];
  const v = await assertSameView(child, queries, 'child in b/, parent in a/');
  assert.equal(v.ids.length, 29);
  // any change to the parent's last 64 KiB breaks the child for rvf-node and for veclite alike
  const w = RvfDatabase.open(parent);
  w.ingestBatch(randVec(rnd, 4), [100]);
  w.close();
  assert.throws(() => RvfDatabase.openReadonly(child), /ParentHashMismatch/);
  await rejectsWith(() => openCollection(child, { readOnly: true }), 'ECORRUPT', /changed after the child was branched/);
});
