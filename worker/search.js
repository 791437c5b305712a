// worker/search.js — a session's reads: k-NN search, exact ranking of chosen ids, pages of live
// rows (for a facade-side JS predicate) and get (docs/workers.md §2).
//
// Results leave in the protocol's columnar form (worker/protocol.js "Hits"): distances, counts
// and vectors in typed arrays (transferred, not copied, by a worker host), ids and metadata as
// plain values. Scores and the threshold are the facade's business.
//
// Invariants:
// - Every engine result is copied out of the heap by worker/bind.js before it gets here.
// - A filter arrives parsed (worker/filter.js parseFilter); field names are resolved here, and a
//   name the collection has never stored matches like a missing field (NO_FIELD).

import { decodeRecord } from './metadata.js';
import { emitFilter } from './filter.js';
import { knownField, nameOf, publicId } from './rows.js';

/** Decode the records of a bind result into metadata objects (slots 0..n-1; {} where absent). */
function metasOf(s, meta, n, want) {
  if (!want) return null;
  const out = new Array(n);
  const nameFn = nameOf(s);
  for (let i = 0; i < n; i++) out[i] = meta ? decodeRecord(meta.bytes, meta.off[i], meta.off[i + 1], nameFn).meta : {};
  return out;
}

/**
 * Search nq queries (flat float32, nq * dim). o: { k, ef?, minEf?, filter (parsed) | null,
 * includeMetadata, includeVectors, mmr? { lambda, fetchK } }.
 */
export function runSearch(s, flat, nq, o) {
  const wantMeta = o.includeMetadata && s.userMeta;
  // No query can return more hits than there are live vectors, so result space (k slots per
  // query, k * dim floats with includeVectors) is sized for min(k, live) (at least 1, so an
  // empty collection still validates the query). The engine raises ef to k, so the original k
  // is passed as ef to keep the search itself unchanged.
  let k = o.k, ef = o.ef ?? s.defaultEf;
  if (o.minEf) ef = Math.min(s.engine.C.limits.MAX_EF, Math.max(ef, o.minEf)); // a widening predicate search
  const live = s.engine.count(s.h);
  if (k > live) {
    if (s.kind === 'hnsw') ef = Math.min(s.engine.C.limits.MAX_EF, Math.max(ef || s.engine.config(s.h).ef, k));
    k = Math.max(1, live);
  }
  const program = o.filter ? emitFilter(o.filter, (name) => knownField(s, name)) : null;
  // mmr: fetchK candidates (at least k, at most the live rows) re-ranked in the engine
  const mmr = o.mmr ? { lambda: o.mmr.lambda, fetchK: Math.max(k, Math.min(o.mmr.fetchK, live)) } : null;
  const r = s.engine.search(s.h, s.dim, nq, flat, k, ef, program, wantMeta, o.includeVectors, o.rerank ?? 0, mmr);
  const slots = nq * k;
  const ids = new Array(slots);
  for (let q = 0; q < nq; q++) {
    for (let i = 0, c = r.counts[q]; i < c; i++) ids[q * k + i] = publicId(s, r.ids, q * k + i);
  }
  return {
    nq, k, counts: r.counts, dist: r.dist, ids,
    metas: o.includeMetadata ? metasOf(s, wantMeta ? r.meta : null, slots, true) : null,
    vecs: o.includeVectors ? r.vecs : null,
  };
}

/**
 * Live ids in ascending order, a page at a time, as (lo, hi) u32 word pairs (a fresh copy per
 * page). `state()` gives `{ engine, h }` and is called before each page, so a caller can check
 * that the collection is still open between pages.
 */
export function* liveIdPages(state, pageSize = 4096) {
  let after = null;
  for (;;) {
    const { engine, h } = state();
    const page = engine.liveIds(h, after, pageSize);
    const n = page.length / 2;
    if (n === 0) return;
    yield page;
    if (n < pageSize) return;
    after = page.subarray(2 * (n - 1), 2 * n);
  }
}

/**
 * One page of live rows after the id pair `after` (null: from the start): their id pairs,
 * public ids and metadata. A facade walks the pages to test a JS predicate on every row.
 */
export function scanPage(s, after, pageSize) {
  const pairs = s.engine.liveIds(s.h, after, pageSize);
  const n = pairs.length / 2;
  const g = n ? s.engine.getBatch(s.h, s.dim, n, pairs, s.userMeta, false) : null;
  const ids = new Array(n);
  const metas = new Array(n);
  const nameFn = nameOf(s);
  for (let i = 0; i < n; i++) {
    ids[i] = publicId(s, pairs, i);
    metas[i] = g.found[i] && g.meta ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).meta : {};
  }
  return { pairs, ids, metas };
}

/**
 * The exact top k of the rows `pairs` (id pairs) for one query, best first, ties by id: the
 * completion of a predicate search. Rows deleted meanwhile drop out.
 */
export function rank(s, query, pairs, o) {
  const nMatch = pairs.length / 2;
  const dist = new Float32Array(nMatch);
  const CHUNK = 65536;
  for (let i = 0; i < nMatch; i += CHUNK) {
    const c = Math.min(CHUNK, nMatch - i);
    dist.set(s.engine.distIds(s.h, query, c, pairs.subarray(2 * i, 2 * (i + c))), i);
  }
  const order = [];
  for (let i = 0; i < nMatch; i++) if (!Number.isNaN(dist[i])) order.push(i); // NaN: no longer live
  const idLess = (a, b) => {
    const ha = pairs[2 * a + 1], hb = pairs[2 * b + 1];
    return ha !== hb ? ha - hb : pairs[2 * a] - pairs[2 * b];
  };
  order.sort((a, b) => (dist[a] - dist[b]) || idLess(a, b));
  const top = Math.min(o.k, order.length);
  const k = Math.max(1, top);
  const out = {
    nq: 1, k, counts: Uint32Array.of(top), dist: new Float32Array(k), ids: new Array(k), metas: null, vecs: null,
  };
  if (top === 0) return out;
  const sel = new Uint32Array(2 * top);
  for (let i = 0; i < top; i++) {
    sel[2 * i] = pairs[2 * order[i]];
    sel[2 * i + 1] = pairs[2 * order[i] + 1];
    out.dist[i] = dist[order[i]];
  }
  const wantMeta = o.includeMetadata && s.userMeta;
  const g = s.engine.getBatch(s.h, s.dim, top, sel, wantMeta, o.includeVectors);
  for (let i = 0; i < top; i++) out.ids[i] = publicId(s, sel, i);
  if (o.includeMetadata) out.metas = metasOf(s, wantMeta ? g.meta : null, top, true);
  if (o.includeVectors) out.vecs = g.vecs;
  return out;
}

/** The stored vector and metadata of an id pair, or null. */
export function getOne(s, pair) {
  const g = s.engine.getBatch(s.h, s.dim, 1, pair, s.userMeta, true);
  if (!g.found[0]) return null;
  const metadata = g.meta ? decodeRecord(g.meta.bytes, g.meta.off[0], g.meta.off[1], nameOf(s)).meta : {};
  return { id: publicId(s, pair, 0), vector: g.vecs, metadata };
}
