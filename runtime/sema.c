/*
 * sema.c — semaphores keyed by address, for the sync primitives (mutex,
 * waitgroup).  semacquire(addr) waits until *addr > 0 and decrements it;
 * semrelease(addr) increments it and wakes one waiter.
 *
 * Waiters hash by address into a table of buckets; within a bucket, one
 * root sudog per distinct address heads that address's FIFO queue (waitlink
 * / waittail).  A bucket's nwait lets semrelease skip the lock when nobody
 * waits.
 */
#include "runtime.h"

enum { SEMTAB_SIZE = 251 };

struct semroot {
    struct rtlock lock;
    struct sudog *roots;      /* one per address, linked by next */
    uint32_t nwait;           /* atomic */
} __attribute__((aligned(64)));

static struct semroot semtable[SEMTAB_SIZE];

static struct semroot *semroot_of(const void *addr)
{
    return &semtable[((uintptr_t)addr >> 3) % SEMTAB_SIZE];
}

static bool cansemacquire(uint32_t *addr)
{
    for (;;) {
        uint32_t v = load32(addr);
        if (v == 0)
            return false;
        if (cas32(addr, v, v - 1))
            return true;
    }
}

/* lock held: add s to addr's queue (at the front when lifo). */
static void sem_queue(struct semroot *root, uint32_t *addr, struct sudog *s, bool lifo)
{
    s->addr = addr;
    s->waitlink = NULL;
    s->waittail = NULL;
    s->ticket = 0;
    struct sudog **pp = &root->roots;
    for (struct sudog *t = *pp; t; pp = &t->next, t = *pp) {
        if (t->addr != addr)
            continue;
        if (lifo) {
            /* s becomes the root and takes over t's queue. */
            s->next = t->next;
            s->waitlink = t;
            s->waittail = t->waittail ? t->waittail : t;
            t->next = NULL;
            t->waittail = NULL;
            *pp = s;
        } else {
            if (t->waittail)
                t->waittail->waitlink = s;
            else
                t->waitlink = s;
            t->waittail = s;
        }
        return;
    }
    s->next = root->roots;
    root->roots = s;
}

/* lock held: remove and return the first waiter for addr. */
static struct sudog *sem_dequeue(struct semroot *root, uint32_t *addr)
{
    struct sudog **pp = &root->roots;
    for (struct sudog *t = *pp; t; pp = &t->next, t = *pp) {
        if (t->addr != addr)
            continue;
        struct sudog *next = t->waitlink;
        if (next) {
            next->next = t->next;
            next->waittail = t->waittail == next ? NULL : t->waittail;
            *pp = next;
        } else {
            *pp = t->next;
        }
        t->next = t->waitlink = t->waittail = NULL;
        return t;
    }
    return NULL;
}

static bool unlock_semroot(struct g *gp, void *root)
{
    (void)gp;
    lock_release(&((struct semroot *)root)->lock);
    return true;
}

void semacquire(uint32_t *addr, bool lifo, uint32_t reason)
{
    if (cansemacquire(addr))
        return;
    struct g *gp = getg();
    struct semroot *root = semroot_of(addr);
    struct sudog *s = sudog_acquire(gp);
    for (;;) {
        lock_acquire(&root->lock);
        xadd32(&root->nwait, 1);
        if (cansemacquire(addr)) {
            xadd32(&root->nwait, (uint32_t)-1);
            lock_release(&root->lock);
            break;
        }
        sem_queue(root, addr, s, lifo);
        park(reason, unlock_semroot, root);
        if (s->ticket != 0 || cansemacquire(addr))
            break;
        lifo = true;            /* woken but beaten to it: go first next time */
    }
    sudog_release(s);
}

void semrelease(uint32_t *addr, bool handoff)
{
    struct semroot *root = semroot_of(addr);
    xadd32(addr, 1);
    if (load32(&root->nwait) == 0)
        return;
    lock_acquire(&root->lock);
    if (load32(&root->nwait) == 0) {
        lock_release(&root->lock);
        return;
    }
    struct sudog *s = sem_dequeue(root, addr);
    if (s)
        xadd32(&root->nwait, (uint32_t)-1);
    lock_release(&root->lock);
    if (!s)
        return;
    bool handed = handoff && cansemacquire(addr);
    if (handed)
        s->ticket = 1;          /* the waiter owns the unit: no race to take it */
    ready(s->g, true);          /* s may vanish with the waiter's frame from here on */
    if (handed && getm()->locks == 0) {
        /* Direct handoff: let the waiter run now, on this P. */
        yield_local();
    }
}
