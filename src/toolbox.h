/*
 * toolbox.h — the row-block kernels of the toolbox (toolbox.c: similarity
 * matrix, k-means) and the seeded generator shared with the quantizers
 * (quant.c), as static inline functions.
 *
 * Invariant: every kernel here returns, for each row, the SAME float in
 * both builds and natively. The scalar forms are dist.h's vl_k_*_scalar
 * (four stride-4 accumulators, combined (s0 + s1) + (s2 + s3), tail into
 * s0). The simd128 forms keep one f32x4 accumulator per row, whose lanes are
 * exactly those four accumulators, and add the tail to lane 0: the same
 * additions in the same order (wasm has no fused multiply-add, and there is
 * no -ffast-math). Sharing the b loads over four rows is where the SIMD
 * build gains; the results cannot tell the builds apart, so k-means picks
 * the same points and converges to the same centroids in pkg/ and pkg-simd/.
 */
#ifndef VL_TOOLBOX_H
#define VL_TOOLBOX_H

#include <stdint.h>
#include "dist.h"

/* splitmix64: the seeded generator of k-means and the quantizers' training. */
static inline uint64_t vl_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from the generator. */
static inline double vl_unif(uint64_t *s) { return (double)(vl_splitmix64(s) >> 11) * 0x1.0p-53; }

#ifdef __wasm_simd128__
/* (s0 + s1) + (s2 + s3) of the scalar kernel, s0 being lane 0 plus its tail (t0) */
static inline float vl_tb_lanes(v128_t v, float t0)
{
    return (t0 + wasm_f32x4_extract_lane(v, 1)) +
           (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}
#endif

/* out[r] = l2sq(a[r], b) for the four rows a[0..3] (each dim floats). */
static inline void vl_tb_l2sq4(const float *const a[4], const float *b, uint32_t dim, float out[4])
{
#ifdef __wasm_simd128__
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        v128_t vb = wasm_v128_load(b + i);
        v128_t d0 = wasm_f32x4_sub(wasm_v128_load(a[0] + i), vb);
        v128_t d1 = wasm_f32x4_sub(wasm_v128_load(a[1] + i), vb);
        v128_t d2 = wasm_f32x4_sub(wasm_v128_load(a[2] + i), vb);
        v128_t d3 = wasm_f32x4_sub(wasm_v128_load(a[3] + i), vb);
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(d0, d0));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(d1, d1));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(d2, d2));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(d3, d3));
    }
    /* the scalar kernel adds its tail into s0 (lane 0) after the main loop */
    float t0 = wasm_f32x4_extract_lane(s0, 0), t1 = wasm_f32x4_extract_lane(s1, 0);
    float t2 = wasm_f32x4_extract_lane(s2, 0), t3 = wasm_f32x4_extract_lane(s3, 0);
    for (; i < dim; i++) {
        float d0 = a[0][i] - b[i], d1 = a[1][i] - b[i], d2 = a[2][i] - b[i], d3 = a[3][i] - b[i];
        t0 += d0 * d0; t1 += d1 * d1; t2 += d2 * d2; t3 += d3 * d3;
    }
    out[0] = vl_tb_lanes(s0, t0);
    out[1] = vl_tb_lanes(s1, t1);
    out[2] = vl_tb_lanes(s2, t2);
    out[3] = vl_tb_lanes(s3, t3);
#else
    for (int r = 0; r < 4; r++) out[r] = vl_k_l2sq_scalar(a[r], b, dim);
#endif
}

/* out[r] = dot(a[r], b) for the four rows a[0..3]. */
static inline void vl_tb_dot4(const float *const a[4], const float *b, uint32_t dim, float out[4])
{
#ifdef __wasm_simd128__
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        v128_t vb = wasm_v128_load(b + i);
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a[0] + i), vb));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a[1] + i), vb));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a[2] + i), vb));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a[3] + i), vb));
    }
    float t0 = wasm_f32x4_extract_lane(s0, 0), t1 = wasm_f32x4_extract_lane(s1, 0);
    float t2 = wasm_f32x4_extract_lane(s2, 0), t3 = wasm_f32x4_extract_lane(s3, 0);
    for (; i < dim; i++) {
        t0 += a[0][i] * b[i]; t1 += a[1][i] * b[i]; t2 += a[2][i] * b[i]; t3 += a[3][i] * b[i];
    }
    out[0] = vl_tb_lanes(s0, t0);
    out[1] = vl_tb_lanes(s1, t1);
    out[2] = vl_tb_lanes(s2, t2);
    out[3] = vl_tb_lanes(s3, t3);
#else
    for (int r = 0; r < 4; r++) out[r] = vl_k_dot_scalar(a[r], b, dim);
#endif
}

#endif /* VL_TOOLBOX_H */
