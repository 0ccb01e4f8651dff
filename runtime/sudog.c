/*
 * sudog.c — the records of goroutines waiting on channels and semaphores.
 *
 * As in Go, they come from per-P caches refilled in batches from a global
 * list and carved from metadata chunks, so the waiters of one channel sit
 * densely in memory: waking 100,000 of them (a close) walks a few hundred
 * cache lines instead of touching 100,000 goroutine stacks.  A sudog holds
 * no heap pointer of its own (elem points at the waiter's variable, which
 * the waiter's frame also holds), so the collector need not scan them.
 */
#include <string.h>

#include "heap.h"

enum { CHUNK = 256, P_CACHE = 64 };

static struct {
    struct rtlock lock;
    struct sudog *free;         /* linked by next */
} global;

static struct sudog *take_global_batch(struct p *pp)
{
    lock_acquire(&global.lock);
    if (!global.free) {
        struct sudog *chunk = persistent_alloc(CHUNK * sizeof *chunk);
        for (int i = 0; i < CHUNK - 1; i++)
            chunk[i].next = &chunk[i + 1];
        global.free = chunk;
    }
    struct sudog *s = global.free;
    global.free = s->next;
    while (pp && pp->nsudog < P_CACHE / 2 && global.free) {
        struct sudog *t = global.free;
        global.free = t->next;
        pp->sudogcache[pp->nsudog++] = t;
    }
    lock_release(&global.lock);
    return s;
}

struct sudog *sudog_acquire(struct g *gp)
{
    struct m *m = getm();
    struct p *pp = m ? m->p : NULL;
    struct sudog *s;
    if (pp && pp->nsudog > 0)
        s = pp->sudogcache[--pp->nsudog];
    else
        s = take_global_batch(pp);
    memset(s, 0, sizeof *s);
    s->g = gp;
    return s;
}

void sudog_release(struct sudog *s)
{
    s->elem = NULL;
    s->c = NULL;
    struct m *m = getm();
    struct p *pp = m ? m->p : NULL;
    if (pp && pp->nsudog < P_CACHE) {
        pp->sudogcache[pp->nsudog++] = s;
        return;
    }
    lock_acquire(&global.lock);
    s->next = global.free;
    global.free = s;
    while (pp && pp->nsudog > P_CACHE / 2) {
        struct sudog *t = pp->sudogcache[--pp->nsudog];
        t->next = global.free;
        global.free = t;
    }
    lock_release(&global.lock);
}
