/*
 * cmd_summary.c — `summary`, the default view: the executable, runtime,
 * GOMAXPROCS, threads, goroutines by state, the heap (when the runtime
 * describes one), the largest groups of goroutines, and the pause.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "gview.h"
#include "heapstats.h"
#include "signames.h"
#include "textfmt.h"

enum { TOP_GROUPS = 5 };

struct counts {
    size_t total, unreadable;
    size_t *by_status;      /* per gstatus value */
    size_t *by_reason;      /* per waitreason value, waiting goroutines */
    size_t nstatus, nreason;
};

static void count(struct session *ss, struct counts *c)
{
    const struct rt_enum *es = rtdesc_enum(&ss->d, "gstatus");
    const struct rt_enum *er = rtdesc_enum(&ss->d, "waitreason");
    memset(c, 0, sizeof *c);
    c->nstatus = es ? es->nvalues : 0;
    c->nreason = er ? er->nvalues : 0;
    c->by_status = xcalloc(c->nstatus + 1, sizeof *c->by_status);
    c->by_reason = xcalloc(c->nreason + 1, sizeof *c->by_reason);
    for (size_t i = 0; i < ss->s.ngs; i++) {
        const struct snap_g *g = &ss->s.gs[i];
        if (!g->readable) {
            c->unreadable++;
            continue;
        }
        c->total++;
        if (g->status < c->nstatus)
            c->by_status[g->status]++;
        if ((int)g->status == ss->s.st_waiting && g->waitreason < c->nreason)
            c->by_reason[g->waitreason]++;
    }
}

/* The heap in use and its goal, collections and the last pause. */
static const struct heapsnap *summary_heap(struct session *ss, struct memstats *ms)
{
    const struct heapsnap *h = ss->s.heap;
    if (!h || !h->described)
        return NULL;
    memstats_compute(h, ms);
    return h;
}

static void json_heap(struct session *ss, struct json *j)
{
    struct memstats ms;
    const struct heapsnap *h = summary_heap(ss, &ms);
    if (!h) {
        json_null(j);
        return;
    }
    json_obj(j);
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"heap_alloc", ms.heap_alloc}, {"heap_objects", ms.heap_objects},
        {"next_gc", ms.next_gc}, {"heap_inuse", ms.heap_inuse},
        {"stack_inuse", ms.stack_inuse}, {"heap_idle", ms.heap_idle},
        {"heap_released", ms.heap_released}, {"sys", ms.sys}, {"num_gc", ms.num_gc},
        {"last_gc", ms.last_gc}, {"last_pause_ns", ms.last_pause_ns},
        {"pause_total_ns", ms.pause_total_ns},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        json_ku64(j, f[i].name, f[i].v);
    json_kbool(j, "gc_running", h->gc_running != 0);
    json_obj_end(j);
}

static void text_heap(struct session *ss)
{
    struct out *o = &ss->out;
    struct memstats ms;
    const struct heapsnap *h = summary_heap(ss, &ms);
    if (!h) {
        outf(o, "heap         not described by this runtime (descriptor version %u)\n",
             ss->d.version);
        return;
    }
    char a[24], goal[24], inuse[24], st[24], idle[24], rel[24];
    fmt_size(ms.heap_alloc, a, sizeof a);
    fmt_size(ms.next_gc, goal, sizeof goal);
    fmt_size(ms.heap_inuse, inuse, sizeof inuse);
    fmt_size(ms.stack_inuse, st, sizeof st);
    fmt_size(ms.heap_idle, idle, sizeof idle);
    fmt_size(ms.heap_released, rel, sizeof rel);
    outf(o, "heap         %s in %" PRIu64 " objects (goal %s); spans: %s of objects, %s of "
         "stacks, %s idle (%s released)\n", a, ms.heap_objects, goal, inuse, st, idle, rel);
    if (!ms.num_gc) {
        outf(o, "collections  none yet%s\n", h->gc_running ? " (the first is running)" : "");
        return;
    }
    uint64_t now_ns = ss->t->frozen && ss->t->dumped_wall_ns ? (uint64_t)ss->t->dumped_wall_ns
                                                                : wall_ns();
    char ago[24], last[24], total[24];
    fmt_duration(now_ns > ms.last_gc ? (int64_t)(now_ns - ms.last_gc) : 0, ago, sizeof ago);
    fmt_pause(ms.last_pause_ns, last, sizeof last);
    fmt_pause(ms.pause_total_ns, total, sizeof total);
    outf(o, "collections  %" PRIu64 ", the last %s ago, paused %s (%s in all)%s\n", ms.num_gc,
         ago, last, total, h->gc_running ? "; one is running" : "");
}

/* The goroutine a thread of the snapshot runs, or NULL. */
static const struct snap_g *running_on(struct session *ss, pid_t tid)
{
    for (size_t i = 0; i < ss->t->nthreads; i++) {
        const struct snap_m *m = ss->t->threads[i].tid == tid ? snap_m_of_thread(&ss->s, i) : NULL;
        if (m && m->curg)
            return model_g_at(&ss->m, m->curg);
    }
    return NULL;
}

static void json_ended(struct session *ss, struct json *j)
{
    const struct target_end *e = &ss->t->end;
    json_key(j, "ended");
    if (!ss->t->frozen || (!e->known && !e->alive)) {
        json_null(j);
        return;
    }
    json_obj(j);
    json_kbool(j, "alive", e->alive);
    char sig[32];
    json_kstr(j, "signal", e->known ? signal_name(e->signo, sig, sizeof sig) : NULL);
    json_key(j, "signo");
    e->known ? json_i64(j, e->signo) : json_null(j);
    json_key(j, "code");
    e->has_code ? json_i64(j, e->code) : json_null(j);
    json_kstr(j, "code_name", e->has_code ? sigcode_name(e->signo, e->code) : NULL);
    json_key(j, "addr");
    e->has_addr ? json_u64(j, e->addr) : json_null(j);
    json_key(j, "sender");
    e->has_code && e->code <= 0 ? json_i64(j, e->sender) : json_null(j);
    json_ki64(j, "thread", e->tid);
    const struct snap_g *g = running_on(ss, e->tid);
    json_key(j, "goroutine");
    g ? json_u64(j, g->goid) : json_null(j);
    json_obj_end(j);
}

/* "ended        by SIGSEGV (SEGV_MAPERR, address 0x8) on thread 6011,
 * running goroutine 5", or "dumped alive (a gcore)". */
static void text_ended(struct session *ss)
{
    const struct target_end *e = &ss->t->end;
    struct out *o = &ss->out;
    if (!ss->t->frozen)
        return;
    if (e->alive) {
        outf(o, "ended        not: dumped alive (a gcore of the running process)\n");
        return;
    }
    if (!e->known)
        return;
    char sig[32], how[160] = "";
    const char *code = e->has_code ? sigcode_name(e->signo, e->code) : NULL;
    if (e->has_addr)
        snprintf(how, sizeof how, " (%s, address %#" PRIx64 ")", code ? code : "?", e->addr);
    else if (e->has_code && e->code <= 0 && e->sender)
        snprintf(how, sizeof how, " (%s from PID %d)", code ? code : "sent", (int)e->sender);
    else if (code)
        snprintf(how, sizeof how, " (%s)", code);
    outf(o, "ended        by %s%s on thread %d", signal_name(e->signo, sig, sizeof sig), how,
         (int)e->tid);
    const struct snap_g *g = running_on(ss, e->tid);
    if (g)
        outf(o, ", running goroutine %" PRIu64, g->goid);
    outf(o, "\n");
}

static void json_summary(struct session *ss, const struct counts *c, const struct ggroups *gg)
{
    const struct rt_enum *es = rtdesc_enum(&ss->d, "gstatus");
    const struct rt_enum *er = rtdesc_enum(&ss->d, "waitreason");
    struct json j;
    json_init(&j, &ss->out);
    json_obj(&j);
    session_json_common(ss, &j);
    json_kstr(&j, "executable", ss->t->exe);
    json_ended(ss, &j);
    json_kstr(&j, "runtime_version", ss->d.runtime_version);
    json_ku64(&j, "descriptor_version", ss->d.version);
    json_ki64(&j, "gomaxprocs", ss->s.gomaxprocs);
    json_key(&j, "threads");
    json_obj(&j);
    json_ku64(&j, "total", ss->t->nthreads);
    json_ku64(&j, "ms", ss->s.nms);
    json_obj_end(&j);
    json_key(&j, "goroutines");
    json_obj(&j);
    json_ku64(&j, "total", c->total);
    json_ku64(&j, "unreadable", c->unreadable);
    json_key(&j, "by_status");
    json_obj(&j);
    for (size_t i = 0; i < c->nstatus; i++)
        if (c->by_status[i])
            json_ku64(&j, es->values[i], c->by_status[i]);
    json_obj_end(&j);
    json_key(&j, "by_wait_reason");
    json_obj(&j);
    for (size_t i = 0; i < c->nreason; i++)
        if (c->by_reason[i] && er->values[i][0])
            json_ku64(&j, er->values[i], c->by_reason[i]);
    json_obj_end(&j);
    json_obj_end(&j);
    json_key(&j, "heap");
    json_heap(ss, &j);
    json_kstr(&j, "group_kind", gkind_names[gg->kind]);
    json_key(&j, "groups");
    json_arr(&j);
    for (size_t k = 0; k < gg->n && k < TOP_GROUPS; k++) {
        const struct ggroup *gr = &gg->v[k];
        json_obj(&j);
        json_ku64(&j, "count", gr->count);
        json_kstr(&j, "status", snap_status_name(&ss->s, gr->status));
        json_kstr(&j, "wait_reason", (int)gr->status == ss->s.st_waiting
                                         ? snap_waitreason_name(&ss->s, gr->waitreason) : "");
        struct xframe top, user;
        json_key(&j, "user");
        if (model_top_user(&ss->m, gr->stack, &top, &user))
            json_frame(ss, &j, &user, false);
        else
            json_null(&j);
        json_obj_end(&j);
    }
    json_arr_end(&j);
    json_ku64(&j, "stop_rounds", ss->s.stop_rounds);
    json_ku64(&j, "bytes_copied", ss->s.bytes_copied);
    json_ku64(&j, "stacks_copied", ss->s.stacks_copied);
    json_ku64(&j, "stacks_precopied", ss->s.stacks_precopied);
    json_ku64(&j, "goroutines_reread", ss->s.gs_reread);
    json_key(&j, "uptime_ns");
    if (ss->s.runtime_start > 0)
        json_i64(&j, ss->s.taken_ns - ss->s.runtime_start);
    else
        json_null(&j);
    json_obj_end(&j);
    json_end(&j);
}

static void text_summary(struct session *ss, const struct counts *c, const struct ggroups *gg)
{
    struct out *o = &ss->out;
    const struct rt_enum *es = rtdesc_enum(&ss->d, "gstatus");
    const struct rt_enum *er = rtdesc_enum(&ss->d, "waitreason");
    session_notes(ss);
    outf(o, "%s: %s\n", ss->t->what, ss->t->exe);
    text_ended(ss);
    char up[32] = "";
    if (ss->s.runtime_start > 0) {
        char d[24];
        fmt_duration(ss->s.taken_ns - ss->s.runtime_start, d, sizeof d);
        snprintf(up, sizeof up, ", up %s", d);
    }
    outf(o, "runtime      %s (descriptor version %u%s)\n", ss->d.runtime_version, ss->d.version,
         up);
    outf(o, "GOMAXPROCS   %d\n", (int)ss->s.gomaxprocs);
    outf(o, "threads      %zu (%zu Ms)\n", ss->t->nthreads, ss->s.nms);
    outf(o, "goroutines   %zu", c->total);
    const char *sep = " (";
    for (size_t i = 0; i < c->nstatus; i++)
        if (c->by_status[i]) {
            outf(o, "%s%zu %s", sep, c->by_status[i], es->values[i]);
            sep = ", ";
        }
    if (c->unreadable) {
        outf(o, "%s%zu unreadable", sep, c->unreadable);
        sep = ", ";
    }
    outf(o, "%s\n", sep[0] == ',' ? ")" : "");
    for (size_t i = 0; i < c->nreason; i++)
        if (c->by_reason[i] && er->values[i][0])
            outf(o, "  %-24s %zu\n", er->values[i], c->by_reason[i]);
    text_heap(ss);
    if (gg->n) {
        outf(o, "largest groups (goroutines with the same state and stack outside the runtime):\n");
        for (size_t k = 0; k < gg->n && k < TOP_GROUPS; k++) {
            const struct ggroup *gr = &gg->v[k];
            char st[96], loc[1024] = "?";
            const char *why = snap_waitreason_name(&ss->s, gr->waitreason);
            snprintf(st, sizeof st, "%s", (int)gr->status == ss->s.st_waiting && why[0]
                                              ? why : snap_status_name(&ss->s, gr->status));
            struct xframe top, user;
            if (model_top_user(&ss->m, gr->stack, &top, &user))
                xframe_format(&ss->m, &user, loc, sizeof loc);
            outf(o, "  %8" PRIu32 "  %-22s %s\n", gr->count, st, loc);
        }
    }
    char p[32], sz[32];
    fmt_pause(ss->s.pause_ns, p, sizeof p);
    fmt_size(ss->s.bytes_copied, sz, sizeof sz);
    if (ss->t->frozen)
        outf(o, "read         %s from the core\n", sz);
    else if (ss->s.nonstop)
        outf(o, "pause        none (--nonstop; %u cop%s of the goroutine table, %s read)\n",
             ss->s.tries, ss->s.tries == 1 ? "y" : "ies", sz);
    else
        outf(o, "pause        %s (%zu threads stopped in %u round%s; %s copied, %zu stacks "
                "pre-copied)\n", p, ss->t->nthreads, ss->s.stop_rounds,
             ss->s.stop_rounds == 1 ? "" : "s", sz, ss->s.stacks_precopied);
    (void)es;
}

static int run(struct session *ss, void *opts)
{
    (void)opts;
    struct counts c;
    count(ss, &c);
    uint32_t *sel = xmalloc((ss->s.ngs ? ss->s.ngs : 1) * sizeof *sel);
    size_t n = 0;
    for (size_t i = 0; i < ss->s.ngs; i++)
        if (ss->s.gs[ss->m.order[i]].readable)
            sel[n++] = ss->m.order[i];
    struct ggroups gg;
    model_group(&ss->m, sel, n, GK_STACK, &gg);
    if (ss->json)
        json_summary(ss, &c, &gg);
    else
        text_summary(ss, &c, &gg);
    ggroups_free(&gg);
    free(sel);
    free(c.by_status);
    free(c.by_reason);
    return 0;
}

const struct subcommand sub_summary = {
    .name = "summary",
    .synopsis = "",
    .help = "executable, runtime, threads, goroutines by state, heap, pause",
    .parse = parse_plain,
    .run = run,
    .heap = HEAP_COUNTS,
};
