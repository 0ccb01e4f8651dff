/*
 * malloc.c — gort_alloc and gort_alloc_noscan.
 *
 * Small objects come from the P's cached span of their size class: find the
 * next zero bit in the span's allocation bitmap, set it.  Large objects
 * (over 32 KiB) get a span of their own.  Memory is always returned
 * zeroed.  There is no free: only the collector reclaims memory.  A thread
 * that is not running a goroutine (it has no P) allocates under the world
 * lock, straight from the central lists.  Every allocation counts down
 * to the next allocation profile sample (memprof.h, memprof_count).
 */
#include <string.h>

#include "heap.h"

static uint64_t zerobase;     /* the address of every zero-size allocation */

NORETURN void throw_oom(size_t size)
{
    print_fmt("runtime: out of memory: cannot allocate %zu-byte block (%llu in use)\n", size,
              (unsigned long long)load64(&gc.heap_live));
    mstats_print();
    throw_("out of memory");
}

/* The next free slot of s, taken (freeindex moves past it), or nelems if s
 * is full.  alloccache always holds the free bits of the word freeindex is
 * in, from freeindex on, so the fast case is one count of trailing zeros. */
static inline uint32_t next_free(struct span *s)
{
    uint64_t c = s->alloccache;
    while (unlikely(c == 0)) {
        /* Nothing free in the rest of this word: the next one. */
        uint32_t next = (s->freeindex | 63) + 1;
        if (next >= s->nelems) {
            s->freeindex = s->nelems;
            return s->nelems;
        }
        s->freeindex = next;
        c = ~s->allocbits[next >> 6];
    }
    uint32_t b = (uint32_t)__builtin_ctzll(c);
    uint32_t idx = s->freeindex + b;
    if (unlikely(idx >= s->nelems)) {
        s->freeindex = s->nelems;
        s->alloccache = 0;
        return s->nelems;
    }
    uint32_t fi = idx + 1;
    s->freeindex = fi;
    if (unlikely((fi & 63) == 0))
        s->alloccache = fi < s->nelems ? ~s->allocbits[fi >> 6] : 0;
    else
        s->alloccache = c >> b >> 1;
    return idx;
}

/* While the collector marks concurrently, new objects are born marked
 * (black): its tracing never has to find them, and what they come to point
 * to is caught by rescanning the pages written since (mgcdirty.c).
 * Returns the bytes newly marked. */
static uint64_t mark_new(struct span *s, uint32_t idx)
{
    uint64_t bit = 1ull << (idx & 63);
    if (__atomic_fetch_or(&s->markbits[idx >> 6], bit, __ATOMIC_RELAXED) & bit)
        return 0;               /* a marker got to it first, and counted it */
    return s->elemsize;
}

static inline void *take_slot(struct span *s, uint32_t idx, uint64_t *black)
{
    s->alloccount++;
    void *p = (void *)(s->base + (uintptr_t)idx * s->elemsize);
    if (s->needzero)
        memset(p, 0, s->elemsize);
    if (unlikely(loadrelaxed32(&gc.marking)))
        *black += mark_new(s, idx);
    return p;
}

static void *large_alloc(struct mcache *c, size_t size, bool noscan)
{
    if (size > ((uintptr_t)1 << ADDR_BITS))
        throw_oom(size);
    uintptr_t npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
    struct span *s = mheap_alloc_objects(npages, 1);
    s->spanclass = spanclass_of(0, noscan);
    s->sizeclass = 0;
    s->noscan = noscan;
    s->elemsize = npages << PAGE_SHIFT;
    s->divmul = 0;
    s->sweepgen = load32(&mheap_.sweepgen);
    s->alloccount = 1;
    s->freeindex = 1;               /* the one slot is below freeindex: allocated */
    s->alloccache = 0;
    if (s->needzero)
        memset((void *)s->base, 0, s->elemsize);
    uint64_t black = 0;
    if (load32(&gc.marking))
        black = mark_new(s, 0);
    store8(&s->markable, 1);
    if (black) {
        if (c)
            c->local_black += black;
        else
            xadd64(&gc.black_bytes, black);
    }
    central_add_large(s);
    memprof_count(c ? &c->sample : &memprof_nop_countdown, s, (void *)s->base, s->elemsize);
    xadd64(&gc.heap_live, s->elemsize);
    if (c) {
        c->local_nlargealloc++;
        c->local_largealloc += s->elemsize;
    } else {
        xadd64(&mstats_nlargealloc, 1);
        xadd64(&mstats_largealloc_bytes, s->elemsize);
    }
    return (void *)s->base;
}

extern struct rtlock worldsema;   /* procs.c */

/* No P: a plain thread (the main thread before gort_main, a user pthread).
 * The world lock keeps it out of the collector's way. */
static void *malloc_nop(size_t size, bool noscan)
{
    heap_init_once();
    lock_acquire(&worldsema);
    void *p;
    if (size <= MAX_SMALL_SIZE) {
        uint8_t sc = size_to_class(size);
        uint8_t spc = spanclass_of(sc, noscan);
        struct span *s = central_cache_span(spc);
        xadd64(&gc.heap_live, (uint64_t)(s->nelems - s->alloccount) * s->elemsize);
        uint64_t black = 0;
        p = take_slot(s, next_free(s), &black);
        memprof_count(&memprof_nop_countdown, s, p, s->elemsize);
        if (black)
            xadd64(&gc.black_bytes, black);
        xadd64(&gc.heap_live, -(uint64_t)(s->nelems - s->alloccount) * s->elemsize);
        central_uncache_span(s);
        xadd64(&mstats_nsmallalloc[sc], 1);
    } else {
        p = large_alloc(NULL, size, noscan);
    }
    lock_release(&worldsema);
    return p;
}

static void *mallocgc(size_t size, bool noscan)
{
    if (size == 0)
        return &zerobase;
    struct m *m = getm();
    if (unlikely(!m || !m->p || !m->curg))
        return malloc_nop(size, noscan);
    if (unlikely(load32(&sched.gcwaiting) | loadrelaxed32(&m->p->preempt))) {
        /* Allocation is a safe point: the world is stopping, or the
         * goroutine has run 10 ms and others wait for its P. */
        store32(&m->p->preempt, 0);
        gort_yield();
        m = getm();
    }
    void *p;
    if (likely(size <= MAX_SMALL_SIZE)) {
        uint8_t sc = size_to_class(size);
        uint8_t spc = spanclass_of(sc, noscan);
        /* While allocating, this thread is not stopped for the collector. */
        m->locks++;
        struct mcache *c = m->p->mcache;
        struct span *s = c->alloc[spc];
        uint32_t idx;
        if (unlikely(!s || (idx = next_free(s)) == s->nelems)) {
            /* Slow path: a new span; maybe a collection starts, or this
             * goroutine waits for the one running (it may come back on
             * another thread). */
            m->locks--;
            gc_alloc_slow();
            m = getm();
            m->locks++;
            c = m->p->mcache;
            s = c->alloc[spc];
            if (!s || (idx = next_free(s)) == s->nelems) {
                s = mcache_refill(c, spc);
                idx = next_free(s);
            }
        }
        p = take_slot(s, idx, &c->local_black);
        c->local_nsmallalloc[sc]++;
        memprof_count(&c->sample, s, p, s->elemsize);
        m->locks--;
        return p;
    }
    gc_alloc_slow();
    m = getm();
    m->locks++;
    p = large_alloc(m->p->mcache, size, noscan);
    m->locks--;
    return p;
}

void *gort_alloc(size_t n)
{
    return mallocgc(n, false);
}

void *gort_alloc_noscan(size_t n)
{
    return mallocgc(n, true);
}

/* Keep p reachable up to this call (runtime.KeepAlive): the call itself
 * holds the pointer in a register the collector scans. */
__attribute__((noinline)) void gort_keepalive(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}
