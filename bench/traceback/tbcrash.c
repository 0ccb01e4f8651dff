/*
 * tbcrash.c — N goroutines parked at the end of a call chain three deep,
 * then, at a byte on stdin, a divide by zero: the crash report
 * bench/traceback/run.sh times (with GORT_TRACEBACK=all, every goroutine).
 * tbcrash.go is the same program in Go.
 */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE static __attribute__((noinline))

static volatile int sink;
static gort_chan *never;
static gort_waitgroup wg;

NOINLINE void wait3(void)
{
    gort_chan_recv(never, NULL);
    sink++;
}

NOINLINE void wait2(void)
{
    wait3();
    sink++;
}

NOINLINE void parked(void *arg)
{
    (void)arg;
    gort_waitgroup_done(&wg);
    wait2();
    sink++;
}

static int realmain(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    never = gort_chan_make(0, 0);
    gort_waitgroup_add(&wg, n);
    for (int i = 0; i < n; i++)
        gort_go(parked, NULL);
    gort_waitgroup_wait(&wg);
    gort_sleep(20 * 1000000);
    printf("READY\n");
    fflush(stdout);
    char c;
    gort_syscall_enter();
    ssize_t r = read(0, &c, 1);
    gort_syscall_exit();
    volatile int zero = (int)r - 1;
    return 2 / zero;
}

int main(int argc, char **argv)
{
    return gort_main(realmain, argc, argv);
}
