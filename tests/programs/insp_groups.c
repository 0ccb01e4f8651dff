/*
 * insp_groups.c — thousands of goroutines parked at one line of user code,
 * for goinspect's goroutines -g KIND.
 *
 *   insp_groups [N]     N (default 1000) goroutines of each of three kinds:
 *     x          worker() started at GO:x: receives on a shared channel,
 *                then waits in hold() called at CALL:worker
 *     y          worker() started at GO:y: sends on that channel, then waits
 *                in hold() called at CALL:worker too, from another pc.
 *                Of each x and y that meet, the one that goes on second has
 *                just made the other ready, and parks in hold() by a direct
 *                hand-off (the runtime's park_direct); the other parks
 *                through the scheduler: one user line, two runtime paths
 *     s_odd,     sleeper() started at GO:s, waiting in hold() called from
 *     s_even     CALL:sleep_odd or CALL:sleep_even (odd and even ones)
 *
 * Every goroutine records its own id; once all have reached hold(), the
 * program prints "G ID KIND" for each, then READY, and goroutine 1 sleeps at
 * WAIT:main until killed.  Run with GORT_MAXPROCS=1 for one P.
 */

#include "rt_common.h"

static gort_chan *meet, *forever;
static atomic_int arrived;
static int n_each = 1000;
static uint64_t *ids[4];            /* x, y, s_odd, s_even: by index */
static const char *const kinds[4] = {"x", "y", "s_odd", "s_even"};

struct role {
    int kind, index;
};
static struct role *roles;

static NOINLINE void hold(const struct role *r)
{
    int64_t v = 0;
    ids[r->kind][r->index] = gort_goid();
    atomic_fetch_add(&arrived, 1);
    gort_chan_recv(forever, &v); /* WAIT:hold */
    FAIL("goroutine %s %d woke", kinds[r->kind], r->index);
}

/* Meet on the channel, then wait in hold(): expanded twice on one line, two
 * calls of hold() at one line, two return addresses. */
#define MEET_THEN_HOLD(op, who)                                     \
    do {                                                            \
        op(meet, &v);                                               \
        hold(r);                                                    \
        FAIL(who " worker returned");                               \
    } while (0)

static void worker(void *arg) { /* START:worker */
    const struct role *r = arg;
    int64_t v = r->index;
    if (r->kind == 0) MEET_THEN_HOLD(gort_chan_recv, "x"); else MEET_THEN_HOLD(gort_chan_send, "y"); /* CALL:worker */
}

static atomic_int odd, even;

static void sleeper(void *arg) { /* START:sleeper */
    const struct role *r = arg;
    /* different first steps: no compiler makes the two calls one */
    if (r->kind == 2) {
        atomic_fetch_add(&odd, 1);
        hold(r); /* CALL:sleep_odd */
        FAIL("odd sleeper returned");
    }
    atomic_fetch_sub(&even, 1);
    hold(r); /* CALL:sleep_even */
    FAIL("even sleeper returned");
}

static int main_fn(int argc, char **argv)
{
    if (argc > 1)
        n_each = atoi(argv[1]);
    if (n_each < 1 || n_each > 1000000)
        FAIL("bad count %s", argv[1]);
    meet = gort_chan_make(sizeof(int64_t), 0);
    forever = gort_chan_make(sizeof(int64_t), 0);
    roles = calloc(4 * (size_t)n_each, sizeof *roles);
    uint64_t *started = calloc(4 * (size_t)n_each, sizeof *started);
    for (int k = 0; k < 4; k++)
        ids[k] = calloc((size_t)n_each, sizeof *ids[k]);
    if (!roles || !started || !ids[3])
        FAIL("out of memory");
    for (int i = 0; i < n_each; i++) {
        struct role *x = &roles[i], *y = &roles[n_each + i], *s = &roles[2 * n_each + i];
        *x = (struct role){0, i};
        *y = (struct role){1, i};
        started[i] = gort_go(worker, x); /* GO:x */
        started[n_each + i] = gort_go(worker, y); /* GO:y */
        *s = (struct role){i & 1 ? 2 : 3, i / 2};      /* s_odd, s_even */
        started[2 * n_each + i] = gort_go(sleeper, s); /* GO:s */
    }
    int want = 3 * n_each;
    for (int t = 0; t < 20000 && atomic_load(&arrived) < want; t++)
        gort_sleep(MSEC(1));
    if (atomic_load(&arrived) != want)
        FAIL("%d of %d goroutines arrived", atomic_load(&arrived), want);
    /* each goroutine's own id is the one gort_go returned */
    for (int i = 0; i < n_each; i++) {
        const struct role *s = &roles[2 * n_each + i];
        if (ids[0][i] != started[i] || ids[1][i] != started[n_each + i] ||
            ids[s->kind][s->index] != started[2 * n_each + i])
            FAIL("goroutine %d: ids differ", i);
    }
    int count[4] = {n_each, n_each, n_each / 2, (n_each + 1) / 2};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < count[k]; i++)
            printf("G %" PRIu64 " %s\n", ids[k][i], kinds[k]);
    printf("MAIN %" PRIu64 "\n", gort_goid());
    printf("READY\n");
    fflush(stdout);
    for (;;)        /* asleep, not deadlocked */
        gort_sleep(MSEC(1000)); /* WAIT:main */
}

int main(int argc, char **argv)
{
    return gort_main(main_fn, argc, argv);
}
