// tests/js/recover.test.js — nothing is dropped silently (issue 6, point 4): bytes after the last
// intact commit are reported by status().recovered and verify(), saved beside the file before a
// writer cuts them (`<file>.recovered-<epoch>-<offset>-<ms>`), kept until discardRecovered();
// `veclite verify` always reports; recoverCollection / `veclite recover` salvage every intact row.
//
// Oracles: the rows we wrote ourselves, the byte layout (segment offsets found with the
// independent reader in fixtures/interop-rvf-reader.js), and @ruvector/rvf-node for files it writes
// and for opening the salvaged output — never the answers of the code under test alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCollection, recoverCollection } from '../../web/index.js';
import { SEG, walk } from './fixtures/interop-rvf-reader.js';

const { RvfDatabase } = createRequire(import.meta.url)('@ruvector/rvf-node');
const BIN = fileURLToPath(new URL('../../bin/veclite.js', import.meta.url));
let dir;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-recover-')); });
after(() => { if (dir && !process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true }); });

function cli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const saved = (f) => fs.readdirSync(path.dirname(f)).filter((n) => n.startsWith(`${path.basename(f)}.recovered-`));
const segsOf = (f) => walk(fs.readFileSync(f)).segs;
const vec = (v) => Array.from(v, (x) => Math.fround(x));

/** A flat store with two commits; returns the size after each. */
async function twoBatches(f, { idType = 'number' } = {}) {
  const col = await openCollection(f, { create: { dimension: 3, metric: 'euclidean', index: { type: 'flat' }, idType } });
  const id = (n) => (idType === 'string' ? `k${n}` : n);
  await col.insertBatch([1, 2, 3].map((n) => ({ id: id(n), vector: [n, 0, 1], metadata: { n, tag: 'a' } })));
  const sizeA = fs.statSync(f).size, epochA = (await col.status()).epoch;
  await col.insertBatch([4, 5].map((n) => ({ id: id(n), vector: [n, 1, 0], metadata: { n, tag: 'b' } })));
  await col.close();
  return { sizeA, epochA, sizeB: fs.statSync(f).size };
}

test('torn tail: reported read-only, saved before the first write, reported until discardRecovered, salvageable', async () => {
  const f = path.join(dir, 'torn.rvf');
  const { sizeA, epochA, sizeB } = await twoBatches(f);
  const cut = sizeB - 10; // inside the second commit's MANIFEST: its VEC and META are whole
  fs.truncateSync(f, cut);
  const tail = fs.readFileSync(f).subarray(sizeA);

  const ro = await openCollection(f, { readOnly: true });
  assert.deepEqual((await ro.status()).recovered, { epoch: epochA, discardedBytes: cut - sizeA, savedTo: null });
  let v = await ro.verify();
  assert.equal(v.ok, false);
  assert.match(v.problems.join('\n'), new RegExp(`${cut - sizeA} bytes after the last intact commit \\(epoch ${epochA}\\)`));
  await ro.close();
  assert.deepEqual(saved(f), [], 'a read-only open saves nothing');

  let w = await openCollection(f);
  const rec = (await w.status()).recovered;
  assert.equal(rec.epoch, epochA);
  assert.equal(rec.discardedBytes, cut - sizeA);
  assert.equal(path.dirname(rec.savedTo), path.dirname(fs.realpathSync(f)));
  assert.match(path.basename(rec.savedTo), new RegExp(`^torn\\.rvf\\.recovered-${epochA}-${sizeA}-\\d+$`));
  assert.deepEqual(fs.readFileSync(rec.savedTo), tail, 'the saved file holds exactly the bytes after the commit');
  assert.equal(await w.count(), 3);
  await w.insert({ id: 6, vector: [6, 6, 6], metadata: { n: 6 } });
  await w.close();
  assert.ok(fs.statSync(f).size > sizeA);
  assert.notDeepEqual(fs.readFileSync(f).subarray(sizeA, cut), tail, 'the write replaced the tail in the file');

  // A later open (tail gone from the file) still reports it, through the saved file.
  w = await openCollection(f);
  assert.deepEqual((await w.status()).recovered, rec);
  v = await w.verify();
  assert.equal(v.ok, false);
  assert.ok(v.problems.some((p) => p.includes(rec.savedTo)), v.problems.join('; '));

  // Salvage: the rows of the torn commit come back from the saved tail, with metadata.
  const out = path.join(dir, 'torn-out.rvf');
  const r = await recoverCollection(f, out);
  assert.deepEqual(r.savedTails, [rec.savedTo]);
  assert.equal(r.rows, 6);
  assert.deepEqual(r.damaged, []);
  // The torn MANIFEST itself is lost: reported as the one unreadable range, in the saved tail.
  assert.equal(r.unreadable.length, 1, JSON.stringify(r.unreadable));
  assert.equal(r.unreadable[0].source, rec.savedTo);
  assert.equal(r.ok, false);
  const o = await openCollection(out, { readOnly: true });
  try {
    assert.equal(await o.count(), 6);
    for (const n of [1, 2, 3, 4, 5]) {
      const g = await o.get(n);
      assert.deepEqual(vec(g.vector), n <= 3 ? [n, 0, 1] : [n, 1, 0]);
      assert.deepEqual(g.metadata, { n, tag: n <= 3 ? 'a' : 'b' });
    }
    assert.deepEqual((await o.get(6)).metadata, { n: 6 });
    assert.equal((await o.verify()).ok, true);
    assert.equal((await o.status()).recovered, null);
  } finally { await o.close(); }

  assert.deepEqual(await w.discardRecovered(), { removed: [rec.savedTo] });
  assert.equal((await w.status()).recovered, null);
  assert.equal((await w.verify()).ok, true);
  assert.deepEqual(saved(f), []);
  await w.close();
  const again = await openCollection(f, { readOnly: true });
  assert.equal((await again.status()).recovered, null);
  await assert.rejects(again.discardRecovered(), { code: 'EREADONLY' });
  await again.close();
});

test('memory stores opened from bytes report the tail and save nothing', async () => {
  const f = path.join(dir, 'mem.rvf');
  const { sizeA, epochA, sizeB } = await twoBatches(f);
  const bytes = new Uint8Array(fs.readFileSync(f).subarray(0, sizeB - 5));
  const col = await openCollection(bytes);
  assert.deepEqual((await col.status()).recovered, { epoch: epochA, discardedBytes: sizeB - 5 - sizeA, savedTo: null });
  assert.equal((await col.verify()).ok, false);
  await col.insert({ id: 9, vector: [1, 1, 1] });
  assert.equal((await col.status()).recovered.discardedBytes, sizeB - 5 - sizeA, 'still reported after a write');
  assert.deepEqual(await col.discardRecovered(), { removed: [] });
  assert.equal((await col.status()).recovered, null);
  assert.equal((await col.verify()).ok, true);
  await col.close();
  // Salvage from bytes: returns the new store's bytes.
  const r = await recoverCollection(bytes);
  assert.equal(r.rows, 5);
  const o = await openCollection(r.bytes, { readOnly: true });
  assert.equal(await o.count(), 5);
  await o.close();
});

test('rvf-node file, one bad byte in its last MANIFEST: a veclite write keeps the 300 rows aside; recover and rvf-node see them', async () => {
  const f = path.join(dir, 'node300.rvf');
  const db = RvfDatabase.create(f, { dimension: 8, metric: 'l2' });
  const flat = new Float32Array(300 * 8);
  for (let i = 0; i < flat.length; i++) flat[i] = Math.sin(i) + 1.5;
  db.ingestBatch(flat, Array.from({ length: 300 }, (_, i) => i + 1));
  db.close();
  const manifests = segsOf(f).filter((s) => s.type === SEG.MANIFEST);
  const last = manifests.at(-1);
  const buf = fs.readFileSync(f);
  buf[last.offset + 64 + 2] ^= 0x40; // one byte of its payload: the hash no longer verifies
  fs.writeFileSync(f, buf);

  const w = await openCollection(f);
  const st = await w.status();
  assert.equal(st.count, 0, 'the open falls back to the create manifest');
  assert.ok(st.recovered && st.recovered.savedTo, 'the dropped commit is kept');
  assert.ok(st.recovered.discardedBytes >= 300 * (8 + 32));
  assert.equal((await w.verify()).ok, false);
  await w.insert({ id: 1000, vector: [1, 2, 3, 4, 5, 6, 7, 8] });
  await w.close();
  assert.ok(fs.existsSync(st.recovered.savedTo));

  const out = path.join(dir, 'node300-out.rvf');
  const r = await recoverCollection(f, out);
  assert.equal(r.rows, 301);
  assert.equal(r.metric, 'euclidean');
  // The bad manifest is in the saved tail: reported, never applied.
  assert.ok(r.damaged.some((d) => d.typeName === 'manifest' && String(d.offset).startsWith(st.recovered.savedTo)), JSON.stringify(r.damaged));
  const o = await openCollection(out, { readOnly: true });
  try {
    assert.equal(await o.count(), 301);
    assert.deepEqual(vec((await o.get(7)).vector), Array.from(flat.subarray(6 * 8, 7 * 8)));
    assert.equal((await o.verify()).ok, true);
  } finally { await o.close(); }
  const back = RvfDatabase.openReadonly(out);
  try {
    assert.equal(back.status().totalVectors, 301);
    const [hit] = back.query(flat.subarray(41 * 8, 42 * 8), 1);
    assert.equal(hit.id, 42);
  } finally { back.close(); }
});

/** A string-id store with an upsert after the first write, a delete and a later batch. */
async function history(f) {
  const col = await openCollection(f, { create: { dimension: 2, metric: 'cosine', index: { type: 'flat' }, idType: 'string' } });
  await col.insertBatch([{ id: 'a', vector: [1, 0], metadata: { v: 1 } }, { id: 'b', vector: [0, 1], metadata: { v: 1 } },
    { id: 'c', vector: [1, 1], metadata: { v: 1 } }]);
  await col.delete('b');
  await col.insert({ id: 'a', vector: [2, 1], metadata: { v: 2, nested: { x: [1, 2] } } });
  await col.insert({ id: 'd', vector: [1, 3], metadata: { v: 1 } });
  await col.close();
}

test('recover: newest wins, deletes stay deleted, string ids and nested metadata survive a damaged last manifest', async () => {
  const f = path.join(dir, 'hist.rvf');
  await history(f);
  const buf = fs.readFileSync(f);
  const last = walk(buf).segs.filter((s) => s.type === SEG.MANIFEST).at(-1);
  buf[last.offset + 64 + 1] ^= 1;
  fs.writeFileSync(f, buf);
  const before = fs.readFileSync(f);
  const out = path.join(dir, 'hist-out.rvf');
  const r = await recoverCollection(f, out);
  assert.deepEqual(fs.readFileSync(f), before, 'the source is never modified');
  assert.equal(r.idType, 'string');
  assert.equal(r.rows, 3);
  assert.equal(r.deletesApplied, 1);
  assert.deepEqual(r.damaged.map((d) => [d.typeName, d.offset]), [['manifest', last.offset]]);
  const o = await openCollection(out, { readOnly: true });
  try {
    assert.equal(await o.count(), 3);
    assert.equal(await o.get('b'), null, 'deleted after it was written: stays deleted');
    const a = await o.get('a');
    assert.deepEqual(vec(a.vector), [2, 1], 'the newest row wins');
    assert.deepEqual(a.metadata, { v: 2, nested: { x: [1, 2] } });
    assert.deepEqual((await o.get('d')).metadata, { v: 1 }, 'the row whose manifest is damaged is salvaged');
    assert.equal((await o.verify()).ok, true);
  } finally { await o.close(); }
  await assert.rejects(recoverCollection(f, out), { code: 'EINVAL' }, 'never overwrites an existing store');
});

test('veclite verify always reports (exit 1, JSON ok:false); veclite recover salvages around a damaged committed VEC', async () => {
  const f = path.join(dir, 'cli.rvf');
  await twoBatches(f);
  const good = await cli(['verify', f, '--json']);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(JSON.parse(good.stdout).ok, true);

  const buf = fs.readFileSync(f);
  // The newest VEC: the second commit's tier merge wrote all five rows into it (the batch was
  // merged at once), and the manifest lists only it. The first VEC still holds rows 1..3.
  const vecs = walk(buf).segs.filter((s) => s.type === SEG.VEC);
  assert.ok(vecs.length >= 2);
  const firstVec = vecs.at(-1);
  buf[firstVec.offset + 64 + 10] ^= 0xff;
  fs.writeFileSync(f, buf);
  const bad = await cli(['verify', f, '--json']);
  assert.equal(bad.code, 1);
  const doc = JSON.parse(bad.stdout);
  assert.equal(doc.ok, false);
  assert.match(doc.problems[0], /^cannot open: ECORRUPT/);
  assert.deepEqual(doc.damaged.map((d) => [d.typeName, d.offset]), [['vec', firstVec.offset]]);
  assert.match(bad.stderr, /^veclite: ECORRUPT: verify found/);
  const human = await cli(['verify', f]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, new RegExp(`damaged vec segment at offset ${firstVec.offset}`));

  const out = path.join(dir, 'cli-out.rvf');
  const rec = await cli(['recover', f, out, '--json']);
  assert.equal(rec.code, 1, 'something could not be saved');
  const rd = JSON.parse(rec.stdout);
  assert.equal(rd.rows, 3);
  assert.deepEqual(rd.damaged.map((d) => d.offset), [firstVec.offset]);
  assert.match(rec.stderr, /^veclite: ECORRUPT: recover wrote .* 1 damaged segment/);
  const o = await openCollection(out, { readOnly: true });
  try {
    assert.equal(await o.count(), 3, 'rows 1..3 come back from their older intact copy');
    assert.deepEqual(vec((await o.get(1)).vector), [1, 0, 1]);
    assert.deepEqual((await o.get(3)).metadata, { n: 3, tag: 'a' });
    assert.equal(await o.get(5), null, 'its only copy is damaged');
  } finally { await o.close(); }
  const ok = await cli(['verify', out, '--json']);
  assert.equal(ok.code, 0, ok.stderr);

  // Files that do not open at all are still reported.
  const junk = path.join(dir, 'junk.rvf');
  fs.writeFileSync(junk, 'not an rvf file at all, just text\n'.repeat(4));
  for (const target of [junk, path.join(dir, 'missing.rvf')]) {
    const res = await cli(['verify', target, '--json']);
    assert.equal(res.code, 1, target);
    const d = JSON.parse(res.stdout);
    assert.equal(d.ok, false);
    assert.match(d.problems[0], /^cannot open: (ECORRUPT|ENOTFOUND)/);
  }
  const jr = JSON.parse((await cli(['verify', junk, '--json'])).stdout);
  assert.deepEqual(jr.unreadable.map((u) => [u.from, u.to]), [[0, fs.statSync(junk).size]]);
});

// ---- regressions found by an adversarial review -------------------------------------------------

test('regression: a saved tail from before a compaction does not override newer acknowledged writes', async () => {
  const { scanSegments } = await import('../../web/recover.js');
  const d = fs.mkdtempSync(path.join(dir, 'reg-h1-'));
  // The bytes of an unacknowledged commit of id 1 = [9, 9] (a VEC segment taken from another store).
  const other = path.join(d, 'other.rvf');
  let c = await openCollection(other, { create: { dimension: 2 } });
  await c.insert({ id: 1, vector: [9, 9] });
  await c.close();
  const ob = new Uint8Array(fs.readFileSync(other));
  const v = scanSegments(ob).intact.find((x) => x.type === SEG.VEC);
  const f = path.join(d, 's.rvf');
  c = await openCollection(f, { create: { dimension: 2 } });
  for (let i = 0; i < 4; i++) await c.insert({ id: 1, vector: [17, i] }); // acknowledged, newest [17, 3]
  await c.close();
  // Saved at epoch 1 at an offset that is now the file's end: the file has moved on since (its
  // commit at that end is of a later epoch), so the tail belongs before everything.
  const size = fs.statSync(f).size;
  fs.writeFileSync(`${f}.recovered-1-${size}-1`, ob.subarray(v.offset, v.offset + 64 + v.len));
  const rep = await recoverCollection(f, null);
  const r = await openCollection(rep.bytes, { readOnly: true });
  assert.deepEqual(vec((await r.get(1)).vector), vec([17, 3]), 'the newest acknowledged value wins');
  await r.close();
});

test('regression: salvage of forged overlapping headers does bounded work', async () => {
  const { scanSegments, scanBudget } = await import('../../web/recover.js');
  const n = 1 << 20;
  const b = Buffer.alloc(n);
  for (let p = 0; p + 64 <= n; p += 64) { // every 64 bytes a header claiming nearly the rest, hash set
    b.writeUInt32LE(0x52564653, p);
    b[p + 4] = 1;
    b[p + 5] = 1;
    b.writeBigUInt64LE(BigInt(Math.max(0, n - p - 64 - 32)), p + 0x10);
    b[p + 0x28] = 1;
  }
  const r = scanSegments(new Uint8Array(b));
  assert.equal(r.intact.length, 0);
  assert.ok(r.hashedBytes <= scanBudget(n), `hashed ${r.hashedBytes} bytes of a ${n}-byte file`);
  const f = path.join(fs.mkdtempSync(path.join(dir, 'reg-h2-')), 'forged.rvf');
  fs.writeFileSync(f, b);
  const rep = await recoverCollection(f, null, { dryRun: true });
  assert.equal(rep.ok, false);
});

test('regression: a tail is saved once (then cut), in chunks, and a tail larger than the free space fails the open cleanly', async () => {
  const d = fs.mkdtempSync(path.join(dir, 'reg-h34-'));
  const f = path.join(d, 's.rvf');
  let c = await openCollection(f, { create: { dimension: 2 } });
  for (let i = 0; i < 5; i++) await c.insert({ id: i, vector: [i, 1] });
  await c.close();
  const good = fs.statSync(f).size;
  const garbage = Buffer.alloc(3 << 20, 7); // larger than one copy chunk
  fs.appendFileSync(f, garbage);
  for (let k = 0; k < 3; k++) {
    c = await openCollection(f);
    assert.equal(fs.statSync(f).size, good, `open ${k}: the saved tail is cut from the file`);
    await c.close();
  }
  assert.equal(saved(f).length, 1, `saved once: ${saved(f).join(', ')}`);
  assert.deepEqual(fs.readFileSync(path.join(d, saved(f)[0])), garbage);
  c = await openCollection(f);
  await c.discardRecovered();
  await c.close();

  // Too little free space: EIO naming ENOSPC, nothing saved, nothing cut.
  fs.appendFileSync(f, garbage);
  const statfs = fs.statfsSync;
  fs.statfsSync = (...a) => ({ ...statfs(...a), bavail: 1, bsize: 4096 });
  try {
    await assert.rejects(openCollection(f), (e) => e.code === 'EIO' && /ENOSPC/.test(e.message));
  } finally {
    fs.statfsSync = statfs;
  }
  assert.equal(fs.statSync(f).size, good + garbage.length);
  assert.deepEqual(saved(f), []);
});

test('regression: no store can be created under a saved tail\'s name', async () => {
  const d = fs.mkdtempSync(path.join(dir, 'reg-h5-'));
  await assert.rejects(openCollection(path.join(d, 'a.rvf.recovered-0-0-1'), { create: { dimension: 2 } }),
    (e) => e.code === 'EINVAL' && /reserved/.test(e.message));
  assert.deepEqual(fs.readdirSync(d), []);
});
