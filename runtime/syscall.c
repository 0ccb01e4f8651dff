/*
 * syscall.c — gort_syscall_enter / gort_syscall_exit.
 *
 * Entering, the goroutine keeps its M but leaves its P in state syscall
 * without an owner.  If the call returns quickly the same P is taken back
 * with one CAS; if it blocks, sysmon retakes the P and hands it to another
 * M so other goroutines run.  gort_syscall_enter itself is in
 * switch_amd64.S: it captures the caller's context and calls
 * syscall_enter_ctx.
 */
#include "runtime.h"

void exitsyscall_slow(void);   /* sched.c */

void syscall_enter_ctx(const struct gctx *ctx);
void syscall_enter_ctx(const struct gctx *ctx)
{
    struct m *m = getm();
    struct g *gp = m ? m->curg : NULL;
    if (!gp || !m->p)
        throw_("gort_syscall_enter outside a goroutine or inside a syscall");
    gp->ctx = *ctx;
    casgstatus(gp, G_RUNNING, G_SYSCALL);
    struct p *pp = m->p;
    xadd32(&pp->syscalltick, 1);
    pp->m = NULL;
    m->oldp = pp;
    m->p = NULL;
    store32(&pp->status, P_SYSCALL);
    if (load32(&sched.sysmonwait))
        sysmon_wake();          /* somebody must be able to retake the P */
}

void gort_syscall_exit(void)
{
    struct m *m = getm();
    struct g *gp = m ? m->curg : NULL;
    if (!gp || readgstatus(gp) != G_SYSCALL)
        throw_("gort_syscall_exit without gort_syscall_enter");
    struct p *oldp = m->oldp;
    m->oldp = NULL;

    /* Fast path: our P is still waiting for us. */
    if (oldp && load32(&oldp->status) == P_SYSCALL &&
        cas32(&oldp->status, P_SYSCALL, P_IDLE)) {
        acquirep(oldp);
        xadd32(&oldp->syscalltick, 1);
        casgstatus(gp, G_SYSCALL, G_RUNNING);
        return;
    }
    /* Any idle P will do. */
    if (!load32(&sched.gcwaiting) && load32(&sched.npidle) > 0) {
        lock_acquire(&sched.lock);
        struct p *pp = load32(&sched.gcwaiting) ? NULL : pidleget();
        lock_release(&sched.lock);
        if (pp) {
            acquirep(pp);
            casgstatus(gp, G_SYSCALL, G_RUNNING);
            return;
        }
    }
    /* No P: queue the goroutine on g0 and let this M go idle. */
    exitsyscall_slow();
}
