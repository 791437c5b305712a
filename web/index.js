// web/index.js — veclite's public JavaScript API (docs/api.md §1-§5).
//
//   createDatabase() -> Database -> Collection (insert/search/get/update/delete/...)
//
// Layering (docs/conventions.md §6): this file validates arguments, maps ids, encodes metadata
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
//
// Persistence (docs/api.md §6): a collection is either a plain in-memory
// index (memory Database) or an .rvf store (vl_store_*) on a device — a file (Node backend,
// web/node-backend.js, loaded by dynamic import only when a path or backend 'node' is used, so
// browser and workerd builds never load node: modules) or a memory device (openCollection(bytes)).
// - Store writes are committed (appended + synced by the device) inside the engine call, so a
//   resolved write promise means a durable write. A failed durable write poisons the handle:
//   every later call rejects with EIO until it is closed and reopened. A rejected write is never
//   visible after a reopen (the engine rolls it back), unless its error says outcome 'unknown'.
// - A writable file handle holds the docs/format.md §7 lock from open to close; read-only handles
//   take no lock, and every write on them is refused (EREADONLY) before anything changes.
// - On open, the JS side is rebuilt from the file: field names from the store, string ids from
//   each record's '$id', the id kind from the rows (or the 'js.idType' file metadata written
//   when idType was fixed up front).
// - An engine instance is shared by a Database, its collections and their derived children; it
//   is disposed when the last of them closes.

import { VecliteError, einval } from './errors.js';
import { loadModule, simdSupported } from './loader.js';
import { Engine, upsertLayout } from '../worker/bind.js';
import {
  ByteWriter, ID_FIELD, TAG, checkRecordSize, decodeRecord, describe, isPlainObject, prepareMetadata,
  recordSize, utf8Length, wellFormed, writeRecord,
} from './metadata.js';
import { CMP, NO_FIELD, OP, compileFilter } from './filter.js';
import { checkedImage } from './image.js';
import { branchBytesError } from './branch-parent.js';

export { VecliteError };
export { recoverCollection } from './recover.js';

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
  if (s.poisoned) throw new VecliteError('EIO', s.poisoned);
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
    const bytes = enc.encode(name);
    const id = s.store ? s.engine.storeField(s.store, bytes) : s.engine.field(s.h, bytes);
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
 * The dimension a dimension-0 store (an empty rvf-node store whose dimension is "unset") takes
 * from its first insert: the length of the first item's vector. Every row of the batch is then
 * checked against it as usual; engineUpsert fixes it in the store (vl_store_set_dim) right
 * before the first commit.
 */
function firstDimension(s, items, where) {
  const v = items.length ? items[0]?.vector : undefined;
  const L = s.engine.C.limits;
  const len = v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v) ? v.length : -1;
  if (len < 1 || len > L.MAX_DIM) {
    throw einval(`${where}: collection '${s.name}' has no dimension yet (dimension 0: the first insert sets it), ` +
      `and the first vector cannot set it (${len < 0 ? `got ${describe(v)}` : `${len} components; 1..${L.MAX_DIM}`})`);
  }
  return len;
}

/**
 * Validate and encode rows; returns everything needed for one vl_index_upsert plus the id-map
 * changes to commit after it succeeds. Everything is validated (items, ids, vectors, zero
 * vectors under cosine, metadata, record sizes, the staging budget, the field-name limit)
 * before the first field name is registered in the engine.
 */
function encodeRows(s, items, where) {
  const n = inspect(where, () => items.length);
  const dim = s.dim || inspect(where, () => firstDimension(s, items, where));
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

// ---- durable writes ---------------------------------------------------------------------------------
//
// A collection is either a plain in-memory index (s.store === 0) or an .rvf store (s.store !== 0),
// on a file (s.dev) or in memory (s.memIo). Store writes commit durably inside the C call (the
// device syncs before it returns), so a resolved write promise means a committed write.

/** Throw unless the collection may be written: not a read-only handle, writer lock still ours. */
function writable(s, what) {
  if (s.readOnly) {
    throw new VecliteError('EREADONLY', `${what}: collection '${s.name}' was opened read-only; ` +
      'open it without readOnly to write (one writer at a time)');
  }
  if (s.lockLost) throw new VecliteError(s.lockLost.code === 'EREADONLY' ? 'EREADONLY' : 'ELOCK', `${what}: ${s.lockLost.message}`);
  if (s.lock && s.dev) {
    // The file must still be the one at its path, under our lock ("database moved" rule).
    try {
      s.N.nb.checkWriter(s.dev, s.lock);
    } catch (e) {
      if (e?.code === 'EREADONLY' || e?.code === 'ELOCK') s.lockLost = e;
      throw new VecliteError(e?.code ?? 'EIO', `${what}: ${e?.message ?? e}`, { cause: e });
    }
  }
}

/** Current wall clock in ns, for WITNESS timestamps. */
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/**
 * Run one committing store call. A failed durable write (EIO) poisons the collection: every
 * later call rejects with EIO until it is closed and reopened (the C store is poisoned too).
 * Failed means failed: the engine rolls a failed commit back (truncates the file to the previous
 * commit and syncs), so a rejected write is never visible after a reopen; when that rollback
 * fails too the error has `outcome: 'unknown'` (else `'notWritten'`) and says so (worker/bind.js
 * _checkStore).
 */
function storeWrite(s, fn) {
  try {
    s.engine.storeSetTime(s.store, nowNs());
    const r = fn();
    s.h = s.engine.storeIndex(s.store); // vl_store_index is re-read after every store call that changes state
    return r;
  } catch (e) {
    if (e instanceof VecliteError && e.code === 'EIO') poison(s, e);
    throw e;
  }
}

function poison(s, e) {
  s.poisoned ??= `collection '${s.name}' is unusable after a failed durable write (${e.message}); ` +
    'close it and reopen it: the file holds every commit that completed' +
    (e.outcome === 'notWritten' ? ' and nothing of the failed write'
      : e.outcome === 'unknown' ? ', and the failed write either whole or not at all (its outcome is unknown)' : '');
}

function engineUpsert(s, n, ids, vecs, meta, metaOff) {
  if (s.dim === 0 && n > 0 && s.store) {
    // A dimension-0 store: this first insert fixes the dimension (durable with its commit).
    storeWrite(s, () => s.engine.storeSetDim(s.store, vecs.length / n));
    s.dim = vecs.length / n;
  }
  if (s.store) storeWrite(s, () => s.engine.storeUpsert(s.store, n, ids, vecs, meta, metaOff));
  else s.engine.upsert(s.h, n, ids, vecs, meta, metaOff);
}

function engineSetMeta(s, n, ids, meta, metaOff) {
  if (s.store) storeWrite(s, () => s.engine.storeSetMeta(s.store, n, ids, meta, metaOff));
  else s.engine.setMeta(s.h, n, ids, meta, metaOff);
}

function engineDelete(s, n, ids) {
  return s.store ? storeWrite(s, () => s.engine.storeDelete(s.store, n, ids)) : s.engine.deleteIds(s.h, n, ids);
}

function engineClear(s) {
  if (s.store) storeWrite(s, () => s.engine.storeClear(s.store));
  else s.engine.clear(s.h);
}

// ---- search -----------------------------------------------------------------------------------------

const SEARCH_KEYS = ['k', 'ef', 'filter', 'threshold', 'includeVectors', 'includeMetadata'];

function parseSearchOptions(s, opts) {
  if (opts === undefined || opts === null) opts = {};
  if (!isPlainObject(opts)) throw einval(`search options must be an object (got ${describe(opts)})`);
  checkKeys(opts, SEARCH_KEYS, 'search options');
  const L = s.engine.C.limits;
  const k = opts.k === undefined ? 10 : intIn(opts.k, 1, L.MAX_K, 'search option k');
  const ef = opts.ef === undefined || opts.ef === null ? s.defaultEf : intIn(opts.ef, 1, L.MAX_EF, 'search option ef');
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

/**
 * Live ids in ascending order, a page at a time, as (lo, hi) u32 word pairs (a fresh copy per
 * page). `state()` gives `{ engine, h }` and is called before each page, so a caller can check
 * that the collection is still open between pages.
 */
function* liveIdPages(state, pageSize = 4096) {
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

/** Exact answer for a JS predicate: every live id is tested, matches are ranked by distance. */
function exactPredicateScan(col, q, o, test) {
  let s = live(col);
  let match = new Uint32Array(2 * 1024);
  let nMatch = 0;
  // live(col) before each page: a predicate that closed the database stops the scan (ECLOSED).
  for (const page of liveIdPages(() => (s = live(col)))) {
    const n = page.length / 2;
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
  }
  s = live(col);
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
    writable(s, 'insert');
    const r = encodeRows(s, [item], 'insert');
    engineUpsert(s, r.n, r.ids, r.vecs, r.meta, r.metaOff);
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
    writable(s, 'insertBatch');
    const n = inspect('insertBatch', () => {
      if (!Array.isArray(items)) throw einval(`insertBatch expects an array of { id, vector, metadata? } (got ${describe(items)})`);
      return items.length;
    });
    if (n === 0) return 0;
    if (n > 0xFFFFFFFF) throw einval('insertBatch: too many items for one batch');
    const r = encodeRows(s, items, 'insertBatch');
    engineUpsert(s, r.n, r.ids, r.vecs, r.meta, r.metaOff);
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
    if (s.dim === 0) return []; // a dimension-0 store is empty: nothing to compare the query with
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
    if (s.dim === 0) return Array.from({ length: nq }, () => []); // dimension-0 store: empty
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
    writable(s, 'update');
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
      engineUpsert(s, 1, pair, vecs, meta.length ? meta : null, meta.length ? metaOff : null);
    } else {
      engineSetMeta(s, 1, pair, meta, metaOff);
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
    writable(s, 'delete');
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
    if (n > 0 && s.idKind) deleted = engineDelete(s, n, pairs);
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
    writable(s, 'clear');
    engineClear(s);
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
      ? { type: 'hnsw', m: cfg.m, efConstruction: cfg.efConstruction, ef: s.defaultEf || cfg.ef }
      : { type: 'flat' };
    return {
      count: st.live,
      dimension: s.dim,
      metric: s.metric,
      index,
      memoryBytes: st.memoryBytes,
      bytesPerVector: st.live ? st.memoryBytes / st.live : 0,
      tombstones: st.tombstones,
      implementation: s.impl,
      nodes: st.nodes,
      vectorBytes: st.vectorBytes,
      graphBytes: st.graphBytes,
      metadataBytes: st.metaBytes,
      maxLevel: st.maxLevel,
      fields: st.fields,
      idType: s.idKind,
    };
  }

  // ---- persistence (docs/api.md §6) ----------------------------------------

  /**
   * A self-contained .rvf image of the committed state. For a collection stored in a file (or in
   * bytes) this is the store's committed bytes verbatim — the file from offset 0 to where the
   * next commit goes, history (witness chain, older segments) included — so it is cheap and
   * byte-identical to what @ruvector/rvf-node reads. For a plain in-memory collection (created by
   * a memory Database) the image is built on demand: its rows, metadata and field names are
   * written into a fresh store in memory (this builds the HNSW graph once) and its bytes
   * returned, with the graph as an INDEX segment. Use snapshot() for a compacted, canonical image.
   * The image is checked before it is returned (web/image.js): if the file changed under this
   * handle so that it no longer holds the handle's commit, export rejects with ECORRUPT or EIO
   * instead of returning other bytes.
   * @returns {Promise<Uint8Array>}
   */
  async export() {
    const s = live(this);
    if (!s.store) {
      const m = await materialize(s);
      try {
        s.engine.storeCheckpoint(m.st);
        const info = s.engine.storeInfo(m.st);
        return checkedImage(s.engine, m.st, () => trimmed(s.engine.ioMemBytes(m.io), info.bytes), 'the image built in memory');
      } finally {
        dropMaterialized(s.engine, m);
      }
    }
    // The bytes are re-checked against the commit this handle holds (web/image.js): a file may
    // have changed under a read-only handle; appends beyond its commit do not matter.
    const info = s.engine.storeInfo(s.store);
    if (s.dev) return checkedImage(s.engine, s.store, () => s.N.nb.readCommitted(s.dev, info.bytes), `the file ${s.path}`);
    return checkedImage(s.engine, s.store, () => trimmed(s.engine.ioMemBytes(s.memIo), info.bytes), 'the store in memory');
  }

  /**
   * A content-addressed snapshot: `bytes` is a compacted image of the committed state (live rows
   * only, one META snapshot, the graph without tombstones, the witness chain carried forward plus
   * a "compact:" WITNESS with timestamp 0) and `cid` the lowercase hex SHA-256 of those bytes.
   * The cid identifies exactly these bytes: equal cids mean equal bytes, hence an equal state.
   * The converse does not hold: the same rows reached by different histories (another insert
   * order, deletes, a reopen that loaded or rebuilt the graph) can give different bytes and cids,
   * because the persisted HNSW graph depends on the handle's insert history, and the witness
   * chain carried forward and the compaction record (bytes reclaimed) depend on the file's
   * history. Any commit (including an INDEX checkpoint close() may write) changes the cid too;
   * snapshotting one handle again without a commit in between gives the same bytes.
   * openCollection(bytes) opens it.
   * @returns {Promise<{ cid: string, bytes: Uint8Array }>}
   */
  async snapshot() {
    const s = live(this);
    let bytes;
    if (s.store) {
      bytes = snapshotOf(s.engine, s.store);
    } else {
      const m = await materialize(s);
      try {
        bytes = snapshotOf(s.engine, m.st);
      } finally {
        dropMaterialized(s.engine, m);
      }
    }
    return { cid: await sha256Hex(bytes), bytes };
  }

  /**
   * Rewrite the store without dead rows (docs/format.md §6): a file store is rewritten to
   * `<file>.compact.tmp`, synced, renamed over the file and the directory synced; a store in
   * memory is rewritten in memory. Plain in-memory collections have no file to compact (EINVAL).
   * @returns {Promise<{ bytesBefore: number, bytesAfter: number }>}
   */
  async compact() {
    const s = live(this);
    writable(s, 'compact');
    if (!s.store) {
      throw einval(`compact: collection '${s.name}' lives in memory without an .rvf store, so there is no file to ` +
        'compact; open a file with createDatabase({ path }) or openCollection(path)');
    }
    const e = s.engine;
    const bytesBefore = e.storeInfo(s.store).bytes;
    e.storeSetTime(s.store, nowNs());
    if (s.dev) {
      let moved;
      try {
        moved = await s.N.nb.compactFile(s.N, e, s.store, s.path, s.lock ? { dev: s.dev, lock: s.lock } : null);
      } catch (err) {
        if (err?.renameFailed) {
          // The store now lives on the temporary file: keep its device for close(), stop here.
          s.extraDevs.push({ dev: err.dev, ref: err.ref });
          poison(s, err);
        }
        if (err?.replaced) {
          // The file at s.path is the compacted one and the store lives on it; only the rename's
          // durability is in doubt, so take no more writes (poison) but hold the right device.
          e.ioFree(s.ref);
          s.dev.close();
          s.dev = err.dev;
          s.ref = err.ref;
          s.h = e.storeIndex(s.store);
          poison(s, err);
        }
        throw err;
      }
      e.ioFree(s.ref);
      s.dev.close();
      s.dev = moved.dev;
      s.ref = moved.ref;
    } else {
      const io = e.ioMemOpen(new Uint8Array(0));
      try {
        e.storeCompact(s.store, io);
      } catch (err) {
        e.ioMemFree(io);
        throw err;
      }
      e.ioMemFree(s.memIo);
      s.memIo = io;
    }
    // Compaction may replace the store's in-memory index (a graph without tombstones).
    s.h = e.storeIndex(s.store);
    return { bytesBefore, bytesAfter: e.storeInfo(s.store).bytes };
  }

  /**
   * A child store (docs/format.md §6 derive): same dimension, metric, index configuration and field
   * names, no vectors; its parentId is this store's fileId and its lineageDepth one more. With a
   * path the child is a new file (EINVAL if it exists) opened as its writer; without one it
   * lives in memory. Works on read-only handles (the parent is only read).
   * @param {string} [path]
   * @returns {Promise<Collection>}
   */
  async derive(path) {
    let s = live(this);
    if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
      throw einval(`derive(path): path must be a non-empty string or undefined (got ${describe(path)})`);
    }
    const N = path === undefined ? null : await nodeBackend('derive');
    const fileId = await randomBytes(16);
    s = live(this); // the awaits above may have let a close() in
    const e = s.engine;
    const m = s.store ? null : await materialize(s);
    const parent = m ? m.st : s.store;
    const idKind = s.idKind ?? s.configIdKind;
    try {
      if (path === undefined) {
        const io = e.ioMemOpen(new Uint8Array(0));
        let child;
        try {
          child = e.storeDerive(parent, io, fileId);
        } catch (err) {
          e.ioMemFree(io);
          throw err;
        }
        return storeCollection(e, s.impl, child, { memIo: io, name: `${s.name}-child`, readOnly: false, createIdKind: idKind });
      }
      const holder = { col: null };
      const f = await N.nb.createChildFile(N, e, path, (err) => { if (holder.col) STATE.get(holder.col).lockLost = err; });
      let child;
      try {
        if (!m && (STATE.get(this).store !== parent || s.poisoned)) live(this); // closed or poisoned meanwhile
        child = e.storeDerive(parent, f.ref.io, fileId);
      } catch (err) {
        N.nb.abandonFile(N, e, f);
        throw err;
      }
      holder.col = storeCollection(e, s.impl, child, {
        dev: f.dev, ref: f.ref, lock: f.lock, path: f.path, N, name: basename(f.path), readOnly: false, createIdKind: idKind,
      });
      return holder.col;
    } finally {
      if (m) dropMaterialized(e, m);
    }
  }


  /**
   * The committed segment directory, in file order.
   * @returns {Promise<Array<{ id: number|bigint, type: number, typeName: string, offset: number, length: number }>>}
   *   an empty list for a plain in-memory collection (it has no segments)
   */
  async segments() {
    const s = live(this);
    if (!s.store) return [];
    return s.engine.storeDir(s.store, s.engine.storeInfo(s.store).dirCount);
  }

  /**
   * State of the store. ids are lowercase hex; a root file has parentId of zeros and
   * lineageDepth 0. `lock` describes the writer lock of a file (null when there is none, or for
   * memory); `lock.ours` is true when this handle holds it. For a plain in-memory collection
   * `persistent` is false, the file fields are 0/null, and fileId is the identity its export()
   * images and derived children carry.
   * @returns {Promise<object>}
   */
  async status() {
    const s = live(this);
    const base = {
      name: s.name, path: s.path, backend: s.path ? 'node' : 'memory', persistent: Boolean(s.store),
      readOnly: s.readOnly, dimension: s.dim, metric: s.metric, index: s.kind, idType: s.idKind,
    };
    if (!s.store) {
      // The identity its images (export/snapshot) and derived children will carry.
      s.fileId ??= await randomBytes(16);
      live(this);
      const st = s.engine.stats(s.h);
      return {
        ...base, epoch: 0, fileId: toHex(s.fileId), parentId: null, lineageDepth: 0, count: st.live, deleted: 0,
        segments: 0, bytes: 0, indexLoaded: false, rowsInsertedOnOpen: 0, lock: null, recovered: null,
      };
    }
    const i = s.engine.storeInfo(s.store);
    return {
      ...base, epoch: i.epoch, fileId: i.fileId, parentId: i.parentId, lineageDepth: i.lineageDepth,
      count: i.live, deleted: i.deleted, segments: i.dirCount, bytes: i.bytes,
      indexLoaded: i.indexLoaded, rowsInsertedOnOpen: i.rowsInsertedOnOpen,
      lock: s.path ? s.N.nb.lockStatus(s.N, s.path, s.lock) : null,
      recovered: s.recovered ? { ...s.recovered } : null,
    };
  }

  /**
   * Re-read the committed state and check it against memory: segment hashes, metadata digests,
   * the persisted graph, every live row, the witness chain and the graph invariants. Problems
   * are reported, not thrown. Bytes the open did not load (status().recovered) and tails saved
   * beside the file are problems too, until discardRecovered().
   * @returns {Promise<{ ok: boolean, problems: string[], witness: { entries: number, intact: boolean } }>}
   */
  async verify() {
    const s = live(this);
    if (s.store) {
      const r = s.engine.storeVerify(s.store);
      const extra = await recoveryProblems(s);
      if (extra.length) { r.problems.push(...extra); r.ok = false; }
      return r;
    }
    try {
      s.engine.checkIndex(s.h);
      return { ok: true, problems: [], witness: { entries: 0, intact: true } };
    } catch (e) {
      if (!(e instanceof VecliteError) || e.code !== 'ECORRUPT') throw e;
      return { ok: false, problems: [e.message], witness: { entries: 0, intact: true } };
    }
  }

  /**
   * Forget a recovery: remove every tail saved beside the file (`<file>.recovered-*`, see
   * status().recovered) — after salvaging them with recoverCollection / `veclite recover` — so
   * status() and verify() stop reporting it. The only call that deletes them.
   * @returns {Promise<{ removed: string[] }>} the files removed
   */
  async discardRecovered() {
    const s = live(this);
    if (!s.path) {
      s.recovered = null;
      return { removed: [] };
    }
    if (s.readOnly) {
      throw new VecliteError('EREADONLY', 'discardRecovered: this handle is read-only; open the store writable to remove its saved tails');
    }
    const { discardSaved } = await import('./recovered-tail.js');
    const removed = discardSaved(s.N, s.path);
    s.recovered = null;
    return { removed };
  }

  /**
   * Close the collection: a writable store persists its HNSW graph (INDEX segment), then the
   * device is closed and the writer lock released. A collection of a Database is removed from it
   * (getCollection reopens a file). Later calls reject with ECLOSED; closing twice is harmless.
   * @returns {Promise<void>} rejects (after closing everything) if the graph checkpoint failed;
   *   committed data is never lost by that
   */
  /**
   * Bring a read-only file handle to the newest commit its file's writer made (rows, deletes,
   * metadata, string ids), reading only what was appended since; a file replaced under the handle
   * (compacted) is reopened. On a writable handle: a no-op (it is always current).
   * @returns {Promise<{ epoch: number, changed: boolean, added: number, deleted: number, reopened: boolean }>}
   */
  async refresh() {
    const s = live(this);
    return refreshState(s);
  }

  async close() {
    const s = STATE.get(this);
    if (!s) throw new VecliteError('EINVAL', 'not a veclite Collection');
    if (!s.h) return;
    s.stopFollow?.();
    s.detach?.();
    const err = release(this, 'it was closed; open it again to use it');
    if (err) throw err;
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

// ---- stores -----------------------------------------------------------------------------------------

/** File-metadata key holding a collection's id kind ('string' | 'number'), set when it is fixed up front. */
const ID_KIND_KEY = 'js.idType';
const METRIC_NAMES = ['euclidean', 'dotProduct', 'cosine']; // by VL_METRIC_* value (= MANIFEST byte)
const utf8 = (str) => new TextEncoder().encode(str);

/** Engines are shared by a Database and its collections (and derived children): count users. */
function retain(engine) {
  engine.users = (engine.users ?? 0) + 1;
}

function dropEngine(engine) {
  if (!engine || engine.disposed) return;
  engine.users -= 1;
  if (engine.users <= 0) engine.dispose();
}

/** The Node backend (web/node-backend.js plus node:fs & co.), loaded on first use. */
async function nodeBackend(where) {
  const nb = await import('./node-backend.js');
  try {
    return { ...(await nb.loadNode()), nb };
  } catch (e) {
    if (e instanceof VecliteError) throw new VecliteError(e.code, `${where}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** n random bytes from the platform's CSPRNG. */
async function randomBytes(n) {
  const b = new Uint8Array(n);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(b);
  else (await import('node:crypto')).randomFillSync(b);
  return b;
}

/** Lowercase hex SHA-256 (WebCrypto: browsers, workers, workerd, Node >= 18). */
async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle ?? (await import('node:crypto')).webcrypto.subtle;
  return toHex(new Uint8Array(await subtle.digest('SHA-256', bytes)));
}

/** Lowercase hex of bytes. */
function toHex(bytes) {
  let hex = '';
  for (const x of bytes) hex += x.toString(16).padStart(2, '0');
  return hex;
}

/** The first n bytes of a fresh copy (no second copy when it already has that length). */
function trimmed(copy, n) {
  return copy.length === n ? copy : copy.slice(0, n);
}

/** File name without directories and without a trailing .rvf. */
function basename(p) {
  const f = p.split(/[\\/]/).pop();
  return f.endsWith('.rvf') ? f.slice(0, -4) : f;
}

/** A compacted image of a store, with the compaction timestamp fixed at 0 (see snapshot()). */
function snapshotOf(engine, store) {
  const io = engine.ioMemOpen(new Uint8Array(0));
  try {
    engine.storeSetTime(store, 0n);
    engine.storeSnapshot(store, io);
    const bytes = engine.ioMemBytes(io);
    return bytes;
  } finally {
    engine.ioMemFree(io);
  }
}

/**
 * Write a plain in-memory collection into a fresh store on a memory device: its configuration,
 * field names (in id order, so records keep their field ids), and every live row with its
 * record, in ascending id order with timestamps 0 — the same state always gives the same bytes.
 * @returns {Promise<{ st: number, io: number }>} free with dropMaterialized
 */
async function materialize(s) {
  const e = s.engine;
  s.fileId ??= await randomBytes(16);
  live(s.col); // the await above may have let a close() in
  const io = e.ioMemOpen(new Uint8Array(0));
  let st = 0;
  try {
    st = e.storeOpen(io, e.config(s.h), e.C.storeFlags.CREATE, s.fileId);
    e.storeSetTime(st, 0n);
    if (s.configIdKind) e.storeFileMetaSet(st, ID_KIND_KEY, utf8(s.configIdKind));
    const nf = e.fieldCount(s.h);
    for (let f = 0; f < nf; f++) {
      const got = e.storeField(st, utf8(e.fieldName(s.h, f)));
      if (got !== f) throw new VecliteError('EIO', `export: field ${f} became ${got} in the image; this is a bug in veclite`);
    }
    for (const page of liveIdPages(() => s)) {
      const n = page.length / 2;
      const g = e.getBatch(s.h, s.dim, n, page, true, true);
      const anyMeta = g.meta.bytes.length > 0;
      e.storeUpsert(st, n, page, g.vecs, anyMeta ? g.meta.bytes : null, anyMeta ? g.meta.off : null);
    }
    return { st, io };
  } catch (err) {
    if (st) e.storeClose(st);
    e.ioMemFree(io);
    throw err;
  }
}

function dropMaterialized(engine, m) {
  engine.storeClose(m.st);
  engine.ioMemFree(m.io);
}

/**
 * Rebuild the JS side of an opened store: field names, the string-id maps (from each record's
 * '$id' field), the id kind and whether user metadata exists.
 */
function loadIdMaps(s) {
  const e = s.engine;
  const nf = e.fieldCount(s.h);
  for (let f = 0; f < nf; f++) {
    const name = e.fieldName(s.h, f);
    s.fieldIds.set(name, f);
    s.fieldNames[f] = name;
  }
  const hasIdField = s.fieldIds.has(ID_FIELD);
  s.userMeta = nf > (hasIdField ? 1 : 0);
  const kindBytes = s.store ? e.storeFileMetaGet(s.store, ID_KIND_KEY) : null;
  const stored = kindBytes ? new TextDecoder().decode(kindBytes) : null;
  s.configIdKind = stored === 'string' || stored === 'number' ? stored : null;
  let strings = 0, numbers = 0, maxSid = 0;
  const nameFn = nameOf(s);
  for (const page of liveIdPages(() => s)) {
    const n = page.length / 2;
    const g = hasIdField ? e.getBatch(s.h, s.dim, n, page, true, false) : null;
    for (let i = 0; i < n; i++) {
      const sid = g && g.found[i] ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).sid : undefined;
      if (typeof sid === 'string') {
        const iid = numericId(page[2 * i], page[2 * i + 1]);
        if (typeof iid !== 'number') {
          throw new VecliteError('ECORRUPT', `collection '${s.name}': string id ${idText(sid)} has internal id ${iid}, ` +
            'above the range veclite assigns; the file was not written by veclite');
        }
        s.strToId.set(sid, iid);
        s.idToStr.set(iid, sid);
        if (iid > maxSid) maxSid = iid;
        strings++;
      } else {
        numbers++;
      }
    }
  }
  if (strings && numbers) {
    throw new VecliteError('ECORRUPT', `collection '${s.name}' mixes ${strings} string ids and ${numbers} numeric ids; ` +
      'veclite never writes such a file');
  }
  s.idKind = strings ? 'string' : numbers ? 'number' : s.configIdKind;
  s.nextSid = maxSid + 1;
}

/** Forget the JS id maps and field names and rebuild them from the engine. */
function reloadIdMaps(s) {
  s.fieldIds = new Map();
  s.fieldNames = [];
  s.strToId = new Map();
  s.idToStr = new Map();
  loadIdMaps(s);
}

/** Collection.refresh (see there). */
async function refreshState(s) {
  const e = s.engine;
  const same = { epoch: 0, changed: false, added: 0, deleted: 0, reopened: false };
  if (!s.store) throw einval(`refresh: collection '${s.name}' is not a stored collection`);
  if (!s.path || !s.dev) {
    throw einval(`refresh: collection '${s.name}' is not a file handle (bytes or memory); only a file handle follows its writer`);
  }
  if (!s.readOnly) return { ...same, epoch: e.storeInfo(s.store).epoch }; // a writer is always current
  const { fs } = s.N;
  let replaced = false;
  try {
    const a = fs.statSync(s.path, { bigint: true }), b = s.dev.stat();
    replaced = a.ino !== b.ino || a.dev !== b.dev;
  } catch { /* the file is being replaced: refresh what the handle has */ }
  if (replaced) {
    const opened = await s.N.nb.openFileStore(s.N, e, s.path, { readOnly: true, createCfg: null });
    if (!s.store) {
      // closed while the new file was being opened: that store is nobody's, close it here
      e.storeClose(opened.store);
      e.ioFree(opened.ref);
      opened.dev.close();
      throw new VecliteError('ECLOSED', `refresh: ${s.closedWhy || `collection '${s.name}' was closed`}`);
    }
    e.storeClose(s.store);
    if (s.ref) e.ioFree(s.ref);
    s.dev.close();
    s.store = opened.store;
    s.ref = opened.ref;
    s.dev = opened.dev;
    s.h = e.storeIndex(s.store);
    adoptConfig(s);
    reloadIdMaps(s);
    return { epoch: e.storeInfo(s.store).epoch, changed: true, added: 0, deleted: 0, reopened: true };
  }
  const r = e.storeRefresh(s.store);
  s.h = e.storeIndex(s.store);
  if (r.status === 2) {
    adoptConfig(s);
    reloadIdMaps(s);
  } else if (r.status === 1) {
    const nf = e.fieldCount(s.h);
    for (let f = s.fieldNames.length; f < nf; f++) {
      const name = e.fieldName(s.h, f);
      s.fieldIds.set(name, f);
      s.fieldNames[f] = name;
    }
    s.userMeta = nf > (s.fieldIds.has(ID_FIELD) ? 1 : 0);
    const del = e.storeRefreshIds(s.store, 1);
    for (let i = 0; i < del.length; i += 2) {
      const iid = numericId(del[i], del[i + 1]);
      const sid = s.idToStr.get(iid);
      if (sid !== undefined) { s.idToStr.delete(iid); s.strToId.delete(sid); }
    }
    if (s.fieldIds.has(ID_FIELD)) {
      const up = e.storeRefreshIds(s.store, 0);
      const nameFn = nameOf(s);
      for (let o = 0; o < up.length; o += 2 * 1024) {
        const page = up.subarray(o, Math.min(up.length, o + 2 * 1024));
        const n = page.length / 2;
        const g = e.getBatch(s.h, s.dim, n, page, true, false);
        for (let i = 0; i < n; i++) {
          const sid = g.found[i] ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).sid : undefined;
          if (typeof sid !== 'string') continue;
          const iid = numericId(page[2 * i], page[2 * i + 1]);
          s.strToId.set(sid, iid);
          s.idToStr.set(iid, sid);
          if (typeof iid === 'number' && iid >= s.nextSid) s.nextSid = iid + 1;
        }
      }
      if (s.strToId.size) s.idKind = 'string';
    } else if (r.added) {
      s.idKind ??= 'number';
    }
  }
  return { epoch: r.epoch, changed: r.status !== 0, added: r.added, deleted: r.deleted, reopened: r.status === 2 };
}

/** verify() problems for bytes an open did not load, and for tails saved beside the file. */
async function recoveryProblems(s) {
  const out = [];
  const r = s.recovered;
  if (r && r.savedTo === null) {
    out.push(`${r.discardedBytes} bytes after the last intact commit (epoch ${r.epoch}) were not loaded` +
      (s.path ? '; a writable open saves them beside the file before writing' : '') +
      "; salvage their rows with recoverCollection / 'veclite recover'");
  }
  if (s.path) {
    const { listSaved } = await import('./recovered-tail.js');
    for (const t of listSaved(s.N, s.path)) {
      out.push(`${t.discardedBytes} bytes after the commit of epoch ${t.epoch} were not loaded and are kept in ${t.savedTo}; ` +
        "salvage their rows with recoverCollection / 'veclite recover', then call discardRecovered()");
    }
  }
  return out;
}

/**
 * A Collection over an opened store.
 * @param {import('../worker/bind.js').Engine} engine
 * @param {string} impl 'wasm-simd' | 'wasm'
 * @param {number} store the vl_store handle (owned from now on: closed by release)
 * @param {{ name: string, readOnly: boolean, dev?: any, ref?: any, lock?: any, path?: string,
 *   memIo?: number, N?: any, createIdKind?: string|null, defaultEf?: number,
 *   detach?: () => void }} o
 */
function storeCollection(engine, impl, store, o) {
  retain(engine);
  const s = {
    engine, impl, h: engine.storeIndex(store), store, name: o.name, dim: 0, metric: 'cosine', kind: 'hnsw',
    idKind: null, configIdKind: null, strToId: new Map(), idToStr: new Map(), nextSid: 1, userMeta: false,
    fieldIds: new Map(), fieldNames: [], closedWhy: '', readOnly: o.readOnly, dev: o.dev ?? null,
    ref: o.ref ?? null, memIo: o.memIo ?? 0, lock: o.lock ?? null, path: o.path ?? null, N: o.N ?? null,
    poisoned: null, lockLost: null, defaultEf: o.defaultEf ?? 0, detach: o.detach ?? null, extraDevs: [],
    fileId: null, col: null, recovered: o.recovered ?? null,
  };
  const col = new Collection(s);
  s.col = col;
  try {
    const info = adoptConfig(s);
    loadIdMaps(s);
    if (o.createIdKind && !s.configIdKind && !s.readOnly && info.live === 0) {
      storeWrite(s, () => engine.storeFileMetaSet(store, ID_KIND_KEY, utf8(o.createIdKind)));
      s.configIdKind = o.createIdKind;
      s.idKind ??= o.createIdKind;
    }
  } catch (e) {
    release(col, 'it failed to open');
    throw e;
  }
  return col;
}

/**
 * Take dimension, metric and index type from the store (at open, and when a refresh reopened or
 * reloaded it: the file may now be another store). @returns the store's info
 */
function adoptConfig(s) {
  const info = s.engine.storeInfo(s.store);
  const cfg = s.engine.config(s.h);
  s.dim = info.dim;
  s.metric = METRIC_NAMES[info.metric] ?? 'euclidean';
  s.kind = cfg.kind === s.engine.C.kinds.FLAT ? 'flat' : 'hnsw';
  return info;
}

/**
 * Free a collection's engine resources (checkpointing a writable store), close its device and
 * release its lock. Idempotent.
 * @returns {VecliteError|null} a failed graph checkpoint (nothing committed is lost)
 */
function release(col, why) {
  const s = STATE.get(col);
  if (!s.h) return null;
  let err = null;
  if (s.store) {
    if (s.lock && s.dev && !s.lockLost && !s.poisoned) {
      // The close checkpoint writes too: not into a file that moved, nor under a lost lock.
      try { s.N.nb.checkWriter(s.dev, s.lock); } catch (e) { s.lockLost = e; }
    }
    if (s.lockLost && s.dev) s.dev.refuseWrites(s.lockLost);
    err = s.engine.storeClose(s.store);
    if (s.lockLost) err = null; // the checkpoint was refused on purpose; nothing committed is lost
    if (s.ref) s.engine.ioFree(s.ref);
    if (s.memIo) s.engine.ioMemFree(s.memIo);
    for (const x of s.extraDevs) {
      s.engine.ioFree(x.ref);
      x.dev.close();
    }
    if (s.dev) s.dev.close();
    if (s.lock) s.lock.release();
  } else {
    s.engine.indexFree(s.h);
  }
  if (s.poisoned) err = null; // already reported; the close itself succeeded
  s.h = 0;
  s.store = 0;
  s.ref = null;
  s.memIo = 0;
  s.dev = null;
  s.lock = null;
  s.extraDevs = [];
  s.closedWhy = `collection '${s.name}': ${why}`;
  s.strToId = new Map();
  s.idToStr = new Map();
  dropEngine(s.engine);
  return err;
}

// ---- Database -------------------------------------------------------------------------------------

/**
 * A database: a set of named collections living in one engine instance — in memory, or (with a
 * path) as one `<name>.rvf` file per collection in a directory.
 */
export class Database {
  #engine;
  #simd;
  /** @type {Map<string, Collection>} */
  #cols = new Map();
  /** @type {Map<string, Promise<Collection>>} opens in flight, so two callers share one */
  #opening = new Map();
  /**
   * @type {Map<string, Promise<void>>} deletes in flight (each chained after the previous one of
   * its name), so a get/create of that name waits for them instead of racing the removal
   */
  #deleting = new Map();
  #closed = false;
  /** @type {string|null} absolute directory of a file database */
  #dir;
  #N;

  /** @hideconstructor */
  constructor(engine, simd, dir = null, N = null) {
    this.#engine = engine;
    this.#simd = simd;
    this.#dir = dir;
    this.#N = N;
    retain(engine);
  }

  #live(what) {
    if (this.#closed) throw new VecliteError('ECLOSED', `${what}: the database is closed; create a new one with createDatabase()`);
  }

  #checkName(name, where) {
    if (!this.#dir) return checkName(name, where);
    if (typeof name !== 'string' || !this.#N.nb.NAME_RE.test(name)) {
      throw einval(`${where}: collection name ${typeof name === 'string' ? JSON.stringify(name) : describe(name)} cannot be ` +
        'a file name: use 1..128 characters of A-Z a-z 0-9 _ . - starting with a letter, digit or _');
    }
  }

  #file(name) {
    return this.#N.path.join(this.#dir, `${name}.rvf`);
  }

  /** 'wasm-simd' or 'wasm': the engine build this database runs on. */
  get implementation() {
    return this.#simd ? 'wasm-simd' : 'wasm';
  }

  /** The directory of a file database, or null in memory. */
  get path() {
    return this.#dir;
  }

  #adopt(name, open) {
    const p = (async () => {
      const col = await open();
      if (this.#closed) {
        release(col, 'the database was closed while it opened');
        throw new VecliteError('ECLOSED', 'the database was closed while the collection opened');
      }
      this.#cols.set(name, col);
      return col;
    })();
    this.#opening.set(name, p);
    const done = () => { if (this.#opening.get(name) === p) this.#opening.delete(name); };
    p.then(done, done);
    return p;
  }

  /** Wait until no delete of `name` is in flight (a failed delete counts as finished). */
  async #deletesDone(name) {
    for (let p; (p = this.#deleting.get(name));) await p.catch(() => {});
  }

  /** A Collection over a file opened by openFileStore ({ store, dev, ref, lock, path }). */
  #fileCollection(name, opened, createIdKind) {
    const col = storeCollection(this.#engine, this.implementation, opened.store, {
      name, readOnly: false, dev: opened.dev, ref: opened.ref, lock: opened.lock, path: opened.path, N: this.#N,
      createIdKind, recovered: opened.recovered, detach: () => { if (this.#cols.get(name) === col) this.#cols.delete(name); },
    });
    return col;
  }

  /**
   * Create a collection. In a file database this creates `<name>.rvf` and takes its writer lock.
   * @param {string} name
   * @param {{ dimension: number, metric?: 'cosine'|'euclidean'|'dotProduct',
   *   index?: { type?: 'hnsw', m?: number, efConstruction?: number, ef?: number, seed?: number|bigint }
   *        | { type: 'flat' }, idType?: 'string'|'number' }} config
   * @returns {Promise<Collection>}
   */
  async createCollection(name, config) {
    this.#live('createCollection');
    this.#checkName(name, 'createCollection');
    if (this.#deleting.has(name)) {
      await this.#deletesDone(name);
      this.#live('createCollection');
    }
    if (this.#cols.has(name) || this.#opening.has(name)) {
      throw einval(`createCollection: collection '${name}' already exists; use getCollection('${name}') or deleteCollection it first`);
    }
    const cfg = inspect('createCollection', () => parseCollectionConfig(config, this.#engine.C));
    if (this.#dir) {
      const N = this.#N;
      const file = this.#file(name);
      return this.#adopt(name, async () => {
        const lost = { col: null };
        const opened = await N.nb.openFileStore(N, this.#engine, file, {
          readOnly: false, createCfg: cfg.c, mustCreate: true,
          onLockLost: (e) => { if (lost.col) STATE.get(lost.col).lockLost = e; },
        });
        lost.col = this.#fileCollection(name, opened, cfg.idKind);
        return lost.col;
      });
    }
    const h = this.#engine.indexNew(cfg.c);
    retain(this.#engine);
    const col = new Collection({
      engine: this.#engine, impl: this.implementation, h, store: 0, name, dim: cfg.dim, metric: cfg.metric,
      kind: cfg.kind, idKind: cfg.idKind, configIdKind: cfg.idKind, strToId: new Map(), idToStr: new Map(),
      nextSid: 1, userMeta: false, fieldIds: new Map(), fieldNames: [], closedWhy: '', readOnly: false,
      dev: null, ref: null, memIo: 0, lock: null, path: null, N: null, poisoned: null, lockLost: null,
      defaultEf: 0, extraDevs: [], fileId: null, col: null,
      detach: () => { if (this.#cols.get(name) === col) this.#cols.delete(name); },
    });
    STATE.get(col).col = col;
    this.#cols.set(name, col);
    return col;
  }

  /**
   * An existing collection. In a file database an unopened `<name>.rvf` is opened as its writer
   * (ELOCK if another writer holds it). Rejects with ENOTFOUND if there is none of that name. A
   * deleteCollection of the same name still in flight is waited for first.
   * @param {string} name
   * @returns {Promise<Collection>}
   */
  async getCollection(name) {
    this.#live('getCollection');
    this.#checkName(name, 'getCollection');
    if (this.#deleting.has(name)) {
      await this.#deletesDone(name);
      this.#live('getCollection');
    }
    const col = this.#cols.get(name);
    if (col) return col;
    const pending = this.#opening.get(name);
    if (pending) return pending;
    if (this.#dir) {
      const N = this.#N;
      const file = this.#file(name);
      if (N.fs.existsSync(file)) {
        return this.#adopt(name, async () => {
          const lost = { col: null };
          const opened = await N.nb.openFileStore(N, this.#engine, file, {
            readOnly: false, createCfg: null,
            onLockLost: (e) => { if (lost.col) STATE.get(lost.col).lockLost = e; },
          });
          lost.col = this.#fileCollection(name, opened, null);
          return lost.col;
        });
      }
    }
    throw new VecliteError('ENOTFOUND', `getCollection: no collection named '${name}'; create it with createCollection`);
  }

  /**
   * Names of all collections: in memory, in creation order; in a file database, the `<name>.rvf`
   * files of its directory, sorted.
   * @returns {Promise<string[]>}
   */
  async listCollections() {
    this.#live('listCollections');
    if (this.#dir) return this.#N.nb.listDir(this.#N, this.#dir);
    return [...this.#cols.keys()];
  }

  /**
   * Delete a collection: close it (its object then rejects with ECLOSED) and, in a file
   * database, remove `<name>.rvf` (ELOCK if another writer holds it). getCollection and
   * createCollection calls of the same name made meanwhile wait until it is done.
   * @param {string} name
   * @returns {Promise<void>} rejects with ENOTFOUND if there is none of that name
   */
  async deleteCollection(name) {
    this.#live('deleteCollection');
    this.#checkName(name, 'deleteCollection');
    const prev = this.#deleting.get(name);
    const p = (async () => {
      if (prev) await prev.catch(() => {});
      return this.#delete(name);
    })();
    this.#deleting.set(name, p);
    const done = () => { if (this.#deleting.get(name) === p) this.#deleting.delete(name); };
    p.then(done, done);
    return p;
  }

  async #delete(name) {
    const pending = this.#opening.get(name);
    if (pending) await pending.catch(() => {});
    const col = this.#cols.get(name);
    if (col) {
      this.#cols.delete(name);
      release(col, `collection '${name}' was deleted`);
    }
    if (this.#dir) {
      const removed = await this.#N.nb.deleteFile(this.#N, this.#file(name));
      if (removed || col) return;
    } else if (col) {
      return;
    }
    throw new VecliteError('ENOTFOUND', `deleteCollection: no collection named '${name}'`);
  }

  /**
   * Close every collection (a file collection persists its graph and releases its lock) and
   * free the engine. Later calls on the database or its collections reject with ECLOSED.
   * Closing twice is harmless.
   * @returns {Promise<void>} rejects with the first failed graph checkpoint, after closing everything
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#opening.values(), ...this.#deleting.values()]);
    let first = null;
    for (const col of this.#cols.values()) {
      const err = release(col, 'the database is closed; create a new one with createDatabase()');
      first ??= err;
    }
    this.#cols.clear();
    dropEngine(this.#engine);
    this.#engine = null;
    if (first) throw first;
  }
}

// ---- entry points ---------------------------------------------------------------------------------

/** Whether the last engine loaded has SIMD kernels; null before any load. @type {boolean|null} */
let lastLoadedSimd = null;

/** Load one engine instance and check it matches this JS. */
async function loadEngine(simd, wasmModule) {
  const { M } = await loadModule({ simd, wasmModule });
  const engine = new Engine(M);
  const bad = checkConstants(engine.C);
  if (bad) {
    throw new VecliteError('EBACKEND', `veclite.wasm disagrees with web/ about ${bad}; the .wasm and the JS come from different builds`);
  }
  if (!engine.C.storeFlags) {
    throw new VecliteError('EBACKEND', 'veclite.wasm has no storage layer; the .wasm and the JS come from different builds — rebuild with `make build`');
  }
  // Read from the instance itself, so a passed wasmModule is reported truthfully.
  lastLoadedSimd = engine.isa === 'simd128';
  return engine;
}

const BACKENDS_LATER = new Set(['opfs', 'indexeddb']);

/** EBACKEND for a backend this version cannot give (never a silent fallback). */
function backendError(where, backend) {
  const shown = typeof backend === 'string' ? `'${backend}'` : describe(backend);
  if (BACKENDS_LATER.has(backend)) {
    return new VecliteError('EBACKEND', `${where}: backend ${shown} is not available yet in this version of veclite; ` +
      "use 'memory' (the default; keep collection.export() bytes wherever you like) or, in Node, 'node' (files)");
  }
  return new VecliteError('EBACKEND', `${where}: there is no backend ${shown}; the backends are 'memory' (the default) and ` +
    "'node' (files, Node.js only)");
}

/**
 * Load the engine (SIMD build when supported) and create a database: in memory (the default), or
 * with `path` (or backend 'node') a directory holding one `<name>.rvf` file per collection
 * (created if missing).
 * @param {{ simd?: boolean, wasmModule?: WebAssembly.Module, backend?: 'memory'|'node', path?: string }} [config]
 * @returns {Promise<Database>}
 */
export async function createDatabase(config = {}) {
  const { backend, simd: wantSimd, wasmModule, path } = inspect('createDatabase', () => {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw einval(`createDatabase(config): config must be an object (got ${describe(config)})`);
    }
    checkKeys(config, ['simd', 'wasmModule', 'backend', 'path'], 'createDatabase config');
    const path = config.path;
    if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
      throw einval(`createDatabase: path must be a non-empty string naming a directory (got ${describe(path)})`);
    }
    return {
      backend: config.backend ?? (path !== undefined ? 'node' : 'memory'), simd: config.simd,
      wasmModule: config.wasmModule, path,
    };
  });
  if (backend !== 'memory' && backend !== 'node') throw backendError('createDatabase', backend);
  if (backend === 'memory' && path !== undefined) {
    throw einval("createDatabase: a path needs backend 'node' (files); leave out backend, or leave out path for memory");
  }
  if (backend === 'node' && path === undefined) {
    throw einval("createDatabase: backend 'node' needs path: the directory that holds the collection files");
  }
  let N = null, dir = null;
  if (backend === 'node') {
    N = await nodeBackend('createDatabase');
    dir = N.nb.ensureDir(N, path);
  }
  const engine = await loadEngine(wantSimd, wasmModule);
  return new Database(engine, engine.isa === 'simd128', dir, N);
}

const OPEN_KEYS = ['readOnly', 'backend', 'create', 'ef', 'simd', 'wasmModule', 'follow'];

/**
 * Open one .rvf store directly: a file path (backend 'node'; the writer lock is taken unless
 * readOnly) or the bytes of an image (backend 'memory': writes change the in-memory copy only;
 * export() returns it). A path is resolved to the file it names (symlinks followed, also in its
 * directories): every name of one file shares its writer lock, compact() replaces that file, and
 * status().path is that canonical path.
 * @param {string|Uint8Array} source
 * @param {{ readOnly?: boolean, backend?: 'node'|'memory', ef?: number, simd?: boolean,
 *   wasmModule?: WebAssembly.Module,
 *   create?: { dimension: number, metric?: string, index?: object, idType?: 'string'|'number' } }} [options]
 *   create: create the store when the file does not exist (or the bytes are empty); ef: default
 *   search beam width of this handle
 * @returns {Promise<Collection>}
 */
export async function openCollection(source, options = {}) {
  const o = inspect('openCollection', () => {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw einval(`openCollection(source, options): options must be an object (got ${describe(options)})`);
    }
    checkKeys(options, OPEN_KEYS, 'openCollection options');
    const isPath = typeof source === 'string';
    const isBytes = source instanceof Uint8Array;
    if (!isPath && !isBytes) {
      throw einval(`openCollection: source must be a file path (string) or the bytes of an .rvf image (Uint8Array) (got ${describe(source)})`);
    }
    if (isPath && source.length === 0) throw einval('openCollection: the path is empty');
    if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') {
      throw einval(`openCollection: readOnly must be true or false (got ${describe(options.readOnly)})`);
    }
    if (options.create !== undefined && !isPlainObject(options.create)) {
      throw einval(`openCollection: create must be a collection config like { dimension: 384 } (got ${describe(options.create)})`);
    }
    const backend = options.backend ?? (isPath ? 'node' : 'memory');
    let followMs = 0;
    if (options.follow !== undefined && options.follow !== false) {
      if (options.readOnly !== true || !isPath) {
        throw einval('openCollection: follow needs a read-only file handle ({ readOnly: true, follow: true })');
      }
      const f = options.follow;
      if (f === true) followMs = 200;
      else if (isPlainObject(f) && Object.keys(f).every((k) => k === 'intervalMs') && Number.isInteger(f.intervalMs ?? 200) &&
        (f.intervalMs ?? 200) >= 1 && (f.intervalMs ?? 200) <= 3600000) followMs = f.intervalMs ?? 200;
      else throw einval(`openCollection: follow must be true, false or { intervalMs: 1..3600000 } (got ${describe(f)})`);
    }
    return {
      followMs,
      isPath, backend, readOnly: options.readOnly === true, create: options.create,
      ef: options.ef, simd: options.simd, wasmModule: options.wasmModule,
    };
  });
  if (o.backend !== 'memory' && o.backend !== 'node') throw backendError('openCollection', o.backend);
  if (o.isPath && o.backend === 'memory') {
    throw einval("openCollection: a path needs backend 'node'; for an in-memory copy read the file yourself and pass its bytes");
  }
  if (!o.isPath && o.backend === 'node') {
    throw einval("openCollection: bytes open with backend 'memory'; to work on a file pass its path");
  }
  const N = o.isPath ? await nodeBackend('openCollection') : null;
  const engine = await loadEngine(o.simd, o.wasmModule);
  retain(engine);
  try {
    const cfg = o.create === undefined ? null
      : inspect('openCollection', () => parseCollectionConfig(o.create, engine.C));
    const ef = o.ef === undefined ? 0 : intIn(o.ef, 1, engine.C.limits.MAX_EF, 'openCollection: ef');
    const impl = engine.isa === 'simd128' ? 'wasm-simd' : 'wasm';
    let col;
    if (o.isPath) {
      const lost = { col: null };
      const opened = await N.nb.openFileStore(N, engine, source, {
        readOnly: o.readOnly, createCfg: cfg ? cfg.c : null,
        onLockLost: (e) => { if (lost.col) STATE.get(lost.col).lockLost = e; },
      });
      col = storeCollection(engine, impl, opened.store, {
        name: basename(opened.path), readOnly: o.readOnly, dev: opened.dev, ref: opened.ref, lock: opened.lock,
        path: opened.path, N, createIdKind: opened.created ? cfg?.idKind : null, defaultEf: ef,
        recovered: opened.recovered,
      });
      lost.col = col;
      if (o.followMs) {
        const s = STATE.get(col);
        const { startFollow } = await import('./follow.js');
        s.stopFollow = startFollow(N.fs, opened.path, o.followMs, () => (s.h ? refreshState(s) : null));
      }
    } else {
      const bytes = source;
      if (o.readOnly && cfg && bytes.length === 0) {
        throw einval('openCollection: cannot create a store in empty bytes read-only; leave out readOnly');
      }
      const io = engine.ioMemOpen(bytes);
      let store;
      try {
        const branchErr = bytes.length ? branchBytesError(engine, io) : null;
        if (branchErr) throw branchErr;
        const creating = bytes.length === 0 && cfg !== null;
        const flags = (o.readOnly ? engine.C.storeFlags.READONLY : 0) | (creating ? engine.C.storeFlags.CREATE : 0);
        store = engine.storeOpen(io, creating ? cfg.c : null, flags, creating ? await randomBytes(16) : null);
      } catch (e) {
        engine.ioMemFree(io);
        if (e instanceof VecliteError && e.code === 'ENOTFOUND' && !/branch\(\) child/.test(e.message)) {
          throw bytes.length === 0
            ? new VecliteError('ENOTFOUND', 'openCollection: the bytes are empty; pass create: { dimension, ... } to create a store in memory', { cause: e })
            : new VecliteError('ECORRUPT', `openCollection: the bytes are not an .rvf image (${e.message})`, { cause: e });
        }
        throw e;
      }
      // Bytes past the last intact commit: reported (the caller still holds them), nothing saved.
      const info = engine.storeInfo(store);
      const recovered = bytes.length > info.bytes
        ? { epoch: info.epoch, discardedBytes: bytes.length - info.bytes, savedTo: null } : null;
      col = storeCollection(engine, impl, store, {
        name: 'memory', readOnly: o.readOnly, memIo: io, createIdKind: cfg?.idKind, defaultEf: ef, recovered,
      });
    }
    if (cfg) {
      const s = STATE.get(col);
      if (s.dim !== cfg.dim || s.metric !== cfg.metric) {
        release(col, 'it did not match the create configuration');
        throw einval(`openCollection: the store exists with dimension ${s.dim} and metric '${s.metric}', but create asks for ` +
          `dimension ${cfg.dim} and metric '${cfg.metric}'; leave out create to open it as it is`);
      }
    }
    return col;
  } finally {
    dropEngine(engine); // the collection holds its own reference
  }
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
