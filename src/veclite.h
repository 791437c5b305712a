/*
 * veclite.h — the whole public C API of the veclite engine.
 *
 * veclite is an embedded vector database. This header is the only contract
 * between the C core (the .c files in src/) and its callers: the native test table
 * (tests/unit/), the fuzzers (tests/fuzz/) and the WebAssembly glue
 * (src/wasm.c, used by web/bind.js).
 *
 * Conventions (see STYLE.md §2):
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
 *   per record. Tags 1..6 match the META segment types of FORMAT.md §4.
 *
 * Filters are a prefix-encoded expression tree (built by web/filter.js):
 *     VL_F_TRUE   0
 *     VL_F_AND    1  u16 n | n x expr
 *     VL_F_OR     2  u16 n | n x expr
 *     VL_F_NOT    3  expr
 *     VL_F_EXISTS 4  u16 field_id                 (field present, any tag)
 *     VL_F_CMP    5  u8 cmp | u16 field_id | u8 tag | value
 *     VL_F_IN     6  u16 field_id | u16 n | n x { u8 tag | value }
 *   cmp: VL_CMP_EQ 0, NE 1, LT 2, LE 3, GT 4, GE 5.
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

/* ---- Metrics (values equal the .rvf MANIFEST metric byte, FORMAT.md §4) ---- */
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

/* ---- Metadata tags, filter opcodes, comparison operators ---- */
enum { VL_TAG_NULL = 0, VL_TAG_STR = 1, VL_TAG_BYTES = 2, VL_TAG_I64 = 3,
       VL_TAG_U64 = 4, VL_TAG_F64 = 5, VL_TAG_BOOL = 6, VL_TAG_JSON = 7 };
enum { VL_F_TRUE = 0, VL_F_AND = 1, VL_F_OR = 2, VL_F_NOT = 3,
       VL_F_EXISTS = 4, VL_F_CMP = 5, VL_F_IN = 6 };
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

/* Replace only the metadata of existing ids (vectors untouched).
 * Errors: VL_ENOTFOUND (an id absent; nothing changed), VL_EINVAL, VL_ENOMEM. */
VL_MUST_CHECK int vl_index_set_meta(vl_index *h, uint32_t n, const uint64_t *ids,
                                    const uint8_t *meta, const uint32_t *meta_off);

/* Delete n ids. Absent ids are ignored. *n_deleted receives how many were live.
 * A deleted id disappears from search/get/count at once; in HNSW its node
 * stays as a routing tombstone so the graph remains navigable. */
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

/* Iterate live ids in ascending order: fills up to cap ids greater than
 * *after (or from the smallest when *after_valid is 0) into ids_out;
 * *n_out receives how many. Used for exports and JS-predicate scans. */
VL_MUST_CHECK int vl_index_ids(const vl_index *h, const uint64_t *after, uint32_t after_valid,
                               uint64_t *ids_out, uint32_t cap, uint32_t *n_out);

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
