/*
 * chan.c — channels.
 *
 * A channel is a ring buffer of dataqsiz elements plus two queues of
 * waiting goroutines (sudogs on their own stacks).  A send that finds a
 * waiting receiver copies straight into the receiver's destination; a
 * receive that finds a waiting sender on a full buffered channel takes the
 * head of the buffer and moves the sender's value into the freed slot, so
 * FIFO order holds.  Close wakes every waiter.
 */
#include <string.h>

#include "runtime.h"

enum { MAX_ELEM = 1 << 16 };

gort_chan *gort_chan_make(size_t elemsize, size_t cap)
{
    if (elemsize > MAX_ELEM)
        panic_("makechan: invalid channel element type");
    if (elemsize && cap > (SIZE_MAX - sizeof(gort_chan)) / elemsize)
        panic_("makechan: size out of range");
    /* One block, scanned: buffered elements may hold pointers. */
    gort_chan *c = gort_alloc(sizeof *c + cap * elemsize);
    c->elemsize = elemsize;
    c->dataqsiz = cap;
    c->buf = (char *)(c + 1);
    return c;
}

size_t gort_chan_len(gort_chan *c)
{
    return c ? __atomic_load_n(&c->qcount, __ATOMIC_RELAXED) : 0;
}

size_t gort_chan_cap(gort_chan *c)
{
    return c ? c->dataqsiz : 0;
}

void *chan_slot(gort_chan *c, size_t i)
{
    return c->buf + i * c->elemsize;
}

/* ---- Wait queues ------------------------------------------------------------ */

void waitq_enqueue(struct waitq *q, struct sudog *s)
{
    s->next = NULL;
    s->prev = q->last;
    if (q->last)
        q->last->next = s;
    else
        q->first = s;
    q->last = s;
}

void waitq_remove(struct waitq *q, struct sudog *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (q->first == s)
        q->first = s->next;
    else
        return;                 /* not queued (already dequeued) */
    if (s->next)
        s->next->prev = s->prev;
    else
        q->last = s->prev;
    s->next = s->prev = NULL;
}

/* Take the first waiter that can still be woken: a select's other cases may
 * already have claimed its goroutine. */
struct sudog *waitq_dequeue(struct waitq *q)
{
    for (;;) {
        struct sudog *s = q->first;
        if (!s)
            return NULL;
        q->first = s->next;
        if (q->first)
            q->first->prev = NULL;
        else
            q->last = NULL;
        s->next = s->prev = NULL;
        if (s->isselect && !cas32(&s->g->selectdone, 0, 1))
            continue;
        return s;
    }
}

static bool unlock_chan(struct g *gp, void *c)
{
    (void)gp;
    lock_release(&((gort_chan *)c)->lock);
    return true;
}

/* ---- Transfers (c->lock held) ------------------------------------------------ */

void chan_buf_put(gort_chan *c, const void *elem)
{
    if (c->elemsize)
        memcpy(chan_slot(c, c->sendx), elem, c->elemsize);
    if (++c->sendx == c->dataqsiz)
        c->sendx = 0;
    __atomic_store_n(&c->qcount, c->qcount + 1, __ATOMIC_RELAXED);
}

void chan_buf_take(gort_chan *c, void *elem)
{
    void *slot = chan_slot(c, c->recvx);
    if (elem && c->elemsize)
        memcpy(elem, slot, c->elemsize);
    memset(slot, 0, c->elemsize);
    if (++c->recvx == c->dataqsiz)
        c->recvx = 0;
    __atomic_store_n(&c->qcount, c->qcount - 1, __ATOMIC_RELAXED);
}

/* Hand elem to the waiting receiver sg; returns its goroutine to ready
 * once the lock is released. */
struct g *chan_give(gort_chan *c, struct sudog *sg, const void *elem)
{
    if (sg->elem && c->elemsize)
        memcpy(sg->elem, elem, c->elemsize);
    sg->success = true;
    sg->g->param = sg;
    return sg->g;
}

/* Receive into elem from the waiting sender sg; returns its goroutine. */
struct g *chan_take(gort_chan *c, struct sudog *sg, void *elem)
{
    if (c->dataqsiz == 0) {
        if (elem && c->elemsize)
            memcpy(elem, sg->elem, c->elemsize);
    } else {
        /* Full buffer: take its head, put the sender's value at its tail. */
        void *slot = chan_slot(c, c->recvx);
        if (elem && c->elemsize)
            memcpy(elem, slot, c->elemsize);
        if (c->elemsize)
            memcpy(slot, sg->elem, c->elemsize);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    sg->success = true;
    sg->g->param = sg;
    return sg->g;
}

/* ---- Send and receive ----------------------------------------------------------- */

static NORETURN void block_forever(uint32_t reason)
{
    park(reason, NULL, NULL);
    throw_("unreachable: woke from a nil channel");
}

void gort_chan_send(gort_chan *c, const void *elem)
{
    if (!c)
        block_forever(WR_CHAN_SEND_NIL);
    lock_acquire(&c->lock);
    if (c->closed) {
        lock_release(&c->lock);
        panic_("send on closed channel");
    }
    struct sudog *sg = waitq_dequeue(&c->recvq);
    if (sg) {
        struct g *rg = chan_give(c, sg, elem);
        lock_release(&c->lock);
        ready(rg, true);
        return;
    }
    if (c->qcount < c->dataqsiz) {
        chan_buf_put(c, elem);
        lock_release(&c->lock);
        return;
    }
    struct g *gp = getg();
    struct sudog *s = sudog_acquire(gp);
    s->elem = (void *)elem;
    s->c = c;
    gp->param = NULL;
    waitq_enqueue(&c->sendq, s);
    park(WR_CHAN_SEND, unlock_chan, c);
    bool sent = s->success;
    sudog_release(s);
    if (!sent)
        panic_("send on closed channel");
}

bool gort_chan_recv(gort_chan *c, void *elem)
{
    if (!c)
        block_forever(WR_CHAN_RECV_NIL);
    lock_acquire(&c->lock);
    if (c->closed && c->qcount == 0) {
        lock_release(&c->lock);
        if (elem && c->elemsize)
            memset(elem, 0, c->elemsize);
        return false;
    }
    struct sudog *sg = waitq_dequeue(&c->sendq);
    if (sg) {
        struct g *sgp = chan_take(c, sg, elem);
        lock_release(&c->lock);
        ready(sgp, true);
        return true;
    }
    if (c->qcount > 0) {
        chan_buf_take(c, elem);
        lock_release(&c->lock);
        return true;
    }
    struct g *gp = getg();
    struct sudog *s = sudog_acquire(gp);
    s->elem = elem;
    s->c = c;
    gp->param = NULL;
    waitq_enqueue(&c->recvq, s);
    park(WR_CHAN_RECV, unlock_chan, c);
    bool ok = s->success;
    sudog_release(s);
    return ok;
}

void gort_chan_close(gort_chan *c)
{
    if (!c)
        panic_("close of nil channel");
    lock_acquire(&c->lock);
    if (c->closed) {
        lock_release(&c->lock);
        panic_("close of closed channel");
    }
    c->closed = 1;
    /* Collect every waiter, then wake them without the lock. */
    struct g *wake = NULL;
    struct sudog *sg;
    while ((sg = waitq_dequeue(&c->recvq))) {
        if (sg->elem && c->elemsize)
            memset(sg->elem, 0, c->elemsize);
        sg->success = false;
        sg->g->param = sg;
        sg->g->schedlink = wake;
        wake = sg->g;
    }
    while ((sg = waitq_dequeue(&c->sendq))) {
        sg->success = false;
        sg->g->param = sg;
        sg->g->schedlink = wake;
        wake = sg->g;
    }
    lock_release(&c->lock);
    ready_list(wake);
}

/* A send that never blocks, from the timer thread (no goroutine): a value
 * no receiver has room for is dropped, as Go's tickers drop ticks. */
bool chan_send_nb(gort_chan *c, const void *elem)
{
    lock_acquire(&c->lock);
    if (c->closed) {
        lock_release(&c->lock);
        return false;
    }
    struct sudog *sg = waitq_dequeue(&c->recvq);
    if (sg) {
        struct g *rg = chan_give(c, sg, elem);
        lock_release(&c->lock);
        ready(rg, true);
        return true;
    }
    bool sent = c->qcount < c->dataqsiz;
    if (sent)
        chan_buf_put(c, elem);
    lock_release(&c->lock);
    return sent;
}
