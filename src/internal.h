/*
 * internal.h — private declarations shared by the C core files (not part of
 * the public API; never included by callers of veclite.h).
 *
 * vl_index stays opaque here: its layout is in index.h, which only the
 * index's own files (index.c, hnsw.c, meta.c, filter.c) include. Other
 * layers reach an index through veclite.h and the vl__index_* accessors
 * below.
 */
#ifndef VL_INTERNAL_H
#define VL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include "veclite.h"
#include "dist.h"
#include <string.h>

/* VL_PER_ITEM: the open's long walks (INDEX nodes: store_index.c decode_node;
 * META records: store_meta.c record_fields; graph import: index.c
 * import_node) do each item's work in a function of its own, called through
 * a volatile function pointer. A WebAssembly engine optimises a function
 * between calls, never the loop that is running, so a walk written as one
 * loop runs a whole 100K-node store in baseline code; and the WebAssembly
 * optimiser (binaryen) inlines a function with a single call site whatever
 * C attributes say, which the pointer prevents. */

/* 1 if every component is finite (no NaN, no infinity). The test is on the
 * exponent bits with integer ORs, which have no order to keep: the loop
 * vectorises and has no floating-point dependency chain. */
static inline int vl__all_finite(const float *v, uint32_t dim)
{
    uint32_t bad = 0;
    for (uint32_t j = 0; j < dim; j++) {
        uint32_t u;
        memcpy(&u, &v[j], 4);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

/* Copy one vector (dst == src allowed, no other overlap). Emscripten 3.1.6's
 * memcpy hands every copy of 512 bytes or more to JavaScript
 * (emscripten_memcpy_big: a call out of WebAssembly per copy), and a
 * 128-dimension f32 vector is exactly 512 bytes: pieces under that size
 * keep vector copies inside WebAssembly. Natively it is plain memcpy. */
static inline void vl__vcopy(float *dst, const float *src, uint32_t dim)
{
    if (dst == src) return;
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    size_t n = (size_t)dim * sizeof(float);
    for (; n > 256; n -= 256, d += 256, s += 256) memcpy(d, s, 256);
    memcpy(d, s, n);
}

#define VL_MAX_LEVEL 31u          /* cap on random HNSW levels (p < 1e-14 for M=16) */
#define VL_NO_NODE   UINT32_MAX

/* ---- allocation wrappers (mem.c): one place for the failure test hook ---- */
void *vl_mem_alloc(size_t n);
void *vl_mem_calloc(size_t n, size_t size);
void *vl_mem_realloc(void *p, size_t n);
/* realloc for a large block that keeps growing: tries to extend it in place
 * first (see mem.c); NULL on failure (p untouched). */
void *vl_mem_grow(void *p, size_t n);
void  vl_mem_free(void *p);
/* Byte trace (mem.c; tests and diagnostics, process-wide): usable bytes the
 * engine holds now, the highest value since the last reset (a realloc that
 * moves counts old and new at once), and reset of the peak to the current
 * value. 0 where the C library has no malloc_usable_size. */
uint64_t vl__mem_live(void);
uint64_t vl__mem_peak(void);
void     vl__mem_peak_reset(void);
/* Grow WebAssembly memory once so about `bytes` more can be allocated
 * without further growth steps (mem.c "Heap sizing"); a hint, never fails. */
void     vl__mem_expect(uint64_t bytes);
/* A monotonic clock in nanoseconds (0 where there is none), for the cost
 * figures an open reports (vl_store_status.open_*_us); never for behaviour. */
uint64_t vl__clock_ns(void);
/* Test hook: the next `n` allocations succeed, every later one fails
 * (returns NULL) until called again; n < 0 disables (the default). */
void  vl__test_alloc_fail_after(int32_t n);
/* Test hook (index.c): plan of filtered searches: 0 automatic (default),
 * 1 always traverse the graph (HNSW), 2 always scan exactly, 3 scan exactly
 * evaluating the filter per node instead of column-wise. */
void  vl__test_filter_plan(int32_t mode);

/* ---- id map (idmap.c): open addressing, linear probing, backward-shift delete ---- */
typedef struct vl_idmap {
    uint64_t *keys;
    uint32_t *vals;      /* VL_NO_NODE marks an empty slot */
    uint32_t cap;        /* power of two, or 0 */
    uint32_t count;
} vl_idmap;

uint32_t vl_idmap_get(const vl_idmap *m, uint64_t key);          /* VL_NO_NODE if absent */
/* Make room for `extra` more keys without failing later inserts. VL_OK / VL_ENOMEM. */
int      vl_idmap_reserve(vl_idmap *m, uint32_t extra);
void     vl_idmap_put(vl_idmap *m, uint64_t key, uint32_t val);   /* needs reserved room */
/* key's value if present (nothing changes), else key -> val is added and
 * VL_NO_NODE returned: get + put in one probe. Needs reserved room. */
uint32_t vl_idmap_get_or_put(vl_idmap *m, uint64_t key, uint32_t val);
int      vl_idmap_del(vl_idmap *m, uint64_t key);                 /* 1 if removed */
void     vl_idmap_free(vl_idmap *m);
uint64_t vl_idmap_bytes(const vl_idmap *m);

/* ---- (distance, node slot) pairs: search heaps, graph re-selection ---- */
typedef struct vl_pair { float d; uint32_t id; } vl_pair;            /* id = node slot */

/* VL_COLD marks a function off the search and open paths (checkpoint encoding,
 * compaction, export) that lives in a file whose hot loops are compiled -O3:
 * in the WebAssembly builds it is compiled for size (clang's minsize), as the
 * Makefile's WASM_COLD files are, to keep each build in its size target. */
#if defined(__wasm__) && defined(__clang__)
#define VL_COLD __attribute__((minsize, cold))
#else
#define VL_COLD
#endif

/* errmsg helper (index.c); h may be const at the call site: the message
 * buffer is the one logically mutable part of a handle. */
void vl__msg(const vl_index *h, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* index.c: new dimension for an index that never held a row (VL_EINVAL
 * otherwise). Used by vl_store_set_dim for dimension-0 stores. */
int vl__index_set_dim(vl_index *h, uint32_t dim);

/* ---- the index seen from other layers (index.c): read-only accessors ----
 * The store layer (store*.c) reads an index only through veclite.h and
 * these; none fails, h must be a valid handle. Node slots 0..nodes-1 hold
 * live nodes and tombstones (deleted or superseded copies, kept for HNSW
 * routing); slot numbers and returned pointers are valid until the next
 * write to h. */
uint32_t vl__index_kind(const vl_index *h);          /* VL_INDEX_FLAT / VL_INDEX_HNSW */
uint32_t vl__index_dim(const vl_index *h);
uint32_t vl__index_metric(const vl_index *h);
uint32_t vl__index_M(const vl_index *h);             /* HNSW links per upper layer */
uint32_t vl__index_efc(const vl_index *h);           /* ef_construction in force */
uint64_t vl__index_meta_bytes(const vl_index *h);    /* bytes of metadata records held */
/* Field f's name (f < vl_index_field_count(h)), not NUL-terminated, length in *len. */
const char *vl__index_field_name(const vl_index *h, uint32_t f, uint32_t *len);
/* dst continues src's level RNG stream (the state is copied; src keeps its
 * own), so a rebuilt index draws the levels the replaced one would have. */
void vl__index_copy_rng(vl_index *dst, const vl_index *src);
/* h takes over src's contents and keeps its own address, so a pointer to h
 * a caller holds (vl_store_index) stays valid and now reads the new index;
 * h's old contents and the src handle are freed (src must not be used
 * again). Pointers into h's old storage (vl_index_get records, vl_index_rows)
 * die with them, as after a write. */
void vl__index_replace(vl_index *h, vl_index *src);
uint32_t vl__index_nodes(const vl_index *h);
uint64_t vl__index_node_id(const vl_index *h, uint32_t node);
int      vl__index_node_dead(const vl_index *h, uint32_t node);   /* 1: tombstone */
const float *vl__index_node_vec(const vl_index *h, uint32_t node);   /* dim floats */
/* node's metadata record, *len bytes; NULL (and *len 0) when it has none */
const uint8_t *vl__index_node_meta(const vl_index *h, uint32_t node, uint32_t *len);
uint32_t vl__index_live_node(const vl_index *h, uint64_t id);   /* VL_NO_NODE if not live */
/* HNSW graph: entry point (VL_NO_NODE when empty), every node's top layer
 * (nodes entries), and node's list on layer l <= its level: { cnt, cnt
 * neighbour slots }. */
uint32_t vl__index_entry(const vl_index *h);
const uint8_t *vl__index_levels(const vl_index *h);
const uint32_t *vl__index_links(const vl_index *h, uint32_t node, uint32_t l);

/* ---- metadata (meta.c) ---- */
/* Validate one record. n_fields_known: field ids must be < it (UINT32_MAX:
 * any id). h (may be NULL) supplies the duplicate-detection stamps; without
 * it duplicates are not checked. On error writes a reason into why[why_len]. */
int vl__meta_validate(vl_index *h, const uint8_t *rec, uint32_t len,
                      uint32_t n_fields_known, char *why, size_t why_len);
uint64_t vl__fields_bytes(const vl_index *h);
/* A decoded metadata value. */
typedef struct vl_value {
    uint8_t tag;
    const uint8_t *p;        /* payload: 8 bytes for numbers, len bytes for STR/BYTES/JSON */
    uint32_t len;
} vl_value;
/* Find field `fid` in a valid record; 1 if present (v filled), 0 if absent. */
int vl__meta_find(const uint8_t *rec, uint32_t len, uint32_t fid, vl_value *v);
/* Decode one value of `tag` at p (bounds-checked against end); returns bytes
 * consumed (0 for NULL) or UINT32_MAX on error. Also validates BOOL and UTF-8. */
uint32_t vl__value_decode(uint8_t tag, const uint8_t *p, const uint8_t *end, vl_value *v);
int vl__utf8_valid(const uint8_t *s, uint32_t len);
/* One LEB128 varint at p[*o..end) (store_index.c): 1 and *v (*o past it),
 * or 0 when truncated or over 64 bits. */
int vl__varint_get(const uint8_t *p, uint64_t end, uint64_t *o, uint64_t *v);

/* ---- JSON text (json.c): filter paths and $contains ---- */
/* A vl_value tag that never reaches a record or a program: the bytes between
 * the quotes of a JSON string that holds escapes (decoded while compared). */
#define VL_TAG_JSTR 0x40
/* Past the one JSON value at p (leading whitespace skipped), or NULL if it is
 * malformed or nested deeper than VL_JSON_MAX_DEPTH. Never reads at/after end. */
const uint8_t *vl__json_skip(const uint8_t *p, const uint8_t *end);
/* The value at path (nseg x { u16 len | bytes }, as VL_F_PATH) inside the JSON
 * text s[0..len): 1 and *v (numbers decoded into num[8]), or 0 when there is
 * none or the text is malformed. */
int vl__json_path(const uint8_t *s, uint32_t len, const uint8_t *path, uint32_t nseg,
                  vl_value *v, uint8_t num[8]);
/* Whether the JSON text is an array with a scalar element for which fn is
 * nonzero (0 for malformed text or a non-array). */
int vl__json_array_any(const uint8_t *s, uint32_t len,
                       int (*fn)(const vl_value *elem, const void *ctx), const void *ctx);
/* Bytewise order of two strings, each VL_TAG_STR or VL_TAG_JSTR: -1, 0, 1. */
int vl__str_cmp(const vl_value *a, const vl_value *b);
/* Whether needle (STR) occurs in hay (STR or JSTR), bytewise. */
int vl__str_find(const vl_value *hay, const vl_value *needle);


/* ---- graph import (index.c; used by the store layer, store_index.c) ----
 * A graph in a flat, position-independent form: node i's per-layer lists
 * (layers 0..level[i], each { cnt, cnt neighbour indexes }) are adj[off[i]
 * .. off[i+1]). */
typedef struct vl_graph {
    uint32_t n, M, M0;
    uint32_t entry;          /* VL_NO_NODE when n == 0 */
    uint32_t max_level;
    uint8_t  *level;         /* n */
    uint32_t *off;           /* n + 1 */
    uint32_t *adj;
} vl_graph;
void vl__graph_free(vl_graph *g);
/* Make the EMPTY HNSW index h hold g's nodes with their links: node i gets
 * ids[i], the vector vecs[i*dim..], dead[i] (1 = routing tombstone, never
 * returned). g must satisfy the graph invariants (levels <= VL_MAX_LEVEL,
 * counts <= M/M0, neighbours < n of sufficient level, no self links or
 * duplicates, entry on max_level); they are re-checked here, as are the
 * vectors (finite; non-zero under cosine) and that live ids are distinct.
 * decoded: g is exactly what vl__index_decode returned, which checked the same
 * graph invariants; they are not walked again (the dead flags still are);
 * and vecs are the slots (vl__index_slots) the caller filled with vectors it
 * checked the same way (finite; non-zero under cosine): under L2 and dot
 * they are not read again (under cosine their norms still are).
 * Errors: VL_EINVAL (h not empty/HNSW, g->M != h's M, a check failed;
 * message in vl_errmsg), VL_ENOMEM. On error h is left empty. Imported node
 * i is node i of h. */
int vl__index_import(vl_index *h, const vl_graph *g, const uint64_t *ids, const float *vecs,
                     const uint8_t *dead, int decoded);
/* Give live node `node` a copy of the record rec (len > 0 bytes) that the
 * caller has already validated for h (vl__meta_validate): vl_index_set_meta
 * without its per-call checks, id lookups and batch copies, for an open that
 * applies one record per imported node. VL_EINVAL (bad node, dead, empty),
 * VL_ENOMEM. */
int vl__index_meta_adopt(vl_index *h, uint32_t node, const uint8_t *rec, uint32_t len);
/* An open's record buffer as the index's metadata arena (h takes it: freed
 * with h's nodes; VL_EINVAL if h has one), then vl__index_meta_borrow gives
 * a live node a record that lies in it without a copy (as
 * vl__index_meta_adopt otherwise; VL_EINVAL also when rec is not inside). A
 * borrowed record is never freed alone; the arena's bytes that live records
 * no longer use count in vl_stats.memory_bytes. */
int vl__index_meta_arena(vl_index *h, uint8_t *arena, uint64_t len);
int vl__index_meta_borrow(vl_index *h, uint32_t node, const uint8_t *rec, uint32_t len);
/* The vector slots of the EMPTY HNSW index h, reserved for n nodes: node i's
 * vector goes at [i*dim..]. A caller that fills them and passes the same
 * pointer as vecs to vl__index_import has every vector copied once (from
 * the file into its node). NULL when h is not an empty HNSW index, n is 0,
 * or out of memory. The slots stay valid until h changes. */
float *vl__index_slots(vl_index *h, uint32_t n);
/* In-place import: what vl__index_import does with a decoded graph, with the
 * graph decoded straight into h's own link arrays (no vl_graph in between).
 * The caller filled the n slots (vl__index_slots) with checked vectors, then:
 * vl__index_place_begin (h empty HNSW with >= n slots; VL_EINVAL, VL_ENOMEM);
 * per node vl__index_place_level (its level: room for its upper layers;
 * VL_ENOMEM) and writes each layer l <= level at vl__index_place_links
 * (count, then the count links: room for M0 / M links); after every node,
 * the caller proves the graph invariants (as vl__index_decode) and calls
 * vl__index_place_end (ids, dead flags, entry, top level: as
 * vl__index_import; on error h is left empty), or vl__index_place_abort
 * (h left empty) when it gives up. */
int vl__index_place_begin(vl_index *h, uint32_t n);
int vl__index_place_level(vl_index *h, uint32_t i, uint32_t level);
uint32_t *vl__index_place_links(vl_index *h, uint32_t i, uint32_t l);
void vl__index_place_abort(vl_index *h, uint32_t n);
int vl__index_place_end(vl_index *h, uint32_t n, const uint64_t *ids, const uint8_t *dead, uint32_t entry,
                        uint32_t max_level);

/* Quantization, for the store (index_quant.c; quant.h). */
struct vl_quant;
const struct vl_quant *vl__index_quant(const vl_index *h);     /* trained quantizer or NULL */
const uint8_t *vl__index_node_code(const vl_index *h, uint32_t node);
uint32_t vl__index_quant_kind(const vl_index *h);              /* asked: VL_QUANT_* */
uint32_t vl__index_quant_m(const vl_index *h);
/* Ask for a quantizer whatever the rows (untrained index only: the store
 * at open, before it adopts the persisted one), and train it now if the
 * index has enough rows. */
void vl__index_quant_ask(vl_index *h, uint32_t kind, uint32_t m);
void vl__index_quant_train_now(vl_index *h);
/* Node's vector: its row, or for a quantized index the vector its code
 * stands for (decoded into buf, dim floats; approximate). */
const float *vl__index_node_f32(const vl_index *h, uint32_t node, float *buf);
/* Adopt a quantizer (loaded from a QUANT segment) for an index whose rows
 * are loaded: index.h vl__index_to_codes. */
int vl__index_adopt_quant(vl_index *h, struct vl_quant *qz,
                          const uint8_t *(*code_for)(void *ctx, uint64_t id), void *ctx);

#endif /* VL_INTERNAL_H */
