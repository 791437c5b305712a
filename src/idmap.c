/*
 * idmap.c — u64 external id -> u32 node slot. Open addressing with linear
 * probing over a power-of-two table kept at most 1/2 full; deletion shifts
 * later entries back (no tombstones), so lookups stay short after churn.
 * Every u64 is a valid key: emptiness is marked in vals (VL_NO_NODE).
 * Growth happens only in vl_idmap_reserve, so vl_idmap_put never fails.
 */
#include <string.h>
#include "internal.h"

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint32_t vl_idmap_get(const vl_idmap *m, uint64_t key)
{
    if (m->cap == 0) return VL_NO_NODE;
    uint32_t mask = m->cap - 1, i = (uint32_t)mix64(key) & mask;
    for (;;) {
        uint32_t v = m->vals[i];
        if (v == VL_NO_NODE) return VL_NO_NODE;
        if (m->keys[i] == key) return v;
        i = (i + 1) & mask;
    }
}

static void put_raw(uint64_t *keys, uint32_t *vals, uint32_t cap, uint64_t key, uint32_t val)
{
    uint32_t mask = cap - 1, i = (uint32_t)mix64(key) & mask;
    while (vals[i] != VL_NO_NODE) {
        if (keys[i] == key) { vals[i] = val; return; }
        i = (i + 1) & mask;
    }
    keys[i] = key;
    vals[i] = val;
}

int vl_idmap_reserve(vl_idmap *m, uint32_t extra)
{
    uint64_t need = (uint64_t)m->count + extra;
    if (need * 2 <= m->cap) return VL_OK;
    uint64_t cap = m->cap ? m->cap : 16;
    while (need * 2 > cap) cap *= 2;
    if (cap > (1ull << 31)) return VL_ENOMEM;
    if (cap > SIZE_MAX / sizeof(uint64_t)) return VL_ENOMEM;
    uint64_t *keys = vl_mem_alloc((size_t)cap * sizeof *keys);
    uint32_t *vals = vl_mem_alloc((size_t)cap * sizeof *vals);
    if (!keys || !vals) { vl_mem_free(keys); vl_mem_free(vals); return VL_ENOMEM; }
    memset(vals, 0xff, (size_t)cap * sizeof *vals);
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->vals[i] != VL_NO_NODE) put_raw(keys, vals, (uint32_t)cap, m->keys[i], m->vals[i]);
    vl_mem_free(m->keys);
    vl_mem_free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = (uint32_t)cap;
    return VL_OK;
}

void vl_idmap_put(vl_idmap *m, uint64_t key, uint32_t val)
{
    uint32_t mask = m->cap - 1, i = (uint32_t)mix64(key) & mask;
    while (m->vals[i] != VL_NO_NODE) {
        if (m->keys[i] == key) { m->vals[i] = val; return; }
        i = (i + 1) & mask;
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->count++;
}

uint32_t vl_idmap_get_or_put(vl_idmap *m, uint64_t key, uint32_t val)
{
    uint32_t mask = m->cap - 1, i = (uint32_t)mix64(key) & mask;
    while (m->vals[i] != VL_NO_NODE) {
        if (m->keys[i] == key) return m->vals[i];
        i = (i + 1) & mask;
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->count++;
    return VL_NO_NODE;
}

int vl_idmap_del(vl_idmap *m, uint64_t key)
{
    if (m->cap == 0) return 0;
    uint32_t mask = m->cap - 1, i = (uint32_t)mix64(key) & mask;
    for (;;) {
        if (m->vals[i] == VL_NO_NODE) return 0;
        if (m->keys[i] == key) break;
        i = (i + 1) & mask;
    }
    /* Backward-shift deletion: move later members of the probe run into the hole. */
    uint32_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->vals[j] == VL_NO_NODE) break;
        uint32_t home = (uint32_t)mix64(m->keys[j]) & mask;
        /* j may move to hole iff home is not cyclically in (hole, j]. */
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->vals[hole] = VL_NO_NODE;
    m->count--;
    return 1;
}

void vl_idmap_free(vl_idmap *m)
{
    vl_mem_free(m->keys);
    vl_mem_free(m->vals);
    memset(m, 0, sizeof *m);
}

uint64_t vl_idmap_bytes(const vl_idmap *m)
{
    return (uint64_t)m->cap * (sizeof(uint64_t) + sizeof(uint32_t));
}
