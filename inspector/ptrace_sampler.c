/*
 * ptrace_sampler.c — samples from snapshots (ptrace_sampler.h).
 */
#include "ptrace_sampler.h"

#include <stdlib.h>

#include "record_owner.h"

static void add_stack(struct recording *r, struct model *m, uint32_t st,
                      const struct rec_owner *o, bool on_cpu)
{
    const struct gstack *g = st < m->nstacks ? &m->stacks[st] : NULL;
    rec_add(r, g && g->n ? m->pcs + g->first : NULL, g ? g->n : 0, o, r->period_ns, on_cpu);
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
static void sample_nonstop(struct session *ss, struct recording *r, size_t i)
{
    const struct snapshot *s = &ss->s;
    const struct target_thread *th = &ss->t->threads[i];
    const struct snap_m *m = snap_m_of_thread(s, i);
    const struct snap_g *g = m && m->curg ? model_g_at(&ss->m, m->curg) : NULL;
    struct rec_owner o;
    if (!g) {
        owner_of_thread(th->tid, th->name, &o);
        rec_add(r, NULL, 0, &o, r->period_ns, true);
        return;
    }
    uint64_t pc = g->startpc | PC_EXACT;
    owner_of_goroutine(s, g, "running", th->tid, th->name, &o);
    rec_add(r, &pc, g->startpc ? 1 : 0, &o, r->period_ns, true);
}

void sample_running(struct session *ss, struct recording *r)
{
    const struct snapshot *s = &ss->s;
    for (size_t i = 0; i < ss->t->nthreads; i++) {
        const struct target_thread *th = &ss->t->threads[i];
        if (th->state != 'R')
            continue;
        if (s->nonstop) {
            sample_nonstop(ss, r, i);
            continue;
        }
        struct rec_owner o;
        long k = goroutine_on(s, i);
        if (k >= 0 && ss->m.g_stack[k] != NO_STACK) {
            owner_of_goroutine(s, &s->gs[k], "running", th->tid, th->name, &o);
            add_stack(r, &ss->m, ss->m.g_stack[k], &o, true);
        } else {
            owner_of_thread(th->tid, th->name, &o);
            add_stack(r, &ss->m, model_thread_stack(&ss->m, i), &o, true);
        }
    }
}

void sample_parked(struct session *ss, struct recording *r)
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
        add_stack(r, &ss->m, ss->m.g_stack[k], &o, false);
    }
}
