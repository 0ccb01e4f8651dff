/*
 * insp_anon.c — parked goroutines whose stacks go through a pc in no
 * module: N goroutines (argv[1], default 20000) park in plain_wait(); every
 * STRIDE-th of them (argv[2], default 97) instead calls anon_wait() through
 * a few bytes of code copied to an anonymous executable page, so that the
 * return address above anon_wait's frame is in no mapped file.  Prints
 * "PLAIN <goid>" and "ANON <goid>" for each, then READY, and waits.
 */
#include "rt_common.h"
#include <sys/mman.h>

static atomic_int parked, parked_anon;    /* two: the two waits are not folded into one */
static uint64_t *ids;
static int stride;

/* push %rbp; mov %rsp,%rbp; call *%rsi; pop %rbp; ret: calls rsi(rdi) */
static const unsigned char trampoline[] = {0x55, 0x48, 0x89, 0xe5, 0xff, 0xd6, 0x5d, 0xc3};
typedef void (*through_fn)(gort_chan *c, void (*fn)(gort_chan *));
static through_fn through;

static NOINLINE void anon_wait(gort_chan *c)
{
    int v;
    atomic_fetch_add(&parked_anon, 1);
    gort_chan_recv(c, &v); /* WAIT:anon */
}

static NOINLINE void plain_wait(gort_chan *c)
{
    int v;
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(c, &v); /* WAIT:plain */
}

static void worker(void *arg)
{
    intptr_t i = (intptr_t)arg;
    ids[i] = gort_goid();
    gort_chan *c = gort_chan_make(sizeof(int), 0);
    if (i % stride == 0)
        through(c, anon_wait);
    else
        plain_wait(c);
}

static int app(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    stride = argc > 2 ? atoi(argv[2]) : 97;
    if (n < 1 || stride < 1) {
        printf("FAIL bad arguments\n");
        return 1;
    }
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        printf("FAIL mmap\n");
        return 1;
    }
    memcpy(page, trampoline, sizeof trampoline);
    if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0) {
        printf("FAIL mprotect\n");
        return 1;
    }
    through = (through_fn)page;
    ids = calloc((size_t)n, sizeof *ids);
    for (intptr_t i = 0; i < n; i++)
        gort_go(worker, (void *)i);
    while (atomic_load(&parked) + atomic_load(&parked_anon) < n)
        gort_sleep(1000000);
    for (int i = 0; i < n; i++)
        printf("%s %llu\n", i % stride == 0 ? "ANON" : "PLAIN", (unsigned long long)ids[i]);
    /* the return address in the page: after the call (offset 4, 2 bytes) */
    printf("RETURN %#llx\n", (unsigned long long)(uintptr_t)page + 6);
    printf("READY\n");
    fflush(stdout);
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
