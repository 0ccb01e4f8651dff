/*
 * heapstats.h — what a heap snapshot adds up to: the runtime's own memory
 * statistics (gort_read_memstats), computed from the copied counters with
 * the formulas of docs/metadata.md ("Attributing the heap"), and the tally
 * of the span table by state and size class that the heap command prints.
 * On a process stopped between allocations the two agree exactly.
 */
#ifndef GOINSPECT_HEAPSTATS_H
#define GOINSPECT_HEAPSTATS_H

#include <stdint.h>

#include "heapsnap.h"
#include "json.h"

/* gort_memstats, as far as the runtime publishes its parts. */
struct memstats {
    uint64_t alloc, total_alloc, sys, mallocs, frees, heap_alloc, heap_sys, heap_idle,
        heap_inuse, heap_released, heap_objects, stack_inuse, stack_sys, gc_sys, next_gc,
        last_gc, pause_total_ns, num_gc;
    uint64_t last_pause_ns;             /* the latest pause; 0 before the first collection */
    uint64_t unflushed_mallocs;         /* of mallocs, still counted in P caches */
    uint64_t unflushed_bytes;           /* of total_alloc */
    bool has_num_forced_gc;             /* the runtime publishes it */
    uint64_t num_forced_gc;
    bool has_gc_cpu_fraction;           /* gc.total_ns published and the uptime known */
    double gc_cpu_fraction;
};

void memstats_compute(const struct heapsnap *h, struct memstats *ms);
/* Objects of size class c allocated (flushed and unflushed) and freed. */
uint64_t memstats_class_mallocs(const struct heapsnap *h, uint32_t c);

/* Spans of one kind, and the objects in them. */
struct span_tally {
    uint64_t spans, pages;
    uint64_t noscan;                    /* spans of noscan objects */
    uint64_t objects, slots;            /* allocated objects, object slots */
    uint64_t bytes;                     /* bytes of allocated objects */
};

struct heap_tally {
    struct span_tally *classes;         /* per size class; [0] is the large objects */
    uint32_t nclasses;
    struct span_tally inuse;            /* every span of objects */
    struct span_tally stacks, cached_stacks, free, released, other;
    uint64_t bad;                       /* spans with errors, left out */
};

/* Tallies the valid spans. */
void heap_tally(const struct snapshot *s, struct heap_tally *t);
void heap_tally_free(struct heap_tally *t);
/* Share of a tally's span bytes not holding allocated objects, in [0, 1]. */
double tally_waste(const struct heapsnap *h, const struct span_tally *t);

/* Writes the memory statistics as a JSON object's members. */
void memstats_json_members(const struct heapsnap *h, const struct memstats *ms, struct json *j);

#endif
