/*
 * allocbench.c — the allocation fast path with allocation profiling on and
 * off (bench/profile/run.sh): N allocations of SIZE bytes, each object
 * replacing one of 1,024 live ones, as bench/heap's alloc loop.  The rate
 * comes from GORT_MEMPROFILERATE.  Prints "alloc NS ns SAMPLES CPU_NS":
 * wall and CPU (every thread's, the collector's included) nanoseconds per
 * allocation, and the samples taken.
 */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 1024

static void **ring;

static int count(const gort_memprofile_record *r, void *arg)
{
    *(uint64_t *)arg += r->alloc_objects;
    return 0;
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int app(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "alloc") != 0) {
        fprintf(stderr, "usage: %s alloc N SIZE\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    size_t size = (size_t)atol(argv[3]);
    ring = gort_alloc(RING * sizeof *ring);
    int64_t t0 = gort_nanotime(), c0 = cpu_ns();
    for (long i = 0; i < n; i++)
        ring[i & (RING - 1)] = gort_alloc(size);
    int64_t t = gort_nanotime() - t0, c = cpu_ns() - c0;
    uint64_t samples = 0;
    gort_memprofile_foreach(count, &samples);
    printf("alloc %.3f ns %llu %.3f\n", (double)t / (double)n, (unsigned long long)samples,
           (double)c / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
