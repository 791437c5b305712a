/*
 * store.h — private declarations shared by the store layer's files:
 * store.c (the vl_store handle, veclite.h "Stores"), store_meta.c (the META
 * segment codec) and store_index.c (the INDEX segment codec, graph export,
 * repair and import). Not part of the public API.
 *
 * The store sees vl_index as an opaque handle: it reads an index only
 * through veclite.h and the vl__index_* accessors (internal.h); the
 * struct's layout (index.h) is private to the index's own files.
 */
#ifndef VL_STORE_H
#define VL_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "internal.h"

/* ---- a growable byte buffer (allocation failure is sticky in .oom) ---- */
typedef struct vl_buf {
    uint8_t *p;
    uint64_t len, cap;
    int oom;
} vl_buf;
void vl__buf_put(vl_buf *b, const void *data, uint64_t len);
int  vl__buf_reserve(vl_buf *b, uint64_t extra);   /* room for extra more bytes; 0 when out of memory */
void vl__buf_u8(vl_buf *b, uint8_t v);
void vl__buf_u16(vl_buf *b, uint16_t v);
void vl__buf_u32(vl_buf *b, uint32_t v);
void vl__buf_u64(vl_buf *b, uint64_t v);
void vl__buf_varint(vl_buf *b, uint64_t v);
void vl__buf_pad(vl_buf *b, uint32_t align);   /* zero bytes up to a multiple of align */
void vl__buf_free(vl_buf *b);

/* ======================================================================
 * META segments (store_meta.c)
 * ====================================================================== */
#define VL_META_VERSION      1u
#define VL_META_F_SNAPSHOT   1u
#define VL_META_NO_BASE      UINT64_MAX
#define VL_META_OP_UPSERT    0u
#define VL_META_OP_DELETE    1u
#define VL_META_TYPE_TAGGED  0u      /* schema type: values carry their own tag */
#define VL_META_MAX_PAYLOAD  (1ull << 30)

/* Writer: sections are collected separately and joined by vl__meta_finish. */
typedef struct vl_meta_writer {
    vl_buf schema, filemeta, records;
    uint32_t n_schema, n_filemeta, n_records;
    uint32_t flags;
    uint64_t generation, base;
} vl_meta_writer;
void vl__meta_begin(vl_meta_writer *w, int snapshot, uint64_t generation, uint64_t base);
void vl__meta_schema(vl_meta_writer *w, uint32_t field_id, const char *name, uint32_t len);
/* val_len 0 in a delta removes the key. */
void vl__meta_filemeta(vl_meta_writer *w, const uint8_t *key, uint32_t key_len,
                       const uint8_t *val, uint32_t val_len);
/* rec: an in-memory record (veclite.h: u16 n | fields), len 0 for op DELETE. */
void vl__meta_record(vl_meta_writer *w, uint64_t id, uint32_t op, const uint8_t *rec, uint32_t len);
/* The payload (owned by out; vl__buf_free). VL_OK / VL_ENOMEM / VL_EBUDGET. */
int vl__meta_finish(vl_meta_writer *w, vl_buf *out);
void vl__meta_writer_free(vl_meta_writer *w);

/* Reader: vl__meta_parse checks the whole payload (magic, version, counts
 * against the size, the trailing "RVFDONE\0" and SHA-256, UTF-8 names,
 * every value's tag and bounds) and then calls back per entry. Records are
 * handed over with their fields in the in-memory encoding minus the count
 * (fields_len bytes holding n fields). A nonzero callback return stops the
 * walk and is returned. */
typedef struct vl_meta_cb {
    void *ctx;
    int (*schema)(void *ctx, uint32_t field_id, const uint8_t *name, uint32_t len);
    int (*filemeta)(void *ctx, const uint8_t *key, uint32_t key_len, const uint8_t *val,
                    uint32_t val_len);
    int (*record)(void *ctx, uint64_t id, uint32_t op, uint32_t n, const uint8_t *fields,
                  uint32_t fields_len);
} vl_meta_cb;
typedef struct vl_meta_head {
    uint32_t version, flags;
    uint64_t generation, base;
    uint32_t n_schema, n_filemeta, n_records;
} vl_meta_head;
/* Errors: VL_ECORRUPT / VL_EVERSION with a reason in why. */
int vl__meta_parse(const uint8_t *p, uint64_t len, vl_meta_head *head, const vl_meta_cb *cb,
                   char *why, size_t why_len);
/* The callbacks of a payload that vl__meta_parse(p, len, head, NULL, ...) has
 * accepted (the digest and the walk's checks are not repeated: an open
 * hashes each META payload once). The same bytes and head, unchanged. */
int vl__meta_apply(const uint8_t *p, uint64_t len, const vl_meta_head *head, const vl_meta_cb *cb,
                   char *why, size_t why_len);

/* ======================================================================
 * INDEX segments and graphs (store_index.c)
 * ====================================================================== */
#define VL_INDEX_RESTART     64u

/* A source graph to export or re-map: node i's links on layer l are
 * links(ctx, i, l) = { cnt, neighbours }. target[i] is node i's index in
 * the output graph, or VL_NO_NODE if it is removed (its neighbours are
 * re-linked among themselves). A node that is not a representative may
 * still have a target (it is "redirected": links to it become links to its
 * target, as a superseded copy of an id points at the current one). */
typedef struct vl_gsrc {
    uint32_t n;
    const uint8_t *level;
    const uint32_t *(*links)(const void *ctx, uint32_t i, uint32_t l);
    const void *ctx;
    const uint32_t *target;
    uint32_t entry;                 /* VL_NO_NODE if none */
} vl_gsrc;

/* Build out (n_out nodes; out node j comes from source node rep[j], whose
 * target must be j) keeping every surviving link, redirecting links to
 * redirected nodes, and re-selecting (hnswlib's heuristic, over distances
 * of the output vectors vec(vctx, j)) the lists that lost a removed
 * neighbour, from the removed neighbours' own neighbours.
 * Errors: VL_ENOMEM. */
int vl__graph_remap(const vl_gsrc *src, uint32_t n_out, const uint32_t *rep,
                    const float *(*vec)(const void *vctx, uint32_t j), const void *vctx,
                    uint32_t dim, uint32_t metric, uint32_t M, vl_graph *out);

/* INDEX payload (docs/format.md §4) of g whose node j has id ids[j] (strictly
 * ascending). VL_OK / VL_ENOMEM. */
int vl__index_encode(const vl_graph *g, const uint64_t *ids, uint32_t ef_construction,
                     vl_buf *out);
/* Decode and check an INDEX payload against hard caps (at most max_nodes
 * nodes) and the graph invariants. *ids_out (vl_mem_free) gets the node
 * ids; *efc_out the header's M and ef_construction.
 * Errors: VL_ECORRUPT (with why), VL_ENOMEM. */
int vl__index_decode(const uint8_t *p, uint64_t len, uint64_t max_nodes, vl_graph *g,
                     uint64_t **ids_out, uint32_t *efc_out, char *why, size_t why_len);
/* The same decode in steps, so an open can import the graph in place:
 * vl__index_decode_head checks the header, restart table and trailer and
 * decodes the ids (*ids_out, vl_mem_free) into hd; then either
 * vl__index_decode_nodes decodes the nodes of that payload into g (as
 * vl__index_decode), or vl__index_place decodes them straight into the
 * EMPTY HNSW index h whose first hd->n slots hold the nodes' vectors
 * (vl__index_slots), with the same checks, and imports them with ids and
 * dead flags (vl__index_place_*: no vl_graph, no link copied twice).
 * Errors: VL_ECORRUPT (with why: the INDEX is unusable; h is left empty),
 * VL_EINVAL (h cannot take it; h empty), VL_ENOMEM. */
typedef struct vl_index_head {
    uint32_t n, M, M0, max_layer, interval, entry, efc;
    uint64_t ds, ts;             /* node data start, trailer start */
} vl_index_head;
int vl__index_decode_head(const uint8_t *p, uint64_t len, uint64_t max_nodes, vl_index_head *hd,
                          uint64_t **ids_out, char *why, size_t why_len);
int vl__index_decode_nodes(const uint8_t *p, const vl_index_head *hd, vl_graph *g, char *why, size_t why_len);
int vl__index_place(vl_index *h, const uint8_t *p, const vl_index_head *hd, const uint64_t *ids, const uint8_t *dead,
                    char *why, size_t why_len);

/* The graph of an HNSW index as an INDEX payload: one node per id,
 * ascending. For each id the live node, or (if keep_deleted(ctx, id) says
 * its row stays in the file) its newest tombstone, represents it; older
 * copies are redirected to it; tombstones of ids not kept are removed and
 * their neighbours re-linked. If g_out/ids_out/vecs_out/dead_out are
 * non-NULL they receive the exported graph, the ids, a copy of the vectors
 * and the dead flags (for re-importing, vl_mem_free / vl__graph_free).
 * Errors: VL_ENOMEM. */
int vl__index_export(vl_index *h, int (*keep_deleted)(void *ctx, uint64_t id), void *ctx,
                     vl_buf *payload, vl_graph *g_out, uint64_t **ids_out, float **vecs_out,
                     uint8_t **dead_out);

/* ======================================================================
 * The store handle (store.c; store_refresh.c applies newer commits to it)
 * ====================================================================== */
#include "rvf.h"
#include "branch.h"

/* Shared by store.c and store_load.c. */
#define NONE32 UINT32_MAX
#define CFG_KEY "veclite.index"      /* file metadata: the index configuration */
#define CFG_LEN 24u
#define LOAD_CHUNK 1024u             /* rows per insertion batch when an open builds the graph */
/* File-metadata keys per store (lookups are linear; a hostile file cannot
 * make loading quadratic). */
#define VL_STORE_MAX_FM_KEYS 1024u

/* A listed META delta, as the tiered merge needs it: what it names. */
typedef struct meta_tier {
    uint64_t seg_id, len;        /* directory entry, payload bytes */
    uint64_t gen, base;          /* its generation and base_generation */
    uint32_t fields_from;        /* lowest field id its schema names (NONE32: none) */
    uint64_t *ids;               /* ids it has a record of */
    uint32_t nids, cap_ids;
    vl_buf keys;                 /* file-metadata keys it names: u16 len | key */
} meta_tier;

typedef struct fm_entry {
    uint8_t *key, *val;
    uint32_t klen, vlen;
} fm_entry;

struct vl_store {
    vl_io *io;
    vl_rvf *rvf;
    vl_index *idx;
    vl_config cfg;               /* in force (defaults applied) */
    uint32_t readonly, poisoned;
    uint64_t now_ns;
    /* META state */
    uint64_t meta_gen;
    uint32_t fields_durable;     /* field ids below this are in the file */
    uint64_t meta_listed;        /* payload bytes of the listed META segments */
    uint64_t meta_base_len;      /* payload bytes of the listed snapshot (0: none listed) */
    meta_tier *tiers;            /* the listed META deltas after it, in directory order */
    uint32_t ntiers, cap_tiers;
    int meta_snapshot_due;
    int meta_orphans;            /* listed META holds records of ids that are not live (another
                                    writer's delete): the next upsert writes a snapshot, so a
                                    re-inserted id does not get its old record back */
    fm_entry *fm;
    uint32_t nfm, cap_fm;
    /* graph */
    uint32_t graph_dirty, index_loaded;
    uint32_t index_ok;           /* the newest listed INDEX is one the next open can load
                                    (loaded at open, or written by this handle) */
    uint32_t quant_dirty;        /* a trained quantizer's QUANT is not in the file yet */
    uint32_t quant_seen;         /* the index's quantizer is trained (and noted) */
    uint64_t rows_inserted_on_open;
    uint64_t rows_rejected;      /* rows skipped at open: non-finite or zero (cosine) */
    char index_note[200];        /* why a listed INDEX was not used ("" if none / used) */
    char text_note[200];         /* why a current TEXT segment was not used ("" if none / used) */
    uint32_t text_adopted;       /* this open took the keyword index from a TEXT segment */
    int rvf_rows_pending;        /* open: vl_rvf_open_head done, vl_rvf_open_rows not yet (load) */
    vl_branch *br;               /* an rvf-node branch() child (branch.h), else NULL */
    char msg[512];
    char *problems;
    /* the ids the last vl_store_refresh changed (u64 each; store_refresh.c) */
    vl_buf rf_up, rf_del;
    /* what the open cost (vl_store_status.open_*_us): ns per OPEN_* phase, and
     * the clock and the rvf handle's read/hash totals at the last mark */
    uint64_t open_ns[7];
    uint64_t oc_t, oc_read, oc_crc;
};
enum { OPEN_READ, OPEN_VERIFY, OPEN_IDMAP, OPEN_ROWS, OPEN_GRAPH, OPEN_META, OPEN_TOTAL };
/* Charge the time since the last mark to phase, less the device reads and
 * content hashes within it (charged to OPEN_READ and OPEN_VERIFY). */
void vl__store_open_mark(vl_store *s, int phase);

/* Leave a printf-style message in s->msg and return rc (store.c; store_refresh.c uses it too). */
int vl__store_msg(vl_store *s, int rc, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether a store-wide setting chosen at creation (quantization, the text
 * field) may still be set: VL_OK, or VL_EREADONLY / VL_EINVAL with the
 * reason in s->msg (a branch child cannot `branch_verb`; a store holding
 * rows cannot change its `name`). store.c. */
int vl__store_setting_open(vl_store *s, const char *branch_verb, const char *name);

/* store.c's file-metadata setter (val_len 0 removes the key). VL_OK / VL_ENOMEM. */
void vl__store_fm_clear(vl_store *s);
int vl__store_fm_has(const vl_store *s, const uint8_t *key, uint32_t klen);
/* store.c's META tier bookkeeping and branch maps, for the open (store_load.c). */
void vl__store_tiers_clear(vl_store *s);
int vl__store_tiers_room(vl_store *s);
int vl__store_tier_add_id(meta_tier *t, uint64_t id);
int vl__store_tier_add_key(meta_tier *t, const uint8_t *key, uint32_t klen);
int vl__store_branch_load_maps(vl_store *s);
/* Make an opened store (s->rvf from vl_rvf_open_head, s->rvf_rows_pending)
 * an index again: META, configuration, rows, graph (store_load.c). own_only:
 * a branch child's own rows, without its parent's (vl_store_verify). On error
 * s->msg says why; the caller frees s. */
int vl__store_load(vl_store *s, const vl_config *cfg, vl_io *parent_io, int own_only);
int vl__store_fm_set(vl_store *s, const uint8_t *key, uint32_t klen, const uint8_t *val, uint32_t vlen);

/* The store's own file-metadata keys ("veclite.*"): set and commit. */
int vl__store_fm_commit(vl_store *s, const char *key, uint32_t key_len, const uint8_t *val, uint32_t val_len);

/* The newest listed segment of `type`: its directory position (and *d), or
 * UINT32_MAX when there is none (store.c). */
uint32_t vl__store_newest_seg(vl_store *s, uint32_t type, vl_rvf_dirent *d);

/* ---- quantization (store_quant.c) ---- */
#define VL_RVF_SEG_QUANT 0x06u
/* The QUANT payload of the index's quantizer and codes (out->len 0 when
 * the index is not quantized). VL_OK / VL_ENOMEM. */
int vl__store_quant_payload(vl_store *s, vl_buf *out);
/* After the rows are loaded: the stored quantization asked of the index,
 * its quantizer adopted from the newest QUANT (or trained), the row
 * source installed. */
int vl__store_quant_open(vl_store *s);
/* After a write: note a quantizer trained by it (to be persisted). */
void vl__store_quant_wrote(vl_store *s);
/* A quantized index's row source: s (none when not quantized); again after a reload moved the store's contents. */
void vl__store_quant_bind(vl_store *s);

/* ---- keyword search (store_text.c) ---- */
/* After the rows are loaded: the stored text field ("veclite.text") set on
 * the index, which indexes the loaded records. */
int vl__store_text_open(vl_store *s);
/* Whether the stored text field ("veclite.text", as the loaded META has it)
 * differs from the index's (a read-only handle's refresh then reloads). */
int vl__store_text_changed(vl_store *s);
#define VL_RVF_SEG_TEXT 0x3Eu
/* The TEXT payload of the keyword index for a file whose META generation
 * is meta_gen (out->len 0 without a text field or in a branch child).
 * VL_OK / VL_ENOMEM (message set). */
int vl__store_text_payload(vl_store *s, uint64_t meta_gen, vl_buf *out);
/* Whether the store has a text field whose index the newest listed TEXT
 * segment does not hold exactly (none listed, or a META or live VEC
 * segment listed after it): then a checkpoint writes a new one. */
int vl__store_text_stale(vl_store *s);
/* Close's rule: stale, and none listed, or with_index (an INDEX is written
 * anyway), or the META payload bytes listed after it x fraction >= its
 * payload bytes. */
int vl__store_text_due(vl_store *s, int with_index, uint32_t fraction);

#endif /* VL_STORE_H */
