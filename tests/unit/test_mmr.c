/*
 * test_mmr.c — vl_index_search_mmr (src/mmr.c): argument checks that leave
 * the index untouched, lambda 1 equal to the plain search, and the greedy
 * picks on a hand-computed 2-D example (both index kinds).
 */
#include <math.h>
#include "test.h"

int test_mmr_rules(void)
{
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(2, VL_METRIC_L2, kind, 0, 0, 5);
        CHECK(h);
        /* query (1, 0.05): id 1 at L2 0.05, id 2 (a near twin of 1) at 0.07,
         * id 3 at 0.901, id 4 (opposite side) at 2.0006 */
        const uint64_t ids[4] = { 1, 2, 3, 4 };
        const float v[8] = { 1, 0, 1, 0.12f, 0.5f, 0.8f, -1, 0 };
        CHECK_OK(vl_index_upsert(h, 4, ids, v, NULL, NULL));
        const float q[2] = { 1, 0.05f };
        uint64_t rid[4], pid[4];
        float rd[4], pd[4];
        uint32_t c = 99, pc;
        /* bad arguments: EINVAL, outputs unwritten */
        CHECK_RCH(h, vl_index_search_mmr(h, 1, q, 2, 4, NAN, 0, NULL, 0, rid, rd, &c), VL_EINVAL);
        CHECK_RCH(h, vl_index_search_mmr(h, 1, q, 2, 4, -0.01f, 0, NULL, 0, rid, rd, &c), VL_EINVAL);
        CHECK_RCH(h, vl_index_search_mmr(h, 1, q, 2, 4, 1.01f, 0, NULL, 0, rid, rd, &c), VL_EINVAL);
        CHECK_RCH(h, vl_index_search_mmr(h, 1, q, 3, 2, 0.5f, 0, NULL, 0, rid, rd, &c), VL_EINVAL);
        CHECK_RCH(h, vl_index_search_mmr(h, 1, q, 0, 2, 0.5f, 0, NULL, 0, rid, rd, &c), VL_EINVAL);
        CHECK(c == 99 && vl_index_count(h) == 4);
        /* lambda 1: the plain search */
        CHECK_OK(vl_index_search(h, 1, q, 4, 0, NULL, 0, pid, pd, &pc));
        CHECK_OK(vl_index_search_mmr(h, 1, q, 4, 4, 1.f, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 4 && pc == 4);
        for (int i = 0; i < 4; i++) CHECK(rid[i] == pid[i] && rd[i] == pd[i]);
        /* k 2: sim = 1/(1+L2). lambda 0.5 keeps the twin (0.5*(0.9346-0.8929) > 0.5*(0.5260-0.5146));
         * lambda 0.2 prefers the far row 4 (0.2*0.3333-0.8*0.3333 > 0.2*0.5260-0.8*0.5146) */
        CHECK_OK(vl_index_search_mmr(h, 1, q, 2, 4, 0.5f, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 2 && rid[0] == 1 && rid[1] == 2);
        CHECK_OK(vl_index_search_mmr(h, 1, q, 2, 4, 0.2f, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 2 && rid[0] == 1 && rid[1] == 4);
        CHECK(fabsf(rd[1] - (float)sqrt(4 + 0.0025)) < 1e-5f);
        /* fetch_k 3 leaves row 4 out: row 3 is the most distinct of the three */
        CHECK_OK(vl_index_search_mmr(h, 1, q, 2, 3, 0.2f, 0, NULL, 0, rid, rd, &c));
        CHECK(c == 2 && rid[0] == 1 && rid[1] == 3);
        vl_index_free(h);
    }
    return 0;
}
