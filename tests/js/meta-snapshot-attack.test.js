// tests/js/meta-snapshot-attack.test.js — the META snapshot veclite forces after opening a file
// whose listed META it does not track (rvf-node 0.2.3's compaction relists every META the file
// held; rvf-node's delete leaves the deleted ids' records listed), attacked through the public API:
//   a. SIGKILL of a writer process (fixtures/meta-snapshot-writer.js) at random moments of the
//      forced snapshot commit, the commits after it and a compaction: the file reopens at the state
//      after a prefix of its operations ending at the last acknowledged one or the one in flight,
//      verify() reports nothing but rvf-node's restarted witness chain and the torn tail of the
//      commit in flight, and a writer's next META commit keeps the metadata (and, if the forced
//      snapshot was not committed yet, is that snapshot: one META listed);
//   b. a full disk (ENOSPC / EIO thrown by the k-th writeSync / fsyncSync on the file, for every
//      k of the forced snapshot commit): the write rejects, a reopen holds the state before it
//      (or after it, when the error said the outcome is unknown), nothing committed is lost;
//   c. read-only handles opened through a symlink, a hard link and a relative path, refreshed
//      while the writer (under the real name) commits the snapshot, more deltas and a compaction:
//      each refresh answers as a fresh read-only open (the hard link keeps the old file once a
//      compaction replaced the real name's);
//   d. writer processes racing for the lock, each retrying until it commits its own update: every
//      acknowledged update is in the file;
//   e. createDatabase({ path, workers: 1 }): its writer worker terminated at a random moment of
//      the same operations: the call rejects with a VecliteError, the file holds the operations
//      acknowledged (and perhaps the one in flight), and the next META commit on it is right;
//   f. a read-only handle of a scalar-quantized file that rvf-node changed and compacted, refreshed
//      while a veclite writer commits the forced snapshot, replaces rows and compacts: its searches
//      find the brute-force nearest row, as a fresh open's do.
// Oracles: a Map model of ids -> metadata (and of rows, for f: brute force) built from the
// operations issued here, and the real @ruvector/rvf-node for the deletes and compaction that
// make the file. Seed: META_ATTACK_SEED; rounds of a and e: META_ATTACK_ROUNDS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCollection, createDatabase, VecliteError } from '../../web/index.js';
import { mulberry32 } from './helpers.js';
import { ops, apply } from './fixtures/meta-snapshot-writer.js';

const { RvfDatabase } = createRequire(import.meta.url)('@ruvector/rvf-node');
const here = path.dirname(fileURLToPath(import.meta.url));
const WRITER = path.join(here, 'fixtures/meta-snapshot-writer.js');
const SEED = Number(process.env.META_ATTACK_SEED ?? 0x5a7);
let dir;
before(() => { dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-metasnap-'))); });
after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

const metaOrNull = (m) => (m && typeof m === 'object' && Object.keys(m).length > 0 ? m : null);
const DIM = 4;
const N = 300;

/** A file whose listed META forces a snapshot: veclite deltas over several sessions, then
 * rvf-node deletes 5 and 6 (no META) and compacts (relisting every META). Returns the model. */
let baseFile, baseModel;
async function base() {
  if (baseFile) return { file: baseFile, model: new Map(baseModel) };
  const file = path.join(dir, 'base.rvf');
  const model = new Map();
  const col = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean' } });
  const items = [];
  for (let i = 0; i < N; i++) {
    model.set(i, { i, tag: `t${i % 7}` });
    items.push({ id: i, vector: [i, i % 3, 1, 2], metadata: model.get(i) });
  }
  await col.insertBatch(items);
  await col.close();
  for (let k = 0; k < 5; k++) {
    const w = await openCollection(file);
    const id = 20 + k * 13;
    model.set(id, { i: id, tag: 'updated', k });
    await w.update(id, { metadata: model.get(id) });
    await w.close();
  }
  const db = RvfDatabase.open(file);
  try { assert.equal(db.delete([5, 6]).deleted, 2); db.compact(); } finally { db.close(); }
  model.delete(5); model.delete(6);
  const ro = await openCollection(file, { readOnly: true });
  try { assert.ok(await metaSegments(ro) > 5, 'rvf-node relisted superseded META'); } finally { await ro.close(); }
  baseFile = file; baseModel = model;
  return { file, model: new Map(model) };
}

/** The model after the first n operations of ops(). */
function modelAfter(model, n) {
  const m = new Map(model);
  for (const op of ops().slice(0, n)) {
    if (op.kind === 'update') m.set(op.id, op.metadata);
    else if (op.kind === 'insert') m.set(op.id, op.metadata);
  }
  return m;
}

const IDS = [...Array(N).keys(), ...ops().filter((o) => o.id >= N).map((o) => o.id)];

/** The state of c as a comparable object: live ids -> metadata (null for none). */
async function stateOf(c) {
  const out = {};
  for (const id of IDS) {
    const g = await c.get(id);
    if (g) out[id] = metaOrNull(g.metadata);
  }
  return { count: await c.count(), rows: out };
}
const modelState = (m) => ({ count: m.size, rows: Object.fromEntries([...m].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, metaOrNull(v)])) });

async function metaSegments(c) { return (await c.segments()).filter((s) => s.typeName === 'meta').length; }

/** Open file read-only and writer: the state is `want`, verify clean (but rvf-node's witness
 * chain), and a writer's next META commit leaves one META listed. */
async function checkReopen(file, want, why, forced = false, torn = false) {
  // verify() may report rvf-node's restarted witness chain and, after a kill, the torn tail of
  // the commit in flight: still in the file, or kept beside it by a writable open (until
  // discardRecovered()). In e, the pool's replacement writer reopens the file before we do.
  const ok = (p) => /witness chain/.test(p) || (torn && (/^\d+ bytes? after the last intact commit/.test(p) ||
    /bytes after the commit of epoch \d+ were not loaded and are kept in/.test(p)));
  const ro = await openCollection(file, { readOnly: true });
  try {
    assert.deepEqual(await stateOf(ro), modelState(want), `${why}: state`);
    const v = await ro.verify();
    assert.ok(v.problems.every(ok), `${why}: ${JSON.stringify(v.problems)}`);
  } finally { await ro.close(); }
  const w = await openCollection(file);
  const m = new Map(want);
  try {
    m.set(9, { tag: 'checked' });
    await w.update(9, { metadata: m.get(9) });
    if (forced) assert.equal(await metaSegments(w), 1, `${why}: the next META commit is a snapshot`);
  } finally { await w.close(); }
  const again = await openCollection(file, { readOnly: true });
  try {
    assert.deepEqual(await stateOf(again), modelState(m), `${why}: after the next META commit`);
    const v = await again.verify();
    assert.ok(v.problems.every(ok), `${why}: after the next META commit: ${JSON.stringify(v.problems)}`);
  } finally { await again.close(); }
}

/** Which prefix length of ops() the file at `file` holds, among candidates; -1 if none. */
async function prefixOf(file, model, candidates) {
  const ro = await openCollection(file, { readOnly: true });
  try {
    const s = await stateOf(ro);
    for (const n of candidates) {
      try { assert.deepEqual(s, modelState(modelAfter(model, n))); return n; } catch { /* next */ }
    }
    return -1;
  } finally { await ro.close(); }
}

test('a. SIGKILL of a writer during the forced META snapshot, the deltas after it and a compaction', { timeout: 120_000 }, async () => {
  const { file: src, model } = await base();
  const rnd = mulberry32(SEED);
  const ROUNDS = Number(process.env.META_ATTACK_ROUNDS ?? 14);
  const seen = new Set();
  for (let r = 0; r < ROUNDS; r++) {
    const file = path.join(dir, `kill-${r}.rvf`);
    fs.copyFileSync(src, file);
    const child = spawn(process.execPath, [WRITER, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
    let lastAck = -1, done = false;
    const lines = createInterface({ input: child.stdout });
    const delay = rnd() * 60;                       // ms after ready: the commits take a few ms each
    const ready = new Promise((res) => lines.on('line', (l) => {
      const msg = JSON.parse(l);
      if (msg.ready) res();
      if (msg.acked !== undefined) lastAck = msg.acked;
      if (msg.done) done = true;
    }));
    await ready;
    await new Promise((res) => setTimeout(res, delay));
    child.kill('SIGKILL');
    await exited;
    const n = done ? ops().length : null;
    const candidates = n !== null ? [n] : [lastAck + 1, lastAck + 2].filter((k) => k <= ops().length);
    const got = await prefixOf(file, model, candidates);
    assert.ok(got >= 0, `round ${r} (seed ${SEED}): the file holds none of the prefixes ${candidates} (last ack ${lastAck})`);
    seen.add(got);
    fs.rmSync(`${file}.lock`, { force: true });
    await checkReopen(file, modelAfter(model, got), `round ${r} (seed ${SEED}, prefix ${got})`, got === 0, true);
    fs.rmSync(file, { force: true });
  }
  if (process.env.VERBOSE) console.log(`a: prefixes seen ${[...seen].sort((x, y) => x - y)}`);
  assert.ok(seen.size >= 2, `the kills landed at ${[...seen]} only`);
});

test('b. a full disk at every write of the forced META snapshot commit: the write rejects, nothing committed is lost', { timeout: 120_000 }, async () => {
  const { file: src, model } = await base();
  const REAL = { openSync: fs.openSync, writeSync: fs.writeSync, fsyncSync: fs.fsyncSync };
  const names = new Map();
  let target = null, calls = 0, failAt = 0;
  fs.openSync = (p, ...a) => { const fd = REAL.openSync(p, ...a); names.set(fd, String(p)); return fd; };
  const hit = (fd, op) => {
    if (target === null || names.get(fd) !== target) return;
    if (++calls === failAt) throw Object.assign(new Error(`${op === 'write' ? 'ENOSPC' : 'EIO'}: simulated`), { code: op === 'write' ? 'ENOSPC' : 'EIO', syscall: op });
  };
  fs.writeSync = (fd, ...a) => { hit(fd, 'write'); return REAL.writeSync(fd, ...a); };
  fs.fsyncSync = (fd) => { hit(fd, 'fsync'); return REAL.fsyncSync(fd); };
  try {
    let succeeded = false;
    for (failAt = 1; !succeeded && failAt < 100; failAt++) {
      const file = path.join(dir, `full-${failAt}.rvf`);
      fs.copyFileSync(src, file);
      const col = await openCollection(file);
      target = file; calls = 0;
      let err = null;
      try { await col.update(7, { metadata: { tag: 'forced', k: 0 } }); } catch (e) { err = e; }
      target = null;
      if (!err) { succeeded = true; assert.equal(await metaSegments(col), 1, 'the commit was a snapshot'); }
      else assert.match(String(err.code), /EIO|ENOSPC|EFATAL/, `failAt ${failAt}: ${err.message}`);
      await col.close().catch(() => {});
      fs.rmSync(`${file}.lock`, { force: true });
      const got = await prefixOf(file, model, err && !/unknown/.test(err.message) ? [0] : [0, 1]);
      assert.ok(got >= 0, `failAt ${failAt}: the file holds neither the state before nor after (${err?.message})`);
      if (succeeded) assert.equal(got, 1);
      await checkReopen(file, modelAfter(model, got), `failAt ${failAt}`, got === 0);
      fs.rmSync(file, { force: true });
    }
    if (process.env.VERBOSE) console.log(`b: the commit succeeded at failAt ${failAt - 1}`);
    assert.ok(succeeded && failAt > 4);
  } finally { Object.assign(fs, REAL); }
});

test('c. read-only handles under other names (symlink, hard link, relative path) refresh to what a fresh open reads', { timeout: 60_000 }, async () => {
  const { file: src, model } = await base();
  const d = path.join(dir, 'names');
  fs.mkdirSync(d);
  const file = path.join(d, 'real.rvf');
  fs.copyFileSync(src, file);
  fs.symlinkSync('real.rvf', path.join(d, 'sym.rvf'));
  fs.linkSync(file, path.join(d, 'hard.rvf'));
  const names = [path.join(d, 'sym.rvf'), path.join(d, 'hard.rvf'), path.relative(process.cwd(), file)];
  const readers = [];
  for (const n of names) readers.push(await openCollection(n, { readOnly: true }));
  try {
    for (const r of readers) assert.deepEqual(await stateOf(r), modelState(model));
    const w = await openCollection(file);
    try {
      for (const [j, op] of ops().entries()) {
        await apply(w, op);
        for (const [i, r] of readers.entries()) {
          await r.refresh();
          const fresh = await openCollection(names[i], { readOnly: true });
          try {
            const want = await stateOf(fresh);
            // a compaction replaces the file (rename): the hard link keeps the old one
            const stale = names[i].endsWith('hard.rvf') && ops().slice(0, j + 1).some((o) => o.kind === 'compact');
            if (!stale) assert.deepEqual(want, modelState(modelAfter(model, j + 1)), `op ${j}: a fresh open through ${names[i]}`);
            assert.deepEqual(await stateOf(r), want, `op ${j}: refreshed reader through ${names[i]}`);
          } finally { await fresh.close(); }
        }
      }
    } finally { await w.close(); }
  } finally { for (const r of readers) await r.close(); }
});

test('d. writer processes racing for the lock over the forced snapshot: every acknowledged update is in the file', { timeout: 60_000 }, async () => {
  const { file: src, model } = await base();
  const file = path.join(dir, 'race.rvf');
  fs.copyFileSync(src, file);
  const racer = path.join(dir, 'racer.mjs');
  fs.writeFileSync(racer, `import { openCollection } from ${JSON.stringify(path.join(here, '../../web/index.js'))};
const [file, id] = process.argv.slice(2);
for (;;) {
  let c;
  try { c = await openCollection(file); } catch (e) { if (e.code === 'ELOCK') { await new Promise((r) => setTimeout(r, 5)); continue; } throw e; }
  await c.update(Number(id), { metadata: { racer: Number(id) } });
  await c.close();
  process.stdout.write('acked\\n');
  break;
}
`);
  const ids = [30, 31, 32, 33];
  const kids = ids.map((id) => spawn(process.execPath, [racer, file, String(id)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const outs = await Promise.all(kids.map((k) => new Promise((res) => {
    let s = '';
    k.stdout.on('data', (b) => { s += b; });
    k.on('exit', (code) => res({ code, s }));
  })));
  for (const [i, o] of outs.entries()) assert.equal(o.code, 0, `racer ${ids[i]}`);
  for (const id of ids) model.set(id, { racer: id });
  await checkReopen(file, model, 'after the race');
});

test('e. a workers: 1 database session terminated during the forced META snapshot, the deltas and a compaction', { timeout: 120_000 }, async () => {
  const { file: src, model } = await base();
  const rnd = mulberry32(SEED + 1);
  const ROUNDS = Number(process.env.META_ATTACK_ROUNDS ?? 10);
  const seen = new Set();
  let rejected = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const d = path.join(dir, `term-${r}`);
    fs.mkdirSync(d);
    const file = path.join(d, 'c.rvf');
    fs.copyFileSync(src, file);
    const db = await createDatabase({ path: d, workers: 1 });
    const col = await db.getCollection('c');
    const worker = db[Symbol.for('veclite.pool')].clients[0].worker;
    const delay = Math.floor(rnd() * 40);
    const timer = setTimeout(() => worker.terminate(), delay);
    let done = 0, failure = null;
    try {
      for (const op of ops()) { await apply(col, op); done++; }
    } catch (e) { failure = e; } finally { clearTimeout(timer); }
    const why = `round ${r} (seed ${SEED}, terminated after ${delay} ms, ${done} ops acknowledged)`;
    if (failure) { rejected++; assert.ok(failure instanceof VecliteError, `${why}: ${failure}`); }
    await db.close().catch((e) => assert.ok(e instanceof VecliteError, `${why}: close: ${e}`));
    const candidates = [done, done + 1].filter((k) => k <= ops().length);
    const got = await prefixOf(file, model, candidates);
    assert.ok(got >= 0, `${why}: the file holds none of the prefixes ${candidates}`);
    seen.add(got);
    await checkReopen(file, modelAfter(model, got), `${why}, prefix ${got}`, got === 0, true);
  }
  if (process.env.VERBOSE) console.log(`e: prefixes seen ${[...seen].sort((x, y) => x - y)}, ${rejected} rejected`);
  assert.ok(rejected > 0, 'some terminations hit a call in flight');
});

test('f. a read-only handle of a quantized file rvf-node compacted follows a veclite writer (forced snapshot, replaced rows, compaction): refresh() searches as a fresh open', { timeout: 60_000 }, async () => {
  const rnd = mulberry32(SEED + 2);
  const dim = 8;
  const file = path.join(dir, 'quant-follow.rvf');
  const rows = new Map();
  const vec = () => Float32Array.from({ length: dim }, () => Math.fround(rnd() * 2 - 1));
  const col = await openCollection(file, { create: { dimension: dim, metric: 'euclidean', quantization: 'scalar', index: { type: 'hnsw', m: 8, efConstruction: 64 } } });
  const items = [];
  for (let i = 0; i < 800; i++) { const v = vec(); rows.set(i, v); items.push({ id: i, vector: v, metadata: { i } }); }
  await col.insertBatch(items);
  await col.close();
  for (let k = 0; k < 3; k++) { const w = await openCollection(file); await w.update(k, { metadata: { k } }); await w.close(); }
  const db = RvfDatabase.open(file);
  try {
    const ids = [10, 11, 12];
    const vs = ids.map(() => vec());
    db.ingestBatch(Float32Array.from(vs.flatMap((v) => Array.from(v))), ids);
    ids.forEach((id, i) => rows.set(id, vs[i]));
    db.delete([20]); rows.delete(20);
    db.compact();
  } finally { db.close(); }
  const nearest = (q) => {
    let best = null, bd = Infinity;
    for (const [id, v] of rows) { let s = 0; for (let i = 0; i < dim; i++) s += (q[i] - v[i]) ** 2; if (s < bd) { bd = s; best = id; } }
    return best;
  };
  const ro = await openCollection(file, { readOnly: true });
  const w = await openCollection(file);
  const check = async (why) => {
    await ro.refresh();
    const fresh = await openCollection(file, { readOnly: true });
    try {
      assert.equal(await ro.count(), rows.size, why);
      for (const id of [10, 11, 12, 30, 31]) {
        const q = rows.get(id);
        assert.equal((await ro.search(q, { k: 1, ef: 400 }))[0]?.id, id, `${why}: refreshed reader, query at row ${id}`);
        assert.equal((await fresh.search(q, { k: 1, ef: 400 }))[0]?.id, id, `${why}: fresh open, query at row ${id}`);
      }
      for (let i = 0; i < 5; i++) {
        const q = vec();
        assert.equal((await ro.search(q, { k: 1, ef: 400 }))[0]?.id, nearest(q), `${why}: refreshed reader, query ${i}`);
      }
    } finally { await fresh.close(); }
  };
  try {
    await check('after rvf-node compact');
    await w.update(3, { metadata: { tag: 'forced' } });            // the forced META snapshot
    await check('after the forced snapshot');
    for (const id of [30, 31]) { const v = vec(); rows.set(id, v); await w.insert({ id, vector: v }); }
    await check('after replaced rows');
    await w.compact();
    await check('after a veclite compaction');
    for (const id of [10, 11]) { const v = vec(); rows.set(id, v); await w.insert({ id, vector: v }); }
    await w.close();
    await check('after the writer closed');
  } finally { await ro.close(); }
});
