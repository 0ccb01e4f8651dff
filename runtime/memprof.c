/*
 * memprof.c — allocation sampling: Go's heap profile (runtime.MemProfile).
 *
 * One allocation is sampled per GORT_MEMPROFILERATE bytes allocated on
 * average (default 512 KiB; 0 off; 1 every allocation).  Each P counts
 * down the bytes to its next sample in its mcache (mcache.sample.next,
 * decremented on the allocation fast path, malloc.c); when the countdown
 * goes below zero the allocation is sampled here and a new countdown is
 * drawn from an exponential distribution of mean rate, as Go's
 * fastexprand, so that samples form a Poisson process over the bytes
 * allocated.
 *
 * A sample's call stack (unwound with CFI, stackwalk_callers, up to 32
 * frames above the runtime's own) selects a bucket: one per distinct stack,
 * found through a hash table and kept forever.  The bucket counts the
 * samples allocated and freed, raw: a reader scales them by the rate (Go's
 * scaleHeapSample).  Each sampled object gets a special record on its
 * span's list; the sweeper finds there the sampled objects it frees
 * (memprof_sweep) and adds them to their buckets' free counts.
 *
 * The table (struct memprof_table, a descriptor root) is read by tools
 * from another process or a core without running code here: a bucket is
 * filled before a release store links it at the head of the list, and is
 * never moved or freed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "heap.h"
#include "memprof.h"
#include "stackwalk.h"

struct memprof_table memprof = {.rate = MEMPROF_DEFAULT_RATE};

/* A sampled object, on its span's list of specials. */
struct special {
    struct special *next;
    uintptr_t obj;
    uint64_t size;
    struct memprof_bucket *bucket;
};

enum { HASH_SIZE = 4096, RECHECK_BYTES = 64 << 20 };

static struct {
    struct rtlock lock;                   /* buckets' counts, hash, specials */
    struct memprof_bucket *hash[HASH_SIZE];
    struct special *freespecials;
    struct unwind_cache *unwind;          /* stacks are unwound under the lock */
} mp;

/* The countdown of threads that run no goroutine (malloc_nop, under the
 * world lock). */
struct memprof_countdown memprof_nop_countdown;

/* log2(x) for x >= 1, to about 1e-6: the exponent, then ln of the mantissa
 * m in [1, 2) by the series of atanh((m - 1) / (m + 1)). */
static double log2_approx(uint64_t x)
{
    int e = 63 - __builtin_clzll(x);
    double m = (double)x / (double)(1ull << e);
    double t = (m - 1) / (m + 1), t2 = t * t;
    double ln = 2 * t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9)))));
    return e + ln * 1.4426950408889634;
}

/* Mixed into the draws so that each run samples other allocations (the
 * scheduler's random sequence starts the same in every process). */
static uint64_t seed;

/* Bytes to the next sample: exponential of mean rate (Go's fastexprand). */
static int64_t next_sample(int64_t rate)
{
    if (rate <= 1)
        return 0;
    if (rate > 0x7000000)
        rate = 0x7000000;
    enum { RANDOM_BITS = 26 };
    uint64_t r = (fastrand64() ^ seed) * 0x9e3779b97f4a7c15ull;
    uint64_t q = (r >> (64 - RANDOM_BITS)) + 1;
    double qlog = log2_approx(q) - RANDOM_BITS;
    if (qlog > 0)
        qlog = 0;
    return (int64_t)(qlog * (-0.6931471805599453 * (double)rate)) + 1;
}

/* The bucket of stk, created if new (lock held). */
static struct memprof_bucket *bucket_of(const uintptr_t *stk, int n)
{
    uint64_t h = stack_hash(stk, n);
    struct memprof_bucket **head = &mp.hash[h & (HASH_SIZE - 1)];
    for (struct memprof_bucket *b = *head; b; b = b->hnext)
        if (b->hash == h && b->nstk == (uint32_t)n &&
            memcmp(b->stk, stk, (size_t)n * sizeof *stk) == 0)
            return b;
    struct memprof_bucket *b = persistent_alloc(sizeof *b + (size_t)n * sizeof *stk);
    b->hash = h;
    b->nstk = (uint32_t)n;
    memcpy(b->stk, stk, (size_t)n * sizeof *stk);
    b->hnext = *head;
    *head = b;
    b->next = memprof.buckets;
    storep((void **)&memprof.buckets, b);        /* release: b is complete */
    store64(&memprof.nbuckets, memprof.nbuckets + 1);
    return b;
}

static void add_count(uint64_t *counter, uint64_t v)
{
    __atomic_store_n(counter, *counter + v, __ATOMIC_RELAXED);   /* lock held */
}

void memprof_alloc(struct memprof_countdown *cd, struct span *s, void *p, uint64_t size)
{
    int64_t rate = (int64_t)loadrelaxed64((const uint64_t *)&memprof.rate);
    if (rate <= 0) {
        cd->next = RECHECK_BYTES;        /* look at the rate again later */
        cd->armed = 0;
        return;
    }
    if (!cd->armed) {
        /* A new P (or profiling just turned on): first draw a countdown,
         * so that the first allocation is not always sampled. */
        cd->armed = 1;
        cd->next = next_sample(rate);
        if (cd->next > 0)
            return;
    }
    cd->next = next_sample(rate);
    uintptr_t stk[MEMPROF_MAX_STACK];
    lock_acquire(&mp.lock);
    if (!mp.unwind)
        mp.unwind = unwind_cache_new();
    int n = stackwalk_callers(stk, MEMPROF_MAX_STACK, mp.unwind);
    struct memprof_bucket *b = bucket_of(stk, n);
    add_count(&b->alloc_objects, 1);
    add_count(&b->alloc_bytes, size);
    add_count(&memprof.nsamples, 1);
    struct special *sp = mp.freespecials;
    if (sp)
        mp.freespecials = sp->next;
    else
        sp = persistent_alloc(sizeof *sp);
    sp->obj = (uintptr_t)p;
    sp->size = size;
    sp->bucket = b;
    sp->next = s->specials;
    s->specials = sp;
    lock_release(&mp.lock);
}

void memprof_sweep(struct span *s)
{
    lock_acquire(&mp.lock);
    struct special **link = &s->specials;
    while (*link) {
        struct special *sp = *link;
        uint32_t idx = s->sizeclass ? span_objindex(s, sp->obj) : 0;
        if (s->markbits[idx >> 6] & (1ull << (idx & 63))) {
            link = &sp->next;
            continue;
        }
        add_count(&sp->bucket->free_objects, 1);
        add_count(&sp->bucket->free_bytes, sp->size);
        *link = sp->next;
        sp->next = mp.freespecials;
        mp.freespecials = sp;
    }
    lock_release(&mp.lock);
}

void memprof_init(void)
{
    const uint64_t *at_random = (const uint64_t *)getauxval(AT_RANDOM);   /* 16 bytes */
    if (at_random)
        seed = at_random[1];
    const char *s = getenv("GORT_MEMPROFILERATE");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == 0 && v >= 0)
            memprof.rate = v;
    }
}

void gort_set_memprofile_rate(long bytes)
{
    store64((uint64_t *)&memprof.rate, (uint64_t)(bytes < 0 ? 0 : bytes));
    /* The calling P's countdown starts again at the new rate; the others'
     * at their next sample (or within RECHECK_BYTES when it was off). */
    struct m *m = getm();
    if (m && m->p) {
        m->p->mcache->sample.armed = 0;
        m->p->mcache->sample.next = 0;
    }
}

long gort_memprofile_rate(void)
{
    return (long)(int64_t)loadrelaxed64((const uint64_t *)&memprof.rate);
}

int gort_memprofile_foreach(int (*fn)(const gort_memprofile_record *rec, void *arg), void *arg)
{
    /* Buckets are only ever added at the head: walk a snapshot of the list
     * without the lock (fn may allocate, and so sample). */
    struct memprof_bucket *b = loadp((void *const *)&memprof.buckets);
    for (; b; b = b->next) {
        gort_memprofile_record rec;
        lock_acquire(&mp.lock);
        rec.alloc_objects = b->alloc_objects;
        rec.alloc_bytes = b->alloc_bytes;
        rec.free_objects = b->free_objects;
        rec.free_bytes = b->free_bytes;
        lock_release(&mp.lock);
        rec.nstk = (int)b->nstk;
        rec.stk = b->stk;
        int r = fn(&rec, arg);
        if (r)
            return r;
    }
    return 0;
}
