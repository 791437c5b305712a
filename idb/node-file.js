// idb/node-file.js — a Node.js file as a storage device (the five operations of src/io.h), plus the
// two directory operations compaction needs (docs/format.md §6: "fsync, rename over, fsync dir") and
// realFilePath(), which gives every name of a file (symlinks, relative paths) one canonical path.
//
// How it fits: idb/node-store.js opens a device per .rvf file and hands it to worker/bind.js,
// whose device glue calls these methods synchronously from inside a C call (the engine's vl_io
// callbacks cannot wait for a Promise). This module knows bytes and files only — nothing of
// vectors, segments or locks (docs/conventions.md §6).
//
// Operations (all synchronous, all on one descriptor):
//   read(off, dst)   fill dst from the byte range [off, off + dst.length); a range that passes the
//                    end of the file throws (io.h: never a short read)
//   readMany(offs, len, dst)  read() of len bytes at each offset, into consecutive slices of dst
//   append(src)      write every byte of src at the end position (tracked, re-read with fstat
//                    after a failure), looping over partial writes
//   size()           fstat size
//   truncate(n)      ftruncate, then the end position is n
//   sync()           fsync (not fdatasync: the size change must be durable too)
//   close()          close the descriptor; idempotent
//   crc32(bytes, c)  CRC-32 of bytes chained from c, when `hashes` (Node's zlib.crc32, installed by
//                    useCrc32): worker/bind.js then verifies content hashes as the bytes arrive
//
// Invariants:
// - The descriptor is opened 'r' (read-only) or 'r+' (never 'a': on Linux positional writes on an
//   O_APPEND descriptor ignore the position, and we track the end ourselves so a failed append
//   leaves a torn tail exactly where the format expects one).
// - A read-only device refuses append/truncate/sync with a DeviceError of code 'EREADONLY'; every
//   other failure is a DeviceError of code 'EIO' (or 'ENOTFOUND' when opening a missing file)
//   carrying the Node error as `cause`; its message names the OS code once and, for ENOSPC,
//   EDQUOT, EROFS, EACCES and EPERM, what to do about it. Device methods throw; the glue in worker/bind.js catches,
//   stashes the error and returns a VL_E* code to C (docs/conventions.md §3: JS exceptions never enter C).
// - node:fs is loaded with a dynamic import the first time a device is opened, so this module can
//   be listed in browser and workerd bundles without being usable (or failing) there.

/** @type {typeof import('node:fs') | null} */
let fsMod = null;
/** zlib.crc32 (Node >= 20.15 / 22.2), installed by useCrc32; null: devices do not hash. */
let crc32Fn = null;

/**
 * Let devices hash what they read with `fn` (Node's zlib.crc32: CRC-32/IEEE, chained as
 * fn(bytes, crc)); the engine then verifies content hashes on the bytes as they arrive instead of
 * hashing them again itself. Ignored unless fn is a function that gets CRC-32("123456789") right.
 * @param {unknown} fn
 */
export function useCrc32(fn) {
  crc32Fn = typeof fn === 'function' && fn(new TextEncoder().encode('123456789'), 0) === 0xCBF43926 ? fn : null;
}
/** @type {typeof import('node:path') | null} */
let pathMod = null;

/**
 * Load node:fs and node:path once. Rejects (with a DeviceError 'EBACKEND') outside Node.
 * @returns {Promise<{ fs: typeof import('node:fs'), path: typeof import('node:path') }>}
 */
export async function nodeModules() {
  if (!fsMod) {
    try {
      const [f, p] = await Promise.all([import('node:fs'), import('node:path')]);
      fsMod = f.default ?? f;
      pathMod = p.default ?? p;
    } catch (e) {
      throw new DeviceError('EBACKEND', `node:fs is not available in this runtime (${e?.message ?? e})`, e);
    }
  }
  return { fs: fsMod, path: pathMod };
}

/** A device failure: `code` is 'EIO', 'EREADONLY', 'ENOTFOUND', 'EEXIST' or 'EBACKEND'. */
export class DeviceError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(code, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DeviceError';
    this.code = code;
  }
}

/** What to do about an OS error code, for messages ('' when there is nothing useful to add). */
const IO_HINTS = {
  ENOSPC: 'disk full: free space and retry',
  EDQUOT: 'disk quota exceeded: free space (or raise the quota) and retry',
  EROFS: 'the file system is read-only: open the store read-only, or move it to a writable file system',
  EACCES: 'permission denied: check the permissions of the file and its directory, or open the store read-only',
  EPERM: 'operation not permitted: check the permissions of the file and its directory, or open the store read-only',
};

/**
 * A failed file operation as a DeviceError 'EIO': "<what> <path> failed: CODE: detail (hint)".
 * Node's own messages already start with the code ("ENOSPC: no space left on device, write"),
 * so the code is added only when the message lacks it.
 */
function ioError(what, path, e) {
  const code = typeof e?.code === 'string' ? e.code : '';
  let msg = String(e?.message ?? e);
  if (code && !msg.includes(code)) msg = `${code}: ${msg}`;
  const hint = IO_HINTS[code];
  return new DeviceError('EIO', `${what} ${path} failed: ${msg}${hint ? ` (${hint})` : ''}`, e);
}

/**
 * One open file. Obtain it with {@link openNodeFile}.
 */
export class NodeFileDevice {
  #fs;
  #fd;
  #path;
  #readOnly;
  #end;

  /** @internal */
  constructor(fs, fd, path, readOnly) {
    this.#fs = fs;
    this.#fd = fd;
    this.#path = path;
    this.#readOnly = readOnly;
    this.#end = fs.fstatSync(fd).size;
  }

  /** The file's path. */
  get path() { return this.#path; }
  /** Whether crc32() is available (see useCrc32). */
  get hashes() { return crc32Fn !== null; }
  /**
   * CRC-32/IEEE of bytes, chained from crc (zlib's crc32(crc, buf)).
   * @param {Uint8Array} bytes
   * @param {number} crc
   */
  crc32(bytes, crc) {
    if (!crc32Fn) throw new DeviceError('EIO', 'crc32 is not available in this runtime');
    return crc32Fn(bytes, crc);
  }
  /** Whether writes are refused. */
  get readOnly() { return this.#readOnly; }
  /** False after close(). */
  get open() { return this.#fd !== null; }

  #descriptor() {
    if (this.#fd === null) throw new DeviceError('EIO', `${this.#path} is closed`);
    return this.#fd;
  }

  #writable(what) {
    if (this.#readOnly) {
      throw new DeviceError('EREADONLY', `${what} on ${this.#path}, which is open read-only`);
    }
    if (this.#refused) throw new DeviceError('EIO', `${what} on ${this.#path} refused: ${this.#refused.message}`, this.#refused);
    return this.#descriptor();
  }

  #refused = null;
  /**
   * Refuse every later write (append, truncate, sync) with `why`: its owner lost the right to
   * write this file (writer lock lost, or the file moved) and must not write even on close.
   * @param {Error} why
   */
  refuseWrites(why) {
    this.#refused = why;
  }

  /**
   * Fill dst with the bytes at [off, off + dst.length).
   * @param {number} off byte offset (a safe integer)
   * @param {Uint8Array} dst
   */
  /**
   * n reads of len bytes: the i-th from offs[i] into dst[i * len, (i + 1) * len) (a quantized
   * store's re-ranking: one call per query).
   * @param {Float64Array} offs @param {number} len @param {Uint8Array} dst
   */
  readMany(offs, len, dst) {
    for (let i = 0; i < offs.length; i++) this.read(offs[i], dst.subarray(i * len, (i + 1) * len));
  }

  read(off, dst) {
    const fd = this.#descriptor();
    let done = 0;
    while (done < dst.length) {
      let n;
      try {
        n = this.#fs.readSync(fd, dst, done, dst.length - done, off + done);
      } catch (e) {
        if (e?.code === 'EINTR' || e?.code === 'EAGAIN') continue;
        throw ioError('reading', this.#path, e);
      }
      if (n === 0) {
        let size;
        try { size = `${this.#fs.fstatSync(fd).size} bytes long`; } catch { size = 'shorter (its size cannot be read)'; }
        throw new DeviceError('EIO',
          `reading ${dst.length} bytes at offset ${off} of ${this.#path}: the range passes the end of the file, which is ${size}`);
      }
      done += n;
    }
  }

  /**
   * Write all of src at the end of the file.
   * @param {Uint8Array} src
   */
  append(src) {
    const fd = this.#writable('append');
    let done = 0;
    try {
      while (done < src.length) {
        let n;
        try {
          n = this.#fs.writeSync(fd, src, done, src.length - done, this.#end + done);
        } catch (e) {
          if (e?.code === 'EINTR' || e?.code === 'EAGAIN') continue;
          throw e;
        }
        if (n <= 0) throw new Error('write returned 0 bytes');
        done += n;
      }
      this.#end += src.length;
    } catch (e) {
      // Whatever reached the file is a torn tail; learn where the file now ends.
      try { this.#end = this.#fs.fstatSync(fd).size; } catch { /* keep the old end */ }
      throw ioError('appending to', this.#path, e);
    }
  }

  /**
   * fstat of the descriptor with bigint fields (dev, ino, nlink, size...): the identity of the
   * file this device has open, whatever has since happened to its name.
   */
  stat() {
    const fd = this.#descriptor();
    try {
      return this.#fs.fstatSync(fd, { bigint: true });
    } catch (e) {
      throw ioError('stat of', this.#path, e);
    }
  }

  /** Current size of the file in bytes. @returns {number} */
  size() {
    const fd = this.#descriptor();
    try {
      return this.#fs.fstatSync(fd).size;
    } catch (e) {
      throw ioError('stat of', this.#path, e);
    }
  }

  /** Cut (or extend with zeros) the file to n bytes. @param {number} n */
  truncate(n) {
    const fd = this.#writable('truncate');
    try {
      this.#fs.ftruncateSync(fd, n);
      this.#end = n;
    } catch (e) {
      throw ioError('truncating', this.#path, e);
    }
  }

  /** Make every appended byte (and the size) durable. */
  sync() {
    const fd = this.#writable('sync');
    try {
      this.#fs.fsyncSync(fd);
    } catch (e) {
      throw ioError('fsync of', this.#path, e);
    }
  }

  /** Close the descriptor. Idempotent; never throws. */
  close() {
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    try { this.#fs.closeSync(fd); } catch { /* nothing useful to do */ }
  }
}

/**
 * Open a file as a device.
 * @param {string} path
 * @param {{ readOnly?: boolean, create?: boolean, exclusive?: boolean }} [options]
 *   readOnly: open for reading only; create: create the file when missing; exclusive: with
 *   create, fail with 'EEXIST' if it exists.
 * @returns {Promise<NodeFileDevice>}
 * @throws {DeviceError} ENOTFOUND (missing and not create), EEXIST, EIO, EBACKEND (not Node)
 */
export async function openNodeFile(path, { readOnly = false, create = false, exclusive = false } = {}) {
  const { fs } = await nodeModules();
  return openNodeFileSync(fs, path, { readOnly, create, exclusive });
}

/**
 * Synchronous variant of {@link openNodeFile} once node:fs is loaded ({@link nodeModules}).
 * @param {typeof import('node:fs')} fs
 * @param {string} path
 * @param {{ readOnly?: boolean, create?: boolean, exclusive?: boolean }} [options]
 * @returns {NodeFileDevice}
 */
export function openNodeFileSync(fs, path, { readOnly = false, create = false, exclusive = false } = {}) {
  if (readOnly && create) throw new DeviceError('EIO', `cannot create ${path} read-only`);
  const C = fs.constants;
  let flags = readOnly ? C.O_RDONLY : C.O_RDWR;
  if (create) flags |= C.O_CREAT;
  if (create && exclusive) flags |= C.O_EXCL;
  let fd;
  try {
    fd = fs.openSync(path, flags, 0o644);
  } catch (e) {
    if (e?.code === 'ENOENT') throw new DeviceError('ENOTFOUND', `${path} does not exist`, e);
    if (e?.code === 'EEXIST') throw new DeviceError('EEXIST', `${path} already exists`, e);
    if (e?.code === 'EISDIR') throw new DeviceError('EIO', `${path} is a directory, not a file`, e);
    throw ioError('opening', path, e);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new DeviceError('EIO', `${path} is not a regular file`);
    return new NodeFileDevice(fs, fd, path, readOnly);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* ignore */ }
    throw e instanceof DeviceError ? e : ioError('opening', path, e);
  }
}

/**
 * fsync a directory so that a creation, rename or removal inside it is durable. Platforms that
 * cannot open a directory for fsync (Windows: EPERM/EISDIR) are skipped: there the rename itself
 * is what the file system offers.
 * @param {typeof import('node:fs')} fs
 * @param {string} dir
 */
export function syncDir(fs, dir) {
  let fd;
  try {
    fd = fs.openSync(dir, 'r');
  } catch (e) {
    if (['EPERM', 'EISDIR', 'EACCES'].includes(e?.code) && globalThis.process?.platform === 'win32') return;
    throw ioError('opening directory', dir, e);
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    if (!['EPERM', 'EINVAL', 'EISDIR', 'ENOTSUP'].includes(e?.code)) throw ioError('fsync of directory', dir, e);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The canonical absolute path of a file that may not exist yet: symlinks (also in its directory)
 * resolved with realpath, so that every name of one file leads to the same lock and the same
 * compaction target. Resolution is the kernel's (`realpath(3)`, fs.realpathSync.native): a `..`
 * after a symlinked folder goes up from the folder the link points to, as open() would, never
 * by editing the text. A missing file is its directory's real path plus its name; a dangling
 * symlink is followed to the (missing) file it names, as open(O_CREAT) would. A missing
 * directory is left as path.resolve() gives it (opening in it then fails with ENOENT).
 * @param {typeof import('node:fs')} fs
 * @param {typeof import('node:path')} path
 * @param {string} p
 * @returns {string}
 * @throws {DeviceError} EIO on a symlink loop or an unreadable directory
 */
export function realFilePath(fs, path, p) {
  const real = fs.realpathSync.native ?? fs.realpathSync;
  // Absolute without lexical normalisation: `a/link/../x` must keep its `..` for the kernel.
  let cur = path.isAbsolute(p) ? p : `${process.cwd()}${path.sep}${p}`;
  for (let hops = 0; hops < 40; hops++) {
    try {
      return real(cur);
    } catch (e) {
      // ENOTDIR: a folder on the way is a file; the name is resolved as far as it goes and
      // opening it then fails, which the caller reports (idb/node-store.js missingDirError).
      if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') throw ioError('resolving', cur, e);
    }
    const name = path.basename(cur);
    const parent = cur.slice(0, cur.length - name.length).replace(/[\\/]+$/, '') || path.sep;
    if (name === '' || name === '.' || name === '..') return path.resolve(cur);
    let dir;
    try {
      dir = real(parent);
    } catch (e) {
      if (e?.code === 'ENOENT' || e?.code === 'ENOTDIR') return path.resolve(cur);
      throw ioError('resolving', parent, e);
    }
    const here = path.join(dir, name);
    let target;
    try {
      target = fs.readlinkSync(here);
    } catch {
      return here; // missing (ENOENT) or not a symlink (EINVAL): this is the name
    }
    cur = path.isAbsolute(target) ? target : `${dir}${path.sep}${target}`; // a dangling symlink: follow it
  }
  throw new DeviceError('EIO', `resolving ${p} failed: too many levels of symbolic links`);
}

/**
 * rename(from, to), atomically replacing `to`, then fsync the directory of `to` (the caller has
 * synced `from` itself).
 * @param {typeof import('node:fs')} fs
 * @param {typeof import('node:path')} path
 * @param {string} from
 * @param {string} to
 * @throws {DeviceError} EIO; with `renamed = true` when the rename happened and only the
 *   directory fsync failed (`to` now names the new file, but the rename may not be durable yet)
 */
export function replaceFile(fs, path, from, to) {
  try {
    fs.renameSync(from, to);
  } catch (e) {
    throw ioError(`renaming ${from} to`, to, e);
  }
  try {
    syncDir(fs, path.dirname(path.resolve(to)));
  } catch (e) {
    if (e instanceof DeviceError) e.renamed = true;
    throw e;
  }
}
