/*
 * env.c — the runtime's environment variables:
 *   GORT_MAXPROCS   number of Ps (default: CPUs available to the process)
 *   GORT_STACK_KB   goroutine stack size (stack.c)
 *   GORT_DEBUG      comma-separated name=value: schedtrace=MS, gctrace=1,
 *                   gcstoptheworld=1 (never mark concurrently), gcconcurrent=1
 *                   (mark every cycle concurrently when the kernel can)
 *   GORT_TRACEBACK  what a crash report shows, as GOTRACEBACK: none (no
 *                   goroutine), single (the one that failed; the default),
 *                   all (every goroutine), system (all, with the runtime's
 *                   own frames and goroutines), crash (system, then die by
 *                   SIGABRT so that the kernel writes a core, ulimit -c
 *                   permitting)
 *   GORT_MEMPROFILERATE bytes allocated per allocation profile sample, on
 *                   average (default 524288; 0 off; 1 every allocation:
 *                   memprof.c)
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "memprof.h"
#include "runtime.h"

struct debugvars debug = {.traceback = TB_SINGLE};   /* before env_init too */
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
    debug.traceback = traceback_level(getenv("GORT_TRACEBACK"));
    memprof_init();
}

/* GOTRACEBACK's names; an unknown one is the default, as Go takes it. */
int traceback_level(const char *s)
{
    static const char *const names[] = {"none", "single", "all", "system", "crash"};
    for (int i = 0; s && i < (int)(sizeof names / sizeof *names); i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    if (s && strcmp(s, "0") == 0)
        return TB_NONE;
    if (s && strcmp(s, "1") == 0)
        return TB_ALL;
    if (s && strcmp(s, "2") == 0)
        return TB_SYSTEM;
    return TB_SINGLE;
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
