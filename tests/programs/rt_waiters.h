/*
 * rt_waiters.h — goroutines parked for every wait reason, for the programs
 * whose goroutines a test then looks at from outside (the runtime
 * descriptor, the fatal-error dump, the CPU use of an idle program).
 *
 * spawn_waiters() starts one goroutine per kind below, waits until each is
 * about to block, and gives them time to block.  print_waiter() prints what
 * a goroutine is, as one line the tests parse:
 *
 *   G ID status=S reason="R" fn=F creator=C parent=P self=ID local=0xADDR tid=T locked=L
 *
 * fn is the goroutine's start function, creator the function that called
 * gort_go, self the id the goroutine read itself, local the address of a
 * variable on its stack, tid the thread it last ran on.
 */
#ifndef RT_WAITERS_H
#define RT_WAITERS_H

#include "rt_common.h"

struct waiter {
    const char *fn;
    const char *status;      /* expected gstatus name */
    const char *reason;      /* expected wait reason ("" unless waiting) */
    const char *creator;
    uint64_t id, parent, self;
    uintptr_t local;         /* 0: the goroutine never ran */
    long tid;
    int locked;
};

static gort_chan *w_recv_chan, *w_send_chan, *w_sel_a, *w_sel_b, *w_once_chan, *w_locked_chan;
static gort_mutex w_held;          /* locked by goroutine 1, never unlocked */
static gort_waitgroup w_wg;        /* counter 1, never done */
static gort_once w_once;
static int w_pipe[2];              /* nobody writes: the reader stays in read() */
static atomic_int w_arrived;

static struct waiter *w_self_slot; /* handed to the goroutine being started */

/* Record who we are, just before blocking. */
static NOINLINE void w_arrive(struct waiter *w)
{
    int local = 0;
    w->self = gort_goid();
    w->local = (uintptr_t)&local;
    w->tid = tid();
    __asm__ volatile("" : : "r"(&local) : "memory");
    atomic_fetch_add(&w_arrived, 1);
}

static void wait_chan_recv(void *a)
{
    w_arrive(a);
    gort_chan_recv(w_recv_chan, NULL);
    FAIL("wait_chan_recv returned");
}

static void wait_chan_send(void *a)
{
    int64_t v = 1;
    w_arrive(a);
    gort_chan_send(w_send_chan, &v);
    FAIL("wait_chan_send returned");
}

static void wait_nil_recv(void *a)
{
    w_arrive(a);
    gort_chan_recv(NULL, NULL);
    FAIL("wait_nil_recv returned");
}

static void wait_nil_send(void *a)
{
    int64_t v = 1;
    w_arrive(a);
    gort_chan_send(NULL, &v);
    FAIL("wait_nil_send returned");
}

static void wait_select(void *a)
{
    int64_t in = 0, out = 1;
    gort_select_case cs[] = {
        {.chan = w_sel_a, .dir = GORT_SELECT_RECV, .elem = &in},
        {.chan = w_sel_b, .dir = GORT_SELECT_SEND, .elem = &out},
    };
    w_arrive(a);
    gort_select(cs, 2, false);
    FAIL("wait_select returned");
}

static void wait_select_no_cases(void *a)
{
    w_arrive(a);
    gort_select(NULL, 0, false);
    FAIL("wait_select_no_cases returned");
}

static void wait_sleep(void *a)
{
    w_arrive(a);
    gort_sleep(SEC(3600));
    FAIL("wait_sleep returned");
}

static void wait_mutex(void *a)
{
    w_arrive(a);
    gort_mutex_lock(&w_held);
    FAIL("wait_mutex returned");
}

static void wait_waitgroup(void *a)
{
    w_arrive(a);
    gort_waitgroup_wait(&w_wg);
    FAIL("wait_waitgroup returned");
}

/* The first caller of w_once blocks inside the once function... */
static void once_body_blocks(void)
{
    w_arrive(w_self_slot);
    gort_chan_recv(w_once_chan, NULL);
    FAIL("once_body_blocks returned");
}

static void wait_once_holder(void *a)
{
    (void)a;
    gort_once_do(&w_once, once_body_blocks);
    FAIL("wait_once_holder returned");
}

/* ...so the next one waits in gort_once_do. */
static void once_body_unused(void)
{
    FAIL("once body called twice");
}

static void wait_once(void *a)
{
    w_arrive(a);
    gort_once_do(&w_once, once_body_unused);
    FAIL("wait_once returned");
}

static void wait_syscall(void *a)
{
    char c;
    w_arrive(a);
    gort_syscall_enter();
    ssize_t n;
    do
        n = read(w_pipe[0], &c, 1);
    while (n < 0 && errno == EINTR);
    gort_syscall_exit();
    FAIL("wait_syscall returned");
}

static void wait_locked(void *a)
{
    gort_lock_os_thread();
    w_arrive(a);
    gort_chan_recv(w_locked_chan, NULL);
    FAIL("wait_locked returned");
}

/* A goroutine created by another one than goroutine 1: the spawner fills
 * in the waiter's id, parent and creator, then exits. */
static void wait_nested(void *a)
{
    w_arrive(a);
    gort_chan_recv(w_recv_chan, NULL);
    FAIL("wait_nested returned");
}

static NOINLINE void nested_spawner(void *a)
{
    struct waiter *w = a;
    w->parent = gort_goid();
    w->creator = __func__;
    w->id = gort_go(wait_nested, w);
}

enum {
    W_ASLEEP = 1,   /* counts as asleep for deadlock detection */
    W_NESTED = 2,   /* fn starts the goroutine that waits */
};

struct waiter_kind {
    const char *fn_name;
    void (*fn)(void *);
    const char *status, *reason;
    int flags;
    int locked;
};

#define KIND(f, st, r, fl, lk) {#f, f, st, r, fl, lk}
static const struct waiter_kind waiter_kinds[] = {
    KIND(wait_chan_recv, "waiting", "chan receive", W_ASLEEP, 0),
    KIND(wait_chan_send, "waiting", "chan send", W_ASLEEP, 0),
    KIND(wait_nil_recv, "waiting", "chan receive (nil chan)", W_ASLEEP, 0),
    KIND(wait_nil_send, "waiting", "chan send (nil chan)", W_ASLEEP, 0),
    KIND(wait_select, "waiting", "select", W_ASLEEP, 0),
    KIND(wait_select_no_cases, "waiting", "select (no cases)", W_ASLEEP, 0),
    KIND(wait_mutex, "waiting", "sync.Mutex.Lock", W_ASLEEP, 0),
    KIND(wait_waitgroup, "waiting", "sync.WaitGroup.Wait", W_ASLEEP, 0),
    KIND(wait_once_holder, "waiting", "chan receive", W_ASLEEP, 0),
    KIND(wait_once, "waiting", "sync.Once.Do", W_ASLEEP, 0),
    KIND(wait_locked, "waiting", "chan receive", W_ASLEEP, 1),
    {"wait_nested", nested_spawner, "waiting", "chan receive", W_ASLEEP | W_NESTED, 0},
    KIND(wait_sleep, "waiting", "sleep", 0, 0),
    KIND(wait_syscall, "syscall", "", 0, 0),
};
#undef KIND
enum { NKINDS = sizeof waiter_kinds / sizeof waiter_kinds[0] };

static void print_waiter(const struct waiter *w)
{
    printf("G %" PRIu64 " status=%s reason=\"%s\" fn=%s creator=%s parent=%" PRIu64
           " self=%" PRIu64 " local=0x%" PRIxPTR " tid=%ld locked=%d\n",
           w->id, w->status, w->reason, w->fn, w->creator, w->parent, w->self, w->local,
           w->tid, w->locked);
}

/* Start every waiter kind (only those that count as asleep when
 * only_asleep), wait until they have blocked, and fill ws[]; returns how
 * many.  Goroutine 1 ends up holding w_held. */
static NOINLINE int spawn_waiters(struct waiter *ws, bool only_asleep)
{
    w_recv_chan = gort_chan_make(sizeof(int64_t), 0);
    w_send_chan = gort_chan_make(sizeof(int64_t), 0);
    w_sel_a = gort_chan_make(sizeof(int64_t), 0);
    w_sel_b = gort_chan_make(sizeof(int64_t), 0);
    w_once_chan = gort_chan_make(sizeof(int64_t), 0);
    w_locked_chan = gort_chan_make(sizeof(int64_t), 0);
    if (pipe(w_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));
    gort_mutex_lock(&w_held);
    gort_waitgroup_add(&w_wg, 1);

    int n = 0;
    for (int k = 0; k < NKINDS; k++) {
        const struct waiter_kind *kd = &waiter_kinds[k];
        if (only_asleep && !(kd->flags & W_ASLEEP))
            continue;
        struct waiter *w = &ws[n++];
        *w = (struct waiter){.fn = kd->fn_name, .status = kd->status, .reason = kd->reason,
                             .creator = __func__, .parent = gort_goid(), .locked = kd->locked};
        int before = atomic_load(&w_arrived);
        w_self_slot = w;
        uint64_t id = gort_go(kd->fn, w);
        if (!(kd->flags & W_NESTED))
            w->id = id;
        /* one at a time: the once waiter must come after the holder */
        await_count(&w_arrived, before + 1);
    }
    gort_sleep(MSEC(50));
    return n;
}

#endif /* RT_WAITERS_H */
