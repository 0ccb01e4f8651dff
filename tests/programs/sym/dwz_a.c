/* First target of the dwz tests (with dwz_a_more.c): prints its own view of
 * the shared types' layout, a second oracle for the type queries. */
#include <stdio.h>

#include "dwz_pair.h"

volatile int dwz_sink;

static __attribute__((noinline)) long work(struct dwz_grid *g, int k)
{
    for (int i = 0; i < 3; i++)
        g->cells[i].corners[1].x += k;
    return dwz_grid_sum(g) + dwz_dist(&g->cells[0].corners[0], &g->cells[1].corners[2]);
}

int main(int argc, char **argv)
{
    struct dwz_grid g = { .rows = argc, .cols = 2 };
    (void)argv;
    for (int i = 0; i < 3; i++) {
        g.cells[i].n = 4;
        g.cells[i].corners[2].y = i + argc;
    }
    printf("dwz_shape %zu corners %zu u %zu color %zu dwz_point %zu label %zu\n",
           sizeof(struct dwz_shape), offsetof(struct dwz_shape, corners),
           offsetof(struct dwz_shape, u), offsetof(struct dwz_shape, color),
           sizeof(struct dwz_point), offsetof(struct dwz_point, label));
    printf("%ld %ld\n", work(&g, argc), dwz_a_more(&g, argc));
    return 0;
}
