/*
 * rt_chan.c — channel semantics: ordering, blocking, close.
 *
 *   rt_chan unbuffered | buffered | close | senders
 */
#include "rt_common.h"

static void print_list(const char *key, const int64_t *v, int n)
{
    printf("%s", key);
    for (int i = 0; i < n; i++)
        printf(" %" PRId64, v[i]);
    printf("\n");
}

/* ---- a goroutine that sends one value and says when the send returned -- */

struct sender {
    gort_chan *c;
    int64_t value;
    int64_t delay_ns;        /* sleep this long before sending */
    atomic_int done;
};

static void send_one(void *arg)
{
    struct sender *s = arg;
    if (s->delay_ns)
        gort_sleep(s->delay_ns);
    gort_chan_send(s->c, &s->value);
    atomic_store(&s->done, 1);
}

static void send_range(void *arg)
{
    struct sender *s = arg;
    for (int64_t i = 0; i < s->value; i++)
        gort_chan_send(s->c, &i);
}

/* Report whether *done was set before the main goroutine received, then
 * receive and wait for the sender to finish. */
static int64_t recv_after_pause(struct sender *s, const char *key)
{
    gort_sleep(MSEC(50));
    printf("%s_sent_before_recv %d\n", key, atomic_load(&s->done));
    int64_t v = -1;
    bool ok = gort_chan_recv(s->c, &v);
    int64_t deadline = mono_ns() + SEC(10);
    while (!atomic_load(&s->done) && mono_ns() < deadline)
        gort_yield();
    printf("%s_sent_after_recv %d\n", key, atomic_load(&s->done));
    printf("%s_recv ok=%d v=%" PRId64 "\n", key, ok, v);
    return v;
}

/* Receive a value a goroutine sends 50 ms from now; report how long the
 * receive waited. */
static void recv_from_late_sender(gort_chan *c, int64_t value)
{
    struct sender late = {.c = c, .value = value, .delay_ns = MSEC(50)};
    int64_t t0 = mono_ns();
    gort_go(send_one, &late);
    int64_t v = -1;
    gort_chan_recv(c, &v);
    printf("recv_waited_ns %" PRId64 " v=%" PRId64 "\n", mono_ns() - t0, v);
}

static int mode_unbuffered(void)
{
    gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
    printf("len %zu cap %zu\n", gort_chan_len(c), gort_chan_cap(c));

    /* A send blocks until a receiver takes the value. */
    struct sender s = {.c = c, .value = 42};
    gort_go(send_one, &s);
    recv_after_pause(&s, "send");

    /* A receive blocks until a sender comes. */
    recv_from_late_sender(c, 7);

    /* Values arrive in the order they were sent. */
    enum { N = 1000 };
    static int64_t got[N];
    struct sender r = {.c = c, .value = N};
    gort_go(send_range, &r);
    for (int i = 0; i < N; i++)
        gort_chan_recv(c, &got[i]);
    print_list("order", got, N);
    return 0;
}

static int mode_buffered(void)
{
    enum { CAP = 4 };
    gort_chan *c = gort_chan_make(sizeof(int64_t), CAP);

    /* Up to cap sends complete with no receiver (a block here would be a
     * deadlock: nothing else runs). */
    for (int64_t i = 0; i < CAP; i++)
        gort_chan_send(c, &i);
    printf("len %zu cap %zu\n", gort_chan_len(c), gort_chan_cap(c));

    /* The next send blocks until a receive frees a slot. */
    struct sender s = {.c = c, .value = CAP};
    gort_go(send_one, &s);
    int64_t got[CAP + 1];
    got[0] = recv_after_pause(&s, "full");
    for (int i = 1; i <= CAP; i++)
        gort_chan_recv(c, &got[i]);
    print_list("order", got, CAP + 1);
    printf("len_after %zu\n", gort_chan_len(c));

    /* A receive on an empty buffered channel blocks until a send. */
    recv_from_late_sender(c, 9);

    /* A long stream through a small buffer keeps its order. */
    enum { N = 20000 };
    gort_chan *small = gort_chan_make(sizeof(int64_t), 16);
    struct sender r = {.c = small, .value = N};
    gort_go(send_range, &r);
    int64_t bad = -1;
    for (int64_t i = 0; i < N; i++) {
        int64_t x;
        gort_chan_recv(small, &x);
        if (x != i && bad < 0)
            bad = i;
    }
    printf("stream %d first_out_of_order %" PRId64 "\n", N, bad);
    return 0;
}

/* ---- close ------------------------------------------------------------- */

struct closewait {
    gort_chan *c;
    gort_chan *results;
    atomic_int *arrived;
};

static void recv_until_closed(void *arg)
{
    struct closewait *w = arg;
    int64_t v = 12345;
    atomic_fetch_add(w->arrived, 1);
    bool ok = gort_chan_recv(w->c, &v);
    int64_t res = ok ? 1000 + v : v;  /* closed: ok false and v zeroed -> 0 */
    gort_chan_send(w->results, &res);
}

static int mode_close(void)
{
    /* Buffered values are still delivered after close, then receives
     * return false with the element zeroed, as often as asked. */
    gort_chan *c = gort_chan_make(sizeof(int64_t), 3);
    for (int64_t i = 1; i <= 3; i++)
        gort_chan_send(c, &i);
    gort_chan_close(c);
    printf("closed_len %zu cap %zu\n", gort_chan_len(c), gort_chan_cap(c));
    printf("closed_recv");
    for (int i = 0; i < 5; i++) {
        int64_t v = -1;
        bool ok = gort_chan_recv(c, &v);
        printf(" %d:%" PRId64, ok, v);
    }
    printf("\n");

    /* NULL elem discards the value. */
    gort_chan *d = gort_chan_make(sizeof(int64_t), 1);
    int64_t one = 1;
    gort_chan_send(d, &one);
    bool ok1 = gort_chan_recv(d, NULL);
    gort_chan_close(d);
    bool ok2 = gort_chan_recv(d, NULL);
    printf("discard %d %d\n", ok1, ok2);

    /* Close wakes every goroutine blocked receiving. */
    enum { W = 10 };
    gort_chan *u = gort_chan_make(sizeof(int64_t), 0);
    gort_chan *results = gort_chan_make(sizeof(int64_t), W);
    atomic_int arrived = 0;
    struct closewait w = {.c = u, .results = results, .arrived = &arrived};
    for (int i = 0; i < W; i++)
        gort_go(recv_until_closed, &w);
    await_count(&arrived, W);
    gort_sleep(MSEC(20));
    printf("results_before_close %zu\n", gort_chan_len(results));
    gort_chan_close(u);
    printf("woken");
    for (int i = 0; i < W; i++) {
        int64_t r;
        gort_chan_recv(results, &r);
        printf(" %" PRId64, r);
    }
    printf("\n");

    /* A range loop over a channel ends at close. */
    gort_chan *q = gort_chan_make(sizeof(int64_t), 0);
    struct sender r = {.c = q, .value = 5};
    gort_go(send_range, &r);
    /* the sender returns after its last send; close from here once the
     * values are in: receive 5, then close, then one more receive. */
    int64_t sum = 0, v;
    for (int i = 0; i < 5; i++) {
        gort_chan_recv(q, &v);
        sum += v;
    }
    gort_chan_close(q);
    int n = 0;
    while (gort_chan_recv(q, &v))
        n++;
    printf("range sum=%" PRId64 " after_close=%d\n", sum, n);
    return 0;
}

/* ---- several senders, one receiver -------------------------------------- */

struct tagged {
    gort_chan *c;
    int64_t tag;
};

static void send_tagged(void *arg)
{
    struct tagged *t = arg;
    for (int64_t i = 0; i < 500; i++) {
        int64_t v = t->tag * 1000000 + i;
        gort_chan_send(t->c, &v);
        if (i % 7 == 0)
            gort_yield();
    }
}

static int mode_senders(void)
{
    enum { S = 6, PER = 500 };
    static int64_t got[S * PER];
    for (int cap = 0; cap <= 8; cap += 8) {
        gort_chan *c = gort_chan_make(sizeof(int64_t), (size_t)cap);
        struct tagged t[S];
        for (int s = 0; s < S; s++) {
            t[s] = (struct tagged){.c = c, .tag = s + 1};
            gort_go(send_tagged, &t[s]);
        }
        for (int i = 0; i < S * PER; i++)
            gort_chan_recv(c, &got[i]);
        char key[32];
        snprintf(key, sizeof key, "got_cap%d", cap);
        print_list(key, got, S * PER);
    }
    return 0;
}

static const struct mode modes[] = {
    {"unbuffered", mode_unbuffered},
    {"buffered", mode_buffered},
    {"close", mode_close},
    {"senders", mode_senders},
    {NULL, NULL},
};

RT_MAIN(modes)
