/*
 * index.c — the vl_index handle: lifecycle, batched writes, reads, exact
 * (flat) search, the search driver for both kinds, and vl_index_check.
 * Graph construction and traversal live in hnsw.c, records and field names
 * in meta.c, filter programs in filter.c; the storage layout and invariants
 * are described in index.h (private to the index files; other layers use
 * the vl__index_* accessors defined below, declared in internal.h).
 *
 * Write discipline (veclite.h): every batch is validated completely, then
 * every allocation it can need is made (node arrays, id map, record copies,
 * HNSW upper-layer link lists and traversal scratch; the level RNG state is
 * saved), and only then is anything changed, so VL_EINVAL and VL_ENOMEM
 * both leave the index exactly as it was.
 *
 * Flat index: a delete moves the last node into the hole (dense storage,
 * no tombstones); an upsert of an existing id overwrites in place.
 * HNSW: a delete tombstones the node (it keeps routing); an upsert of an
 * existing id tombstones the old node and inserts a new one. A delete that
 * leaves no live node frees the whole graph (tombstones alone route nowhere).
 * When tombstones outnumber max(live, 1024) after a write, they are removed
 * from the graph and the node arrays compacted (maybe_reclaim below,
 * vl__hnsw_reclaim in hnsw.c), so nodes stay within twice the live count.
 *
 * Ownership between the layers (the graph side is in hnsw.c's opening
 * comment): this layer (index.c with meta.c and filter.c) owns the node
 * block's allocation and every per-node column that is not the graph —
 * vecs, inv_norm, ids, dead, meta/meta_len — plus the filter columns, the
 * id map, n/live and the reclamation counters; only it moves or rewrites
 * them. hnsw.c owns the graph's contents (level, links0, upper lists,
 * upper_bytes, entry, max_level); this file only allocates their room,
 * initialises a new node's row and drops the graph when the index empties.
 * Reclamation is split accordingly: hnsw.c re-links and compacts the graph
 * and returns an old->new slot map; reclaim() below applies it here.
 *
 * Memory (WebAssembly memory never shrinks, so every transient peak of a
 * build stays in the process): all per-node arrays share one block that a
 * batch grows once, to its final size, after full validation; growth is
 * 1.5x, in place when the allocator can (vl_mem_grow); per-batch scratch
 * is 8-16 bytes per row (build_dedup); vl_index_rows lets a caller write a
 * batch straight into the block instead of staging a copy of it. src/mem.c
 * traces the bytes held and their peak for the tests.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "index.h"

/* ---- messages -------------------------------------------------------------- */

const char *vl_errstr(int rc)
{
    switch (rc) {
    case VL_OK:        return "ok";
    case VL_EINVAL:    return "invalid argument";
    case VL_ENOTFOUND: return "not found";
    case VL_ELOCK:     return "another writer holds the store";
    case VL_EREADONLY: return "store is read-only";
    case VL_ECORRUPT:  return "stored data is corrupt";
    case VL_EVERSION:  return "needs a newer veclite";
    case VL_EBACKEND:  return "storage backend unavailable";
    case VL_EBUDGET:   return "memory budget exceeded";
    case VL_ECLOSED:   return "handle is closed";
    case VL_EIO:       return "storage device failed";
    case VL_ENOMEM:    return "out of memory";
    case VL_EFATAL:    return "handle poisoned by an earlier failed write";
    default:           return "unknown error";
    }
}

void vl__msg(const vl_index *h, const char *fmt, ...)
{
    if (!h) return;
    vl_index *m = (vl_index *)h;   /* the message buffer is the handle's mutable part */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->msg, sizeof m->msg, fmt, ap);
    va_end(ap);
}

const char *vl_errmsg(const vl_index *h)
{
    if (!h) return "no index handle";
    return h->msg[0] ? h->msg : "no error";
}

/* ---- lifecycle ------------------------------------------------------------- */

int vl_index_new(const vl_config *cfg, vl_index **out)
{
    if (!cfg || !out) return VL_EINVAL;
    vl_config c = *cfg;
    if (c.dim == 0 || c.dim > VL_MAX_DIM) return VL_EINVAL;
    if (c.metric > VL_METRIC_COSINE || c.kind > VL_INDEX_HNSW) return VL_EINVAL;
    if (c.m == 0) c.m = 16;
    if (c.m < 2 || c.m > VL_MAX_M) return VL_EINVAL;
    if (c.ef_construction == 0) c.ef_construction = 200;
    if (c.ef_construction > VL_MAX_EF || c.ef_search > VL_MAX_EF) return VL_EINVAL;
    if (c.ef_construction < c.m) c.ef_construction = c.m;
    if (c.ef_search == 0) c.ef_search = 64;
    vl_index *h = vl_mem_calloc(1, sizeof *h);
    if (!h) return VL_ENOMEM;
    h->cfg = c;
    h->dim = c.dim;
    h->metric = c.metric;
    h->kind = c.kind;
    h->M = c.m;
    h->M0 = 2 * c.m;
    h->efc = c.ef_construction;
    h->level_mult = 1.0 / log((double)c.m);
    h->rng = c.seed;
    h->entry = VL_NO_NODE;
    h->visit_tag = 1;
    *out = h;
    return VL_OK;
}

/* Give an index that has never held a node a new dimension (a dimension-0
 * store fixed by its first insert, store.c vl_store_set_dim). Nothing sized
 * by the dimension exists yet: refused once any row was reserved. */
int vl__index_set_dim(vl_index *h, uint32_t dim)
{
    if (!h || dim == 0 || dim > VL_MAX_DIM) return VL_EINVAL;
    if (h->n || h->cap || h->block) {
        vl__msg(h, "the dimension of an index that has held rows cannot change");
        return VL_EINVAL;
    }
    h->dim = dim;
    h->cfg.dim = dim;
    return VL_OK;
}

/* ---- accessors for the other layers (internal.h) ---- */
uint32_t vl__index_kind(const vl_index *h) { return h->kind; }
uint32_t vl__index_dim(const vl_index *h) { return h->dim; }
uint32_t vl__index_metric(const vl_index *h) { return h->metric; }
uint32_t vl__index_M(const vl_index *h) { return h->M; }
uint32_t vl__index_efc(const vl_index *h) { return h->efc; }
uint64_t vl__index_meta_bytes(const vl_index *h) { return h->meta_bytes; }
const char *vl__index_field_name(const vl_index *h, uint32_t f, uint32_t *len)
{
    *len = h->field_len[f];
    return h->field_name[f];
}
void vl__index_copy_rng(vl_index *dst, const vl_index *src) { dst->rng = src->rng; }
void vl__index_replace(vl_index *h, vl_index *src)
{
    vl_index old;
    memcpy(&old, h, sizeof old);
    memcpy(h, src, sizeof *h);
    memcpy(src, &old, sizeof *src);
    /* a compiled filter points at its own handle's columns (vl_finst.col);
     * every search recompiles it, but leave no pointer into src behind */
    for (uint32_t i = 0; i < h->fprog_cap; i++) h->fprog[i].col = NULL;
    vl_index_free(src);
}
uint32_t vl__index_nodes(const vl_index *h) { return h->n; }
uint64_t vl__index_node_id(const vl_index *h, uint32_t node) { return h->ids[node]; }
int vl__index_node_dead(const vl_index *h, uint32_t node) { return h->dead[node]; }
const float *vl__index_node_vec(const vl_index *h, uint32_t node)
{
    return h->vecs + (size_t)node * h->dim;
}
const uint8_t *vl__index_node_meta(const vl_index *h, uint32_t node, uint32_t *len)
{
    *len = h->meta[node] ? h->meta_len[node] : 0;
    return h->meta[node];
}
uint32_t vl__index_live_node(const vl_index *h, uint64_t id) { return vl_idmap_get(&h->map, id); }
uint32_t vl__index_entry(const vl_index *h) { return h->entry; }
const uint8_t *vl__index_levels(const vl_index *h) { return h->level; }
const uint32_t *vl__index_links(const vl_index *h, uint32_t node, uint32_t l)
{
    if (l == 0) return h->links0 + (size_t)node * (h->M0 + 1);
    return h->upper[node] + (size_t)(l - 1) * (h->M + 1);
}

static inline int in_arena(const vl_index *h, const uint8_t *p)
{
    return h->meta_arena && (uintptr_t)p >= (uintptr_t)h->meta_arena &&
           (uintptr_t)p < (uintptr_t)h->meta_arena + h->meta_arena_len;
}

static void free_nodes(vl_index *h)
{
    if (h->upper)
        for (uint32_t i = 0; i < h->n; i++) vl_mem_free(h->upper[i]);
    if (h->meta)
        for (uint32_t i = 0; i < h->n; i++)
            if (!in_arena(h, h->meta[i])) vl_mem_free(h->meta[i]);
    vl_mem_free(h->meta_arena);
    h->meta_arena = NULL;
    h->meta_arena_len = h->meta_arena_used = 0;
    vl_mem_free(h->block);   /* every per-node array and the candidate heap */
    vl_mem_free(h->top); vl_mem_free(h->sel); vl_mem_free(h->res);
    vl_mem_free(h->sorted);
    vl_mem_free(h->fprog);
    vl_mem_free(h->fmatch);
    vl_mem_free(h->stage);
    h->stage = NULL;
    h->stage_cap = 0;
    vl__cols_free(h);
    vl_idmap_free(&h->map);
    h->block = NULL;
    h->vecs = NULL; h->codes = NULL; h->inv_norm = NULL; h->ids = NULL; h->dead = NULL; h->meta = NULL;
    h->meta_len = NULL; h->level = NULL; h->links0 = NULL; h->upper = NULL; h->visit = NULL;
    h->cand = NULL; h->top = NULL; h->sel = NULL; h->res = NULL; h->sorted = NULL;
    h->fprog = NULL;
    h->fmatch = NULL;
    h->fmatch_cap = 0;
    h->cand_cap = h->top_cap = h->sel_cap = h->res_cap = h->fprog_cap = 0;
    h->sorted_n = h->sorted_cap = 0;
    h->sorted_valid = 0;
    h->n = h->cap = h->live = 0;
    h->meta_bytes = h->upper_bytes = 0;
    h->entry = VL_NO_NODE;
    h->max_level = 0;
    h->visit_tag = 1;
}

void vl_index_free(vl_index *h)
{
    if (!h) return;
    free_nodes(h);
    vl__text_free(h);
    vl__fields_free(h);
    vl_quant_free(&h->qz);
    vl_qquery_free(&h->qq);
    vl_mem_free(h->qscratch);
    vl_mem_free(h->rr);
    vl_mem_free(h->rra);
    vl_mem_free(h);
}

int vl_index_config(const vl_index *h, vl_config *out)
{
    if (!h || !out) return VL_EINVAL;
    *out = h->cfg;
    return VL_OK;
}

int vl_index_clear(vl_index *h)
{
    if (!h) return VL_EINVAL;
    free_nodes(h);
    h->rng = h->cfg.seed;    /* same seed + same inserts after clear = same graph */
    return VL_OK;
}

/* ---- capacity -------------------------------------------------------------- */

static int grow(void **p, uint64_t bytes)
{
    if (bytes > SIZE_MAX) return VL_ENOMEM;
    void *q = vl_mem_realloc(*p, (size_t)bytes);
    if (!q) return VL_ENOMEM;
    *p = q;
    return VL_OK;
}

/* ---- the node block ---------------------------------------------------------
 * Every per-node array (index.h) and the candidate heap (cap+1 pairs: a
 * search visits each node at most once) live in ONE allocation, h->block,
 * at offsets computed from the capacity: vectors first (the largest, at
 * the block's first 64-byte boundary, so they do not move when the block
 * grows in place), then the rest largest first, each 8-byte aligned.
 *
 * Why one block: WebAssembly memory never shrinks, so every transient peak
 * of a build stays in the process for good. With ten separately grown
 * arrays (and the vectors copied into a fresh aligned block), each growth
 * had old and new copies alive and left holes that per-node allocations
 * (upper lists, records, the id map) then pinned, so the next, larger
 * generation went to the top of the heap again. One block grows in place
 * when it ends the heap (vl_mem_grow). Measured on the bench's 10k x 100
 * set, M=16, SIMD build (resident WebAssembly memory after the build, per
 * vector; the engine holds 608-831 depending on capacity slack):
 *   batches of     10,000   1,000    100      1
 *   before          1,053   1,787  1,124  1,286
 *   one block       1,022     721    828    854
 * (10,000: 413 of it is the binding's staging copy of the batch; with
 * vl_index_rows instead it is 623.) */
enum { NB_VECS, NB_LINKS0, NB_CAND, NB_IDS, NB_META, NB_UPPER, NB_META_LEN, NB_INV, NB_VISIT,
       NB_LEVEL, NB_DEAD, NB_N };

/* Bytes per node of each array (0: absent for this index), and its offsets
 * for capacity cap (off[NB_N] = the block size). */
static void block_elems(const vl_index *h, uint64_t el[NB_N])
{
    int hnsw = h->kind == VL_INDEX_HNSW;
    el[NB_VECS] = h->qz.kind ? h->qz.code_size : (uint64_t)h->dim * sizeof(float);   /* rows or codes */
    el[NB_LINKS0] = hnsw ? (uint64_t)(h->M0 + 1) * sizeof(uint32_t) : 0;
    el[NB_CAND] = hnsw ? sizeof(vl_pair) : 0;
    el[NB_IDS] = sizeof(uint64_t);
    el[NB_META] = sizeof(uint8_t *);
    el[NB_UPPER] = hnsw ? sizeof(uint32_t *) : 0;
    el[NB_META_LEN] = sizeof(uint32_t);
    el[NB_INV] = h->metric == VL_METRIC_COSINE && !h->qz.kind ? sizeof(float) : 0;
    el[NB_VISIT] = hnsw ? sizeof(uint16_t) : 0;
    el[NB_LEVEL] = hnsw ? 1 : 0;
    el[NB_DEAD] = 1;
}

static void block_layout(const uint64_t el[NB_N], uint64_t cap, uint64_t off[NB_N + 1])
{
    off[0] = 0;
    for (int a = 0; a < NB_N; a++) {
        uint64_t sz = el[a] * (cap + (a == NB_CAND));
        off[a + 1] = (off[a] + sz + 7) & ~(uint64_t)7;
    }
}

static void block_point(vl_index *h, size_t pad, const uint64_t el[NB_N],
                        const uint64_t off[NB_N + 1])
{
    uint8_t *b = (uint8_t *)h->block + pad;
#define AT(a) (el[a] ? (void *)(b + off[a]) : NULL)
    h->vecs = h->qz.kind ? NULL : AT(NB_VECS);
    h->codes = h->qz.kind ? AT(NB_VECS) : NULL;
    h->links0 = AT(NB_LINKS0);
    h->cand = AT(NB_CAND);
    h->ids = AT(NB_IDS);
    h->meta = AT(NB_META);
    h->upper = AT(NB_UPPER);
    h->meta_len = AT(NB_META_LEN);
    h->inv_norm = AT(NB_INV);
    h->visit = AT(NB_VISIT);
    h->level = AT(NB_LEVEL);
    h->dead = AT(NB_DEAD);
#undef AT
}

/* Make room for `need` nodes: the exact need, or 1.5x the current capacity
 * when that is more (amortised O(1) single inserts). vl_index_upsert calls
 * this once per batch with the batch's final node count, so a batch never
 * regrows mid-way. The block is resized with vl_mem_grow (in place when
 * possible), then the arrays move to their new offsets: those after the
 * vectors, last first (each only moves up, by at least 16 rows of vectors,
 * so nothing unread is overwritten; only the n used entries are copied),
 * then the vectors, which start at the first 64-byte boundary of the block
 * (pad): malloc gives 8-byte alignment in WebAssembly, and 16-byte SIMD
 * loads of rows at 8 mod 16 cost the bench's search ~3% QPS. The filter
 * columns (meta.c) are grown first: if the block then fails, they are
 * merely larger and cap is unchanged. */
static int reserve_nodes(vl_index *h, uint64_t need)
{
    if (need <= h->cap) return VL_OK;
    if (need >= VL_NO_NODE) return VL_ENOMEM;
    uint64_t nc = (uint64_t)h->cap + h->cap / 2 + 16;
    if (nc < need) nc = need;
    if (nc >= VL_NO_NODE) nc = VL_NO_NODE - 1;
    uint64_t el[NB_N], oo[NB_N + 1], no[NB_N + 1];
    block_elems(h, el);
    block_layout(el, h->cap, oo);
    block_layout(el, nc, no);
    size_t pad0 = h->block ? (size_t)((h->vecs ? (uint8_t *)h->vecs : h->codes) - (uint8_t *)h->block) : 0;
    if (no[NB_N] + 64 > SIZE_MAX || vl__cols_reserve(h, (uint32_t)nc)) return VL_ENOMEM;
    uint8_t *b = vl_mem_grow(h->block, (size_t)no[NB_N] + 64);
    if (!b) return VL_ENOMEM;
    h->block = b;
    size_t pad = (size_t)((64 - (uintptr_t)b % 64) % 64);
    if (h->n) {
        for (int a = NB_N - 1; a > 0; a--)
            if (el[a] && a != NB_CAND && a != NB_VISIT)
                memmove(b + pad + no[a], b + pad0 + oo[a], (size_t)(el[a] * h->n));
        if (pad != pad0) memmove(b + pad, b + pad0, (size_t)(el[NB_VECS] * h->n));
    }
    block_point(h, pad, el, no);
    if (h->visit) memset(h->visit, 0, (size_t)nc * sizeof *h->visit);   /* scratch: all unvisited */
    h->visit_tag = 1;
    h->cap = (uint32_t)nc;
    if (h->cand) h->cand_cap = (uint32_t)nc + 1;
    return VL_OK;
}

/* The node block of a quantized index (index.h vl__index_to_codes): a new
 * block laid out with codes where the rows were (and no inverse norms),
 * every other array copied, rows encoded (or persisted codes copied for
 * live nodes), then the old block freed. Both blocks are alive during the
 * copy: the one transient peak of a quantized index, paid once. */
int vl__index_to_codes(vl_index *h, vl_quant *qz, const uint8_t *(*code_for)(void *ctx, uint64_t id), void *ctx)
{
    if (h->codes || h->qz.kind || h->kind != VL_INDEX_HNSW || !qz->kind || qz->dim != h->dim) return VL_EINVAL;
    uint64_t oel[NB_N], nel[NB_N], oo[NB_N + 1], no[NB_N + 1];
    block_elems(h, oel);
    block_layout(oel, h->cap, oo);
    h->qz = *qz;                                  /* for block_elems only, until committed */
    block_elems(h, nel);
    memset(&h->qz, 0, sizeof h->qz);
    block_layout(nel, h->cap, no);
    if (vl_qquery_reserve(qz, &h->qq)) return VL_ENOMEM;
    if (!h->qscratch && !(h->qscratch = vl_mem_alloc((size_t)h->dim * 2 * sizeof(float)))) return VL_ENOMEM;
    uint8_t *b = NULL;
    size_t pad = 0;
    if (h->block) {
        if (no[NB_N] + 64 > SIZE_MAX || !(b = vl_mem_alloc((size_t)no[NB_N] + 64))) return VL_ENOMEM;
        pad = (size_t)((64 - (uintptr_t)b % 64) % 64);
        const uint8_t *ob = (const uint8_t *)h->vecs;   /* the old block's first array */
        for (int a = 1; a < NB_N; a++)
            if (nel[a] && a != NB_CAND && a != NB_VISIT)
                memcpy(b + pad + no[a], ob + oo[a], (size_t)(nel[a] * h->n));
        uint8_t *codes = b + pad + no[NB_VECS];
        for (uint32_t i = 0; i < h->n; i++) {
            const uint8_t *c = code_for && !h->dead[i] ? code_for(ctx, h->ids[i]) : NULL;
            if (c) memcpy(codes + (size_t)i * qz->code_size, c, qz->code_size);
            else vl_quant_encode_buf(qz, h->vecs + (size_t)i * h->dim, codes + (size_t)i * qz->code_size, h->qscratch);
        }
        vl_mem_free(h->block);
        h->block = b;
    }
    h->qz = *qz;
    memset(qz, 0, sizeof *qz);
    if (b) {
        block_point(h, pad, nel, no);
        if (h->visit) memset(h->visit, 0, (size_t)h->cap * sizeof *h->visit);
        h->visit_tag = 1;
        if (h->cand) h->cand_cap = h->cap + 1;
    }
    return VL_OK;
}

/* Make *p hold `need` pairs (fixed-size search scratch: exact). */
static int reserve_pairs(vl_pair **p, uint32_t *cap, uint64_t need)
{
    if (need <= *cap) return VL_OK;
    if (need > UINT32_MAX) return VL_ENOMEM;
    if (grow((void **)p, need * sizeof **p)) return VL_ENOMEM;
    *cap = (uint32_t)need;
    return VL_OK;
}

int vl__search_reserve(vl_index *h, uint32_t ef)
{
    uint64_t need = (uint64_t)ef + 1;
    if (reserve_pairs(&h->top, &h->top_cap, need)) return VL_ENOMEM;
    if (need > h->res_cap) {
        if (grow((void **)&h->res, need * sizeof *h->res)) return VL_ENOMEM;
        h->res_cap = (uint32_t)need;
    }
    return VL_OK;   /* the candidate heap lives in the node block (cap + 1 >= n + 1) */
}

int vl__hnsw_reserve(vl_index *h, uint32_t total_nodes)
{
    uint32_t ef = h->efc > h->M0 + 1 ? h->efc : h->M0 + 1;
    (void)total_nodes;   /* the candidate heap lives in the node block, sized with cap */
    if (reserve_pairs(&h->top, &h->top_cap, (uint64_t)ef + 2)) return VL_ENOMEM;
    if (reserve_pairs(&h->sel, &h->sel_cap, (uint64_t)ef + 2)) return VL_ENOMEM;
    return VL_OK;
}

/* ---- validation helpers ---------------------------------------------------- */

/* VL_OK, or VL_EINVAL with a message naming the row and component. */
static int check_vector(vl_index *h, const float *v, const char *what, uint32_t row,
                        float *inv_out)
{
    if (h->metric != VL_METRIC_COSINE && vl__all_finite(v, h->dim)) {   /* no norm needed */
        if (inv_out) *inv_out = 1.0f;
        return VL_OK;
    }
    double ss = 0.0;
    for (uint32_t j = 0; j < h->dim; j++) {
        float x = v[j];
        if (!isfinite(x)) {
            vl__msg(h, "%s %u component %u is %s", what, row, j,
                    isnan(x) ? "NaN" : x > 0 ? "+Infinity" : "-Infinity");
            return VL_EINVAL;
        }
        ss += (double)x * (double)x;
    }
    if (h->metric == VL_METRIC_COSINE) {
        if (!(ss > 0.0)) {
            vl__msg(h, "%s %u is all zeros; cosine similarity needs a non-zero vector", what, row);
            return VL_EINVAL;
        }
        float inv = (float)(1.0 / sqrt(ss));
        if (!(inv > 0.f) || !isfinite(inv)) {
            vl__msg(h, "%s %u has a norm outside the float range", what, row);
            return VL_EINVAL;
        }
        if (inv_out) *inv_out = inv;
    } else if (inv_out) {
        *inv_out = 1.0f;
    }
    return VL_OK;
}

static int check_meta_offsets(vl_index *h, uint32_t n, const uint8_t *meta, const uint32_t *off)
{
    if (!meta && !off) return VL_OK;
    if (!meta || !off) {
        vl__msg(h, "meta and meta_off must both be NULL or both be set");
        return VL_EINVAL;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (off[i + 1] < off[i]) {
            vl__msg(h, "meta_off is not ascending at row %u (%u > %u)", i, off[i], off[i + 1]);
            return VL_EINVAL;
        }
        char why[160];
        int rc = vl__meta_validate(h, meta + off[i], off[i + 1] - off[i], h->n_fields, why,
                                   sizeof why);
        if (rc) { vl__msg(h, "metadata record %u: %s", i, why); return rc; }
    }
    return VL_OK;
}

/* ---- duplicate ids inside one batch -----------------------------------------
 * The last row of an id wins. A table of row indexes hashed by id (linear
 * probing, load <= 1/2, the id read back from the batch): 8-16 bytes per
 * row for the duration of the call (a vl_idmap, which stores the key too,
 * cost 24-48, ~40 bytes per vector of the bench's 10k-row batch). Not built
 * for n <= 1. */
typedef struct vl_dedup { uint32_t *slot; uint32_t mask; } vl_dedup;

static inline uint32_t dedup_hash(uint64_t x)
{
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    return (uint32_t)(x ^ (x >> 31));
}

static int build_dedup(vl_dedup *dd, uint32_t n, const uint64_t *ids)
{
    dd->slot = NULL;
    dd->mask = 0;
    if (n <= 1) return VL_OK;
    uint64_t cap = 16;
    while (cap < 2ull * n) cap *= 2;
    dd->slot = vl_mem_alloc((size_t)cap * sizeof *dd->slot);
    if (!dd->slot) return VL_ENOMEM;
    memset(dd->slot, 0xff, (size_t)cap * sizeof *dd->slot);
    dd->mask = (uint32_t)(cap - 1);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = dedup_hash(ids[i]) & dd->mask;
        while (dd->slot[j] != VL_NO_NODE && ids[dd->slot[j]] != ids[i]) j = (j + 1) & dd->mask;
        dd->slot[j] = i;
    }
    return VL_OK;
}

static inline int is_last(const vl_dedup *dd, uint32_t n, const uint64_t *ids, uint32_t i)
{
    if (n <= 1) return 1;
    uint32_t j = dedup_hash(ids[i]) & dd->mask;
    while (ids[dd->slot[j]] != ids[i]) j = (j + 1) & dd->mask;
    return dd->slot[j] == i;
}

static void free_dedup(vl_dedup *dd)
{
    vl_mem_free(dd->slot);
    dd->slot = NULL;
}

/* Copies of the effective non-empty records (NULL otherwise). */
static int copy_records(uint32_t n, const uint8_t *meta, const uint32_t *off,
                        const vl_dedup *dd, const uint64_t *ids, uint8_t ***out)
{
    *out = NULL;
    if (!meta) return VL_OK;
    uint8_t **c = vl_mem_calloc(n, sizeof *c);
    if (!c) return VL_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = off[i + 1] - off[i];
        if (!len || !is_last(dd, n, ids, i)) continue;
        c[i] = vl_mem_alloc(len);
        if (!c[i]) {
            for (uint32_t j = 0; j < i; j++) vl_mem_free(c[j]);
            vl_mem_free(c);
            return VL_ENOMEM;
        }
        memcpy(c[i], meta + off[i], len);
    }
    *out = c;
    return VL_OK;
}

static void free_records(uint32_t n, uint8_t **c)
{
    if (!c) return;
    for (uint32_t i = 0; i < n; i++) vl_mem_free(c[i]);
    vl_mem_free(c);
}

static void set_node_meta(vl_index *h, uint32_t node, uint8_t *rec, uint32_t len)
{
    if (h->meta[node]) {
        if (in_arena(h, h->meta[node])) h->meta_arena_used -= h->meta_len[node];
        else vl_mem_free(h->meta[node]);
        h->meta_bytes -= h->meta_len[node];
    }
    h->meta[node] = rec;
    h->meta_len[node] = rec ? len : 0;
    if (rec) h->meta_bytes += len;
    vl__cols_set_node(h, node);
}

/* HNSW: tombstone a live node (it keeps its links and keeps routing). */
static void tombstone(vl_index *h, uint32_t node)
{
    h->dead[node] = 1;
    set_node_meta(h, node, NULL, 0);
    h->live--;
}

/* Flat: remove node by moving the last node into its slot. */
static void flat_remove(vl_index *h, uint32_t node)
{
    uint32_t last = h->n - 1;
    set_node_meta(h, node, NULL, 0);
    if (node != last) {
        vl__vcopy(h->vecs + (size_t)node * h->dim, h->vecs + (size_t)last * h->dim, h->dim);
        if (h->inv_norm) h->inv_norm[node] = h->inv_norm[last];
        h->ids[node] = h->ids[last];
        h->dead[node] = h->dead[last];
        h->meta[node] = h->meta[last];
        h->meta_len[node] = h->meta_len[last];
        vl__cols_move(h, node, last);
        vl_idmap_put(&h->map, h->ids[node], node);   /* existing key: no growth */
    }
    h->meta[last] = NULL;
    h->meta_len[last] = 0;
    h->n--;
    h->live--;
}

/* HNSW tombstone reclamation policy: after a write (upsert or delete), when
 * tombstones outnumber max(live, VL_RECLAIM_MIN), remove them all from the
 * graph (vl__hnsw_reclaim: in-neighbours re-linked, graph compacted; then
 * reclaim() compacts this layer's columns and the id map). So after every
 * write nodes <= live + max(live, VL_RECLAIM_MIN),
 * i.e. at most twice the live count above the floor, and the repair work
 * (about one neighbour re-selection per surviving node) is amortised over
 * at least max(live, VL_RECLAIM_MIN) writes that made tombstones. The floor
 * keeps small indexes from repairing on every write. Out of memory: the
 * tombstones stay (the index is unchanged and valid) and the next write
 * tries again. */
#define VL_RECLAIM_MIN 1024u

/* Tombstone reclamation, the index side. The slot map is allocated here,
 * before anything changes; vl__hnsw_reclaim allocates its own scratch
 * before it changes anything, so VL_ENOMEM from either leaves the index as
 * it was. After it succeeds nothing can fail: survivors' columns move down
 * to their new (dense, order-preserving: new <= old) slots in increasing
 * old order, so a move never overwrites a survivor not yet moved.
 * Tombstones hold no metadata and are not in the id map, so dropping them
 * needs nothing beyond the move. Needs 0 < live < n. */
static int reclaim(vl_index *h)
{
    uint32_t n = h->n;
    uint32_t *remap = vl_mem_alloc((size_t)n * sizeof *remap);
    if (!remap) return VL_ENOMEM;
    int rc = vl__hnsw_reclaim(h, remap);
    if (rc != VL_OK) {
        vl_mem_free(remap);
        return rc;
    }
    /* ---- nothing below can fail ---- */
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t d = remap[i];
        if (d == VL_NO_NODE) continue;
        k++;
        if (d == i) continue;
        if (h->codes) memcpy(h->codes + (size_t)d * h->qz.code_size, h->codes + (size_t)i * h->qz.code_size, h->qz.code_size);
        else vl__vcopy(h->vecs + (size_t)d * h->dim, h->vecs + (size_t)i * h->dim, h->dim);
        if (h->inv_norm) h->inv_norm[d] = h->inv_norm[i];
        h->ids[d] = h->ids[i];
        h->dead[d] = 0;
        h->meta[d] = h->meta[i];
        h->meta_len[d] = h->meta_len[i];
        h->meta[i] = NULL;
        h->meta_len[i] = 0;
        vl__cols_move(h, d, i);
        vl_idmap_put(&h->map, h->ids[d], d);   /* existing key: no growth */
    }
    h->n = k;
    h->reclaimed += n - k;
    h->reclaims++;
    vl_mem_free(remap);
    return VL_OK;
}

static void maybe_reclaim(vl_index *h)
{
    if (h->kind != VL_INDEX_HNSW || h->live == 0) return;
    uint32_t tomb = h->n - h->live;
    uint32_t floor_ = h->live > VL_RECLAIM_MIN ? h->live : VL_RECLAIM_MIN;
    if (tomb > floor_) (void)reclaim(h);
}

/* ---- writes ---------------------------------------------------------------- */

int vl_index_rows(vl_index *h, uint32_t n, float **rows)
{
    if (!h || !rows) return VL_EINVAL;
    if (n == 0) { *rows = NULL; return VL_OK; }
    if ((uint64_t)h->n + n >= VL_NO_NODE) {
        vl__msg(h, "index would exceed %u nodes", VL_NO_NODE - 1);
        return VL_ENOMEM;
    }
    if (reserve_nodes(h, (uint64_t)h->n + n)) {
        vl__msg(h, "out of memory reserving room for %u vectors (index unchanged)", n);
        return VL_ENOMEM;
    }
    if (h->codes) {   /* codes in the block: the rows wait in a staging area until the upsert encodes them */
        if (n > h->stage_cap) {
            float *st = (uint64_t)n * h->dim * sizeof(float) > SIZE_MAX ? NULL
                      : vl_mem_realloc(h->stage, (size_t)n * h->dim * sizeof(float));
            if (!st) { vl__msg(h, "out of memory staging %u vectors (index unchanged)", n); return VL_ENOMEM; }
            h->stage = st;
            h->stage_cap = n;
        }
        *rows = h->stage;
        return VL_OK;
    }
    *rows = h->vecs + (size_t)h->n * h->dim;
    return VL_OK;
}

/* Whether vecs (n rows) overlaps the index's vector storage: 0 no, 1 it is
 * exactly the room vl_index_rows handed out (rows n.., within capacity),
 * -1 any other overlap. Compared as addresses. */
static int rows_alias(const vl_index *h, const float *vecs, uint32_t n)
{
    if (!h->vecs) return 0;
    uintptr_t a = (uintptr_t)vecs, b = a + (uintptr_t)n * h->dim * sizeof(float);
    uintptr_t lo = (uintptr_t)h->vecs, hi = lo + (uintptr_t)h->cap * h->dim * sizeof(float);
    if (b <= lo || a >= hi) return 0;
    return a == lo + (uintptr_t)h->n * h->dim * sizeof(float) && b <= hi ? 1 : -1;
}

int vl_index_upsert(vl_index *h, uint32_t n, const uint64_t *ids, const float *vecs,
                    const uint8_t *meta, const uint32_t *meta_off)
{
    if (!h) return VL_EINVAL;
    if (n == 0) return VL_OK;
    if (!ids || !vecs) { vl__msg(h, "ids and vecs must not be NULL"); return VL_EINVAL; }
    /* vecs from vl_index_rows: rows past n within capacity, so the reserve
     * below cannot move them, and row i only ever goes to a slot <= row i
     * (new nodes are numbered in row order; flat overwrites are below n),
     * so no row is overwritten before it is read (memmove in the commit). */
    if (rows_alias(h, vecs, n) < 0) {
        vl__msg(h, "vecs overlaps the index's own storage (only vl_index_rows room may be passed)");
        return VL_EINVAL;
    }
    int rc = check_meta_offsets(h, n, meta, meta_off);
    if (rc) return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = check_vector(h, vecs + (size_t)i * h->dim, "vector", i, NULL))) return rc;

    int hnsw = h->kind == VL_INDEX_HNSW;
    vl_dedup dd;
    uint8_t **recs = NULL;
    uint64_t rng0 = h->rng;
    uint32_t n0 = h->n, staged = 0;   /* HNSW: nodes n0..n0+staged-1 got a level and upper lists */
    if (build_dedup(&dd, n, ids)) goto nomem;

    uint32_t new_nodes = 0, new_ids = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!is_last(&dd, n, ids, i)) continue;
        int exists = vl_idmap_get(&h->map, ids[i]) != VL_NO_NODE;
        if (!exists) new_ids++;
        if (hnsw || !exists) new_nodes++;
    }
    if ((uint64_t)h->n + new_nodes >= VL_NO_NODE) {
        free_dedup(&dd);
        vl__msg(h, "index would exceed %u nodes", VL_NO_NODE - 1);
        return VL_ENOMEM;
    }
    /* Everything the batch needs, reserved once at its final size. */
    if (reserve_nodes(h, (uint64_t)h->n + new_nodes)) goto nomem;
    if (vl_idmap_reserve(&h->map, new_ids)) goto nomem;
    if (hnsw && (vl__hnsw_reserve(h, h->n + new_nodes) || vl__quant_reserve(h))) goto nomem;
    if (copy_records(n, meta, meta_off, &dd, ids, &recs)) goto nomem;
    if (hnsw) {
        /* Levels and upper-layer lists go straight into the slots the new
         * nodes will take (n0, n0+1, ... in row order; slots past n hold
         * nothing yet, so a failure here changes nothing). */
        for (uint32_t i = 0; i < n; i++) {
            if (!is_last(&dd, n, ids, i)) continue;
            uint32_t node = n0 + staged;
            uint32_t L = vl__random_level(h);
            h->level[node] = (uint8_t)L;
            h->upper[node] = NULL;
            staged++;
            if (L) {
                h->upper[node] = vl_mem_calloc(1, (size_t)L * (h->M + 1) * sizeof(uint32_t));
                if (!h->upper[node]) goto nomem;
            }
        }
    }

    /* ---- commit: nothing below can fail ---- */
    h->sorted_valid = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!is_last(&dd, n, ids, i)) continue;
        const float *v = vecs + (size_t)i * h->dim;
        float inv = 1.0f;
        (void)check_vector(h, v, "vector", i, &inv);
        uint32_t len = meta ? meta_off[i + 1] - meta_off[i] : 0;
        uint8_t *rec = recs ? recs[i] : NULL;
        if (recs) recs[i] = NULL;
        uint32_t old = vl_idmap_get(&h->map, ids[i]);
        uint32_t node;
        if (!hnsw && old != VL_NO_NODE) {
            node = old;
        } else {
            if (old != VL_NO_NODE) tombstone(h, old);
            node = h->n++;
            h->live++;
            h->ids[node] = ids[i];
            h->dead[node] = 0;
            h->meta[node] = NULL;
            h->meta_len[node] = 0;
            vl_idmap_put(&h->map, ids[i], node);
        }
        if (h->codes) vl_quant_encode_buf(&h->qz, v, h->codes + (size_t)node * h->qz.code_size, h->qscratch);   /* reserved */
        else vl__vcopy(h->vecs + (size_t)node * h->dim, v, h->dim);   /* v may be this row */
        if (h->inv_norm) h->inv_norm[node] = inv;
        set_node_meta(h, node, rec, len);
        if (hnsw) {
            uint32_t L = h->level[node];   /* staged above */
            if (L) h->upper_bytes += (uint64_t)L * (h->M + 1) * sizeof(uint32_t);
            h->links0[(size_t)node * (h->M0 + 1)] = 0;
            h->visit[node] = 0;
            vl__hnsw_insert(h, node, h->codes ? v : h->vecs + (size_t)node * h->dim);
        }
    }
    h->msg[0] = 0;
    free_dedup(&dd);
    free_records(n, recs);
    if (hnsw) maybe_reclaim(h);
    if (hnsw) vl__quant_maybe_train(h);
    return VL_OK;

nomem:
    h->rng = rng0;
    free_dedup(&dd);
    free_records(n, recs);
    for (uint32_t k = 0; k < staged; k++) {
        vl_mem_free(h->upper[n0 + k]);
        h->upper[n0 + k] = NULL;
    }
    vl__msg(h, "out of memory inserting %u vectors (index unchanged)", n);
    return VL_ENOMEM;
}

int vl_index_set_meta(vl_index *h, uint32_t n, const uint64_t *ids, const uint8_t *meta,
                      const uint32_t *meta_off)
{
    if (!h) return VL_EINVAL;
    if (n == 0) return VL_OK;
    if (!ids) { vl__msg(h, "ids must not be NULL"); return VL_EINVAL; }
    int rc = check_meta_offsets(h, n, meta, meta_off);
    if (rc) return rc;
    for (uint32_t i = 0; i < n; i++)
        if (vl_idmap_get(&h->map, ids[i]) == VL_NO_NODE) {
            vl__msg(h, "id %llu (row %u) is not in the index", (unsigned long long)ids[i], i);
            return VL_ENOTFOUND;
        }
    vl_dedup dd;
    uint8_t **recs = NULL;
    if (build_dedup(&dd, n, ids) || copy_records(n, meta, meta_off, &dd, ids, &recs)) {
        free_dedup(&dd);
        vl__msg(h, "out of memory replacing metadata (index unchanged)");
        return VL_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!is_last(&dd, n, ids, i)) continue;
        uint32_t node = vl_idmap_get(&h->map, ids[i]);
        uint32_t len = meta ? meta_off[i + 1] - meta_off[i] : 0;
        set_node_meta(h, node, recs ? recs[i] : NULL, len);
        if (recs) recs[i] = NULL;
    }
    free_dedup(&dd);
    free_records(n, recs);
    h->msg[0] = 0;
    return VL_OK;
}

int vl_index_delete(vl_index *h, uint32_t n, const uint64_t *ids, uint32_t *n_deleted)
{
    if (!h || !n_deleted) return VL_EINVAL;
    if (n && !ids) { vl__msg(h, "ids must not be NULL"); return VL_EINVAL; }
    uint32_t del = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t node = vl_idmap_get(&h->map, ids[i]);
        if (node == VL_NO_NODE) continue;
        vl_idmap_del(&h->map, ids[i]);
        if (h->kind == VL_INDEX_HNSW) tombstone(h, node);
        else flat_remove(h, node);
        del++;
    }
    if (del) h->sorted_valid = 0;
    /* A graph of nothing but tombstones routes nowhere useful: start over
     * (field names, config and the RNG position are kept). */
    if (h->kind == VL_INDEX_HNSW && h->live == 0 && h->n > 0) {
        uint64_t rng = h->rng;
        free_nodes(h);
        h->rng = rng;
    }
    if (del) maybe_reclaim(h);
    *n_deleted = del;
    return VL_OK;
}

/* ---- reads ----------------------------------------------------------------- */

uint64_t vl_index_count(const vl_index *h) { return h ? h->live : 0; }

int vl_index_stats(const vl_index *h, vl_stats *out)
{
    if (!h || !out) return VL_EINVAL;
    vl_stats s;
    memset(&s, 0, sizeof s);
    s.live = h->live;
    s.nodes = h->n;
    s.tombstones = h->n - h->live;
    s.vector_bytes = h->codes ? (uint64_t)h->n * h->qz.code_size + vl_quant_bytes(&h->qz)
                              : (uint64_t)h->n * h->dim * sizeof(float);
    s.graph_bytes = h->kind == VL_INDEX_HNSW
        ? (uint64_t)h->n * ((h->M0 + 1) * sizeof(uint32_t) + 1 + sizeof(uint32_t *)) + h->upper_bytes
        : 0;
    s.meta_bytes = h->meta_bytes;
    s.max_level = h->entry == VL_NO_NODE ? 0 : h->max_level;
    s.fields = h->n_fields;
    s.reclaimed = h->reclaimed;
    s.reclaims = h->reclaims;
    uint64_t per_node = (h->codes ? (uint64_t)h->qz.code_size : (uint64_t)h->dim * sizeof(float)) + sizeof(uint64_t) + 1 +
                        sizeof(uint8_t *) + sizeof(uint32_t) +
                        (h->inv_norm ? sizeof(float) : 0) +
                        (h->kind == VL_INDEX_HNSW
                             ? (h->M0 + 1) * sizeof(uint32_t) + 1 + sizeof(uint32_t *) + sizeof(uint16_t)
                             : 0);
    s.capacity = h->cap;
    /* what one more slot of capacity costs: the filter columns grow with the node storage */
    s.node_bytes = per_node + (uint64_t)h->n_cols * (1 + sizeof(uint64_t));
    s.memory_bytes = sizeof *h + (uint64_t)h->cap * per_node + h->upper_bytes + h->meta_bytes +
                     (h->meta_arena_len - h->meta_arena_used) +
                     vl_idmap_bytes(&h->map) + vl__fields_bytes(h) +
                     ((uint64_t)h->cand_cap + h->top_cap + h->sel_cap) * sizeof(vl_pair) +
                     (uint64_t)h->res_cap * sizeof(vl_hit) +
                     (uint64_t)h->sorted_cap * sizeof(uint64_t) + vl__cols_bytes(h) +
                     (uint64_t)h->fprog_cap * sizeof(vl_finst) + h->fmatch_cap +
                     vl_quant_bytes(&h->qz) + (uint64_t)h->qq.a_cap * 2 + ((uint64_t)h->qq.t_cap + h->qq.u_cap) * 4 +
                     (h->qscratch ? 2ull * h->dim * 4 : 0) + (uint64_t)h->rr_cap * (h->dim + 1) * 4 +
                     (uint64_t)h->stage_cap * h->dim * 4;
    *out = s;
    return VL_OK;
}

int vl_index_contains(const vl_index *h, const uint64_t *id)
{
    if (!h || !id) return VL_EINVAL;
    return vl_idmap_get(&h->map, *id) == VL_NO_NODE ? VL_ENOTFOUND : VL_OK;
}

static const uint8_t empty_record[1] = {0};

int vl_index_get(const vl_index *h, const uint64_t *id, float *vec_out, const uint8_t **meta,
                 uint32_t *meta_len)
{
    if (!h || !id) return VL_EINVAL;
    uint32_t node = vl_idmap_get(&h->map, *id);
    if (node == VL_NO_NODE) return VL_ENOTFOUND;
    if (vec_out && h->codes) {
        if (!h->fetch) {
            vl__msg(h, "the index keeps quantized codes and has no row source for float32 rows");
            return VL_EINVAL;
        }
        int rc = h->fetch(h->fetch_ctx, 1, id, vec_out);
        if (rc) { vl__msg(h, "reading the float32 row of id %llu: %s", (unsigned long long)*id, vl_errstr(rc)); return rc; }
    } else if (vec_out) {
        vl__vcopy(vec_out, h->vecs + (size_t)node * h->dim, h->dim);
    }
    if (meta) *meta = h->meta[node] ? h->meta[node] : empty_record;
    if (meta_len) *meta_len = h->meta_len[node];
    return VL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int vl_index_ids(const vl_index *h, const uint64_t *after, uint32_t after_valid,
                 uint64_t *ids_out, uint32_t cap, uint32_t *n_out)
{
    if (!h || !n_out || (after_valid && !after) || (cap && !ids_out)) return VL_EINVAL;
    vl_index *m = (vl_index *)h;   /* the sorted-id cache is logically mutable */
    if (!m->sorted_valid) {
        if (m->sorted_cap < m->live) {
            uint64_t *s = vl_mem_realloc(m->sorted, (size_t)m->live * sizeof *s);
            if (!s) return VL_ENOMEM;
            m->sorted = s;
            m->sorted_cap = m->live;
        }
        uint32_t k = 0;
        for (uint32_t i = 0; i < m->n; i++)
            if (!m->dead[i]) m->sorted[k++] = m->ids[i];
        if (k > 1) qsort(m->sorted, k, sizeof *m->sorted, cmp_u64);
        m->sorted_n = k;
        m->sorted_valid = 1;
    }
    uint32_t lo = 0, hi = m->sorted_n;
    if (after_valid) {             /* first index with sorted[i] > *after */
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (m->sorted[mid] <= *after) lo = mid + 1; else hi = mid;
        }
    }
    uint32_t cnt = m->sorted_n - lo;
    if (cnt > cap) cnt = cap;
    if (cnt) memcpy(ids_out, m->sorted + lo, (size_t)cnt * sizeof *ids_out);
    *n_out = cnt;
    return VL_OK;
}

/* ---- search ----------------------------------------------------------------
 * Plan per call (the filter is the same for all nq queries):
 *   - flat index, empty graph: exact scan;
 *   - HNSW without filter: graph search; an exact scan only if the graph
 *     returned fewer than min(k, live) results (a disconnected remainder);
 *   - HNSW with filter: estimate the filter's selectivity p from a fixed
 *     sample of 256 nodes and compare rough costs (plan_graph): the beam must
 *     see about ef matches, i.e. about V/p nodes (V = distance computations
 *     of an unfiltered search, ~ef*M0/3 measured on CLIP-100 with M=16); an
 *     exact filtered scan costs a column-wise filter pass over all nodes plus
 *     a distance per match. The cheaper plan runs; a graph search that ends
 *     with fewer than k results while more live nodes exist is completed by
 *     the exact scan (veclite.h).
 * Results are sorted by (reported distance, id). */

static inline int node_allowed(const vl_index *h, uint32_t i, int filtered)
{
    if (h->dead[i]) return 0;
    return !filtered || vl__filter_node(h, i);
}

/* (d, id) ordering: is a worse than b? */
static inline int hit_worse(float da, uint64_t ia, float db, uint64_t ib)
{
    return da > db || (da == db && ia > ib);
}

static inline void hit_sift_down(vl_hit *hp, uint32_t sz, uint32_t c, vl_hit x)
{
    for (;;) {
        uint32_t l = 2 * c + 1, r = l + 1, w = c;
        float wd = x.d; uint64_t wi = x.id;
        if (l < sz && hit_worse(hp[l].d, hp[l].id, wd, wi)) { w = l; wd = hp[l].d; wi = hp[l].id; }
        if (r < sz && hit_worse(hp[r].d, hp[r].id, wd, wi)) w = r;
        if (w == c) break;
        hp[c] = hp[w];
        c = w;
    }
    hp[c] = x;
}

/* Exact top-k over live (and matching) nodes into h->res; returns count.
 * A bounded max-heap on (d, id) keeps the k best; ties go to smaller ids.
 * match: the filter's match bytes (vl__filter_bytemap) or NULL to evaluate
 * the filter per node. */
static uint32_t exact_scan(vl_index *h, const float *q, float qinv, uint32_t k, int filtered,
                           const uint8_t *match)
{
    vl_hit *hp = h->res;
    uint32_t sz = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        if (match ? (!match[i] || h->dead[i]) : !node_allowed(h, i, filtered)) continue;
        float d = vl__dist_node(h, q, qinv, i);
        uint64_t id = h->ids[i];
        if (sz < k) {
            uint32_t c = sz++;
            while (c > 0) {
                uint32_t p = (c - 1) / 2;
                if (!hit_worse(d, id, hp[p].d, hp[p].id)) break;
                hp[c] = hp[p];
                c = p;
            }
            hp[c].d = d; hp[c].node = i; hp[c].id = id;
        } else if (hit_worse(hp[0].d, hp[0].id, d, id)) {
            vl_hit x = { d, i, id };
            hit_sift_down(hp, sz, 0, x);
        }
    }
    return sz;
}

/* Heapsort by (d, id) ascending: comparisons inline (no qsort callbacks). */
void vl__hits_sort(vl_hit *a, uint32_t n)
{
    if (n < 2) return;
    for (uint32_t i = n / 2; i-- > 0;) hit_sift_down(a, n, i, a[i]);
    for (uint32_t m = n - 1; m > 0; m--) {
        vl_hit top = a[0];
        hit_sift_down(a, m, 0, a[m]);
        a[m] = top;
    }
}

static inline float report_dist(uint32_t metric, float d)
{
    if (metric == VL_METRIC_L2) return sqrtf(d > 0.f ? d : 0.f);
    if (metric == VL_METRIC_COSINE) return d < 0.f ? 0.f : d > 2.f ? 2.f : d;
    return d;
}

static int32_t plan_override;   /* test hook: 0 auto, 1 graph, 2 exact, 3 exact per node */

void vl__test_filter_plan(int32_t mode) { plan_override = mode; }

/* Selectivity-based plan for a filtered HNSW search: 1 = graph, 0 = exact. */
static int plan_graph(const vl_index *h, uint32_t ef)
{
    if (plan_override) return plan_override == 1;
    const uint32_t sample = 256;
    uint32_t step = h->n / sample ? h->n / sample : 1, seen = 0, hits = 0;
    for (uint32_t i = 0; i < h->n && seen < sample; i += step) {
        if (h->dead[i]) continue;
        seen++;
        hits += (uint32_t)vl__filter_node(h, i);
    }
    if (seen == 0) return 0;
    double p = (hits + 0.5) / (seen + 1.0);
    double live = h->live;
    /* Cost model in ~ns of the SIMD wasm build, fitted on CLIP-100 (10k x 100,
     * M=16) with a timestamp-range filter swept over p = 0.002..0.8 at ef 10
     * and 100: a distance costs ~2 + dim/4; a graph visit (distance, visited
     * check, heaps, filter) ~2.5 distances + 6; the column-wise scan ~3 per
     * node plus ~1.2 distances per match. Measured crossover: p ~ 0.4 at
     * ef=100 and ~ 0.1 at ef=10 on 10k nodes (lower on larger indexes). */
    double c_dist = 2.0 + h->dim * 0.25;
    double visits = (double)ef * h->M0 / 3.0 / p;
    if (visits > live) visits = live;
    double graph = visits * (2.5 * c_dist + 6.0);
    double exact = live * 3.0 + p * live * 1.2 * c_dist;
    return graph < exact;
}

int vl_index_search(vl_index *h, uint32_t nq, const float *queries, uint32_t k, uint32_t ef,
                    const uint8_t *filter, uint32_t filter_len, uint64_t *ids_out,
                    float *dist_out, uint32_t *counts_out)
{
    if (!h) return VL_EINVAL;
    if (k == 0 || k > VL_MAX_K) {
        vl__msg(h, "k must be 1..%u (got %u)", VL_MAX_K, k);
        return VL_EINVAL;
    }
    if (ef > VL_MAX_EF) {
        vl__msg(h, "ef must be at most %u (got %u)", VL_MAX_EF, ef);
        return VL_EINVAL;
    }
    if (nq == 0) return VL_OK;
    if (!queries || !ids_out || !dist_out || !counts_out) {
        vl__msg(h, "queries and output buffers must not be NULL");
        return VL_EINVAL;
    }
    if (!filter) filter_len = 0;
    if (filter_len && vl_filter_check(filter, filter_len) != VL_OK) {
        vl__msg(h, "malformed filter program (%u bytes)", filter_len);
        return VL_EINVAL;
    }
    for (uint32_t qi = 0; qi < nq; qi++) {
        int rc = check_vector(h, queries + (size_t)qi * h->dim, "query", qi, NULL);
        if (rc) return rc;
    }
    uint32_t efq = ef ? ef : h->cfg.ef_search;
    if (efq < k) efq = k;
    /* quantized: the walk keeps efq candidates, the best `keep` are re-ranked */
    uint32_t keep = h->codes ? vl__quant_rerank_count(h, k, efq) : k;
    if (vl__search_reserve(h, efq > keep ? efq : keep) || vl__quant_reserve(h) ||
        (filter_len && vl__filter_compile(h, filter, filter_len))) {
        vl__msg(h, "out of memory reserving search scratch for ef=%u", efq);
        return VL_ENOMEM;
    }
    int filtered = filter_len != 0;
    int graph = h->kind == VL_INDEX_HNSW && h->entry != VL_NO_NODE &&
                (!filtered || plan_graph(h, efq));
    uint32_t live = h->live;
    const uint8_t *match = NULL;        /* filter match bytes, made on the first exact scan */
    int match_tried = 0;
    for (uint32_t qi = 0; qi < nq; qi++) {
        const float *q = queries + (size_t)qi * h->dim;
        float qinv = 1.0f;
        if (h->metric == VL_METRIC_COSINE) (void)check_vector(h, q, "query", qi, &qinv);
        if (h->codes) (void)vl_quant_query(&h->qz, q, &h->qq);   /* reserved: cannot fail */
        uint32_t got = 0;
        int exact = 1;
        if (graph) {
            got = vl__hnsw_search(h, q, qinv, efq, filtered, h->top);
            exact = got < k && got < live;
            if (!exact)
                for (uint32_t i = 0; i < got; i++) {
                    h->res[i].d = h->top[i].d;
                    h->res[i].node = h->top[i].id;
                    h->res[i].id = h->ids[h->top[i].id];
                }
        }
        if (exact) {
            if (filtered && !match_tried && plan_override != 3) {
                match_tried = 1;
                if (vl__filter_bytemap(h, &match)) match = NULL;
            }
            got = exact_scan(h, q, qinv, keep, filtered, match);
        }
        if (h->codes) {
            int r = vl__quant_rerank(h, q, qinv, got, keep, k);
            if (r < 0) return r;
            got = (uint32_t)r;
        }
        for (uint32_t i = 0; i < got; i++) h->res[i].d = report_dist(h->metric, h->res[i].d);
        vl__hits_sort(h->res, got);
        if (got > k) got = k;
        for (uint32_t i = 0; i < got; i++) {
            ids_out[(size_t)qi * k + i] = h->res[i].id;
            dist_out[(size_t)qi * k + i] = h->res[i].d;
        }
        counts_out[qi] = got;
    }
    return VL_OK;
}

/* ---- invariants ------------------------------------------------------------ */

int vl_index_check(const vl_index *h)
{
    if (!h) return VL_EINVAL;
    if (h->n > h->cap || h->live > h->n) {
        vl__msg(h, "counts out of range: n=%u cap=%u live=%u", h->n, h->cap, h->live);
        return VL_ECORRUPT;
    }
    if (h->map.count != h->live) {
        vl__msg(h, "id map holds %u ids but %u nodes are live", h->map.count, h->live);
        return VL_ECORRUPT;
    }
    uint32_t live = 0;
    uint64_t mb = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        uint32_t m = vl_idmap_get(&h->map, h->ids[i]);
        if (h->dead[i] > 1) { vl__msg(h, "node %u has dead flag %u", i, h->dead[i]); return VL_ECORRUPT; }
        if (!h->dead[i]) {
            live++;
            if (m != i) {
                vl__msg(h, "live node %u (id %llu) maps to slot %u", i,
                        (unsigned long long)h->ids[i], m);
                return VL_ECORRUPT;
            }
        } else {
            if (m == i) { vl__msg(h, "tombstone %u is still in the id map", i); return VL_ECORRUPT; }
            if (h->meta[i]) { vl__msg(h, "tombstone %u still holds metadata", i); return VL_ECORRUPT; }
        }
        if (h->kind == VL_INDEX_FLAT && h->dead[i]) {
            vl__msg(h, "flat index holds tombstone %u", i);
            return VL_ECORRUPT;
        }
        if ((h->meta[i] == NULL) != (h->meta_len[i] == 0)) {
            vl__msg(h, "node %u metadata pointer/length mismatch", i);
            return VL_ECORRUPT;
        }
        if (h->meta[i]) {
            char why[160];
            if (vl__meta_validate((vl_index *)h, h->meta[i], h->meta_len[i], h->n_fields, why,
                                  sizeof why)) {
                vl__msg(h, "node %u metadata invalid: %s", i, why);
                return VL_ECORRUPT;
            }
            mb += h->meta_len[i];
        }
        if (h->codes) continue;   /* codes: any byte is a valid code */
        const float *v = h->vecs + (size_t)i * h->dim;
        for (uint32_t j = 0; j < h->dim; j++)
            if (!isfinite(v[j])) { vl__msg(h, "node %u component %u not finite", i, j); return VL_ECORRUPT; }
        if (h->metric == VL_METRIC_COSINE) {
            double ss = 0;
            for (uint32_t j = 0; j < h->dim; j++) ss += (double)v[j] * v[j];
            float inv = (float)(1.0 / sqrt(ss));
            if (!(h->inv_norm[i] > 0.f) || fabsf(inv - h->inv_norm[i]) > 1e-6f * inv) {
                vl__msg(h, "node %u inverse norm %g, expected %g", i, h->inv_norm[i], inv);
                return VL_ECORRUPT;
            }
        }
    }
    if (live != h->live) {
        vl__msg(h, "%u nodes are live but the count says %u", live, h->live);
        return VL_ECORRUPT;
    }
    if (mb != h->meta_bytes) {
        vl__msg(h, "metadata bytes %llu, accounted %llu", (unsigned long long)mb,
                (unsigned long long)h->meta_bytes);
        return VL_ECORRUPT;
    }
    for (uint32_t s = 0; s < h->map.cap; s++) {
        uint32_t v = h->map.vals[s];
        if (v == VL_NO_NODE) continue;
        if (v >= h->n || h->dead[v] || h->ids[v] != h->map.keys[s]) {
            vl__msg(h, "id map slot %u (id %llu) points to bad node %u", s,
                    (unsigned long long)h->map.keys[s], v);
            return VL_ECORRUPT;
        }
    }
    int rc = vl__cols_check(h);
    if (rc) return rc;
    if (h->kind == VL_INDEX_HNSW) return vl__hnsw_check(h);
    return VL_OK;
}

/* ---- graph import (internal.h; the store layer loads INDEX segments) -------
 * Builds the node arrays directly from a validated graph instead of
 * inserting (no distance computations). Everything is checked again here
 * against the index's own invariants, so a bad graph gives VL_EINVAL, never
 * memory errors. */

void vl__graph_free(vl_graph *g)
{
    if (!g) return;
    vl_mem_free(g->level);
    vl_mem_free(g->off);
    vl_mem_free(g->adj);
    memset(g, 0, sizeof *g);
    g->entry = VL_NO_NODE;
}

static int import_check(vl_index *h, const vl_graph *g, const uint64_t *ids, const uint8_t *dead,
                        uint32_t *stamp)
{
    uint32_t gen = 0;
    if (g->n == 0) {
        if (g->entry != VL_NO_NODE) { vl__msg(h, "import: empty graph with an entry point"); return VL_EINVAL; }
        return VL_OK;
    }
    if (g->entry >= g->n || g->max_level > VL_MAX_LEVEL || g->level[g->entry] != g->max_level) {
        vl__msg(h, "import: entry point %u / max level %u invalid", g->entry, g->max_level);
        return VL_EINVAL;
    }
    for (uint32_t i = 0; i < g->n; i++) {
        uint32_t L = g->level[i], p = g->off[i], end = g->off[i + 1];
        if (L > g->max_level || end < p) { vl__msg(h, "import: node %u level %u", i, L); return VL_EINVAL; }
        if (dead[i] > 1) { vl__msg(h, "import: node %u dead flag %u", i, dead[i]); return VL_EINVAL; }
        for (uint32_t l = 0; l <= L; l++) {
            if (p >= end) { vl__msg(h, "import: node %u lacks layer %u", i, l); return VL_EINVAL; }
            uint32_t cnt = g->adj[p++], maxc = l ? h->M : h->M0;
            if (cnt > maxc || cnt > end - p) { vl__msg(h, "import: node %u layer %u has %u links", i, l, cnt); return VL_EINVAL; }
            if (++gen == 0) { memset(stamp, 0, (size_t)g->n * sizeof *stamp); gen = 1; }   /* O(cnt) duplicate check */
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t nb = g->adj[p + j];
                if (nb >= g->n || nb == i || g->level[nb] < l) {
                    vl__msg(h, "import: node %u layer %u links to %u", i, l, nb);
                    return VL_EINVAL;
                }
                if (stamp[nb] == gen) { vl__msg(h, "import: node %u layer %u duplicate link", i, l); return VL_EINVAL; }
                stamp[nb] = gen;
            }
            p += cnt;
        }
        if (p != end) { vl__msg(h, "import: node %u has trailing link data", i); return VL_EINVAL; }
    }
    (void)ids;
    return VL_OK;
}

int vl__index_meta_arena(vl_index *h, uint8_t *arena, uint64_t len)
{
    if (!h || h->meta_arena || !arena) return VL_EINVAL;
    h->meta_arena = arena;
    h->meta_arena_len = len;
    h->meta_arena_used = 0;
    return VL_OK;
}

int vl__index_meta_borrow(vl_index *h, uint32_t node, const uint8_t *rec, uint32_t len)
{
    if (!h || node >= h->n || h->dead[node] || !rec || !len || !in_arena(h, rec) ||
        (uintptr_t)rec + len > (uintptr_t)h->meta_arena + h->meta_arena_len)
        return VL_EINVAL;
    set_node_meta(h, node, (uint8_t *)(uintptr_t)rec, len);
    h->meta_arena_used += len;
    return VL_OK;
}

int vl__index_meta_adopt(vl_index *h, uint32_t node, const uint8_t *rec, uint32_t len)
{
    if (!h || node >= h->n || h->dead[node] || !rec || !len) return VL_EINVAL;
    uint8_t *c = vl_mem_alloc(len);
    if (!c) return VL_ENOMEM;
    memcpy(c, rec, len);
    set_node_meta(h, node, c, len);
    return VL_OK;
}

/* Node i of an import: its vector (vecs NULL: already in its slot), id,
 * flags and links (h->upper[i] allocated). Its own function, called per
 * node, so a WebAssembly engine optimises it within the first nodes (an
 * engine optimises functions between calls, never the loop that is running). */
static void import_node(vl_index *h, const vl_graph *g, uint32_t i, const uint64_t *ids, const float *vecs,
                        const uint8_t *dead)
{
    if (vecs) vl__vcopy(h->vecs + (size_t)i * h->dim, vecs + (size_t)i * h->dim, h->dim);
    h->ids[i] = ids[i];
    h->dead[i] = dead[i];
    h->meta[i] = NULL;
    h->meta_len[i] = 0;
    h->level[i] = g->level[i];
    if (g->level[i]) h->upper_bytes += (uint64_t)g->level[i] * (h->M + 1) * sizeof(uint32_t);
    uint32_t p = g->off[i];
    for (uint32_t l = 0; l <= g->level[i]; l++) {
        uint32_t cnt = g->adj[p];
        uint32_t *dst = l == 0 ? h->links0 + (size_t)i * (h->M0 + 1)
                               : h->upper[i] + (size_t)(l - 1) * (h->M + 1);
        memcpy(dst, g->adj + p, (size_t)(cnt + 1) * sizeof(uint32_t));
        p += cnt + 1;
    }
    h->n++;
    vl__cols_set_node(h, i);
}

/* per-item function: see VL_PER_ITEM in internal.h */
static void (*volatile import_node_fn)(vl_index *, const vl_graph *, uint32_t, const uint64_t *, const float *,
                                       const uint8_t *) = import_node;

/* An imported node i of n enters the id map if live; a live id seen twice
 * empties the index (the upper lists of nodes after i are not yet owned by
 * it) and returns VL_EINVAL. */
static int map_imported(vl_index *h, const uint64_t *ids, const uint8_t *dead, uint32_t i, uint32_t n)
{
    if (dead[i]) return VL_OK;
    if (vl_idmap_get_or_put(&h->map, ids[i], i) != VL_NO_NODE) {
        vl__msg(h, "import: live id %llu appears twice", (unsigned long long)ids[i]);
        for (uint32_t j = i + 1; j < n; j++) vl_mem_free(h->upper[j]);
        free_nodes(h);
        return VL_EINVAL;
    }
    h->live++;
    return VL_OK;
}

/* The end of both graph imports: the entry point, and an index of nothing
 * but tombstones emptied (they route nowhere, as vl_index_delete). */
static void finish_import(vl_index *h, uint32_t entry, uint32_t max_level)
{
    h->entry = entry;
    h->max_level = max_level;
    h->sorted_valid = 0;
    if (h->live == 0) {
        uint64_t rng = h->rng;
        free_nodes(h);
        h->rng = rng;
    }
}

float *vl__index_slots(vl_index *h, uint32_t n)
{
    if (!h || h->n != 0 || h->kind != VL_INDEX_HNSW || n == 0) return NULL;
    if (h->codes) return NULL;
    return reserve_nodes(h, n) ? NULL : h->vecs;
}

/* ---- in-place import (vl__index_place_*, internal.h) ------------------------
 * The INDEX decoder (store_index.c) writes each node's level and links
 * straight into links0 / upper; the vectors are already in the slots. */
int vl__index_place_begin(vl_index *h, uint32_t n)
{
    if (!h || n == 0 || h->n != 0 || h->kind != VL_INDEX_HNSW || h->cap < n) return VL_EINVAL;
    if (vl__hnsw_reserve(h, n)) return VL_ENOMEM;
    memset(h->upper, 0, (size_t)n * sizeof *h->upper);
    return VL_OK;
}

int vl__index_place_level(vl_index *h, uint32_t i, uint32_t level)
{
    h->level[i] = (uint8_t)level;
    if (!level) return VL_OK;
    h->upper[i] = vl_mem_alloc((size_t)level * (h->M + 1) * sizeof(uint32_t));
    return h->upper[i] ? VL_OK : VL_ENOMEM;
}

uint32_t *vl__index_place_links(vl_index *h, uint32_t i, uint32_t l)
{
    return (uint32_t *)vl__index_links(h, i, l);
}


void vl__index_place_abort(vl_index *h, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) { vl_mem_free(h->upper[i]); h->upper[i] = NULL; }
    free_nodes(h);
}

int vl__index_place_end(vl_index *h, uint32_t n, const uint64_t *ids, const uint8_t *dead, uint32_t entry,
                        uint32_t max_level)
{
    int rc = VL_OK;
    for (uint32_t i = 0; i < n; i++)
        if (dead[i] > 1) { vl__msg(h, "import: node %u dead flag %u", i, dead[i]); rc = VL_EINVAL; goto fail; }
    uint32_t live = 0;
    for (uint32_t i = 0; i < n; i++) {
        float inv = 1.0f;
        if (h->inv_norm && (rc = check_vector(h, h->vecs + (size_t)i * h->dim, "imported vector", i, &inv))) goto fail;
        if (h->inv_norm) h->inv_norm[i] = inv;
        live += !dead[i];
    }
    if (vl_idmap_reserve(&h->map, live)) { rc = VL_ENOMEM; goto fail; }
    for (uint32_t i = 0; i < n; i++) {
        h->ids[i] = ids[i];
        h->dead[i] = dead[i];
        h->meta[i] = NULL;
        h->meta_len[i] = 0;
        if (h->level[i]) h->upper_bytes += (uint64_t)h->level[i] * (h->M + 1) * sizeof(uint32_t);
        h->n++;
        vl__cols_set_node(h, i);
        if (map_imported(h, ids, dead, i, n)) return VL_EINVAL;
    }
    finish_import(h, entry, max_level);
    return VL_OK;
fail:
    if (rc == VL_ENOMEM) vl__msg(h, "out of memory importing a graph of %u nodes", n);
    vl__index_place_abort(h, n);
    return rc;
}

int vl__index_import(vl_index *h, const vl_graph *g, const uint64_t *ids, const float *vecs,
                     const uint8_t *dead, int decoded)
{
    if (!h || !g || (g->n && (!ids || !vecs || !dead || !g->level || !g->off || !g->adj)))
        return VL_EINVAL;
    if (h->n != 0 || h->kind != VL_INDEX_HNSW) { vl__msg(h, "import needs an empty HNSW index"); return VL_EINVAL; }
    if (g->M != h->M || g->M0 != h->M0) {
        vl__msg(h, "import: graph has M=%u/M0=%u, the index M=%u/M0=%u", g->M, g->M0, h->M, h->M0);
        return VL_EINVAL;
    }
    int rc = VL_OK;
    if (decoded) {                   /* vl__index_decode proved the graph invariants; the flags are ours */
        for (uint32_t i = 0; i < g->n; i++)
            if (dead[i] > 1) { vl__msg(h, "import: node %u dead flag %u", i, dead[i]); return VL_EINVAL; }
    } else {
        uint32_t *stamp = vl_mem_calloc(g->n ? g->n : 1, sizeof *stamp);
        if (!stamp) { vl__msg(h, "out of memory importing a graph"); return VL_ENOMEM; }
        rc = import_check(h, g, ids, dead, stamp);
        vl_mem_free(stamp);
        if (rc) return rc;
    }
    if (g->n == 0) {
        if (g->entry == VL_NO_NODE) return VL_OK;
        vl__msg(h, "import: empty graph with an entry point");
        return VL_EINVAL;
    }
    uint32_t n = g->n, live = 0;
    /* in place: the caller filled the node slots (vl__index_slots); the
     * reservation below then keeps them where they are (cap >= n already) */
    int in_place = vecs == h->vecs && h->cap >= n;
    if (reserve_nodes(h, n) || vl__hnsw_reserve(h, n)) goto nomem;
    /* one pass over the vectors: checked (nothing is changed yet: h->n is 0)
     * and their inverse norms kept; not needed for slots the caller checked
     * when there are no norms to keep */
    int read_vectors = !(decoded && in_place && !h->inv_norm);
    for (uint32_t i = 0; i < n; i++) {
        float inv = 1.0f;
        if (read_vectors && (rc = check_vector(h, vecs + (size_t)i * h->dim, "imported vector", i, &inv))) return rc;
        if (h->inv_norm) h->inv_norm[i] = inv;
        live += !dead[i];
    }
    if (vl_idmap_reserve(&h->map, live)) goto nomem;
    for (uint32_t i = 0; i < n; i++) {
        h->upper[i] = NULL;
        if (g->level[i]) {
            h->upper[i] = vl_mem_calloc(1, (size_t)g->level[i] * (h->M + 1) * sizeof(uint32_t));
            if (!h->upper[i]) {
                for (uint32_t j = 0; j < i; j++) vl_mem_free(h->upper[j]);
                goto nomem;
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        import_node_fn(h, g, i, ids, in_place ? NULL : vecs, dead);
        if (map_imported(h, ids, dead, i, n)) return VL_EINVAL;
    }
    finish_import(h, g->entry, g->max_level);
    return VL_OK;
nomem:
    free_nodes(h);
    vl__msg(h, "out of memory importing a graph of %u nodes", n);
    return VL_ENOMEM;
}
