// idb/lock-file.js — the Node single-writer lock (docs/single-writer.md).
//
// One .rvf FILE has at most one writer, whatever name reaches it. A writer holds three things:
//   1. its identity claim: the kernel-held claim "i/<dev>/<ino>" of the file it has open
//      (idb/lock-claim.js). bind() is atomic, so of any number of racing writers exactly one
//      gets it, through whatever name (hard link, rename, symlink, a second database over the same
//      folder); it dies with its holder (SIGKILL, crash, worker.terminate()).
//   2. its liveness claim "w/<writer id>": whoever finds its lock file probes it; a refused
//      connection proves the writer dead, an accepted one proves it alive (even when busy).
//   3. `x.rvf.lock`, a 104-byte file shared with @ruvector/rvf-node (interop, and writers in other
//      network namespaces or on other hosts, which the claims do not reach):
//
//   off   size  field
//   0x00     4  magic 0x52564C46 (u32 LE; the bytes read "FLVR")
//   0x04     4  pid (u32 LE) of the writer
//   0x08    64  hostname, UTF-8, NUL-terminated (at most 63 bytes; rvf-node writes at most 62)
//   0x48     8  created_ns (u64 LE): wall clock, ns since the Unix epoch — refreshed by our heartbeat
//   0x50    16  writer_id; identifies one holder across takeovers
//   0x60     4  version, u32 1
//   0x64     4  IEEE CRC-32 of bytes 0x00..0x63
//
// Invariants:
// - Order of acquisition: liveness claim (before our id is in any lock file), identity claim
//   (before the lock file is judged: the holder of the identity is the only veclite writer that
//   judges or takes over this file's lock file, so takeovers do not race), then the lock file.
//   Callers create a missing file first (empty, O_EXCL) so that it has an identity to claim.
// - The lock file never exists half-written: it is written and fsynced under a temporary name
//   and then link()ed (exclusive, like O_CREAT|O_EXCL) or, for a takeover, rename()d into place.
//   Why: rvf-node deletes any lock file shorter than 104 bytes or with a wrong magic on sight,
//   however young, so an O_EXCL file caught between open() and write() would be stolen.
//   Only where hard links are unsupported do we fall back to open(O_CREAT|O_EXCL) + write.
// - We only ever remove or overwrite a lock whose writer_id is ours, or one judged stale.
// - Judging a lock file someone left (the first rule that applies decides):
//     a. a veclite writer of this host and network namespace (writer id layout below): probe its
//        liveness claim. Dead → stale at once, whatever created_ns says (future, or young).
//        Alive → held, unless the file now at the lock's name is not the file that writer writes
//        (it was renamed away or replaced under it: the name is free, the writer refuses writes).
//        A writer that compacted between its answer and our stat of the name claims the file now
//        there (its identity claim answers with its writer id), or answers with another file when
//        asked again or has compacted since (its hello counts compactions: inode numbers are
//        reused, so the same (dev, ino) may name a newer image): held.
//     b. a veclite writer of another network namespace on this host (a container): its pid means
//        nothing here; stale once its heartbeat has been absent for 30 s.
//     c. any other lock of this host (rvf-node's, an older veclite's): the pid rule of rvf-node
//        0.2.3 — stale when the pid is dead AND the last refresh is > 30 s old; a live pid is
//        not the writer when that process is younger than the lock (the pid was reused), so it
//        then counts as dead. Where a thread of THIS process holds it (older veclite layout, or no
//        claims on this platform), the thread check below applies.
//     d. another host: stale when the last refresh is > 300 s old.
//   "Last refresh" is created_ns, or, when that lies in the future (a clock ahead of ours, or
//   ours set back), the file's mtime, which every heartbeat touches. An unparseable file (short,
//   wrong magic) is stale 30 s after its mtime (rvf-node would delete it at once). The CRC is
//   reported but does not decide, because rvf-node does not check it either. pid 0 or a pid
//   above 2^31-1 names no process and counts as dead.
// - Where claims are unavailable (not Linux), the identity and liveness proofs are absent: the
//   lock is per canonical name and its takeover can race, and threads of this process are
//   checked as follows. A marked lock of this process that this thread does not hold: its OS
//   thread id (in the writer id) gone from /proc/self/task → stale at once; otherwise the
//   acquirer pings the holder on BroadcastChannel('veclite-lock:' + lockPath) ({type:'ping',
//   writerId, nonce}; every veclite writer answers {type:'pong', writerId, nonce}) and waits up
//   to PING_MS (option pingMs): an answer means held; no answer means held when the thread is
//   known to run, stale when its state cannot be read. Channels and claims are unref()ed and
//   closed on release: they never keep a process or thread alive.
// - Writer ids written by veclite: bytes 0..3 random; 4..7 the network namespace inode of the
//   holder (u32 LE; 0 unknown); 8..11 its OS thread id (0 unknown); 12..15 the first 4 bytes of
//   SHA-256("veclite-writer-id/2" || bytes 0..11). (The first layout had bytes 0..7 random and
//   the key "veclite-writer-id".) rvf-node's ids are 16 random bytes, which carry a mark with
//   probability 2^-32.
// - A held lock checks, before every write (FileLock.checkFile), that it is still ours on disk and
//   that the name still leads to the open file (SQLite's "database moved" rule).
// - Paths: acquireFileLock and readFileLock resolve the .rvf path with realFilePath()
//   (idb/node-file.js) first, so every name of one file (symlinks, relative paths) has one lock file.
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
import { VecliteError } from '../worker/errors.js';
import { realFilePath } from './node-file.js';
import * as claims from './lock-claim.js';
import { netns } from './lock-claim.js';

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

/** Clock ticks per second of /proc/<pid>/stat start times (USER_HZ: 100 on every Linux ABI). */
const USER_HZ = 100;

/**
 * Seconds since process `pid` started, from the boot-relative clock (Linux /proc), or null when
 * that cannot be read. Not affected by wall-clock jumps.
 */
function processAgeS(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // comm may hold spaces
    const startTicks = Number(fields[19]); // field 22 of the whole line
    const uptimeS = Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(uptimeS)) return null;
    return uptimeS - startTicks / USER_HZ;
  } catch {
    return null;
  }
}

/** Slack for comparing a process's age with a lock's (clock resolution, btime rounding). */
const REUSE_SLACK_S = 10;

/**
 * How long ago a lock was last written by its holder, in ns: created_ns's age, or, when created_ns
 * lies in the future (a clock ahead of ours, or ours set back), the age of the file's mtime
 * (every heartbeat touches it); 0 when that is in the future too.
 */
function heartbeatAge(createdNs, mtimeMs) {
  const now = nowNs();
  if (createdNs <= now + 1_000_000_000n) return createdNs < now ? now - createdNs : 0n;
  const m = BigInt(Math.floor(mtimeMs)) * 1_000_000n;
  return m < now ? now - m : 0n;
}

/**
 * Decide whether an existing lock file may be taken over by the timed rules (the ones that need
 * no proof of the holder's death; see judgeHolder for the proof).
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
  const age = heartbeatAge(info.createdNs, mtimeMs);
  const ageS = Number(age / 1_000_000n) / 1000;
  const future = info.createdNs > nowNs() + 1_000_000_000n ? ' (its timestamp lies in the future, so its age is taken from the file\'s last change)' : '';
  const sameHost = localHostKeys().has(info.hostKey);
  if (sameHost) {
    let alive = pidAlive(info.pid);
    let reused = false;
    if (alive && info.pid !== process.pid) {
      // A running pid younger than the lock is not the writer: the pid was reused after it died.
      const procAge = processAgeS(info.pid);
      if (procAge !== null && procAge + REUSE_SLACK_S < ageS) {
        alive = false;
        reused = true;
      }
    }
    const stale = !alive && age > STALE_SAME_HOST_NS;
    let why = alive
      ? 'that process is running'
      : `that process is no longer running${reused ? ' (its pid now belongs to a younger process)' : ''}, but the lock was refreshed ` +
        `${ageS.toFixed(1)} s ago${future} and a lock whose writer's death cannot be proven only counts as stale ` +
        `${Number(STALE_SAME_HOST_NS / 1_000_000_000n)} s after its last refresh`;
    if (info.pid === process.pid) why = 'that is this process: the store is already open for writing here';
    return { stale, info, sameHost, alive, why };
  }
  return {
    stale: age > STALE_OTHER_HOST_NS, info, sameHost, alive: true,
    why: `its pid cannot be checked from this host; it was refreshed ${ageS.toFixed(1)} s ago${future} and a lock from ` +
      `another host only counts as stale ${Number(STALE_OTHER_HOST_NS / 1_000_000_000n)} s after its last refresh`,
  };
}

// ---- threads of this process -------------------------------------------------------------------

/** How long an acquirer waits for the holding thread of a same-process lock to answer (ms). */
export const PING_MS = 250;
const TAG_KEY_V1 = 'veclite-writer-id';
const TAG_KEY = 'veclite-writer-id/2';

/** The 4-byte mark of a veclite writer id over its first 12 bytes. */
function writerMark(first12, key = TAG_KEY) {
  return crypto.createHash('sha256').update(key).update(first12).digest().subarray(0, 4);
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

/**
 * A fresh veclite writer id: 4 random bytes, this process's network namespace, this thread's id,
 * the mark (see the file comment).
 */
function newWriterId() {
  const id = crypto.randomBytes(16);
  id.writeUInt32LE(netns() >>> 0, 4);
  id.writeUInt32LE(ownTid() >>> 0, 8);
  writerMark(id.subarray(0, 12)).copy(id, 12);
  return id;
}

/**
 * For a writer id written by veclite: { tid, netns } (0: unknown; netns null for the first
 * layout, whose bytes 4..7 were random); null for any other writer's id.
 */
function markedWriter(hex) {
  const b = Buffer.from(hex, 'hex');
  if (b.length !== 16) return null;
  if (b.subarray(12).equals(writerMark(b.subarray(0, 12)))) return { tid: b.readUInt32LE(8), netns: b.readUInt32LE(4) };
  if (b.subarray(12).equals(writerMark(b.subarray(0, 12), TAG_KEY_V1))) return { tid: b.readUInt32LE(8), netns: null };
  return null;
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

/** Does the writer `writerId` (or a busy holder that does not say) claim the identity of `st`? */
async function claimedBy(st, writerId) {
  const p = await claims.probe(claims.identityName(st.dev, st.ino));
  return p.state === 'busy' || (p.state === 'alive' && p.hello?.writerId === writerId);
}

/** Does the writer `writerId` still say it writes the file (dev, ino) of `h`, not having compacted since? */
async function saysSame(writerId, h) {
  const p = await claims.probe(claims.writerName(writerId));
  // moves counts its compactions: inode numbers are reused, so two of them can lead back to h.ino
  return p.state === 'alive' && p.hello?.dev === h.dev && p.hello?.ino === h.ino && p.hello?.moves === h.moves;
}

/**
 * judge(), plus the thread check for a veclite lock of this very process (see the file comment).
 * @returns {Promise<ReturnType<typeof judge>>}
 */
async function judgeHolder(lockPath, bytes, mtimeMs, pingMs) {
  const v = judge(bytes, mtimeMs);
  const { info } = v;
  if (!info.parseable || !v.sameHost) return v;
  const w = markedWriter(info.writerId);
  if (w && w.netns && w.netns === netns() && await claims.available()) {
    // A veclite writer of this network namespace: its liveness claim proves life or death.
    const p = await claims.probe(claims.writerName(info.writerId));
    const h = p.hello;
    if (p.state === 'alive' && h && h.lost === true) {
      return { ...v, stale: true, alive: true, why: `its writer (pid ${info.pid}) lost its file (moved or deleted) and writes no more` };
    }
    if (p.state === 'alive' && h && typeof h.ino === 'string') {
      // Alive, but is this name still its file? A writer whose file was renamed away (or
      // replaced) has lost the name: the file now here is not the one it writes.
      const file = lockPath.slice(0, -'.lock'.length);
      let here = null;
      try {
        here = fs.statSync(file, { bigint: true });
      } catch (e) {
        if (e?.code !== 'ENOENT') throw eio('stat the file of', lockPath, e);
      }
      // The hello came before the stat: a writer that compacted in between (rename: the name
      // leads to its new image) holds the identity claim of the file now here; it is held.
      const moved = here && (String(here.dev) !== h.dev || String(here.ino) !== h.ino);
      // Its hello asked again: one that changed meanwhile is a writer compacting (held too).
      if (moved && !(await claimedBy(here, info.writerId)) && await saysSame(info.writerId, h)) {
        return {
          ...v, stale: true, alive: true,
          why: `its writer (pid ${info.pid}) writes another file now: ${file} was renamed away from it or replaced`,
        };
      }
    }
    if (p.state === 'alive' || p.state === 'busy') {
      let why = 'that writer is running (it answers on its liveness socket)';
      if (HELD.has(info.writerId)) why = 'that is this thread: the store is already open for writing here';
      else if (info.pid === process.pid) why = 'another thread of this process holds the store open for writing (it answers on its liveness socket)';
      return { ...v, stale: false, alive: true, why };
    }
    return { ...v, stale: true, alive: false, why: `its writer (pid ${info.pid}) has ended: its liveness socket is gone` };
  }
  if (w && w.netns && w.netns !== netns()) {
    // A veclite writer in another network namespace (a container on this host): its pid means
    // nothing here, but it heartbeats every few seconds; its lock expires when the beat stops.
    const age = heartbeatAge(info.createdNs, mtimeMs);
    return {
      ...v, stale: age > STALE_SAME_HOST_NS, alive: age <= STALE_SAME_HOST_NS,
      why: `it was written from another network namespace (a container?), where its pid cannot be checked; ` +
        `it was refreshed ${(Number(age / 1_000_000n) / 1000).toFixed(1)} s ago and counts as stale ` +
        `${Number(STALE_SAME_HOST_NS / 1_000_000_000n)} s after its last refresh`,
    };
  }
  if (info.pid !== process.pid) return v;
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

/**
 * Remove the temporaries (writeTemp: `<file>.lock.<pid>-<hex>.tmp`) that processes killed while
 * writing a lock file left beside rvfPath's lock. For the lock's holder, after it took the lock:
 * a temporary of a pid that is a live process here, or of this process, is left alone (it may be
 * racing for the lock at this moment and will remove its own). Returns how many were removed.
 */
export function sweepLockTemps(rvfPath) {
  const lockPath = `${canonical(rvfPath)}.lock`;
  const dir = path.dirname(lockPath), prefix = `${path.basename(lockPath)}.`;
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    const m = name.startsWith(prefix) && /^(\d+)-[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      fs.rmSync(path.join(dir, name), { force: true });
      n++;
    } catch { /* best effort: the next holder tries again */ }
  }
  return n;
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
  #claims;
  #hello;

  /** @internal */
  constructor(lockPath, fields, heartbeatMs, onLost, channel, held = [], hello = {}) {
    this.#claims = held; // kernel-held claims (idb/lock-claim.js): liveness, then identity
    this.#hello = hello; // what they answer: updated when the identity moves
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

  /** Path of the .rvf file this lock is for (canonical). */
  get filePath() {
    return this.#path.slice(0, -'.lock'.length);
  }

  /**
   * Check, before a write, that this writer may still write the file it opened: the lock is held
   * and still ours on disk, and the file's name still leads to the file the caller has open
   * (SQLite's "database moved" rule: a writer whose file was renamed, replaced or deleted under
   * it must not acknowledge writes nobody can find again). A failure is sticky (the lock counts as
   * lost and onLost is called).
   * @param {{dev: bigint, ino: bigint, nlink: bigint}} open fstat (bigint) of the caller's descriptor
   * @throws {VecliteError} EREADONLY when the file moved; ELOCK when the lock was lost
   */
  checkFile(open) {
    if (this.#released) throw new VecliteError('ECLOSED', `the writer lock ${this.#path} was released`);
    if (this.#lost) throw this.#lost;
    const file = this.filePath;
    const moved = (what) => this.#lose(new VecliteError('EREADONLY',
      `${file} ${what} since this writer opened it, so writes through this handle would reach no file that ` +
      'anyone can open by that name; nothing more is written here. Close this handle and open the store where it now is.'));
    if (open.nlink === 0n) throw moved('was deleted');
    let st;
    try {
      st = fs.lstatSync(file, { bigint: true }); // a symlink put in its place is another file
    } catch (e) {
      if (e?.code === 'ENOENT' || e?.code === 'ENOTDIR') throw moved('was renamed or deleted (its name, or its folder\'s, no longer exists)');
      throw eio('check the file of', this.#path, e);
    }
    if (st.dev !== open.dev || st.ino !== open.ino) throw moved('was replaced by another file (renamed over, or its folder renamed)');
    // The lock file is ours while the descriptor we keep on it still has a name: every way of
    // taking it over (rvf-node: unlink + create; veclite: rename over it) or deleting it leaves
    // our inode without one. One fstat per write instead of open + read + close.
    if (this.#lockFd !== null) {
      try {
        if (fs.fstatSync(this.#lockFd).nlink > 0) return;
      } catch { /* read it below */ }
    }
    let cur;
    try {
      cur = readWithMtime(this.#path);
    } catch (e) {
      throw eio('read', this.#path, e);
    }
    const info = cur && decodeLock(cur.bytes);
    if (!info || !info.parseable || info.writerId !== this.#writerId.toString('hex')) {
      const who = info?.parseable ? `taken over by pid ${info.pid} on host "${info.host}"` : 'deleted by someone else';
      throw this.#lose(new VecliteError('ELOCK', `the writer lock ${this.#path} was ${who}; reopen the store to write again`));
    }
    if (this.#lockFd === null) this.#keepLockFd();
  }

  /** Keep a descriptor on our lock file: opened, then its own bytes checked to be ours. */
  #keepLockFd() {
    let fd = null;
    try {
      fd = fs.openSync(this.#path, 'r');
      const buf = Buffer.alloc(LOCK_SIZE);
      const n = fs.readSync(fd, buf, 0, LOCK_SIZE, 0);
      const info = decodeLock(buf.subarray(0, n));
      if (info.parseable && info.writerId === this.#writerId.toString('hex') && fs.fstatSync(fd).nlink > 0) {
        this.#lockFd = fd;
        fd = null;
      }
    } catch {
      // no descriptor: every check reads the file
    } finally {
      if (fd !== null) fs.closeSync(fd);
    }
  }

  #lockFd = null;

  /**
   * Tell the lock how to see whether its file still exists (fstat of the open descriptor): a
   * writer whose file was deleted gives up its identity claim when asked (see identityHello).
   * @param {() => {nlink: bigint}} fstat
   */
  watchFile(fstat) {
    this.#hello.fileGone = () => fstat().nlink === 0n;
    this.#hello.onGone = () => {
      this.#lose(new VecliteError('EREADONLY', `${this.filePath} was deleted since this writer opened it, so writes through ` +
        'this handle would reach no file that anyone can open; nothing more is written here. Close this handle.'));
    };
  }

  /**
   * Compaction, step 1: claim the identity of the file that is about to replace ours by rename
   * (rename keeps the inode), before the rename, so that no moment exists in which that file is
   * unclaimed or our claims describe another file. Where claims are unavailable this does nothing.
   * @param {{dev: bigint, ino: bigint}} next fstat of the replacement
   * @throws {VecliteError} ELOCK when another writer holds it (nobody should: it is our temp file)
   */
  async claimNext(next) {
    if (!(await claims.available())) return;
    const c = await claims.claim(claims.identityName(next.dev, next.ino), this.#hello);
    if (!c) throw new VecliteError('ELOCK', `compact: the compacted image of ${this.filePath} is claimed by another writer`);
    this.#claims.push(c);
  }

  /**
   * Compaction, step 2, right after the rename: the replacement is our file now; say so to
   * probers and free the old file's claim.
   * @param {{dev: bigint, ino: bigint}} next
   */
  adoptNext(next) {
    this.#hello.dev = String(next.dev);
    this.#hello.ino = String(next.ino);
    this.#hello.lost = false;
    this.#hello.moves = (this.#hello.moves ?? 0) + 1; // see saysSame
    const keep = claims.identityName(next.dev, next.ino);
    for (const c of this.#claims) if (c.name.startsWith('i/') && c.name !== keep) c.close();
    this.#claims = this.#claims.filter((c) => c.held);
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
    if (this.#lost) return this.#lost;
    this.#lost = err;
    this.#hello.lost = true; // probers learn that this writer no longer writes its file
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
    if (this.#lockFd !== null) {
      try { fs.closeSync(this.#lockFd); } catch { /* nothing useful to do */ }
      this.#lockFd = null;
    }
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
    try {
      return this.#removeFile();
    } finally {
      // The lock file goes first: a claim freed before it would let a prober call us dead
      // while our lock file still names us.
      for (const c of this.#claims) c.close();
      this.#claims = [];
    }
  }

  #removeFile() {
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
 * Take the writer lock of an .rvf file: its identity claim (one writer per file, whatever its
 * name), then `${rvfPath}.lock` created exclusively, or taken over when its holder is provably
 * dead or stale (see the file comment for the rules). The path is first resolved to the file's
 * canonical path (symlinks followed), so the lock file of a file is the same under all its names.
 * @param {string} rvfPath path of the .rvf file (it need not exist yet; create it first, empty and
 *   O_EXCL, when you can, so that it is locked by identity too)
 * @param {{heartbeatMs?: number, onLost?: (err: VecliteError) => void, pingMs?: number,
 *   identity?: {dev: number|bigint, ino: number|bigint}}} [options]
 *   heartbeatMs: how often created_ns is refreshed (default 5000; keep it well under 30 s).
 *   onLost: called once if a heartbeat finds the lock deleted or taken over.
 *   pingMs: how long to wait for another thread of this process holding the lock to answer
 *   where liveness claims are unavailable (default PING_MS, 250).
 *   identity: the file's (dev, ino) as the caller's open descriptor sees it; default: stat of the
 *   path when the file exists.
 * @returns {Promise<FileLock>}
 * @throws {VecliteError} ELOCK naming the holder; EINVAL; EIO when the file cannot be written
 */
export async function acquireFileLock(rvfPath, { heartbeatMs = 5000, onLost, pingMs = PING_MS, identity } = {}) {
  if (typeof rvfPath !== 'string' || rvfPath === '' || rvfPath.includes('\0')) {
    throw new VecliteError('EINVAL', 'acquireFileLock: rvfPath must be a non-empty string without NUL characters');
  }
  if (typeof heartbeatMs !== 'number' || !(heartbeatMs > 0) || heartbeatMs > 2 ** 31 - 1) {
    throw new VecliteError('EINVAL', `acquireFileLock: heartbeatMs must be a positive number of ms, got ${heartbeatMs}`);
  }
  if (typeof pingMs !== 'number' || !(pingMs > 0) || pingMs > 2 ** 31 - 1) {
    throw new VecliteError('EINVAL', `acquireFileLock: pingMs must be a positive number of ms, got ${pingMs}`);
  }
  const real = canonical(rvfPath);
  const lockPath = `${real}.lock`;
  const fields = { pid: process.pid, host: os.hostname(), createdNs: 0n, writerId: newWriterId() };
  const myId = fields.writerId.toString('hex');
  const id = identity ?? statIdentity(real);
  // What our claims tell a prober: who we are, and which file (dev, ino) we write.
  const hello = { pid: process.pid, host: fields.host, path: real, writerId: myId,
    dev: id ? String(id.dev) : null, ino: id ? String(id.ino) : null };
  const held = []; // claims taken so far: closed again unless the lock is handed out
  let channel = answerPings(lockPath, myId); // before the file exists: see the file comment
  try {
    if (await claims.available()) {
      // Our liveness claim exists before our id is in any lock file: a prober never sees a lock
      // of ours without its proof of life.
      const w = await claims.claim(claims.writerName(myId), hello);
      if (!w) throw new VecliteError('EIO', `acquireFileLock: writer id ${myId} is already in use (retry)`);
      held.push(w);
      if (id) {
        const c = await claimIdentity(real, lockPath, id, () => identityHello(hello));
        held.push(c);
      }
    }
    const make = () => {
      const lock = new FileLock(lockPath, fields, heartbeatMs, onLost, channel, held.splice(0), hello);
      channel = null;
      return lock;
    };
    return await takeLock(lockPath, fields, myId, make, pingMs);
  } finally {
    if (channel) channel.close();
    for (const c of held) c.close();
  }
}

/**
 * What the identity claim tells a prober; null (give the claim up) once the holder's file has
 * been deleted: its inode number may be reused by a new file, which must not be locked out by a
 * writer of a file that no longer exists. The holder is told (hello.onGone) and stops writing.
 */
function identityHello(hello) {
  if (hello.lost) return null;
  let gone = false;
  try {
    gone = hello.fileGone ? hello.fileGone() : false;
  } catch {
    gone = false; // cannot tell: keep the claim
  }
  if (!gone) return hello;
  hello.lost = true;
  if (hello.onGone) hello.onGone();
  return null;
}

/** (dev, ino) of a file, or null when it does not exist. */
function statIdentity(p) {
  try {
    const st = fs.statSync(p, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch (e) {
    if (e?.code === 'ENOENT') return null;
    throw eio('stat the file of', `${p}.lock`, e);
  }
}

/**
 * Claim a file's identity, or throw ELOCK naming the writer that holds it. A holder that lets go
 * while we ask who it is ('gone', 'dead') lets us try again.
 */
async function claimIdentity(real, lockPath, id, hello) {
  const name = claims.identityName(id.dev, id.ino);
  for (let attempt = 0; ; attempt++) {
    const c = await claims.claim(name, hello);
    if (c) return c;
    // The holder answers from its event loop; one busy in a long synchronous call (opening a
    // large store) answers late, so wait a while: this is the error path.
    const p = await claims.probe(name, IDENTITY_HELLO_MS);
    if ((p.state === 'gone' || p.state === 'dead') && attempt < 20) continue;
    throw identityHeld(real, lockPath, p);
  }
}

/** ELOCK for a file whose identity claim another writer holds, naming that writer. */
function identityHeld(real, lockPath, p) {
  const h = p.hello;
  let who;
  let holder;
  if (h && typeof h.pid === 'number') {
    const other = typeof h.path === 'string' && h.path !== real
      ? `, under another name, ${h.path} (a hard link, a rename, or a second path to the same file)` : '';
    const here = h.pid === process.pid ? ' (this process: another thread, or a handle opened here)' : '';
    who = `pid ${h.pid} on host "${h.host}"${here}, which has it open for writing${other}`;
    holder = { pid: h.pid, host: h.host, createdNs: null, writerId: h.writerId ?? null, valid: true, path: h.path ?? null };
  } else {
    // Busy in a long synchronous call: its lock file, if it is at this name, says who it is.
    let info = null;
    try {
      const seen = readWithMtime(lockPath);
      if (seen) info = decodeLock(seen.bytes);
    } catch { /* described without it below */ }
    if (info?.parseable) {
      who = `pid ${info.pid} on host "${info.host}" (as its lock file says; it is busy and did not answer within ` +
        `${IDENTITY_HELLO_MS} ms), which has it open for writing`;
      holder = { ...holderOf(info), path: null };
    } else {
      who = `a writer on this machine that is busy in a long call (it did not say who it is within ${IDENTITY_HELLO_MS} ms, ` +
        'and holds this file under another name)';
      holder = { pid: null, host: null, createdNs: null, writerId: null, valid: false, path: null };
    }
  }
  const err = new VecliteError('ELOCK', `${lockPath} is held by ${who}. One file has one writer, whatever name ` +
    'reaches it: close the other writer, or open read-only.');
  // @ts-ignore -- extra, documented field for status output
  err.holder = holder;
  return err;
}

/** How long a refused writer waits for the identity holder to say who it is (ms). */
const IDENTITY_HELLO_MS = 1000;

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
