/*
 * procs.c — Ps (GOMAXPROCS of them): the idle list, acquiring and releasing,
 * stopping and starting the world, and changing GOMAXPROCS.
 *
 * Stopping the world is cooperative here: running Ms give up their P the
 * next time their goroutine enters the scheduler (any channel, lock, sleep
 * or yield); Ps in system calls and idle Ps are taken at once.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct p **allp;
int32_t gomaxprocs;
static int32_t allp_cap;
static int32_t newprocs;          /* GOMAXPROCS to apply at start_the_world */
static struct rtlock worldsema;   /* one stop-the-world at a time */

enum { MAX_PROCS = 1024 };

static struct p *p_new(int32_t id)
{
    struct p *pp;
    if (posix_memalign((void **)&pp, 64, sizeof *pp) != 0)
        throw_("out of memory allocating a P");
    memset(pp, 0, sizeof *pp);
    pp->id = id;
    pp->status = P_IDLE;
    return pp;
}

/* Make allp hold n Ps.  Called at init and with the world stopped. */
static void procresize(int32_t n)
{
    if (n > allp_cap) {
        struct p **a = calloc((size_t)n, sizeof *a);
        if (!a)
            throw_("out of memory growing the P array");
        if (allp)
            memcpy(a, allp, (size_t)allp_cap * sizeof *a);
        for (int32_t i = allp_cap; i < n; i++)
            a[i] = p_new(i);
        /* The old array is kept for tools that may be reading it. */
        storep((void **)&allp, a);
        allp_cap = n;
    }
    /* Ps being removed hand their goroutines and caches to the globals. */
    for (int32_t i = n; i < gomaxprocs; i++) {
        struct p *pp = allp[i];
        struct g *gp;
        while ((gp = runq_get(pp)))
            globrunq_put(gp);
        g_cache_flush(pp);
        stack_cache_flush(pp);
        store32(&pp->status, P_DEAD);
    }
    for (int32_t i = gomaxprocs; i < n; i++)
        store32(&allp[i]->status, P_GCSTOP);
    store_i32(&gomaxprocs, n);
}

void procs_init(int32_t n)
{
    if (n < 1)
        n = 1;
    if (n > MAX_PROCS)
        n = MAX_PROCS;
    procresize(n);
    lock_acquire(&sched.lock);
    for (int32_t i = n - 1; i >= 0; i--)
        pidleput(allp[i]);
    lock_release(&sched.lock);
}

/* sched.lock held */
struct p *pidleget(void)
{
    struct p *pp = sched.pidle;
    if (pp) {
        sched.pidle = pp->link;
        pp->link = NULL;
        xadd32(&sched.npidle, (uint32_t)-1);
    }
    return pp;
}

/* sched.lock held */
void pidleput(struct p *pp)
{
    if (!runq_empty(pp))
        throw_("pidleput: P has non-empty run queue");
    store32(&pp->status, P_IDLE);
    pp->link = sched.pidle;
    sched.pidle = pp;
    xadd32(&sched.npidle, 1);
}

void acquirep(struct p *pp)
{
    struct m *m = getm();
    if (m->p || pp->m) {
        print_fmt("runtime: acquirep: m%lld has p=%p, p%d has m=%p status=%u\n",
                  (long long)m->id, (void *)m->p, pp->id, (void *)pp->m, pp->status);
        throw_("acquirep: invalid P state");
    }
    m->p = pp;
    pp->m = m;
    store32(&pp->status, P_RUNNING);
}

struct p *releasep(void)
{
    struct m *m = getm();
    struct p *pp = m->p;
    if (!pp || pp->m != m || load32(&pp->status) != P_RUNNING)
        throw_("releasep: invalid P state");
    m->p = NULL;
    pp->m = NULL;
    store32(&pp->status, P_IDLE);
    return pp;
}

/* Stop every P but the caller's.  The caller is a goroutine holding a P. */
void stop_the_world(void)
{
    lock_acquire(&worldsema);
    struct m *m = getm();
    lock_acquire(&sched.lock);
    sched.stopwait = gomaxprocs;
    store32(&sched.gcwaiting, 1);
    store32(&m->p->status, P_GCSTOP);
    sched.stopwait--;
    for (int32_t i = 0; i < gomaxprocs; i++) {
        struct p *pp = allp[i];
        if (load32(&pp->status) == P_SYSCALL && cas32(&pp->status, P_SYSCALL, P_GCSTOP)) {
            pp->syscalltick++;
            sched.stopwait--;
        }
    }
    struct p *pp;
    while ((pp = pidleget())) {
        store32(&pp->status, P_GCSTOP);
        sched.stopwait--;
    }
    bool wait = sched.stopwait > 0;
    lock_release(&sched.lock);
    if (wait) {
        /* Running Ms notice gcwaiting at their next schedule. */
        for (;;) {
            if (note_sleep_until(&sched.stopnote, nanotime() + 100000))
                break;
        }
        note_clear(&sched.stopnote);
    }
    if (sched.stopwait != 0)
        throw_("stop_the_world: not stopped");
}

void start_the_world(void)
{
    struct m *m = getm();
    lock_acquire(&sched.lock);
    if (newprocs) {
        procresize(newprocs);
        newprocs = 0;
        if (m->p->id >= gomaxprocs) {
            /* The caller's P went away: take P0 instead. */
            m->p->m = NULL;
            m->p = NULL;
            struct p *p0 = allp[0];
            p0->m = m;
            m->p = p0;
        }
    }
    store32(&m->p->status, P_RUNNING);
    struct p *runnable = NULL;
    for (int32_t i = gomaxprocs - 1; i >= 0; i--) {
        struct p *pp = allp[i];
        if (pp == m->p)
            continue;
        pp->m = NULL;
        if (runq_empty(pp)) {
            pidleput(pp);
        } else {
            store32(&pp->status, P_IDLE);
            pp->link = runnable;
            runnable = pp;
        }
    }
    store32(&sched.gcwaiting, 0);
    lock_release(&sched.lock);
    while (runnable) {
        struct p *pp = runnable;
        runnable = pp->link;
        pp->link = NULL;
        startm(pp, false);
    }
    wakep();
    lock_release(&worldsema);
    sysmon_wake();
}

int gort_maxprocs(int n)
{
    int32_t old = load_i32(&gomaxprocs);
    if (n <= 0 || n == old)
        return old;
    if (n > MAX_PROCS)
        n = MAX_PROCS;
    if (!getg_maybe())
        throw_("gort_maxprocs called outside a goroutine");
    stop_the_world();
    newprocs = n;
    start_the_world();
    return old;
}
