/*
 * heapsnap.h — the runtime's heap as a snapshot copies it (descriptor
 * version 2, docs/metadata.md): the page heap's counters, the collector's
 * state, the allocation counters and every P's unflushed ones, each
 * arena's page table (kept as runs of pages given to one span record), the
 * span table decoded, and, for the commands that look at objects, the
 * spans' allocation bitmaps.
 *
 * Every datum is found by its field name in the descriptor and every one
 * read is checked (a span inside the arenas, whole pages, its objects
 * inside it, its bitmap readable, the page table agreeing with it...): a
 * span record that makes no sense gets an error of its own and is left out
 * of the totals, and the rest of the heap is still shown.
 */
#ifndef GOINSPECT_HEAPSNAP_H
#define GOINSPECT_HEAPSNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"
#include "u64map.h"

/* What a command needs copied (each level includes the ones before). */
enum heap_level {
    HEAP_NONE,              /* nothing */
    HEAP_COUNTS,            /* counters, collector, P caches: memstats, summary */
    HEAP_SPANS,             /* and the arenas' page tables and every span record: maps */
    HEAP_BITMAPS,           /* and the allocation bitmaps: heap, spans, ptr */
};

#define NO_SPAN UINT32_MAX
#define NO_BITS UINT32_MAX

/* A span record (dead ones are left out), or an entry of the span table
 * that is not one (error set, the fields as far as they could be read). */
struct hspan {
    uint64_t addr;          /* of the record */
    uint64_t base, npages;
    uint64_t allocbits;     /* the bitmap's address in the target */
    uint64_t owner;         /* stack: goroutine id, 0 when cached for reuse */
    int64_t freed_at;       /* free: CLOCK_MONOTONIC ns */
    uint32_t elemsize, nelems, alloccount, freeindex, sweepgen;
    uint32_t index;         /* in the span table (allspans) */
    uint32_t bits;          /* its bitmap's first word in heapsnap.bits, or NO_BITS */
    uint32_t error;         /* 1 + index in heapsnap.errors; 0: a valid span */
    int32_t cached_by;      /* id of the P whose cache holds it, -1 */
    uint8_t state, spanclass, sizeclass, noscan, needzero, incache;
};

/* Pages of an arena that its page table gives to one span record. */
struct hrun {
    uint64_t start, end;    /* addresses */
    uint64_t record;        /* the span record (0: none) */
    uint32_t span;          /* its index in heapsnap.spans, NO_SPAN when not a valid span */
};

struct harena {
    uint64_t addr;          /* the arena record */
    uint64_t base, end;     /* its address space */
    uint32_t first_run, nruns;
    char *error;            /* its record or page table is unusable (a warning too) */
};

/* A P's cache. */
struct hcache {
    int64_t p;              /* P id */
    uint64_t addr;
    bool read;
    uint64_t nsmall, nlarge, large_bytes;   /* unflushed counters */
};

struct heapsnap {
    bool described;         /* the runtime describes its heap (else nothing below) */
    int level;              /* enum heap_level copied */
    bool changing;          /* stopped while the heap's structure changed (mheap.generation
                               odd), or --nonstop never read it stable */
    unsigned tries;         /* --nonstop: copies of the span table made */
    uint64_t generation;

    uint64_t page_size, arena_bytes;
    uint32_t nclasses;
    uint16_t *class_size;           /* [nclasses] */
    uint8_t *class_npages;
    uint64_t *nsmallalloc;          /* flushed */
    uint64_t *nsmallfree;           /* mheap.nsmallfree */
    uint64_t *unflushed;            /* every P's local_nsmallalloc, summed */
    uint64_t nlargealloc, largealloc_bytes, nlargefree, largefree_bytes, persistent_bytes;
    uint64_t unflushed_nlarge, unflushed_large_bytes;

    /* mheap */
    uint64_t sweepgen, pages_inuse, pages_stack, pages_free, pages_released, sys_bytes;
    uint64_t narenas_claimed, nspans_claimed;

    /* gcstate */
    uint64_t heap_live, heap_marked, next_gc, pause_total_ns, last_gc;
    uint64_t num_forced_gc, gc_total_ns;   /* when has_forced / has_total_ns */
    bool has_forced, has_total_ns;
    uint64_t uptime_ns;     /* since runtime start, when the copy was made (0: unknown) */
    int64_t gc_percent;
    uint64_t gc_running, num_gc;
    uint64_t *pause_ns, *pause_end;
    uint32_t npause;                /* entries of each ring */

    struct hcache *caches;
    size_t ncaches;
    struct hcached {        /* a span a P's cache holds */
        uint64_t span;
        int64_t p;
    } *cached;
    size_t ncached;

    /* HEAP_SPANS */
    struct harena *arenas;          /* by base */
    size_t narenas;
    struct hrun *runs;              /* by address */
    size_t nruns;
    struct hspan *spans;            /* as read (by_base orders the valid ones) */
    size_t nspans, capspans;
    uint32_t *by_base;              /* valid spans, by base */
    size_t nby_base;
    struct u64map by_record;        /* record address -> index in spans */
    uint64_t *dead;                 /* records of the span table that are unused */
    size_t ndead;

    /* HEAP_BITMAPS */
    uint64_t *bits;
    size_t nbits;

    char **errors;
    size_t nerrors, caperrors;

    /* spanstate values (-1 when the runtime has no such state) and names */
    int st_dead, st_inuse, st_stack, st_free, st_released;
    uint32_t nstates;
};

/* Before the stop: allocates (and touches) the records the copy will
 * need, so that no page fault happens during the pause. */
void heapsnap_prepare(struct snapshot *s, int level);
/* Copies the heap into s->heap, up to level, the target being stopped (or
 * read while it runs with --nonstop: the span table is copied between two
 * reads of mheap.generation and retried while they differ).  Problems with
 * the heap as a whole become warnings of the snapshot. */
void heapsnap_copy(struct snapshot *s, int level);
/* After the release: checks every span and builds the lookups. */
void heapsnap_check(struct snapshot *s);
void heapsnap_free(struct heapsnap *h);

/* A span's error, or NULL. */
static inline const char *hspan_error(const struct heapsnap *h, const struct hspan *sp)
{
    return sp->error ? h->errors[sp->error - 1] : NULL;
}
/* The state's name ("inuse"...), "?" when unknown. */
const char *hspan_state_name(const struct snapshot *s, const struct hspan *sp);
static inline uint64_t hspan_bytes(const struct heapsnap *h, const struct hspan *sp)
{
    return sp->npages * h->page_size;
}
static inline bool hspan_large(const struct heapsnap *h, const struct hspan *sp)
{
    return (int)sp->state == h->st_inuse && sp->sizeclass == 0;
}
/* Is object slot i of the span allocated: 1 yes, 0 no, -1 unknown. */
int hspan_allocated(const struct heapsnap *h, const struct hspan *sp, uint32_t i);
/* Slots of the span whose bit is set, or -1 when its bitmap was not copied. */
int64_t hspan_bits_set(const struct heapsnap *h, const struct hspan *sp);
/* Is it swept: 1 swept, 0 not swept since the last collection, 2 being swept. */
int hspan_sweep_state(const struct heapsnap *h, const struct hspan *sp);

/* The arena holding addr, or NULL. */
const struct harena *heapsnap_arena(const struct heapsnap *h, uint64_t addr);
/* The page-table run holding addr, or NULL. */
const struct hrun *heapsnap_run(const struct heapsnap *h, uint64_t addr);
/* What a run of pages with no valid span is ("pages no span covers", the
 * error of the record they point at...), into buf. */
void heapsnap_run_problem(const struct heapsnap *h, const struct hrun *r, char *buf, size_t len);

#endif
