/*
 * memmap.h — the target's mappings annotated with what each one is to the
 * runtime: the executable's and libraries' sections, the malloc heap, the
 * main thread's and each M's thread stack, guard pages, vdso, and the
 * heap's arenas broken down into runs of spans: objects of a size class,
 * large objects, goroutine stacks (with their goroutine ids), free and
 * released pages.  Used by `maps` and `ptr`.
 *
 * When the heap was not copied (or the runtime does not describe it), the
 * mappings holding goroutine stacks are broken into runs of stacks, from
 * the goroutines' stack bounds, and the space between them.
 */
#ifndef GOINSPECT_MEMMAP_H
#define GOINSPECT_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "heapsnap.h"
#include "session.h"

enum region_kind {
    RK_EXECUTABLE, RK_LIBRARY, RK_FILE, RK_HEAP, RK_STACK, RK_THREAD_STACK,
    RK_GOROUTINE_STACKS, RK_GUARD, RK_VDSO, RK_VVAR, RK_VSYSCALL, RK_ANONYMOUS, RK_ARENA,
    RK_NKINDS
};
extern const char *const region_kind_names[RK_NKINDS];

enum run_kind {
    RUN_GOROUTINE_STACKS,   /* stacks of goroutines */
    RUN_OTHER,              /* not heap, or (without the heap) not a goroutine stack */
    RUN_CACHED_STACKS,      /* goroutine stacks kept for reuse */
    RUN_SMALL,              /* spans of objects of one size class */
    RUN_LARGE,              /* spans of one large object each */
    RUN_FREE, RUN_RELEASED,
    RUN_SPANS,              /* spans in a state this reader has no name for */
    RUN_INVALID,            /* pages of no valid span */
    RUN_NKINDS
};
extern const char *const run_kind_names[RUN_NKINDS];

/* A part of a mapping: consecutive spans of one kind in an arena (or,
 * without the heap, consecutive goroutine stacks and the space between
 * them). */
struct region_run {
    uint64_t start, end;
    int kind;               /* enum run_kind */
    size_t first_id, nids;  /* goroutine ids: memmap.ids[first_id ..] */
    uint32_t nspans;
    uint32_t sizeclass;     /* RUN_SMALL */
    uint8_t state;          /* RUN_SPANS: the spans' state */
    bool noscan;
    uint64_t objects, bytes;/* allocated objects in its spans */
    const struct hrun *pages;   /* RUN_INVALID, RUN_SPANS: the first pages */
};

struct region {
    const struct mapping *map;
    int kind;               /* enum region_kind */
    char desc[320];
    int32_t thread;         /* RK_STACK, RK_THREAD_STACK: index in the target's threads */
    size_t first_run, nruns;
};

struct memmap {
    const struct procmaps *maps;    /* v[i] is maps->v[i] annotated */
    struct region *v;
    size_t n;
    struct region_run *runs;
    size_t nruns;
    uint64_t *ids;
    size_t nids;
};

void memmap_build(struct memmap *mm, struct session *ss);
void memmap_free(struct memmap *mm);
/* The region holding addr, or NULL. */
const struct region *memmap_find(const struct memmap *mm, uint64_t addr);
/* Goroutine ids as "2-1001, 1005, 1007" (at most max items, then "..."). */
void format_ids(const uint64_t *ids, size_t n, size_t max, char *buf, size_t len);

#endif
