/*
 * branch.c — rvf-node branch() children: COW_MAP / MEMBERSHIP codecs and
 * the parent check (layouts and invariants: branch.h).
 *
 * Every field of a hostile payload is bounded before it is used: lengths
 * against the payload, the bitmap against vector_count (so an id never
 * indexes past it), the path against VL_BRANCH_MAX_PATH and for NUL bytes.
 */
#include <stdio.h>
#include <string.h>
#include "branch.h"
#include "internal.h"
#include "rvf.h"

#define COW_FIXED   (64u + 17u)    /* header + the runtime's trailer before the path */
#define MEM_HDR     96u
#define TAIL_HASHED 65536u         /* the parent hash covers the last 64 KiB */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void wr64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static int why_set(char *why, uint32_t cap, int rc, const char *what)
{
    if (why && cap) snprintf(why, cap, "%s", what);
    return rc;
}

int vl_branch_parse_cow(vl_branch *b, const uint8_t *p, uint64_t n, char *why, uint32_t why_cap)
{
    if (n < COW_FIXED) return why_set(why, why_cap, VL_ECORRUPT, "COW_MAP payload is too short");
    if (rd32(p) != VL_BRANCH_COW_MAGIC) return why_set(why, why_cap, VL_ECORRUPT, "COW_MAP magic is not RVCM");
    if (rd16(p + 4) != 1)
        return why_set(why, why_cap, VL_EVERSION, "COW_MAP version is not 1: open it with a newer veclite");
    uint32_t plen = rd32(p + 64 + 9), mlen = rd32(p + 64 + 13);
    if (plen == 0 || plen > VL_BRANCH_MAX_PATH || plen > n - COW_FIXED || mlen != n - COW_FIXED - plen)
        return why_set(why, why_cap, VL_ECORRUPT, "COW_MAP parent path / map lengths do not match its payload");
    if (memchr(p + COW_FIXED, 0, plen))
        return why_set(why, why_cap, VL_ECORRUPT, "COW_MAP parent path contains a NUL byte");
    memcpy(b->parent_id, p + 16, 16);
    memcpy(b->parent_hash, p + 32, 32);
    memcpy(b->path, p + COW_FIXED, plen);
    b->path[plen] = 0;
    return VL_OK;
}

int vl_branch_parse_membership(vl_branch *b, const uint8_t *p, uint64_t n, char *why, uint32_t why_cap)
{
    if (n < MEM_HDR) return why_set(why, why_cap, VL_ECORRUPT, "MEMBERSHIP payload is too short");
    if (rd32(p) != VL_BRANCH_MEM_MAGIC) return why_set(why, why_cap, VL_ECORRUPT, "MEMBERSHIP magic is not RVMB");
    if (rd16(p + 4) != 1)
        return why_set(why, why_cap, VL_EVERSION, "MEMBERSHIP version is not 1: open it with a newer veclite");
    if (p[6] != 0)
        return why_set(why, why_cap, VL_EVERSION, "MEMBERSHIP filter is not a bitmap: open it with a newer veclite");
    if (p[7] > 1) return why_set(why, why_cap, VL_ECORRUPT, "MEMBERSHIP filter mode is neither include nor exclude");
    uint64_t vc = rd64(p + 8), off = rd64(p + 0x18), size = rd32(p + 0x20);
    uint64_t words = vc / 64 + (vc % 64 != 0);
    if (off < MEM_HDR || off > n || size > n - off || words > size / 8)
        return why_set(why, why_cap, VL_ECORRUPT, "MEMBERSHIP bitmap does not fit its payload");
    uint64_t *bits = vl_mem_alloc((size_t)(words ? words : 1) * 8);
    if (!bits) return why_set(why, why_cap, VL_ENOMEM, "out of memory for the MEMBERSHIP bitmap");
    for (uint64_t i = 0; i < words; i++) bits[i] = rd64(p + off + 8 * i);
    if (vc % 64 && words) bits[words - 1] &= (1ull << (vc % 64)) - 1;   /* no ids past vector_count */
    vl_mem_free(b->bits);
    b->bits = bits;
    b->nwords = words;
    b->vector_count = vc;
    b->exclude = p[7];
    memcpy(b->mem_hdr, p, MEM_HDR);
    return VL_OK;
}

static int has_bit(const vl_branch *b, uint64_t id)
{
    return id < b->vector_count && (b->bits[id / 64] >> (id % 64) & 1);
}

int vl_branch_visible(const vl_branch *b, uint64_t id)
{
    return b->exclude ? !has_bit(b, id) : has_bit(b, id);
}

int vl_branch_hide(vl_branch *b, uint64_t id)
{
    if (!vl_branch_visible(b, id)) return 0;
    if (id >= b->vector_count) return 0;   /* exclude mode past the bitmap: cannot be hidden here */
    b->bits[id / 64] ^= 1ull << (id % 64);
    return 1;
}

int vl_branch_encode_membership(const vl_branch *b, uint8_t **out, uint64_t *len)
{
    uint64_t n = MEM_HDR + b->nwords * 8;
    uint8_t *p = vl_mem_alloc((size_t)n);
    if (!p) return VL_ENOMEM;
    memcpy(p, b->mem_hdr, MEM_HDR);
    uint64_t members = 0;
    for (uint64_t i = 0; i < b->nwords; i++) {
        wr64(p + MEM_HDR + 8 * i, b->bits[i]);
        members += (uint64_t)__builtin_popcountll(b->bits[i]);
    }
    wr64(p + 0x10, members);
    wr64(p + 0x18, MEM_HDR);
    wr32(p + 0x20, (uint32_t)(b->nwords * 8));
    vl_rvf_fold32_once(p + MEM_HDR, b->nwords * 8, p + 0x28);   /* filter_hash */
    *out = p;
    *len = n;
    return VL_OK;
}

int vl_branch_check_parent(const vl_branch *b, vl_io *parent_io, const uint8_t parent_file_id[16],
                           char *why, uint32_t why_cap)
{
    if (memcmp(parent_file_id, b->parent_id, 16) != 0)
        return why_set(why, why_cap, VL_ECORRUPT, "the parent file is another store (its file id is not the "
                       "one the child was branched from)");
    uint64_t size;
    if (parent_io->size(parent_io->ctx, &size)) return why_set(why, why_cap, VL_EIO, "cannot read the parent's size");
    uint64_t n = size < TAIL_HASHED ? size : TAIL_HASHED;
    uint8_t *tail = vl_mem_alloc((size_t)(n ? n : 1));
    if (!tail) return why_set(why, why_cap, VL_ENOMEM, "out of memory");
    if (n && parent_io->read(parent_io->ctx, size - n, tail, (uint32_t)n)) {
        vl_mem_free(tail);
        return why_set(why, why_cap, VL_EIO, "cannot read the parent's last bytes");
    }
    uint8_t h[32];
    vl_rvf_fold32_once(tail, n, h);
    vl_mem_free(tail);
    if (memcmp(h, b->parent_hash, 32) != 0)
        return why_set(why, why_cap, VL_ECORRUPT, "the parent changed after the child was branched from it "
                       "(its last 64 KiB no longer hash to the value the child recorded; rvf-node refuses it "
                       "too: ParentHashMismatch); restore the parent as it was");
    return VL_OK;
}

void vl_branch_free(vl_branch *b)
{
    if (!b) return;
    vl_mem_free(b->bits);
    b->bits = NULL;
    b->nwords = 0;
}
