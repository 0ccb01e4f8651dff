/*
 * stack.c — goroutine stacks, carved from the heap.
 *
 * A stack is a span of its own in state "stack" (GORT_STACK_KB, default 64
 * KiB, rounded up to whole 8 KiB pages), so the process's goroutine stacks
 * live in its arenas and a tool can attribute every page: the span records
 * the goroutine using it.  A goroutine gets its stack when it first runs
 * and gives it back when it exits; its P keeps a few for reuse, the rest go
 * back to the page heap (and, if they stay unused, to the OS).
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

void stack_alloc(struct p *pp, struct g *gp)
{
    struct span *s;
    if (pp && pp->nstackcache > 0) {
        s = pp->stackcache[--pp->nstackcache];
        /* A reused stack holds its last goroutine's words.  The new
         * goroutine's frames near the top would leave some of them in
         * uninitialised slots that the collector scans (conservatively),
         * keeping dead objects alive: clear where those frames go. */
        memset((void *)(span_limit(s) - SCRUB_BYTES), 0, SCRUB_BYTES);
    } else {
        s = mheap_alloc(stack_size >> PAGE_SHIFT, SPAN_STACK);
        if (stack_guard && mprotect((void *)s->base, PAGE_SIZE, PROT_NONE) != 0)
            throw_("cannot protect a stack guard page (vm.max_map_count?)");
    }
    s->owner = gp->goid;
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

static void stack_release(struct span *s)
{
    if (stack_guard)
        mprotect((void *)s->base, PAGE_SIZE, PROT_READ | PROT_WRITE);
    mheap_free(s);
}

void stack_free(struct p *pp, struct g *gp)
{
    struct span *s = gp->stackspan;
    gp->stackspan = NULL;
    gp->stacklo = gp->stackhi = 0;
    s->owner = 0;
    if (pp && pp->nstackcache < (int32_t)ARRAY_LEN(pp->stackcache)) {
        pp->stackcache[pp->nstackcache++] = s;
        return;
    }
    stack_release(s);
}

void stack_cache_flush(struct p *pp)
{
    while (pp->nstackcache > 0)
        stack_release(pp->stackcache[--pp->nstackcache]);
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
