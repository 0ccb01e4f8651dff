/*
 * heapbench.c — the heap workloads of bench/heap, on libgort or on glibc.
 *
 * Built twice from this one source: with gortcc (gort_alloc, collected) and
 * with -DUSE_MALLOC (glibc malloc, and free when an object is replaced).
 * heapbench.go is the same in Go.
 *
 *   heapbench alloc N SIZE   N allocations of SIZE bytes; each object gets
 *                            one word written and replaces one of 1,024
 *                            live ones (the malloc build frees the one it
 *                            replaces).  Prints "alloc NS_PER_OP ns".
 *   heapbench pause N        a binary tree of N 96-byte nodes (about
 *                            N * 96 bytes live), then 3 forced collections
 *                            (libgort only).  Prints "pause MS ms" (the
 *                            stop-the-world pause recorded by the runtime,
 *                            median of 3), "gc MS ms" (wall time of the
 *                            collection call), "build S s", "heap MB".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef USE_MALLOC
#define ALLOC(n) malloc(n)
#define RELEASE(p) free(p)
#else
#include <gort.h>
#define ALLOC(n) gort_alloc(n)
#define RELEASE(p) ((void)(p))
#endif

enum { RING = 1024 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *ring[RING];     /* global: a root for the collector */

static int bench_alloc(long n, size_t size)
{
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        uint64_t *p = ALLOC(size);
        p[0] = (uint64_t)i;
        RELEASE(ring[i & (RING - 1)]);
        ring[i & (RING - 1)] = p;
    }
    double t = now_s() - t0;
    printf("alloc %.2f ns\n", t * 1e9 / (double)n);
    return 0;
}

#ifndef USE_MALLOC
struct node {
    struct node *left, *right;
    uint64_t payload[10];      /* 96 bytes in all */
};

static struct node *root;
static struct node **level;    /* nodes not yet attached to a parent */

/* A complete binary tree of n nodes, children of i at 2i+1 and 2i+2, built
 * bottom-up so that every node is allocated after its children. */
static struct node *build(long n)
{
    level = gort_alloc((size_t)n * sizeof *level);
    for (long i = n - 1; i >= 0; i--) {
        struct node *x = gort_alloc(sizeof *x);
        x->payload[0] = (uint64_t)i;
        long l = 2 * i + 1, r = 2 * i + 2;
        x->left = l < n ? level[l] : NULL;
        x->right = r < n ? level[r] : NULL;
        level[i] = x;
    }
    struct node *t = level[0];
    level = NULL;
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bench_pause(long n)
{
    double t0 = now_s();
    root = build(n);
    double built = now_s() - t0;
    gort_gc();                          /* drops the scratch array; finishes sweeping */
    uint64_t pauses[3];
    double walls[3];
    gort_memstats ms;
    for (int k = 0; k < 3; k++) {
        double t1 = now_s();
        gort_gc();
        walls[k] = now_s() - t1;
        gort_read_memstats(&ms);
        pauses[k] = ms.pause_ns[(ms.num_gc + 255) % 256];
    }
    qsort(pauses, 3, sizeof pauses[0], cmp_u64);
    qsort(walls, 3, sizeof walls[0], cmp_double);
    printf("pause %.2f ms\ngc %.2f ms\nbuild %.2f s\nheap %llu MB\n", (double)pauses[1] / 1e6,
           walls[1] * 1e3, built, (unsigned long long)(ms.heap_alloc >> 20));
    if (root->payload[0] != 0)
        return 1;
    return 0;
}
#endif

static int app(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "alloc") == 0)
        return bench_alloc(atol(argv[2]), (size_t)atol(argv[3]));
#ifndef USE_MALLOC
    if (argc >= 3 && strcmp(argv[1], "pause") == 0)
        return bench_pause(atol(argv[2]));
#endif
    fprintf(stderr, "usage: %s alloc N SIZE | pause N\n", argv[0]);
    return 2;
}

int main(int argc, char **argv)
{
#ifdef USE_MALLOC
    return app(argc, argv);
#else
    return gort_main(app, argc, argv);
#endif
}
