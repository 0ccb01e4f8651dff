/*
 * rt_common.h — what the runtime test programs share.
 *
 * Every rt_*.c program takes a mode name as argv[1], runs it as goroutine 1
 * and prints its own truth on stdout, one fact a line ("KEY value ..."), for
 * the test to compare against.  Include this header first: it defines
 * _GNU_SOURCE before any system header.
 */
#ifndef RT_COMMON_H
#define RT_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gort.h>

/* Kept out of line and never cloned (gcc would otherwise name a clone
 * "f.constprop.0"), so the function's own name is the one a backtrace shows. */
#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noipa))
#endif
#define MSEC(n) ((int64_t)(n) * 1000000)
#define SEC(n) ((int64_t)(n) * 1000000000)

/* CLOCK_MONOTONIC, read directly (not through the runtime). */
static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline long tid(void)
{
    return (long)gettid();
}

/* Stop the program with a message the test shows; used where a goroutine
 * gets past a call that must never return. */
#define FAIL(...)                                                   \
    do {                                                            \
        printf("FAIL %s:%d: ", __FILE__, __LINE__);                 \
        printf(__VA_ARGS__);                                        \
        printf("\n");                                               \
        fflush(stdout);                                             \
        _exit(1);                                                   \
    } while (0)

/* Wait, yielding, until *counter reaches n (goroutines announcing that they
 * are about to block).  Gives up after 10 s so a broken scheduler shows as
 * a message rather than a hang. */
static inline void await_count(atomic_int *counter, int n)
{
    int64_t deadline = mono_ns() + SEC(10);
    while (atomic_load(counter) < n) {
        if (mono_ns() > deadline)
            FAIL("only %d of %d goroutines arrived", atomic_load(counter), n);
        gort_yield();
    }
}

/* Park goroutine 1 for good without making the program look deadlocked
 * (a sleeping goroutine is not asleep on a channel). */
static inline void sleep_forever(void)
{
    for (;;)
        gort_sleep(SEC(3600));
}

struct mode {
    const char *name;
    int (*fn)(void);
};

/* Look argv[1] up in modes and run it; returns its exit status. */
static inline int run_mode(const struct mode *modes, int argc, char **argv)
{
    if (argc >= 2)
        for (const struct mode *m = modes; m->name; m++)
            if (strcmp(m->name, argv[1]) == 0)
                return m->fn();
    fprintf(stderr, "usage: %s MODE\nmodes:", argv[0]);
    for (const struct mode *m = modes; m->name; m++)
        fprintf(stderr, " %s", m->name);
    fprintf(stderr, "\n");
    return 64;
}

/* Defines main(): stdout line-buffered (the tests read it live), the
 * runtime started, the mode in argv[1] run as goroutine 1. */
#define RT_MAIN(modes)                                              \
    static int rt_app_main(int argc, char **argv)                  \
    {                                                               \
        return run_mode(modes, argc, argv);                         \
    }                                                               \
    int main(int argc, char **argv)                                 \
    {                                                               \
        setvbuf(stdout, NULL, _IOLBF, 0);                           \
        return gort_main(rt_app_main, argc, argv);                  \
    }

#endif /* RT_COMMON_H */
