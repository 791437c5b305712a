/*
 * rvf_witness.c — the WITNESS chain of an .rvf file: the forward walk over
 * the segments from byte 0 (vl__rvf_witness_walk, also used by open to find
 * the chain head and by compaction to copy the history) and its checks
 * (vl_rvf_witness_chain, vl_rvf_verify_witness). Reads only.
 *
 * Witness chain. Every WITNESS carries prev_hash = fold32 of the payload of
 * the WITNESS before it in file order (zeros for the first): the chain lives
 * in the file, and the directory lists no witness at all. A reader finds
 * the chain by walking the segments forward from byte 0 (they are back to
 * back, docs/format.md §1) up to the committed manifest's end, stepping over
 * torn bytes another writer may have left inside the file (vl_rvf_witness_
 * chain). The chain head for the next commit is the newest WITNESS before
 * append_at: a kept tail witness (rvf.c, Open), else the newest one before the
 * committed manifest, found at open by walking back from the manifest one
 * segment at a time (find_head: witnesses are written right before their
 * manifest, so this is usually one small read), with the forward walk as
 * the fallback. Compaction copies every witness forward in order (found by
 * the forward walk), unlisted, then appends its "compact:" WITNESS,
 * unlisted too.
 */
#include <stddef.h>
#include <string.h>
#include "rvf_internal.h"

/* ====================================================================== */
/* Witness chain                                                           */
/* ====================================================================== */

#define WALK_WIN (64u << 10)

/* A read-ahead window over the device for the forward walk: most segments
 * are small, so one device read serves many headers. */
typedef struct rwin {
    uint8_t *buf;
    uint64_t off;
    uint32_t len;
} rwin;

/* Bytes [off, off + len) (len <= WALK_WIN, off + len <= limit <= device size). */
static int win_at(vl_rvf *h, rwin *w, uint64_t off, uint32_t len, uint64_t limit, const uint8_t **out)
{
    if (off >= w->off && off - w->off + len <= w->len) {
        *out = w->buf + (off - w->off);
        return VL_OK;
    }
    uint64_t n = limit - off < WALK_WIN ? limit - off : WALK_WIN;
    int rc = vl__rvf_dev_read(h, off, w->buf, n);
    if (rc) { w->len = 0; return rc; }
    w->off = off;
    w->len = (uint32_t)n;
    *out = w->buf;
    return VL_OK;
}

/* 1 if a plausible segment header starts at pos: magic, version 1, and a
 * payload that ends by limit. */
static int walk_header_ok(const uint8_t *b, uint64_t pos, uint64_t limit)
{
    return rd32(b) == VL_RVF_MAGIC && b[4] == VL_RVF_VERSION && rd64(b + 16) <= limit - pos - 64;
}

static int is_zero32(const uint8_t *p)
{
    for (int i = 0; i < 32; i++) if (p[i]) return 0;
    return 1;
}

/* wit_fn (declared with find_head) is called for each WITNESS of the walk
 * (hash verified, parsed): hdr is its 64-byte header as stored, p its
 * payload. */

/* Walk the segments of [0, limit) forward (docs/format.md §1: back to back) and
 * check every WITNESS in file order against the one before it. A segment
 * counts when its header is plausible and the next header (or limit)
 * follows its payload; anything else (torn bytes another writer left
 * inside the file) is stepped over up to the next plausible header and
 * counted in skipped. Errors: VL_ECORRUPT (a whole WITNESS whose hash does
 * not verify, that does not parse, or that uses a checksum_algo or
 * compression this build cannot verify), VL_EBUDGET (a witness over
 * VL_RVF_MAX_WITNESS), VL_EIO, VL_ENOMEM, or fn's code. */
int vl__rvf_witness_walk(vl_rvf *h, uint64_t limit, wit_fn fn, void *ctx, vl_rvf_witness_report *r)
{
    memset(r, 0, sizeof *r);
    r->intact = 1;
    r->end = limit;
    rwin w = { vl_mem_alloc(WALK_WIN), 0, 0 };
    if (!w.buf) return vl__rvf_fail(h, VL_ENOMEM, "out of memory walking the witness chain");
    uint8_t *big = NULL;
    uint64_t pos = 0;
    int rc = VL_OK;
    while (limit - pos >= 64) {
        const uint8_t *b;
        if ((rc = win_at(h, &w, pos, 64, limit, &b))) break;
        int ok = walk_header_ok(b, pos, limit);
        uint64_t plen = ok ? rd64(b + 16) : 0, next = pos + 64 + plen;
        uint8_t hdr[64];
        if (ok) memcpy(hdr, b, 64);
        if (ok && next != limit) {
            const uint8_t *nb;
            if (limit - next < 64) ok = 0;
            else if ((rc = win_at(h, &w, next, 64, limit, &nb))) break;
            else ok = walk_header_ok(nb, next, limit);
        }
        if (!ok) {   /* torn bytes: resume at the next plausible header */
            uint64_t q = pos + 1;
            for (; limit - q >= 64; q++) {
                const uint8_t *qb;
                if ((rc = win_at(h, &w, q, 64, limit, &qb))) break;
                if (walk_header_ok(qb, q, limit)) break;
            }
            if (rc) break;
            if (limit - q < 64) q = limit;
            r->skipped += q - pos;
            pos = q;
            continue;
        }
        if (hdr[5] == VL_RVF_SEG_WITNESS) {
            if (plen > VL_RVF_MAX_WITNESS) {
                rc = vl__rvf_fail(h, VL_EBUDGET, "witness segment at offset %llu has a %llu-byte payload; "
                                  "this build reads at most %u", (unsigned long long)pos,
                                  (unsigned long long)plen, VL_RVF_MAX_WITNESS);
                break;
            }
            const uint8_t *p;
            if (plen <= WALK_WIN) {
                if ((rc = win_at(h, &w, pos + 64, (uint32_t)plen, limit, &p))) break;
            } else {
                vl_mem_free(big);
                if (!(big = vl_mem_alloc((size_t)plen))) {
                    rc = vl__rvf_fail(h, VL_ENOMEM, "out of memory reading a witness");
                    break;
                }
                if ((rc = vl__rvf_dev_read(h, pos + 64, big, plen))) break;
                p = big;
            }
            vl_rvf_header hd;
            vl_rvf_header_decode(hdr, &hd);
            if (hd.checksum_algo != 0 || hd.compression != 0) {
                rc = vl__rvf_fail(h, VL_ECORRUPT, "witness segment %llu at offset %llu uses checksum_algo %u, "
                                  "compression %u: it cannot be verified", (unsigned long long)hd.segment_id,
                                  (unsigned long long)pos, hd.checksum_algo, hd.compression);
                break;
            }
            if (!vl__rvf_hash_ok(hd.content_hash, vl_crc32(0, p, (size_t)plen))) {
                rc = vl__rvf_fail(h, VL_ECORRUPT, "witness segment %llu at offset %llu: content hash mismatch",
                                  (unsigned long long)hd.segment_id, (unsigned long long)pos);
                break;
            }
            if (plen < 45 || rd32(p + 9) != plen - 45) {
                rc = vl__rvf_fail(h, VL_ECORRUPT, "witness segment %llu at offset %llu does not parse",
                                  (unsigned long long)hd.segment_id, (unsigned long long)pos);
                break;
            }
            const uint8_t *prev = p + plen - 32;
            if (r->entries == 0 ? !is_zero32(prev)
                                : !is_zero32(prev) && memcmp(prev, r->last_hash, 32) != 0)
                r->breaks++;
            else if (r->entries > 0 && is_zero32(prev))
                r->restarts++;
            if (r->entries < UINT32_MAX) r->entries++;
            vl_rvf_fold32_once(p, plen, r->last_hash);
            if (fn && (rc = fn(h, ctx, pos, hdr, p, plen))) break;
        }
        pos = next;
    }
    r->intact = r->breaks == 0 && r->restarts == 0;
    vl_mem_free(big);
    vl_mem_free(w.buf);
    return rc;
}

int vl_rvf_witness_chain(vl_rvf *h, vl_rvf_witness_report *out)
{
    vl_rvf_witness_report r;
    if (!out) return vl__rvf_fail(h, VL_EINVAL, "vl_rvf_witness_chain: NULL report");
    int rc = vl__rvf_witness_walk(h, h->committed_end, NULL, NULL, &r);
    if (rc == VL_OK) *out = r;
    return rc;
}

int vl_rvf_verify_witness(vl_rvf *h, uint32_t *entries, uint32_t *valid)
{
    vl_rvf_witness_report r;
    int rc = vl__rvf_witness_walk(h, h->committed_end, NULL, NULL, &r);
    if (rc) return rc;
    if (entries) *entries = r.entries;
    if (valid) *valid = r.intact;
    return VL_OK;
}
