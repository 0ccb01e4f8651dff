/*
 * rt_syscall.c — a goroutine blocked in a system call does not stop others.
 *
 *   rt_syscall handoff     one goroutine blocked in read() on a pipe
 *   rt_syscall many        four of them at once
 *
 * While the readers are blocked, other goroutines sleep, yield and exchange
 * values over channels, and print how many readers had returned by then
 * (none).  Then goroutine 1 writes to the pipes and the readers finish.
 */
#include "rt_common.h"

struct reader {
    int fds[2];
    char got;
    atomic_int *in_call;
    atomic_int *returned;
    gort_waitgroup *wg;
};

static void blocking_reader(void *arg)
{
    struct reader *r = arg;
    atomic_fetch_add(r->in_call, 1);
    gort_syscall_enter();
    ssize_t n;
    do
        n = read(r->fds[0], &r->got, 1);
    while (n < 0 && errno == EINTR);
    gort_syscall_exit();
    atomic_fetch_add(r->returned, 1);
    gort_waitgroup_done(r->wg);
}

static gort_chan *ball;

static void bouncer(void *arg)
{
    (void)arg;
    int64_t v;
    for (;;) {
        gort_chan_recv(ball, &v);
        v++;
        gort_chan_send(ball, &v);
    }
}

static int run(int nreaders)
{
    struct reader rd[4];
    atomic_int in_call = 0, returned = 0;
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, nreaders);
    for (int i = 0; i < nreaders; i++) {
        rd[i] = (struct reader){.in_call = &in_call, .returned = &returned, .wg = &wg};
        if (pipe(rd[i].fds) != 0)
            FAIL("pipe: %s", strerror(errno));
        gort_go(blocking_reader, &rd[i]);
    }
    await_count(&in_call, nreaders);
    gort_sleep(MSEC(20));      /* the readers are in read() by now */
    printf("readers %d blocked\n", nreaders);

    /* Timers, yields and channel exchanges all go on meanwhile. */
    for (int k = 1; k <= 5; k++) {
        gort_sleep(MSEC(10));
        printf("tick %d returned %d\n", k, atomic_load(&returned));
    }
    for (int k = 0; k < 200; k++)
        gort_yield();
    ball = gort_chan_make(sizeof(int64_t), 0);
    gort_go(bouncer, NULL);
    int64_t v = 0;
    for (int k = 0; k < 1000; k++) {
        gort_chan_send(ball, &v);
        gort_chan_recv(ball, &v);
    }
    printf("pingpong %" PRId64 " returned %d\n", v, atomic_load(&returned));

    for (int i = 0; i < nreaders; i++)
        if (write(rd[i].fds[1], &"abcd"[i], 1) != 1)
            FAIL("write: %s", strerror(errno));
    gort_waitgroup_wait(&wg);
    printf("done returned %d got", atomic_load(&returned));
    for (int i = 0; i < nreaders; i++)
        printf(" %c", rd[i].got);
    printf("\n");
    return 0;
}

static int mode_handoff(void)
{
    return run(1);
}

static int mode_many(void)
{
    return run(4);
}

static const struct mode modes[] = {
    {"handoff", mode_handoff},
    {"many", mode_many},
    {NULL, NULL},
};

RT_MAIN(modes)
