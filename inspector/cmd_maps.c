/*
 * cmd_maps.c — `maps [--reverse]`: /proc/PID/maps as copied in the
 * snapshot, each mapping annotated with what it is to the runtime, and the
 * goroutine stack chunks broken into runs of stacks with their goroutine
 * ids.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memmap.h"
#include "textfmt.h"

struct opts {
    struct subopts common;
    bool reverse;
};

static int parse(int argc, char **argv, void **out)
{
    static const char *const flags[] = {"--reverse", NULL};
    struct opts *o = xcalloc(1, sizeof *o);
    if (parse_flags("maps", argc, argv, flags, &o->reverse, &o->common) < 0) {
        free(o);
        return -1;
    }
    *out = o;
    return 0;
}

static void text_region(struct session *ss, const struct memmap *mm, const struct region *r)
{
    const struct mapping *mp = r->map;
    char sz[24];
    fmt_size(mp->end - mp->start, sz, sizeof sz);
    outf(&ss->out, "%012" PRIx64 "-%012" PRIx64 " %s %08" PRIx64 " %6s  %s%s%s\n", mp->start,
         mp->end, mp->perms, mp->offset, sz, r->desc, mp->path[0] == '/' ? "  " : "",
         mp->path[0] == '/' ? mp->path : "");
    for (size_t k = 0; k < r->nruns; k++) {
        const struct region_run *run = &mm->runs[r->first_run + k];
        char rs[24], ids[512];
        fmt_size(run->end - run->start, rs, sizeof rs);
        if (run->kind == RUN_GOROUTINE_STACKS) {
            format_ids(mm->ids + run->first_id, run->nids, 12, ids, sizeof ids);
            outf(&ss->out, "    %012" PRIx64 "-%012" PRIx64 " %6s  %zu goroutine stack%s: %s\n",
                 run->start, run->end, rs, run->nids, run->nids == 1 ? "" : "s", ids);
        } else {
            outf(&ss->out, "    %012" PRIx64 "-%012" PRIx64 " %6s  no goroutine stack\n",
                 run->start, run->end, rs);
        }
    }
}

static void json_region(struct session *ss, struct json *j, const struct memmap *mm,
                        const struct region *r)
{
    const struct mapping *mp = r->map;
    json_obj(j);
    json_ku64(j, "start", mp->start);
    json_ku64(j, "end", mp->end);
    json_kstr(j, "perms", mp->perms);
    json_ku64(j, "offset", mp->offset);
    json_kstr(j, "path", mp->path);
    json_kstr(j, "kind", region_kind_names[r->kind]);
    json_kstr(j, "description", r->desc);
    json_key(j, "thread");
    if (r->thread >= 0)
        json_i64(j, ss->t->threads[r->thread].tid);
    else
        json_null(j);
    json_key(j, "runs");
    json_arr(j);
    for (size_t k = 0; k < r->nruns; k++) {
        const struct region_run *run = &mm->runs[r->first_run + k];
        json_obj(j);
        json_ku64(j, "start", run->start);
        json_ku64(j, "end", run->end);
        json_kstr(j, "kind", run->kind == RUN_GOROUTINE_STACKS ? "goroutine_stacks" : "other");
        json_key(j, "goroutines");
        json_arr(j);
        for (size_t i = 0; i < run->nids; i++)
            json_u64(j, mm->ids[run->first_id + i]);
        json_arr_end(j);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_obj_end(j);
}

static int run(struct session *ss, void *opts)
{
    const struct opts *o = opts;
    struct memmap mm;
    memmap_build(&mm, ss);
    struct json j;
    if (ss->json) {
        json_init(&j, &ss->out);
        json_obj(&j);
        session_json_common(ss, &j);
        json_key(&j, "maps");
        json_arr(&j);
    } else {
        session_notes(ss);
    }
    for (size_t i = 0; i < mm.n; i++) {
        const struct region *r = &mm.v[o->reverse ? mm.n - 1 - i : i];
        if (ss->json)
            json_region(ss, &j, &mm, r);
        else
            text_region(ss, &mm, r);
    }
    if (ss->json) {
        json_arr_end(&j);
        json_obj_end(&j);
        json_end(&j);
    }
    memmap_free(&mm);
    return 0;
}

const struct subcommand sub_maps = {
    .name = "maps",
    .synopsis = "[--reverse]",
    .help = "the address space, annotated for the runtime",
    .parse = parse,
    .run = run,
};
