/*
 * insp_crash.c — a program that dies on a goroutine, for the core tests.
 *
 *   insp_crash segv     the crasher goroutine writes to address 0x10
 *   insp_crash fpe      ... divides an integer by zero
 *   insp_crash fatal    ... unlocks an unlocked mutex (a runtime fatal error)
 *
 * Prints the usual truth (G lines, READY; insp_common.h), with a few
 * goroutines parked around the crasher; on SIGUSR1 the crasher prints
 * "CRASH tid=T addr=0xA" (its thread, the address it faults at) and does
 * what the mode says.
 */
#include "insp_common.h"

#include <signal.h>
#include <sys/syscall.h>

static volatile sig_atomic_t go;
static struct who crasher_who = {"crasher", 0, 0, 0, 0};
static struct who waiter_who[3];
static gort_chan *never;
static volatile int divisor;
static volatile uintptr_t bad_address = 0x10;   /* not a constant the compiler sees */
static gort_mutex unlocked;

static void on_usr1(int sig)
{
    (void)sig;
    go = 1;
}

static void waiter(void *arg)
{
    int64_t v;
    ARRIVE((struct who *)arg, &v);
    gort_chan_recv(never, &v);
}

static void announce(uintptr_t addr)
{
    printf("CRASH tid=%ld addr=%#lx\n", (long)syscall(SYS_gettid), (unsigned long)addr);
    fflush(stdout);
}

static NOINLINE void crash_segv(void)
{
    volatile int *p = (volatile int *)bad_address;
    announce((uintptr_t)p);
    *p = 1; /* CRASH:segv */
}

static NOINLINE void crash_fpe(void)
{
    announce(0);
    volatile int r = 100 / divisor; /* CRASH:fpe */
    (void)r;
}

static NOINLINE void crash_fatal(void)
{
    announce(0);
    gort_mutex_unlock(&unlocked); /* CRASH:fatal */
}

static void (*crash)(void);

static void crasher(void *arg)
{
    int local = 0;
    ARRIVE(&crasher_who, &local);
    (void)arg;
    while (!go)
        gort_sleep(MSEC(1));
    crash();
}

static int run(void (*fn)(void))
{
    crash = fn;
    signal(SIGUSR1, on_usr1);
    never = gort_chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < 3; i++) {
        waiter_who[i].kind = "waiter";
        gort_go(waiter, &waiter_who[i]);
        await_here(&waiter_who[i]);
    }
    gort_go(crasher, NULL);
    await_here(&crasher_who);
    for (int i = 0; i < 3; i++)
        print_who(&waiter_who[i]);
    print_who(&crasher_who);
    main_park_forever(&main_who);
    return 0;
}

static int mode_segv(void) { return run(crash_segv); }
static int mode_fpe(void) { return run(crash_fpe); }
static int mode_fatal(void) { return run(crash_fatal); }

static const struct mode modes[] = {
    {"segv", mode_segv},
    {"fpe", mode_fpe},
    {"fatal", mode_fatal},
    {NULL, NULL},
};

RT_MAIN(modes)
