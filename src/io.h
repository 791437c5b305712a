/*
 * io.h — the storage seam (vl_io): the only way the core touches bytes that
 * outlive the process.
 *
 * A device is a byte array that grows at its end. The .rvf format
 * (docs/format.md) is append-only, so the core needs exactly five operations:
 * positional read, append, size, truncate and sync (plus an optional read
 * that also hashes, for devices with a faster CRC-32 than the core's). Devices:
 *   - memory (src/io_mem.c): tests, fuzzing, export()/open(bytes);
 *   - POSIX file (native tests and tools);
 *   - Node file, OPFS SyncAccessHandle, IndexedDB: implemented in JS and
 *     reached through imports declared in src/wasm.c.
 *
 * Invariants:
 *   - Every callback returns VL_OK or a negative VL_E* code (VL_EIO for
 *     device failures). Callbacks never longjmp or throw: JS devices catch,
 *     stash the error and return VL_EIO (docs/conventions.md §3).
 *   - read() of a range past size() is an error (VL_EIO), never a short read.
 *   - append() either writes all len bytes or fails; after a failure the
 *     size may have grown by a torn tail, which the format tolerates.
 *   - sync() returns only when appended bytes are durable.
 */
#ifndef VECLITE_IO_H
#define VECLITE_IO_H

#include <stdint.h>
#include "veclite.h"

typedef struct vl_io vl_io;
struct vl_io {
    void *ctx;
    int (*read)(void *ctx, uint64_t off, void *buf, uint32_t len);
    int (*append)(void *ctx, const void *buf, uint32_t len);
    int (*size)(void *ctx, uint64_t *out);
    int (*truncate)(void *ctx, uint64_t size);
    int (*sync)(void *ctx);
    void (*close)(void *ctx);   /* may be NULL */
    /* May be NULL. read(), and *crc advanced over the bytes read (CRC-32/IEEE
     * chained as zlib's crc32(crc, buf, len)): a device with a faster hash
     * than the core's (Node's zlib) verifies the very bytes it put in buf. */
    int (*read_crc)(void *ctx, uint64_t off, void *buf, uint32_t len, uint32_t *crc);
    /* May be NULL. n reads of len bytes, the i-th from offs[i] into
     * buf + i*len, in one call: a quantized store's re-ranking reads its
     * candidates' float32 rows this way (one crossing into JS per query). */
    int (*read_many)(void *ctx, uint32_t n, const uint64_t *offs, uint32_t len, void *buf);
};

/* Memory device. The device owns a growable buffer.
 * vl_io_mem_open copies len bytes of init (may be NULL/0) as the initial
 * contents. Free with vl_io_mem_free (which also runs on io->close). */
VL_MUST_CHECK int vl_io_mem_open(const uint8_t *init, uint64_t len, vl_io **out);
void vl_io_mem_free(vl_io *io);
/* Borrow the current contents (valid until the next append/truncate). */
const uint8_t *vl_io_mem_data(const vl_io *io, uint64_t *len);
/* Test hook: make the next `fail_after` successful operations pass and every
 * later append/sync fail with VL_EIO (0 disables). Only append and sync calls
 * are counted (reads, size and truncate always work); a failing append first
 * writes len/2 bytes, a torn tail as a crash would leave (see io_mem.c). */
void vl_io_mem_fail_after(vl_io *io, uint32_t fail_after);

/* Test hooks (see io_mem.c): fail exactly the nth next append/sync call
 * (1 = the next one), once; every other call succeeds (0 disarms). With
 * vl_io_mem_fail_truncate(io, 1) every truncate fails with VL_EIO until it
 * is called with 0. Together they let a test fail one step of a commit and
 * then let (or not let) the rollback of that commit succeed. */
void vl_io_mem_fail_once(vl_io *io, uint32_t nth);
void vl_io_mem_fail_truncate(vl_io *io, int on);

/* A read-only view of the first len bytes of base (io_view.c): the bytes
 * of one commit, whatever a writer appends to base meanwhile. Lives in the
 * caller's struct (no allocation); borrows base. */
typedef struct vl_io_view {
    vl_io io;
    vl_io *base;
    uint64_t len;
} vl_io_view;
vl_io *vl_io_view_init(vl_io_view *v, vl_io *base, uint64_t len);

#endif /* VECLITE_IO_H */
