/*
 * ptrace_sampler.c — samples from snapshots (ptrace_sampler.h).
 */
#include "ptrace_sampler.h"

#include <stdio.h>
#include <stdlib.h>

#include "record_owner.h"

static void add_stack(struct recording *r, struct model *m, uint32_t st,
                      const struct rec_owner *o, uint64_t ns, bool on_cpu)
{
    const struct gstack *g = st < m->nstacks ? &m->stacks[st] : NULL;
    rec_add(r, g && g->n ? m->pcs + g->first : NULL, g ? g->n : 0, o, ns, on_cpu);
}

/* The goroutine unwound from thread i's registers, or -1. */
static long goroutine_on(const struct snapshot *s, size_t i)
{
    for (size_t k = 0; k < s->ngs; k++)
        if (s->gs[k].regs_from == REGS_THREAD && s->gs[k].thread == (int32_t)i)
            return (long)k;
    return -1;
}

/* --nonstop: the goroutine thread i's M runs, at its start function. */
static void sample_nonstop(struct session *ss, struct recording *r, size_t i, uint64_t ns)
{
    const struct snapshot *s = &ss->s;
    const struct target_thread *th = &ss->t->threads[i];
    const struct snap_m *m = snap_m_of_thread(s, i);
    const struct snap_g *g = m && m->curg ? model_g_at(&ss->m, m->curg) : NULL;
    struct rec_owner o;
    if (!g) {
        owner_of_thread(th->tid, th->name, &o);
        rec_add(r, NULL, 0, &o, ns, true);
        return;
    }
    uint64_t pc = g->startpc | PC_EXACT;
    owner_of_goroutine(s, g, "running", th->tid, th->name, &o);
    rec_add(r, &pc, g->startpc ? 1 : 0, &o, ns, true);
}

void cpu_clocks_free(struct cpu_clocks *c)
{
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* A thread's being stopped and let go costs it some CPU time (a system
 * call it sleeps in is interrupted and restarted): less than this. */
#define STOP_COST_NS 100000

/* The CPU time thread tid used since the last call, when more than a stop
 * costs it, else 0 (and 0 the first time: it sets the start).  The kernel
 * adds up a running thread's time at its clock ticks and switches, so a
 * thread that ran may show none over a short interval. */
static uint64_t cpu_used(struct cpu_clocks *c, pid_t pid, pid_t tid)
{
    char path[80];
    unsigned long long ns = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu", &ns) != 1)
        ns = 0;
    fclose(f);
    size_t i = 0;
    while (i < c->n && c->v[i].tid != tid)
        i++;
    if (i == c->n) {
        xgrow(&c->v, &c->cap, c->n + 1, sizeof *c->v);
        c->v[c->n++] = (struct cpu_clock){tid, ns};
        return 0;
    }
    uint64_t used = ns > c->v[i].ns + STOP_COST_NS ? ns - c->v[i].ns : 0;
    c->v[i].ns = ns;
    return used;
}

void sample_running(struct session *ss, struct recording *r, struct cpu_clocks *c)
{
    const struct snapshot *s = &ss->s;
    for (size_t i = 0; i < ss->t->nthreads; i++) {
        const struct target_thread *th = &ss->t->threads[i];
        if (!cpu_used(c, ss->t->pid, th->tid) || th->state != 'R')
            continue;
        if (s->nonstop) {
            sample_nonstop(ss, r, i, r->period_ns);
            continue;
        }
        struct rec_owner o;
        long k = goroutine_on(s, i);
        if (k >= 0 && ss->m.g_stack[k] != NO_STACK) {
            owner_of_goroutine(s, &s->gs[k], "running", th->tid, th->name, &o);
            add_stack(r, &ss->m, ss->m.g_stack[k], &o, r->period_ns, true);
        } else {
            owner_of_thread(th->tid, th->name, &o);
            add_stack(r, &ss->m, model_thread_stack(&ss->m, i), &o, r->period_ns, true);
        }
    }
}

void sample_parked(struct session *ss, struct recording *r, uint64_t ns)
{
    const struct snapshot *s = &ss->s;
    for (size_t k = 0; k < s->ngs; k++) {
        const struct snap_g *g = &s->gs[k];
        int st = (int)g->status;
        if (!g->readable || g->error || g->system || ss->m.g_stack[k] == NO_STACK ||
            !(st == s->st_waiting || st == s->st_runnable || st == s->st_syscall))
            continue;
        struct rec_owner o;
        owner_of_goroutine(s, g, NULL, 0, NULL, &o);
        add_stack(r, &ss->m, ss->m.g_stack[k], &o, ns, false);
    }
}
