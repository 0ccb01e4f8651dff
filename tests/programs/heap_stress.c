/*
 * heap_stress.c — the collector under load.
 *
 *   heap_stress stress    WORKERS goroutines allocate objects of random
 *                         sizes (scan and noscan, small and large, some
 *                         linked to others, some held by interior
 *                         pointers) and check every one before replacing
 *                         it, while collections run
 *   heap_stress rss       steady churn over a fixed live set, then a
 *                         transient peak that is dropped: prints
 *                         "PHASE name" and waits for a line on stdin at
 *                         each point, so the test reads /proc/PID/status
 *                         while the program stands still
 *   heap_stress parked    100,000 goroutines parked on a channel, each
 *                         holding an object only on its stack, through
 *                         collections
 *   heap_stress starve    GOMAXPROCS=1: a goroutine that allocates without
 *                         pause, and goroutine 1 yielding to it: goroutine
 *                         1 must get its turn again
 *   heap_stress shuffle   nodes on the move while cycles run back to back:
 *                         swapped between tables, hung under other nodes
 *                         and taken back, handed through unbuffered
 *                         channels, replaced by new ones; every node is
 *                         checked on every move and all at the end
 */
#include "heap_common.h"

HEAP_DEFINE_OPAQUE
HEAP_DEFINE_FINALIZERS

/* ---- stress -------------------------------------------------------------- */

enum { WORKERS = 4, SLOTS = 2048 };

/* A slot refers to its object by an interior pointer (ref = base + off). */
struct slot {
    char *ref;
    uint32_t off;
    uint32_t size;
    uint64_t seed;
};

/* Objects with a link keep, in their first two words, a pointer to another
 * object and that object's seed (its size is in the third word). */
enum { LINKED_HDR = 3 };

static long stress_iters = 60000;
static atomic_long checks, allocs, bad;
static atomic_int workers_left;
static gort_waitgroup stress_wg;

static size_t random_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    switch (r % 32) {
    case 0: return 32768 + (r >> 8) % 100000;          /* large */
    case 1: case 2: case 3: return 1024 + (r >> 8) % 8192;
    default: return 8 + (r >> 8) % 600;
    }
}

static void check_slot(const struct slot *s)
{
    if (!s->ref)
        return;
    const uint64_t *w = (const uint64_t *)(s->ref - s->off);
    size_t words = s->size / 8;
    if (s->seed & 1) {
        /* linked: [other, other_seed, other_size, pattern...] */
        const uint64_t *other = (const uint64_t *)w[0];
        if (check(w + LINKED_HDR, (words - LINKED_HDR) * 8, s->seed) >= 0 ||
            check(other, w[2], w[1]) >= 0)
            atomic_fetch_add(&bad, 1);
    } else if (check(w, words * 8, s->seed) >= 0) {
        atomic_fetch_add(&bad, 1);
    }
    atomic_fetch_add(&checks, 1);
}

static void fill_slot(struct slot *s, uint64_t *rng)
{
    size_t size = random_size(rng) & ~(size_t)7;
    uint64_t seed = rng_next(rng);
    bool linked = (seed & 1) && size >= 8 * (LINKED_HDR + 1);
    if (!linked)
        seed &= ~1ull;
    uint64_t *w;
    if (linked) {
        /* The other object is referenced only from this one. */
        size_t osize = random_size(rng) & ~(size_t)7;
        uint64_t oseed = rng_next(rng);
        void *other = (oseed >> 9) & 1 ? gort_alloc_noscan(osize) : gort_alloc(osize);
        fill(other, osize, oseed);
        w = gort_alloc(size);
        w[0] = (uint64_t)(uintptr_t)other;
        w[1] = oseed;
        w[2] = osize;
        fill(w + LINKED_HDR, size - LINKED_HDR * 8, seed);
        atomic_fetch_add(&allocs, 2);
    } else {
        w = (seed >> 9) & 1 ? gort_alloc_noscan(size) : gort_alloc(size);
        fill(w, size, seed);
        atomic_fetch_add(&allocs, 1);
    }
    uint32_t off = (uint32_t)((rng_next(rng) % (size / 8)) * 8);
    s->off = off;
    s->size = (uint32_t)size;
    s->seed = seed;
    s->ref = (char *)w + off;
}

static void stress_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    /* The slot table is heap memory referenced from this stack only. */
    struct slot *volatile slots = gort_alloc(SLOTS * sizeof(struct slot));
    for (long it = 0; it < stress_iters; it++) {
        struct slot *s = &slots[rng_next(&rng) % SLOTS];
        check_slot(s);
        fill_slot(s, &rng);
        if (it % 256 == 0)
            gort_yield();
    }
    for (int i = 0; i < SLOTS; i++)
        check_slot(&slots[i]);
    atomic_fetch_sub(&workers_left, 1);
    gort_waitgroup_done(&stress_wg);
}

static void stress_collector(void *arg)
{
    (void)arg;
    while (atomic_load(&workers_left) > 0) {
        gort_gc();
        gort_sleep(MSEC(30));
    }
    gort_waitgroup_done(&stress_wg);
}

static int mode_stress(void)
{
    const char *it = getenv("STRESS_ITERS");
    if (it)
        stress_iters = atol(it);
    gort_memstats ms0, ms1;
    gort_read_memstats(&ms0);
    atomic_store(&workers_left, WORKERS);
    gort_waitgroup_add(&stress_wg, WORKERS + 1);
    for (int i = 0; i < WORKERS; i++)
        gort_go(stress_worker, (void *)(uintptr_t)(i + 1));
    gort_go(stress_collector, NULL);
    gort_waitgroup_wait(&stress_wg);
    gort_read_memstats(&ms1);
    printf("stress workers=%d checks=%ld allocs=%ld bad=%ld gcs=%u forced=%u\n", WORKERS,
           atomic_load(&checks), atomic_load(&allocs), atomic_load(&bad), ms1.num_gc - ms0.num_gc,
           ms1.num_forced_gc - ms0.num_forced_gc);
    print_memstats("end", &ms1);
    return 0;
}

/* ---- rss ----------------------------------------------------------------- */

/* Print "PHASE name" and wait for a line on stdin. */
static void phase(const char *name)
{
    printf("PHASE %s\n", name);
    fflush(stdout);
    char c = 0;
    ssize_t n;
    gort_syscall_enter();
    do
        n = read(0, &c, 1);
    while ((n < 0 && errno == EINTR) || (n == 1 && c != '\n'));
    gort_syscall_exit();
}

enum { NLIVE = 8192 };     /* ~8 MiB of objects of 64..2048 bytes */

static void **live;        /* gort_alloc'd ring of live objects */

static size_t churn_live(uint64_t *rng, size_t bytes)
{
    size_t done = 0;
    while (done < bytes) {
        uint64_t r = rng_next(rng);
        size_t size = r % 16 == 0 ? 40000 + (r >> 8) % 60000 : 64 + (r >> 8) % 1984;
        size &= ~(size_t)7;
        void *p = gort_alloc(size);
        fill(p, size, r);
        /* Large ones are garbage at once; small ones replace a live one. */
        if (size < 32768)
            live[(r >> 20) % NLIVE] = p;
        done += size;
    }
    return done;
}

static void **peak;

static void make_peak(void *arg)
{
    size_t bytes = (size_t)(uintptr_t)arg;
    size_t n = bytes / (64 * 1024);
    peak = gort_alloc(n * 2 * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        peak[2 * i] = gort_alloc_noscan(60 * 1024);          /* large */
        memset(peak[2 * i], 0x5a, 60 * 1024);
        peak[2 * i + 1] = gort_alloc(4096);                   /* small */
        memset(peak[2 * i + 1], 0x5a, 4096);
    }
}

static void drop_peak(void *arg)
{
    (void)arg;
    peak = NULL;
}

static int mode_rss(void)
{
    uint64_t rng = 42;
    live = gort_alloc(NLIVE * sizeof(void *));
    churn_live(&rng, 128 << 20);
    report_memstats("warm");
    phase("warm");
    churn_live(&rng, (size_t)1 << 30);
    report_memstats("steady");
    phase("steady");
    size_t peak_bytes = 256 << 20;
    run_isolated(make_peak, (void *)(uintptr_t)peak_bytes);
    report_memstats("peak");
    phase("peak");
    run_isolated(drop_peak, NULL);
    gort_gc();
    gort_gc();
    /* Idle: the freed pages go back to the OS. */
    gort_memstats ms;
    int64_t deadline = mono_ns() + SEC(20);
    do {
        gort_sleep(MSEC(20));
        gort_read_memstats(&ms);
    } while (ms.heap_released < peak_bytes && mono_ns() < deadline);
    print_memstats("released", &ms);
    phase("released");
    return 0;
}

/* ---- parked -------------------------------------------------------------- */

enum { NPARKED = 100000, PARKED_SIZE = 64 };

static gort_chan *gate;
static atomic_int parked_count;
static atomic_long parked_bad;
static gort_waitgroup parked_wg;

static void parked_goroutine(void *arg)
{
    uint64_t i = (uint64_t)(uintptr_t)arg;
    /* Its object: on this stack only. */
    uint64_t *volatile obj = gort_alloc(PARKED_SIZE);
    fill(obj, PARKED_SIZE, i);
    atomic_fetch_add(&parked_count, 1);
    gort_chan_recv(gate, NULL);
    if (check(obj, PARKED_SIZE, i) >= 0)
        atomic_fetch_add(&parked_bad, 1);
    gort_waitgroup_done(&parked_wg);
}

static int mode_parked(void)
{
    uint64_t rng = 7;
    gate = gort_chan_make(sizeof(int64_t), 0);
    gort_waitgroup_add(&parked_wg, NPARKED);
    for (int i = 0; i < NPARKED; i++)
        gort_go(parked_goroutine, (void *)(uintptr_t)i);
    await_count(&parked_count, NPARKED);
    gort_memstats ms0, ms1;
    gort_read_memstats(&ms0);
    printf("parked %d numgoroutine %d\n", atomic_load(&parked_count), gort_numgoroutine());
    for (int r = 0; r < 3; r++) {
        churn(&rng, 8 << 20);
        gort_gc();
    }
    gort_read_memstats(&ms1);
    printf("collections while_parked=%u\n", ms1.num_gc - ms0.num_gc);
    print_memstats("parked", &ms1);
    gort_chan_close(gate);
    gort_waitgroup_wait(&parked_wg);
    printf("released bad %ld\n", atomic_load(&parked_bad));
    return 0;
}

/* ---- starve -------------------------------------------------------------- */

static atomic_int starve_stop;

static void allocate_forever(void *arg)
{
    (void)arg;
    while (!atomic_load(&starve_stop))
        opaque_use(gort_alloc(64 * 1024));
}

static int mode_starve(void)
{
    gort_go(allocate_forever, NULL);
    for (int i = 1; i <= 5; i++) {
        gort_yield();
        printf("turn %d\n", i);
    }
    atomic_store(&starve_stop, 1);
    return 0;
}

/* ---- shuffle ------------------------------------------------------------- */

/* What a concurrent mark must not lose: a pointer that leaves a place the
 * collector has not scanned yet for one it has (a table already scanned, a
 * node already marked, another goroutine's stack), with the old place
 * cleared.  Each worker owns TABLES tables of SLOTS node pointers (heap
 * objects reachable only from its stack) and, per move: swaps two slots,
 * hangs a node under another (the slot is cleared: the node is then
 * reachable only through the other), takes a hung node back into an empty
 * slot, hands a node to its relay goroutine through an unbuffered channel
 * and gets it back through another (in flight, it is only on the two
 * stacks), or replaces a node by a new one.  A collector goroutine runs
 * cycles back to back.  A node freed while reachable is found broken (its
 * memory reused) or finalized (its finalizer records its id). */
enum { SHUF_WORKERS = 4, SHUF_TABLES = 4, SHUF_SLOTS = 256, SHUF_NODE = 96,
       SHUF_MAX_IDS = 1 << 20 };

static long shuffle_iters = 150000;
static atomic_uchar shuf_finalized[SHUF_MAX_IDS];
static atomic_long shuf_next_id, shuf_bad, shuf_checks, shuf_moves[5];
static atomic_int shuf_workers_left;
static gort_waitgroup shuf_wg;

static void shuf_finalizer(void *obj)
{
    struct tobj *o = obj;
    if (o->id < SHUF_MAX_IDS)
        atomic_store(&shuf_finalized[o->id], 1);
}

static struct tobj *shuf_new(void)
{
    long id = atomic_fetch_add(&shuf_next_id, 1);
    if (id >= SHUF_MAX_IDS)
        FAIL("shuffle: out of node ids");
    struct tobj *o = tobj_new(SHUF_NODE, (uint64_t)id, false);
    gort_set_finalizer(o, shuf_finalizer);
    return o;
}

/* A node and what hangs under it must be whole and not finalized. */
static void shuf_check(const struct tobj *o, const char *what)
{
    for (int depth = 0; o && depth < 8; depth++, o = o->link) {
        atomic_fetch_add(&shuf_checks, 1);
        if (o->size != SHUF_NODE || o->id >= SHUF_MAX_IDS || !tobj_intact(o)) {
            if (atomic_fetch_add(&shuf_bad, 1) < 5)
                printf("BROKEN %s: node %p size %" PRIu64 " id %" PRIu64 "\n", what, (void *)o,
                       o->size, o->id);
            return;
        }
        if (atomic_load(&shuf_finalized[o->id])) {
            if (atomic_fetch_add(&shuf_bad, 1) < 5)
                printf("FINALIZED %s: node %p id %" PRIu64 " is reachable\n", what, (void *)o,
                       o->id);
            return;
        }
    }
}

struct shuf_pair {
    gort_chan *to_relay, *back;
};

static void shuf_relay(void *arg)
{
    struct shuf_pair *pr = arg;
    struct tobj *o;
    while (gort_chan_recv(pr->to_relay, &o)) {
        shuf_check(o, "at the relay");
        gort_yield();           /* hold it a while: only this stack has it */
        gort_chan_send(pr->back, &o);
        o = NULL;
    }
}

static void shuf_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 3;
    struct tobj **volatile tables[SHUF_TABLES];
    for (int t = 0; t < SHUF_TABLES; t++) {
        tables[t] = gort_alloc(SHUF_SLOTS * sizeof(struct tobj *));
        for (int i = 0; i < SHUF_SLOTS; i++)
            tables[t][i] = shuf_new();
    }
    struct shuf_pair pr = {gort_chan_make(sizeof(struct tobj *), 0),
                           gort_chan_make(sizeof(struct tobj *), 0)};
    gort_go(shuf_relay, &pr);
    for (long it = 0; it < shuffle_iters; it++) {
        uint64_t r = rng_next(&rng);
        struct tobj **a = &tables[r % SHUF_TABLES][(r >> 8) % SHUF_SLOTS];
        struct tobj **b = &tables[(r >> 20) % SHUF_TABLES][(r >> 28) % SHUF_SLOTS];
        int op = (int)((r >> 40) % 16), kind = -1;
        if (op < 7) {                           /* swap */
            kind = 0;
            struct tobj *x = *a, *y = *b;
            *a = NULL;
            *b = x;
            *a = y;
            shuf_check(x, "swapped");
            shuf_check(y, "swapped");
        } else if (op < 10) {                   /* hang b under a */
            if (*a && *b && *a != *b && !(*a)->link) {
                (*a)->link = *b;
                *b = NULL;
                shuf_check(*a, "hung");
                kind = 1;
            }
        } else if (op < 13) {                   /* take a's node back */
            if (*a && (*a)->link && !*b) {
                struct tobj *x = (*a)->link;
                (*a)->link = NULL;
                *b = x;
                shuf_check(x, "taken back");
                kind = 2;
            }
        } else if (op < 15) {                   /* through the relay */
            struct tobj *x = *a;
            if (x) {
                *a = NULL;
                gort_chan_send(pr.to_relay, &x);
                x = NULL;
                gort_chan_recv(pr.back, &x);
                shuf_check(x, "back from the relay");
                *a = x;
                kind = 3;
            }
        } else {                                /* replace */
            if (*a)
                shuf_check(*a, "replaced");
            *a = shuf_new();
            kind = 4;
        }
        if (kind >= 0)
            atomic_fetch_add(&shuf_moves[kind], 1);
        if (it % 1024 == 0)
            gort_yield();
    }
    gort_chan_close(pr.to_relay);
    for (int t = 0; t < SHUF_TABLES; t++)
        for (int i = 0; i < SHUF_SLOTS; i++)
            shuf_check(tables[t][i], "at the end");
    atomic_fetch_sub(&shuf_workers_left, 1);
    gort_waitgroup_done(&shuf_wg);
}

static void shuf_collector(void *arg)
{
    long *cycles = arg;
    while (atomic_load(&shuf_workers_left) > 0) {
        gort_gc();
        (*cycles)++;
    }
    gort_waitgroup_done(&shuf_wg);
}

static int mode_shuffle(void)
{
    const char *it = getenv("SHUFFLE_ITERS");
    if (it)
        shuffle_iters = atol(it);
    long cycles = 0;
    atomic_store(&shuf_workers_left, SHUF_WORKERS);
    gort_waitgroup_add(&shuf_wg, SHUF_WORKERS + 1);
    for (int i = 0; i < SHUF_WORKERS; i++)
        gort_go(shuf_worker, (void *)(uintptr_t)(i + 1));
    gort_go(shuf_collector, &cycles);
    gort_waitgroup_wait(&shuf_wg);
    printf("shuffle checks=%ld bad=%ld cycles=%ld nodes=%ld swaps=%ld hangs=%ld takes=%ld "
           "relays=%ld replaces=%ld\n",
           atomic_load(&shuf_checks), atomic_load(&shuf_bad), cycles, atomic_load(&shuf_next_id),
           atomic_load(&shuf_moves[0]), atomic_load(&shuf_moves[1]), atomic_load(&shuf_moves[2]),
           atomic_load(&shuf_moves[3]), atomic_load(&shuf_moves[4]));
    return 0;
}

static const struct mode modes[] = {
    {"stress", mode_stress},
    {"shuffle", mode_shuffle},
    {"rss", mode_rss},
    {"parked", mode_parked},
    {"starve", mode_starve},
    {NULL, NULL},
};

RT_MAIN(modes)
