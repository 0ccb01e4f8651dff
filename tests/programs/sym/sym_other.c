/* Second translation unit: a static helper with the same name as the one
 * in sym_main.c, and the shared header's inline function inlined here. */
#include "sym_shared.h"

extern volatile int sink;

static __attribute__((noinline)) int helper(int x)
{
    return shared_inline(x) + sink;
}

int other_entry(int x)
{
    int t = 0;
    for (int i = 0; i < x; i++)
        t += helper(i) * shared_inline(i + x);
    return t;
}

int other_inline_user(int x)
{
    return shared_inline(x) + shared_inline(x + 7) + helper(x);
}
