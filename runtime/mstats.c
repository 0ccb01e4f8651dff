/*
 * mstats.c — memory statistics (gort_read_memstats), computed from the page
 * heap's counts and the allocation and free counters, so that they add up:
 * heap_sys = heap_inuse + heap_idle, heap_objects = mallocs - frees,
 * heap_alloc = sum of live object sizes, heap_inuse = bytes of in-use spans,
 * and heap_sys + stack_inuse = the bytes of every arena.
 */
#include "heap.h"


/* locked: take the heap lock for consistent page counts (not when printing
 * a fatal error: the failing thread may hold it; the P caches' unflushed
 * counts are then added as they stand). */
static void compute(gort_memstats *ms, bool locked)
{
    uint64_t mallocs = 0, frees = 0, total_alloc = 0, freed_bytes = 0;
    for (int c = 0; c < NUM_SIZE_CLASSES; c++) {
        uint64_t a = load64(&mstats_nsmallalloc[c]), f = load64(&mheap_.nsmallfree[c]);
        if (!locked)            /* a fatal error: also what the caches hold, unflushed */
            for (int32_t i = 0; i < gomaxprocs; i++)
                a += loadrelaxed64(&allp[i]->mcache->local_nsmallalloc[c]);
        ms->by_size[c].size = class_to_size_table[c];
        ms->by_size[c].mallocs = a;
        ms->by_size[c].frees = f;
        mallocs += a;
        frees += f;
        total_alloc += a * class_to_size_table[c];
        freed_bytes += f * class_to_size_table[c];
    }
    mallocs += load64(&mstats_nlargealloc);
    frees += load64(&mstats_nlargefree);
    total_alloc += load64(&mstats_largealloc_bytes);
    if (!locked) {
        for (int32_t i = 0; i < gomaxprocs; i++) {
            mallocs += loadrelaxed64(&allp[i]->mcache->local_nlargealloc);
            total_alloc += loadrelaxed64(&allp[i]->mcache->local_largealloc);
        }
    }
    freed_bytes += load64(&mstats_largefree_bytes);

    if (locked)
        lock_acquire(&mheap_.lock);
    ms->heap_inuse = mheap_.pages_inuse << PAGE_SHIFT;
    ms->stack_inuse = mheap_.pages_stack << PAGE_SHIFT;
    ms->heap_released = mheap_.pages_released << PAGE_SHIFT;
    ms->heap_idle = (mheap_.pages_free + mheap_.pages_released) << PAGE_SHIFT;
    ms->gc_sys = persistent_bytes + mheap_.sys_bytes;
    if (locked)
        lock_release(&mheap_.lock);

    ms->mallocs = mallocs;
    ms->frees = frees;
    ms->heap_objects = mallocs - frees;
    ms->total_alloc = total_alloc;
    ms->heap_alloc = total_alloc - freed_bytes;
    ms->alloc = ms->heap_alloc;
    ms->heap_sys = ms->heap_inuse + ms->heap_idle;
    ms->stack_sys = ms->stack_inuse;
    ms->sys = ms->heap_sys + ms->stack_sys + ms->gc_sys;
    ms->next_gc = load64(&gc.next_gc);
    ms->last_gc = gc.last_gc;
    ms->pause_total_ns = gc.pause_total_ns;
    for (int i = 0; i < 256; i++) {
        ms->pause_ns[i] = gc.pause_ns[i];
        ms->pause_end[i] = gc.pause_end[i];
    }
    ms->num_gc = load32(&gc.num_gc);
    ms->num_forced_gc = gc_num_forced();
    int64_t since = nanotime() - runtime_start;
    ms->gc_cpu_fraction = since > 0 ? (double)gc_total_time() / (double)since : 0;
}

void gort_read_memstats(gort_memstats *ms)
{
    if (!getg_maybe() || !getm()->p) {
        compute(ms, true);      /* not a goroutine: counters in caches are not flushed */
        return;
    }
    /* Stop the world so every P's counters can be flushed. */
    stop_the_world(STW_GC);
    for (int32_t i = 0; i < gomaxprocs; i++)
        mcache_flush_stats(allp[i]->mcache);
    /* Bytes still free in cached spans do not count as allocated. */
    compute(ms, true);
    start_the_world(STW_GC);
}

void mstats_print(void)
{
    static gort_memstats ms;   /* fatal path: keep it off a small stack */
    compute(&ms, false);
    print_fmt("\nruntime: memory statistics:\n"
              "  heap_alloc=%llu heap_sys=%llu heap_inuse=%llu heap_idle=%llu heap_released=%llu\n"
              "  heap_objects=%llu mallocs=%llu frees=%llu total_alloc=%llu\n"
              "  stack_inuse=%llu gc_sys=%llu sys=%llu next_gc=%llu num_gc=%u\n\n",
              (unsigned long long)ms.heap_alloc, (unsigned long long)ms.heap_sys,
              (unsigned long long)ms.heap_inuse, (unsigned long long)ms.heap_idle,
              (unsigned long long)ms.heap_released, (unsigned long long)ms.heap_objects,
              (unsigned long long)ms.mallocs, (unsigned long long)ms.frees,
              (unsigned long long)ms.total_alloc, (unsigned long long)ms.stack_inuse,
              (unsigned long long)ms.gc_sys, (unsigned long long)ms.sys,
              (unsigned long long)ms.next_gc, ms.num_gc);
}
