/*
 * test_text_store.c — the persisted keyword index (src/store_text.c, the
 * TEXT codec of src/text.c): a store closed after writes is reopened from
 * its TEXT segment (adopted, no rebuild) and every BM25 answer (ids and
 * float scores) equals the same index rebuilt from the records; a TEXT made
 * stale by later META/VEC commits is not used (the answers equal the
 * writer's); compaction writes one; hostile payloads under a valid content
 * hash (flipped bytes, huge varints, every truncation, another field) are
 * rejected and the index rebuilt, never a crash, vl_index_check clean.
 */
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "../../src/io.h"
#include "../../src/rvf.h"
#include "../../src/crc32.h"
#include "../../src/store.h"
#include "../../src/index.h"

#define TS_N 1500u
#define TS_NQ 40u
#define TS_K 60u
static const char *TS_WORDS[] = { "apple", "Pie", "car", "ocean", "wave", "engine", "red", "blue", "green", "tart",
                                  "Straße", "ÄPFEL", "Ωmega", "ПРИВЕТ", "naïve", "日本語", "x9", "zebra", "quartz", "lamp" };
#define TS_NW (sizeof TS_WORDS / sizeof *TS_WORDS)
static const uint8_t TSFID[16] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3 };

typedef struct ts_answers { uint64_t ids[TS_NQ][TS_K]; float sc[TS_NQ][TS_K]; uint32_t n[TS_NQ]; } ts_answers;

/* record of row i, generation gen: 1..9 words (some rows hold no field, some a non-string) */
static uint32_t ts_rec(uint8_t *buf, uint16_t fid, uint32_t i, uint32_t gen)
{
    uint64_t s = i * 2654435761u + gen * 7919u + 11;
    uint32_t len = t_rec_begin(buf);
    if (i % 17 == 5) return len;                                   /* no field */
    if (i % 23 == 7) return t_rec_i64(buf, len, fid, (int64_t)i);  /* not a string */
    char text[256] = "";
    uint32_t n = 1 + (uint32_t)(t_rand(&s) % 9);
    for (uint32_t j = 0; j < n; j++) {
        strcat(text, TS_WORDS[t_rand(&s) % (TS_NW - (gen & 1))]);
        strcat(text, j % 3 == 0 ? " " : j % 3 == 1 ? ", " : " -- ");
    }
    return t_rec_str(buf, len, fid, VL_TAG_STR, text, (uint32_t)strlen(text));
}

static int ts_query(uint32_t q, char *out)
{
    uint64_t s = q * 40503u + 1;
    out[0] = 0;
    uint32_t n = 1 + (uint32_t)(t_rand(&s) % 3);
    for (uint32_t j = 0; j < n; j++) { strcat(out, TS_WORDS[t_rand(&s) % TS_NW]); strcat(out, " "); }
    return 0;
}

static int ts_answer(vl_index *h, ts_answers *a)
{
    memset(a, 0, sizeof *a);
    CHECK_OK(vl_index_check(h));
    for (uint32_t q = 0; q < TS_NQ; q++) {
        char text[128];
        ts_query(q, text);
        CHECK_RCH(h, vl_index_search_text(h, (const uint8_t *)text, (uint32_t)strlen(text), TS_K, NULL, 0,
                                          a->ids[q], a->sc[q], &a->n[q]), VL_OK);
    }
    return 0;
}

static int ts_same(const ts_answers *a, const ts_answers *b, const char *what)
{
    uint32_t hits = 0;
    for (uint32_t q = 0; q < TS_NQ; q++) {
        hits += a->n[q];
        if (a->n[q] != b->n[q] || memcmp(a->ids[q], b->ids[q], a->n[q] * sizeof(uint64_t)) ||
            memcmp(a->sc[q], b->sc[q], a->n[q] * sizeof(float))) {
            fprintf(stderr, "  %s: query %u differs (%u vs %u hits)\n", what, q, a->n[q], b->n[q]);
            return 1;
        }
    }
    CHECK(hits > TS_NQ);     /* the queries do match documents */
    return 0;
}

static int ts_open(const uint8_t *b, uint64_t len, const vl_config *c, vl_io **io, vl_store **s)
{
    char m[256];
    CHECK_OK(vl_io_mem_open(b, len, io));
    int rc = vl_store_open(*io, c, c ? VL_STORE_CREATE : 0, TSFID, s, m, sizeof m);
    if (rc) fprintf(stderr, "  open: %s\n", m);
    CHECK_OK(rc);
    return 0;
}

/* The answers after dropping and rebuilding the keyword index in place. */
static int ts_rebuilt(vl_index *h, ts_answers *a)
{
    CHECK_OK(vl_index_set_text(h, NULL, 0));
    CHECK_OK(vl_index_set_text(h, "body", 4));
    return ts_answer(h, a);
}

/* A store of kind: TS_N rows, deletes and metadata rewrites, closed (a TEXT
 * written by close). Its bytes into *img (the caller frees the device). */
static int ts_build(uint32_t kind, vl_io **img)
{
    vl_config c;
    memset(&c, 0, sizeof c);
    c.dim = 4; c.metric = VL_METRIC_L2; c.kind = kind; c.m = 8; c.ef_construction = 40; c.seed = 2;
    vl_io *io;
    vl_store *s;
    if (ts_open(NULL, 0, &c, &io, &s)) return 1;
    CHECK_OK(vl_store_set_text(s, "body", 4));
    uint32_t fid;
    CHECK_OK(vl_store_field(s, "body", 4, &fid));
    static uint8_t recs[TS_N * 256];
    static uint32_t off[TS_N + 1];
    static uint64_t ids[TS_N];
    static float v[TS_N * 4];
    for (uint32_t i = 0; i < TS_N; i++) {
        off[i + 1] = off[i] + ts_rec(recs + off[i], (uint16_t)fid, i, 0);
        ids[i] = (uint64_t)i * 3 + 1;          /* ids not in slot order after the churn */
        for (uint32_t d = 0; d < 4; d++) v[i * 4 + d] = (float)((i * 7 + d * 13) % 101);
    }
    CHECK_OK(vl_store_upsert(s, TS_N / 2, ids, v, recs, off));
    uint32_t off2[TS_N / 2 + 1];
    for (uint32_t i = 0; i <= TS_N / 2; i++) off2[i] = off[TS_N / 2 + i] - off[TS_N / 2];
    CHECK_OK(vl_store_upsert(s, TS_N / 2, ids + TS_N / 2, v + TS_N / 2 * 4, recs + off[TS_N / 2], off2));
    uint64_t del[TS_N / 4];
    uint32_t nd = 0, got;
    for (uint32_t i = 0; i < TS_N; i += 4) del[nd++] = ids[i];
    CHECK_OK(vl_store_delete(s, nd, del, &got));
    for (uint32_t i = 1; i < TS_N; i += 9) {
        if (i % 4 == 0) continue;                     /* deleted */
        uint32_t o[2] = { 0, ts_rec(recs, (uint16_t)fid, i, 1) };
        CHECK_OK(vl_store_set_meta(s, 1, &ids[i], recs, o));
    }
    CHECK_OK(vl_store_close(s));
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    if (ts_open(b, n, NULL, img, &s)) return 1;      /* a copy of the bytes */
    vl_store_close(s);
    vl_io_mem_free(io);
    return 0;
}

int test_text_store_adopt(void)
{
    static ts_answers a, b;
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_io *img, *io;
        vl_store *s;
        if (ts_build(kind, &img)) return 1;
        uint64_t n, toff, tlen;
        const uint8_t *bytes = vl_io_mem_data(img, &n);
        if (ts_open(bytes, n, NULL, &io, &s)) return 1;
        CHECK(t_store_segs(s, VL_RVF_SEG_TEXT, &toff, &tlen) == 1);
        CHECK(s->text_adopted == 1 && s->text_note[0] == 0);
        vl_index *h = vl_store_index(s);
        if (ts_answer(h, &a) || ts_rebuilt(h, &b) || ts_same(&a, &b, kind ? "hnsw adopted" : "flat adopted")) return 1;
        /* a write after the TEXT: an image without close's checkpoint is not adopted */
        uint32_t fid;
        CHECK_OK(vl_store_field(s, "body", 4, &fid));
        uint8_t rec[256];
        uint32_t o[2] = { 0, ts_rec(rec, (uint16_t)fid, 9999, 0) };
        uint64_t nid = 7;                                  /* 7 = 2*3+1: an existing id gets new text */
        CHECK_OK(vl_store_set_meta(s, 1, &nid, rec, o));
        if (ts_answer(h, &a)) return 1;
        const uint8_t *b2 = vl_io_mem_data(io, &n);
        vl_io *io2;
        vl_store *s2;
        if (ts_open(b2, n, NULL, &io2, &s2)) return 1;
        CHECK(s2->text_adopted == 0 && s2->text_note[0] == 0);
        if (ts_answer(vl_store_index(s2), &b) || ts_same(&a, &b, "stale TEXT")) return 1;
        vl_store_close(s2);
        vl_io_mem_free(io2);
        /* a new row (VEC after the TEXT) likewise */
        float row[4] = { 1, 2, 3, 4 };
        uint64_t rid = 100000;
        CHECK_OK(vl_store_upsert(s, 1, &rid, row, rec, o));
        if (ts_answer(h, &a)) return 1;
        b2 = vl_io_mem_data(io, &n);
        if (ts_open(b2, n, NULL, &io2, &s2)) return 1;
        CHECK(s2->text_adopted == 0);
        if (ts_answer(vl_store_index(s2), &b) || ts_same(&a, &b, "rows after TEXT")) return 1;
        vl_store_close(s2);
        vl_io_mem_free(io2);
        /* close writes a current TEXT; the reopen adopts it */
        CHECK_OK(vl_store_close(s));
        b2 = vl_io_mem_data(io, &n);
        if (ts_open(b2, n, NULL, &io2, &s2)) return 1;
        CHECK(s2->text_adopted == 1);
        CHECK(t_store_segs(s2, VL_RVF_SEG_TEXT, &toff, &tlen) == 1);   /* the old one unlisted */
        if (ts_answer(vl_store_index(s2), &b) || ts_same(&a, &b, "after close")) return 1;
        /* a delete after the TEXT: the deleted id is skipped (no META written) or the TEXT is stale */
        uint32_t got;
        CHECK_OK(vl_store_delete(s2, 1, &nid, &got));
        CHECK(got == 1);
        if (ts_answer(vl_store_index(s2), &a)) return 1;
        b2 = vl_io_mem_data(io2, &n);
        vl_io *io3;
        vl_store *s3;
        if (ts_open(b2, n, NULL, &io3, &s3)) return 1;
        if (ts_answer(vl_store_index(s3), &b) || ts_same(&a, &b, "delete after TEXT")) return 1;
        vl_store_close(s3);
        vl_io_mem_free(io3);
        /* compaction writes a TEXT after the rows and the META snapshot */
        vl_io *dst;
        CHECK_OK(vl_io_mem_open(NULL, 0, &dst));
        CHECK_OK(vl_store_compact(s2, dst));
        b2 = vl_io_mem_data(dst, &n);
        if (ts_open(b2, n, NULL, &io3, &s3)) return 1;
        CHECK(s3->text_adopted == 1);
        if (ts_answer(vl_store_index(s3), &b) || ts_same(&a, &b, "compacted")) return 1;
        if (ts_rebuilt(vl_store_index(s3), &b) || ts_same(&a, &b, "compacted, rebuilt")) return 1;
        vl_store_close(s3);
        vl_io_mem_free(io3);
        vl_store_close(s2);
        vl_io_mem_free(io2);
        vl_io_mem_free(dst);
        vl_io_mem_free(io);
        vl_io_mem_free(img);
    }
    return 0;
}

static void ts_rehash(uint8_t *b, uint64_t off, uint64_t plen)
{
    uint8_t h16[16];
    vl_rvf_content_hash(vl_crc32(0, b + off + 64, (size_t)plen), h16);
    memcpy(b + off + 0x28, h16, 16);
}

/* Forged TEXT payloads with valid hashes: the open succeeds; a rejected one
 * is rebuilt (answers equal the reference); damage is reported by verify. */
int test_text_store_hostile(void)
{
    static ts_answers ref, a;
    vl_io *img, *io;
    vl_store *s;
    if (ts_build(VL_INDEX_HNSW, &img)) return 1;
    uint64_t n, toff, tlen;
    const uint8_t *bytes = vl_io_mem_data(img, &n);
    if (ts_open(bytes, n, NULL, &io, &s)) return 1;
    CHECK(t_store_segs(s, VL_RVF_SEG_TEXT, &toff, &tlen) == 1);
    CHECK(s->text_adopted == 1);
    if (ts_answer(vl_store_index(s), &ref)) return 1;
    /* the codec: every truncation, another field, huge counts */
    vl_index *h = vl_store_index(s);
    const uint8_t *pay = bytes + toff + 64;
    char why[160];
    int adopted;
    uint64_t gen = s->meta_gen;
    CHECK_OK(vl__text_set_adopt(h, "body", 4, pay, tlen, gen + 1, &adopted, why, sizeof why));
    CHECK(!adopted && why[0] == 0);                            /* another META generation: stale, no problem */
    for (uint64_t cut = 0; cut < tlen; cut += cut < 64 ? 1 : 1 + cut / 50) {
        CHECK_OK(vl__text_set_adopt(h, "body", 4, pay, cut, gen, &adopted, why, sizeof why));
        CHECK(!adopted && why[0]);
    }
    if (ts_answer(h, &a) || ts_same(&ref, &a, "truncated")) return 1;
    CHECK_OK(vl__text_set_adopt(h, "bodz", 4, pay, tlen, gen, &adopted, why, sizeof why));
    CHECK(!adopted && strstr(why, "another field"));
    uint8_t *m = t_alloc((size_t)tlen + 16);
    memcpy(m, pay, (size_t)tlen);
    memset(m + 28, 0xFF, 9);                                   /* the term count: 2^63-ish */
    CHECK_OK(vl__text_set_adopt(h, "body", 4, m, tlen, gen, &adopted, why, sizeof why));
    CHECK(!adopted);
    memcpy(m, pay, (size_t)tlen);
    memcpy(m + tlen, "\x01\x02", 2);                           /* trailing bytes */
    CHECK_OK(vl__text_set_adopt(h, "body", 4, m, tlen + 2, gen, &adopted, why, sizeof why));
    CHECK(!adopted && strstr(why, "after its documents"));
    CHECK_OK(vl__text_set_adopt(h, "body", 4, pay, tlen, gen, &adopted, why, sizeof why));
    CHECK(adopted);
    if (ts_answer(h, &a) || ts_same(&ref, &a, "adopted again")) return 1;
    free(m);
    /* a live record the payload does not list (another writer's row) is indexed from the record */
    uint32_t fid;
    CHECK_OK(vl_store_field(s, "body", 4, &fid));
    uint8_t rec[256];
    uint32_t o[2] = { 0, ts_rec(rec, (uint16_t)fid, 4242, 0) };
    uint64_t nid = 900000;
    float row[4] = { 5, 5, 5, 5 };
    CHECK_OK(vl_index_upsert(h, 1, &nid, row, rec, o));
    CHECK_OK(vl__text_set_adopt(h, "body", 4, pay, tlen, gen, &adopted, why, sizeof why));
    CHECK(adopted);
    if (ts_answer(h, &a) || ts_rebuilt(h, &ref) || ts_same(&ref, &a, "adopted plus a row")) return 1;
    uint32_t nd;
    CHECK_OK(vl_index_delete(h, 1, &nid, &nd));
    if (ts_answer(h, &ref)) return 1;
    vl_store_close(s);
    vl_io_mem_free(io);
    /* the file: random byte flips in the payload, rehashed */
    uint8_t *f = t_alloc((size_t)n);
    uint64_t seed = 12345;
    uint32_t rejected = 0, taken = 0;
    for (uint32_t it = 0; it < 300; it++) {
        memcpy(f, bytes, (size_t)n);
        uint32_t flips = 1 + it % 3;
        for (uint32_t j = 0; j < flips; j++) {
            uint64_t at = t_rand(&seed) % tlen;
            if (at >= 12 && at < 20) at += 8;              /* not the stamp (a stale TEXT: tested above) */
            at += toff + 64;
            uint8_t x = (uint8_t)(1u << (t_rand(&seed) % 8));
            if (it % 5 == 4) x = (uint8_t)t_rand(&seed) | 1;
            f[at] ^= x;
        }
        ts_rehash(f, toff, tlen);
        char msg[256];
        CHECK_OK(vl_io_mem_open(f, n, &io));
        int rc = vl_store_open(io, NULL, VL_STORE_READONLY, NULL, &s, msg, sizeof msg);
        if (rc) { fprintf(stderr, "  flip %u: open rc %d %s\n", it, rc, msg); return 1; }
        CHECK_OK(vl_index_check(vl_store_index(s)));
        if (!s->text_adopted) {
            rejected++;
            CHECK(strstr(s->text_note, "TEXT not used"));
            if (ts_answer(vl_store_index(s), &a) || ts_same(&ref, &a, "rejected TEXT")) return 1;
            vl_store_verify_result vr;
            CHECK_OK(vl_store_verify(s, &vr));
            CHECK(vr.problems && strstr(vl_store_problems(s), "TEXT not used"));
        } else {
            taken++;                 /* consistent with every check: searches stay well-formed */
            if (ts_answer(vl_store_index(s), &a)) return 1;
        }
        vl_store_close(s);
        vl_io_mem_free(io);
    }
    free(f);
    vl_io_mem_free(img);
    fprintf(stderr, "  300 forged TEXT payloads: %u rejected (rebuilt), %u consistent enough to adopt\n", rejected, taken);
    CHECK(rejected >= 270);
    return 0;
}
