/*
 * pctab_dump.c — the runtime's fatal dumps over inlined calls, for the
 * pc-line table's tests (tests/test_pctab_dump.py).
 *
 *   pctab_dump deadlock   goroutine 1 starts a parent, the parent a child;
 *                         each then blocks on a channel receive at the end
 *                         of an always_inline chain three calls deep, and
 *                         the program deadlocks
 *   pctab_dump misuse     the same goroutines block, then goroutine 1
 *                         closes a closed channel inside an inline chain
 *   pctab_dump park       the same goroutines block, and goroutine 1
 *                         sleeps until it is killed (for goinspect)
 *   pctab_dump libc       the same, but goroutine 1 blocks inside the
 *                         comparison function qsort (libc) calls
 *
 * Prints READY before it blocks for good.  Every blocking call is followed
 * by a store to a volatile, so that no call is a tail call and each
 * function keeps a frame of its own.
 */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int sink;
static gort_chan *never;        /* nobody ever sends on it */

#define INLINE static inline __attribute__((always_inline))
#define NOINLINE static __attribute__((noinline))

INLINE void wait_innermost(void)
{
    gort_chan_recv(never, NULL);
    sink++;
}

INLINE void wait_middle(void)
{
    wait_innermost();
    sink++;
}

INLINE void wait_outer(void)
{
    wait_middle();
    sink++;
}

NOINLINE void child_body(void *arg)
{
    (void)arg;
    wait_outer();
    sink++;
}

INLINE void start_child(void)
{
    gort_go(child_body, NULL);
    sink++;
}

NOINLINE void parent_body(void *arg)
{
    gort_chan *started = arg;
    start_child();
    int one = 1;
    gort_chan_send(started, &one);
    wait_outer();
    sink++;
}

INLINE void close_twice(gort_chan *c)
{
    gort_chan_close(c);
    gort_chan_close(c);
    sink++;
}

INLINE void misuse_inline(void)
{
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    close_twice(c);
    sink++;
}

INLINE void sleep_forever(void)
{
    for (;;)
        gort_sleep(1000000000);
}

/* qsort's comparison: blocks for good the first time it is called. */
NOINLINE int compare_blocking(const void *a, const void *b)
{
    wait_outer();
    sink++;
    return *(const int *)a - *(const int *)b;
}

enum mode { DEADLOCK, MISUSE, PARK, LIBC };

NOINLINE int block_main(enum mode mode)
{
    gort_chan *started = gort_chan_make(sizeof(int), 0);
    gort_go(parent_body, started);
    int v;
    gort_chan_recv(started, &v);
    for (int i = 0; i < 1000; i++)
        gort_yield();           /* the child parks too */
    printf("READY\n");
    fflush(stdout);
    if (mode == MISUSE)
        misuse_inline();
    if (mode == PARK)
        sleep_forever();
    if (mode == LIBC) {
        int v2[2] = {2, 1};
        qsort(v2, 2, sizeof v2[0], compare_blocking);
    }
    wait_outer();
    sink++;
    return 0;
}

static int realmain(int argc, char **argv)
{
    static const char *const modes[] = {"deadlock", "misuse", "park", "libc"};
    never = gort_chan_make(sizeof(int), 0);
    for (int m = DEADLOCK; argc == 2 && m <= LIBC; m++) {
        if (strcmp(argv[1], modes[m]) == 0) {
            int r = block_main((enum mode)m);
            sink++;
            return r;
        }
    }
    fprintf(stderr, "usage: pctab_dump deadlock|misuse|park|libc\n");
    return 1;
}

int main(int argc, char **argv)
{
    return gort_main(realmain, argc, argv);
}
