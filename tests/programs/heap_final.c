/*
 * heap_final.c — finalizers and freeing.
 *
 *   heap_final unreachable  1,000 dropped objects: each finalizer runs
 *                           exactly once, then the objects are freed
 *                           (frees grows by at least 1,000)
 *   heap_final resurrect    an object stays alive (with what it references)
 *                           until its finalizer has run; a finalizer that
 *                           stores its object keeps it; a finalizer set
 *                           again runs again
 *   heap_final order        A -> B -> C all finalizable and dropped: A's
 *                           finalizer in the first cycle, B's in the second,
 *                           C's in the third (Go's order)
 *   heap_final cycle        objects in a reference cycle (or pointing to
 *                           themselves) with a finalizer are not finalized
 *   heap_final fatal        the finalizer goroutine parked, then a fatal
 *                           error: the dump shows it with
 *                           GORT_TRACEBACK=system only
 */
#include "heap_common.h"

HEAP_DEFINE_OPAQUE
HEAP_DEFINE_FINALIZERS

/* ---- unreachable --------------------------------------------------------- */

enum { NDROP = 1000 };

static void make_dropped(void *arg)
{
    (void)arg;
    for (int i = 0; i < NDROP; i++) {
        size_t size = i % 100 == 0 ? 40000 : 32 + (size_t)(i % 64) * 16;
        struct tobj *o = tobj_new(size, (uint64_t)i, i % 3 == 0);
        gort_set_finalizer(o, count_finalizer);
    }
}

static int mode_unreachable(void)
{
    gort_memstats ms0, ms1;
    gort_read_memstats(&ms0);
    run_isolated(make_dropped, NULL);
    gort_gc();
    await_finalizers(NDROP);
    /* More cycles: the objects are freed now, and nothing runs twice. */
    for (int i = 0; i < 3; i++) {
        gort_gc();
        settle_finalizers();
    }
    int once = 0, more = 0;
    for (int i = 0; i < NDROP; i++) {
        int n = atomic_load(&fin_runs[i]);
        once += n == 1;
        more += n > 1;
    }
    gort_read_memstats(&ms1);
    printf("finalized total %d once %d more %d bad %d\n", atomic_load(&fin_total), once, more,
           atomic_load(&fin_bad));
    printf("freed frees_grew=%" PRIu64 " mallocs_grew=%" PRIu64 " heap_objects_before=%" PRIu64
           " heap_objects_after=%" PRIu64 "\n", ms1.frees - ms0.frees, ms1.mallocs - ms0.mallocs,
           ms0.heap_objects, ms1.heap_objects);
    return 0;
}

/* ---- resurrect ----------------------------------------------------------- */

static struct tobj *resurrected;          /* where the finalizer stores its object */
static atomic_int link_intact = -1;
static atomic_int second_runs;

static void resurrecting_finalizer(void *obj)
{
    struct tobj *o = obj;
    /* The object and what it references are alive and whole. */
    atomic_store(&link_intact, o->link && o->link->id == 2 && tobj_intact(o->link));
    count_finalizer(obj);
    resurrected = o;
}

static void second_finalizer(void *obj)
{
    (void)obj;
    atomic_fetch_add(&second_runs, 1);
}

static void make_resurrectable(void *arg)
{
    (void)arg;
    struct tobj *a = tobj_new(512, 1, false);
    a->link = tobj_new(2048, 2, false);         /* reachable only from a */
    gort_set_finalizer(a, resurrecting_finalizer);
}

static void drop_resurrected(void *arg)
{
    (void)arg;
    gort_set_finalizer(resurrected, second_finalizer);
    resurrected = NULL;
}

/* Checks in a frame of their own: mode_resurrect's frame never holds the
 * object's address. */
static NOINLINE void check_resurrected(void)
{
    CHECK_TOBJ(resurrected, 1, "resurrected object");
    CHECK_TOBJ(resurrected->link, 2, "object referenced by the resurrected one");
}

static int mode_resurrect(void)
{
    uint64_t rng = 99;
    run_isolated(make_resurrectable, NULL);
    gort_gc();
    await_finalizers(1);
    printf("first finalizer ran %d link intact %d\n", atomic_load(&fin_runs[1]),
           atomic_load(&link_intact));
    /* Stored by its finalizer, the object is reachable again: it survives. */
    for (int i = 0; i < 5; i++) {
        churn(&rng, 4 << 20);
        gort_gc();
    }
    settle_finalizers();
    check_resurrected();
    printf("resurrected intact, finalizer runs %d\n", atomic_load(&fin_runs[1]));
    /* A new finalizer, set after the first ran, runs once the object is
     * dropped again. */
    run_isolated(drop_resurrected, NULL);
    for (int i = 0; i < 5 && atomic_load(&second_runs) == 0; i++) {
        gort_gc();
        settle_finalizers();
    }
    for (int i = 0; i < 2; i++) {
        gort_gc();
        settle_finalizers();
    }
    printf("second finalizer runs %d, first %d\n", atomic_load(&second_runs),
           atomic_load(&fin_runs[1]));
    return 0;
}

/* ---- order --------------------------------------------------------------- */

/* Ids 1 (A), 2 (B), 3 (C), with A -> B -> C; and 4 -> 5 -> 6 the same,
 * large objects. */
static void make_chain(void *arg)
{
    (void)arg;
    for (int base = 1; base <= 4; base += 3) {
        size_t size = base == 1 ? 64 : 50000;
        struct tobj *a = tobj_new(size, (uint64_t)base, false);
        struct tobj *b = tobj_new(size, (uint64_t)base + 1, false);
        struct tobj *c = tobj_new(size, (uint64_t)base + 2, false);
        a->link = b;
        b->link = c;
        gort_set_finalizer(a, count_finalizer);
        gort_set_finalizer(b, count_finalizer);
        gort_set_finalizer(c, count_finalizer);
    }
}

static int mode_order(void)
{
    run_isolated(make_chain, NULL);
    for (int cycle = 1; cycle <= 4; cycle++) {
        gort_gc();
        settle_finalizers();
        printf("after cycle %d finalized", cycle);
        for (int id = 1; id <= 6; id++)
            printf(" %d", atomic_load(&fin_runs[id]));
        printf("\n");
    }
    printf("bad %d\n", atomic_load(&fin_bad));
    return 0;
}

/* ---- cycle --------------------------------------------------------------- */

static void make_cycles(void *arg)
{
    (void)arg;
    struct tobj *a = tobj_new(64, 1, false);     /* a <-> b, a finalizable */
    struct tobj *b = tobj_new(64, 2, false);
    a->link = b;
    b->link = a;
    gort_set_finalizer(a, count_finalizer);
    struct tobj *s = tobj_new(128, 3, false);    /* s -> s, finalizable */
    s->link = s;
    gort_set_finalizer(s, count_finalizer);
    struct tobj *c = tobj_new(64, 4, false);     /* the control: no cycle */
    gort_set_finalizer(c, count_finalizer);
}

static int mode_cycle(void)
{
    run_isolated(make_cycles, NULL);
    for (int i = 0; i < 4; i++) {
        gort_gc();
        settle_finalizers();
    }
    await_finalizers(1);
    printf("finalized cycle %d self %d control %d\n", atomic_load(&fin_runs[1]),
           atomic_load(&fin_runs[3]), atomic_load(&fin_runs[4]));
    return 0;
}

/* ---- fatal --------------------------------------------------------------- */

static struct tobj *kept;

static int mode_fatal(void)
{
    /* The first finalizer starts the finalizer goroutine; one run makes
     * sure it has parked waiting for more. */
    kept = tobj_new(64, 1, false);
    gort_set_finalizer(kept, count_finalizer);
    run_isolated(make_cycles, NULL);
    gort_gc();
    await_finalizers(1);
    settle_finalizers();
    printf("finalizer goroutine parked\n");
    fflush(stdout);
    gort_alloc((size_t)-1);         /* fatal: out of memory */
    FAIL("gort_alloc(SIZE_MAX) returned");
}

static const struct mode modes[] = {
    {"unreachable", mode_unreachable},
    {"resurrect", mode_resurrect},
    {"order", mode_order},
    {"cycle", mode_cycle},
    {"fatal", mode_fatal},
    {NULL, NULL},
};

RT_MAIN(modes)
