/*
 * heapprof.c — known allocations from known sites, for the allocation
 * profile's tests (tests/test_heapprof.py).
 *
 * a() keeps 64 MiB, c() keeps 16 MiB allocated by b(), which is always
 * inlined into c(); garbage() allocates 32 MiB that a goroutine drops
 * before two collections free it.  Then the program prints its truth:
 *
 *   SITE NAME bytes=B objects=N line=L   what NAME allocated (L: the line
 *                                        of its allocation call; app's are
 *                                        the two pointer arrays)
 *   INLINE b caller=c call_line=L        c's line that calls b
 *   INPROC buckets=N alloc_objects=A alloc_bytes=B free_objects=F free_bytes=G
 *                                        the sums of gort_memprofile_foreach
 *   RATE R                               gort_memprofile_rate()
 *   READY
 *
 * and waits, allocating nothing more, until killed.
 *
 * heapprof rate N: the same after gort_set_memprofile_rate(N).
 *
 * heapprof serve: the same, with the debug endpoint on 127.0.0.1 (PORT N
 * before READY).
 *
 * heapprof loop | heapprof badptr: the same, then the newest bucket's next
 * pointer is damaged (pointing to itself, or to unmapped memory) as a
 * memory bug would, before READY.
 *
 * heapprof parallel: PAR_WORKERS goroutines at once each keep PAR_N
 * objects allocated by keep() and drop PAR_N allocated by drop(); after two
 * collections it prints "PAR workers=W n=N size=S keep_line=L drop_line=L",
 * the INPROC line, READY, and waits (run with GORT_MEMPROFILERATE=1 and
 * several Ps: every allocation of every P lands in the one bucket of its
 * site).
 */
#include <gort.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OBJ 4096
#define A_BYTES (64u << 20)
#define B_BYTES (16u << 20)
#define G_BYTES (32u << 20)

static void **kept_a, **kept_b;
static volatile int a_line, b_line, c_line, g_line;

__attribute__((noinline)) static void a(void)
{
    for (size_t i = 0; i < A_BYTES / OBJ; i++) {
        a_line = __LINE__ + 1;
        kept_a[i] = gort_alloc_noscan(OBJ);
    }
    __asm__ volatile("" ::: "memory");
}

static inline __attribute__((always_inline)) void b(size_t i)
{
    b_line = __LINE__ + 1;
    kept_b[i] = gort_alloc_noscan(OBJ);
}

__attribute__((noinline)) static void c(void)
{
    for (size_t i = 0; i < B_BYTES / OBJ; i++) {
        c_line = __LINE__ + 1;
        b(i);
    }
    __asm__ volatile("" ::: "memory");
}

static gort_waitgroup wg;

__attribute__((noinline)) static void garbage(void *arg)
{
    (void)arg;
    volatile uintptr_t sink = 0;
    for (size_t i = 0; i < G_BYTES / OBJ; i++) {
        g_line = __LINE__ + 1;
        void *p = gort_alloc_noscan(OBJ);
        sink ^= (uintptr_t)p;
    }
    (void)sink;
    gort_waitgroup_done(&wg);
}

#define PAR_WORKERS 4
#define PAR_N 20000
#define PAR_SIZE 64

static void **par_kept[PAR_WORKERS];
static volatile int keep_line, drop_line;

__attribute__((noinline)) static void keep(void **into, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        keep_line = __LINE__ + 1;
        into[i] = gort_alloc_noscan(PAR_SIZE);
    }
}

__attribute__((noinline)) static void drop(size_t n)
{
    volatile uintptr_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        drop_line = __LINE__ + 1;
        sink ^= (uintptr_t)gort_alloc_noscan(PAR_SIZE);
    }
    (void)sink;
}

static void par_worker(void *arg)
{
    void **into = arg;
    for (int round = 0; round < 4; round++) {     /* interleave the two sites */
        keep(into + round * (PAR_N / 4), PAR_N / 4);
        drop(PAR_N / 4);
    }
    gort_waitgroup_done(&wg);
}

struct sums {
    uint64_t n, ao, ab, fo, fb;
};

static int sum_record(const gort_memprofile_record *r, void *arg)
{
    struct sums *s = arg;
    s->n++;
    s->ao += r->alloc_objects;
    s->ab += r->alloc_bytes;
    s->fo += r->free_objects;
    s->fb += r->free_bytes;
    return 0;
}

static void print_inproc(void);

#define FAIL(...)                                                                        \
    do {                                                                                 \
        printf("FAIL " __VA_ARGS__);                                                     \
        printf("\n");                                                                    \
        exit(1);                                                                         \
    } while (0)
#include "insp_desc.h"

/* Damage the newest bucket's link as mode says (docs/metadata.md's layout). */
static void damage(const char *mode)
{
    uintptr_t table = (uintptr_t)desc_root("memprof");
    uintptr_t head = *(uintptr_t *)(table + desc_field("memprof", "buckets"));
    uintptr_t *next = (uintptr_t *)(head + desc_field("memprof_bucket", "next"));
    *next = strcmp(mode, "loop") == 0 ? head : (uintptr_t)0x10;
    printf("DAMAGED %s bucket=%#lx\n", mode, (unsigned long)head);
}

static void wait_forever(void)
{
    printf("READY\n");
    fflush(stdout);
    gort_syscall_enter();
    for (;;)
        pause();
}

static int parallel(void)
{
    for (int w = 0; w < PAR_WORKERS; w++)
        par_kept[w] = gort_alloc(PAR_N * sizeof(void *));
    gort_waitgroup_add(&wg, PAR_WORKERS);
    for (int w = 0; w < PAR_WORKERS; w++)
        gort_go(par_worker, par_kept[w]);
    gort_waitgroup_wait(&wg);
    gort_gc();
    gort_gc();
    printf("PAR workers=%d n=%d size=%d keep_line=%d drop_line=%d\n", PAR_WORKERS, PAR_N,
           PAR_SIZE, keep_line, drop_line);
    print_inproc();
    wait_forever();
    return 0;
}

static int app(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "parallel") == 0)
        return parallel();
    if (argc > 2 && strcmp(argv[1], "rate") == 0)
        gort_set_memprofile_rate(atol(argv[2]));
    kept_a = gort_alloc(A_BYTES / OBJ * sizeof *kept_a);
    kept_b = gort_alloc(B_BYTES / OBJ * sizeof *kept_b);
    gort_waitgroup_add(&wg, 1);
    gort_go(garbage, NULL);
    gort_waitgroup_wait(&wg);
    a();
    c();
    gort_gc();
    gort_gc();
    printf("SITE app bytes=%zu objects=2\n", (A_BYTES + B_BYTES) / OBJ * sizeof(void *));
    printf("SITE a bytes=%u objects=%u line=%d\n", A_BYTES, A_BYTES / OBJ, a_line);
    printf("SITE b bytes=%u objects=%u line=%d\n", B_BYTES, B_BYTES / OBJ, b_line);
    printf("SITE garbage bytes=%u objects=%u line=%d freed=1\n", G_BYTES, G_BYTES / OBJ, g_line);
    printf("INLINE b caller=c call_line=%d\n", c_line);
    print_inproc();
    if (argc > 1 && strcmp(argv[1], "serve") == 0) {
        if (gort_debug_serve("127.0.0.1:0") != 0) {
            perror("gort_debug_serve");
            return 1;
        }
        printf("PORT %d\n", gort_debug_serve_port());
    }
    if (argc > 1 && (strcmp(argv[1], "loop") == 0 || strcmp(argv[1], "badptr") == 0))
        damage(argv[1]);
    wait_forever();
    return 0;
}

static void print_inproc(void)
{
    struct sums s = {0};
    gort_memprofile_foreach(sum_record, &s);
    printf("INPROC buckets=%" PRIu64 " alloc_objects=%" PRIu64 " alloc_bytes=%" PRIu64
           " free_objects=%" PRIu64 " free_bytes=%" PRIu64 "\n",
           s.n, s.ao, s.ab, s.fo, s.fb);
    printf("RATE %ld\n", gort_memprofile_rate());
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return gort_main(app, argc, argv);
}
