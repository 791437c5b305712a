/*
 * store_index.c — the INDEX segment (type 0x02) of the store layer: the
 * HNSW graph persisted so that reopening a store does not rebuild it.
 *
 * Byte layout (docs/format.md §4; the layout @ruvector/rvf-node 0.2.3 writes,
 * checked against tests/golden/rvf/indexed.rvf; rvf-node itself ignores the
 * segment's contents on open and rebuilds, so the layout is ours to keep
 * consistent). Little-endian, offsets relative to the payload start:
 *
 *   header  u8 type (0 HNSW) | u8 2 | u16 M | u32 ef_construction |
 *           u64 node_count | zero padding to 64
 *   restart u32 interval (64) | u32 count = ceil(node_count / interval) |
 *           count x u32 offset of node (k * interval) relative to the node
 *           data start | zero padding to a multiple of 64
 *   nodes   per node ordinal o (= rank of its id in ascending id order):
 *           varint layer_count (= level + 1), then per layer: varint n and
 *           the n neighbour ordinals, ascending: absolute LEB128 values on
 *           restart nodes (o % interval == 0), otherwise deltas from the
 *           previous value of the same list (the first from 0);
 *           zero padding to a multiple of 64
 *   trailer u16 1 | u16 M0 | u32 max_layer | u64 entry ordinal (u64::MAX:
 *           none) | u64 id_count (= node_count) | the ids ascending as
 *           LEB128 (first absolute, then deltas) | u32 body_len (bytes of
 *           the trailer before this field) | "RVIX"
 *
 * What a node is (veclite's writer): one node per id. An id's current
 * (live) node represents it; an upsert's superseded copies are folded into
 * it (links to them are redirected); a deleted id keeps its newest
 * tombstone as a routing node as long as its row stays in the file (the
 * manifest's deleted list), else the tombstone is dropped and the lists
 * that pointed at it are re-selected from its neighbours (vl__graph_remap).
 *
 * Which rows an INDEX covers is not stored: the store knows it from the
 * file (rows in VEC segments at lower offsets than the INDEX; store.c).
 *
 * Reader invariant: vl__index_decode checks every count and ordinal against
 * hard caps (node_count bounded by the rows in the file, M <= VL_MAX_M,
 * levels <= VL_MAX_LEVEL) and the graph invariants (no self links, no
 * duplicates, ascending lists, neighbours of sufficient level, entry on
 * the top layer) before anything is built from it; a failing INDEX is
 * ignored by the store, which then rebuilds the graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), VL_ECORRUPT)

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* LEB128 from p[*o] below end; 0 on overflow or truncation. One-byte
 * values (most link deltas) take the inline path. */
static inline int varint(const uint8_t *p, uint64_t end, uint64_t *o, uint64_t *v)
{
    if (*o < end && p[*o] < 0x80) { *v = p[(*o)++]; return 1; }
    return vl__varint_get(p, end, o, v);
}

int vl__varint_get(const uint8_t *p, uint64_t end, uint64_t *o, uint64_t *v)
{
    uint64_t r = 0;
    for (uint32_t s = 0; s < 64; s += 7) {
        if (*o >= end) return 0;
        uint8_t c = p[(*o)++];
        if (s == 63 && c > 1) return 0;
        r |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) { *v = r; return 1; }
    }
    return 0;
}

/* ---- u32 array with its capacity (allocated once at a proven bound) ---- */
typedef struct u32v { uint32_t *p; uint64_t n, cap; } u32v;

/* ======================================================================
 * Graph re-mapping: redirect, remove and repair
 * ====================================================================== */

static float gdist(uint32_t metric, const float *a, const float *b, uint32_t dim)
{
    float d;
    if (metric == VL_METRIC_L2) d = vl_dist_l2sq(a, b, dim);
    else if (metric == VL_METRIC_DOT) d = -vl_dist_dot(a, b, dim);
    else d = vl_dist_cos(a, b, dim);
    return d == d ? d : 3.4e38f;
}

static int pair_cmp(const void *a, const void *b)
{
    const vl_pair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts for the per-list work of vl__graph_remap: lists are short (<= M0
 * after re-selection) and, when no link was redirected, already ascending,
 * so insertion sort is linear there; the libc qsort (callbacks per
 * comparison) dominated reopening a store. Long candidate sets (a list that
 * lost many neighbours) still go to qsort. The orders are total (distinct
 * ids), so the result is the same as qsort's. */
#define SMALL_SORT 64

static void sort_u32(uint32_t *a, uint32_t n)
{
    if (n > SMALL_SORT) { qsort(a, n, sizeof *a, u32_cmp); return; }
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = a[i], j = i;
        for (; j > 0 && a[j - 1] > x; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

static void sort_pairs(vl_pair *a, uint32_t n)
{
    if (n > SMALL_SORT) { qsort(a, n, sizeof *a, pair_cmp); return; }
    for (uint32_t i = 1; i < n; i++) {
        vl_pair x = a[i];
        uint32_t j = i;
        for (; j > 0 && pair_cmp(&a[j - 1], &x) > 0; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

VL_COLD int vl__graph_remap(const vl_gsrc *src, uint32_t n_out, const uint32_t *rep,
                    const float *(*vec)(const void *vctx, uint32_t j), const void *vctx,
                    uint32_t dim, uint32_t metric, uint32_t M, vl_graph *out)
{
    uint32_t M0 = 2 * M;
    memset(out, 0, sizeof *out);
    out->M = M;
    out->M0 = M0;
    out->entry = VL_NO_NODE;
    uint64_t ccap = (uint64_t)M0 * (M0 + 1) + 1;
    uint32_t *stamp = vl_mem_calloc(n_out ? n_out : 1, sizeof *stamp);
    uint32_t *cand = vl_mem_alloc((size_t)ccap * sizeof *cand);
    vl_pair *pr = vl_mem_alloc((size_t)ccap * sizeof *pr);
    float *outer = vl_mem_alloc((size_t)(dim ? dim : 1) * sizeof *outer);   /* vec() keeps only its last result */
    out->level = vl_mem_alloc(n_out ? n_out : 1);
    out->off = vl_mem_alloc(((size_t)n_out + 1) * sizeof *out->off);
    u32v adj = { 0 };
    int rc = VL_ENOMEM;
    if (!stamp || !cand || !pr || !outer || !out->level || !out->off) goto done;
    uint32_t gen = 0;
    for (uint32_t j = 0; j < n_out; j++) out->level[j] = src->level[rep[j]];
    /* Every list ends with at most maxc links (re-selection caps it), so
     * the adjacency is allocated once at its bound and trimmed at the end
     * (no doubling copies). */
    uint64_t bound = 1;
    for (uint32_t j = 0; j < n_out; j++) bound += 1 + (uint64_t)M0 + (uint64_t)out->level[j] * (1 + M);
    if (bound > UINT32_MAX || bound * 4 > SIZE_MAX) goto done;
    if (!(adj.p = vl_mem_alloc((size_t)bound * 4))) goto done;
    adj.cap = bound;
    out->off[0] = 0;
    for (uint32_t j = 0; j < n_out; j++) {
        uint32_t s = rep[j], L = out->level[j];
        for (uint32_t l = 0; l <= L; l++) {
            uint32_t maxc = l ? M : M0, nc = 0;
            if (++gen == 0) { memset(stamp, 0, (size_t)n_out * sizeof *stamp); gen = 1; }
            stamp[j] = gen;                              /* never link to itself */
            const uint32_t *ll = src->links(src->ctx, s, l);
            for (uint32_t a = 1; a <= ll[0]; a++) {
                uint32_t nb = ll[a], t = src->target[nb];
                if (t != VL_NO_NODE) {
                    if (stamp[t] != gen && out->level[t] >= l && nc < ccap) { stamp[t] = gen; cand[nc++] = t; }
                    continue;
                }
                if (src->level[nb] < l) continue;
                const uint32_t *l2 = src->links(src->ctx, nb, l);   /* removed: its neighbours */
                for (uint32_t b = 1; b <= l2[0]; b++) {
                    uint32_t t2 = src->target[l2[b]];
                    if (t2 == VL_NO_NODE || stamp[t2] == gen || out->level[t2] < l || nc >= ccap) continue;
                    stamp[t2] = gen;
                    cand[nc++] = t2;
                }
            }
            if (nc > maxc) {             /* re-select: hnswlib's heuristic over true distances */
                const float *v = outer;
                vl__vcopy(outer, vec(vctx, j), dim);
                for (uint32_t a = 0; a < nc; a++) pr[a] = (vl_pair){ gdist(metric, v, vec(vctx, cand[a]), dim), cand[a] };
                sort_pairs(pr, nc);
                uint32_t keep = 0;
                for (uint32_t a = 0; a < nc && keep < maxc; a++) {
                    int good = 1;
                    const float *va = outer;
                    vl__vcopy(outer, vec(vctx, pr[a].id), dim);
                    for (uint32_t b = 0; b < keep; b++)
                        if (gdist(metric, va, vec(vctx, pr[b].id), dim) < pr[a].d) { good = 0; break; }
                    if (good) pr[keep++] = pr[a];
                }
                for (uint32_t a = 0; a < keep; a++) cand[a] = pr[a].id;
                nc = keep;
            }
            sort_u32(cand, nc);
            adj.p[adj.n++] = nc;                         /* within bound: nc <= maxc */
            memcpy(adj.p + adj.n, cand, (size_t)nc * sizeof *cand);
            adj.n += nc;
        }
        out->off[j + 1] = (uint32_t)adj.n;
    }
    /* entry: the source entry's target if it is on the top layer, else the
     * first node of the highest level */
    uint32_t top = 0;
    for (uint32_t j = 0; j < n_out; j++) if (out->level[j] > top) top = out->level[j];
    if (n_out) {
        uint32_t e = src->entry != VL_NO_NODE ? src->target[src->entry] : VL_NO_NODE;
        if (e == VL_NO_NODE || out->level[e] != top)
            for (e = 0; out->level[e] != top; e++) {}
        out->entry = e;
        out->max_level = top;
    }
    out->n = n_out;
    if (adj.n < adj.cap) {                               /* trim to size (in place) */
        uint32_t *q = vl_mem_realloc(adj.p, (size_t)(adj.n ? adj.n : 1) * 4);
        if (q) adj.p = q;
    }
    out->adj = adj.p;
    adj.p = NULL;
    rc = VL_OK;
done:
    vl_mem_free(adj.p);
    vl_mem_free(stamp);
    vl_mem_free(cand);
    vl_mem_free(pr);
    vl_mem_free(outer);
    if (rc) vl__graph_free(out);
    return rc;
}

/* ======================================================================
 * Encode
 * ====================================================================== */

/* What the encoder reads: node o's level, and its layer-l links as output
 * ordinals, ascending, written to out (the count returned). */
typedef struct enc_src {
    uint32_t n, M, M0, max_level, entry;
    uint32_t (*level)(const void *ctx, uint32_t o);
    uint32_t (*links)(const void *ctx, uint32_t o, uint32_t l, uint32_t *out);
    const void *ctx;
} enc_src;

static uint32_t varint_len(uint64_t v)
{
    uint32_t k = 1;
    while (v >>= 7) k++;
    return k;
}

static uint8_t *put_varint(uint8_t *d, uint64_t v)
{
    while (v >= 0x80) {
        *d++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *d++ = (uint8_t)v;
    return d;
}

/* Node o's bytes: written at d (returns the end), or only counted (d NULL:
 * returns NULL + the count, read back with the caller's subtraction). */
VL_COLD static uint64_t enc_node(const enc_src *s, uint32_t o, uint32_t *tmp, uint8_t **d)
{
    uint32_t L = s->level(s->ctx, o);
    uint64_t len = varint_len(L + 1);
    if (d) *d = put_varint(*d, L + 1);
    for (uint32_t l = 0; l <= L; l++) {
        uint32_t c = s->links(s->ctx, o, l, tmp), prev = 0;
        len += varint_len(c);
        if (d) *d = put_varint(*d, c);
        for (uint32_t a = 0; a < c; a++) {
            uint32_t v = o % VL_INDEX_RESTART == 0 ? tmp[a] : tmp[a] - prev;
            len += varint_len(v);
            if (d) *d = put_varint(*d, v);
            prev = tmp[a];
        }
    }
    return len;
}

/* The INDEX payload (docs/format.md §4) of s, its node o having id ids[o].
 * Two passes: the first measures the node data (and records the restart
 * offsets), so the payload is allocated once at its exact size — no
 * doubling copies, nothing to trim (a checkpoint's peak memory is the
 * payload itself). */
VL_COLD static int encode_src(const enc_src *s, const uint64_t *ids, uint32_t ef_construction, vl_buf *out)
{
    memset(out, 0, sizeof *out);
    uint32_t n = s->n, cnt = (n + VL_INDEX_RESTART - 1) / VL_INDEX_RESTART;
    uint32_t tmp[2 * VL_MAX_M + 1];
    uint32_t *rs = vl_mem_alloc(((size_t)cnt + 1) * sizeof *rs);
    if (!rs) return VL_ENOMEM;
    uint64_t nodes = 0, idb = 0;
    for (uint32_t o = 0; o < n; o++) {
        if (o % VL_INDEX_RESTART == 0) {
            if (nodes > UINT32_MAX) { vl_mem_free(rs); return VL_ENOMEM; }
            rs[o / VL_INDEX_RESTART] = (uint32_t)nodes;
        }
        nodes += enc_node(s, o, tmp, NULL);
        idb += varint_len(o ? ids[o] - ids[o - 1] : ids[0]);
    }
    uint64_t rt = (64 + 8 + 4 * (uint64_t)cnt + 63) / 64 * 64, body = (nodes + 63) / 64 * 64;
    uint64_t tlen = 24 + idb, total = rt + body + tlen + 8;
    if (tlen > UINT32_MAX || total > SIZE_MAX || !vl__buf_reserve(out, total)) {
        vl_mem_free(rs);
        vl__buf_free(out);
        return VL_ENOMEM;
    }
    /* header */
    vl__buf_u8(out, 0);
    vl__buf_u8(out, 2);
    vl__buf_u16(out, (uint16_t)s->M);
    vl__buf_u32(out, ef_construction);
    vl__buf_u64(out, n);
    vl__buf_pad(out, 64);
    /* restart table */
    vl__buf_u32(out, VL_INDEX_RESTART);
    vl__buf_u32(out, cnt);
    for (uint32_t k = 0; k < cnt; k++) vl__buf_u32(out, rs[k]);
    vl__buf_pad(out, 64);
    vl_mem_free(rs);
    /* nodes, written in place (the room was reserved) */
    uint8_t *d = out->p + out->len;
    for (uint32_t o = 0; o < n; o++) enc_node(s, o, tmp, &d);
    out->len += nodes;
    vl__buf_pad(out, 64);
    /* trailer */
    uint64_t tstart = out->len;
    vl__buf_u16(out, 1);
    vl__buf_u16(out, (uint16_t)s->M0);
    vl__buf_u32(out, s->max_level);
    vl__buf_u64(out, n ? s->entry : UINT64_MAX);
    vl__buf_u64(out, n);
    d = out->p + out->len;
    for (uint32_t o = 0; o < n; o++) d = put_varint(d, o ? ids[o] - ids[o - 1] : ids[0]);
    out->len += idb;
    vl__buf_u32(out, (uint32_t)(out->len - tstart));
    vl__buf_put(out, "RVIX", 4);
    if (out->oom || out->len != total) { vl__buf_free(out); return VL_ENOMEM; }
    return VL_OK;
}

static uint32_t graph_level(const void *ctx, uint32_t o) { return ((const vl_graph *)ctx)->level[o]; }

static uint32_t graph_links(const void *ctx, uint32_t o, uint32_t l, uint32_t *out)
{
    const vl_graph *g = ctx;
    const uint32_t *q = g->adj + g->off[o];
    for (uint32_t k = 0; k < l; k++) q += 1 + q[0];
    memcpy(out, q + 1, (size_t)q[0] * sizeof *q);
    return q[0];
}

VL_COLD int vl__index_encode(const vl_graph *g, const uint64_t *ids, uint32_t ef_construction, vl_buf *out)
{
    enc_src s = { g->n, g->M, g->M0, g->max_level, g->entry, graph_level, graph_links, g };
    return encode_src(&s, ids, ef_construction, out);
}

/* ======================================================================
 * Decode (hostile input)
 * ====================================================================== */

/* One layer of node i from p[*o] (below ts) into dst: the count (at most
 * cap), then the neighbour ordinals, each < n, != i, ascending. */
static inline int decode_layer(const uint8_t *p, uint64_t ts, uint64_t *o, uint64_t i, uint64_t n, int restart,
                               uint32_t l, uint32_t cap, uint32_t *dst, char *why, size_t why_len)
{
    /* Fast path: room for a one-byte count and cap links of at most 5 bytes
     * each, so no per-byte bound checks; any doubt (a longer varint, a bad
     * link) falls through to the checked loop below, which re-decodes the
     * layer and names the fault. */
    if (*o < ts && ts - *o > 5 * ((uint64_t)cap + 1) && p[*o] < 0x80 && p[*o] <= cap) {
        const uint8_t *q = p + *o;
        uint32_t fc = *q++, bad = 0;
        uint64_t fprev = 0;
        for (uint32_t a = 0; a < fc; a++) {
            uint64_t fv = 0;
            uint32_t sh = 0, b;
            do {
                b = *q++;
                fv |= (uint64_t)(b & 0x7f) << sh;
                sh += 7;
            } while ((b & 0x80) && sh < 35);
            uint64_t x = restart ? fv : fprev + fv;     /* < 2^35 + 2^32: no overflow */
            bad |= (b >> 7) | (x >= n) | (x == i) | (a && x <= fprev);
            fprev = x;
            dst[1 + a] = (uint32_t)x;
        }
        if (!bad) {
            dst[0] = fc;
            *o = (uint64_t)(q - p);
            return VL_OK;
        }
    }
    uint64_t c, v, prev = 0;
    if (!varint(p, ts, o, &c) || c > cap)
        return WHY("INDEX node %llu layer %u has a bad link count", (unsigned long long)i, l);
    dst[0] = (uint32_t)c;
    for (uint64_t a = 0; a < c; a++) {
        if (!varint(p, ts, o, &v)) return WHY("INDEX node %llu links truncated", (unsigned long long)i);
        uint64_t x = restart ? v : prev + v;
        if (x < v || x >= n || x == i || (a && x <= prev))
            return WHY("INDEX node %llu layer %u link %llu invalid", (unsigned long long)i, l, (unsigned long long)x);
        prev = x;
        dst[1 + a] = (uint32_t)x;
    }
    return VL_OK;
}

/* Node i's layers from p[*o] (below ts) onto adj (room proven by the caller);
 * its level into g->level[i]. A function of its own, called once per node:
 * WebAssembly engines optimise a function after it has run a while, never
 * the loop that is running, so a per-node function gets fast within the
 * first nodes of a big INDEX where one long loop would not. */
static int decode_node(const uint8_t *p, uint64_t ts, uint64_t *o, uint64_t i, uint64_t n, int restart,
                       uint32_t M, uint32_t max_layer, vl_graph *g, u32v *adj, char *why, size_t why_len)
{
    uint64_t lc;
    if (!varint(p, ts, o, &lc) || lc == 0 || lc > (uint64_t)max_layer + 1)
        return WHY("INDEX node %llu has a bad layer count", (unsigned long long)i);
    g->level[i] = (uint8_t)(lc - 1);
    for (uint32_t l = 0; l < lc; l++) {
        /* within cap: one byte consumed per entry */
        int rc = decode_layer(p, ts, o, i, n, restart, l, l ? M : 2 * M, adj->p + adj->n, why, why_len);
        if (rc) return rc;
        adj->n += 1 + adj->p[adj->n];
    }
    return VL_OK;
}

/* per-item function: see VL_PER_ITEM in internal.h */
static int (*volatile decode_node_fn)(const uint8_t *, uint64_t, uint64_t *, uint64_t, uint64_t, int, uint32_t,
                                      uint32_t, vl_graph *, u32v *, char *, size_t) = decode_node;

/* Node i straight into the index h (vl__index_place_*): as decode_node. */
static int place_node(const uint8_t *p, uint64_t ts, uint64_t *o, uint64_t i, uint64_t n, int restart,
                      uint32_t M, uint32_t max_layer, vl_index *h, char *why, size_t why_len)
{
    uint64_t lc;
    if (!varint(p, ts, o, &lc) || lc == 0 || lc > (uint64_t)max_layer + 1)
        return WHY("INDEX node %llu has a bad layer count", (unsigned long long)i);
    if (vl__index_place_level(h, (uint32_t)i, (uint32_t)(lc - 1))) return VL_ENOMEM;
    for (uint32_t l = 0; l < lc; l++) {
        int rc = decode_layer(p, ts, o, i, n, restart, l, l ? M : 2 * M, vl__index_place_links(h, (uint32_t)i, l),
                              why, why_len);
        if (rc) return rc;
    }
    return VL_OK;
}

static int (*volatile place_node_fn)(const uint8_t *, uint64_t, uint64_t *, uint64_t, uint64_t, int, uint32_t,
                                     uint32_t, vl_index *, char *, size_t) = place_node;

int vl__index_decode_head(const uint8_t *p, uint64_t len, uint64_t max_nodes, vl_index_head *hd,
                          uint64_t **ids_out, char *why, size_t why_len)
{
    memset(hd, 0, sizeof *hd);
    *ids_out = NULL;
    if (len < 64 + 8 + 8 + 32) return WHY("INDEX payload of %llu bytes is too short", (unsigned long long)len);
    if (p[0] != 0 || p[1] != 2) return WHY("INDEX type %u version %u is not HNSW v2", p[0], p[1]);
    uint32_t M = rd16(p + 2);
    uint64_t n = rd64(p + 8);
    if (M < 2 || M > VL_MAX_M) return WHY("INDEX M = %u outside 2..%u", M, VL_MAX_M);
    if (n > max_nodes || n > len / 2 || n >= VL_NO_NODE)
        return WHY("INDEX claims %llu nodes in a %llu-byte payload (cap %llu)", (unsigned long long)n,
                   (unsigned long long)len, (unsigned long long)max_nodes);
    if (memcmp(p + len - 4, "RVIX", 4) != 0) return WHY("INDEX lacks its \"RVIX\" trailer magic");
    uint64_t body = rd32(p + len - 8);
    if (body < 24 || body > len - 8 - 64) return WHY("INDEX trailer length %llu invalid", (unsigned long long)body);
    uint64_t ts = len - 8 - body, tend = len - 8;
    if (rd16(p + ts) != 1) return WHY("INDEX trailer version %u", rd16(p + ts));
    uint32_t M0 = rd16(p + ts + 2), max_layer = rd32(p + ts + 4);
    uint64_t entry = rd64(p + ts + 8), idc = rd64(p + ts + 16);
    if (M0 != 2 * M) return WHY("INDEX M0 = %u, expected 2 x M = %u", M0, 2 * M);
    if (max_layer > VL_MAX_LEVEL) return WHY("INDEX max layer %u above %u", max_layer, VL_MAX_LEVEL);
    if (idc != n) return WHY("INDEX lists %llu ids for %llu nodes", (unsigned long long)idc, (unsigned long long)n);
    if (n ? entry >= n : entry != UINT64_MAX) return WHY("INDEX entry ordinal %llu invalid", (unsigned long long)entry);
    /* restart table */
    uint32_t interval = rd32(p + 64), cnt = rd32(p + 68);
    if (interval == 0 || cnt != (n + interval - 1) / interval || (uint64_t)cnt * 4 > ts - 72)
        return WHY("INDEX restart table (interval %u, %u entries) invalid", interval, cnt);
    uint64_t ds = (72 + (uint64_t)cnt * 4 + 63) / 64 * 64;
    if (ds > ts) return WHY("INDEX node data starts past the trailer");
    if (ts - ds + 1 > UINT32_MAX || (ts - ds + 1) * 4 > SIZE_MAX) {
        snprintf(why, why_len, "out of memory decoding an INDEX of %llu nodes", (unsigned long long)n);
        return VL_ENOMEM;
    }
    uint64_t *ids = vl_mem_alloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) {
        snprintf(why, why_len, "out of memory decoding an INDEX of %llu nodes", (unsigned long long)n);
        return VL_ENOMEM;
    }
    uint64_t o = ts + 24, v;
    for (uint64_t i = 0; i < n; i++) {
        if (!varint(p, tend, &o, &v)) { vl_mem_free(ids); return WHY("INDEX id %llu does not decode", (unsigned long long)i); }
        if (i && (v == 0 || v > UINT64_MAX - ids[i - 1])) {
            vl_mem_free(ids);
            return WHY("INDEX ids are not strictly ascending at %llu", (unsigned long long)i);
        }
        ids[i] = i ? ids[i - 1] + v : v;
    }
    if (o != tend) { vl_mem_free(ids); return WHY("INDEX trailer has %llu stray bytes", (unsigned long long)(tend - o)); }
    *hd = (vl_index_head){ (uint32_t)n, M, M0, max_layer, interval, n ? (uint32_t)entry : VL_NO_NODE,
                           rd32(p + 4), ds, ts };
    *ids_out = ids;
    return VL_OK;
}

/* The top level (*top) of nodes [0, n) given their levels and links, after
 * checking that every upper-layer neighbour has a level >= the layer and the
 * entry point is on the top layer. */
#define CHECK_LEVELS(LEVEL, LINKS)                                                                            \
    do {                                                                                                      \
        for (uint64_t i = 0; i < n; i++) {                                                                    \
            if (LEVEL(i) > top) top = LEVEL(i);                                                               \
            for (uint32_t l = 1; l <= LEVEL(i); l++) {                                                        \
                const uint32_t *q = LINKS(i, l);                                                              \
                for (uint32_t a = 0; a < q[0]; a++)                                                           \
                    if (LEVEL(q[1 + a]) < l) {                                                                \
                        rc = WHY("INDEX node %llu layer %u links to a node of level %u", (unsigned long long)i, l, \
                                 LEVEL(q[1 + a]));                                                            \
                        goto fail;                                                                            \
                    }                                                                                         \
            }                                                                                                 \
        }                                                                                                     \
        if (n && (top != hd->max_layer || LEVEL(hd->entry) != top)) {                                         \
            rc = WHY("INDEX entry / max layer (%u) disagree with the node levels (top %u)", hd->max_layer, top); \
            goto fail;                                                                                        \
        }                                                                                                     \
    } while (0)

/* node i's layer l in a decoded graph (off/adj filled, levels known) */
static const uint32_t *g_links(const vl_graph *g, uint64_t i, uint32_t l)
{
    const uint32_t *q = g->adj + g->off[i];
    for (uint32_t k = 0; k < l; k++) q += 1 + q[0];
    return q;
}

int vl__index_decode_nodes(const uint8_t *p, const vl_index_head *hd, vl_graph *g, char *why, size_t why_len)
{
    memset(g, 0, sizeof *g);
    g->entry = VL_NO_NODE;
    uint64_t n = hd->n, ds = hd->ds, ts = hd->ts;
    g->level = vl_mem_alloc((size_t)(n ? n : 1));
    g->off = vl_mem_alloc(((size_t)n + 1) * sizeof *g->off);
    u32v adj = { 0 };
    int rc = VL_ENOMEM;
    if (!g->level || !g->off) goto fail;
    /* Every adjacency entry (a count or a link) takes at least one byte of
     * node data, so ts - ds entries always suffice: one allocation, trimmed
     * after decoding, instead of doubling copies (the bound was checked by
     * vl__index_decode_head). */
    adj.cap = ts - ds + 1;
    if (!(adj.p = vl_mem_alloc((size_t)adj.cap * 4))) goto fail;
    uint64_t o = ds;
    g->off[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (i % hd->interval == 0 && o - ds != rd32(p + 72 + 4 * (i / hd->interval))) {
            rc = WHY("INDEX restart offset of node %llu is wrong", (unsigned long long)i);
            goto fail;
        }
        if ((rc = decode_node_fn(p, ts, &o, i, n, i % hd->interval == 0, hd->M, hd->max_layer, g, &adj, why,
                                 why_len)))
            goto fail;
        g->off[i + 1] = (uint32_t)adj.n;
    }
    g->adj = adj.p;
    uint32_t top = 0;
#define LEVEL(i) g->level[i]
#define LINKS(i, l) g_links(g, i, l)
    CHECK_LEVELS(LEVEL, LINKS);
#undef LEVEL
#undef LINKS
    g->n = (uint32_t)n;
    g->M = hd->M;
    g->M0 = hd->M0;
    g->entry = hd->entry;
    g->max_level = n ? top : 0;
    if (adj.p && adj.n < adj.cap) {                  /* trim to size (in place) */
        uint32_t *q = vl_mem_realloc(adj.p, (size_t)(adj.n ? adj.n : 1) * 4);
        if (q) adj.p = q;
    }
    g->adj = adj.p;
    if (!g->adj) g->adj = vl_mem_alloc(4);
    if (!g->adj) { adj.p = NULL; rc = VL_ENOMEM; goto fail; }
    return VL_OK;
fail:
    if (rc == VL_ENOMEM) snprintf(why, why_len, "out of memory decoding an INDEX of %llu nodes", (unsigned long long)n);
    vl_mem_free(adj.p);
    g->adj = NULL;
    vl__graph_free(g);
    return rc;
}

int vl__index_decode(const uint8_t *p, uint64_t len, uint64_t max_nodes, vl_graph *g,
                     uint64_t **ids_out, uint32_t *efc_out, char *why, size_t why_len)
{
    memset(g, 0, sizeof *g);
    g->entry = VL_NO_NODE;
    vl_index_head hd;
    int rc = vl__index_decode_head(p, len, max_nodes, &hd, ids_out, why, why_len);
    if (rc) return rc;
    if ((rc = vl__index_decode_nodes(p, &hd, g, why, why_len))) {
        vl_mem_free(*ids_out);
        *ids_out = NULL;
        return rc;
    }
    if (efc_out) *efc_out = hd.efc;
    return VL_OK;
}

int vl__index_place(vl_index *h, const uint8_t *p, const vl_index_head *hd, const uint64_t *ids, const uint8_t *dead,
                    char *why, size_t why_len)
{
    uint64_t n = hd->n, ds = hd->ds, ts = hd->ts;
    int rc = vl__index_place_begin(h, (uint32_t)n);
    if (rc) {
        snprintf(why, why_len, rc == VL_ENOMEM ? "out of memory importing the graph" : "the index cannot take the graph");
        return rc;
    }
    uint64_t o = ds;
    for (uint64_t i = 0; i < n; i++) {
        if (i % hd->interval == 0 && o - ds != rd32(p + 72 + 4 * (i / hd->interval))) {
            rc = WHY("INDEX restart offset of node %llu is wrong", (unsigned long long)i);
            goto fail;
        }
        if ((rc = place_node_fn(p, ts, &o, i, n, i % hd->interval == 0, hd->M, hd->max_layer, h, why, why_len)))
            goto fail;
    }
    uint32_t top = 0;
    {
        const uint8_t *lv = vl__index_levels(h);
#define LEVEL(i) lv[i]
#define LINKS(i, l) vl__index_links(h, (uint32_t)(i), l)
        CHECK_LEVELS(LEVEL, LINKS);
#undef LEVEL
#undef LINKS
    }
    if ((rc = vl__index_place_end(h, (uint32_t)n, ids, dead, hd->entry, n ? top : 0))) {
        snprintf(why, why_len, "%s", vl_errmsg(h));
        return rc;
    }
    return VL_OK;
fail:
    if (rc == VL_ENOMEM) snprintf(why, why_len, "out of memory decoding an INDEX of %llu nodes", (unsigned long long)n);
    vl__index_place_abort(h, (uint32_t)n);
    return rc;
}

/* ======================================================================
 * Export from an in-memory index
 * ====================================================================== */

static const uint32_t *idx_links(const void *ctx, uint32_t i, uint32_t l)
{
    return vl__index_links(ctx, i, l);
}

/* a quantized index has no rows: the vector its code stands for, decoded
 * into buf (vl__graph_remap keeps only the last result of vec()) */
typedef struct exp_vec { const vl_index *h; const uint32_t *rep; float *buf; } exp_vec;

static const float *exp_vec_fn(const void *ctx, uint32_t j)
{
    const exp_vec *e = ctx;
    return vl__index_node_f32(e->h, e->rep[j], e->buf);
}

typedef struct idslot { uint64_t id; uint32_t slot; } idslot;

static int idslot_cmp(const void *a, const void *b)
{
    const idslot *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The live graph as the encoder reads it: output node o is index node
 * rep[o], its links renumbered by target (a bijection here) and sorted. */
typedef struct live_src { const vl_index *h; const uint32_t *rep, *target; const uint8_t *level; } live_src;

static uint32_t live_level(const void *ctx, uint32_t o)
{
    const live_src *c = ctx;
    return c->level[c->rep[o]];
}

static uint32_t live_links(const void *ctx, uint32_t o, uint32_t l, uint32_t *out)
{
    const live_src *c = ctx;
    const uint32_t *q = vl__index_links(c->h, c->rep[o], l);
    for (uint32_t a = 0; a < q[0]; a++) {           /* insertion sort: lists are short */
        uint32_t x = c->target[q[1 + a]], j = a;
        for (; j > 0 && out[j - 1] > x; j--) out[j] = out[j - 1];
        out[j] = x;
    }
    return q[0];
}

/* vl__index_export's payload when every node is kept: what vl__graph_remap
 * then builds is this renumbering (no link dropped, redirected or
 * re-selected), so the same bytes come out without the exported copy of
 * the graph (~136 bytes a node for M=16) next to the live one. */
VL_COLD static int encode_live(vl_index *h, uint32_t n, const uint32_t *rep, const uint32_t *target, uint32_t entry,
                       const uint64_t *ids, vl_buf *payload)
{
    live_src c = { h, rep, target, vl__index_levels(h) };
    uint32_t top = 0, e = VL_NO_NODE;
    for (uint32_t o = 0; o < n; o++) if (c.level[rep[o]] > top) top = c.level[rep[o]];
    if (n) {
        e = entry != VL_NO_NODE ? target[entry] : VL_NO_NODE;
        if (e == VL_NO_NODE || c.level[rep[e]] != top)
            for (e = 0; c.level[rep[e]] != top; e++) {}
    }
    enc_src s = { n, vl__index_M(h), 2 * vl__index_M(h), top, e, live_level, live_links, &c };
    return encode_src(&s, ids, vl__index_efc(h), payload);
}

VL_COLD int vl__index_export(vl_index *h, int (*keep_deleted)(void *ctx, uint64_t id), void *ctx,
                     vl_buf *payload, vl_graph *g_out, uint64_t **ids_out, float **vecs_out,
                     uint8_t **dead_out)
{
    uint32_t entry = vl__index_entry(h), dim = vl__index_dim(h);
    uint32_t n = entry == VL_NO_NODE ? 0 : vl__index_nodes(h);
    vl_idmap dmap = { 0 };
    exp_vec ev = { h, NULL, NULL };
    uint32_t *target = vl_mem_alloc((size_t)(n ? n : 1) * sizeof *target);
    idslot *reps = vl_mem_alloc((size_t)(n ? n : 1) * sizeof *reps);
    uint32_t *rep = vl_mem_alloc((size_t)(n ? n : 1) * sizeof *rep);
    uint64_t *ids = vl_mem_alloc((size_t)(n ? n : 1) * sizeof *ids);
    vl_graph g;
    memset(&g, 0, sizeof g);
    g.entry = VL_NO_NODE;
    int rc = VL_ENOMEM;
    /* the map holds deleted ids only: sized for the tombstones (none: no map), not for every node */
    uint32_t ndead = 0;
    for (uint32_t i = 0; i < n; i++) ndead += vl__index_node_dead(h, i) != 0;
    if (!target || !reps || !rep || !ids || (ndead && vl_idmap_reserve(&dmap, ndead))) goto done;
    /* representatives: live nodes, and the newest kept tombstone per deleted id */
    for (uint32_t i = 0; i < n; i++)
        if (vl__index_node_dead(h, i) && vl__index_live_node(h, vl__index_node_id(h, i)) == VL_NO_NODE &&
            keep_deleted && keep_deleted(ctx, vl__index_node_id(h, i)))
            vl_idmap_put(&dmap, vl__index_node_id(h, i), i);
    uint32_t nr = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = vl__index_node_id(h, i);
        uint32_t r = vl__index_node_dead(h, i) ? vl_idmap_get(&dmap, id) : i;
        if (r == i) reps[nr++] = (idslot){ id, i };
    }
    qsort(reps, nr, sizeof *reps, idslot_cmp);
    for (uint32_t i = 0; i < n; i++) target[i] = VL_NO_NODE;
    for (uint32_t j = 0; j < nr; j++) {
        rep[j] = reps[j].slot;
        ids[j] = reps[j].id;
        target[reps[j].slot] = j;
    }
    vl_mem_free(reps);   /* not alive next to the payload (16 bytes a node) */
    reps = NULL;
    for (uint32_t i = 0; i < n; i++) {               /* redirect superseded copies */
        if (target[i] != VL_NO_NODE) continue;
        uint64_t id = vl__index_node_id(h, i);
        uint32_t r = vl__index_live_node(h, id);
        if (r == VL_NO_NODE) r = vl_idmap_get(&dmap, id);
        if (r != VL_NO_NODE) target[i] = target[r];
    }
    if (nr == n && payload && !g_out && !vecs_out) {
        /* every node kept (no tombstone dropped, none redirected): the export
         * is the live graph renumbered by id, encoded straight from the index */
        rc = encode_live(h, n, rep, target, entry, ids, payload);
        goto done;
    }
    vl_gsrc src = { n, vl__index_levels(h), idx_links, h, target, n ? entry : VL_NO_NODE };
    ev.rep = rep;
    if (vl__index_quant(h) && !(ev.buf = vl_mem_alloc((size_t)dim * sizeof(float)))) { rc = VL_ENOMEM; goto done; }
    if ((rc = vl__graph_remap(&src, nr, rep, exp_vec_fn, &ev, dim, vl__index_metric(h), vl__index_M(h), &g)))
        goto done;
    if (payload && (rc = vl__index_encode(&g, ids, vl__index_efc(h), payload))) goto done;
    if (vecs_out) {
        float *vv = vl_mem_alloc((size_t)(nr ? nr : 1) * dim * sizeof(float));
        uint8_t *dd = vl_mem_alloc(nr ? nr : 1);
        if (!vv || !dd) {
            vl_mem_free(vv);
            vl_mem_free(dd);
            if (payload) vl__buf_free(payload);
            rc = VL_ENOMEM;
            goto done;
        }
        for (uint32_t j = 0; j < nr; j++) {
            vl__vcopy(vv + (size_t)j * dim, vl__index_node_f32(h, rep[j], vv + (size_t)j * dim), dim);
            dd[j] = (uint8_t)vl__index_node_dead(h, rep[j]);
        }
        *vecs_out = vv;
        *dead_out = dd;
    }
    if (g_out) { *g_out = g; memset(&g, 0, sizeof g); }
    if (ids_out) { *ids_out = ids; ids = NULL; }
    rc = VL_OK;
done:
    vl_mem_free(ev.buf);
    vl__graph_free(&g);
    vl_idmap_free(&dmap);
    vl_mem_free(target);
    vl_mem_free(reps);
    vl_mem_free(rep);
    vl_mem_free(ids);
    return rc;
}
