/*
 * test_filter.c — vl_filter_check / vl_filter_eval: every operator and type
 * pairing, exact integer/double comparison, malformed programs and records,
 * the nesting cap. Expected values are the semantics written in veclite.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

/* ---- a tiny program builder ---- */
typedef struct { uint8_t b[4096]; uint32_t n; } prog;

static void p_u8(prog *p, uint8_t v) { p->b[p->n++] = v; }
static void p_u16(prog *p, uint16_t v) { t_put16(p->b + p->n, v); p->n += 2; }
static void p_u64(prog *p, uint64_t v) { t_put64(p->b + p->n, v); p->n += 8; }
static void p_head(prog *p, uint8_t op, uint16_t fid) { p_u8(p, VL_F_CMP); p_u8(p, op); p_u16(p, fid); }
static void v_i64(prog *p, int64_t v) { p_u8(p, VL_TAG_I64); p_u64(p, (uint64_t)v); }
static void v_u64(prog *p, uint64_t v) { p_u8(p, VL_TAG_U64); p_u64(p, v); }
static void v_f64(prog *p, double v) { uint64_t b; memcpy(&b, &v, 8); p_u8(p, VL_TAG_F64); p_u64(p, b); }
static void v_bool(prog *p, int v) { p_u8(p, VL_TAG_BOOL); p_u8(p, (uint8_t)v); }
static void v_null(prog *p) { p_u8(p, VL_TAG_NULL); }
static void v_str(prog *p, uint8_t tag, const char *s, uint32_t len)
{
    p_u8(p, tag);
    t_put32(p->b + p->n, len);
    p->n += 4;
    memcpy(p->b + p->n, s, len);
    p->n += len;
}

/* The record every operator test runs against. */
enum { F_S, F_B, F_I, F_U, F_F, F_T, F_N, F_J, F_NAN, F_MISSING };
static uint32_t make_record(uint8_t *r)
{
    uint32_t len = t_rec_begin(r);
    len = t_rec_str(r, len, F_S, VL_TAG_STR, "hello", 5);
    len = t_rec_str(r, len, F_B, VL_TAG_BYTES, "\x01\x02\x03", 3);
    len = t_rec_i64(r, len, F_I, -5);
    len = t_rec_u64(r, len, F_U, 10);
    len = t_rec_f64(r, len, F_F, 2.5);
    len = t_rec_bool(r, len, F_T, 1);
    len = t_rec_null(r, len, F_N);
    len = t_rec_str(r, len, F_J, VL_TAG_JSON, "[1,2]", 5);
    len = t_rec_f64(r, len, F_NAN, NAN);
    return len;
}

static int eval(const prog *p, const uint8_t *rec, uint32_t rlen)
{
    uint32_t m = 77;
    int rc = vl_filter_check(p->b, p->n);
    if (rc) return -1;
    rc = vl_filter_eval(p->b, p->n, rec, rlen, &m);
    if (rc) return -2;
    return (int)m;
}

#define EXPECT(p, want) CHECK(eval(&(p), rec, rlen) == (want))

int test_filter_ops(void)
{
    uint8_t rec[256];
    uint32_t rlen = make_record(rec);
    prog p;
    /* TRUE, EXISTS */
    p.n = 0; p_u8(&p, VL_F_TRUE); EXPECT(p, 1);
    p.n = 0; p_u8(&p, VL_F_EXISTS); p_u16(&p, F_S); EXPECT(p, 1);
    p.n = 0; p_u8(&p, VL_F_EXISTS); p_u16(&p, F_N); EXPECT(p, 1);     /* NULL counts as present */
    p.n = 0; p_u8(&p, VL_F_EXISTS); p_u16(&p, F_MISSING); EXPECT(p, 0);
    /* I64 field */
    static const struct { uint8_t op; int64_t v; int want; } ci[] = {
        { VL_CMP_EQ, -5, 1 }, { VL_CMP_NE, -5, 0 }, { VL_CMP_LT, -4, 1 }, { VL_CMP_LT, -5, 0 },
        { VL_CMP_LE, -5, 1 }, { VL_CMP_LE, -6, 0 }, { VL_CMP_GT, -5, 0 }, { VL_CMP_GT, -6, 1 },
        { VL_CMP_GE, -5, 1 }, { VL_CMP_GE, -4, 0 }, { VL_CMP_NE, 3, 1 }, { VL_CMP_EQ, 5, 0 },
    };
    for (size_t i = 0; i < sizeof ci / sizeof ci[0]; i++) {
        p.n = 0; p_head(&p, ci[i].op, F_I); v_i64(&p, ci[i].v);
        EXPECT(p, ci[i].want);
    }
    /* numbers across types */
    p.n = 0; p_head(&p, VL_CMP_LT, F_I); v_u64(&p, 0); EXPECT(p, 1);          /* -5 < 0u */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_U); v_i64(&p, 10); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, F_U); v_i64(&p, -1); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_U); v_f64(&p, 10.0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_U); v_f64(&p, 10.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_I); v_f64(&p, -5.0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_I); v_f64(&p, -4.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, F_I); v_f64(&p, -5.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_I); v_f64(&p, -5.000001); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_GT, F_F); v_i64(&p, 2); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_F); v_u64(&p, 3); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_F); v_f64(&p, 2.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GE, F_F); v_f64(&p, 2.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, F_F); v_f64(&p, 2.5); EXPECT(p, 0);
    /* NaN: unordered, NE true */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_NAN); v_f64(&p, NAN); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_NAN); v_f64(&p, NAN); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_NAN); v_f64(&p, 1.0); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_GE, F_NAN); v_i64(&p, 1); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_I); v_f64(&p, NAN); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_U); v_f64(&p, NAN); EXPECT(p, 1);
    /* strings: bytewise, then length */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_S); v_str(&p, VL_TAG_STR, "hello", 5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_S); v_str(&p, VL_TAG_STR, "help", 4); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, F_S); v_str(&p, VL_TAG_STR, "hell", 4); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_S); v_str(&p, VL_TAG_STR, "hell", 4); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_S); v_str(&p, VL_TAG_STR, "hell", 4); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LE, F_S); v_str(&p, VL_TAG_STR, "hello", 5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GE, F_S); v_str(&p, VL_TAG_STR, "hellp", 5); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_GT, F_S); v_str(&p, VL_TAG_STR, "", 0); EXPECT(p, 1);
    /* STR never equals BYTES; strings never compare with numbers */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_S); v_str(&p, VL_TAG_BYTES, "hello", 5); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_S); v_str(&p, VL_TAG_BYTES, "hello", 5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_S); v_i64(&p, 5); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_I); v_str(&p, VL_TAG_STR, "-5", 2); EXPECT(p, 1);
    /* bytes */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_B); v_str(&p, VL_TAG_BYTES, "\x01\x02\x03", 3); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_B); v_str(&p, VL_TAG_BYTES, "\x01\x02\x04", 3); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GE, F_B); v_str(&p, VL_TAG_BYTES, "\x01\x02", 2); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, F_B); v_str(&p, VL_TAG_BYTES, "\x01\x02", 2); EXPECT(p, 0);
    /* bool: EQ/NE only */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_T); v_bool(&p, 1); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_NE, F_T); v_bool(&p, 1); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_T); v_bool(&p, 0); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_T); v_bool(&p, 0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GE, F_T); v_bool(&p, 1); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_LT, F_T); v_bool(&p, 1); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_T); v_i64(&p, 1); EXPECT(p, 0);       /* bool is not a number */
    /* null */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_N); v_null(&p); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_NE, F_N); v_null(&p); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_LE, F_N); v_null(&p); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_I); v_null(&p); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_I); v_null(&p); EXPECT(p, 1);
    /* json: text EQ/NE only */
    p.n = 0; p_head(&p, VL_CMP_EQ, F_J); v_str(&p, VL_TAG_JSON, "[1,2]", 5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_J); v_str(&p, VL_TAG_JSON, "[1, 2]", 6); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_NE, F_J); v_str(&p, VL_TAG_JSON, "[1, 2]", 6); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LE, F_J); v_str(&p, VL_TAG_JSON, "[1,2]", 5); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_EQ, F_J); v_str(&p, VL_TAG_STR, "[1,2]", 5); EXPECT(p, 0);
    /* missing field: everything false except NE */
    for (uint8_t op = VL_CMP_EQ; op <= VL_CMP_GE; op++) {
        p.n = 0; p_head(&p, op, F_MISSING); v_i64(&p, 0);
        EXPECT(p, op == VL_CMP_NE);
    }
    /* IN */
    p.n = 0; p_u8(&p, VL_F_IN); p_u16(&p, F_I); p_u16(&p, 2); v_i64(&p, 1); v_i64(&p, -5); EXPECT(p, 1);
    p.n = 0; p_u8(&p, VL_F_IN); p_u16(&p, F_I); p_u16(&p, 2); v_i64(&p, 1); v_i64(&p, 2); EXPECT(p, 0);
    p.n = 0; p_u8(&p, VL_F_IN); p_u16(&p, F_S); p_u16(&p, 3); v_str(&p, VL_TAG_STR, "x", 1);
    v_null(&p); v_str(&p, VL_TAG_STR, "hello", 5); EXPECT(p, 1);
    p.n = 0; p_u8(&p, VL_F_IN); p_u16(&p, F_I); p_u16(&p, 2); v_str(&p, VL_TAG_STR, "a", 1);
    v_f64(&p, -5.0); EXPECT(p, 1);
    p.n = 0; p_u8(&p, VL_F_IN); p_u16(&p, F_I); p_u16(&p, 0); EXPECT(p, 0);
    p.n = 0; p_u8(&p, VL_F_IN); p_u16(&p, F_MISSING); p_u16(&p, 1); v_null(&p); EXPECT(p, 0);
    p.n = 0; p_u8(&p, VL_F_IN); p_u16(&p, F_N); p_u16(&p, 1); v_null(&p); EXPECT(p, 1);
    /* AND / OR / NOT, empty lists, short-circuit skipping keeps positions right */
    p.n = 0; p_u8(&p, VL_F_AND); p_u16(&p, 0); EXPECT(p, 1);
    p.n = 0; p_u8(&p, VL_F_OR); p_u16(&p, 0); EXPECT(p, 0);
    p.n = 0; p_u8(&p, VL_F_NOT); p_u8(&p, VL_F_TRUE); EXPECT(p, 0);
    p.n = 0; p_u8(&p, VL_F_NOT); p_u8(&p, VL_F_NOT); p_head(&p, VL_CMP_EQ, F_I); v_i64(&p, -5); EXPECT(p, 1);
    for (int last = -6; last <= -4; last++) {
        for (int first = 0; first < 2; first++) {
            /* AND( OR( first?TRUE:EXISTS missing, <complex>), EQ i last ) */
            p.n = 0;
            p_u8(&p, VL_F_AND); p_u16(&p, 2);
            p_u8(&p, VL_F_OR); p_u16(&p, 3);
            if (first) p_u8(&p, VL_F_TRUE); else { p_u8(&p, VL_F_EXISTS); p_u16(&p, F_MISSING); }
            p_u8(&p, VL_F_IN); p_u16(&p, F_S); p_u16(&p, 2); v_str(&p, VL_TAG_STR, "zz", 2);
            v_str(&p, VL_TAG_JSON, "{}", 2);
            p_u8(&p, VL_F_AND); p_u16(&p, 2); p_head(&p, VL_CMP_GT, F_F); v_f64(&p, 100);
            p_u8(&p, VL_F_NOT); p_head(&p, VL_CMP_EQ, F_T); v_bool(&p, 0);
            p_head(&p, VL_CMP_EQ, F_I); v_i64(&p, last);
            EXPECT(p, first && last == -5);
        }
    }
    /* empty record: nothing exists */
    {
        const uint8_t *none = NULL;
        uint32_t m;
        p.n = 0; p_u8(&p, VL_F_EXISTS); p_u16(&p, 0);
        CHECK_OK(vl_filter_eval(p.b, p.n, none, 0, &m)); CHECK(m == 0);
        p.n = 0; p_head(&p, VL_CMP_NE, 0); v_i64(&p, 0);
        CHECK_OK(vl_filter_eval(p.b, p.n, none, 0, &m)); CHECK(m == 1);
        uint8_t zero[2] = { 0, 0 };      /* n_fields = 0 */
        CHECK_OK(vl_filter_eval(p.b, p.n, zero, 2, &m)); CHECK(m == 1);
        p.n = 0; p_u8(&p, VL_F_TRUE);
        CHECK_OK(vl_filter_eval(p.b, p.n, none, 0, &m)); CHECK(m == 1);
        CHECK_RC(vl_filter_eval(p.b, p.n, none, 0, NULL), VL_EINVAL);
    }
    return 0;
}

int test_filter_numbers_exact(void)
{
    uint8_t rec[128];
    uint32_t rlen = t_rec_begin(rec);
    const double two53 = 9007199254740992.0, two63 = 9223372036854775808.0,
                 two64 = 18446744073709551616.0;
    rlen = t_rec_i64(rec, rlen, 0, (1ll << 53) + 1);
    rlen = t_rec_u64(rec, rlen, 1, UINT64_MAX);
    rlen = t_rec_i64(rec, rlen, 2, INT64_MIN);
    rlen = t_rec_i64(rec, rlen, 3, INT64_MAX);
    rlen = t_rec_u64(rec, rlen, 4, 1ull << 63);
    rlen = t_rec_f64(rec, rlen, 5, -0.0);
    rlen = t_rec_u64(rec, rlen, 6, 0);
    rlen = t_rec_i64(rec, rlen, 7, -1);
    prog p;
    /* 2^53 + 1 is not equal to the double 2^53 (rounding the int would say it is) */
    p.n = 0; p_head(&p, VL_CMP_EQ, 0); v_f64(&p, two53); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_GT, 0); v_f64(&p, two53); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, 0); v_f64(&p, two53 + 2); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, 0); v_u64(&p, (1ull << 53) + 1); EXPECT(p, 1);
    /* u64 max < 2^64 as a double; > 2^64 - 2048 */
    p.n = 0; p_head(&p, VL_CMP_LT, 1); v_f64(&p, two64); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, 1); v_f64(&p, two64); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_GT, 1); v_f64(&p, two64 - 4096.0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 1); v_i64(&p, INT64_MAX); EXPECT(p, 1);
    /* i64 extremes against doubles */
    p.n = 0; p_head(&p, VL_CMP_EQ, 2); v_f64(&p, -two63); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, 3); v_f64(&p, two63); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 3); v_f64(&p, two63 - 1024.0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, 3); v_f64(&p, INFINITY); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 2); v_f64(&p, -INFINITY); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 2); v_f64(&p, -two64); EXPECT(p, 1);
    /* u64 2^63 vs i64 */
    p.n = 0; p_head(&p, VL_CMP_GT, 4); v_i64(&p, -1); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 4); v_i64(&p, INT64_MAX); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, 4); v_f64(&p, two63); EXPECT(p, 1);
    /* -0.0 equals integer 0; fractions order against integers */
    p.n = 0; p_head(&p, VL_CMP_EQ, 5); v_i64(&p, 0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, 5); v_f64(&p, 0.0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, 6); v_f64(&p, 0.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 6); v_f64(&p, -0.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 6); v_f64(&p, -0.0); EXPECT(p, 0);
    p.n = 0; p_head(&p, VL_CMP_LT, 7); v_f64(&p, -0.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_GT, 7); v_f64(&p, -1.5); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_LT, 7); v_u64(&p, 0); EXPECT(p, 1);
    p.n = 0; p_head(&p, VL_CMP_EQ, 7); v_u64(&p, UINT64_MAX); EXPECT(p, 0);
    return 0;
}

int test_filter_malformed(void)
{
    uint8_t rec[256];
    uint32_t rlen = make_record(rec), m;
    prog p;
    CHECK_RC(vl_filter_check(NULL, 0), VL_EINVAL);
    CHECK_RC(vl_filter_check(p.b, 0), VL_EINVAL);
    CHECK_RC(vl_filter_eval(NULL, 0, rec, rlen, &m), VL_EINVAL);
    const uint8_t bad_progs[][16] = {
        { 9 }, { 255 }, { VL_F_AND }, { VL_F_AND, 2, 0, VL_F_TRUE }, { VL_F_NOT },
        { VL_F_EXISTS, 1 }, { VL_F_CMP, 6, 0, 0, VL_TAG_NULL }, { VL_F_CMP, 0, 0, 0, 8 },
        { VL_F_CMP, 0, 0, 0, VL_TAG_BOOL, 2 }, { VL_F_CMP, 0, 0, 0, VL_TAG_I64, 1, 2, 3 },
        { VL_F_CMP, 0, 0, 0, VL_TAG_STR, 5, 0, 0, 0, 'a' },
        { VL_F_CMP, 0, 0, 0, VL_TAG_STR, 1, 0, 0, 0, 0xff },               /* not UTF-8 */
        { VL_F_CMP, 0, 0, 0, VL_TAG_JSON, 2, 0, 0, 0, 0xc0, 0x80 },        /* overlong */
        { VL_F_IN, 0, 0, 2, 0, VL_TAG_NULL }, { VL_F_IN, 0, 0, 1, 0, 9 },
        { VL_F_TRUE, VL_F_TRUE },                                           /* trailing */
        { VL_F_CMP, 0, 0 },
    };
    const uint32_t bad_len[] = { 1, 1, 1, 4, 1, 2, 5, 5, 6, 8, 10, 10, 11, 6, 6, 2, 3 };
    for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
        if (vl_filter_check(bad_progs[i], bad_len[i]) != VL_EINVAL) {
            fprintf(stderr, "  bad program %zu accepted\n", i);
            return 1;
        }
        CHECK_RC(vl_filter_eval(bad_progs[i], bad_len[i], rec, rlen, &m), VL_EINVAL);
    }
    /* every strict prefix of a valid program is invalid */
    p.n = 0;
    p_u8(&p, VL_F_OR); p_u16(&p, 3);
    p_u8(&p, VL_F_IN); p_u16(&p, F_S); p_u16(&p, 2); v_str(&p, VL_TAG_STR, "zz", 2); v_f64(&p, 1);
    p_u8(&p, VL_F_AND); p_u16(&p, 2); p_head(&p, VL_CMP_GT, F_F); v_f64(&p, 100);
    p_u8(&p, VL_F_NOT); p_u8(&p, VL_F_EXISTS); p_u16(&p, 3);
    p_head(&p, VL_CMP_EQ, F_B); v_str(&p, VL_TAG_BYTES, "\xff\xfe", 2);
    CHECK_OK(vl_filter_check(p.b, p.n));
    for (uint32_t len = 0; len < p.n; len++) CHECK_RC(vl_filter_check(p.b, len), VL_EINVAL);
    /* malformed records given to vl_filter_eval */
    uint8_t tr[] = { 1 };                                                  /* truncated count */
    uint8_t r2[] = { 1, 0, 0, 0 };                                         /* truncated field */
    uint8_t r3[] = { 1, 0, 0, 0, 9 };                                      /* bad tag */
    uint8_t r4[] = { 1, 0, 0, 0, VL_TAG_BOOL, 2 };                         /* bool 2 */
    uint8_t r5[] = { 1, 0, 0, 0, VL_TAG_I64, 1, 2, 3, 4, 5, 6, 7 };        /* short i64 */
    uint8_t r6[] = { 0, 0, 0 };                                            /* trailing byte */
    uint8_t r7[] = { 1, 0, 0, 0, VL_TAG_STR, 9, 0, 0, 0, 'a' };            /* long string */
    uint8_t r8[] = { 1, 0, 0, 0, VL_TAG_STR, 1, 0, 0, 0, 0x80 };           /* bad UTF-8 */
    p.n = 0; p_u8(&p, VL_F_TRUE);
    CHECK_RC(vl_filter_eval(p.b, p.n, tr, sizeof tr, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, r2, sizeof r2, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, r3, sizeof r3, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, r4, sizeof r4, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, r5, sizeof r5, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, r6, sizeof r6, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, r7, sizeof r7, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, r8, sizeof r8, &m), VL_EINVAL);
    CHECK_RC(vl_filter_eval(p.b, p.n, NULL, 3, &m), VL_EINVAL);
    /* random programs never crash; whatever the check accepts evaluates */
    uint64_t s = 99;
    uint8_t buf[64];
    uint32_t accepted = 0;
    for (int it = 0; it < 20000; it++) {
        uint32_t len = 1 + (uint32_t)(t_rand(&s) % sizeof buf);
        for (uint32_t j = 0; j < len; j++) {
            uint64_t r = t_rand(&s);
            /* bias towards small values so some programs are valid */
            buf[j] = (uint8_t)(r % 4 == 0 ? r >> 8 : (r >> 8) % 10);   /* opcodes 0..8 */
        }
        int rc = vl_filter_check(buf, len);
        CHECK(rc == VL_OK || rc == VL_EINVAL);
        rc = vl_filter_eval(buf, len, rec, rlen, &m);
        CHECK(rc == VL_OK || rc == VL_EINVAL);
        if (rc == VL_OK) { accepted++; CHECK(m <= 1); }
    }
    CHECK(accepted > 0);
    return 0;
}

int test_filter_depth(void)
{
    static uint8_t b[200005];
    uint32_t m;
    /* NOT^63 TRUE: TRUE sits at depth 64 = VL_FILTER_MAX_DEPTH: accepted */
    for (uint32_t d = 60; d <= 70; d++) {
        memset(b, VL_F_NOT, d);
        b[d] = VL_F_TRUE;
        int want = d + 1 <= VL_FILTER_MAX_DEPTH ? VL_OK : VL_EINVAL;
        CHECK_RC(vl_filter_check(b, d + 1), want);
        if (want == VL_OK) {
            CHECK_OK(vl_filter_eval(b, d + 1, NULL, 0, &m));
            CHECK(m == (d % 2 == 0));
        }
    }
    /* AND(1, AND(1, ... TRUE)) */
    for (uint32_t d = 62; d <= 66; d++) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < d; i++) { b[n++] = VL_F_AND; b[n++] = 1; b[n++] = 0; }
        b[n++] = VL_F_TRUE;
        CHECK_RC(vl_filter_check(b, n), d + 1 <= VL_FILTER_MAX_DEPTH ? VL_OK : VL_EINVAL);
    }
    /* very deep nesting is refused without exhausting the stack */
    memset(b, VL_F_NOT, 200000);
    b[200000] = VL_F_TRUE;
    CHECK_RC(vl_filter_check(b, 200001), VL_EINVAL);
    CHECK_RC(vl_filter_eval(b, 200001, NULL, 0, &m), VL_EINVAL);
    /* wide is fine: OR of 60000 TRUEs */
    b[0] = VL_F_OR; t_put16(b + 1, 60000);
    memset(b + 3, VL_F_TRUE, 60000);
    CHECK_OK(vl_filter_check(b, 60003));
    CHECK_OK(vl_filter_eval(b, 60003, NULL, 0, &m));
    CHECK(m == 1);
    return 0;
}

/* The three evaluators agree: the byte interpreter (vl_filter_eval, used as
 * the oracle per record), the compiled per-node evaluator (exact scan, plan
 * 3) and the column-wise one (exact scan, plan 2), on F64 / I64 / STR / NULL /
 * missing values and NaN, for every comparison operator and some trees. */
int test_filter_evaluators_agree(void)
{
    const uint32_t n = 400, dim = 2;
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(dim, VL_METRIC_L2, kind, 4, 16, 1);
        CHECK(h);
        uint32_t fx, fy;
        CHECK_OK(vl_index_field(h, "x", 1, &fx));
        CHECK_OK(vl_index_field(h, "y", 1, &fy));
        uint8_t *meta = t_alloc((size_t)n * 40);
        uint32_t *off = t_alloc((n + 1) * sizeof *off);
        uint64_t *ids = t_alloc(n * sizeof *ids);
        float *v = t_alloc((size_t)n * dim * sizeof(float));
        uint64_t s = 17;
        off[0] = 0;
        for (uint32_t i = 0; i < n; i++) {
            ids[i] = i;
            v[i * dim] = (float)t_unif(&s);
            v[i * dim + 1] = (float)t_unif(&s);
            uint8_t *r = meta + off[i];
            uint32_t len = t_rec_begin(r);
            switch (i % 6) {          /* x: f64, i64, NaN, string, null, missing */
            case 0: case 1: len = t_rec_f64(r, len, (uint16_t)fx, (double)(i % 13) - 6.0 + (i % 4) * 0.25); break;
            case 2: len = t_rec_i64(r, len, (uint16_t)fx, (int64_t)(i % 13) - 6); break;
            case 3: len = t_rec_f64(r, len, (uint16_t)fx, i % 12 == 3 ? NAN : 1.0); break;
            case 4: len = t_rec_str(r, len, (uint16_t)fx, VL_TAG_STR, "1", 1); break;
            default: break;
            }
            if (i % 4 == 0) len = t_rec_null(r, len, (uint16_t)fy);
            else if (i % 4 == 1) len = t_rec_f64(r, len, (uint16_t)fy, (double)(i % 5));
            off[i + 1] = off[i] + len;
        }
        CHECK_OK(vl_index_upsert(h, n, ids, v, meta, off));
        float q[2] = { 0.5f, 0.5f };
        const double lits[] = { -6.0, 0.0, 0.25, 1.0, 5.5, NAN };
        for (int shape = 0; shape < 4; shape++) {
            for (uint8_t op = VL_CMP_EQ; op <= VL_CMP_GE; op++) {
                for (size_t li = 0; li < sizeof lits / sizeof lits[0]; li++) {
                    prog p;
                    p.n = 0;
                    if (shape == 1) { p_u8(&p, VL_F_NOT); }
                    if (shape == 2) { p_u8(&p, VL_F_AND); p_u16(&p, 2); p_u8(&p, VL_F_EXISTS); p_u16(&p, (uint16_t)fy); }
                    if (shape == 3) { p_u8(&p, VL_F_OR); p_u16(&p, 2); p_head(&p, VL_CMP_GT, (uint16_t)fy); v_f64(&p, 2.5); }
                    p_head(&p, op, (uint16_t)fx);
                    v_f64(&p, lits[li]);
                    if (t_filter_plans_agree(h, q, n, meta, off, p.b, p.n, 2, 3, NULL)) {
                        fprintf(stderr, "  kind %u shape %d op %u lit %g\n", kind, shape, op, lits[li]);
                        return 1;
                    }
                }
            }
        }
        CHECK_RCH(h, vl_index_check(h), VL_OK);
        free(meta); free(off); free(ids); free(v);
        vl_index_free(h);
    }
    return 0;
}
