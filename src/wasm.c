/*
 * wasm.c — the WebAssembly glue: the only C file with Emscripten specifics
 * (docs/conventions.md §1, §8). Everything JavaScript calls is either a veclite.h
 * function exported as is (listed in src/wasm-exports.json) or one of the
 * vl__wasm_* helpers below. worker/bind.js is their only caller.
 *
 * What lives here and why:
 *   - vl__wasm_consts(): error codes, metrics, index kinds, metadata tags,
 *     filter opcodes, limits and the byte layout of vl_config / vl_stats as
 *     one static JSON string, so JS never copies an enum or an offset
 *     [sqlite sqlite3__wasm_enum_json]. The layout is computed with offsetof
 *     and pinned with static_assert.
 *   - vl__wasm_malloc / vl__wasm_free: the allocator the core uses (libc
 *     malloc, dlmalloc in this build); JS frees only what it got from here.
 *   - A staging area (vl__wasm_stage): one 16-byte-aligned scratch block per
 *     module instance, reused by every call so a search does not pay a
 *     malloc/free pair. An instance is single-threaded and every bind.js call
 *     fills, calls and drops it before returning, so one block serves all
 *     handles of the instance; bind.js trims it after unusually large calls.
 *   - Batched readers (vl__wasm_search, vl__wasm_get_batch, vl__wasm_dist_ids)
 *     that fold "search, then fetch each hit's metadata/vector" into ONE call
 *     across the boundary, built only on the public veclite.h API.
 *   - vl__wasm_count: vl_index_count returns uint64_t, which Emscripten would
 *     legalise into two halves without -sWASM_BIGINT; a double is exact up to
 *     2^53 live vectors.
 *
 * Invariants:
 *   - 64-bit ids never cross as scalar arguments: always uint64_t arrays,
 *     written and read by JS through views of the heap.
 *   - Pointers handed to JS are 32-bit (wasm32; static_assert below); JS
 *     reads them with `>>> 0` because MAXIMUM_MEMORY is 4 GB.
 *   - JS storage devices (Node file, OPFS, IndexedDB) reach the core as a
 *     vl_io whose callbacks call the EM_JS functions below, which dispatch to
 *     a device object registered by integer handle in Module.vlDevices. The
 *     glue catches every exception a device throws, stashes it in
 *     Module.vlDeviceError and returns VL_EIO, so no JS exception enters C
 *     (docs/conventions.md §3). Nothing else here calls back into JS.
 */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <emscripten/emscripten.h>

#include "veclite.h"
#include "io.h"
#include "sha256.h"

#define VL_WASM_EXPORT EMSCRIPTEN_KEEPALIVE

/* Bump when a helper signature or the consts JSON changes shape; web/ checks it. */
#define VL_WASM_ABI 2

static_assert(sizeof(void *) == 4, "the glue assumes wasm32 (32-bit pointers)");
static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE-754 float/double");

/* Pin the struct layouts JS reads through vl__wasm_consts (all fixed-width). */
static_assert(offsetof(vl_config, dim) == 0, "vl_config.dim");
static_assert(offsetof(vl_config, metric) == 4, "vl_config.metric");
static_assert(offsetof(vl_config, kind) == 8, "vl_config.kind");
static_assert(offsetof(vl_config, m) == 12, "vl_config.m");
static_assert(offsetof(vl_config, ef_construction) == 16, "vl_config.ef_construction");
static_assert(offsetof(vl_config, ef_search) == 20, "vl_config.ef_search");
static_assert(offsetof(vl_config, seed) == 24, "vl_config.seed (8-aligned for BigUint64Array)");
static_assert(sizeof(vl_config) == 32, "vl_config size");
static_assert(offsetof(vl_stats, live) == 0, "vl_stats.live");
static_assert(offsetof(vl_stats, max_level) == 56, "vl_stats.max_level");
static_assert(offsetof(vl_stats, fields) == 60, "vl_stats.fields");
static_assert(offsetof(vl_stats, reclaimed) == 64, "vl_stats.reclaimed (appended)");
static_assert(offsetof(vl_stats, reclaims) == 72, "vl_stats.reclaims (appended)");
static_assert(offsetof(vl_stats, capacity) == 80, "vl_stats.capacity (appended)");
static_assert(offsetof(vl_stats, node_bytes) == 88, "vl_stats.node_bytes (appended)");
static_assert(sizeof(vl_stats) == 96, "vl_stats size");
static_assert(offsetof(vl_store_status, live) == 0, "vl_store_status.live");
static_assert(offsetof(vl_store_status, epoch) == 48, "vl_store_status.epoch");
static_assert(offsetof(vl_store_status, file_id) == 80, "vl_store_status.file_id");
static_assert(sizeof(vl_store_status) == 184, "vl_store_status size");
static_assert(sizeof(vl_store_seg) == 32, "vl_store_seg size");
static_assert(sizeof(vl_store_verify_result) == 16, "vl_store_verify_result size");

/* ======================================================================
 * Constants as JSON
 * ====================================================================== */

typedef struct { const char *name; int64_t value; } kv;

#define KV(prefix, name) { #name, (int64_t)(prefix##name) }

static const kv k_errors[] = {
    KV(VL_, OK), KV(VL_, EINVAL), KV(VL_, ENOTFOUND), KV(VL_, ELOCK), KV(VL_, EREADONLY),
    KV(VL_, ECORRUPT), KV(VL_, EVERSION), KV(VL_, EBACKEND), KV(VL_, EBUDGET),
    KV(VL_, ECLOSED), KV(VL_, EIO), KV(VL_, ENOMEM), KV(VL_, EFATAL),
};
static const kv k_outcomes[] = {
    KV(VL_OUTCOME_, NONE), KV(VL_OUTCOME_, NOT_WRITTEN), KV(VL_OUTCOME_, UNKNOWN),
};
static const kv k_metrics[] = { KV(VL_METRIC_, L2), KV(VL_METRIC_, DOT), KV(VL_METRIC_, COSINE) };
static const kv k_kinds[] = { KV(VL_INDEX_, FLAT), KV(VL_INDEX_, HNSW) };
static const kv k_tags[] = {
    KV(VL_TAG_, NULL), KV(VL_TAG_, STR), KV(VL_TAG_, BYTES), KV(VL_TAG_, I64),
    KV(VL_TAG_, U64), KV(VL_TAG_, F64), KV(VL_TAG_, BOOL), KV(VL_TAG_, JSON),
};
static const kv k_fops[] = {
    KV(VL_F_, TRUE), KV(VL_F_, AND), KV(VL_F_, OR), KV(VL_F_, NOT),
    KV(VL_F_, EXISTS), KV(VL_F_, CMP), KV(VL_F_, IN), KV(VL_F_, CONTAINS), KV(VL_F_, PATH),
};
static const kv k_cmp[] = {
    KV(VL_CMP_, EQ), KV(VL_CMP_, NE), KV(VL_CMP_, LT), KV(VL_CMP_, LE),
    KV(VL_CMP_, GT), KV(VL_CMP_, GE),
};
static const kv k_limits[] = {
    KV(VL_, MAX_DIM), KV(VL_, MAX_M), KV(VL_, MAX_EF), KV(VL_, MAX_K),
    KV(VL_, MAX_META_BYTES), KV(VL_, MAX_FIELDS), KV(VL_, MAX_FIELD_NAME),
    KV(VL_, FILTER_MAX_DEPTH), KV(VL_, FILTER_MAX_PATH), KV(VL_, JSON_MAX_DEPTH),
};

#define FIELD(type, f) { #f, (int64_t)offsetof(type, f) }
static const kv k_config[] = {
    { "size", (int64_t)sizeof(vl_config) },
    FIELD(vl_config, dim), FIELD(vl_config, metric), FIELD(vl_config, kind),
    FIELD(vl_config, m), FIELD(vl_config, ef_construction), FIELD(vl_config, ef_search),
    FIELD(vl_config, seed),
};
static const kv k_stats[] = {
    { "size", (int64_t)sizeof(vl_stats) },
    FIELD(vl_stats, live), FIELD(vl_stats, nodes), FIELD(vl_stats, tombstones),
    FIELD(vl_stats, memory_bytes), FIELD(vl_stats, vector_bytes),
    FIELD(vl_stats, graph_bytes), FIELD(vl_stats, meta_bytes),
    FIELD(vl_stats, max_level), FIELD(vl_stats, fields),
    FIELD(vl_stats, reclaimed), FIELD(vl_stats, reclaims),
    FIELD(vl_stats, capacity), FIELD(vl_stats, node_bytes),
};

static const kv k_store_info[] = {
    { "size", (int64_t)sizeof(vl_store_status) },
    FIELD(vl_store_status, live), FIELD(vl_store_status, deleted), FIELD(vl_store_status, loaded),
    FIELD(vl_store_status, bytes), FIELD(vl_store_status, rows_inserted_on_open),
    FIELD(vl_store_status, meta_generation), FIELD(vl_store_status, epoch),
    FIELD(vl_store_status, dim), FIELD(vl_store_status, metric),
    FIELD(vl_store_status, lineage_depth), FIELD(vl_store_status, dir_count),
    FIELD(vl_store_status, index_loaded), FIELD(vl_store_status, readonly),
    FIELD(vl_store_status, graph_dirty), FIELD(vl_store_status, file_id),
    FIELD(vl_store_status, parent_id), FIELD(vl_store_status, parent_hash),
    FIELD(vl_store_status, open_read_us), FIELD(vl_store_status, open_verify_us),
    FIELD(vl_store_status, open_idmap_us), FIELD(vl_store_status, open_rows_us),
    FIELD(vl_store_status, open_graph_us), FIELD(vl_store_status, open_meta_us),
    FIELD(vl_store_status, open_total_us), FIELD(vl_store_status, memory_bytes),
};
static_assert(sizeof(vl_store_refresh_result) == 32, "vl_store_refresh_result size");
static const kv k_store_refresh[] = {
    { "size", (int64_t)sizeof(vl_store_refresh_result) },
    FIELD(vl_store_refresh_result, status), FIELD(vl_store_refresh_result, epoch),
    FIELD(vl_store_refresh_result, added), FIELD(vl_store_refresh_result, deleted),
    FIELD(vl_store_refresh_result, meta),
};
static const kv k_store_seg[] = {
    { "size", (int64_t)sizeof(vl_store_seg) },
    FIELD(vl_store_seg, seg_id), FIELD(vl_store_seg, offset),
    FIELD(vl_store_seg, payload_length), FIELD(vl_store_seg, seg_type),
};
static const kv k_store_verify[] = {
    { "size", (int64_t)sizeof(vl_store_verify_result) },
    FIELD(vl_store_verify_result, ok), FIELD(vl_store_verify_result, problems),
    FIELD(vl_store_verify_result, witness_entries), FIELD(vl_store_verify_result, witness_intact),
};
static const kv k_store_flags[] = { KV(VL_STORE_, READONLY), KV(VL_STORE_, CREATE) };
static const kv k_kmeans[] = { KV(VL_KMEANS_, PLUSPLUS), KV(VL_KMEANS_, RANDOM), KV(VL_KMEANS_, MAX_ITER) };
static const kv k_quant[] = { KV(VL_QUANT_, NONE), KV(VL_QUANT_, SCALAR), KV(VL_QUANT_, PRODUCT) };
static_assert(sizeof(vl_quant_info) == 32, "vl_quant_info size");
static const kv k_quant_info[] = {
    { "size", (int64_t)sizeof(vl_quant_info) },
    FIELD(vl_quant_info, kind), FIELD(vl_quant_info, trained), FIELD(vl_quant_info, code_bytes),
    FIELD(vl_quant_info, m), FIELD(vl_quant_info, table_bytes), FIELD(vl_quant_info, trained_on),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A tiny bounded string builder (no printf: keeps stdio out of the binary). */
typedef struct { char *p, *end; } jbuf;

static void put_s(jbuf *b, const char *s) {
    while (*s && b->p < b->end) *b->p++ = *s++;
}

static void put_i(jbuf *b, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0 && b->p < b->end) *b->p++ = '-';
    while (n && b->p < b->end) *b->p++ = tmp[--n];
}

static void put_obj(jbuf *b, const char *key, const kv *items, size_t n) {
    put_s(b, ",\""); put_s(b, key); put_s(b, "\":{");
    for (size_t i = 0; i < n; i++) {
        if (i) put_s(b, ",");
        put_s(b, "\""); put_s(b, items[i].name); put_s(b, "\":");
        put_i(b, items[i].value);
    }
    put_s(b, "}");
}

static char consts_json[6144];

/* The constants JSON (static storage, built once). */
VL_WASM_EXPORT const char *vl__wasm_consts(void) {
    if (consts_json[0]) return consts_json;
    jbuf b = { consts_json, consts_json + sizeof consts_json - 1 };
    put_s(&b, "{\"abi\":"); put_i(&b, VL_WASM_ABI);
    put_s(&b, ",\"isa\":\""); put_s(&b, vl_isa_name()); put_s(&b, "\"");
    put_obj(&b, "errors", k_errors, NELEM(k_errors));
    put_obj(&b, "metrics", k_metrics, NELEM(k_metrics));
    put_obj(&b, "kinds", k_kinds, NELEM(k_kinds));
    put_obj(&b, "tags", k_tags, NELEM(k_tags));
    put_obj(&b, "filterOps", k_fops, NELEM(k_fops));
    put_obj(&b, "cmp", k_cmp, NELEM(k_cmp));
    put_obj(&b, "limits", k_limits, NELEM(k_limits));
    put_obj(&b, "config", k_config, NELEM(k_config));
    put_obj(&b, "stats", k_stats, NELEM(k_stats));
    put_obj(&b, "storeInfo", k_store_info, NELEM(k_store_info));
    put_obj(&b, "storeRefresh", k_store_refresh, NELEM(k_store_refresh));
    put_obj(&b, "storeSeg", k_store_seg, NELEM(k_store_seg));
    put_obj(&b, "storeVerify", k_store_verify, NELEM(k_store_verify));
    put_obj(&b, "storeFlags", k_store_flags, NELEM(k_store_flags));
    put_obj(&b, "outcomes", k_outcomes, NELEM(k_outcomes));
    put_obj(&b, "quant", k_quant, NELEM(k_quant));
    put_obj(&b, "quantInfo", k_quant_info, NELEM(k_quant_info));
    put_obj(&b, "kmeans", k_kmeans, NELEM(k_kmeans));
    put_s(&b, "}");
    *b.p = '\0';
    return consts_json;
}

/* ======================================================================
 * Memory: the core's allocator and the staging area
 * ====================================================================== */

/* malloc as the core uses it; never returns a pointer for n == 0 surprises. */
VL_WASM_EXPORT void *vl__wasm_malloc(uint32_t n) { return malloc(n ? n : 1); }
VL_WASM_EXPORT void vl__wasm_free(void *p) { free(p); }

static void *stage_ptr;
static uint32_t stage_cap;

/* A 16-byte-aligned block of at least `bytes` bytes; contents are NOT kept
 * across calls. NULL when memory is exhausted (the old block is gone too). */
VL_WASM_EXPORT void *vl__wasm_stage(uint32_t bytes) {
    if (bytes <= stage_cap && stage_ptr) return stage_ptr;
    free(stage_ptr);
    stage_ptr = NULL;
    stage_cap = 0;
    /* Round up to 64 KiB so a growing batch does not reallocate every call. */
    uint64_t want = ((uint64_t)(bytes ? bytes : 1) + 0xFFFFu) & ~(uint64_t)0xFFFFu;
    if (want > 0xFFFF0000u) return NULL;
    stage_ptr = aligned_alloc(16, (size_t)want);
    if (stage_ptr) stage_cap = (uint32_t)want;
    return stage_ptr;
}

/* Release the staging block if it is larger than keep bytes. */
VL_WASM_EXPORT void vl__wasm_stage_trim(uint32_t keep) {
    if (stage_cap > keep) {
        free(stage_ptr);
        stage_ptr = NULL;
        stage_cap = 0;
    }
}

VL_WASM_EXPORT uint32_t vl__wasm_stage_cap(void) { return stage_cap; }

uint64_t vl__mem_live(void);        /* mem.c (internal.h) */
uint64_t vl__mem_peak(void);
void vl__mem_peak_reset(void);

/* mem.c's byte trace (bytes the core holds now, and the most since the last
 * reset), as doubles (exact below 2^53): diagnostics and tests only. */
VL_WASM_EXPORT double vl__wasm_mem_live(void) { return (double)vl__mem_live(); }
VL_WASM_EXPORT double vl__wasm_mem_peak(void) { return (double)vl__mem_peak(); }
VL_WASM_EXPORT void vl__wasm_mem_peak_reset(void) { vl__mem_peak_reset(); }

/* ======================================================================
 * Batched readers
 * ====================================================================== */

/* vl_index_count as a double (exact below 2^53). */
VL_WASM_EXPORT double vl__wasm_count(const vl_index *h) { return (double)vl_index_count(h); }

/* Search, then fetch what the caller asked for of every hit, in one call.
 *   Same parameters as vl_index_search, plus (each may be NULL):
 *   meta_ptr_out, meta_len_out: nq*k slots; for hit slot s, the address and
 *       length of its metadata record (owned by h, valid until the next write)
 *   vecs_out: nq*k*dim floats; hit slot s gets its stored vector at s*dim.
 *   Slots past counts_out[q] are left untouched.
 * Errors: those of vl_index_search and vl_index_get. */
static int hit_records(vl_index *h, uint32_t nq, uint32_t k, const uint64_t *ids_out,
                       const uint32_t *counts_out, uint32_t *meta_ptr_out,
                       uint32_t *meta_len_out, float *vecs_out);

VL_WASM_EXPORT int vl__wasm_search(vl_index *h, uint32_t nq, const float *queries,
                                   uint32_t k, uint32_t ef,
                                   const uint8_t *filter, uint32_t filter_len,
                                   uint64_t *ids_out, float *dist_out, uint32_t *counts_out,
                                   uint32_t *meta_ptr_out, uint32_t *meta_len_out,
                                   float *vecs_out) {
    int rc = vl_index_search(h, nq, queries, k, ef, filter, filter_len,
                             ids_out, dist_out, counts_out);
    if (rc != VL_OK) return rc;
    return hit_records(h, nq, k, ids_out, counts_out, meta_ptr_out, meta_len_out, vecs_out);
}

/* vl__wasm_search with MMR re-ranking (vl_index_search_mmr): same outputs. */
VL_WASM_EXPORT int vl__wasm_search_mmr(vl_index *h, uint32_t nq, const float *queries,
                                       uint32_t k, uint32_t fetch_k, float lambda, uint32_t ef,
                                       const uint8_t *filter, uint32_t filter_len,
                                       uint64_t *ids_out, float *dist_out, uint32_t *counts_out,
                                       uint32_t *meta_ptr_out, uint32_t *meta_len_out,
                                       float *vecs_out) {
    int rc = vl_index_search_mmr(h, nq, queries, k, fetch_k, lambda, ef, filter, filter_len,
                                 ids_out, dist_out, counts_out);
    if (rc != VL_OK) return rc;
    return hit_records(h, nq, k, ids_out, counts_out, meta_ptr_out, meta_len_out, vecs_out);
}

/* Keyword search (vl_index_search_text): one query text, k hits with their
 * BM25 scores, plus records/vectors as vl__wasm_search. */
VL_WASM_EXPORT int vl__wasm_search_text(vl_index *h, const uint8_t *text, uint32_t text_len, uint32_t k,
                                        const uint8_t *filter, uint32_t filter_len,
                                        uint64_t *ids_out, float *score_out, uint32_t *count_out,
                                        uint32_t *meta_ptr_out, uint32_t *meta_len_out, float *vecs_out) {
    int rc = vl_index_search_text(h, text, text_len, k, filter, filter_len, ids_out, score_out, count_out);
    if (rc != VL_OK) return rc;
    return hit_records(h, 1, k, ids_out, count_out, meta_ptr_out, meta_len_out, vecs_out);
}

/* Hybrid search (vl_index_search_hybrid) of one query: fused scores,
 * distances and BM25 scores, plus records/vectors as vl__wasm_search. */
VL_WASM_EXPORT int vl__wasm_search_hybrid(vl_index *h, const float *query, const uint8_t *text, uint32_t text_len,
                                          uint32_t k, uint32_t fetch_k, float alpha, uint32_t ef,
                                          const uint8_t *filter, uint32_t filter_len,
                                          uint64_t *ids_out, float *fused_out, float *dist_out, float *text_out,
                                          uint32_t *count_out,
                                          uint32_t *meta_ptr_out, uint32_t *meta_len_out, float *vecs_out) {
    int rc = vl_index_search_hybrid(h, query, text, text_len, k, fetch_k, alpha, ef, filter, filter_len,
                                    ids_out, fused_out, dist_out, text_out, count_out);
    if (rc != VL_OK) return rc;
    return hit_records(h, 1, k, ids_out, count_out, meta_ptr_out, meta_len_out, vecs_out);
}

/* Each hit's metadata record (pointer, length) and/or stored vector. */
static int hit_records(vl_index *h, uint32_t nq, uint32_t k, const uint64_t *ids_out,
                       const uint32_t *counts_out, uint32_t *meta_ptr_out,
                       uint32_t *meta_len_out, float *vecs_out) {
    int rc;
    if (!meta_ptr_out && !vecs_out) return VL_OK;
    uint32_t dim = 0;
    if (vecs_out) {
        vl_config cfg;
        rc = vl_index_config(h, &cfg);
        if (rc != VL_OK) return rc;
        dim = cfg.dim;
    }
    for (uint32_t q = 0; q < nq; q++) {
        for (uint32_t i = 0; i < counts_out[q]; i++) {
            size_t s = (size_t)q * k + i;
            const uint8_t *mp = NULL;
            uint32_t ml = 0;
            rc = vl_index_get(h, &ids_out[s], vecs_out ? vecs_out + s * dim : NULL,
                              meta_ptr_out ? &mp : NULL, meta_ptr_out ? &ml : NULL);
            if (rc != VL_OK) return rc;
            if (meta_ptr_out) {
                meta_ptr_out[s] = (uint32_t)(uintptr_t)mp;
                meta_len_out[s] = mp ? ml : 0;
            }
        }
    }
    return VL_OK;
}

/* Get n ids at once. found_out[i] = 1 if ids[i] is live, else 0 (its other
 * slots untouched). vecs_out (n*dim floats), meta_ptr_out and meta_len_out
 * (n slots each) may be NULL. Errors: VL_EINVAL only for bad arguments. */
VL_WASM_EXPORT int vl__wasm_get_batch(const vl_index *h, uint32_t n, const uint64_t *ids,
                                      float *vecs_out, uint32_t *meta_ptr_out,
                                      uint32_t *meta_len_out, uint32_t *found_out) {
    uint32_t dim = 0;
    if (vecs_out) {
        vl_config cfg;
        int rc = vl_index_config(h, &cfg);
        if (rc != VL_OK) return rc;
        dim = cfg.dim;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *mp = NULL;
        uint32_t ml = 0;
        int rc = vl_index_get(h, &ids[i], vecs_out ? vecs_out + (size_t)i * dim : NULL,
                              meta_ptr_out ? &mp : NULL, meta_ptr_out ? &ml : NULL);
        if (rc == VL_ENOTFOUND) { found_out[i] = 0; continue; }
        if (rc != VL_OK) return rc;
        found_out[i] = 1;
        if (meta_ptr_out) {
            meta_ptr_out[i] = (uint32_t)(uintptr_t)mp;
            meta_len_out[i] = mp ? ml : 0;
        }
    }
    return VL_OK;
}

/* Distances from one query to n live ids with the build's kernels, in the
 * API's units (true L2 for euclidean, -dot, 1 - cos; vl_dist_dot is the plain
 * dot product). Used by the exact scan
 * that completes a JS-predicate search. An id that is not live gets NaN (the
 * predicate may have deleted it meanwhile). Errors: VL_EINVAL, VL_ENOMEM. */
VL_WASM_EXPORT int vl__wasm_dist_ids(const vl_index *h, const float *query, uint32_t n,
                                     const uint64_t *ids, float *dist_out) {
    vl_config cfg;
    int rc = vl_index_config(h, &cfg);
    if (rc != VL_OK) return rc;
    float *v = malloc((size_t)cfg.dim * sizeof(float));
    if (!v) return VL_ENOMEM;
    for (uint32_t i = 0; i < n && rc == VL_OK; i++) {
        rc = vl_index_get(h, &ids[i], v, NULL, NULL);
        if (rc == VL_ENOTFOUND) { dist_out[i] = NAN; rc = VL_OK; continue; }
        if (rc != VL_OK) break;
        switch (cfg.metric) {
        case VL_METRIC_L2: dist_out[i] = sqrtf(vl_dist_l2sq(query, v, cfg.dim)); break;
        case VL_METRIC_DOT: dist_out[i] = -vl_dist_dot(query, v, cfg.dim); break;
        default: {
            /* Clamped to [0, 2] like the distances vl_index_search reports. */
            float d = vl_dist_cos(query, v, cfg.dim);
            dist_out[i] = d < 0.f ? 0.f : d > 2.f ? 2.f : d;
            break;
        }
        }
    }
    free(v);
    return rc;
}

/* ======================================================================
 * Storage devices: JS-backed vl_io and the memory device
 * ======================================================================
 * A JS device is any object with these methods, registered by the binding
 * layer under an integer handle in Module.vlDevices (a Map the binding
 * creates; the glue treats a missing map or handle as a failed device):
 *
 *   read(off: number, dst: Uint8Array) -> rc    fill dst with bytes [off, off+dst.length)
 *   append(src: Uint8Array) -> rc               append all of src at the end
 *   size() -> number                            current size in bytes (>= 0), or a negative rc
 *   truncate(size: number) -> rc                shrink to size bytes
 *   sync() -> rc                                make appended bytes durable
 *
 * rc is 0 (VL_OK) or a negative VL_E* code (VL_EIO for device failures).
 * Methods are synchronous (an async device buffers and flushes elsewhere).
 * The Uint8Array views alias the wasm heap and are valid only during the
 * call: a device copies what it keeps. Offsets and sizes are JS numbers
 * (exact below 2^53). A method that throws, or returns anything but an
 * integer, is reported as VL_EIO; the exception is kept in
 * Module.vlDeviceError for the binding's error message (io.h invariants).
 */

EM_JS(int, vl_js_dev_read, (int handle, double off, uint8_t *ptr, uint32_t len), {
    try {
        var m = Module["vlDevices"], d = m && m.get(handle);
        if (!d) return -10;
        var rc = d.read(off, HEAPU8.subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0)));
        return (typeof rc === "number" && rc <= 0) ? rc | 0 : -10;
    } catch (e) { Module["vlDeviceError"] = e; return -10; }
});

/* n reads of len bytes: offsets as n doubles at offs, row i into ptr + i*len */
EM_JS(int, vl_js_dev_read_many, (int handle, const double *offs, uint32_t n, uint32_t len, uint8_t *ptr), {
    try {
        var m = Module["vlDevices"], d = m && m.get(handle);
        if (!d) return -10;
        var o = HEAPF64.subarray((offs >>> 0) >>> 3, ((offs >>> 0) >>> 3) + (n >>> 0));
        var rc = d.readMany(o, len >>> 0, HEAPU8.subarray(ptr >>> 0, (ptr >>> 0) + (n >>> 0) * (len >>> 0)));
        return (typeof rc === "number" && rc <= 0) ? rc | 0 : -10;
    } catch (e) { Module["vlDeviceError"] = e; return -10; }
});

EM_JS(int, vl_js_dev_append, (int handle, const uint8_t *ptr, uint32_t len), {
    try {
        var m = Module["vlDevices"], d = m && m.get(handle);
        if (!d) return -10;
        var rc = d.append(HEAPU8.subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0)));
        return (typeof rc === "number" && rc <= 0) ? rc | 0 : -10;
    } catch (e) { Module["vlDeviceError"] = e; return -10; }
});

EM_JS(double, vl_js_dev_size, (int handle), {
    try {
        var m = Module["vlDevices"], d = m && m.get(handle);
        if (!d) return -10;
        var n = d.size();
        return (typeof n === "number" && n === Math.floor(n)) ? n : -10;
    } catch (e) { Module["vlDeviceError"] = e; return -10; }
});

EM_JS(int, vl_js_dev_truncate, (int handle, double size), {
    try {
        var m = Module["vlDevices"], d = m && m.get(handle);
        if (!d) return -10;
        var rc = d.truncate(size);
        return (typeof rc === "number" && rc <= 0) ? rc | 0 : -10;
    } catch (e) { Module["vlDeviceError"] = e; return -10; }
});

EM_JS(int, vl_js_dev_sync, (int handle), {
    try {
        var m = Module["vlDevices"], d = m && m.get(handle);
        if (!d) return -10;
        var rc = d.sync();
        return (typeof rc === "number" && rc <= 0) ? rc | 0 : -10;
    } catch (e) { Module["vlDeviceError"] = e; return -10; }
});

/* read() of a device that also hashes (has_crc at vl__wasm_io_js_new):
 * readCrc(off, dst, crc) -> the CRC-32 of dst chained from crc (0..2^32-1),
 * or a negative rc. */
EM_JS(double, vl_js_dev_read_crc, (int handle, double off, uint8_t *ptr, uint32_t len, double crc), {
    try {
        var m = Module["vlDevices"], d = m && m.get(handle);
        if (!d) return -10;
        var r = d.readCrc(off, HEAPU8.subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0)), crc);
        return (typeof r === "number" && r === Math.floor(r) && r >= -12 && r <= 4294967295) ? r : -10;
    } catch (e) { Module["vlDeviceError"] = e; return -10; }
});

/* SHA-256 by the host: Module.vlSha256(bytes) -> 32 bytes (installed by the
 * binding with vl__wasm_host_sha256(1)); 1: not available, use the C code. */
EM_JS(int, vl_js_sha256, (const uint8_t *ptr, uint32_t len, uint8_t *out), {
    try {
        var f = Module["vlSha256"];
        if (typeof f !== "function") return 1;
        var d = f(HEAPU8.subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0)));
        if (!d || d.length !== 32) return 1;
        HEAPU8.set(d, out >>> 0);
        return 0;
    } catch (e) { return 1; }
});

static int host_sha256(const void *data, size_t len, uint8_t out[32])
{
    return len > UINT32_MAX ? 1 : vl_js_sha256(data, (uint32_t)len, out);
}

/* on: vl_sha256 of big inputs goes to Module.vlSha256 (sha256.h). */
VL_WASM_EXPORT void vl__wasm_host_sha256(int32_t on) { vl__sha256_host(on ? host_sha256 : NULL); }

typedef struct js_dev {
    vl_io io;          /* first: the vl_io pointer is the device pointer */
    int32_t handle;
} js_dev;

static int js_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
    return vl_js_dev_read(((js_dev *)ctx)->handle, (double)off, buf, len);
}

static int js_read_crc(void *ctx, uint64_t off, void *buf, uint32_t len, uint32_t *crc)
{
    double r = vl_js_dev_read_crc(((js_dev *)ctx)->handle, (double)off, buf, len, (double)*crc);
    if (r < 0) return (int)r;
    *crc = (uint32_t)r;
    return VL_OK;
}

static int js_read_many(void *ctx, uint32_t n, const uint64_t *offs, uint32_t len, void *buf)
{
    double o[64];
    for (uint32_t at = 0; at < n; at += 64) {
        uint32_t m = n - at < 64 ? n - at : 64;
        for (uint32_t i = 0; i < m; i++) o[i] = (double)offs[at + i];
        int rc = vl_js_dev_read_many(((js_dev *)ctx)->handle, o, m, len, (uint8_t *)buf + (size_t)at * len);
        if (rc) return rc;
    }
    return VL_OK;
}

static int js_append(void *ctx, const void *buf, uint32_t len)
{
    return vl_js_dev_append(((js_dev *)ctx)->handle, buf, len);
}

static int js_size(void *ctx, uint64_t *out)
{
    double n = vl_js_dev_size(((js_dev *)ctx)->handle);
    if (!(n >= 0)) return n < 0 && n >= -12 ? (int)n : VL_EIO;
    if (n > 9007199254740992.0) return VL_EIO;
    *out = (uint64_t)n;
    return VL_OK;
}

static int js_truncate(void *ctx, uint64_t size)
{
    return vl_js_dev_truncate(((js_dev *)ctx)->handle, (double)size);
}

static int js_sync(void *ctx) { return vl_js_dev_sync(((js_dev *)ctx)->handle); }

/* A vl_io calling the JS device registered under `handle` (see above);
 * has_crc: the device has readCrc (vl_io.read_crc). NULL when out of
 * memory. Free with vl__wasm_io_js_free (the JS device itself is the
 * binding's to close). */
VL_WASM_EXPORT vl_io *vl__wasm_io_js_new(int32_t handle, int32_t has_crc)
{
    js_dev *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->handle = handle;
    d->io.ctx = d;
    d->io.read = js_read;
    d->io.append = js_append;
    d->io.size = js_size;
    d->io.truncate = js_truncate;
    d->io.sync = js_sync;
    d->io.close = NULL;
    d->io.read_crc = has_crc ? js_read_crc : NULL;
    d->io.read_many = js_read_many;
    return &d->io;
}

VL_WASM_EXPORT void vl__wasm_io_js_free(vl_io *io) { free(io); }

/* Memory device holding a copy of len bytes at init (NULL/0: empty), for
 * open(bytes) and export(). NULL when out of memory. Free with vl_io_mem_free. */
VL_WASM_EXPORT vl_io *vl__wasm_io_mem_open(const uint8_t *init, uint32_t len)
{
    vl_io *io = NULL;
    return vl_io_mem_open(init, len, &io) == VL_OK ? io : NULL;
}

/* Current contents of a memory device: the address (valid until the next
 * append/truncate/free); the length is vl__wasm_io_mem_size. */
VL_WASM_EXPORT const uint8_t *vl__wasm_io_mem_data(const vl_io *io)
{
    return vl_io_mem_data(io, NULL);
}

VL_WASM_EXPORT double vl__wasm_io_mem_size(const vl_io *io)
{
    uint64_t n = 0;
    (void)vl_io_mem_data(io, &n);
    return (double)n;
}
