/*
 * json.c — the small JSON reader behind filter paths and $contains
 * (VL_F_PATH, VL_F_CONTAINS in veclite.h): it finds the value at a path
 * inside a metadata field's JSON text, walks the elements of a JSON array,
 * and compares or searches strings that may carry JSON escapes.
 *
 * Invariants:
 *   - Nothing here trusts the text. Every read is bounds-checked against the
 *     end of the value (a hostile .rvf can hold any bytes that are UTF-8).
 *   - No recursion: nesting is tracked in a bit stack of VL_JSON_MAX_DEPTH
 *     levels on the C stack; deeper text is malformed.
 *   - Malformed text (grammar of RFC 8259; only whitespace around the one
 *     value) has no value at any path and no elements: a missing field.
 *     vl__json_path and vl__json_array_any validate the whole text first, so
 *     a value found never comes from text that JSON.parse would refuse.
 *   - Work per call is linear in the text, except a substring search inside
 *     a string with escapes (naive, O(text x needle)).
 *
 * Decoded values (vl_value):
 *   number -> VL_TAG_F64, 8 LE bytes in the caller's num[8] (strtod: correctly
 *             rounded like JSON.parse; a number text over 127 bytes is NaN,
 *             so it compares unordered);
 *   string -> VL_TAG_STR over the bytes between the quotes when they hold no
 *             backslash, else VL_TAG_JSTR (internal, never stored): the raw
 *             escaped bytes, decoded while compared;
 *   true/false -> VL_TAG_BOOL; null -> VL_TAG_NULL;
 *   object/array -> VL_TAG_JSON over its text.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "index.h"

static const uint8_t bool_bytes[2] = { 0, 1 };

static const uint8_t *ws(const uint8_t *p, const uint8_t *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* p at '"': past the closing quote, or NULL. *esc set when a backslash occurs. */
static const uint8_t *skip_string(const uint8_t *p, const uint8_t *end, int *esc)
{
    if (p >= end || *p != '"') return NULL;
    p++;
    while (p < end) {
        uint8_t c = *p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c != '\\') { p++; continue; }
        if (esc) *esc = 1;
        if (end - p < 2) return NULL;
        c = p[1];
        if (c == 'u') {
            if (end - p < 6) return NULL;
            for (int i = 2; i < 6; i++) if (hexval(p[i]) < 0) return NULL;
            p += 6;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                   c == 'r' || c == 't') {
            p += 2;
        } else {
            return NULL;
        }
    }
    return NULL;
}

static const uint8_t *skip_digits(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *s = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p == s ? NULL : p;
}

static const uint8_t *skip_number(const uint8_t *p, const uint8_t *end)
{
    if (p < end && *p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0') p++;
    else if (!(p = skip_digits(p, end))) return NULL;
    if (p < end && *p == '.' && !(p = skip_digits(p + 1, end))) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!(p = skip_digits(p, end))) return NULL;
    }
    return p;
}

static const uint8_t *skip_word(const uint8_t *p, const uint8_t *end, const char *w, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

/* One scalar (string, number, literal) at p: past it, or NULL. */
static const uint8_t *skip_scalar(const uint8_t *p, const uint8_t *end)
{
    switch (*p) {
    case '"': return skip_string(p, end, NULL);
    case 't': return skip_word(p, end, "true", 4);
    case 'f': return skip_word(p, end, "false", 5);
    case 'n': return skip_word(p, end, "null", 4);
    default:  return (*p == '-' || (*p >= '0' && *p <= '9')) ? skip_number(p, end) : NULL;
    }
}

/* p at a member's key: past "key" ws ':' ws, or NULL. */
static const uint8_t *skip_key(const uint8_t *p, const uint8_t *end)
{
    p = skip_string(p, end, NULL);
    if (!p) return NULL;
    p = ws(p, end);
    if (p >= end || *p != ':') return NULL;
    return ws(p + 1, end);
}

const uint8_t *vl__json_skip(const uint8_t *p, const uint8_t *end)
{
    uint8_t objs[VL_JSON_MAX_DEPTH / 8];   /* bit d: level d is an object */
    uint32_t depth = 0;
    p = ws(p, end);
    for (;;) {
        /* a value starts at p */
        if (p >= end) return NULL;
        if (*p == '{' || *p == '[') {
            int obj = *p == '{';
            if (depth == VL_JSON_MAX_DEPTH) return NULL;
            if (obj) objs[depth >> 3] |= (uint8_t)(1u << (depth & 7));
            else objs[depth >> 3] &= (uint8_t)~(1u << (depth & 7));
            depth++;
            p = ws(p + 1, end);
            if (p < end && *p == (obj ? '}' : ']')) {
                depth--;
                p++;
            } else {
                if (obj && !(p = skip_key(p, end))) return NULL;
                continue;
            }
        } else if (!(p = skip_scalar(p, end))) {
            return NULL;
        }
        /* after a value: close containers, or go on to the next member */
        for (;;) {
            if (depth == 0) return p;
            int obj = (objs[(depth - 1) >> 3] >> ((depth - 1) & 7)) & 1;
            p = ws(p, end);
            if (p >= end) return NULL;
            if (*p == (obj ? '}' : ']')) { depth--; p++; continue; }
            if (*p != ',') return NULL;
            p = ws(p + 1, end);
            if (obj && !(p = skip_key(p, end))) return NULL;
            break;
        }
    }
}

/* The whole text [s, end) is one valid value (whitespace around it allowed). */
static const uint8_t *whole(const uint8_t *s, const uint8_t *end)
{
    const uint8_t *q = vl__json_skip(s, end);
    if (!q || ws(q, end) != end) return NULL;
    return ws(s, end);
}

/* ---- strings with escapes --------------------------------------------------
 * A cursor over a string's bytes that yields the UTF-8 of the decoded text
 * one byte at a time. Raw (STR) text is yielded as is. Escapes were checked
 * by skip_string; a lone surrogate escape decodes to U+FFFD, as a
 * TextEncoder would write it. */
typedef struct scur {
    const uint8_t *p, *end;
    int esc;                       /* text has JSON escapes */
    uint8_t pend[4], npend, ipend;
} scur;

static void scur_init(scur *c, const vl_value *v)
{
    c->p = v->p;
    c->end = v->p + v->len;
    c->esc = v->tag == VL_TAG_JSTR;
    c->npend = c->ipend = 0;
}

static uint32_t hex4(const uint8_t *p)
{
    return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

/* Next decoded byte, or -1 at the end. */
static int scur_next(scur *c)
{
    if (c->ipend < c->npend) return c->pend[c->ipend++];
    if (c->p >= c->end) return -1;
    uint8_t b = *c->p++;
    if (!c->esc || b != '\\') return b;
    if (c->p >= c->end) return -1;
    uint8_t e = *c->p++;
    switch (e) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': break;
    default:  return e;            /* " \ / */
    }
    if (c->end - c->p < 4) { c->p = c->end; return -1; }
    uint32_t cp = hex4(c->p);
    c->p += 4;
    if (cp >= 0xd800 && cp <= 0xdbff && c->end - c->p >= 6 && c->p[0] == '\\' &&
        c->p[1] == 'u' && hexval(c->p[2]) >= 0 && hexval(c->p[3]) >= 0 &&
        hexval(c->p[4]) >= 0 && hexval(c->p[5]) >= 0) {
        uint32_t lo = hex4(c->p + 2);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            c->p += 6;
        }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    uint8_t *o = c->pend;
    if (cp < 0x80) { o[0] = (uint8_t)cp; c->npend = 1; }
    else if (cp < 0x800) { o[0] = (uint8_t)(0xc0 | cp >> 6); o[1] = (uint8_t)(0x80 | (cp & 0x3f)); c->npend = 2; }
    else if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12); o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f)); c->npend = 3;
    } else {
        o[0] = (uint8_t)(0xf0 | cp >> 18); o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (uint8_t)(0x80 | (cp & 0x3f));
        c->npend = 4;
    }
    c->ipend = 1;
    return o[0];
}

int vl__str_cmp(const vl_value *a, const vl_value *b)
{
    scur x, y;
    scur_init(&x, a);
    scur_init(&y, b);
    for (;;) {
        int cx = scur_next(&x), cy = scur_next(&y);
        if (cx != cy) return cx < cy ? -1 : 1;   /* -1 (end) sorts first: shorter is smaller */
        if (cx < 0) return 0;
    }
}

int vl__str_find(const vl_value *hay, const vl_value *needle)
{
    if (needle->len == 0) return 1;
    if (hay->tag != VL_TAG_JSTR) {                      /* raw bytes: memchr + memcmp */
        const uint8_t *p = hay->p, *last = hay->p + hay->len;
        if (hay->len < needle->len) return 0;
        last -= needle->len;                             /* last possible start */
        uint8_t first = needle->p[0];
        while (p <= last) {
            const uint8_t *q = memchr(p, first, (size_t)(last - p) + 1);
            if (!q) return 0;
            if (memcmp(q, needle->p, needle->len) == 0) return 1;
            p = q + 1;
        }
        return 0;
    }
    scur start;
    scur_init(&start, hay);
    for (;;) {                                           /* escaped: naive over the cursor */
        scur c = start, n;
        scur_init(&n, needle);
        for (;;) {
            int cn = scur_next(&n);
            if (cn < 0) return 1;
            int ch = scur_next(&c);
            if (ch < 0) return 0;                        /* hay ran out: no later start fits */
            if (ch != cn) break;
        }
        if (scur_next(&start) < 0) return 0;
    }
}

/* ---- values ---------------------------------------------------------------- */

/* Decode the (validated) value at p into v; 1, or 0 if it is not a value. */
static int decode_at(const uint8_t *p, const uint8_t *end, vl_value *v, uint8_t num[8])
{
    if (p >= end) return 0;
    const uint8_t *q;
    int esc = 0;
    switch (*p) {
    case '"':
        if (!(q = skip_string(p, end, &esc))) return 0;
        v->tag = esc ? VL_TAG_JSTR : VL_TAG_STR;
        v->p = p + 1;
        v->len = (uint32_t)(q - p - 2);
        return 1;
    case '{': case '[':
        if (!(q = vl__json_skip(p, end))) return 0;
        v->tag = VL_TAG_JSON;
        v->p = p;
        v->len = (uint32_t)(q - p);
        return 1;
    case 't': case 'f':
        if (!skip_word(p, end, *p == 't' ? "true" : "false", *p == 't' ? 4 : 5)) return 0;
        v->tag = VL_TAG_BOOL;
        v->p = &bool_bytes[*p == 't'];
        v->len = 1;
        return 1;
    case 'n':
        if (!skip_word(p, end, "null", 4)) return 0;
        v->tag = VL_TAG_NULL;
        v->p = p;
        v->len = 0;
        return 1;
    default: {
        if (!(q = skip_number(p, end))) return 0;
        double d = NAN;
        char buf[128];
        size_t n = (size_t)(q - p);
        if (n < sizeof buf) {
            memcpy(buf, p, n);
            buf[n] = 0;
            d = strtod(buf, NULL);
        }
        uint64_t bits;
        memcpy(&bits, &d, 8);
        for (int i = 0; i < 8; i++) num[i] = (uint8_t)(bits >> (8 * i));
        v->tag = VL_TAG_F64;
        v->p = num;
        v->len = 8;
        return 1;
    }
    }
}

/* Whether the raw key string at p (at '"') decodes to exactly seg. */
static int key_is(const uint8_t *p, const uint8_t *end, const uint8_t *seg, uint32_t slen)
{
    int esc = 0;
    const uint8_t *q = skip_string(p, end, &esc);
    if (!q) return 0;
    vl_value k = { esc ? VL_TAG_JSTR : VL_TAG_STR, p + 1, (uint32_t)(q - p - 2) };
    vl_value s = { VL_TAG_STR, seg, slen };
    if (!esc) return k.len == slen && memcmp(k.p, seg, slen) == 0;
    return vl__str_cmp(&k, &s) == 0;
}

/* A canonical decimal index ("0", "17"; no sign, no leading zero) below 2^32 - 1. */
static int seg_index(const uint8_t *seg, uint32_t slen, uint32_t *out)
{
    if (slen == 0 || slen > 10 || (slen > 1 && seg[0] == '0')) return 0;
    uint64_t x = 0;
    for (uint32_t i = 0; i < slen; i++) {
        if (seg[i] < '0' || seg[i] > '9') return 0;
        x = x * 10 + (uint64_t)(seg[i] - '0');
    }
    if (x >= UINT32_MAX) return 0;
    *out = (uint32_t)x;
    return 1;
}

/* One step: p at a valid container value; the start of the member or element
 * seg names, or NULL. */
static const uint8_t *step(const uint8_t *p, const uint8_t *end, const uint8_t *seg, uint32_t slen)
{
    if (*p == '{') {
        const uint8_t *found = NULL;
        p = ws(p + 1, end);
        if (p < end && *p == '}') return NULL;
        for (;;) {
            int hit = key_is(p, end, seg, slen);
            if (!(p = skip_key(p, end))) return NULL;
            if (hit) found = p;                            /* the last duplicate wins */
            if (!(p = vl__json_skip(p, end))) return NULL;
            p = ws(p, end);
            if (p >= end || *p != ',') return found;
            p = ws(p + 1, end);
        }
    }
    if (*p == '[') {
        uint32_t idx, i = 0;
        if (!seg_index(seg, slen, &idx)) return NULL;
        p = ws(p + 1, end);
        if (p < end && *p == ']') return NULL;
        for (;;) {
            if (i == idx) return p;
            if (!(p = vl__json_skip(p, end))) return NULL;
            p = ws(p, end);
            if (p >= end || *p != ',') return NULL;
            p = ws(p + 1, end);
            i++;
        }
    }
    return NULL;
}

int vl__json_path(const uint8_t *s, uint32_t len, const uint8_t *path, uint32_t nseg,
                  vl_value *v, uint8_t num[8])
{
    const uint8_t *end = s + len, *p = whole(s, end);
    if (!p) return 0;
    for (uint32_t i = 0; i < nseg; i++) {
        uint32_t slen = (uint32_t)(path[0] | (path[1] << 8));
        if (!(p = step(p, end, path + 2, slen))) return 0;
        path += 2 + slen;
    }
    return decode_at(p, end, v, num);
}

int vl__json_array_any(const uint8_t *s, uint32_t len,
                       int (*fn)(const vl_value *elem, const void *ctx), const void *ctx)
{
    const uint8_t *end = s + len, *p = whole(s, end);
    if (!p || *p != '[') return 0;
    p = ws(p + 1, end);
    if (p < end && *p == ']') return 0;
    for (;;) {
        vl_value e;
        uint8_t num[8];
        if (*p != '{' && *p != '[' && decode_at(p, end, &e, num) && fn(&e, ctx)) return 1;
        if (!(p = vl__json_skip(p, end))) return 0;
        p = ws(p, end);
        if (p >= end || *p != ',') return 0;
        p = ws(p + 1, end);
    }
}
