/*
 * u64map.c — the hash map of u64map.h.
 */
#include "u64map.h"

#include <stdlib.h>
#include <string.h>

#include "fail.h"

void u64map_init(struct u64map *m)
{
    memset(m, 0, sizeof *m);
}

void u64map_free(struct u64map *m)
{
    free(m->keys);
    free(m->vals);
    free(m->used);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const struct u64map *m, uint64_t key)
{
    size_t i = (size_t)u64_hash(key) & (m->cap - 1);
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

bool u64map_get(const struct u64map *m, uint64_t key, uint32_t *val)
{
    if (!m->cap)
        return false;
    size_t i = slot_of(m, key);
    if (!m->used[i])
        return false;
    *val = m->vals[i];
    return true;
}

static void rehash(struct u64map *m, size_t cap)
{
    struct u64map old = *m;
    m->cap = cap;
    m->n = 0;
    m->keys = xmalloc(cap * sizeof *m->keys);
    m->vals = xmalloc(cap * sizeof *m->vals);
    m->used = xcalloc(cap, 1);
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i])
            u64map_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
    free(old.used);
}

void u64map_put(struct u64map *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        rehash(m, m->cap ? m->cap * 2 : 64);
    size_t i = slot_of(m, key);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->n++;
    }
    m->vals[i] = val;
}
