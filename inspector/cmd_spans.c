/*
 * cmd_spans.c — `spans [--class N] [--state STATE]`: one line per span of
 * the heap, by address: its pages, state, what it holds (objects of a size
 * class, a large object, a goroutine's stack, free or released pages) and
 * its flags; then an error line for every span record that makes no
 * sense.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "hview.h"
#include "textfmt.h"

struct opts {
    struct subopts common;
    long sizeclass;         /* --class; -1: any */
    const char *state;      /* --state */
};

static int parse(int argc, char **argv, void **out)
{
    struct opts *o = xcalloc(1, sizeof *o);
    o->sizeclass = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->common.json = true;
        } else if ((strcmp(a, "--class") == 0 || strcmp(a, "--state") == 0) && !next) {
            free(o);
            return usage_error("spans", "%s needs a value", a);
        } else if (strcmp(a, "--class") == 0) {
            if (!parse_count(next, &o->sizeclass)) {
                free(o);
                return usage_error("spans", "--class: '%s' is not a size class", next);
            }
            i++;
        } else if (strcmp(a, "--state") == 0) {
            o->state = next;
            i++;
        } else {
            free(o);
            return usage_error("spans", "unknown argument '%s' (usage: spans [--class N] "
                                        "[--state STATE])", a);
        }
    }
    *out = o;
    return 0;
}

static bool selected(const struct heapsnap *h, const struct hspan *sp, const struct opts *o,
                     int state)
{
    if (state >= 0 && sp->state != state)
        return false;
    return o->sizeclass < 0 || ((int)sp->state == h->st_inuse && sp->sizeclass == o->sizeclass);
}

static void text_span(struct session *ss, const struct hspan *sp)
{
    char sz[24], what[160], flags[160];
    fmt_size(hspan_bytes(ss->s.heap, sp), sz, sizeof sz);
    hview_span_what(ss, sp, what, sizeof what);
    hview_span_flags(ss, sp, flags, sizeof flags);
    outf(&ss->out, "%012" PRIx64 "-%012" PRIx64 " %6s  %-9s %-*s%s%s\n", sp->base,
         sp->base + hspan_bytes(ss->s.heap, sp), sz, hspan_state_name(&ss->s, sp),
         flags[0] ? 46 : 0, what, flags[0] ? " " : "", flags);
}

static int run(struct session *ss, void *opts)
{
    const struct opts *o = opts;
    const struct heapsnap *h = session_heap(ss, "spans");
    if (!h)
        return EXIT_FAIL;
    int state = -1;
    if (o->state && (state = rtdesc_enum_value(&ss->d, "spanstate", o->state)) < 0) {
        usage_error("spans", "--state: '%s' is not a span state of this runtime", o->state);
        return EXIT_USAGE;
    }
    if (o->sizeclass >= (long)h->nclasses) {
        usage_error("spans", "--class: this runtime's size classes are 0 (large objects) to %u",
                    h->nclasses ? h->nclasses - 1 : 0);
        return EXIT_USAGE;
    }
    size_t matched = 0;
    struct json j;
    if (ss->json) {
        json_init(&j, &ss->out);
        json_obj(&j);
        session_json_common(ss, &j);
        json_ku64(&j, "total", h->nspans);
        json_key(&j, "spans");
        json_arr(&j);
    } else {
        session_notes(ss);
        outf(&ss->out, "%-25s %6s  %-9s %-46s %s\n", "SPAN", "SIZE", "STATE", "HOLDS", "FLAGS");
    }
    for (size_t i = 0; i < h->nby_base; i++) {
        const struct hspan *sp = &h->spans[h->by_base[i]];
        if (!selected(h, sp, o, state))
            continue;
        matched++;
        if (ss->json)
            hview_span_json(ss, &j, sp);
        else
            text_span(ss, sp);
    }
    if (ss->json) {
        json_arr_end(&j);
        json_ku64(&j, "matched", matched);
        hview_problems_json(ss, &j);
        json_obj_end(&j);
        json_end(&j);
    } else {
        hview_problems_text(ss);
        outf(&ss->out, "[%zu span%s", matched, matched == 1 ? "" : "s");
        if (o->state || o->sizeclass >= 0)
            outf(&ss->out, " matched of %zu", h->nby_base);
        if (h->nerrors)
            outf(&ss->out, "; %zu bad", h->nerrors);
        char p[64];
        session_pause_text(ss, p, sizeof p);
        outf(&ss->out, "; %s]\n", p);
    }
    return EXIT_OK;
}

const struct subcommand sub_spans = {
    .name = "spans",
    .synopsis = "[--class N] [--state STATE]",
    .help = "every span of the heap, one line each",
    .parse = parse,
    .run = run,
    .goroutines = SNAP_G_TABLE,
    .heap = HEAP_BITMAPS,
};
