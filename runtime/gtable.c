/*
 * gtable.c — the all-G table and goroutine allocation.
 *
 * Every G ever created stays in `allgs` (the table only grows); an exited
 * G is marked dead and reused by a later gort_go, first from its P's cache,
 * then from a global list.  New Gs are carved in slabs so the table's
 * entries are mostly contiguous in memory (tools copy it in a few reads).
 * The descriptor's generation counter is odd while the table changes.
 *
 * The state table: one 64-bit word per entry of allgs (the same index), in
 * chunks that never move.  A G's word is written before each of its status
 * transitions: the status it goes to (bits 0-7), whether writes to the G
 * are still to follow while it waits (bit 8, "unsettled": a direct park
 * saves its context after the transition) and a count of its transitions
 * (bits 9-63).  A G whose word reads the same twice, settled and waiting,
 * was not written in between; one settled and dead is still dead, its
 * other fields meaningless (an exit clears its stack after the transition,
 * a reuse sets the new goroutine's fields before it) (docs/metadata.md): a
 * tool that copied the Gs before stopping the process reads only the
 * words in the stop.
 */
#include <stdlib.h>
#include <string.h>

#include "descriptor.h"
#include "runtime.h"

struct g **allgs;
uint64_t allglen;
static uint64_t allgcap;
static struct rtlock allglock;

enum { G_SLAB = 64, P_GCACHE_MAX = 64 };

uint64_t *gstate_chunks[GSTATE_MAX_CHUNKS];
/* The word of Gs beyond the table's reach, which no tool reads (the
 * descriptor names only the chunks); their transitions write it too. */
static uint64_t gstate_untracked = GSTATE_UNSETTLED;

/* The word after w: one more transition, with these status and flag bits. */
static uint64_t gstate_next(uint64_t w, uint64_t bits)
{
    return ((w >> GSTATE_COUNT_SHIFT) + 1) << GSTATE_COUNT_SHIFT | bits;
}

void gstate_announce(struct g *gp, uint32_t new_, bool unsettled)
{
    uint64_t w = loadrelaxed64(gp->state);
    store64(gp->state, gstate_next(w, (unsettled ? GSTATE_UNSETTLED : 0) | new_));
}

void gstate_settled(struct g *gp)
{
    uint64_t w = loadrelaxed64(gp->state);
    if (gp->state != &gstate_untracked && (w & GSTATE_UNSETTLED))
        store64(gp->state, gstate_next(w, w & GSTATE_STATUS));
}

/* Points the Gs of a new slab, entries first.. of allgs, at their words. */
static void gstate_attach(struct g *slab, uint64_t first)
{
    uint64_t k = first / GSTATE_CHUNK;
    if (k < GSTATE_MAX_CHUNKS && !gstate_chunks[k]) {
        uint64_t *c = calloc(GSTATE_CHUNK, sizeof *c);
        if (!c)
            throw_("out of memory allocating the goroutine state table");
        storep((void **)&gstate_chunks[k], c);
    }
    for (int i = 0; i < G_SLAB; i++) {
        uint64_t idx = first + (uint64_t)i;
        if (idx / GSTATE_CHUNK < GSTATE_MAX_CHUNKS) {
            slab[i].state = &gstate_chunks[idx / GSTATE_CHUNK][idx % GSTATE_CHUNK];
            store64(slab[i].state, G_DEAD);
        } else {
            slab[i].state = &gstate_untracked;
        }
    }
}

void gtable_generation_begin(void)
{
    xadd64(&gort_runtime_descriptor.generation, 1);
}

void gtable_generation_end(void)
{
    xadd64(&gort_runtime_descriptor.generation, 1);
}

/* Append a slab of fresh dead Gs to allgs and return them as a list. */
static struct g *gtable_grow(void)
{
    struct g *slab = calloc(G_SLAB, sizeof(struct g));
    if (!slab)
        throw_("out of memory allocating goroutines");
    lock_acquire(&allglock);
    gtable_generation_begin();
    if (allglen + G_SLAB > allgcap) {
        uint64_t cap = allgcap ? allgcap * 2 : 1024;
        struct g **a = malloc(cap * sizeof *a);
        if (!a)
            throw_("out of memory growing the goroutine table");
        if (allglen)
            memcpy(a, allgs, allglen * sizeof *a);
        /* The old array is kept: a tool that does not stop the process may
         * still be reading it (it notices the generation change). */
        storep((void **)&allgs, a);
        allgcap = cap;
    }
    gstate_attach(slab, allglen);
    for (int i = 0; i < G_SLAB; i++) {
        slab[i].status = G_DEAD;
        slab[i].sleeptimer.index = -1;
        allgs[allglen + (uint64_t)i] = &slab[i];
        slab[i].schedlink = i + 1 < G_SLAB ? &slab[i + 1] : NULL;
    }
    store64(&allglen, allglen + G_SLAB);
    gtable_generation_end();
    lock_release(&allglock);
    return slab;
}

struct g *g_alloc(void)
{
    struct m *m = getm();
    struct p *pp = m ? m->p : NULL;
    struct g *gp;
    if (pp && pp->gfree) {
        gp = pp->gfree;
        pp->gfree = gp->schedlink;
        pp->ngfree--;
        gp->schedlink = NULL;
        return gp;
    }
    lock_acquire(&sched.gflock);
    if (sched.gfree) {
        /* Refill this P's cache with up to half its size. */
        gp = sched.gfree;
        sched.gfree = gp->schedlink;
        sched.ngfree--;
        while (pp && pp->ngfree < P_GCACHE_MAX / 2 && sched.gfree) {
            struct g *g2 = sched.gfree;
            sched.gfree = g2->schedlink;
            sched.ngfree--;
            g2->schedlink = pp->gfree;
            pp->gfree = g2;
            pp->ngfree++;
        }
        lock_release(&sched.gflock);
        gp->schedlink = NULL;
        return gp;
    }
    lock_release(&sched.gflock);

    struct g *slab = gtable_grow();
    gp = slab;
    struct g *rest = slab->schedlink;
    gp->schedlink = NULL;
    if (pp) {
        while (rest) {
            struct g *next = rest->schedlink;
            rest->schedlink = pp->gfree;
            pp->gfree = rest;
            pp->ngfree++;
            rest = next;
        }
    } else if (rest) {
        lock_acquire(&sched.gflock);
        struct g *last = rest;
        int32_t n = 1;
        while (last->schedlink) {
            last = last->schedlink;
            n++;
        }
        last->schedlink = sched.gfree;
        sched.gfree = rest;
        sched.ngfree += n;
        lock_release(&sched.gflock);
    }
    return gp;
}

void g_free(struct p *pp, struct g *gp)
{
    gp->schedlink = pp->gfree;
    pp->gfree = gp;
    pp->ngfree++;
    if (pp->ngfree < P_GCACHE_MAX)
        return;
    /* Move half to the global list. */
    lock_acquire(&sched.gflock);
    while (pp->ngfree > P_GCACHE_MAX / 2) {
        struct g *g2 = pp->gfree;
        pp->gfree = g2->schedlink;
        pp->ngfree--;
        g2->schedlink = sched.gfree;
        sched.gfree = g2;
        sched.ngfree++;
    }
    lock_release(&sched.gflock);
}

void g_cache_flush(struct p *pp)
{
    lock_acquire(&sched.gflock);
    while (pp->gfree) {
        struct g *g2 = pp->gfree;
        pp->gfree = g2->schedlink;
        g2->schedlink = sched.gfree;
        sched.gfree = g2;
        sched.ngfree++;
    }
    pp->ngfree = 0;
    lock_release(&sched.gflock);
}

uint64_t g_newid(void)
{
    return xadd64(&sched.goidgen, 1);
}

/* Goroutines that exist: the table minus the dead ones kept for reuse
 * (the per-P counts are read without their owners' cooperation, so the
 * result is exact only when the scheduler is quiet, as in Go). */
int gort_numgoroutine(void)
{
    int64_t n = (int64_t)load64(&allglen) - load_i32(&sched.nsysg);
    lock_acquire(&sched.gflock);
    n -= sched.ngfree;
    lock_release(&sched.gflock);
    for (int32_t i = 0; i < gomaxprocs; i++)
        n -= loadrelaxed_i32(&allp[i]->ngfree);
    return (int)n;
}
