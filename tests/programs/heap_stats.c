/*
 * heap_stats.c — memory statistics, pacing and gctrace, as the program
 * sees them.  Every "MS tag ..." line is a gort_read_memstats snapshot
 * (heap_common.h); tests/heaplib.py checks the identities on each.
 *
 *   heap_stats points      snapshots at several points of a run: start,
 *                          after allocating small and large objects, after
 *                          dropping them and collecting, with goroutines
 *                          allocating, after idle memory went back to the
 *                          OS.  Prints "COUNT tag n=N size=S" for the
 *                          objects this program allocated between two
 *                          snapshots and "DROP tag n=N" for those it dropped
 *                          before a gort_gc.
 *   heap_stats concurrent  snapshots taken while other goroutines allocate
 *                          and collect: 300, and more until 10 collections
 *                          have finished
 *   heap_stats pacing      a live set of LIVE_MB MiB: the heap goal after a
 *                          collection, gort_set_gc_percent, collections
 *                          triggered by allocation (run with GORT_GC and
 *                          GORT_DEBUG=gctrace=1)
 *   heap_stats off         GORT_GC=off: allocation triggers nothing,
 *                          gort_gc still collects
 */
#include "heap_common.h"

HEAP_DEFINE_OPAQUE
HEAP_DEFINE_FINALIZERS

/* ---- points -------------------------------------------------------------- */

enum { NSMALL = 10000, SMALL_SIZE = 48, NLARGE = 20, LARGE_SIZE = 100000 };

static void **small_objs, **large_objs;   /* the arrays are gort_alloc memory too */

static void alloc_small(void *arg)
{
    (void)arg;
    small_objs = gort_alloc(NSMALL * sizeof(void *));     /* one large object */
    for (int i = 0; i < NSMALL; i++)
        small_objs[i] = gort_alloc(SMALL_SIZE);
}

static void alloc_large(void *arg)
{
    (void)arg;
    large_objs = gort_alloc_noscan(NLARGE * sizeof(void *)); /* one small noscan object */
    for (int i = 0; i < NLARGE; i++)
        large_objs[i] = gort_alloc(LARGE_SIZE);
}

static void drop_all(void *arg)
{
    (void)arg;
    small_objs = NULL;
    large_objs = NULL;
}

static atomic_int busy_stop;
static gort_waitgroup busy_wg;

static void busy_allocator(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&busy_stop)) {
        churn(&rng, 256 << 10);
        gort_yield();           /* cooperative: GOMAXPROCS=1 needs no preemption here */
    }
    gort_waitgroup_done(&busy_wg);
}

static int mode_points(void)
{
    report_memstats("start");
    /* Known allocations, nothing else allocating in between: the objects,
     * the array holding them, and run_isolated's channel.  The large
     * objects are held by a noscan array: they are garbage at once. */
    report_memstats("before-small");
    run_isolated(alloc_small, NULL);
    report_memstats("after-small");
    printf("COUNT small objects=%d size=%d other=2 bytes_at_least=%d\n", NSMALL, SMALL_SIZE,
           NSMALL * SMALL_SIZE + NSMALL * 8);
    run_isolated(alloc_large, NULL);
    report_memstats("after-large");
    printf("COUNT large objects=%d size=%d other=2 bytes_at_least=%d\n", NLARGE, LARGE_SIZE,
           NLARGE * LARGE_SIZE);
    /* Dropped, then collected: frees shows them right after gort_gc, as
     * Go's runtime.GC finishes sweeping before it returns. */
    run_isolated(drop_all, NULL);
    printf("DROP n=%d bytes_at_least=%d\n", NSMALL + 1 + NLARGE + 1,
           NSMALL * SMALL_SIZE + NSMALL * 8 + NLARGE * LARGE_SIZE);
    gort_gc();
    report_memstats("after-gc");
    gort_gc();
    report_memstats("after-gc2");
    /* Other goroutines allocating while we look. */
    gort_waitgroup_add(&busy_wg, 2);
    gort_go(busy_allocator, (void *)1);
    gort_go(busy_allocator, (void *)2);
    for (int i = 0; i < 5; i++) {
        gort_sleep(MSEC(5));
        report_memstats("busy");
    }
    atomic_store(&busy_stop, 1);
    gort_waitgroup_wait(&busy_wg);
    gort_gc();
    gort_gc();
    report_memstats("quiet");
    /* Idle: free pages go back to the OS. */
    gort_memstats ms;
    int64_t deadline = mono_ns() + SEC(20);
    do {
        gort_sleep(MSEC(50));
        gort_read_memstats(&ms);
    } while (ms.heap_released < ms.heap_idle / 2 && mono_ns() < deadline);
    print_memstats("idle", &ms);
    return 0;
}

/* ---- concurrent ---------------------------------------------------------- */

static void gc_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&busy_stop)) {
        gort_gc();
        gort_yield();
    }
    gort_waitgroup_done(&busy_wg);
}

static int mode_concurrent(void)
{
    gort_waitgroup_add(&busy_wg, 3);
    gort_go(busy_allocator, (void *)3);
    gort_go(busy_allocator, (void *)4);
    gort_go(gc_loop, NULL);
    /* At least 300 snapshots, and on until gc_loop has finished 10
     * collections: how many finish during the first 300 depends on how the
     * threads are scheduled (a concurrent cycle takes milliseconds), so
     * later snapshots come a millisecond apart; give up after 20 s. */
    enum { NSNAP = 300 };
    gort_memstats ms;
    int64_t deadline = mono_ns() + SEC(20);
    for (int n = 1;; n++) {
        gort_read_memstats(&ms);
        print_memstats("concurrent", &ms);
        if (n < NSNAP)
            gort_yield();
        else if (ms.num_gc < 10 && mono_ns() < deadline)
            gort_sleep(MSEC(1));
        else
            break;
    }
    atomic_store(&busy_stop, 1);
    gort_waitgroup_wait(&busy_wg);
    report_memstats("end");
    return 0;
}

/* ---- pacing -------------------------------------------------------------- */

enum { LIVE_OBJ = 1024 };   /* a size class of its own: no rounding */

static void **live_set;
static size_t live_n;

static void make_live(void *arg)
{
    size_t bytes = (size_t)(uintptr_t)arg;
    live_n = bytes / LIVE_OBJ;
    live_set = gort_alloc(live_n * sizeof(void *));
    for (size_t i = 0; i < live_n; i++)
        live_set[i] = gort_alloc_noscan(LIVE_OBJ);
}

static void garbage(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += LIVE_OBJ)
        opaque_use(gort_alloc_noscan(LIVE_OBJ));
}

static int mode_pacing(void)
{
    const char *mb = getenv("LIVE_MB");
    size_t live = (size_t)(mb ? atol(mb) : 32) << 20;
    run_isolated(make_live, (void *)(uintptr_t)live);
    printf("LIVE bytes=%zu array=%zu\n", live_n * LIVE_OBJ, live_n * sizeof(void *));
    gort_gc();
    report_memstats("goal");
    /* Allocation past the goal triggers collections. */
    garbage(8 * live + (64 << 20));
    report_memstats("triggered");
    int prev = gort_set_gc_percent(300);
    printf("SETPERCENT 300 prev=%d\n", prev);
    report_memstats("percent300");
    prev = gort_set_gc_percent(-1);
    printf("SETPERCENT -1 prev=%d\n", prev);
    report_memstats("disabled");        /* a cycle under way has finished */
    garbage(128 << 20);
    report_memstats("off");
    prev = gort_set_gc_percent(100);
    printf("SETPERCENT 100 prev=%d\n", prev);
    gort_gc();
    report_memstats("percent100");
    return 0;
}

static int mode_off(void)
{
    garbage(96 << 20);
    report_memstats("no-auto");
    gort_gc();
    report_memstats("forced");
    printf("SETPERCENT -1 prev=%d\n", gort_set_gc_percent(-1));
    return 0;
}

static const struct mode modes[] = {
    {"points", mode_points},
    {"concurrent", mode_concurrent},
    {"pacing", mode_pacing},
    {"off", mode_off},
    {NULL, NULL},
};

RT_MAIN(modes)
