/*
 * rec_hot.c — known hot spots for `goinspect record` (tests/test_record.py).
 *
 * Three goroutines spin, each on its own thread, for 60, 30 and 10 % of
 * every 10 ms window and sleep the rest, in spin_a, spin_b and spin_c;
 * spin_b is inlined into its caller worker_b.  Each goroutine adds up the
 * CPU time its spin function took (the thread's own CPU clock around each
 * call) and the program prints its truth:
 *   GO a ID, GO b ID, GO c ID      the goroutines' ids
 *   READY
 *   CPU A B C                      cumulative CPU ns in spin_a, spin_b, spin_c,
 *                                  every 100 ms
 *   WORK N NS                      rounds of work done so far and the process's
 *                                  CPU time (bench/record: the program's own work
 *                                  rate), after each CPU line
 *   THREAD TID                     with "spawn": a thread of the program's own,
 *                                  "hot-thread", started 300 ms after READY,
 *                                  spinning in spin_thread half the time
 *                                  ("spawn-odd": named "hot-" and the bytes FF FE,
 *                                  which are no UTF-8)
 * Usage: rec_hot [MS [spawn|spawn-odd]]; it exits after MS ms (0: never).
 */
#include "rt_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int64_t cpu_ns[3];
static _Atomic uint64_t ids[3];
static volatile uint64_t sink;
static _Atomic uint64_t rounds;

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Work until the monotonic clock passes deadline; the clock is read
 * rarely, so that the time is spent here, not in the clock. */
#define SPIN_BODY(deadline)                                          \
    do {                                                             \
        uint64_t x = sink;                                           \
        do {                                                         \
            for (int i = 0; i < 20000; i++)                          \
                x = x * 6364136223846793005ull + 1442695040888963407ull; \
            sink = x;                                                \
            atomic_fetch_add_explicit(&rounds, 1, memory_order_relaxed); \
        } while (mono_ns() < (deadline));                            \
    } while (0)

static NOINLINE void spin_a(int64_t deadline) { SPIN_BODY(deadline); }

static inline __attribute__((always_inline)) void spin_b(int64_t deadline)
{
    SPIN_BODY(deadline); /* LINE:spin_b_body */
}

static NOINLINE void spin_c(int64_t deadline) { SPIN_BODY(deadline); }

static NOINLINE void spin_thread(int64_t deadline) { SPIN_BODY(deadline); }

static void *hot_thread(void *arg)
{
    (void)arg;
    printf("THREAD %ld\n", tid());
    fflush(stdout);
    for (;;) {
        int64_t start = mono_ns();
        spin_thread(start + MSEC(5));
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void duty(int k, int64_t busy_ms)
{
    for (;;) {
        int64_t start = mono_ns(), c0 = thread_cpu_ns();
        if (k == 0)
            spin_a(start + MSEC(busy_ms));
        else if (k == 2)
            spin_c(start + MSEC(busy_ms));
        int64_t c1 = thread_cpu_ns();
        atomic_fetch_add(&cpu_ns[k], c1 - c0);
        int64_t rest = start + MSEC(10) - mono_ns();
        if (rest > 0)
            gort_sleep(rest);
    }
}

static void worker_a(void *arg) { (void)arg; ids[0] = gort_goid(); duty(0, 6); }

static NOINLINE void worker_b(void *arg)
{
    (void)arg;
    ids[1] = gort_goid();
    for (;;) {
        int64_t start = mono_ns(), c0 = thread_cpu_ns();
        spin_b(start + MSEC(3)); /* LINE:spin_b_call */
        atomic_fetch_add(&cpu_ns[1], thread_cpu_ns() - c0);
        int64_t rest = start + MSEC(10) - mono_ns();
        if (rest > 0)
            gort_sleep(rest);
    }
}

static void worker_c(void *arg) { (void)arg; ids[2] = gort_goid(); duty(2, 1); }

static int prog(int argc, char **argv)
{
    int64_t end = argc > 1 && atol(argv[1]) > 0 ? mono_ns() + MSEC(atol(argv[1])) : 0;
    bool spawn = argc > 2 && strncmp(argv[2], "spawn", 5) == 0;
    bool odd = spawn && strcmp(argv[2], "spawn-odd") == 0;
    int64_t spawn_at = 0;
    gort_maxprocs(4);
    gort_go(worker_a, NULL); /* LINE:go_a */
    gort_go(worker_b, NULL); /* LINE:go_b */
    gort_go(worker_c, NULL); /* LINE:go_c */
    while (!ids[0] || !ids[1] || !ids[2])
        gort_sleep(MSEC(1));
    printf("GO a %llu\nGO b %llu\nGO c %llu\nREADY\n", (unsigned long long)ids[0],
           (unsigned long long)ids[1], (unsigned long long)ids[2]);
    fflush(stdout);
    spawn_at = mono_ns() + MSEC(300);
    for (;;) {
        gort_sleep(MSEC(100)); /* LINE:main_sleep */
        if (spawn && mono_ns() >= spawn_at) {
            pthread_t th;
            spawn = false;
            if (pthread_create(&th, NULL, hot_thread, NULL) != 0)
                FAIL("pthread_create");
            pthread_setname_np(th, odd ? "hot-\xff\xfe" : "hot-thread");
        }
        printf("CPU %lld %lld %lld\n", (long long)cpu_ns[0], (long long)cpu_ns[1],
               (long long)cpu_ns[2]);
        struct timespec pc;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &pc);
        printf("WORK %llu %lld\n", (unsigned long long)atomic_load(&rounds),
               (long long)pc.tv_sec * 1000000000 + pc.tv_nsec);
        fflush(stdout);
        if (end && mono_ns() > end)
            exit(0);
    }
    return 0;
}

int main(int argc, char **argv) { return gort_main(prog, argc, argv); }
