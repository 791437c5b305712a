/*
 * sha256.h — SHA-256 (FIPS 180-4), streaming and one-shot.
 *
 * Used for content ids: the trailing digest of META segments (docs/format.md §4)
 * and snapshot cids. Not used for segment content_hash (that is CRC-32).
 * Portable C, no host byte-order assumptions; compiles unchanged to WASM.
 */
#ifndef VL_SHA256_H
#define VL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct vl_sha256_ctx {
    uint32_t h[8];
    uint64_t nbytes;      /* bytes absorbed so far */
    uint8_t buf[64];
    uint32_t nbuf;        /* bytes pending in buf (< 64) */
} vl_sha256_ctx;

void vl_sha256_init(vl_sha256_ctx *s);
void vl_sha256_update(vl_sha256_ctx *s, const void *data, size_t len);
/* Writes the 32-byte digest; s must be re-initialised before reuse. */
void vl_sha256_final(vl_sha256_ctx *s, uint8_t out[32]);
void vl_sha256(const void *data, size_t len, uint8_t out[32]);
/* The host's SHA-256 for vl_sha256 of VL_SHA256_HOST_MIN bytes or more (the
 * WebAssembly binding installs Node's crypto: the META digests of a big
 * store hash natively). fn returns 0 when it wrote the digest, nonzero to
 * fall back to this file's code; NULL uninstalls. */
#define VL_SHA256_HOST_MIN 65536u
void vl__sha256_host(int (*fn)(const void *data, size_t len, uint8_t out[32]));

#endif /* VL_SHA256_H */
