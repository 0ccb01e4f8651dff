/*
 * env.c — the runtime's environment variables:
 *   GORT_MAXPROCS   number of Ps (default: CPUs available to the process)
 *   GORT_STACK_KB   goroutine stack size (stack.c)
 *   GORT_DEBUG      comma-separated name=value: schedtrace=MS, gctrace=1,
 *                   gcstoptheworld=1 (never mark concurrently), gcconcurrent=1
 *                   (mark every cycle concurrently when the kernel can)
 *   GORT_TRACEBACK  system: crash dumps show the runtime's own frames too;
 *                   crash: as system, then die by SIGABRT so that the kernel
 *                   writes a core (ulimit -c permitting)
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct debugvars debug;
int32_t ncpu;

static int32_t cpus_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    return 1;
}

static void parse_debug(const char *s)
{
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - s);
            long v = strtol(eq + 1, NULL, 10);
            if (klen == 10 && memcmp(s, "schedtrace", 10) == 0)
                debug.schedtrace_ms = v;
            else if (klen == 7 && memcmp(s, "gctrace", 7) == 0)
                debug.gctrace = (int)v;
            else if (klen == 14 && memcmp(s, "gcstoptheworld", 14) == 0)
                debug.gcstoptheworld = v != 0;
            else if (klen == 12 && memcmp(s, "gcconcurrent", 12) == 0)
                debug.gcconcurrent = v != 0;
        }
        s = end ? end + 1 : NULL;
    }
}

void env_init(void)
{
    ncpu = cpus_available();
    parse_debug(getenv("GORT_DEBUG"));
    const char *tb = getenv("GORT_TRACEBACK");
    debug.traceback_crash = tb && strcmp(tb, "crash") == 0;
    debug.traceback_system = tb && (strcmp(tb, "system") == 0 || strcmp(tb, "all") == 0 ||
                                    debug.traceback_crash);
}

int32_t env_maxprocs(void);
int32_t env_maxprocs(void)
{
    const char *s = getenv("GORT_MAXPROCS");
    if (s && *s) {
        long v = strtol(s, NULL, 10);
        if (v > 0)
            return (int32_t)(v > 1024 ? 1024 : v);
    }
    return ncpu;
}
