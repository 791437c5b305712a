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
