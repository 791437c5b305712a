// worker/protocol.js — the one message protocol between the facade (web/) and a session
// (worker/session.js), whatever hosts the session: the calling thread, a module Web Worker or a
// Node worker_threads worker (docs/workers.md).
//
// Envelope
//   request   { id, type, args }              id: a positive integer, unique per client
//   reply     { id, result }                  the call succeeded
//             { id, error: { code, message, outcome? } }
//   code is one of ERROR_CODES (worker/errors.js, written down once); outcome only on a failed
//   durable write ('notWritten' | 'unknown'). Replies may come in any order; a client matches
//   them by id. Vectors and results travel as typed arrays whose buffers are transferred (the
//   sender gives them up) from TRANSFER_MIN_BYTES on, everything else by structured clone.
//
// Messages (args -> result). `db` and `col` are handles a session hands out; a handle is only
// meaningful to the session that made it.
//   open              { simd?, wasmModule }                 -> { implementation, limits }
//   createDatabase    { path?, budget? }                    -> { db, path }   (budget: memoryBudgetMB in bytes)
//   closeDatabase     { db }                                -> null
//   createCollection  { db, name, config }                  -> Info
//   getCollection     { db, name, maxElements? }            -> Info | null (none of that name)
//   listCollections   { db }                                -> string[]
//   deleteCollection  { db, name }                          -> boolean (whether there was one)
//   openCollection    { source: path|Uint8Array, readOnly, create?, ef?, followMs, budget? } -> Info
//   openReplica       { path? | bytes?, name, ef? }         -> Info   (read-only; follows 'apply')
//   restoreCollection { db, name, bytes }                   -> Info   (a pool's new writer takes over an image)
//   end               {}                                    -> null   (drop the session's own engine reference)
//   apply             { col, from?, bytes?, reopen? }       -> { epoch }   (replicas: catch up)
//   insert            { col, ids, vecs, metas, where }      -> { written, dim, commit? }
//   update            { col, id, vector?, metadata?, hasVec, hasMeta, merge? } -> { commit? }
//                     (merge: the metadata entries are merged into the stored record, a NULL
//                     entry removing its key, read and written in this one message)
//   delete            { col, ids, many }                    -> { deleted, commit? }
//   deleteWhere       { col, filter (parsed) }              -> { deleted, commit? }   (one store write)
//   clear             { col }                               -> { commit? }
//   search            { col, queries, nq, options }         -> Hits (columnar, see below)
//   scanPage          { col, after, pageSize }              -> { pairs, ids, metas }
//   rank              { col, query, pairs, options }        -> Hits for one query
//   get               { col, id }                           -> { id, vector, metadata } | null
//   getMany           { col, ids }                          -> ({ id, vector, metadata } | null)[]  (one getBatch)
//   ids               { col, after: [lo, hi] | null, limit } -> { ids, next: [lo, hi] | null }
//                     (live ids in ascending internal order; next is opaque to the caller)
//   count | stats | segments | status | verify | export | snapshot | refresh   { col } -> ...
//   compact           { col }                               -> { bytesBefore, bytesAfter, commit? }
//   exportTo          { col, path, overwrite }              -> { path, bytes }
//   similarityMatrix  { metric, dim, a, b }                 -> Float32Array (a x b scores, row-major)
//                     { col, idsA, idsB | null }            -> the same over stored rows (the collection's metric)
//   kmeans            { metric, dim, x, k, options }        -> { centroids, assignments, sizes, inertia,
//                     { col, k, options }                      iterations, reseeded, empty } (+ ids, metric, dim
//                                                              for a collection: its live rows)
//   salvageRead       { path, out? }                        -> { name, bytes, tails, outExists }   (no engine needed)
//   derive            { col, path? }                        -> Info
//   discardRecovered  { col }                               -> { removed }
//   close             { col }                               -> null
//   Info = { col, name, dim, metric, readOnly, path, impl, epoch }
//   Hits = { nq, k, counts: Uint32Array, dist: Float32Array, ids: any[], metas: object[]|null,
//            vecs: Float32Array|null }: query q's i-th hit is slot q*k+i, i < counts[q], best
//            first; the facade turns distances into scores and applies the threshold.
//   commit = { epoch, bytes, tail?: { from, bytes } | { reopen: Uint8Array } }: what a writer
//            session appended, for a pool to hand to its replicas (pooled sessions only).
//
// Invariants:
// - A session never sees a user's object: the facade reads every argument into plain data
//   first (web/args.js), so a hostile getter or Proxy fails in the caller's thread as EINVAL.
// - Every error crosses as { code, message, outcome? } and becomes a VecliteError again on the
//   other side; nothing else is thrown across.

import { ERROR_CODES, VecliteError } from './errors.js';

/**
 * Reads a pool may serve from any of its sessions (every replica is current for every write that
 * resolved): 'split' spreads the queries of one call over all of them. A read with `pinned: true`
 * (the steps of one predicate search) and every other message go to the writer session.
 */
export const READS = Object.freeze({ search: 'split', get: 'any', getMany: 'any', count: 'any' });

/** The wire form of a thrown value. */
export function errorToWire(e) {
  if (e instanceof VecliteError || (e && ERROR_CODES.includes(e.code) && typeof e.message === 'string')) {
    const w = { code: e.code, message: e.message };
    if (e.outcome !== undefined) w.outcome = e.outcome;
    return w;
  }
  let text;
  try { text = e instanceof Error ? `${e.name}: ${e.message}` : String(e); } catch { text = 'an unreadable exception'; }
  return { code: 'EIO', message: `internal error in the veclite session (${text}); this is a bug in veclite` };
}

/** A VecliteError from its wire form. */
export function errorFromWire(w) {
  const code = ERROR_CODES.includes(w?.code) ? w.code : 'EIO';
  const err = new VecliteError(code, typeof w?.message === 'string' ? w.message : 'unknown error');
  if (w?.outcome !== undefined) err.outcome = w.outcome;
  return err;
}

/**
 * Buffers smaller than this are copied: transferring one costs more than copying it (measured in
 * Node 20: ~13 µs per transferred buffer, so a getMany of 50,000 rows, one small vector each,
 * took ten times as long as in-thread when every vector was transferred).
 */
export const TRANSFER_MIN_BYTES = 65536;

/**
 * The buffers of typed arrays found at the top two levels of a message value (args or result),
 * to transfer instead of copy (those of at least TRANSFER_MIN_BYTES). A buffer is listed once;
 * views of the WebAssembly heap never get here (the binding always copies out).
 */
export function transferList(value) {
  const out = new Set();
  const take = (v) => {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.byteLength === v.buffer.byteLength &&
        v.byteLength >= TRANSFER_MIN_BYTES) out.add(v.buffer);
  };
  if (value && typeof value === 'object') {
    take(value);
    for (const k of Object.keys(value)) {
      const v = value[k];
      take(v);
      if (v && typeof v === 'object' && !ArrayBuffer.isView(v) && !Array.isArray(v)) for (const k2 of Object.keys(v)) take(v[k2]);
    }
  }
  return [...out];
}
