/*
 * quant.h — vector quantizers of an index (SPEC F12): what a quantized
 * index keeps in memory instead of float32 rows, and the distance kernels
 * over it. Self-contained (no vl_index): the index (index.c, hnsw.c) owns a
 * vl_quant and calls these; the store persists it (store_quant.c).
 *
 * scalar  one byte per dimension (padded to a multiple of 8 bytes): x[d] ~= lo[d] + step * code[d]. One step
 *         for every dimension (the widest range / 255), so that distances
 *         over codes are integer sums: under L2 the query is rounded to the
 *         same grid as int16 (clamped to [-1024, 1279] steps) and
 *         sum((a - c)^2) is exact in int32; under dot and cosine the query
 *         gets its own scale to int16 (|b| <= 2047) and sum(b * c) is exact
 *         in int32. Both kernels have a wasm-SIMD form (i32x4.dot_i16x8)
 *         and a scalar one that give the same integers.
 * product m sub-vectors (dimension split as evenly as possible), each coded
 *         by one byte: the nearest of 256 centroids, trained by k-means on
 *         a sample. Search builds a table of the query's distance to every
 *         centroid (m x 256 floats) and sums m entries per node.
 * Cosine: the quantizers see unit vectors (rows and queries are normalized
 * first), so cosine distance is 1 - dot over them.
 * Distances are in the index's internal form (smaller is closer: l2sq,
 * -dot, 1 - cos) and approximate; the index re-ranks its best candidates
 * with the exact float32 rows.
 * Invariants: a trained vl_quant never changes (codes stay valid for its
 * life); every function is deterministic (training is seeded).
 */
#ifndef VL_QUANT_H
#define VL_QUANT_H

#include <stdint.h>
#include "veclite.h"

#define VL_PQ_K 256u               /* centroids per sub-vector */

typedef struct vl_quant {
    uint32_t kind, metric, dim;
    uint32_t code_size;            /* bytes per vector */
    /* scalar */
    float step;
    float *lo;                     /* dim */
    /* product */
    uint32_t m;                    /* sub-vectors */
    uint32_t *sub;                 /* m + 1 offsets into the dimension */
    float *cent;                   /* VL_PQ_K x dim: centroid k of sub-vector j at k*dsub_j + K*sub[j] */
} vl_quant;

/* A query prepared for one quantizer (search scratch, owned by the caller). */
typedef struct vl_qquery {
    int16_t *a;      uint32_t a_cap;   /* scalar: the query on the grid (dim, padded to 16) */
    float mul, add;                    /* scalar: distance = add + mul * integer sum (see quant.c) */
    float *table;    uint32_t t_cap;   /* product: m x VL_PQ_K */
    float *unit;     uint32_t u_cap;   /* the normalized query (cosine) */
} vl_qquery;

/* Sub-vectors the product quantizer uses by default for a dimension:
 * about one per 5 dimensions (codes of dim/5 bytes, 1/20 of the floats). */
uint32_t vl_quant_default_m(uint32_t dim);

/* Train a quantizer of `kind` (m: product sub-vectors, 0 = default) over n
 * rows (n >= 1, row-major, not normalized: cosine normalizes). VL_OK,
 * VL_EINVAL (bad kind/m), VL_ENOMEM. */
int  vl_quant_train(vl_quant *q, uint32_t kind, uint32_t metric, uint32_t dim, uint32_t m,
                    uint32_t n, const float *rows, uint64_t seed);
void vl_quant_free(vl_quant *q);
/* Bytes held by the quantizer itself (tables, codebook). */
uint64_t vl_quant_bytes(const vl_quant *q);

/* Code of one row (not normalized; cosine normalizes); scratch: dim floats
 * (the index passes its reserved ones, so encoding cannot fail). */
void vl_quant_encode_buf(const vl_quant *q, const float *row, uint8_t *code, float *scratch);
/* The vector a code stands for (for cosine: the unit vector). */
void vl_quant_decode(const vl_quant *q, const uint8_t *code, float *out);

/* Prepare qq for a query vector (not normalized). VL_OK / VL_ENOMEM. */
int  vl_quant_query(const vl_quant *q, const float *query, vl_qquery *qq);
/* Make qq's buffers big enough for q, so vl_quant_query cannot fail. */
int  vl_qquery_reserve(const vl_quant *q, vl_qquery *qq);
void vl_qquery_free(vl_qquery *qq);
/* Approximate distance from the prepared query to a code. */
float vl_quant_dist(const vl_quant *q, const vl_qquery *qq, const uint8_t *code);

/* Serialized parameters (no codes): the QUANT segment's head.
 * vl_quant_save_len bytes; vl_quant_load checks everything (VL_ECORRUPT
 * with a reason in why) and returns the bytes it used in *used. */
uint64_t vl_quant_save_len(const vl_quant *q);
void vl_quant_save(const vl_quant *q, uint8_t *out);
int  vl_quant_load(vl_quant *q, const uint8_t *p, uint64_t len, uint32_t metric, uint32_t dim,
                   uint64_t *used, char *why, uint32_t why_cap);

/* ---- kernels, inline (the graph walk in hnsw.c inlines them) ---- */
static inline int32_t vl_sq_l2_scalar_k(const int16_t *a, const uint8_t *c, uint32_t n)
{
    int32_t s0 = 0, s1 = 0;
    uint32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        int32_t d0 = a[i] - c[i], d1 = a[i + 1] - c[i + 1];
        s0 += d0 * d0; s1 += d1 * d1;
    }
    for (; i < n; i++) { int32_t d = a[i] - c[i]; s0 += d * d; }
    return s0 + s1;
}

static inline int32_t vl_sq_dot_scalar_k(const int16_t *b, const uint8_t *c, uint32_t n)
{
    int32_t s0 = 0, s1 = 0;
    uint32_t i = 0;
    for (; i + 2 <= n; i += 2) { s0 += b[i] * c[i]; s1 += b[i + 1] * c[i + 1]; }
    for (; i < n; i++) s0 += b[i] * c[i];
    return s0 + s1;
}

/* product codes: the sum of one table entry per sub-vector */
static inline float vl_pq_sum_k(const float *t, const uint8_t *code, uint32_t m)
{
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    uint32_t j = 0;
    for (; j + 4 <= m; j += 4, t += 4 * VL_PQ_K) {
        s0 += t[code[j]];
        s1 += t[VL_PQ_K + code[j + 1]];
        s2 += t[2 * VL_PQ_K + code[j + 2]];
        s3 += t[3 * VL_PQ_K + code[j + 3]];
    }
    for (; j < m; j++, t += VL_PQ_K) s0 += t[code[j]];
    return (s0 + s1) + (s2 + s3);
}

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
static inline int32_t vl_sq_hsum(v128_t v)
{
    return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
           wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

/* 16 codes per step (two i32x4.dot_i16x8), then 8 (a zero-extending 8-byte load), then scalar */
static inline int32_t vl_sq_l2_simd_k(const int16_t *a, const uint8_t *c, uint32_t n)
{
    v128_t s0 = wasm_i32x4_splat(0), s1 = s0;
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t cv = wasm_v128_load(c + i);
        v128_t d0 = wasm_i16x8_sub(wasm_v128_load(a + i), wasm_u16x8_extend_low_u8x16(cv));
        v128_t d1 = wasm_i16x8_sub(wasm_v128_load(a + i + 8), wasm_u16x8_extend_high_u8x16(cv));
        s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(d0, d0));
        s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(d1, d1));
    }
    if (i + 8 <= n) {
        v128_t d0 = wasm_i16x8_sub(wasm_v128_load(a + i), wasm_u16x8_load8x8(c + i));
        s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(d0, d0));
        i += 8;
    }
    int32_t s = vl_sq_hsum(wasm_i32x4_add(s0, s1));
    return s + (i < n ? vl_sq_l2_scalar_k(a + i, c + i, n - i) : 0);
}

static inline int32_t vl_sq_dot_simd_k(const int16_t *b, const uint8_t *c, uint32_t n)
{
    v128_t s0 = wasm_i32x4_splat(0), s1 = s0;
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v128_t cv = wasm_v128_load(c + i);
        s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(wasm_v128_load(b + i), wasm_u16x8_extend_low_u8x16(cv)));
        s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(wasm_v128_load(b + i + 8), wasm_u16x8_extend_high_u8x16(cv)));
    }
    if (i + 8 <= n) {
        s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(wasm_v128_load(b + i), wasm_u16x8_load8x8(c + i)));
        i += 8;
    }
    int32_t s = vl_sq_hsum(wasm_i32x4_add(s0, s1));
    return s + (i < n ? vl_sq_dot_scalar_k(b + i, c + i, n - i) : 0);
}
#define VL_SQ_L2  vl_sq_l2_simd_k
#define VL_SQ_DOT vl_sq_dot_simd_k
#else
#define VL_SQ_L2  vl_sq_l2_scalar_k
#define VL_SQ_DOT vl_sq_dot_scalar_k
#endif

/* The integer kernels (exported for the tests: the SIMD and scalar forms
 * must agree exactly). n codes, a/b padded to a multiple of 16 is not
 * required. */
int32_t vl_sq_l2_scalar(const int16_t *a, const uint8_t *c, uint32_t n);
int32_t vl_sq_dot_scalar(const int16_t *b, const uint8_t *c, uint32_t n);
int32_t vl_sq_l2(const int16_t *a, const uint8_t *c, uint32_t n);    /* the build's kernel */
int32_t vl_sq_dot(const int16_t *b, const uint8_t *c, uint32_t n);

#endif /* VL_QUANT_H */
