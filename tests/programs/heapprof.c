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
 */
#include <gort.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
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

static int app(int argc, char **argv)
{
    (void)argc;
    (void)argv;
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
    struct sums s = {0};
    gort_memprofile_foreach(sum_record, &s);
    printf("INPROC buckets=%" PRIu64 " alloc_objects=%" PRIu64 " alloc_bytes=%" PRIu64
           " free_objects=%" PRIu64 " free_bytes=%" PRIu64 "\n",
           s.n, s.ao, s.ab, s.fo, s.fb);
    printf("RATE %ld\n", gort_memprofile_rate());
    printf("READY\n");
    fflush(stdout);
    gort_syscall_enter();
    for (;;)
        pause();
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return gort_main(app, argc, argv);
}
