/*
 * runq.c — run queues: each P's local ring of RUNQ_LEN goroutines plus its
 * runnext slot, the global queue, and stealing half of another P's queue.
 *
 * The local ring has one producer (the owning P) and many consumers (the
 * owner and thieves): the owner writes slots then publishes runqtail with a
 * release store; consumers claim slots by advancing runqhead with a CAS.
 */
#include "runtime.h"

static inline struct g *slot_load(struct p *pp, uint32_t i)
{
    return __atomic_load_n(&pp->runq[i % RUNQ_LEN], __ATOMIC_RELAXED);
}

static inline void slot_store(struct g **ring, uint32_t i, struct g *gp)
{
    __atomic_store_n(&ring[i % RUNQ_LEN], gp, __ATOMIC_RELAXED);
}

bool runq_empty(struct p *pp)
{
    /* Read head, tail, runnext, and tail again, so a goroutine moving from
     * runnext to the ring is not missed. */
    for (;;) {
        uint32_t head = load32(&pp->runqhead);
        uint32_t tail = load32(&pp->runqtail);
        struct g *next = loadp((void *const *)&pp->runnext);
        if (tail == load32(&pp->runqtail))
            return head == tail && next == NULL;
    }
}

uint32_t runq_len(struct p *pp)
{
    uint32_t head = load32(&pp->runqhead);
    uint32_t tail = load32(&pp->runqtail);
    return tail - head;
}

/* The local ring is full: move half of it, plus gp, to the global queue. */
static bool runq_put_slow(struct p *pp, struct g *gp, uint32_t head, uint32_t tail)
{
    enum { N = RUNQ_LEN / 2 };
    struct g *batch[N + 1];
    uint32_t n = tail - head;
    n /= 2;
    if (n != N)
        throw_("runq_put_slow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = slot_load(pp, head + i);
    if (!cas32(&pp->runqhead, head, head + n))
        return false;           /* a thief took some: the ring has room now */
    batch[n] = gp;
    for (uint32_t i = 0; i < n; i++)
        batch[i]->schedlink = batch[i + 1];
    lock_acquire(&sched.lock);
    globrunq_put_batch(batch[0], batch[n], (int32_t)(n + 1));
    lock_release(&sched.lock);
    return true;
}

void runq_put(struct p *pp, struct g *gp, bool next)
{
    if (next) {
        struct g *old = xchgp((void **)&pp->runnext, gp);
        if (!old)
            return;
        gp = old;               /* the previous runnext goes to the ring's tail */
    }
    for (;;) {
        uint32_t head = load32(&pp->runqhead);
        uint32_t tail = pp->runqtail;
        if (tail - head < RUNQ_LEN) {
            slot_store(pp->runq, tail, gp);
            /* Sequentially consistent: pairs with the spinning-M protocol
             * (a producer publishes work, then looks for spinning Ms). */
            __atomic_store_n(&pp->runqtail, tail + 1, __ATOMIC_SEQ_CST);
            return;
        }
        if (runq_put_slow(pp, gp, head, tail))
            return;
    }
}

struct g *runq_get(struct p *pp)
{
    struct g *next = loadp((void *const *)&pp->runnext);
    if (next && casp((void **)&pp->runnext, next, NULL))
        return next;
    for (;;) {
        uint32_t head = load32(&pp->runqhead);
        uint32_t tail = pp->runqtail;
        if (tail == head)
            return NULL;
        struct g *gp = slot_load(pp, head);
        if (cas32(&pp->runqhead, head, head + 1))
            return gp;
    }
}

/* Take half of victim's queue into batch starting at batch_head; with
 * stealnext, also consider its runnext.  Returns how many were taken. */
static uint32_t runq_grab(struct p *victim, struct g **batch, uint32_t batch_head, bool stealnext)
{
    for (;;) {
        uint32_t head = load32(&victim->runqhead);
        uint32_t tail = load32(&victim->runqtail);
        uint32_t n = tail - head;
        n -= n / 2;
        if (n == 0) {
            if (!stealnext)
                return 0;
            struct g *next = loadp((void *const *)&victim->runnext);
            if (!next)
                return 0;
            /* A running P usually schedules its runnext very soon (it was
             * just readied by the goroutine that runs there and is about to
             * block); give it a moment before taking it away. */
            if (load32(&victim->status) == P_RUNNING) {
                usleep_ns(3000);
                if (loadp((void *const *)&victim->runnext) != next)
                    continue;
            }
            if (!casp((void **)&victim->runnext, next, NULL))
                continue;
            slot_store(batch, batch_head, next);
            return 1;
        }
        if (n > RUNQ_LEN / 2)
            continue;           /* read an inconsistent head/tail pair */
        for (uint32_t i = 0; i < n; i++)
            slot_store(batch, batch_head + i, slot_load(victim, head + i));
        if (cas32(&victim->runqhead, head, head + n))
            return n;
    }
}

struct g *runq_steal(struct p *pp, struct p *victim, bool stealnext)
{
    uint32_t tail = pp->runqtail;
    uint32_t n = runq_grab(victim, pp->runq, tail, stealnext);
    if (n == 0)
        return NULL;
    n--;
    struct g *gp = slot_load(pp, tail + n);
    if (n == 0)
        return gp;
    uint32_t head = load32(&pp->runqhead);
    if (tail - head + n >= RUNQ_LEN)
        throw_("runq_steal: queue overflow");
    __atomic_store_n(&pp->runqtail, tail + n, __ATOMIC_SEQ_CST);
    return gp;
}

/* ---- Global queue (sched.lock held) ---- */

void globrunq_put(struct g *gp)
{
    globrunq_put_batch(gp, gp, 1);
}

void globrunq_put_batch(struct g *head, struct g *tail, int32_t n)
{
    tail->schedlink = NULL;
    if (sched.runq.tail)
        sched.runq.tail->schedlink = head;
    else
        sched.runq.head = head;
    sched.runq.tail = tail;
    __atomic_store_n(&sched.runqsize, sched.runqsize + n, __ATOMIC_SEQ_CST);
}

struct g *globrunq_get(struct p *pp, int32_t max)
{
    int32_t size = sched.runqsize;
    if (size == 0)
        return NULL;
    int32_t n = size / gomaxprocs + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_LEN / 2)
        n = RUNQ_LEN / 2;
    store_i32(&sched.runqsize, size - n);

    struct g *gp = sched.runq.head;
    sched.runq.head = gp->schedlink;
    if (!sched.runq.head)
        sched.runq.tail = NULL;
    for (int32_t i = 1; i < n; i++) {
        struct g *g2 = sched.runq.head;
        sched.runq.head = g2->schedlink;
        if (!sched.runq.head)
            sched.runq.tail = NULL;
        runq_put(pp, g2, false);
    }
    gp->schedlink = NULL;
    return gp;
}
