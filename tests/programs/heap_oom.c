/*
 * heap_oom.c — impossible requests and running out of memory.
 *
 *   heap_oom size SIZE [noscan]  gort_alloc(SIZE) (or gort_alloc_noscan):
 *                                SIZE is a decimal number, or "max" for
 *                                SIZE_MAX
 *   heap_oom fill OBJSIZE        keep allocating OBJSIZE-byte objects, all
 *                                reachable, until the heap cannot grow (run
 *                                under an address-space limit)
 *
 * Each prints "allocating ..." first; reaching the end is a failure.
 */
#include "heap_common.h"

HEAP_DEFINE_OPAQUE
HEAP_DEFINE_FINALIZERS

static char **args;
static int nargs;

static size_t size_arg(int i)
{
    if (nargs <= i)
        FAIL("missing size argument");
    if (strcmp(args[i], "max") == 0)
        return SIZE_MAX;
    return (size_t)strtoull(args[i], NULL, 0);
}

static int mode_size(void)
{
    size_t size = size_arg(2);
    bool noscan = nargs > 3 && strcmp(args[3], "noscan") == 0;
    printf("allocating %zu %s\n", size, noscan ? "noscan" : "scan");
    fflush(stdout);
    void *p = noscan ? gort_alloc_noscan(size) : gort_alloc(size);
    FAIL("gort_alloc(%zu) returned %p", size, p);
}

/* A chain of objects, each holding the previous one: all reachable. */
static void **chain;

static int mode_fill(void)
{
    size_t size = size_arg(2);
    printf("allocating %zu-byte objects\n", size);
    fflush(stdout);
    for (uint64_t n = 0;; n++) {
        void **o = gort_alloc(size);
        if (n % 64 == 0)
            memset(o, 1, size > 4096 ? 4096 : size);   /* touch some of it */
        o[0] = chain;
        chain = o;
    }
    FAIL("the heap never ran out");
}

static const struct mode modes[] = {
    {"size", mode_size},
    {"fill", mode_fill},
    {NULL, NULL},
};

static int app_main(int argc, char **argv)
{
    args = argv;
    nargs = argc;
    return run_mode(modes, argc, argv);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return gort_main(app_main, argc, argv);
}
