// idb/branch-parent.js — find and open the parent file of an @ruvector/rvf-node branch() child.
//
// A branch() child file holds only its own rows; the rows it inherits live in its parent, a file
// the child names in its COW_MAP segment by a path relative to the child's own directory
// (rvf-node writes 'parent.rvf', or '../<dir>/parent.rvf' for a child in another directory; an
// absolute path is used as it is). The engine reads the parent once, while the child opens
// (vl_store_open_branch, src/branch.h), and never writes it.
//
// Invariants: a missing parent is ENOTFOUND naming the absolute path looked for; the parent is
// opened read-only, takes no writer lock, and is closed by the caller right after the open.
import { VecliteError } from '../worker/errors.js';

/**
 * The parent path the file on io names, or null. A file whose newest manifest or COW_MAP cannot
 * be read (damaged, a newer format) is left to the open that follows, which reports exactly why.
 */
function parentName(engine, io) {
  try {
    return engine.storeBranchParent(io);
  } catch {
    return null;
  }
}

/**
 * The parent of the branch() child open on `io`, opened read-only; null if the file is not a
 * branch child.
 * @param {object} N the Node modules (fs, path, dev) of idb/node-store.js
 * @param {object} engine the bound engine (worker/bind.js)
 * @param {string} childAbs the child's canonical path
 * @param {number} io the child's vl_io
 * @returns {{ path: string, io: number, close(): void } | null}
 */
export function openBranchParent(N, engine, childAbs, io) {
  const rel = parentName(engine, io);
  if (rel === null) return null;
  const { fs, path, dev: D } = N;
  const abs = path.resolve(path.dirname(childAbs), rel);
  let st = null;
  try { st = fs.statSync(abs); } catch { /* missing: below */ }
  if (!st || !st.isFile()) {
    throw new VecliteError('ENOTFOUND', `${childAbs} is an @ruvector/rvf-node branch() child: its inherited rows ` +
      `live in its parent ${abs} (the child names it '${rel}', relative to its own directory), which ` +
      `${st ? 'is not a regular file' : 'does not exist'}; put the parent file back beside the child`);
  }
  let dev;
  try {
    dev = D.openNodeFileSync(fs, abs, { readOnly: true });
  } catch (e) {
    throw new VecliteError('EIO', `cannot open ${abs}, the parent of the branch() child ${childAbs}: ${e.message}`, { cause: e });
  }
  const ref = engine.ioFromDevice(dev);
  return {
    path: abs,
    io: ref.io,
    close() {
      engine.ioFree(ref);
      dev.close();
    },
  };
}

/** The error for a branch() child opened from bytes: its parent is out of reach. */
export function branchBytesError(engine, io) {
  const rel = parentName(engine, io);
  if (rel === null) return null;
  return new VecliteError('ENOTFOUND', `openCollection: the bytes are an @ruvector/rvf-node branch() child; its ` +
    `inherited rows live in its parent file '${rel}' (relative to the child's directory), which an open from ` +
    'bytes cannot reach; open the child by its file path with the parent beside it');
}
