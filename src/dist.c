/*
 * dist.c — exported distance kernels (docs/conventions.md §5 naming
 * vl_dist_<metric>_f32_<isa>) and the public vl_dist_* entry points.
 *
 * The kernel bodies live in dist.h (static inline) so the graph code inlines
 * them; this file gives each one a linkable name for tests and benchmarks.
 *   _scalar    always built.
 *   _simd128   only when compiled with -msimd128 (__wasm_simd128__).
 *   _accurate  f64 accumulation: the test oracle.
 * The public vl_dist_l2sq / vl_dist_dot / vl_dist_cos use the simd128 kernel
 * when the build has it (compile-time choice, no dispatch), else scalar.
 * No -ffast-math anywhere: every kernel has a fixed summation order.
 *
 * Cosine of a zero vector is undefined; these kernels return distance 1
 * (as if orthogonal). The index never stores or queries zero vectors under
 * cosine (VL_EINVAL), so this only matters to direct callers.
 */
#include <math.h>
#include "veclite.h"
#include "dist.h"

/* Declarations of the named kernels (not in veclite.h: tests declare them). */
float vl_dist_l2sq_f32_scalar(const float *a, const float *b, uint32_t dim);
float vl_dist_dot_f32_scalar(const float *a, const float *b, uint32_t dim);
float vl_dist_cos_f32_scalar(const float *a, const float *b, uint32_t dim);
#ifdef __wasm_simd128__
float vl_dist_l2sq_f32_simd128(const float *a, const float *b, uint32_t dim);
float vl_dist_dot_f32_simd128(const float *a, const float *b, uint32_t dim);
float vl_dist_cos_f32_simd128(const float *a, const float *b, uint32_t dim);
#endif

const char *vl_isa_name(void) { return VL_ISA; }

/* ---- scalar ---------------------------------------------------------------- */

float vl_dist_l2sq_f32_scalar(const float *a, const float *b, uint32_t dim)
{
    return vl_k_l2sq_scalar(a, b, dim);
}

float vl_dist_dot_f32_scalar(const float *a, const float *b, uint32_t dim)
{
    return vl_k_dot_scalar(a, b, dim);
}

static float cos_from_parts(float dot, float na, float nb)
{
    if (!(na > 0.f) || !(nb > 0.f)) return 1.0f;
    return 1.0f - dot / (sqrtf(na) * sqrtf(nb));
}

float vl_dist_cos_f32_scalar(const float *a, const float *b, uint32_t dim)
{
    return cos_from_parts(vl_k_dot_scalar(a, b, dim), vl_k_dot_scalar(a, a, dim),
                          vl_k_dot_scalar(b, b, dim));
}

/* ---- simd128 --------------------------------------------------------------- */
#ifdef __wasm_simd128__
float vl_dist_l2sq_f32_simd128(const float *a, const float *b, uint32_t dim)
{
    return vl_k_l2sq_simd128(a, b, dim);
}

float vl_dist_dot_f32_simd128(const float *a, const float *b, uint32_t dim)
{
    return vl_k_dot_simd128(a, b, dim);
}

float vl_dist_cos_f32_simd128(const float *a, const float *b, uint32_t dim)
{
    return cos_from_parts(vl_k_dot_simd128(a, b, dim), vl_k_dot_simd128(a, a, dim),
                          vl_k_dot_simd128(b, b, dim));
}
#endif

/* ---- public (compile-time selection) --------------------------------------- */

float vl_dist_l2sq(const float *a, const float *b, uint32_t dim) { return VL_K_L2SQ(a, b, dim); }
float vl_dist_dot(const float *a, const float *b, uint32_t dim) { return VL_K_DOT(a, b, dim); }
float vl_dist_cos(const float *a, const float *b, uint32_t dim)
{
    return cos_from_parts(VL_K_DOT(a, b, dim), VL_K_DOT(a, a, dim), VL_K_DOT(b, b, dim));
}

/* ---- accurate (f64 oracle) ------------------------------------------------- */

double vl_dist_l2sq_accurate(const float *a, const float *b, uint32_t dim)
{
    double s = 0.0;
    for (uint32_t i = 0; i < dim; i++) { double d = (double)a[i] - (double)b[i]; s += d * d; }
    return s;
}

double vl_dist_dot_accurate(const float *a, const float *b, uint32_t dim)
{
    double s = 0.0;
    for (uint32_t i = 0; i < dim; i++) s += (double)a[i] * (double)b[i];
    return s;
}

double vl_dist_cos_accurate(const float *a, const float *b, uint32_t dim)
{
    double d = 0.0, na = 0.0, nb = 0.0;
    for (uint32_t i = 0; i < dim; i++) {
        d += (double)a[i] * (double)b[i];
        na += (double)a[i] * (double)a[i];
        nb += (double)b[i] * (double)b[i];
    }
    if (!(na > 0.0) || !(nb > 0.0)) return 1.0;
    return 1.0 - d / (sqrt(na) * sqrt(nb));
}
