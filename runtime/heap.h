/*
 * heap.h — libgort's heap: arenas, pages, spans, size classes, per-P
 * caches, central lists, and the interfaces of the collector.
 *
 *   arena  64 MiB of address space reserved at once, aligned to its size;
 *          the arena index maps any address to its arena in one load.
 *   page   8 KiB; each arena has a page -> span table covering every page.
 *   span   a run of pages in one state: in use (heap objects of one size
 *          class, or one large object), stack (one goroutine stack), free
 *          (backed by memory, reusable), or released (returned to the OS).
 *          Every page of every arena belongs to exactly one span, so a tool
 *          can attribute all of it.
 *
 * Small objects (up to 32 KiB) are carved from spans of their size class,
 * one span per class in each P's cache; larger objects get a span of
 * their own.  "scan" spans hold memory from gort_alloc, which the collector
 * scans conservatively; "noscan" spans (gort_alloc_noscan) are not scanned.
 */
#ifndef GORT_HEAP_H
#define GORT_HEAP_H

#include "memprof.h"
#include "runtime.h"

#define PAGE_SHIFT 13
#define PAGE_SIZE ((uintptr_t)1 << PAGE_SHIFT)
#define ARENA_SHIFT 26
#define ARENA_BYTES ((uintptr_t)1 << ARENA_SHIFT)
#define ARENA_PAGES (ARENA_BYTES / PAGE_SIZE)
#define ADDR_BITS 47
#define ARENA_INDEX_LEN ((size_t)1 << (ADDR_BITS - ARENA_SHIFT))
#define MAX_ARENAS 16384                        /* 1 TiB of heap */

#define NUM_SIZE_CLASSES 68
#define MAX_BITMAP_WORDS 16                     /* 1024 slots: the 8-byte class */
#define MAX_SMALL_SIZE 32768
#define NUM_SPAN_CLASSES (NUM_SIZE_CLASSES * 2)

/* ---- Size classes (sizeclasses.c) -------------------------------------- */

extern const uint16_t class_to_size_table[NUM_SIZE_CLASSES];
extern const uint8_t class_to_npages_table[NUM_SIZE_CLASSES];
extern uint32_t class_to_divmul[NUM_SIZE_CLASSES];
extern uint8_t size_to_class8[MAX_SMALL_SIZE / 8 + 1];      /* (size + 7) / 8, size <= 1024 */
extern uint8_t size_to_class128[(MAX_SMALL_SIZE - 1024) / 128 + 1];
void sizeclasses_init(void);

static inline uint8_t size_to_class(size_t size)
{
    if (size <= 1024)
        return size_to_class8[(size + 7) >> 3];
    return size_to_class128[(size - 1024 + 127) >> 7];
}

static inline uint8_t spanclass_of(uint8_t sizeclass, bool noscan)
{
    return (uint8_t)(sizeclass << 1 | (noscan ? 1 : 0));
}

/* ---- Spans ---------------------------------------------------------------- */

enum spanstate {
    SPAN_DEAD,        /* the struct is unused */
    SPAN_INUSE,       /* heap objects */
    SPAN_STACK,       /* a goroutine stack */
    SPAN_FREE,        /* free pages, backed by memory */
    SPAN_RELEASED,    /* free pages returned to the OS */
    SPAN_NSTATES
};

struct special;

struct span {
    uintptr_t base;
    uintptr_t npages;
    struct span *next, *prev;   /* free list, central list */
    uint8_t state;              /* enum spanstate */
    uint8_t spanclass;          /* sizeclass << 1 | noscan */
    uint8_t sizeclass;          /* 0 for a large object */
    uint8_t noscan;
    uint8_t needzero;           /* freed objects may hold old data */
    uint8_t incache;            /* owned by a P's cache */
    uint8_t onlist;             /* on a free or central list */
    uint8_t used;               /* stack span: a goroutine has run on it since it was zero */
    uint8_t markable;           /* in-use span set up (atomic): concurrent markers may use it */
    uint32_t elemsize;          /* object size (the span size for a large object) */
    uint32_t nelems;
    uint32_t alloccount;        /* allocated objects */
    uint32_t freeindex;         /* slots below are allocated; allocation goes on from here */
    uint32_t divmul;            /* (offset * divmul) >> 32 == offset / elemsize */
    uint32_t sweepgen;          /* see mgcsweep.c */
    uint32_t index;             /* in allspans */
    uint64_t *allocbits;        /* bit i: object i was live at the last sweep */
    uint64_t *markbits;         /* bit i: object i marked this cycle */
    uint64_t alloccache;        /* the free slots from freeindex to the end of its
                                   bitmap word: bit k is slot freeindex + k */
    uint64_t owner;             /* stack span: goid of the goroutine using it, 0 if none */
    int64_t freed_at;           /* free span: nanotime it became free */
    struct special *specials;   /* sampled objects (memprof.c) */
};

static inline uint32_t span_bitmap_words(uint32_t nelems)
{
    return (nelems + 63) / 64;
}

static inline uintptr_t span_limit(const struct span *s)
{
    return s->base + (s->npages << PAGE_SHIFT);
}

static inline uint32_t span_objindex(const struct span *s, uintptr_t p)
{
    return (uint32_t)(((uint64_t)(p - s->base) * s->divmul) >> 32);
}

/* A relaxed atomic load (a plain load on x86-64): mark bits are also read
 * while concurrent markers set them. */
static inline bool bit_get(const uint64_t *bits, uint32_t i)
{
    return (__atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1;
}

/* Whether slot i of an in-use span holds an object.  As in Go, allocation
 * does not write the bitmap: it moves freeindex past the slots it hands
 * out, skipping those whose bit says they survived the last sweep. */
static inline bool span_slot_allocated(const struct span *s, uint32_t i)
{
    return i < s->freeindex || bit_get(s->allocbits, i);
}

/* Load alloccache for the bitmap word holding freeindex. */
static inline void span_refill_cache(struct span *s)
{
    s->alloccache = s->freeindex < s->nelems
                        ? ~s->allocbits[s->freeindex >> 6] >> (s->freeindex & 63)
                        : 0;
}

/* ---- Arenas and the page heap (mheap.c) ------------------------------------ */

struct arena {
    uintptr_t base;
    struct span *spans[ARENA_PAGES];   /* page -> span */
};

struct span_list {
    struct span *first;
    uintptr_t count;
};

#define NFREELISTS 128      /* exact-size free lists for 1..127 pages; [0] holds larger spans */

struct central {
    struct rtlock lock;
    struct span_list partial[2];   /* spans with free slots: [sweepgen/2 % 2] swept, other unswept */
    struct span_list full[2];      /* spans without free slots, same indexing */
    uint64_t nmalloc;              /* objects counted when spans left the central lists */
} __attribute__((aligned(64)));

struct mheap {
    struct rtlock lock;
    uint64_t generation;               /* odd while the span tables change */
    struct arena **arenas;             /* MAX_ARENAS entries, in address order of creation */
    uint32_t narenas;
    uint32_t sweepgen;                 /* += 2 every collection */
    struct span **allspans;            /* every span struct ever created */
    uint32_t nspans;
    uint32_t spanscap;
    struct span *spanfree;             /* dead span records for reuse */
    uint64_t *free_bitmaps[MAX_BITMAP_WORDS + 1];  /* by size in words */
    struct span_list free[NFREELISTS];
    struct span_list released[NFREELISTS];
    uint64_t free_nonempty[NFREELISTS / 64];       /* bit n: free[n] has a span */
    uint64_t released_nonempty[NFREELISTS / 64];
    struct span_list large;            /* in-use large-object spans */
    struct central central[NUM_SPAN_CLASSES];
    /* page counts by state, for the statistics */
    uintptr_t pages_inuse;
    uintptr_t pages_stack;
    uintptr_t pages_free;
    uintptr_t pages_released;
    uintptr_t sys_bytes;               /* metadata mapped besides arenas */
    uint64_t nlargealloc, nlargefree;  /* large objects allocated and freed */
    uint64_t largealloc_bytes, largefree_bytes;
    uint64_t nsmallfree[NUM_SIZE_CLASSES];   /* small objects freed by sweeping */
};

extern struct mheap mheap_;
extern struct arena **arena_index;     /* ARENA_INDEX_LEN entries */

void span_list_insert(struct span_list *l, struct span *s);
void span_list_remove(struct span_list *l, struct span *s);
struct span *span_list_pop(struct span_list *l);

void mheap_init(void);
/* Allocate npages in state (SPAN_INUSE or SPAN_STACK); heap lock not held. */
struct span *mheap_alloc(uintptr_t npages, uint8_t state);
/* A span of objects: npages in use with allocation and mark bitmaps for
 * nelems slots, taken under the same acquisition of the heap lock. */
struct span *mheap_alloc_objects(uintptr_t npages, uint32_t nelems);
/* The same for n spans of npages each, under one acquisition of the lock. */
void mheap_alloc_n(uintptr_t npages, uint8_t state, struct span **out, int n);
/* Return a span's pages to the heap (coalescing); heap lock not held. */
void mheap_free(struct span *s);
void mheap_free_n(struct span **spans, int n);
void mheap_free_locked(struct span *s);
/* Release free spans unused since before `before` to the OS; returns bytes. */
uintptr_t mheap_scavenge(int64_t before);

static inline struct span *span_of(uintptr_t p)
{
    if (p >> ADDR_BITS)
        return NULL;
    struct arena *a = arena_index[p >> ARENA_SHIFT];
    if (!a)
        return NULL;
    return a->spans[(p - a->base) >> PAGE_SHIFT];
}

/* ---- Persistent metadata (persistent.c): never freed, never scanned ------ */

void *persistent_alloc(size_t size);           /* zeroed, 16-byte aligned */
uint64_t *bitmap_alloc(uint32_t words);        /* zeroed; heap lock held */
void bitmap_free(uint64_t *bits, uint32_t words); /* heap lock held */
struct span *span_struct_alloc(void);              /* heap lock held */
void span_struct_free(struct span *s);             /* heap lock held */
extern uintptr_t persistent_bytes;

/* ---- Per-P cache (mcache.c) --------------------------------------------------- */

struct mcache {
    struct span *alloc[NUM_SPAN_CLASSES];
    uint64_t local_nsmallalloc[NUM_SIZE_CLASSES];   /* flushed into central at refill */
    uint64_t local_largealloc;                      /* bytes */
    uint64_t local_nlargealloc;
    uint64_t local_heap_live;                       /* bytes not yet added to heap_live */
    uint64_t local_black;                           /* bytes allocated marked (mark phase) */
    struct memprof_countdown sample;                /* to the next profiled allocation */
};

struct mcache *mcache_of(struct p *pp);
struct span *mcache_refill(struct mcache *c, uint8_t spanclass);
void mcache_release_all(struct mcache *c);          /* world stopped */
void mcache_flush_stats(struct mcache *c);

/* ---- Central lists (mcentral.c) ------------------------------------------------ */

struct span *central_cache_span(uint8_t spanclass);
void central_uncache_span(struct span *s);
void central_add_large(struct span *s);

/* ---- Collector (mgc.c, mgcmark.c, mgcsweep.c, mfinal.c) ---------------------- */

struct gcstate {
    uint64_t heap_live;         /* atomic: bytes in use or handed to caches */
    uint64_t heap_marked;       /* live bytes found by the last mark */
    uint64_t cycle_marked;      /* bytes marked so far by the cycle under way */
    uint64_t next_gc;           /* heap goal */
    int32_t percent;            /* GORT_GC; < 0: off */
    uint32_t running;           /* atomic: a collection is in progress */
    uint32_t num_gc;            /* atomic: cycles completed */
    uint32_t num_forced_gc;     /* of which by gort_gc */
    uint64_t total_ns;          /* wall time spent in cycles (for gc_cpu_fraction) */
    uint64_t pause_total_ns;
    uint64_t pause_ns[256];
    uint64_t pause_end[256];
    uint64_t last_gc;           /* unix ns */
    uint32_t sweep_pending;     /* atomic: spans not yet swept this cycle */
    uint32_t sweepers;          /* atomic: sweeps in progress */
    uint64_t trigger;           /* atomic: heap_live that starts the next cycle */
    uint64_t hard_goal;         /* atomic: past it, allocation waits for the cycle */
    uint64_t black_bytes;       /* atomic: allocated marked without a P's cache */
    /* requests to the collector thread (mgc.c) */
    struct rtlock waitlock;     /* guards the fields below and waiters */
    uint32_t cycles_started;    /* atomic */
    uint32_t want;              /* atomic: run cycles up to this number (futex) */
    uint32_t want_forced;       /* cycles up to this one serve gort_gc */
    uint32_t want_alloc;        /* the last cycle asked for by allocation first */
    uint32_t cur_concurrent;    /* atomic: the running cycle marks concurrently */
    uint32_t stw1_done;         /* atomic: the last cycle whose first stop is over */
    uint32_t cycles_done;       /* waitlock: the last cycle wholly over (traced, waiters woken) */
    struct g *waiters;          /* parked until a cycle completes (schedlink) */
    /* read on every goroutine state change and allocation: a line of its own */
    uint32_t marking __attribute__((aligned(64)));  /* atomic: new objects are born marked */
    uint32_t flagging;          /* atomic: goroutines flag themselves (gc_flag_g) */
    char pad[56];
};
extern struct gcstate gc;

void gc_init(void);
void heap_init_once(void);
void gc_alloc_slow(void);                          /* allocation slow path: start a cycle, or wait */
uint32_t gc_num_forced(void);
uint64_t gc_total_time(void);                      /* ns spent in cycles */
void gc_mark(void);                                /* world stopped: the whole mark */
void gc_mark_begin(void);                          /* world stopped: a concurrent mark starts */
void gc_mark_concurrent(void);                     /* world running: roots, then drain */
void gc_mark_preclean(void);                       /* world running: rescan what changed */
void gc_mark_terminate(void);                      /* world stopped: the rest of the mark */
void gc_mark_abandon(void);                        /* world stopped: no concurrent mark after all */
void gc_flag_g_slow(struct g *gp);                 /* gp changed since it was scanned */
void gc_mark_init(void);
void gc_mark_object_root(uintptr_t p);             /* mark the object containing p (world stopped) */
void gc_mark_range(uintptr_t lo, uintptr_t hi);    /* scan [lo, hi) as roots */
void gc_drain(void);                               /* finish marking queued work */
bool sweep_span(struct span *s);                  /* true: the span is still in use */
enum { SWEEP_NONE_LEFT, SWEEP_DONE_ONE, SWEEP_PAUSED };
int sweep_one(void);                               /* sweep some span (SWEEP_*) */
void sweep_finish(void);                           /* sweep all that is left */
void sweep_start_cycle(void);
void bgsweep_start(void);
void finalizers_mark(void);                        /* world stopped, after the main mark */
void finalizers_scan_roots(void);
void pool_cleanup(void);                           /* world stopped */
void pool_scan_roots(void);
void timers_scan_roots(void);


/* mgcdirty.c: pages written during a concurrent mark, recorded by the kernel */
bool dirty_available(void);
bool dirty_unavailable(void);                     /* tried, and not available */
bool dirty_arm(void);
void dirty_disarm(void);
bool dirty_tracking(void);                         /* heap lock held for a stable answer */
void dirty_arena_added(uintptr_t base);            /* heap lock held */
#define DIRTY_MAX_WORKERS 64
long dirty_collect_arena(uint32_t worker, uintptr_t base, bool rearm,
                         void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx);

/* A goroutine about to run or be made runnable while the collector marks
 * concurrently: its stack and saved registers must be scanned again. */
static inline void gc_flag_g(struct g *gp)
{
    if (unlikely(loadrelaxed32(&gc.flagging)) && !load32(&gp->gcflag))
        gc_flag_g_slow(gp);
}

/* mstats.c: cumulative counters (small allocations are counted in each P's
 * cache and flushed here; frees are counted by sweeping) */
void mstats_print(void);
extern uint64_t mstats_nsmallalloc[NUM_SIZE_CLASSES];
extern uint64_t mstats_nlargealloc, mstats_largealloc_bytes;
extern uint64_t mstats_nlargefree, mstats_largefree_bytes;

/* ---- Misc ------------------------------------------------------------------- */

NORETURN void throw_oom(size_t size);

#endif /* GORT_HEAP_H */
