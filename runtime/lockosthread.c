/*
 * lockosthread.c — wiring a goroutine to its OS thread.
 *
 * While wired, the goroutine runs only on that M and the M runs nothing
 * else: when the goroutine blocks, the M gives its P away and sleeps; when
 * another M picks the goroutine off a run queue, it hands its P to the
 * wired M and goes idle itself.
 */
#include "runtime.h"

void gort_lock_os_thread(void)
{
    struct m *m = getm();
    struct g *gp = m->curg;
    gp->lockcount++;
    if (gp->lockcount == 0)
        throw_("gort_lock_os_thread nested too deeply");
    m->lockedg = gp;
    gp->lockedm = m;
}

void gort_unlock_os_thread(void)
{
    struct m *m = getm();
    struct g *gp = m->curg;
    if (gp->lockcount == 0)
        return;                 /* as in Go: unlocking an unlocked thread is a no-op */
    if (--gp->lockcount == 0) {
        m->lockedg = NULL;
        gp->lockedm = NULL;
    }
}

/* The current M's wired goroutine is not runnable: give up the P and sleep
 * until another M hands over a P along with the goroutine. */
void stoplockedm(void)
{
    struct m *m = getm();
    if (m->p) {
        struct p *pp = releasep();
        handoffp(pp);
    }
    lock_acquire(&sched.lock);
    sched.nmidlelocked++;
    checkdead();
    lock_release(&sched.lock);
    store32(&m->blocked, 1);
    note_sleep(&m->park);
    store32(&m->blocked, 0);
    note_clear(&m->park);
    lock_acquire(&sched.lock);
    sched.nmidlelocked--;
    lock_release(&sched.lock);
    struct p *pp = m->nextp;
    m->nextp = NULL;
    acquirep(pp);
    if (readgstatus(m->lockedg) != G_RUNNABLE)
        throw_("stoplockedm: wired goroutine is not runnable");
}

/* gp (runnable, taken off a queue) is wired to another M: give that M our
 * P and go idle. */
void startlockedm(struct g *gp)
{
    struct m *target = gp->lockedm;
    struct p *pp = releasep();
    target->nextp = pp;
    note_wakeup(&target->park);
    stopm();
}
