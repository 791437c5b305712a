// tests/js/witness.test.js — the WITNESS chain of .rvf files veclite writes (src/rvf_witness.c,
// "Witness chain"; src/rvf.c, "History of format decisions"), checked from the bytes.
//
// Two rules, written here from docs/format.md §4 and the inspector's description of newer upstream
// runtimes (copied, not imported):
//   directory rule  every WITNESS the committed MANIFEST lists must carry prev_hash = fold32 of the
//                   previous listed witness's payload, the first one zeros; newer runtimes refuse
//                   to open a file that breaks it. veclite lists no witness at all, which passes.
//   file rule       every WITNESS in the file, in file order, links to the one before it (the
//                   first to zeros): the audit chain is intact although unlisted. rvf-node 0.2.x
//                   restarts the chain at zeros in each of its sessions, so a file it appended to
//                   has exactly one restart per rvf-node session, and no break.
// Oracle: this file's own segment walk and fold32 (never veclite's answers), the model of the
// commits the test issued (one witness per data commit), and @ruvector/rvf-node 0.2.3 opening
// the files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCollection } from '../../web/index.js';

const { RvfDatabase } = createRequire(import.meta.url)('@ruvector/rvf-node');
const MAGIC = 0x52564653;
const T = { VEC: 0x01, MANIFEST: 0x05, WITNESS: 0x0a };
let dir;

before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-witness-')); });
after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

/** fold32 (docs/format.md §4): out[32] = 0; per byte i: a = i % 32; out[a] += b; j = (i + 13) % 32; out[j] += rotl8(out[a], 3). */
function fold32(data) {
  const out = new Uint8Array(32);
  for (let i = 0; i < data.length; i++) {
    const a = i % 32;
    out[a] = (out[a] + data[i]) & 0xff;
    const x = out[a];
    const j = (i + 13) % 32;
    out[j] = (out[j] + (((x << 3) | (x >>> 5)) & 0xff)) & 0xff;
  }
  return out;
}

const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const ZERO = new Uint8Array(32);

/** Segments of a file packed back to back from byte 0 (stops at the first torn one). */
function segments(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  for (let off = 0; off + 64 <= buf.length;) {
    if (dv.getUint32(off, true) !== MAGIC) break;
    const len = Number(dv.getBigUint64(off + 16, true));
    if (off + 64 + len > buf.length) break;
    out.push({ offset: off, type: buf[off + 5], id: dv.getBigUint64(off + 8, true), payload: buf.subarray(off + 64, off + 64 + len) });
    off += 64 + len;
  }
  return out;
}

/** A WITNESS payload: u8 type | u64 ts | u32 len | action | [32] prev_hash. */
function witness(p) {
  const len = new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(9, true);
  assert.equal(p.length, 13 + len + 32, 'witness payload length');
  return { action: new TextDecoder().decode(p.subarray(13, 13 + len)), prev: p.subarray(p.length - 32) };
}

/** The directory of the newest manifest (the last one in the file: we write no torn tails here). */
function directory(buf, segs) {
  const m = segs.filter((s) => s.type === T.MANIFEST).at(-1);
  const p = m.payload;
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const n = dv.getUint32(14, true);
  const dirents = [];
  for (let i = 0, o = 22; i < n; i++, o += 25) {
    dirents.push({ offset: Number(dv.getBigUint64(o + 8, true)), length: Number(dv.getBigUint64(o + 16, true)), type: p[o + 24] });
  }
  return dirents;
}

/**
 * Check both rules on a file; returns the file-order chain's witnesses (action strings) and its
 * restart count. `restarts` is the number of restarts expected (rvf-node sessions).
 */
function checkChain(file, { restarts = 0, why = file, uniqueIds = true } = {}) {
  const buf = fs.readFileSync(file);
  const segs = segments(buf);
  // the newer-runtime rule over the committed directory
  let prev = ZERO;
  const listed = directory(buf, segs).filter((d) => d.type === T.WITNESS);
  for (const [i, d] of listed.entries()) {
    const p = buf.subarray(d.offset + 64, d.offset + 64 + d.length);
    assert.ok(eq(witness(p).prev, prev), `${why}: listed witness ${i} breaks the directory chain (a newer runtime would refuse the file)`);
    prev = fold32(p);
  }
  // the chain in the file
  const ws = segs.filter((s) => s.type === T.WITNESS);
  let last = null;
  let seenRestarts = 0;
  for (const [i, s] of ws.entries()) {
    const w = witness(s.payload);
    if (i === 0) assert.ok(eq(w.prev, ZERO), `${why}: the first witness must link to zeros`);
    else if (eq(w.prev, ZERO)) seenRestarts++;
    else assert.ok(eq(w.prev, fold32(last)), `${why}: witness ${i} (${w.action}) does not link to witness ${i - 1}`);
    last = s.payload;
  }
  assert.equal(seenRestarts, restarts, `${why}: restarts of the chain`);
  // segment ids stay unique (docs/format.md §2; rvf-node 0.2.x reuses its last manifest's id)
  const ids = segs.map((s) => s.id);
  if (uniqueIds) assert.equal(new Set(ids).size, ids.length, `${why}: segment ids repeat`);
  return { listed: listed.length, actions: ws.map((s) => witness(s.payload).action), segs };
}

const vec = (i, dim) => Float32Array.from({ length: dim }, (_, j) => Math.sin(i * 7.1 + j * 1.3));

/** rvf-node opens the file and counts the rows we expect. */
function rvfNodeCount(file) {
  const db = RvfDatabase.openReadonly(file);
  try { return db.status().totalVectors; } finally { db.close(); }
}

test('one session: no listed witness, one intact chain with one witness per data commit', async () => {
  const file = path.join(dir, 'one.rvf');
  const col = await openCollection(file, { create: { dimension: 4, metric: 'euclidean', index: { type: 'hnsw' } } });
  await col.insertBatch([1, 2, 3].map((id) => ({ id, vector: vec(id, 4), metadata: { k: id } })));
  await col.insert({ id: 4, vector: vec(4, 4) });
  assert.equal(await col.delete(2), true);
  await col.update(3, { metadata: { k: 'three' } });
  await col.close();
  const c = checkChain(file);
  assert.equal(c.listed, 0, 'veclite lists no witness');
  assert.deepEqual(c.actions.map((a) => a.split(':')[0]), ['ingest', 'ingest', 'delete', 'meta']);
  assert.equal(rvfNodeCount(file), 3);
});

test('many sessions with tier merges, then compaction: the chain runs through all of them', async () => {
  const file = path.join(dir, 'many.rvf');
  let col = await openCollection(file, { create: { dimension: 3, metric: 'cosine', index: { type: 'hnsw', m: 4 } } });
  await col.close();
  let commits = 0;
  let live = 0;
  let autos = 0; // automatic compactions (worker/collection.js AUTO_COMPACT): a witness each
  for (let s = 0; s < 6; s++) {
    col = await openCollection(file);
    // single-row commits: the tiered merge rewrites VEC segments as they go
    for (let i = 0; i < 25; i++) { await col.insert({ id: s * 100 + i, vector: vec(s * 100 + i, 3) }); commits++; live++; }
    if (s % 2) { assert.equal(await col.delete(s * 100), true); commits++; live--; }
    const v = await col.verify();
    assert.equal(v.ok, true, `session ${s}: ${v.problems.join('; ')}`);
    autos += (await col.status()).autoCompaction.runs;
    await col.close();
    const c = checkChain(file, { why: `after session ${s}` });
    assert.equal(c.listed, 0);
    assert.equal(c.actions.length, commits + autos, `after session ${s}: one witness per data commit and per automatic compaction`);
    assert.equal(c.actions.filter((a) => /^compact:/.test(a)).length, autos, `after session ${s}: automatic compactions`);
  }
  commits += autos;
  assert.equal(rvfNodeCount(file), live);
  col = await openCollection(file);
  await col.compact();
  await col.insert({ id: 9999, vector: vec(9999, 3) });
  await col.close();
  const c = checkChain(file, { why: 'after compaction' });
  assert.equal(c.listed, 0);
  assert.equal(c.actions.length, commits + 2, 'the whole chain was carried over, plus the compaction and one ingest');
  assert.match(c.actions.at(-2), /^compact:/);
  assert.equal(rvfNodeCount(file), live + 1);
});

test('rvf-node appends to our file: its directory passes the rule, and so does ours after it', async () => {
  const file = path.join(dir, 'mixed.rvf');
  let col = await openCollection(file, { create: { dimension: 8, metric: 'euclidean', index: { type: 'flat' } } });
  await col.insertBatch(Array.from({ length: 20 }, (_, i) => ({ id: i + 1, vector: vec(i + 1, 8) })));
  await col.insert({ id: 21, vector: vec(21, 8) });
  await col.close();
  checkChain(file, { why: 'ours' });

  // rvf-node lists every segment it knows plus its own witness, restarting its chain at zeros
  let db = RvfDatabase.open(file);
  db.ingestBatch(Float32Array.from([...vec(100, 8), ...vec(101, 8)]), [100, 101]);
  db.delete([5]);
  db.close();
  const afterNode = checkChain(file, { restarts: 1, why: 'after rvf-node', uniqueIds: false });
  assert.ok(afterNode.listed >= 1, 'rvf-node lists its witnesses');

  // we commit on top: our manifest unlists rvf-node's witnesses (they stay in the file) and our
  // witness links to the newest one in file order
  col = await openCollection(file);
  assert.equal(await col.count(), 22);
  await col.insert({ id: 200, vector: vec(200, 8) });
  await col.close();
  const c = checkChain(file, { restarts: 1, why: 'ours after rvf-node', uniqueIds: false });
  assert.equal(c.listed, 0);
  // what we appended uses ids above every id already in the file
  const maxBefore = afterNode.segs.reduce((m, x) => (x.id > m ? x.id : m), 0n);
  const ours = c.segs.filter((x) => x.offset >= afterNode.segs.at(-1).offset + 64 + afterNode.segs.at(-1).payload.length);
  assert.ok(ours.length >= 3 && ours.every((x) => x.id > maxBefore), `our ids ${ours.map((x) => x.id)} vs ${maxBefore}`);
  assert.equal(c.actions.length, afterNode.actions.length + 1);
  assert.equal(rvfNodeCount(file), 23);

  // and rvf-node once more, then us: one restart per rvf-node session, no break
  db = RvfDatabase.open(file);
  db.ingestBatch(vec(300, 8), [300]);
  db.close();
  checkChain(file, { restarts: 2, why: 'rvf-node again', uniqueIds: false });
  col = await openCollection(file, { readOnly: true });
  const v = await col.verify();
  await col.close();
  assert.equal(v.ok, false, 'rvf-node 0.2.x restarts the chain: verify() says so');
  assert.ok(v.problems.some((p) => /witness chain/.test(p)), v.problems.join('; '));
  col = await openCollection(file);
  await col.insert({ id: 400, vector: vec(400, 8) });
  await col.close();
  checkChain(file, { restarts: 2, why: 'ours after rvf-node again', uniqueIds: false });
  assert.equal(rvfNodeCount(file), 25);
});

test('a crash leaves a commit without its manifest: the next writer cuts it off, the chain stays intact', async () => {
  const file = path.join(dir, 'crash.rvf');
  let col = await openCollection(file, { create: { dimension: 4, metric: 'euclidean', index: { type: 'hnsw' } } });
  await col.insert({ id: 1, vector: vec(1, 4), metadata: { a: 1 } });
  await col.insert({ id: 2, vector: vec(2, 4), metadata: { a: 2 } });
  const full = fs.readFileSync(file);
  await col.close();
  // the bytes of the second commit's VEC, META and WITNESS, without its MANIFEST
  const segs = segments(full);
  const lastManifest = segs.filter((s) => s.type === T.MANIFEST).at(-1);
  const crashed = full.subarray(0, lastManifest.offset);
  assert.equal(segments(crashed).at(-1).type, T.WITNESS);
  fs.writeFileSync(file, crashed);
  fs.rmSync(`${file}.lock`, { force: true });
  col = await openCollection(file);
  assert.equal(await col.count(), 1);
  assert.equal(await col.get(2), null);
  // the cut-off commit is kept beside the file, and verify says so until discardRecovered()
  const rec = (await col.status()).recovered;
  assert.deepEqual(fs.readFileSync(rec.savedTo), crashed.subarray(crashed.length - rec.discardedBytes));
  await col.insert({ id: 3, vector: vec(3, 4) });
  const kept = await col.verify();
  assert.equal(kept.ok, false);
  assert.ok(kept.problems.some((p) => p.includes(rec.savedTo)), kept.problems.join('; '));
  assert.deepEqual((await col.discardRecovered()).removed, [rec.savedTo]);
  const v = await col.verify();
  await col.close();
  assert.equal(v.ok, true, v.problems.join('; '));
  const c = checkChain(file, { why: 'after recovery' });
  // the crashed commit's witness was cut off with its data: the chain records committed operations
  assert.deepEqual(c.actions.map((a) => a.replace(/,epoch=\d+$/, '')), ['ingest:count=1', 'ingest:count=1']);
  assert.equal(rvfNodeCount(file), 2);
});
