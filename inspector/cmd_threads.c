/*
 * cmd_threads.c — `threads [-t]`: every OS thread of the target: tid, name,
 * kernel state (before the stop), the M it is, the P that M holds, the
 * goroutine it runs, and its symbolized pc (with -t, its whole stack).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gview.h"
#include "textfmt.h"

struct opts {
    struct subopts common;
    bool stacks;
};

static int parse(int argc, char **argv, void **out)
{
    static const char *const flags[] = {"-t", NULL};
    struct opts *o = xcalloc(1, sizeof *o);
    if (parse_flags("threads", argc, argv, flags, &o->stacks, &o->common) < 0) {
        free(o);
        return -1;
    }
    *out = o;
    return 0;
}

struct trow {
    const struct snap_m *m;
    const struct snap_p *p;
    const struct snap_g *g;
};

static struct trow row_of(struct session *ss, size_t i)
{
    struct trow r = {snap_m_of_thread(&ss->s, i), NULL, NULL};
    if (!r.m)
        return r;
    if (r.m->p)
        r.p = snap_p_at(&ss->s, r.m->p);
    if (r.m->curg)
        r.g = model_g_at(&ss->m, r.m->curg);
    return r;
}

static void json_threads(struct session *ss, const struct opts *o)
{
    struct json j;
    json_init(&j, &ss->out);
    json_obj(&j);
    session_json_common(ss, &j);
    json_key(&j, "threads");
    json_arr(&j);
    for (size_t i = 0; i < ss->t->nthreads; i++) {
        const struct target_thread *th = &ss->t->threads[i];
        struct trow r = row_of(ss, i);
        json_obj(&j);
        json_ki64(&j, "tid", th->tid);
        json_kstr(&j, "name", th->name);
        char st[2] = {th->state, 0};
        json_kstr(&j, "state", st);
        json_key(&j, "m");
        r.m ? json_i64(&j, r.m->id) : json_null(&j);
        json_key(&j, "p");
        r.p ? json_i64(&j, r.p->id) : json_null(&j);
        json_key(&j, "goroutine");
        r.g ? json_u64(&j, r.g->goid) : json_null(&j);
        json_key(&j, "pc");
        th->has_regs ? json_u64(&j, th->regs.rip) : json_null(&j);
        json_key(&j, "sp");
        th->has_regs ? json_u64(&j, th->regs.rsp) : json_null(&j);
        struct xframe top, user;
        uint32_t stack = model_thread_stack(&ss->m, i);
        json_key(&j, "frame");
        if (model_top_user(&ss->m, stack, &top, &user))
            json_frame(ss, &j, &top, false);
        else
            json_null(&j);
        json_kstr(&j, "error", th->has_regs ? NULL : th->regs_error);
        if (o->stacks) {
            json_key(&j, "frames");
            gview_json_frames(ss, &j, stack, -1);
            json_kstr(&j, "stack_error", gview_stack_error(ss, stack));
        }
        json_obj_end(&j);
    }
    json_arr_end(&j);
    json_obj_end(&j);
    json_end(&j);
}

static int run(struct session *ss, void *opts)
{
    const struct opts *o = opts;
    if (ss->json) {
        json_threads(ss, o);
        return 0;
    }
    session_notes(ss);
    struct out *out = &ss->out;
    outf(out, "  %-8s %-16s %-5s %-5s %-5s %-9s %s\n", "TID", "NAME", "STATE", "M", "P", "G",
         "PC");
    for (size_t i = 0; i < ss->t->nthreads; i++) {
        const struct target_thread *th = &ss->t->threads[i];
        struct trow r = row_of(ss, i);
        char mid[24] = "-", pid[24] = "-", gid[24] = "-", loc[1100];
        if (r.m)
            snprintf(mid, sizeof mid, "%" PRId64, r.m->id);
        if (r.p)
            snprintf(pid, sizeof pid, "%" PRId64, r.p->id);
        if (r.g)
            snprintf(gid, sizeof gid, "%" PRIu64, r.g->goid);
        struct xframe top, user;
        if (!th->has_regs) {
            snprintf(loc, sizeof loc, "- (%s)", th->regs_error);
        } else if (model_top_user(&ss->m, model_thread_stack(&ss->m, i), &top, &user)) {
            char f[1024];
            xframe_format(&ss->m, &top, f, sizeof f);
            snprintf(loc, sizeof loc, "0x%" PRIx64 " %s", th->regs.rip, f);
        } else {
            snprintf(loc, sizeof loc, "0x%" PRIx64, th->regs.rip);
        }
        outf(out, "%c %-8d %-16s %-5c %-5s %-5s %-9s %s\n", r.g ? '*' : ' ', (int)th->tid,
             th->name, th->state, mid, pid, gid, loc);
        if (o->stacks && th->has_regs)
            gview_stack(ss, model_thread_stack(&ss->m, i), -1);
    }
    return 0;
}

const struct subcommand sub_threads = {
    .name = "threads",
    .synopsis = "[-t]",
    .help = "every OS thread: tid, name, state, M, P, goroutine, pc",
    .parse = parse,
    .run = run,
};
