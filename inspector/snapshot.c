/*
 * snapshot.c — copying the runtime's state out of the target (snapshot.h).
 *
 * The all-G table: the array of G pointers is read and the Gs copied with
 * bulkread.h (Gs are allocated in slabs, so 100,000 Gs are a few thousand
 * runs) and decoded into compact records at once.  Stacks: one range per
 * goroutine, [saved rsp, stack top), batched.  Every count and pointer read
 * from the target is bounded or checked: a bad entry becomes an error on
 * that entry, and the rest is still copied.
 */
#include "memprofsnap.h"
#include "snapshot.h"

#include <inttypes.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulkread.h"
#include "clock.h"
#include "heapsnap.h"
#include "sigframe.h"
#include "trace.h"
#include "bsearch.h"
#include "gstate.h"
#include "u64map.h"

enum {
    MAX_G = 1 << 24,                /* entries of the all-G table */
    MAX_M = 4096,
    MAX_P = 4096,
    RED_ZONE = 128,                 /* copied below a thread's stack pointer */
    MAX_STACK_COPY = 16 << 20,
    THREAD_STACK_COPY = 256 << 10,  /* of a thread stack that is not a goroutine's */
    MAX_STACK_BYTES = 1 << 30,      /* a larger stack is a corrupt G */
    NONSTOP_TRIES = 10,
    MAX_BAD = 64,                   /* bad table entries shown one by one */
    FRESH_SLACK = 4096,             /* records made room for before the stop, for Gs read again */
    HASH_SPLIT = 32768,             /* Gs from which the stop hashes on two threads */
    RANGES_SPLIT = 16384,           /* stack copies from which they are read on two threads */
    UNWIND_BATCH = RANGES_SPLIT,    /* parked stacks read, then unwound, at a time (pre_unwind) */
    UNWIND_BATCH_BYTES = 16 << 20,  /* and their bytes at most, unless one stack is larger */
    TABLE_PIECE = 65536,            /* entries of the G table compared at a time in the stop */
    ARENA_CHUNK = 4 << 20,
    POOL_CHUNK = 8192,              /* struct snap_gregs allocated at a time */
};

const char *const snap_sched_names[8] = {"goidgen", "mnext", "nmidle", "nmidlelocked",
                                         "nmspinning", "npidle", "runqsize", NULL};

static const char *const ctx_names[CTX_NREGS] = {"ctx.rsp", "ctx.rip", "ctx.rbp", "ctx.rbx",
                                                 "ctx.r12", "ctx.r13", "ctx.r14", "ctx.r15"};

/* ---- Memory for the copies --------------------------------------------------- */

struct chunk {
    struct chunk *next;
    size_t used, cap;
    uint8_t data[];
};

struct snap_arena {
    struct chunk *head;
};

static void *arena_alloc(struct snapshot *s, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = s->arena->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = s->arena->head;
        s->arena->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(struct snap_arena *a)
{
    while (a && a->head) {
        struct chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
}

/* Blocks of struct snap_gregs, handed out and taken back: the pre-copy's
 * goroutines unwound at once give theirs back a batch at a time, and the
 * next batch takes them again. */
union gregs_block {
    struct snap_gregs r;
    union gregs_block *next;
};

struct pool_chunk {
    struct pool_chunk *next;
    union gregs_block b[POOL_CHUNK];
};

struct snap_pool {
    union gregs_block *free;
    struct pool_chunk *chunks;
    size_t left;                /* blocks of chunks not handed out yet */
};

static struct snap_gregs *regs_get(struct snapshot *s)
{
    struct snap_pool *p = s->pool;
    union gregs_block *b = p->free;
    if (b) {
        p->free = b->next;
    } else {
        if (p->left == 0) {
            struct pool_chunk *c = xmalloc(sizeof *c);
            c->next = p->chunks;
            p->chunks = c;
            p->left = POOL_CHUNK;
        }
        b = &p->chunks->b[POOL_CHUNK - p->left--];
    }
    memset(&b->r, 0, sizeof b->r);
    return &b->r;
}

static void regs_put(struct snap_pool *p, struct snap_gregs *r)
{
    if (!r)
        return;
    union gregs_block *b = (union gregs_block *)r;
    b->next = p->free;
    p->free = b;
}

/* Makes sure n blocks can be handed out without touching new memory (in
 * the stop: no page fault then). */
static void regs_reserve(struct snapshot *s, size_t n)
{
    size_t have = s->pool->left;
    for (const union gregs_block *b = s->pool->free; b && have < n; b = b->next)
        have++;
    struct snap_gregs **v = have < n ? xmalloc((n - have) * sizeof *v) : NULL;
    for (size_t i = have; i < n; i++)
        v[i - have] = regs_get(s);
    for (size_t i = have; i < n; i++)
        regs_put(s->pool, v[i - have]);
    free(v);
}

static void pool_free(struct snap_pool *p)
{
    while (p && p->chunks) {
        struct pool_chunk *c = p->chunks;
        p->chunks = c->next;
        free(c);
    }
}

uint64_t *snap_read_table(struct snapshot *s, uint64_t addr, uint64_t n, uint64_t max,
                          const char *what, bool quiet, size_t *got)
{
    if (n > max && !quiet)
        snap_warn(s, "the %s claims %" PRIu64 " entries (corrupt?); reading the first %" PRIu64,
                  what, n, max);
    size_t want = (size_t)(n > max ? max : n);
    uint64_t *v = xmalloc((want ? want : 1) * sizeof *v);
    *got = bulk_read_words(s->t, addr, v, want);
    if (*got < want && !quiet)
        snap_warn(s, "only %zu of the %" PRIu64 " entries of the %s at %#" PRIx64 " can be read",
                  *got, n, what, addr);
    s->bytes_copied += *got * 8;
    return v;
}

void snap_warn(struct snapshot *s, const char *fmt, ...)
{
    char buf[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s->warnings = xrealloc(s->warnings, (s->nwarnings + 1) * sizeof *s->warnings);
    s->warnings[s->nwarnings++] = xstrdup(buf);
}

static void g_error(struct snap_g *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void g_error(struct snap_g *g, const char *fmt, ...)
{
    if (g->error)
        return;             /* the first problem is the one to show */
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g->error = xstrdup(buf);
}

/* ---- Field layouts, from the descriptor ----------------------------------------- */

struct layout {
    uint32_t gsize, msize, psize, schedsize;
    struct {
        struct rt_field goid, status, waitreason, waitsince, startpc, gopc, parentgoid;
        struct rt_field stacklo, stackhi, m, lockedm, lockcount, system, stackspan;
        struct rt_field ctx[CTX_NREGS];
    } g;
    struct {
        struct rt_field id, procid, curg, p, lockedg, spinning, blocked, alllink;
        struct rt_field stacklo, stackhi;
    } m;
    struct {
        struct rt_field id, status, m, runqhead, runqtail, runnext, schedtick, syscalltick;
        struct rt_field mcache;
    } p;
    struct rt_field sched[8];
    /* the bytes of a G that decode_g reads, as runs in offset order: what
     * g_hash hashes */
    struct span_run { uint32_t off, len; } gbytes[CTX_NREGS + 16];
    size_t ngbytes;
    const struct rt_root *allgs, *allglen, *allm, *allp, *gomaxprocs, *sched_root;
    const struct rt_root *runtime_start, *runtime_start_wall, *stack_size;
};

_Static_assert(sizeof ((struct layout *)0)->g / sizeof(struct rt_field) <=
               sizeof ((struct layout *)0)->gbytes / sizeof(struct span_run),
               "a run for every field of g");

static void gbytes_init(struct layout *l)
{
    const struct rt_field *gf = (const struct rt_field *)&l->g;
    size_t nf = sizeof l->g / sizeof *gf, n = 0;
    struct span_run *v = l->gbytes;
    for (size_t i = 0; i < nf; i++)
        if (gf[i].present && gf[i].size)
            v[n++] = (struct span_run){gf[i].offset, gf[i].size};
    for (size_t i = 1; i < n; i++)      /* insertion sort by offset: a few fields */
        for (size_t k = i; k > 0 && v[k - 1].off > v[k].off; k--) {
            struct span_run t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && v[i].off <= v[m - 1].off + v[m - 1].len) {
            uint32_t end = v[i].off + v[i].len;
            if (end > v[m - 1].off + v[m - 1].len)
                v[m - 1].len = end - v[m - 1].off;
            continue;
        }
        v[m++] = v[i];
    }
    l->ngbytes = m;
}

static int layout_init(struct layout *l, const struct rtdesc *d, struct fail *f)
{
    memset(l, 0, sizeof *l);
    const struct rt_type *g = rtdesc_type(d, "g"), *m = rtdesc_type(d, "m");
    const struct rt_type *p = rtdesc_type(d, "p"), *sc = rtdesc_type(d, "sched");
    if (!g)
        return fail_set(f, "the runtime descriptor describes no type g");
    l->gsize = g->size;
    l->msize = m ? m->size : 0;
    l->psize = p ? p->size : 0;
    l->schedsize = sc ? sc->size : 0;
#define GF(x, name) l->g.x = rtdesc_field(d, "g", name)
    GF(goid, "goid");
    GF(status, "status");
    GF(waitreason, "waitreason");
    GF(waitsince, "waitsince");
    GF(startpc, "startpc");
    GF(gopc, "gopc");
    GF(parentgoid, "parentgoid");
    GF(stacklo, "stacklo");
    GF(stackhi, "stackhi");
    GF(m, "m");
    GF(lockedm, "lockedm");
    GF(lockcount, "lockcount");
    GF(system, "system");
    GF(stackspan, "stackspan");
#undef GF
    for (int i = 0; i < CTX_NREGS; i++)
        l->g.ctx[i] = rtdesc_field(d, "g", ctx_names[i]);
#define MF(x, name) l->m.x = rtdesc_field(d, "m", name)
    MF(id, "id");
    MF(procid, "procid");
    MF(curg, "curg");
    MF(p, "p");
    MF(lockedg, "lockedg");
    MF(spinning, "spinning");
    MF(blocked, "blocked");
    MF(alllink, "alllink");
    MF(stacklo, "stacklo");
    MF(stackhi, "stackhi");
#undef MF
#define PF(x, name) l->p.x = rtdesc_field(d, "p", name)
    PF(id, "id");
    PF(status, "status");
    PF(m, "m");
    PF(runqhead, "runqhead");
    PF(runqtail, "runqtail");
    PF(runnext, "runnext");
    PF(schedtick, "schedtick");
    PF(syscalltick, "syscalltick");
    PF(mcache, "mcache");
#undef PF
    for (int i = 0; snap_sched_names[i]; i++)
        l->sched[i] = rtdesc_field(d, "sched", snap_sched_names[i]);
    l->allgs = rtdesc_root(d, "allgs");
    l->allglen = rtdesc_root(d, "allglen");
    l->allm = rtdesc_root(d, "allm");
    l->allp = rtdesc_root(d, "allp");
    l->gomaxprocs = rtdesc_root(d, "gomaxprocs");
    l->sched_root = rtdesc_root(d, "sched");
    l->runtime_start = rtdesc_root(d, "runtime_start");
    l->runtime_start_wall = rtdesc_root(d, "runtime_start_wall");
    l->stack_size = rtdesc_root(d, "stack_size");
    /* fields the G decoder reads: absent (size 0) unless they lie inside a
     * G and have an integer size */
    struct rt_field *gf = (struct rt_field *)&l->g;
    for (size_t i = 0; i < sizeof l->g / sizeof *gf; i++)
        gf[i] = rt_field_fit(gf[i], l->gsize);
    gbytes_init(l);
    if (!l->allgs || !l->allglen)
        return fail_set(f, "the runtime descriptor has no root allgs or allglen");
    if (l->gsize == 0 || l->gsize > 1 << 20)
        return fail_set(f, "the runtime descriptor gives g an implausible size %u", l->gsize);
    if (!l->g.goid.present || !l->g.status.present)
        return fail_set(f, "the runtime descriptor has no field g.goid or g.status");
    if (l->msize > 1 << 20 || l->psize > 1 << 20 || l->schedsize > 1 << 20)
        return fail_set(f, "the runtime descriptor gives m, p or sched an implausible size");
    return 0;
}

/* ---- The all-G table ----------------------------------------------------------- */

struct gcopy {
    struct snap_pool *pool;     /* where its records' registers come from */
    struct snap_g *gs;
    size_t n, cap;
    uint64_t allglen;
    size_t nbad;                /* bad entries seen (at most MAX_BAD are kept) */
    size_t nhead;               /* entries before those in address order (bad table entries) */
    bool troubled;              /* something was wrong with the table (a warning's matter) */
    /* With keep: the table as read, and its valid entries in address order. */
    bool keep;
    uint64_t allgs;
    uint64_t *ptrs;
    size_t nptrs;
    struct bulk_item *items;
    size_t nitems;
    /* With keep: per record, its G's address and a hash of its bytes (0 for
     * a bad entry), for the stop to tell which Gs changed. */
    struct gkey { uint64_t addr, hash; } *keys;
    size_t kcap;
    /* With it, the table's Gs are read a batch at a time, and each batch's
     * records [from, c->n) handed to it before the next is read. */
    void (*batch)(struct snapshot *s, struct gcopy *c, size_t from, const void *arg);
    const void *batch_arg;
    /* With it, per table entry the word of the runtime's state table read
     * before the entry's G (gstate.h): each read marks GSTATE_UNSETTLED on
     * the word of an entry whose G was not settled as the word says. */
    uint64_t *state;
    size_t nstate;
};

static void gcopy_free(struct gcopy *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->gs[i].error);
        regs_put(c->pool, c->gs[i].regs);
    }
    free(c->gs);
    free(c->ptrs);
    free(c->items);
    free(c->keys);
    c->keys = NULL;
    c->gs = NULL;
    c->ptrs = NULL;
    c->items = NULL;
    c->n = c->cap = 0;
}

/* The record the next entry is decoded into: the array's next slot. */
static struct snap_g *gcopy_slot(struct gcopy *c)
{
    xgrow(&c->gs, &c->cap, c->n + 1, sizeof *c->gs);
    return &c->gs[c->n];
}

static void gcopy_commit(struct gcopy *c)
{
    c->n++;
}

static bool status_live(const struct snapshot *s, uint32_t st)
{
    return (int)st != s->st_dead && (int)st != s->st_idle;
}

/* A key that changes whenever a parked goroutine may have run: its state,
 * wait, stack and saved registers, mixed (g->regs set). */
static uint64_t park_key(const struct snap_g *g)
{
    const uint64_t w[] = {g->goid, (uint64_t)g->waitsince, g->status, g->waitreason,
                          g->stacklo, g->stackhi};
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        h = (h ^ w[i]) * 0x100000001b3ull + (h >> 29);
    for (int i = 0; i < CTX_NREGS; i++)
        h = (h ^ g->regs->ctx[i]) * 0x100000001b3ull + (h >> 29);
    return u64_hash(h);
}

/* Decodes the G at addr from its bytes; adds it when it is live. */
static void decode_g(struct snapshot *s, const struct layout *l, struct gcopy *c, uint64_t addr,
                     const uint8_t *b, size_t idx)
{
    uint32_t status = (uint32_t)rt_get_fit(b, l->g.status);
    bool known = status < s->nstatus;
    if (known && !status_live(s, status))
        return;
    struct snap_g *g = gcopy_slot(c);
    g->addr = addr;
    g->goid = rt_get_fit(b, l->g.goid);
    g->parentgoid = rt_get_fit(b, l->g.parentgoid);
    g->startpc = rt_get_fit(b, l->g.startpc);
    g->gopc = rt_get_fit(b, l->g.gopc);
    g->stacklo = rt_get_fit(b, l->g.stacklo);
    g->stackhi = rt_get_fit(b, l->g.stackhi);
    g->m = rt_get_fit(b, l->g.m);
    g->lockedm = rt_get_fit(b, l->g.lockedm);
    g->stackspan = rt_get_fit(b, l->g.stackspan);
    uint64_t ws = rt_get_fit(b, l->g.waitsince);
    if (l->g.waitsince.size == 4)
        ws = (uint64_t)(int64_t)(int32_t)ws;
    g->waitsince = (int64_t)ws;
    g->status = status;
    g->waitreason = (uint32_t)rt_get_fit(b, l->g.waitreason);
    g->lockcount = (uint32_t)rt_get_fit(b, l->g.lockcount);
    g->regs_from = REGS_NONE;
    g->readable = true;
    g->stale = false;
    g->system = rt_get_fit(b, l->g.system) != 0;
    g->thread = -1;
    g->regs = regs_get(s);
    uint64_t *ctx = g->regs->ctx;
    for (int i = 0; i < CTX_NREGS; i++)
        ctx[i] = rt_get_fit(b, l->g.ctx[i]);
    g->park_key = park_key(g);
    g->unwound = 0;
    g->error = NULL;
    if (!known) {
        g_error(g, "goroutine table entry %zu (G at %#" PRIx64 "): status %u is not a "
                   "goroutine state", idx, addr, status);
    } else if (g->stacklo || g->stackhi) {
        if (g->stackhi <= g->stacklo || g->stackhi - g->stacklo > MAX_STACK_BYTES)
            g_error(g, "its stack bounds [%#" PRIx64 ", %#" PRIx64 ") are invalid", g->stacklo,
                    g->stackhi);
        else if ((int)status != s->st_running &&
                 (ctx[CTX_RSP] < g->stacklo || ctx[CTX_RSP] > g->stackhi))
            g_error(g, "its saved stack pointer %#" PRIx64 " is outside its stack [%#" PRIx64
                       ", %#" PRIx64 ")", ctx[CTX_RSP], g->stacklo, g->stackhi);
    }
    gcopy_commit(c);
}

static void bad_entry(struct gcopy *c, uint64_t addr, size_t idx, const char *why)
{
    if (c->nbad++ >= MAX_BAD)
        return;
    struct snap_g *g = gcopy_slot(c);
    memset(g, 0, sizeof *g);
    g->thread = -1;
    g->addr = addr;
    g_error(g, "goroutine table entry %zu (G at %#" PRIx64 ") %s", idx, addr, why);
    gcopy_commit(c);
}

struct gread {
    struct snapshot *s;
    const struct layout *l;
    struct gcopy *c;
};

/* A hash of the bytes of a G that decode_g reads (never 0): a G whose
 * bytes hash alike decodes to the same record (the table index aside,
 * which the caller checks), but for a collision of 64-bit hashes. */
static uint64_t g_hash(const struct layout *l, const uint8_t *b)
{
    /* two lanes of multiply-xor, so that the multiplies overlap */
    uint64_t h0 = 0x9e3779b97f4a7c15ull, h1 = 0xc2b2ae3d27d4eb4full, w;
    for (size_t r = 0; r < l->ngbytes; r++) {
        const uint8_t *p = b + l->gbytes[r].off;
        uint32_t n = l->gbytes[r].len, i = 0;
        for (; i + 16 <= n; i += 16) {
            memcpy(&w, p + i, 8);
            h0 = ((h0 ^ w) * 0xff51afd7ed558ccdull) ^ (h0 >> 31);
            memcpy(&w, p + i + 8, 8);
            h1 = ((h1 ^ w) * 0xc4ceb9fe1a85ec53ull) ^ (h1 >> 29);
        }
        for (; i < n; i++)
            h0 = (h0 ^ p[i]) * 0x100000001b3ull;
        h1 ^= n;
    }
    uint64_t h = u64_hash(h0 ^ u64_hash(h1));
    return h ? h : 1;
}

static void g_item(void *ctx, const struct bulk_item *it, const uint8_t *bytes, const char *why)
{
    struct gread *r = ctx;
    struct gcopy *c = r->c;
    size_t before = c->n;
    if (c->state && it->idx < c->nstate &&
        (!bytes || !gstate_settled(c->state[it->idx], (uint32_t)rt_get_fit(bytes, r->l->g.status),
                                   r->s->st_waiting, r->s->st_dead)))
        c->state[it->idx] |= GSTATE_UNSETTLED;
    if (bytes)
        decode_g(r->s, r->l, c, it->addr, bytes, it->idx);
    else
        bad_entry(c, it->addr, it->idx, why);
    if (c->keep && c->n > before) {
        if (c->n > c->kcap) {       /* as many as records, not a power of two */
            c->kcap = c->cap > c->n ? c->cap : c->n;
            c->keys = xrealloc(c->keys, c->kcap * sizeof *c->keys);
        }
        c->keys[before] = (struct gkey){it->addr, bytes ? g_hash(r->l, bytes) : 0};
    }
}

static int read_gtable(struct snapshot *s, const struct layout *l, struct gcopy *c, bool warnings,
                       struct fail *f)
{
    uint64_t allgs, len;
    c->n = 0;
    c->pool = s->pool;
    if (!target_read_u64(s->t, l->allgs->addr, &allgs) ||
        !target_read_u64(s->t, l->allglen->addr, &len))
        return fail_set(f, "the runtime's allgs and allglen at %#" PRIx64 " and %#" PRIx64
                           " cannot be read", l->allgs->addr, l->allglen->addr);
    c->allglen = len;
    c->allgs = allgs;
    size_t got;
    uint64_t *ptrs = snap_read_table(s, allgs, len, MAX_G, "goroutine table", !warnings, &got);
    c->troubled = len > MAX_G || got < len;
    if (got > c->cap) {        /* exactly: a million records are large */
        c->gs = xrealloc(c->gs, got * sizeof *c->gs);
        c->cap = got;
    }
    if (len > MAX_G) {
        /* a corrupt length: the real table ends at the first NULL entry */
        for (size_t i = 0; i < got; i++)
            if (ptrs[i] == 0) {
                got = i;
                break;
            }
        if (warnings)
            snap_warn(s, "the table's readable entries end at entry %zu", got);
    }
    struct bulk_item *p = xmalloc((got ? got : 1) * sizeof *p);
    size_t np = 0;
    c->nbad = 0;
    for (size_t i = 0; i < got; i++) {
        if (ptrs[i] == 0 || ptrs[i] % 8 != 0 || ptrs[i] > UINT64_MAX - l->gsize)
            bad_entry(c, ptrs[i], i, ptrs[i] ? "is misaligned" : "is NULL");
        else
            p[np++] = (struct bulk_item){ptrs[i], (uint32_t)i, l->gsize};
    }
    if (c->keep) {
        free(c->ptrs);
        c->ptrs = ptrs;
        c->nptrs = got;
    } else {
        free(ptrs);
    }
    /* Gs are allocated in slabs, so the table is usually sorted already */
    bulk_sort(p, np);
    size_t nu = 0;
    for (size_t i = 0; i < np; i++) {
        if (nu > 0 && p[i].addr == p[nu - 1].addr)
            bad_entry(c, p[i].addr, p[i].idx, "appears twice in the table");
        else
            p[nu++] = p[i];
    }
    struct gread r = {s, l, c};
    c->nhead = c->n;
    for (size_t k = 0, step = c->batch ? UNWIND_BATCH : nu; k < nu; k += step) {
        size_t from = c->n;
        s->bytes_copied += bulk_read(s->t, p + k, nu - k < step ? nu - k : step, g_item, &r);
        if (c->batch)
            c->batch(s, c, from, c->batch_arg);
    }
    c->troubled |= c->nbad > 0;
    if (c->keep) {
        free(c->items);
        c->items = p;
        c->nitems = nu;
    } else {
        free(p);
    }
    if (c->nbad > MAX_BAD && warnings)
        snap_warn(s, "%zu bad entries in the goroutine table; the first %d are shown", c->nbad,
             MAX_BAD);
    return 0;
}

/* ---- Ms, Ps, the scheduler ------------------------------------------------------ */

/* The target threads' tids to their index (the last, should a tid repeat). */
static void index_tids(const struct target *t, struct u64map *tids)
{
    u64map_init(tids);
    for (size_t i = 0; i < t->nthreads; i++)
        u64map_put(tids, (uint64_t)(int64_t)t->threads[i].tid, (uint32_t)i);
}

static void read_ms(struct snapshot *s, const struct layout *l)
{
    uint64_t addr;
    if (!l->allm || !l->msize || !target_read_u64(s->t, l->allm->addr, &addr))
        return;
    struct u64map tids;
    index_tids(s->t, &tids);
    uint8_t *b = xmalloc(l->msize);
    size_t cap = 0;
    while (addr) {
        uint32_t k;
        if (u64map_get(&s->m_at, addr, &k)) {
            snap_warn(s, "the list of Ms loops back to the M at %#" PRIx64, addr);
            break;
        }
        if (s->nms == MAX_M) {
            snap_warn(s, "more than %d Ms; the rest are not shown", MAX_M);
            break;
        }
        if (!target_read_full(s->t, addr, b, l->msize)) {
            snap_warn(s, "the M at %#" PRIx64 " cannot be read; the Ms after it are not shown",
                      addr);
            break;
        }
        u64map_put(&s->m_at, addr, (uint32_t)s->nms);
        xgrow(&s->ms, &cap, s->nms + 1, sizeof *s->ms);
        struct snap_m *m = &s->ms[s->nms++];
        uint32_t sz = l->msize;
        m->addr = addr;
        m->id = rt_get_signed(b, sz, l->m.id);
        m->procid = rt_get_signed(b, sz, l->m.procid);
        m->curg = rt_get(b, sz, l->m.curg);
        m->p = rt_get(b, sz, l->m.p);
        m->lockedg = rt_get(b, sz, l->m.lockedg);
        m->spinning = (uint32_t)rt_get(b, sz, l->m.spinning);
        m->blocked = (uint32_t)rt_get(b, sz, l->m.blocked);
        m->stacklo = rt_get(b, sz, l->m.stacklo);
        m->stackhi = rt_get(b, sz, l->m.stackhi);
        m->thread = -1;
        if (u64map_get(&tids, (uint64_t)m->procid, &k))
            m->thread = (int32_t)k;
        addr = rt_get(b, sz, l->m.alllink);
    }
    s->bytes_copied += s->nms * l->msize;
    free(b);
    u64map_free(&tids);
    /* the M on each thread: the first in the list that names it */
    size_t nt = s->t->nthreads;
    s->thread_m = xmalloc((nt ? nt : 1) * sizeof *s->thread_m);
    for (size_t i = 0; i < nt; i++)
        s->thread_m[i] = -1;
    for (size_t i = s->nms; i-- > 0;)
        if (s->ms[i].thread >= 0)
            s->thread_m[s->ms[i].thread] = (int32_t)i;
}

static void read_ps(struct snapshot *s, const struct layout *l)
{
    uint64_t allp;
    int32_t n = 0;
    if (!l->gomaxprocs || !target_read_full(s->t, l->gomaxprocs->addr, &n, sizeof n))
        return;
    s->gomaxprocs = n;
    if (!l->allp || !l->psize || !target_read_u64(s->t, l->allp->addr, &allp) || !allp)
        return;
    if (n < 0 || n > MAX_P) {
        snap_warn(s, "GOMAXPROCS is %d (corrupt?); no P is shown", (int)n);
        return;
    }
    uint64_t *ptrs = xmalloc((size_t)(n ? n : 1) * 8);
    if (!target_read_full(s->t, allp, ptrs, (size_t)n * 8)) {
        snap_warn(s, "the P array at %#" PRIx64 " cannot be read", allp);
        free(ptrs);
        return;
    }
    uint8_t *b = xmalloc(l->psize);
    s->ps = xcalloc((size_t)(n ? n : 1), sizeof *s->ps);
    for (int32_t i = 0; i < n; i++) {
        if (!ptrs[i] || !target_read_full(s->t, ptrs[i], b, l->psize)) {
            snap_warn(s, "P %d at %#" PRIx64 " cannot be read", (int)i, ptrs[i]);
            continue;
        }
        struct snap_p *p = &s->ps[s->nps++];
        uint32_t sz = l->psize;
        p->addr = ptrs[i];
        p->id = rt_get_signed(b, sz, l->p.id);
        p->status = (uint32_t)rt_get(b, sz, l->p.status);
        p->m = rt_get(b, sz, l->p.m);
        p->runqhead = (uint32_t)rt_get(b, sz, l->p.runqhead);
        p->runqtail = (uint32_t)rt_get(b, sz, l->p.runqtail);
        p->runnext = rt_get(b, sz, l->p.runnext);
        p->schedtick = (uint32_t)rt_get(b, sz, l->p.schedtick);
        p->syscalltick = (uint32_t)rt_get(b, sz, l->p.syscalltick);
        p->mcache = rt_get(b, sz, l->p.mcache);
        u64map_put(&s->p_at, p->addr, (uint32_t)(s->nps - 1));
    }
    s->bytes_copied += s->nps * l->psize;
    free(b);
    free(ptrs);
}

static void read_sched(struct snapshot *s, const struct layout *l)
{
    if (l->runtime_start)
        target_read_full(s->t, l->runtime_start->addr, &s->runtime_start, 8);
    if (l->stack_size)
        target_read_full(s->t, l->stack_size->addr, &s->stack_size, 8);
    if (!l->sched_root || !l->schedsize)
        return;
    uint8_t *b = xmalloc(l->schedsize);
    if (target_read_full(s->t, l->sched_root->addr, b, l->schedsize))
        for (int i = 0; snap_sched_names[i]; i++)
            s->sched_fields[i] = rt_get_signed(b, l->schedsize, l->sched[i]);
    s->goidgen = (uint64_t)s->sched_fields[0];
    free(b);
}

/* ---- Stacks ------------------------------------------------------------------------ */


/* The keys of the goroutines parked before the stop, by G address (the
 * order the table is decoded in, so the stopped copy is matched by a merge). */
struct precopy {
    struct pre {
        uint64_t addr, goid, key;
        int64_t waitsince;
        struct unwind_mem stack;    /* before the copy: [saved rsp, stack top) */
        uint32_t unwound;           /* its snap_g.unwound */
    } *v;
    size_t n;
    size_t next;                /* merge cursor */
    /* The pre-copy's records themselves (full), kept for the stop, which
     * reads every G again but decodes only those whose bytes changed (fast). */
    bool full, fast;
    struct gcopy c;             /* the pre-copy's records; the stop's fresh ones follow */
    size_t nold;                /* records of the pre-copy */
    size_t nparked;             /* of them, parked with their stack copied */
    uint32_t *todo;             /* the others: planned in the stop */
    size_t ntodo;
    uint64_t *ptrs_now;         /* a piece of the table as read in the stop */
    /* With the runtime's state table: its words as the pre-copy read them
     * (c.state), the words of the Gs the stop must read again marked, and
     * per entry a bit: read in the stop. */
    struct gstate_table gt;
    uint64_t *state, *state_now;/* state_now: a piece read in the stop */
    size_t nstate;
    uint64_t *again;
    uint32_t *stale;            /* records a fresh one replaces, in address order */
    size_t nstale;
};

/* Stack copies to make in one bulk read. */
struct plan {
    struct target_range *rg;
    struct plan_dst {
        struct unwind_mem *mem;     /* where the copy goes */
        bool own;                   /* its buffer is its own, not the arena's */
    } *dst;
    size_t n, cap, capdst;
};

/* Plans a copy of [lo, hi) into *dst: in the arena, or (own) in a buffer of
 * its own that outlives snapshot_drop_stacks and is freed with the
 * snapshot. */
static void plan_add(struct snapshot *s, struct plan *pl, struct unwind_mem *dst, uint64_t lo,
                     uint64_t hi, bool own)
{
    if (hi <= lo)
        return;
    if (hi - lo > MAX_STACK_COPY)
        hi = lo + MAX_STACK_COPY;
    xgrow(&pl->rg, &pl->cap, pl->n + 1, sizeof *pl->rg);
    xgrow(&pl->dst, &pl->capdst, pl->n + 1, sizeof *pl->dst);
    void *buf = own ? xmalloc(hi - lo) : arena_alloc(s, hi - lo);
    pl->rg[pl->n] = (struct target_range){lo, buf, hi - lo, 0};
    pl->dst[pl->n] = (struct plan_dst){dst, own};
    pl->n++;
}

struct ranges_part {
    struct target *t;
    struct target_range *rg;
    size_t n;
};

static void *ranges_part_main(void *arg)
{
    struct ranges_part *p = arg;
    target_read_ranges(p->t, p->rg, p->n);
    return NULL;
}

/* Starts a second thread that takes no signal: goinspect's handlers run on
 * this one, the one that traces the target. */
static bool start_helper(pthread_t *th, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = pthread_create(th, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

/* Reads the ranges, in two halves on two threads when there are many. */
static void read_ranges(struct target *t, struct target_range *rg, size_t n)
{
    size_t mid = n >= RANGES_SPLIT ? n / 2 : n;
    struct ranges_part second = {t, mid < n ? rg + mid : rg, n - mid};
    pthread_t th;
    bool started = mid < n && start_helper(&th, ranges_part_main, &second);
    target_read_ranges(t, rg, mid);
    if (started)
        pthread_join(th, NULL);
    else if (mid < n)
        target_read_ranges(t, rg + mid, n - mid);
}

static void plan_read(struct snapshot *s, struct plan *pl)
{
    read_ranges(s->t, pl->rg, pl->n);
    for (size_t i = 0; i < pl->n; i++) {
        struct target_range *r = &pl->rg[i];
        s->bytes_copied += r->got;
        /* a short read keeps the readable low part; an own buffer is kept
         * even when empty (it is freed with the snapshot) */
        if (r->got == 0 && !pl->dst[i].own)
            continue;
        *pl->dst[i].mem = (struct unwind_mem){r->addr, r->addr + r->got, r->buf, NULL};
        if (r->got)
            s->stacks_copied++;
    }
    free(pl->rg);
    free(pl->dst);
    memset(pl, 0, sizeof *pl);
}

static bool uses_ctx(const struct snapshot *s, const struct snap_g *g)
{
    int st = (int)g->status;
    return g->readable && !g->error && g->stacklo &&
           (st == s->st_waiting || st == s->st_runnable || st == s->st_syscall ||
            st == s->st_running);
}

/* The thread running g (status running or syscall), if its registers are
 * known and its stack pointer is on g's stack. */
static int running_thread(const struct snapshot *s, const struct snap_g *g)
{
    if (!g->m || !g->stacklo)
        return -1;
    const struct snap_m *m = snap_m_at(s, g->m);
    if (!m || m->thread < 0)
        return -1;
    const struct target_thread *th = &s->t->threads[m->thread];
    if (th->has_regs && th->regs.full && th->regs.rsp >= g->stacklo &&
        th->regs.rsp < g->stackhi)
        return m->thread;
    return -1;
}

/* Whether g is still parked in the wait the pre-copy saw (p, of the same
 * G), whose stack it copied. */
static bool same_wait(const struct snapshot *s, const struct snap_g *g, const struct pre *p)
{
    return (int)g->status == s->st_waiting && (p->stack.data || p->unwound) &&
           p->goid == g->goid && p->waitsince == g->waitsince && p->key == g->park_key;
}

/* Decides where g is unwound from and plans the copy of its stack, unless
 * p (the pre-copy's record of the same G, or NULL) has it; notes the stack
 * top of a goroutine on a thread in gtop (per target thread). */
static void plan_one(struct snapshot *s, struct plan *pl, struct snap_g *g, const struct pre *p,
                     uint64_t *gtop)
{
    int st = (int)g->status;
    if (!g->readable || g->error || g->stale)
        return;
    if (g->stacklo == 0) {
        if (st == s->st_runnable || st == s->st_waiting)
            g->regs_from = REGS_START;
        return;
    }
    if ((st == s->st_running || st == s->st_syscall) && !s->nonstop) {
        int th = running_thread(s, g);
        if (th >= 0) {
            g->regs_from = REGS_THREAD;
            g->thread = th;
            gtop[th] = g->stackhi;
            uint64_t rsp = s->t->threads[th].regs.rsp;
            uint64_t lo = rsp - RED_ZONE < g->stacklo ? g->stacklo : rsp - RED_ZONE;
            plan_add(s, pl, &g->regs->stack, lo, g->stackhi, false);
            return;
        }
    }
    if (st == s->st_running && s->nonstop)
        return;                     /* its saved context is stale */
    if (!uses_ctx(s, g))
        return;
    g->regs_from = REGS_CTX;
    if (p && same_wait(s, g, p)) {
        g->regs->stack = p->stack;
        g->unwound = p->unwound;
        s->stacks_precopied++;
        return;
    }
    plan_add(s, pl, &g->regs->stack, g->regs->ctx[CTX_RSP], g->stackhi, false);
}

/* Plans every goroutine (plan_one), matching each with the pre-copy's keys
 * (by a merge: both are in G address order). */
static void plan_goroutine_stacks(struct snapshot *s, struct plan *pl, struct precopy *pre,
                                  uint64_t *gtop)
{
    for (size_t i = 0; i < s->ngs; i++) {
        struct snap_g *g = &s->gs[i];
        const struct pre *p = NULL;
        if (pre && g->readable && !g->error) {
            while (pre->next < pre->n && pre->v[pre->next].addr < g->addr)
                pre->next++;
            if (pre->next < pre->n && pre->v[pre->next].addr == g->addr)
                p = &pre->v[pre->next];
        }
        plan_one(s, pl, g, p, gtop);
    }
}

/* The part of the stack at sp to copy: from just below sp up to top (the
 * stack top of a goroutine's stack; 0: none) or, at most THREAD_STACK_COPY,
 * the end of the mapping holding sp.  False when no mapping holds it. */
static bool stack_range(const struct snapshot *s, uint64_t sp, uint64_t top, uint64_t *lo,
                        uint64_t *hi)
{
    const struct mapping *mp = procmaps_find(&s->t->maps, sp);
    if (!mp)
        return false;
    *lo = sp - RED_ZONE < mp->start ? mp->start : sp - RED_ZONE;
    *hi = mp->end - sp > THREAD_STACK_COPY ? sp + THREAD_STACK_COPY : mp->end;
    if (top)
        *hi = top;
    return true;
}

/* The stack region of each thread with registers, up to its goroutine's
 * stack top or the end of its mapping (stack_range). */
static void plan_thread_stacks(struct snapshot *s, struct plan *pl, const uint64_t *gtop)
{
    size_t nt = s->t->nthreads;
    s->thread_stacks = xcalloc(nt ? nt : 1, sizeof *s->thread_stacks);
    for (size_t i = 0; i < nt; i++) {
        const struct target_thread *th = &s->t->threads[i];
        if (!th->has_regs)
            continue;
        uint64_t lo, hi;
        if (stack_range(s, th->regs.rsp, gtop[i], &lo, &hi))
            plan_add(s, pl, &s->thread_stacks[i], lo, hi, true);
    }
}

/* The stack top of the goroutine whose stack holds sp, or 0. */
static uint64_t goroutine_top(const struct snapshot *s, uint64_t sp)
{
    for (size_t k = 0; k < s->ngs; k++) {
        const struct snap_g *g = &s->gs[k];
        if (g->readable && !g->error && !g->stale && g->stacklo && sp >= g->stacklo &&
            sp < g->stackhi)
            return g->stackhi;
    }
    return 0;
}

/* For each thread whose copied stack holds the kernel's frame of a signal
 * delivered on an alternate signal stack (sigframe.h): the stack that
 * signal interrupted, copied too and chained after the thread's. */
static void copy_interrupted_stacks(struct snapshot *s)
{
    size_t nt = s->t->nthreads;
    struct plan pl = {0};
    s->interrupted_stacks = xcalloc(nt ? nt : 1, sizeof *s->interrupted_stacks);
    for (size_t i = 0; i < nt; i++) {
        const struct target_thread *th = &s->t->threads[i];
        uint64_t sp = th->has_regs ? sigframe_interrupted_sp(&s->thread_stacks[i], th->regs.rsp)
                                   : 0;
        uint64_t lo, hi;
        if (sp && stack_range(s, sp, goroutine_top(s, sp), &lo, &hi))
            plan_add(s, &pl, &s->interrupted_stacks[i], lo, hi, true);
    }
    plan_read(s, &pl);
    for (size_t i = 0; i < nt; i++)
        if (s->interrupted_stacks[i].data)
            s->thread_stacks[i].next = &s->interrupted_stacks[i];
}

/* Whether g (a record without error) is a goroutine waiting on a stack
 * of its own. */
static bool parked(const struct snapshot *s, const struct snap_g *g)
{
    return g->readable && !g->error && g->stacklo && (int)g->status == s->st_waiting;
}

static bool parked_with_stack(const struct snapshot *s, const struct snap_g *g)
{
    return parked(s, g) && (snap_g_stack(g) || g->unwound);
}

/* Whether the pre-copy copies g's stack: parked, its context saved. */
static bool precopied(const struct snapshot *s, const struct snap_g *g)
{
    return parked(s, g) && g->regs->ctx[CTX_RSP] < g->stackhi;
}

/* The pre-copy's record g as the stop matches a fresh one against it. */
static struct pre pre_of(const struct snap_g *g)
{
    return (struct pre){g->addr, g->goid, g->park_key, g->waitsince,
                        g->regs ? g->regs->stack : (struct unwind_mem){0}, g->unwound};
}

/* The pre-copy's copies of the parked goroutines' stacks, kept. */
static void precopy_stacks(struct snapshot *s, struct gcopy *c)
{
    struct plan pl = {0};
    for (size_t i = 0; i < c->n; i++) {
        struct snap_g *g = &c->gs[i];
        if (precopied(s, g))
            plan_add(s, &pl, &g->regs->stack, g->regs->ctx[CTX_RSP], g->stackhi, false);
    }
    plan_read(s, &pl);
}

/* The gcopy batch hook of the pre-copy with a pre_unwind (arg, the
 * snap_options): the stacks of the parked goroutines of records [from,
 * c->n), read into one buffer and unwound at once.  Those unwound give
 * their registers back and keep the id of their stack; the others keep a
 * copy (in the arena). */
static void precopy_unwind(struct snapshot *s, struct gcopy *c, size_t from,
                           const void *arg)
{
    const struct snap_options *o = arg;
    struct target_range *rg = xmalloc(UNWIND_BATCH * sizeof *rg);
    uint32_t *who = xmalloc(UNWIND_BATCH * sizeof *who);
    uint8_t *buf = NULL;
    size_t bufcap = 0, i = from;
    while (i < c->n) {
        size_t k = 0, bytes = 0;
        for (; i < c->n && k < UNWIND_BATCH && bytes < UNWIND_BATCH_BYTES; i++) {
            const struct snap_g *g = &c->gs[i];
            if (!precopied(s, g))
                continue;
            uint64_t lo = g->regs->ctx[CTX_RSP], len = g->stackhi - lo;
            if (len > MAX_STACK_COPY)
                len = MAX_STACK_COPY;
            who[k] = (uint32_t)i;
            rg[k++] = (struct target_range){lo, NULL, len, 0};
            bytes += len;
        }
        if (bytes > bufcap) {
            free(buf);
            buf = xmalloc(bytes);
            bufcap = bytes;
        }
        for (size_t j = 0, off = 0; j < k; off += rg[j++].len)
            rg[j].buf = buf + off;
        read_ranges(s->t, rg, k);
        for (size_t j = 0; j < k; j++) {
            struct snap_g *g = &c->gs[who[j]];
            const struct target_range *r = &rg[j];
            s->bytes_copied += r->got;
            if (r->got == 0)
                continue;
            struct unwind_mem mem = {r->addr, r->addr + r->got, r->buf, NULL};
            uint32_t id = o->pre_unwind(o->pre_unwind_arg, g, &mem);
            if (id != SNAP_NOT_UNWOUND) {
                regs_put(s->pool, g->regs);
                g->regs = NULL;
                g->unwound = id + 1;
            } else {
                g->regs->stack = mem;
                g->regs->stack.data = memcpy(arena_alloc(s, r->got), r->buf, r->got);
            }
        }
    }
    free(buf);
    free(who);
    free(rg);
}

/* Before the pre-copy reads the Gs: the runtime's state table's words, if
 * it has one (gstate.h), and room to read them again in the stop. */
static void precopy_states(struct snapshot *s, const struct layout *l, struct precopy *pre)
{
    uint64_t n;
    if (s->t->frozen || !gstate_open(&pre->gt, s->t, s->d) ||
        !target_read_u64(s->t, l->allglen->addr, &n) || n == 0 || n > MAX_G)
        return;
    pre->state = xmalloc(n * sizeof *pre->state);
    if (!gstate_read(&pre->gt, s->t, 0, n, pre->state)) {
        free(pre->state);
        pre->state = NULL;
        return;
    }
    pre->nstate = n;
    pre->c.state = pre->state;
    pre->c.nstate = n;
    pre->state_now = xmalloc(TABLE_PIECE * sizeof *pre->state_now);
    memset(pre->state_now, 0, TABLE_PIECE * sizeof *pre->state_now);
    pre->again = xcalloc((n + 63) / 64, sizeof *pre->again);
}

/* In the stop: the Gs whose state words changed since the pre-copy, or
 * that it marked, in address order; false (read them all) when the words
 * cannot be read. */
static bool states_changed(struct snapshot *s, struct precopy *pre, struct bulk_item **out,
                           size_t *nout)
{
    for (size_t k = 0; k < pre->nstate; k += TABLE_PIECE) {
        size_t n = pre->nstate - k < TABLE_PIECE ? pre->nstate - k : TABLE_PIECE;
        if (!gstate_read(&pre->gt, s->t, k, n, pre->state_now))
            return false;
        for (size_t i = 0; i < n; i++)
            if (pre->state_now[i] != pre->state[k + i] || (pre->state[k + i] & GSTATE_UNSETTLED))
                pre->again[(k + i) / 64] |= 1ull << ((k + i) % 64);
    }
    s->bytes_copied += pre->nstate * 8;
    size_t cap = 0, n = 0;
    struct bulk_item *v = NULL;
    for (size_t i = 0; i < pre->c.nitems; i++) {
        uint32_t idx = pre->c.items[i].idx;
        if (idx < pre->nstate && !((pre->again[idx / 64] >> (idx % 64)) & 1))
            continue;
        xgrow(&v, &cap, n + 1, sizeof *v);
        v[n++] = pre->c.items[i];
    }
    *out = v;
    *nout = n;
    return true;
}

/* Before the stop (a live target): copies the G table into records kept
 * for the stop, with their keys, and the stacks of the parked goroutines
 * into their records. */
static void precopy_records(struct snapshot *s, const struct layout *l,
                            const struct snap_options *o, struct precopy *pre)
{
    struct gcopy *c = &pre->c;
    c->keep = true;
    pre->full = true;
    size_t copied = s->stacks_copied;
    if (o->pre_unwind) {
        c->batch = precopy_unwind;
        c->batch_arg = o;
    }
    precopy_states(s, l, pre);
    int rc = read_gtable(s, l, c, false, NULL);
    c->batch = NULL;
    c->state = NULL;
    if (pre->state && c->nptrs != pre->nstate) {
        free(pre->state);           /* the table grew meanwhile: not used */
        pre->state = NULL;
    }
    if (rc < 0)
        return;                     /* the stop's copy says what is wrong */
    /* room for the Gs read again in the stop, touched now (no page fault then) */
    if (c->cap < c->n + FRESH_SLACK) {
        c->gs = xrealloc(c->gs, (c->n + FRESH_SLACK) * sizeof *c->gs);
        c->cap = c->n + FRESH_SLACK;
    }
    memset(c->gs + c->n, 0, (c->cap - c->n) * sizeof *c->gs);
    if (!o->pre_unwind)
        precopy_stacks(s, c);
    s->stacks_copied = copied;      /* counted when used */
    size_t cap = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct snap_g *g = &c->gs[i];
        if (parked_with_stack(s, g)) {
            g->regs_from = REGS_CTX;
            pre->nparked++;
            continue;
        }
        xgrow(&pre->todo, &cap, pre->ntodo + 1, sizeof *pre->todo);
        pre->todo[pre->ntodo++] = (uint32_t)i;
    }
    pre->nold = c->n;
    pre->ptrs_now = xmalloc(TABLE_PIECE * 8);
    memset(pre->ptrs_now, 0, TABLE_PIECE * 8);
    pre->stale = xmalloc(FRESH_SLACK * sizeof *pre->stale);
    memset(pre->stale, 0, FRESH_SLACK * sizeof *pre->stale);
}

/* The pre-copy's keys from its records, for the stop's full copy. */
static void precopy_keys(struct snapshot *s, struct precopy *pre)
{
    size_t cap = 0;
    for (size_t i = 0; i < pre->nold; i++) {
        const struct snap_g *g = &pre->c.gs[i];
        if (!parked(s, g))
            continue;
        xgrow(&pre->v, &cap, pre->n + 1, sizeof *pre->v);
        pre->v[pre->n++] = pre_of(g);
    }
}

/* The pre-copy's record of the G at addr, or NULL (its records after the
 * bad table entries are in address order). */
static struct snap_g *old_record(struct snapshot *s, struct precopy *pre, uint64_t addr)
{
    return snap_find_g(s->gs, pre->c.nhead, pre->nold, addr);
}

struct recheck {
    struct snapshot *s;
    const struct layout *l;
    struct precopy *pre;
    size_t next;                /* cursor in the pre-copy's keys */
    size_t stale_cap;
};

/* One G read in the stop: nothing when its bytes hash as the pre-copy's;
 * else its fresh record is appended and the pre-copy's marked stale. */
static void recheck_item(void *ctx, const struct bulk_item *it, const uint8_t *bytes,
                         const char *why)
{
    struct recheck *r = ctx;
    struct precopy *pre = r->pre;
    struct gcopy *c = &pre->c;
    while (r->next < pre->nold && c->keys[r->next].addr < it->addr)
        r->next++;
    bool had = r->next < pre->nold && c->keys[r->next].addr == it->addr;
    if (had && bytes && c->keys[r->next].hash == g_hash(r->l, bytes))
        return;
    if (had) {
        struct snap_g *g = &c->gs[r->next];
        if (g->regs_from == REGS_CTX && parked_with_stack(r->s, g))
            pre->nparked--;
        g->stale = true;
        xgrow(&pre->stale, &r->stale_cap, pre->nstale + 1, sizeof *pre->stale);
        pre->stale[pre->nstale++] = (uint32_t)r->next;
    }
    if (bytes)
        decode_g(r->s, r->l, c, it->addr, bytes, it->idx);
    else
        bad_entry(c, it->addr, it->idx, why);
}

/* One part of the stop's hashing: items [first, last) of the pre-copy's
 * table, read and hashed; those that changed (or were dead and are not,
 * or cannot be read) are listed, by index.  Reads only shared state. */
struct hash_part {
    struct snapshot *s;
    const struct layout *l;
    const struct precopy *pre;
    const struct bulk_item *v;  /* the Gs to read: the table's items, or some of them */
    size_t first, last, next;   /* next: cursor in the pre-copy's keys */
    uint32_t *changed;
    size_t nchanged, cap;
    size_t bytes;
};

static void hash_item(void *ctx, const struct bulk_item *it, const uint8_t *bytes, const char *why)
{
    (void)why;
    struct hash_part *h = ctx;
    const struct precopy *pre = h->pre;
    const struct gkey *k = pre->c.keys;
    while (h->next < pre->nold && k[h->next].addr < it->addr)
        h->next++;
    bool had = h->next < pre->nold && k[h->next].addr == it->addr;
    if (bytes && had && k[h->next].hash == g_hash(h->l, bytes))
        return;
    if (bytes && !had) {
        uint32_t st = (uint32_t)rt_get_fit(bytes, h->l->g.status);
        if (st < h->s->nstatus && !status_live(h->s, st))
            return;                 /* dead then, dead now */
    }
    xgrow(&h->changed, &h->cap, h->nchanged + 1, sizeof *h->changed);
    h->changed[h->nchanged++] = (uint32_t)(it - h->v);
}

static void hash_part_run(struct hash_part *h)
{
    const struct precopy *pre = h->pre;
    size_t nhead = pre->c.nhead;
    h->next = nhead;                /* the first key at or after the part's first G */
    if (h->first < h->last && h->v[h->first].addr > 0)
        h->next += bsearch_upto(pre->c.keys + nhead, pre->nold - nhead, sizeof *pre->c.keys,
                                offsetof(struct gkey, addr), h->v[h->first].addr - 1);
    if (h->first < h->last)         /* (v is NULL when there are none) */
        h->bytes = bulk_read(h->s->t, h->v + h->first, h->last - h->first, hash_item, h);
}

static void *hash_part_main(void *arg)
{
    hash_part_run(arg);
    return NULL;
}

/* Reads and hashes the Gs v[0, n) (in address order), on two threads for
 * many; returns those that changed, in address order. */
static struct bulk_item *changed_items(struct snapshot *s, const struct layout *l,
                                       const struct precopy *pre, const struct bulk_item *v0,
                                       size_t n, size_t *nout)
{
    size_t mid = n >= HASH_SPLIT ? n / 2 : n;
    struct hash_part h[2] = {{s, l, pre, v0, 0, mid, 0, NULL, 0, 0, 0},
                             {s, l, pre, v0, mid, n, 0, NULL, 0, 0, 0}};
    pthread_t th;
    bool started = mid < n && start_helper(&th, hash_part_main, &h[1]);
    hash_part_run(&h[0]);
    if (started)
        pthread_join(th, NULL);
    else if (mid < n)
        hash_part_run(&h[1]);
    size_t nc = h[0].nchanged + h[1].nchanged, k = 0;
    struct bulk_item *v = xmalloc((nc ? nc : 1) * sizeof *v);
    for (int p = 0; p < 2; p++) {
        for (size_t i = 0; i < h[p].nchanged; i++)
            v[k++] = v0[h[p].changed[i]];
        free(h[p].changed);
        s->bytes_copied += h[p].bytes;
    }
    *nout = nc;
    return v;
}

/* Whether the table of G pointers reads as the pre-copy read it. */
static bool table_as_before(struct snapshot *s, const struct layout *l, struct precopy *pre)
{
    struct gcopy *c = &pre->c;
    uint64_t allgs, len;
    if (!target_read_u64(s->t, l->allgs->addr, &allgs) ||
        !target_read_u64(s->t, l->allglen->addr, &len) || allgs != c->allgs ||
        len != c->allglen)
        return false;
    for (size_t k = 0; k < c->nptrs; k += TABLE_PIECE) {
        size_t n = c->nptrs - k < TABLE_PIECE ? c->nptrs - k : TABLE_PIECE;
        if (bulk_read_words(s->t, allgs + k * 8, pre->ptrs_now, n) != n ||
            memcmp(pre->ptrs_now, c->ptrs + k, n * 8) != 0)
            return false;
    }
    s->bytes_copied += c->nptrs * 8 + 16;
    return true;
}

/* In the stop, after precopy_records: when the table itself is as the
 * pre-copy read it, reads every G again, keeps the pre-copy's record of
 * each G whose bytes did not change, and decodes the others (appended
 * after the pre-copy's records, the records they replace marked stale);
 * in a core nothing changed.  False (nothing done) when the table
 * differs: it is then copied whole. */
static bool gtable_fast(struct snapshot *s, const struct layout *l, struct precopy *pre)
{
    struct gcopy *c = &pre->c;
    if (!c->gs || c->troubled || (!s->t->frozen && !table_as_before(s, l, pre)))
        return false;
    c->keep = false;                /* no key for the fresh records */
    c->nbad = 0;
    if (!s->t->frozen) {            /* a core: nothing moved since the pre-copy */
        trace_mark("read the table again");
        size_t nchanged, nsome = 0;
        struct bulk_item *some = NULL, *changed;
        if (pre->state && states_changed(s, pre, &some, &nsome)) {
            trace_mark("read the state table");
            changed = changed_items(s, l, pre, some, nsome, &nchanged);
            s->gs_reread = nsome;
            free(some);
        } else {
            changed = changed_items(s, l, pre, c->items, c->nitems, &nchanged);
            s->gs_reread = c->nitems;
        }
        trace_mark("read and hash the Gs");
        struct recheck r = {s, l, pre, c->nhead, FRESH_SLACK};
        s->bytes_copied += bulk_read(s->t, changed, nchanged, recheck_item, &r);
        free(changed);
    }
    s->nhead = c->nhead;
    s->gs = c->gs;
    s->ngs = c->n;
    s->allglen = c->allglen;
    c->gs = NULL;
    c->n = c->cap = 0;
    pre->fast = true;
    return true;
}

/* The stop's planning after gtable_fast: the pre-copy's records that are
 * not parked with their stack, then the fresh ones (which keep the stack
 * the pre-copy made when still in the same wait). */
static void plan_fast(struct snapshot *s, struct plan *pl, struct precopy *pre, uint64_t *gtop)
{
    for (size_t k = 0; k < pre->ntodo; k++)
        plan_one(s, pl, &s->gs[pre->todo[k]], NULL, gtop);
    for (size_t i = pre->nold; i < s->ngs; i++) {
        struct snap_g *g = &s->gs[i];
        const struct snap_g *o = old_record(s, pre, g->addr);
        struct pre p, *pp = NULL;
        if (o && parked_with_stack(s, o)) {
            p = pre_of(o);
            pp = &p;
        }
        plan_one(s, pl, g, pp, gtop);
    }
    s->stacks_precopied += pre->nparked;
}

/* After the release: the fresh records take the place of those they
 * replace (in place when they are the same Gs, else by a merge in address
 * order). */
static void finish_fast(struct snapshot *s, struct precopy *pre)
{
    size_t nold = pre->nold, nfresh = s->ngs - nold;
    bool in_place = nfresh == pre->nstale;
    for (size_t k = 0; in_place && k < nfresh; k++)
        in_place = s->gs[pre->stale[k]].addr == s->gs[nold + k].addr;
    if (in_place) {
        for (size_t k = 0; k < nfresh; k++) {
            free(s->gs[pre->stale[k]].error);
            regs_put(s->pool, s->gs[pre->stale[k]].regs);
            s->gs[pre->stale[k]] = s->gs[nold + k];
        }
        s->ngs = nold;
        return;
    }
    size_t want = s->ngs - pre->nstale, n = 0, i = 0, j = nold;
    struct snap_g *v = xmalloc((want ? want : 1) * sizeof *v);
    for (; i < pre->c.nhead; i++)
        v[n++] = s->gs[i];
    while (i < nold || j < s->ngs) {
        if (i < nold && s->gs[i].stale) {
            regs_put(s->pool, s->gs[i].regs);
            free(s->gs[i++].error);
            continue;
        }
        if (j >= s->ngs || (i < nold && s->gs[i].addr <= s->gs[j].addr))
            v[n++] = s->gs[i++];
        else
            v[n++] = s->gs[j++];
    }
    free(s->gs);
    s->gs = v;
    s->ngs = n;
}

static void precopy_free(struct precopy *pre)
{
    free(pre->state);
    free(pre->state_now);
    free(pre->again);
    free(pre->v);
    gcopy_free(&pre->c);
    free(pre->todo);
    free(pre->ptrs_now);
    free(pre->stale);
}

/* ---- Taking the snapshot --------------------------------------------------------- */

static void states_init(struct snapshot *s)
{
    const struct rt_enum *e = rtdesc_enum(s->d, "gstatus");
    s->nstatus = e ? e->nvalues : 0;
    s->st_idle = rtdesc_enum_value(s->d, "gstatus", "idle");
    s->st_runnable = rtdesc_enum_value(s->d, "gstatus", "runnable");
    s->st_running = rtdesc_enum_value(s->d, "gstatus", "running");
    s->st_syscall = rtdesc_enum_value(s->d, "gstatus", "syscall");
    s->st_waiting = rtdesc_enum_value(s->d, "gstatus", "waiting");
    s->st_dead = rtdesc_enum_value(s->d, "gstatus", "dead");
}

static void adopt(struct snapshot *s, struct gcopy *c)
{
    s->nhead = c->nhead;
    s->gs = c->gs;
    s->ngs = c->n;
    s->allglen = c->allglen;
    memset(c, 0, sizeof *c);
}

/* Everything but the G table, and then the stacks (unless the command
 * shows none). */
static void copy_rest(struct snapshot *s, const struct layout *l, const struct snap_options *o,
                      struct precopy *pre)
{
    read_ms(s, l);
    read_ps(s, l);
    read_sched(s, l);
    if (o->goroutines != SNAP_G_STACKS)
        return;
    struct plan pl = {0};
    size_t nt = s->t->nthreads;
    uint64_t *gtop = xcalloc(nt ? nt : 1, sizeof *gtop);    /* stack top of its goroutine */
    if (pre && pre->fast)
        plan_fast(s, &pl, pre, gtop);
    else
        plan_goroutine_stacks(s, &pl, pre, gtop);
    plan_thread_stacks(s, &pl, gtop);
    free(gtop);
    plan_read(s, &pl);
    copy_interrupted_stacks(s);
}

static int take_nonstop(struct snapshot *s, const struct layout *l, const struct snap_options *o,
                        struct fail *f)
{
    if (target_threads(s->t, f) < 0 || target_mappings(s->t, f) < 0)
        return -1;
    struct gcopy c;
    memset(&c, 0, sizeof c);
    bool stable = o->goroutines == SNAP_G_NONE;
    for (s->tries = 1; s->tries <= NONSTOP_TRIES && !stable; s->tries++) {
        uint64_t g1 = 0, g2 = 1;
        if (!target_read_u64(s->t, s->d->generation_addr, &g1)) {
            gcopy_free(&c);     /* the target went away after an earlier try */
            return fail_set(f, "the runtime descriptor's generation cannot be read");
        }
        if (g1 & 1) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        gcopy_free(&c);
        if (read_gtable(s, l, &c, false, f) < 0)
            return -1;
        target_read_u64(s->t, s->d->generation_addr, &g2);
        if (g1 == g2) {
            stable = true;
            break;
        }
    }
    if (s->tries > NONSTOP_TRIES)
        s->tries = NONSTOP_TRIES;
    if (!c.gs && o->goroutines != SNAP_G_NONE && read_gtable(s, l, &c, false, f) < 0)
        return -1;
    s->inconsistent = !stable;
    adopt(s, &c);
    s->taken_ns = mono_ns();
    copy_rest(s, l, o, NULL);
    heapsnap_copy(s, o->heap);
    if (o->memprof)
        memprofsnap_copy(s);        /* its list is made to be read while it grows */
    return 0;
}

static int take_stopped(struct snapshot *s, const struct layout *l, const struct snap_options *o,
                        struct fail *f)
{
    struct precopy pre;
    memset(&pre, 0, sizeof pre);
    trace_mark("before the snapshot");
    uint64_t ngs = 0;
    if (o->goroutines == SNAP_G_STACKS && !o->no_precopy) {
        precopy_records(s, l, o, &pre);
    } else if (o->goroutines != SNAP_G_NONE && target_read_u64(s->t, l->allglen->addr, &ngs) &&
               ngs > MAX_G) {
        ngs = 0;                    /* the copy says what is wrong with it */
    }
    /* The records of the stopped copy, allocated and touched now so that
     * no page fault happens during the pause. */
    struct gcopy c;
    memset(&c, 0, sizeof c);
    if (!pre.full) {    /* with it, the pre-copy's records are the stop's */
        c.cap = ngs + 1024;
        c.gs = xmalloc(c.cap * sizeof *c.gs);
        memset(c.gs, 0, c.cap * sizeof *c.gs);
    }
    if (o->goroutines != SNAP_G_NONE)
        regs_reserve(s, pre.full ? FRESH_SLACK : ngs + 1024);
    heapsnap_prepare(s, o->heap);
    trace_mark("pre-copy");
    if (target_stop(s->t, f) < 0) {
        precopy_free(&pre);
        gcopy_free(&c);
        return -1;
    }
    int rc = 0;
    s->taken_ns = mono_ns();
    if (target_mappings(s->t, f) < 0) {
        rc = -1;
    } else {
        trace_mark("stop");
        if (pre.full && !gtable_fast(s, l, &pre))
            precopy_keys(s, &pre);
        if (!pre.fast)
            rc = o->goroutines == SNAP_G_NONE ? 0 : read_gtable(s, l, &c, true, f);
        trace_mark("copy the G table");
        if (rc == 0) {
            if (!pre.fast)
                adopt(s, &c);
            copy_rest(s, l, o, &pre);
        }
        trace_mark("copy Ms, Ps, stacks");
        if (rc == 0) {
            heapsnap_copy(s, o->heap);
            trace_mark("copy the heap");
            if (o->memprof)
                memprofsnap_copy(s);
            trace_mark("copy the allocation profile");
        }
    }
    target_release(s->t);
    trace_mark("release");
    s->pause_ns = s->t->pause_ns;
    s->stop_rounds = s->t->stop_rounds;
    if (pre.fast)
        finish_fast(s, &pre);
    precopy_free(&pre);
    gcopy_free(&c);
    if (s->t->exited)
        return fail_set(f, "%s exited during the snapshot", s->t->what);
    return rc;
}

/* When a frozen target (a core) was dumped, on its monotonic clock (waits
 * and ages are measured to then): its own record of it, else the wall
 * time of the dump moved onto the monotonic clock by the runtime's start,
 * which the runtime records on both. */
static int64_t frozen_time(struct snapshot *s, const struct layout *l)
{
    int64_t wall0;
    if (s->t->dumped_mono_ns)
        return s->t->dumped_mono_ns;
    if (s->t->dumped_wall_ns && s->runtime_start && l->runtime_start_wall &&
        target_read_full(s->t, l->runtime_start_wall->addr, &wall0, 8) && wall0 > 0)
        return s->runtime_start + (s->t->dumped_wall_ns - wall0);
    return s->taken_ns;
}

int snapshot_take(struct snapshot *s, struct target *t, const struct rtdesc *d,
                  const struct snap_options *o, struct fail *f)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->d = d;
    s->nonstop = o->nonstop;
    s->arena = xcalloc(1, sizeof *s->arena);
    s->pool = xcalloc(1, sizeof *s->pool);
    states_init(s);
    struct layout l;
    if (layout_init(&l, d, f) < 0) {
        snapshot_free(s);       /* its arena and pool */
        return -1;
    }
    struct snap_options oo = *o;
    if (t->frozen && !o->pre_unwind)
        oo.no_precopy = true;   /* nothing changes while it is copied */
    int rc = o->nonstop ? take_nonstop(s, &l, &oo, f) : take_stopped(s, &l, &oo, f);
    if (rc == 0 && t->frozen) {
        s->taken_ns = frozen_time(s, &l);
        /* a core has no stop: the stacks its pre-copy read are copies like any */
        s->stacks_copied += s->stacks_precopied;
        s->stacks_precopied = 0;
    }
    if (rc < 0)
        snapshot_free(s);
    else if (s->heap)
        heapsnap_check(s);
    return rc;
}

struct snap_g *snap_find_g(struct snap_g *gs, size_t from, size_t to, uint64_t addr)
{
    size_t k = from + bsearch_upto(gs + from, to - from, sizeof *gs,
                                   offsetof(struct snap_g, addr), addr);
    return k > from && gs[k - 1].addr == addr ? &gs[k - 1] : NULL;
}

const struct snap_m *snap_m_at(const struct snapshot *s, uint64_t addr)
{
    uint32_t k;
    return u64map_get(&s->m_at, addr, &k) ? &s->ms[k] : NULL;
}

const struct snap_p *snap_p_at(const struct snapshot *s, uint64_t addr)
{
    uint32_t k;
    return u64map_get(&s->p_at, addr, &k) ? &s->ps[k] : NULL;
}

const struct snap_m *snap_m_of_thread(const struct snapshot *s, size_t i)
{
    return s->thread_m && i < s->t->nthreads && s->thread_m[i] >= 0 ? &s->ms[s->thread_m[i]]
                                                                     : NULL;
}

void snapshot_drop_stacks(struct snapshot *s)
{
    for (size_t i = 0; i < s->ngs; i++)
        if (s->gs[i].regs)
            s->gs[i].regs->stack = (struct unwind_mem){0, 0, NULL, NULL};
    arena_free(s->arena);
}

void snapshot_free(struct snapshot *s)
{
    for (size_t i = 0; i < s->ngs; i++)
        free(s->gs[i].error);
    free(s->gs);
    free(s->ms);
    free(s->ps);
    free(s->thread_m);
    u64map_free(&s->m_at);
    u64map_free(&s->p_at);
    for (size_t i = 0; s->thread_stacks && i < s->t->nthreads; i++)
        free((void *)s->thread_stacks[i].data);
    free(s->thread_stacks);
    for (size_t i = 0; s->interrupted_stacks && i < s->t->nthreads; i++)
        free((void *)s->interrupted_stacks[i].data);
    free(s->interrupted_stacks);
    for (size_t i = 0; i < s->nwarnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    arena_free(s->arena);
    free(s->arena);
    pool_free(s->pool);
    free(s->pool);
    if (s->heap)
        heapsnap_free(s->heap);
    free(s->heap);
    if (s->memprof)
        memprofsnap_free(s->memprof);
    free(s->memprof);
    struct target *t = s->t;
    const struct rtdesc *d = s->d;
    memset(s, 0, sizeof *s);
    s->t = t;
    s->d = d;
}

const char *snap_status_name(const struct snapshot *s, uint32_t status)
{
    const char *n = rtdesc_enum_name(s->d, "gstatus", status);
    return n ? n : "?";
}

const char *snap_waitreason_name(const struct snapshot *s, uint32_t reason)
{
    const char *n = rtdesc_enum_name(s->d, "waitreason", reason);
    return n ? n : "";
}
