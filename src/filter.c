/*
 * filter.c — the filter byte program of veclite.h: validation
 * (vl_filter_check) and evaluation against one metadata record.
 *
 * Program (prefix-encoded, little-endian):
 *   TRUE 0 | AND 1 u16 n, n x expr | OR 2 u16 n, n x expr | NOT 3 expr
 *   EXISTS 4 u16 field | CMP 5 u8 cmp, u16 field, u8 tag, value
 *   IN 6 u16 field, u16 n, n x { u8 tag, value }
 *   CONTAINS 7 u16 field, u8 tag, value   (tag NULL/STR/I64/U64/F64/BOOL)
 *   PATH 8 u8 nseg, nseg x { u16 len, len bytes UTF-8 }, leaf
 *        (1..VL_FILTER_MAX_PATH segments; leaf EXISTS/CMP/IN/CONTAINS, at
 *        the PATH's own depth)
 * Values use the record encoding (meta.c), including its checks (BOOL 0/1,
 * UTF-8 for STR/JSON). A valid program is exactly one expression covering
 * all filter_len bytes, nested at most VL_FILTER_MAX_DEPTH deep (the root
 * expression is depth 1).
 *
 * Semantics (veclite.h):
 *   - I64, U64 and F64 compare numerically with each other, exactly: an
 *     integer against a double is decided without rounding the integer.
 *     NaN compares unordered (every operator false, NE true).
 *   - STR with STR and BYTES with BYTES compare bytewise (memcmp, then the
 *     shorter is smaller). A STR never equals a BYTES.
 *   - BOOL, NULL and JSON (text) support EQ/NE with the same tag only.
 *   - A missing field or an incomparable pair makes a comparison false;
 *     NE is exactly NOT EQ (true for a missing field).
 *   - IN: true iff the field is present and EQ to one listed value.
 *   - AND of zero children is true, OR of zero children is false.
 *   - CONTAINS: a STR field holding the STR operand (bytewise substring), or
 *     a JSON array field with a scalar element EQ to the operand.
 *   - PATH: the leaf reads the value at the path inside the field's JSON
 *     text (json.c: numbers as F64, strings, BOOL, NULL, nested text as
 *     JSON); no value there counts as a missing field.
 * Evaluation short-circuits and trusts a program that passed the check.
 * Two evaluators share the comparison code: vl__filter_match walks the byte
 * program against one record (vl_filter_eval), and the compiled form
 * (vl__filter_compile / vl__filter_node, bottom of the file) is what a search
 * runs per visited node: decoded literals, field values read from the
 * index's filter columns, no validation and no allocation per node.
 */
#include <math.h>
#include <string.h>
#include "index.h"

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* ---- validation ------------------------------------------------------------ */

static int check_value(const uint8_t **pp, const uint8_t *end)
{
    if (*pp >= end) return VL_EINVAL;
    uint8_t tag = *(*pp)++;
    if (tag > VL_TAG_JSON) return VL_EINVAL;
    vl_value v;
    uint32_t used = vl__value_decode(tag, *pp, end, &v);
    if (used == UINT32_MAX) return VL_EINVAL;
    *pp += used;
    return VL_OK;
}

static int check_expr(const uint8_t **pp, const uint8_t *end, uint32_t depth)
{
    if (depth > VL_FILTER_MAX_DEPTH || *pp >= end) return VL_EINVAL;
    uint8_t op = *(*pp)++;
    switch (op) {
    case VL_F_TRUE:
        return VL_OK;
    case VL_F_AND: case VL_F_OR: {
        if (end - *pp < 2) return VL_EINVAL;
        uint32_t n = rd16(*pp);
        *pp += 2;
        for (uint32_t i = 0; i < n; i++)
            if (check_expr(pp, end, depth + 1) != VL_OK) return VL_EINVAL;
        return VL_OK;
    }
    case VL_F_NOT:
        return check_expr(pp, end, depth + 1);
    case VL_F_EXISTS:
        if (end - *pp < 2) return VL_EINVAL;
        *pp += 2;
        return VL_OK;
    case VL_F_CMP:
        if (end - *pp < 3 || (*pp)[0] > VL_CMP_GE) return VL_EINVAL;
        *pp += 3;
        return check_value(pp, end);
    case VL_F_IN: {
        if (end - *pp < 4) return VL_EINVAL;
        uint32_t n = rd16(*pp + 2);
        *pp += 4;
        for (uint32_t i = 0; i < n; i++)
            if (check_value(pp, end) != VL_OK) return VL_EINVAL;
        return VL_OK;
    }
    case VL_F_CONTAINS: {
        if (end - *pp < 3) return VL_EINVAL;
        uint8_t tag = (*pp)[2];
        if (tag == VL_TAG_BYTES || tag == VL_TAG_JSON) return VL_EINVAL;
        *pp += 2;
        return check_value(pp, end);
    }
    case VL_F_PATH: {
        if (*pp >= end) return VL_EINVAL;
        uint32_t nseg = *(*pp)++;
        if (nseg == 0 || nseg > VL_FILTER_MAX_PATH) return VL_EINVAL;
        for (uint32_t i = 0; i < nseg; i++) {
            if (end - *pp < 2) return VL_EINVAL;
            uint32_t len = rd16(*pp);
            *pp += 2;
            if ((uint32_t)(end - *pp) < len || !vl__utf8_valid(*pp, len)) return VL_EINVAL;
            *pp += len;
        }
        if (*pp >= end) return VL_EINVAL;
        uint8_t leaf = **pp;
        if (leaf != VL_F_EXISTS && leaf != VL_F_CMP && leaf != VL_F_IN && leaf != VL_F_CONTAINS)
            return VL_EINVAL;
        return check_expr(pp, end, depth);
    }
    default:
        return VL_EINVAL;
    }
}

int vl_filter_check(const uint8_t *filter, uint32_t filter_len)
{
    if (!filter || filter_len == 0) return VL_EINVAL;
    const uint8_t *p = filter, *end = filter + filter_len;
    if (check_expr(&p, end, 1) != VL_OK) return VL_EINVAL;
    return p == end ? VL_OK : VL_EINVAL;
}

/* ---- comparison ------------------------------------------------------------ */

static inline int is_num(uint8_t t) { return t == VL_TAG_I64 || t == VL_TAG_U64 || t == VL_TAG_F64; }

#define UNORDERED 2

/* Exact comparison of a signed integer with a double: -1, 0, 1 or UNORDERED. */
static int cmp_i64_f64(int64_t x, double d)
{
    if (isnan(d)) return UNORDERED;
    if (d >= 9223372036854775808.0) return -1;        /* 2^63 */
    if (d < -9223372036854775808.0) return 1;
    double t = trunc(d);                              /* exact, in [-2^63, 2^63) */
    int64_t ti = (int64_t)t;
    if (x < ti) return -1;
    if (x > ti) return 1;
    double frac = d - t;                              /* exact */
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_u64_f64(uint64_t x, double d)
{
    if (isnan(d)) return UNORDERED;
    if (d >= 18446744073709551616.0) return -1;       /* 2^64 */
    if (d < 0) return 1;
    double t = trunc(d);
    uint64_t ti = (uint64_t)t;
    if (x < ti) return -1;
    if (x > ti) return 1;
    double frac = d - t;
    return frac > 0 ? -1 : 0;
}

static int cmp_num(const vl_value *a, const vl_value *b)
{
    uint64_t ra = rd64(a->p), rb = rd64(b->p);
    uint8_t ta = a->tag, tb = b->tag;
    if (ta == VL_TAG_F64 && tb == VL_TAG_F64) {
        double x, y;
        memcpy(&x, &ra, 8); memcpy(&y, &rb, 8);
        if (isnan(x) || isnan(y)) return UNORDERED;
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (tb == VL_TAG_F64) {
        double y; memcpy(&y, &rb, 8);
        return ta == VL_TAG_I64 ? cmp_i64_f64((int64_t)ra, y) : cmp_u64_f64(ra, y);
    }
    if (ta == VL_TAG_F64) {
        int c = cmp_num(b, a);
        return c == UNORDERED ? c : -c;
    }
    if (ta == tb) {
        if (ta == VL_TAG_I64) { int64_t x = (int64_t)ra, y = (int64_t)rb; return x < y ? -1 : x > y; }
        return ra < rb ? -1 : ra > rb;
    }
    if (ta == VL_TAG_I64) {                           /* i64 vs u64 */
        int64_t x = (int64_t)ra;
        if (x < 0) return -1;
        return (uint64_t)x < rb ? -1 : (uint64_t)x > rb;
    }
    int64_t y = (int64_t)rb;                          /* u64 vs i64 */
    if (y < 0) return 1;
    return ra < (uint64_t)y ? -1 : ra > (uint64_t)y;
}

static int cmp_bytes(const vl_value *a, const vl_value *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Field value `a` (present) against literal `b` under op. */
static int compare(const vl_value *a, const vl_value *b, uint32_t op)
{
    int c;
    if (is_num(a->tag) && is_num(b->tag)) {
        c = cmp_num(a, b);
    } else if (a->tag == b->tag && (a->tag == VL_TAG_STR || a->tag == VL_TAG_BYTES)) {
        c = cmp_bytes(a, b);
    } else if ((a->tag == VL_TAG_JSTR || a->tag == VL_TAG_STR) &&
               (b->tag == VL_TAG_JSTR || b->tag == VL_TAG_STR)) {
        c = vl__str_cmp(a, b);                        /* a string found at a JSON path */
    } else if (a->tag == b->tag && (a->tag == VL_TAG_BOOL || a->tag == VL_TAG_NULL ||
                                    a->tag == VL_TAG_JSON)) {
        int eq = a->tag == VL_TAG_NULL ? 1
               : a->tag == VL_TAG_BOOL ? a->p[0] == b->p[0]
               : cmp_bytes(a, b) == 0;
        return op == VL_CMP_EQ ? eq : op == VL_CMP_NE ? !eq : 0;
    } else {
        return op == VL_CMP_NE;
    }
    switch (op) {
    case VL_CMP_EQ: return c == 0;
    case VL_CMP_NE: return c != 0;                    /* includes UNORDERED */
    case VL_CMP_LT: return c == -1;
    case VL_CMP_LE: return c == -1 || c == 0;
    case VL_CMP_GT: return c == 1;
    case VL_CMP_GE: return c == 1 || c == 0;
    default:        return 0;
    }
}

static int elem_eq(const vl_value *e, const void *lit) { return compare(e, lit, VL_CMP_EQ); }

/* CONTAINS: field value `a` (present) against a scalar literal. */
static int contains(const vl_value *a, const vl_value *lit)
{
    if (a->tag == VL_TAG_STR || a->tag == VL_TAG_JSTR)
        return lit->tag == VL_TAG_STR && vl__str_find(a, lit);
    if (a->tag == VL_TAG_JSON) return vl__json_array_any(a->p, a->len, elem_eq, lit);
    return 0;
}

/* A PATH's segments start at p (trusted): their bytes. */
static uint32_t path_size(const uint8_t *p)
{
    uint32_t n = p[0], at = 1;
    for (uint32_t i = 0; i < n; i++) at += 2 + rd16(p + at);
    return at;
}

/* The value a leaf reads: field fid of the record, or with a path the value
 * at that path inside the field's JSON text. 1 present, 0 missing. */
static int leaf_value(const uint8_t *rec, uint32_t rec_len, uint32_t fid, const uint8_t *path,
                      vl_value *v, uint8_t num[8])
{
    if (!vl__meta_find(rec, rec_len, fid, v)) return 0;
    if (!path) return 1;
    if (v->tag != VL_TAG_JSON) return 0;
    return vl__json_path(v->p, v->len, path + 1, path[0], v, num);
}

/* ---- evaluation (trusted program and record) ------------------------------- */

/* Bytes of a value of `tag` starting at p (trusted). */
static inline uint32_t value_size(uint8_t tag, const uint8_t *p)
{
    switch (tag) {
    case VL_TAG_STR: case VL_TAG_BYTES: case VL_TAG_JSON: return 4 + rd32(p);
    case VL_TAG_I64: case VL_TAG_U64: case VL_TAG_F64: return 8;
    case VL_TAG_BOOL: return 1;
    default: return 0;
    }
}

static inline void value_at(uint8_t tag, const uint8_t *p, vl_value *v)
{
    v->tag = tag;
    if (tag == VL_TAG_STR || tag == VL_TAG_BYTES || tag == VL_TAG_JSON) {
        v->len = rd32(p);
        v->p = p + 4;
    } else {
        v->p = p;
        v->len = value_size(tag, p);
    }
}

static const uint8_t *skip_expr(const uint8_t *p)
{
    uint8_t op = *p++;
    switch (op) {
    case VL_F_AND: case VL_F_OR: {
        uint32_t n = rd16(p);
        p += 2;
        for (uint32_t i = 0; i < n; i++) p = skip_expr(p);
        return p;
    }
    case VL_F_NOT: return skip_expr(p);
    case VL_F_PATH: return skip_expr(p + path_size(p));
    case VL_F_CONTAINS: return p + 3 + value_size(p[2], p + 3);
    case VL_F_EXISTS: return p + 2;
    case VL_F_CMP: return p + 4 + value_size(p[3], p + 4);
    case VL_F_IN: {
        uint32_t n = rd16(p + 2);
        p += 4;
        for (uint32_t i = 0; i < n; i++) p += 1 + value_size(p[0], p + 1);
        return p;
    }
    default: return p;   /* TRUE */
    }
}

/* One leaf (EXISTS, CMP, IN, CONTAINS) at *pp; path: its PATH prefix or NULL. */
static int eval_leaf(const uint8_t **pp, const uint8_t *rec, uint32_t rec_len, const uint8_t *path)
{
    const uint8_t *p = *pp;
    uint8_t op = *p++;
    uint8_t num[8];
    vl_value v, lit;
    int r;
    switch (op) {
    case VL_F_EXISTS:
        r = leaf_value(rec, rec_len, rd16(p), path, &v, num);
        p += 2;
        break;
    case VL_F_CMP: {
        uint32_t cmp = p[0], fid = rd16(p + 1);
        uint8_t tag = p[3];
        value_at(tag, p + 4, &lit);
        p += 4 + value_size(tag, p + 4);
        r = leaf_value(rec, rec_len, fid, path, &v, num) ? compare(&v, &lit, cmp)
                                                         : cmp == VL_CMP_NE;
        break;
    }
    case VL_F_IN: {
        uint32_t fid = rd16(p), n = rd16(p + 2);
        p += 4;
        int have = leaf_value(rec, rec_len, fid, path, &v, num);
        r = 0;
        for (uint32_t i = 0; i < n; i++) {
            value_at(p[0], p + 1, &lit);
            if (have && !r && compare(&v, &lit, VL_CMP_EQ)) r = 1;
            p += 1 + value_size(p[0], p + 1);
        }
        break;
    }
    case VL_F_CONTAINS: {
        uint32_t fid = rd16(p);
        value_at(p[2], p + 3, &lit);
        p += 3 + value_size(p[2], p + 3);
        r = leaf_value(rec, rec_len, fid, path, &v, num) && contains(&v, &lit);
        break;
    }
    default:
        r = 0;
        break;
    }
    *pp = p;
    return r;
}

static int eval_expr(const uint8_t **pp, const uint8_t *rec, uint32_t rec_len)
{
    const uint8_t *p = *pp;
    uint8_t op = *p;
    int r;
    switch (op) {
    case VL_F_TRUE:
        r = 1;
        p++;
        break;
    case VL_F_AND: case VL_F_OR: {
        uint32_t n = rd16(p + 1);
        p += 3;
        r = op == VL_F_AND;
        uint32_t i = 0;
        for (; i < n; i++) {
            int c = eval_expr(&p, rec, rec_len);
            if (op == VL_F_AND ? !c : c) { r = !r; i++; break; }
        }
        for (; i < n; i++) p = skip_expr(p);
        break;
    }
    case VL_F_NOT:
        p++;
        r = !eval_expr(&p, rec, rec_len);
        break;
    case VL_F_PATH: {
        const uint8_t *path = p + 1;
        p = path + path_size(path);
        r = eval_leaf(&p, rec, rec_len, path);
        break;
    }
    default:
        r = eval_leaf(&p, rec, rec_len, NULL);
        break;
    }
    *pp = p;
    return r;
}

int vl__filter_match(const uint8_t *f, uint32_t flen, const uint8_t *rec, uint32_t rec_len)
{
    (void)flen;
    const uint8_t *p = f;
    return eval_expr(&p, rec, rec_len);
}

int vl_filter_eval(const uint8_t *filter, uint32_t filter_len, const uint8_t *rec,
                   uint32_t rec_len, uint32_t *match_out)
{
    if (!match_out) return VL_EINVAL;
    if (vl_filter_check(filter, filter_len) != VL_OK) return VL_EINVAL;
    char why[8];
    if (rec_len && !rec) return VL_EINVAL;
    if (vl__meta_validate(NULL, rec, rec_len, UINT32_MAX, why, sizeof why) != VL_OK)
        return VL_EINVAL;
    *match_out = (uint32_t)vl__filter_match(filter, filter_len, rec, rec_len);
    return VL_OK;
}

/* ---- compiled form (per search) ---------------------------------------------
 * vl_index_search compiles a checked program once per call: instructions in
 * prefix order, literals decoded, and for each field a column (meta.c) so a
 * node's field is found in O(1). `end` lets AND/OR skip a decided subtree. */

static uint32_t compile_expr(vl_index *h, const uint8_t **pp, uint32_t at, uint32_t depth)
{
    if (depth > h->fdepth) h->fdepth = depth;
    vl_finst *out = h->fprog;
    const uint8_t *p = *pp;
    vl_finst *in = &out[at];
    memset(in, 0, sizeof *in);
    in->op = *p++;
    uint32_t next = at + 1;
    switch (in->op) {
    case VL_F_AND: case VL_F_OR:
        in->n = rd16(p);
        p += 2;
        for (uint32_t i = 0; i < in->n; i++) {
            *pp = p;
            next = compile_expr(h, pp, next, depth + 1);
            p = *pp;
            in = &out[at];
        }
        break;
    case VL_F_NOT:
        *pp = p;
        next = compile_expr(h, pp, next, depth + 1);
        p = *pp;
        in = &out[at];
        break;
    case VL_F_EXISTS:
        in->fid = rd16(p);
        in->col = vl__col_get(h, in->fid);
        p += 2;
        break;
    case VL_F_CMP:
        in->cmp = p[0];
        in->fid = rd16(p + 1);
        in->col = vl__col_get(h, in->fid);
        value_at(p[3], p + 4, &in->lit);
        p += 4 + value_size(p[3], p + 4);
        break;
    case VL_F_IN:
        in->fid = rd16(p);
        in->n = rd16(p + 2);
        in->col = vl__col_get(h, in->fid);
        p += 4;
        for (uint32_t i = 0; i < in->n; i++) {
            vl_finst *v = &out[next++];
            memset(v, 0, sizeof *v);
            v->op = VL_FI_VALUE;
            value_at(p[0], p + 1, &v->lit);
            p += 1 + value_size(p[0], p + 1);
        }
        break;
    case VL_F_CONTAINS:
        in->fid = rd16(p);
        in->col = vl__col_get(h, in->fid);
        value_at(p[2], p + 3, &in->lit);
        p += 3 + value_size(p[2], p + 3);
        break;
    case VL_F_PATH: {              /* the leaf takes this slot, reading through the path */
        const uint8_t *path = p;
        *pp = p + path_size(p);
        next = compile_expr(h, pp, at, depth);
        out[at].path = path;
        return next;
    }
    default:   /* TRUE */
        break;
    }
    out[at].end = next;
    *pp = p;
    return next;
}

int vl__filter_compile(vl_index *h, const uint8_t *f, uint32_t flen)
{
    /* every instruction consumes at least one program byte */
    if (flen > h->fprog_cap) {
        vl_finst *np = vl_mem_realloc(h->fprog, (size_t)flen * sizeof *np);
        if (!np) return VL_ENOMEM;
        h->fprog = np;
        h->fprog_cap = flen;
    }
    const uint8_t *p = f;
    h->fdepth = 0;
    (void)compile_expr(h, &p, 0, 1);
    return VL_OK;
}

static const uint8_t empty_rec[2] = { 0, 0 };

/* A node's top-level field of in->fid: from its column, else its record. */
static inline int node_field_top(const vl_finst *in, uint32_t node, const uint8_t *rec,
                                 uint32_t len, vl_value *v)
{
    if (in->col) {
        uint8_t tag = in->col->tag[node];
        if (tag == VL_COL_ABSENT) return 0;
        if (tag == VL_TAG_STR || tag == VL_TAG_BYTES || tag == VL_TAG_JSON) {
            value_at(tag, rec + in->col->raw[node], v);
        } else {
            v->tag = tag;
            v->p = (const uint8_t *)&in->col->raw[node];
            v->len = tag == VL_TAG_NULL ? 0 : tag == VL_TAG_BOOL ? 1 : 8;
        }
        return 1;
    }
    return vl__meta_find(rec, len, in->fid, v);
}

/* The value a compiled leaf reads (through its path, if any): 1 present, 0 missing. */
static int node_field(const vl_finst *in, uint32_t node, const uint8_t *rec, uint32_t len,
                      vl_value *v, uint8_t num[8])
{
    if (!node_field_top(in, node, rec, len, v)) return 0;
    if (!in->path) return 1;
    if (v->tag != VL_TAG_JSON) return 0;
    return vl__json_path(v->p, v->len, in->path + 1, in->path[0], v, num);
}

static int eval_node(const vl_finst *prog, uint32_t at, uint32_t node, const uint8_t *rec,
                     uint32_t len)
{
    const vl_finst *in = &prog[at];
    vl_value v;
    uint8_t num[8];
    switch (in->op) {
    case VL_F_TRUE:
        return 1;
    case VL_F_AND: case VL_F_OR: {
        int want = in->op == VL_F_OR;      /* the value that decides */
        uint32_t c = at + 1;
        for (uint32_t i = 0; i < in->n; i++) {
            if (eval_node(prog, c, node, rec, len) == want) return want;
            c = prog[c].end;
        }
        return !want;
    }
    case VL_F_NOT:
        return !eval_node(prog, at + 1, node, rec, len);
    case VL_F_EXISTS:
        return node_field(in, node, rec, len, &v, num);
    case VL_F_CMP:
        if (!node_field(in, node, rec, len, &v, num)) return in->cmp == VL_CMP_NE;
        if (v.tag == VL_TAG_F64 && in->lit.tag == VL_TAG_F64) {     /* common fast path */
            uint64_t ra = rd64(v.p), rb = rd64(in->lit.p);
            double x, y;
            memcpy(&x, &ra, 8); memcpy(&y, &rb, 8);
            switch (in->cmp) {
            case VL_CMP_EQ: return x == y;
            case VL_CMP_NE: return !(x == y);
            case VL_CMP_LT: return x < y;
            case VL_CMP_LE: return x <= y;
            case VL_CMP_GT: return x > y;
            default:        return x >= y;
            }
        }
        return compare(&v, &in->lit, in->cmp);
    case VL_F_IN:
        if (!node_field(in, node, rec, len, &v, num)) return 0;
        for (uint32_t i = 1; i <= in->n; i++)
            if (compare(&v, &prog[at + i].lit, VL_CMP_EQ)) return 1;
        return 0;
    case VL_F_CONTAINS:
        return node_field(in, node, rec, len, &v, num) && contains(&v, &in->lit);
    default:
        return 0;
    }
}

int vl__filter_node(const vl_index *h, uint32_t node)
{
    const uint8_t *rec = h->meta[node];
    return eval_node(h->fprog, 0, node, rec ? rec : empty_rec, rec ? h->meta_len[node] : 0);
}

/* ---- column-wise evaluation (exact scans) -----------------------------------
 * For a scan over every node the compiled program is evaluated one
 * instruction at a time over all nodes into match bytes: leaves run a tight
 * loop over their column (a numeric comparison against an F64 literal never
 * calls out), AND/OR/NOT combine byte arrays. Level l of the recursion owns
 * bytes [l*n, (l+1)*n) of h->fmatch; the result is level 0. */

static inline int f64_cmp(uint32_t op, double x, double y)
{
    switch (op) {
    case VL_CMP_EQ: return x == y;
    case VL_CMP_NE: return !(x == y);
    case VL_CMP_LT: return x < y;
    case VL_CMP_LE: return x <= y;
    case VL_CMP_GT: return x > y;
    default:        return x >= y;
    }
}

static void eval_vec(const vl_index *h, uint32_t at, uint8_t *out, uint8_t *next_level)
{
    const vl_finst *prog = h->fprog, *in = &prog[at];
    const uint32_t n = h->n;
    switch (in->op) {
    case VL_F_TRUE:
        memset(out, 1, n);
        return;
    case VL_F_AND: case VL_F_OR: {
        memset(out, in->op == VL_F_AND, n);
        uint32_t c = at + 1;
        for (uint32_t k = 0; k < in->n; k++) {
            eval_vec(h, c, next_level, next_level + n);
            if (in->op == VL_F_AND) for (uint32_t i = 0; i < n; i++) out[i] &= next_level[i];
            else for (uint32_t i = 0; i < n; i++) out[i] |= next_level[i];
            c = prog[c].end;
        }
        return;
    }
    case VL_F_NOT:
        eval_vec(h, at + 1, out, next_level);
        for (uint32_t i = 0; i < n; i++) out[i] ^= 1;
        return;
    case VL_F_CMP:
        if (in->col && !in->path && in->lit.tag == VL_TAG_F64) {
            const uint8_t *tag = in->col->tag;
            const uint64_t *raw = in->col->raw;
            uint64_t yb = rd64(in->lit.p);
            double y;
            memcpy(&y, &yb, 8);
            const uint32_t op = in->cmp;
            for (uint32_t i = 0; i < n; i++) {
                uint8_t t = tag[i];
                if (t == VL_TAG_F64) {
                    uint64_t xb = rd64((const uint8_t *)&raw[i]);
                    double x;
                    memcpy(&x, &xb, 8);
                    out[i] = (uint8_t)f64_cmp(op, x, y);
                } else if (t == VL_COL_ABSENT) {
                    out[i] = op == VL_CMP_NE;
                } else {
                    const uint8_t *rec = h->meta[i];
                    out[i] = (uint8_t)eval_node(prog, at, i, rec ? rec : empty_rec,
                                                rec ? h->meta_len[i] : 0);
                }
            }
            return;
        }
        break;
    default:
        break;
    }
    for (uint32_t i = 0; i < n; i++) {      /* any other leaf: per node */
        const uint8_t *rec = h->meta[i];
        out[i] = (uint8_t)eval_node(prog, at, i, rec ? rec : empty_rec, rec ? h->meta_len[i] : 0);
    }
}

int vl__filter_bytemap(vl_index *h, const uint8_t **out)
{
    uint64_t need = (uint64_t)(h->fdepth + 1) * (h->n ? h->n : 1);
    if (need > (64u << 20)) return VL_ENOMEM;        /* deep program on a huge index: per node */
    if (need > h->fmatch_cap) {
        uint8_t *p = vl_mem_realloc(h->fmatch, (size_t)need);
        if (!p) return VL_ENOMEM;
        h->fmatch = p;
        h->fmatch_cap = need;
    }
    eval_vec(h, 0, h->fmatch, h->fmatch + h->n);
    *out = h->fmatch;
    return VL_OK;
}
