/*
 * fuzz_open.c — libFuzzer harness for the .rvf reader (src/rvf.c).
 *
 * Each input is a file: it is opened through the memory device (io.h) and,
 * when it opens, every live row is walked and the witness chain checked;
 * then the write path runs over whatever state the hostile file produced
 * (ingest, delete, compact into a second device) and the compacted copy
 * must reopen with the same live count. Invariants asserted: open fails
 * only with the documented codes; info() is consistent (live + deleted =
 * loaded, scan yields exactly `live` rows, each id once and live); a
 * successful write reopens at epoch + 1.
 *
 * Build (clang 14):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *     src/rvf.c src/rvf_commit.c src/rvf_compact.c src/rvf_witness.c \
 *     src/rvf_refresh.c src/crc32.c src/io_mem.c src/idmap.c src/mem.c \
 *     tests/fuzz/fuzz_open.c -o build/fuzz_open
 *   build/fuzz_open -max_len=65536 tests/golden/rvf   # seeds: the golden files
 * Crashes are minimized (-minimize_crash=1) into tests/golden/corrupt/,
 * which test_rvf_hostile replays on every `make test`.
 * A second build with -DVL_FUZZ_SKIP_HASH lets mutations through the
 * content-hash checks into the parsers behind them (its finds must be
 * re-checked against a normal build before they go into the corpus).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "io.h"
#include "rvf.h"
#include "internal.h"

#define REQUIRE(c) do { if (!(c)) { __builtin_trap(); } } while (0)

typedef struct walk {
    vl_rvf *h;
    uint64_t rows;
    uint64_t xor_ids;
} walk;

static int on_row(void *ctx, uint64_t id, const float *vec)
{
    walk *w = ctx;
    volatile float sink = vec[0];   /* touch the row */
    (void)sink;
    REQUIRE(vl_rvf_is_live(w->h, id));
    w->rows++;
    w->xor_ids ^= id * 0x9e3779b97f4a7c15ULL;
    return 0;
}

static int reopen_epoch(vl_io *io, uint32_t epoch, uint64_t live)
{
    uint64_t n;
    const uint8_t *b = vl_io_mem_data(io, &n);
    vl_io *c = NULL;
    vl_rvf *h = NULL;
    if (vl_io_mem_open(b, n, &c) != VL_OK) return 0;
    int rc = vl_rvf_open(c, &h, NULL, 0);
    /* a reopen of what we just wrote must succeed unless memory ran out */
    REQUIRE(rc == VL_OK || rc == VL_ENOMEM);
    if (rc == VL_OK) {
        vl_rvf_info in;
        vl_rvf_info_get(h, &in);
        REQUIRE(in.epoch == epoch && in.live == live);
        vl_rvf_free(h);
    }
    vl_io_mem_free(c);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vl_io *io = NULL;
    vl_rvf *h = NULL;
    char msg[256];
    if (vl_io_mem_open(data, size, &io) != VL_OK) return 0;
    int rc = vl_rvf_open(io, &h, msg, sizeof msg);
    REQUIRE(rc == VL_OK || rc == VL_ENOTFOUND || rc == VL_ECORRUPT || rc == VL_EVERSION ||
            rc == VL_EBUDGET || rc == VL_ENOMEM);
    if (rc != VL_OK) { vl_io_mem_free(io); return 0; }

    vl_rvf_info in;
    vl_rvf_info_get(h, &in);
    /* dimension 0 (rvf-node's unset dimension) only for a store without rows */
    REQUIRE(in.dim <= 65535 && in.metric <= 2 && (in.dim >= 1 || in.loaded == 0));
    REQUIRE(in.live + in.deleted == in.loaded);
    REQUIRE(in.committed_end <= size && in.append_at >= in.committed_end && in.append_at <= size);
    walk w = { h, 0, 0 };
    rc = vl_rvf_scan(h, on_row, &w);
    REQUIRE(rc == VL_OK || rc == VL_ENOMEM);
    if (rc == VL_OK) REQUIRE(w.rows == in.live);
    uint32_t wn, wv;
    rc = vl_rvf_verify_witness(h, &wn, &wv);
    REQUIRE(rc == VL_OK || rc == VL_ECORRUPT || rc == VL_ENOMEM || rc == VL_EBUDGET);

    /* the write path over the hostile state; a dimension-0 store takes one */
    if (in.dim == 0) {
        REQUIRE(vl_rvf_set_dim(h, 3) == VL_OK);
        vl_rvf_info_get(h, &in);
        REQUIRE(in.dim == 3);
    }
    if (in.dim <= 64 && in.epoch < UINT32_MAX - 3) {
        float v[64];
        for (uint32_t j = 0; j < in.dim; j++) v[j] = (float)j * 0.5f - 1.0f;
        uint64_t id = w.xor_ids ^ 0x5555;
        rc = vl_rvf_ingest(h, 1, &id, v, 1);
        /* EINVAL: the file's segment ids leave no room for more */
        REQUIRE(rc == VL_OK || rc == VL_EBUDGET || rc == VL_ENOMEM || rc == VL_EINVAL);
        uint32_t nd = 0;
        if (rc == VL_OK) {
            vl_rvf_info_get(h, &in);
            reopen_epoch(io, in.epoch, in.live);
            rc = vl_rvf_delete(h, 1, &id, 2, &nd);
            REQUIRE(rc == VL_OK || rc == VL_EINVAL || rc == VL_EBUDGET || rc == VL_ENOMEM);
        }
        if (rc == VL_OK) {
            REQUIRE(nd == 1);
            vl_rvf_info_get(h, &in);
            reopen_epoch(io, in.epoch, in.live);
            vl_io *dst = NULL;
            vl_rvf *n = NULL;
            if (vl_io_mem_open(NULL, 0, &dst) == VL_OK) {
                rc = vl_rvf_compact(h, dst, 3, &n);
                /* copied foreign segments are re-verified: corrupt ones surface here */
                REQUIRE(rc == VL_OK || rc == VL_ECORRUPT || rc == VL_ENOMEM || rc == VL_EBUDGET ||
                        rc == VL_EINVAL);
                if (rc == VL_OK) {
                    vl_rvf_info ni;
                    vl_rvf_info_get(n, &ni);
                    REQUIRE(ni.live == in.live && ni.deleted == 0 && ni.epoch == in.epoch + 1);
                    reopen_epoch(dst, ni.epoch, ni.live);
                    vl_rvf_free(n);
                }
                vl_io_mem_free(dst);
            }
        }
    }
    vl_rvf_free(h);
    vl_io_mem_free(io);
    return 0;
}
