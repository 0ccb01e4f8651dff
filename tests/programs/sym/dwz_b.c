/* Second target of the dwz tests: other uses of what dwz_shared.h holds. */
#include <stdio.h>

#include "dwz_shared.h"

volatile int dwz_sink;

static __attribute__((noinline)) int nearest(const struct dwz_point *p, enum dwz_color c)
{
    struct dwz_point q = { c, -c, "q" };
    return dwz_dist(p, &q) + dwz_square(c);
}

int main(int argc, char **argv)
{
    dwz_shape_t s = { .n = 3, .color = DWZ_BLUE };
    (void)argv;
    s.corners[1].x = argc;
    s.corners[2].y = argc * 2;
    printf("%d %ld\n", nearest(&s.corners[1], DWZ_DARK), dwz_perimeter(&s));
    return 0;
}
