// web/args.js — the facade reads a caller's arguments into the plain data a session receives
// (worker/protocol.js): rows as one float32 matrix, parsed filters, search options, id lists.
//
// Invariants:
// - Everything here runs inside inspect(): any exception that is not a VecliteError (a revoked
//   Proxy, a throwing getter, a stack overflow on a hostile structure) becomes EINVAL, in the
//   caller's thread, before anything is sent.
// - What comes out is fresh: typed arrays this module allocated (so a worker client may transfer
//   their buffers) and plain values; the caller's objects are never sent on.
// - Checks that need the collection's state (its id kind, field names, record budget) are the
//   session's; the shape of every argument, vector lengths and finiteness, zero vectors under
//   cosine, filters and option ranges are checked here.

import { VecliteError, einval, plural } from '../worker/errors.js';
import { describe, isPlainObject, prepareMetadata, wellFormed } from '../worker/metadata.js';
import { parseFilter } from '../worker/filter.js';
import { RowName, checkCosine, checkKeys, idKindOf, inspect, intIn, putVector } from '../worker/values.js';

export { checkKeys, inspect, intIn } from '../worker/values.js';

const ITEM_KEYS = ['id', 'vector', 'metadata'];
const SEARCH_KEYS = ['k', 'ef', 'filter', 'threshold', 'includeVectors', 'includeMetadata', 'rerank', 'mmr', 'text', 'hybrid'];

/**
 * The dimension a dimension-0 store (an empty rvf-node store whose dimension is "unset") takes
 * from its first insert: the length of the first item's vector.
 */
function firstDimension(name, items, where, maxDim) {
  const v = items.length ? items[0]?.vector : undefined;
  const len = v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v) ? v.length : -1;
  if (len < 1 || len > maxDim) {
    throw einval(`${where}: collection '${name}' has no dimension yet (dimension 0: the first insert sets it), ` +
      `and the first vector cannot set it (${len < 0 ? `got ${describe(v)}` : `${plural(len, 'component')}; 1..${maxDim}`})`);
  }
  return len;
}

/*
 * The rows' float32 matrix is the one big allocation of a write (5 MB for 10,000 x 128). Left to
 * the garbage collector, a bulk load keeps several batches' matrices resident at once (measured:
 * a fifth of the engine's own memory on top of a 50,000-row build). So a matrix is offered back
 * once its call has settled (releaseRows) and the next batch that fits takes it. It is held
 * through a WeakRef: a garbage collection still frees it, so this never keeps memory the
 * collector would have freed. A matrix a worker client transferred is detached and not kept; one
 * in use by a call is not on offer (concurrent batches each get their own).
 */
let spare = null;

function matrix(len) {
  const a = spare?.deref();
  if (a && a.length >= len && a.length <= 2 * len) {
    spare = null;
    return len === a.length ? a : a.subarray(0, len);
  }
  return new Float32Array(len);
}

/** Offer a settled call's row matrix (readRows().vecs) to the next batch. */
export function releaseRows(rows) {
  const b = rows?.vecs?.buffer;
  if (b && b.byteLength && typeof WeakRef === 'function') spare = new WeakRef(new Float32Array(b));
}

/**
 * The vectors of a batch for an in-thread session, validated but not yet copied: the session
 * copies them once, straight into the engine's room for the new rows (worker/bind.js), instead
 * of the facade copying them into a matrix the binding then copies again. That matrix was a
 * second resident copy of every batch during a bulk load (5 MB per 10,000 x 128 batch).
 * The batch stays what it was at the call: the session takes the vectors in the same
 * synchronous turn as the call when no write of the collection is queued; otherwise the facade
 * calls settle() right after sending, still in that turn, which copies them into a matrix then.
 * copyTo checks every vector again as it copies (a Proxy could answer a second read
 * differently): a bad one is EINVAL before the engine takes the rows.
 */
export class RowVectors {
  #refs; #dim; #name; #cosine; #where; #matrix = null; #failed = null;

  constructor(refs, dim, name, cosine, where) {
    this.#refs = refs;
    this.#dim = dim;
    this.#name = name;
    this.#cosine = cosine;
    this.#where = where;
    this.length = refs.length * dim;
    this.taken = false;
  }

  /** Write the n x dim float32 rows into out[off..]. */
  copyTo(out, off) {
    this.taken = true;
    if (this.#failed) throw this.#failed;
    if (this.#matrix) {
      out.set(this.#matrix, off);
      return;
    }
    const refs = this.#refs, dim = this.#dim;
    const rw = new RowName(this.#where, refs.length, 'insert');
    inspect(rw, () => {   // a getter or Proxy that throws: named by its row (rw is at it)
      for (let i = 0; i < refs.length; i++) {
        putVector(refs[i], out, off + i * dim, dim, rw.at(i), this.#name);
        if (this.#cosine) checkCosine(out, off + i * dim, dim, rw.at(i));
      }
    });
  }

  /**
   * Not taken by the session in the call's turn: copy the rows now (into a matrix). A vector
   * that no longer reads as it did when checked: the session's copyTo throws that error (the
   * caller's objects are not read again later, when they may have changed once more).
   */
  settle() {
    if (this.taken || this.#matrix || this.#failed) return;
    const m = matrix(this.length);
    try {
      this.copyTo(m, 0);
    } catch (e) {
      this.#failed = e;
    }
    this.taken = false;
    this.#refs = null;
    if (!this.#failed) this.#matrix = m;
  }

  /** Copy the rows now (settle) and throw what that copy threw: before a step nothing undoes. */
  fix() {
    this.settle();
    if (this.#failed) throw this.#failed;
  }

  /** The matrix settle() made, if any (releaseRows offers it to the next batch). */
  get buffer() {
    return this.#matrix?.buffer;
  }
}

/**
 * Items { id, vector, metadata? } -> { ids, vecs, metas } (public ids, n x dim float32, and
 * prepareMetadata entries per row). With `defer` (an in-thread session), vecs is a RowVectors:
 * every vector is checked now, through one scratch row, and copied once by the session.
 * @param {{ name: string, dim: number, metric: string, limits: any }} c the collection as the facade knows it
 */
export function readRows(c, items, where, defer = false) {
  const n = items.length;
  const dim = c.dim || firstDimension(c.name, items, where, c.limits.MAX_DIM);
  if (n * dim * 4 > 0xF0000000) {
    throw new VecliteError('EBUDGET', `${where}: ${plural(n, 'vector')} of dimension ${dim} exceed the 4 GB WebAssembly memory in one call; split the batch`);
  }
  // A batch whose vectors alone exceed the memory budget is refused before a row is read.
  if (c.budget && n * dim * 4 > c.budget) {
    throw new VecliteError('EBUDGET', `${where}: ${plural(n, 'vector')} of dimension ${dim} need ${((n * dim * 4) / 1048576).toFixed(1)} MiB, ` +
      `over collection '${c.name}''s memory budget of ${(c.budget / 1048576).toFixed(1)} MiB (memoryBudgetMB); nothing was written`);
  }
  const ids = new Array(n);
  const refs = defer ? new Array(n) : null;
  const vecs = defer ? new Float32Array(dim) : matrix(n * dim);   // deferred: the scratch row
  const metas = new Array(n);
  const rw = new RowName(where, n, 'insert');
  inspect(rw, () => {   // a getter or Proxy that throws: EINVAL named by its row (rw is at it)
    for (let i = 0; i < n; i++) {
      const item = items[i];
      const w = rw.at(i);
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw einval(`${w}: expected { id, vector, metadata? } (got ${describe(item)})`);
      }
      // for-in over a row of the usual shape allocates nothing (Object.keys makes an array per row);
      // any other key, own or inherited, gets the exact own-key check.
      for (const k in item) if (k !== 'id' && k !== 'vector' && k !== 'metadata') checkKeys(item, ITEM_KEYS, w, 'key');
      const id = item.id;
      if (id === undefined) throw einval(`${w}: missing id`);
      idKindOf(id, w);
      ids[i] = id;
      const off = defer ? 0 : i * dim;
      const v = item.vector;
      if (defer) refs[i] = v;
      putVector(v, vecs, off, dim, w, c.name);
      if (c.metric === 'cosine') checkCosine(vecs, off, dim, w);
      metas[i] = prepareMetadata(item.metadata, w);
    }
  });
  return { ids, vecs: defer ? new RowVectors(refs, dim, c.name, c.metric === 'cosine', where) : vecs, metas };
}

/** update(id, patch): { id, vector?, metadata?, hasVec, hasMeta }. */
export function readPatch(c, id, patch) {
  idKindOf(id, 'update');
  if (!isPlainObject(patch)) throw einval(`update(id, patch): patch must be { vector?, metadata? } (got ${describe(patch)})`);
  checkKeys(patch, ['vector', 'metadata'], 'update patch', 'key');
  const hasVec = patch.vector !== undefined, hasMeta = patch.metadata !== undefined;
  if (!hasVec && !hasMeta) throw einval('update: give a new vector, new metadata, or both');
  let vector;
  if (hasVec) {
    vector = new Float32Array(c.dim);
    putVector(patch.vector, vector, 0, c.dim, 'update', c.name);
    if (c.metric === 'cosine') checkCosine(vector, 0, c.dim, 'update');
  }
  const metadata = hasMeta ? prepareMetadata(patch.metadata, 'update') : undefined;
  return { id, vector, metadata, hasVec, hasMeta };
}

/** update(id, patch, options?): { merge? } (only true is sent). */
export function readUpdateOptions(rest) {
  if (rest.length > 1) throw einval(`update(id, patch, options?) takes at most 3 arguments (got ${rest.length + 2})`);
  const o = rest[0];
  if (o === undefined || o === null) return {};
  if (!isPlainObject(o)) throw einval(`update options must be { merge? } (got ${describe(o)})`);
  checkKeys(o, ['merge'], 'update options');
  if (o.merge !== undefined && typeof o.merge !== 'boolean') throw einval(`update option merge must be true or false (got ${describe(o.merge)})`);
  return o.merge ? { merge: true } : {};
}

const CURSOR_RE = /^c1:([0-9a-f]{1,8}):([0-9a-f]{1,8})$/;

/** The opaque cursor ids() hands out for an internal id pair [lo, hi]. */
export function cursorOf(pair) {
  return `c1:${(pair[1] >>> 0).toString(16)}:${(pair[0] >>> 0).toString(16)}`;
}

/** ids(options): { after: [lo, hi] | null, limit } (limit 1..100000, default 1000). */
export function readIdsOptions(opts) {
  if (opts === undefined || opts === null) opts = {};
  if (!isPlainObject(opts)) throw einval(`ids options must be { after?, limit? } (got ${describe(opts)})`);
  checkKeys(opts, ['after', 'limit'], 'ids options');
  const limit = opts.limit === undefined ? 1000 : intIn(opts.limit, 1, 100000, 'ids option limit');
  let after = null;
  if (opts.after !== undefined && opts.after !== null) {
    const m = typeof opts.after === 'string' ? CURSOR_RE.exec(opts.after) : null;
    if (!m) throw einval(`ids option after must be a cursor returned as next by ids() (got ${describe(opts.after)})`);
    after = [parseInt(m[2], 16), parseInt(m[1], 16)];
  }
  return { after, limit };
}

/** delete(ids) / get(id): one id or an array of them, each checked. */
export function readIds(ids, where = 'delete') {
  const many = Array.isArray(ids);
  const list = many ? Array.from(ids) : [ids];
  for (let i = 0; i < list.length; i++) idKindOf(list[i], many ? `${where}[${i}]` : where);
  return { ids: list, many };
}

/**
 * Search options -> { k, ef, filter (parsed), predicate, threshold, includeVectors, includeMetadata, rerank }.
 * ef stays undefined when not given (the session uses the handle's default).
 */
export function readSearchOptions(limits, opts) {
  if (opts === undefined || opts === null) opts = {};
  if (!isPlainObject(opts)) throw einval(`search options must be an object (got ${describe(opts)})`);
  checkKeys(opts, SEARCH_KEYS, 'search options');
  const k = opts.k === undefined ? 10 : intIn(opts.k, 1, limits.MAX_K, 'search option k');
  const ef = opts.ef === undefined || opts.ef === null ? undefined : intIn(opts.ef, 1, limits.MAX_EF, 'search option ef');
  // a quantized collection re-ranks this many of its best candidates with the float32 rows
  const rerank = opts.rerank === undefined || opts.rerank === null ? 0 : intIn(opts.rerank, 1, limits.MAX_EF, 'search option rerank');
  let threshold;
  if (opts.threshold !== undefined && opts.threshold !== null) {
    if (typeof opts.threshold !== 'number' || Number.isNaN(opts.threshold)) {
      throw einval(`search option threshold must be a number (got ${describe(opts.threshold)})`);
    }
    threshold = opts.threshold;
  }
  for (const b of ['includeVectors', 'includeMetadata']) {
    if (opts[b] !== undefined && typeof opts[b] !== 'boolean') {
      throw einval(`search option ${b} must be true or false (got ${describe(opts[b])})`);
    }
  }
  let filter = null, predicate = null;
  const f = opts.filter;
  if (typeof f === 'function') predicate = f;
  else if (f !== undefined && f !== null) {
    if (!isPlainObject(f)) throw einval(`search option filter must be an object or a function (got ${describe(f)})`);
    filter = parseFilter(f);
  }
  const mmr = readMmr(limits, opts.mmr, k);
  if (mmr && predicate) throw einval('search option mmr needs a structured filter (the re-ranking runs in the engine); a JavaScript predicate cannot be combined with it');
  const { text, hybrid } = readText(limits, opts, k);
  if (text !== null && predicate) throw einval('search option text needs a structured filter (keyword ranking runs in the engine); a JavaScript predicate cannot be combined with it');
  if (text !== null && mmr) throw einval('search options text and mmr cannot be combined');
  return {
    k, ef, threshold, filter, predicate, rerank, mmr, text, hybrid,
    includeVectors: opts.includeVectors === true,
    includeMetadata: opts.includeMetadata !== false,
  };
}

/**
 * Search option mmr -> { lambda, fetchK } or null (docs/api.md §4): lambda in [0, 1] (default
 * 0.5), fetchK an integer k..MAX_K (default max(4k, 20), at most MAX_K).
 */
function readMmr(limits, m, k) {
  if (m === undefined || m === null || m === false) return null;
  const { w, fetchK } = readWeightAndFetch(limits, m, k, 'mmr', 'lambda');
  return { lambda: w, fetchK };
}

/**
 * Search option mmr or hybrid: { [weight]: a number in [0, 1] (default 0.5), fetchK: an integer
 * k..MAX_K (default max(4k, 20), at most MAX_K) } -> { w, fetchK }.
 */
function readWeightAndFetch(limits, o, k, name, weight) {
  if (!isPlainObject(o)) throw einval(`search option ${name} must be an object { ${weight}, fetchK } (got ${describe(o)})`);
  checkKeys(o, [weight, 'fetchK'], `search option ${name}`);
  const v = o[weight];
  if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) {
    throw einval(`search option ${name}.${weight} must be a number in [0, 1] (got ${describe(v)})`);
  }
  const fetchK = o.fetchK === undefined ? Math.min(limits.MAX_K, Math.max(4 * k, 20))
    : intIn(o.fetchK, k, limits.MAX_K, `search option ${name}.fetchK (at least k = ${k})`);
  return { w: v ?? 0.5, fetchK };
}

/**
 * Search options text and hybrid (docs/api.md §4): text a string of at most 65536 UTF-16 units
 * (the engine refuses one without a letter or digit); hybrid { alpha in [0, 1] (default 0.5),
 * fetchK k..MAX_K (default max(4k, 20)) }, only with text. -> { text: string|null, hybrid }.
 */
function readText(limits, opts, k) {
  const t = opts.text;
  if (t === undefined || t === null) {
    if (opts.hybrid !== undefined && opts.hybrid !== null) throw einval('search option hybrid needs text (the keywords to fuse with the vector ranking)');
    return { text: null, hybrid: null };
  }
  if (typeof t !== 'string') throw einval(`search option text must be a string of keywords (got ${describe(t)})`);
  if (t.length > 65536) throw einval(`search option text is ${t.length} characters long; at most 65536`);
  // as in metadata (worker/metadata.js): UTF-8 would turn it into U+FFFD, a token character
  if (!wellFormed(t)) throw einval('search option text contains a lone UTF-16 surrogate (not text: it has no UTF-8 form); remove it');
  const { w, fetchK } = readWeightAndFetch(limits, opts.hybrid ?? {}, k, 'hybrid', 'alpha');
  return { text: t, hybrid: { alpha: w, fetchK } };
}

/** Query vectors -> one float32 matrix (nq x dim). */
export function readQueries(c, queries, nq, where) {
  const flat = new Float32Array(nq * c.dim);
  for (let q = 0; q < nq; q++) putVector(queries[q], flat, q * c.dim, c.dim, nq === 1 && where === 'search' ? where : `${where}[${q}]`, c.name);
  return flat;
}

/**
 * A plain copy of a small configuration value (plain objects, arrays, primitives), so a session
 * gets data, not the caller's object, and every host sees the same thing. Anything else (a Map,
 * a typed array, a String object, a class instance, a function) is refused here: structured
 * clone would turn some of them into plain objects in a worker but not in this thread.
 */
export function plainCopy(v, where, depth = 0) {
  if (depth > 32) throw einval(`${where}: nested too deeply`);
  if (Array.isArray(v)) return v.map((x, i) => plainCopy(x, `${where}[${i}]`, depth + 1));
  if (isPlainObject(v)) {
    const out = {};
    for (const k of Object.keys(v)) out[k] = plainCopy(v[k], `${where}.${k}`, depth + 1);
    return out;
  }
  if (typeof v === 'function' || typeof v === 'symbol' || (typeof v === 'object' && v !== null)) {
    throw einval(`${where} must be plain data: an object literal, an array, a string, a number or a boolean (got ${describe(v)})`);
  }
  return v;
}

/** A distance as a similarity score (higher is better). */
export function toScore(metric, d) {
  if (metric === 'cosine') return 1 - d;
  if (metric === 'dotProduct') return -d;
  return 1 / (1 + d);
}

/** A keyword hit { id, score (BM25), textScore } or hybrid hit { id, score (fused), distance, textScore }. */
function textHit(r, slot) {
  return r.fused
    ? { id: r.ids[slot], score: r.fused[slot], distance: r.dist[slot], textScore: r.text[slot] }
    : { id: r.ids[slot], score: r.text[slot], textScore: r.text[slot] };
}

/**
 * Hit objects of query q from a session's columnar result (worker/protocol.js "Hits"), best
 * first, stopping at the threshold.
 */
export function hitsOf(r, q, metric, dim, o) {
  const out = [];
  const count = r.counts[q];
  for (let i = 0; i < count; i++) {
    const slot = q * r.k + i;
    const distance = r.dist[slot];
    const score = r.fused ? r.fused[slot] : r.text ? r.text[slot] : toScore(metric, distance);
    // sorted best first, except in mmr order (picks, not distances): there skip, not stop
    if (o.threshold !== undefined && !(score >= o.threshold)) { if (o.mmr) continue; break; }
    const hit = r.text ? textHit(r, slot) : { id: r.ids[slot], score, distance };
    if (o.includeMetadata) hit.metadata = r.metas ? r.metas[slot] : {};
    if (o.includeVectors) hit.vector = r.vecs.slice(slot * dim, slot * dim + dim);
    out.push(hit);
  }
  return out;
}
