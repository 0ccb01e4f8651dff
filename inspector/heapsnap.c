/*
 * heapsnap.c — copying the runtime's heap (heapsnap.h).
 *
 * During the stop: the roots (the page heap, the collector, the counters,
 * the size class tables) in one bulk read; every P's cache; the arena
 * records, each page table folded into runs of pages given to one span
 * record as it is read; the span table and the span records (allocated in
 * chunks and listed in allocation order, so read in long runs, bulkread.h),
 * decoded into compact records; and the allocation bitmaps when the command
 * needs them.  The records are allocated and touched before the stop.  After
 * the release: every span is checked, against the size classes, the
 * arenas and the page tables, and the lookups are built.
 */
#include "heapsnap.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bsearch.h"
#include "bulkread.h"

enum {
    MAX_ARENAS = 1 << 16,           /* 4 TiB of 64 MiB arenas */
    MAX_SPANS = 1 << 26,
    MAX_CLASSES = 256,
    MAX_RING = 4096,                /* entries of the collector's pause rings */
    MAX_TYPE = 1 << 20,             /* bytes of the structures copied whole */
    NONSTOP_TRIES = 10,
    DEAD = NO_SPAN - 1,             /* by_record: a dead (unused) span record */
};

/* ---- Field layouts, by name ---------------------------------------------- */

enum { H_ARENAS, H_NARENAS, H_ALLSPANS, H_NSPANS, H_SWEEPGEN, H_GENERATION, H_PAGES_INUSE,
       H_PAGES_STACK, H_PAGES_FREE, H_PAGES_RELEASED, H_SYS_BYTES, H_NSMALLFREE, H_N };
static const char *const mheap_names[H_N] = {
    "arenas", "narenas", "allspans", "nspans", "sweepgen", "generation", "pages_inuse",
    "pages_stack", "pages_free", "pages_released", "sys_bytes", "nsmallfree"};

enum { S_BASE, S_NPAGES, S_STATE, S_SPANCLASS, S_SIZECLASS, S_NOSCAN, S_NEEDZERO, S_INCACHE,
       S_ELEMSIZE, S_NELEMS, S_ALLOCCOUNT, S_FREEINDEX, S_SWEEPGEN, S_ALLOCBITS, S_OWNER,
       S_FREED_AT, S_N };
static const char *const span_names[S_N] = {
    "base", "npages", "state", "spanclass", "sizeclass", "noscan", "needzero", "incache",
    "elemsize", "nelems", "alloccount", "freeindex", "sweepgen", "allocbits", "owner",
    "freed_at"};

enum { A_BASE, A_SPANS, A_N };
static const char *const arena_names[A_N] = {"base", "spans"};

enum { C_ALLOC, C_LOCAL_NSMALLALLOC, C_LOCAL_NLARGEALLOC, C_LOCAL_LARGEALLOC, C_N };
static const char *const mcache_names[C_N] = {
    "alloc", "local_nsmallalloc", "local_nlargealloc", "local_largealloc"};

enum { G_HEAP_LIVE, G_HEAP_MARKED, G_NEXT_GC, G_PERCENT, G_RUNNING, G_NUM_GC,
       G_PAUSE_TOTAL_NS, G_PAUSE_NS, G_PAUSE_END, G_LAST_GC, G_NUM_FORCED_GC, G_TOTAL_NS, G_N };
static const char *const gc_names[G_N] = {
    "heap_live", "heap_marked", "next_gc", "percent", "running", "num_gc", "pause_total_ns",
    "pause_ns", "pause_end", "last_gc", "num_forced_gc", "total_ns"};

/* Roots: the ones read whole in the first bulk read. */
enum { R_MHEAP, R_GC, R_PAGE_SIZE, R_ARENA_BYTES, R_CLASS_TO_SIZE, R_CLASS_TO_NPAGES,
       R_NSMALLALLOC, R_NLARGEALLOC, R_LARGEALLOC_BYTES, R_NLARGEFREE, R_LARGEFREE_BYTES,
       R_PERSISTENT_BYTES, R_N };
static const char *const root_names[R_N] = {
    "mheap", "gc", "page_size", "arena_bytes", "class_to_size", "class_to_npages",
    "nsmallalloc", "nlargealloc", "largealloc_bytes", "nlargefree", "largefree_bytes",
    "persistent_bytes"};

struct type {
    uint32_t size;
    struct rt_field *f;
};

struct hlayout {
    struct rt_field mheap[H_N], span[S_N], arena[A_N], mcache[C_N], gc[G_N];
    struct type tmheap, tspan, tarena, tmcache, tgc;
    const struct rt_root *root[R_N];
};

static uint32_t type_fields(const struct rtdesc *d, const char *type, const char *const *names,
                            int n, struct rt_field *out)
{
    const struct rt_type *t = rtdesc_type(d, type);
    for (int i = 0; i < n; i++)
        out[i] = rtdesc_field(d, type, names[i]);
    return t ? t->size : 0;
}

/* False when the runtime does not describe a heap this reader can use. */
static bool layout_init(struct hlayout *l, const struct rtdesc *d)
{
    memset(l, 0, sizeof *l);
    l->tmheap = (struct type){type_fields(d, "mheap", mheap_names, H_N, l->mheap), l->mheap};
    l->tspan = (struct type){type_fields(d, "span", span_names, S_N, l->span), l->span};
    l->tarena = (struct type){type_fields(d, "arena", arena_names, A_N, l->arena), l->arena};
    l->tmcache = (struct type){type_fields(d, "mcache", mcache_names, C_N, l->mcache),
                               l->mcache};
    l->tgc = (struct type){type_fields(d, "gcstate", gc_names, G_N, l->gc), l->gc};
    for (int i = 0; i < R_N; i++)
        l->root[i] = rtdesc_root(d, root_names[i]);
    for (int i = 0; i < S_N; i++)       /* decoded unchecked, 100,000 times */
        l->span[i] = rt_field_fit(l->span[i], l->tspan.size);
    return l->root[R_MHEAP] && l->tmheap.size && l->tmheap.size <= MAX_TYPE &&
           l->tspan.size && l->tspan.size <= MAX_TYPE && l->tarena.size <= BULK_MAX_ITEM &&
           l->tmcache.size <= MAX_TYPE && l->tgc.size <= MAX_TYPE &&
           l->span[S_BASE].present && l->span[S_NPAGES].present && l->span[S_STATE].present;
}

/* Field i of a copied structure of type t. */
static inline uint64_t get(const uint8_t *b, const struct type *t, int i)
{
    return rt_get(b, t->size, t->f[i]);
}

/* Element k of an array field of 8-byte elements (0 past its end). */
static uint64_t get_at(const uint8_t *b, const struct type *t, int i, size_t k)
{
    struct rt_field f = t->f[i];
    if (!f.present || (k + 1) * 8 > f.size)
        return 0;
    return rt_get(b, t->size, (struct rt_field){f.offset + (uint32_t)(k * 8), 8, true});
}

static size_t array_len(const struct type *t, int i)
{
    return t->f[i].present ? t->f[i].size / 8 : 0;
}

/* ---- Errors ------------------------------------------------------------------ */

static void span_error(struct heapsnap *h, struct hspan *sp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void span_error(struct heapsnap *h, struct hspan *sp, const char *fmt, ...)
{
    if (sp->error)
        return;             /* the first problem is the one to show */
    char msg[256], buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(buf, sizeof buf, "span table entry %" PRIu32 " (span at %#" PRIx64 "): %s",
             sp->index, sp->addr, msg);
    xgrow(&h->errors, &h->caperrors, h->nerrors + 1, sizeof *h->errors);
    h->errors[h->nerrors++] = xstrdup(buf);
    sp->error = (uint32_t)h->nerrors;
}

/* ---- The copy ------------------------------------------------------------------ */

struct copy {
    struct snapshot *s;
    struct heapsnap *h;
    const struct hlayout *l;
    uint8_t *mheap;                 /* the copy of the page heap */
    size_t capruns, capcached, capdead;
};

static void states_init(struct heapsnap *h, const struct rtdesc *d)
{
    const struct rt_enum *e = rtdesc_enum(d, "spanstate");
    h->nstates = e ? e->nvalues : 0;
    h->st_dead = rtdesc_enum_value(d, "spanstate", "dead");
    h->st_inuse = rtdesc_enum_value(d, "spanstate", "inuse");
    h->st_stack = rtdesc_enum_value(d, "spanstate", "stack");
    h->st_free = rtdesc_enum_value(d, "spanstate", "free");
    h->st_released = rtdesc_enum_value(d, "spanstate", "released");
}

static bool pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

/* The roots: mheap, gc and the counters, in one bulk read. */
static bool read_roots(struct copy *c)
{
    struct snapshot *s = c->s;
    struct heapsnap *h = c->h;
    const struct hlayout *l = c->l;
    struct target_range rg[R_N];
    size_t n = 0;
    int which[R_N];
    for (int i = 0; i < R_N; i++) {
        const struct rt_root *r = l->root[i];
        uint64_t size = i == R_MHEAP ? l->tmheap.size : i == R_GC ? l->tgc.size
                                                                   : r ? r->size : 0;
        if (!r || !size || size > MAX_TYPE)
            continue;
        rg[n] = (struct target_range){r->addr, xcalloc(1, size), size, 0};
        which[n++] = i;
    }
    target_read_ranges(s->t, rg, n);
    const uint8_t *b[R_N] = {0};
    uint64_t len[R_N] = {0};
    for (size_t k = 0; k < n; k++) {
        s->bytes_copied += rg[k].got;
        if (rg[k].got == rg[k].len) {
            b[which[k]] = rg[k].buf;
            len[which[k]] = rg[k].len;
        } else {
            snap_warn(s, "the runtime's %s at %#" PRIx64 " cannot be read", root_names[which[k]],
                      rg[k].addr);
        }
    }
    if (!b[R_MHEAP]) {
        for (size_t k = 0; k < n; k++)
            free(rg[k].buf);
        return false;
    }
    h->described = true;
    bool ok = true;
    uint64_t v = 0;
#define ROOT_U64(i, dst) \
    ((dst) = b[i] && len[i] >= 8 ? (memcpy(&v, b[i], 8), v) : 0)
    ROOT_U64(R_PAGE_SIZE, h->page_size);
    ROOT_U64(R_ARENA_BYTES, h->arena_bytes);
    ROOT_U64(R_NLARGEALLOC, h->nlargealloc);
    ROOT_U64(R_LARGEALLOC_BYTES, h->largealloc_bytes);
    ROOT_U64(R_NLARGEFREE, h->nlargefree);
    ROOT_U64(R_LARGEFREE_BYTES, h->largefree_bytes);
    ROOT_U64(R_PERSISTENT_BYTES, h->persistent_bytes);
#undef ROOT_U64
    if (!pow2(h->page_size) || h->page_size < 512 || h->page_size > (1 << 24) ||
        !pow2(h->arena_bytes) || h->arena_bytes < h->page_size ||
        h->arena_bytes > (1ull << 40)) {
        snap_warn(s, "the heap's page size %" PRIu64 " and arena size %" PRIu64
                     " are implausible", h->page_size, h->arena_bytes);
        ok = false;
    }

    /* size classes: the number the tables agree on */
    const struct type *mh = &l->tmheap;
    size_t nc = len[R_CLASS_TO_SIZE] / 2;
    size_t lens[] = {len[R_CLASS_TO_NPAGES], len[R_NSMALLALLOC] / 8, array_len(mh, H_NSMALLFREE)};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        if (lens[i] != nc)
            snap_warn(s, "the runtime's size class tables differ in length (%zu and %zu)", nc,
                      lens[i]);
        if (lens[i] < nc)
            nc = lens[i];
    }
    if (nc > MAX_CLASSES)
        nc = MAX_CLASSES;
    h->nclasses = (uint32_t)nc;
    h->class_size = xcalloc(nc + 1, sizeof *h->class_size);
    h->class_npages = xcalloc(nc + 1, 1);
    h->nsmallalloc = xcalloc(nc + 1, 8);
    h->nsmallfree = xcalloc(nc + 1, 8);
    h->unflushed = xcalloc(nc + 1, 8);
    for (size_t i = 0; i < nc; i++) {
        memcpy(&h->class_size[i], b[R_CLASS_TO_SIZE] + 2 * i, 2);
        h->class_npages[i] = b[R_CLASS_TO_NPAGES][i];
        memcpy(&h->nsmallalloc[i], b[R_NSMALLALLOC] + 8 * i, 8);
        h->nsmallfree[i] = get_at(b[R_MHEAP], mh, H_NSMALLFREE, i);
    }

    {
        const uint8_t *m = b[R_MHEAP];
        h->generation = get(m, mh, H_GENERATION);
        h->sweepgen = get(m, mh, H_SWEEPGEN);
        h->pages_inuse = get(m, mh, H_PAGES_INUSE);
        h->pages_stack = get(m, mh, H_PAGES_STACK);
        h->pages_free = get(m, mh, H_PAGES_FREE);
        h->pages_released = get(m, mh, H_PAGES_RELEASED);
        h->sys_bytes = get(m, mh, H_SYS_BYTES);
        h->narenas_claimed = get(m, mh, H_NARENAS);
        h->nspans_claimed = get(m, mh, H_NSPANS);
    }
    if (b[R_GC]) {
        const uint8_t *g = b[R_GC];
        const struct type *gt = &l->tgc;
        h->heap_live = get(g, gt, G_HEAP_LIVE);
        h->heap_marked = get(g, gt, G_HEAP_MARKED);
        h->next_gc = get(g, gt, G_NEXT_GC);
        h->gc_percent = rt_get_signed(g, gt->size, gt->f[G_PERCENT]);
        h->gc_running = get(g, gt, G_RUNNING);
        h->num_gc = get(g, gt, G_NUM_GC);
        h->pause_total_ns = get(g, gt, G_PAUSE_TOTAL_NS);
        h->last_gc = get(g, gt, G_LAST_GC);
        h->has_forced = gt->f[G_NUM_FORCED_GC].present;
        h->num_forced_gc = get(g, gt, G_NUM_FORCED_GC);
        h->has_total_ns = gt->f[G_TOTAL_NS].present;
        h->gc_total_ns = get(g, gt, G_TOTAL_NS);
        size_t np = array_len(gt, G_PAUSE_NS);
        if (array_len(gt, G_PAUSE_END) < np)
            np = array_len(gt, G_PAUSE_END);
        h->npause = (uint32_t)(np > MAX_RING ? MAX_RING : np);
        h->pause_ns = xcalloc(h->npause + 1, 8);
        h->pause_end = xcalloc(h->npause + 1, 8);
        for (size_t i = 0; i < h->npause; i++) {
            h->pause_ns[i] = get_at(g, gt, G_PAUSE_NS, i);
            h->pause_end[i] = get_at(g, gt, G_PAUSE_END, i);
        }
    }
    for (size_t k = 0; k < n; k++) {    /* the page heap's copy is kept for the rest */
        if (which[k] == R_MHEAP)
            c->mheap = rg[k].buf;
        else
            free(rg[k].buf);
    }
    return ok;
}

/* Every P's cache: its unflushed counters and the spans it holds. */
static void cache_item(void *ctx, const struct bulk_item *it, const uint8_t *b, const char *why)
{
    struct copy *c = ctx;
    struct heapsnap *h = c->h;
    const struct type *t = &c->l->tmcache;
    struct hcache *pc = &h->caches[it->idx];
    if (!b) {
        snap_warn(c->s, "the cache of P %" PRId64 " at %#" PRIx64 " %s: its unflushed "
                  "allocation counts are missing", pc->p, it->addr, why);
        return;
    }
    pc->read = true;
    for (uint32_t i = 0; i < h->nclasses; i++) {
        uint64_t v = get_at(b, t, C_LOCAL_NSMALLALLOC, i);
        h->unflushed[i] += v;
        pc->nsmall += v;
    }
    pc->nlarge = get(b, t, C_LOCAL_NLARGEALLOC);
    pc->large_bytes = get(b, t, C_LOCAL_LARGEALLOC);
    h->unflushed_nlarge += pc->nlarge;
    h->unflushed_large_bytes += pc->large_bytes;
    for (size_t i = 0; i < array_len(t, C_ALLOC); i++) {
        uint64_t sp = get_at(b, t, C_ALLOC, i);
        if (!sp)
            continue;
        xgrow(&h->cached, &c->capcached, h->ncached + 1, sizeof *h->cached);
        h->cached[h->ncached++] = (struct hcached){sp, pc->p};
    }
}

static void read_caches(struct copy *c)
{
    struct snapshot *s = c->s;
    struct heapsnap *h = c->h;
    if (!c->l->tmcache.size || !s->nps)
        return;
    h->caches = xcalloc(s->nps, sizeof *h->caches);
    struct bulk_item *it = xmalloc(s->nps * sizeof *it);
    size_t n = 0;
    for (size_t i = 0; i < s->nps; i++) {
        h->caches[i] = (struct hcache){s->ps[i].id, s->ps[i].mcache, false, 0, 0, 0};
        if (s->ps[i].mcache)
            it[n++] = (struct bulk_item){s->ps[i].mcache, (uint32_t)i, c->l->tmcache.size};
        else
            snap_warn(s, "P %" PRId64 " has no cache: its unflushed allocation counts are "
                      "missing", s->ps[i].id);
    }
    h->ncaches = s->nps;
    bulk_sort(it, n);
    size_t nu = 0;
    for (size_t i = 0; i < n; i++)      /* two Ps never share a cache */
        if (nu == 0 || it[i].addr != it[nu - 1].addr)
            it[nu++] = it[i];
    s->bytes_copied += bulk_read(s->t, it, nu, cache_item, c);
    free(it);
}

/* An arena: its base, and its page table folded into runs. */
static void arena_item(void *ctx, const struct bulk_item *it, const uint8_t *b, const char *why)
{
    struct copy *c = ctx;
    struct heapsnap *h = c->h;
    const struct type *t = &c->l->tarena;
    struct harena *a = &h->arenas[h->narenas++];
    char buf[256];
    memset(a, 0, sizeof *a);
    a->addr = it->addr;
    a->first_run = (uint32_t)h->nruns;
    if (!b) {
        snprintf(buf, sizeof buf, "arena %" PRIu32 " at %#" PRIx64 " %s", it->idx, it->addr, why);
        a->error = xstrdup(buf);
        return;
    }
    a->base = get(b, t, A_BASE);
    a->end = a->base + h->arena_bytes;
    uint64_t pages = h->arena_bytes / h->page_size;
    if (a->base % h->arena_bytes || a->end < a->base) {
        snprintf(buf, sizeof buf, "arena %" PRIu32 " at %#" PRIx64 ": its base %#" PRIx64
                 " is not aligned to the arena size", it->idx, it->addr, a->base);
        a->error = xstrdup(buf);
        return;
    }
    if (array_len(t, A_SPANS) != pages) {
        snprintf(buf, sizeof buf, "arena %" PRIu32 " at %#" PRIx64 ": its page table has %zu "
                 "entries for %" PRIu64 " pages", it->idx, it->addr, array_len(t, A_SPANS),
                 pages);
        a->error = xstrdup(buf);
        return;
    }
    const uint8_t *tab = b + t->f[A_SPANS].offset;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t rec;
        memcpy(&rec, tab + 8 * i, 8);
        if (i > 0 && rec == prev) {
            h->runs[h->nruns - 1].end += h->page_size;
            continue;
        }
        xgrow(&h->runs, &c->capruns, h->nruns + 1, sizeof *h->runs);
        uint64_t start = a->base + i * h->page_size;
        h->runs[h->nruns++] = (struct hrun){start, start + h->page_size, rec, NO_SPAN};
        prev = rec;
    }
    a->nruns = (uint32_t)(h->nruns - a->first_run);
}

static int cmp_arena(const void *x, const void *y)
{
    const struct harena *a = x, *b = y;
    return (a->base > b->base) - (a->base < b->base);
}

static void read_arenas(struct copy *c, uint64_t arenas)
{
    struct snapshot *s = c->s;
    struct heapsnap *h = c->h;
    if (!c->l->tarena.size || !c->l->arena[A_SPANS].present)
        return;
    size_t got;
    uint64_t *ptrs = snap_read_table(s, arenas, h->narenas_claimed, MAX_ARENAS,
                                     "heap's arena table", false, &got);
    struct bulk_item *it = xmalloc((got ? got : 1) * sizeof *it);
    size_t ni = 0;
    for (size_t i = 0; i < got; i++) {
        if (!ptrs[i] || ptrs[i] % 8)
            snap_warn(s, "arena %zu: its record pointer %#" PRIx64 " is invalid", i, ptrs[i]);
        else
            it[ni++] = (struct bulk_item){ptrs[i], (uint32_t)i, c->l->tarena.size};
    }
    free(ptrs);
    bulk_sort(it, ni);
    size_t nu = 0;
    for (size_t i = 0; i < ni; i++) {
        if (nu && it[i].addr == it[nu - 1].addr)
            snap_warn(s, "arena %" PRIu32 ": its record at %#" PRIx64 " is listed twice",
                      it[i].idx, it[i].addr);
        else
            it[nu++] = it[i];
    }
    h->arenas = xcalloc(nu ? nu : 1, sizeof *h->arenas);
    s->bytes_copied += bulk_read(s->t, it, nu, arena_item, c);
    free(it);
}

/* After the copy: the arenas by base, their runs in address order. */
static void sort_arenas(struct snapshot *s, struct heapsnap *h)
{
    if (h->narenas)         /* no arena: h->arenas may be NULL */
        qsort(h->arenas, h->narenas, sizeof *h->arenas, cmp_arena);
    struct hrun *runs = xmalloc((h->nruns ? h->nruns : 1) * sizeof *runs);
    size_t n = 0;
    for (size_t i = 0; i < h->narenas; i++) {
        struct harena *a = &h->arenas[i];
        if (i > 0 && !a->error && !h->arenas[i - 1].error && a->base < h->arenas[i - 1].end) {
            char buf[256];
            snprintf(buf, sizeof buf, "arena at %#" PRIx64 ": its address space %#" PRIx64
                     " is another arena's", a->addr, a->base);
            a->error = xstrdup(buf);
        }
        if (a->error) {
            snap_warn(s, "%s", a->error);
            a->nruns = 0;
            continue;
        }
        if (a->nruns)
            memcpy(runs + n, h->runs + a->first_run, a->nruns * sizeof *runs);
        a->first_run = (uint32_t)n;
        n += a->nruns;
    }
    free(h->runs);
    h->runs = runs;
    h->nruns = n;
}

/* A span record. */
static void span_item(void *ctx, const struct bulk_item *it, const uint8_t *b, const char *why)
{
    struct copy *c = ctx;
    struct heapsnap *h = c->h;
    const struct type *t = &c->l->tspan;
    struct hspan sp;
    memset(&sp, 0, sizeof sp);
    sp.addr = it->addr;
    sp.index = it->idx;
    sp.bits = NO_BITS;
    sp.cached_by = -1;
    if (b) {
        const struct rt_field *f = t->f;
        sp.state = (uint8_t)rt_get_fit(b, f[S_STATE]);
        if ((int)sp.state == h->st_dead && h->st_dead >= 0) {
            xgrow(&h->dead, &c->capdead, h->ndead + 1, sizeof *h->dead);
            h->dead[h->ndead++] = sp.addr;
            return;
        }
        sp.base = rt_get_fit(b, f[S_BASE]);
        sp.npages = rt_get_fit(b, f[S_NPAGES]);
        sp.spanclass = (uint8_t)rt_get_fit(b, f[S_SPANCLASS]);
        sp.sizeclass = (uint8_t)rt_get_fit(b, f[S_SIZECLASS]);
        sp.noscan = (uint8_t)rt_get_fit(b, f[S_NOSCAN]);
        sp.needzero = (uint8_t)rt_get_fit(b, f[S_NEEDZERO]);
        sp.incache = (uint8_t)rt_get_fit(b, f[S_INCACHE]);
        sp.elemsize = (uint32_t)rt_get_fit(b, f[S_ELEMSIZE]);
        sp.nelems = (uint32_t)rt_get_fit(b, f[S_NELEMS]);
        sp.alloccount = (uint32_t)rt_get_fit(b, f[S_ALLOCCOUNT]);
        sp.freeindex = (uint32_t)rt_get_fit(b, f[S_FREEINDEX]);
        sp.sweepgen = (uint32_t)rt_get_fit(b, f[S_SWEEPGEN]);
        sp.allocbits = rt_get_fit(b, f[S_ALLOCBITS]);
        sp.owner = rt_get_fit(b, f[S_OWNER]);
        sp.freed_at = rt_get_signed(b, t->size, f[S_FREED_AT]);
    }
    xgrow(&h->spans, &h->capspans, h->nspans + 1, sizeof *h->spans);
    h->spans[h->nspans] = sp;
    if (!b)
        span_error(h, &h->spans[h->nspans], "%s", why);
    h->nspans++;
}

static void read_spans(struct copy *c, uint64_t allspans)
{
    struct snapshot *s = c->s;
    struct heapsnap *h = c->h;
    size_t got;
    uint64_t *ptrs = snap_read_table(s, allspans, h->nspans_claimed, MAX_SPANS, "span table",
                                     false, &got);
    struct bulk_item *it = xmalloc((got ? got : 1) * sizeof *it);
    size_t ni = 0;
    for (size_t i = 0; i < got; i++) {
        if (ptrs[i] && ptrs[i] % 8 == 0 && ptrs[i] < UINT64_MAX - c->l->tspan.size) {
            it[ni++] = (struct bulk_item){ptrs[i], (uint32_t)i, c->l->tspan.size};
            continue;
        }
        struct hspan sp;
        memset(&sp, 0, sizeof sp);
        sp.addr = ptrs[i];
        sp.index = (uint32_t)i;
        sp.bits = NO_BITS;
        sp.cached_by = -1;
        xgrow(&h->spans, &h->capspans, h->nspans + 1, sizeof *h->spans);
        h->spans[h->nspans] = sp;
        span_error(h, &h->spans[h->nspans++], "%s",
                   ptrs[i] ? "the pointer is misaligned" : "the pointer is NULL");
    }
    free(ptrs);
    /* records are allocated in order: the table needs no sort, as a rule
     * (a record listed twice is found by heapsnap_check) */
    bulk_order(it, ni);
    s->bytes_copied += bulk_read(s->t, it, ni, span_item, c);
    free(it);
}

/* The allocation bitmaps of the spans that hold objects. */
static void bits_item(void *ctx, const struct bulk_item *it, const uint8_t *b, const char *why)
{
    struct copy *c = ctx;
    struct heapsnap *h = c->h;
    struct hspan *sp = &h->spans[it->idx];
    if (!b) {
        span_error(h, sp, "its allocation bitmap at %#" PRIx64 " %s", it->addr,
                   why);
        return;
    }
    sp->bits = (uint32_t)h->nbits;
    memcpy(h->bits + h->nbits, b, it->len);
    h->nbits += it->len / 8;
}

static void read_bitmaps(struct copy *c)
{
    struct heapsnap *h = c->h;
    struct bulk_item *it = xmalloc((h->nspans ? h->nspans : 1) * sizeof *it);
    size_t n = 0, words = 0;
    for (size_t i = 0; i < h->nspans; i++) {
        const struct hspan *sp = &h->spans[i];
        /* a bound on the slots: objects are at least 8 bytes */
        if (sp->error || (int)sp->state != h->st_inuse || !sp->allocbits || sp->nelems == 0 ||
            sp->npages > h->arena_bytes / h->page_size * MAX_ARENAS ||
            sp->nelems > sp->npages * h->page_size / 8 || sp->allocbits % 8)
            continue;
        uint64_t len = (sp->nelems + 63) / 64 * 8;
        if (len > BULK_MAX_ITEM)
            continue;
        it[n++] = (struct bulk_item){sp->allocbits, (uint32_t)i, (uint32_t)len};
        words += len / 8;
    }
    h->bits = xmalloc((words ? words : 1) * 8);
    bulk_sort(it, n);
    /* bitmaps may be shared only by a corrupt table: each is read on its own */
    c->s->bytes_copied += bulk_read(c->s->t, it, n, bits_item, c);
    free(it);
}

/* The span table's structure (as far as level): arenas, spans, bitmaps. */
static void copy_structure(struct copy *c, const uint8_t *mheap, int level)
{
    const struct type *mh = &c->l->tmheap;
    if (level >= HEAP_SPANS) {
        read_arenas(c, get(mheap, mh, H_ARENAS));
        read_spans(c, get(mheap, mh, H_ALLSPANS));
    }
    if (level >= HEAP_BITMAPS)
        read_bitmaps(c);
}

static void copy_once(struct snapshot *s, const struct hlayout *l, int level, struct copy *c)
{
    struct heapsnap *h = s->heap;
    c->s = s;
    c->h = h;
    c->l = l;
    c->capruns = c->capcached = c->capdead = 0;
    c->mheap = NULL;
    states_init(h, s->d);
    if (read_roots(c)) {
        read_caches(c);
        copy_structure(c, c->mheap, level);
    }
    free(c->mheap);
}

static uint64_t read_generation(struct snapshot *s, const struct hlayout *l)
{
    uint64_t g = 1;
    struct rt_field f = l->mheap[H_GENERATION];
    if (f.present && f.size == 8)
        target_read_u64(s->t, l->root[R_MHEAP]->addr + f.offset, &g);
    return g;
}

/* --nonstop: as the G table, copied between two reads of the generation
 * until they agree. */
static void copy_nonstop(struct snapshot *s, const struct hlayout *l, int level, struct copy *c)
{
    bool stable = false;
    unsigned tries = 0;
    for (unsigned k = 1; k <= NONSTOP_TRIES && !stable; k++) {
        uint64_t g1 = read_generation(s, l);
        if (g1 & 1) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (tries++) {
            heapsnap_free(s->heap);
            memset(s->heap, 0, sizeof *s->heap);
        }
        copy_once(s, l, level, c);
        stable = read_generation(s, l) == g1;
    }
    if (!tries) {
        copy_once(s, l, level, c);
        tries = 1;
    }
    s->heap->tries = tries;
    s->heap->changing = !stable;
}

void heapsnap_prepare(struct snapshot *s, int level)
{
    struct hlayout l;
    struct rt_field f;
    uint64_t n = 0;
    if (level < HEAP_SPANS || !layout_init(&l, s->d))
        return;
    f = l.mheap[H_NSPANS];
    if (f.present && f.size <= 8)
        target_read(s->t, l.root[R_MHEAP]->addr + f.offset, &n, f.size);
    n = n > MAX_SPANS ? MAX_SPANS : n;
    s->heap = xcalloc(1, sizeof *s->heap);
    s->heap->capspans = n + 1024;
    s->heap->spans = xmalloc(s->heap->capspans * sizeof *s->heap->spans);
    memset(s->heap->spans, 0, s->heap->capspans * sizeof *s->heap->spans);
}

void heapsnap_copy(struct snapshot *s, int level)
{
    if (level <= HEAP_NONE)
        return;
    if (!s->heap)
        s->heap = xcalloc(1, sizeof *s->heap);
    struct hlayout l;
    if (!layout_init(&l, s->d))
        return;                     /* not described: version 1 */
    struct copy c;
    memset(&c, 0, sizeof c);
    if (s->nonstop) {
        copy_nonstop(s, &l, level, &c);
    } else {
        copy_once(s, &l, level, &c);
        s->heap->changing = s->heap->generation & 1;
    }
    s->heap->level = level;
    if (level >= HEAP_SPANS)
        sort_arenas(s, s->heap);
}

/* ---- Checks, after the release ------------------------------------------------ */

const struct harena *heapsnap_arena(const struct heapsnap *h, uint64_t addr)
{
    size_t lo = bsearch_upto(h->arenas, h->narenas, sizeof *h->arenas,
                             offsetof(struct harena, base), addr);
    for (size_t i = lo; i-- > 0;) {     /* the last arena at or below addr (without error) */
        const struct harena *a = &h->arenas[i];
        if (a->error)
            continue;
        return addr < a->end ? a : NULL;
    }
    return NULL;
}

const struct hrun *heapsnap_run(const struct heapsnap *h, uint64_t addr)
{
    size_t lo = bsearch_upto(h->runs, h->nruns, sizeof *h->runs, offsetof(struct hrun, start),
                             addr);
    return lo > 0 && addr < h->runs[lo - 1].end ? &h->runs[lo - 1] : NULL;
}

/* Is [lo, hi) inside the arenas (adjacent arenas hold a span that crosses
 * from one into the next)? */
static bool in_arenas(const struct heapsnap *h, uint64_t lo, uint64_t hi)
{
    while (lo < hi) {
        const struct harena *a = heapsnap_arena(h, lo);
        if (!a)
            return false;
        lo = a->end;
    }
    return true;
}

static void check_span(struct heapsnap *h, struct hspan *sp, const struct procmaps *maps)
{
    uint64_t ps = h->page_size, bytes = sp->npages * ps;
    if (sp->state >= h->nstates) {
        span_error(h, sp, "state %u is not a span state", sp->state);
        return;
    }
    if (sp->base % ps) {
        span_error(h, sp, "its base %#" PRIx64 " is not page-aligned", sp->base);
        return;
    }
    if (sp->npages == 0 || sp->npages > (h->narenas ? h->narenas : 1) * (h->arena_bytes / ps) ||
        sp->base + bytes < sp->base) {
        span_error(h, sp, "%" PRIu64 " pages is not a span length in this heap",
                   sp->npages);
        return;
    }
    if (!in_arenas(h, sp->base, sp->base + bytes)) {
        span_error(h, sp, "[%#" PRIx64 ", %#" PRIx64 ") is outside the heap's arenas",
                   sp->base, sp->base + bytes);
        return;
    }
    if ((int)sp->state != h->st_inuse)
        return;
    uint32_t sc = sp->sizeclass;
    if (sc >= h->nclasses) {
        span_error(h, sp, "size class %u is not one of the runtime's %u", sc, h->nclasses);
    } else if (sp->spanclass != (uint8_t)(sc << 1 | (sp->noscan & 1)) || sp->noscan > 1) {
        span_error(h, sp, "its span class %u does not match size class %u, noscan %u",
                   sp->spanclass, sc, sp->noscan);
    } else if (sc == 0 && (sp->nelems != 1 || sp->elemsize != bytes)) {
        span_error(h, sp, "a large object span of %" PRIu64 " bytes with %" PRIu32
                   " objects of %" PRIu32 " bytes", bytes, sp->nelems, sp->elemsize);
    } else if (sc != 0 && sp->elemsize != h->class_size[sc]) {
        span_error(h, sp, "its object size %" PRIu32 " is not size class %u's %u",
                   sp->elemsize, sc, h->class_size[sc]);
    } else if (sc != 0 && sp->npages != h->class_npages[sc]) {
        span_error(h, sp, "%" PRIu64 " pages, not size class %u's %u", sp->npages, sc,
                   h->class_npages[sc]);
    } else if (sp->nelems == 0 || (uint64_t)sp->nelems * sp->elemsize > bytes) {
        span_error(h, sp, "%" PRIu32 " objects of %" PRIu32 " bytes do not fit in its %"
                   PRIu64 " bytes", sp->nelems, sp->elemsize, bytes);
    } else if (sp->alloccount > sp->nelems || sp->freeindex > sp->nelems) {
        span_error(h, sp, "%" PRIu32 " objects allocated (free index %" PRIu32 ") of %"
                   PRIu32 " slots", sp->alloccount, sp->freeindex, sp->nelems);
    } else if (!sp->allocbits) {
        span_error(h, sp, "it has no allocation bitmap");
    } else if (h->level < HEAP_BITMAPS) {
        /* not copied: is it where it could be read? */
        uint64_t len = (sp->nelems + 63) / 64 * 8;
        const struct mapping *mp = procmaps_find(maps, sp->allocbits);
        if (!mp || !mapping_readable(mp) || len > mp->end - sp->allocbits)
            span_error(h, sp, "its allocation bitmap at %#" PRIx64 " is not in readable "
                       "memory", sp->allocbits);
    } else if (sp->bits == NO_BITS) {
        span_error(h, sp, "its allocation bitmap at %#" PRIx64 " was not copied",
                   sp->allocbits);
    }
}

/* Does the page table give every page of the span to its record?  (Two
 * records claiming the same pages cannot both pass.) */
static void check_pages(struct heapsnap *h, struct hspan *sp)
{
    uint64_t cur = sp->base, hi = sp->base + sp->npages * h->page_size;
    const struct hrun *r = heapsnap_run(h, cur);
    for (size_t k = r ? (size_t)(r - h->runs) : h->nruns; cur < hi; k++) {
        if (k >= h->nruns || h->runs[k].start > cur || h->runs[k].end <= cur) {
            span_error(h, sp, "page %#" PRIx64 " is in no arena's page table", cur);
            return;
        }
        if (h->runs[k].record != sp->addr) {
            span_error(h, sp, "the page table gives its page %#" PRIx64 " to the span at %#"
                       PRIx64, cur, h->runs[k].record);
            return;
        }
        cur = h->runs[k].end;
    }
}

/* Each run's span, when the record is a valid span that covers the run. */
static void resolve_runs(struct heapsnap *h)
{
    for (size_t i = 0; i < h->nruns; i++) {
        struct hrun *r = &h->runs[i];
        uint32_t k;
        r->span = NO_SPAN;
        if (!r->record || !u64map_get(&h->by_record, r->record, &k) || k >= h->nspans)
            continue;
        const struct hspan *sp = &h->spans[k];
        if (!sp->error && r->start >= sp->base && r->end <= sp->base + hspan_bytes(h, sp))
            r->span = k;
    }
}

void heapsnap_run_problem(const struct heapsnap *h, const struct hrun *r, char *buf, size_t len)
{
    uint32_t k;
    if (!r->record)
        snprintf(buf, len, "pages of no span (the page table's entries are NULL)");
    else if (!u64map_get(&h->by_record, r->record, &k))
        snprintf(buf, len, "pages the page table gives to %#" PRIx64 ", which is not in the "
                 "span table", r->record);
    else if (k == DEAD)
        snprintf(buf, len, "pages the page table gives to the span at %#" PRIx64 ", which is "
                 "unused (dead)", r->record);
    else if (h->spans[k].error)
        snprintf(buf, len, "%s", h->errors[h->spans[k].error - 1]);
    else
        snprintf(buf, len, "pages the page table gives to the span at %#" PRIx64 ", which "
                 "covers [%#" PRIx64 ", %#" PRIx64 ")", r->record, h->spans[k].base,
                 h->spans[k].base + hspan_bytes(h, &h->spans[k]));
}

/* A stack span and the goroutine whose g.stackspan it is name the same
 * goroutine. */
static void check_stacks(struct snapshot *s)
{
    struct heapsnap *h = s->heap;
    for (size_t i = 0; i < s->ngs; i++) {
        const struct snap_g *g = &s->gs[i];
        uint32_t k;
        if (!g->readable || g->error || !g->stackspan ||
            !u64map_get(&h->by_record, g->stackspan, &k) || k >= h->nspans)
            continue;
        struct hspan *sp = &h->spans[k];
        if (!sp->error && (int)sp->state == h->st_stack && sp->owner != g->goid)
            span_error(h, sp, "goroutine %" PRIu64 "'s stack, but its owner is goroutine %"
                       PRIu64, g->goid, sp->owner);
    }
}

void heapsnap_check(struct snapshot *s)
{
    struct heapsnap *h = s->heap;
    if (h->described && s->runtime_start > 0 && s->taken_ns > s->runtime_start)
        h->uptime_ns = (uint64_t)(s->taken_ns - s->runtime_start);
    if (!h->described || h->level < HEAP_SPANS)
        return;
    u64map_init(&h->by_record);
    for (size_t i = 0; i < h->ndead; i++)
        u64map_put(&h->by_record, h->dead[i], DEAD);
    for (size_t i = 0; i < h->nspans; i++) {
        uint32_t k;
        if (u64map_get(&h->by_record, h->spans[i].addr, &k) && k < h->nspans)
            span_error(h, &h->spans[i], "the span table lists it again (entry %" PRIu32 ")",
                       h->spans[k].index);
        else
            u64map_put(&h->by_record, h->spans[i].addr, (uint32_t)i);
    }
    /* the spans P caches hold */
    for (size_t i = 0; i < h->ncached; i++) {
        uint32_t k;
        if (u64map_get(&h->by_record, h->cached[i].span, &k) && k < h->nspans)
            h->spans[k].cached_by = (int32_t)h->cached[i].p;
    }
    for (size_t i = 0; i < h->nspans; i++)
        if (!h->spans[i].error)
            check_span(h, &h->spans[i], &s->t->maps);
    for (size_t i = 0; i < h->nspans; i++)
        if (!h->spans[i].error)
            check_pages(h, &h->spans[i]);
    check_stacks(s);
    resolve_runs(h);
    struct bulk_item *v = xmalloc((h->nspans ? h->nspans : 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < h->nspans; i++)
        if (!h->spans[i].error)
            v[n++] = (struct bulk_item){h->spans[i].base, (uint32_t)i, 1};
    bulk_sort(v, n);
    h->by_base = xmalloc((n ? n : 1) * sizeof *h->by_base);
    for (size_t i = 0; i < n; i++)
        h->by_base[i] = v[i].idx;
    h->nby_base = n;
    free(v);
}

void heapsnap_free(struct heapsnap *h)
{
    free(h->class_size);
    free(h->class_npages);
    free(h->nsmallalloc);
    free(h->nsmallfree);
    free(h->unflushed);
    free(h->pause_ns);
    free(h->pause_end);
    free(h->caches);
    free(h->cached);
    free(h->dead);
    for (size_t i = 0; i < h->narenas; i++)
        free(h->arenas[i].error);
    free(h->arenas);
    free(h->runs);
    free(h->spans);
    free(h->by_base);
    u64map_free(&h->by_record);
    free(h->bits);
    for (size_t i = 0; i < h->nerrors; i++)
        free(h->errors[i]);
    free(h->errors);
}

/* ---- Reading a span ---------------------------------------------------------- */

const char *hspan_state_name(const struct snapshot *s, const struct hspan *sp)
{
    const char *n = rtdesc_enum_name(s->d, "spanstate", sp->state);
    return n ? n : "?";
}

/* Whether slot i holds an object: the runtime's rule (docs/metadata.md) is
 * that slots below freeindex are allocated, and above it those whose bit
 * survived the last sweep. */
int hspan_allocated(const struct heapsnap *h, const struct hspan *sp, uint32_t i)
{
    if (sp->bits == NO_BITS || i >= sp->nelems)
        return -1;
    if (i < sp->freeindex)
        return 1;
    return (int)((h->bits[sp->bits + i / 64] >> (i % 64)) & 1);
}

/* Allocated slots by that rule: freeindex, plus the bits set above it. */
int64_t hspan_bits_set(const struct heapsnap *h, const struct hspan *sp)
{
    if (sp->bits == NO_BITS)
        return -1;
    uint32_t from = sp->freeindex < sp->nelems ? sp->freeindex : sp->nelems;
    int64_t n = from;
    for (uint32_t w = from / 64; w * 64 < sp->nelems; w++) {
        uint64_t x = h->bits[sp->bits + w];
        if (w == from / 64)
            x &= ~0ull << (from % 64);
        if ((w + 1) * 64 > sp->nelems)
            x &= (1ull << (sp->nelems % 64)) - 1;
        n += __builtin_popcountll(x);
    }
    return n;
}

int hspan_sweep_state(const struct heapsnap *h, const struct hspan *sp)
{
    uint32_t sg = (uint32_t)h->sweepgen;
    if (sp->sweepgen == sg)
        return 1;
    if (sp->sweepgen == sg - 1)
        return 2;
    return 0;
}
