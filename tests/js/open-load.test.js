// tests/js/open-load.test.js — opening a store whose graph is persisted (issue 10 item 1): the open
// copies each row from the file straight into its graph node, imports the INDEX as it is when
// every node has its row, repairs it when some do not (rows replaced after the INDEX), keeps
// deleted rows as routing nodes, and inserts the rows the INDEX does not cover. Whatever path a
// row takes, what the store answers must be exactly what was written.
//
// Oracles: a model of the rows written here (float32 vectors, metadata, string ids) and float64
// brute force over it (helpers.js) — never answers of the code under test. status().openCost is
// checked for its shape and for its phases fitting inside the total (arithmetic, not speed: no
// timing is asserted).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection } from '../../web/index.js';
import { BASE, QUERIES, DIM, bruteForce, assertExact } from './helpers.js';
import { sid, metaOf } from './fixtures/persist-common.js';

const HNSW = { type: 'hnsw', m: 12, efConstruction: 80, seed: 7 };
const WIDE_EF = 800; // > live rows' reach: exhaustive enough to compare with brute force
let dir;

before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-open-load-')); });
after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

/** Every live row of the model read back exactly; every removed id absent; top-10 exact. */
async function assertModel(col, model, removed) {
  assert.equal(await col.count(), model.size);
  const ids = [...model.keys()];
  const got = await col.getMany(ids);
  for (let j = 0; j < ids.length; j++) {
    const want = model.get(ids[j]);
    assert.ok(got[j], `id ${ids[j]} is missing`);
    assert.equal(got[j].id, ids[j]);
    assert.deepEqual(Array.from(got[j].vector), Array.from(Float32Array.from(BASE[want])), `vector of ${ids[j]}`);
    assert.deepEqual(got[j].metadata, metaOf(want), `metadata of ${ids[j]}`);
  }
  for (const id of removed) assert.equal(await col.get(id), null, `${id} was deleted`);
  const rows = ids.map((id) => BASE[model.get(id)]);
  const rowOfId = new Map(ids.map((id, j) => [id, j]));
  for (const q of QUERIES.slice(0, 8)) {
    const hits = await col.search(q, { k: 10, ef: WIDE_EF });
    assertExact(hits, bruteForce('euclidean', q, rows, 10), (id) => rowOfId.get(id), 'euclidean', q, rows);
  }
}

/** CRC-32/IEEE, bitwise (the oracle: independent of zlib and of the engine). */
function crc32(bytes) {
  let c = 0xFFFFFFFF;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xEDB88320 : c >>> 1;
  }
  return (c ^ 0xFFFFFFFF) >>> 0;
}

function assertOpenCost(st) {
  const c = st.openCost;
  const phases = ['readMs', 'verifyMs', 'idMapMs', 'rowsMs', 'graphMs', 'metadataMs'];
  assert.deepEqual(Object.keys(c).sort(), [...phases, 'totalMs'].sort());
  for (const k of [...phases, 'totalMs']) assert.ok(Number.isFinite(c[k]) && c[k] >= 0, `${k} = ${c[k]}`);
  const sum = phases.reduce((a, k) => a + c[k], 0);
  assert.ok(sum <= c.totalMs + 0.01, `phases ${sum} ms exceed the open's ${c.totalMs} ms`);
}

test('a persisted graph opens exact: rows into their nodes, replaced rows repaired, deletes kept as routing nodes, new rows inserted', async () => {
  const file = path.join(dir, 'g.rvf');
  const model = new Map();
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: HNSW } });
  for (let i = 0; i < 1500; i += 500) {
    const batch = [];
    for (let j = i; j < i + 500; j++) { batch.push({ id: sid(j), vector: BASE[j], metadata: metaOf(j) }); model.set(sid(j), j); }
    await w.insertBatch(batch);
  }
  await w.close();                                   // writes the INDEX: every row is covered

  const all = await openCollection(file, { readOnly: true });
  const st0 = await all.status();
  assert.equal(st0.indexLoaded, true);
  assert.equal(st0.rowsInsertedOnOpen, 0);
  assertOpenCost(st0);
  await assertModel(all, model, []);
  await all.close();

  // Commits after the INDEX, while the writer stays open (so no new INDEX is written): three
  // commits, which leave the file well under the size that compacts it on its own (a compaction
  // writes a covering INDEX; docs/api.md §6).
  const w2 = await openCollection(file);
  const replaced = [];
  for (let j = 0; j < 100; j++) {                    // replaced: their nodes lose their rows
    replaced.push({ id: sid(j), vector: BASE[1500 + j], metadata: metaOf(1500 + j) });
    model.set(sid(j), 1500 + j);
  }
  assert.equal(await w2.insertBatch(replaced), 100);
  const removed = [];
  for (let j = 100; j < 150; j++) { removed.push(sid(j)); model.delete(sid(j)); }
  assert.equal(await w2.delete(removed), removed.length);   // rows stay in the file: routing nodes
  const fresh = [];
  for (let j = 1600; j < 1700; j++) { fresh.push({ id: sid(j), vector: BASE[j], metadata: metaOf(j) }); model.set(sid(j), j); }
  await w2.insertBatch(fresh);

  assert.equal((await w2.status()).autoCompaction.runs, 0);
  const ro = await openCollection(file, { readOnly: true });
  const st = await ro.status();
  assert.equal(st.indexLoaded, true);
  assert.equal(st.rowsInsertedOnOpen, 200, 'the replaced and the new rows');
  assertOpenCost(st);
  await assertModel(ro, model, removed);
  await ro.close();
  await w2.close();

  const again = await openCollection(file, { readOnly: true });
  assert.equal((await again.status()).rowsInsertedOnOpen, 0, 'the close wrote a covering INDEX');
  await assertModel(again, model, removed);
  await again.close();
});

test('a memory collection reports no open cost', async () => {
  const db = await createDatabase();
  const col = await db.createCollection('m', { dimension: DIM, metric: 'euclidean' });
  const st = await col.status();
  assert.equal(st.persistent, false);
  assert.equal(st.openCost, null);
  await db.close();
});

test('a flipped byte in a listed payload is caught through the Node device (which hashes as it reads): VEC and META refuse the open, a damaged INDEX is rebuilt', async () => {
  const file = path.join(dir, 'flip.rvf');
  const model = new Map();
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: HNSW } });
  const batch = [];
  for (let j = 0; j < 300; j++) { batch.push({ id: sid(j), vector: BASE[j], metadata: metaOf(j) }); model.set(sid(j), j); }
  await w.insertBatch(batch);
  const segs = await w.segments();
  await w.close();
  const after = await openCollection(file, { readOnly: true });
  const listed = await after.segments();
  await after.close();
  assert.ok(segs.length > 0);
  const good = fs.readFileSync(file);
  const byType = (t) => listed.filter((x) => x.typeName === t).at(-1);
  for (const t of ['vec', 'meta', 'index']) {
    const seg = byType(t);
    assert.ok(seg, `a listed ${t} segment`);
    for (const at of [0, Math.floor(seg.length / 2), seg.length - 1]) {
      const bad = Buffer.from(good);
      bad[seg.offset + 64 + at] ^= 0x10;
      fs.writeFileSync(file, bad);
      if (t === 'index') {
        const col = await openCollection(file, { readOnly: true });
        assert.equal((await col.status()).indexLoaded, false, 'the damaged INDEX is not used');
        await assertModel(col, model, []);
        await col.close();
      } else {
        // byte 0 is also a parsed field (VEC dimension, META magic): refused either way
        await assert.rejects(openCollection(file, { readOnly: true }), (e) => e.code === 'ECORRUPT' && (at === 0 || /hash mismatch/.test(e.message)),
          `${t} byte ${at} flipped`);
      }
    }
  }
  fs.writeFileSync(file, good);
  const ok = await openCollection(file, { readOnly: true });
  assert.equal((await ok.status()).indexLoaded, true);
  await assertModel(ok, model, []);
  await ok.close();
});

test('a META payload whose SHA-256 digest is wrong under a correct CRC is refused (the digest is checked by the host hash in Node)', async () => {
  const file = path.join(dir, 'digest.rvf');
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: HNSW } });
  const batch = [];
  for (let j = 0; j < 2000; j++) batch.push({ id: sid(j), vector: BASE[j], metadata: metaOf(j) });
  await w.insertBatch(batch);
  await w.close();
  const ro = await openCollection(file, { readOnly: true });
  const meta = (await ro.segments()).filter((x) => x.typeName === 'meta').at(-1);
  await ro.close();
  assert.ok(meta.length >= 65536, `the META payload (${meta.length} B) is big enough for the host hash`);
  const bad = Buffer.from(fs.readFileSync(file));
  const pay = meta.offset + 64;
  bad[pay + meta.length - 1] ^= 0x01;                       // last byte of the digest
  const c = crc32(bad.subarray(pay, pay + meta.length));   // a CRC that matches again
  const rotl = (x, r) => ((x << r) | (x >>> (32 - r))) >>> 0;
  for (let k = 0; k < 4; k++) bad.writeUInt32LE(rotl(c, 8 * k), meta.offset + 0x28 + 4 * k);
  const badFile = path.join(dir, 'digest-bad.rvf');
  fs.writeFileSync(badFile, bad);
  await assert.rejects(openCollection(badFile, { readOnly: true }), (e) => e.code === 'ECORRUPT' && /SHA-256 mismatch/.test(e.message));
  const good = await openCollection(file, { readOnly: true });
  assert.deepEqual((await good.get(sid(1999))).metadata, metaOf(1999));
  await good.close();
});

test('rows written in no particular id order still land in their own graph nodes', async () => {
  const file = path.join(dir, 'shuffled.rvf');
  const order = Array.from({ length: 1200 }, (_, j) => j);
  let seed = 12345;
  for (let j = order.length - 1; j > 0; j--) {          // deterministic shuffle (LCG)
    seed = (seed * 1103515245 + 12345) >>> 0;
    const k = seed % (j + 1);
    [order[j], order[k]] = [order[k], order[j]];
  }
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: HNSW } });
  for (let i = 0; i < order.length; i += 400) {
    await w.insertBatch(order.slice(i, i + 400).map((j) => ({ id: 7 * j + 3, vector: BASE[j], metadata: metaOf(j) })));
  }
  await w.close();
  const ro = await openCollection(file, { readOnly: true });
  assert.equal((await ro.status()).indexLoaded, true);
  assert.equal((await ro.status()).rowsInsertedOnOpen, 0);
  const got = await ro.getMany(order.map((j) => 7 * j + 3));
  for (let i = 0; i < order.length; i++) {
    const j = order[i];
    assert.deepEqual(Array.from(got[i].vector), Array.from(Float32Array.from(BASE[j])), `vector of id ${7 * j + 3}`);
    assert.deepEqual(got[i].metadata, metaOf(j));
  }
  const rows = order.map((j) => BASE[j]);
  for (const q of QUERIES.slice(0, 5)) {
    const hits = await ro.search(q, { k: 10, ef: WIDE_EF });
    assertExact(hits, bruteForce('euclidean', q, rows, 10), (id) => order.indexOf((id - 3) / 7), 'euclidean', q, rows);
  }
  await ro.close();
});

test('a forged INDEX (valid hash, broken node lists) that every row covers is rejected by the in-place graph decode: the graph is rebuilt, answers exact', async () => {
  const file = path.join(dir, 'forged.rvf');
  const model = new Map();
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: HNSW } });
  const batch = [];
  for (let j = 0; j < 600; j++) { batch.push({ id: sid(j), vector: BASE[j], metadata: metaOf(j) }); model.set(sid(j), j); }
  await w.insertBatch(batch);
  await w.close();                                   // the INDEX covers every row: the in-place path
  const ro = await openCollection(file, { readOnly: true });
  const idx = (await ro.segments()).filter((x) => x.typeName === 'index').at(-1);
  assert.equal((await ro.status()).indexLoaded, true);
  await ro.close();
  const good = fs.readFileSync(file);
  const pay = idx.offset + 64;
  const cnt = good.readUInt32LE(pay + 68);           // restart table entries
  const ds = Math.ceil((72 + 4 * cnt) / 64) * 64;    // node data start (docs/format.md §4)
  const forgeries = {
    'node 0 has layer count 0': (b) => { b[pay + ds] = 0; },
    'node 0 has layer count 127': (b) => { b[pay + ds] = 127; },
    'truncated varints in the node lists': (b) => b.fill(0xff, pay + ds + 40, pay + ds + 48),
    'a link of node 0 points to node 0': (b) => { b[pay + ds + 2] = 0; },  // restart node: absolute ordinals
  };
  for (const [what, forge] of Object.entries(forgeries)) {
    const bad = Buffer.from(good);
    forge(bad);
    const c = crc32(bad.subarray(pay, pay + idx.length));
    const rotl = (x, r) => ((x << r) | (x >>> (32 - r))) >>> 0;
    for (let k = 0; k < 4; k++) bad.writeUInt32LE(rotl(c, 8 * k), idx.offset + 0x28 + 4 * k);
    fs.writeFileSync(file, bad);
    const col = await openCollection(file, { readOnly: true });
    const st = await col.status();
    assert.equal(st.indexLoaded, false, `${what}: the INDEX is not used`);
    assert.equal(st.rowsInsertedOnOpen, model.size, `${what}: every row inserted`);
    await assertModel(col, model, []);
    await col.close();
  }
  fs.writeFileSync(file, good);
});

test('rows read in place over several device batches per VEC segment: exact; a flipped vector byte in a later batch is ECORRUPT; a non-finite row (hash fixed up) is left out, the rest exact', async () => {
  // dimension 1024: a row is 4,104 bytes, so a 1 MiB device batch holds 255 rows and each
  // segment below spans several batches (the slots take each batch, then its vectors move down)
  const D = 1024, N = 700;
  let seed = 99;
  const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; };
  const rows = Array.from({ length: N }, () => Float32Array.from({ length: D }, rnd));
  const file = path.join(dir, 'wide.rvf');
  const w = await openCollection(file, { create: { dimension: D, metric: 'euclidean', index: HNSW } });
  await w.insertBatch(rows.slice(0, 400).map((v, j) => ({ id: j, vector: v, metadata: { j } })));
  await w.insertBatch(rows.slice(400).map((v, j) => ({ id: 400 + j, vector: v, metadata: { j: 400 + j } })));
  await w.close();
  const check = async (col, skip) => {
    const got = await col.getMany(rows.map((_, j) => j));
    for (let j = 0; j < N; j++) {
      if (j === skip) { assert.equal(got[j], null, `row ${j} was left out`); continue; }
      assert.deepEqual(Array.from(got[j].vector), Array.from(rows[j]), `vector of ${j}`);
      assert.deepEqual(got[j].metadata, { j });
    }
    const kept = rows.filter((_, j) => j !== skip);
    const idOf = rows.map((_, j) => j).filter((j) => j !== skip);
    for (const q of [rows[3], rows[650], rows[N - 1].map((x) => x + 0.01)]) {
      const hits = await col.search(q, { k: 10, ef: WIDE_EF });
      assertExact(hits, bruteForce('euclidean', q, kept, 10), (id) => idOf.indexOf(id), 'euclidean', q, kept);
    }
  };
  const ro = await openCollection(file, { readOnly: true });
  const st = await ro.status();
  assert.equal(st.indexLoaded, true);
  assert.equal(st.rowsInsertedOnOpen, 0);
  await check(ro, -1);
  const vec = (await ro.segments()).filter((x) => x.typeName === 'vec');
  await ro.close();
  const good = fs.readFileSync(file);
  const seg = vec.find((x) => (x.length - 6) / (8 + 4 * D) >= 300);
  assert.ok(seg, 'a VEC segment of several batches');
  const rowAt = (r) => seg.offset + 64 + 6 + r * (8 + 4 * D);
  const first = good.readBigUInt64LE(rowAt(0));

  const flipped = Buffer.from(good);
  flipped[rowAt(290) + 8 + 4 * 100] ^= 0x01;                 // a vector byte in the second batch
  fs.writeFileSync(file, flipped);
  await assert.rejects(openCollection(file, { readOnly: true }), (e) => e.code === 'ECORRUPT' && /hash mismatch/.test(e.message));

  const nan = Buffer.from(good);
  nan.writeFloatLE(NaN, rowAt(290) + 8 + 4 * 7);
  const pay = seg.offset + 64;
  const c = crc32(nan.subarray(pay, pay + seg.length));
  const rotl = (x, r) => ((x << r) | (x >>> (32 - r))) >>> 0;
  for (let k = 0; k < 4; k++) nan.writeUInt32LE(rotl(c, 8 * k), seg.offset + 0x28 + 4 * k);
  fs.writeFileSync(file, nan);
  const col = await openCollection(file, { readOnly: true });
  await check(col, Number(first) + 290);
  await col.close();
  fs.writeFileSync(file, good);
});

test('metadata loaded without a copy per row (the records stay in the open\'s buffer) reads, filters, changes, deletes, compacts and reopens exactly', async () => {
  const file = path.join(dir, 'arena.rvf');
  const model = new Map();
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: HNSW } });
  await w.insertBatch(Array.from({ length: 800 }, (_, j) => ({ id: j, vector: BASE[j], metadata: metaOf(j) })));
  for (let j = 0; j < 800; j++) model.set(j, { row: j, meta: metaOf(j) });
  await w.close();
  const check = async (col) => {
    assert.equal(await col.count(), model.size);
    const ids = [...model.keys()];
    const got = await col.getMany(ids);
    for (let k = 0; k < ids.length; k++) {
      const m = model.get(ids[k]);
      assert.deepEqual(Array.from(got[k].vector), Array.from(Float32Array.from(BASE[m.row])), `vector of ${ids[k]}`);
      assert.deepEqual(got[k].metadata, m.meta, `metadata of ${ids[k]}`);
    }
    const want = ids.filter((id) => model.get(id).meta?.tag === 't2');
    const rows = want.map((id) => BASE[model.get(id).row]);
    const hits = await col.search(QUERIES[1], { k: 10, ef: WIDE_EF, filter: { tag: 't2' } });
    assertExact(hits, bruteForce('euclidean', QUERIES[1], rows, 10), (id) => want.indexOf(id), 'euclidean', QUERIES[1], rows);
  };
  const col = await openCollection(file);
  const st = await col.status();
  assert.equal(st.indexLoaded, true);
  assert.equal(st.rowsInsertedOnOpen, 0);
  await check(col);
  // replace, merge, drop and delete records that live in the open's buffer; insert new ones
  for (let j = 0; j < 50; j++) {
    await col.update(j, { metadata: { tag: 't2', changed: j } });
    model.get(j).meta = { tag: 't2', changed: j };
  }
  await col.update(60, { metadata: { extra: 1 } }, { merge: true });
  model.get(60).meta = { ...metaOf(60), extra: 1 };
  await col.insert({ id: 70, vector: BASE[70] });                         // an upsert without metadata
  model.get(70).meta = {};                                               // get() shows no metadata as {}
  await col.delete([100, 101, 102]);
  for (const id of [100, 101, 102]) model.delete(id);
  await col.insertBatch([{ id: 900, vector: BASE[900], metadata: metaOf(900) }]);
  model.set(900, { row: 900, meta: metaOf(900) });
  await check(col);
  // a reopen before compaction: the META deltas name ids below the snapshot's last (records out
  // of id order: the loader's sorted lookup turns into its id map part-way through)
  const mid = await openCollection(file, { readOnly: true });
  await check(mid);
  await mid.close();
  await col.compact();
  await check(col);
  await col.close();
  const again = await openCollection(file, { readOnly: true });
  await check(again);
  await again.close();
});

test('string ids are looked up when first needed: the open reads one record, searches name their hits from their records, the first get/delete/insert builds the maps, and a follower stays right across the writer\'s changes', async () => {
  const { Engine } = await import('../../worker/bind.js');
  const file = path.join(dir, 'lazy-sids.rvf');
  const model = new Map();
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: HNSW } });
  await w.insertBatch(Array.from({ length: 600 }, (_, j) => ({ id: sid(j), vector: BASE[j], metadata: metaOf(j) })));
  for (let j = 0; j < 600; j++) model.set(sid(j), j);
  await w.delete([sid(599), sid(598)]);   // the highest internal ids: a reopened writer must not reuse them wrongly
  model.delete(sid(599)); model.delete(sid(598));
  await w.close();

  // count the records the open reads (Engine.getBatch calls and rows)
  const orig = Engine.prototype.getBatch;
  let rowsRead = 0;
  Engine.prototype.getBatch = function (h, dim, n, ...rest) { rowsRead += n; return orig.call(this, h, dim, n, ...rest); };
  let col;
  try {
    col = await openCollection(file);
    assert.ok(rowsRead <= 1, `the open read ${rowsRead} records to build string-id maps`);
    rowsRead = 0;
    const rows = [...model.keys()].map((id) => BASE[model.get(id)]);
    const ids = [...model.keys()];
    const hits = await col.search(QUERIES[2], { k: 10, ef: WIDE_EF, includeMetadata: false });
    assertExact(hits, bruteForce('euclidean', QUERIES[2], rows, 10), (id) => ids.indexOf(id), 'euclidean', QUERIES[2], rows);
    assert.ok(rowsRead <= 10, `a k=10 search read ${rowsRead} records`);
  } finally {
    Engine.prototype.getBatch = orig;
  }
  // a follower opened now, before the writer's maps exist
  const ro = await openCollection(file, { readOnly: true });
  // first uses by string: get, delete, then inserts that take fresh internal ids
  assert.deepEqual((await col.get(sid(17))).metadata, metaOf(17));
  await col.delete([sid(3)]);
  model.delete(sid(3));
  await col.insertBatch([{ id: 'new-a', vector: BASE[700], metadata: metaOf(700) }, { id: 'new-b', vector: BASE[701], metadata: metaOf(701) }]);
  model.set('new-a', 700); model.set('new-b', 701);
  assert.equal(await col.count(), model.size);
  for (const [id, j] of [['new-a', 700], ['new-b', 701], [sid(0), 0], [sid(597), 597]]) {
    const g = await col.get(id);
    assert.equal(g.id, id);
    assert.deepEqual(Array.from(g.vector), Array.from(Float32Array.from(BASE[j])));
  }
  const check = async (c) => {
    await c.refresh?.();
    const ids = [...model.keys()];
    const rows = ids.map((id) => BASE[model.get(id)]);
    for (const q of [BASE[700], BASE[3], QUERIES[4]]) {
      const hits = await c.search(q, { k: 10, ef: WIDE_EF });
      assertExact(hits, bruteForce('euclidean', q, rows, 10), (id) => ids.indexOf(id), 'euclidean', q, rows);
      for (const h of hits) assert.deepEqual(h.metadata, metaOf(model.get(h.id)), `metadata of ${h.id}`);
    }
  };
  await check(col);
  await check(ro);            // the follower never built its maps: its searches name hits from records
  assert.equal(await ro.get(sid(3)), null);
  assert.equal((await ro.get('new-b')).id, 'new-b');
  await ro.close();
  await col.close();
  const again = await openCollection(file, { readOnly: true });
  await check(again);
  await again.close();
});

test('a follower whose string-id maps are built stays right when its writer gives a deleted row\'s internal id to a new string (deleteWhere before the writer\'s maps exist, or a reopened writer)', async () => {
  // A writer builds its maps from the live rows, so its next internal id follows the highest
  // live one: a row deleted at the top (by filter, before the maps were built; or before a
  // reopen) has its internal id given to the next new string. One refresh of the follower then
  // sees that id only as changed, never as deleted: the old string must not keep naming it.
  for (const how of ['deleteWhere', 'reopen']) {
    const file = path.join(dir, `sid-reuse-${how}.rvf`);
    const w0 = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean' } });
    await w0.insertBatch([0, 1, 2].map((j) => ({ id: sid(j), vector: BASE[j], metadata: metaOf(j) })));
    await w0.close();
    const ro = await openCollection(file, { readOnly: true });
    assert.equal((await ro.get(sid(2))).id, sid(2));     // the follower's maps are built
    let w = await openCollection(file);
    if (how === 'deleteWhere') {
      assert.equal(await w.deleteWhere({ i: 2 }), 1);    // metaOf(2).i === 2: the row of the highest internal id
    } else {
      assert.equal(await w.delete(sid(2)), true);
      await w.close();
      w = await openCollection(file);
    }
    await w.insertBatch([{ id: 'fresh', vector: BASE[9], metadata: metaOf(9) }]);
    await ro.refresh();
    for (const c of [w, ro]) {
      assert.equal(await c.get(sid(2)), null, `${how}, ${c === ro ? 'follower' : 'writer'}: the deleted id is gone`);
      const g = await c.get('fresh');
      assert.equal(g.id, 'fresh');
      assert.deepEqual(g.metadata, metaOf(9));
      assert.deepEqual((await c.getMany([sid(0), sid(2), 'fresh'])).map((r) => r?.id ?? null), [sid(0), null, 'fresh']);
      assert.equal(await c.delete(sid(2)).catch((e) => e.code), c === ro ? 'EREADONLY' : false);
    }
    await ro.close();
    await w.close();
  }
});

test('a file whose live rows mix string and numeric ids (veclite never writes one) is ECORRUPT at the open or at the first call that names a row, whichever row comes first; never a hit named by its internal id', async () => {
  // Crafted through the writer's own state: its id kind is forgotten before each insert (the
  // state is caught as the session files it; nothing else reaches it from outside).
  async function craft(file, ids) {
    const set = Map.prototype.set;
    let st = null;
    Map.prototype.set = function (k, v) {
      if (v && typeof v === 'object' && Object.hasOwn(v, 'idKind') && Object.hasOwn(v, 'strToId')) st = v;
      return set.call(this, k, v);
    };
    let c;
    try {
      c = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean' } });
    } finally {
      Map.prototype.set = set;
    }
    for (const [j, id] of ids.entries()) {
      st.idKind = null;
      await c.insert({ id, vector: BASE[j], metadata: metaOf(j) });
    }
    await c.close();
  }
  const files = { 'string first': ['a', 'b', 7], 'number first': [0, 'a', 'b'] };
  for (const [what, ids] of Object.entries(files)) {
    const file = path.join(dir, `mixed-${ids[0]}.rvf`);
    await craft(file, ids);
    for (const call of ['search', 'ids', 'get']) {
      let c = null, out;
      try {
        c = await openCollection(file, { readOnly: true });
        if (call === 'search') out = (await c.search(BASE[0], { k: 10 })).map((h) => h.id);
        if (call === 'ids') out = (await c.ids()).ids;
        if (call === 'get') out = await c.get(typeof ids[0] === 'string' ? ids[0] : ids[1]);
      } catch (e) {
        out = e.code;
      }
      await c?.close();
      assert.equal(out, 'ECORRUPT', `${what}, ${call} first: ${JSON.stringify(out)}`);
    }
  }
});
