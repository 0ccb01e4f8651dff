/*
 * insp_common.h — what the goinspect attach test programs share.
 *
 * Each insp_*.c program holds goroutines in known places and prints its own
 * truth on stdout, one fact a line, for tests/test_attach*.py to compare
 * with what goinspect shows:
 *
 *   G ID KIND local=0xADDR tid=T     a goroutine: its id (read by itself), what it
 *                                   is, a variable on its stack, its thread
 *   MAXPROCS N, GLOBAL 0xADDR NAME, FUNC 0xADDR NAME, READY
 *   TICK N SUM                      progress: SUM is 1^2 + ... + N^2, computed by
 *                                   a worker goroutine (the tests check it)
 *
 * The places goroutines wait at are marked in the sources with comments
 * such as / * WAIT:recv * /; the tests find the marked lines themselves.
 * Built on rt_common.h (modes, FAIL, NOINLINE); include this header first.
 */
#ifndef INSP_COMMON_H
#define INSP_COMMON_H

#include "rt_common.h"

/* A goroutine the program tells the test about. */
struct who {
    const char *kind;
    uint64_t id;
    uintptr_t local;
    long tid;
    atomic_int here;
};

/* Called by a goroutine just before it blocks: records its id, the address
 * of a variable in the caller's frame, and its thread. */
#define ARRIVE(w, localp)                                           \
    do {                                                            \
        (w)->id = gort_goid();                                      \
        (w)->local = (uintptr_t)(localp);                           \
        (w)->tid = tid();                                  \
        atomic_store(&(w)->here, 1);                                \
    } while (0)

static inline void await_here(struct who *w)
{
    for (int i = 0; i < 10000 && !atomic_load(&w->here); i++)
        gort_sleep(MSEC(1));
    if (!atomic_load(&w->here))
        FAIL("goroutine %s never arrived", w->kind);
}

static inline void print_who(const struct who *w)
{
    printf("G %" PRIu64 " %s local=%#lx tid=%ld\n", w->id, w->kind, (unsigned long)w->local,
           w->tid);
}

/* ---- Progress: a ticker and a worker, both goroutines ----------------- */

static gort_chan *tick_req, *tick_resp;
static struct who ticker_who = {"ticker", 0, 0, 0, 0}, worker_who = {"worker", 0, 0, 0, 0};

static NOINLINE int64_t sum_squares(int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 1; i <= n; i++)
        s += i * i;
    return s;
}

static void tick_worker(void *arg)
{
    (void)arg;
    int64_t n;
    ARRIVE(&worker_who, &n);
    while (gort_chan_recv(tick_req, &n)) {
        int64_t s = sum_squares(n);
        gort_chan_send(tick_resp, &s);
    }
}

static void tick_loop(void *arg)
{
    int64_t n = 0;
    ARRIVE(&ticker_who, &n);
    int64_t period = (int64_t)(intptr_t)arg;
    for (;;) {
        gort_sleep(period);
        n++;
        int64_t s;
        gort_chan_send(tick_req, &n);
        gort_chan_recv(tick_resp, &s);
        printf("TICK %" PRId64 " %" PRId64 "\n", n, s);
        fflush(stdout);
    }
}

/* Starts the ticker (a TICK line every period_ms) and its worker. */
static inline void progress_start(int period_ms)
{
    tick_req = gort_chan_make(sizeof(int64_t), 0);
    tick_resp = gort_chan_make(sizeof(int64_t), 0);
    gort_go(tick_worker, NULL);
    gort_go(tick_loop, (void *)(intptr_t)MSEC(period_ms));
    await_here(&worker_who);
    await_here(&ticker_who);
}

static inline void print_progress_who(void)
{
    print_who(&ticker_who);
    print_who(&worker_who);
}

static struct who main_who = {"main", 0, 0, 0, 0};

/* Goroutine 1 parks for good without looking deadlocked. */
static inline void main_park_forever(struct who *w)
{
    int local = 0;
    ARRIVE(w, &local);
    print_who(w);
    printf("READY\n");
    fflush(stdout);
    for (;;)
        gort_sleep(3600LL * 1000000000);
}

/* The end of every mode: the progress goroutines and goroutine 1 told,
 * READY, and goroutine 1 parks. */
static inline int report_and_park(void)
{
    print_progress_who();
    main_park_forever(&main_who);
    return 0;
}

#endif
