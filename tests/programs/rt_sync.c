/*
 * rt_sync.c — WaitGroup, Mutex and Once.
 *
 *   rt_sync waitgroup | mutex | once
 */
#include "rt_common.h"

/* ---- WaitGroup ------------------------------------------------------- */

struct wgwork {
    gort_waitgroup *wg;
    atomic_int *count;
    int64_t delay_ns;
};

static void wg_worker(void *arg)
{
    struct wgwork *w = arg;
    if (w->delay_ns)
        gort_sleep(w->delay_ns);
    else
        gort_yield();
    atomic_fetch_add(w->count, 1);
    gort_waitgroup_done(w->wg);
}

struct wgwaiter {
    gort_waitgroup *wg;
    atomic_int *count;       /* workers done, read when Wait returns */
    atomic_int *arrived;
    gort_chan *seen;
};

static void wg_waiter(void *arg)
{
    struct wgwaiter *w = arg;
    atomic_fetch_add(w->arrived, 1);
    gort_waitgroup_wait(w->wg);
    int64_t n = atomic_load(w->count);
    gort_chan_send(w->seen, &n);
}

static int mode_waitgroup(void)
{
    /* Wait on a zero counter returns at once. */
    gort_waitgroup zero = {0};
    gort_waitgroup_wait(&zero);
    printf("zero_wait returned\n");

    /* Wait returns only after every Done. */
    enum { W = 200 };
    gort_waitgroup wg = {0};
    atomic_int count = 0;
    struct wgwork w = {.wg = &wg, .count = &count};
    gort_waitgroup_add(&wg, W);
    for (int i = 0; i < W; i++)
        gort_go(wg_worker, &w);
    gort_waitgroup_wait(&wg);
    printf("after_wait %d of %d\n", atomic_load(&count), W);

    /* Several waiters are all released by the last Done, and none before. */
    enum { WAITERS = 3, SLOW = 5 };
    gort_waitgroup wg2 = {0};
    atomic_int count2 = 0, arrived = 0;
    gort_chan *seen = gort_chan_make(sizeof(int64_t), WAITERS);
    struct wgwaiter ww = {.wg = &wg2, .count = &count2, .arrived = &arrived, .seen = seen};
    struct wgwork slow = {.wg = &wg2, .count = &count2, .delay_ns = MSEC(40)};
    gort_waitgroup_add(&wg2, SLOW);
    for (int i = 0; i < WAITERS; i++)
        gort_go(wg_waiter, &ww);
    await_count(&arrived, WAITERS);
    for (int i = 0; i < SLOW; i++)
        gort_go(wg_worker, &slow);
    printf("waiters_saw");
    for (int i = 0; i < WAITERS; i++) {
        int64_t n;
        gort_chan_recv(seen, &n);
        printf(" %" PRId64, n);
    }
    printf(" of %d\n", SLOW);

    /* A WaitGroup is reusable once its counter is back at zero. */
    gort_waitgroup_add(&wg2, 2);
    atomic_store(&count2, 0);
    gort_go(wg_worker, &slow);
    gort_go(wg_worker, &slow);
    gort_waitgroup_wait(&wg2);
    printf("reused %d of 2\n", atomic_load(&count2));
    return 0;
}

/* ---- Mutex -------------------------------------------------------------- */

enum { MUTEX_G = 8, MUTEX_ITERS = 20000 };

struct counter {
    gort_mutex mu;
    int64_t value;           /* plain, guarded by mu only */
    int inside;              /* goroutines inside the critical section */
    int max_inside;
    gort_waitgroup wg;
};

static void mutex_worker(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < MUTEX_ITERS; i++) {
        gort_mutex_lock(&c->mu);
        if (++c->inside > c->max_inside)
            c->max_inside = c->inside;
        /* Read, maybe give the processor away, write back: without mutual
         * exclusion other goroutines' increments would be lost. */
        int64_t v = c->value;
        if (i % 64 == 0)
            gort_yield();
        else if (i % 1000 == 1)
            gort_sleep(10000);
        c->value = v + 1;
        c->inside--;
        gort_mutex_unlock(&c->mu);
    }
    gort_waitgroup_done(&c->wg);
}

static int mode_mutex(void)
{
    static struct counter c;
    gort_waitgroup_add(&c.wg, MUTEX_G);
    for (int i = 0; i < MUTEX_G; i++)
        gort_go(mutex_worker, &c);
    gort_waitgroup_wait(&c.wg);
    printf("counter %" PRId64 " expected %d max_inside %d\n", c.value, MUTEX_G * MUTEX_ITERS,
           c.max_inside);

    /* TryLock fails on a locked mutex and succeeds on an unlocked one. */
    gort_mutex m = {0};
    int a = gort_mutex_trylock(&m);
    int b = gort_mutex_trylock(&m);
    gort_mutex_unlock(&m);
    int d = gort_mutex_trylock(&m);
    gort_mutex_unlock(&m);
    printf("trylock %d %d %d\n", a, b, d);
    return 0;
}

/* ---- Once ------------------------------------------------------------- */

enum { ONCE_G = 16 };
static gort_once once;
static atomic_int once_calls, once_finished, callers_saw_finished;

static void once_body(void)
{
    atomic_fetch_add(&once_calls, 1);
    gort_sleep(MSEC(30));    /* every other caller must wait for this */
    atomic_store(&once_finished, 1);
}

static void once_caller(void *arg)
{
    gort_waitgroup *wg = arg;
    gort_once_do(&once, once_body);
    if (atomic_load(&once_finished))
        atomic_fetch_add(&callers_saw_finished, 1);
    gort_waitgroup_done(wg);
}

static int mode_once(void)
{
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, ONCE_G);
    for (int i = 0; i < ONCE_G; i++)
        gort_go(once_caller, &wg);
    gort_waitgroup_wait(&wg);
    gort_once_do(&once, once_body);   /* done already: returns at once */
    printf("once calls=%d callers=%d saw_finished=%d\n", atomic_load(&once_calls), ONCE_G,
           atomic_load(&callers_saw_finished));
    return 0;
}

static const struct mode modes[] = {
    {"waitgroup", mode_waitgroup},
    {"mutex", mode_mutex},
    {"once", mode_once},
    {NULL, NULL},
};

RT_MAIN(modes)
