/*
 * stack.c — goroutine stacks.
 *
 * Stacks have a fixed size (GORT_STACK_KB, default 64 KiB) and are carved
 * from large anonymous mappings, so 100,000 goroutines cost a handful of
 * mappings, not 200,000 (vm.max_map_count).  Pages are touched only as a
 * goroutine uses them.  A goroutine gets its stack when it first runs and
 * returns it when it exits; freed stacks are reused, hottest first, from
 * its P's cache and then from a global list.
 *
 * Overflow: the lowest word of every stack holds a canary checked whenever
 * the goroutine switches out; GORT_STACK_GUARD=1 adds an inaccessible guard
 * page under each stack instead (one extra mapping per stack).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h"

size_t stack_size = 64 * 1024;
static bool stack_guard;

enum { CHUNK_BYTES = 64 << 20 };
#define STACK_CANARY 0x90e5c0a7d5a1c0deull

static struct {
    struct rtlock lock;
    uintptr_t chunk_next, chunk_end;    /* unused part of the current chunk */
    uintptr_t *free;                    /* free stacks (their low addresses) */
    size_t nfree, capfree;
} stacks;

void stack_init(void)
{
    const char *kb = getenv("GORT_STACK_KB");
    if (kb && *kb) {
        long v = strtol(kb, NULL, 10);
        if (v < 16)
            v = 16;
        if (v > 1024 * 1024)
            v = 1024 * 1024;
        long page = sysconf(_SC_PAGESIZE);
        stack_size = ((size_t)v * 1024 + (size_t)page - 1) & ~((size_t)page - 1);
    }
    const char *g = getenv("GORT_STACK_GUARD");
    stack_guard = g && *g == '1';
}

static uintptr_t stack_carve(void)
{
    size_t need = stack_size + (stack_guard ? (size_t)sysconf(_SC_PAGESIZE) : 0);
    if (stacks.chunk_next + need > stacks.chunk_end) {
        size_t bytes = CHUNK_BYTES > need ? CHUNK_BYTES : need;
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            throw_("out of memory allocating goroutine stacks");
        stacks.chunk_next = (uintptr_t)p;
        stacks.chunk_end = (uintptr_t)p + bytes;
    }
    uintptr_t base = stacks.chunk_next;
    stacks.chunk_next += need;
    if (stack_guard) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        if (mprotect((void *)base, page, PROT_NONE) != 0)
            throw_("cannot protect a stack guard page (vm.max_map_count?)");
        base += page;
    }
    return base;
}

uintptr_t stack_alloc(struct p *pp)
{
    uintptr_t lo;
    if (pp && pp->nstackcache > 0) {
        lo = pp->stackcache[--pp->nstackcache];
    } else {
        lock_acquire(&stacks.lock);
        if (stacks.nfree > 0) {
            lo = stacks.free[--stacks.nfree];
            /* Refill half of the P's cache while we hold the lock. */
            while (pp && stacks.nfree > 0 && pp->nstackcache < (int32_t)ARRAY_LEN(pp->stackcache) / 2)
                pp->stackcache[pp->nstackcache++] = stacks.free[--stacks.nfree];
        } else {
            lo = stack_carve();
        }
        lock_release(&stacks.lock);
    }
    *(uint64_t *)lo = STACK_CANARY;
    return lo;
}

static void stack_free_global(uintptr_t lo)
{
    if (stacks.nfree == stacks.capfree) {
        size_t cap = stacks.capfree ? stacks.capfree * 2 : 1024;
        uintptr_t *a = realloc(stacks.free, cap * sizeof *a);
        if (!a)
            throw_("out of memory recording free stacks");
        stacks.free = a;
        stacks.capfree = cap;
    }
    stacks.free[stacks.nfree++] = lo;
}

void stack_free(struct p *pp, uintptr_t lo)
{
    if (pp && pp->nstackcache < (int32_t)ARRAY_LEN(pp->stackcache)) {
        pp->stackcache[pp->nstackcache++] = lo;
        return;
    }
    lock_acquire(&stacks.lock);
    stack_free_global(lo);
    /* Keep the P's cache half full so its hottest stacks stay. */
    while (pp && pp->nstackcache > (int32_t)ARRAY_LEN(pp->stackcache) / 2)
        stack_free_global(pp->stackcache[--pp->nstackcache]);
    lock_release(&stacks.lock);
}

void stack_cache_flush(struct p *pp)
{
    lock_acquire(&stacks.lock);
    while (pp->nstackcache > 0)
        stack_free_global(pp->stackcache[--pp->nstackcache]);
    lock_release(&stacks.lock);
}

void stack_check(struct g *gp)
{
    if (likely(gp->stacklo == 0 || *(uint64_t *)gp->stacklo == STACK_CANARY))
        return;
    print_fmt("runtime: goroutine %llu overflowed its %zu-byte stack [%#lx, %#lx)\n",
              (unsigned long long)gp->goid, stack_size, (unsigned long)gp->stacklo,
              (unsigned long)gp->stackhi);
    throw_("stack overflow (raise GORT_STACK_KB)");
}
