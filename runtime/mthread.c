/*
 * mthread.c — Ms: the OS threads that run goroutines.
 *
 * Ms are created on demand (never more than needed to keep every P busy,
 * plus those blocked in system calls or wired to goroutines) and never
 * exit.  An M without work sleeps on its own futex in the idle list until
 * startm hands it a P.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpuprof.h"
#include "runtime.h"

struct m *allm;

enum { M_STACK_BYTES = 512 * 1024 };

int32_t mcount(void)
{
    return (int32_t)sched.mnext;
}

void m_name_pthread(pthread_t t, int64_t id)
{
    char name[16];
    snprintf(name, sizeof name, "gort-m%lld", (long long)id);
    pthread_setname_np(t, name);
}

void m_name_thread(struct m *m)
{
    m_name_pthread(pthread_self(), m->id);
}

static void *mstart(void *arg)
{
    struct m *m = arg;
    tls_m = m;
    m->thread = pthread_self();
    m->procid = syscall(SYS_gettid);
    m_name_thread(m);
    sigstop_m_init(m);
    cpuprof_m_started(m);
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            m->stacklo = (uintptr_t)addr;
            m->stackhi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&attr);
    }
    struct p *pp = m->nextp;
    m->nextp = NULL;
    acquirep(pp);
    mstart_loop(m);
}

/* Create an M that starts with pp (and spinning, if asked). */
void m_new(struct p *pp, bool spinning, struct g *unused)
{
    (void)unused;
    struct m *m = calloc(1, sizeof *m);
    if (!m)
        throw_("out of memory creating a thread");
    m->nextp = pp;
    m->spinning = spinning;
    m->rand = fastrand64() | 1;
    /* Not to be suspended by a stop of the world (signal_stop.c) from here
     * until the thread exists: the stop waits for pp, which only the new
     * thread can give up. */
    struct m *self = getm();
    if (self)
        self->locks++;
    lock_acquire(&sched.lock);
    m->id = sched.mnext++;
    m->alllink = allm;
    storep((void **)&allm, m);
    lock_release(&sched.lock);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, M_STACK_BYTES);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&m->thread, &attr, mstart, m);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        print_fmt("runtime: pthread_create failed: error %d\n", err);
        throw_("failed to create new OS thread");
    }
    /* Named from here too, so the thread never shows its creator's name. */
    m_name_pthread(m->thread, m->id);
    if (self)
        self->locks--;
}

void runtime_thread_start(const char *name, void *(*fn)(void *), void *arg, size_t stack_bytes)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_bytes);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        print_fmt("runtime: pthread_create failed: error %d\n", err);
        throw_("failed to create a runtime thread");
    }
    pthread_setname_np(t, name);
}

/* sched.lock held */
void mput(struct m *m)
{
    m->schedlink = sched.midle;
    sched.midle = m;
    sched.nmidle++;
    checkdead();
}

/* sched.lock held */
struct m *mget(void)
{
    struct m *m = sched.midle;
    if (m) {
        sched.midle = m->schedlink;
        sched.nmidle--;
    }
    return m;
}

/* Put this M to sleep until it is handed a P, then take that P. */
void stopm(void)
{
    struct m *m = getm();
    if (m->p)
        throw_("stopm holding p");
    if (m->spinning)
        throw_("stopm spinning");
    lock_acquire(&sched.lock);
    mput(m);
    lock_release(&sched.lock);
    store32(&m->blocked, 1);
    note_sleep(&m->park);
    store32(&m->blocked, 0);
    note_clear(&m->park);
    struct p *pp = m->nextp;
    m->nextp = NULL;
    acquirep(pp);
}

/* Run pp on some M (an idle one, or a new one).  With pp NULL, take an idle
 * P, or do nothing if there is none.  A spinning start was counted in
 * sched.nmspinning by the caller. */
void startm(struct p *pp, bool spinning)
{
    lock_acquire(&sched.lock);
    if (!pp) {
        pp = pidleget();
        if (!pp) {
            lock_release(&sched.lock);
            if (spinning)
                xadd32(&sched.nmspinning, (uint32_t)-1);
            return;
        }
    }
    struct m *nm = mget();
    lock_release(&sched.lock);
    if (!nm) {
        m_new(pp, spinning, NULL);
        return;
    }
    nm->spinning = spinning;
    nm->nextp = pp;
    note_wakeup(&nm->park);
}

/* Start an M to look for work if there is an idle P and nobody is already
 * looking.  Called after making a goroutine runnable. */
void wakep(void)
{
    /* Pairs with the sequentially consistent publication of work and with
     * find_runnable's re-check after a spinning M stops spinning. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (load32(&sched.npidle) == 0)
        return;
    if (load32(&sched.nmspinning) != 0 || !cas32(&sched.nmspinning, 0, 1))
        return;
    startm(NULL, true);
}

/* pp has no M (its M blocks in a syscall or sleeps wired to a goroutine):
 * find it one if there is work, or park it. */
void handoffp(struct p *pp)
{
    if (!runq_empty(pp) || load_i32(&sched.runqsize) > 0) {
        startm(pp, false);
        return;
    }
    /* No spinning or idle M to notice new work: be the one. */
    if (load32(&sched.nmspinning) + load32(&sched.npidle) == 0 &&
        cas32(&sched.nmspinning, 0, 1)) {
        startm(pp, true);
        return;
    }
    lock_acquire(&sched.lock);
    if (sched.gcwaiting) {
        store32(&pp->status, P_GCSTOP);
        lock_release(&sched.lock);
        return;
    }
    if (sched.runqsize > 0) {
        lock_release(&sched.lock);
        startm(pp, false);
        return;
    }
    pidleput(pp);
    lock_release(&sched.lock);
}
