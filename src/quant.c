/*
 * quant.c — scalar (int8) and product quantizers: training, codes, the
 * prepared query and its distance kernels, and the parameters' bytes.
 * The model and its invariants are described in quant.h.
 *
 * Exactness of the scalar kernels: with |a - c| <= 1279 (L2) or |b| <= 2047
 * and c <= 255 (dot), every i32x4.dot_i16x8 lane adds at most 2 * 1279^2
 * (3.3e6) or 2 * 2047 * 255 (1.0e6) per 8 dimensions, so a sum over up to
 * VL_MAX_DIM dimensions stays far below 2^31 whatever the order: the SIMD
 * and scalar forms return the same integer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "internal.h"
#include "toolbox.h"


#define SQ_A_MIN (-1024)
#define SQ_A_MAX 1279
#define SQ_B_MAX 2047
/* the scalar step's range: step^2 (the L2 distance's scale) and 1/step
 * (encoding) stay finite, non-zero and normal in float; a step outside
 * it made every approximate distance 0, inf or NaN (the walk then returns
 * arbitrary nodes) */
#define SQ_STEP_MIN 1e-18f
#define SQ_STEP_MAX 1e18f
#define PQ_SAMPLE 10240u
/* scalar codes are padded with zero bytes to a multiple of 8 (the query with zeros too: the
 * padding adds nothing to either sum), so the SIMD kernels have no scalar tail */
#define SQ_CODE(dim) (((dim) + 7u) & ~7u)           /* rows k-means trains on, at most */
#define PQ_ITERS 8u


/* row (or its unit vector under cosine) into out */
static void prepare_row(uint32_t metric, uint32_t dim, const float *row, float *out)
{
    if (metric != VL_METRIC_COSINE) { memcpy(out, row, (size_t)dim * sizeof *out); return; }
    double ss = 0;
    for (uint32_t d = 0; d < dim; d++) ss += (double)row[d] * row[d];
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.f;
    for (uint32_t d = 0; d < dim; d++) out[d] = row[d] * inv;
}

uint32_t vl_quant_default_m(uint32_t dim)
{
    uint32_t m = (dim + 2) / 5;
    return m ? m : 1;
}

void vl_quant_free(vl_quant *q)
{
    if (!q) return;
    vl_mem_free(q->lo);
    vl_mem_free(q->sub);
    vl_mem_free(q->cent);
    memset(q, 0, sizeof *q);
}

uint64_t vl_quant_bytes(const vl_quant *q)
{
    if (q->kind == VL_QUANT_SCALAR) return (uint64_t)q->dim * sizeof(float);
    if (q->kind == VL_QUANT_PRODUCT) return (uint64_t)VL_PQ_K * q->dim * sizeof(float) + (q->m + 1) * 4ull;
    return 0;
}

static int set_sub(vl_quant *q, uint32_t m)
{
    if (m == 0 || m > q->dim) return VL_EINVAL;
    q->m = m;
    if (!(q->sub = vl_mem_alloc((size_t)(m + 1) * sizeof *q->sub))) return VL_ENOMEM;
    for (uint32_t j = 0; j <= m; j++) q->sub[j] = (uint32_t)((uint64_t)q->dim * j / m);
    q->code_size = m;
    return VL_OK;
}

/* centroid k of sub-vector j */
static inline float *centroid(const vl_quant *q, uint32_t j, uint32_t k)
{
    return q->cent + (size_t)VL_PQ_K * q->sub[j] + (size_t)k * (q->sub[j + 1] - q->sub[j]);
}

static inline float sub_l2(const float *a, const float *b, uint32_t n)
{
    float s = 0.f;
    for (uint32_t i = 0; i < n; i++) { float d = a[i] - b[i]; s += d * d; }
    return s;
}

static uint32_t nearest(const float *c, uint32_t ds, const float *x)
{
    uint32_t best = 0;
    float bd = INFINITY;
    for (uint32_t k = 0; k < VL_PQ_K; k++) {
        float d = sub_l2(x, c + (size_t)k * ds, ds);
        if (d < bd) { bd = d; best = k; }
    }
    return best;
}

/* k-means of sub-vector j over the ns sample rows xs (dim each): its slice copied into
 * contiguous rows, then the toolbox's Lloyd (toolbox.h vl__kmeans_lloyd, farthest-row
 * re-seeding of empty clusters) from seeded sample rows. */
static int train_sub(vl_quant *q, uint32_t j, uint32_t ns, const float *xs, uint64_t *rng)
{
    uint32_t off = q->sub[j], ds = q->sub[j + 1] - off;
    float *c = centroid(q, j, 0);
    float *xj = vl_mem_alloc((size_t)ns * ds * sizeof *xj);
    if (!xj) return VL_ENOMEM;
    for (uint32_t r = 0; r < ns; r++) memcpy(xj + (size_t)r * ds, xs + (size_t)r * q->dim + off, ds * sizeof(float));
    /* initial centroids: sample rows in a seeded order (distinct rows while there are enough) */
    for (uint32_t k = 0; k < VL_PQ_K; k++) {
        uint32_t r = ns >= VL_PQ_K ? (uint32_t)(((uint64_t)k * ns) / VL_PQ_K + vl_splitmix64(rng) % (ns / VL_PQ_K))
                                   : (uint32_t)(vl_splitmix64(rng) % ns);
        memcpy(c + (size_t)k * ds, xj + (size_t)r * ds, ds * sizeof(float));
    }
    int rc = vl__kmeans_lloyd(ds, ns, xj, VL_PQ_K, c, PQ_ITERS, 0.0);
    vl_mem_free(xj);
    return rc;
}

int vl_quant_train(vl_quant *q, uint32_t kind, uint32_t metric, uint32_t dim, uint32_t m,
                   uint32_t n, const float *rows, uint64_t seed)
{
    memset(q, 0, sizeof *q);
    if ((kind != VL_QUANT_SCALAR && kind != VL_QUANT_PRODUCT) || !dim || !n || !rows) return VL_EINVAL;
    q->kind = kind; q->metric = metric; q->dim = dim;
    int rc = VL_ENOMEM;
    float *tmp = vl_mem_alloc((size_t)dim * sizeof *tmp);
    if (!tmp) goto fail;
    if (kind == VL_QUANT_SCALAR) {
        float *hi = vl_mem_alloc((size_t)dim * sizeof *hi);
        if (!hi || !(q->lo = vl_mem_alloc((size_t)dim * sizeof *q->lo))) { vl_mem_free(hi); goto fail; }
        for (uint32_t d = 0; d < dim; d++) { q->lo[d] = INFINITY; hi[d] = -INFINITY; }
        for (uint32_t r = 0; r < n; r++) {
            prepare_row(metric, dim, rows + (size_t)r * dim, tmp);
            for (uint32_t d = 0; d < dim; d++) {
                if (tmp[d] < q->lo[d]) q->lo[d] = tmp[d];
                if (tmp[d] > hi[d]) hi[d] = tmp[d];
            }
        }
        double w = 0;
        for (uint32_t d = 0; d < dim; d++) if ((double)hi[d] - q->lo[d] > w) w = (double)hi[d] - q->lo[d];
        q->step = w > 0 && isfinite(w) ? (float)(w / 255.0) : 1.0f;
        if (!(q->step > 0.f) || !isfinite(q->step)) q->step = 1.0f;
        if (q->step < SQ_STEP_MIN) q->step = SQ_STEP_MIN;        /* a coarser grid than needed: harmless */
        if (q->step > SQ_STEP_MAX) q->step = SQ_STEP_MAX;        /* rows beyond 255e18 saturate (their exact L2 overflows anyway) */
        vl_mem_free(hi);
        q->code_size = SQ_CODE(dim);
    } else {
        if ((rc = set_sub(q, m ? m : vl_quant_default_m(dim)))) goto fail;
        rc = VL_ENOMEM;
        uint32_t ns = n < PQ_SAMPLE ? n : PQ_SAMPLE;
        float *xs = vl_mem_alloc((size_t)ns * dim * sizeof *xs);
        if (!xs || !(q->cent = vl_mem_alloc((size_t)VL_PQ_K * dim * sizeof *q->cent))) { vl_mem_free(xs); goto fail; }
        uint64_t rng = seed ^ 0x5051u;
        for (uint32_t r = 0; r < ns; r++) {      /* an even spread over the rows */
            uint32_t src = (uint32_t)(((uint64_t)r * n) / ns);
            prepare_row(metric, dim, rows + (size_t)src * dim, xs + (size_t)r * dim);
        }
        for (uint32_t j = 0; j < q->m && !(rc = train_sub(q, j, ns, xs, &rng)); j++) {}
        vl_mem_free(xs);
        if (rc) goto fail;
    }
    vl_mem_free(tmp);
    return VL_OK;
fail:
    vl_mem_free(tmp);
    vl_quant_free(q);
    return rc;
}

/* ---- codes ----------------------------------------------------------------- */

void vl_quant_encode_buf(const vl_quant *q, const float *row, uint8_t *code, float *u)
{
    prepare_row(q->metric, q->dim, row, u);
    if (q->kind == VL_QUANT_SCALAR) {
        float inv = 1.0f / q->step;
        for (uint32_t d = 0; d < q->dim; d++) {
            float x = roundf((u[d] - q->lo[d]) * inv);
            code[d] = (uint8_t)(x <= 0.f ? 0 : x >= 255.f ? 255 : (int)x);
        }
        for (uint32_t d = q->dim; d < q->code_size; d++) code[d] = 0;
    } else {
        for (uint32_t j = 0; j < q->m; j++)
            code[j] = (uint8_t)nearest(centroid(q, j, 0), q->sub[j + 1] - q->sub[j], u + q->sub[j]);
    }
}

void vl_quant_decode(const vl_quant *q, const uint8_t *code, float *out)
{
    if (q->kind == VL_QUANT_SCALAR) {
        for (uint32_t d = 0; d < q->dim; d++) out[d] = q->lo[d] + q->step * (float)code[d];
        return;
    }
    for (uint32_t j = 0; j < q->m; j++) {
        uint32_t ds = q->sub[j + 1] - q->sub[j];
        memcpy(out + q->sub[j], centroid(q, j, code[j]), ds * sizeof(float));
    }
}

/* ---- integer kernels: quant.h (inline); linkable names for the tests ---- */

int32_t vl_sq_l2_scalar(const int16_t *a, const uint8_t *c, uint32_t n) { return vl_sq_l2_scalar_k(a, c, n); }
int32_t vl_sq_dot_scalar(const int16_t *b, const uint8_t *c, uint32_t n) { return vl_sq_dot_scalar_k(b, c, n); }
int32_t vl_sq_l2(const int16_t *a, const uint8_t *c, uint32_t n) { return VL_SQ_L2(a, c, n); }
int32_t vl_sq_dot(const int16_t *b, const uint8_t *c, uint32_t n) { return VL_SQ_DOT(b, c, n); }

/* ---- queries ----------------------------------------------------------------- */

static int room(void **p, uint32_t *cap, uint64_t need, size_t el)
{
    if (need <= *cap) return VL_OK;
    if (need > UINT32_MAX) return VL_ENOMEM;
    void *x = vl_mem_realloc(*p, (size_t)need * el);
    if (!x) return VL_ENOMEM;
    *p = x;
    *cap = (uint32_t)need;
    return VL_OK;
}

void vl_qquery_free(vl_qquery *qq)
{
    vl_mem_free(qq->a); vl_mem_free(qq->table); vl_mem_free(qq->unit);
    memset(qq, 0, sizeof *qq);
}

int vl_qquery_reserve(const vl_quant *q, vl_qquery *qq)
{
    if (room((void **)&qq->unit, &qq->u_cap, q->dim, sizeof(float))) return VL_ENOMEM;
    if (q->kind == VL_QUANT_SCALAR)
        return room((void **)&qq->a, &qq->a_cap, ((uint64_t)q->dim + 15) & ~15ull, sizeof(int16_t));
    return room((void **)&qq->table, &qq->t_cap, (uint64_t)q->m * VL_PQ_K, sizeof(float));
}

int vl_quant_query(const vl_quant *q, const float *query, vl_qquery *qq)
{
    uint32_t dim = q->dim;
    if (vl_qquery_reserve(q, qq)) return VL_ENOMEM;
    float *u = qq->unit;
    prepare_row(q->metric, dim, query, u);
    if (q->kind == VL_QUANT_SCALAR) {
        if (q->metric == VL_METRIC_L2) {
            float inv = 1.0f / q->step;
            for (uint32_t d = 0; d < dim; d++) {
                float x = roundf((u[d] - q->lo[d]) * inv);
                qq->a[d] = (int16_t)(x <= SQ_A_MIN ? SQ_A_MIN : x >= SQ_A_MAX ? SQ_A_MAX : (int)x);
            }
            for (uint32_t d = dim; d < q->code_size; d++) qq->a[d] = 0;
            qq->mul = q->step * q->step;
            qq->add = 0.f;
        } else {
            double qlo = 0;
            float mx = 0.f;
            for (uint32_t d = 0; d < dim; d++) {
                qlo += (double)u[d] * q->lo[d];
                if (fabsf(u[d]) > mx) mx = fabsf(u[d]);
            }
            /* the query's scale in double: a query of subnormal components has mx / 2047 == 0 in
             * float, and u * (1 / 0) a NaN for its zero components */
            double t = mx > 0.f ? (double)mx / SQ_B_MAX : 1.0;
            for (uint32_t d = 0; d < dim; d++) {
                double x = round((double)u[d] / t);
                qq->a[d] = (int16_t)(x <= -SQ_B_MAX ? -SQ_B_MAX : x >= SQ_B_MAX ? SQ_B_MAX : (int)x);
            }
            for (uint32_t d = dim; d < q->code_size; d++) qq->a[d] = 0;
            /* dot(u, x) ~= qlo + step * t * sum(b * c); distance -dot or 1 - dot */
            qq->mul = (float)(-(double)q->step * t);
            qq->add = (float)(q->metric == VL_METRIC_COSINE ? 1.0 - qlo : -qlo);
        }
        return VL_OK;
    }
    for (uint32_t j = 0; j < q->m; j++) {
        uint32_t ds = q->sub[j + 1] - q->sub[j];
        const float *x = u + q->sub[j], *c = centroid(q, j, 0);
        float *t = qq->table + (size_t)j * VL_PQ_K;
        if (q->metric == VL_METRIC_L2) {
            for (uint32_t k = 0; k < VL_PQ_K; k++) t[k] = sub_l2(x, c + (size_t)k * ds, ds);
        } else {
            for (uint32_t k = 0; k < VL_PQ_K; k++) {
                float s = 0.f;
                for (uint32_t d = 0; d < ds; d++) s += x[d] * c[(size_t)k * ds + d];
                t[k] = -s;
            }
        }
    }
    qq->mul = 1.0f;
    qq->add = q->metric == VL_METRIC_COSINE ? 1.0f : 0.f;
    return VL_OK;
}

float vl_quant_dist(const vl_quant *q, const vl_qquery *qq, const uint8_t *code)
{
    if (q->kind == VL_QUANT_SCALAR) {
        int32_t s = q->metric == VL_METRIC_L2 ? VL_SQ_L2(qq->a, code, q->code_size) : VL_SQ_DOT(qq->a, code, q->code_size);
        return qq->add + qq->mul * (float)s;
    }
    return qq->add + vl_pq_sum_k(qq->table, code, q->m);
}

/* ---- parameters' bytes --------------------------------------------------------
 * u8 kind | u8 metric | u16 0 | u32 dim | u32 m (0: scalar) | u32 code_size |
 * scalar: f32 step | f32 lo[dim]; product: u32 sub[m+1] | f32 cent[256 * dim] */

static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void putf(uint8_t *p, float f) { uint32_t u; memcpy(&u, &f, 4); put32(p, u); }
static float getf(const uint8_t *p) { uint32_t u = get32(p); float f; memcpy(&f, &u, 4); return f; }

uint64_t vl_quant_save_len(const vl_quant *q)
{
    if (q->kind == VL_QUANT_SCALAR) return 16 + 4 + 4ull * q->dim;
    return 16 + 4ull * (q->m + 1) + 4ull * VL_PQ_K * q->dim;
}

void vl_quant_save(const vl_quant *q, uint8_t *out)
{
    out[0] = (uint8_t)q->kind; out[1] = (uint8_t)q->metric; out[2] = out[3] = 0;
    put32(out + 4, q->dim);
    put32(out + 8, q->kind == VL_QUANT_PRODUCT ? q->m : 0);
    put32(out + 12, q->code_size);
    uint8_t *p = out + 16;
    if (q->kind == VL_QUANT_SCALAR) {
        putf(p, q->step); p += 4;
        for (uint32_t d = 0; d < q->dim; d++, p += 4) putf(p, q->lo[d]);
        return;
    }
    for (uint32_t j = 0; j <= q->m; j++, p += 4) put32(p, q->sub[j]);
    for (uint64_t i = 0; i < (uint64_t)VL_PQ_K * q->dim; i++, p += 4) putf(p, q->cent[i]);
}

#define BAD(...) do { if (why) snprintf(why, why_cap, __VA_ARGS__); vl_quant_free(q); return VL_ECORRUPT; } while (0)

int vl_quant_load(vl_quant *q, const uint8_t *p, uint64_t len, uint32_t metric, uint32_t dim,
                  uint64_t *used, char *why, uint32_t why_cap)
{
    memset(q, 0, sizeof *q);
    if (len < 16) BAD("quantizer parameters truncated (%llu bytes)", (unsigned long long)len);
    q->kind = p[0]; q->metric = p[1]; q->dim = get32(p + 4);
    uint32_t m = get32(p + 8), cs = get32(p + 12);
    if (q->kind != VL_QUANT_SCALAR && q->kind != VL_QUANT_PRODUCT) BAD("unknown quantizer kind %u", q->kind);
    if (q->metric != metric || q->dim != dim) BAD("quantizer for metric %u dimension %u, the store has %u/%u",
                                                   q->metric, q->dim, metric, dim);
    uint64_t need;
    if (q->kind == VL_QUANT_SCALAR) {
        need = 16 + 4 + 4ull * dim;
        if (m != 0 || cs != SQ_CODE(dim) || len < need) BAD("scalar quantizer header inconsistent");
        q->step = getf(p + 16);
        if (!(q->step >= SQ_STEP_MIN && q->step <= SQ_STEP_MAX))
            BAD("scalar quantizer step %g is outside [%g, %g]", (double)q->step, (double)SQ_STEP_MIN, (double)SQ_STEP_MAX);
        if (!(q->lo = vl_mem_alloc((size_t)dim * sizeof *q->lo))) { vl_quant_free(q); return VL_ENOMEM; }
        for (uint32_t d = 0; d < dim; d++) {
            q->lo[d] = getf(p + 20 + 4ull * d);
            if (!isfinite(q->lo[d])) BAD("scalar quantizer offset %u is not finite", d);
        }
        q->code_size = SQ_CODE(dim);
    } else {
        if (m == 0 || m > dim || cs != m) BAD("product quantizer has %u sub-vectors for dimension %u", m, dim);
        need = 16 + 4ull * (m + 1) + 4ull * VL_PQ_K * dim;
        if (len < need) BAD("product quantizer truncated");
        q->m = m;
        q->code_size = m;
        q->sub = vl_mem_alloc((size_t)(m + 1) * sizeof *q->sub);
        q->cent = vl_mem_alloc((size_t)VL_PQ_K * dim * sizeof *q->cent);
        if (!q->sub || !q->cent) { vl_quant_free(q); return VL_ENOMEM; }
        for (uint32_t j = 0; j <= m; j++) q->sub[j] = get32(p + 16 + 4ull * j);
        if (q->sub[0] != 0 || q->sub[m] != dim) BAD("product quantizer sub-vectors do not cover the dimension");
        for (uint32_t j = 0; j < m; j++)
            if (q->sub[j + 1] <= q->sub[j]) BAD("product quantizer sub-vector %u is empty", j);
        const uint8_t *c = p + 16 + 4ull * (m + 1);
        for (uint64_t i = 0; i < (uint64_t)VL_PQ_K * dim; i++) {
            q->cent[i] = getf(c + 4 * i);
            if (!isfinite(q->cent[i])) BAD("product quantizer centroid value %llu is not finite", (unsigned long long)i);
        }
    }
    *used = need;
    return VL_OK;
}
