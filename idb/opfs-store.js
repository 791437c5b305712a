// idb/opfs-store.js — .rvf stores as files of the Origin Private File System (docs/browser.md §2).
//
// A veclite database `path` is the OPFS directory veclite/<path>/, one `<collection>.rvf` per
// collection: the same bytes as a Node file. Two ways to write them:
// - inside a worker, through a FileSystemSyncAccessHandle: the engine reads and appends
//   synchronously and sync() flushes, so a commit is durable when the C call returns;
// - elsewhere (a page's main thread), through a mirror (idb/mirror-device.js) whose settle()
//   writes the new bytes with createWritable({ keepExistingData: true }): the browser writes a
//   swap file and swaps it in on close(), so a commit is all or nothing here too, only slower.
// Read-only handles read a File snapshot (getFile) and follow by reading what was appended; a
// snapshot the writer changed under the read is read again.
//
// Invariants:
// - A sync access handle is exclusive in Chromium: while a writer holds it, no other handle on
//   the file opens for writing (the lease in idb/lease.js refuses first, with a clearer ELOCK).
// - Compaction writes the image to `<name>.rvf` through a swap (createWritable, truncate, write,
//   close): atomic, as the rename of a Node file is.
// - Errors are VecliteErrors: EBACKEND without OPFS, ENOTFOUND for a missing file, EIO otherwise.

import { VecliteError } from '../worker/errors.js';
import { MirrorDevice } from './mirror-device.js';
import { MemoryDevice } from './memory-device.js';

/** Whether this runtime has the Origin Private File System. */
export function opfsAvailable() {
  return typeof globalThis.navigator?.storage?.getDirectory === 'function';
}

/** Whether synchronous access handles exist here (dedicated workers only). */
export function syncHandlesAvailable() {
  return typeof globalThis.FileSystemFileHandle === 'function' &&
    typeof globalThis.FileSystemFileHandle.prototype.createSyncAccessHandle === 'function' &&
    typeof globalThis.WorkerGlobalScope !== 'undefined';
}

export function opfsError(e, what) {
  if (e instanceof VecliteError) return e;
  if (e?.name === 'NotFoundError') return new VecliteError('ENOTFOUND', `${what}: no such file in the origin private file system`, { cause: e });
  if (e?.name === 'NoModificationAllowedError') {
    return new VecliteError('ELOCK', `${what}: the file is open for writing elsewhere (another page or worker holds it)`, { cause: e });
  }
  const quota = e?.name === 'QuotaExceededError';
  return new VecliteError('EIO', `${what}: the origin private file system failed (${e?.name ?? 'Error'}: ${e?.message ?? e})` +
    (quota ? '; the browser refused more storage for this site: free some, or ask for navigator.storage.persist()' : ''), { cause: e });
}

/**
 * The OPFS directory of a veclite database (created).
 * @returns {Promise<FileSystemDirectoryHandle>}
 */
export async function opfsDirectory(path) {
  if (!opfsAvailable()) {
    throw new VecliteError('EBACKEND', "backend 'opfs' needs the Origin Private File System (navigator.storage.getDirectory), " +
      "which this runtime lacks (or the page is not a secure context); use backend 'indexeddb' or 'memory'");
  }
  try {
    let dir = await navigator.storage.getDirectory();
    for (const part of ['veclite', ...path.split('/').filter(Boolean)]) dir = await dir.getDirectoryHandle(part, { create: true });
    return dir;
  } catch (e) {
    throw opfsError(e, `opening the OPFS directory of '${path}'`);
  }
}

/** Collection names (files `<name>.rvf`), sorted. */
export async function listNames(dir) {
  const out = [];
  try {
    for await (const [name, h] of dir.entries()) if (h.kind === 'file' && name.endsWith('.rvf')) out.push(name.slice(0, -4));
  } catch (e) {
    throw opfsError(e, 'listing collections');
  }
  return out.sort();
}

/** The file handle of a collection, or null when it does not exist (create: make it). */
export async function fileOf(dir, name, create) {
  try {
    return await dir.getFileHandle(`${name}.rvf`, { create });
  } catch (e) {
    if (e?.name === 'NotFoundError' || e?.name === 'TypeError') return null;
    throw opfsError(e, `opening ${name}.rvf`);
  }
}

export async function removeCollection(dir, name) {
  try {
    await dir.removeEntry(`${name}.rvf`);
    return true;
  } catch (e) {
    if (e?.name === 'NotFoundError') return false;
    throw opfsError(e, `deleting ${name}.rvf`);
  }
}

/** A synchronous device over an access handle (workers). */
export class SyncHandleDevice {
  #h;
  #refused = null;
  constructor(handle) { this.#h = handle; }
  read(off, dst) {
    const n = this.#h.read(dst, { at: off });
    if (n !== dst.length) throw new VecliteError('EIO', `short read: ${n} of ${dst.length} bytes at ${off}`);
  }
  append(src) {
    if (this.#refused) throw this.#refused;
    const at = this.#h.getSize();
    const n = this.#h.write(src, { at });
    if (n !== src.length) throw new VecliteError('EIO', `short write: ${n} of ${src.length} bytes at ${at}`);
  }
  size() { return this.#h.getSize(); }
  truncate(n) {
    if (this.#refused) throw this.#refused;
    this.#h.truncate(n);
  }
  sync() { this.#h.flush(); }
  close() {
    try { this.#h.close(); } catch { /* closed already */ }
  }
  refuseWrites(why) {
    this.#refused = new VecliteError('EREADONLY', why?.message ?? String(why));
  }
  /** A copy of bytes [from, to). */
  slice(from, to = this.size()) {
    const out = new Uint8Array(Math.max(0, to - from));
    if (out.length) this.read(from, out);
    return out;
  }
  settle() { return Promise.resolve(); }
}

/** The bytes of a file as it is now. */
async function fileBytes(fh) {
  return new Uint8Array(await (await fh.getFile()).arrayBuffer());
}

/** Write bytes at `from` and cut the file at `length`, through a swap file (all or nothing). */
export async function swapWrite(fh, from, bytes, length) {
  const w = await fh.createWritable({ keepExistingData: true });
  try {
    await w.truncate(length);
    if (bytes.length) await w.write({ type: 'write', position: from, data: bytes });
    await w.close();
  } catch (e) {
    await w.abort().catch(() => {});
    throw e;
  }
}

/**
 * A writable device for a collection file: a sync access handle in a worker, else a mirror
 * written through swap files.
 */
export async function writableDevice(fh, name) {
  if (syncHandlesAvailable()) {
    try {
      return new SyncHandleDevice(await fh.createSyncAccessHandle());
    } catch (e) {
      throw opfsError(e, `opening ${name}.rvf for writing`);
    }
  }
  try {
    const bytes = await fileBytes(fh);
    return new MirrorDevice(bytes, async (from, b, length) => {
      try {
        await swapWrite(fh, from, b, length);
      } catch (e) {
        throw opfsError(e, `writing ${name}.rvf`);
      }
    });
  } catch (e) {
    throw opfsError(e, `reading ${name}.rvf`);
  }
}

/** Bytes a follower compares at its end before it appends a file's new bytes (readOnlyDevice). */
const TAIL_CHECK = 4096;

/**
 * A read-only device over a snapshot of the file; pull() appends what the writer added since.
 * (A writer that changes the file while it is read makes the read fail: it is read again.)
 */
export async function readOnlyDevice(fh, name) {
  const gone = ': this read-only handle keeps what it last read; close it, and open the collection again once it exists';
  const dev = new MemoryDevice(await readingAgain(name, () => fileBytes(fh)));
  dev.refuseWrites(new VecliteError('EREADONLY', `${name}.rvf is open read-only`));
  const walk = { at: 0, manifest: -1 };
  dev.pull = () => readingAgain(name, async () => {
    const file = await fh.getFile();
    const n = dev.size();
    if (file.size < n) return -1; // rewritten (compacted): reopen
    // A file rewritten and grown past our size: the bytes we hold end differently there. Not
    // just the last 64: those are the FIDI tail of our last MANIFEST, the same at every commit
    // boundary of a store, so a rewritten store (compacted) whose commit ends exactly at our size
    // would pass. The last 4 KiB hold most of that MANIFEST; the header and epoch of a longer
    // one (many segments or deleted ids) lie before them and are compared too: a compaction
    // writes epochs above ours only, so no manifest of a rewritten file equals ours there.
    const same = async (from, to) => {
      if (to <= from) return true;
      const theirs = new Uint8Array(await file.slice(from, to).arrayBuffer());
      const mine = dev.slice(from, to);
      for (let i = 0; i < mine.length; i++) if (theirs[i] !== mine[i]) return false;
      return true;
    };
    const tail = Math.max(0, n - TAIL_CHECK);
    const m = lastManifest(dev, n, walk);
    if (m >= 0 && m < tail && !(await same(m, Math.min(tail, m + MANIFEST_HEAD)))) return -1;
    if (!(await same(tail, n))) return -1;
    if (file.size > n) dev.extend(n, new Uint8Array(await file.slice(n).arrayBuffer()));
    return dev.size();
  }, gone);
  return dev;
}

/** A MANIFEST's segment header and its payload's fixed fields (epoch first; docs/format.md §3). */
const MANIFEST_HEAD = 64 + 22;

/**
 * The offset of the last complete MANIFEST segment in a device's first n bytes (-1: none), found
 * by walking its segment headers from byte 0 (segments are packed back to back). `walk` keeps
 * where the walk got to, so each call walks only what was appended since; bytes cut away below
 * it (a follower keeps only what its store committed) start it again from 0.
 */
function lastManifest(dev, n, walk) {
  if (walk.at > n) { walk.at = 0; walk.manifest = -1; }
  const h = new Uint8Array(64), dv = new DataView(h.buffer);
  while (walk.at + 64 <= n) {
    dev.read(walk.at, h);
    if (h[0] !== 0x53 || h[1] !== 0x46 || h[2] !== 0x56 || h[3] !== 0x52) break;
    const end = walk.at + 64 + dv.getUint32(16, true) + dv.getUint32(20, true) * 4294967296;
    if (end > n) break;
    if (h[5] === 0x05) walk.manifest = walk.at;
    walk.at = end;
  }
  return walk.manifest;
}

/** The bytes of a collection file as they are now (read again if a writer changes it meanwhile). */
export function readFileBytes(fh, name) {
  return readingAgain(name, () => fileBytes(fh));
}

/**
 * Run `read` (of a file's contents as they are now) again when the file changed under it: a
 * File snapshot of a file its writer has written to (or swapped) since fails to read, with
 * NotReadableError or NotFoundError. A file gone for good is ENOTFOUND; other failures EIO.
 */
async function readingAgain(name, read, goneHint = '') {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      if ((e?.name === 'NotReadableError' || e?.name === 'NotFoundError') && attempt < 5) {
        // a moment for the writer's commit in progress to end (5, 10, 20, 40 ms)
        await new Promise((res) => setTimeout(res, 5 * 2 ** (attempt - 1)));
        continue;
      }
      if (e?.name === 'NotFoundError') {
        throw new VecliteError('ENOTFOUND', `${name}.rvf no longer exists (it was deleted)${goneHint}`, { cause: e });
      }
      throw opfsError(e, `reading ${name}.rvf`);
    }
  }
}

/** Replace a file's contents with an image (compaction), through a swap file. */
export async function replaceBytes(fh, name, bytes) {
  try {
    await swapWrite(fh, 0, bytes, bytes.length);
  } catch (e) {
    throw opfsError(e, `replacing ${name}.rvf`);
  }
}
