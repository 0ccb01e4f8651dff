/*
 * blockprof.c — the block profile, as Go's: with a rate of R nanoseconds,
 * a wait of d >= R is always recorded, a shorter one with probability
 * d / R and then counted as R / d waits of R nanoseconds in all, which
 * removes the bias of the sampling from the totals.  Each record is
 * charged to the goroutine's stack where it resumed (the call that
 * waited), at most STACK_MAX frames; the time is from the park to the
 * moment the goroutine runs again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "atomics.h"
#include "blockprof.h"
#include "lock.h"
#include "profproto.h"
#include "runtime.h"
#include "stackwalk.h"

enum { STACK_MAX = 32, TABLE_MIN = 64 };

struct bucket {
    uint64_t hash;
    int npcs;
    uintptr_t pcs[STACK_MAX];
    double count;
    double delay;
};

int64_t blockprof_rate;

static struct rtlock lock;
static struct bucket *table;
static size_t cap, used;

void gort_set_block_profile_rate(int64_t rate)
{
    store64((uint64_t *)&blockprof_rate, (uint64_t)(rate < 0 ? 0 : rate));
}

static bool blocking(uint32_t reason)
{
    switch (reason) {
    case WR_CHAN_RECV:
    case WR_CHAN_SEND:
    case WR_CHAN_RECV_NIL:
    case WR_CHAN_SEND_NIL:
    case WR_SELECT:
    case WR_SELECT_NO_CASES:
    case WR_MUTEX:
    case WR_WAITGROUP:
    case WR_ONCE:
    case WR_SEMACQUIRE:
        return true;
    default:
        return false;
    }
}

/* Tables and copies come from mmap: malloc may wait for a thread a stop
 * of the world suspended, and with the lock held this thread is one the
 * stop waits for. */
static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* lock held */
static bool grow(void)
{
    size_t ncap = cap ? cap * 2 : TABLE_MIN;
    struct bucket *nt = map_zeroed(ncap * sizeof *nt);
    if (!nt)
        return false;
    for (size_t i = 0; i < cap; i++) {
        if (!table[i].hash)
            continue;
        size_t j = table[i].hash & (ncap - 1);
        while (nt[j].hash)
            j = (j + 1) & (ncap - 1);
        nt[j] = table[i];
    }
    if (table)
        munmap(table, cap * sizeof *table);
    table = nt;
    cap = ncap;
    return true;
}

void blockprof_event(uint32_t reason, int64_t t0)
{
    int64_t rate = (int64_t)load64((const uint64_t *)&blockprof_rate);
    if (rate <= 0 || !blocking(reason))
        return;
    int64_t d = nanotime() - t0;
    if (d <= 0)
        d = 1;
    if (d < rate && (int64_t)(fastrand64() % (uint64_t)rate) > d)
        return;
    uintptr_t pcs[STACK_MAX];
    int n = stackwalk_callers(pcs, STACK_MAX, NULL);
    uint64_t h = stack_hash(pcs, n) | 1;    /* 0 marks a free slot */
    lock_acquire(&lock);
    if ((used + 1) * 2 > cap && !grow()) {
        lock_release(&lock);
        return;
    }
    size_t i = h & (cap - 1);
    while (table[i].hash && !(table[i].hash == h && table[i].npcs == n &&
                              memcmp(table[i].pcs, pcs, (size_t)n * sizeof *pcs) == 0))
        i = (i + 1) & (cap - 1);
    struct bucket *b = &table[i];
    if (!b->hash) {
        b->hash = h;
        b->npcs = n;
        memcpy(b->pcs, pcs, (size_t)n * sizeof *pcs);
        used++;
    }
    if (d < rate) {
        b->count += (double)rate / (double)d;
        b->delay += (double)rate;
    } else {
        b->count += 1;
        b->delay += (double)d;
    }
    lock_release(&lock);
}

int blockprof_write(struct ppbuf *out)
{
    struct pp_builder *pb = pp_new();
    if (!pb) {
        errno = ENOMEM;
        return -1;
    }
    pp_sample_type(pb, "contentions", "count");
    pp_sample_type(pb, "delay", "nanoseconds");
    pp_period(pb, "contentions", "count", 1);
    pp_time(pb, walltime(), 0);
    /* A copy, so the builder (which allocates and symbolizes) runs with
     * the lock released. */
    lock_acquire(&lock);
    size_t n = used, k = 0;
    struct bucket *copy = n ? map_zeroed(n * sizeof *copy) : NULL;
    if (copy)
        for (size_t i = 0; i < cap; i++)
            if (table[i].hash)
                copy[k++] = table[i];
    lock_release(&lock);
    if (n && !copy) {
        struct ppbuf none = {0};
        pp_finish(pb, &none);
        ppbuf_free(&none);
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        int64_t v[2] = {(int64_t)(copy[i].count + 0.5), (int64_t)(copy[i].delay + 0.5)};
        pp_add_sample(pb, copy[i].pcs, copy[i].npcs, false, v, NULL, NULL, 0);
    }
    if (copy)
        munmap(copy, n * sizeof *copy);
    return pp_finish(pb, out);
}

int gort_write_block_profile(int fd)
{
    struct ppbuf out = {0};
    if (blockprof_write(&out) != 0)
        return -1;
    int rc = ppbuf_write_fd(&out, fd);
    ppbuf_free(&out);
    return rc;
}
