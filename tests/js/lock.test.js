// tests/js/lock.test.js — the Node writer lock (idb/lock-file.js, docs/format.md §7, docs/api.md §7 and
// failure mode 3 "two writers on one store: the second gets ELOCK with a clear message").
//
// Everything runs in fresh temp dirs. Lock bytes are decoded and forged here with an independent
// bit-by-bit CRC-32, not with the module's encoder. Child processes (tests/js/fixtures/
// lock-holder.js) are killed in `after` hooks and also exit when their stdin closes, so none can
// outlive the run. Ages are forged by rewriting created_ns, never by sleeping.
//
// The stale rule under test (same as @ruvector/rvf-node 0.2.3): on the same host a lock is stale
// when its pid is dead AND created_ns is more than 30 s old; from another host when created_ns is
// more than 300 s old. A live pid's lock is never stale; a dead pid's young lock is still refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { Worker, BroadcastChannel } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { acquireFileLock, readFileLock, crc32 } from '../../idb/lock-file.js';
import { VecliteError } from '../../worker/errors.js';

const { RvfDatabase } = createRequire(import.meta.url)('@ruvector/rvf-node');
const FIXTURE = fileURLToPath(new URL('./fixtures/lock-holder.js', import.meta.url));
const LOCK_WORKER = new URL('./fixtures/lock-worker.js', import.meta.url);
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-lock-'));
const children = new Set();
after(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(ROOT, { recursive: true, force: true });
});

let seq = 0;
/** A fresh .rvf path (no file created) in its own directory. */
function freshPath() {
  const dir = fs.mkdtempSync(path.join(ROOT, `t${seq++}-`));
  return path.join(dir, 'x.rvf');
}

/** Reference CRC-32, bit by bit (independent of the module's table). */
function refCrc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Decode a lock file per docs/format.md §7, independently of the module. */
function decode(buf) {
  const host = buf.subarray(8, 0x48);
  const nul = host.indexOf(0);
  return {
    magic: buf.readUInt32LE(0),
    pid: buf.readUInt32LE(4),
    host: host.subarray(0, nul).toString('utf8'),
    hostNulTerminated: nul >= 0 && host.subarray(nul).every((b) => b === 0),
    createdNs: buf.readBigUInt64LE(0x48),
    writerId: buf.toString('hex', 0x50, 0x60),
    version: buf.readUInt32LE(0x60),
    crc: buf.readUInt32LE(0x64),
  };
}

/** Forge a complete lock (magic, pid, host, created_ns = now - ageS, random writer_id, crc). */
function forge({ pid, host = os.hostname(), ageS = 0, writerId = crypto.randomBytes(16) }) {
  const b = Buffer.alloc(104);
  b.writeUInt32LE(0x52564c46, 0);
  b.writeUInt32LE(pid, 4);
  b.write(host, 8, 'utf8');
  b.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(ageS * 1e9)), 0x48);
  writerId.copy(b, 0x50);
  b.writeUInt32LE(1, 0x60);
  b.writeUInt32LE(refCrc32(b.subarray(0, 0x64)), 0x64);
  return b;
}

/** Rewrite created_ns (now - ageS) and the crc of an existing lock file; optionally its host. */
function age(lockFile, ageS, host) {
  const b = fs.readFileSync(lockFile);
  if (host !== undefined) {
    b.fill(0, 8, 0x48);
    b.write(host, 8, 'utf8');
  }
  b.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(ageS * 1e9)), 0x48);
  b.writeUInt32LE(refCrc32(b.subarray(0, 0x64)), 0x64);
  fs.writeFileSync(lockFile, b);
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid() {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid;
}

/** Spawn the fixture and wait for its first JSON line. */
function hold(mode, rvfPath) {
  const child = spawn(process.execPath, [FIXTURE, mode, rvfPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', () => { children.delete(child); resolve(); }));
  const ready = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        const msg = JSON.parse(out.slice(0, nl));
        if (msg.ready) resolve(msg);
        else reject(new Error(`fixture failed: ${msg.error} ${msg.message}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`fixture exited early (${code})`)));
  });
  const kill = async () => { child.kill('SIGKILL'); await exited; };
  return { child, ready, kill };
}

/** Assert that fn rejects/throws a VecliteError ELOCK whose message names pid, host and the lock path. */
async function assertElock(fn, { pid, host, lockFile }) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof VecliteError, `expected a VecliteError, got ${err}`);
  assert.equal(err.code, 'ELOCK');
  if (pid !== undefined) {
    assert.match(err.message, new RegExp(`\\bpid ${pid}\\b`));
    assert.equal(err.holder.pid, pid);
  }
  if (host !== undefined) {
    assert.ok(err.message.includes(`"${host}"`), err.message);
    assert.equal(err.holder.host, host);
  }
  assert.ok(err.message.includes(lockFile), err.message);
  assert.match(err.message, /close the other writer, or open read-only/i);
  return err;
}

/** Make a small rvf-node store at p (it takes and drops its own lock). */
function makeStore(p) {
  RvfDatabase.create(p, { dimension: 4 }).close();
  assert.equal(fs.existsSync(`${p}.lock`), false);
}

// ---- 1. layout ---------------------------------------------------------------------------------

test('crc32 is IEEE CRC-32 (check value and random buffers against a bitwise reference)', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  for (let i = 0; i < 20; i++) {
    const b = crypto.randomBytes(1 + i * 13);
    assert.equal(crc32(b), refCrc32(b));
  }
});

test('a fresh lock file is the 104 bytes of docs/format.md §7', async () => {
  const p = freshPath();
  const before = BigInt(Date.now()) * 1_000_000n;
  const lock = await acquireFileLock(p);
  const after_ = BigInt(Date.now()) * 1_000_000n;
  try {
    const buf = fs.readFileSync(`${p}.lock`);
    assert.equal(buf.length, 104);
    const d = decode(buf);
    assert.equal(d.magic, 0x52564c46);
    assert.equal(buf.toString('latin1', 0, 4), 'FLVR'); // 0x52564C46 little-endian
    assert.equal(d.pid, process.pid);
    assert.equal(d.host, os.hostname());
    assert.ok(d.hostNulTerminated);
    assert.ok(d.createdNs >= before && d.createdNs <= after_, `${before} <= ${d.createdNs} <= ${after_}`);
    assert.notEqual(d.writerId, '0'.repeat(32));
    assert.equal(d.version, 1);
    assert.equal(d.crc, refCrc32(buf.subarray(0, 0x64)));
    assert.deepEqual(lock.holder, { pid: process.pid, host: os.hostname(), createdNs: d.createdNs, writerId: d.writerId });
    const r = readFileLock(p);
    assert.deepEqual({ ...r, mtimeMs: 0 },
      { pid: process.pid, host: os.hostname(), createdNs: d.createdNs, writerId: d.writerId, valid: true, mtimeMs: 0 });
    // no temporary files are left next to the lock
    assert.deepEqual(fs.readdirSync(path.dirname(p)), ['x.rvf.lock']);
  } finally {
    lock.release();
  }
  assert.equal(readFileLock(p), null);
  assert.deepEqual(fs.readdirSync(path.dirname(p)), []);
});

test('bad arguments are EINVAL', async () => {
  await assert.rejects(acquireFileLock(''), { code: 'EINVAL' });
  await assert.rejects(acquireFileLock(freshPath(), { pingMs: -1 }), { code: 'EINVAL' });
  await assert.rejects(acquireFileLock(freshPath(), { heartbeatMs: 0 }), { code: 'EINVAL' });
  await assert.rejects(acquireFileLock(freshPath(), { heartbeatMs: NaN }), { code: 'EINVAL' });
});

test('a lock in a missing directory is EIO, not a crash', async () => {
  await assert.rejects(acquireFileLock(path.join(ROOT, 'no-such-dir', 'x.rvf')), { code: 'EIO' });
});

// ---- 2. same process ---------------------------------------------------------------------------

test('second acquire in the same process is ELOCK; release is idempotent; then acquire works', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const a = await acquireFileLock(p);
  await assertElock(() => acquireFileLock(p), { pid: process.pid, host: os.hostname(), lockFile });
  assert.equal(a.held, true);
  assert.equal(a.release(), true);
  assert.equal(a.release(), false);
  assert.equal(a.held, false);
  assert.throws(() => a.refresh(), { code: 'ECLOSED' });
  const b = await acquireFileLock(p);
  assert.notEqual(b.holder.writerId, a.holder.writerId);
  b.release();
  assert.equal(fs.existsSync(lockFile), false);
});

test('a lock someone else replaced is not deleted by our release, and refresh reports the loss', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const lost = [];
  const a = await acquireFileLock(p, { onLost: (e) => lost.push(e) });
  const theirs = forge({ pid: process.pid, host: 'elsewhere' });
  fs.writeFileSync(`${lockFile}.x`, theirs);
  fs.renameSync(`${lockFile}.x`, lockFile);
  assert.throws(() => a.refresh(), (e) => e.code === 'ELOCK' && /taken over by pid \d+ on host "elsewhere"/.test(e.message));
  assert.equal(a.held, false);
  assert.equal(lost.length, 1);
  assert.equal(a.release(), false);
  assert.deepEqual(fs.readFileSync(lockFile), theirs);
  fs.unlinkSync(lockFile);
});

test('a deleted lock is reported as lost by refresh', async () => {
  const p = freshPath();
  const a = await acquireFileLock(p);
  fs.unlinkSync(`${p}.lock`);
  assert.throws(() => a.refresh(), (e) => e.code === 'ELOCK' && /deleted/.test(e.message));
  assert.equal(a.release(), false);
});

// ---- 2b. other threads of this process ----------------------------------------------------------

/** The OS id of this thread (Linux /proc/thread-self), or 0 where there is none. */
function ownTid() {
  try {
    return Number(/\/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'))[1]);
  } catch {
    return 0;
  }
}

/** This process's network namespace inode (Linux), or 0. */
function netnsOfThisProcess() {
  try {
    return Number(/^net:\[(\d+)\]$/.exec(fs.readlinkSync('/proc/self/ns/net'))[1]);
  } catch {
    return 0;
  }
}

/**
 * A veclite-marked writer id (idb/lock-file.js comment). First layout (v1): 8 random bytes,
 * tid, mark. Current layout (v2): 4 random bytes, network namespace, tid, mark.
 */
function markedWriterId(tid, { v2 = false, netns = netnsOfThisProcess() } = {}) {
  const id = crypto.randomBytes(16);
  if (v2) id.writeUInt32LE(netns >>> 0, 4);
  id.writeUInt32LE(tid, 8);
  crypto.createHash('sha256').update(v2 ? 'veclite-writer-id/2' : 'veclite-writer-id').update(id.subarray(0, 12)).digest().copy(id, 12, 0, 4);
  return id;
}

/** Start the lock-worker fixture on p; resolves { worker, ready, next(), sab }. */
async function lockWorker(p) {
  const sab = new SharedArrayBuffer(4);
  const worker = new Worker(LOCK_WORKER, { workerData: { path: p, sab } });
  const inbox = [];
  const waiters = [];
  worker.on('message', (m) => (waiters.length ? waiters.shift()(m) : inbox.push(m)));
  worker.on('error', (e) => { for (const w of waiters.splice(0)) w({ error: 'WORKER', message: e.message }); });
  const next = () => new Promise((resolve) => (inbox.length ? resolve(inbox.shift()) : waiters.push(resolve)));
  const ready = await next();
  return { worker, ready, next, sab };
}

test('a lock held by another thread: refused while it answers (or is busy), taken at once after worker.terminate()', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const w = await lockWorker(p);
  try {
    assert.equal(w.ready.ready, true, JSON.stringify(w.ready));
    const r = readFileLock(p);
    assert.equal(r.pid, process.pid);
    assert.equal(r.writerId, w.ready.writerId);
    // The writer id carries the holder's network namespace, thread id and the veclite mark
    // (layout in lock-file.js).
    const id = Buffer.from(r.writerId, 'hex');
    assert.equal(id.readUInt32LE(8), w.ready.tid);
    assert.equal(id.readUInt32LE(4), netnsOfThisProcess());
    const remarked = Buffer.from(id);
    crypto.createHash('sha256').update('veclite-writer-id/2').update(id.subarray(0, 12)).digest().copy(remarked, 12, 0, 4);
    assert.deepEqual(remarked, id, 'the last 4 bytes are the mark');

    // An idle holder thread is alive (a long pingMs: a loaded machine may be slow).
    let e = await assertElock(() => acquireFileLock(p, { pingMs: 20_000 }), { pid: process.pid, host: os.hostname(), lockFile });
    assert.match(e.message, /another thread of this process holds/);

    // A holder thread blocked in a long synchronous call is still alive: the lock is refused.
    if (w.ready.tid !== 0) {
      w.worker.postMessage('block');
      assert.equal(await w.next(), 'blocking');
      e = await assertElock(() => acquireFileLock(p), { pid: process.pid, lockFile });
      assert.match(e.message, /another thread of this process holds/);
      Atomics.store(new Int32Array(w.sab), 0, 1);
      Atomics.notify(new Int32Array(w.sab), 0);
      assert.equal(await w.next(), 'unblocked');
    }
    assert.equal(readFileLock(p).writerId, w.ready.writerId, 'the refused attempts changed nothing');
  } finally {
    await w.worker.terminate(); // no exit hook runs: the lock file stays behind
  }
  assert.equal(readFileLock(p).writerId, w.ready.writerId);
  // The pid is alive (it is ours) and created_ns is young, yet the holding thread is gone.
  const lock = await acquireFileLock(p);
  try {
    assert.equal(readFileLock(p).writerId, lock.holder.writerId);
    assert.equal(Buffer.from(lock.holder.writerId, 'hex').readUInt32LE(8), ownTid());
  } finally {
    lock.release();
  }
  assert.equal(fs.existsSync(lockFile), false);

  // A worker that releases normally leaves nothing behind.
  const w2 = await lockWorker(p);
  w2.worker.postMessage('release');
  assert.equal(await w2.next(), 'released');
  assert.equal(fs.existsSync(lockFile), false);
  await w2.worker.terminate();
});

test('a marked lock of this process with no thread id: held while a thread answers the ping, taken when none does', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const writerId = markedWriterId(0); // as written where /proc/thread-self is missing (macOS, Windows)
  const hex = writerId.toString('hex');
  fs.writeFileSync(lockFile, forge({ pid: process.pid, ageS: 1, writerId }));
  // A stand-in holder answering pings by the documented protocol.
  const ch = new BroadcastChannel(`veclite-lock:${lockFile}`);
  let pings = 0;
  ch.onmessage = (ev) => {
    const m = ev.data;
    if (m?.type === 'ping' && m.writerId === hex) {
      pings++;
      ch.postMessage({ type: 'pong', writerId: hex, nonce: m.nonce });
    }
  };
  try {
    const e = await assertElock(() => acquireFileLock(p, { pingMs: 20_000 }), { pid: process.pid, lockFile });
    assert.match(e.message, /another thread of this process holds/);
    assert.equal(pings, 1);
  } finally {
    ch.close();
  }
  assert.equal(readFileLock(p).writerId, hex);
  const lock = await acquireFileLock(p); // nobody answers now
  assert.equal(readFileLock(p).writerId, lock.holder.writerId);
  lock.release();

  // A marked lock naming a thread id that no thread of this process has: taken at once.
  if (ownTid() !== 0) {
    const gone = deadPid(); // a pid that is no thread of ours
    fs.writeFileSync(lockFile, forge({ pid: process.pid, ageS: 1, writerId: markedWriterId(gone) }));
    const l2 = await acquireFileLock(p);
    l2.release();
    // This thread's own id, but not held here: left behind by this thread, taken at once.
    fs.writeFileSync(lockFile, forge({ pid: process.pid, ageS: 1, writerId: markedWriterId(ownTid()) }));
    const l3 = await acquireFileLock(p);
    l3.release();
  }

  // An unmarked lock of this process (another library here, like rvf-node) keeps the pid rule.
  fs.writeFileSync(lockFile, forge({ pid: process.pid, ageS: 3600 }));
  await assertElock(() => acquireFileLock(p), { pid: process.pid, lockFile });
  fs.unlinkSync(lockFile);
});

test('every name of a file has one lock: a symlink leads to the real file\'s lock', async () => {
  const p = freshPath();
  const dir = path.dirname(p);
  fs.writeFileSync(p, '');
  fs.symlinkSync('x.rvf', path.join(dir, 'link.rvf'));
  fs.symlinkSync('.', path.join(dir, 'same-dir'));
  const a = await acquireFileLock(p);
  try {
    for (const alias of [path.join(dir, 'link.rvf'), path.join(dir, 'same-dir', 'x.rvf'), path.join(dir, 'same-dir', 'link.rvf')]) {
      await assertElock(() => acquireFileLock(alias), { pid: process.pid, lockFile: `${p}.lock` });
      assert.equal(readFileLock(alias).writerId, a.holder.writerId);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'link.rvf.lock')));
  } finally {
    a.release();
  }
  // A dangling symlink leads to the lock of the file it names (open(O_CREAT) would create it).
  fs.symlinkSync('later.rvf', path.join(dir, 'dangling.rvf'));
  const b = await acquireFileLock(path.join(dir, 'dangling.rvf'));
  assert.equal(b.path, path.join(fs.realpathSync(dir), 'later.rvf.lock'));
  b.release();
});

// ---- 3. another process ------------------------------------------------------------------------

test('a veclite lock of another process: refused while alive (however old), taken at once after SIGKILL (death is proven)', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const h = hold('veclite', p);
  const { pid } = await h.ready;
  assert.notEqual(pid, process.pid);
  const host = os.hostname();
  await assertElock(() => acquireFileLock(p), { pid, host, lockFile });

  // Alive with an ancient created_ns: a live writer is never stale.
  age(lockFile, 3600);
  const e = await assertElock(() => acquireFileLock(p), { pid, host, lockFile });
  assert.match(e.message, /that writer is running/);

  await h.kill(); // SIGKILL: its lock file stays behind, its liveness claim dies with it
  assert.equal(readFileLock(p).pid, pid);
  age(lockFile, 1); // died a second after its last heartbeat: no waiting needed
  const lock = await acquireFileLock(p);
  const now = readFileLock(p);
  assert.equal(now.pid, process.pid);
  assert.equal(now.writerId, lock.holder.writerId);
  assert.equal(now.valid, true);
  assert.deepEqual(fs.readdirSync(path.dirname(p)), ['x.rvf.lock']); // the takeover left no temp file
  lock.release();
  assert.equal(fs.existsSync(lockFile), false);
});

test('a lock whose writer cannot be proven dead (first-layout veclite id) keeps the timed rule: refused while young, taken when 30 s old', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const dead = deadPid();
  fs.writeFileSync(lockFile, forge({ pid: dead, ageS: 1, writerId: markedWriterId(0) }));
  const e = await assertElock(() => acquireFileLock(p), { pid: dead, lockFile });
  assert.match(e.message, /no longer running/);
  age(lockFile, 29);
  await assertElock(() => acquireFileLock(p), { pid: dead, lockFile });
  age(lockFile, 31);
  const lock = await acquireFileLock(p);
  assert.equal(readFileLock(p).writerId, lock.holder.writerId);
  lock.release();
});

test('a forged lock of a dead pid follows the same 30 s rule; a bad crc does not make a live lock stale', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const dead = deadPid();
  fs.writeFileSync(lockFile, forge({ pid: dead, ageS: 10 }));
  await assertElock(() => acquireFileLock(p), { pid: dead, lockFile });
  fs.writeFileSync(lockFile, forge({ pid: dead, ageS: 31 }));
  (await acquireFileLock(p)).release();

  // Live pid (ours) with a broken crc: still held, and reported as not valid.
  const b = forge({ pid: process.pid, ageS: 3600 });
  b[0x64] ^= 0xff;
  fs.writeFileSync(lockFile, b);
  assert.equal(readFileLock(p).valid, false);
  assert.equal(readFileLock(p).pid, process.pid);
  await assertElock(() => acquireFileLock(p), { pid: process.pid, lockFile });
  fs.unlinkSync(lockFile);
});

test('a garbage lock file is held by "unknown" while fresh and stale 30 s after its mtime', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  for (const junk of [Buffer.alloc(0), Buffer.from('not a lock'), crypto.randomBytes(104)]) {
    if (junk.length === 104) junk.writeUInt32LE(0x12345678, 0); // certainly a wrong magic
    fs.writeFileSync(lockFile, junk);
    const r = readFileLock(p);
    assert.equal(r.valid, false);
    assert.equal(r.pid, null);
    const e = await assertElock(() => acquireFileLock(p), { lockFile });
    assert.match(e.message, /unknown writer/);
    assert.equal(e.holder.pid, null);
    const t = new Date(Date.now() - 60_000);
    fs.utimesSync(lockFile, t, t);
    const lock = await acquireFileLock(p);
    assert.equal(readFileLock(p).writerId, lock.holder.writerId);
    lock.release();
  }
});

// ---- 4. other host -----------------------------------------------------------------------------

test('a lock from another host: refused at 100 s (pid not checked), taken at 400 s', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const dead = deadPid(); // a dead pid would free a same-host lock; it must not matter here
  fs.writeFileSync(lockFile, forge({ pid: dead, host: 'elsewhere', ageS: 100 }));
  await assertElock(() => acquireFileLock(p), { pid: dead, host: 'elsewhere', lockFile });
  age(lockFile, 299);
  await assertElock(() => acquireFileLock(p), { pid: dead, host: 'elsewhere', lockFile });
  age(lockFile, 400);
  const lock = await acquireFileLock(p);
  assert.equal(readFileLock(p).host, os.hostname());
  lock.release();
});

// ---- 5. interop with @ruvector/rvf-node 0.2.3 --------------------------------------------------

test('rvf-node refuses to open for write while veclite holds the lock, and honours our created_ns', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  makeStore(p);

  // In-process holder.
  const mine = await acquireFileLock(p);
  assert.throws(() => RvfDatabase.open(p), /LockHeld/);
  const ro = RvfDatabase.openReadonly(p); // readers take no lock and leave ours alone
  assert.equal(ro.status().readOnly, true);
  ro.close();
  assert.equal(readFileLock(p).writerId, mine.holder.writerId);
  mine.release();

  // Another process holds it, then dies: rvf-node must parse our pid and created_ns to refuse a
  // young dead lock (it deletes unparseable lock files on sight — see the control below).
  const h = hold('veclite', p);
  const { pid } = await h.ready;
  assert.throws(() => RvfDatabase.open(p), /LockHeld/);
  await h.kill();
  age(lockFile, 5);
  assert.throws(() => RvfDatabase.open(p), /LockHeld/);
  assert.equal(readFileLock(p).pid, pid);
  age(lockFile, 31);
  const db = RvfDatabase.open(p); // stale by our bytes' created_ns: rvf-node takes it over
  const theirs = readFileLock(p);
  assert.equal(theirs.pid, process.pid);
  assert.notEqual(theirs.writerId, null);
  db.close();
  assert.equal(fs.existsSync(lockFile), false);

  // It reads our hostname field too: "elsewhere" at 100 s is held, at 400 s stale.
  const other = await acquireFileLock(p);
  other.release();
  fs.writeFileSync(lockFile, forge({ pid: deadPid(), host: 'elsewhere', ageS: 100 }));
  assert.throws(() => RvfDatabase.open(p), /LockHeld/);
  age(lockFile, 400);
  RvfDatabase.open(p).close();
  assert.equal(fs.existsSync(lockFile), false);

  // Control: a fresh 104-byte file with a wrong magic is deleted by rvf-node at once (which is
  // why our lock is never visible half-written).
  const junk = forge({ pid: process.pid });
  junk.writeUInt32LE(0x12345678, 0);
  fs.writeFileSync(lockFile, junk);
  RvfDatabase.open(p).close();
  assert.equal(fs.existsSync(lockFile), false);
});

test('veclite refuses while rvf-node holds the store open for write; rvf-node\'s lock decodes as valid', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const db = RvfDatabase.create(p, { dimension: 4 });
  try {
    const r = readFileLock(p);
    assert.equal(r.valid, true); // rvf-node's crc is the same IEEE CRC-32 over bytes 0..0x64
    assert.equal(r.pid, process.pid);
    const buf = fs.readFileSync(lockFile);
    assert.equal(buf.length, 104);
    assert.equal(decode(buf).crc, refCrc32(buf.subarray(0, 0x64)));
    // rvf-node's created_ns is the wall clock in ns since the epoch
    const skewMs = Number(BigInt(Date.now()) * 1_000_000n - r.createdNs) / 1e6;
    assert.ok(skewMs > -60_000 && skewMs < 60_000, `created_ns is ${skewMs} ms from Date.now()`);
    await assertElock(() => acquireFileLock(p), { pid: process.pid, host: r.host, lockFile });
  } finally {
    db.close();
  }
  assert.equal(fs.existsSync(lockFile), false);
  (await acquireFileLock(p)).release();

  // read-only opens take no lock
  const ro = RvfDatabase.openReadonly(p);
  assert.equal(fs.existsSync(lockFile), false);
  (await acquireFileLock(p)).release(); // and do not stop a writer
  ro.close();
});

test('a dead rvf-node writer\'s lock: refused while young, taken over when 30 s old', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  makeStore(p);
  const h = hold('rvf-node', p);
  const { pid } = await h.ready;
  const host = readFileLock(p).host;
  await assertElock(() => acquireFileLock(p), { pid, host, lockFile });
  await h.kill();
  await assertElock(() => acquireFileLock(p), { pid, host, lockFile });
  age(lockFile, 31);
  const lock = await acquireFileLock(p);
  assert.throws(() => RvfDatabase.open(p), /LockHeld/);
  lock.release();
  RvfDatabase.open(p).close();
});

// ---- 6. heartbeat ------------------------------------------------------------------------------

test('the heartbeat keeps created_ns fresh (and touches the mtime)', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const lock = await acquireFileLock(p, { heartbeatMs: 50 });
  try {
    const first = decode(fs.readFileSync(lockFile));
    const firstMtime = fs.statSync(lockFile).mtimeMs;
    await new Promise((r) => setTimeout(r, 200));
    // Poll rather than trust one 200 ms sleep on a loaded machine (no timing assertion).
    let cur = decode(fs.readFileSync(lockFile));
    for (let i = 0; i < 100 && cur.createdNs === first.createdNs; i++) {
      await new Promise((r) => setTimeout(r, 50));
      cur = decode(fs.readFileSync(lockFile));
    }
    assert.ok(cur.createdNs > first.createdNs, 'created_ns advanced');
    assert.ok(fs.statSync(lockFile).mtimeMs > firstMtime, 'mtime advanced');
    assert.equal(cur.writerId, first.writerId);
    assert.equal(cur.pid, process.pid);
    const buf = fs.readFileSync(lockFile);
    assert.equal(cur.crc, refCrc32(buf.subarray(0, 0x64)));
    assert.equal(lock.holder.createdNs >= cur.createdNs, true);
  } finally {
    lock.release();
  }
});

test('refresh() rewrites created_ns; a refreshed lock of another host is not stale', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const lock = await acquireFileLock(p);
  age(lockFile, 400, 'elsewhere'); // pretend we were on another host and fell 400 s behind
  lock.refresh();
  const d = decode(fs.readFileSync(lockFile));
  assert.ok(BigInt(Date.now()) * 1_000_000n - d.createdNs < 60_000_000_000n);
  assert.equal(d.host, os.hostname()); // refresh writes the whole lock again
  await assertElock(() => acquireFileLock(p), { pid: process.pid, lockFile });
  lock.release();
});

test('the heartbeat never keeps a process alive, and a normal exit removes the lock', async () => {
  const p = freshPath();
  const mod = new URL('../../idb/lock-file.js', import.meta.url).href;
  const src = `const { acquireFileLock } = await import(${JSON.stringify(mod)});
    await acquireFileLock(${JSON.stringify(p)}, { heartbeatMs: 20 });
    process.stdout.write('held');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code, signal] = await new Promise((r) => child.once('exit', (c, s) => r([c, s])));
  clearTimeout(killer);
  children.delete(child);
  assert.equal(signal, null, 'the child had to be killed: something kept it alive');
  assert.equal(code, 0);
  assert.equal(out, 'held');
  assert.equal(fs.existsSync(`${p}.lock`), false);
});

// ---- 5. proofs of death, reused pids, clocks ----------------------------------------------------

test('a dead pid reused by a younger, unrelated process does not keep a lock alive', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { stdio: 'ignore' });
  children.add(other);
  try {
    await new Promise((r) => setTimeout(r, 200));
    // Written a second ago: the live process could be its writer, so the lock holds.
    fs.writeFileSync(lockFile, forge({ pid: other.pid, ageS: 1 }));
    const e = await assertElock(() => acquireFileLock(p), { pid: other.pid, lockFile });
    assert.match(e.message, /that process is running/);
    // Written 60 s ago by pid N, but the process now called N started a moment ago: not the
    // writer (its pid was reused), and the writer's lock is past the timed rule.
    fs.writeFileSync(lockFile, forge({ pid: other.pid, ageS: 60 }));
    const lock = await acquireFileLock(p);
    assert.equal(readFileLock(p).writerId, lock.holder.writerId);
    lock.release();
    // Reused but young: the timed rule still applies (death not proven).
    fs.writeFileSync(lockFile, forge({ pid: other.pid, ageS: 20 }));
    const e2 = await assertElock(() => acquireFileLock(p), { pid: other.pid, lockFile });
    assert.match(e2.message, /its pid now belongs to a younger process/);
  } finally {
    other.kill('SIGKILL');
    children.delete(other);
  }
});

test('a lock from the future: a dead veclite writer is taken at once; otherwise it expires by its last change', async () => {
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const day = 86_400;
  // A veclite writer of this namespace that is gone: proven dead, whatever its timestamp says.
  if (netnsOfThisProcess() !== 0) {
    fs.writeFileSync(lockFile, forge({ pid: deadPid(), ageS: -day, writerId: markedWriterId(0, { v2: true }) }));
    const l = await acquireFileLock(p);
    l.release();
  }
  // rvf-node's kind (no proof of death): a created_ns a day ahead counts from the file's mtime.
  const dead = deadPid();
  fs.writeFileSync(lockFile, forge({ pid: dead, ageS: -day }));
  const e = await assertElock(() => acquireFileLock(p), { pid: dead, lockFile });
  assert.match(e.message, /lies in the future/);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(lockFile, old, old);
  const lock = await acquireFileLock(p);
  assert.equal(readFileLock(p).writerId, lock.holder.writerId);
  lock.release();
});

test('a veclite lock from another network namespace expires when its heartbeat stops, even if its pid runs here', async () => {
  if (netnsOfThisProcess() === 0) return; // no namespaces to tell apart on this platform
  const p = freshPath();
  const lockFile = `${p}.lock`;
  const writerId = markedWriterId(0, { v2: true, netns: netnsOfThisProcess() + 1 });
  fs.writeFileSync(lockFile, forge({ pid: process.pid, ageS: 10, writerId }));
  const e = await assertElock(() => acquireFileLock(p), { pid: process.pid, lockFile });
  assert.match(e.message, /another network namespace/);
  fs.writeFileSync(lockFile, forge({ pid: process.pid, ageS: 40, writerId }));
  const lock = await acquireFileLock(p);
  assert.equal(readFileLock(p).writerId, lock.holder.writerId);
  lock.release();
});

test('a writer that compacts while a second writer judges its lock keeps it (the hello came before the stat)', async () => {
  // The second writer's identity is the file before a first compaction (it opened it then): free.
  // Between the holder's hello (ino of image 1) and the stat of the name, the holder compacts
  // again (image 2 takes the name). That is a live writer of the file at the name, not a writer
  // that "writes another file now": ELOCK, the holder keeps its lock.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-lock-compact-'));
  const f = path.join(dir, 'a.rvf');
  fs.writeFileSync(f, 'x');
  const statId = (p) => { const s = fs.statSync(p, { bigint: true }); return { dev: s.dev, ino: s.ino }; };
  const old = statId(f);
  fs.linkSync(f, path.join(dir, 'keep')); // the old inode stays allocated: no image reuses its number
  const a = await acquireFileLock(f);
  const compact = async (n) => {
    const tmp = `${f}.img${n}`;
    fs.writeFileSync(tmp, `image ${n}`);
    const next = statId(tmp);
    await a.claimNext(next);
    return () => { fs.renameSync(tmp, f); a.adoptNext(next); };
  };
  (await compact(1))();
  const second = await compact(2); // claimed; renamed in the middle of the judgement below
  const statSync = fs.statSync;
  fs.statSync = function (p, ...rest) {
    if (p === f && second) { fs.statSync = statSync; second(); }
    return statSync.call(this, p, ...rest);
  };
  try {
    await assert.rejects(acquireFileLock(f, { identity: old }), (e) => e.code === 'ELOCK');
    assert.equal(a.held, true);
    a.refresh(); // still ours
  } finally {
    fs.statSync = statSync;
    a.release();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a writer that compacts twice while a second writer judges its lock keeps it (its hello changed meanwhile)', async () => {
  // As above, and the holder compacts once more right after the stat: the image the stat saw
  // is no longer claimed by anyone, but the holder's hello now names a third file: it is alive
  // and compacting, not a writer that lost its file.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-lock-compact2-'));
  const f = path.join(dir, 'a.rvf');
  fs.writeFileSync(f, 'x');
  const statId = (p) => { const s = fs.statSync(p, { bigint: true }); return { dev: s.dev, ino: s.ino }; };
  const old = statId(f);
  const a = await acquireFileLock(f);
  const compact = async (n) => {
    const tmp = `${f}.img${n}`;
    fs.writeFileSync(tmp, `image ${n}`);
    const next = statId(tmp);
    await a.claimNext(next);
    // the replaced file stays linked: no later image reuses its inode number
    return () => { fs.linkSync(f, `${f}.keep${n}`); fs.renameSync(tmp, f); a.adoptNext(next); };
  };
  (await compact(1))();
  const second = await compact(2);
  const third = await compact(3);
  const statSync = fs.statSync;
  fs.statSync = function (p, ...rest) {
    if (p !== f) return statSync.call(this, p, ...rest);
    fs.statSync = statSync;
    second();
    const st = statSync.call(this, p, ...rest);
    third(); // after the stat, before anyone asks who claims what it saw
    return st;
  };
  try {
    await assert.rejects(acquireFileLock(f, { identity: old }), (e) => e.code === 'ELOCK');
    assert.equal(a.held, true);
    a.refresh(); // still ours
  } finally {
    fs.statSync = statSync;
    a.release();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a writer whose compactions lead back to an inode number it wrote before keeps its lock (numbers are reused)', async () => {
  // The hello names image 1; the stat sees image 2; then a compaction puts a file with image 1's
  // inode number at the name (the file system reused it). Asked again, the holder names the same
  // (dev, ino) as before: only its count of compactions shows it moved. Held.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-lock-compact3-'));
  const f = path.join(dir, 'a.rvf');
  fs.writeFileSync(f, 'x');
  const statId = (p) => { const s = fs.statSync(p, { bigint: true }); return { dev: s.dev, ino: s.ino }; };
  const old = statId(f);
  fs.linkSync(f, `${f}.keep0`); // no image reuses the opener's inode number
  const a = await acquireFileLock(f);
  fs.writeFileSync(`${f}.img1`, 'image 1');
  const one = statId(`${f}.img1`);
  await a.claimNext(one);
  fs.renameSync(`${f}.img1`, f);
  a.adoptNext(one);
  fs.writeFileSync(`${f}.img2`, 'image 2');
  const two = statId(`${f}.img2`);
  await a.claimNext(two);
  const statSync = fs.statSync;
  fs.statSync = function (p, ...rest) {
    if (p !== f) return statSync.call(this, p, ...rest);
    fs.statSync = statSync;
    fs.linkSync(f, `${f}.keep1`); // image 1's inode, to come back as "a new image" below
    fs.renameSync(`${f}.img2`, f);
    a.adoptNext(two);
    const st = statSync.call(this, p, ...rest);
    fs.renameSync(`${f}.keep1`, f); // the reused number
    a.adoptNext(one);
    return st;
  };
  try {
    await assert.rejects(acquireFileLock(f, { identity: old }), (e) => e.code === 'ELOCK');
    assert.equal(a.held, true);
    a.refresh(); // still ours
  } finally {
    fs.statSync = statSync;
    a.release();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
