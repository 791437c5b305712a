/*
 * store_meta.c — the META segment (type 0x07) codec of the store layer, and
 * the byte buffer the store's encoders share.
 *
 * No released ruvector package persists metadata; veclite uses the layout
 * proposed upstream (docs/format.md §4), little-endian:
 *
 *   "RVFMETA\0" | u16 version (1) | u16 flags (1 = full snapshot) |
 *   u64 generation | u64 base_generation (u64::MAX: none) |
 *   u32 schema_n | u32 filemeta_n | u32 record_n |
 *   schema_n   x { u16 field_id | u8 type | u8 nullable | u16 len | name[len] }
 *   filemeta_n x { u16 key_len | key[key_len] | u32 val_len | val[val_len] }
 *   record_n   x { u64 id | u8 op | u32 n | n x { u16 field_id | u8 tag | value } }
 *   "RVFDONE\0" | [32] SHA-256 of every payload byte before it
 *
 * Decisions veclite makes where the proposal is silent:
 *   - Schema type 0 (VL_META_TYPE_TAGGED) means "values carry their own
 *     tag": a field is not typed, each value says what it is, exactly as
 *     in the engine's records. nullable is written 1. Names are UTF-8,
 *     1..VL_MAX_FIELD_NAME bytes; field ids are the engine's (dense from 0).
 *   - Values are the engine's tagged values (veclite.h): 0 NULL (no
 *     bytes), 1 STR and 2 BYTES (u32 len | bytes), 3 I64, 4 U64, 5 F64
 *     (8 bytes), 6 BOOL (1 byte), and 7 JSON: u32 len | UTF-8 JSON text of
 *     a nested array or object (tags 1..6 equal the proposal's types).
 *   - A record replaces the id's whole metadata (op 0) or removes it
 *     (op 1, n = 0). String ids are ordinary metadata: the JS layer keeps
 *     them in field "$id".
 *   - File metadata values are u32-length byte strings; in a delta, a value
 *     of length 0 removes the key. Keys "veclite.*" belong to the store
 *     ("veclite.index": the index configuration, see store.c).
 *   - Generations count the commits that changed META. A delta written by
 *     one commit has generation = previous + 1 and base_generation = the
 *     previous generation. A merged delta (store.c "META policy": it
 *     replaces the newest deltas in the directory) carries the generation
 *     of its newest input (the commit writing it) and the base_generation
 *     of its oldest input, so it spans generation - base_generation
 *     commits. A snapshot (flags 1) replaces everything before it (base
 *     u64::MAX). Readers apply the listed META segments in directory
 *     order; each delta's base_generation must equal the generation of the
 *     META listed before it (0 if none) and its generation must be larger,
 *     else the chain is broken (VL_ECORRUPT). (veclite before the tiered
 *     merge required generation = base + 1 and refuses merged deltas.)
 *   - version > 1 or unknown flag bits: VL_EVERSION naming the version.
 *
 * Invariant of the parser: nothing is handed to a callback before the
 * whole payload was checked (sizes, digest, names, values), so a damaged
 * segment never half-applies.
 */
#include <string.h>
#include "store.h"
#include "sha256.h"

static const uint8_t MAGIC[8] = { 'R', 'V', 'F', 'M', 'E', 'T', 'A', 0 };
static const uint8_t DONE[8] = { 'R', 'V', 'F', 'D', 'O', 'N', 'E', 0 };
#define HEAD_SIZE 40u

/* ---- byte buffer ---------------------------------------------------------- */

static int buf_room(vl_buf *b, uint64_t extra)
{
    if (b->oom) return 0;
    if (b->len + extra <= b->cap) return 1;
    uint64_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < b->len + extra) nc *= 2;
    if (nc > SIZE_MAX) { b->oom = 1; return 0; }
    uint8_t *q = vl_mem_realloc(b->p, (size_t)nc);
    if (!q) { b->oom = 1; return 0; }
    b->p = q;
    b->cap = nc;
    return 1;
}

int vl__buf_reserve(vl_buf *b, uint64_t extra) { return buf_room(b, extra); }

void vl__buf_put(vl_buf *b, const void *data, uint64_t len)
{
    if (!len || !buf_room(b, len)) return;
    memcpy(b->p + b->len, data, (size_t)len);
    b->len += len;
}

void vl__buf_u8(vl_buf *b, uint8_t v) { vl__buf_put(b, &v, 1); }
void vl__buf_u16(vl_buf *b, uint16_t v) { uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) }; vl__buf_put(b, x, 2); }
void vl__buf_u32(vl_buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    vl__buf_put(b, x, 4);
}
void vl__buf_u64(vl_buf *b, uint64_t v) { vl__buf_u32(b, (uint32_t)v); vl__buf_u32(b, (uint32_t)(v >> 32)); }

void vl__buf_varint(vl_buf *b, uint64_t v)
{
    uint8_t x[10];
    uint32_t n = 0;
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        x[n++] = v ? (uint8_t)(c | 0x80) : c;
    } while (v);
    vl__buf_put(b, x, n);
}

void vl__buf_pad(vl_buf *b, uint32_t align)
{
    static const uint8_t zeros[64] = { 0 };
    uint32_t r = (uint32_t)(b->len % align);
    if (r) vl__buf_put(b, zeros, align - r);
}

void vl__buf_free(vl_buf *b)
{
    vl_mem_free(b->p);
    memset(b, 0, sizeof *b);
}

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* ---- writer --------------------------------------------------------------- */

void vl__meta_begin(vl_meta_writer *w, int snapshot, uint64_t generation, uint64_t base)
{
    memset(w, 0, sizeof *w);
    w->flags = snapshot ? VL_META_F_SNAPSHOT : 0;
    w->generation = generation;
    w->base = snapshot ? VL_META_NO_BASE : base;
}

void vl__meta_schema(vl_meta_writer *w, uint32_t field_id, const char *name, uint32_t len)
{
    vl__buf_u16(&w->schema, (uint16_t)field_id);
    vl__buf_u8(&w->schema, VL_META_TYPE_TAGGED);
    vl__buf_u8(&w->schema, 1);
    vl__buf_u16(&w->schema, (uint16_t)len);
    vl__buf_put(&w->schema, name, len);
    w->n_schema++;
}

void vl__meta_filemeta(vl_meta_writer *w, const uint8_t *key, uint32_t key_len,
                       const uint8_t *val, uint32_t val_len)
{
    vl__buf_u16(&w->filemeta, (uint16_t)key_len);
    vl__buf_put(&w->filemeta, key, key_len);
    vl__buf_u32(&w->filemeta, val_len);
    vl__buf_put(&w->filemeta, val, val_len);
    w->n_filemeta++;
}

void vl__meta_record(vl_meta_writer *w, uint64_t id, uint32_t op, const uint8_t *rec, uint32_t len)
{
    uint32_t n = len >= 2 ? rd16(rec) : 0;
    vl__buf_u64(&w->records, id);
    vl__buf_u8(&w->records, (uint8_t)op);
    vl__buf_u32(&w->records, op == VL_META_OP_UPSERT ? n : 0);
    if (op == VL_META_OP_UPSERT && len > 2) vl__buf_put(&w->records, rec + 2, len - 2);
    w->n_records++;
}

int vl__meta_finish(vl_meta_writer *w, vl_buf *out)
{
    memset(out, 0, sizeof *out);
    if (w->schema.oom || w->filemeta.oom || w->records.oom) return VL_ENOMEM;
    uint64_t total = HEAD_SIZE + w->schema.len + w->filemeta.len + w->records.len + 8 + 32;
    if (total > VL_META_MAX_PAYLOAD) return VL_EBUDGET;
    if (!buf_room(out, total)) return VL_ENOMEM;
    vl__buf_put(out, MAGIC, 8);
    vl__buf_u16(out, VL_META_VERSION);
    vl__buf_u16(out, (uint16_t)w->flags);
    vl__buf_u64(out, w->generation);
    vl__buf_u64(out, w->base);
    vl__buf_u32(out, w->n_schema);
    vl__buf_u32(out, w->n_filemeta);
    vl__buf_u32(out, w->n_records);
    vl__buf_put(out, w->schema.p, w->schema.len);
    vl__buf_put(out, w->filemeta.p, w->filemeta.len);
    vl__buf_put(out, w->records.p, w->records.len);
    vl__buf_put(out, DONE, 8);
    uint8_t dig[32];
    vl_sha256(out->p, (size_t)out->len, dig);
    vl__buf_put(out, dig, 32);
    return out->oom ? VL_ENOMEM : VL_OK;
}

void vl__meta_writer_free(vl_meta_writer *w)
{
    vl__buf_free(&w->schema);
    vl__buf_free(&w->filemeta);
    vl__buf_free(&w->records);
}

/* ---- reader --------------------------------------------------------------- */

#include <stdio.h>
#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), VL_ECORRUPT)

/* One pass over the sections; with cb == NULL only checks. */
/* The n fields of record i from p[*o] (below end), checked; *o moves past
 * them. Its own function, called per record, so a WebAssembly engine
 * optimises it within the first records of a big payload (an engine
 * optimises functions between calls, never the loop that is running). */
static int record_fields(const uint8_t *p, uint64_t end, uint64_t *o, uint32_t i, uint32_t n, char *why,
                         size_t why_len)
{
    for (uint32_t f = 0; f < n; f++) {
        if (end - *o < 3) return WHY("META record %u field %u runs past the end", i, f);
        uint8_t tag = p[*o + 2];
        if (tag > VL_TAG_JSON) return WHY("META record %u field %u has unknown tag %u", i, f, tag);
        vl_value v;
        uint32_t used = vl__value_decode(tag, p + *o + 3, p + end, &v);
        if (used == UINT32_MAX) return WHY("META record %u field %u: bad value (tag %u)", i, f, tag);
        *o += 3 + (uint64_t)used;
    }
    return VL_OK;
}

/* per-item function: see VL_PER_ITEM in internal.h */
static int (*volatile record_fields_fn)(const uint8_t *, uint64_t, uint64_t *, uint32_t, uint32_t, char *,
                                        size_t) = record_fields;

static int walk(const uint8_t *p, uint64_t end, const vl_meta_head *hd, const vl_meta_cb *cb,
                char *why, size_t why_len)
{
    uint64_t o = HEAD_SIZE;
    for (uint32_t i = 0; i < hd->n_schema; i++) {
        if (end - o < 6) return WHY("META schema entry %u runs past the end", i);
        uint32_t fid = rd16(p + o), len = rd16(p + o + 4);
        if (end - o - 6 < len) return WHY("META schema entry %u name runs past the end", i);
        if (len == 0 || len > VL_MAX_FIELD_NAME || !vl__utf8_valid(p + o + 6, len))
            return WHY("META schema entry %u has an invalid name (%u bytes)", i, len);
        if (cb && cb->schema) {
            int rc = cb->schema(cb->ctx, fid, p + o + 6, len);
            if (rc) return rc;
        }
        o += 6 + (uint64_t)len;
    }
    for (uint32_t i = 0; i < hd->n_filemeta; i++) {
        if (end - o < 2) return WHY("META file-metadata entry %u runs past the end", i);
        uint32_t kl = rd16(p + o);
        if (end - o - 2 < (uint64_t)kl + 4) return WHY("META file-metadata key %u runs past the end", i);
        uint32_t vlen = rd32(p + o + 2 + kl);
        if (end - o - 6 - kl < vlen) return WHY("META file-metadata value %u runs past the end", i);
        if (kl == 0) return WHY("META file-metadata entry %u has an empty key", i);
        if (cb && cb->filemeta) {
            int rc = cb->filemeta(cb->ctx, p + o + 2, kl, p + o + 6 + kl, vlen);
            if (rc) return rc;
        }
        o += 6 + (uint64_t)kl + vlen;
    }
    for (uint32_t i = 0; i < hd->n_records; i++) {
        if (end - o < 13) return WHY("META record %u runs past the end", i);
        uint64_t id = rd64(p + o);
        uint32_t op = p[o + 8], n = rd32(p + o + 9);
        o += 13;
        if (op > VL_META_OP_DELETE) return WHY("META record %u (id %llu) has unknown op %u", i, (unsigned long long)id, op);
        if (op == VL_META_OP_DELETE && n) return WHY("META delete record %u carries %u fields", i, n);
        if (n > 0xFFFFu) return WHY("META record %u has %u fields (max 65535)", i, n);
        uint64_t start = o;
        int rc = record_fields_fn(p, end, &o, i, n, why, why_len);
        if (rc) return rc;
        if (o - start + 2 > VL_MAX_META_BYTES)
            return WHY("META record %u is %llu bytes (max %u)", i, (unsigned long long)(o - start + 2), VL_MAX_META_BYTES);
        if (cb && cb->record && (rc = cb->record(cb->ctx, id, op, n, p + start, (uint32_t)(o - start))))
            return rc;
    }
    if (o != end) return WHY("META segment has %llu unexpected bytes before its trailer",
                             (unsigned long long)(end - o));
    return VL_OK;
}

int vl__meta_parse(const uint8_t *p, uint64_t len, vl_meta_head *hd, const vl_meta_cb *cb,
                   char *why, size_t why_len)
{
    if (len < HEAD_SIZE + 40) return WHY("META segment of %llu bytes is too short", (unsigned long long)len);
    if (memcmp(p, MAGIC, 8) != 0) return WHY("META segment does not start with \"RVFMETA\\0\"");
    hd->version = rd16(p + 8);
    hd->flags = rd16(p + 10);
    if (hd->version == 0) return WHY("META segment has version 0");
    if (hd->version > VL_META_VERSION) {
        snprintf(why, why_len, "META segment version %u; this veclite reads version %u: open the "
                 "file with a newer veclite", hd->version, VL_META_VERSION);
        return VL_EVERSION;
    }
    if (hd->flags & ~(uint32_t)VL_META_F_SNAPSHOT) {
        snprintf(why, why_len, "META segment uses flags 0x%x this veclite does not know: open the "
                 "file with a newer veclite", hd->flags);
        return VL_EVERSION;
    }
    hd->generation = rd64(p + 12);
    hd->base = rd64(p + 20);
    hd->n_schema = rd32(p + 28);
    hd->n_filemeta = rd32(p + 32);
    hd->n_records = rd32(p + 36);
    uint64_t end = len - 40;
    if (memcmp(p + end, DONE, 8) != 0) return WHY("META segment lacks its \"RVFDONE\\0\" trailer");
    uint8_t dig[32];
    vl_sha256(p, (size_t)(len - 32), dig);
    if (memcmp(dig, p + len - 32, 32) != 0) return WHY("META segment SHA-256 mismatch");
    /* counts against the space they need at least */
    uint64_t room = end - HEAD_SIZE;
    if (hd->n_schema > room / 6 || hd->n_filemeta > room / 6 || hd->n_records > room / 13)
        return WHY("META segment counts (%u, %u, %u) exceed its size", hd->n_schema, hd->n_filemeta,
                   hd->n_records);
    int rc = walk(p, end, hd, NULL, why, why_len);
    if (rc || !cb) return rc;
    return walk(p, end, hd, cb, why, why_len);
}

int vl__meta_apply(const uint8_t *p, uint64_t len, const vl_meta_head *hd, const vl_meta_cb *cb,
                   char *why, size_t why_len)
{
    return walk(p, len - 40, hd, cb, why, why_len);
}
