/*
 * insp_rewait.c — goroutines that change between goinspect's pre-copy and
 * its stop (tests/test_attach_precopy.py holds goinspect there).
 *
 * N goroutines (argv[1], default 2000) park in first_wait(), each on a
 * channel of its own.  On SIGHUP, the first K (argv[2], default 100) are
 * sent a value and park again in second_wait(); the next K are sent a value
 * and return, and (unless argv[4] is 0) K new goroutines start and park in
 * third_wait(), in the Gs of those that returned or in new ones.  A ticker goroutine changes its wait
 * every millisecond meanwhile.  Prints "ID <goid>" for each of the N first,
 * "READY", and after the change "CHANGED moved=a,b,.. exited=.. new=..",
 * then creates the file argv[3] (when given).  With argv[5] 1, the 2K
 * goroutines changed are spread evenly over the N (every N/2K-th in the
 * order they started, moved and exited in turn) instead of being the
 * first 2K.
 */
#include "rt_common.h"
#include <signal.h>

static gort_chan **chans;
static int n_first;
static uint64_t *ids;
static uint64_t *new_ids;
static atomic_int parked, reparked, started;
static volatile sig_atomic_t hup;

static void on_hup(int sig)
{
    (void)sig;
    hup = 1;
}

static NOINLINE void third_wait(gort_chan *c)
{
    int v;
    atomic_fetch_add(&started, 1);
    gort_chan_recv(c, &v); /* WAIT:third */
}

static NOINLINE void second_wait(gort_chan *c)
{
    int v;
    atomic_fetch_add(&reparked, 1);
    gort_chan_recv(c, &v); /* WAIT:second */
}

static NOINLINE int first_wait(gort_chan *c)
{
    int v = 0;
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(c, &v); /* WAIT:first */
    return v;
}

static void worker(void *arg)
{
    intptr_t i = (intptr_t)arg;
    ids[i] = gort_goid();
    if (first_wait(chans[i]) == 1)
        second_wait(chans[i]);
}

static void newcomer(void *arg)
{
    intptr_t j = (intptr_t)arg;
    new_ids[j] = gort_goid();
    third_wait(chans[n_first + j]);
}

static void ticker(void *arg)
{
    (void)arg;
    for (;;)
        gort_sleep(1000000);
}

static void list(const char *name, const uint64_t *v, const int *pick, int n)
{
    printf(" %s=", name);
    for (int i = 0; i < n; i++)
        printf("%s%llu", i ? "," : "", (unsigned long long)v[pick ? pick[i] : i]);
}

static int app(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    int k = argc > 2 ? atoi(argv[2]) : 100;
    int knew = argc > 4 && atoi(argv[4]) == 0 ? 0 : k;
    int spread = argc > 5 && atoi(argv[5]) == 1;
    if (n < 2 * k || k < 1) {
        printf("FAIL N must be at least 2K\n");
        return 1;
    }
    n_first = n;
    /* the workers changed: the K moved, then the K that exit (spread: the
     * even and the odd N/2K-th ones) */
    int *pick = calloc(2 * (size_t)k, sizeof *pick);
    for (int i = 0; i < 2 * k; i++)
        pick[i] = !spread ? i : (i < k ? 2 * i : 2 * (i - k) + 1) * (n / (2 * k));
    /* from the collected heap: channels reachable only from malloc'd memory
     * would be freed by the first collection (above 4 MiB, ~44,000 of them) */
    chans = gort_alloc(((size_t)n + (size_t)k) * sizeof *chans);
    ids = calloc((size_t)n, sizeof *ids);
    new_ids = calloc((size_t)k, sizeof *new_ids);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    for (int i = 0; i < n + k; i++)
        chans[i] = gort_chan_make(sizeof(int), 0);
    for (intptr_t i = 0; i < n; i++)
        gort_go(worker, (void *)i);
    gort_go(ticker, NULL);
    while (atomic_load(&parked) < n)
        gort_sleep(1000000);
    for (int i = 0; i < n; i++)
        printf("ID %llu\n", (unsigned long long)ids[i]);
    printf("READY\n");
    fflush(stdout);
    while (!hup)
        gort_sleep(1000000);
    for (int i = 0; i < 2 * k; i++) {
        int v = i < k ? 1 : 2;
        gort_chan_send(chans[pick[i]], &v);
    }
    while (atomic_load(&reparked) < k)
        gort_sleep(1000000);
    gort_sleep(20000000);       /* the exited ones have returned */
    for (intptr_t i = 0; i < knew; i++)
        gort_go(newcomer, (void *)i);
    while (atomic_load(&started) < knew)
        gort_sleep(1000000);
    gort_sleep(20000000);       /* the exited ones have returned */
    printf("CHANGED");
    list("moved", ids, pick, k);
    list("exited", ids, pick + k, k);
    list("new", new_ids, NULL, knew);
    printf("\n");
    fflush(stdout);
    if (argc > 3)
        fclose(fopen(argv[3], "w"));
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
