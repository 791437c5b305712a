/*
 * test_text.c — the keyword index (src/text.c): kept consistent
 * (vl_index_check) through upserts, metadata updates, deletes, HNSW
 * tombstone reclamation and flat slot moves; BM25 scores equal a brute-force
 * BM25 computed here from the documents (an independent tokenizer for the
 * test's plain words), for both index kinds; bad calls are VL_EINVAL.
 */
#include <math.h>
#include <string.h>
#include "test.h"
#include "../../src/index.h"

#define NDOC 2600u
static const char *WORDS[] = { "apple", "Pie", "car", "ocean", "wave", "engine", "red", "blue", "green", "tart" };

/* document i: 1..6 words drawn from WORDS by a fixed rule of (i, gen) */
static uint32_t doc_words(uint32_t i, uint32_t gen, uint32_t *w)
{
    uint64_t s = i * 2654435761u + gen * 97u + 1;
    uint32_t n = 1 + (uint32_t)(t_rand(&s) % 6);
    for (uint32_t j = 0; j < n; j++) w[j] = (uint32_t)(t_rand(&s) % 10);
    return n;
}

static uint32_t make_rec(uint8_t *buf, uint16_t fid, const uint32_t *w, uint32_t n)
{
    char text[128] = "";
    for (uint32_t j = 0; j < n; j++) { strcat(text, WORDS[w[j]]); strcat(text, j % 2 ? ", " : " -- "); }
    uint32_t len = t_rec_begin(buf);
    return t_rec_str(buf, len, fid, VL_TAG_STR, text, (uint32_t)strlen(text));
}

int test_text_index(void)
{
    static uint32_t words[NDOC][6], nw[NDOC];
    static uint8_t live[NDOC];
    static uint8_t recs[NDOC * 128];
    static uint32_t off[NDOC + 1];
    static uint64_t ids[NDOC];
    static float vecs[NDOC * 2];
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(2, VL_METRIC_L2, kind, 8, 40, 9);
        CHECK(h);
        uint64_t got_ids[NDOC];
        float got_s[NDOC];
        uint32_t c;
        CHECK_RCH(h, vl_index_search_text(h, (const uint8_t *)"apple", 5, 5, NULL, 0, got_ids, got_s, &c), VL_EINVAL);
        CHECK_OK(vl_index_set_text(h, "body", 4));
        uint32_t fid;
        CHECK_OK(vl_index_field(h, "body", 4, &fid));
        off[0] = 0;
        for (uint32_t i = 0; i < NDOC; i++) {
            nw[i] = doc_words(i, 0, words[i]);
            off[i + 1] = off[i] + make_rec(recs + off[i], (uint16_t)fid, words[i], nw[i]);
            ids[i] = i + 1;
            vecs[2 * i] = (float)i;
            vecs[2 * i + 1] = 0;
            live[i] = 1;
        }
        CHECK_OK(vl_index_upsert(h, NDOC, ids, vecs, recs, off));
        CHECK_OK(vl_index_check(h));
        /* churn: delete two rows of three (HNSW: the tombstones pass the reclaim floor, so
         * survivors move to new slots; flat: the last row moves into each hole), rewrite
         * every fifth's metadata */
        for (uint32_t i = 0; i < NDOC; i++) {
            if (i % 3 == 1) continue;
            uint32_t nd;
            CHECK_OK(vl_index_delete(h, 1, &ids[i], &nd));
            live[i] = 0;
        }
        CHECK_OK(vl_index_check(h));
        vl_stats st;
        CHECK_OK(vl_index_stats(h, &st));
        CHECK(kind == VL_INDEX_FLAT || st.reclaims > 0);
        for (uint32_t i = 1; i < NDOC; i += 5) {
            if (!live[i]) continue;
            nw[i] = doc_words(i, 1, words[i]);
            uint32_t o[2] = { 0, make_rec(recs, (uint16_t)fid, words[i], nw[i]) };
            CHECK_OK(vl_index_set_meta(h, 1, &ids[i], recs, o));
        }
        CHECK_OK(vl_index_check(h));
        /* brute-force BM25 of "Apple PIE!" (tokens apple, pie) over the live docs */
        double N = 0, total = 0, df[2] = { 0, 0 };
        static double want[NDOC];
        for (uint32_t i = 0; i < NDOC; i++) {
            if (!live[i]) continue;
            N++;
            total += nw[i];
            for (uint32_t t = 0; t < 2; t++) {
                uint32_t has = 0;
                for (uint32_t j = 0; j < nw[i]; j++) has |= words[i][j] == t;
                df[t] += has;
            }
        }
        uint32_t matching = 0;
        for (uint32_t i = 0; i < NDOC; i++) {
            want[i] = 0;
            if (!live[i]) continue;
            for (uint32_t t = 0; t < 2; t++) {
                double tf = 0;
                for (uint32_t j = 0; j < nw[i]; j++) tf += words[i][j] == t;
                if (tf == 0) continue;
                double idf = log(1 + (N - df[t] + 0.5) / (df[t] + 0.5));
                want[i] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * nw[i] / (total / N)));
            }
            matching += want[i] > 0;
        }
        CHECK_OK(vl_index_search_text(h, (const uint8_t *)"Apple PIE!", 10, NDOC, NULL, 0, got_ids, got_s, &c));
        CHECK(c == matching);
        for (uint32_t r = 0; r < c; r++) {
            uint32_t i = (uint32_t)got_ids[r] - 1;
            CHECK(live[i] && fabs(got_s[r] - want[i]) <= 1e-5 * want[i]);
            if (r) CHECK(got_s[r] < got_s[r - 1] || (got_s[r] == got_s[r - 1] && got_ids[r] > got_ids[r - 1]) ||
                         fabs(want[(uint32_t)got_ids[r - 1] - 1] - want[i]) < 1e-12);
        }
        /* no token; unknown tokens match nothing */
        CHECK_RCH(h, vl_index_search_text(h, (const uint8_t *)" ,;- ", 5, 5, NULL, 0, got_ids, got_s, &c), VL_EINVAL);
        CHECK_OK(vl_index_search_text(h, (const uint8_t *)"zebra", 5, 5, NULL, 0, got_ids, got_s, &c));
        CHECK(c == 0);
        /* clear keeps the field: new rows are indexed */
        CHECK_OK(vl_index_clear(h));
        CHECK_OK(vl_index_field(h, "body", 4, &fid));
        uint32_t all[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        uint32_t o1[2] = { 0, make_rec(recs, (uint16_t)fid, all, 6) };
        CHECK_OK(vl_index_upsert(h, 1, ids, vecs, recs, o1));
        CHECK_OK(vl_index_search_text(h, (const uint8_t *)"apple pie car ocean wave engine red blue green tart", 51, 5, NULL, 0, got_ids, got_s, &c));
        CHECK(c == 1 && got_ids[0] == 1);
        CHECK_OK(vl_index_check(h));
        vl_index_free(h);
    }
    return 0;
}

/* Rows rewritten with ever new words: the dead terms (no document holds
 * them) drop the index once they outnumber the live ones, the next search
 * rebuilds it; vl_index_check holds throughout (dead counts the terms
 * without postings), the answers are those of the live documents, and the
 * index stays within a small factor of a fresh one over the same documents. */
#define CHURN_N 300u
int test_text_churn(void)
{
    static uint8_t recs[CHURN_N * 64];
    static uint32_t off[CHURN_N + 1];
    static uint64_t ids[CHURN_N], got[CHURN_N];
    static float vecs[CHURN_N * 2], sc[CHURN_N];
    for (uint32_t kind = 0; kind < 2; kind++) {
        vl_index *h = t_index(2, VL_METRIC_L2, kind, 8, 40, 9), *fresh = t_index(2, VL_METRIC_L2, kind, 8, 40, 9);
        CHECK(h && fresh);
        CHECK_OK(vl_index_set_text(h, "body", 4));
        CHECK_OK(vl_index_set_text(fresh, "body", 4));
        uint32_t fid, ffid, c;
        CHECK_OK(vl_index_field(h, "body", 4, &fid));
        CHECK_OK(vl_index_field(fresh, "body", 4, &ffid));
        CHECK(fid == ffid);
        for (uint32_t gen = 0; gen < 30; gen++) {
            off[0] = 0;
            for (uint32_t i = 0; i < CHURN_N; i++) {
                char text[48];
                int n = snprintf(text, sizeof text, "apple g%ux%u", gen, i);
                uint32_t len = t_rec_begin(recs + off[i]);
                off[i + 1] = off[i] + t_rec_str(recs + off[i], len, (uint16_t)fid, VL_TAG_STR, text, (uint32_t)n);
                ids[i] = i + 1;
                vecs[2 * i] = (float)i;
                vecs[2 * i + 1] = (float)gen;
            }
            CHECK_OK(vl_index_upsert(h, CHURN_N, ids, vecs, recs, off));
            CHECK_OK(vl_index_check(h));
            CHECK_OK(vl_index_search_text(h, (const uint8_t *)"apple g3x7", 10, CHURN_N, NULL, 0, got, sc, &c));
            CHECK(c == CHURN_N && (gen == 3) == (got[0] == 8 && sc[0] > sc[1]));
            CHECK_OK(vl_index_check(h));
        }
        CHECK_OK(vl_index_upsert(fresh, CHURN_N, ids, vecs, recs, off));
        CHECK_OK(vl_index_search_text(fresh, (const uint8_t *)"apple", 5, 5, NULL, 0, got, sc, &c));
        CHECK(vl__text_bytes(h) < 2 * vl__text_bytes(fresh));
        vl_index_free(h);
        vl_index_free(fresh);
    }
    return 0;
}
