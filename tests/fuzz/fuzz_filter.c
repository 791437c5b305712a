/*
 * fuzz_filter.c — libFuzzer harness for the filter program checker and
 * evaluator (src/filter.c) and the JSON reader behind VL_F_PATH and
 * VL_F_CONTAINS (src/json.c).
 *
 * Input: u16 LE program length L, L bytes of filter program, then the rest is
 * a text T. The record holds T as field 0 (JSON when T is UTF-8, else BYTES)
 * and field 1 (STR when UTF-8). Invariants asserted: vl_filter_check returns
 * only VL_OK or VL_EINVAL, vl_filter_eval agrees with it and answers 0 or 1;
 * a fixed set of PATH/CONTAINS programs over T answers 0 or 1. Reads past T
 * (which the harness copies into a buffer of exactly its size) are caught by
 * AddressSanitizer.
 *
 * Build and run: `make build/fuzz_filter`, then
 *   build/fuzz_filter -max_len=4096 build/fuzz-filter-corpus
 * (`make fuzz` runs it for FUZZ_SECONDS; `make test` replays a short run).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define REQUIRE(c) do { if (!(c)) { __builtin_trap(); } } while (0)

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }

/* Programs over field 0 with paths into T (built once). */
static const uint8_t fixed[][40] = {
    { VL_F_PATH, 1, 1, 0, 'a', VL_F_EXISTS, 0, 0 },
    { VL_F_PATH, 3, 1, 0, 'a', 1, 0, 'b', 1, 0, '0', VL_F_CMP, VL_CMP_EQ, 0, 0, VL_TAG_F64, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f },
    { VL_F_PATH, 1, 1, 0, 'a', VL_F_CONTAINS, 0, 0, VL_TAG_STR, 1, 0, 0, 0, 'x' },
    { VL_F_CONTAINS, 0, 0, VL_TAG_BOOL, 1 },
    { VL_F_CONTAINS, 1, 0, VL_TAG_STR, 2, 0, 0, 0, '"', 'a' },
    { VL_F_PATH, 2, 0, 0, 1, 0, '1', VL_F_CMP, VL_CMP_LT, 0, 0, VL_TAG_STR, 1, 0, 0, 0, 'm' },
    { VL_F_PATH, 1, 1, 0, '0', VL_F_IN, 0, 0, 2, 0, VL_TAG_NULL, VL_TAG_JSON, 2, 0, 0, 0, '[', ']' },
};
static const uint32_t fixed_len[] = { 8, 24, 14, 5, 10, 17, 18 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > (1u << 20)) return 0;
    uint32_t plen = (uint32_t)(data[0] | (data[1] << 8));
    if (plen > size - 2) plen = (uint32_t)(size - 2);
    const uint8_t *prog = data + 2;
    const uint8_t *text = prog + plen;
    uint32_t tlen = (uint32_t)(size - 2 - plen);

    /* the record: exactly sized so ASan sees any overread */
    int utf8 = vl__utf8_valid(text, tlen);
    uint32_t rlen = 2 + 3 + 4 + tlen + (utf8 ? 3 + 4 + tlen : 0);
    uint8_t *rec = malloc(rlen);
    REQUIRE(rec);
    uint32_t at = 0;
    put16(rec, utf8 ? 2 : 1);
    at = 2;
    put16(rec + at, 0); rec[at + 2] = utf8 ? VL_TAG_JSON : VL_TAG_BYTES; put32(rec + at + 3, tlen);
    if (tlen) memcpy(rec + at + 7, text, tlen);
    at += 7 + tlen;
    if (utf8) {
        put16(rec + at, 1); rec[at + 2] = VL_TAG_STR; put32(rec + at + 3, tlen);
        if (tlen) memcpy(rec + at + 7, text, tlen);
        at += 7 + tlen;
    }
    REQUIRE(at == rlen);

    uint8_t *p = malloc(plen ? plen : 1);
    REQUIRE(p);
    if (plen) memcpy(p, prog, plen);
    int rc = vl_filter_check(plen ? p : NULL, plen);
    REQUIRE(rc == VL_OK || rc == VL_EINVAL);
    uint32_t m = 7;
    int rc2 = vl_filter_eval(plen ? p : NULL, plen, rec, rlen, &m);
    REQUIRE(rc2 == rc);
    if (rc == VL_OK) REQUIRE(m <= 1);
    free(p);

    for (size_t i = 0; i < sizeof fixed_len / sizeof fixed_len[0]; i++) {
        REQUIRE(vl_filter_check(fixed[i], fixed_len[i]) == VL_OK);
        m = 7;
        REQUIRE(vl_filter_eval(fixed[i], fixed_len[i], rec, rlen, &m) == VL_OK);
        REQUIRE(m <= 1);
    }
    free(rec);
    return 0;
}
