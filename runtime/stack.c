/*
 * stack.c — goroutine stacks, carved from the heap.
 *
 * A stack is a span of its own in state "stack" (GORT_STACK_KB, default 64
 * KiB, rounded up to whole 8 KiB pages), so the process's goroutine stacks
 * live in its arenas and a tool can attribute every page: the span records
 * the goroutine using it (owner 0: a free stack kept for reuse).  A
 * goroutine gets its stack when it first runs and gives it back when it
 * exits.  Free stacks are kept at two levels, as Go keeps its stack pools:
 * a few in each P, and a global pool the Ps exchange half-caches with.
 * Each collection gives the global pool back to the page heap, and so does
 * the scavenger for stacks left there unused for a while; from the page
 * heap, unused memory goes back to the OS.
 *
 * Overflow: the lowest 16 bytes of every stack are a canary that must stay
 * zero (a goroutine reaching them has overflowed).  It is checked whenever a
 * goroutine switches out with its stack pointer in the stack's lowest page
 * (so checking never touches a page the goroutine did not use), and on
 * switching out a goroutine whose saved stack pointer is below its stack.
 * A deep recursion that overflows and returns before switching out is
 * caught only by GORT_STACK_GUARD=1, which makes the lowest page
 * inaccessible (one extra mapping per stack, so not the default: 100,000
 * goroutines would exceed vm.max_map_count).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "heap.h"

size_t stack_size = 64 * 1024;
static bool stack_guard;

enum { CANARY_BYTES = 16, SCRUB_BYTES = 2048 };

/* The global pool of free stacks (SPAN_STACK spans with owner 0). */
static struct {
    struct rtlock lock;
    struct span **spans;
    size_t n, cap;
    int64_t last_used;          /* nanotime of the last take */
} pool;

void stack_init(void)
{
    const char *kb = getenv("GORT_STACK_KB");
    if (kb && *kb) {
        long v = strtol(kb, NULL, 10);
        if (v < 16)
            v = 16;
        if (v > 1024 * 1024)
            v = 1024 * 1024;
        stack_size = ((size_t)v * 1024 + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
    }
    const char *g = getenv("GORT_STACK_GUARD");
    stack_guard = g && *g == '1';
}

/* Take up to n stacks from the global pool into out; returns how many. */
static int pool_take(struct span **out, int n)
{
    lock_acquire(&pool.lock);
    int k = 0;
    while (k < n && pool.n > 0)
        out[k++] = pool.spans[--pool.n];
    if (k)
        pool.last_used = nanotime();
    lock_release(&pool.lock);
    return k;
}

static void pool_give(struct span **in, int n)
{
    lock_acquire(&pool.lock);
    if (pool.n + (size_t)n > pool.cap) {
        size_t cap = pool.cap ? pool.cap * 2 : 1024;
        while (cap < pool.n + (size_t)n)
            cap *= 2;
        struct span **a = persistent_alloc(cap * sizeof *a);
        if (pool.n)
            memcpy(a, pool.spans, pool.n * sizeof *a);
        pool.spans = a;         /* the old array is metadata: never reused */
        pool.cap = cap;
    }
    memcpy(pool.spans + pool.n, in, (size_t)n * sizeof *in);
    pool.n += (size_t)n;
    lock_release(&pool.lock);
}

/* Give the global pool back to the page heap (at a collection, or when it
 * has not been drawn from since before `idle_since`).  Returns stacks freed. */
size_t stack_pool_trim(int64_t idle_since)
{
    enum { BATCH = 64 };
    struct span *batch[BATCH];
    size_t freed = 0;
    for (;;) {
        lock_acquire(&pool.lock);
        if (pool.last_used > idle_since || pool.n == 0) {
            lock_release(&pool.lock);
            return freed;
        }
        int k = 0;
        while (k < BATCH && pool.n > 0)
            batch[k++] = pool.spans[--pool.n];
        lock_release(&pool.lock);
        if (stack_guard)
            for (int i = 0; i < k; i++)
                mprotect((void *)batch[i]->base, PAGE_SIZE, PROT_READ | PROT_WRITE);
        mheap_free_n(batch, k);
        freed += (size_t)k;
    }
}

void stack_alloc(struct p *pp, struct g *gp)
{
    struct span *s;
    if (pp && pp->nstackcache == 0) {
        /* Refill half the cache: from the global pool, else in one trip
         * to the page heap. */
        int n = (int)ARRAY_LEN(pp->stackcache) / 2;
        int k = pool_take(pp->stackcache, n);
        if (k == 0) {
            mheap_alloc_n(stack_size >> PAGE_SHIFT, SPAN_STACK, pp->stackcache, n);
            for (int i = 0; i < n; i++) {
                pp->stackcache[i]->owner = 0;
                if (stack_guard &&
                    mprotect((void *)pp->stackcache[i]->base, PAGE_SIZE, PROT_NONE) != 0)
                    throw_("cannot protect a stack guard page (vm.max_map_count?)");
            }
            k = n;
        }
        pp->nstackcache = k;
    }
    if (pp) {
        s = pp->stackcache[--pp->nstackcache];
    } else {
        s = mheap_alloc(stack_size >> PAGE_SHIFT, SPAN_STACK);
        if (stack_guard && mprotect((void *)s->base, PAGE_SIZE, PROT_NONE) != 0)
            throw_("cannot protect a stack guard page (vm.max_map_count?)");
    }
    /* A reused stack holds its last goroutine's words.  The new goroutine's
     * frames near the top would leave some of them in uninitialised slots
     * that the collector scans (conservatively), keeping dead objects
     * alive: clear where those frames go. */
    if (s->used)
        memset((void *)(span_limit(s) - SCRUB_BYTES), 0, SCRUB_BYTES);
    s->owner = gp->goid;
    s->used = 1;
    gp->stackspan = s;
    gp->stacklo = s->base;    /* with a guard, its lowest page is inaccessible */
    gp->stackhi = span_limit(s);
    /* Memory from the OS is zero; reused memory may not be (and is resident
     * then, so clearing it costs no page fault). */
    if (s->needzero) {
        if (!stack_guard)
            memset((void *)s->base, 0, CANARY_BYTES);
        memset((void *)(span_limit(s) - SCRUB_BYTES), 0, SCRUB_BYTES);
        s->needzero = 0;
    }
}

/* Overwrite the stack just below the caller's frame, where the frames of
 * what it calls next will sit, so that no stale pointer there outlives its
 * object (the collector scans live frames conservatively, uninitialised
 * slots included). */
__attribute__((noinline)) void stack_scrub(void)
{
    volatile char buf[SCRUB_BYTES];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

void stack_free(struct p *pp, struct g *gp)
{
    struct span *s = gp->stackspan;
    gp->stackspan = NULL;
    gp->stacklo = gp->stackhi = 0;
    s->owner = 0;
    if (!pp) {
        pool_give(&s, 1);
        return;
    }
    if (pp->nstackcache == (int32_t)ARRAY_LEN(pp->stackcache)) {
        /* Full: pass the older half to the global pool (keep the hottest). */
        int n = (int)ARRAY_LEN(pp->stackcache) / 2;
        pool_give(pp->stackcache, n);
        memmove(pp->stackcache, pp->stackcache + n,
                (size_t)(pp->nstackcache - n) * sizeof *pp->stackcache);
        pp->nstackcache -= n;
    }
    pp->stackcache[pp->nstackcache++] = s;
}

void stack_cache_flush(struct p *pp)
{
    if (pp->nstackcache > 0)
        pool_give(pp->stackcache, pp->nstackcache);
    pp->nstackcache = 0;
}

static bool canary_intact(const struct g *gp)
{
    if (stack_guard)
        return true;            /* the guard page faults instead */
    const uint64_t *c = (const uint64_t *)gp->stackspan->base;
    return c[0] == 0 && c[1] == 0;
}

void stack_check(struct g *gp)
{
    if (likely(gp->stacklo == 0))
        return;
    uintptr_t sp = gp->ctx.rsp;
    if (likely(sp >= gp->stacklo + PAGE_SIZE && sp <= gp->stackhi))
        return;                 /* nowhere near the bottom */
    if (sp >= gp->stacklo && sp <= gp->stackhi && canary_intact(gp))
        return;
    print_fmt("runtime: goroutine %llu overflowed its %zu-byte stack [%#lx, %#lx)\n",
              (unsigned long long)gp->goid, stack_size, (unsigned long)gp->stacklo,
              (unsigned long)gp->stackhi);
    throw_("stack overflow (raise GORT_STACK_KB)");
}

uintptr_t stack_readable_lo(const struct g *gp)
{
    return gp->stacklo + (stack_guard ? PAGE_SIZE : 0);
}

/* Off its stack: the stack pointer below the stack (in its guard page, or
 * past its end) and the fault near it. */
bool stack_overflowed(const struct g *gp, uintptr_t sp, uintptr_t addr)
{
    if (gp->stacklo == 0 || sp >= stack_readable_lo(gp) || sp < PAGE_SIZE)
        return false;
    return addr + 65536 >= sp && addr <= sp + 65536;
}
