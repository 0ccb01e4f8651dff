/*
 * insp_heap.c — a heap of known shape, for goinspect attach's heap views.
 *
 *   insp_heap heap       objects of several size classes (scan and noscan)
 *                        and large objects, some dropped and freed by
 *                        gort_gc; waits until the heap holds still (swept,
 *                        idle pages released), prints its own memory
 *                        statistics, then allocates a few objects more,
 *                        which its P's cache still counts when it is READY
 *   insp_heap garbage    the same, then fills the record of the span of one
 *                        kept object with garbage
 *   insp_heap badbits    ... points that span's allocation bitmap at
 *                        unmapped memory
 *   insp_heap badcount   ... gives that span more objects than fit in it
 *
 * Nothing allocates once it is READY (the ticker and its worker do not), so
 * the heap stays as it was.  Prints, besides insp_common.h's G, TICK and
 * READY lines:
 *
 *   OBJ 0xADDR SIZE kept|freed scan|noscan   an object, SIZE as asked for
 *   MS settled k=v ...      gort_read_memstats once the heap held still
 *                           (heap_common.h's format)
 *   EXTRA N BYTES           objects allocated after that, and their bytes
 *   VICTIM 0xOBJ 0xBASE 0xSPAN   the damaged span: an object in it, its
 *                           first address, its record
 *
 * and answers each "memstats" line on its stdin with "MS probe ...": the
 * goroutine that reads stdin is blocked in read(), so the question does
 * not disturb the heap.
 */
#include "insp_common.h"
#include "insp_desc.h"
#include "heap_common.h"

static const struct spec {
    size_t size;
    int count;
    int drop_every;     /* object i is dropped when i % drop_every == drop_every - 1 */
    bool noscan;
} specs[] = {
    {200, 60, 2, false},        /* size class 208: two spans, half dropped */
    {1400, 12, 3, true},        /* size class 1408 (2-page spans), noscan */
    {6500, 5, 2, false},        /* size class 6528 (4-page spans) */
    {40000, 1, 0, false},       /* large objects */
    {100000, 1, 1, true},
    {300000, 1, 0, false},
};
enum { NSPECS = sizeof specs / sizeof specs[0], MAXOBJ = 128, NEXTRA = 7, EXTRA_SIZE = 24,
       EXTRA_LARGE = 50000 };

static struct obj {
    uint64_t hidden;    /* its address, hidden from the collector */
    size_t size;
    bool kept, noscan;
} objs[MAXOBJ];
static int nobjs;
/* The collector's only way to the kept objects (global: never optimized away). */
void *kept[MAXOBJ];
void *extra[NEXTRA + 1];

static void allocate(void *arg)
{
    (void)arg;
    for (int s = 0; s < NSPECS; s++)
        for (int i = 0; i < specs[s].count; i++) {
            const struct spec *sp = &specs[s];
            void *p = sp->noscan ? gort_alloc_noscan(sp->size) : gort_alloc(sp->size);
            bool drop = sp->drop_every && i % sp->drop_every == sp->drop_every - 1;
            objs[nobjs] = (struct obj){hide(p), sp->size, !drop, sp->noscan};
            if (!drop)
                kept[nobjs] = p;
            nobjs++;
        }
}

static int class_of(const gort_memstats *ms, size_t size)
{
    for (int c = 1; c < GORT_NUM_SIZE_CLASSES; c++)
        if (ms->by_size[c].size >= size)
            return c;
    return 0;
}

/* Has every dropped object been freed, and nothing else of their classes
 * been allocated? */
static bool dropped_freed(const gort_memstats *ms)
{
    uint64_t small_frees = 0;
    for (int c = 0; c < GORT_NUM_SIZE_CLASSES; c++)
        small_frees += ms->by_size[c].frees;
    int large_dropped = 0;
    for (int s = 0; s < NSPECS; s++) {
        int dropped = specs[s].drop_every ? specs[s].count / specs[s].drop_every : 0;
        if (specs[s].size > 32768) {
            large_dropped += dropped;
            continue;
        }
        int c = class_of(ms, specs[s].size);
        if (ms->by_size[c].mallocs != (uint64_t)specs[s].count)
            FAIL("size class %d (%u bytes) holds objects of others: %" PRIu64 " allocated", c,
                 ms->by_size[c].size, ms->by_size[c].mallocs);
        if (ms->by_size[c].frees != (uint64_t)dropped)
            return false;
    }
    return ms->frees - small_frees == (uint64_t)large_dropped;
}

static bool same(const gort_memstats *a, const gort_memstats *b)
{
    return a->mallocs == b->mallocs && a->frees == b->frees && a->heap_alloc == b->heap_alloc &&
           a->heap_inuse == b->heap_inuse && a->heap_idle == b->heap_idle &&
           a->heap_released == b->heap_released && a->stack_inuse == b->stack_inuse &&
           a->sys == b->sys && a->num_gc == b->num_gc;
}

/* Until the heap holds still: the dropped objects freed, every span swept,
 * and free pages returned to the OS (the scavenger does that whenever every
 * P is idle, which would change the statistics later otherwise). */
static void settle(gort_memstats *ms)
{
    gort_memstats prev;
    memset(&prev, 0, sizeof prev);
    gort_read_memstats(&prev);
    int64_t start = mono_ns(), regc = start + SEC(1);
    for (;;) {
        gort_sleep(MSEC(50));
        memset(ms, 0, sizeof *ms);
        gort_read_memstats(ms);
        bool freed = dropped_freed(ms);
        if (freed && same(ms, &prev) && ms->heap_idle == ms->heap_released)
            return;
        if (mono_ns() > start + SEC(10))
            FAIL("the heap never held still (dropped objects freed: %d)", freed);
        if (!freed && mono_ns() > regc) {
            gort_gc();      /* a stale copy of a pointer may have kept one for a cycle */
            regc = mono_ns() + SEC(1);
        }
        prev = *ms;
    }
}

/* The span record holding address p, from the arenas' page tables. */
static char *span_of_addr(uint64_t p)
{
    char *mheap = (char *)(uintptr_t)desc_root("mheap");
    char **arenas = *(char ***)(mheap + desc_field("mheap", "arenas"));
    uint32_t n = *(uint32_t *)(mheap + desc_field("mheap", "narenas"));
    uint64_t ab = *(uint64_t *)(uintptr_t)desc_root("arena_bytes");
    uint64_t ps = *(uint64_t *)(uintptr_t)desc_root("page_size");
    for (uint32_t i = 0; i < n; i++) {
        uint64_t base = *(uint64_t *)(arenas[i] + desc_field("arena", "base"));
        if (p >= base && p < base + ab)
            return ((char **)(arenas[i] + desc_field("arena", "spans")))[(p - base) / ps];
    }
    FAIL("%#" PRIx64 " is in no arena", p);
}

static void damage(const char *mode)
{
    uint64_t victim = 0;
    for (int i = 0; i < nobjs && !victim; i++)
        if (objs[i].size == 6500 && objs[i].kept)
            victim = (uint64_t)(uintptr_t)unhide(objs[i].hidden);
    char *rec = span_of_addr(victim);
    uint64_t base = *(uint64_t *)(rec + desc_field("span", "base"));
    if (strcmp(mode, "garbage") == 0)
        memset(rec, 0xa5, desc_type("span")->size);
    else if (strcmp(mode, "badbits") == 0)
        *(uint64_t *)(rec + desc_field("span", "allocbits")) = 0x10;   /* never mapped */
    else if (strcmp(mode, "badcount") == 0)
        *(uint32_t *)(rec + desc_field("span", "nelems")) = 1000;
    else
        FAIL("unknown mode %s", mode);
    printf("VICTIM %#" PRIx64 " %#" PRIx64 " %#" PRIx64 "\n", victim, base,
           (uint64_t)(uintptr_t)rec);
}

static struct who prober_who = {"prober", 0, 0, 0, 0};

/* Answers "memstats" lines on stdin. */
static void prober(void *arg)
{
    (void)arg;
    char buf[256];
    size_t have = 0;
    volatile int local = 0;
    ARRIVE(&prober_who, &local);
    for (;;) {
        gort_syscall_enter();
        ssize_t n;
        do
            n = read(0, buf + have, sizeof buf - 1 - have);
        while (n < 0 && errno == EINTR);
        gort_syscall_exit();
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = 0;
            if (strcmp(buf, "memstats") == 0) {
                gort_memstats ms;
                memset(&ms, 0, sizeof ms);
                gort_read_memstats(&ms);
                print_memstats("probe", &ms);
                fflush(stdout);
            }
            have -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have + 1);
        }
        if (have == sizeof buf - 1)
            have = 0;
    }
    for (;;)
        gort_sleep(SEC(3600));
}

static int run(const char *mode)
{
    progress_start(20);
    gort_go(prober, NULL);
    await_here(&prober_who);
    run_isolated(allocate, NULL);
    gort_gc();
    gort_memstats ms;
    settle(&ms);
    for (int i = 0; i < nobjs; i++)
        printf("OBJ %#" PRIx64 " %zu %s %s\n", (uint64_t)(uintptr_t)unhide(objs[i].hidden),
               objs[i].size, objs[i].kept ? "kept" : "freed", objs[i].noscan ? "noscan" : "scan");
    print_memstats("settled", &ms);
    /* counted in this P's cache, not yet in the runtime's totals */
    for (int i = 0; i < NEXTRA; i++)
        extra[i] = gort_alloc(EXTRA_SIZE);
    extra[NEXTRA] = gort_alloc(EXTRA_LARGE);
    uint64_t ps = *(uint64_t *)(uintptr_t)desc_root("page_size");
    printf("EXTRA %d %" PRIu64 "\n", NEXTRA + 1,
           (uint64_t)NEXTRA * ms.by_size[class_of(&ms, EXTRA_SIZE)].size +
               (EXTRA_LARGE + ps - 1) / ps * ps);
    if (strcmp(mode, "heap") != 0)
        damage(mode);
    print_who(&prober_who);
    return report_and_park();
}

static int mode_heap(void) { return run("heap"); }
static int mode_garbage(void) { return run("garbage"); }
static int mode_badbits(void) { return run("badbits"); }
static int mode_badcount(void) { return run("badcount"); }

static const struct mode modes[] = {
    {"heap", mode_heap},
    {"garbage", mode_garbage},
    {"badbits", mode_badbits},
    {"badcount", mode_badcount},
    {NULL, NULL},
};

RT_MAIN(modes)
