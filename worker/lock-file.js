// worker/lock-file.js — the Node single-writer lock: `<file>.rvf.lock` (FORMAT.md §7, SPEC.md F7).
//
// A writer of `x.rvf` holds `x.rvf.lock`, a 104-byte file shared with @ruvector/rvf-node:
//
//   off   size  field
//   0x00     4  magic 0x52564C46 (u32 LE; the bytes read "FLVR")
//   0x04     4  pid (u32 LE) of the writer
//   0x08    64  hostname, UTF-8, NUL-terminated (at most 63 bytes; rvf-node writes at most 62)
//   0x48     8  created_ns (u64 LE): wall clock, ns since the Unix epoch — refreshed by our heartbeat
//   0x50    16  writer_id, random; identifies one holder across takeovers
//   0x60     4  version, u32 1
//   0x64     4  IEEE CRC-32 of bytes 0x00..0x63
//
// Invariants:
// - The lock file never exists half-written: it is written and fsynced under a temporary name
//   and then link()ed (exclusive, like O_CREAT|O_EXCL) or, for a takeover, rename()d into place.
//   Why: rvf-node deletes any lock file shorter than 104 bytes or with a wrong magic on sight,
//   however young, so an O_EXCL file caught between open() and write() would be stolen.
//   Only where hard links are unsupported do we fall back to open(O_CREAT|O_EXCL) + write.
// - We only ever remove or overwrite a lock whose writer_id is ours, or one judged stale.
// - Staleness, identical to rvf-node 0.2.3 for parseable locks (>= 104 bytes, right magic; the
//   CRC is reported but does not decide, because rvf-node does not check it either):
//     same host:  the pid is dead (kill(pid, 0) fails with ESRCH) AND created_ns is > 30 s old;
//     other host: created_ns is > 300 s old (the pid cannot be checked).
//   A live pid on this host is never stale, however old (but see "Threads" below for a lock of
//   this very process). A created_ns in the future counts as age 0. An unparseable file (short,
//   wrong magic) is judged by its mtime: stale after 30 s, otherwise held by an unknown writer
//   (rvf-node would delete it at once; we are more careful).
//   pid 0 or a pid above 2^31-1 names no process and counts as dead.
// - Threads: a lock whose pid is this very process may belong to another worker thread here, and
//   a worker killed by worker.terminate() never runs its exit hooks, so its lock would outlive it
//   for as long as the process lives (its pid is alive). veclite therefore marks its writer ids
//   (below) and, for a marked lock of this process that this thread does not hold, checks the
//   holding THREAD instead of the pid:
//     * its OS thread id is in the writer id and /proc/self/task/<tid> is gone (Linux): the
//       thread has ended → stale at once, whatever its age;
//     * otherwise the acquirer pings the holder on BroadcastChannel('veclite-lock:' + lockPath)
//       ({type:'ping', writerId, nonce}; every veclite writer answers pings for its own writer
//       id with {type:'pong', writerId, nonce}) and waits up to PING_MS (250 ms; option pingMs).
//       An answer means held. No answer means held too when the thread is known to be running
//       (busy in a long synchronous call: taking over then would make two writers), and stale
//       when its state cannot be read (no /proc: macOS, Windows) — there a thread blocked for
//       more than PING_MS can lose its lock; its next heartbeat notices (onLost) and from then
//       on its writes are refused, but commits before that heartbeat race the new writer.
//   A candidate answers pings from before its lock file exists until release(), so a lock is
//   never seen without its answerer. Channels are unref()ed and closed on release: they never
//   keep a process or thread alive. An unmarked lock of this process (@ruvector/rvf-node loaded
//   in this process) keeps the pid rule: held while the process lives.
// - Writer ids written by veclite: bytes 0..7 random; 8..11 the OS thread id of the holder
//   (u32 LE; 0 where it cannot be read); 12..15 the first 4 bytes of
//   SHA-256("veclite-writer-id" || bytes 0..11). rvf-node's ids are 16 random bytes, which carry
//   this mark with probability 2^-32.
// - Paths: acquireFileLock and readFileLock resolve the .rvf path with realFilePath()
//   (idb/node-file.js) first, so every name of one file (symlinks, relative paths) has one lock.
// - "Same host" means the lock's hostname equals one of this machine's names: os.hostname(),
//   $HOSTNAME, or /etc/hostname (rvf-node uses $HOSTNAME, else /etc/hostname), compared as bytes
//   after truncation to 62 or 63 bytes. We write os.hostname().
// - rvf-node never looks at the mtime, only at created_ns, so the heartbeat rewrites created_ns
//   (and the CRC) in place with one 104-byte write, and touches the mtime too. The heartbeat
//   timer is unref()ed and never keeps the process alive.
//
// Findings about @ruvector/rvf-node 0.2.3 (measured; tests/js/lock.test.js re-checks them):
// `RvfDatabase.create(path, {dimension})` and `RvfDatabase.open(path)` take the lock and fail
// with "RVF error 0x0300: LockHeld" if it is held; `RvfDatabase.openReadonly(path)` takes none;
// `close()` removes it, and so does garbage collection of an unclosed handle. rvf-node writes
// created_ns once, from the wall clock, and never heartbeats; it ignores the mtime and does not
// check the CRC (its CRC is the same IEEE CRC-32, so its locks decode as valid here). It breaks
// a stale lock by unlink() + create_new, and it reads our pid, hostname and created_ns, so it
// honours our locks by the same rules.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { VecliteError } from '../web/errors.js';
import { realFilePath } from '../idb/node-file.js';

// ---- layout ------------------------------------------------------------------------------------

/** Size of a lock file in bytes. */
export const LOCK_SIZE = 104;
const MAGIC = 0x52564c46;
const VERSION = 1;
const OFF_PID = 0x04;
const OFF_HOST = 0x08;
const HOST_FIELD = 64;
const OFF_CREATED = 0x48;
const OFF_WRITER = 0x50;
const OFF_VERSION = 0x60;
const OFF_CRC = 0x64;

/** Same host: a dead pid's lock is stale once created_ns is older than this (ns). */
export const STALE_SAME_HOST_NS = 30_000_000_000n;
/** Other host: a lock is stale once created_ns is older than this (ns). */
export const STALE_OTHER_HOST_NS = 300_000_000_000n;
/** An unparseable lock file is stale once its mtime is older than this (ms). */
const STALE_GARBAGE_MS = 30_000;

// ---- CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) -------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * IEEE CRC-32 (the zlib / PNG one): crc32("123456789") === 0xCBF43926.
 * @param {Uint8Array} bytes
 * @returns {number} unsigned 32-bit checksum
 */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- encode / decode ---------------------------------------------------------------------------

/** Current wall clock in ns since the epoch (ms resolution, as a u64 BigInt). */
function nowNs() {
  return BigInt(Date.now()) * 1_000_000n;
}

/** UTF-8 bytes of a hostname, cut to fit the NUL-terminated 64-byte field. */
function hostBytes(host) {
  return Buffer.from(String(host), 'utf8').subarray(0, HOST_FIELD - 1);
}

/**
 * Build the 104 bytes of a lock.
 * @param {{pid: number, host: string, createdNs: bigint, writerId: Uint8Array}} f
 * @returns {Buffer}
 */
export function encodeLock({ pid, host, createdNs, writerId }) {
  const b = Buffer.alloc(LOCK_SIZE);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(pid >>> 0, OFF_PID);
  hostBytes(host).copy(b, OFF_HOST); // the rest of the field stays NUL
  b.writeBigUInt64LE(BigInt.asUintN(64, createdNs), OFF_CREATED);
  Buffer.from(writerId).copy(b, OFF_WRITER, 0, 16);
  b.writeUInt32LE(VERSION, OFF_VERSION);
  b.writeUInt32LE(crc32(b.subarray(0, OFF_CRC)), OFF_CRC);
  return b;
}

/**
 * Decode lock bytes. `parseable` means rvf-node would read the fields (>= 104 bytes, right
 * magic); `valid` additionally needs exactly 104 bytes, version 1 and a matching CRC.
 * @param {Uint8Array} buf
 */
export function decodeLock(buf) {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < LOCK_SIZE || b.readUInt32LE(0) !== MAGIC) {
    return { parseable: false, valid: false, pid: null, host: null, hostKey: null, createdNs: null, writerId: null };
  }
  const field = b.subarray(OFF_HOST, OFF_HOST + HOST_FIELD);
  const nul = field.indexOf(0);
  const raw = field.subarray(0, nul < 0 ? HOST_FIELD : nul);
  const crcOk = crc32(b.subarray(0, OFF_CRC)) === b.readUInt32LE(OFF_CRC);
  return {
    parseable: true,
    valid: b.length === LOCK_SIZE && crcOk && b.readUInt32LE(OFF_VERSION) === VERSION,
    pid: b.readUInt32LE(OFF_PID),
    host: raw.toString('utf8'),
    hostKey: raw.toString('latin1'), // exact bytes, for comparison
    createdNs: b.readBigUInt64LE(OFF_CREATED),
    writerId: b.toString('hex', OFF_WRITER, OFF_WRITER + 16),
  };
}

// ---- host and process checks -------------------------------------------------------------------

/** This machine's names as byte keys (each also cut to 62 and 63 bytes, as writers truncate). */
function localHostKeys() {
  const names = [os.hostname(), process.env.HOSTNAME];
  try {
    names.push(fs.readFileSync('/etc/hostname', 'utf8').trim());
  } catch {
    // not Linux, or unreadable: os.hostname() is enough
  }
  const keys = new Set();
  for (const n of names) {
    if (!n) continue;
    const bytes = Buffer.from(n, 'utf8');
    for (const len of [bytes.length, 62, 63]) keys.add(bytes.subarray(0, len).toString('latin1'));
  }
  return keys;
}

/** True if a process with this pid exists (EPERM: it exists but belongs to someone else). */
function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Decide whether an existing lock file may be taken over.
 * @param {Buffer} bytes the file's content
 * @param {number} mtimeMs its mtime
 * @returns {{stale: boolean, info: ReturnType<typeof decodeLock>, sameHost: boolean, alive: boolean, why: string}}
 */
function judge(bytes, mtimeMs) {
  const info = decodeLock(bytes);
  if (!info.parseable) {
    const ageMs = Date.now() - mtimeMs;
    const stale = ageMs > STALE_GARBAGE_MS;
    return {
      stale, info, sameHost: false, alive: false,
      why: `it is not a valid lock file (${bytes.length} bytes, last modified ${Math.max(0, Math.round(ageMs / 1000))} s ago; ` +
        `such a file counts as stale ${STALE_GARBAGE_MS / 1000} s after its last change)`,
    };
  }
  const age = nowNs() - info.createdNs; // negative when written by a clock ahead of ours
  const ageS = age > 0n ? Number(age / 1_000_000n) / 1000 : 0;
  const sameHost = localHostKeys().has(info.hostKey);
  if (sameHost) {
    const alive = pidAlive(info.pid);
    const stale = !alive && age > STALE_SAME_HOST_NS;
    let why = alive
      ? 'that process is running'
      : `that process is no longer running, but the lock was refreshed ${ageS.toFixed(1)} s ago and ` +
        `a dead writer's lock only counts as stale ${Number(STALE_SAME_HOST_NS / 1_000_000_000n)} s after its last refresh`;
    if (info.pid === process.pid) why = 'that is this process: the store is already open for writing here';
    return { stale, info, sameHost, alive, why };
  }
  return {
    stale: age > STALE_OTHER_HOST_NS, info, sameHost, alive: true,
    why: `its pid cannot be checked from this host; it was refreshed ${ageS.toFixed(1)} s ago and a lock from ` +
      `another host only counts as stale ${Number(STALE_OTHER_HOST_NS / 1_000_000_000n)} s after its last refresh`,
  };
}

// ---- threads of this process -------------------------------------------------------------------

/** How long an acquirer waits for the holding thread of a same-process lock to answer (ms). */
export const PING_MS = 250;
const TAG_KEY = 'veclite-writer-id';

/** The 4-byte mark of a veclite writer id over its first 12 bytes. */
function writerMark(first12) {
  return crypto.createHash('sha256').update(TAG_KEY).update(first12).digest().subarray(0, 4);
}

let tidOfThisThread;
/** This thread's OS thread id (Linux: /proc/thread-self), or 0 where it cannot be read. */
function ownTid() {
  if (tidOfThisThread === undefined) {
    tidOfThisThread = 0;
    try {
      const m = /\/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'));
      if (m && Number(m[1]) <= 0xffffffff) tidOfThisThread = Number(m[1]);
    } catch {
      // no /proc (macOS, Windows) or an old kernel: threads are then checked by ping alone
    }
  }
  return tidOfThisThread;
}

/** A fresh veclite writer id: 8 random bytes, this thread's id, the mark (see the file comment). */
function newWriterId() {
  const id = crypto.randomBytes(16);
  id.writeUInt32LE(ownTid() >>> 0, 8);
  writerMark(id.subarray(0, 12)).copy(id, 12);
  return id;
}

/** For a writer id written by veclite: { tid } (0: unknown); null for any other writer's id. */
function markedWriter(hex) {
  const b = Buffer.from(hex, 'hex');
  if (b.length !== 16 || !b.subarray(12).equals(writerMark(b.subarray(0, 12)))) return null;
  return { tid: b.readUInt32LE(8) };
}

/** Whether thread `tid` of this process runs: true, false, or null when that cannot be read. */
function threadRunning(tid) {
  if (!tid) return null;
  try {
    fs.statSync(`/proc/self/task/${tid}`);
    return true;
  } catch (e) {
    if (e?.code !== 'ENOENT') return null;
    try {
      fs.statSync('/proc/self/task');
      return false;
    } catch {
      return null; // no /proc here at all
    }
  }
}

function channelName(lockPath) {
  return `veclite-lock:${lockPath}`;
}

/** A channel that answers pings for writer id `hex` on `lockPath` until closed; unref()ed. */
function answerPings(lockPath, hex) {
  const ch = new BroadcastChannel(channelName(lockPath));
  ch.onmessage = (ev) => {
    const m = ev.data;
    if (m && m.type === 'ping' && m.writerId === hex) {
      try { ch.postMessage({ type: 'pong', writerId: hex, nonce: m.nonce }); } catch { /* closed meanwhile */ }
    }
  };
  ch.unref();
  return ch;
}

/** Ping the holder of writer id `hex`; true if some thread of this process answers within ms. */
async function holderAnswers(lockPath, hex, ms) {
  const ch = new BroadcastChannel(channelName(lockPath));
  ch.unref(); // the timer below keeps the wait alive, and ends it
  const nonce = crypto.randomBytes(8).toString('hex');
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      ch.onmessage = (ev) => {
        const m = ev.data;
        if (m && m.type === 'pong' && m.writerId === hex && m.nonce === nonce) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      ch.postMessage({ type: 'ping', writerId: hex, nonce });
    });
  } finally {
    ch.close();
  }
}

/**
 * judge(), plus the thread check for a veclite lock of this very process (see the file comment).
 * @returns {Promise<ReturnType<typeof judge>>}
 */
async function judgeHolder(lockPath, bytes, mtimeMs, pingMs) {
  const v = judge(bytes, mtimeMs);
  const { info } = v;
  if (!info.parseable || !v.sameHost || info.pid !== process.pid) return v;
  const w = markedWriter(info.writerId);
  if (!w) return v; // another library's lock in this process (rvf-node): the pid rule
  if (HELD.has(info.writerId)) {
    return { ...v, stale: false, why: 'that is this thread: the store is already open for writing here' };
  }
  if (w.tid !== 0 && w.tid === ownTid()) {
    return { ...v, stale: true, alive: false, why: 'this thread wrote it and no longer holds it' };
  }
  const running = threadRunning(w.tid);
  if (running === false) {
    return {
      ...v, stale: true, alive: false,
      why: `thread ${w.tid} of this process, which took it, has ended (a terminated worker)`,
    };
  }
  if (await holderAnswers(lockPath, info.writerId, pingMs)) {
    return { ...v, stale: false, alive: true, why: 'another thread of this process holds the store open for writing' };
  }
  if (running === true) {
    return {
      ...v, stale: false, alive: true,
      why: `thread ${w.tid} of this process holds it; it is running but did not answer within ${pingMs} ms (busy in a long call?)`,
    };
  }
  return {
    ...v, stale: true, alive: false,
    why: `no thread of this process answered for it within ${pingMs} ms (its worker was terminated)`,
  };
}

// ---- errors ------------------------------------------------------------------------------------

function holderOf(info) {
  return info.parseable
    ? { pid: info.pid, host: info.host, createdNs: info.createdNs, writerId: info.writerId, valid: info.valid }
    : { pid: null, host: null, createdNs: null, writerId: null, valid: false };
}

function elock(lockPath, verdict) {
  const { info } = verdict;
  const who = info.parseable ? `pid ${info.pid} on host "${info.host}"` : 'an unknown writer';
  const err = new VecliteError('ELOCK',
    `${lockPath} is held by ${who}: ${verdict.why}. Close the other writer, or open read-only. ` +
    'If you are sure no writer is running, delete the lock file.');
  // @ts-ignore -- extra, documented field for status output
  err.holder = holderOf(info);
  return err;
}

function eio(what, lockPath, e) {
  const hint = e && (e.code === 'EROFS' || e.code === 'EACCES' || e.code === 'EPERM')
    ? ' The directory is not writable: open the store read-only.'
    : '';
  return new VecliteError('EIO', `cannot ${what} the writer lock ${lockPath}: ${e && e.message}.${hint}`, { cause: e });
}

// ---- file primitives ---------------------------------------------------------------------------

/** Read a file and its mtime through one descriptor; null if it does not exist. */
function readWithMtime(p) {
  let fd;
  try {
    fd = fs.openSync(p, 'r');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    const buf = Buffer.alloc(Math.min(st.size, 4096));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return { bytes: buf.subarray(0, n), mtimeMs: st.mtimeMs };
  } finally {
    fs.closeSync(fd);
  }
}

/** Write bytes to a fresh temporary sibling of `p` and fsync it; returns its name. */
function writeTemp(p, bytes) {
  const tmp = `${p}.${process.pid}-${crypto.randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx');
  let ok = false;
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, 0);
    fs.fsyncSync(fd);
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(tmp, { force: true });
  }
  return tmp;
}

/** Create `p` holding `bytes`, failing with EEXIST if it exists (see the invariants). */
function createExclusive(p, bytes) {
  const tmp = writeTemp(p, bytes);
  try {
    fs.linkSync(tmp, p);
    return;
  } catch (e) {
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'].includes(e.code)) throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  // No hard links on this file system: plain O_CREAT|O_EXCL, written and fsynced at once.
  const fd = fs.openSync(p, 'wx');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// ---- the lock ----------------------------------------------------------------------------------

/** Locks of this thread still held, released on a normal exit of the process (or worker). */
const LIVE = new Set();
/** Writer ids (hex) of the locks in LIVE. */
const HELD = new Set();
let exitHookInstalled = false;
function trackForExit(lock) {
  LIVE.add(lock);
  HELD.add(lock.holder.writerId);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const l of [...LIVE]) l.release();
    });
  }
}

/**
 * A held writer lock. Obtain one with {@link acquireFileLock}.
 */
export class FileLock {
  #path;
  #pid;
  #host;
  #writerId;
  #createdNs;
  #timer = null;
  #released = false;
  #lost = null;
  #onLost;
  #channel;

  /** @internal */
  constructor(lockPath, fields, heartbeatMs, onLost, channel) {
    this.#path = lockPath;
    this.#pid = fields.pid;
    this.#host = fields.host;
    this.#writerId = Buffer.from(fields.writerId);
    this.#createdNs = fields.createdNs;
    this.#onLost = onLost;
    this.#channel = channel; // answers other threads' pings (see the file comment)
    this.#timer = setInterval(() => this.#beat(), heartbeatMs);
    this.#timer.unref();
    trackForExit(this);
  }

  /** Path of the lock file. */
  get path() {
    return this.#path;
  }

  /** Who we are, as written in the file: created_ns is the time of the last refresh. */
  get holder() {
    return {
      pid: this.#pid, host: this.#host, createdNs: this.#createdNs,
      writerId: this.#writerId.toString('hex'),
    };
  }

  /** True until release() or until the lock was found taken over or removed. */
  get held() {
    return !this.#released && this.#lost === null;
  }

  /**
   * Rewrite created_ns (and the CRC) with the current time and touch the mtime. Called by the
   * heartbeat; call it yourself before a long operation if you like.
   * @throws {VecliteError} ECLOSED after release(); ELOCK if the lock file is gone or no longer ours
   */
  refresh() {
    if (this.#released) throw new VecliteError('ECLOSED', `the writer lock ${this.#path} was released`);
    if (this.#lost) throw this.#lost;
    let fd;
    try {
      fd = fs.openSync(this.#path, 'r+');
    } catch (e) {
      if (e.code === 'ENOENT') {
        throw this.#lose(new VecliteError('ELOCK',
          `the writer lock ${this.#path} was deleted by someone else; reopen the store to write again`));
      }
      throw eio('refresh', this.#path, e);
    }
    try {
      const cur = Buffer.alloc(LOCK_SIZE);
      const n = fs.readSync(fd, cur, 0, LOCK_SIZE, 0);
      const info = decodeLock(cur.subarray(0, n));
      if (!info.parseable || info.writerId !== this.#writerId.toString('hex')) {
        const who = info.parseable ? `pid ${info.pid} on host "${info.host}"` : 'an unknown writer';
        throw this.#lose(new VecliteError('ELOCK',
          `the writer lock ${this.#path} was taken over by ${who}; reopen the store to write again`));
      }
      const createdNs = nowNs();
      const bytes = encodeLock({ pid: this.#pid, host: this.#host, createdNs, writerId: this.#writerId });
      fs.writeSync(fd, bytes, 0, LOCK_SIZE, 0); // one write: readers see old or new, never a mix
      const t = new Date();
      fs.futimesSync(fd, t, t);
      this.#createdNs = createdNs;
    } finally {
      fs.closeSync(fd);
    }
  }

  #lose(err) {
    this.#lost = err;
    this.#stop();
    if (this.#onLost) {
      try { this.#onLost(err); } catch { /* a callback's failure is not ours to report */ }
    }
    return err;
  }

  #beat() {
    try {
      this.refresh();
    } catch {
      // lost: #lose stopped the timer. EIO: try again next beat.
    }
  }

  #stop() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#channel) this.#channel.close();
    this.#channel = null;
    LIVE.delete(this);
    HELD.delete(this.#writerId.toString('hex'));
  }

  /**
   * Stop the heartbeat and delete the lock file if it is still ours. Idempotent.
   * @returns {boolean} true if this call deleted the lock file
   */
  release() {
    if (this.#released) return false;
    this.#released = true;
    this.#stop();
    let cur;
    try {
      cur = readWithMtime(this.#path);
    } catch {
      return false;
    }
    if (!cur) return false;
    const info = decodeLock(cur.bytes);
    if (!info.parseable || info.writerId !== this.#writerId.toString('hex')) return false;
    try {
      fs.unlinkSync(this.#path);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Take the writer lock of an .rvf file: create `${rvfPath}.lock` exclusively, or take over a
 * stale one (see the file comment for the rules). The path is first resolved to the file's
 * canonical path (symlinks followed), so the lock of a file is the same under all its names.
 * @param {string} rvfPath path of the .rvf file (it need not exist yet)
 * @param {{heartbeatMs?: number, onLost?: (err: VecliteError) => void, pingMs?: number}} [options]
 *   heartbeatMs: how often created_ns is refreshed (default 5000; keep it well under 300 s).
 *   onLost: called once if a heartbeat finds the lock deleted or taken over.
 *   pingMs: how long to wait for another thread of this process holding the lock to answer
 *   (default PING_MS, 250).
 * @returns {Promise<FileLock>}
 * @throws {VecliteError} ELOCK naming the holder; EINVAL; EIO when the file cannot be written
 */
export async function acquireFileLock(rvfPath, { heartbeatMs = 5000, onLost, pingMs = PING_MS } = {}) {
  if (typeof rvfPath !== 'string' || rvfPath === '') {
    throw new VecliteError('EINVAL', 'acquireFileLock: rvfPath must be a non-empty string');
  }
  if (typeof heartbeatMs !== 'number' || !(heartbeatMs > 0) || heartbeatMs > 2 ** 31 - 1) {
    throw new VecliteError('EINVAL', `acquireFileLock: heartbeatMs must be a positive number of ms, got ${heartbeatMs}`);
  }
  if (typeof pingMs !== 'number' || !(pingMs > 0) || pingMs > 2 ** 31 - 1) {
    throw new VecliteError('EINVAL', `acquireFileLock: pingMs must be a positive number of ms, got ${pingMs}`);
  }
  const lockPath = `${canonical(rvfPath)}.lock`;
  const fields = { pid: process.pid, host: os.hostname(), createdNs: 0n, writerId: newWriterId() };
  const myId = fields.writerId.toString('hex');
  let channel = answerPings(lockPath, myId); // before the file exists: see the file comment
  const held = () => {
    const lock = new FileLock(lockPath, fields, heartbeatMs, onLost, channel);
    channel = null;
    return lock;
  };
  try {
    return await takeLock(lockPath, fields, myId, held, pingMs);
  } finally {
    if (channel) channel.close();
  }
}

/** The .rvf path with symlinks resolved (EIO when that fails). */
function canonical(rvfPath) {
  try {
    return realFilePath(fs, path, rvfPath);
  } catch (e) {
    throw new VecliteError('EIO', `cannot resolve ${rvfPath}: ${e?.message ?? e}`, { cause: e });
  }
}

/** The create-or-take-over loop of acquireFileLock. */
async function takeLock(lockPath, fields, myId, held, pingMs) {
  for (let attempt = 0; attempt < 5; attempt++) {
    fields.createdNs = nowNs();
    const bytes = encodeLock(fields);
    try {
      createExclusive(lockPath, bytes);
      return held();
    } catch (e) {
      if (e.code !== 'EEXIST') throw eio('create', lockPath, e);
    }

    let seen;
    try {
      seen = readWithMtime(lockPath);
    } catch (e) {
      throw eio('read', lockPath, e);
    }
    if (!seen) continue; // released meanwhile: try again
    const verdict = await judgeHolder(lockPath, seen.bytes, seen.mtimeMs, pingMs);
    if (!verdict.stale) throw elock(lockPath, verdict);

    // Stale: write ours aside, make sure the file is still the one we judged, rename over it,
    // then read back to see who won if another process did the same at the same time.
    let tmp;
    try {
      tmp = writeTemp(lockPath, bytes);
      const again = readWithMtime(lockPath);
      if (!again || !again.bytes.equals(seen.bytes)) continue; // changed under us: judge again
      fs.renameSync(tmp, lockPath);
      tmp = null;
    } catch (e) {
      throw eio('take over', lockPath, e);
    } finally {
      if (tmp) fs.rmSync(tmp, { force: true });
    }
    const now = readWithMtime(lockPath);
    const info = now && decodeLock(now.bytes);
    if (info && info.parseable && info.writerId === myId) return held();
    if (now) throw elock(lockPath, judge(now.bytes, now.mtimeMs));
  }
  throw new VecliteError('ELOCK',
    `${lockPath} keeps changing while we try to take it: another writer is starting. Close it, or open read-only.`);
}

/**
 * Read the lock of an .rvf file (path resolved as in acquireFileLock) for status output, without
 * judging or changing it.
 * @param {string} rvfPath
 * @returns {null | {pid: number|null, host: string|null, createdNs: bigint|null, writerId: string|null,
 *   valid: boolean, mtimeMs: number}} null when there is no lock file; pid/host/createdNs/writerId
 *   are null when the file cannot be parsed; valid is false unless the CRC and version check out.
 */
export function readFileLock(rvfPath) {
  const lockPath = `${canonical(rvfPath)}.lock`;
  let seen;
  try {
    seen = readWithMtime(lockPath);
  } catch (e) {
    throw eio('read', lockPath, e);
  }
  if (!seen) return null;
  return { ...holderOf(decodeLock(seen.bytes)), mtimeMs: seen.mtimeMs };
}
