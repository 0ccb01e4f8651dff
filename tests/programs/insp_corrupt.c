/*
 * insp_corrupt.c — a program that corrupts its own goroutine table, the way
 * a memory bug would, to check that goinspect reports the bad entries and
 * still shows the rest.
 *
 *   insp_corrupt MODE   MODE is one of:
 *     badptr     an all-G table entry points at unmapped memory
 *     badstatus  a G's status is not a goroutine state
 *     badstack   a G's stack bounds are reversed
 *     badrsp     a G's saved stack pointer is outside its stack
 *     badframe   the return address saved on a G's stack is garbage
 *     hugelen    the table's length is absurd (entries past the real end
 *                are unreadable)
 *     badmheap   the descriptor gives the heap's root (mheap) an address
 *                that is never mapped: no arena can be read
 *     nogtype    the descriptor describes no type g (its name is changed)
 *
 * The victim goroutines are parked for good (nothing ever wakes them, so
 * the runtime never looks at what was damaged); no goroutine is created
 * after the damage.  The layout is read from the runtime descriptor by
 * field name, as docs/metadata.md describes it.  Prints "VICTIM ID", the
 * "G ..." lines of the others, READY, then TICK lines.
 */
#include "insp_common.h"
#include "insp_desc.h"

#include <sys/mman.h>

static gort_chan *never;
static struct who victim = {"victim", 0, 0, 0, 0}, bystander = {"bystander", 0, 0, 0, 0};

static void parked(void *arg)
{
    volatile int64_t v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_chan_recv(never, (void *)&v); /* WAIT:parked */
    FAIL("a parked goroutine woke up");
}

/* The G of goroutine id, found in the all-G table. */
static char *find_g(uint64_t id, uint64_t *index)
{
    char **allgs = *(char ***)(uintptr_t)desc_root("allgs");
    uint64_t n = *(uint64_t *)(uintptr_t)desc_root("allglen");
    uint32_t goid = desc_field("g", "goid"), status = desc_field("g", "status");
    for (uint64_t i = 0; i < n; i++)
        if (*(uint64_t *)(allgs[i] + goid) == id && *(uint32_t *)(allgs[i] + status) != 5) {
            *index = i;
            return allgs[i];
        }
    FAIL("goroutine %" PRIu64 " is not in the table", id);
}

/* The descriptor's entry for root name gets an address that is never
 * mapped (its table is read-only after relocation: made writable first);
 * the runtime itself never reads its descriptor. */
static void bad_root(const char *name)
{
    const struct descriptor *d = &gort_runtime_descriptor;
    for (uint32_t i = 0; i < d->nroots; i++) {
        if (strcmp(d->roots[i].name, name) != 0)
            continue;
        long page = sysconf(_SC_PAGESIZE);
        uintptr_t lo = (uintptr_t)&d->roots[i] & ~(uintptr_t)(page - 1);
        uintptr_t hi = (uintptr_t)(&d->roots[i] + 1);
        if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0)
            FAIL("mprotect: %s", strerror(errno));
        ((struct desc_root *)(uintptr_t)&d->roots[i])->addr = 0x10000;
        return;
    }
    FAIL("no root %s", name);
}

/* Renames the descriptor's type g (its table made writable first). */
static void rename_g_type(void)
{
    struct desc_type *t = (struct desc_type *)(uintptr_t)desc_type("g");
    if (!t)
        FAIL("no type g");
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)t & ~(uintptr_t)(page - 1);
    if (mprotect((void *)lo, (uintptr_t)(t + 1) - lo, PROT_READ | PROT_WRITE) != 0)
        FAIL("mprotect: %s", strerror(errno));
    t->name = "not-g";
}

static void damage(const char *mode)
{
    uint64_t idx;
    char *g = find_g(victim.id, &idx);
    if (strcmp(mode, "badptr") == 0) {
        char **allgs = *(char ***)(uintptr_t)desc_root("allgs");
        allgs[idx] = (char *)(uintptr_t)0x10000;       /* never mapped */
    } else if (strcmp(mode, "badstatus") == 0) {
        *(uint32_t *)(g + desc_field("g", "status")) = 77;
    } else if (strcmp(mode, "badstack") == 0) {
        uint64_t *lo = (uint64_t *)(g + desc_field("g", "stacklo"));
        uint64_t *hi = (uint64_t *)(g + desc_field("g", "stackhi"));
        uint64_t t = *lo;
        *lo = *hi;
        *hi = t;
    } else if (strcmp(mode, "badrsp") == 0) {
        *(uint64_t *)(g + desc_field("g", "ctx.rsp")) = 0x20;
    } else if (strcmp(mode, "badframe") == 0) {
        /* every word between the saved stack pointer and the victim's own
         * frame: return addresses and saved registers become garbage */
        uint64_t *sp = (uint64_t *)(uintptr_t)*(uint64_t *)(g + desc_field("g", "ctx.rsp"));
        while ((uintptr_t)sp < victim.local)
            *sp++ = 0xdeadbeefdeadbeefull;
    } else if (strcmp(mode, "hugelen") == 0) {
        *(uint64_t *)(uintptr_t)desc_root("allglen") = 1ull << 40;
    } else if (strcmp(mode, "badmheap") == 0) {
        bad_root("mheap");
    } else if (strcmp(mode, "nogtype") == 0) {
        rename_g_type();
    } else {
        FAIL("unknown mode %s", mode);
    }
}

static int run(const char *mode)
{
    never = gort_chan_make(sizeof(int64_t), 0);
    gort_go(parked, &victim);
    await_here(&victim);
    gort_go(parked, &bystander);
    await_here(&bystander);
    progress_start(20);
    gort_sleep(MSEC(50));
    damage(mode);
    printf("VICTIM %" PRIu64 "\n", victim.id);
    print_who(&bystander);
    return report_and_park();
}

static int mode_badptr(void) { return run("badptr"); }
static int mode_badstatus(void) { return run("badstatus"); }
static int mode_badstack(void) { return run("badstack"); }
static int mode_badrsp(void) { return run("badrsp"); }
static int mode_badframe(void) { return run("badframe"); }
static int mode_hugelen(void) { return run("hugelen"); }
static int mode_badmheap(void) { return run("badmheap"); }
static int mode_nogtype(void) { return run("nogtype"); }

static const struct mode modes[] = {
    {"badptr", mode_badptr},
    {"badstatus", mode_badstatus},
    {"badstack", mode_badstack},
    {"badrsp", mode_badrsp},
    {"badframe", mode_badframe},
    {"hugelen", mode_hugelen},
    {"badmheap", mode_badmheap},
    {"nogtype", mode_nogtype},
    {NULL, NULL},
};

RT_MAIN(modes)
