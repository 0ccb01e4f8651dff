/*
 * memmap.c — annotating the mappings (memmap.h).
 */
#include "memmap.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsearch.h"
#include "bulkread.h"
#include "textfmt.h"

const char *const region_kind_names[RK_NKINDS] = {
    [RK_EXECUTABLE] = "executable",
    [RK_LIBRARY] = "library",
    [RK_FILE] = "file",
    [RK_HEAP] = "heap",
    [RK_STACK] = "stack",
    [RK_THREAD_STACK] = "thread_stack",
    [RK_GOROUTINE_STACKS] = "goroutine_stacks",
    [RK_GUARD] = "guard",
    [RK_VDSO] = "vdso",
    [RK_VVAR] = "vvar",
    [RK_VSYSCALL] = "vsyscall",
    [RK_ANONYMOUS] = "anonymous",
    [RK_ARENA] = "arena",
};

const char *const run_kind_names[RUN_NKINDS] = {
    [RUN_GOROUTINE_STACKS] = "goroutine_stacks",
    [RUN_OTHER] = "other",
    [RUN_CACHED_STACKS] = "cached_stacks",
    [RUN_SMALL] = "small_objects",
    [RUN_LARGE] = "large_objects",
    [RUN_FREE] = "free",
    [RUN_RELEASED] = "released",
    [RUN_SPANS] = "spans",
    [RUN_INVALID] = "invalid",
};

/* The names of a module's sections that overlap [start, end). */
static void sections_in(struct session *ss, struct module *mod, uint64_t start, uint64_t end,
                        char *buf, size_t len)
{
    gd_binary *b = module_binary(&ss->mods, mod);
    if (!b)
        return;
    const struct gd_section *sec;
    size_t n = gd_sections(b, &sec);
    const char *sep = ": ";
    for (size_t i = 0; i < n; i++) {
        if (!(sec[i].flags & 0x2) || !sec[i].size)        /* SHF_ALLOC */
            continue;
        uint64_t lo = sec[i].addr + mod->bias, hi = lo + sec[i].size;
        if (lo < end && hi > start) {
            str_append(buf, len, "%s%s", sep, sec[i].name);
            sep = " ";
        }
    }
}

static const char *thread_name(struct session *ss, int32_t i)
{
    return i >= 0 ? ss->t->threads[i].name : "?";
}

static const struct snap_m *m_of_thread(struct session *ss, int32_t th)
{
    return snap_m_of_thread(&ss->s, (size_t)th);
}

/* For each mapping, the first thread (index in the target's threads) whose
 * stack pointer is in it, and the first whose M's stack starts in it (-1:
 * none). */
struct thread_marks {
    int32_t *by_sp, *by_m;
};

static void mark_first(int32_t *v, const struct procmaps *pm, uint64_t addr, int32_t th)
{
    const struct mapping *mp = procmaps_find(pm, addr);
    if (mp && v[mp - pm->v] < 0)
        v[mp - pm->v] = th;
}

static void thread_marks_init(struct thread_marks *tm, struct session *ss)
{
    const struct procmaps *pm = &ss->t->maps;
    size_t n = pm->n ? pm->n : 1;
    tm->by_sp = xmalloc(n * sizeof *tm->by_sp);
    tm->by_m = xmalloc(n * sizeof *tm->by_m);
    for (size_t i = 0; i < n; i++)
        tm->by_sp[i] = tm->by_m[i] = -1;
    for (size_t k = 0; k < ss->t->nthreads; k++) {
        const struct target_thread *th = &ss->t->threads[k];
        const struct snap_m *m = m_of_thread(ss, (int32_t)k);
        if (th->has_regs)
            mark_first(tm->by_sp, pm, th->regs.rsp, (int32_t)k);
        if (m)
            mark_first(tm->by_m, pm, m->stacklo, (int32_t)k);
    }
}

static void thread_marks_free(struct thread_marks *tm)
{
    free(tm->by_sp);
    free(tm->by_m);
}

/* The first of two thread indexes, -1 meaning none. */
static int32_t first_thread(int32_t a, int32_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

struct gspan {
    uint64_t lo, hi, goid;
};

static int cmp_gspan(const void *a, const void *b)
{
    const struct gspan *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

static void add_run(struct memmap *mm, size_t *cap, struct region *r, struct region_run run)
{
    xgrow(&mm->runs, cap, mm->nruns + 1, sizeof *mm->runs);
    if (r->nruns == 0)
        r->first_run = mm->nruns;
    mm->runs[mm->nruns++] = run;
    r->nruns++;
}

/* Breaks a mapping holding goroutine stacks into runs. */
static void stack_runs(struct memmap *mm, size_t *rcap, size_t *icap, struct region *r,
                       const struct gspan *sp, size_t n)
{
    uint64_t cur = r->map->start;
    size_t i = 0;
    while (i < n) {
        if (sp[i].lo > cur)
            add_run(mm, rcap, r, (struct region_run){.start = cur, .end = sp[i].lo,
                                                     .kind = RUN_OTHER});
        struct region_run run = {.start = sp[i].lo, .end = sp[i].hi,
                                 .kind = RUN_GOROUTINE_STACKS, .first_id = mm->nids};
        while (i < n && sp[i].lo <= run.end && sp[i].lo >= run.start) {
            if (sp[i].hi > run.end)
                run.end = sp[i].hi;
            xgrow(&mm->ids, icap, mm->nids + 1, sizeof *mm->ids);
            mm->ids[mm->nids++] = sp[i].goid;
            run.nids++;
            i++;
        }
        if (run.end > r->map->end)
            run.end = r->map->end;
        add_run(mm, rcap, r, run);
        cur = run.end;
    }
    if (cur < r->map->end)
        add_run(mm, rcap, r, (struct region_run){.start = cur, .end = r->map->end,
                                                 .kind = RUN_OTHER});
}

/* ---- Heap arenas ----------------------------------------------------------- */

/* The heap, when its arenas and span table were copied. */
static const struct heapsnap *maps_heap(const struct session *ss)
{
    const struct heapsnap *h = ss->s.heap;
    return h && h->described && h->level >= HEAP_SPANS ? h : NULL;
}

/* The first page-table run that ends after addr. */
static size_t run_after(const struct heapsnap *h, uint64_t addr)
{
    return bsearch_upto(h->runs, h->nruns, sizeof *h->runs, offsetof(struct hrun, end), addr);
}

static bool holds_arena(const struct heapsnap *h, const struct mapping *mp)
{
    size_t k = run_after(h, mp->start);
    return k < h->nruns && h->runs[k].start < mp->end;
}

static int page_kind(const struct heapsnap *h, const struct hrun *pr, const struct hspan **out)
{
    *out = NULL;
    if (pr->span == NO_SPAN)
        return RUN_INVALID;
    const struct hspan *sp = *out = &h->spans[pr->span];
    int st = sp->state;
    if (st == h->st_inuse)
        return sp->sizeclass ? RUN_SMALL : RUN_LARGE;
    if (st == h->st_stack)
        return sp->owner ? RUN_GOROUTINE_STACKS : RUN_CACHED_STACKS;
    if (st == h->st_free)
        return RUN_FREE;
    if (st == h->st_released)
        return RUN_RELEASED;
    return RUN_SPANS;
}

/* Breaks a mapping holding (parts of) arenas into runs of spans of one
 * kind, and the parts outside the arenas. */
static void arena_runs(struct memmap *mm, size_t *rcap, size_t *icap, struct region *r,
                       const struct heapsnap *h)
{
    const struct mapping *mp = r->map;
    uint64_t cur = mp->start;
    struct region_run run;
    bool open = false;
    uint32_t last = NO_SPAN;
    for (size_t k = run_after(h, mp->start); k < h->nruns && h->runs[k].start < mp->end; k++) {
        const struct hrun *pr = &h->runs[k];
        uint64_t lo = pr->start > mp->start ? pr->start : mp->start;
        uint64_t hi = pr->end < mp->end ? pr->end : mp->end;
        const struct hspan *sp;
        int kind = page_kind(h, pr, &sp);
        bool same = open && run.kind == kind && run.end == lo &&
                    (kind != RUN_SMALL ||
                     (run.sizeclass == sp->sizeclass && run.noscan == (sp->noscan != 0))) &&
                    (kind != RUN_SPANS || run.state == sp->state);
        if (!same) {
            if (open)
                add_run(mm, rcap, r, run);
            if (lo > cur)
                add_run(mm, rcap, r, (struct region_run){.start = cur, .end = lo,
                                                         .kind = RUN_OTHER});
            run = (struct region_run){.start = lo, .end = hi, .kind = kind,
                                      .first_id = mm->nids, .pages = pr};
            if (sp) {
                run.sizeclass = sp->sizeclass;
                run.noscan = sp->noscan != 0;
                run.state = sp->state;
            }
            open = true;
            last = NO_SPAN;
        }
        run.end = hi;
        if (sp && pr->span != last) {       /* a span starts (or crosses into this arena) */
            last = pr->span;
            run.nspans++;
            if ((int)sp->state == h->st_inuse) {
                run.objects += sp->alloccount;
                run.bytes += (uint64_t)sp->alloccount * sp->elemsize;
            }
            if (kind == RUN_GOROUTINE_STACKS) {
                xgrow(&mm->ids, icap, mm->nids + 1, sizeof *mm->ids);
                mm->ids[mm->nids++] = sp->owner;
                run.nids++;
            }
        }
        cur = hi;
    }
    if (open)
        add_run(mm, rcap, r, run);
    if (cur < mp->end)
        add_run(mm, rcap, r, (struct region_run){.start = cur, .end = mp->end,
                                                 .kind = RUN_OTHER});
}

/* "heap arena 7f15cc000000 (64M): 23 goroutine stacks, 48K of objects..." */
static void arena_desc(const struct memmap *mm, struct region *r, const struct heapsnap *h)
{
    const struct mapping *mp = r->map;
    size_t n = 0;
    uint64_t first = 0;
    bool part = false;          /* the mapping holds only part of an arena */
    for (size_t i = 0; i < h->narenas; i++) {
        const struct harena *a = &h->arenas[i];
        if (a->error || a->base >= mp->end || a->end <= mp->start)
            continue;
        if (n++ == 0)
            first = a->base;
        part |= a->base < mp->start || a->end > mp->end;
    }
    char sz[24];
    fmt_size(h->arena_bytes, sz, sizeof sz);
    const char *guard = strcmp(mp->perms, "---p") == 0 ? "guard page (no access), " : "";
    if (n == 1)
        snprintf(r->desc, sizeof r->desc, "%s%sheap arena %012" PRIx64 " (%s)", guard,
                 part ? "part of " : "", first, sz);
    else
        snprintf(r->desc, sizeof r->desc, "%sheap arenas: %zu of %s from %012" PRIx64, guard,
                 n, sz, first);
    uint64_t bytes[RUN_NKINDS] = {0}, stacks = 0, bad = 0, obj = 0;
    for (size_t k = 0; k < r->nruns; k++) {
        const struct region_run *run = &mm->runs[r->first_run + k];
        bytes[run->kind] += run->end - run->start;
        stacks += run->nids;
        bad += run->kind == RUN_INVALID;
        obj += run->kind == RUN_SMALL || run->kind == RUN_LARGE ? run->end - run->start : 0;
    }
    const char *sep = ": ";
    if (stacks) {
        str_append(r->desc, sizeof r->desc, "%s%" PRIu64 " goroutine stack%s", sep, stacks,
                   stacks == 1 ? "" : "s");
        sep = ", ";
    }
    static const struct {
        int kind;
        const char *what;
    } parts[] = {{-1, "of objects"}, {RUN_CACHED_STACKS, "of cached stacks"},
                 {RUN_FREE, "free"}, {RUN_RELEASED, "released"}, {RUN_OTHER, "not heap"}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        uint64_t b = parts[i].kind < 0 ? obj : bytes[parts[i].kind];
        if (!b)
            continue;
        fmt_size(b, sz, sizeof sz);
        str_append(r->desc, sizeof r->desc, "%s%s %s", sep, sz, parts[i].what);
        sep = ", ";
    }
    if (bad)
        str_append(r->desc, sizeof r->desc, "%s%" PRIu64 " run%s of bad spans", sep, bad,
                   bad == 1 ? "" : "s");
}

/* Span records and arena records in a mapping of heap metadata. */
struct metadata {
    uint64_t *records;      /* span records (live and dead), sorted */
    size_t n;
};

static void metadata_init(struct metadata *md, const struct heapsnap *h)
{
    md->n = 0;
    md->records = NULL;
    if (!h)
        return;
    struct bulk_item *v = xmalloc((h->nspans + h->ndead + 1) * sizeof *v);
    for (size_t i = 0; i < h->nspans; i++)
        v[md->n++] = (struct bulk_item){h->spans[i].addr, 0, 1};
    for (size_t i = 0; i < h->ndead; i++)
        v[md->n++] = (struct bulk_item){h->dead[i], 0, 1};
    bulk_sort(v, md->n);
    md->records = xmalloc((md->n + 1) * sizeof *md->records);
    for (size_t i = 0; i < md->n; i++)
        md->records[i] = v[i].addr;
    free(v);
}

/* How many of v[0..n) (sorted) lie in [lo, hi) (lo > 0). */
static size_t count_in(const uint64_t *v, size_t n, uint64_t lo, uint64_t hi)
{
    return bsearch_upto(v, n, 8, 0, hi - 1) - bsearch_upto(v, n, 8, 0, lo - 1);
}

static void metadata_desc(const struct metadata *md, const struct heapsnap *h, struct region *r)
{
    const struct mapping *mp = r->map;
    size_t spans = count_in(md->records, md->n, mp->start, mp->end), arenas = 0;
    for (size_t i = 0; h && i < h->narenas; i++)
        arenas += h->arenas[i].addr >= mp->start && h->arenas[i].addr < mp->end;
    if (!spans && !arenas)
        return;
    char what[128] = "heap metadata: ";
    if (spans)
        str_append(what, sizeof what, "%zu span record%s", spans, spans == 1 ? "" : "s");
    if (arenas)
        str_append(what, sizeof what, "%s%zu arena page table%s", spans ? ", " : "", arenas,
                   arenas == 1 ? "" : "s");
    if (strcmp(r->desc, "anonymous") == 0)
        snprintf(r->desc, sizeof r->desc, "%s", what);
    else
        str_append(r->desc, sizeof r->desc, ", %s", what);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void memmap_build(struct memmap *mm, struct session *ss)
{
    memset(mm, 0, sizeof *mm);
    const struct procmaps *pm = &ss->t->maps;
    const struct snapshot *s = &ss->s;
    mm->v = xcalloc(pm->n ? pm->n : 1, sizeof *mm->v);
    mm->n = pm->n;
    mm->maps = pm;

    /* goroutine stacks, sorted, and the Gs' own addresses */
    struct gspan *sp = xmalloc((s->ngs ? s->ngs : 1) * sizeof *sp);
    uint64_t *gaddr = xmalloc((s->ngs ? s->ngs : 1) * sizeof *gaddr);
    size_t nsp = 0, nga = 0;
    for (size_t i = 0; i < s->ngs; i++) {
        const struct snap_g *g = &s->gs[i];
        if (!g->readable)
            continue;
        gaddr[nga++] = g->addr;
        if (g->stacklo && g->stackhi > g->stacklo && !g->error)
            sp[nsp++] = (struct gspan){g->stacklo, g->stackhi, g->goid};
    }
    qsort(sp, nsp, sizeof *sp, cmp_gspan);
    qsort(gaddr, nga, sizeof *gaddr, cmp_u64);
    const struct rt_root *allgs_root = rtdesc_root(&ss->d, "allgs");
    uint64_t allgs = 0;
    if (allgs_root)
        target_read_u64(ss->t, allgs_root->addr, &allgs);   /* only to name its mapping */

    const struct heapsnap *heap = maps_heap(ss);
    struct metadata md;
    metadata_init(&md, heap);
    struct thread_marks marks;
    thread_marks_init(&marks, ss);
    size_t rcap = 0, icap = 0, spi = 0, gai = 0;
    for (size_t i = 0; i < pm->n; i++) {
        const struct mapping *mp = &pm->v[i];
        struct region *r = &mm->v[i];
        r->map = mp;
        r->thread = -1;
        r->kind = RK_ANONYMOUS;
        /* the goroutine stacks and Gs in this mapping */
        while (spi < nsp && sp[spi].lo < mp->start)
            spi++;
        size_t sp_end = spi;
        while (sp_end < nsp && sp[sp_end].lo < mp->end)
            sp_end++;
        while (gai < nga && gaddr[gai] < mp->start)
            gai++;
        size_t ga_end = gai;
        while (ga_end < nga && gaddr[ga_end] < mp->end)
            ga_end++;
        /* a thread whose stack pointer (outside goroutine stacks) or whose
         * M's stack is here */
        r->thread = first_thread(sp_end > spi ? -1 : marks.by_sp[i], marks.by_m[i]);
        struct module *mod = mp->path[0] == '/' ? modules_find(&ss->mods, mp->start) : NULL;
        if (strcmp(mp->path, "[heap]") == 0) {
            r->kind = RK_HEAP;
            snprintf(r->desc, sizeof r->desc, "malloc heap");
        } else if (strcmp(mp->path, "[stack]") == 0) {
            r->kind = RK_STACK;
            r->thread = -1;
            for (size_t k = 0; k < ss->t->nthreads; k++)
                if (ss->t->threads[k].tid == ss->t->pid)
                    r->thread = (int32_t)k;
            snprintf(r->desc, sizeof r->desc, "stack of the main thread (tid %d, %s)",
                     (int)ss->t->pid, thread_name(ss, r->thread));
        } else if (strcmp(mp->path, "[vdso]") == 0) {
            r->kind = RK_VDSO;
            snprintf(r->desc, sizeof r->desc, "vdso (the kernel's user-space functions)");
        } else if (strcmp(mp->path, "[vvar]") == 0) {
            r->kind = RK_VVAR;
            snprintf(r->desc, sizeof r->desc, "vvar (the vdso's data)");
        } else if (strcmp(mp->path, "[vsyscall]") == 0) {
            r->kind = RK_VSYSCALL;
            snprintf(r->desc, sizeof r->desc, "vsyscall page");
        } else if (mod) {
            r->kind = mod->is_exe ? RK_EXECUTABLE : mod->system ? RK_LIBRARY : RK_LIBRARY;
            snprintf(r->desc, sizeof r->desc, "%s %s", mod->is_exe ? "executable" : "library",
                     mod->base);
            sections_in(ss, mod, mp->start, mp->end, r->desc, sizeof r->desc);
        } else if (mp->path[0] == '/') {
            r->kind = RK_FILE;
            snprintf(r->desc, sizeof r->desc, "file %s", mp->path);
        } else if (heap && holds_arena(heap, mp)) {
            r->kind = RK_ARENA;
            r->thread = -1;
            arena_runs(mm, &rcap, &icap, r, heap);
            arena_desc(mm, r, heap);
        } else if (sp_end > spi) {
            r->kind = RK_GOROUTINE_STACKS;
            r->thread = -1;
            char sz[24] = "?";
            if (s->stack_size)
                fmt_size(s->stack_size, sz, sizeof sz);
            snprintf(r->desc, sizeof r->desc, "goroutine stacks: %zu, %s each", sp_end - spi,
                     sz);
            stack_runs(mm, &rcap, &icap, r, sp + spi, sp_end - spi);
        } else if (strcmp(mp->perms, "---p") == 0) {
            r->kind = RK_GUARD;
            const struct mapping *up = i + 1 < pm->n && pm->v[i + 1].start == mp->end
                                           ? &pm->v[i + 1] : NULL;
            snprintf(r->desc, sizeof r->desc, "%s", up ? "guard page or reserved space below "
                                                         "the mapping above"
                                                       : "no access (guard or reserved)");
            r->thread = -1;
        } else if (r->thread >= 0) {
            r->kind = RK_THREAD_STACK;
            const struct snap_m *m = m_of_thread(ss, r->thread);
            if (m)
                snprintf(r->desc, sizeof r->desc, "thread stack of M%" PRId64 " (tid %d, %s)",
                         m->id, (int)ss->t->threads[r->thread].tid, thread_name(ss, r->thread));
            else
                snprintf(r->desc, sizeof r->desc, "thread stack of tid %d (%s)",
                         (int)ss->t->threads[r->thread].tid, thread_name(ss, r->thread));
        } else {
            snprintf(r->desc, sizeof r->desc, "anonymous");
            /* the executable's .bss often continues past its file mapping */
            if (i > 0 && pm->v[i - 1].end == mp->start) {
                struct module *pmod = modules_find(&ss->mods, pm->v[i - 1].start);
                if (pmod && pm->v[i - 1].path[0] == '/') {
                    size_t before = strlen(r->desc);
                    sections_in(ss, pmod, mp->start, mp->end, r->desc, sizeof r->desc);
                    if (strlen(r->desc) > before) {
                        snprintf(r->desc, sizeof r->desc, "%s %s", pmod->base,
                                 pmod->is_exe ? "(executable)" : "(library)");
                        sections_in(ss, pmod, mp->start, mp->end, r->desc, sizeof r->desc);
                        r->kind = pmod->is_exe ? RK_EXECUTABLE : RK_LIBRARY;
                    }
                }
            }
        }
        if (r->kind == RK_ANONYMOUS || r->kind == RK_HEAP) {
            if (ga_end > gai)
                str_append(r->desc, sizeof r->desc, ", holds %zu G%s", ga_end - gai,
                       ga_end - gai == 1 ? "" : "s");
            if (allgs >= mp->start && allgs < mp->end)
                str_append(r->desc, sizeof r->desc, ", holds the all-G table");
            metadata_desc(&md, heap, r);
        }
    }
    free(md.records);
    thread_marks_free(&marks);
    free(sp);
    free(gaddr);
}

void memmap_free(struct memmap *mm)
{
    free(mm->v);
    free(mm->runs);
    free(mm->ids);
    memset(mm, 0, sizeof *mm);
}

const struct region *memmap_find(const struct memmap *mm, uint64_t addr)
{
    /* the regions are the mappings, in the same order */
    const struct mapping *mp = mm->maps ? procmaps_find(mm->maps, addr) : NULL;
    return mp ? &mm->v[mp - mm->maps->v] : NULL;
}

void format_ids(const uint64_t *ids, size_t n, size_t max, char *buf, size_t len)
{
    uint64_t *v = xmalloc((n ? n : 1) * sizeof *v);
    memcpy(v, ids, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_u64);
    buf[0] = 0;
    size_t items = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        if (items == max) {
            str_append(buf, len, ", ...");
            break;
        }
        if (j > i)
            str_append(buf, len, "%s%" PRIu64 "-%" PRIu64, items ? ", " : "", v[i], v[j]);
        else
            str_append(buf, len, "%s%" PRIu64, items ? ", " : "", v[i]);
        items++;
        i = j + 1;
    }
    free(v);
}
