// worker/text.js — keyword and hybrid search in a session (docs/api.md §4 "text"): the text field
// a collection is created with (kept in its store as file metadata "veclite.text"), and the
// session side of a search with `text`, which the engine answers (src/text.c: BM25 over an
// inverted index; hybrid: weighted reciprocal-rank fusion with the vector ranking).
//
// Invariants: the field is chosen while the collection has never held a row and never changes
// (a mismatch at open is EINVAL); results leave in the protocol's columnar form
// (worker/protocol.js "Hits") plus `text` (BM25 per hit) and `fused` (hybrid score per hit).

import { einval } from './errors.js';
import { emitFilter } from './filter.js';
import { knownField, nameOf, publicId, storeWrite } from './rows.js';
import { decodeRecord } from './metadata.js';

/** Give a new (empty) collection its text field: stored in its store, or set on its bare index. */
export function applyText(s, field) {
  if (!field) return;
  if (s.store) storeWrite(s, () => s.engine.storeSetText(s.store, field));
  else s.engine.indexSetText(s.h, field);
}

/**
 * openCollection(…, { create }) on an existing store: the text field asked for must be the
 * store's (an empty writable store without one gets it). Returns an error to throw, or null.
 */
export function textMismatch(s, field) {
  const have = s.engine.textField(s.h);
  if (have === field) return null;
  if (have === null && field && !s.readOnly && s.engine.count(s.h) === 0 && s.engine.stats(s.h).nodes === 0) {
    applyText(s, field);
    return null;
  }
  return einval(`openCollection: the store exists with text field ${have === null ? 'none' : `'${have}'`}, but create asks for ` +
    `${field ? `'${field}'` : 'none'}; the text field of a store is chosen when it is created; leave out create to open it as it is`);
}

/**
 * One search with `text`: BM25 alone (flat null) or hybrid with the query vector.
 * o: { k, ef?, filter (parsed) | null, text, hybrid: { alpha, fetchK } | null, includeMetadata,
 * includeVectors }.
 */
export function runTextSearch(s, flat, o) {
  if (s.engine.textField(s.h) === null) {
    throw einval(`search: collection '${s.name}' has no text field; create it with text: { field: 'name' } to search by keywords`);
  }
  const wantMeta = o.includeMetadata && s.userMeta;
  const live = s.engine.count(s.h);
  const k = Math.max(1, Math.min(o.k, live));
  const fetchK = o.hybrid ? Math.max(k, Math.min(o.hybrid.fetchK, Math.max(live, 1))) : 0;
  const program = o.filter ? emitFilter(o.filter, (name) => knownField(s, name)) : null;
  const ef = o.ef ?? s.defaultEf;
  const r = s.engine.searchText(s.h, s.dim, flat, new TextEncoder().encode(o.text), k, ef, program, wantMeta,
    o.includeVectors, flat ? { fetchK, alpha: o.hybrid.alpha } : null);
  const n = r.counts[0];
  const ids = new Array(k);
  for (let i = 0; i < n; i++) ids[i] = publicId(s, r.ids, i);
  let metas = null;
  if (o.includeMetadata) {
    metas = new Array(k);
    const nameFn = nameOf(s);
    for (let i = 0; i < k; i++) metas[i] = wantMeta && i < n ? decodeRecord(r.meta.bytes, r.meta.off[i], r.meta.off[i + 1], nameFn).meta : {};
  }
  return { nq: 1, k, counts: r.counts, dist: r.dist, ids, metas, vecs: o.includeVectors ? r.vecs : null, text: r.text, fused: r.fused };
}
