/*
 * heap_reach.c — what the collector keeps and what it frees.
 *
 *   heap_reach stack      objects referenced only from goroutine 1's stack
 *   heap_reach global     ... only from global data
 *   heap_reach heap       ... only from other heap objects (small and large)
 *   heap_reach interior   ... only by interior pointers (middle, last byte)
 *   heap_reach registers  ... only from a goroutine that never calls the
 *                         runtime (its registers and stack); GOMAXPROCS >= 2
 *   heap_reach unseen     objects referenced only from a noscan object or
 *                         from malloc'd memory are freed
 *   heap_reach stacktop   an unreferenced object lying right above a parked
 *                         goroutine's stack is freed
 *   heap_reach list       a 1,000,000-node list reachable from a global
 *
 * Every mode holds its objects through many collections with garbage
 * allocated in between (freed slots get reused, so a wrongly freed object
 * is overwritten), checks their contents, and checks that twin objects
 * nobody references (the controls) ARE finalized: so the test can fail.
 * Held objects carry a finalizer too, which must never run.
 *
 * Output: "held N", "controls N finalized N", "rounds N", "gcs N" and
 * mode-specific lines; "FAIL ..." on a broken object.
 */
#include "heap_common.h"

HEAP_DEFINE_OPAQUE
HEAP_DEFINE_FINALIZERS

enum { ROUNDS = 12, CHURN_BYTES = 6 << 20, NCONTROLS = 16, CONTROL_ID = 1000 };

/* Object sizes exercised: small classes, a multi-page class, large. */
static const size_t sizes[] = {32, 48, 256, 1024, 4096, 12288, 30000, 40000, 200000};
enum { NSIZES = sizeof sizes / sizeof sizes[0], NHELD = 2 * NSIZES };

static uint64_t rng = 0x1234567;

/* ---- Controls: unreferenced twins ---------------------------------------- */

static uint64_t control_hidden[NCONTROLS];

static void make_controls(void *arg)
{
    bool noscan = arg != NULL;
    for (int i = 0; i < NCONTROLS; i++) {
        struct tobj *o = tobj_new(sizes[i % NSIZES], CONTROL_ID + (uint64_t)i, noscan && i % 2);
        gort_set_finalizer(o, count_finalizer);
        control_hidden[i] = hide(o);
    }
}

/* Held objects are ids 0..NHELD-1, every size both scan and noscan. */
static struct tobj *new_held(int i)
{
    struct tobj *o = tobj_new(sizes[i % NSIZES], (uint64_t)i, i >= NSIZES);
    gort_set_finalizer(o, count_finalizer);
    return o;
}

static void check_held_finalizers(int nheld)
{
    for (int i = 0; i < nheld; i++)
        if (atomic_load(&fin_runs[i]))
            FAIL("held object %d was finalized", i);
    if (atomic_load(&fin_bad))
        FAIL("%d finalizers found their object broken", atomic_load(&fin_bad));
}

/* Rounds of garbage and collections; verify(i) checks held object i. */
static void rounds(void (*verify)(void))
{
    run_isolated(make_controls, (void *)1);
    int before = atomic_load(&fin_total);
    gort_memstats ms0, ms1;
    gort_read_memstats(&ms0);
    for (int r = 0; r < ROUNDS; r++) {
        churn(&rng, CHURN_BYTES);
        gort_gc();
        verify();
        check_held_finalizers(NHELD);
    }
    await_finalizers(before + NCONTROLS);
    settle_finalizers();
    check_held_finalizers(NHELD);
    for (int i = 0; i < NCONTROLS; i++)
        if (atomic_load(&fin_runs[CONTROL_ID + i]) != 1)
            FAIL("control %d finalized %d times", i, atomic_load(&fin_runs[CONTROL_ID + i]));
    verify();
    gort_read_memstats(&ms1);
    printf("controls %d finalized %d\n", NCONTROLS, atomic_load(&fin_total) - before);
    printf("rounds %d\n", ROUNDS);
    printf("gcs %u\n", ms1.num_gc - ms0.num_gc);
}

/* ---- Only on the stack --------------------------------------------------- */

static uint64_t stack_slots_hidden;     /* where the slots are, for verify_stack */

static void verify_stack(void)
{
    struct tobj *volatile *slots = unhide(stack_slots_hidden);
    for (int i = 0; i < NHELD; i++)
        CHECK_TOBJ(slots[i], i, "stack-held object");
}

static NOINLINE int hold_on_stack(void)
{
    struct tobj *volatile slots[NHELD];
    for (int i = 0; i < NHELD; i++)
        slots[i] = new_held(i);
    stack_slots_hidden = hide((void *)slots);
    rounds(verify_stack);
    gort_keepalive((void *)slots);
    return NHELD;
}

static int mode_stack(void)
{
    printf("held %d\n", hold_on_stack());
    return 0;
}

/* ---- Only in global data ------------------------------------------------- */

static struct tobj *global_objs[NHELD];

static void make_global(void *arg)
{
    (void)arg;
    for (int i = 0; i < NHELD; i++)
        global_objs[i] = new_held(i);
}

static void verify_global(void)
{
    for (int i = 0; i < NHELD; i++)
        CHECK_TOBJ(global_objs[i], i, "global-held object");
}

static int mode_global(void)
{
    run_isolated(make_global, NULL);
    rounds(verify_global);
    printf("held %d\n", NHELD);
    return 0;
}

/* ---- Only from other heap objects ---------------------------------------- */

/* global -> small container -> each held object (scan ones link to the next
 * one, so some are reachable only through a chain), and a large container
 * (over 32 KiB) holding the same pointers far from its start. */
struct container {
    struct tobj *objs[NHELD];
};

enum { LARGE_SLOTS = 8192 };     /* 64 KiB of pointer slots */

static struct container *small_root;   /* global -> small container */
static uint64_t small_hidden;           /* its address again, for checking only */

static void make_heap(void *arg)
{
    (void)arg;
    struct container *c = gort_alloc(sizeof *c);
    void **big = gort_alloc(LARGE_SLOTS * sizeof(void *));
    for (int i = 0; i < NHELD; i++) {
        struct tobj *o = new_held(i);
        if (i < NSIZES / 2 || i >= NSIZES)
            c->objs[i] = o;                     /* directly from the small container */
        else
            big[LARGE_SLOTS - 1 - i] = o;       /* only from the large one, at its end */
    }
    /* A chain: objects NSIZES/2.. are also linked one to the next from
     * object 0, through scan objects only. */
    struct tobj *prev = c->objs[0];
    for (int i = NSIZES / 2; i < NSIZES; i++) {
        prev->link = big[LARGE_SLOTS - 1 - i];
        prev = prev->link;
    }
    /* The large container is reachable only from object 1 (a scan one). */
    c->objs[1]->link = (struct tobj *)big;
    small_root = c;
    small_hidden = hide(c);
}

static void verify_heap(void)
{
    struct container *c = small_root;
    if (c != unhide(small_hidden))
        FAIL("the root pointer changed");
    void **big = (void **)c->objs[1]->link;
    for (int i = 0; i < NHELD; i++) {
        struct tobj *o = c->objs[i] ? c->objs[i] : big[LARGE_SLOTS - 1 - i];
        CHECK_TOBJ(o, i, "heap-held object");
    }
    struct tobj *p = c->objs[0];
    for (int i = NSIZES / 2; i < NSIZES; i++) {
        p = p->link;
        CHECK_TOBJ(p, i, "chained object");
    }
    for (int i = 0; i < LARGE_SLOTS; i++)
        if (big[i] && (i < LARGE_SLOTS - NSIZES || i > LARGE_SLOTS - 1 - NSIZES / 2))
            FAIL("large container slot %d is %p, want NULL", i, big[i]);
}

static int mode_heap(void)
{
    run_isolated(make_heap, NULL);
    rounds(verify_heap);
    printf("held %d\n", NHELD);
    return 0;
}

/* ---- Only by interior pointers ------------------------------------------- */

/* For object i: a pointer to its middle (even i) or to its last byte (odd i). */
static char *interior[NHELD];
static size_t interior_off[NHELD];

static void make_interior(void *arg)
{
    (void)arg;
    for (int i = 0; i < NHELD; i++) {
        struct tobj *o = new_held(i);
        size_t off = i % 2 ? o->size - 1 : o->size / 2 + 3;
        interior[i] = (char *)o + off;
        interior_off[i] = off;
    }
}

static void verify_interior(void)
{
    for (int i = 0; i < NHELD; i++)
        CHECK_TOBJ((struct tobj *)(interior[i] - interior_off[i]), i, "interior-held object");
}

static int mode_interior(void)
{
    run_isolated(make_interior, NULL);
    rounds(verify_interior);
    printf("held %d\n", NHELD);
    return 0;
}

/* ---- Only from a goroutine that never calls the runtime ------------------ */

static uint64_t spin_hidden;
static atomic_int spin_started, spin_stop;
static atomic_long spin_checks, spin_bad = -1;
static gort_waitgroup spin_wg;

/* The object's address exists only in this goroutine's registers (and
 * perhaps its stack frame): spin_hidden is not a pointer, the goroutine's
 * argument is NULL.  It checks the object in a loop without ever calling
 * the runtime, so each collection must stop its thread with a signal and
 * scan what the signal saved. */
static NOINLINE void spinner(void *arg)
{
    (void)arg;
    struct tobj *o = unhide(spin_hidden);
    atomic_store(&spin_started, 1);
    long n = 0, bad = 0;
    while (!atomic_load_explicit(&spin_stop, memory_order_relaxed)) {
        if (o->id != 0 || !tobj_intact(o))
            bad++;
        n++;
    }
    atomic_store(&spin_checks, n);
    atomic_store(&spin_bad, bad);
    gort_waitgroup_done(&spin_wg);
}

/* 4000 bytes in a 4096-byte slot: the spinner's check loop ends with a
 * pointer one past the object's end in a register, and the collector, which
 * takes any pointer into a slot for a reference to it, would keep the
 * object in the next slot alive if that pointer fell there (a control,
 * which must be collected). */
enum { SPIN_SIZE = 4000 };

static void make_spin_object(void *arg)
{
    (void)arg;
    struct tobj *o = tobj_new(SPIN_SIZE, 0, false);
    gort_set_finalizer(o, count_finalizer);
    spin_hidden = hide(o);
}

static void verify_spin(void)
{
    if (atomic_load(&spin_bad) > 0)
        FAIL("the spinning goroutine saw its object change");
}

static int mode_registers(void)
{
    if (gort_maxprocs(0) < 2) {
        printf("skip GOMAXPROCS < 2\n");
        return 0;
    }
    run_isolated(make_spin_object, NULL);
    gort_waitgroup_add(&spin_wg, 1);
    gort_go(spinner, NULL);
    while (!atomic_load(&spin_started))
        gort_yield();
    rounds(verify_spin);
    atomic_store(&spin_stop, 1);
    gort_waitgroup_wait(&spin_wg);
    if (atomic_load(&spin_bad) != 0)
        FAIL("the spinning goroutine saw its object change %ld times", atomic_load(&spin_bad));
    if (atomic_load(&fin_runs[0]))
        FAIL("the spinner's object was finalized while in use");
    printf("spinner checks>0 %d bad %ld\n", atomic_load(&spin_checks) > 0,
           atomic_load(&spin_bad));
    /* Once the spinner is gone, nothing references the object. */
    for (int i = 0; i < 3 && !atomic_load(&fin_runs[0]); i++) {
        gort_gc();
        settle_finalizers();
    }
    printf("exited spinner object finalized %d\n", atomic_load(&fin_runs[0]));
    printf("held 1\n");
    return 0;
}

/* ---- Not seen: only from a noscan object, only from malloc'd memory ------ */

static void **noscan_holder;     /* a gort_alloc_noscan block, global */
static void **malloc_holder;     /* a malloc'd block, global */

static void make_unseen(void *arg)
{
    (void)arg;
    noscan_holder = gort_alloc_noscan(64);
    malloc_holder = malloc(64);
    for (int i = 0; i < 4; i++) {
        struct tobj *o = tobj_new(sizes[i], (uint64_t)i, false);
        gort_set_finalizer(o, count_finalizer);
        if (i < 2)
            noscan_holder[i] = o;
        else
            malloc_holder[i] = o;
    }
}

static int mode_unseen(void)
{
    run_isolated(make_unseen, NULL);
    for (int r = 0; r < 3; r++)
        gort_gc();
    await_finalizers(4);
    for (int i = 0; i < 4; i++)
        printf("unseen %d %s finalized %d\n", i, i < 2 ? "noscan" : "malloc",
               atomic_load(&fin_runs[i]));
    /* The noscan holder itself, referenced from a global, stays. */
    printf("noscan holder intact %d\n", noscan_holder[0] != NULL);
    return 0;
}

/* ---- Right above a goroutine's stack ------------------------------------- */

/* Stacks are spans of the heap too: an object allocated just before
 * goroutines first run can sit right above one of their stacks (pages are
 * handed out from the top of a free run down, stacks a batch at a time).
 * Nothing refers to it, so it must be freed while the goroutines live. */
enum { PARKERS = 48 };
static gort_chan *above_gate;
static uintptr_t above_local[PARKERS];   /* an address in each parker's top frame */
static atomic_int above_started;
static uint64_t above_hidden;

static void above_parker(void *arg)
{
    volatile int local = 0;
    above_local[(intptr_t)arg] = (uintptr_t)&local;
    atomic_fetch_add(&above_started, 1);
    gort_chan_recv(above_gate, NULL);
    (void)local;
}

static NOINLINE void make_above(void)
{
    struct tobj *o = tobj_new(40000, 0, false);     /* a span of its own */
    gort_set_finalizer(o, count_finalizer);
    above_hidden = hide(o);
}

/* In a frame of its own, so the object's address is gone from every
 * register and live slot of mode_stacktop once it returns. */
static NOINLINE int above_a_parker_stack(void)
{
    uintptr_t obj = (uintptr_t)unhide(above_hidden);
    int adjacent = 0;
    for (int i = 0; i < PARKERS; i++)
        adjacent |= obj > above_local[i] && obj - above_local[i] < 1024;
    return adjacent;
}

static int mode_stacktop(void)
{
    above_gate = gort_chan_make(sizeof(int64_t), 0);
    /* The finalizer goroutine first, so its stack is not the one that
     * lands below the object. */
    make_above();
    gort_set_finalizer(unhide(above_hidden), NULL);
    settle_finalizers();
    make_above();
    for (intptr_t i = 0; i < PARKERS; i++)
        gort_go(above_parker, (void *)i);
    while (atomic_load(&above_started) < PARKERS)
        gort_yield();                   /* each parker runs: its stack is carved now */
    printf("above parker stack %d\n", above_a_parker_stack());
    for (int i = 0; i < 5 && !atomic_load(&fin_runs[0]); i++) {
        gort_gc();
        settle_finalizers();
    }
    printf("above finalized %d\n", atomic_load(&fin_runs[0]));
    gort_chan_close(above_gate);
    return 0;
}

/* ---- A 1,000,000-node list ----------------------------------------------- */

enum { LIST_N = 1000000 };

struct node {
    struct node *next;
    uint64_t value;
    uint64_t check;
};

static struct node *list_head;

static void build_list(void *arg)
{
    (void)arg;
    for (uint64_t i = LIST_N; i-- > 0;) {
        struct node *n = gort_alloc(sizeof *n);
        n->value = i;
        n->check = pattern_word(i, 0);
        n->next = list_head;
        list_head = n;
    }
}

static void verify_list(void)
{
    uint64_t i = 0;
    for (struct node *n = list_head; n; n = n->next, i++)
        if (n->value != i || n->check != pattern_word(i, 0))
            FAIL("list node %" PRIu64 " at %p holds %" PRIu64 "/%#" PRIx64, i, (void *)n,
                 n->value, n->check);
    if (i != LIST_N)
        FAIL("the list has %" PRIu64 " nodes, want %d", i, LIST_N);
}

static int mode_list(void)
{
    gort_memstats ms0, ms1;
    gort_read_memstats(&ms0);
    run_isolated(build_list, NULL);
    gort_read_memstats(&ms1);
    printf("list built n=%d gcs_while_building=%u\n", LIST_N, ms1.num_gc - ms0.num_gc);
    verify_list();
    for (int r = 0; r < 4; r++) {
        churn(&rng, CHURN_BYTES);
        gort_gc();
        verify_list();
    }
    gort_read_memstats(&ms1);
    printf("list intact n=%d gcs=%u heap_objects=%" PRIu64 "\n", LIST_N,
           ms1.num_gc - ms0.num_gc, ms1.heap_objects);
    /* Dropped, the list is freed. */
    list_head = NULL;
    gort_gc();
    gort_gc();
    gort_read_memstats(&ms1);
    printf("list dropped heap_objects=%" PRIu64 "\n", ms1.heap_objects);
    return 0;
}

static const struct mode modes[] = {
    {"stack", mode_stack},
    {"global", mode_global},
    {"heap", mode_heap},
    {"interior", mode_interior},
    {"registers", mode_registers},
    {"unseen", mode_unseen},
    {"stacktop", mode_stacktop},
    {"list", mode_list},
    {NULL, NULL},
};

RT_MAIN(modes)
