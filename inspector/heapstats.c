/*
 * heapstats.c — memory statistics and the span tally (heapstats.h).
 */
#include "heapstats.h"

#include <stdlib.h>
#include <string.h>

uint64_t memstats_class_mallocs(const struct heapsnap *h, uint32_t c)
{
    return h->nsmallalloc[c] + h->unflushed[c];
}

/* As the runtime's mstats.c computes them, with every P's counters
 * flushed: the sums wrap as the runtime's own do. */
void memstats_compute(const struct heapsnap *h, struct memstats *ms)
{
    memset(ms, 0, sizeof *ms);
    ms->has_num_forced_gc = h->has_forced;
    ms->num_forced_gc = h->num_forced_gc;
    ms->has_gc_cpu_fraction = h->has_total_ns && h->uptime_ns > 0;
    ms->gc_cpu_fraction =
        ms->has_gc_cpu_fraction ? (double)h->gc_total_ns / (double)h->uptime_ns : 0;
    uint64_t freed = 0;
    for (uint32_t c = 0; c < h->nclasses; c++) {
        uint64_t a = memstats_class_mallocs(h, c), f = h->nsmallfree[c];
        ms->mallocs += a;
        ms->frees += f;
        ms->total_alloc += a * h->class_size[c];
        freed += f * h->class_size[c];
        ms->unflushed_mallocs += h->unflushed[c];
        ms->unflushed_bytes += h->unflushed[c] * h->class_size[c];
    }
    ms->mallocs += h->nlargealloc + h->unflushed_nlarge;
    ms->frees += h->nlargefree;
    ms->total_alloc += h->largealloc_bytes + h->unflushed_large_bytes;
    freed += h->largefree_bytes;
    ms->unflushed_mallocs += h->unflushed_nlarge;
    ms->unflushed_bytes += h->unflushed_large_bytes;

    uint64_t ps = h->page_size;
    ms->heap_inuse = h->pages_inuse * ps;
    ms->stack_inuse = h->pages_stack * ps;
    ms->heap_released = h->pages_released * ps;
    ms->heap_idle = (h->pages_free + h->pages_released) * ps;
    ms->gc_sys = h->persistent_bytes + h->sys_bytes;
    ms->heap_objects = ms->mallocs - ms->frees;
    ms->heap_alloc = ms->total_alloc - freed;
    ms->alloc = ms->heap_alloc;
    ms->heap_sys = ms->heap_inuse + ms->heap_idle;
    ms->stack_sys = ms->stack_inuse;
    ms->sys = ms->heap_sys + ms->stack_sys + ms->gc_sys;
    ms->next_gc = h->next_gc;
    ms->last_gc = h->last_gc;
    ms->pause_total_ns = h->pause_total_ns;
    ms->num_gc = h->num_gc;
    if (h->num_gc && h->npause)
        ms->last_pause_ns = h->pause_ns[(h->num_gc + h->npause - 1) % h->npause];
}

static void add(struct span_tally *t, const struct heapsnap *h, const struct hspan *sp)
{
    t->spans++;
    t->pages += sp->npages;
    if ((int)sp->state != h->st_inuse)
        return;
    t->noscan += sp->noscan;
    t->objects += sp->alloccount;
    t->slots += sp->nelems;
    t->bytes += (uint64_t)sp->alloccount * sp->elemsize;
}

void heap_tally(const struct snapshot *s, struct heap_tally *t)
{
    const struct heapsnap *h = s->heap;
    memset(t, 0, sizeof *t);
    t->nclasses = h->nclasses;
    t->classes = xcalloc(h->nclasses + 1, sizeof *t->classes);
    for (size_t i = 0; i < h->nspans; i++) {
        const struct hspan *sp = &h->spans[i];
        int st = sp->state;
        if (sp->error) {
            t->bad++;
        } else if (st == h->st_inuse) {
            add(&t->inuse, h, sp);
            add(&t->classes[sp->sizeclass], h, sp);
        } else if (st == h->st_stack) {
            add(sp->owner ? &t->stacks : &t->cached_stacks, h, sp);
        } else if (st == h->st_free) {
            add(&t->free, h, sp);
        } else if (st == h->st_released) {
            add(&t->released, h, sp);
        } else {
            add(&t->other, h, sp);
        }
    }
}

void heap_tally_free(struct heap_tally *t)
{
    free(t->classes);
    t->classes = NULL;
}

double tally_waste(const struct heapsnap *h, const struct span_tally *t)
{
    uint64_t span_bytes = t->pages * h->page_size;
    return span_bytes ? (double)(span_bytes - t->bytes) / (double)span_bytes : 0;
}

void memstats_json_members(const struct heapsnap *h, const struct memstats *ms, struct json *j)
{
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"alloc", ms->alloc}, {"total_alloc", ms->total_alloc}, {"sys", ms->sys},
        {"mallocs", ms->mallocs}, {"frees", ms->frees}, {"heap_alloc", ms->heap_alloc},
        {"heap_sys", ms->heap_sys}, {"heap_idle", ms->heap_idle},
        {"heap_inuse", ms->heap_inuse}, {"heap_released", ms->heap_released},
        {"heap_objects", ms->heap_objects}, {"stack_inuse", ms->stack_inuse},
        {"stack_sys", ms->stack_sys}, {"gc_sys", ms->gc_sys}, {"next_gc", ms->next_gc},
        {"last_gc", ms->last_gc}, {"pause_total_ns", ms->pause_total_ns},
        {"num_gc", ms->num_gc},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        json_ku64(j, f[i].name, f[i].v);
    /* null when the runtime does not publish them */
    json_key(j, "num_forced_gc");
    if (ms->has_num_forced_gc)
        json_u64(j, ms->num_forced_gc);
    else
        json_null(j);
    json_key(j, "gc_cpu_fraction");
    if (ms->has_gc_cpu_fraction)
        json_f64(j, ms->gc_cpu_fraction);
    else
        json_null(j);
    json_key(j, "pause_ns");
    json_arr(j);
    for (uint32_t i = 0; i < h->npause; i++)
        json_u64(j, h->pause_ns[i]);
    json_arr_end(j);
    json_key(j, "pause_end");
    json_arr(j);
    for (uint32_t i = 0; i < h->npause; i++)
        json_u64(j, h->pause_end[i]);
    json_arr_end(j);
    json_key(j, "by_size");
    json_arr(j);
    for (uint32_t c = 0; c < h->nclasses; c++) {
        json_obj(j);
        json_ku64(j, "size", h->class_size[c]);
        json_ku64(j, "mallocs", memstats_class_mallocs(h, c));
        json_ku64(j, "frees", h->nsmallfree[c]);
        json_obj_end(j);
    }
    json_arr_end(j);
}
