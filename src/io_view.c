/*
 * io_view.c — a read-only window onto the first `len` bytes of another
 * vl_io device (io.h vl_io_view).
 *
 * Why: a read-only store holds the commit it opened, while a writer may
 * keep appending to the same file (its next commit, or a torn tail). A
 * re-read of "the committed state" (vl_store_verify) must see exactly the
 * bytes that commit covers, never the writer's newer or half-written ones,
 * or it would report a healthy file as changed or damaged.
 *
 * Invariants: size() is min(len, the base's size) — a base that shrank
 * below len shows as shorter, so a re-read then fails honestly; read()
 * past that window is VL_EIO (never a short read); append, truncate and
 * sync are refused with VL_EREADONLY. The view borrows the base device
 * and allocates nothing (it lives in the caller's struct).
 */
#include "io.h"

static int view_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
    vl_io_view *v = ctx;
    if (off > v->len || len > v->len - off) return VL_EIO;
    return v->base->read(v->base->ctx, off, buf, len);
}

static int view_read_crc(void *ctx, uint64_t off, void *buf, uint32_t len, uint32_t *crc)
{
    vl_io_view *v = ctx;
    if (off > v->len || len > v->len - off) return VL_EIO;
    return v->base->read_crc(v->base->ctx, off, buf, len, crc);
}

static int view_size(void *ctx, uint64_t *out)
{
    vl_io_view *v = ctx;
    uint64_t n;
    int rc = v->base->size(v->base->ctx, &n);
    if (rc) return rc;
    *out = n < v->len ? n : v->len;
    return VL_OK;
}

static int view_append(void *ctx, const void *buf, uint32_t len) { (void)ctx; (void)buf; (void)len; return VL_EREADONLY; }
static int view_truncate(void *ctx, uint64_t size) { (void)ctx; (void)size; return VL_EREADONLY; }
static int view_sync(void *ctx) { (void)ctx; return VL_EREADONLY; }

vl_io *vl_io_view_init(vl_io_view *v, vl_io *base, uint64_t len)
{
    v->base = base;
    v->len = len;
    v->io.ctx = v;
    v->io.read = view_read;
    v->io.append = view_append;
    v->io.size = view_size;
    v->io.truncate = view_truncate;
    v->io.sync = view_sync;
    v->io.close = 0;
    v->io.read_crc = base->read_crc ? view_read_crc : 0;
    v->io.read_many = 0;
    return &v->io;
}
