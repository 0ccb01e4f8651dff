/*
 * record_owner.c — goroutine or thread of a sample (record_owner.h).
 */
#include "record_owner.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsearch.h"
#include "fail.h"

static int cmp_range(const void *a, const void *b)
{
    const struct grange *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

void gindex_build(struct gindex *x, const struct snapshot *s)
{
    x->n = 0;
    for (size_t i = 0; i < s->ngs; i++) {
        const struct snap_g *g = &s->gs[i];
        if (!g->readable || g->error || !g->stacklo || g->stackhi <= g->stacklo ||
            (int)g->status == s->st_dead)
            continue;
        xgrow(&x->v, &x->cap, x->n + 1, sizeof *x->v);
        x->v[x->n++] = (struct grange){g->stacklo, g->stackhi, (uint32_t)i};
    }
    if (x->n)
        qsort(x->v, x->n, sizeof *x->v, cmp_range);
}

void gindex_free(struct gindex *x)
{
    free(x->v);
    memset(x, 0, sizeof *x);
}

const struct snap_g *gindex_find(const struct gindex *x, const struct snapshot *s, uint64_t sp)
{
    size_t lo = bsearch_upto(x->v, x->n, sizeof *x->v, offsetof(struct grange, lo), sp);
    if (lo == 0 || sp >= x->v[lo - 1].hi)
        return NULL;
    return &s->gs[x->v[lo - 1].g];
}

static void copy_name(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

void owner_of_goroutine(const struct snapshot *s, const struct snap_g *g, const char *status,
                        pid_t tid, const char *thread, struct rec_owner *o)
{
    memset(o, 0, sizeof *o);
    o->goroutine = true;
    o->goid = g->goid;
    o->gopc = g->parentgoid ? g->gopc : 0;
    copy_name(o->status, sizeof o->status, status ? status : snap_status_name(s, g->status));
    if (!status && (int)g->status == s->st_waiting)
        copy_name(o->wait, sizeof o->wait, snap_waitreason_name(s, g->waitreason));
    o->tid = tid;
    copy_name(o->thread, sizeof o->thread, thread);
}

void owner_of_thread(pid_t tid, const char *thread, struct rec_owner *o)
{
    memset(o, 0, sizeof *o);
    o->tid = tid;
    copy_name(o->status, sizeof o->status, "running");
    copy_name(o->thread, sizeof o->thread, thread);
}

void thread_name_of(struct target *t, pid_t tid, char name[16])
{
    const struct target_thread *th = target_thread_by_tid(t, tid);
    if (th) {
        memcpy(name, th->name, 16);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)t->pid, (int)tid);
    FILE *fp = fopen(path, "r");
    strcpy(name, "?");
    if (fp) {
        if (fgets(name, 16, fp))
            name[strcspn(name, "\n")] = 0;
        fclose(fp);
    }
}
