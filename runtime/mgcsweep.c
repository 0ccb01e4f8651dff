/*
 * mgcsweep.c — sweeping: after a cycle, each span's unmarked objects are
 * freed by making the mark bits the new allocation bits.
 *
 * Sweeping happens after the world restarts: a cache that needs a span
 * sweeps the one it takes (mcentral.c), and the background sweeper thread
 * ("gort-sweep") sweeps the rest.  mheap_.sweepgen tells a span's state:
 * sweepgen - 2 unswept, sweepgen - 1 being swept, sweepgen swept.  A span
 * left with no object goes back to the page heap.  The next cycle first
 * finishes whatever sweeping is left.
 */
#include <string.h>

#include "heap.h"

uint64_t mstats_nlargefree, mstats_largefree_bytes;

/* Sweep s, claimed by the caller (s->sweepgen == sweepgen - 1) and on no
 * list.  Returns true if the span is still in use; false if its pages went
 * back to the heap (s must not be touched then). */
bool sweep_span(struct span *s)
{
    uint32_t sg = load32(&mheap_.sweepgen);
    if (s->state != SPAN_INUSE || load32(&s->sweepgen) != sg - 1)
        throw_("sweep_span: span not claimed for sweeping");
    if (unlikely(s->specials != NULL))
        memprof_sweep(s);           /* sampled objects freed now */
    uint32_t words = span_bitmap_words(s->nelems);
    uint32_t live = 0;
    for (uint32_t i = 0; i < words; i++)
        live += (uint32_t)__builtin_popcountll(s->markbits[i]);
    uint32_t freed = s->alloccount - live;

    if (s->sizeclass == 0) {
        if (live == 0) {
            xadd64(&mstats_nlargefree, 1);
            xadd64(&mstats_largefree_bytes, s->elemsize);
            store32(&s->sweepgen, sg);
            mheap_free(s);
            return false;
        }
    } else if (freed > 0) {
        xadd64(&mheap_.nsmallfree[s->sizeclass], freed);
        s->needzero = 1;
    }
    uint64_t *old = s->allocbits;
    s->allocbits = s->markbits;
    s->markbits = old;
    memset(s->markbits, 0, words * sizeof(uint64_t));
    s->alloccount = live;
    s->freeindex = 0;
    span_refill_cache(s);
    store32(&s->sweepgen, sg);
    if (live == 0) {
        mheap_free(s);
        return false;
    }
    return true;
}

/* With the world stopped, after marking: every span becomes unswept. */
void sweep_start_cycle(void)
{
    store32(&mheap_.sweepgen, mheap_.sweepgen + 2);
    store32(&gc.sweep_pending, mheap_.sweepgen);   /* the cycle to sweep for */
}

/* Sweep what is left and wait for sweeps in progress (gort_gc, and the
 * collector's thread before a cycle).  While another stop of the world is
 * under way nothing can be swept: a goroutine yields to it, the collector's
 * thread waits it out. */
void sweep_finish(void)
{
    int r;
    while ((r = sweep_one()) != SWEEP_NONE_LEFT) {
        if (r != SWEEP_PAUSED)
            continue;
        if (getg_maybe())
            gort_yield();
        else
            usleep_ns(20000);
    }
    while (load32(&gc.sweepers) > 0)
        osyield();
    store32(&gc.sweep_pending, 0);
}

/* ---- The background sweeper ----------------------------------------------------- */

static uint32_t bgsweep_started;

static void *bgsweep(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t cycle;
        while ((cycle = load32(&gc.sweep_pending)) == 0)
            futex_wait(&gc.sweep_pending, 0, -1);
        int r;
        while ((r = sweep_one()) != SWEEP_NONE_LEFT)
            if (r == SWEEP_PAUSED)
                usleep_ns(100000);      /* the world is stopped: wait it out */
        cas32(&gc.sweep_pending, cycle, 0);   /* unless a new cycle began meanwhile */
    }
    return NULL;
}

void bgsweep_start(void)
{
    if (!load32(&bgsweep_started) && cas32(&bgsweep_started, 0, 1)) {
        runtime_thread_start("gort-sweep", bgsweep, NULL, 256 * 1024);
    }
    futex_wake(&gc.sweep_pending, 1);
}
