/*
 * toolbox.h — the row-block kernels of the toolbox (toolbox.c: similarity
 * matrix, k-means) as static inline functions, and what the quantizers
 * (quant.c) share with it: the seeded generator and the Lloyd iteration.
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

/* Lloyd's k-means (toolbox.c) over n contiguous rows from the k initial centroids in c (k x dim,
 * updated in place; k may exceed n), L2, at most max_iter updates, stopping early when no row
 * changes cluster or the centroids move by at most tol_abs (summed squared shift); an empty
 * cluster is re-seeded with the farthest row. The core of vl_kmeans, shared with the product
 * quantizer's training (quant.c). VL_OK or VL_ENOMEM (c then unchanged or partly updated). */
int vl__kmeans_lloyd(uint32_t dim, uint32_t n, const float *x, uint32_t k, float *c,
                     uint32_t max_iter, double tol_abs);

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

/* out[r] = l2sq(a[r], b) (l2 != 0) or dot(a[r], b) for the four rows a[0..3] (each dim
 * floats); inlined with a constant l2, so each use compiles to one kernel. */
static inline void vl_tb_rows4(const float *const a[4], const float *b, uint32_t dim, int l2, float out[4])
{
#ifdef __wasm_simd128__
    v128_t s[4] = { wasm_f32x4_splat(0.f), wasm_f32x4_splat(0.f), wasm_f32x4_splat(0.f), wasm_f32x4_splat(0.f) };
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        v128_t vb = wasm_v128_load(b + i);
        for (int r = 0; r < 4; r++) {
            v128_t v = wasm_v128_load(a[r] + i);
            if (l2) v = wasm_f32x4_sub(v, vb);
            s[r] = wasm_f32x4_add(s[r], wasm_f32x4_mul(v, l2 ? v : vb));
        }
    }
    for (int r = 0; r < 4; r++) {
        /* (s0 + s1) + (s2 + s3) of the scalar kernel, s0 being lane 0 plus the tail (the scalar
         * kernel adds its tail into s0 after the main loop) */
        float t = wasm_f32x4_extract_lane(s[r], 0);
        for (uint32_t j = i; j < dim; j++) {
            float v = l2 ? a[r][j] - b[j] : a[r][j];
            t += v * (l2 ? v : b[j]);
        }
        out[r] = (t + wasm_f32x4_extract_lane(s[r], 1)) +
                 (wasm_f32x4_extract_lane(s[r], 2) + wasm_f32x4_extract_lane(s[r], 3));
    }
#else
    for (int r = 0; r < 4; r++) out[r] = l2 ? vl_k_l2sq_scalar(a[r], b, dim) : vl_k_dot_scalar(a[r], b, dim);
#endif
}

static inline void vl_tb_l2sq4(const float *const a[4], const float *b, uint32_t dim, float out[4])
{
    vl_tb_rows4(a, b, dim, 1, out);
}

static inline void vl_tb_dot4(const float *const a[4], const float *b, uint32_t dim, float out[4])
{
    vl_tb_rows4(a, b, dim, 0, out);
}

#endif /* VL_TOOLBOX_H */
