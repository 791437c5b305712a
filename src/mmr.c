/*
 * mmr.c — diversity re-ranking by maximal marginal relevance (SPEC F13,
 * docs/api.md §4 "mmr"): vl_index_search_mmr.
 *
 * For each query: the normal search (filters included, HNSW or flat,
 * quantized rows re-ranked exactly) fetches fetch_k candidates, then k of
 * them are picked greedily; each step takes the candidate with the largest
 *     mmr(d) = lambda * sim(q, d) - (1 - lambda) * max_{s picked} sim(d, s)
 * (the max over an empty set is 0), ties to the earlier candidate (closer to
 * the query, then lower id). sim is the metric's similarity, the hit score of
 * docs/api.md §4: cosine cos(a, b); dotProduct a.b; euclidean 1 / (1 + L2).
 * sim(q, d) comes from the search's distance; sim(d, s) from the candidates'
 * float32 rows (vl_index_get: a quantized index reads them from its row
 * source) with the build's kernels, accumulated in double.
 * Invariants: lambda = 1 keeps the search's order (its first k candidates);
 * every reported distance is the search's exact distance to the query; the
 * index is only read (its search scratch aside).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "index.h"
#include "dist.h"

static double pair_sim(uint32_t metric, const float *a, const float *b, double ia, double ib, uint32_t dim)
{
    if (metric == VL_METRIC_L2) return 1.0 / (1.0 + sqrt((double)VL_K_L2SQ(a, b, dim)));
    double dot = (double)VL_K_DOT(a, b, dim);
    return metric == VL_METRIC_DOT ? dot : dot * ia * ib;
}

static double query_sim(uint32_t metric, float d)
{
    if (metric == VL_METRIC_L2) return 1.0 / (1.0 + (double)d);
    if (metric == VL_METRIC_DOT) return -(double)d;
    return 1.0 - (double)d;
}

int vl_index_search_mmr(vl_index *h, uint32_t nq, const float *queries, uint32_t k, uint32_t fetch_k,
                        float lambda, uint32_t ef, const uint8_t *filter, uint32_t filter_len,
                        uint64_t *ids_out, float *dist_out, uint32_t *counts_out)
{
    if (!h) return VL_EINVAL;
    if (!(lambda >= 0.f && lambda <= 1.f)) {
        vl__msg(h, "mmr lambda must be a number in [0, 1] (got %g)", (double)lambda);
        return VL_EINVAL;
    }
    if (k == 0 || k > VL_MAX_K || fetch_k < k || fetch_k > VL_MAX_K) {
        vl__msg(h, "mmr needs 1 <= k <= fetchK <= %u (got k %u, fetchK %u)", VL_MAX_K, k, fetch_k);
        return VL_EINVAL;
    }
    if (nq == 0) return VL_OK;
    if (!queries || !ids_out || !dist_out || !counts_out) {
        vl__msg(h, "queries and output buffers must not be NULL");
        return VL_EINVAL;
    }
    uint32_t dim = h->dim, metric = h->metric;
    if ((uint64_t)fetch_k * dim * sizeof(float) > SIZE_MAX / 2) {   /* wasm32: size_t is 32 bits */
        vl__msg(h, "mmr: %u candidates of dimension %u do not fit in memory; lower fetchK", fetch_k, dim);
        return VL_ENOMEM;
    }
    uint64_t *cid = vl_mem_alloc((size_t)fetch_k * sizeof *cid);
    float *cd = vl_mem_alloc((size_t)fetch_k * sizeof *cd);
    float *rows = vl_mem_alloc((size_t)fetch_k * dim * sizeof *rows);
    double *inv = vl_mem_alloc((size_t)fetch_k * sizeof *inv);
    double *maxs = vl_mem_alloc((size_t)fetch_k * sizeof *maxs);
    uint8_t *taken = vl_mem_alloc(fetch_k);
    int rc = VL_OK;
    if (!cid || !cd || !rows || !inv || !maxs || !taken) {
        vl__msg(h, "out of memory for %u mmr candidates", fetch_k);
        rc = VL_ENOMEM;
        goto out;
    }
    for (uint32_t qi = 0; qi < nq && rc == VL_OK; qi++) {
        uint32_t got = 0;
        rc = vl_index_search(h, 1, queries + (size_t)qi * dim, fetch_k, ef > fetch_k ? ef : fetch_k,
                             filter, filter_len, cid, cd, &got);
        if (rc) break;
        for (uint32_t i = 0; i < got && rc == VL_OK; i++) {
            rc = vl_index_get(h, &cid[i], rows + (size_t)i * dim, NULL, NULL);
            if (rc) { vl__msg(h, "mmr: reading candidate row %u failed", i); break; }
            double ss = (double)VL_K_DOT(rows + (size_t)i * dim, rows + (size_t)i * dim, dim);
            inv[i] = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
            maxs[i] = 0.0;
            taken[i] = 0;
        }
        if (rc) break;
        uint32_t want = got < k ? got : k;
        for (uint32_t j = 0; j < want; j++) {
            uint32_t best = UINT32_MAX;
            double bs = 0;
            for (uint32_t i = 0; i < got; i++) {
                if (taken[i]) continue;
                double s = (double)lambda * query_sim(metric, cd[i]) - (1.0 - (double)lambda) * (j ? maxs[i] : 0.0);
                if (best == UINT32_MAX || s > bs) { best = i; bs = s; }
            }
            taken[best] = 1;
            ids_out[(size_t)qi * k + j] = cid[best];
            dist_out[(size_t)qi * k + j] = cd[best];
            if (lambda == 1.f) continue;    /* no redundancy term: skip the pair similarities */
            const float *b = rows + (size_t)best * dim;
            for (uint32_t i = 0; i < got; i++) {
                if (taken[i]) continue;
                double s = pair_sim(metric, rows + (size_t)i * dim, b, inv[i], inv[best], dim);
                if (s != s) s = INFINITY;
                if (j == 0 || s > maxs[i]) maxs[i] = s;
            }
        }
        counts_out[qi] = want;
    }
out:
    vl_mem_free(cid);
    vl_mem_free(cd);
    vl_mem_free(rows);
    vl_mem_free(inv);
    vl_mem_free(maxs);
    vl_mem_free(taken);
    return rc;
}
