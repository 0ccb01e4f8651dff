/* A shared object: exported and static functions, inlining inside it. */
#include "sym_shared.h"

static inline int lib_inner(int x)
{
    return shared_inline(x) ^ (x << 2);
}

static __attribute__((noinline)) int lib_static(int x)
{
    int s = 0;
    for (int i = 0; i < x; i++)
        s += lib_inner(i);
    return s;
}

int lib_entry(int x)
{
    return lib_static(x) + lib_inner(x + 1);
}
