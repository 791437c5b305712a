/*
 * meta.c — metadata records and the field-name registry.
 *
 * Record format (veclite.h):  u16 n_fields | n x { u16 field_id | u8 tag | value }
 * all little-endian. vl__meta_validate is the only gate: a record stored in
 * an index has passed it, so the filter evaluator can walk stored records
 * without re-checking. A valid record:
 *   - is either empty (len 0 = "no metadata") or exactly covers its fields
 *     (no truncation, no trailing bytes) and is at most VL_MAX_META_BYTES;
 *   - uses known tags only, BOOL bytes 0/1, UTF-8 for STR and JSON;
 *   - names registered field ids, each at most once.
 *
 * Field names: ids are dense 0..n_fields-1 in creation order. A small open-
 * addressing table (field_hash, slots hold id+1) finds a name's id; names are
 * 1..VL_MAX_FIELD_NAME bytes of valid UTF-8, kept by clear().
 */
#include <stdio.h>
#include <string.h>
#include "index.h"

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

int vl__utf8_valid(const uint8_t *s, uint32_t len)
{
    uint32_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        uint32_t n, cp;
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else return 0;
        if (len - i <= n) return 0;
        for (uint32_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

uint32_t vl__value_decode(uint8_t tag, const uint8_t *p, const uint8_t *end, vl_value *v)
{
    size_t avail = (size_t)(end - p);
    v->tag = tag;
    v->p = p;
    switch (tag) {
    case VL_TAG_NULL:
        v->len = 0;
        return 0;   /* consumes nothing */
    case VL_TAG_STR: case VL_TAG_BYTES: case VL_TAG_JSON: {
        if (avail < 4) return UINT32_MAX;
        uint32_t len = rd32(p);
        if (avail - 4 < len) return UINT32_MAX;
        v->p = p + 4;
        v->len = len;
        if (tag != VL_TAG_BYTES && !vl__utf8_valid(p + 4, len)) return UINT32_MAX;
        return 4 + len;
    }
    case VL_TAG_I64: case VL_TAG_U64: case VL_TAG_F64:
        if (avail < 8) return UINT32_MAX;
        v->len = 8;
        return 8;
    case VL_TAG_BOOL:
        if (avail < 1 || p[0] > 1) return UINT32_MAX;
        v->len = 1;
        return 1;
    default:
        return UINT32_MAX;
    }
}

int vl__meta_validate(vl_index *h, const uint8_t *rec, uint32_t len,
                      uint32_t n_fields_known, char *why, size_t why_len)
{
    if (len == 0) return VL_OK;
    if (len > VL_MAX_META_BYTES) {
        snprintf(why, why_len, "record is %u bytes, more than the %u-byte limit", len,
                 VL_MAX_META_BYTES);
        return VL_EINVAL;
    }
    if (!rec) { snprintf(why, why_len, "record pointer is NULL"); return VL_EINVAL; }
    if (len < 2) { snprintf(why, why_len, "record truncated in its field count"); return VL_EINVAL; }
    const uint8_t *p = rec + 2, *end = rec + len;
    uint32_t nf = rd16(rec);
    if (h) {
        if (++h->stamp_gen == 0) {   /* wrapped: restart stamps */
            if (h->field_stamp) memset(h->field_stamp, 0, h->fields_cap * sizeof *h->field_stamp);
            h->stamp_gen = 1;
        }
    }
    for (uint32_t i = 0; i < nf; i++) {
        if (end - p < 3) {
            snprintf(why, why_len, "record truncated in field %u of %u", i, nf);
            return VL_EINVAL;
        }
        uint32_t fid = rd16(p);
        uint8_t tag = p[2];
        p += 3;
        if (n_fields_known != UINT32_MAX && fid >= n_fields_known) {
            snprintf(why, why_len, "field %u uses unknown field id %u (%u registered)", i, fid,
                     n_fields_known);
            return VL_EINVAL;
        }
        if (h && n_fields_known != UINT32_MAX) {
            if (h->field_stamp[fid] == h->stamp_gen) {
                snprintf(why, why_len, "field id %u appears twice", fid);
                return VL_EINVAL;
            }
            h->field_stamp[fid] = h->stamp_gen;
        }
        if (tag > VL_TAG_JSON) {
            snprintf(why, why_len, "field %u (id %u) has unknown tag %u", i, fid, tag);
            return VL_EINVAL;
        }
        vl_value v;
        uint32_t used = vl__value_decode(tag, p, end, &v);
        if (used == UINT32_MAX) {
            snprintf(why, why_len, "field %u (id %u, tag %u) has a truncated or invalid value%s",
                     i, fid, tag,
                     tag == VL_TAG_BOOL ? " (bool must be 0 or 1)"
                     : (tag == VL_TAG_STR || tag == VL_TAG_JSON) ? " (or invalid UTF-8)" : "");
            return VL_EINVAL;
        }
        p += used;
    }
    if (p != end) {
        snprintf(why, why_len, "record has %u trailing bytes after %u fields",
                 (uint32_t)(end - p), nf);
        return VL_EINVAL;
    }
    return VL_OK;
}

int vl__meta_find(const uint8_t *rec, uint32_t len, uint32_t fid, vl_value *v)
{
    if (len < 2) return 0;
    const uint8_t *p = rec + 2, *end = rec + len;
    uint32_t nf = rd16(rec);
    for (uint32_t i = 0; i < nf; i++) {
        if (end - p < 3) return 0;
        uint32_t f = rd16(p);
        uint8_t tag = p[2];
        p += 3;
        uint32_t used = vl__value_decode(tag, p, end, v);
        if (used == UINT32_MAX) return 0;
        if (f == fid) return 1;
        p += used;
    }
    return 0;
}

/* ---- field-name registry --------------------------------------------------- */

static uint32_t name_hash(const char *s, uint32_t len)
{
    uint32_t x = 2166136261u;                        /* FNV-1a */
    for (uint32_t i = 0; i < len; i++) { x ^= (uint8_t)s[i]; x *= 16777619u; }
    return x;
}

static uint32_t field_lookup(const vl_index *h, const char *name, uint32_t len)
{
    if (!h->field_hash_cap) return UINT32_MAX;
    uint32_t mask = h->field_hash_cap - 1, i = name_hash(name, len) & mask;
    for (;;) {
        uint32_t s = h->field_hash[i];
        if (s == 0) return UINT32_MAX;
        uint32_t id = s - 1;
        if (h->field_len[id] == len && memcmp(h->field_name[id], name, len) == 0) return id;
        i = (i + 1) & mask;
    }
}

uint32_t vl__field_find(const vl_index *h, const char *name, uint32_t len)
{
    return field_lookup(h, name, len);
}

static void hash_insert(uint32_t *tab, uint32_t cap, uint32_t hash, uint32_t id)
{
    uint32_t mask = cap - 1, i = hash & mask;
    while (tab[i]) i = (i + 1) & mask;
    tab[i] = id + 1;
}

int vl_index_field(vl_index *h, const char *name, uint32_t len, uint32_t *field_id_out)
{
    if (!h || !field_id_out) return VL_EINVAL;
    if (!name || len == 0 || len > VL_MAX_FIELD_NAME) {
        vl__msg(h, "field name must be 1..%u bytes (got %u)", VL_MAX_FIELD_NAME, len);
        return VL_EINVAL;
    }
    if (!vl__utf8_valid((const uint8_t *)name, len)) {
        vl__msg(h, "field name is not valid UTF-8");
        return VL_EINVAL;
    }
    uint32_t id = field_lookup(h, name, len);
    if (id != UINT32_MAX) { *field_id_out = id; return VL_OK; }
    if (h->n_fields >= VL_MAX_FIELDS) {
        vl__msg(h, "too many metadata field names (limit %u)", VL_MAX_FIELDS);
        return VL_EINVAL;
    }
    /* Grow arrays first; nothing is visible until everything succeeded. */
    if (h->n_fields == h->fields_cap) {
        uint32_t nc = h->fields_cap ? h->fields_cap * 2 : 16;
        if (nc > VL_MAX_FIELDS) nc = VL_MAX_FIELDS;
        char **nn = vl_mem_realloc(h->field_name, nc * sizeof *nn);
        if (!nn) goto nomem;
        h->field_name = nn;
        uint32_t *nl = vl_mem_realloc(h->field_len, nc * sizeof *nl);
        if (!nl) goto nomem;
        h->field_len = nl;
        uint32_t *ns = vl_mem_realloc(h->field_stamp, nc * sizeof *ns);
        if (!ns) goto nomem;
        memset(ns + h->fields_cap, 0, (nc - h->fields_cap) * sizeof *ns);
        h->field_stamp = ns;
        h->fields_cap = nc;
    }
    if ((h->n_fields + 1) * 2 > h->field_hash_cap) {
        uint32_t nc = h->field_hash_cap ? h->field_hash_cap * 2 : 32;
        uint32_t *tab = vl_mem_calloc(nc, sizeof *tab);
        if (!tab) goto nomem;
        for (uint32_t i = 0; i < h->n_fields; i++)
            hash_insert(tab, nc, name_hash(h->field_name[i], h->field_len[i]), i);
        vl_mem_free(h->field_hash);
        h->field_hash = tab;
        h->field_hash_cap = nc;
    }
    char *copy = vl_mem_alloc(len);
    if (!copy) goto nomem;
    memcpy(copy, name, len);
    id = h->n_fields++;
    h->field_name[id] = copy;
    h->field_len[id] = len;
    hash_insert(h->field_hash, h->field_hash_cap, name_hash(name, len), id);
    *field_id_out = id;
    return VL_OK;
nomem:
    vl__msg(h, "out of memory registering a field name");
    return VL_ENOMEM;
}

int vl_index_field_name(const vl_index *h, uint32_t field_id, const char **name, uint32_t *len)
{
    if (!h) return VL_EINVAL;
    if (field_id >= h->n_fields) return VL_ENOTFOUND;
    if (name) *name = h->field_name[field_id];
    if (len) *len = h->field_len[field_id];
    return VL_OK;
}

uint32_t vl_index_field_count(const vl_index *h) { return h ? h->n_fields : 0; }

uint64_t vl__fields_bytes(const vl_index *h)
{
    uint64_t b = (uint64_t)h->fields_cap * (sizeof(char *) + 2 * sizeof(uint32_t)) +
                 (uint64_t)h->field_hash_cap * sizeof(uint32_t);
    for (uint32_t i = 0; i < h->n_fields; i++) b += h->field_len[i];
    return b;
}

void vl__fields_free(vl_index *h)
{
    for (uint32_t i = 0; i < h->n_fields; i++) vl_mem_free(h->field_name[i]);
    vl_mem_free(h->field_name);
    vl_mem_free(h->field_len);
    vl_mem_free(h->field_stamp);
    vl_mem_free(h->field_hash);
    h->field_name = NULL; h->field_len = NULL; h->field_stamp = NULL; h->field_hash = NULL;
    h->n_fields = h->fields_cap = h->field_hash_cap = 0;
}

/* ---- filter columns ----------------------------------------------------------
 * For each field id used by a filter (up to VL_MAX_COLS) a column holds every
 * node's tag and value (see index.h), so evaluating a comparison reads two
 * small arrays instead of walking the node's record. Columns are built on
 * first use (one walk over all records) and kept current by set_node_meta /
 * flat moves; their capacity follows the node arrays. Numbers are kept as
 * their little-endian record bytes (memcpy), so readers decode them exactly
 * like record bytes on any host. */

static void col_fill(struct vl_col *c, uint32_t node, const uint8_t *rec, uint32_t len)
{
    c->tag[node] = VL_COL_ABSENT;
    c->raw[node] = 0;
    if (!rec || len < 2) return;
    const uint8_t *p = rec + 2, *end = rec + len;
    uint32_t nf = rd16(rec);
    for (uint32_t i = 0; i < nf; i++) {
        if (end - p < 3) return;
        uint32_t f = rd16(p);
        uint8_t tag = p[2];
        vl_value v;
        uint32_t used = vl__value_decode(tag, p + 3, end, &v);
        if (used == UINT32_MAX) return;
        if (f == c->fid) {
            c->tag[node] = tag;
            if (tag == VL_TAG_STR || tag == VL_TAG_BYTES || tag == VL_TAG_JSON)
                c->raw[node] = (uint64_t)(p + 3 - rec);
            else if (used)
                memcpy(&c->raw[node], p + 3, used);
            return;
        }
        p += 3 + used;
    }
}

const struct vl_col *vl__col_get(vl_index *h, uint32_t fid)
{
    for (uint32_t i = 0; i < h->n_cols; i++)
        if (h->cols[i].fid == fid) return &h->cols[i];
    if (h->n_cols == VL_MAX_COLS || h->cap == 0 || fid >= h->n_fields) return NULL;
    struct vl_col c;
    c.fid = fid;
    c.tag = vl_mem_alloc(h->cap);
    c.raw = vl_mem_alloc((size_t)h->cap * sizeof *c.raw);
    if (!c.tag || !c.raw) { vl_mem_free(c.tag); vl_mem_free(c.raw); return NULL; }
    for (uint32_t i = 0; i < h->n; i++) col_fill(&c, i, h->meta[i], h->meta_len[i]);
    h->cols[h->n_cols] = c;
    return &h->cols[h->n_cols++];
}

void vl__cols_set_node(vl_index *h, uint32_t node)
{
    for (uint32_t i = 0; i < h->n_cols; i++)
        col_fill(&h->cols[i], node, h->meta[node], h->meta_len[node]);
    vl__text_set_node(h, node);
}

void vl__cols_move(vl_index *h, uint32_t dst, uint32_t src)
{
    for (uint32_t i = 0; i < h->n_cols; i++) {
        h->cols[i].tag[dst] = h->cols[i].tag[src];
        h->cols[i].raw[dst] = h->cols[i].raw[src];
    }
    vl__text_move(h, dst, src);
}

int vl__cols_reserve(vl_index *h, uint32_t cap)
{
    for (uint32_t i = 0; i < h->n_cols; i++) {
        uint8_t *t = vl_mem_realloc(h->cols[i].tag, cap);
        if (!t) return VL_ENOMEM;
        h->cols[i].tag = t;
        uint64_t *r = vl_mem_realloc(h->cols[i].raw, (size_t)cap * sizeof *r);
        if (!r) return VL_ENOMEM;
        h->cols[i].raw = r;
    }
    return VL_OK;
}

void vl__cols_free(vl_index *h)
{
    for (uint32_t i = 0; i < h->n_cols; i++) {
        vl_mem_free(h->cols[i].tag);
        vl_mem_free(h->cols[i].raw);
    }
    h->n_cols = 0;
    vl__text_reset(h);
}

int vl__cols_check(const vl_index *h)
{
    int trc = vl__text_check(h);
    if (trc) return trc;
    for (uint32_t i = 0; i < h->n_cols; i++) {
        const struct vl_col *c = &h->cols[i];
        if (c->fid >= h->n_fields) {
            vl__msg(h, "filter column %u is for unknown field %u", i, c->fid);
            return VL_ECORRUPT;
        }
        for (uint32_t j = 0; j < i; j++)
            if (h->cols[j].fid == c->fid) { vl__msg(h, "two filter columns for field %u", c->fid); return VL_ECORRUPT; }
        for (uint32_t node = 0; node < h->n; node++) {
            uint8_t t;
            uint64_t r;
            struct vl_col one = { c->fid, &t, &r };
            col_fill(&one, 0, h->meta[node], h->meta_len[node]);
            if (t != c->tag[node] || r != c->raw[node]) {
                vl__msg(h, "filter column of field %u is stale at node %u", c->fid, node);
                return VL_ECORRUPT;
            }
        }
    }
    return VL_OK;
}

uint64_t vl__cols_bytes(const vl_index *h)
{
    return (uint64_t)h->n_cols * h->cap * (1 + sizeof(uint64_t)) + vl__text_bytes(h);
}
