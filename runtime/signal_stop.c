/*
 * signal_stop.c — stopping threads that run goroutine code, for the
 * collector.
 *
 * A goroutine in a loop that never calls the runtime cannot reach a safe
 * point, so the collector sends its thread SIGURG.  The handler (on the
 * M's alternate signal stack) saves the interrupted registers in the M,
 * which the collector scans as roots along with the goroutine's stack from
 * the saved stack pointer, and waits on a futex until the world restarts.
 * A thread inside the runtime (holding a runtime lock, allocating, or with
 * its pc in the runtime's code) is not suspended: it is about to reach a
 * safe point by itself, and is signalled again if it does not.
 *
 * The program must leave SIGURG to the runtime and not block it in
 * goroutines.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "runtime.h"

extern char __start_gort_text[], __stop_gort_text[];

enum { SIGSTACK_BYTES = 64 * 1024, RESIGNAL_EVERY = 4 };

static uint32_t active;        /* a collector's stop is in progress */
static uint32_t stop_gen;      /* numbers the stops; m->suspended holds the one it obeys */
static uint32_t resume_seq;    /* bumped to release suspended threads */

bool m_is_suspended(struct m *m)
{
    uint32_t s = load32(&m->suspended);
    return s != 0 && s == load32(&stop_gen) && load32(&active);
}

static void on_sigurg(int sig, siginfo_t *info, void *ucv)
{
    (void)sig;
    (void)info;
    int saved_errno = errno;
    struct m *m = getm();
    ucontext_t *uc = ucv;
    if (!m || !load32(&active) || m_is_suspended(m) || !m->curg || m->locks > 0)
        goto out;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text)
        goto out;
    memcpy(m->sregs, uc->uc_mcontext.gregs, sizeof m->sregs);
    uint32_t seq = load32(&resume_seq);
    store32(&m->suspended, load32(&stop_gen));
    while (load32(&resume_seq) == seq)
        futex_wait(&resume_seq, seq, -1);
    store32(&m->suspended, 0);
out:
    errno = saved_errno;
}

void sigstop_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigurg;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGURG, &sa, NULL) != 0)
        throw_("cannot install the SIGURG handler");
}

void sigstop_m_init(struct m *m)
{
    void *p = mmap(NULL, SIGSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        throw_("cannot allocate a signal stack");
    stack_t ss = {.ss_sp = p, .ss_size = SIGSTACK_BYTES, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        throw_("sigaltstack failed");
    m->sigstack = p;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGURG);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

bool m_on_sigstack(const struct m *m, uintptr_t sp)
{
    uintptr_t lo = (uintptr_t)m->sigstack;
    return lo && sp >= lo && sp <= lo + SIGSTACK_BYTES;
}

void sigstop_begin(void)
{
    xadd32(&stop_gen, 1);
    store32(&active, 1);
}

/* Every M other than self is suspended or asleep in the scheduler; signal
 * those running goroutine code that are neither. */
bool sigstop_all_stopped(struct m *self, int iter)
{
    bool all = true;
    for (struct m *mp = loadp((void *const *)&allm); mp; mp = mp->alllink) {
        if (mp == self || m_is_suspended(mp) || load32(&mp->blocked))
            continue;
        all = false;
        if (loadp((void *const *)&mp->curg) && iter % RESIGNAL_EVERY == 0)
            pthread_kill(mp->thread, SIGURG);
    }
    return all;
}

/* Release the suspended threads.  No need to wait for them: a thread still
 * waking up holds the previous stop's number, which the next stop does not
 * accept. */
void sigstop_end(void)
{
    store32(&active, 0);
    xadd32(&resume_seq, 1);
    futex_wake(&resume_seq, INT_MAX);
}
