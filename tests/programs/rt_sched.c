/*
 * rt_sched.c — the scheduler as a program sees it.
 *
 *   rt_sched info       GOMAXPROCS, CPUs, goroutine ids and counts,
 *                       gort_maxprocs() changing GOMAXPROCS at run time
 *   rt_sched threads    GOMAXPROCS goroutines run at once; prints the
 *                       threads they ran on, then "READY", then waits
 *   rt_sched nap        sleeps 300 ms and exits (for GORT_DEBUG)
 *   rt_sched exit7      goroutine 1 returns 7
 */
#include "rt_common.h"

#include <sched.h>

/* n goroutines that each spin, never yielding, until all n are running:
 * only n processors running at the same time get them all through. */
struct rendezvous {
    atomic_int arrived;
    int n;
    long tids[64];
    gort_waitgroup wg;
};

static void spin_until_all(void *arg)
{
    struct rendezvous *r = arg;
    int me = atomic_fetch_add(&r->arrived, 1);
    r->tids[me] = tid();
    int64_t deadline = mono_ns() + SEC(10);
    while (atomic_load(&r->arrived) < r->n)
        if (mono_ns() > deadline)
            FAIL("only %d of %d goroutines ran at once", atomic_load(&r->arrived), r->n);
    gort_waitgroup_done(&r->wg);
}

static void rendezvous(struct rendezvous *r, int n)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    gort_waitgroup_add(&r->wg, n);
    for (int i = 0; i < n; i++)
        gort_go(spin_until_all, r);
    gort_waitgroup_wait(&r->wg);
}

static gort_chan *ids, *hold;

static void send_own_id(void *arg)
{
    (void)arg;
    int64_t id = (int64_t)gort_goid();
    gort_chan_send(ids, &id);
    gort_chan_recv(hold, NULL);  /* blocks until goroutine 1 has counted */
}

static int mode_info(void)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    printf("maxprocs %d cpus %d\n", gort_maxprocs(0), CPU_COUNT(&set));
    printf("g1 %" PRIu64 " numgoroutine %d\n", gort_goid(), gort_numgoroutine());

    enum { N = 20 };
    ids = gort_chan_make(sizeof(int64_t), 0);
    hold = gort_chan_make(sizeof(int64_t), 0);
    printf("spawned");
    for (int i = 0; i < N; i++)
        printf(" %" PRIu64, gort_go(send_own_id, NULL));
    printf("\nself");
    for (int i = 0; i < N; i++) {
        int64_t id;
        gort_chan_recv(ids, &id);
        printf(" %" PRId64, id);
    }
    printf("\n");
    printf("blocked numgoroutine %d\n", gort_numgoroutine());
    gort_chan_close(hold);
    int64_t deadline = mono_ns() + SEC(10);
    while (gort_numgoroutine() > 1 && mono_ns() < deadline)
        gort_sleep(MSEC(1));
    printf("exited numgoroutine %d\n", gort_numgoroutine());

    /* Changing GOMAXPROCS at run time. */
    int prev = gort_maxprocs(3);
    int now = gort_maxprocs(0);
    struct rendezvous r;
    rendezvous(&r, 3);
    printf("setprocs prev %d now %d rendezvous %d\n", prev, now, atomic_load(&r.arrived));
    int back = gort_maxprocs(prev);
    printf("restored %d from %d\n", gort_maxprocs(0), back);
    return 0;
}

static int mode_threads(void)
{
    static struct rendezvous r;
    int n = gort_maxprocs(0);
    rendezvous(&r, n);
    /* Every runtime thread exists and has run (the sleep needs the timer). */
    gort_sleep(MSEC(5));
    printf("pid %ld\ng1_tid %ld\n", (long)getpid(), tid());
    printf("ran_on");
    for (int i = 0; i < n; i++)
        printf(" %ld", r.tids[i]);
    printf("\nREADY\n");
    sleep_forever();
    return 1;
}

static int mode_nap(void)
{
    gort_sleep(MSEC(300));
    printf("done\n");
    return 0;
}

static int mode_exit7(void)
{
    return 7;
}

static const struct mode modes[] = {
    {"info", mode_info},
    {"threads", mode_threads},
    {"nap", mode_nap},
    {"exit7", mode_exit7},
    {NULL, NULL},
};

RT_MAIN(modes)
