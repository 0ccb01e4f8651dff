/*
 * select.c — gort_select: wait on several channel operations at once.
 *
 * As in Go: visit the cases in a random order (poll order) so ready cases
 * are chosen uniformly, lock every channel in address order (lock order)
 * so two selects never deadlock, and if nothing is ready, enqueue one
 * sudog per case and park.  The first waker claims the goroutine by
 * setting g->selectdone; the others skip its sudogs.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

enum { MAX_CASES = 1 << 16, STACK_CASES = 8 };

struct selstate {
    gort_select_case *cases;
    uint32_t *lockorder;
    int n;                    /* entries in lockorder */
};

static void sellock(struct selstate *st)
{
    gort_chan *last = NULL;
    for (int k = 0; k < st->n; k++) {
        gort_chan *c = st->cases[st->lockorder[k]].chan;
        if (c != last)
            lock_acquire(&c->lock);
        last = c;
    }
}

static void selunlock(struct selstate *st)
{
    for (int k = st->n - 1; k >= 0; k--) {
        gort_chan *c = st->cases[st->lockorder[k]].chan;
        if (k > 0 && st->cases[st->lockorder[k - 1]].chan == c)
            continue;           /* unlock each channel once, at its first entry */
        lock_release(&c->lock);
    }
}

static bool selparkcommit(struct g *gp, void *arg)
{
    (void)gp;
    selunlock(arg);
    return true;
}

/* Heap sort of the non-nil cases by channel address (n may be large). */
static void sort_lockorder(gort_select_case *cases, uint32_t *order, int n)
{
#define KEY(k) ((uintptr_t)cases[order[k]].chan)
    for (int start = n / 2 - 1, end = n;; ) {
        int root;
        if (start >= 0) {
            root = start--;
        } else {
            if (--end <= 0)
                break;
            uint32_t t = order[0];
            order[0] = order[end];
            order[end] = t;
            root = 0;
        }
        for (;;) {
            int child = 2 * root + 1;
            if (child >= end)
                break;
            if (child + 1 < end && KEY(child + 1) > KEY(child))
                child++;
            if (KEY(root) >= KEY(child))
                break;
            uint32_t t = order[root];
            order[root] = order[child];
            order[child] = t;
            root = child;
        }
    }
#undef KEY
}

/* Attempt case i with every channel locked.  If it can proceed, perform
 * it, unlock everything and return true. */
static bool try_case(struct selstate *st, int i)
{
    gort_select_case *cs = &st->cases[i];
    gort_chan *c = cs->chan;
    struct g *wake = NULL;
    if (cs->dir == GORT_SELECT_SEND) {
        if (c->closed) {
            selunlock(st);
            panic_("send on closed channel");
        }
        struct sudog *sg = waitq_dequeue(&c->recvq);
        if (sg)
            wake = chan_give(c, sg, cs->elem);
        else if (c->qcount < c->dataqsiz)
            chan_buf_put(c, cs->elem);
        else
            return false;
    } else {
        struct sudog *sg = waitq_dequeue(&c->sendq);
        if (sg) {
            wake = chan_take(c, sg, cs->elem);
            cs->ok = true;
        } else if (c->qcount > 0) {
            chan_buf_take(c, cs->elem);
            cs->ok = true;
        } else if (c->closed) {
            if (cs->elem && c->elemsize)
                memset(cs->elem, 0, c->elemsize);
            cs->ok = false;
        } else {
            return false;
        }
    }
    selunlock(st);
    if (wake)
        ready(wake, true);
    return true;
}

int gort_select(gort_select_case *cases, int ncases, bool has_default)
{
    if (ncases < 0 || ncases > MAX_CASES)
        panic_("gort_select: invalid number of cases");
    if (ncases == 0) {
        if (has_default)
            return -1;
        park(WR_SELECT_NO_CASES, NULL, NULL);
        throw_("unreachable: woke from select with no cases");
    }
    uint32_t small_poll[STACK_CASES], small_lock[STACK_CASES];
    struct sudog *small_sg[STACK_CASES];
    uint32_t *pollorder = small_poll, *lockorder = small_lock;
    struct sudog **sgs = small_sg;
    void *heap = NULL;
    if (ncases > STACK_CASES) {
        size_t bytes = (size_t)ncases * (2 * sizeof(uint32_t) + sizeof(struct sudog *));
        heap = malloc(bytes);
        if (!heap)
            throw_("out of memory in select");
        sgs = heap;
        pollorder = (uint32_t *)(sgs + ncases);
        lockorder = pollorder + ncases;
    }

    /* Random poll order over the cases with a channel. */
    int n = 0;
    for (int i = 0; i < ncases; i++) {
        cases[i].ok = false;
        if (!cases[i].chan)
            continue;
        if (cases[i].dir != GORT_SELECT_SEND && cases[i].dir != GORT_SELECT_RECV)
            panic_("gort_select: invalid case direction");
        uint32_t j = fastrandn((uint32_t)n + 1);
        pollorder[n] = pollorder[j];
        pollorder[j] = (uint32_t)i;
        n++;
    }
    memcpy(lockorder, pollorder, (size_t)n * sizeof *lockorder);
    sort_lockorder(cases, lockorder, n);
    struct selstate st = {cases, lockorder, n};

    if (n == 0) {
        free(heap);
        if (has_default)
            return -1;
        park(WR_SELECT, NULL, NULL);   /* only nil channels: never ready */
        throw_("unreachable: woke from select on nil channels");
    }

    sellock(&st);
    for (int k = 0; k < n; k++) {
        int i = (int)pollorder[k];
        if (try_case(&st, i)) {
            free(heap);
            return i;
        }
    }
    if (has_default) {
        selunlock(&st);
        free(heap);
        return -1;
    }

    /* Nothing ready: wait on every case. */
    struct g *gp = getg();
    store32(&gp->selectdone, 0);
    gp->param = NULL;
    struct sudog *list = NULL, **tail = &list;
    for (int k = 0; k < n; k++) {
        int i = (int)lockorder[k];
        struct sudog *s = sgs[i] = sudog_acquire(gp);
        s->isselect = true;
        s->elem = cases[i].elem;
        s->c = cases[i].chan;
        *tail = s;
        tail = &s->waitlink;
        waitq_enqueue(cases[i].dir == GORT_SELECT_SEND ? &s->c->sendq : &s->c->recvq, s);
    }
    gp->waiting = list;
    park(WR_SELECT, selparkcommit, &st);

    /* Woken: the waker left its sudog in param.  Dequeue the others. */
    sellock(&st);
    struct sudog *won = gp->param;
    int chosen = -1;
    for (int k = 0; k < n; k++) {
        int i = (int)lockorder[k];
        struct sudog *s = sgs[i];
        if (s == won) {
            chosen = i;
            continue;
        }
        waitq_remove(cases[i].dir == GORT_SELECT_SEND ? &s->c->sendq : &s->c->recvq, s);
    }
    gp->waiting = NULL;
    gp->param = NULL;
    if (chosen < 0)
        throw_("select: woken without a case");
    bool ok = won->success;
    selunlock(&st);
    for (int k = 0; k < n; k++)
        sudog_release(sgs[lockorder[k]]);
    free(heap);
    if (cases[chosen].dir == GORT_SELECT_SEND) {
        if (!ok)
            panic_("send on closed channel");
    } else {
        cases[chosen].ok = ok;
    }
    return chosen;
}
