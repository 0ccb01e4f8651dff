/*
 * sched.c — the scheduler loop: finding a runnable goroutine (local queue,
 * global queue, stealing), running it, and what happens when it switches
 * back (park, yield, exit); making goroutines ready; deadlock detection.
 *
 * Every M runs mstart_loop on its own thread stack ("g0").  A goroutine
 * leaves the CPU only by switching to its M's g0 context with m->after
 * saying why; the loop then finishes the transition on g0, where it is safe
 * to publish the goroutine to other Ms (a parked goroutine can be resumed
 * elsewhere only after its context is fully saved).
 */
#include <string.h>

#include "blockprof.h"
#include "heap.h"

struct schedt sched;
static uint32_t dying_freeze;     /* a fatal error is being printed */
__thread struct m *tls_m __attribute__((tls_model("initial-exec")));

uint32_t readgstatus(struct g *gp)
{
    return load32(&gp->status);
}

static bool casgstatus_(struct g *gp, uint32_t old, uint32_t new_, bool unsettled)
{
    gstate_announce(gp, new_, unsettled);
    if (likely(cas32(&gp->status, old, new_))) {
        /* About to run, or made runnable (with a new argument, or a value
         * handed over): the collector must look at it again. */
        if (new_ == G_RUNNING || new_ == G_RUNNABLE)
            gc_flag_g(gp);
        return true;
    }
    print_fmt("runtime: goroutine %llu status %u, want %u -> %u\n",
              (unsigned long long)gp->goid, readgstatus(gp), old, new_);
    throw_("bad goroutine status transition");
}

bool casgstatus(struct g *gp, uint32_t old, uint32_t new_)
{
    return casgstatus_(gp, old, new_, false);
}

bool casgstatus_unsettled(struct g *gp, uint32_t old, uint32_t new_)
{
    return casgstatus_(gp, old, new_, true);
}

/* Called on a fresh goroutine's stack by gort_gostart. */
NORETURN void goroutine_main(void);
NORETURN void goroutine_main(void)
{
    struct g *gp = getg();
    gp->fn(gp->arg);
    goexit();
}

/* Give gp a stack the first time it runs, with a context that enters
 * gort_gostart near the stack's top.  Runs on the scheduler stack only, so
 * no goroutine frame keeps another goroutine's stack address.  The first
 * frame starts 16 bytes below the top: no address a goroutine computes for
 * its own frames then equals the end of its stack span, which is the
 * address of the first object of the span that may follow (a conservative
 * pointer to it). */
static void g_init_stack(struct p *pp, struct g *gp)
{
    stack_alloc(pp, gp);
    uintptr_t top = gp->stackhi - 16;
    memset(&gp->ctx, 0, sizeof gp->ctx);
    gp->ctx.rsp = top;
    gp->ctx.rip = (uintptr_t)gort_gostart;
    gp->ctx.mxcsr = 0x1f80;       /* ABI defaults: all exceptions masked, round to nearest */
    gp->ctx.fpucw = 0x037f;
    ((uintptr_t *)top)[-1] = (uintptr_t)gort_gostart;
}

/* Run gp on this M.  A goroutine taken from a run queue starts a new time
 * slice (schedtick, which sysmon watches to ask long runners to yield); one
 * resumed at once (after a collection it ran, or a cancelled park) inherits
 * the current slice. */
static void execute(struct m *m, struct g *gp, bool inherit)
{
    struct p *pp = m->p;
    m->curg = gp;
    gp->m = m;
    casgstatus(gp, G_RUNNABLE, G_RUNNING);
    if (!inherit)
        pp->schedtick++;
    if (gp->stacklo == 0)
        g_init_stack(pp, gp);
    gort_switch(&m->g0ctx, &gp->ctx);
    /* Back on g0: gp switched out; m->after says why. */
}

/* Switch from the current goroutine to its M's scheduler with the given
 * reason.  Returns when the goroutine runs again (possibly on another M). */
static void switch_to_g0(enum m_after why)
{
    struct m *m = getm();
    struct g *gp = m->curg;
    m->after = why;
    gort_switch(&gp->ctx, &m->g0ctx);
}

static void drop_g(struct m *m, struct g *gp)
{
    m->curg = NULL;
    gp->m = NULL;
}

/* Finish the transition of gp, which just switched to g0.  Returns a
 * goroutine to run at once (gp itself when a park was cancelled), or NULL. */
static struct g *after_switch(struct m *m, struct g *gp)
{
    enum m_after why = m->after;
    m->after = AFTER_NONE;
    stack_check(gp);

    switch (why) {
    case AFTER_PARK: {
        bool (*unlockf)(struct g *, void *) = m->waitunlockf;
        void *lockp = m->waitlock;
        m->waitunlockf = NULL;
        m->waitlock = NULL;
        drop_g(m, gp);
        casgstatus(gp, G_RUNNING, G_WAITING);
        if (unlockf && !unlockf(gp, lockp)) {
            casgstatus(gp, G_WAITING, G_RUNNABLE);
            return gp;
        }
        return NULL;
    }
    case AFTER_YIELD:
        drop_g(m, gp);
        casgstatus(gp, G_RUNNING, G_RUNNABLE);
        lock_acquire(&sched.lock);
        globrunq_put(gp);
        lock_release(&sched.lock);
        return NULL;
    case AFTER_YIELD_LOCAL:
        drop_g(m, gp);
        casgstatus(gp, G_RUNNING, G_RUNNABLE);
        runq_put(m->p, gp, false);
        return NULL;
    case AFTER_EXIT:
        drop_g(m, gp);
        casgstatus(gp, G_RUNNING, G_DEAD);
        if (gp->lockedm) {
            /* Exiting while wired to the thread releases the thread. */
            gp->lockedm->lockedg = NULL;
            gp->lockedm = NULL;
            gp->lockcount = 0;
        }
        if (gp->stackspan)
            stack_free(m->p, gp);
        g_free(m->p, gp);
        return NULL;
    case AFTER_EXITSYSCALL: {
        /* gp left its syscall and found no P: queue it and let this M idle. */
        drop_g(m, gp);
        casgstatus(gp, G_SYSCALL, G_RUNNABLE);
        lock_acquire(&sched.lock);
        struct p *pp = load32(&sched.gcwaiting) ? NULL : pidleget();
        if (pp) {
            lock_release(&sched.lock);
            acquirep(pp);
            return gp;          /* a P freed up meanwhile */
        }
        globrunq_put(gp);
        lock_release(&sched.lock);
        return NULL;
    }
    case AFTER_NONE:
        break;
    }
    throw_("switch to scheduler without a reason");
}

/* Finish a direct hand-off (park_direct): runs on the next goroutine's
 * stack, once the parked goroutine's context is saved. */
static void park_commit(void *arg)
{
    struct m *m = arg;
    struct g *gp = m->parked;
    bool (*unlockf)(struct g *, void *) = m->waitunlockf;
    void *lockp = m->waitlock;
    m->parked = NULL;
    m->waitunlockf = NULL;
    m->waitlock = NULL;
    stack_check(gp);
    gstate_settled(gp);     /* its context is saved: before a waker may change it */
    if (unlockf && !unlockf(gp, lockp)) {
        /* The park was cancelled: gp runs again after the one we switched to. */
        casgstatus(gp, G_WAITING, G_RUNNABLE);
        runq_put(m->p, gp, false);
    }
}

/* The common case of a park: the goroutine this one just made ready sits
 * in the P's runnext (a channel hand-off, a mutex hand-off).  Switch to it
 * directly instead of through the scheduler: one context switch instead of
 * two.  Returns false when the scheduler must decide. */
static bool park_direct(struct m *m, struct g *gp, bool (*unlockf)(struct g *, void *), void *lock)
{
    struct p *pp = m->p;
    struct g *next = loadp((void *const *)&pp->runnext);
    /* A goroutine that never ran gets its stack on the scheduler stack. */
    if (!next || next->stacklo == 0 || next->lockedm || m->lockedg || load32(&sched.gcwaiting) ||
        load32(&dying_freeze) || (pp->schedtick % 61 == 0 && load_i32(&sched.runqsize) > 0))
        return false;
    if (!casp((void **)&pp->runnext, next, NULL))
        return false;
    /* gp is marked waiting before its context is saved: no one can make it
     * ready until unlockf releases the lock its waker needs. */
    casgstatus_unsettled(gp, G_RUNNING, G_WAITING);
    m->parked = gp;
    m->waitunlockf = unlockf;
    m->waitlock = lock;
    gp->m = NULL;
    m->curg = next;
    next->m = m;
    casgstatus(next, G_RUNNABLE, G_RUNNING);
    /* next inherits the time slice (no schedtick): goroutines handing the
     * thread back and forth share one, so sysmon can ask them to yield. */
    gort_switch_call(&gp->ctx, &next->ctx, park_commit, m);
    return true;
}

/* Park the current goroutine.  After it is marked waiting and its context
 * saved, unlockf(gp, lock) runs (if given): it typically releases the lock
 * that made the decision to wait; returning false cancels the park. */
void park(uint32_t reason, bool (*unlockf)(struct g *, void *), void *lock)
{
    struct m *m = getm();
    struct g *gp = m->curg;
    gp->waitreason = reason;
    int64_t since = gp->waitsince = nanotime();
    struct p *pp = m->p;
    if (unlikely(loadrelaxed32(&pp->preempt))) {
        /* The slice is used up (sysmon): let the run queue go before
         * runnext, or two goroutines handing off to each other would
         * starve it. */
        store32(&pp->preempt, 0);
        struct g *next = xchgp((void **)&pp->runnext, NULL);
        if (next)
            runq_put(pp, next, false);
    }
    if (!park_direct(m, gp, unlockf, lock)) {
        m->waitunlockf = unlockf;
        m->waitlock = lock;
        switch_to_g0(AFTER_PARK);
    }
    gp->waitreason = WR_NONE;
    if (unlikely(loadrelaxed64((const uint64_t *)&blockprof_rate) != 0))
        blockprof_event(reason, since);
}

static bool unlock_rtlock(struct g *gp, void *l)
{
    (void)gp;
    lock_release(l);
    return true;
}

void park_unlock(uint32_t reason, struct rtlock *l)
{
    park(reason, unlock_rtlock, l);
}

/* Make a waiting goroutine runnable: on this P's queue (in runnext when
 * next), or on the global queue from a thread without a P. */
void ready(struct g *gp, bool next)
{
    casgstatus(gp, G_WAITING, G_RUNNABLE);
    struct m *m = getm();
    if (m && m->p) {
        runq_put(m->p, gp, next);
    } else {
        lock_acquire(&sched.lock);
        globrunq_put(gp);
        lock_release(&sched.lock);
    }
    wakep();
}

/* Make a list of waiting goroutines (linked by schedlink) runnable at once,
 * as closing a channel does: as many as fit in half of this P's queue go
 * there, the rest onto the global queue in one batch, and an M is started
 * for each idle P that can take some (Go's injectglist). */
void ready_list(struct g *list)
{
    struct m *m = getm();
    struct p *pp = m ? m->p : NULL;
    struct g *head = NULL, *tail = NULL;
    int32_t nglobal = 0, n = 0;
    while (list) {
        struct g *gp = list;
        list = gp->schedlink;
        gp->schedlink = NULL;
        casgstatus(gp, G_WAITING, G_RUNNABLE);
        n++;
        if (pp && runq_len(pp) < RUNQ_LEN / 2) {
            runq_put(pp, gp, false);
            continue;
        }
        if (tail)
            tail->schedlink = gp;
        else
            head = gp;
        tail = gp;
        nglobal++;
    }
    if (head) {
        lock_acquire(&sched.lock);
        globrunq_put_batch(head, tail, nglobal);
        lock_release(&sched.lock);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (; n > 0 && load32(&sched.npidle) > 0; n--)
        startm(NULL, false);
}

NORETURN void goexit(void)
{
    switch_to_g0(AFTER_EXIT);
    throw_("dead goroutine resumed");
}

void gort_yield(void)
{
    switch_to_g0(AFTER_YIELD);
}

void yield_local(void)
{
    switch_to_g0(AFTER_YIELD_LOCAL);
}

void exitsyscall_slow(void);
void exitsyscall_slow(void)
{
    switch_to_g0(AFTER_EXITSYSCALL);
}

/* ---- Stopping for the world ------------------------------------------------ */

/* Hand this M's P to a stop-the-world in progress and sleep until the world
 * starts again. */
static void gcstopm(struct m *m)
{
    if (m->spinning) {
        m->spinning = 0;
        xadd32(&sched.nmspinning, (uint32_t)-1);
    }
    struct p *pp = releasep();
    store32(&pp->status, P_GCSTOP);
    stopm();
}

/* ---- Finding work ------------------------------------------------------------ */

static void resetspinning(struct m *m)
{
    m->spinning = 0;
    uint32_t n = xadd32(&sched.nmspinning, (uint32_t)-1);
    if ((int32_t)n < 0)
        throw_("resetspinning: negative nmspinning");
    /* This M found work: let another one look for more. */
    wakep();
}

static struct g *steal_work(struct m *m)
{
    int32_t n = gomaxprocs;
    for (int round = 0; round < 4; round++) {
        bool stealnext = round == 3;
        uint32_t start = fastrandn((uint32_t)n);
        for (int32_t k = 0; k < n; k++) {
            if (load32(&sched.gcwaiting))
                return NULL;
            struct p *victim = allp[(start + (uint32_t)k) % (uint32_t)n];
            if (victim == m->p)
                continue;
            struct g *gp = runq_steal(m->p, victim, stealnext);
            if (gp)
                return gp;
        }
    }
    return NULL;
}

/* Any P with local work, or global work?  Used after dropping spinning. */
static bool work_anywhere(void)
{
    if (load_i32(&sched.runqsize) > 0)
        return true;
    for (int32_t i = 0; i < gomaxprocs; i++)
        if (!runq_empty(allp[i]))
            return true;
    return false;
}


/* Find a goroutine to run; blocks (giving up the P) until there is one. */
static struct g *find_runnable(struct m *m)
{
    struct g *gp;
top:
    if (unlikely(load32(&dying_freeze)))
        for (;;)
            futex_wait(&dying_freeze, 1, -1);   /* a fatal error is being printed */
    if (unlikely(load32(&sched.gcwaiting))) {
        gcstopm(m);
        goto top;
    }
    struct p *pp = m->p;

    /* Fairness: look at the global queue now and then. */
    if (pp->schedtick % 61 == 0 && load_i32(&sched.runqsize) > 0) {
        lock_acquire(&sched.lock);
        gp = globrunq_get(pp, 1);
        lock_release(&sched.lock);
        if (gp)
            return gp;
    }
    if ((gp = runq_get(pp)))
        return gp;
    if (load_i32(&sched.runqsize) > 0) {
        lock_acquire(&sched.lock);
        gp = globrunq_get(pp, 0);
        lock_release(&sched.lock);
        if (gp)
            return gp;
    }

    /* Steal, unless enough Ms are already spinning. */
    uint32_t busy = (uint32_t)gomaxprocs - load32(&sched.npidle);
    if (m->spinning || 2 * load32(&sched.nmspinning) < busy) {
        if (!m->spinning) {
            m->spinning = 1;
            xadd32(&sched.nmspinning, 1);
        }
        if ((gp = steal_work(m)))
            return gp;
        if (load32(&sched.gcwaiting))
            goto top;
    }

    /* Nothing to do: give up the P. */
    lock_acquire(&sched.lock);
    if (sched.gcwaiting) {
        lock_release(&sched.lock);
        goto top;
    }
    if (sched.runqsize > 0) {
        gp = globrunq_get(pp, 0);
        lock_release(&sched.lock);
        return gp;
    }
    releasep();
    pidleput(pp);
    lock_release(&sched.lock);

    /* A spinning M must re-check after it stops spinning: a producer that
     * saw it spinning did not wake anyone (see wakep). */
    if (m->spinning) {
        m->spinning = 0;
        if ((int32_t)xadd32(&sched.nmspinning, (uint32_t)-1) < 0)
            throw_("find_runnable: negative nmspinning");
        if (work_anywhere()) {
            lock_acquire(&sched.lock);
            pp = pidleget();
            lock_release(&sched.lock);
            if (pp) {
                acquirep(pp);
                m->spinning = 1;
                xadd32(&sched.nmspinning, 1);
                goto top;
            }
        }
    }
    stopm();
    goto top;
}

NORETURN void mstart_loop(struct m *m)
{
    for (;;) {
        struct g *gp;
        if (m->lockedg) {
            /* This thread belongs to a goroutine: wait until it can run. */
            stoplockedm();
            gp = m->lockedg;
        } else {
            if (!m->p)
                stopm();
            gp = find_runnable(m);
            if (m->spinning)
                resetspinning(m);
            if (gp->lockedm && gp->lockedm != m) {
                startlockedm(gp);      /* hands our P to gp's thread */
                continue;
            }
        }
        for (bool inherit = false; gp; inherit = true) {
            execute(m, gp, inherit);
            /* Whoever switched back: direct hand-offs (park_direct) may
             * have run other goroutines since execute. */
            gp = after_switch(m, m->curg);
        }
    }
}

/* ---- Deadlock detection -------------------------------------------------------- */

/* Called with sched.lock held whenever an M goes idle.  If no M is left
 * running, nothing is runnable and no timer will fire, every goroutine is
 * blocked forever. */
void checkdead(void)
{
    if (load32(&sched.main_done) || gc_busy())
        return;                 /* the collector will wake its waiters */
    int32_t run = mcount() - sched.nmidle - sched.nmidlelocked;
    if (run > 0)
        return;
    if (run < 0) {
        print_fmt("runtime: checkdead: mcount=%d nmidle=%d nmidlelocked=%d\n", mcount(),
                  sched.nmidle, sched.nmidlelocked);
        throw_("checkdead: inconsistent counts");
    }
    if (sched.runqsize > 0)
        return;                 /* about to be picked up */
    if (timers_pending())
        return;                 /* the timer thread will wake someone */
    uint64_t n = load64(&allglen);
    struct g **gs = loadp((void *const *)&allgs);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t s = readgstatus(gs[i]);
        if (s == G_RUNNABLE || s == G_RUNNING || s == G_SYSCALL)
            return;
    }
    lock_release(&sched.lock);
    throw_("all goroutines are asleep - deadlock!");
}

/* Used by fatal.c: stop Ms from picking up goroutines while a fatal error
 * is printed. */
void sched_freeze(void);
void sched_freeze(void)
{
    store32(&dying_freeze, 1);
}
