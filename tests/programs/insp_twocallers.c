/*
 * insp_twocallers.c — goroutines parked at the same line under two
 * callers whose frames are the same size, alternating in the order they
 * start (so in the G table): their stacks have the same first pc and the
 * same length, and differ only in one return address.
 *
 * N goroutines (argv[1], default 2000): goroutine i parks in park_here()
 * called from via_a() when i is even, via_b() when odd.  Prints
 * "<A|B> <goid>" for each, then "READY", and waits until killed.
 */
#include "rt_common.h"

static gort_chan *never;           /* nobody sends */
static atomic_int parked;
static uint64_t *ids;

static NOINLINE int park_here(int x)
{
    int v = 0;
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(never, &v); /* WAIT:park */
    return v + x;
}

static NOINLINE int via_a(int x)
{
    return park_here(x + 1) * 3; /* CALL:a */
}

static NOINLINE int via_b(int x)
{
    return park_here(x + 2) * 5; /* CALL:b */
}

static void worker(void *arg)
{
    intptr_t i = (intptr_t)arg;
    ids[i] = gort_goid();
    int r = i % 2 ? via_b((int)i) : via_a((int)i);
    printf("unexpected wake %d\n", r);
}

static int app(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    never = gort_chan_make(sizeof(int), 0);
    ids = calloc((size_t)n, sizeof *ids);
    for (intptr_t i = 0; i < n; i++)
        gort_go(worker, (void *)i);
    while (atomic_load(&parked) < n)
        gort_sleep(1000000);
    for (int i = 0; i < n; i++)
        printf("%s %llu\n", i % 2 ? "B" : "A", (unsigned long long)ids[i]);
    printf("READY\n");
    fflush(stdout);
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
