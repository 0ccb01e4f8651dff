/*
 * rt_misuse.c — fatal misuse and deadlock, each with a dump of every
 * goroutine.
 *
 *   rt_misuse send_closed | close_closed | close_nil | unlock_unlocked |
 *             negative_wg        a goroutine misuses the API while goroutine
 *                                1 waits on a channel and goroutines wait
 *                                for every reason
 *   rt_misuse deadlock           every goroutine waits on something that can
 *                                never happen
 *   rt_misuse deadlock_nil       goroutine 1 alone, receiving from NULL
 *   rt_misuse deadlock_after_sleep
 *                                a goroutine sleeps 300 ms, then exits: only
 *                                then is the program deadlocked
 *   rt_misuse no_deadlock        goroutine 1 waits on a channel fed by a
 *                                goroutine reading stdin in a system call
 *                                and by one that sleeps: not a deadlock
 *
 * Prints the goroutines ("G ..." lines, see rt_waiters.h), then "MISUSE ID"
 * naming the goroutine about to misuse the API.
 */
#include "rt_waiters.h"

enum { MAXW = 64 };
static struct waiter ws[MAXW];
static gort_chan *g1_chan;

static void print_all(int n, const char *g1_status, const char *g1_reason)
{
    struct waiter g1 = {.fn = "-", .status = g1_status, .reason = g1_reason, .creator = "-",
                        .id = gort_goid()};
    w_arrive(&g1);
    for (int i = 0; i < n; i++)
        print_waiter(&ws[i]);
    print_waiter(&g1);
}

static void misuse_send_closed(void *a)
{
    (void)a;
    gort_chan *c = gort_chan_make(sizeof(int64_t), 1);
    gort_chan_close(c);
    int64_t v = 1;
    gort_chan_send(c, &v);
    FAIL("send on a closed channel returned");
}

static void misuse_close_closed(void *a)
{
    (void)a;
    gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
    gort_chan_close(c);
    gort_chan_close(c);
    FAIL("second close returned");
}

static void misuse_close_nil(void *a)
{
    (void)a;
    gort_chan_close(NULL);
    FAIL("close of NULL returned");
}

static void misuse_unlock_unlocked(void *a)
{
    (void)a;
    gort_mutex m = {0};
    gort_mutex_lock(&m);
    gort_mutex_unlock(&m);
    gort_mutex_unlock(&m);
    FAIL("unlock of an unlocked mutex returned");
}

static void misuse_negative_wg(void *a)
{
    (void)a;
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, 2);
    gort_waitgroup_done(&wg);
    gort_waitgroup_done(&wg);
    gort_waitgroup_done(&wg);
    FAIL("negative WaitGroup counter returned");
}

/* The misusing goroutine waits until goroutine 1 is parked.  Under
 * GOMAXPROCS=1 it then starts a goroutine that cannot run before the
 * misuse (the only P is busy): the dump shows it runnable. */
struct misuse {
    void (*fn)(void *);
};

static void never_runs(void *a)
{
    (void)a;
    FAIL("never_runs ran");
}

static NOINLINE void misuser(void *a)
{
    const struct misuse *m = a;
    gort_sleep(MSEC(50));
    if (gort_maxprocs(0) == 1) {
        struct waiter w = {.fn = "never_runs", .status = "runnable", .reason = "",
                           .creator = __func__, .parent = gort_goid()};
        w.id = gort_go(never_runs, NULL);
        print_waiter(&w);
    }
    m->fn(NULL);
}

static NOINLINE int misuse(void (*fn)(void *))
{
    static struct misuse m;
    m.fn = fn;
    int n = spawn_waiters(ws, false);
    g1_chan = gort_chan_make(sizeof(int64_t), 0);
    uint64_t id = gort_go(misuser, &m);
    print_all(n, "waiting", "chan receive");
    printf("MISUSE %" PRIu64 " creator=%s\n", id, __func__);
    gort_chan_recv(g1_chan, NULL);
    FAIL("goroutine 1 woke up");
}

static int mode_send_closed(void) { return misuse(misuse_send_closed); }
static int mode_close_closed(void) { return misuse(misuse_close_closed); }
static int mode_close_nil(void) { return misuse(misuse_close_nil); }
static int mode_unlock_unlocked(void) { return misuse(misuse_unlock_unlocked); }
static int mode_negative_wg(void) { return misuse(misuse_negative_wg); }

static int mode_deadlock(void)
{
    int n = spawn_waiters(ws, true);
    print_all(n, "waiting", "chan receive");
    gort_chan_recv(gort_chan_make(sizeof(int64_t), 0), NULL);
    FAIL("deadlocked goroutine 1 woke up");
}

static int mode_deadlock_nil(void)
{
    print_all(0, "waiting", "chan receive (nil chan)");
    gort_chan_recv(NULL, NULL);
    FAIL("receive from NULL returned");
}

static void nap_then_exit(void *a)
{
    (void)a;
    gort_sleep(MSEC(300));
}

static int mode_deadlock_after_sleep(void)
{
    gort_go(nap_then_exit, NULL);
    print_all(0, "waiting", "chan receive");
    gort_chan_recv(gort_chan_make(sizeof(int64_t), 0), NULL);
    FAIL("deadlocked goroutine 1 woke up");
}

static void read_stdin(void *a)
{
    char c = 0;
    ssize_t n;
    gort_syscall_enter();
    do
        n = read(0, &c, 1);
    while (n < 0 && errno == EINTR);
    gort_syscall_exit();
    int64_t v = n == 1 ? c : -1;
    gort_chan_send(a, &v);
}

static void nap_then_send(void *a)
{
    gort_sleep(MSEC(300));
    int64_t v = 's';
    gort_chan_send(a, &v);
}

static int mode_no_deadlock(void)
{
    gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
    gort_go(read_stdin, c);
    gort_go(nap_then_send, c);
    printf("waiting\n");
    for (int i = 0; i < 2; i++) {
        int64_t v;
        gort_chan_recv(c, &v);
        printf("got %c\n", (char)v);
    }
    return 0;
}

static const struct mode modes[] = {
    {"send_closed", mode_send_closed},
    {"close_closed", mode_close_closed},
    {"close_nil", mode_close_nil},
    {"unlock_unlocked", mode_unlock_unlocked},
    {"negative_wg", mode_negative_wg},
    {"deadlock", mode_deadlock},
    {"deadlock_nil", mode_deadlock_nil},
    {"deadlock_after_sleep", mode_deadlock_after_sleep},
    {"no_deadlock", mode_no_deadlock},
    {NULL, NULL},
};

RT_MAIN(modes)
