// worker/bind.js — the only file that touches the engine's exports and heap views (docs/conventions.md §3,
// §6). Each method wraps one C call of src/veclite.h or src/wasm.c, moves typed arrays in and out
// of the heap, and turns a negative return code into a VecliteError (worker/errors.js) carrying the
// handle's vl_errmsg. Callers above (the session, worker/session.js) only ever see copies.
//
// Invariants:
// - Heap views are never stored: they are re-read from the Module after every call that may
//   allocate (memory growth replaces the ArrayBuffer; the 3.1.6 glue refreshes Module.HEAP*).
// - Pointers coming back from C are read with `>>> 0` (MAXIMUM_MEMORY is 4 GB, so addresses
//   at or above 2^31 would otherwise be negative).
// - Inputs go through the instance's 16-byte-aligned staging block (vl__wasm_stage), laid out
//   per call and dropped before the method returns; a block grown past STAGE_KEEP bytes is
//   released in `finally`, so one huge batch does not pin memory. Except the vectors of an
//   insert: they are written once, straight into the index's own room (vl_index_rows,
//   vl_store_rows), never staged.
// - Sizes are plain JS numbers (exact integers below 2^53), never int32 bit arithmetic: every
//   region size and every layout total is checked against STAGE_MAX BEFORE anything is
//   allocated, so no size can wrap and no C call gets a region smaller than it will write.
// - 64-bit ids live in the heap as uint64_t arrays. They are passed between JS layers as
//   Uint32Array (lo, hi) word pairs — the little-endian layout of a u64 — and copied into the
//   heap with one HEAPU32.set, so a batch of numeric ids needs no BigInt per id.
// - Results are .slice()d out before the next call; metadata records are copied into one
//   contiguous Uint8Array while the handle still owns them.
// - The only JS that runs inside a C call is a storage device (ioFromDevice): its adapter
//   catches every exception, stashes it in Module.vlDeviceError and returns a VL_E* code, so
//   no JS exception crosses into C (docs/conventions.md §3); _fail() adds the stashed device message to
//   the VecliteError of the call that failed.
// - Stores (vl_store_*): writes go through the store handle, reads through its index handle
//   (storeIndex) with the same methods as a plain index. Error text comes from vl_store_errmsg
//   (or vl_store_open's message buffer); VL_EFATAL (a poisoned store) becomes EIO.

import { VecliteError, plural } from './errors.js';

/** The vl__wasm_* helper ABI this file was written for (VL_WASM_ABI in src/wasm.c). */
const ABI = 2;
/** SHA-256("abc") (FIPS 180-4 example): a host hash must reproduce it before the engine uses it. */
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

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
/** UTF-8 bytes -> string; a leading U+FEFF is kept (part of a name, not a byte-order mark). */
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8 = (b) => utf8Decoder.decode(b);

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
 * Write a batch's n x dim float32 rows at byte address p of the heap: a Float32Array, or a
 * facade's RowVectors (web/args.js), which copies from the caller's vectors once, straight
 * here, checking each again.
 */
function putRows(M, vecs, p) {
  if (vecs instanceof Float32Array) M.HEAPF32.set(vecs, p >>> 2);
  else vecs.copyTo(M.HEAPF32, p >>> 2);
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
    `writing ${plural(n, 'vector')}`);
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

  /**
   * Throw the VecliteError for rc (< 0). h: the index handle whose vl_errmsg explains it, or 0;
   * detailFn (optional) supplies the message instead (stores: vl_store_errmsg).
   */
  _fail(rc, h, what, detailFn) {
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
    let detail = detailFn ? detailFn() : h ? this._str(this.M._vl_errmsg(h)) : '';
    if (!detail) detail = this._str(this.M._vl_errstr(rc));
    const dev = this._takeDeviceError();
    if (dev && !detail.includes(dev.message)) detail += ` (device: ${dev.message})`;
    throw new VecliteError(code, `${what}: ${detail}${hint}`, dev ? { cause: dev } : undefined);
  }

  /** The exception a storage device threw during the last C call (then forgotten), or null. */
  _takeDeviceError() {
    const M = this.M;
    if (!M || !M.vlDeviceError) return null;
    const e = M.vlDeviceError;
    M.vlDeviceError = null;
    return e instanceof Error ? e : new Error(String(e));
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

  /** Write a vl_config at heap address p (16-byte aligned). */
  _putConfig(p, cfg) {
    const L = this.C.config;
    const u32 = this.M.HEAPU32, b = p >>> 2;
    u32.fill(0, b, b + (L.size >>> 2));
    u32[b + L.dim / 4] = cfg.dim;
    u32[b + L.metric / 4] = cfg.metric;
    u32[b + L.kind / 4] = cfg.kind;
    u32[b + L.m / 4] = cfg.m;
    u32[b + L.ef_construction / 4] = cfg.efConstruction;
    u32[b + L.ef_search / 4] = cfg.ef;
    u32[b + L.seed / 4] = cfg.seedLo;
    u32[b + L.seed / 4 + 1] = cfg.seedHi;
  }

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
      this._putConfig(p + off[0], cfg);
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
   *   vectorBytes: number, graphBytes: number, metaBytes: number, maxLevel: number, fields: number,
   *   capacity: number, nodeBytes: number }}
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
      capacity: u64(L.capacity), nodeBytes: u64(L.node_bytes),
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
    upsertLayout(n, vecs.length, meta ? meta.length : -1);   // EBUDGET as before
    // Vectors go straight into the index's own room (vl_index_rows): one copy, no staging.
    const { off, total } = layout([n * 8, 0, Math.max(meta ? meta.length : 0, 0), meta ? (n + 1) * 4 : 0, 8],
      `writing ${plural(n, 'vector')}`);
    const p = this._stage(total);
    try {
      const M = this.M;
      this._check(M._vl_index_rows(h, n, p + off[4]), h, 'insert failed');
      const rows = M.HEAPU32[(p + off[4]) >>> 2] >>> 0;
      putRows(M, vecs, rows);
      this._putIds(p + off[0], ids, n);
      if (meta) {
        M.HEAPU8.set(meta, p + off[2]);
        M.HEAPU32.set(metaOff, (p + off[3]) >>> 2);
      }
      this._check(M._vl_index_upsert(h, n, p + off[0], rows,
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
    this._stagedSetMeta(n, ids, meta, metaOff, (pIds, pMeta, pOff) =>
      this._check(this.M._vl_index_set_meta(h, n, pIds, pMeta, pOff), h, 'metadata update failed'));
  }

  /** Stage ids + records + offsets for a set_meta call (index or store), then run `call`. */
  _stagedSetMeta(n, ids, meta, metaOff, call) {
    const { off, total } = layout([n * 8, meta.length, (n + 1) * 4], `writing metadata of ${plural(n, 'vector')}`);
    const p = this._stage(total);
    try {
      const M = this.M;
      this._putIds(p + off[0], ids, n);
      M.HEAPU8.set(meta, p + off[1]);
      M.HEAPU32.set(metaOff, (p + off[2]) >>> 2);
      call(p + off[0], p + off[1], p + off[2]);
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
    return this._stagedDelete(n, ids, (pIds, pOut) =>
      this._check(this.M._vl_index_delete(h, n, pIds, pOut), h, 'delete failed'));
  }

  /** Stage ids and a u32 out-slot for a delete call (index or store); returns the count. */
  _stagedDelete(n, ids, call) {
    const { off, total } = layout([n * 8, 4]);
    const p = this._stage(total);
    try {
      this._putIds(p + off[0], ids, n);
      call(p + off[0], p + off[1]);
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
   * @param {Uint8Array|null} filter program (worker/filter.js) or null
   * @param {boolean} wantMeta @param {boolean} wantVectors
   * @param {number} rerank @param {{ lambda: number, fetchK: number }|null} mmr
   * @returns {{ ids: Uint32Array, dist: Float32Array, counts: Uint32Array,
   *   meta: { bytes: Uint8Array, off: Uint32Array }|null, vecs: Float32Array|null }}
   *   slot s = q*k + i; ids holds (lo, hi) pairs
   */
  search(h, dim, nq, queries, k, ef, filter, wantMeta, wantVectors, rerank = 0, mmr = null) {
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
      M._vl_index_set_rerank(h, rerank >>> 0);
      const outs = [filter ? p + off[1] : 0, filter ? filter.length : 0,
        p + off[2], p + off[3], p + off[4],
        wantMeta ? p + off[5] : 0, wantMeta ? p + off[6] : 0, wantVectors ? p + off[7] : 0];
      // mmr { lambda, fetchK }: vl_index_search_mmr picks k of fetchK candidates (src/mmr.c)
      this._check(mmr
        ? M._vl__wasm_search_mmr(h, nq, p + off[0], k, mmr.fetchK, mmr.lambda, ef, ...outs)
        : M._vl__wasm_search(h, nq, p + off[0], k, ef, ...outs),
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
      wantVectors ? n * dim * 4 : 0], `reading ${plural(n, 'vector')}`);
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

  // ---- toolbox (src/toolbox.c) -----------------------------------------------------------------

  /**
   * vl_sim_matrix: the na x nb scores (docs/api.md §4 score convention) of two row sets.
   * @param {number} metric a C metric code @param {number} dim
   * @param {Float32Array} a na * dim floats @param {Float32Array} b nb * dim floats
   * @returns {Float32Array} row-major na x nb
   */
  simMatrix(metric, dim, a, b) {
    const na = a.length / dim, nb = b.length / dim;
    const { off, total } = layout([a.length * 4, b.length * 4, na * nb * 4], `a ${na} x ${nb} similarity matrix`);
    const p = this._stage(total);
    try {
      const M = this.M;
      M.HEAPF32.set(a, (p + off[0]) >>> 2);
      M.HEAPF32.set(b, (p + off[1]) >>> 2);
      this._check(M._vl_sim_matrix(metric, dim, na, p + off[0], nb, p + off[1], p + off[2]), 0, 'similarity matrix');
      return M.HEAPF32.slice((p + off[2]) >>> 2, ((p + off[2]) >>> 2) + na * nb);
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_kmeans over n = x.length / dim rows.
   * @param {number} metric @param {number} dim @param {Float32Array} x @param {number} k
   * @param {{ iterations: number, init: number, seed: bigint, tolerance: number }} o
   * @returns {{ centroids: Float32Array, assignments: Uint32Array, sizes: Uint32Array,
   *   inertia: number, iterations: number, reseeded: number, empty: number }}
   */
  kmeans(metric, dim, x, k, o) {
    const n = x.length / dim;
    const { off, total } = layout([x.length * 4, 8, k * dim * 4, n * 4, k * 4, 4 * 8], `k-means of ${plural(n, 'vector')}`);
    const p = this._stage(total);
    try {
      const M = this.M;
      M.HEAPF32.set(x, (p + off[0]) >>> 2);
      new BigUint64Array(M.HEAPU8.buffer, p + off[1], 1)[0] = o.seed;
      this._check(M._vl_kmeans(metric, dim, n, p + off[0], k, o.iterations, o.init, p + off[1], o.tolerance,
        p + off[2], p + off[3], p + off[4], p + off[5]), 0, 'k-means');
      const info = M.HEAPF64.slice((p + off[5]) >>> 3, ((p + off[5]) >>> 3) + 4);
      return {
        centroids: M.HEAPF32.slice((p + off[2]) >>> 2, ((p + off[2]) >>> 2) + k * dim),
        assignments: M.HEAPU32.slice((p + off[3]) >>> 2, ((p + off[3]) >>> 2) + n),
        sizes: M.HEAPU32.slice((p + off[4]) >>> 2, ((p + off[4]) >>> 2) + k),
        inertia: info[0], iterations: info[1], reseeded: info[2], empty: info[3],
      };
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
    return utf8(this.M.HEAPU8.slice(np, np + len));
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

  // ---- storage devices ------------------------------------------------------------------------
  //
  // A JS device (idb/node-file.js, or any object with the same methods) throws on failure; the
  // adapter registered in Module.vlDevices turns that into the rc protocol of src/wasm.c
  // ("Storage devices"): 0 or a negative VL_E*, and stashes the exception in
  // Module.vlDeviceError so the VecliteError that follows can say what the device said.

  /**
   * Register a device and create the vl_io that calls it.
   * @param {{ read(off: number, dst: Uint8Array): void, append(src: Uint8Array): void,
   *   size(): number, truncate(n: number): void, sync(): void }} dev
   * @returns {{ io: number, handle: number }} pass to ioFree when the store is done with it
   */
  ioFromDevice(dev) {
    const M = this.M;
    if (!M.vlDevices) M.vlDevices = new Map();
    this._devSeq = (this._devSeq ?? 0) + 1;
    const handle = this._devSeq;
    const E = this.C.errors;
    const fail = (e) => {
      M.vlDeviceError = e;
      return e?.code === 'EREADONLY' ? E.EREADONLY : E.EIO;
    };
    // A device with crc32(bytes, crc) (idb/node-file.js over Node's zlib) hashes what it reads.
    const crc = typeof dev.crc32 === 'function' && dev.hashes === true;
    M.vlDevices.set(handle, {
      read(off, dst) { try { dev.read(off, dst); return 0; } catch (e) { return fail(e); } },
      // rows a quantized store re-ranks: the device's readMany, else one read each
      readMany(offs, len, dst) {
        try {
          if (typeof dev.readMany === 'function') dev.readMany(offs, len, dst);
          else for (let i = 0; i < offs.length; i++) dev.read(offs[i], dst.subarray(i * len, (i + 1) * len));
          return 0;
        } catch (e) { return fail(e); }
      },
      readCrc(off, dst, c) { try { dev.read(off, dst); return dev.crc32(dst, c) >>> 0; } catch (e) { return fail(e); } },
      append(src) { try { dev.append(src); return 0; } catch (e) { return fail(e); } },
      size() { try { return dev.size(); } catch (e) { return fail(e); } },
      truncate(n) { try { dev.truncate(n); return 0; } catch (e) { return fail(e); } },
      sync() { try { dev.sync(); return 0; } catch (e) { return fail(e); } },
    });
    const io = M._vl__wasm_io_js_new(handle, crc ? 1 : 0) >>> 0;
    if (!io) {
      M.vlDevices.delete(handle);
      throw new VecliteError('EBUDGET', 'cannot allocate a storage device: the WebAssembly heap is exhausted');
    }
    return { io, handle };
  }

  /**
   * Let the engine hash big inputs (the META digests) with the host's SHA-256, e.g. Node's
   * crypto: `fn(bytes)` returns the 32-byte digest. Installed only if it hashes "abc" right.
   * @param {(bytes: Uint8Array) => Uint8Array} fn
   */
  useSha256(fn) {
    if (this.M.vlSha256) return;
    let ok = false;
    try { ok = Array.from(fn(new TextEncoder().encode('abc')) ?? [], (x) => x.toString(16).padStart(2, '0')).join('') === SHA256_ABC; } catch { ok = false; }
    if (!ok) return;
    this.M.vlSha256 = fn;
    this.M._vl__wasm_host_sha256(1);
  }

  /** Free a vl_io made by ioFromDevice and forget its device (the device itself stays open). */
  ioFree(dev) {
    if (!dev || !this.M) return;
    this.M._vl__wasm_io_js_free(dev.io);
    this.M.vlDevices?.delete(dev.handle);
  }

  /**
   * A memory device holding a copy of bytes (may be empty).
   * @param {Uint8Array} bytes
   * @returns {number} the vl_io; free with ioMemFree
   */
  ioMemOpen(bytes) {
    const { total } = layout([bytes.length], `loading ${plural(bytes.length, 'byte')}`);
    const p = this._stage(total);
    try {
      this.M.HEAPU8.set(bytes, p);
      const io = this.M._vl__wasm_io_mem_open(p, bytes.length) >>> 0;
      if (!io) throw new VecliteError('EBUDGET', `cannot hold ${bytes.length} bytes in WebAssembly memory (4 GB at most)`);
      return io;
    } finally {
      this._unstage(total);
    }
  }

  /** A copy of a memory device's contents. @returns {Uint8Array} */
  ioMemBytes(io) {
    const n = this.M._vl__wasm_io_mem_size(io);
    const ptr = this.M._vl__wasm_io_mem_data(io) >>> 0;
    return this.M.HEAPU8.slice(ptr, ptr + n);
  }

  /** Free a memory device. */
  ioMemFree(io) {
    if (io && this.M) this.M._vl_io_mem_free(io);
  }

  // ---- stores ---------------------------------------------------------------------------------

  _storeMsg(st) {
    return () => this._str(this.M._vl_store_errmsg(st));
  }

  /**
   * Throw the VecliteError of a failed store call. A failed commit (VL_EIO) carries `outcome`
   * (vl_store_write_outcome): 'notWritten' when the engine rolled the commit back, so nothing of
   * it is in the file (durably), 'unknown' when that rollback failed too, so a reopen may show the
   * whole write or none of it (src/rvf_commit.c "Failed means failed").
   */
  _checkStore(rc, st, what) {
    if (rc >= 0) return rc;
    try {
      this._fail(rc, 0, what, this._storeMsg(st));
    } catch (e) {
      if (rc === this.C.errors.EIO && e instanceof VecliteError) {
        const o = this.M._vl_store_write_outcome(st), O = this.C.outcomes;
        if (o === O.NOT_WRITTEN) e.outcome = 'notWritten';
        else if (o === O.UNKNOWN) e.outcome = 'unknown';
      }
      throw e;
    }
  }

  /**
   * vl_store_open.
   * @param {number} io a vl_io
   * @param {object|null} cfg as for indexNew, or null to use the configuration in the file
   * @param {number} flags VL_STORE_* (C.storeFlags)
   * @param {Uint8Array|null} fileId 16 random bytes for a new file
   * @param {number} [parentIo] an rvf-node branch() child's parent file (a vl_io, read during the
   *   call only: vl_store_open_branch), or 0
   * @returns {number} the store handle
   */
  storeOpen(io, cfg, flags, fileId, parentIo = 0) {
    const MSG = 1024;
    const { off, total } = layout([this.C.config.size, 16, 4, MSG]);
    const p = this._stage(total);
    try {
      const M = this.M;
      if (cfg) this._putConfig(p + off[0], cfg);
      if (fileId) M.HEAPU8.set(fileId, p + off[1]);
      M.HEAPU8[p + off[3]] = 0;
      const rc = M._vl_store_open_branch(io, parentIo, cfg ? p + off[0] : 0, flags, fileId ? p + off[1] : 0,
        p + off[2], p + off[3], MSG);
      if (rc < 0) this._fail(rc, 0, 'cannot open the store', () => this._str(p + off[3]));
      return M.HEAPU32[(p + off[2]) >>> 2];
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_store_branch_parent: the parent path an rvf-node branch() child names (relative to the
   * child's directory, as stored), or null when the file on io is not a branch child.
   * @param {number} io a vl_io
   * @returns {string|null}
   */
  storeBranchParent(io) {
    const CAP = 4100;
    const p = this._stage(CAP + 4);
    try {
      const rc = this.M._vl_store_branch_parent(io, p + 4, CAP, p);
      if (rc < 0) this._fail(rc, 0, 'cannot read the branch parent', () => 'the COW_MAP segment is unreadable');
      const len = this.M.HEAPU32[p >>> 2];
      return len ? utf8(this.M.HEAPU8.slice(p + 4, p + 4 + len)) : null;
    } finally {
      this._unstage(CAP + 4);
    }
  }

  /**
   * vl_store_close: checkpoint the graph (writable stores) and free the handle (always).
   * @returns {VecliteError|null} the checkpoint's failure, if any
   */
  storeClose(st) {
    if (!st || !this.M) return null;
    const rc = this.M._vl_store_close(st);
    const dev = this._takeDeviceError();
    if (rc >= 0) return null;
    const name = this.rcName.get(rc) ?? 'EIO';
    return new VecliteError(name === 'EFATAL' || name === 'ENOMEM' ? 'EIO' : name,
      `close: the graph checkpoint failed (${this._str(this.M._vl_errstr(rc))}${dev ? `: ${dev.message}` : ''}); ` +
      'every committed write is safe, the next open rebuilds the graph');
  }

  /** vl_store_index: the store's index handle (reads only). */
  storeIndex(st) {
    return this.M._vl_store_index(st) >>> 0;
  }

  /** vl_store_set_time: the WITNESS timestamp of the following commits. @param {bigint} ns */
  storeSetTime(st, ns) {
    const p = this._stage(8);
    const u32 = this.M.HEAPU32;
    u32[p >>> 2] = Number(ns & 0xFFFFFFFFn);
    u32[(p >>> 2) + 1] = Number((ns >> 32n) & 0xFFFFFFFFn);
    this._checkStore(this.M._vl_store_set_time(st, p), st, 'cannot set the commit time');
  }

  /** vl_store_set_dim: fix the dimension of a dimension-0 store before its first insert. */
  storeSetDim(st, dim) {
    this._checkStore(this.M._vl_store_set_dim(st, dim), st, 'cannot set the dimension');
  }

  /** vl_store_upsert (arguments as upsert). */
  storeUpsert(st, n, ids, vecs, meta, metaOff) {
    upsertLayout(n, vecs.length, meta ? meta.length : -1);   // EBUDGET as before
    // Vectors go straight into the store's index room (vl_store_rows): the commit encodes the VEC
    // segment from there and the index keeps them in place; one copy, no staging.
    const { off, total } = layout([n * 8, 0, Math.max(meta ? meta.length : 0, 0), meta ? (n + 1) * 4 : 0, 8],
      `writing ${plural(n, 'vector')}`);
    const p = this._stage(total);
    try {
      const M = this.M;
      this._checkStore(M._vl_store_rows(st, n, p + off[4]), st, 'insert failed');
      const rows = M.HEAPU32[(p + off[4]) >>> 2] >>> 0;
      putRows(M, vecs, rows);
      this._putIds(p + off[0], ids, n);
      if (meta) {
        M.HEAPU8.set(meta, p + off[2]);
        M.HEAPU32.set(metaOff, (p + off[3]) >>> 2);
      }
      this._checkStore(M._vl_store_upsert(st, n, p + off[0], rows,
        meta ? p + off[2] : 0, meta ? p + off[3] : 0), st, 'insert failed');
    } finally {
      this._unstage(total);
    }
  }

  /** vl_store_set_meta (arguments as setMeta). */
  storeSetMeta(st, n, ids, meta, metaOff) {
    this._stagedSetMeta(n, ids, meta, metaOff, (pIds, pMeta, pOff) =>
      this._checkStore(this.M._vl_store_set_meta(st, n, pIds, pMeta, pOff), st, 'metadata update failed'));
  }

  /** vl_store_delete. @returns {number} how many of the ids were live */
  storeDelete(st, n, ids) {
    return this._stagedDelete(n, ids, (pIds, pOut) =>
      this._checkStore(this.M._vl_store_delete(st, n, pIds, pOut), st, 'delete failed'));
  }

  /** vl_store_clear. */
  storeClear(st) {
    this._checkStore(this.M._vl_store_clear(st), st, 'clear failed');
  }

  /** vl_store_field: get or create a field id. @param {Uint8Array} nameUtf8 */
  storeField(st, nameUtf8) {
    const { off, total } = layout([nameUtf8.length, 4]);
    const p = this._stage(total);
    try {
      this.M.HEAPU8.set(nameUtf8, p + off[0]);
      this._checkStore(this.M._vl_store_field(st, p + off[0], nameUtf8.length, p + off[1]), st,
        'cannot register a metadata field');
      return this.M.HEAPU32[(p + off[1]) >>> 2];
    } finally {
      this._unstage(total);
    }
  }

  /** vl_store_file_meta_set (an empty value removes the key). */
  storeFileMetaSet(st, key, value) {
    const k = new TextEncoder().encode(key);
    const { off, total } = layout([k.length, value.length]);
    const p = this._stage(total);
    try {
      this.M.HEAPU8.set(k, p + off[0]);
      this.M.HEAPU8.set(value, p + off[1]);
      this._checkStore(this.M._vl_store_file_meta_set(st, p + off[0], k.length, p + off[1], value.length), st,
        `cannot store file metadata '${key}'`);
    } finally {
      this._unstage(total);
    }
  }

  /** vl_store_file_meta_get. @returns {Uint8Array|null} a copy, or null when absent */
  storeFileMetaGet(st, key) {
    const k = new TextEncoder().encode(key);
    const { off, total } = layout([k.length, 4, 4]);
    const p = this._stage(total);
    try {
      const M = this.M;
      M.HEAPU8.set(k, p + off[0]);
      const rc = M._vl_store_file_meta_get(st, p + off[0], k.length, p + off[1], p + off[2]);
      if (rc === this.C.errors.ENOTFOUND) return null;
      this._checkStore(rc, st, `cannot read file metadata '${key}'`);
      const vp = M.HEAPU32[(p + off[1]) >>> 2] >>> 0, len = M.HEAPU32[(p + off[2]) >>> 2];
      return M.HEAPU8.slice(vp, vp + len);
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_store_set_quant: choose the quantization of a store that has never held a row.
   * @param {number} st @param {'none'|'scalar'|'product'} kind @param {number} m product sub-vectors (0 default)
   */
  storeSetQuant(st, kind, m = 0) {
    const Q = this.C.quant;
    const k = kind === 'scalar' ? Q.SCALAR : kind === 'product' ? Q.PRODUCT : Q.NONE;
    this._checkStore(this.M._vl_store_set_quant(st, k, m >>> 0), st, `cannot set quantization '${kind}'`);
  }

  // ---- keyword search (src/text.c, src/store_text.c) ----------------------------------------

  /** vl_index_set_text (a store's index: storeSetText). @param {number} h @param {string|null} field */
  indexSetText(h, field) {
    this._withName(field ?? '', (p, n) => this._check(this.M._vl_index_set_text(h, p, n), h, `cannot index the text field '${field}'`));
  }

  /** vl_store_set_text: the text field of a store that has never held a row (persisted). */
  storeSetText(st, field) {
    this._withName(field, (p, n) => this._checkStore(this.M._vl_store_set_text(st, p, n), st, `cannot set the text field '${field}'`));
  }

  /** Stage a string's UTF-8 bytes and call fn(pointer, byteLength). */
  _withName(str, fn) {
    const f = new TextEncoder().encode(str);
    const p = this._stage(f.length + 1);
    try {
      this.M.HEAPU8.set(f, p);
      return fn(p, f.length);
    } finally {
      this._unstage(f.length + 1);
    }
  }

  /** vl_index_text_field: the keyword-indexed field, or null. @returns {string|null} */
  textField(h) {
    const { off, total } = layout([4, 4]);
    const p = this._stage(total);
    try {
      const rc = this.M._vl_index_text_field(h, p + off[0], p + off[1]);
      if (rc === this.C.errors.ENOTFOUND) return null;
      this._check(rc, h, 'cannot read the text field');
      const u32 = this.M.HEAPU32;
      const np = u32[(p + off[0]) >>> 2] >>> 0, len = u32[(p + off[1]) >>> 2];
      return utf8(this.M.HEAPU8.slice(np, np + len));
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl__wasm_search_text / vl__wasm_search_hybrid: one query. query null: keyword search (BM25);
   * else hybrid { fetchK, alpha }. Result as search() (nq 1) plus `text` (BM25 per hit) and, for
   * hybrid, `fused` (the fused score per hit).
   * @param {number} h @param {number} dim @param {Float32Array|null} query @param {Uint8Array} text UTF-8
   */
  searchText(h, dim, query, text, k, ef, filter, wantMeta, wantVectors, hybrid = null) {
    const { off, total } = layout([
      query ? query.length * 4 : 0, text.length, filter ? filter.length : 0, k * 8, k * 4, k * 4, k * 4, 4,
      wantMeta ? k * 4 : 0, wantMeta ? k * 4 : 0, wantVectors ? k * dim * 4 : 0,
    ], `text search with k=${k}` + (wantVectors ? ` and includeVectors at dimension ${dim}` : ''));
    const p = this._stage(total);
    try {
      const M = this.M;
      if (query) M.HEAPF32.set(query, (p + off[0]) >>> 2);
      M.HEAPU8.set(text, p + off[1]);
      if (filter) M.HEAPU8.set(filter, p + off[2]);
      const f = [filter ? p + off[2] : 0, filter ? filter.length : 0];
      const rest = [wantMeta ? p + off[8] : 0, wantMeta ? p + off[9] : 0, wantVectors ? p + off[10] : 0];
      this._check(query
        ? M._vl__wasm_search_hybrid(h, p + off[0], p + off[1], text.length, k, hybrid.fetchK, hybrid.alpha, ef, ...f,
          p + off[3], p + off[4], p + off[5], p + off[6], p + off[7], ...rest)
        : M._vl__wasm_search_text(h, p + off[1], text.length, k, ...f, p + off[3], p + off[6], p + off[7], ...rest),
      h, 'text search failed');
      const count = M.HEAPU32[(p + off[7]) >>> 2];
      const counts = Uint32Array.of(count);
      const ids = M.HEAPU32.slice((p + off[3]) >>> 2, ((p + off[3]) >>> 2) + k * 2);
      const f32 = (o) => M.HEAPF32.slice((p + o) >>> 2, ((p + o) >>> 2) + k);
      const dist = query ? f32(off[5]) : new Float32Array(k).fill(NaN);
      const meta = wantMeta ? this._copyRecords(p + off[8], p + off[9], k, (i) => i < count) : null;
      const vecs = wantVectors ? M.HEAPF32.slice((p + off[10]) >>> 2, ((p + off[10]) >>> 2) + k * dim) : null;
      return { ids, dist, counts, meta, vecs, text: f32(off[6]), fused: query ? f32(off[4]) : null };
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_index_quant_info.
   * @returns {{ kind: 'none'|'scalar'|'product', trained: boolean, codeBytes: number, subvectors: number,
   *   tableBytes: number, trainedOn: number }}
   */
  quantInfo(h) {
    const L = this.C.quantInfo, Q = this.C.quant;
    const p = this._stage(L.size);
    this._check(this.M._vl_index_quant_info(h, p), h, 'cannot read the quantization');
    const u32 = this.M.HEAPU32, b = p >>> 2;
    const u64 = (o) => u32[b + o / 4] + u32[b + o / 4 + 1] * 4294967296;
    const k = u32[b + L.kind / 4];
    return {
      kind: k === Q.SCALAR ? 'scalar' : k === Q.PRODUCT ? 'product' : 'none',
      trained: u32[b + L.trained / 4] !== 0, codeBytes: u32[b + L.code_bytes / 4],
      subvectors: u32[b + L.m / 4], tableBytes: u64(L.table_bytes), trainedOn: u64(L.trained_on),
    };
  }

  /** vl_store_checkpoint. */
  storeCheckpoint(st) {
    this._checkStore(this.M._vl_store_checkpoint(st), st, 'checkpoint failed');
  }

  /**
   * vl_store_check_image: throw unless bytes are exactly the store's committed image (the commit
   * this handle holds; ECORRUPT with what differs). The bytes are copied into a memory device
   * for the check, so the check sees exactly what the caller will hand out.
   * @param {number} st @param {Uint8Array} bytes @param {string} what names the caller
   */
  storeCheckImage(st, bytes, what) {
    const io = this.ioMemOpen(bytes);
    try {
      this._checkStore(this.M._vl_store_check_image(st, io), st, what);
    } finally {
      this.ioMemFree(io);
    }
  }

  /** vl_store_compact into the empty device dst (the store moves onto it). */
  storeCompact(st, dst) {
    const rc = this.M._vl_store_compact(st, dst);
    try {
      this._checkStore(rc, st, 'compaction failed');
    } catch (e) {
      // VL_EFATAL: out of memory after the store moved to dst; the handle is poisoned (e.poisoned)
      if (rc === this.C.errors.EFATAL && e instanceof VecliteError) e.poisoned = true;
      throw e;
    }
  }

  /** vl_store_snapshot into the empty device dst (the store stays where it is). */
  storeSnapshot(st, dst) {
    this._checkStore(this.M._vl_store_snapshot(st, dst), st, 'snapshot failed');
  }

  /**
   * vl_store_derive onto the empty device child.
   * @param {Uint8Array} fileId 16 random bytes
   * @returns {number} the child store handle
   */
  storeDerive(st, child, fileId) {
    const { off, total } = layout([16, 4]);
    const p = this._stage(total);
    try {
      this.M.HEAPU8.set(fileId, p + off[0]);
      this._checkStore(this.M._vl_store_derive(st, child, p + off[0], p + off[1]), st, 'derive failed');
      return this.M.HEAPU32[(p + off[1]) >>> 2];
    } finally {
      this._unstage(total);
    }
  }

  /**
   * vl_store_info, u64 fields as numbers (exact below 2^53), ids as hex.
   * @returns {{ live: number, deleted: number, loaded: number, bytes: number,
   *   rowsInsertedOnOpen: number, metaGeneration: number, epoch: number, dim: number,
   *   metric: number, lineageDepth: number, dirCount: number, indexLoaded: boolean,
   *   readOnly: boolean, graphDirty: boolean, fileId: string, parentId: string, parentHash: string,
   *   openCost: { readMs: number, verifyMs: number, idMapMs: number, rowsMs: number, graphMs: number,
   *     metadataMs: number, totalMs: number } }}
   */
  storeInfo(st) {
    const L = this.C.storeInfo;
    const p = this._stage(L.size);
    this._checkStore(this.M._vl_store_info(st, p), st, 'cannot read the store state');
    const u32 = this.M.HEAPU32, u8 = this.M.HEAPU8, b = p >>> 2;
    const u64 = (o) => u32[b + o / 4] + u32[b + o / 4 + 1] * 4294967296;
    const hex = (o, n) => Array.from(u8.subarray(p + o, p + o + n), (x) => x.toString(16).padStart(2, '0')).join('');
    return {
      live: u64(L.live), deleted: u64(L.deleted), loaded: u64(L.loaded), bytes: u64(L.bytes),
      rowsInsertedOnOpen: u64(L.rows_inserted_on_open), metaGeneration: u64(L.meta_generation),
      epoch: u32[b + L.epoch / 4], dim: u32[b + L.dim / 4], metric: u32[b + L.metric / 4],
      lineageDepth: u32[b + L.lineage_depth / 4], dirCount: u32[b + L.dir_count / 4],
      indexLoaded: u32[b + L.index_loaded / 4] === 1, readOnly: u32[b + L.readonly / 4] === 1,
      graphDirty: u32[b + L.graph_dirty / 4] === 1, memoryBytes: u64(L.memory_bytes),
      fileId: hex(L.file_id, 16), parentId: hex(L.parent_id, 16), parentHash: hex(L.parent_hash, 32),
      openCost: {
        readMs: u32[b + L.open_read_us / 4] / 1000, verifyMs: u32[b + L.open_verify_us / 4] / 1000,
        idMapMs: u32[b + L.open_idmap_us / 4] / 1000, rowsMs: u32[b + L.open_rows_us / 4] / 1000,
        graphMs: u32[b + L.open_graph_us / 4] / 1000, metadataMs: u32[b + L.open_meta_us / 4] / 1000,
        totalMs: u32[b + L.open_total_us / 4] / 1000,
      },
    };
  }

  /** Bytes the store holds beyond its index (vl_store_status.memory_bytes). */
  storeMemoryBytes(st) {
    const L = this.C.storeInfo;
    const p = this._stage(L.size);
    this._checkStore(this.M._vl_store_info(st, p), st, 'cannot read the store state');
    const u32 = this.M.HEAPU32, o = (p + L.memory_bytes) >>> 2;
    return u32[o] + u32[o + 1] * 4294967296;
  }

  /**
   * vl_store_refresh: bring a read-only store to its file's newest commit.
   * @returns {{ status: number, epoch: number, added: number, deleted: number, meta: number }}
   */
  storeRefresh(st) {
    const L = this.C.storeRefresh;
    const p = this._stage(L.size);
    this._checkStore(this.M._vl_store_refresh(st, p), st, 'cannot refresh the store');
    const u32 = this.M.HEAPU32, b = p >>> 2;
    const u64 = (o) => u32[b + o / 4] + u32[b + o / 4 + 1] * 4294967296;
    return { status: u32[b + L.status / 4], epoch: u32[b + L.epoch / 4], added: u64(L.added),
      deleted: u64(L.deleted), meta: u64(L.meta) };
  }

  /**
   * vl_store_refresh_ids: the ids the last applied refresh changed (which 0: upserted or metadata
   * changed, 1: deleted), as u32 pairs (lo, hi) like the id pages.
   * @returns {Uint32Array}
   */
  storeRefreshIds(st, which) {
    const n = this.M._vl_store_refresh_ids(st, which, 0, 0) >>> 0;
    if (n === 0) return new Uint32Array(0);
    const p = this._stage(n * 8);
    this.M._vl_store_refresh_ids(st, which, p, n);
    return this.M.HEAPU32.slice(p >>> 2, (p >>> 2) + 2 * n);
  }

  /**
   * The committed directory (vl_store_dir for every entry).
   * @param {number} st @param {number} count info.dirCount
   * @returns {{ id: number|bigint, type: number, typeName: string, offset: number, length: number }[]}
   */
  storeDir(st, count) {
    const L = this.C.storeSeg;
    const out = [];
    const names = new Map();
    for (let i = 0; i < count; i++) {
      const p = this._stage(L.size);
      this._checkStore(this.M._vl_store_dir(st, i, p), st, 'cannot read the segment directory');
      const u32 = this.M.HEAPU32, b = p >>> 2;
      const lo = u32[b + L.seg_id / 4], hi = u32[b + L.seg_id / 4 + 1];
      const u64 = (o) => u32[b + o / 4] + u32[b + o / 4 + 1] * 4294967296;
      const type = u32[b + L.seg_type / 4];
      if (!names.has(type)) names.set(type, this._str(this.M._vl_store_seg_type_name(type)));
      out.push({
        id: hi < 0x200000 ? hi * 4294967296 + lo : (BigInt(hi) << 32n) | BigInt(lo),
        type, typeName: names.get(type), offset: u64(L.offset), length: u64(L.payload_length),
      });
    }
    return out;
  }

  /**
   * vl_store_verify.
   * @returns {{ ok: boolean, problems: string[], witness: { entries: number, intact: boolean } }}
   */
  storeVerify(st) {
    const L = this.C.storeVerify;
    const p = this._stage(L.size);
    this._checkStore(this.M._vl_store_verify(st, p), st, 'verify could not read the store');
    const u32 = this.M.HEAPU32, b = p >>> 2;
    const ok = u32[b + L.ok / 4] === 1;
    const entries = u32[b + L.witness_entries / 4], intact = u32[b + L.witness_intact / 4] === 1;
    const text = this._str(this.M._vl_store_problems(st));
    const problems = text ? text.split('\n').filter((l) => l.length > 0) : [];
    return { ok: ok && problems.length === 0, problems, witness: { entries, intact } };
  }
}
