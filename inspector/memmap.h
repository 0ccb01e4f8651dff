/*
 * memmap.h — the target's mappings annotated with what each one is to the
 * runtime: the executable's and libraries' sections, the malloc heap, the
 * main thread's and each M's thread stack, guard pages, vdso, and the
 * goroutine stack chunks broken down into runs of stacks (with their
 * goroutine ids) and unused space.  Used by `maps` and `ptr`.
 *
 * When the runtime describes its heap (descriptor version 2), arenas and
 * their runs of spans are added here as regions and runs of their own.
 */
#ifndef GOINSPECT_MEMMAP_H
#define GOINSPECT_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

enum region_kind {
    RK_EXECUTABLE, RK_LIBRARY, RK_FILE, RK_HEAP, RK_STACK, RK_THREAD_STACK,
    RK_GOROUTINE_STACKS, RK_GUARD, RK_VDSO, RK_VVAR, RK_VSYSCALL, RK_ANONYMOUS, RK_NKINDS
};
extern const char *const region_kind_names[RK_NKINDS];

enum run_kind { RUN_GOROUTINE_STACKS, RUN_OTHER };

/* A part of a mapping: consecutive goroutine stacks, or the space between
 * them (unused, or heap pages: told apart once the heap is read). */
struct region_run {
    uint64_t start, end;
    int kind;               /* enum run_kind */
    size_t first_id, nids;  /* goroutine ids: memmap.ids[first_id ..] */
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
