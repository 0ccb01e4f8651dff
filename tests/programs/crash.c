/*
 * crash.c — programs that fail, for the runtime's crash reports
 * (tests/test_crash.py).
 *
 *   crash div N       the divide of the notes this project grew from:
 *                     2 / (N - 1) in an always_inline F called by realmain
 *                     (N = 1 divides by zero)
 *   crash chain       a store through NULL at the end of an always_inline
 *                     chain four calls deep
 *   crash nil         a load through NULL in a function of its own
 *   crash panic       gort_panic("boom %d", 42) from an inlined helper
 *   crash overflow    unbounded recursion
 *   crash nested      goroutine 1 starts A, A starts B, B stores through NULL
 *   crash gc          a goroutine collects a big heap again and again; F
 *                     divides by zero (in divide) meanwhile
 *   crash all N       N goroutines parked at the ends of inline chains,
 *                     then F divides by zero (in divide)
 *   crash thread      a thread the program made itself stores through NULL
 *   crash abort       abort()
 *   crash trap        __builtin_trap(): ud2, SIGILL
 *   crash unmapped    a parked goroutine's stack is unmapped under it (a
 *                     second one parks in parked_c), then F divides by zero:
 *                     the report faults on that stack
 *
 *   crash queued      SIGSEGV with the kernel's code SEGV_MAPERR, queued by
 *                     the process to itself (no instruction faults again)
 *   crash nullcall    a call through a NULL function pointer, two calls deep
 *   crash onstack     a SIGUSR1 handler of the program's, on the alternate
 *                     signal stack, stores through NULL
 *   crash park        goroutine 1 sleeps (for a signal sent from outside)
 *   crash noisy       goroutine 2 writes CHATTY lines to stderr without end
 *                     while goroutine 1 stores through NULL
 *   crash early       gort_panic before gort_main
 *
 * Prints READY (and for "all" the number of goroutines parked) before it
 * fails.  Stores to a volatile follow calls, so that no call is a tail
 * call.
 */
#include <gort.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

static volatile int sink;
static int *volatile nowhere;       /* NULL, and the compiler cannot know it */
static gort_chan *never;            /* nobody sends on it */
static volatile int one = 1;

static void ready(void)
{
    printf("READY\n");
    fflush(stdout);
}

/* ---- div: the seed ---- */

INLINE int F(int a)
{
    return 2 / (a - 1);
}

/* The divide of every mode but div, which has realmain's only call of F
 * (clang merges the code of several calls, at line 0). */
NOINLINE int divide(int n)
{
    int r = F(n);
    sink++;
    return r;
}

/* ---- chain ---- */

INLINE void chain_d(void)
{
    *nowhere = 4;
    sink++;
}

INLINE void chain_c(void)
{
    chain_d();
    sink++;
}

INLINE void chain_b(void)
{
    chain_c();
    sink++;
}

INLINE void chain_a(void)
{
    chain_b();
    sink++;
}

NOINLINE void run_chain(void)
{
    chain_a();
    sink++;
}

/* ---- nil ---- */

NOINLINE int load_nil(void)
{
    return *nowhere + 1;
}

/* ---- panic ---- */

INLINE void panic_inline(int v)
{
    if (v > 0)
        gort_panic("boom %d", v);
}

NOINLINE void run_panic(int v)
{
    panic_inline(v);
    sink++;
}

/* ---- overflow ---- */

NOINLINE int recurse(int n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    int r = sink >= 0 ? recurse(n + 1) : 0;     /* always: sink never goes negative */
    return r + frame[0];
}

/* ---- nested ---- */

NOINLINE void grandchild(void *arg)
{
    (void)arg;
    *nowhere = 1;
    sink++;
}

NOINLINE void child(void *arg)
{
    gort_go(grandchild, arg);
    gort_sleep(10 * 1000000000LL);
    sink++;
}

/* ---- gc ---- */

struct node {
    struct node *next;
    char pad[120];
};

static struct node *live;
static volatile int collecting;

NOINLINE void collector(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200000; i++) {     /* about 25 MB in 128-byte nodes */
        struct node *n = gort_alloc(sizeof *n);
        n->next = live;
        live = n;
    }
    for (;;) {
        collecting = 1;
        gort_gc();
    }
}

/* ---- all ---- */

INLINE void park_inner(void)
{
    gort_chan_recv(never, NULL);
    sink++;
}

INLINE void park_outer(void)
{
    park_inner();
    sink++;
}

NOINLINE void parked_a(void *arg)
{
    gort_waitgroup_done(arg);
    park_outer();
    sink++;
}

NOINLINE void parked_b(void *arg)
{
    gort_waitgroup_done(arg);
    park_inner();
    sink++;
}

NOINLINE void parked_c(void *arg)
{
    gort_waitgroup_done(arg);
    gort_chan_recv(never, NULL);
    sink++;
}

/* ---- thread ---- */

NOINLINE void *own_thread(void *arg)
{
    (void)arg;
    *nowhere = 2;
    sink++;
    return NULL;
}

/* ---- unmapped ---- */

static volatile uintptr_t parked_stack;
static gort_waitgroup wg_parked;
#define wg (&wg_parked)

NOINLINE void parked_on_its_stack(void *arg)
{
    volatile char here[64];
    here[0] = 1;
    parked_stack = (uintptr_t)here;
    gort_waitgroup_done(arg);
    gort_chan_recv(never, NULL);
    sink += here[0];
}

/* ---- nullcall, onstack, noisy ---- */

static void (*volatile no_function)(void);

NOINLINE void call_nothing(void)
{
    no_function();
    sink++;
}

NOINLINE void call_nothing_outer(void)
{
    call_nothing();
    sink++;
}

static void on_usr1(int sig)
{
    (void)sig;
    *nowhere = 3;
}

NOINLINE void raise_usr1(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    sink++;
}

NOINLINE void chatty(void *arg)
{
    (void)arg;
    for (;;)
        if (write(2, "CHATTY\n", 7) < 0)
            sink++;
}

static int realmain(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 1;
    never = gort_chan_make(0, 0);
    if (strcmp(mode, "div") == 0) {
        ready();
        return F(n);
    }
    if (strcmp(mode, "chain") == 0) {
        ready();
        run_chain();
    } else if (strcmp(mode, "nil") == 0) {
        ready();
        return load_nil();
    } else if (strcmp(mode, "panic") == 0) {
        ready();
        run_panic(42);
    } else if (strcmp(mode, "overflow") == 0) {
        ready();
        return recurse(0);
    } else if (strcmp(mode, "nested") == 0) {
        ready();
        gort_go(child, NULL);
        gort_sleep(10 * 1000000000LL);
    } else if (strcmp(mode, "gc") == 0) {
        gort_go(collector, NULL);
        while (!collecting)
            gort_sleep(1000000);
        gort_sleep(20 * 1000000);
        ready();
        return divide(n);
    } else if (strcmp(mode, "all") == 0) {
        void (*fns[])(void *) = {parked_a, parked_b, parked_c};
        for (int i = 0; i < n; i++) {
            gort_waitgroup_add(wg, 1);
            gort_go(fns[i % 3], wg);
        }
        gort_waitgroup_wait(wg);
        printf("PARKED %d\n", n);
        ready();
        return divide(one);
    } else if (strcmp(mode, "thread") == 0) {
        pthread_t t;
        ready();
        pthread_create(&t, NULL, own_thread, NULL);
        pthread_join(t, NULL);
    } else if (strcmp(mode, "abort") == 0) {
        ready();
        abort();
    } else if (strcmp(mode, "trap") == 0) {
        ready();
        __builtin_trap();
    } else if (strcmp(mode, "unmapped") == 0) {
        gort_waitgroup_add(wg, 2);
        gort_go(parked_on_its_stack, wg);
        gort_go(parked_c, wg);
        gort_waitgroup_wait(wg);
        gort_sleep(10 * 1000000);       /* parked by now */
        long page = sysconf(_SC_PAGESIZE);
        uintptr_t p = parked_stack & ~(uintptr_t)(page - 1);
        if (munmap((void *)p, (size_t)page) != 0)
            perror("munmap");
        ready();
        return divide(n);
    } else if (strcmp(mode, "queued") == 0) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = SIGSEGV;
        si.si_code = SEGV_MAPERR;
        si.si_addr = (void *)8;
        ready();
        syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIGSEGV, &si);
        gort_sleep(10 * 1000000000LL);
        printf("STILL RUNNING\n");
    } else if (strcmp(mode, "nullcall") == 0) {
        ready();
        call_nothing_outer();
    } else if (strcmp(mode, "onstack") == 0) {
        ready();
        raise_usr1();
    } else if (strcmp(mode, "park") == 0) {
        ready();
        gort_sleep(60 * 1000000000LL);
    } else if (strcmp(mode, "noisy") == 0) {
        gort_go(chatty, NULL);
        ready();
        gort_sleep(50 * 1000000);
        run_chain();
    } else {
        fprintf(stderr, "usage: crash MODE [N]\n");
        return 64;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "early") == 0) {
        ready();
        gort_panic("early %d", 1);
    }
    return gort_main(realmain, argc, argv);
}
