/*
 * helpers.c — deterministic data generators, the brute-force oracle over the
 * f64 _accurate kernels, recall, and a metadata record builder for tests.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

uint64_t t_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double t_unif(uint64_t *s) { return (double)(t_rand(s) >> 11) * 0x1.0p-53; }

double t_gauss(uint64_t *s)
{
    double u = t_unif(s), v = t_unif(s);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

void *t_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) { fprintf(stderr, "test allocation of %zu bytes failed\n", n); abort(); }
    return p;
}

float *t_clustered(uint32_t n, uint32_t dim, uint32_t clusters, double sigma, uint64_t seed)
{
    uint64_t s = seed;
    float *c = t_alloc((size_t)clusters * dim * sizeof(float));
    for (size_t i = 0; i < (size_t)clusters * dim; i++) c[i] = (float)(t_unif(&s) * 2 - 1);
    float *x = t_alloc((size_t)n * dim * sizeof(float));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(t_rand(&s) % clusters);
        for (uint32_t j = 0; j < dim; j++)
            x[(size_t)i * dim + j] = c[(size_t)k * dim + j] + (float)(sigma * t_gauss(&s));
    }
    free(c);
    return x;
}

float *t_queries(const float *x, uint32_t n, uint32_t dim, uint32_t nq, double noise,
                 uint64_t seed)
{
    uint64_t s = seed;
    float *q = t_alloc((size_t)nq * dim * sizeof(float));
    for (uint32_t i = 0; i < nq; i++) {
        const float *r = x + (size_t)(t_rand(&s) % n) * dim;
        for (uint32_t j = 0; j < dim; j++) q[(size_t)i * dim + j] = r[j] + (float)(noise * t_gauss(&s));
    }
    return q;
}

double t_dist(uint32_t metric, const float *a, const float *b, uint32_t dim)
{
    if (metric == VL_METRIC_L2) return sqrt(vl_dist_l2sq_accurate(a, b, dim));
    if (metric == VL_METRIC_DOT) return -vl_dist_dot_accurate(a, b, dim);
    return vl_dist_cos_accurate(a, b, dim);
}

uint32_t t_oracle(uint32_t metric, const float *data, const uint64_t *ids, const uint8_t *keep,
                  uint32_t n, uint32_t dim, const float *q, uint32_t k, uint32_t *rows_out,
                  double *dist_out)
{
    /* simple insertion into a sorted array of size <= k */
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        double d = t_dist(metric, data + (size_t)i * dim, q, dim);
        uint64_t id = ids ? ids[i] : i;
        if (cnt == k) {
            uint64_t lid = ids ? ids[rows_out[k - 1]] : rows_out[k - 1];
            if (d > dist_out[k - 1] || (d == dist_out[k - 1] && id > lid)) continue;
            cnt--;
        }
        uint32_t j = cnt++;
        while (j > 0) {
            uint64_t pid = ids ? ids[rows_out[j - 1]] : rows_out[j - 1];
            if (dist_out[j - 1] < d || (dist_out[j - 1] == d && pid < id)) break;
            rows_out[j] = rows_out[j - 1];
            dist_out[j] = dist_out[j - 1];
            j--;
        }
        rows_out[j] = i;
        dist_out[j] = d;
    }
    return cnt;
}

double t_recall(const uint64_t *got, uint32_t got_n, const uint64_t *want, uint32_t want_n)
{
    if (want_n == 0) return 1.0;
    uint32_t hit = 0;
    for (uint32_t i = 0; i < want_n; i++)
        for (uint32_t j = 0; j < got_n; j++)
            if (got[j] == want[i]) { hit++; break; }
    return (double)hit / want_n;
}

vl_index *t_index(uint32_t dim, uint32_t metric, uint32_t kind, uint32_t m, uint32_t efc,
                  uint64_t seed)
{
    vl_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim; c.metric = metric; c.kind = kind; c.m = m; c.ef_construction = efc;
    c.seed = seed;
    vl_index *h = NULL;
    int rc = vl_index_new(&c, &h);
    if (rc) fprintf(stderr, "vl_index_new: %s\n", vl_errstr(rc));
    return h;
}

void t_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
void t_put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
void t_put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

uint32_t t_rec_begin(uint8_t *buf) { t_put16(buf, 0); return 2; }

static uint32_t field_head(uint8_t *buf, uint32_t len, uint16_t fid, uint8_t tag)
{
    uint16_t nf = (uint16_t)(buf[0] | (buf[1] << 8));
    t_put16(buf, (uint16_t)(nf + 1));
    t_put16(buf + len, fid);
    buf[len + 2] = tag;
    return len + 3;
}

uint32_t t_rec_i64(uint8_t *buf, uint32_t len, uint16_t fid, int64_t v)
{
    len = field_head(buf, len, fid, VL_TAG_I64);
    t_put64(buf + len, (uint64_t)v);
    return len + 8;
}

uint32_t t_rec_u64(uint8_t *buf, uint32_t len, uint16_t fid, uint64_t v)
{
    len = field_head(buf, len, fid, VL_TAG_U64);
    t_put64(buf + len, v);
    return len + 8;
}

uint32_t t_rec_f64(uint8_t *buf, uint32_t len, uint16_t fid, double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    len = field_head(buf, len, fid, VL_TAG_F64);
    t_put64(buf + len, b);
    return len + 8;
}

uint32_t t_rec_str(uint8_t *buf, uint32_t len, uint16_t fid, uint8_t tag, const char *s,
                   uint32_t slen)
{
    len = field_head(buf, len, fid, tag);
    t_put32(buf + len, slen);
    memcpy(buf + len + 4, s, slen);
    return len + 4 + slen;
}

uint32_t t_rec_bool(uint8_t *buf, uint32_t len, uint16_t fid, int v)
{
    len = field_head(buf, len, fid, VL_TAG_BOOL);
    buf[len] = (uint8_t)(v != 0);
    return len + 1;
}

uint32_t t_rec_null(uint8_t *buf, uint32_t len, uint16_t fid)
{
    return field_head(buf, len, fid, VL_TAG_NULL);
}

int t_match_oracle(uint32_t metric, const float *data, const uint64_t *ids, const uint8_t *keep,
                   uint32_t n, uint32_t dim, const float *q, uint32_t k, const uint64_t *got_ids,
                   const float *got_d, uint32_t got_n)
{
    uint32_t *rows = t_alloc((size_t)k * sizeof *rows);
    double *od = t_alloc((size_t)k * sizeof *od);
    uint32_t want = t_oracle(metric, data, ids, keep, n, dim, q, k, rows, od);
    int bad = 0;
    if (got_n != want) {
        fprintf(stderr, "  oracle: got %u results, want %u\n", got_n, want);
        bad = 1;
    }
    for (uint32_t i = 0; !bad && i < got_n; i++) {
        double tol = 2e-4 * (1.0 + fabs(od[i]));
        /* find the row of got_ids[i] */
        uint32_t row = UINT32_MAX;
        for (uint32_t r = 0; r < n; r++)
            if ((ids ? ids[r] : r) == got_ids[i] && (!keep || keep[r])) { row = r; break; }
        if (row == UINT32_MAX) {
            fprintf(stderr, "  oracle: result %u id %llu is not a live candidate\n", i,
                    (unsigned long long)got_ids[i]);
            bad = 1;
            break;
        }
        double truth = t_dist(metric, data + (size_t)row * dim, q, dim);
        if (fabs(truth - od[i]) > tol || fabs((double)got_d[i] - truth) > tol) {
            fprintf(stderr, "  oracle: rank %u id %llu dist %.9g (true %.9g), oracle id %llu %.9g\n",
                    i, (unsigned long long)got_ids[i], got_d[i], truth,
                    (unsigned long long)(ids ? ids[rows[i]] : rows[i]), od[i]);
            bad = 1;
        }
        if (i && (got_d[i] < got_d[i - 1] ||
                  (got_d[i] == got_d[i - 1] && got_ids[i] <= got_ids[i - 1]))) {
            fprintf(stderr, "  oracle: results not ordered at rank %u\n", i);
            bad = 1;
        }
    }
    free(rows);
    free(od);
    return bad;
}

int t_filter_plans_agree(vl_index *h, const float *q, uint32_t n, const uint8_t *meta,
                         const uint32_t *off, const uint8_t *prog, uint32_t plen, int plan_lo,
                         int plan_hi, uint32_t *matches)
{
    uint8_t *want = t_alloc(n ? n : 1), *seen = t_alloc(n ? n : 1);
    uint64_t *rid = t_alloc((n ? n : 1) * sizeof *rid);
    float *rd = t_alloc((n ? n : 1) * sizeof *rd);
    uint32_t nwant = 0;
    int bad = 0;
    for (uint32_t i = 0; i < n && !bad; i++) {
        uint32_t m;
        if (vl_filter_eval(prog, plen, meta + off[i], off[i + 1] - off[i], &m) != VL_OK) bad = 1;
        want[i] = (uint8_t)m;
        nwant += m;
    }
    for (int plan = plan_lo; plan <= plan_hi && !bad; plan++) {
        vl__test_filter_plan(plan);
        uint32_t c;
        int rc = vl_index_search(h, 1, q, n, n, prog, plen, rid, rd, &c);
        if (rc != VL_OK) { fprintf(stderr, "  plan %d: search: %s\n", plan, vl_errstr(rc)); bad = 1; break; }
        memset(seen, 0, n);
        for (uint32_t j = 0; j < c && !bad; j++) {
            if (rid[j] >= n || !want[rid[j]] || seen[rid[j]]) {
                fprintf(stderr, "  plan %d: hit %llu does not match or repeats\n", plan, (unsigned long long)rid[j]);
                bad = 1;
            } else {
                seen[rid[j]] = 1;
            }
        }
        if (!bad && c != nwant) {
            fprintf(stderr, "  plan %d: %u results, %u matches\n", plan, c, nwant);
            bad = 1;
        }
    }
    vl__test_filter_plan(0);
    free(want); free(seen); free(rid); free(rd);
    if (matches) *matches = nwant;
    return bad;
}

uint32_t t_store_segs(vl_store *s, uint32_t type, uint64_t *off, uint64_t *len)
{
    vl_store_status st;
    if (vl_store_info(s, &st)) return 0;
    uint32_t found = 0;
    for (uint32_t i = 0; i < st.dir_count; i++) {
        vl_store_seg g;
        if (vl_store_dir(s, i, &g)) return 0;
        if (g.seg_type == type) { *off = g.offset; *len = g.payload_length; found++; }
    }
    return found;
}
