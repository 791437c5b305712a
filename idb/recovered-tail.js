// idb/recovered-tail.js — bytes after the last intact commit of a Node file store are kept, never
// dropped silently (README.md "Nothing is dropped silently"). Used by idb/node-store.js
// (openFileStore) and the session (status/verify/discardRecovered, salvageRead); reached only through them,
// so it imports no node: module itself (N is the loadNode() result).
//
// What happens: the engine opens a file at its newest intact MANIFEST; the bytes after it (a
// torn commit, or complete segments in front of a damaged manifest) are not loaded, and a
// writable handle cuts them off before its first append (src/rvf_commit.c fix_tail). So a
// writable open first copies them into a file beside the store:
//
//     <file>.recovered-<epoch>-<offset>-<ms>
//
// epoch: the committed epoch the open fell back to; offset: where the saved bytes began in
// <file> (the append position); ms: Date.now() at the save. The file is created with O_EXCL
// (a clash bumps ms), written, fsynced, and its directory fsynced before the open returns, so
// the truncation can only happen after the copy is durable. `veclite recover FILE OUT` replays
// these files at their offset. They are removed only by Collection.discardRecovered().
//
// Invariants:
// - A writable open with a tail returns only after the copy is durable and the tail cut from the
//   file (so the next open does not save it again); a failed copy fails the open (EIO) before
//   anything is truncated. The copy goes in chunks (a tail may be as large as the file), after a
//   free-space check; a copy of the same bytes already beside the file (an open that died between
//   the copy and the cut) is reused.
// - Names of the form <file>.recovered-<n>-<n>-<n> are reserved: no writer opens such a file, so
//   no store can be mistaken for a saved tail (idb/node-store.js openLocked).
// - Read-only opens save nothing: they report the live tail with savedTo null.
// - With no live tail, the newest saved file beside the store is what an open reports, so the
//   recovery stays visible across reopens until discardRecovered().

import { VecliteError, plural } from '../worker/errors.js';

const NAME_RE = /\.recovered-(\d+)-(\d+)-(\d+)$/;

/**
 * The saved tails beside `abs`, newest first.
 * @returns {{ epoch: number, offset: number, ms: number, discardedBytes: number, savedTo: string }[]}
 */
export function listSaved(N, abs) {
  const { fs, path } = N;
  const dir = path.dirname(abs), base = path.basename(abs);
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out = [];
  for (const f of names) {
    if (!f.startsWith(`${base}.recovered-`)) continue;
    const m = NAME_RE.exec(f.slice(base.length));
    if (!m || `${base}.recovered-${m[1]}-${m[2]}-${m[3]}` !== f) continue;
    const full = path.join(dir, f);
    let size = 0;
    try {
      size = fs.statSync(full).size;
    } catch {
      continue;
    }
    out.push({ epoch: Number(m[1]), offset: Number(m[2]), ms: Number(m[3]), discardedBytes: size, savedTo: full });
  }
  return out.sort((a, b) => b.ms - a.ms || b.offset - a.offset);
}

/**
 * After a file store opened: if the device holds bytes past the committed state, report them
 * and (writable) save them beside the file; else report the newest saved tail, if any.
 * @param {any} N loadNode() result
 * @param {{ storeInfo(st: number): { bytes: number, epoch: number } }} engine
 * @param {number} store
 * @param {{ size(): number, read(off: number, dst: Uint8Array): void }} dev
 * @param {string} abs canonical path of the file
 * @param {boolean} readOnly
 * @returns {{ epoch: number, discardedBytes: number, savedTo: string|null } | null}
 */
export function keepTail(N, engine, store, dev, abs, readOnly) {
  const info = engine.storeInfo(store);
  let size;
  try {
    size = dev.size();
  } catch (e) {
    throw new VecliteError('EIO', `cannot read the size of ${abs}: ${e?.message ?? e}`, { cause: e });
  }
  if (size <= info.bytes) {
    const s = listSaved(N, abs)[0];
    return s ? { epoch: s.epoch, discardedBytes: s.discardedBytes, savedTo: s.savedTo } : null;
  }
  const rep = { epoch: info.epoch, discardedBytes: size - info.bytes, savedTo: null };
  if (readOnly) return rep;
  try {
    rep.savedTo = sameSaved(N, abs, dev, info, size) ?? saveTail(N, abs, dev, info, size);
    // Saved and durable: cut the tail now (the first write would), so that the next open does not
    // save the same bytes again and the saved file is what reports them from then on.
    dev.truncate(info.bytes);
    dev.sync();
  } catch (e) {
    throw new VecliteError('EIO', `${abs} holds ${plural(size - info.bytes, 'byte')} after its last intact commit (epoch ` +
      `${info.epoch}), which could not be saved beside it before writing (${e?.message ?? e}); free space, ` +
      'or open it readOnly', { cause: e });
  }
  return rep;
}

/** Bytes copied per read/write when saving or comparing a tail. */
const CHUNK = 1 << 20;

/** A file already saved with exactly these bytes (an open that saved them, then died before the cut). */
function sameSaved(N, abs, dev, info, size) {
  const { fs } = N;
  for (const s of listSaved(N, abs)) {
    if (s.epoch !== info.epoch || s.offset !== info.bytes || s.discardedBytes !== size - info.bytes) continue;
    let fd = null;
    try {
      fd = fs.openSync(s.savedTo, 'r');
      const a = new Uint8Array(Math.min(CHUNK, size - info.bytes));
      const b = new Uint8Array(a.length);
      let same = true;
      for (let off = 0; same && off < size - info.bytes; off += a.length) {
        const n = Math.min(a.length, size - info.bytes - off);
        dev.read(info.bytes + off, a.subarray(0, n));
        if (fs.readSync(fd, b, 0, n, off) !== n) same = false;
        for (let i = 0; same && i < n; i++) if (a[i] !== b[i]) same = false;
      }
      if (same) return s.savedTo;
    } catch {
      // unreadable: not a copy we can count on
    } finally {
      if (fd !== null) fs.closeSync(fd);
    }
  }
  return null;
}

/** Copy the tail [info.bytes, size) into a new file beside abs, in chunks; fsync it and the folder. */
function saveTail(N, abs, dev, info, size) {
  const { fs, path, dev: D } = N;
  const len = size - info.bytes;
  if (typeof fs.statfsSync === 'function') {
    const st = fs.statfsSync(path.dirname(abs));
    if (Number(st.bavail) * Number(st.bsize) < len) {
      throw Object.assign(new Error(`ENOSPC: ${len} bytes are needed in ${path.dirname(abs)}`), { code: 'ENOSPC' });
    }
  }
  let fd = null, name = null;
  try {
    for (let ms = Date.now(); fd === null; ms++) {
      name = `${abs}.recovered-${info.epoch}-${info.bytes}-${ms}`;
      try {
        fd = fs.openSync(name, 'wx', 0o644);
      } catch (e) {
        if (e?.code !== 'EEXIST') throw e;
      }
    }
    const buf = new Uint8Array(Math.min(CHUNK, len));
    for (let off = 0; off < len;) {
      const n = Math.min(buf.length, len - off);
      dev.read(info.bytes + off, buf.subarray(0, n));
      for (let w = 0; w < n;) w += fs.writeSync(fd, buf, w, n - w, off + w);
      off += n;
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    D.syncDir(fs, path.dirname(abs));
    return name;
  } catch (e) {
    if (fd !== null) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    if (name) {
      try { fs.rmSync(name, { force: true }); } catch { /* best effort */ }
    }
    throw e;
  }
}

/** Whether a file name is one this module uses for saved tails (no writer may open such a name). */
export function isSavedTailName(file) {
  return NAME_RE.test(file);
}

/**
 * Remove every saved tail beside `abs` (Collection.discardRecovered) and fsync the directory.
 * @returns {string[]} the removed paths
 */
export function discardSaved(N, abs) {
  const { fs, path, dev: D } = N;
  const gone = [];
  for (const s of listSaved(N, abs)) {
    try {
      fs.rmSync(s.savedTo, { force: true });
    } catch (e) {
      throw new VecliteError('EIO', `discardRecovered: cannot remove ${s.savedTo}: ${e?.message ?? e}`, { cause: e });
    }
    gone.push(s.savedTo);
  }
  if (gone.length) {
    try {
      D.syncDir(fs, path.dirname(abs));
    } catch (e) {
      throw new VecliteError('EIO', `discardRecovered: removed ${gone.length} file(s) but cannot fsync ${path.dirname(abs)}: ` +
        `${e?.message ?? e}`, { cause: e });
    }
  }
  return gone;
}

/**
 * What salvage (recoverCollection) reads of a file: its bytes and every tail saved beside it
 * (oldest first), plus whether `out` (the new store's path) exists; without a source, only the
 * latter. Reads only.
 * @returns {{ name: string, bytes: Uint8Array, tails: Array<{ savedTo: string, epoch: number,
 *   offset: number, bytes: Uint8Array }>, outExists: boolean }}
 */
export function readSalvage(N, source, out) {
  const outExists = typeof out === 'string' && N.fs.existsSync(out);
  if (source === undefined) return { name: null, bytes: null, tails: [], outExists };
  const abs = N.nb.realPath(N, source, 'recoverCollection');
  const read = (file, what) => {
    try {
      return new Uint8Array(N.fs.readFileSync(file));
    } catch (e) {
      throw new VecliteError(e?.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO', `recoverCollection: cannot read ${what}: ${e?.message ?? e}`, { cause: e });
    }
  };
  const bytes = read(abs, abs);
  const tails = listSaved(N, abs).reverse().map((sv) => ({
    savedTo: sv.savedTo, epoch: sv.epoch, offset: sv.offset, bytes: read(sv.savedTo, `the saved tail ${sv.savedTo}`),
  }));
  return { name: abs, bytes, tails, outExists };
}
