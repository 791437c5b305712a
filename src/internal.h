/*
 * internal.h — private declarations shared by the C core files (not part of
 * the public API; never included by callers of veclite.h).
 *
 * The index (struct vl_index) lives here so index.c (lifecycle, batches,
 * reads, flat search), hnsw.c (graph build and traversal), meta.c (records
 * and field names) and filter.c (filter programs) can share it.
 *
 * Storage layout of an index with n nodes (slots 0..n-1) and capacity cap:
 * every per-node array below, and the search's candidate heap, point into
 * ONE allocation (`block`, index.c "the node block"), vectors first.
 *   vecs      n*dim floats, row i = node i (malloc alignment: the kernels
 *             load unaligned, and rows are not 64-byte aligned for most dims
 *             anyway).
 *   inv_norm  cosine only: 1/||v_i|| in float (the raw vector is kept so
 *             get() returns exactly what was inserted).
 *   ids       external u64 id of every node (tombstones keep theirs).
 *   dead      1 for a tombstone (deleted or superseded by an upsert).
 *   meta/meta_len  the node's metadata record (NULL/0 = none; tombstones: none).
 *   HNSW only:
 *     level    top layer of the node.
 *     links0   layer 0, flat: node*(M0+1) u32 = { count, M0 neighbour slots }.
 *     upper    per node with level > 0: level*(M+1) u32, layer l (1-based) at
 *              (l-1)*(M+1) = { count, M neighbour slots }.
 * Filter support: per-field value columns (meta.c) and the compiled filter of
 * the current search (filter.c), both owned by the index.
 * Invariants (checked by vl_index_check): the id map holds exactly the live
 * nodes, each mapped to the slot whose ids[] equals the key; links point to
 * nodes < n whose level is >= the layer, never to themselves, without
 * duplicates; the entry point is on max_level; filter columns agree with the
 * records; tombstones hold no metadata.
 */
#ifndef VL_INTERNAL_H
#define VL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include "veclite.h"
#include "dist.h"

#define VL_MAX_LEVEL 31u          /* cap on random HNSW levels (p < 1e-14 for M=16) */
#define VL_NO_NODE   UINT32_MAX
#define VL_MAX_COLS  16u          /* filter columns kept per index */
#define VL_COL_ABSENT 0xffu

/* ---- allocation wrappers (mem.c): one place for the failure test hook ---- */
void *vl_mem_alloc(size_t n);
void *vl_mem_calloc(size_t n, size_t size);
void *vl_mem_realloc(void *p, size_t n);
/* realloc for a large block that keeps growing: tries to extend it in place
 * first (see mem.c); NULL on failure (p untouched). */
void *vl_mem_grow(void *p, size_t n);
void  vl_mem_free(void *p);
/* Byte trace (mem.c; tests and diagnostics, process-wide): usable bytes the
 * engine holds now, the highest value since the last reset (a realloc that
 * moves counts old and new at once), and reset of the peak to the current
 * value. 0 where the C library has no malloc_usable_size. */
uint64_t vl__mem_live(void);
uint64_t vl__mem_peak(void);
void     vl__mem_peak_reset(void);
/* Test hook: the next `n` allocations succeed, every later one fails
 * (returns NULL) until called again; n < 0 disables (the default). */
void  vl__test_alloc_fail_after(int32_t n);
/* Test hook (index.c): plan of filtered searches: 0 automatic (default),
 * 1 always traverse the graph (HNSW), 2 always scan exactly, 3 scan exactly
 * evaluating the filter per node instead of column-wise. */
void  vl__test_filter_plan(int32_t mode);

/* ---- id map (idmap.c): open addressing, linear probing, backward-shift delete ---- */
typedef struct vl_idmap {
    uint64_t *keys;
    uint32_t *vals;      /* VL_NO_NODE marks an empty slot */
    uint32_t cap;        /* power of two, or 0 */
    uint32_t count;
} vl_idmap;

uint32_t vl_idmap_get(const vl_idmap *m, uint64_t key);          /* VL_NO_NODE if absent */
/* Make room for `extra` more keys without failing later inserts. VL_OK / VL_ENOMEM. */
int      vl_idmap_reserve(vl_idmap *m, uint32_t extra);
void     vl_idmap_put(vl_idmap *m, uint64_t key, uint32_t val);   /* needs reserved room */
int      vl_idmap_del(vl_idmap *m, uint64_t key);                 /* 1 if removed */
void     vl_idmap_free(vl_idmap *m);
uint64_t vl_idmap_bytes(const vl_idmap *m);

/* ---- pairs and hits (used by search) ---- */
typedef struct vl_pair { float d; uint32_t id; } vl_pair;            /* id = node slot */
typedef struct vl_hit  { float d; uint32_t node; uint64_t id; } vl_hit; /* id = external */

/* ---- the index ---- */
struct vl_index {
    vl_config cfg;           /* defaults applied */
    uint32_t dim, metric, kind;
    uint32_t M, M0, efc;
    double   level_mult;     /* 1 / ln(M) */
    uint64_t rng;            /* level RNG state (splitmix64) */

    /* nodes: every per-node array below (and cand) points into `block`,
     * one allocation sized for cap nodes (index.c, "the node block") */
    uint32_t n, cap, live;
    void     *block;
    float    *vecs;
    float    *inv_norm;
    uint64_t *ids;
    uint8_t  *dead;
    uint8_t  **meta;
    uint32_t *meta_len;
    uint64_t meta_bytes;
    /* HNSW */
    uint8_t  *level;
    uint32_t *links0;
    uint32_t **upper;
    uint64_t upper_bytes;
    uint32_t entry;          /* VL_NO_NODE when empty */
    uint32_t max_level;

    vl_idmap map;

    /* field-name registry */
    uint32_t n_fields, fields_cap;
    char     **field_name;
    uint32_t *field_len;
    uint32_t *field_hash;    /* open-addressing table of field ids (+1; 0 = empty) */
    uint32_t field_hash_cap;
    uint32_t *field_stamp;   /* duplicate detection while validating records */
    uint32_t stamp_gen;

    /* search scratch: reused, grown on demand, never shrunk */
    uint16_t *visit;         /* cap entries */
    uint16_t visit_tag;
    vl_pair  *cand;  uint32_t cand_cap;   /* candidate heap (<= n entries) */
    vl_pair  *top;   uint32_t top_cap;    /* result heap (<= ef+1 entries) */
    vl_pair  *sel;   uint32_t sel_cap;    /* neighbour selection scratch */
    vl_hit   *res;   uint32_t res_cap;    /* final per-query results */

    /* filter columns (meta.c): for a field used in filters, each node's tag
     * (VL_COL_ABSENT if the node lacks the field) and value: the 8 LE bytes of
     * a number, the byte of a BOOL, or for STR/BYTES/JSON the offset of the
     * value's u32 length inside the node's record. Built on first use, kept
     * current by every metadata write. */
    struct vl_col { uint32_t fid; uint8_t *tag; uint64_t *raw; } cols[VL_MAX_COLS];
    uint32_t n_cols;
    /* the current search's compiled filter */
    struct vl_finst *fprog; uint32_t fprog_cap;
    uint32_t fdepth;         /* nesting depth of the compiled filter (root = 1) */
    uint8_t *fmatch; uint64_t fmatch_cap;  /* match bytes per node (+ scratch levels) */

    /* tombstone reclamation (vl__hnsw_reclaim): nodes removed, passes run */
    uint64_t reclaimed, reclaims;

    /* ascending live ids for vl_index_ids, rebuilt lazily after writes */
    uint64_t *sorted; uint32_t sorted_n, sorted_cap; int sorted_valid;

    char msg[256];
};

/* errmsg helper (index.c); h may be const at the call site: the message
 * buffer is the one logically mutable part of a handle. */
void vl__msg(const vl_index *h, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* index.c: new dimension for an index that never held a row (VL_EINVAL
 * otherwise). Used by vl_store_set_dim for dimension-0 stores. */
int vl__index_set_dim(vl_index *h, uint32_t dim);

/* ---- metadata (meta.c) ---- */
/* Validate one record. n_fields_known: field ids must be < it (UINT32_MAX:
 * any id). h (may be NULL) supplies the duplicate-detection stamps; without
 * it duplicates are not checked. On error writes a reason into why[why_len]. */
int vl__meta_validate(vl_index *h, const uint8_t *rec, uint32_t len,
                      uint32_t n_fields_known, char *why, size_t why_len);
uint64_t vl__fields_bytes(const vl_index *h);
void vl__fields_free(vl_index *h);

/* A decoded metadata value. */
typedef struct vl_value {
    uint8_t tag;
    const uint8_t *p;        /* payload: 8 bytes for numbers, len bytes for STR/BYTES/JSON */
    uint32_t len;
} vl_value;
/* Find field `fid` in a valid record; 1 if present (v filled), 0 if absent. */
int vl__meta_find(const uint8_t *rec, uint32_t len, uint32_t fid, vl_value *v);
/* Decode one value of `tag` at p (bounds-checked against end); returns bytes
 * consumed (0 for NULL) or UINT32_MAX on error. Also validates BOOL and UTF-8. */
uint32_t vl__value_decode(uint8_t tag, const uint8_t *p, const uint8_t *end, vl_value *v);
int vl__utf8_valid(const uint8_t *s, uint32_t len);

/* Filter columns (meta.c). */
const struct vl_col *vl__col_get(vl_index *h, uint32_t fid);  /* NULL: none (walk records) */
void vl__cols_set_node(vl_index *h, uint32_t node);    /* recompute from meta[node] */
void vl__cols_move(vl_index *h, uint32_t dst, uint32_t src);
int  vl__cols_reserve(vl_index *h, uint32_t cap);      /* VL_OK / VL_ENOMEM */
void vl__cols_free(vl_index *h);
uint64_t vl__cols_bytes(const vl_index *h);
int  vl__cols_check(const vl_index *h);                /* VL_OK / VL_ECORRUPT (+ message) */

/* ---- filters (filter.c) ---- */
/* Evaluate a filter already accepted by vl_filter_check against a record
 * already accepted by vl__meta_validate: 1 match, 0 no match. */
int vl__filter_match(const uint8_t *f, uint32_t flen, const uint8_t *rec, uint32_t rec_len);

/* A filter compiled for one search: prefix-ordered instructions with decoded
 * literals and resolved columns. */
typedef struct vl_finst {
    uint8_t op;              /* VL_F_*, or VL_FI_VALUE for an IN list entry */
    uint8_t cmp;
    uint16_t fid;
    uint32_t n;              /* AND/OR: children; IN: values */
    uint32_t end;            /* index one past this subtree */
    const struct vl_col *col;/* column of fid, or NULL */
    vl_value lit;            /* CMP literal / IN entry */
} vl_finst;
#define VL_FI_VALUE 255
/* Compile a checked filter into h->fprog (building columns as needed).
 * VL_OK / VL_ENOMEM. */
int vl__filter_compile(vl_index *h, const uint8_t *f, uint32_t flen);
/* Whether live-or-not node matches the compiled filter. */
int vl__filter_node(const vl_index *h, uint32_t node);
/* The compiled filter for every node at once: *out[i] = 1 if node i matches
 * (tombstones included). Column-wise, ~5x cheaper per node than
 * vl__filter_node. VL_OK, or VL_ENOMEM (caller falls back per node). */
int vl__filter_bytemap(vl_index *h, const uint8_t **out);

/* ---- HNSW (hnsw.c) ---- */
/* Insert node `node` (vector, level, id already stored; links zeroed).
 * Cannot fail: scratch was reserved by vl__hnsw_reserve. */
void vl__hnsw_insert(vl_index *h, uint32_t node);
/* Make sure inserting up to `total_nodes` nodes needs no allocation. */
int  vl__hnsw_reserve(vl_index *h, uint32_t total_nodes);
/* Ensure search scratch for beam width ef (and k results). VL_OK / VL_ENOMEM. */
int  vl__search_reserve(vl_index *h, uint32_t ef);
/* Graph search for one query: up to ef (d, node) pairs of live nodes (that
 * match the compiled filter when `filtered`) into out, unsorted; returns how
 * many. */
uint32_t vl__hnsw_search(vl_index *h, const float *q, float qinv, uint32_t ef, int filtered,
                         vl_pair *out);
int  vl__hnsw_check(const vl_index *h);
/* Remove every tombstone from the graph: each surviving node's lists that
 * pointed at removed nodes are re-selected (hnswlib's heuristic) from their
 * surviving links plus the survivors reachable through the removed nodes'
 * lists; then node arrays, filter columns and the id map are compacted
 * (survivors keep their relative order, so the result is deterministic)
 * and the entry point moves to a survivor on the top layer if it was
 * removed. Needs h->live > 0. VL_OK, or VL_ENOMEM with h unchanged. */
int  vl__hnsw_reclaim(vl_index *h);
uint32_t vl__random_level(vl_index *h);

/* Internal distance between a query (with inverse norm qinv for cosine) and
 * node i: l2sq, -dot, or 1 - cos. Smaller is closer. NaN (only possible with
 * overflowing inputs) becomes +inf so orderings stay total. */
static inline float vl__dist_node(const vl_index *h, const float *q, float qinv, uint32_t i)
{
    const float *v = h->vecs + (size_t)i * h->dim;
    float d;
    if (h->metric == VL_METRIC_L2) d = VL_K_L2SQ(q, v, h->dim);
    else if (h->metric == VL_METRIC_DOT) d = -VL_K_DOT(q, v, h->dim);
    else d = vl_k_cos_from_dot(VL_K_DOT(q, v, h->dim), qinv, h->inv_norm[i]);
    return d == d ? d : (float)INFINITY;
}


/* ---- graph import (index.c; used by the store layer, store_index.c) ----
 * A graph in a flat, position-independent form: node i's per-layer lists
 * (layers 0..level[i], each { cnt, cnt neighbour indexes }) are adj[off[i]
 * .. off[i+1]). */
typedef struct vl_graph {
    uint32_t n, M, M0;
    uint32_t entry;          /* VL_NO_NODE when n == 0 */
    uint32_t max_level;
    uint8_t  *level;         /* n */
    uint32_t *off;           /* n + 1 */
    uint32_t *adj;
} vl_graph;
void vl__graph_free(vl_graph *g);
/* Make the EMPTY HNSW index h hold g's nodes with their links: node i gets
 * ids[i], the vector vecs[i*dim..], dead[i] (1 = routing tombstone, never
 * returned). g must satisfy the graph invariants (levels <= VL_MAX_LEVEL,
 * counts <= M/M0, neighbours < n of sufficient level, no self links or
 * duplicates, entry on max_level); they are re-checked here, as are the
 * vectors (finite; non-zero under cosine) and that live ids are distinct.
 * Errors: VL_EINVAL (h not empty/HNSW, g->M != h's M, a check failed;
 * message in vl_errmsg), VL_ENOMEM. On error h is left empty. */
int vl__index_import(vl_index *h, const vl_graph *g, const uint64_t *ids, const float *vecs,
                     const uint8_t *dead);

#endif /* VL_INTERNAL_H */
