#ifndef DWZ_PAIR_H
#define DWZ_PAIR_H

/* Shared by the two units of dwz_a only: dwz keeps it in a partial unit of
 * that program, which the units import (DW_FORM_ref_addr references). */
#include "dwz_shared.h"

struct dwz_grid {
    struct dwz_shape cells[3];
    int rows, cols;
};

static inline long dwz_grid_sum(const struct dwz_grid *g)
{
    long s = 0;
    for (int i = 0; i < 3; i++)
        s += dwz_perimeter(&g->cells[i]) * (g->rows + i);
    return s;
}

long dwz_a_more(struct dwz_grid *g, int k);

#endif
