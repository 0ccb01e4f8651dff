/*
 * mutex.c — gort_mutex, with Go's sync.Mutex algorithm.
 *
 * state: bit 0 locked, bit 1 a woken waiter is running, bit 2 starvation
 * mode, the rest the number of waiters.  Normal mode lets a running
 * goroutine barge in (and spin briefly) ahead of woken waiters, which is
 * fast; a waiter that has waited over 1 ms switches the mutex to
 * starvation mode, where unlock hands ownership straight to the first
 * waiter, so no one waits forever.
 */
#include "runtime.h"

enum {
    LOCKED = 1,
    WOKEN = 2,
    STARVING = 4,
    WAITER_SHIFT = 3,
    STARVATION_NS = 1000000,
    ACTIVE_SPIN = 4,
    SPIN_CYCLES = 30,
};

/* Spinning makes sense on a multicore machine with other Ps running and
 * nothing queued on ours. */
static bool can_spin(int iter)
{
    if (iter >= ACTIVE_SPIN || ncpu <= 1)
        return false;
    if (gomaxprocs <= (int32_t)load32(&sched.npidle) + (int32_t)load32(&sched.nmspinning) + 1)
        return false;
    struct m *m = getm();
    return m->p && runq_empty(m->p);
}

void mutex_lock_reason(gort_mutex *mu, uint32_t reason)
{
    int32_t *state = &mu->state;
    if (cas_i32(state, 0, LOCKED))
        return;
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = load_i32(state);
    for (;;) {
        /* Spin while it is locked in normal mode, advertising that we are
         * awake so unlock does not wake another waiter. */
        if ((old & (LOCKED | STARVING)) == LOCKED && can_spin(iter)) {
            if (!awoke && (old & WOKEN) == 0 && (old >> WAITER_SHIFT) != 0 &&
                cas_i32(state, old, old | WOKEN))
                awoke = true;
            for (int i = 0; i < SPIN_CYCLES; i++)
                cpu_relax();
            iter++;
            old = load_i32(state);
            continue;
        }
        int32_t new_ = old;
        if ((old & STARVING) == 0)
            new_ |= LOCKED;            /* don't grab a starving mutex: queue */
        if (old & (LOCKED | STARVING))
            new_ += 1 << WAITER_SHIFT;
        if (starving && (old & LOCKED))
            new_ |= STARVING;
        if (awoke) {
            if ((new_ & WOKEN) == 0)
                throw_("sync: inconsistent mutex state");
            new_ &= ~WOKEN;
        }
        if (cas_i32(state, old, new_)) {
            if ((old & (LOCKED | STARVING)) == 0)
                return;                /* locked it */
            bool queued_before = wait_start != 0;
            if (!queued_before)
                wait_start = nanotime();
            semacquire(&mu->sema, queued_before, reason);
            starving = starving || nanotime() - wait_start > STARVATION_NS;
            old = load_i32(state);
            if (old & STARVING) {
                /* Ownership was handed to us; we are still counted as a
                 * waiter and the state is inconsistent until fixed here. */
                if ((old & (LOCKED | WOKEN)) || (old >> WAITER_SHIFT) == 0)
                    throw_("sync: inconsistent mutex state");
                int32_t delta = LOCKED - (1 << WAITER_SHIFT);
                if (!starving || (old >> WAITER_SHIFT) == 1)
                    delta -= STARVING;   /* leave starvation mode */
                xadd_i32(state, delta);
                return;
            }
            awoke = true;
            iter = 0;
        } else {
            old = load_i32(state);
        }
    }
}

void gort_mutex_lock(gort_mutex *mu)
{
    mutex_lock_reason(mu, WR_MUTEX);
}

bool gort_mutex_trylock(gort_mutex *mu)
{
    int32_t old = load_i32(&mu->state);
    if (old & (LOCKED | STARVING))
        return false;
    return cas_i32(&mu->state, old, old | LOCKED);
}

void gort_mutex_unlock(gort_mutex *mu)
{
    int32_t *state = &mu->state;
    int32_t new_ = xadd_i32(state, -LOCKED);
    if (new_ == 0)
        return;
    if (((new_ + LOCKED) & LOCKED) == 0)
        throw_("sync: unlock of unlocked mutex");
    if ((new_ & STARVING) == 0) {
        int32_t old = new_;
        for (;;) {
            /* No waiters, or someone is already awake or holds it. */
            if ((old >> WAITER_SHIFT) == 0 || (old & (LOCKED | WOKEN | STARVING)))
                return;
            new_ = (old - (1 << WAITER_SHIFT)) | WOKEN;
            if (cas_i32(state, old, new_)) {
                semrelease(&mu->sema, false);
                return;
            }
            old = load_i32(state);
        }
    }
    /* Starving: hand the mutex to the first waiter. */
    semrelease(&mu->sema, true);
}
