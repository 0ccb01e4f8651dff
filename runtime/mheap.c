/*
 * mheap.c — the page heap: arenas reserved from the OS, spans as runs of
 * pages, the page -> span tables, free and released spans kept in
 * size-indexed lists, splitting on allocation and coalescing on free.
 *
 * Invariant: every page of every arena belongs to exactly one span, and
 * each arena's page table maps every page to it, whatever its state.
 * Allocation takes the tail of a free span so only the pages handed out
 * need their table entries rewritten.
 */
#include <string.h>
#include <sys/mman.h>

#include "heap.h"

struct mheap mheap_;
struct arena **arena_index;

void mheap_init(void)
{
    arena_index = mmap(NULL, ARENA_INDEX_LEN * sizeof *arena_index, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena_index == MAP_FAILED)
        throw_oom(ARENA_INDEX_LEN * sizeof *arena_index);
    mheap_.arenas = persistent_alloc(MAX_ARENAS * sizeof *mheap_.arenas);
    mheap_.sys_bytes += ARENA_INDEX_LEN * sizeof *arena_index;
    mheap_.sweepgen = 2;
}

/* ---- The heap lock --------------------------------------------------------- */

/* Structural changes (spans split, merged, created, changing state; arenas
 * added) happen under the heap lock, inside an odd generation, so a tool
 * that reads the span tables without stopping the process can tell a torn
 * read (docs/metadata.md). */
static void heap_lock(void)
{
    lock_acquire(&mheap_.lock);
    xadd64(&mheap_.generation, 1);
}

static void heap_unlock(void)
{
    xadd64(&mheap_.generation, 1);
    lock_release(&mheap_.lock);
}

/* ---- Lists ------------------------------------------------------------------ */

void span_list_insert(struct span_list *l, struct span *s)
{
    s->prev = NULL;
    s->next = l->first;
    if (l->first)
        l->first->prev = s;
    l->first = s;
    l->count++;
    s->onlist = 1;
}

void span_list_remove(struct span_list *l, struct span *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        l->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    l->count--;
    s->onlist = 0;
}

struct span *span_list_pop(struct span_list *l)
{
    struct span *s = l->first;
    if (s)
        span_list_remove(l, s);
    return s;
}

static struct span_list *idle_list(struct span *s)
{
    struct span_list *lists = s->state == SPAN_FREE ? mheap_.free : mheap_.released;
    return &lists[s->npages < NFREELISTS ? s->npages : 0];
}

/* The non-empty bitmap of an idle list. */
static uint64_t *nonempty_bits(const struct span_list *l)
{
    if (l >= mheap_.free && l < mheap_.free + NFREELISTS)
        return mheap_.free_nonempty;
    return mheap_.released_nonempty;
}

static size_t idle_index(const struct span_list *l)
{
    return l >= mheap_.free && l < mheap_.free + NFREELISTS ? (size_t)(l - mheap_.free)
                                                           : (size_t)(l - mheap_.released);
}

static void idle_insert(struct span *s)
{
    struct span_list *l = idle_list(s);
    size_t i = idle_index(l);
    span_list_insert(l, s);
    nonempty_bits(l)[i / 64] |= 1ull << (i % 64);
}

static void idle_remove(struct span *s)
{
    struct span_list *l = idle_list(s);
    span_list_remove(l, s);
    if (!l->first) {
        size_t i = idle_index(l);
        nonempty_bits(l)[i / 64] &= ~(1ull << (i % 64));
    }
}

static uintptr_t *state_pages(uint8_t state)
{
    switch (state) {
    case SPAN_INUSE: return &mheap_.pages_inuse;
    case SPAN_STACK: return &mheap_.pages_stack;
    case SPAN_FREE: return &mheap_.pages_free;
    case SPAN_RELEASED: return &mheap_.pages_released;
    }
    throw_("mheap: span in an unexpected state");
}

/* ---- Page tables -------------------------------------------------------------- */

static void set_pages(struct span *s, uintptr_t base, uintptr_t npages)
{
    for (uintptr_t i = 0; i < npages; i++) {
        uintptr_t p = base + (i << PAGE_SHIFT);
        struct arena *a = arena_index[p >> ARENA_SHIFT];
        a->spans[(p - a->base) >> PAGE_SHIFT] = s;
    }
}

/* lock held: record a new span struct in allspans. */
static void register_span(struct span *s)
{
    if (s->index != UINT32_MAX)
        return;
    if (mheap_.nspans == mheap_.spanscap) {
        uint32_t cap = mheap_.spanscap ? mheap_.spanscap * 2 : 4096;
        struct span **a = persistent_alloc(cap * sizeof *a);
        if (mheap_.nspans)
            memcpy(a, mheap_.allspans, mheap_.nspans * sizeof *a);
        /* The old array stays valid for readers that do not stop the world. */
        storep((void **)&mheap_.allspans, a);
        mheap_.spanscap = cap;
    }
    s->index = mheap_.nspans;
    mheap_.allspans[mheap_.nspans] = s;
    store32(&mheap_.nspans, mheap_.nspans + 1);
}

static struct span *new_span(uintptr_t base, uintptr_t npages, uint8_t state)
{
    struct span *s = span_struct_alloc();
    s->base = base;
    s->npages = npages;
    s->state = state;
    register_span(s);
    return s;
}

/* ---- Growing ------------------------------------------------------------------- */

/* lock held: reserve enough arenas for npages and add them as released. */
static void grow(uintptr_t npages)
{
    uintptr_t narenas = (npages + ARENA_PAGES - 1) / ARENA_PAGES;
    uintptr_t bytes = narenas * ARENA_BYTES;
    if (mheap_.narenas + narenas > MAX_ARENAS)
        throw_oom(npages << PAGE_SHIFT);
    /* Next to the last arena if that address is free (no more address
     * space than needed: a process under RLIMIT_AS gets more heap);
     * otherwise over-reserve and trim to ARENA_BYTES alignment. */
    uintptr_t base = 0;
    if (mheap_.narenas > 0) {
        uintptr_t hint = mheap_.arenas[mheap_.narenas - 1]->base - bytes;
        void *p = mmap((void *)hint, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == (void *)hint)
            base = hint;
        else if (p != MAP_FAILED)
            munmap(p, bytes);           /* a kernel that ignores the flag */
    }
    if (!base) {
        uint8_t *p = mmap(NULL, bytes + ARENA_BYTES, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            throw_oom(npages << PAGE_SHIFT);
        base = ((uintptr_t)p + ARENA_BYTES - 1) & ~(ARENA_BYTES - 1);
        if (base > (uintptr_t)p)
            munmap(p, base - (uintptr_t)p);
        uintptr_t end = (uintptr_t)p + bytes + ARENA_BYTES;
        if (end > base + bytes)
            munmap((void *)(base + bytes), end - (base + bytes));
    }
    if ((base + bytes - 1) >> ADDR_BITS)
        throw_("mheap: arena beyond the 47-bit address space");

    for (uintptr_t i = 0; i < narenas; i++) {
        struct arena *a = persistent_alloc(sizeof *a);
        a->base = base + i * ARENA_BYTES;
        arena_index[a->base >> ARENA_SHIFT] = a;
        mheap_.arenas[mheap_.narenas] = a;
        store32(&mheap_.narenas, mheap_.narenas + 1);
        dirty_arena_added(a->base);
    }
    /* Fresh pages are not backed yet: they start out released. */
    struct span *s = new_span(base, narenas * ARENA_PAGES, SPAN_RELEASED);
    set_pages(s, s->base, s->npages);
    mheap_.pages_released += s->npages;
    mheap_free_locked(s);
}

/* ---- Allocation ------------------------------------------------------------------ */

/* lock held: the smallest idle span of at least npages in lists, or NULL.
 * The exact-size lists are found through their non-empty bitmap. */
static struct span *find_fit(struct span_list *lists, const uint64_t *nonempty, uintptr_t npages)
{
    for (uintptr_t w = npages / 64; npages < NFREELISTS && w < NFREELISTS / 64; w++) {
        uint64_t bits = nonempty[w];
        if (w == npages / 64)
            bits &= ~0ull << (npages % 64);
        if (w == 0)
            bits &= ~1ull;                  /* list 0 holds the large spans */
        if (bits)
            return lists[w * 64 + (uintptr_t)__builtin_ctzll(bits)].first;
    }
    struct span *best = NULL;
    for (struct span *s = lists[0].first; s; s = s->next)
        if (s->npages >= npages && (!best || s->npages < best->npages ||
                                    (s->npages == best->npages && s->base < best->base)))
            best = s;
    return best;
}

/* lock held: allocate npages in state. */
static struct span *alloc_locked(uintptr_t npages, uint8_t state)
{
    struct span *s = find_fit(mheap_.free, mheap_.free_nonempty, npages);
    if (!s)
        s = find_fit(mheap_.released, mheap_.released_nonempty, npages);
    if (!s) {
        grow(npages);
        s = find_fit(mheap_.released, mheap_.released_nonempty, npages);
        if (!s)
            throw_("mheap: no span after growing");
    }
    idle_remove(s);
    uint8_t was = s->state;
    *state_pages(was) -= npages;
    struct span *t;
    if (s->npages == npages) {
        t = s;
    } else {
        /* Hand out the tail; the head stays idle in the right list. */
        s->npages -= npages;
        t = new_span(s->base + (s->npages << PAGE_SHIFT), npages, state);
        set_pages(t, t->base, npages);
        idle_insert(s);
    }
    t->state = state;
    t->needzero = was == SPAN_FREE;
    t->used = 0;
    *state_pages(state) += npages;
    return t;
}

struct span *mheap_alloc(uintptr_t npages, uint8_t state)
{
    heap_lock();
    struct span *t = alloc_locked(npages, state);
    heap_unlock();
    return t;
}

struct span *mheap_alloc_objects(uintptr_t npages, uint32_t nelems)
{
    heap_lock();
    struct span *t = alloc_locked(npages, SPAN_INUSE);
    uint32_t words = span_bitmap_words(nelems);
    t->allocbits = bitmap_alloc(words);
    t->markbits = bitmap_alloc(words);
    t->nelems = nelems;
    heap_unlock();
    return t;
}

void mheap_alloc_n(uintptr_t npages, uint8_t state, struct span **out, int n)
{
    heap_lock();
    for (int i = 0; i < n; i++)
        out[i] = alloc_locked(npages, state);
    heap_unlock();
}

/* ---- Freeing ---------------------------------------------------------------------- */

/* lock held: s (already counted in its new idle state) joins the idle lists,
 * merging with idle neighbours in the same state. */
void mheap_free_locked(struct span *s)
{
    /* Merge with the span before. */
    if (s->base > 0) {
        struct span *b = span_of(s->base - 1);
        if (b && b->state == s->state && b->onlist) {
            idle_remove(b);
            set_pages(b, s->base, s->npages);
            b->npages += s->npages;
            if (s->freed_at > b->freed_at)
                b->freed_at = s->freed_at;
            span_struct_free(s);
            s = b;
        }
    }
    /* Merge with the span after. */
    struct span *a = span_of(span_limit(s));
    if (a && a->state == s->state && a->onlist) {
        idle_remove(a);
        set_pages(s, a->base, a->npages);
        s->npages += a->npages;
        if (a->freed_at > s->freed_at)
            s->freed_at = a->freed_at;
        span_struct_free(a);
    }
    idle_insert(s);
}

/* lock held */
static void free_locked(struct span *s)
{
    store8(&s->markable, 0);
    *state_pages(s->state) -= s->npages;
    if (s->allocbits) {
        uint32_t words = span_bitmap_words(s->nelems);
        bitmap_free(s->allocbits, words);
        bitmap_free(s->markbits, words);
        s->allocbits = s->markbits = NULL;
    }
    s->state = SPAN_FREE;
    s->spanclass = s->sizeclass = s->noscan = 0;
    s->elemsize = s->nelems = s->alloccount = s->freeindex = 0;
    s->divmul = 0;
    s->owner = 0;
    s->specials = NULL;
    s->freed_at = coarse_nanotime();   /* the scavenger works in seconds */
    mheap_.pages_free += s->npages;
    mheap_free_locked(s);
}

void mheap_free(struct span *s)
{
    heap_lock();
    free_locked(s);
    heap_unlock();
}

void mheap_free_n(struct span **spans, int n)
{
    heap_lock();
    for (int i = 0; i < n; i++)
        free_locked(spans[i]);
    heap_unlock();
}

/* ---- Returning memory to the OS ------------------------------------------------------ */

uintptr_t mheap_scavenge(int64_t before)
{
    uintptr_t released = 0;
    heap_lock();
    if (dirty_tracking()) {
        /* A released page would lose its write protection (mgcdirty.c). */
        heap_unlock();
        return 0;
    }
    for (int i = 0; i < NFREELISTS; i++) {
        struct span *s = mheap_.free[i].first;
        while (s) {
            struct span *next = s->next;
            if (s->freed_at <= before) {
                idle_remove(s);
                madvise((void *)s->base, s->npages << PAGE_SHIFT, MADV_DONTNEED);
                mheap_.pages_free -= s->npages;
                mheap_.pages_released += s->npages;
                released += s->npages << PAGE_SHIFT;
                s->state = SPAN_RELEASED;
                mheap_free_locked(s);   /* merges only with released spans */
            }
            s = next;
        }
    }
    heap_unlock();
    return released;
}
