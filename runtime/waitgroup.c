/*
 * waitgroup.c — gort_waitgroup, with Go's sync.WaitGroup algorithm:
 * one 64-bit word holds the counter (high half) and the number of waiters
 * (low half); when the counter drops to zero every waiter is released.
 */
#include "runtime.h"

void gort_waitgroup_add(gort_waitgroup *wg, int64_t delta)
{
    uint64_t state = xadd64(&wg->state, (uint64_t)delta << 32);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (v < 0)
        panic_("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == (int32_t)delta)
        panic_("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0)
        return;
    /* Counter is 0 with waiters: nobody may change the state now. */
    if (load64(&wg->state) != state)
        panic_("sync: WaitGroup misuse: Add called concurrently with Wait");
    store64(&wg->state, 0);
    for (; w != 0; w--)
        semrelease(&wg->sema, false);
}

void gort_waitgroup_done(gort_waitgroup *wg)
{
    gort_waitgroup_add(wg, -1);
}

void gort_waitgroup_wait(gort_waitgroup *wg)
{
    for (;;) {
        uint64_t state = load64(&wg->state);
        if ((state >> 32) == 0)
            return;
        if (cas64(&wg->state, state, state + 1)) {
            semacquire(&wg->sema, false, WR_WAITGROUP);
            if (load64(&wg->state) != 0)
                panic_("sync: WaitGroup is reused before previous Wait has returned");
            return;
        }
    }
}
