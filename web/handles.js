// web/handles.js — which .rvf files the facade objects of this JavaScript realm have open, so that
// Database.deleteCollection can refuse (ELOCK) to remove a file another handle still uses
// (docs/api.md §2).
//
// Why here: sessions may run in worker_threads (createDatabase({ workers })), each with its own
// memory, but every Database and Collection object of a realm is made by this module's caller, on
// one thread. So the registry lives beside the facade, and a delete sends the session the list of
// files other objects hold; the session compares real paths (symlinks and `a/../a` resolved) when
// it deletes.
//
// Invariants:
// - An entry is added before the message that opens a file is sent (with the path as given, or
//   the file a database would open) and dropped when that open fails or the object closes, is
//   deleted, or its database closes; once opened, its path is the session's real path.
// - Only file handles (backend 'node') are entered. A realm is this thread: veclite loaded again
//   in a worker the caller runs has its own registry (docs/api.md §2 says so).

/** @typedef {{ path: string, kind: string, owner: object }} Hold */

/** @type {Set<Hold>} */
const HOLDS = new Set();

/**
 * Enter a file an object is opening or has open.
 * @param {string} path the path as given (resolved by the session at delete time) or a real path
 * @param {string} kind what holds it, for the error message ("an openCollection(path) handle")
 * @param {object} owner the object whose deletes ignore this entry (a Database, a Collection)
 * @returns {Hold}
 */
export function holdFile(path, kind, owner) {
  const h = { path, kind, owner };
  HOLDS.add(h);
  return h;
}

/** Drop an entry (idempotent; null is ignored). @param {Hold|null|undefined} h */
export function releaseFile(h) {
  if (h) HOLDS.delete(h);
}

/**
 * Files held by objects other than `owner`, as plain data for the session.
 * @param {object} owner
 * @returns {{ path: string, kind: string }[]}
 */
export function holdersExcept(owner) {
  const out = [];
  for (const h of HOLDS) if (h.owner !== owner) out.push({ path: h.path, kind: h.kind });
  return out;
}
