// tests/js/single-writer.test.js — one writer per FILE, whatever name reaches it, and a writer
// that lost its file refuses to write (the Node file backend).
//
// What it asserts:
// - a second writer through a hard link, a rename, a symlink or a second database over the same
//   folder gets ELOCK naming the holder (in this process and from another process);
// - a writer whose file was renamed, replaced or deleted under it refuses its next write
//   (EREADONLY, "database moved") and its close writes nothing into the file;
// - compact() after the folder was renamed and a new store made at the old path refuses, leaving
//   the new store byte-for-byte as it was;
// - 4 processes racing for a stale lock, 50 rounds: exactly one writer each round, the store
//   verifies with every round's row;
// - a writer killed by SIGKILL restarts at once, 40 rounds: no ELOCK, no acknowledged batch lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, openCollection } from '../../web/index.js';
import { rejectsWith } from './helpers.js';
import { tempRoot } from './temp-root.js';

const RACER = fileURLToPath(new URL('./fixtures/race-writer.js', import.meta.url));
const ACKER = fileURLToPath(new URL('./fixtures/ack-writer.js', import.meta.url));
const { root: ROOT, children, freshDir } = tempRoot('veclite-sw-');

/** A store with rows 0..n-1 at `file`, closed. */
async function makeStore(file, n = 3) {
  const col = await openCollection(file, { create: { dimension: 2 } });
  for (let i = 0; i < n; i++) await col.insert({ id: i, vector: [i, 1] });
  await col.close();
}

/** A child process speaking JSON lines (fixtures above); next() resolves its next line. */
function child(script, args = []) {
  const c = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(c);
  const inbox = [];
  const waiters = [];
  let buf = '';
  c.stdout.on('data', (d) => {
    buf += d;
    for (let nl; (nl = buf.indexOf('\n')) >= 0;) {
      const m = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (waiters.length) waiters.shift()(m);
      else inbox.push(m);
    }
  });
  const exited = new Promise((resolve) => c.once('exit', () => {
    children.delete(c);
    for (const w of waiters.splice(0)) w({ exited: true });
    resolve();
  }));
  const next = () => new Promise((resolve) => (inbox.length ? resolve(inbox.shift()) : waiters.push(resolve)));
  return { c, next, inbox, exited, send: (m) => c.stdin.write(JSON.stringify(m) + '\n') };
}

test('a hard link, a rename, a symlink or a second database reaching an open file gets ELOCK naming the holder', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'c.rvf');
  await makeStore(file);
  const a = await openCollection(file);
  try {
    fs.linkSync(file, path.join(dir, 'copy.rvf')); // as `cp -al` backups make
    fs.symlinkSync('c.rvf', path.join(dir, 'sym.rvf'));
    for (const other of ['copy.rvf', 'sym.rvf']) {
      await rejectsWith(() => openCollection(path.join(dir, other)), 'ELOCK',
        new RegExp(`pid ${process.pid} on host .*close the other writer, or open read-only`, 'i'));
    }
    // The same from another process: the claim is the kernel's, not this process's memory.
    const r = child(RACER);
    assert.equal((await r.next()).ready, true);
    r.send({ cmd: 'open', path: path.join(dir, 'copy.rvf'), id: 99 });
    const ans = await r.next();
    assert.equal(ans.error, 'ELOCK', JSON.stringify(ans));
    assert.match(ans.message, new RegExp(`pid ${process.pid}\\b.*under another name, ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    // Readers are never refused.
    const ro = await openCollection(path.join(dir, 'copy.rvf'), { readOnly: true });
    assert.equal(await ro.count(), 3);
    await ro.close();
    r.c.stdin.end();
    await r.exited;

    // Two databases over one folder: the second cannot write the first one's collection.
    const db1 = await createDatabase({ path: path.join(dir, 'db') });
    const db2 = await createDatabase({ path: path.join(dir, 'db') });
    const x = await db1.createCollection('x', { dimension: 2 });
    await x.insert({ id: 1, vector: [1, 1] });
    await rejectsWith(() => db2.getCollection('x'), 'ELOCK', /pid \d+ on host/);
    await db1.close();
    await db2.close();
  } finally {
    await a.close();
  }
  // After the writer closed, the other name writes (it is the same file).
  const b = await openCollection(path.join(dir, 'copy.rvf'));
  await b.insert({ id: 3, vector: [3, 1] });
  await b.close();
  const c = await openCollection(file, { readOnly: true });
  assert.equal(await c.count(), 4);
  await c.close();

  // A renamed file keeps its writer: a new writer through the new name is refused.
  const w = await openCollection(file);
  fs.renameSync(file, path.join(dir, 'moved.rvf'));
  await rejectsWith(() => openCollection(path.join(dir, 'moved.rvf')), 'ELOCK', /under another name/);
  await w.close();
});

test('a writer whose file was renamed, replaced or deleted refuses its next write, and its close writes nothing', async () => {
  for (const how of ['rename', 'replace', 'delete', 'folder']) {
    const base = freshDir();
    const dir = path.join(base, 'd');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'c.rvf');
    await makeStore(file);
    const w = await openCollection(file);
    await w.insert({ id: 10, vector: [10, 1] }); // fine while the file is where it was
    let keep; // the path where the writer's inode now lives (or null when deleted)
    if (how === 'rename') {
      keep = path.join(dir, 'elsewhere.rvf');
      fs.renameSync(file, keep);
    } else if (how === 'replace') {
      keep = path.join(dir, 'old.rvf');
      fs.renameSync(file, keep);
      await makeStore(file, 1); // another store now answers to the old name
    } else if (how === 'delete') {
      keep = null;
      fs.unlinkSync(file);
    } else {
      keep = path.join(base, 'd2', 'c.rvf');
      fs.renameSync(dir, path.join(base, 'd2'));
    }
    const before = keep ? fs.readFileSync(keep) : null;
    const replacedBytes = how === 'replace' ? fs.readFileSync(file) : null;
    await rejectsWith(() => w.insert({ id: 11, vector: [11, 1] }), 'EREADONLY', /since this writer opened it/);
    await rejectsWith(() => w.delete(10), 'EREADONLY'); // sticky
    await w.close(); // no checkpoint into a file that moved
    if (keep) assert.deepEqual(fs.readFileSync(keep), before, `${how}: close wrote nothing`);
    if (replacedBytes) assert.deepEqual(fs.readFileSync(file), replacedBytes, 'the new store at the old name is untouched');
    if (keep) {
      const r = await openCollection(keep, { readOnly: true });
      assert.equal(await r.count(), 4, `${how}: the acknowledged rows are all there, the refused one is not`);
      assert.equal(await r.get(11), null);
      await r.close();
    }
  }
});

test('compact() after its folder was renamed and a new store made at the old path refuses, and touches neither file', async () => {
  const base = freshDir();
  const dir = path.join(base, 'db');
  const file = path.join(dir, 'c.rvf');
  fs.mkdirSync(dir);
  await makeStore(file, 5);
  const w = await openCollection(file);
  await w.delete(0); // something to compact
  fs.renameSync(dir, path.join(base, 'db-old'));
  fs.mkdirSync(dir);
  await makeStore(file, 2); // another database's new file at the old path
  const other = fs.readFileSync(file);
  const mine = fs.readFileSync(path.join(base, 'db-old', 'c.rvf'));
  await rejectsWith(() => w.compact(), 'EREADONLY', /renamed|replaced/);
  assert.deepEqual(fs.readFileSync(file), other, 'the other database is byte-for-byte as it was');
  assert.deepEqual(fs.readFileSync(path.join(base, 'db-old', 'c.rvf')), mine);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['c.rvf'], 'no compaction leftovers beside it');
  await w.close();
  const r = await openCollection(file, { readOnly: true });
  assert.equal(await r.count(), 2);
  await r.close();
});

test('a compacted store keeps one writer: its new file is claimed, a second writer is refused', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'c.rvf');
  await makeStore(file, 5);
  const w = await openCollection(file);
  await w.delete(1);
  await w.compact();
  fs.linkSync(file, path.join(dir, 'link.rvf')); // a name made after compaction
  await rejectsWith(() => openCollection(path.join(dir, 'link.rvf')), 'ELOCK', /under another name/);
  await w.insert({ id: 7, vector: [7, 1] }); // still the writer of the (new) file
  await w.close();
  const r = await openCollection(path.join(dir, 'link.rvf'), { readOnly: true });
  assert.equal(await r.count(), 5);
  await r.close();
});

/** Forge a stale lock file: a dead writer's (no liveness claim), 60 s old, in rvf-node's style. */
function staleLock(lockFile, deadPid) {
  const b = Buffer.alloc(104);
  b.writeUInt32LE(0x52564c46, 0);
  b.writeUInt32LE(deadPid, 4);
  b.write(os.hostname(), 8, 'utf8');
  b.writeBigUInt64LE(BigInt(Date.now() - 60_000) * 1_000_000n, 0x48);
  crypto.randomBytes(16).copy(b, 0x50);
  b.writeUInt32LE(1, 0x60);
  // The CRC is not checked by either implementation's staleness rule; leave it zero.
  fs.writeFileSync(lockFile, b);
}

test('4 processes racing for a stale lock, 50 rounds: exactly one writer each round, the store verifies', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'c.rvf');
  const col = await openCollection(file, { create: { dimension: 2 } });
  await col.close();
  const racers = [child(RACER), child(RACER), child(RACER), child(RACER)];
  for (const r of racers) assert.equal((await r.next()).ready, true);
  const dead = racers[0].c.pid + 1_000_000; // above any pid_max: certainly no process
  const ROUNDS = 50;
  for (let round = 0; round < ROUNDS; round++) {
    staleLock(`${file}.lock`, dead);
    for (const r of racers) r.send({ cmd: 'open', path: file, id: round });
    const answers = await Promise.all(racers.map((r) => r.next()));
    const winners = answers.filter((a) => a.ok);
    assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(answers)}`);
    for (const a of answers.filter((x) => !x.ok)) {
      assert.equal(a.error, 'ELOCK', `round ${round}: ${JSON.stringify(a)}`);
      assert.match(a.message, /held by pid \d+ on host/, 'the refusal names the holder');
    }
    const w = racers[answers.findIndex((a) => a.ok)];
    w.send({ cmd: 'close' }); // the winner held the store while the others tried
    assert.deepEqual(await w.next(), { closed: true });
    assert.equal(fs.existsSync(`${file}.lock`), false, 'the winner released its lock on close');
  }
  for (const r of racers) r.c.stdin.end();
  await Promise.all(racers.map((r) => r.exited));
  const after = await openCollection(file, { readOnly: true });
  assert.equal(await after.count(), ROUNDS);
  for (let round = 0; round < ROUNDS; round++) assert.ok(await after.get(round), `row of round ${round}`);
  const v = await after.verify();
  assert.equal(v.ok, true, JSON.stringify(v));
  await after.close();
});

test('a writer killed by SIGKILL restarts at once, 40 rounds: no ELOCK, no acknowledged batch lost', async () => {
  const dir = freshDir();
  const file = path.join(dir, 'c.rvf');
  const B = 16;
  let acked = -1; // highest acknowledged id
  const ROUNDS = 40;
  for (let round = 0; round < ROUNDS; round++) {
    const w = child(ACKER, [file, String(B)]);
    const ready = await w.next();
    assert.equal(ready.ready, true, `round ${round}: restart refused: ${JSON.stringify(ready)}`);
    assert.ok(ready.count >= acked + 1, `round ${round}: ${ready.count} rows, but ids up to ${acked} were acknowledged`);
    assert.equal(ready.count % B, 0, 'commits are whole batches');
    assert.equal(ready.complete, true, 'every id below the count is present');
    // Let it acknowledge a few batches (a random number, at least one), then kill it mid-stream.
    const want = 1 + (round % 4);
    for (let k = 0; k < want; k++) {
      const m = await w.next();
      assert.ok(typeof m.acked === 'number', JSON.stringify(m));
      acked = m.acked;
    }
    w.c.kill('SIGKILL');
    await w.exited;
    for (const m of w.inbox) if (typeof m.acked === 'number') acked = Math.max(acked, m.acked);
  }
  const r = await openCollection(file, { readOnly: true });
  assert.ok((await r.count()) >= acked + 1);
  await r.close();
});

test('a writer whose file was deleted gives up its claim: a new file that reuses the inode number is not locked out', async () => {
  const { acquireFileLock } = await import('../../idb/lock-file.js');
  const dir = freshDir();
  const file = path.join(dir, 'c.rvf');
  await makeStore(file);
  const w = await openCollection(file);
  const st = fs.statSync(file, { bigint: true });
  fs.unlinkSync(file);
  fs.unlinkSync(`${file}.lock`); // as `rm c.rvf*` would
  // A new file at the same path; file systems reuse inode numbers, so claim the old one
  // explicitly: the writer of the deleted file must let it go.
  fs.writeFileSync(file, '');
  const lock = await acquireFileLock(file, { identity: { dev: st.dev, ino: st.ino } });
  lock.release();
  await rejectsWith(() => w.insert({ id: 9, vector: [9, 1] }), 'EREADONLY', /deleted/);
  await w.close();
  // And through the public API, with whatever inode the new file got.
  fs.rmSync(file);
  await makeStore(file, 2);
  const r = await openCollection(file);
  assert.equal(await r.count(), 2);
  await r.close();
});

// ---- regressions found by an adversarial review ------------------------------------------------

const BUSY = fileURLToPath(new URL('./fixtures/busy-writer.js', import.meta.url));

test('regression: a lock granted after the previous writer commits and closes appends after its commits, not over them', async () => {
  for (let round = 0; round < 3; round++) {
    const dir = freshDir();
    const file = path.join(dir, 's.rvf');
    const a = spawn(process.execPath, [BUSY, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(a);
    let out = '';
    a.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((r) => a.once('exit', () => { children.delete(a); r(); }));
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 150 + 100 * round)); // A is busy now
    // B opens the file now and may be granted the lock only once A has committed 2, 3 and closed.
    const b = await openCollection(file, { create: { dimension: 2 } }).catch((e) => e);
    await exited;
    assert.match(out, /acked/);
    if (b instanceof Error) {
      assert.equal(b.code, 'ELOCK', b.message); // refused while A lived: fine
      continue;
    }
    await b.insert({ id: 10, vector: [9, 9] });
    await b.close();
    const r = await openCollection(file, { readOnly: true });
    for (const id of [1, 2, 3, 10]) assert.ok(await r.get(id), `round ${round}: id ${id} was acknowledged and must be there`);
    assert.equal((await r.verify()).ok, true);
    await r.close();
  }
});

test('regression: names ending in .compact.tmp cannot be opened for writing (compaction replaces them)', async () => {
  const dir = freshDir();
  await rejectsWith(() => openCollection(path.join(dir, 'x.rvf.compact.tmp'), { create: { dimension: 2 } }), 'EINVAL', /reserved for compaction/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('regression: `..` after a symlinked folder is resolved as the kernel does, so both names share one writer', async () => {
  const dir = freshDir();
  fs.mkdirSync(path.join(dir, 'other', 'sub'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'd'));
  fs.symlinkSync(path.join(dir, 'other', 'sub'), path.join(dir, 'd', 'link'));
  const w = await openCollection(`${dir}/d/link/../x.rvf`, { create: { dimension: 2 } });
  try {
    assert.ok(fs.existsSync(path.join(dir, 'other', 'x.rvf')), 'the file open() would name');
    assert.ok(!fs.existsSync(path.join(dir, 'd', 'x.rvf')));
    await rejectsWith(() => openCollection(path.join(dir, 'other', 'x.rvf')), 'ELOCK');
  } finally {
    await w.close();
  }
});

test('regression: a symlink put where the file was counts as moved; compact() never renames over it', async () => {
  const dir = freshDir();
  const p = path.join(dir, 'a.rvf');
  const n = path.join(dir, 'moved.rvf');
  const c = await openCollection(p, { create: { dimension: 2 } });
  await c.insert({ id: 1, vector: [1, 1] });
  fs.renameSync(p, n);
  fs.symlinkSync(n, p);
  await rejectsWith(() => c.insert({ id: 2, vector: [2, 2] }), 'EREADONLY');
  await rejectsWith(() => c.compact(), 'EREADONLY');
  await c.close();
  assert.ok(fs.lstatSync(p).isSymbolicLink(), 'the symlink is still a symlink');
  const w2 = await openCollection(n);
  assert.equal(await w2.count(), 1);
  await w2.close();
});

test('regression: probing a claim whose holder lets go at that moment says "gone", never throws', async () => {
  const { claim, probe } = await import('../../idb/lock-claim.js');
  if (process.platform !== 'linux') return;
  const seen = {};
  for (let i = 0; i < 30; i++) {
    const name = `test/${process.pid}/${i}`;
    const c = await claim(name, { pid: process.pid });
    const pr = probe(name);
    c.close();
    const r = await pr; // rejects on ECONNRESET before the fix
    seen[r.state] = (seen[r.state] ?? 0) + 1;
  }
  for (const s of Object.keys(seen)) assert.ok(['gone', 'dead', 'alive'].includes(s), JSON.stringify(seen));
});

test('a NUL character in a path is EINVAL, for every call that takes a path', async () => {
  const dir = freshDir();
  await rejectsWith(() => openCollection(`${dir}/a\0b.rvf`, { create: { dimension: 2 } }), 'EINVAL', /NUL/);
  await rejectsWith(() => openCollection(`${dir}/a\0b.rvf`, { readOnly: true }), 'EINVAL', /NUL/);
  await rejectsWith(() => createDatabase({ path: `${dir}/d\0b` }), 'EINVAL', /NUL/);
  const c = await openCollection(path.join(dir, 'ok.rvf'), { create: { dimension: 2 } });
  await rejectsWith(() => c.derive(`${dir}/child\0.rvf`), 'EINVAL', /NUL/);
  await c.close();
  assert.deepEqual(fs.readdirSync(dir), ['ok.rvf']);
});

test('a writer whose lock file was deleted or replaced refuses its next write (ELOCK)', async () => {
  for (const how of ['delete', 'replace']) {
    const dir = freshDir();
    const file = path.join(dir, 'c.rvf');
    await makeStore(file);
    const w = await openCollection(file);
    await w.insert({ id: 5, vector: [5, 1] }); // the check has seen its lock once
    if (how === 'delete') {
      fs.unlinkSync(`${file}.lock`);
    } else {
      const other = Buffer.from(fs.readFileSync(`${file}.lock`));
      other.fill(0x41, 0x50, 0x60); // another writer id
      fs.writeFileSync(`${file}.lock.new`, other);
      fs.renameSync(`${file}.lock.new`, `${file}.lock`);
    }
    await rejectsWith(() => w.insert({ id: 6, vector: [6, 1] }), 'ELOCK', how === 'delete' ? /deleted/ : /taken over/);
    await w.close();
    const r = await openCollection(file, { readOnly: true });
    assert.equal(await r.get(6), null, `${how}: the refused row is not there`);
    assert.ok(await r.get(5));
    await r.close();
  }
});
