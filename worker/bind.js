// worker/bind.js — the only file that touches the engine's exports and heap views (STYLE.md §3,
// §6). Each method wraps one C call of src/veclite.h or src/wasm.c, moves typed arrays in and out
// of the heap, and turns a negative return code into a VecliteError (web/errors.js) carrying the
// handle's vl_errmsg. Callers above (web/index.js) only ever see copies.
//
// Invariants:
// - Heap views are never stored: they are re-read from the Module after every call that may
//   allocate (memory growth replaces the ArrayBuffer; the 3.1.6 glue refreshes Module.HEAP*).
// - Pointers coming back from C are read with `>>> 0` (MAXIMUM_MEMORY is 4 GB, so addresses
//   at or above 2^31 would otherwise be negative).
// - Inputs go through the instance's 16-byte-aligned staging block (vl__wasm_stage), laid out
//   per call and dropped before the method returns; a block grown past STAGE_KEEP bytes is
//   released in `finally`, so one huge batch does not pin memory.
// - Sizes are plain JS numbers (exact integers below 2^53), never int32 bit arithmetic: every
//   region size and every layout total is checked against STAGE_MAX BEFORE anything is
//   allocated, so no size can wrap and no C call gets a region smaller than it will write.
// - 64-bit ids live in the heap as uint64_t arrays. They are passed between JS layers as
//   Uint32Array (lo, hi) word pairs — the little-endian layout of a u64 — and copied into the
//   heap with one HEAPU32.set, so a batch of numeric ids needs no BigInt per id.
// - Results are .slice()d out before the next call; metadata records are copied into one
//   contiguous Uint8Array while the handle still owns them.
// - No JS callback ever runs inside a C call, so no JS exception can cross into C.

import { VecliteError } from '../web/errors.js';

/** The vl__wasm_* helper ABI this file was written for (VL_WASM_ABI in src/wasm.c). */
const ABI = 1;

/** Staging blocks above this size are released after the call that needed them. */
const STAGE_KEEP = 8 << 20;

/**
 * Most bytes one call may stage in the heap (a little under the 4 GB wasm32 address space;
 * vl__wasm_stage itself gives up above 0xFFFF0000). Exported so callers can refuse work
 * before it has side effects.
 */
export const STAGE_MAX = 0xF0000000;

/** n rounded up to a multiple of 16, in exact float arithmetic (n is a safe integer). */
const align16 = (n) => Math.ceil(n / 16) * 16;

function tooBig(bytes, what) {
  return new VecliteError('EBUDGET',
    `${what} would need ${bytes} bytes of WebAssembly memory in one call, more than the ${STAGE_MAX}-byte limit ` +
    '(the heap is 4 GB at most); split the batch, lower k, or leave out includeVectors');
}

/**
 * Offsets (16-byte aligned) for consecutive regions of the given byte sizes. Throws EBUDGET
 * before anything is allocated when a region or the total exceeds STAGE_MAX, and EINVAL for
 * a size that is not a non-negative integer (a bug in the caller).
 * @param {number[]} sizes
 * @param {string} [what] names the operation in the error message
 * @returns {{ off: number[], total: number }}
 */
export function layout(sizes, what = 'this call') {
  const off = new Array(sizes.length);
  let total = 0;
  for (let i = 0; i < sizes.length; i++) {
    const n = sizes[i];
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new VecliteError('EINVAL', `${what}: internal region size ${n} is not a byte count`);
    }
    if (n > STAGE_MAX) throw tooBig(n, what);
    off[i] = total;
    total += align16(n);
    if (total > STAGE_MAX) throw tooBig(total, what);
  }
  return { off, total };
}

/**
 * The staging layout of Engine.upsert for n rows, `floats` vector components and `metaBytes`
 * bytes of records (-1: no metadata). Callers use it to refuse an oversized write (EBUDGET)
 * before they change anything, e.g. before registering field names.
 * @param {number} n @param {number} floats @param {number} metaBytes
 * @returns {{ off: number[], total: number }}
 */
export function upsertLayout(n, floats, metaBytes) {
  return layout([n * 8, floats * 4, Math.max(metaBytes, 0), metaBytes >= 0 ? (n + 1) * 4 : 0],
    `writing ${n} vector(s)`);
}

/**
 * One engine instance: a loaded Emscripten Module plus the constants its C code publishes.
 */
export class Engine {
  /**
   * @param {any} M the Emscripten Module (from web/loader.js)
   */
  constructor(M) {
    this.M = M;
    let C;
    try {
      C = JSON.parse(M.UTF8ToString(M._vl__wasm_consts() >>> 0));
    } catch (e) {
      throw new VecliteError('EBACKEND',
        'the WebAssembly module does not publish veclite constants; rebuild pkg/ and pkg-simd/ with `make build`',
        { cause: e });
    }
    if (C.abi !== ABI) {
      throw new VecliteError('EBACKEND',
        `veclite.wasm has glue ABI ${C.abi} but web/ expects ${ABI}; the .wasm and the JS come from different builds — rebuild with \`make build\``);
    }
    /** Constants from vl__wasm_consts(): errors, metrics, kinds, tags, filterOps, cmp, limits, config, stats. */
    this.C = C;
    /** 'simd128' or 'scalar' */
    this.isa = C.isa;
    /** @type {Map<number, string>} */
    this.rcName = new Map(Object.entries(C.errors).map(([k, v]) => [v, k]));
    this.disposed = false;
  }

  // ---- internals ----------------------------------------------------------------------------

  _str(ptr) {
    ptr >>>= 0;
    return ptr ? this.M.UTF8ToString(ptr) : '';
  }

  /** Throw the VecliteError for rc (< 0). h: the handle whose vl_errmsg explains it, or 0. */
  _fail(rc, h, what) {
    const name = this.rcName.get(rc) ?? 'EIO';
    let code = name;
    let hint = '';
    if (name === 'ENOMEM') {
      code = 'EBUDGET';
      hint = ' — the WebAssembly heap is exhausted (4 GB at most); insert in smaller batches or store fewer vectors';
    } else if (name === 'EFATAL') {
      code = 'EIO';
      hint = ' — the handle was poisoned by an earlier failed write; reopen the collection';
    } else if (name === 'OK') {
      code = 'EIO';
    }
    let detail = h ? this._str(this.M._vl_errmsg(h)) : '';
    if (!detail) detail = this._str(this.M._vl_errstr(rc));
    throw new VecliteError(code, `${what}: ${detail}${hint}`);
  }

  _check(rc, h, what) {
    if (rc < 0) this._fail(rc, h, what);
    return rc;
  }

  /** A staging block of `total` bytes; returns its address. */
  _stage(total) {
    if (!Number.isSafeInteger(total) || total < 0) {
      throw new VecliteError('EINVAL', `internal staging size ${total} is not a byte count`);
    }
    if (total > STAGE_MAX) throw tooBig(total, 'this call');
    const p = this.M._vl__wasm_stage(total) >>> 0;
    if (!p) {
      throw new VecliteError('EBUDGET',
        `cannot allocate ${total} bytes of WebAssembly memory for this call (4 GB at most); use smaller batches`);
    }
    return p;
  }

  _unstage(total) {
    if (total > STAGE_KEEP) this.M._vl__wasm_stage_trim(STAGE_KEEP);
  }

  /** Copy n (lo, hi) id pairs into the heap at p. */
  _putIds(p, ids, n) {
    this.M.HEAPU32.set(n * 2 === ids.length ? ids : ids.subarray(0, n * 2), p >>> 2);
  }

  // ---- library --------------------------------------------------------------------------------

  /** Bytes of WebAssembly memory currently reserved by this instance. */
  heapBytes() {
    return this.M.HEAPU8.length;
  }

  /** Drop the Module so the instance can be garbage collected. */
  dispose() {
    this.disposed = true;
    this.M = null;
  }

  // ---- index lifecycle ------------------------------------------------------------------------

  /**
   * vl_index_new.
   * @param {{ dim: number, metric: number, kind: number, m: number, efConstruction: number,
   *   ef: number, seedLo: number, seedHi: number }} cfg
   * @returns {number} the handle
   */
  indexNew(cfg) {
    const L = this.C.config;
    const { off, total } = layout([L.size, 4]);
    const p = this._stage(total);
    try {
      const u32 = this.M.HEAPU32, b = p >>> 2;
      u32.fill(0, b, b + (total >>> 2));
      u32[b + L.dim / 4] = cfg.dim;
      u32[b + L.metric / 4] = cfg.metric;
      u32[b + L.kind / 4] = cfg.kind;
      u32[b + L.m / 4] = cfg.m;
      u32[b + L.ef_construction / 4] = cfg.efConstruction;
      u32[b + L.ef_search / 4] = cfg.ef;
      u32[b + L.seed / 4] = cfg.seedLo;
      u32[b + L.seed / 4 + 1] = cfg.seedHi;
      this._check(this.M._vl_index_new(p + off[0], p + off[1]), 0, 'cannot create the index');
      return this.M.HEAPU32[(p + off[1]) >>> 2];
    } finally {
      this._unstage(total);
    }
  }

  /** vl_index_free. */
  indexFree(h) {
    if (h) this.M._vl_index_free(h);
  }

  /**
   * vl_index_config.
   * @returns {{ dim: number, metric: number, kind: number, m: number, efConstruction: number,
   *   ef: number, seedLo: number, seedHi: number }}
   */
  config(h) {
    const L = this.C.config;
    const p = this._stage(L.size);
    this._check(this.M._vl_index_config(h, p), h, 'cannot read the index configuration');
    const u32 = this.M.HEAPU32, b = p >>> 2;
    return {
      dim: u32[b + L.dim / 4], metric: u32[b + L.metric / 4], kind: u32[b + L.kind / 4],
      m: u32[b + L.m / 4], efConstruction: u32[b + L.ef_construction / 4],
      ef: u32[b + L.ef_search / 4], seedLo: u32[b + L.seed / 4], seedHi: u32[b + L.seed / 4 + 1],
    };
  }

  /**
   * vl_index_stats, u64 fields as numbers (exact below 2^53).
   * @returns {{ live: number, nodes: number, tombstones: number, memoryBytes: number,
   *   vectorBytes: number, graphBytes: number, metaBytes: number, maxLevel: number, fields: number }}
   */
  stats(h) {
    const L = this.C.stats;
    const p = this._stage(L.size);
    this._check(this.M._vl_index_stats(h, p), h, 'cannot read index statistics');
    const u32 = this.M.HEAPU32, b = p >>> 2;
    const u64 = (o) => u32[b + o / 4] + u32[b + o / 4 + 1] * 4294967296;
    return {
      live: u64(L.live), nodes: u64(L.nodes), tombstones: u64(L.tombstones),
      memoryBytes: u64(L.memory_bytes), vectorBytes: u64(L.vector_bytes),
      graphBytes: u64(L.graph_bytes), metaBytes: u64(L.meta_bytes),
      maxLevel: u32[b + L.max_level / 4], fields: u32[b + L.fields / 4],
    };
  }

  /** vl_index_count (number of live vectors). */
  count(h) {
    return this.M._vl__wasm_count(h);
  }

  /** vl_index_check: throws ECORRUPT with the first violated invariant. */
  checkIndex(h) {
    this._check(this.M._vl_index_check(h), h, 'index invariant violated');
  }

  // ---- writes ---------------------------------------------------------------------------------

  /**
   * vl_index_upsert of n rows.
   * @param {number} h
   * @param {number} n
   * @param {Uint32Array} ids 2n words (lo, hi)
   * @param {Float32Array} vecs n*dim floats
   * @param {Uint8Array|null} meta concatenated records, or null
   * @param {Uint32Array|null} metaOff n+1 offsets, or null
   */
  upsert(h, n, ids, vecs, meta, metaOff) {
    const { off, total } = upsertLayout(n, vecs.length, meta ? meta.length : -1);
    const p = this._stage(total);
    try {
      const M = this.M;
      this._putIds(p + off[0], ids, n);
      M.HEAPF32.set(vecs, (p + off[1]) >>> 2);
      if (meta) {
        M.HEAPU8.set(meta, p + off[2]);
        M.HEAPU32.set(metaOff, (p + off[3]) >>> 2);
      }
      this._check(M._vl_index_upsert(h, n, p + off[0], p + off[1],
        meta ? p + off[2] : 0, meta ? p + off[3] : 0), h, 'insert failed');
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_index_set_meta of n rows (vectors untouched).
   * @param {number} h @param {number} n @param {Uint32Array} ids
   * @param {Uint8Array} meta @param {Uint32Array} metaOff
   */
  setMeta(h, n, ids, meta, metaOff) {
    const { off, total } = layout([n * 8, meta.length, (n + 1) * 4], `writing metadata of ${n} vector(s)`);
    const p = this._stage(total);
    try {
      const M = this.M;
      this._putIds(p + off[0], ids, n);
      M.HEAPU8.set(meta, p + off[1]);
      M.HEAPU32.set(metaOff, (p + off[2]) >>> 2);
      this._check(M._vl_index_set_meta(h, n, p + off[0], p + off[1], p + off[2]), h, 'metadata update failed');
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_index_delete.
   * @param {number} h @param {number} n @param {Uint32Array} ids
   * @returns {number} how many of the ids were live
   */
  deleteIds(h, n, ids) {
    const { off, total } = layout([n * 8, 4]);
    const p = this._stage(total);
    try {
      this._putIds(p + off[0], ids, n);
      this._check(this.M._vl_index_delete(h, n, p + off[0], p + off[1]), h, 'delete failed');
      return this.M.HEAPU32[(p + off[1]) >>> 2];
    } finally {
      this._unstage(total);
    }
  }

  /** vl_index_clear. */
  clear(h) {
    this._check(this.M._vl_index_clear(h), h, 'clear failed');
  }

  // ---- reads ----------------------------------------------------------------------------------

  /**
   * Copy the metadata records addressed by (ptr, len) slots out of the heap into one buffer.
   * @returns {{ bytes: Uint8Array, off: Uint32Array }} record i = bytes[off[i]..off[i+1])
   */
  _copyRecords(ptrAt, lenAt, slots, valid) {
    const u32 = this.M.HEAPU32, u8 = this.M.HEAPU8;
    const pb = ptrAt >>> 2, lb = lenAt >>> 2;
    const off = new Uint32Array(slots + 1);
    let total = 0;
    for (let s = 0; s < slots; s++) {
      off[s] = total;
      if (valid(s)) total += u32[lb + s];
    }
    off[slots] = total;
    const bytes = new Uint8Array(total);
    for (let s = 0; s < slots; s++) {
      const len = off[s + 1] - off[s];
      if (len) {
        const src = u32[pb + s] >>> 0;
        bytes.set(u8.subarray(src, src + len), off[s]);
      }
    }
    return { bytes, off };
  }

  /**
   * vl__wasm_search: nq queries, k hits each, plus (optionally) each hit's metadata record and
   * stored vector — one call across the boundary for the whole batch.
   * @param {number} h @param {number} dim @param {number} nq
   * @param {Float32Array} queries nq*dim
   * @param {number} k @param {number} ef (0 = index default)
   * @param {Uint8Array|null} filter program (web/filter.js) or null
   * @param {boolean} wantMeta @param {boolean} wantVectors
   * @returns {{ ids: Uint32Array, dist: Float32Array, counts: Uint32Array,
   *   meta: { bytes: Uint8Array, off: Uint32Array }|null, vecs: Float32Array|null }}
   *   slot s = q*k + i; ids holds (lo, hi) pairs
   */
  search(h, dim, nq, queries, k, ef, filter, wantMeta, wantVectors) {
    // Every caller (search, searchBatch, predicate widening) goes through this one size check:
    // layout() refuses before anything is staged when the result regions would not fit.
    const slots = nq * k;
    const { off, total } = layout([
      queries.length * 4, filter ? filter.length : 0, slots * 8, slots * 4, nq * 4,
      wantMeta ? slots * 4 : 0, wantMeta ? slots * 4 : 0, wantVectors ? slots * dim * 4 : 0,
    ], `search of ${nq} quer${nq === 1 ? 'y' : 'ies'} with k=${k}` +
      (wantVectors ? ` and includeVectors at dimension ${dim}` : ''));
    const p = this._stage(total);
    try {
      const M = this.M;
      M.HEAPF32.set(queries, (p + off[0]) >>> 2);
      if (filter) M.HEAPU8.set(filter, p + off[1]);
      this._check(M._vl__wasm_search(h, nq, p + off[0], k, ef,
        filter ? p + off[1] : 0, filter ? filter.length : 0,
        p + off[2], p + off[3], p + off[4],
        wantMeta ? p + off[5] : 0, wantMeta ? p + off[6] : 0, wantVectors ? p + off[7] : 0),
      h, 'search failed');
      const u32 = M.HEAPU32;
      const counts = u32.slice((p + off[4]) >>> 2, ((p + off[4]) >>> 2) + nq);
      const ids = u32.slice((p + off[2]) >>> 2, ((p + off[2]) >>> 2) + slots * 2);
      const dist = M.HEAPF32.slice((p + off[3]) >>> 2, ((p + off[3]) >>> 2) + slots);
      const valid = (s) => (s % k) < counts[(s / k) | 0];
      const meta = wantMeta ? this._copyRecords(p + off[5], p + off[6], slots, valid) : null;
      const vecs = wantVectors ? M.HEAPF32.slice((p + off[7]) >>> 2, ((p + off[7]) >>> 2) + slots * dim) : null;
      return { ids, dist, counts, meta, vecs };
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl__wasm_get_batch: look up n ids at once.
   * @param {number} h @param {number} dim @param {number} n @param {Uint32Array} ids (lo, hi) pairs
   * @param {boolean} wantMeta @param {boolean} wantVectors
   * @returns {{ found: Uint32Array, meta: { bytes: Uint8Array, off: Uint32Array }|null,
   *   vecs: Float32Array|null }}
   */
  getBatch(h, dim, n, ids, wantMeta, wantVectors) {
    const { off, total } = layout([n * 8, n * 4, wantMeta ? n * 4 : 0, wantMeta ? n * 4 : 0,
      wantVectors ? n * dim * 4 : 0], `reading ${n} vector(s)`);
    const p = this._stage(total);
    try {
      const M = this.M;
      this._putIds(p + off[0], ids, n);
      this._check(M._vl__wasm_get_batch(h, n, p + off[0], wantVectors ? p + off[4] : 0,
        wantMeta ? p + off[2] : 0, wantMeta ? p + off[3] : 0, p + off[1]), h, 'get failed');
      const found = M.HEAPU32.slice((p + off[1]) >>> 2, ((p + off[1]) >>> 2) + n);
      const meta = wantMeta ? this._copyRecords(p + off[2], p + off[3], n, (i) => found[i] === 1) : null;
      const vecs = wantVectors ? M.HEAPF32.slice((p + off[4]) >>> 2, ((p + off[4]) >>> 2) + n * dim) : null;
      return { found, meta, vecs };
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl__wasm_dist_ids: distances (API units) from one query to n live ids.
   * @param {number} h @param {Float32Array} query @param {number} n @param {Uint32Array} ids
   * @returns {Float32Array}
   */
  distIds(h, query, n, ids) {
    const { off, total } = layout([query.length * 4, n * 8, n * 4]);
    const p = this._stage(total);
    try {
      const M = this.M;
      M.HEAPF32.set(query, (p + off[0]) >>> 2);
      this._putIds(p + off[1], ids, n);
      this._check(M._vl__wasm_dist_ids(h, p + off[0], n, p + off[1], p + off[2]), h, 'distance scan failed');
      return M.HEAPF32.slice((p + off[2]) >>> 2, ((p + off[2]) >>> 2) + n);
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_index_ids: up to cap live ids in ascending order, after the id (lo, hi) if given.
   * @param {number} h @param {Uint32Array|null} after a (lo, hi) pair or null to start
   * @param {number} cap
   * @returns {Uint32Array} (lo, hi) pairs, length 2 * (ids returned)
   */
  liveIds(h, after, cap) {
    const { off, total } = layout([8, cap * 8, 4]);
    const p = this._stage(total);
    try {
      const M = this.M;
      if (after) this._putIds(p + off[0], after, 1);
      this._check(M._vl_index_ids(h, p + off[0], after ? 1 : 0, p + off[1], cap, p + off[2]), h, 'id scan failed');
      const n = M.HEAPU32[(p + off[2]) >>> 2];
      return M.HEAPU32.slice((p + off[1]) >>> 2, ((p + off[1]) >>> 2) + n * 2);
    } finally {
      this._unstage(total);
    }
  }

  // ---- metadata field names -------------------------------------------------------------------

  /**
   * vl_index_field: get or create the id of a field name.
   * @param {number} h @param {Uint8Array} nameUtf8
   * @returns {number}
   */
  field(h, nameUtf8) {
    const { off, total } = layout([nameUtf8.length, 4]);
    const p = this._stage(total);
    try {
      this.M.HEAPU8.set(nameUtf8, p + off[0]);
      this._check(this.M._vl_index_field(h, p + off[0], nameUtf8.length, p + off[1]), h, 'cannot register a metadata field');
      return this.M.HEAPU32[(p + off[1]) >>> 2];
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_index_field_name.
   * @returns {string}
   */
  fieldName(h, fieldId) {
    const { off, total } = layout([4, 4]);
    const p = this._stage(total);
    this._check(this.M._vl_index_field_name(h, fieldId, p + off[0], p + off[1]), h, 'unknown metadata field');
    const u32 = this.M.HEAPU32;
    const np = u32[(p + off[0]) >>> 2] >>> 0, len = u32[(p + off[1]) >>> 2];
    return new TextDecoder().decode(this.M.HEAPU8.slice(np, np + len));
  }

  /** vl_index_field_count. */
  fieldCount(h) {
    return this.M._vl_index_field_count(h) >>> 0;
  }

  // ---- filters --------------------------------------------------------------------------------

  /**
   * vl_filter_check: throws EINVAL if the program is malformed.
   * @param {Uint8Array} program
   */
  filterCheck(program) {
    const { total } = layout([program.length], 'checking a filter');
    const p = this._stage(total);
    try {
      this.M.HEAPU8.set(program, p);
      this._check(this.M._vl_filter_check(p, program.length), 0, 'invalid filter program');
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_filter_eval on one record.
   * @param {Uint8Array} program @param {Uint8Array} record
   * @returns {boolean}
   */
  filterEval(program, record) {
    const { off, total } = layout([program.length, record.length, 4]);
    const p = this._stage(total);
    try {
      const M = this.M;
      M.HEAPU8.set(program, p + off[0]);
      M.HEAPU8.set(record, p + off[1]);
      this._check(M._vl_filter_eval(p + off[0], program.length, p + off[1], record.length, p + off[2]),
        0, 'invalid filter program or record');
      return M.HEAPU32[(p + off[2]) >>> 2] === 1;
    } finally {
      this._unstage(total);
    }
  }
}
