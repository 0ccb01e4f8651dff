/*
 * gstate.h — the runtime's goroutine state table (descriptor version 4,
 * docs/metadata.md): one word per entry of the all-G table, which the
 * runtime writes before each of a G's status transitions (the status it
 * goes to, whether writes to the waiting G are still to follow, a count of
 * its transitions).  A G whose word was read settled and waiting before
 * its bytes were read, and reads the same again later, was not written in
 * between; one settled and dead is still dead (its other fields, which
 * goinspect does not decode, may have changed): the stop reads the words
 * instead of every G.
 */
#ifndef GOINSPECT_GSTATE_H
#define GOINSPECT_GSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtdesc.h"
#include "target.h"

#define GSTATE_STATUS 0xffull
#define GSTATE_UNSETTLED 0x100ull   /* also marks a word goinspect does not trust */

struct gstate_table {
    uint64_t chunks;        /* the address of the table of chunk pointers */
    uint64_t nchunks, chunk;/* its entries, and words per chunk */
};

/* Finds the table in the descriptor; false when the runtime has none (or
 * an implausible one). */
bool gstate_open(struct gstate_table *gt, struct target *t, const struct rtdesc *d);
/* Reads the words of entries [first, first + n) into out; false when any
 * of them cannot be read (a chunk not yet allocated, say). */
bool gstate_read(const struct gstate_table *gt, struct target *t, size_t first, size_t n,
                 uint64_t *out);
/* Whether a G whose word read w before its bytes, which say status, was
 * settled then: its status as announced, and waiting or dead. */
static inline bool gstate_settled(uint64_t w, uint32_t status, int st_waiting, int st_dead)
{
    return !(w & GSTATE_UNSETTLED) && (w & GSTATE_STATUS) == status &&
           ((int)status == st_waiting || (int)status == st_dead);
}

#endif
