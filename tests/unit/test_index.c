/*
 * test_index.c — kernels, configuration, flat search against the brute-force
 * oracle, input validation, reads, clear/stats, upsert and batch semantics.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

float vl_dist_l2sq_f32_scalar(const float *a, const float *b, uint32_t dim);
float vl_dist_dot_f32_scalar(const float *a, const float *b, uint32_t dim);
float vl_dist_cos_f32_scalar(const float *a, const float *b, uint32_t dim);
#ifdef __wasm_simd128__
float vl_dist_l2sq_f32_simd128(const float *a, const float *b, uint32_t dim);
float vl_dist_dot_f32_simd128(const float *a, const float *b, uint32_t dim);
float vl_dist_cos_f32_simd128(const float *a, const float *b, uint32_t dim);
#endif

static int close_to(double got, double want, double rel)
{
    return fabs(got - want) <= rel * (1.0 + fabs(want));
}

int test_errstr_isa(void)
{
    const int codes[] = { VL_OK, VL_EINVAL, VL_ENOTFOUND, VL_ELOCK, VL_EREADONLY, VL_ECORRUPT,
                          VL_EVERSION, VL_EBACKEND, VL_EBUDGET, VL_ECLOSED, VL_EIO, VL_ENOMEM,
                          VL_EFATAL };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK(vl_errstr(codes[i]) != NULL);
        CHECK(strcmp(vl_errstr(codes[i]), "unknown error") != 0);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(vl_errstr(codes[i]), vl_errstr(codes[j])) != 0);
    }
    CHECK(strcmp(vl_errstr(12345), "unknown error") == 0);
#ifdef __wasm_simd128__
    CHECK(strcmp(vl_isa_name(), "simd128") == 0);
#else
    CHECK(strcmp(vl_isa_name(), "scalar") == 0);
#endif
    CHECK(vl_errmsg(NULL) != NULL);
    return 0;
}

/* scalar (and simd when built) vs the f64 oracle on odd dimensions. */
int test_dist_kernels(void)
{
    uint64_t s = 11;
    const uint32_t dims[] = { 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 33, 63, 100, 101, 257, 1023 };
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        uint32_t d = dims[di];
        float *a = t_alloc(d * sizeof(float)), *b = t_alloc(d * sizeof(float));
        for (int rep = 0; rep < 5; rep++) {
            for (uint32_t j = 0; j < d; j++) {
                a[j] = (float)(t_gauss(&s) * 3);
                b[j] = (float)(t_gauss(&s) * 3);
            }
            double l2 = vl_dist_l2sq_accurate(a, b, d), dot = vl_dist_dot_accurate(a, b, d);
            double cs = vl_dist_cos_accurate(a, b, d);
            double na = sqrt(vl_dist_dot_accurate(a, a, d)), nb = sqrt(vl_dist_dot_accurate(b, b, d));
            double dscale = na * nb;   /* error scale for dot products */
            CHECK(close_to(vl_dist_l2sq_f32_scalar(a, b, d), l2, 1e-5));
            CHECK(fabs(vl_dist_dot_f32_scalar(a, b, d) - dot) <= 1e-5 * (1 + dscale));
            CHECK(fabs(vl_dist_cos_f32_scalar(a, b, d) - cs) <= 1e-5);
            CHECK(close_to(vl_dist_l2sq(a, b, d), l2, 1e-5));
            CHECK(fabs(vl_dist_dot(a, b, d) - dot) <= 1e-5 * (1 + dscale));
            CHECK(fabs(vl_dist_cos(a, b, d) - cs) <= 1e-5);
#ifdef __wasm_simd128__
            CHECK(close_to(vl_dist_l2sq_f32_simd128(a, b, d), l2, 1e-5));
            CHECK(fabs(vl_dist_dot_f32_simd128(a, b, d) - dot) <= 1e-5 * (1 + dscale));
            CHECK(fabs(vl_dist_cos_f32_simd128(a, b, d) - cs) <= 1e-5);
#endif
            /* identities */
            CHECK(vl_dist_l2sq(a, a, d) == 0.0f);
            CHECK(fabs(vl_dist_cos(a, a, d)) <= 1e-5);
        }
        /* l2 against hand-computed values */
        for (uint32_t j = 0; j < d; j++) { a[j] = (float)j; b[j] = (float)j + 1.0f; }
        CHECK(vl_dist_l2sq(a, b, d) == (float)d);
        CHECK(vl_dist_l2sq_accurate(a, b, d) == (double)d);
        free(a);
        free(b);
    }
    /* zero vectors under cosine: defined as distance 1 */
    float z[3] = { 0, 0, 0 }, o[3] = { 1, 0, 0 };
    CHECK(vl_dist_cos(z, o, 3) == 1.0f);
    CHECK(vl_dist_cos_accurate(z, o, 3) == 1.0);
    return 0;
}

/* The simd kernels (wasm simd build) agree with the scalar ones to rounding;
 * in other builds: the public kernels are exactly the scalar ones. */
int test_dist_simd_vs_scalar(void)
{
    uint64_t s = 5;
    for (uint32_t d = 1; d <= 70; d++) {
        float a[70], b[70];
        for (uint32_t j = 0; j < d; j++) { a[j] = (float)t_gauss(&s); b[j] = (float)t_gauss(&s); }
#ifdef __wasm_simd128__
        CHECK(close_to(vl_dist_l2sq_f32_simd128(a, b, d), vl_dist_l2sq_f32_scalar(a, b, d), 1e-5));
        CHECK(fabs(vl_dist_dot_f32_simd128(a, b, d) - vl_dist_dot_f32_scalar(a, b, d)) <= 1e-4);
        CHECK(fabs(vl_dist_cos_f32_simd128(a, b, d) - vl_dist_cos_f32_scalar(a, b, d)) <= 1e-5);
        CHECK(vl_dist_l2sq(a, b, d) == vl_dist_l2sq_f32_simd128(a, b, d));
#else
        CHECK(vl_dist_l2sq(a, b, d) == vl_dist_l2sq_f32_scalar(a, b, d));
        CHECK(vl_dist_dot(a, b, d) == vl_dist_dot_f32_scalar(a, b, d));
        CHECK(vl_dist_cos(a, b, d) == vl_dist_cos_f32_scalar(a, b, d));
#endif
    }
    return 0;
}

int test_config_validation(void)
{
    vl_config c;
    vl_index *h = NULL;
    memset(&c, 0, sizeof c);
    CHECK_RC(vl_index_new(&c, &h), VL_EINVAL);             /* dim 0 */
    c.dim = 65536;
    CHECK_RC(vl_index_new(&c, &h), VL_EINVAL);
    c.dim = 65535;
    c.metric = 3;
    CHECK_RC(vl_index_new(&c, &h), VL_EINVAL);
    c.metric = 0; c.kind = 2;
    CHECK_RC(vl_index_new(&c, &h), VL_EINVAL);
    c.kind = VL_INDEX_HNSW; c.m = 1;
    CHECK_RC(vl_index_new(&c, &h), VL_EINVAL);
    c.m = VL_MAX_M + 1;
    CHECK_RC(vl_index_new(&c, &h), VL_EINVAL);
    c.m = 0; c.ef_search = VL_MAX_EF + 1;
    CHECK_RC(vl_index_new(&c, &h), VL_EINVAL);
    CHECK(h == NULL);
    CHECK_RC(vl_index_new(NULL, &h), VL_EINVAL);
    c.ef_search = 0; c.dim = 8;
    CHECK_OK(vl_index_new(&c, &h));
    vl_config got;
    CHECK_OK(vl_index_config(h, &got));
    CHECK(got.dim == 8 && got.m == 16 && got.ef_construction == 200 && got.ef_search == 64);
    CHECK(got.kind == VL_INDEX_HNSW && got.metric == VL_METRIC_L2);
    vl_index_free(h);
    c.m = 40; c.ef_construction = 10;    /* efc clamped to >= m */
    CHECK_OK(vl_index_new(&c, &h));
    CHECK_OK(vl_index_config(h, &got));
    CHECK(got.m == 40 && got.ef_construction == 40);
    vl_index_free(h);
    vl_index_free(NULL);
    return 0;
}

/* Flat search over `n` clustered rows with the given metric equals brute force. */
static int flat_exact(uint32_t metric)
{
    const uint32_t n = 1500, dim = 19, nq = 30, k = 10;
    float *x = t_clustered(n, dim, 12, 0.15, 100 + metric);
    float *qs = t_clustered(nq, dim, 12, 0.15, 200 + metric);
    uint64_t *ids = t_alloc(n * sizeof *ids);
    for (uint32_t i = 0; i < n; i++) ids[i] = (uint64_t)i * 7919u + (i % 3 ? 0 : (1ull << 63));
    vl_index *h = t_index(dim, metric, VL_INDEX_FLAT, 0, 0, 1);
    CHECK(h);
    /* insert in three batches */
    CHECK_RCH(h, vl_index_upsert(h, 500, ids, x, NULL, NULL), VL_OK);
    CHECK_RCH(h, vl_index_upsert(h, 1, ids + 500, x + 500 * dim, NULL, NULL), VL_OK);
    CHECK_RCH(h, vl_index_upsert(h, n - 501, ids + 501, x + 501 * dim, NULL, NULL), VL_OK);
    CHECK(vl_index_count(h) == n);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    uint64_t *rid = t_alloc((size_t)nq * k * sizeof *rid);
    float *rd = t_alloc((size_t)nq * k * sizeof *rd);
    uint32_t *cnt = t_alloc(nq * sizeof *cnt);
    CHECK_RCH(h, vl_index_search(h, nq, qs, k, 0, NULL, 0, rid, rd, cnt), VL_OK);
    for (uint32_t q = 0; q < nq; q++)
        CHECK(t_match_oracle(metric, x, ids, NULL, n, dim, qs + q * dim, k, rid + q * k,
                             rd + q * k, cnt[q]) == 0);
    /* k larger than the index */
    uint64_t bid[1600];
    float bd[1600];
    uint32_t bc;
    CHECK_OK(vl_index_search(h, 1, qs, 1600, 0, NULL, 0, bid, bd, &bc));
    CHECK(bc == n);
    CHECK(t_match_oracle(metric, x, ids, NULL, n, dim, qs, 1600, bid, bd, bc) == 0);
    /* delete a third, search again (flat compacts by moving the last row) */
    uint8_t *keep = t_alloc(n);
    uint64_t *del = t_alloc(n * sizeof *del);
    uint32_t nd = 0, got;
    for (uint32_t i = 0; i < n; i++) {
        keep[i] = i % 3 != 1;
        if (!keep[i]) del[nd++] = ids[i];
    }
    CHECK_OK(vl_index_delete(h, nd, del, &got));
    CHECK(got == nd);
    CHECK_OK(vl_index_delete(h, nd, del, &got));
    CHECK(got == 0);
    CHECK(vl_index_count(h) == n - nd);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    CHECK_RCH(h, vl_index_search(h, nq, qs, k, 0, NULL, 0, rid, rd, cnt), VL_OK);
    for (uint32_t q = 0; q < nq; q++)
        CHECK(t_match_oracle(metric, x, ids, keep, n, dim, qs + q * dim, k, rid + q * k,
                             rd + q * k, cnt[q]) == 0);
    free(keep); free(del);
    free(x); free(qs); free(ids); free(rid); free(rd); free(cnt);
    vl_index_free(h);
    return 0;
}

int test_flat_l2_exact(void) { return flat_exact(VL_METRIC_L2); }
int test_flat_dot_exact(void) { return flat_exact(VL_METRIC_DOT); }
int test_flat_cos_exact(void) { return flat_exact(VL_METRIC_COSINE); }

/* Equal distances come back by ascending id, for both kinds. */
int test_flat_ties_by_id(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(2, VL_METRIC_L2, kind, 0, 0, 3);
        CHECK(h);
        /* four points at distance 1 and four at distance 2 from the origin,
         * inserted in shuffled id order */
        const uint64_t ids[8] = { 90, 3, 77, 12, 5, 1000, 4, 64 };
        const float v[16] = { 1, 0, 0, 1, -1, 0, 0, -1, 2, 0, 0, 2, -2, 0, 0, -2 };
        CHECK_OK(vl_index_upsert(h, 8, ids, v, NULL, NULL));
        float q[2] = { 0, 0 };
        uint64_t rid[8];
        float rd[8];
        uint32_t c;
        CHECK_OK(vl_index_search(h, 1, q, 3, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 3);
        CHECK(rid[0] == 3 && rid[1] == 12 && rid[2] == 77);
        CHECK_OK(vl_index_search(h, 1, q, 6, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 6);
        CHECK(rid[0] == 3 && rid[1] == 12 && rid[2] == 77 && rid[3] == 90 && rid[4] == 4 &&
              rid[5] == 5);
        for (int i = 0; i < 6; i++) CHECK(rd[i] == (i < 4 ? 1.0f : 2.0f));
        vl_index_free(h);
    }
    return 0;
}

int test_bad_input_untouched(void)
{
    /* L2 and dot check finiteness on the exponent bits (vl__all_finite): every non-finite
     * value in every position is refused with the slow path's message, and the extremes of
     * the finite range (largest, smallest subnormal, -0) are accepted. */
    for (uint32_t metric = VL_METRIC_L2; metric <= VL_METRIC_DOT; metric++) {
        vl_index *h = t_index(5, metric, 1, 0, 0, 1);
        CHECK(h);
        const float badv[3] = { NAN, INFINITY, -INFINITY };
        const char *name[3] = { "NaN", "+Infinity", "-Infinity" };
        for (int b = 0; b < 3; b++)
            for (uint32_t j = 0; j < 5; j++) {
                float v[5] = { 1, 2, 3, 4, 5 };
                v[j] = badv[b];
                uint64_t id = 9;
                char want[64];
                snprintf(want, sizeof want, "component %u is %s", j, name[b]);
                CHECK_RC(vl_index_upsert(h, 1, &id, v, NULL, NULL), VL_EINVAL);
                CHECK(strstr(vl_errmsg(h), want) != NULL);
            }
        float ok[5] = { 3.4028235e38f, -3.4028235e38f, 1.4e-45f, -0.0f, 0 };
        uint64_t id = 7;
        CHECK_OK(vl_index_upsert(h, 1, &id, ok, NULL, NULL));
        CHECK(vl_index_count(h) == 1);
        vl_index_free(h);
    }
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(4, VL_METRIC_COSINE, kind, 0, 0, 1);
        CHECK(h);
        uint64_t ids[3] = { 1, 2, 3 };
        float v[12] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
        CHECK_OK(vl_index_upsert(h, 3, ids, v, NULL, NULL));
        uint64_t nid[3] = { 4, 5, 6 };
        float bad[12] = { 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3 };
        bad[4 * 2 + 3] = NAN;
        CHECK_RC(vl_index_upsert(h, 3, nid, bad, NULL, NULL), VL_EINVAL);
        CHECK(strstr(vl_errmsg(h), "vector 2 component 3 is NaN") != NULL);
        bad[11] = 3;
        bad[5] = INFINITY;
        CHECK_RC(vl_index_upsert(h, 3, nid, bad, NULL, NULL), VL_EINVAL);
        CHECK(strstr(vl_errmsg(h), "vector 1 component 1 is +Infinity") != NULL);
        bad[5] = -INFINITY;
        CHECK_RC(vl_index_upsert(h, 3, nid, bad, NULL, NULL), VL_EINVAL);
        CHECK(strstr(vl_errmsg(h), "-Infinity") != NULL);
        bad[4] = bad[5] = bad[6] = bad[7] = 0;      /* zero vector under cosine */
        CHECK_RC(vl_index_upsert(h, 3, nid, bad, NULL, NULL), VL_EINVAL);
        CHECK(strstr(vl_errmsg(h), "vector 1") != NULL);
        CHECK_RC(vl_index_upsert(h, 3, NULL, bad, NULL, NULL), VL_EINVAL);
        CHECK_RC(vl_index_upsert(h, 3, nid, NULL, NULL, NULL), VL_EINVAL);
        /* overwriting an existing id with a bad vector changes nothing either */
        float nanv[4] = { NAN, 0, 0, 0 };
        CHECK_RC(vl_index_upsert(h, 1, ids, nanv, NULL, NULL), VL_EINVAL);
        CHECK(vl_index_count(h) == 3);
        float got[4];
        CHECK_OK(vl_index_get(h, &ids[0], got, NULL, NULL));
        CHECK(got[0] == 1 && got[1] == 0);
        CHECK_RC(vl_index_get(h, &nid[0], got, NULL, NULL), VL_ENOTFOUND);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        /* searches: k = 0, k too big, ef too big, NaN, Inf, zero query, NULL buffers */
        float q[8] = { 1, 0.5f, 0, 0, 0, 1, 0, 0 };
        uint64_t rid[6] = { 42, 42, 42, 42, 42, 42 };
        float rd[6] = { -7, -7, -7, -7, -7, -7 };
        uint32_t c[2] = { 99, 99 };
        CHECK_RC(vl_index_search(h, 1, q, 0, 0, NULL, 0, rid, rd, c), VL_EINVAL);
        CHECK_RC(vl_index_search(h, 1, q, VL_MAX_K + 1, 0, NULL, 0, rid, rd, c), VL_EINVAL);
        CHECK_RC(vl_index_search(h, 1, q, 1, VL_MAX_EF + 1, NULL, 0, rid, rd, c), VL_EINVAL);
        q[6] = NAN;     /* second query bad: the first must not be answered either */
        CHECK_RC(vl_index_search(h, 2, q, 3, 0, NULL, 0, rid, rd, c), VL_EINVAL);
        CHECK(strstr(vl_errmsg(h), "query 1 component 2 is NaN") != NULL);
        q[6] = INFINITY;
        CHECK_RC(vl_index_search(h, 2, q, 3, 0, NULL, 0, rid, rd, c), VL_EINVAL);
        q[6] = 0;
        q[5] = 0;       /* zero query under cosine */
        CHECK_RC(vl_index_search(h, 2, q, 3, 0, NULL, 0, rid, rd, c), VL_EINVAL);
        CHECK_RC(vl_index_search(h, 1, NULL, 3, 0, NULL, 0, rid, rd, c), VL_EINVAL);
        CHECK_RC(vl_index_search(h, 1, q, 3, 0, NULL, 0, NULL, rd, c), VL_EINVAL);
        CHECK(c[0] == 99 && c[1] == 99 && rid[0] == 42 && rd[0] == -7);
        /* a good search still works and nq = 0 is a no-op */
        CHECK_OK(vl_index_search(h, 0, q, 3, 0, NULL, 0, rid, rd, c));
        CHECK(c[0] == 99);
        CHECK_OK(vl_index_search(h, 1, q, 3, 0, NULL, 0, rid, rd, c));
        CHECK(c[0] == 3 && rid[0] == 1);
        vl_index_free(h);
    }
    /* dim 65535 works (and dim 65536 was refused in test_config_validation) */
    vl_index *h = t_index(65535, VL_METRIC_L2, VL_INDEX_HNSW, 0, 0, 1);
    CHECK(h);
    float *v = t_alloc(65535 * sizeof(float));
    v[65534] = 1;
    uint64_t id = UINT64_MAX;
    CHECK_OK(vl_index_upsert(h, 1, &id, v, NULL, NULL));
    uint64_t rid;
    float rd;
    uint32_t c;
    CHECK_OK(vl_index_search(h, 1, v, 1, 0, NULL, 0, &rid, &rd, &c));
    CHECK(c == 1 && rid == UINT64_MAX && rd == 0);
    free(v);
    vl_index_free(h);
    return 0;
}

int test_get_contains_ids(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        const uint32_t n = 300, dim = 5;
        vl_index *h = t_index(dim, VL_METRIC_L2, kind, 8, 32, 9);
        CHECK(h);
        float *x = t_clustered(n, dim, 4, 0.15, 77);
        uint64_t *ids = t_alloc(n * sizeof *ids);
        uint64_t s = 1;
        for (uint32_t i = 0; i < n; i++) ids[i] = t_rand(&s);
        ids[0] = 0;
        ids[1] = UINT64_MAX;
        CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
        float v[5];
        for (uint32_t i = 0; i < n; i++) {
            CHECK_OK(vl_index_contains(h, &ids[i]));
            const uint8_t *m = (const uint8_t *)"x";
            uint32_t ml = 99;
            CHECK_OK(vl_index_get(h, &ids[i], v, &m, &ml));
            CHECK(memcmp(v, x + (size_t)i * dim, sizeof v) == 0);
            CHECK(ml == 0 && m != NULL);
        }
        CHECK_OK(vl_index_get(h, &ids[5], NULL, NULL, NULL));
        uint64_t absent = 12345;
        CHECK_RC(vl_index_contains(h, &absent), VL_ENOTFOUND);
        CHECK_RC(vl_index_get(h, &absent, v, NULL, NULL), VL_ENOTFOUND);
        /* ids in ascending order, in pages of 7 */
        uint64_t *sorted = t_alloc(n * sizeof *sorted);
        memcpy(sorted, ids, n * sizeof *sorted);
        for (uint32_t i = 1; i < n; i++)      /* insertion sort (oracle) */
            for (uint32_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                uint64_t t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t;
            }
        uint64_t page[7], after = 0;
        uint32_t got, total = 0, valid = 0;
        for (;;) {
            CHECK_OK(vl_index_ids(h, &after, valid, page, 7, &got));
            if (!got) break;
            for (uint32_t i = 0; i < got; i++) CHECK(page[i] == sorted[total + i]);
            total += got;
            after = page[got - 1];
            valid = 1;
        }
        CHECK(total == n);
        CHECK_OK(vl_index_ids(h, &after, 0, page, 0, &got));
        CHECK(got == 0);
        CHECK_RC(vl_index_ids(h, NULL, 1, page, 7, &got), VL_EINVAL);
        /* delete some: they vanish from contains/get/ids/count */
        uint32_t nd;
        CHECK_OK(vl_index_delete(h, 2, ids, &nd));
        CHECK(nd == 2);
        CHECK_RC(vl_index_contains(h, &ids[0]), VL_ENOTFOUND);
        CHECK_RC(vl_index_get(h, &ids[1], v, NULL, NULL), VL_ENOTFOUND);
        CHECK(vl_index_count(h) == n - 2);
        CHECK_OK(vl_index_ids(h, NULL, 0, page, 7, &got));
        CHECK(got == 7 && page[0] == sorted[1]);       /* 0 was deleted */
        after = sorted[n - 2];
        CHECK_OK(vl_index_ids(h, &after, 1, page, 7, &got));
        CHECK(got == 0);                                /* UINT64_MAX deleted */
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        free(sorted); free(ids); free(x);
        vl_index_free(h);
    }
    return 0;
}

/* Build-time memory, from the engine's byte trace (src/mem.c; WebAssembly
 * memory never shrinks, so a transient peak is paid for good):
 *  (a) one batch into an empty index reserves everything once at its final
 *      size: the peak during the call exceeds what the index then holds by
 *      at most 16 bytes per row (per-batch scratch: the duplicate-id table
 *      of 8-16 bytes per row; it was 33-57 with a vl_idmap and the per-row
 *      level and list-pointer arrays);
 *  (b) the engine's accounting (memory_bytes) is within 10% of the bytes
 *      it really holds, for one batch and after single inserts;
 *  (c) an HNSW index whose ids are all rewritten 20 times holds at most
 *      3.5x the bytes it held after the first write (tombstone reclamation;
 *      without it, 20x): before a write nodes <= 2 x live, the write adds
 *      its batch (here = live), and capacity grows to that, by up to 1.5x.
 * Single-insert growth (1.5x, in place when the allocator allows) is only
 * reported: whether realloc moves depends on the allocator and the heap. */
int test_mem_build_peak(void)
{
    const uint32_t n = 4000, dim = 32;
    float *x = t_clustered(n, dim, 20, 0.4, 71);
    uint64_t *ids = t_alloc(n * sizeof *ids);
    for (uint32_t i = 0; i < n; i++) ids[i] = 5 + 3 * (uint64_t)i;
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(dim, VL_METRIC_L2, kind, 16, 100, 3);
        CHECK(h);
        uint64_t base = vl__mem_live();
        CHECK(base > 0);                               /* the trace works on this platform */
        vl__mem_peak_reset();
        CHECK_RCH(h, vl_index_upsert(h, n, ids, x, NULL, NULL), VL_OK);
        uint64_t kept = vl__mem_live() - base, peak = vl__mem_peak() - base;
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        printf("  %s batch of %u: holds %llu bytes, peak %llu (+%.1f%%), memory_bytes %llu\n",
               kind ? "hnsw" : "flat", n, (unsigned long long)kept, (unsigned long long)peak,
               100.0 * ((double)peak - kept) / kept, (unsigned long long)st.memory_bytes);
        CHECK(peak <= kept + 16ull * n);
        CHECK(st.memory_bytes >= kept - kept / 10 && st.memory_bytes <= kept + kept / 10);
        vl_index_free(h);

        h = t_index(dim, VL_METRIC_L2, kind, 16, 100, 3);
        CHECK(h);
        base = vl__mem_live();
        vl__mem_peak_reset();
        for (uint32_t i = 0; i < n; i++)
            CHECK_RCH(h, vl_index_upsert(h, 1, ids + i, x + (size_t)i * dim, NULL, NULL), VL_OK);
        kept = vl__mem_live() - base;
        peak = vl__mem_peak() - base;
        CHECK_OK(vl_index_stats(h, &st));
        printf("  %s %u single inserts: holds %llu bytes, peak %llu (%.2fx)\n",
               kind ? "hnsw" : "flat", n, (unsigned long long)kept, (unsigned long long)peak,
               (double)peak / kept);
        CHECK(st.memory_bytes >= kept - kept / 10 && st.memory_bytes <= kept + kept / 10);
        vl_index_free(h);
    }
    /* (c) */
    const uint32_t m = 1500;
    vl_index *h = t_index(8, VL_METRIC_L2, VL_INDEX_HNSW, 8, 40, 9);
    CHECK(h);
    uint64_t base = vl__mem_live(), first = 0;
    for (uint32_t r = 0; r < 20; r++) {
        float *y = t_clustered(m, 8, 10, 0.4, 80 + r);
        CHECK_RCH(h, vl_index_upsert(h, m, ids, y, NULL, NULL), VL_OK);
        free(y);
        if (r == 0) first = vl__mem_live() - base;
    }
    uint64_t last = vl__mem_live() - base;
    printf("  %u ids rewritten 20 times: %llu bytes after the first write, %llu after the last\n", m,
           (unsigned long long)first, (unsigned long long)last);
    CHECK(last <= first * 7 / 2);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    vl_index_free(h);
    free(x); free(ids);
    return 0;
}

/* vl_index_rows: writing a batch straight into the index's own room and
 * upserting from there gives exactly what upserting from a separate buffer
 * gives (flat and HNSW, cosine, duplicate ids in the batch, replaced ids);
 * overlapping the storage in any other way is refused untouched. */
int test_index_rows(void)
{
    const uint32_t n = 600, dim = 12, nq = 20, k = 5;
    float *x = t_clustered(n, dim, 6, 0.4, 91);
    float *y = t_clustered(n, dim, 6, 0.4, 92);
    float *qs = t_queries(x, n, dim, nq, 0.4, 93);
    uint64_t *ids = t_alloc(n * sizeof *ids);
    for (uint32_t i = 0; i < n; i++) ids[i] = 100 + i;
    /* second batch: ids 300..599 again (replaced), 600..799 new, id 650 twice */
    const uint32_t m = 501;
    uint64_t *ids2 = t_alloc(m * sizeof *ids2);
    for (uint32_t i = 0; i < 500; i++) ids2[i] = 400 + i;
    ids2[500] = 650;
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *a = t_index(dim, VL_METRIC_COSINE, kind, 8, 40, 17);
        vl_index *b = t_index(dim, VL_METRIC_COSINE, kind, 8, 40, 17);
        CHECK(a && b);
        float *rows = NULL;
        CHECK_OK(vl_index_rows(b, 0, &rows));
        CHECK(rows == NULL);
        CHECK_OK(vl_index_upsert(a, n, ids, x, NULL, NULL));
        CHECK_OK(vl_index_rows(b, n, &rows));
        CHECK(rows != NULL);
        memcpy(rows, x, (size_t)n * dim * sizeof(float));
        CHECK_RCH(b, vl_index_upsert(b, n, ids, rows, NULL, NULL), VL_OK);
        CHECK_OK(vl_index_upsert(a, m, ids2, y, NULL, NULL));
        CHECK_OK(vl_index_rows(b, m, &rows));
        memcpy(rows, y, (size_t)m * dim * sizeof(float));
        CHECK_RCH(b, vl_index_upsert(b, m, ids2, rows, NULL, NULL), VL_OK);
        CHECK_RCH(a, vl_index_check(a), VL_OK);
        CHECK_RCH(b, vl_index_check(b), VL_OK);
        CHECK(vl_index_count(a) == 800 && vl_index_count(b) == 800);
        float va[12], vb[12];
        for (uint64_t id = 100; id < 900; id += 7) {
            CHECK_OK(vl_index_get(a, &id, va, NULL, NULL));
            CHECK_OK(vl_index_get(b, &id, vb, NULL, NULL));
            CHECK(memcmp(va, vb, sizeof va) == 0);
        }
        uint64_t id650 = 650;                       /* the later of the two rows won */
        CHECK_OK(vl_index_get(b, &id650, vb, NULL, NULL));
        CHECK(memcmp(vb, y + (size_t)500 * dim, sizeof vb) == 0);
        uint64_t ia[20 * 5], ib[20 * 5];
        float da[20 * 5], db[20 * 5];
        uint32_t ca[20], cb[20];
        CHECK_OK(vl_index_search(a, nq, qs, k, 32, NULL, 0, ia, da, ca));
        CHECK_OK(vl_index_search(b, nq, qs, k, 32, NULL, 0, ib, db, cb));
        CHECK(memcmp(ca, cb, sizeof ca) == 0 && memcmp(ia, ib, sizeof ia) == 0 &&
              memcmp(da, db, sizeof da) == 0);
        /* misuse: any other overlap with the storage is refused, nothing changes */
        CHECK_OK(vl_index_rows(b, 10, &rows));
        memcpy(rows, x, 10 * dim * sizeof(float));
        CHECK_RC(vl_index_upsert(b, 10, ids, rows + dim, NULL, NULL), VL_EINVAL);   /* shifted */
        CHECK_RC(vl_index_upsert(b, 10, ids, rows - (size_t)5 * dim, NULL, NULL), VL_EINVAL); /* stored rows */
        CHECK(vl_index_count(b) == 800);
        CHECK_RCH(b, vl_index_check(b), VL_OK);
        /* out of memory: index unchanged */
        vl__test_alloc_fail_after(0);
        int rc = vl_index_rows(b, 100000, &rows);
        vl__test_alloc_fail_after(-1);
        CHECK_RC(rc, VL_ENOMEM);
        CHECK(vl_index_count(b) == 800);
        CHECK_RCH(b, vl_index_check(b), VL_OK);
        CHECK_RC(vl_index_rows(b, 1, NULL), VL_EINVAL);
        vl_index_free(a); vl_index_free(b);
    }
    free(x); free(y); free(qs); free(ids); free(ids2);
    return 0;
}
