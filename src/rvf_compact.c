/*
 * rvf_compact.c — new files from a handle: create and derive (a fresh
 * file whose only segment is an epoch-0 MANIFEST; a derived child records
 * its parent's file_id, lineage depth + 1 and parent_hash = fold32 of the
 * last <= 64 KiB of the parent), compaction (vl_rvf_compact[_ex]: the live
 * rows (streamed in two passes, never a whole VEC payload in memory), the
 * segments this layer does not interpret and the whole witness history
 * copied into a new file, then a "compact:" WITNESS, unlisted),
 * and the image check of an exported copy (vl_rvf_check_image).
 *
 * Invariants: the source file is only read (derive and compaction write
 * to the new device only); a new file is written by the same segment and
 * commit helpers as rvf_commit.c, so it satisfies everything open checks.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "rvf_internal.h"

/* ====================================================================== */
/* Create and derive                                                       */
/* ====================================================================== */

static int create_common(vl_io *io, uint32_t dim, uint32_t metric, uint32_t profile,
                         const uint8_t file_id[16], const uint8_t parent_id[16],
                         const uint8_t parent_hash[32], uint32_t depth, vl_rvf **out,
                         char *msg, uint32_t msg_cap)
{
    if (!io || !out || !file_id) { vl__rvf_put_msg(msg, msg_cap, "NULL argument"); return VL_EINVAL; }
    if (dim == 0 || dim > VL_MAX_DIM) {
        vl__rvf_put_msg(msg, msg_cap, "dimension %u is outside 1..%u", dim, VL_MAX_DIM);
        return VL_EINVAL;
    }
    if (metric > VL_METRIC_COSINE) { vl__rvf_put_msg(msg, msg_cap, "unknown metric %u", metric); return VL_EINVAL; }
    vl_rvf *h = vl__rvf_handle_new(io);
    if (!h) { vl__rvf_put_msg(msg, msg_cap, "out of memory"); return VL_ENOMEM; }
    uint64_t size;
    uint8_t mbuf[MAN_FIXED + 4 + FIDI_SIZE];
    int rc = vl__rvf_dev_size(h, &size);
    if (!rc && size != 0) rc = vl__rvf_fail(h, VL_EINVAL, "cannot create a store on a non-empty device "
                                            "(%llu bytes)", (unsigned long long)size);
    if (rc) goto out;
    h->dim = dim;
    h->metric = metric;
    h->profile = profile;
    h->depth = depth;
    h->flags = VL_RVF_F_FIDI;
    memcpy(h->file_id, file_id, 16);
    if (parent_id) memcpy(h->parent_id, parent_id, 16);
    if (parent_hash) memcpy(h->parent_hash, parent_hash, 32);
    uint64_t id = h->next_seg_id++;
    vl__rvf_manifest_encode(h, mbuf);
    rc = vl__rvf_emit_segment(h, VL_RVF_SEG_MANIFEST, id, mbuf, sizeof mbuf);
    if (!rc) rc = vl__rvf_dev_sync(h);
    if (rc) goto out;
    h->manifest_offset = 0;
    h->committed_end = h->append_at = 64 + sizeof mbuf;
    h->man_crc = vl_crc32(0, mbuf, sizeof mbuf);
out:
    if (rc) {
        vl__rvf_put_msg(msg, msg_cap, "%s", h->msg);
        vl_rvf_free(h);
        return rc;
    }
    *out = h;
    return VL_OK;
}

int vl_rvf_create(vl_io *io, uint32_t dim, uint32_t metric, const uint8_t file_id[16],
                  vl_rvf **out, char *msg, uint32_t msg_cap)
{
    return create_common(io, dim, metric, 0, file_id, NULL, NULL, 0, out, msg, msg_cap);
}

int vl_rvf_derive(vl_rvf *parent, vl_io *child_io, const uint8_t child_file_id[16],
                  vl_rvf **out, char *msg, uint32_t msg_cap)
{
    if (!parent) { vl__rvf_put_msg(msg, msg_cap, "NULL parent"); return VL_EINVAL; }
    if (parent->depth == UINT32_MAX) {
        vl__rvf_put_msg(msg, msg_cap, "parent lineage depth is already at its maximum");
        return VL_EINVAL;
    }
    /* parent_hash = fold32 of the last <= 64 KiB of the parent file. */
    uint64_t end = parent->append_at, len = end < TAIL_FIRST ? end : TAIL_FIRST;
    uint8_t *tail = vl_mem_alloc((size_t)(len ? len : 1));
    uint8_t ph[32];
    if (!tail) { vl__rvf_put_msg(msg, msg_cap, "out of memory"); return VL_ENOMEM; }
    int rc = vl__rvf_dev_read(parent, end - len, tail, len);
    if (rc) {
        vl__rvf_put_msg(msg, msg_cap, "reading the parent: %s", parent->msg);
        vl_mem_free(tail);
        return rc;
    }
    vl_rvf_fold32_once(tail, len, ph);
    vl_mem_free(tail);
    return create_common(child_io, parent->dim, parent->metric, parent->profile, child_file_id,
                         parent->file_id, ph, parent->depth + 1, out, msg, msg_cap);
}

/* ====================================================================== */
/* Compaction                                                              */
/* ====================================================================== */

/* The live rows go into VEC segments of `per` rows (the last one fewer),
 * streamed through a bounded chunk buffer, never a whole payload in memory
 * (WebAssembly memory never shrinks: a 16 MiB buffer would stay resident):
 * pass 1 scans the rows and computes each segment's CRC (its header comes
 * first), pass 2 scans them again and writes, checking each segment's CRC
 * against pass 1 (the source changed in between: VL_ECORRUPT). */
typedef struct compact_ctx {
    vl_rvf *n;           /* the new store (bound to dst) */
    uint64_t per, total; /* rows per segment; rows in all (h's live count) */
    uint64_t row;        /* rows seen in this pass */
    uint32_t *crcs;      /* per segment, from pass 1 */
    int writing;         /* 0: pass 1, 1: pass 2 */
    uint8_t *chunk;      /* chunk_rows encoded rows */
    uint32_t chunk_rows, fill;
    uint32_t crc;        /* pass 2: CRC of the current segment so far */
    uint64_t *ids;       /* pass 2: ids of the current segment (handed over to its vecseg) */
    uint64_t seg_id, seg_off;
    int defer;           /* leave n's per-id tables to vl_rvf_index_rows */
} compact_ctx;

static uint32_t seg_rows(const compact_ctx *c, uint64_t s)
{
    uint64_t a = s * c->per;
    return (uint32_t)(c->total - a < c->per ? c->total - a : c->per);
}

static void seg_prefix(const compact_ctx *c, uint64_t s, uint8_t pre[6])
{
    wr16(pre, (uint16_t)c->n->dim);
    wr32(pre + 2, seg_rows(c, s));
}

static int chunk_out(compact_ctx *c)
{
    int rc = c->fill ? vl__rvf_dev_append(c->n, c->chunk, (uint64_t)c->fill * (8 + 4 * (uint64_t)c->n->dim)) : VL_OK;
    c->fill = 0;
    return rc;
}

static int compact_row(void *ctx, uint64_t id, const float *vec)
{
    compact_ctx *c = ctx;
    vl_rvf *n = c->n;
    uint32_t dim = n->dim;
    uint64_t rowsz = 8 + 4 * (uint64_t)dim;
    if (c->row == c->total)
        return vl__rvf_fail(n, VL_ECORRUPT, "compaction: the store has more live rows than it indexes");
    uint64_t s = c->row / c->per, r = c->row % c->per;
    uint32_t rows = seg_rows(c, s);
    uint8_t pre[6];
    int rc;
    if (r == 0) {
        seg_prefix(c, s, pre);
        if (!c->writing) {
            c->crcs[s] = vl_crc32(0, pre, 6);
        } else {
            uint64_t plen = 6 + (uint64_t)rows * rowsz;
            if ((rc = GROW(n, vecs, nvecs, cap_vecs, 1)) || (rc = GROW(n, dir, ndir, cap_dir, 1)) ||
                (!c->defer && (rc = vl__rvf_reserve_ids(n, rows))))
                return vl__rvf_fail(n, rc == VL_EBUDGET ? rc : VL_ENOMEM, "out of memory compacting");
            if (!(c->ids = vl_mem_alloc((size_t)rows * sizeof *c->ids)))
                return vl__rvf_fail(n, VL_ENOMEM, "out of memory compacting");
            c->seg_id = n->next_seg_id++;
            c->seg_off = n->append_at;
            c->crc = vl_crc32(0, pre, 6);
            if ((rc = vl__rvf_emit_header(n, VL_RVF_SEG_VEC, c->seg_id, plen, c->crcs[s])) ||
                (rc = vl__rvf_dev_append(n, pre, 6)))
                return rc;
        }
    }
    uint8_t *p = c->chunk + (uint64_t)c->fill * rowsz;
    wr64(p, id);
    for (uint32_t j = 0; j < dim; j++) wrf(p + 8 + 4 * (size_t)j, vec[j]);
    c->row++;
    if (!c->writing) {
        c->crcs[s] = vl_crc32(c->crcs[s], p, (size_t)rowsz);
        return 0;
    }
    c->crc = vl_crc32(c->crc, p, (size_t)rowsz);
    c->ids[r] = id;
    if (++c->fill == c->chunk_rows && (rc = chunk_out(c))) return rc;
    if (r + 1 < rows) return 0;
    /* the segment is complete */
    if ((rc = chunk_out(c))) return rc;
    if (c->crc != c->crcs[s])
        return vl__rvf_fail(n, VL_ECORRUPT, "compaction: the rows read twice differ (the device changed "
                            "under the handle)");
    uint32_t k = n->nvecs++;
    n->vecs[k] = (vecseg){ .ids = c->ids, .nids = 0, .count = rows, .live_refs = 0, .listed = 1 };
    if (c->defer) n->ids_deferred += rows;
    else for (uint32_t q = 0; q < rows; q++) vl__rvf_upsert_row(n, k, q, c->ids[q]);
    c->ids = NULL;
    uint64_t plen = 6 + (uint64_t)rows * rowsz;
    n->dir[n->ndir++] = (dent){ c->seg_id, c->seg_off, plen, VL_RVF_SEG_VEC, k };
    n->append_at += 64 + plen;
    return 0;
}

/* Copy listed segment d of h into n byte for byte, verifying its hash. */
static int compact_copy(vl_rvf *h, vl_rvf *n, const dent *d, uint8_t *scratch)
{
    vl_rvf_header hd;
    uint8_t hb[64];
    int rc = vl__rvf_check_listed(h, d, &hd);
    if (!rc) rc = vl__rvf_dev_read(h, d->offset, hb, 64);
    if (rc) return vl__rvf_fail(n, rc, "%s", h->msg);
    uint32_t crc = 0;
    if ((rc = GROW(n, dir, ndir, cap_dir, 1))) return vl__rvf_fail(n, VL_ENOMEM, "out of memory compacting");
    uint64_t off = n->append_at;
    rc = vl__rvf_dev_append(n, hb, 64);
    for (uint64_t done = 0; !rc && done < d->plen;) {
        uint32_t len = d->plen - done > IO_CHUNK ? IO_CHUNK : (uint32_t)(d->plen - done);
        rc = vl__rvf_dev_read(h, d->offset + 64 + done, scratch, len);
        if (rc) return vl__rvf_fail(n, rc, "%s", h->msg);
        crc = vl_crc32(crc, scratch, len);
        rc = vl__rvf_dev_append(n, scratch, len);
        done += len;
    }
    if (rc) return rc;
    if (!vl__rvf_hash_ok(hd.content_hash, crc))
        return vl__rvf_fail(n, VL_ECORRUPT, "segment %llu (type 0x%02x) at offset %llu: content hash mismatch",
                            (unsigned long long)d->seg_id, d->type, (unsigned long long)d->offset);
    n->dir[n->ndir++] = (dent){ d->seg_id, off, d->plen, d->type, NONE };
    n->append_at += 64 + d->plen;
    if (d->type == VL_RVF_SEG_COW_MAP || d->type == VL_RVF_SEG_MEMBERSHIP) n->flags |= VL_RVF_F_BRANCH;
    return VL_OK;
}

/* witness_walk visitor: append the witness to the new file as stored. */
static int copy_witness(vl_rvf *h, void *ctx, uint64_t off, const uint8_t *hdr, const uint8_t *p,
                        uint64_t plen)
{
    (void)h; (void)off;
    vl_rvf *n = ctx;
    int rc = vl__rvf_dev_append(n, hdr, 64);
    if (!rc) rc = vl__rvf_dev_append(n, p, plen);
    if (!rc) n->append_at += 64 + plen;
    return rc;
}

/* Copy every WITNESS of h's file (up to append_at, in file order, hash
 * verified) into n, unlisted: the new file holds the whole chain, and the
 * compaction witness links to its last link. */
static int compact_witnesses(vl_rvf *h, vl_rvf *n)
{
    vl_rvf_witness_report r;
    h->msg[0] = 0;
    int rc = vl__rvf_witness_walk(h, h->append_at, copy_witness, n, &r);
    if (rc) {
        if (!n->poisoned) vl__rvf_fail(n, rc, "%s", h->msg);   /* the source failed, not dst */
        return rc;
    }
    memcpy(n->wit_hash, r.last_hash, 32);
    return VL_OK;
}

static int compact_impl(vl_rvf *h, vl_io *dst, uint64_t now_ns, uint64_t skip_types,
                        const vl_rvf_seg *segs, uint32_t n_segs, int defer, vl_rvf **out);

int vl_rvf_compact(vl_rvf *h, vl_io *dst, uint64_t now_ns, vl_rvf **out)
{
    return compact_impl(h, dst, now_ns, 0, NULL, 0, 0, out);
}

int vl_rvf_compact_ex(vl_rvf *h, vl_io *dst, uint64_t now_ns, uint64_t skip_types,
                      const vl_rvf_seg *segs, uint32_t n_segs, int defer_ids, vl_rvf **out)
{
    if (n_segs && !segs) return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_compact_ex: NULL segments");
    return compact_impl(h, dst, now_ns, skip_types, segs, n_segs, defer_ids, out);
}

/* The per-id tables of n, sized once for its rows (a compaction's rows are
 * distinct ids, all live): grown by doubling while rows are added, old and
 * new arrays would be alive at once, and the doubling's slack would stay. */
static int size_ids(vl_rvf *n, uint64_t rows)
{
    if (!rows) return VL_OK;
    if (!(n->ents = vl_mem_alloc((size_t)rows * sizeof *n->ents)) || vl_idmap_reserve(&n->map, (uint32_t)rows))
        return VL_ENOMEM;
    n->cap_ents = (uint32_t)rows;
    return VL_OK;
}

int vl_rvf_index_rows(vl_rvf *h)
{
    if (!h || !h->ids_deferred) return VL_OK;
    if (h->nents || size_ids(h, h->ids_deferred)) return vl__rvf_fail(h, VL_ENOMEM, "out of memory indexing the compacted rows");
    for (uint32_t k = 0; k < h->nvecs; k++)
        for (uint32_t q = 0; q < h->vecs[k].count; q++) vl__rvf_upsert_row(h, k, q, h->vecs[k].ids[q]);
    h->ids_deferred = 0;
    return VL_OK;
}

static int compact_impl(vl_rvf *h, vl_io *dst, uint64_t now_ns, uint64_t skip_types,
                        const vl_rvf_seg *segs, uint32_t n_segs, int defer, vl_rvf **out)
{
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim, live = (uint64_t)h->nents - h->ndel;
    uint64_t per = (VL_RVF_VEC_TARGET - 6) / rowsz;
    if (per == 0) per = 1;
    int rc = vl__rvf_commit_begin(h, live / per + 3 + n_segs);
    if (rc) return rc;
    if (!dst || !out) return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_compact: NULL argument");
    vl_rvf *n = vl__rvf_handle_new(dst);
    if (!n) return vl__rvf_fail(h, VL_ENOMEM, "out of memory");
    compact_ctx c;
    memset(&c, 0, sizeof c);
    c.n = n;
    uint8_t *scratch = NULL, *mbuf = NULL;
    uint64_t size;
    if ((rc = vl__rvf_dev_size(n, &size))) goto out;
    if (size != 0) { rc = vl__rvf_fail(n, VL_EINVAL, "compaction target is not empty"); goto out; }

    n->dim = h->dim;
    n->metric = h->metric;
    n->profile = h->profile;
    n->depth = h->depth;
    n->flags = h->flags & VL_RVF_F_FIDI;
    memcpy(n->file_id, h->file_id, 16);
    memcpy(n->parent_id, h->parent_id, 16);
    memcpy(n->parent_hash, h->parent_hash, 32);
    n->next_seg_id = h->next_seg_id;
    n->epoch = h->epoch + 1;

    /* ---- live rows into VEC segments of <= VL_RVF_VEC_TARGET bytes ---- */
    if (per > live) per = live ? live : 1;
    c.per = per;
    c.total = live;
    c.chunk_rows = (uint32_t)((64u << 10) / rowsz);
    if (c.chunk_rows == 0) c.chunk_rows = 1;
    c.chunk = vl_mem_alloc((size_t)(c.chunk_rows * rowsz));
    c.crcs = vl_mem_alloc((size_t)(live / per + 1) * sizeof *c.crcs);
    if (!c.chunk || !c.crcs) { rc = vl__rvf_fail(n, VL_ENOMEM, "out of memory compacting"); goto out; }
    c.defer = defer;
    if (!defer && size_ids(n, live)) { rc = vl__rvf_fail(n, VL_ENOMEM, "out of memory compacting"); goto out; }
    uint32_t vec_segs = 0;
    for (uint32_t i = 0; i < h->ndir; i++) vec_segs += h->dir[i].type == VL_RVF_SEG_VEC;
    for (c.writing = 0; c.writing < 2; c.writing++) {
        c.row = 0;
        h->msg[0] = 0;
        rc = vl_rvf_scan(h, compact_row, &c);
        if (rc) {
            if (n->msg[0] == 0) vl__rvf_fail(n, rc, "%s", h->msg);   /* the source failed, not dst */
            goto out;
        }
        if (c.row != live) {
            rc = vl__rvf_fail(n, VL_ECORRUPT, "compaction: found %llu live rows, the store indexes %llu",
                              (unsigned long long)c.row, (unsigned long long)live);
            goto out;
        }
    }

    /* ---- the witness chain (unlisted), then segments this layer does not interpret ---- */
    if ((rc = compact_witnesses(h, n))) goto out;
    for (uint32_t i = 0; i < h->ndir; i++) {
        uint32_t t = h->dir[i].type;
        if (t == VL_RVF_SEG_VEC || t == VL_RVF_SEG_MANIFEST || t == VL_RVF_SEG_JOURNAL ||
            t == VL_RVF_SEG_INDEX || t == VL_RVF_SEG_WITNESS || (t < 64 && ((skip_types >> t) & 1)))
            continue;
        /* the copy buffer only when there is a segment to copy, and not during the row scans
         * (which read through a buffer of their own) */
        if (!scratch && !(scratch = vl_mem_alloc(IO_CHUNK))) { rc = vl__rvf_fail(n, VL_ENOMEM, "out of memory compacting"); goto out; }
        if ((rc = compact_copy(h, n, &h->dir[i], scratch))) goto out;
    }
    /* ---- the caller's segments (store: META snapshot, INDEX) ---- */
    for (uint32_t i = 0; i < n_segs; i++) {
        if ((rc = GROW(n, dir, ndir, cap_dir, 1))) { rc = vl__rvf_fail(n, VL_ENOMEM, "out of memory"); goto out; }
        uint64_t sid = n->next_seg_id++, off = n->append_at;
        if ((rc = vl__rvf_emit_segment(n, segs[i].seg_type, sid, segs[i].payload, segs[i].len))) goto out;
        n->dir[n->ndir++] = (dent){ sid, off, segs[i].len, segs[i].seg_type, NONE };
        n->append_at += 64 + segs[i].len;
        if (segs[i].seg_type == VL_RVF_SEG_INDEX) n->flags |= VL_RVF_F_INDEX;
    }

    /* ---- witness, sync, manifest, sync ---- */
    uint64_t reclaimed = h->committed_end > n->append_at ? h->committed_end - n->append_at : 0;
    char action[128];
    uint8_t wit[13 + 128 + 32];
    snprintf(action, sizeof action, "compact:segments_compacted=%u,bytes_reclaimed=%llu,epoch=%u",
             vec_segs, (unsigned long long)reclaimed, n->epoch);
    uint32_t wlen = vl__rvf_witness_encode(wit, 1, now_ns, action, n->wit_hash);
    if ((rc = vl__rvf_manifest_alloc(n, 0, 0, &mbuf))) goto out;
    uint64_t wid = n->next_seg_id++;
    rc = vl__rvf_commit_finish(n, wit, wlen, wid, n->append_at, mbuf, n->next_seg_id++);
out:
    vl_mem_free(c.chunk);
    vl_mem_free(c.crcs);
    vl_mem_free(c.ids);
    vl_mem_free(scratch);
    vl_mem_free(mbuf);
    if (rc) {
        /* h is untouched (only read) and stays usable; report the reason on
         * h, without dst's "the store handle is now unusable" (dst is garbage). */
        char tmp[sizeof h->msg];
        char *cut = strstr(n->msg, "; the store handle is now unusable");
        if (cut) *cut = 0;
        snprintf(tmp, sizeof tmp, "compaction: %s", n->msg);
        memcpy(h->msg, tmp, sizeof tmp);
        vl_rvf_free(n);
        return rc;
    }
    *out = n;
    return VL_OK;
}

/* ====================================================================== */
/* Image check (export)                                                    */
/* ====================================================================== */

/* See rvf.h. The image is opened as a file of its own (which finds its
 * newest valid manifest, checks every listed segment's header and hashes
 * every listed VEC and WITNESS); then its manifest must be h's (offset and
 * payload CRC-32), it must end exactly at h's append_at, and the listed
 * segments open does not hash (META, INDEX, foreign types) are hashed
 * here. A file that changed under a read-only handle (truncated, rewritten,
 * a torn or newer commit appended) fails one of these. */
int vl_rvf_check_image(const vl_rvf *h, vl_io *img, char *msg, uint32_t msg_cap)
{
    if (!h || !img) { vl__rvf_put_msg(msg, msg_cap, "vl_rvf_check_image: NULL argument"); return VL_EINVAL; }
    uint64_t size;
    int rc = img->size(img->ctx, &size);
    if (rc) { vl__rvf_put_msg(msg, msg_cap, "the image's size cannot be read (%d)", rc); return rc < 0 ? rc : VL_EIO; }
    if (size != h->append_at) {
        vl__rvf_put_msg(msg, msg_cap, "the image is %llu bytes, but the commit it should hold (epoch %u) ends at "
                        "byte %llu", (unsigned long long)size, h->epoch, (unsigned long long)h->append_at);
        return VL_ECORRUPT;
    }
    vl_rvf *g = NULL;
    char m[256];
    rc = vl_rvf_open(img, &g, m, sizeof m);
    if (rc) {
        vl__rvf_put_msg(msg, msg_cap, "the image does not open as an .rvf file (%s)", m);
        return rc == VL_ENOMEM ? rc : VL_ECORRUPT;
    }
    if (g->manifest_offset != h->manifest_offset || g->man_crc != h->man_crc || g->epoch != h->epoch) {
        vl__rvf_put_msg(msg, msg_cap, "the image's committed manifest (epoch %u at byte %llu, crc %08x) is not the "
                        "one this handle holds (epoch %u at byte %llu, crc %08x)", g->epoch,
                        (unsigned long long)g->manifest_offset, g->man_crc, h->epoch,
                        (unsigned long long)h->manifest_offset, h->man_crc);
        vl_rvf_free(g);
        return VL_ECORRUPT;
    }
    if (g->append_at != size) {
        vl__rvf_put_msg(msg, msg_cap, "the image holds %llu bytes after its committed state that are not part of it",
                        (unsigned long long)(size - g->append_at));
        vl_rvf_free(g);
        return VL_ECORRUPT;
    }
    uint8_t *scratch = NULL;
    for (uint32_t i = 0; i < g->ndir && rc == VL_OK; i++) {
        const dent *d = &g->dir[i];
        if (d->type == VL_RVF_SEG_VEC || d->type == VL_RVF_SEG_WITNESS) continue;   /* hashed by open */
        if (!scratch && !(scratch = vl_mem_alloc(IO_CHUNK))) { rc = VL_ENOMEM; vl__rvf_put_msg(msg, msg_cap, "out of memory"); break; }
        vl_rvf_header hd;
        uint32_t crc = 0;
        rc = vl__rvf_check_listed(g, d, &hd);
        if (!rc) rc = vl__rvf_crc_range(g, d->offset + 64, d->plen, scratch, IO_CHUNK, &crc);
        if (!rc && !vl__rvf_hash_ok(hd.content_hash, crc))
            rc = vl__rvf_fail(g, VL_ECORRUPT, "segment %llu (type 0x%02x) at offset %llu: content hash mismatch",
                              (unsigned long long)d->seg_id, d->type, (unsigned long long)d->offset);
        if (rc) {
            vl__rvf_put_msg(msg, msg_cap, "%s", g->msg);
            if (rc != VL_ENOMEM) rc = VL_ECORRUPT;
        }
    }
    vl_mem_free(scratch);
    vl_rvf_free(g);
    return rc;
}
