/*
 * timeutil.c — the monotonic and wall clocks, and short OS-level sleeps.
 */
#include <sched.h>
#include <time.h>

#include "runtime.h"

int64_t nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The same clock at the kernel tick's resolution (a few ms), for a few
 * nanoseconds: for times that only need to be roughly right. */
int64_t coarse_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t walltime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gort_nanotime(void)
{
    return nanotime();
}

void osyield(void)
{
    sched_yield();
}

void usleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}
