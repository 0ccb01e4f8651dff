/*
 * target.c — helpers every backend shares (target.h).
 */
#include "target.h"

bool target_read_full(struct target *t, uint64_t addr, void *buf, size_t n)
{
    return target_read(t, addr, buf, n) == n;
}

bool target_read_u64(struct target *t, uint64_t addr, uint64_t *v)
{
    return target_read_full(t, addr, v, sizeof *v);
}
