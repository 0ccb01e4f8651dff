/*
 * memmap.c — annotating the mappings (memmap.h).
 */
#include "memmap.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

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
            append(buf, len, "%s%s", sep, sec[i].name);
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
    for (size_t k = 0; k < ss->s.nms; k++)
        if (ss->s.ms[k].thread == th)
            return &ss->s.ms[k];
    return NULL;
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
            add_run(mm, rcap, r, (struct region_run){cur, sp[i].lo, RUN_OTHER, 0, 0});
        struct region_run run = {sp[i].lo, sp[i].hi, RUN_GOROUTINE_STACKS, mm->nids, 0};
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
        add_run(mm, rcap, r, (struct region_run){cur, r->map->end, RUN_OTHER, 0, 0});
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
        /* a thread whose stack pointer is here */
        for (size_t k = 0; k < ss->t->nthreads; k++) {
            const struct target_thread *th = &ss->t->threads[k];
            const struct snap_m *m = m_of_thread(ss, (int32_t)k);
            bool here = (th->has_regs && th->regs.rsp >= mp->start && th->regs.rsp < mp->end &&
                         !(sp_end > spi)) ||
                        (m && m->stacklo >= mp->start && m->stacklo < mp->end);
            if (here && r->thread < 0)
                r->thread = (int32_t)k;
        }
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
                append(r->desc, sizeof r->desc, ", holds %zu G%s", ga_end - gai,
                       ga_end - gai == 1 ? "" : "s");
            if (allgs >= mp->start && allgs < mp->end)
                append(r->desc, sizeof r->desc, ", holds the all-G table");
        }
    }
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
            append(buf, len, ", ...");
            break;
        }
        if (j > i)
            append(buf, len, "%s%" PRIu64 "-%" PRIu64, items ? ", " : "", v[i], v[j]);
        else
            append(buf, len, "%s%" PRIu64, items ? ", " : "", v[i]);
        items++;
        i = j + 1;
    }
    free(v);
}
