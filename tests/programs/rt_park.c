/*
 * rt_park.c — 100,000 goroutines parked on one channel, then released.
 *
 *   rt_park send     release them by sending one value to each
 *   rt_park close    release them all by closing the channel
 */
#include "rt_common.h"

enum { N = 100000 };

static gort_chan *gate;
static gort_waitgroup wg;
static atomic_int arrived;
static atomic_long sum, closed_seen;

static void parked(void *arg)
{
    (void)arg;
    atomic_fetch_add(&arrived, 1);
    int64_t v = 0;
    if (gort_chan_recv(gate, &v))
        atomic_fetch_add(&sum, v);
    else
        atomic_fetch_add(&closed_seen, 1);
    gort_waitgroup_done(&wg);
}

static void park_all(void)
{
    gate = gort_chan_make(sizeof(int64_t), 0);
    gort_waitgroup_add(&wg, N);
    for (int i = 0; i < N; i++)
        gort_go(parked, NULL);
    await_count(&arrived, N);
    gort_sleep(MSEC(20));
    printf("parked %d numgoroutine %d\n", atomic_load(&arrived), gort_numgoroutine());
}

static void finish(void)
{
    gort_waitgroup_wait(&wg);
    printf("released sum %ld closed %ld\n", atomic_load(&sum), atomic_load(&closed_seen));
    /* Released goroutines exit right after Done. */
    int64_t deadline = mono_ns() + SEC(10);
    while (gort_numgoroutine() > 1 && mono_ns() < deadline)
        gort_sleep(MSEC(1));
    printf("after numgoroutine %d\n", gort_numgoroutine());
}

static int mode_send(void)
{
    park_all();
    for (int64_t i = 1; i <= N; i++)
        gort_chan_send(gate, &i);
    finish();
    return 0;
}

static int mode_close(void)
{
    park_all();
    gort_chan_close(gate);
    finish();
    return 0;
}

static const struct mode modes[] = {
    {"send", mode_send},
    {"close", mode_close},
    {NULL, NULL},
};

RT_MAIN(modes)
