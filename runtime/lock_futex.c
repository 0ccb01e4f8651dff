/*
 * lock_futex.c — runtime locks and notes on Linux futexes.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

void futex_wait(uint32_t *addr, uint32_t val, int64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void futex_wake(uint32_t *addr, int n)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

enum { UNLOCKED = 0, LOCKED = 1, SLEEPING = 2, ACTIVE_SPIN = 100 };

bool lock_try(struct rtlock *l)
{
    return cas32(&l->key, UNLOCKED, LOCKED);
}

void lock_acquire(struct rtlock *l)
{
    struct m *m = getm();
    if (m)
        m->locks++;
    if (likely(cas32(&l->key, UNLOCKED, LOCKED)))
        return;
    /* Spin briefly: critical sections are short. */
    for (int i = 0; i < ACTIVE_SPIN; i++) {
        if (loadrelaxed32(&l->key) == UNLOCKED && cas32(&l->key, UNLOCKED, LOCKED))
            return;
        cpu_relax();
    }
    /* Mark the lock contended and sleep until it is released. */
    while (xchg32(&l->key, SLEEPING) != UNLOCKED)
        futex_wait(&l->key, SLEEPING, -1);
}

void lock_release(struct rtlock *l)
{
    if (xchg32(&l->key, UNLOCKED) == SLEEPING)
        futex_wake(&l->key, 1);
    struct m *m = getm();
    if (m)
        m->locks--;
}

void note_clear(struct note *n)
{
    store32(&n->key, 0);
}

void note_wakeup(struct note *n)
{
    if (xchg32(&n->key, 1) != 0)
        return;                 /* already woken */
    futex_wake(&n->key, 1);
}

void note_sleep(struct note *n)
{
    while (load32(&n->key) == 0)
        futex_wait(&n->key, 0, -1);
}

bool note_sleep_until(struct note *n, int64_t deadline)
{
    while (load32(&n->key) == 0) {
        int64_t left = deadline - nanotime();
        if (left <= 0)
            return false;
        futex_wait(&n->key, 0, left);
    }
    return true;
}
