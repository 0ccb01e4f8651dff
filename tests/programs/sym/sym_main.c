/* Symbolization target: nested inlining, a function inlined at several call
 * sites, always_inline, static functions with the same name in two files,
 * loops (discriminators), cold paths and clones.  Plain C, no runtime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym_shared.h"

volatile int sink;

static inline int leaf(int x)
{
    int r = x * 3;
    for (int i = 0; i < x; i++)
        r += i ^ sink;
    return r;
}

static inline int middle(int x)
{
    int a = leaf(x + 1);
    if (x & 4)
        a += leaf(x - 1);
    return a * 2;
}

static inline __attribute__((always_inline)) int forced(int x)
{
    sink = x;
    return middle(x) + leaf(x * 2);
}

/* Same name as a static function in sym_other.c. */
static __attribute__((noinline)) int helper(int x)
{
    int s = 0;
    for (int i = 0; i < x; i++)
        s += (i % 3 == 0) ? i : -i;
    return s + forced(x);
}

/* A candidate for constant propagation (gcc clones it as .constprop). */
static __attribute__((noinline)) int scale(int x, int factor)
{
    int r = 0;
    for (int i = 0; i < factor; i++)
        r += leaf(x + i);
    return r;
}

__attribute__((noinline)) int checked_div(int a, int b)
{
    if (__builtin_expect(b == 0, 0)) {
        fprintf(stderr, "division by zero\n");
        abort();
    }
    return a / b;
}

struct pair { int a, b; };

static __attribute__((noinline)) int sum_pair(struct pair p)
{
    return leaf(p.a) + middle(p.b);
}

int (*volatile indirect)(int) = other_entry;

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5;
    int total = 0;
    for (int i = 0; i < n; i++) {
        total += helper(i);
        total += scale(i, 3);
        total += forced(i);
        total += middle(i + 2);
    }
    struct pair p = { n, n + 1 };
    total += sum_pair(p);
    total += checked_div(total, n + 1);
    total += indirect(n);
    total += other_inline_user(n);
    if (argc > 2 && strcmp(argv[2], "print") == 0)
        printf("%d\n", total);
    return total == 12345 ? 1 : 0;
}
