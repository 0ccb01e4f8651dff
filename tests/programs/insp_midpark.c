/*
 * insp_midpark.c — a goroutine caught in the middle of a direct hand-off
 * park (tests/test_core_midpark.py stops it there under gdb and dumps a
 * core).
 *
 * worker() sleeps in sleep_site() (a park through the scheduler, which
 * saves its context there), then in pass_site() sends to relay(), which
 * waits on the channel (relay is readied into the P's runnext), sets
 * in_pass and receives: that park hands the thread to relay directly
 * (park_direct), marking the worker waiting before its context is saved.
 * Its goroutine id is in worker_goid.  Run with GORT_MAXPROCS=1.
 */
#include <gort.h>

static gort_chan *c1, *c2;
volatile int in_pass;
volatile unsigned long long worker_goid;

__attribute__((noinline)) static void sleep_site(void)
{
    gort_sleep(1000000); /* WAIT:sleep */
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void pass_site(void)
{
    int v = 1;
    gort_chan_send(c1, &v);
    in_pass = 1;
    gort_chan_recv(c2, &v); /* WAIT:pass */
    in_pass = 0;
}

static void worker(void *arg)
{
    (void)arg;
    worker_goid = gort_goid();
    for (;;) {
        sleep_site();
        pass_site();
    }
}

static void relay(void *arg)
{
    (void)arg;
    int v;
    for (;;) {
        gort_chan_recv(c1, &v);
        gort_chan_send(c2, &v);
    }
}

static int app(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    c1 = gort_chan_make(sizeof(int), 0);
    c2 = gort_chan_make(sizeof(int), 0);
    gort_go(relay, NULL);
    gort_go(worker, NULL);
    for (;;)
        gort_sleep(1000000000);
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
