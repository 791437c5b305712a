/*
 * rvf.c — the .rvf file format: reading, committing and compacting a
 * collection stored as segments (docs/format.md; API in rvf.h).
 *
 * How it fits: the engine (index.c/hnsw.c) keeps vectors and the graph in
 * memory; this file is the durable log behind it. It sees storage only
 * through vl_io (io.h) — memory, POSIX, OPFS or IndexedDB devices — and
 * never updates a byte in place.
 *
 * ======================================================================
 * Byte layout (little-endian, no file header, no padding between segments)
 * ======================================================================
 *
 *   segment = header[64] payload[payload_length]; the next one starts at
 *             offset + 64 + payload_length.
 *   header  = u32 magic 0x52564653 | u8 version 1 | u8 seg_type | u16 flags 0 |
 *             u64 segment_id | u64 payload_length | u64 timestamp_ns 0 |
 *             u8 checksum_algo 0 | u8 compression 0 | u16 0 | u32 0 |
 *             [16] content_hash | u32 uncompressed_len 0 | u32 alignment_pad 0
 *   content_hash = LE32(c) LE32(rotl(c,8)) LE32(rotl(c,16)) LE32(rotl(c,24)),
 *             c = CRC-32/IEEE of the payload; all zeros = unset.
 *
 *   VEC 0x01      u16 dim | u32 count | count x { u64 id | f32[dim] }
 *   JOURNAL 0x04  u32 n | u32 new_epoch | u64 0 | n x { u8 1 | u8 0 | u16 8 | u64 id }
 *   WITNESS 0x0A  u8 type (1 ingest/compact, 0 delete) | u64 timestamp_ns |
 *                 u32 len | action[len] | [32] prev_hash = fold32(previous payload)
 *   MANIFEST 0x05 u32 epoch | u16 dim | u64 total_vectors | u32 seg_count |
 *                 u8 profile | u8 metric | u16 0 |
 *                 seg_count x { u64 seg_id | u64 offset | u64 payload_length | u8 type } |
 *                 u32 del_count | del_count x u64 (ascending) |
 *                 [ u32 "FIDI" 0x46494449 | [16] file_id | [16] parent_id |
 *                   [32] parent_hash | u32 lineage_depth ]
 *
 * Hex example: the epoch-0 MANIFEST that create() writes for a dim-8 L2
 * store (tests/golden/rvf/small.rvf, bytes 0..161, written by rvf-node):
 *
 *   00: 53 46 56 52 01 05 00 00  01 00 00 00 00 00 00 00   "SFVR" v1 MANIFEST, seg 1
 *   10: 62 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00   payload 98, ts 0
 *   20: 00 00 00 00 00 00 00 00  7b 5f f3 db db 7b 5f f3   algo 0, comp 0 | hash
 *   30: f3 db 7b 5f 5f f3 db 7b  00 00 00 00 00 00 00 00   (crc 0xdbf35f7b, rotated)
 *   40: 00 00 00 00 08 00 00 00  00 00 00 00 00 00 00 00   epoch 0, dim 8, total 0
 *   50: 00 00 00 00 00 00 00 00  00 00 49 44 49 46 41 ef   segs 0, profile 0, metric 0,
 *   60: a1 b4 65 47 be 56 c9 19  db 00 57 e4 94 db 00 00   del 0, "FIDI", file_id ...
 *   70..a1: parent_id 0, parent_hash 0, lineage_depth 0
 *
 * ======================================================================
 * History of format versions
 * ======================================================================
 *   segment version 1 — the rvf-node 0.2.x "runtime" format above (2025).
 *     Metric byte (manifest offset 19) was reserved zero before rvf-node
 *     stored it; 0 decodes as L2, so older files read correctly.
 *   Anything else (version byte != 1, checksum_algo != 0, compression != 0,
 *   metric > 2) is refused with VL_EVERSION naming what is needed: a newer
 *   writer's commit must never be silently skipped and then forked.
 *
 * ======================================================================
 * Open (docs/format.md §5)
 * ======================================================================
 * Scan backwards from EOF for "SFVR" with seg_type 5, first over the last
 * 64 KiB, then in 1 MiB blocks down to byte 0 (the 64K/1M/16M/whole-file
 * windows of rvf-runtime pick the same candidate: the valid one nearest EOF;
 * reading fixed blocks bounds memory). A candidate commits when its payload
 * lies inside the file, parses, and its content_hash verifies. Everything
 * after it is an uncommitted tail: torn writes are invisible.
 * Uncommitted tail: append_at (where the next segment goes) is the end of
 * the committed manifest plus any run of complete WITNESS segments right
 * after it (rvf-node writes its compaction WITNESS after the manifest that
 * commits the compaction). Everything beyond, torn or complete (the VEC,
 * META, WITNESS of a commit whose MANIFEST never landed), is cut off by the
 * first commit of a writable handle (fix_tail) before anything is
 * appended. So segment ids stay unique (docs/format.md §2: the next id is above
 * the directory, the manifest and the kept witnesses, which is above every
 * id up to append_at) and the chain holds no witness of an uncommitted
 * commit.
 * Then every directory segment must lie wholly before the manifest, carry a
 * readable header of the listed type and length, and VEC segments must
 * verify: a damaged committed segment is VL_ECORRUPT, never a silent
 * rollback (only the manifest itself is allowed to be "torn").
 *
 * ======================================================================
 * Commit (docs/format.md §6) and what the directory lists
 * ======================================================================
 * ingest:  VEC* [merged VEC] WITNESS | sync | MANIFEST | sync
 * delete:  JOURNAL WITNESS | sync | MANIFEST | sync
 * Two syncs, because a file system may persist appended blocks out of
 * order: without the first one a crash could leave a valid MANIFEST whose
 * VEC bytes never reached the disk — indistinguishable from corruption.
 *
 * Upstream lists every segment ever written (old manifests included), so a
 * file grows O(commits^2) (docs/format.md §8). Here the directory lists only
 * what the committed state needs, and its length grows with the live data,
 * not with the number of commits:
 *   - VEC segments that still hold the winning row of a live id, kept few
 *     by the tiered merge below. A segment whose rows were all superseded
 *     or deleted is dropped, and a deleted id leaves the deleted list once
 *     no listed VEC segment holds a row of it (it can no longer be loaded,
 *     so it needs no tombstone). This is why every loaded id remembers
 *     nseg, the number of listed VEC segments that contain it.
 *   - no WITNESS (see "Witness chain" below);
 *   - every segment of a type this layer does not interpret (META, kernels,
 *     COW maps...), carried forward unchanged, also through compaction.
 * Not listed: MANIFEST (never itself), JOURNAL (readers use the deleted
 * list, not journals), WITNESS (the chain is in the file), INDEX (rvf-node's HNSW cache goes stale once rows
 * change; rvf-node rebuilds it lazily, so it is dropped on the first commit
 * that changes rows and never compacted; vl_rvf_commit's keep_index keeps
 * the store's own).
 *
 * Tiered merge of VEC segments (a binary counter). Listed VEC segments, in
 * directory order, are tiers whose live row counts shrink towards the end.
 * After an ingest's rows are applied, the newest segments are merged while
 * the group being merged (starting with the newest segment) has at least
 * half as many live rows as the segment before it and the merged payload
 * stays <= VL_RVF_VEC_TARGET (larger groups stop there: big segments
 * stay). A merge writes ONE new VEC segment, in the same commit before the
 * WITNESS, holding exactly the winning live rows of the merged segments
 * (superseded and deleted rows are dropped; listed rows are copied byte
 * for byte, the batch's rows come from memory), and lists it at the end of
 * the directory in their place. Placing it last keeps every winner: none of
 * its ids has a row in a later listed segment (such a row would have been
 * the winner). A batch segment that would be merged at once is never
 * written separately. The merged-away segments become dead bytes, reclaimed
 * by compaction. So the directory holds O(log n) VEC segments (plus one per
 * VL_RVF_VEC_TARGET bytes of data) and each row is rewritten O(log n)
 * times: O(n log n) bytes for n single-row commits, not O(n^2).
 * Only VEC segments merge; segments of other types (META, INDEX, COW_MAP,
 * unknown) are never merged nor moved by it. A merge moves unchanged rows
 * to a higher file offset.
 *
 * INDEX coverage. The store's loader treats the newest listed INDEX as
 * covering exactly the rows in VEC segments before it, and inserts the
 * others into the loaded graph. So that a crash costs only the rows
 * written since the INDEX, a commit with keep_index never merges (moves)
 * a VEC segment that lies before the newest listed INDEX: merges stop at
 * it, and the segments after it form their own tiers. A commit that
 * carries a new INDEX (a checkpoint) lifts that barrier: the segments
 * written since the old INDEX join the merge group as a whole (as if they
 * had arrived as one batch) and the usual rule extends the group over the
 * older tiers; the merged VEC is written before the new INDEX, so its rows
 * are covered. Between checkpoints the directory holds two binary
 * counters (O(log n) + O(log rows-since-INDEX) VEC segments), and each
 * checkpoint folds them into one. vl_rvf_ingest (no keep_index) drops the
 * INDEX and has no barrier.
 *
 * Witness chain. Every WITNESS carries prev_hash = fold32 of the payload of
 * the WITNESS before it in file order (zeros for the first): the chain lives
 * in the file, and the directory lists no witness at all. A reader finds
 * the chain by walking the segments forward from byte 0 (they are back to
 * back, docs/format.md §1) up to the committed manifest's end, stepping over
 * torn bytes another writer may have left inside the file (vl_rvf_witness_
 * chain). The chain head for the next commit is the newest WITNESS before
 * append_at: a kept tail witness (above), else the newest one before the
 * committed manifest, found at open by walking back from the manifest one
 * segment at a time (find_head: witnesses are written right before their
 * manifest, so this is usually one small read), with the forward walk as
 * the fallback. Compaction copies every witness forward in order (found by
 * the forward walk), unlisted, then appends its "compact:" WITNESS,
 * unlisted too.
 *
 * ======================================================================
 * History of format decisions
 * ======================================================================
 *   - The directory lists only live state (VEC segments with live rows,
 *     foreign segments), never old manifests or journals: upstream's "list
 *     everything ever written" made a file of 3000 single-row commits
 *     338 MB (docs/format.md §8).
 *   - Until the tiered merge (Nov 2026) this layer listed EVERY witness and
 *     every VEC segment with a live row: 2 x 25 bytes per single-row commit
 *     in every later manifest, 226 MB after 3000 single-row commits (dim 8)
 *     and 2.5 GB after 10,000. Then, for a short while, only the newest
 *     WITNESS was listed and VEC segments merge in tiers: 2.5 MB after 3000
 *     such commits, 8.7 MB after 10,000, with a directory of <= log2(n) + 2
 *     entries.
 *   - Listing only the newest WITNESS broke the rule newer upstream
 *     runtimes enforce on open (every listed WITNESS carries fold32 of the
 *     previous LISTED one, the first zeros; a file that breaks it is
 *     refused): the one listed witness links to an earlier, unlisted one.
 *     So (Nov 2026) the directory lists NO witness: a directory without
 *     witnesses satisfies that rule trivially, and the chain stays whole
 *     in file order, where vl_rvf_witness_chain walks it. Consequences:
 *       * the chain head is found in the file at open (find_head), not in
 *         the directory;
 *       * the first commit on an older file of ours, or on an rvf-node file
 *         (rvf-node lists every witness, and its 0.2.x chain restarts at
 *         zeros in each session), unlists the listed witnesses: they stay
 *         in the file, in the chain. Keeping them listed would have made
 *         our directories fail the rule whenever rvf-node's chain restarts
 *         inside the list; dropping them makes every directory we write
 *         pass it. (A file rvf-node appended to keeps a restart in its file
 *         chain, which vl_rvf_witness_chain reports; nothing can repair it
 *         without rewriting rvf-node's witnesses.)
 *       * rvf-node 0.2.x does not read witnesses and opens these files.
 *   - A crash can leave a commit's data segments and WITNESS complete in
 *     the file without their MANIFEST. The next writer used to keep them
 *     (the witness became the chain head) and reused their segment ids,
 *     and a later commit without a witness (an INDEX checkpoint) made the
 *     next open link past that witness: a broken chain. Since Nov 2026
 *     everything after the committed manifest is cut off by the next
 *     writer, except the run of complete WITNESS segments directly after
 *     it (rvf-node's post-manifest compaction witness): truncation is what
 *     a torn tail gets anyway, it keeps ids unique, and the chain then
 *     records committed operations only.
 *   - Compaction keeps the whole witness history (copied, unlisted), as
 *     rvf-node's compaction keeps (and lists) it.

 * Hostile files: every length is checked against the file size before it
 * is used, listed segments must be disjoint byte ranges before the manifest
 * (so reading and indexing them costs at most one pass over the file), the
 * backward scan has a hashing budget of 2 x file size, and allocations are
 * bounded by those sizes and the VL_RVF_MAX_* caps.
 *
 * Invariants of a handle (checked by the tests through the public API):
 *   - ents[] holds exactly the ids loaded from listed VEC segments; idmap
 *     maps id -> index in ents[]. A live entry has del_pos == NONE and seg
 *     = ordinal of the listed VEC segment holding its winning row (row =
 *     index inside it). A deleted entry has del[del_pos] == id; its seg may
 *     be NONE once the winning segment was dropped.
 *   - vecs[k].live_refs = number of live entries whose seg == k;
 *     vecs[k].ids = the distinct ids of segment k (while listed).
 *   - entry.nseg = number of listed VEC segments whose ids contain it (>= 1).
 *   - Nothing before append_at is ever written again.
 * Errors during a durable write poison the handle (docs/conventions.md §2): the
 * in-memory state may then be ahead of the file, so only free() is safe.
 *
 * Failed means failed. A commit that fails after it started writing (any
 * append or sync of its data or manifest phase) is rolled back before the
 * error returns: the device is truncated to where the commit began (the
 * end of the previous commit) and synced (rollback). Why: a sync that
 * fails after the MANIFEST was appended may still have put that manifest
 * on disk, and an append that "failed" may have written everything; a
 * reopen would then show a write the caller was told had failed. Outcome
 * (vl_rvf_write_outcome):
 *   VL_OUTCOME_NOT_WRITTEN  truncate and sync succeeded: the file ends at
 *                           the previous commit, nothing of the write is
 *                           in it, durably (also when the commit failed
 *                           before it appended anything: fix_tail);
 *   VL_OUTCOME_UNKNOWN      the undo failed too: after a reopen the file
 *                           holds the previous commit or the whole failed
 *                           write (a commit is one manifest, so never a
 *                           part of it), and the message says so.
 * Either way the handle stays poisoned (memory is ahead of the file).
 * A reader that opened the file between the manifest's append and the
 * rollback may have seen the rolled-back commit; its later reads of those
 * bytes fail (the image checks of vl_rvf_check_image report it).
 */
#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rvf.h"
#include "crc32.h"
#include "internal.h"

/* ---- the header struct is the disk layout (docs/conventions.md §2: pin with static_assert) ---- */
static_assert(sizeof(vl_rvf_header) == 64, "segment header is 64 bytes");
static_assert(offsetof(vl_rvf_header, magic) == 0x00, "magic @0x00");
static_assert(offsetof(vl_rvf_header, version) == 0x04, "version @0x04");
static_assert(offsetof(vl_rvf_header, seg_type) == 0x05, "seg_type @0x05");
static_assert(offsetof(vl_rvf_header, flags) == 0x06, "flags @0x06");
static_assert(offsetof(vl_rvf_header, segment_id) == 0x08, "segment_id @0x08");
static_assert(offsetof(vl_rvf_header, payload_length) == 0x10, "payload_length @0x10");
static_assert(offsetof(vl_rvf_header, timestamp_ns) == 0x18, "timestamp_ns @0x18");
static_assert(offsetof(vl_rvf_header, checksum_algo) == 0x20, "checksum_algo @0x20");
static_assert(offsetof(vl_rvf_header, compression) == 0x21, "compression @0x21");
static_assert(offsetof(vl_rvf_header, reserved0) == 0x22, "reserved0 @0x22");
static_assert(offsetof(vl_rvf_header, reserved1) == 0x24, "reserved1 @0x24");
static_assert(offsetof(vl_rvf_header, content_hash) == 0x28, "content_hash @0x28");
static_assert(offsetof(vl_rvf_header, uncompressed_len) == 0x38, "uncompressed_len @0x38");
static_assert(offsetof(vl_rvf_header, alignment_pad) == 0x3C, "alignment_pad @0x3C");
static_assert(sizeof(float) == 4, "f32 rows");

#define NONE        UINT32_MAX
#define FIDI_MAGIC  0x46494449u
#define MAN_FIXED   22u            /* manifest bytes before the directory */
#define DIRENT_SIZE 25u
#define FIDI_SIZE   72u            /* marker + 68 */
#define IO_CHUNK    (1u << 20)     /* bytes per device read when streaming */
#define TAIL_FIRST  (64u << 10)    /* first backward-scan window */
#define MAX_ENTRIES (1u << 30)     /* distinct loaded ids (idmap keeps load <= 1/2 of 2^31) */

/* ====================================================================== */
/* Little-endian helpers                                                   */
/* ====================================================================== */

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }
static inline float rdf(const uint8_t *p) { uint32_t u = rd32(p); float f; memcpy(&f, &u, 4); return f; }
static inline void wrf(uint8_t *p, float f) { uint32_t u; memcpy(&u, &f, 4); wr32(p, u); }
static inline uint32_t rotl32(uint32_t x, unsigned r) { return r ? (x << r) | (x >> (32 - r)) : x; }

/* ====================================================================== */
/* Header, content hash, fold32                                            */
/* ====================================================================== */

void vl_rvf_header_encode(const vl_rvf_header *h, uint8_t out[64])
{
    wr32(out + 0x00, h->magic);
    out[0x04] = h->version;
    out[0x05] = h->seg_type;
    wr16(out + 0x06, h->flags);
    wr64(out + 0x08, h->segment_id);
    wr64(out + 0x10, h->payload_length);
    wr64(out + 0x18, h->timestamp_ns);
    out[0x20] = h->checksum_algo;
    out[0x21] = h->compression;
    wr16(out + 0x22, h->reserved0);
    wr32(out + 0x24, h->reserved1);
    memcpy(out + 0x28, h->content_hash, 16);
    wr32(out + 0x38, h->uncompressed_len);
    wr32(out + 0x3C, h->alignment_pad);
}

void vl_rvf_header_decode(const uint8_t in[64], vl_rvf_header *h)
{
    h->magic = rd32(in + 0x00);
    h->version = in[0x04];
    h->seg_type = in[0x05];
    h->flags = rd16(in + 0x06);
    h->segment_id = rd64(in + 0x08);
    h->payload_length = rd64(in + 0x10);
    h->timestamp_ns = rd64(in + 0x18);
    h->checksum_algo = in[0x20];
    h->compression = in[0x21];
    h->reserved0 = rd16(in + 0x22);
    h->reserved1 = rd32(in + 0x24);
    memcpy(h->content_hash, in + 0x28, 16);
    h->uncompressed_len = rd32(in + 0x38);
    h->alignment_pad = rd32(in + 0x3C);
}

static void put_msg(char *msg, uint32_t cap, const char *fmt, ...)
{
    if (!msg || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
}

int vl_rvf_header_check(const vl_rvf_header *h, uint64_t off, char *msg, uint32_t cap)
{
    unsigned long long o = (unsigned long long)off;
    if (h->magic != VL_RVF_MAGIC) {
        put_msg(msg, cap, "no segment header at offset %llu (bad magic 0x%08x)", o, (unsigned)h->magic);
        return VL_ECORRUPT;
    }
    if (h->version != VL_RVF_VERSION) {
        put_msg(msg, cap, "segment at offset %llu has format version %u; this veclite reads "
                "version 1 only: open it with a newer veclite", o, (unsigned)h->version);
        return VL_EVERSION;
    }
    if (h->checksum_algo != 0) {
        put_msg(msg, cap, "segment at offset %llu uses checksum_algo %u; this veclite knows only "
                "0 (CRC-32): open it with a newer veclite", o, (unsigned)h->checksum_algo);
        return VL_EVERSION;
    }
    if (h->compression != 0) {
        put_msg(msg, cap, "segment at offset %llu uses compression %u; this veclite reads only "
                "uncompressed segments: open it with a newer veclite", o, (unsigned)h->compression);
        return VL_EVERSION;
    }
    return VL_OK;
}

void vl_rvf_content_hash(uint32_t crc, uint8_t out[16])
{
    for (unsigned i = 0; i < 4; i++) wr32(out + 4 * i, rotl32(crc, 8 * i));
}

static int hash_is_unset(const uint8_t h[16])
{
    for (int i = 0; i < 16; i++) if (h[i]) return 0;
    return 1;
}

/* 1 if the stored hash is unset or matches crc.
 * Fuzzing builds may define VL_FUZZ_SKIP_HASH so mutated inputs get past
 * the CRC into the parsers behind it (tests/fuzz/fuzz_open.c); never set
 * it anywhere else. */
static int hash_ok(const uint8_t stored[16], uint32_t crc)
{
#ifdef VL_FUZZ_SKIP_HASH
    (void)stored; (void)crc;
    return 1;
#endif
    uint8_t want[16];
    if (hash_is_unset(stored)) return 1;
    vl_rvf_content_hash(crc, want);
    return memcmp(want, stored, 16) == 0;
}

void vl_rvf_fold32_init(vl_rvf_fold32 *f) { memset(f, 0, sizeof *f); }

void vl_rvf_fold32_update(vl_rvf_fold32 *f, const uint8_t *data, uint64_t len)
{
    uint8_t *out = f->out;
    for (uint64_t k = 0; k < len; k++) {
        uint32_t a = (uint32_t)(f->pos % 32), j = (uint32_t)((f->pos + 13) % 32);
        out[a] = (uint8_t)(out[a] + data[k]);
        uint8_t x = out[a];
        out[j] = (uint8_t)(out[j] + (uint8_t)((x << 3) | (x >> 5)));
        f->pos++;
    }
}

void vl_rvf_fold32_once(const uint8_t *data, uint64_t len, uint8_t out[32])
{
    vl_rvf_fold32 f;
    vl_rvf_fold32_init(&f);
    vl_rvf_fold32_update(&f, data, len);
    memcpy(out, f.out, 32);
}

/* ====================================================================== */
/* Handle                                                                  */
/* ====================================================================== */

typedef struct dent {              /* directory entry */
    uint64_t seg_id, offset, plen;
    uint32_t type;
    uint32_t vec;                  /* VEC: ordinal in vecs[], else NONE */
} dent;

typedef struct vecseg {            /* a VEC segment this session has seen */
    uint64_t *ids;                 /* distinct ids, first-occurrence order (NULL once dropped) */
    uint32_t nids;
    uint32_t count;                /* rows */
    uint32_t live_refs;            /* live entries whose winning row is here */
    uint32_t listed;               /* still in the directory */
    /* Set once this handle has read the whole payload back from the device
     * and its CRC matched (load): later scans of the same bytes (same
     * offset, length and stored hash, re-read from the header) skip the
     * hash, so a store open verifies every VEC payload once, not twice. */
    uint32_t verified;
    uint64_t v_off, v_len;
    uint8_t v_hash[16];
} vecseg;

typedef struct entry {             /* one loaded id */
    uint64_t id;
    uint32_t seg;                  /* vecs ordinal of the winning row, or NONE */
    uint32_t row;                  /* row index inside that segment */
    uint32_t nseg;                 /* listed VEC segments containing the id */
    uint32_t del_pos;              /* index in del[] if deleted, else NONE */
} entry;

struct vl_rvf {
    vl_io *io;
    uint32_t dim, metric, epoch, profile, depth, flags;
    uint8_t file_id[16], parent_id[16], parent_hash[32], wit_hash[32];
    uint32_t n_witness;
    uint64_t next_seg_id, manifest_offset, committed_end, append_at;

    dent *dir;    uint32_t ndir, cap_dir;
    vecseg *vecs; uint32_t nvecs, cap_vecs;
    entry *ents;  uint32_t nents, cap_ents;
    uint64_t *del; uint32_t ndel, cap_del;
    vl_idmap map;

    int poisoned;
    int outcome;                   /* VL_OUTCOME_* of the last failed write */
    uint32_t man_crc;              /* CRC-32 of the committed manifest's payload */
    uint8_t man_hdr[64];           /* its header as opened or refreshed (vl_rvf_refresh checks
                                      that the bytes there are still this header) */
    char msg[256];
};

static int fail(vl_rvf *h, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    va_end(ap);
    return rc;
}

/* A durable write failed: from now on the in-memory state may be ahead of
 * the file. */
static int poison(vl_rvf *h, int rc, const char *what)
{
    h->poisoned = 1;
    return fail(h, rc, "%s failed (%d); the store handle is now unusable: reopen it", what, rc);
}

static vl_rvf *handle_new(vl_io *io)
{
    vl_rvf *h = vl_mem_calloc(1, sizeof *h);
    if (!h) return NULL;
    h->io = io;
    h->next_seg_id = 1;
    return h;
}

void vl_rvf_free(vl_rvf *h)
{
    if (!h) return;
    for (uint32_t k = 0; k < h->nvecs; k++) vl_mem_free(h->vecs[k].ids);
    vl_mem_free(h->vecs);
    vl_mem_free(h->dir);
    vl_mem_free(h->ents);
    vl_mem_free(h->del);
    vl_idmap_free(&h->map);
    vl_mem_free(h);
}

const char *vl_rvf_errmsg(const vl_rvf *h)
{
    return h ? h->msg : "no store handle";
}

vl_io *vl_rvf_io(const vl_rvf *h) { return h->io; }

int vl_rvf_set_dim(vl_rvf *h, uint32_t dim)
{
    if (h->poisoned) return fail(h, VL_EFATAL, "store handle is poisoned by an earlier failed write");
    if (dim > 65535) return fail(h, VL_EINVAL, "dimension %u is over 65535", dim);
    if (dim == h->dim) return VL_OK;
    if (h->dim != 0 && dim != 0)
        return fail(h, VL_EINVAL, "the store has dimension %u; only a dimension-0 store takes a new one",
                    h->dim);
    for (uint32_t i = 0; i < h->ndir; i++)
        if (h->dir[i].type == VL_RVF_SEG_VEC)
            return fail(h, VL_EINVAL, "the store already holds vectors of dimension %u", h->dim);
    h->dim = dim;
    return VL_OK;
}

void vl_rvf_info_get(const vl_rvf *h, vl_rvf_info *o)
{
    memset(o, 0, sizeof *o);
    o->dim = h->dim;
    o->metric = h->metric;
    o->epoch = h->epoch;
    o->profile = h->profile;
    o->lineage_depth = h->depth;
    o->flags = h->flags;
    memcpy(o->file_id, h->file_id, 16);
    memcpy(o->parent_id, h->parent_id, 16);
    memcpy(o->parent_hash, h->parent_hash, 32);
    memcpy(o->last_witness_hash, h->wit_hash, 32);
    o->witness_count = h->n_witness;
    o->dir_count = h->ndir;
    o->next_seg_id = h->next_seg_id;
    o->loaded = h->nents;
    o->deleted = h->ndel;
    o->live = (uint64_t)h->nents - h->ndel;
    o->manifest_offset = h->manifest_offset;
    o->committed_end = h->committed_end;
    o->append_at = h->append_at;
}

int vl_rvf_dir(const vl_rvf *h, uint32_t i, vl_rvf_dirent *out)
{
    if (i >= h->ndir) return VL_EINVAL;
    out->seg_id = h->dir[i].seg_id;
    out->offset = h->dir[i].offset;
    out->payload_length = h->dir[i].plen;
    out->seg_type = h->dir[i].type;
    return VL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t vl_rvf_deleted_ids(const vl_rvf *h, uint64_t *out, uint64_t cap)
{
    if (out && cap >= h->ndel) {
        if (h->ndel) memcpy(out, h->del, (size_t)h->ndel * sizeof *out);
        qsort(out, h->ndel, sizeof *out, cmp_u64);
    } else if (out && cap) {
        /* partial request: sort a copy */
        uint64_t *tmp = vl_mem_alloc((size_t)h->ndel * sizeof *tmp);
        if (tmp) {
            memcpy(tmp, h->del, (size_t)h->ndel * sizeof *tmp);
            qsort(tmp, h->ndel, sizeof *tmp, cmp_u64);
            memcpy(out, tmp, (size_t)cap * sizeof *out);
            vl_mem_free(tmp);
        }
    }
    return h->ndel;
}

int vl_rvf_is_live(const vl_rvf *h, uint64_t id)
{
    uint32_t i = vl_idmap_get(&h->map, id);
    return i != VL_NO_NODE && h->ents[i].del_pos == NONE;
}

/* ---- growable arrays (reserve before mutating, so mutation cannot fail) ---- */

static int grow(void **p, uint32_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap) return VL_OK;
    uint64_t nc = *cap ? *cap : 8;
    while (nc < need) nc *= 2;
    if (nc > UINT32_MAX) nc = UINT32_MAX;
    if (nc < need || nc > SIZE_MAX / elem) return VL_ENOMEM;
    void *q = vl_mem_realloc(*p, (size_t)nc * elem);
    if (!q) return VL_ENOMEM;
    *p = q;
    *cap = (uint32_t)nc;
    return VL_OK;
}

#define GROW(h, arr, n, cap, extra) grow((void **)&(h)->arr, &(h)->cap, (uint64_t)(h)->n + (extra), sizeof *(h)->arr)

/* ====================================================================== */
/* Id bookkeeping                                                          */
/* ====================================================================== */

/* Room for `extra` more entries / map keys. */
static int reserve_ids(vl_rvf *h, uint64_t extra)
{
    if ((uint64_t)h->nents + extra > MAX_ENTRIES) return VL_EBUDGET;
    if (vl_idmap_reserve(&h->map, (uint32_t)extra) != VL_OK) return VL_ENOMEM;
    return GROW(h, ents, nents, cap_ents, extra);
}

static void del_push(vl_rvf *h, uint32_t ei)
{
    h->ents[ei].del_pos = h->ndel;
    h->del[h->ndel++] = h->ents[ei].id;
}

static void del_remove(vl_rvf *h, uint32_t pos)
{
    uint32_t last = h->ndel - 1;
    if (pos != last) {
        h->del[pos] = h->del[last];
        h->ents[vl_idmap_get(&h->map, h->del[pos])].del_pos = pos;
    }
    h->ndel--;
}

/* Row `row` of VEC ordinal `k` holds id: it becomes the winning row (rows
 * are applied in directory order). Needs reserve_ids(1) and room in
 * vecs[k].ids. */
static void upsert_row(vl_rvf *h, uint32_t k, uint32_t row, uint64_t id)
{
    vecseg *v = &h->vecs[k];
    uint32_t ei = vl_idmap_get(&h->map, id);
    if (ei == VL_NO_NODE) {
        ei = h->nents++;
        h->ents[ei] = (entry){ id, k, row, 1, NONE };
        vl_idmap_put(&h->map, id, ei);
        v->live_refs++;
        v->ids[v->nids++] = id;
        return;
    }
    entry *e = &h->ents[ei];
    if (e->seg == k) { e->row = row; return; }     /* duplicate inside one segment */
    if (e->del_pos == NONE) h->vecs[e->seg].live_refs--;
    else { del_remove(h, e->del_pos); e->del_pos = NONE; }
    e->seg = k;
    e->row = row;
    e->nseg++;
    v->live_refs++;
    v->ids[v->nids++] = id;
}

/* Mark id deleted if it is live. Needs room for one more in del[]. */
static int delete_id(vl_rvf *h, uint64_t id)
{
    uint32_t ei = vl_idmap_get(&h->map, id);
    if (ei == VL_NO_NODE || h->ents[ei].del_pos != NONE) return 0;
    h->vecs[h->ents[ei].seg].live_refs--;
    del_push(h, ei);
    return 1;
}

static void remove_entry(vl_rvf *h, uint32_t ei)
{
    if (h->ents[ei].del_pos != NONE) del_remove(h, h->ents[ei].del_pos);
    vl_idmap_del(&h->map, h->ents[ei].id);
    uint32_t last = h->nents - 1;
    if (ei != last) {
        h->ents[ei] = h->ents[last];
        vl_idmap_put(&h->map, h->ents[ei].id, ei);   /* existing key: updates in place */
    }
    h->nents--;
}

/* VEC ordinal k leaves the directory (no live winning row left). */
static void drop_vec(vl_rvf *h, uint32_t k)
{
    vecseg *v = &h->vecs[k];
    for (uint32_t i = 0; i < v->nids; i++) {
        uint32_t ei = vl_idmap_get(&h->map, v->ids[i]);
        if (ei == VL_NO_NODE) continue;              /* unreachable: ids are loaded */
        entry *e = &h->ents[ei];
        if (e->seg == k) e->seg = NONE;
        if (--e->nseg == 0 && e->del_pos != NONE) remove_entry(h, ei);
    }
    vl_mem_free(v->ids);
    v->ids = NULL;
    v->nids = 0;
    v->listed = 0;
}

/* Dropped VEC ordinals (listed == 0) stay in vecs[] so that ordinals held
 * elsewhere stay valid during a commit. Between commits, once at least
 * half of a large array is dropped, renumber the listed ones densely
 * (dir[].vec and every entry's seg follow), so vecs[] stays proportional
 * to the listed segments, not to the commits of a long session. Cannot
 * fail: without memory for the renumbering it is simply skipped. */
static void vecs_gc(vl_rvf *h)
{
    if (h->nvecs < 1024) return;
    uint32_t nlisted = 0;
    for (uint32_t k = 0; k < h->nvecs; k++) nlisted += h->vecs[k].listed != 0;
    if (nlisted > h->nvecs / 2) return;
    uint32_t *map = vl_mem_alloc((size_t)h->nvecs * sizeof *map);
    if (!map) return;
    uint32_t w = 0;
    for (uint32_t k = 0; k < h->nvecs; k++) {
        if (!h->vecs[k].listed) { vl_mem_free(h->vecs[k].ids); map[k] = NONE; continue; }
        map[k] = w;
        h->vecs[w++] = h->vecs[k];
    }
    h->nvecs = w;
    for (uint32_t i = 0; i < h->ndir; i++)
        if (h->dir[i].type == VL_RVF_SEG_VEC) h->dir[i].vec = map[h->dir[i].vec];
    for (uint32_t i = 0; i < h->nents; i++)
        if (h->ents[i].seg != NONE) h->ents[i].seg = map[h->ents[i].seg];
    vl_mem_free(map);
}

/* Rebuild the directory for the next manifest: drop VEC segments without a
 * live winning row, segments this layer never re-lists (MANIFEST, JOURNAL)
 * and, when rows changed, rvf-node's INDEX cache. In place, order kept. */
static void prune_dir(vl_rvf *h, int rows_changed)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < h->ndir; i++) {
        dent *d = &h->dir[i];
        int keep = 1;
        if (d->type == VL_RVF_SEG_VEC) {
            if (h->vecs[d->vec].live_refs == 0) { drop_vec(h, d->vec); keep = 0; }
        } else if (d->type == VL_RVF_SEG_MANIFEST || d->type == VL_RVF_SEG_JOURNAL ||
                   d->type == VL_RVF_SEG_WITNESS) {
            keep = 0;                  /* witnesses stay in the file, unlisted */
        } else if (d->type == VL_RVF_SEG_INDEX && rows_changed) {
            keep = 0;
        }
        if (keep) h->dir[w++] = *d;
    }
    h->ndir = w;
    h->n_witness = 0;
    if (rows_changed) h->flags &= ~VL_RVF_F_INDEX;
}

/* ====================================================================== */
/* Device access                                                           */
/* ====================================================================== */

static int dev_size(vl_rvf *h, uint64_t *out)
{
    int rc = h->io->size(h->io->ctx, out);
    return rc == VL_OK ? VL_OK : fail(h, rc < 0 ? rc : VL_EIO, "device size() failed (%d)", rc);
}

static int dev_read(vl_rvf *h, uint64_t off, void *buf, uint64_t len)
{
    uint8_t *p = buf;
    while (len) {
        uint32_t n = len > (1u << 30) ? (1u << 30) : (uint32_t)len;
        int rc = h->io->read(h->io->ctx, off, p, n);
        if (rc != VL_OK)
            return fail(h, rc < 0 ? rc : VL_EIO, "device read of %u bytes at offset %llu failed (%d)",
                        n, (unsigned long long)off, rc);
        off += n; p += n; len -= n;
    }
    return VL_OK;
}

/* Append; any failure poisons the handle (the device may hold a torn tail). */
static int dev_append(vl_rvf *h, const void *buf, uint64_t len)
{
    const uint8_t *p = buf;
    while (len) {
        uint32_t n = len > (1u << 30) ? (1u << 30) : (uint32_t)len;
        int rc = h->io->append(h->io->ctx, p, n);
        if (rc != VL_OK) return poison(h, rc < 0 ? rc : VL_EIO, "device append");
        p += n; len -= n;
    }
    return VL_OK;
}

static int dev_sync(vl_rvf *h)
{
    int rc = h->io->sync(h->io->ctx);
    return rc == VL_OK ? VL_OK : poison(h, rc < 0 ? rc : VL_EIO, "device sync");
}

static int read_header(vl_rvf *h, uint64_t off, vl_rvf_header *hd)
{
    uint8_t b[64];
    int rc = dev_read(h, off, b, 64);
    if (rc) return rc;
    vl_rvf_header_decode(b, hd);
    return VL_OK;
}

/* CRC of len bytes at off, read in chunks into scratch (>= 1 byte). */
static int crc_range(vl_rvf *h, uint64_t off, uint64_t len, uint8_t *scratch, uint32_t scap,
                     uint32_t *crc)
{
    while (len) {
        uint32_t n = len > scap ? scap : (uint32_t)len;
        int rc = dev_read(h, off, scratch, n);
        if (rc) return rc;
        *crc = vl_crc32(*crc, scratch, n);
        off += n; len -= n;
    }
    return VL_OK;
}

/* ====================================================================== */
/* Manifest parsing                                                        */
/* ====================================================================== */

typedef struct mview {
    uint32_t epoch, dim, nseg, ndel, profile, metric, has_fidi;
    uint64_t total;
    const uint8_t *dirp, *delp, *fidi;   /* fidi points past the marker (68 bytes) */
} mview;

/* Structure only (no semantics): 1 if the payload parses. Mirrors
 * rvf-runtime's parser (trailing bytes after the deleted list / FIDI are
 * tolerated for forward compatibility) but refuses a truncated deleted list
 * instead of silently shortening it. */
static int manifest_parse(const uint8_t *p, uint64_t n, mview *m)
{
    if (n < MAN_FIXED) return 0;
    m->epoch = rd32(p);
    m->dim = rd16(p + 4);
    m->total = rd64(p + 6);
    m->nseg = rd32(p + 14);
    m->profile = p[18];
    m->metric = p[19];
    if (m->nseg > (n - MAN_FIXED) / DIRENT_SIZE) return 0;
    uint64_t o = MAN_FIXED + (uint64_t)m->nseg * DIRENT_SIZE;
    m->dirp = p + MAN_FIXED;
    m->ndel = 0;
    m->delp = p + o;
    if (o + 4 <= n) {
        m->ndel = rd32(p + o);
        o += 4;
        if (m->ndel > (n - o) / 8) return 0;
        m->delp = p + o;
        o += (uint64_t)m->ndel * 8;
    }
    m->has_fidi = 0;
    m->fidi = NULL;
    if (o + FIDI_SIZE <= n && rd32(p + o) == FIDI_MAGIC) {
        m->has_fidi = 1;
        m->fidi = p + o + 4;
    }
    return 1;
}

/* Try the candidate header at `pos`. Returns 1 and fills *payload (owned by
 * the caller) if it is a committed manifest, 0 if not, <0 on a hard error
 * (EVERSION for a complete manifest of a newer format; ENOMEM; EIO;
 * ECORRUPT once *budget, the payload bytes the scan may still hash, is
 * spent). */
static int try_manifest(vl_rvf *h, uint64_t pos, uint64_t size, vl_rvf_header *hd,
                        uint8_t **payload, mview *m, uint64_t *budget)
{
    int rc = read_header(h, pos, hd);
    if (rc) return rc;
    uint64_t room = size - pos - 64;
    if (hd->payload_length > room) return 0;                 /* torn: runs past EOF */
    rc = vl_rvf_header_check(hd, pos, h->msg, sizeof h->msg);
    if (rc == VL_EVERSION) return rc;
    if (rc) return 0;
    if (hd->payload_length < MAN_FIXED || hd->payload_length > VL_RVF_MAX_MANIFEST) return 0;
    if (hd->payload_length > *budget)
        return fail(h, VL_ECORRUPT, "gave up looking for a committed MANIFEST: the candidates before "
                    "offset %llu would need hashing more than twice the file", (unsigned long long)pos);
    *budget -= hd->payload_length;
    uint8_t *p = vl_mem_alloc((size_t)hd->payload_length);
    if (!p) return fail(h, VL_ENOMEM, "out of memory reading a %llu-byte manifest",
                        (unsigned long long)hd->payload_length);
    rc = dev_read(h, pos + 64, p, hd->payload_length);
    if (rc) { vl_mem_free(p); return rc; }
    if (!hash_ok(hd->content_hash, vl_crc32(0, p, (size_t)hd->payload_length)) ||
        !manifest_parse(p, hd->payload_length, m)) {
        vl_mem_free(p);
        return 0;
    }
    *payload = p;
    return 1;
}

/* The handle's picture of its committed manifest (found at mpos, header mh, payload mp parsed
 * as m): epoch, profile, where it lies and what it hashes to. Open and refresh both adopt one. */
static void adopt_manifest(vl_rvf *h, const mview *m, uint64_t mpos, const vl_rvf_header *mh,
                           const uint8_t *mp)
{
    h->epoch = m->epoch;
    h->profile = m->profile;
    h->manifest_offset = mpos;
    h->committed_end = mpos + 64 + mh->payload_length;
    h->man_crc = vl_crc32(0, mp, (size_t)mh->payload_length);
    vl_rvf_header_encode(mh, h->man_hdr);
}

/* Backward scan (docs/format.md §5.1). *found = 0 when there is none.
 * Hashing budget: a crafted file can put a plausible manifest header every
 * few bytes, each claiming a payload up to EOF, which would make the scan
 * quadratic. A real file needs at most about its own size (the newest
 * manifest, plus a few torn candidates), so the scan hashes at most
 * 2 x size + 64 MiB of candidate payloads and then reports VL_ECORRUPT. */
static int find_manifest(vl_rvf *h, uint64_t size, uint64_t floor, uint64_t *mpos, vl_rvf_header *hd,
                         uint8_t **payload, mview *m, int *found)
{
    *found = 0;
    if (size < 64 || size - 64 < floor) return VL_OK;
    uint32_t bufcap = (uint32_t)(size < IO_CHUNK ? size : IO_CHUNK) + 8;
    uint8_t *buf = vl_mem_alloc(bufcap);
    if (!buf) return fail(h, VL_ENOMEM, "out of memory for the manifest scan");
    uint64_t cand_end = size - 63;       /* candidates i < cand_end satisfy i + 64 <= size */
    uint64_t win = TAIL_FIRST;
    uint64_t span = size - floor;
    uint64_t budget = (span > UINT64_MAX / 4 ? UINT64_MAX / 2 : 2 * span) + (64u << 20);
    int rc = VL_OK;
    while (cand_end > floor && !*found) {
        uint64_t lo = cand_end - floor > win ? cand_end - win : floor;
        uint64_t len = cand_end - lo + 5;  /* bytes i..i+5 of every candidate */
        rc = dev_read(h, lo, buf, len);
        if (rc) break;
        for (uint64_t i = cand_end; i-- > lo;) {
            const uint8_t *b = buf + (i - lo);
            if (b[0] != 0x53 || b[1] != 0x46 || b[2] != 0x56 || b[3] != 0x52 ||
                b[5] != VL_RVF_SEG_MANIFEST)
                continue;
            rc = try_manifest(h, i, size, hd, payload, m, &budget);
            if (rc < 0) goto out;
            if (rc == 1) { *found = 1; *mpos = i; rc = VL_OK; goto out; }
            rc = VL_OK;
        }
        cand_end = lo;
        win = IO_CHUNK;
    }
out:
    vl_mem_free(buf);
    return rc;
}

/* ====================================================================== */
/* VEC segments                                                            */
/* ====================================================================== */

typedef int (*row_visit)(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id,
                         const uint8_t *vec);

/* Check a listed segment's header against its directory entry. */
static int check_listed(vl_rvf *h, const dent *d, vl_rvf_header *hd)
{
    int rc = read_header(h, d->offset, hd);
    if (rc) return rc;
    rc = vl_rvf_header_check(hd, d->offset, h->msg, sizeof h->msg);
    if (rc) return rc;
    if (hd->seg_type != d->type || hd->payload_length != d->plen)
        return fail(h, VL_ECORRUPT, "directory lists segment %llu at offset %llu as type 0x%02x "
                    "with %llu payload bytes, but the header there says type 0x%02x, %llu bytes",
                    (unsigned long long)d->seg_id, (unsigned long long)d->offset, d->type,
                    (unsigned long long)d->plen, hd->seg_type,
                    (unsigned long long)hd->payload_length);
    return VL_OK;
}

/* Read VEC segment d (ordinal k) row by row, verify its hash, call fn for
 * each row (fn may be NULL: *count_out only). Rows are visited before the
 * hash is known; callers discard their work on VL_ECORRUPT.
 * trust: 1 lets a read-only pass (scan) skip the hash when this handle has
 * already verified these bytes (vecseg.verified with the same offset,
 * length and stored hash; the header is re-read and re-checked every
 * time). A successful hashed walk marks the segment verified. Passes that
 * write what they read into new segments (merge) pass 0: they never
 * re-hash bytes they have not checked themselves. */
static int vec_walk(vl_rvf *h, const dent *d, uint32_t k, row_visit fn, void *ctx,
                    uint32_t *count_out, int trust)
{
    vl_rvf_header hd;
    int rc = check_listed(h, d, &hd);
    if (rc) return rc;
    vecseg *vs = k < h->nvecs ? &h->vecs[k] : NULL;
    int skip_hash = trust && vs && vs->verified && vs->v_off == d->offset && vs->v_len == d->plen &&
                    memcmp(vs->v_hash, hd.content_hash, 16) == 0;
    uint8_t pre[6];
    if (d->plen < 6)
        return fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: %llu-byte payload is too short",
                    (unsigned long long)d->seg_id, (unsigned long long)d->offset,
                    (unsigned long long)d->plen);
    rc = dev_read(h, d->offset + 64, pre, 6);
    if (rc) return rc;
    uint32_t dim = rd16(pre), count = rd32(pre + 2);
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    if (dim != h->dim)
        return fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu has dimension %u, the manifest %u",
                    (unsigned long long)d->seg_id, (unsigned long long)d->offset, dim, h->dim);
    uint64_t need = 6 + (uint64_t)count * rowsz;
    if (need > d->plen)
        return fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu claims %u rows (%llu bytes) in a "
                    "%llu-byte payload", (unsigned long long)d->seg_id,
                    (unsigned long long)d->offset, count, (unsigned long long)need,
                    (unsigned long long)d->plen);
    if (count_out) *count_out = count;
    uint32_t batch = (uint32_t)(IO_CHUNK / rowsz);
    if (batch == 0) batch = 1;
    if (batch > count) batch = count ? count : 1;
    uint32_t bcap = (uint32_t)(batch * rowsz);
    if (!skip_hash && bcap < IO_CHUNK && d->plen - need > bcap)   /* trailing bytes: hash them in big reads */
        bcap = d->plen - need < IO_CHUNK ? (uint32_t)(d->plen - need) : IO_CHUNK;
    uint8_t *buf = vl_mem_alloc(bcap);
    if (!buf) return fail(h, VL_ENOMEM, "out of memory reading a VEC segment");
    uint32_t crc = vl_crc32(0, pre, 6);
    uint64_t off = d->offset + 64 + 6;
    for (uint32_t r = 0; r < count;) {
        uint32_t nr = count - r < batch ? count - r : batch;
        rc = dev_read(h, off, buf, nr * rowsz);
        if (rc) goto out;
        if (!skip_hash) crc = vl_crc32(crc, buf, (size_t)(nr * rowsz));
        if (fn) {
            for (uint32_t i = 0; i < nr; i++) {
                const uint8_t *row = buf + i * rowsz;
                rc = fn(h, ctx, k, r + i, rd64(row), row + 8);
                if (rc) goto out;
            }
        }
        off += nr * rowsz;
        r += nr;
    }
    if (skip_hash) goto out;
    rc = crc_range(h, off, d->plen - need, buf, bcap, &crc);   /* trailing bytes, if any */
    if (rc) goto out;
    if (!hash_ok(hd.content_hash, crc)) {
        rc = fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: content hash mismatch "
                  "(committed vectors are damaged)", (unsigned long long)d->seg_id,
                  (unsigned long long)d->offset);
    } else if (vs) {
        vs->verified = 1;
        vs->v_off = d->offset;
        vs->v_len = d->plen;
        memcpy(vs->v_hash, hd.content_hash, 16);
    }
out:
    vl_mem_free(buf);
    return rc;
}

static int load_row(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id, const uint8_t *vec)
{
    (void)ctx; (void)vec;
    upsert_row(h, k, row, id);
    return 0;
}

/* Read a small payload (witness) wholly and verify its hash. *out owned by caller. */
static int read_small(vl_rvf *h, const dent *d, uint32_t cap, uint8_t **out)
{
    vl_rvf_header hd;
    int rc = check_listed(h, d, &hd);
    if (rc) return rc;
    if (d->plen > cap)
        return fail(h, VL_EBUDGET, "segment %llu at offset %llu has a %llu-byte payload; this build "
                    "reads at most %u bytes for type 0x%02x", (unsigned long long)d->seg_id,
                    (unsigned long long)d->offset, (unsigned long long)d->plen, cap, d->type);
    uint8_t *p = vl_mem_alloc((size_t)d->plen);
    if (!p) return fail(h, VL_ENOMEM, "out of memory reading segment %llu", (unsigned long long)d->seg_id);
    rc = dev_read(h, d->offset + 64, p, d->plen);
    if (!rc && !hash_ok(hd.content_hash, vl_crc32(0, p, (size_t)d->plen)))
        rc = fail(h, VL_ECORRUPT, "segment %llu (type 0x%02x) at offset %llu: content hash mismatch",
                  (unsigned long long)d->seg_id, d->type, (unsigned long long)d->offset);
    if (rc) { vl_mem_free(p); return rc; }
    *out = p;
    return VL_OK;
}

/* ====================================================================== */
/* Open                                                                    */
/* ====================================================================== */

/* The uncommitted tail: everything after the committed manifest (docs/format.md
 * §5). Kept: the run of complete WITNESS segments directly after it (hash
 * set and valid, payload parses, <= VL_RVF_MAX_WITNESS). rvf-node writes
 * its compaction WITNESS after the manifest that commits the compaction, so
 * such a witness belongs to a finished operation; it stays in the file and
 * is the chain head the next witness links to. Everything from the first
 * other byte on (a torn segment, or the complete data segments, META and
 * WITNESS of a commit whose MANIFEST never made it) is not part of any
 * committed state: append_at stops there and the next commit cuts it off
 * (fix_tail), so the ids those segments used are never seen twice and no
 * witness of an uncommitted commit enters the chain. *kept = witnesses
 * kept; *maxid is raised to their segment ids. Reads only. */
static int tail_walk(vl_rvf *h, uint64_t size, uint32_t *kept, uint64_t *maxid)
{
    uint64_t pos = h->committed_end;
    int rc = VL_OK;
    *kept = 0;
    while (size - pos >= 64) {
        vl_rvf_header hd;
        rc = read_header(h, pos, &hd);
        if (rc) break;
        if (vl_rvf_header_check(&hd, pos, NULL, 0) != VL_OK || hd.seg_type != VL_RVF_SEG_WITNESS ||
            hd.payload_length > size - pos - 64)
            break;
        uint64_t plen = hd.payload_length;
        if (plen < 45 || plen > VL_RVF_MAX_WITNESS) break;
        uint8_t *p = vl_mem_alloc((size_t)plen);
        if (!p) { rc = fail(h, VL_ENOMEM, "out of memory walking the tail"); break; }
        rc = dev_read(h, pos + 64, p, plen);
        if (rc) { vl_mem_free(p); break; }
        int good = !hash_is_unset(hd.content_hash) &&
                   hash_ok(hd.content_hash, vl_crc32(0, p, (size_t)plen)) && rd32(p + 9) == plen - 45;
        if (good) vl_rvf_fold32_once(p, plen, h->wit_hash);
        vl_mem_free(p);
        if (!good) break;
        if (hd.segment_id > *maxid) *maxid = hd.segment_id;
        (*kept)++;
        pos += 64 + plen;
    }
    h->append_at = pos;
    return rc;
}

/* ---- the chain head: the newest WITNESS before the committed manifest ----
 *
 * The directory lists no witness (see "Witness chain" at the top), so the
 * head is found in the file. Witnesses are written right before their
 * manifest, and the only commits without one (INDEX checkpoints, META-only
 * file-metadata commits, rvf-node's INDEX on close) list what they write.
 * So the walk goes backwards, one segment at a time, from the committed
 * manifest: the segment that ends at boundary b is a listed one ending
 * there (known from the directory: no read), else the nearest header below
 * b whose payload ends exactly at b (found by scanning the bytes below b in
 * BACK_WIN blocks). The first WITNESS met is the head; reaching offset 0
 * without one means the file has none (head = zeros). Typical cost: one
 * small read (the witness right before the manifest).
 * Falls back to the forward walk (witness_walk) when the framing fails (no
 * header ends at b: bytes that are not back-to-back segments) or the
 * WITNESS met does not verify. A crafted payload that embeds a fake
 * segment ending at b can only mislead the choice of the head, which
 * vl_rvf_witness_chain then reports as a break; data is never affected. */

#define BACK_WIN (64u << 10)

typedef int (*wit_fn)(vl_rvf *h, void *ctx, uint64_t off, const uint8_t *hdr, const uint8_t *p,
                      uint64_t plen);
static int witness_walk(vl_rvf *h, uint64_t limit, wit_fn fn, void *ctx, vl_rvf_witness_report *r);

typedef struct bwin {             /* bytes [lo, hi) of the device, for the backward scan */
    uint8_t *buf;
    uint64_t lo, hi;
} bwin;

typedef struct lend {             /* a listed segment by the offset where it ends */
    uint64_t end;
    uint32_t i;
} lend;

static int cmp_lend(const void *a, const void *b)
{
    uint64_t x = ((const lend *)a)->end, y = ((const lend *)b)->end;
    return x < y ? -1 : x > y;
}

/* The segment ending exactly at b (64 <= b): *off, its header in *hd;
 * *found = 0 if none. */
static int frame_before(vl_rvf *h, uint64_t b, const lend *ends, uint32_t nends, bwin *w,
                        uint64_t *off, vl_rvf_header *hd, int *found)
{
    *found = 0;
    uint32_t lo = 0, hi = nends;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ends[mid].end < b) lo = mid + 1; else hi = mid;
    }
    if (lo < nends && ends[lo].end == b) {       /* listed: checked by load() */
        const dent *d = &h->dir[ends[lo].i];
        memset(hd, 0, sizeof *hd);
        hd->seg_type = (uint8_t)d->type;
        hd->segment_id = d->seg_id;
        hd->payload_length = d->plen;
        *off = d->offset;
        *found = 2;
        return VL_OK;
    }
    for (uint64_t p = b - 64 + 1; p-- > 0;) {
        if (p < w->lo || p + 64 > w->hi) {
            uint64_t top = p + 64, bot = top > BACK_WIN ? top - BACK_WIN : 0;
            int rc = dev_read(h, bot, w->buf, top - bot);
            if (rc) { w->lo = w->hi = 0; return rc; }
            w->lo = bot;
            w->hi = top;
        }
        const uint8_t *q = w->buf + (p - w->lo);
        if (q[0] != 0x53 || q[1] != 0x46 || q[2] != 0x56 || q[3] != 0x52 || q[4] != VL_RVF_VERSION ||
            rd64(q + 16) != b - p - 64)
            continue;
        vl_rvf_header_decode(q, hd);
        *off = p;
        *found = 1;
        return VL_OK;
    }
    return VL_OK;
}

/* Set h->wit_hash to fold32 of the newest WITNESS before the committed
 * manifest; raise *maxid to the ids of the segments walked over. */
static int find_head(vl_rvf *h, uint64_t *maxid)
{
    lend *ends = vl_mem_alloc((size_t)(h->ndir ? h->ndir : 1) * sizeof *ends);
    bwin w = { vl_mem_alloc(BACK_WIN), 0, 0 };
    uint8_t *p = NULL;
    int rc = VL_OK, fallback = 1;
    if (!ends || !w.buf) { rc = fail(h, VL_ENOMEM, "out of memory finding the witness chain head"); goto out; }
    for (uint32_t i = 0; i < h->ndir; i++)
        ends[i] = (lend){ h->dir[i].offset + 64 + h->dir[i].plen, i };
    qsort(ends, h->ndir, sizeof *ends, cmp_lend);
    uint64_t b = h->manifest_offset;
    memset(h->wit_hash, 0, 32);
    while (b > 0) {
        uint64_t off;
        vl_rvf_header hd;
        int found;
        if (b < 64) goto out;                      /* not framed: fall back */
        if ((rc = frame_before(h, b, ends, h->ndir, &w, &off, &hd, &found))) goto out;
        if (!found) goto out;
        if (hd.segment_id > *maxid) *maxid = hd.segment_id;
        if (hd.seg_type == VL_RVF_SEG_WITNESS) {
            uint64_t plen = hd.payload_length;
            if (found == 2 && (rc = read_header(h, off, &hd))) goto out;
            if (plen < 45 || plen > VL_RVF_MAX_WITNESS || hd.checksum_algo || hd.compression) goto out;
            if (!(p = vl_mem_alloc((size_t)plen))) {
                rc = fail(h, VL_ENOMEM, "out of memory reading a witness");
                goto out;
            }
            if ((rc = dev_read(h, off + 64, p, plen))) goto out;
            if (!hash_ok(hd.content_hash, vl_crc32(0, p, (size_t)plen)) || rd32(p + 9) != plen - 45)
                goto out;
            vl_rvf_fold32_once(p, plen, h->wit_hash);
            fallback = 0;
            goto out;
        }
        b = off;
    }
    fallback = 0;                                  /* framed down to byte 0: no witness */
out:
    vl_mem_free(p);
    vl_mem_free(ends);
    vl_mem_free(w.buf);
    if (rc == VL_OK && fallback) {
        vl_rvf_witness_report r;
        rc = witness_walk(h, h->committed_end, NULL, NULL, &r);
        /* A witness that fails verification breaks the chain whatever the
         * next one links to (vl_rvf_witness_chain reports it); opening the
         * data must not depend on it: link to the last good one. */
        if (rc == VL_ECORRUPT || rc == VL_EBUDGET) rc = VL_OK;
        if (rc == VL_OK) memcpy(h->wit_hash, r.last_hash, 32);
    }
    return rc;
}

static int load(vl_rvf *h)
{
    uint64_t size, mpos = 0;
    vl_rvf_header mh;
    uint8_t *mp = NULL, *wp = NULL;
    mview m;
    int found, rc = dev_size(h, &size);
    if (rc) return rc;
    if (size == 0) return fail(h, VL_ENOTFOUND, "no committed state: the file is empty");
    rc = find_manifest(h, size, 0, &mpos, &mh, &mp, &m, &found);
    if (rc) return rc;
    if (!found)
        return fail(h, VL_ENOTFOUND, "no committed state: no valid MANIFEST segment in %llu bytes "
                    "(not an .rvf file, or its first commit never completed)",
                    (unsigned long long)size);

    /* ---- manifest semantics ---- */
    /* Dimension 0 is rvf-node's "unset" (derive(path, {dimension: 0}) writes
     * it): an empty store whose first ingest fixes the dimension. It is
     * consistent only with no vectors: total_vectors 0 and no VEC segment
     * listed (checked with the directory below). */
    if (m.dim == 0 && m.total != 0) {
        rc = fail(h, VL_ECORRUPT, "manifest at offset %llu has dimension 0 but %llu vectors",
                  (unsigned long long)mpos, (unsigned long long)m.total);
        goto out;
    }
    if (m.metric > VL_METRIC_COSINE) {
        rc = fail(h, VL_EVERSION, "manifest at offset %llu uses metric %u; this veclite knows 0 (L2), "
                  "1 (inner product), 2 (cosine): open it with a newer veclite",
                  (unsigned long long)mpos, m.metric);
        goto out;
    }
    if (m.nseg > VL_RVF_MAX_DIR) {
        rc = fail(h, VL_EBUDGET, "manifest lists %u segments; this build caps the directory at %u",
                  m.nseg, VL_RVF_MAX_DIR);
        goto out;
    }
    h->dim = m.dim;
    h->metric = m.metric;
    adopt_manifest(h, &m, mpos, &mh, mp);
    if (m.has_fidi) {
        h->flags |= VL_RVF_F_FIDI;
        memcpy(h->file_id, m.fidi, 16);
        memcpy(h->parent_id, m.fidi + 16, 16);
        memcpy(h->parent_hash, m.fidi + 32, 32);
        h->depth = rd32(m.fidi + 64);
    }
    uint64_t maxid = mh.segment_id;

    /* ---- directory ---- */
    if ((rc = grow((void **)&h->dir, &h->cap_dir, m.nseg, sizeof *h->dir))) {
        rc = fail(h, rc, "out of memory for a %u-entry directory", m.nseg);
        goto out;
    }
    for (uint32_t i = 0; i < m.nseg; i++) {
        const uint8_t *e = m.dirp + (size_t)i * DIRENT_SIZE;
        dent d = { rd64(e), rd64(e + 8), rd64(e + 16), e[24], NONE };
        if (d.offset > mpos || mpos - d.offset < 64 || d.plen > mpos - d.offset - 64) {
            rc = fail(h, VL_ECORRUPT, "directory entry %u (segment %llu, offset %llu, %llu bytes) does "
                      "not lie before the manifest at %llu", i, (unsigned long long)d.seg_id,
                      (unsigned long long)d.offset, (unsigned long long)d.plen,
                      (unsigned long long)mpos);
            goto out;
        }
        if (d.seg_id > maxid) maxid = d.seg_id;
        if (m.dim == 0 && d.type == VL_RVF_SEG_VEC) {
            rc = fail(h, VL_ECORRUPT, "manifest at offset %llu has dimension 0 but lists VEC segment "
                      "%llu", (unsigned long long)mpos, (unsigned long long)d.seg_id);
            goto out;
        }
        h->dir[h->ndir++] = d;
    }
    /* Listed segments are distinct byte ranges: a directory naming the same
     * bytes twice would multiply the work and memory a small file can
     * demand (every listing re-reads and re-indexes its rows). */
    if (h->ndir > 1) {
        uint64_t *rg = vl_mem_alloc((size_t)h->ndir * 2 * sizeof *rg);
        if (!rg) { rc = fail(h, VL_ENOMEM, "out of memory checking the directory"); goto out; }
        for (uint32_t i = 0; i < h->ndir; i++) {
            rg[2 * i] = h->dir[i].offset;
            rg[2 * i + 1] = h->dir[i].offset + 64 + h->dir[i].plen;
        }
        qsort(rg, h->ndir, 2 * sizeof *rg, cmp_u64);   /* by start (first member) */
        for (uint32_t i = 1; i < h->ndir && !rc; i++)
            if (rg[2 * i] < rg[2 * i - 1])
                rc = fail(h, VL_ECORRUPT, "directory entries overlap at offset %llu",
                          (unsigned long long)rg[2 * i]);
        vl_mem_free(rg);
        if (rc) goto out;
    }
    /* ---- segments, in directory order ---- */
    for (uint32_t i = 0; i < h->ndir; i++) {
        dent *d = &h->dir[i];
        if (d->type == VL_RVF_SEG_VEC) {
            /* Rows claimed by the prefix; vec_walk refuses a count the payload
             * cannot hold, so checking it here first bounds the reservation by
             * the file size. */
            uint8_t pre[6];
            uint64_t rows = 0;
            if (d->plen >= 6) {
                if ((rc = dev_read(h, d->offset + 64, pre, 6))) goto out;
                rows = rd32(pre + 2);
                if (6 + rows * (8 + 4 * (uint64_t)h->dim) > d->plen) rows = 0;
            }
            if ((rc = GROW(h, vecs, nvecs, cap_vecs, 1))) { rc = fail(h, rc, "out of memory"); goto out; }
            uint32_t k = h->nvecs;
            vecseg *v = &h->vecs[k];
            memset(v, 0, sizeof *v);
            rc = reserve_ids(h, rows);
            if (rc == VL_EBUDGET) {
                rc = fail(h, rc, "more than %u distinct ids: over this build's cap", MAX_ENTRIES);
                goto out;
            }
            if (rc || !(v->ids = vl_mem_alloc((size_t)(rows ? rows : 1) * sizeof *v->ids))) {
                rc = fail(h, VL_ENOMEM, "out of memory indexing VEC segment %llu",
                          (unsigned long long)d->seg_id);
                goto out;
            }
            v->listed = 1;
            h->nvecs++;
            d->vec = k;
            rc = vec_walk(h, d, k, load_row, NULL, &v->count, 0);
            if (rc) goto out;
        } else if (d->type == VL_RVF_SEG_WITNESS) {
            /* listed by older files and rvf-node: verified like every listed
             * segment; the chain head is found by find_head */
            rc = read_small(h, d, VL_RVF_MAX_WITNESS, &wp);
            if (rc) goto out;
            vl_mem_free(wp);
            wp = NULL;
            h->n_witness++;
        } else {
            vl_rvf_header hd;
            rc = check_listed(h, d, &hd);
            if (rc) goto out;
            if (d->type == VL_RVF_SEG_COW_MAP || d->type == VL_RVF_SEG_MEMBERSHIP)
                h->flags |= VL_RVF_F_BRANCH;
            if (d->type == VL_RVF_SEG_INDEX) h->flags |= VL_RVF_F_INDEX;
        }
    }

    /* ---- deleted list: authoritative; ids that no listed VEC holds are moot ---- */
    if ((rc = grow((void **)&h->del, &h->cap_del, h->nents, sizeof *h->del))) {
        rc = fail(h, rc, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < m.ndel; i++) delete_id(h, rd64(m.delp + (size_t)i * 8));

    /* ---- uncommitted tail, chain head, next segment id ---- */
    uint32_t kept = 0;
    if ((rc = tail_walk(h, size, &kept, &maxid))) goto out;
    if (kept == 0 && (rc = find_head(h, &maxid))) goto out;
    /* Saturates: such a file still opens, and commits refuse (commit_begin). */
    h->next_seg_id = maxid == UINT64_MAX ? UINT64_MAX : maxid + 1;
out:
    vl_mem_free(mp);
    vl_mem_free(wp);
    return rc;
}

int vl_rvf_open(vl_io *io, vl_rvf **out, char *msg, uint32_t msg_cap)
{
    if (!io || !out) { put_msg(msg, msg_cap, "vl_rvf_open: NULL argument"); return VL_EINVAL; }
    vl_rvf *h = handle_new(io);
    if (!h) { put_msg(msg, msg_cap, "out of memory"); return VL_ENOMEM; }
    int rc = load(h);
    if (rc) {
        put_msg(msg, msg_cap, "%s", h->msg);
        vl_rvf_free(h);
        return rc;
    }
    *out = h;
    return VL_OK;
}

/* ====================================================================== */
/* Scan                                                                    */
/* ====================================================================== */

typedef struct scan_ctx {
    vl_rvf_row_fn cb;
    void *ctx;
    float *vec;
} scan_ctx;

static int scan_row(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id, const uint8_t *vec)
{
    scan_ctx *s = ctx;
    uint32_t ei = vl_idmap_get(&h->map, id);
    if (ei == VL_NO_NODE) return 0;
    const entry *e = &h->ents[ei];
    if (e->seg != k || e->row != row || e->del_pos != NONE) return 0;
    for (uint32_t j = 0; j < h->dim; j++) s->vec[j] = rdf(vec + 4 * (size_t)j);
    return s->cb(s->ctx, id, s->vec);
}

int vl_rvf_scan(vl_rvf *h, vl_rvf_row_fn cb, void *ctx)
{
    if (h->poisoned) return fail(h, VL_EFATAL, "store handle is poisoned by an earlier failed write");
    if (!cb) return fail(h, VL_EINVAL, "vl_rvf_scan: NULL callback");
    scan_ctx s = { cb, ctx, vl_mem_alloc((size_t)h->dim * sizeof(float)) };
    if (!s.vec) return fail(h, VL_ENOMEM, "out of memory");
    int rc = VL_OK;
    for (uint32_t i = 0; i < h->ndir && rc == VL_OK; i++) {
        const dent *d = &h->dir[i];
        if (d->type != VL_RVF_SEG_VEC || h->vecs[d->vec].live_refs == 0) continue;
        rc = vec_walk(h, d, d->vec, scan_row, &s, NULL, 1);
    }
    vl_mem_free(s.vec);
    return rc;
}

/* ====================================================================== */
/* Writing segments                                                        */
/* ====================================================================== */

static void header_for(vl_rvf_header *hd, uint32_t type, uint64_t seg_id, uint64_t plen, uint32_t crc)
{
    memset(hd, 0, sizeof *hd);
    hd->magic = VL_RVF_MAGIC;
    hd->version = VL_RVF_VERSION;
    hd->seg_type = (uint8_t)type;
    hd->segment_id = seg_id;
    hd->payload_length = plen;
    vl_rvf_content_hash(crc, hd->content_hash);
}

static int emit_header(vl_rvf *h, uint32_t type, uint64_t seg_id, uint64_t plen, uint32_t crc)
{
    vl_rvf_header hd;
    uint8_t b[64];
    header_for(&hd, type, seg_id, plen, crc);
    vl_rvf_header_encode(&hd, b);
    return dev_append(h, b, 64);
}

/* A whole in-memory segment. */
static int emit_segment(vl_rvf *h, uint32_t type, uint64_t seg_id, const uint8_t *p, uint64_t plen)
{
    int rc = emit_header(h, type, seg_id, plen, vl_crc32(0, p, (size_t)plen));
    return rc ? rc : dev_append(h, p, plen);
}

/* Witness payload: 13 + len + 32 bytes. */
static uint32_t witness_encode(uint8_t *out, uint32_t type, uint64_t ts, const char *action,
                               const uint8_t prev[32])
{
    uint32_t len = (uint32_t)strlen(action);
    out[0] = (uint8_t)type;
    wr64(out + 1, ts);
    wr32(out + 9, len);
    memcpy(out + 13, action, len);
    memcpy(out + 13 + len, prev, 32);
    return 13 + len + 32;
}

static uint64_t manifest_size(uint64_t ndir, uint64_t ndel, int fidi)
{
    return MAN_FIXED + DIRENT_SIZE * ndir + 4 + 8 * ndel + (fidi ? FIDI_SIZE : 0);
}

/* Encode the manifest of the handle's current (in-memory) state. buf has
 * manifest_size(ndir, ndel, fidi) bytes. */
static void manifest_encode(const vl_rvf *h, uint8_t *buf)
{
    uint8_t *p = buf;
    wr32(p, h->epoch);
    wr16(p + 4, (uint16_t)h->dim);
    wr64(p + 6, h->nents);
    wr32(p + 14, h->ndir);
    p[18] = (uint8_t)h->profile;
    p[19] = (uint8_t)h->metric;
    p[20] = p[21] = 0;
    p += MAN_FIXED;
    for (uint32_t i = 0; i < h->ndir; i++, p += DIRENT_SIZE) {
        wr64(p, h->dir[i].seg_id);
        wr64(p + 8, h->dir[i].offset);
        wr64(p + 16, h->dir[i].plen);
        p[24] = (uint8_t)h->dir[i].type;
    }
    wr32(p, h->ndel);
    p += 4;
    for (uint32_t i = 0; i < h->ndel; i++, p += 8) wr64(p, h->del[i]);   /* sorted by the caller */
    if (h->flags & VL_RVF_F_FIDI) {
        wr32(p, FIDI_MAGIC);
        memcpy(p + 4, h->file_id, 16);
        memcpy(p + 20, h->parent_id, 16);
        memcpy(p + 36, h->parent_hash, 32);
        wr32(p + 68, h->depth);
    }
}

/* Check the caps a commit adding `add_dir` entries and up to `add_del`
 * deleted ids could hit, and allocate the manifest buffer. */
static int manifest_alloc(vl_rvf *h, uint64_t add_dir, uint64_t add_del, uint8_t **buf)
{
    uint64_t nd = (uint64_t)h->ndir + add_dir, ndl = (uint64_t)h->ndel + add_del;
    uint64_t sz = manifest_size(nd, ndl, 1);
    if (nd > VL_RVF_MAX_DIR || sz > VL_RVF_MAX_MANIFEST)
        return fail(h, VL_EBUDGET, "the manifest would list %llu segments and %llu deleted ids "
                    "(%llu bytes), over this build's caps (%u entries, %u bytes): compact the store",
                    (unsigned long long)nd, (unsigned long long)ndl, (unsigned long long)sz,
                    VL_RVF_MAX_DIR, VL_RVF_MAX_MANIFEST);
    *buf = vl_mem_alloc((size_t)sz);
    return *buf ? VL_OK : fail(h, VL_ENOMEM, "out of memory for a %llu-byte manifest",
                               (unsigned long long)sz);
}

/* Common prologue of a commit: not poisoned, an epoch left, and room for
 * `nids` more segment ids (the largest id written must stay below
 * UINT64_MAX so that max + 1 exists when the file is reopened). */
static int commit_begin(vl_rvf *h, uint64_t nids)
{
    if (h->poisoned) return fail(h, VL_EFATAL, "store handle is poisoned by an earlier failed write");
    vecs_gc(h);
    if (h->epoch == UINT32_MAX) return fail(h, VL_EINVAL, "epoch counter exhausted");
    if (h->next_seg_id > UINT64_MAX - nids)
        return fail(h, VL_EINVAL, "segment id space exhausted (next id %llu)",
                    (unsigned long long)h->next_seg_id);
    return VL_OK;
}

/* Make the device end at append_at: a torn tail from a crash or a failed
 * commit is cut off (the only truncation ever done). */
static int fix_tail(vl_rvf *h)
{
    uint64_t size;
    int rc = dev_size(h, &size);
    h->outcome = VL_OUTCOME_NOT_WRITTEN;   /* until the commit appends: nothing of it is written */
    if (rc) return poison(h, rc, "device size()");
    if (size < h->append_at) return poison(h, VL_ECORRUPT, "the file shrank under the handle; commit");
    if (size > h->append_at) {
        rc = h->io->truncate(h->io->ctx, h->append_at);
        if (rc) return poison(h, rc < 0 ? rc : VL_EIO, "truncating the torn tail");
    }
    h->outcome = VL_OUTCOME_NONE;
    return VL_OK;
}

/* A commit failed (rc, the handle already poisoned) after fix_tail, with
 * the device ending at `start` before it wrote anything: undo what it
 * appended so that the failed write is durably absent (see "Failed means
 * failed" at the top). Returns rc; the message says what the file holds. */
static int rollback(vl_rvf *h, uint64_t start, int rc)
{
    char why[sizeof h->msg];
    memcpy(why, h->msg, sizeof why);
    char *cut = strstr(why, "; the store handle is now unusable");
    if (cut) *cut = 0;
    int t = h->io->truncate(h->io->ctx, start);
    const char *step = "truncate";
    if (t == VL_OK) { t = h->io->sync(h->io->ctx); step = "sync"; }
    h->poisoned = 1;
    if (t == VL_OK) {
        h->outcome = VL_OUTCOME_NOT_WRITTEN;
        return fail(h, rc, "%s; the write was rolled back: nothing of it is in the file, which ends "
                    "at its previous commit; the store handle is now unusable: reopen it", why);
    }
    h->outcome = VL_OUTCOME_UNKNOWN;
    return fail(h, rc, "%s, and undoing the write failed too (%s: %d): its outcome is unknown, a "
                "reopen shows either the previous commit or the whole write; the store handle is "
                "now unusable: reopen it", why, step, t);
}

int vl_rvf_write_outcome(const vl_rvf *h) { return h ? h->outcome : VL_OUTCOME_NONE; }

/* Sort del[] ascending (the manifest lists it sorted) and re-point every
 * deleted entry at its new position. */
static void sort_deleted(vl_rvf *h)
{
    if (h->ndel < 2) return;
    qsort(h->del, h->ndel, sizeof *h->del, cmp_u64);
    for (uint32_t i = 0; i < h->ndel; i++) h->ents[vl_idmap_get(&h->map, h->del[i])].del_pos = i;
}

/* Append the WITNESS (wlen bytes at wit, segment wid; wlen 0: none), sync,
 * the MANIFEST of the state already in h, sync. pos is the file offset
 * where the witness (or, without one, the manifest) goes: the end of the
 * segments the commit appended before. The directory (pruned by the
 * caller) lists no witness: the new one extends the chain in the file (see
 * "Witness chain" at the top). */
static int commit_finish(vl_rvf *h, const uint8_t *wit, uint32_t wlen, uint64_t wid, uint64_t pos,
                         uint8_t *mbuf, uint64_t man_id)
{
    int rc = VL_OK;
    uint64_t mpos = pos;
    if (wlen) {
        rc = emit_segment(h, VL_RVF_SEG_WITNESS, wid, wit, wlen);
        mpos += 64 + wlen;
    }
    if (!rc) rc = dev_sync(h);
    if (rc) return rc;
    uint64_t msz = manifest_size(h->ndir, h->ndel, h->flags & VL_RVF_F_FIDI);
    sort_deleted(h);
    manifest_encode(h, mbuf);
    rc = emit_segment(h, VL_RVF_SEG_MANIFEST, man_id, mbuf, msz);
    if (!rc) rc = dev_sync(h);
    if (rc) return rc;
    if (wlen) vl_rvf_fold32_once(wit, wlen, h->wit_hash);
    h->n_witness = 0;
    h->man_crc = vl_crc32(0, mbuf, (size_t)msz);
    h->manifest_offset = mpos;
    h->committed_end = h->append_at = mpos + 64 + msz;
    return VL_OK;
}

/* ====================================================================== */
/* Ingest                                                                  */
/* ====================================================================== */

/* Encode rows [a, b) of a batch into out (VEC row layout). */
static void encode_rows(uint8_t *out, uint32_t dim, const uint64_t *ids, const float *vecs,
                        uint32_t a, uint32_t b)
{
    for (uint32_t r = a; r < b; r++) {
        wr64(out, ids[r]);
        const float *v = vecs + (size_t)r * dim;
        for (uint32_t j = 0; j < dim; j++) wrf(out + 8 + 4 * (size_t)j, v[j]);
        out += 8 + 4 * (size_t)dim;
    }
}

/* Stream one VEC segment of batch rows [a, b): CRC pass, then write pass,
 * through a bounded scratch buffer (the batch is never copied whole). */
static int emit_vec_rows(vl_rvf *h, uint64_t seg_id, const uint64_t *ids, const float *vecs,
                         uint32_t a, uint32_t b, uint8_t *scratch, uint32_t srows)
{
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    uint8_t pre[6];
    wr16(pre, (uint16_t)h->dim);
    wr32(pre + 2, b - a);
    uint32_t crc = vl_crc32(0, pre, 6);
    for (uint32_t r = a; r < b; r += srows) {
        uint32_t e = b - r < srows ? b : r + srows;
        encode_rows(scratch, h->dim, ids, vecs, r, e);
        crc = vl_crc32(crc, scratch, (size_t)((e - r) * rowsz));
    }
    int rc = emit_header(h, VL_RVF_SEG_VEC, seg_id, 6 + (uint64_t)(b - a) * rowsz, crc);
    if (!rc) rc = dev_append(h, pre, 6);
    for (uint32_t r = a; r < b && !rc; r += srows) {
        uint32_t e = b - r < srows ? b : r + srows;
        encode_rows(scratch, h->dim, ids, vecs, r, e);
        rc = dev_append(h, scratch, (e - r) * rowsz);
    }
    return rc;
}

/* ---- tiered merge of the newest VEC segments ("Tiered merge" at the top) ---- */

#define MERGE_DEL (UINT32_MAX - 1)   /* batch map value: deleted by the commit, not upserted */

typedef struct vmerge {
    uint32_t on;            /* 1: the commit writes a merged segment */
    uint32_t first_batch;   /* batch segments first_batch.. are merged (nsegs: none) */
    uint32_t old_k;         /* vecs ordinal of the oldest listed segment merged (NONE: none) */
    uint32_t rows;          /* rows of the merged segment */
    uint32_t k;             /* its vecs ordinal (set by merge_apply) */
    uint8_t *buf;           /* its payload: 6 + rows x rowsz bytes */
    uint64_t *ids;          /* its ids in row order (handed over to the vecseg) */
    uint64_t plen, seg_id;
} vmerge;

typedef struct merge_fill {
    vmerge *m;
    const vl_idmap *bm;     /* ids the commit deletes or upserts */
    uint64_t rowsz;
    uint32_t n;             /* rows filled */
} merge_fill;

/* vec_walk visitor: copy the live winning rows that the commit leaves alone. */
static int merge_row(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id, const uint8_t *vec)
{
    merge_fill *f = ctx;
    uint32_t ei = vl_idmap_get(&h->map, id);
    if (ei == VL_NO_NODE) return 0;
    const entry *e = &h->ents[ei];
    if (e->del_pos != NONE || e->seg != k || e->row != row || vl_idmap_get(f->bm, id) != VL_NO_NODE)
        return 0;
    if (f->n == f->m->rows)
        return fail(h, VL_ECORRUPT, "merging VEC segments: more live rows than indexed "
                    "(the device changed under the handle)");
    uint8_t *p = f->m->buf + 6 + (uint64_t)f->n * f->rowsz;
    wr64(p, id);
    memcpy(p + 8, vec, (size_t)(f->rowsz - 8));   /* bit for bit */
    f->m->ids[f->n++] = id;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* How many entries of the ascending ks[0..n) equal k. */
static uint32_t count_sorted(const uint32_t *ks, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) { uint32_t mid = lo + (hi - lo) / 2; if (ks[mid] < k) lo = mid + 1; else hi = mid; }
    uint32_t a = lo;
    hi = n;
    while (lo < hi) { uint32_t mid = lo + (hi - lo) / 2; if (ks[mid] <= k) lo = mid + 1; else hi = mid; }
    return lo - a;
}

static void merge_free(vmerge *m)
{
    vl_mem_free(m->buf);
    vl_mem_free(m->ids);
    m->buf = NULL;
    m->ids = NULL;
    m->on = 0;
}

/* Plan the merge of a commit that deletes del_ids[0..nd) and then upserts
 * the n batch rows (nsegs segments of `per` rows), before anything
 * changes: the live rows every VEC segment keeps after the commit, the
 * group to merge, and the merged payload (read from the listed segments,
 * hash-verified, and from the batch). Running short of memory or of
 * segment ids skips the merge: it is an optimisation, the commit is
 * correct without it. extra_dir / extra_ids: directory entries and segment
 * ids the commit needs besides the merged segment. barrier: the offset of
 * the newest listed INDEX the commit keeps (0: none); listed VEC segments
 * below it are never merged. consolidate (a commit that writes a new
 * INDEX): the barrier is lifted, the segments at or after it join the
 * group whatever their sizes (as if they had arrived as one batch), the
 * rule extends it backwards as usual, and a merge is planned even without
 * batch rows (see "INDEX coverage" at the top). Returns VL_OK or an error
 * reading a listed segment (VL_EIO, VL_ECORRUPT; the handle is
 * unchanged). */
static int merge_prepare(vl_rvf *h, vmerge *m, uint32_t n, const uint64_t *ids, const float *vecs,
                         uint32_t per, uint32_t nsegs, uint32_t nd, const uint64_t *del_ids,
                         uint64_t extra_dir, uint64_t extra_ids, uint64_t barrier, int consolidate)
{
    memset(m, 0, sizeof *m);
    m->old_k = NONE;
    m->first_batch = nsegs;
    if ((n == 0 && !consolidate) || (uint64_t)n + nd >= (1u << 30)) return VL_OK;
    if (h->next_seg_id > UINT64_MAX - extra_ids - 1) return VL_OK;
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim, cap_rows = (VL_RVF_VEC_TARGET - 6) / rowsz;
    vl_idmap bm = { 0 };
    uint32_t *bcnt = NULL, *ks = NULL, nks = 0;
    int rc = VL_OK;
    if (vl_idmap_reserve(&bm, n + nd) != VL_OK) goto off;
    for (uint32_t i = 0; i < nd; i++) vl_idmap_put(&bm, del_ids[i], MERGE_DEL);
    for (uint32_t r = 0; r < n; r++) vl_idmap_put(&bm, ids[r], r);   /* the last row of an id wins */
    bcnt = vl_mem_calloc(nsegs ? nsegs : 1, sizeof *bcnt);
    ks = vl_mem_alloc((size_t)(bm.count ? bm.count : 1) * sizeof *ks);
    if (!bcnt || !ks) goto off;
    /* per distinct id: the batch segment of its winning row; the listed
     * segment whose live row it replaces or deletes */
    for (uint32_t j = 0; j < bm.cap; j++) {
        uint32_t v = bm.vals[j];
        if (v == VL_NO_NODE) continue;
        if (v != MERGE_DEL) bcnt[v / per]++;
        uint32_t ei = vl_idmap_get(&h->map, bm.keys[j]);
        if (ei != VL_NO_NODE && h->ents[ei].del_pos == NONE) ks[nks++] = h->ents[ei].seg;
    }
    qsort(ks, nks, sizeof *ks, cmp_u32);

    /* The group: from the newest segment back, while it holds at least half
     * the live rows of the segment before it and fits one segment. */
    uint64_t gl = 0;
    uint32_t gsz = 0, old_i = NONE, stop = 0;
    for (uint32_t s = nsegs; s-- > 0 && !stop;) {
        uint64_t c = bcnt[s];
        if (c == 0) continue;                   /* superseded inside the batch: never listed */
        if (gsz && (2 * gl < c || gl + c > cap_rows)) { stop = 1; break; }
        gl += c;
        gsz++;
        m->first_batch = s;
    }
    for (uint32_t i = h->ndir; i-- > 0 && !stop;) {
        const dent *d = &h->dir[i];
        if (d->type != VL_RVF_SEG_VEC) continue;
        uint64_t c = h->vecs[d->vec].live_refs - count_sorted(ks, nks, d->vec);
        if (c == 0) continue;                   /* no live row left: pruned by this commit */
        if (gl + c > cap_rows) break;
        if (d->offset < barrier && !consolidate) break;   /* covered by the newest INDEX: stays */
        if (!(consolidate && barrier && d->offset >= barrier) && gsz && 2 * gl < c) break;
        gl += c;
        gsz++;
        old_i = i;
    }
    if (gsz < 2) goto off;

    m->rows = (uint32_t)gl;
    m->plen = 6 + gl * rowsz;
    m->old_k = old_i == NONE ? NONE : h->dir[old_i].vec;
    if (GROW(h, vecs, nvecs, cap_vecs, (uint64_t)nsegs + 1) || GROW(h, dir, ndir, cap_dir, extra_dir + 1))
        goto off;
    if (!(m->buf = vl_mem_alloc((size_t)m->plen)) || !(m->ids = vl_mem_alloc((size_t)gl * sizeof *m->ids)))
        goto off;
    wr16(m->buf, (uint16_t)h->dim);
    wr32(m->buf + 2, m->rows);
    merge_fill f = { m, &bm, rowsz, 0 };
    for (uint32_t i = old_i == NONE ? h->ndir : old_i; i < h->ndir && !rc; i++) {
        const dent *d = &h->dir[i];
        if (d->type == VL_RVF_SEG_VEC && h->vecs[d->vec].live_refs > count_sorted(ks, nks, d->vec))
            rc = vec_walk(h, d, d->vec, merge_row, &f, NULL, 0);
    }
    if (rc == VL_ENOMEM) goto off;
    if (rc) goto out;
    for (uint32_t s = m->first_batch; s < nsegs; s++) {
        uint32_t a = s * per, b = s + 1 == nsegs ? n : a + per;
        for (uint32_t r = a; r < b; r++) {
            if (vl_idmap_get(&bm, ids[r]) != r) continue;   /* a later row of the batch wins */
            if (f.n == m->rows) break;
            encode_rows(m->buf + 6 + (uint64_t)f.n * rowsz, h->dim, ids, vecs, r, r + 1);
            m->ids[f.n++] = ids[r];
        }
    }
    if (f.n != m->rows) {
        rc = fail(h, VL_ECORRUPT, "merging VEC segments: found %u live rows, expected %u "
                  "(the device changed under the handle)", f.n, m->rows);
        goto out;
    }
    m->on = 1;
    goto out;
off:
    rc = VL_OK;
out:
    if (!m->on) merge_free(m);
    vl_idmap_free(&bm);
    vl_mem_free(bcnt);
    vl_mem_free(ks);
    return rc;
}

/* Apply a prepared merge (after the commit's deletes, upserts and
 * prune_dir; cannot fail): the merged segment becomes VEC ordinal m->k,
 * winner of every row it carries; the merged listed segments leave the
 * directory; batch segments that were merged, or lost all their rows to
 * later rows of the same batch, are dropped (never written). The batch
 * segments are the vecs ordinals first..first+nsegs-1. Call it also when
 * no merge is planned (m->on == 0). */
static void merge_apply(vl_rvf *h, vmerge *m, uint32_t first, uint32_t nsegs)
{
    if (m->on) {
        uint32_t k = m->k = h->nvecs++;
        vecseg *v = &h->vecs[k];
        *v = (vecseg){ .ids = m->ids, .nids = m->rows, .count = m->rows, .live_refs = 0, .listed = 1 };
        m->ids = NULL;
        for (uint32_t r = 0; r < m->rows; r++) {
            uint32_t ei = vl_idmap_get(&h->map, v->ids[r]);
            assert(ei != VL_NO_NODE && h->ents[ei].del_pos == NONE && h->ents[ei].seg != NONE);
            entry *e = &h->ents[ei];
            h->vecs[e->seg].live_refs--;
            e->seg = k;
            e->row = r;
            e->nseg++;
            v->live_refs++;
        }
        if (m->old_k != NONE) {
            uint32_t w = 0, in = 0;
            for (uint32_t i = 0; i < h->ndir; i++) {
                dent *d = &h->dir[i];
                if (d->type == VL_RVF_SEG_VEC && d->vec == m->old_k) in = 1;
                if (in && d->type == VL_RVF_SEG_VEC) {
                    assert(h->vecs[d->vec].live_refs == 0);
                    drop_vec(h, d->vec);
                    continue;
                }
                h->dir[w++] = *d;
            }
            h->ndir = w;
        }
    }
    for (uint32_t s = 0; s < nsegs; s++) {
        if ((m->on && s >= m->first_batch) || h->vecs[first + s].live_refs == 0) {
            assert(h->vecs[first + s].live_refs == 0);
            drop_vec(h, first + s);
        }
    }
}

/* Directory entry of the merged segment at *pos (after the batch's). */
static void merge_dirent(vl_rvf *h, vmerge *m, uint64_t *pos)
{
    if (!m->on) return;
    m->seg_id = h->next_seg_id++;
    h->dir[h->ndir++] = (dent){ m->seg_id, *pos, m->plen, VL_RVF_SEG_VEC, m->k };
    *pos += 64 + m->plen;
}

static int merge_emit(vl_rvf *h, const vmerge *m)
{
    return m->on ? emit_segment(h, VL_RVF_SEG_VEC, m->seg_id, m->buf, m->plen) : VL_OK;
}

int vl_rvf_ingest(vl_rvf *h, uint32_t n, const uint64_t *ids, const float *vecs, uint64_t now_ns)
{
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    uint32_t per = (uint32_t)((VL_RVF_VEC_TARGET - 6) / rowsz);
    if (per == 0) per = 1;
    uint32_t nsegs = n ? (n - 1) / per + 1 : 0;
    int rc = commit_begin(h, (uint64_t)nsegs + 2);
    if (rc) return rc;
    if (n == 0) return VL_OK;
    if (!ids || !vecs) return fail(h, VL_EINVAL, "vl_rvf_ingest: NULL ids or vectors");

    uint32_t srows = (uint32_t)((64u << 10) / rowsz);
    if (srows == 0) srows = 1;
    if (srows > n) srows = n;

    /* ---- reserve everything, so the mutation below cannot fail ---- */
    uint8_t *mbuf = NULL, *scratch = NULL;
    uint64_t **segids = NULL, *bseg = NULL;   /* bseg[s]: segment id of batch segment s, 0 if unwritten */
    vmerge m = { 0 };
    rc = manifest_alloc(h, (uint64_t)nsegs + 1, 0, &mbuf);
    if (rc) return rc;
    if ((rc = reserve_ids(h, n))) goto nomem;
    rc = VL_ENOMEM;
    if (GROW(h, vecs, nvecs, cap_vecs, nsegs) || GROW(h, dir, ndir, cap_dir, (uint64_t)nsegs + 1))
        goto nomem;
    if (!(scratch = vl_mem_alloc((size_t)(srows * rowsz)))) goto nomem;
    if (!(segids = vl_mem_calloc(nsegs, sizeof *segids))) goto nomem;
    if (!(bseg = vl_mem_calloc(nsegs, sizeof *bseg))) goto nomem;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t cnt = (s + 1 == nsegs) ? n - s * per : per;
        if (!(segids[s] = vl_mem_alloc((size_t)cnt * sizeof **segids))) goto nomem;
    }
    rc = merge_prepare(h, &m, n, ids, vecs, per, nsegs, 0, NULL, (uint64_t)nsegs + 1,
                       (uint64_t)nsegs + 2, 0, 0);
    if (rc) goto done;
    rc = fix_tail(h);
    if (rc) goto done;

    /* ---- mutate: rows, merge, directory, epoch ---- */
    uint32_t first = h->nvecs;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t a = s * per, b = (s + 1 == nsegs) ? n : a + per;
        vecseg *v = &h->vecs[h->nvecs];
        *v = (vecseg){ .ids = segids[s], .nids = 0, .count = b - a, .live_refs = 0, .listed = 1 };
        segids[s] = NULL;
        for (uint32_t r = a; r < b; r++) upsert_row(h, h->nvecs, r - a, ids[r]);
        h->nvecs++;
    }
    prune_dir(h, 1);
    merge_apply(h, &m, first, nsegs);
    uint64_t pos = h->append_at;
    for (uint32_t s = 0; s < nsegs; s++) {
        if (!h->vecs[first + s].listed) continue;
        uint32_t a = s * per, b = (s + 1 == nsegs) ? n : a + per;
        uint64_t plen = 6 + (uint64_t)(b - a) * rowsz;
        bseg[s] = h->next_seg_id++;
        h->dir[h->ndir++] = (dent){ bseg[s], pos, plen, VL_RVF_SEG_VEC, first + s };
        pos += 64 + plen;
    }
    merge_dirent(h, &m, &pos);
    h->epoch++;
    char action[96];
    uint8_t wit[13 + 96 + 32];
    snprintf(action, sizeof action, "ingest:count=%u,epoch=%u", n, h->epoch);
    uint32_t wlen = witness_encode(wit, 1, now_ns, action, h->wit_hash);
    uint64_t wid = h->next_seg_id++;
    uint64_t man_id = h->next_seg_id++;

    /* ---- write ---- */
    for (uint32_t s = 0; s < nsegs && !rc; s++) {
        if (!bseg[s]) continue;
        uint32_t a = s * per, b = (s + 1 == nsegs) ? n : a + per;
        rc = emit_vec_rows(h, bseg[s], ids, vecs, a, b, scratch, srows);
    }
    if (!rc) rc = merge_emit(h, &m);
    if (!rc) rc = commit_finish(h, wit, wlen, wid, pos, mbuf, man_id);
    if (rc) rc = rollback(h, h->append_at, rc);   /* append_at moves only on success */
    goto done;
nomem:
    if (rc == VL_EBUDGET) fail(h, rc, "more than %u distinct ids: over this build's cap", MAX_ENTRIES);
    else fail(h, rc, "out of memory preparing an ingest of %u rows", n);
done:
    merge_free(&m);
    if (segids) for (uint32_t s = 0; s < nsegs; s++) vl_mem_free(segids[s]);
    vl_mem_free(segids);
    vl_mem_free(bseg);
    vl_mem_free(scratch);
    vl_mem_free(mbuf);
    return rc;
}

/* ====================================================================== */
/* Delete                                                                  */
/* ====================================================================== */

int vl_rvf_delete(vl_rvf *h, uint32_t n, const uint64_t *ids, uint64_t now_ns, uint32_t *n_deleted)
{
    int rc = commit_begin(h, 3);
    if (rc) return rc;
    if (n_deleted) *n_deleted = 0;
    if (n == 0) return VL_OK;
    if (!ids) return fail(h, VL_EINVAL, "vl_rvf_delete: NULL ids");

    uint8_t *mbuf = NULL, *jbuf = NULL;
    uint64_t jlen = 16 + 12 * (uint64_t)n;
    rc = manifest_alloc(h, 1, n, &mbuf);
    if (rc) return rc;
    if (GROW(h, del, ndel, cap_del, n) || GROW(h, dir, ndir, cap_dir, 1) ||
        !(jbuf = vl_mem_alloc((size_t)jlen))) {
        rc = fail(h, VL_ENOMEM, "out of memory preparing a delete of %u ids", n);
        goto done;
    }
    rc = fix_tail(h);
    if (rc) goto done;

    /* ---- mutate ---- */
    uint32_t d = 0;
    for (uint32_t i = 0; i < n; i++) d += (uint32_t)delete_id(h, ids[i]);
    prune_dir(h, d > 0);
    h->epoch++;
    wr32(jbuf, n);
    wr32(jbuf + 4, h->epoch);
    wr64(jbuf + 8, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = jbuf + 16 + 12 * (size_t)i;
        e[0] = 1; e[1] = 0;
        wr16(e + 2, 8);
        wr64(e + 4, ids[i]);
    }
    uint64_t jid = h->next_seg_id++;
    uint64_t pos = h->append_at + 64 + jlen;
    char action[96];
    uint8_t wit[13 + 96 + 32];
    snprintf(action, sizeof action, "delete:count=%u,epoch=%u", d, h->epoch);
    uint32_t wlen = witness_encode(wit, 0, now_ns, action, h->wit_hash);
    uint64_t wid = h->next_seg_id++;
    uint64_t man_id = h->next_seg_id++;

    /* ---- write ---- */
    rc = emit_segment(h, VL_RVF_SEG_JOURNAL, jid, jbuf, jlen);
    if (!rc) rc = commit_finish(h, wit, wlen, wid, pos, mbuf, man_id);
    if (rc) rc = rollback(h, h->append_at, rc);
    if (!rc && n_deleted) *n_deleted = d;
done:
    vl_mem_free(jbuf);
    vl_mem_free(mbuf);
    return rc;
}

/* ====================================================================== */
/* Create and derive                                                       */
/* ====================================================================== */

static int create_common(vl_io *io, uint32_t dim, uint32_t metric, uint32_t profile,
                         const uint8_t file_id[16], const uint8_t parent_id[16],
                         const uint8_t parent_hash[32], uint32_t depth, vl_rvf **out,
                         char *msg, uint32_t msg_cap)
{
    if (!io || !out || !file_id) { put_msg(msg, msg_cap, "NULL argument"); return VL_EINVAL; }
    if (dim == 0 || dim > VL_MAX_DIM) {
        put_msg(msg, msg_cap, "dimension %u is outside 1..%u", dim, VL_MAX_DIM);
        return VL_EINVAL;
    }
    if (metric > VL_METRIC_COSINE) { put_msg(msg, msg_cap, "unknown metric %u", metric); return VL_EINVAL; }
    vl_rvf *h = handle_new(io);
    if (!h) { put_msg(msg, msg_cap, "out of memory"); return VL_ENOMEM; }
    uint64_t size;
    uint8_t mbuf[MAN_FIXED + 4 + FIDI_SIZE];
    int rc = dev_size(h, &size);
    if (!rc && size != 0) rc = fail(h, VL_EINVAL, "cannot create a store on a non-empty device "
                                    "(%llu bytes)", (unsigned long long)size);
    if (rc) goto out;
    h->dim = dim;
    h->metric = metric;
    h->profile = profile;
    h->depth = depth;
    h->flags = VL_RVF_F_FIDI;
    memcpy(h->file_id, file_id, 16);
    if (parent_id) memcpy(h->parent_id, parent_id, 16);
    if (parent_hash) memcpy(h->parent_hash, parent_hash, 32);
    uint64_t id = h->next_seg_id++;
    manifest_encode(h, mbuf);
    rc = emit_segment(h, VL_RVF_SEG_MANIFEST, id, mbuf, sizeof mbuf);
    if (!rc) rc = dev_sync(h);
    if (rc) goto out;
    h->manifest_offset = 0;
    h->committed_end = h->append_at = 64 + sizeof mbuf;
    h->man_crc = vl_crc32(0, mbuf, sizeof mbuf);
out:
    if (rc) {
        put_msg(msg, msg_cap, "%s", h->msg);
        vl_rvf_free(h);
        return rc;
    }
    *out = h;
    return VL_OK;
}

int vl_rvf_create(vl_io *io, uint32_t dim, uint32_t metric, const uint8_t file_id[16],
                  vl_rvf **out, char *msg, uint32_t msg_cap)
{
    return create_common(io, dim, metric, 0, file_id, NULL, NULL, 0, out, msg, msg_cap);
}

int vl_rvf_derive(vl_rvf *parent, vl_io *child_io, const uint8_t child_file_id[16],
                  vl_rvf **out, char *msg, uint32_t msg_cap)
{
    if (!parent) { put_msg(msg, msg_cap, "NULL parent"); return VL_EINVAL; }
    if (parent->depth == UINT32_MAX) {
        put_msg(msg, msg_cap, "parent lineage depth is already at its maximum");
        return VL_EINVAL;
    }
    /* parent_hash = fold32 of the last <= 64 KiB of the parent file. */
    uint64_t end = parent->append_at, len = end < TAIL_FIRST ? end : TAIL_FIRST;
    uint8_t *tail = vl_mem_alloc((size_t)(len ? len : 1));
    uint8_t ph[32];
    if (!tail) { put_msg(msg, msg_cap, "out of memory"); return VL_ENOMEM; }
    int rc = dev_read(parent, end - len, tail, len);
    if (rc) {
        put_msg(msg, msg_cap, "reading the parent: %s", parent->msg);
        vl_mem_free(tail);
        return rc;
    }
    vl_rvf_fold32_once(tail, len, ph);
    vl_mem_free(tail);
    return create_common(child_io, parent->dim, parent->metric, parent->profile, child_file_id,
                         parent->file_id, ph, parent->depth + 1, out, msg, msg_cap);
}

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
    int rc = dev_read(h, off, w->buf, n);
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
static int witness_walk(vl_rvf *h, uint64_t limit, wit_fn fn, void *ctx, vl_rvf_witness_report *r)
{
    memset(r, 0, sizeof *r);
    r->intact = 1;
    r->end = limit;
    rwin w = { vl_mem_alloc(WALK_WIN), 0, 0 };
    if (!w.buf) return fail(h, VL_ENOMEM, "out of memory walking the witness chain");
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
                rc = fail(h, VL_EBUDGET, "witness segment at offset %llu has a %llu-byte payload; "
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
                    rc = fail(h, VL_ENOMEM, "out of memory reading a witness");
                    break;
                }
                if ((rc = dev_read(h, pos + 64, big, plen))) break;
                p = big;
            }
            vl_rvf_header hd;
            vl_rvf_header_decode(hdr, &hd);
            if (hd.checksum_algo != 0 || hd.compression != 0) {
                rc = fail(h, VL_ECORRUPT, "witness segment %llu at offset %llu uses checksum_algo %u, "
                          "compression %u: it cannot be verified", (unsigned long long)hd.segment_id,
                          (unsigned long long)pos, hd.checksum_algo, hd.compression);
                break;
            }
            if (!hash_ok(hd.content_hash, vl_crc32(0, p, (size_t)plen))) {
                rc = fail(h, VL_ECORRUPT, "witness segment %llu at offset %llu: content hash mismatch",
                          (unsigned long long)hd.segment_id, (unsigned long long)pos);
                break;
            }
            if (plen < 45 || rd32(p + 9) != plen - 45) {
                rc = fail(h, VL_ECORRUPT, "witness segment %llu at offset %llu does not parse",
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
    if (!out) return fail(h, VL_EINVAL, "vl_rvf_witness_chain: NULL report");
    int rc = witness_walk(h, h->committed_end, NULL, NULL, &r);
    if (rc == VL_OK) *out = r;
    return rc;
}

int vl_rvf_verify_witness(vl_rvf *h, uint32_t *entries, uint32_t *valid)
{
    vl_rvf_witness_report r;
    int rc = witness_walk(h, h->committed_end, NULL, NULL, &r);
    if (rc) return rc;
    if (entries) *entries = r.entries;
    if (valid) *valid = r.intact;
    return VL_OK;
}

/* ====================================================================== */
/* Compaction                                                              */
/* ====================================================================== */

typedef struct compact_ctx {
    vl_rvf *n;           /* the new store (bound to dst) */
    uint8_t *buf;        /* VEC payload being filled */
    uint64_t cap, len;   /* bytes */
    uint32_t rows;
    uint64_t *ids;       /* ids of the rows in buf */
} compact_ctx;

/* Write the buffered rows as one VEC segment of the new store. */
static int compact_flush(compact_ctx *c)
{
    vl_rvf *n = c->n;
    if (c->rows == 0) return VL_OK;
    wr16(c->buf, (uint16_t)n->dim);
    wr32(c->buf + 2, c->rows);
    int rc;
    if ((rc = GROW(n, vecs, nvecs, cap_vecs, 1)) || (rc = GROW(n, dir, ndir, cap_dir, 1)) ||
        (rc = reserve_ids(n, c->rows)))
        return fail(n, rc == VL_EBUDGET ? rc : VL_ENOMEM, "out of memory compacting");
    uint64_t *ids = vl_mem_alloc((size_t)c->rows * sizeof *ids);
    if (!ids) return fail(n, VL_ENOMEM, "out of memory compacting");
    uint64_t seg_id = n->next_seg_id++, off = n->append_at;
    rc = emit_segment(n, VL_RVF_SEG_VEC, seg_id, c->buf, c->len);
    if (rc) { vl_mem_free(ids); return rc; }
    uint32_t k = n->nvecs++;
    n->vecs[k] = (vecseg){ .ids = ids, .nids = 0, .count = c->rows, .live_refs = 0, .listed = 1 };
    for (uint32_t r = 0; r < c->rows; r++) upsert_row(n, k, r, c->ids[r]);
    n->dir[n->ndir++] = (dent){ seg_id, off, c->len, VL_RVF_SEG_VEC, k };
    n->append_at += 64 + c->len;
    c->len = 6;
    c->rows = 0;
    return VL_OK;
}

static int compact_row(void *ctx, uint64_t id, const float *vec)
{
    compact_ctx *c = ctx;
    uint32_t dim = c->n->dim;
    uint64_t rowsz = 8 + 4 * (uint64_t)dim;
    if (c->len + rowsz > c->cap) {
        int rc = compact_flush(c);
        if (rc) return rc;
    }
    uint8_t *p = c->buf + c->len;
    wr64(p, id);
    for (uint32_t j = 0; j < dim; j++) wrf(p + 8 + 4 * (size_t)j, vec[j]);
    c->ids[c->rows++] = id;
    c->len += rowsz;
    return 0;
}

/* Copy listed segment d of h into n byte for byte, verifying its hash. */
static int compact_copy(vl_rvf *h, vl_rvf *n, const dent *d, uint8_t *scratch)
{
    vl_rvf_header hd;
    uint8_t hb[64];
    int rc = check_listed(h, d, &hd);
    if (!rc) rc = dev_read(h, d->offset, hb, 64);
    if (rc) return fail(n, rc, "%s", h->msg);
    uint32_t crc = 0;
    if ((rc = GROW(n, dir, ndir, cap_dir, 1))) return fail(n, VL_ENOMEM, "out of memory compacting");
    uint64_t off = n->append_at;
    rc = dev_append(n, hb, 64);
    for (uint64_t done = 0; !rc && done < d->plen;) {
        uint32_t len = d->plen - done > IO_CHUNK ? IO_CHUNK : (uint32_t)(d->plen - done);
        rc = dev_read(h, d->offset + 64 + done, scratch, len);
        if (rc) return fail(n, rc, "%s", h->msg);
        crc = vl_crc32(crc, scratch, len);
        rc = dev_append(n, scratch, len);
        done += len;
    }
    if (rc) return rc;
    if (!hash_ok(hd.content_hash, crc))
        return fail(n, VL_ECORRUPT, "segment %llu (type 0x%02x) at offset %llu: content hash mismatch",
                    (unsigned long long)d->seg_id, d->type, (unsigned long long)d->offset);
    n->dir[n->ndir++] = (dent){ d->seg_id, off, d->plen, d->type, NONE };
    n->append_at += 64 + d->plen;
    if (d->type == VL_RVF_SEG_COW_MAP || d->type == VL_RVF_SEG_MEMBERSHIP) n->flags |= VL_RVF_F_BRANCH;
    return VL_OK;
}

/* witness_walk visitor: append the witness to the new file as stored. */
static int copy_witness(vl_rvf *h, void *ctx, uint64_t off, const uint8_t *hdr, const uint8_t *p,
                        uint64_t plen)
{
    (void)h; (void)off;
    vl_rvf *n = ctx;
    int rc = dev_append(n, hdr, 64);
    if (!rc) rc = dev_append(n, p, plen);
    if (!rc) n->append_at += 64 + plen;
    return rc;
}

/* Copy every WITNESS of h's file (up to append_at, in file order, hash
 * verified) into n, unlisted: the new file holds the whole chain, and the
 * compaction witness links to its last link. */
static int compact_witnesses(vl_rvf *h, vl_rvf *n)
{
    vl_rvf_witness_report r;
    h->msg[0] = 0;
    int rc = witness_walk(h, h->append_at, copy_witness, n, &r);
    if (rc) {
        if (!n->poisoned) fail(n, rc, "%s", h->msg);   /* the source failed, not dst */
        return rc;
    }
    memcpy(n->wit_hash, r.last_hash, 32);
    return VL_OK;
}

static int compact_impl(vl_rvf *h, vl_io *dst, uint64_t now_ns, uint64_t skip_types,
                        const vl_rvf_seg *segs, uint32_t n_segs, vl_rvf **out);

int vl_rvf_compact(vl_rvf *h, vl_io *dst, uint64_t now_ns, vl_rvf **out)
{
    return compact_impl(h, dst, now_ns, 0, NULL, 0, out);
}

int vl_rvf_compact_ex(vl_rvf *h, vl_io *dst, uint64_t now_ns, uint64_t skip_types,
                      const vl_rvf_seg *segs, uint32_t n_segs, vl_rvf **out)
{
    if (n_segs && !segs) return fail(h, VL_EINVAL, "vl_rvf_compact_ex: NULL segments");
    return compact_impl(h, dst, now_ns, skip_types, segs, n_segs, out);
}

static int compact_impl(vl_rvf *h, vl_io *dst, uint64_t now_ns, uint64_t skip_types,
                        const vl_rvf_seg *segs, uint32_t n_segs, vl_rvf **out)
{
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim, live = (uint64_t)h->nents - h->ndel;
    uint64_t per = (VL_RVF_VEC_TARGET - 6) / rowsz;
    if (per == 0) per = 1;
    int rc = commit_begin(h, live / per + 3 + n_segs);
    if (rc) return rc;
    if (!dst || !out) return fail(h, VL_EINVAL, "vl_rvf_compact: NULL argument");
    vl_rvf *n = handle_new(dst);
    if (!n) return fail(h, VL_ENOMEM, "out of memory");
    compact_ctx c = { n, NULL, 0, 6, 0, NULL };
    uint8_t *scratch = NULL, *mbuf = NULL;
    uint64_t size;
    if ((rc = dev_size(n, &size))) goto out;
    if (size != 0) { rc = fail(n, VL_EINVAL, "compaction target is not empty"); goto out; }

    n->dim = h->dim;
    n->metric = h->metric;
    n->profile = h->profile;
    n->depth = h->depth;
    n->flags = h->flags & VL_RVF_F_FIDI;
    memcpy(n->file_id, h->file_id, 16);
    memcpy(n->parent_id, h->parent_id, 16);
    memcpy(n->parent_hash, h->parent_hash, 32);
    n->next_seg_id = h->next_seg_id;
    n->epoch = h->epoch + 1;

    /* ---- live rows into VEC segments of <= VL_RVF_VEC_TARGET bytes ---- */
    if (per > live) per = live ? live : 1;
    c.cap = 6 + per * rowsz;
    c.buf = vl_mem_alloc((size_t)c.cap);
    c.ids = vl_mem_alloc((size_t)per * sizeof *c.ids);
    scratch = vl_mem_alloc(IO_CHUNK);
    if (!c.buf || !c.ids || !scratch) { rc = fail(n, VL_ENOMEM, "out of memory compacting"); goto out; }
    uint32_t vec_segs = 0;
    for (uint32_t i = 0; i < h->ndir; i++) vec_segs += h->dir[i].type == VL_RVF_SEG_VEC;
    h->msg[0] = 0;
    rc = vl_rvf_scan(h, compact_row, &c);
    if (rc) {
        if (n->msg[0] == 0) fail(n, rc, "%s", h->msg);   /* the source failed, not dst */
        goto out;
    }
    if ((rc = compact_flush(&c))) goto out;

    /* ---- the witness chain (unlisted), then segments this layer does not interpret ---- */
    if ((rc = compact_witnesses(h, n))) goto out;
    for (uint32_t i = 0; i < h->ndir; i++) {
        uint32_t t = h->dir[i].type;
        if (t == VL_RVF_SEG_VEC || t == VL_RVF_SEG_MANIFEST || t == VL_RVF_SEG_JOURNAL ||
            t == VL_RVF_SEG_INDEX || t == VL_RVF_SEG_WITNESS || (t < 64 && ((skip_types >> t) & 1)))
            continue;
        if ((rc = compact_copy(h, n, &h->dir[i], scratch))) goto out;
    }
    /* ---- the caller's segments (store: META snapshot, INDEX) ---- */
    for (uint32_t i = 0; i < n_segs; i++) {
        if ((rc = GROW(n, dir, ndir, cap_dir, 1))) { rc = fail(n, VL_ENOMEM, "out of memory"); goto out; }
        uint64_t sid = n->next_seg_id++, off = n->append_at;
        if ((rc = emit_segment(n, segs[i].seg_type, sid, segs[i].payload, segs[i].len))) goto out;
        n->dir[n->ndir++] = (dent){ sid, off, segs[i].len, segs[i].seg_type, NONE };
        n->append_at += 64 + segs[i].len;
        if (segs[i].seg_type == VL_RVF_SEG_INDEX) n->flags |= VL_RVF_F_INDEX;
    }

    /* ---- witness, sync, manifest, sync ---- */
    uint64_t reclaimed = h->committed_end > n->append_at ? h->committed_end - n->append_at : 0;
    char action[128];
    uint8_t wit[13 + 128 + 32];
    snprintf(action, sizeof action, "compact:segments_compacted=%u,bytes_reclaimed=%llu,epoch=%u",
             vec_segs, (unsigned long long)reclaimed, n->epoch);
    uint32_t wlen = witness_encode(wit, 1, now_ns, action, n->wit_hash);
    if ((rc = manifest_alloc(n, 0, 0, &mbuf))) goto out;
    uint64_t wid = n->next_seg_id++;
    rc = commit_finish(n, wit, wlen, wid, n->append_at, mbuf, n->next_seg_id++);
out:
    vl_mem_free(c.buf);
    vl_mem_free(c.ids);
    vl_mem_free(scratch);
    vl_mem_free(mbuf);
    if (rc) {
        /* h is untouched (only read) and stays usable; report the reason on
         * h, without dst's "the store handle is now unusable" (dst is garbage). */
        char tmp[sizeof h->msg];
        char *cut = strstr(n->msg, "; the store handle is now unusable");
        if (cut) *cut = 0;
        snprintf(tmp, sizeof tmp, "compaction: %s", n->msg);
        memcpy(h->msg, tmp, sizeof tmp);
        vl_rvf_free(n);
        return rc;
    }
    *out = n;
    return VL_OK;
}

/* ====================================================================== */
/* Store extensions (rvf.h): generic commit, scan with deleted rows,       */
/* payload reads. Used by src/store.c.                                     */
/* ====================================================================== */

static int seg_type_reserved(uint32_t t)
{
    return t == VL_RVF_SEG_VEC || t == VL_RVF_SEG_JOURNAL || t == VL_RVF_SEG_MANIFEST ||
           t == VL_RVF_SEG_WITNESS || t > 0xFF;
}

int vl_rvf_commit(vl_rvf *h, const vl_rvf_commit_args *a, uint32_t *n_deleted)
{
    if (!a) return fail(h, VL_EINVAL, "vl_rvf_commit: NULL arguments");
    uint32_t n = a->n_rows, nd = a->n_del, ns = a->n_segs, wit_on = a->witness_action != NULL;
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    uint32_t per = (uint32_t)((VL_RVF_VEC_TARGET - 6) / rowsz);
    if (per == 0) per = 1;
    uint32_t nsegs = n ? (n - 1) / per + 1 : 0;
    int rc = commit_begin(h, (uint64_t)nsegs + (nd ? 1 : 0) + ns + wit_on + 1);
    if (rc) return rc;
    if (n_deleted) *n_deleted = 0;
    if ((n && (!a->ids || !a->vecs)) || (nd && !a->del_ids) || (ns && !a->segs))
        return fail(h, VL_EINVAL, "vl_rvf_commit: NULL rows, ids or segments");
    for (uint32_t i = 0; i < ns; i++)
        if (seg_type_reserved(a->segs[i].seg_type) || (a->segs[i].len && !a->segs[i].payload))
            return fail(h, VL_EINVAL, "vl_rvf_commit: segment %u has type 0x%02x or no payload", i,
                        a->segs[i].seg_type);
    if (a->n_unlist && !a->unlist_seg_ids)
        return fail(h, VL_EINVAL, "vl_rvf_commit: NULL unlist_seg_ids");
    for (uint32_t u = 0; u < a->n_unlist; u++) {
        uint32_t i = 0;
        while (i < h->ndir && h->dir[i].seg_id != a->unlist_seg_ids[u]) i++;
        if (i == h->ndir || seg_type_reserved(h->dir[i].type))
            return fail(h, VL_EINVAL, "vl_rvf_commit: segment %llu to unlist is not a listed "
                        "non-row segment", (unsigned long long)a->unlist_seg_ids[u]);
    }
    if (wit_on && strlen(a->witness_action) > 160)
        return fail(h, VL_EINVAL, "vl_rvf_commit: witness action longer than 160 bytes");

    uint32_t srows = (uint32_t)((64u << 10) / rowsz);
    if (srows == 0) srows = 1;
    if (srows > n) srows = n ? n : 1;
    uint64_t jlen = nd ? 16 + 12 * (uint64_t)nd : 0;

    /* ---- reserve everything, so the mutation below cannot fail ---- */
    uint8_t *mbuf = NULL, *scratch = NULL, *jbuf = NULL;
    uint64_t **segids = NULL;
    vmerge mg = { 0 };   /* tiered merge of VEC segments (merge_prepare) */
    rc = manifest_alloc(h, (uint64_t)nsegs + ns + wit_on, nd, &mbuf);
    if (rc) return rc;
    if ((rc = reserve_ids(h, n))) goto nomem;
    rc = VL_ENOMEM;
    if (GROW(h, vecs, nvecs, cap_vecs, nsegs) ||
        GROW(h, dir, ndir, cap_dir, (uint64_t)nsegs + ns + 1) || GROW(h, del, ndel, cap_del, nd))
        goto nomem;
    if (n && !(scratch = vl_mem_alloc((size_t)(srows * rowsz)))) goto nomem;
    if (nd && !(jbuf = vl_mem_alloc((size_t)jlen))) goto nomem;
    if (nsegs && !(segids = vl_mem_calloc(nsegs, sizeof *segids))) goto nomem;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t cnt = (s + 1 == nsegs) ? n - s * per : per;
        if (!(segids[s] = vl_mem_alloc((size_t)cnt * sizeof **segids))) goto nomem;
    }
    /* INDEX coverage: a keep_index commit leaves the rows before the newest
     * listed INDEX where they are; a commit that carries an INDEX merges
     * the tiers (the merged VEC lands before the new INDEX) */
    int new_index = 0;
    uint64_t barrier = 0;
    for (uint32_t i = 0; i < ns; i++) new_index |= a->segs[i].seg_type == VL_RVF_SEG_INDEX;
    if (a->keep_index)
        for (uint32_t i = 0; i < h->ndir; i++)
            if (h->dir[i].type == VL_RVF_SEG_INDEX && h->dir[i].offset > barrier) barrier = h->dir[i].offset;
    rc = merge_prepare(h, &mg, n, a->ids, a->vecs, per, nsegs, nd, a->del_ids,
                       (uint64_t)nsegs + ns + 1, (uint64_t)nsegs + (nd ? 1 : 0) + ns + wit_on + 1,
                       barrier, new_index);
    if (rc) goto done;
    rc = fix_tail(h);
    if (rc) goto done;

    /* ---- mutate: deletes, rows, directory, epoch ---- */
    uint32_t d = 0;
    for (uint32_t i = 0; i < nd; i++) d += (uint32_t)delete_id(h, a->del_ids[i]);
    uint32_t first = h->nvecs;
    for (uint32_t s = 0; s < nsegs; s++) {
        uint32_t lo = s * per, hi = (s + 1 == nsegs) ? n : lo + per;
        vecseg *v = &h->vecs[h->nvecs];
        *v = (vecseg){ .ids = segids[s], .nids = 0, .count = hi - lo, .live_refs = 0, .listed = 1 };
        segids[s] = NULL;
        for (uint32_t r = lo; r < hi; r++) upsert_row(h, h->nvecs, r - lo, a->ids[r]);
        h->nvecs++;
    }
    int rows_changed = n > 0 || d > 0;
    prune_dir(h, rows_changed && !a->keep_index);
    if (a->drop_types || a->n_unlist) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < h->ndir; i++) {
            uint32_t t = h->dir[i].type;
            int gone = t < 64 && ((a->drop_types >> t) & 1) && t != VL_RVF_SEG_VEC && t != VL_RVF_SEG_WITNESS;
            for (uint32_t u = 0; u < a->n_unlist && !gone; u++)
                gone = h->dir[i].seg_id == a->unlist_seg_ids[u];     /* checked above: not a row segment */
            if (gone) {
                if (t == VL_RVF_SEG_INDEX) h->flags &= ~VL_RVF_F_INDEX;
                continue;
            }
            h->dir[w++] = h->dir[i];
        }
        h->ndir = w;
    }
    merge_apply(h, &mg, first, nsegs);
    uint64_t pos = h->append_at;
    for (uint32_t s = 0; s < nsegs; s++) {
        if (!h->vecs[first + s].listed) continue;   /* merged, or superseded inside the batch */
        uint32_t lo = s * per, hi = (s + 1 == nsegs) ? n : lo + per;
        uint64_t plen = 6 + (uint64_t)(hi - lo) * rowsz;
        h->dir[h->ndir++] = (dent){ h->next_seg_id++, pos, plen, VL_RVF_SEG_VEC, first + s };
        pos += 64 + plen;
    }
    merge_dirent(h, &mg, &pos);
    h->epoch++;
    uint64_t jid = 0;
    if (nd) {
        wr32(jbuf, nd);
        wr32(jbuf + 4, h->epoch);
        wr64(jbuf + 8, 0);
        for (uint32_t i = 0; i < nd; i++) {
            uint8_t *e = jbuf + 16 + 12 * (size_t)i;
            e[0] = 1; e[1] = 0;
            wr16(e + 2, 8);
            wr64(e + 4, a->del_ids[i]);
        }
        jid = h->next_seg_id++;
        pos += 64 + jlen;
    }
    uint32_t seg_first = h->ndir;
    for (uint32_t i = 0; i < ns; i++) {
        h->dir[h->ndir++] = (dent){ h->next_seg_id++, pos, a->segs[i].len, a->segs[i].seg_type, NONE };
        if (a->segs[i].seg_type == VL_RVF_SEG_INDEX) h->flags |= VL_RVF_F_INDEX;
        pos += 64 + a->segs[i].len;
    }
    uint8_t wit[13 + 192 + 32];
    uint32_t wlen = 0;
    if (wit_on) {
        char action[192];
        snprintf(action, sizeof action, "%s,epoch=%u", a->witness_action, h->epoch);
        wlen = witness_encode(wit, a->witness_type ? 1 : 0, a->now_ns, action, h->wit_hash);
    }
    uint64_t wid = wit_on ? h->next_seg_id++ : 0;
    uint64_t man_id = h->next_seg_id++;

    /* ---- write ---- */
    for (uint32_t s = 0; s < nsegs && !rc; s++) {
        if (!h->vecs[first + s].listed) continue;
        uint32_t lo = s * per, hi = (s + 1 == nsegs) ? n : lo + per;
        uint64_t vid = 0;
        for (uint32_t i = 0; i < h->ndir; i++)
            if (h->dir[i].type == VL_RVF_SEG_VEC && h->dir[i].vec == first + s) vid = h->dir[i].seg_id;
        rc = emit_vec_rows(h, vid, a->ids, a->vecs, lo, hi, scratch, srows);
    }
    if (!rc) rc = merge_emit(h, &mg);
    if (!rc && nd) rc = emit_segment(h, VL_RVF_SEG_JOURNAL, jid, jbuf, jlen);
    for (uint32_t i = 0; i < ns && !rc; i++)
        rc = emit_segment(h, a->segs[i].seg_type, h->dir[seg_first + i].seg_id, a->segs[i].payload,
                          a->segs[i].len);
    if (!rc) rc = commit_finish(h, wit, wlen, wid, pos, mbuf, man_id);
    if (rc) rc = rollback(h, h->append_at, rc);   /* append_at moves only on success */
    if (!rc && n_deleted) *n_deleted = d;
    goto done;
nomem:
    if (rc == VL_EBUDGET) fail(h, rc, "more than %u distinct ids: over this build's cap", MAX_ENTRIES);
    else fail(h, rc, "out of memory preparing a commit of %u rows and %u deletes", n, nd);
done:
    merge_free(&mg);
    if (segids) for (uint32_t s = 0; s < nsegs; s++) vl_mem_free(segids[s]);
    vl_mem_free(segids);
    vl_mem_free(scratch);
    vl_mem_free(jbuf);
    vl_mem_free(mbuf);
    return rc;
}

typedef struct scan_ex_ctx {
    vl_rvf_row_ex_fn cb;
    void *ctx;
    float *vec;
    uint64_t seg_offset;
} scan_ex_ctx;

static int scan_row_ex(vl_rvf *h, void *ctx, uint32_t k, uint32_t row, uint64_t id, const uint8_t *vec)
{
    scan_ex_ctx *s = ctx;
    uint32_t ei = vl_idmap_get(&h->map, id);
    if (ei == VL_NO_NODE) return 0;
    const entry *e = &h->ents[ei];
    if (e->seg != k || e->row != row) return 0;
    for (uint32_t j = 0; j < h->dim; j++) s->vec[j] = rdf(vec + 4 * (size_t)j);
    return s->cb(s->ctx, id, s->vec, s->seg_offset, e->del_pos == NONE);
}

int vl_rvf_scan_ex(vl_rvf *h, vl_rvf_row_ex_fn cb, void *ctx)
{
    if (h->poisoned) return fail(h, VL_EFATAL, "store handle is poisoned by an earlier failed write");
    if (!cb) return fail(h, VL_EINVAL, "vl_rvf_scan_ex: NULL callback");
    scan_ex_ctx s = { cb, ctx, vl_mem_alloc((size_t)h->dim * sizeof(float)), 0 };
    if (!s.vec) return fail(h, VL_ENOMEM, "out of memory");
    int rc = VL_OK;
    for (uint32_t i = 0; i < h->ndir && rc == VL_OK; i++) {
        const dent *d = &h->dir[i];
        if (d->type != VL_RVF_SEG_VEC) continue;
        s.seg_offset = d->offset;
        rc = vec_walk(h, d, d->vec, scan_row_ex, &s, NULL, 1);
    }
    vl_mem_free(s.vec);
    return rc;
}

int vl_rvf_read_payload(vl_rvf *h, uint32_t i, uint64_t cap, uint8_t **out)
{
    if (!out || i >= h->ndir) return fail(h, VL_EINVAL, "vl_rvf_read_payload: bad arguments");
    if (h->dir[i].plen == 0) {                   /* vl_mem_alloc(0) may return NULL */
        vl_rvf_header hd;
        int rc = check_listed(h, &h->dir[i], &hd);
        if (rc) return rc;
        *out = vl_mem_alloc(1);
        return *out ? VL_OK : fail(h, VL_ENOMEM, "out of memory");
    }
    return read_small(h, &h->dir[i], cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap, out);
}

uint64_t vl_rvf_live_rows_from(const vl_rvf *h, uint64_t off)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < h->ndir; i++)
        if (h->dir[i].type == VL_RVF_SEG_VEC && h->dir[i].offset >= off) n += h->vecs[h->dir[i].vec].live_refs;
    return n;
}

int vl_rvf_peek_listed(vl_io *io, uint32_t seg_type, uint64_t cap, uint8_t **out, uint64_t *len)
{
    *out = NULL;
    *len = 0;
    vl_rvf *h = handle_new(io);
    if (!h) return VL_ENOMEM;
    uint64_t size, mpos = 0;
    vl_rvf_header mh;
    uint8_t *mp = NULL;
    mview m;
    int found = 0, rc = dev_size(h, &size);
    if (!rc && size) rc = find_manifest(h, size, 0, &mpos, &mh, &mp, &m, &found);
    if (!rc && found) {
        dent last = { 0, 0, 0, NONE, NONE };
        for (uint32_t i = 0; i < m.nseg; i++) {
            const uint8_t *e = m.dirp + (size_t)i * DIRENT_SIZE;
            dent d = { rd64(e), rd64(e + 8), rd64(e + 16), e[24], NONE };
            if (d.type == seg_type) last = d;
        }
        if (last.type == seg_type) {
            if (last.offset > mpos || mpos - last.offset < 64 || last.plen > mpos - last.offset - 64 ||
                last.plen == 0)
                rc = VL_ECORRUPT;                /* vl_rvf_open says why */
            else if ((rc = read_small(h, &last, cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap, out)) == VL_OK)
                *len = last.plen;
        }
    }
    vl_mem_free(mp);
    vl_rvf_free(h);
    return rc;
}

int vl_rvf_poisoned(const vl_rvf *h) { return h ? h->poisoned : 0; }

/* ====================================================================== */
/* Image check (export)                                                    */
/* ====================================================================== */

/* See rvf.h. The image is opened as a file of its own (which finds its
 * newest valid manifest, checks every listed segment's header and hashes
 * every listed VEC and WITNESS); then its manifest must be h's (offset and
 * payload CRC-32), it must end exactly at h's append_at, and the listed
 * segments open does not hash (META, INDEX, foreign types) are hashed
 * here. A file that changed under a read-only handle (truncated, rewritten,
 * a torn or newer commit appended) fails one of these. */
int vl_rvf_check_image(const vl_rvf *h, vl_io *img, char *msg, uint32_t msg_cap)
{
    if (!h || !img) { put_msg(msg, msg_cap, "vl_rvf_check_image: NULL argument"); return VL_EINVAL; }
    uint64_t size;
    int rc = img->size(img->ctx, &size);
    if (rc) { put_msg(msg, msg_cap, "the image's size cannot be read (%d)", rc); return rc < 0 ? rc : VL_EIO; }
    if (size != h->append_at) {
        put_msg(msg, msg_cap, "the image is %llu bytes, but the commit it should hold (epoch %u) ends at "
                "byte %llu", (unsigned long long)size, h->epoch, (unsigned long long)h->append_at);
        return VL_ECORRUPT;
    }
    vl_rvf *g = NULL;
    char m[256];
    rc = vl_rvf_open(img, &g, m, sizeof m);
    if (rc) {
        put_msg(msg, msg_cap, "the image does not open as an .rvf file (%s)", m);
        return rc == VL_ENOMEM ? rc : VL_ECORRUPT;
    }
    if (g->manifest_offset != h->manifest_offset || g->man_crc != h->man_crc || g->epoch != h->epoch) {
        put_msg(msg, msg_cap, "the image's committed manifest (epoch %u at byte %llu, crc %08x) is not the "
                "one this handle holds (epoch %u at byte %llu, crc %08x)", g->epoch,
                (unsigned long long)g->manifest_offset, g->man_crc, h->epoch,
                (unsigned long long)h->manifest_offset, h->man_crc);
        vl_rvf_free(g);
        return VL_ECORRUPT;
    }
    if (g->append_at != size) {
        put_msg(msg, msg_cap, "the image holds %llu bytes after its committed state that are not part of it",
                (unsigned long long)(size - g->append_at));
        vl_rvf_free(g);
        return VL_ECORRUPT;
    }
    uint8_t *scratch = NULL;
    for (uint32_t i = 0; i < g->ndir && rc == VL_OK; i++) {
        const dent *d = &g->dir[i];
        if (d->type == VL_RVF_SEG_VEC || d->type == VL_RVF_SEG_WITNESS) continue;   /* hashed by open */
        if (!scratch && !(scratch = vl_mem_alloc(IO_CHUNK))) { rc = VL_ENOMEM; put_msg(msg, msg_cap, "out of memory"); break; }
        vl_rvf_header hd;
        uint32_t crc = 0;
        rc = check_listed(g, d, &hd);
        if (!rc) rc = crc_range(g, d->offset + 64, d->plen, scratch, IO_CHUNK, &crc);
        if (!rc && !hash_ok(hd.content_hash, crc))
            rc = fail(g, VL_ECORRUPT, "segment %llu (type 0x%02x) at offset %llu: content hash mismatch",
                      (unsigned long long)d->seg_id, d->type, (unsigned long long)d->offset);
        if (rc) {
            put_msg(msg, msg_cap, "%s", g->msg);
            if (rc != VL_ENOMEM) rc = VL_ECORRUPT;
        }
    }
    vl_mem_free(scratch);
    vl_rvf_free(g);
    return rc;
}

/* ====================================================================== */
/* Refresh: a read-only handle follows the writer (docs/format.md §5.4)    */
/* ====================================================================== */

/*
 * The committed state only ever grows by appending: the next commit's
 * segments and MANIFEST lie after this handle's committed_end, and its
 * directory lists the still-listed old segments unchanged (same id, offset,
 * length, type) plus new ones. So a reader applies a newer commit from the
 * bytes after its committed end: the backward scan stops at committed_end,
 * each new listed segment is read and hash-verified, its rows are upserted
 * after the kept ones (later rows win, as in load), unlisted VEC segments
 * are dropped and the new deleted list replaces the old one.
 *
 * Everything is read and checked before the handle changes (errors leave
 * it as it was). What the incremental path cannot reproduce exactly as a
 * fresh open would (the prefix no longer matches: the file was replaced or
 * truncated under the handle; a new file identity, dimension or metric; a
 * new VEC listed before a kept one; a live id whose winning row was
 * unlisted; a deleted list that does not follow from the rows) returns
 * VL_RVF_REFRESH_RELOAD: the caller opens the device afresh. After a
 * RELOAD the handle may be half-updated and must only be freed.
 */

typedef struct rf_old {                /* an old directory entry, by segment id */
    uint64_t seg_id, offset, plen;
    uint32_t type, pos;
} rf_old;

static int cmp_rf_old(const void *a, const void *b)
{
    uint64_t x = ((const rf_old *)a)->seg_id, y = ((const rf_old *)b)->seg_id;
    return x < y ? -1 : x > y;
}

static int rf_reload(vl_rvf *h, uint32_t *status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->msg, sizeof h->msg, fmt, ap);
    va_end(ap);
    *status = VL_RVF_REFRESH_RELOAD;
    return VL_OK;
}

int vl_rvf_refresh(vl_rvf *h, vl_rvf_row_fn row_cb, vl_rvf_id_fn del_cb, void *ctx, uint32_t *status)
{
    if (!h || !status) return VL_EINVAL;
    *status = VL_RVF_REFRESH_NONE;
    if (h->poisoned) return fail(h, VL_EFATAL, "store handle is poisoned by an earlier failed write");
    uint64_t size;
    int rc = dev_size(h, &size);
    if (rc) return rc;
    if (size < h->committed_end)
        return rf_reload(h, status, "the file (%llu bytes) is shorter than the handle's commit (%llu)",
                         (unsigned long long)size, (unsigned long long)h->committed_end);
    uint8_t hb[64];
    if ((rc = dev_read(h, h->manifest_offset, hb, 64))) return rc;
    if (memcmp(hb, h->man_hdr, 64) != 0)
        return rf_reload(h, status, "the bytes at the handle's manifest (offset %llu) changed: the file was "
                         "replaced", (unsigned long long)h->manifest_offset);
    if (size - h->committed_end < 64) return VL_OK;

    uint64_t mpos = 0;
    vl_rvf_header mh;
    uint8_t *mp = NULL;
    mview m;
    int found;
    if ((rc = find_manifest(h, size, h->committed_end, &mpos, &mh, &mp, &m, &found))) return rc;
    if (!found) return VL_OK;          /* a torn or uncommitted tail: nothing new is committed */

    dent *nd = NULL;
    rf_old *old = NULL;
    uint8_t **pay = NULL;              /* per new entry: a new VEC payload */
    uint8_t *was_live = NULL;
    uint32_t nnew_vec = 0;
    uint64_t new_rows = 0;
    float *vec = NULL;

    if (m.epoch <= h->epoch || m.metric != h->metric || m.dim != h->dim ||
        (m.has_fidi != ((h->flags & VL_RVF_F_FIDI) != 0)) || (m.has_fidi && memcmp(m.fidi, h->file_id, 16))) {
        rf_reload(h, status, "the newer manifest (epoch %u) does not continue this handle's file (epoch %u)",
                  m.epoch, h->epoch);
        goto out;
    }
    if (m.nseg > VL_RVF_MAX_DIR) {
        rc = fail(h, VL_EBUDGET, "manifest lists %u segments; this build caps the directory at %u", m.nseg,
                  VL_RVF_MAX_DIR);
        goto out;
    }
    nd = vl_mem_alloc((size_t)(m.nseg ? m.nseg : 1) * sizeof *nd);
    old = vl_mem_alloc((size_t)(h->ndir ? h->ndir : 1) * sizeof *old);
    pay = vl_mem_calloc(m.nseg ? m.nseg : 1, sizeof *pay);
    if (!nd || !old || !pay) { rc = fail(h, VL_ENOMEM, "out of memory refreshing"); goto out; }
    for (uint32_t i = 0; i < h->ndir; i++)
        old[i] = (rf_old){ h->dir[i].seg_id, h->dir[i].offset, h->dir[i].plen, h->dir[i].type, i };
    qsort(old, h->ndir, sizeof *old, cmp_rf_old);

    /* ---- the new directory: kept entries, and new ones read and verified ---- */
    uint32_t last_kept_vec = 0, saw_new_vec = 0, have_kept_vec = 0;
    for (uint32_t i = 0; i < m.nseg; i++) {
        const uint8_t *e = m.dirp + (size_t)i * DIRENT_SIZE;
        dent d = { rd64(e), rd64(e + 8), rd64(e + 16), e[24], NONE };
        if (d.offset > mpos || mpos - d.offset < 64 || d.plen > mpos - d.offset - 64) {
            rc = fail(h, VL_ECORRUPT, "directory entry %u (segment %llu, offset %llu) does not lie before the "
                      "manifest at %llu", i, (unsigned long long)d.seg_id, (unsigned long long)d.offset,
                      (unsigned long long)mpos);
            goto out;
        }
        uint32_t lo = 0, hi = h->ndir;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (old[mid].seg_id < d.seg_id) lo = mid + 1; else hi = mid;
        }
        int kept = lo < h->ndir && old[lo].seg_id == d.seg_id && old[lo].offset == d.offset &&
                   old[lo].plen == d.plen && old[lo].type == d.type;
        if (d.type == VL_RVF_SEG_COW_MAP || d.type == VL_RVF_SEG_MEMBERSHIP) {
            rf_reload(h, status, "a branch() child's commit is not followed incrementally");
            goto out;
        }
        if (kept) {
            d.vec = h->dir[old[lo].pos].vec;
            if (d.type == VL_RVF_SEG_VEC) {
                /* kept VEC segments keep their order, and all come before the new ones */
                if (saw_new_vec || (have_kept_vec && old[lo].pos < last_kept_vec)) {
                    rf_reload(h, status, "the newer manifest reorders VEC segments");
                    goto out;
                }
                have_kept_vec = 1;
                last_kept_vec = old[lo].pos;
            }
        } else if (d.type == VL_RVF_SEG_VEC) {
            saw_new_vec = 1;
            vl_rvf_header hd;
            if ((rc = check_listed(h, &d, &hd))) goto out;
            if (d.plen < 6 || d.plen > size) {
                rc = fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: bad payload length",
                          (unsigned long long)d.seg_id, (unsigned long long)d.offset);
                goto out;
            }
            if (!(pay[i] = vl_mem_alloc((size_t)d.plen))) {
                rc = fail(h, VL_ENOMEM, "out of memory reading VEC segment %llu", (unsigned long long)d.seg_id);
                goto out;
            }
            if ((rc = dev_read(h, d.offset + 64, pay[i], d.plen))) goto out;
            uint32_t count = rd32(pay[i] + 2);
            uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
            if (!hash_ok(hd.content_hash, vl_crc32(0, pay[i], (size_t)d.plen))) {
                rc = fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: content hash mismatch",
                          (unsigned long long)d.seg_id, (unsigned long long)d.offset);
                goto out;
            }
            if (rd16(pay[i]) != h->dim || 6 + (uint64_t)count * rowsz > d.plen) {
                rc = fail(h, VL_ECORRUPT, "VEC segment %llu at offset %llu: dimension or row count does not "
                          "fit", (unsigned long long)d.seg_id, (unsigned long long)d.offset);
                goto out;
            }
            nnew_vec++;
            new_rows += count;
        } else {
            vl_rvf_header hd;
            if ((rc = check_listed(h, &d, &hd))) goto out;
            if (d.type == VL_RVF_SEG_WITNESS) {
                uint8_t *wp = NULL;
                if ((rc = read_small(h, &d, VL_RVF_MAX_WITNESS, &wp))) goto out;
                vl_mem_free(wp);
            }
        }
        nd[i] = d;
    }
    /* listed segments are distinct byte ranges (as load checks) */
    if (m.nseg > 1) {
        uint64_t *rg = vl_mem_alloc((size_t)m.nseg * 2 * sizeof *rg);
        if (!rg) { rc = fail(h, VL_ENOMEM, "out of memory checking the directory"); goto out; }
        for (uint32_t i = 0; i < m.nseg; i++) {
            rg[2 * i] = nd[i].offset;
            rg[2 * i + 1] = nd[i].offset + 64 + nd[i].plen;
        }
        qsort(rg, m.nseg, 2 * sizeof *rg, cmp_u64);
        for (uint32_t i = 1; i < m.nseg && !rc; i++)
            if (rg[2 * i] < rg[2 * i - 1])
                rc = fail(h, VL_ECORRUPT, "directory entries overlap at offset %llu", (unsigned long long)rg[2 * i]);
        vl_mem_free(rg);
        if (rc) goto out;
    }

    /* ---- reserve, so that applying cannot fail ---- */
    if ((rc = GROW(h, vecs, nvecs, cap_vecs, nnew_vec)) ||
        (rc = grow((void **)&h->dir, &h->cap_dir, m.nseg, sizeof *h->dir))) {
        rc = fail(h, VL_ENOMEM, "out of memory refreshing");
        goto out;
    }
    rc = reserve_ids(h, new_rows);
    if (rc == VL_EBUDGET) { rc = fail(h, rc, "more than %u distinct ids: over this build's cap", MAX_ENTRIES); goto out; }
    if (rc || (rc = grow((void **)&h->del, &h->cap_del, (uint64_t)h->nents + new_rows, sizeof *h->del))) {
        rc = fail(h, VL_ENOMEM, "out of memory refreshing");
        goto out;
    }
    for (uint32_t i = 0, k = h->nvecs; i < m.nseg; i++) {
        if (!pay[i]) continue;
        uint32_t count = rd32(pay[i] + 2);
        vecseg *v = &h->vecs[k++];
        memset(v, 0, sizeof *v);
        if (!(v->ids = vl_mem_alloc((size_t)(count ? count : 1) * sizeof *v->ids))) {
            for (uint32_t j = h->nvecs; j < k; j++) { vl_mem_free(h->vecs[j].ids); h->vecs[j].ids = NULL; }
            rc = fail(h, VL_ENOMEM, "out of memory refreshing");
            goto out;
        }
    }
    was_live = vl_mem_alloc(m.ndel ? m.ndel : 1);
    vec = vl_mem_alloc((size_t)(h->dim ? h->dim : 1) * sizeof *vec);
    if (!was_live || !vec) {
        for (uint32_t j = h->nvecs; j < h->nvecs + nnew_vec; j++) { vl_mem_free(h->vecs[j].ids); h->vecs[j].ids = NULL; }
        rc = fail(h, VL_ENOMEM, "out of memory refreshing");
        goto out;
    }
    for (uint32_t i = 0; i < m.ndel; i++) {
        uint32_t ei = vl_idmap_get(&h->map, rd64(m.delp + (size_t)i * 8));
        was_live[i] = ei != VL_NO_NODE && h->ents[ei].del_pos == NONE;
    }

    /* ---- apply (nothing below fails; a surprise means RELOAD) ---- */
    uint64_t rowsz = 8 + 4 * (uint64_t)h->dim;
    for (uint32_t i = 0; i < m.nseg; i++) {
        if (!pay[i]) continue;
        uint32_t k = h->nvecs++, count = rd32(pay[i] + 2);
        vecseg *v = &h->vecs[k];
        v->count = count;
        v->listed = 1;
        nd[i].vec = k;
        for (uint32_t r = 0; r < count; r++) upsert_row(h, k, r, rd64(pay[i] + 6 + r * rowsz));
    }
    /* unlisted old VEC segments: none may still hold a live winning row */
    uint8_t *kept_vec = vl_mem_calloc(h->nvecs ? h->nvecs : 1, 1);
    if (!kept_vec) { rf_reload(h, status, "out of memory refreshing"); goto out; }
    for (uint32_t i = 0; i < m.nseg; i++)
        if (nd[i].type == VL_RVF_SEG_VEC) kept_vec[nd[i].vec] = 1;
    for (uint32_t i = 0; i < h->ndir; i++) {
        const dent *d = &h->dir[i];
        if (d->type != VL_RVF_SEG_VEC || kept_vec[d->vec]) continue;
        if (h->vecs[d->vec].live_refs) {
            vl_mem_free(kept_vec);
            rf_reload(h, status, "an unlisted VEC segment still held live rows");
            goto out;
        }
        drop_vec(h, d->vec);
    }
    vl_mem_free(kept_vec);
    memcpy(h->dir, nd, (size_t)m.nseg * sizeof *nd);
    h->ndir = m.nseg;
    /* the deleted list: authoritative, and it must be what the rows leave */
    uint32_t listed_del = 0;
    for (uint32_t i = 0; i < m.ndel; i++) delete_id(h, rd64(m.delp + (size_t)i * 8));
    for (uint32_t i = 0; i < m.ndel; i++) {
        uint32_t ei = vl_idmap_get(&h->map, rd64(m.delp + (size_t)i * 8));
        listed_del += ei != VL_NO_NODE;
    }
    if (listed_del != h->ndel) {
        rf_reload(h, status, "the newer deleted list keeps ids the rows do not explain");
        goto out;
    }
    adopt_manifest(h, &m, mpos, &mh, mp);
    h->flags &= ~(uint32_t)VL_RVF_F_INDEX;
    h->n_witness = 0;
    uint64_t maxid = mh.segment_id;
    for (uint32_t i = 0; i < h->ndir; i++) {
        if (h->dir[i].type == VL_RVF_SEG_INDEX) h->flags |= VL_RVF_F_INDEX;
        if (h->dir[i].type == VL_RVF_SEG_WITNESS) h->n_witness++;
        if (h->dir[i].seg_id > maxid) maxid = h->dir[i].seg_id;
    }
    uint32_t kept_w = 0;
    /* append_at and the chain head, as an open finds them (reads the tail only,
     * or one witness before the manifest); a failure here is not a data error */
    if (tail_walk(h, size, &kept_w, &maxid) != VL_OK) h->append_at = h->committed_end;
    if (kept_w == 0 && find_head(h, &maxid) != VL_OK) memset(h->wit_hash, 0, 32);
    if (maxid >= h->next_seg_id) h->next_seg_id = maxid == UINT64_MAX ? UINT64_MAX : maxid + 1;
    *status = VL_RVF_REFRESH_APPLIED;
    h->msg[0] = 0;

    /* ---- report: the winning live rows of the new segments, then the ids that left ---- */
    for (uint32_t i = 0; i < h->ndir && rc == VL_OK; i++) {
        if (!pay[i] || !row_cb) continue;
        uint32_t k = h->dir[i].vec, count = h->vecs[k].count;
        for (uint32_t r = 0; r < count && rc == VL_OK; r++) {
            const uint8_t *p = pay[i] + 6 + r * rowsz;
            uint32_t ei = vl_idmap_get(&h->map, rd64(p));
            if (ei == VL_NO_NODE) continue;
            const entry *e = &h->ents[ei];
            if (e->seg != k || e->row != r || e->del_pos != NONE) continue;
            for (uint32_t j = 0; j < h->dim; j++) vec[j] = rdf(p + 8 + 4 * (size_t)j);
            rc = row_cb(ctx, rd64(p), vec);
        }
    }
    for (uint32_t i = 0; i < m.ndel && rc == VL_OK && del_cb; i++) {
        uint64_t id = rd64(m.delp + (size_t)i * 8);
        uint32_t ei = vl_idmap_get(&h->map, id);
        if (was_live[i] && ei != VL_NO_NODE && h->ents[ei].del_pos != NONE) rc = del_cb(ctx, id);
    }
    vecs_gc(h);
out:
    if (pay)
        for (uint32_t i = 0; i < m.nseg; i++) vl_mem_free(pay[i]);
    vl_mem_free(pay);
    vl_mem_free(nd);
    vl_mem_free(old);
    vl_mem_free(was_live);
    vl_mem_free(vec);
    vl_mem_free(mp);
    return rc;
}
