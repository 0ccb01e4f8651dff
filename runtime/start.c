/*
 * start.c — gort_main: bring the runtime up and run goroutine 1.
 *
 * The calling thread is not an M: it starts the first M with P0, then
 * sleeps until goroutine 1 returns and hands back its result.  Goroutines
 * still alive then are abandoned, as when Go's main returns.
 */
#include <stdlib.h>

#include "heap.h"
#include "pcline.h"

int64_t runtime_start;
int64_t runtime_start_wall;
int32_t env_maxprocs(void);   /* env.c */

static struct {
    int (*fn)(int, char **);
    int argc;
    char **argv;
    int ret;
    struct note done;
} mainarg;

static void main_goroutine(void *arg)
{
    (void)arg;
    mainarg.ret = mainarg.fn(mainarg.argc, mainarg.argv);
    store32(&sched.main_done, 1);
    note_wakeup(&mainarg.done);
}

/* The heap can be used before gort_main (from the main thread). */
void heap_init_once(void)
{
    static uint32_t state;     /* 0 no, 1 in progress, 2 done */
    if (load32(&state) == 2)
        return;
    if (cas32(&state, 0, 1)) {
        sizeclasses_init();
        mheap_init();
        gc_init();
        store32(&state, 2);
        return;
    }
    while (load32(&state) != 2)
        osyield();
}

int gort_main(int (*fn)(int, char **), int argc, char **argv)
{
    static uint32_t started;
    if (!cas32(&started, 0, 1))
        throw_("gort_main called twice");
    runtime_start = nanotime();
    runtime_start_wall = walltime();
    env_init();
    pcline_init();
    heap_init_once();
    stack_init();
    sigstop_init();
    sigfatal_init();
    procs_init(env_maxprocs());

    mainarg.fn = fn;
    mainarg.argc = argc;
    mainarg.argv = argv;

    struct g *gp = g_alloc();
    gp->goid = g_newid();
    gp->fn = main_goroutine;
    gp->arg = NULL;
    gp->startpc = (uintptr_t)fn;
    gp->gopc = (uintptr_t)__builtin_return_address(0);
    gp->parentgoid = 0;
    casgstatus(gp, G_DEAD, G_RUNNABLE);

    lock_acquire(&sched.lock);
    struct p *pp = pidleget();
    lock_release(&sched.lock);
    runq_put(pp, gp, false);
    sysmon_start();
    m_new(pp, false, NULL);

    note_sleep(&mainarg.done);
    return mainarg.ret;
}

uint64_t gort_go(void (*fn)(void *), void *arg)
{
    struct m *m = getm();
    struct g *cur = m ? m->curg : NULL;
    if (!cur || !m->p)
        throw_("gort_go called outside a goroutine");
    struct g *gp = g_alloc();
    gp->fn = fn;
    gp->arg = arg;
    gp->startpc = (uintptr_t)fn;
    gp->gopc = (uintptr_t)__builtin_return_address(0);
    gp->parentgoid = cur->goid;
    gp->waitreason = WR_NONE;
    gp->waitsince = 0;
    gp->lockedm = NULL;
    gp->lockcount = 0;
    gp->waiting = NULL;
    gp->param = NULL;
    gp->stacklo = gp->stackhi = 0;
    uint64_t id = g_newid();
    gp->goid = id;
    casgstatus(gp, G_DEAD, G_RUNNABLE);
    runq_put(m->p, gp, true);
    wakep();
    return id;      /* gp may already have run, exited and been reused */
}

uint64_t gort_goid(void)
{
    struct g *gp = getg_maybe();
    return gp ? gp->goid : 0;
}
