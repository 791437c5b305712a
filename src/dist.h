/*
 * dist.h — distance kernel bodies as static inline functions, so the graph
 * code (hnsw.c, index.c) inlines them into its loops and dist.c exports them
 * under the docs/conventions.md §5 names vl_dist_<metric>_f32_<isa>.
 *
 * Kernels:
 *   *_scalar   always built; four independent accumulators (ILP, fixed
 *              summation order, no -ffast-math).
 *   *_simd128  only under __wasm_simd128__ (the pkg-simd/ build): f32x4 with
 *              four accumulators (16 floats per step), then one f32x4 step
 *              at a time, then a scalar tail.
 * VL_K_L2SQ / VL_K_DOT name the kernels the build selected at compile time.
 * Results differ from the f64 _accurate oracle only by float rounding.
 */
#ifndef VL_DIST_H
#define VL_DIST_H

#include <stdint.h>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

static inline float vl_k_l2sq_scalar(const float *a, const float *b, uint32_t dim)
{
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
        float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
    }
    for (; i < dim; i++) { float d = a[i] - b[i]; s0 += d * d; }
    return (s0 + s1) + (s2 + s3);
}

static inline float vl_k_dot_scalar(const float *a, const float *b, uint32_t dim)
{
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    uint32_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
    }
    for (; i < dim; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

#ifdef __wasm_simd128__
static inline float vl_k_hsum(v128_t v)
{
    return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
           (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static inline float vl_k_l2sq_simd128(const float *a, const float *b, uint32_t dim)
{
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    uint32_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        v128_t d0 = wasm_f32x4_sub(wasm_v128_load(a + i), wasm_v128_load(b + i));
        v128_t d1 = wasm_f32x4_sub(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4));
        v128_t d2 = wasm_f32x4_sub(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8));
        v128_t d3 = wasm_f32x4_sub(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12));
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(d0, d0));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(d1, d1));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(d2, d2));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(d3, d3));
    }
    for (; i + 4 <= dim; i += 4) {
        v128_t d0 = wasm_f32x4_sub(wasm_v128_load(a + i), wasm_v128_load(b + i));
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(d0, d0));
    }
    float s = vl_k_hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    for (; i < dim; i++) { float d = a[i] - b[i]; s += d * d; }
    return s;
}

static inline float vl_k_dot_simd128(const float *a, const float *b, uint32_t dim)
{
    v128_t s0 = wasm_f32x4_splat(0.f), s1 = s0, s2 = s0, s3 = s0;
    uint32_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8)));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12)));
    }
    for (; i + 4 <= dim; i += 4)
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    float s = vl_k_hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    for (; i < dim; i++) s += a[i] * b[i];
    return s;
}
#define VL_K_L2SQ vl_k_l2sq_simd128
#define VL_K_DOT  vl_k_dot_simd128
#define VL_ISA    "simd128"
#else
#define VL_K_L2SQ vl_k_l2sq_scalar
#define VL_K_DOT  vl_k_dot_scalar
#define VL_ISA    "scalar"
#endif

/* Cosine distance from the dot product and two inverse norms. */
static inline float vl_k_cos_from_dot(float dot, float inv_a, float inv_b)
{
    return 1.0f - dot * inv_a * inv_b;
}

#endif /* VL_DIST_H */
