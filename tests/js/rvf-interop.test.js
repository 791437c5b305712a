// tests/js/rvf-interop.test.js — .rvf files cross between veclite's format layer (src/rvf.c, driven
// natively by tools/rvf-tool.c) and the real @ruvector/rvf-node 0.2.3, in both directions.
//
// Oracle: a JS model of the live set built from the operations this test issues (upsert replaces,
// delete hides), and float64 brute force over it for the top-10 — never either implementation's
// answer. rvf-node's distances are L2 squared, -dot and 1 - cos (docs/format.md §4).
//
// The native tool is built here with clang (the toolchain `make` uses) into build/rvf-tool when it
// is missing or older than its sources.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { RvfDatabase } = require('@ruvector/rvf-node');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOOL = path.join(root, 'build/rvf-tool');
const TOOL_SRC = ['tools/rvf-tool.c', 'src/rvf.c', 'src/rvf_commit.c', 'src/rvf_compact.c', 'src/rvf_witness.c',
  'src/rvf_refresh.c', 'src/crc32.c', 'src/io_posix.c', 'src/mem.c', 'src/idmap.c'];
const DIM = 8;
let dir;

before(() => {
  const newest = Math.max(...TOOL_SRC.concat(['src/rvf.h', 'src/rvf_internal.h', 'src/io.h', 'src/internal.h'])
    .map((f) => fs.statSync(path.join(root, f)).mtimeMs));
  if (!fs.existsSync(TOOL) || fs.statSync(TOOL).mtimeMs < newest) {
    fs.mkdirSync(path.dirname(TOOL), { recursive: true });
    execFileSync('clang', ['-std=c11', '-O1', '-Isrc', ...TOOL_SRC, '-o', TOOL], { cwd: root, stdio: 'inherit' });
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-interop-'));
});

after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

/** Deterministic float32 vectors (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.fround((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1);
  };
}
const vecOf = (r) => Float32Array.from({ length: DIM }, r);

/** Run a script through rvf-tool against file; returns the JSON lines it printed. */
function tool(file, lines) {
  const out = execFileSync(TOOL, ['run', file], { input: lines.join('\n') + '\n' }).toString();
  return out.trim().split('\n').map((l) => JSON.parse(l));
}
const dump = (file) => JSON.parse(execFileSync(TOOL, ['dump', file]).toString());
const ingestLines = (rows) => [`ingest ${rows.length}`, ...rows.map(([id, v]) => `${id} ${Array.from(v).join(' ')}`)];

function dist(metric, a, b) {
  let dot = 0, na = 0, nb = 0, l2 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; l2 += (a[i] - b[i]) ** 2;
  }
  if (metric === 'l2') return l2;
  if (metric === 'inner_product') return -dot;
  return 1 - dot / Math.sqrt(na * nb);
}

/** rvf-node's top-10 equals brute force over the model (ids as a set where distances tie). */
function assertTopK(db, model, metric, q) {
  const got = db.query(q, 10);
  const want = [...model].map(([id, v]) => [id, dist(metric, q, v)]).sort((x, y) => x[1] - y[1] || x[0] - y[0]);
  assert.equal(got.length, Math.min(10, model.size));
  for (let i = 0; i < got.length; i++) {
    const tol = 1e-5 * Math.abs(want[i][1]) + 1e-6;
    assert.ok(Math.abs(got[i].distance - want[i][1]) <= tol, `rank ${i}: ${got[i].distance} vs ${want[i][1]}`);
    assert.ok(model.has(got[i].id), `rank ${i}: id ${got[i].id} is not live`);
    const mine = dist(metric, q, model.get(got[i].id));
    assert.ok(Math.abs(mine - want[i][1]) <= tol, `rank ${i}: id ${got[i].id} is at ${mine}, not ${want[i][1]}`);
  }
}

/** A dump (rvf-tool) equals the model, vectors bit for bit. */
function assertDump(d, model) {
  assert.equal(d.live, model.size);
  assert.equal(d.rows.length, model.size);
  for (const [id, v] of d.rows) {
    const want = model.get(Number(id));
    assert.ok(want, `id ${id} should not be live`);
    assert.deepEqual(Float32Array.from(v), want, `vector of ${id}`);
  }
}

for (const metric of ['l2', 'cosine', 'inner_product']) {
  test(`veclite writes, rvf-node reads and extends (${metric})`, () => {
    const file = path.join(dir, `v-${metric}.rvf`);
    const r = rng(metric.length);
    const model = new Map();
    const rows = (ids) => ids.map((id) => { const v = vecOf(r); model.set(id, v); return [id, v]; });
    const code = { l2: 0, inner_product: 1, cosine: 2 }[metric];
    const script = [`create ${DIM} ${code} 0123456789abcdef0123456789abcdef`];
    script.push(...ingestLines(rows(Array.from({ length: 300 }, (_, i) => 1000 + i))));
    script.push(...ingestLines(rows(Array.from({ length: 60 }, (_, i) => 1250 + i))));   // 50 overwrite, 10 new
    const del = Array.from({ length: 30 }, (_, i) => 1000 + 7 * i).concat([5]);         // 5 was never there
    script.push(`delete ${del.length} ${del.join(' ')}`);
    del.forEach((id) => model.delete(id));
    script.push(...ingestLines(rows([1000, 1007, 1014])));                               // deleted ids come back
    if (metric === 'cosine') script.push('compact');
    script.push(...ingestLines(rows([2000, 2001])));
    const res = tool(file, script);
    assert.equal(res.at(-1).live, model.size);

    const qr = rng(99);
    let db = RvfDatabase.openReadonly(file);
    assert.equal(db.status().totalVectors, model.size);
    assert.equal(db.dimension(), DIM);
    assert.equal(db.metric(), metric);
    assert.equal(db.fileId(), '0123456789abcdef0123456789abcdef');
    for (let k = 0; k < 5; k++) assertTopK(db, model, metric, vecOf(qr));
    db.close();

    // rvf-node appends to our file; we read its commits
    db = RvfDatabase.open(file);
    const more = rows([3000, 1001]);
    db.ingestBatch(Float32Array.from(more.flatMap(([, v]) => Array.from(v))), more.map(([id]) => id));
    db.delete([1002, 3000]);
    model.delete(1002); model.delete(3000);
    db.close();
    assertDump(dump(file), model);

    // and we append after rvf-node's commits; rvf-node reads ours again
    tool(file, [...ingestLines(rows([4000])), 'delete 1 1003']);
    model.delete(1003);
    db = RvfDatabase.openReadonly(file);
    assert.equal(db.status().totalVectors, model.size);
    assertTopK(db, model, metric, vecOf(qr));
    db.close();
  });
}

test('rvf-node writes (several sessions, compact, derive), veclite reads', () => {
  const file = path.join(dir, 'n.rvf');
  const child = path.join(dir, 'n-child.rvf');
  const r = rng(7);
  const model = new Map();
  const batch = (ids) => {
    const vs = ids.map(() => vecOf(r));
    ids.forEach((id, i) => model.set(id, vs[i]));
    return [Float32Array.from(vs.flatMap((v) => Array.from(v))), ids];
  };
  let db = RvfDatabase.create(file, { dimension: DIM, metric: 'cosine' });
  db.ingestBatch(...batch(Array.from({ length: 200 }, (_, i) => i + 1)));
  db.close();
  db = RvfDatabase.open(file);   // a second session (rvf-node restarts its witness chain here)
  db.ingestBatch(...batch([5, 6, 201]));
  db.delete([7, 8, 9, 999]);
  [7, 8, 9].forEach((id) => model.delete(id));
  assertDump(dump(file), model);
  db.compact();
  assertDump(dump(file), model);
  const fileId = db.fileId();
  const kid = db.derive(child);
  const kidId = kid.fileId();
  kid.close();
  db.close();
  const d = dump(file);
  assert.equal(d.fileId, fileId);
  assert.equal(d.metric, 2);
  const c = dump(child);
  assert.equal(c.fileId, kidId);
  assert.equal(c.parentId, fileId);
  assert.equal(c.depth, 1);
  assert.equal(c.live, 0);

  // we derive from rvf-node's file; rvf-node reads our child's lineage
  const ours = path.join(dir, 'n-child2.rvf');
  tool(file, [`derive ${ours} 00000000000000000000000000000abc`]);
  const k2 = RvfDatabase.openReadonly(ours);
  assert.equal(k2.parentId(), fileId);
  assert.equal(k2.lineageDepth(), 1);
  assert.equal(k2.fileId(), '00000000000000000000000000000abc');
  k2.close();
});

test('200 single-row commits with tiered VEC merges: rvf-node reads and extends them', () => {
  const file = path.join(dir, 'many.rvf');
  const r = rng(4242);
  const model = new Map();
  const row = (id) => { const v = vecOf(r); model.set(id, v); return [id, v]; };
  const script = [`create ${DIM} 0 00112233445566778899aabbccddeeff`];
  for (let i = 0; i < 200; i++) {
    // mostly new ids; every 10th commit re-upserts an older id, every 25th deletes one
    script.push(...ingestLines([row(i % 10 === 9 ? 5000 + (i >> 1) : 5000 + i)]));
    if (i % 25 === 24) { script.push(`delete 1 ${5000 + i - 3}`); model.delete(5000 + i - 3); }
  }
  const res = tool(file, script);
  const last = res.at(-1);
  assert.equal(last.live, model.size);
  // the directory holds a few merged VEC tiers, not one entry per commit, and no WITNESS (the
  // chain lives in the file: witnessChainValid below walks it)
  assert.ok(last.dirCount <= 12, `directory has ${last.dirCount} entries`);
  assert.equal(last.witnesses, 0);
  assert.ok(fs.statSync(file).size < 300000, `file is ${fs.statSync(file).size} bytes`);
  const d = dump(file);
  assert.equal(d.witnessChainValid, true);
  assertDump(d, model);

  const qr = rng(77);
  let db = RvfDatabase.openReadonly(file);
  assert.equal(db.status().totalVectors, model.size);
  for (let k = 0; k < 5; k++) assertTopK(db, model, 'l2', vecOf(qr));
  db.close();

  // rvf-node appends to the merged file; we read it, then merge on top of its commits
  db = RvfDatabase.open(file);
  const more = [row(9000), row(5001)];
  db.ingestBatch(Float32Array.from(more.flatMap(([, v]) => Array.from(v))), more.map(([id]) => id));
  db.delete([5002]);
  model.delete(5002);
  db.close();
  assertDump(dump(file), model);
  const after = [];
  for (let i = 0; i < 50; i++) after.push(...ingestLines([row(9100 + i)]));
  const res2 = tool(file, after);
  assert.equal(res2.at(-1).live, model.size);
  assert.ok(res2.at(-1).dirCount <= 12, `directory has ${res2.at(-1).dirCount} entries`);
  db = RvfDatabase.openReadonly(file);
  assert.equal(db.status().totalVectors, model.size);
  for (let k = 0; k < 5; k++) assertTopK(db, model, 'l2', vecOf(qr));
  db.close();
  assertDump(dump(file), model);
});
