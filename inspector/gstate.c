/*
 * gstate.c — reading the runtime's goroutine state table (gstate.h).
 */
#include "gstate.h"

#include "bulkread.h"

enum {
    MAX_CHUNKS = 1 << 16,
    MAX_CHUNK = 1 << 24,
};

bool gstate_open(struct gstate_table *gt, struct target *t, const struct rtdesc *d)
{
    const struct rt_root *chunks = rtdesc_root(d, "gstate_chunks");
    const struct rt_root *chunk = rtdesc_root(d, "gstate_chunk");
    uint64_t len;
    if (!chunks || !chunk || chunk->size != 8 || chunks->size % 8 != 0 ||
        chunks->size / 8 == 0 || chunks->size / 8 > MAX_CHUNKS ||
        !target_read_u64(t, chunk->addr, &len) || len == 0 || len > MAX_CHUNK)
        return false;
    *gt = (struct gstate_table){chunks->addr, chunks->size / 8, len};
    return true;
}

bool gstate_read(const struct gstate_table *gt, struct target *t, size_t first, size_t n,
                 uint64_t *out)
{
    while (n > 0) {
        uint64_t k = first / gt->chunk, off = first % gt->chunk, base;
        size_t m = gt->chunk - off < n ? (size_t)(gt->chunk - off) : n;
        if (k >= gt->nchunks || !target_read_u64(t, gt->chunks + k * 8, &base) || base == 0 ||
            bulk_read_words(t, base + off * 8, out, m) != m)
            return false;
        out += m;
        first += m;
        n -= m;
    }
    return true;
}
