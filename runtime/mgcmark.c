/*
 * mgcmark.c — marking, with the world stopped.
 *
 * Tri-colour marking over per-span mark bits: an object is grey once its
 * mark bit is set and it is queued, black once scanned.  Everything is
 * scanned conservatively: any word that points into an allocated object of
 * an in-use span (interior pointers included) marks that object.  Objects
 * in noscan spans are marked but not scanned.
 *
 * Roots: the writable segments (data, bss) of every loaded object; every
 * goroutine's G structure and its stack from the saved stack pointer to the
 * top; for goroutines whose thread was stopped by a signal, the thread's
 * registers and the stack from its stack pointer (less the 128-byte red
 * zone); queued timers; queued finalizers.
 *
 * Work is shared among min(GOMAXPROCS, CPUs) marking threads (the
 * collecting thread and helpers): root jobs are claimed by index, grey
 * objects move through per-worker blocks and a global list of full blocks,
 * and marking ends when every worker is idle and no block is left.
 */
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "heap.h"

enum {
    WB_ENTRIES = 510,                  /* (base, length) pairs per block: ~8 KiB */
    SCAN_CHUNK = 128 * 1024,           /* large objects are scanned in pieces */
    ROOT_CHUNK = 256 * 1024,           /* data segments are split into jobs */
    MAX_WORKERS = 64,
    RED_ZONE = 128,
    G_BATCH = 16,                      /* goroutines per root job */
};

struct wblock {
    struct wblock *next;
    uint32_t n;
    uint32_t pad;
    uintptr_t e[2 * WB_ENTRIES];
};

struct gcworker {
    struct wblock *cur;
    uint64_t marked;                   /* bytes marked by this worker */
} __attribute__((aligned(64)));        /* one cache line each: no false sharing */

static struct {
    /* read on every candidate pointer: kept apart from the counters below */
    uintptr_t heap_lo, heap_hi;        /* addresses that may be heap pointers */
    char pad0[48];
    struct rtlock lock;
    struct wblock *full;
    struct wblock *empty;
    uint32_t nfull;                    /* atomic */
    /* root jobs */
    struct root_range *ranges;
    uint64_t nranges, capranges;
    uint64_t njobs;
    uint64_t nextjob;                  /* atomic */
    struct g **gs;
    uint64_t ngs;
    /* termination */
    uint32_t nworkers;                 /* workers in this mark phase */
    char pad1[60];
    uint32_t nidle;                    /* atomic */
    uint32_t done;                     /* atomic */
    /* helper threads */
    uint32_t nhelpers;
    uint32_t seq;                      /* futex: bumped to start a phase */
    uint32_t finished;                 /* atomic: helpers that finished the phase */
    uint64_t marked;                   /* atomic: sum over workers */
    struct gcworker workers[MAX_WORKERS];
} work;

struct root_range {
    uintptr_t lo, hi;
};

/* ---- Module roots (collected before the world stops) ----------------------- */

static int collect_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0)
            continue;
        uintptr_t lo = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)7;
        uintptr_t hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        for (uintptr_t p = lo; p < hi; p += ROOT_CHUNK) {
            if (work.nranges == work.capranges) {
                uint64_t cap = work.capranges ? work.capranges * 2 : 256;
                struct root_range *r = persistent_alloc(cap * sizeof *r);
                if (work.nranges)
                    memcpy(r, work.ranges, work.nranges * sizeof *r);
                work.ranges = r;
                work.capranges = cap;
            }
            work.ranges[work.nranges].lo = p;
            work.ranges[work.nranges].hi = hi - p > ROOT_CHUNK ? p + ROOT_CHUNK : hi;
            work.nranges++;
        }
    }
    return 0;
}

/* Collect the writable segments of every loaded object.  Done while the
 * world runs: dl_iterate_phdr takes the loader's lock. */
void roots_collect_modules(void)
{
    work.nranges = 0;
    dl_iterate_phdr(collect_module, NULL);
}

/* ---- Work blocks -------------------------------------------------------------- */

static struct wblock *block_get_empty(void)
{
    lock_acquire(&work.lock);
    struct wblock *b = work.empty;
    if (b)
        work.empty = b->next;
    lock_release(&work.lock);
    if (!b) {
        b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED)
            throw_("out of memory for the collector's work queue");
        persistent_bytes += sizeof *b;
    }
    b->n = 0;
    b->next = NULL;
    return b;
}

static void block_put_full(struct wblock *b)
{
    lock_acquire(&work.lock);
    b->next = work.full;
    work.full = b;
    lock_release(&work.lock);
    xadd32(&work.nfull, 1);
}

/* Swap w's empty current block for a full one from the global list. */
static bool block_get_full(struct gcworker *w)
{
    if (load32(&work.nfull) == 0)
        return false;
    lock_acquire(&work.lock);
    struct wblock *b = work.full;
    if (b) {
        work.full = b->next;
        w->cur->next = work.empty;
        work.empty = w->cur;
    }
    lock_release(&work.lock);
    if (!b)
        return false;
    xadd32(&work.nfull, (uint32_t)-1);
    w->cur = b;
    return true;
}

static inline void push(struct gcworker *w, uintptr_t base, uintptr_t len)
{
    struct wblock *b = w->cur;
    if (unlikely(b->n == WB_ENTRIES)) {
        block_put_full(b);
        b = w->cur = block_get_empty();
    }
    b->e[2 * b->n] = base;
    b->e[2 * b->n + 1] = len;
    b->n++;
}

/* If others are starving, hand over half of our block. */
static void balance(struct gcworker *w)
{
    struct wblock *b = w->cur;
    if (b->n < 8 || load32(&work.nfull) != 0 || load32(&work.nidle) == 0)
        return;
    struct wblock *half = block_get_empty();
    uint32_t k = b->n / 2;
    memcpy(half->e, &b->e[2 * (b->n - k)], 2 * k * sizeof(uintptr_t));
    half->n = k;
    b->n -= k;
    block_put_full(half);
}

/* ---- Marking ------------------------------------------------------------------- */

static inline void mark_word(struct gcworker *w, uintptr_t p)
{
    if (p < work.heap_lo || p >= work.heap_hi)
        return;
    struct span *s = span_of(p);
    if (!s || s->state != SPAN_INUSE)
        return;
    uint32_t idx = s->sizeclass ? span_objindex(s, p) : 0;
    if (idx >= s->nelems || !span_slot_allocated(s, idx))
        return;                         /* tail of the span, or a free slot */
    uint64_t bit = 1ull << (idx & 63);
    uint64_t *word = &s->markbits[idx >> 6];
    if (__atomic_load_n(word, __ATOMIC_RELAXED) & bit)
        return;
    if (__atomic_fetch_or(word, bit, __ATOMIC_RELAXED) & bit)
        return;
    w->marked += s->elemsize;
    if (!s->noscan)
        push(w, s->base + (uintptr_t)idx * s->elemsize, s->elemsize);
}

static void scan_block(struct gcworker *w, uintptr_t lo, uintptr_t hi)
{
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t p = lo; p + 8 <= hi; p += 8)
        mark_word(w, *(const uintptr_t *)p);
}

static void scan_object(struct gcworker *w, uintptr_t base, uintptr_t len)
{
    if (len > SCAN_CHUNK) {
        push(w, base + SCAN_CHUNK, len - SCAN_CHUNK);
        len = SCAN_CHUNK;
    }
    scan_block(w, base, base + len);
}

/* Mark the object containing p, as a root (finalizers, timers). */
static void mark_root_pointer(struct gcworker *w, uintptr_t p)
{
    mark_word(w, p);
}

/* ---- Root jobs ------------------------------------------------------------------- */

void timers_scan_roots_with(void (*mark)(void *ctx, uintptr_t p), void *ctx);   /* timers.c */
void finalizers_scan_roots_with(void (*mark)(void *ctx, uintptr_t p), void *ctx); /* mfinal.c */

static void mark_cb(void *ctx, uintptr_t p)
{
    mark_root_pointer(ctx, p);
}

static void scan_goroutine(struct gcworker *w, struct g *gp)
{
    uint32_t status = readgstatus(gp);
    if (status == G_DEAD || status == G_IDLE)
        return;
    scan_block(w, (uintptr_t)gp, (uintptr_t)gp + G_SCAN_END);
    if (!gp->stacklo)
        return;
    uintptr_t sp = gp->ctx.rsp;
    struct m *mp = gp->m;
    if ((status == G_RUNNING || status == G_SYSCALL) && mp && m_is_suspended(mp)) {
        /* Stopped by a signal: every register may hold a pointer. */
        scan_block(w, (uintptr_t)mp->sregs, (uintptr_t)(mp->sregs + ARRAY_LEN(mp->sregs)));
        sp = mp->sregs[REG_RSP] - RED_ZONE;
    } else if (status == G_RUNNING) {
        sp = gp->stacklo;               /* unknown: take the whole stack */
    }
    if (sp < gp->stacklo || sp > gp->stackhi)
        sp = gp->stacklo;
    scan_block(w, sp, gp->stackhi);
}

/* A batch of goroutines: each one's G and live stack are in cache lines of
 * their own, far apart (one stack per 64 KiB), so the scan is bound by
 * memory latency; prefetching the whole batch first overlaps the misses. */
static void scan_goroutines(struct gcworker *w, uint64_t first, uint64_t n)
{
    struct g **gs = work.gs + first;
    for (uint64_t i = 0; i < n; i++) {
        __builtin_prefetch(gs[i]);
        __builtin_prefetch((char *)gs[i] + 64);
    }
    for (uint64_t i = 0; i < n; i++) {
        const char *sp = (const char *)gs[i]->ctx.rsp;
        if (sp && gs[i]->stacklo)
            for (int k = 0; k < 4; k++)
                __builtin_prefetch(sp + 64 * k);
    }
    for (uint64_t i = 0; i < n; i++)
        scan_goroutine(w, gs[i]);
}

static void root_job(struct gcworker *w, uint64_t j)
{
    if (j < work.nranges) {
        scan_block(w, work.ranges[j].lo, work.ranges[j].hi);
        return;
    }
    j -= work.nranges;
    uint64_t gjobs = (work.ngs + G_BATCH - 1) / G_BATCH;
    if (j < gjobs) {
        uint64_t first = j * G_BATCH;
        scan_goroutines(w, first, work.ngs - first < G_BATCH ? work.ngs - first : G_BATCH);
        return;
    }
    timers_scan_roots_with(mark_cb, w);
    finalizers_scan_roots_with(mark_cb, w);
}

/* ---- Workers ---------------------------------------------------------------------- */

static bool pop(struct gcworker *w, uintptr_t *base, uintptr_t *len)
{
    struct wblock *b = w->cur;
    if (b->n == 0 && !block_get_full(w))
        return false;
    b = w->cur;
    b->n--;
    *base = b->e[2 * b->n];
    *len = b->e[2 * b->n + 1];
    return true;
}

/* Grey objects pass through a short queue before they are scanned: each is
 * prefetched when it enters, so by the time it is scanned its first cache
 * line has usually arrived (marking is bound by memory latency). */
enum { PREFETCH_DEPTH = 16 };

static void drain(struct gcworker *w)
{
    uint32_t tick = 0;
    uintptr_t qbase[PREFETCH_DEPTH], qlen[PREFETCH_DEPTH];
    unsigned head = 0, n = 0;
    for (;;) {
        for (;;) {
            uintptr_t base, len;
            if (n < PREFETCH_DEPTH && pop(w, &base, &len)) {
                __builtin_prefetch((const void *)base);
                unsigned i = (head + n++) % PREFETCH_DEPTH;
                qbase[i] = base;
                qlen[i] = len;
                continue;
            }
            if (n == 0)
                break;
            base = qbase[head];
            len = qlen[head];
            head = (head + 1) % PREFETCH_DEPTH;
            n--;
            scan_object(w, base, len);
            if ((++tick & 63) == 0)
                balance(w);
        }
        /* Out of work: done when everyone is, and nothing is queued. */
        uint32_t idle = xadd32(&work.nidle, 1);
        for (;;) {
            if (idle == work.nworkers && load32(&work.nfull) == 0) {
                store32(&work.done, 1);
                return;
            }
            if (load32(&work.done))
                return;
            if (load32(&work.nfull) != 0) {
                xadd32(&work.nidle, (uint32_t)-1);
                break;
            }
            cpu_relax();
            idle = load32(&work.nidle);
        }
    }
}

static void mark_worker(struct gcworker *w)
{
    if (!w->cur)
        w->cur = block_get_empty();
    w->marked = 0;
    for (;;) {
        uint64_t j = xadd64(&work.nextjob, 1) - 1;
        if (j >= work.njobs)
            break;
        root_job(w, j);
    }
    drain(w);
    xadd64(&work.marked, w->marked);
}

static void *helper_thread(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint32_t seen = 0;
    for (;;) {
        uint32_t seq;
        while ((seq = load32(&work.seq)) == seen)
            futex_wait(&work.seq, seen, -1);
        seen = seq;
        if (id < work.nworkers)
            mark_worker(&work.workers[id]);
        xadd32(&work.finished, 1);
        futex_wake(&work.finished, 1);
    }
    return NULL;
}

static void helpers_ensure(uint32_t n)
{
    while (work.nhelpers < n) {
        uintptr_t id = ++work.nhelpers;          /* helper i uses workers[i] */
        runtime_thread_start("gort-gcmark", helper_thread, (void *)id, 256 * 1024);
    }
}

/* Run a mark phase over njobs root jobs with up to `want` workers. */
static void mark_phase(uint32_t want)
{
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    if (want < 1)
        want = 1;
    helpers_ensure(want - 1);
    work.nworkers = want;
    store32(&work.nidle, 0);
    store32(&work.done, 0);
    store64(&work.nextjob, 0);
    store64(&work.marked, 0);
    store32(&work.finished, 0);
    /* Every helper wakes; those beyond nworkers just report finished. */
    xadd32(&work.seq, 1);
    futex_wake(&work.seq, INT32_MAX);
    mark_worker(&work.workers[0]);
    uint32_t f;
    while ((f = load32(&work.finished)) < work.nhelpers)
        futex_wait(&work.finished, f, -1);
    gc.heap_marked += load64(&work.marked);
}

static void heap_bounds(void)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (uint32_t i = 0; i < mheap_.narenas; i++) {
        struct arena *a = mheap_.arenas[i];
        if (a->base < lo)
            lo = a->base;
        if (a->base + ARENA_BYTES > hi)
            hi = a->base + ARENA_BYTES;
    }
    work.heap_lo = lo;
    work.heap_hi = hi;
}

void gc_mark(void)
{
    heap_bounds();
    work.gs = allgs;
    work.ngs = allglen;
    work.njobs = work.nranges + (work.ngs + G_BATCH - 1) / G_BATCH + 1;
    gc.heap_marked = 0;
    int32_t n = gomaxprocs < ncpu ? gomaxprocs : ncpu;
    mark_phase((uint32_t)n);
}

/* ---- Single-threaded marking from given roots (finalizers) ------------------------ */

void gc_mark_object_root(uintptr_t p)
{
    struct gcworker *w = &work.workers[0];
    if (!w->cur)
        w->cur = block_get_empty();
    mark_root_pointer(w, p);
}

/* Scan [lo, hi) as a root without marking the object it belongs to. */
void gc_mark_range(uintptr_t lo, uintptr_t hi)
{
    struct gcworker *w = &work.workers[0];
    if (!w->cur)
        w->cur = block_get_empty();
    scan_block(w, lo, hi);
}

void gc_drain(void)
{
    struct gcworker *w = &work.workers[0];
    work.nworkers = 1;
    store32(&work.nidle, 0);
    store32(&work.done, 0);
    w->marked = 0;
    drain(w);
    gc.heap_marked += w->marked;
}

bool gc_is_marked(uintptr_t p)
{
    struct span *s = span_of(p);
    if (!s || s->state != SPAN_INUSE)
        return true;
    uint32_t idx = s->sizeclass ? span_objindex(s, p) : 0;
    return bit_get(s->markbits, idx);
}
