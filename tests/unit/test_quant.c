/*
 * test_quant.c — quantization (src/quant.c, src/index_quant.c,
 * src/store_quant.c): the integer kernels against their scalar forms, code
 * error bounds, seeded training, the parameters' bytes against corruption,
 * quantized indexes against the brute-force oracle (recall, exact re-ranked
 * distances, rows through the row source), and a quantized store reopened
 * from its file without training again.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "../../src/quant.h"
#include "../../src/io.h"

#define SIGMA 0.08
#define NQ 60
#define K 10

/* the row source: rows of x, id = row + 1 */
typedef struct rows_src { const float *x; uint32_t n, dim; uint32_t calls; } rows_src;
static int fetch(void *ctx, uint32_t n, const uint64_t *ids, float *out)
{
    rows_src *r = ctx;
    r->calls++;
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == 0 || ids[i] > r->n) return VL_ENOTFOUND;
        memcpy(out + (size_t)i * r->dim, r->x + (size_t)(ids[i] - 1) * r->dim, r->dim * sizeof(float));
    }
    return VL_OK;
}

int test_quant_kernels(void)
{
    uint64_t s = 11;
    int16_t a[300];
    uint8_t c[300];
    for (int rep = 0; rep < 200; rep++) {
        uint32_t n = 1 + (uint32_t)(t_rand(&s) % 300);
        for (uint32_t i = 0; i < n; i++) {
            int edge = t_rand(&s) % 8 == 0;
            a[i] = (int16_t)(edge ? (t_rand(&s) & 1 ? 1279 : -1024) : (int)(t_rand(&s) % 2304) - 1024);
            c[i] = (uint8_t)(edge ? 255 : t_rand(&s) % 256);
        }
        int64_t l2 = 0, dot = 0;
        for (uint32_t i = 0; i < n; i++) { int64_t d = a[i] - c[i]; l2 += d * d; dot += (int64_t)a[i] * c[i]; }
        CHECK(vl_sq_l2_scalar(a, c, n) == l2);
        CHECK(vl_sq_l2(a, c, n) == l2);           /* the build's (SIMD) kernel: the same integer */
        for (uint32_t i = 0; i < n; i++) a[i] = (int16_t)((int)(t_rand(&s) % 4095) - 2047);
        dot = 0;
        for (uint32_t i = 0; i < n; i++) dot += (int64_t)a[i] * c[i];
        CHECK(vl_sq_dot_scalar(a, c, n) == dot);
        CHECK(vl_sq_dot(a, c, n) == dot);
    }
    return 0;
}

int test_quant_codes(void)
{
    const uint32_t n = 2000, dim = 37;                   /* codes padded to 40 bytes */
    float *x = t_clustered(n, dim, 10, 0.2, 5), scratch[37];
    vl_quant q;
    CHECK_OK(vl_quant_train(&q, VL_QUANT_SCALAR, VL_METRIC_L2, dim, 0, n, x, 1));
    CHECK(q.code_size == 40 && q.step > 0.f);
    uint8_t code[48];
    float back[40];
    for (uint32_t r = 0; r < n; r += 7) {
        vl_quant_encode_buf(&q, x + (size_t)r * dim, code, scratch);
        CHECK(code[37] == 0 && code[38] == 0 && code[39] == 0);   /* the padding adds nothing */   /* every training row is inside the grid: error <= step/2 */
        vl_quant_encode_buf(&q, x + (size_t)r * dim, code, scratch);
        vl_quant_decode(&q, code, back);
        for (uint32_t d = 0; d < dim; d++) CHECK(fabsf(back[d] - x[(size_t)r * dim + d]) <= q.step * 0.5f + 1e-6f);
    }
    /* the integer distance is the squared distance on the grid */
    vl_qquery qq;
    memset(&qq, 0, sizeof qq);
    CHECK_OK(vl_quant_query(&q, x, &qq));
    for (uint32_t r = 1; r < 50; r++) {
        vl_quant_encode_buf(&q, x + (size_t)r * dim, code, scratch);
        vl_quant_decode(&q, code, back);
        float approx = vl_quant_dist(&q, &qq, code);
        double truth = t_dist(VL_METRIC_L2, x, x + (size_t)r * dim, dim);
        truth *= truth;
        CHECK(fabs(approx - truth) <= 0.05 * truth + 4.0 * dim * q.step * q.step);
    }
    /* saved, loaded: the same bytes; any damage is ECORRUPT */
    uint64_t len = vl_quant_save_len(&q), used;
    uint8_t *b = t_alloc(len), *b2 = t_alloc(len);
    vl_quant_save(&q, b);
    vl_quant q2;
    char why[160];
    CHECK_OK(vl_quant_load(&q2, b, len, VL_METRIC_L2, dim, &used, why, sizeof why));
    CHECK(used == len);
    vl_quant_save(&q2, b2);
    CHECK(memcmp(b, b2, len) == 0);
    vl_quant_free(&q2);
    CHECK_RC(vl_quant_load(&q2, b, len - 1, VL_METRIC_L2, dim, &used, why, sizeof why), VL_ECORRUPT);
    CHECK_RC(vl_quant_load(&q2, b, len, VL_METRIC_COSINE, dim, &used, why, sizeof why), VL_ECORRUPT);
    memcpy(b2, b, len);
    b2[16] = 0; b2[17] = 0; b2[18] = 0xc0; b2[19] = 0x7f;         /* step = NaN */
    CHECK_RC(vl_quant_load(&q2, b2, len, VL_METRIC_L2, dim, &used, why, sizeof why), VL_ECORRUPT);
    memcpy(b2, b, len);
    b2[0] = 9;
    CHECK_RC(vl_quant_load(&q2, b2, len, VL_METRIC_L2, dim, &used, why, sizeof why), VL_ECORRUPT);
    free(b); free(b2);
    vl_qquery_free(&qq);
    vl_quant_free(&q);
    free(x);
    return 0;
}

int test_quant_pq_train(void)
{
    const uint32_t n = 1500, dim = 20;
    float *x = t_clustered(n, dim, 30, 0.05, 9), scratch[20];
    vl_quant a, b;
    CHECK_OK(vl_quant_train(&a, VL_QUANT_PRODUCT, VL_METRIC_L2, dim, 5, n, x, 3));
    CHECK_OK(vl_quant_train(&b, VL_QUANT_PRODUCT, VL_METRIC_L2, dim, 5, n, x, 3));
    CHECK(a.m == 5 && a.code_size == 5);
    uint64_t len = vl_quant_save_len(&a);
    uint8_t *ba = t_alloc(len), *bb = t_alloc(len);
    vl_quant_save(&a, ba);
    vl_quant_save(&b, bb);
    CHECK(memcmp(ba, bb, len) == 0);                          /* seeded: reproducible */
    /* k-means beats the initial centroids: mean quantization error well
     * below the spread of the data */
    double err = 0, spread = 0;
    uint8_t code[5];
    float back[20];
    for (uint32_t r = 0; r < n; r++) {
        vl_quant_encode_buf(&a, x + (size_t)r * dim, code, scratch);
        vl_quant_decode(&a, code, back);
        for (uint32_t d = 0; d < dim; d++) {
            double e = back[d] - x[(size_t)r * dim + d], v = x[(size_t)r * dim + d] - x[d];
            err += e * e; spread += v * v;
        }
    }
    CHECK(err < 0.1 * spread);
    /* the ADC table's distance is the distance to the decoded vector */
    vl_qquery qq;
    memset(&qq, 0, sizeof qq);
    CHECK_OK(vl_quant_query(&a, x + dim, &qq));
    vl_quant_encode_buf(&a, x + 5 * dim, code, scratch);
    vl_quant_decode(&a, code, back);
    double want = 0;
    for (uint32_t d = 0; d < dim; d++) { double e = (double)x[dim + d] - back[d]; want += e * e; }
    CHECK(fabs(vl_quant_dist(&a, &qq, code) - want) <= 1e-4 * (want + 1));
    /* bad sub-vector counts */
    vl_quant c;
    CHECK_RC(vl_quant_train(&c, VL_QUANT_PRODUCT, VL_METRIC_L2, dim, dim + 1, n, x, 3), VL_EINVAL);
    uint64_t used;
    char why[160];
    ba[8] = 0;                                                  /* m = 0 */
    CHECK_RC(vl_quant_load(&c, ba, len, VL_METRIC_L2, dim, &used, why, sizeof why), VL_ECORRUPT);
    free(ba); free(bb);
    vl_qquery_free(&qq);
    vl_quant_free(&a); vl_quant_free(&b);
    free(x);
    return 0;
}

/* recall@K of h against the brute-force oracle, and exact distances */
static double quant_recall(vl_index *h, uint32_t metric, const float *x, const uint64_t *ids, uint32_t n,
                           uint32_t dim, const float *qs, uint32_t ef, int *bad)
{
    uint64_t got[K];
    float gd[K];
    uint32_t cnt, rows[K];
    double sum = 0, od[K];
    *bad = 0;
    for (uint32_t qi = 0; qi < NQ; qi++) {
        const float *q = qs + (size_t)qi * dim;
        if (vl_index_search(h, 1, q, K, ef, NULL, 0, got, gd, &cnt) != VL_OK || cnt != K) { *bad = 1; return 0; }
        uint32_t w = t_oracle(metric, x, ids, NULL, n, dim, q, K, rows, od);
        uint64_t want[K];
        for (uint32_t i = 0; i < w; i++) want[i] = ids[rows[i]];
        sum += t_recall(got, cnt, want, w);
        for (uint32_t i = 0; i < cnt; i++) {        /* re-ranked: every reported distance is exact */
            double truth = t_dist(metric, q, x + (size_t)(got[i] - 1) * dim, dim);
            if (fabs(truth - gd[i]) > 1e-4 * (fabs(truth) + 1)) {
                fprintf(stderr, "  id %llu distance %g, exact %g\n", (unsigned long long)got[i], gd[i], truth);
                *bad = 1;
            }
            if (i && gd[i] < gd[i - 1]) *bad = 1;
        }
    }
    return sum / NQ;
}

int test_quant_index(void)
{
    const uint32_t n = 3000, dim = 32;
    for (uint32_t kind = VL_QUANT_SCALAR; kind <= VL_QUANT_PRODUCT; kind++) {
        for (uint32_t metric = VL_METRIC_L2; metric <= VL_METRIC_COSINE; metric++) {
            float *x = t_clustered(n + 500, dim, 40, SIGMA, 100 + metric);
            float *qs = t_queries(x, n, dim, NQ, SIGMA, 200 + metric);
            uint64_t *ids = t_alloc((size_t)(n + 500) * sizeof *ids);
            for (uint32_t i = 0; i < n + 500; i++) ids[i] = i + 1;
            vl_index *h = t_index(dim, metric, VL_INDEX_HNSW, 16, 100, 5);
            CHECK(h);
            rows_src src = { x, n + 500, dim, 0 };
            CHECK_RCH(h, vl_index_set_quant(h, kind, 0), VL_OK);
            vl_quant_info qi;
            CHECK_OK(vl_index_quant_info(h, &qi));
            CHECK(qi.kind == kind && !qi.trained);
            /* 1,000 rows: not yet trained (float rows, exact) */
            CHECK_RCH(h, vl_index_upsert(h, 1000, ids, x, NULL, NULL), VL_OK);
            CHECK_OK(vl_index_quant_info(h, &qi));
            CHECK(!qi.trained);
            CHECK_RCH(h, vl_index_upsert(h, n - 1000, ids + 1000, x + (size_t)1000 * dim, NULL, NULL), VL_OK);
            CHECK_OK(vl_index_quant_info(h, &qi));
            CHECK(qi.trained && qi.trained_on == n);
            CHECK(qi.code_bytes == (kind == VL_QUANT_SCALAR ? ((dim + 7) & ~7u) : vl_quant_default_m(dim)));
            CHECK_RCH(h, vl_index_check(h), VL_OK);
            vl_stats st;
            CHECK_OK(vl_index_stats(h, &st));
            CHECK(st.vector_bytes == (uint64_t)n * qi.code_bytes + qi.table_bytes);
            /* without a row source: approximate answers, no float rows */
            float v[32];
            CHECK_RCH(h, vl_index_get(h, &ids[3], v, NULL, NULL), VL_EINVAL);
            vl_index_set_rows(h, fetch, &src);
            CHECK_OK(vl_index_get(h, &ids[3], v, NULL, NULL));
            CHECK(memcmp(v, x + 3 * dim, sizeof v) == 0);
            int bad;
            double r = quant_recall(h, metric, x, ids, n, dim, qs, 100, &bad);
            printf("  %s %s recall@10 ef=100: %.4f\n", kind == VL_QUANT_SCALAR ? "scalar" : "product",
                   metric == VL_METRIC_L2 ? "l2" : metric == VL_METRIC_DOT ? "dot" : "cosine", r);
            CHECK(!bad);
            CHECK(r >= (kind == VL_QUANT_SCALAR ? 0.97 : 0.85));
            /* rows after training are encoded and linked over codes */
            CHECK_RCH(h, vl_index_upsert(h, 500, ids + n, x + (size_t)n * dim, NULL, NULL), VL_OK);
            CHECK_RCH(h, vl_index_check(h), VL_OK);
            double r2 = quant_recall(h, metric, x, ids, n + 500, dim, qs, 100, &bad);
            CHECK(!bad);
            CHECK(r2 >= r - 0.05);
            /* tombstones reclaimed over codes */
            uint32_t del;
            CHECK_OK(vl_index_delete(h, 2000, ids, &del));
            CHECK(del == 2000);
            CHECK_RCH(h, vl_index_check(h), VL_OK);
            CHECK_OK(vl_index_stats(h, &st));
            CHECK(st.live == n + 500 - 2000);
            uint64_t got[K];
            float gd[K];
            uint32_t cnt;
            CHECK_OK(vl_index_search(h, 1, x + (size_t)2500 * dim, K, 64, NULL, 0, got, gd, &cnt));
            CHECK(cnt == K && got[0] == 2501 && gd[0] < 1e-3f);
            /* quantization is chosen before the first row */
            CHECK_RCH(h, vl_index_set_quant(h, VL_QUANT_NONE, 0), VL_EINVAL);
            free(x); free(qs); free(ids);
            vl_index_free(h);
        }
    }
    vl_index *f = t_index(8, VL_METRIC_L2, VL_INDEX_FLAT, 16, 100, 5);
    CHECK_RCH(f, vl_index_set_quant(f, VL_QUANT_SCALAR, 0), VL_EINVAL);
    vl_index_free(f);
    return 0;
}

static const uint8_t QFID[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };

static int open_mem(const uint8_t *b, uint64_t len, vl_io **io, vl_store **s, const vl_config *c)
{
    char m[256];
    CHECK_OK(vl_io_mem_open(b, len, io));
    int rc = vl_store_open(*io, c, c ? VL_STORE_CREATE : 0, QFID, s, m, sizeof m);
    if (rc) fprintf(stderr, "  open: %s\n", m);
    CHECK_OK(rc);
    return 0;
}

int test_quant_store(void)
{
    const uint32_t n = 2500, dim = 24;
    float *x = t_clustered(n, dim, 30, SIGMA, 77);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 78);
    uint64_t *ids = t_alloc((size_t)n * sizeof *ids);
    for (uint32_t i = 0; i < n; i++) ids[i] = i + 1;
    for (uint32_t kind = VL_QUANT_SCALAR; kind <= VL_QUANT_PRODUCT; kind++) {
        vl_config c;
        memset(&c, 0, sizeof c);
        c.dim = dim; c.metric = VL_METRIC_L2; c.kind = VL_INDEX_HNSW; c.m = 12; c.ef_construction = 100; c.seed = 3;
        vl_io *io;
        vl_store *s;
        if (open_mem(NULL, 0, &io, &s, &c)) return 1;
        CHECK_OK(vl_store_set_quant(s, kind, 0));
        CHECK_OK(vl_store_upsert(s, n, ids, x, NULL, NULL));
        CHECK_RC(vl_store_set_quant(s, VL_QUANT_NONE, 0), VL_EINVAL);      /* it holds rows */
        vl_index *h = vl_store_index(s);
        vl_quant_info qi;
        CHECK_OK(vl_index_quant_info(h, &qi));
        CHECK(qi.trained && qi.trained_on == n);
        int bad;
        double r = quant_recall(h, VL_METRIC_L2, x, ids, n, dim, qs, 100, &bad);
        CHECK(!bad && r >= (kind == VL_QUANT_SCALAR ? 0.97 : 0.85));
        float v[24];
        CHECK_OK(vl_index_get(h, &ids[100], v, NULL, NULL));            /* read from the store's bytes */
        CHECK(memcmp(v, x + 100 * dim, sizeof v) == 0);
        uint64_t g1[NQ * K];
        float d1[NQ * K];
        uint32_t c1[NQ];
        CHECK_OK(vl_index_search(h, NQ, qs, K, 100, NULL, 0, g1, d1, c1));
        /* a crash before any checkpoint: no QUANT, the reopen trains again */
        uint64_t len;
        const uint8_t *b = vl_io_mem_data(io, &len);
        vl_io *io2;
        vl_store *s2;
        if (open_mem(b, len, &io2, &s2, NULL)) return 1;
        CHECK_OK(vl_index_quant_info(vl_store_index(s2), &qi));
        CHECK(qi.trained && qi.trained_on == n);
        CHECK_OK(vl_store_close(s2));
        vl_io_mem_free(io2);
        /* close checkpoints (the quantizer is not in the file yet): the reopen adopts it */
        CHECK_OK(vl_store_close(s));
        b = vl_io_mem_data(io, &len);
        if (open_mem(b, len, &io2, &s2, NULL)) return 1;
        h = vl_store_index(s2);
        CHECK_OK(vl_index_quant_info(h, &qi));
        CHECK(qi.trained && qi.trained_on == 0 && qi.kind == kind);
        uint64_t g2[NQ * K];
        float d2[NQ * K];
        uint32_t c2[NQ];
        CHECK_OK(vl_index_search(h, NQ, qs, K, 100, NULL, 0, g2, d2, c2));
        CHECK(memcmp(c1, c2, sizeof c1) == 0 && memcmp(g1, g2, sizeof g1) == 0 && memcmp(d1, d2, sizeof d1) == 0);
        /* rows after the QUANT are encoded at open; compaction rewrites the codes */
        CHECK_OK(vl_store_upsert(s2, 1, &ids[7], x + (size_t)9 * dim, NULL, NULL));   /* id 8 gets row 9's vector */
        uint64_t got[K];
        float gd[K];
        uint32_t cnt;
        CHECK_OK(vl_index_search(h, 1, x + (size_t)9 * dim, 2, 64, NULL, 0, got, gd, &cnt));
        CHECK(cnt == 2 && gd[0] == 0.f && gd[1] == 0.f);
        vl_io *io3 = NULL;
        CHECK_OK(vl_io_mem_open(NULL, 0, &io3));
        CHECK_OK(vl_store_compact(s2, io3));
        CHECK_OK(vl_index_check(vl_store_index(s2)));
        CHECK_OK(vl_store_close(s2));
        b = vl_io_mem_data(io3, &len);
        vl_io *io4;
        vl_store *s4;
        if (open_mem(b, len, &io4, &s4, NULL)) return 1;
        CHECK_OK(vl_index_quant_info(vl_store_index(s4), &qi));
        CHECK(qi.trained && qi.trained_on == 0);
        CHECK_OK(vl_index_search(vl_store_index(s4), 1, x + (size_t)9 * dim, 2, 64, NULL, 0, got, gd, &cnt));
        CHECK(cnt == 2 && gd[0] == 0.f && gd[1] == 0.f && (got[0] == 8 || got[1] == 8));
        CHECK_OK(vl_store_close(s4));
        vl_io_mem_free(io4);
        vl_io_mem_free(io3);
        vl_io_mem_free(io2);
        vl_io_mem_free(io);
    }
    free(x); free(qs); free(ids);
    return 0;
}

/* A read-only quantized store whose file was replaced (the writer compacted):
 * vl_store_refresh reloads it, swapping the handle's contents with a fresh
 * open. The index's row source (re-rank and get read float32 rows through
 * it) must point at the handle, not at the swapped-out store that the reload
 * frees: searches and gets after the reload read the file (ASan flagged the
 * freed store; in the wasm build a search failed "reading float32 rows to
 * re-rank: not found" or never returned). Found by tests/js/model.test.js. */
int test_quant_refresh_reload(void)
{
    const uint32_t n = 1100, dim = 8;
    float *x = t_clustered(n, dim, 20, SIGMA, 91);
    float *qs = t_queries(x, n, dim, NQ, SIGMA, 92);
    uint64_t *ids = t_alloc((size_t)n * sizeof *ids);
    for (uint32_t i = 0; i < n; i++) ids[i] = i + 1;
    vl_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim; c.metric = VL_METRIC_L2; c.kind = VL_INDEX_HNSW; c.m = 12; c.ef_construction = 100; c.seed = 3;
    vl_io *io;
    vl_store *w, *r, *f;
    char m[256];
    if (open_mem(NULL, 0, &io, &w, &c)) return 1;
    CHECK_OK(vl_store_set_quant(w, VL_QUANT_SCALAR, 0));
    CHECK_OK(vl_store_upsert(w, n, ids, x, NULL, NULL));
    uint32_t nd;
    CHECK_OK(vl_store_delete(w, 300, ids, &nd));
    CHECK_OK(vl_store_open(io, NULL, VL_STORE_READONLY, NULL, &r, m, sizeof m));
    /* the writer compacts; the file is replaced by the image */
    vl_io *dst;
    CHECK_OK(vl_io_mem_open(NULL, 0, &dst));
    CHECK_OK(vl_store_compact(w, dst));
    uint64_t len;
    const uint8_t *b = vl_io_mem_data(dst, &len);
    CHECK_OK(io->truncate(io->ctx, 0));
    CHECK_OK(io->append(io->ctx, b, (uint32_t)len));
    vl_store_refresh_result res;
    CHECK_OK(vl_store_refresh(r, &res));
    CHECK(res.status == VL_REFRESH_RELOADED);
    /* answers equal a fresh read-only open of the same bytes */
    CHECK_OK(vl_store_open(io, NULL, VL_STORE_READONLY, NULL, &f, m, sizeof m));
    uint64_t g1[NQ * K], g2[NQ * K];
    float d1[NQ * K], d2[NQ * K];
    uint32_t c1[NQ], c2[NQ];
    CHECK_OK(vl_index_search(vl_store_index(r), NQ, qs, K, 100, NULL, 0, g1, d1, c1));
    CHECK_OK(vl_index_search(vl_store_index(f), NQ, qs, K, 100, NULL, 0, g2, d2, c2));
    CHECK(memcmp(c1, c2, sizeof c1) == 0 && memcmp(d1, d2, sizeof d1) == 0);
    float v[8];
    CHECK_OK(vl_index_get(vl_store_index(r), &ids[500], v, NULL, NULL));
    CHECK(memcmp(v, x + (size_t)500 * dim, sizeof v) == 0);
    CHECK_OK(vl_store_close(f));
    CHECK_OK(vl_store_close(r));
    CHECK_OK(vl_store_close(w));
    vl_io_mem_free(dst);
    vl_io_mem_free(io);
    free(x);
    free(qs);
    free(ids);
    return 0;
}
