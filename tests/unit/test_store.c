/*
 * test_store.c — durable stores (veclite.h "Stores", src/store*.c) on the
 * memory device: round trips through close/reopen, crash recovery from the
 * INDEX, torn and corrupted images, failing devices, compaction, derive,
 * read-only handles, the META codec and version gate, rvf-node's files.
 *
 * Oracle: a model of the expected state kept by the test itself (vectors
 * and metadata records per id, applied with the same semantics as the API:
 * last row of a batch wins, an upsert replaces the record); searches are
 * checked against brute force over the model's live rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "../../src/io.h"
#include "../../src/rvf.h"
#include "../../src/crc32.h"
#include "../../src/sha256.h"
#include "../../src/store.h"

#define MAXID 4096u

/* ---- the model ---- */
typedef struct model {
    uint32_t dim, metric;
    uint8_t live[MAXID];
    float *vec;                 /* MAXID x dim */
    uint8_t *rec[MAXID];
    uint32_t rlen[MAXID];
} model;

static model *m_new(uint32_t dim, uint32_t metric)
{
    model *m = t_alloc(sizeof *m);
    m->dim = dim;
    m->metric = metric;
    m->vec = t_alloc((size_t)MAXID * dim * sizeof(float));
    return m;
}

static void m_free(model *m)
{
    if (!m) return;
    for (uint32_t i = 0; i < MAXID; i++) free(m->rec[i]);
    free(m->vec);
    free(m);
}

static model *m_copy(const model *m)
{
    model *c = m_new(m->dim, m->metric);
    memcpy(c->live, m->live, sizeof c->live);
    memcpy(c->vec, m->vec, (size_t)MAXID * m->dim * sizeof(float));
    for (uint32_t i = 0; i < MAXID; i++) {
        c->rlen[i] = m->rlen[i];
        if (m->rlen[i]) { c->rec[i] = t_alloc(m->rlen[i]); memcpy(c->rec[i], m->rec[i], m->rlen[i]); }
    }
    return c;
}

static void m_set_rec(model *m, uint64_t id, const uint8_t *rec, uint32_t len)
{
    free(m->rec[id]);
    m->rec[id] = NULL;
    m->rlen[id] = len;
    if (len) { m->rec[id] = t_alloc(len); memcpy(m->rec[id], rec, len); }
}

static void m_upsert(model *m, uint32_t n, const uint64_t *ids, const float *v, const uint8_t *meta,
                     const uint32_t *off)
{
    for (uint32_t i = 0; i < n; i++) {
        m->live[ids[i]] = 1;
        memcpy(m->vec + ids[i] * m->dim, v + (size_t)i * m->dim, m->dim * sizeof(float));
        m_set_rec(m, ids[i], meta ? meta + off[i] : NULL, meta ? off[i + 1] - off[i] : 0);
    }
}

static void m_delete(model *m, uint32_t n, const uint64_t *ids)
{
    for (uint32_t i = 0; i < n; i++) { m->live[ids[i]] = 0; m_set_rec(m, ids[i], NULL, 0); }
}

static uint32_t m_count(const model *m)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < MAXID; i++) c += m->live[i];
    return c;
}

static int quiet;   /* m_check prints nothing (probing which state a file holds) */

/* Full state comparison: count, ids, vectors (bitwise), metadata (bytes),
 * index invariants, and exact top-10 of a few queries vs brute force. */
static int m_check(const model *m, vl_store *s, int search)
{
    vl_index *h = vl_store_index(s);
    CHECK(h != NULL);
    CHECK_RCH(h, vl_index_check(h), VL_OK);
    if (vl_index_count(h) != m_count(m)) {
        if (!quiet) fprintf(stderr, "count %llu, expected %u\n", (unsigned long long)vl_index_count(h), m_count(m));
        return 1;
    }
    float *v = t_alloc(m->dim * sizeof(float));
    for (uint64_t id = 0; id < MAXID; id++) {
        const uint8_t *rec;
        uint32_t len;
        int rc = vl_index_get(h, &id, v, &rec, &len);
        if (!m->live[id]) {
            if (rc != VL_ENOTFOUND) { if (!quiet) fprintf(stderr, "id %llu should be absent\n", (unsigned long long)id); free(v); return 1; }
            continue;
        }
        if (rc != VL_OK || memcmp(v, m->vec + id * m->dim, m->dim * sizeof(float)) != 0) {
            if (!quiet) fprintf(stderr, "id %llu: rc %d or vector differs\n", (unsigned long long)id, rc);
            free(v);
            return 1;
        }
        if (len != m->rlen[id] || (len && memcmp(rec, m->rec[id], len) != 0)) {
            if (!quiet) fprintf(stderr, "id %llu: metadata differs (%u vs %u bytes)\n", (unsigned long long)id, len, m->rlen[id]);
            free(v);
            return 1;
        }
    }
    free(v);
    if (!search || m_count(m) == 0) return 0;
    /* brute force over the model's live rows */
    uint64_t *ids = t_alloc(MAXID * sizeof *ids);
    uint32_t n = 0;
    float *data = t_alloc((size_t)MAXID * m->dim * sizeof(float));
    for (uint32_t i = 0; i < MAXID; i++)
        if (m->live[i]) { ids[n] = i; memcpy(data + (size_t)n * m->dim, m->vec + (size_t)i * m->dim, m->dim * sizeof(float)); n++; }
    float *q = t_queries(data, n, m->dim, 5, 0.05, 99);
    int bad = 0;
    for (uint32_t qi = 0; qi < 5 && !bad; qi++) {
        uint64_t got[10];
        float d[10];
        uint32_t cnt;
        CHECK_RCH(h, vl_index_search(h, 1, q + (size_t)qi * m->dim, 10, 400, NULL, 0, got, d, &cnt), VL_OK);
        bad = t_match_oracle(m->metric, data, ids, NULL, n, m->dim, q + (size_t)qi * m->dim, 10, got, d, cnt);
    }
    free(q);
    free(ids);
    free(data);
    return bad;
}

/* ---- helpers ---- */

static const uint8_t FID[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static vl_io *mem_dev(const uint8_t *b, uint64_t n)
{
    vl_io *io = NULL;
    if (vl_io_mem_open(b, n, &io) != VL_OK) return NULL;
    return io;
}

/* A copy of io's bytes as a new device (what a crash leaves behind). */
static vl_io *mem_clone(vl_io *io, uint64_t cut)
{
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    return mem_dev(b, cut < n ? cut : n);
}

static uint64_t mem_size(vl_io *io)
{
    uint64_t n;
    (void)vl_io_mem_data(io, &n);
    return n;
}

static vl_config cfg_of(uint32_t dim, uint32_t metric, uint32_t kind)
{
    vl_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim;
    c.metric = metric;
    c.kind = kind;
    c.m = 8;
    c.ef_construction = 64;
    c.seed = 7;
    return c;
}

#define OPEN(io, cfgp, flags, out)                                                       \
    do {                                                                                 \
        char m_[256];                                                                    \
        int rc_ = vl_store_open((io), (cfgp), (flags), FID, (out), m_, sizeof m_);       \
        if (rc_ != VL_OK) {                                                              \
            fprintf(stderr, "%s:%d: vl_store_open: %s: %s\n", __FILE__, __LINE__,         \
                    vl_errstr(rc_), m_);                                                 \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

#define SRC(s, expr, want)                                                           \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        if (rc_ != (want)) {                                                         \
            fprintf(stderr, "%s:%d: %s returned %d (%s: %s), expected %s\n", __FILE__,\
                    __LINE__, #expr, rc_, vl_errstr(rc_), vl_store_errmsg(s), #want); \
            return 1;                                                                \
        }                                                                            \
    } while (0)
#define SOK(s, expr) SRC(s, expr, VL_OK)

/* Records for rows: a mix of STR, F64, BOOL, JSON, NULL and no metadata. */
static uint32_t make_meta(uint8_t *buf, uint32_t *off, uint32_t n, const uint64_t *ids, uint32_t salt,
                          const uint32_t *fids)
{
    uint32_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        off[i] = len;
        uint64_t k = ids[i] * 7 + salt;
        if (k % 5 == 0) continue;                  /* no metadata */
        uint8_t *r = buf + len;
        uint32_t l = t_rec_begin(r);
        char txt[64];
        int tl = snprintf(txt, sizeof txt, "doc-%llu-%u", (unsigned long long)ids[i], salt);
        l = t_rec_str(r, l, (uint16_t)fids[0], VL_TAG_STR, txt, (uint32_t)tl);
        l = t_rec_f64(r, l, (uint16_t)fids[1], (double)k * 0.25);
        if (k % 3 == 0) l = t_rec_bool(r, l, (uint16_t)fids[2], (int)(k & 1));
        if (k % 4 == 1) {
            tl = snprintf(txt, sizeof txt, "{\"a\":[%llu,2],\"b\":{\"c\":null}}", (unsigned long long)k);
            l = t_rec_str(r, l, (uint16_t)fids[3], VL_TAG_JSON, txt, (uint32_t)tl);
        }
        if (k % 7 == 2) l = t_rec_null(r, l, (uint16_t)fids[4]);
        len += l;
    }
    off[n] = len;
    return len;
}

static int register_fields(vl_store *s, uint32_t *fids)
{
    static const char *names[5] = { "title", "score", "flag", "nested", "$id" };
    for (uint32_t i = 0; i < 5; i++) SOK(s, vl_store_field(s, names[i], (uint32_t)strlen(names[i]), &fids[i]));
    return 0;
}

/* Upsert n rows (ids, random vectors, metadata with salt) into both. */
static int do_upsert(vl_store *s, model *m, uint32_t n, const uint64_t *ids, uint64_t *seed, uint32_t salt,
                     const uint32_t *fids, int with_meta)
{
    float *v = t_alloc((size_t)n * m->dim * sizeof(float));
    for (size_t i = 0; i < (size_t)n * m->dim; i++) v[i] = (float)(t_unif(seed) * 2 - 1);
    uint8_t *meta = t_alloc((size_t)n * 200 + 16);
    uint32_t *off = t_alloc(((size_t)n + 1) * sizeof *off);
    if (with_meta) make_meta(meta, off, n, ids, salt, fids);
    int rc = vl_store_upsert(s, n, ids, v, with_meta ? meta : NULL, with_meta ? off : NULL);
    if (rc == VL_OK) m_upsert(m, n, ids, v, with_meta ? meta : NULL, off);
    else fprintf(stderr, "do_upsert: %s: %s\n", vl_errstr(rc), vl_store_errmsg(s));
    free(v);
    free(meta);
    free(off);
    return rc;
}

/* Reopen io's bytes as a new device and store. */
static int reopen(vl_io *src, uint64_t cut, uint32_t flags, vl_io **io_out, vl_store **out)
{
    *io_out = mem_clone(src, cut);
    CHECK(*io_out != NULL);
    OPEN(*io_out, NULL, flags, out);
    return 0;
}

static uint32_t count_type(vl_store *s, uint32_t type)
{
    vl_store_status st;
    if (vl_store_info(s, &st)) return 0;
    uint32_t c = 0;
    for (uint32_t i = 0; i < st.dir_count; i++) {
        vl_store_seg g;
        if (vl_store_dir(s, i, &g) == VL_OK && g.seg_type == type) c++;
    }
    return c;
}

/* ======================================================================
 * Tests
 * ====================================================================== */

int test_store_roundtrip(void)
{
    for (uint32_t metric = 0; metric <= 2; metric++) {
        uint32_t dim = 12;
        vl_io *io = mem_dev(NULL, 0);
        vl_config c = cfg_of(dim, metric, VL_INDEX_HNSW);
        vl_store *s;
        char msg[256];
        CHECK_RC(vl_store_open(io, &c, 0, FID, &s, msg, sizeof msg), VL_ENOTFOUND);   /* no CREATE */
        OPEN(io, &c, VL_STORE_CREATE, &s);
        model *m = m_new(dim, metric);
        uint32_t fids[5];
        if (register_fields(s, fids)) return 1;
        uint64_t seed = 42 + metric;
        uint64_t ids[600];
        for (uint32_t i = 0; i < 600; i++) ids[i] = i * 3 + 1;
        CHECK(do_upsert(s, m, 400, ids, &seed, 1, fids, 1) == VL_OK);
        CHECK(do_upsert(s, m, 200, ids + 400, &seed, 2, fids, 1) == VL_OK);
        /* overwrite: some with new metadata, some without (clears it) */
        CHECK(do_upsert(s, m, 50, ids + 10, &seed, 3, fids, 1) == VL_OK);
        CHECK(do_upsert(s, m, 30, ids + 100, &seed, 4, fids, 0) == VL_OK);
        /* batch with a duplicate id: the last row wins */
        uint64_t dup[3] = { 5000 % MAXID, 77, 5000 % MAXID };
        CHECK(do_upsert(s, m, 3, dup, &seed, 5, fids, 1) == VL_OK);
        /* deletes, including absent ids */
        uint64_t del[40];
        for (uint32_t i = 0; i < 40; i++) del[i] = ids[i * 7];
        del[39] = 3999;
        uint32_t nd;
        SOK(s, vl_store_delete(s, 40, del, &nd));
        CHECK(nd == 39);
        m_delete(m, 40, del);
        /* set_meta: replace and empty */
        uint64_t sm[3] = { ids[2], ids[3], ids[4] };
        uint8_t rb[64];
        uint32_t l = t_rec_begin(rb);
        l = t_rec_str(rb, l, (uint16_t)fids[4], VL_TAG_STR, "user-key", 8);
        uint32_t soff[4] = { 0, l, l, l };
        SOK(s, vl_store_set_meta(s, 3, sm, rb, soff));
        m_set_rec(m, sm[0], rb, l);
        m_set_rec(m, sm[1], NULL, 0);
        m_set_rec(m, sm[2], NULL, 0);
        uint64_t absent = 3998;
        SRC(s, vl_store_set_meta(s, 1, &absent, rb, soff), VL_ENOTFOUND);
        /* bad input leaves file and memory untouched */
        uint64_t before = 0;
        vl_store_status st;
        SOK(s, vl_store_info(s, &st));
        before = st.bytes;
        float nanv[12] = { NAN };
        uint64_t nid = 1;
        SRC(s, vl_store_upsert(s, 1, &nid, nanv, NULL, NULL), VL_EINVAL);
        SOK(s, vl_store_info(s, &st));
        CHECK(st.bytes == before);
        if (m_check(m, s, 1)) return 1;
        /* file metadata */
        SOK(s, vl_store_file_meta_set(s, "idType", 6, (const uint8_t *)"string", 6));
        SRC(s, vl_store_file_meta_set(s, "veclite.x", 9, (const uint8_t *)"a", 1), VL_EINVAL);
        /* search results before close, to compare with the loaded graph */
        vl_index *h = vl_store_index(s);
        float *q = t_queries(m->vec, 600, dim, 4, 0.1, 5);
        uint64_t r1[40], r2[40];
        float d1[40], d2[40];
        uint32_t c1[4], c2[4];
        CHECK_RC(vl_index_search(h, 4, q, 10, 32, NULL, 0, r1, d1, c1), VL_OK);
        SOK(s, vl_store_close(s));

        vl_io *io2;
        if (reopen(io, UINT64_MAX, 0, &io2, &s)) return 1;
        SOK(s, vl_store_info(s, &st));
        CHECK(st.index_loaded == 1);
        CHECK(st.rows_inserted_on_open == 0);
        CHECK(st.graph_dirty == 0);
        CHECK(st.metric == metric && st.dim == dim);
        CHECK(memcmp(st.file_id, FID, 16) == 0);
        if (m_check(m, s, 1)) return 1;
        /* same graph => same answers, even at a small ef */
        h = vl_store_index(s);
        CHECK_RC(vl_index_search(h, 4, q, 10, 32, NULL, 0, r2, d2, c2), VL_OK);
        for (uint32_t i = 0; i < 4; i++) {
            CHECK(c1[i] == c2[i]);
            for (uint32_t j = 0; j < c1[i]; j++) CHECK(r1[i * 10 + j] == r2[i * 10 + j]);
        }
        /* config and names came back */
        vl_config got;
        CHECK_RC(vl_index_config(h, &got), VL_OK);
        CHECK(got.m == 8 && got.ef_construction == 64 && got.kind == VL_INDEX_HNSW && got.seed == 7);
        CHECK(vl_index_field_count(h) == 5);
        const char *nm;
        uint32_t nl;
        CHECK_RC(vl_index_field_name(h, fids[3], &nm, &nl), VL_OK);
        CHECK(nl == 6 && memcmp(nm, "nested", 6) == 0);
        const uint8_t *fv;
        uint32_t fl;
        SOK(s, vl_store_file_meta_get(s, "idType", 6, &fv, &fl));
        CHECK(fl == 6 && memcmp(fv, "string", 6) == 0);
        CHECK_RC(vl_store_file_meta_get(s, "nope", 4, &fv, &fl), VL_ENOTFOUND);
        vl_store_verify_result vr;
        SOK(s, vl_store_verify(s, &vr));
        if (!vr.ok) fprintf(stderr, "verify: %s\n", vl_store_problems(s));
        CHECK(vr.ok == 1 && vr.witness_intact == 1 && vr.witness_entries > 0);
        /* writes continue after reopen, and survive another reopen */
        uint64_t more[20];
        for (uint32_t i = 0; i < 20; i++) more[i] = 2000 + i;
        CHECK(do_upsert(s, m, 20, more, &seed, 9, fids, 1) == VL_OK);
        SOK(s, vl_store_file_meta_set(s, "idType", 6, NULL, 0));
        SOK(s, vl_store_close(s));
        vl_io *io3;
        if (reopen(io2, UINT64_MAX, 0, &io3, &s)) return 1;
        if (m_check(m, s, 1)) return 1;
        CHECK_RC(vl_store_file_meta_get(s, "idType", 6, &fv, &fl), VL_ENOTFOUND);
        SOK(s, vl_store_close(s));
        free(q);
        m_free(m);
        vl_io_mem_free(io);
        vl_io_mem_free(io2);
        vl_io_mem_free(io3);
    }
    return 0;
}

/* Flat stores persist too (no INDEX segment). */
int test_store_flat(void)
{
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(5, VL_METRIC_DOT, VL_INDEX_FLAT);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    model *m = m_new(5, VL_METRIC_DOT);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    uint64_t seed = 3, ids[100];
    for (uint32_t i = 0; i < 100; i++) ids[i] = i;
    CHECK(do_upsert(s, m, 100, ids, &seed, 1, fids, 1) == VL_OK);
    uint32_t nd;
    SOK(s, vl_store_delete(s, 10, ids + 5, &nd));
    m_delete(m, 10, ids + 5);
    SOK(s, vl_store_close(s));
    vl_io *io2;
    if (reopen(io, UINT64_MAX, 0, &io2, &s)) return 1;
    vl_config got;
    CHECK_RC(vl_index_config(vl_store_index(s), &got), VL_OK);
    CHECK(got.kind == VL_INDEX_FLAT);
    CHECK(count_type(s, VL_RVF_SEG_INDEX) == 0);
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_close(s));
    m_free(m);
    vl_io_mem_free(io);
    vl_io_mem_free(io2);
    return 0;
}

/* Rows in VEC segments after the newest INDEX (what a crash-reopen must insert). */
static uint64_t rows_after_index(vl_store *s, vl_io *io)
{
    vl_store_status st;
    if (vl_store_info(s, &st)) return 0;
    uint64_t ioff = 0, rows = 0;
    vl_store_seg g;
    for (uint32_t i = 0; i < st.dir_count; i++)
        if (vl_store_dir(s, i, &g) == VL_OK && g.seg_type == VL_RVF_SEG_INDEX) ioff = g.offset;
    const uint8_t *b = vl_io_mem_data(io, NULL);
    for (uint32_t i = 0; i < st.dir_count; i++)
        if (vl_store_dir(s, i, &g) == VL_OK && g.seg_type == VL_RVF_SEG_VEC && g.offset > ioff) {
            const uint8_t *p = b + g.offset + 64 + 2;
            rows += (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        }
    return rows;
}

int test_store_crash_incremental(void)
{
    uint32_t dim = 8;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    model *m = m_new(dim, VL_METRIC_L2);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    uint64_t seed = 11, ids[MAXID];
    for (uint32_t i = 0; i < MAXID; i++) ids[i] = i;
    CHECK(do_upsert(s, m, 1500, ids, &seed, 1, fids, 1) == VL_OK);
    SOK(s, vl_store_checkpoint(s));
    vl_store_status st;
    SOK(s, vl_store_info(s, &st));
    CHECK(st.graph_dirty == 0);
    CHECK(count_type(s, VL_RVF_SEG_INDEX) == 1);

    /* after the checkpoint: new rows, a re-upsert of covered ids, deletes */
    CHECK(do_upsert(s, m, 40, ids + 1500, &seed, 2, fids, 1) == VL_OK);
    CHECK(do_upsert(s, m, 10, ids + 100, &seed, 3, fids, 1) == VL_OK);
    uint32_t nd;
    SOK(s, vl_store_delete(s, 20, ids + 200, &nd));
    m_delete(m, 20, ids + 200);
    CHECK(count_type(s, VL_RVF_SEG_INDEX) == 1);    /* rows changed, the INDEX stays listed */
    uint64_t expect = rows_after_index(s, io);
    CHECK(expect >= 50);

    /* crash: the bytes as they are, no close */
    vl_io *io2;
    vl_store *s2;
    if (reopen(io, UINT64_MAX, 0, &io2, &s2)) return 1;
    SOK(s2, vl_store_info(s2, &st));
    CHECK(st.index_loaded == 1);
    if (st.rows_inserted_on_open != expect)
        fprintf(stderr, "inserted %llu, rows after the INDEX %llu\n", (unsigned long long)st.rows_inserted_on_open,
                (unsigned long long)expect);
    CHECK(st.rows_inserted_on_open == expect);
    CHECK(st.graph_dirty == 1);
    if (m_check(m, s2, 1)) return 1;
    /* the repaired graph still finds neighbours: recall at a modest ef */
    {
        vl_index *h = vl_store_index(s2);
        uint64_t lids[MAXID];
        float *data = t_alloc((size_t)MAXID * dim * sizeof(float));
        uint32_t n = 0;
        for (uint32_t i = 0; i < MAXID; i++)
            if (m->live[i]) { lids[n] = i; memcpy(data + (size_t)n * dim, m->vec + (size_t)i * dim, dim * sizeof(float)); n++; }
        float *q = t_queries(data, n, dim, 50, 0.05, 3);
        double rsum = 0;
        for (uint32_t qi = 0; qi < 50; qi++) {
            uint64_t got[10];
            float d[10];
            uint32_t cnt, rows[10];
            double od[10];
            CHECK_RC(vl_index_search(h, 1, q + (size_t)qi * dim, 10, 64, NULL, 0, got, d, &cnt), VL_OK);
            uint32_t w = t_oracle(VL_METRIC_L2, data, lids, NULL, n, dim, q + (size_t)qi * dim, 10, rows, od);
            uint64_t want[10];
            for (uint32_t i = 0; i < w; i++) want[i] = lids[rows[i]];
            rsum += t_recall(got, cnt, want, w);
        }
        CHECK(rsum / 50 >= 0.9);
        free(q);
        free(data);
    }
    /* its close writes a fresh checkpoint: the next open inserts nothing */
    SOK(s2, vl_store_close(s2));
    vl_io *io3;
    if (reopen(io2, UINT64_MAX, 0, &io3, &s2)) return 1;
    SOK(s2, vl_store_info(s2, &st));
    CHECK(st.index_loaded == 1 && st.rows_inserted_on_open == 0);
    if (m_check(m, s2, 1)) return 1;
    SOK(s2, vl_store_close(s2));

    /* a damaged INDEX (valid hash, broken graph) is ignored: rebuild, same state */
    SOK(s, vl_store_close(s));
    {
        uint64_t n;
        const uint8_t *b = vl_io_mem_data(io, &n);
        uint8_t *copy = t_alloc((size_t)n);
        memcpy(copy, b, (size_t)n);
        vl_store *t;
        vl_io *tio = mem_dev(copy, n);
        OPEN(tio, NULL, VL_STORE_READONLY, &t);
        vl_store_seg g;
        SOK(t, vl_store_info(t, &st));
        uint64_t ioff = 0, ilen = 0;
        for (uint32_t i = 0; i < st.dir_count; i++)
            if (vl_store_dir(t, i, &g) == VL_OK && g.seg_type == VL_RVF_SEG_INDEX) { ioff = g.offset; ilen = g.payload_length; }
        SOK(t, vl_store_close(t));
        vl_io_mem_free(tio);
        CHECK(ilen > 600);
        for (uint32_t k = 0; k < 3; k++) {
            uint8_t *c2 = t_alloc((size_t)n);
            memcpy(c2, copy, (size_t)n);
            uint8_t *p = c2 + ioff + 64;
            if (k == 0) p[300] ^= 0x5a;                /* somewhere in the node lists */
            if (k == 1) p[8] = 0xff;                   /* node count */
            if (k == 2) memset(p + 256, 0x7f, 64);     /* huge varints */
            uint8_t h16[16];
            vl_rvf_content_hash(vl_crc32(0, p, (size_t)ilen), h16);
            memcpy(c2 + ioff + 0x28, h16, 16);
            vl_io *cio = mem_dev(c2, n);
            OPEN(cio, NULL, 0, &t);
            SOK(t, vl_store_info(t, &st));
            if (k) CHECK(st.index_loaded == 0);
            if (m_check(m, t, 1)) return 1;
            SOK(t, vl_store_close(t));
            vl_io_mem_free(cio);
            free(c2);
        }
        free(copy);
    }
    m_free(m);
    vl_io_mem_free(io);
    vl_io_mem_free(io2);
    vl_io_mem_free(io3);
    return 0;
}

/* A multi-commit image cut at every byte opens at the last commit wholly
 * before the cut, with exactly that commit's state. */
int test_store_truncate_every_offset(void)
{
    uint32_t dim = 3;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_COSINE, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *states[16];
    uint64_t ends[16];
    uint32_t ns = 0;
    model *m = m_new(dim, VL_METRIC_COSINE);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    uint64_t seed = 5, ids[64];
    for (uint32_t i = 0; i < 64; i++) ids[i] = i * 11 + 1;
    CHECK(do_upsert(s, m, 12, ids, &seed, 1, fids, 1) == VL_OK);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    CHECK(do_upsert(s, m, 8, ids + 12, &seed, 2, fids, 1) == VL_OK);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    uint32_t nd;
    SOK(s, vl_store_delete(s, 3, ids + 1, &nd));
    m_delete(m, 3, ids + 1);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    CHECK(do_upsert(s, m, 4, ids + 5, &seed, 3, fids, 0) == VL_OK);      /* clears metadata */
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    uint8_t rb[32];
    uint32_t l = t_rec_begin(rb);
    l = t_rec_bool(rb, l, (uint16_t)fids[2], 1);
    uint32_t off[2] = { 0, l };
    SOK(s, vl_store_set_meta(s, 1, ids + 9, rb, off));
    m_set_rec(m, ids[9], rb, l);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    SOK(s, vl_store_checkpoint(s));
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    CHECK(do_upsert(s, m, 5, ids + 20, &seed, 4, fids, 1) == VL_OK);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    SOK(s, vl_store_close(s));   /* writes a final INDEX */
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);

    uint64_t total = mem_size(io);
    /* the create's first MANIFEST ends where the bytes first become openable */
    uint64_t first = 64 + 22 + 4 + 72;
    for (uint64_t cut = 0; cut <= total; cut++) {
        vl_io *t = mem_clone(io, cut);
        vl_store *r = NULL;
        char msg[256];
        int rc = vl_store_open(t, NULL, VL_STORE_READONLY, NULL, &r, msg, sizeof msg);
        if (cut < first) {
            CHECK(rc != VL_OK);
            vl_io_mem_free(t);
            continue;
        }
        if (rc != VL_OK) {
            fprintf(stderr, "cut %llu of %llu: %s: %s\n", (unsigned long long)cut, (unsigned long long)total,
                    vl_errstr(rc), msg);
            return 1;
        }
        uint32_t k = 0;
        while (k + 1 < ns && ends[k + 1] <= cut) k++;
        if (cut < ends[0]) k = 0;   /* create's META not yet complete: same (empty) state */
        if (m_check(states[k], r, 0)) {
            fprintf(stderr, "cut %llu: state differs from commit %u\n", (unsigned long long)cut, k);
            return 1;
        }
        vl_store_close(r);
        vl_io_mem_free(t);
    }
    for (uint32_t i = 0; i < ns; i++) m_free(states[i]);
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* Fix the content hash of the segment at off after editing its payload. */
static void rehash(uint8_t *b, uint64_t off)
{
    uint64_t plen = 0;
    for (int i = 7; i >= 0; i--) plen = plen << 8 | b[off + 0x10 + i];
    uint8_t h16[16];
    vl_rvf_content_hash(vl_crc32(0, b + off + 64, (size_t)plen), h16);
    memcpy(b + off + 0x28, h16, 16);
}

int test_store_corruption(void)
{
    uint32_t dim = 4;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 9, ids[64];
    for (uint32_t i = 0; i < 64; i++) ids[i] = i;
    CHECK(do_upsert(s, m, 30, ids, &seed, 1, fids, 1) == VL_OK);
    model *before_last = m_copy(m);
    CHECK(do_upsert(s, m, 10, ids + 30, &seed, 2, fids, 1) == VL_OK);
    vl_store_status st;
    SOK(s, vl_store_info(s, &st));
    uint64_t vec_off = 0, meta_off = 0, meta_len = 0, man_end = st.bytes;
    vl_store_seg g;
    for (uint32_t i = 0; i < st.dir_count; i++) {
        SOK(s, vl_store_dir(s, i, &g));
        if (g.seg_type == VL_RVF_SEG_VEC && !vec_off) vec_off = g.offset;
        if (g.seg_type == VL_RVF_SEG_META) { meta_off = g.offset; meta_len = g.payload_length; }
    }
    CHECK(vec_off && meta_off);
    vl_io *crash = mem_clone(io, UINT64_MAX);      /* the bytes without close's INDEX */
    SOK(s, vl_store_close(s));
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(crash, &n);
    CHECK(n == man_end);
    uint8_t *img = t_alloc((size_t)n);
    char msg[256];
    vl_store *r;

    /* 1. a flipped byte in a committed VEC payload */
    memcpy(img, b, (size_t)n);
    img[vec_off + 64 + 20] ^= 1;
    vl_io *t = mem_dev(img, n);
    CHECK_RC(vl_store_open(t, NULL, 0, NULL, &r, msg, sizeof msg), VL_ECORRUPT);
    vl_io_mem_free(t);

    /* 2. a flipped byte in the META payload */
    memcpy(img, b, (size_t)n);
    img[meta_off + 64 + meta_len / 2] ^= 0x10;
    t = mem_dev(img, n);
    CHECK_RC(vl_store_open(t, NULL, 0, NULL, &r, msg, sizeof msg), VL_ECORRUPT);
    vl_io_mem_free(t);

    /* 3. META edited with a valid CRC: its SHA-256 catches it */
    memcpy(img, b, (size_t)n);
    img[meta_off + 64 + 50] ^= 0x01;
    rehash(img, meta_off);
    t = mem_dev(img, n);
    CHECK_RC(vl_store_open(t, NULL, 0, NULL, &r, msg, sizeof msg), VL_ECORRUPT);
    CHECK(strstr(msg, "SHA-256") != NULL);
    vl_io_mem_free(t);

    /* 4. META from a newer veclite (version 2, digest and CRC valid): refused, named */
    memcpy(img, b, (size_t)n);
    uint8_t *mp = img + meta_off + 64;
    mp[8] = 2;
    vl_sha256(mp, (size_t)meta_len - 32, mp + meta_len - 32);
    rehash(img, meta_off);
    t = mem_dev(img, n);
    CHECK_RC(vl_store_open(t, NULL, 0, NULL, &r, msg, sizeof msg), VL_EVERSION);
    CHECK(strstr(msg, "version 2") != NULL && strstr(msg, "newer veclite") != NULL);
    vl_io_mem_free(t);

    /* 5. damage in the last MANIFEST: the previous commit is the committed state */
    {
        vl_io *q = mem_dev(b, n);
        vl_store *s3;
        OPEN(q, NULL, VL_STORE_READONLY, &s3);
        SOK(s3, vl_store_info(s3, &st));
        SOK(s3, vl_store_close(s3));
        vl_io_mem_free(q);
    }
    memcpy(img, b, (size_t)n);
    img[n - 10] ^= 0xff;                  /* inside the newest manifest payload */
    t = mem_dev(img, n);
    CHECK_RC(vl_store_open(t, NULL, VL_STORE_READONLY, NULL, &r, msg, sizeof msg), VL_OK);
    if (m_check(before_last, r, 1)) return 1;
    vl_store_close(r);
    vl_io_mem_free(t);

    free(img);
    m_free(m);
    m_free(before_last);
    vl_io_mem_free(io);
    vl_io_mem_free(crash);
    return 0;
}

/* A device failure at every append/sync of each kind of commit.
 * mode 0: that call and every later one fail (the rollback's sync too):
 *         outcome UNKNOWN, the file shows the previous or the new state;
 * mode 1: only that call fails, so the rollback succeeds: outcome
 *         NOT_WRITTEN, the device holds exactly its previous bytes and a
 *         reopen shows exactly the previous state ("failed means failed");
 * mode 2: only that call fails and truncate fails too (no rollback):
 *         outcome UNKNOWN, and when the final (manifest) sync is the one
 *         that failed the reopen shows the NEW state: the write the caller
 *         was told failed, which is what the rollback of mode 1 prevents. */
static int write_failures(int mode)
{
    uint32_t dim = 4;
    vl_io *base = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(base, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 1, ids[64];
    for (uint32_t i = 0; i < 64; i++) ids[i] = i + 100;
    CHECK(do_upsert(s, m, 20, ids, &seed, 1, fids, 1) == VL_OK);
    SOK(s, vl_store_close(s));

    /* op 0 upsert, 1 delete, 2 set_meta, 3 checkpoint (after an upsert), 4 clear */
    for (uint32_t op = 0; op < 5; op++) {
        int succeeded = 0, saw_prev = 0, saw_next = 0;
        for (uint32_t k = 0; k < 20 && !succeeded; k++) {
            vl_io *io = mem_clone(base, UINT64_MAX);
            OPEN(io, NULL, 0, &s);
            model *mm = m_copy(m);
            uint64_t seed2 = 77;
            if (op == 3) CHECK(do_upsert(s, mm, 5, ids + 30, &seed2, 5, fids, 1) == VL_OK);
            model *prev = m_copy(mm), *next = m_copy(mm);
            /* the op's data, and the state it leads to */
            uint32_t dim_ = mm->dim;
            float ov[10 * 4];
            uint8_t ometa[10 * 200];
            uint32_t ooff[11];
            for (uint32_t i = 0; i < 10 * dim_; i++) ov[i] = (float)(t_unif(&seed2) * 2 - 1);
            make_meta(ometa, ooff, 10, ids + 15, 2, fids);
            uint8_t rb[32];
            uint32_t rl = t_rec_begin(rb);
            rl = t_rec_bool(rb, rl, (uint16_t)fids[2], 0);
            uint32_t roff[2] = { 0, rl };
            if (op == 0) m_upsert(next, 10, ids + 15, ov, ometa, ooff);
            if (op == 1) m_delete(next, 5, ids);
            if (op == 2) m_set_rec(next, ids[3], rb, rl);
            if (op == 4) for (uint32_t i = 0; i < MAXID; i++) if (next->live[i]) { uint64_t x = i; m_delete(next, 1, &x); }
            uint64_t before_len;
            const uint8_t *bb = vl_io_mem_data(io, &before_len);
            uint8_t *before = malloc((size_t)before_len);
            CHECK(before != NULL);
            memcpy(before, bb, (size_t)before_len);
            if (mode == 0) vl_io_mem_fail_after(io, k + 1);
            else vl_io_mem_fail_once(io, k + 1);
            if (mode == 2) vl_io_mem_fail_truncate(io, 1);
            int rc;
            uint32_t nd;
            if (op == 0) rc = vl_store_upsert(s, 10, ids + 15, ov, ometa, ooff);
            else if (op == 1) rc = vl_store_delete(s, 5, ids, &nd);
            else if (op == 2) rc = vl_store_set_meta(s, 1, ids + 3, rb, roff);
            else if (op == 3) rc = vl_store_checkpoint(s);
            else rc = vl_store_clear(s);
            vl_io_mem_fail_truncate(io, 0);
            if (rc == VL_OK) {
                succeeded = 1;
                vl_io_mem_fail_after(io, 0);
                CHECK(vl_store_write_outcome(s) == VL_OUTCOME_NONE);
                if (m_check(next, s, 0)) return 1;
                SOK(s, vl_store_close(s));
            } else {
                CHECK(rc == VL_EIO);
                int outcome = vl_store_write_outcome(s);
                uint64_t after_len;
                const uint8_t *ab = vl_io_mem_data(io, &after_len);
                if (mode == 1) {
                    CHECK(outcome == VL_OUTCOME_NOT_WRITTEN);
                    CHECK(strstr(vl_store_errmsg(s), "nothing of it is in the file") != NULL);
                    CHECK(after_len == before_len && memcmp(ab, before, (size_t)before_len) == 0);
                } else {
                    CHECK(outcome == VL_OUTCOME_UNKNOWN);
                    CHECK(strstr(vl_store_errmsg(s), "outcome is unknown") != NULL);
                }
                /* poisoned: every later write is VL_EFATAL, info still works */
                SRC(s, vl_store_delete(s, 1, ids, &nd), VL_EFATAL);
                SRC(s, vl_store_checkpoint(s), VL_EFATAL);
                vl_store_status st;
                SOK(s, vl_store_info(s, &st));
                vl_store_close(s);
                /* the device holds the previous commit (plus a torn tail), or,
                 * when only the final sync failed, the complete new one */
                vl_io_mem_fail_after(io, 0);
                vl_store *r;
                vl_io *io2;
                if (reopen(io, UINT64_MAX, 0, &io2, &r)) return 1;
                quiet = 1;
                int is_prev = m_check(prev, r, 0) == 0;
                int is_next = !is_prev && m_check(next, r, 0) == 0;
                quiet = 0;
                if (!is_prev && !is_next) { fprintf(stderr, "op %u fail_after %u: neither state\n", op, k + 1); return 1; }
                if (mode == 1 && !is_prev) {
                    fprintf(stderr, "op %u: failed write %u visible after reopen\n", op, k + 1);
                    return 1;
                }
                saw_prev += is_prev;
                saw_next += is_next;
                /* and it is writable again */
                CHECK(do_upsert(r, is_prev ? prev : next, 3, ids + 50, &seed2, 6, fids, 1) == VL_OK);
                SOK(r, vl_store_close(r));
                vl_io_mem_free(io2);
            }
            free(before);
            m_free(next);
            m_free(prev);
            m_free(mm);
            vl_io_mem_free(io);
        }
        CHECK(succeeded && saw_prev > 0);
        /* without a rollback, a failed final sync leaves the whole commit
         * in the file (this is the bug mode 1 shows fixed) */
        if (mode == 2 && op != 3) CHECK(saw_next > 0);   /* a checkpoint changes no rows */
    }
    m_free(m);
    vl_io_mem_free(base);
    return 0;
}

int test_store_write_failures(void) { return write_failures(0); }

/* issue 6: a read-only store checks the commit it opened. A writer on the
 * same device commits more and then leaves a torn tail: the reader's
 * verify stays ok (it used to report "the file's committed state is not
 * the store's"), and vl_store_check_image accepts the device's first
 * `bytes` bytes but refuses a tampered copy and the writer's newer image. */
int test_store_readonly_verify_image(void)
{
    uint32_t dim = 4;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *w, *r;
    OPEN(io, &c, VL_STORE_CREATE, &w);
    uint32_t fids[5];
    if (register_fields(w, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 3, ids[40];
    for (uint32_t i = 0; i < 40; i++) ids[i] = i + 1;
    CHECK(do_upsert(w, m, 20, ids, &seed, 1, fids, 1) == VL_OK);
    OPEN(io, NULL, VL_STORE_READONLY, &r);
    vl_store_status rs;
    SOK(r, vl_store_info(r, &rs));
    vl_store_verify_result vr;
    SOK(r, vl_store_verify(r, &vr));
    CHECK(vr.ok);
    /* the writer commits while the reader holds the older commit */
    CHECK(do_upsert(w, m, 20, ids + 20, &seed, 2, fids, 1) == VL_OK);
    SOK(r, vl_store_verify(r, &vr));
    if (!vr.ok) { fprintf(stderr, "reader verify after a writer's commit: %s\n", vl_store_problems(r)); return 1; }
    /* ... and leaves a torn tail (a commit in progress) */
    { static const char torn[] = "SFVR\x01\x05 half a manifest"; CHECK(io->append(io->ctx, torn, sizeof torn - 1) == VL_OK); }
    SOK(r, vl_store_verify(r, &vr));
    if (!vr.ok) { fprintf(stderr, "reader verify with a torn tail: %s\n", vl_store_problems(r)); return 1; }
    /* export's check: the reader's image is the device prefix of rs.bytes */
    vl_io *img = mem_clone(io, rs.bytes);
    SOK(r, vl_store_check_image(r, img));
    vl_io_mem_free(img);
    vl_store_status ws;
    SOK(w, vl_store_info(w, &ws));
    img = mem_clone(io, ws.bytes);                      /* the writer's newer image */
    SRC(r, vl_store_check_image(r, img), VL_ECORRUPT);
    SOK(w, vl_store_check_image(w, img));
    vl_io_mem_free(img);
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    uint8_t *t = malloc((size_t)rs.bytes);
    CHECK(t != NULL);
    memcpy(t, b, (size_t)rs.bytes);
    t[rs.bytes - 30] ^= 0x10;                            /* inside the reader's manifest */
    img = mem_dev(t, rs.bytes);
    SRC(r, vl_store_check_image(r, img), VL_ECORRUPT);
    CHECK(strstr(vl_store_errmsg(r), "manifest") != NULL);
    vl_io_mem_free(img);
    free(t);
    /* a writer's own verify is unaffected by a torn tail too */
    SOK(w, vl_store_verify(w, &vr));
    if (!vr.ok) { fprintf(stderr, "writer verify: %s\n", vl_store_problems(w)); return 1; }
    vl_store_close(r);
    SOK(w, vl_store_close(w));
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* issue 6: a write that rejected is never visible after reopen when its
 * rollback succeeded; when the rollback failed the error says so. */
int test_store_failed_means_failed(void) { return write_failures(1) || write_failures(2); }

int test_store_compact(void)
{
    uint32_t dim = 10;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_COSINE, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_COSINE);
    uint64_t seed = 21, ids[1200];
    for (uint32_t i = 0; i < 1200; i++) ids[i] = i;
    for (uint32_t b = 0; b < 6; b++) CHECK(do_upsert(s, m, 200, ids + b * 200, &seed, b, fids, 1) == VL_OK);
    uint32_t nd;
    SOK(s, vl_store_delete(s, 500, ids + 300, &nd));
    CHECK(nd == 500);
    m_delete(m, 500, ids + 300);
    CHECK(do_upsert(s, m, 100, ids + 900, &seed, 7, fids, 1) == VL_OK);
    SOK(s, vl_store_checkpoint(s));
    vl_store_status a, b2;
    SOK(s, vl_store_info(s, &a));

    /* snapshot: a compacted copy; the store stays where it is */
    vl_io *snap = mem_dev(NULL, 0);
    SOK(s, vl_store_snapshot(s, snap));
    SOK(s, vl_store_info(s, &b2));
    CHECK(b2.bytes == a.bytes && b2.epoch == a.epoch);
    CHECK(mem_size(snap) < a.bytes);
    vl_store *r;
    OPEN(snap, NULL, VL_STORE_READONLY, &r);
    SOK(r, vl_store_info(r, &b2));
    CHECK(b2.index_loaded == 1 && b2.rows_inserted_on_open == 0 && b2.deleted == 0);
    if (m_check(m, r, 1)) return 1;
    SOK(r, vl_store_close(r));
    vl_io *nonempty = mem_dev((const uint8_t *)"x", 1);
    SRC(s, vl_store_snapshot(s, nonempty), VL_EINVAL);
    vl_io_mem_free(nonempty);

    /* compact: the store moves to the new device and keeps working */
    vl_io *dst = mem_dev(NULL, 0);
    SOK(s, vl_store_compact(s, dst));
    SOK(s, vl_store_info(s, &b2));
    CHECK(b2.bytes < a.bytes);
    CHECK(b2.bytes == mem_size(dst));
    CHECK(b2.live == a.live && b2.deleted == 0);
    CHECK(b2.epoch == a.epoch + 1);
    CHECK(count_type(s, VL_RVF_SEG_META) == 1 && count_type(s, VL_RVF_SEG_INDEX) == 1);
    vl_stats hs;
    CHECK_RC(vl_index_stats(vl_store_index(s), &hs), VL_OK);
    CHECK(hs.tombstones == 0);                    /* memory follows the compacted graph */
    if (m_check(m, s, 1)) return 1;
    vl_store_verify_result vr;
    SOK(s, vl_store_verify(s, &vr));
    if (!vr.ok) fprintf(stderr, "verify: %s\n", vl_store_problems(s));
    CHECK(vr.ok);
    uint64_t more[50];
    for (uint32_t i = 0; i < 50; i++) more[i] = 3000 + i;
    CHECK(do_upsert(s, m, 50, more, &seed, 8, fids, 1) == VL_OK);
    SOK(s, vl_store_close(s));
    vl_io *io2;
    if (reopen(dst, UINT64_MAX, 0, &io2, &s)) return 1;
    SOK(s, vl_store_info(s, &b2));
    CHECK(b2.index_loaded == 1 && b2.rows_inserted_on_open == 0);
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_close(s));
    m_free(m);
    vl_io_mem_free(io);
    vl_io_mem_free(io2);
    vl_io_mem_free(snap);
    vl_io_mem_free(dst);
    return 0;
}

int test_store_derive_readonly(void)
{
    uint32_t dim = 6;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 4, ids[50];
    for (uint32_t i = 0; i < 50; i++) ids[i] = i;
    CHECK(do_upsert(s, m, 50, ids, &seed, 1, fids, 1) == VL_OK);
    SOK(s, vl_store_file_meta_set(s, "idType", 6, (const uint8_t *)"number", 6));

    /* derive */
    vl_io *cio = mem_dev(NULL, 0);
    static const uint8_t CID[16] = { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1 };
    vl_store *ch;
    SOK(s, vl_store_derive(s, cio, CID, &ch));
    vl_store_status ps, cs;
    SOK(s, vl_store_info(s, &ps));
    SOK(ch, vl_store_info(ch, &cs));
    CHECK(cs.lineage_depth == ps.lineage_depth + 1);
    CHECK(memcmp(cs.parent_id, ps.file_id, 16) == 0);
    CHECK(memcmp(cs.file_id, CID, 16) == 0);
    CHECK(cs.live == 0 && cs.dim == dim && cs.metric == VL_METRIC_L2);
    CHECK(vl_index_field_count(vl_store_index(ch)) == 5);
    model *cm = m_new(dim, VL_METRIC_L2);
    CHECK(do_upsert(ch, cm, 10, ids, &seed, 2, fids, 1) == VL_OK);
    SOK(ch, vl_store_close(ch));
    vl_io *cio2;
    if (reopen(cio, UINT64_MAX, 0, &cio2, &ch)) return 1;
    SOK(ch, vl_store_info(ch, &cs));
    CHECK(cs.lineage_depth == 1 && memcmp(cs.parent_id, ps.file_id, 16) == 0);
    const uint8_t *fv;
    uint32_t fl;
    SOK(ch, vl_store_file_meta_get(ch, "idType", 6, &fv, &fl));
    CHECK(fl == 6 && memcmp(fv, "number", 6) == 0);
    vl_config got;
    CHECK_RC(vl_index_config(vl_store_index(ch), &got), VL_OK);
    CHECK(got.m == 8 && got.ef_construction == 64);
    if (m_check(cm, ch, 1)) return 1;
    SOK(ch, vl_store_close(ch));
    SOK(s, vl_store_close(s));

    /* read-only: every write refused, nothing written on close */
    uint64_t before = mem_size(io);
    OPEN(io, NULL, VL_STORE_READONLY, &s);
    uint32_t nd, fid;
    float v[6] = { 1, 2, 3, 4, 5, 6 };
    SRC(s, vl_store_upsert(s, 1, ids, v, NULL, NULL), VL_EREADONLY);
    SRC(s, vl_store_delete(s, 1, ids, &nd), VL_EREADONLY);
    SRC(s, vl_store_set_meta(s, 1, ids, NULL, NULL), VL_EREADONLY);
    SRC(s, vl_store_clear(s), VL_EREADONLY);
    SRC(s, vl_store_checkpoint(s), VL_EREADONLY);
    SRC(s, vl_store_file_meta_set(s, "k", 1, (const uint8_t *)"v", 1), VL_EREADONLY);
    vl_io *d2 = mem_dev(NULL, 0);
    SRC(s, vl_store_compact(s, d2), VL_EREADONLY);
    vl_io_mem_free(d2);
    SOK(s, vl_store_field(s, "memory-only", 11, &fid));   /* lookups/registration in memory are fine */
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_close(s));
    CHECK(mem_size(io) == before);

    /* clear survives a reopen; names stay */
    OPEN(io, NULL, 0, &s);
    SOK(s, vl_store_clear(s));
    for (uint32_t i = 0; i < 50; i++) { uint64_t x = i; m_delete(m, 1, &x); }
    SOK(s, vl_store_close(s));
    vl_io *io2;
    if (reopen(io, UINT64_MAX, 0, &io2, &s)) return 1;
    if (m_check(m, s, 0)) return 1;
    CHECK(vl_index_field_count(vl_store_index(s)) == 5);
    CHECK(do_upsert(s, m, 5, ids, &seed, 3, fids, 1) == VL_OK);
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_close(s));
    m_free(m);
    m_free(cm);
    vl_io_mem_free(io);
    vl_io_mem_free(io2);
    vl_io_mem_free(cio);
    vl_io_mem_free(cio2);
    return 0;
}

static uint32_t ilog2(uint64_t n)
{
    uint32_t l = 0;
    while (n >>= 1) l++;
    return l;
}

/* Many small metadata commits: the listed META stay few (tiered merges). */
int test_store_meta_chain_bounded(void)
{
    uint32_t dim = 2;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 8, ids[100];
    for (uint32_t i = 0; i < 100; i++) ids[i] = i;
    CHECK(do_upsert(s, m, 100, ids, &seed, 1, fids, 1) == VL_OK);
    uint32_t maxmeta = 0;
    for (uint32_t k = 0; k < 150; k++) {
        uint8_t rb[32];
        uint32_t l = t_rec_begin(rb);
        l = t_rec_f64(rb, l, (uint16_t)fids[1], k * 1.5);
        uint32_t off[2] = { 0, l };
        uint64_t id = ids[k % 100];
        SOK(s, vl_store_set_meta(s, 1, &id, rb, off));
        m_set_rec(m, id, rb, l);
        uint32_t nm = count_type(s, VL_RVF_SEG_META);
        if (nm > maxmeta) maxmeta = nm;
    }
    CHECK(maxmeta <= 2 * ilog2(151) + 4);
    vl_store_status st;
    SOK(s, vl_store_info(s, &st));
    CHECK(st.dir_count < 60);
    SOK(s, vl_store_close(s));
    vl_io *io2;
    if (reopen(io, UINT64_MAX, 0, &io2, &s)) return 1;
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_info(s, &st));
    CHECK(st.meta_generation >= 151);
    SOK(s, vl_store_close(s));
    m_free(m);
    vl_io_mem_free(io);
    vl_io_mem_free(io2);
    return 0;
}

/* The META codec on its own: round trip, every value tag, truncation. */
int test_store_meta_codec(void)
{
    vl_meta_writer w;
    vl_buf out;
    vl__meta_begin(&w, 0, 5, 4);
    vl__meta_schema(&w, 0, "title", 5);
    vl__meta_schema(&w, 1, "n", 1);
    vl__meta_filemeta(&w, (const uint8_t *)"k", 1, (const uint8_t *)"vv", 2);
    uint8_t rec[128];
    uint32_t l = t_rec_begin(rec);
    l = t_rec_str(rec, l, 0, VL_TAG_STR, "hé", 3);
    l = t_rec_i64(rec, l, 1, -5);
    l = t_rec_u64(rec, l, 1, UINT64_MAX);
    l = t_rec_f64(rec, l, 0, 2.5);
    l = t_rec_bool(rec, l, 1, 1);
    l = t_rec_null(rec, l, 0);
    l = t_rec_str(rec, l, 1, VL_TAG_BYTES, "\0\1", 2);
    l = t_rec_str(rec, l, 0, VL_TAG_JSON, "[1,{}]", 6);
    vl__meta_record(&w, UINT64_MAX, VL_META_OP_UPSERT, rec, l);
    vl__meta_record(&w, 3, VL_META_OP_DELETE, NULL, 0);
    CHECK_RC(vl__meta_finish(&w, &out), VL_OK);
    vl__meta_writer_free(&w);
    CHECK(memcmp(out.p, "RVFMETA", 8) == 0);
    CHECK(memcmp(out.p + out.len - 40, "RVFDONE", 8) == 0);
    vl_meta_head hd;
    char why[200];
    CHECK_RC(vl__meta_parse(out.p, out.len, &hd, NULL, why, sizeof why), VL_OK);
    CHECK(hd.version == 1 && hd.flags == 0 && hd.generation == 5 && hd.base == 4);
    CHECK(hd.n_schema == 2 && hd.n_filemeta == 1 && hd.n_records == 2);
    /* every strict prefix, and every single-byte change, is refused */
    for (uint64_t cut = 0; cut < out.len; cut++)
        CHECK(vl__meta_parse(out.p, cut, &hd, NULL, why, sizeof why) != VL_OK);
    for (uint64_t i = 0; i < out.len; i++) {
        out.p[i] ^= 0x40;
        int rc = vl__meta_parse(out.p, out.len, &hd, NULL, why, sizeof why);
        out.p[i] ^= 0x40;
        CHECK(rc != VL_OK);
    }
    vl__buf_free(&out);
    /* unknown flags: version gate */
    vl__meta_begin(&w, 1, 1, 0);
    w.flags = 3;
    CHECK_RC(vl__meta_finish(&w, &out), VL_OK);
    vl__meta_writer_free(&w);
    CHECK_RC(vl__meta_parse(out.p, out.len, &hd, NULL, why, sizeof why), VL_EVERSION);
    vl__buf_free(&out);
    return 0;
}

#ifndef VL_TEST_WASM
static uint8_t *read_file(const char *path, uint64_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = t_alloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}
#endif

/* Files written by @ruvector/rvf-node open as stores: rows, deletes, and
 * its HNSW INDEX (loaded as the graph), with exact top-10 after load.
 * Reads tests/golden/rvf/ natively (the WASM run has no file access). */
int test_store_rvf_node_files(void)
{
#ifndef VL_TEST_WASM
    static const char *files[] = { "small.rvf", "deletes.rvf", "compacted.rvf", "cosine.rvf", "indexed.rvf",
                                   "derived-child.rvf", "torn.rvf" };
    static const uint32_t live[] = { 300, 270, 270, 300, 2000, 10, 10 };
    for (uint32_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256];
        snprintf(path, sizeof path, "tests/golden/rvf/%s", files[f]);
        uint64_t n;
        uint8_t *b = read_file(path, &n);
        if (!b) { fprintf(stderr, "cannot read %s (run from the repository root)\n", path); return 1; }
        vl_io *io = mem_dev(b, n);
        vl_store *s;
        OPEN(io, NULL, VL_STORE_READONLY, &s);
        vl_store_status st;
        SOK(s, vl_store_info(s, &st));
        CHECK(st.live == live[f]);
        if (strcmp(files[f], "indexed.rvf") == 0) {
            if (!st.index_loaded) {
                vl_store_verify_result vr;
                (void)vl_store_verify(s, &vr);
                fprintf(stderr, "indexed.rvf: %s\n", vl_store_problems(s));
            }
            CHECK(st.index_loaded == 1 && st.rows_inserted_on_open == 0);
        }
        /* exact top-10 of the loaded graph vs brute force over the file's rows */
        vl_index *h = vl_store_index(s);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        uint64_t *ids = t_alloc((size_t)st.live * sizeof *ids);
        float *data = t_alloc((size_t)st.live * st.dim * sizeof(float));
        uint32_t got;
        CHECK_RC(vl_index_ids(h, NULL, 0, ids, (uint32_t)st.live, &got), VL_OK);
        CHECK(got == st.live);
        for (uint32_t i = 0; i < got; i++) CHECK_RC(vl_index_get(h, &ids[i], data + (size_t)i * st.dim, NULL, NULL), VL_OK);
        float *q = t_queries(data, got, st.dim, 5, 0.1, 17);
        for (uint32_t qi = 0; qi < 5; qi++) {
            uint64_t r[10];
            float d[10];
            uint32_t cnt;
            CHECK_RC(vl_index_search(h, 1, q + (size_t)qi * st.dim, 10, 400, NULL, 0, r, d, &cnt), VL_OK);
            CHECK(t_match_oracle(st.metric, data, ids, NULL, got, st.dim, q + (size_t)qi * st.dim, 10, r, d, cnt) == 0);
        }
        free(q);
        free(ids);
        free(data);
        SOK(s, vl_store_close(s));
        /* writable: a write and a close keep rvf-node's rows */
        OPEN(io, NULL, 0, &s);
        float v[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
        uint64_t nid = 99999;
        SOK(s, vl_store_upsert(s, 1, &nid, v, NULL, NULL));
        SOK(s, vl_store_close(s));
        vl_io *io2;
        if (reopen(io, UINT64_MAX, VL_STORE_READONLY, &io2, &s)) return 1;
        SOK(s, vl_store_info(s, &st));
        CHECK(st.live == live[f] + 1);
        CHECK_RC(vl_index_contains(vl_store_index(s), &nid), VL_OK);
        SOK(s, vl_store_close(s));
        vl_io_mem_free(io);
        vl_io_mem_free(io2);
        free(b);
    }
#endif
    return 0;
}

/* Hostile META and INDEX payloads (hashes and digests fixed up, so the
 * parsers behind them are reached): open never crashes, and either refuses
 * with a format error or yields a consistent index. */
int test_store_hostile_segments(void)
{
    uint32_t dim = 3;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 13, ids[200];
    for (uint32_t i = 0; i < 200; i++) ids[i] = i * 5;
    CHECK(do_upsert(s, m, 120, ids, &seed, 1, fids, 1) == VL_OK);
    CHECK(do_upsert(s, m, 30, ids + 120, &seed, 2, fids, 1) == VL_OK);
    SOK(s, vl_store_close(s));
    OPEN(io, NULL, VL_STORE_READONLY, &s);
    vl_store_status st;
    SOK(s, vl_store_info(s, &st));
    uint64_t offs[32], lens[32];
    uint32_t types[32], nseg = 0;
    for (uint32_t i = 0; i < st.dir_count && nseg < 32; i++) {
        vl_store_seg g;
        SOK(s, vl_store_dir(s, i, &g));
        if (g.seg_type == VL_RVF_SEG_META || g.seg_type == VL_RVF_SEG_INDEX) {
            offs[nseg] = g.offset; lens[nseg] = g.payload_length; types[nseg++] = g.seg_type;
        }
    }
    SOK(s, vl_store_close(s));
    CHECK(nseg >= 2);
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    uint8_t *img = t_alloc((size_t)n);
    uint64_t rs = 2024;
    uint32_t opened = 0, refused = 0;
    for (uint32_t it = 0; it < 400; it++) {
        memcpy(img, b, (size_t)n);
        uint32_t k = (uint32_t)(t_rand(&rs) % nseg);
        uint8_t *p = img + offs[k] + 64;
        uint32_t flips = 1 + (uint32_t)(t_rand(&rs) % 4);
        for (uint32_t f = 0; f < flips; f++) {
            uint64_t at = t_rand(&rs) % lens[k];
            if (t_rand(&rs) & 1) p[at] ^= (uint8_t)(1u << (t_rand(&rs) % 8));
            else p[at] = (uint8_t)t_rand(&rs);
        }
        if (types[k] == VL_RVF_SEG_META && lens[k] > 32) vl_sha256(p, (size_t)lens[k] - 32, p + lens[k] - 32);
        rehash(img, offs[k]);
        vl_io *t = mem_dev(img, n);
        vl_store *r = NULL;
        char msg[256];
        int rc = vl_store_open(t, NULL, 0, NULL, &r, msg, sizeof msg);
        if (rc == VL_OK) {
            opened++;
            CHECK_RCH(vl_store_index(r), vl_index_check(vl_store_index(r)), VL_OK);
            if (types[k] == VL_RVF_SEG_INDEX && m_check(m, r, 0)) return 1;   /* the graph is only a cache */
            uint64_t nid = 1;
            float v[3] = { 1, 2, 3 };
            SOK(r, vl_store_upsert(r, 1, &nid, v, NULL, NULL));
            vl_store_close(r);
        } else {
            refused++;
            CHECK(rc == VL_ECORRUPT || rc == VL_EVERSION || rc == VL_EBUDGET);
        }
        vl_io_mem_free(t);
    }
    CHECK(opened > 0 && refused > 0);
    free(img);
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* ---- close's INDEX checkpoint rule (store.c "Checkpoint on close") ---- */

/* Offset and payload length of the listed INDEX (0, 0 if none). */
static void index_seg(vl_store *s, uint64_t *off, uint64_t *len)
{
    vl_store_status st;
    *off = *len = 0;
    if (vl_store_info(s, &st)) return;
    for (uint32_t i = 0; i < st.dir_count; i++) {
        vl_store_seg g;
        if (vl_store_dir(s, i, &g) == VL_OK && g.seg_type == VL_RVF_SEG_INDEX) { *off = g.offset; *len = g.payload_length; }
    }
}

/* Live ids with a row in a listed VEC segment after the newest INDEX: the
 * rows an open must insert (read from the file's bytes and the model's live
 * set; a later listed segment holds the winning row, so an id found after
 * the INDEX is uncovered). */
static uint32_t uncovered_in_file(vl_store *s, vl_io *io, const model *m)
{
    vl_store_status st;
    if (vl_store_info(s, &st)) return UINT32_MAX;
    uint64_t ioff, ilen, n;
    index_seg(s, &ioff, &ilen);
    const uint8_t *b = vl_io_mem_data(io, &n);
    uint8_t *seen = t_alloc(MAXID);
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < st.dir_count; i++) {
        vl_store_seg g;
        if (vl_store_dir(s, i, &g) != VL_OK || g.seg_type != VL_RVF_SEG_VEC || g.offset < ioff) continue;
        const uint8_t *p = b + g.offset + 64;
        uint32_t rows = (uint32_t)p[2] | (uint32_t)p[3] << 8 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 24;
        for (uint32_t r = 0; r < rows; r++) {
            const uint8_t *q = p + 6 + (size_t)r * (8 + 4 * m->dim);
            uint64_t id = 0;
            for (int k = 7; k >= 0; k--) id = id << 8 | q[k];
            if (id < MAXID && m->live[id] && !seen[id]) { seen[id] = 1; cnt++; }
        }
    }
    free(seen);
    return cnt;
}

/* Many one-row sessions on a large store: close writes an INDEX only when
 * the rows it would not cover reach 1/32 of the live rows, not every time;
 * every reopen loads the graph, inserts exactly the uncovered rows (counted
 * from the file's bytes, and equal to the rows the test upserted since the
 * newest INDEX and did not delete: tier merges do not move covered rows)
 * and answers like brute force. The directory stays small although merges
 * stop at the INDEX (the checkpoint commit merges the tiers). */
int test_store_close_checkpoint_policy(void)
{
    const uint32_t dim = 8, N = 1200;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    model *m = m_new(dim, VL_METRIC_L2);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    uint64_t seed = 77, *ids = t_alloc(N * sizeof *ids);
    for (uint32_t i = 0; i < N; i++) ids[i] = i;
    CHECK(do_upsert(s, m, N, ids, &seed, 1, fids, 1) == VL_OK);
    SOK(s, vl_store_close(s));                  /* nothing covered yet: checkpoint */
    OPEN(io, NULL, 0, &s);
    vl_store_status st;
    SOK(s, vl_store_info(s, &st));
    CHECK(st.index_loaded == 1 && st.rows_inserted_on_open == 0);
    uint64_t ioff, ilen;
    index_seg(s, &ioff, &ilen);
    CHECK(ioff > 0 && ilen > 4096);
    SOK(s, vl_store_close(s));                  /* nothing changed: no commit at all */
    CHECK(mem_size(io) == st.bytes);

    uint8_t uncov[MAXID];                       /* live ids whose row is after the newest INDEX */
    memset(uncov, 0, sizeof uncov);
    uint32_t sessions = 0, checkpoints = 0, skipped = 0, next_new = N;
    for (uint32_t k = 0; k < 100; k++) {
        OPEN(io, NULL, 0, &s);
        SOK(s, vl_store_info(s, &st));
        uint32_t nunc = 0, fileunc = uncovered_in_file(s, io, m);
        for (uint32_t i = 0; i < MAXID; i++) nunc += uncov[i];
        /* tier merges never move rows the INDEX covers (rvf_commit.c "INDEX coverage"):
         * what an open inserts is exactly what was written since the INDEX */
        if (st.index_loaded != 1 || st.rows_inserted_on_open != fileunc || fileunc != nunc) {
            fprintf(stderr, "session %u: index_loaded %u, inserted %llu, uncovered rows %u (written since the "
                    "INDEX %u)\n", k, st.index_loaded, (unsigned long long)st.rows_inserted_on_open, fileunc, nunc);
            return 1;
        }
        if (k % 10 == 0 && m_check(m, s, 1)) { fprintf(stderr, "session %u\n", k); return 1; }
        /* one row: mostly a new id, every 4th a new vector for an old (covered) id */
        uint64_t id = k % 4 == 3 ? (uint64_t)(k * 37 % N) : next_new++;
        CHECK(do_upsert(s, m, 1, &id, &seed, 10 + k, fids, 1) == VL_OK);
        uncov[id] = 1;
        if (k % 7 == 6) {                       /* and sometimes a delete (never counts) */
            uint64_t victim = k % 2 ? id : (uint64_t)(k * 11 % N);
            uint32_t nd;
            SOK(s, vl_store_delete(s, 1, &victim, &nd));
            CHECK(nd == 1 || (victim != id && !m->live[victim]));
            m_delete(m, 1, &victim);
            uncov[victim] = 0;
        }
        uint64_t before = mem_size(io);
        nunc = uncovered_in_file(s, io, m);
        uint32_t live = m_count(m);
        int due = nunc > 0 && ((uint64_t)nunc * 32 >= live || nunc >= 2048);
        SOK(s, vl_store_close(s));
        sessions++;
        /* the same store, read-only: is the newest INDEX a new one? */
        vl_store *r;
        OPEN(io, NULL, VL_STORE_READONLY, &r);
        uint64_t noff, nlen;
        index_seg(r, &noff, &nlen);
        SOK(r, vl_store_close(r));
        if ((noff != ioff) != due) {
            fprintf(stderr, "session %u: %u of %u rows uncovered, checkpoint expected %d, INDEX at %llu (was %llu)\n",
                    k, nunc, live, due, (unsigned long long)noff, (unsigned long long)ioff);
            return 1;
        }
        if (due) {
            checkpoints++;
            memset(uncov, 0, sizeof uncov);
            ioff = noff;
            ilen = nlen;
        } else {
            skipped++;
            CHECK(mem_size(io) == before);       /* close committed nothing */
        }
        OPEN(io, NULL, VL_STORE_READONLY, &r);
        SOK(r, vl_store_info(r, &st));
        /* VEC tiers: a binary counter before the INDEX (merged by the checkpoint)
         * and one after it: <= log2(live) + 1 + log2(live / 32) + 1 */
        CHECK(count_type(r, VL_RVF_SEG_VEC) <= 18);
        SOK(r, vl_store_close(r));
    }
    printf("  %u sessions: %u INDEX checkpoints on close, %u closes without one\n", sessions, checkpoints, skipped);
    /* 1/32 of ~1230 live rows: a checkpoint about every 39 one-row sessions */
    CHECK(sessions == 100 && checkpoints >= 2 && checkpoints <= 4 && skipped >= 90);
    /* the explicit checkpoint still writes whenever the graph changed */
    OPEN(io, NULL, 0, &s);
    uint64_t id = next_new++;
    CHECK(do_upsert(s, m, 1, &id, &seed, 999, fids, 1) == VL_OK);
    SOK(s, vl_store_checkpoint(s));
    uint64_t noff, nlen;
    index_seg(s, &noff, &nlen);
    CHECK(noff > ioff);
    SOK(s, vl_store_close(s));
    OPEN(io, NULL, VL_STORE_READONLY, &s);
    SOK(s, vl_store_info(s, &st));
    CHECK(st.index_loaded == 1 && st.rows_inserted_on_open == 0);
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_close(s));
    free(ids);
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* An INDEX whose rows later leave the file (every row of a VEC segment
 * deleted: the segment and its ids are dropped, so the file loads fewer
 * rows than the INDEX has nodes) is still used: its dead nodes are removed
 * and their neighbours re-linked, results stay exact. */
int test_store_index_outlives_rows(void)
{
    const uint32_t dim = 6;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    model *m = m_new(dim, VL_METRIC_L2);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    uint64_t seed = 9, ids[400];
    for (uint32_t i = 0; i < 400; i++) ids[i] = i;
    CHECK(do_upsert(s, m, 300, ids, &seed, 1, fids, 1) == VL_OK);
    CHECK(do_upsert(s, m, 100, ids + 300, &seed, 2, fids, 1) == VL_OK);
    SOK(s, vl_store_checkpoint(s));
    vl_store_status st;
    SOK(s, vl_store_info(s, &st));
    uint64_t loaded0 = st.loaded;
    /* delete every row of the second batch (and a few of the first) */
    uint32_t nd;
    SOK(s, vl_store_delete(s, 100, ids + 300, &nd));
    CHECK(nd == 100);
    m_delete(m, 100, ids + 300);
    SOK(s, vl_store_delete(s, 5, ids, &nd));
    m_delete(m, 5, ids);
    SOK(s, vl_store_info(s, &st));
    CHECK(st.loaded < loaded0);                  /* the INDEX now has more nodes than the file rows */
    SOK(s, vl_store_close(s));                   /* deletes only: no checkpoint on close */
    OPEN(io, NULL, 0, &s);
    SOK(s, vl_store_info(s, &st));
    CHECK(st.index_loaded == 1 && st.rows_inserted_on_open == 0);
    if (m_check(m, s, 1)) return 1;
    vl_store_verify_result vr;
    SOK(s, vl_store_verify(s, &vr));
    if (!vr.ok) fprintf(stderr, "verify: %s\n", vl_store_problems(s));
    CHECK(vr.ok);
    SOK(s, vl_store_close(s));
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* ======================================================================
 * Tiered META merge (store.c "META policy")
 * ====================================================================== */

/* Walk every segment of the file (back to back from 0): META payload bytes
 * written, and how many META deltas in the file span more than one
 * generation (merged deltas). */
static void file_meta_stats(vl_io *io, uint64_t *meta_bytes, uint32_t *merged)
{
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    *meta_bytes = 0;
    *merged = 0;
    for (uint64_t o = 0; o + 64 <= n;) {
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--) len = len << 8 | b[o + 16 + i];
        if (len > n - o - 64) break;
        if (b[o + 5] == VL_RVF_SEG_META) {
            *meta_bytes += len;
            vl_meta_head hd;
            char why[200];
            if (vl__meta_parse(b + o + 64, len, &hd, NULL, why, sizeof why) == VL_OK &&
                !(hd.flags & VL_META_F_SNAPSHOT) && hd.generation > hd.base + 1)
                (*merged)++;
        }
        o += 64 + len;
    }
}

/* n single-row commits, each with a "$id"-like string (what the JS layer
 * writes for string ids): META bytes written grow O(n log n), the listed
 * META segments stay <= 2 log2(n) + 4, and the file reloads exactly. */
int test_store_meta_tiered_growth(void)
{
    uint32_t dim = 4, n = 4000;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_FLAT);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t meta_at_1000 = 0, total_at_1000 = 0, rec_bytes = 0;
    uint32_t maxlisted = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id = i;
        float v[4] = { (float)i + 1, 1, 2, 3 };
        uint8_t rb[64];
        char txt[32];
        int tl = snprintf(txt, sizeof txt, "doc-%u", i);
        uint32_t l = t_rec_str(rb, t_rec_begin(rb), (uint16_t)fids[4], VL_TAG_STR, txt, (uint32_t)tl);
        uint32_t off[2] = { 0, l };
        SOK(s, vl_store_upsert(s, 1, &id, v, rb, off));
        m_upsert(m, 1, &id, v, rb, off);
        rec_bytes += 13 + (l - 2);           /* the record as META stores it */
        uint32_t nm = count_type(s, VL_RVF_SEG_META);
        if (nm > maxlisted) maxlisted = nm;
        if (nm > 2 * ilog2(i + 1) + 4) {
            fprintf(stderr, "after %u commits %u META segments are listed\n", i + 1, nm);
            return 1;
        }
        if (i + 1 == 1000) {
            uint32_t mg;
            file_meta_stats(io, &meta_at_1000, &mg);
            total_at_1000 = mem_size(io);
        }
    }
    uint64_t meta_bytes, total = mem_size(io);
    uint32_t merged;
    file_meta_stats(io, &meta_bytes, &merged);
    uint64_t row = 8 + 4 * (uint64_t)dim;
    fprintf(stderr, "  %u single-row commits: %llu bytes (%llu at 1000), META written %llu (%llu at "
            "1000), %u merged deltas, <= %u META listed\n", n, (unsigned long long)total,
            (unsigned long long)total_at_1000, (unsigned long long)meta_bytes,
            (unsigned long long)meta_at_1000, merged, maxlisted);
    CHECK(merged > 0);
    /* O(n log n): 4x the commits write at most 6x the META bytes (n^2 would be 16x) */
    CHECK(meta_bytes <= 6 * meta_at_1000);
    CHECK(total <= 40ull * n * (row + rec_bytes / n));
    SOK(s, vl_store_close(s));
    vl_io *io2;
    if (reopen(io, UINT64_MAX, 0, &io2, &s)) return 1;
    if (m_check(m, s, 0)) return 1;
    SOK(s, vl_store_close(s));
    m_free(m);
    vl_io_mem_free(io);
    vl_io_mem_free(io2);
    return 0;
}

/* Random upserts (with and without metadata), set_meta, deletes, clears
 * and file-metadata writes, mostly single rows so the deltas merge, with
 * reopens at random points: the reloaded store always equals the model. */
int test_store_meta_tiered_model(void)
{
    uint32_t dim = 3;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint8_t fmv[8];                   /* file metadata "k0".."k7": value byte, 0 = absent */
    memset(fmv, 0, sizeof fmv);
    uint64_t seed = 77;
    uint32_t reopens = 0, maxlisted = 0;
    for (uint32_t op = 0; op < 1500; op++) {
        uint64_t r = t_rand(&seed) % 100;
        uint64_t ids[4];
        uint32_t k = 1 + (t_rand(&seed) % 8 == 0 ? (uint32_t)(t_rand(&seed) % 4) : 0);
        for (uint32_t i = 0; i < k; i++) ids[i] = t_rand(&seed) % 200;
        if (r < 45) {
            CHECK(do_upsert(s, m, k, ids, &seed, (uint32_t)op, fids, r < 40) == VL_OK);
        } else if (r < 65) {
            uint32_t live = 0;
            for (uint32_t i = 0; i < k; i++) live += m->live[ids[i]];
            if (live < k) continue;
            uint8_t buf[4 * 200 + 16];
            uint32_t off[5];
            make_meta(buf, off, k, ids, (uint32_t)op * 3, fids);
            SOK(s, vl_store_set_meta(s, k, ids, buf, off));
            for (uint32_t i = 0; i < k; i++) m_set_rec(m, ids[i], buf + off[i], off[i + 1] - off[i]);
        } else if (r < 88) {
            uint32_t nd;
            SOK(s, vl_store_delete(s, k, ids, &nd));
            m_delete(m, k, ids);
        } else if (r < 97) {
            uint32_t key = (uint32_t)(t_rand(&seed) % 8);
            uint8_t val = (uint8_t)(t_rand(&seed) % 4);      /* 0 removes */
            char kn[4] = { 'k', (char)('0' + key), 0, 0 };
            SOK(s, vl_store_file_meta_set(s, kn, 2, &val, val ? 1 : 0));
            fmv[key] = val;
        } else if (r < 98) {
            SOK(s, vl_store_clear(s));
            for (uint64_t id = 0; id < 200; id++) if (m->live[id]) m_delete(m, 1, &id);
        }
        uint32_t nm = count_type(s, VL_RVF_SEG_META);
        if (nm > maxlisted) maxlisted = nm;
        if (t_rand(&seed) % 60 == 0 || op == 1499) {
            SOK(s, vl_store_close(s));
            reopens++;
            OPEN(io, NULL, 0, &s);
            if (m_check(m, s, 0)) { fprintf(stderr, "after op %u (reopen %u)\n", op, reopens); return 1; }
            for (uint32_t key = 0; key < 8; key++) {
                char kn[3] = { 'k', (char)('0' + key), 0 };
                const uint8_t *v;
                uint32_t vl;
                int rc = vl_store_file_meta_get(s, kn, 2, &v, &vl);
                CHECK(fmv[key] ? rc == VL_OK && vl == 1 && v[0] == fmv[key] : rc == VL_ENOTFOUND);
            }
        }
    }
    uint64_t mb;
    uint32_t merged;
    file_meta_stats(io, &mb, &merged);
    fprintf(stderr, "  1500 ops, %u reopens, %u merged deltas, <= %u META listed\n", reopens, merged, maxlisted);
    CHECK(reopens > 5 && merged > 10);
    CHECK(maxlisted <= 2 * ilog2(1500) + 4);
    SOK(s, vl_store_close(s));
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* A small file of single-row metadata commits whose deltas merge: cut at
 * every offset, it opens as exactly the last commit wholly before the cut. */
int test_store_meta_tiered_truncate(void)
{
    uint32_t dim = 2;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_FLAT);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    enum { NS = 40 };
    model *states[NS];
    uint64_t ends[NS];
    uint32_t ns = 0;
    model *m = m_new(dim, VL_METRIC_L2);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    uint64_t seed = 3;
    /* enough metadata that the base snapshot stays large next to the deltas */
    uint64_t ids[24];
    for (uint32_t i = 0; i < 24; i++) ids[i] = 100 + i;
    CHECK(do_upsert(s, m, 24, ids, &seed, 1, fids, 1) == VL_OK);
    states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    for (uint32_t op = 0; ns < NS; op++) {
        uint64_t id = op % 5 == 4 ? 100 + op % 24 : op % 9;
        if (op % 7 == 3) {
            uint32_t nd;
            SOK(s, vl_store_delete(s, 1, &id, &nd));
            m_delete(m, 1, &id);
        } else if (op % 7 == 5 && m->live[id]) {
            uint8_t rb[32];
            uint32_t l = t_rec_f64(rb, t_rec_begin(rb), (uint16_t)fids[1], op * 0.5);
            uint32_t off[2] = { 0, l };
            SOK(s, vl_store_set_meta(s, 1, &id, rb, off));
            m_set_rec(m, id, rb, l);
        } else {
            CHECK(do_upsert(s, m, 1, &id, &seed, op, fids, op % 6 != 1) == VL_OK);
        }
        states[ns] = m_copy(m); ends[ns++] = mem_size(io);
    }
    SOK(s, vl_store_close(s));
    uint64_t mb;
    uint32_t merged;
    file_meta_stats(io, &mb, &merged);
    CHECK(merged >= 3);
    uint64_t total = mem_size(io);
    for (uint64_t cut = ends[0]; cut <= total; cut++) {
        vl_io *t = mem_clone(io, cut);
        vl_store *r = NULL;
        char msg[256];
        int rc = vl_store_open(t, NULL, VL_STORE_READONLY, NULL, &r, msg, sizeof msg);
        if (rc != VL_OK) {
            fprintf(stderr, "cut %llu of %llu: %s: %s\n", (unsigned long long)cut, (unsigned long long)total,
                    vl_errstr(rc), msg);
            return 1;
        }
        uint32_t k = 0;
        while (k + 1 < ns && ends[k + 1] <= cut) k++;
        if (m_check(states[k], r, 0)) {
            fprintf(stderr, "cut %llu: state differs from commit %u\n", (unsigned long long)cut, k);
            return 1;
        }
        vl_store_close(r);
        vl_io_mem_free(t);
    }
    for (uint32_t i = 0; i < ns; i++) m_free(states[i]);
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* A dimension-0 file: the first MANIFEST of a fresh rvf-level store with
 * its dimension patched to 0 (rvf-node writes this shape with
 * derive(path, {dimension: 0}); tests/golden/rvf/dim0-empty.rvf). */
static vl_io *dim0_dev(void)
{
    vl_io *io = mem_dev(NULL, 0);
    vl_rvf *h = NULL;
    if (!io || vl_rvf_create(io, 3, VL_METRIC_L2, FID, &h, NULL, 0) != VL_OK) return NULL;
    vl_rvf_free(h);
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    uint8_t *img = t_alloc((size_t)n);
    memcpy(img, b, (size_t)n);
    vl_io_mem_free(io);
    img[64 + 4] = 0;            /* MANIFEST payload: u32 epoch | u16 dim */
    img[64 + 5] = 0;
    rehash(img, 0);
    io = mem_dev(img, n);
    free(img);
    return io;
}

/* Dimension-0 stores open empty (dim 0), answer reads with nothing, take
 * their dimension from vl_store_set_dim before the first upsert; the
 * commit makes it durable; wrong dimensions after that are VL_EINVAL.
 * Inconsistent dim-0 files (vectors listed) stay VL_ECORRUPT (rvf level:
 * test_rvf_hostile case 5, tests/golden/corrupt/ecorrupt-dim-zero.rvf). */
int test_store_dim_zero(void)
{
    vl_io *io = dim0_dev();
    CHECK(io != NULL);
    vl_store *s;
    vl_store_status st;
    /* read-only: empty, dimension 0, nothing to write */
    OPEN(io, NULL, VL_STORE_READONLY, &s);
    SOK(s, vl_store_info(s, &st));
    CHECK(st.dim == 0 && st.live == 0 && st.loaded == 0);
    CHECK(vl_index_count(vl_store_index(s)) == 0);
    SRC(s, vl_store_set_dim(s, 4), VL_EREADONLY);
    SOK(s, vl_store_close(s));
    /* a configuration with a dimension is not a mismatch for an unset one */
    vl_config c4 = cfg_of(4, VL_METRIC_L2, VL_INDEX_HNSW);
    OPEN(io, &c4, 0, &s);
    SOK(s, vl_store_close(s));

    /* writable: the first insert fixes the dimension */
    OPEN(io, NULL, 0, &s);
    SRC(s, vl_store_set_dim(s, 0), VL_EINVAL);
    SRC(s, vl_store_set_dim(s, VL_MAX_DIM + 1), VL_EINVAL);
    SOK(s, vl_store_set_dim(s, 4));
    SOK(s, vl_store_set_dim(s, 4));                  /* same dimension: no-op */
    SRC(s, vl_store_set_dim(s, 5), VL_EINVAL);       /* another one: refused */
    uint64_t ids[2] = { 7, 8 };
    float v[8] = { 1, 0, 0, 0, 0, 1, 0, 0 };
    SOK(s, vl_store_upsert(s, 2, ids, v, NULL, NULL));
    SOK(s, vl_store_info(s, &st));
    CHECK(st.dim == 4 && st.live == 2);
    SOK(s, vl_store_close(s));
    vl_io *io2;
    if (reopen(io, UINT64_MAX, 0, &io2, &s)) return 1;
    SOK(s, vl_store_info(s, &st));
    CHECK(st.dim == 4 && st.live == 2);
    SRC(s, vl_store_set_dim(s, 3), VL_EINVAL);       /* wrong dimension after the first insert */
    SOK(s, vl_store_set_dim(s, 4));
    float got[4];
    CHECK_RC(vl_index_get(vl_store_index(s), &ids[1], got, NULL, NULL), VL_OK);
    CHECK(got[0] == 0 && got[1] == 1);
    SOK(s, vl_store_close(s));
    vl_io_mem_free(io2);
    vl_io_mem_free(io);

    /* compaction of a still-empty dimension-0 store reopens as one */
    io = dim0_dev();
    CHECK(io != NULL);
    OPEN(io, NULL, 0, &s);
    vl_io *dst = mem_dev(NULL, 0);
    SOK(s, vl_store_compact(s, dst));
    SOK(s, vl_store_close(s));
    OPEN(dst, NULL, VL_STORE_READONLY, &s);
    SOK(s, vl_store_info(s, &st));
    CHECK(st.dim == 0 && st.live == 0);
    SOK(s, vl_store_close(s));
    vl_io_mem_free(dst);
    vl_io_mem_free(io);
    return 0;
}

/* ---- vl_store_refresh: a read-only handle follows the writer ---- */

/* Copy src's bytes [from, to) to the end of dst (the writer's appends, as a
 * reader's device sees them). */
static void mem_copy_range(vl_io *dst, vl_io *src, uint64_t from, uint64_t to)
{
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(src, &n);
    if (to > n) to = n;
    if (from < to) (void)dst->append(dst->ctx, b + from, (uint32_t)(to - from));
}

static int refresh_is(vl_store *r, uint32_t want, vl_store_refresh_result *res)
{
    SOK(r, vl_store_refresh(r, res));
    if (res->status != want) fprintf(stderr, "refresh status %u, want %u\n", res->status, want);
    CHECK(res->status == want);
    return 0;
}

int test_store_refresh(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        uint32_t dim = 10;
        vl_io *io = mem_dev(NULL, 0);
        vl_config c = cfg_of(dim, VL_METRIC_COSINE, kind ? VL_INDEX_HNSW : VL_INDEX_FLAT);
        vl_store *w, *r;
        OPEN(io, &c, VL_STORE_CREATE, &w);
        uint32_t fids[5];
        if (register_fields(w, fids)) return 1;
        model *m = m_new(dim, VL_METRIC_COSINE);
        uint64_t seed = 77 + kind, ids[1000];
        for (uint32_t i = 0; i < 1000; i++) ids[i] = i;
        CHECK(do_upsert(w, m, 200, ids, &seed, 1, fids, 1) == VL_OK);
        OPEN(io, NULL, VL_STORE_READONLY, &r);
        vl_store_refresh_result res;
        if (refresh_is(r, VL_REFRESH_UNCHANGED, &res)) return 1;
        if (m_check(m, r, 1)) return 1;

        /* new rows, updates, deletes, re-inserts, metadata-only changes */
        CHECK(do_upsert(w, m, 100, ids + 200, &seed, 2, fids, 1) == VL_OK);
        CHECK(do_upsert(w, m, 50, ids + 20, &seed, 3, fids, 0) == VL_OK);
        uint32_t nd;
        SOK(w, vl_store_delete(w, 60, ids + 100, &nd));
        m_delete(m, 60, ids + 100);
        CHECK(do_upsert(w, m, 20, ids + 100, &seed, 4, fids, 1) == VL_OK);
        uint8_t rb[64];
        uint32_t roff[2] = { 0, 0 };
        roff[1] = t_rec_begin(rb);
        roff[1] = t_rec_i64(rb, roff[1], (uint16_t)fids[1], 42);
        SOK(w, vl_store_set_meta(w, 1, ids + 5, rb, roff));
        m_set_rec(m, 5, rb, roff[1]);
        vl_store_status before;
        SOK(r, vl_store_info(r, &before));
        if (refresh_is(r, VL_REFRESH_APPLIED, &res)) return 1;
        CHECK(res.added >= 170 && res.deleted == 40);
        uint64_t got[8];
        CHECK(vl_store_refresh_ids(r, 1, got, 8) == 40u);
        if (m_check(m, r, 1)) return 1;
        if (refresh_is(r, VL_REFRESH_UNCHANGED, &res)) return 1;
        vl_store *fresh;                             /* the oracle: a fresh read-only open */
        OPEN(io, NULL, VL_STORE_READONLY, &fresh);
        if (m_check(m, fresh, 1)) return 1;
        SOK(fresh, vl_store_close(fresh));

        /* many small commits (tiered merges of VEC and META) */
        for (uint32_t b = 0; b < 12; b++) {
            CHECK(do_upsert(w, m, 5, ids + 300 + 5 * b, &seed, 10 + b, fids, 1) == VL_OK);
            if (b % 3 == 0 && refresh_is(r, VL_REFRESH_APPLIED, &res)) return 1;
        }
        SOK(r, vl_store_refresh(r, &res));
        CHECK(res.status != VL_REFRESH_UNCHANGED);
        if (m_check(m, r, 1)) return 1;

        /* a second reader on a copy: a torn commit is ignored, then followed */
        vl_io *io2 = mem_clone(io, UINT64_MAX);
        vl_store *r2;
        OPEN(io2, NULL, VL_STORE_READONLY, &r2);
        uint64_t at = mem_size(io);
        CHECK(do_upsert(w, m, 30, ids + 400, &seed, 30, fids, 1) == VL_OK);
        uint64_t end = mem_size(io);
        mem_copy_range(io2, io, at, end - 10);       /* the manifest is torn */
        if (refresh_is(r2, VL_REFRESH_UNCHANGED, &res)) return 1;
        CHECK(mem_size(io2) == end - 10);             /* a reader never cuts */
        static const uint8_t junk[80] = { 0x53, 0x46, 0x56, 0x52, 1, 5 };   /* a forged MANIFEST header */
        vl_io *io3 = mem_clone(io2, UINT64_MAX);
        (void)io3->append(io3->ctx, junk, sizeof junk);
        vl_store *r3;
        OPEN(io3, NULL, VL_STORE_READONLY, &r3);
        if (refresh_is(r3, VL_REFRESH_UNCHANGED, &res)) return 1;
        SOK(r3, vl_store_close(r3));
        vl_io_mem_free(io3);
        mem_copy_range(io2, io, end - 10, end);
        if (refresh_is(r2, VL_REFRESH_APPLIED, &res)) return 1;
        if (m_check(m, r2, 1)) return 1;

        /* a damaged new segment: ECORRUPT, the reader stays at its commit */
        vl_io *io4 = mem_clone(io, UINT64_MAX);
        vl_store *r4;
        OPEN(io4, NULL, VL_STORE_READONLY, &r4);
        vl_store_status s4a, s4b;
        SOK(r4, vl_store_info(r4, &s4a));
        uint64_t at4 = mem_size(io);
        CHECK(do_upsert(w, m, 10, ids + 500, &seed, 40, fids, 0) == VL_OK);
        uint64_t n4;
        const uint8_t *b4 = vl_io_mem_data(io, &n4);
        uint8_t *cp = t_alloc((size_t)(n4 - at4));
        memcpy(cp, b4 + at4, (size_t)(n4 - at4));
        cp[64 + 20] ^= 0x40;                         /* a byte of the first new VEC row */
        (void)io4->append(io4->ctx, cp, (uint32_t)(n4 - at4));
        free(cp);
        SRC(r4, vl_store_refresh(r4, &res), VL_ECORRUPT);
        SOK(r4, vl_store_info(r4, &s4b));
        CHECK(s4b.epoch == s4a.epoch && s4b.live == s4a.live);
        SOK(r4, vl_store_close(r4));
        vl_io_mem_free(io4);

        /* the writer compacts (the file is replaced): the reader reloads */
        vl_io *dst = mem_dev(NULL, 0);
        SOK(w, vl_store_compact(w, dst));
        uint64_t dn;
        const uint8_t *db = vl_io_mem_data(dst, &dn);
        CHECK(io->truncate(io->ctx, 0) == VL_OK);
        CHECK(io->append(io->ctx, db, (uint32_t)dn) == VL_OK);
        if (refresh_is(r, VL_REFRESH_RELOADED, &res)) return 1;
        if (m_check(m, r, 1)) return 1;
        at = mem_size(dst);
        CHECK(do_upsert(w, m, 40, ids + 600, &seed, 50, fids, 1) == VL_OK);
        SOK(w, vl_store_delete(w, 10, ids + 600, &nd));
        m_delete(m, 10, ids + 600);
        mem_copy_range(io, dst, at, mem_size(dst));
        if (refresh_is(r, VL_REFRESH_APPLIED, &res)) return 1;
        if (m_check(m, r, 1)) return 1;

        /* a writable handle is always current */
        if (refresh_is(w, VL_REFRESH_UNCHANGED, &res)) return 1;
        SOK(w, vl_store_close(w));
        SOK(r, vl_store_close(r));
        SOK(r2, vl_store_close(r2));
        vl_io_mem_free(io2);
        vl_io_mem_free(dst);
        vl_io_mem_free(io);
        m_free(m);
    }
    return 0;
}

/* Ownership across a rebuild of the in-memory index (veclite.h
 * vl_store_index, vl_store_compact): a pointer taken from vl_store_index
 * before vl_store_compact, or before a vl_store_refresh that reloads, is
 * the same handle afterwards and reads the new index (ASan would flag a
 * freed one). */
int test_store_index_handle_stable(void)
{
    uint32_t dim = 8;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *w, *r;
    OPEN(io, &c, VL_STORE_CREATE, &w);
    uint32_t fids[5];
    if (register_fields(w, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 5, ids[600];
    for (uint32_t i = 0; i < 600; i++) ids[i] = i;
    CHECK(do_upsert(w, m, 600, ids, &seed, 1, fids, 1) == VL_OK);
    uint32_t nd;
    SOK(w, vl_store_delete(w, 200, ids + 100, &nd));
    m_delete(m, 200, ids + 100);
    OPEN(io, NULL, VL_STORE_READONLY, &r);
    vl_index *hw = vl_store_index(w), *hr = vl_store_index(r);
    vl_stats st;
    CHECK_RC(vl_index_stats(hw, &st), VL_OK);
    CHECK(st.tombstones > 0);

    /* compact: the writer's index is rebuilt from the compacted graph into the same handle */
    vl_io *dst = mem_dev(NULL, 0);
    SOK(w, vl_store_compact(w, dst));
    CHECK(vl_store_index(w) == hw);
    CHECK_RC(vl_index_stats(hw, &st), VL_OK);
    CHECK(st.tombstones == 0);                    /* hw reads the new index */
    CHECK(vl_index_count(hw) == 400);
    CHECK_RC(vl_index_check(hw), VL_OK);
    if (m_check(m, w, 1)) return 1;

    /* the file is replaced by the compacted image: the reader reloads into the same handle */
    uint64_t dn;
    const uint8_t *db = vl_io_mem_data(dst, &dn);
    CHECK(io->truncate(io->ctx, 0) == VL_OK);
    CHECK(io->append(io->ctx, db, (uint32_t)dn) == VL_OK);
    vl_store_refresh_result res;
    if (refresh_is(r, VL_REFRESH_RELOADED, &res)) return 1;
    CHECK(vl_store_index(r) == hr);
    CHECK_RC(vl_index_check(hr), VL_OK);
    CHECK(vl_index_count(hr) == 400);
    if (m_check(m, r, 1)) return 1;

    /* later writes keep going through the same handle */
    CHECK(do_upsert(w, m, 50, ids + 100, &seed, 2, fids, 1) == VL_OK);
    CHECK(vl_store_index(w) == hw && vl_index_count(hw) == 450);
    if (m_check(m, w, 1)) return 1;
    SOK(r, vl_store_close(r));
    SOK(w, vl_store_close(w));
    m_free(m);
    vl_io_mem_free(dst);
    vl_io_mem_free(io);
    return 0;
}

/* Attack (atk3): vl_store_compact with an allocation failure at every point.
 * Each outcome is whole: VL_OK (the store and a reopen of dst hold the state),
 * VL_ENOMEM (VL_EIO: dst could not grow) with the store as it was (still on
 * its device, same state, writable), or a
 * failure after the store moved (nr's per-id tables built once the old
 * handle is freed, vl_rvf_index_rows): then compact returns VL_EFATAL, the
 * store is poisoned (refuses writes with VL_EFATAL), dst is a complete compacted file holding the
 * state, and closing the store is clean (ASan). */
int test_store_compact_nomem(void)
{
    uint32_t dim = 6;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    uint64_t seed = 5, ids[300], nd32[1];
    for (uint32_t i = 0; i < 300; i++) ids[i] = i * 3;
    for (uint32_t b = 0; b < 3; b++) CHECK(do_upsert(s, m, 100, ids + b * 100, &seed, b, fids, 1) == VL_OK);
    uint32_t nd;
    SOK(s, vl_store_delete(s, 40, ids + 20, &nd));
    m_delete(m, 40, ids + 20);
    SOK(s, vl_store_close(s));
    uint64_t size;
    const uint8_t *bytes = vl_io_mem_data(io, &size);
    (void)nd32;
    int ok = 0, nomem = 0, poisoned = 0;
    for (int32_t k = 0; k < 100000 && !ok; k++) {
        vl_io *src = mem_dev(bytes, size), *dst = mem_dev(NULL, 0);
        OPEN(src, NULL, 0, &s);
        vl__test_alloc_fail_after(k);
        int rc = vl_store_compact(s, dst);
        vl__test_alloc_fail_after(-1);
        if (rc == VL_OK) {
            ok = 1;
            if (m_check(m, s, 1)) return 1;
        } else {
            uint64_t one = 1;
            float v[6] = { 0 };
            int wrc = vl_store_upsert(s, 1, &one, v, NULL, NULL);
            if (wrc == VL_EFATAL) {
                poisoned++;
                SRC(s, rc, VL_EFATAL);   /* says so: not VL_ENOMEM, which promises an unchanged store */
                /* the file moved: dst is complete and holds the state */
                vl_io *io2;
                vl_store *r;
                if (reopen(dst, UINT64_MAX, VL_STORE_READONLY, &io2, &r)) return 1;
                if (m_check(m, r, 0)) { fprintf(stderr, "k=%d: dst of a poisoned compaction\n", k); return 1; }
                SOK(r, vl_store_close(r));
                vl_io_mem_free(io2);
            } else {
                nomem++;
                /* VL_EIO: dst (a memory device) could not grow */
                if (rc != VL_ENOMEM && rc != VL_EIO) { fprintf(stderr, "k=%d: compact: %s: %s\n", k, vl_errstr(rc), vl_store_errmsg(s)); return 1; }
                /* unchanged: the store still works on src */
                SRC(s, wrc, VL_OK);
                float z[6] = { 0 };
                m_upsert(m, 1, &one, z, NULL, NULL);
                if (m_check(m, s, 0)) { fprintf(stderr, "k=%d: after a failed compaction\n", k); return 1; }
                m_delete(m, 1, &one);
                SOK(s, vl_store_delete(s, 1, &one, &nd));
            }
        }
        (void)vl_store_close(s);
        vl_io_mem_free(src);
        vl_io_mem_free(dst);
    }
    CHECK(ok);
    fprintf(stderr, "  compact nomem: %d ENOMEM unchanged, %d poisoned after the move\n", nomem, poisoned);
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}

/* Every META segment in the file's bytes, listed or not, in file order (a
 * forward walk over the back-to-back segments of a clean file), as
 * rvf-node 0.2.3's compaction relists them: payload copies into segs. */
static uint32_t all_meta(vl_io *io, vl_rvf_seg *segs, uint8_t **copies, uint32_t cap)
{
    uint64_t n, off = 0;
    const uint8_t *b = vl_io_mem_data(io, &n);
    uint32_t k = 0;
    while (off + 64 <= n && k < cap) {
        vl_rvf_header hd;
        vl_rvf_header_decode(b + off, &hd);
        if (hd.magic != VL_RVF_MAGIC || off + 64 + hd.payload_length > n) break;
        if (hd.seg_type == VL_RVF_SEG_META) {
            copies[k] = t_alloc(hd.payload_length ? hd.payload_length : 1);
            memcpy(copies[k], b + off + 64, hd.payload_length);
            segs[k] = (vl_rvf_seg){ VL_RVF_SEG_META, copies[k], hd.payload_length };
            k++;
        }
        off += 64 + hd.payload_length;
    }
    return k;
}

/* The listed META segments of io's committed state: ids and generations
 * (read back through the META header), oldest first. */
static uint32_t listed_meta(vl_io *io, uint64_t *ids, uint64_t *gens, uint64_t *bases, uint32_t cap)
{
    vl_rvf *h;
    char msg[256];
    if (vl_rvf_open(io, &h, msg, sizeof msg)) return 0;
    vl_rvf_info info;
    vl_rvf_info_get(h, &info);
    uint32_t k = 0;
    for (uint32_t i = 0; i < info.dir_count && k < cap; i++) {
        vl_rvf_dirent d;
        uint8_t *p;
        if (vl_rvf_dir(h, i, &d) || d.seg_type != VL_RVF_SEG_META || vl_rvf_read_payload(h, i, UINT64_MAX, &p)) continue;
        vl_meta_head mh;
        char why[160];
        if (vl__meta_parse(p, d.payload_length, &mh, NULL, why, sizeof why) == VL_OK) {
            ids[k] = d.seg_id;
            gens[k] = mh.generation;
            bases[k] = (mh.flags & VL_META_F_SNAPSHOT) ? UINT64_MAX : mh.base;
            k++;
        }
        vl_mem_free(p);
    }
    vl_rvf_free(h);
    return k;
}

/* A commit on io's raw rvf handle: drop what drop_types names, unlist the
 * given ids, append segs. */
static int raw_commit(vl_io *io, uint64_t drop_types, uint32_t n_unlist, const uint64_t *unlist, uint32_t n_segs,
                      const vl_rvf_seg *segs)
{
    vl_rvf *h;
    char msg[256];
    CHECK(vl_rvf_open(io, &h, msg, sizeof msg) == VL_OK);
    vl_rvf_commit_args a;
    memset(&a, 0, sizeof a);
    a.drop_types = drop_types;
    a.n_unlist = n_unlist;
    a.unlist_seg_ids = unlist;
    a.n_segs = n_segs;
    a.segs = segs;
    a.keep_index = 1;
    int rc = vl_rvf_commit(h, &a, NULL);
    if (rc) fprintf(stderr, "raw_commit: %s: %s\n", vl_errstr(rc), vl_rvf_errmsg(h));
    vl_rvf_free(h);
    CHECK(rc == VL_OK);
    return 0;
}

/* META relisted as rvf-node 0.2.3's compaction leaves it (every META the
 * file ever held, superseded snapshots and deltas included, in file
 * order): an open skips what its generation already contains and applies
 * merged deltas over records already applied, with the same result; the
 * next META commit writes a snapshot that unlists all of it. A delta whose
 * base generation is above the current one (a real gap) is still refused. */
int test_store_meta_relisted(void)
{
    uint32_t dim = 2;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    enum { N = 2000 };
    uint64_t seed = 9, *ids = t_alloc(N * sizeof *ids);
    for (uint32_t i = 0; i < N; i++) ids[i] = i * 2 + 1;     /* < MAXID */
    CHECK(do_upsert(s, m, N, ids, &seed, 1, fids, 1) == VL_OK);
    /* one-record deltas, merged into tiers as they grow, until three or more are listed */
    uint64_t lid[64], lgen[64], lbase[64];
    uint32_t nl = 0;
    for (uint32_t k = 0; k < 300 && nl < 4; k++) {
        uint8_t rb[32];
        uint32_t l = t_rec_begin(rb);
        l = t_rec_f64(rb, l, (uint16_t)fids[1], k * 2.5);
        uint32_t off[2] = { 0, l };
        uint64_t id = ids[(k * 7) % N];
        SOK(s, vl_store_set_meta(s, 1, &id, rb, off));
        m_set_rec(m, id, rb, l);
        nl = listed_meta(io, lid, lgen, lbase, 64);
    }
    /* the listed chain (the writer still open: its close may write a
     * snapshot): a snapshot and at least two deltas, each on the generation
     * before it */
    CHECK(nl >= 3);
    CHECK(lbase[0] == UINT64_MAX);
    for (uint32_t i = 1; i < nl; i++) CHECK(lbase[i] == lgen[i - 1]);
    vl_io *rel = mem_clone(io, UINT64_MAX), *gap = mem_clone(io, UINT64_MAX);
    SOK(s, vl_store_close(s));

    /* (1) every META ever written, relisted in file order: same metadata */
    vl_rvf_seg segs[256];
    uint8_t *copies[256];
    uint32_t na = all_meta(io, segs, copies, 256);
    CHECK(na > nl + 2);                          /* superseded ones among them */
    if (raw_commit(rel, (uint64_t)1 << VL_RVF_SEG_META, 0, NULL, na, segs)) return 1;
    {
        uint64_t xi[256], xg[256], xb[256];
        CHECK(listed_meta(rel, xi, xg, xb, 256) == na);
        uint32_t superseded = 0;              /* META at or below the generation before it */
        for (uint32_t i = 1; i < na; i++) superseded += xg[i] <= xg[i - 1] || (xb[i] != UINT64_MAX && xb[i] < xg[i - 1]);
        CHECK(superseded > 0);
    }
    vl_io *io2;
    if (reopen(rel, UINT64_MAX, VL_STORE_READONLY, &io2, &s)) return 1;
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_close(s));
    vl_io_mem_free(io2);
    /* a writer's next META commit is a snapshot: one META listed, same answers */
    OPEN(rel, NULL, 0, &s);
    if (m_check(m, s, 1)) return 1;
    {
        uint8_t rb[32];
        uint32_t l = t_rec_begin(rb);
        l = t_rec_f64(rb, l, (uint16_t)fids[1], -1.0);
        uint32_t off[2] = { 0, l };
        SOK(s, vl_store_set_meta(s, 1, &ids[5], rb, off));
        m_set_rec(m, ids[5], rb, l);
    }
    CHECK(count_type(s, VL_RVF_SEG_META) == 1);
    SOK(s, vl_store_close(s));
    if (reopen(rel, UINT64_MAX, VL_STORE_READONLY, &io2, &s)) return 1;
    if (m_check(m, s, 1)) return 1;
    SOK(s, vl_store_close(s));
    vl_io_mem_free(io2);
    vl_io_mem_free(rel);
    for (uint32_t i = 0; i < na; i++) free(copies[i]);

    /* (2) a gap: the delta before the newest unlisted, so the newest's base is missing */
    if (raw_commit(gap, 0, 1, &lid[nl - 2], 0, NULL)) return 1;
    char msg[256];
    vl_store *g = NULL;
    CHECK(vl_store_open(gap, NULL, VL_STORE_READONLY, FID, &g, msg, sizeof msg) == VL_ECORRUPT);
    CHECK(strstr(msg, "META generation chain broken") != NULL);
    vl_io_mem_free(gap);
    m_free(m);
    free(ids);
    vl_io_mem_free(io);
    return 0;
}

/* ---- the forced META snapshot commit under faults ----
 * A file whose listed META the store does not track (relisted by rvf-node's
 * compaction, or holding records of ids that are not live) makes the next
 * META commit a snapshot. That commit is failed at every append/sync step
 * (a failing append leaves half its bytes, as a kill would) and cut at the
 * boundaries of each segment it appended: the file reopens at the state
 * before or after it, verify() is clean, and the next META commit of a
 * writer on the reopened file is again a snapshot (one META listed) with
 * the right records. A reader opened before the commit and refreshed after
 * it answers as a fresh read-only open. */
static int forced_one(vl_io *io, const model *want, int forced, uint32_t fid, uint64_t other)
{
    vl_store *r;
    vl_store_verify_result vr;
    OPEN(io, NULL, VL_STORE_READONLY, &r);
    if (m_check(want, r, 1)) return 1;
    SOK(r, vl_store_verify(r, &vr));
    if (!vr.ok) { fprintf(stderr, "verify: %s\n", vl_store_problems(r)); return 1; }
    SOK(r, vl_store_close(r));
    /* a writer's next META commit: a snapshot, the right records */
    vl_store *w;
    OPEN(io, NULL, 0, &w);
    if (m_check(want, w, 0)) return 1;
    if (!forced) CHECK(count_type(w, VL_RVF_SEG_META) == 1);   /* the snapshot is committed */
    model *m = m_copy(want);
    uint8_t rb[32];
    uint32_t l = t_rec_f64(rb, t_rec_begin(rb), (uint16_t)fid, 77.5);
    uint32_t off[2] = { 0, l };
    SOK(w, vl_store_set_meta(w, 1, &other, rb, off));
    m_set_rec(m, other, rb, l);
    if (forced && count_type(w, VL_RVF_SEG_META) != 1) {
        uint64_t xi[256], xg[256], xb[256];
        uint32_t nx = listed_meta(io, xi, xg, xb, 256);
        fprintf(stderr, "%u META listed after the writer's META commit (want 1 snapshot):", nx);
        for (uint32_t i = 0; i < nx; i++) fprintf(stderr, " [seg %llu gen %lld base %lld]", (unsigned long long)xi[i], (long long)xg[i], (long long)xb[i]);
        fprintf(stderr, "\n");
        return 1;
    }
    SOK(w, vl_store_close(w));
    OPEN(io, NULL, VL_STORE_READONLY, &r);
    if (m_check(m, r, 1)) return 1;
    SOK(r, vl_store_close(r));
    m_free(m);
    return 0;
}

/* op 0: set_meta(id, rec); op 1: upsert(id, vec) without metadata. */
static int forced_faults(vl_io *base, const model *prev, const model *next, int op, uint64_t id,
                         const uint8_t *rec, uint32_t rlen, const float *vec, uint32_t fid, uint64_t other)
{
    uint32_t off[2] = { 0, rlen };
    int done = 0, saw_prev = 0;
    for (uint32_t k = 1; !done && k < 200; k++) {
        vl_io *io = mem_clone(base, UINT64_MAX);
        vl_store *w, *r;
        OPEN(io, NULL, 0, &w);
        OPEN(io, NULL, VL_STORE_READONLY, &r);
        if (m_check(prev, w, 0)) return 1;
        uint64_t len0 = mem_size(io);
        vl_io_mem_fail_after(io, k);
        int rc = op == 0 ? vl_store_set_meta(w, 1, &id, rec, off) : vl_store_upsert(w, 1, &id, vec, NULL, NULL);
        vl_io_mem_fail_after(io, 0);
        if (rc == VL_OK) {
            done = 1;
            if (m_check(next, w, 1)) return 1;
            CHECK(count_type(w, VL_RVF_SEG_META) == 1);
            /* the follower refreshes to what a fresh open reads */
            vl_store_refresh_result rr;
            SOK(r, vl_store_refresh(r, &rr));
            if (m_check(next, r, 1)) { fprintf(stderr, "refreshed reader differs\n"); return 1; }
            SOK(r, vl_store_close(r));
            SOK(w, vl_store_close(w));
            /* every segment boundary of the commit (and a byte either side, and mid-payload) */
            uint64_t n;
            const uint8_t *b = vl_io_mem_data(io, &n);
            uint8_t *copy = t_alloc((size_t)n);
            memcpy(copy, b, (size_t)n);
            for (uint64_t at = len0; at < n;) {
                vl_rvf_header hd;
                vl_rvf_header_decode(copy + at, &hd);
                CHECK(hd.magic == VL_RVF_MAGIC);
                uint64_t end = at + 64 + hd.payload_length;
                uint64_t cuts[5] = { at + 1, at + 63, at + 64 + hd.payload_length / 2, end - 1, end };
                for (int c = 0; c < 5; c++) {
                    if (cuts[c] <= len0 || cuts[c] > end || (c && cuts[c] == cuts[c - 1])) continue;
                    vl_io *cut = mem_dev(copy, cuts[c]);
                    vl_store *t;
                    OPEN(cut, NULL, VL_STORE_READONLY, &t);
                    quiet = 1;
                    int is_prev = m_check(prev, t, 0) == 0, is_next = !is_prev && m_check(next, t, 0) == 0;
                    quiet = 0;
                    SOK(t, vl_store_close(t));
                    if (!is_prev && !is_next) { fprintf(stderr, "cut at %llu: neither state\n", (unsigned long long)cuts[c]); return 1; }
                    if (cuts[c] == n) CHECK(is_next);
                    if (forced_one(cut, is_prev ? prev : next, is_prev, fid, other)) { fprintf(stderr, "cut at %llu\n", (unsigned long long)cuts[c]); return 1; }
                    vl_io_mem_free(cut);
                }
                at = end;
            }
            free(copy);
        } else {
            CHECK(rc == VL_EIO);
            vl_store_close(w);
            vl_store_refresh_result rr;
            SOK(r, vl_store_refresh(r, &rr));   /* a torn tail: the reader stays where it is or follows */
            quiet = 1;
            int rp = m_check(prev, r, 1) == 0, rn = !rp && m_check(next, r, 1) == 0;
            quiet = 0;
            SOK(r, vl_store_close(r));
            vl_store *t;
            vl_io *io2;
            if (reopen(io, UINT64_MAX, VL_STORE_READONLY, &io2, &t)) return 1;
            quiet = 1;
            int is_prev = m_check(prev, t, 0) == 0, is_next = !is_prev && m_check(next, t, 0) == 0;
            quiet = 0;
            SOK(t, vl_store_close(t));
            if (!is_prev && !is_next) { fprintf(stderr, "fail_after %u: neither state\n", k); return 1; }
            if (rp != is_prev || rn != is_next) { fprintf(stderr, "fail_after %u: the refreshed reader differs from a fresh open\n", k); return 1; }
            saw_prev += is_prev;
            if (forced_one(io2, is_prev ? prev : next, is_prev, fid, other)) { fprintf(stderr, "fail_after %u\n", k); return 1; }
            vl_io_mem_free(io2);
        }
        vl_io_mem_free(io);
    }
    CHECK(done && saw_prev > 0);
    return 0;
}

int test_store_meta_forced_snapshot_faults(void)
{
    uint32_t dim = 3;
    uint64_t seed = 21;
    enum { N = 300 };
    uint64_t *ids = t_alloc(N * sizeof *ids);
    for (uint32_t i = 0; i < N; i++) ids[i] = i * 3 + 2;
    /* (a) relisted META: a snapshot and deltas, every META ever written relisted in file order */
    {
        vl_io *io = mem_dev(NULL, 0);
        vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
        vl_store *s;
        OPEN(io, &c, VL_STORE_CREATE, &s);
        uint32_t fids[5];
        if (register_fields(s, fids)) return 1;
        model *m = m_new(dim, VL_METRIC_L2);
        CHECK(do_upsert(s, m, N, ids, &seed, 1, fids, 1) == VL_OK);
        uint64_t lid[64], lgen[64], lbase[64];
        uint32_t nl = 0;
        for (uint32_t k = 0; k < 300 && nl < 4; k++) {
            uint8_t rb[32];
            uint32_t l = t_rec_f64(rb, t_rec_begin(rb), (uint16_t)fids[1], k * 2.5);
            uint32_t off[2] = { 0, l };
            uint64_t id = ids[(k * 7) % N];
            SOK(s, vl_store_set_meta(s, 1, &id, rb, off));
            m_set_rec(m, id, rb, l);
            nl = listed_meta(io, lid, lgen, lbase, 64);
        }
        CHECK(nl >= 3);
        vl_io *rel = mem_clone(io, UINT64_MAX);
        SOK(s, vl_store_close(s));
        vl_rvf_seg segs[256];
        uint8_t *copies[256];
        uint32_t na = all_meta(io, segs, copies, 256);
        if (raw_commit(rel, (uint64_t)1 << VL_RVF_SEG_META, 0, NULL, na, segs)) return 1;
        CHECK(listed_meta(rel, lid, lgen, lbase, 64) == na);
        model *next = m_copy(m);
        uint8_t rb[32];
        uint32_t l = t_rec_f64(rb, t_rec_begin(rb), (uint16_t)fids[1], -3.0);
        m_set_rec(next, ids[11], rb, l);
        if (forced_faults(rel, m, next, 0, ids[11], rb, l, NULL, fids[1], ids[12])) return 1;
        for (uint32_t i = 0; i < na; i++) free(copies[i]);
        m_free(next);
        m_free(m);
        vl_io_mem_free(rel);
        vl_io_mem_free(io);
    }
    /* (b) records of an id that is not live: the META delta of its delete unlisted (as rvf-node's
     * delete writes none); a re-insert without metadata commits a snapshot without the record */
    {
        vl_io *io = mem_dev(NULL, 0);
        vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_HNSW);
        vl_store *s;
        OPEN(io, &c, VL_STORE_CREATE, &s);
        uint32_t fids[5];
        if (register_fields(s, fids)) return 1;
        model *m = m_new(dim, VL_METRIC_L2);
        CHECK(do_upsert(s, m, N, ids, &seed, 1, fids, 1) == VL_OK);
        uint64_t x = 0;
        for (uint32_t i = 0; i < N && !x; i++) if (m->rlen[ids[i]]) x = ids[i];
        CHECK(x != 0);
        uint64_t lid[64], lgen[64], lbase[64];
        uint32_t n0 = listed_meta(io, lid, lgen, lbase, 64);
        uint32_t nd;
        SOK(s, vl_store_delete(s, 1, &x, &nd));
        CHECK(nd == 1);
        m_delete(m, 1, &x);
        SOK(s, vl_store_close(s));
        uint32_t n1 = listed_meta(io, lid, lgen, lbase, 64);
        CHECK(n1 == n0 + 1);                         /* the delete's delta, newest */
        if (raw_commit(io, 0, 1, &lid[n1 - 1], 0, NULL)) return 1;
        model *next = m_copy(m);
        float v[3] = { 0.25f, -0.5f, 0.75f };
        m_upsert(next, 1, &x, v, NULL, NULL);
        if (forced_faults(io, m, next, 1, x, NULL, 0, v, fids[1], ids[12] == x ? ids[13] : ids[12])) return 1;
        m_free(next);
        m_free(m);
        vl_io_mem_free(io);
    }
    free(ids);
    return 0;
}

/* Hostile listings of one linear META history: every META the file ever
 * held (snapshots, deltas, merged deltas), listed in random orders and
 * random subsets that keep the newest, and in chosen odd orders (reversed;
 * the newest snapshot listed after deltas; two snapshots; a merged delta
 * whose base is below the snapshot before it). Open either refuses with
 * ECORRUPT or reads the newest metadata (never an older one, never a crash);
 * a writer's next META commit and a reopen keep it. */
static int hostile_listing(vl_io *src, const vl_rvf_seg *segs, const uint32_t *order, uint32_t n, const model *m,
                           uint32_t fid, uint64_t other, uint32_t *opened)
{
    vl_io *io = mem_clone(src, UINT64_MAX);
    vl_rvf_seg pick[256];
    for (uint32_t i = 0; i < n; i++) pick[i] = segs[order[i]];
    if (raw_commit(io, (uint64_t)1 << VL_RVF_SEG_META, 0, NULL, n, pick)) return 1;
    vl_store *s = NULL;
    char msg[256];
    int rc = vl_store_open(io, NULL, VL_STORE_READONLY, FID, &s, msg, sizeof msg);
    if (rc != VL_OK) {
        if (rc != VL_ECORRUPT) { fprintf(stderr, "hostile listing: %s: %s\n", vl_errstr(rc), msg); return 1; }
        vl_io_mem_free(io);
        return 0;
    }
    ++*opened;
    if (m_check(m, s, 0)) { fprintf(stderr, "hostile listing opened with other metadata\n"); return 1; }
    SOK(s, vl_store_close(s));
    vl_store *w;
    OPEN(io, NULL, 0, &w);
    model *m2 = m_copy(m);
    uint8_t rb[32];
    uint32_t l = t_rec_f64(rb, t_rec_begin(rb), (uint16_t)fid, 5.5);
    uint32_t off[2] = { 0, l };
    SOK(w, vl_store_set_meta(w, 1, &other, rb, off));
    m_set_rec(m2, other, rb, l);
    SOK(w, vl_store_close(w));
    vl_io *io2;
    if (reopen(io, UINT64_MAX, VL_STORE_READONLY, &io2, &s)) return 1;
    if (m_check(m2, s, 0)) { fprintf(stderr, "hostile listing: the writer's next META commit lost metadata\n"); return 1; }
    SOK(s, vl_store_close(s));
    m_free(m2);
    vl_io_mem_free(io2);
    vl_io_mem_free(io);
    return 0;
}

int test_store_meta_hostile_orders(void)
{
    uint32_t dim = 2;
    vl_io *io = mem_dev(NULL, 0);
    vl_config c = cfg_of(dim, VL_METRIC_L2, VL_INDEX_FLAT);
    vl_store *s;
    OPEN(io, &c, VL_STORE_CREATE, &s);
    uint32_t fids[5];
    if (register_fields(s, fids)) return 1;
    model *m = m_new(dim, VL_METRIC_L2);
    enum { N = 200 };
    uint64_t seed = 31, ids[N];
    for (uint32_t i = 0; i < N; i++) ids[i] = i * 5 + 1;
    CHECK(do_upsert(s, m, N, ids, &seed, 1, fids, 1) == VL_OK);
    /* many sessions of small commits: snapshots, deltas and merged deltas */
    for (uint32_t k = 0; k < 120; k++) {
        uint8_t rb[32];
        uint32_t l = t_rec_f64(rb, t_rec_begin(rb), (uint16_t)fids[1], k * 1.5);
        uint32_t off[2] = { 0, l };
        uint64_t id = ids[(k * 13) % N];
        if (k % 9 == 4) {                         /* a delete and a re-insert without metadata */
            uint32_t nd;
            SOK(s, vl_store_delete(s, 1, &id, &nd));
            m_delete(m, 1, &id);
            float v[2] = { (float)k, 1.0f };
            SOK(s, vl_store_upsert(s, 1, &id, v, NULL, NULL));
            m_upsert(m, 1, &id, v, NULL, NULL);
        } else {
            SOK(s, vl_store_set_meta(s, 1, &id, rb, off));
            m_set_rec(m, id, rb, l);
        }
        if (k % 40 == 39) { SOK(s, vl_store_close(s)); OPEN(io, NULL, 0, &s); }
    }
    SOK(s, vl_store_close(s));
    vl_rvf_seg segs[256];
    uint8_t *copies[256];
    uint32_t na = all_meta(io, segs, copies, 256);
    uint64_t gen[256], base[256];
    uint32_t nsnap = 0, top = 0, nmerged = 0;
    for (uint32_t i = 0; i < na; i++) {
        vl_meta_head mh;
        char why[160];
        CHECK(vl__meta_parse(segs[i].payload, segs[i].len, &mh, NULL, why, sizeof why) == VL_OK);
        gen[i] = mh.generation;
        base[i] = (mh.flags & VL_META_F_SNAPSHOT) ? UINT64_MAX : mh.base;
        nsnap += base[i] == UINT64_MAX;
        nmerged += base[i] != UINT64_MAX && gen[i] > base[i] + 1;
        if (gen[i] > gen[top]) top = i;
    }
    CHECK(na > 20 && nsnap >= 2 && nmerged > 0);
    uint32_t order[256], opened = 0, tries = 0;
    /* reversed */
    for (uint32_t i = 0; i < na; i++) order[i] = na - 1 - i;
    if (hostile_listing(io, segs, order, na, m, fids[1], ids[3], &opened)) return 1;
    /* each snapshot listed after every other META */
    for (uint32_t j = 0; j < na; j++) {
        if (base[j] != UINT64_MAX) continue;
        uint32_t k = 0;
        for (uint32_t i = 0; i < na; i++) if (i != j) order[k++] = i;
        order[k++] = j;
        if (hostile_listing(io, segs, order, k, m, fids[1], ids[3], &opened)) return 1;
        tries++;
    }
    /* two snapshots (the newest last), then the deltas after the newest */
    for (uint32_t j = 0; j < na; j++) {
        if (base[j] != UINT64_MAX) continue;
        for (uint32_t j2 = j + 1; j2 < na; j2++) {
            if (base[j2] != UINT64_MAX) continue;
            uint32_t k = 0;
            order[k++] = j2;
            order[k++] = j;
            for (uint32_t i = j2 + 1; i < na; i++) order[k++] = i;
            if (hostile_listing(io, segs, order, k, m, fids[1], ids[3], &opened)) return 1;
            order[0] = j, order[1] = j2;
            if (hostile_listing(io, segs, order, k, m, fids[1], ids[3], &opened)) return 1;
        }
    }
    /* random orders of all of them, and random subsets that keep the newest */
    uint64_t rs = 77;
    for (uint32_t t = 0; t < 300; t++) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < na; i++)
            if (t < 150 || i == top || t_unif(&rs) < 0.6) order[k++] = i;
        if (t % 3) {                               /* shuffled; else file order */
            for (uint32_t i = k; i > 1; i--) {
                uint32_t j = (uint32_t)(t_unif(&rs) * i);
                if (j >= i) j = i - 1;
                uint32_t x = order[i - 1]; order[i - 1] = order[j]; order[j] = x;
            }
        }
        if (hostile_listing(io, segs, order, k, m, fids[1], ids[3], &opened)) return 1;
    }
    if (getenv("VL_TEST_VERBOSE")) fprintf(stderr, "hostile orders: %u META (%u snapshots), %u listings opened\n", na, nsnap, opened);
    CHECK(opened > 50);
    for (uint32_t i = 0; i < na; i++) free(copies[i]);
    m_free(m);
    vl_io_mem_free(io);
    return 0;
}
