/*
 * text.c — keyword search over one metadata text field (SPEC F13,
 * docs/api.md §4 "text"): the tokenizer, an inverted index kept current by
 * every metadata write, BM25 ranking, and hybrid (vector + keyword) fusion.
 *
 * Tokenizer: the field's UTF-8 string is split into maximal runs of token
 * characters, separated by ASCII other than letters and digits and by the
 * Unicode punctuation, symbol and space blocks of is_sep(); letters of
 * ASCII, Latin-1, basic Greek and Cyrillic are lowercased (fold()), other
 * characters kept as they are (no normalisation). Tokens over
 * VL_TEXT_MAX_TOKEN bytes are ignored.
 * A document is a live row whose field holds a string with at least one
 * token; other rows (field absent, not a string, no token) are not in the
 * keyword index.
 * BM25 (k1 = 1.2, b = 0.75): for a query's distinct tokens t,
 *   score(d) = sum_t idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
 *   idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
 * N documents, df those holding t, tf its count in d, dl d's token count,
 * avgdl the mean dl; computed in double.
 * Hybrid: weighted reciprocal-rank fusion of the vector ranking and the
 * BM25 ranking (each its best fetch_k, filter applied inside both):
 *   fused(d) = alpha / (60 + rank_v(d)) + (1 - alpha) / (60 + rank_t(d))
 * ranks from 1; a list that misses d adds 0. Ties by ascending id.
 *
 * Layout: a term dictionary (open addressing over the term bytes), per term
 * a postings array of (node, tf) pairs, per node its entries (term, tf,
 * position in that term's postings) so removing or moving a node costs its
 * own terms only. Maintained from the filter-column hooks of meta.c
 * (vl__text_set_node on every record change, vl__text_move when a slot
 * moves, vl__text_reset when the nodes are freed). A hook that runs out of
 * memory marks the index broken; the next keyword search rebuilds it from
 * the records (and reports VL_ENOMEM if that fails too). Terms are never
 * removed one by one: a hook that leaves more dead terms (no postings)
 * than live ones and than a quarter of the tokens drops the index the same
 * way, so rows rewritten with ever new words do not grow memory for good.
 * Invariants (vl__text_check): each posting (node, tf) matches the node's
 * entry for the term, whose pos points back at it; df = postings count;
 * docs and total_len are the sums over nodes with entries; dead counts the
 * terms without postings; only live nodes whose record holds the field as
 * a string have entries.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "index.h"
#include "dist.h"

#define VL_TEXT_MAX_TOKEN 64u
#define BM25_K1 1.2
#define BM25_B  0.75
#define RRF_K   60.0

struct vl_text {
    char field[VL_MAX_FIELD_NAME];
    uint32_t field_len, fid;        /* fid UINT32_MAX until the name is registered */
    int broken;
    /* terms */
    uint32_t nterms, tcap, dead;    /* dead: terms without postings (no live document holds them) */
    uint64_t *toff;  uint32_t *tlen;
    uint32_t *pn, *pcap, **post;    /* postings: pn[t] (node, tf) pairs */
    char *chars; uint64_t chars_len, chars_cap;
    uint32_t *hash; uint32_t hcap;  /* term id + 1; 0 empty */
    /* nodes */
    uint32_t ncap;
    uint32_t **ent, *nent, *dl;     /* entries (tid, tf, pos) */
    uint64_t docs, total_len;
    /* scratch */
    uint32_t *tmp; uint32_t tmp_cap;
    double *acc; uint32_t acc_cap;      /* BM25 per node, all 0 between searches */
    uint32_t *cand; uint32_t cand_cap;  /* nodes a search touched */
};

static uint32_t fnv(const uint8_t *s, uint32_t len)
{
    uint32_t x = 2166136261u;
    for (uint32_t i = 0; i < len; i++) { x ^= s[i]; x *= 16777619u; }
    return x;
}

/* One character at s[i] (i < len): its code point and byte length. A byte
 * that does not start a valid UTF-8 sequence is one character of its own
 * (code point 0xFFFD: a token character). */
static uint32_t utf8_at(const uint8_t *s, uint32_t len, uint32_t i, uint32_t *cp)
{
    uint8_t b = s[i];
    uint32_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 1) { *cp = b; return 1; }
    if (n == 0 || i + n > len) { *cp = 0xFFFD; return 1; }
    uint32_t c = b & (0x7F >> n);
    for (uint32_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xC0) != 0x80) { *cp = 0xFFFD; return 1; }
        c = c << 6 | (s[i + k] & 0x3F);
    }
    *cp = c;
    return n;
}

/* Separators: ASCII other than letters and digits, and the punctuation,
 * symbol and space blocks listed in docs/api.md §4 (Latin-1 punctuation,
 * General and Supplemental Punctuation, CJK and fullwidth punctuation). */
static int is_sep(uint32_t c)
{
    if (c < 0x80) return !((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
    return (c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA) || c == 0xD7 || c == 0xF7 ||
           (c >= 0x2000 && c <= 0x206F) || (c >= 0x2E00 && c <= 0x2E7F) ||
           (c >= 0x3000 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011) || (c >= 0x3014 && c <= 0x301F) ||
           (c >= 0xFE10 && c <= 0xFE1F) || (c >= 0xFE30 && c <= 0xFE4F) || c == 0xFEFF ||
           (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
           (c >= 0xFF5B && c <= 0xFF65);
}

/* Lowercase: ASCII, Latin-1 (U+00C0..U+00DE but U+00D7), Greek U+0391..U+03A9,
 * Cyrillic U+0400..U+042F; same UTF-8 length before and after. */
static uint32_t fold(uint32_t c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
        (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F)) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
    return c;
}

/* Next token of s[*at..len) into buf (folded); its byte length, or 0 at the end. */
static uint32_t next_token(const uint8_t *s, uint32_t len, uint32_t *at, uint8_t *buf)
{
    uint32_t i = *at, c, w;
    for (;;) {
        while (i < len) {
            w = utf8_at(s, len, i, &c);
            if (!is_sep(c)) break;
            i += w;
        }
        if (i >= len) { *at = i; return 0; }
        uint32_t n = 0;
        while (i < len && (w = utf8_at(s, len, i, &c), !is_sep(c))) {
            if (w == 1 && c >= 0x80) c = s[i];                  /* an invalid byte: kept as is */
            else c = fold(c);
            if (n + w <= VL_TEXT_MAX_TOKEN) {
                if (w == 1) buf[n] = (uint8_t)c;
                else if (w == 2) { buf[n] = (uint8_t)(0xC0 | c >> 6); buf[n + 1] = (uint8_t)(0x80 | (c & 0x3F)); }
                else memcpy(buf + n, s + i, w);                 /* never folded: copied */
            }
            n += w;
            i += w;
        }
        if (n <= VL_TEXT_MAX_TOKEN) { *at = i; return n; }
    }
}

static uint32_t term_find(const struct vl_text *t, const uint8_t *w, uint32_t n)
{
    if (!t->hcap) return UINT32_MAX;
    uint32_t mask = t->hcap - 1, i = fnv(w, n) & mask;
    for (;;) {
        uint32_t e = t->hash[i];
        if (!e) return UINT32_MAX;
        if (t->tlen[e - 1] == n && memcmp(t->chars + t->toff[e - 1], w, n) == 0) return e - 1;
        i = (i + 1) & mask;
    }
}

/* Reallocate the array whose pointer is at pp to n elements of elem bytes
 * (the pointer is left as it was on failure): the index keeps several
 * arrays per term and per node that grow together. VL_OK / VL_ENOMEM. */
static int resize(void *pp, uint32_t n, size_t elem)
{
    void *p;
    memcpy(&p, pp, sizeof p);
    void *q = vl_mem_realloc(p, (size_t)n * elem);
    if (!q) return VL_ENOMEM;
    memcpy(pp, &q, sizeof q);
    return VL_OK;
}

/* Find or add a term: its id, or UINT32_MAX out of memory. */
static uint32_t term_add(struct vl_text *t, const uint8_t *w, uint32_t n)
{
    uint32_t id = term_find(t, w, n);
    if (id != UINT32_MAX) return id;
    if ((uint64_t)(t->nterms + 1) * 2 > t->hcap) {
        uint32_t nc = t->hcap ? t->hcap * 2 : 1024;
        uint32_t *nh = vl_mem_calloc(nc, sizeof *nh);
        if (!nh) return UINT32_MAX;
        for (uint32_t i = 0; i < t->nterms; i++) {
            uint32_t j = fnv((const uint8_t *)t->chars + t->toff[i], t->tlen[i]) & (nc - 1);
            while (nh[j]) j = (j + 1) & (nc - 1);
            nh[j] = i + 1;
        }
        vl_mem_free(t->hash);
        t->hash = nh;
        t->hcap = nc;
    }
    if (t->nterms == t->tcap) {
        uint32_t nc = t->tcap ? t->tcap * 2 : 256;
        if (resize(&t->toff, nc, sizeof *t->toff) || resize(&t->post, nc, sizeof *t->post) ||
            resize(&t->tlen, nc, sizeof *t->tlen) || resize(&t->pn, nc, sizeof *t->pn) ||
            resize(&t->pcap, nc, sizeof *t->pcap))
            return UINT32_MAX;
        t->tcap = nc;
    }
    if (t->chars_len + n > t->chars_cap) {
        uint64_t nc = t->chars_cap ? t->chars_cap * 2 : 4096;
        while (nc < t->chars_len + n) nc *= 2;
        char *c = vl_mem_realloc(t->chars, (size_t)nc);
        if (!c) return UINT32_MAX;
        t->chars = c;
        t->chars_cap = nc;
    }
    id = t->nterms++;
    memcpy(t->chars + t->chars_len, w, n);
    t->toff[id] = t->chars_len;
    t->tlen[id] = n;
    t->chars_len += n;
    t->pn[id] = t->pcap[id] = 0;
    t->post[id] = NULL;
    t->dead++;
    uint32_t j = fnv(w, n) & (t->hcap - 1);
    while (t->hash[j]) j = (j + 1) & (t->hcap - 1);
    t->hash[j] = id + 1;
    return id;
}

static void free_data(struct vl_text *t)
{
    for (uint32_t i = 0; i < t->nterms; i++) vl_mem_free(t->post[i]);
    for (uint32_t i = 0; i < t->ncap; i++) vl_mem_free(t->ent[i]);
    vl_mem_free(t->toff); vl_mem_free(t->tlen); vl_mem_free(t->pn); vl_mem_free(t->pcap);
    vl_mem_free(t->post); vl_mem_free(t->chars); vl_mem_free(t->hash);
    vl_mem_free(t->ent); vl_mem_free(t->nent); vl_mem_free(t->dl); vl_mem_free(t->tmp);
    vl_mem_free(t->acc); vl_mem_free(t->cand);
    char field[VL_MAX_FIELD_NAME];
    uint32_t fl = t->field_len, fid = t->fid;
    memcpy(field, t->field, fl);
    memset(t, 0, sizeof *t);
    memcpy(t->field, field, fl);
    t->field_len = fl;
    t->fid = fid;
}

void vl__text_reset(vl_index *h)
{
    if (h->text) free_data(h->text);
}

void vl__text_free(vl_index *h)
{
    if (!h->text) return;
    free_data(h->text);
    vl_mem_free(h->text);
    h->text = NULL;
}

/* Remove node's entries from the postings. */
static void unindex(struct vl_text *t, uint32_t node)
{
    if (node >= t->ncap || !t->nent[node]) return;
    uint32_t *e = t->ent[node];
    for (uint32_t k = 0; k < t->nent[node]; k++) {
        uint32_t tid = e[3 * k], pos = e[3 * k + 2];
        uint32_t *p = t->post[tid], last = --t->pn[tid];
        t->dead += !last;
        if (pos != last) {
            uint32_t m = p[2 * last];
            p[2 * pos] = m;
            p[2 * pos + 1] = p[2 * last + 1];
            uint32_t *me = t->ent[m];
            for (uint32_t j = 0; j < t->nent[m]; j++)
                if (me[3 * j] == tid) { me[3 * j + 2] = pos; break; }
        }
    }
    t->docs--;
    t->total_len -= t->dl[node];
    vl_mem_free(t->ent[node]);
    t->ent[node] = NULL;
    t->nent[node] = 0;
    t->dl[node] = 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The field's string in node's record, or NULL. */
static const uint8_t *field_text(vl_index *h, struct vl_text *t, uint32_t node, uint32_t *len)
{
    if (t->fid == UINT32_MAX) t->fid = vl__field_find(h, t->field, t->field_len);
    if (t->fid == UINT32_MAX || h->dead[node] || !h->meta[node]) return NULL;
    vl_value v;
    if (!vl__meta_find(h->meta[node], h->meta_len[node], t->fid, &v) || v.tag != VL_TAG_STR) return NULL;
    *len = v.len;
    return v.p;
}

/* Index node from its record: VL_OK or VL_ENOMEM (node then has no entries). */
static int index_node(vl_index *h, struct vl_text *t, uint32_t node)
{
    uint32_t len = 0;
    const uint8_t *s = field_text(h, t, node, &len);
    if (!s) return VL_OK;
    uint8_t w[VL_TEXT_MAX_TOKEN];
    uint32_t at = 0, n, cnt = 0;
    while ((n = next_token(s, len, &at, w))) {
        uint32_t tid = term_add(t, w, n);
        if (tid == UINT32_MAX) return VL_ENOMEM;
        if (cnt == t->tmp_cap) {
            uint32_t nc = t->tmp_cap ? t->tmp_cap * 2 : 256;
            uint32_t *x = vl_mem_realloc(t->tmp, (size_t)nc * sizeof *x);
            if (!x) return VL_ENOMEM;
            t->tmp = x;
            t->tmp_cap = nc;
        }
        t->tmp[cnt++] = tid;
    }
    if (!cnt) return VL_OK;
    if (node >= t->ncap) {
        uint32_t nc = t->ncap ? t->ncap : 1024;
        while (nc <= node) nc *= 2;
        if (resize(&t->ent, nc, sizeof *t->ent) || resize(&t->nent, nc, sizeof *t->nent) ||
            resize(&t->dl, nc, sizeof *t->dl))
            return VL_ENOMEM;
        for (uint32_t i = t->ncap; i < nc; i++) { t->ent[i] = NULL; t->nent[i] = t->dl[i] = 0; }
        t->ncap = nc;
    }
    qsort(t->tmp, cnt, sizeof *t->tmp, cmp_u32);
    uint32_t uniq = 0;
    for (uint32_t i = 0; i < cnt; i++) uniq += i == 0 || t->tmp[i] != t->tmp[i - 1];
    uint32_t *e = vl_mem_alloc((size_t)uniq * 3 * sizeof *e);
    if (!e) return VL_ENOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < cnt;) {
        uint32_t j = i;
        while (j < cnt && t->tmp[j] == t->tmp[i]) j++;
        uint32_t tid = t->tmp[i];
        if (t->pn[tid] == t->pcap[tid]) {
            uint32_t nc = t->pcap[tid] ? t->pcap[tid] * 2 : 4;
            uint32_t *p = vl_mem_realloc(t->post[tid], (size_t)nc * 2 * sizeof *p);
            if (!p) {   /* undo the postings added so far */
                while (k--) t->pn[e[3 * k]]--;
                vl_mem_free(e);
                return VL_ENOMEM;
            }
            t->post[tid] = p;
            t->pcap[tid] = nc;
        }
        uint32_t pos = t->pn[tid]++;
        t->dead -= !pos;
        t->post[tid][2 * pos] = node;
        t->post[tid][2 * pos + 1] = j - i;
        e[3 * k] = tid;
        e[3 * k + 1] = j - i;
        e[3 * k + 2] = pos;
        k++;
        i = j;
    }
    t->ent[node] = e;
    t->nent[node] = uniq;
    t->dl[node] = cnt;
    t->docs++;
    t->total_len += cnt;
    return VL_OK;
}

void vl__text_set_node(vl_index *h, uint32_t node)
{
    struct vl_text *t = h->text;
    if (!t || t->broken) return;
    unindex(t, node);
    /* out of memory, or terms no document holds any more outnumber the rest and a quarter of
     * the tokens (rows rewritten with new words): dropped, the next search or checkpoint
     * rebuilds a compact index, so memory stays O(live documents) and the rebuild amortised */
    if (index_node(h, t, node) ||
        (t->dead > 1024 && t->dead > t->nterms / 2 && (uint64_t)t->dead * 4 > t->total_len)) {
        free_data(t);
        t->broken = 1;
    }
}

void vl__text_move(vl_index *h, uint32_t dst, uint32_t src)
{
    struct vl_text *t = h->text;
    if (!t || t->broken || src >= t->ncap || !t->nent[src]) return;
    uint32_t *e = t->ent[src];
    for (uint32_t k = 0; k < t->nent[src]; k++) t->post[e[3 * k]][2 * e[3 * k + 2]] = dst;
    t->ent[dst] = e;         /* dst < src: both below ncap; dst has no entries (its record was removed first) */
    t->nent[dst] = t->nent[src];
    t->dl[dst] = t->dl[src];
    t->ent[src] = NULL;
    t->nent[src] = t->dl[src] = 0;
}

/* (Re)build from every record: VL_OK or VL_ENOMEM (then broken). */
static int rebuild(vl_index *h)
{
    struct vl_text *t = h->text;
    free_data(t);
    for (uint32_t i = 0; i < h->n; i++)
        if (index_node(h, t, i)) { free_data(t); t->broken = 1; return VL_ENOMEM; }
    return VL_OK;
}

uint64_t vl__text_bytes(const vl_index *h)
{
    const struct vl_text *t = h->text;
    if (!t) return 0;
    uint64_t b = sizeof *t + t->chars_cap + (uint64_t)t->hcap * 4 + (uint64_t)t->tcap * (8 + 4 * 3 + sizeof(void *)) +
                 (uint64_t)t->ncap * (8 + sizeof(void *)) + (uint64_t)t->tmp_cap * 4 +
                 (uint64_t)t->acc_cap * 8 + (uint64_t)t->cand_cap * 4;
    for (uint32_t i = 0; i < t->nterms; i++) b += (uint64_t)t->pcap[i] * 8;
    for (uint32_t i = 0; i < t->ncap; i++) b += (uint64_t)t->nent[i] * 12;
    return b;
}

int vl__text_check(const vl_index *h)
{
    const struct vl_text *t = h->text;
    if (!t || t->broken) return VL_OK;
    uint64_t docs = 0, total = 0;
    for (uint32_t n = 0; n < t->ncap; n++) {
        if (!t->nent[n]) continue;
        if (n >= h->n || h->dead[n]) { vl__msg(h, "text: node %u has entries but is not live", n); return VL_ECORRUPT; }
        docs++;
        total += t->dl[n];
        for (uint32_t k = 0; k < t->nent[n]; k++) {
            uint32_t tid = t->ent[n][3 * k], pos = t->ent[n][3 * k + 2];
            if (tid >= t->nterms || pos >= t->pn[tid] || t->post[tid][2 * pos] != n ||
                t->post[tid][2 * pos + 1] != t->ent[n][3 * k + 1]) {
                vl__msg(h, "text: node %u entry %u does not match its posting", n, k);
                return VL_ECORRUPT;
            }
        }
    }
    uint64_t posts = 0, ents = 0, dead = 0;
    for (uint32_t i = 0; i < t->nterms; i++) { posts += t->pn[i]; dead += !t->pn[i]; }
    for (uint32_t n = 0; n < t->ncap; n++) ents += t->nent[n];
    if (docs != t->docs || total != t->total_len || posts != ents || dead != t->dead) {
        vl__msg(h, "text: counters disagree with the entries");
        return VL_ECORRUPT;
    }
    return VL_OK;
}

/* ---- API ---- */

/* A new, empty keyword index of field in place of h's: VL_OK, VL_EINVAL
 * (a bad name) or VL_ENOMEM (message set; h unchanged). */
static int text_install(vl_index *h, const char *field, uint32_t len)
{
    if (!field || !len || len > VL_MAX_FIELD_NAME || !vl__utf8_valid((const uint8_t *)field, len)) {
        vl__msg(h, "the text field name must be 1..%u bytes of UTF-8", VL_MAX_FIELD_NAME);
        return VL_EINVAL;
    }
    struct vl_text *t = vl_mem_calloc(1, sizeof *t);
    if (!t) { vl__msg(h, "out of memory for the text index"); return VL_ENOMEM; }
    memcpy(t->field, field, len);
    t->field_len = len;
    t->fid = UINT32_MAX;
    vl__text_free(h);
    h->text = t;
    return VL_OK;
}

int vl_index_set_text(vl_index *h, const char *field, uint32_t len)
{
    if (!h) return VL_EINVAL;
    if (len == 0) { vl__text_free(h); return VL_OK; }
    if (h->text && field && h->text->field_len == len && memcmp(h->text->field, field, len) == 0) return VL_OK;
    int rc = text_install(h, field, len);
    if (rc) return rc;
    if (rebuild(h)) { vl__msg(h, "out of memory indexing the text field"); return VL_ENOMEM; }
    return VL_OK;
}

int vl_index_text_field(const vl_index *h, const char **field, uint32_t *len)
{
    if (!h || !field || !len) return VL_EINVAL;
    if (!h->text) return VL_ENOTFOUND;
    *field = h->text->field;
    *len = h->text->field_len;
    return VL_OK;
}

typedef struct tscore { double s; uint64_t id; uint32_t node; } tscore;

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = ((const tscore *)a)->id, y = ((const tscore *)b)->id;
    return x < y ? -1 : x > y;
}

static int cmp_score(const void *a, const void *b)
{
    const tscore *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The query's distinct known term ids into t->tmp: their count, or
 * UINT32_MAX when the text has no token at all (VL_EINVAL, message set). */
static uint32_t query_terms(vl_index *h, const uint8_t *text, uint32_t len, uint32_t **out)
{
    struct vl_text *t = h->text;
    uint8_t w[VL_TEXT_MAX_TOKEN];
    uint32_t at = 0, n, tokens = 0, cnt = 0;
    uint32_t *ids = vl_mem_alloc((size_t)(len / 2 + 1) * sizeof *ids);
    if (!ids) return UINT32_MAX - 1;
    while ((n = next_token(text, len, &at, w))) {
        tokens++;
        uint32_t tid = term_find(t, w, n);
        if (tid == UINT32_MAX) continue;
        uint32_t j = 0;
        while (j < cnt && ids[j] != tid) j++;
        if (j == cnt) ids[cnt++] = tid;
    }
    if (!tokens) {
        vl_mem_free(ids);
        vl__msg(h, "the query text has no searchable token (letters or digits)");
        return UINT32_MAX;
    }
    *out = ids;
    return cnt;
}

/* BM25 of the k best matching live documents (filter applied), best first,
 * ties by ascending id, into a new array *out[0..*got) (the caller frees it).
 * Scores accumulate in t->acc (zero again on return), the touched nodes in
 * t->cand; the best k come from a bounded heap: O(postings + m log k). */
static int bm25_top(vl_index *h, const uint8_t *text, uint32_t len, uint32_t k,
                    const uint8_t *filter, uint32_t filter_len, tscore **out, uint32_t *got)
{
    struct vl_text *t = h->text;
    *out = NULL;
    *got = 0;
    if (t->broken && rebuild(h)) { vl__msg(h, "out of memory rebuilding the text index"); return VL_ENOMEM; }
    if (!filter) filter_len = 0;
    if (filter_len && vl_filter_check(filter, filter_len) != VL_OK) {
        vl__msg(h, "malformed filter program (%u bytes)", filter_len);
        return VL_EINVAL;
    }
    uint32_t *q = NULL;
    uint32_t nq = query_terms(h, text, len, &q);
    if (nq == UINT32_MAX) return VL_EINVAL;
    if (nq == UINT32_MAX - 1) { vl__msg(h, "out of memory reading the query text"); return VL_ENOMEM; }
    if (filter_len && vl__filter_compile(h, filter, filter_len)) {
        vl_mem_free(q);
        vl__msg(h, "out of memory compiling the filter");
        return VL_ENOMEM;
    }
    if (t->acc_cap < t->ncap) {       /* grown zeroed; kept zeroed by every search */
        double *a = vl_mem_calloc(t->ncap, sizeof *a);
        if (!a) { vl_mem_free(q); vl__msg(h, "out of memory scoring %u rows", t->ncap); return VL_ENOMEM; }
        vl_mem_free(t->acc);
        t->acc = a;
        t->acc_cap = t->ncap;
    }
    double *acc = t->acc, N = (double)t->docs, avgdl = t->docs ? (double)t->total_len / N : 1.0;
    uint32_t m = 0, live = 0;
    int rc = VL_OK;
    for (uint32_t i = 0; i < nq && rc == VL_OK; i++) {
        uint32_t tid = q[i];
        double df = t->pn[tid];
        if (!df) continue;
        double idf = log(1.0 + (N - df + 0.5) / (df + 0.5));
        const uint32_t *p = t->post[tid];
        for (uint32_t j = 0; j < t->pn[tid]; j++) {
            uint32_t node = p[2 * j];
            double tf = p[2 * j + 1];
            if (acc[node] == 0.0) {   /* first term of this node: remember it (to score or skip) */
                if (m == t->cand_cap) {
                    uint32_t nc = t->cand_cap ? t->cand_cap * 2 : 1024;
                    uint32_t *c = vl_mem_realloc(t->cand, (size_t)nc * sizeof *c);
                    if (!c) { rc = VL_ENOMEM; break; }
                    t->cand = c;
                    t->cand_cap = nc;
                }
                t->cand[m++] = node;
                if (filter_len && !vl__filter_node(h, node)) { acc[node] = -1.0; continue; }
                live++;
            } else if (acc[node] < 0) continue;
            acc[node] += idf * tf * (BM25_K1 + 1.0) / (tf + BM25_K1 * (1.0 - BM25_B + BM25_B * t->dl[node] / avgdl));
        }
    }
    /* the best min(k, live) by a bounded heap (worst on top), then sorted */
    uint32_t keep = live < k ? live : k, hn = 0;
    tscore *sc = rc ? NULL : vl_mem_alloc((size_t)(keep ? keep : 1) * sizeof *sc);
    if (!rc && !sc) rc = VL_ENOMEM;
    for (uint32_t i = 0; i < m && !rc; i++) {
        uint32_t node = t->cand[i];
        if (acc[node] < 0) continue;
        tscore x = { acc[node], h->ids[node], node };
        if (hn < keep) {              /* sift up */
            uint32_t c = hn++;
            while (c && cmp_score(&sc[(c - 1) / 2], &x) < 0) { sc[c] = sc[(c - 1) / 2]; c = (c - 1) / 2; }
            sc[c] = x;
        } else if (keep && cmp_score(&x, &sc[0]) < 0) {   /* better than the worst kept: sift down */
            uint32_t c = 0;
            for (;;) {
                uint32_t l = 2 * c + 1, r = l + 1, w = c;
                const tscore *wv = &x;
                if (l < hn && cmp_score(&sc[l], wv) > 0) { w = l; wv = &sc[l]; }
                if (r < hn && cmp_score(&sc[r], wv) > 0) w = r;
                if (w == c) break;
                sc[c] = sc[w];
                c = w;
            }
            sc[c] = x;
        }
    }
    for (uint32_t i = 0; i < m; i++) acc[t->cand[i]] = 0.0;
    vl_mem_free(q);
    if (rc) {
        vl_mem_free(sc);
        vl__msg(h, "out of memory scoring the candidates");
        return rc;
    }
    qsort(sc, hn, sizeof *sc, cmp_score);
    *out = sc;
    *got = hn;
    return VL_OK;
}

int vl_index_search_text(vl_index *h, const uint8_t *text, uint32_t text_len, uint32_t k,
                         const uint8_t *filter, uint32_t filter_len,
                         uint64_t *ids_out, float *score_out, uint32_t *count_out)
{
    if (!h) return VL_EINVAL;
    if (!h->text) { vl__msg(h, "this index has no text field (vl_index_set_text)"); return VL_EINVAL; }
    if (k == 0 || k > VL_MAX_K) { vl__msg(h, "k must be 1..%u (got %u)", VL_MAX_K, k); return VL_EINVAL; }
    if (!text || !ids_out || !score_out || !count_out) { vl__msg(h, "text and outputs must not be NULL"); return VL_EINVAL; }
    tscore *sc;
    uint32_t got;
    int rc = bm25_top(h, text, text_len, k, filter, filter_len, &sc, &got);
    if (rc) return rc;
    for (uint32_t i = 0; i < got; i++) { ids_out[i] = sc[i].id; score_out[i] = (float)sc[i].s; }
    *count_out = got;
    vl_mem_free(sc);
    return VL_OK;
}

/* BM25 of one node for the query terms q[0..nq) (0 without a document). */
static double bm25_node(const struct vl_text *t, uint32_t node, const uint32_t *q, uint32_t nq)
{
    if (node >= t->ncap || !t->nent[node]) return 0.0;
    double N = (double)t->docs, avgdl = (double)t->total_len / N, s = 0.0;
    for (uint32_t i = 0; i < nq; i++)
        for (uint32_t k = 0; k < t->nent[node]; k++) {
            if (t->ent[node][3 * k] != q[i]) continue;
            double df = t->pn[q[i]], tf = t->ent[node][3 * k + 1];
            s += log(1.0 + (N - df + 0.5) / (df + 0.5)) * tf * (BM25_K1 + 1.0) /
                 (tf + BM25_K1 * (1.0 - BM25_B + BM25_B * t->dl[node] / avgdl));
        }
    return s;
}

int vl_index_search_hybrid(vl_index *h, const float *query, const uint8_t *text, uint32_t text_len,
                           uint32_t k, uint32_t fetch_k, float alpha, uint32_t ef,
                           const uint8_t *filter, uint32_t filter_len,
                           uint64_t *ids_out, float *fused_out, float *dist_out, float *text_out,
                           uint32_t *count_out)
{
    if (!h) return VL_EINVAL;
    if (!h->text) { vl__msg(h, "this index has no text field (vl_index_set_text)"); return VL_EINVAL; }
    if (!(alpha >= 0.f && alpha <= 1.f)) { vl__msg(h, "hybrid alpha must be a number in [0, 1] (got %g)", (double)alpha); return VL_EINVAL; }
    if (k == 0 || k > VL_MAX_K || fetch_k < k || fetch_k > VL_MAX_K) {
        vl__msg(h, "hybrid needs 1 <= k <= fetchK <= %u (got k %u, fetchK %u)", VL_MAX_K, k, fetch_k);
        return VL_EINVAL;
    }
    if (!query || !text || !ids_out || !fused_out || !dist_out || !text_out || !count_out) {
        vl__msg(h, "query, text and outputs must not be NULL");
        return VL_EINVAL;
    }
    uint64_t *vid = vl_mem_alloc((size_t)fetch_k * sizeof *vid);
    float *vd = vl_mem_alloc((size_t)fetch_k * sizeof *vd);
    tscore *u = vl_mem_alloc((size_t)fetch_k * 2 * sizeof *u);
    float *row = vl_mem_alloc((size_t)h->dim * sizeof *row);
    tscore *ts = NULL;
    uint32_t *q = NULL;
    int rc = VL_OK;
    if (!vid || !vd || !u || !row) { vl__msg(h, "out of memory for %u hybrid candidates", fetch_k); rc = VL_ENOMEM; goto out; }
    uint32_t nv = 0, nt = 0, m = 0;
    /* the text first: a query without tokens fails before any vector work */
    if ((rc = bm25_top(h, text, text_len, fetch_k, filter, filter_len, &ts, &nt))) goto out;
    if ((rc = vl_index_search(h, 1, query, fetch_k, ef, filter, filter_len, vid, vd, &nv))) goto out;
    /* union, each with its fused score; a text hit finds its vector rank by
     * binary search over the vector hits sorted by id (a copy in u[fetchK..]) */
    for (uint32_t i = 0; i < nv; i++) { u[m].id = vid[i]; u[m].s = (double)alpha / (RRF_K + i + 1); u[m].node = i; m++; }
    tscore *byid = u + fetch_k;
    memcpy(byid, u, (size_t)nv * sizeof *u);
    qsort(byid, nv, sizeof *byid, cmp_id);
    uint32_t extra = 0;
    for (uint32_t j = 0; j < nt; j++) {
        double add = (1.0 - (double)alpha) / (RRF_K + j + 1);
        tscore key = { 0, ts[j].id, 0 };
        const tscore *f = bsearch(&key, byid, nv, sizeof *byid, cmp_id);
        if (f) { u[f->node].s += add; continue; }
        ts[extra].id = ts[j].id; ts[extra].s = add; extra++;   /* text only: collected in place */
    }
    for (uint32_t j = 0; j < extra; j++) { u[m].id = ts[j].id; u[m].s = ts[j].s; u[m].node = UINT32_MAX; m++; }
    qsort(u, m, sizeof *u, cmp_score);
    uint32_t want = m < k ? m : k;
    uint32_t nqt = query_terms(h, text, text_len, &q);
    if (nqt >= UINT32_MAX - 1) { rc = nqt == UINT32_MAX ? VL_EINVAL : VL_ENOMEM; q = NULL; goto out; }
    for (uint32_t i = 0; i < want; i++) {
        ids_out[i] = u[i].id;
        fused_out[i] = (float)u[i].s;
        uint32_t node = vl__index_live_node(h, u[i].id);
        text_out[i] = (float)bm25_node(h->text, node, q, nqt);
        if (u[i].node != UINT32_MAX) { dist_out[i] = vd[u[i].node]; continue; }
        if ((rc = vl_index_get(h, &u[i].id, row, NULL, NULL))) goto out;
        if (h->metric == VL_METRIC_L2) dist_out[i] = sqrtf(vl_dist_l2sq(query, row, h->dim));
        else if (h->metric == VL_METRIC_DOT) dist_out[i] = -vl_dist_dot(query, row, h->dim);
        else {
            float d = vl_dist_cos(query, row, h->dim);
            dist_out[i] = d < 0.f ? 0.f : d > 2.f ? 2.f : d;
        }
    }
    *count_out = want;
out:
    vl_mem_free(vid); vl_mem_free(vd); vl_mem_free(u); vl_mem_free(row); vl_mem_free(ts); vl_mem_free(q);
    return rc;
}

/* ---- the stored form (the TEXT segment payload, docs/format.md §4) ----
 *   "VLTEXT1\0" | u32 version 1 | u64 stamp | u32 field_len | field |
 *   varint nterms | nterms x { varint len (1..64) | term bytes }       term i has id i
 *   varint ndocs  | ndocs x { varint id gap | varint tokens | varint nd |
 *                             nd x { varint term gap | varint tf } }
 * Documents by ascending id (the first gap is the id itself, later gaps
 * >= 1); a document's terms by ascending id (first gap the id, later >= 1).
 * Only terms some document holds are written, renumbered densely in their
 * in-memory order. A reader trusts nothing: every count is bounded by the
 * bytes left, every term must be exactly one token of the tokenizer and
 * unique, tf >= 1, the tf sum equals tokens, and a live document's
 * tokens (with one separator between each two) fit in its record's string.
 * A forged payload that passes every check is adopted as written: the
 * content hash and these checks catch damage, not a deliberate forgery
 * (which, like a forged INDEX, only a rebuild from the records would).
 * stamp: the caller's (the store's META generation): a payload with another
 * stamp is not adopted. After adoption every live record holding the field
 * that the payload does not list is indexed from its record (the rows of
 * other writers), so the result equals a rebuild whenever the listed
 * documents' records are the ones they were encoded from. */
#define TMAGIC "VLTEXT1\0"
#define TVERSION 1u

static uint32_t vput(uint8_t *p, uint64_t v)
{
    uint32_t n = 0;
    while (v >= 0x80) { if (p) p[n] = (uint8_t)(v | 0x80); n++; v >>= 7; }
    if (p) p[n] = (uint8_t)v;
    return n + 1;
}

/* One varint at p[*at..len): 1 and *v, or 0 (truncated or over 64 bits). */
#define vget vl__varint_get

typedef struct tdoc { uint64_t id; uint32_t node; } tdoc;

static int cmp_tdoc(const void *a, const void *b)
{
    uint64_t x = ((const tdoc *)a)->id, y = ((const tdoc *)b)->id;
    return x < y ? -1 : x > y;
}

/* Write (p non-NULL) or measure the payload; the byte count. */
static uint64_t encode(const struct vl_text *t, uint64_t stamp, const tdoc *d, uint64_t nd, const uint32_t *map,
                       uint32_t nused, uint8_t *p)
{
    uint64_t o = 0;
    if (p) {
        memcpy(p, TMAGIC, 8);
        for (int b = 0; b < 4; b++) { p[8 + b] = (uint8_t)(TVERSION >> 8 * b); p[20 + b] = (uint8_t)(t->field_len >> 8 * b); }
        for (int b = 0; b < 8; b++) p[12 + b] = (uint8_t)(stamp >> 8 * b);
        memcpy(p + 24, t->field, t->field_len);
    }
    o = 24 + t->field_len;
    o += vput(p ? p + o : NULL, nused);
    for (uint32_t i = 0; i < t->nterms; i++) {
        if (map[i] == UINT32_MAX) continue;
        o += vput(p ? p + o : NULL, t->tlen[i]);
        if (p) memcpy(p + o, t->chars + t->toff[i], t->tlen[i]);
        o += t->tlen[i];
    }
    o += vput(p ? p + o : NULL, nd);
    uint64_t prev = 0;
    for (uint64_t k = 0; k < nd; k++) {
        uint32_t node = d[k].node, *e = t->ent[node], prevt = 0;
        o += vput(p ? p + o : NULL, k ? d[k].id - prev : d[k].id);
        prev = d[k].id;
        o += vput(p ? p + o : NULL, t->dl[node]);
        o += vput(p ? p + o : NULL, t->nent[node]);
        for (uint32_t j = 0; j < t->nent[node]; j++) {   /* entries ascend by term id (index_node, adopt) */
            uint32_t nt = map[e[3 * j]];
            o += vput(p ? p + o : NULL, j ? nt - prevt : nt);
            o += vput(p ? p + o : NULL, e[3 * j + 1]);
            prevt = nt;
        }
    }
    return o;
}

int vl__text_encode(vl_index *h, uint64_t stamp, uint8_t **out, uint64_t *len)
{
    *out = NULL;
    *len = 0;
    struct vl_text *t = h->text;
    if (!t) return VL_OK;
    if (t->broken && rebuild(h)) return VL_ENOMEM;
    uint32_t *map = vl_mem_alloc((size_t)(t->nterms ? t->nterms : 1) * sizeof *map);
    tdoc *d = vl_mem_alloc((size_t)(t->docs ? t->docs : 1) * sizeof *d);
    int rc = VL_ENOMEM;
    if (!map || !d) goto out;
    uint32_t nused = 0;
    for (uint32_t i = 0; i < t->nterms; i++) map[i] = t->pn[i] ? nused++ : UINT32_MAX;
    uint64_t nd = 0;
    for (uint32_t n = 0; n < t->ncap && nd < t->docs; n++)
        if (t->nent[n]) {
            d[nd].id = h->ids[n];
            d[nd++].node = n;
            for (uint32_t j = 1; j < t->nent[n]; j++)          /* the order encode() relies on */
                if (t->ent[n][3 * j] <= t->ent[n][3 * (j - 1)]) { rc = VL_ECORRUPT; goto out; }
        }
    qsort(d, (size_t)nd, sizeof *d, cmp_tdoc);
    uint64_t n = encode(t, stamp, d, nd, map, nused, NULL);
    if (n > UINT32_MAX || !(*out = vl_mem_alloc((size_t)n))) goto out;
    *len = encode(t, stamp, d, nd, map, nused, *out);
    rc = VL_OK;
out:
    vl_mem_free(map);
    vl_mem_free(d);
    return rc;
}

#define WHY(...) do { if (why && cap) snprintf(why, cap, __VA_ARGS__); goto bad; } while (0)

/* Adopt p[0..len) into t (empty, field set): VL_OK, 1 (rejected: the reason
 * in why; t emptied) or VL_ENOMEM (t emptied). */
static int adopt(vl_index *h, struct vl_text *t, const uint8_t *p, uint64_t len, uint64_t stamp, char *why, size_t cap)
{
    uint32_t *df = NULL;
    uint64_t at = 24, v, nterms, ndocs, docs_at, st = 0;
    int rc = 1;
    if (len < 24 || memcmp(p, TMAGIC, 8) != 0) WHY("not a TEXT payload");
    uint32_t ver = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    uint32_t fl = (uint32_t)p[20] | (uint32_t)p[21] << 8 | (uint32_t)p[22] << 16 | (uint32_t)p[23] << 24;
    for (int b = 7; b >= 0; b--) st = st << 8 | p[12 + b];
    if (ver != TVERSION) WHY("TEXT version %u", ver);
    if (st != stamp) {              /* written before a later META commit: stale, not damaged */
        if (why && cap) why[0] = 0;
        rc = 1;
        goto bad;
    }
    if (fl != t->field_len || len - 24 < fl || memcmp(p + 24, t->field, fl) != 0) WHY("TEXT of another field");
    at += fl;
    if (!vget(p, len, &at, &nterms) || nterms > (len - at) / 2) WHY("TEXT term count");
    for (uint64_t i = 0; i < nterms; i++) {
        uint8_t w[VL_TEXT_MAX_TOKEN];
        uint32_t wat = 0;
        if (!vget(p, len, &at, &v) || v == 0 || v > VL_TEXT_MAX_TOKEN || v > len - at) WHY("TEXT term %llu length", (unsigned long long)i);
        uint32_t tl = (uint32_t)v;
        if (next_token(p + at, tl, &wat, w) != tl || wat != tl || memcmp(w, p + at, tl) != 0)
            WHY("TEXT term %llu is not a token", (unsigned long long)i);
        uint32_t id = term_add(t, p + at, tl);
        if (id == UINT32_MAX) { rc = VL_ENOMEM; goto bad; }
        if (id != i) WHY("TEXT term %llu repeats term %u", (unsigned long long)i, id);
        at += tl;
    }
    if (!vget(p, len, &at, &ndocs) || ndocs > (len - at) / 4) WHY("TEXT document count");
    if (!(df = vl_mem_calloc((size_t)(nterms ? nterms : 1), sizeof *df))) { rc = VL_ENOMEM; goto bad; }
    /* pass 1: structure, bounds, and the postings count of each term (live documents) */
    docs_at = at;
    uint64_t id = 0;
    for (uint64_t k = 0; k < ndocs; k++) {
        uint64_t gap, dl, nd, sum = 0, tid = 0;
        if (!vget(p, len, &at, &gap) || (k && (gap == 0 || gap > UINT64_MAX - id))) WHY("TEXT document %llu id", (unsigned long long)k);
        id = k ? id + gap : gap;
        if (!vget(p, len, &at, &dl) || dl == 0 || dl > UINT32_MAX || !vget(p, len, &at, &nd) || nd == 0 || nd > dl ||
            nd > (len - at) / 2)
            WHY("TEXT document %llu counts", (unsigned long long)k);
        uint32_t node = vl__index_live_node(h, id);
        for (uint64_t j = 0; j < nd; j++) {
            uint64_t tg, tf;
            if (!vget(p, len, &at, &tg) || (j && tg == 0) || tg >= nterms || tid + tg >= nterms ||
                !vget(p, len, &at, &tf) || tf == 0 || tf > dl - sum)
                WHY("TEXT document %llu term %llu", (unsigned long long)k, (unsigned long long)j);
            tid = j ? tid + tg : tg;
            sum += tf;
            if (node != UINT32_MAX) df[tid]++;
        }
        if (sum != dl) WHY("TEXT document %llu: %llu tokens, counts sum to %llu", (unsigned long long)k,
                           (unsigned long long)dl, (unsigned long long)sum);
    }
    if (at != len) WHY("TEXT has %llu bytes after its documents", (unsigned long long)(len - at));
    /* pass 2: build */
    for (uint64_t i = 0; i < nterms; i++) {
        if (!df[i]) continue;
        if (!(t->post[i] = vl_mem_alloc((size_t)df[i] * 2 * sizeof(uint32_t)))) { rc = VL_ENOMEM; goto bad; }
        t->pcap[i] = df[i];
    }
    uint32_t nc = 1024;
    while (nc < h->n) nc *= 2;
    t->ent = vl_mem_calloc(nc, sizeof *t->ent);
    t->nent = vl_mem_calloc(nc, sizeof *t->nent);
    t->dl = vl_mem_calloc(nc, sizeof *t->dl);
    if (!t->ent || !t->nent || !t->dl) { rc = VL_ENOMEM; goto bad; }
    t->ncap = nc;
    at = docs_at;
    id = 0;
    for (uint64_t k = 0; k < ndocs; k++) {
        uint64_t gap, dl, nd, tid = 0, tg, tf;
        (void)vget(p, len, &at, &gap);
        id = k ? id + gap : gap;
        (void)vget(p, len, &at, &dl);
        (void)vget(p, len, &at, &nd);
        uint32_t node = vl__index_live_node(h, id), slen = 0;
        uint32_t *e = NULL;
        if (node != UINT32_MAX) {
            if (!field_text(h, t, node, &slen)) WHY("TEXT document %llu: row %llu does not hold the field", (unsigned long long)k,
                                                   (unsigned long long)id);
            if (!(e = vl_mem_alloc((size_t)nd * 3 * sizeof *e))) { rc = VL_ENOMEM; goto bad; }
            t->ent[node] = e;
            t->nent[node] = (uint32_t)nd;
            t->dl[node] = (uint32_t)dl;
            t->docs++;
            t->total_len += dl;
        }
        uint64_t bytes = dl - 1;     /* the tokens and a separator between each two fit in the string */
        for (uint64_t j = 0; j < nd; j++) {
            (void)vget(p, len, &at, &tg);
            (void)vget(p, len, &at, &tf);
            tid = j ? tid + tg : tg;
            if (!e) continue;
            bytes += tf * t->tlen[tid];
            if (bytes > slen) WHY("TEXT document %llu: more token bytes than row %llu's text holds", (unsigned long long)k,
                                  (unsigned long long)id);
            uint32_t pos = t->pn[tid]++;
            t->dead -= !pos;
            t->post[tid][2 * pos] = node;
            t->post[tid][2 * pos + 1] = (uint32_t)tf;
            e[3 * j] = (uint32_t)tid;
            e[3 * j + 1] = (uint32_t)tf;
            e[3 * j + 2] = pos;
        }
    }
    /* live records holding the field that the payload does not list (rows of other writers) */
    for (uint32_t node = 0; node < h->n; node++)
        if (!t->nent[node] && index_node(h, t, node)) { rc = VL_ENOMEM; goto bad; }
    vl_mem_free(df);
    return VL_OK;
bad:
    vl_mem_free(df);
    free_data(t);
    return rc;
}
#undef WHY

int vl__text_set_adopt(vl_index *h, const char *field, uint32_t len, const uint8_t *p, uint64_t plen,
                       uint64_t stamp, int *adopted, char *why, size_t cap)
{
    *adopted = 0;
    if (!h) return VL_EINVAL;
    int rc = text_install(h, field, len);
    if (rc) return rc;
    if (p) {
        rc = adopt(h, h->text, p, plen, stamp, why, cap);
        if (rc == VL_OK) { *adopted = 1; return VL_OK; }
        if (rc == VL_ENOMEM && why && cap) snprintf(why, cap, "out of memory adopting the TEXT segment");
    }
    if (rebuild(h)) { vl__msg(h, "out of memory indexing the text field"); return VL_ENOMEM; }
    return VL_OK;
}
