// tests/js/crash.test.js — crash safety of .rvf collections through the public API (issue 3;
// docs/api.md §9 failure modes 1 and 7; docs/format.md §5-6).
//
//   a. SIGKILL: a child (fixtures/crash-writer.js) commits deterministic batches
//      (fixtures/crash-plan.js) and acknowledges each resolved commit on stdout; we kill it at a
//      seeded random moment and check that the file holds exactly a prefix of the commits,
//      ending at the last acknowledged one or the one in flight, never a partial batch.
//   b. Truncation: every byte prefix of a multi-commit file opens at the last commit wholly
//      before the cut, or (before the first manifest) fails with a VecliteError.
//   c. Corruption: a damaged committed VEC payload is ECORRUPT; a damaged tail manifest falls back
//      to the previous commit; a newer segment version is EVERSION.
//
// Oracles: the plan's pure functions, the state recorded from our own operations, and an
// independent reader (fixtures/interop-rvf-reader.js) — never the answers of the code under
// test. Seed: CRASH_SEED (default below); failures print it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCollection, VecliteError } from '../../web/index.js';
import { rejectsWith, mulberry32 } from './helpers.js';
import { DIM, batchOf, commitsForCount, countAfter, firstId, metadataOf, olderId, vectorOf, writerAfter } from './fixtures/crash-plan.js';
import { SEG, commitEnds, readState, walk } from './fixtures/interop-rvf-reader.js';

const { RvfDatabase } = createRequire(import.meta.url)('@ruvector/rvf-node');
const here = path.dirname(fileURLToPath(import.meta.url));
const WRITER = path.join(here, 'fixtures/crash-writer.js');
const SEED = Number(process.env.CRASH_SEED ?? 0x5eed1);
const ROUNDS = 50;
let dir;

before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-crash-')); });
after(() => { if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true }); });

/** Metadata as the API returns it for "none": null or {} both mean none. */
const metaOrNull = (m) => (m && typeof m === 'object' && Object.keys(m).length > 0 ? m : null);

/**
 * Run one writer child until it has acknowledged `acks` commits, then SIGKILL it after `delay`
 * (a fraction of its mean commit time; < 0 kills synchronously on the ack line).
 * @returns {Promise<{ start: number, lastAck: number, signal: string|null, lines: string[] }>}
 */
function runAndKill(file, acks, delay) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const lines = [];
    let start = null;
    let lastAck = null;
    let n = 0;
    let t0 = 0;
    let fired = false;
    const guard = setTimeout(() => { fired = true; child.kill('SIGKILL'); }, 20_000);
    const kill = () => { if (!fired) { fired = true; child.kill('SIGKILL'); } };
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      lines.push(line);
      const [word, arg] = line.split(' ');
      if (word === 'start') { start = Number(arg); t0 = performance.now(); }
      if (word === 'ack') {
        lastAck = Number(arg);
        if (++n === acks && !fired) {
          if (delay < 0) kill();
          else setTimeout(kill, delay * ((performance.now() - t0) / n));
        }
      }
    });
    let exit = null;
    let closed = false;
    const done = () => {
      if (!exit || !closed) return;
      clearTimeout(guard);
      if (exit.signal !== 'SIGKILL' || lastAck === null) {
        reject(new Error(`writer ended with ${exit.code ?? exit.signal} after ${n} acks: ${lines.join(' | ')} ${stderr}`));
      } else resolve({ start, lastAck, signal: exit.signal, lines });
    };
    child.on('exit', (code, signal) => { exit = { code, signal }; done(); });
    rl.on('close', () => { closed = true; done(); });
    child.on('error', reject);
  });
}

/** Check col holds exactly the state after commits 1..j (sampled ids; all of the recent commits). */
async function checkPrefix(col, j, rnd, why) {
  const writers = writerAfter(j);
  assert.equal(await col.count(), countAfter(j), `${why}: count`);
  const ids = new Set();
  for (let n = Math.max(1, j - 1); n <= j + 1; n++) {
    for (let id = firstId(n); id < firstId(n + 1); id++) ids.add(id);
    if (olderId(n) !== null) ids.add(olderId(n));
  }
  for (let s = 0; s < 25 && countAfter(j) > 0; s++) ids.add(1 + Math.floor(rnd() * countAfter(j)));
  for (const id of ids) {
    const got = await col.get(id);
    const n = writers.get(id);
    if (n === undefined) {
      assert.equal(got, null, `${why}: id ${id} (of commit ${j + 1}, not committed) is visible`);
      continue;
    }
    assert.ok(got, `${why}: id ${id} (last written by commit ${n}) is missing`);
    assert.deepEqual(Array.from(got.vector), Array.from(vectorOf(id, n)), `${why}: vector of ${id} should be commit ${n}'s`);
    assert.deepEqual(got.metadata, metadataOf(id, n), `${why}: metadata of ${id}`);
  }
  if (j > 0) {
    const last = firstId(j + 1) - 1;
    const [hit] = await col.search(vectorOf(last, j), { k: 1 });
    assert.equal(hit.id, last, `${why}: nearest to id ${last}'s vector`);
    assert.ok(hit.distance <= 1e-6, `${why}: distance ${hit.distance}`);
  }
}

test('SIGKILL during commits: the file holds exactly a prefix ending at or after the last ack', { timeout: 120_000 }, async (t) => {
  const file = path.join(dir, 'killed.rvf');
  const rnd = mulberry32(SEED);
  let committed = 0;       // commits known to be in the file (from the previous round's check)
  const tally = { inFlightLanded: 0, atAck: 0, tornTail: 0 };
  const integrity = [];    // verify() / segment-id problems, reported together at the end
  let prevTail = null;     // bytes after the last commit the previous round left in the file
  for (let r = 0; r < ROUNDS; r++) {
    const why = `seed ${SEED} round ${r}`;
    const acks = 1 + Math.floor(rnd() * 5);
    const u = rnd();
    const delay = u < 0.25 ? -1 : (u - 0.25) * 2;   // sync kill, or 0..1.5 mean commit times later
    const run = await runAndKill(file, acks, delay);
    assert.equal(run.start, committed, `${why}: the writer found ${run.start} commits, expected ${committed}`);
    // A tail the previous round left in the file was saved beside it by this round's writer
    // (unless it was killed before its open finished) before its first commit cut it.
    const kept = fs.readdirSync(dir).filter((n) => n.startsWith('killed.rvf.recovered-'));
    assert.ok(kept.length <= (prevTail ? 1 : 0), `${why}: saved tails ${kept.join(', ')} (previous tail: ${prevTail?.length ?? 0} bytes)`);
    for (const n of kept) {
      assert.deepEqual(fs.readFileSync(path.join(dir, n)), prevTail, `${why}: the writer saved the previous round's tail`);
      fs.rmSync(path.join(dir, n)); // checked; the rounds below expect a clean directory
    }

    const buf = fs.readFileSync(file);
    const ro = await openCollection(file, { readOnly: true });
    const count = await ro.count();
    const j = commitsForCount(count);
    assert.ok(j >= 0, `${why}: count ${count} is not a commit boundary (partial batch visible)`);
    assert.ok(j >= run.lastAck, `${why}: acknowledged commit ${run.lastAck} lost (file holds ${j})`);
    assert.ok(j <= run.lastAck + 1, `${why}: file holds ${j} commits but only ${run.lastAck} were acknowledged and one was in flight`);
    await checkPrefix(ro, j, rnd, `${why} (read-only)`);
    // the independent reader sees the same committed live set
    const st = readState(buf);
    // A torn tail is not dropped silently: reported (read-only: nothing saved) and a verify problem.
    const torn = buf.length - st.committedEnd;
    const rec = (await ro.status()).recovered;
    const v = await ro.verify();
    if (torn > 0) {
      assert.deepEqual(rec, { epoch: (await ro.status()).epoch, discardedBytes: torn, savedTo: null }, `${why}: status().recovered (read-only)`);
      const others = v.problems.filter((p) => !new RegExp(`^${torn} bytes? after the last intact commit`).test(p));
      if (v.ok || others.length) integrity.push(`${why}: verify (read-only): ok=${v.ok}: ${v.problems.join('; ')}`);
    } else {
      assert.equal(rec, null, `${why}: status().recovered without a tail`);
      if (!v.ok) integrity.push(`${why}: verify (read-only): ${v.problems.join('; ')}`);
    }
    await ro.close();

    assert.equal(st.live.size, count, `${why}: independent reader's live count`);
    const lastId = BigInt(firstId(j + 1) - 1);
    if (j > 0) assert.deepEqual(Array.from(st.live.get(lastId)), Array.from(vectorOf(Number(lastId), j)), `${why}: on-disk row ${lastId}`);
    if (buf.length > st.committedEnd) tally.tornTail++;
    if (j > run.lastAck) tally.inFlightLanded++; else tally.atAck++;

    // writable: the dead writer's death is proven (its liveness claim died with it), so a new
    // writer takes over at once, however young its lock file, and sees the same state
    assert.ok(fs.existsSync(`${file}.lock`), `${why}: the killed writer left its lock file`);
    const w = await openCollection(file);
    await checkPrefix(w, j, rnd, `${why} (writable)`);
    // The writer saved the tail beside the file before it could cut it; verify says so until
    // discardRecovered(), and is clean after.
    const wrec = (await w.status()).recovered;
    if (torn > 0) {
      assert.ok(wrec?.savedTo, `${why}: the writable open saved the tail`);
      assert.deepEqual(fs.readFileSync(wrec.savedTo), buf.subarray(st.committedEnd), `${why}: saved bytes`);
      const vs = await w.verify();
      assert.equal(vs.ok, false, `${why}: verify reports the saved tail`);
      assert.ok(vs.problems.some((p) => p.includes(wrec.savedTo)), `${why}: ${vs.problems.join('; ')}`);
      assert.deepEqual((await w.discardRecovered()).removed, [wrec.savedTo]);
    } else {
      assert.equal(wrec, null, `${why}: status().recovered (writable) without a tail`);
    }
    const v2 = await w.verify();
    if (!v2.ok) integrity.push(`${why}: verify (writable): ${v2.problems.join('; ')}`);
    await w.close();
    // segment ids are a monotonic counter (docs/format.md §2): a writer that resumes after a crash
    // must not reuse the ids of segments a killed commit left in the file
    const ids = walk(fs.readFileSync(file)).segs.map((x) => x.id);
    const dup = ids.filter((x, i) => ids.indexOf(x) !== i);
    if (dup.length) integrity.push(`${why}: segment ids used twice in the file: ${[...new Set(dup)].join(', ')}`);
    assert.equal(fs.existsSync(`${file}.lock`), false, `${why}: close() left the lock file`);
    const left = fs.readFileSync(file);
    const end = readState(left).committedEnd;
    prevTail = left.length > end ? left.subarray(end) : null;
    committed = j;
  }
  t.diagnostic(`${ROUNDS} rounds, ${committed} commits; in-flight commit landed ${tally.inFlightLanded}x, ` +
    `stopped at last ack ${tally.atAck}x, torn tail present ${tally.tornTail}x`);
  // the file is still an rvf-node file after all of that
  const db = RvfDatabase.openReadonly(file);
  try {
    assert.equal(db.status().totalVectors, countAfter(committed));
  } finally { db.close(); }
  assert.ok(integrity.length === 0, `seed ${SEED}: the prefix property held in every round, but ` +
    `${integrity.length} integrity problems:\n${integrity.slice(0, 6).join('\n')}`);
});

// ---- b. truncation ------------------------------------------------------------------------------

/**
 * Build a small multi-commit file; returns the committed states in order, each with the byte
 * offset where its commit ends, its epoch and a model of its rows (id -> { vector, metadata }).
 */
async function buildHistory(file, { short = false } = {}) {
  const col = await openCollection(file, {
    create: { dimension: short ? 2 : 3, metric: 'euclidean', index: { type: 'hnsw', m: 4, efConstruction: 8, seed: 1 } },
  });
  const model = new Map();
  const states = [];
  const record = async (what) => {
    const st = await col.status();
    const size = fs.statSync(file).size;
    assert.equal(st.bytes, size, `status().bytes after ${what}`);
    assert.equal(st.count, model.size, `status().count after ${what}`);
    if (states.length) assert.ok(st.epoch > states.at(-1).epoch, `epoch grows at ${what}`);
    states.push({ what, end: size, epoch: st.epoch, rows: new Map([...model].map(([k, v]) => [k, { ...v }])) });
  };
  const put = (rows) => rows.forEach((r) => model.set(r.id, { vector: Float32Array.from(r.vector), metadata: r.metadata ?? null }));
  await record('create');
  if (short) {
    // a small file (the every-byte test opens each prefix): batch, delete, metadata update,
    // re-insert of a deleted id plus a vector change
    let rows = [{ id: 1, vector: [1, 0] }, { id: 2, vector: [0, 1], metadata: { k: 'a' } }, { id: 3, vector: [1, 1], metadata: { deep: { x: [1, 2] } } }];
    await col.insertBatch(rows); put(rows); await record('insertBatch 1-3');
    assert.equal(await col.delete(2), true); model.delete(2); await record('delete 2');
    await col.update(3, { metadata: { k: 'c' } }); model.get(3).metadata = { k: 'c' }; await record('update 3 metadata');
    rows = [{ id: 2, vector: [0, 2], metadata: { back: true } }, { id: 1, vector: [5, 5] }];
    await col.insertBatch(rows); put(rows); await record('insertBatch 2 (back), 1 (new vector)');
  } else {
    const v = (a, b, c) => Float32Array.from([a, b, c]);
    let rows = [{ id: 1, vector: v(1, 0, 0) }, { id: 2, vector: v(0, 1, 0) }, { id: 3, vector: v(0, 0, 1) }];
    await col.insertBatch(rows); put(rows); await record('insertBatch 1-3');
    rows = [{ id: 4, vector: v(1, 1, 0), metadata: { k: 'a', n: 1 } }, { id: 5, vector: v(0, 1, 1), metadata: { k: 'b', deep: { x: [1, 2] } } }];
    await col.insertBatch(rows); put(rows); await record('insertBatch 4-5 with metadata');
    await col.insert({ id: 6, vector: v(2, 0, 0), metadata: { s: 'six' } }); put([{ id: 6, vector: v(2, 0, 0), metadata: { s: 'six' } }]);
    await record('insert 6');
    assert.equal(await col.delete(2), true); model.delete(2); await record('delete 2');
    await col.update(4, { metadata: { k: 'c' } }); model.get(4).metadata = { k: 'c' }; await record('update 4 metadata');
    await col.update(5, { vector: v(3, 3, 3) }); model.get(5).vector = v(3, 3, 3); await record('update 5 vector');
    rows = [{ id: 2, vector: v(0, 2, 0), metadata: { back: true } }, { id: 7, vector: v(7, 7, 7) }];
    await col.insertBatch(rows); put(rows); await record('insertBatch 2 (back) and 7');
    assert.equal(await col.delete([1, 99]), 1); model.delete(1); await record('delete 1, 99');
  }
  await col.close();
  const size = fs.statSync(file).size;
  if (size > states.at(-1).end) {
    // close() committed again (the HNSW graph): same rows, a later end
    const ro = await openCollection(file, { readOnly: true });
    const st = await ro.status();
    await ro.close();
    assert.equal(st.bytes, size);
    states.push({ ...states.at(-1), what: 'close', end: size, epoch: st.epoch });
  }
  return states;
}

async function assertState(col, s, allIds, why) {
  assert.equal(await col.count(), s.rows.size, `${why}: count`);
  const st = await col.status();
  assert.equal(st.epoch, s.epoch, `${why}: epoch`);
  for (const id of allIds) {
    const got = await col.get(id);
    const want = s.rows.get(id);
    if (!want) { assert.equal(got, null, `${why}: id ${id} should be absent`); continue; }
    assert.ok(got, `${why}: id ${id} missing`);
    assert.deepEqual(Array.from(got.vector), Array.from(want.vector), `${why}: vector of ${id}`);
    assert.deepEqual(metaOrNull(got.metadata), want.metadata, `${why}: metadata of ${id}`);
  }
}

test('every byte prefix opens at the last commit wholly before the cut', { timeout: 120_000 }, async () => {
  const file = path.join(dir, 'history.rvf');
  const states = await buildHistory(file, { short: true });
  const full = fs.readFileSync(file);
  const allIds = [1, 2, 3, 4];
  // every recorded commit end is the end of a complete, hash-valid manifest (independent reader)
  const ends = new Set(commitEnds(full).map((c) => c.end));
  for (const s of states) assert.ok(ends.has(s.end), `commit '${s.what}' ends at ${s.end}, which is not a manifest end`);

  // ... and every manifest after create ends a recorded state: each API write is one commit
  for (const c of commitEnds(full)) {
    if (c.end > states[0].end) assert.ok(states.some((s) => s.end === c.end), `a manifest ends at ${c.end}, inside an API call`);
  }
  // manifests written while creating (before create resolved) are empty states
  const early = commitEnds(full).filter((c) => c.end < states[0].end)
    .map((c) => ({ what: `create (epoch ${c.epoch})`, end: c.end, epoch: c.epoch, rows: new Map() }));
  const all = [...early, ...states];

  // Cuts go from the whole file down to 0 by truncating one file in place (rewriting a file
  // thousands of times is slow on ext4), and one collection stays open so the engine is not
  // re-instantiated for every open.
  const cutFile = path.join(dir, 'cut.rvf');
  fs.writeFileSync(cutFile, full);
  const keeper = await openCollection(new Uint8Array(0), { create: { dimension: 2 } });
  const codes = new Set();
  for (let cut = full.length; cut >= 0; cut--) {
    fs.truncateSync(cutFile, cut);
    let s = null;
    for (const x of all) if (x.end <= cut) s = x;
    const why = `cut at ${cut}/${full.length}`;
    if (!s) {
      await assert.rejects(openCollection(cutFile, { readOnly: true }), (e) => {
        assert.ok(e instanceof VecliteError, `${why}: expected a VecliteError, got ${e?.name}: ${e?.message}`);
        codes.add(e.code);
        return true;
      });
      continue;
    }
    let col;
    try {
      col = await openCollection(cutFile, { readOnly: true });
    } catch (e) {
      assert.fail(`${why}: open threw ${e?.code} ${e?.message}; expected the state after '${s.what}'`);
    }
    try {
      await assertState(col, s, allIds, `${why} (after '${s.what}')`);
    } finally { await col.close(); }
  }
  await keeper.close();
  assert.deepEqual(fs.readFileSync(cutFile).length, 0);
  assert.ok(codes.size >= 1);
});

test('a writer on a torn prefix commits after the last good commit; rvf-node agrees', { timeout: 60_000 }, async () => {
  const file = path.join(dir, 'history2.rvf');
  const states = await buildHistory(file);
  const full = fs.readFileSync(file);
  const allIds = [1, 2, 3, 4, 5, 6, 7, 99, 100];
  for (let i = 0; i + 1 < states.length; i++) {
    const cut = Math.floor((states[i].end + states[i + 1].end) / 2);
    const why = `cut at ${cut} (between '${states[i].what}' and '${states[i + 1].what}')`;
    const f = path.join(dir, `torn-${i}.rvf`);
    fs.writeFileSync(f, full.subarray(0, cut));
    const w = await openCollection(f);
    // the torn bytes are kept beside the file before the write cuts them
    const rec = (await w.status()).recovered;
    assert.equal(rec?.discardedBytes, cut - states[i].end, `${why}: status().recovered`);
    assert.deepEqual(fs.readFileSync(rec.savedTo), full.subarray(states[i].end, cut), `${why}: saved tail`);
    await w.insert({ id: 100, vector: [9, 9, 9], metadata: { after: i } });
    assert.deepEqual((await w.discardRecovered()).removed, [rec.savedTo]);
    await w.close();
    const want = { ...states[i], rows: new Map(states[i].rows).set(100, { vector: Float32Array.from([9, 9, 9]), metadata: { after: i } }) };
    const ro = await openCollection(f, { readOnly: true });
    try {
      assert.equal(await ro.count(), want.rows.size, `${why}: count`);
      for (const id of allIds) {
        const got = await ro.get(id);
        const w8 = want.rows.get(id);
        if (!w8) assert.equal(got, null, `${why}: ${id} absent`);
        else {
          assert.deepEqual(Array.from(got.vector), Array.from(w8.vector), `${why}: vector of ${id}`);
          assert.deepEqual(metaOrNull(got.metadata), w8.metadata, `${why}: metadata of ${id}`);
        }
      }
      const v = await ro.verify();
      assert.equal(v.ok, true, `${why}: verify: ${v.problems.join('; ')}`);
    } finally { await ro.close(); }
    const after = fs.readFileSync(f);
    const st = readState(after);
    assert.equal(st.live.size, want.rows.size, `${why}: independent reader`);
    const segIds = walk(after).segs.map((x) => x.id);
    assert.equal(new Set(segIds).size, segIds.length, `${why}: segment ids must not repeat (docs/format.md §2 monotonic counter): ${segIds.join(',')}`);
    const db = RvfDatabase.openReadonly(f);
    try {
      assert.equal(db.status().totalVectors, want.rows.size, `${why}: rvf-node count`);
      const [hit] = db.query(Float32Array.from([9, 9, 9]), 1);
      assert.equal(hit.id, 100, `${why}: rvf-node finds the new row`);
    } finally { db.close(); }
  }
});

test('a crash between a commit\'s data and its manifest, then a close-only session: the witness chain stays intact', async () => {
  // Deterministic form of what the SIGKILL test hits at random: commit 2's VEC/META/WITNESS are
  // complete in the file but its MANIFEST is not. The next session only closes (an INDEX commit,
  // no WITNESS); the session after that ingests.
  const f = path.join(dir, 'orphan.rvf');
  let col = await openCollection(f, { create: { dimension: 4, metric: 'euclidean', index: { type: 'hnsw' } } });
  await col.insert({ id: 1, vector: [1, 2, 3, 4] });
  await col.insert({ id: 2, vector: [1, 2, 3, 5] });
  const crashed = fs.readFileSync(f);
  await col.close();
  fs.writeFileSync(f, crashed.subarray(0, commitEnds(crashed).at(-1).offset));
  fs.rmSync(`${f}.lock`, { force: true });   // a dead writer's lock would be long expired
  const torn = fs.readFileSync(f);
  col = await openCollection(f);
  assert.equal(await col.count(), 1);
  const rec = (await col.status()).recovered;
  assert.ok(rec?.savedTo, 'the orphaned commit is kept beside the file');
  assert.deepEqual(fs.readFileSync(rec.savedTo), torn.subarray(torn.length - rec.discardedBytes));
  assert.equal(fs.statSync(f).size, torn.length - rec.discardedBytes, 'saved, then cut from the file at once');
  await col.close();
  col = await openCollection(f);
  await col.insert({ id: 3, vector: [0, 0, 0, 1] });
  const kept = await col.verify();
  assert.equal(kept.ok, false, 'verify reports the saved tail until discardRecovered()');
  assert.ok(kept.problems.some((p) => p.includes(rec.savedTo)), kept.problems.join('; '));
  assert.deepEqual((await col.discardRecovered()).removed, [rec.savedTo]);
  const v = await col.verify();
  await col.close();
  const ro = await openCollection(f, { readOnly: true });
  try {
    assert.equal(await ro.count(), 2);
    assert.equal(await ro.get(2), null, 'the uncommitted row stays invisible');
  } finally { await ro.close(); }
  const segIds = walk(fs.readFileSync(f)).segs.map((x) => x.id);
  assert.equal(v.ok, true, `verify after recovery: ${v.problems.join('; ')}`);
  assert.equal(new Set(segIds).size, segIds.length, `segment ids in file order: ${segIds.join(',')}`);
});

// ---- c. corruption ------------------------------------------------------------------------------

async function twoCommits(file) {
  const col = await openCollection(file, { create: { dimension: 4, metric: 'cosine', index: { type: 'flat' } } });
  await col.insertBatch([{ id: 1, vector: [1, 0, 0, 0] }, { id: 2, vector: [0, 1, 0, 0] }]);
  const first = { count: await col.count(), epoch: (await col.status()).epoch, end: fs.statSync(file).size };
  await col.insertBatch([{ id: 3, vector: [0, 0, 1, 0] }]);
  const segs = await col.segments();
  await col.close();
  return { first, segs };
}

test('a flipped byte inside a committed VEC payload is ECORRUPT', async () => {
  const file = path.join(dir, 'vec-flip.rvf');
  const { segs } = await twoCommits(file);
  const vecs = segs.filter((s) => s.type === SEG.VEC);
  assert.ok(vecs.length >= 1, `segments(): ${JSON.stringify(segs)}`);
  const buf = fs.readFileSync(file);
  // cross-check segments() offsets against the bytes: an SFVR header of type VEC at each
  for (const s of vecs) {
    assert.equal(buf.readUInt32LE(s.offset), 0x52564653, `segments() offset ${s.offset} is not a segment header`);
    assert.equal(buf[s.offset + 5], SEG.VEC);
  }
  const s = vecs[0];
  const at = s.offset + 64 + 6 + 8 + 1;   // inside the first float of the first row
  buf[at] ^= 0x40;
  const bad = path.join(dir, 'vec-flip-bad.rvf');
  fs.writeFileSync(bad, buf);
  await rejectsWith(() => openCollection(bad, { readOnly: true }), 'ECORRUPT');
  await rejectsWith(() => openCollection(bad), 'ECORRUPT');
  assert.equal(fs.existsSync(`${bad}.lock`), false, 'a failed writable open left its lock behind');
});

test('a damaged tail manifest: the file opens at the previous commit', async () => {
  const file = path.join(dir, 'man-flip.rvf');
  const { first } = await twoCommits(file);
  const buf = fs.readFileSync(file);
  const last = commitEnds(buf).at(-1);
  assert.ok(last.end > first.end);
  for (const [what, at] of [['payload', last.offset + 64 + 1], ['header magic', last.offset + 1], ['content hash', last.offset + 0x28]]) {
    const b = Buffer.from(buf);
    b[at] ^= 0x10;
    const f = path.join(dir, `man-flip-${what.replace(/ /g, '-')}.rvf`);
    fs.writeFileSync(f, b);
    const col = await openCollection(f, { readOnly: true });
    try {
      assert.equal(await col.count(), first.count, `${what}: count`);
      assert.equal((await col.status()).epoch, first.epoch, `${what}: epoch`);
      assert.equal(await col.get(3), null, `${what}: row of the damaged commit`);
      assert.ok(await col.get(2), `${what}: row of the previous commit`);
    } finally { await col.close(); }
  }
});

test('segments of a newer format version are refused with EVERSION naming what is needed', async () => {
  const file = path.join(dir, 'v2.rvf');
  await twoCommits(file);
  const buf = fs.readFileSync(file);
  const { segs } = walk(buf);
  const all = Buffer.from(buf);
  for (const s of segs) all[s.offset + 4] = 2;
  const f1 = path.join(dir, 'v2-all.rvf');
  fs.writeFileSync(f1, all);
  await rejectsWith(() => openCollection(f1, { readOnly: true }), 'EVERSION', /version|newer|upgrade/i);
  await rejectsWith(() => openCollection(f1), 'EVERSION', /version|newer|upgrade/i);
  // only the newest (hash-valid) manifest says version 2: a newer writer committed it, so it
  // must not be skipped as if it were torn
  const tail = Buffer.from(buf);
  tail[commitEnds(buf).at(-1).offset + 4] = 2;
  const f2 = path.join(dir, 'v2-tail.rvf');
  fs.writeFileSync(f2, tail);
  await rejectsWith(() => openCollection(f2, { readOnly: true }), 'EVERSION', /version|newer|upgrade/i);
});
