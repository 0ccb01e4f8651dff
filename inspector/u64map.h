/*
 * u64map.h — a hash map from 64-bit keys (addresses, pcs, hashes) to
 * 32-bit values: open addressing, linear probing, no deletion.  Used for
 * every cache on the hot path (pc to unwind row, pc to frames, G address to
 * goroutine, stack hash to interned stack).
 */
#ifndef GOINSPECT_U64MAP_H
#define GOINSPECT_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map {
    uint64_t *keys;
    uint32_t *vals;
    uint8_t *used;
    size_t cap, n;          /* cap is a power of two */
};

void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
/* Finds key: true with *val set, or false. */
bool u64map_get(const struct u64map *m, uint64_t key, uint32_t *val);
/* Inserts or replaces. */
void u64map_put(struct u64map *m, uint64_t key, uint32_t val);

/* A good 64-bit mix (splitmix64's finalizer). */
static inline uint64_t u64_hash(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

#endif
