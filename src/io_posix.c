/*
 * io_posix.c — vl_io over a POSIX file descriptor (io_posix.h).
 *
 * read = pread until complete (a short read means the range passes EOF:
 * VL_EIO, as io.h requires); append = write on an O_APPEND descriptor until
 * every byte is out (a failure part-way leaves a torn tail, which the .rvf
 * format tolerates); size = fstat; truncate = ftruncate; sync = fsync (not
 * fdatasync: the size change must be durable too).
 *
 * Invariant: EINTR is retried everywhere; nothing else is.
 * Compiled out under Emscripten (no file system in the WASM build).
 */
#if !defined(__EMSCRIPTEN__)
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io_posix.h"
#include "internal.h"

typedef struct posix_dev {
    vl_io io;          /* first: the vl_io pointer is the device pointer */
    int fd;
    int rdonly;
} posix_dev;

static int px_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
    posix_dev *d = ctx;
    uint8_t *p = buf;
    while (len) {
        if (off > (uint64_t)INT64_MAX) return VL_EIO;
        ssize_t n = pread(d->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return VL_EIO;        /* error, or EOF inside the range */
        p += n; off += (uint64_t)n; len -= (uint32_t)n;
    }
    return VL_OK;
}

static int px_append(void *ctx, const void *buf, uint32_t len)
{
    posix_dev *d = ctx;
    const uint8_t *p = buf;
    if (d->rdonly) return VL_EREADONLY;
    while (len) {
        ssize_t n = write(d->fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return VL_EIO;
        p += n; len -= (uint32_t)n;
    }
    return VL_OK;
}

static int px_size(void *ctx, uint64_t *out)
{
    posix_dev *d = ctx;
    struct stat st;
    if (fstat(d->fd, &st) != 0 || st.st_size < 0) return VL_EIO;
    *out = (uint64_t)st.st_size;
    return VL_OK;
}

static int px_truncate(void *ctx, uint64_t size)
{
    posix_dev *d = ctx;
    if (d->rdonly) return VL_EREADONLY;
    if (size > (uint64_t)INT64_MAX) return VL_EIO;
    while (ftruncate(d->fd, (off_t)size) != 0)
        if (errno != EINTR) return VL_EIO;
    return VL_OK;
}

static int px_sync(void *ctx)
{
    posix_dev *d = ctx;
    if (d->rdonly) return VL_EREADONLY;
    while (fsync(d->fd) != 0)
        if (errno != EINTR) return VL_EIO;
    return VL_OK;
}

static void px_close(void *ctx) { vl_io_posix_free((vl_io *)ctx); }

int vl_io_posix_open(const char *path, uint32_t flags, vl_io **out)
{
    if (!path || !out || (flags & ~7u) || ((flags & VL_IO_POSIX_EXCL) && !(flags & VL_IO_POSIX_CREATE)) ||
        ((flags & VL_IO_POSIX_RDONLY) && (flags & VL_IO_POSIX_CREATE)))
        return VL_EINVAL;
    int of = (flags & VL_IO_POSIX_RDONLY) ? O_RDONLY : (O_RDWR | O_APPEND);
    if (flags & VL_IO_POSIX_CREATE) of |= O_CREAT;
    if (flags & VL_IO_POSIX_EXCL) of |= O_EXCL;
#ifdef O_CLOEXEC
    of |= O_CLOEXEC;
#endif
    posix_dev *d = vl_mem_calloc(1, sizeof *d);
    if (!d) return VL_ENOMEM;
    int fd;
    do fd = open(path, of, 0644); while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        vl_mem_free(d);
        return e == ENOENT ? VL_ENOTFOUND : e == EEXIST ? VL_EINVAL : VL_EIO;
    }
    d->fd = fd;
    d->rdonly = (flags & VL_IO_POSIX_RDONLY) != 0;
    d->io.ctx = d;
    d->io.read = px_read;
    d->io.append = px_append;
    d->io.size = px_size;
    d->io.truncate = px_truncate;
    d->io.sync = px_sync;
    d->io.close = px_close;
    *out = &d->io;
    return VL_OK;
}

void vl_io_posix_free(vl_io *io)
{
    if (!io) return;
    posix_dev *d = (posix_dev *)io;
    close(d->fd);
    vl_mem_free(d);
}

int vl_io_posix_sync_dir(const char *dir)
{
    int fd;
    do fd = open(dir, O_RDONLY); while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno == ENOENT ? VL_ENOTFOUND : VL_EIO;
    int rc = VL_OK;
    while (fsync(fd) != 0)
        if (errno != EINTR) { rc = VL_EIO; break; }
    close(fd);
    return rc;
}

int vl_io_posix_replace(const char *from, const char *to)
{
    if (!from || !to) return VL_EINVAL;
    if (rename(from, to) != 0) return errno == ENOENT ? VL_ENOTFOUND : VL_EIO;
    /* The directory of `to`: everything before its last '/', or ".". */
    const char *slash = strrchr(to, '/');
    if (!slash) return vl_io_posix_sync_dir(".");
    size_t n = (size_t)(slash - to);
    if (n == 0) return vl_io_posix_sync_dir("/");
    char *dir = vl_mem_alloc(n + 1);
    if (!dir) return VL_ENOMEM;
    memcpy(dir, to, n);
    dir[n] = 0;
    int rc = vl_io_posix_sync_dir(dir);
    vl_mem_free(dir);
    return rc;
}
#else
/* An empty translation unit is not ISO C. */
typedef int vl_io_posix_unused;
#endif
