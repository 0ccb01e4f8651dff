/*
 * timers.c — timers: one 4-ary min-heap ordered by deadline, served by the
 * timer thread ("gort-timer"), which sleeps on a futex until the earliest
 * deadline (or indefinitely when there is none) and runs each expired
 * timer's function.  Timer functions must not block: they make a goroutine
 * ready or send on a channel without blocking.  Used by gort_sleep,
 * gort_after and gort_tick.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static struct {
    struct rtlock lock;
    struct timer **heap;
    int32_t n, cap;
    uint32_t firing;          /* timers popped whose function is still running */
    struct timer *current;    /* the one firing now (a root for the collector) */
    uint32_t seq;             /* futex word: bumped to wake the timer thread */
    int64_t sleep_until;      /* the deadline the timer thread sleeps until */
    uint32_t started;
} tm;

static inline bool before(struct timer *a, struct timer *b)
{
    return a->when < b->when;
}

static void sift_up(int32_t i)
{
    struct timer *t = tm.heap[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (!before(t, tm.heap[parent]))
            break;
        tm.heap[i] = tm.heap[parent];
        tm.heap[i]->index = i;
        i = parent;
    }
    tm.heap[i] = t;
    t->index = i;
}

static void sift_down(int32_t i)
{
    struct timer *t = tm.heap[i];
    for (;;) {
        int32_t c = 4 * i + 1;
        if (c >= tm.n)
            break;
        int32_t best = c;
        for (int32_t k = c + 1; k < c + 4 && k < tm.n; k++)
            if (before(tm.heap[k], tm.heap[best]))
                best = k;
        if (!before(tm.heap[best], t))
            break;
        tm.heap[i] = tm.heap[best];
        tm.heap[i]->index = i;
        i = best;
    }
    tm.heap[i] = t;
    t->index = i;
}

static void heap_remove(int32_t i)
{
    struct timer *t = tm.heap[i];
    t->index = -1;
    tm.n--;
    if (i == tm.n)
        return;
    tm.heap[i] = tm.heap[tm.n];
    tm.heap[i]->index = i;
    sift_down(i);
    sift_up(tm.heap[i]->index);
}

static void *timer_thread(void *arg);

static void timers_ensure_started(void)
{
    if (load32(&tm.started) || !cas32(&tm.started, 0, 1))
        return;
    runtime_thread_start("gort-timer", timer_thread, NULL, 256 * 1024);
}

/* lock held */
static void timer_insert(struct timer *t)
{
    if (tm.n == tm.cap) {
        int32_t cap = tm.cap ? tm.cap * 2 : 64;
        struct timer **h = realloc(tm.heap, (size_t)cap * sizeof *h);
        if (!h)
            throw_("out of memory adding a timer");
        tm.heap = h;
        tm.cap = cap;
    }
    tm.heap[tm.n] = t;
    t->index = tm.n++;
    sift_up(t->index);
    if (tm.heap[0] == t && t->when < tm.sleep_until) {
        /* Earlier than what the timer thread sleeps for: wake it. */
        xadd32(&tm.seq, 1);
        futex_wake(&tm.seq, 1);
    }
}

void timer_add(struct timer *t)
{
    timers_ensure_started();
    lock_acquire(&tm.lock);
    if (t->index >= 0)
        throw_("timer_add: timer already queued");
    timer_insert(t);
    lock_release(&tm.lock);
}

bool timer_del(struct timer *t)
{
    lock_acquire(&tm.lock);
    bool queued = t->index >= 0;
    if (queued)
        heap_remove(t->index);
    lock_release(&tm.lock);
    return queued;
}

/* For the collector (world stopped): queued timers and their arguments
 * are roots. */
void timers_scan_roots_with(void (*mark)(void *ctx, uintptr_t p), void *ctx)
{
    lock_acquire(&tm.lock);    /* the timer thread is not stopped with the world */
    for (int32_t i = 0; i < tm.n; i++) {
        mark(ctx, (uintptr_t)tm.heap[i]);
        mark(ctx, (uintptr_t)tm.heap[i]->arg);
    }
    if (tm.current) {
        mark(ctx, (uintptr_t)tm.current);
        mark(ctx, (uintptr_t)tm.current->arg);
    }
    lock_release(&tm.lock);
}

bool timers_pending(void)
{
    lock_acquire(&tm.lock);
    bool pending = tm.n > 0 || tm.firing > 0;
    lock_release(&tm.lock);
    return pending;
}

static void *timer_thread(void *arg)
{
    (void)arg;
    lock_acquire(&tm.lock);
    for (;;) {
        int64_t now = nanotime();
        while (tm.n > 0 && tm.heap[0]->when <= now) {
            struct timer *t = tm.heap[0];
            heap_remove(0);
            tm.firing++;
            bool periodic = t->period > 0;
            if (periodic) {
                /* Re-arm first (skipping missed periods): f may not touch t
                 * after a one-shot timer fires, so it must not be used then. */
                do
                    t->when += t->period;
                while (t->when <= now);
                timer_insert(t);
            }
            void (*f)(void *, int64_t) = t->f;
            void *farg = t->arg;
            tm.current = t;
            lock_release(&tm.lock);
            f(farg, now);
            lock_acquire(&tm.lock);
            tm.current = NULL;
            tm.firing--;
            if (tm.n == 0 && tm.firing == 0) {
                /* The last timer is done: if every M went idle meanwhile,
                 * their deadlock checks saw it pending; check again. */
                lock_release(&tm.lock);
                lock_acquire(&sched.lock);
                checkdead();
                lock_release(&sched.lock);
                lock_acquire(&tm.lock);
            }
        }
        int64_t until = tm.n > 0 ? tm.heap[0]->when : INT64_MAX;
        uint32_t seq = tm.seq;
        tm.sleep_until = until;
        lock_release(&tm.lock);
        futex_wait(&tm.seq, seq, until == INT64_MAX ? -1 : until - now);
        lock_acquire(&tm.lock);
        tm.sleep_until = 0;
    }
    return NULL;
}

/* ---- gort_sleep ---------------------------------------------------------- */

static void sleep_wake(void *arg, int64_t now)
{
    (void)now;
    ready(arg, false);
}

/* Runs on g0 once the goroutine is marked waiting, so the timer cannot
 * fire (and make it ready) before it has parked. */
static bool sleep_arm(struct g *gp, void *arg)
{
    timer_add(arg);
    (void)gp;
    return true;
}

void gort_sleep(int64_t ns)
{
    if (ns <= 0)
        return;
    struct g *gp = getg();
    struct timer *t = &gp->sleeptimer;
    t->when = nanotime() + ns;
    t->period = 0;
    t->f = sleep_wake;
    t->arg = gp;
    park(WR_SLEEP, sleep_arm, t);
}

/* ---- gort_after / gort_tick ------------------------------------------------ */

struct chan_timer {
    struct timer t;
    gort_chan *c;
};

static void send_time(void *arg, int64_t now)
{
    struct chan_timer *ct = arg;
    chan_send_nb(ct->c, &now);
}

/* The timer lives in the collected heap; while it is queued the timer heap
 * keeps it (and its channel) alive (timers_scan_roots_with). */
static gort_chan *chan_timer_new(int64_t ns, int64_t period)
{
    gort_chan *c = gort_chan_make(sizeof(int64_t), 1);
    struct chan_timer *ct = gort_alloc(sizeof *ct);
    ct->c = c;
    ct->t.when = nanotime() + (ns > 0 ? ns : 0);
    ct->t.period = period;
    ct->t.f = send_time;
    ct->t.arg = ct;
    ct->t.index = -1;
    timer_add(&ct->t);
    return c;
}

gort_chan *gort_after(int64_t ns)
{
    return chan_timer_new(ns, 0);
}

gort_chan *gort_tick(int64_t ns)
{
    if (ns <= 0)
        panic_("non-positive interval for gort_tick");
    return chan_timer_new(ns, ns);
}
