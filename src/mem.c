/*
 * mem.c — the core's allocation wrappers. Every allocation of the engine goes
 * through here so a test can make the n-th allocation fail
 * (vl__test_alloc_fail_after) and check that VL_ENOMEM leaves an index
 * unchanged. The hook is a process-wide counter: tests only, not thread-safe.
 */
#include <stdlib.h>
#include "internal.h"

static int32_t fail_after = -1;   /* < 0: never fail */

void vl__test_alloc_fail_after(int32_t n) { fail_after = n; }

static int should_fail(void)
{
    if (fail_after < 0) return 0;
    if (fail_after == 0) return 1;
    fail_after--;
    return 0;
}

void *vl_mem_alloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *vl_mem_calloc(size_t n, size_t size)
{
    if (should_fail()) return NULL;
    if (n == 0 || size == 0) return calloc(1, 1);
    return calloc(n, size);
}

void *vl_mem_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void *vl_mem_aligned(size_t n)
{
    if (should_fail()) return NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t r = (n + 63u) & ~(size_t)63u;
    if (r < n) return NULL;
    return aligned_alloc(64, r ? r : 64);
}

void vl_mem_free(void *p) { free(p); }
