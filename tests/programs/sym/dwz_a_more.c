/* The second unit of dwz_a: shares dwz_pair.h with dwz_a.c only. */
#include "dwz_pair.h"

long dwz_a_more(struct dwz_grid *g, int k)
{
    long s = 0;
    for (int i = 0; i < k && i < 3; i++)
        s += dwz_grid_sum(g) - dwz_square(g->cells[i].corners[0].x + i);
    return s;
}
