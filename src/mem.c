/*
 * mem.c — the core's allocation wrappers. Every allocation of the engine goes
 * through here so a test can make the n-th allocation fail
 * (vl__test_alloc_fail_after) and check that VL_ENOMEM leaves an index
 * unchanged, and so the bytes the engine holds can be traced.
 *
 * Byte trace (vl__mem_live / vl__mem_peak): the allocator's usable size of
 * every block the engine holds (malloc_usable_size, so allocator rounding is
 * included), and the highest value since the last vl__mem_peak_reset. A
 * realloc that moves its block counts old and new as alive at once (the
 * allocator had to provide both), one that grows in place counts only the
 * difference. WebAssembly memory never shrinks, so this peak is what a
 * batch costs for the life of the instance. Without malloc_usable_size
 * (not glibc / Emscripten) the trace reads 0.
 *
 * Heap sizing (vl__mem_expect): an open that is about to allocate about n
 * bytes grows WebAssembly memory to hold them in ONE step. Left to sbrk,
 * memory grows by ~20% per step, tens of times for a large store, each a
 * Memory.grow (and in JS a refresh of every heap view). Only address space:
 * pages are resident when touched. A no-op natively.
 *
 * The hook and the counters are process-wide: tests and diagnostics only,
 * not thread-safe.
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <stdlib.h>
#include <time.h>
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#include <emscripten/heap.h>
void *sbrk(intptr_t increment);   /* <unistd.h> hides it under _POSIX_C_SOURCE */
#endif
#if defined(__GLIBC__) || defined(__EMSCRIPTEN__)
#include <malloc.h>
#define VL_USABLE(p) malloc_usable_size(p)
#else
#define VL_USABLE(p) ((size_t)0)
#endif
#include "internal.h"

static int32_t fail_after = -1;   /* < 0: never fail */
static uint64_t live_bytes, peak_bytes;

void vl__test_alloc_fail_after(int32_t n) { fail_after = n; }

uint64_t vl__clock_ns(void)
{
#ifdef __EMSCRIPTEN__
    return (uint64_t)(emscripten_get_now() * 1e6);
#else
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return 0;
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
#endif
}

void vl__mem_expect(uint64_t bytes)
{
#ifdef __EMSCRIPTEN__
    uint64_t top = (uint64_t)(uintptr_t)sbrk(0), want = top + bytes, have = emscripten_get_heap_size();
    uint64_t cap = (uint64_t)4 << 30;
    if (want > cap - ((uint64_t)64 << 20)) want = cap - ((uint64_t)64 << 20);
    if (want > have) (void)emscripten_resize_heap((size_t)want);   /* failure: sbrk grows later, as before */
#else
    (void)bytes;
#endif
}

uint64_t vl__mem_live(void) { return live_bytes; }
uint64_t vl__mem_peak(void) { return peak_bytes; }
void vl__mem_peak_reset(void) { peak_bytes = live_bytes; }

static int should_fail(void)
{
    if (fail_after < 0) return 0;
    if (fail_after == 0) return 1;
    fail_after--;
    return 0;
}

static void *note(void *p)
{
    if (p) {
        live_bytes += VL_USABLE(p);
        if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    }
    return p;
}

void *vl_mem_alloc(size_t n)
{
    if (should_fail()) return NULL;
    return note(malloc(n ? n : 1));
}

void *vl_mem_calloc(size_t n, size_t size)
{
    if (should_fail()) return NULL;
    if (n == 0 || size == 0) return note(calloc(1, 1));
    return note(calloc(n, size));
}

/* Account a realloc of p (usable size old) that returned q. */
static void *note_realloc(void *p, size_t old, void *q)
{
    size_t now = VL_USABLE(q);
    if (q != p) {                           /* moved: both blocks existed for a moment */
        if (live_bytes + now > peak_bytes) peak_bytes = live_bytes + now;
        live_bytes = live_bytes - old + now;
    } else {
        live_bytes = live_bytes - old + now;
        if (live_bytes > peak_bytes) peak_bytes = live_bytes;
    }
    return q;
}

void *vl_mem_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    size_t old = p ? VL_USABLE(p) : 0;
    void *q = realloc(p, n ? n : 1);
    return q ? note_realloc(p, old, q) : NULL;
}

/* Growing a large block in place is what keeps a build's resident memory
 * at what the index holds: a moved block leaves a hole as large as itself
 * (touched, so resident), and WebAssembly memory never shrinks. Emscripten's
 * dlmalloc extends a block in place into the top chunk only if the top
 * already has room: its realloc never calls sbrk, and the top is usually a
 * few KiB, so without help every growth moved. So, before a large growth
 * (>= 64 KiB), a probe: malloc of the full new size, then free. If some free
 * hole can hold the new size, the probe comes from it and changes nothing
 * (realloc then moves the block into such a hole: reuse). Otherwise the
 * probe comes from the top, which sbrk extends, and free merges it back:
 * now the top has room, and a block that ends where the top starts grows in
 * place (else it moves to the top, as it would have). The probe writes only
 * chunk headers: the extra address space is not resident until used.
 * (A probe of only the difference was served from holes too small for the
 * block and did nothing; the pair goes through a volatile so the compiler
 * cannot drop it.) Measured: in-place growth took a 10k x 100 build in
 * batches of 1,000 from ~1,750 to ~710 bytes of RSS per vector (helper
 * report). glibc (native) moves large blocks with mremap, without copying. */
#if defined(__EMSCRIPTEN__)
static void *volatile probe;
#endif

void *vl_mem_grow(void *p, size_t n)
{
    if (should_fail()) return NULL;
    size_t old = p ? VL_USABLE(p) : 0;
#if defined(__EMSCRIPTEN__)
    if (p && n > old && n - old >= ((size_t)64 << 10)) {
        probe = malloc(n);
        free(probe);
        probe = NULL;
    }
#endif
    void *q = realloc(p, n ? n : 1);
    return q ? note_realloc(p, old, q) : NULL;
}

void vl_mem_free(void *p)
{
    if (p) live_bytes -= VL_USABLE(p);
    free(p);
}
