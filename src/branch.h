/*
 * branch.h — @ruvector/rvf-node branch() children: the two segments that
 * make a child file copy-on-write over its parent (COW_MAP 0x20,
 * MEMBERSHIP 0x22), parsed, checked against the parent, and re-encoded.
 *
 * How it fits: rvf.c carries both segment types without interpreting them;
 * store.c (load, delete, clear) uses this module to see the parent's rows
 * through the child's membership bitmap and to write a new MEMBERSHIP when
 * the child deletes inherited rows. The layouts, as rvf-node 0.2.3 writes
 * them (measured; tests/golden/rvf/README.md "branch() children"):
 *
 *   COW_MAP payload   "RVCM" u32 | u16 version 1 | u8 map_format 0 | u8 0 |
 *                     u32 cluster_size | u32 vectors_per_cluster |
 *                     [16] parent file_id | [32] parent hash          (64)
 *                     u64 4*dim | u8 0 | u32 path_len | u32 map_len    (17)
 *                     path (the parent's, relative to the child's
 *                     directory) | map (u8 format | u32 n | n x 9 bytes)
 *   MEMBERSHIP payload "RVMB" u32 | u16 version 1 | u8 filter_type 0
 *                     (bitmap) | u8 mode (0 include, 1 exclude) |
 *                     u64 vector_count | u64 member_count |
 *                     u64 filter_offset (96) | u32 filter_size |
 *                     u32 generation | [32] fold32(bitmap) |
 *                     u64 bloom_offset | u32 bloom_size | u32 0 | [8] 0  (96)
 *                     bitmap: ceil(vector_count / 64) u64 LE words, bit
 *                     id % 64 of word id / 64 set for a visible parent id
 *
 * Invariants: a parsed vl_branch never indexes past its bitmap (ids >=
 * vector_count are never members in include mode); every length is
 * checked against the payload before use (hostile files); the parent hash
 * is fold32 of the parent file's last min(64 KiB, size) bytes, as recorded
 * when the child was made (a parent changed since is refused, as rvf-node
 * refuses it with ParentHashMismatch).
 */
#ifndef VL_BRANCH_H
#define VL_BRANCH_H

#include <stdint.h>
#include "io.h"

#define VL_BRANCH_COW_MAGIC   0x5256434Du   /* "RVCM" little-endian: bytes 4D 43 56 52 */
#define VL_BRANCH_MEM_MAGIC   0x52564D42u   /* "RVMB" little-endian: bytes 42 4D 56 52 */
#define VL_BRANCH_MAX_PATH    4096u         /* longest parent path accepted */

typedef struct vl_branch {
    /* COW_MAP */
    uint8_t parent_id[16];
    uint8_t parent_hash[32];
    char path[VL_BRANCH_MAX_PATH + 1];   /* NUL-terminated, as stored */
    /* MEMBERSHIP */
    uint8_t mem_hdr[96];                 /* header as read (re-emitted with the new bitmap) */
    uint32_t exclude;                    /* mode 1: a set bit hides the id */
    uint64_t vector_count;               /* ids < it have a bit */
    uint64_t nwords;
    uint64_t *bits;                      /* owned (vl_mem) */
} vl_branch;

/* Parse a COW_MAP payload into b (path, parent id and hash). VL_OK, or
 * VL_ECORRUPT / VL_EVERSION with a reason in why. */
int vl_branch_parse_cow(vl_branch *b, const uint8_t *p, uint64_t n, char *why, uint32_t why_cap);

/* Parse a MEMBERSHIP payload into b (the bitmap is copied). VL_OK,
 * VL_ECORRUPT / VL_EVERSION (reason in why), VL_ENOMEM. */
int vl_branch_parse_membership(vl_branch *b, const uint8_t *p, uint64_t n, char *why, uint32_t why_cap);

/* 1 if the parent's row id is visible through the membership filter. */
int vl_branch_visible(const vl_branch *b, uint64_t id);

/* Hide parent row id (clear its bit; in exclude mode set it when it has
 * one). Returns 1 if the visibility changed. */
int vl_branch_hide(vl_branch *b, uint64_t id);

/* A MEMBERSHIP payload of b's current bitmap (header fields as read,
 * member_count recounted, filter_hash recomputed). *out is vl_mem owned by
 * the caller. VL_OK or VL_ENOMEM. */
int vl_branch_encode_membership(const vl_branch *b, uint8_t **out, uint64_t *len);

/* Check that parent_io holds the file the child was branched from: its
 * file_id (from the caller's vl_rvf_info) and fold32 of its last
 * min(64 KiB, size) bytes. VL_OK, VL_ECORRUPT (reason in why), VL_EIO,
 * VL_ENOMEM. */
int vl_branch_check_parent(const vl_branch *b, vl_io *parent_io, const uint8_t parent_file_id[16],
                           char *why, uint32_t why_cap);

void vl_branch_free(vl_branch *b);     /* frees the bitmap; b itself is the caller's */

#endif /* VL_BRANCH_H */
