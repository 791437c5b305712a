/*
 * veclite.h — the whole public C API of the veclite engine.
 *
 * veclite is an embedded vector database. This header is the only contract
 * between the C core (the .c files in src/) and its callers: the native test table
 * (tests/unit/), the fuzzers (tests/fuzz/) and the WebAssembly glue
 * (src/wasm.c, used by worker/bind.js).
 *
 * Conventions (see docs/conventions.md §2):
 *   - Handles are typed opaque structs; every fallible call returns int:
 *     VL_OK (0) or a negative VL_E* code. Results go through trailing
 *     out-parameters, which are written only on success.
 *   - Only fixed-width types cross this ABI. 64-bit ids always travel in
 *     arrays (uint64_t *), never as scalar arguments, so JS passes them in
 *     BigUint64Array views without BigInt legalisation.
 *   - Whoever allocates frees. Pointers returned by a handle (metadata,
 *     field names, vl_errmsg) stay valid until the next mutating call on
 *     that handle; copy them before then.
 *   - Threads: a handle is not thread-safe. Distinct handles are independent.
 *   - After a failed durable write a handle is poisoned and every later
 *     call returns VL_EFATAL (used once storage lands; see io.h).
 *
 * Ids: the engine keys vectors by uint64_t. Every value 0..2^64-1 is a valid
 * id. (String ids are mapped to u64 by the JS layer, which stores the string
 * in the metadata record under the reserved field name "$id".)
 *
 * Metadata records (opaque to callers that do not filter, parsed by the
 * engine's filter evaluator and validated on insert):
 *     u16 n_fields | n_fields x { u16 field_id | u8 tag | value }
 *   tags and values (little-endian):
 *     VL_TAG_NULL  0  (no bytes)
 *     VL_TAG_STR   1  u32 len | len bytes UTF-8
 *     VL_TAG_BYTES 2  u32 len | len bytes
 *     VL_TAG_I64   3  8 bytes
 *     VL_TAG_U64   4  8 bytes
 *     VL_TAG_F64   5  8 bytes IEEE-754
 *     VL_TAG_BOOL  6  1 byte (0 or 1)
 *     VL_TAG_JSON  7  u32 len | len bytes UTF-8 JSON text (nested arrays/objects)
 *   Field ids come from vl_index_field(); each field id appears at most once
 *   per record. Tags 1..6 match the META segment types of docs/format.md §4.
 *
 * Filters are a prefix-encoded expression tree (built by worker/filter.js):
 *     VL_F_TRUE   0
 *     VL_F_AND    1  u16 n | n x expr
 *     VL_F_OR     2  u16 n | n x expr
 *     VL_F_NOT    3  expr
 *     VL_F_EXISTS 4  u16 field_id                 (field present, any tag)
 *     VL_F_CMP    5  u8 cmp | u16 field_id | u8 tag | value
 *     VL_F_IN     6  u16 field_id | u16 n | n x { u8 tag | value }
 *     VL_F_CONTAINS 7  u16 field_id | u8 tag | value   (tag NULL/STR/I64/U64/F64/BOOL)
 *     VL_F_PATH   8  u8 nseg | nseg x { u16 len | len bytes UTF-8 } | leaf
 *   cmp: VL_CMP_EQ 0, NE 1, LT 2, LE 3, GT 4, GE 5.
 *   CONTAINS is true when the field is a STR holding the STR operand as a
 *   substring (bytewise; the empty string is in every string), or JSON text
 *   of an array with an element equal (as EQ) to the scalar operand.
 *   PATH (1..VL_FILTER_MAX_PATH segments) prefixes one leaf (EXISTS, CMP, IN
 *   or CONTAINS, never another PATH) and makes the leaf read, instead of the
 *   field, the value at that path inside the field's JSON text: a segment
 *   names an object key (the last of duplicate keys wins, as JSON.parse), or
 *   an element of an array when it is a canonical decimal index ("0", "17").
 *   The value found compares as a number (F64), STR, BOOL, NULL or, for an
 *   object or array, its JSON text. No value there (field missing or not
 *   JSON, path absent, text malformed or nested deeper than
 *   VL_JSON_MAX_DEPTH) is a missing field.
 *   Semantics: numbers (I64, U64, F64) compare numerically with each other
 *   (exactly when both are integers); STR and BYTES compare bytewise
 *   (memcmp, then length); BOOL and NULL support EQ/NE only; JSON compares
 *   its text for EQ/NE only. A comparison whose field is missing or whose
 *   types do not compare is false, except NE, which is defined as NOT EQ.
 *   Nesting depth is capped at VL_FILTER_MAX_DEPTH; malformed filters give
 *   VL_EINVAL and never crash.
 */
#ifndef VECLITE_H
#define VECLITE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VL_MUST_CHECK __attribute__((warn_unused_result))
#else
#define VL_MUST_CHECK
#endif

/* ---- Error codes (stable; mirrored by name in JS via vl__wasm_consts) ---- */
#define VL_OK          0
#define VL_EINVAL     -1   /* bad argument: wrong dimension, NaN, bad filter... */
#define VL_ENOTFOUND  -2   /* no such id / field */
#define VL_ELOCK      -3   /* another writer holds the store */
#define VL_EREADONLY  -4   /* write on a read-only handle */
#define VL_ECORRUPT   -5   /* stored bytes damaged before the committed tail */
#define VL_EVERSION   -6   /* needs a newer veclite */
#define VL_EBACKEND   -7   /* storage backend unavailable */
#define VL_EBUDGET    -8   /* memory budget exceeded */
#define VL_ECLOSED    -9   /* handle already closed */
#define VL_EIO       -10   /* storage device failed */
#define VL_ENOMEM    -11   /* allocation failed (index unchanged) */
#define VL_EFATAL    -12   /* handle poisoned by an earlier failed durable write */

/* ---- What a failed durable write left in the file (vl_store_write_outcome) ----
 * A commit that fails after it began writing is rolled back: the file is
 * truncated to the previous commit and synced. */
#define VL_OUTCOME_NONE         0   /* no write failed on this handle */
#define VL_OUTCOME_NOT_WRITTEN  1   /* nothing of the failed write is in the file (durably) */
#define VL_OUTCOME_UNKNOWN      2   /* the rollback failed too: a reopen shows either the
                                       previous commit or the whole failed write */

/* ---- Metrics (values equal the .rvf MANIFEST metric byte, docs/format.md §4) ---- */
#define VL_METRIC_L2      0   /* distance = sqrt(sum (a-b)^2) at the API; L2^2 inside */
#define VL_METRIC_DOT     1   /* distance = -dot(a,b) */
#define VL_METRIC_COSINE  2   /* distance = 1 - cos(a,b) */

/* ---- Index kinds ---- */
#define VL_INDEX_FLAT  0      /* exact brute force */
#define VL_INDEX_HNSW  1

/* ---- Limits ---- */
#define VL_MAX_DIM            65535u
#define VL_MAX_M              256u
#define VL_MAX_EF             100000u
#define VL_MAX_K              100000u
#define VL_MAX_META_BYTES     (16u << 20)
#define VL_MAX_FIELDS         65535u
#define VL_MAX_FIELD_NAME     1024u
#define VL_FILTER_MAX_DEPTH   64u
#define VL_FILTER_MAX_PATH    64u   /* segments of a PATH prefix */
#define VL_JSON_MAX_DEPTH     1024u /* nesting a JSON path walk accepts */

/* ---- Metadata tags, filter opcodes, comparison operators ---- */
enum { VL_TAG_NULL = 0, VL_TAG_STR = 1, VL_TAG_BYTES = 2, VL_TAG_I64 = 3,
       VL_TAG_U64 = 4, VL_TAG_F64 = 5, VL_TAG_BOOL = 6, VL_TAG_JSON = 7 };
enum { VL_F_TRUE = 0, VL_F_AND = 1, VL_F_OR = 2, VL_F_NOT = 3,
       VL_F_EXISTS = 4, VL_F_CMP = 5, VL_F_IN = 6, VL_F_CONTAINS = 7,
       VL_F_PATH = 8 };
enum { VL_CMP_EQ = 0, VL_CMP_NE = 1, VL_CMP_LT = 2, VL_CMP_LE = 3,
       VL_CMP_GT = 4, VL_CMP_GE = 5 };

typedef struct vl_index vl_index;

/* Index configuration. All fields fixed-width; zero means "default" where noted. */
typedef struct vl_config {
    uint32_t dim;              /* 1..VL_MAX_DIM (required) */
    uint32_t metric;           /* VL_METRIC_* */
    uint32_t kind;             /* VL_INDEX_FLAT or VL_INDEX_HNSW */
    uint32_t m;                /* HNSW links per node per layer; 0 -> 16; 2..VL_MAX_M */
    uint32_t ef_construction;  /* 0 -> 200; clamped to >= m */
    uint32_t ef_search;        /* default per-query ef; 0 -> 64 */
    uint64_t seed;             /* level RNG seed; same seed + same inserts = same graph */
} vl_config;

/* Statistics for vl_index_stats. */
typedef struct vl_stats {
    uint64_t live;             /* vectors visible to search/get/count */
    uint64_t nodes;            /* stored nodes incl. tombstones */
    uint64_t tombstones;       /* deleted or superseded nodes still in the graph */
    uint64_t memory_bytes;     /* bytes the engine holds for this index */
    uint64_t vector_bytes;     /* of which raw vectors */
    uint64_t graph_bytes;      /* of which graph links */
    uint64_t meta_bytes;       /* of which metadata records */
    uint32_t max_level;        /* HNSW top layer (0 for flat) */
    uint32_t fields;           /* registered metadata field names */
    /* Added fields (append only: src/wasm.c publishes the offsets). HNSW
     * reclaims tombstones automatically: after a write that leaves more
     * tombstones than max(live, 1024), they are removed from the graph
     * (neighbours re-linked, storage compacted), so nodes <= live +
     * max(live, 1024) after every write. */
    uint64_t reclaimed;        /* tombstones removed by reclamation, since vl_index_new */
    uint64_t reclaims;         /* reclamation passes run, since vl_index_new */
    uint64_t capacity;         /* nodes the storage holds before it grows (by half, plus 16) */
    uint64_t node_bytes;       /* bytes each node of that capacity takes (in memory_bytes), filter columns included */
} vl_stats;

/* ---- Library ---- */

/* Static English text for an error code; never NULL. */
const char *vl_errstr(int rc);
/* "scalar" or "simd128": which distance kernels this build selected. */
const char *vl_isa_name(void);

/* ---- Index lifecycle ---- */

/* Create an empty index. cfg is copied. *out owned by caller: vl_index_free.
 * Errors: VL_EINVAL (dim 0 or > VL_MAX_DIM, unknown metric/kind, m out of range), VL_ENOMEM. */
VL_MUST_CHECK int vl_index_new(const vl_config *cfg, vl_index **out);
/* Free an index and everything it owns. NULL is a no-op. */
void vl_index_free(vl_index *h);
/* The configuration actually in force (defaults applied). */
VL_MUST_CHECK int vl_index_config(const vl_index *h, vl_config *out);
/* Last detailed message for h (static or owned by h); never NULL. */
const char *vl_errmsg(const vl_index *h);

/* ---- Writes ---- */

/* Insert or replace (upsert) n vectors.
 *   ids:   n ids.  vecs: n*dim floats, row-major.
 *   meta:  concatenated metadata records, or NULL for "no metadata";
 *   meta_off: n+1 offsets into meta (record i is meta[meta_off[i] .. meta_off[i+1]));
 *          a zero-length record means "no metadata". NULL iff meta is NULL.
 * The batch is validated completely before anything changes: non-finite
 * components, a zero vector under cosine, a malformed or oversized record,
 * or an unknown field id give VL_EINVAL and leave the index untouched.
 * A duplicate id inside one batch: the last row wins.
 * Errors: VL_EINVAL, VL_ENOMEM (index unchanged). */
VL_MUST_CHECK int vl_index_upsert(vl_index *h, uint32_t n, const uint64_t *ids,
                                  const float *vecs, const uint8_t *meta,
                                  const uint32_t *meta_off);

/* Room for the vectors of the next upsert inside the index, so a caller
 * that must copy its batch anyway (the WebAssembly binding copying from JS)
 * copies it once, into its final place, instead of into a staging buffer
 * that the upsert then copies again (WebAssembly memory never shrinks: a
 * staging copy of a whole batch is paid for good).
 * Reserves capacity for n more vectors and points *rows at n*dim floats
 * owned by h, just past its stored vectors; pass *rows as `vecs` to the
 * next vl_index_upsert of at most n rows (it reads every row before
 * anything can overwrite it). Valid until any other call on h.
 * n == 0 sets *rows to NULL. Errors: VL_EINVAL, VL_ENOMEM (index unchanged).
 * vl_index_upsert refuses (VL_EINVAL) vecs that overlap the index's storage
 * other than exactly as handed out here. */
VL_MUST_CHECK int vl_index_rows(vl_index *h, uint32_t n, float **rows);

/* Replace only the metadata of existing ids (vectors untouched).
 * Errors: VL_ENOTFOUND (an id absent; nothing changed), VL_EINVAL, VL_ENOMEM. */
VL_MUST_CHECK int vl_index_set_meta(vl_index *h, uint32_t n, const uint64_t *ids,
                                    const uint8_t *meta, const uint32_t *meta_off);

/* Delete n ids. Absent ids are ignored. *n_deleted receives how many were live.
 * A deleted id disappears from search/get/count at once; in HNSW its node
 * stays as a routing tombstone so the graph remains navigable, until
 * tombstones outnumber max(live, 1024) after a write: then they are all
 * removed and their neighbours re-linked (vl_stats.reclaimed). */
VL_MUST_CHECK int vl_index_delete(vl_index *h, uint32_t n, const uint64_t *ids,
                                  uint32_t *n_deleted);

/* Remove every vector (configuration and field names are kept). */
VL_MUST_CHECK int vl_index_clear(vl_index *h);

/* ---- Reads ---- */

uint64_t vl_index_count(const vl_index *h);
VL_MUST_CHECK int vl_index_stats(const vl_index *h, vl_stats *out);

/* Whether *id is live: VL_OK or VL_ENOTFOUND. */
VL_MUST_CHECK int vl_index_contains(const vl_index *h, const uint64_t *id);

/* Copy the vector of *id into vec_out (dim floats; may be NULL) and point
 * *meta / *meta_len at its metadata record (owned by h; valid until the next
 * write; may be NULL pointers if unwanted). Without metadata *meta_len is 0
 * and *meta still points at a valid (empty) location. Errors: VL_ENOTFOUND. */
VL_MUST_CHECK int vl_index_get(const vl_index *h, const uint64_t *id, float *vec_out,
                               const uint8_t **meta, uint32_t *meta_len);

/* k-nearest-neighbour search for nq queries (row-major nq*dim floats).
 *   k:       results per query, 1..VL_MAX_K.
 *   ef:      HNSW beam width (0 -> cfg.ef_search; raised to k). Ignored by flat.
 *   filter:  filter program (see top of file) or NULL / filter_len 0 for none.
 *            Evaluated during graph traversal: non-matching nodes route but
 *            are never returned; if the graph yields fewer than k matches
 *            while more exist, an exact filtered scan completes the answer.
 *            When a sample says the filter is so selective that the traversal
 *            would cost more than scanning (filter per live node + distance
 *            per match), the exact filtered scan answers directly (exact
 *            results). Fields used by filters get a column cache inside h.
 *   ids_out, dist_out: nq*k slots; row q holds counts_out[q] results sorted
 *            by ascending distance (metric distance as defined above; ties by
 *            ascending id). Slots past counts_out[q] are unspecified.
 * Errors: VL_EINVAL (k out of range, non-finite query, bad filter, zero
 * query under cosine), VL_ENOMEM. */
VL_MUST_CHECK int vl_index_search(vl_index *h, uint32_t nq, const float *queries,
                                  uint32_t k, uint32_t ef,
                                  const uint8_t *filter, uint32_t filter_len,
                                  uint64_t *ids_out, float *dist_out,
                                  uint32_t *counts_out);

/* Maximal-marginal-relevance search (SPEC F13; src/mmr.c): per query, the
 * normal search (filter, ef as above) fetches fetch_k candidates, then k are
 * picked greedily by lambda * sim(q, d) - (1 - lambda) * max sim(d, picked)
 * with the metric's similarity (cos, dot, 1 / (1 + L2)). Outputs as
 * vl_index_search, rows in pick order (not by distance); distances are the
 * candidates' distances to the query. lambda 1 gives the search's first k.
 * Errors: VL_EINVAL (lambda outside [0, 1] or NaN; not 1 <= k <= fetch_k <=
 * VL_MAX_K; the search's), VL_ENOMEM, a row source's error (quantized). */
VL_MUST_CHECK int vl_index_search_mmr(vl_index *h, uint32_t nq, const float *queries,
                                      uint32_t k, uint32_t fetch_k, float lambda, uint32_t ef,
                                      const uint8_t *filter, uint32_t filter_len,
                                      uint64_t *ids_out, float *dist_out, uint32_t *counts_out);

/* ---- Keyword search (SPEC F13; src/text.c) ----
 * vl_index_set_text: index the metadata field `field` (UTF-8, 1..
 * VL_MAX_FIELD_NAME bytes; len 0 removes it) for keywords: an inverted index
 * of its string values, built from the records now and kept current by every
 * write (a string of another type, or a missing field, is no document).
 * Tokens, BM25 (k1 1.2, b 0.75) and fusion are described atop src/text.c.
 * Errors: VL_EINVAL, VL_ENOMEM. vl_index_text_field: the field (owned by h),
 * VL_ENOTFOUND without one. */
VL_MUST_CHECK int vl_index_set_text(vl_index *h, const char *field, uint32_t len);
VL_MUST_CHECK int vl_index_text_field(const vl_index *h, const char **field, uint32_t *len);
/* The k best documents for the query text by BM25 (filter as in
 * vl_index_search), best first, ties by ascending id: *count_out of them
 * (only documents holding a query token). Errors: VL_EINVAL (no text field,
 * k out of range, a text with no token, bad filter), VL_ENOMEM. */
VL_MUST_CHECK int vl_index_search_text(vl_index *h, const uint8_t *text, uint32_t text_len, uint32_t k,
                                       const uint8_t *filter, uint32_t filter_len,
                                       uint64_t *ids_out, float *score_out, uint32_t *count_out);
/* Hybrid: the vector search's best fetch_k and the BM25 best fetch_k (both
 * filtered) fused by weighted reciprocal rank, alpha / (60 + rank_vector) +
 * (1 - alpha) / (60 + rank_text); the k best, ties by ascending id. Per hit:
 * the fused score, the vector distance (metric distance) and the BM25 score
 * (0 without a matching token). Errors: as vl_index_search_text, plus alpha
 * outside [0, 1], not 1 <= k <= fetch_k <= VL_MAX_K, the vector search's. */
VL_MUST_CHECK int vl_index_search_hybrid(vl_index *h, const float *query, const uint8_t *text, uint32_t text_len,
                                         uint32_t k, uint32_t fetch_k, float alpha, uint32_t ef,
                                         const uint8_t *filter, uint32_t filter_len,
                                         uint64_t *ids_out, float *fused_out, float *dist_out, float *text_out,
                                         uint32_t *count_out);

/* Iterate live ids in ascending order: fills up to cap ids greater than
 * *after (or from the smallest when *after_valid is 0) into ids_out;
 * *n_out receives how many. Used for exports and JS-predicate scans. */
VL_MUST_CHECK int vl_index_ids(const vl_index *h, const uint64_t *after, uint32_t after_valid,
                               uint64_t *ids_out, uint32_t cap, uint32_t *n_out);

/* ---- Quantization (SPEC F12) ----
 * An HNSW index can keep its vectors as codes instead of float32 rows:
 *   VL_QUANT_SCALAR  one byte per dimension (int8 grid, integer kernels);
 *   VL_QUANT_PRODUCT m bytes per vector (product quantization, 256
 *                    centroids per sub-vector; m 0 = about dim / 5).
 * The quantizer trains once the index holds VL_QUANT_TRAIN_MIN (1,024) live
 * rows (until then rows are kept as float32 and searched exactly); from then
 * on the node storage holds codes only. A search walks the graph over codes,
 * then re-ranks its best candidates with the exact float32 rows, which come
 * from the row source (vl_index_set_rows; a store reads them from its file),
 * so reported distances are exact; vl_index_get reads rows the same way.
 * Without a row source a quantized index answers with approximate
 * distances and vl_index_get of a vector is VL_EINVAL.
 * vl_index_set_quant: before the first row only (VL_EINVAL otherwise, and
 * for a flat index: it has no graph to walk). */
#define VL_QUANT_NONE    0u
#define VL_QUANT_SCALAR  1u
#define VL_QUANT_PRODUCT 2u
VL_MUST_CHECK int vl_index_set_quant(vl_index *h, uint32_t kind, uint32_t m);
/* Fill out with the float32 rows of the n ids (n * dim floats): VL_OK or a
 * negative VL_E* (the search or get fails with it). */
typedef int (*vl_row_fetch_fn)(void *ctx, uint32_t n, const uint64_t *ids, float *out);
void vl_index_set_rows(vl_index *h, vl_row_fetch_fn fn, void *ctx);
typedef struct vl_quant_info {
    uint32_t kind;             /* asked: VL_QUANT_* */
    uint32_t trained;          /* 1 once codes replaced the rows */
    uint32_t code_bytes;       /* bytes per vector (0 untrained) */
    uint32_t m;                /* product: sub-vectors */
    uint64_t table_bytes;      /* the quantizer's own tables (codebook, offsets) */
    uint64_t trained_on;       /* rows it was trained on (0: adopted from a file) */
} vl_quant_info;
VL_MUST_CHECK int vl_index_quant_info(const vl_index *h, vl_quant_info *out);
/* Candidates a quantized index re-ranks per query with the float32 rows
 * (at least k; 0 = the default: for scalar codes the best k + k/4 and then,
 * of the next up to 2k + 10, those whose approximate distance less twice
 * the largest error seen could beat the k-th exact one; the whole beam
 * (ef) for product codes). Ignored by an unquantized index. */
void vl_index_set_rerank(vl_index *h, uint32_t n);

/* ---- Metadata field names ---- */

/* Get or create the field id of name (UTF-8, 1..VL_MAX_FIELD_NAME bytes). */
VL_MUST_CHECK int vl_index_field(vl_index *h, const char *name, uint32_t len,
                                 uint32_t *field_id_out);
/* Name of field id (owned by h, not NUL-terminated). Errors: VL_ENOTFOUND. */
VL_MUST_CHECK int vl_index_field_name(const vl_index *h, uint32_t field_id,
                                      const char **name, uint32_t *len);
uint32_t vl_index_field_count(const vl_index *h);

/* Evaluate a filter against one metadata record (exposed for tests and for
 * the JS predicate path). *match_out = 1 or 0. Errors: VL_EINVAL. */
VL_MUST_CHECK int vl_filter_eval(const uint8_t *filter, uint32_t filter_len,
                                 const uint8_t *rec, uint32_t rec_len, uint32_t *match_out);
/* Validate a filter program once. Errors: VL_EINVAL (with nothing else). */
VL_MUST_CHECK int vl_filter_check(const uint8_t *filter, uint32_t filter_len);

/* ---- Checks (test oracle) ---- */

/* Verify internal invariants (id map <-> nodes, link bounds, levels, no
 * self-links, entry point on the top level). VL_OK or VL_ECORRUPT with
 * vl_errmsg describing the first violation. */
VL_MUST_CHECK int vl_index_check(const vl_index *h);

/* ======================================================================
 * Stores: a durable collection in one .rvf file (src/store.c)
 * ======================================================================
 * A store joins an index (above) with the .rvf format (docs/format.md) on a
 * storage device (vl_io, io.h: memory, POSIX file, or a JS device in WASM).
 * Reads go to the in-memory index (vl_store_index); every write is
 * validated completely, committed durably (segments appended, synced, a new
 * MANIFEST appended, synced) and only then applied to the index, so a
 * write either is in the file and in memory, or in neither.
 *
 * What lives in the file:
 *   - vectors (VEC segments) and deletes (the manifest's deleted list),
 *     readable by @ruvector/rvf-node 0.2.x;
 *   - metadata records, field names, the index configuration and the
 *     caller's file metadata in META segments (0x07): one delta per
 *     commit that changes metadata, the newest deltas merged into one in
 *     tiers (binary-counter style: O(log n) META segments listed, O(n log n)
 *     bytes written for n commits), and a full snapshot at create, clear,
 *     compaction, when a merge would cover every listed META, or when the
 *     listed META outgrows twice the live metadata;
 *   - the HNSW graph in an INDEX segment (0x02), written by
 *     vl_store_checkpoint, compaction, and close when enough rows are not
 *     covered by the listed INDEX (see vl_store_close). Open loads it and
 *     inserts only the rows written after it (a crash or a close without
 *     a checkpoint costs an incremental insert, not a rebuild); an
 *     unusable INDEX is ignored and the graph rebuilt.
 *
 * Errors (besides those of the vl_index_* functions):
 *   VL_EREADONLY  write on a store opened with VL_STORE_READONLY
 *   VL_ENOTFOUND  (open) the device holds no committed store and
 *                 VL_STORE_CREATE was not given (or the device is not empty)
 *   VL_ECORRUPT   (open/verify) committed bytes are damaged
 *   VL_EVERSION   (open) the file needs a newer veclite (message names what)
 *   VL_EBUDGET    the file exceeds a hard cap of this build (compact it)
 *   VL_EIO        the device failed during a commit: the store is poisoned;
 *                 the commit was rolled back (vl_store_write_outcome says
 *                 whether that succeeded: VL_OUTCOME_NOT_WRITTEN means a
 *                 reopen never shows the failed write)
 *   VL_EFATAL     every call after a failed durable write (only
 *                 vl_store_info/errmsg/close stay meaningful): reopen the
 *                 device, which shows the last complete commit.
 * vl_store_errmsg(s) says what happened in detail.
 *
 * Ownership: the store borrows its device; the caller keeps it open until
 * vl_store_close (which never closes it) and must not write to it behind
 * the store's back. Threads: a store is not thread-safe.
 */
typedef struct vl_store vl_store;
typedef struct vl_io vl_io;   /* io.h */

#define VL_STORE_READONLY  1u   /* refuse writes (VL_EREADONLY); close writes nothing */
#define VL_STORE_CREATE    2u   /* create the store if the device is empty */

/* Scalar state of a store (vl_store_info). Fixed-width; layout published by
 * vl__wasm_consts as "storeInfo". */
typedef struct vl_store_status {
    uint64_t live;                 /* live vectors */
    uint64_t deleted;              /* ids hidden by the deleted list (rows still in the file) */
    uint64_t loaded;               /* distinct ids in the file's VEC segments (= total_vectors) */
    uint64_t bytes;                /* committed size of the file (where the next commit goes) */
    uint64_t rows_inserted_on_open;/* rows the open had to insert into the graph because no
                                      INDEX segment covered them (all rows without an INDEX) */
    uint64_t meta_generation;      /* generation of the newest META segment (0: none) */
    uint32_t epoch;                /* manifest epoch */
    uint32_t dim;
    uint32_t metric;               /* VL_METRIC_* */
    uint32_t lineage_depth;        /* 0 for a root file */
    uint32_t dir_count;            /* directory entries of the committed manifest */
    uint32_t index_loaded;         /* 1 if open loaded the graph from an INDEX segment */
    uint32_t readonly;             /* 1 if opened with VL_STORE_READONLY */
    uint32_t graph_dirty;          /* 1 if the graph changed since the last INDEX */
    uint8_t  file_id[16];
    uint8_t  parent_id[16];        /* zeros for a root file */
    uint8_t  parent_hash[32];
    /* What the open of this handle cost, in microseconds (diagnostics: 0 where
     * the build has no clock; a created store reports its create). Each
     * phase excludes the reads and hashes done inside it. */
    uint32_t open_read_us;         /* device reads (with the CRC-32 of a device that hashes as it reads) */
    uint32_t open_verify_us;       /* content hashes (CRC-32), META digests and checks */
    uint32_t open_idmap_us;        /* manifest, directory, the other listed segments' checks */
    uint32_t open_rows_us;         /* VEC rows: read into the index's slots (or inserted), their
                                      ids indexed, the deleted list applied */
    uint32_t open_graph_us;        /* INDEX decode and import (and repair, if nodes lack rows) */
    uint32_t open_meta_us;         /* metadata decoding and application */
    uint32_t open_total_us;        /* the whole open */
    uint32_t open_reserved;        /* 0 */
    uint64_t memory_bytes;         /* bytes the store holds beyond its index (vl_stats.memory_bytes):
                                      the file's directory, an entry and id-map slot per
                                      loaded id, the VEC segments' id lists, META bookkeeping */
} vl_store_status;

/* One committed directory entry (vl_store_dir). */
typedef struct vl_store_seg {
    uint64_t seg_id;
    uint64_t offset;               /* file offset of the 64-byte segment header */
    uint64_t payload_length;
    uint32_t seg_type;             /* docs/format.md §3; name: vl_store_seg_type_name */
    uint32_t reserved;
} vl_store_seg;

/* Result of vl_store_verify. */
typedef struct vl_store_verify_result {
    uint32_t ok;                   /* 1 if no problem was found */
    uint32_t problems;             /* number of problems (text: vl_store_problems) */
    uint32_t witness_entries;      /* WITNESS segments in the directory */
    uint32_t witness_intact;       /* 1 if their hash chain is unbroken from zero */
} vl_store_verify_result;

/* Open the store on io, or create it.
 *   cfg:   on create: the full configuration (dim, metric, kind, m, ef...),
 *          which is also stored in the file (META file metadata
 *          "veclite.index"). On open: NULL means "use the configuration
 *          stored in the file" (HNSW defaults for files without one); a
 *          non-NULL cfg supplies kind/m/ef_construction/ef_search/seed
 *          (0 = default) while dim and metric always come from the file
 *          (cfg->dim, if nonzero, must match: else VL_EINVAL).
 *   flags: VL_STORE_READONLY, VL_STORE_CREATE.
 *   file_id: 16 random bytes for a new file (create only; may be NULL when
 *          opening an existing store).
 * *out is closed with vl_store_close. Failures leave no handle; msg (may
 * be NULL) receives the reason. Errors: VL_EINVAL, VL_ENOTFOUND,
 * VL_ECORRUPT, VL_EVERSION, VL_EBUDGET, VL_ENOMEM, VL_EIO. */
VL_MUST_CHECK int vl_store_open(vl_io *io, const vl_config *cfg, uint32_t flags,
                                const uint8_t *file_id, vl_store **out,
                                char *msg, uint32_t msg_cap);

/* rvf-node branch() children: a child file holds its own rows and a
 * MEMBERSHIP bitmap over its parent's, in a parent file it names by a path
 * relative to its own directory (src/branch.h; store.c "rvf-node branch()
 * children" for what reads and writes do).
 * vl_store_branch_parent: the parent path a child names (NUL-terminated in
 * out[cap], length in *len); *len 0 when io is not a branch child (or holds
 * no committed state: vl_store_open says why). Reads the newest manifest and
 * the COW_MAP only. Errors: VL_EINVAL (cap too small), VL_ECORRUPT,
 * VL_EVERSION, VL_EBUDGET, VL_ENOMEM, VL_EIO.
 * vl_store_open_branch: vl_store_open with the child's parent on parent_io
 * (read once, during the call; never written; the caller may close it when
 * the call returns). parent_io NULL is vl_store_open: a branch child then
 * fails with VL_ENOTFOUND naming the parent path. A parent that is not the
 * file the child was branched from (file id, or its last 64 KiB changed):
 * VL_ECORRUPT. */
VL_MUST_CHECK int vl_store_branch_parent(vl_io *io, char *out, uint32_t cap, uint32_t *len);
VL_MUST_CHECK int vl_store_open_branch(vl_io *io, vl_io *parent_io, const vl_config *cfg, uint32_t flags,
                                       const uint8_t *file_id, vl_store **out, char *msg, uint32_t msg_cap);

/* Free everything, first writing an INDEX checkpoint if the store is
 * writable, healthy, HNSW, its graph changed, and enough live rows are not
 * covered by the listed INDEX (rows the next open would insert one by
 * one): uncovered > 0 and (uncovered * 32 >= live or uncovered >= 2048),
 * where uncovered = the live rows in VEC segments after the listed INDEX
 * (all live rows if none is listed or it was not usable at open). So a
 * short session does not rewrite the whole graph; the next open inserts
 * the uncovered rows (after a clean close fewer than min(live/32, 2048)).
 * Never closes the device.
 * Returns the checkpoint's result (the handle is freed either way; a
 * failed checkpoint loses nothing committed). NULL is a no-op (VL_OK). */
int vl_store_close(vl_store *s);

/* Result of vl_store_refresh. Fixed-width; layout published by
 * vl__wasm_consts as "storeRefresh". */
#define VL_REFRESH_UNCHANGED 0u   /* no newer commit (a torn or uncommitted tail is ignored) */
#define VL_REFRESH_APPLIED   1u   /* newer commits applied from the bytes after the handle's commit */
#define VL_REFRESH_RELOADED  2u   /* the store was reopened from its device (see vl_store_refresh) */
typedef struct vl_store_refresh_result {
    uint32_t status;               /* VL_REFRESH_* */
    uint32_t epoch;                /* manifest epoch now */
    uint64_t added;                /* APPLIED: rows upserted into the index (new, changed, re-inserted) */
    uint64_t deleted;              /* APPLIED: ids that stopped being live */
    uint64_t meta;                 /* APPLIED: ids whose metadata alone changed */
} vl_store_refresh_result;

/* Bring a read-only store to the newest commit of its file (the file's
 * writer appends commits after the one this handle opened;
 * docs/format.md §5.4). Reads only the bytes after the handle's committed
 * end (plus the 64-byte header of its own manifest, to see that the file
 * still begins with it) and the segments the new manifest lists that the
 * handle does not have; never writes, never cuts a tail. A torn or
 * uncommitted tail past the newest intact manifest is ignored. Rows,
 * deletes, metadata and field names are applied to the index in place
 * (src/store_refresh.c); when the handle's commit is no longer a prefix
 * of the device (the file was replaced, e.g. compacted, or truncated) or
 * the commit is one the incremental path does not follow (field ids
 * that differ, a reordered directory), the store is reopened from the same device
 * instead (status VL_REFRESH_RELOADED; vl_store_index(s) is still the same
 * pointer, now reading the reloaded index). Afterwards reads equal those
 * of a fresh read-only open (an HNSW graph may differ in shape, not in its rows).
 * A writable store is always current: VL_OK, status UNCHANGED.
 * vl_store_refresh_ids: the ids the last APPLIED refresh changed (which 0:
 * upserted or metadata changed; 1: deleted); copies up to cap into out
 * (may be NULL) and returns how many there are.
 * Errors (the store is unchanged): VL_ECORRUPT / VL_EVERSION / VL_EBUDGET
 * (a newly listed segment), VL_ENOMEM, VL_EIO, VL_EINVAL (NULL, or an
 * rvf-node branch() child); VL_EFATAL if poisoned, or the open's error if
 * a needed reload fails (the store is then poisoned: reopen it).
 * Threads: as every vl_store_* call (not concurrently on one handle). */
VL_MUST_CHECK int vl_store_refresh(vl_store *s, vl_store_refresh_result *out);
uint32_t vl_store_refresh_ids(const vl_store *s, uint32_t which, uint64_t *out, uint32_t cap);

/* The in-memory index, for reads only (search, get, count, ids, fields,
 * stats, vl_errmsg). Owned by s; never write to it directly (writes would
 * not be durable): use the vl_store_* writes. Never vl_index_free it.
 * Ownership: the pointer is the same for the whole life of s and valid
 * until vl_store_close(s). When a store call rebuilds the index
 * (vl_store_compact; vl_store_refresh with status VL_REFRESH_RELOADED) the
 * new index moves into this same handle, so a held pointer reads the
 * current state; what dies is what any write invalidates: records and
 * rows pointed at by earlier vl_index_get / vl_index_rows calls. */
vl_index *vl_store_index(vl_store *s);

/* Last detailed message of the store; never NULL. */
const char *vl_store_errmsg(const vl_store *s);

/* Timestamp (ns since the epoch) written into the WITNESS of the following
 * commits; NULL means 0. 64-bit values travel by pointer (docs/conventions.md §2). */
VL_MUST_CHECK int vl_store_set_time(vl_store *s, const uint64_t *now_ns);

/* Dimension-0 stores. rvf-node writes stores whose dimension is 0
 * ("unset": derive(path, {dimension: 0})): they open empty, report dim 0,
 * and take their dimension from the first insert. vl_store_set_dim fixes it
 * in memory (the caller calls it before that first upsert, with the
 * vectors' length); the next commit writes it into the MANIFEST. A store
 * that already has dimension dim: VL_OK, nothing changes.
 * Errors: VL_EINVAL (dim 0 or > VL_MAX_DIM; the store has another nonzero
 * dimension), VL_EREADONLY, VL_EFATAL. Same thread rules as the writes. */
VL_MUST_CHECK int vl_store_set_dim(vl_store *s, uint32_t dim);

/* Durable writes: same arguments, validation and semantics as the
 * vl_index_* functions. Each commits one epoch: upsert = VEC (+ META
 * records and new field names) + WITNESS + MANIFEST; set_meta = META +
 * WITNESS + MANIFEST; delete = JOURNAL + WITNESS + MANIFEST (a commit is
 * made even when nothing was live, as rvf-node does); clear = delete of
 * every live id + an empty META snapshot. n == 0 commits nothing.
 * Errors: those of vl_index_*, VL_EREADONLY, VL_EBUDGET, VL_EIO (the
 * store is now poisoned), VL_EFATAL. */
VL_MUST_CHECK int vl_store_upsert(vl_store *s, uint32_t n, const uint64_t *ids,
                                  const float *vecs, const uint8_t *meta,
                                  const uint32_t *meta_off);
/* vl_index_rows for a store: room for n rows in its index's own vector
 * storage (the capacity grows if needed; nothing else changes), valid until
 * the next call on the store. Passing it as vecs to vl_store_upsert writes
 * the batch without a staged copy: the commit encodes the VEC segment from
 * it and the index keeps it in place. A refused upsert leaves the index as
 * it was (only its capacity may have grown). Errors: VL_EREADONLY,
 * VL_EFATAL, VL_EINVAL, VL_ENOMEM. */
VL_MUST_CHECK int vl_store_rows(vl_store *s, uint32_t n, float **rows);
VL_MUST_CHECK int vl_store_set_meta(vl_store *s, uint32_t n, const uint64_t *ids,
                                    const uint8_t *meta, const uint32_t *meta_off);
VL_MUST_CHECK int vl_store_delete(vl_store *s, uint32_t n, const uint64_t *ids,
                                  uint32_t *n_deleted);
VL_MUST_CHECK int vl_store_clear(vl_store *s);

/* Get or create a metadata field id (as vl_index_field). A new name becomes
 * durable with the next commit that writes META (the first record using
 * it), so a name registered but never used may be forgotten by a crash;
 * ids of names in the file never change. Works on read-only stores (the
 * name then lives in memory only). */
VL_MUST_CHECK int vl_store_field(vl_store *s, const char *name, uint32_t len,
                                 uint32_t *field_id_out);

/* Quantization of the store's index (veclite.h "Quantization"): chosen
 * while the store has never held a row, persisted (file metadata
 * "veclite.quant"); the trained quantizer and the codes are kept in a QUANT
 * segment (type 0x06) with every graph checkpoint, so a reopen does not
 * train again; float32 rows stay in the file (rvf-node reads them) and are
 * read back for re-ranking and get. kind VL_QUANT_*, m as vl_index_set_quant.
 * Errors: VL_EINVAL (rows already stored, a branch child, a flat index, bad
 * kind/m), VL_EREADONLY, and as vl_store_file_meta_set. */
VL_MUST_CHECK int vl_store_set_quant(vl_store *s, uint32_t kind, uint32_t m);

/* The keyword-indexed text field of the store's index (vl_index_set_text):
 * chosen while the store has never held a row, persisted as file metadata
 * "veclite.text" and set again at every open: the inverted index is taken
 * from the TEXT segment (type 0x3E) that checkpoints, close and compaction
 * write when it is current, else built from the rows (src/store_text.c).
 * len 0: none. Errors: VL_EINVAL
 * (rows already stored, a branch child, a bad name), VL_EREADONLY, and as
 * vl_store_file_meta_set. */
VL_MUST_CHECK int vl_store_set_text(vl_store *s, const char *field, uint32_t len);

/* Caller's file metadata: small key/value pairs kept in META (e.g. the JS
 * layer's id kind). Keys 1..255 bytes; keys starting "veclite." are
 * reserved; values up to 1 MiB. set commits at once (META + MANIFEST);
 * val_len 0 removes the key. get points *val at bytes owned by s (valid
 * until the next write). Errors: VL_ENOTFOUND (get: no such key),
 * VL_EINVAL, VL_EREADONLY, VL_EIO, VL_EFATAL. */
VL_MUST_CHECK int vl_store_file_meta_set(vl_store *s, const char *key, uint32_t key_len,
                                         const uint8_t *val, uint32_t val_len);
VL_MUST_CHECK int vl_store_file_meta_get(const vl_store *s, const char *key, uint32_t key_len,
                                         const uint8_t **val, uint32_t *val_len);

/* Write the INDEX segment now (if the graph changed since the last one;
 * flat indexes have none), and the TEXT segment of a store with a text
 * field when the listed one is stale. Commits INDEX/QUANT/TEXT + MANIFEST
 * (no WITNESS: they are caches, not data). Errors: VL_EREADONLY, VL_EIO, VL_EFATAL, VL_ENOMEM. */
VL_MUST_CHECK int vl_store_checkpoint(vl_store *s);

/* Write a compacted image of the committed state into dst (an empty
 * device): live rows only, a full META snapshot, the INDEX of a graph
 * without deleted nodes (tombstones removed and their neighbours re-linked
 * from the survivors), witnesses and unknown segments carried forward, a
 * "compact:" WITNESS, MANIFEST epoch+1. compact then moves the store onto
 * dst (the caller swaps the files and closes the old device); snapshot
 * leaves the store on its device (export/snapshot()). On failure the store
 * is unchanged and still usable (dst holds garbage), except VL_EFATAL: out
 * of memory once compact had moved the store to dst (whose image is then
 * complete); the store is poisoned (reads of a quantized store's rows, and
 * every write, fail): close it and reopen a device.
 * Ownership: neither call frees a handle the caller holds. compact may
 * replace the in-memory index by the compacted graph: it moves into the
 * handle vl_store_index(s) returned, which stays valid and current (see
 * vl_store_index); metadata pointers from earlier vl_index_get calls are
 * invalid afterwards, as after any write. Devices stay the caller's: after
 * compact s uses dst (close it after vl_store_close(s)) and no longer
 * touches the old device.
 * Errors: VL_EINVAL (dst not empty), VL_EREADONLY (compact only),
 * VL_ECORRUPT, VL_ENOMEM, VL_EIO, VL_EFATAL. */
VL_MUST_CHECK int vl_store_compact(vl_store *s, vl_io *dst);
VL_MUST_CHECK int vl_store_snapshot(vl_store *s, vl_io *dst);

/* Create a child store on the empty device child (docs/format.md §6 derive):
 * lineage (parent id/hash, depth + 1), same dimension, metric and index
 * configuration, no vectors, the parent's field names. *out as from
 * vl_store_open (writable). Errors: as vl_store_open, VL_EFATAL. */
VL_MUST_CHECK int vl_store_derive(vl_store *s, vl_io *child, const uint8_t *file_id,
                                  vl_store **out);

/* State, directory, and checks. */
VL_MUST_CHECK int vl_store_info(const vl_store *s, vl_store_status *out);
/* Directory entry i (0 <= i < info.dir_count). VL_EINVAL if out of range. */
VL_MUST_CHECK int vl_store_dir(const vl_store *s, uint32_t i, vl_store_seg *out);
/* "vec", "index", "journal", "manifest", "meta", "witness", ... or "unknown". */
const char *vl_store_seg_type_name(uint32_t seg_type);
/* Re-read the whole committed state from the device and compare it with
 * memory: every segment hash, META digests and generation chain, the INDEX
 * (if any) against hard caps and graph invariants, the live ids and their
 * vectors and metadata, the witness chain, vl_index_check. Problems are
 * reported in *out and vl_store_problems (one per line), not as errors.
 * Errors: VL_ENOMEM, VL_EIO, VL_EFATAL. */
VL_MUST_CHECK int vl_store_verify(vl_store *s, vl_store_verify_result *out);
/* Problems found by the last vl_store_verify, one per line ("" if none). */
const char *vl_store_problems(const vl_store *s);
/* VL_OUTCOME_* of the last failed write of s (VL_OUTCOME_NONE if none). */
int vl_store_write_outcome(const vl_store *s);
/* Check that the device img holds exactly the committed image of s: the
 * bytes from 0 to where the next commit goes (status bytes), with the same
 * committed manifest, every listed segment hash-verified (export() checks
 * what it returns with this). Errors: VL_ECORRUPT (the message says what
 * differs), VL_ENOMEM, VL_EFATAL. */
VL_MUST_CHECK int vl_store_check_image(vl_store *s, vl_io *img);

/* ---- Toolbox: similarity matrix and k-means (toolbox.c) ----
 * Both give the same results in the scalar and SIMD builds (toolbox.h). */
#define VL_KMEANS_PLUSPLUS   0u      /* k-means++ initialization (D^2 sampling) */
#define VL_KMEANS_RANDOM     1u      /* k distinct random rows */
#define VL_KMEANS_MAX_ITER   100000u

/* Scores of every pair (a[i], b[j]) into out[i * nb + j] (na x nb floats, the
 * caller's): metric VL_METRIC_COSINE -> cos in [-1, 1], VL_METRIC_DOT -> dot,
 * VL_METRIC_L2 -> 1 / (1 + L2) — the scores of the JS search API. na or nb 0:
 * VL_OK, nothing written. Errors: VL_EINVAL (dim 0 or > VL_MAX_DIM, unknown
 * metric, a non-finite value, a zero row under cosine; out untouched),
 * VL_ENOMEM. Thread-safe (no shared state). */
VL_MUST_CHECK int vl_sim_matrix(uint32_t metric, uint32_t dim, uint32_t na, const float *a,
                                uint32_t nb, const float *b, float *out);

/* k-means (Lloyd) of n rows into k clusters (1 <= k <= n), metric VL_METRIC_L2
 * or VL_METRIC_COSINE (rows normalized, centroids renormalized), init
 * VL_KMEANS_*, at most max_iter (<= VL_KMEANS_MAX_ITER) updates, stopping
 * early when no row changes cluster or the centroids move by at most
 * tolerance (>= 0) x the mean per-dimension variance. *seed fixes every
 * random choice. Writes centroids_out (k x dim), assign_out (n), sizes_out
 * (k rows per cluster) and info_out[4] = { inertia (sum of squared L2, or of
 * 1 - cos), updates run, empty clusters re-seeded, clusters empty at the end }.
 * Errors: VL_EINVAL (bad argument, a non-finite value, a zero row under
 * cosine, k > n; nothing written), VL_ENOMEM. Thread-safe. */
VL_MUST_CHECK int vl_kmeans(uint32_t metric, uint32_t dim, uint32_t n, const float *x, uint32_t k,
                            uint32_t max_iter, uint32_t init, const uint64_t *seed, double tolerance,
                            float *centroids_out, uint32_t *assign_out, uint32_t *sizes_out,
                            double *info_out);

/* ---- Distance kernels (selected at compile time; see dist.c) ---- */
/* L2 squared, dot product, and cosine distance (1 - cos) of two dim-vectors. */
float vl_dist_l2sq(const float *a, const float *b, uint32_t dim);
float vl_dist_dot(const float *a, const float *b, uint32_t dim);
float vl_dist_cos(const float *a, const float *b, uint32_t dim);
/* f64-accumulated reference kernels: the test oracle. */
double vl_dist_l2sq_accurate(const float *a, const float *b, uint32_t dim);
double vl_dist_dot_accurate(const float *a, const float *b, uint32_t dim);
double vl_dist_cos_accurate(const float *a, const float *b, uint32_t dim);

#ifdef __cplusplus
}
#endif
#endif /* VECLITE_H */
