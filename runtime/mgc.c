/*
 * mgc.c — the collection cycle, its pacing, and gctrace.
 *
 * A cycle runs on the scheduler stack (g0) of the thread whose goroutine
 * asked for it (an allocation past the heap goal, or gort_gc), while that
 * goroutine waits with reason "garbage collection":
 *
 *   1. finish sweeping the previous cycle (helping the background sweeper)
 *   2. stop the world (signal_stop.c suspends threads in goroutine code)
 *   3. give every P's cached spans back; empty sync pools into their victims
 *   4. mark from the roots, in parallel (mgcmark.c); then finalizers
 *      (mfinal.c): unreachable finalizable objects are kept and queued
 *   5. bump the sweep generation: every span is now unswept
 *   6. restart the world; spans are swept lazily by allocation and by the
 *      background sweeper (mgcsweep.c)
 *
 * Pacing (GORT_GC, like GOGC): the next cycle starts when the heap reaches
 * live * (1 + percent/100), and never below 4 MiB.  GORT_GC=off disables
 * automatic collection.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heap.h"

enum { MIN_HEAP_GOAL = 4 << 20 };

struct gcstate gc = {.percent = 100, .next_gc = MIN_HEAP_GOAL};

static uint64_t unix_nanos(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void gc_init(void)
{
    const char *s = getenv("GORT_GC");
    if (s && *s) {
        if (strcmp(s, "off") == 0)
            gc.percent = -1;
        else
            gc.percent = (int32_t)strtol(s, NULL, 10);
    }
}

int gort_set_gc_percent(int percent)
{
    lock_acquire(&mheap_.lock);
    int old = gc.percent;
    gc.percent = percent < 0 ? -1 : percent;
    if (gc.percent >= 0) {
        uint64_t goal = gc.heap_marked + gc.heap_marked * (uint64_t)gc.percent / 100;
        store64(&gc.next_gc, goal < MIN_HEAP_GOAL ? MIN_HEAP_GOAL : goal);
    }
    lock_release(&mheap_.lock);
    return old;
}

bool gc_should_start(void)
{
    return gc.percent >= 0 && load64(&gc.heap_live) >= load64(&gc.next_gc) &&
           !load32(&gc.running);
}

static void gctrace(bool forced, int64_t t0, int64_t t1, int64_t t2, int64_t t3,
                    uint64_t heap0, uint64_t heap1)
{
    int64_t since = t3 - runtime_start;
    int pct = since > 0 ? (int)(gc.total_ns * 100 / (uint64_t)since) : 0;
    print_fmt("gc %u @%.3fs %d%%: %.3f+%.3f+%.3f ms clock, %llu->%llu->%llu MB, %llu MB goal, "
              "%d P%s\n",
              gc.num_gc, (double)since / 1e9, pct, (double)(t1 - t0) / 1e6,
              (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6,
              (unsigned long long)(heap0 >> 20), (unsigned long long)(heap1 >> 20),
              (unsigned long long)(gc.heap_marked >> 20), (unsigned long long)(gc.next_gc >> 20),
              gomaxprocs, forced ? " (forced)" : "");
}

void finalizers_wake(void);     /* mfinal.c */
void roots_collect_modules(void);   /* mgcmark.c */

/* One whole cycle, on g0 of the calling M (which holds a P).  Returns false
 * if another cycle was already running. */
bool gc_run(bool forced)
{
    if (!cas32(&gc.running, 0, 1))
        return false;
    int64_t t0 = nanotime();
    if (!sweep_finish()) {
        store32(&gc.running, 0);        /* another stop holds the world: later */
        return false;
    }
    roots_collect_modules();
    uint64_t heap0 = load64(&gc.heap_live);

    int64_t tstop = nanotime();
    if (!stop_the_world(STW_GC)) {
        store32(&gc.running, 0);        /* GOMAXPROCS or statistics hold the world: later */
        return false;
    }
    int64_t t1 = nanotime();
    for (int32_t i = 0; i < gomaxprocs; i++)
        mcache_release_all(allp[i]->mcache);
    pool_cleanup();
    gc_mark();
    finalizers_mark();
    int64_t t2 = nanotime();

    /* Everything unmarked is garbage; what is marked is the live heap. */
    store64(&gc.heap_live, gc.heap_marked);
    uint64_t goal = gc.percent >= 0 ? gc.heap_marked + gc.heap_marked * (uint64_t)gc.percent / 100
                                    : UINT64_MAX;
    store64(&gc.next_gc, goal < MIN_HEAP_GOAL ? MIN_HEAP_GOAL : goal);
    sweep_start_cycle();
    store32(&gc.num_gc, gc.num_gc + 1);
    if (forced)
        gc.num_forced_gc++;
    start_the_world(STW_GC);
    int64_t t3 = nanotime();

    uint64_t pause = (uint64_t)(t3 - tstop);
    gc.pause_total_ns += pause;
    gc.pause_ns[(gc.num_gc + 255) % 256] = pause;
    gc.last_gc = unix_nanos();
    gc.pause_end[(gc.num_gc + 255) % 256] = gc.last_gc;
    gc.total_ns += (uint64_t)(t3 - t0);
    if (debug.gctrace)
        gctrace(forced, tstop, t1, t2, t3, heap0, heap0);
    bgsweep_start();
    finalizers_wake();
    /* Free stacks pooled since before this cycle go back to the heap. */
    stack_pool_trim(t0);
    store32(&gc.running, 0);
    return true;
}

uint32_t gc_num_forced(void)
{
    return gc.num_forced_gc;
}

uint64_t gc_total_time(void)
{
    return gc.total_ns;
}

void gc_trigger_from_alloc(void)
{
    if (!getg_maybe())
        return;
    gc_switch(false);
}

void gort_gc(void)
{
    if (!getg_maybe())
        throw_("gort_gc called outside a goroutine");
    /* A cycle already under way may have marked before this call: wait for
     * it, then run one of our own. */
    for (;;) {
        gc_switch(true);
        if (gc_switch_result())
            break;
        do
            gort_yield();
        while (load32(&gc.running));
    }
    /* As Go's runtime.GC: return with the cycle's sweeping done, so its
     * frees show in the statistics. */
    sweep_finish();
}
