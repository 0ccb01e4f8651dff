/*
 * rt_select.c — select with and without default, blocking select, and the
 * choice among ready cases.
 *
 *   rt_select default | block | uniform
 */
#include "rt_common.h"

static gort_select_case recv_case(gort_chan *c, int64_t *elem)
{
    return (gort_select_case){.chan = c, .dir = GORT_SELECT_RECV, .elem = elem};
}

static gort_select_case send_case(gort_chan *c, int64_t *elem)
{
    return (gort_select_case){.chan = c, .dir = GORT_SELECT_SEND, .elem = elem};
}

/* A goroutine that, after a pause, sends a value, receives one, or closes. */
struct later {
    gort_chan *c;
    int64_t delay_ns;
    enum { DO_SEND, DO_RECV, DO_CLOSE } what;
    int64_t value;           /* DO_SEND: sent; DO_RECV: received */
    atomic_int *arrived;     /* counted before the pause (may be NULL) */
};

static void later_fn(void *arg)
{
    struct later *l = arg;
    if (l->arrived)
        atomic_fetch_add(l->arrived, 1);
    if (l->delay_ns)
        gort_sleep(l->delay_ns);
    switch (l->what) {
    case DO_SEND: gort_chan_send(l->c, &l->value); break;
    case DO_RECV: gort_chan_recv(l->c, &l->value); break;
    case DO_CLOSE: gort_chan_close(l->c); break;
    }
}

static int mode_default(void)
{
    int64_t v = -1;
    gort_chan *unbuf = gort_chan_make(sizeof(int64_t), 0);
    gort_chan *buf = gort_chan_make(sizeof(int64_t), 1);

    gort_select_case a[] = {recv_case(unbuf, &v)};
    printf("empty_recv %d\n", gort_select(a, 1, true));

    gort_select_case b[] = {recv_case(NULL, &v), send_case(NULL, &v)};
    printf("nil_cases %d\n", gort_select(b, 2, true));

    printf("no_cases %d\n", gort_select(NULL, 0, true));

    int64_t x = 5;
    gort_select_case c[] = {send_case(buf, &x)};
    int i = gort_select(c, 1, true);
    printf("send_space %d len=%zu\n", i, gort_chan_len(buf));
    i = gort_select(c, 1, true);
    printf("send_full %d len=%zu\n", i, gort_chan_len(buf));

    gort_select_case d[] = {recv_case(unbuf, &v), recv_case(buf, &v)};
    i = gort_select(d, 2, true);
    printf("recv_ready %d ok=%d v=%" PRId64 " len=%zu\n", i, d[1].ok, v, gort_chan_len(buf));

    /* An unbuffered send is ready when a receiver is already waiting. */
    atomic_int arrived = 0;
    struct later r = {.c = unbuf, .what = DO_RECV, .value = -1, .arrived = &arrived};
    gort_go(later_fn, &r);
    await_count(&arrived, 1);
    gort_sleep(MSEC(20));
    int64_t y = 77;
    gort_select_case e[] = {send_case(unbuf, &y)};
    i = gort_select(e, 1, true);
    gort_sleep(MSEC(20));
    printf("send_to_waiting_receiver %d received=%" PRId64 "\n", i, r.value);

    /* A closed channel's receive is ready, with ok false and a zero value. */
    gort_chan_close(buf);
    v = -1;
    gort_select_case f[] = {recv_case(NULL, &v), recv_case(buf, &v)};
    f[1].ok = true;
    i = gort_select(f, 2, true);
    printf("closed_recv %d ok=%d v=%" PRId64 "\n", i, f[1].ok, v);
    return 0;
}

static int mode_block(void)
{
    gort_chan *never = gort_chan_make(sizeof(int64_t), 0);
    int64_t v = -1, t0;

    /* Blocks until a send arrives on the second case. */
    gort_chan *b = gort_chan_make(sizeof(int64_t), 0);
    struct later s = {.c = b, .delay_ns = MSEC(50), .what = DO_SEND, .value = 31};
    t0 = mono_ns();
    gort_go(later_fn, &s);
    gort_select_case c1[] = {recv_case(never, &v), recv_case(b, &v), recv_case(NULL, &v)};
    int i = gort_select(c1, 3, false);
    printf("recv_wakes %d ok=%d v=%" PRId64 " waited_ns=%" PRId64 "\n", i, c1[1].ok, v,
           mono_ns() - t0);

    /* Blocks in a send until a receiver comes. */
    gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
    struct later r = {.c = c, .delay_ns = MSEC(50), .what = DO_RECV, .value = -1};
    t0 = mono_ns();
    gort_go(later_fn, &r);
    int64_t x = 55;
    gort_select_case c2[] = {send_case(c, &x), recv_case(never, &v)};
    i = gort_select(c2, 2, false);
    int64_t waited = mono_ns() - t0;
    gort_sleep(MSEC(20));
    printf("send_wakes %d received=%" PRId64 " waited_ns=%" PRId64 "\n", i, r.value, waited);

    /* Close wakes a select receiving on the channel. */
    gort_chan *d = gort_chan_make(sizeof(int64_t), 0);
    struct later cl = {.c = d, .delay_ns = MSEC(50), .what = DO_CLOSE};
    gort_go(later_fn, &cl);
    v = -1;
    gort_select_case c3[] = {recv_case(never, NULL), recv_case(d, &v)};
    c3[1].ok = true;
    i = gort_select(c3, 2, false);
    printf("close_wakes %d ok=%d v=%" PRId64 "\n", i, c3[1].ok, v);

    /* A timer channel as a timeout. */
    t0 = gort_nanotime();
    int64_t m0 = mono_ns();
    gort_select_case c4[] = {recv_case(never, &v), recv_case(gort_after(MSEC(30)), &v)};
    i = gort_select(c4, 2, false);
    printf("timeout %d fired_after_ns=%" PRId64 " waited_ns=%" PRId64 "\n", i, v - t0,
           mono_ns() - m0);

    /* The losing case is left alone: both senders' values are delivered,
     * one through the select and one afterwards. */
    gort_chan *p = gort_chan_make(sizeof(int64_t), 0);
    gort_chan *q = gort_chan_make(sizeof(int64_t), 0);
    struct later sp = {.c = p, .delay_ns = MSEC(30), .what = DO_SEND, .value = 1};
    struct later sq = {.c = q, .delay_ns = MSEC(30), .what = DO_SEND, .value = 2};
    gort_go(later_fn, &sp);
    gort_go(later_fn, &sq);
    int64_t first = -1, second = -1;
    gort_select_case c5[] = {recv_case(p, &first), recv_case(q, &first)};
    i = gort_select(c5, 2, false);
    gort_chan_recv(i == 0 ? q : p, &second);
    printf("both_delivered %d %" PRId64 " %" PRId64 "\n", i, first, second);
    return 0;
}

static int mode_uniform(void)
{
    enum { N = 10000 };
    for (int ncases = 2; ncases <= 3; ncases++) {
        gort_chan *c[3];
        int64_t v;
        gort_select_case cs[3];
        int count[3] = {0, 0, 0};
        for (int k = 0; k < ncases; k++) {
            c[k] = gort_chan_make(sizeof(int64_t), 1);
            v = k;
            gort_chan_send(c[k], &v);
            cs[k] = recv_case(c[k], &v);
        }
        /* Every case is always ready; refill the one taken. */
        for (int n = 0; n < N; n++) {
            int i = gort_select(cs, ncases, n % 2 == 0);
            if (i < 0 || i >= ncases || v != i)
                FAIL("select returned %d with value %" PRId64, i, v);
            count[i]++;
            gort_chan_send(c[i], &v);
        }
        printf("counts%d", ncases);
        for (int k = 0; k < ncases; k++)
            printf(" %d", count[k]);
        printf("\n");
    }
    return 0;
}

static const struct mode modes[] = {
    {"default", mode_default},
    {"block", mode_block},
    {"uniform", mode_uniform},
    {NULL, NULL},
};

RT_MAIN(modes)
