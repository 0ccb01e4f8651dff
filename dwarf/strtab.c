/*
 * strtab.c — string interning: each distinct string stored once, in large
 * chunks, found again through an open-addressing hash table.  Used for the
 * source paths the line tables and call sites refer to.
 */
#include <stdlib.h>

#include "internal.h"

#define CHUNK (256u * 1024u)

void strtab_init(struct strtab *t)
{
    memset(t, 0, sizeof *t);
}

void strtab_free(struct strtab *t)
{
    for (size_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i]);
    free(t->chunks);
    free(t->strs);
    free(t->lens);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;        /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool rehash(struct strtab *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return false;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = hash(t->strs[id], t->lens[id]) & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return true;
}

static char *store(struct strtab *t, const char *s, size_t len)
{
    size_t need = len + 1;
    if (t->nchunks == 0 || CHUNK - t->used < need) {
        size_t sz = need > CHUNK ? need : CHUNK;
        char *c = malloc(sz);
        if (!c)
            return NULL;
        if (!gd_reserve((void **)&t->chunks, &t->chunkcap, t->nchunks, 1, sizeof *t->chunks)) {
            free(c);
            return NULL;
        }
        /* An oversized string gets a chunk of its own, kept before the
         * current one so the current one stays last. */
        if (sz > CHUNK && t->nchunks > 0) {
            t->chunks[t->nchunks] = t->chunks[t->nchunks - 1];
            t->chunks[t->nchunks - 1] = c;
            t->nchunks++;
            memcpy(c, s, len);
            c[len] = 0;
            return c;
        }
        t->chunks[t->nchunks++] = c;
        t->used = 0;
    }
    char *d = t->chunks[t->nchunks - 1] + t->used;
    memcpy(d, s, len);
    d[len] = 0;
    t->used += need;
    return d;
}

uint32_t strtab_intern(struct strtab *t, const char *s, size_t len)
{
    if (len > UINT32_MAX || t->n >= UINT32_MAX - 1)
        return UINT32_MAX;
    if ((t->n + 1) * 2 > t->nslots && !rehash(t))
        return UINT32_MAX;
    size_t i = hash(s, len) & (t->nslots - 1);
    while (t->slots[i]) {
        uint32_t id = t->slots[i] - 1;
        if (t->lens[id] == len && memcmp(t->strs[id], s, len) == 0)
            return id;
        i = (i + 1) & (t->nslots - 1);
    }
    if (t->n == t->cap) {
        size_t c = t->cap;
        if (!gd_reserve((void **)&t->strs, &c, t->n, 1, sizeof *t->strs))
            return UINT32_MAX;
        size_t c2 = t->cap;
        if (!gd_reserve((void **)&t->lens, &c2, t->n, 1, sizeof *t->lens))
            return UINT32_MAX;
        t->cap = c < c2 ? c : c2;
    }
    char *d = store(t, s, len);
    if (!d)
        return UINT32_MAX;
    uint32_t id = (uint32_t)t->n++;
    t->strs[id] = d;
    t->lens[id] = (uint32_t)len;
    t->slots[i] = id + 1;
    return id;
}
