// idb/node-store.js — the Node file backend: opening, creating, compacting and deriving .rvf
// files on disk for a session (worker/session.js; docs/api.md §6; docs/format.md §6-7).
//
// How it fits: a session imports this module dynamically, and only when a caller asks for a
// path or backend 'node', so browsers, Workers and workerd never load it. It in turn loads
// node:fs / node:path, the file device (idb/node-file.js) and the writer lock
// (idb/lock-file.js) with dynamic imports. It talks to the engine only through worker/bind.js
// methods (ioFromDevice, storeOpen, storeCompact, ...), never through heap views.
//
// Invariants:
// - A writable open opens the file (creating a missing one empty, O_EXCL) and takes its writer
//   lock (idb/lock-file.js) by the identity of that open file BEFORE reading or writing a byte
//   of it, then checks that the name still leads to that file. Every failure after that releases
//   the lock (and removes an empty file this call created, unless another writer holds it), so a
//   failed open leaves nothing behind. Read-only opens take no lock and never write.
// - Before every write (checkWriter), and right before compaction's rename, the writer checks
//   that its lock is still its own and that its file is still the one at its path; a writer that
//   lost either refuses writes (EREADONLY "moved", or ELOCK), on close too.
// - Compaction writes `<file>.compact.tmp` through the engine (which syncs it), then renames it
//   over the file and fsyncs the directory (docs/format.md §6); exportTo writes the same name under
//   the target's lock. Until the rename the original file is untouched; a leftover .compact.tmp (a
//   crash mid-compaction or mid-export) is garbage, since only the lock holder ever writes one: a
//   writer's open deletes it once it holds the lock, and compaction replaces it.
// - Every file is handled under its canonical path (idb/node-file.js realFilePath: symlinks,
//   also in its directory, resolved; a missing file is its directory's real path plus its name),
//   so all names of one file share one writer lock, and compaction renames over the real file,
//   never over a symlink to it.
// - A directory this module creates is made durable: its parent is fsynced (for every level
//   that mkdir -p created), like the files it creates.
// - Errors reaching callers are VecliteErrors; device failures become EIO/ENOTFOUND with the
//   path in the message.

import { VecliteError } from '../worker/errors.js';
import { keepTail, isSavedTailName } from './recovered-tail.js';
import { openBranchParent } from './branch-parent.js';

/** @type {Promise<any>|null} */
let loading = null;

/** True when this runtime is Node.js (or one that emulates its process object and node:fs). */
export function isNode() {
  const p = globalThis.process;
  return typeof p === 'object' && p !== null && typeof p.versions?.node === 'string';
}

/**
 * Load node:fs, node:path, node:crypto, the file device and the lock module once.
 * @returns {Promise<{ fs: any, path: any, crypto: any, dev: any, lock: any }>}
 * @throws {VecliteError} EBACKEND outside Node
 */
export function loadNode() {
  if (!isNode()) {
    return Promise.reject(new VecliteError('EBACKEND',
      "backend 'node' needs Node.js (it stores collections as files through node:fs), and this runtime is not Node. " +
      "In a browser, Worker or edge runtime use backend 'memory' (the default): keep the bytes of " +
      'collection.export() / snapshot() wherever you like and reopen them with openCollection(bytes)'));
  }
  if (!loading) {
    loading = (async () => {
      const [fs, path, crypto, dev, lock, zlib] = await Promise.all([
        import('node:fs'), import('node:path'), import('node:crypto'),
        import('./node-file.js'), import('./lock-file.js'), import('node:zlib'),
      ]);
      dev.useCrc32((zlib.default ?? zlib).crc32); // devices hash what they read (where Node has it)
      return { fs: fs.default ?? fs, path: path.default ?? path, crypto: crypto.default ?? crypto, dev, lock };
    })();
    loading.catch(() => { loading = null; });
  }
  return loading.catch((e) => {
    throw e instanceof VecliteError ? e : new VecliteError('EBACKEND',
      `backend 'node' could not load its Node modules (${e?.message ?? e}); it needs Node.js 18 or newer`, { cause: e });
  });
}

/** A device failure (idb/node-file.js DeviceError or a raw fs error) as a VecliteError. */
export function deviceError(e, what) {
  if (e instanceof VecliteError) return e;
  const code = e?.code === 'ENOTFOUND' ? 'ENOTFOUND'
    : e?.code === 'EREADONLY' ? 'EREADONLY'
      : e?.code === 'EBACKEND' ? 'EBACKEND'
        : e?.code === 'EEXIST' ? 'EINVAL' : 'EIO';
  return new VecliteError(code, `${what}: ${e?.message ?? e}`, { cause: e });
}

/**
 * Why a new file `abs` cannot be created when its folder is the reason: ENOTFOUND naming the
 * directory that should hold it and the first component of that path that is missing (or is not
 * a directory). Stores never create folders (createDatabase does, for its own directory).
 * @returns {VecliteError|null} null when the folder is there (the failure has another cause)
 */
export function missingDirError(N, abs, what) {
  const { fs, path } = N;
  const dir = path.dirname(abs);
  const chain = [];
  for (let d = dir; ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of chain) {
    let st;
    try {
      st = fs.statSync(d);
    } catch (e) {
      if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') return null;
      const why = d === dir ? '' : ` (${d} is missing)`;
      return new VecliteError('ENOTFOUND', `${what}: cannot create ${abs}: the directory ${dir} does not exist${why}; ` +
        'create it first', { cause: e });
    }
    if (!st.isDirectory()) {
      return new VecliteError('ENOTFOUND', `${what}: cannot create ${abs}: the directory ${dir} does not exist ` +
        `(${d} is not a directory)`);
    }
  }
  return null;
}

/** A failure to create the new file `abs`: a missing folder named (missingDirError), else deviceError. */
function createError(N, e, abs, what) {
  if (!(e instanceof VecliteError)) {
    const gone = missingDirError(N, abs, what);
    if (gone) return gone;
  }
  return deviceError(e, `${what}: cannot create ${abs}`);
}

/** Collection names that can become file names (docs/api.md §2). */
export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Open (or create) one .rvf file as a store of `engine`.
 * @param {any} N loadNode() result
 * @param {import('../worker/bind.js').Engine} engine
 * @param {string} file path of the .rvf file
 * @param {{ readOnly: boolean, createCfg: object|null, mustCreate?: boolean,
 *   onLockLost?: (e: VecliteError) => void }} o
 *   createCfg: the engine configuration to create the file with when it does not exist (or is
 *   empty); null: the file must exist. mustCreate: fail (EINVAL) if the file exists.
 * @returns {Promise<{ store: number, dev: any, ref: { io: number, handle: number }, lock: any,
 *   path: string, created: boolean, recovered: object|null }>} created: this open initialized the
 *   store (the file was empty), so the caller applies the rest of the create configuration
 *   (id kind, quantization, maxElements); recovered: idb/recovered-tail.js
 */
export async function openFileStore(N, engine, file, o) {
  const { fs, path, dev: D } = N;
  const abs = realPath(N, file, 'openCollection');
  if (o.readOnly && o.createCfg && !fs.existsSync(abs)) {
    throw new VecliteError('EINVAL', `openCollection: ${abs} does not exist, and a read-only open cannot create it; ` +
      'leave out readOnly to create it');
  }
  let lock = null;
  let dev = null;
  let ref = null;
  let created = false; // this open made the (empty) file
  let creating = false; // this open initialized the store in it: it applies the create configuration
  try {
    ({ dev, lock, created } = o.readOnly ? { dev: openDevice(N, abs, o, false), lock: null, created: false }
      : await openLocked(N, abs, o.createCfg !== null, o.onLockLost));
    let size;
    try {
      size = dev.size();
    } catch (e) {
      throw deviceError(e, `cannot read the size of ${abs}`);
    }
    if (o.mustCreate && size > 0) {
      throw new VecliteError('EINVAL', `${abs} already exists; open it instead of creating it, or delete it first`);
    }
    ref = engine.ioFromDevice(dev);
    engine.useSha256((b) => N.crypto.createHash('sha256').update(b).digest()); // META digests hashed natively
    const C = engine.C;
    // Not `created`: another writer may have made the empty file and still wait for the lock we
    // won (then we initialize it), or have made it, won the lock first and filled it (then we open it).
    creating = size === 0 && o.createCfg !== null && !o.readOnly;
    const flags = (o.readOnly ? C.storeFlags.READONLY : 0) | (creating ? C.storeFlags.CREATE : 0);
    let store;
    const parent = creating ? null : openBranchParent(N, engine, abs, ref.io); // an rvf-node branch() child's
    try {
      store = engine.storeOpen(ref.io, creating ? o.createCfg : null, flags, creating ? randomBytes(N, 16) : null,
        parent ? parent.io : 0);
    } catch (e) {
      throw openError(e, abs, size);
    } finally {
      parent?.close(); // read during the open only
    }
    let recovered; // bytes past the last intact commit: saved beside the file before any write
    try {
      recovered = keepTail(N, engine, store, dev, abs, o.readOnly);
    } catch (e) {
      dev.close(); // first: the close checkpoint must not cut the bytes we could not save
      engine.storeClose(store);
      throw e;
    }
    return { store, dev, ref, lock, path: abs, created: creating, recovered };
  } catch (e) {
    if (ref) engine.ioFree(ref);
    if (dev) dev.close();
    if (created && creating && lock) {
      // Only the lock holder may remove what it created: without the lock, another writer may
      // already be filling the file; and a file another writer filled before we got the lock is
      // theirs.
      try {
        fs.rmSync(abs, { force: true });
        D.syncDir(fs, path.dirname(abs));
      } catch { /* best effort */ }
    }
    if (lock) lock.release();
    throw e;
  }
}

/** The suffix of compaction's temporary file; no writer may open a file by such a name. */
const COMPACT_TMP = '.compact.tmp';

/** Open the device of an existing file (ENOTFOUND when it is missing), or null for a missing file when `orNull`. */
function openDevice(N, abs, o, orNull) {
  const { fs, dev: D } = N;
  try {
    const st = fs.statSync(abs);
    if (!st.isFile()) throw new VecliteError('EINVAL', `${abs} is not a regular file`);
  } catch (e) {
    if (e instanceof VecliteError) throw e;
    if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') throw deviceError(e, `cannot stat ${abs}`);
    if (orNull) return null;
    throw new VecliteError('ENOTFOUND', `${abs} does not exist; pass create: { dimension, ... } to create it`);
  }
  try {
    return D.openNodeFileSync(fs, abs, { readOnly: o.readOnly });
  } catch (e) {
    if (orNull && e?.code === 'ENOTFOUND') return null;
    throw deviceError(e, `cannot open ${abs}`);
  }
}

/**
 * Open (or create, empty and exclusively) a file for writing and take its writer lock by the
 * identity of the open file, then make sure the name still leads to that file (it may have been
 * replaced between open and lock: then start again).
 * @returns {Promise<{ dev: any, lock: any, created: boolean }>}
 */
async function openLocked(N, abs, mayCreate, onLockLost) {
  const { fs, path, dev: D, lock: L } = N;
  if (abs.endsWith(COMPACT_TMP)) {
    throw new VecliteError('EINVAL', `${abs}: names ending in ${COMPACT_TMP} are reserved for compaction's temporary ` +
      'files (compacting the store beside it replaces them); rename the file to write it');
  }
  if (isSavedTailName(abs)) {
    throw new VecliteError('EINVAL', `${abs}: names ending in .recovered-<epoch>-<offset>-<ms> are reserved for the bytes ` +
      'an open saved from the store beside it (discardRecovered() removes them); rename the file to write it');
  }
  for (let attempt = 0; ; attempt++) {
    let dev = openDevice(N, abs, { readOnly: false }, mayCreate);
    let created = false;
    if (!dev) {
      try {
        dev = D.openNodeFileSync(fs, abs, { create: true, exclusive: true });
        created = true;
      } catch (e) {
        if (e?.code === 'EEXIST' && attempt < 5) continue; // created by someone else meanwhile: open theirs
        throw createError(N, e, abs, 'openCollection');
      }
    }
    let lock = null;
    let fresh = null;
    try {
      if (created) D.syncDir(fs, path.dirname(abs)); // the new name is durable before we commit into it
      const id = dev.stat();
      lock = await L.acquireFileLock(abs, { onLost: onLockLost, identity: id });
      // The lock may have come long after the open (a previous writer finishing): nothing read
      // before it counts. A new descriptor knows the file as it is now; it must be the locked file.
      fresh = D.openNodeFileSync(fs, abs, { readOnly: false });
      const now = fresh.stat();
      if (now.dev !== id.dev || now.ino !== id.ino) {
        throw new VecliteError('EREADONLY', `${abs} was replaced while its writer lock was being taken`);
      }
      lock.checkFile(now);
      dev.close();
      dev = fresh;
      const opened = fresh;
      lock.watchFile(() => opened.stat());
      // A .compact.tmp beside the file is what a writer killed mid-compaction (or mid-exportTo)
      // left: only the lock holder writes one and we hold the lock now, so it is garbage (as large
      // as the store) that nothing else would remove until the next compaction.
      try { fs.rmSync(`${abs}${COMPACT_TMP}`, { force: true }); } catch { /* best effort: replaced by the next compaction */ }
      // Likewise the lock-file temporaries of writers killed while claiming or taking the lock.
      L.sweepLockTemps(abs);
      return { dev: fresh, lock, created };
    } catch (e) {
      if (created && lock) {
        // We hold it, nobody else can be using it: take back the empty file we made.
        try {
          if (dev.size() === 0) {
            fs.rmSync(abs, { force: true });
            D.syncDir(fs, path.dirname(abs));
          }
        } catch { /* best effort */ }
      }
      if (fresh) fresh.close();
      dev.close();
      if (lock) lock.release();
      if (e?.code === 'EREADONLY' && attempt < 5) continue; // replaced between open and lock: again
      // A file we created but could not lock stays (empty): another writer may be using it.
      throw e instanceof VecliteError ? e : deviceError(e, `cannot open ${abs}`);
    }
  }
}

/**
 * Before a write through a file store: the writer still holds its lock and its file is still the
 * one at its path (see FileLock.checkFile).
 * @throws {VecliteError} EREADONLY (file moved), ELOCK (lock lost), EIO
 */
export function checkWriter(dev, lock) {
  let st;
  try {
    st = dev.stat();
  } catch (e) {
    throw deviceError(e, 'cannot check the file before writing');
  }
  lock.checkFile(st);
}

/** EINVAL for a path with a NUL character (the OS would cut it, or Node reject it as EIO-ish). */
function noNul(p, where) {
  if (typeof p === 'string' && p.includes('\0')) {
    throw new VecliteError('EINVAL', `${where}: the path ${JSON.stringify(p)} contains a NUL character, which no file name can hold`);
  }
}

/** The canonical path of a file (see the invariants), as a VecliteError EIO when it cannot be had. */
export function realPath(N, file, where) {
  noNul(file, where);
  try {
    return N.dev.realFilePath(N.fs, N.path, file);
  } catch (e) {
    throw deviceError(e, `${where}: cannot resolve ${file}`);
  }
}

/** Explain a failed vl_store_open of a file. */
function openError(e, abs, size) {
  if (!(e instanceof VecliteError)) return e;
  if (e.code === 'ENOTFOUND') {
    return size === 0
      ? new VecliteError('ENOTFOUND', `${abs} is empty: it holds no collection; pass create: { dimension, ... } to create one in it`, { cause: e })
      : new VecliteError('ECORRUPT', `${abs} is not an .rvf file (no valid MANIFEST segment found: ${e.message}); ` +
        'check the path, or restore the file from a backup', { cause: e });
  }
  if (e.code === 'ECORRUPT' || e.code === 'EVERSION') {
    return new VecliteError(e.code, `${abs}: ${e.message}`, { cause: e });
  }
  return e;
}

/** n cryptographically random bytes. */
export function randomBytes(N, n) {
  const b = new Uint8Array(n);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(b);
  else N.crypto.randomFillSync(b);
  return b;
}

/**
 * Compact a file store in place (docs/format.md §6): the engine writes the compacted image to
 * `<file>.compact.tmp` (and syncs it), which is then renamed over the file and the directory
 * fsynced. `abs` must be the canonical path openFileStore returned (never a symlink). On
 * success the store lives on the new file: returns its device and io; the caller frees the old
 * ones. Failures, by step (each message says which, and what state things are in):
 * - writing the image (ENOSPC, EIO...): the engine leaves the store where it was, the file is
 *   untouched, the temporary file is removed; the collection stays usable.
 * - the image's fsync, the writer check (EREADONLY/ELOCK: the name no longer leads to the
 *   writer's file, or its lock was lost) or the rename: the file is unchanged, but the store
 *   already lives on the temporary file: `renameFailed = true`, `dev`/`ref` are the temporary
 *   file's device.
 * - the directory fsync after the rename: the file WAS replaced by the compacted image (the
 *   store lives on it, at `abs`), but the rename may not be durable yet: `replaced = true`,
 *   `dev`/`ref` are the new file's device, which the caller must adopt as on success.
 * @param {{ dev: any, lock: any }|null} writer the writer's current device and lock: checked right
 *   before the rename, and the lock's identity claim moved to the compacted file
 * @returns {Promise<{ dev: any, ref: { io: number, handle: number } }>}
 * @throws {VecliteError}
 */
export async function compactFile(N, engine, store, abs, writer = null) {
  const { fs, path, dev: D } = N;
  const tmp = `${abs}${COMPACT_TMP}`;
  try {
    fs.rmSync(tmp, { force: true }); // a crash's leftover: only the lock holder writes one
  } catch (e) {
    throw deviceError(e, `cannot remove the stale ${tmp}`);
  }
  let dev;
  try {
    dev = D.openNodeFileSync(fs, tmp, { create: true, exclusive: true });
  } catch (e) {
    throw deviceError(e, `compact: cannot create ${tmp}`);
  }
  const ref = engine.ioFromDevice(dev);
  try {
    engine.storeCompact(store, ref.io);
  } catch (e) {
    engine.ioFree(ref);
    dev.close();
    try { fs.rmSync(tmp, { force: true }); } catch { /* best effort */ }
    // vl_store_compact leaves the store on its own file when writing the image fails.
    const err = new VecliteError(e instanceof VecliteError ? e.code : 'EIO',
      `compact failed while writing the compacted image ${tmp} (${e?.message ?? e}); ${abs} is untouched ` +
      (e?.poisoned ? 'but this handle is not usable: close the collection and reopen it' : 'and the collection is still usable'), { cause: e });
    if (e?.poisoned) err.poisoned = true;
    throw err;
  }
  // From here the store lives on the temporary file (storeCompact moved it there): a failure
  // leaves the original file as it was, and the handle must not be used further.
  try {
    dev.sync();
    if (writer) {
      // Right before the rename: the name must still lead to our file, under our lock, and the
      // image is claimed as ours before it takes the name.
      checkWriter(writer.dev, writer.lock);
      await writer.lock.claimNext(dev.stat());
      checkWriter(writer.dev, writer.lock);
    }
    D.replaceFile(fs, path, tmp, abs);
    if (writer) {
      writer.lock.adoptNext(dev.stat());
      writer.lock.watchFile(() => dev.stat());
    }
  } catch (e) {
    if (e?.renamed) {
      if (writer) {
        writer.lock.adoptNext(dev.stat()); // the name leads to the image now
        writer.lock.watchFile(() => dev.stat());
      }
      const err = deviceError(e, `compact: ${abs} WAS replaced by the compacted image and the collection now ` +
        'uses it, but the directory fsync after the rename failed, so the rename may not be durable yet (after ' +
        'a crash the file could come back as it was before compaction, which holds the same committed rows); ' +
        'the collection takes no more writes: close and reopen it');
      err.replaced = true;
      err.dev = dev;
      err.ref = ref;
      throw err;
    }
    const err = e instanceof VecliteError
      ? new VecliteError(e.code, `compact: ${e.message} (the compacted image was not put in place; ${abs} is unchanged)`, { cause: e })
      : deviceError(e, `compact: the compacted image ${tmp} is complete but could not replace ${abs} ` +
        '(the original file is unchanged)');
    err.renameFailed = true;
    err.dev = dev;
    err.ref = ref;
    throw err;
  }
  return { dev, ref };
}

/**
 * Create a child file for derive(): a fresh file (EINVAL if the name exists, even as a dangling
 * symlink), locked as its writer, under its canonical path.
 * @returns {Promise<{ dev: any, ref: { io: number, handle: number }, lock: any, path: string }>}
 *   the caller runs storeDerive on ref.io and cleans up with {@link abandonFile} on failure
 */
export async function createChildFile(N, engine, file, onLockLost) {
  const { fs, path, dev: D, lock: L } = N;
  noNul(file, 'derive');
  let taken = true;
  try {
    fs.lstatSync(file);
  } catch (e) {
    if (e?.code !== 'ENOENT') throw deviceError(e, `derive: cannot stat ${file}`);
    taken = false;
  }
  if (taken) {
    throw new VecliteError('EINVAL', `derive: ${path.resolve(file)} already exists; derive into a new file name`);
  }
  const abs = realPath(N, file, 'derive');
  let dev;
  try {
    dev = D.openNodeFileSync(fs, abs, { create: true, exclusive: true });
  } catch (e) {
    throw createError(N, e, abs, 'derive');
  }
  let lock;
  try {
    D.syncDir(fs, path.dirname(abs));
    const id = dev.stat();
    lock = await L.acquireFileLock(abs, { onLost: onLockLost, identity: id });
    // As in openLocked: know the file as it is once locked, through a new descriptor.
    const fresh = D.openNodeFileSync(fs, abs, { readOnly: false });
    const now = fresh.stat();
    dev.close();
    dev = fresh;
    if (now.dev !== id.dev || now.ino !== id.ino || now.size !== 0n) {
      lock.release();
      lock = null;
      throw new VecliteError('ELOCK', `derive: ${abs} was replaced or written by someone else while it was being created`);
    }
    lock.watchFile(() => fresh.stat());
  } catch (e) {
    dev.close();
    if (lock) {
      // Ours alone: take back the file we made. Without the lock another writer may hold it.
      try { fs.rmSync(abs, { force: true }); } catch { /* best effort */ }
      lock.release();
    }
    throw deviceError(e, `derive: cannot create ${abs}`);
  }
  return { dev, ref: engine.ioFromDevice(dev), lock, path: abs };
}

/** Undo createChildFile after a failed derive. */
export function abandonFile(N, engine, f) {
  engine.ioFree(f.ref);
  f.dev.close();
  try { N.fs.rmSync(f.path, { force: true }); } catch { /* best effort */ }
  f.lock.release();
}

/**
 * The committed bytes of a file store: the file from offset 0 up to `bytes` (where the next
 * commit goes), read through its device.
 * @returns {Uint8Array}
 */
export function readCommitted(dev, bytes) {
  const out = new Uint8Array(bytes);
  try {
    dev.read(0, out);
  } catch (e) {
    throw deviceError(e, 'export: cannot read the file');
  }
  return out;
}

/**
 * The writer lock of a file for status(): null when there is none.
 * @returns {null | { pid: number|null, host: string|null, writerId: string|null, refreshedAt: number|null,
 *   valid: boolean, ours: boolean }}
 */
export function lockStatus(N, abs, ownLock) {
  let l;
  try {
    l = N.lock.readFileLock(abs);
  } catch {
    return null;
  }
  if (!l) return null;
  return {
    pid: l.pid, host: l.host, writerId: l.writerId,
    refreshedAt: l.createdNs === null ? null : Number(l.createdNs / 1_000_000n),
    valid: l.valid,
    ours: Boolean(ownLock && ownLock.held && l.writerId === ownLock.holder.writerId),
  };
}

// ---- database directories --------------------------------------------------------------------

/**
 * Make sure a database directory exists (created with parents if missing). Each directory
 * created here is made durable by fsyncing its parent, from the topmost new one down.
 * @returns {string} its absolute path
 */
export function ensureDir(N, dir) {
  const { fs, path, dev: D } = N;
  noNul(dir, 'createDatabase');
  const abs = path.resolve(dir);
  let first;
  try {
    first = fs.mkdirSync(abs, { recursive: true }); // the topmost directory it created, if any
    if (!fs.statSync(abs).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    if (e?.code === 'EEXIST' || e?.code === 'ENOTDIR') {
      throw new VecliteError('EINVAL', `createDatabase: path ${abs} exists and is not a directory; ` +
        'give a directory (one <name>.rvf file per collection lives in it)', { cause: e });
    }
    throw deviceError(e, `createDatabase: cannot create the directory ${abs}`);
  }
  if (first) {
    // mkdir -p created `first` and every directory from it down to abs.
    const created = [];
    for (let d = abs; ; d = path.dirname(d)) {
      created.push(d);
      if (d === path.resolve(first) || path.dirname(d) === d) break;
    }
    try {
      for (const d of created.reverse()) D.syncDir(fs, path.dirname(d));
    } catch (e) {
      throw deviceError(e, `createDatabase: created ${abs} but cannot make it durable`);
    }
  }
  return abs;
}

/**
 * The absolute path of an existing database directory, creating nothing (a read-only database):
 * ENOTFOUND when it is missing, EINVAL when it is not a directory.
 */
export function existingDir(N, dir) {
  const { fs, path } = N;
  noNul(dir, 'createDatabase');
  const abs = path.resolve(dir);
  let st;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    if (e?.code === 'ENOENT') {
      throw new VecliteError('ENOTFOUND', `createDatabase: directory ${abs} does not exist; a read-only database opens ` +
        'an existing one and creates nothing (create it with a writable createDatabase({ path }) first)', { cause: e });
    }
    throw deviceError(e, `createDatabase: cannot read the directory ${abs}`);
  }
  if (!st.isDirectory()) {
    throw new VecliteError('EINVAL', `createDatabase: path ${abs} is not a directory; give the directory that holds the <name>.rvf files`);
  }
  return abs;
}

/**
 * The first of `holders` ({ path, kind } from the facade's web/handles.js) whose file is `file`,
 * comparing real paths (symlinks, `..` resolved), or null. A path that no longer resolves is no
 * longer that file.
 */
export function heldBy(N, file, holders) {
  let real;
  try {
    real = N.fs.realpathSync(file);
  } catch {
    return null; // no file: nothing to protect
  }
  for (const h of holders) {
    if (typeof h?.path !== 'string' || typeof h.kind !== 'string') continue;
    try {
      if (N.fs.realpathSync(h.path) === real) return h;
    } catch { /* gone or never created */ }
  }
  return null;
}

/**
 * Whether a writer holds the lock of `file`: its ELOCK message (naming pid, host and the lock
 * file), or null when the lock can be taken now (it is then released at once).
 */
export async function writerLockHeld(N, file) {
  let lock;
  try {
    lock = await N.lock.acquireFileLock(realPath(N, file, 'deleteCollection'));
  } catch (e) {
    if (e?.code === 'ELOCK') return e.message;
    throw e;
  }
  lock.release();
  return null;
}

/** Names of the collections (files `<name>.rvf` with a valid name) in a directory, sorted. */
export function listDir(N, abs) {
  let names;
  try {
    names = N.fs.readdirSync(abs);
  } catch (e) {
    throw deviceError(e, `listCollections: cannot read ${abs}`);
  }
  const out = [];
  for (const f of names) {
    if (!f.endsWith('.rvf')) continue;
    const name = f.slice(0, -4);
    if (NAME_RE.test(name) && holdsCollection(N, N.path.join(abs, f))) out.push(name);
  }
  return out.sort();
}

/**
 * Whether a path is a collection's file: it exists and is not empty. An empty .rvf is what a
 * create that failed before its first commit (a full disk, a kill) can leave; it holds nothing,
 * and a createCollection of that name takes it over.
 */
export function holdsCollection(N, file) {
  try {
    return N.fs.statSync(file).size > 0;
  } catch {
    return false;
  }
}

/**
 * Delete `<name>.rvf` under the writer lock of the file it names (ELOCK if another writer holds
 * it), plus a stale compaction temp file; the lock file goes with the lock. When `<name>.rvf` is
 * a symlink only the link is removed: the file it points to may be another collection's (or
 * another database's) and stays as it is.
 */
export async function deleteFile(N, abs) {
  const { fs, path, dev: D, lock: L } = N;
  if (!fs.existsSync(abs)) return false;
  const real = realPath(N, abs, 'deleteCollection');
  let isLink;
  try {
    isLink = fs.lstatSync(abs).isSymbolicLink();
  } catch (e) {
    throw deviceError(e, `deleteCollection: cannot stat ${abs}`);
  }
  const lock = await L.acquireFileLock(real);
  try {
    if (isLink) {
      fs.rmSync(abs, { force: true });
      D.syncDir(fs, path.dirname(abs));
    } else {
      fs.rmSync(`${real}.compact.tmp`, { force: true });
      fs.rmSync(real, { force: true });
      D.syncDir(fs, path.dirname(real));
    }
  } catch (e) {
    throw deviceError(e, `deleteCollection: cannot remove ${abs}`);
  } finally {
    lock.release();
  }
  return true;
}

/** A file-system failure as a VecliteError (ENOTFOUND for a missing file, else EIO). */
function fsError(e, what) {
  if (e instanceof VecliteError) return e;
  const code = e?.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO';
  return new VecliteError(code, `${what}: ${e?.message ?? String(e)}`, { cause: e });
}

/**
 * Write an .rvf image to `out` as its writer would (Collection.exportTo): under out's writer
 * lock (ELOCK when a live writer holds it — it would lose every later commit to the replaced
 * file), into a temporary sibling that is fsynced and renamed over the file (so OUT is never
 * half-written), then the directory fsynced. A symlinked OUT is resolved first: the file it
 * names is replaced, as a writer opening OUT would write it.
 * @returns {Promise<string>} the path written (canonical)
 */
export async function writeImageFile(N, out, img, overwrite) {
  const { fs, path, dev: D, lock: L } = N;
  let target;
  try {
    target = D.realFilePath(fs, path, out);
  } catch (e) {
    throw fsError(e, `cannot resolve ${out}`);
  }
  if (!fs.existsSync(path.dirname(target))) {
    throw new VecliteError('ENOTFOUND', `cannot write ${out}: the directory ${path.dirname(target)} does not exist`);
  }
  if (!overwrite && fs.existsSync(target)) {
    throw new VecliteError('EINVAL', `${out} already exists; pass { overwrite: true } to replace it`);
  }
  const lock = await L.acquireFileLock(target);
  // The name compaction uses: only the holder of the target's lock writes it, so a copy a killed
  // export left behind is overwritten by the next export and removed by the next compaction.
  const tmp = `${target}${COMPACT_TMP}`;
  try {
    try {
      const fh = await fs.promises.open(tmp, 'w');
      try {
        await fh.writeFile(img);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, target);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw fsError(e, `writing ${out}`);
    }
    try {
      D.syncDir(fs, path.dirname(target));
    } catch (e) {
      throw fsError(e, `${out} is written, but its directory could not be synced (a crash now may lose it)`);
    }
  } finally {
    lock.release();
  }
  return target;
}
