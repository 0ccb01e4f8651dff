/*
 * cmd_maps.c — `maps [--reverse]`: /proc/PID/maps as copied in the
 * snapshot, each mapping annotated with what it is to the runtime, and the
 * heap's arenas broken into runs of spans (objects of a size class, large
 * objects, goroutine stacks with their goroutine ids, free, released).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hview.h"
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

/* What a run is, in words. */
static void run_text(struct session *ss, const struct memmap *mm, const struct region *r,
                     const struct region_run *run, char *buf, size_t len)
{
    const struct heapsnap *h = ss->s.heap;
    const char *s = run->nspans == 1 ? "" : "s";
    char b[24], ids[512];
    fmt_size(run->bytes, b, sizeof b);
    switch (run->kind) {
    case RUN_GOROUTINE_STACKS:
        format_ids(mm->ids + run->first_id, run->nids, 12, ids, sizeof ids);
        snprintf(buf, len, "%zu goroutine stack%s: %s", run->nids, run->nids == 1 ? "" : "s",
                 ids);
        break;
    case RUN_CACHED_STACKS:
        snprintf(buf, len, "%u unused goroutine stack%s (cached for reuse)", run->nspans, s);
        break;
    case RUN_SMALL:
        snprintf(buf, len, "size class %u (%u bytes%s): %u span%s, %" PRIu64 " object%s (%s)",
                 run->sizeclass, h->class_size[run->sizeclass], run->noscan ? ", noscan" : "",
                 run->nspans, s, run->objects, run->objects == 1 ? "" : "s", b);
        break;
    case RUN_LARGE:
        snprintf(buf, len, "%u large object%s%s", run->nspans, s, run->noscan ? " (noscan)" : "");
        break;
    case RUN_FREE:
        snprintf(buf, len, "free (%u span%s)", run->nspans, s);
        break;
    case RUN_RELEASED:
        snprintf(buf, len, "released to the OS (%u span%s)", run->nspans, s);
        break;
    case RUN_SPANS:
        snprintf(buf, len, "%u span%s in state %s", run->nspans, s,
                 rtdesc_enum_name(&ss->d, "spanstate", run->state));
        break;
    case RUN_INVALID: {
        char why[400];
        heapsnap_run_problem(h, run->pages, why, sizeof why);
        snprintf(buf, len, "error: %s", why);
        break;
    }
    default:
        snprintf(buf, len, "%s", r->kind == RK_ARENA ? "not heap" : "no goroutine stack");
    }
}

static const struct region_run *nth_run(const struct memmap *mm, const struct region *r,
                                        size_t k, bool reverse)
{
    return &mm->runs[r->first_run + (reverse ? r->nruns - 1 - k : k)];
}

static void text_region(struct session *ss, const struct memmap *mm, const struct region *r,
                        bool reverse)
{
    const struct mapping *mp = r->map;
    char sz[24];
    fmt_size(mp->end - mp->start, sz, sizeof sz);
    outf(&ss->out, "%012" PRIx64 "-%012" PRIx64 " %s %08" PRIx64 " %6s  %s%s%s\n", mp->start,
         mp->end, mp->perms, mp->offset, sz, r->desc, mp->path[0] == '/' ? "  " : "",
         mp->path[0] == '/' ? mp->path : "");
    for (size_t k = 0; k < r->nruns; k++) {
        const struct region_run *run = nth_run(mm, r, k, reverse);
        char rs[24], what[1024];
        fmt_size(run->end - run->start, rs, sizeof rs);
        run_text(ss, mm, r, run, what, sizeof what);
        outf(&ss->out, "    %012" PRIx64 "-%012" PRIx64 " %6s  %s\n", run->start, run->end, rs,
             what);
    }
}

static void json_region(struct session *ss, struct json *j, const struct memmap *mm,
                        const struct region *r, bool reverse)
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
        const struct region_run *run = nth_run(mm, r, k, reverse);
        json_obj(j);
        json_ku64(j, "start", run->start);
        json_ku64(j, "end", run->end);
        json_kstr(j, "kind", run_kind_names[run->kind]);
        json_key(j, "goroutines");
        json_arr(j);
        for (size_t i = 0; i < run->nids; i++)
            json_u64(j, mm->ids[run->first_id + i]);
        json_arr_end(j);
        if (r->kind == RK_ARENA) {
            json_ku64(j, "spans", run->nspans);
            json_key(j, "class");
            run->kind == RUN_SMALL ? json_u64(j, run->sizeclass) : json_null(j);
            json_key(j, "size");
            run->kind == RUN_SMALL ? json_u64(j, ss->s.heap->class_size[run->sizeclass])
                                   : json_null(j);
            json_kbool(j, "noscan", run->noscan);
            json_ku64(j, "objects", run->objects);
            json_ku64(j, "bytes", run->bytes);
            hview_run_problem_json(ss, j, run->kind == RUN_INVALID ? run->pages : NULL);
        }
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
            json_region(ss, &j, &mm, r, o->reverse);
        else
            text_region(ss, &mm, r, o->reverse);
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
    .goroutines = SNAP_G_TABLE,
    .heap = HEAP_SPANS,
};
