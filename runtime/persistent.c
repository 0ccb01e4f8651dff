/*
 * persistent.c — memory for the heap's own metadata: span structs, their
 * bitmaps, arenas' page tables, finalizer records.  It comes straight from
 * the OS in chunks, is never scanned by the collector and never returned;
 * span structs and bitmaps are recycled through free lists.  (The heap
 * cannot use malloc for this: its metadata is needed while the world is
 * stopped, when another thread may hold malloc's locks.)
 */
#include <string.h>
#include <sys/mman.h>

#include "heap.h"

enum { CHUNK = 256 * 1024 };

uintptr_t persistent_bytes;

static struct {
    struct rtlock lock;
    uintptr_t next, end;
} pa;

static void *sysalloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw_oom(size);
    persistent_bytes += size;
    return p;
}

/* lock held */
static void *bump(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size >= CHUNK / 4)
        return sysalloc(size);     /* big requests get their own mapping */
    if (pa.next + size > pa.end) {
        pa.next = (uintptr_t)sysalloc(CHUNK);
        pa.end = pa.next + CHUNK;
    }
    void *p = (void *)pa.next;
    pa.next += size;
    return p;
}

void *persistent_alloc(size_t size)
{
    lock_acquire(&pa.lock);
    void *p = bump(size);
    lock_release(&pa.lock);
    return p;
}

/* Bitmaps, like span records, are taken and given back with the heap lock
 * held, which guards their free lists. */
uint64_t *bitmap_alloc(uint32_t words)
{
    if (words > MAX_BITMAP_WORDS)
        throw_("bitmap_alloc: bitmap too large");
    uint64_t *b = mheap_.free_bitmaps[words];
    if (b) {
        mheap_.free_bitmaps[words] = *(uint64_t **)b;
        memset(b, 0, words * sizeof *b);
    } else {
        b = persistent_alloc(words * sizeof *b);
    }
    return b;
}

void bitmap_free(uint64_t *bits, uint32_t words)
{
    *(uint64_t **)bits = mheap_.free_bitmaps[words];
    mheap_.free_bitmaps[words] = bits;
}

/* Span records are taken and given back with the heap lock held (mheap.c),
 * which also guards their free list: no second lock on the hot path. */
struct span *span_struct_alloc(void)
{
    struct span *s = mheap_.spanfree;
    if (s) {
        mheap_.spanfree = s->next;
        uint32_t index = s->index;
        memset(s, 0, sizeof *s);
        s->index = index;
    } else {
        s = persistent_alloc(sizeof *s);
        s->index = UINT32_MAX;
    }
    return s;
}

void span_struct_free(struct span *s)
{
    s->state = SPAN_DEAD;
    s->next = mheap_.spanfree;
    mheap_.spanfree = s;
}
