/*
 * rt_states.c — goroutines held in known states, for tests that look at
 * the process from outside.
 *
 *   rt_states states   every wait reason, a goroutine in a system call, one
 *                      that exited, GOMAXPROCS goroutines running (blocked
 *                      in a read() the runtime does not know about, so
 *                      they keep every P), and one that never ran
 *   rt_states idle     every wait reason; goroutine 1 waits on a channel
 *
 * Prints one "G ..." line per goroutine (see rt_waiters.h), "X ID" for the
 * one that exited, then "READY", and stays that way until killed.
 */
#include "rt_waiters.h"

enum { MAXW = 64 };
static struct waiter ws[MAXW];
static int nw;
static int raw_pipe[2];           /* nobody writes */

static void raw_block(void)
{
    char c;
    while (read(raw_pipe[0], &c, 1) < 0 && errno == EINTR)
        ;
    FAIL("raw read returned");
}

/* Holds a P: blocked in the kernel with no gort_syscall_enter. */
static void raw_blocker(void *a)
{
    w_arrive(a);
    raw_block();
}

static void exiter(void *a)
{
    w_arrive(a);
}

static void pending(void *a)
{
    (void)a;
    printf("FAIL pending goroutine ran\n");
}

static NOINLINE struct waiter *spawn_one(const char *fn_name, void (*fn)(void *),
                                         const char *status, bool wait_arrival)
{
    struct waiter *w = &ws[nw++];
    *w = (struct waiter){.fn = fn_name, .status = status, .reason = "", .creator = __func__,
                         .parent = gort_goid()};
    int before = atomic_load(&w_arrived);
    w->id = gort_go(fn, w);
    if (wait_arrival)
        await_count(&w_arrived, before + 1);
    return w;
}

static int mode_states(void)
{
    nw = spawn_waiters(ws, false);
    if (pipe(raw_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));

    struct waiter *x = spawn_one("exiter", exiter, "dead", true);
    gort_sleep(MSEC(20));
    uint64_t exited = x->id;
    nw--;

    /* GOMAXPROCS - 1 raw blockers take all Ps but one; goroutine 1 takes
     * the last one, so the goroutine it starts then never runs. */
    int procs = gort_maxprocs(0);
    for (int i = 0; i < procs - 1; i++)
        spawn_one("raw_blocker", raw_blocker, "running", true);
    gort_sleep(MSEC(50));

    struct waiter *main_g = &ws[nw++];
    *main_g = (struct waiter){.fn = "-", .status = "running", .reason = "", .creator = "-"};
    w_arrive(main_g);
    main_g->id = main_g->self;
    spawn_one("pending", pending, "runnable", false);

    for (int i = 0; i < nw; i++)
        print_waiter(&ws[i]);
    printf("X %" PRIu64 "\n", exited);
    printf("numgoroutine %d maxprocs %d\n", gort_numgoroutine(), procs);
    printf("READY\n");
    raw_block();
    return 1;
}

static int mode_idle(void)
{
    nw = spawn_waiters(ws, false);
    struct waiter *main_g = &ws[nw++];
    *main_g = (struct waiter){.fn = "-", .status = "waiting", .reason = "chan receive",
                              .creator = "-"};
    w_arrive(main_g);
    main_g->id = main_g->self;
    for (int i = 0; i < nw; i++)
        print_waiter(&ws[i]);
    printf("READY\n");
    gort_chan_recv(gort_chan_make(sizeof(int64_t), 0), NULL);
    FAIL("goroutine 1 woke up");
}

static const struct mode modes[] = {
    {"states", mode_states},
    {"idle", mode_idle},
    {NULL, NULL},
};

RT_MAIN(modes)
