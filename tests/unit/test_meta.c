/*
 * test_meta.c — metadata records through the index (validation on insert,
 * set_meta, get), the field-name registry, id-map churn, clear/stats, upsert
 * and in-batch duplicates, the memory io device, and allocation failures
 * leaving an index unchanged.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "io.h"

/* ---- metadata through the index ---- */

int test_meta_records(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(2, VL_METRIC_L2, kind, 4, 8, 1);
        CHECK(h);
        uint32_t fa, fb;
        CHECK_OK(vl_index_field(h, "a", 1, &fa));
        CHECK_OK(vl_index_field(h, "b", 1, &fb));
        CHECK(fa == 0 && fb == 1);
        uint64_t ids[2] = { 1, 2 };
        float v[4] = { 1, 2, 3, 4 };
        uint8_t meta[256];
        uint32_t off[3];
        /* good: record 0 has two fields, record 1 is empty */
        off[0] = 0;
        uint32_t len = t_rec_begin(meta);
        len = t_rec_str(meta, len, (uint16_t)fa, VL_TAG_STR, "x", 1);
        len = t_rec_i64(meta, len, (uint16_t)fb, 7);
        off[1] = len;
        off[2] = len;
        CHECK_RCH(h, vl_index_upsert(h, 2, ids, v, meta, off), VL_OK);
        const uint8_t *m;
        uint32_t ml;
        CHECK_OK(vl_index_get(h, &ids[0], NULL, &m, &ml));
        CHECK(ml == len && memcmp(m, meta, len) == 0);
        CHECK_OK(vl_index_get(h, &ids[1], NULL, &m, &ml));
        CHECK(ml == 0);
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.meta_bytes == len && st.fields == 2);

        /* bad records: each leaves the index as it was */
        uint64_t nid[2] = { 3, 4 };
        struct { const char *what; uint8_t rec[24]; uint32_t len; } bad[] = {
            { "unknown field id", { 1, 0, 2, 0, VL_TAG_NULL }, 5 },
            { "duplicate field", { 2, 0, 0, 0, VL_TAG_NULL, 0, 0, VL_TAG_NULL }, 8 },
            { "bad tag", { 1, 0, 0, 0, 8 }, 5 },
            { "truncated i64", { 1, 0, 0, 0, VL_TAG_I64, 1, 2, 3 }, 8 },
            { "truncated string", { 1, 0, 0, 0, VL_TAG_STR, 4, 0, 0, 0, 'a' }, 10 },
            { "trailing bytes", { 1, 0, 0, 0, VL_TAG_NULL, 0 }, 6 },
            { "bool 3", { 1, 0, 1, 0, VL_TAG_BOOL, 3 }, 6 },
            { "bad utf-8", { 1, 0, 0, 0, VL_TAG_STR, 2, 0, 0, 0, 0xed, 0xa0 }, 11 },
            { "truncated count", { 1 }, 1 },
            { "missing fields", { 3, 0, 0, 0, VL_TAG_NULL }, 5 },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            uint8_t buf[64];
            uint32_t o[3] = { 0, 2, 2 + bad[i].len };
            t_put16(buf, 0);            /* record 0 valid (no fields), record 1 bad */
            memcpy(buf + 2, bad[i].rec, bad[i].len);
            int rc = vl_index_upsert(h, 2, nid, v, buf, o);
            if (rc != VL_EINVAL) {
                fprintf(stderr, "  %s: got %s\n", bad[i].what, vl_errstr(rc));
                return 1;
            }
            CHECK(strstr(vl_errmsg(h), "metadata record 1") != NULL);
            CHECK(vl_index_count(h) == 2);
            CHECK_RC(vl_index_contains(h, &nid[0]), VL_ENOTFOUND);
        }
        /* offsets: descending, or meta without offsets */
        uint32_t o[3] = { 0, 5, 2 };
        CHECK_RC(vl_index_upsert(h, 2, nid, v, meta, o), VL_EINVAL);
        CHECK_RC(vl_index_upsert(h, 2, nid, v, meta, NULL), VL_EINVAL);
        CHECK_RC(vl_index_upsert(h, 2, nid, v, NULL, off), VL_EINVAL);
        /* over the size cap; exactly at the cap is fine */
        uint8_t *big = t_alloc(VL_MAX_META_BYTES + 16);
        uint32_t bo[2] = { 0, VL_MAX_META_BYTES + 1 };
        CHECK_RC(vl_index_upsert(h, 1, nid, v, big, bo), VL_EINVAL);
        CHECK(strstr(vl_errmsg(h), "limit") != NULL);
        t_put16(big, 1);
        t_put16(big + 2, (uint16_t)fa);
        big[4] = VL_TAG_BYTES;
        t_put32(big + 5, VL_MAX_META_BYTES - 9);
        bo[1] = VL_MAX_META_BYTES;
        CHECK_RCH(h, vl_index_upsert(h, 1, nid, v, big, bo), VL_OK);
        CHECK_OK(vl_index_get(h, &nid[0], NULL, &m, &ml));
        CHECK(ml == VL_MAX_META_BYTES);
        free(big);
        /* an upsert without metadata drops the old record */
        CHECK_OK(vl_index_upsert(h, 1, nid, v, NULL, NULL));
        CHECK_OK(vl_index_get(h, &nid[0], NULL, &m, &ml));
        CHECK(ml == 0);
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.meta_bytes == len);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        vl_index_free(h);
    }
    return 0;
}

int test_meta_set_and_get(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(3, VL_METRIC_COSINE, kind, 4, 8, 1);
        CHECK(h);
        uint32_t f;
        CHECK_OK(vl_index_field(h, "n", 1, &f));
        const uint32_t n = 50;
        uint64_t ids[50];
        float v[150];
        uint8_t meta[50 * 13];
        uint32_t off[51];
        off[0] = 0;
        for (uint32_t i = 0; i < n; i++) {
            ids[i] = 100 + i;
            v[3 * i] = 1; v[3 * i + 1] = (float)i; v[3 * i + 2] = -1;
            uint32_t l = t_rec_begin(meta + off[i]);
            l = t_rec_u64(meta + off[i], l, (uint16_t)f, i);
            off[i + 1] = off[i] + l;
        }
        CHECK_OK(vl_index_upsert(h, n, ids, v, meta, off));
        /* set_meta with one absent id: ENOTFOUND, nothing changes */
        uint64_t sid[3] = { 100, 999, 101 };
        uint8_t nm[3 * 13];
        uint32_t no[4] = { 0 };
        for (int i = 0; i < 3; i++) {
            uint32_t l = t_rec_begin(nm + no[i]);
            l = t_rec_i64(nm + no[i], l, (uint16_t)f, -1 - i);
            no[i + 1] = no[i] + l;
        }
        CHECK_RC(vl_index_set_meta(h, 3, sid, nm, no), VL_ENOTFOUND);
        CHECK(strstr(vl_errmsg(h), "999") != NULL);
        const uint8_t *m;
        uint32_t ml;
        CHECK_OK(vl_index_get(h, &ids[0], NULL, &m, &ml));
        CHECK(ml == off[1] && memcmp(m, meta, ml) == 0);
        /* valid set_meta; a duplicate id in the batch: last row wins */
        sid[1] = 100;
        CHECK_OK(vl_index_set_meta(h, 3, sid, nm, no));
        CHECK_OK(vl_index_get(h, &ids[0], NULL, &m, &ml));
        CHECK(ml == no[2] - no[1] && memcmp(m, nm + no[1], ml) == 0);
        CHECK_OK(vl_index_get(h, &ids[1], NULL, &m, &ml));
        CHECK(ml == no[3] - no[2] && memcmp(m, nm + no[2], ml) == 0);
        /* vector untouched by set_meta */
        float got[3];
        CHECK_OK(vl_index_get(h, &ids[1], got, NULL, NULL));
        CHECK(got[0] == 1 && got[1] == 1 && got[2] == -1);
        /* clearing metadata with NULL */
        CHECK_OK(vl_index_set_meta(h, 1, sid, NULL, NULL));
        CHECK_OK(vl_index_get(h, &ids[0], NULL, &m, &ml));
        CHECK(ml == 0);
        /* bad record in set_meta: EINVAL */
        uint8_t br[5] = { 1, 0, 9, 0, VL_TAG_NULL };
        uint32_t bo[2] = { 0, 5 };
        CHECK_RC(vl_index_set_meta(h, 1, sid, br, bo), VL_EINVAL);
        CHECK_RC(vl_index_set_meta(h, 1, NULL, br, bo), VL_EINVAL);
        CHECK_OK(vl_index_set_meta(h, 0, NULL, NULL, NULL));
        /* the filter sees set_meta: n == -3 matches id 101 only */
        uint8_t fp[13] = { VL_F_CMP, VL_CMP_EQ, 0, 0, VL_TAG_I64 };
        t_put16(fp + 2, (uint16_t)f);
        t_put64(fp + 5, (uint64_t)(int64_t)-3);
        uint64_t rid[5];
        float rd[5];
        uint32_t c;
        CHECK_OK(vl_index_search(h, 1, v, 5, 0, fp, 13, rid, rd, &c));
        CHECK(c == 1 && rid[0] == 101);
        /* metadata of a deleted id is gone (stats) */
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        uint64_t before = st.meta_bytes;
        uint32_t nd;
        CHECK_OK(vl_index_delete(h, 1, &ids[1], &nd));
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.meta_bytes == before - (no[3] - no[2]));
        CHECK_RC(vl_index_set_meta(h, 1, &ids[1], nm, no), VL_ENOTFOUND);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        vl_index_free(h);
    }
    return 0;
}

int test_fields_registry(void)
{
    vl_index *h = t_index(2, VL_METRIC_L2, VL_INDEX_FLAT, 0, 0, 1);
    CHECK(h);
    uint32_t id, id2;
    CHECK(vl_index_field_count(h) == 0);
    CHECK_RC(vl_index_field(h, "x", 0, &id), VL_EINVAL);
    CHECK_RC(vl_index_field(h, NULL, 3, &id), VL_EINVAL);
    static char longname[VL_MAX_FIELD_NAME + 1];
    memset(longname, 'q', sizeof longname);
    CHECK_RC(vl_index_field(h, longname, VL_MAX_FIELD_NAME + 1, &id), VL_EINVAL);
    CHECK_OK(vl_index_field(h, longname, VL_MAX_FIELD_NAME, &id));
    CHECK(id == 0);
    CHECK_RC(vl_index_field(h, "\xff", 1, &id), VL_EINVAL);
    CHECK_OK(vl_index_field(h, "$id", 3, &id));
    CHECK_OK(vl_index_field(h, "$id", 3, &id2));
    CHECK(id == 1 && id2 == 1);
    CHECK_OK(vl_index_field(h, "caf\xc3\xa9", 5, &id));     /* UTF-8 é */
    CHECK(id == 2);
    /* many names: hash growth, every lookup stable */
    char name[32];
    for (uint32_t i = 0; i < 3000; i++) {
        int l = snprintf(name, sizeof name, "field-%u", i);
        CHECK_OK(vl_index_field(h, name, (uint32_t)l, &id));
        CHECK(id == 3 + i);
    }
    for (uint32_t i = 0; i < 3000; i += 7) {
        int l = snprintf(name, sizeof name, "field-%u", i);
        CHECK_OK(vl_index_field(h, name, (uint32_t)l, &id));
        CHECK(id == 3 + i);
        const char *nm;
        uint32_t nl;
        CHECK_OK(vl_index_field_name(h, id, &nm, &nl));
        CHECK(nl == (uint32_t)l && memcmp(nm, name, nl) == 0);
    }
    CHECK(vl_index_field_count(h) == 3003);
    const char *nm;
    uint32_t nl;
    CHECK_RC(vl_index_field_name(h, 3003, &nm, &nl), VL_ENOTFOUND);
    CHECK_OK(vl_index_field_name(h, 1, &nm, &nl));
    CHECK(nl == 3 && memcmp(nm, "$id", 3) == 0);
    /* clear keeps names; records may then use them */
    CHECK_OK(vl_index_clear(h));
    CHECK(vl_index_field_count(h) == 3003);
    uint8_t rec[16];
    uint32_t len = t_rec_begin(rec);
    len = t_rec_null(rec, len, 3002);
    uint32_t off[2] = { 0, len };
    uint64_t vid = 5;
    float v[2] = { 1, 1 };
    CHECK_OK(vl_index_upsert(h, 1, &vid, v, rec, off));
    vl_stats st;
    CHECK_OK(vl_index_stats(h, &st));
    CHECK(st.fields == 3003);
    vl_index_free(h);
    return 0;
}

/* ---- id map churn, clear, stats, upsert, duplicates ---- */

int test_idmap_churn(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        const uint32_t space = 1500, ops = kind ? 6000 : 30000;
        vl_index *h = t_index(1, VL_METRIC_L2, kind, 4, 8, 1);
        CHECK(h);
        float *val = t_alloc(space * sizeof(float));
        uint8_t *present = t_alloc(space);
        uint64_t *keys = t_alloc(space * sizeof *keys);
        uint64_t s = 1;
        /* keys that collide in low bits, plus the extremes */
        for (uint32_t i = 0; i < space; i++) keys[i] = ((uint64_t)i << 40) | (i & 1);
        keys[0] = 0;
        keys[1] = UINT64_MAX;
        uint32_t live = 0;
        for (uint32_t it = 0; it < ops; it++) {
            uint32_t k = (uint32_t)(t_rand(&s) % space);
            if (t_rand(&s) % 3) {
                float x = (float)(t_rand(&s) % 1000);
                CHECK_OK(vl_index_upsert(h, 1, &keys[k], &x, NULL, NULL));
                if (!present[k]) live++;
                present[k] = 1;
                val[k] = x;
            } else {
                uint32_t nd;
                CHECK_OK(vl_index_delete(h, 1, &keys[k], &nd));
                CHECK(nd == present[k]);
                if (present[k]) live--;
                present[k] = 0;
            }
            if (it % 2000 == 0) CHECK_RCH(h, vl_index_check(h), VL_OK);
        }
        CHECK(vl_index_count(h) == live);
        for (uint32_t i = 0; i < space; i++) {
            float x;
            int rc = vl_index_get(h, &keys[i], &x, NULL, NULL);
            CHECK(rc == (present[i] ? VL_OK : VL_ENOTFOUND));
            if (present[i]) CHECK(x == val[i]);
        }
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        free(val); free(present); free(keys);
        vl_index_free(h);
    }
    return 0;
}

int test_clear_and_stats(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        const uint32_t n = 400, dim = 10;
        vl_index *h = t_index(dim, VL_METRIC_DOT, kind, 8, 32, 4);
        CHECK(h);
        float *x = t_clustered(n, dim, 4, 0.3, 3);
        uint64_t *ids = t_alloc(n * sizeof *ids);
        for (uint32_t i = 0; i < n; i++) ids[i] = i;
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.live == 0 && st.nodes == 0 && st.vector_bytes == 0 && st.max_level == 0);
        CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.live == n && st.nodes == n && st.tombstones == 0);
        CHECK(st.vector_bytes == (uint64_t)n * dim * 4);
        CHECK(st.memory_bytes >= st.vector_bytes + st.graph_bytes + st.meta_bytes);
        if (kind == VL_INDEX_HNSW) CHECK(st.graph_bytes >= (uint64_t)n * 17 * 4);
        else CHECK(st.graph_bytes == 0 && st.max_level == 0);
        uint32_t nd;
        CHECK_OK(vl_index_delete(h, 100, ids, &nd));
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.live == n - 100);
        CHECK(st.tombstones == (kind == VL_INDEX_HNSW ? 100u : 0u));
        CHECK(st.nodes == st.live + st.tombstones);
        CHECK_OK(vl_index_clear(h));
        CHECK(vl_index_count(h) == 0);
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.live == 0 && st.nodes == 0 && st.tombstones == 0 && st.vector_bytes == 0);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        uint64_t rid[3];
        float rd[3];
        uint32_t c = 9;
        CHECK_OK(vl_index_search(h, 1, x, 3, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 0);
        uint32_t got;
        CHECK_OK(vl_index_ids(h, NULL, 0, rid, 3, &got));
        CHECK(got == 0);
        /* usable again after clear */
        CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
        CHECK(vl_index_count(h) == n);
        CHECK_OK(vl_index_search(h, 1, x, 3, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 3);
        if (kind == VL_INDEX_FLAT)
            CHECK(t_match_oracle(VL_METRIC_DOT, x, ids, NULL, n, dim, x, 3, rid, rd, c) == 0);
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        CHECK_RC(vl_index_stats(h, NULL), VL_EINVAL);
        free(x); free(ids);
        vl_index_free(h);
    }
    return 0;
}

int test_upsert_replaces(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(3, VL_METRIC_L2, kind, 4, 8, 1);
        CHECK(h);
        uint64_t ids[3] = { 7, 8, 9 };
        float a[9] = { 0, 0, 0, 1, 1, 1, 2, 2, 2 };
        CHECK_OK(vl_index_upsert(h, 3, ids, a, NULL, NULL));
        float b[3] = { 10, 10, 10 };
        CHECK_OK(vl_index_upsert(h, 1, &ids[1], b, NULL, NULL));
        CHECK(vl_index_count(h) == 3);
        float got[3];
        CHECK_OK(vl_index_get(h, &ids[1], got, NULL, NULL));
        CHECK(got[0] == 10 && got[1] == 10 && got[2] == 10);
        uint64_t rid[3];
        float rd[3];
        uint32_t c;
        float q[3] = { 1, 1, 1 };
        CHECK_OK(vl_index_search(h, 1, q, 3, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 3);
        /* (1,1,1): id 7 and 9 at sqrt(3), id 8 now at sqrt(243) */
        CHECK(rid[0] == 7 && rid[1] == 9 && rid[2] == 8);
        CHECK(fabsf(rd[0] - sqrtf(3)) < 1e-6f && fabsf(rd[2] - sqrtf(243)) < 1e-4f);
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.live == 3 && st.tombstones == (kind ? 1u : 0u));
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        vl_index_free(h);
    }
    return 0;
}

int test_batch_duplicates(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(2, VL_METRIC_L2, kind, 4, 8, 1);
        CHECK(h);
        uint32_t f;
        CHECK_OK(vl_index_field(h, "k", 1, &f));
        uint64_t ids[4] = { 5, 6, 5, 5 };
        float v[8] = { 1, 1, 2, 2, 3, 3, 4, 4 };
        uint8_t meta[64];
        uint32_t off[5] = { 0 };
        for (int i = 0; i < 4; i++) {
            uint32_t l = t_rec_begin(meta + off[i]);
            l = t_rec_i64(meta + off[i], l, (uint16_t)f, i);
            off[i + 1] = off[i] + l;
        }
        CHECK_OK(vl_index_upsert(h, 4, ids, v, meta, off));
        CHECK(vl_index_count(h) == 2);
        float got[2];
        const uint8_t *m;
        uint32_t ml;
        CHECK_OK(vl_index_get(h, &ids[0], got, &m, &ml));
        CHECK(got[0] == 4 && got[1] == 4);
        CHECK(ml == off[4] - off[3] && memcmp(m, meta + off[3], ml) == 0);
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(st.nodes == 2 && st.tombstones == 0);   /* superseded rows never became nodes */
        CHECK(st.meta_bytes == (off[2] - off[1]) + (off[4] - off[3]));
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        vl_index_free(h);
    }
    return 0;
}

/* ---- memory io device ---- */

int test_io_mem(void)
{
    vl_io *io;
    CHECK_OK(vl_io_mem_open(NULL, 0, &io));
    uint64_t sz = 1;
    CHECK_OK(io->size(io->ctx, &sz));
    CHECK(sz == 0);
    uint8_t buf[10000];
    for (int i = 0; i < 10000; i++) buf[i] = (uint8_t)(i * 7);
    CHECK_OK(io->append(io->ctx, buf, 3));
    CHECK_OK(io->append(io->ctx, buf + 3, 9997));     /* forces growth */
    CHECK_OK(io->append(io->ctx, buf, 0));
    CHECK_OK(io->size(io->ctx, &sz));
    CHECK(sz == 10000);
    uint8_t rd[10000];
    CHECK_OK(io->read(io->ctx, 0, rd, 10000));
    CHECK(memcmp(rd, buf, 10000) == 0);
    CHECK_OK(io->read(io->ctx, 9990, rd, 10));
    CHECK(memcmp(rd, buf + 9990, 10) == 0);
    CHECK_OK(io->read(io->ctx, 10000, rd, 0));
    CHECK_RC(io->read(io->ctx, 9991, rd, 10), VL_EIO);            /* never a short read */
    CHECK_RC(io->read(io->ctx, UINT64_MAX, rd, 1), VL_EIO);
    CHECK_RC(io->read(io->ctx, 10001, rd, 0), VL_EIO);
    CHECK_OK(io->sync(io->ctx));
    CHECK_OK(io->truncate(io->ctx, 4000));
    CHECK_RC(io->truncate(io->ctx, 4001), VL_EIO);
    CHECK_OK(io->size(io->ctx, &sz));
    CHECK(sz == 4000);
    uint64_t dl;
    const uint8_t *d = vl_io_mem_data(io, &dl);
    CHECK(dl == 4000 && memcmp(d, buf, 4000) == 0);
    CHECK_RC(io->read(io->ctx, 3999, rd, 2), VL_EIO);
    CHECK(io->close != NULL);
    io->close(io->ctx);                                   /* frees the device */
    /* initial contents are copied */
    CHECK_OK(vl_io_mem_open(buf, 100, &io));
    buf[0] ^= 0xff;
    CHECK_OK(io->read(io->ctx, 0, rd, 100));
    CHECK(rd[0] == (uint8_t)(buf[0] ^ 0xff) && memcmp(rd + 1, buf + 1, 99) == 0);
    vl_io_mem_free(io);
    vl_io_mem_free(NULL);
    CHECK_RC(vl_io_mem_open(NULL, 5, &io), VL_EINVAL);
    CHECK_RC(vl_io_mem_open(NULL, 0, NULL), VL_EINVAL);
    return 0;
}

int test_io_mem_fail_after(void)
{
    vl_io *io;
    CHECK_OK(vl_io_mem_open(NULL, 0, &io));
    uint8_t buf[100];
    memset(buf, 0xab, sizeof buf);
    uint64_t sz;
    vl_io_mem_fail_after(io, 2);
    CHECK_OK(io->append(io->ctx, buf, 10));
    CHECK_OK(io->read(io->ctx, 0, buf, 10));           /* reads are not counted */
    CHECK_OK(io->size(io->ctx, &sz));
    CHECK_OK(io->sync(io->ctx));
    CHECK_RC(io->append(io->ctx, buf, 20), VL_EIO);    /* third append/sync fails, torn */
    CHECK_OK(io->size(io->ctx, &sz));
    CHECK(sz == 20);                                   /* 10 + half of 20 */
    CHECK_RC(io->sync(io->ctx), VL_EIO);
    CHECK_RC(io->append(io->ctx, buf, 1), VL_EIO);     /* 1/2 = 0 bytes land */
    CHECK_OK(io->size(io->ctx, &sz));
    CHECK(sz == 20);
    CHECK_OK(io->read(io->ctx, 0, buf, 20));           /* reads still work */
    CHECK_OK(io->truncate(io->ctx, 10));               /* so does truncate */
    vl_io_mem_fail_after(io, 0);                       /* disarm */
    CHECK_OK(io->append(io->ctx, buf, 5));
    CHECK_OK(io->sync(io->ctx));
    CHECK_OK(io->size(io->ctx, &sz));
    CHECK(sz == 15);
    vl_io_mem_fail_after(io, 1);
    CHECK_OK(io->sync(io->ctx));
    CHECK_RC(io->sync(io->ctx), VL_EIO);
    vl_io_mem_free(io);
    return 0;
}

/* ---- allocation failures leave the index unchanged ---- */

typedef struct { uint64_t ids[40]; float d[40]; uint32_t c[4]; } snap;

static int take(vl_index *h, const float *qs, snap *s)
{
    memset(s, 0, sizeof *s);
    return vl_index_search(h, 4, qs, 10, 32, NULL, 0, s->ids, s->d, s->c);
}

static int same(const snap *a, const snap *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

int test_alloc_failure_unchanged(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        const uint32_t n = 300, dim = 8, nb = 120;
        float *x = t_clustered(n + nb, dim, 5, 0.3, 12);
        uint64_t *ids = t_alloc((n + nb) * sizeof *ids);
        for (uint32_t i = 0; i < n + nb; i++) ids[i] = i * 3;
        /* the batch: 60 existing ids with new vectors + 60 new ids */
        uint64_t bid[120];
        for (uint32_t i = 0; i < nb; i++) bid[i] = i < 60 ? ids[i * 2] : ids[n + i];
        uint32_t f;
        /* reference: the same history without failures */
        vl_index *ref = t_index(dim, VL_METRIC_L2, kind, 6, 24, 8);
        vl_index *h = t_index(dim, VL_METRIC_L2, kind, 6, 24, 8);
        CHECK(ref && h);
        CHECK_OK(vl_index_field(ref, "a", 1, &f));
        CHECK_OK(vl_index_field(h, "a", 1, &f));
        uint8_t *meta = t_alloc(nb * 16);
        uint32_t off[121];
        off[0] = 0;
        for (uint32_t i = 0; i < nb; i++) {
            uint32_t l = t_rec_begin(meta + off[i]);
            l = t_rec_i64(meta + off[i], l, (uint16_t)f, i);
            off[i + 1] = off[i] + l;
        }
        CHECK_OK(vl_index_upsert(ref, n, ids, x, NULL, NULL));
        CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
        const float *qs = x + 3 * dim;
        snap before, after, want;
        CHECK_OK(take(h, qs, &before));
        int failures = 0;
        for (int32_t k = 0;; k++) {
            vl__test_alloc_fail_after(k);
            int rc = vl_index_upsert(h, nb, bid, x + (size_t)n * dim, meta, off);
            vl__test_alloc_fail_after(-1);
            if (rc == VL_OK) break;
            CHECK_RC(rc, VL_ENOMEM);
            failures++;
            CHECK(vl_index_count(h) == n);
            CHECK_RCH(h, vl_index_check(h), VL_OK);
            CHECK_OK(take(h, qs, &after));
            CHECK(same(&before, &after));
            CHECK(k < 1000);
        }
        CHECK(failures > 3);
        CHECK_OK(vl_index_upsert(ref, nb, bid, x + (size_t)n * dim, meta, off));
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        CHECK_OK(take(h, qs, &after));
        CHECK_OK(take(ref, qs, &want));
        CHECK(same(&after, &want));     /* the RNG was rolled back: identical graph */
        /* set_meta and field registration under failure */
        for (int32_t k = 0;; k++) {
            vl__test_alloc_fail_after(k);
            int rc = vl_index_set_meta(h, 60, bid + 60, meta, off);
            vl__test_alloc_fail_after(-1);
            if (rc == VL_OK) break;
            CHECK_RC(rc, VL_ENOMEM);
            const uint8_t *m;
            uint32_t ml;
            CHECK_OK(vl_index_get(h, &bid[60], NULL, &m, &ml));
            CHECK(ml == off[61] - off[60] && memcmp(m, meta + off[60], ml) == 0);
            CHECK_RCH(h, vl_index_check(h), VL_OK);
        }
        for (int32_t k = 0;; k++) {
            vl__test_alloc_fail_after(k);
            uint32_t fid;
            int rc = vl_index_field(h, "newfield", 8, &fid);
            vl__test_alloc_fail_after(-1);
            if (rc == VL_OK) { CHECK(fid == 1); break; }
            CHECK_RC(rc, VL_ENOMEM);
            CHECK(vl_index_field_count(h) == 1);
        }
        /* search under failure: ENOMEM, outputs untouched, then fine */
        vl_index *s2 = t_index(dim, VL_METRIC_L2, kind, 6, 24, 8);
        CHECK(s2);
        CHECK_OK(vl_index_upsert(s2, n, ids, x, NULL, NULL));
        vl__test_alloc_fail_after(0);
        snap sn;
        memset(&sn, 0x5a, sizeof sn);
        int rc = vl_index_search(s2, 4, qs, 10, 500, NULL, 0, sn.ids, sn.d, sn.c);
        vl__test_alloc_fail_after(-1);
        CHECK_RC(rc, VL_ENOMEM);
        CHECK(sn.c[0] == 0x5a5a5a5au);
        vl_index_free(s2);
        /* index creation */
        vl_config cfg;
        CHECK_OK(vl_index_config(h, &cfg));
        vl_index *h3 = NULL;
        vl__test_alloc_fail_after(0);
        int rc3 = vl_index_new(&cfg, &h3);
        vl__test_alloc_fail_after(-1);
        CHECK_RC(rc3, VL_ENOMEM);
        CHECK(h3 == NULL);
        free(meta); free(x); free(ids);
        vl_index_free(h);
        vl_index_free(ref);
    }
    return 0;
}
