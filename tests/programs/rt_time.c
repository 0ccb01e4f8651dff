/*
 * rt_time.c — sleep, after and tick never fire early.
 *
 *   rt_time sleep | after | tick
 *
 * Every measurement is taken twice: with the runtime's gort_nanotime() and
 * with CLOCK_MONOTONIC read directly.
 */
#include "rt_common.h"

struct nap {
    int64_t ns;
    int64_t took_rt, took_mono;
    gort_waitgroup *wg;
};

static void napper(void *arg)
{
    struct nap *n = arg;
    int64_t r0 = gort_nanotime(), m0 = mono_ns();
    gort_sleep(n->ns);
    n->took_rt = gort_nanotime() - r0;
    n->took_mono = mono_ns() - m0;
    gort_waitgroup_done(n->wg);
}

static int mode_sleep(void)
{
    /* Concurrent sleeps of different lengths, each at least as long as
     * asked; short ones are not held up by long ones. */
    static const int64_t lens[] = {0, 1000, 100000, MSEC(1), MSEC(5), MSEC(20), MSEC(50),
                                   MSEC(50), MSEC(100), -5};
    enum { N = sizeof lens / sizeof lens[0] };
    struct nap naps[N];
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, N);
    for (int i = 0; i < N; i++) {
        naps[i] = (struct nap){.ns = lens[i], .wg = &wg};
        gort_go(napper, &naps[i]);
    }
    gort_waitgroup_wait(&wg);
    for (int i = 0; i < N; i++)
        printf("slept %" PRId64 " rt=%" PRId64 " mono=%" PRId64 "\n", naps[i].ns, naps[i].took_rt,
               naps[i].took_mono);

    /* Sleeping in goroutine 1 itself, repeatedly. */
    for (int i = 0; i < 5; i++) {
        int64_t m0 = mono_ns();
        gort_sleep(MSEC(3));
        printf("slept %" PRId64 " mono=%" PRId64 "\n", MSEC(3), mono_ns() - m0);
    }
    return 0;
}

static int mode_after(void)
{
    static const int64_t lens[] = {MSEC(1), MSEC(10), MSEC(40), MSEC(25)};
    enum { N = sizeof lens / sizeof lens[0] };
    gort_chan *chans[N];
    int64_t start = gort_nanotime(), m0 = mono_ns();
    for (int i = 0; i < N; i++)
        chans[i] = gort_after(lens[i]);
    /* Each channel delivers exactly one value: the time it fired. */
    for (int i = 0; i < N; i++) {
        int64_t fired = 0;
        bool ok = gort_chan_recv(chans[i], &fired);
        printf("after %" PRId64 " ok=%d fired_at=%" PRId64 " now=%" PRId64 " mono=%" PRId64
               " cap=%zu\n",
               lens[i], ok, fired - start, gort_nanotime() - start, mono_ns() - m0,
               gort_chan_cap(chans[i]));
    }
    gort_sleep(MSEC(20));
    for (int i = 0; i < N; i++)
        printf("after_len %zu\n", gort_chan_len(chans[i]));
    return 0;
}

static int mode_tick(void)
{
    const int64_t period = MSEC(10);
    int64_t start = gort_nanotime();
    gort_chan *t = gort_tick(period);
    for (int k = 1; k <= 6; k++) {
        int64_t fired = 0;
        gort_chan_recv(t, &fired);
        printf("tick %d period=%" PRId64 " fired_at=%" PRId64 " now=%" PRId64 "\n", k, period,
               fired - start, gort_nanotime() - start);
    }
    /* A slow receiver misses ticks rather than queueing them all up. */
    gort_sleep(MSEC(100));
    printf("tick_backlog %zu cap %zu\n", gort_chan_len(t), gort_chan_cap(t));
    return 0;
}

static const struct mode modes[] = {
    {"sleep", mode_sleep},
    {"after", mode_after},
    {"tick", mode_tick},
    {NULL, NULL},
};

RT_MAIN(modes)
