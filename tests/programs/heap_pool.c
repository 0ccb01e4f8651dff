/*
 * heap_pool.c — gort_pool (sync.Pool) across collections.
 *
 *   heap_pool reuse       objects put are the ones get returns (no
 *                         constructor call), and whole
 *   heap_pool victim      pooled objects survive one collection (the
 *                         victim cache) and are dropped by the second:
 *                         get calls the constructor and the dropped
 *                         objects' finalizers run
 *   heap_pool concurrent  goroutines get and put while collections run:
 *                         never the same object to two holders at once,
 *                         every object whole
 */
#include "heap_common.h"

HEAP_DEFINE_OPAQUE
HEAP_DEFINE_FINALIZERS

enum { K = 64, OBJ_SIZE = 256 };

static atomic_int ctor_calls;

static void *ctor(void)
{
    int n = atomic_fetch_add(&ctor_calls, 1);
    return tobj_new(OBJ_SIZE, 2000 + (uint64_t)(n % 2000), false);
}

static gort_pool pool = GORT_POOL_INIT(ctor);

/* The objects put, by hidden address, so they are tracked without being kept. */
static uint64_t put_hidden[K];

static NOINLINE void put_new_objects(void *arg)
{
    (void)arg;
    for (int i = 0; i < K; i++) {
        struct tobj *o = tobj_new(OBJ_SIZE, (uint64_t)i, false);
        gort_set_finalizer(o, count_finalizer);
        put_hidden[i] = hide(o);
        gort_pool_put(&pool, o);
    }
}

/* Get K objects; count those that are ones we put (and check them) and
 * those the constructor made.  Only their hidden addresses are kept. */
static uint64_t got_hidden[K];

static NOINLINE void get_all(int *ours, int *fresh)
{
    *ours = *fresh = 0;
    int ctor0 = atomic_load(&ctor_calls);
    for (int i = 0; i < K; i++) {
        struct tobj *o = gort_pool_get(&pool);
        got_hidden[i] = hide(o);
        for (int j = 0; j < K; j++)
            if (put_hidden[j] == hide(o)) {
                CHECK_TOBJ(o, j, "pooled object");
                (*ours)++;
            }
    }
    *fresh = atomic_load(&ctor_calls) - ctor0;
}

static void distinct_or_fail(void)
{
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++)
            if (got_hidden[i] == got_hidden[j])
                FAIL("the pool returned object %p twice", unhide(got_hidden[i]));
}

static NOINLINE void put_back_got(void *arg)
{
    (void)arg;
    for (int i = 0; i < K; i++)
        gort_pool_put(&pool, unhide(got_hidden[i]));
}

/* Put and got on one goroutine with no scheduling point in between, so on
 * one P: as with Go's sync.Pool, a P's private slot is out of reach of the
 * others, and an object put by a goroutine on another P may legitimately
 * stay there.  (No collection runs in this mode, so the addresses left on
 * this stack keep nothing alive that matters.) */
static int mode_reuse(void)
{
    int ours, fresh;
    put_new_objects(NULL);
    get_all(&ours, &fresh);
    distinct_or_fail();
    printf("got ours=%d fresh=%d\n", ours, fresh);
    put_back_got(NULL);
    get_all(&ours, &fresh);
    distinct_or_fail();
    printf("again ours=%d fresh=%d\n", ours, fresh);
    /* The pool is empty now (everything is out): get makes new ones. */
    struct tobj *o = gort_pool_get(&pool);
    printf("empty fresh=%d\n", o->id >= 2000);
    return 0;
}

static int mode_victim(void)
{
    int ours, fresh;
    run_isolated(put_new_objects, NULL);
    gort_gc();
    get_all(&ours, &fresh);
    distinct_or_fail();
    printf("gc1 ours=%d fresh=%d\n", ours, fresh);
    run_isolated(put_back_got, NULL);
    memset(got_hidden, 0, sizeof got_hidden);
    gort_gc();
    gort_gc();
    settle_finalizers();
    int finalized_early = atomic_load(&fin_total);
    get_all(&ours, &fresh);
    printf("gc2 ours=%d fresh=%d\n", ours, fresh);
    /* The dropped ones are unreachable: their finalizers run. */
    gort_gc();
    await_finalizers(K);
    settle_finalizers();
    int once = 0;
    for (int i = 0; i < K; i++)
        once += atomic_load(&fin_runs[i]) == 1;
    printf("dropped finalized=%d once=%d before_get=%d bad=%d\n", atomic_load(&fin_total),
           once, finalized_early, atomic_load(&fin_bad));
    return 0;
}

/* ---- concurrent ---------------------------------------------------------- */

enum { WORKERS = 4, ITERS = 100000 };

struct pobj {
    atomic_int held;          /* 1 while a goroutine has it */
    int pad;
    uint64_t stamp;
    uint64_t body[(OBJ_SIZE - 16) / 8];
};

static atomic_int pobj_made;
static atomic_long errors, gets;
static gort_waitgroup wg;
static atomic_int stop;

static void *pctor(void)
{
    atomic_fetch_add(&pobj_made, 1);
    return gort_alloc(sizeof(struct pobj));
}

static gort_pool ppool = GORT_POOL_INIT(pctor);

static void worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 7777 + 1;
    for (int it = 0; it < ITERS; it++) {
        struct pobj *a = gort_pool_get(&ppool), *b = gort_pool_get(&ppool);
        struct pobj *mine[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            struct pobj *o = mine[k];
            if (atomic_exchange(&o->held, 1) != 0)
                atomic_fetch_add(&errors, 1);           /* handed out twice */
            if (o->stamp && check(o->body, sizeof o->body, o->stamp) >= 0)
                atomic_fetch_add(&errors, 1);           /* broken while pooled */
            o->stamp = rng_next(&rng) | 1;
            fill(o->body, sizeof o->body, o->stamp);
        }
        atomic_fetch_add(&gets, 2);
        if (it % 64 == 0)
            gort_alloc(4096);                           /* garbage: collections happen */
        for (int k = 0; k < 2; k++) {
            atomic_store(&mine[k]->held, 0);
            gort_pool_put(&ppool, mine[k]);
        }
        if (it % 16 == 0)
            gort_yield();
    }
    gort_waitgroup_done(&wg);
}

static void collector(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        gort_gc();
        gort_sleep(MSEC(1));
    }
    gort_waitgroup_done(&wg);
}

static int mode_concurrent(void)
{
    gort_memstats ms0, ms1;
    gort_read_memstats(&ms0);
    gort_waitgroup_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        gort_go(worker, (void *)(uintptr_t)(i + 1));
    gort_waitgroup_add(&wg, 1);
    gort_go(collector, NULL);
    /* Workers first; then the collector. */
    while (atomic_load(&gets) < (long)WORKERS * ITERS * 2)
        gort_sleep(MSEC(2));
    atomic_store(&stop, 1);
    gort_waitgroup_wait(&wg);
    gort_read_memstats(&ms1);
    printf("concurrent gets=%ld errors=%ld made=%d gcs=%u\n", atomic_load(&gets),
           atomic_load(&errors), atomic_load(&pobj_made), ms1.num_gc - ms0.num_gc);
    return 0;
}

static const struct mode modes[] = {
    {"reuse", mode_reuse},
    {"victim", mode_victim},
    {"concurrent", mode_concurrent},
    {NULL, NULL},
};

RT_MAIN(modes)
