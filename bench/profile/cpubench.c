/*
 * cpubench.c — a fixed amount of CPU work in two goroutines, with the CPU
 * profile on or off (bench/profile/cpu.sh; cpubench.go is Go's same).
 *
 * Usage: cpubench ROUNDS on|off  prints "cpu NS" (the process's CPU time
 * for the work) and "wall NS".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <gort.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rounds;
static volatile uint64_t sink;
static gort_waitgroup wg;

static int64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static __attribute__((noinline)) uint64_t work(uint64_t x)
{
    for (int i = 0; i < 1000; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

static void worker(void *arg)
{
    uint64_t x = (uintptr_t)arg;
    for (long r = 0; r < rounds; r++)
        x = work(x);
    sink = x;
    gort_waitgroup_done(&wg);
}

static int prog(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    rounds = atol(argv[1]);
    bool on = strcmp(argv[2], "on") == 0;
    int fd = -1;
    if (on) {
        fd = open("/dev/null", O_WRONLY);
        if (gort_cpu_profile_start(fd) != 0)
            return 1;
    }
    int64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);
    gort_waitgroup_add(&wg, 2);
    gort_go(worker, (void *)1);
    gort_go(worker, (void *)2);
    gort_waitgroup_wait(&wg);
    int64_t c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_ns(CLOCK_MONOTONIC);
    if (on && gort_cpu_profile_stop() != 0)
        return 1;
    printf("cpu %lld\nwall %lld\n", (long long)(c1 - c0), (long long)(w1 - w0));
    return 0;
}

int main(int argc, char **argv) { return gort_main(prog, argc, argv); }
