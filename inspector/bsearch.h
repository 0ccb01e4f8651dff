/*
 * bsearch.h — binary search in an array of records sorted by a 64-bit key
 * (an address): how many records have a key at most x.  The one search
 * behind every "which arena, run, mapping holds this address" lookup.
 */
#ifndef GOINSPECT_BSEARCH_H
#define GOINSPECT_BSEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The number of records of v[0..n) (each stride bytes, the key a uint64_t
 * at byte offset off, ascending) whose key is <= x. */
static inline size_t bsearch_upto(const void *v, size_t n, size_t stride, size_t off, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t k;
        memcpy(&k, (const char *)v + mid * stride + off, sizeof k);
        if (k <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
