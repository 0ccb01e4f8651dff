/*
 * mcache.c — each P's cache: one span per span class to allocate from
 * without locks, and the P's allocation counters, flushed to the global
 * statistics when a span is refilled and when the world stops.
 */
#include <string.h>

#include "heap.h"

uint64_t mstats_nsmallalloc[NUM_SIZE_CLASSES];   /* flushed from caches */
uint64_t mstats_nlargealloc, mstats_largealloc_bytes;

struct mcache *mcache_of(struct p *pp)
{
    return pp->mcache;
}

void mcache_flush_stats(struct mcache *c)
{
    for (int i = 1; i < NUM_SIZE_CLASSES; i++) {
        if (c->local_nsmallalloc[i]) {
            xadd64(&mstats_nsmallalloc[i], c->local_nsmallalloc[i]);
            c->local_nsmallalloc[i] = 0;
        }
    }
    if (c->local_nlargealloc) {
        xadd64(&mstats_nlargealloc, c->local_nlargealloc);
        xadd64(&mstats_largealloc_bytes, c->local_largealloc);
        c->local_nlargealloc = 0;
        c->local_largealloc = 0;
    }
    if (c->local_black) {
        xadd64(&gc.black_bytes, c->local_black);
        c->local_black = 0;
    }
}

/* The cached span of spanclass is full: swap it for one with room.  The
 * bytes still free in the new span count as live at once (the heap goal is
 * checked against them), and are given back if the span leaves unused. */
struct span *mcache_refill(struct mcache *c, uint8_t spanclass)
{
    struct span *s = c->alloc[spanclass];
    if (s) {
        xadd64(&gc.heap_live, -(uint64_t)(s->nelems - s->alloccount) * s->elemsize);
        central_uncache_span(s);
        c->alloc[spanclass] = NULL;
    }
    /* This class's count; the others are flushed when they refill or the
     * world stops. */
    uint8_t sc = spanclass >> 1;
    if (c->local_nsmallalloc[sc]) {
        xadd64(&mstats_nsmallalloc[sc], c->local_nsmallalloc[sc]);
        c->local_nsmallalloc[sc] = 0;
    }
    s = central_cache_span(spanclass);
    xadd64(&gc.heap_live, (uint64_t)(s->nelems - s->alloccount) * s->elemsize);
    c->alloc[spanclass] = s;
    return s;
}

/* World stopped: give every cached span back and flush the counters. */
void mcache_release_all(struct mcache *c)
{
    for (int i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct span *s = c->alloc[i];
        if (!s)
            continue;
        xadd64(&gc.heap_live, -(uint64_t)(s->nelems - s->alloccount) * s->elemsize);
        central_uncache_span(s);
        c->alloc[i] = NULL;
    }
    mcache_flush_stats(c);
}
