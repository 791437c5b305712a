/*
 * test.h — the C unit-test table (docs/conventions.md §10): one table, two runs
 * (native clang under ASan+UBSan via `make build/test-native`, and emcc
 * under Node via build/unit-{scalar,simd}.mjs driven by tests/js/).
 *
 * Each test is `int test_<name>(void)` returning 0 on pass; VL_TESTS below
 * is the table (main.c expands it). Checks print file:line, the expression
 * and, for return codes, vl_errstr(rc), then fail the test. Every dataset is
 * generated from a fixed seed; expected answers come from brute force over
 * the f64 _accurate kernels, never from the code under test.
 *
 * Exports: vl_test_count / vl_test_name / vl_test_run (0 = pass), plus a
 * main() when VL_TEST_WASM is not defined (prints one line per test and
 * "N passed, N failed"; exit status 1 on any failure).
 */
#ifndef VL_TEST_H
#define VL_TEST_H

#include <stdint.h>
#include <stdio.h>
#include "veclite.h"

#define VL_TESTS(X) \
    X(errstr_isa) \
    X(dist_kernels) \
    X(dist_simd_vs_scalar) \
    X(config_validation) \
    X(idmap_churn) \
    X(flat_l2_exact) \
    X(flat_dot_exact) \
    X(flat_cos_exact) \
    X(flat_ties_by_id) \
    X(bad_input_untouched) \
    X(get_contains_ids) \
    X(clear_and_stats) \
    X(upsert_replaces) \
    X(batch_duplicates) \
    X(meta_records) \
    X(meta_set_and_get) \
    X(fields_registry) \
    X(filter_ops) \
    X(filter_numbers_exact) \
    X(filter_malformed) \
    X(filter_depth) \
    X(filter_contains_path) \
    X(filter_json_hostile) \
    X(filter_path_malformed) \
    X(filter_json_evaluators_agree) \
    X(io_mem) \
    X(io_mem_fail_after) \
    X(alloc_failure_unchanged) \
    X(hnsw_recall_l2) \
    X(hnsw_recall_cos_dot) \
    X(hnsw_reproducible) \
    X(hnsw_incremental_vs_batch) \
    X(hnsw_upsert_tombstones) \
    X(hnsw_delete_half) \
    X(hnsw_delete_all_reinsert) \
    X(hnsw_filter_selective) \
    X(hnsw_filter_ef_small) \
    X(filter_columns_follow_writes) \
    X(filter_evaluators_agree) \
    X(hnsw_reclaim_churn) X(hnsw_reclaim_same_ids) X(hnsw_reclaim_nomem) X(hnsw_reclaim_columns) X(mem_build_peak) X(index_rows) \
    X(rvf_crc32) X(rvf_sha256) X(rvf_header_fold32) X(rvf_golden) X(rvf_golden_truncate) \
    X(rvf_roundtrip) X(rvf_truncate_every_offset) X(rvf_bitflip) X(rvf_hostile) \
    X(rvf_unknown_segments) X(rvf_directory_bounded) X(rvf_compact) X(rvf_compact_defer_ids) X(rvf_derive_and_bytes) \
    X(rvf_write_failures) X(rvf_failed_means_failed) X(rvf_check_image) X(rvf_nomem) X(rvf_large_segments) X(rvf_streamed_payloads) X(rvf_branch) \
    X(index_encode_live) X(index_decode_hostile_links) X(index_encode_live_variants) X(store_meta_codec) X(store_roundtrip) X(store_flat) X(store_crash_incremental) \
    X(store_truncate_every_offset) X(store_corruption) X(store_write_failures) X(store_failed_means_failed) X(store_readonly_verify_image) \
    X(store_compact) X(store_compact_nomem) X(store_meta_relisted) X(store_meta_forced_snapshot_faults) X(store_meta_hostile_orders) X(store_derive_readonly) X(store_meta_chain_bounded) \
    X(store_rvf_node_files) X(store_hostile_segments) X(rvf_many_commits) \
    X(rvf_merge_model) X(rvf_witness_walk) X(rvf_crash_tail) X(rvf_index_barrier) X(store_close_checkpoint_policy) \
    X(store_index_outlives_rows) X(store_meta_tiered_growth) X(store_meta_tiered_model) \
    X(store_meta_tiered_truncate) X(store_dim_zero) X(store_refresh) X(store_index_handle_stable) \
    X(quant_kernels) X(quant_codes) X(quant_pq_train) X(quant_index) X(quant_store) X(quant_refresh_reload) \
    X(quant_attack_stale) X(quant_attack_hostile) X(quant_attack_file_meta) X(quant_attack_truncate) X(quant_attack_read_fail) X(quant_attack_emptied) X(quant_attack_derive) X(quant_attack_tiny_queries) X(quant_attack_encode_nomem) \
    X(toolbox_sim_matrix) X(toolbox_sim_bad_input) X(toolbox_kmeans) X(toolbox_kmeans_edges) \
    X(mmr_rules) X(text_index) X(text_churn) X(text_store_adopt) X(text_store_hostile)

#define VL_DECL(name) int test_##name(void);
VL_TESTS(VL_DECL)
#undef VL_DECL

int vl_test_count(void);
const char *vl_test_name(int i);
int vl_test_run(int i);

/* ---- checks ---- */
#define CHECK(expr)                                                                  \
    do {                                                                             \
        if (!(expr)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr);  \
            return 1;                                                                \
        }                                                                            \
    } while (0)

#define CHECK_RC(expr, want)                                                         \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        if (rc_ != (want)) {                                                         \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s\n", __FILE__,    \
                    __LINE__, #expr, rc_, vl_errstr(rc_), #want);                     \
            return 1;                                                                \
        }                                                                            \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, VL_OK)

/* Like CHECK_RC but also prints the handle's detailed message. */
#define CHECK_RCH(h, expr, want)                                                     \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        if (rc_ != (want)) {                                                         \
            fprintf(stderr, "%s:%d: %s returned %d (%s: %s), expected %s\n", __FILE__,\
                    __LINE__, #expr, rc_, vl_errstr(rc_), vl_errmsg(h), #want);       \
            return 1;                                                                \
        }                                                                            \
    } while (0)

/* ---- helpers (helpers.c) ---- */
uint64_t t_rand(uint64_t *s);                 /* splitmix64 */
double   t_unif(uint64_t *s);                 /* [0,1) */
double   t_gauss(uint64_t *s);
void    *t_alloc(size_t n);                   /* aborts on failure (tests only) */
/* n x dim clustered dataset: `clusters` gaussian blobs (std dev sigma per
 * component) around centres uniform in [-1,1]^dim. */
float   *t_clustered(uint32_t n, uint32_t dim, uint32_t clusters, double sigma, uint64_t seed);
/* nq queries: random rows of x plus gaussian noise. */
float   *t_queries(const float *x, uint32_t n, uint32_t dim, uint32_t nq, double noise,
                   uint64_t seed);
/* Metric distance as the API reports it, from the f64 _accurate kernels. */
double   t_dist(uint32_t metric, const float *a, const float *b, uint32_t dim);
/* Brute-force top-k over rows where keep==NULL or keep[i]: writes row
 * indices ordered by (accurate distance, ids[row]) and returns the count. */
uint32_t t_oracle(uint32_t metric, const float *data, const uint64_t *ids, const uint8_t *keep,
                  uint32_t n, uint32_t dim, const float *q, uint32_t k, uint32_t *rows_out,
                  double *dist_out);
/* 0 if (got_ids, got_d, got_n) is an exact top-k: same count as the oracle,
 * each rank's true distance equal to the oracle's at that rank (within float
 * rounding, so exact ties may swap), reported distances right, order by
 * (distance, id). Prints the first difference. */
int      t_match_oracle(uint32_t metric, const float *data, const uint64_t *ids,
                        const uint8_t *keep, uint32_t n, uint32_t dim, const float *q,
                        uint32_t k, const uint64_t *got_ids, const float *got_d,
                        uint32_t got_n);
/* |got ∩ want| / want_n over ids. */
double   t_recall(const uint64_t *got, uint32_t got_n, const uint64_t *want, uint32_t want_n);
/* A new index or NULL (prints why). */
vl_index *t_index(uint32_t dim, uint32_t metric, uint32_t kind, uint32_t m, uint32_t efc,
                  uint64_t seed);
/* Record builder: fields appended to buf; returns new length. */
uint32_t t_rec_begin(uint8_t *buf);                         /* writes n_fields = 0 */
uint32_t t_rec_i64(uint8_t *buf, uint32_t len, uint16_t fid, int64_t v);
uint32_t t_rec_u64(uint8_t *buf, uint32_t len, uint16_t fid, uint64_t v);
uint32_t t_rec_f64(uint8_t *buf, uint32_t len, uint16_t fid, double v);
uint32_t t_rec_str(uint8_t *buf, uint32_t len, uint16_t fid, uint8_t tag, const char *s,
                   uint32_t slen);
uint32_t t_rec_bool(uint8_t *buf, uint32_t len, uint16_t fid, int v);
uint32_t t_rec_null(uint8_t *buf, uint32_t len, uint16_t fid);
void     t_put16(uint8_t *p, uint16_t v);
void     t_put32(uint8_t *p, uint32_t v);
void     t_put64(uint8_t *p, uint64_t v);
/* How many listed segments of type the store's directory has; the last
 * one's offset and payload length in *off, *len. */
uint32_t t_store_segs(vl_store *s, uint32_t type, uint64_t *off, uint64_t *len);

/* Filtered searches (k = n, ids 0..n-1 = rows) under each plan plan_lo..plan_hi
 * (vl__test_filter_plan) return exactly the rows vl_filter_eval accepts for
 * meta[off[i]..off[i+1]); 0 if so (*matches: how many), else prints and 1. */
int      t_filter_plans_agree(vl_index *h, const float *q, uint32_t n, const uint8_t *meta,
                              const uint32_t *off, const uint8_t *prog, uint32_t plen,
                              int plan_lo, int plan_hi, uint32_t *matches);

/* Test hooks of the core: allocation failure (src/mem.c) and the plan of
 * filtered searches (src/index.c: 0 auto, 1 graph, 2 exact scan, 3 exact
 * scan evaluating per node). */
void vl__test_alloc_fail_after(int32_t n);
void vl__test_filter_plan(int32_t mode);
/* Engine byte trace (src/mem.c): usable bytes held now, the peak since the
 * last reset (a realloc that moves counts old and new at once), reset. */
uint64_t vl__mem_live(void);
uint64_t vl__mem_peak(void);
void     vl__mem_peak_reset(void);

#endif /* VL_TEST_H */
