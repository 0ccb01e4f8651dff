/*
 * trace.c — phase timings (trace.h).
 */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "clock.h"

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void trace_mark(const char *what)
{
    static int enabled = -1;
    static int64_t last, last_cpu;
    if (enabled < 0) {
        enabled = getenv("GOINSPECT_TRACE") != NULL;
        last = mono_ns();
        last_cpu = cpu_ns();
    }
    if (!enabled)
        return;
    int64_t now = mono_ns(), cpu = cpu_ns();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "goinspect: trace: %-28s %9.3f ms (cpu %.3f ms) peak RSS %.1f MB\n", what,
            (double)(now - last) / 1e6, (double)(cpu - last_cpu) / 1e6,
            (double)ru.ru_maxrss / 1024);
    last = mono_ns();
    last_cpu = cpu_ns();
}
