/*
 * goroutines.c — N goroutines parked in a channel receive, and the debug
 * endpoint (bench/profile/goroutine.sh).  Prints "PORT p" and READY once all are
 * parked; exits when stdin closes.
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gort_chan *never;
static atomic_int parked;

__attribute__((noinline)) static void wait_chan(void *arg)
{
    (void)arg;
    int64_t v;
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(never, &v);
    __asm__ volatile("");
}

static int main_fn(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    never = gort_chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < n; i++)
        gort_go(wait_chan, NULL);
    while (atomic_load(&parked) < n)
        gort_sleep(1000000);
    if (gort_debug_serve("127.0.0.1:0") != 0) {
        perror("gort_debug_serve");
        return 1;
    }
    printf("PORT %d\nREADY\n", gort_debug_serve_port());
    fflush(stdout);
    char c;
    for (;;) {
        gort_syscall_enter();
        ssize_t k = read(0, &c, 1);
        gort_syscall_exit();
        if (k <= 0)
            return 0;
    }
}

int main(int argc, char **argv)
{
    return gort_main(main_fn, argc, argv);
}
