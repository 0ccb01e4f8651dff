/*
 * clock.h — CLOCK_MONOTONIC in nanoseconds, the clock the runtime stamps
 * waits with (g.waitsince) and the one pauses are measured on; and the
 * wall clock, which the collector stamps its cycles with.
 */
#ifndef GOINSPECT_CLOCK_H
#define GOINSPECT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_REALTIME: nanoseconds since 1970. */
static inline uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
