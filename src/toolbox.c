/*
 * toolbox.c — whole-set computations over float rows (SPEC F13): the
 * similarity matrix of two row sets and k-means (Lloyd, k-means++ or random
 * initialization). Declared in veclite.h ("Toolbox"); the row kernels are in
 * toolbox.h.
 *
 * Invariants:
 *   - Results are identical in the scalar and SIMD builds (toolbox.h): the
 *     matrix bit for bit, k-means centroid for centroid.
 *   - Every input value is checked (finite; no zero row under cosine) before
 *     anything is written; outputs are written only on VL_OK.
 *   - k-means is deterministic for a seed: one splitmix64 stream, sums in
 *     double in row order, ties to the lowest cluster index.
 *
 * Similarity matrix: out[i * nb + j] is the score the search API reports for
 * rows a[i], b[j] (docs/api.md §4): cos (clamped to [-1, 1]), dot, or
 * 1 / (1 + L2). It is computed in tiles of b rows that stay in the cache
 * (TILE_BYTES), four a rows at a time sharing each b load.
 *
 * k-means: k-means++ is the greedy form (2 + ln k candidates a step, the best
 * kept), as scikit-learn's. Under cosine, rows are normalized and centroids renormalized
 * after each update (spherical k-means); inertia is sum (1 - cos). Under L2
 * the inertia is the sum of squared distances. A cluster left empty by an
 * assignment is re-seeded with the row farthest from its centroid (of a
 * cluster with more than one row); when every row sits on a centroid (fewer
 * distinct rows than k) it stays empty. Stops after max_iter updates, when
 * no assignment changes, or when the centroids moved (sum of squared shifts)
 * by at most tolerance x the data's mean per-dimension variance.
 */
#include <math.h>
#include <string.h>
#include "veclite.h"
#include "internal.h"
#include "toolbox.h"

#define TILE_BYTES 32768u

static int rows_finite(uint32_t n, uint32_t dim, const float *x, int no_zero)
{
    for (uint64_t i = 0; i < (uint64_t)n; i++) {
        const float *r = x + i * dim;
        int nz = 0;
        for (uint32_t d = 0; d < dim; d++) {
            if (!isfinite(r[d])) return 0;
            nz |= r[d] != 0.f;
        }
        if (no_zero && !nz) return 0;
    }
    return 1;
}

/* ======================================================================
 * Similarity matrix
 * ====================================================================== */

static inline float score_of(uint32_t metric, float v, float ia, float ib)
{
    if (metric == VL_METRIC_DOT) return v;
    if (metric == VL_METRIC_L2) return 1.0f / (1.0f + sqrtf(v));
    float c = v * ia * ib;
    return c > 1.f ? 1.f : c < -1.f ? -1.f : c;
}

/* 1 / |row| of n rows into inv (the dot kernel of toolbox.h, so both builds agree). */
static void inv_norms(uint32_t n, uint32_t dim, const float *x, float *inv)
{
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *r[4] = { x + (size_t)i * dim, x + (size_t)(i + 1) * dim, x + (size_t)(i + 2) * dim, x + (size_t)(i + 3) * dim };
        float s[4];
        for (int t = 0; t < 4; t++) { vl_tb_dot4(r, r[t], dim, s); inv[i + t] = 1.0f / sqrtf(s[t]); }
    }
    for (; i < n; i++) inv[i] = 1.0f / sqrtf(vl_k_dot_scalar(x + (size_t)i * dim, x + (size_t)i * dim, dim));
}

int vl_sim_matrix(uint32_t metric, uint32_t dim, uint32_t na, const float *a, uint32_t nb,
                  const float *b, float *out)
{
    if (!dim || dim > VL_MAX_DIM || metric > VL_METRIC_COSINE) return VL_EINVAL;
    if (!na || !nb) return VL_OK;
    if (!a || !b || !out) return VL_EINVAL;
    int cos = metric == VL_METRIC_COSINE;
    if (!rows_finite(na, dim, a, cos) || !rows_finite(nb, dim, b, cos)) return VL_EINVAL;
    float *ia = NULL, *ib = NULL;
    if (cos) {
        if (!(ia = vl_mem_alloc(((size_t)na + nb) * sizeof *ia))) return VL_ENOMEM;
        ib = ia + na;
        inv_norms(na, dim, a, ia);
        inv_norms(nb, dim, b, ib);
    }
    uint32_t tile = TILE_BYTES / (dim * 4u);
    if (tile < 4) tile = 4;
    for (uint32_t j0 = 0; j0 < nb; j0 += tile) {
        uint32_t j1 = nb - j0 < tile ? nb : j0 + tile;
        uint32_t i = 0;
        for (; i < na; i += 4) {
            /* a short last block repeats its last row (its results are not stored) */
            const float *r[4];
            uint32_t rows = na - i < 4 ? na - i : 4;
            for (uint32_t t = 0; t < 4; t++) r[t] = a + (size_t)(i + (t < rows ? t : rows - 1)) * dim;
            for (uint32_t j = j0; j < j1; j++) {
                float v[4];
                const float *bj = b + (size_t)j * dim;
                if (metric == VL_METRIC_L2) vl_tb_l2sq4(r, bj, dim, v); else vl_tb_dot4(r, bj, dim, v);
                for (uint32_t t = 0; t < rows; t++)
                    out[(size_t)(i + t) * nb + j] = score_of(metric, v[t], cos ? ia[i + t] : 0.f, cos ? ib[j] : 0.f);
            }
        }
    }
    vl_mem_free(ia);
    return VL_OK;
}

/* ======================================================================
 * k-means
 * ====================================================================== */

typedef struct km {
    uint32_t dim, n, k;
    const float *x;          /* n rows (unit rows under cosine) */
    float *c;                /* k centroids */
    uint32_t *asg;           /* n */
    float *dist;             /* n: l2sq to the assigned centroid */
    uint32_t *cnt;           /* k */
    double *sum;             /* k x dim */
    float *old;              /* k x dim: the centroids before an update */
} km;

/* The work buffers of m (m->c is the caller's). VL_OK or VL_ENOMEM (then km_free). */
static int km_alloc(km *m)
{
    m->asg = vl_mem_alloc((size_t)m->n * sizeof *m->asg);
    m->dist = vl_mem_alloc((size_t)m->n * sizeof *m->dist);
    m->cnt = vl_mem_alloc((size_t)m->k * sizeof *m->cnt);
    m->sum = vl_mem_alloc((size_t)m->k * m->dim * sizeof *m->sum);
    m->old = vl_mem_alloc((size_t)m->k * m->dim * sizeof *m->old);
    return m->asg && m->dist && m->cnt && m->sum && m->old ? VL_OK : VL_ENOMEM;
}

static void km_free(km *m)
{
    vl_mem_free(m->asg); vl_mem_free(m->dist); vl_mem_free(m->cnt); vl_mem_free(m->sum); vl_mem_free(m->old);
}

/* Nearest centroid of every row (ties: the lowest index); returns how many rows changed
 * cluster (every row on the first call, first != 0) and the sum of distances in *inertia. */
static uint32_t assign(km *m, int first, double *inertia)
{
    uint32_t changed = 0;
    double in = 0;
    for (uint32_t i = 0; i < m->n; i++) {
        const float *xi = m->x + (size_t)i * m->dim;
        uint32_t best = 0;
        float bd = INFINITY;
        for (uint32_t c = 0; c < m->k; c += 4) {
            uint32_t cs = m->k - c < 4 ? m->k - c : 4;
            const float *r[4];
            for (uint32_t t = 0; t < 4; t++) r[t] = m->c + (size_t)(c + (t < cs ? t : cs - 1)) * m->dim;
            float v[4];
            vl_tb_l2sq4(r, xi, m->dim, v);
            for (uint32_t t = 0; t < cs; t++) if (v[t] < bd) { bd = v[t]; best = c + t; }
        }
        if (first || m->asg[i] != best) changed++;
        m->asg[i] = best;
        m->dist[i] = bd;
        in += bd;
    }
    *inertia = in;
    return changed;
}

static float l2sq1(const float *a, const float *b, uint32_t dim)
{
    const float *r[4] = { a, a, a, a };
    float v[4];
    vl_tb_l2sq4(r, b, dim, v);
    return v[0];
}

/* A row drawn with probability proportional to d[i] (total: their sum, > 0). */
static uint32_t d2_sample(const float *d, uint32_t n, double total, uint64_t *rng)
{
    double r = vl_unif(rng) * total, acc = 0;
    uint32_t pick = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (d[i] <= 0.f) continue;
        acc += d[i];
        pick = i;                      /* the last positive row if rounding runs out */
        if (acc > r) break;
    }
    return pick;
}

/* Greedy k-means++ (as scikit-learn: each step draws 2 + ln k candidates by D^2 sampling and
 * keeps the one that lowers the sum of D^2 most) or k distinct random rows. tmp, best: n floats. */
static int init_centroids(km *m, uint32_t init, uint64_t *rng, float *tmp, float *best)
{
    uint32_t n = m->n, dim = m->dim;
    if (init == VL_KMEANS_RANDOM) {
        uint32_t *idx = vl_mem_alloc((size_t)n * sizeof *idx);
        if (!idx) return VL_ENOMEM;
        for (uint32_t i = 0; i < n; i++) idx[i] = i;
        for (uint32_t c = 0; c < m->k; c++) {      /* partial Fisher-Yates */
            uint32_t j = c + (uint32_t)(vl_splitmix64(rng) % (n - c));
            uint32_t t = idx[c]; idx[c] = idx[j]; idx[j] = t;
            memcpy(m->c + (size_t)c * dim, m->x + (size_t)idx[c] * dim, dim * sizeof(float));
        }
        vl_mem_free(idx);
        return VL_OK;
    }
    float *d = m->dist;
    uint32_t trials = 2 + (uint32_t)log((double)m->k);
    uint32_t first = (uint32_t)(vl_splitmix64(rng) % n);
    memcpy(m->c, m->x + (size_t)first * dim, dim * sizeof(float));
    for (uint32_t i = 0; i < n; i++) d[i] = l2sq1(m->x + (size_t)i * dim, m->c, dim);
    for (uint32_t c = 1; c < m->k; c++) {
        double total = 0;
        for (uint32_t i = 0; i < n; i++) total += d[i];
        uint32_t pick = 0;
        if (total > 0) {
            double best_pot = INFINITY;
            for (uint32_t t = 0; t < trials; t++) {
                uint32_t cand = d2_sample(d, n, total, rng);
                const float *xc = m->x + (size_t)cand * dim;
                double pot = 0;
                for (uint32_t i = 0; i < n; i++) {
                    float v = l2sq1(m->x + (size_t)i * dim, xc, dim);
                    tmp[i] = v < d[i] ? v : d[i];
                    pot += tmp[i];
                }
                if (pot < best_pot) {
                    best_pot = pot;
                    pick = cand;
                    float *sw = best; best = tmp; tmp = sw;
                }
            }
            memcpy(d, best, (size_t)n * sizeof *d);
        } else {
            pick = (uint32_t)(vl_splitmix64(rng) % n);   /* every row is on a centroid */
        }
        memcpy(m->c + (size_t)c * dim, m->x + (size_t)pick * dim, dim * sizeof(float));
    }
    return VL_OK;
}

/* Centroids from the assignment, empty clusters re-seeded first; returns the summed squared
 * shift of the centroids, counts re-seeds in *reseeded. */
static double update(km *m, int cosine, uint32_t *reseeded)
{
    uint32_t dim = m->dim;
    float *old = m->old;
    memcpy(old, m->c, (size_t)m->k * dim * sizeof(float));
    memset(m->cnt, 0, (size_t)m->k * sizeof *m->cnt);
    memset(m->sum, 0, (size_t)m->k * dim * sizeof *m->sum);
    for (uint32_t i = 0; i < m->n; i++) {
        const float *xi = m->x + (size_t)i * dim;
        double *s = m->sum + (size_t)m->asg[i] * dim;
        m->cnt[m->asg[i]]++;
        for (uint32_t d = 0; d < dim; d++) s[d] += xi[d];
    }
    for (uint32_t c = 0; c < m->k; c++) {
        if (m->cnt[c]) continue;
        uint32_t far = m->n;
        float fd = 0.f;
        for (uint32_t i = 0; i < m->n; i++)
            if (m->dist[i] > fd && m->cnt[m->asg[i]] > 1) { fd = m->dist[i]; far = i; }
        if (far == m->n) continue;             /* every row sits on a centroid */
        const float *xf = m->x + (size_t)far * dim;
        double *so = m->sum + (size_t)m->asg[far] * dim, *sn = m->sum + (size_t)c * dim;
        m->cnt[m->asg[far]]--;
        for (uint32_t d = 0; d < dim; d++) { so[d] -= xf[d]; sn[d] = xf[d]; }
        m->cnt[c] = 1;
        m->asg[far] = c;
        m->dist[far] = 0.f;
        (*reseeded)++;
    }
    double shift = 0;
    for (uint32_t c = 0; c < m->k; c++) {
        if (!m->cnt[c]) continue;
        float *cc = m->c + (size_t)c * dim;
        const double *s = m->sum + (size_t)c * dim;
        double ss = 0;
        for (uint32_t d = 0; d < dim; d++) { double v = s[d] / m->cnt[c]; cc[d] = (float)v; ss += v * v; }
        if (cosine && ss > 0) {
            double inv = 1.0 / sqrt(ss);
            for (uint32_t d = 0; d < dim; d++) cc[d] = (float)(s[d] / m->cnt[c] * inv);
        }
        shift += vl_dist_l2sq_accurate(cc, old + (size_t)c * dim, dim);
    }
    return shift;
}

/* Lloyd from the centroids in m->c: assign, then up to max_iter times update and assign again,
 * stopping when no row changes cluster or the centroids moved by at most tol_abs. */
static void lloyd(km *m, int cosine, uint32_t max_iter, double tol_abs, double *inertia, uint32_t *it,
                  uint32_t *reseeded)
{
    assign(m, 1, inertia);
    while (*it < max_iter) {
        double shift = update(m, cosine, reseeded);
        (*it)++;
        uint32_t changed = assign(m, 0, inertia);
        if (!changed || shift <= tol_abs) break;
    }
}

int vl__kmeans_lloyd(uint32_t dim, uint32_t n, const float *x, uint32_t k, float *c,
                     uint32_t max_iter, double tol_abs)
{
    km m = { .dim = dim, .n = n, .k = k, .x = x, .c = c };
    int rc = km_alloc(&m);
    if (rc == VL_OK) {
        double inertia;
        uint32_t it = 0, reseeded = 0;
        lloyd(&m, 0, max_iter, tol_abs, &inertia, &it, &reseeded);
    }
    km_free(&m);
    return rc;
}

int vl_kmeans(uint32_t metric, uint32_t dim, uint32_t n, const float *x, uint32_t k,
              uint32_t max_iter, uint32_t init, const uint64_t *seed, double tolerance,
              float *centroids_out, uint32_t *assign_out, uint32_t *sizes_out, double *info_out)
{
    if (!dim || dim > VL_MAX_DIM || !n || !x || !k || k > n || !seed) return VL_EINVAL;
    if (metric != VL_METRIC_L2 && metric != VL_METRIC_COSINE) return VL_EINVAL;
    if (init != VL_KMEANS_PLUSPLUS && init != VL_KMEANS_RANDOM) return VL_EINVAL;
    if (max_iter > VL_KMEANS_MAX_ITER || !(tolerance >= 0) || !isfinite(tolerance)) return VL_EINVAL;
    if (!centroids_out || !assign_out || !sizes_out || !info_out) return VL_EINVAL;
    int cosine = metric == VL_METRIC_COSINE;
    if (!rows_finite(n, dim, x, cosine)) return VL_EINVAL;
    if ((uint64_t)n * dim > (uint64_t)SIZE_MAX / sizeof(double)) return VL_ENOMEM;

    km m = { .dim = dim, .n = n, .k = k, .x = x };
    float *unit = NULL;
    int rc = VL_ENOMEM;
    m.c = vl_mem_alloc((size_t)k * dim * sizeof *m.c);
    if (!m.c || km_alloc(&m)) goto out;
    if (cosine) {
        if (!(unit = vl_mem_alloc((size_t)n * dim * sizeof *unit))) goto out;
        for (uint32_t i = 0; i < n; i++) {
            const float *r = x + (size_t)i * dim;
            double inv = 1.0 / sqrt(vl_dist_dot_accurate(r, r, dim));
            for (uint32_t d = 0; d < dim; d++) unit[(size_t)i * dim + d] = (float)(r[d] * inv);
        }
        m.x = unit;
    }
    /* the stopping threshold: tolerance x mean per-dimension variance (as scikit-learn) */
    double var = 0;
    for (uint32_t d = 0; d < dim; d++) {
        double s = 0, s2 = 0;
        for (uint32_t i = 0; i < n; i++) { double v = m.x[(size_t)i * dim + d]; s += v; s2 += v * v; }
        double mean = s / n, vd = s2 / n - mean * mean;
        var += vd > 0 ? vd : 0;
    }
    double tol_abs = tolerance * var / dim;

    uint64_t rng = *seed ^ 0x6b6d65616e73ull;   /* "kmeans" */
    {
        float *tmp = vl_mem_alloc((size_t)n * 2 * sizeof *tmp);
        if (!tmp) { rc = VL_ENOMEM; goto out; }
        rc = init_centroids(&m, init, &rng, tmp, tmp + n);
        vl_mem_free(tmp);
        if (rc) goto out;
    }
    double inertia;
    uint32_t it = 0, reseeded = 0;
    lloyd(&m, cosine, max_iter, tol_abs, &inertia, &it, &reseeded);
    memset(m.cnt, 0, (size_t)k * sizeof *m.cnt);
    for (uint32_t i = 0; i < n; i++) m.cnt[m.asg[i]]++;
    uint32_t empty = 0;
    for (uint32_t c = 0; c < k; c++) empty += m.cnt[c] == 0;
    memcpy(centroids_out, m.c, (size_t)k * dim * sizeof(float));
    memcpy(assign_out, m.asg, (size_t)n * sizeof(uint32_t));
    memcpy(sizes_out, m.cnt, (size_t)k * sizeof(uint32_t));
    info_out[0] = cosine ? inertia / 2 : inertia;   /* unit rows: |x - c|^2 = 2 (1 - cos) */
    info_out[1] = it;
    info_out[2] = reseeded;
    info_out[3] = empty;
    rc = VL_OK;
out:
    km_free(&m);
    vl_mem_free(m.c);
    vl_mem_free(unit);
    return rc;
}
