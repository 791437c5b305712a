/*
 * rvf_internal.h — private to the .rvf format layer (rvf.c, rvf_commit.c,
 * rvf_compact.c, rvf_witness.c, rvf_refresh.c): the handle struct, the
 * little-endian helpers and the vl__rvf_* functions those files share.
 * Nothing else includes it; the rest of the core uses rvf.h.
 *
 * The handle's invariants are listed at the top of rvf.c.
 */
#ifndef VL_RVF_INTERNAL_H
#define VL_RVF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "rvf.h"
#include "crc32.h"
#include "internal.h"

#define NONE        UINT32_MAX
#define FIDI_MAGIC  0x46494449u
#define MAN_FIXED   22u            /* manifest bytes before the directory */
#define DIRENT_SIZE 25u
#define FIDI_SIZE   72u            /* marker + 68 */
#define IO_CHUNK    (1u << 20)     /* bytes per device read when streaming */
#define TAIL_FIRST  (64u << 10)    /* first backward-scan window */
#define MAX_ENTRIES (1u << 30)     /* distinct loaded ids (idmap keeps load <= 1/2 of 2^31) */

/* ---- little-endian helpers ---- */

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }
static inline float rdf(const uint8_t *p) { uint32_t u = rd32(p); float f; memcpy(&f, &u, 4); return f; }
static inline void wrf(uint8_t *p, float f) { uint32_t u; memcpy(&u, &f, 4); wr32(p, u); }
static inline uint32_t rotl32(uint32_t x, unsigned r) { return r ? (x << r) | (x >> (32 - r)) : x; }

/* ---- the handle ---- */

typedef struct dent {              /* directory entry */
    uint64_t seg_id, offset, plen;
    uint32_t type;
    uint32_t vec;                  /* VEC: ordinal in vecs[], else NONE */
} dent;

typedef struct vecseg {            /* a VEC segment this session has seen */
    uint64_t *ids;                 /* distinct ids, first-occurrence order (NULL once dropped) */
    uint32_t nids;
    uint32_t count;                /* rows */
    uint32_t live_refs;            /* live entries whose winning row is here */
    uint32_t listed;               /* still in the directory */
    /* Set once this handle has read the whole payload back from the device
     * and its CRC matched (load): later scans of the same bytes (same
     * offset, length and stored hash, re-read from the header) skip the
     * hash, so a store open verifies every VEC payload once, not twice. */
    uint32_t verified;
    uint64_t v_off, v_len;
    uint8_t v_hash[16];
} vecseg;

typedef struct entry {             /* one loaded id */
    uint64_t id;
    uint32_t seg;                  /* vecs ordinal of the winning row, or NONE */
    uint32_t row;                  /* row index inside that segment */
    uint32_t nseg;                 /* listed VEC segments containing the id */
    uint32_t del_pos;              /* index in del[] if deleted, else NONE */
} entry;

struct vl_rvf {
    vl_io *io;
    uint32_t dim, metric, epoch, profile, depth, flags;
    uint8_t file_id[16], parent_id[16], parent_hash[32], wit_hash[32];
    uint32_t n_witness;
    uint64_t next_seg_id, manifest_offset, committed_end, append_at;

    dent *dir;    uint32_t ndir, cap_dir;
    vecseg *vecs; uint32_t nvecs, cap_vecs;
    entry *ents;  uint32_t nents, cap_ents;
    uint64_t *del; uint32_t ndel, cap_del;
    vl_idmap map;

    int poisoned;
    int outcome;                   /* VL_OUTCOME_* of the last failed write */
    uint32_t man_crc;              /* CRC-32 of the committed manifest's payload */
    uint8_t man_hdr[64];           /* its header as opened or refreshed (vl_rvf_refresh checks
                                      that the bytes there are still this header) */
    uint64_t read_ns, crc_ns;      /* time in device reads and content hashes (vl_rvf_costs) */
    /* between vl_rvf_open_head and vl_rvf_open_rows: what the rows phase still applies */
    int rows_pending;
    uint32_t ids_deferred;         /* rows of vecs[] not in ents yet (vl_rvf_compact_ex defer_ids) */
    uint64_t *pend_del; uint32_t pend_ndel;   /* the manifest's deleted ids */
    uint64_t pend_size, pend_maxid, rows_claimed;
    char msg[256];
};

/* ---- rvf.c: header, hashing, handle, id bookkeeping, device access, manifest, open ---- */

typedef struct mview {
    uint32_t epoch, dim, nseg, ndel, profile, metric, has_fidi;
    uint64_t total;
    const uint8_t *dirp, *delp, *fidi;   /* fidi points past the marker (68 bytes) */
} mview;

/* Read len bytes at off into buf and advance *crc over them (the device's
 * read_crc when it has one, else a read and vl_crc32); time goes to read_ns
 * (a device that hashes while it reads reports both as reading). */
int vl__rvf_dev_read_crc(vl_rvf *h, uint64_t off, void *buf, uint32_t len, uint32_t *crc);
/* vl_crc32 of a payload, its time added to h->crc_ns. */
uint32_t vl__rvf_crc(vl_rvf *h, uint32_t crc, const void *p, size_t n);

typedef int (*row_visit)(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id,
                         const uint8_t *vec);
typedef int (*wit_fn)(vl_rvf *h, void *ctx, uint64_t off, const uint8_t *hdr, const uint8_t *p,
                      uint64_t plen);

void vl__rvf_put_msg(char *msg, uint32_t cap, const char *fmt, ...);
int vl__rvf_hash_ok(const uint8_t stored[16], uint32_t crc);
int vl__rvf_fail(vl_rvf *h, int rc, const char *fmt, ...);
int vl__rvf_poison(vl_rvf *h, int rc, const char *what);
vl_rvf *vl__rvf_handle_new(vl_io *io);
int vl__rvf_cmp_u64(const void *a, const void *b);
int vl__rvf_grow(void **p, uint32_t *cap, uint64_t need, size_t elem);
int vl__rvf_reserve_ids(vl_rvf *h, uint64_t extra);
void vl__rvf_upsert_row(vl_rvf *h, uint32_t k, uint32_t row, uint64_t id);
int vl__rvf_delete_id(vl_rvf *h, uint64_t id);
void vl__rvf_drop_vec(vl_rvf *h, uint32_t k);
void vl__rvf_vecs_gc(vl_rvf *h);
void vl__rvf_prune_dir(vl_rvf *h, int rows_changed);
int vl__rvf_dev_size(vl_rvf *h, uint64_t *out);
int vl__rvf_dev_read(vl_rvf *h, uint64_t off, void *buf, uint64_t len);
int vl__rvf_dev_append(vl_rvf *h, const void *buf, uint64_t len);
int vl__rvf_dev_sync(vl_rvf *h);
int vl__rvf_crc_range(vl_rvf *h, uint64_t off, uint64_t len, uint8_t *scratch, uint32_t scap,
                      uint32_t *crc);
void vl__rvf_adopt_manifest(vl_rvf *h, const mview *m, uint64_t mpos, const vl_rvf_header *mh,
                            const uint8_t *mp);
int vl__rvf_find_manifest(vl_rvf *h, uint64_t size, uint64_t floor, uint64_t *mpos, vl_rvf_header *hd,
                          uint8_t **payload, mview *m, int *found);
int vl__rvf_check_listed(vl_rvf *h, const dent *d, vl_rvf_header *hd);
int vl__rvf_vec_walk(vl_rvf *h, const dent *d, uint32_t k, row_visit fn, void *ctx,
                     uint32_t *count_out, int trust, const vl_rvf_sink *sink);
/* Bytes a vl__rvf_vec_walk_buf buffer needs for dimension dim. */
#define VL_RVF_WALK_BUF(dim) ((uint64_t)IO_CHUNK > 8 + 4 * (uint64_t)(dim) ? (uint64_t)IO_CHUNK : 8 + 4 * (uint64_t)(dim))
int vl__rvf_vec_walk_buf(vl_rvf *h, const dent *d, uint32_t k, row_visit fn, void *ctx,
                         uint32_t *count_out, int trust, const vl_rvf_sink *sink, uint8_t *given);
int vl__rvf_read_small(vl_rvf *h, const dent *d, uint32_t cap, uint8_t **out);
int vl__rvf_tail_walk(vl_rvf *h, uint64_t size, uint32_t *kept, uint64_t *maxid);
int vl__rvf_find_head(vl_rvf *h, uint64_t *maxid);

/* growable arrays (reserve before mutating, so mutation cannot fail) */
#define GROW(h, arr, n, cap, extra) vl__rvf_grow((void **)&(h)->arr, &(h)->cap, (uint64_t)(h)->n + (extra), sizeof *(h)->arr)

/* ---- rvf_commit.c: writing segments and commits ---- */

int vl__rvf_emit_segment(vl_rvf *h, uint32_t type, uint64_t seg_id, const uint8_t *p, uint64_t plen);
/* A segment header whose payload (plen bytes, CRC-32 crc) the caller appends next. */
int vl__rvf_emit_header(vl_rvf *h, uint32_t type, uint64_t seg_id, uint64_t plen, uint32_t crc);
uint32_t vl__rvf_witness_encode(uint8_t *out, uint32_t type, uint64_t ts, const char *action,
                                const uint8_t prev[32]);
void vl__rvf_manifest_encode(const vl_rvf *h, uint8_t *buf);
int vl__rvf_manifest_alloc(vl_rvf *h, uint64_t add_dir, uint64_t add_del, uint8_t **buf);
int vl__rvf_commit_begin(vl_rvf *h, uint64_t nids);
int vl__rvf_commit_finish(vl_rvf *h, const uint8_t *wit, uint32_t wlen, uint64_t wid, uint64_t pos,
                          uint8_t *mbuf, uint64_t man_id);

/* ---- rvf_witness.c: the forward walk over the witness chain ---- */

int vl__rvf_witness_walk(vl_rvf *h, uint64_t limit, wit_fn fn, void *ctx, vl_rvf_witness_report *r);

#endif
