/*
 * rvf_refresh.c — vl_rvf_refresh: a read-only handle follows the writer
 * (docs/format.md §5.4). Uses open's helpers (rvf.c) to find and adopt the
 * newer manifest.
 *
 * The committed state only ever grows by appending: the next commit's
 * segments and MANIFEST lie after this handle's committed_end, and its
 * directory lists the still-listed old segments unchanged (same id, offset,
 * length, type) plus new ones. So a reader applies a newer commit from the
 * bytes after its committed end: the backward scan stops at committed_end,
 * each new listed segment is read and hash-verified, its rows are upserted
 * after the kept ones (later rows win, as in load), unlisted VEC segments
 * are dropped and the new deleted list replaces the old one.
 *
 * Everything is read and checked before the handle changes (errors leave
 * it as it was). What the incremental path cannot reproduce exactly as a
 * fresh open would (the prefix no longer matches: the file was replaced or
 * truncated under the handle; a new file identity, dimension or metric; a
 * new VEC listed before a kept one; a live id whose winning row was
 * unlisted; a deleted list that does not follow from the rows) returns
 * VL_RVF_REFRESH_RELOAD: the caller opens the device afresh. After a
 * RELOAD the handle may be half-updated and must only be freed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rvf_internal.h"

typedef struct rf_old {                /* an old directory entry, by segment id */
    uint64_t seg_id, offset, plen;
    uint32_t type, pos;
} rf_old;

static int cmp_rf_old(const void *a, const void *b)
{
    uint64_t x = ((const rf_old *)a)->seg_id, y = ((const rf_old *)b)->seg_id;
    return x < y ? -1 : x > y;
}

static int rf_reload(vl_rvf *h, uint32_t *status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    va_end(ap);
    *status = VL_RVF_REFRESH_RELOAD;
    return VL_OK;
}

int vl_rvf_refresh(vl_rvf *h, vl_rvf_row_fn row_cb, vl_rvf_id_fn del_cb, void *ctx, uint32_t *status)
{
    if (!h || !status) return VL_EINVAL;
    *status = VL_RVF_REFRESH_NONE;
    if (h->poisoned) return vl__rvf_fail(h, VL_EFATAL, "store handle is poisoned by an earlier failed write");
    uint64_t size;
    int rc = vl__rvf_dev_size(h, &size);
    if (rc) return rc;
    if (size < h->committed_end)
        return rf_reload(h, status, "the file (%llu bytes) is shorter than the handle's commit (%llu)",
                         (unsigned long long)size, (unsigned long long)h->committed_end);
    uint8_t hb[64];
    if ((rc = vl__rvf_dev_read(h, h->manifest_offset, hb, 64))) return rc;
    if (memcmp(hb, h->man_hdr, 64) != 0)
        return rf_reload(h, status, "the bytes at the handle's manifest (offset %llu) changed: the file was "
                         "replaced", (unsigned long long)h->manifest_offset);
    if (size - h->committed_end < 64) return VL_OK;

    uint64_t mpos = 0;
    vl_rvf_header mh;
    uint8_t *mp = NULL;
    mview m;
    int found;
    if ((rc = vl__rvf_find_manifest(h, size, h->committed_end, &mpos, &mh, &mp, &m, &found))) return rc;
    if (!found) return VL_OK;          /* a torn or uncommitted tail: nothing new is committed */

    dent *nd = NULL;
    rf_old *old = NULL;
    uint8_t **pay = NULL;              /* per new entry: a new VEC payload */
    uint8_t *was_live = NULL;
    uint32_t nnew_vec = 0;
    uint64_t new_rows = 0;
    float *vec = NULL;

    if (m.epoch <= h->epoch || m.metric != h->metric || m.dim != h->dim ||
        (m.has_fidi != ((h->flags & VL_RVF_F_FIDI) != 0)) || (m.has_fidi && memcmp(m.fidi, h->file_id, 16))) {
        rf_reload(h, status, "the newer manifest (epoch %u) does not continue this handle's file (epoch %u)",
                  m.epoch, h->epoch);
        goto out;
    }
    if (m.nseg > VL_RVF_MAX_DIR) {
        rc = vl__rvf_fail(h, VL_EBUDGET, "manifest lists %u segments; this build caps the directory at %u", m.nseg,
                          VL_RVF_MAX_DIR);
        goto out;
    }
    nd = vl_mem_alloc((size_t)(m.nseg ? m.nseg : 1) * sizeof *nd);
    old = vl_mem_alloc((size_t)(h->ndir ? h->ndir : 1) * sizeof *old);
    pay = vl_mem_calloc(m.nseg ? m.nseg : 1, sizeof *pay);
    if (!nd || !old || !pay) { rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory refreshing"); goto out; }
    for (uint32_t i = 0; i < h->ndir; i++)
        old[i] = (rf_old){ h->dir[i].seg_id, h->dir[i].offset, h->dir[i].plen, h->dir[i].type, i };
    qsort(old, h->ndir, sizeof *old, cmp_rf_old);

    /* ---- the new directory: kept entries, and new ones read and verified ---- */
    uint32_t last_kept_vec = 0, saw_new_vec = 0, have_kept_vec = 0;
    for (uint32_t i = 0; i < m.nseg; i++) {
        const uint8_t *e = m.dirp + (size_t)i * DIRENT_SIZE;
        dent d = { rd64(e), rd64(e + 8), rd64(e + 16), e[24], NONE };
        if (d.offset > mpos || mpos - d.offset < 64 || d.plen > mpos - d.offset - 64) {
            rc = vl__rvf_fail(h, VL_ECORRUPT, "directory entry %u (segment %llu, offset %llu) does not lie before the "
                      "manifest at %llu", i, (unsigned long long)d.seg_id, (unsigned long long)d.offset,
                      (unsigned long long)mpos);
            goto out;
        }
        uint32_t lo = 0, hi = h->ndir;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (old[mid].seg_id < d.seg_id) lo = mid + 1; else hi = mid;
        }
        int kept = lo < h->ndir && old[lo].seg_id == d.seg_id && old[lo].offset == d.offset &&
                   old[lo].plen == d.plen && old[lo].type == d.type;
        if (d.type == VL_RVF_SEG_COW_MAP || d.type == VL_RVF_SEG_MEMBERSHIP) {
            rf_reload(h, status, "a branch() child's commit is not followed incrementally");
            goto out;
        }
        if (kept) {
            d.vec = h->dir[old[lo].pos].vec;
            if (d.type == VL_RVF_SEG_VEC) {
                /* kept VEC segments keep their order, and all come before the new ones */
                if (saw_new_vec || (have_kept_vec && old[lo].pos < last_kept_vec)) {
                    rf_reload(h, status, "the newer manifest reorders VEC segments");
                    goto out;
                }
                have_kept_vec = 1;
                last_kept_vec = old[lo].pos;
            }
        } else if (d.type == VL_RVF_SEG_VEC) {
            saw_new_vec = 1;
            vl_rvf_header hd;
            if ((rc = vl__rvf_check_listed(h, &d, &hd))) goto out;
            if (d.plen < 6 || d.plen > size) {
                rc = vl__rvf_fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: bad payload length",
                                  (unsigned long long)d.seg_id, (unsigned long long)d.offset);
                goto out;
            }
            if (!(pay[i] = vl_mem_alloc((size_t)d.plen))) {
                rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory reading VEC segment %llu", (unsigned long long)d.seg_id);
                goto out;
            }
            if ((rc = vl__rvf_dev_read(h, d.offset + 64, pay[i], d.plen))) goto out;
            uint32_t count = rd32(pay[i] + 2);
            uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
            if (!vl__rvf_hash_ok(hd.content_hash, vl_crc32(0, pay[i], (size_t)d.plen))) {
                rc = vl__rvf_fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: content hash mismatch",
                                  (unsigned long long)d.seg_id, (unsigned long long)d.offset);
                goto out;
            }
            if (rd16(pay[i]) != h->dim || 6 + (uint64_t)count * rowsz > d.plen) {
                rc = vl__rvf_fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: dimension or row count does not "
                                  "fit", (unsigned long long)d.seg_id, (unsigned long long)d.offset);
                goto out;
            }
            nnew_vec++;
            new_rows += count;
        } else {
            vl_rvf_header hd;
            if ((rc = vl__rvf_check_listed(h, &d, &hd))) goto out;
            if (d.type == VL_RVF_SEG_WITNESS) {
                uint8_t *wp = NULL;
                if ((rc = vl__rvf_read_small(h, &d, VL_RVF_MAX_WITNESS, &wp))) goto out;
                vl_mem_free(wp);
            }
        }
        nd[i] = d;
    }
    /* listed segments are distinct byte ranges (as load checks) */
    if (m.nseg > 1) {
        uint64_t *rg = vl_mem_alloc((size_t)m.nseg * 2 * sizeof *rg);
        if (!rg) { rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory checking the directory"); goto out; }
        for (uint32_t i = 0; i < m.nseg; i++) {
            rg[2 * i] = nd[i].offset;
            rg[2 * i + 1] = nd[i].offset + 64 + nd[i].plen;
        }
        qsort(rg, m.nseg, 2 * sizeof *rg, vl__rvf_cmp_u64);
        for (uint32_t i = 1; i < m.nseg && !rc; i++)
            if (rg[2 * i] < rg[2 * i - 1])
                rc = vl__rvf_fail(h, VL_ECORRUPT, "directory entries overlap at offset %llu", (unsigned long long)rg[2 * i]);
        vl_mem_free(rg);
        if (rc) goto out;
    }

    /* ---- reserve, so that applying cannot fail ---- */
    if ((rc = GROW(h, vecs, nvecs, cap_vecs, nnew_vec)) ||
        (rc = vl__rvf_grow((void **)&h->dir, &h->cap_dir, m.nseg, sizeof *h->dir))) {
        rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory refreshing");
        goto out;
    }
    rc = vl__rvf_reserve_ids(h, new_rows);
    if (rc == VL_EBUDGET) { rc = vl__rvf_fail(h, rc, "more than %u distinct ids: over this build's cap", MAX_ENTRIES); goto out; }
    if (rc || (rc = vl__rvf_grow((void **)&h->del, &h->cap_del, (uint64_t)h->nents + new_rows, sizeof *h->del))) {
        rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory refreshing");
        goto out;
    }
    for (uint32_t i = 0, k = h->nvecs; i < m.nseg; i++) {
        if (!pay[i]) continue;
        uint32_t count = rd32(pay[i] + 2);
        vecseg *v = &h->vecs[k++];
        memset(v, 0, sizeof *v);
        if (!(v->ids = vl_mem_alloc((size_t)(count ? count : 1) * sizeof *v->ids))) {
            for (uint32_t j = h->nvecs; j < k; j++) { vl_mem_free(h->vecs[j].ids); h->vecs[j].ids = NULL; }
            rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory refreshing");
            goto out;
        }
    }
    was_live = vl_mem_alloc(m.ndel ? m.ndel : 1);
    vec = vl_mem_alloc((size_t)(h->dim ? h->dim : 1) * sizeof *vec);
    if (!was_live || !vec) {
        for (uint32_t j = h->nvecs; j < h->nvecs + nnew_vec; j++) { vl_mem_free(h->vecs[j].ids); h->vecs[j].ids = NULL; }
        rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory refreshing");
        goto out;
    }
    for (uint32_t i = 0; i < m.ndel; i++) {
        uint32_t ei = vl_idmap_get(&h->map, rd64(m.delp + (size_t)i * 8));
        was_live[i] = ei != VL_NO_NODE && h->ents[ei].del_pos == NONE;
    }

    /* ---- apply (nothing below fails; a surprise means RELOAD) ---- */
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    for (uint32_t i = 0; i < m.nseg; i++) {
        if (!pay[i]) continue;
        uint32_t k = h->nvecs++, count = rd32(pay[i] + 2);
        vecseg *v = &h->vecs[k];
        v->count = count;
        v->listed = 1;
        nd[i].vec = k;
        for (uint32_t r = 0; r < count; r++) vl__rvf_upsert_row(h, k, r, rd64(pay[i] + 6 + r * rowsz));
    }
    /* unlisted old VEC segments: none may still hold a live winning row */
    uint8_t *kept_vec = vl_mem_calloc(h->nvecs ? h->nvecs : 1, 1);
    if (!kept_vec) { rf_reload(h, status, "out of memory refreshing"); goto out; }
    for (uint32_t i = 0; i < m.nseg; i++)
        if (nd[i].type == VL_RVF_SEG_VEC) kept_vec[nd[i].vec] = 1;
    for (uint32_t i = 0; i < h->ndir; i++) {
        const dent *d = &h->dir[i];
        if (d->type != VL_RVF_SEG_VEC || kept_vec[d->vec]) continue;
        if (h->vecs[d->vec].live_refs) {
            vl_mem_free(kept_vec);
            rf_reload(h, status, "an unlisted VEC segment still held live rows");
            goto out;
        }
        vl__rvf_drop_vec(h, d->vec);
    }
    vl_mem_free(kept_vec);
    memcpy(h->dir, nd, (size_t)m.nseg * sizeof *nd);
    h->ndir = m.nseg;
    /* the deleted list: authoritative, and it must be what the rows leave */
    uint32_t listed_del = 0;
    for (uint32_t i = 0; i < m.ndel; i++) vl__rvf_delete_id(h, rd64(m.delp + (size_t)i * 8));
    for (uint32_t i = 0; i < m.ndel; i++) {
        uint32_t ei = vl_idmap_get(&h->map, rd64(m.delp + (size_t)i * 8));
        listed_del += ei != VL_NO_NODE;
    }
    if (listed_del != h->ndel) {
        rf_reload(h, status, "the newer deleted list keeps ids the rows do not explain");
        goto out;
    }
    vl__rvf_adopt_manifest(h, &m, mpos, &mh, mp);
    h->flags &= ~(uint32_t)VL_RVF_F_INDEX;
    h->n_witness = 0;
    uint64_t maxid = mh.segment_id;
    for (uint32_t i = 0; i < h->ndir; i++) {
        if (h->dir[i].type == VL_RVF_SEG_INDEX) h->flags |= VL_RVF_F_INDEX;
        if (h->dir[i].type == VL_RVF_SEG_WITNESS) h->n_witness++;
        if (h->dir[i].seg_id > maxid) maxid = h->dir[i].seg_id;
    }
    uint32_t kept_w = 0;
    /* append_at and the chain head, as an open finds them (reads the tail only,
     * or one witness before the manifest); a failure here is not a data error */
    if (vl__rvf_tail_walk(h, size, &kept_w, &maxid) != VL_OK) h->append_at = h->committed_end;
    if (kept_w == 0 && vl__rvf_find_head(h, &maxid) != VL_OK) memset(h->wit_hash, 0, 32);
    if (maxid >= h->next_seg_id) h->next_seg_id = maxid == UINT64_MAX ? UINT64_MAX : maxid + 1;
    *status = VL_RVF_REFRESH_APPLIED;
    h->msg[0] = 0;

    /* ---- report: the winning live rows of the new segments, then the ids that left ---- */
    for (uint32_t i = 0; i < h->ndir && rc == VL_OK; i++) {
        if (!pay[i] || !row_cb) continue;
        uint32_t k = h->dir[i].vec, count = h->vecs[k].count;
        for (uint32_t r = 0; r < count && rc == VL_OK; r++) {
            const uint8_t *p = pay[i] + 6 + r * rowsz;
            uint32_t ei = vl_idmap_get(&h->map, rd64(p));
            if (ei == VL_NO_NODE) continue;
            const entry *e = &h->ents[ei];
            if (e->seg != k || e->row != r || e->del_pos != NONE) continue;
            for (uint32_t j = 0; j < h->dim; j++) vec[j] = rdf(p + 8 + 4 * (size_t)j);
            rc = row_cb(ctx, rd64(p), vec);
        }
    }
    for (uint32_t i = 0; i < m.ndel && rc == VL_OK && del_cb; i++) {
        uint64_t id = rd64(m.delp + (size_t)i * 8);
        uint32_t ei = vl_idmap_get(&h->map, id);
        if (was_live[i] && ei != VL_NO_NODE && h->ents[ei].del_pos != NONE) rc = del_cb(ctx, id);
    }
    vl__rvf_vecs_gc(h);
out:
    if (pay)
        for (uint32_t i = 0; i < m.nseg; i++) vl_mem_free(pay[i]);
    vl_mem_free(pay);
    vl_mem_free(nd);
    vl_mem_free(old);
    vl_mem_free(was_live);
    vl_mem_free(vec);
    vl_mem_free(mp);
    return rc;
}
