/*
 * store_load.c — the open of a durable store (store.c "What a reopened store
 * contains"): the listed META segments applied, the configuration read, the
 * VEC rows read once (by the device straight into the index's vector slots
 * when an INDEX places them: "rows read in place" below), the INDEX graph
 * decoded into the index's own link arrays (or repaired, or rebuilt), the
 * metadata of the loaded rows, and an rvf-node branch child's inherited rows.
 *
 * How it fits: store.c opens the file's head (vl_rvf_open_head) and calls
 * vl__store_load; this file reads everything else. Invariants: every byte
 * used is verified first (the rvf layer's content hashes, here on the bytes
 * in their final place, and the META digests); a failure leaves the store
 * for the caller to free (nothing half-built is kept); an INDEX that fails a
 * check is ignored and the graph rebuilt, so a damaged cache costs time,
 * never results.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "io.h"
#include "rvf.h"
#include "branch.h"

static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static int u64_cmp(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ======================================================================
 * Open: META, rows, graph
 * ====================================================================== */

/* Loader state: what the listed META segments say. Records keep file field
 * ids (remapped when applied). */
typedef struct rec_ent { uint64_t id, off, seg_off; uint32_t len; } rec_ent;
typedef struct sch_ent { uint32_t fid; uint64_t name_off; uint32_t len; } sch_ent;
typedef struct loader {
    vl_store *s;
    uint64_t gen;
    int any_meta;
    uint64_t seg_off;            /* file offset of the META segment being applied */
    vl_buf recbuf;               /* records: u16 n | fields (file field ids) */
    /* records, one per id: while every new id is above the last (a snapshot
     * and deltas written in id order: the usual file) recs is sorted by id
     * and looked up by search from a hint; the first id out of order builds
     * recmap (id -> index in recs) and the map is used from then on */
    rec_ent *recs; uint32_t nrecs, cap_recs, hint;
    int unsorted;
    vl_idmap recmap;
    vl_buf names;
    sch_ent *sch; uint32_t nsch, cap_sch;
    uint32_t *fid_map;           /* 65536: file field id -> index field id (NONE32: unknown) */
    uint32_t *sch_at;            /* 65536: file field id -> index in sch (NONE32: none yet) */
    meta_tier *cur;              /* the delta being applied (NULL: a snapshot) */
    uint64_t applied;            /* non-empty records applied to live rows */
    int fid_identity;            /* every file field id is its index field id (load_fields) */
    int recbuf_given;            /* recbuf is the index's metadata arena now (build_from_index) */
    int oom;
    char why[200];
} loader;

static void loader_free(loader *L)
{
    if (!L->recbuf_given) vl__buf_free(&L->recbuf);
    vl_idmap_free(&L->recmap);
    vl_mem_free(L->recs);
    vl__buf_free(&L->names);
    vl_mem_free(L->sch);
    vl_mem_free(L->fid_map);
    vl_mem_free(L->sch_at);
}

static void loader_reset(loader *L)
{
    vl__buf_free(&L->recbuf);
    vl_idmap_free(&L->recmap);
    L->nrecs = 0;
    L->unsorted = 0;
    L->hint = 0;
    vl__buf_free(&L->names);
    for (uint32_t i = 0; i < L->nsch; i++) L->sch_at[L->sch[i].fid] = NONE32;
    L->nsch = 0;
    vl__store_fm_clear(L->s);
}

static int cb_schema(void *ctx, uint32_t fid, const uint8_t *name, uint32_t len)
{
    loader *L = ctx;
    if (L->cur && (L->cur->fields_from == NONE32 || fid < L->cur->fields_from)) L->cur->fields_from = fid;
    uint32_t at = L->sch_at[fid];
    if (at != NONE32) {
        if (L->sch[at].len != len || memcmp(L->names.p + L->sch[at].name_off, name, len) != 0) {
            snprintf(L->why, sizeof L->why, "META field id %u is named twice differently", fid);
            return VL_ECORRUPT;
        }
        return 0;
    }
    if (L->nsch == L->cap_sch) {
        uint32_t nc = L->cap_sch ? L->cap_sch * 2 : 16;
        sch_ent *q = vl_mem_realloc(L->sch, (size_t)nc * sizeof *q);
        if (!q) return VL_ENOMEM;
        L->sch = q;
        L->cap_sch = nc;
    }
    L->sch_at[fid] = L->nsch;
    L->sch[L->nsch++] = (sch_ent){ fid, L->names.len, len };
    vl__buf_put(&L->names, name, len);
    return L->names.oom ? VL_ENOMEM : 0;
}

static int cb_filemeta(void *ctx, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen)
{
    loader *L = ctx;
    if (vlen && L->s->nfm >= VL_STORE_MAX_FM_KEYS && !vl__store_fm_has(L->s, key, klen)) {
        snprintf(L->why, sizeof L->why, "META holds more than %u file-metadata keys", VL_STORE_MAX_FM_KEYS);
        return VL_EBUDGET;
    }
    if (L->cur && vl__store_tier_add_key(L->cur, key, klen)) return VL_ENOMEM;
    return vl__store_fm_set(L->s, key, klen, val, vlen) ? VL_ENOMEM : 0;
}

static int cb_record(void *ctx, uint64_t id, uint32_t op, uint32_t n, const uint8_t *fields,
                     uint32_t flen)
{
    loader *L = ctx;
    if (L->cur && vl__store_tier_add_id(L->cur, id)) return VL_ENOMEM;
    if (L->nrecs == UINT32_MAX - 1) return VL_ENOMEM;
    if (!L->unsorted && L->nrecs && id <= L->recs[L->nrecs - 1].id) {    /* out of order: the map from now on */
        L->unsorted = 1;
        if (vl_idmap_reserve(&L->recmap, L->cap_recs > L->nrecs ? L->cap_recs : L->nrecs + 1)) return VL_ENOMEM;
        for (uint32_t r = 0; r < L->nrecs; r++) vl_idmap_put(&L->recmap, L->recs[r].id, r);
    }
    uint32_t k = VL_NO_NODE;
    if (L->unsorted) {
        if (vl_idmap_reserve(&L->recmap, 1)) return VL_ENOMEM;
        k = vl_idmap_get_or_put(&L->recmap, id, L->nrecs);
    }
    if (k == VL_NO_NODE) {
        if (L->nrecs == L->cap_recs) {
            uint32_t nc = L->cap_recs ? L->cap_recs * 2 : 64;
            rec_ent *q = vl_mem_realloc(L->recs, (size_t)nc * sizeof *q);
            if (!q) return VL_ENOMEM;
            L->recs = q;
            L->cap_recs = nc;
        }
        k = L->nrecs++;
    }
    rec_ent *e = &L->recs[k];
    e->id = id;
    e->seg_off = L->seg_off;
    e->off = L->recbuf.len;
    e->len = 0;
    if (op == VL_META_OP_UPSERT && n) {
        vl__buf_u16(&L->recbuf, (uint16_t)n);
        vl__buf_put(&L->recbuf, fields, flen);
        e->len = flen + 2;
    }
    return L->recbuf.oom ? VL_ENOMEM : 0;
}

/* Room for a payload's records at once (its record count bounds the new
 * ids, its length the record bytes): no rehashing or doubling copies while
 * a big snapshot is applied. */
static int meta_room(loader *L, const vl_meta_head *hd, uint64_t len)
{
    if (L->unsorted && vl_idmap_reserve(&L->recmap, hd->n_records)) return VL_ENOMEM;
    uint64_t need = (uint64_t)L->nrecs + hd->n_records;
    if (need > L->cap_recs) {
        if (need >= UINT32_MAX) return VL_ENOMEM;
        rec_ent *q = vl_mem_realloc(L->recs, (size_t)need * sizeof *q);
        if (!q) return VL_ENOMEM;
        L->recs = q;
        L->cap_recs = (uint32_t)need;
    }
    return vl__buf_reserve(&L->recbuf, len) ? VL_OK : VL_ENOMEM;
}

/* Apply the listed META segments in directory order. */
static int load_meta(loader *L)
{
    vl_store *s = L->s;
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    vl_meta_cb cb = { L, cb_schema, cb_filemeta, cb_record };
    L->sch_at = vl_mem_alloc(65536 * sizeof *L->sch_at);
    if (!L->sch_at) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    memset(L->sch_at, 0xff, 65536 * sizeof *L->sch_at);
    for (uint32_t i = 0; i < info.dir_count; i++) {
        vl_rvf_dirent d;
        if (vl_rvf_dir(s->rvf, i, &d) || d.seg_type != VL_RVF_SEG_META) continue;
        uint8_t *p = NULL;
        int rc = vl_rvf_read_payload(s->rvf, i, VL_META_MAX_PAYLOAD, &p);
        if (rc) return vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf));
        vl_meta_head hd;
        /* check first (no callbacks), then reset on a snapshot, then apply */
        vl__store_open_mark(s, OPEN_META);
        rc = vl__meta_parse(p, d.payload_length, &hd, NULL, L->why, sizeof L->why);
        vl__store_open_mark(s, OPEN_VERIFY);     /* the digest and the structure checks */
        if (!rc) {
            int snap = hd.flags & VL_META_F_SNAPSHOT;
            /* A delta continues the generation before it; a merged delta
             * spans several generations (store_meta.c). The history is
             * linear, so META at or below the current generation is already
             * contained (rvf-node 0.2.3's compaction lists every META the file
             * ever had, superseded deltas included) and is skipped, and a
             * merged delta on an older base re-applies records already
             * applied: the same result, since a record replaces the id's
             * whole metadata. Only a base above the current generation is a
             * gap. Either case leaves META listed that the tiers do not track:
             * the next META commit writes a snapshot (which unlists it all).
             * The same rule as a refresh (store_refresh.c apply_meta). */
            if (!snap && (hd.base > L->gen || hd.generation <= hd.base)) {
                snprintf(L->why, sizeof L->why, "META generation chain broken: delta %llu on base %llu "
                         "follows generation %llu", (unsigned long long)hd.generation,
                         (unsigned long long)hd.base, (unsigned long long)L->gen);
                rc = VL_ECORRUPT;
            } else if (L->any_meta && (snap ? hd.generation < L->gen : hd.generation <= L->gen)) {
                s->meta_snapshot_due = 1;               /* superseded: skipped */
            } else {
                if (!snap && hd.base != L->gen) s->meta_snapshot_due = 1;
                L->cur = NULL;
                if (snap) {
                    loader_reset(L);
                    vl__store_tiers_clear(s);
                    s->meta_listed = s->meta_base_len = d.payload_length;
                } else if (vl__store_tiers_room(s) == VL_OK) {
                    L->cur = &s->tiers[s->ntiers++];
                    memset(L->cur, 0, sizeof *L->cur);
                    *L->cur = (meta_tier){ d.seg_id, d.payload_length, hd.generation, hd.base, NONE32,
                                           NULL, 0, 0, { 0 } };
                    s->meta_listed += d.payload_length;
                } else {
                    rc = VL_ENOMEM;
                }
                L->seg_off = d.offset;
                if (!rc) rc = meta_room(L, &hd, d.payload_length);
                if (!rc) rc = vl__meta_apply(p, d.payload_length, &hd, &cb, L->why, sizeof L->why);
                L->gen = hd.generation;
                L->any_meta = 1;
            }
        }
        vl_mem_free(p);
        if (rc == VL_ENOMEM) return vl__store_msg(s, rc, "out of memory reading metadata");
        if (rc == VL_EBUDGET) return vl__store_msg(s, rc, "%s", L->why);
        if (rc) return vl__store_msg(s, rc, "META segment %llu at offset %llu: %s", (unsigned long long)d.seg_id,
                            (unsigned long long)d.offset, L->why);
    }
    return VL_OK;
}

static int sch_cmp(const void *a, const void *b)
{
    const sch_ent *x = a, *y = b;
    return x->fid < y->fid ? -1 : x->fid > y->fid;
}

/* Register the schema's names in the index, in file field-id order. */
static int load_fields(loader *L)
{
    vl_store *s = L->s;
    if (!L->fid_map) L->fid_map = vl_mem_alloc(65536 * sizeof *L->fid_map);
    if (!L->fid_map) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    memset(L->fid_map, 0xff, 65536 * sizeof *L->fid_map);
    if (L->nsch > 1) qsort(L->sch, L->nsch, sizeof *L->sch, sch_cmp);
    L->fid_identity = 1;
    for (uint32_t i = 0; i < L->nsch; i++) {
        uint32_t id;
        int rc = vl_index_field(s->idx, (const char *)L->names.p + L->sch[i].name_off, L->sch[i].len, &id);
        if (rc) return vl__store_msg(s, rc == VL_ENOMEM ? rc : VL_ECORRUPT, "META field name %u: %s", L->sch[i].fid,
                            vl_errmsg(s->idx));
        L->fid_map[L->sch[i].fid] = id;
        if (id != L->sch[i].fid) s->meta_snapshot_due = 1, L->fid_identity = 0;
    }
    return VL_OK;
}

/* The index in recs of id's record, VL_NO_NODE if none. */
static uint32_t rec_find(loader *L, uint64_t id)
{
    if (L->unsorted) return vl_idmap_get(&L->recmap, id);
    uint32_t h = L->hint;
    if (h < L->nrecs && L->recs[h].id == id) {      /* lookups in id order: the next one */
        L->hint = h + 1;
        return h;
    }
    uint32_t lo = 0, hi = L->nrecs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (L->recs[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    if (lo == L->nrecs || L->recs[lo].id != id) return VL_NO_NODE;
    L->hint = lo + 1;
    return lo;
}

/* The record for a row written at seg_off, in index field ids: where it lies
 * in the loader's buffer when file and index field ids agree, else remapped
 * into tmp (*rec / *len; len 0 = none). VL_ECORRUPT for a record that names an
 * unknown field or fails validation. */
static int row_record(loader *L, uint64_t id, uint64_t seg_off, vl_buf *tmp, const uint8_t **rec,
                      uint32_t *len)
{
    *rec = NULL;
    *len = 0;
    uint32_t k = rec_find(L, id);
    if (k == VL_NO_NODE) return VL_OK;
    const rec_ent *e = &L->recs[k];
    (void)seg_off;
    if (e->len == 0) return VL_OK;
    const uint8_t *p = L->recbuf.p + e->off;
    char why[160];
    /* file field ids = index field ids (the usual case): checked where it
     * lies, no remapped copy (a failure takes the path below for its message) */
    if (L->fid_identity &&
        vl__meta_validate(L->s->idx, p, e->len, vl_index_field_count(L->s->idx), why, sizeof why) == VL_OK) {
        *rec = p;
        *len = e->len;
        L->applied++;
        return VL_OK;
    }
    tmp->len = 0;
    vl__buf_put(tmp, p, e->len);
    if (tmp->oom) return vl__store_msg(L->s, VL_ENOMEM, "out of memory");
    uint32_t n = get16(tmp->p), o = 2;
    for (uint32_t f = 0; f < n; f++) {          /* structure was checked by the META parser */
        uint32_t fid = get16(tmp->p + o), nid = L->fid_map[fid];
        if (nid == NONE32)
            return vl__store_msg(L->s, VL_ECORRUPT, "metadata of id %llu uses field id %u, which no META schema "
                        "names", (unsigned long long)id, fid);
        tmp->p[o] = (uint8_t)nid;
        tmp->p[o + 1] = (uint8_t)(nid >> 8);
        vl_value v;
        o += 3 + vl__value_decode(tmp->p[o + 2], tmp->p + o + 3, tmp->p + e->len, &v);
    }
    if (vl__meta_validate(L->s->idx, tmp->p, e->len, vl_index_field_count(L->s->idx), why, sizeof why))
        return vl__store_msg(L->s, VL_ECORRUPT, "metadata of id %llu: %s", (unsigned long long)id, why);
    *rec = tmp->p;
    *len = e->len;
    L->applied++;
    return VL_OK;
}

/* Rows gathered at open. With an INDEX (collect = 1) a row the graph covers
 * (id among its nodes, written before it) is copied straight from the file
 * into its node's vector slot in the index (vl__index_slots: ordinal order),
 * and only the rows it does not cover are kept here; without one, live rows
 * stream into the index in chunks. */
typedef struct rowset {
    loader *L;
    uint32_t dim, metric;
    /* INDEX path: the graph's node ids (ascending), its offset, the slots */
    const uint64_t *gids;
    uint32_t gn, next;           /* next: the ordinal after the last row's (a guess for the next row) */
    uint64_t idx_off;
    float *slots;                /* gn x dim, in the index */
    uint8_t *state;              /* gn: 0 no row, 1 live row, 2 deleted row (a routing tombstone) */
    /* INDEX path, rows read in place (row_sink): every VEC row of the file in
     * file order at position p = slots[p x dim], its id fids[p], row_ok in ok[p] */
    uint64_t *fids;
    uint8_t *ok;
    uint64_t fpos, fcap, fclaimed;   /* positions filled; the slots hold; fids / ok hold */
    struct sink_seg { uint32_t k; uint64_t seg_off, start; } *fsegs;
    uint32_t nfsegs, cap_fsegs;
    /* INDEX path: rows the graph does not cover */
    uint64_t *ids;
    uint8_t *live;
    float *vecs;
    uint64_t n, cap;
    int collect;                 /* 1: INDEX path; 0: stream live rows into the index */
    /* streaming chunk */
    uint64_t *cids;
    float *cvecs;
    vl_buf cmeta;
    uint32_t *coff;
    uint32_t cn;
    vl_buf tmp;
    uint64_t inserted;
    int rc;
} rowset;

static int row_ok(const rowset *R, const float *v)
{
    if (R->metric != VL_METRIC_COSINE) return vl__all_finite(v, R->dim);
    double ss = 0;
    for (uint32_t j = 0; j < R->dim; j++) {
        if (!(v[j] - v[j] == 0.0f)) return 0;
        ss += (double)v[j] * v[j];
    }
    float inv = (float)(1.0 / sqrt(ss));
    return ss > 0.0 && inv > 0.f && isfinite(inv);
}

static int chunk_flush(rowset *R)
{
    if (R->cn == 0) return VL_OK;
    vl_store *s = R->L->s;
    if (R->cmeta.oom) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    int rc = vl_index_upsert(s->idx, R->cn, R->cids, R->cvecs, R->cmeta.len ? R->cmeta.p : NULL,
                             R->cmeta.len ? R->coff : NULL);
    if (rc) return vl__store_msg(s, rc, "building the index: %s", vl_errmsg(s->idx));
    R->inserted += R->cn;
    R->cn = 0;
    R->cmeta.len = 0;
    return VL_OK;
}

/* Queue a live row for insertion (with its metadata). */
static int chunk_add(rowset *R, uint64_t id, const float *vec, uint64_t seg_off)
{
    const uint8_t *rec;
    uint32_t len;
    int rc = row_record(R->L, id, seg_off, &R->tmp, &rec, &len);
    if (rc) return rc;
    R->cids[R->cn] = id;
    vl__vcopy(R->cvecs + (size_t)R->cn * R->dim, vec, R->dim);
    R->coff[R->cn] = (uint32_t)R->cmeta.len;
    vl__buf_put(&R->cmeta, rec, len);
    if (R->cmeta.len > UINT32_MAX) R->cmeta.oom = 1;
    R->coff[R->cn + 1] = (uint32_t)R->cmeta.len;
    R->cn++;
    if (R->cn == LOAD_CHUNK || R->cmeta.len > (64u << 20)) return chunk_flush(R);
    return VL_OK;
}

static int scan_cb(void *ctx, uint64_t id, const float *vec, uint64_t seg_off, int live)
{
    rowset *R = ctx;
    if (!row_ok(R, vec)) {
        R->L->s->rows_rejected++;
        return 0;
    }
    if (!R->collect) {
        if (!live) return 0;
        int rc = chunk_add(R, id, vec, seg_off);
        if (rc) R->rc = rc;
        return rc;
    }
    if (seg_off < R->idx_off) {                  /* covered by the graph: straight into its slot */
        /* rows usually follow their ids' order (sequential ids, in insertion
         * order): the ordinal after the last one first, then a search */
        const uint64_t *hit = R->next < R->gn && R->gids[R->next] == id ? &R->gids[R->next]
                            : bsearch(&id, R->gids, R->gn, sizeof *R->gids, u64_cmp);
        if (hit) {
            size_t o = (size_t)(hit - R->gids);
            vl__vcopy(R->slots + o * R->dim, vec, R->dim);
            R->state[o] = live ? 1 : 2;
            R->next = (uint32_t)o + 1;
            return 0;
        }
    }
    if (!live) return 0;                         /* not in the graph: nothing to route through */
    if (R->n == R->cap) {
        uint64_t nc = R->cap ? R->cap * 2 : 1024;
        uint64_t *a = vl_mem_realloc(R->ids, (size_t)nc * sizeof *a);
        if (a) R->ids = a;
        uint8_t *c = vl_mem_realloc(R->live, (size_t)nc);
        if (c) R->live = c;
        float *d = (uint64_t)nc * R->dim * sizeof(float) > SIZE_MAX ? NULL
                 : vl_mem_realloc(R->vecs, (size_t)(nc * R->dim * sizeof(float)));
        if (d) R->vecs = d;
        if (!a || !c || !d) { R->rc = vl__store_msg(R->L->s, VL_ENOMEM, "out of memory reading rows"); return R->rc; }
        R->cap = nc;
    }
    R->ids[R->n] = id;
    R->live[R->n] = 1;
    vl__vcopy(R->vecs + (size_t)R->n * R->dim, vec, R->dim);
    R->n++;
    return 0;
}

/* ---- rows read in place (INDEX path) --------------------------------------
 * The device reads each batch of VEC rows (u64 id | f32[dim]) straight into
 * the index's vector slots at the next free position; row_done then moves
 * the vectors down over the ids (each to position p x dim: destinations
 * never pass the bytes not yet moved) while the batch is in cache, so every
 * row of the file ends in file order in the slots, read once. The batch's
 * bytes were hashed before they are moved (vl_rvf_sink) and a content hash
 * mismatch fails the open. The room past the last row's vector
 * (ROW_SLACK) holds the last batch's ids until they are moved. */
static uint8_t *row_room(void *ctx, uint32_t k, uint64_t seg_off, uint32_t row, uint32_t nr)
{
    rowset *R = ctx;
    uint64_t rowsz = 8 + 4 * (uint64_t)R->dim;
    if (R->fpos + nr > R->fclaimed || R->fpos * R->dim * 4 + nr * rowsz > R->fcap * R->dim * 4)
        return NULL;                                     /* more rows than claimed */
    if (row == 0) {
        if (R->nfsegs == R->cap_fsegs) {
            uint32_t nc = R->cap_fsegs ? R->cap_fsegs * 2 : 16;
            void *q = vl_mem_realloc(R->fsegs, (size_t)nc * sizeof *R->fsegs);
            if (!q) return NULL;
            R->fsegs = q;
            R->cap_fsegs = nc;
        }
        R->fsegs[R->nfsegs++] = (struct sink_seg){ k, seg_off, R->fpos };
    }
    return (uint8_t *)(R->slots + (size_t)R->fpos * R->dim);
}

/* Move n bytes down (dst < src, overlapping): in 64-byte pieces, each read
 * whole before it is written, so nothing unread is overwritten; inside
 * WebAssembly (vl__vcopy: memcpy of >= 512 bytes calls out to JS). */
static inline void move_down(uint8_t *d, const uint8_t *s, size_t n)
{
    uint8_t t[64];
    for (; n > 64; n -= 64, d += 64, s += 64) {
        memcpy(t, s, 64);
        memcpy(d, t, 64);
    }
    memcpy(t, s, n);
    memcpy(d, t, n);
}

static int row_done(void *ctx, uint32_t k, uint64_t seg_off, uint32_t row, uint32_t nr, uint8_t *rows)
{
    rowset *R = ctx;
    size_t vb = (size_t)R->dim * 4, rowsz = 8 + vb;
    float *dst = R->slots + (size_t)R->fpos * R->dim;
    for (uint32_t i = 0; i < nr; i++) {
        const uint8_t *r = rows + i * rowsz;
        uint64_t id;
        memcpy(&id, r, 8);                               /* little-endian host (load checks) */
        move_down((uint8_t *)(dst + (size_t)i * R->dim), r + 8, vb);
        R->fids[R->fpos + i] = id;
        R->ok[R->fpos + i] = (uint8_t)row_ok(R, dst + (size_t)i * R->dim);
    }
    R->fpos += nr;
    return VL_OK;
}

/* Rows beyond the slots' claimed count that a batch may spill into. */
static uint64_t row_slack(uint32_t dim)
{
    uint64_t rowsz = 8 + 4 * (uint64_t)dim, batch = (1u << 20) / rowsz + 1;
    return (batch * 8 + 4 * (uint64_t)dim - 1) / (4 * (uint64_t)dim) + 1;
}

/* After the rows phase: the graph's nodes from the rows in the slots. When
 * every position p < gn holds the winning row of node p's id, written
 * before the INDEX (rows in id order: the common case), the slots are
 * already the nodes' vectors; only the rows the graph does not cover are
 * copied out. Otherwise the rows are copied aside once and placed as
 * scan_cb places them. */
static int place_rows(rowset *R)
{
    vl_store *s = R->L->s;
    vl_rvf *rv = s->rvf;
    int ident = 1;
    uint64_t p = 0;
    for (uint32_t g = 0; g < R->nfsegs && ident; g++) {
        const struct sink_seg *sg = &R->fsegs[g];
        uint64_t end = g + 1 < R->nfsegs ? R->fsegs[g + 1].start : R->fpos;
        for (p = sg->start; p < end && p < R->gn; p++) {
            int live;
            if (!vl_rvf_row_wins(rv, sg->k, (uint32_t)(p - sg->start), R->fids[p], &live) ||
                sg->seg_off >= R->idx_off || R->fids[p] != R->gids[p]) {
                ident = 0;
                break;
            }
        }
    }
    if (ident && R->fpos < R->gn) ident = 0;
    if (!ident) {
        float *T = vl_mem_alloc((size_t)(R->fpos ? R->fpos : 1) * R->dim * sizeof(float));
        if (!T) return vl__store_msg(s, VL_ENOMEM, "out of memory placing the rows");
        memcpy(T, R->slots, (size_t)R->fpos * R->dim * sizeof(float));
        int rc = VL_OK;
        for (uint32_t g = 0; g < R->nfsegs && !rc; g++) {
            const struct sink_seg *sg = &R->fsegs[g];
            uint64_t end = g + 1 < R->nfsegs ? R->fsegs[g + 1].start : R->fpos;
            for (p = sg->start; p < end && !rc; p++) {
                int live;
                if (!vl_rvf_row_wins(rv, sg->k, (uint32_t)(p - sg->start), R->fids[p], &live)) continue;
                rc = scan_cb(R, R->fids[p], T + (size_t)p * R->dim, sg->seg_off, live);
            }
        }
        vl_mem_free(T);
        return rc ? (R->rc ? R->rc : rc) : VL_OK;
    }
    for (uint32_t g = 0; g < R->nfsegs; g++) {
        const struct sink_seg *sg = &R->fsegs[g];
        uint64_t end = g + 1 < R->nfsegs ? R->fsegs[g + 1].start : R->fpos;
        for (p = sg->start; p < end; p++) {
            int live;
            if (!vl_rvf_row_wins(rv, sg->k, (uint32_t)(p - sg->start), R->fids[p], &live)) continue;
            if (!R->ok[p]) { s->rows_rejected++; continue; }
            if (p < R->gn) { R->state[p] = live ? 1 : 2; continue; }
            if (!live) continue;
            /* a live row the graph does not cover (written after it): copied
             * out, the slots past gn are the index's from the import on */
            if (R->n == R->cap) {
                uint64_t nc = R->cap ? R->cap * 2 : 1024;
                uint64_t *a = vl_mem_realloc(R->ids, (size_t)nc * sizeof *a);
                if (a) R->ids = a;
                uint8_t *c = vl_mem_realloc(R->live, (size_t)nc);
                if (c) R->live = c;
                float *d = vl_mem_realloc(R->vecs, (size_t)(nc * R->dim * sizeof(float)));
                if (d) R->vecs = d;
                if (!a || !c || !d) return vl__store_msg(s, VL_ENOMEM, "out of memory reading rows");
                R->cap = nc;
            }
            R->ids[R->n] = R->fids[p];
            R->live[R->n] = 1;
            vl__vcopy(R->vecs + (size_t)R->n * R->dim, R->slots + (size_t)p * R->dim, R->dim);
            R->n++;
        }
    }
    return VL_OK;
}

/* Links of a decoded graph node (layer l). */
static const uint32_t *dec_links(const void *ctx, uint32_t i, uint32_t l)
{
    const vl_graph *g = ctx;
    const uint32_t *p = g->adj + g->off[i];
    for (uint32_t k = 0; k < l; k++) p += 1 + p[0];
    return p;
}

static const float *dec_vec_fn(const void *ctx, uint32_t j)
{
    const rowset *R = ctx;
    return R->slots + (size_t)j * R->dim;
}

/* Build the graph from the decoded INDEX g (node ids R->gids) and the rows
 * the scan put in its slots; insert the live rows it does not cover.
 * Nodes without a row are removed (vl__graph_remap) after their slots are
 * moved down over them; when every node has its row the decoded graph is
 * imported as it is. Returns VL_OK, or VL_EINVAL when the INDEX turned out
 * unusable (the index is then empty and the caller rebuilds from the file),
 * or another error. */
static int build_from_index(rowset *R, const uint8_t *payload, const vl_index_head *hd)
{
    vl_store *s = R->L->s;
    uint32_t n = hd->n, nout = 0;
    for (uint32_t i = 0; i < n; i++) nout += R->state[i] != 0;
    uint32_t *target = NULL, *rep = NULL;
    uint64_t *ids = vl_mem_alloc((size_t)(nout ? nout : 1) * sizeof *ids);
    uint8_t *dead = vl_mem_alloc(nout ? nout : 1);
    vl_graph gd, g2;
    memset(&gd, 0, sizeof gd);
    memset(&g2, 0, sizeof g2);
    const vl_graph *g = &gd, *gi = g;
    char why[160];
    int rc = VL_ENOMEM;
    if (!ids || !dead) goto out;
    if (nout == n && n) {
        /* every node has its row: decode the graph straight into the index */
        for (uint32_t j = 0; j < n; j++) {
            ids[j] = R->gids[j];
            dead[j] = R->state[j] == 2;
        }
        rc = vl__index_place(s->idx, payload, hd, ids, dead, why, sizeof why);
        vl__store_open_mark(s, OPEN_GRAPH);
        if (rc == VL_ECORRUPT || rc == VL_EINVAL) {
            snprintf(s->index_note, sizeof s->index_note, "INDEX not used: %s", why);
            rc = VL_EINVAL;
            goto out;
        }
        if (rc) { vl__store_msg(s, rc, "importing the graph: %s", why); goto out; }
        goto imported;
    }
    rc = vl__index_decode_nodes(payload, hd, &gd, why, sizeof why);
    if (rc == VL_ECORRUPT) {
        snprintf(s->index_note, sizeof s->index_note, "INDEX not used: %s", why);
        rc = VL_EINVAL;
        goto out;
    }
    if (rc) { vl__store_msg(s, rc, "%s", why); goto out; }
    rc = VL_ENOMEM;
    if (nout < n) {
        target = vl_mem_alloc((size_t)(n ? n : 1) * sizeof *target);
        rep = vl_mem_alloc((size_t)(nout ? nout : 1) * sizeof *rep);
        if (!target || !rep) goto out;
        uint32_t j = 0;
        for (uint32_t i = 0; i < n; i++) {
            target[i] = R->state[i] ? j : NONE32;
            if (R->state[i]) {
                vl__vcopy(R->slots + (size_t)j * R->dim, R->slots + (size_t)i * R->dim, R->dim);
                rep[j++] = i;
            }
        }
        vl_gsrc src = { n, g->level, dec_links, g, target, g->entry };
        if ((rc = vl__graph_remap(&src, nout, rep, dec_vec_fn, R, R->dim, R->metric, g->M, &g2))) goto out;
        gi = &g2;
    }
    for (uint32_t j = 0; j < nout; j++) {
        uint32_t i = rep ? rep[j] : j;
        ids[j] = R->gids[i];
        dead[j] = R->state[i] == 2;
    }
    rc = vl__index_import(s->idx, gi, ids, R->slots, dead, gi == g);
    vl__store_open_mark(s, OPEN_GRAPH);
    if (rc == VL_EINVAL) {
        snprintf(s->index_note, sizeof s->index_note, "INDEX not used: %s", vl_errmsg(s->idx));
        goto out;
    }
    if (rc) { vl__store_msg(s, rc, "importing the graph: %s", vl_errmsg(s->idx)); goto out; }
imported:;
    /* metadata of the imported live rows (imported node j is node j; row_record validated it).
     * Records that need no field id remapping stay where the loader put them: its buffer
     * becomes the index's metadata arena (no allocation and copy per node). */
    loader *L = R->L;
    if (L->fid_identity && L->recbuf.p && L->recbuf.len && vl_index_count(s->idx) &&
        vl__index_meta_arena(s->idx, L->recbuf.p, L->recbuf.cap) == VL_OK)
        L->recbuf_given = 1;
    for (uint32_t j = 0; j < nout; j++) {
        if (dead[j]) continue;
        const uint8_t *rec;
        uint32_t len;
        if ((rc = row_record(L, ids[j], 0, &R->tmp, &rec, &len))) goto out;
        if (!len) continue;
        int lent = L->recbuf_given && (uintptr_t)rec >= (uintptr_t)L->recbuf.p &&
                   (uintptr_t)rec < (uintptr_t)L->recbuf.p + L->recbuf.len;
        if ((rc = lent ? vl__index_meta_borrow(s->idx, j, rec, len) : vl__index_meta_adopt(s->idx, j, rec, len))) {
            vl__store_msg(s, rc, "applying metadata of id %llu", (unsigned long long)ids[j]);
            goto out;
        }
    }
    vl__store_open_mark(s, OPEN_META);
    /* live rows the INDEX does not cover */
    for (uint64_t r = 0; r < R->n; r++)
        if ((rc = chunk_add(R, R->ids[r], R->vecs + (size_t)r * R->dim, 0))) goto out;
    if ((rc = chunk_flush(R))) goto out;
    s->index_loaded = 1;
    s->graph_dirty = R->inserted > 0 || nout < n;
    rc = VL_OK;
out:
    if (rc == VL_ENOMEM && !s->msg[0]) vl__store_msg(s, rc, "out of memory loading the graph");
    vl__graph_free(&g2);
    vl__graph_free(&gd);
    vl_mem_free(target);
    vl_mem_free(rep);
    vl_mem_free(ids);
    vl_mem_free(dead);
    return rc;
}

/* The newest listed INDEX: its payload (*payload, vl_mem_free), its checked
 * header and ids (the nodes are decoded later, build_from_index) and its
 * offset; 0 if none usable. */
static int find_index(vl_store *s, uint64_t max_nodes, uint8_t **payload, vl_index_head *hd, uint64_t **gids,
                      uint64_t *off)
{
    vl_rvf_dirent d;
    uint32_t at = vl__store_newest_seg(s, VL_RVF_SEG_INDEX, &d);
    if (at == UINT32_MAX) return 0;
    uint8_t *p = NULL;
    int rc = vl_rvf_read_payload(s->rvf, at, 1ull << 31, &p);
    if (rc) {
        snprintf(s->index_note, sizeof s->index_note, "INDEX not used: %s", vl_rvf_errmsg(s->rvf));
        return 0;
    }
    char why[160];
    rc = vl__index_decode_head(p, d.payload_length, max_nodes, hd, gids, why, sizeof why);
    if (rc) {
        vl_mem_free(p);
        snprintf(s->index_note, sizeof s->index_note, "INDEX not used: %s", why);
        return 0;
    }
    *payload = p;
    *off = d.offset;
    return 1;
}

/* The parent's rows the child shows (see "rvf-node branch() children"). */
typedef struct inherit_ctx {
    rowset *R;
    int rc;
} inherit_ctx;

static int inherit_row(void *ctx, uint64_t id, const float *vec)
{
    inherit_ctx *c = ctx;
    vl_store *s = c->R->L->s;
    if (!vl_branch_visible(s->br, id) || vl_index_contains(s->idx, &id) == VL_OK) return 0;
    if (!row_ok(c->R, vec)) { s->rows_rejected++; return 0; }
    int rc = chunk_add(c->R, id, vec, UINT64_MAX);
    if (rc) c->rc = rc;
    return rc;
}

static int branch_inherit(vl_store *s, rowset *R, vl_io *parent_io)
{
    const char *pp = s->br->path;
    char m[256], why[256];
    vl_rvf *p = NULL;
    int rc = vl_rvf_open(parent_io, &p, m, sizeof m);
    if (rc) return vl__store_msg(s, rc == VL_ENOTFOUND ? VL_ECORRUPT : rc, "the parent '%s': %s", pp, m);
    vl_rvf_info pi, ci;
    vl_rvf_info_get(p, &pi);
    vl_rvf_info_get(s->rvf, &ci);
    if (pi.flags & VL_RVF_F_BRANCH) {
        rc = vl__store_msg(s, VL_EVERSION, "the parent '%s' is itself a branch() child; this veclite follows one level "
                  "of branching", pp);
    } else if (pi.dim != ci.dim || pi.metric != ci.metric) {
        rc = vl__store_msg(s, VL_ECORRUPT, "the parent '%s' has dimension %u / metric %u, the child %u / %u", pp, pi.dim,
                  pi.metric, ci.dim, ci.metric);
    } else if ((rc = vl_branch_check_parent(s->br, parent_io, pi.file_id, why, sizeof why))) {
        vl__store_msg(s, rc, "the parent '%s': %s", pp, why);
    } else {
        inherit_ctx c = { R, 0 };
        rc = vl_rvf_scan(p, inherit_row, &c);
        if (rc && !c.rc) vl__store_msg(s, rc, "reading the parent '%s': %s", pp, vl_rvf_errmsg(p));
        if (!rc) rc = chunk_flush(R);
    }
    vl_rvf_free(p);
    return rc;
}

void vl__store_open_mark(vl_store *s, int phase)
{
    uint64_t t = vl__clock_ns(), r = 0, c = 0;
    if (s->rvf) vl_rvf_costs(s->rvf, &r, &c);
    uint64_t dt = t - s->oc_t, dr = r - s->oc_read, dc = c - s->oc_crc;
    s->open_ns[OPEN_READ] += dr;
    s->open_ns[OPEN_VERIFY] += dc;
    s->open_ns[phase] += dt > dr + dc ? dt - dr - dc : 0;
    s->oc_t = t;
    s->oc_read = r;
    s->oc_crc = c;
}

/* own_only: a branch child's own rows, without its parent's (vl_store_verify re-reads the file so) */
int vl__store_load(vl_store *s, const vl_config *cfg, vl_io *parent_io, int own_only)
{
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    if (info.flags & VL_RVF_F_BRANCH) {
        s->rvf_rows_pending = 0;
        int rc = vl_rvf_open_rows(s->rvf, NULL);        /* no rows in place: see "rows read in place" */
        if (rc) return vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf));
        vl__store_open_mark(s, OPEN_ROWS);
        vl_rvf_info_get(s->rvf, &info);
        rc = vl__store_branch_load_maps(s);
        if (rc) return rc;
        if (!parent_io && !own_only)
            return vl__store_msg(s, VL_ENOTFOUND, "this file is an @ruvector/rvf-node branch() child: its inherited rows "
                        "live in its parent '%s' (a path relative to the child's directory), which was not "
                        "given; open the child by its file path with the parent beside it", s->br->path);
    }
    loader L;
    memset(&L, 0, sizeof L);
    L.s = s;
    rowset R;
    memset(&R, 0, sizeof R);
    vl_index_head g;
    memset(&g, 0, sizeof g);
    uint8_t *gpay = NULL;                /* the INDEX payload, kept until the graph is built */
    uint64_t *gids = NULL, idx_off = 0;
    int rc = load_meta(&L);
    vl__store_open_mark(s, OPEN_META);
    if (rc) goto out;
    s->meta_gen = L.gen;

    /* ---- configuration ---- */
    vl_config c;
    memset(&c, 0, sizeof c);
    c.kind = VL_INDEX_HNSW;
    const uint8_t *cv;
    uint32_t cl;
    int stored = vl_store_file_meta_get(s, CFG_KEY, (uint32_t)strlen(CFG_KEY), &cv, &cl) == VL_OK && cl == CFG_LEN;
    if (stored) {
        c.kind = get32(cv);
        c.m = get32(cv + 4);
        c.ef_construction = get32(cv + 8);
        c.ef_search = get32(cv + 12);
        c.seed = (uint64_t)get32(cv + 16) | (uint64_t)get32(cv + 20) << 32;
    }
    if (cfg) {
        if (cfg->dim && info.dim && cfg->dim != info.dim) {
            rc = vl__store_msg(s, VL_EINVAL, "the file has dimension %u, the configuration asks for %u", info.dim, cfg->dim);
            goto out;
        }
        c.kind = cfg->kind;
        c.m = cfg->m;
        c.ef_construction = cfg->ef_construction;
        c.ef_search = cfg->ef_search;
        c.seed = cfg->seed;
    }
    /* A dimension-0 file (empty, vl_store_set_dim) gets an index of
     * dimension 1 that never holds a row until the dimension is set. */
    c.dim = info.dim ? info.dim : 1;
    c.metric = info.metric;
    /* No node cap from the rows: an INDEX keeps nodes (tombstones) whose rows
     * later commits dropped with their VEC segments, so it may hold more
     * nodes than the file has rows; build_from_index removes them. Memory
     * stays bounded by the payload (decode: nodes <= payload bytes / 2). */
    vl__store_open_mark(s, OPEN_META);
    int have_index = c.kind == VL_INDEX_HNSW && find_index(s, UINT64_MAX, &gpay, &g, &gids, &idx_off);
    vl__store_open_mark(s, OPEN_GRAPH);
    if (have_index && c.m == 0 && !stored) c.m = g.M;      /* e.g. rvf-node's INDEX */
    if ((rc = vl_index_new(&c, &s->idx))) {
        if (rc == VL_EINVAL && !cfg) rc = VL_ECORRUPT;      /* the stored configuration is bad */
        vl__store_msg(s, rc, "the %s configuration (kind %u, m %u, ef %u/%u) is invalid", cfg ? "given" : "stored",
             c.kind, c.m, c.ef_construction, c.ef_search);
        goto out;
    }
    (void)vl_index_config(s->idx, &s->cfg);
    if (have_index && g.M != vl__index_M(s->idx)) {
        snprintf(s->index_note, sizeof s->index_note, "INDEX not used: it has M=%u, the store M=%u",
                 g.M, vl__index_M(s->idx));
        have_index = 0;
    }
    if ((rc = load_fields(&L))) goto out;
    s->fields_durable = vl_index_field_count(s->idx);

    /* ---- rows and graph ---- */
    R.L = &L;
    R.dim = c.dim;
    R.metric = info.metric;
    R.collect = have_index;
    R.cids = vl_mem_alloc(LOAD_CHUNK * sizeof *R.cids);
    R.cvecs = vl_mem_alloc((size_t)LOAD_CHUNK * info.dim * sizeof(float));
    R.coff = vl_mem_alloc((LOAD_CHUNK + 1) * sizeof *R.coff);
    if (!R.cids || !R.cvecs || !R.coff) { rc = vl__store_msg(s, VL_ENOMEM, "out of memory"); goto out; }
    /* rows in place: an INDEX to place them by, rows still to read (not a
     * branch child), and the file's little-endian floats usable as they are */
    int in_place = have_index && g.n && s->rvf_rows_pending;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    in_place = 0;
#endif
    if (have_index && g.n) {
        R.gids = gids;
        R.gn = g.n;
        R.idx_off = idx_off;
        R.state = vl_mem_calloc(g.n, 1);
        uint64_t claimed = vl_rvf_rows_claimed(s->rvf);
        R.fcap = in_place ? (claimed > g.n ? claimed : g.n) + row_slack(R.dim) : g.n;
        R.slots = R.fcap < VL_NO_NODE ? vl__index_slots(s->idx, (uint32_t)R.fcap) : NULL;
        if (in_place) {
            R.fclaimed = claimed;
            R.fids = vl_mem_alloc((size_t)(claimed ? claimed : 1) * sizeof *R.fids);
            R.ok = vl_mem_alloc((size_t)(claimed ? claimed : 1));
        }
        if (!R.state || !R.slots || (in_place && (!R.fids || !R.ok))) {
            rc = vl__store_msg(s, VL_ENOMEM, "out of memory for %u graph nodes", g.n);
            goto out;
        }
    }
    if (s->rvf_rows_pending) {
        vl_rvf_sink sink = { &R, row_room, row_done };
        s->rvf_rows_pending = 0;
        rc = vl_rvf_open_rows(s->rvf, in_place ? &sink : NULL);
        if (rc) { vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf)); goto out; }
        vl_rvf_info_get(s->rvf, &info);
    }
    rc = in_place ? place_rows(&R) : vl_rvf_scan_ex(s->rvf, scan_cb, &R);
    vl__store_open_mark(s, OPEN_ROWS);
    if (rc) {
        if (!R.rc && !in_place) vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf));
        goto out;
    }
    if (have_index) {
        rc = build_from_index(&R, gpay, &g);
        if (rc == VL_EINVAL) {          /* unusable after all: rebuild from the rows, read again */
            vl_index_free(s->idx);
            s->idx = NULL;
            if ((rc = vl_index_new(&c, &s->idx))) { vl__store_msg(s, rc, "cannot create the index"); goto out; }
            if ((rc = load_fields(&L))) goto out;
            R.collect = 0;
            R.slots = NULL;
            R.inserted = 0;
            R.cn = 0;
            R.cmeta.len = 0;
            L.applied = 0;
            s->rows_rejected = 0;
            rc = vl_rvf_scan_ex(s->rvf, scan_cb, &R);
            if (rc && !R.rc) vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf));
            if (!rc) rc = chunk_flush(&R);
            if (rc) goto out;
            s->index_loaded = 0;
            s->graph_dirty = 1;
        } else if (rc) {
            goto out;
        }
    } else {
        if ((rc = chunk_flush(&R))) goto out;
        s->graph_dirty = vl__index_kind(s->idx) == VL_INDEX_HNSW && R.inserted > 0;
    }
    vl__store_open_mark(s, OPEN_ROWS);
    if (s->br && !own_only && (rc = branch_inherit(s, &R, parent_io))) goto out;
    s->rows_inserted_on_open = R.inserted;
    s->index_ok = s->index_loaded;
    uint64_t nonempty = 0;
    for (uint32_t k = 0; k < L.nrecs; k++) nonempty += L.recs[k].len > 0;
    if (nonempty != L.applied) s->meta_snapshot_due = s->meta_orphans = 1;   /* records of ids that are not live */
    if (vl_index_count(s->idx) + s->rows_rejected < info.live) {
        rc = vl__store_msg(s, VL_ECORRUPT, "the file has %llu live rows but only %llu were loaded",
                  (unsigned long long)info.live, (unsigned long long)vl_index_count(s->idx));
        goto out;
    }
    rc = VL_OK;
out:
    loader_free(&L);
    vl_mem_free(R.ids);
    vl_mem_free(R.fids);
    vl_mem_free(R.ok);
    vl_mem_free(R.fsegs);
    vl_mem_free(R.state);
    vl_mem_free(R.live);
    vl_mem_free(R.vecs);
    vl_mem_free(R.cids);
    vl_mem_free(R.cvecs);
    vl_mem_free(R.coff);
    vl__buf_free(&R.cmeta);
    vl__buf_free(&R.tmp);
    vl_mem_free(gpay);
    vl_mem_free(gids);
    return rc;
}

