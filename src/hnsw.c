/*
 * hnsw.c — the HNSW graph (Malkov & Yashunin), following hnswlib's
 * algorithms so recall and speed are comparable with it:
 *   - level of a new node: floor(-ln(U) * 1/ln(M)) from a splitmix64 stream
 *     seeded by cfg.seed (same seed + same inserts = same graph);
 *   - insert: greedy descent on the layers above the node's level, then on
 *     each of its layers a beam search with ef_construction, the "heuristic"
 *     neighbour selection (getNeighborsByHeuristic2) down to M, and
 *     back-links; a full neighbour list (M on upper layers, M0 = 2M on
 *     layer 0) is re-pruned with the same heuristic;
 *   - search: greedy descent to layer 1, beam search with ef on layer 0.
 *     Tombstones and nodes the filter rejects still route but never enter the
 *     result set; in that case the beam keeps going until it holds ef
 *     acceptable nodes or runs out of candidates (hnswlib's isIdAllowed).
 *
 * Memory (internal.h): layer 0 links in one flat array of node*(M0+1) u32
 * ({count, slots}), upper layers per node. Traversal scratch (visited tags,
 * the two binary heaps, selection buffers) lives in the index and is
 * reserved before a batch or search starts, so the per-query and per-insert
 * paths never allocate. Visited marks are u16 generation tags: a new search
 * bumps the tag instead of clearing the array (cleared only on wrap).
 *
 * Invariants (vl__hnsw_check): entry point on max_level; every link points to
 * another node whose level covers the layer; no duplicate links; counts
 * within M / M0; upper[i] != NULL iff level[i] > 0.
 */
#include <math.h>
#include <string.h>
#include "internal.h"

#if (defined(__GNUC__) || defined(__clang__)) && !defined(__wasm__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

uint32_t vl__random_level(vl_index *h)
{
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    double r = (double)((z >> 11) + 1) * 0x1.0p-53;    /* (0, 1] */
    double l = -log(r) * h->level_mult;
    return l >= VL_MAX_LEVEL ? VL_MAX_LEVEL : (uint32_t)l;
}

static inline uint32_t *links_at(const vl_index *h, uint32_t node, uint32_t layer)
{
    if (layer == 0) return h->links0 + (size_t)node * (h->M0 + 1);
    return h->upper[node] + (size_t)(layer - 1) * (h->M + 1);
}

static inline float node_inv(const vl_index *h, uint32_t node)
{
    return h->inv_norm ? h->inv_norm[node] : 1.0f;
}

static inline const float *node_vec(const vl_index *h, uint32_t node)
{
    return h->vecs + (size_t)node * h->dim;
}

static inline float dist_nodes(const vl_index *h, uint32_t a, uint32_t b)
{
    return vl__dist_node(h, node_vec(h, a), node_inv(h, a), b);
}

/* ---- binary heaps on vl_pair ----------------------------------------------
 * min-heap (closest on top) for candidates, max-heap (furthest on top) for
 * results. Capacity is the caller's business (reserved in advance). */

static inline void minheap_push(vl_pair *a, uint32_t *n, vl_pair x)
{
    uint32_t c = (*n)++;
    while (c > 0) {
        uint32_t p = (c - 1) >> 1;
        if (a[p].d <= x.d) break;
        a[c] = a[p];
        c = p;
    }
    a[c] = x;
}

static inline void minheap_pop(vl_pair *a, uint32_t *n)
{
    uint32_t sz = --(*n);
    if (sz == 0) return;
    vl_pair x = a[sz];
    uint32_t c = 0;
    for (;;) {
        uint32_t l = 2 * c + 1;
        if (l >= sz) break;
        if (l + 1 < sz && a[l + 1].d < a[l].d) l++;
        if (a[l].d >= x.d) break;
        a[c] = a[l];
        c = l;
    }
    a[c] = x;
}

static inline void maxheap_push(vl_pair *a, uint32_t *n, vl_pair x)
{
    uint32_t c = (*n)++;
    while (c > 0) {
        uint32_t p = (c - 1) >> 1;
        if (a[p].d >= x.d) break;
        a[c] = a[p];
        c = p;
    }
    a[c] = x;
}

static inline void maxheap_pop(vl_pair *a, uint32_t *n)
{
    uint32_t sz = --(*n);
    if (sz == 0) return;
    vl_pair x = a[sz];
    uint32_t c = 0;
    for (;;) {
        uint32_t l = 2 * c + 1;
        if (l >= sz) break;
        if (l + 1 < sz && a[l + 1].d > a[l].d) l++;
        if (a[l].d <= x.d) break;
        a[c] = a[l];
        c = l;
    }
    a[c] = x;
}

/* Sort a max-heap of n pairs into ascending distance, in place. */
static void maxheap_sort(vl_pair *a, uint32_t n)
{
    while (n > 1) {
        vl_pair top = a[0];
        uint32_t m = n;
        maxheap_pop(a, &m);
        a[m] = top;
        n = m;
    }
}

/* Sort an arbitrary array ascending by d (heapify, then sort). */
static void pairs_sort(vl_pair *a, uint32_t n)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) maxheap_push(a, &m, a[i]);
    maxheap_sort(a, n);
}

/* ---- traversal ------------------------------------------------------------- */

static inline uint16_t new_visit_tag(vl_index *h)
{
    if (++h->visit_tag == 0) {
        memset(h->visit, 0, (size_t)h->cap * sizeof *h->visit);
        h->visit_tag = 1;
    }
    return h->visit_tag;
}

/* Greedy descent from (ep, *ep_d) through layers top..stop+1. */
static uint32_t greedy(const vl_index *h, const float *q, float qinv, uint32_t ep, float *ep_d,
                       uint32_t top, uint32_t stop)
{
    uint32_t cur = ep;
    float cd = *ep_d;
    for (uint32_t l = top; l > stop; l--) {
        int changed = 1;
        while (changed) {
            changed = 0;
            const uint32_t *ll = links_at(h, cur, l);
            uint32_t cnt = ll[0];
            for (uint32_t j = 1; j <= cnt; j++) {
                uint32_t nb = ll[j];
                float d = vl__dist_node(h, q, qinv, nb);
                if (d < cd) { cd = d; cur = nb; changed = 1; }
            }
        }
    }
    *ep_d = cd;
    return cur;
}

#if defined(__GNUC__) || defined(__clang__)
#define VL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define VL_ALWAYS_INLINE inline
#endif

/* Distance with the metric a compile-time constant (see search_layer). */
static VL_ALWAYS_INLINE float dist_m(const uint32_t metric, const float *q, float qinv,
                                     const float *vecs, const float *invn, uint32_t dim,
                                     uint32_t i)
{
    const float *v = vecs + (size_t)i * dim;
    float d;
    if (metric == VL_METRIC_L2) d = VL_K_L2SQ(q, v, dim);
    else if (metric == VL_METRIC_DOT) d = -VL_K_DOT(q, v, dim);
    else d = vl_k_cos_from_dot(VL_K_DOT(q, v, dim), qinv, invn[i]);
    return d == d ? d : (float)INFINITY;
}

/* Beam search on one layer from ep. Results (acceptable nodes only) are left
 * in h->top as a max-heap; returns their count (<= ef). `restricted`: some
 * nodes are not acceptable (tombstones or a filter), so keep expanding until
 * ef acceptable nodes were found or the candidates ran out.
 * Instantiated per (metric, filtered, restricted) by search_layer below with
 * the index fields in locals: stores into the visited array and the heaps
 * could alias the handle, so without this the compiler reloads h->vecs,
 * h->dim... on every neighbour. Together with the inline result sort of
 * index.c this took the SIMD wasm build from 8.4k to 9.8k QPS (ef=100,
 * CLIP-100, one process, shared 2-core machine). */
static VL_ALWAYS_INLINE uint32_t search_layer_t(vl_index *h, const float *q, float qinv,
                                                uint32_t ep, float ep_d, uint32_t layer,
                                                uint32_t ef, const int filtered,
                                                const int restricted, const uint32_t metric)
{
    const uint16_t tag = new_visit_tag(h);
    uint16_t *const visit = h->visit;
    vl_pair *const cand = h->cand, *const top = h->top;
    const float *const vecs = h->vecs, *const invn = h->inv_norm;
    const uint8_t *const dead = h->dead;
    const uint32_t dim = h->dim;
    const uint32_t *const links0 = h->links0;
    const size_t stride0 = h->M0 + 1, off_up = (size_t)(layer ? layer - 1 : 0) * (h->M + 1);
    uint32_t *const *const upper = h->upper;
    uint32_t nc = 0, nt = 0;
    float lb = INFINITY;
    visit[ep] = tag;
    if (!dead[ep] && (!filtered || vl__filter_node(h, ep))) {
        top[nt++] = (vl_pair){ ep_d, ep };
        lb = ep_d;
    }
    cand[nc++] = (vl_pair){ ep_d, ep };
    while (nc) {
        vl_pair c = cand[0];
        if (c.d > lb && (nt == ef || !restricted)) break;
        minheap_pop(cand, &nc);
        const uint32_t *ll = layer ? upper[c.id] + off_up : links0 + (size_t)c.id * stride0;
        uint32_t cnt = ll[0];
        if (cnt) PREFETCH(vecs + (size_t)ll[1] * dim);
        for (uint32_t j = 1; j <= cnt; j++) {
            uint32_t nb = ll[j];
            if (j < cnt) PREFETCH(vecs + (size_t)ll[j + 1] * dim);
            if (visit[nb] == tag) continue;
            visit[nb] = tag;
            float d = dist_m(metric, q, qinv, vecs, invn, dim, nb);
            if (nt < ef || d < lb) {
                minheap_push(cand, &nc, (vl_pair){ d, nb });
                if (!restricted || (!dead[nb] && (!filtered || vl__filter_node(h, nb)))) {
                    maxheap_push(top, &nt, (vl_pair){ d, nb });
                    if (nt > ef) maxheap_pop(top, &nt);
                }
                if (nt) lb = top[0].d;
            }
        }
    }
    return nt;
}

static uint32_t search_layer(vl_index *h, const float *q, float qinv, uint32_t ep, float ep_d,
                             uint32_t layer, uint32_t ef, int filtered, int restricted)
{
#define SL(F, R, MET) search_layer_t(h, q, qinv, ep, ep_d, layer, ef, F, R, MET)
    switch (h->metric) {
    case VL_METRIC_L2:
        return filtered ? SL(1, 1, VL_METRIC_L2) : restricted ? SL(0, 1, VL_METRIC_L2) : SL(0, 0, VL_METRIC_L2);
    case VL_METRIC_DOT:
        return filtered ? SL(1, 1, VL_METRIC_DOT) : restricted ? SL(0, 1, VL_METRIC_DOT) : SL(0, 0, VL_METRIC_DOT);
    default:
        return filtered ? SL(1, 1, VL_METRIC_COSINE) : restricted ? SL(0, 1, VL_METRIC_COSINE)
                        : SL(0, 0, VL_METRIC_COSINE);
    }
#undef SL
}

uint32_t vl__hnsw_search(vl_index *h, const float *q, float qinv, uint32_t ef, int filtered,
                         vl_pair *out)
{
    if (h->entry == VL_NO_NODE) return 0;
    uint32_t ep = h->entry;
    float d = vl__dist_node(h, q, qinv, ep);
    ep = greedy(h, q, qinv, ep, &d, h->max_level, 0);
    int restricted = filtered || h->live != h->n;
    uint32_t nt = search_layer(h, q, qinv, ep, d, 0, ef, filtered, restricted);
    if (out != h->top) memcpy(out, h->top, (size_t)nt * sizeof *out);
    return nt;
}

/* ---- construction ---------------------------------------------------------- */

/* hnswlib's getNeighborsByHeuristic2 on `a` (n pairs sorted ascending by
 * distance to the base point): keep a candidate only if it is closer to the
 * base than to every candidate kept so far; stop at m. Compacts in place and
 * returns the number kept. */
static uint32_t select_heuristic(const vl_index *h, vl_pair *a, uint32_t n, uint32_t m)
{
    if (n < m) return n;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < n && keep < m; i++) {
        int good = 1;
        for (uint32_t j = 0; j < keep; j++)
            if (dist_nodes(h, a[i].id, a[j].id) < a[i].d) { good = 0; break; }
        if (good) a[keep++] = a[i];
    }
    return keep;
}

/* Link `node` on `layer` to the nt results in h->top; returns the closest. */
static uint32_t connect(vl_index *h, uint32_t node, uint32_t layer, uint32_t nt)
{
    uint32_t sel_ids[VL_MAX_M];
    vl_pair *top = h->top;
    maxheap_sort(top, nt);
    uint32_t s = select_heuristic(h, top, nt, h->M);
    uint32_t closest = top[0].id;
    uint32_t *mine = links_at(h, node, layer);
    mine[0] = s;
    for (uint32_t i = 0; i < s; i++) { mine[1 + i] = top[i].id; sel_ids[i] = top[i].id; }

    uint32_t maxc = layer ? h->M : h->M0;
    for (uint32_t i = 0; i < s; i++) {
        uint32_t nb = sel_ids[i];
        uint32_t *ll = links_at(h, nb, layer);
        uint32_t cnt = ll[0];
        if (cnt < maxc) {
            ll[1 + cnt] = node;
            ll[0] = cnt + 1;
            continue;
        }
        /* full: re-select among the old links plus the new node */
        vl_pair *c = h->sel;
        c[0] = (vl_pair){ dist_nodes(h, nb, node), node };
        for (uint32_t j = 0; j < cnt; j++) c[1 + j] = (vl_pair){ dist_nodes(h, nb, ll[1 + j]), ll[1 + j] };
        pairs_sort(c, cnt + 1);
        uint32_t k = select_heuristic(h, c, cnt + 1, maxc);
        ll[0] = k;
        for (uint32_t j = 0; j < k; j++) ll[1 + j] = c[j].id;
    }
    return closest;
}

void vl__hnsw_insert(vl_index *h, uint32_t node)
{
    uint32_t L = h->level[node];
    for (uint32_t l = 1; l <= L; l++) links_at(h, node, l)[0] = 0;
    links_at(h, node, 0)[0] = 0;
    if (h->entry == VL_NO_NODE) {
        h->entry = node;
        h->max_level = L;
        return;
    }
    const float *q = node_vec(h, node);
    float qinv = node_inv(h, node);
    uint32_t cur = h->entry;
    float cd = vl__dist_node(h, q, qinv, cur);
    if (L < h->max_level) cur = greedy(h, q, qinv, cur, &cd, h->max_level, L);
    for (uint32_t l = L < h->max_level ? L : h->max_level;; l--) {
        uint32_t nt = search_layer(h, q, qinv, cur, cd, l, h->efc, 0, 1);
        if (h->dead[cur]) {
            /* hnswlib: a deleted entry point still joins the candidates so a
             * new node next to a tombstoned region is not left unlinked */
            maxheap_push(h->top, &nt, (vl_pair){ cd, cur });
            if (nt > h->efc) maxheap_pop(h->top, &nt);
        }
        if (nt) {
            cur = connect(h, node, l, nt);
            cd = dist_nodes(h, node, cur);
        }
        if (l == 0) break;
    }
    if (L > h->max_level) {
        h->entry = node;
        h->max_level = L;
    }
}

/* ---- invariants ------------------------------------------------------------ */

int vl__hnsw_check(const vl_index *h)
{
    if (h->n == 0) {
        if (h->entry != VL_NO_NODE) { vl__msg(h, "empty graph has an entry point"); return VL_ECORRUPT; }
        return VL_OK;
    }
    if (h->entry >= h->n) { vl__msg(h, "entry point %u out of range", h->entry); return VL_ECORRUPT; }
    if (h->level[h->entry] != h->max_level) {
        vl__msg(h, "entry point %u has level %u, max level is %u", h->entry, h->level[h->entry],
                h->max_level);
        return VL_ECORRUPT;
    }
    uint64_t ub = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        uint32_t L = h->level[i];
        if (L > h->max_level || L > VL_MAX_LEVEL) {
            vl__msg(h, "node %u level %u above max level %u", i, L, h->max_level);
            return VL_ECORRUPT;
        }
        if ((L > 0) != (h->upper[i] != NULL)) {
            vl__msg(h, "node %u level %u but upper links %s", i, L, h->upper[i] ? "present" : "missing");
            return VL_ECORRUPT;
        }
        ub += (uint64_t)L * (h->M + 1) * sizeof(uint32_t);
        for (uint32_t l = 0; l <= L; l++) {
            const uint32_t *ll = links_at(h, i, l);
            uint32_t cnt = ll[0], maxc = l ? h->M : h->M0;
            if (cnt > maxc) {
                vl__msg(h, "node %u layer %u has %u links (max %u)", i, l, cnt, maxc);
                return VL_ECORRUPT;
            }
            for (uint32_t j = 1; j <= cnt; j++) {
                uint32_t nb = ll[j];
                if (nb >= h->n) { vl__msg(h, "node %u layer %u links to %u (n=%u)", i, l, nb, h->n); return VL_ECORRUPT; }
                if (nb == i) { vl__msg(h, "node %u layer %u links to itself", i, l); return VL_ECORRUPT; }
                if (h->level[nb] < l) {
                    vl__msg(h, "node %u layer %u links to %u of level %u", i, l, nb, h->level[nb]);
                    return VL_ECORRUPT;
                }
                for (uint32_t k = 1; k < j; k++)
                    if (ll[k] == nb) { vl__msg(h, "node %u layer %u links twice to %u", i, l, nb); return VL_ECORRUPT; }
            }
        }
    }
    if (ub != h->upper_bytes) {
        vl__msg(h, "upper-layer bytes %llu, accounted %llu", (unsigned long long)ub,
                (unsigned long long)h->upper_bytes);
        return VL_ECORRUPT;
    }
    return VL_OK;
}
