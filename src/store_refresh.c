/*
 * store_refresh.c — vl_store_refresh (veclite.h "Stores"): a read-only store
 * follows the commits its file's writer makes after it opened.
 *
 * How it fits: rvf.c (vl_rvf_refresh) reads only the bytes after the
 * handle's committed end, checks them, and moves the handle's directory,
 * rows and deleted list to the newest intact commit; it reports the
 * winning live rows of the newly listed VEC segments and the ids that left.
 * This file applies the same change to the index and the metadata:
 *   - new META segments (listed now, not before) in directory order: a
 *     delta whose generation is already applied is skipped; one that
 *     continues (or spans, when merged) the store's generation is applied
 *     — records are whole states, so re-applying a merged delta's older
 *     records is idempotent; field names must keep the file's field ids;
 *   - rows: upserted with their metadata (the new record, else the one the
 *     index holds); a row bit-identical to the live one with no new record
 *     is skipped (tier merges copy unchanged rows into new segments);
 *   - deletes; then records of ids whose row did not change.
 * Invariant: after VL_OK the store answers like a fresh read-only open of
 * the same committed state (the HNSW graph may differ: it is built by
 * insertion here, loaded from the INDEX there; rows and metadata are the
 * same). A META snapshot resets the file metadata and clears the
 * metadata of live ids it has no record of (O(live) in memory, no file
 * re-read). Anything the incremental path does not follow exactly — the
 * file was replaced or truncated (the bytes at the handle's manifest
 * changed), a field-id mismatch, a broken META chain, a branch()
 * child's commit, the text field set (on the still empty store), any
 * failure after the rvf handle moved — is handled by
 * a full reload from the same device: the handle's contents are swapped
 * with a freshly opened store (status VL_REFRESH_RELOADED). If that
 * reload fails the store is poisoned (VL_EFATAL later): reopen it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "store.h"
#include "io.h"

#define RF_CHUNK 1024u

typedef struct rf_ctx {
    vl_buf ids, vecs, del;        /* reported rows and ids (native u64 / f32) */
    uint32_t dim;
} rf_ctx;

static int rf_row(void *ctx, uint64_t id, const float *vec)
{
    rf_ctx *c = ctx;
    vl__buf_put(&c->ids, &id, 8);
    vl__buf_put(&c->vecs, vec, (uint64_t)c->dim * sizeof(float));
    return c->ids.oom || c->vecs.oom ? VL_ENOMEM : 0;
}

static int rf_del(void *ctx, uint64_t id)
{
    rf_ctx *c = ctx;
    vl__buf_put(&c->del, &id, 8);
    return c->del.oom ? VL_ENOMEM : 0;
}


/* Swap s's contents with a fresh read-only open of its device. */
static int reload(vl_store *s, const char *why)
{
    /* No configuration: the file's own (dimension, metric, index settings), whatever it is
     * now, exactly as a fresh read-only open of the file would take it. */
    char m[256];
    vl_store *n = NULL;
    int rc = vl_store_open(s->io, NULL, VL_STORE_READONLY, NULL, &n, m, sizeof m);
    if (rc) {
        s->poisoned = 1;
        return vl__store_msg(s, rc, "refresh had to reload the store (%s), and the reload failed: %s; reopen it", why, m);
    }
    vl_store tmp = *s;
    *s = *n;
    *n = tmp;
    /* the reloaded index moves into the handle the caller may hold
     * (vl_store_index stays the same pointer, veclite.h) */
    if (n->idx && s->idx) {
        vl__index_replace(n->idx, s->idx);
        s->idx = n->idx;
        n->idx = NULL;
    }
    /* the quantized index reads its float32 rows through its store: that is s now, not n
     * (which is freed next); left pointing at n, a search read freed memory */
    vl__store_quant_bind(s);
    (void)vl_store_close(n);                      /* read-only: writes nothing */
    return VL_OK;
}

/* ---- new META segments ---- */

typedef struct rf_meta {
    vl_store *s;
    vl_buf recs;                  /* u16 n | fields, per record, appended */
    vl_idmap map;                 /* id -> index in at/len */
    uint64_t *rid;
    uint32_t *at, *len, n, cap;
    int mismatch;
    int snapshot;                 /* a snapshot was applied: ids it has no record of lose theirs */
} rf_meta;

static int rm_schema(void *ctx, uint32_t fid, const uint8_t *name, uint32_t len)
{
    rf_meta *M = ctx;
    uint32_t id;
    int rc = vl_index_field(M->s->idx, (const char *)name, len, &id);
    if (rc == VL_ENOMEM) return rc;
    if (rc || id != fid) { M->mismatch = 1; return 1; }
    return 0;
}

static int rm_filemeta(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen)
{
    rf_meta *M = ctx;
    return vl__store_fm_set(M->s, key, klen, val, vlen);
}

static int rm_record(void *ctx, uint64_t id, uint32_t op, uint32_t n, const uint8_t *fields, uint32_t flen)
{
    rf_meta *M = ctx;
    uint32_t k = vl_idmap_get(&M->map, id);
    if (k == VL_NO_NODE) {
        if (M->n == M->cap) {
            uint32_t nc = M->cap ? M->cap * 2 : 64;
            uint32_t *a = vl_mem_realloc(M->at, (size_t)nc * sizeof *a);
            if (a) M->at = a;
            uint32_t *b = vl_mem_realloc(M->len, (size_t)nc * sizeof *b);
            if (b) M->len = b;
            uint64_t *r = vl_mem_realloc(M->rid, (size_t)nc * sizeof *r);
            if (r) M->rid = r;
            if (!a || !b || !r) return VL_ENOMEM;
            M->cap = nc;
        }
        if (vl_idmap_reserve(&M->map, 1)) return VL_ENOMEM;
        k = M->n++;
        vl_idmap_put(&M->map, id, k);
        M->rid[k] = id;
    }
    M->at[k] = (uint32_t)M->recs.len;
    M->len[k] = 0;
    if (op == VL_META_OP_UPSERT && n) {
        vl__buf_u16(&M->recs, (uint16_t)n);
        vl__buf_put(&M->recs, fields, flen);
        M->len[k] = flen + 2;
    }
    return M->recs.oom || M->recs.len > UINT32_MAX ? VL_ENOMEM : 0;
}

static void rf_meta_free(rf_meta *M)
{
    vl__buf_free(&M->recs);
    vl_idmap_free(&M->map);
    vl_mem_free(M->rid);
    vl_mem_free(M->at);
    vl_mem_free(M->len);
}

static int is_old_meta(const vl_buf *old, uint64_t seg_id)
{
    for (uint64_t o = 0; o < old->len; o += 8) {
        uint64_t x;
        memcpy(&x, old->p + o, 8);
        if (x == seg_id) return 1;
    }
    return 0;
}

/* VL_OK; 1: needs a reload (why set); <0 an error. */
static int apply_meta(vl_store *s, const vl_buf *old, rf_meta *M, const char **why)
{
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    vl_meta_cb cb = { M, rm_schema, rm_filemeta, rm_record };
    char pwhy[200];
    for (uint32_t i = 0; i < info.dir_count; i++) {
        vl_rvf_dirent d;
        if (vl_rvf_dir(s->rvf, i, &d) || d.seg_type != VL_RVF_SEG_META || is_old_meta(old, d.seg_id)) continue;
        uint8_t *p = NULL;
        int rc = vl_rvf_read_payload(s->rvf, i, VL_META_MAX_PAYLOAD, &p);
        if (rc) return vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf));
        vl_meta_head hd;
        rc = vl__meta_parse(p, d.payload_length, &hd, NULL, pwhy, sizeof pwhy);
        if (!rc) {
            int snap = (hd.flags & VL_META_F_SNAPSHOT) != 0;
            if (snap && hd.generation > s->meta_gen) {
                /* replaces everything before it: records collected so far too */
                vl__store_fm_clear(s);
                vl__buf_free(&M->recs);
                vl_idmap_free(&M->map);
                M->n = 0;
                M->snapshot = 1;
                rc = vl__meta_apply(p, d.payload_length, &hd, &cb, pwhy, sizeof pwhy);
                if (rc == 1 && M->mismatch) *why = "new field names do not keep the file's field ids";
                if (!rc) s->meta_gen = hd.generation;
            }
            else if (hd.generation <= s->meta_gen) rc = 0;         /* already applied */
            else if (hd.base > s->meta_gen || hd.generation <= hd.base) { *why = "the META chain has a gap"; rc = 1; }
            else {
                rc = vl__meta_apply(p, d.payload_length, &hd, &cb, pwhy, sizeof pwhy);
                if (rc == 1 && M->mismatch) *why = "new field names do not keep the file's field ids";
                if (!rc) s->meta_gen = hd.generation;
            }
        } else {
            rc = vl__store_msg(s, rc, "META segment %llu at offset %llu: %s", (unsigned long long)d.seg_id,
                      (unsigned long long)d.offset, pwhy);
        }
        vl_mem_free(p);
        if (rc) return rc == VL_ENOMEM ? vl__store_msg(s, rc, "out of memory reading metadata") : rc;
    }
    s->fields_durable = vl_index_field_count(s->idx);
    return VL_OK;
}

/* ---- rows, deletes, metadata into the index ---- */

static int row_fine(const vl_store *s, const float *v)
{
    double ss = 0;
    for (uint32_t j = 0; j < vl__index_dim(s->idx); j++) {
        if (!(v[j] - v[j] == 0.0f)) return 0;
        ss += (double)v[j] * v[j];
    }
    return vl__index_metric(s->idx) != VL_METRIC_COSINE || ss > 0.0;
}

static int apply_index(vl_store *s, rf_ctx *C, rf_meta *M, vl_store_refresh_result *out)
{
    uint32_t dim = vl__index_dim(s->idx);
    uint64_t nrows = C->ids.len / 8, ndel = C->del.len / 8;
    uint8_t *touched = vl_mem_calloc(M->n ? M->n : 1, 1);     /* records consumed by a row */
    uint64_t *bids = vl_mem_alloc(RF_CHUNK * sizeof *bids);
    float *bvec = vl_mem_alloc((size_t)RF_CHUNK * dim * sizeof *bvec);
    float *cur = vl_mem_alloc((size_t)dim * sizeof *cur);
    uint32_t *boff = vl_mem_alloc((RF_CHUNK + 1) * sizeof *boff);
    vl_buf bmeta = { 0 };
    int rc = VL_OK;
    if (!touched || !bids || !bvec || !cur || !boff) { rc = vl__store_msg(s, VL_ENOMEM, "out of memory"); goto out; }
    uint32_t bn = 0;
    for (uint64_t r = 0; r <= nrows && rc == VL_OK; r++) {
        if (r < nrows) {
            uint64_t id;
            memcpy(&id, C->ids.p + r * 8, 8);
            const float *v = (const float *)(C->vecs.p + r * (uint64_t)dim * sizeof(float));
            uint32_t k = vl_idmap_get(&M->map, id);
            const uint8_t *old_meta = NULL;
            uint32_t old_len = 0;
            /* a quantized index reads rows from the file, which already holds the new one:
             * no comparison, the row is applied */
            int quant = vl__index_quant(s->idx) != NULL;
            int live = vl_index_get(s->idx, &id, quant ? NULL : cur, &old_meta, &old_len) == VL_OK;
            if (k != VL_NO_NODE) touched[k] = 1;
            if (!row_fine(s, v)) {                    /* as an open skips it */
                s->rows_rejected++;
                if (live) {
                    uint32_t nd = 0;
                    if ((rc = vl_index_delete(s->idx, 1, &id, &nd))) break;
                    vl__buf_put(&s->rf_del, &id, 8);
                    out->deleted += nd;
                }
                continue;
            }
            if (!quant && live && k == VL_NO_NODE && memcmp(cur, v, (size_t)dim * sizeof *v) == 0) continue;
            bids[bn] = id;
            vl__vcopy(bvec + (size_t)bn * dim, v, dim);
            boff[bn] = (uint32_t)bmeta.len;
            if (k != VL_NO_NODE) vl__buf_put(&bmeta, M->recs.p + M->at[k], M->len[k]);
            else if (live) vl__buf_put(&bmeta, old_meta, old_len);
            boff[++bn] = (uint32_t)bmeta.len;
            vl__buf_put(&s->rf_up, &id, 8);
            if (bmeta.oom || s->rf_up.oom) { rc = vl__store_msg(s, VL_ENOMEM, "out of memory"); break; }
            if (bn < RF_CHUNK) continue;
        }
        if (bn == 0) continue;
        if ((rc = vl_index_upsert(s->idx, bn, bids, bvec, bmeta.len ? bmeta.p : NULL, bmeta.len ? boff : NULL)))
            break;
        out->added += bn;
        bn = 0;
        bmeta.len = 0;
    }
    if (rc) goto out;
    if (ndel) {
        uint32_t nd = 0;
        for (uint64_t o = 0; o < ndel && rc == VL_OK; o += RF_CHUNK) {
            uint32_t n = (uint32_t)(ndel - o < RF_CHUNK ? ndel - o : RF_CHUNK);
            rc = vl_index_delete(s->idx, n, (const uint64_t *)(C->del.p + o * 8), &nd);
            out->deleted += nd;
        }
        vl__buf_put(&s->rf_del, C->del.p, C->del.len);
        if (rc) goto out;
    }
    for (uint32_t k = 0; k < M->n && rc == VL_OK; k++) {
        if (touched[k] || vl_index_contains(s->idx, &M->rid[k]) != VL_OK) continue;
        uint32_t off[2] = { 0, M->len[k] };
        rc = vl_index_set_meta(s->idx, 1, &M->rid[k], M->len[k] ? M->recs.p + M->at[k] : (const uint8_t *)"", off);
        vl__buf_put(&s->rf_up, &M->rid[k], 8);
        out->meta++;
    }
    if (M->snapshot) {                           /* ids the snapshot has no record of lose theirs */
        uint64_t after = 0;
        uint32_t valid = 0, n = 0;
        do {
            if ((rc = vl_index_ids(s->idx, &after, valid, bids, RF_CHUNK, &n))) break;
            for (uint32_t i = 0; i < n && rc == VL_OK; i++) {
                const uint8_t *mp;
                uint32_t ml = 0, off[2] = { 0, 0 };
                if (vl_idmap_get(&M->map, bids[i]) != VL_NO_NODE) continue;
                if (vl_index_get(s->idx, &bids[i], NULL, &mp, &ml) != VL_OK || ml == 0) continue;
                rc = vl_index_set_meta(s->idx, 1, &bids[i], (const uint8_t *)"", off);
                vl__buf_put(&s->rf_up, &bids[i], 8);
                out->meta++;
            }
            if (n) { after = bids[n - 1]; valid = 1; }
        } while (n == RF_CHUNK && rc == VL_OK);
    }
    if (!rc && s->rf_up.oom) rc = VL_ENOMEM;
out:
    if (rc && !s->msg[0]) vl__store_msg(s, rc, "applying the refresh to the index: %s", vl_errmsg(s->idx));
    vl_mem_free(touched);
    vl_mem_free(bids);
    vl_mem_free(bvec);
    vl_mem_free(cur);
    vl_mem_free(boff);
    vl__buf_free(&bmeta);
    return rc;
}

int vl_store_refresh(vl_store *s, vl_store_refresh_result *out)
{
    if (!s || !out) return VL_EINVAL;
    memset(out, 0, sizeof *out);
    s->rf_up.len = s->rf_del.len = 0;
    if (s->poisoned) return vl__store_msg(s, VL_EFATAL, "the store is poisoned: reopen it");
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    out->epoch = info.epoch;
    if (!s->readonly) return VL_OK;               /* a writer is always current */
    if (s->br) return vl__store_msg(s, VL_EINVAL, "refresh of an rvf-node branch() child is not supported: reopen it");
    s->msg[0] = 0;

    vl_buf old = { 0 };                           /* seg ids of the listed META */
    for (uint32_t i = 0; i < info.dir_count; i++) {
        vl_rvf_dirent d;
        if (vl_rvf_dir(s->rvf, i, &d) == VL_OK && d.seg_type == VL_RVF_SEG_META) vl__buf_put(&old, &d.seg_id, 8);
    }
    if (old.oom) { vl__buf_free(&old); return vl__store_msg(s, VL_ENOMEM, "out of memory"); }
    rf_ctx C = { { 0 }, { 0 }, { 0 }, info.dim };
    rf_meta M;
    memset(&M, 0, sizeof M);
    M.s = s;
    uint32_t st = 0;
    const char *why = NULL;
    char rwhy[256];
    int rc = vl_rvf_refresh(s->rvf, rf_row, rf_del, &C, &st);
    if (rc && st != VL_RVF_REFRESH_APPLIED) {     /* the rvf handle is unchanged */
        vl__store_msg(s, rc, "refresh: %s", vl_rvf_errmsg(s->rvf));
        goto out;
    }
    if (st == VL_RVF_REFRESH_NONE) goto out;
    if (st == VL_RVF_REFRESH_RELOAD) {
        snprintf(rwhy, sizeof rwhy, "%s", vl_rvf_errmsg(s->rvf));
        why = rwhy;
    } else if (rc) {
        why = "out of memory collecting the new rows";
    } else if (s->meta_snapshot_due) {
        why = "the file's field ids differ from this handle's";
    } else {
        rc = apply_meta(s, &old, &M, &why);
        if (rc < 0) {
            snprintf(rwhy, sizeof rwhy, "%s", s->msg);
            why = rwhy;
        }
        if (!why && vl__store_text_changed(s)) why = "the text field changed";   /* set on the empty store */
        if (!why && apply_index(s, &C, &M, out)) {
            snprintf(rwhy, sizeof rwhy, "%s", s->msg);
            why = rwhy;
        }
    }
    rc = VL_OK;
    if (why) {
        memset(out, 0, sizeof *out);
        s->rf_up.len = s->rf_del.len = 0;
        rc = reload(s, why);
        out->status = VL_REFRESH_RELOADED;
    } else {
        out->status = VL_REFRESH_APPLIED;
        s->msg[0] = 0;
    }
    vl_rvf_info_get(s->rvf, &info);
    out->epoch = info.epoch;
out:
    vl__buf_free(&old);
    vl__buf_free(&C.ids);
    vl__buf_free(&C.vecs);
    vl__buf_free(&C.del);
    rf_meta_free(&M);
    return rc;
}

uint32_t vl_store_refresh_ids(const vl_store *s, uint32_t which, uint64_t *out, uint32_t cap)
{
    if (!s || which > 1) return 0;
    const vl_buf *b = which ? &s->rf_del : &s->rf_up;
    uint64_t n = b->len / 8;
    if (n > UINT32_MAX) n = UINT32_MAX;
    if (out) memcpy(out, b->p, (size_t)(n < cap ? n : cap) * 8);
    return (uint32_t)n;
}
