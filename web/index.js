// web/index.js — veclite's public JavaScript API (docs/API-CONTRACT.md, SPEC.md F3/F4).
//
//   createDatabase() -> Database -> Collection (insert/search/get/update/delete/...)
//
// Layering (STYLE.md §6): this file validates arguments, maps ids, encodes metadata
// (web/metadata.js) and filters (web/filter.js), and calls worker/bind.js, the only module that
// touches the WebAssembly heap. Every method is async (Promise-based) so the same API can later
// run behind a worker pool; the work itself happens synchronously inside each call, so calls
// never interleave inside the engine.
//
// Invariants:
// - Validation happens before anything changes: a rejected call leaves the collection, its
//   field names and its id maps exactly as they were. Batches are all or nothing. Everything
//   the engine would refuse (dimension, NaN, zero vectors under cosine, record sizes, the
//   field-name limit, the staging budget) is checked in JS before the first engine call that
//   has an effect (registering a field name); only running out of heap can still fail later.
// - Reading user input (items, vectors, metadata, options, filters) happens inside inspect():
//   any exception that is not a VecliteError (a revoked Proxy, a throwing getter) becomes
//   EINVAL.
// - A batch (insertBatch, searchBatch, delete([...])) is one C call, with its data copied into
//   the heap in bulk.
// - Ids: a collection holds either string ids or numeric ids (number or bigint, u64). String ids
//   are mapped in JS to internal u64 ids from a counter and stored in each record under '$id';
//   numeric ids go to the engine unchanged. Numeric ids come back as number when they are safe
//   integers, else as bigint — never rounded.
// - After close() (or deleteCollection) every call rejects with ECLOSED; handles are freed once.

import { VecliteError, einval } from './errors.js';
import { loadModule, simdSupported } from './loader.js';
import { Engine, upsertLayout } from '../worker/bind.js';
import {
  ByteWriter, ID_FIELD, TAG, checkRecordSize, decodeRecord, describe, isPlainObject, prepareMetadata,
  recordSize, utf8Length, wellFormed, writeRecord,
} from './metadata.js';
import { CMP, NO_FIELD, OP, compileFilter } from './filter.js';

export { VecliteError };

const METRICS = Object.freeze({ cosine: 'COSINE', euclidean: 'L2', dotProduct: 'DOT' });
const MAX_ID_BYTES = 1024;
const U64_MAX = 0xFFFFFFFFFFFFFFFFn;
const TWO32 = 4294967296;

// ---- small helpers ------------------------------------------------------------------------------

function checkKeys(obj, allowed, where, what = 'option') {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw einval(`${where}: unknown ${what} '${k}'; allowed: ${allowed.join(', ')}`);
    }
  }
}

/** Text of an arbitrary thrown value, without letting a hostile one throw again. */
function errText(e) {
  try {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } catch {
    return 'an unreadable exception';
  }
}

/**
 * Run fn, which only reads and validates user input. A VecliteError passes through; any other
 * exception (a revoked Proxy, a getter that throws, a stack overflow on a hostile structure)
 * becomes EINVAL, so bad input never surfaces as a raw TypeError.
 * @template T
 * @param {string} where
 * @param {() => T} fn
 * @returns {T}
 */
function inspect(where, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VecliteError) throw e;
    throw new VecliteError('EINVAL',
      `${where}: the argument could not be read (${errText(e)}); pass plain objects, arrays and typed arrays`,
      { cause: e });
  }
}

function intIn(v, lo, hi, where) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw einval(`${where} must be an integer from ${lo} to ${hi} (got ${typeof v === 'number' ? v : describe(v)})`);
  }
  return v;
}

/** Internal (lo, hi) pair -> public numeric id (number if safe, else bigint). */
function numericId(lo, hi) {
  return hi < 0x200000 ? hi * TWO32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
}

function idText(id) {
  return typeof id === 'string' ? JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id) : String(id);
}

/**
 * Write a numeric id into pairs[2i], pairs[2i+1]; throws EINVAL for anything that is not a
 * non-negative safe integer or a bigint in 0..2^64-1.
 */
function putNumeric(id, pairs, i, where) {
  if (typeof id === 'number') {
    if (!Number.isInteger(id) || id < 0 || id > Number.MAX_SAFE_INTEGER) {
      throw einval(`${where}: numeric id ${id} must be a non-negative safe integer (0..2^53-1); ` +
        'pass larger ids (up to 2^64-1) as bigint');
    }
    pairs[2 * i] = id >>> 0;
    pairs[2 * i + 1] = Math.floor(id / TWO32);
  } else {
    if (id < 0n || id > U64_MAX) throw einval(`${where}: bigint id ${id} is outside 0..2^64-1`);
    pairs[2 * i] = Number(id & 0xFFFFFFFFn);
    pairs[2 * i + 1] = Number(id >> 32n);
  }
}

function idKindOf(id, where) {
  const t = typeof id;
  if (t === 'string') {
    if (id.length === 0) throw einval(`${where}: id must not be empty`);
    if (!wellFormed(id)) throw einval(`${where}: string id contains a lone UTF-16 surrogate`);
    if (id.length * 3 > MAX_ID_BYTES && utf8Length(id) > MAX_ID_BYTES) {
      throw einval(`${where}: string id is ${utf8Length(id)} UTF-8 bytes; at most ${MAX_ID_BYTES}`);
    }
    return 'string';
  }
  if (t === 'number' || t === 'bigint') return 'number';
  throw einval(`${where}: id must be a string, a non-negative integer or a bigint (got ${describe(id)})`);
}

/**
 * Copy one vector into out[off..off+dim) as float32 and check every component is finite.
 */
function putVector(vec, out, off, dim, where, name) {
  if (vec instanceof Float32Array || Array.isArray(vec) || vec instanceof Float64Array) {
    if (vec.length !== dim) {
      throw einval(`${where}: vector has ${vec.length} components but collection '${name}' has dimension ${dim}`);
    }
    if (vec instanceof Float32Array || vec instanceof Float64Array) {
      out.set(vec, off);
    } else {
      for (let j = 0; j < dim; j++) {
        const x = vec[j];
        if (typeof x !== 'number') {
          throw einval(`${where}: vector component ${j} is ${describe(x)}, not a number`);
        }
        out[off + j] = x;
      }
    }
    for (let j = off, end = off + dim; j < end; j++) {
      const x = out[j];
      if (x - x !== 0) {
        const orig = vec[j - off];
        throw einval(`${where}: vector component ${j - off} is ${orig}` +
          (Number.isFinite(orig) ? ', which overflows a 32-bit float' : '') + '; every component must be finite');
      }
    }
    return;
  }
  throw einval(`${where}: vector must be a Float32Array or an array of numbers (got ${describe(vec)})`);
}

/**
 * EINVAL when the float32 vector v[off..off+dim) has no cosine direction — the engine's
 * check_vector (src/index.c) mirrored exactly: sum of squares in double must be > 0 and
 * (float)(1 / sqrt(sum)) a positive finite float.
 */
function checkCosine(v, off, dim, where) {
  let ss = 0;
  for (let j = off, end = off + dim; j < end; j++) ss += v[j] * v[j];
  if (!(ss > 0)) throw einval(`${where}: vector is all zeros; cosine similarity needs a non-zero vector`);
  const inv = Math.fround(1 / Math.sqrt(ss));
  if (!(inv > 0) || !Number.isFinite(inv)) throw einval(`${where}: vector has a norm outside the float range`);
}

// ---- module state ---------------------------------------------------------------------------------

/** @type {WeakMap<Collection, any>} per-collection state, invisible to users */
const STATE = new WeakMap();

function live(col) {
  const s = STATE.get(col);
  if (!s) throw new VecliteError('EINVAL', 'not a veclite Collection');
  if (!s.h) {
    throw new VecliteError('ECLOSED', s.closedWhy);
  }
  return s;
}

/** Field id of a registered name, or NO_FIELD. */
function knownField(s, name) {
  const id = s.fieldIds.get(name);
  return id === undefined ? NO_FIELD : id;
}

/**
 * Names in `names` the collection has not registered yet; throws EINVAL (before anything is
 * registered) when they would take the collection past the engine's field-name limit.
 */
function freshFields(s, names, where) {
  const fresh = [];
  for (const name of names) if (!s.fieldIds.has(name)) fresh.push(name);
  if (fresh.length) {
    const max = s.engine.C.limits.MAX_FIELDS;
    const have = s.engine.fieldCount(s.h);
    if (have + fresh.length > max) {
      throw einval(`${where}: ${fresh.length} new metadata field name(s) would exceed the limit of ${max} per ` +
        `collection (${have} in use); reuse existing field names`);
    }
  }
  return fresh;
}

/**
 * Register (get or create) field names in the engine. Call only after everything else about
 * the write has been validated: a registered name stays, even if the write is then refused.
 */
function registerFields(s, names) {
  const enc = new TextEncoder();
  for (const name of names) {
    if (s.fieldIds.has(name)) continue;
    const id = s.engine.field(s.h, enc.encode(name));
    s.fieldIds.set(name, id);
    s.fieldNames[id] = name;
  }
}

function nameOf(s) {
  return (fid) => {
    let n = s.fieldNames[fid];
    if (n === undefined) {
      n = s.engine.fieldName(s.h, fid);
      s.fieldNames[fid] = n;
      s.fieldIds.set(n, fid);
    }
    return n;
  };
}

/** Resolve an id for a read/delete: returns true and fills pairs[2i..] or false (absent). */
function resolveId(s, id, pairs, i, where) {
  const kind = idKindOf(id, where);
  if (s.idKind && kind !== s.idKind) {
    throw einval(`${where}: collection '${s.name}' uses ${s.idKind} ids, got ${describe(id)}`);
  }
  if (kind === 'string') {
    const iid = s.strToId.get(id);
    if (iid === undefined) return false;
    pairs[2 * i] = iid >>> 0;
    pairs[2 * i + 1] = Math.floor(iid / TWO32);
    return true;
  }
  putNumeric(id, pairs, i, where);
  return true;
}

/** Public id of the internal id at pair index i. */
function publicId(s, pairs, i) {
  const lo = pairs[2 * i], hi = pairs[2 * i + 1];
  const n = numericId(lo, hi);
  if (s.idKind === 'string') {
    const str = s.idToStr.get(n);
    if (str !== undefined) return str;
  }
  return n;
}

function toScore(metric, d) {
  if (metric === 'cosine') return 1 - d;
  if (metric === 'dotProduct') return -d;
  return 1 / (1 + d);
}

// ---- writes ---------------------------------------------------------------------------------------

/** The keys an insert item may have. */
const ITEM_KEYS = ['id', 'vector', 'metadata'];

/** Key of an internal id pair in a Set (exact for every u64). */
function pairKey(ids, i) {
  const lo = ids[2 * i], hi = ids[2 * i + 1];
  return hi < 0x200000 ? hi * TWO32 + lo : `${hi}:${lo}`;
}

/**
 * Validate and encode rows; returns everything needed for one vl_index_upsert plus the id-map
 * changes to commit after it succeeds. Everything is validated (items, ids, vectors, zero
 * vectors under cosine, metadata, record sizes, the staging budget, the field-name limit)
 * before the first field name is registered in the engine.
 */
function encodeRows(s, items, where) {
  const n = inspect(where, () => items.length);
  const dim = s.dim;
  if (n * dim * 4 > 0xF0000000) {
    throw new VecliteError('EBUDGET', `${where}: ${n} vectors of dimension ${dim} exceed the 4 GB WebAssembly memory in one call; split the batch`);
  }
  const ids = new Uint32Array(n * 2);
  const vecs = new Float32Array(n * dim);
  const metas = new Array(n);
  const sids = s.idKind === 'string' || s.idKind === null ? new Array(n) : null;
  let kind = s.idKind;
  let anyMeta = false;
  let newStrings = null;
  inspect(where, () => {
    for (let i = 0; i < n; i++) {
      const item = items[i];
      const w = n === 1 && where === 'insert' ? where : `${where}[${i}]`;
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        throw einval(`${w}: expected { id, vector, metadata? } (got ${describe(item)})`);
      }
      checkKeys(item, ITEM_KEYS, w, 'key');
      const id = item.id;
      if (id === undefined) throw einval(`${w}: missing id`);
      const k = idKindOf(id, w);
      if (kind === null) kind = k;
      else if (k !== kind) {
        throw einval(`${w}: collection '${s.name}' uses ${kind} ids, got ${describe(id)}; ` +
          'a collection cannot mix string and numeric ids');
      }
      if (k === 'string') {
        let iid = s.strToId.get(id);
        if (iid === undefined) {
          newStrings ??= new Map();
          iid = newStrings.get(id);
          if (iid === undefined) {
            iid = s.nextSid + newStrings.size;
            newStrings.set(id, iid);
          }
        }
        ids[2 * i] = iid >>> 0;
        ids[2 * i + 1] = Math.floor(iid / TWO32);
        sids[i] = id;
      } else {
        putNumeric(id, ids, i, w);
      }
      putVector(item.vector, vecs, i * dim, dim, w, s.name);
      if (s.metric === 'cosine') checkCosine(vecs, i * dim, dim, w);
      const m = prepareMetadata(item.metadata, w);
      metas[i] = m;
      if (m.length) anyMeta = true;
    }
  });
  const withRecords = anyMeta || kind === 'string';
  let metaBytes = -1;
  const names = new Set();
  if (withRecords) {
    metaBytes = 0;
    for (let i = 0; i < n; i++) {
      if (!metas[i].length && kind !== 'string') continue;
      const size = recordSize(metas[i], kind === 'string' ? sids[i] : undefined);
      checkRecordSize(size, n === 1 && where === 'insert' ? where : `${where}[${i}]`);
      metaBytes += size;
    }
    if (kind === 'string') names.add(ID_FIELD);
    for (const m of metas) for (let j = 0; j < m.length; j += 3) names.add(m[j]);
  }
  upsertLayout(n, vecs.length, metaBytes);   // EBUDGET now, not after registering names
  let written = n;
  if (n > 1) {
    const distinct = new Set();
    for (let i = 0; i < n; i++) distinct.add(pairKey(ids, i));
    written = distinct.size;
  }
  let meta = null, metaOff = null;
  if (withRecords) {
    freshFields(s, names, where);
    // ---- nothing below can be refused for the input's sake ----
    registerFields(s, names);
    const fid = (name) => s.fieldIds.get(name);
    const idFid = kind === 'string' ? s.fieldIds.get(ID_FIELD) : -1;
    const wr = new ByteWriter(Math.max(256, Math.min(metaBytes, 64 << 20)));
    metaOff = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) {
      metaOff[i] = wr.len;
      if (metas[i].length || idFid >= 0) writeRecord(wr, metas[i], fid, idFid, sids?.[i]);
    }
    metaOff[n] = wr.len;
    meta = wr.take();
  }
  return { n, ids, vecs, meta, metaOff, kind, newStrings, anyMeta, written };
}

function commitRows(s, r) {
  s.idKind = r.kind;
  if (r.newStrings) {
    for (const [str, iid] of r.newStrings) {
      s.strToId.set(str, iid);
      s.idToStr.set(iid, str);
    }
    s.nextSid += r.newStrings.size;
  }
  if (r.anyMeta) s.userMeta = true;
}

// ---- search -----------------------------------------------------------------------------------------

const SEARCH_KEYS = ['k', 'ef', 'filter', 'threshold', 'includeVectors', 'includeMetadata'];

function parseSearchOptions(s, opts) {
  if (opts === undefined || opts === null) opts = {};
  if (!isPlainObject(opts)) throw einval(`search options must be an object (got ${describe(opts)})`);
  checkKeys(opts, SEARCH_KEYS, 'search options');
  const L = s.engine.C.limits;
  const k = opts.k === undefined ? 10 : intIn(opts.k, 1, L.MAX_K, 'search option k');
  const ef = opts.ef === undefined || opts.ef === null ? 0 : intIn(opts.ef, 1, L.MAX_EF, 'search option ef');
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
  let program = null, predicate = null;
  const f = opts.filter;
  if (typeof f === 'function') predicate = f;
  else if (f !== undefined && f !== null) {
    if (!isPlainObject(f)) throw einval(`search option filter must be an object or a function (got ${describe(f)})`);
    program = compileFilter(f, (name) => knownField(s, name));
  }
  return {
    k, ef, threshold, program, predicate,
    includeVectors: opts.includeVectors === true,
    includeMetadata: opts.includeMetadata !== false,
  };
}

function queryMatrix(s, queries, nq, where) {
  const flat = new Float32Array(nq * s.dim);
  for (let q = 0; q < nq; q++) putVector(queries[q], flat, q * s.dim, s.dim, `${where}[${q}]`, s.name);
  return flat;
}

/** Build hit objects for query q from a bind.search result. */
function hitsOf(s, r, q, k, o, nameFn) {
  const out = [];
  const count = r.counts[q];
  const metric = s.metric;
  const dim = s.dim;
  for (let i = 0; i < count; i++) {
    const slot = q * k + i;
    const distance = r.dist[slot];
    const score = toScore(metric, distance);
    if (o.threshold !== undefined && !(score >= o.threshold)) break; // sorted best first
    const hit = { id: publicId(s, r.ids, slot), score, distance };
    if (o.includeMetadata) {
      hit.metadata = r.meta ? decodeRecord(r.meta.bytes, r.meta.off[slot], r.meta.off[slot + 1], nameFn).meta : {};
    }
    if (o.includeVectors) hit.vector = r.vecs.slice(slot * dim, slot * dim + dim);
    out.push(hit);
  }
  return out;
}

function runSearch(s, flat, nq, o) {
  const wantMeta = o.includeMetadata && s.userMeta;
  // No query can return more hits than there are live vectors, so result space (k slots per
  // query, k * dim floats with includeVectors) is sized for min(k, live) (at least 1, so an
  // empty collection still validates the query). The engine raises ef to k, so the original k
  // is passed as ef to keep the search itself unchanged.
  let k = o.k, ef = o.ef;
  const live = s.engine.count(s.h);
  if (k > live) {
    if (s.kind === 'hnsw') ef = Math.min(s.engine.C.limits.MAX_EF, Math.max(ef || s.engine.config(s.h).ef, k));
    k = Math.max(1, live);
  }
  const r = s.engine.search(s.h, s.dim, nq, flat, k, ef, o.program, wantMeta, o.includeVectors);
  const nameFn = nameOf(s);
  const rows = new Array(nq);
  for (let q = 0; q < nq; q++) rows[q] = hitsOf(s, r, q, k, o, nameFn);
  return rows;
}

/**
 * A predicate's answer as a boolean. Plain values count by truthiness (like Array.prototype.
 * filter); a Promise or other thenable is refused, since an async predicate would otherwise
 * match everything (a Promise is truthy).
 */
function predicateResult(v) {
  if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
    let thenable;
    try {
      thenable = typeof v.then === 'function';
    } catch (e) {
      throw new VecliteError('EINVAL', `filter predicate returned a value that cannot be read (${errText(e)}); return true or false`, { cause: e });
    }
    if (thenable) {
      if (v instanceof Promise) v.catch(() => {});   // its outcome is ignored; do not leave it unhandled
      throw einval('filter predicate must be synchronous and return a boolean (it returned a Promise or thenable); ' +
        'compute what it needs before calling search, or filter the results afterwards');
    }
  }
  return Boolean(v);
}

/**
 * Search with a JS predicate: widen the engine's answer (k' = 4k, 16k, ...) until k matches are
 * found; if the graph cannot deliver them, finish with an exact scan over every live vector.
 */
function predicateSearch(col, q, o) {
  let s = live(col);
  const total = s.engine.count(s.h);
  if (total === 0) return [];
  const L = s.engine.C.limits;
  const pred = o.predicate;
  const memo = new Map();
  const test = (id, meta) => {
    let ok = memo.get(id);
    if (ok === undefined) {
      ok = predicateResult(pred(meta, id));
      memo.set(id, ok);
    }
    return ok;
  };
  const full = { ...o, includeMetadata: true };
  let kk = Math.min(total, Math.max(o.k * 4, 32), L.MAX_K);
  for (;;) {
    const ef = Math.min(L.MAX_EF, Math.max(o.ef, kk));
    const r = s.engine.search(s.h, s.dim, 1, q, kk, ef, null, s.userMeta, o.includeVectors);
    // Copy everything out before any user code runs (the predicate may touch the collection).
    const hits = hitsOf(s, r, 0, kk, { ...full, threshold: undefined }, nameOf(s));
    const out = [];
    for (const h of hits) {
      if (o.threshold !== undefined && !(h.score >= o.threshold)) break;
      if (test(h.id, h.metadata)) {
        out.push(h);
        if (out.length === o.k) break;
      }
    }
    s = live(col);
    const sawAll = hits.length >= total;
    const cutByThreshold = o.threshold !== undefined && hits.length > 0 && !(hits[hits.length - 1].score >= o.threshold);
    if (out.length >= o.k || sawAll || cutByThreshold) return finishHits(out, o);
    if (r.counts[0] < kk || kk * 4 >= total || kk * 4 > L.MAX_K) break;
    kk *= 4;
  }
  return exactPredicateScan(col, q, o, test);
}

function finishHits(hits, o) {
  if (!o.includeMetadata) for (const h of hits) delete h.metadata;
  return hits;
}

/** Exact answer for a JS predicate: every live id is tested, matches are ranked by distance. */
function exactPredicateScan(col, q, o, test) {
  let s = live(col);
  const PAGE = 4096;
  let match = new Uint32Array(2 * 1024);
  let nMatch = 0;
  let after = null;
  for (;;) {
    const page = s.engine.liveIds(s.h, after, PAGE);
    const n = page.length / 2;
    if (n === 0) break;
    const g = s.engine.getBatch(s.h, s.dim, n, page, s.userMeta, false);
    const nameFn = nameOf(s);
    const items = [];
    for (let i = 0; i < n; i++) {
      if (!g.found[i]) continue;
      const meta = g.meta ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).meta : {};
      items.push([i, publicId(s, page, i), meta]);
    }
    for (const [i, id, meta] of items) {
      if (!test(id, meta)) continue;
      if (2 * nMatch + 2 > match.length) {
        const m2 = new Uint32Array(match.length * 2);
        m2.set(match);
        match = m2;
      }
      match[2 * nMatch] = page[2 * i];
      match[2 * nMatch + 1] = page[2 * i + 1];
      nMatch++;
    }
    s = live(col);
    if (n < PAGE) break;
    after = page.subarray(2 * (n - 1), 2 * n);
  }
  if (nMatch === 0) return [];
  const dist = new Float32Array(nMatch);
  const CHUNK = 65536;
  for (let i = 0; i < nMatch; i += CHUNK) {
    const c = Math.min(CHUNK, nMatch - i);
    dist.set(s.engine.distIds(s.h, q, c, match.subarray(2 * i, 2 * (i + c))), i);
  }
  const order = [];
  for (let i = 0; i < nMatch; i++) if (!Number.isNaN(dist[i])) order.push(i); // NaN: no longer live
  const idLess = (a, b) => {
    const ha = match[2 * a + 1], hb = match[2 * b + 1];
    return ha !== hb ? ha - hb : match[2 * a] - match[2 * b];
  };
  order.sort((a, b) => (dist[a] - dist[b]) || idLess(a, b));
  const top = Math.min(o.k, order.length);
  if (top === 0) return [];
  const sel = new Uint32Array(2 * top);
  for (let i = 0; i < top; i++) {
    sel[2 * i] = match[2 * order[i]];
    sel[2 * i + 1] = match[2 * order[i] + 1];
  }
  const g = s.engine.getBatch(s.h, s.dim, top, sel, o.includeMetadata && s.userMeta, o.includeVectors);
  const nameFn = nameOf(s);
  const out = [];
  for (let i = 0; i < top; i++) {
    const distance = dist[order[i]];
    const score = toScore(s.metric, distance);
    if (o.threshold !== undefined && !(score >= o.threshold)) break;
    const hit = { id: publicId(s, sel, i), score, distance };
    if (o.includeMetadata) {
      hit.metadata = g.meta ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).meta : {};
    }
    if (o.includeVectors) hit.vector = g.vecs.slice(i * s.dim, (i + 1) * s.dim);
    out.push(hit);
  }
  return out;
}

// ---- Collection -----------------------------------------------------------------------------------

/**
 * A named set of vectors of one dimension and metric, with an index. Obtain one from
 * Database.createCollection / getCollection.
 */
export class Collection {
  /** @hideconstructor */
  constructor(state) {
    STATE.set(this, state);
  }

  /** The collection's name. */
  get name() { return STATE.get(this).name; }
  /** Vector dimension. */
  get dimension() { return STATE.get(this).dim; }
  /** 'cosine' | 'euclidean' | 'dotProduct' */
  get metric() { return STATE.get(this).metric; }

  /**
   * Insert or replace (upsert) one vector.
   * @param {{ id: string|number|bigint, vector: Float32Array|number[], metadata?: object }} item
   * @returns {Promise<void>}
   */
  async insert(item) {
    const s = live(this);
    const r = encodeRows(s, [item], 'insert');
    s.engine.upsert(s.h, r.n, r.ids, r.vecs, r.meta, r.metaOff);
    commitRows(s, r);
  }

  /**
   * Insert or replace many vectors atomically (all or nothing), in one engine call. When an id
   * appears several times in the batch, its last row wins.
   * @param {Array<{ id: string|number|bigint, vector: Float32Array|number[], metadata?: object }>} items
   * @returns {Promise<number>} how many distinct ids were written (duplicates count once)
   */
  async insertBatch(items) {
    const s = live(this);
    const n = inspect('insertBatch', () => {
      if (!Array.isArray(items)) throw einval(`insertBatch expects an array of { id, vector, metadata? } (got ${describe(items)})`);
      return items.length;
    });
    if (n === 0) return 0;
    if (n > 0xFFFFFFFF) throw einval('insertBatch: too many items for one batch');
    const r = encodeRows(s, items, 'insertBatch');
    s.engine.upsert(s.h, r.n, r.ids, r.vecs, r.meta, r.metaOff);
    commitRows(s, r);
    return r.written;
  }

  /**
   * k nearest neighbours of one query, best first.
   * @param {Float32Array|number[]} vector
   * @param {object} [options] { k, ef, filter, threshold, includeVectors, includeMetadata }
   * @returns {Promise<Array<{ id: string|number|bigint, score: number, distance: number,
   *   metadata?: object, vector?: Float32Array }>>}
   */
  async search(vector, options) {
    const s = live(this);
    const o = inspect('search', () => parseSearchOptions(s, options));
    const q = new Float32Array(s.dim);
    inspect('search', () => putVector(vector, q, 0, s.dim, 'search', s.name));
    if (o.predicate) return predicateSearch(this, q, o);
    return runSearch(s, q, 1, o)[0];
  }

  /**
   * Search several queries at once (one engine call for a structured or no filter).
   * @param {Array<Float32Array|number[]>} vectors
   * @param {object} [options] as for search
   * @returns {Promise<Array<Array<{ id: string|number|bigint, score: number, distance: number,
   *   metadata?: object, vector?: Float32Array }>>>}
   */
  async searchBatch(vectors, options) {
    const s = live(this);
    const [o, nq] = inspect('searchBatch', () => {
      if (!Array.isArray(vectors)) throw einval(`searchBatch expects an array of query vectors (got ${describe(vectors)})`);
      return [parseSearchOptions(s, options), vectors.length];
    });
    if (nq === 0) return [];
    if (nq * s.dim * 4 > 0xF0000000) {
      throw new VecliteError('EBUDGET', `searchBatch: ${nq} queries of dimension ${s.dim} exceed the 4 GB WebAssembly memory in one call; split the batch`);
    }
    // The result space (queries × k × ...) is checked once, in the engine binding's search.
    const flat = inspect('searchBatch', () => queryMatrix(s, vectors, nq, 'searchBatch'));
    if (o.predicate) {
      const rows = [];
      for (let q = 0; q < nq; q++) rows.push(predicateSearch(this, flat.subarray(q * s.dim, (q + 1) * s.dim), o));
      return rows;
    }
    return runSearch(s, flat, nq, o);
  }

  /**
   * The stored vector and metadata of an id, or null.
   * @param {string|number|bigint} id
   * @returns {Promise<{ id: string|number|bigint, vector: Float32Array, metadata: object }|null>}
   */
  async get(id) {
    const s = live(this);
    const pair = new Uint32Array(2);
    if (!inspect('get', () => resolveId(s, id, pair, 0, 'get'))) return null;
    if (!s.idKind) return null;
    const g = s.engine.getBatch(s.h, s.dim, 1, pair, s.userMeta, true);
    if (!g.found[0]) return null;
    const metadata = g.meta ? decodeRecord(g.meta.bytes, g.meta.off[0], g.meta.off[1], nameOf(s)).meta : {};
    return { id: publicId(s, pair, 0), vector: g.vecs, metadata };
  }

  /**
   * Change the vector and/or replace the metadata of an existing id.
   * @param {string|number|bigint} id
   * @param {{ vector?: Float32Array|number[], metadata?: object|null }} patch
   * @returns {Promise<void>} rejects with ENOTFOUND if the id is absent
   */
  async update(id, patch) {
    const s = live(this);
    const pair = new Uint32Array(2);
    const notFound = () => new VecliteError('ENOTFOUND',
      `update: no vector with id ${idText(id)} in collection '${s.name}'; use insert to add it`);
    // Validate everything first: nothing (not even a field name) changes if this throws.
    const { vecs, entries, hasVec, hasMeta, recBytes } = inspect('update', () => {
      if (!isPlainObject(patch)) throw einval(`update(id, patch): patch must be { vector?, metadata? } (got ${describe(patch)})`);
      checkKeys(patch, ['vector', 'metadata'], 'update patch', 'key');
      const hasVec = patch.vector !== undefined, hasMeta = patch.metadata !== undefined;
      if (!hasVec && !hasMeta) throw einval('update: give a new vector, new metadata, or both');
      if (!resolveId(s, id, pair, 0, 'update') || !s.idKind) throw notFound();
      let vecs = null;
      if (hasVec) {
        vecs = new Float32Array(s.dim);
        putVector(patch.vector, vecs, 0, s.dim, 'update', s.name);
        if (s.metric === 'cosine') checkCosine(vecs, 0, s.dim, 'update');
      }
      const entries = hasMeta ? prepareMetadata(patch.metadata, 'update') : null;
      let recBytes = 0;
      if (hasMeta && (entries.length || s.idKind === 'string')) {
        recBytes = recordSize(entries, s.idKind === 'string' ? id : undefined);
        checkRecordSize(recBytes, 'update');
      }
      return { vecs, entries, hasVec, hasMeta, recBytes };
    });
    const g = s.engine.getBatch(s.h, s.dim, 1, pair, hasVec && !hasMeta, false);
    if (!g.found[0]) throw notFound();
    let meta, metaOff;
    if (hasMeta) {
      const names = new Set();
      if (s.idKind === 'string') names.add(ID_FIELD);
      for (let j = 0; j < entries.length; j += 3) names.add(entries[j]);
      freshFields(s, names, 'update');
      registerFields(s, names);
      const w = new ByteWriter(Math.max(64, recBytes));
      const idFid = s.idKind === 'string' ? s.fieldIds.get(ID_FIELD) : -1;
      if (entries.length || idFid >= 0) writeRecord(w, entries, (n) => s.fieldIds.get(n), idFid, id);
      meta = w.take();
      metaOff = Uint32Array.of(0, meta.length);
    } else {
      meta = g.meta.bytes;
      metaOff = Uint32Array.of(0, meta.length);
    }
    if (hasVec) {
      s.engine.upsert(s.h, 1, pair, vecs, meta.length ? meta : null, meta.length ? metaOff : null);
    } else {
      s.engine.setMeta(s.h, 1, pair, meta, metaOff);
    }
    if (entries && entries.length) s.userMeta = true;
  }

  /**
   * Delete one id (returns whether it was live) or an array of ids (returns how many were live),
   * in one engine call.
   * @param {string|number|bigint|Array<string|number|bigint>} ids
   * @returns {Promise<boolean|number>}
   */
  async delete(ids) {
    const s = live(this);
    let many, pairs;
    let n = 0;
    const strs = [];
    inspect('delete', () => {
      many = Array.isArray(ids);
      const list = many ? ids : [ids];
      const len = list.length;   // read once: the loop must not outgrow pairs
      pairs = new Uint32Array(len * 2);
      for (let i = 0; i < len; i++) {
        const id = list[i];
        if (resolveId(s, id, pairs, n, many ? `delete[${i}]` : 'delete')) {
          n++;
          if (typeof id === 'string') strs.push(id);
        }
      }
    });
    let deleted = 0;
    if (n > 0 && s.idKind) deleted = s.engine.deleteIds(s.h, n, pairs);
    for (const str of strs) {
      const iid = s.strToId.get(str);
      if (iid !== undefined) {
        s.strToId.delete(str);
        s.idToStr.delete(iid);
      }
    }
    return many ? deleted : deleted > 0;
  }

  /**
   * Number of live vectors.
   * @returns {Promise<number>}
   */
  async count() {
    const s = live(this);
    return s.engine.count(s.h);
  }

  /**
   * Remove every vector (the configuration stays).
   * @returns {Promise<void>}
   */
  async clear() {
    const s = live(this);
    s.engine.clear(s.h);
    s.strToId.clear();
    s.idToStr.clear();
    s.userMeta = false;
    s.idKind = s.configIdKind;
  }

  /**
   * Statistics: { count, dimension, metric, index, memoryBytes, bytesPerVector, tombstones,
   * implementation, ... }. memoryBytes is what the engine holds for this collection.
   * @returns {Promise<object>}
   */
  async stats() {
    const s = live(this);
    const st = s.engine.stats(s.h);
    const cfg = s.engine.config(s.h);
    const index = s.kind === 'hnsw'
      ? { type: 'hnsw', m: cfg.m, efConstruction: cfg.efConstruction, ef: cfg.ef }
      : { type: 'flat' };
    return {
      count: st.live,
      dimension: s.dim,
      metric: s.metric,
      index,
      memoryBytes: st.memoryBytes,
      bytesPerVector: st.live ? st.memoryBytes / st.live : 0,
      tombstones: st.tombstones,
      implementation: s.db.implementation,
      nodes: st.nodes,
      vectorBytes: st.vectorBytes,
      graphBytes: st.graphBytes,
      metadataBytes: st.metaBytes,
      maxLevel: st.maxLevel,
      fields: st.fields,
      idType: s.idKind,
    };
  }
}

// ---- Database -------------------------------------------------------------------------------------

const COLLECTION_KEYS = ['dimension', 'metric', 'index', 'idType'];
const HNSW_KEYS = ['type', 'm', 'efConstruction', 'ef', 'seed'];

function parseCollectionConfig(config, C) {
  if (!isPlainObject(config)) {
    throw einval(`createCollection(name, config): config must be an object like { dimension: 384 } (got ${describe(config)})`);
  }
  checkKeys(config, COLLECTION_KEYS, 'createCollection config');
  const L = C.limits;
  if (config.dimension === undefined) throw einval('createCollection: config.dimension is required (1..65535)');
  const dim = intIn(config.dimension, 1, L.MAX_DIM, 'createCollection: dimension');
  const metric = config.metric ?? 'cosine';
  if (!Object.hasOwn(METRICS, metric)) {
    throw einval(`createCollection: metric must be 'cosine', 'euclidean' or 'dotProduct' (got ${typeof metric === 'string' ? `'${metric}'` : describe(metric)})`);
  }
  const idx = config.index ?? { type: 'hnsw' };
  if (!isPlainObject(idx)) throw einval(`createCollection: index must be { type: 'hnsw', ... } or { type: 'flat' } (got ${describe(idx)})`);
  const type = idx.type ?? 'hnsw';
  let kind, m = 0, efC = 0, ef = 0, seedLo = 42, seedHi = 0;
  if (type === 'flat') {
    checkKeys(idx, ['type'], "createCollection: index { type: 'flat' }");
    kind = 'flat';
  } else if (type === 'hnsw') {
    checkKeys(idx, HNSW_KEYS, "createCollection: index { type: 'hnsw' }");
    kind = 'hnsw';
    if (idx.m !== undefined) m = intIn(idx.m, 2, L.MAX_M, 'createCollection: index.m');
    if (idx.efConstruction !== undefined) efC = intIn(idx.efConstruction, 1, L.MAX_EF, 'createCollection: index.efConstruction');
    if (idx.ef !== undefined) ef = intIn(idx.ef, 1, L.MAX_EF, 'createCollection: index.ef');
    if (idx.seed !== undefined) {
      const pair = new Uint32Array(2);
      if (typeof idx.seed !== 'number' && typeof idx.seed !== 'bigint') {
        throw einval(`createCollection: index.seed must be a non-negative integer or bigint (got ${describe(idx.seed)})`);
      }
      putNumeric(idx.seed, pair, 0, 'createCollection: index.seed');
      seedLo = pair[0];
      seedHi = pair[1];
    }
  } else {
    throw einval(`createCollection: index.type must be 'hnsw' or 'flat' (got ${describe(type)})`);
  }
  let idKind = null;
  if (config.idType !== undefined) {
    if (config.idType !== 'string' && config.idType !== 'number') {
      throw einval(`createCollection: idType must be 'string' or 'number' (got ${describe(config.idType)})`);
    }
    idKind = config.idType;
  }
  return {
    dim, metric, kind, idKind,
    c: {
      dim, metric: C.metrics[METRICS[metric]], kind: C.kinds[kind === 'flat' ? 'FLAT' : 'HNSW'],
      m, efConstruction: efC, ef, seedLo, seedHi,
    },
  };
}

function checkName(name, where) {
  if (typeof name !== 'string' || name.length === 0) {
    throw einval(`${where}: collection name must be a non-empty string (got ${describe(name)})`);
  }
  if (!wellFormed(name) || utf8Length(name) > 255) {
    throw einval(`${where}: collection name must be well-formed text of at most 255 UTF-8 bytes`);
  }
}

/** Checks the JS mirrors of the engine's enums against what the engine publishes. */
function checkConstants(C) {
  for (const [k, v] of Object.entries(TAG)) if (C.tags[k] !== v) return `tag ${k}`;
  for (const [k, v] of Object.entries(OP)) if (C.filterOps[k] !== v) return `filter op ${k}`;
  for (const [k, v] of Object.entries(CMP)) if (C.cmp[k] !== v) return `comparison ${k}`;
  if (C.limits.MAX_FIELDS !== NO_FIELD) return 'MAX_FIELDS';
  return null;
}

/**
 * A database: a set of named collections living in one engine instance.
 */
export class Database {
  #engine;
  #simd;
  /** @type {Map<string, Collection>} */
  #cols = new Map();
  #closed = false;

  /** @hideconstructor */
  constructor(engine, simd) {
    this.#engine = engine;
    this.#simd = simd;
  }

  #live(what) {
    if (this.#closed) throw new VecliteError('ECLOSED', `${what}: the database is closed; create a new one with createDatabase()`);
  }

  /** 'wasm-simd' or 'wasm': the engine build this database runs on. */
  get implementation() {
    return this.#simd ? 'wasm-simd' : 'wasm';
  }

  /**
   * Create a collection.
   * @param {string} name
   * @param {{ dimension: number, metric?: 'cosine'|'euclidean'|'dotProduct',
   *   index?: { type?: 'hnsw', m?: number, efConstruction?: number, ef?: number, seed?: number|bigint }
   *        | { type: 'flat' }, idType?: 'string'|'number' }} config
   * @returns {Promise<Collection>}
   */
  async createCollection(name, config) {
    this.#live('createCollection');
    checkName(name, 'createCollection');
    if (this.#cols.has(name)) {
      throw einval(`createCollection: collection '${name}' already exists; use getCollection('${name}') or deleteCollection it first`);
    }
    const cfg = inspect('createCollection', () => parseCollectionConfig(config, this.#engine.C));
    const h = this.#engine.indexNew(cfg.c);
    const col = new Collection({
      db: this, engine: this.#engine, h, name, dim: cfg.dim, metric: cfg.metric, kind: cfg.kind,
      idKind: cfg.idKind, configIdKind: cfg.idKind, strToId: new Map(), idToStr: new Map(), nextSid: 1,
      userMeta: false, fieldIds: new Map(), fieldNames: [], closedWhy: '',
    });
    this.#cols.set(name, col);
    return col;
  }

  /**
   * An existing collection; rejects with ENOTFOUND if there is none of that name.
   * @param {string} name
   * @returns {Promise<Collection>}
   */
  async getCollection(name) {
    this.#live('getCollection');
    checkName(name, 'getCollection');
    const col = this.#cols.get(name);
    if (!col) throw new VecliteError('ENOTFOUND', `getCollection: no collection named '${name}'; create it with createCollection`);
    return col;
  }

  /**
   * Names of all collections, in creation order.
   * @returns {Promise<string[]>}
   */
  async listCollections() {
    this.#live('listCollections');
    return [...this.#cols.keys()];
  }

  /**
   * Delete a collection and free its memory; its Collection object then rejects with ECLOSED.
   * @param {string} name
   * @returns {Promise<void>} rejects with ENOTFOUND if there is none of that name
   */
  async deleteCollection(name) {
    this.#live('deleteCollection');
    checkName(name, 'deleteCollection');
    const col = this.#cols.get(name);
    if (!col) throw new VecliteError('ENOTFOUND', `deleteCollection: no collection named '${name}'`);
    this.#cols.delete(name);
    release(col, `collection '${name}' was deleted`);
  }

  /**
   * Free every collection and the engine. Later calls on the database or its collections
   * reject with ECLOSED. Closing twice is harmless.
   * @returns {Promise<void>}
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const col of this.#cols.values()) release(col, 'the database is closed; create a new one with createDatabase()');
    this.#cols.clear();
    this.#engine.dispose();
    this.#engine = null;
  }
}

function release(col, why) {
  const s = STATE.get(col);
  if (!s.h) return;
  s.engine.indexFree(s.h);
  s.h = 0;
  s.closedWhy = `collection '${s.name}': ${why}`;
  s.strToId = new Map();
  s.idToStr = new Map();
}

// ---- entry points ---------------------------------------------------------------------------------

/** Whether the last engine loaded has SIMD kernels; null before any load. @type {boolean|null} */
let lastLoadedSimd = null;

/**
 * Load the engine (SIMD build when supported) and create an empty database.
 * @param {{ simd?: boolean, wasmModule?: WebAssembly.Module, backend?: 'memory' }} [config]
 * @returns {Promise<Database>}
 */
export async function createDatabase(config = {}) {
  const { backend, simd: wantSimd, wasmModule } = inspect('createDatabase', () => {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw einval(`createDatabase(config): config must be an object (got ${describe(config)})`);
    }
    checkKeys(config, ['simd', 'wasmModule', 'backend'], 'createDatabase config');
    return { backend: config.backend ?? 'memory', simd: config.simd, wasmModule: config.wasmModule };
  });
  if (backend !== 'memory') {
    throw new VecliteError('EBACKEND',
      `createDatabase: backend ${typeof backend === 'string' ? `'${backend}'` : describe(backend)} is not available in this ` +
      "version of veclite; only 'memory' (the default) is. Persistent backends (Node files, OPFS, IndexedDB) " +
      'arrive with the storage layer; until then keep data in memory and re-insert it on start');
  }
  const { M } = await loadModule({ simd: wantSimd, wasmModule });
  const engine = new Engine(M);
  const bad = checkConstants(engine.C);
  if (bad) {
    throw new VecliteError('EBACKEND', `veclite.wasm disagrees with web/ about ${bad}; the .wasm and the JS come from different builds`);
  }
  // Read from the instance itself, so a passed wasmModule is reported truthfully.
  const simd = engine.isa === 'simd128';
  lastLoadedSimd = simd;
  return new Database(engine, simd);
}

/**
 * The engine build in use: the last one loaded, or before any load the one that would load.
 * @returns {'wasm-simd'|'wasm'}
 */
export function getImplementation() {
  return (lastLoadedSimd ?? simdSupported()) ? 'wasm-simd' : 'wasm';
}

/**
 * What this runtime offers the engine.
 * @returns {{ simdEnabled: boolean, simdSupported: boolean, workerPoolSize: number,
 *   indexedDbEnabled: boolean, opfsEnabled: boolean }}
 */
export function getWasmInfo() {
  return {
    simdEnabled: getImplementation() === 'wasm-simd',
    simdSupported: simdSupported(),
    workerPoolSize: 0,
    indexedDbEnabled: false,
    opfsEnabled: false,
  };
}
