// worker/image.js — the bytes export() hands out, checked before they leave: a store's committed image.
//
// How it fits: the session's export (worker/collection.js) reads a store's committed bytes — from 0 to where
// its next commit goes (status().bytes) — out of its file (idb/node-store.js readCommitted) or
// its memory device, and passes them through checkedImage() before returning them. The check
// itself is C (vl_store_check_image, reached through worker/bind.js storeCheckImage).
//
// Why: a file can change under a handle. A read-only handle holds the commit it opened while a
// writer appends newer commits (harmless: the image is a prefix the writer never rewrites), but a
// truncation, a rewrite or a damaged disk sector inside that prefix would otherwise be exported
// silently as if it were the commit.
//
// Invariant: checkedImage returns bytes that are exactly the commit the handle holds — they open
// as an .rvf whose committed manifest is the handle's, byte for byte and at the same offset, they
// end where the handle's next commit goes, and every segment that manifest lists hash-verifies —
// or it throws a VecliteError (ECORRUPT: the bytes differ; EIO: they could not be read) saying that
// the store changed under the handle. It never repairs or substitutes anything.

import { VecliteError } from './errors.js';

/**
 * Read a store's committed image with `read` and check it against the commit the handle holds.
 * @param {import('../worker/bind.js').Engine} engine
 * @param {number} store the store handle
 * @param {() => Uint8Array} read returns the image bytes (a fresh copy)
 * @param {string} where names the source in messages ("the file /x/y.rvf")
 * @returns {Uint8Array} the checked bytes
 * @throws {VecliteError} ECORRUPT or EIO when the source no longer holds the handle's commit
 */
export function checkedImage(engine, store, read, where) {
  let bytes;
  try {
    bytes = read();
    engine.storeCheckImage(store, bytes, 'export');
  } catch (e) {
    if (!(e instanceof VecliteError) || (e.code !== 'ECORRUPT' && e.code !== 'EIO')) throw e;
    throw new VecliteError(e.code,
      `export: ${where} no longer holds the commit this handle opened, so it is not exported ` +
      `(${e.message}); reopen the collection to export its current commit, or run verify()/recover`,
      { cause: e });
  }
  return bytes;
}
