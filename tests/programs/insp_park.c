/*
 * insp_park.c — goroutines held at marked places, for goinspect attach.
 *
 *   insp_park park      goroutines parked on every kind of wait, one in a
 *                       system call, one in a deep recursion, one in an
 *                       inlined function; a ticker shows progress
 *   insp_park running   a goroutine spinning in spin() (it keeps its thread
 *                       and P), one in a system call, and the ticker
 *   insp_park pending   GOMAXPROCS 1, goroutine 1 holds the only P in a raw
 *                       read(): the goroutine it started never runs
 *   insp_park exit      exits at once (a zombie, if nobody waits for it)
 *
 * Prints the facts of insp_common.h, then READY, and stays until killed.
 */

#include "insp_common.h"

enum { NRECV = 3, NSEND = 2, DEPTH = 20 };

static gort_chan *recv_chan, *send_chan, *sel_a, *sel_b;
static gort_mutex held;
static gort_waitgroup never_done;
static int quiet_pipe[2];           /* nobody writes */
long global_counter = 42;           /* for ptr: a global */

static struct who recv_who[NRECV], send_who[NSEND];
static struct who select_who = {"select_waiter", 0, 0, 0, 0};
static struct who mutex_who = {"mutex_waiter", 0, 0, 0, 0};
static struct who wg_who = {"wg_waiter", 0, 0, 0, 0};
static struct who sleep_who = {"sleeper", 0, 0, 0, 0};
static struct who inline_who = {"inline_waiter", 0, 0, 0, 0};
static struct who syscall_who = {"syscall_waiter", 0, 0, 0, 0};
static struct who deep_who = {"deep_waiter", 0, 0, 0, 0};
static struct who spin_who = {"spinner", 0, 0, 0, 0};
static struct who pending_who = {"pending", 0, 0, 0, 0};

static void recv_waiter(void *arg)
{
    volatile int64_t v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_chan_recv(recv_chan, (void *)&v); /* WAIT:recv */
    FAIL("recv_waiter woke up with %" PRId64, v);
}

static void send_waiter(void *arg)
{
    volatile int64_t v = 7;
    ARRIVE((struct who *)arg, &v);
    gort_chan_send(send_chan, (const void *)&v); /* WAIT:send */
    FAIL("send_waiter returned");
}

static void select_waiter(void *arg)
{
    volatile int64_t v = 0;
    gort_select_case cases[2] = {
        {sel_a, GORT_SELECT_RECV, (void *)&v, false},
        {sel_b, GORT_SELECT_RECV, (void *)&v, false},
    };
    ARRIVE((struct who *)arg, &v);
    int k = gort_select(cases, 2, false); /* WAIT:select */
    FAIL("select_waiter chose %d", k);
}

static void mutex_waiter(void *arg)
{
    volatile int v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_mutex_lock(&held); /* WAIT:mutex */
    FAIL("mutex_waiter got the mutex %d", v);
}

static void wg_waiter(void *arg)
{
    volatile int v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_waitgroup_wait(&never_done); /* WAIT:wg */
    FAIL("wg_waiter returned %d", v);
}

static void sleeper(void *arg)
{
    volatile int v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_sleep(3600LL * 1000000000); /* WAIT:sleep */
    FAIL("sleeper woke up %d", v);
}

/* Inlined into inline_waiter: its frame is a frame of its own in a
 * backtrace, marked inlined, at the line of its wait. */
static inline __attribute__((always_inline)) int64_t inlined_wait(gort_chan *c)
{
    int64_t v = 0;
    gort_chan_recv(c, &v); /* WAIT:inlined */
    return v + 1;
}

static void inline_waiter(void *arg)
{
    volatile int v = 0;
    ARRIVE((struct who *)arg, &v);
    int64_t r = inlined_wait(recv_chan); /* CALL:inlined */
    FAIL("inline_waiter woke up %" PRId64 " %d", r, v);
}

static void syscall_waiter(void *arg)
{
    char c;
    volatile int v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_syscall_enter();
    ssize_t n;
    do
        n = read(quiet_pipe[0], &c, 1); /* WAIT:syscall */
    while (n < 0 && errno == EINTR);
    gort_syscall_exit();
    FAIL("syscall_waiter read returned %zd", n);
}

static NOINLINE int64_t deep(int n, struct who *w)
{
    volatile int64_t v = n;
    if (n == 0) {
        ARRIVE(w, &v);
        gort_chan_recv(recv_chan, (void *)&v); /* WAIT:deep */
        return v;
    }
    return deep(n - 1, w) + v; /* CALL:deep */
}

static void deep_waiter(void *arg)
{
    int64_t r = deep(DEPTH, arg);
    FAIL("deep_waiter returned %" PRId64, r);
}

static NOINLINE void spin(volatile uint64_t *counter)
{
    for (;;) /* RUN:spin */
        (*counter)++;
}

static void spinner(void *arg)
{
    volatile uint64_t counter = 0;
    ARRIVE((struct who *)arg, &counter);
    spin(&counter);
}

static void pending(void *arg)
{
    (void)arg;
    FAIL("the pending goroutine ran");
}

static NOINLINE void start(void (*fn)(void *), struct who *w)
{
    gort_go(fn, w); /* GO:start */
    await_here(w);
}

static void print_facts(void)
{
    printf("MAXPROCS %d\n", gort_maxprocs(0));
    printf("GLOBAL %#lx global_counter\n", (unsigned long)&global_counter);
    printf("FUNC %#lx recv_waiter\n", (unsigned long)(uintptr_t)recv_waiter);
}

static int mode_park(void)
{
    recv_chan = gort_chan_make(sizeof(int64_t), 0);
    send_chan = gort_chan_make(sizeof(int64_t), 0);
    sel_a = gort_chan_make(sizeof(int64_t), 0);
    sel_b = gort_chan_make(sizeof(int64_t), 0);
    gort_waitgroup_add(&never_done, 1);
    gort_mutex_lock(&held);
    if (pipe(quiet_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));
    for (int i = 0; i < NRECV; i++) {
        recv_who[i].kind = "recv_waiter";
        gort_go(recv_waiter, &recv_who[i]); /* GO:recv */
        await_here(&recv_who[i]);
    }
    for (int i = 0; i < NSEND; i++) {
        send_who[i].kind = "send_waiter";
        gort_go(send_waiter, &send_who[i]); /* GO:send */
        await_here(&send_who[i]);
    }
    start(select_waiter, &select_who);
    start(mutex_waiter, &mutex_who);
    start(wg_waiter, &wg_who);
    start(sleeper, &sleep_who);
    start(inline_waiter, &inline_who);
    start(syscall_waiter, &syscall_who);
    start(deep_waiter, &deep_who);
    progress_start(20);
    gort_sleep(MSEC(50));       /* every goroutine blocks for good */
    for (int i = 0; i < NRECV; i++)
        print_who(&recv_who[i]);
    for (int i = 0; i < NSEND; i++)
        print_who(&send_who[i]);
    print_who(&select_who);
    print_who(&mutex_who);
    print_who(&wg_who);
    print_who(&sleep_who);
    print_who(&inline_who);
    print_who(&syscall_who);
    print_who(&deep_who);
    print_facts();
    return report_and_park();
}

static int mode_running(void)
{
    if (pipe(quiet_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));
    start(spinner, &spin_who);
    start(syscall_waiter, &syscall_who);
    progress_start(20);
    gort_sleep(MSEC(50));
    print_who(&spin_who);
    print_who(&syscall_who);
    print_facts();
    return report_and_park();
}

static int mode_pending(void)
{
    char c;
    gort_maxprocs(1);
    if (pipe(quiet_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));
    pending_who.id = gort_go(pending, NULL); /* GO:pending */
    int local = 0;
    ARRIVE(&main_who, &local);
    print_who(&main_who);
    printf("G %" PRIu64 " pending local=0 tid=0\n", pending_who.id);
    printf("READY\n");
    fflush(stdout);
    /* a raw read: the runtime does not know, so goroutine 1 keeps the P */
    while (read(quiet_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    FAIL("raw read returned");
}

static int mode_exit(void)
{
    printf("READY\n");
    return 0;
}

static const struct mode modes[] = {
    {"park", mode_park},
    {"running", mode_running},
    {"pending", mode_pending},
    {"exit", mode_exit},
    {NULL, NULL},
};

RT_MAIN(modes)
