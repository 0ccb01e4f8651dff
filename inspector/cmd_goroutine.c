/*
 * cmd_goroutine.c — `goroutine ID`: one goroutine's full stack, inlined
 * calls as frames of their own, and where it was created.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gview.h"
#include "textfmt.h"

struct opts {
    struct subopts common;
    uint64_t id;
};

static int parse(int argc, char **argv, void **out)
{
    struct opts *o = xcalloc(1, sizeof *o);
    bool have = false;
    for (int i = 1; i < argc; i++) {
        long v;
        if (strcmp(argv[i], "--json") == 0) {
            o->common.json = true;
        } else if (!have && parse_count(argv[i], &v)) {
            o->id = (uint64_t)v;
            have = true;
        } else {
            free(o);
            return usage_error("goroutine", "'%s' is not a goroutine id (usage: goroutine ID)",
                               argv[i]);
        }
    }
    if (!have) {
        free(o);
        return usage_error("goroutine", "which goroutine? (usage: goroutine ID)");
    }
    *out = o;
    return 0;
}

static int run(struct session *ss, void *opts)
{
    const struct opts *o = opts;
    const struct snap_g *g = model_find_goid(&ss->m, o->id);
    if (!g) {
        out_flush(&ss->out);
        fprintf(stderr, "goinspect: goroutine %" PRIu64 ": no such goroutine in PID %d\n", o->id,
                (int)ss->t->pid);
        return 1;
    }
    uint32_t gi = (uint32_t)(g - ss->s.gs);
    if (ss->json) {
        struct json j;
        json_init(&j, &ss->out);
        json_obj(&j);
        session_json_common(ss, &j);
        json_key(&j, "goroutine");
        gview_json(ss, &j, gi, -1);
        json_obj_end(&j);
        json_end(&j);
        return 0;
    }
    session_notes(ss);
    gview_line(ss, gi);
    if (!g->error)
        gview_stack(ss, ss->m.g_stack[gi], -1);
    struct xframe cr;
    if (model_created_by(&ss->m, g, &cr)) {
        const char *fn = cr.sym.function ? cr.sym.function : "??";
        outf(&ss->out, "    created by %s in goroutine %" PRIu64 "\n", fn, g->parentgoid);
        if (cr.sym.file)
            outf(&ss->out, "        at %s:%" PRIu32 "\n", cr.sym.file, cr.sym.line);
    }
    return 0;
}

const struct subcommand sub_goroutine = {
    .name = "goroutine",
    .synopsis = "ID",
    .help = "one goroutine's full stack",
    .parse = parse,
    .run = run,
};
