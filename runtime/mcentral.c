/*
 * mcentral.c — central lists of spans for each span class (size class x
 * scan/noscan).  Each class keeps spans with free slots (partial) and
 * without (full), each split into a swept and an unswept set indexed by
 * the sweep generation's parity: when a collection bumps mheap_.sweepgen
 * by 2, every swept set becomes the unswept set at once.  Caches take
 * spans from here, sweeping unswept ones on the way (lazy sweeping).
 */
#include "heap.h"

static inline int swept_set(uint32_t sg)
{
    return (sg >> 1) & 1;
}

/* Prepare a fresh span (bitmaps and nelems set) for objects of spanclass. */
static void span_init_class(struct span *s, uint8_t spanclass, uint32_t sg)
{
    uint8_t sc = spanclass >> 1;
    s->spanclass = spanclass;
    s->sizeclass = sc;
    s->noscan = spanclass & 1;
    s->elemsize = class_to_size_table[sc];
    s->divmul = class_to_divmul[sc];
    s->alloccount = 0;
    s->freeindex = 0;
    span_refill_cache(s);
    s->sweepgen = sg;
    store8(&s->markable, 1);          /* published last: markers read it first */
}

/* central lock held: sweep s (claimed by the caller).  Returns false if the
 * sweep gave its pages back to the heap. */
static bool sweep_claimed(struct span *s)
{
    xadd32(&gc.sweepers, 1);
    bool inuse = sweep_span(s);
    xadd32(&gc.sweepers, (uint32_t)-1);
    return inuse;
}

/* A span of spanclass with a free slot, for a P's cache. */
struct span *central_cache_span(uint8_t spanclass)
{
    struct central *c = &mheap_.central[spanclass];
    uint32_t sg = load32(&mheap_.sweepgen);
    int sw = swept_set(sg), un = 1 - sw;
    struct span *s;
    lock_acquire(&c->lock);
    if ((s = span_list_pop(&c->partial[sw])))
        goto have;
    /* Sweep unswept spans until one has room. */
    for (int pass = 0; pass < 2; pass++) {
        struct span_list *l = pass == 0 ? &c->partial[un] : &c->full[un];
        while ((s = span_list_pop(l))) {
            if (!cas32(&s->sweepgen, sg - 2, sg - 1))
                throw_("central: unswept span in an unexpected sweep state");
            if (!sweep_claimed(s))
                continue;
            if (s->alloccount < s->nelems)
                goto have;
            span_list_insert(&c->full[sw], s);
        }
    }
    lock_release(&c->lock);

    /* Nothing reusable: a fresh span from the page heap. */
    uint8_t sc = spanclass >> 1;
    uintptr_t npages = class_to_npages_table[sc];
    s = mheap_alloc_objects(npages, (uint32_t)((npages << PAGE_SHIFT) / class_to_size_table[sc]));
    span_init_class(s, spanclass, sg);
    s->incache = 1;
    return s;
have:
    s->incache = 1;
    lock_release(&c->lock);
    return s;
}

static void central_insert(struct central *c, struct span *s, bool full, int set)
{
    span_list_insert(full ? &c->full[set] : &c->partial[set], s);
}

/* A span leaves a cache (it filled up, or the world stopped). */
void central_uncache_span(struct span *s)
{
    struct central *c = &mheap_.central[s->spanclass];
    lock_acquire(&c->lock);
    s->incache = 0;
    central_insert(c, s, s->alloccount == s->nelems, swept_set(load32(&mheap_.sweepgen)));
    lock_release(&c->lock);
}

/* A large object's span joins the full list of its class (0, scan or noscan). */
void central_add_large(struct span *s)
{
    struct central *c = &mheap_.central[s->spanclass];
    lock_acquire(&c->lock);
    central_insert(c, s, true, swept_set(load32(&mheap_.sweepgen)));
    lock_release(&c->lock);
}

/* Background sweeping: take one unswept span of any class, sweep it and
 * file it.  Returns SWEEP_NONE_LEFT when no unswept span is left, and
 * SWEEP_PAUSED, without sweeping, while the world is stopped (the world's
 * statistics must not change under a stop). */
int sweep_one(void)
{
    /* Counted before looking, so that sweep_finish, seeing the lists empty,
     * also sees this sweep in progress; and a stop of the world, seeing the
     * count, waits for it (sequentially consistent with gcwaiting). */
    xadd32(&gc.sweepers, 1);
    if (load32(&sched.gcwaiting)) {
        xadd32(&gc.sweepers, (uint32_t)-1);
        return SWEEP_PAUSED;
    }
    bool found = false;
    uint32_t sg = load32(&mheap_.sweepgen);
    int sw = swept_set(sg), un = 1 - sw;
    for (int i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct central *c = &mheap_.central[i];
        if (!loadp((void *const *)&c->partial[un].first) && !loadp((void *const *)&c->full[un].first))
            continue;
        lock_acquire(&c->lock);
        for (int pass = 0; pass < 2; pass++) {
            struct span *s = span_list_pop(pass == 0 ? &c->partial[un] : &c->full[un]);
            if (!s)
                continue;
            if (!cas32(&s->sweepgen, sg - 2, sg - 1))
                throw_("sweep_one: unswept span in an unexpected sweep state");
            if (sweep_span(s))
                central_insert(c, s, s->alloccount == s->nelems, sw);
            found = true;
            break;
        }
        lock_release(&c->lock);
        if (found)
            break;
    }
    xadd32(&gc.sweepers, (uint32_t)-1);
    return found ? SWEEP_DONE_ONE : SWEEP_NONE_LEFT;
}
