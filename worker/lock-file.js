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
//   A live pid on this host is never stale, however old. A created_ns in the future counts as
//   age 0. An unparseable file (short, wrong magic) is judged by its mtime: stale after 30 s,
//   otherwise held by an unknown writer (rvf-node would delete it at once; we are more careful).
//   pid 0 or a pid above 2^31-1 names no process and counts as dead.
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
import crypto from 'node:crypto';
import { VecliteError } from '../web/errors.js';

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

/** Locks of this process still held, released on a normal process exit. */
const LIVE = new Set();
let exitHookInstalled = false;
function trackForExit(lock) {
  LIVE.add(lock);
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

  /** @internal */
  constructor(lockPath, fields, heartbeatMs, onLost) {
    this.#path = lockPath;
    this.#pid = fields.pid;
    this.#host = fields.host;
    this.#writerId = Buffer.from(fields.writerId);
    this.#createdNs = fields.createdNs;
    this.#onLost = onLost;
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
    LIVE.delete(this);
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
 * stale one (see the file comment for the rules).
 * @param {string} rvfPath path of the .rvf file (it need not exist yet)
 * @param {{heartbeatMs?: number, onLost?: (err: VecliteError) => void}} [options]
 *   heartbeatMs: how often created_ns is refreshed (default 5000; keep it well under 300 s).
 *   onLost: called once if a heartbeat finds the lock deleted or taken over.
 * @returns {Promise<FileLock>}
 * @throws {VecliteError} ELOCK naming the holder; EINVAL; EIO when the file cannot be written
 */
export async function acquireFileLock(rvfPath, { heartbeatMs = 5000, onLost } = {}) {
  if (typeof rvfPath !== 'string' || rvfPath === '') {
    throw new VecliteError('EINVAL', 'acquireFileLock: rvfPath must be a non-empty string');
  }
  if (typeof heartbeatMs !== 'number' || !(heartbeatMs > 0) || heartbeatMs > 2 ** 31 - 1) {
    throw new VecliteError('EINVAL', `acquireFileLock: heartbeatMs must be a positive number of ms, got ${heartbeatMs}`);
  }
  const lockPath = `${rvfPath}.lock`;
  const fields = { pid: process.pid, host: os.hostname(), createdNs: 0n, writerId: crypto.randomBytes(16) };
  const myId = fields.writerId.toString('hex');

  for (let attempt = 0; attempt < 5; attempt++) {
    fields.createdNs = nowNs();
    const bytes = encodeLock(fields);
    try {
      createExclusive(lockPath, bytes);
      return new FileLock(lockPath, fields, heartbeatMs, onLost);
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
    const verdict = judge(seen.bytes, seen.mtimeMs);
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
    if (info && info.parseable && info.writerId === myId) {
      return new FileLock(lockPath, fields, heartbeatMs, onLost);
    }
    if (now) throw elock(lockPath, judge(now.bytes, now.mtimeMs));
  }
  throw new VecliteError('ELOCK',
    `${lockPath} keeps changing while we try to take it: another writer is starting. Close it, or open read-only.`);
}

/**
 * Read the lock of an .rvf file for status output, without judging or changing it.
 * @param {string} rvfPath
 * @returns {null | {pid: number|null, host: string|null, createdNs: bigint|null, writerId: string|null,
 *   valid: boolean, mtimeMs: number}} null when there is no lock file; pid/host/createdNs/writerId
 *   are null when the file cannot be parsed; valid is false unless the CRC and version check out.
 */
export function readFileLock(rvfPath) {
  const lockPath = `${rvfPath}.lock`;
  let seen;
  try {
    seen = readWithMtime(lockPath);
  } catch (e) {
    throw eio('read', lockPath, e);
  }
  if (!seen) return null;
  return { ...holderOf(decodeLock(seen.bytes)), mtimeMs: seen.mtimeMs };
}
