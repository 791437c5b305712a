// web/recovered-tail.js — bytes after the last intact commit of a Node file store are kept, never
// dropped silently (README.md "Nothing is dropped silently"). Used by web/node-backend.js
// (openFileStore) and web/index.js (status/verify/discardRecovered); reached only through them,
// so it imports no node: module itself (N is the loadNode() result).
//
// What happens: the engine opens a file at its newest intact MANIFEST; the bytes after it (a
// torn commit, or complete segments in front of a damaged manifest) are not loaded, and a
// writable handle cuts them off before its first append (src/rvf.c fix_tail). So a writable open
// first copies them into a file beside the store:
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
// - A writable open with a tail returns only after the copy is durable; a failed copy fails the
//   open (EIO) before anything is truncated.
// - Read-only opens save nothing: they report the live tail with savedTo null.
// - With no live tail, the newest saved file beside the store is what an open reports, so the
//   recovery stays visible across reopens until discardRecovered().

import { VecliteError } from './errors.js';

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
  const { fs, path, dev: D } = N;
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
  const tail = new Uint8Array(size - info.bytes);
  let fd = null, name = null;
  try {
    dev.read(info.bytes, tail);
    for (let ms = Date.now(); fd === null; ms++) {
      name = `${abs}.recovered-${info.epoch}-${info.bytes}-${ms}`;
      try {
        fd = fs.openSync(name, 'wx', 0o644);
      } catch (e) {
        if (e?.code !== 'EEXIST') throw e;
      }
    }
    for (let off = 0; off < tail.length;) off += fs.writeSync(fd, tail, off, tail.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    D.syncDir(fs, path.dirname(abs));
  } catch (e) {
    if (fd !== null) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    if (name) {
      try { fs.rmSync(name, { force: true }); } catch { /* best effort */ }
    }
    throw new VecliteError('EIO', `${abs} holds ${tail.length} bytes after its last intact commit (epoch ${info.epoch}), ` +
      `and they could not be saved beside it before writing (${e?.message ?? e}); free space or open it readOnly`, { cause: e });
  }
  rep.savedTo = name;
  return rep;
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
