/*
 * store_quant.c — quantization, the store side: the choice persisted as
 * file metadata "veclite.quant" (u32 kind | u32 m), the QUANT segment
 * (type 0x06, which @ruvector/rvf-node lists and skips) holding the trained
 * quantizer and the codes of the live rows, and the row source that reads
 * float32 rows from the file for re-ranking and get().
 *
 * QUANT payload (little-endian):
 *   "VLQUANT1" | u32 plen | quantizer parameters (plen bytes, quant.c) |
 *   u32 n | n x u64 id (ascending) | n x code (code_size bytes each)
 * Written with every INDEX checkpoint (right after the INDEX, in the same
 * commit) and by compaction. A code is used at open only for an id whose
 * live row lies before the QUANT segment (rows only ever move to higher
 * offsets, and a checkpoint's merged rows land before its INDEX and QUANT),
 * so a code never stands for an older vector of its id; other rows are
 * encoded again. rvf-node's compaction breaks that premise (it rewrites the
 * rows from offset 0 and copies the QUANT after them): a QUANT neither right
 * after its INDEX nor after some MANIFEST gives its quantizer only, and every
 * row is encoded again (codes_in_place). Without a usable QUANT the quantizer is trained again from
 * the rows (and persisted at the next checkpoint).
 * Invariants: the quantization of a store that has held rows never changes;
 * a branch() child is never quantized (its rows span two files).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "quant.h"
#include "rvf.h"

#define QKEY "veclite.quant"
#define QMAGIC "VLQUANT1"

static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ---- the row source ---- */
/* Up to 64 rows per device call (read_many when the device has it). */
static int fetch_rows(void *ctx, uint32_t n, const uint64_t *ids, float *out)
{
    vl_store *s = ctx;
    vl_io *io = vl_rvf_io(s->rvf);
    uint32_t dim = vl__index_dim(s->idx), len = dim * (uint32_t)sizeof(float);
    uint64_t offs[64];
    for (uint32_t at = 0; at < n; at += 64) {
        uint32_t m = n - at < 64 ? n - at : 64;
        int rc;
        for (uint32_t i = 0; i < m; i++)
            if ((rc = vl_rvf_row_offset(s->rvf, ids[at + i], &offs[i]))) return rc;
        float *v = out + (size_t)at * dim;
        if (io->read_many) {
            if ((rc = io->read_many(io->ctx, m, offs, len, v))) return rc;
        } else {
            for (uint32_t i = 0; i < m; i++)
                if ((rc = io->read(io->ctx, offs[i], v + (size_t)i * dim, len))) return rc;
        }
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (uint64_t j = 0; j < (uint64_t)n * dim; j++) {
        uint32_t u = get32((const uint8_t *)&out[j]);
        memcpy(&out[j], &u, 4);
    }
#endif
    return VL_OK;
}

int vl_store_set_quant(vl_store *s, uint32_t kind, uint32_t m)
{
    if (!s) return VL_EINVAL;
    if (kind == vl__index_quant_kind(s->idx) && (kind != VL_QUANT_PRODUCT || m == vl__index_quant_m(s->idx)))
        return VL_OK;
    int rc = vl__store_setting_open(s, "be quantized", "quantization");
    if (rc) return rc;
    rc = vl_index_set_quant(s->idx, kind, m);
    if (rc) return vl__store_msg(s, rc, "%s", vl_errmsg(s->idx));
    uint8_t v[8];
    put32(v, kind);
    put32(v + 4, kind == VL_QUANT_PRODUCT ? m : 0);
    if ((rc = vl__store_fm_commit(s, QKEY, (uint32_t)strlen(QKEY), v, kind ? 8 : 0))) {
        (void)vl_index_set_quant(s->idx, VL_QUANT_NONE, 0);
        return rc;
    }
    vl__store_quant_bind(s);
    return VL_OK;
}

/* A quantized index reads its float32 rows through its store (none when
 * not quantized): set where the quantization is chosen or read, and again
 * after refresh's reload swapped two stores' contents. */
void vl__store_quant_bind(vl_store *s)
{
    int q = s->idx && vl__index_quant_kind(s->idx) != VL_QUANT_NONE;
    if (s->idx) vl_index_set_rows(s->idx, q ? fetch_rows : NULL, q ? s : NULL);
}

void vl__store_quant_wrote(vl_store *s)
{
    if (!s->quant_seen && vl__index_quant(s->idx)) {
        s->quant_seen = 1;
        s->quant_dirty = 1;
    }
}

/* ---- the QUANT payload ---- */
int vl__store_quant_payload(vl_store *s, vl_buf *out)
{
    out->len = 0;
    const vl_quant *q = vl__index_quant(s->idx);
    if (!q) return VL_OK;
    uint64_t n = vl_index_count(s->idx), plen = vl_quant_save_len(q);
    uint64_t total = 8 + 4 + plen + 4 + n * (8 + q->code_size);
    if (total > UINT32_MAX || !vl__buf_reserve(out, total)) return VL_ENOMEM;
    vl__buf_put(out, QMAGIC, 8);
    uint8_t w[4];
    put32(w, (uint32_t)plen);
    vl__buf_put(out, w, 4);
    vl_quant_save(q, out->p + out->len);
    out->len += plen;
    put32(w, (uint32_t)n);
    vl__buf_put(out, w, 4);
    uint8_t *idp = out->p + out->len, *cp = idp + n * 8;
    uint64_t after = 0, got = 0;
    uint32_t valid = 0, k;
    uint64_t chunk[256];
    while (got < n && vl_index_ids(s->idx, &after, valid, chunk, 256, &k) == VL_OK && k) {
        for (uint32_t i = 0; i < k; i++, got++) {
            for (int b = 0; b < 8; b++) idp[got * 8 + b] = (uint8_t)(chunk[i] >> (8 * b));
            memcpy(cp + got * q->code_size, vl__index_node_code(s->idx, vl__index_live_node(s->idx, chunk[i])),
                   q->code_size);
        }
        after = chunk[k - 1];
        valid = 1;
    }
    if (got != n) { out->len = 0; return VL_ENOMEM; }
    out->len += n * (8 + q->code_size);
    return VL_OK;
}

/* ---- open ---- */
typedef struct qcodes {
    vl_store *s;
    const uint8_t *ids, *codes;
    uint32_t n, cs;
    uint64_t qoff;
} qcodes;

static const uint8_t *code_for(void *ctx, uint64_t id)
{
    const qcodes *c = ctx;
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t x = get64(c->ids + (size_t)mid * 8);
        if (x < id) lo = mid + 1;
        else if (x > id) hi = mid;
        else {
            uint64_t off;
            if (vl_rvf_row_offset(c->s->rvf, id, &off) || off >= c->qoff) return NULL;   /* a newer row */
            return c->codes + (size_t)mid * c->cs;
        }
    }
    return NULL;
}

/* Whether the codes of the QUANT q (written after the rows they encode) can
 * still be matched to rows by position: the QUANT directly follows the INDEX
 * of its commit (id q-1, ending at q's header: veclite's checkpoint and
 * compaction), or a MANIFEST lies before it in the file. Neither holds for a
 * QUANT that another writer's compaction copied after rows it rewrote from
 * offset 0 (rvf-node 0.2.3 drops the INDEX and writes the rows first, a
 * newer vector of an id included), so its codes are not used. */
static VL_COLD int codes_in_place(vl_store *s, const vl_rvf_dirent *q)
{
    vl_rvf_dirent d;
    if (vl__store_newest_seg(s, VL_RVF_SEG_INDEX, &d) != UINT32_MAX && d.seg_id + 1 == q->seg_id &&
        d.offset + 64 + d.payload_length == q->offset)
        return 1;
    vl_io *io = vl_rvf_io(s->rvf);
    uint8_t h[64];
    uint64_t prev_id = 0;
    uint32_t prev_type = 0;
    for (uint64_t off = 0; off < q->offset;) {           /* segments are packed from byte 0 */
        if (io->read(io->ctx, off, h, 64) || get32(h) != VL_RVF_MAGIC) return 0;
        if (h[5] == VL_RVF_SEG_MANIFEST) return 1;
        prev_type = h[5];
        prev_id = get64(h + 8);
        uint64_t len = get64(h + 16);
        if (len > q->offset - off - 64) return 0;
        off += 64 + len;
        if (off == q->offset) return prev_type == VL_RVF_SEG_INDEX && prev_id + 1 == q->seg_id;
    }
    return 0;
}

/* Adopt the newest listed QUANT: VL_OK (adopted), 1 (none usable: the
 * reason in index_note), or an error. */
static int adopt(vl_store *s)
{
    vl_rvf_dirent d;
    uint32_t at = vl__store_newest_seg(s, VL_RVF_SEG_QUANT, &d);
    if (at == UINT32_MAX) return 1;
    uint8_t *p = NULL;
    int rc = vl_rvf_read_payload(s->rvf, at, 1ull << 31, &p);
    if (rc == VL_ENOMEM) return vl__store_msg(s, rc, "out of memory reading the QUANT segment");
    if (rc) { snprintf(s->index_note, sizeof s->index_note, "QUANT not used: %s", vl_rvf_errmsg(s->rvf)); return 1; }
    uint64_t len = d.payload_length, used = 0;
    char why[160] = "";
    vl_quant q;
    memset(&q, 0, sizeof q);
    int ok = len >= 16 && memcmp(p, QMAGIC, 8) == 0;
    uint32_t plen = ok ? get32(p + 8) : 0;
    ok = ok && 12ull + plen + 4 <= len &&
         vl_quant_load(&q, p + 12, plen, vl__index_metric(s->idx), vl__index_dim(s->idx), &used, why, sizeof why) == VL_OK &&
         used == plen;
    if (!ok && !why[0]) snprintf(why, sizeof why, "malformed QUANT payload");
    qcodes c = { s, NULL, NULL, 0, 0, 0 };   /* qoff 0: every row encoded again */
    if (ok && codes_in_place(s, &d)) c.qoff = d.offset;
    if (ok) {
        c.n = get32(p + 12 + plen);
        c.cs = q.code_size;
        c.ids = p + 16 + plen;
        c.codes = c.ids + (size_t)c.n * 8;
        if (16ull + plen + (uint64_t)c.n * (8 + c.cs) != len) { ok = 0; snprintf(why, sizeof why, "QUANT holds %u codes in %llu bytes", c.n, (unsigned long long)len); }
        for (uint32_t i = 1; ok && i < c.n; i++)
            if (get64(c.ids + (size_t)i * 8) <= get64(c.ids + (size_t)(i - 1) * 8)) { ok = 0; snprintf(why, sizeof why, "QUANT ids are not ascending"); }
    }
    if (ok && q.kind != vl__index_quant_kind(s->idx)) { ok = 0; snprintf(why, sizeof why, "QUANT is of another kind"); }
    if (!ok) {
        vl_quant_free(&q);
        vl_mem_free(p);
        snprintf(s->index_note, sizeof s->index_note, "QUANT not used: %s", why);
        return 1;
    }
    rc = vl__index_adopt_quant(s->idx, &q, code_for, &c);
    vl_quant_free(&q);           /* adopted: emptied; else ours */
    vl_mem_free(p);
    if (rc == VL_ENOMEM) return vl__store_msg(s, rc, "out of memory adopting the quantizer");
    if (rc) { snprintf(s->index_note, sizeof s->index_note, "QUANT not used: %s", vl_errmsg(s->idx)); return 1; }
    return VL_OK;
}

int vl__store_quant_open(vl_store *s)
{
    const uint8_t *v;
    uint32_t l;
    if (vl_store_file_meta_get(s, QKEY, (uint32_t)strlen(QKEY), &v, &l) != VL_OK) return VL_OK;
    uint32_t kind = l == 8 ? get32(v) : UINT32_MAX, m = l == 8 ? get32(v + 4) : 0;
    if (kind == VL_QUANT_NONE || s->br) return VL_OK;   /* a branch child keeps float32 rows (its parent's too) */
    if (kind > VL_QUANT_PRODUCT || vl__index_kind(s->idx) != VL_INDEX_HNSW ||
        (kind == VL_QUANT_PRODUCT && m > vl__index_dim(s->idx)))
        return vl__store_msg(s, VL_ECORRUPT, "the stored quantization (%u bytes: kind %u, m %u) is invalid for this store",
                             l, kind, m);
    vl__index_quant_ask(s->idx, kind, m);
    vl__store_quant_bind(s);
    int rc = adopt(s);
    if (rc < 0) return rc;
    if (rc == 1) vl__index_quant_train_now(s->idx);
    if (vl__index_quant(s->idx)) {
        s->quant_seen = 1;
        s->quant_dirty = rc == 1 && !s->readonly;   /* trained here: persist at the next checkpoint */
    }
    return VL_OK;
}
