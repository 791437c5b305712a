/*
 * rvf.h — internal API of the .rvf format layer (src/rvf.c; docs/format.md).
 *
 * What it is: the durable representation of one collection as an
 * append-only file of segments, byte-compatible with @ruvector/rvf-node
 * 0.2.3. This layer knows segments, manifests, ids and raw f32 rows; it
 * knows nothing of HNSW, metadata records or JS. The engine opens a store
 * here, feeds the live rows (vl_rvf_scan) into its index, and mirrors every
 * durable mutation through vl_rvf_ingest / vl_rvf_delete / vl_rvf_compact.
 *
 * Model (see the top of rvf.c for the byte layout and the rationale):
 *   - A handle (vl_rvf) is the in-memory picture of the newest committed
 *     MANIFEST: dimension, metric, epoch, file identity (FIDI), directory,
 *     deleted ids, next segment id, the hash that chains the next WITNESS,
 *     and an id -> (segment, row) map of every loaded row. It holds no
 *     vectors: vl_rvf_scan re-reads them from the device.
 *   - Every write appends through vl_io and never rewrites a byte:
 *     data segments, sync, MANIFEST, sync. A crash at any point leaves the
 *     previous commit as the newest valid manifest.
 *   - The directory grows with the live data, not with the commits: VEC
 *     segments are merged in tiers (an ingest may append one merged VEC
 *     segment holding the live rows of the newest segments; O(log n) VEC
 *     segments stay listed), and no WITNESS is listed (the chain is in the
 *     file, in order: vl_rvf_witness_chain; a directory without witnesses
 *     passes the chain rule newer upstream runtimes check on open).
 *   - A writable handle cuts the uncommitted tail (bytes after the
 *     committed manifest, except complete WITNESS segments right after it)
 *     before its first append: see append_at below.
 *   - The handle borrows its device (io): the caller keeps it open until
 *     vl_rvf_free and must not modify it behind the handle's back.
 *
 * Errors: functions return VL_OK or a negative VL_E* (veclite.h) and leave
 * a message in vl_rvf_errmsg(h) (or in the caller's msg buffer when no
 * handle exists). Codes used:
 *   VL_ENOTFOUND  no committed state (empty device, or no valid MANIFEST)
 *   VL_ECORRUPT   committed data is damaged or inconsistent
 *   VL_EVERSION   the file needs a newer reader (segment version != 1,
 *                 unknown checksum_algo / compression / metric)
 *   VL_EBUDGET    the file exceeds a hard cap of this build (VL_RVF_MAX_*)
 *   VL_EINVAL     bad argument (wrong dimension, non-empty target device...)
 *   VL_ENOMEM     allocation failed; the handle is unchanged
 *   VL_EIO        the device failed
 *   VL_EFATAL     a durable write failed earlier: the handle is poisoned,
 *                 only vl_rvf_info / vl_rvf_errmsg / vl_rvf_free remain
 *                 meaningful; reopen the device to recover.
 * A failed write (EIO during append/sync) is rolled back (the device is
 * truncated to the previous commit and synced), poisons the handle and
 * returns VL_EIO (later calls: VL_EFATAL); vl_rvf_write_outcome tells
 * whether the rollback succeeded. Validation errors (EINVAL, EBUDGET,
 * ENOMEM) are detected before anything is written and leave it usable.
 *
 * Threads: a handle is not thread-safe; distinct handles are independent.
 */
#ifndef VL_RVF_H
#define VL_RVF_H

#include <stdint.h>
#include "io.h"

/* ---- Segment header (docs/format.md §2) ---- */
#define VL_RVF_MAGIC        0x52564653u   /* "SFVR" on disk */
#define VL_RVF_HEADER_SIZE  64u
#define VL_RVF_VERSION      1u

/* Segment types (docs/format.md §3). */
#define VL_RVF_SEG_VEC        0x01u
#define VL_RVF_SEG_INDEX      0x02u
#define VL_RVF_SEG_JOURNAL    0x04u
#define VL_RVF_SEG_MANIFEST   0x05u
#define VL_RVF_SEG_META       0x07u
#define VL_RVF_SEG_WITNESS    0x0Au
#define VL_RVF_SEG_COW_MAP    0x20u
#define VL_RVF_SEG_MEMBERSHIP 0x22u

/* ---- Hard caps (a hostile file can make us allocate at most these) ---- */
#define VL_RVF_MAX_MANIFEST  (256u << 20)  /* manifest payload bytes (= rvf-node's read cap) */
#define VL_RVF_MAX_DIR       (1u << 21)    /* directory entries */
#define VL_RVF_MAX_WITNESS   (1u << 20)    /* witness payload bytes */
#define VL_RVF_VEC_TARGET    (16u << 20)   /* VEC payload bytes per written segment */

/* The 64-byte segment header, field for field. The C layout equals the
 * disk layout (static_asserts in rvf.c), but encode/decode go through
 * explicit little-endian byte operations, never memcpy of the struct. */
typedef struct vl_rvf_header {
    uint32_t magic;            /* 0x00 */
    uint8_t  version;          /* 0x04 */
    uint8_t  seg_type;         /* 0x05 */
    uint16_t flags;            /* 0x06 */
    uint64_t segment_id;       /* 0x08 */
    uint64_t payload_length;   /* 0x10 */
    uint64_t timestamp_ns;     /* 0x18 */
    uint8_t  checksum_algo;    /* 0x20 */
    uint8_t  compression;      /* 0x21 */
    uint16_t reserved0;        /* 0x22 */
    uint32_t reserved1;        /* 0x24 */
    uint8_t  content_hash[16]; /* 0x28 */
    uint32_t uncompressed_len; /* 0x38 */
    uint32_t alignment_pad;    /* 0x3C */
} vl_rvf_header;

void vl_rvf_header_encode(const vl_rvf_header *h, uint8_t out[64]);
void vl_rvf_header_decode(const uint8_t in[64], vl_rvf_header *h);
/* VL_OK if this reader can interpret the segment: magic ok (else
 * VL_ECORRUPT), version 1, checksum_algo 0 and compression 0 (else
 * VL_EVERSION with a message naming what is needed). off is used in the
 * message only. msg may be NULL. */
int vl_rvf_header_check(const vl_rvf_header *h, uint64_t off, char *msg, uint32_t msg_cap);

/* content_hash of a payload whose CRC-32 is crc (docs/format.md §2). */
void vl_rvf_content_hash(uint32_t crc, uint8_t out[16]);

/* fold32 (docs/format.md §4, the witness chain hash), incremental: feed bytes in
 * any split; `pos` counts bytes absorbed (the fold depends on the index). */
typedef struct vl_rvf_fold32 {
    uint8_t out[32];
    uint64_t pos;
} vl_rvf_fold32;
void vl_rvf_fold32_init(vl_rvf_fold32 *f);
void vl_rvf_fold32_update(vl_rvf_fold32 *f, const uint8_t *data, uint64_t len);
void vl_rvf_fold32_once(const uint8_t *data, uint64_t len, uint8_t out[32]);

/* ---- Store handle ---- */
typedef struct vl_rvf vl_rvf;

/* One directory entry of the committed manifest. */
typedef struct vl_rvf_dirent {
    uint64_t seg_id;
    uint64_t offset;           /* file offset of the segment header */
    uint64_t payload_length;
    uint32_t seg_type;
} vl_rvf_dirent;

#define VL_RVF_F_FIDI     1u   /* manifest carries a FIDI block */
#define VL_RVF_F_BRANCH   2u   /* COW_MAP/MEMBERSHIP present: an rvf-node branch() child whose
                                  inherited rows live in its parent file (not read here) */
#define VL_RVF_F_INDEX    4u   /* an rvf-node HNSW INDEX segment is in the directory */

/* Scalar state of the committed manifest (a copy; see vl_rvf_info). */
typedef struct vl_rvf_info {
    uint32_t dim;              /* 1..65535; 0: unset (an empty rvf-node store, vl_rvf_set_dim) */
    uint32_t metric;           /* VL_METRIC_* (0 L2², 1 -dot, 2 1-cos) */
    uint32_t epoch;
    uint32_t profile;          /* manifest profile byte, carried forward */
    uint32_t lineage_depth;
    uint32_t flags;            /* VL_RVF_F_* */
    uint8_t  file_id[16];
    uint8_t  parent_id[16];
    uint8_t  parent_hash[32];
    uint8_t  last_witness_hash[32]; /* fold32 of the newest WITNESS payload before
                                       append_at (zeros if none): prev_hash of the
                                       next one */
    uint32_t witness_count;    /* WITNESS segments in the directory: 0 after any commit
                                  of this version (older files of ours list one,
                                  rvf-node's list every one); the chain:
                                  vl_rvf_witness_chain */
    uint32_t dir_count;        /* directory entries */
    uint64_t next_seg_id;      /* max(directory ids, manifest id, kept tail witness ids)
                                  + 1: above every segment id before append_at */
    uint64_t live;             /* live ids */
    uint64_t loaded;           /* distinct ids in directory VEC segments (= total_vectors) */
    uint64_t deleted;          /* loaded ids hidden by the deleted list */
    uint64_t manifest_offset;  /* header offset of the committed manifest */
    uint64_t committed_end;    /* end of the committed manifest */
    uint64_t append_at;        /* where the next segment goes: committed_end plus the
                                  run of complete, hash-valid WITNESS segments right
                                  after it (rvf-node's post-manifest compaction
                                  witness). Everything beyond (torn bytes, or the
                                  complete segments of a commit whose MANIFEST never
                                  landed) is uncommitted and truncated by the next
                                  write */
} vl_rvf_info;

/* Open the newest committed state of io (docs/format.md §5): scan back from the
 * end for the newest MANIFEST whose payload parses and whose hash verifies,
 * then verify and index every VEC segment of its directory, and find the
 * witness chain head (usually one small read right before the manifest;
 * an unlisted witness that fails verification never fails the open: the
 * chain walk reports it). Reads only.
 * msg (may be NULL) receives the reason on failure.
 * Errors: VL_ENOTFOUND (no committed state: empty device or no valid
 * manifest — the caller may create a store only if the size is 0),
 * VL_ECORRUPT, VL_EVERSION, VL_EBUDGET, VL_ENOMEM, VL_EIO. */
VL_MUST_CHECK int vl_rvf_open(vl_io *io, vl_rvf **out, char *msg, uint32_t msg_cap);

/* vl_rvf_open in two phases, so a caller can place the rows it is about to
 * read (the store reads them straight into its index's vector slots):
 * vl_rvf_open_head does everything but the VEC segments (manifest,
 * directory, the other listed segments verified); vl_rvf_open_rows then
 * verifies and indexes every VEC segment, applies the deleted list and
 * finds the witness chain head (vl_rvf_open = both, no sink). Between the
 * two only the directory, payload reads (vl_rvf_read_payload),
 * vl_rvf_info_get's layout fields and vl_rvf_rows_claimed (the rows the
 * VEC segments claim: an upper bound of the rows the sink receives) may be
 * used; on a failure of vl_rvf_open_rows the handle is only good for
 * vl_rvf_errmsg and vl_rvf_free.
 * A sink (may be NULL) receives every row batch of every listed VEC segment
 * in directory order: room() gives where to read nr rows (nr x (8 + 4 dim)
 * bytes: u64 id | f32[dim] each, little-endian) that start at row `row` of
 * VEC segment k (file offset seg_off); NULL: out of memory. done() is called
 * once they are there and hashed (the segment's content hash is compared
 * after its last batch: a mismatch fails the open, VL_ECORRUPT) and their
 * ids indexed: from then on the sink may rewrite those bytes. A non-zero
 * return from done() fails the open with that code. */
typedef struct vl_rvf_sink {
    void *ctx;
    uint8_t *(*room)(void *ctx, uint32_t k, uint64_t seg_off, uint32_t row, uint32_t nr);
    int (*done)(void *ctx, uint32_t k, uint64_t seg_off, uint32_t row, uint32_t nr, uint8_t *rows);
} vl_rvf_sink;
VL_MUST_CHECK int vl_rvf_open_head(vl_io *io, vl_rvf **out, char *msg, uint32_t msg_cap);
VL_MUST_CHECK int vl_rvf_open_rows(vl_rvf *h, const vl_rvf_sink *sink);
uint64_t vl_rvf_rows_claimed(const vl_rvf *h);
/* After the open: 1 if row `row` of VEC segment k (sink numbering) holding
 * id is its id's winning row; *live: it is not deleted. */
int vl_rvf_row_wins(const vl_rvf *h, uint32_t k, uint32_t row, uint64_t id, int *live);

/* Create a store on an empty device: one MANIFEST (epoch 0) with a FIDI
 * block {file_id, zero parent, depth 0}; then sync. file_id is 16 random
 * bytes chosen by the caller. Errors: VL_EINVAL (device not empty, dim
 * outside 1..65535, unknown metric), VL_ENOMEM, VL_EIO. */
VL_MUST_CHECK int vl_rvf_create(vl_io *io, uint32_t dim, uint32_t metric,
                                const uint8_t file_id[16], vl_rvf **out,
                                char *msg, uint32_t msg_cap);

/* Create a child store on an empty device (docs/format.md §6 derive): MANIFEST
 * epoch 0, FIDI {child_file_id, parent_id = parent's file_id, parent_hash =
 * fold32 of the last <= 64 KiB of the parent (up to its append_at), depth =
 * parent depth + 1}, same dimension, metric and profile, no vectors.
 * The parent is only read. Errors: as vl_rvf_create, plus VL_EINVAL when the
 * parent's depth is already UINT32_MAX. */
VL_MUST_CHECK int vl_rvf_derive(vl_rvf *parent, vl_io *child_io,
                                const uint8_t child_file_id[16], vl_rvf **out,
                                char *msg, uint32_t msg_cap);

/* Fix the dimension of a dimension-0 store (rvf-node's "unset": an empty
 * store whose first ingest decides it). Allowed only while no VEC segment is
 * listed; the next commit writes it into its MANIFEST. dim 0 sets it back
 * (a caller whose first commit failed before writing). Errors: VL_EINVAL
 * (the store has vectors, or another nonzero dimension), VL_EFATAL. */
VL_MUST_CHECK int vl_rvf_set_dim(vl_rvf *h, uint32_t dim);

/* The payload of the newest committed manifest's last listed segment of
 * seg_type, read and hash-verified, without loading the store (one
 * backward manifest scan: cheap next to vl_rvf_open, which verifies every
 * VEC segment). Used to find a branch() child's parent before opening it.
 * *out (vl_mem, caller frees) is NULL and *len 0 when no such segment is
 * listed or no manifest is found (vl_rvf_open then reports why).
 * Errors: VL_ECORRUPT, VL_EVERSION, VL_EBUDGET (payload over cap),
 * VL_ENOMEM, VL_EIO. */
VL_MUST_CHECK int vl_rvf_peek_listed(vl_io *io, uint32_t seg_type, uint64_t cap, uint8_t **out,
                                     uint64_t *len);

void vl_rvf_free(vl_rvf *h);                  /* NULL is a no-op; never closes io */
const char *vl_rvf_errmsg(const vl_rvf *h);   /* never NULL */
void vl_rvf_info_get(const vl_rvf *h, vl_rvf_info *out);
/* Bytes the handle holds: directory, per-id entries and their map, the VEC
 * segments' id lists, the deleted list (rvf_commit.c). */
uint64_t vl_rvf_memory_bytes(const vl_rvf *h);
/* Nanoseconds this handle has spent in device reads and in content hashes
 * (CRC-32) since it was opened: diagnostics (vl_store_status.open_*_us). */
void vl_rvf_costs(const vl_rvf *h, uint64_t *read_ns, uint64_t *crc_ns);
vl_io *vl_rvf_io(const vl_rvf *h);

/* Directory entry i (0 <= i < dir_count). VL_EINVAL if out of range. */
VL_MUST_CHECK int vl_rvf_dir(const vl_rvf *h, uint32_t i, vl_rvf_dirent *out);
/* Copy up to cap deleted ids, ascending, into out (may be NULL with cap 0);
 * returns how many exist. */
uint64_t vl_rvf_deleted_ids(const vl_rvf *h, uint64_t *out, uint64_t cap);
/* 1 if id is live, else 0. */
int vl_rvf_is_live(const vl_rvf *h, uint64_t id);
/* File offset of the dim float32 components of id's live row (the winning
 * row of a listed VEC segment): VL_OK, VL_ENOTFOUND (not live, or its row
 * is not in this file), VL_ECORRUPT. A linear walk of the directory. */
int vl_rvf_row_offset(const vl_rvf *h, uint64_t id, uint64_t *off);

/* Visit every live row once, in directory order: cb(ctx, id, vec) with vec
 * = dim floats valid only during the call. A nonzero return from cb stops
 * the scan and is returned. Re-reads and re-verifies the VEC segments.
 * Errors: VL_ECORRUPT (the device changed under the handle), VL_EIO,
 * VL_ENOMEM, VL_EFATAL. */
typedef int (*vl_rvf_row_fn)(void *ctx, uint64_t id, const float *vec);
VL_MUST_CHECK int vl_rvf_scan(vl_rvf *h, vl_rvf_row_fn cb, void *ctx);

/* Commit an upsert batch (docs/format.md §6): VEC segment(s) of the n rows (ids
 * n u64, vecs n*dim floats row-major, stored as given), WITNESS
 * "ingest:count=n,epoch=E", sync, MANIFEST epoch E = epoch+1, sync.
 * Tiered merge: while the newest VEC segments (the batch's first) hold at
 * least half the live rows of the segment before them, and the result fits
 * VL_RVF_VEC_TARGET, they are merged: one VEC segment holding exactly their
 * winning live rows (listed rows copied bit for bit) is appended before
 * the WITNESS and listed last instead of them; a batch segment merged at
 * once is not written separately. Rows keep their ids and bits but may
 * move to a higher file offset. vl_rvf_commit merges the same way (with
 * an INDEX barrier under keep_index, see there).
 * A later row with the same id replaces an earlier one, also within the
 * batch; an upsert of a deleted id brings it back. now_ns is the witness
 * timestamp. n == 0 commits nothing. Floats are stored bit-exact (the
 * engine validates NaN/zero vectors before calling).
 * Errors: VL_EINVAL (NULL arrays, epoch exhausted), VL_EBUDGET (manifest or
 * directory would exceed a cap: compact first), VL_ENOMEM, VL_EIO, VL_EFATAL;
 * VL_ECORRUPT or VL_EIO while re-reading listed VEC segments for a merge,
 * before anything is written (the handle stays usable). A merge that finds
 * no memory is skipped, not failed. The merged payload is streamed: its
 * rows are read once to plan it (and hash it), then again while it is
 * written; rows that differ the second time (the device changed under the
 * handle) fail the commit with VL_ECORRUPT (rolled back, handle poisoned). */
VL_MUST_CHECK int vl_rvf_ingest(vl_rvf *h, uint32_t n, const uint64_t *ids,
                                const float *vecs, uint64_t now_ns);

/* Commit a delete (docs/format.md §6): JOURNAL listing the n requested ids,
 * WITNESS "delete:count=D,epoch=E" (D = ids that were live), sync,
 * MANIFEST epoch+1 with the new deleted list, sync. Commits even when D is
 * 0 (the audit trail records the request, as rvf-node does). n == 0
 * commits nothing. *n_deleted (may be NULL) receives D.
 * Errors: as vl_rvf_ingest. */
VL_MUST_CHECK int vl_rvf_delete(vl_rvf *h, uint32_t n, const uint64_t *ids,
                                uint64_t now_ns, uint32_t *n_deleted);

/* Rewrite the committed state into dst (an empty device): VEC segment(s)
 * holding exactly the live rows, then every WITNESS of the file in file
 * order (up to append_at, unlisted: the whole chain moves) and every
 * listed segment of a type this layer does not interpret (copied byte for
 * byte, hash verified), a WITNESS
 * "compact:segments_compacted=X,bytes_reclaimed=Y,epoch=E" chained to the
 * last one (unlisted too), sync, MANIFEST epoch+1 (empty deleted
 * list, same FIDI), sync. X = VEC segments replaced, Y = source bytes not carried
 * over. INDEX, JOURNAL and old MANIFEST segments are dropped. The caller
 * then swaps the files (io_posix: vl_io_posix_replace) and uses *out, which
 * is bound to dst; h stays valid for the old file.
 * Errors: VL_EINVAL (dst not empty), VL_ECORRUPT, VL_ENOMEM, VL_EIO (of dst:
 * *out is not produced; h is not poisoned), VL_EFATAL. */
VL_MUST_CHECK int vl_rvf_compact(vl_rvf *h, vl_io *dst, uint64_t now_ns, vl_rvf **out);

/* The witness chain, as vl_rvf_witness_chain finds it: *entries = the
 * witnesses found, *valid = its intact field. Errors: as
 * vl_rvf_witness_chain. */
VL_MUST_CHECK int vl_rvf_verify_witness(vl_rvf *h, uint32_t *entries, uint32_t *valid);

/* Report of vl_rvf_witness_chain. */
typedef struct vl_rvf_witness_report {
    uint32_t entries;          /* WITNESS segments found, in file order */
    uint32_t intact;           /* 1 if the first starts at zero and each later one
                                  carries fold32 of the one before (also 1 if none) */
    uint32_t restarts;         /* later witnesses with prev_hash zeros: a new chain
                                  (rvf-node 0.2.2 starts one per session and with
                                  the WITNESS it writes after a compaction) */
    uint32_t breaks;           /* witnesses whose nonzero prev_hash is not fold32 of
                                  the previous one (or a first one not at zero) */
    uint64_t skipped;          /* bytes before end that are not whole segments (torn
                                  writes another writer appended past) and were
                                  stepped over */
    uint64_t end;              /* where the walk ends: the committed manifest's end */
    uint8_t  last_hash[32];    /* fold32 of the last witness found (zeros if none) */
} vl_rvf_witness_report;

/* Walk the file's segments forward from offset 0 to the end of the
 * committed manifest (segments are back to back, docs/format.md §1; torn bytes
 * are stepped over to the next plausible header) and check every WITNESS
 * in file order: the first has prev_hash zeros, each next one fold32 of
 * the previous payload. Listed or not: the directory lists none (older
 * files and rvf-node's list some), the chain is in the file. A restart or break is a report, not an
 * error (rvf-node 0.2.2's multi-session files restart legitimately).
 * Reads headers and witness payloads only. Errors: VL_ECORRUPT (a witness
 * whose content hash mismatches, that does not parse, or whose
 * checksum_algo/compression cannot be verified), VL_EBUDGET (a
 * witness over VL_RVF_MAX_WITNESS), VL_EINVAL (NULL out), VL_EIO,
 * VL_ENOMEM. */
VL_MUST_CHECK int vl_rvf_witness_chain(vl_rvf *h, vl_rvf_witness_report *out);


/* ======================================================================
 * Store extensions (used by src/store.c): commits that carry segments
 * this layer does not interpret (META, INDEX), a scan that also reports
 * deleted rows and where each row lives, and compaction with the caller's
 * segments. Added by the store layer; the functions above are unchanged.
 * ====================================================================== */

/* A caller-encoded segment to append inside a commit. */
typedef struct vl_rvf_seg {
    uint32_t seg_type;         /* any type but VEC, JOURNAL, MANIFEST, WITNESS */
    const uint8_t *payload;
    uint64_t len;
} vl_rvf_seg;

/* One commit: deletes, then upserted rows, then the caller's segments.
 * Appended in this order: VEC segment(s) of the rows, JOURNAL (if n_del),
 * the segments, WITNESS (if witness_action), sync, MANIFEST epoch+1, sync.
 *   drop_types: bit t (t < 64) unlists every directory segment of type t
 *       before the new ones are listed (a new INDEX replaces the old one, a
 *       META snapshot replaces every older META). VEC/WITNESS bits ignored.
 *   unlist_seg_ids / n_unlist: unlist exactly these listed segments
 *       (by segment id) before the new ones are listed: the store's
 *       tiered META merge replaces the newest META deltas by one merged
 *       delta. Each must name a listed segment of a type other than VEC,
 *       JOURNAL, MANIFEST or WITNESS, else VL_EINVAL before anything is
 *       written. (Added for the META merge; zero keeps the old behaviour.)
 *   keep_index: keep listed INDEX segments although rows change (the
 *       store's loader knows which rows an INDEX covers: those in VEC
 *       segments at lower offsets). Without it rows changes unlist them,
 *       as vl_rvf_ingest does. With it, the tiered merge never moves a VEC
 *       segment that lies before the newest listed INDEX, so the rows
 *       after that INDEX are exactly the rows written since; a commit
 *       whose segs carry an INDEX merges the tiers on both sides of the
 *       old one, placing the merged VEC before the new INDEX (rvf.c
 *       "INDEX coverage"). vl_rvf_live_rows_from counts the live rows
 *       after an INDEX.
 *       (The merged VEC is appended right after the batch's VEC segments.
 *       Every commit unlists all witnesses; its own WITNESS, if any, is
 *       appended unlisted.)
 *   witness_action: NULL for no WITNESS (the store's INDEX checkpoints and
 *       file-metadata commits), else the action without its epoch, e.g.
 *       "ingest:count=5"; ",epoch=E" is appended. witness_type: 1 ingest /
 *       compact / other, 0 delete.
 * Commits even when nothing changes (an empty commit is a new epoch).
 * *n_deleted (may be NULL) receives how many deleted ids were live.
 * Errors: as vl_rvf_ingest. */
typedef struct vl_rvf_commit_args {
    uint32_t n_rows;
    const uint64_t *ids;
    const float *vecs;
    uint32_t n_del;
    const uint64_t *del_ids;
    uint32_t n_segs;
    const vl_rvf_seg *segs;
    uint64_t drop_types;
    uint32_t n_unlist;
    const uint64_t *unlist_seg_ids;
    uint32_t keep_index;
    uint32_t witness_type;
    const char *witness_action;
    uint64_t now_ns;
} vl_rvf_commit_args;
VL_MUST_CHECK int vl_rvf_commit(vl_rvf *h, const vl_rvf_commit_args *a, uint32_t *n_deleted);

/* Visit the winning row of every loaded id once, in directory order,
 * deleted ids included: cb(ctx, id, vec, seg_offset, live), seg_offset =
 * file offset of the VEC segment holding the row. A deleted id whose
 * winning segment was unlisted has no row and is not visited. Errors: as
 * vl_rvf_scan. */
typedef int (*vl_rvf_row_ex_fn)(void *ctx, uint64_t id, const float *vec, uint64_t seg_offset,
                                int live);
VL_MUST_CHECK int vl_rvf_scan_ex(vl_rvf *h, vl_rvf_row_ex_fn cb, void *ctx);

/* Read the payload of directory entry i wholly (at most cap bytes, else
 * VL_EBUDGET) and verify its content hash (VL_ECORRUPT). *out is owned by
 * the caller (vl_mem_free). */
VL_MUST_CHECK int vl_rvf_read_payload(vl_rvf *h, uint32_t i, uint64_t cap, uint8_t **out);

/* Live ids whose winning row lies in a listed VEC segment at a file offset
 * >= off: the rows an INDEX written at off does not cover (the store's
 * loader inserts exactly these). O(directory), reads nothing. */
uint64_t vl_rvf_live_rows_from(const vl_rvf *h, uint64_t off);

/* 1 if a failed durable write poisoned the handle (see the top of this file). */
int vl_rvf_poisoned(const vl_rvf *h);

/* What the last failed commit left in the file (veclite.h VL_OUTCOME_*):
 * NONE if no commit failed on this handle, NOT_WRITTEN if it was rolled
 * back (or wrote nothing), UNKNOWN if the rollback failed too ("Failed
 * means failed" at the top of rvf.c). */
int vl_rvf_write_outcome(const vl_rvf *h);

/* Check that img holds exactly h's committed image: img opens as an .rvf
 * whose committed manifest is byte-for-byte h's (same CRC-32, same offset)
 * and ends where h's next commit goes (img's size == h's append_at), and
 * every listed segment of img hash-verifies. VL_OK, or VL_ECORRUPT (or
 * the open's error) with the reason in msg. Reads img only. */
VL_MUST_CHECK int vl_rvf_check_image(const vl_rvf *h, vl_io *img, char *msg, uint32_t msg_cap);

/* vl_rvf_compact, except that listed segments whose type bit is set in
 * skip_types are not copied, and segs are appended after the copied ones
 * (before the compaction WITNESS): the store passes its META snapshot and
 * the INDEX of the compacted graph. With defer_ids, *out's per-id tables
 * (entries, id map) are not built: it only knows its rows by segment until
 * vl_rvf_index_rows, which the store calls once it has freed h, so the two
 * handles' tables are never alive at once (WebAssembly memory keeps such a
 * transient resident for good). Until then *out may only be freed. */
VL_MUST_CHECK int vl_rvf_compact_ex(vl_rvf *h, vl_io *dst, uint64_t now_ns, uint64_t skip_types,
                                    const vl_rvf_seg *segs, uint32_t n_segs, int defer_ids, vl_rvf **out);
/* Build the per-id tables of a handle vl_rvf_compact_ex returned with
 * defer_ids (a no-op otherwise). VL_OK / VL_ENOMEM (the handle is then
 * unusable: free it). */
VL_MUST_CHECK int vl_rvf_index_rows(vl_rvf *h);

/* ---- Refresh: a read-only handle follows the writer (rvf.c "Refresh") ---- */
#define VL_RVF_REFRESH_NONE     0u   /* no newer commit (a torn or uncommitted tail is ignored) */
#define VL_RVF_REFRESH_APPLIED  1u   /* the newest commit was applied from the new bytes */
#define VL_RVF_REFRESH_RELOAD   2u   /* cannot be followed incrementally (the file was replaced,
                                        truncated, or the commit is not a plain continuation):
                                        free the handle and open the device afresh; the reason
                                        is in vl_rvf_errmsg */
typedef int (*vl_rvf_id_fn)(void *ctx, uint64_t id);

/* Apply the newest commit after this handle's own, reading only the bytes
 * after committed_end (the backward manifest scan stops there) plus the
 * 64-byte header of the handle's manifest (to see that the prefix is
 * still the same file). Never writes. On APPLIED, row_cb (may be NULL)
 * gets each winning live row of the newly listed VEC segments (vec valid
 * during the call; rows that merges copied unchanged are reported too) and
 * del_cb (may be NULL) each id that was live and is deleted now; a nonzero
 * callback return stops the report and is returned (the handle is already
 * updated). Errors (the handle is unchanged): VL_ECORRUPT (a newly listed
 * segment is damaged), VL_EVERSION, VL_EBUDGET, VL_ENOMEM, VL_EIO,
 * VL_EFATAL, VL_EINVAL. */
VL_MUST_CHECK int vl_rvf_refresh(vl_rvf *h, vl_rvf_row_fn row_cb, vl_rvf_id_fn del_cb, void *ctx,
                                 uint32_t *status);

#endif /* VL_RVF_H */
