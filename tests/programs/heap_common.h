/*
 * heap_common.h — what the heap and collector test programs share.
 *
 * Builds on rt_common.h (modes, FAIL, RT_MAIN).  Adds:
 *   - patterns: fill an object with words derived from a seed and check them
 *     later ("contents intact"); the words never look like heap pointers;
 *   - hidden pointers: a pointer XORed with a constant, so that the only
 *     copy of an object's address the collector can see is the one a test
 *     means it to see;
 *   - finalizer bookkeeping by object id, to tell "ran exactly once";
 *   - objects made on a goroutine that exits, so no stale stack slot or
 *     register of the caller keeps them alive (the controls that show a
 *     test can fail);
 *   - the memory statistics printed as "MS tag k=v ..." lines, with the
 *     pause ring, for tests/heaplib.py to check.
 */
#ifndef HEAP_COMMON_H
#define HEAP_COMMON_H

#include "rt_common.h"

/* ---- Patterns ------------------------------------------------------------ */

static inline uint64_t pattern_word(uint64_t seed, size_t i)
{
    uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull + (uint64_t)i * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    /* The top bit set: never an address below 2^47, so never a heap pointer. */
    return x | (1ull << 63);
}

/* Fill n bytes at p with the pattern of seed (n a multiple of 8). */
static inline void fill(void *p, size_t n, uint64_t seed)
{
    uint64_t *w = p;
    for (size_t i = 0; i < n / 8; i++)
        w[i] = pattern_word(seed, i);
}

/* Index of the first word of [p, p+n) that differs from seed's pattern, or -1. */
static inline long check(const void *p, size_t n, uint64_t seed)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < n / 8; i++)
        if (w[i] != pattern_word(seed, i))
            return (long)i;
    return -1;
}

#define CHECK_PATTERN(p, n, seed, what)                                              \
    do {                                                                             \
        long bad_ = check((p), (n), (seed));                                         \
        if (bad_ >= 0)                                                               \
            FAIL("%s: word %ld of %zu-byte object %p is %#" PRIx64 ", want %#" PRIx64, \
                 (what), bad_, (size_t)(n), (void *)(p),                             \
                 ((const uint64_t *)(p))[bad_], pattern_word((seed), (size_t)bad_)); \
    } while (0)

/* ---- Hidden pointers ----------------------------------------------------- */

#define HIDE_KEY 0xa5a5000000000000ull     /* sets high bits: never an address */

static inline uint64_t hide(const void *p)
{
    return (uint64_t)(uintptr_t)p ^ HIDE_KEY;
}

static inline void *unhide(uint64_t h)
{
    return (void *)(uintptr_t)(h ^ HIDE_KEY);
}

/* An opaque use of p: the compiler must materialise it and cannot see
 * through the call. */
NOINLINE void opaque_use(void *p);
#define HEAP_DEFINE_OPAQUE \
    NOINLINE void opaque_use(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* ---- Finalizers, counted per object id ----------------------------------- */

/* Every finalizable test object starts with this header. */
struct tobj {
    uint64_t id;          /* index into the finalizer counts */
    uint64_t seed;        /* the payload's pattern */
    uint64_t size;        /* bytes of the whole object */
    struct tobj *link;    /* what the object references, if anything */
};

#define MAX_FIN_IDS 4096
extern atomic_int fin_runs[MAX_FIN_IDS];
extern atomic_int fin_total;
extern atomic_int fin_bad;                 /* finalizers that found a broken object */

/* Allocate a tobj of size bytes (>= sizeof(struct tobj)), id, patterned. */
static inline struct tobj *tobj_new(size_t size, uint64_t id, bool noscan)
{
    struct tobj *o = noscan ? gort_alloc_noscan(size) : gort_alloc(size);
    o->id = id;
    o->seed = id * 7919 + 17;
    o->size = size;
    o->link = NULL;
    fill(o + 1, size - sizeof *o, o->seed);
    return o;
}

static inline bool tobj_intact(const struct tobj *o)
{
    return check(o + 1, o->size - sizeof *o, o->seed) < 0;
}

#define CHECK_TOBJ(o, id_, what)                                                  \
    do {                                                                          \
        if ((o)->id != (uint64_t)(id_))                                                   \
            FAIL("%s: object %p has id %" PRIu64 ", want %" PRIu64, (what),       \
                 (void *)(o), (o)->id, (uint64_t)(id_));                          \
        CHECK_PATTERN((o) + 1, (o)->size - sizeof(struct tobj), (o)->seed, what); \
    } while (0)

/* The finalizer of test objects: counts the run and checks the object is
 * still whole (it stays alive until its finalizer has run). */
void count_finalizer(void *obj);

/* Wait (yielding to the finalizer goroutine) until fin_total reaches n;
 * FAIL after 10 s. */
static inline void await_finalizers(int n)
{
    int64_t deadline = mono_ns() + SEC(10);
    while (atomic_load(&fin_total) < n) {
        if (mono_ns() > deadline)
            FAIL("only %d of %d finalizers ran", atomic_load(&fin_total), n);
        gort_sleep(MSEC(1));
    }
}

/* Let the finalizer goroutine run whatever is queued, without waiting for
 * anything in particular. */
static inline void settle_finalizers(void)
{
    for (int i = 0; i < 20; i++)
        gort_sleep(MSEC(1));
}

#define HEAP_DEFINE_FINALIZERS                                 \
    atomic_int fin_runs[MAX_FIN_IDS];                          \
    atomic_int fin_total;                                      \
    atomic_int fin_bad;                                        \
    void count_finalizer(void *obj)                            \
    {                                                          \
        struct tobj *o = obj;                                  \
        if (o->id >= MAX_FIN_IDS || !tobj_intact(o)) {         \
            atomic_fetch_add(&fin_bad, 1);                     \
        } else {                                               \
            atomic_fetch_add(&fin_runs[o->id], 1);             \
        }                                                      \
        atomic_fetch_add(&fin_total, 1);                       \
    }

/* ---- Objects nobody else has seen ---------------------------------------- */

/* Run fn(arg) on a goroutine of its own and wait for it to exit: whatever it
 * allocated is referenced afterwards only where fn stored it (its stack is
 * gone, its registers are gone). */
struct isolated {
    void (*fn)(void *);
    void *arg;
    gort_chan *done;
};

static void isolated_main(void *p)
{
    struct isolated *iso = p;
    iso->fn(iso->arg);
    int64_t one = 1;
    gort_chan_send(iso->done, &one);
}

static inline void run_isolated(void (*fn)(void *), void *arg)
{
    int before = gort_numgoroutine();
    struct isolated iso = {fn, arg, gort_chan_make(sizeof(int64_t), 1)};
    gort_go(isolated_main, &iso);
    gort_chan_recv(iso.done, NULL);
    /* Wait until it is really gone (it exits right after its send). */
    int64_t deadline = mono_ns() + SEC(10);
    while (gort_numgoroutine() > before) {
        if (mono_ns() > deadline)
            FAIL("an isolated goroutine did not exit");
        gort_yield();
    }
}

/* A small deterministic generator (xorshift64*), one state per goroutine. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ---- Garbage ------------------------------------------------------------- */

/* Allocate about `bytes` of garbage in random sizes (mostly small, some
 * large; scan and noscan), each filled with a pattern: slots freed by a
 * collection are reused, so an object wrongly freed gets zeroed and
 * overwritten and its check fails.  Returns the number of objects. */
static inline uint64_t churn(uint64_t *rng, size_t bytes)
{
    uint64_t n = 0;
    for (size_t done = 0; done < bytes; n++) {
        uint64_t r = rng_next(rng);
        size_t size;
        switch (r % 16) {
        case 0: size = 33 * 1024 + (r >> 8) % (64 * 1024); break;   /* large */
        case 1: case 2: size = 1024 + (r >> 8) % (16 * 1024); break;
        default: size = 8 + (r >> 8) % 512; break;
        }
        size &= ~(size_t)7;
        void *p = (r >> 40) & 1 ? gort_alloc_noscan(size) : gort_alloc(size);
        fill(p, size, r);
        done += size;
    }
    return n;
}

/* ---- Memory statistics --------------------------------------------------- */

static inline uint64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Print ms as one line: "MS tag field=value ... pause_ns=a,b,... pause_end=...
 * by_size=size:mallocs:frees,...".  The line takes many printf calls and is
 * longer than stdout's buffer: the stream stays locked until its end, so a
 * line another goroutine prints meanwhile (a TICK) cannot land inside it. */
static inline void print_memstats(const char *tag, const gort_memstats *ms)
{
    flockfile(stdout);
    printf("MS %s alloc=%" PRIu64 " total_alloc=%" PRIu64 " sys=%" PRIu64 " mallocs=%" PRIu64
           " frees=%" PRIu64 " heap_alloc=%" PRIu64 " heap_sys=%" PRIu64 " heap_idle=%" PRIu64
           " heap_inuse=%" PRIu64 " heap_released=%" PRIu64 " heap_objects=%" PRIu64
           " stack_inuse=%" PRIu64 " stack_sys=%" PRIu64 " gc_sys=%" PRIu64 " next_gc=%" PRIu64
           " last_gc=%" PRIu64 " pause_total_ns=%" PRIu64 " num_gc=%u num_forced_gc=%u"
           " gc_cpu_fraction=%.6f",
           tag, ms->alloc, ms->total_alloc, ms->sys, ms->mallocs, ms->frees, ms->heap_alloc,
           ms->heap_sys, ms->heap_idle, ms->heap_inuse, ms->heap_released, ms->heap_objects,
           ms->stack_inuse, ms->stack_sys, ms->gc_sys, ms->next_gc, ms->last_gc,
           ms->pause_total_ns, ms->num_gc, ms->num_forced_gc, ms->gc_cpu_fraction);
    printf(" pause_ns=");
    for (int i = 0; i < 256; i++)
        printf(i ? ",%" PRIu64 : "%" PRIu64, ms->pause_ns[i]);
    printf(" pause_end=");
    for (int i = 0; i < 256; i++)
        printf(i ? ",%" PRIu64 : "%" PRIu64, ms->pause_end[i]);
    printf(" by_size=");
    for (int i = 0; i < GORT_NUM_SIZE_CLASSES; i++)
        printf(i ? ",%u:%" PRIu64 ":%" PRIu64 : "%u:%" PRIu64 ":%" PRIu64, ms->by_size[i].size,
               ms->by_size[i].mallocs, ms->by_size[i].frees);
    printf("\n");
    funlockfile(stdout);
}

static inline void report_memstats(const char *tag)
{
    gort_memstats ms;
    gort_read_memstats(&ms);
    print_memstats(tag, &ms);
}

static inline uint64_t memstat_frees(void)
{
    gort_memstats ms;
    gort_read_memstats(&ms);
    return ms.frees;
}

/* Resident set size of this process in KiB (/proc/self/status VmRSS). */
static inline long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

#endif /* HEAP_COMMON_H */
