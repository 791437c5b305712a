/*
 * test_filter_json.c — VL_F_CONTAINS and VL_F_PATH (veclite.h) and the JSON
 * reader behind them (src/json.c): every operator through a path, escapes,
 * duplicate keys, array indices, malformed and hostile JSON text (never a
 * match, never a read past the value: the sanitizers check), malformed
 * PATH/CONTAINS programs, and the compiled evaluator agreeing with
 * vl_filter_eval in real searches. Expected values are the semantics
 * written in veclite.h, never output of the code under test.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

typedef struct { uint8_t b[8192]; uint32_t n; } jprog;

static void j_u8(jprog *p, uint8_t v) { p->b[p->n++] = v; }
static void j_u16(jprog *p, uint16_t v) { t_put16(p->b + p->n, v); p->n += 2; }
static void j_f64(jprog *p, double v) { uint64_t b; memcpy(&b, &v, 8); j_u8(p, VL_TAG_F64); t_put64(p->b + p->n, b); p->n += 8; }
static void j_str(jprog *p, uint8_t tag, const char *s)
{
    uint32_t len = (uint32_t)strlen(s);
    j_u8(p, tag);
    t_put32(p->b + p->n, len);
    p->n += 4;
    memcpy(p->b + p->n, s, len);
    p->n += len;
}
/* PATH prefix from a dotted string ("a.b.0"); each '.' separates segments. */
static void j_path(jprog *p, const char *dotted)
{
    j_u8(p, VL_F_PATH);
    uint32_t at = p->n++;
    uint8_t n = 0;
    const char *s = dotted;
    for (;;) {
        const char *d = strchr(s, '.');
        uint32_t len = d ? (uint32_t)(d - s) : (uint32_t)strlen(s);
        j_u16(p, (uint16_t)len);
        memcpy(p->b + p->n, s, len);
        p->n += len;
        n++;
        if (!d) break;
        s = d + 1;
    }
    p->b[at] = n;
}

static int jeval(const jprog *p, const uint8_t *rec, uint32_t rlen)
{
    uint32_t m = 77;
    if (vl_filter_check(p->b, p->n) != VL_OK) return -1;
    if (vl_filter_eval(p->b, p->n, rec, rlen, &m) != VL_OK) return -2;
    return (int)m;
}

/* field 0: the JSON text under test; field 1: a plain string; field 2: a number */
static uint32_t jrec(uint8_t *r, const char *json)
{
    uint32_t len = t_rec_begin(r);
    len = t_rec_str(r, len, 0, VL_TAG_JSON, json, (uint32_t)strlen(json));
    len = t_rec_str(r, len, 1, VL_TAG_STR, "hello world", 11);
    len = t_rec_f64(r, len, 2, 7.0);
    return len;
}

/* CMP op at path of field 0 against a literal built by lit(). */
#define PCMP(path, op) (p.n = 0, j_path(&p, path), j_u8(&p, VL_F_CMP), j_u8(&p, op), j_u16(&p, 0))
#define PCON(path) (p.n = 0, j_path(&p, path), j_u8(&p, VL_F_CONTAINS), j_u16(&p, 0))
#define JE(want) CHECK(jeval(&p, rec, rlen) == (want))

int test_filter_contains_path(void)
{
    static uint8_t rec[4096];
    static jprog p;
    uint32_t rlen = jrec(rec,
        "{\"a\":{\"b\":1,\"c\":\"x\\\"y\",\"d\":[1,\"two\",true,null,{\"e\":2.5}]},"
        " \"s\":\"caf\\u00e9 \\ud83d\\ude00\", \"n\":-0, \"big\":1e400, \"dup\":1, \"dup\":2,"
        " \"arr\":[[1,2],{\"k\":1}], \"0\":\"zero\", \"\":\"empty\", \"t\":true, \"z\":null,"
        " \"k\\u002ey\":5}");
    /* numbers through paths, all operators, across tags */
    PCMP("a.b", VL_CMP_EQ); j_f64(&p, 1); JE(1);
    PCMP("a.b", VL_CMP_EQ); j_u8(&p, VL_TAG_I64); t_put64(p.b + p.n, 1); p.n += 8; JE(1);
    PCMP("a.b", VL_CMP_LT); j_f64(&p, 1.5); JE(1);
    PCMP("a.b", VL_CMP_GE); j_f64(&p, 1.5); JE(0);
    PCMP("a.b", VL_CMP_NE); j_f64(&p, 1); JE(0);
    PCMP("a.d.4.e", VL_CMP_GT); j_f64(&p, 2); JE(1);
    PCMP("n", VL_CMP_EQ); j_f64(&p, 0); JE(1);                 /* -0 == 0 */
    PCMP("big", VL_CMP_GT); j_f64(&p, 1e308); JE(1);           /* overflows to +inf, like JSON.parse */
    /* strings with escapes decode before comparing */
    PCMP("a.c", VL_CMP_EQ); j_str(&p, VL_TAG_STR, "x\"y"); JE(1);
    PCMP("a.c", VL_CMP_LT); j_str(&p, VL_TAG_STR, "x#"); JE(1);   /* '"' (0x22) < '#' */
    PCMP("s", VL_CMP_EQ); j_str(&p, VL_TAG_STR, "caf\xc3\xa9 \xf0\x9f\x98\x80"); JE(1);
    PCMP("s", VL_CMP_EQ); j_str(&p, VL_TAG_STR, "caf\xc3\xa9"); JE(0);
    PCMP("s", VL_CMP_GT); j_str(&p, VL_TAG_STR, "caf\xc3\xa9"); JE(1);  /* longer is greater */
    PCMP("a.d.1", VL_CMP_EQ); j_str(&p, VL_TAG_STR, "two"); JE(1);
    PCMP("a.d.1", VL_CMP_EQ); j_str(&p, VL_TAG_BYTES, "two"); JE(0);     /* bytes never equal a string */
    /* booleans, null, nested values as JSON text */
    PCMP("t", VL_CMP_EQ); j_u8(&p, VL_TAG_BOOL); j_u8(&p, 1); JE(1);
    PCMP("a.d.2", VL_CMP_NE); j_u8(&p, VL_TAG_BOOL); j_u8(&p, 1); JE(0);
    PCMP("z", VL_CMP_EQ); j_u8(&p, VL_TAG_NULL); JE(1);
    PCMP("a.d.3", VL_CMP_EQ); j_u8(&p, VL_TAG_NULL); JE(1);
    PCMP("arr.0", VL_CMP_EQ); j_str(&p, VL_TAG_JSON, "[1,2]"); JE(1);
    PCMP("arr.1", VL_CMP_EQ); j_str(&p, VL_TAG_JSON, "{\"k\":1}"); JE(1);
    PCMP("arr.1", VL_CMP_LT); j_str(&p, VL_TAG_JSON, "{\"k\":1}"); JE(0);
    /* keys: the last duplicate wins, escaped keys decode, "0" on an object is a key,
     * the empty segment is the empty key */
    PCMP("dup", VL_CMP_EQ); j_f64(&p, 2); JE(1);
    PCMP("dup", VL_CMP_EQ); j_f64(&p, 1); JE(0);
    PCMP("0", VL_CMP_EQ); j_str(&p, VL_TAG_STR, "zero"); JE(1);
    PCMP("", VL_CMP_EQ); j_str(&p, VL_TAG_STR, "empty"); JE(1);
    p.n = 0; j_u8(&p, VL_F_PATH); j_u8(&p, 1); j_u16(&p, 3); memcpy(p.b + p.n, "k.y", 3); p.n += 3;
    j_u8(&p, VL_F_CMP); j_u8(&p, VL_CMP_EQ); j_u16(&p, 0); j_f64(&p, 5); JE(1);
    /* missing paths behave as a missing field: false, NE true, EXISTS false */
    static const char *absent[] = { "a.x", "a.b.c", "a.d.5", "a.d.01", "a.d.-1", "a.d.x",
                                    "s.0", "arr.2", "a.d.4294967295", "a.d.99999999999" };
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        PCMP(absent[i], VL_CMP_EQ); j_f64(&p, 1); JE(0);
        PCMP(absent[i], VL_CMP_NE); j_f64(&p, 1); JE(1);
        p.n = 0; j_path(&p, absent[i]); j_u8(&p, VL_F_EXISTS); j_u16(&p, 0); JE(0);
        p.n = 0; j_u8(&p, VL_F_NOT); j_path(&p, absent[i]); j_u8(&p, VL_F_EXISTS); j_u16(&p, 0); JE(1);
    }
    p.n = 0; j_path(&p, "z"); j_u8(&p, VL_F_EXISTS); j_u16(&p, 0); JE(1);       /* null exists */
    p.n = 0; j_path(&p, "a"); j_u8(&p, VL_F_EXISTS); j_u16(&p, 0); JE(1);
    /* a path on a field that is not JSON, or on a missing field */
    p.n = 0; j_path(&p, "x"); j_u8(&p, VL_F_EXISTS); j_u16(&p, 1); JE(0);
    p.n = 0; j_path(&p, "x"); j_u8(&p, VL_F_EXISTS); j_u16(&p, 9); JE(0);
    /* IN through a path */
    p.n = 0; j_path(&p, "a.d.1"); j_u8(&p, VL_F_IN); j_u16(&p, 0); j_u16(&p, 2);
    j_f64(&p, 1); j_str(&p, VL_TAG_STR, "two"); JE(1);
    p.n = 0; j_path(&p, "a.d.0"); j_u8(&p, VL_F_IN); j_u16(&p, 0); j_u16(&p, 1);
    j_str(&p, VL_TAG_STR, "1"); JE(0);
    /* CONTAINS on a top-level string */
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 1); j_str(&p, VL_TAG_STR, "lo wo"); JE(1);
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 1); j_str(&p, VL_TAG_STR, "hello world"); JE(1);
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 1); j_str(&p, VL_TAG_STR, "hello world!"); JE(0);
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 1); j_str(&p, VL_TAG_STR, "World"); JE(0);
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 1); j_str(&p, VL_TAG_STR, ""); JE(1);
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 1); j_f64(&p, 1); JE(0);
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 2); j_f64(&p, 7); JE(0);       /* a number contains nothing */
    p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 9); j_str(&p, VL_TAG_STR, ""); JE(0); /* missing */
    p.n = 0; j_u8(&p, VL_F_NOT); j_u8(&p, VL_F_CONTAINS); j_u16(&p, 9); j_str(&p, VL_TAG_STR, "a"); JE(1);
    /* CONTAINS on strings with escapes, through paths */
    PCON("a.c"); j_str(&p, VL_TAG_STR, "\"y"); JE(1);
    PCON("a.c"); j_str(&p, VL_TAG_STR, "\\"); JE(0);
    PCON("s"); j_str(&p, VL_TAG_STR, "f\xc3\xa9 \xf0\x9f\x98\x80"); JE(1);
    PCON("s"); j_str(&p, VL_TAG_STR, "\xf0\x9f\x98\x80"); JE(1);
    PCON("s"); j_str(&p, VL_TAG_STR, "\xf0\x9f\x98\x80!"); JE(0);
    /* CONTAINS on arrays: scalar elements, numbers numerically */
    PCON("a.d"); j_f64(&p, 1); JE(1);
    PCON("a.d"); j_u8(&p, VL_TAG_U64); t_put64(p.b + p.n, 1); p.n += 8; JE(1);
    PCON("a.d"); j_f64(&p, 2.5); JE(0);                        /* only inside a nested object */
    PCON("a.d"); j_str(&p, VL_TAG_STR, "two"); JE(1);
    PCON("a.d"); j_str(&p, VL_TAG_STR, "tw"); JE(0);           /* elements match whole */
    PCON("a.d"); j_u8(&p, VL_TAG_BOOL); j_u8(&p, 1); JE(1);
    PCON("a.d"); j_u8(&p, VL_TAG_BOOL); j_u8(&p, 0); JE(0);
    PCON("a.d"); j_u8(&p, VL_TAG_NULL); JE(1);
    PCON("arr"); j_f64(&p, 1); JE(0);                          /* [1,2] is not a scalar element */
    PCON("a"); j_f64(&p, 1); JE(0);                            /* an object contains nothing */
    {
        uint8_t r2[256];
        uint32_t l2 = t_rec_begin(r2);
        l2 = t_rec_str(r2, l2, 0, VL_TAG_JSON, "[\"a\\nb\",3,-1.5e1]", 17);
        p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 0); j_str(&p, VL_TAG_STR, "a\nb");
        CHECK(jeval(&p, r2, l2) == 1);
        p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 0); j_f64(&p, -15);
        CHECK(jeval(&p, r2, l2) == 1);
        p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 0); j_u8(&p, VL_TAG_I64); t_put64(p.b + p.n, 3); p.n += 8;
        CHECK(jeval(&p, r2, l2) == 1);
        p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 0); j_str(&p, VL_TAG_STR, "3");
        CHECK(jeval(&p, r2, l2) == 0);
    }
    return 0;
}

/* JSON texts that JSON.parse refuses: no value at any path, no elements. */
int test_filter_json_hostile(void)
{
    static uint8_t rec[1 << 16];
    static jprog p;
    static const char *bad[] = {
        "", " ", "{", "}", "[", "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":nul}",
        "{\"a\":\"x}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\t\"}", "{\"a\":1}x",
        "{\"a\":1}{", "[1,]", "[,1]", "[1 2]", "{\"a\":[1}", "{\"a\":1]", "\"a\"", "{\"a\":1,\"a\"}",
        "{\"a\":1 , }", "[1] ]", "{\"a\":\"\\",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* store the text without a terminator right after it: ASan sees any overread */
        uint32_t len = (uint32_t)strlen(bad[i]);
        uint32_t rlen = t_rec_begin(rec);
        rlen = t_rec_str(rec, rlen, 0, VL_TAG_JSON, bad[i], len);
        uint8_t *heap = t_alloc(rlen);
        memcpy(heap, rec, rlen);
        PCMP("a", VL_CMP_NE); j_f64(&p, 12345);
        if (jeval(&p, heap, rlen) != 1) { fprintf(stderr, "  bad json %zu matched\n", i); free(heap); return 1; }
        p.n = 0; j_path(&p, "a"); j_u8(&p, VL_F_EXISTS); j_u16(&p, 0);
        if (jeval(&p, heap, rlen) != 0) { fprintf(stderr, "  bad json %zu has a.\n", i); free(heap); return 1; }
        p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 0); j_f64(&p, 1);
        if (jeval(&p, heap, rlen) != 0) { fprintf(stderr, "  bad json %zu contains 1\n", i); free(heap); return 1; }
        free(heap);
    }
    /* nesting: VL_JSON_MAX_DEPTH levels are read, one more is malformed; a million
     * levels are refused without recursion */
    for (uint32_t depth = VL_JSON_MAX_DEPTH - 1; depth <= VL_JSON_MAX_DEPTH + 1; depth++) {
        /* {"a":[[[...[1]...]]]} : the object is level 1, then depth-1 arrays */
        char *t = t_alloc(depth * 2 + 16);
        uint32_t n = 0;
        memcpy(t, "{\"a\":", 5); n = 5;
        for (uint32_t i = 1; i < depth; i++) t[n++] = '[';
        t[n++] = '1';
        for (uint32_t i = 1; i < depth; i++) t[n++] = ']';
        t[n++] = '}';
        uint32_t rlen = t_rec_begin(rec);
        rlen = t_rec_str(rec, rlen, 0, VL_TAG_JSON, t, n);
        p.n = 0; j_path(&p, "a"); j_u8(&p, VL_F_EXISTS); j_u16(&p, 0);
        CHECK(jeval(&p, rec, rlen) == (depth <= VL_JSON_MAX_DEPTH));
        free(t);
    }
    {
        uint32_t big = 60000;
        char *t = t_alloc(big + 8);
        memset(t, '[', big);
        uint32_t rlen = t_rec_begin(rec);
        rlen = t_rec_str(rec, rlen, 0, VL_TAG_JSON, t, big);
        p.n = 0; j_u8(&p, VL_F_CONTAINS); j_u16(&p, 0); j_f64(&p, 1);
        CHECK(jeval(&p, rec, rlen) == 0);
        free(t);
    }
    /* a number text over 127 bytes is NaN (unordered): EQ false, NE true */
    {
        char t[300];
        memcpy(t, "{\"a\":1", 6);
        memset(t + 6, '0', 200);
        memcpy(t + 206, "}", 1);
        uint32_t rlen = t_rec_begin(rec);
        rlen = t_rec_str(rec, rlen, 0, VL_TAG_JSON, t, 207);
        PCMP("a", VL_CMP_GT); j_f64(&p, 0); CHECK(jeval(&p, rec, rlen) == 0);
        PCMP("a", VL_CMP_NE); j_f64(&p, 0); CHECK(jeval(&p, rec, rlen) == 1);
    }
    /* random mutations of a valid text: never a crash, only 0/1 answers */
    {
        const char *base = "{\"a\":{\"b\":[1,\"x\\\"y\",{\"c\":true}],\"d\":null},\"e\":\"\\u00e9\"}";
        uint32_t blen = (uint32_t)strlen(base);
        uint64_t s = 4242;
        static const char alpha[] = "{}[]\",:\\u0123456789.eE+-truefalsn abcxy";
        for (int it = 0; it < 20000; it++) {
            char t[128];
            memcpy(t, base, blen);
            uint32_t len = blen;
            int muts = 1 + (int)(t_rand(&s) % 4);
            for (int k = 0; k < muts; k++) {
                uint32_t at = (uint32_t)(t_rand(&s) % len);
                uint64_t r = t_rand(&s);
                if (r % 3 == 0 && len > 1) { memmove(t + at, t + at + 1, len - at - 1); len--; }
                else t[at] = alpha[(r >> 8) % (sizeof alpha - 1)];
            }
            if (t_rand(&s) % 4 == 0) len = (uint32_t)(t_rand(&s) % (len + 1));   /* truncate */
            uint32_t rlen = t_rec_begin(rec);
            rlen = t_rec_str(rec, rlen, 0, VL_TAG_JSON, t, len);
            uint8_t *heap = t_alloc(rlen);
            memcpy(heap, rec, rlen);
            static const char *paths[] = { "a", "a.b", "a.b.1", "a.b.2.c", "e", "a.d" };
            const char *path = paths[t_rand(&s) % 6];
            uint32_t m;
            PCMP(path, VL_CMP_EQ); j_str(&p, VL_TAG_STR, "x\"y");
            CHECK_OK(vl_filter_eval(p.b, p.n, heap, rlen, &m)); CHECK(m <= 1);
            PCON(path); j_f64(&p, 1);
            CHECK_OK(vl_filter_eval(p.b, p.n, heap, rlen, &m)); CHECK(m <= 1);
            PCON(path); j_str(&p, VL_TAG_STR, "y");
            CHECK_OK(vl_filter_eval(p.b, p.n, heap, rlen, &m)); CHECK(m <= 1);
            free(heap);
        }
    }
    return 0;
}

int test_filter_path_malformed(void)
{
    uint8_t rec[64];
    uint32_t rlen = jrec(rec, "{\"a\":1}"), m;
    static const uint8_t bad[][16] = {
        { VL_F_PATH },                                              /* no count */
        { VL_F_PATH, 0, VL_F_EXISTS, 0, 0 },                        /* zero segments */
        { VL_F_PATH, 65 },                                          /* over VL_FILTER_MAX_PATH */
        { VL_F_PATH, 1, 5, 0, 'a' },                                /* segment overruns */
        { VL_F_PATH, 1, 1, 0, 0xff, VL_F_EXISTS, 0, 0 },            /* not UTF-8 */
        { VL_F_PATH, 1, 1, 0, 'a' },                                /* no leaf */
        { VL_F_PATH, 1, 1, 0, 'a', VL_F_TRUE },                     /* leaf kinds only */
        { VL_F_PATH, 1, 1, 0, 'a', VL_F_NOT, VL_F_TRUE },
        { VL_F_PATH, 1, 1, 0, 'a', VL_F_PATH, 1, 1, 0, 'b', VL_F_EXISTS, 0, 0 },
        { VL_F_PATH, 1, 1, 0, 'a', VL_F_EXISTS, 0 },                /* leaf truncated */
        { VL_F_CONTAINS, 0, 0, VL_TAG_JSON, 2, 0, 0, 0, '[', ']' }, /* operand kinds */
        { VL_F_CONTAINS, 0, 0, VL_TAG_BYTES, 1, 0, 0, 0, 'a' },
        { VL_F_CONTAINS, 0, 0, 8 },
        { VL_F_CONTAINS, 0, 0, VL_TAG_STR, 2, 0, 0, 0, 'a' },
        { VL_F_CONTAINS, 0 },
    };
    const uint32_t bad_len[] = { 1, 5, 2, 5, 8, 5, 6, 7, 13, 7, 10, 9, 4, 9, 2 };
    for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
        if (vl_filter_check(bad[i], bad_len[i]) != VL_EINVAL) {
            fprintf(stderr, "  bad program %zu accepted\n", i);
            return 1;
        }
        CHECK_RC(vl_filter_eval(bad[i], bad_len[i], rec, rlen, &m), VL_EINVAL);
    }
    /* 64 segments are fine; every strict prefix of a valid program is invalid */
    static jprog p;
    p.n = 0; j_u8(&p, VL_F_PATH); j_u8(&p, 64);
    for (int i = 0; i < 64; i++) { j_u16(&p, 1); j_u8(&p, 'a'); }
    j_u8(&p, VL_F_EXISTS); j_u16(&p, 0);
    CHECK_OK(vl_filter_check(p.b, p.n));
    CHECK_OK(vl_filter_eval(p.b, p.n, rec, rlen, &m));
    CHECK(m == 0);
    p.n = 0; j_u8(&p, VL_F_AND); j_u16(&p, 2);
    j_path(&p, "a.b"); j_u8(&p, VL_F_CONTAINS); j_u16(&p, 0); j_str(&p, VL_TAG_STR, "q");
    j_path(&p, "a"); j_u8(&p, VL_F_IN); j_u16(&p, 0); j_u16(&p, 2); j_f64(&p, 1); j_u8(&p, VL_TAG_NULL);
    CHECK_OK(vl_filter_check(p.b, p.n));
    for (uint32_t len = 0; len < p.n; len++) CHECK_RC(vl_filter_check(p.b, len), VL_EINVAL);
    /* PATH does not add a nesting level: NOT^63 PATH EXISTS is at depth 64 */
    p.n = 0;
    for (int i = 0; i < 63; i++) j_u8(&p, VL_F_NOT);
    j_path(&p, "a"); j_u8(&p, VL_F_EXISTS); j_u16(&p, 0);
    CHECK_OK(vl_filter_check(p.b, p.n));
    CHECK_OK(vl_filter_eval(p.b, p.n, rec, rlen, &m));
    CHECK(m == 0);      /* 63 NOTs of true */
    return 0;
}

/* The compiled evaluators (graph search, exact scans) agree with vl_filter_eval
 * on PATH and CONTAINS leaves over generated JSON metadata. */
int test_filter_json_evaluators_agree(void)
{
    const uint32_t n = 300, dim = 2;
    vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 8, 32, 3);
    CHECK(h);
    uint32_t fj, fs;
    CHECK_OK(vl_index_field(h, "j", 1, &fj));
    CHECK_OK(vl_index_field(h, "s", 1, &fs));
    uint8_t *meta = t_alloc((size_t)n * 96);
    uint32_t *off = t_alloc((n + 1) * sizeof *off);
    uint64_t *ids = t_alloc(n * sizeof *ids);
    float *v = t_alloc((size_t)n * dim * sizeof(float));
    uint64_t s = 23;
    static const char *words[] = { "red", "green", "blue", "re\\\"d" };
    off[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = i;
        v[i * dim] = (float)t_unif(&s);
        v[i * dim + 1] = (float)t_unif(&s);
        char txt[96];
        int len = 0;
        switch (i % 5) {
        case 0: len = snprintf(txt, sizeof txt, "{\"x\":%u,\"t\":[\"%s\",%u]}", i % 7, words[i % 4], i % 3); break;
        case 1: len = snprintf(txt, sizeof txt, "{\"x\":\"%s\",\"t\":[]}", words[i % 4]); break;
        case 2: len = snprintf(txt, sizeof txt, "{\"y\":{\"x\":%u}}", i % 7); break;
        case 3: len = snprintf(txt, sizeof txt, "[%u,\"%s\"]", i % 7, words[(i / 5) % 4]); break;
        default: len = snprintf(txt, sizeof txt, "{\"x\":%u,\"t\":[\"%s\",%u]", i % 7, words[i % 4], i % 3); break; /* malformed */
        }
        uint8_t *r = meta + off[i];
        uint32_t rl = t_rec_begin(r);
        if (i % 11 != 0) rl = t_rec_str(r, rl, (uint16_t)fj, VL_TAG_JSON, txt, (uint32_t)len);
        rl = t_rec_str(r, rl, (uint16_t)fs, VL_TAG_STR, words[i % 3], (uint32_t)strlen(words[i % 3]));
        off[i + 1] = off[i] + rl;
    }
    CHECK_OK(vl_index_upsert(h, n, ids, v, meta, off));
    float q[2] = { 0.5f, 0.5f };
    static jprog p;
    for (int shape = 0; shape < 9; shape++) {
        p.n = 0;
        switch (shape) {
        case 0: j_path(&p, "x"); j_u8(&p, VL_F_CMP); j_u8(&p, VL_CMP_LT); j_u16(&p, (uint16_t)fj); j_f64(&p, 3); break;
        case 1: j_path(&p, "x"); j_u8(&p, VL_F_CMP); j_u8(&p, VL_CMP_NE); j_u16(&p, (uint16_t)fj); j_f64(&p, 3); break;
        case 2: j_path(&p, "y.x"); j_u8(&p, VL_F_CMP); j_u8(&p, VL_CMP_GE); j_u16(&p, (uint16_t)fj); j_f64(&p, 4); break;
        case 3: j_path(&p, "t"); j_u8(&p, VL_F_CONTAINS); j_u16(&p, (uint16_t)fj); j_str(&p, VL_TAG_STR, "blue"); break;
        case 4: j_u8(&p, VL_F_CONTAINS); j_u16(&p, (uint16_t)fj); j_f64(&p, 2); break;
        case 5: j_u8(&p, VL_F_CONTAINS); j_u16(&p, (uint16_t)fs); j_str(&p, VL_TAG_STR, "re"); break;
        case 6: j_path(&p, "t.0"); j_u8(&p, VL_F_IN); j_u16(&p, (uint16_t)fj); j_u16(&p, 2);
                j_str(&p, VL_TAG_STR, "re\"d"); j_str(&p, VL_TAG_STR, "green"); break;
        case 7: j_u8(&p, VL_F_NOT); j_path(&p, "x"); j_u8(&p, VL_F_EXISTS); j_u16(&p, (uint16_t)fj); break;
        default: j_u8(&p, VL_F_OR); j_u16(&p, 2);
                 j_path(&p, "1"); j_u8(&p, VL_F_CONTAINS); j_u16(&p, (uint16_t)fj); j_str(&p, VL_TAG_STR, "\"");
                 j_path(&p, "x"); j_u8(&p, VL_F_CMP); j_u8(&p, VL_CMP_EQ); j_u16(&p, (uint16_t)fj); j_str(&p, VL_TAG_STR, "red");
                 break;
        }
        uint32_t nwant;
        if (t_filter_plans_agree(h, q, n, meta, off, p.b, p.n, 1, 3, &nwant)) {
            fprintf(stderr, "  shape %d\n", shape);
            return 1;
        }
        CHECK(nwant > 0 && nwant < n);     /* every shape splits the rows */
    }
    free(meta); free(off); free(ids); free(v);
    vl_index_free(h);
    return 0;
}
