/*
 * test_toolbox.c — the similarity matrix and k-means of src/toolbox.c against
 * f64 oracles computed here: every score within the float rounding bound of
 * its f64 value, every k-means row at its nearest centroid, every centroid
 * the mean of its rows, the reported inertia the f64 sum; bad input refused
 * with nothing written; the edge cases docs/api.md defines (k > n, duplicate
 * rows, empty clusters, cosine).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

/* the f64 score of the search API for a pair, and a bound on |float - f64|:
 * recursive summation of dim products errs by at most dim * u * sum|a_i b_i|
 * (u = 2^-24, Higham 3.1), a few more u for the subtraction, sqrt and the
 * final operations; 4x slack. */
static double oracle(uint32_t metric, const float *a, const float *b, uint32_t dim, double *tol)
{
    const double u = 0x1.0p-24;
    double sabs = 0;
    for (uint32_t d = 0; d < dim; d++) sabs += fabs((double)a[d] * b[d]);
    if (metric == VL_METRIC_DOT) {
        *tol = 4 * (dim + 2) * u * sabs + 1e-30;
        return vl_dist_dot_accurate(a, b, dim);
    }
    if (metric == VL_METRIC_COSINE) {
        double na = sqrt(vl_dist_dot_accurate(a, a, dim)), nb = sqrt(vl_dist_dot_accurate(b, b, dim));
        *tol = 4 * (dim + 8) * u * (sabs / (na * nb) + 1);
        double c = 1 - vl_dist_cos_accurate(a, b, dim);
        return c > 1 ? 1 : c < -1 ? -1 : c;
    }
    double l = sqrt(vl_dist_l2sq_accurate(a, b, dim)), s = 1 / (1 + l);
    *tol = 4 * (dim + 8) * u * s;
    return s;
}

int test_toolbox_sim_matrix(void)
{
    static const uint32_t dims[] = { 1, 3, 4, 5, 16, 17, 32, 100 };
    uint64_t seed = 11;
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        uint32_t dim = dims[di], na = 13, nb = 9;
        float *a = t_alloc((size_t)na * dim * 4), *b = t_alloc((size_t)nb * dim * 4);
        float *out = t_alloc((size_t)na * nb * 4);
        for (size_t i = 0; i < (size_t)na * dim; i++) a[i] = (float)t_gauss(&seed);
        for (size_t i = 0; i < (size_t)nb * dim; i++) b[i] = (float)(t_gauss(&seed) * 3);
        memcpy(b, a, dim * 4);   /* an identical pair: cos 1, L2 0 */
        for (uint32_t metric = 0; metric <= VL_METRIC_COSINE; metric++) {
            CHECK_OK(vl_sim_matrix(metric, dim, na, a, nb, b, out));
            for (uint32_t i = 0; i < na; i++) {
                for (uint32_t j = 0; j < nb; j++) {
                    double tol, want = oracle(metric, a + (size_t)i * dim, b + (size_t)j * dim, dim, &tol);
                    double got = out[(size_t)i * nb + j];
                    if (!(fabs(got - want) <= tol)) {
                        fprintf(stderr, "metric %u dim %u [%u,%u]: %.9g vs f64 %.9g (tol %.3g)\n", metric, dim, i, j, got, want, tol);
                        CHECK(0);
                    }
                }
            }
        }
        free(a); free(b); free(out);
    }
    return 0;
}

int test_toolbox_sim_bad_input(void)
{
    float a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, z[4] = { 0 }, out[4] = { 42, 42, 42, 42 };
    CHECK_RC(vl_sim_matrix(VL_METRIC_L2, 0, 1, a, 1, a, out), VL_EINVAL);
    CHECK_RC(vl_sim_matrix(VL_METRIC_L2, VL_MAX_DIM + 1, 1, a, 1, a, out), VL_EINVAL);
    CHECK_RC(vl_sim_matrix(7, 4, 1, a, 1, a, out), VL_EINVAL);
    CHECK_RC(vl_sim_matrix(VL_METRIC_COSINE, 4, 2, a, 1, z, out), VL_EINVAL);   /* zero row under cosine */
    CHECK_OK(vl_sim_matrix(VL_METRIC_DOT, 4, 1, z, 1, a, out));                  /* fine under dot */
    CHECK(out[0] == 0.f);
    out[0] = 42;
    float nan[4] = { 1, NAN, 0, 0 }, inf[4] = { 1, INFINITY, 0, 0 };
    CHECK_RC(vl_sim_matrix(VL_METRIC_DOT, 4, 1, a, 1, nan, out), VL_EINVAL);
    CHECK_RC(vl_sim_matrix(VL_METRIC_L2, 4, 1, inf, 1, a, out), VL_EINVAL);
    CHECK(out[0] == 42 && out[1] == 42);                                       /* nothing written */
    CHECK_OK(vl_sim_matrix(VL_METRIC_L2, 4, 0, a, 1, a, out));                  /* empty: nothing to do */
    CHECK(out[0] == 42);
    return 0;
}

/* Check a k-means result against f64: each row at a nearest centroid (within rounding),
 * centroids the means of their rows, sizes and inertia consistent. */
static int check_kmeans(uint32_t metric, uint32_t dim, uint32_t n, const float *x, uint32_t k,
                        const float *c, const uint32_t *asg, const uint32_t *sizes, const double *info)
{
    double inertia = 0;
    uint32_t *cnt = t_alloc((size_t)k * 4);
    float *u = t_alloc((size_t)dim * 4);
    for (uint32_t i = 0; i < n; i++) {
        const float *r = x + (size_t)i * dim;
        memcpy(u, r, dim * 4);
        if (metric == VL_METRIC_COSINE) {
            double nr = sqrt(vl_dist_dot_accurate(r, r, dim));
            for (uint32_t d = 0; d < dim; d++) u[d] = (float)(r[d] / nr);
        }
        CHECK(asg[i] < k);
        cnt[asg[i]]++;
        double mine = vl_dist_l2sq_accurate(u, c + (size_t)asg[i] * dim, dim), best = INFINITY;
        for (uint32_t j = 0; j < k; j++) {
            double v = vl_dist_l2sq_accurate(u, c + (size_t)j * dim, dim);
            if (v < best) best = v;
        }
        CHECK(mine <= best + 1e-5 * (1 + best));
        inertia += metric == VL_METRIC_COSINE ? mine / 2 : mine;
    }
    for (uint32_t j = 0; j < k; j++) CHECK(cnt[j] == sizes[j]);
    CHECK(fabs(inertia - info[0]) <= 1e-4 * (1 + inertia));
    /* centroids of non-empty clusters: the mean (normalized under cosine) */
    double *mean = t_alloc((size_t)dim * 8);
    for (uint32_t j = 0; j < k; j++) {
        if (!cnt[j]) continue;
        memset(mean, 0, (size_t)dim * 8);
        for (uint32_t i = 0; i < n; i++) {
            if (asg[i] != j) continue;
            const float *r = x + (size_t)i * dim;
            double s = metric == VL_METRIC_COSINE ? 1 / sqrt(vl_dist_dot_accurate(r, r, dim)) : 1;
            for (uint32_t d = 0; d < dim; d++) mean[d] += r[d] * s;
        }
        double ss = 0;
        for (uint32_t d = 0; d < dim; d++) { mean[d] /= cnt[j]; ss += mean[d] * mean[d]; }
        double sc = metric == VL_METRIC_COSINE && ss > 0 ? 1 / sqrt(ss) : 1;
        for (uint32_t d = 0; d < dim; d++) {
            /* the centroid is the mean after the last update; a last assignment that changed
             * nothing keeps it exact */
            CHECK(fabs(c[(size_t)j * dim + d] - mean[d] * sc) <= 1e-4 * (1 + fabs(mean[d] * sc)));
        }
    }
    free(mean); free(cnt); free(u);
    return 0;
}

int test_toolbox_kmeans(void)
{
    uint32_t n = 600, dim = 7, k = 5;
    float *x = t_clustered(n, dim, k, 0.05, 77);
    float *c = t_alloc((size_t)k * dim * 4), *c2 = t_alloc((size_t)k * dim * 4);
    uint32_t *asg = t_alloc((size_t)n * 4), *asg2 = t_alloc((size_t)n * 4), sizes[5], sizes2[5];
    double info[4], info2[4];
    uint64_t seed = 3;
    for (uint32_t metric = 0; metric <= VL_METRIC_COSINE; metric += 2) {
        for (uint32_t init = 0; init <= VL_KMEANS_RANDOM; init++) {
            CHECK_OK(vl_kmeans(metric, dim, n, x, k, 300, init, &seed, 0, c, asg, sizes, info));
            CHECK(info[1] >= 1 && info[1] < 300);             /* converged: no row changed */
            if (check_kmeans(metric, dim, n, x, k, c, asg, sizes, info)) return 1;
            /* the same seed, the same result */
            CHECK_OK(vl_kmeans(metric, dim, n, x, k, 300, init, &seed, 0, c2, asg2, sizes2, info2));
            CHECK(memcmp(c, c2, (size_t)k * dim * 4) == 0 && memcmp(asg, asg2, (size_t)n * 4) == 0);
            CHECK(info[0] == info2[0] && info[1] == info2[1]);
        }
    }
    /* zero iterations: the initial centroids (rows) and their assignment */
    CHECK_OK(vl_kmeans(VL_METRIC_L2, dim, n, x, k, 0, VL_KMEANS_PLUSPLUS, &seed, 1e-4, c, asg, sizes, info));
    CHECK(info[1] == 0);
    for (uint32_t j = 0; j < k; j++) {
        int found = 0;
        for (uint32_t i = 0; i < n && !found; i++) found = memcmp(c + (size_t)j * dim, x + (size_t)i * dim, dim * 4) == 0;
        CHECK(found);
    }
    free(x); free(c); free(c2); free(asg); free(asg2);
    return 0;
}

int test_toolbox_kmeans_edges(void)
{
    /* ten rows, two distinct points; k = 4: two clusters stay empty, inertia 0 */
    float x[10 * 2];
    for (int i = 0; i < 10; i++) { x[2 * i] = (float)(i & 1); x[2 * i + 1] = 1; }
    float c[4 * 2], keep[4 * 2];
    uint32_t asg[10], sizes[4];
    double info[4] = { -1, -1, -1, -1 };
    uint64_t seed = 9;
    CHECK_OK(vl_kmeans(VL_METRIC_L2, 2, 10, x, 4, 50, VL_KMEANS_PLUSPLUS, &seed, 0, c, asg, sizes, info));
    CHECK(info[0] == 0 && info[3] == 2);
    if (check_kmeans(VL_METRIC_L2, 2, 10, x, 4, c, asg, sizes, info)) return 1;
    CHECK_OK(vl_kmeans(VL_METRIC_L2, 2, 10, x, 4, 50, VL_KMEANS_RANDOM, &seed, 0, c, asg, sizes, info));
    CHECK(info[0] == 0);
    /* k == n: every row its own centroid */
    CHECK_OK(vl_kmeans(VL_METRIC_L2, 2, 2, x, 2, 50, VL_KMEANS_PLUSPLUS, &seed, 0, c, asg, sizes, info));
    CHECK(info[0] == 0 && asg[0] != asg[1] && info[3] == 0);
    /* an empty cluster is re-seeded from the farthest row: random init on rows 0..4 of a line
     * where two initial centroids coincide is forced by a duplicate-heavy set */
    float line[6 * 1] = { 0, 0, 0, 0, 10, 11 };
    float lc[3];
    uint32_t la[6], ls[3];
    CHECK_OK(vl_kmeans(VL_METRIC_L2, 1, 6, line, 3, 50, VL_KMEANS_RANDOM, &seed, 0, lc, la, ls, info));
    if (check_kmeans(VL_METRIC_L2, 1, 6, line, 3, lc, la, ls, info)) return 1;
    CHECK(info[3] == 0 && info[0] == 0);     /* three distinct values, three clusters */
    /* bad input: nothing written */
    memcpy(keep, c, sizeof c);
    CHECK_RC(vl_kmeans(VL_METRIC_L2, 2, 10, x, 11, 50, 0, &seed, 0, c, asg, sizes, info), VL_EINVAL);  /* k > n */
    CHECK_RC(vl_kmeans(VL_METRIC_L2, 2, 10, x, 0, 50, 0, &seed, 0, c, asg, sizes, info), VL_EINVAL);
    CHECK_RC(vl_kmeans(VL_METRIC_DOT, 2, 10, x, 2, 50, 0, &seed, 0, c, asg, sizes, info), VL_EINVAL);
    CHECK_RC(vl_kmeans(VL_METRIC_L2, 2, 10, x, 2, 50, 7, &seed, 0, c, asg, sizes, info), VL_EINVAL);
    CHECK_RC(vl_kmeans(VL_METRIC_L2, 2, 10, x, 2, VL_KMEANS_MAX_ITER + 1, 0, &seed, 0, c, asg, sizes, info), VL_EINVAL);
    CHECK_RC(vl_kmeans(VL_METRIC_L2, 2, 10, x, 2, 50, 0, &seed, -1, c, asg, sizes, info), VL_EINVAL);
    CHECK_RC(vl_kmeans(VL_METRIC_L2, 2, 10, x, 2, 50, 0, &seed, NAN, c, asg, sizes, info), VL_EINVAL);
    x[5] = NAN;
    CHECK_RC(vl_kmeans(VL_METRIC_L2, 2, 10, x, 2, 50, 0, &seed, 0, c, asg, sizes, info), VL_EINVAL);
    x[5] = 1;
    float z[4] = { 1, 1, 0, 0 };
    CHECK_RC(vl_kmeans(VL_METRIC_COSINE, 2, 2, z, 1, 50, 0, &seed, 0, c, asg, sizes, info), VL_EINVAL);
    CHECK(memcmp(keep, c, sizeof c) == 0);
    return 0;
}
