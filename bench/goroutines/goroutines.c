/*
 * goroutines.c — the benchmark target: N goroutines (default 100,000)
 * parked for good in leaf() on a channel receive, the same shape as
 * goroutines.go.  Prints "READY <pid>" once every goroutine has parked, then
 * waits until killed.
 *
 *   goroutines [N]
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <gort.h>

static gort_chan *never;           /* nobody sends */
static atomic_int parked;

__attribute__((noinline)) static int leaf(int depth)
{
    int v = 0;
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(never, &v);
    return v + depth;
}

__attribute__((noinline)) static int middle(int depth)
{
    return leaf(depth + 1) + 1;
}

static void worker(void *arg)
{
    int r = middle((int)(intptr_t)arg);
    printf("unexpected wake %d\n", r);
}

static int app(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    never = gort_chan_make(sizeof(int), 0);
    for (int i = 0; i < n; i++)
        gort_go(worker, (void *)(intptr_t)i);
    while (atomic_load(&parked) < n)
        gort_sleep(1000000);
    printf("READY %d\n", (int)getpid());
    fflush(stdout);
    for (;;)
        gort_sleep(3600LL * 1000000000);
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
