/*
 * bulkread.c — copying many small objects in a few reads (bulkread.h).
 */
#include "bulkread.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    RUN_GAP = 4096,                 /* bytes between objects still read as one run */
    BATCH_BYTES = 1 << 20,          /* the buffer runs are read into */
    MAX_RUNS = 64,                  /* runs per bulk read */
    WORDS_PER_READ = 65536,
};

void bulk_sort(struct bulk_item *v, size_t n)
{
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = v[i - 1].addr <= v[i].addr;
    if (sorted)
        return;
    if (n < 64) {                   /* insertion sort: stable */
        for (size_t i = 1; i < n; i++) {
            struct bulk_item x = v[i];
            size_t k = i;
            for (; k > 0 && v[k - 1].addr > x.addr; k--)
                v[k] = v[k - 1];
            v[k] = x;
        }
        return;
    }
    /* A least-significant-digit radix sort on the address bytes that
     * differ: stable, and a few passes over the items whatever their order. */
    uint64_t diff = 0;
    for (size_t i = 1; i < n; i++)
        diff |= v[i].addr ^ v[0].addr;
    struct bulk_item *tmp = xmalloc(n * sizeof *tmp), *src = v, *dst = tmp;
    size_t count[256];
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (!((diff >> shift) & 0xff))
            continue;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(src[i].addr >> shift) & 0xff]++;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].addr >> shift) & 0xff]++] = src[i];
        struct bulk_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
    free(tmp);
}

void bulk_order(struct bulk_item *v, size_t n)
{
    size_t descents = 0;
    for (size_t i = 1; i < n; i++)
        descents += v[i].addr < v[i - 1].addr;
    if (descents > n / 256)
        bulk_sort(v, n);
}

struct run {
    uint64_t start, end;
    size_t first, last;         /* items [first, last) */
};

/* Reads runs[0..nr) (at most BATCH_BYTES in all) and hands out their
 * items; the items of a run that cannot be read whole are read one by one. */
static size_t read_runs(struct target *t, const struct bulk_item *items, const struct run *runs,
                        size_t nr, uint8_t *buf, bulk_fn fn, void *ctx)
{
    struct target_range rg[MAX_RUNS];
    size_t off = 0, copied = 0;
    for (size_t i = 0; i < nr; i++) {
        rg[i] = (struct target_range){runs[i].start, buf + off, runs[i].end - runs[i].start, 0};
        off += rg[i].len;
    }
    target_read_ranges(t, rg, nr);
    for (size_t i = 0; i < nr; i++) {
        const struct run *r = &runs[i];
        copied += rg[i].got;
        if (rg[i].got == rg[i].len) {
            for (size_t k = r->first; k < r->last; k++)
                fn(ctx, &items[k], (uint8_t *)rg[i].buf + (items[k].addr - r->start), NULL);
            continue;
        }
        for (size_t k = r->first; k < r->last; k++) {
            uint8_t *one = xmalloc(items[k].len);
            if (target_read(t, items[k].addr, one, items[k].len) == items[k].len)
                fn(ctx, &items[k], one, NULL);
            else
                fn(ctx, &items[k], NULL, "cannot be read");
            free(one);
        }
    }
    return copied;
}

size_t bulk_read(struct target *t, const struct bulk_item *items, size_t n, bulk_fn fn,
                 void *ctx)
{
    uint8_t *buf = xmalloc(BATCH_BYTES);
    struct run runs[MAX_RUNS];
    size_t nr = 0, batch = 0, copied = 0;
    for (size_t i = 0; i < n;) {
        const struct mapping *mp = procmaps_find(&t->maps, items[i].addr);
        if (!mp || !mapping_readable(mp) || items[i].len == 0 || items[i].len > BULK_MAX_ITEM ||
            items[i].len > mp->end - items[i].addr) {
            fn(ctx, &items[i], NULL, "is not in readable memory");
            i++;
            continue;
        }
        struct run r = {items[i].addr, items[i].addr + items[i].len, i, i + 1};
        while (r.last < n) {
            const struct bulk_item *it = &items[r.last];
            uint64_t end = it->addr + it->len;
            if (it->addr < r.start || it->addr > r.end + RUN_GAP || it->addr >= mp->end ||
                it->len == 0 ||
                it->len > mp->end - it->addr ||
                (end > r.end ? end : r.end) - r.start > BATCH_BYTES)
                break;
            if (end > r.end)
                r.end = end;
            r.last++;
        }
        if (nr == MAX_RUNS || batch + (r.end - r.start) > BATCH_BYTES) {
            copied += read_runs(t, items, runs, nr, buf, fn, ctx);
            nr = batch = 0;
        }
        runs[nr++] = r;
        batch += r.end - r.start;
        i = r.last;
    }
    if (nr)
        copied += read_runs(t, items, runs, nr, buf, fn, ctx);
    free(buf);
    return copied;
}

size_t bulk_read_words(struct target *t, uint64_t addr, uint64_t *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t k = n - got > WORDS_PER_READ ? WORDS_PER_READ : n - got;
        size_t r = target_read(t, addr + got * 8, out + got, k * 8) / 8;
        got += r;
        if (r < k)
            break;
    }
    return got;
}
