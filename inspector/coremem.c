/*
 * coremem.c — a gcore's memory: layout, pre-copy, what the stop copies
 * (coremem.h).
 */
#include "coremem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool bit(const uint8_t *b, uint64_t i)
{
    return b[i / 8] >> (i % 8) & 1;
}

static void set_bit(uint8_t *b, uint64_t i)
{
    b[i / 8] |= (uint8_t)(1u << (i % 8));
}

static uint64_t pages_of(const struct dump_map *d)
{
    return (d->dump_len + PM_PAGE - 1) / PM_PAGE;
}

/* Gives d a place after everything else. */
static void place_at_end(struct coremem *c, struct dump_map *d)
{
    d->file_off = c->data_end;
    c->data_end += d->dump_len;
}

int coremem_plan(struct target *t, bool all, struct coremem *c, struct fail *f)
{
    memset(c, 0, sizeof *c);
    if (dump_plan_read(t, all, &c->plan, f) < 0)
        return -1;
    c->data_end = PM_PAGE;          /* the first page: the ELF header */
    for (size_t i = 0; i < c->plan.n; i++)
        place_at_end(c, &c->plan.v[i]);
    return 0;
}

void coremem_free(struct coremem *c)
{
    dump_plan_free(&c->plan);
    dump_plan_free(&c->fresh);
    free(c->final);
    copy_list_free(&c->clear);
    memset(c, 0, sizeof *c);
}

/* ---- Before the stop --------------------------------------------------------- */

static void add_bytes(void *ctx, uint64_t start, uint64_t end, unsigned flags)
{
    (void)flags;
    *(uint64_t *)ctx += end - start;
}

int coremem_resident(struct coremem *c, struct pagemap *pm, uint64_t *bytes, struct fail *f)
{
    *bytes = 0;
    for (size_t i = 0; i < c->plan.n; i++) {
        const struct dump_map *d = &c->plan.v[i];
        if (!d->dump_len)
            continue;
        if (!d->present_only)
            *bytes += d->dump_len;
        else if (pagemap_runs(pm, d->m.start, d->m.start + d->dump_len, 0, add_bytes, bytes, f) < 0)
            return -1;
    }
    return 0;
}

/* A run of pages of mapping d, to copy to d's place. */
struct to_copy {
    struct copy_list *l;
    const struct dump_map *d;
    uint32_t tag;
    bool over;
};

static void add_run(void *ctx, uint64_t start, uint64_t end, unsigned flags)
{
    (void)flags;
    struct to_copy *tc = ctx;
    copy_list_add(tc->l, start, end - start, tc->d->file_off + (start - tc->d->m.start), tc->over,
                  tc->tag);
}

/* After a fill: the pages read are in the file. */
static void mark_copied(struct coremem *c, const struct stager *s, const struct copy_list *l)
{
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct copy_seg *g = &s->segs[i];
        const struct copy_run *r = &l->v[g->run];
        struct dump_map *d = &c->plan.v[r->tag];
        uint64_t first = (r->addr + g->at - d->m.start) / PM_PAGE;
        for (uint64_t k = 0; k < g->good / PM_PAGE; k++)
            set_bit(d->copied, first + k);
    }
}

int coremem_precopy(struct coremem *c, struct pagemap *pm, struct stager *s, int fd,
                    struct copy_stats *st, struct fail *f)
{
    struct copy_list l = {NULL, 0, 0, 0};
    int rc = -1;
    for (size_t i = 0; i < c->plan.n; i++) {
        struct dump_map *d = &c->plan.v[i];
        if (!d->dump_len || d->special)     /* the kernel's: a few pages, copied in the stop */
            continue;
        d->copied = xcalloc((pages_of(d) + 7) / 8, 1);
        struct to_copy tc = {&l, d, (uint32_t)i, false};
        if (pagemap_runs(pm, d->m.start, d->m.start + d->dump_len, 0, add_run, &tc, f) < 0)
            goto out;
    }
    struct copy_pos pos = {0, 0};
    bool more;
    do {
        more = stager_fill(s, &l, &pos);
        if (s->err) {
            fail_set(f, "%s", s->err == ESRCH ? "it exited" : strerror(s->err));
            goto out;
        }
        mark_copied(c, s, &l);
        if (stager_flush(s, &l, fd, st, f) < 0)
            goto out;
    } while (more);
    c->precopied = true;
    rc = 0;
out:
    copy_list_free(&l);
    return rc;
}

/* ---- In the stop -------------------------------------------------------------- */

/* d's place, with what was copied there, is given up. */
static void give_up_place(struct coremem *c, struct dump_map *d)
{
    if (d->copied)
        copy_list_add(&c->clear, 0, d->dump_len, d->file_off, true, 0);
    free(d->copied);
    d->copied = NULL;
}

static void any_private(void *ctx, uint64_t start, uint64_t end, unsigned flags)
{
    (void)start;
    (void)end;
    if (!(flags & PM_FILE))
        *(bool *)ctx = true;
}

/* A private mapping the plan holds little of, written to since (the
 * kernel would have all of it). */
static int written_since(struct coremem *c, struct target *t, struct pagemap *pm,
                         struct dump_map *d, struct fail *f)
{
    const struct mapping *m = &d->m;
    if (d->written || m->perms[3] != 'p' || !mapping_readable(m) || m->path[0] == '[' ||
        d->dump_len == m->end - m->start || (d->vmflags & (VMF_DONTDUMP | VMF_IO)))
        return 0;
    bool found = false;
    if (pagemap_runs(pm, m->start, m->end, PM_FILE, any_private, &found, f) < 0)
        return -1;
    if (!found)
        return 0;
    uint64_t before = d->dump_len;
    d->written = true;
    dump_map_decide(t, &c->plan, d);
    if (d->dump_len != before) {
        uint64_t now = d->dump_len;
        d->dump_len = before;
        give_up_place(c, d);
        d->dump_len = now;
        place_at_end(c, d);
    }
    return 0;
}

int coremem_settle(struct coremem *c, struct target *t, struct pagemap *pm, struct fail *f)
{
    const struct procmaps *now = &t->maps;
    bool same = true;
    for (size_t i = 0; i < now->n && same; i++)
        same = dump_plan_match(&c->plan, &now->v[i]) != NULL;
    bool *kept = xcalloc(c->plan.n ? c->plan.n : 1, sizeof *kept);
    if (!same && dump_plan_read(t, c->plan.all, &c->fresh, f) < 0) {
        free(kept);
        return -1;
    }
    size_t n = same ? now->n : c->fresh.n;
    c->final = xcalloc(n ? n : 1, sizeof *c->final);
    c->nfinal = n;
    for (size_t i = 0; i < n; i++) {
        struct dump_map *d = dump_plan_match(&c->plan, same ? &now->v[i] : &c->fresh.v[i].m);
        if (d) {
            kept[d - c->plan.v] = true;
        } else {
            d = &c->fresh.v[i];
            place_at_end(c, d);
        }
        c->final[i] = d;
    }
    for (size_t i = 0; i < c->plan.n; i++)
        if (!kept[i])
            give_up_place(c, &c->plan.v[i]);
    free(kept);
    for (size_t i = 0; i < n; i++)
        if (c->final[i] >= c->plan.v && c->final[i] < c->plan.v + c->plan.n &&
            written_since(c, t, pm, c->final[i], f) < 0)
            return -1;
    return 0;
}

/* The runs of a mapping copied before the stop, with their flags. */
struct pm_run {
    uint64_t start, end;
    unsigned flags;
};

struct pm_runs {
    struct pm_run *v;
    size_t n, cap;
};

static void keep_run(void *ctx, uint64_t start, uint64_t end, unsigned flags)
{
    struct pm_runs *r = ctx;
    xgrow(&r->v, &r->cap, r->n + 1, sizeof *r->v);
    r->v[r->n++] = (struct pm_run){start, end, flags};
}

/* A mapping copied before the stop: the pages to copy again (written, new
 * or not read then) and those to clear (they hold nothing now). */
static int recopy(struct coremem *c, struct pagemap *pm, struct dump_map *d, uint32_t tag,
                  struct copy_list *copy, struct fail *f)
{
    uint64_t lo = d->m.start, hi = lo + d->dump_len;
    struct pm_runs runs = {NULL, 0, 0};
    if (pagemap_runs(pm, lo, hi, PM_DIRTY, keep_run, &runs, f) < 0) {
        free(runs.v);
        return -1;
    }
    size_t r = 0;
    for (uint64_t p = lo, k = 0; p < hi; p += PM_PAGE, k++) {
        while (r < runs.n && runs.v[r].end <= p)
            r++;
        bool present = r < runs.n && runs.v[r].start <= p;
        bool dirty = present && (runs.v[r].flags & PM_DIRTY);
        bool copied = bit(d->copied, k);
        uint64_t off = d->file_off + (p - lo);
        if (d->present_only ? present && (!copied || dirty) : !copied || dirty || !present)
            copy_list_add(copy, p, PM_PAGE, off, copied, tag);
        else if (d->present_only && !present && copied)
            copy_list_add(&c->clear, 0, PM_PAGE, off, true, 0);
    }
    free(runs.v);
    return 0;
}

int coremem_runs(struct coremem *c, struct pagemap *pm, struct copy_list *copy, struct fail *f)
{
    for (size_t i = 0; i < c->nfinal; i++) {
        struct dump_map *d = c->final[i];
        if (!d->dump_len)
            continue;
        if (d->copied) {
            if (recopy(c, pm, d, (uint32_t)i, copy, f) < 0)
                return -1;
        } else if (d->present_only) {
            struct to_copy tc = {copy, d, (uint32_t)i, false};
            if (pagemap_runs(pm, d->m.start, d->m.start + d->dump_len, 0, add_run, &tc, f) < 0)
                return -1;
        } else {
            copy_list_add(copy, d->m.start, d->dump_len, d->file_off, false, (uint32_t)i);
        }
    }
    return 0;
}
