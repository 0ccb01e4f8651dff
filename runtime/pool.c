/*
 * pool.c — gort_pool, after Go's sync.Pool: each P has a private slot and a
 * shared stack; get takes from its own P, then steals from the others, then
 * tries the victim cache (all of it: unlike Go's, where another P's private
 * victim is out of reach), then calls the constructor.  Every collection
 * (with the world stopped) moves each pool's caches to its victim and drops
 * the old victim, so a pooled object survives one collection unused and is
 * freed by the next.
 *
 * The per-P caches are gort_alloc memory reachable from the pool, so the
 * collector sees pooled objects while they are cached; the pool itself
 * must live in global data or the collected heap.
 */
#include <string.h>

#include "heap.h"

struct poollocal {
    void *private;
    void **shared;
    uint32_t n, cap;
    struct rtlock lock;
};

static struct {
    struct rtlock lock;
    gort_pool **pools;
    size_t n, cap;
} allpools;

static void register_pool(gort_pool *p)
{
    lock_acquire(&allpools.lock);
    if (!p->registered) {
        if (allpools.n == allpools.cap) {
            size_t cap = allpools.cap ? allpools.cap * 2 : 64;
            gort_pool **a = persistent_alloc(cap * sizeof *a);
            if (allpools.n)
                memcpy(a, allpools.pools, allpools.n * sizeof *a);
            allpools.pools = a;
            allpools.cap = cap;
        }
        allpools.pools[allpools.n++] = p;
        p->registered = 1;
    }
    lock_release(&allpools.lock);
}

/* This P's cache, creating the per-P array if GOMAXPROCS changed. */
static struct poollocal *pin(gort_pool *p, int32_t *id)
{
    struct m *m = getm();
    *id = m->p->id;
    uint32_t procs = (uint32_t)gomaxprocs;
    if (p->localsize != procs || !p->local) {
        register_pool(p);
        struct poollocal *l = gort_alloc(procs * sizeof *l);
        p->local = l;           /* a collection may have run: set after allocating */
        p->localsize = procs;
        *id = getm()->p->id;
    }
    return (struct poollocal *)p->local + *id;
}

static void *pop_shared(struct poollocal *l)
{
    void *x = NULL;
    lock_acquire(&l->lock);
    if (l->n > 0) {
        x = l->shared[--l->n];
        l->shared[l->n] = NULL;
    }
    lock_release(&l->lock);
    return x;
}

/* From a cache array: this P's private slot, then every shared stack
 * starting with this P's.  In the victim array (no longer any P's own, and
 * only ever emptied) every private slot is taken too, by exchange: an
 * object that survived a collection comes back to whichever P asks, not
 * only to the one that put it. */
static void *take_from(struct poollocal *ls, uint32_t n, int32_t self, bool victim)
{
    if (!ls)
        return NULL;
    uint32_t first = self < 0 ? 0 : (uint32_t)self % n;
    if (self >= 0 && (uint32_t)self < n) {
        void *x = victim ? xchgp(&ls[self].private, NULL) : ls[self].private;
        if (x) {
            ls[self].private = NULL;
            return x;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        void *x = pop_shared(&ls[(first + i) % n]);
        if (x)
            return x;
    }
    for (uint32_t i = 0; victim && i < n; i++) {
        void *x = xchgp(&ls[(first + i) % n].private, NULL);
        if (x)
            return x;
    }
    return NULL;
}

void *gort_pool_get(gort_pool *p)
{
    int32_t id;
    struct poollocal *l = pin(p, &id);
    void *x = l->private;
    if (x) {
        l->private = NULL;
        return x;
    }
    x = take_from(p->local, p->localsize, id, false);
    if (!x)
        x = take_from(p->victim, p->victimsize, id, true);
    if (!x && p->new_fn)
        x = p->new_fn();
    return x;
}

void gort_pool_put(gort_pool *p, void *x)
{
    if (!x)
        return;
    int32_t id;
    struct poollocal *l = pin(p, &id);
    if (!l->private) {
        l->private = x;
        return;
    }
    lock_acquire(&l->lock);
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        lock_release(&l->lock);
        void **a = gort_alloc(cap * sizeof *a);   /* may collect: re-pin after */
        l = pin(p, &id);
        lock_acquire(&l->lock);
        if (l->n == l->cap && cap > l->cap) {
            if (l->n)
                memcpy(a, l->shared, l->n * sizeof *a);
            l->shared = a;
            l->cap = cap;
        }
        if (l->n == l->cap) {
            lock_release(&l->lock);
            return;             /* lost a race with a collection: drop x */
        }
    }
    l->shared[l->n++] = x;
    lock_release(&l->lock);
}

/* World stopped: caches become victims, old victims are dropped. */
void pool_cleanup(void)
{
    for (size_t i = 0; i < allpools.n; i++) {
        gort_pool *p = allpools.pools[i];
        p->victim = p->local;
        p->victimsize = p->localsize;
        p->local = NULL;
        p->localsize = 0;
    }
}
