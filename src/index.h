/*
 * index.h — the index layer's private header: the layout of struct vl_index
 * and the declarations that need it. Included ONLY by the index's own files,
 * index.c (lifecycle, batches, reads, flat search), hnsw.c (graph build and
 * traversal), meta.c (records, field names, filter columns) and filter.c
 * (filter programs). Every other layer (the store, store_*.c) sees vl_index
 * as an opaque handle and goes through veclite.h and the vl__index_*
 * accessors of internal.h, so the compiler rejects a field access there.
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
 *   meta/meta_len  the node's metadata record (NULL/0 = none; tombstones: none): its own
 *                  allocation, or a record inside meta_arena (an open's buffer, never freed alone).
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
#ifndef VL_INDEX_H
#define VL_INDEX_H

#include "internal.h"
#include "quant.h"

#define VL_MAX_COLS  16u          /* filter columns kept per index */
#define VL_COL_ABSENT 0xffu

/* a search result: node slot and its external id */
typedef struct vl_hit { float d; uint32_t node; uint64_t id; } vl_hit;
/* Sort hits ascending by (d, id) (index.c; the quantized re-rank uses it too). */
void vl__hits_sort(vl_hit *a, uint32_t n);

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
    /* records an open left in one buffer (vl__index_meta_arena): meta[i] may
     * point into it (never freed alone); freed with the nodes */
    uint8_t  *meta_arena;
    uint64_t meta_arena_len, meta_arena_used;   /* its bytes; those live records use */
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

    /* tombstone reclamation (index.c reclaim): nodes removed, passes run */
    uint64_t reclaimed, reclaims;

    /* ascending live ids for vl_index_ids, rebuilt lazily after writes */
    uint64_t *sorted; uint32_t sorted_n, sorted_cap; int sorted_valid;

    /* quantization (index_quant.c; quant.h): the kind asked for (VL_QUANT_*,
     * m = product sub-vectors, 0 default) and, once trained, the quantizer
     * (qz.kind != 0). Trained, the node block keeps codes (code_size bytes
     * per node, where vecs would be) instead of float rows: vecs and
     * inv_norm are NULL, and the float rows come from fetch (the store's
     * file) for re-ranking and get(). A store asks for it only after its
     * rows are loaded, then adopts its persisted quantizer (store_quant.c). */
    uint32_t quant_kind, quant_m;
    vl_quant qz;
    uint8_t *codes;
    vl_qquery qq;                  /* the current query, prepared for qz */
    float *qscratch;               /* 2 x dim: decoded codes of node pairs */
    float *rr; uint32_t rr_cap;    /* re-rank rows (rows x dim floats) */
    float *rra;                    /* their approximate distances (rr_cap) */
    float *stage; uint32_t stage_cap;   /* vl_index_rows room of a quantized index (rows) */
    vl_row_fetch_fn fetch; void *fetch_ctx;
    uint64_t quant_trained_on;     /* rows the quantizer was trained on (0: loaded) */
    uint32_t rerank;               /* candidates re-ranked per query (0: by quantizer, vl_index_set_rerank) */

    /* keyword index of one text field (text.c); NULL: none */
    struct vl_text *text;

    char msg[256];
};

void vl__fields_free(vl_index *h);

/* ---- metadata columns (meta.c) ---- */
const struct vl_col *vl__col_get(vl_index *h, uint32_t fid);  /* NULL: none (walk records) */
void vl__cols_set_node(vl_index *h, uint32_t node);    /* recompute from meta[node] */
void vl__cols_move(vl_index *h, uint32_t dst, uint32_t src);
int  vl__cols_reserve(vl_index *h, uint32_t cap);      /* VL_OK / VL_ENOMEM */
void vl__cols_free(vl_index *h);
uint64_t vl__cols_bytes(const vl_index *h);
int  vl__cols_check(const vl_index *h);                /* VL_OK / VL_ECORRUPT (+ message) */

/* ---- keyword index (text.c), driven by the column hooks of meta.c ---- */
void vl__text_set_node(vl_index *h, uint32_t node);    /* re-index from meta[node] */
void vl__text_move(vl_index *h, uint32_t dst, uint32_t src);
void vl__text_reset(vl_index *h);                      /* drop node data, keep the field */
void vl__text_free(vl_index *h);
uint64_t vl__text_bytes(const vl_index *h);
int  vl__text_check(const vl_index *h);                /* VL_OK / VL_ECORRUPT (+ message) */
/* The TEXT segment payload of the keyword index (docs/format.md §4), with
 * the caller's stamp, into a new buffer *out (the caller frees it; NULL, 0
 * without a text field). VL_OK / VL_ENOMEM. */
int  vl__text_encode(vl_index *h, uint64_t stamp, uint8_t **out, uint64_t *len);
/* Set the text field (as vl_index_set_text, after the records are loaded)
 * from the TEXT payload p[0..plen) when it checks out and carries stamp
 * (*adopted 1), else (p NULL, another stamp: why "", or rejected: the
 * reason in why) by indexing every record.
 * VL_OK / VL_EINVAL (field name) / VL_ENOMEM. */
int  vl__text_set_adopt(vl_index *h, const char *field, uint32_t len, const uint8_t *p, uint64_t plen,
                        uint64_t stamp, int *adopted, char *why, size_t cap);
/* A registered field's id, or UINT32_MAX (meta.c; never creates one). */
uint32_t vl__field_find(const vl_index *h, const char *name, uint32_t len);

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
    vl_value lit;            /* CMP/CONTAINS literal / IN entry */
    const uint8_t *path;     /* a PATH prefix's bytes (u8 nseg, segments) or NULL */
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
/* Insert node `node` (vector or code, level, id already stored; links
 * zeroed); q is its float row (the stored one when not quantized).
 * Cannot fail: scratch was reserved by vl__hnsw_reserve. */
void vl__hnsw_insert(vl_index *h, uint32_t node, const float *q);
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
 * lists; then the graph's own per-node arrays (level, links0 rows, upper
 * lists; links renumbered) are compacted (survivors keep their relative
 * order, so the result is deterministic) and the entry point moves to a
 * survivor on the top layer if it was removed. remap (h->n entries, the
 * caller's) receives, for each old slot, its new slot or VL_NO_NODE for a
 * removed node; new slots are dense, 0..live-1, in old order. Everything
 * the index layer owns (vecs, inv_norm, ids, dead, meta, filter columns, id
 * map, n, counters) is NOT touched: the caller applies remap to it (index.c
 * reclaim). Needs 0 < h->live < h->n (else VL_EINVAL). VL_OK, or VL_ENOMEM
 * (or VL_EINVAL) with h unchanged and remap unwritten. */
int  vl__hnsw_reclaim(vl_index *h, uint32_t *remap);
uint32_t vl__random_level(vl_index *h);

/* ---- quantization (index_quant.c) ---- */
/* After a write: train the asked quantizer once live >= VL_QUANT_TRAIN_MIN,
 * then keep codes instead of rows. Out of memory: stays
 * untrained (exact), tried again after the next write. */
#define VL_QUANT_TRAIN_MIN 1024u
void  vl__quant_maybe_train(vl_index *h);
/* Replace the float rows of the node block by codes of qz (adopted: the
 * index owns it after VL_OK; on failure the caller still owns it and the
 * index is unchanged). code_for (may be NULL) returns a persisted code for
 * a node's id, or NULL to encode the row. index.c (block layout). */
int   vl__index_to_codes(vl_index *h, vl_quant *qz,
                         const uint8_t *(*code_for)(void *ctx, uint64_t id), void *ctx);
/* Distance between two nodes from their decoded codes. */
float vl__qdist_nodes(const vl_index *h, uint32_t a, uint32_t b);
/* Search scratch of a quantized index: prepared query, decode buffers. */
int   vl__quant_reserve(vl_index *h);
/* Re-rank h->res[0..got) (approximate distances, any order) with the exact
 * float rows: keeps the best `keep` by approximate distance (scalar codes
 * by default: fewer, while none of the rest could beat the k-th), replaces
 * their distances by exact ones. Returns the count kept, or a negative VL_E* when
 * the rows cannot be read (message set). Without a row source: sorts and
 * keeps the approximate distances. */
int   vl__quant_rerank(vl_index *h, const float *q, float qinv, uint32_t got, uint32_t keep, uint32_t k);
uint32_t vl__quant_rerank_count(const vl_index *h, uint32_t k, uint32_t ef);

/* Internal distance between a query (with inverse norm qinv for cosine) and
 * node i: l2sq, -dot, or 1 - cos. Smaller is closer. NaN (only possible with
 * overflowing inputs) becomes +inf so orderings stay total. */
static inline float vl__dist_node(const vl_index *h, const float *q, float qinv, uint32_t i)
{
    if (h->codes) return vl_quant_dist(&h->qz, &h->qq, h->codes + (size_t)i * h->qz.code_size);
    const float *v = h->vecs + (size_t)i * h->dim;
    float d;
    if (h->metric == VL_METRIC_L2) d = VL_K_L2SQ(q, v, h->dim);
    else if (h->metric == VL_METRIC_DOT) d = -VL_K_DOT(q, v, h->dim);
    else d = vl_k_cos_from_dot(VL_K_DOT(q, v, h->dim), qinv, h->inv_norm[i]);
    return d == d ? d : (float)INFINITY;
}

#endif /* VL_INDEX_H */
