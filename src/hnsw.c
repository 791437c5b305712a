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
 * Memory (index.h): layer 0 links in one flat array of node*(M0+1) u32
 * ({count, slots}), upper layers per node. Traversal scratch (visited tags,
 * the two binary heaps, selection buffers) lives in the index and is
 * reserved before a batch or search starts, so the per-query and per-insert
 * paths never allocate. Visited marks are u16 generation tags: a new search
 * bumps the tag instead of clearing the array (cleared only on wrap).
 *
 * Tombstones (deleted or superseded nodes) keep routing until index.c's
 * policy calls vl__hnsw_reclaim, which removes them and re-links their
 * neighbours ("tombstone reclamation" below).
 *
 * Ownership. The graph layer owns the graph part of struct vl_index: the
 * contents of level[], links0[] and upper[] (and the lists upper[] points
 * to), upper_bytes, entry and max_level. index.c only allocates their room
 * (the node block; upper lists before an insert), initialises a new node's
 * row (level from vl__random_level, links zeroed), installs a graph the
 * store loaded and drops the whole graph when the index empties; linking,
 * relinking and moving rows happen only here.
 * Traversal scratch (visit tags, cand/top/sel/res) is sized by index.c and
 * vl__*_reserve and used here. The index layer (index.c, meta.c, filter.c)
 * owns everything per node that is not the graph: vecs, inv_norm, ids,
 * dead, meta/meta_len, the filter columns, the id map, n/live and the
 * reclamation counters. The graph READS vecs and inv_norm (distances), dead
 * (tombstones) and the compiled filter and never writes them: reclamation
 * compacts the graph's arrays and hands index.c the old->new slot map, and
 * index.c moves its own columns (index.c, "tombstone reclamation").
 *
 * Invariants (vl__hnsw_check): entry point on max_level; every link points to
 * another node whose level covers the layer; no duplicate links; counts
 * within M / M0; upper[i] != NULL iff level[i] > 0.
 */
#include <math.h>
#include <string.h>
#include "index.h"

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
    if (h->codes) return vl__qdist_nodes(h, a, b);
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

/* search_layer_t's "metrics" of a quantized index: distances over codes
 * (scalar under L2, scalar under dot/cosine, product) */
#define VL_METRIC_SQL2 96u
#define VL_METRIC_SQDOT 97u
#define VL_METRIC_PQ 98u
#define IS_CODES(m) ((m) >= VL_METRIC_SQL2)

/* What a walk over codes reads, in locals (see search_layer_t). */
typedef struct qwalk {
    const uint8_t *codes;
    uint32_t cs, m;
    const int16_t *a;
    const float *table;
    float mul, add;
} qwalk;

/* Distance with the metric a compile-time constant (see search_layer). */
static VL_ALWAYS_INLINE float dist_m(const qwalk *w, const uint32_t metric, const float *q, float qinv,
                                     const float *vecs, const float *invn, uint32_t dim,
                                     uint32_t i)
{
    if (metric == VL_METRIC_SQL2) return w->add + w->mul * (float)VL_SQ_L2(w->a, w->codes + (size_t)i * w->cs, w->cs);
    if (metric == VL_METRIC_SQDOT) return w->add + w->mul * (float)VL_SQ_DOT(w->a, w->codes + (size_t)i * w->cs, w->cs);
    if (metric == VL_METRIC_PQ) return w->add + vl_pq_sum_k(w->table, w->codes + (size_t)i * w->cs, w->m);
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
    const qwalk w = { h->codes, h->qz.code_size, h->qz.m, h->qq.a, h->qq.table, h->qq.mul, h->qq.add };
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
        if (cnt && !IS_CODES(metric)) PREFETCH(vecs + (size_t)ll[1] * dim);
        for (uint32_t j = 1; j <= cnt; j++) {
            uint32_t nb = ll[j];
            if (j < cnt && !IS_CODES(metric)) PREFETCH(vecs + (size_t)ll[j + 1] * dim);
            if (visit[nb] == tag) continue;
            visit[nb] = tag;
            float d = dist_m(&w, metric, q, qinv, vecs, invn, dim, nb);
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
    if (h->codes) {
        if (h->qz.kind == VL_QUANT_PRODUCT)
            return filtered ? SL(1, 1, VL_METRIC_PQ) : restricted ? SL(0, 1, VL_METRIC_PQ) : SL(0, 0, VL_METRIC_PQ);
        if (h->metric == VL_METRIC_L2)
            return filtered ? SL(1, 1, VL_METRIC_SQL2) : restricted ? SL(0, 1, VL_METRIC_SQL2) : SL(0, 0, VL_METRIC_SQL2);
        return filtered ? SL(1, 1, VL_METRIC_SQDOT) : restricted ? SL(0, 1, VL_METRIC_SQDOT) : SL(0, 0, VL_METRIC_SQDOT);
    }
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

void vl__hnsw_insert(vl_index *h, uint32_t node, const float *q)
{
    uint32_t L = h->level[node];
    for (uint32_t l = 1; l <= L; l++) links_at(h, node, l)[0] = 0;
    links_at(h, node, 0)[0] = 0;
    if (h->entry == VL_NO_NODE) {
        h->entry = node;
        h->max_level = L;
        return;
    }
    float qinv = node_inv(h, node);
    if (h->codes) (void)vl_quant_query(&h->qz, q, &h->qq);   /* reserved by the upsert: cannot fail */
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
            cd = vl__dist_node(h, q, qinv, cur);
        }
        if (l == 0) break;
    }
    if (L > h->max_level) {
        h->entry = node;
        h->max_level = L;
    }
}

/* ---- tombstone reclamation ---------------------------------------------------
 * vl__hnsw_reclaim (policy in index.c: tombstones > max(live, 1024) after a
 * write). hnswlib-style repair, without searches:
 *   1. every surviving node's list on every layer that holds removed nodes
 *      is re-selected: candidates are its surviving links, then the
 *      survivors reachable through the removed ones, breadth first over the
 *      removed nodes' lists on the same layer (so a chain of tombstones
 *      still leads somewhere), at most VL_REPAIR_POOL x maxc of them; more
 *      than maxc are cut to maxc with the insert heuristic over true
 *      distances. A list depends only on its own old links and the removed
 *      nodes' (never rewritten), so the visiting order does not matter;
 *   2. back-links: every surviving link i -> t gets t -> i where t's list
 *      has room and lacks it (an insert adds back-links too; without this
 *      step nodes whose in-links all came from removed nodes are hard to
 *      reach);
 *   3. survivors' graph rows (level, layer-0 row, upper list) move down to
 *      dense slots in their old order, links renumbered, removed nodes'
 *      upper lists freed; capacity stays for the inserts to come. The
 *      old->new map is the caller's (index.c), which then moves its own
 *      columns (vectors, ids, records, filter columns, id map) and sets n;
 *   4. the entry point: the old one if it survived, else the first survivor
 *      of the highest level left.
 * Measured on the bench's 10k x 100 (CLIP-100) set, WebAssembly SIMD, M=16:
 * 10k ids upserted twice, then one delete reclaims the 10,001 tombstones in
 * ~0.26 s (the 10k build takes ~1 s); recall@10 at ef 10/64/100 afterwards
 * 0.791/0.989/0.997, against 0.800/0.989/0.997 for a fresh build. A pool
 * of 33 x maxc (about uncapped) took 2.5 s for 0.829/0.993/0.998; without
 * the back-links step recall fell to 0.721/0.976/0.991.
 * Scratch (allocated before anything changes): pool/queue buffers; the
 * old->new slot map (4 bytes per node) is allocated by the caller before
 * the call; visited tags mark candidates. */
#define VL_REPAIR_POOL 4u

static void repair_list(vl_index *h, uint32_t node, uint32_t layer, uint32_t *cand,
                        uint32_t *queue, vl_pair *pr)
{
    uint32_t *ll = links_at(h, node, layer);
    uint32_t cnt = ll[0], maxc = layer ? h->M : h->M0, pool = VL_REPAIR_POOL * maxc;
    int hit = 0;
    for (uint32_t j = 1; j <= cnt; j++) if (h->dead[ll[j]]) { hit = 1; break; }
    if (!hit) return;
    uint16_t tag = new_visit_tag(h);
    uint16_t *visit = h->visit;
    uint32_t nc = 0, qn = 0;
    visit[node] = tag;
    for (uint32_t j = 1; j <= cnt; j++) {
        uint32_t nb = ll[j];
        if (visit[nb] == tag) continue;
        visit[nb] = tag;
        if (h->dead[nb]) queue[qn++] = nb;
        else cand[nc++] = nb;
    }
    /* breadth first through removed nodes; the queue holds at most pool */
    for (uint32_t qh = 0; qh < qn && nc < pool; qh++) {
        const uint32_t *rl = links_at(h, queue[qh], layer);
        for (uint32_t j = 1; j <= rl[0] && nc < pool; j++) {
            uint32_t x = rl[j];
            if (visit[x] == tag) continue;
            visit[x] = tag;
            if (!h->dead[x]) cand[nc++] = x;
            else if (qn < pool) queue[qn++] = x;
        }
    }
    if (nc > maxc) {
        for (uint32_t a = 0; a < nc; a++) pr[a] = (vl_pair){ dist_nodes(h, node, cand[a]), cand[a] };
        pairs_sort(pr, nc);
        nc = select_heuristic(h, pr, nc, maxc);
        for (uint32_t a = 0; a < nc; a++) cand[a] = pr[a].id;
    }
    ll[0] = nc;
    memcpy(ll + 1, cand, (size_t)nc * sizeof *cand);
}

int vl__hnsw_reclaim(vl_index *h, uint32_t *remap)
{
    uint32_t n = h->n;
    if (h->live == n || h->live == 0) return VL_EINVAL;   /* index.c calls only with 0 < live < n */
    uint32_t ccap = VL_REPAIR_POOL * (h->M0 > h->M ? h->M0 : h->M);
    uint32_t *cand = vl_mem_alloc((size_t)ccap * sizeof *cand);
    uint32_t *queue = vl_mem_alloc((size_t)ccap * sizeof *queue);
    vl_pair *pr = vl_mem_alloc((size_t)ccap * sizeof *pr);
    if (!cand || !queue || !pr) {
        vl_mem_free(cand); vl_mem_free(queue); vl_mem_free(pr);
        return VL_ENOMEM;
    }
    /* ---- nothing below can fail ---- */
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) remap[i] = h->dead[i] ? VL_NO_NODE : k++;

    /* 1. repair, in old numbering */
    for (uint32_t i = 0; i < n; i++) {
        if (h->dead[i]) continue;
        for (uint32_t l = 0; l <= h->level[i]; l++) repair_list(h, i, l, cand, queue, pr);
    }
    /* 1b. back-links where there is room, as an insert adds them: a node
     * whose in-links all came from removed nodes is reachable again */
    for (uint32_t i = 0; i < n; i++) {
        if (h->dead[i]) continue;
        for (uint32_t l = 0; l <= h->level[i]; l++) {
            const uint32_t *ll = links_at(h, i, l);
            uint32_t maxc = l ? h->M : h->M0;
            for (uint32_t j = 1; j <= ll[0]; j++) {
                uint32_t *tl = links_at(h, ll[j], l);
                if (tl[0] >= maxc) continue;
                uint32_t a = 1;
                while (a <= tl[0] && tl[a] != i) a++;
                if (a > tl[0]) tl[++tl[0]] = i;
            }
        }
    }

    /* 3. compact what the graph owns: levels, layer-0 rows, upper lists
     * (vectors, ids, records, columns and the id map: index.c, from remap) */
    uint32_t old_entry = h->entry;
    size_t stride0 = (size_t)h->M0 + 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t L = h->level[i];
        if (h->dead[i]) {
            if (L) h->upper_bytes -= (uint64_t)L * (h->M + 1) * sizeof(uint32_t);
            vl_mem_free(h->upper[i]);
            h->upper[i] = NULL;
            continue;
        }
        for (uint32_t l = 0; l <= L; l++) {
            uint32_t *ll = links_at(h, i, l);
            for (uint32_t j = 1; j <= ll[0]; j++) ll[j] = remap[ll[j]];
        }
        uint32_t d = remap[i];
        if (d == i) continue;
        h->level[d] = (uint8_t)L;
        h->upper[d] = h->upper[i];
        h->upper[i] = NULL;
        memcpy(h->links0 + (size_t)d * stride0, h->links0 + (size_t)i * stride0,
               stride0 * sizeof(uint32_t));
    }

    /* 4. entry point */
    if (old_entry != VL_NO_NODE && remap[old_entry] != VL_NO_NODE) {
        h->entry = remap[old_entry];
    } else {
        uint32_t top = 0, e = 0;
        for (uint32_t i = 0; i < k; i++)
            if (h->level[i] > top) { top = h->level[i]; e = i; }
        h->entry = e;
        h->max_level = top;
    }
    /* stale tags past the new n could collide with future ones */
    memset(h->visit, 0, (size_t)h->cap * sizeof *h->visit);
    h->visit_tag = 1;

    vl_mem_free(cand); vl_mem_free(queue); vl_mem_free(pr);
    return VL_OK;
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
