/*
 * bulkread.h — copying many small objects out of the target in a few
 * reads: neighbours in address order are coalesced into runs, the runs
 * are read with bulk reads into one bounded buffer, and each object is
 * handed to a callback straight from there.  The objects come sorted by
 * address (a radix sort), or nearly so (a table filled in allocation
 * order needs no sort).  An
 * object outside readable memory, or one whose run cannot be read, is
 * reported as such and the others are not affected.  Used for the all-G
 * table, and for the heap's arenas, span records and allocation bitmaps.
 */
#ifndef GOINSPECT_BULKREAD_H
#define GOINSPECT_BULKREAD_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

#define BULK_MAX_ITEM (1u << 20)    /* the largest object bulk_read copies */

struct bulk_item {
    uint64_t addr;
    uint32_t idx;           /* the caller's: which object this is */
    uint32_t len;           /* its size, 1 to BULK_MAX_ITEM bytes */
};

/* Called for each item, in address order: bytes are its len bytes, or
 * NULL and why says what is wrong ("is not in readable memory", "cannot
 * be read"). */
typedef void (*bulk_fn)(void *ctx, const struct bulk_item *it, const uint8_t *bytes,
                        const char *why);

/* Sorts items by address; items with the same address keep their order. */
void bulk_sort(struct bulk_item *items, size_t n);
/* Sorts them unless they are nearly in address order already (few enough
 * descents that reading them as they are costs no more reads to speak of). */
void bulk_order(struct bulk_item *items, size_t n);
/* Reads items (in address order, or nearly: each descent starts a new
 * run) and calls fn for each one; returns the number of bytes read. */
size_t bulk_read(struct target *t, const struct bulk_item *items, size_t n, bulk_fn fn,
                 void *ctx);
/* Reads an array of n 64-bit words at addr into out, in large pieces,
 * stopping at the first unreadable one; returns how many were read. */
size_t bulk_read_words(struct target *t, uint64_t addr, uint64_t *out, size_t n);

#endif
