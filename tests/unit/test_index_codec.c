/*
 * test_index_codec.c — the INDEX encoder's two ways in (src/store_index.c):
 * a graph every node of which the export keeps is encoded straight from the
 * live index (encode_live), any other through the exported copy of the
 * graph (vl__graph_remap, then vl__index_encode). The oracle is the second
 * way: for a kept-whole graph both must give the same bytes, and the
 * payload must decode into the same graph.
 */
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "../../src/store.h"

static int keep_all(void *ctx, uint64_t id) { (void)ctx; (void)id; return 1; }

/* Export h both ways (keep: which tombstones stay) and compare. */
static int same_both_ways(vl_index *h, int (*keep)(void *, uint64_t), uint32_t want_nodes)
{
    vl_buf direct, via;
    vl_graph g;
    uint64_t *gids = NULL;
    CHECK_OK(vl__index_export(h, keep, NULL, &direct, NULL, NULL, NULL, NULL));
    CHECK_OK(vl__index_export(h, keep, NULL, &via, &g, &gids, NULL, NULL));   /* g_out: the remap way */
    CHECK(g.n == want_nodes);
    CHECK(direct.len == via.len);
    CHECK(memcmp(direct.p, via.p, (size_t)direct.len) == 0);
    /* and it decodes into the exported graph */
    vl_graph d;
    uint64_t *dids = NULL;
    uint32_t efc = 0;
    char why[160];
    CHECK_OK(vl__index_decode(direct.p, direct.len, UINT64_MAX, &d, &dids, &efc, why, sizeof why));
    CHECK(d.n == g.n && d.entry == g.entry && d.max_level == g.max_level);
    CHECK(memcmp(d.level, g.level, g.n) == 0);
    CHECK(memcmp(d.off, g.off, ((size_t)g.n + 1) * 4) == 0);
    CHECK(memcmp(d.adj, g.adj, (size_t)g.off[g.n] * 4) == 0);
    CHECK(memcmp(dids, gids, (size_t)g.n * 8) == 0);
    vl__graph_free(&d);
    vl__graph_free(&g);
    vl_mem_free(dids);
    vl_mem_free(gids);
    vl__buf_free(&direct);
    vl__buf_free(&via);
    return 0;
}

int test_index_encode_live(void)
{
    const uint32_t n = 3000, dim = 16;
    for (uint32_t M = 4; M <= 24; M += 20) {
        float *x = t_clustered(n, dim, 20, 0.05, 77 + M);
        uint64_t *ids = t_alloc(n * sizeof *ids);
        /* ids not in insertion order (the export renumbers by id), some far apart */
        for (uint32_t i = 0; i < n; i++) ids[i] = (uint64_t)((i * 7919u) % n) * 1000003u + (i % 3 ? 0 : (1ull << 40));
        vl_index *h = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, M, 60, 5);
        CHECK(h);
        CHECK_RCH(h, vl_index_upsert(h, n, ids, x, NULL, NULL), VL_OK);
        if (same_both_ways(h, NULL, n)) return 1;
        /* deleted ids whose tombstones the export keeps: still every node, still encoded directly */
        uint64_t del[50];
        for (uint32_t k = 0; k < 50; k++) del[k] = ids[k * 37];
        uint32_t nd = 0;
        CHECK_RCH(h, vl_index_delete(h, 50, del, &nd), VL_OK);
        CHECK(nd == 50);
        if (same_both_ways(h, keep_all, n)) return 1;
        /* dropped tombstones: the remap way only (re-selection), and it must still decode */
        if (same_both_ways(h, NULL, n - 50)) return 1;
        vl_index_free(h);
        free(x);
        free(ids);
    }
    /* an empty index */
    vl_index *e = t_index(dim, VL_METRIC_L2, VL_INDEX_HNSW, 16, 60, 5);
    CHECK(e);
    if (same_both_ways(e, NULL, 0)) return 1;
    vl_index_free(e);
    return 0;
}

/* ---- hostile link lists, on both sides of the decoder's unchecked fast
 * path (taken while the layer's worst case, a one-byte count and cap links
 * of 5 bytes, fits before the trailer) ---- */

/* A payload of n level-0 nodes (M 2: cap 4 links on layer 0): node k < n-1
 * links to k+1 (node n-2 to 0), node n-1's layer is the bytes lay; gap
 * bytes of fill follow the node data, then the trailer (ids 0..n-1). Every
 * node is a restart node when restart, else only node 0 is. */
static uint8_t *hostile_payload(uint32_t n, int restart, const uint8_t *lay, uint32_t lay_len, uint32_t gap,
                                uint8_t fill, uint64_t *len_out)
{
    uint8_t *p = t_alloc(4096);
    memset(p, 0, 4096);
    uint64_t o = 0;
    p[0] = 0; p[1] = 2; t_put16(p + 2, 2); t_put32(p + 4, 40); t_put64(p + 8, n);
    uint32_t interval = restart ? 1 : 1000, cnt = (n + interval - 1) / interval;
    t_put32(p + 64, interval);
    t_put32(p + 68, cnt);
    uint64_t ds = (72 + 4ull * cnt + 63) / 64 * 64;
    o = ds;
    for (uint32_t k = 0; k < n; k++) {
        if (k % interval == 0) t_put32(p + 72 + 4 * (k / interval), (uint32_t)(o - ds));
        p[o++] = 1;                                   /* one layer */
        if (k == n - 1) {
            memcpy(p + o, lay, lay_len);
            o += lay_len;
            continue;
        }
        uint32_t to = k == n - 2 ? 0 : k + 1;
        p[o++] = 1;
        p[o++] = (uint8_t)to;                        /* one link: absolute, or the first delta (from 0): the same byte */
    }
    memset(p + o, fill, gap);
    o += gap;
    uint64_t ts = o;
    t_put16(p + o, 1); t_put16(p + o + 2, 4); t_put32(p + o + 4, 0); t_put64(p + o + 8, 0); t_put64(p + o + 16, n);
    o += 24;
    for (uint32_t k = 0; k < n; k++) p[o++] = (uint8_t)(k ? 1 : 0);
    t_put32(p + o, (uint32_t)(o - ts));
    memcpy(p + o + 4, "RVIX", 4);
    *len_out = o + 8;
    return p;
}

int test_index_decode_hostile_links(void)
{
    /* node 7 of 8; want_n = -1: refused (ECORRUPT), else the links decoded.
     * min_gap: fewer gap bytes than this and the list runs into the trailer
     * (refused). Absolute links unless delta. */
    static const struct hcase {
        const char *what; int delta; uint8_t len; uint8_t b[12]; int want_n; uint32_t want[4]; uint32_t min_gap;
    } cases[] = {
        { "one link", 0, 2, { 1, 2 }, 1, { 2 }, 0 },
        { "no link", 0, 1, { 0 }, 0, { 0 }, 0 },
        { "cap links", 0, 5, { 4, 0, 1, 2, 3 }, 4, { 0, 1, 2, 3 }, 0 },
        { "overlong 2-byte link", 0, 3, { 1, 0x82, 0x00 }, 1, { 2 }, 0 },
        { "overlong 5-byte link", 0, 6, { 1, 0x82, 0x80, 0x80, 0x80, 0x00 }, 1, { 2 }, 0 },
        { "overlong 6-byte link", 0, 7, { 1, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00 }, 1, { 2 }, 0 },
        { "overlong 10-byte link", 0, 11, { 1, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 1, { 2 }, 0 },
        { "10th varint byte > 1", 0, 11, { 1, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02 }, -1, { 0 }, 0 },
        { "5-byte link, high bits", 0, 6, { 1, 0x82, 0x80, 0x80, 0x80, 0x10 }, -1, { 0 }, 0 },
        { "5-byte link 2^32 + 2", 0, 6, { 1, 0x82, 0x80, 0x80, 0x80, 0x01 }, -1, { 0 }, 0 },
        { "overlong count", 0, 4, { 0x82, 0x00, 3, 4 }, 2, { 3, 4 }, 0 },
        { "count 0x81 0x00 (overlong 1)", 0, 3, { 0x81, 0x00, 5 }, 1, { 5 }, 0 },
        { "count 0x80 0x01 (128)", 0, 3, { 0x80, 0x01, 5 }, -1, { 0 }, 0 },
        { "count above cap", 0, 6, { 5, 0, 1, 2, 3, 4 }, -1, { 0 }, 0 },
        { "count >= 0x80 alone", 0, 1, { 0x85 }, -1, { 0 }, 0 },
        { "link == n", 0, 2, { 1, 8 }, -1, { 0 }, 0 },
        { "self link", 0, 2, { 1, 7 }, -1, { 0 }, 0 },
        { "repeated link", 0, 3, { 2, 3, 3 }, -1, { 0 }, 0 },
        { "descending links", 0, 3, { 2, 4, 3 }, -1, { 0 }, 0 },
        { "second link from the gap", 0, 2, { 2, 1 }, 2, { 1, 5 }, 1 },
        { "count only, links from the gap", 0, 1, { 3 }, -1, { 0 }, 0 },   /* 5, 5, 5: repeated */
        { "deltas", 1, 3, { 2, 3, 1 }, 2, { 3, 4 }, 0 },
        { "zero delta", 1, 3, { 2, 3, 0 }, -1, { 0 }, 0 },
        { "delta past n", 1, 3, { 2, 3, 5 }, -1, { 0 }, 0 },
        { "delta wrapping 2^32", 1, 7, { 2, 3, 0xff, 0xff, 0xff, 0xff, 0x0f }, -1, { 0 }, 0 },
        { "5-byte delta, high bits", 1, 7, { 2, 1, 0x81, 0x80, 0x80, 0x80, 0x70 }, -1, { 0 }, 0 },
    };
    char why[200];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct hcase *h = &cases[c];
        for (uint32_t gap = 0; gap <= 40; gap++) {
            uint64_t len;
            uint8_t *p = hostile_payload(8, !h->delta, h->b, h->len, gap, 5, &len);
            vl_graph g;
            uint64_t *ids = NULL;
            uint32_t efc = 0;
            why[0] = 0;
            int rc = vl__index_decode(p, len, UINT64_MAX, &g, &ids, &efc, why, sizeof why);
            int want = gap < h->min_gap ? -1 : h->want_n;
            if (want < 0) {
                if (rc != VL_ECORRUPT) {
                    fprintf(stderr, "case '%s' gap %u: accepted (rc %d)\n", h->what, gap, rc);
                    free(p);
                    return 1;
                }
            } else {
                if (rc != VL_OK) {
                    fprintf(stderr, "case '%s' gap %u: refused: %s\n", h->what, gap, why);
                    free(p);
                    return 1;
                }
                const uint32_t *q = g.adj + g.off[7];
                CHECK(q[0] == (uint32_t)want);
                for (int a = 0; a < want; a++) CHECK(q[1 + a] == h->want[a]);
                /* the other nodes as written */
                for (uint32_t k = 0; k < 7; k++) CHECK(g.adj[g.off[k]] == 1 && g.adj[g.off[k] + 1] == (k == 6 ? 0 : k + 1));
                vl__graph_free(&g);
                vl_mem_free(ids);
            }
            free(p);
        }
    }
    return 0;
}

/* encode_live beyond the L2 graphs above: every metric, M at both ends,
 * one and two nodes, quantized nodes (codes, no rows), and an index whose
 * superseded copies force the remap way (it must still decode). */
int test_index_encode_live_variants(void)
{
    static const struct { uint32_t metric, M, n, quant; } v[] = {
        { VL_METRIC_COSINE, 8, 900, VL_QUANT_NONE }, { VL_METRIC_DOT, 8, 900, VL_QUANT_NONE },
        { VL_METRIC_L2, 2, 700, VL_QUANT_NONE }, { VL_METRIC_L2, VL_MAX_M, 700, VL_QUANT_NONE },
        { VL_METRIC_L2, 16, 1, VL_QUANT_NONE }, { VL_METRIC_COSINE, 16, 2, VL_QUANT_NONE },
        { VL_METRIC_L2, 8, 1500, VL_QUANT_SCALAR }, { VL_METRIC_COSINE, 8, 1500, VL_QUANT_PRODUCT },
    };
    const uint32_t dim = 8;
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        uint32_t n = v[t].n;
        float *x = t_clustered(n, dim, 10, 0.1, 300 + t);
        uint64_t *ids = t_alloc(n * sizeof *ids);
        for (uint32_t i = 0; i < n; i++) ids[i] = (uint64_t)(n - i) * 3 + (i & 1);
        vl_index *h = t_index(dim, v[t].metric, VL_INDEX_HNSW, v[t].M, 40, 9 + t);
        CHECK(h);
        if (v[t].quant) CHECK_RCH(h, vl_index_set_quant(h, v[t].quant, 0), VL_OK);
        CHECK_RCH(h, vl_index_upsert(h, n, ids, x, NULL, NULL), VL_OK);
        if (v[t].quant) {
            vl_quant_info qi;
            CHECK_OK(vl_index_quant_info(h, &qi));
            CHECK(qi.trained);
        }
        if (same_both_ways(h, NULL, n)) { fprintf(stderr, "variant %zu\n", t); return 1; }
        if (n > 2) {
            /* half the rows written again: superseded copies, dropped by the export */
            uint32_t half = n / 2;
            for (uint32_t i = 0; i < half * dim; i++) x[i] += 0.01f;
            CHECK_RCH(h, vl_index_upsert(h, half, ids, x, NULL, NULL), VL_OK);
            vl_stats st;
            CHECK_OK(vl_index_stats(h, &st));
            if (same_both_ways(h, keep_all, (uint32_t)st.live)) { fprintf(stderr, "variant %zu rewritten\n", t); return 1; }
        }
        vl_index_free(h);
        free(x);
        free(ids);
    }
    return 0;
}
