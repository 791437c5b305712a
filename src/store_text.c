/*
 * store_text.c — keyword search, the store side: the text field chosen at
 * creation is persisted as file metadata "veclite.text" (the field name's
 * UTF-8 bytes) and handed to the index at every open (vl__store_text_open),
 * which builds the inverted index from the records it loaded (src/text.c).
 * Nothing else is written: the inverted index is not persisted, so an open
 * of a store with a text field tokenizes every row's field once (and
 * @ruvector/rvf-node sees only one more file-metadata key).
 * Invariants: the text field of a store that has held rows never changes;
 * a branch() child is refused one (its rows span two files).
 */
#include <string.h>
#include "store.h"

#define TKEY "veclite.text"

int vl_store_set_text(vl_store *s, const char *field, uint32_t len)
{
    if (!s) return VL_EINVAL;
    const char *cur;
    uint32_t cl;
    int have = vl_index_text_field(s->idx, &cur, &cl) == VL_OK;
    if (have ? (cl == len && memcmp(cur, field, len) == 0) : len == 0) return VL_OK;
    if (s->readonly) return vl__store_msg(s, VL_EREADONLY, "the store is read-only");
    if (s->br) return vl__store_msg(s, VL_EINVAL, "a branch child cannot get a text field (its rows live in two files)");
    if (vl__index_nodes(s->idx) || vl_index_count(s->idx))
        return vl__store_msg(s, VL_EINVAL, "the text field of a store that holds rows cannot change; "
                             "choose it when the collection is created");
    int rc = vl_index_set_text(s->idx, field, len);
    if (rc) return vl__store_msg(s, rc, "%s", vl_errmsg(s->idx));
    if ((rc = vl__store_fm_commit(s, TKEY, (uint32_t)strlen(TKEY), (const uint8_t *)field, len))) {
        (void)vl_index_set_text(s->idx, NULL, 0);
        return rc;
    }
    return VL_OK;
}

int vl__store_text_open(vl_store *s)
{
    const uint8_t *v;
    uint32_t l;
    if (vl_store_file_meta_get(s, TKEY, (uint32_t)strlen(TKEY), &v, &l) != VL_OK || l == 0) return VL_OK;
    int rc = vl_index_set_text(s->idx, (const char *)v, l);
    if (rc == VL_EINVAL) return vl__store_msg(s, VL_ECORRUPT, "the stored text field (%u bytes) is not a field name", l);
    if (rc) return vl__store_msg(s, rc, "out of memory indexing the text field");
    return VL_OK;
}
