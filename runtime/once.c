/*
 * once.c — gort_once: the fast path is one load; the first caller runs fn
 * under the once's mutex while later callers wait on it ("sync.Once.Do").
 */
#include "runtime.h"

void gort_once_do(gort_once *o, void (*fn)(void))
{
    if (load32(&o->done))
        return;
    mutex_lock_reason(&o->m, WR_ONCE);
    if (!o->done) {
        fn();
        store32(&o->done, 1);
    }
    gort_mutex_unlock(&o->m);
}
