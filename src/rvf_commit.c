/*
 * rvf_commit.c — the write paths of the .rvf format layer: writing
 * segments, ingest, delete and the generic commit (vl_rvf_commit), the
 * tiered merge of VEC segments, and the rollback of a failed commit. The
 * byte layout, open and the handle's invariants are in rvf.c; shared
 * declarations in rvf_internal.h.
 *
 * Invariants kept here: nothing before append_at is ever written again
 * (the first commit of a writable handle cuts off the uncommitted tail,
 * fix_tail, before it appends); a commit is durable only once its MANIFEST
 * is synced after its data; a failed commit is undone before the error
 * returns and poisons the handle.
 *
 * ======================================================================
 * Commit (docs/format.md §6) and what the directory lists
 * ======================================================================
 * ingest:  VEC* [merged VEC] WITNESS | sync | MANIFEST | sync
 * delete:  JOURNAL WITNESS | sync | MANIFEST | sync
 * Two syncs, because a file system may persist appended blocks out of
 * order: without the first one a crash could leave a valid MANIFEST whose
 * VEC bytes never reached the disk — indistinguishable from corruption.
 *
 * Upstream lists every segment ever written (old manifests included), so a
 * file grows O(commits^2) (docs/format.md §8). Here the directory lists only
 * what the committed state needs, and its length grows with the live data,
 * not with the number of commits:
 *   - VEC segments that still hold the winning row of a live id, kept few
 *     by the tiered merge below. A segment whose rows were all superseded
 *     or deleted is dropped, and a deleted id leaves the deleted list once
 *     no listed VEC segment holds a row of it (it can no longer be loaded,
 *     so it needs no tombstone). This is why every loaded id remembers
 *     nseg, the number of listed VEC segments that contain it.
 *   - no WITNESS (see "Witness chain" below);
 *   - every segment of a type this layer does not interpret (META, kernels,
 *     COW maps...), carried forward unchanged, also through compaction.
 * Not listed: MANIFEST (never itself), JOURNAL (readers use the deleted
 * list, not journals), WITNESS (the chain is in the file), INDEX (rvf-node's HNSW cache goes stale once rows
 * change; rvf-node rebuilds it lazily, so it is dropped on the first commit
 * that changes rows and never compacted; vl_rvf_commit's keep_index keeps
 * the store's own).
 *
 * Tiered merge of VEC segments (a binary counter). Listed VEC segments, in
 * directory order, are tiers whose live row counts shrink towards the end.
 * After an ingest's rows are applied, the newest segments are merged while
 * the group being merged (starting with the newest segment) has at least
 * half as many live rows as the segment before it and the merged payload
 * stays <= VL_RVF_VEC_TARGET (larger groups stop there: big segments
 * stay). A merge writes ONE new VEC segment, in the same commit before the
 * WITNESS, holding exactly the winning live rows of the merged segments
 * (superseded and deleted rows are dropped; listed rows are copied byte
 * for byte, the batch's rows come from memory), and lists it at the end of
 * the directory in their place. Placing it last keeps every winner: none of
 * its ids has a row in a later listed segment (such a row would have been
 * the winner). A batch segment that would be merged at once is never
 * written separately. The merged-away segments become dead bytes, reclaimed
 * by compaction. So the directory holds O(log n) VEC segments (plus one per
 * VL_RVF_VEC_TARGET bytes of data) and each row is rewritten O(log n)
 * times: O(n log n) bytes for n single-row commits, not O(n^2).
 * Only VEC segments merge; segments of other types (META, INDEX, COW_MAP,
 * unknown) are never merged nor moved by it. A merge moves unchanged rows
 * to a higher file offset.
 *
 * INDEX coverage. The store's loader treats the newest listed INDEX as
 * covering exactly the rows in VEC segments before it, and inserts the
 * others into the loaded graph. So that a crash costs only the rows
 * written since the INDEX, a commit with keep_index never merges (moves)
 * a VEC segment that lies before the newest listed INDEX: merges stop at
 * it, and the segments after it form their own tiers. A commit that
 * carries a new INDEX (a checkpoint) lifts that barrier: the segments
 * written since the old INDEX join the merge group as a whole (as if they
 * had arrived as one batch) and the usual rule extends the group over the
 * older tiers; the merged VEC is written before the new INDEX, so its rows
 * are covered. Between checkpoints the directory holds two binary
 * counters (O(log n) + O(log rows-since-INDEX) VEC segments), and each
 * checkpoint folds them into one. vl_rvf_ingest (no keep_index) drops the
 * INDEX and has no barrier.
 * *
 * Failed means failed. A commit that fails after it started writing (any
 * append or sync of its data or manifest phase) is rolled back before the
 * error returns: the device is truncated to where the commit began (the
 * end of the previous commit) and synced (rollback). Why: a sync that
 * fails after the MANIFEST was appended may still have put that manifest
 * on disk, and an append that "failed" may have written everything; a
 * reopen would then show a write the caller was told had failed. Outcome
 * (vl_rvf_write_outcome):
 *   VL_OUTCOME_NOT_WRITTEN  truncate and sync succeeded: the file ends at
 *                           the previous commit, nothing of the write is
 *                           in it, durably (also when the commit failed
 *                           before it appended anything: fix_tail);
 *   VL_OUTCOME_UNKNOWN      the undo failed too: after a reopen the file
 *                           holds the previous commit or the whole failed
 *                           write (a commit is one manifest, so never a
 *                           part of it), and the message says so.
 * Either way the handle stays poisoned (memory is ahead of the file).
 * A reader that opened the file between the manifest's append and the
 * rollback may have seen the rolled-back commit; its later reads of those
 * bytes fail (the image checks of vl_rvf_check_image report it).
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rvf_internal.h"

/* ====================================================================== */
/* Writing segments                                                        */
/* ====================================================================== */

static void header_for(vl_rvf_header *hd, uint32_t type, uint64_t seg_id, uint64_t plen, uint32_t crc)
{
    memset(hd, 0, sizeof *hd);
    hd->magic = VL_RVF_MAGIC;
    hd->version = VL_RVF_VERSION;
    hd->seg_type = (uint8_t)type;
    hd->segment_id = seg_id;
    hd->payload_length = plen;
    vl_rvf_content_hash(crc, hd->content_hash);
}

int vl__rvf_emit_header(vl_rvf *h, uint32_t type, uint64_t seg_id, uint64_t plen, uint32_t crc)
{
    vl_rvf_header hd;
    uint8_t b[64];
    header_for(&hd, type, seg_id, plen, crc);
    vl_rvf_header_encode(&hd, b);
    return vl__rvf_dev_append(h, b, 64);
}

/* A whole in-memory segment. */
int vl__rvf_emit_segment(vl_rvf *h, uint32_t type, uint64_t seg_id, const uint8_t *p, uint64_t plen)
{
    int rc = vl__rvf_emit_header(h, type, seg_id, plen, vl_crc32(0, p, (size_t)plen));
    return rc ? rc : vl__rvf_dev_append(h, p, plen);
}

/* Witness payload: 13 + len + 32 bytes. */
uint32_t vl__rvf_witness_encode(uint8_t *out, uint32_t type, uint64_t ts, const char *action,
                                const uint8_t prev[32])
{
    uint32_t len = (uint32_t)strlen(action);
    out[0] = (uint8_t)type;
    wr64(out + 1, ts);
    wr32(out + 9, len);
    memcpy(out + 13, action, len);
    memcpy(out + 13 + len, prev, 32);
    return 13 + len + 32;
}

static uint64_t manifest_size(uint64_t ndir, uint64_t ndel, int fidi)
{
    return MAN_FIXED + DIRENT_SIZE * ndir + 4 + 8 * ndel + (fidi ? FIDI_SIZE : 0);
}

/* Encode the manifest of the handle's current (in-memory) state. buf has
 * manifest_size(ndir, ndel, fidi) bytes. */
void vl__rvf_manifest_encode(const vl_rvf *h, uint8_t *buf)
{
    uint8_t *p = buf;
    wr32(p, h->epoch);
    wr16(p + 4, (uint16_t)h->dim);
    wr64(p + 6, (uint64_t)h->nents + h->ids_deferred);
    wr32(p + 14, h->ndir);
    p[18] = (uint8_t)h->profile;
    p[19] = (uint8_t)h->metric;
    p[20] = p[21] = 0;
    p += MAN_FIXED;
    for (uint32_t i = 0; i < h->ndir; i++, p += DIRENT_SIZE) {
        wr64(p, h->dir[i].seg_id);
        wr64(p + 8, h->dir[i].offset);
        wr64(p + 16, h->dir[i].plen);
        p[24] = (uint8_t)h->dir[i].type;
    }
    wr32(p, h->ndel);
    p += 4;
    for (uint32_t i = 0; i < h->ndel; i++, p += 8) wr64(p, h->del[i]);   /* sorted by the caller */
    if (h->flags & VL_RVF_F_FIDI) {
        wr32(p, FIDI_MAGIC);
        memcpy(p + 4, h->file_id, 16);
        memcpy(p + 20, h->parent_id, 16);
        memcpy(p + 36, h->parent_hash, 32);
        wr32(p + 68, h->depth);
    }
}

/* Check the caps a commit adding `add_dir` entries and up to `add_del`
 * deleted ids could hit, and allocate the manifest buffer. */
int vl__rvf_manifest_alloc(vl_rvf *h, uint64_t add_dir, uint64_t add_del, uint8_t **buf)
{
    uint64_t nd = (uint64_t)h->ndir + add_dir, ndl = (uint64_t)h->ndel + add_del;
    uint64_t sz = manifest_size(nd, ndl, 1);
    if (nd > VL_RVF_MAX_DIR || sz > VL_RVF_MAX_MANIFEST)
        return vl__rvf_fail(h, VL_EBUDGET, "the manifest would list %llu segments and %llu deleted ids "
                            "(%llu bytes), over this build's caps (%u entries, %u bytes): compact the store",
                            (unsigned long long)nd, (unsigned long long)ndl, (unsigned long long)sz,
                            VL_RVF_MAX_DIR, VL_RVF_MAX_MANIFEST);
    *buf = vl_mem_alloc((size_t)sz);
    return *buf ? VL_OK : vl__rvf_fail(h, VL_ENOMEM, "out of memory for a %llu-byte manifest",
                                       (unsigned long long)sz);
}

/* Common prologue of a commit: not poisoned, an epoch left, and room for
 * `nids` more segment ids (the largest id written must stay below
 * UINT64_MAX so that max + 1 exists when the file is reopened). */
int vl__rvf_commit_begin(vl_rvf *h, uint64_t nids)
{
    if (h->poisoned) return vl__rvf_fail(h, VL_EFATAL, "store handle is poisoned by an earlier failed write");
    vl__rvf_vecs_gc(h);
    if (h->epoch == UINT32_MAX) return vl__rvf_fail(h, VL_EINVAL, "epoch counter exhausted");
    if (h->next_seg_id > UINT64_MAX - nids)
        return vl__rvf_fail(h, VL_EINVAL, "segment id space exhausted (next id %llu)",
                            (unsigned long long)h->next_seg_id);
    return VL_OK;
}

/* Make the device end at append_at: a torn tail from a crash or a failed
 * commit is cut off (the only truncation ever done). */
static int fix_tail(vl_rvf *h)
{
    uint64_t size;
    int rc = vl__rvf_dev_size(h, &size);
    h->outcome = VL_OUTCOME_NOT_WRITTEN;   /* until the commit appends: nothing of it is written */
    if (rc) return vl__rvf_poison(h, rc, "device size()");
    if (size < h->append_at) return vl__rvf_poison(h, VL_ECORRUPT, "the file shrank under the handle; commit");
    if (size > h->append_at) {
        rc = h->io->truncate(h->io->ctx, h->append_at);
        if (rc) return vl__rvf_poison(h, rc < 0 ? rc : VL_EIO, "truncating the torn tail");
    }
    h->outcome = VL_OUTCOME_NONE;
    return VL_OK;
}

/* A commit failed (rc, the handle already poisoned) after fix_tail, with
 * the device ending at `start` before it wrote anything: undo what it
 * appended so that the failed write is durably absent (see "Failed means
 * failed" at the top). Returns rc; the message says what the file holds. */
static int rollback(vl_rvf *h, uint64_t start, int rc)
{
    char why[sizeof h->msg];
    memcpy(why, h->msg, sizeof why);
    char *cut = strstr(why, "; the store handle is now unusable");
    if (cut) *cut = 0;
    int t = h->io->truncate(h->io->ctx, start);
    const char *step = "truncate";
    if (t == VL_OK) { t = h->io->sync(h->io->ctx); step = "sync"; }
    h->poisoned = 1;
    if (t == VL_OK) {
        h->outcome = VL_OUTCOME_NOT_WRITTEN;
        return vl__rvf_fail(h, rc, "%s; the write was rolled back: nothing of it is in the file, which ends "
                            "at its previous commit; the store handle is now unusable: reopen it", why);
    }
    h->outcome = VL_OUTCOME_UNKNOWN;
    return vl__rvf_fail(h, rc, "%s, and undoing the write failed too (%s: %d): its outcome is unknown, a "
                        "reopen shows either the previous commit or the whole write; the store handle is "
                        "now unusable: reopen it", why, step, t);
}

int vl_rvf_write_outcome(const vl_rvf *h) { return h ? h->outcome : VL_OUTCOME_NONE; }

/* Sort del[] ascending (the manifest lists it sorted) and re-point every
 * deleted entry at its new position. */
static void sort_deleted(vl_rvf *h)
{
    if (h->ndel < 2) return;
    qsort(h->del, h->ndel, sizeof *h->del, vl__rvf_cmp_u64);
    for (uint32_t i = 0; i < h->ndel; i++) h->ents[vl_idmap_get(&h->map, h->del[i])].del_pos = i;
}

/* Append the WITNESS (wlen bytes at wit, segment wid; wlen 0: none), sync,
 * the MANIFEST of the state already in h, sync. pos is the file offset
 * where the witness (or, without one, the manifest) goes: the end of the
 * segments the commit appended before. The directory (pruned by the
 * caller) lists no witness: the new one extends the chain in the file (see
 * "Witness chain" at the top). */
int vl__rvf_commit_finish(vl_rvf *h, const uint8_t *wit, uint32_t wlen, uint64_t wid, uint64_t pos,
                          uint8_t *mbuf, uint64_t man_id)
{
    int rc = VL_OK;
    uint64_t mpos = pos;
    if (wlen) {
        rc = vl__rvf_emit_segment(h, VL_RVF_SEG_WITNESS, wid, wit, wlen);
        mpos += 64 + wlen;
    }
    if (!rc) rc = vl__rvf_dev_sync(h);
    if (rc) return rc;
    uint64_t msz = manifest_size(h->ndir, h->ndel, h->flags & VL_RVF_F_FIDI);
    sort_deleted(h);
    vl__rvf_manifest_encode(h, mbuf);
    rc = vl__rvf_emit_segment(h, VL_RVF_SEG_MANIFEST, man_id, mbuf, msz);
    if (!rc) rc = vl__rvf_dev_sync(h);
    if (rc) return rc;
    if (wlen) vl_rvf_fold32_once(wit, wlen, h->wit_hash);
    h->n_witness = 0;
    h->man_crc = vl_crc32(0, mbuf, (size_t)msz);
    h->manifest_offset = mpos;
    h->committed_end = h->append_at = mpos + 64 + msz;
    return VL_OK;
}

/* A JOURNAL payload (16 + 12 n bytes): n, the new epoch, prev 0, then one delete entry per id. */
static void encode_journal(uint8_t *jbuf, uint32_t epoch, const uint64_t *ids, uint32_t n)
{
    wr32(jbuf, n);
    wr32(jbuf + 4, epoch);
    wr64(jbuf + 8, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = jbuf + 16 + 12 * (size_t)i;
        e[0] = 1; e[1] = 0;
        wr16(e + 2, 8);
        wr64(e + 4, ids[i]);
    }
}

/* ====================================================================== */
/* Ingest                                                                  */
/* ====================================================================== */

/* Encode rows [a, b) of a batch into out (VEC row layout). */
static void encode_rows(uint8_t *out, uint32_t dim, const uint64_t *ids, const float *vecs,
                        uint32_t a, uint32_t b)
{
    for (uint32_t r = a; r < b; r++) {
        wr64(out, ids[r]);
        const float *v = vecs + (size_t)r * dim;
        for (uint32_t j = 0; j < dim; j++) wrf(out + 8 + 4 * (size_t)j, v[j]);
        out += 8 + 4 * (size_t)dim;
    }
}

/* Stream one VEC segment of batch rows [a, b): CRC pass, then write pass,
 * through a bounded scratch buffer (the batch is never copied whole). */
static int emit_vec_rows(vl_rvf *h, uint64_t seg_id, const uint64_t *ids, const float *vecs,
                         uint32_t a, uint32_t b, uint8_t *scratch, uint32_t srows)
{
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    uint8_t pre[6];
    wr16(pre, (uint16_t)h->dim);
    wr32(pre + 2, b - a);
    uint32_t crc = vl_crc32(0, pre, 6);
    for (uint32_t r = a; r < b; r += srows) {
        uint32_t e = b - r < srows ? b : r + srows;
        encode_rows(scratch, h->dim, ids, vecs, r, e);
        crc = vl_crc32(crc, scratch, (size_t)((e - r) * rowsz));
    }
    int rc = vl__rvf_emit_header(h, VL_RVF_SEG_VEC, seg_id, 6 + (uint64_t)(b - a) * rowsz, crc);
    if (!rc) rc = vl__rvf_dev_append(h, pre, 6);
    for (uint32_t r = a; r < b && !rc; r += srows) {
        uint32_t e = b - r < srows ? b : r + srows;
        encode_rows(scratch, h->dim, ids, vecs, r, e);
        rc = vl__rvf_dev_append(h, scratch, (e - r) * rowsz);
    }
    return rc;
}

/* ---- tiered merge of the newest VEC segments ("Tiered merge" at the top) ---- */

#define MERGE_DEL (UINT32_MAX - 1)   /* batch map value: deleted by the commit, not upserted */

/* The merged segment is never held whole in memory (WebAssembly memory
 * never shrinks: a 16 MiB payload buffer would stay resident for good).
 * Planning (merge_prepare) walks the listed segments once, hash-verified,
 * and records which row of which segment goes where (ids, sel, src) and
 * the payload's CRC; writing (merge_emit) emits the header with that CRC,
 * then walks the same segments again through a bounded chunk buffer,
 * re-verifying their hashes and the CRC of what it wrote: a device that
 * changed in between fails the commit (rolled back), it never writes
 * bytes the header does not describe. */
typedef struct vmerge {
    uint32_t on;            /* 1: the commit writes a merged segment */
    uint32_t first_batch;   /* batch segments first_batch.. are merged (nsegs: none) */
    uint32_t old_k;         /* vecs ordinal of the oldest listed segment merged (NONE: none) */
    uint32_t rows;          /* rows of the merged segment */
    uint32_t k;             /* its vecs ordinal (set by merge_apply) */
    uint64_t *ids;          /* its ids in row order (handed over to the vecseg) */
    const uint64_t *row_ids;   /* the same array, still readable after the handover (writing) */
    uint32_t *sel;          /* per row: its row in its source segment, or its batch row */
    dent *src;              /* listed source segments, in order (copies: the commit unlists them) */
    uint32_t *src_rows;     /* rows taken from each */
    uint32_t nsrc;
    uint32_t crc;           /* CRC of the payload */
    uint8_t *chunk;         /* write buffer: chunk_rows rows */
    uint8_t *rbuf;          /* read buffer of the writing walks (VL_RVF_WALK_BUF): nothing is allocated there */
    uint32_t chunk_rows;
    uint64_t plen, seg_id;
} vmerge;

typedef struct merge_fill {
    vmerge *m;
    const vl_idmap *bm;     /* ids the commit deletes or upserts (planning) */
    uint64_t rowsz;
    uint32_t n;             /* rows planned / written */
    uint32_t end;           /* writing: rows of this source end here */
    uint32_t fill;          /* writing: rows in the chunk */
    uint32_t crc;           /* writing: CRC of what was written */
} merge_fill;

/* CRC of one row as the VEC payload stores it (id little-endian, then the
 * vector's stored bytes). */
static uint32_t row_crc(uint32_t crc, uint64_t id, const uint8_t *vec, uint64_t rowsz)
{
    uint8_t b[8];
    wr64(b, id);
    crc = vl_crc32(crc, b, 8);
    return vl_crc32(crc, vec, (size_t)(rowsz - 8));
}

/* vec_walk visitor (planning): the live winning rows that the commit leaves alone. */
static int merge_row(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id, const uint8_t *vec)
{
    merge_fill *f = ctx;
    uint32_t ei = vl_idmap_get(&h->map, id);
    if (ei == VL_NO_NODE) return 0;
    const entry *e = &h->ents[ei];
    if (e->del_pos != NONE || e->seg != k || e->row != row || vl_idmap_get(f->bm, id) != VL_NO_NODE)
        return 0;
    if (f->n == f->m->rows)
        return vl__rvf_fail(h, VL_ECORRUPT, "merging VEC segments: more live rows than indexed "
                            "(the device changed under the handle)");
    f->m->crc = row_crc(f->m->crc, id, vec, f->rowsz);   /* bit for bit */
    f->m->sel[f->n] = row;
    f->m->ids[f->n++] = id;
    return 0;
}

static int chunk_flush(vl_rvf *h, merge_fill *f)
{
    if (!f->fill) return VL_OK;
    int rc = vl__rvf_dev_append(h, f->m->chunk, (uint64_t)f->fill * f->rowsz);
    f->fill = 0;
    return rc;
}

/* Append one row to the chunk (and the device when it is full). */
static int chunk_row(vl_rvf *h, merge_fill *f, uint64_t id, const uint8_t *vec_le, const float *vec)
{
    uint8_t *p = f->m->chunk + (uint64_t)f->fill * f->rowsz;
    wr64(p, id);
    if (vec_le) memcpy(p + 8, vec_le, (size_t)(f->rowsz - 8));
    else for (uint32_t j = 0; j < h->dim; j++) wrf(p + 8 + 4 * (size_t)j, vec[j]);
    f->crc = vl_crc32(f->crc, p, (size_t)f->rowsz);
    f->n++;
    return ++f->fill == f->m->chunk_rows ? chunk_flush(h, f) : VL_OK;
}

/* vec_walk visitor (writing): the rows planning took from this segment. */
static int merge_copy(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id, const uint8_t *vec)
{
    (void)k;
    merge_fill *f = ctx;
    if (f->n == f->end || f->m->sel[f->n] != row) return 0;
    if (f->m->row_ids[f->n] != id)
        return vl__rvf_fail(h, VL_ECORRUPT, "merging VEC segments: row %u holds id %llu, planned %llu "
                            "(the device changed under the handle)", row, (unsigned long long)id,
                            (unsigned long long)f->m->row_ids[f->n]);
    return chunk_row(h, f, id, vec, NULL);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* How many entries of the ascending ks[0..n) equal k. */
static uint32_t count_sorted(const uint32_t *ks, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) { uint32_t mid = lo + (hi - lo) / 2; if (ks[mid] < k) lo = mid + 1; else hi = mid; }
    uint32_t a = lo;
    hi = n;
    while (lo < hi) { uint32_t mid = lo + (hi - lo) / 2; if (ks[mid] <= k) lo = mid + 1; else hi = mid; }
    return lo - a;
}

static void merge_free(vmerge *m)
{
    vl_mem_free(m->ids);
    vl_mem_free(m->sel);
    vl_mem_free(m->src);
    vl_mem_free(m->src_rows);
    vl_mem_free(m->chunk);
    vl_mem_free(m->rbuf);
    m->rbuf = NULL;
    m->ids = NULL;
    m->sel = m->src_rows = NULL;
    m->src = NULL;
    m->chunk = NULL;
    m->on = 0;
}

/* Plan the merge of a commit that deletes del_ids[0..nd) and then upserts
 * the n batch rows (nsegs segments of `per` rows), before anything
 * changes: the live rows every VEC segment keeps after the commit, the
 * group to merge, and where each row of the merged payload comes from
 * (the listed segments, read and hash-verified here, and the batch), with
 * the payload's CRC; merge_emit writes it. Running short of memory or of
 * segment ids skips the merge: it is an optimisation, the commit is
 * correct without it. extra_dir / extra_ids: directory entries and segment
 * ids the commit needs besides the merged segment. barrier: the offset of
 * the newest listed INDEX the commit keeps (0: none); listed VEC segments
 * below it are never merged. consolidate (a commit that writes a new
 * INDEX): the barrier is lifted, the segments at or after it join the
 * group whatever their sizes (as if they had arrived as one batch), the
 * rule extends it backwards as usual, and a merge is planned even without
 * batch rows (see "INDEX coverage" at the top). Returns VL_OK or an error
 * reading a listed segment (VL_EIO, VL_ECORRUPT; the handle is
 * unchanged). */
static int merge_prepare(vl_rvf *h, vmerge *m, uint32_t n, const uint64_t *ids, const float *vecs,
                         uint32_t per, uint32_t nsegs, uint32_t nd, const uint64_t *del_ids,
                         uint64_t extra_dir, uint64_t extra_ids, uint64_t barrier, int consolidate)
{
    memset(m, 0, sizeof *m);
    m->old_k = NONE;
    m->first_batch = nsegs;
    if ((n == 0 && !consolidate) || (uint64_t)n + nd >= (1u << 30)) return VL_OK;
    if (h->next_seg_id > UINT64_MAX - extra_ids - 1) return VL_OK;
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim, cap_rows = (VL_RVF_VEC_TARGET - 6) / rowsz;
    vl_idmap bm = { 0 };
    uint32_t *bcnt = NULL, *ks = NULL, nks = 0;
    int rc = VL_OK;
    if (vl_idmap_reserve(&bm, n + nd) != VL_OK) goto off;
    for (uint32_t i = 0; i < nd; i++) vl_idmap_put(&bm, del_ids[i], MERGE_DEL);
    for (uint32_t r = 0; r < n; r++) vl_idmap_put(&bm, ids[r], r);   /* the last row of an id wins */
    bcnt = vl_mem_calloc(nsegs ? nsegs : 1, sizeof *bcnt);
    ks = vl_mem_alloc((size_t)(bm.count ? bm.count : 1) * sizeof *ks);
    if (!bcnt || !ks) goto off;
    /* per distinct id: the batch segment of its winning row; the listed
     * segment whose live row it replaces or deletes */
    for (uint32_t j = 0; j < bm.cap; j++) {
        uint32_t v = bm.vals[j];
        if (v == VL_NO_NODE) continue;
        if (v != MERGE_DEL) bcnt[v / per]++;
        uint32_t ei = vl_idmap_get(&h->map, bm.keys[j]);
        if (ei != VL_NO_NODE && h->ents[ei].del_pos == NONE) ks[nks++] = h->ents[ei].seg;
    }
    qsort(ks, nks, sizeof *ks, cmp_u32);

    /* The group: from the newest segment back, while it holds at least half
     * the live rows of the segment before it and fits one segment. */
    uint64_t gl = 0;
    uint32_t gsz = 0, old_i = NONE, stop = 0;
    for (uint32_t s = nsegs; s-- > 0 && !stop;) {
        uint64_t c = bcnt[s];
        if (c == 0) continue;                   /* superseded inside the batch: never listed */
        if (gsz && (2 * gl < c || gl + c > cap_rows)) { stop = 1; break; }
        gl += c;
        gsz++;
        m->first_batch = s;
    }
    for (uint32_t i = h->ndir; i-- > 0 && !stop;) {
        const dent *d = &h->dir[i];
        if (d->type != VL_RVF_SEG_VEC) continue;
        uint64_t c = h->vecs[d->vec].live_refs - count_sorted(ks, nks, d->vec);
        if (c == 0) continue;                   /* no live row left: pruned by this commit */
        if (gl + c > cap_rows) break;
        if (d->offset < barrier && !consolidate) break;   /* covered by the newest INDEX: stays */
        if (!(consolidate && barrier && d->offset >= barrier) && gsz && 2 * gl < c) break;
        gl += c;
        gsz++;
        old_i = i;
    }
    if (gsz < 2) goto off;

    m->rows = (uint32_t)gl;
    m->plen = 6 + gl * rowsz;
    m->old_k = old_i == NONE ? NONE : h->dir[old_i].vec;
    if (GROW(h, vecs, nvecs, cap_vecs, (uint64_t)nsegs + 1) || GROW(h, dir, ndir, cap_dir, extra_dir + 1))
        goto off;
    uint32_t nsrc = old_i == NONE ? 0 : h->ndir - old_i;
    m->chunk_rows = (uint32_t)((64u << 10) / rowsz);
    if (m->chunk_rows == 0) m->chunk_rows = 1;
    if (!(m->ids = vl_mem_alloc((size_t)gl * sizeof *m->ids)) || !(m->sel = vl_mem_alloc((size_t)gl * sizeof *m->sel)) ||
        !(m->src = vl_mem_alloc((size_t)(nsrc ? nsrc : 1) * sizeof *m->src)) ||
        !(m->src_rows = vl_mem_alloc((size_t)(nsrc ? nsrc : 1) * sizeof *m->src_rows)) ||
        !(m->chunk = vl_mem_alloc((size_t)(m->chunk_rows * rowsz))) ||
        (nsrc && !(m->rbuf = vl_mem_alloc((size_t)VL_RVF_WALK_BUF(h->dim)))))
        goto off;
    m->row_ids = m->ids;
    uint8_t pre[6];
    wr16(pre, (uint16_t)h->dim);
    wr32(pre + 2, m->rows);
    m->crc = vl_crc32(0, pre, 6);
    merge_fill f = { m, &bm, rowsz, 0, 0, 0, 0 };
    for (uint32_t i = old_i == NONE ? h->ndir : old_i; i < h->ndir && !rc; i++) {
        const dent *d = &h->dir[i];
        if (d->type == VL_RVF_SEG_VEC && h->vecs[d->vec].live_refs > count_sorted(ks, nks, d->vec)) {
            uint32_t before = f.n;
            rc = vl__rvf_vec_walk_buf(h, d, d->vec, merge_row, &f, NULL, 0, NULL, m->rbuf);
            m->src[m->nsrc] = *d;
            m->src_rows[m->nsrc++] = f.n - before;
        }
    }
    if (rc == VL_ENOMEM) goto off;
    if (rc) goto out;
    for (uint32_t s = m->first_batch; s < nsegs; s++) {
        uint32_t a = s * per, b = s + 1 == nsegs ? n : a + per;
        for (uint32_t r = a; r < b; r++) {
            if (vl_idmap_get(&bm, ids[r]) != r) continue;   /* a later row of the batch wins */
            if (f.n == m->rows) break;
            encode_rows(m->chunk, h->dim, ids, vecs, r, r + 1);
            m->crc = vl_crc32(m->crc, m->chunk, (size_t)rowsz);
            m->sel[f.n] = r;
            m->ids[f.n++] = ids[r];
        }
    }
    if (f.n != m->rows) {
        rc = vl__rvf_fail(h, VL_ECORRUPT, "merging VEC segments: found %u live rows, expected %u "
                          "(the device changed under the handle)", f.n, m->rows);
        goto out;
    }
    m->on = 1;
    goto out;
off:
    rc = VL_OK;
out:
    if (!m->on) merge_free(m);
    vl_idmap_free(&bm);
    vl_mem_free(bcnt);
    vl_mem_free(ks);
    return rc;
}

/* Apply a prepared merge (after the commit's deletes, upserts and
 * prune_dir; cannot fail): the merged segment becomes VEC ordinal m->k,
 * winner of every row it carries; the merged listed segments leave the
 * directory; batch segments that were merged, or lost all their rows to
 * later rows of the same batch, are dropped (never written). The batch
 * segments are the vecs ordinals first..first+nsegs-1. Call it also when
 * no merge is planned (m->on == 0). */
static void merge_apply(vl_rvf *h, vmerge *m, uint32_t first, uint32_t nsegs)
{
    if (m->on) {
        uint32_t k = m->k = h->nvecs++;
        vecseg *v = &h->vecs[k];
        *v = (vecseg){ .ids = m->ids, .nids = m->rows, .count = m->rows, .live_refs = 0, .listed = 1 };
        m->ids = NULL;
        for (uint32_t r = 0; r < m->rows; r++) {
            uint32_t ei = vl_idmap_get(&h->map, v->ids[r]);
            assert(ei != VL_NO_NODE && h->ents[ei].del_pos == NONE && h->ents[ei].seg != NONE);
            entry *e = &h->ents[ei];
            h->vecs[e->seg].live_refs--;
            e->seg = k;
            e->row = r;
            e->nseg++;
            v->live_refs++;
        }
        if (m->old_k != NONE) {
            uint32_t w = 0, in = 0;
            for (uint32_t i = 0; i < h->ndir; i++) {
                dent *d = &h->dir[i];
                if (d->type == VL_RVF_SEG_VEC && d->vec == m->old_k) in = 1;
                if (in && d->type == VL_RVF_SEG_VEC) {
                    assert(h->vecs[d->vec].live_refs == 0);
                    vl__rvf_drop_vec(h, d->vec);
                    continue;
                }
                h->dir[w++] = *d;
            }
            h->ndir = w;
        }
    }
    for (uint32_t s = 0; s < nsegs; s++) {
        if ((m->on && s >= m->first_batch) || h->vecs[first + s].live_refs == 0) {
            assert(h->vecs[first + s].live_refs == 0);
            vl__rvf_drop_vec(h, first + s);
        }
    }
}

/* Directory entry of the merged segment at *pos (after the batch's). */
static void merge_dirent(vl_rvf *h, vmerge *m, uint64_t *pos)
{
    if (!m->on) return;
    m->seg_id = h->next_seg_id++;
    h->dir[h->ndir++] = (dent){ m->seg_id, *pos, m->plen, VL_RVF_SEG_VEC, m->k };
    *pos += 64 + m->plen;
}

/* Write the planned merged segment: header (planned CRC), prefix, then the
 * rows in chunks: the source segments walked again (hash re-verified),
 * then the batch's rows from memory. VL_ECORRUPT when what was written
 * differs from the plan (the commit is rolled back). */
static int merge_emit(vl_rvf *h, vmerge *m, const uint64_t *ids, const float *vecs)
{
    if (!m->on) return VL_OK;
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    uint8_t pre[6];
    wr16(pre, (uint16_t)h->dim);
    wr32(pre + 2, m->rows);
    int rc = vl__rvf_emit_header(h, VL_RVF_SEG_VEC, m->seg_id, m->plen, m->crc);
    if (!rc) rc = vl__rvf_dev_append(h, pre, 6);
    merge_fill f = { m, NULL, rowsz, 0, 0, 0, vl_crc32(0, pre, 6) };
    for (uint32_t i = 0; i < m->nsrc && !rc; i++) {
        f.end = f.n + m->src_rows[i];
        rc = vl__rvf_vec_walk_buf(h, &m->src[i], NONE, merge_copy, &f, NULL, 0, NULL, m->rbuf);
        if (!rc && f.n != f.end)
            rc = vl__rvf_fail(h, VL_ECORRUPT, "merging VEC segments: segment %llu gave %u rows, planned %u "
                              "(the device changed under the handle)", (unsigned long long)m->src[i].seg_id,
                              f.n - (f.end - m->src_rows[i]), m->src_rows[i]);
    }
    for (; f.n < m->rows && !rc;) rc = chunk_row(h, &f, ids[m->sel[f.n]], NULL, vecs + (size_t)m->sel[f.n] * h->dim);
    if (!rc) rc = chunk_flush(h, &f);
    if (!rc && f.crc != m->crc)
        rc = vl__rvf_fail(h, VL_ECORRUPT, "merging VEC segments: the rows read back differ from the planned "
                          "ones (the device changed under the handle)");
    return rc;
}

int vl_rvf_ingest(vl_rvf *h, uint32_t n, const uint64_t *ids, const float *vecs, uint64_t now_ns)
{
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    uint32_t per = (uint32_t)((VL_RVF_VEC_TARGET - 6) / rowsz);
    if (per == 0) per = 1;
    uint32_t nsegs = n ? (n - 1) / per + 1 : 0;
    int rc = vl__rvf_commit_begin(h, (uint64_t)nsegs + 2);
    if (rc) return rc;
    if (n == 0) return VL_OK;
    if (!ids || !vecs) return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_ingest: NULL ids or vectors");

    uint32_t srows = (uint32_t)((64u << 10) / rowsz);
    if (srows == 0) srows = 1;
    if (srows > n) srows = n;

    /* ---- reserve everything, so the mutation below cannot fail ---- */
    uint8_t *mbuf = NULL, *scratch = NULL;
    uint64_t **segids = NULL, *bseg = NULL;   /* bseg[s]: segment id of batch segment s, 0 if unwritten */
    vmerge m = { 0 };
    rc = vl__rvf_manifest_alloc(h, (uint64_t)nsegs + 1, 0, &mbuf);
    if (rc) return rc;
    if ((rc = vl__rvf_reserve_ids(h, n))) goto nomem;
    rc = VL_ENOMEM;
    if (GROW(h, vecs, nvecs, cap_vecs, nsegs) || GROW(h, dir, ndir, cap_dir, (uint64_t)nsegs + 1))
        goto nomem;
    if (!(scratch = vl_mem_alloc((size_t)(srows * rowsz)))) goto nomem;
    if (!(segids = vl_mem_calloc(nsegs, sizeof *segids))) goto nomem;
    if (!(bseg = vl_mem_calloc(nsegs, sizeof *bseg))) goto nomem;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t cnt = (s + 1 == nsegs) ? n - s * per : per;
        if (!(segids[s] = vl_mem_alloc((size_t)cnt * sizeof **segids))) goto nomem;
    }
    rc = merge_prepare(h, &m, n, ids, vecs, per, nsegs, 0, NULL, (uint64_t)nsegs + 1,
                       (uint64_t)nsegs + 2, 0, 0);
    if (rc) goto done;
    rc = fix_tail(h);
    if (rc) goto done;

    /* ---- mutate: rows, merge, directory, epoch ---- */
    uint32_t first = h->nvecs;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t a = s * per, b = (s + 1 == nsegs) ? n : a + per;
        vecseg *v = &h->vecs[h->nvecs];
        *v = (vecseg){ .ids = segids[s], .nids = 0, .count = b - a, .live_refs = 0, .listed = 1 };
        segids[s] = NULL;
        for (uint32_t r = a; r < b; r++) vl__rvf_upsert_row(h, h->nvecs, r - a, ids[r]);
        h->nvecs++;
    }
    vl__rvf_prune_dir(h, 1);
    merge_apply(h, &m, first, nsegs);
    uint64_t pos = h->append_at;
    for (uint32_t s = 0; s < nsegs; s++) {
        if (!h->vecs[first + s].listed) continue;
        uint32_t a = s * per, b = (s + 1 == nsegs) ? n : a + per;
        uint64_t plen = 6 + (uint64_t)(b - a) * rowsz;
        bseg[s] = h->next_seg_id++;
        h->dir[h->ndir++] = (dent){ bseg[s], pos, plen, VL_RVF_SEG_VEC, first + s };
        pos += 64 + plen;
    }
    merge_dirent(h, &m, &pos);
    h->epoch++;
    char action[96];
    uint8_t wit[13 + 96 + 32];
    snprintf(action, sizeof action, "ingest:count=%u,epoch=%u", n, h->epoch);
    uint32_t wlen = vl__rvf_witness_encode(wit, 1, now_ns, action, h->wit_hash);
    uint64_t wid = h->next_seg_id++;
    uint64_t man_id = h->next_seg_id++;

    /* ---- write ---- */
    for (uint32_t s = 0; s < nsegs && !rc; s++) {
        if (!bseg[s]) continue;
        uint32_t a = s * per, b = (s + 1 == nsegs) ? n : a + per;
        rc = emit_vec_rows(h, bseg[s], ids, vecs, a, b, scratch, srows);
    }
    if (!rc) rc = merge_emit(h, &m, ids, vecs);
    if (!rc) rc = vl__rvf_commit_finish(h, wit, wlen, wid, pos, mbuf, man_id);
    if (rc) rc = rollback(h, h->append_at, rc);   /* append_at moves only on success */
    goto done;
nomem:
    if (rc == VL_EBUDGET) vl__rvf_fail(h, rc, "more than %u distinct ids: over this build's cap", MAX_ENTRIES);
    else vl__rvf_fail(h, rc, "out of memory preparing an ingest of %u rows", n);
done:
    merge_free(&m);
    if (segids) for (uint32_t s = 0; s < nsegs; s++) vl_mem_free(segids[s]);
    vl_mem_free(segids);
    vl_mem_free(bseg);
    vl_mem_free(scratch);
    vl_mem_free(mbuf);
    return rc;
}

/* ====================================================================== */
/* Delete                                                                  */
/* ====================================================================== */

int vl_rvf_delete(vl_rvf *h, uint32_t n, const uint64_t *ids, uint64_t now_ns, uint32_t *n_deleted)
{
    int rc = vl__rvf_commit_begin(h, 3);
    if (rc) return rc;
    if (n_deleted) *n_deleted = 0;
    if (n == 0) return VL_OK;
    if (!ids) return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_delete: NULL ids");

    uint8_t *mbuf = NULL, *jbuf = NULL;
    uint64_t jlen = 16 + 12 * (uint64_t)n;
    rc = vl__rvf_manifest_alloc(h, 1, n, &mbuf);
    if (rc) return rc;
    if (GROW(h, del, ndel, cap_del, n) || GROW(h, dir, ndir, cap_dir, 1) ||
        !(jbuf = vl_mem_alloc((size_t)jlen))) {
        rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory preparing a delete of %u ids", n);
        goto done;
    }
    rc = fix_tail(h);
    if (rc) goto done;

    /* ---- mutate ---- */
    uint32_t d = 0;
    for (uint32_t i = 0; i < n; i++) d += (uint32_t)vl__rvf_delete_id(h, ids[i]);
    vl__rvf_prune_dir(h, d > 0);
    h->epoch++;
    encode_journal(jbuf, h->epoch, ids, n);
    uint64_t jid = h->next_seg_id++;
    uint64_t pos = h->append_at + 64 + jlen;
    char action[96];
    uint8_t wit[13 + 96 + 32];
    snprintf(action, sizeof action, "delete:count=%u,epoch=%u", d, h->epoch);
    uint32_t wlen = vl__rvf_witness_encode(wit, 0, now_ns, action, h->wit_hash);
    uint64_t wid = h->next_seg_id++;
    uint64_t man_id = h->next_seg_id++;

    /* ---- write ---- */
    rc = vl__rvf_emit_segment(h, VL_RVF_SEG_JOURNAL, jid, jbuf, jlen);
    if (!rc) rc = vl__rvf_commit_finish(h, wit, wlen, wid, pos, mbuf, man_id);
    if (rc) rc = rollback(h, h->append_at, rc);
    if (!rc && n_deleted) *n_deleted = d;
done:
    vl_mem_free(jbuf);
    vl_mem_free(mbuf);
    return rc;
}

/* ====================================================================== */
/* Generic commit (rvf.h). Used by src/store.c.                           */
/* ====================================================================== */

static int seg_type_reserved(uint32_t t)
{
    return t == VL_RVF_SEG_VEC || t == VL_RVF_SEG_JOURNAL || t == VL_RVF_SEG_MANIFEST ||
           t == VL_RVF_SEG_WITNESS || t > 0xFF;
}

int vl_rvf_commit(vl_rvf *h, const vl_rvf_commit_args *a, uint32_t *n_deleted)
{
    if (!a) return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_commit: NULL arguments");
    uint32_t n = a->n_rows, nd = a->n_del, ns = a->n_segs, wit_on = a->witness_action != NULL;
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    uint32_t per = (uint32_t)((VL_RVF_VEC_TARGET - 6) / rowsz);
    if (per == 0) per = 1;
    uint32_t nsegs = n ? (n - 1) / per + 1 : 0;
    int rc = vl__rvf_commit_begin(h, (uint64_t)nsegs + (nd ? 1 : 0) + ns + wit_on + 1);
    if (rc) return rc;
    if (n_deleted) *n_deleted = 0;
    if ((n && (!a->ids || !a->vecs)) || (nd && !a->del_ids) || (ns && !a->segs))
        return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_commit: NULL rows, ids or segments");
    for (uint32_t i = 0; i < ns; i++)
        if (seg_type_reserved(a->segs[i].seg_type) || (a->segs[i].len && !a->segs[i].payload))
            return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_commit: segment %u has type 0x%02x or no payload", i,
                                a->segs[i].seg_type);
    if (a->n_unlist && !a->unlist_seg_ids)
        return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_commit: NULL unlist_seg_ids");
    for (uint32_t u = 0; u < a->n_unlist; u++) {
        uint32_t i = 0;
        while (i < h->ndir && h->dir[i].seg_id != a->unlist_seg_ids[u]) i++;
        if (i == h->ndir || seg_type_reserved(h->dir[i].type))
            return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_commit: segment %llu to unlist is not a listed "
                                "non-row segment", (unsigned long long)a->unlist_seg_ids[u]);
    }
    if (wit_on && strlen(a->witness_action) > 160)
        return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_commit: witness action longer than 160 bytes");

    uint32_t srows = (uint32_t)((64u << 10) / rowsz);
    if (srows == 0) srows = 1;
    if (srows > n) srows = n ? n : 1;
    uint64_t jlen = nd ? 16 + 12 * (uint64_t)nd : 0;

    /* ---- reserve everything, so the mutation below cannot fail ---- */
    uint8_t *mbuf = NULL, *scratch = NULL, *jbuf = NULL;
    uint64_t **segids = NULL;
    vmerge mg = { 0 };   /* tiered merge of VEC segments (merge_prepare) */
    rc = vl__rvf_manifest_alloc(h, (uint64_t)nsegs + ns + wit_on, nd, &mbuf);
    if (rc) return rc;
    if ((rc = vl__rvf_reserve_ids(h, n))) goto nomem;
    rc = VL_ENOMEM;
    if (GROW(h, vecs, nvecs, cap_vecs, nsegs) ||
        GROW(h, dir, ndir, cap_dir, (uint64_t)nsegs + ns + 1) || GROW(h, del, ndel, cap_del, nd))
        goto nomem;
    if (n && !(scratch = vl_mem_alloc((size_t)(srows * rowsz)))) goto nomem;
    if (nd && !(jbuf = vl_mem_alloc((size_t)jlen))) goto nomem;
    if (nsegs && !(segids = vl_mem_calloc(nsegs, sizeof *segids))) goto nomem;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t cnt = (s + 1 == nsegs) ? n - s * per : per;
        if (!(segids[s] = vl_mem_alloc((size_t)cnt * sizeof **segids))) goto nomem;
    }
    /* INDEX coverage: a keep_index commit leaves the rows before the newest
     * listed INDEX where they are; a commit that carries an INDEX merges
     * the tiers (the merged VEC lands before the new INDEX) */
    int new_index = 0;
    uint64_t barrier = 0;
    for (uint32_t i = 0; i < ns; i++) new_index |= a->segs[i].seg_type == VL_RVF_SEG_INDEX;
    if (a->keep_index)
        for (uint32_t i = 0; i < h->ndir; i++)
            if (h->dir[i].type == VL_RVF_SEG_INDEX && h->dir[i].offset > barrier) barrier = h->dir[i].offset;
    rc = merge_prepare(h, &mg, n, a->ids, a->vecs, per, nsegs, nd, a->del_ids,
                       (uint64_t)nsegs + ns + 1, (uint64_t)nsegs + (nd ? 1 : 0) + ns + wit_on + 1,
                       barrier, new_index);
    if (rc) goto done;
    rc = fix_tail(h);
    if (rc) goto done;

    /* ---- mutate: deletes, rows, directory, epoch ---- */
    uint32_t d = 0;
    for (uint32_t i = 0; i < nd; i++) d += (uint32_t)vl__rvf_delete_id(h, a->del_ids[i]);
    uint32_t first = h->nvecs;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t lo = s * per, hi = (s + 1 == nsegs) ? n : lo + per;
        vecseg *v = &h->vecs[h->nvecs];
        *v = (vecseg){ .ids = segids[s], .nids = 0, .count = hi - lo, .live_refs = 0, .listed = 1 };
        segids[s] = NULL;
        for (uint32_t r = lo; r < hi; r++) vl__rvf_upsert_row(h, h->nvecs, r - lo, a->ids[r]);
        h->nvecs++;
    }
    int rows_changed = n > 0 || d > 0;
    vl__rvf_prune_dir(h, rows_changed && !a->keep_index);
    if (a->drop_types || a->n_unlist) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < h->ndir; i++) {
            uint32_t t = h->dir[i].type;
            int gone = t < 64 && ((a->drop_types >> t) & 1) && t != VL_RVF_SEG_VEC && t != VL_RVF_SEG_WITNESS;
            for (uint32_t u = 0; u < a->n_unlist && !gone; u++)
                gone = h->dir[i].seg_id == a->unlist_seg_ids[u];     /* checked above: not a row segment */
            if (gone) {
                if (t == VL_RVF_SEG_INDEX) h->flags &= ~VL_RVF_F_INDEX;
                continue;
            }
            h->dir[w++] = h->dir[i];
        }
        h->ndir = w;
    }
    merge_apply(h, &mg, first, nsegs);
    uint64_t pos = h->append_at;
    for (uint32_t s = 0; s < nsegs; s++) {
        if (!h->vecs[first + s].listed) continue;   /* merged, or superseded inside the batch */
        uint32_t lo = s * per, hi = (s + 1 == nsegs) ? n : lo + per;
        uint64_t plen = 6 + (uint64_t)(hi - lo) * rowsz;
        h->dir[h->ndir++] = (dent){ h->next_seg_id++, pos, plen, VL_RVF_SEG_VEC, first + s };
        pos += 64 + plen;
    }
    merge_dirent(h, &mg, &pos);
    h->epoch++;
    uint64_t jid = 0;
    if (nd) {
        encode_journal(jbuf, h->epoch, a->del_ids, nd);
        jid = h->next_seg_id++;
        pos += 64 + jlen;
    }
    uint32_t seg_first = h->ndir;
    for (uint32_t i = 0; i < ns; i++) {
        h->dir[h->ndir++] = (dent){ h->next_seg_id++, pos, a->segs[i].len, a->segs[i].seg_type, NONE };
        if (a->segs[i].seg_type == VL_RVF_SEG_INDEX) h->flags |= VL_RVF_F_INDEX;
        pos += 64 + a->segs[i].len;
    }
    uint8_t wit[13 + 192 + 32];
    uint32_t wlen = 0;
    if (wit_on) {
        char action[192];
        snprintf(action, sizeof action, "%s,epoch=%u", a->witness_action, h->epoch);
        wlen = vl__rvf_witness_encode(wit, a->witness_type ? 1 : 0, a->now_ns, action, h->wit_hash);
    }
    uint64_t wid = wit_on ? h->next_seg_id++ : 0;
    uint64_t man_id = h->next_seg_id++;

    /* ---- write ---- */
    for (uint32_t s = 0; s < nsegs && !rc; s++) {
        if (!h->vecs[first + s].listed) continue;
        uint32_t lo = s * per, hi = (s + 1 == nsegs) ? n : lo + per;
        uint64_t vid = 0;
        for (uint32_t i = 0; i < h->ndir; i++)
            if (h->dir[i].type == VL_RVF_SEG_VEC && h->dir[i].vec == first + s) vid = h->dir[i].seg_id;
        rc = emit_vec_rows(h, vid, a->ids, a->vecs, lo, hi, scratch, srows);
    }
    if (!rc) rc = merge_emit(h, &mg, a->ids, a->vecs);
    if (!rc && nd) rc = vl__rvf_emit_segment(h, VL_RVF_SEG_JOURNAL, jid, jbuf, jlen);
    for (uint32_t i = 0; i < ns && !rc; i++)
        rc = vl__rvf_emit_segment(h, a->segs[i].seg_type, h->dir[seg_first + i].seg_id, a->segs[i].payload,
                                  a->segs[i].len);
    if (!rc) rc = vl__rvf_commit_finish(h, wit, wlen, wid, pos, mbuf, man_id);
    if (rc) rc = rollback(h, h->append_at, rc);   /* append_at moves only on success */
    if (!rc && n_deleted) *n_deleted = d;
    goto done;
nomem:
    if (rc == VL_EBUDGET) vl__rvf_fail(h, rc, "more than %u distinct ids: over this build's cap", MAX_ENTRIES);
    else vl__rvf_fail(h, rc, "out of memory preparing a commit of %u rows and %u deletes", n, nd);
done:
    merge_free(&mg);
    if (segids) for (uint32_t s = 0; s < nsegs; s++) vl_mem_free(segids[s]);
    vl_mem_free(segids);
    vl_mem_free(scratch);
    vl_mem_free(jbuf);
    vl_mem_free(mbuf);
    return rc;
}

uint64_t vl_rvf_memory_bytes(const vl_rvf *h)
{
    uint64_t b = sizeof *h + (uint64_t)h->cap_dir * sizeof *h->dir + (uint64_t)h->cap_vecs * sizeof *h->vecs +
                 (uint64_t)h->cap_ents * sizeof *h->ents + (uint64_t)h->cap_del * sizeof *h->del +
                 vl_idmap_bytes(&h->map);
    for (uint32_t i = 0; i < h->nvecs; i++)
        if (h->vecs[i].ids) b += (uint64_t)(h->vecs[i].nids ? h->vecs[i].nids : 1) * sizeof(uint64_t);
    return b;
}
