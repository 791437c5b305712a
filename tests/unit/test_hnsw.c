/*
 * test_hnsw.c — HNSW against the brute-force oracle: recall floors, seeded
 * reproducibility, upsert tombstones, deletes, filtered search.
 * Recall is always computed against t_oracle (f64 _accurate kernels).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

#define NQ 100
#define K 10
/* cluster spread: clusters overlap enough that kNN is not trivial */
#define SIGMA 0.4

/* Mean recall@K of h over nq queries, against the oracle over rows with keep. */
static double recall_of(vl_index *h, uint32_t metric, const float *x, const uint64_t *ids,
                        const uint8_t *keep, uint32_t n, uint32_t dim, const float *qs,
                        uint32_t nq, uint32_t ef, const uint8_t *filter, uint32_t flen,
                        int *bad)
{
    uint64_t *rid = t_alloc((size_t)nq * K * sizeof *rid);
    float *rd = t_alloc((size_t)nq * K * sizeof *rd);
    uint32_t *cnt = t_alloc(nq * sizeof *cnt);
    uint32_t rows[K];
    double od[K];
    double sum = 0;
    *bad = 0;
    int rc = vl_index_search(h, nq, qs, K, ef, filter, flen, rid, rd, cnt);
    if (rc) {
        fprintf(stderr, "  search: %s (%s)\n", vl_errstr(rc), vl_errmsg(h));
        *bad = 1;
    }
    for (uint32_t q = 0; !*bad && q < nq; q++) {
        uint32_t want = t_oracle(metric, x, ids, keep, n, dim, qs + (size_t)q * dim, K, rows, od);
        uint64_t wid[K];
        for (uint32_t i = 0; i < want; i++) wid[i] = ids[rows[i]];
        if (cnt[q] != want) {
            fprintf(stderr, "  query %u: %u results, %u expected\n", q, cnt[q], want);
            *bad = 1;
        }
        /* every returned id must be acceptable; distances must be true */
        for (uint32_t i = 0; i < cnt[q]; i++) {
            uint32_t row = UINT32_MAX;
            for (uint32_t r = 0; r < n; r++) if (ids[r] == rid[q * K + i]) { row = r; break; }
            if (row == UINT32_MAX || (keep && !keep[row])) {
                fprintf(stderr, "  query %u returned unacceptable id %llu\n", q,
                        (unsigned long long)rid[q * K + i]);
                *bad = 1;
                break;
            }
            double truth = t_dist(metric, x + (size_t)row * dim, qs + (size_t)q * dim, dim);
            if (fabs(truth - rd[q * K + i]) > 1e-4 * (1 + fabs(truth))) {
                fprintf(stderr, "  query %u rank %u distance %g, true %g\n", q, i, rd[q * K + i], truth);
                *bad = 1;
            }
            if (i && rd[q * K + i] < rd[q * K + i - 1]) { fprintf(stderr, "  unsorted\n"); *bad = 1; }
        }
        sum += t_recall(rid + q * K, cnt[q], wid, want);
    }
    free(rid); free(rd); free(cnt);
    return sum / nq;
}

static uint64_t *seq_ids(uint32_t n, uint64_t mul)
{
    uint64_t *ids = t_alloc(n * sizeof *ids);
    for (uint32_t i = 0; i < n; i++) ids[i] = 1000 + (uint64_t)i * mul;
    return ids;
}

int test_hnsw_recall_l2(void)
{
    const uint32_t n = 5000, dim = 32;
    float *x = t_clustered(n, dim, 50, SIGMA, 42);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 43);
    uint64_t *ids = seq_ids(n, 3);
    vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 16, 200, 7);
    CHECK(h);
    CHECK_RCH(h, vl_index_upsert(h, n, ids, x, NULL, NULL), VL_OK);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    vl_stats st;
    CHECK_OK(vl_index_stats(h, &st));
    CHECK(st.live == n && st.nodes == n && st.tombstones == 0 && st.max_level >= 1);
    int bad;
    double r = recall_of(h, VL_METRIC_L2, x, ids, NULL, n, dim, qs, NQ, 64, NULL, 0, &bad);
    printf("  recall@10 ef=64: %.4f\n", r);
    CHECK(!bad);
    CHECK(r >= 0.95);
    /* a larger ef never hurts much, and ef = k still gives k results */
    double r2 = recall_of(h, VL_METRIC_L2, x, ids, NULL, n, dim, qs, NQ, 200, NULL, 0, &bad);
    CHECK(!bad);
    CHECK(r2 >= r - 0.01);
    double r3 = recall_of(h, VL_METRIC_L2, x, ids, NULL, n, dim, qs, NQ, 1, NULL, 0, &bad);
    CHECK(!bad);
    CHECK(r3 > 0.5);
    free(x); free(qs); free(ids);
    vl_index_free(h);
    return 0;
}

int test_hnsw_recall_cos_dot(void)
{
    const uint32_t n = 2000, dim = 24;
    for (uint32_t metric = VL_METRIC_DOT; metric <= VL_METRIC_COSINE; metric++) {
        float *x = t_clustered(n, dim, 20, SIGMA, 50 + metric);
        float *qs = t_queries(x, n, dim, NQ, SIGMA, 50 + metric + 1000);
        uint64_t *ids = seq_ids(n, 1);
        vl_index *h = t_index(dim, metric, VL_INDEX_HNSW, 16, 100, 1);
        CHECK(h);
        CHECK_RCH(h, vl_index_upsert(h, n, ids, x, NULL, NULL), VL_OK);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        int bad;
        double r = recall_of(h, metric, x, ids, NULL, n, dim, qs, NQ, 64, NULL, 0, &bad);
        printf("  %s recall@10 ef=64: %.4f\n", metric == VL_METRIC_DOT ? "dot" : "cosine", r);
        CHECK(!bad);
        CHECK(r >= (metric == VL_METRIC_DOT ? 0.90 : 0.95));
        /* get() returns the raw (not normalised) vector under cosine */
        float v[24];
        CHECK_OK(vl_index_get(h, &ids[17], v, NULL, NULL));
        CHECK(memcmp(v, x + 17 * dim, sizeof v) == 0);
        free(x); free(qs); free(ids);
        vl_index_free(h);
    }
    return 0;
}

static int same_results(vl_index *a, vl_index *b, const float *qs, uint32_t nq, uint32_t ef)
{
    uint64_t ia[NQ * K], ib[NQ * K];
    float da[NQ * K], db[NQ * K];
    uint32_t ca[NQ], cb[NQ];
    if (vl_index_search(a, nq, qs, K, ef, NULL, 0, ia, da, ca)) return 0;
    if (vl_index_search(b, nq, qs, K, ef, NULL, 0, ib, db, cb)) return 0;
    for (uint32_t q = 0; q < nq; q++) {
        if (ca[q] != cb[q]) return 0;
        for (uint32_t i = 0; i < ca[q]; i++)
            if (ia[q * K + i] != ib[q * K + i] || da[q * K + i] != db[q * K + i]) return 0;
    }
    return 1;
}

int test_hnsw_reproducible(void)
{
    const uint32_t n = 2000, dim = 16;
    float *x = t_clustered(n, dim, 10, SIGMA, 5);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 6 + 1000);
    uint64_t *ids = seq_ids(n, 11);
    vl_index *a = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 40, 1234);
    vl_index *b = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 40, 1234);
    vl_index *c = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 40, 999);
    CHECK(a && b && c);
    CHECK_OK(vl_index_upsert(a, n, ids, x, NULL, NULL));
    CHECK_OK(vl_index_upsert(b, n, ids, x, NULL, NULL));
    CHECK_OK(vl_index_upsert(c, n, ids, x, NULL, NULL));
    CHECK(same_results(a, b, qs, NQ, 16));
    vl_stats sa, sb;
    CHECK_OK(vl_index_stats(a, &sa));
    CHECK_OK(vl_index_stats(b, &sb));
    CHECK(sa.max_level == sb.max_level && sa.graph_bytes == sb.graph_bytes);
    /* a different seed gives a valid graph of similar quality */
    CHECK_RCH(c, vl_index_check(c), VL_OK);
    int bad;
    double r = recall_of(c, VL_METRIC_L2, x, ids, NULL, n, dim, qs, NQ, 64, NULL, 0, &bad);
    printf("  seed 999 recall@10 ef=64: %.4f\n", r);
    CHECK(!bad && r >= 0.95);
    /* clear() then the same inserts: the same graph again */
    CHECK_OK(vl_index_clear(a));
    CHECK(vl_index_count(a) == 0);
    CHECK_OK(vl_index_upsert(a, n, ids, x, NULL, NULL));
    CHECK(same_results(a, b, qs, NQ, 16));
    free(x); free(qs); free(ids);
    vl_index_free(a); vl_index_free(b); vl_index_free(c);
    return 0;
}

/* Inserting one at a time gives the same graph as one batch. */
int test_hnsw_incremental_vs_batch(void)
{
    const uint32_t n = 800, dim = 12;
    float *x = t_clustered(n, dim, 8, SIGMA, 15);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 16 + 1000);
    uint64_t *ids = seq_ids(n, 5);
    vl_index *a = t_index(dim, VL_METRIC_COSINE, VL_INDEX_HNSW, 6, 30, 77);
    vl_index *b = t_index(dim, VL_METRIC_COSINE, VL_INDEX_HNSW, 6, 30, 77);
    CHECK(a && b);
    CHECK_OK(vl_index_upsert(a, n, ids, x, NULL, NULL));
    for (uint32_t i = 0; i < n; i++) {
        CHECK_OK(vl_index_upsert(b, 1, ids + i, x + (size_t)i * dim, NULL, NULL));
        if (i % 97 == 0) CHECK_RCH(b, vl_index_check(b), VL_OK);
    }
    CHECK_RCH(b, vl_index_check(b), VL_OK);
    CHECK(same_results(a, b, qs, NQ, 10));
    free(x); free(qs); free(ids);
    vl_index_free(a); vl_index_free(b);
    return 0;
}

int test_hnsw_upsert_tombstones(void)
{
    const uint32_t n = 1000, dim = 8;
    float *x = t_clustered(n, dim, 10, SIGMA, 21);
    float *y = t_clustered(n, dim, 10, SIGMA, 22);
    uint64_t *ids = seq_ids(n, 1);
    vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 50, 3);
    CHECK(h);
    CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
    /* replace the first half with new vectors */
    CHECK_OK(vl_index_upsert(h, n / 2, ids, y, NULL, NULL));
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    vl_stats st;
    CHECK_OK(vl_index_stats(h, &st));
    CHECK(st.live == n && st.nodes == n + n / 2 && st.tombstones == n / 2);
    CHECK(vl_index_count(h) == n);
    /* the truth is now y for the first half, x for the rest */
    float *cur = t_alloc((size_t)n * dim * sizeof(float));
    memcpy(cur, y, (size_t)(n / 2) * dim * sizeof(float));
    memcpy(cur + (size_t)(n / 2) * dim, x + (size_t)(n / 2) * dim, (size_t)(n / 2) * dim * sizeof(float));
    float v[8];
    for (uint32_t i = 0; i < n; i++) {
        CHECK_OK(vl_index_get(h, &ids[i], v, NULL, NULL));
        CHECK(memcmp(v, cur + (size_t)i * dim, sizeof v) == 0);
    }
    /* searching for a replaced vector's old value never returns it at distance 0
     * unless the new value happens to be identical; searching the new one does */
    for (uint32_t i = 0; i < 50; i++) {
        uint64_t rid[K];
        float rd[K];
        uint32_t c;
        CHECK_OK(vl_index_search(h, 1, y + (size_t)i * dim, 1, 32, NULL, 0, rid, rd, &c));
        CHECK(c == 1 && rid[0] == ids[i] && rd[0] == 0.0f);
    }
    int bad;
    double r = recall_of(h, VL_METRIC_L2, cur, ids, NULL, n, dim, x + 100 * dim, NQ, 64, NULL, 0, &bad);
    CHECK(!bad);
    CHECK(r >= 0.95);
    free(x); free(y); free(cur); free(ids);
    vl_index_free(h);
    return 0;
}

int test_hnsw_delete_half(void)
{
    const uint32_t n = 5000, dim = 32;
    float *x = t_clustered(n, dim, 50, SIGMA, 42);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 42 + 1000);
    uint64_t *ids = seq_ids(n, 2);
    vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 16, 100, 5);
    CHECK(h);
    CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
    uint8_t *keep = t_alloc(n);
    uint64_t *del = t_alloc(n * sizeof *del);
    uint64_t s = 9;
    uint32_t nd = 0;
    for (uint32_t i = 0; i < n; i++) {
        keep[i] = (t_rand(&s) & 1) != 0;
        if (!keep[i]) del[nd++] = ids[i];
    }
    uint32_t got;
    CHECK_OK(vl_index_delete(h, nd, del, &got));
    CHECK(got == nd);
    CHECK(vl_index_count(h) == n - nd);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    int bad;
    double r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, NQ, 64, NULL, 0, &bad);
    printf("  recall@10 after deleting %u of %u: %.4f\n", nd, n, r);
    CHECK(!bad);    /* includes: no deleted id returned */
    CHECK(r >= 0.95);
    /* re-insert the deleted ones with the same vectors: all back */
    float *dv = t_alloc((size_t)nd * dim * sizeof(float));
    for (uint32_t i = 0, j = 0; i < n; i++)
        if (!keep[i]) memcpy(dv + (size_t)j++ * dim, x + (size_t)i * dim, dim * sizeof(float));
    CHECK_OK(vl_index_upsert(h, nd, del, dv, NULL, NULL));
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    r = recall_of(h, VL_METRIC_L2, x, ids, NULL, n, dim, qs, NQ, 64, NULL, 0, &bad);
    CHECK(!bad && r >= 0.95);
    free(dv); free(keep); free(del); free(x); free(qs); free(ids);
    vl_index_free(h);
    return 0;
}

int test_hnsw_delete_all_reinsert(void)
{
    const uint32_t n = 300, dim = 6;
    float *x = t_clustered(n, dim, 5, SIGMA, 8);
    uint64_t *ids = seq_ids(n, 1);
    vl_index *h = t_index(dim, VL_METRIC_COSINE, VL_INDEX_HNSW, 4, 20, 5);
    CHECK(h);
    for (int round = 0; round < 3; round++) {
        CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
        CHECK(vl_index_count(h) == n);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        int bad;
        double r = recall_of(h, VL_METRIC_COSINE, x, ids, NULL, n, dim, x, 50, 32, NULL, 0, &bad);
        CHECK(!bad && r >= 0.95);
        /* delete all but one, then the last one */
        uint32_t got;
        CHECK_OK(vl_index_delete(h, n - 1, ids + 1, &got));
        CHECK(got == n - 1);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        uint64_t rid[K];
        float rd[K];
        uint32_t c;
        CHECK_OK(vl_index_search(h, 1, x + dim, K, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 1 && rid[0] == ids[0]);
        CHECK_OK(vl_index_delete(h, 1, ids, &got));
        CHECK(got == 1 && vl_index_count(h) == 0);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        CHECK_OK(vl_index_search(h, 1, x, K, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 0);
    }
    free(x); free(ids);
    vl_index_free(h);
    return 0;
}

/* filter program: field `fid` == (i64) v */
static uint32_t f_eq_i64(uint8_t *f, uint16_t fid, int64_t v)
{
    f[0] = VL_F_CMP; f[1] = VL_CMP_EQ;
    t_put16(f + 2, fid);
    f[4] = VL_TAG_I64;
    t_put64(f + 5, (uint64_t)v);
    return 13;
}

/* n rows with metadata {bucket: i % 100 (i64), even: bool}; filter searches
 * under each plan (graph traversal, exact scan, automatic). */
static const char *plan_name[3] = { "auto", "graph", "exact" };

static int filter_search(uint32_t ef)
{
    const uint32_t n = 5000, dim = 16;
    float *x = t_clustered(n, dim, 40, SIGMA, 31);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 31 + 1000);
    uint64_t *ids = seq_ids(n, 7);
    vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 16, 100, 2);
    CHECK(h);
    uint32_t fb, fe;
    CHECK_OK(vl_index_field(h, "bucket", 6, &fb));
    CHECK_OK(vl_index_field(h, "even", 4, &fe));
    uint8_t *meta = t_alloc((size_t)n * 32);
    uint32_t *off = t_alloc((n + 1) * sizeof *off);
    off[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *r = meta + off[i];
        uint32_t len = t_rec_begin(r);
        len = t_rec_i64(r, len, (uint16_t)fb, i % 100);
        len = t_rec_bool(r, len, (uint16_t)fe, i % 2 == 0);
        off[i + 1] = off[i] + len;
    }
    CHECK_RCH(h, vl_index_upsert(h, n, ids, x, meta, off), VL_OK);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    uint8_t *keep = t_alloc(n);
    uint8_t f[64];
    int bad;
    uint64_t rid[K];
    float rd[K];
    uint32_t c, fl;
    double r;
    for (int plan = 1; plan <= 3; plan++) {
        vl__test_filter_plan(plan % 3);
        const char *pn = plan_name[plan % 3];
        /* 1% selective */
        fl = f_eq_i64(f, (uint16_t)fb, 7);
        for (uint32_t i = 0; i < n; i++) keep[i] = i % 100 == 7;
        r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, NQ, ef, f, fl, &bad);
        printf("  ef=%u %s 1%% filter recall@10: %.4f\n", ef, pn, r);
        CHECK(!bad);           /* k results, all matching, distances true */
        CHECK(r >= 0.9);
        /* 50%: even == true */
        f[0] = VL_F_CMP; f[1] = VL_CMP_EQ; t_put16(f + 2, (uint16_t)fe); f[4] = VL_TAG_BOOL; f[5] = 1;
        for (uint32_t i = 0; i < n; i++) keep[i] = i % 2 == 0;
        r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, NQ, ef, f, 6, &bad);
        printf("  ef=%u %s 50%% filter recall@10: %.4f\n", ef, pn, r);
        CHECK(!bad && r >= 0.9);
        /* bucket < 9.5 AND NOT even: 5% */
        uint32_t p = 0;
        f[p++] = VL_F_AND; t_put16(f + p, 2); p += 2;
        f[p++] = VL_F_CMP; f[p++] = VL_CMP_LT; t_put16(f + p, (uint16_t)fb); p += 2;
        f[p++] = VL_TAG_F64; { double d = 9.5; uint64_t b; memcpy(&b, &d, 8); t_put64(f + p, b); } p += 8;
        f[p++] = VL_F_NOT;
        f[p++] = VL_F_CMP; f[p++] = VL_CMP_EQ; t_put16(f + p, (uint16_t)fe); p += 2; f[p++] = VL_TAG_BOOL; f[p++] = 1;
        for (uint32_t i = 0; i < n; i++) keep[i] = i % 100 < 10 && i % 2 == 1;
        r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, NQ, ef, f, p, &bad);
        printf("  ef=%u %s 5%% filter recall@10: %.4f\n", ef, pn, r);
        CHECK(!bad && r >= 0.9);
        /* a filter that matches nothing */
        fl = f_eq_i64(f, (uint16_t)fb, 1000);
        c = 99;
        CHECK_OK(vl_index_search(h, 1, qs, K, ef, f, fl, rid, rd, &c));
        CHECK(c == 0);
        /* an unknown field id: nothing matches */
        fl = f_eq_i64(f, 999, 7);
        CHECK_OK(vl_index_search(h, 1, qs, K, ef, f, fl, rid, rd, &c));
        CHECK(c == 0);
    }
    /* delete most of bucket 42: IN(bucket, [42]) then matches 3 rows */
    uint64_t *del = t_alloc(n * sizeof *del);
    uint32_t nd = 0, got;
    for (uint32_t i = 0; i < n; i++)
        if (i % 100 == 42 && i >= 300) del[nd++] = ids[i];
    CHECK_OK(vl_index_delete(h, nd, del, &got));
    CHECK(got == nd);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    for (int plan = 1; plan <= 3; plan++) {
        vl__test_filter_plan(plan % 3);
        uint32_t p = 0;
        f[p++] = VL_F_IN; t_put16(f + p, (uint16_t)fb); p += 2; t_put16(f + p, 1); p += 2;
        f[p++] = VL_TAG_I64; t_put64(f + p, 42); p += 8;
        for (uint32_t i = 0; i < n; i++) keep[i] = i % 100 == 42 && i < 300;
        r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, NQ, ef, f, p, &bad);
        CHECK(!bad && r == 1.0);
        /* NE on an unknown field matches every live node */
        fl = f_eq_i64(f, 999, 7);
        f[1] = VL_CMP_NE;
        for (uint32_t i = 0; i < n; i++) keep[i] = !(i % 100 == 42 && i >= 300);
        r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, NQ, ef, f, fl, &bad);
        CHECK(!bad && r >= 0.9);
        /* a malformed filter is refused and writes nothing */
        c = 99;
        CHECK_RC(vl_index_search(h, 1, qs, K, ef, f, fl - 1, rid, rd, &c), VL_EINVAL);
        CHECK(c == 99);
    }
    vl__test_filter_plan(0);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    free(del); free(keep); free(meta); free(off); free(x); free(qs); free(ids);
    vl_index_free(h);
    return 0;
}

int test_hnsw_filter_selective(void) { return filter_search(64); }
int test_hnsw_filter_ef_small(void) { return filter_search(10); }

/* Filter columns (built by the first filtered search) follow every later
 * write: set_meta, upsert (new, replaced, without metadata), delete, clear.
 * Checked against the oracle under the exact plan after each step. */
int test_filter_columns_follow_writes(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        const uint32_t n = 600, dim = 4;
        float *x = t_clustered(n, dim, 6, SIGMA, 61);
        uint64_t *ids = seq_ids(n, 1);
        vl_index *h = t_index(dim, VL_METRIC_L2, kind, 8, 32, 3);
        CHECK(h);
        uint32_t fs, fv;
        CHECK_OK(vl_index_field(h, "s", 1, &fs));
        CHECK_OK(vl_index_field(h, "v", 1, &fv));
        int64_t *val = t_alloc(n * sizeof *val);     /* model: value of v, or INT64_MIN if absent */
        uint8_t *meta = t_alloc((size_t)n * 32);
        uint32_t *off = t_alloc((n + 1) * sizeof *off);
        off[0] = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t *r = meta + off[i];
            uint32_t len = t_rec_begin(r);
            len = t_rec_str(r, len, (uint16_t)fs, VL_TAG_STR, i % 2 ? "odd" : "even", i % 2 ? 3 : 4);
            if (i % 5) { len = t_rec_i64(r, len, (uint16_t)fv, i % 10); val[i] = i % 10; }
            else val[i] = INT64_MIN;
            off[i + 1] = off[i] + len;
        }
        CHECK_OK(vl_index_upsert(h, n, ids, x, meta, off));
        uint8_t *keep = t_alloc(n);
        uint8_t f[64];
        uint32_t fl = f_eq_i64(f, (uint16_t)fv, 3);
        float *qs = t_queries(x, n, dim, 20, SIGMA, 5);
        int bad;
        for (int step = 0; step < 5; step++) {
            for (int plan = 1; plan <= 2; plan++) {
                vl__test_filter_plan(plan);
                for (uint32_t i = 0; i < n; i++) keep[i] = val[i] == 3;
                double r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, 20, 64, f, fl, &bad);
                if (bad || r < (plan == 2 ? 1.0 : 0.9)) {
                    fprintf(stderr, "  kind %u step %d plan %d recall %.3f\n", kind, step, plan, r);
                    return 1;
                }
            }
            CHECK_RCH(h, vl_index_check(h), VL_OK);
            /* mutate: rows with i % 7 == step get v = 3 (set_meta), rows with
             * i % 11 == step lose their metadata (upsert without meta), rows with
             * i % 13 == step are deleted then re-inserted with v = 3 */
            for (uint32_t i = 0; i < n; i++) {
                if (val[i] == -1) continue;                 /* deleted: leave alone */
                uint8_t rec[32];
                uint32_t one[2] = { 0, 0 };
                if (i % 7 == (uint32_t)step) {
                    one[1] = t_rec_begin(rec);
                    one[1] = t_rec_i64(rec, one[1], (uint16_t)fv, 3);
                    one[1] = t_rec_str(rec, one[1], (uint16_t)fs, VL_TAG_STR, "x", 1);
                    CHECK_OK(vl_index_set_meta(h, 1, &ids[i], rec, one));
                    val[i] = 3;
                } else if (i % 11 == (uint32_t)step) {
                    CHECK_OK(vl_index_upsert(h, 1, &ids[i], x + (size_t)i * dim, NULL, NULL));
                    val[i] = INT64_MIN;
                } else if (i % 13 == (uint32_t)step) {
                    uint32_t nd;
                    CHECK_OK(vl_index_delete(h, 1, &ids[i], &nd));
                    CHECK(nd == 1);
                    if (i % 2) {      /* odd ones come back with v = 3 */
                        one[1] = t_rec_begin(rec);
                        one[1] = t_rec_i64(rec, one[1], (uint16_t)fv, 3);
                        CHECK_OK(vl_index_upsert(h, 1, &ids[i], x + (size_t)i * dim, rec, one));
                        val[i] = 3;
                    } else {
                        val[i] = -1;   /* stays deleted: never matches (-1 != 3) */
                    }
                }
            }
        }
        CHECK_OK(vl_index_clear(h));
        vl__test_filter_plan(2);
        uint64_t rid[K];
        float rd[K];
        uint32_t c = 9;
        CHECK_OK(vl_index_search(h, 1, qs, K, 64, f, fl, rid, rd, &c));
        CHECK(c == 0);
        CHECK_OK(vl_index_upsert(h, n, ids, x, meta, off));
        for (uint32_t i = 0; i < n; i++) keep[i] = i % 5 && i % 10 == 3;
        double r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, 20, 64, f, fl, &bad);
        CHECK(!bad && r == 1.0);
        vl__test_filter_plan(0);
        free(val); free(meta); free(off); free(keep); free(qs); free(x); free(ids);
        vl_index_free(h);
    }
    return 0;
}

/* ---- tombstone reclamation (index.c maybe_reclaim, hnsw.c vl__hnsw_reclaim) ----
 * Policy under test: after every write, tombstones <= max(live, 1024). */

static int nodes_bounded(vl_index *h)
{
    vl_stats st;
    if (vl_index_stats(h, &st)) return 0;
    uint64_t floor_ = st.live > 1024 ? st.live : 1024;
    if (st.nodes != st.live + st.tombstones || st.tombstones > floor_) {
        fprintf(stderr, "  nodes %llu live %llu tombstones %llu: over the reclamation bound\n",
                (unsigned long long)st.nodes, (unsigned long long)st.live,
                (unsigned long long)st.tombstones);
        return 0;
    }
    return 1;
}

/* 20 rounds of upserting every id with a new vector, then deleting 30% of
 * them: nodes stay within live + max(live, 1024) after every write, the
 * graph stays valid, recall against the oracle over the current vectors
 * stays >= 0.95, and the same seed and writes give the same results. */
int test_hnsw_reclaim_churn(void)
{
    const uint32_t n = 2000, dim = 16, rounds = 20;
    uint64_t *ids = seq_ids(n, 7);
    float *cur = t_alloc((size_t)n * dim * sizeof(float));
    uint8_t *keep = t_alloc(n);
    uint64_t *del = t_alloc(n * sizeof *del);
    vl_index *a = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 40, 4242);
    vl_index *b = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 40, 4242);
    CHECK(a && b);
    uint64_t s = 77;
    uint32_t got_a, got_b;
    for (uint32_t r = 0; r < rounds; r++) {
        float *x = t_clustered(n, dim, 20, SIGMA, 1000 + r);
        CHECK_RCH(a, vl_index_upsert(a, n, ids, x, NULL, NULL), VL_OK);
        CHECK_RCH(b, vl_index_upsert(b, n, ids, x, NULL, NULL), VL_OK);
        CHECK(nodes_bounded(a));
        memcpy(cur, x, (size_t)n * dim * sizeof(float));
        uint32_t nd = 0;
        for (uint32_t i = 0; i < n; i++) {
            keep[i] = t_unif(&s) >= 0.3;
            if (!keep[i]) del[nd++] = ids[i];
        }
        CHECK_OK(vl_index_delete(a, nd, del, &got_a));
        CHECK_OK(vl_index_delete(b, nd, del, &got_b));
        CHECK(got_a == nd && got_b == nd && vl_index_count(a) == n - nd);
        CHECK(nodes_bounded(a));
        CHECK_RCH(a, vl_index_check(a), VL_OK);
        free(x);
    }
    vl_stats sa, sb;
    CHECK_OK(vl_index_stats(a, &sa));
    CHECK_OK(vl_index_stats(b, &sb));
    printf("  after %u rounds: %llu live, %llu nodes, %llu reclaimed in %llu passes\n", rounds,
           (unsigned long long)sa.live, (unsigned long long)sa.nodes,
           (unsigned long long)sa.reclaimed, (unsigned long long)sa.reclaims);
    CHECK(sa.reclaims >= rounds / 2 && sa.reclaimed > (uint64_t)rounds / 2 * n);
    CHECK(sa.nodes <= 2 * sa.live);
    CHECK(sa.reclaimed == sb.reclaimed && sa.nodes == sb.nodes && sa.max_level == sb.max_level);
    /* every live id returns its latest vector */
    float v[16];
    for (uint32_t i = 0; i < n; i += 7) {
        int rc = vl_index_get(a, &ids[i], v, NULL, NULL);
        CHECK(rc == (keep[i] ? VL_OK : VL_ENOTFOUND));
        if (keep[i]) CHECK(memcmp(v, cur + (size_t)i * dim, sizeof v) == 0);
    }
    float *qs = t_queries(cur, n, dim, NQ, SIGMA, 4243);
    int bad;
    double r = recall_of(a, VL_METRIC_L2, cur, ids, keep, n, dim, qs, NQ, 64, NULL, 0, &bad);
    printf("  recall@10 ef=64 after churn: %.4f\n", r);
    CHECK(!bad);
    CHECK(r >= 0.95);
    CHECK(same_results(a, b, qs, NQ, 32));
    free(qs); free(cur); free(keep); free(del); free(ids);
    vl_index_free(a); vl_index_free(b);
    return 0;
}

/* The same 1000 ids upserted 20 times (with metadata, a filter column in
 * use): nodes never exceed live + 1024 (without reclamation they reach
 * 20,000), records and filter columns follow the compaction, and filtered
 * searches stay exact under the exact plan and correct under the graph. */
int test_hnsw_reclaim_same_ids(void)
{
    const uint32_t n = 1000, dim = 8, rounds = 20;
    uint64_t *ids = seq_ids(n, 3);
    vl_index *h = t_index(dim, VL_METRIC_COSINE, VL_INDEX_HNSW, 8, 40, 11);
    CHECK(h);
    uint32_t fb;
    CHECK_OK(vl_index_field(h, "bucket", 6, &fb));
    uint8_t *meta = t_alloc((size_t)n * 16);
    uint32_t *off = t_alloc((n + 1) * sizeof *off);
    uint8_t *keep = t_alloc(n);
    uint8_t f[16];
    uint32_t fl = f_eq_i64(f, (uint16_t)fb, 3);
    float *x = NULL;
    uint64_t rid[K];
    float rd[K];
    uint32_t c;
    for (uint32_t r = 0; r < rounds; r++) {
        free(x);
        x = t_clustered(n, dim, 10, SIGMA, 500 + r);
        off[0] = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len = t_rec_begin(meta + off[i]);
            len = t_rec_i64(meta + off[i], len, (uint16_t)fb, (i + r) % 10);
            off[i + 1] = off[i] + len;
            keep[i] = (i + r) % 10 == 3;
        }
        CHECK_RCH(h, vl_index_upsert(h, n, ids, x, meta, off), VL_OK);
        CHECK(nodes_bounded(h));
        CHECK_RCH(h, vl_index_check(h), VL_OK);     /* includes: filter columns agree with records */
        if (r == 0) CHECK_OK(vl_index_search(h, 1, x, K, 32, f, fl, rid, rd, &c));  /* builds the column */
    }
    vl_stats st;
    CHECK_OK(vl_index_stats(h, &st));
    printf("  %u upserts of %u ids: %llu nodes, %llu reclaimed\n", rounds, n,
           (unsigned long long)st.nodes, (unsigned long long)st.reclaimed);
    CHECK(st.live == n && st.nodes <= n + 1024 && st.reclaimed > 0);
    CHECK(st.reclaimed + st.nodes == (uint64_t)rounds * n);
    /* records moved with their nodes */
    for (uint32_t i = 0; i < n; i += 13) {
        const uint8_t *m;
        uint32_t ml;
        float v[8];
        CHECK_OK(vl_index_get(h, &ids[i], v, &m, &ml));
        CHECK(memcmp(v, x + (size_t)i * dim, sizeof v) == 0);
        CHECK(ml == off[i + 1] - off[i] && memcmp(m, meta + off[i], ml) == 0);
    }
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 12);
    uint64_t *qid = t_alloc((size_t)NQ * K * sizeof *qid);
    float *qd = t_alloc((size_t)NQ * K * sizeof *qd);
    uint32_t *qc = t_alloc(NQ * sizeof *qc);
    vl__test_filter_plan(2);                        /* exact: must equal the oracle */
    CHECK_OK(vl_index_search(h, NQ, qs, K, 0, f, fl, qid, qd, qc));
    for (uint32_t q = 0; q < NQ; q++)
        CHECK(t_match_oracle(VL_METRIC_COSINE, x, ids, keep, n, dim, qs + (size_t)q * dim, K,
                             qid + (size_t)q * K, qd + (size_t)q * K, qc[q]) == 0);
    vl__test_filter_plan(1);                        /* graph: only matching ids, good recall */
    int bad;
    double r = recall_of(h, VL_METRIC_COSINE, x, ids, keep, n, dim, qs, NQ, 64, f, fl, &bad);
    vl__test_filter_plan(0);
    printf("  filtered recall@10 (graph plan): %.4f\n", r);
    CHECK(!bad && r >= 0.9);
    r = recall_of(h, VL_METRIC_COSINE, x, ids, NULL, n, dim, qs, NQ, 64, NULL, 0, &bad);
    CHECK(!bad && r >= 0.95);
    free(qs); free(qid); free(qd); free(qc);
    free(x); free(meta); free(off); free(keep); free(ids);
    vl_index_free(h);
    return 0;
}

/* Out of memory during reclamation: the write that triggered it still
 * succeeds, the tombstones stay (index valid and unchanged by the failed
 * pass), and the next write reclaims them. */
int test_hnsw_reclaim_nomem(void)
{
    const uint32_t n = 1500, dim = 8;
    float *x = t_clustered(n, dim, 10, SIGMA, 61);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 62);
    uint64_t *ids = seq_ids(n, 1);
    int reclaimed_once = 0;
    for (int32_t k = 0; k < 64 && !reclaimed_once; k++) {
        vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 40, 5);
        CHECK(h);
        CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
        uint32_t got;
        CHECK_OK(vl_index_delete(h, 600, ids, &got));         /* 600 tombstones: under 1024 */
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.nodes == n && st.reclaims == 0);
        vl__test_alloc_fail_after(k);                         /* deletes allocate nothing else */
        int rc = vl_index_delete(h, 500, ids + 600, &got);    /* 1100 tombstones > 1024 */
        vl__test_alloc_fail_after(-1);
        CHECK_OK(rc);
        CHECK(got == 500 && vl_index_count(h) == n - 1100);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        CHECK_OK(vl_index_stats(h, &st));
        if (st.reclaims == 0) {
            CHECK(st.nodes == n && st.tombstones == 1100);    /* failed pass: nothing moved */
            /* the next write tries again */
            CHECK_OK(vl_index_delete(h, 1, ids + 1100, &got));
            CHECK_OK(vl_index_stats(h, &st));
        } else {
            reclaimed_once = 1;
        }
        CHECK(st.reclaims == 1 && st.tombstones == 0 && st.nodes == st.live);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        uint8_t *keep = t_alloc(n);
        for (uint32_t i = 0; i < n; i++) keep[i] = i >= 1100 + !reclaimed_once;
        int bad;
        double r = recall_of(h, VL_METRIC_L2, x, ids, keep, n, dim, qs, NQ, 64, NULL, 0, &bad);
        CHECK(!bad && r >= 0.95);
        free(keep);
        vl_index_free(h);
    }
    CHECK(reclaimed_once);
    free(x); free(qs); free(ids);
    return 0;
}

/* Reclamation split between the layers (hnsw.c compacts the graph and
 * hands back the old->new slot map, index.c applies it to vectors, norms,
 * ids, records, filter columns and the id map), through the public API
 * only: cosine (inverse norms move too), records with an i64, a string and
 * a bool field (some rows lack a field or have no record), three filter
 * columns built before the first pass. Rounds of upserts (new vector and
 * record; deleted ids come back) and deletes trigger several passes; after
 * each round, against a model of the live rows: every live id's vector and
 * record are exactly the model's, deleted ids are gone, each filter's full
 * match set (exact plan, k = n) is exactly the model's, top-K under the
 * exact plan equals the brute-force oracle (unfiltered via VL_F_TRUE, and
 * per filter), and the graph plan returns only matching ids with good
 * recall. */
static uint32_t reclaim_rec(uint8_t *r, uint32_t i, uint32_t ver, uint16_t fb, uint16_t fs,
                            uint16_t ff)
{
    if ((i + ver) % 9 == 0) return 0;               /* no record */
    uint32_t len = t_rec_begin(r);
    len = t_rec_i64(r, len, fb, (int64_t)((i * 7 + ver) % 10));
    if ((i + ver) % 4) len = t_rec_str(r, len, fs, VL_TAG_STR, (i + ver) % 3 ? "red" : "blue",
                                       (i + ver) % 3 ? 3 : 4);
    if ((i + ver) % 5) len = t_rec_bool(r, len, ff, (int)((i + ver) % 2));
    return len;
}

/* whether the model record matches filter `which`: 0 b == 3, 1 s == "red",
 * 2 f == true AND b < 5 */
static int reclaim_match(uint32_t len, uint32_t i, uint32_t ver, int which)
{
    if (len == 0) return 0;
    int64_t b = (int64_t)((i * 7 + ver) % 10);
    int has_s = (i + ver) % 4 != 0, red = (i + ver) % 3 != 0;
    int has_f = (i + ver) % 5 != 0, fv = (int)((i + ver) % 2);
    if (which == 0) return b == 3;
    if (which == 1) return has_s && red;
    return has_f && fv == 1 && b < 5;
}

int test_hnsw_reclaim_columns(void)
{
    const uint32_t n = 3000, dim = 8, nq = 30, rounds = 4;
    uint64_t *ids = seq_ids(n, 5);
    vl_index *h = t_index(dim, VL_METRIC_COSINE, VL_INDEX_HNSW, 8, 40, 99);
    CHECK(h);
    uint32_t fb, fs, ff;
    CHECK_OK(vl_index_field(h, "b", 1, &fb));
    CHECK_OK(vl_index_field(h, "s", 1, &fs));
    CHECK_OK(vl_index_field(h, "f", 1, &ff));
    /* filters: 0 b == 3; 1 s == "red"; 2 f == true AND b < 5; 3 TRUE */
    uint8_t flt[4][64];
    uint32_t fl[4];
    fl[0] = f_eq_i64(flt[0], (uint16_t)fb, 3);
    flt[1][0] = VL_F_CMP; flt[1][1] = VL_CMP_EQ; t_put16(flt[1] + 2, (uint16_t)fs);
    flt[1][4] = VL_TAG_STR; t_put32(flt[1] + 5, 3); memcpy(flt[1] + 9, "red", 3); fl[1] = 12;
    flt[2][0] = VL_F_AND; t_put16(flt[2] + 1, 2);
    flt[2][3] = VL_F_CMP; flt[2][4] = VL_CMP_EQ; t_put16(flt[2] + 5, (uint16_t)ff);
    flt[2][7] = VL_TAG_BOOL; flt[2][8] = 1;
    flt[2][9] = VL_F_CMP; flt[2][10] = VL_CMP_LT; t_put16(flt[2] + 11, (uint16_t)fb);
    flt[2][13] = VL_TAG_I64; t_put64(flt[2] + 14, 5); fl[2] = 22;
    flt[3][0] = VL_F_TRUE; fl[3] = 1;

    /* the model: current vector, record version, liveness of every id */
    float *x = t_clustered(n, dim, 12, SIGMA, 301);
    uint32_t *ver = t_alloc(n * sizeof *ver);
    uint8_t *live = t_alloc(n), *keep = t_alloc(n);
    uint8_t *meta = t_alloc((size_t)n * 64);
    uint32_t *off = t_alloc((n + 1) * sizeof *off);
    uint64_t *sel = t_alloc(n * sizeof *sel), *got = t_alloc(n * sizeof *got);
    float *gd = t_alloc(n * sizeof *gd), *row = t_alloc(n * dim * sizeof *row);
    uint8_t rec[64];
    off[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        ver[i] = 0; live[i] = 1;
        off[i + 1] = off[i] + reclaim_rec(meta + off[i], i, 0, (uint16_t)fb, (uint16_t)fs, (uint16_t)ff);
    }
    CHECK_RCH(h, vl_index_upsert(h, n, ids, x, meta, off), VL_OK);
    vl__test_filter_plan(2);
    for (int w = 0; w < 3; w++) {                   /* builds the three columns */
        uint32_t c;
        CHECK_OK(vl_index_search(h, 1, x, K, 32, flt[w], fl[w], got, gd, &c));
    }
    uint64_t s = 4711;
    uint64_t passes = 0;
    for (uint32_t r = 1; r <= rounds; r++) {
        /* 400 upserts of random ids (live or deleted) with a new vector and record */
        float *nx = t_clustered(400, dim, 12, SIGMA, 400 + r);
        uint32_t nu = 0;
        uint32_t uoff[401];
        uint8_t *umeta = t_alloc(400 * 64);
        uoff[0] = 0;
        for (uint32_t j = 0; j < 400; j++) {
            uint32_t i = (uint32_t)(t_rand(&s) % n), dup = 0;
            for (uint32_t a = 0; a < nu; a++) if (sel[a] == ids[i]) dup = 1;
            if (dup) continue;
            ver[i] = r; live[i] = 1;
            memcpy(x + (size_t)i * dim, nx + (size_t)j * dim, dim * sizeof(float));
            memcpy(row + (size_t)nu * dim, nx + (size_t)j * dim, dim * sizeof(float));
            uoff[nu + 1] = uoff[nu] + reclaim_rec(umeta + uoff[nu], i, r, (uint16_t)fb, (uint16_t)fs, (uint16_t)ff);
            sel[nu++] = ids[i];
        }
        CHECK_RCH(h, vl_index_upsert(h, nu, sel, row, umeta, uoff), VL_OK);
        free(nx); free(umeta);
        /* delete about half of the live ids */
        uint32_t nd = 0, gotd;
        for (uint32_t i = 0; i < n; i++)
            if (live[i] && t_unif(&s) < 0.5) { sel[nd++] = ids[i]; live[i] = 0; }
        CHECK_OK(vl_index_delete(h, nd, sel, &gotd));
        CHECK(gotd == nd);
        CHECK(nodes_bounded(h));
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        passes = st.reclaims;
        uint32_t nlive = 0;
        for (uint32_t i = 0; i < n; i++) nlive += live[i];
        CHECK(st.live == nlive && vl_index_count(h) == nlive);
        /* vectors and records of every id */
        for (uint32_t i = 0; i < n; i++) {
            float v[8];
            const uint8_t *m;
            uint32_t ml;
            int rc = vl_index_get(h, &ids[i], v, &m, &ml);
            CHECK(rc == (live[i] ? VL_OK : VL_ENOTFOUND));
            if (!live[i]) continue;
            CHECK(memcmp(v, x + (size_t)i * dim, sizeof v) == 0);
            uint32_t el = reclaim_rec(rec, i, ver[i], (uint16_t)fb, (uint16_t)fs, (uint16_t)ff);
            CHECK(ml == el && (el == 0 || memcmp(m, rec, el) == 0));
        }
        float *qs = t_queries(x, n, dim, nq, SIGMA, 500 + r);
        for (int w = 0; w < 4; w++) {
            uint32_t want = 0;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t el = live[i] ? reclaim_rec(rec, i, ver[i], (uint16_t)fb, (uint16_t)fs, (uint16_t)ff) : 0;
                keep[i] = live[i] && (w == 3 || reclaim_match(el, i, ver[i], w));
                want += keep[i];
            }
            /* the full match set, exact plan: exactly the model's */
            vl__test_filter_plan(2);
            uint32_t c;
            CHECK_OK(vl_index_search(h, 1, qs, n, 0, flt[w], fl[w], got, gd, &c));
            CHECK(c == want);
            for (uint32_t a = 0; a < c; a++) {
                uint64_t id = got[a];
                CHECK(id >= 1000 && (id - 1000) % 5 == 0 && (id - 1000) / 5 < n);
                CHECK(keep[(id - 1000) / 5]);
            }
            /* top-K, exact plan: the oracle's */
            uint64_t qid[K];
            float qd[K];
            for (uint32_t q = 0; q < nq; q++) {
                CHECK_OK(vl_index_search(h, 1, qs + (size_t)q * dim, K, 0, flt[w], fl[w], qid, qd, &c));
                CHECK(t_match_oracle(VL_METRIC_COSINE, x, ids, keep, n, dim, qs + (size_t)q * dim, K,
                                     qid, qd, c) == 0);
            }
            /* graph plan: only matching ids, true distances, good recall */
            vl__test_filter_plan(w == 3 ? 0 : 1);
            int bad;
            double rr = recall_of(h, VL_METRIC_COSINE, x, ids, keep, n, dim, qs, nq, 64,
                                  w == 3 ? NULL : flt[w], w == 3 ? 0 : fl[w], &bad);
            CHECK(!bad);
            if (rr < 0.9) {
                fprintf(stderr, "  round %u filter %d: recall %.3f\n", r, w, rr);
                return 1;
            }
        }
        vl__test_filter_plan(0);
        free(qs);
    }
    printf("  %u rounds: %llu reclamation passes\n", rounds, (unsigned long long)passes);
    CHECK(passes >= 2);
    free(x); free(ver); free(live); free(keep); free(meta); free(off); free(sel); free(got);
    free(gd); free(row); free(ids);
    vl_index_free(h);
    return 0;
}
