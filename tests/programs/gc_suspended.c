/*
 * gc_suspended.c — a goroutine that the collector has suspended in the
 * middle of its code, and keeps suspended.
 *
 *   gc_suspended
 *
 * To stop the world for a collection, libgort sends SIGURG to each thread
 * running goroutine code; the handler runs on the M's alternate signal
 * stack and waits there until the world restarts.  Here one goroutine
 * spins with SIGURG blocked in its thread, so that the stop never
 * completes, and another spins in a function of its own, so that its
 * thread stays suspended in the handler, its goroutine's frames on the
 * goroutine's stack beyond the signal frame.
 *
 * Prints "TID suspended tid" once that thread waits in the handler, then
 * READY, and stays until killed.
 */
#include "rt_common.h"

#include <pthread.h>
#include <signal.h>

static atomic_long spinner_tid;
static atomic_int unstoppable;
static volatile uint64_t sink;

static NOINLINE void spin_unstoppable(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGURG);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    atomic_store(&unstoppable, 1);
    for (;;)
        sink++;
}

static NOINLINE void spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinner_tid, tid());
    for (;;)
        sink++;
}

static NOINLINE void collect(void *arg)
{
    (void)arg;
    gort_gc();
    FAIL("the collection completed");
}

/* The kernel's word for where the thread sleeps: the handler's futex wait. */
static bool waits_on_futex(long t)
{
    char path[64], buf[256] = "";
    snprintf(path, sizeof path, "/proc/self/task/%ld/wchan", t);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    return strstr(buf, "futex") != NULL;
}

/* A plain thread (the world's stop does not stop it) that reports. */
static void *report(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        long t = atomic_load(&spinner_tid);
        if (t && waits_on_futex(t)) {
            printf("TID suspended %ld\nREADY\n", t);
            fflush(stdout);
            return NULL;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    FAIL("the spinner was never suspended");
    return NULL;
}

static int suspended_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    gort_maxprocs(3);
    gort_go(spin_unstoppable, NULL);
    gort_go(spinner, NULL);
    while (!atomic_load(&unstoppable) || !atomic_load(&spinner_tid))
        gort_sleep(MSEC(1));
    pthread_t t;
    if (pthread_create(&t, NULL, report, NULL) != 0)
        FAIL("pthread_create");
    gort_go(collect, NULL);
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(suspended_main, argc, argv);
}
