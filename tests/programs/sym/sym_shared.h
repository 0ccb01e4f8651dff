#ifndef SYM_SHARED_H
#define SYM_SHARED_H

/* Inlined from a header: its lines belong to this file, the call sites to
 * the including one. */
static inline int shared_inline(int x)
{
    int r = x;
    for (int i = 0; i < 3; i++)
        r = r * 31 + i;
    return r;
}

int other_entry(int x);
int other_inline_user(int x);

#endif
