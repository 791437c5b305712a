/*
 * test_quant_attack.c — adversarial tests of quantized stores
 * (src/store_quant.c, src/index_quant.c): forged QUANT payloads with valid
 * hashes, garbage "veclite.quant" file metadata, stale codes after updates,
 * crash cuts through a quantized store, and a row source whose device
 * fails. Every open either refuses with a format error or yields a store
 * whose get() returns the exact rows and whose search reports exact
 * distances of the ids it returns.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "../../src/quant.h"
#include "../../src/io.h"
#include "../../src/rvf.h"
#include "../../src/crc32.h"
#include "../../src/store.h"

#define QA_DIM 8
#define QA_N 1100

static const uint8_t QAFID[16] = { 7, 7, 7, 7, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };

/* the expected state: rows by id (id < QA_CAP), live flags */
#define QA_CAP 1300
typedef struct qmodel { float v[QA_CAP][QA_DIM]; uint8_t live[QA_CAP]; } qmodel;

static float qa_l2(const float *a, const float *b)
{
    double s = 0;
    for (uint32_t d = 0; d < QA_DIM; d++) { double x = (double)a[d] - b[d]; s += x * x; }
    return (float)sqrt(s);           /* search reports the Euclidean distance */
}

/* get() exact for every live id, absent for the others; search of some
 * live rows returns them at distance 0 and every reported distance exact. */
static int qa_check_r(const qmodel *m, vl_store *s, const char *what, int recall)
{
    vl_index *h = vl_store_index(s);
    uint32_t live = 0;
    for (uint32_t id = 0; id < QA_CAP; id++) {
        float v[QA_DIM];
        uint64_t i64 = id;
        int rc = vl_index_get(h, &i64, v, NULL, NULL);
        if (m->live[id]) {
            live++;
            if (rc != VL_OK || memcmp(v, m->v[id], sizeof v) != 0) {
                fprintf(stderr, "  %s: get(%u) rc %d (%s) or row differs\n", what, id, rc, vl_errmsg(h));
                return 1;
            }
        } else if (rc != VL_ENOTFOUND) {
            fprintf(stderr, "  %s: get(%u) of a dead id: rc %d\n", what, id, rc);
            return 1;
        }
    }
    if (vl_index_count(h) != live) { fprintf(stderr, "  %s: count %llu, want %u\n", what, (unsigned long long)vl_index_count(h), live); return 1; }
    uint32_t tried = 0;
    for (uint32_t id = 0; id < QA_CAP && tried < 40; id += 7) {
        if (!m->live[id]) continue;
        tried++;
        uint64_t got[5];
        float gd[5];
        uint32_t cnt = 0;
        int rc = vl_index_search(h, 1, m->v[id], 5, 200, NULL, 0, got, gd, &cnt);
        if (rc) { fprintf(stderr, "  %s: search rc %d: %s\n", what, rc, vl_errmsg(h)); return 1; }
        if (cnt == 0 || (recall && gd[0] != 0.f)) { fprintf(stderr, "  %s: search of id %u: best distance %g\n", what, id, cnt ? gd[0] : -1.0); return 1; }
        for (uint32_t i = 0; i < cnt; i++) {
            if (got[i] >= QA_CAP || !m->live[got[i]]) { fprintf(stderr, "  %s: search returned dead id %llu\n", what, (unsigned long long)got[i]); return 1; }
            float want = qa_l2(m->v[id], m->v[got[i]]);
            if (fabsf(want - gd[i]) > 1e-4f * (1 + want)) {
                fprintf(stderr, "  %s: id %llu distance %g, exact %g\n", what, (unsigned long long)got[i], gd[i], want);
                return 1;
            }
        }
    }
    return 0;
}

static int qa_check(const qmodel *m, vl_store *s, const char *what) { return qa_check_r(m, s, what, 1); }

static void qa_rows(qmodel *m, uint32_t n, const uint64_t *ids, float *v, uint64_t *seed)
{
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t d = 0; d < QA_DIM; d++) v[(size_t)i * QA_DIM + d] = (float)(t_unif(seed) * 2 - 1);
        memcpy(m->v[ids[i]], v + (size_t)i * QA_DIM, sizeof m->v[0]);
        m->live[ids[i]] = 1;
    }
}

static int qa_upsert(vl_store *s, qmodel *m, uint32_t n, const uint64_t *ids, uint64_t *seed)
{
    float *v = t_alloc((size_t)n * QA_DIM * sizeof *v);
    qa_rows(m, n, ids, v, seed);
    int rc = vl_store_upsert(s, n, ids, v, NULL, NULL);
    free(v);
    return rc;
}

static vl_config qa_cfg(void)
{
    vl_config c;
    memset(&c, 0, sizeof c);
    c.dim = QA_DIM; c.metric = VL_METRIC_L2; c.kind = VL_INDEX_HNSW; c.m = 8; c.ef_construction = 40; c.seed = 5;
    return c;
}

static vl_io *qa_dev(const uint8_t *b, uint64_t n)
{
    vl_io *io = NULL;
    if (vl_io_mem_open(b, n, &io)) abort();
    return io;
}

static int qa_open(vl_io *io, const vl_config *c, uint32_t flags, vl_store **s, char *msg, uint32_t cap)
{
    return vl_store_open(io, c, flags | (c ? VL_STORE_CREATE : 0), c ? QAFID : NULL, s, msg, cap);
}

static void qa_rehash(uint8_t *b, uint64_t off)
{
    uint64_t plen = 0;
    for (int i = 7; i >= 0; i--) plen = plen << 8 | b[off + 0x10 + i];
    uint8_t h16[16];
    vl_rvf_content_hash(vl_crc32(0, b + off + 64, (size_t)plen), h16);
    memcpy(b + off + 0x28, h16, 16);
}

/* A quantized store of kind: QA_N rows, a checkpoint (QUANT), then the
 * rows of ids 3, 4 replaced and id 9 deleted (after the QUANT, no
 * checkpoint: the bytes a crash leaves). */
static vl_io *qa_build(uint32_t kind, qmodel *m)
{
    memset(m, 0, sizeof *m);
    vl_config c = qa_cfg();
    vl_io *io = qa_dev(NULL, 0);
    vl_store *s;
    char msg[256];
    if (qa_open(io, &c, 0, &s, msg, sizeof msg)) { fprintf(stderr, "%s\n", msg); abort(); }
    if (vl_store_set_quant(s, kind, kind == VL_QUANT_PRODUCT ? 4 : 0)) abort();
    uint64_t ids[QA_N], seed = 99;
    for (uint32_t i = 0; i < QA_N; i++) ids[i] = i;
    if (qa_upsert(s, m, QA_N, ids, &seed)) abort();
    if (vl_store_checkpoint(s)) abort();
    uint64_t up[2] = { 3, 4 }, del = 9;
    uint32_t nd;
    if (qa_upsert(s, m, 2, up, &seed)) abort();
    if (vl_store_delete(s, 1, &del, &nd)) abort();
    m->live[9] = 0;
    vl_io *img = qa_dev(NULL, 0);
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    vl_io_mem_free(img);
    img = qa_dev(b, n);                 /* the bytes without close's checkpoint */
    vl_store_close(s);
    vl_io_mem_free(io);
    return img;
}

/* Stale codes: rows replaced after the QUANT are encoded again at open. */
int test_quant_attack_stale(void)
{
    static qmodel m;
    for (uint32_t kind = VL_QUANT_SCALAR; kind <= VL_QUANT_PRODUCT; kind++) {
        vl_io *io = qa_build(kind, &m);
        vl_store *s;
        char msg[256];
        CHECK_OK(qa_open(io, NULL, 0, &s, msg, sizeof msg));
        vl_quant_info qi;
        CHECK_OK(vl_index_quant_info(vl_store_index(s), &qi));
        CHECK(qi.trained && qi.trained_on == 0);                /* adopted */
        if (qa_check(&m, s, "crash image")) return 1;
        /* delete + re-insert the same id with a new vector, update another, checkpoint, reopen */
        uint64_t seed = 5, id7 = 7, id8[1] = { 8 };
        uint32_t nd;
        CHECK_OK(vl_store_delete(s, 1, &id7, &nd));
        m.live[7] = 0;
        CHECK_OK(vl_store_checkpoint(s));
        CHECK_OK(qa_upsert(s, &m, 1, &id7, &seed));
        CHECK_OK(qa_upsert(s, &m, 1, id8, &seed));
        CHECK_OK(vl_store_close(s));
        CHECK_OK(qa_open(io, NULL, 0, &s, msg, sizeof msg));
        if (qa_check(&m, s, "after close")) return 1;
        /* many deletes (tombstone reclamation), re-inserts of those ids, compaction */
        uint64_t dids[400];
        for (uint32_t i = 0; i < 400; i++) { dids[i] = 100 + i; m.live[100 + i] = 0; }
        CHECK_OK(vl_store_delete(s, 400, dids, &nd));
        CHECK_OK(qa_upsert(s, &m, 200, dids, &seed));
        vl_io *io2 = qa_dev(NULL, 0);
        CHECK_OK(vl_store_compact(s, io2));
        if (qa_check(&m, s, "after compaction (live)")) return 1;
        CHECK_OK(qa_upsert(s, &m, 1, id8, &seed));               /* after the compaction's QUANT */
        CHECK_OK(vl_store_close(s));
        CHECK_OK(qa_open(io2, NULL, 0, &s, msg, sizeof msg));
        CHECK_OK(vl_index_check(vl_store_index(s)));
        if (qa_check(&m, s, "compacted reopen")) return 1;
        CHECK_OK(vl_store_close(s));
        vl_io_mem_free(io2);
        vl_io_mem_free(io);
    }
    return 0;
}

/* Forged QUANT payloads with valid hashes: refused (ECORRUPT), or ignored
 * (trained again), or adopted; never a crash, never a wrong row/distance. */
int test_quant_attack_hostile(void)
{
    static qmodel m;
    for (uint32_t kind = VL_QUANT_SCALAR; kind <= VL_QUANT_PRODUCT; kind++) {
        vl_io *io = qa_build(kind, &m);
        vl_store *s;
        char msg[256];
        CHECK_OK(qa_open(io, NULL, VL_STORE_READONLY, &s, msg, sizeof msg));
        uint64_t qoff = 0, qlen = 0;
        CHECK(t_store_segs(s, VL_RVF_SEG_QUANT, &qoff, &qlen));
        vl_store_close(s);
        uint64_t n;
        const uint8_t *b = vl_io_mem_data(io, &n);
        uint8_t *img = t_alloc((size_t)n);
        uint32_t plen = (uint32_t)b[qoff + 64 + 8] | (uint32_t)b[qoff + 64 + 9] << 8 |
                        (uint32_t)b[qoff + 64 + 10] << 16 | (uint32_t)b[qoff + 64 + 11] << 24;
        uint64_t rs = 31 + kind;
        uint32_t opened = 0, bad = 0;
        for (uint32_t it = 0; it < 40 + 300; it++) {
            memcpy(img, b, (size_t)n);
            uint8_t *p = img + qoff + 64, *qp = p + 12, *ids = p + 16 + plen;
            float f;
            switch (it) {
            case 0: p[0] ^= 1; break;                                   /* magic */
            case 1: t_put32(p + 8, 0xffffffffu); break;                 /* plen */
            case 2: t_put32(p + 8, plen + 4); break;
            case 3: t_put32(p + 12 + plen, 0xffffffffu); break;         /* n */
            case 4: t_put32(p + 12 + plen, 0x10000000u); break;
            case 5: { uint8_t t[8]; memcpy(t, ids, 8); memcpy(ids, ids + 8, 8); memcpy(ids + 8, t, 8); } break;
            case 6: memcpy(ids + 16, ids + 8, 8); break;                /* duplicate id */
            case 7: qp[0] = (uint8_t)(kind == VL_QUANT_SCALAR ? VL_QUANT_PRODUCT : VL_QUANT_SCALAR); break;
            case 8: qp[0] = 9; break;
            case 9: qp[1] ^= 1; break;                                  /* metric */
            case 10: t_put32(qp + 4, QA_DIM + 1); break;                /* dim */
            case 11: t_put32(qp + 8, 3); break;                         /* m */
            case 12: t_put32(qp + 12, 0); break;                        /* code size */
            case 13: f = NAN; memcpy(qp + 16, &f, 4); break;            /* step / sub[0] */
            case 14: f = -1.f; memcpy(qp + 16, &f, 4); break;
            case 15: f = 1e-44f; memcpy(qp + 16, &f, 4); break;         /* a denormal step */
            case 16: f = 1e30f; memcpy(qp + 16, &f, 4); break;
            case 17: f = INFINITY; memcpy(qp + 20, &f, 4); break;       /* lo[0] / sub[1] */
            case 18: f = 3e38f; memcpy(qp + 20, &f, 4); break;
            case 19: f = -3e38f; memcpy(qp + 20, &f, 4); break;
            case 20: t_put32(qp + 16, 5); break;                        /* product: sub[0] != 0 */
            case 21: t_put32(qp + 20, 0x7fffffffu); break;              /* product: sub[1] huge */
            case 22: t_put32(qp + 20, 0); break;                        /* empty sub-vector */
            case 23: for (uint32_t i = 0; i < 64; i++) t_put64(ids + 8ull * i, 5000 + i); break;   /* ids not in the store */
            case 24: memset(ids + 8ull * QA_N, 0xff, (size_t)(qlen - 16 - plen - 8ull * QA_N)); break; /* every code 255 */
            case 25: if (kind == VL_QUANT_PRODUCT) { f = 3e38f; for (uint32_t i = 0; i < 256 * QA_DIM; i++) memcpy(qp + 16 + 4 * 5 + 4 * i, &f, 4); } break;
            case 26: f = 1e-38f; memcpy(qp + 16, &f, 4); break;         /* a tiny normal step */
            default:
                if (it < 40) continue;
                for (uint32_t k = 1 + (uint32_t)(t_rand(&rs) % 4); k; k--) {
                    uint64_t at = t_rand(&rs) % qlen;
                    if (t_rand(&rs) & 1) p[at] ^= (uint8_t)(1u << (t_rand(&rs) % 8));
                    else p[at] = (uint8_t)t_rand(&rs);
                }
            }
            qa_rehash(img, qoff);
            vl_io *t = qa_dev(img, n);
            vl_store *r = NULL;
            msg[0] = 0;
            int rc = qa_open(t, NULL, 0, &r, msg, sizeof msg);
            if (rc == VL_OK) {
                opened++;
                char what[64];
                snprintf(what, sizeof what, "kind %u forgery %u", kind, it);
                CHECK_RCH(vl_store_index(r), vl_index_check(vl_store_index(r)), VL_OK);
                /* codes or offsets forged consistently with the hash: adopted, so the walk
                 * is poor (recall not checked), yet every reported distance is exact */
                int forged_codes = it == 18 || it == 19 || it == 24 || it == 25 || it >= 40;   /* random bytes: centroids, codes */
                if (qa_check_r(&m, r, what, !forged_codes)) bad++;
                vl_store_close(r);
            } else {
                if (rc != VL_ECORRUPT) fprintf(stderr, "  kind %u forgery %u: rc %d %s\n", kind, it, rc, msg);
                CHECK(rc == VL_ECORRUPT);
            }
            vl_io_mem_free(t);
        }
        CHECK(opened > 0 && bad == 0);
        free(img);
        vl_io_mem_free(io);
    }
    return 0;
}

/* Garbage "veclite.quant" values: refused with ECORRUPT or opened right. */
int test_quant_attack_file_meta(void)
{
    static qmodel m;
    vl_io *base = qa_build(VL_QUANT_SCALAR, &m);
    static const uint8_t vals[][12] = {
        { 1, 0, 0, 0, 0, 0, 0, 0 }, { 2, 0, 0, 0, 0, 0, 0, 0 }, { 2, 0, 0, 0, 8, 0, 0, 0 },
        { 2, 0, 0, 0, 9, 0, 0, 0 }, { 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff }, { 3, 0, 0, 0, 0, 0, 0, 0 },
        { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 }, { 1, 0, 0, 0, 1, 0, 0, 0 }, { 0, 0, 0, 0, 5, 0, 0, 0 }, { 1, 2, 3 },
    };
    static const uint32_t lens[] = { 8, 8, 8, 8, 8, 8, 8, 8, 8, 3, 12 };
    for (uint32_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint64_t n;
        const uint8_t *b = vl_io_mem_data(base, &n);
        vl_io *io = qa_dev(b, n);
        vl_store *s;
        char msg[256];
        CHECK_OK(qa_open(io, NULL, 0, &s, msg, sizeof msg));
        CHECK_OK(vl__store_fm_commit(s, "veclite.quant", 13, vals[i < 10 ? i : 0], lens[i]));
        CHECK_OK(vl_store_close(s));
        msg[0] = 0;
        int rc = qa_open(io, NULL, 0, &s, msg, sizeof msg);
        if (rc == VL_OK) {
            char what[64];
            snprintf(what, sizeof what, "file meta %u", i);
            if (qa_check(&m, s, what)) return 1;
            vl_store_close(s);
        } else {
            fprintf(stderr, "  (file meta %u: %s: %s)\n", i, vl_errstr(rc), msg);
            CHECK(rc == VL_ECORRUPT && strstr(msg, "quantization") != NULL);
        }
        vl_io_mem_free(io);
    }
    vl_io_mem_free(base);
    return 0;
}

/* A quantized store cut at commit boundaries (every byte near each commit's
 * end, every 97th elsewhere) opens at the last whole commit, exactly. */
int test_quant_attack_truncate(void)
{
    static qmodel states[10];
    static qmodel m;
    uint64_t ends[10];
    uint32_t ns = 0;
    memset(&m, 0, sizeof m);
    vl_config c = qa_cfg();
    vl_io *io = qa_dev(NULL, 0);
    vl_store *s;
    char msg[256];
    CHECK_OK(qa_open(io, &c, 0, &s, msg, sizeof msg));
    CHECK_OK(vl_store_set_quant(s, VL_QUANT_SCALAR, 0));
    uint64_t n;
#define SNAP() do { states[ns] = m; (void)vl_io_mem_data(io, &n); ends[ns++] = n; } while (0)
    SNAP();
    uint64_t ids[QA_N + 50], seed = 17;
    for (uint32_t i = 0; i < QA_N + 50; i++) ids[i] = i;
    CHECK_OK(qa_upsert(s, &m, QA_N, ids, &seed)); SNAP();
    CHECK_OK(vl_store_checkpoint(s)); SNAP();
    uint64_t up[2] = { 3, 4 }, del = 9;
    uint32_t nd;
    CHECK_OK(qa_upsert(s, &m, 2, up, &seed)); SNAP();
    CHECK_OK(vl_store_delete(s, 1, &del, &nd)); m.live[9] = 0; SNAP();
    CHECK_OK(qa_upsert(s, &m, 50, ids + QA_N, &seed)); SNAP();
    CHECK_OK(vl_store_checkpoint(s)); SNAP();
    CHECK_OK(qa_upsert(s, &m, 1, up, &seed)); SNAP();
    CHECK_OK(vl_store_close(s)); SNAP();
#undef SNAP
    const uint8_t *b = vl_io_mem_data(io, &n);
    uint32_t tested = 0;
    for (uint64_t cut = ends[0]; cut <= n; cut++) {
        int near = 0;
        for (uint32_t k = 1; k < ns; k++) if (cut + 100 >= ends[k] && cut <= ends[k] + 100) near = 1;
        if (!near && cut % 97) continue;
        tested++;
        vl_io *t = qa_dev(b, cut);
        vl_store *r = NULL;
        int rc = qa_open(t, NULL, VL_STORE_READONLY, &r, msg, sizeof msg);
        if (rc) { fprintf(stderr, "  cut %llu: %s\n", (unsigned long long)cut, msg); return 1; }
        uint32_t k = 0;
        while (k + 1 < ns && ends[k + 1] <= cut) k++;
        char what[64];
        snprintf(what, sizeof what, "cut %llu (commit %u)", (unsigned long long)cut, k);
        if (qa_check(&states[k], r, what)) return 1;
        vl_store_close(r);
        vl_io_mem_free(t);
    }
    CHECK(tested > 1500);
    vl_io_mem_free(io);
    return 0;
}

/* A device that fails reads on demand. */
typedef struct fio { vl_io io; vl_io *base; int fail; } fio;
static int f_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
    fio *f = ctx;
    return f->fail ? VL_EIO : f->base->read(f->base->ctx, off, buf, len);
}
static int f_read_many(void *ctx, uint32_t n, const uint64_t *offs, uint32_t len, void *buf)
{
    fio *f = ctx;
    if (f->fail) return VL_EIO;
    for (uint32_t i = 0; i < n; i++) {
        int rc = f->base->read(f->base->ctx, offs[i], (uint8_t *)buf + (size_t)i * len, len);
        if (rc) return rc;
    }
    return VL_OK;
}
static int f_append(void *ctx, const void *buf, uint32_t len) { fio *f = ctx; return f->base->append(f->base->ctx, buf, len); }
static int f_size(void *ctx, uint64_t *out) { fio *f = ctx; return f->base->size(f->base->ctx, out); }
static int f_trunc(void *ctx, uint64_t size) { fio *f = ctx; return f->base->truncate(f->base->ctx, size); }
static int f_sync(void *ctx) { fio *f = ctx; return f->base->sync(f->base->ctx); }

/* The re-rank's row reads fail: search and get fail with the device's
 * error and a message, and the handle works again once the device does. */
int test_quant_attack_read_fail(void)
{
    static qmodel m;
    for (int many = 0; many < 2; many++) {
        vl_io *base = qa_build(VL_QUANT_SCALAR, &m);
        fio f;
        memset(&f, 0, sizeof f);
        f.base = base;
        f.io.ctx = &f; f.io.read = f_read; f.io.append = f_append; f.io.size = f_size;
        f.io.truncate = f_trunc; f.io.sync = f_sync; f.io.read_many = many ? f_read_many : NULL;
        vl_store *s;
        char msg[256];
        CHECK_OK(qa_open(&f.io, NULL, 0, &s, msg, sizeof msg));
        vl_index *h = vl_store_index(s);
        f.fail = 1;
        uint64_t got[10 * 3];
        float gd[10 * 3], q[QA_DIM * 3];
        uint32_t cnt[3];
        memcpy(q, m.v[20], sizeof m.v[0]);
        memcpy(q + QA_DIM, m.v[21], sizeof m.v[0]);
        memcpy(q + 2 * QA_DIM, m.v[22], sizeof m.v[0]);
        CHECK_RC(vl_index_search(h, 3, q, 10, 50, NULL, 0, got, gd, cnt), VL_EIO);
        CHECK(strstr(vl_errmsg(h), "re-rank") != NULL);
        float v[QA_DIM];
        uint64_t id = 20;
        CHECK_RC(vl_index_get(h, &id, v, NULL, NULL), VL_EIO);
        f.fail = 0;
        if (qa_check(&m, s, "after the device recovered")) return 1;
        CHECK_OK(vl_store_close(s));
        vl_io_mem_free(base);
    }
    return 0;
}

/* Every row deleted and compacted away: the reopened store keeps its
 * quantizer (an index with no node block) and takes new rows. */
int test_quant_attack_emptied(void)
{
    static qmodel m;
    for (uint32_t kind = VL_QUANT_SCALAR; kind <= VL_QUANT_PRODUCT; kind++) {
        vl_io *io = qa_build(kind, &m);
        vl_store *s;
        char msg[256];
        CHECK_OK(qa_open(io, NULL, 0, &s, msg, sizeof msg));
        uint64_t ids[QA_N];
        uint32_t nd;
        for (uint32_t i = 0; i < QA_N; i++) { ids[i] = i; m.live[i] = 0; }
        CHECK_OK(vl_store_delete(s, QA_N, ids, &nd));
        vl_io *io2 = qa_dev(NULL, 0);
        CHECK_OK(vl_store_compact(s, io2));
        CHECK_OK(vl_store_close(s));
        CHECK_OK(qa_open(io2, NULL, 0, &s, msg, sizeof msg));
        if (qa_check(&m, s, "emptied")) return 1;
        uint64_t seed = 3;
        CHECK_OK(qa_upsert(s, &m, 300, ids, &seed));
        CHECK_OK(vl_index_check(vl_store_index(s)));
        if (qa_check(&m, s, "emptied, refilled")) return 1;
        CHECK_OK(vl_store_close(s));
        CHECK_OK(qa_open(io2, NULL, 0, &s, msg, sizeof msg));
        if (qa_check(&m, s, "emptied, refilled, reopened")) return 1;
        CHECK_OK(vl_store_close(s));
        vl_io_mem_free(io2);
        vl_io_mem_free(io);
    }
    return 0;
}

/* A derive() child of a quantized store: its file carries the parent's
 * "veclite.quant" (file metadata is copied), so the child is quantized in
 * the session that derives it exactly as it is on every reopen. */
int test_quant_attack_derive(void)
{
    static qmodel m, empty;
    for (uint32_t kind = VL_QUANT_SCALAR; kind <= VL_QUANT_PRODUCT; kind++) {
        vl_io *io = qa_build(kind, &m);
        vl_store *s, *c;
        char msg[256];
        CHECK_OK(qa_open(io, NULL, 0, &s, msg, sizeof msg));
        vl_io *cio = qa_dev(NULL, 0);
        CHECK_OK(vl_store_derive(s, cio, QAFID, &c));
        vl_quant_info qi;
        CHECK_OK(vl_index_quant_info(vl_store_index(c), &qi));
        CHECK(qi.kind == kind && !qi.trained);                 /* the child's own rows will train it */
        memset(&empty, 0, sizeof empty);
        uint64_t ids[QA_N], seed = 8;
        for (uint32_t i = 0; i < QA_N; i++) ids[i] = i;
        CHECK_OK(qa_upsert(c, &empty, QA_N, ids, &seed));
        CHECK_OK(vl_index_quant_info(vl_store_index(c), &qi));
        CHECK(qi.kind == kind && qi.trained && qi.trained_on == QA_N);
        if (qa_check(&empty, c, "derived child")) return 1;
        CHECK_OK(vl_store_close(c));
        CHECK_OK(qa_open(cio, NULL, 0, &c, msg, sizeof msg));
        CHECK_OK(vl_index_quant_info(vl_store_index(c), &qi));
        CHECK(qi.kind == kind && qi.trained && qi.trained_on == 0);   /* adopted from the child's QUANT */
        if (qa_check(&empty, c, "derived child reopened")) return 1;
        CHECK_OK(vl_store_close(c));
        CHECK_OK(vl_store_close(s));
        vl_io_mem_free(cio);
        vl_io_mem_free(io);
    }
    return 0;
}

/* Queries of subnormal or zero components under dot and cosine, L2 queries far off the grid:
 * finite answers with exact distances, never a float-to-int conversion of NaN or inf
 * (UBSan: float-cast-overflow). */
int test_quant_attack_tiny_queries(void)
{
    const uint32_t metrics[3] = { VL_METRIC_DOT, VL_METRIC_COSINE, VL_METRIC_L2 };
    for (uint32_t mi = 0; mi < 3; mi++) {
        vl_config c = qa_cfg();
        c.metric = metrics[mi];
        vl_io *io = qa_dev(NULL, 0);
        vl_store *s;
        char msg[256];
        CHECK_OK(qa_open(io, &c, 0, &s, msg, sizeof msg));
        CHECK_OK(vl_store_set_quant(s, VL_QUANT_SCALAR, 0));
        static qmodel m;
        memset(&m, 0, sizeof m);
        uint64_t ids[QA_N], seed = 4;
        for (uint32_t i = 0; i < QA_N; i++) ids[i] = i;
        CHECK_OK(qa_upsert(s, &m, QA_N, ids, &seed));
        vl_index *h = vl_store_index(s);
        vl_quant_info qi;
        CHECK_OK(vl_index_quant_info(h, &qi));
        CHECK(qi.trained);
        float qs[4][QA_DIM];
        memset(qs, 0, sizeof qs);
        qs[0][0] = 1e-44f;                                  /* one subnormal component */
        for (uint32_t d = 0; d < QA_DIM; d++) qs[1][d] = d % 2 ? -1e-40f : 1e-42f;
        for (uint32_t d = 0; d < QA_DIM; d++) qs[2][d] = d % 2 ? 3e38f : -3e38f;   /* far off the grid */
        qs[3][QA_DIM - 1] = 1e-30f;
        for (uint32_t k = 0; k < 4; k++) {
            uint64_t got[5];
            float gd[5];
            uint32_t cnt = 0;
            int rc = vl_index_search(h, 1, qs[k], 5, 64, NULL, 0, got, gd, &cnt);
            if (metrics[mi] == VL_METRIC_COSINE && rc == VL_EINVAL) continue;   /* a norm outside the float range */
            CHECK_RCH(h, rc, VL_OK);
            CHECK(cnt == 5);
            for (uint32_t i = 0; i < cnt; i++) CHECK(gd[i] == gd[i]);
        }
        CHECK_OK(vl_store_close(s));
        vl_io_mem_free(io);
    }
    return 0;
}

/* Upserts into a trained index of more than 256 dimensions (where encoding
 * needs a scratch row) with allocation failing at every point: either the
 * upsert fails, or the new row's code is the code of its vector (never a
 * silently zeroed code). */
int test_quant_attack_encode_nomem(void)
{
    const uint32_t dim = 300, n = 1100;
    for (uint32_t kind = VL_QUANT_SCALAR; kind <= VL_QUANT_PRODUCT; kind++) {
        vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 6, 20, 3);
        CHECK(h != NULL);
        CHECK_OK(vl_index_set_quant(h, kind, kind == VL_QUANT_PRODUCT ? 30 : 0));
        float *x = t_clustered(n + 64, dim, 10, 0.1, 12);
        uint64_t *ids = t_alloc((size_t)(n + 64) * sizeof *ids);
        for (uint32_t i = 0; i < n + 64; i++) ids[i] = i;
        CHECK_OK(vl_index_upsert(h, n, ids, x, NULL, NULL));
        const vl_quant *q = vl__index_quant(h);
        CHECK(q != NULL);
        uint8_t *want = t_alloc(q->code_size);
        float *scratch = t_alloc((size_t)dim * sizeof *scratch);
        uint32_t ok = 0;
        for (int32_t k = 0; k < 64; k++) {
            uint64_t id = n + (uint64_t)k;
            const float *v = x + (size_t)id * dim;
            vl__test_alloc_fail_after(k);
            int rc = vl_index_upsert(h, 1, &id, v, NULL, NULL);
            vl__test_alloc_fail_after(-1);
            if (rc != VL_OK) { CHECK(rc == VL_ENOMEM); continue; }
            ok++;
            vl_quant_encode_buf(q, v, want, scratch);
            uint32_t node = vl__index_live_node(h, id);
            CHECK(node != VL_NO_NODE);
            if (memcmp(vl__index_node_code(h, node), want, q->code_size) != 0) {
                fprintf(stderr, "  kind %u: allocation %d failed, the upsert succeeded with a wrong code\n", kind, k);
                return 1;
            }
        }
        CHECK(ok > 0);
        free(want); free(scratch); free(x); free(ids);
        vl_index_free(h);
    }
    return 0;
}
