/*
 * goroutines.c — unwinding, interning and viewing stacks (goroutines.h).
 */
#include "goroutines.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"

static uint64_t stack_hash(const uint64_t *pcs, int n, int stop)
{
    uint64_t h = u64_hash((uint64_t)n * 0x9e3779b97f4a7c15ull ^ (uint64_t)stop);
    for (int i = 0; i < n; i++)
        h = u64_hash(h ^ pcs[i]);
    return h;
}

static uint32_t intern(struct model *m, const uint64_t *pcs, int n, int stop)
{
    uint64_t h = stack_hash(pcs, n, stop);
    uint32_t id;
    bool chained = u64map_get(&m->by_hash, h, &id);
    for (uint32_t k = chained ? id : NO_STACK; k != NO_STACK; k = m->stacks[k].next) {
        const struct gstack *st = &m->stacks[k];
        if (st->hash == h && st->n == (uint32_t)n && st->stop == stop &&
            (n == 0 || memcmp(m->pcs + st->first, pcs, (size_t)n * sizeof *pcs) == 0))
            return k;
    }
    if (n > 0) {            /* m->pcs is NULL until a stack has frames */
        xgrow(&m->pcs, &m->cappcs, m->npcs + (size_t)n, sizeof *m->pcs);
        memcpy(m->pcs + m->npcs, pcs, (size_t)n * sizeof *pcs);
    }
    xgrow(&m->stacks, &m->capstacks, m->nstacks + 1, sizeof *m->stacks);
    uint32_t nid = (uint32_t)m->nstacks++;
    m->stacks[nid] = (struct gstack){(uint32_t)m->npcs, (uint32_t)n, (uint8_t)stop,
                                     chained ? id : NO_STACK, h};
    m->npcs += (size_t)n;
    u64map_put(&m->by_hash, h, nid);
    size_t old = m->capinfo;
    xgrow(&m->info, &m->capinfo, m->nstacks, sizeof *m->info);
    memset(m->info + old, 0, (m->capinfo - old) * sizeof *m->info);
    return nid;
}

void cfi_regs_from_ctx(const struct snap_g *g, struct cfi_regs *r)
{
    memset(r, 0, sizeof *r);
    if (!g->regs)
        return;
    const uint64_t *ctx = g->regs->ctx;
    r->r[CFI_RSP] = ctx[CTX_RSP];
    r->r[CFI_RA] = ctx[CTX_RIP];
    r->r[CFI_RBP] = ctx[CTX_RBP];
    r->r[CFI_RBX] = ctx[CTX_RBX];
    r->r[CFI_R12] = ctx[CTX_R12];
    r->r[CFI_R13] = ctx[CTX_R13];
    r->r[CFI_R14] = ctx[CTX_R14];
    r->r[CFI_R15] = ctx[CTX_R15];
    r->valid = 1u << CFI_RSP | 1u << CFI_RA | 1u << CFI_RBP | 1u << CFI_RBX | 1u << CFI_R12 |
               1u << CFI_R13 | 1u << CFI_R14 | 1u << CFI_R15;
}

void cfi_regs_from_thread(const struct target_regs *t, struct cfi_regs *r)
{
    memset(r, 0, sizeof *r);
    r->r[CFI_RA] = t->rip;
    r->r[CFI_RSP] = t->rsp;
    r->valid = 1u << CFI_RA | 1u << CFI_RSP;
    r->flags = CFI_PC_EXACT;
    if (!t->full)
        return;
    const uint64_t v[] = {t->rax, t->rdx, t->rcx, t->rbx, t->rsi, t->rdi, t->rbp, t->rsp,
                          t->r8,  t->r9,  t->r10, t->r11, t->r12, t->r13, t->r14, t->r15};
    for (int i = 0; i < 16; i++)
        r->r[i] = v[i];
    r->valid = 0x1ffffu;
}

static int cmp_goid(const void *a, const void *b, void *arg)
{
    const struct snap_g *gs = arg;
    const struct snap_g *x = &gs[*(const uint32_t *)a], *y = &gs[*(const uint32_t *)b];
    if (x->readable != y->readable)
        return x->readable ? -1 : 1;
    if (x->goid != y->goid)
        return (x->goid > y->goid) - (x->goid < y->goid);
    return (x->addr > y->addr) - (x->addr < y->addr);
}

/* m->order: goroutines by id, unreadable entries last (maxid: the
 * largest id of a readable one).  Ids are dense (1 to the last one handed
 * out), so a direct placement usually does it. */
static void sort_by_goid(struct model *m, uint64_t maxid)
{
    const struct snapshot *s = m->s;
    size_t n = s->ngs;
    m->order = xmalloc((n ? n : 1) * sizeof *m->order);
    bool placed = false;
    if (maxid <= 4 * (uint64_t)n + 1024) {
        uint32_t *slot = xmalloc((size_t)(maxid + 1) * sizeof *slot);
        memset(slot, 0xff, (size_t)(maxid + 1) * sizeof *slot);
        placed = true;
        for (size_t i = 0; i < n && placed; i++) {
            const struct snap_g *g = &s->gs[i];
            if (!g->readable)
                continue;
            if (slot[g->goid] != NO_STACK)
                placed = false;         /* the same id twice: sort for real */
            slot[g->goid] = (uint32_t)i;
        }
        if (placed) {
            size_t k = 0;
            for (uint64_t id = 0; id <= maxid; id++)
                if (slot[id] != NO_STACK)
                    m->order[k++] = slot[id];
            for (size_t i = 0; i < n; i++)
                if (!s->gs[i].readable)
                    m->order[k++] = (uint32_t)i;
        }
        free(slot);
    }
    if (!placed) {
        for (size_t i = 0; i < n; i++)
            m->order[i] = (uint32_t)i;
        qsort_r(m->order, n, sizeof *m->order, cmp_goid, s->gs);
    }
}

void model_init(struct model *m, struct modules *mods)
{
    memset(m, 0, sizeof *m);
    m->mods = mods;
    symcache_init(&m->sc, mods);
    unwinder_init(&m->uw, mods);
    u64map_init(&m->by_hash);
    u64map_init(&m->g_by_addr);
    u64map_init(&m->string_index);
    m->memos = xcalloc(WALK_MEMOS, sizeof *m->memos);
}

/* Unwinds g from its saved context and the stack copy at mem into pcs
 * (and each frame's stack pointer into sps, unless NULL). */
static int unwind_from_ctx(struct model *m, const struct snap_g *g, const struct unwind_mem *mem,
                           uint64_t *pcs, uint64_t *sps, enum unwind_stop *stop)
{
    struct cfi_regs r;
    cfi_regs_from_ctx(g, &r);
    return unwind_stack(&m->uw, &r, mem, pcs, sps, MAX_FRAMES, stop);
}

/* Whether the stack copy at mem has w's return addresses at w's offsets. */
static bool same_returns(const struct walk_memo *w, const struct unwind_mem *mem)
{
    for (uint32_t k = 1; k < w->n; k++) {
        uint64_t v;
        memcpy(&v, mem->data + w->off[k], 8);
        if (v != w->ra[k])
            return false;
    }
    return true;
}

/* Parked goroutines mostly wait where many others do: a walk that went
 * only through frames whose CFA is the stack pointer plus a constant and
 * whose return address is at CFA - 8 (unwinder.last_rsp_ra), and ended at
 * the outermost frame, depends on nothing but its first pc, the length of
 * the copy and the return addresses it loaded, at fixed offsets from the
 * first stack pointer.  Another goroutine with the same three has the
 * same frames: its walk is not done again. */
uint32_t model_unwind_parked(void *arg, const struct snap_g *g, const struct unwind_mem *mem)
{
    struct model *m = arg;
    uint64_t rip = g->regs->ctx[CTX_RIP], len = mem->hi - mem->lo;
    bool memo = mem->lo == g->regs->ctx[CTX_RSP] && !mem->next;
    struct walk_memo *w = &m->memos[u64_hash(rip ^ len * 0x9e3779b97f4a7c15ull) % WALK_MEMOS];
    if (memo && w->valid && w->rip == rip && w->len == len && same_returns(w, mem))
        return w->id;
    uint64_t pcs[MAX_FRAMES], sps[MAX_FRAMES];
    enum unwind_stop stop = UNWIND_END;
    int n = unwind_from_ctx(m, g, mem, pcs, sps, &stop);
    /* a pc in no module may be in one the stop finds mapped: unwound again then */
    if (stop == UNWIND_NO_MODULE || stop == UNWIND_NO_FILE)
        return SNAP_NOT_UNWOUND;
    uint32_t id = intern(m, pcs, n, stop);
    memo = memo && stop == UNWIND_END && m->uw.last_rsp_ra && n >= 1 && n <= WALK_MEMO_FRAMES;
    w->valid = false;
    for (int k = 1; memo && k < n; k++) {
        uint64_t at = sps[k] - 8 - mem->lo;     /* where frame k's pc was loaded */
        memo = sps[k] >= mem->lo + 8 && at + 8 <= len && !(pcs[k] & (PC_EXACT | PC_SIGNAL));
        w->off[k] = (uint32_t)at;
        w->ra[k] = pcs[k];
    }
    if (memo) {
        w->rip = rip;
        w->len = len;
        w->id = id;
        w->n = (uint32_t)n;
        w->valid = true;
    }
    return id;
}

void model_build(struct model *m, struct snapshot *s)
{
    m->s = s;
    /* the rows cached before the stop may name modules it no longer sees */
    unwinder_free(&m->uw);
    unwinder_init(&m->uw, m->mods);
    uint64_t *pcs = xmalloc(MAX_FRAMES * sizeof *pcs), maxid = 0;
    m->g_stack = xmalloc((s->ngs ? s->ngs : 1) * sizeof *m->g_stack);
    /* the records after the bad table entries are in address order: a G is
     * found by a binary search then, else by a map */
    m->by_addr_sorted = true;
    for (size_t i = 0; i < s->ngs; i++) {
        const struct snap_g *g = &s->gs[i];
        struct cfi_regs r;
        enum unwind_stop stop = UNWIND_END;
        int n = 0;
        m->g_stack[i] = NO_STACK;
        if (g->readable && g->goid > maxid)
            maxid = g->goid;
        if (i > s->nhead && s->gs[i - 1].addr >= g->addr)
            m->by_addr_sorted = false;
        switch (g->regs_from) {
        case REGS_START:
            pcs[0] = g->startpc | PC_EXACT;
            n = 1;
            break;
        case REGS_CTX:
            if (g->unwound) {
                m->g_stack[i] = g->unwound - 1;
                continue;
            }
            if (!snap_g_stack(g))
                continue;
            n = unwind_from_ctx(m, g, snap_g_stack(g), pcs, NULL, &stop);
            break;
        case REGS_THREAD:
            if (!snap_g_stack(g))
                continue;
            cfi_regs_from_thread(&s->t->threads[g->thread].regs, &r);
            n = unwind_stack(&m->uw, &r, snap_g_stack(g), pcs, NULL, MAX_FRAMES, &stop);
            break;
        default:
            continue;
        }
        m->g_stack[i] = intern(m, pcs, n, stop);
    }
    m->thread_stack = xmalloc((s->t->nthreads ? s->t->nthreads : 1) * sizeof *m->thread_stack);
    for (size_t i = 0; i < s->t->nthreads; i++)
        m->thread_stack[i] = NOT_UNWOUND;
    free(pcs);
    sort_by_goid(m, maxid);
    for (size_t i = 0; i < s->ngs && !m->by_addr_sorted; i++)
        if (s->gs[i].readable)
            u64map_put(&m->g_by_addr, s->gs[i].addr, (uint32_t)i);
}

uint32_t model_thread_stack(struct model *m, size_t i)
{
    const struct snapshot *s = m->s;
    if (i >= s->t->nthreads)
        return NO_STACK;
    if (m->thread_stack[i] != NOT_UNWOUND)
        return m->thread_stack[i];
    const struct target_thread *th = &s->t->threads[i];
    m->thread_stack[i] = NO_STACK;
    if (!th->has_regs)
        return NO_STACK;
    struct cfi_regs r;
    enum unwind_stop stop = UNWIND_END;
    cfi_regs_from_thread(&th->regs, &r);
    struct unwind_mem none = {0, 0, NULL, NULL};
    const struct unwind_mem *mem = s->thread_stacks && s->thread_stacks[i].data
                                       ? &s->thread_stacks[i] : &none;
    uint64_t *pcs = xmalloc(MAX_FRAMES * sizeof *pcs);
    int n = unwind_stack(&m->uw, &r, mem, pcs, NULL, MAX_FRAMES, &stop);
    m->thread_stack[i] = intern(m, pcs, n, stop);
    free(pcs);
    return m->thread_stack[i];
}

void model_free(struct model *m)
{
    symcache_free(&m->sc);
    unwinder_free(&m->uw);
    u64map_free(&m->by_hash);
    u64map_free(&m->g_by_addr);
    free(m->pcs);
    free(m->stacks);
    free(m->g_stack);
    free(m->thread_stack);
    free(m->order);
    free(m->info);
    free(m->match_text);
    free(m->memos);
    for (size_t i = 0; i < m->nstrings; i++)
        free(m->strings[i]);
    free(m->strings);
    u64map_free(&m->string_index);
    memset(m, 0, sizeof *m);
}

const struct sym_frame *model_pc_syms(struct model *m, uint64_t v, uint32_t *n)
{
    if (v & PC_SIGNAL) {
        *n = 1;
        return symcache_signal(&m->sc, pc_of(v));
    }
    return symcache_lookup(&m->sc, pc_lookup(v), n);
}

size_t model_frames(struct model *m, uint32_t stack, struct xframe **out, size_t *cap)
{
    if (stack == NO_STACK || stack >= m->nstacks)
        return 0;
    const struct gstack *st = &m->stacks[stack];
    size_t n = 0;
    for (uint32_t i = 0; i < st->n; i++) {
        uint64_t v = m->pcs[st->first + i];
        uint32_t k;
        const struct sym_frame *sf = model_pc_syms(m, v, &k);
        xgrow(out, cap, n + k, sizeof **out);
        for (uint32_t j = 0; j < k; j++)
            (*out)[n++] = xframe_of(v, &sf[j]);
    }
    return n;
}

static bool system_frame(const struct model *m, const struct xframe *f)
{
    return f->sym.module != SYM_NO_MODULE && m->mods->v[f->sym.module].system;
}

static void stack_info(struct model *m, uint32_t stack)
{
    struct stackinfo *in = &m->info[stack];
    if (in->done)
        return;
    struct xframe *fr = NULL;
    size_t cap = 0, n = model_frames(m, stack, &fr, &cap);
    in->done = true;
    in->match = -1;
    in->has_frames = n > 0;
    if (n) {
        /* the first frame outside the runtime and the system libraries;
         * else the first outside the runtime; else the innermost */
        size_t user = n;
        for (size_t i = 0; i < n && user == n; i++)
            if (!in_runtime_text(m->mods, fr[i].pc - !fr[i].exact) && !system_frame(m, &fr[i]) &&
                !fr[i].signal)
                user = i;
        for (size_t i = 0; i < n && user == n; i++)
            if (!in_runtime_text(m->mods, fr[i].pc - !fr[i].exact))
                user = i;
        in->top = fr[0];
        in->user = fr[user == n ? 0 : user];
    }
    free(fr);
}

bool model_top_user(struct model *m, uint32_t stack, struct xframe *top, struct xframe *user)
{
    if (stack == NO_STACK || stack >= m->nstacks)
        return false;
    stack_info(m, stack);
    const struct stackinfo *in = &m->info[stack];
    if (!in->has_frames)
        return false;
    *top = in->top;
    *user = in->user;
    return true;
}

uint32_t model_folded_stack(struct model *m, uint32_t stack)
{
    if (stack == NO_STACK || stack >= m->nstacks)
        return stack;
    if (m->info[stack].folded_done)
        return m->info[stack].folded;
    const struct gstack st = m->stacks[stack];
    uint64_t *pcs = xmalloc((st.n ? st.n : 1) * sizeof *pcs);
    uint32_t n = 0;
    for (uint32_t i = 0; i < st.n; i++) {
        uint64_t v = m->pcs[st.first + i];
        if (!in_runtime_text(m->mods, pc_lookup(v)))
            pcs[n++] = v;
    }
    /* intern may move m->info */
    uint32_t folded = n == st.n || n == 0 ? stack : intern(m, pcs, (int)n, st.stop);
    free(pcs);
    m->info[stack].folded_done = true;
    m->info[stack].folded = folded;
    return folded;
}

bool model_created_by(struct model *m, const struct snap_g *g, struct xframe *out)
{
    if (!g->readable || g->parentgoid == 0 || g->gopc == 0)
        return false;
    uint32_t k;
    const struct sym_frame *sf = symcache_lookup(&m->sc, g->gopc - 1, &k);
    *out = xframe_of(g->gopc, &sf[0]);
    return true;
}

const struct snap_g *model_find_goid(const struct model *m, uint64_t goid)
{
    size_t lo = 0, hi = m->s->ngs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct snap_g *g = &m->s->gs[m->order[mid]];
        if (g->readable && g->goid < goid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->s->ngs) {
        const struct snap_g *g = &m->s->gs[m->order[lo]];
        if (g->readable && g->goid == goid)
            return g;
    }
    return NULL;
}

const struct snap_g *model_g_at(const struct model *m, uint64_t addr)
{
    const struct snapshot *s = m->s;
    if (!m->by_addr_sorted) {
        uint32_t i;
        return u64map_get(&m->g_by_addr, addr, &i) ? &s->gs[i] : NULL;
    }
    const struct snap_g *g = snap_find_g(s->gs, s->nhead, s->ngs, addr);
    return g && g->readable ? g : NULL;
}

bool model_stack_mentions(struct model *m, uint32_t stack, const char *text)
{
    if (stack == NO_STACK || stack >= m->nstacks)
        return false;
    if (!m->match_text || strcmp(m->match_text, text) != 0) {
        free(m->match_text);
        m->match_text = xstrdup(text);
        for (size_t i = 0; i < m->nstacks; i++)
            m->info[i].match = -1;
    }
    stack_info(m, stack);
    struct stackinfo *in = &m->info[stack];
    if (in->match >= 0)
        return in->match;
    struct xframe *fr = NULL;
    size_t cap = 0, n = model_frames(m, stack, &fr, &cap);
    bool hit = false;
    for (size_t i = 0; i < n && !hit; i++)
        hit = (fr[i].sym.function && strstr(fr[i].sym.function, text)) ||
              (fr[i].sym.file && strstr(fr[i].sym.file, text));
    free(fr);
    in->match = hit;
    return hit;
}

void xframe_format(const struct model *m, const struct xframe *f, char *buf, size_t len)
{
    const char *fn = f->sym.function ? f->sym.function : "??";
    if (f->sym.file) {
        snprintf(buf, len, "%s %s:%" PRIu32, fn, f->sym.file, f->sym.line);
    } else if (f->sym.module != SYM_NO_MODULE) {
        const struct module *mod = &m->mods->v[f->sym.module];
        snprintf(buf, len, "%s (%s+%#" PRIx64 ")", fn, mod->base, module_offset(mod, f->pc));
    } else {
        snprintf(buf, len, "%s (%#" PRIx64 ")", fn, f->pc);
    }
}

/* ---- Groups --------------------------------------------------------------------- */

const char *const gkind_names[GK_NKINDS] = {"stack", "user", "go", "start", "full"};

int gkind_parse(const char *s)
{
    for (int k = 0; k < GK_NKINDS; k++)
        if (strcmp(s, gkind_names[k]) == 0)
            return k;
    return -1;
}

#define NO_LOC UINT32_MAX

/* Locations, and folded stacks, by their text ("function file:line" a
 * frame): goroutines at the same lines are together whatever their pcs
 * (a compiler may copy a call, and its return address, into two places). */
struct locs {
    struct u64map by_hash;      /* text hash, rehashed on collision -> index */
    struct u64map cache;        /* stack, gopc or startpc -> index or NO_LOC */
    struct xframe *v;           /* the location of each (GK_USER, GK_GO, GK_START) */
    char **text;
    size_t n, cap, captext;
};

static uint64_t text_hash(const char *t)
{
    uint64_t h = 0xcbf29ce484222325ull;         /* FNV-1a */
    for (; *t; t++)
        h = (h ^ (unsigned char)*t) * 0x100000001b3ull;
    return h;
}

static uint32_t text_intern(struct locs *l, const char *text, const struct xframe *x)
{
    uint64_t probe = text_hash(text);
    uint32_t k;
    for (; u64map_get(&l->by_hash, probe, &k); probe = u64_hash(probe))
        if (strcmp(l->text[k], text) == 0)
            return k;
    xgrow(&l->v, &l->cap, l->n + 1, sizeof *l->v);
    xgrow(&l->text, &l->captext, l->n + 1, sizeof *l->text);
    l->v[l->n] = *x;
    l->text[l->n] = xstrdup(text);
    u64map_put(&l->by_hash, probe, (uint32_t)l->n);
    return (uint32_t)l->n++;
}

static uint32_t loc_intern(struct model *m, struct locs *l, const struct xframe *x)
{
    char text[2048];
    xframe_format(m, x, text, sizeof text);
    return text_intern(l, text, x);
}

/* The folded stack's frames as text, interned (GK_STACK). */
static uint32_t stack_key(struct model *m, struct locs *l, uint32_t stack)
{
    uint32_t k;
    if (stack == NO_STACK)
        return NO_LOC;
    if (u64map_get(&l->cache, stack, &k))
        return k;
    struct xframe *fr = NULL;
    size_t cap = 0, n = model_frames(m, stack, &fr, &cap), len = 0;
    char *text = xmalloc(n * 2100 + 16);
    for (size_t i = 0; i < n; i++) {
        xframe_format(m, &fr[i], text + len, 2048);
        len += strlen(text + len);
        len += (size_t)sprintf(text + len, "%s\n", fr[i].sym.inlined ? " inlined" : "");
    }
    sprintf(text + len, "%d", m->stacks[stack].stop);
    k = text_intern(l, text, &(struct xframe){0});
    free(text);
    free(fr);
    u64map_put(&l->cache, stack, k);
    return k;
}

/* The location goroutine gi is grouped at (GK_USER, GK_GO, GK_START). */
static uint32_t loc_of(struct model *m, struct locs *l, enum gkind kind, uint32_t gi)
{
    const struct snap_g *g = &m->s->gs[gi];
    uint64_t ck;
    if (kind == GK_USER)
        ck = m->g_stack[gi];
    else if (kind == GK_GO)
        ck = g->readable && g->parentgoid && g->gopc ? g->gopc : 0;
    else
        ck = g->readable ? g->startpc : 0;
    if (ck == 0 && kind != GK_USER)
        return NO_LOC;
    if (ck == NO_STACK)
        return NO_LOC;
    uint32_t k;
    if (u64map_get(&l->cache, ck, &k))
        return k;
    struct xframe x, top;
    bool have;
    if (kind == GK_USER) {
        have = model_top_user(m, (uint32_t)ck, &top, &x);
    } else if (kind == GK_GO) {
        have = model_created_by(m, g, &x);
    } else {
        uint32_t nf;
        const struct sym_frame *sf = symcache_lookup(&m->sc, g->startpc, &nf);
        have = nf > 0;
        if (have)       /* the function itself, not a call inlined at its entry */
            x = xframe_of(g->startpc | PC_EXACT, &sf[nf - 1]);
    }
    k = have ? loc_intern(m, l, &x) : NO_LOC;
    u64map_put(&l->cache, ck, k);
    return k;
}

static int cmp_group(const void *a, const void *b, void *arg)
{
    const struct ggroup *x = a, *y = b;
    const struct snap_g *gs = arg;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    /* ties: the group whose first goroutine has the lower id first */
    uint64_t gx = gs[x->members[0]].goid, gy = gs[y->members[0]].goid;
    return (gx > gy) - (gx < gy);
}

void model_group(struct model *m, const uint32_t *sel, size_t n, enum gkind kind,
                 struct ggroups *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    struct u64map idx;
    u64map_init(&idx);
    struct locs l = {0};
    u64map_init(&l.by_hash);
    u64map_init(&l.cache);
    uint32_t *gi = xmalloc((n ? n : 1) * sizeof *gi);
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        const struct snap_g *g = &m->s->gs[sel[i]];
        uint32_t st = m->g_stack[sel[i]], key;
        if (kind == GK_FULL)
            key = st;
        else if (kind == GK_STACK)
            key = stack_key(m, &l, st = model_folded_stack(m, st));
        else
            key = loc_of(m, &l, kind, sel[i]);
        uint64_t hkey = u64_hash((uint64_t)key << 32 | g->status) ^ u64_hash(g->waitreason + 1ull);
        uint32_t k;
        bool found = false;
        /* chains of equal keys are checked member by member */
        for (uint64_t probe = hkey; u64map_get(&idx, probe, &k); probe = u64_hash(probe)) {
            const struct ggroup *gr = &out->v[k];
            if (gr->key == key && gr->status == g->status && gr->waitreason == g->waitreason) {
                found = true;
                break;
            }
        }
        if (!found) {
            uint64_t probe = hkey;
            while (u64map_get(&idx, probe, &k))
                probe = u64_hash(probe);
            xgrow(&out->v, &cap, out->n + 1, sizeof *out->v);
            k = (uint32_t)out->n++;
            out->v[k] = (struct ggroup){.status = g->status, .waitreason = g->waitreason,
                                        .key = key, .stack = st};
            if (kind != GK_STACK && kind != GK_FULL && key != NO_LOC) {
                out->v[k].has_loc = true;
                out->v[k].loc = l.v[key];
            }
            u64map_put(&idx, probe, k);
        }
        out->v[k].count++;
        gi[i] = k;
    }
    /* members, in the order given (ids) */
    out->all = xmalloc((n ? n : 1) * sizeof *out->all);
    size_t off = 0;
    for (size_t k = 0; k < out->n; k++) {
        out->v[k].members = out->all + off;
        off += out->v[k].count;
        out->v[k].count = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct ggroup *gr = &out->v[gi[i]];
        ((uint32_t *)gr->members)[gr->count++] = sel[i];
    }
    free(gi);
    u64map_free(&idx);
    u64map_free(&l.by_hash);
    u64map_free(&l.cache);
    for (size_t i = 0; i < l.n; i++)
        free(l.text[i]);
    free(l.text);
    free(l.v);
    if (out->n)             /* no goroutine selected: out->v is NULL */
        qsort_r(out->v, out->n, sizeof *out->v, cmp_group, m->s->gs);
}

void ggroups_free(struct ggroups *g)
{
    free(g->v);
    free(g->all);
    memset(g, 0, sizeof *g);
}

const char *model_string(const struct model *m, uint64_t key)
{
    uint32_t i;
    return u64map_get(&m->string_index, key, &i) ? m->strings[i] : NULL;
}

const char *model_keep_string(struct model *m, uint64_t key, const char *str)
{
    xgrow(&m->strings, &m->capstrings, m->nstrings + 1, sizeof *m->strings);
    m->strings[m->nstrings] = xstrdup(str);
    u64map_put(&m->string_index, key, (uint32_t)m->nstrings);
    return m->strings[m->nstrings++];
}
