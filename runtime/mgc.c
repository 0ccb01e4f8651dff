/*
 * mgc.c — the collection cycle, its pacing, and gctrace.
 *
 * Cycles run on the collector's own thread ("gort-gc"), which has no P: an
 * allocation that takes the heap past the trigger asks for one and waits
 * until it has started (until it has ended, if it stops the world
 * throughout); gort_gc asks for one and waits for its end (wait reason
 * "garbage collection").  A cycle:
 *
 *   1. finishes sweeping the previous cycle (helping the background sweeper)
 *   2. stops the world (signal_stop.c suspends threads in goroutine code)
 *      and empties the sync pools into their victims
 *   3. marks (mgcmark.c), either
 *        - all of it with the world stopped, or
 *        - concurrently: the goroutines then running are flagged and the
 *          world restarts; write tracking is armed (mgcdirty.c); roots and
 *          heap are traced while the program runs (new objects are born
 *          marked), what changed is rescanned in rounds, and the world
 *          stops again for the rest;
 *      then finalizers (mfinal.c): unreachable finalizable objects are kept
 *      and queued
 *   4. takes back every P's cached spans, bumps the sweep generation (every
 *      span is now unswept) and restarts the world; spans are swept lazily
 *      by allocation and by the background sweeper (mgcsweep.c)
 *
 * A cycle marks concurrently when the kernel can record writes and the
 * last cycle found at least CONCURRENT_MIN live bytes, unless
 * GORT_DEBUG=gcstoptheworld=1 (never) or gcconcurrent=1 (always, when the
 * kernel can).
 *
 * Pacing (GORT_GC, like GOGC): the heap goal is live * (1 + percent/100),
 * and never below 4 MiB.  A stop-the-world cycle starts when the heap
 * reaches the goal; a concurrent one at 7/8 of the way from the live heap
 * to the goal, so that it can finish before the goal while the program
 * allocates.  Past 1.1 times the goal an allocation waits for the cycle
 * (wait reason "GC assist wait").  GORT_GC=off disables automatic
 * collection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heap.h"

/* Below CONCURRENT_MIN live bytes the world is stopped for the whole mark
 * (about 10 ms at most on a 2-CPU machine, marking at 6 GB/s): for a program
 * that writes fresh memory fast, the page faults of write tracking (one per
 * page written per cycle, with a TLB shootdown) cost more than that — an
 * allocation-heavy 40 MiB heap ran 1.9 times longer marking concurrently. */
enum { MIN_HEAP_GOAL = 4 << 20, CONCURRENT_MIN = 64 << 20 };

struct gcstate gc = {.percent = 100, .next_gc = MIN_HEAP_GOAL, .trigger = MIN_HEAP_GOAL,
                     .hard_goal = MIN_HEAP_GOAL + MIN_HEAP_GOAL / 10};

static uint32_t gc_thread_started;

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

/* Whether the next cycle marks concurrently (if the kernel can). */
static bool want_concurrent(void)
{
    if (debug.gcstoptheworld)
        return false;
    return debug.gcconcurrent || gc.heap_marked >= CONCURRENT_MIN;
}

/* Whether the next cycle will mark concurrently, as far as is known. */
static bool next_concurrent(void)
{
    return want_concurrent() && !dirty_unavailable();
}

/* Heap lock or world stopped: the goal, trigger and hard goal from the
 * live heap just marked. */
static void set_goal(void)
{
    if (gc.percent < 0) {
        store64(&gc.next_gc, UINT64_MAX);
        store64(&gc.trigger, UINT64_MAX);
        store64(&gc.hard_goal, UINT64_MAX);
        return;
    }
    uint64_t live = gc.heap_marked;
    uint64_t goal = live + live * (uint64_t)gc.percent / 100;
    if (goal < MIN_HEAP_GOAL)
        goal = MIN_HEAP_GOAL;
    uint64_t trigger = goal;
    if (next_concurrent()) {
        uint64_t base = live < goal ? live : 0;
        trigger = base + (goal - base) / 8 * 7;
    }
    store64(&gc.next_gc, goal);
    store64(&gc.trigger, trigger);
    store64(&gc.hard_goal, goal + goal / 10);
}

static void wait_for_cycle(uint32_t n, bool started, uint32_t reason);

int gort_set_gc_percent(int percent)
{
    lock_acquire(&mheap_.lock);
    int old = gc.percent;
    gc.percent = percent < 0 ? -1 : percent;
    set_goal();
    lock_release(&mheap_.lock);
    if (percent < 0) {
        /* As Go's SetGCPercent(-1): cycles asked for by allocation are
         * dropped, and one under way is waited for, so that none runs
         * after this returns. */
        lock_acquire(&gc.waitlock);
        uint32_t started = gc.cycles_started;
        if (gc.want > started && gc.want_forced <= started)
            store32(&gc.want, started);
        bool running = load32(&gc.running);
        lock_release(&gc.waitlock);
        if (running && getg_maybe())
            wait_for_cycle(started, false, WR_GC);
    }
    return old;
}

static void gctrace(bool forced, bool concurrent, int64_t stw1, int64_t mark, int64_t stw2,
                    uint64_t heap0, uint64_t heap1, int64_t end)
{
    int64_t since = end - runtime_start;
    int pct = since > 0 ? (int)(gc.total_ns * 100 / (uint64_t)since) : 0;
    if (report_dying())
        return;         /* a crash report is being printed: not in its midst */
    char line[256];     /* print_fmt has no %f */
    snprintf(line, sizeof line,
             "gc %u @%.3fs %d%%: %.3f+%.3f+%.3f ms clock, %llu->%llu->%llu MB, %llu MB goal, "
             "%d P%s%s\n",
             gc.num_gc, (double)since / 1e9, pct, (double)stw1 / 1e6, (double)mark / 1e6,
             (double)stw2 / 1e6, (unsigned long long)(heap0 >> 20),
             (unsigned long long)(heap1 >> 20), (unsigned long long)(gc.heap_marked >> 20),
             (unsigned long long)(gc.next_gc >> 20), gomaxprocs, concurrent ? "" : " (stw)",
             forced ? " (forced)" : "");
    print_str(line);
}

void finalizers_wake(void);     /* mfinal.c */
void roots_collect_modules(void);   /* mgcmark.c */

static void release_caches(void)
{
    for (int32_t i = 0; i < gomaxprocs; i++)
        mcache_release_all(allp[i]->mcache);
}

/* World stopped, marking done: what is marked is the live heap. */
static uint64_t finish_mark(bool forced)
{
    release_caches();
    gc.heap_marked = gc.cycle_marked + xchg64(&gc.black_bytes, 0);
    uint64_t heap1 = load64(&gc.heap_live);
    store64(&gc.heap_live, gc.heap_marked);
    sweep_start_cycle();
    store32(&gc.num_gc, gc.num_gc + 1);
    if (forced)
        gc.num_forced_gc++;
    return heap1;
}

/* Wake every goroutine waiting on the collector; each checks what it
 * waits for and waits again if that has not happened. */
static void wake_waiters(void)
{
    lock_acquire(&gc.waitlock);
    struct g *w = gc.waiters;
    gc.waiters = NULL;
    lock_release(&gc.waitlock);
    if (w)
        ready_list(w);
}

static void gc_cycle(void)
{
    lock_acquire(&gc.waitlock);
    if (load32(&gc.want) <= gc.cycles_started) {
        lock_release(&gc.waitlock);     /* withdrawn (gort_set_gc_percent(-1)) */
        return;
    }
    uint32_t n = gc.cycles_started + 1;
    /* Forced (counted in num_forced_gc, "(forced)" in the trace) if
     * gort_gc asked for it before allocation did. */
    bool forced = gc.want_forced >= n && gc.want_alloc < n;
    store32(&gc.cur_concurrent, next_concurrent());
    store32(&gc.running, 1);            /* before the count: see gc_busy */
    store32(&gc.cycles_started, n);
    lock_release(&gc.waitlock);

    int64_t t0 = nanotime();
    uint64_t heap0 = load64(&gc.heap_live);
    sweep_finish();
    roots_collect_modules();
    bool concurrent = want_concurrent() && dirty_available();
    store32(&gc.cur_concurrent, concurrent);

    int64_t s1 = nanotime(), s2, stw1, mark, stw2, end;
    uint64_t heap1;
    stop_the_world(STW_GC);
    pool_cleanup();
    if (concurrent) {
        /* A short stop: goroutines start flagging themselves; then write
         * tracking is armed and new objects are born marked, while the
         * program runs. */
        gc_mark_begin();
        int64_t c0 = nanotime();
        stw1 = c0 - s1;
        store32(&gc.stw1_done, n);
        start_the_world(STW_GC);
        wake_waiters();
        bool armed = dirty_arm();
        if (armed) {
            store32(&gc.marking, 1);
            gc_mark_concurrent();
            gc_mark_preclean();
            roots_collect_modules();    /* a library loaded meanwhile */
        }
        s2 = nanotime();
        mark = s2 - c0;
        stop_the_world(STW_GC);
        if (armed) {
            gc_mark_terminate();
        } else {
            /* Writes could not be tracked after all: mark it all now. */
            gc_mark_abandon();
            gc_mark();
        }
        finalizers_mark();
        store32(&gc.marking, 0);
        store32(&gc.flagging, 0);
        dirty_disarm();
        heap1 = finish_mark(forced);
        set_goal();
        end = nanotime();
        stw2 = end - s2;
    } else {
        release_caches();
        int64_t m0 = nanotime();
        gc_mark();
        finalizers_mark();
        heap1 = finish_mark(forced);
        int64_t m1 = nanotime();
        set_goal();
        store32(&gc.stw1_done, n);
        end = nanotime();
        /* All of it with the world stopped: stopping, marking, the rest. */
        stw1 = m0 - s1;
        mark = m1 - m0;
        stw2 = end - m1;
    }
    /* Recorded with the world still stopped (as Go does, the pause ends
     * here, before the restart): a reader of the statistics sees the
     * cycle's count and its pause together. */
    uint64_t pause = (uint64_t)(stw1 + (concurrent ? stw2 : mark + stw2));
    gc.pause_total_ns += pause;
    gc.pause_ns[(gc.num_gc + 255) % 256] = pause;
    gc.last_gc = (uint64_t)walltime();
    gc.pause_end[(gc.num_gc + 255) % 256] = gc.last_gc;
    gc.total_ns += (uint64_t)(end - t0);
    start_the_world(STW_GC);
    if (debug.gctrace)
        gctrace(forced, concurrent, stw1, mark, stw2, heap0, heap1, end);
    bgsweep_start();
    finalizers_wake();
    /* Free stacks pooled since before this cycle go back to the heap. */
    stack_pool_trim(t0);

    /* Wake the goroutines waiting for the cycle, and only then stop
     * counting as busy: checkdead must not find them asleep in between. */
    lock_acquire(&gc.waitlock);
    gc.cycles_done = n;
    lock_release(&gc.waitlock);
    wake_waiters();
    store32(&gc.running, 0);
    /* checkdead does not judge while a cycle runs: judge now. */
    lock_acquire(&sched.lock);
    checkdead();
    lock_release(&sched.lock);
}

static void *gc_thread(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t want;
        while ((want = load32(&gc.want)) <= load32(&gc.cycles_started))
            futex_wait(&gc.want, want, -1);
        gc_cycle();
    }
    return NULL;
}

/* Ask for cycles up to number n. */
static void request(uint32_t n, bool forced)
{
    if (!load32(&gc_thread_started) && cas32(&gc_thread_started, 0, 1))
        runtime_thread_start("gort-gc", gc_thread, NULL, 256 * 1024);
    lock_acquire(&gc.waitlock);
    if (n > gc.want) {
        store32(&gc.want, n);
        if (!forced)
            gc.want_alloc = n;
    }
    if (forced && n > gc.want_forced)
        gc.want_forced = n;
    lock_release(&gc.waitlock);
    futex_wake(&gc.want, 1);
}

static bool waiting_done(struct g *gp, void *arg)
{
    (void)gp;
    lock_release(arg);
    return true;
}

/* Park the calling goroutine until cycle n has completed (or, with
 * started, until its marking has begun: its first stop of the world is
 * over). */
static void wait_for_cycle(uint32_t n, bool started, uint32_t reason)
{
    uint32_t *what = started ? &gc.stw1_done : &gc.cycles_done;
    for (;;) {
        lock_acquire(&gc.waitlock);
        if (load32(what) >= n) {
            lock_release(&gc.waitlock);
            return;
        }
        struct g *gp = getg();
        gp->schedlink = gc.waiters;
        gc.waiters = gp;
        park(reason, waiting_done, &gc.waitlock);
    }
}

/* A cycle is asked for or under way.  The collector sets running before it
 * counts the cycle as started, so reading in the other order never misses
 * both. */
bool gc_busy(void)
{
    uint32_t want = load32(&gc.want);
    uint32_t started = load32(&gc.cycles_started);
    return want > started || load32(&gc.running);
}

/* The allocation slow path of a goroutine (no runtime lock held).  Past the
 * trigger it asks for a cycle and waits for it to start (as if it had
 * started the cycle itself: the heap must not run far past the trigger
 * while the collector's thread gets going), or, for a cycle that marks with
 * the world stopped, to end.  While a cycle marks concurrently, allocation
 * goes on, up to the hard goal. */
void gc_alloc_slow(void)
{
    if (gc.percent < 0)
        return;
    uint64_t live = load64(&gc.heap_live);
    if (live < load64(&gc.trigger))
        return;
    uint32_t started = load32(&gc.cycles_started);
    if (load32(&gc.num_gc) >= started) {
        /* No cycle marking (one may be finishing: its goal is set). */
        if (load32(&gc.want) <= started)
            request(started + 1, false);
        wait_for_cycle(started + 1, next_concurrent(), WR_GC);
        return;
    }
    if (!load32(&gc.cur_concurrent))
        wait_for_cycle(started, false, WR_GC);
    else if (live >= load64(&gc.hard_goal) && load32(&gc.marking))
        wait_for_cycle(started, false, WR_GC_ASSIST);
}

uint32_t gc_num_forced(void)
{
    return gc.num_forced_gc;
}

uint64_t gc_total_time(void)
{
    return gc.total_ns;
}

void gort_gc(void)
{
    if (!getg_maybe())
        throw_("gort_gc called outside a goroutine");
    /* A cycle under way may have marked before this call: the one after it
     * is ours. */
    lock_acquire(&gc.waitlock);
    uint32_t n = gc.cycles_started + 1;
    lock_release(&gc.waitlock);
    request(n, true);
    wait_for_cycle(n, false, WR_GC);
    /* As Go's runtime.GC: return with the cycle's sweeping done, so its
     * frees show in the statistics. */
    sweep_finish();
}
