/*
 * procs.c — Ps (GOMAXPROCS of them): the idle list, acquiring and releasing,
 * stopping and starting the world, and changing GOMAXPROCS.
 *
 * Stopping the world takes idle Ps and Ps in system calls at once; running
 * Ms give up their P the next time their goroutine enters the scheduler,
 * or, for the collector, are suspended by a signal (signal_stop.c).
 */
#include <stdlib.h>
#include <string.h>

#include "heap.h"

struct p **allp;
int32_t gomaxprocs;
static int32_t allp_cap;
static int32_t newprocs;          /* GOMAXPROCS to apply at start_the_world */
struct rtlock worldsema;          /* one stop-the-world at a time; excludes P-less allocation */

enum { MAX_PROCS = 1024 };

static struct p *p_new(int32_t id)
{
    struct p *pp;
    if (posix_memalign((void **)&pp, 64, sizeof *pp) != 0)
        throw_("out of memory allocating a P");
    memset(pp, 0, sizeof *pp);
    pp->id = id;
    pp->mcache = persistent_alloc(sizeof *pp->mcache);
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
        /* Its cached spans must take part in collections again. */
        mcache_release_all(pp->mcache);
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

/* Every P is stopped, or (for the collector) held by a thread suspended in
 * its signal handler.  A P that entered a system call since the stop
 * began is taken now. */
static bool all_ps_stopped(enum stw_mode mode)
{
    for (int32_t i = 0; i < gomaxprocs; i++) {
        struct p *pp = allp[i];
        uint32_t st = load32(&pp->status);
        if (st == P_SYSCALL && cas32(&pp->status, P_SYSCALL, P_GCSTOP)) {
            xadd32(&pp->syscalltick, 1);
            continue;
        }
        if (st == P_GCSTOP)
            continue;
        if (mode == STW_GC && st == P_RUNNING) {
            struct m *mp = loadp((void *const *)&pp->m);
            if (mp && m_is_suspended(mp))
                continue;
        }
        return false;
    }
    return true;
}

/* Stop every P but the caller's (a goroutine, or g0 holding a P).  In
 * STW_COOPERATIVE mode each running M gives up its P when its goroutine
 * next enters the scheduler.  STW_GC also stops threads running goroutine
 * code with a signal (signal_stop.c), so a goroutine that never calls the
 * runtime cannot delay the collector. */
/* Take the world lock without ever blocking a thread that another stop may
 * be waiting for: a goroutine yields (a safe point) while the lock is busy;
 * the scheduler stack (a collection) gives up.  Returns false if given up. */
static bool worldsema_acquire(void)
{
    struct m *m = getm();
    for (int i = 0;; i++) {
        if (lock_try(&worldsema)) {
            if (m)
                m->locks++;     /* as lock_acquire does; lock_release undoes it */
            return true;
        }
        if (!m) {
            /* The collector's thread: nothing waits on it, so it waits. */
            if (i < 10)
                osyield();
            else
                usleep_ns(20000);
            continue;
        }
        if (!m->curg)
            return false;
        gort_yield();
        m = getm();
    }
}

bool stop_the_world(enum stw_mode mode)
{
    if (!worldsema_acquire())
        return false;
    struct m *self = getm();            /* NULL on the collector's thread */
    lock_acquire(&sched.lock);
    store32(&sched.gcwaiting, 1);
    if (self)
        store32(&self->p->status, P_GCSTOP);
    for (int32_t i = 0; i < gomaxprocs; i++) {
        struct p *pp = allp[i];
        if (load32(&pp->status) == P_SYSCALL && cas32(&pp->status, P_SYSCALL, P_GCSTOP))
            xadd32(&pp->syscalltick, 1);
    }
    struct p *pp;
    while ((pp = pidleget()))
        store32(&pp->status, P_GCSTOP);
    lock_release(&sched.lock);
    if (mode == STW_GC)
        sigstop_begin();
    for (int iter = 0;; iter++) {
        /* Threads first, then Ps: a P handed between threads while we look
         * is caught by the second check. */
        bool threads = mode != STW_GC || sigstop_all_stopped(self, iter);
        if (threads && all_ps_stopped(mode))
            break;
        if (iter < 20)
            osyield();
        else
            usleep_ns(20000);
    }
    /* The background sweeper is not a thread the stop suspends: wait for a
     * sweep in progress; it starts no other while gcwaiting is set. */
    while (load32(&gc.sweepers) > 0)
        osyield();
    return true;
}

void start_the_world(enum stw_mode mode)
{
    struct m *m = getm();
    struct p *own = m ? m->p : NULL;    /* no P on the collector's thread */
    lock_acquire(&sched.lock);
    if (newprocs && own) {
        procresize(newprocs);
        newprocs = 0;
        if (m->p->id >= gomaxprocs) {
            /* The caller's P went away: take P0 instead. */
            m->p->m = NULL;
            struct p *p0 = allp[0];
            p0->m = m;
            m->p = p0;
        }
        own = m->p;
    }
    if (own)
        store32(&own->status, P_RUNNING);
    struct p *runnable = NULL;
    for (int32_t i = gomaxprocs - 1; i >= 0; i--) {
        struct p *pp = allp[i];
        if (pp == own || load32(&pp->status) != P_GCSTOP)
            continue;           /* ours, or held by a thread that was suspended */
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
    /* Only now the suspended threads go on: one released while gcwaiting
     * was still set could enter the scheduler, hand its P to this stop
     * after the loop above had passed it as running, and sleep there with
     * nobody left to restart it (a hang seen with one P). */
    if (mode == STW_GC)
        sigstop_end();
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
    stop_the_world(STW_COOPERATIVE);
    newprocs = n;
    start_the_world(STW_COOPERATIVE);
    return old;
}
