/*
 * store.c — durable stores (veclite.h "Stores"): an in-memory index (index.c,
 * hnsw.c) kept in one .rvf file (rvf.c) on a vl_io device.
 *
 * How it fits: the index answers every read; rvf.c owns the file's
 * segments, manifest and directory; this file decides what each write
 * commits, and (store_load.c) how a file becomes an index again. The META
 * codec is in store_meta.c, the INDEX codec and graph export/repair in
 * store_index.c.
 *
 * Write path (every vl_store_* write):
 *   1. validate completely (same checks as vl_index_*; nothing written yet);
 *   2. commit through vl_rvf_commit: VEC / JOURNAL, then a META delta (or
 *      snapshot) and/or an INDEX, then a WITNESS (data changes only), sync,
 *      MANIFEST, sync. A device failure poisons the store (VL_EIO now,
 *      VL_EFATAL later): the file keeps its previous commit;
 *   3. apply the same change to the index. This cannot fail for validation
 *      reasons (checked in 1); if it runs out of memory the store is
 *      poisoned too (the file is ahead of memory: reopen).
 *
 * What a reopened store contains (load):
 *   - rows: every live row of the committed manifest;
 *   - metadata: the listed META segments applied in directory order (a
 *     snapshot resets, each delta's base_generation is the generation
 *     before it; a merged delta spans several generations). Records are
 *     authoritative: every commit that changes an id's metadata writes its
 *     record (op 1 "no metadata" for an upsert without metadata over an id
 *     that had some, for a delete of such an id, for an emptied set_meta),
 *     so the META state always equals the live ids' metadata. (Offsets
 *     cannot tell: rvf_commit.c's tiered merges move unchanged rows to new VEC
 *     segments.) A record of an id that is not live (rvf-node deleted it)
 *     is ignored and the next META write is a full snapshot;
 *   - field names: the META schema (names registered in the index in file
 *     field-id order; if that does not reproduce the file's ids, the next
 *     META write is a full snapshot so ids stay consistent in the file);
 *   - the graph: the newest listed INDEX segment covers exactly the rows of
 *     VEC segments at lower offsets (written before it; row commits keep it
 *     listed and rvf_commit.c's tier merges never move those rows, so the rows
 *     after it are the rows written since: rvf_commit.c "INDEX coverage"). Its
 *     nodes whose row is still there are imported as they are (deleted ids as routing
 *     tombstones), each row read once, by the device straight into the
 *     index's vector slots (vl__index_slots, "rows read in place": the file's
 *     rows in file order, which is the nodes' order when ids were written in
 *     ascending order; otherwise they are copied into place once more), and
 *     the graph decoded straight into the index's link arrays
 *     (vl__index_place); nodes whose row is gone or was re-written since are
 *     removed and their neighbours re-linked (vl__graph_remap); the live
 *     rows it does not cover are inserted (rows_inserted_on_open). An INDEX
 *     that fails a check is ignored and the graph rebuilt, so a damaged
 *     cache costs time, never results.
 *   - the configuration: META file metadata "veclite.index" (written at
 *     create): u32 kind | u32 m | u32 ef_construction | u32 ef_search |
 *     u64 seed, little-endian.
 *
 * META policy: a commit that changes metadata writes one META segment.
 * The listed META are a base snapshot (if any) followed by deltas whose
 * payload sizes shrink towards the end ("tiers"), like rvf_commit.c's VEC tiers.
 * The commit's own delta (changed records, field names registered since,
 * changed file-metadata keys; size b) absorbs the newest listed deltas
 * while the group's bytes are >= half the bytes of the next older one:
 *   - absorbs none: the plain delta is appended;
 *   - absorbs some, not all: ONE merged delta replaces them (vl_rvf_commit
 *     unlist_seg_ids unlists exactly those, it is listed last). It names
 *     the union of their ids, field names (from the lowest one they
 *     named) and file-metadata keys, each with its state after the
 *     commit (newest wins: memory, or the batch's record): op UPSERT for
 *     metadata, op DELETE for an id without metadata. A delete record is
 *     kept in a merged delta even if no listed delta older than it names
 *     the id (the base snapshot may still hold an upsert of it; which ids
 *     the snapshot holds is not tracked), so delete records drop out only
 *     when a snapshot is written. Same for removed file-metadata keys.
 *     generation = the new generation, base_generation = the oldest
 *     input's base (store_meta.c), so the chain stays unbroken;
 *   - absorbs every delta and is >= half the snapshot (or none is listed):
 *     a full snapshot of the live state replaces every listed META.
 * Each tier is < half the one before it, so O(log n) META segments are
 * listed and each record is rewritten O(log n) times: O(n log n) bytes for
 * n metadata commits (the old rule, a snapshot every 32 deltas, wrote
 * O(n^2 / 32)). A snapshot is also written when one is due (a file whose
 * field ids or records disagree with memory), when more than
 * VL_STORE_MAX_META_TIERS deltas are listed (only files of other writers),
 * and when the listed META bytes would exceed twice the live metadata +
 * 64 KiB (superseded records and delete records pile up): a snapshot then
 * costs O(live) after >= O(live) bytes of deltas, so the directory and the
 * bytes the loader reads stay O(live data). The store remembers per
 * listed delta its segment id, size, generations, ids and keys
 * (meta_tier; rebuilt at open), O(listed META bytes) of memory.
 *
 * INDEX policy: written by vl_store_checkpoint (explicit, whenever the graph
 * changed), by compaction, and by close when enough rows are uncovered (see
 * below); a new INDEX unlists the old one; row commits keep it listed
 * (keep_index) so a crash costs only the rows written after it.
 *
 * Checkpoint on close. The rows an INDEX does not cover are the live rows
 * in VEC segments after it (vl_rvf_live_rows_from; all live rows when no
 * usable INDEX is listed): the next open inserts exactly these into the
 * loaded graph. close writes an INDEX only when
 *     uncovered > 0  and  (uncovered x 32 >= live  or  uncovered >= 2048).
 * Why: an INDEX costs O(live) bytes (and the time to encode the graph),
 * inserting a row at open costs one HNSW insertion. Writing one on every
 * close that changed the graph made a one-row session (`veclite ingest`
 * of a single row, the CLI's common case) rewrite the whole graph: O(n)
 * bytes per session, O(n^2) for n such sessions. With the rule, an INDEX
 * is written once per max(live/32, 1)..2048 uncovered rows, so the bytes
 * per inserted row stay O(32) graph entries amortised for stores up to
 * 64k rows and O(live/2048) beyond, while an open after a clean close
 * never inserts 2048 rows or 1/32 of the store beyond what it loads from
 * the INDEX: little next to loading the rows themselves. (After a crash it
 * inserts what was written since the INDEX, as before.) Deletes and
 * re-linked nodes do not count: the loader handles them from the INDEX
 * (tombstones, vl__graph_remap) without insertions. A store whose listed
 * INDEX was not usable at open (other M, failed checks) counts every live
 * row as uncovered, so its close replaces the INDEX.
 * TEXT (keyword index, store_text.c): a checkpoint writes one when the
 * store has a text field and the newest listed TEXT is stale (any META or
 * live-row VEC segment listed after it). close does so when none is
 * listed, when it writes an INDEX anyway, or when the META bytes listed
 * after the TEXT reach 1/32 of its size: a TEXT costs O(live documents'
 * distinct terms) bytes, so writing one per one-row session would cost
 * O(n) bytes per session (and a compaction every few sessions, as the old
 * ones are dead bytes). Between such closes an open builds the index from
 * the records, as it did before TEXT existed.
 *
 * Memory of writes (WebAssembly memory never shrinks, so a write's peak
 * stays resident): vl_store_rows hands out room in the index's own vector
 * storage, so an upsert's batch is written there once (no staged copy) and
 * the commit encodes its VEC segments from it in 64 KiB chunks (a tiered
 * merge and compaction stream theirs too: rvf_commit.c, rvf_compact.c). Compaction
 * moving the store re-imports the compacted graph (a second index next to
 * the live one, plus a copy of every vector) only when the index holds
 * tombstones; without them memory keeps its index (nodes in insertion
 * order; the file's INDEX numbers them by id: the same graph).
 *
 * Known costs: with an INDEX the slots hold every row of the file (also
 * replaced and deleted ones) until the graph is built, and rows written in
 * another order than their ids take one more copy; without one, rows are
 * read twice (verified by the rvf open, then streamed into the index); the
 * heap is grown once per open for about 1.5 x the file (vl__mem_expect); a
 * checkpoint builds the export graph next to the live one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "io.h"
#include "rvf.h"
#include "branch.h"

#define BIT(t) (1ull << (t))
#define MAX_FM_KEY 255u
#define MAX_FM_VAL (1u << 20)

/* meta_tier, fm_entry and struct vl_store are in store.h (shared with store_refresh.c). */

/* ======================================================================
 * Helpers
 * ====================================================================== */

int vl__store_msg(vl_store *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    return rc;
}

static int writable(vl_store *s)
{
    if (!s) return VL_EINVAL;
    if (s->poisoned) return vl__store_msg(s, VL_EFATAL, "the store is poisoned by an earlier failed write: reopen it");
    if (s->readonly) return vl__store_msg(s, VL_EREADONLY, "the store was opened read-only");
    return VL_OK;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* One durable commit; device failures poison the store. */
static int commit(vl_store *s, const vl_rvf_commit_args *a, uint32_t *n_deleted)
{
    int rc = vl_rvf_commit(s->rvf, a, n_deleted);
    if (rc) {
        if (vl_rvf_poisoned(s->rvf)) s->poisoned = 1;
        vl__store_msg(s, rc, "commit failed: %s", vl_rvf_errmsg(s->rvf));
    }
    return rc;
}

/* The in-memory apply after a durable commit failed: memory and file differ. */
static int apply_failed(vl_store *s, int rc, const char *what)
{
    s->poisoned = 1;
    return vl__store_msg(s, VL_EFATAL, "%s was committed to the file, but applying it in memory failed (%s: "
                "%s); the store is now unusable: reopen it", what, vl_errstr(rc), vl_errmsg(s->idx));
}

/* ---- file metadata (in memory) ---- */

static fm_entry *fm_find(const vl_store *s, const uint8_t *key, uint32_t klen)
{
    for (uint32_t i = 0; i < s->nfm; i++)
        if (s->fm[i].klen == klen && memcmp(s->fm[i].key, key, klen) == 0) return &s->fm[i];
    return NULL;
}

static void fm_clear(vl_store *s)
{
    for (uint32_t i = 0; i < s->nfm; i++) { vl_mem_free(s->fm[i].key); vl_mem_free(s->fm[i].val); }
    s->nfm = 0;
}
void vl__store_fm_clear(vl_store *s) { fm_clear(s); }

/* Set (vlen > 0) or remove (vlen == 0) a key. VL_OK / VL_ENOMEM. */
static int fm_set(vl_store *s, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen);
int vl__store_fm_has(const vl_store *s, const uint8_t *key, uint32_t klen) { return fm_find(s, key, klen) != NULL; }
int vl__store_fm_set(vl_store *s, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen)
{
    return fm_set(s, key, klen, val, vlen);
}

static int fm_set(vl_store *s, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen)
{
    fm_entry *e = fm_find(s, key, klen);
    if (vlen == 0) {
        if (e) {
            vl_mem_free(e->key);
            vl_mem_free(e->val);
            *e = s->fm[--s->nfm];
        }
        return VL_OK;
    }
    uint8_t *v = vl_mem_alloc(vlen);
    if (!v) return VL_ENOMEM;
    memcpy(v, val, vlen);
    if (e) {
        vl_mem_free(e->val);
        e->val = v;
        e->vlen = vlen;
        return VL_OK;
    }
    if (s->nfm == s->cap_fm) {
        uint32_t nc = s->cap_fm ? s->cap_fm * 2 : 8;
        fm_entry *q = vl_mem_realloc(s->fm, (size_t)nc * sizeof *q);
        if (!q) { vl_mem_free(v); return VL_ENOMEM; }
        s->fm = q;
        s->cap_fm = nc;
    }
    uint8_t *k = vl_mem_alloc(klen);
    if (!k) { vl_mem_free(v); return VL_ENOMEM; }
    memcpy(k, key, klen);
    s->fm[s->nfm++] = (fm_entry){ k, v, klen, vlen };
    return VL_OK;
}

static uint64_t fm_bytes(const vl_store *s)
{
    uint64_t b = 0;
    for (uint32_t i = 0; i < s->nfm; i++) b += 6 + s->fm[i].klen + s->fm[i].vlen;
    return b;
}

static void cfg_encode(const vl_config *c, uint8_t out[CFG_LEN])
{
    put32(out, c->kind);
    put32(out + 4, c->m);
    put32(out + 8, c->ef_construction);
    put32(out + 12, c->ef_search);
    put32(out + 16, (uint32_t)c->seed);
    put32(out + 20, (uint32_t)(c->seed >> 32));
}

/* ---- batch bookkeeping ---- */

/* dd: id -> last row of the batch (built when n > 1). */
static int dedup_build(vl_idmap *dd, uint32_t n, const uint64_t *ids)
{
    memset(dd, 0, sizeof *dd);
    if (n <= 1) return VL_OK;
    if (vl_idmap_reserve(dd, n)) return VL_ENOMEM;
    for (uint32_t i = 0; i < n; i++) vl_idmap_put(dd, ids[i], i);
    return VL_OK;
}

static inline int is_last(const vl_idmap *dd, uint32_t n, const uint64_t *ids, uint32_t i)
{
    return n <= 1 || vl_idmap_get(dd, ids[i]) == i;
}

static inline int in_batch(const vl_idmap *dd, uint32_t n, const uint64_t *ids, uint64_t id)
{
    return n == 1 ? ids[0] == id : n > 1 && vl_idmap_get(dd, id) != VL_NO_NODE;
}

/* The validation vl_index_upsert / vl_index_set_meta do before changing anything. */
static int check_rows(vl_store *s, uint32_t n, const float *vecs)
{
    uint32_t dim = vl__index_dim(s->idx), cosine = vl__index_metric(s->idx) == VL_METRIC_COSINE;
    for (uint32_t i = 0; vecs && i < n; i++) {
        const float *v = vecs + (size_t)i * dim;
        double ss = 0;
        for (uint32_t j = 0; j < dim; j++) {
            if (!(v[j] - v[j] == 0.0f))
                return vl__store_msg(s, VL_EINVAL, "vector %u component %u is not finite", i, j);
            ss += (double)v[j] * v[j];
        }
        if (cosine && !(ss > 0.0))
            return vl__store_msg(s, VL_EINVAL, "vector %u is all zeros; cosine similarity needs a non-zero vector", i);
        float inv = (float)(1.0 / sqrt(ss));
        if (cosine && (!(inv > 0.f) || !isfinite(inv)))
            return vl__store_msg(s, VL_EINVAL, "vector %u has a norm outside the float range", i);
    }
    return VL_OK;
}

static int check_meta(vl_store *s, uint32_t n, const uint8_t *meta, const uint32_t *off)
{
    if (!meta && !off) return VL_OK;
    if (!meta || !off) return vl__store_msg(s, VL_EINVAL, "meta and meta_off must both be NULL or both be set");
    for (uint32_t i = 0; i < n; i++) {
        if (off[i + 1] < off[i])
            return vl__store_msg(s, VL_EINVAL, "meta_off is not ascending at row %u", i);
        char why[160];
        int rc = vl__meta_validate(s->idx, meta + off[i], off[i + 1] - off[i], vl_index_field_count(s->idx), why,
                                   sizeof why);
        if (rc) return vl__store_msg(s, rc, "metadata record %u: %s", i, why);
    }
    return VL_OK;
}

/* ======================================================================
 * META writes
 * ====================================================================== */

static void meta_schema(vl_store *s, vl_meta_writer *w, uint32_t from)
{
    for (uint32_t f = from, nf = vl_index_field_count(s->idx); f < nf; f++) {
        uint32_t len;
        const char *name = vl__index_field_name(s->idx, f, &len);
        vl__meta_schema(w, f, name, len);
    }
}

/* ---- listed META tiers ("META policy" at the top) ---- */

static void tier_free(meta_tier *t)
{
    vl_mem_free(t->ids);
    vl__buf_free(&t->keys);
    memset(t, 0, sizeof *t);
}

void vl__store_tiers_clear(vl_store *s)
{
    for (uint32_t i = 0; i < s->ntiers; i++) tier_free(&s->tiers[i]);
    s->ntiers = 0;
}

/* Room for one more tier. VL_OK / VL_ENOMEM. */
int vl__store_tiers_room(vl_store *s)
{
    if (s->ntiers < s->cap_tiers) return VL_OK;
    uint32_t nc = s->cap_tiers ? s->cap_tiers * 2 : 8;
    meta_tier *q = vl_mem_realloc(s->tiers, (size_t)nc * sizeof *q);
    if (!q) return VL_ENOMEM;
    s->tiers = q;
    s->cap_tiers = nc;
    return VL_OK;
}

int vl__store_tier_add_id(meta_tier *t, uint64_t id)
{
    if (t->nids == t->cap_ids) {
        if (t->cap_ids >= (1u << 30)) return VL_ENOMEM;
        uint32_t nc = t->cap_ids ? t->cap_ids * 2 : 16;
        uint64_t *q = vl_mem_realloc(t->ids, (size_t)nc * sizeof *q);
        if (!q) return VL_ENOMEM;
        t->ids = q;
        t->cap_ids = nc;
    }
    t->ids[t->nids++] = id;
    return VL_OK;
}

int vl__store_tier_add_key(meta_tier *t, const uint8_t *key, uint32_t klen)
{
    vl__buf_u16(&t->keys, (uint16_t)klen);
    vl__buf_put(&t->keys, key, klen);
    return t->keys.oom ? VL_ENOMEM : VL_OK;
}

static int tier_has_key(const meta_tier *t, const uint8_t *key, uint32_t klen)
{
    for (uint64_t o = 0; o < t->keys.len;) {
        uint32_t l = get16(t->keys.p + o);
        if (l == klen && memcmp(t->keys.p + o + 2, key, klen) == 0) return 1;
        o += 2 + (uint64_t)l;
    }
    return 0;
}

/* What one commit does to the META state. */
enum { MB_UPSERT, MB_SETMETA, MB_DELETE, MB_NONE };
typedef struct meta_batch {
    const vl_idmap *dd;          /* dedup_build of ids (n > 1) */
    uint32_t n;
    const uint64_t *ids;
    const uint8_t *meta;         /* records (NULL: none) */
    const uint32_t *off;
    int mode;
    const uint8_t *fkey, *fval;  /* file_meta_set: key and new value (fvlen 0 removes it) */
    uint32_t fklen, fvlen;
} meta_batch;

static int has_meta(const vl_store *s, uint64_t id)
{
    const uint8_t *m;
    uint32_t ml = 0;
    return vl_index_get(s->idx, &id, NULL, &m, &ml) == VL_OK && ml > 0;
}

/* A full snapshot: every field, every file-metadata key (with B's new
 * value), the records of the index's live nodes except ids in the batch
 * (whose records the caller adds). */
static void meta_snapshot_begin(vl_store *s, vl_meta_writer *w, const meta_batch *B, int records)
{
    vl__meta_begin(w, 1, s->meta_gen + 1, VL_META_NO_BASE);
    meta_schema(s, w, 0);
    for (uint32_t i = 0; i < s->nfm; i++) {
        if (B && B->fkey && s->fm[i].klen == B->fklen && memcmp(s->fm[i].key, B->fkey, B->fklen) == 0) continue;
        vl__meta_filemeta(w, s->fm[i].key, s->fm[i].klen, s->fm[i].val, s->fm[i].vlen);
    }
    if (B && B->fkey && B->fvlen) vl__meta_filemeta(w, B->fkey, B->fklen, B->fval, B->fvlen);
    if (!records) return;
    const vl_index *h = s->idx;
    uint32_t n = B ? B->n : 0;
    for (uint32_t i = 0, nodes = vl__index_nodes(h); i < nodes; i++) {
        uint32_t len;
        const uint8_t *rec = vl__index_node_meta(h, i, &len);
        uint64_t id = vl__index_node_id(h, i);
        if (vl__index_node_dead(h, i) || !rec || (n && in_batch(B->dd, n, B->ids, id))) continue;
        vl__meta_record(w, id, VL_META_OP_UPSERT, rec, len);
    }
}

/* The batch's records (records are authoritative: the META state always
 * equals the live ids' metadata): op UPSERT for non-empty effective rows of
 * upsert / set_meta; op DELETE for the other rows whose id may have a
 * record in the listed META: set_meta rows (always), ids that have
 * metadata now, ids in `older` (the deltas being merged). A snapshot (snap)
 * gets only the non-empty records. Ids written go to t (if t). */
static int batch_records(vl_meta_writer *w, meta_tier *t, const vl_store *s, const meta_batch *B,
                         const vl_idmap *older, int snap)
{
    for (uint32_t i = 0; i < B->n; i++) {
        if (!is_last(B->dd, B->n, B->ids, i)) continue;
        uint64_t id = B->ids[i];
        uint32_t len = B->meta ? B->off[i + 1] - B->off[i] : 0;
        if (B->mode != MB_DELETE && len)
            vl__meta_record(w, id, VL_META_OP_UPSERT, B->meta + B->off[i], len);
        else if (!snap && (B->mode == MB_SETMETA || has_meta(s, id) ||
                           (older && vl_idmap_get(older, id) != VL_NO_NODE)))
            vl__meta_record(w, id, VL_META_OP_DELETE, NULL, 0);
        else
            continue;
        if (t && vl__store_tier_add_id(t, id)) return VL_ENOMEM;
    }
    return VL_OK;
}

/* Whether a batch changes any META record. */
static int batch_touches_meta(const vl_store *s, const meta_batch *B)
{
    if (B->mode == MB_SETMETA) return B->n > 0;
    if (s->meta_orphans && B->mode == MB_UPSERT && B->n > 0) return 1;
    for (uint32_t i = 0; i < B->n; i++) {
        if (!is_last(B->dd, B->n, B->ids, i)) continue;
        if (B->mode == MB_UPSERT && B->meta && B->off[i + 1] > B->off[i]) return 1;
        if (has_meta(s, B->ids[i])) return 1;
    }
    return 0;
}

/* What a commit's META segment is. */
typedef struct meta_plan {
    vl_buf out;                  /* the payload */
    int snap;                    /* full snapshot: unlists every listed META */
    uint32_t nmerge;             /* else: the newest listed deltas it replaces */
    uint64_t *unlist;            /* their segment ids */
    meta_tier tier;              /* what the new delta names */
} meta_plan;

static void plan_free(meta_plan *P)
{
    vl__buf_free(&P->out);
    vl_mem_free(P->unlist);
    tier_free(&P->tier);
}

/* A delta of B merged with the k newest listed deltas (k may be 0): their
 * field names, file-metadata keys and ids, each with its state after B
 * (newest wins; op DELETE / empty value for what is gone, since an older
 * listed META may still hold it). generation = the new one, base = the
 * oldest input's base. VL_OK / VL_ENOMEM / VL_EBUDGET. */
static int meta_delta(vl_store *s, const meta_batch *B, uint32_t k, meta_plan *P)
{
    const meta_tier *old = s->tiers + (s->ntiers - k);
    uint64_t base = k ? old[0].base : s->meta_gen;
    uint32_t ffrom = s->fields_durable;
    uint64_t total = 0;
    for (uint32_t j = 0; j < k; j++) {
        total += old[j].nids;
        if (old[j].fields_from < ffrom) ffrom = old[j].fields_from;
    }
    if (ffrom > vl_index_field_count(s->idx)) ffrom = vl_index_field_count(s->idx);
    vl_idmap U;
    memset(&U, 0, sizeof U);
    vl_meta_writer w;
    vl__meta_begin(&w, 0, s->meta_gen + 1, base);
    meta_tier *t = &P->tier;
    int rc = VL_ENOMEM;
    if (total > UINT32_MAX / 4 || (total && vl_idmap_reserve(&U, (uint32_t)total))) goto out;
    for (uint32_t j = 0; j < k; j++)
        for (uint32_t i = 0; i < old[j].nids; i++)
            if (vl_idmap_get(&U, old[j].ids[i]) == VL_NO_NODE) vl_idmap_put(&U, old[j].ids[i], 1);
    /* field names */
    meta_schema(s, &w, ffrom);
    t->fields_from = ffrom < vl_index_field_count(s->idx) ? ffrom : NONE32;
    /* file metadata: B's key, then the merged deltas' other keys */
    if (B->fkey) {
        vl__meta_filemeta(&w, B->fkey, B->fklen, B->fval, B->fvlen);
        if (vl__store_tier_add_key(t, B->fkey, B->fklen)) goto out;
    }
    for (uint32_t j = 0; j < k; j++)
        for (uint64_t o = 0; o < old[j].keys.len;) {
            uint32_t l = get16(old[j].keys.p + o);
            const uint8_t *key = old[j].keys.p + o + 2;
            o += 2 + (uint64_t)l;
            if (tier_has_key(t, key, l)) continue;
            const fm_entry *e = fm_find(s, key, l);
            vl__meta_filemeta(&w, key, l, e ? e->val : NULL, e ? e->vlen : 0);
            if (vl__store_tier_add_key(t, key, l)) goto out;
        }
    /* records: B's, then the merged deltas' other ids as they are now */
    if ((rc = batch_records(&w, t, s, B, k ? &U : NULL, 0))) goto out;
    rc = VL_ENOMEM;
    for (uint32_t c = 0; c < U.cap; c++) {
        if (U.vals[c] == VL_NO_NODE) continue;
        uint64_t id = U.keys[c];
        if (B->n && in_batch(B->dd, B->n, B->ids, id)) continue;
        const uint8_t *m;
        uint32_t ml = 0;
        if (vl_index_get(s->idx, &id, NULL, &m, &ml) == VL_OK && ml > 0)
            vl__meta_record(&w, id, VL_META_OP_UPSERT, m, ml);
        else
            vl__meta_record(&w, id, VL_META_OP_DELETE, NULL, 0);
        if (vl__store_tier_add_id(t, id)) goto out;
    }
    t->gen = s->meta_gen + 1;
    t->base = base;
    rc = vl__meta_finish(&w, &P->out);
out:
    vl__meta_writer_free(&w);
    vl_idmap_free(&U);
    return rc;
}

/* A tier cap: files of other writers may list many deltas; ours stay
 * O(log n) by the merge rule. */
#define VL_STORE_MAX_META_TIERS 64u

/* Plan the META segment of a commit (B->mode MB_NONE with a file-metadata
 * key for file_meta_set). The tiered merge: the new delta (size b) absorbs
 * the newest listed deltas while the group's bytes are at least half the
 * bytes of the next older listed META; if it absorbs every delta and
 * reaches the base snapshot (or there is none) the result is a full
 * snapshot instead. VL_OK / VL_ENOMEM / VL_EBUDGET. */
static int meta_plan_build(vl_store *s, const meta_batch *B, meta_plan *P)
{
    memset(P, 0, sizeof *P);
    int rc = meta_delta(s, B, 0, P);
    if (rc) return rc;
    uint64_t b = P->out.len;
    uint64_t live = vl__index_meta_bytes(s->idx) + vl__fields_bytes(s->idx) + fm_bytes(s);
    int snap = s->meta_snapshot_due || s->ntiers >= VL_STORE_MAX_META_TIERS ||
               s->meta_listed + b > 2 * live + (64u << 10);
    uint32_t k = 0;
    if (!snap) {
        uint64_t group = b;
        while (k < s->ntiers && 2 * group >= s->tiers[s->ntiers - 1 - k].len) {
            group += s->tiers[s->ntiers - 1 - k].len;
            k++;
        }
        snap = k == s->ntiers && (s->meta_base_len == 0 || 2 * group >= s->meta_base_len);
    }
    if (!snap && k == 0) return VL_OK;
    plan_free(P);
    memset(P, 0, sizeof *P);
    if (snap) {
        vl_meta_writer w;
        meta_snapshot_begin(s, &w, B, 1);
        rc = batch_records(&w, NULL, s, B, NULL, 1);
        if (!rc) rc = vl__meta_finish(&w, &P->out);
        vl__meta_writer_free(&w);
        P->snap = 1;
        return rc;
    }
    P->unlist = vl_mem_alloc((size_t)k * sizeof *P->unlist);
    if (!P->unlist) return VL_ENOMEM;
    for (uint32_t j = 0; j < k; j++) P->unlist[j] = s->tiers[s->ntiers - k + j].seg_id;
    P->nmerge = k;
    return meta_delta(s, B, k, P);
}

/* Put P's segment into a commit. */
static void plan_args(meta_plan *P, vl_rvf_seg *seg, vl_rvf_commit_args *a)
{
    *seg = (vl_rvf_seg){ VL_RVF_SEG_META, P->out.p, P->out.len };
    a->n_segs = 1;
    a->segs = seg;
    a->drop_types |= P->snap ? BIT(VL_RVF_SEG_META) : 0;
    a->n_unlist = P->snap ? 0 : P->nmerge;
    a->unlist_seg_ids = P->snap ? NULL : P->unlist;
}

/* The newest listed META segment's id (the one a commit just appended). */
static uint64_t newest_meta_id(const vl_store *s)
{
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    for (uint32_t i = info.dir_count; i-- > 0;) {
        vl_rvf_dirent d;
        if (vl_rvf_dir(s->rvf, i, &d) == VL_OK && d.seg_type == VL_RVF_SEG_META) return d.seg_id;
    }
    return 0;
}

/* After P's commit: the tiers follow the directory. Cannot fail (room was
 * reserved by meta_commit_prepare). */
static void meta_committed(vl_store *s, meta_plan *P)
{
    uint64_t len = P->out.len;
    s->meta_gen++;
    s->fields_durable = vl_index_field_count(s->idx);
    if (P->snap) {
        vl__store_tiers_clear(s);
        s->meta_base_len = len;
        s->meta_listed = len;
        s->meta_snapshot_due = 0;
        s->meta_orphans = 0;
        return;
    }
    for (uint32_t j = 0; j < P->nmerge; j++) {
        meta_tier *t = &s->tiers[--s->ntiers];
        s->meta_listed -= t->len;
        tier_free(t);
    }
    P->tier.seg_id = newest_meta_id(s);
    P->tier.len = len;
    s->tiers[s->ntiers++] = P->tier;
    memset(&P->tier, 0, sizeof P->tier);
    s->meta_listed += len;
}

/* ======================================================================
 * Writes
 * ====================================================================== */

int vl_store_set_time(vl_store *s, const uint64_t *now_ns)
{
    if (!s) return VL_EINVAL;
    s->now_ns = now_ns ? *now_ns : 0;
    return VL_OK;
}

int vl_store_set_dim(vl_store *s, uint32_t dim)
{
    if (!s) return VL_EINVAL;
    vl_rvf_info ri;
    vl_rvf_info_get(s->rvf, &ri);
    if (dim && dim == ri.dim) return VL_OK;
    if (dim == 0 || dim > VL_MAX_DIM)
        return vl__store_msg(s, VL_EINVAL, "dimension %u is outside 1..%u", dim, (unsigned)VL_MAX_DIM);
    if (ri.dim)
        return vl__store_msg(s, VL_EINVAL, "wrong dimension: the store has dimension %u, the vectors %u", ri.dim, dim);
    int rc = writable(s);
    if (rc) return rc;
    if ((rc = vl__index_set_dim(s->idx, dim))) return vl__store_msg(s, rc, "%s", vl_errmsg(s->idx));
    if ((rc = vl_rvf_set_dim(s->rvf, dim))) {
        (void)vl__index_set_dim(s->idx, 1);
        return vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf));
    }
    s->cfg.dim = dim;
    return VL_OK;
}

int vl_store_upsert(vl_store *s, uint32_t n, const uint64_t *ids, const float *vecs,
                    const uint8_t *meta, const uint32_t *meta_off)
{
    int rc = writable(s);
    if (rc) return rc;
    if (n == 0) return VL_OK;
    if (!ids || !vecs) return vl__store_msg(s, VL_EINVAL, "ids and vecs must not be NULL");
    if ((rc = check_meta(s, n, meta, meta_off)) || (rc = check_rows(s, n, vecs))) return rc;
    vl_idmap dd;
    meta_plan P;
    memset(&P, 0, sizeof P);
    if (dedup_build(&dd, n, ids)) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    meta_batch B = { &dd, n, ids, meta, meta_off, MB_UPSERT, NULL, NULL, 0, 0 };
    int any = batch_touches_meta(s, &B);
    if (any && ((rc = vl__store_tiers_room(s)) || (rc = meta_plan_build(s, &B, &P)))) {
        vl_idmap_free(&dd);
        plan_free(&P);
        return vl__store_msg(s, rc, "%s building the metadata segment", vl_errstr(rc));
    }
    char action[48];
    snprintf(action, sizeof action, "ingest:count=%u", n);
    vl_rvf_seg seg;
    vl_rvf_commit_args a = { 0 };
    a.n_rows = n; a.ids = ids; a.vecs = vecs;
    if (any) plan_args(&P, &seg, &a);
    a.keep_index = 1;
    a.witness_type = 1; a.witness_action = action;
    a.now_ns = s->now_ns;
    rc = commit(s, &a, NULL);
    vl_idmap_free(&dd);
    if (!rc && any) meta_committed(s, &P);
    plan_free(&P);
    if (rc) return rc;
    rc = vl_index_upsert(s->idx, n, ids, vecs, meta, meta_off);
    if (rc) return apply_failed(s, rc, "an upsert");
    if (vl__index_kind(s->idx) == VL_INDEX_HNSW) s->graph_dirty = 1;
    vl__store_quant_wrote(s);
    s->msg[0] = 0;
    return VL_OK;
}

int vl_store_rows(vl_store *s, uint32_t n, float **rows)
{
    int rc = writable(s);
    if (rc) return rc;
    if (!rows) return vl__store_msg(s, VL_EINVAL, "rows must not be NULL");
    if (vl__index_dim(s->idx) == 0) return vl__store_msg(s, VL_EINVAL, "the store has no dimension yet");
    rc = vl_index_rows(s->idx, n, rows);
    if (rc) return vl__store_msg(s, rc, "out of memory reserving room for %u vectors (store unchanged)", n);
    return VL_OK;
}

int vl_store_set_meta(vl_store *s, uint32_t n, const uint64_t *ids, const uint8_t *meta,
                      const uint32_t *meta_off)
{
    int rc = writable(s);
    if (rc) return rc;
    if (n == 0) return VL_OK;
    if (!ids) return vl__store_msg(s, VL_EINVAL, "ids must not be NULL");
    if ((rc = check_meta(s, n, meta, meta_off))) return rc;
    for (uint32_t i = 0; i < n; i++)
        if (vl_index_contains(s->idx, &ids[i]) != VL_OK)
            return vl__store_msg(s, VL_ENOTFOUND, "id %llu (row %u) is not in the store", (unsigned long long)ids[i], i);
    vl_idmap dd;
    meta_plan P;
    memset(&P, 0, sizeof P);
    if (dedup_build(&dd, n, ids)) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    meta_batch B = { &dd, n, ids, meta, meta_off, MB_SETMETA, NULL, NULL, 0, 0 };
    if ((rc = vl__store_tiers_room(s)) || (rc = meta_plan_build(s, &B, &P))) {
        vl_idmap_free(&dd);
        plan_free(&P);
        return vl__store_msg(s, rc, "%s building the metadata segment", vl_errstr(rc));
    }
    vl_idmap_free(&dd);
    char action[48];
    snprintf(action, sizeof action, "meta:count=%u", n);
    vl_rvf_seg seg;
    vl_rvf_commit_args a = { 0 };
    plan_args(&P, &seg, &a);
    a.keep_index = 1;
    a.witness_type = 1; a.witness_action = action;
    a.now_ns = s->now_ns;
    rc = commit(s, &a, NULL);
    if (!rc) meta_committed(s, &P);
    plan_free(&P);
    if (rc) return rc;
    rc = vl_index_set_meta(s->idx, n, ids, meta, meta_off);
    if (rc) return apply_failed(s, rc, "a metadata update");
    s->msg[0] = 0;
    return VL_OK;
}

/* ======================================================================
 * rvf-node branch() children (src/branch.h has the two segment layouts)
 *
 * A child file holds only its own rows; the others are its parent's (a
 * file beside it), seen through the child's MEMBERSHIP bitmap. With one:
 *   open: the newest listed COW_MAP names the parent (the caller opens it
 *     and passes it to vl_store_open_branch) and the newest listed
 *     MEMBERSHIP the visible parent ids; the parent must be the file the
 *     child was branched from (file id, hash of its last 64 KiB). The index
 *     holds the child's live rows plus every visible parent row whose id
 *     the child has no live row for (a child row overrides, as in
 *     rvf-node). Metadata of an inherited row comes from the child's META
 *     if it has a record. The parent is read once, at open, never written;
 *   delete / clear: ids whose parent row is visible are hidden in a new
 *     MEMBERSHIP appended in the same commit (the older ones unlisted); the
 *     JOURNAL and deleted list cover the child's own rows, as in rvf-node;
 *   upsert: a row of the child (its bit stays set, as rvf-node leaves it);
 *   the graph is not persisted (an INDEX would span two files): rebuilt at
 *     every open; checkpoints write nothing;
 *   compaction keeps the copy-on-write link: the child's own live rows,
 *     its META and its listed COW_MAP / MEMBERSHIP (carried like every
 *     segment type rvf.c does not interpret); inherited rows stay in the
 *     parent, which the compacted child still needs.
 * ====================================================================== */

#define BRANCH_MAX_COW (1u << 20)
#define BRANCH_MAX_MEMBERSHIP (1ull << 30)

/* Parse the newest listed COW_MAP and MEMBERSHIP into s->br. */
int vl__store_branch_load_maps(vl_store *s)
{
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    uint32_t ci = NONE32, mi = NONE32;
    for (uint32_t i = 0; i < info.dir_count; i++) {
        vl_rvf_dirent d;
        if (vl_rvf_dir(s->rvf, i, &d) != VL_OK) continue;
        if (d.seg_type == VL_RVF_SEG_COW_MAP) ci = i;
        if (d.seg_type == VL_RVF_SEG_MEMBERSHIP) mi = i;
    }
    if (ci == NONE32 || mi == NONE32)
        return vl__store_msg(s, VL_ECORRUPT, "a branch() child must list a COW_MAP and a MEMBERSHIP segment; this one lists "
                    "only a %s", ci == NONE32 ? "MEMBERSHIP" : "COW_MAP");
    s->br = vl_mem_calloc(1, sizeof *s->br);
    if (!s->br) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    char why[200];
    uint8_t *p = NULL;
    vl_rvf_dirent d;
    (void)vl_rvf_dir(s->rvf, ci, &d);
    int rc = vl_rvf_read_payload(s->rvf, ci, BRANCH_MAX_COW, &p);
    if (rc) return vl__store_msg(s, rc, "COW_MAP: %s", vl_rvf_errmsg(s->rvf));
    rc = vl_branch_parse_cow(s->br, p, d.payload_length, why, sizeof why);
    vl_mem_free(p);
    if (rc) return vl__store_msg(s, rc, "%s", why);
    (void)vl_rvf_dir(s->rvf, mi, &d);
    if ((rc = vl_rvf_read_payload(s->rvf, mi, BRANCH_MAX_MEMBERSHIP, &p)))
        return vl__store_msg(s, rc, "MEMBERSHIP: %s", vl_rvf_errmsg(s->rvf));
    rc = vl_branch_parse_membership(s->br, p, d.payload_length, why, sizeof why);
    vl_mem_free(p);
    if (rc) return vl__store_msg(s, rc, "%s", why);
    return VL_OK;
}

/* The MEMBERSHIP that hides ids' inherited rows: *bits (the new bitmap, to
 * install after the commit) and *mem (its payload); both NULL if no id is
 * visible from the parent (or s is not a branch child). */
static int branch_hide_ids(vl_store *s, uint32_t n, const uint64_t *ids, uint64_t **bits, uint8_t **mem,
                           uint64_t *mem_len)
{
    *bits = NULL;
    *mem = NULL;
    *mem_len = 0;
    if (!s->br) return VL_OK;
    vl_branch nb = *s->br;
    nb.bits = vl_mem_alloc((size_t)(nb.nwords ? nb.nwords : 1) * 8);
    if (!nb.bits) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    memcpy(nb.bits, s->br->bits, (size_t)nb.nwords * 8);
    uint32_t changed = 0;
    for (uint32_t i = 0; i < n; i++) changed += (uint32_t)vl_branch_hide(&nb, ids[i]);
    if (!changed) { vl_mem_free(nb.bits); return VL_OK; }
    if (vl_branch_encode_membership(&nb, mem, mem_len)) {
        vl_mem_free(nb.bits);
        return vl__store_msg(s, VL_ENOMEM, "out of memory encoding the MEMBERSHIP");
    }
    *bits = nb.bits;
    return VL_OK;
}

/* After the commit: the new bitmap is the one in force (or dropped). */
static void branch_hide_done(vl_store *s, int committed, uint64_t *bits, uint8_t *mem)
{
    vl_mem_free(mem);
    if (!bits) return;
    if (!committed) { vl_mem_free(bits); return; }
    vl_mem_free(s->br->bits);
    s->br->bits = bits;
}

int vl_store_branch_parent(vl_io *io, char *out, uint32_t cap, uint32_t *len)
{
    if (!io || !out || !len || cap == 0) return VL_EINVAL;
    *len = 0;
    out[0] = 0;
    uint8_t *p = NULL;
    uint64_t n = 0;
    int rc = vl_rvf_peek_listed(io, VL_RVF_SEG_COW_MAP, BRANCH_MAX_COW, &p, &n);
    if (rc || !p) return rc == VL_ENOTFOUND ? VL_OK : rc;
    vl_branch *b = vl_mem_calloc(1, sizeof *b);
    if (!b) { vl_mem_free(p); return VL_ENOMEM; }
    rc = vl_branch_parse_cow(b, p, n, NULL, 0);
    vl_mem_free(p);
    if (!rc) {
        size_t l = strlen(b->path);
        if (l + 1 > cap) rc = VL_EINVAL;
        else { memcpy(out, b->path, l + 1); *len = (uint32_t)l; }
    }
    vl_branch_free(b);
    vl_mem_free(b);
    return rc;
}

int vl_store_delete(vl_store *s, uint32_t n, const uint64_t *ids, uint32_t *n_deleted)
{
    int rc = writable(s);
    if (rc) return rc;
    if (!n_deleted) return vl__store_msg(s, VL_EINVAL, "n_deleted must not be NULL");
    *n_deleted = 0;
    if (n == 0) return VL_OK;
    if (!ids) return vl__store_msg(s, VL_EINVAL, "ids must not be NULL");
    vl_idmap dd;
    if (dedup_build(&dd, n, ids)) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    uint32_t live = 0;
    for (uint32_t i = 0; i < n; i++)
        live += is_last(&dd, n, ids, i) && vl_index_contains(s->idx, &ids[i]) == VL_OK;
    meta_plan P;
    memset(&P, 0, sizeof P);
    meta_batch B = { &dd, n, ids, NULL, NULL, MB_DELETE, NULL, NULL, 0, 0 };
    int any = batch_touches_meta(s, &B);
    if (any && ((rc = vl__store_tiers_room(s)) || (rc = meta_plan_build(s, &B, &P)))) {
        vl_idmap_free(&dd);
        plan_free(&P);
        return vl__store_msg(s, rc, "%s building the metadata segment", vl_errstr(rc));
    }
    vl_idmap_free(&dd);
    uint64_t *nbits;
    uint8_t *mem;
    uint64_t mem_len;
    if ((rc = branch_hide_ids(s, n, ids, &nbits, &mem, &mem_len))) { plan_free(&P); return rc; }
    char action[48];
    snprintf(action, sizeof action, "delete:count=%u", live);
    vl_rvf_seg segs[2];
    vl_rvf_commit_args a = { 0 };
    a.n_del = n; a.del_ids = ids;
    if (any) plan_args(&P, &segs[0], &a);
    if (mem) {                   /* a branch() child hides inherited rows (see above) */
        segs[a.n_segs++] = (vl_rvf_seg){ VL_RVF_SEG_MEMBERSHIP, mem, mem_len };
        a.segs = segs;
        a.drop_types |= BIT(VL_RVF_SEG_MEMBERSHIP);
    }
    a.keep_index = 1;
    a.witness_type = 0; a.witness_action = action;
    a.now_ns = s->now_ns;
    uint32_t d = 0;
    rc = commit(s, &a, &d);
    if (!rc && any) meta_committed(s, &P);
    branch_hide_done(s, !rc, nbits, mem);
    plan_free(&P);
    if (rc) return rc;
    rc = vl_index_delete(s->idx, n, ids, n_deleted);
    if (rc) return apply_failed(s, rc, "a delete");
    /* the file deletes the child's own rows; a branch child's index also the inherited ones */
    if (*n_deleted != (s->br ? live : d)) {
        s->poisoned = 1;
        return vl__store_msg(s, VL_EFATAL, "internal: the file deleted %u ids, the index %u; reopen the store", d,
                    *n_deleted);
    }
    if (live && vl__index_kind(s->idx) == VL_INDEX_HNSW) s->graph_dirty = 1;
    s->msg[0] = 0;
    return VL_OK;
}

/* A commit of just a META snapshot without records (create, derive) or
 * with every row deleted (clear: also unlists the INDEX). */
static int snapshot_commit(vl_store *s, uint32_t n_del, const uint64_t *del, const char *action,
                           const vl_rvf_seg *extra)
{
    meta_plan P;
    memset(&P, 0, sizeof P);
    vl_meta_writer w;
    meta_snapshot_begin(s, &w, NULL, 0);
    int rc = vl__meta_finish(&w, &P.out);
    vl__meta_writer_free(&w);
    if (rc) { plan_free(&P); return vl__store_msg(s, rc, "%s building the metadata snapshot", vl_errstr(rc)); }
    P.snap = 1;
    vl_rvf_seg segs[2];
    vl_rvf_commit_args a = { 0 };
    plan_args(&P, &segs[0], &a);
    if (extra) {                 /* clear of a branch() child: its new MEMBERSHIP */
        segs[a.n_segs++] = *extra;
        a.drop_types |= BIT(extra->seg_type);
    }
    a.n_del = n_del; a.del_ids = del;
    if (action) {
        a.drop_types |= BIT(VL_RVF_SEG_INDEX);
        a.witness_type = 0; a.witness_action = action;
    }
    a.keep_index = 1;
    a.now_ns = s->now_ns;
    rc = commit(s, &a, NULL);
    if (!rc) meta_committed(s, &P);
    plan_free(&P);
    return rc;
}

int vl_store_clear(vl_store *s)
{
    int rc = writable(s);
    if (rc) return rc;
    uint64_t live = vl_index_count(s->idx);
    uint64_t *ids = vl_mem_alloc((size_t)(live ? live : 1) * sizeof *ids);
    if (!ids) return vl__store_msg(s, VL_ENOMEM, "out of memory listing %llu ids", (unsigned long long)live);
    uint32_t got = 0;
    if (live && (rc = vl_index_ids(s->idx, NULL, 0, ids, (uint32_t)live, &got))) {
        vl_mem_free(ids);
        return vl__store_msg(s, rc, "listing ids: %s", vl_errmsg(s->idx));
    }
    char action[48];
    snprintf(action, sizeof action, "delete:count=%u", got);
    uint64_t *nbits;
    uint8_t *mem;
    uint64_t mem_len;
    if ((rc = branch_hide_ids(s, got, ids, &nbits, &mem, &mem_len))) { vl_mem_free(ids); return rc; }
    vl_rvf_seg ms = { VL_RVF_SEG_MEMBERSHIP, mem, mem_len };
    rc = snapshot_commit(s, got, ids, action, mem ? &ms : NULL);
    branch_hide_done(s, !rc, nbits, mem);
    vl_mem_free(ids);
    if (rc) return rc;
    rc = vl_index_clear(s->idx);
    if (rc) return apply_failed(s, rc, "a clear");
    s->graph_dirty = 0;
    s->msg[0] = 0;
    return VL_OK;
}

int vl_store_field(vl_store *s, const char *name, uint32_t len, uint32_t *field_id_out)
{
    if (!s) return VL_EINVAL;
    if (s->poisoned) return vl__store_msg(s, VL_EFATAL, "the store is poisoned by an earlier failed write: reopen it");
    int rc = vl_index_field(s->idx, name, len, field_id_out);
    if (rc) return vl__store_msg(s, rc, "%s", vl_errmsg(s->idx));
    return VL_OK;
}

int vl_store_file_meta_set(vl_store *s, const char *key, uint32_t key_len, const uint8_t *val,
                           uint32_t val_len)
{
    int rc = writable(s);
    if (rc) return rc;
    if (!key || key_len == 0 || key_len > MAX_FM_KEY)
        return vl__store_msg(s, VL_EINVAL, "file metadata keys are 1..%u bytes", MAX_FM_KEY);
    if (key_len >= 8 && memcmp(key, "veclite.", 8) == 0)
        return vl__store_msg(s, VL_EINVAL, "file metadata keys starting \"veclite.\" are reserved");
    return vl__store_fm_commit(s, key, key_len, val, val_len);
}

/* vl_store_file_meta_set without the reserved-key check: the store's own
 * "veclite.*" keys (store_quant.c). */
int vl__store_fm_commit(vl_store *s, const char *key, uint32_t key_len, const uint8_t *val, uint32_t val_len)
{
    int rc = writable(s);
    if (rc) return rc;
    if (val_len > MAX_FM_VAL || (val_len && !val))
        return vl__store_msg(s, VL_EINVAL, "file metadata values are at most %u bytes", MAX_FM_VAL);
    if (val_len && s->nfm >= VL_STORE_MAX_FM_KEYS && !fm_find(s, (const uint8_t *)key, key_len))
        return vl__store_msg(s, VL_EBUDGET, "a store holds at most %u file-metadata keys", VL_STORE_MAX_FM_KEYS);
    meta_plan P;
    memset(&P, 0, sizeof P);
    meta_batch B = { NULL, 0, NULL, NULL, NULL, MB_NONE, (const uint8_t *)key, val, key_len, val_len };
    if ((rc = vl__store_tiers_room(s)) || (rc = meta_plan_build(s, &B, &P))) {
        plan_free(&P);
        return vl__store_msg(s, rc, "%s building the metadata segment", vl_errstr(rc));
    }
    vl_rvf_seg seg;
    vl_rvf_commit_args a = { 0 };
    plan_args(&P, &seg, &a);
    a.keep_index = 1;
    a.now_ns = s->now_ns;
    rc = commit(s, &a, NULL);
    if (!rc) meta_committed(s, &P);
    plan_free(&P);
    if (rc) return rc;
    if ((rc = fm_set(s, (const uint8_t *)key, key_len, val, val_len))) return apply_failed(s, rc, "file metadata");
    s->msg[0] = 0;
    return VL_OK;
}

int vl_store_file_meta_get(const vl_store *s, const char *key, uint32_t key_len, const uint8_t **val,
                           uint32_t *val_len)
{
    if (!s || !key || !val || !val_len) return VL_EINVAL;
    const fm_entry *e = fm_find(s, (const uint8_t *)key, key_len);
    if (!e) return VL_ENOTFOUND;
    *val = e->val;
    *val_len = e->vlen;
    return VL_OK;
}

/* ======================================================================
 * INDEX checkpoints, compaction, derive
 * ====================================================================== */

typedef struct del_set { uint64_t *ids; uint64_t n; } del_set;

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int keep_deleted(void *ctx, uint64_t id)
{
    const del_set *d = ctx;
    return d->n && bsearch(&id, d->ids, (size_t)d->n, sizeof id, u64_cmp) != NULL;
}

/* Write the INDEX (+ QUANT) when graph, the TEXT when text, in one commit. */
static int checkpoint_write(vl_store *s, int graph, int text)
{
    int rc;
    if (!graph && !text) return VL_OK;
    vl_buf ib = { 0 }, qb = { 0 }, tb = { 0 };
    if (graph) {
        del_set ds = { NULL, vl_rvf_deleted_ids(s->rvf, NULL, 0) };
        ds.ids = vl_mem_alloc((size_t)(ds.n ? ds.n : 1) * sizeof *ds.ids);
        if (!ds.ids) return vl__store_msg(s, VL_ENOMEM, "out of memory");
        (void)vl_rvf_deleted_ids(s->rvf, ds.ids, ds.n);
        rc = vl__index_export(s->idx, keep_deleted, &ds, &ib, NULL, NULL, NULL, NULL);
        vl_mem_free(ds.ids);
        if (rc) return vl__store_msg(s, rc, "out of memory encoding the graph");
        if ((rc = vl__store_quant_payload(s, &qb))) { vl__buf_free(&ib); return vl__store_msg(s, rc, "out of memory encoding the codes"); }
    }
    if (text && (rc = vl__store_text_payload(s, s->meta_gen, &tb))) { vl__buf_free(&ib); vl__buf_free(&qb); return rc; }
    /* the QUANT after the INDEX: its codes cover the rows before it (store_quant.c); the TEXT
     * last, after every row and META (store_text.c) */
    vl_rvf_seg seg[3];
    vl_rvf_commit_args a = { 0 };
    if (graph) {
        seg[a.n_segs++] = (vl_rvf_seg){ VL_RVF_SEG_INDEX, ib.p, ib.len };
        if (qb.len) seg[a.n_segs++] = (vl_rvf_seg){ VL_RVF_SEG_QUANT, qb.p, qb.len };
        a.drop_types = BIT(VL_RVF_SEG_INDEX) | BIT(VL_RVF_SEG_QUANT);
    }
    if (tb.len) {
        seg[a.n_segs++] = (vl_rvf_seg){ VL_RVF_SEG_TEXT, tb.p, tb.len };
        a.drop_types |= BIT(VL_RVF_SEG_TEXT);
    }
    a.segs = seg;
    a.keep_index = 1;
    a.now_ns = s->now_ns;
    rc = a.n_segs ? commit(s, &a, NULL) : VL_OK;
    vl__buf_free(&ib);
    vl__buf_free(&qb);
    vl__buf_free(&tb);
    if (rc) return rc;
    if (graph) {
        s->graph_dirty = 0;
        s->quant_dirty = 0;
        s->index_ok = 1;
    }
    s->msg[0] = 0;
    return VL_OK;
}

int vl_store_checkpoint(vl_store *s)
{
    int rc = writable(s);
    if (rc) return rc;
    int graph = vl__index_kind(s->idx) == VL_INDEX_HNSW && (s->graph_dirty || s->quant_dirty) && !s->br;   /* branch: not persisted */
    return checkpoint_write(s, graph, vl__store_text_stale(s));
}

/* Close's checkpoint rule ("Checkpoint on close" at the top). */
#define VL_STORE_CKPT_FRACTION 32u
#define VL_STORE_CKPT_ROWS 2048u

uint32_t vl__store_newest_seg(vl_store *s, uint32_t type, vl_rvf_dirent *d)
{
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    uint32_t at = UINT32_MAX;
    for (uint32_t i = 0; i < info.dir_count; i++)
        if (vl_rvf_dir(s->rvf, i, d) == VL_OK && d->seg_type == type) at = i;
    if (at != UINT32_MAX) (void)vl_rvf_dir(s->rvf, at, d);
    return at;
}

static int index_due(vl_store *s)
{
    if (vl__index_kind(s->idx) != VL_INDEX_HNSW || s->br) return 0;
    if (s->quant_dirty) return 1;          /* a quantizer trained but not yet in the file */
    if (!s->graph_dirty) return 0;
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    vl_rvf_dirent d;
    int have = vl__store_newest_seg(s, VL_RVF_SEG_INDEX, &d) != UINT32_MAX;
    uint64_t unc = have && s->index_ok ? vl_rvf_live_rows_from(s->rvf, d.offset) : info.live;
    return unc > 0 && (unc * VL_STORE_CKPT_FRACTION >= info.live || unc >= VL_STORE_CKPT_ROWS);
}

static int close_checkpoint(vl_store *s)
{
    int graph = index_due(s);
    return checkpoint_write(s, graph, vl__store_text_due(s, graph, VL_STORE_CKPT_FRACTION));
}

/* A fresh index with s's configuration and field names. */
static int index_like(vl_store *s, vl_index **out)
{
    int rc = vl_index_new(&s->cfg, out);
    if (rc) return vl__store_msg(s, rc, "cannot create an index");
    for (uint32_t f = 0; f < vl_index_field_count(s->idx); f++) {
        uint32_t id, len;
        const char *name = vl__index_field_name(s->idx, f, &len);
        rc = vl_index_field(*out, name, len, &id);
        if (rc || id != f) {
            vl_index_free(*out);
            *out = NULL;
            return vl__store_msg(s, rc ? rc : VL_ENOMEM, "cannot copy field names");
        }
    }
    const char *tf;
    uint32_t tl;
    if (vl_index_text_field(s->idx, &tf, &tl) == VL_OK && (rc = vl_index_set_text(*out, tf, tl))) {
        vl_index_free(*out);
        *out = NULL;
        return vl__store_msg(s, rc, "cannot copy the text field");
    }
    return VL_OK;
}

/* Compacted image into dst; with `move` the store then lives there. */
static int compact_into(vl_store *s, vl_io *dst, int move)
{
    if (s->poisoned) return vl__store_msg(s, VL_EFATAL, "the store is poisoned by an earlier failed write: reopen it");
    if (!dst) return vl__store_msg(s, VL_EINVAL, "NULL target device");
    int hnsw = vl__index_kind(s->idx) == VL_INDEX_HNSW && !s->br;   /* a branch child's graph spans two files */
    /* Without tombstones the exported graph is the live one renumbered (by
     * id): memory keeps its index instead of building a second one next to
     * it (old and new node blocks plus a copy of every vector alive at once,
     * which WebAssembly memory keeps resident for good). */
    int reimport = move && hnsw && vl__index_nodes(s->idx) != vl_index_count(s->idx) &&
                   !vl__index_quant(s->idx);   /* a quantized index has no rows to import the graph with */
    vl_meta_writer w;
    vl_buf mb = { 0 }, ib = { 0 };
    vl_graph g;
    memset(&g, 0, sizeof g);
    uint64_t *gids = NULL;
    float *gvecs = NULL;
    uint8_t *gdead = NULL;
    vl_rvf *nr = NULL;
    vl_index *ni = NULL;
    meta_snapshot_begin(s, &w, NULL, 1);
    int rc = vl__meta_finish(&w, &mb);
    vl__meta_writer_free(&w);
    if (rc) return vl__store_msg(s, rc, "%s building the metadata snapshot", vl_errstr(rc));
    if (hnsw && (rc = vl__index_export(s->idx, NULL, NULL, &ib, reimport ? &g : NULL, reimport ? &gids : NULL,
                                       reimport ? &gvecs : NULL, reimport ? &gdead : NULL))) {
        vl__buf_free(&mb);
        return vl__store_msg(s, rc, "out of memory encoding the graph");
    }
    vl_buf qb = { 0 };
    if (hnsw && (rc = vl__store_quant_payload(s, &qb))) {
        vl__buf_free(&mb);
        vl__buf_free(&ib);
        vl__graph_free(&g);
        vl_mem_free(gids); vl_mem_free(gvecs); vl_mem_free(gdead);
        return vl__store_msg(s, rc, "out of memory encoding the codes");
    }
    vl_buf tb = { 0 };
    if ((rc = vl__store_text_payload(s, s->meta_gen + 1, &tb))) {   /* the snapshot's generation */
        vl__buf_free(&mb);
        vl__buf_free(&ib);
        vl__buf_free(&qb);
        vl__graph_free(&g);
        vl_mem_free(gids); vl_mem_free(gvecs); vl_mem_free(gdead);
        return rc;
    }
    /* the TEXT last: after every row and the META snapshot (store_text.c) */
    vl_rvf_seg segs[4] = { { VL_RVF_SEG_META, mb.p, mb.len } };
    uint32_t nsegs = 1;
    if (hnsw) segs[nsegs++] = (vl_rvf_seg){ VL_RVF_SEG_INDEX, ib.p, ib.len };
    if (qb.len) segs[nsegs++] = (vl_rvf_seg){ VL_RVF_SEG_QUANT, qb.p, qb.len };
    if (tb.len) segs[nsegs++] = (vl_rvf_seg){ VL_RVF_SEG_TEXT, tb.p, tb.len };
    rc = vl_rvf_compact_ex(s->rvf, dst, s->now_ns,
                           BIT(VL_RVF_SEG_META) | BIT(VL_RVF_SEG_INDEX) | BIT(VL_RVF_SEG_QUANT) | BIT(VL_RVF_SEG_TEXT),
                           segs, nsegs, move, &nr);
    vl__buf_free(&qb);
    vl__buf_free(&tb);
    if (rc) {
        if (vl_rvf_poisoned(s->rvf)) s->poisoned = 1;
        vl__store_msg(s, rc, "%s", vl_rvf_errmsg(s->rvf));
        goto out;
    }
    if (!move) { vl_rvf_free(nr); goto out; }
    /* the store moves to dst; memory follows the compacted graph if it can. nr's per-id tables
     * are built once h's are freed, and the payloads with them (vl_rvf_compact_ex defer_ids). */
    vl_rvf_free(s->rvf);
    s->rvf = nr;
    uint64_t mlen = mb.len;
    vl__buf_free(&mb);
    vl__buf_free(&ib);
    if (vl_rvf_index_rows(nr)) {
        s->poisoned = 1;   /* the file is the compacted one, complete; this handle cannot read it */
        /* VL_EFATAL, not VL_ENOMEM: the store did not stay as it was (it is poisoned) */
        rc = vl__store_msg(s, VL_EFATAL, "out of memory after compaction (the compacted image is complete): "
                           "close the store and reopen it");
        goto out;
    }
    s->io = dst;
    s->meta_gen++;
    s->fields_durable = vl_index_field_count(s->idx);
    s->meta_listed = mlen;
    s->meta_base_len = mlen;
    vl__store_tiers_clear(s);
    s->meta_snapshot_due = 0;
    s->meta_orphans = 0;
    s->graph_dirty = 1;
    s->index_ok = hnsw;          /* the compacted file's INDEX covers all its rows */
    s->quant_dirty = 0;          /* the compacted file has the codes of every row (if quantized) */
    if (hnsw && vl__index_nodes(s->idx) == vl_index_count(s->idx)) s->graph_dirty = 0;   /* the INDEX is the live graph */
    if (reimport && index_like(s, &ni) == VL_OK) {
        int ok = vl__index_import(ni, &g, gids, gvecs, gdead, 0) == VL_OK;
        /* metadata of the live nodes */
        for (uint32_t j = 0; ok && j < g.n; j++) {
            if (gdead[j]) continue;
            const uint8_t *m;
            uint32_t ml;
            if (vl_index_get(s->idx, &gids[j], NULL, &m, &ml) != VL_OK) { ok = 0; break; }
            if (ml) {
                uint32_t off[2] = { 0, ml };
                ok = vl_index_set_meta(ni, 1, &gids[j], m, off) == VL_OK;
            }
        }
        if (ok && vl_index_count(ni) == vl_index_count(s->idx)) {
            vl__index_copy_rng(ni, s->idx);
            vl__index_replace(s->idx, ni);   /* same address: vl_store_index pointers stay valid */
            ni = NULL;
            s->graph_dirty = 0;
        }
    }
    rc = VL_OK;
out:
    vl_index_free(ni);
    vl__graph_free(&g);
    vl_mem_free(gids);
    vl_mem_free(gvecs);
    vl_mem_free(gdead);
    vl__buf_free(&mb);
    vl__buf_free(&ib);
    if (!rc) s->msg[0] = 0;
    return rc;
}

int vl__store_setting_open(vl_store *s, const char *branch_verb, const char *name)
{
    if (s->readonly) return vl__store_msg(s, VL_EREADONLY, "the store is read-only");
    if (s->br) return vl__store_msg(s, VL_EINVAL, "a branch child cannot %s (its rows live in two files)", branch_verb);
    if (vl__index_nodes(s->idx) || vl_index_count(s->idx))
        return vl__store_msg(s, VL_EINVAL, "the %s of a store that holds rows cannot change; "
                             "choose it when the collection is created", name);
    return VL_OK;
}

int vl_store_compact(vl_store *s, vl_io *dst)
{
    int rc = writable(s);
    return rc ? rc : compact_into(s, dst, 1);
}

int vl_store_snapshot(vl_store *s, vl_io *dst)
{
    if (!s) return VL_EINVAL;
    return compact_into(s, dst, 0);
}

static vl_store *store_new(vl_io *io)
{
    vl_store *s = vl_mem_calloc(1, sizeof *s);
    if (s) s->io = io;
    return s;
}

static void store_free(vl_store *s)
{
    if (!s) return;
    vl_rvf_free(s->rvf);
    vl_index_free(s->idx);
    vl_branch_free(s->br);
    vl_mem_free(s->br);
    fm_clear(s);
    vl_mem_free(s->fm);
    vl__store_tiers_clear(s);
    vl_mem_free(s->tiers);
    vl_mem_free(s->problems);
    vl__buf_free(&s->rf_up);
    vl__buf_free(&s->rf_del);
    vl_mem_free(s);
}

/* META snapshot commit of a new (empty) store: configuration, the given
 * field names (already in s->idx) and file metadata. */
static int write_initial_meta(vl_store *s)
{
    return snapshot_commit(s, 0, NULL, NULL, NULL);
}

int vl_store_derive(vl_store *s, vl_io *child, const uint8_t *file_id, vl_store **out)
{
    if (!s || !out) return VL_EINVAL;
    if (s->poisoned) return vl__store_msg(s, VL_EFATAL, "the store is poisoned by an earlier failed write: reopen it");
    if (!child || !file_id) return vl__store_msg(s, VL_EINVAL, "derive needs a device and a 16-byte file id");
    vl_store *c = store_new(child);
    if (!c) return vl__store_msg(s, VL_ENOMEM, "out of memory");
    char m[256];
    int rc = vl_rvf_derive(s->rvf, child, file_id, &c->rvf, m, sizeof m);
    if (rc) { store_free(c); return vl__store_msg(s, rc, "derive: %s", m); }
    c->cfg = s->cfg;
    c->now_ns = s->now_ns;
    c->idx = NULL;
    if ((rc = index_like(s, &c->idx))) { store_free(c); return rc; }   /* reads s's fields */
    for (uint32_t i = 0; i < s->nfm; i++)
        if (fm_set(c, s->fm[i].key, s->fm[i].klen, s->fm[i].val, s->fm[i].vlen)) {
            store_free(c);
            return vl__store_msg(s, VL_ENOMEM, "out of memory");
        }
    if ((rc = write_initial_meta(c))) {
        vl__store_msg(s, rc, "derive: %s", c->msg);
        store_free(c);
        return rc;
    }
    /* the copied file metadata holds the parent's "veclite.quant": quantize the child now, as
     * every reopen of its file will (it has no rows yet: its own rows train it) */
    if ((rc = vl__store_quant_open(c)) || (rc = vl__store_text_open(c))) {
        vl__store_msg(s, rc, "derive: %s", c->msg);
        store_free(c);
        return rc;
    }
    *out = c;
    return VL_OK;
}

int vl_store_open(vl_io *io, const vl_config *cfg, uint32_t flags, const uint8_t *file_id,
                  vl_store **out, char *msg, uint32_t msg_cap)
{
    return vl_store_open_branch(io, NULL, cfg, flags, file_id, out, msg, msg_cap);
}

static int store_open(vl_io *io, vl_io *parent_io, int own_only, const vl_config *cfg, uint32_t flags,
                      const uint8_t *file_id, vl_store **out, char *msg, uint32_t msg_cap);

int vl_store_open_branch(vl_io *io, vl_io *parent_io, const vl_config *cfg, uint32_t flags,
                         const uint8_t *file_id, vl_store **out, char *msg, uint32_t msg_cap)
{
    return store_open(io, parent_io, 0, cfg, flags, file_id, out, msg, msg_cap);
}

static int store_open(vl_io *io, vl_io *parent_io, int own_only, const vl_config *cfg, uint32_t flags,
                      const uint8_t *file_id, vl_store **out, char *msg, uint32_t msg_cap)
{
    if (msg && msg_cap) msg[0] = 0;
    if (!io || !out || (flags & ~(VL_STORE_READONLY | VL_STORE_CREATE))) {
        if (msg && msg_cap) snprintf(msg, msg_cap, "vl_store_open: bad arguments");
        return VL_EINVAL;
    }
    vl_store *s = store_new(io);
    if (!s) {
        if (msg && msg_cap) snprintf(msg, msg_cap, "out of memory");
        return VL_ENOMEM;
    }
    s->readonly = (flags & VL_STORE_READONLY) != 0;
    char m[256];
    uint64_t t0 = s->oc_t = vl__clock_ns();
    /* An open holds about the file's bytes again in memory (rows, graph links,
     * metadata) plus its transient buffers: size the heap once for that. */
    uint64_t fsize = 0;
    if (io->size && io->size(io->ctx, &fsize) == VL_OK && fsize > ((uint64_t)1 << 20)) vl__mem_expect(fsize + fsize / 2);
    /* the rows are read by load (vl_rvf_open_rows), in place when it can */
    int rc = vl_rvf_open_head(io, &s->rvf, m, sizeof m);
    if (!rc) vl__store_open_mark(s, OPEN_IDMAP);
    s->rvf_rows_pending = rc == VL_OK;
    uint64_t size = 1;
    if (rc == VL_ENOTFOUND && (flags & VL_STORE_CREATE) && !s->readonly && io->size(io->ctx, &size) == VL_OK &&
        size == 0) {
        /* ---- create ---- */
        if (!cfg || !file_id) {
            rc = vl__store_msg(s, VL_EINVAL, "creating a store needs a configuration and a 16-byte file id");
        } else if ((rc = vl_index_new(cfg, &s->idx))) {
            vl__store_msg(s, rc, "invalid configuration (dim %u, metric %u, kind %u, m %u)", cfg->dim, cfg->metric,
                 cfg->kind, cfg->m);
        } else if ((rc = vl_rvf_create(io, cfg->dim, cfg->metric, file_id, &s->rvf, m, sizeof m))) {
            vl__store_msg(s, rc, "%s", m);
        } else {
            (void)vl_index_config(s->idx, &s->cfg);
            uint8_t cb[CFG_LEN];
            cfg_encode(&s->cfg, cb);
            if ((rc = fm_set(s, (const uint8_t *)CFG_KEY, (uint32_t)strlen(CFG_KEY), cb, CFG_LEN)))
                vl__store_msg(s, rc, "out of memory");
            else
                rc = write_initial_meta(s);
        }
    } else if (rc) {
        vl__store_msg(s, rc, "%s", m);
    } else {
        rc = vl__store_load(s, cfg, parent_io, own_only);
        if (!rc) rc = vl__store_quant_open(s);
        if (!rc) rc = vl__store_text_open(s);
    }
    if (rc) {
        if (msg && msg_cap) snprintf(msg, msg_cap, "%s", s->msg);
        store_free(s);
        return rc;
    }
    s->msg[0] = 0;
    s->open_ns[OPEN_TOTAL] = vl__clock_ns() - t0;
    *out = s;
    return VL_OK;
}

int vl_store_close(vl_store *s)
{
    if (!s) return VL_OK;
    int rc = VL_OK;
    if (!s->readonly && !s->poisoned && s->idx) rc = close_checkpoint(s);
    store_free(s);
    return rc;
}

/* ======================================================================
 * Reads: index, info, directory, verify
 * ====================================================================== */

vl_index *vl_store_index(vl_store *s) { return s ? s->idx : NULL; }

const char *vl_store_errmsg(const vl_store *s)
{
    if (!s) return "no store handle";
    return s->msg[0] ? s->msg : "no error";
}

int vl_store_info(const vl_store *s, vl_store_status *o)
{
    if (!s || !o) return VL_EINVAL;
    vl_rvf_info ri;
    vl_rvf_info_get(s->rvf, &ri);
    memset(o, 0, sizeof *o);
    o->live = vl_index_count(s->idx);
    o->deleted = ri.deleted;
    o->loaded = ri.loaded;
    o->bytes = ri.append_at;
    o->rows_inserted_on_open = s->rows_inserted_on_open;
    o->meta_generation = s->meta_gen;
    o->epoch = ri.epoch;
    o->dim = ri.dim;
    o->metric = ri.metric;
    o->lineage_depth = ri.lineage_depth;
    o->dir_count = ri.dir_count;
    o->index_loaded = s->index_loaded;
    o->readonly = s->readonly;
    o->graph_dirty = s->graph_dirty;
    memcpy(o->file_id, ri.file_id, 16);
    memcpy(o->parent_id, ri.parent_id, 16);
    memcpy(o->parent_hash, ri.parent_hash, 32);
    o->memory_bytes = sizeof *s + vl_rvf_memory_bytes(s->rvf) + (uint64_t)s->cap_tiers * sizeof *s->tiers +
                      (uint64_t)s->cap_fm * sizeof *s->fm + s->rf_up.cap + s->rf_del.cap;
    for (uint32_t i = 0; i < s->ntiers; i++)
        o->memory_bytes += (uint64_t)s->tiers[i].cap_ids * sizeof(uint64_t) + s->tiers[i].keys.cap;
    for (uint32_t i = 0; i < s->nfm; i++) o->memory_bytes += (uint64_t)s->fm[i].klen + s->fm[i].vlen;
    uint32_t *us[7] = { &o->open_read_us, &o->open_verify_us, &o->open_idmap_us, &o->open_rows_us,
                        &o->open_graph_us, &o->open_meta_us, &o->open_total_us };
    for (int i = 0; i < 7; i++) {
        uint64_t u = s->open_ns[i] / 1000;
        *us[i] = u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
    }
    return VL_OK;
}

int vl_store_dir(const vl_store *s, uint32_t i, vl_store_seg *out)
{
    if (!s || !out) return VL_EINVAL;
    vl_rvf_dirent d;
    int rc = vl_rvf_dir(s->rvf, i, &d);
    if (rc) return rc;
    out->seg_id = d.seg_id;
    out->offset = d.offset;
    out->payload_length = d.payload_length;
    out->seg_type = d.seg_type;
    out->reserved = 0;
    return VL_OK;
}

const char *vl_store_seg_type_name(uint32_t t)
{
    switch (t) {
    case 0x01: return "vec";
    case 0x02: return "index";
    case 0x03: return "overlay";
    case 0x04: return "journal";
    case 0x05: return "manifest";
    case 0x06: return "quant";
    case 0x07: return "meta";
    case 0x08: return "hot";
    case 0x09: return "sketch";
    case 0x0A: return "witness";
    case 0x0B: return "profile";
    case 0x0C: return "crypto";
    case 0x0D: return "metaidx";
    case 0x0E: return "kernel";
    case 0x0F: return "ebpf";
    case 0x10: return "wasm";
    case 0x11: return "dashboard";
    case 0x20: return "cow_map";
    case 0x21: return "refcount";
    case 0x22: return "membership";
    case 0x23: return "delta";
    case 0x3E: return "text";
    default: return "unknown";
    }
}

static void problem(vl_buf *b, uint32_t *count, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void problem(vl_buf *b, uint32_t *count, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (b->len) vl__buf_put(b, "\n", 1);
    vl__buf_put(b, line, strlen(line));
    (*count)++;
}

int vl_store_verify(vl_store *s, vl_store_verify_result *out)
{
    if (!s || !out) return VL_EINVAL;
    if (s->poisoned) return vl__store_msg(s, VL_EFATAL, "the store is poisoned by an earlier failed write: reopen it");
    memset(out, 0, sizeof *out);
    vl_buf pb = { 0 };
    uint32_t np = 0;
    int rc = vl_rvf_verify_witness(s->rvf, &out->witness_entries, &out->witness_intact);
    if (rc == VL_ENOMEM) return vl__store_msg(s, rc, "out of memory");
    if (rc) problem(&pb, &np, "witness chain: %s", vl_rvf_errmsg(s->rvf));
    if (s->rows_rejected)
        problem(&pb, &np, "%llu rows with non-finite or zero vectors were skipped at open",
                (unsigned long long)s->rows_rejected);
    if (s->index_note[0]) problem(&pb, &np, "%s", s->index_note);
    if (s->text_note[0]) problem(&pb, &np, "%s", s->text_note);
    /* re-read everything: a read-only store on the bytes of this handle's
     * commit (0 .. append_at). A writer on the same file may be appending
     * its next commit (or have left a torn tail) beyond them: that is not
     * a problem of the commit this handle checks. */
    vl_rvf_info ri;
    vl_rvf_info_get(s->rvf, &ri);
    vl_io_view view;
    vl_store *r = NULL;
    char m[256];
    /* a branch child's file holds its own rows: compared with memory's, the
     * inherited ones (visible through the bitmap) are counted apart */
    rc = store_open(vl_io_view_init(&view, s->io, ri.append_at), NULL, 1, &s->cfg, VL_STORE_READONLY, NULL, &r,
                    m, sizeof m);
    uint64_t inherited = 0;
    if (rc == VL_ENOMEM) return vl__store_msg(s, rc, "out of memory re-reading the store");
    if (rc) {
        problem(&pb, &np, "re-reading the file failed (%s): %s", vl_errstr(rc), m);
    } else {
        vl_store_status a, b;
        (void)vl_store_info(s, &a);
        (void)vl_store_info(r, &b);
        if (a.epoch != b.epoch || a.bytes != b.bytes)
            problem(&pb, &np, "the file's committed state (epoch %u, %llu bytes) is not the store's "
                    "(epoch %u, %llu bytes)", b.epoch, (unsigned long long)b.bytes, a.epoch,
                    (unsigned long long)a.bytes);
        if (r->index_note[0] && !s->index_note[0]) problem(&pb, &np, "%s", r->index_note);
        if (!s->br && vl_index_count(r->idx) != vl_index_count(s->idx))
            problem(&pb, &np, "the file holds %llu live vectors, memory %llu",
                    (unsigned long long)vl_index_count(r->idx), (unsigned long long)vl_index_count(s->idx));
        /* every live id: vector and metadata identical */
        uint64_t ids[256], after = 0;
        uint32_t got = 0, valid = 0, dim = vl__index_dim(s->idx), bad = 0;
        float *va = vl_mem_alloc((size_t)dim * sizeof(float)), *vb = vl_mem_alloc((size_t)dim * sizeof(float));
        if (!va || !vb) {
            vl_mem_free(va); vl_mem_free(vb); vl_store_close(r); vl__buf_free(&pb);
            return vl__store_msg(s, VL_ENOMEM, "out of memory");
        }
        while (bad < 5 && vl_index_ids(s->idx, &after, valid, ids, 256, &got) == VL_OK && got) {
            for (uint32_t i = 0; i < got && bad < 5; i++) {
                const uint8_t *ma, *mb;
                uint32_t la, lb;
                (void)vl_index_get(s->idx, &ids[i], va, &ma, &la);
                if (vl_index_get(r->idx, &ids[i], vb, &mb, &lb) != VL_OK) {
                    if (s->br && vl_branch_visible(s->br, ids[i])) { inherited++; continue; }
                    problem(&pb, &np, "id %llu is live in memory but not in the file", (unsigned long long)ids[i]);
                    bad++;
                } else if (memcmp(va, vb, (size_t)dim * sizeof(float)) != 0) {
                    problem(&pb, &np, "id %llu: the file's vector differs from memory", (unsigned long long)ids[i]);
                    bad++;
                } else if (la != lb || (la && memcmp(ma, mb, la) != 0)) {
                    problem(&pb, &np, "id %llu: the file's metadata differs from memory", (unsigned long long)ids[i]);
                    bad++;
                }
            }
            after = ids[got - 1];
            valid = 1;
        }
        vl_mem_free(va);
        vl_mem_free(vb);
        if (s->br && !bad && vl_index_count(r->idx) + inherited != vl_index_count(s->idx))
            problem(&pb, &np, "the child file holds %llu live vectors and memory %llu inherited ones, but "
                    "memory has %llu", (unsigned long long)vl_index_count(r->idx), (unsigned long long)inherited,
                    (unsigned long long)vl_index_count(s->idx));
        if (vl_index_check(r->idx) != VL_OK) problem(&pb, &np, "graph read from the file: %s", vl_errmsg(r->idx));
        vl_store_close(r);
    }
    if (vl_index_check(s->idx) != VL_OK) problem(&pb, &np, "in-memory index: %s", vl_errmsg(s->idx));
    if (!out->witness_intact && out->witness_entries)
        problem(&pb, &np, "the witness chain is not intact from its first entry (files written by "
                "rvf-node 0.2.2 across sessions restart it; newer runtimes refuse them)");
    vl__buf_put(&pb, "", 1);
    if (pb.oom) { vl__buf_free(&pb); return vl__store_msg(s, VL_ENOMEM, "out of memory"); }
    vl_mem_free(s->problems);
    s->problems = (char *)pb.p;
    out->problems = np;
    out->ok = np == 0;
    return VL_OK;
}

int vl_store_write_outcome(const vl_store *s)
{
    return s && s->rvf ? vl_rvf_write_outcome(s->rvf) : VL_OUTCOME_NONE;
}

int vl_store_check_image(vl_store *s, vl_io *img)
{
    if (!s || !img) return VL_EINVAL;
    if (s->poisoned) return vl__store_msg(s, VL_EFATAL, "the store is poisoned by an earlier failed write: reopen it");
    char m[256];
    int rc = vl_rvf_check_image(s->rvf, img, m, sizeof m);
    return rc ? vl__store_msg(s, rc, "%s", m) : VL_OK;
}

const char *vl_store_problems(const vl_store *s)
{
    return s && s->problems ? s->problems : "";
}
