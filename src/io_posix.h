/*
 * io_posix.h — a POSIX-file vl_io device (io.h) for native tests and tools,
 * plus the two directory operations compaction needs (docs/format.md §6:
 * "fsync, rename over, fsync dir").
 *
 * Not built for WebAssembly (the whole of io_posix.c is compiled out under
 * __EMSCRIPTEN__; browsers reach files through the JS devices in idb/).
 *
 * Threads: one device per thread; the device itself holds no locks.
 */
#ifndef VL_IO_POSIX_H
#define VL_IO_POSIX_H

#include <stdint.h>
#include "io.h"

#define VL_IO_POSIX_RDONLY  1u   /* open read-only: append/truncate/sync fail with VL_EREADONLY */
#define VL_IO_POSIX_CREATE  2u   /* create the file if missing (mode 0644) */
#define VL_IO_POSIX_EXCL    4u   /* with CREATE: fail with VL_EINVAL if it exists */

/* Open path as a device. *out is freed by vl_io_posix_free (also io->close).
 * Errors: VL_ENOTFOUND (missing, no CREATE), VL_EINVAL (bad flags, EXCL and
 * the file exists), VL_EIO, VL_ENOMEM. */
VL_MUST_CHECK int vl_io_posix_open(const char *path, uint32_t flags, vl_io **out);
/* Close the file and free the device. NULL is a no-op. */
void vl_io_posix_free(vl_io *io);

/* fsync a directory so a rename/creation inside it is durable. */
VL_MUST_CHECK int vl_io_posix_sync_dir(const char *dir);
/* rename(from, to) atomically replacing `to`, then fsync the directory of
 * `to` (compaction's "rename over, fsync dir"). The caller has synced the
 * file itself. */
VL_MUST_CHECK int vl_io_posix_replace(const char *from, const char *to);

#endif /* VL_IO_POSIX_H */
