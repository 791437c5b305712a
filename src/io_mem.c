/*
 * io_mem.c — the memory vl_io device (io.h): a growable byte array used by
 * tests, fuzzing, export() and open(bytes).
 *
 * Invariants: len <= cap; read() past the end is VL_EIO (never short);
 * append() grows the buffer geometrically (amortised O(1)).
 *
 * Failure injection (vl_io_mem_fail_after): after arming with n > 0, the
 * next n append/sync calls succeed and every later append/sync fails with
 * VL_EIO until re-armed (0 disarms). Only append and sync are counted, so a
 * test can fail "the k-th write" without knowing how many reads happen in
 * between. A failing append is torn the way a crash tears it: the first
 * half of its bytes (len / 2, rounded down) land before VL_EIO is returned,
 * which io.h permits ("the size may have grown by a torn tail").
 * vl_io_mem_fail_once fails only the nth counted call (later calls work
 * again: a commit's rollback can then succeed), and vl_io_mem_fail_truncate
 * makes truncate fail (a rollback that cannot cut the file).
 */
#include <stdlib.h>
#include <string.h>
#include "io.h"
#include "internal.h"

typedef struct mem_dev {
    vl_io io;            /* first: the vl_io pointer is the device pointer */
    uint8_t *buf;
    uint64_t len, cap;
    uint32_t armed;      /* failure injection active */
    uint32_t left;       /* append/sync calls that still succeed */
    uint32_t once;       /* vl_io_mem_fail_once: only the failing call fails */
    uint32_t trunc_fail; /* vl_io_mem_fail_truncate */
} mem_dev;

/* Count one append/sync; 1 if it must fail. */
static int inject(mem_dev *d)
{
    if (!d->armed) return 0;
    if (d->left == 0) {
        if (d->once) d->armed = 0;
        return 1;
    }
    d->left--;
    return 0;
}

static int mem_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
    mem_dev *d = ctx;
    if (off > d->len || len > d->len - off) return VL_EIO;
    if (len) memcpy(buf, d->buf + off, len);
    return VL_OK;
}

static int put(mem_dev *d, const void *buf, uint32_t len)
{
    if (len == 0) return VL_OK;
    if (d->len + len < d->len || d->len + len > (uint64_t)SIZE_MAX) return VL_EIO;
    if (d->len + len > d->cap) {
        uint64_t nc = d->cap ? d->cap + d->cap / 2 : 4096;
        if (nc < d->len + len) nc = d->len + len;
        if (nc > (uint64_t)SIZE_MAX) nc = d->len + len;
        uint8_t *nb = vl_mem_realloc(d->buf, (size_t)nc);
        if (!nb) return VL_EIO;
        d->buf = nb;
        d->cap = nc;
    }
    memcpy(d->buf + d->len, buf, len);
    d->len += len;
    return VL_OK;
}

static int mem_append(void *ctx, const void *buf, uint32_t len)
{
    mem_dev *d = ctx;
    if (len && !buf) return VL_EIO;
    if (inject(d)) {
        (void)put(d, buf, len / 2);   /* torn tail */
        return VL_EIO;
    }
    return put(d, buf, len);
}

static int mem_size(void *ctx, uint64_t *out)
{
    mem_dev *d = ctx;
    if (!out) return VL_EIO;
    *out = d->len;
    return VL_OK;
}

static int mem_truncate(void *ctx, uint64_t size)
{
    mem_dev *d = ctx;
    if (size > d->len || d->trunc_fail) return VL_EIO;   /* the device only shrinks by truncate */
    d->len = size;
    return VL_OK;
}

static int mem_sync(void *ctx)
{
    mem_dev *d = ctx;
    return inject(d) ? VL_EIO : VL_OK;
}

static void mem_close(void *ctx) { vl_io_mem_free((vl_io *)ctx); }

int vl_io_mem_open(const uint8_t *init, uint64_t len, vl_io **out)
{
    if (!out || (len && !init)) return VL_EINVAL;
    if (len > (uint64_t)SIZE_MAX) return VL_ENOMEM;
    mem_dev *d = vl_mem_calloc(1, sizeof *d);
    if (!d) return VL_ENOMEM;
    if (len) {
        d->buf = vl_mem_alloc((size_t)len);
        if (!d->buf) { vl_mem_free(d); return VL_ENOMEM; }
        memcpy(d->buf, init, (size_t)len);
        d->len = d->cap = len;
    }
    d->io.ctx = d;
    d->io.read = mem_read;
    d->io.append = mem_append;
    d->io.size = mem_size;
    d->io.truncate = mem_truncate;
    d->io.sync = mem_sync;
    d->io.close = mem_close;
    *out = &d->io;
    return VL_OK;
}

void vl_io_mem_free(vl_io *io)
{
    if (!io) return;
    mem_dev *d = (mem_dev *)io;
    vl_mem_free(d->buf);
    vl_mem_free(d);
}

const uint8_t *vl_io_mem_data(const vl_io *io, uint64_t *len)
{
    const mem_dev *d = (const mem_dev *)io;
    if (len) *len = d ? d->len : 0;
    return d ? d->buf : NULL;
}

void vl_io_mem_fail_after(vl_io *io, uint32_t fail_after)
{
    mem_dev *d = (mem_dev *)io;
    if (!d) return;
    d->armed = fail_after != 0;
    d->left = fail_after;
    d->once = 0;
}

void vl_io_mem_fail_once(vl_io *io, uint32_t nth)
{
    mem_dev *d = (mem_dev *)io;
    if (!d) return;
    d->armed = nth != 0;
    d->left = nth ? nth - 1 : 0;
    d->once = 1;
}

void vl_io_mem_fail_truncate(vl_io *io, int on)
{
    mem_dev *d = (mem_dev *)io;
    if (d) d->trunc_fail = on != 0;
}
