/*
 * cmd_goroutines.c — `goroutines [-t [DEPTH]] [-g [KIND]] [-s STATUS] [--with TEXT]
 * [-n LIMIT]`: one line per goroutine (Delve's form), its stack with -t,
 * or groups of goroutines with the same state and the same stack, user
 * frame, creation site or start function with -g [KIND].
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gview.h"
#include "textfmt.h"

struct opts {
    struct subopts common;
    bool stacks;            /* -t */
    long depth;             /* -t DEPTH; -1: all */
    bool group;             /* -g */
    enum gkind kind;        /* -g KIND */
    const char *status;     /* -s */
    const char *with;       /* --with */
    long limit;             /* -n; -1: all */
};

static int parse(int argc, char **argv, void **out)
{
    struct opts *o = xcalloc(1, sizeof *o);
    o->depth = -1;
    o->limit = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-t") == 0) {
            o->stacks = true;
            if (next && parse_count(next, &o->depth))
                i++;
        } else if (strcmp(a, "-g") == 0) {
            o->group = true;
            o->kind = GK_STACK;
            if (next && next[0] != '-') {   /* else: nothing or an option, the default */
                int k = gkind_parse(next);
                if (k < 0) {
                    free(o);
                    return usage_error("goroutines", "-g: unknown kind '%s' (kinds: "
                                       GKIND_LIST ")", next);
                }
                o->kind = (enum gkind)k;
                i++;
            }
        } else if (strcmp(a, "--json") == 0) {
            o->common.json = true;
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--with") == 0 || strcmp(a, "-n") == 0) {
            if (!next) {
                free(o);
                return usage_error("goroutines", "%s needs a value", a);
            }
            if (a[1] == 's') {
                o->status = next;
            } else if (a[1] == '-') {
                o->with = next;
            } else if (!parse_count(next, &o->limit)) {
                free(o);
                return usage_error("goroutines", "-n: '%s' is not a count", next);
            }
            i++;
        } else {
            free(o);
            return usage_error("goroutines", "unknown argument '%s' (usage: goroutines [-t "
                                             "[DEPTH]] [-g [KIND]] [-s STATUS] [--with TEXT] "
                                             "[-n LIMIT])", a);
        }
    }
    *out = o;
    return 0;
}

static const char *const loc_label[GK_NKINDS] = {
    [GK_USER] = "User", [GK_GO] = "Created by", [GK_START] = "Start"};

/* -s takes a state ("waiting") or a wait reason ("chan receive"). */
static bool status_matches(struct session *ss, const struct snap_g *g, const char *want)
{
    if (!g->readable)
        return false;
    if (strcmp(snap_status_name(&ss->s, g->status), want) == 0)
        return true;
    return (int)g->status == ss->s.st_waiting &&
           strcmp(snap_waitreason_name(&ss->s, g->waitreason), want) == 0;
}

static bool status_known(struct session *ss, const char *want)
{
    return rtdesc_enum_value(&ss->d, "gstatus", want) >= 0 ||
           (want[0] && rtdesc_enum_value(&ss->d, "waitreason", want) >= 0);
}

/* The goroutines that pass the filters, in id order. */
static size_t select_goroutines(struct session *ss, const struct opts *o, uint32_t *sel)
{
    size_t n = 0;
    for (size_t i = 0; i < ss->s.ngs; i++) {
        uint32_t gi = ss->m.order[i];
        const struct snap_g *g = &ss->s.gs[gi];
        if (o->status && !status_matches(ss, g, o->status))
            continue;
        if (o->with && !model_stack_mentions(&ss->m, ss->m.g_stack[gi], o->with))
            continue;
        sel[n++] = gi;
    }
    return n;
}

static void group_state(struct session *ss, const struct ggroup *gr, char *buf, size_t len)
{
    const char *st = snap_status_name(&ss->s, gr->status);
    const char *why = snap_waitreason_name(&ss->s, gr->waitreason);
    if ((int)gr->status == ss->s.st_waiting && why[0])
        snprintf(buf, len, "%s", why);
    else
        snprintf(buf, len, "%s", st);
}

static void print_groups(struct session *ss, const struct opts *o, const struct ggroups *gg)
{
    size_t shown = o->limit >= 0 && (size_t)o->limit < gg->n ? (size_t)o->limit : gg->n;
    for (size_t k = 0; k < shown; k++) {
        const struct ggroup *gr = &gg->v[k];
        char st[128], loc[1024];
        group_state(ss, gr, st, sizeof st);
        const char *s = gr->count == 1 ? "" : "s";
        outf(&ss->out, "%" PRIu32 " goroutine%s [%s]: goroutine%s", gr->count, s, st, s);
        for (uint32_t i = 0; i < gr->count && i < 8; i++) {
            const struct snap_g *g = &ss->s.gs[gr->members[i]];
            if (g->readable)
                outf(&ss->out, " %" PRIu64, g->goid);
            else
                outf(&ss->out, " ?");
        }
        outf(&ss->out, "%s\n", gr->count > 8 ? " ..." : "");
        const struct snap_g *g0 = &ss->s.gs[gr->members[0]];
        if (g0->error)
            outf(&ss->out, "        error: %s\n", g0->error);
        else if (loc_label[gg->kind]) {
            /* no location: no stack (User: ?, as a goroutine's line says), or
             * no creator (goroutine 1) */
            snprintf(loc, sizeof loc, "%s", gg->kind == GK_USER ? "?" : "-");
            if (gr->has_loc)
                xframe_format(&ss->m, &gr->loc, loc, sizeof loc);
            outf(&ss->out, "        %s: %s\n", loc_label[gg->kind], loc);
        } else if (gr->stack == NO_STACK)
            outf(&ss->out, "        (no stack)\n");
        else
            gview_stack(ss, gr->stack, o->stacks ? o->depth : -1);
        outf(&ss->out, "\n");
    }
    if (shown < gg->n)
        outf(&ss->out, "(%zu more groups)\n", gg->n - shown);
}

static void json_groups(struct session *ss, struct json *j, const struct opts *o,
                        const struct ggroups *gg)
{
    size_t shown = o->limit >= 0 && (size_t)o->limit < gg->n ? (size_t)o->limit : gg->n;
    json_kstr(j, "kind", gkind_names[gg->kind]);
    json_key(j, "groups");
    json_arr(j);
    for (size_t k = 0; k < shown; k++) {
        const struct ggroup *gr = &gg->v[k];
        json_obj(j);
        json_ku64(j, "count", gr->count);
        json_kstr(j, "status", snap_status_name(&ss->s, gr->status));
        json_kstr(j, "wait_reason", (int)gr->status == ss->s.st_waiting
                                        ? snap_waitreason_name(&ss->s, gr->waitreason) : "");
        json_key(j, "ids");
        json_arr(j);
        for (uint32_t i = 0; i < gr->count; i++) {
            const struct snap_g *g = &ss->s.gs[gr->members[i]];
            if (g->readable)
                json_u64(j, g->goid);
        }
        json_arr_end(j);
        const struct snap_g *g0 = &ss->s.gs[gr->members[0]];
        json_kstr(j, "error", g0->error);
        json_key(j, "location");
        if (gr->has_loc)
            json_frame(ss, j, &gr->loc, false);
        else
            json_null(j);
        if (!loc_label[gg->kind]) {
            json_key(j, "frames");
            gview_json_frames(ss, j, g0->error ? NO_STACK : gr->stack,
                              o->stacks ? o->depth : -1);
        }
        json_obj_end(j);
    }
    json_arr_end(j);
}

static int run(struct session *ss, void *opts)
{
    const struct opts *o = opts;
    if (o->status && !status_known(ss, o->status)) {
        usage_error("goroutines", "-s: '%s' is neither a goroutine state nor a wait reason of "
                                  "this runtime", o->status);
        return 2;
    }
    uint32_t *sel = xmalloc((ss->s.ngs ? ss->s.ngs : 1) * sizeof *sel);
    size_t n = select_goroutines(ss, o, sel);
    size_t shown = o->limit >= 0 && (size_t)o->limit < n ? (size_t)o->limit : n;
    struct ggroups gg = {0};
    if (o->group)
        model_group(&ss->m, sel, n, o->kind, &gg);
    if (ss->json) {
        struct json j;
        json_init(&j, &ss->out);
        json_obj(&j);
        session_json_common(ss, &j);
        json_ku64(&j, "total", ss->s.ngs);
        json_ku64(&j, "matched", n);
        if (o->group) {
            json_groups(ss, &j, o, &gg);
        } else {
            json_key(&j, "goroutines");
            json_arr(&j);
            for (size_t i = 0; i < shown; i++)
                gview_json(ss, &j, sel[i], o->stacks ? (o->depth < 0 ? -1 : o->depth) : 0);
            json_arr_end(&j);
        }
        json_obj_end(&j);
        json_end(&j);
    } else {
        session_notes(ss);
        if (o->group) {
            print_groups(ss, o, &gg);
        } else {
            for (size_t i = 0; i < shown; i++) {
                gview_line(ss, sel[i]);
                const struct snap_g *g = &ss->s.gs[sel[i]];
                if (o->stacks && g->readable && !g->error)
                    gview_stack(ss, ss->m.g_stack[sel[i]], o->depth);
            }
            if (shown < n)
                outf(&ss->out, "(%zu more goroutines)\n", n - shown);
        }
        char p[64];
        session_pause_text(ss, p, sizeof p);
        outf(&ss->out, "[%zu goroutine%s%s; %s]\n", n, n == 1 ? "" : "s",
             o->status || o->with ? " matched" : "", p);
    }
    ggroups_free(&gg);
    free(sel);
    return 0;
}

const struct subcommand sub_goroutines = {
    .name = "goroutines",
    .synopsis = "[-t [DEPTH]] [-g [KIND]] [-s STATUS] [--with TEXT] [-n LIMIT]",
    .help = "every goroutine, one line each",
    .parse = parse,
    .run = run,
};
