/*
 * index_quant.c — quantization, the index side (veclite.h "Quantization";
 * the quantizers themselves are quant.c): asking for it, training it once
 * the index has enough rows, node-to-node distances over codes, and the
 * exact re-ranking of a search's best candidates with float32 rows read
 * through the row source.
 * Invariants: h->codes is set iff h->qz is trained (then vecs/inv_norm are
 * NULL); a trained quantizer never changes, so every code stays valid;
 * re-ranked distances are exact (the same kernels as an unquantized index).
 */
#include <math.h>
#include <string.h>
#include "index.h"

int vl_index_set_quant(vl_index *h, uint32_t kind, uint32_t m)
{
    if (!h) return VL_EINVAL;
    if (kind > VL_QUANT_PRODUCT) { vl__msg(h, "unknown quantization %u", kind); return VL_EINVAL; }
    if (kind == h->quant_kind && m == h->quant_m) return VL_OK;
    if (kind != VL_QUANT_NONE && h->kind != VL_INDEX_HNSW) {
        vl__msg(h, "quantization needs the hnsw index (a flat index compares every float32 row)");
        return VL_EINVAL;
    }
    if (h->n || h->qz.kind) {
        vl__msg(h, "quantization can only be chosen before the first row");
        return VL_EINVAL;
    }
    if (kind == VL_QUANT_PRODUCT && m > h->dim) {
        vl__msg(h, "product quantization with %u sub-vectors needs at least that many dimensions (%u)", m, h->dim);
        return VL_EINVAL;
    }
    h->quant_kind = kind;
    h->quant_m = kind == VL_QUANT_PRODUCT ? m : 0;
    return VL_OK;
}

void vl_index_set_rows(vl_index *h, vl_row_fetch_fn fn, void *ctx)
{
    if (!h) return;
    h->fetch = fn;
    h->fetch_ctx = ctx;
}

int vl_index_quant_info(const vl_index *h, vl_quant_info *out)
{
    if (!h || !out) return VL_EINVAL;
    memset(out, 0, sizeof *out);
    out->kind = h->qz.kind ? h->qz.kind : h->quant_kind;
    out->trained = h->qz.kind != 0;
    out->code_bytes = h->qz.kind ? h->qz.code_size : 0;
    out->m = h->qz.kind == VL_QUANT_PRODUCT ? h->qz.m : h->quant_m;
    out->table_bytes = vl_quant_bytes(&h->qz);
    out->trained_on = h->quant_trained_on;
    return VL_OK;
}

void vl__quant_maybe_train(vl_index *h)
{
    if (!h->quant_kind || h->qz.kind || h->live < VL_QUANT_TRAIN_MIN) return;
    vl_quant q;
    /* every stored row (tombstones too: they are real vectors of this data) */
    if (vl_quant_train(&q, h->quant_kind, h->metric, h->dim, h->quant_m, h->n, h->vecs, h->cfg.seed))
        return;
    if (vl__index_to_codes(h, &q, NULL, NULL)) { vl_quant_free(&q); return; }
    h->quant_trained_on = h->n;
}

int vl__quant_reserve(vl_index *h)
{
    if (!h->qz.kind) return VL_OK;
    if (vl_qquery_reserve(&h->qz, &h->qq)) return VL_ENOMEM;
    if (!h->qscratch && !(h->qscratch = vl_mem_alloc((size_t)h->dim * 2 * sizeof(float)))) return VL_ENOMEM;
    return VL_OK;
}

float vl__qdist_nodes(const vl_index *h, uint32_t a, uint32_t b)
{
    float *x = h->qscratch, *y = h->qscratch + h->dim;
    vl_quant_decode(&h->qz, h->codes + (size_t)a * h->qz.code_size, x);
    vl_quant_decode(&h->qz, h->codes + (size_t)b * h->qz.code_size, y);
    float d;
    if (h->metric == VL_METRIC_L2) d = VL_K_L2SQ(x, y, h->dim);
    else if (h->metric == VL_METRIC_DOT) d = -VL_K_DOT(x, y, h->dim);
    else d = 1.0f - VL_K_DOT(x, y, h->dim);   /* the codes stand for unit vectors */
    return d == d ? d : (float)INFINITY;
}

/* Candidates re-ranked per query, at most: scalar codes order candidates
 * nearly exactly on spread data (CLIP-100: recall@10 0.9984 at ef 100
 * whether 12 or 30 are re-ranked), but not among tightly clustered vectors
 * under cosine (the unit test's clusters: 0.948 with 12, 1.0 with 30), so
 * up to 2k + 10, of which vl__quant_rerank reads only those that could
 * still matter (each row is a device read: on a file store the reads are
 * most of what a quantized search costs beyond the walk). Product codes are
 * coarse: the whole beam is re-ranked. */
#define VL_QUANT_KTH 64u   /* k up to which the adaptive re-rank runs (above: all 2k + 10) */

void vl_index_set_rerank(vl_index *h, uint32_t n)
{
    if (h) h->rerank = n > VL_MAX_EF ? VL_MAX_EF : n;
}

uint32_t vl__quant_rerank_count(const vl_index *h, uint32_t k, uint32_t ef)
{
    uint32_t r = h->rerank ? h->rerank : h->qz.kind == VL_QUANT_SCALAR ? 2 * k + 10 : ef;
    if (r < k) r = k;
    return r > VL_MAX_EF ? VL_MAX_EF : r;
}

static float exact_dist(const vl_index *h, const float *q, float qinv, const float *v)
{
    float d;
    if (h->metric == VL_METRIC_L2) d = VL_K_L2SQ(q, v, h->dim);
    else if (h->metric == VL_METRIC_DOT) d = -VL_K_DOT(q, v, h->dim);
    else {   /* the inverse norm as an unquantized index keeps it (index.c check_vector) */
        double ss = 0;
        for (uint32_t j = 0; j < h->dim; j++) ss += (double)v[j] * v[j];
        d = ss > 0 ? vl_k_cos_from_dot(VL_K_DOT(q, v, h->dim), qinv, (float)(1.0 / sqrt(ss))) : 1.0f;
    }
    return d == d ? d : (float)INFINITY;
}

/* Rows of res[from, to) read and their distances made exact; approximate
 * ones kept in h->rra. VL_OK or a negative VL_E* (message set). */
static int rerank_range(vl_index *h, const float *q, float qinv, uint32_t from, uint32_t to)
{
    vl_hit *res = h->res;
    uint64_t *ids = (uint64_t *)h->top;         /* scratch: top holds >= keep pairs (8 bytes each) */
    for (uint32_t i = from; i < to; i++) ids[i - from] = res[i].id;
    int rc = h->fetch(h->fetch_ctx, to - from, ids, h->rr + (size_t)from * h->dim);
    if (rc) { vl__msg(h, "reading float32 rows to re-rank: %s", vl_errstr(rc)); return rc < 0 ? rc : -rc; }
    for (uint32_t i = from; i < to; i++) {
        h->rra[i] = res[i].d;
        res[i].d = exact_dist(h, q, qinv, h->rr + (size_t)i * h->dim);
    }
    return VL_OK;
}

int vl__quant_rerank(vl_index *h, const float *q, float qinv, uint32_t got, uint32_t keep, uint32_t k)
{
    vl_hit *res = h->res;
    vl__hits_sort(res, got);
    if (got > keep) got = keep;
    if (!h->fetch || got == 0) return (int)got;
    if (got > h->rr_cap) {
        float *r = vl_mem_realloc(h->rr, (size_t)got * h->dim * sizeof(float));
        if (r) h->rr = r;
        float *a = vl_mem_realloc(h->rra, (size_t)got * sizeof(float));
        if (a) h->rra = a;
        if (!r || !a) { vl__msg(h, "out of memory re-ranking %u candidates", got); return VL_ENOMEM; }
        h->rr_cap = got;
    }
    /* Scalar codes by default: first the best k + k/4 by approximate
     * distance; then the rest of the 2k + 10 only while a candidate's
     * approximate distance, less twice the largest approximation error seen
     * on the first ones, could still beat the k-th exact distance (each row
     * is a device read; on spread data the first ones decide). */
    uint32_t first = got;
    int adaptive = !h->rerank && h->qz.kind == VL_QUANT_SCALAR;
    if (adaptive && k + (k + 3) / 4 < got) first = k + (k + 3) / 4;
    int rc = rerank_range(h, q, qinv, 0, first);
    if (rc) return rc;
    if (first < got) {
        float err = 0.f, kth[VL_QUANT_KTH];
        uint32_t nk = 0;
        for (uint32_t i = 0; i < first; i++) {
            float e = fabsf(h->rra[i] - res[i].d);
            if (e > err || e != e) err = e == e ? e : (float)INFINITY;
            /* the k smallest exact distances (insertion; k is small here) */
            float d = res[i].d;
            if (nk < k && nk < VL_QUANT_KTH) kth[nk++] = d;
            else if (nk && d < kth[nk - 1]) kth[nk - 1] = d;
            else continue;
            for (uint32_t j = nk - 1; j > 0 && kth[j] < kth[j - 1]; j--) { float t = kth[j]; kth[j] = kth[j - 1]; kth[j - 1] = t; }
        }
        float dk = nk >= k ? kth[nk - 1] : (float)INFINITY;
        uint32_t end = first;
        while (end < got && res[end].d - 2.f * err <= dk) end++;
        if (end > first && (rc = rerank_range(h, q, qinv, first, end))) return rc;
        got = end;
    }
    return (int)got;
}

/* ---- accessors for the store (internal.h) ---- */
const vl_quant *vl__index_quant(const vl_index *h) { return h->qz.kind ? &h->qz : NULL; }
const uint8_t *vl__index_node_code(const vl_index *h, uint32_t node)
{
    return h->codes + (size_t)node * h->qz.code_size;
}
uint32_t vl__index_quant_kind(const vl_index *h) { return h->quant_kind; }
const float *vl__index_node_f32(const vl_index *h, uint32_t node, float *buf)
{
    if (!h->codes) return h->vecs + (size_t)node * h->dim;
    vl_quant_decode(&h->qz, h->codes + (size_t)node * h->qz.code_size, buf);
    return buf;
}
int vl__index_adopt_quant(vl_index *h, vl_quant *qz, const uint8_t *(*code_for)(void *ctx, uint64_t id), void *ctx)
{
    if (qz->kind != h->quant_kind) {
        vl__msg(h, "the file's quantizer is of kind %u, the index asks for %u", qz->kind, h->quant_kind);
        return VL_EINVAL;
    }
    int rc = vl__index_to_codes(h, qz, code_for, ctx);
    if (!rc) h->quant_trained_on = 0;
    return rc;
}

void vl__index_quant_ask(vl_index *h, uint32_t kind, uint32_t m)
{
    if (h->qz.kind) return;
    h->quant_kind = kind;
    h->quant_m = kind == VL_QUANT_PRODUCT ? m : 0;
}

void vl__index_quant_train_now(vl_index *h) { vl__quant_maybe_train(h); }
uint32_t vl__index_quant_m(const vl_index *h) { return h->quant_m; }
