/*
 * insp_parkpaths.c — goroutines that go through every kind of park between
 * goinspect's pre-copy and its stop (tests/test_attach_precopy.py holds
 * goinspect there), each ending in a wait the program names.
 *
 * N goroutines (argv[1], default 1000, even) park in first_wait(), each on
 * a channel of its own.  On SIGHUP each is sent a value; it then plays
 * ROUNDS rounds of ping-pong with its partner (goroutine i ^ 1) on an
 * unbuffered channel (each send readies the partner, each receive after it
 * parks handing the thread to the partner directly), takes and releases a
 * mutex others contend for, sleeps 1 ms, passes a waitgroup, selects on
 * two channels the main goroutine sends on, and parks for good in one of
 * five waits by its index: a channel receive (final_chan), a select
 * (final_select), a mutex the main goroutine holds (final_mutex), a long
 * sleep (final_sleep) or a waitgroup never done (final_wg).  Prints
 * "ID <goid>" for each of the N and "READY"; after the change
 * "AT <goid> <wait>" for each and "CHANGED", then creates the file argv[2]
 * (when given).
 */
#include "rt_common.h"
#include <signal.h>

enum { ROUNDS = 50 };

static const char *const finals[] = {"final_chan", "final_select", "final_mutex", "final_sleep",
                                     "final_wg"};
static gort_chan **first, **pair, **sel_a, **sel_b, *never_a, *never_b, *never;
static gort_mutex busy, held;
static gort_waitgroup pass, forever;
static uint64_t *ids;
static atomic_int parked, arrived, woke;
static volatile sig_atomic_t hup;

static void on_hup(int sig)
{
    (void)sig;
    hup = 1;
}

static NOINLINE void first_wait(intptr_t i)
{
    int v;
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(first[i], &v); /* WAIT:first */
}

static NOINLINE void final_chan(void)
{
    int v;
    atomic_fetch_add(&arrived, 1);
    gort_chan_recv(never, &v); /* WAIT:final_chan */
    atomic_fetch_add(&woke, 1);     /* never: no tail call */
}

static NOINLINE void final_select(void)
{
    int a, b;
    gort_select_case cs[2] = {{.dir = GORT_SELECT_RECV, .chan = never_a, .elem = &a},
                              {.dir = GORT_SELECT_RECV, .chan = never_b, .elem = &b}};
    atomic_fetch_add(&arrived, 1);
    gort_select(cs, 2, false); /* WAIT:final_select */
    atomic_fetch_add(&woke, 1);     /* never: no tail call */
}

static NOINLINE void final_mutex(void)
{
    atomic_fetch_add(&arrived, 1);
    gort_mutex_lock(&held); /* WAIT:final_mutex */
    atomic_fetch_add(&woke, 1);     /* never: no tail call */
}

static NOINLINE void final_sleep(void)
{
    atomic_fetch_add(&arrived, 1);
    gort_sleep(3600LL * 1000000000); /* WAIT:final_sleep */
    atomic_fetch_add(&woke, 1);     /* never: no tail call */
}

static NOINLINE void final_wg(void)
{
    atomic_fetch_add(&arrived, 1);
    gort_waitgroup_wait(&forever); /* WAIT:final_wg */
    atomic_fetch_add(&woke, 1);     /* never: no tail call */
}

static void worker(void *arg)
{
    intptr_t i = (intptr_t)arg;
    ids[i] = gort_goid();
    first_wait(i);
    /* ping-pong: even i sends first on pair[i / 2] */
    for (int r = 0; r < ROUNDS; r++) {
        int v = r;
        if (i % 2 == 0) {
            gort_chan_send(pair[i / 2], &v);
            gort_chan_recv(pair[i / 2], &v);
        } else {
            gort_chan_recv(pair[i / 2], &v);
            gort_chan_send(pair[i / 2], &v);
        }
    }
    gort_mutex_lock(&busy);
    gort_sleep(1000);
    gort_mutex_unlock(&busy);
    gort_sleep(1000000);
    gort_waitgroup_done(&pass);
    gort_waitgroup_wait(&pass);
    int a, b;
    gort_select_case cs[2] = {{.dir = GORT_SELECT_RECV, .chan = sel_a[i], .elem = &a},
                              {.dir = GORT_SELECT_RECV, .chan = sel_b[i], .elem = &b}};
    gort_select(cs, 2, false);
    switch (i % 5) {
    case 0: final_chan(); break;
    case 1: final_select(); break;
    case 2: final_mutex(); break;
    case 3: final_sleep(); break;
    default: final_wg(); break;
    }
}

static int app(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n < 2 || n % 2) {
        printf("FAIL N must be even\n");
        return 1;
    }
    /* from the collected heap: reachable from it only */
    first = gort_alloc((size_t)n * sizeof *first);
    sel_a = gort_alloc((size_t)n * sizeof *sel_a);
    sel_b = gort_alloc((size_t)n * sizeof *sel_b);
    pair = gort_alloc((size_t)n / 2 * sizeof *pair);
    ids = calloc((size_t)n, sizeof *ids);
    for (int i = 0; i < n; i++) {
        first[i] = gort_chan_make(sizeof(int), 0);
        sel_a[i] = gort_chan_make(sizeof(int), 0);
        sel_b[i] = gort_chan_make(sizeof(int), 0);
        if (i % 2 == 0)
            pair[i / 2] = gort_chan_make(sizeof(int), 0);
    }
    never = gort_chan_make(sizeof(int), 0);
    never_a = gort_chan_make(sizeof(int), 0);
    never_b = gort_chan_make(sizeof(int), 0);
    gort_waitgroup_add(&pass, n);
    gort_waitgroup_add(&forever, 1);
    gort_mutex_lock(&held);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    for (intptr_t i = 0; i < n; i++)
        gort_go(worker, (void *)i);
    while (atomic_load(&parked) < n)
        gort_sleep(1000000);
    gort_sleep(20000000);       /* all of them in the receive */
    for (int i = 0; i < n; i++)
        printf("ID %llu\n", (unsigned long long)ids[i]);
    printf("READY\n");
    fflush(stdout);
    while (!hup)
        gort_sleep(1000000);
    for (int i = 0; i < n; i++) {
        int v = i;
        gort_chan_send(first[i], &v);
    }
    for (int i = 0; i < n; i++) {
        int v = i;
        gort_chan_send(i % 2 ? sel_a[i] : sel_b[i], &v);
    }
    while (atomic_load(&arrived) < n)
        gort_sleep(1000000);
    gort_sleep(50000000);       /* each in its final wait */
    for (int i = 0; i < n; i++)
        printf("AT %llu %s\n", (unsigned long long)ids[i], finals[i % 5]);
    printf("CHANGED\n");
    fflush(stdout);
    if (argc > 2)
        fclose(fopen(argv[2], "w"));
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
