/*
 * store_text.c — keyword search, the store side: the text field chosen at
 * creation is persisted as file metadata "veclite.text" (the field name's
 * UTF-8 bytes), and the inverted index as a TEXT segment (type 0x3E, which
 * @ruvector/rvf-node lists and skips; payload codec in src/text.c,
 * docs/format.md §4).
 *
 * A TEXT segment is written by every explicit checkpoint that finds the
 * newest listed one stale, by close when it is stale and (none is listed,
 * close writes an INDEX, or the records written since are worth 1/32 of it:
 * vl__store_text_due; "Checkpoint on close" in store.c), and by compaction;
 * a new one unlists the old, so the directory lists at most one.
 * Adopt rule (vl__store_text_open): the newest listed TEXT is used only when
 * it is current: no META segment and no VEC segment holding a live row is
 * listed after it, its stamp is the loaded META generation (the generation
 * the file's META had when it was written: a META commit after it, even one
 * another writer's compaction moved before it, changes the generation), and
 * its field is the stored "veclite.text". Every record change appends a META
 * (a new generation) and every row change a VEC segment after it, so a
 * current TEXT holds the index of exactly the live records, up to deletes
 * (an id that is no longer live is skipped) and rows of writers that keep
 * no metadata (rvf-node; a live record the TEXT does not list is indexed
 * from the record). Otherwise, or when the payload fails any check
 * (text.c), the index is built from the records as before and the next
 * checkpoint writes a current TEXT.
 * Invariants: the text field of a store that has held rows never changes;
 * a branch() child is refused one (its rows span two files) and never
 * writes TEXT.
 */
#include <stdio.h>
#include <string.h>
#include "store.h"
#include "index.h"
#include "rvf.h"

#define TKEY "veclite.text"

int vl_store_set_text(vl_store *s, const char *field, uint32_t len)
{
    if (!s) return VL_EINVAL;
    const char *cur;
    uint32_t cl;
    int have = vl_index_text_field(s->idx, &cur, &cl) == VL_OK;
    if (have ? (cl == len && memcmp(cur, field, len) == 0) : len == 0) return VL_OK;
    int rc = vl__store_setting_open(s, "get a text field", "text field");
    if (rc) return rc;
    rc = vl_index_set_text(s->idx, field, len);
    if (rc) return vl__store_msg(s, rc, "%s", vl_errmsg(s->idx));
    if ((rc = vl__store_fm_commit(s, TKEY, (uint32_t)strlen(TKEY), (const uint8_t *)field, len))) {
        (void)vl_index_set_text(s->idx, NULL, 0);
        return rc;
    }
    return VL_OK;
}

/* The newest listed TEXT when it is current (the adopt rule above): its
 * directory index, else UINT32_MAX. */
static uint32_t current_text(vl_store *s, vl_rvf_dirent *d)
{
    uint32_t at = vl__store_newest_seg(s, VL_RVF_SEG_TEXT, d);
    if (at == UINT32_MAX) return at;
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    vl_rvf_dirent e;
    for (uint32_t i = 0; i < info.dir_count; i++)
        if (vl_rvf_dir(s->rvf, i, &e) == VL_OK && e.seg_type == VL_RVF_SEG_META && e.offset > d->offset) return UINT32_MAX;
    if (vl_rvf_live_rows_from(s->rvf, d->offset)) return UINT32_MAX;
    return at;
}

int vl__store_text_stale(vl_store *s)
{
    const char *f;
    uint32_t l;
    if (s->br || vl_index_text_field(s->idx, &f, &l) != VL_OK) return 0;
    vl_rvf_dirent d;
    return current_text(s, &d) == UINT32_MAX;
}

int vl__store_text_due(vl_store *s, int with_index, uint32_t fraction)
{
    if (!vl__store_text_stale(s)) return 0;
    vl_rvf_dirent d;
    if (with_index || vl__store_newest_seg(s, VL_RVF_SEG_TEXT, &d) == UINT32_MAX) return 1;
    vl_rvf_info info;
    vl_rvf_info_get(s->rvf, &info);
    vl_rvf_dirent e;
    uint64_t meta = 0;
    for (uint32_t i = 0; i < info.dir_count; i++)
        if (vl_rvf_dir(s->rvf, i, &e) == VL_OK && e.seg_type == VL_RVF_SEG_META && e.offset > d.offset) meta += e.payload_length;
    return meta * fraction >= d.payload_length;
}

int vl__store_text_payload(vl_store *s, uint64_t meta_gen, vl_buf *out)
{
    vl__buf_free(out);
    if (s->br) return VL_OK;
    uint8_t *p;
    uint64_t n;
    if (vl__text_encode(s->idx, meta_gen, &p, &n)) return vl__store_msg(s, VL_ENOMEM, "out of memory encoding the keyword index");
    out->p = p;
    out->len = out->cap = n;
    return VL_OK;
}

VL_COLD int vl__store_text_changed(vl_store *s)
{
    const uint8_t *v = NULL;
    const char *f = NULL;
    uint32_t l = 0, fl = 0;
    if (vl_store_file_meta_get(s, TKEY, (uint32_t)strlen(TKEY), &v, &l) != VL_OK) l = 0;
    if (vl_index_text_field(s->idx, &f, &fl) != VL_OK) fl = 0;
    return l != fl || (l && memcmp(v, f, l) != 0);
}

int vl__store_text_open(vl_store *s)
{
    const uint8_t *v;
    uint32_t l;
    s->text_note[0] = 0;
    s->text_adopted = 0;
    if (vl_store_file_meta_get(s, TKEY, (uint32_t)strlen(TKEY), &v, &l) != VL_OK || l == 0) return VL_OK;
    vl_rvf_dirent d;
    uint8_t *p = NULL;
    uint32_t at = s->br ? UINT32_MAX : current_text(s, &d);
    if (at != UINT32_MAX) {
        int rc = vl_rvf_read_payload(s->rvf, at, (uint64_t)1 << 31, &p);
        if (rc == VL_ENOMEM) return vl__store_msg(s, rc, "out of memory reading the TEXT segment");
        if (rc) { snprintf(s->text_note, sizeof s->text_note, "TEXT not used: %s", vl_rvf_errmsg(s->rvf)); p = NULL; }
    }
    char why[160] = "";
    int adopted = 0;
    int had = p != NULL;
    int rc = vl__text_set_adopt(s->idx, (const char *)v, l, p, had ? d.payload_length : 0, s->meta_gen, &adopted, why,
                                sizeof why);
    vl_mem_free(p);
    if (rc == VL_EINVAL) return vl__store_msg(s, VL_ECORRUPT, "the stored text field (%u bytes) is not a field name", l);
    if (rc) return vl__store_msg(s, rc, "out of memory indexing the text field");
    s->text_adopted = (uint32_t)adopted;
    if (had && !adopted && why[0]) snprintf(s->text_note, sizeof s->text_note, "TEXT not used: %s", why);
    return VL_OK;
}
