/*
 * cmd_ptr.c — `ptr ADDR`: what an address is: its mapping; in the heap, its
 * span and, in a span of objects, the object (size class, base and offset,
 * allocated or free); on a goroutine's or a thread's stack, which frame;
 * inside a G, which goroutine's; in a binary, which symbol (and source line
 * for code).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gview.h"
#include "hview.h"
#include "memmap.h"
#include "textfmt.h"

struct opts {
    struct subopts common;
    uint64_t addr;
};

static int parse(int argc, char **argv, void **out)
{
    struct opts *o = xcalloc(1, sizeof *o);
    bool have = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o->common.json = true;
            continue;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(argv[i], &end, 0);
        if (have || !argv[i][0] || *end || errno || argv[i][0] == '-') {
            free(o);
            return usage_error("ptr", "'%s' is not an address (usage: ptr ADDR, e.g. "
                                      "ptr 0x7f3a12345678)", argv[i]);
        }
        o->addr = v;
        have = true;
    }
    if (!have) {
        free(o);
        return usage_error("ptr", "which address? (usage: ptr ADDR)");
    }
    *out = o;
    return 0;
}

/* A frame of a stack holding the address. */
struct hit {
    bool found;
    int frame;              /* physical frame index, -1: below the stack pointer */
    uint64_t sp, cfa;       /* the frame's extent [sp, cfa) */
    struct xframe xf;       /* the function (outermost of an inline chain) */
};

/* Walks a copied stack from regs again, keeping each frame's stack pointer,
 * and finds the frame whose [sp, caller's sp) holds addr. */
static struct hit find_frame(struct session *ss, const struct cfi_regs *regs,
                             const struct unwind_mem *mem, uint64_t top, uint64_t addr)
{
    struct hit h = {false, -1, 0, 0, {0, false, {NULL, NULL, 0, false, SYM_NO_MODULE}, false}};
    if (!mem->data)
        return h;
    uint64_t *pcs = xmalloc(MAX_FRAMES * sizeof *pcs), *sps = xmalloc(MAX_FRAMES * sizeof *sps);
    enum unwind_stop stop;
    int n = unwind_stack(&ss->m.uw, regs, mem, pcs, sps, MAX_FRAMES, &stop);
    h.found = true;
    if (n == 0 || addr < sps[0]) {
        h.sp = addr;
        h.cfa = n ? sps[0] : top;
    }
    /* frames are numbered as the stack listings number them: an inlined
     * call is a frame of its own; the one that holds the address is the
     * function its inline chain ends in */
    int shown = 0;
    for (int i = 0; i < n; i++) {
        uint64_t hi = i + 1 < n ? sps[i + 1] : top;
        uint32_t k;
        const struct sym_frame *sf = model_pc_syms(&ss->m, pcs[i], &k);
        shown += (int)k;
        if (addr >= sps[i] && addr < hi) {
            h.frame = shown - 1;
            h.sp = sps[i];
            h.cfa = hi;
            h.xf = xframe_of(pcs[i], &sf[k - 1]);
            break;
        }
    }
    free(pcs);
    free(sps);
    return h;
}

/* In the heap: the span holding the address and, in a span of objects,
 * the object slot. */
struct heap_hit {
    const struct harena *arena;         /* NULL: not in the heap */
    const struct hrun *pages;
    const struct hspan *span;           /* NULL: its pages have no valid span */
    bool slot;                          /* in an object slot */
    uint32_t index;
    uint64_t base, offset;
    int allocated;                      /* 1, 0, -1: unknown */
};

static void find_heap(struct session *ss, uint64_t addr, struct heap_hit *hh)
{
    memset(hh, 0, sizeof *hh);
    const struct heapsnap *h = ss->s.heap;
    if (!h || !h->described || h->level < HEAP_SPANS ||
        !(hh->arena = heapsnap_arena(h, addr)) || !(hh->pages = heapsnap_run(h, addr)))
        return;
    if (hh->pages->span == NO_SPAN)
        return;
    const struct hspan *sp = hh->span = &h->spans[hh->pages->span];
    if ((int)sp->state != h->st_inuse || !sp->elemsize)
        return;
    uint64_t off = addr - sp->base;
    if (off / sp->elemsize >= sp->nelems)
        return;                         /* past the last slot */
    hh->slot = true;
    hh->index = (uint32_t)(off / sp->elemsize);
    hh->base = sp->base + (uint64_t)hh->index * sp->elemsize;
    hh->offset = addr - hh->base;
    hh->allocated = hspan_allocated(h, sp, hh->index);
}

struct answer {
    const struct region *region;
    struct heap_hit heap;
    const struct snap_g *g_stack;       /* a goroutine whose stack holds it */
    int thread_stack;                   /* a thread whose stack holds it, -1 */
    struct hit hit;
    const struct snap_g *g_struct;      /* a G that holds it */
    uint64_t g_off;
    struct module *mod;
    const struct gd_symbol *sym;
    uint64_t sym_off;
    struct xframe code;                 /* for an address in code */
    bool is_code;
};

static void analyze(struct session *ss, const struct memmap *mm, uint64_t addr, struct answer *a)
{
    memset(a, 0, sizeof *a);
    a->thread_stack = -1;
    a->region = memmap_find(mm, addr);
    find_heap(ss, addr, &a->heap);
    const struct snapshot *s = &ss->s;
    uint32_t gsize = 0;
    const struct rt_type *gt = rtdesc_type(&ss->d, "g");
    if (gt)
        gsize = gt->size;
    for (size_t i = 0; i < s->ngs; i++) {
        const struct snap_g *g = &s->gs[i];
        if (!g->readable)
            continue;
        if (!g->error && g->stacklo <= addr && addr < g->stackhi && !a->g_stack)
            a->g_stack = g;
        if (g->addr <= addr && addr - g->addr < gsize && !a->g_struct) {
            a->g_struct = g;
            a->g_off = addr - g->addr;
        }
    }
    if (a->g_stack) {
        struct cfi_regs r;
        if (a->g_stack->regs_from == REGS_THREAD)
            cfi_regs_from_thread(&ss->t->threads[a->g_stack->thread].regs, &r);
        else
            cfi_regs_from_ctx(a->g_stack, &r);
        const struct unwind_mem *mem = snap_g_stack(a->g_stack);
        if (mem && (a->g_stack->regs_from == REGS_CTX || a->g_stack->regs_from == REGS_THREAD))
            a->hit = find_frame(ss, &r, mem, a->g_stack->stackhi, addr);
    } else {
        for (size_t i = 0; i < ss->t->nthreads; i++) {
            const struct unwind_mem *mem = s->thread_stacks ? &s->thread_stacks[i] : NULL;
            if (!mem || !mem->data || !a->region || a->region->thread != (int32_t)i)
                continue;
            a->thread_stack = (int)i;
            struct cfi_regs r;
            cfi_regs_from_thread(&ss->t->threads[i].regs, &r);
            a->hit = find_frame(ss, &r, mem, a->region->map->end, addr);
        }
        if (a->thread_stack < 0 && a->region && a->region->thread >= 0 &&
            (a->region->kind == RK_STACK || a->region->kind == RK_THREAD_STACK))
            a->thread_stack = a->region->thread;
    }
    a->mod = modules_find(&ss->mods, addr);
    gd_binary *b = a->mod ? module_binary(&ss->mods, a->mod) : NULL;
    if (b) {
        uint64_t link = addr - a->mod->bias;
        a->sym = gd_symbol_containing(b, link);
        if (a->sym)
            a->sym_off = link - a->sym->value;
        const struct gd_section *sec = gd_section_containing(b, link);
        if (sec && (sec->flags & 0x4)) {        /* SHF_EXECINSTR */
            uint32_t k;
            const struct sym_frame *sf = symcache_lookup(&ss->m.sc, addr, &k);
            a->code = xframe_of(addr | PC_EXACT, &sf[0]);
            a->is_code = true;
        }
    }
}

static void text_heap(struct session *ss, const struct heap_hit *hh)
{
    struct out *o = &ss->out;
    const struct heapsnap *h = ss->s.heap;
    const struct hspan *sp = hh->span;
    if (!sp) {
        char why[400];
        heapsnap_run_problem(h, hh->pages, why, sizeof why);
        outf(o, "  span      error: %s\n", why);
        return;
    }
    char sz[24], what[160], flags[160];
    fmt_size(hspan_bytes(h, sp), sz, sizeof sz);
    hview_span_what(ss, sp, what, sizeof what);
    hview_span_flags(ss, sp, flags, sizeof flags);
    outf(o, "  span      %012" PRIx64 "-%012" PRIx64 " (%s) %s%s%s%s\n", sp->base,
         sp->base + hspan_bytes(h, sp), sz, what, flags[0] ? " [" : "", flags,
         flags[0] ? "]" : "");
    if ((int)sp->state != h->st_inuse)
        return;
    if (!hh->slot) {
        outf(o, "  object    none: past the span's last slot (%" PRIu32 " slots of %" PRIu32
             " bytes end at %#" PRIx64 ")\n", sp->nelems, sp->elemsize,
             sp->base + (uint64_t)sp->nelems * sp->elemsize);
        return;
    }
    static const char *const alloc[] = {"allocation unknown (no bitmap)", "free", "allocated"};
    if (hspan_large(h, sp))
        outf(o, "  object    %#" PRIx64 " + 0x%" PRIx64 " (a large object of %" PRIu32
             " bytes): %s\n", hh->base, hh->offset, sp->elemsize, alloc[hh->allocated + 1]);
    else
        outf(o, "  object    %#" PRIx64 " + 0x%" PRIx64 " (slot %" PRIu32 " of %" PRIu32 ", %"
             PRIu32 " bytes): %s\n", hh->base, hh->offset, hh->index, sp->nelems, sp->elemsize,
             alloc[hh->allocated + 1]);
}

static void json_heap(struct session *ss, struct json *j, const struct heap_hit *hh)
{
    json_key(j, "heap");
    if (!hh->arena) {
        json_null(j);
        return;
    }
    json_obj(j);
    json_ku64(j, "arena", hh->arena->base);
    json_key(j, "span");
    hh->span ? hview_span_json(ss, j, hh->span) : json_null(j);
    json_key(j, "object");
    if (hh->slot) {
        json_obj(j);
        json_ku64(j, "index", hh->index);
        json_ku64(j, "base", hh->base);
        json_ku64(j, "offset", hh->offset);
        json_ku64(j, "size", hh->span->elemsize);
        json_key(j, "allocated");
        hh->allocated < 0 ? json_null(j) : json_bool(j, hh->allocated);
        json_obj_end(j);
    } else {
        json_null(j);
    }
    hview_run_problem_json(ss, j, hh->span ? NULL : hh->pages);
    json_obj_end(j);
}

static void text_answer(struct session *ss, uint64_t addr, const struct answer *a)
{
    struct out *o = &ss->out;
    outf(o, "%#" PRIx64 ":\n", addr);
    if (!a->region) {
        outf(o, "  not mapped\n");
        return;
    }
    const struct mapping *mp = a->region->map;
    outf(o, "  mapping   %012" PRIx64 "-%012" PRIx64 " %s  %s (offset %#" PRIx64 ")\n",
         mp->start, mp->end, mp->perms, a->region->desc, addr - mp->start);
    if (a->heap.arena)
        text_heap(ss, &a->heap);
    const struct hit *h = &a->hit;
    if (a->g_stack || a->thread_stack >= 0) {
        char who[96];
        if (a->g_stack)
            snprintf(who, sizeof who, "goroutine %" PRIu64, a->g_stack->goid);
        else
            snprintf(who, sizeof who, "thread %d (%s)", (int)ss->t->threads[a->thread_stack].tid,
                     ss->t->threads[a->thread_stack].name);
        if (h->found && h->frame >= 0) {
            char f[1024];
            xframe_format(&ss->m, &h->xf, f, sizeof f);
            outf(o, "  stack     of %s, frame %d: %s (frame [%#" PRIx64 ", %#" PRIx64 "), "
                    "offset %#" PRIx64 ")\n", who, h->frame, f, h->sp, h->cfa, addr - h->sp);
        } else if (h->found) {
            outf(o, "  stack     of %s, below its stack pointer %#" PRIx64 " (unused)\n", who,
                 h->cfa);
        } else {
            outf(o, "  stack     of %s\n", who);
        }
    }
    if (a->g_struct)
        outf(o, "  G         of goroutine %" PRIu64 " at %#" PRIx64 " (offset %#" PRIx64 ")\n",
             a->g_struct->goid, a->g_struct->addr, a->g_off);
    if (a->sym)
        outf(o, "  symbol    %s+%#" PRIx64 " in %s (%s, %" PRIu64 " bytes)\n", a->sym->name,
             a->sym_off, a->mod->base, a->sym->type == 2 ? "function" : "object", a->sym->size);
    if (a->is_code) {
        char f[1024];
        xframe_format(&ss->m, &a->code, f, sizeof f);
        outf(o, "  code      %s\n", f);
    }
}

static void json_answer(struct session *ss, uint64_t addr, const struct answer *a)
{
    struct json j;
    json_init(&j, &ss->out);
    json_obj(&j);
    session_json_common(ss, &j);
    json_ku64(&j, "address", addr);
    json_key(&j, "mapping");
    if (a->region) {
        json_obj(&j);
        json_ku64(&j, "start", a->region->map->start);
        json_ku64(&j, "end", a->region->map->end);
        json_kstr(&j, "perms", a->region->map->perms);
        json_kstr(&j, "path", a->region->map->path);
        json_kstr(&j, "kind", region_kind_names[a->region->kind]);
        json_kstr(&j, "description", a->region->desc);
        json_obj_end(&j);
    } else {
        json_null(&j);
    }
    json_key(&j, "stack");
    if (a->g_stack || a->thread_stack >= 0) {
        json_obj(&j);
        json_key(&j, "goroutine");
        a->g_stack ? json_u64(&j, a->g_stack->goid) : json_null(&j);
        json_key(&j, "thread");
        a->thread_stack >= 0 ? json_i64(&j, ss->t->threads[a->thread_stack].tid) : json_null(&j);
        json_key(&j, "frame");
        if (a->hit.found && a->hit.frame >= 0) {
            json_obj(&j);
            json_ki64(&j, "index", a->hit.frame);
            json_frame_members(ss, &j, &a->hit.xf, true);
            json_ku64(&j, "sp", a->hit.sp);
            json_ku64(&j, "cfa", a->hit.cfa);
            json_obj_end(&j);
        } else {
            json_null(&j);
        }
        json_obj_end(&j);
    } else {
        json_null(&j);
    }
    json_key(&j, "g");
    if (a->g_struct) {
        json_obj(&j);
        json_ku64(&j, "goroutine", a->g_struct->goid);
        json_ku64(&j, "base", a->g_struct->addr);
        json_ku64(&j, "offset", a->g_off);
        json_obj_end(&j);
    } else {
        json_null(&j);
    }
    json_key(&j, "symbol");
    if (a->sym) {
        json_obj(&j);
        json_kstr(&j, "name", a->sym->name);
        json_ku64(&j, "offset", a->sym_off);
        json_ku64(&j, "size", a->sym->size);
        json_kstr(&j, "type", a->sym->type == 2 ? "function" : "object");
        json_kstr(&j, "module", a->mod->path);
        json_obj_end(&j);
    } else {
        json_null(&j);
    }
    json_key(&j, "code");
    if (a->is_code)
        json_frame(ss, &j, &a->code, false);
    else
        json_null(&j);
    json_heap(ss, &j, &a->heap);
    json_obj_end(&j);
    json_end(&j);
}

static int run(struct session *ss, void *opts)
{
    const struct opts *o = opts;
    struct memmap mm;
    memmap_build(&mm, ss);
    struct answer a;
    analyze(ss, &mm, o->addr, &a);
    if (ss->json) {
        json_answer(ss, o->addr, &a);
    } else {
        session_notes(ss);
        text_answer(ss, o->addr, &a);
    }
    memmap_free(&mm);
    return 0;
}

const struct subcommand sub_ptr = {
    .name = "ptr",
    .synopsis = "ADDR",
    .help = "what an address is: mapping, heap object, stack frame, G, symbol",
    .parse = parse,
    .run = run,
    .needs_stacks = true,
    .heap = HEAP_BITMAPS,
};
