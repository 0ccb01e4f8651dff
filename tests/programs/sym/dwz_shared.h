#ifndef DWZ_SHARED_H
#define DWZ_SHARED_H

/* What two programs share, so that `dwz -m` moves it into their common
 * supplementary file: types, and static inline functions whose abstract
 * instances the inlined copies in both programs refer to. */
#include <stddef.h>

enum dwz_color { DWZ_RED, DWZ_GREEN = 4, DWZ_BLUE, DWZ_DARK = -2 };

struct dwz_point {
    int x, y;
    const char *label;
};

struct dwz_shape {
    struct dwz_point corners[4];
    unsigned n : 3;
    unsigned closed : 1;
    union {
        double area;
        long tag;
    } u;
    enum dwz_color color;
};

typedef struct dwz_shape dwz_shape_t;

extern volatile int dwz_sink;

static inline int dwz_square(int v)
{
    int r = v * v;
    for (int i = 0; i < (v & 7); i++)
        r ^= i + dwz_sink;
    return r;
}

static inline int dwz_dist(const struct dwz_point *a, const struct dwz_point *b)
{
    return dwz_square(a->x - b->x) + dwz_square(a->y - b->y);
}

static inline __attribute__((always_inline)) long dwz_perimeter(const struct dwz_shape *s)
{
    long p = 0;
    for (unsigned i = 0; i < s->n; i++)
        p += dwz_dist(&s->corners[i], &s->corners[(i + 1) % s->n]);
    return p;
}

#endif
