/*
 * prof_cpu.c — known CPU hot spots for the runtime's CPU profile
 * (tests/test_cpuprof.py).
 *
 * Three goroutines, each locked to a thread of its own, spin in spin_a,
 * spin_b (inlined into worker_b) and spin_c for 100, 50 and 20 ms of
 * every 100 ms window and sleep the rest.  The windows are long beside
 * the kernel's tick (at which CPU timers expire), so no period is charged
 * to the wrong function.  Each goroutine adds up the CPU time its spin
 * function took (its thread's CPU clock around each call).
 *
 * Usage: prof_cpu self FILE MS   profile itself into FILE for MS ms, then
 *                                print the CPU each function took meanwhile:
 *                                  GO a ID, GO b ID, GO c ID   the goroutines
 *                                  CPU A B C                   ns in spin_a, spin_b, spin_c
 *                                  BUSY                        the second start's errno
 *                                  DONE
 *        prof_cpu serve          serve the debug endpoint on 127.0.0.1 (any port)
 *                                and print PORT N, then every 100 ms
 *                                  CPU A B C T                 the ns so far, at
 *                                                              CLOCK_MONOTONIC T
 */
#include "rt_common.h"

#include <fcntl.h>

static _Atomic int64_t cpu_ns[3];
static _Atomic uint64_t ids[3];
static volatile uint64_t sink;

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define SPIN_BODY(deadline)                                              \
    do {                                                                 \
        uint64_t x = sink;                                               \
        do {                                                             \
            for (int i = 0; i < 20000; i++)                              \
                x = x * 6364136223846793005ull + 1442695040888963407ull; \
            sink = x;                                                    \
        } while (mono_ns() < (deadline));                                \
    } while (0)

static NOINLINE void spin_a(int64_t deadline) { SPIN_BODY(deadline); }

static inline __attribute__((always_inline)) void spin_b(int64_t deadline)
{
    SPIN_BODY(deadline); /* LINE:spin_b_body */
}

static NOINLINE void spin_c(int64_t deadline) { SPIN_BODY(deadline); }

static const int busy_ms[3] = {100, 50, 20};

static NOINLINE void worker(int k)
{
    gort_lock_os_thread();
    ids[k] = gort_goid();
    for (;;) {
        int64_t start = mono_ns(), c0 = thread_cpu_ns();
        if (k == 0)
            spin_a(start + MSEC(busy_ms[k]));
        else if (k == 1)
            spin_b(start + MSEC(busy_ms[k])); /* LINE:spin_b_call */
        else
            spin_c(start + MSEC(busy_ms[k]));
        atomic_fetch_add(&cpu_ns[k], thread_cpu_ns() - c0);
        int64_t rest = start + MSEC(100) - mono_ns();
        if (rest > 0)
            gort_sleep(rest);
    }
}

static void worker_a(void *arg) { (void)arg; worker(0); }
static void worker_b(void *arg) { (void)arg; worker(1); }
static void worker_c(void *arg) { (void)arg; worker(2); }

static int prog(int argc, char **argv)
{
    bool serve = argc == 2 && strcmp(argv[1], "serve") == 0;
    if (!serve && (argc < 4 || strcmp(argv[1], "self") != 0)) {
        fprintf(stderr, "usage: prof_cpu self FILE MS | prof_cpu serve\n");
        return 2;
    }
    gort_maxprocs(4);
    gort_go(worker_a, NULL);
    gort_go(worker_b, NULL);
    gort_go(worker_c, NULL);
    while (!ids[0] || !ids[1] || !ids[2])
        gort_sleep(MSEC(1));
    printf("GO a %llu\nGO b %llu\nGO c %llu\n", (unsigned long long)ids[0],
           (unsigned long long)ids[1], (unsigned long long)ids[2]);
    if (serve) {
        if (gort_debug_serve("127.0.0.1:0") != 0)
            FAIL("gort_debug_serve: %s", strerror(errno));
        printf("PORT %d\n", gort_debug_serve_port());
        for (;;) {
            printf("CPU %lld %lld %lld %lld\n", (long long)cpu_ns[0], (long long)cpu_ns[1],
                   (long long)cpu_ns[2], (long long)mono_ns());
            fflush(stdout);
            gort_sleep(MSEC(100));
        }
    }
    gort_sleep(MSEC(150));   /* every worker in its rhythm */
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        FAIL("open %s: %s", argv[2], strerror(errno));
    int64_t before[3];
    for (int k = 0; k < 3; k++)
        before[k] = cpu_ns[k];
    if (gort_cpu_profile_start(fd) != 0)
        FAIL("gort_cpu_profile_start: %s", strerror(errno));
    int rc = gort_cpu_profile_start(fd);
    printf("BUSY %s\n", rc == -1 ? strerrorname_np(errno) : "started twice");
    gort_sleep(MSEC(atol(argv[3])));
    if (gort_cpu_profile_stop() != 0)
        FAIL("gort_cpu_profile_stop: %s", strerror(errno));
    printf("CPU %lld %lld %lld\n", (long long)(cpu_ns[0] - before[0]),
           (long long)(cpu_ns[1] - before[1]), (long long)(cpu_ns[2] - before[2]));
    rc = gort_cpu_profile_stop();
    printf("STOPPED %s\n", rc == -1 ? strerrorname_np(errno) : "twice");
    close(fd);
    printf("DONE\n");
    fflush(stdout);
    exit(0);
}

int main(int argc, char **argv) { return gort_main(prog, argc, argv); }
