/*
 * mgcmark.c — marking.
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
 * A mark runs in one of two ways (mgc.c picks):
 *
 *  - with the world stopped throughout (gc_mark);
 *  - mostly concurrently, as Boehm, Demers and Shenker's mostly-parallel
 *    collector: the kernel records which heap pages are written
 *    (mgcdirty.c); the roots are scanned and the heap traced while the
 *    program runs (gc_mark_concurrent), objects allocated meanwhile are born
 *    marked, and goroutines that run or are made runnable put themselves on
 *    a list (gc_flag_g).  Rounds of "precleaning" (gc_mark_preclean) rescan,
 *    still concurrently, the marked objects on pages written since they
 *    were scanned and the listed goroutines that are not running.  Then,
 *    with the world stopped (gc_mark_terminate), the last written pages,
 *    the listed goroutines, the data segments and the runtime's roots are
 *    scanned again and the marking finished: whatever a reachable object
 *    came to point to after it was scanned lies on a written page, in a
 *    listed goroutine, or in a root rescanned then.
 *
 * A phase's work is shared among marking threads (the collector's thread
 * and helpers): jobs (root ranges, written-page runs, goroutine batches,
 * the runtime's roots) are claimed by index, grey objects move through
 * per-worker blocks and a global list of full blocks, and the phase ends
 * when every worker is idle and no block is left.
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

struct root_range {
    uintptr_t lo, hi;
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
    uint64_t written;                  /* written pages it rescanned */
} __attribute__((aligned(64)));        /* one cache line each: no false sharing */

static struct {
    /* read on every candidate pointer: kept apart from the counters below */
    uintptr_t heap_lo, heap_hi;        /* addresses that may be heap pointers */
    char pad0[48];
    struct rtlock lock;
    struct wblock *full;
    struct wblock *empty;
    uint32_t nfull;                    /* atomic */
    /* root jobs, in this order: data ranges, arenas (their written pages),
     * goroutine batches, the runtime's roots */
    struct root_range *ranges;         /* data segments of loaded objects */
    uint64_t nranges, capranges;
    uint64_t phase_nranges;            /* of which this phase scans (0 or all) */
    uint64_t ndirty;                   /* arenas whose written pages to rescan */
    bool rearm;                        /* and protect again as they are listed */
    struct g **gs;                     /* goroutines to scan */
    uint64_t ngs;
    struct g **glist;                  /* the collected list of flagged goroutines */
    uint64_t capglist;
    bool runtime_roots;                /* this phase scans timers and finalizers */
    bool concurrent;                   /* the world runs during this phase */
    uint64_t njobs;
    uint64_t nextjob;                  /* atomic */
    /* termination */
    uint32_t nworkers;                 /* workers in this mark phase */
    char pad1[60];
    uint32_t nbusy;                    /* atomic: workers that may hold work */
    uint32_t done;                     /* atomic */
    /* helper threads */
    uint32_t nhelpers;
    uint32_t seq;                      /* futex: bumped to start a phase */
    uint32_t finished;                 /* atomic: helpers that finished the phase */
    uint64_t marked;                   /* atomic: sum over workers */
    struct gcworker workers[MAX_WORKERS];
} work;


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
    if (b->n < 8 || load32(&work.nfull) != 0 || load32(&work.nbusy) >= work.nworkers)
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
    /* markable: a span being set up while the world runs is not yet. */
    if (!s || s->state != SPAN_INUSE || !load8(&s->markable))
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
    /* While the world runs, a running goroutine's stack and registers are
     * moving: it is on the rescan list (gc_flag_g) and scanned when the
     * world stops. */
    if (work.concurrent && (status == G_RUNNING || status == G_SYSCALL))
        return;
    scan_block(w, (uintptr_t)gp, (uintptr_t)gp + G_SCAN_END);
    uintptr_t lo = gp->stacklo, hi = gp->stackhi;
    if (!lo)
        return;
    uintptr_t sp = gp->ctx.rsp;
    struct m *mp = gp->m;
    if ((status == G_RUNNING || status == G_SYSCALL) && mp && m_is_suspended(mp)) {
        /* Stopped by a signal: every register may hold a pointer. */
        scan_block(w, (uintptr_t)mp->sregs, (uintptr_t)(mp->sregs + ARRAY_LEN(mp->sregs)));
        sp = mp->sregs[REG_RSP] - RED_ZONE;
    } else if (status == G_RUNNING) {
        sp = lo;                        /* unknown: take the whole stack */
    }
    if (sp < lo || sp > hi)
        sp = lo;
    scan_block(w, sp, hi);
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

/* The part of one heap page [lo, hi) of s that was written: what marked
 * objects hold there may be new.  A stack page is scanned whole. */
static void rescan_page(struct gcworker *w, struct span *s, uintptr_t lo, uintptr_t hi)
{
    uint8_t state = load8(&s->state);
    if (state == SPAN_STACK) {
        scan_block(w, lo, hi);
        return;
    }
    if (state != SPAN_INUSE || !load8(&s->markable) || s->noscan)
        return;
    if (s->sizeclass == 0) {
        if (bit_get(s->markbits, 0))
            scan_block(w, lo, hi);
        return;
    }
    uintptr_t size = s->elemsize;
    uint32_t i = span_objindex(s, lo);
    uintptr_t obj = s->base + (uintptr_t)i * size;
    for (; i < s->nelems && obj < hi; i++, obj += size) {
        if (!bit_get(s->markbits, i))
            continue;
        scan_block(w, obj > lo ? obj : lo, obj + size < hi ? obj + size : hi);
    }
}

static void rescan_written(struct gcworker *w, uintptr_t lo, uintptr_t hi)
{
    while (lo < hi) {
        uintptr_t end = (lo | (PAGE_SIZE - 1)) + 1;     /* the heap page's end */
        if (end > hi)
            end = hi;
        struct span *s = span_of(lo);
        if (s)
            rescan_page(w, s, lo, end);
        lo = end;
    }
}

static void rescan_cb(void *ctx, uintptr_t lo, uintptr_t hi)
{
    rescan_written(ctx, lo, hi);
}

static void root_job(struct gcworker *w, uint64_t j)
{
    if (j < work.phase_nranges) {
        scan_block(w, work.ranges[j].lo, work.ranges[j].hi);
        return;
    }
    j -= work.phase_nranges;
    if (j < work.ndirty) {
        uintptr_t base = mheap_.arenas[j]->base;
        long pages = dirty_collect_arena((uint32_t)(w - work.workers), base, work.rearm,
                                         rescan_cb, w);
        if (pages < 0) {
            /* The kernel failed us: every page counts as written. */
            rescan_written(w, base, base + ARENA_BYTES);
            pages = (long)(ARENA_BYTES / 4096);
        }
        w->written += (uint64_t)pages;
        return;
    }
    j -= work.ndirty;
    uint64_t gjobs = (work.ngs + G_BATCH - 1) / G_BATCH;
    if (j < gjobs) {
        uint64_t first = j * G_BATCH;
        scan_goroutines(w, first, work.ngs - first < G_BATCH ? work.ngs - first : G_BATCH);
        return;
    }
    if (work.runtime_roots) {
        timers_scan_roots_with(mark_cb, w);
        finalizers_scan_roots_with(mark_cb, w);
    }
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

/* Whether worker id may mark now.  While the world runs, the collector's
 * thread always does, and helper i only while at least i Ps are idle: the
 * helpers use CPUs the program leaves free, and step aside when it wants
 * them back. */
static bool may_work(uint32_t id)
{
    return id == 0 || !work.concurrent || id <= load32(&sched.npidle);
}

/* Grey objects pass through a short queue before they are scanned: each is
 * prefetched when it enters, so by the time it is scanned its first cache
 * line has usually arrived (marking is bound by memory latency).
 * Returns false when out of work, true when it stepped aside (its work is
 * then on the global list). */
enum { PREFETCH_DEPTH = 16 };

static bool drain_some(struct gcworker *w, uint32_t id)
{
    uint32_t tick = 0;
    uintptr_t qbase[PREFETCH_DEPTH], qlen[PREFETCH_DEPTH];
    unsigned head = 0, n = 0;
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
            return false;
        base = qbase[head];
        len = qlen[head];
        head = (head + 1) % PREFETCH_DEPTH;
        n--;
        scan_object(w, base, len);
        if ((++tick & 63) == 0) {
            balance(w);
            if (!may_work(id)) {
                /* Hand everything over: the queue back into the block, and
                 * the block to the global list. */
                for (; n > 0; n--, head = (head + 1) % PREFETCH_DEPTH)
                    push(w, qbase[head], qlen[head]);
                if (w->cur->n > 0) {
                    block_put_full(w->cur);
                    w->cur = block_get_empty();
                }
                return true;
            }
        }
    }
}

/* Wait for work, or for the end of the phase (true). */
static bool wait_for_work(uint32_t id)
{
    for (uint32_t spins = 0;; spins++) {
        if (load32(&work.done))
            return true;
        if ((load32(&work.nfull) != 0 || load64(&work.nextjob) < work.njobs) && may_work(id))
            return false;
        /* While the world runs, a waiting marker must not take a CPU from
         * the program (another may be deep in a long list). */
        if (work.concurrent && spins > 256)
            usleep_ns(20000);
        else
            cpu_relax();
    }
}

/* Mark until the phase is done: claim root jobs, drain grey objects, and
 * when out of work, end the phase if no one has any left.  nbusy counts the
 * workers that may hold work; it is raised before work is taken and
 * lowered after a worker's own is gone, so nbusy == 0 with no full block
 * and every job claimed means no work anywhere. */
static void mark_worker(struct gcworker *w, uint32_t id)
{
    if (!w->cur)
        w->cur = block_get_empty();
    w->marked = 0;
    for (;;) {
        if (!may_work(id)) {
            if (wait_for_work(id))
                break;
            continue;
        }
        xadd32(&work.nbusy, 1);
        if (load32(&work.done)) {
            xadd32(&work.nbusy, (uint32_t)-1);
            break;
        }
        bool stepped_aside = false;
        for (;;) {
            if (!may_work(id)) {
                stepped_aside = true;
                break;
            }
            uint64_t j = xadd64(&work.nextjob, 1) - 1;
            if (j >= work.njobs)
                break;
            root_job(w, j);
        }
        if (!stepped_aside)
            stepped_aside = drain_some(w, id);
        else if (w->cur->n > 0) {
            block_put_full(w->cur);
            w->cur = block_get_empty();
        }
        uint32_t busy = xadd32(&work.nbusy, (uint32_t)-1);
        if (busy == 0 && load32(&work.nfull) == 0 && load64(&work.nextjob) >= work.njobs) {
            store32(&work.done, 1);
            break;
        }
        if (wait_for_work(id))
            break;
    }
    xadd64(&work.marked, w->marked);
}

static void *helper_thread(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint32_t seen = 0;
    for (;;) {
        uint32_t seq;
        /* Phases come in quick succession at the end of a concurrent mark
         * (the last one with the world stopped): wait a moment before
         * sleeping, to start at once. */
        for (int i = 0; i < 2000 && load32(&work.seq) == seen; i++)
            cpu_relax();
        while ((seq = load32(&work.seq)) == seen)
            futex_wait(&work.seq, seen, -1);
        seen = seq;
        if (id < work.nworkers)
            mark_worker(&work.workers[id], (uint32_t)id);
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

/* Run a mark phase over the jobs set up in work with up to `want` workers. */
static void mark_phase(uint32_t want)
{
    uint64_t gjobs = (work.ngs + G_BATCH - 1) / G_BATCH;
    work.njobs = work.phase_nranges + work.ndirty + gjobs + (work.runtime_roots ? 1 : 0);
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    if (want < 1)
        want = 1;
    helpers_ensure(want - 1);
    work.nworkers = want;
    store32(&work.nbusy, 0);
    store32(&work.done, 0);
    store64(&work.nextjob, 0);
    store64(&work.marked, 0);
    store32(&work.finished, 0);
    /* Every helper wakes; those beyond nworkers just report finished. */
    if (want > 1) {
        xadd32(&work.seq, 1);
        futex_wake(&work.seq, INT32_MAX);
    }
    mark_worker(&work.workers[0], 0);
    uint32_t f;
    if (want > 1)
        while ((f = load32(&work.finished)) < work.nhelpers)
            futex_wait(&work.finished, f, -1);
    gc.cycle_marked += load64(&work.marked);
}

static void heap_bounds(void)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    uint32_t n = load32(&mheap_.narenas);
    for (uint32_t i = 0; i < n; i++) {
        struct arena *a = mheap_.arenas[i];
        if (a->base < lo)
            lo = a->base;
        if (a->base + ARENA_BYTES > hi)
            hi = a->base + ARENA_BYTES;
    }
    work.heap_lo = lo;
    work.heap_hi = hi;
}

static uint32_t all_workers(void)
{
    int32_t n = gomaxprocs < ncpu ? gomaxprocs : ncpu;
    return n > 0 ? (uint32_t)n : 1;
}

static void phase_reset(bool concurrent)
{
    work.concurrent = concurrent;
    work.phase_nranges = 0;
    work.ndirty = 0;
    work.gs = NULL;
    work.ngs = 0;
    work.runtime_roots = false;
    heap_bounds();
}

void gc_mark(void)
{
    phase_reset(false);
    work.phase_nranges = work.nranges;
    work.gs = allgs;
    work.ngs = allglen;
    work.runtime_roots = true;
    gc.cycle_marked = 0;
    mark_phase(all_workers());
}

/* ---- Concurrent marking --------------------------------------------------------- */

/* Goroutines that ran or were made runnable since the collector last
 * looked at them: a lock-free stack through g.gclink. */
static struct g *flagged;

void gc_flag_g_slow(struct g *gp)
{
    if (!cas32(&gp->gcflag, 0, 1))
        return;
    struct g *head;
    do {
        head = loadp((void *const *)&flagged);
        gp->gclink = head;
    } while (!casp((void **)&flagged, head, gp));
}

static void glist_add(struct g *gp, uint64_t *n)
{
    if (*n == work.capglist) {
        uint64_t cap = work.capglist ? work.capglist * 2 : 1024;
        struct g **a = persistent_alloc(cap * sizeof *a);
        if (*n)
            memcpy(a, work.glist, *n * sizeof *a);
        work.glist = a;         /* metadata: the old array is simply left */
        work.capglist = cap;
    }
    work.glist[(*n)++] = gp;
}

/* Take the flagged goroutines into work.gs.  With the world running, each
 * is unflagged before its state is looked at: one that runs or is made
 * runnable after that flags itself again.  Those running now stay flagged
 * (they are scanned when the world stops).  With the world stopped, all
 * are taken. */
static void take_flagged(bool world_stopped)
{
    struct g *list = xchgp((void **)&flagged, NULL);
    uint64_t n = 0;
    while (list) {
        struct g *gp = list;
        list = gp->gclink;
        gp->gclink = NULL;
        store32(&gp->gcflag, 0);
        if (!world_stopped) {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            uint32_t st = readgstatus(gp);
            if (st == G_RUNNING || st == G_SYSCALL) {
                gc_flag_g_slow(gp);
                continue;
            }
        }
        glist_add(gp, &n);
    }
    work.gs = work.glist;
    work.ngs = n;
}

/* The arenas' written pages join the phase's jobs. */
static void with_written(bool rearm)
{
    work.ndirty = load32(&mheap_.narenas);
    work.rearm = rearm;
}

/* Written pages the workers of the last phase rescanned. */
static uint64_t written_pages(uint32_t nworkers)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < nworkers; i++) {
        n += work.workers[i].written;
        work.workers[i].written = 0;
    }
    return n;
}

/* World stopped: a concurrent mark starts.  Goroutines flag themselves
 * from now on, and those running now are flagged; the rest of the world is
 * scanned while it runs, once write tracking is armed. */
void gc_mark_begin(void)
{
    gc.cycle_marked = 0;
    store64(&gc.black_bytes, 0);
    store32(&gc.flagging, 1);
    for (struct m *mp = loadp((void *const *)&allm); mp; mp = mp->alllink) {
        struct g *gp = loadp((void *const *)&mp->curg);
        if (gp)
            gc_flag_g_slow(gp);
    }
    /* The goroutines that exist now; later ones are flagged when made
     * runnable. */
    work.gs = allgs;
    work.ngs = allglen;
}

void gc_mark_concurrent(void)
{
    struct g **gs = work.gs;
    uint64_t ngs = work.ngs;
    phase_reset(true);
    work.phase_nranges = work.nranges;
    work.gs = gs;
    work.ngs = ngs;
    work.runtime_roots = true;
    mark_phase(all_workers());     /* helpers only on idle Ps: may_work */
}

/* Rounds of rescanning, with the world running, what changed since: the
 * written pages (protected again as they are listed) and the flagged
 * goroutines not running.  Stops when a round finds little, so that the
 * final stop has little left. */
void gc_mark_preclean(void)
{
    enum { ROUNDS = 6, FEW_PAGES = 64, FEW_GS = 64 };
    for (int round = 0; round < ROUNDS; round++) {
        phase_reset(true);
        with_written(true);
        take_flagged(false);
        uint64_t ngs = work.ngs;
        mark_phase(all_workers());      /* helpers only on idle Ps: may_work */
        uint64_t pages = written_pages(work.nworkers);
        if (pages <= FEW_PAGES && ngs <= FEW_GS)
            break;
    }
}

void gc_mark_abandon(void)
{
    take_flagged(true);
    work.gs = NULL;
    work.ngs = 0;
}

/* World stopped: the last written pages, every flagged goroutine, the
 * data segments and the runtime's roots, then marking to the end. */
void gc_mark_terminate(void)
{
    phase_reset(false);
    with_written(false);
    take_flagged(true);
    work.phase_nranges = work.nranges;
    work.runtime_roots = true;
    /* The arenas' page tables are walked in parallel; a small heap is not
     * worth waking the helpers for. */
    uint32_t n = all_workers();
    mark_phase(work.ndirty > 1 || work.ngs > 1024 ? n : 1);
    written_pages(work.nworkers);
    work.gs = NULL;
    work.ngs = 0;
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
    store32(&work.nbusy, 1);
    store32(&work.done, 0);
    w->marked = 0;
    drain_some(w, 0);
    gc.cycle_marked += w->marked;
}

bool gc_is_marked(uintptr_t p)
{
    struct span *s = span_of(p);
    if (!s || s->state != SPAN_INUSE)
        return true;
    uint32_t idx = s->sizeclass ? span_objindex(s, p) : 0;
    return bit_get(s->markbits, idx);
}
