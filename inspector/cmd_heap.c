/*
 * cmd_heap.c — `heap`: the span table tallied by size class (element size,
 * spans, objects in use and free slots, bytes, the share of the spans'
 * bytes not holding objects), the large objects, the stacks and the idle
 * spans; the totals set beside the runtime's own statistics, which they
 * equal when the process was stopped between allocations; and an error
 * line for every bad span record (left out of the totals).  With
 * --by-site, the allocation profile's in-use figures by allocation site
 * instead (heapprof.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "heapprof.h"
#include "heapstats.h"
#include "hview.h"
#include "textfmt.h"

/* The totals of the span table and the runtime's statistics for them. */
enum { T_HEAP_ALLOC, T_HEAP_OBJECTS, T_HEAP_INUSE, T_STACK_INUSE, T_HEAP_IDLE, T_HEAP_RELEASED,
       T_N };
static const char *const total_names[T_N] = {"heap_alloc", "heap_objects", "heap_inuse",
                                             "stack_inuse", "heap_idle", "heap_released"};

static void totals(const struct heapsnap *h, const struct heap_tally *t, const struct memstats *ms,
                   uint64_t spans[T_N], uint64_t stats[T_N])
{
    uint64_t ps = h->page_size;
    spans[T_HEAP_ALLOC] = t->inuse.bytes;
    spans[T_HEAP_OBJECTS] = t->inuse.objects;
    spans[T_HEAP_INUSE] = t->inuse.pages * ps;
    spans[T_STACK_INUSE] = (t->stacks.pages + t->cached_stacks.pages) * ps;
    spans[T_HEAP_IDLE] = (t->free.pages + t->released.pages) * ps;
    spans[T_HEAP_RELEASED] = t->released.pages * ps;
    stats[T_HEAP_ALLOC] = ms->heap_alloc;
    stats[T_HEAP_OBJECTS] = ms->heap_objects;
    stats[T_HEAP_INUSE] = ms->heap_inuse;
    stats[T_STACK_INUSE] = ms->stack_inuse;
    stats[T_HEAP_IDLE] = ms->heap_idle;
    stats[T_HEAP_RELEASED] = ms->heap_released;
}

static void text_row(struct out *o, const struct heapsnap *h, const char *label,
                     const char *size, const struct span_tally *t, bool objects)
{
    char b[24], sb[24];
    fmt_size(t->bytes, b, sizeof b);
    fmt_size(t->pages * h->page_size, sb, sizeof sb);
    if (objects)
        outf(o, "%-7s %7s %7" PRIu64 " %7" PRIu64 " %10" PRIu64 " %10" PRIu64 " %9s %9s %6.1f%%\n",
             label, size, t->spans, t->pages, t->objects, t->slots - t->objects, b, sb,
             100 * tally_waste(h, t));
    else
        outf(o, "%-7s %7s %7" PRIu64 " %7" PRIu64 " %10s %10s %9s %9s\n", label, size, t->spans,
             t->pages, "", "", "", sb);
}

static void text_heap(struct session *ss, const struct heapsnap *h, const struct heap_tally *t,
                      const struct memstats *ms)
{
    struct out *o = &ss->out;
    session_notes(ss);
    char ab[24];
    fmt_size(h->arena_bytes, ab, sizeof ab);
    outf(o, "%zu arena%s of %s, %zu spans, %" PRIu64 "-byte pages\n\n", h->narenas,
         h->narenas == 1 ? "" : "s", ab, h->nspans, h->page_size);
    outf(o, "%-7s %7s %7s %7s %10s %10s %9s %9s %7s\n", "CLASS", "SIZE", "SPANS", "PAGES",
         "OBJECTS", "FREE", "BYTES", "IN SPANS", "WASTE");
    for (uint32_t c = 1; c < t->nclasses; c++) {
        if (!t->classes[c].spans)
            continue;
        char label[16], size[16];
        snprintf(label, sizeof label, "%u", c);
        snprintf(size, sizeof size, "%u", h->class_size[c]);
        text_row(o, h, label, size, &t->classes[c], true);
    }
    if (t->nclasses && t->classes[0].spans)
        text_row(o, h, "large", "", &t->classes[0], true);
    text_row(o, h, "objects", "", &t->inuse, true);
    text_row(o, h, "stacks", "", &t->stacks, false);
    if (t->cached_stacks.spans)
        text_row(o, h, "cached", "", &t->cached_stacks, false);
    text_row(o, h, "free", "", &t->free, false);
    text_row(o, h, "released", "", &t->released, false);
    if (t->other.spans)
        text_row(o, h, "other", "", &t->other, false);

    uint64_t sp[T_N], st[T_N];
    totals(h, t, ms, sp, st);
    bool agree = true;
    for (int i = 0; i < T_N; i++)
        agree &= sp[i] == st[i];
    outf(o, "\n%s the runtime's statistics:\n", agree ? "totals equal" : "totals differ from");
    for (int i = 0; i < T_N; i++) {
        outf(o, "  %-14s %14" PRIu64, total_names[i], sp[i]);
        if (sp[i] != st[i])
            outf(o, "   statistics: %" PRIu64, st[i]);
        outf(o, "\n");
    }
    if (!agree)
        outf(o, "(they differ while objects are being allocated or swept, or when spans are "
                "left out)\n");
    if (h->nerrors) {
        outf(o, "\n%" PRIu64 " span%s left out:\n", t->bad, t->bad == 1 ? "" : "s");
        hview_problems_text(ss);
    }
}

/* A tally: spans and pages, and for spans of objects (objects true) the
 * objects; sizeclass >= 0 for one size class. */
static void json_tally(struct json *j, const struct heapsnap *h, const char *key,
                       const struct span_tally *t, int32_t sizeclass, bool objects)
{
    if (key)
        json_key(j, key);
    json_obj(j);
    if (sizeclass >= 0) {
        json_ki64(j, "class", sizeclass);
        json_ku64(j, "size", h->class_size[sizeclass]);
    }
    json_ku64(j, "spans", t->spans);
    json_ku64(j, "pages", t->pages);
    json_ku64(j, "span_bytes", t->pages * h->page_size);
    if (objects) {
        json_ku64(j, "noscan_spans", t->noscan);
        json_ku64(j, "objects", t->objects);
        json_ku64(j, "free", t->slots - t->objects);
        json_ku64(j, "bytes", t->bytes);
        json_key(j, "waste");
        json_f64(j, tally_waste(h, t));
    }
    json_obj_end(j);
}

static void json_heap(struct session *ss, const struct heapsnap *h, const struct heap_tally *t,
                      const struct memstats *ms)
{
    struct json j;
    json_init(&j, &ss->out);
    json_obj(&j);
    session_json_common(ss, &j);
    json_ku64(&j, "page_size", h->page_size);
    json_ku64(&j, "arena_bytes", h->arena_bytes);
    json_key(&j, "arenas");
    json_arr(&j);
    for (size_t i = 0; i < h->narenas; i++) {
        if (h->arenas[i].error)
            continue;
        json_obj(&j);
        json_ku64(&j, "base", h->arenas[i].base);
        json_ku64(&j, "end", h->arenas[i].end);
        json_obj_end(&j);
    }
    json_arr_end(&j);
    json_ku64(&j, "spans", h->nspans);
    json_key(&j, "classes");
    json_arr(&j);
    for (uint32_t c = 1; c < t->nclasses; c++)
        if (t->classes[c].spans)
            json_tally(&j, h, NULL, &t->classes[c], (int32_t)c, true);
    json_arr_end(&j);
    json_tally(&j, h, "large", t->nclasses ? &t->classes[0] : &t->other, -1, true);
    json_tally(&j, h, "objects", &t->inuse, -1, true);
    json_tally(&j, h, "stacks", &t->stacks, -1, false);
    json_tally(&j, h, "cached_stacks", &t->cached_stacks, -1, false);
    json_tally(&j, h, "free", &t->free, -1, false);
    json_tally(&j, h, "released", &t->released, -1, false);
    json_key(&j, "mheap");
    json_obj(&j);
    json_ku64(&j, "pages_inuse", h->pages_inuse);
    json_ku64(&j, "pages_stack", h->pages_stack);
    json_ku64(&j, "pages_free", h->pages_free);
    json_ku64(&j, "pages_released", h->pages_released);
    json_ku64(&j, "sweepgen", h->sweepgen);
    json_obj_end(&j);
    uint64_t sp[T_N], st[T_N];
    totals(h, t, ms, sp, st);
    bool agree = true;
    json_key(&j, "totals");
    json_obj(&j);
    for (int i = 0; i < T_N; i++) {
        json_ku64(&j, total_names[i], sp[i]);
        agree &= sp[i] == st[i];
    }
    json_obj_end(&j);
    json_key(&j, "memstats");
    json_obj(&j);
    for (int i = 0; i < T_N; i++)
        json_ku64(&j, total_names[i], st[i]);
    json_obj_end(&j);
    json_kbool(&j, "agree", agree);
    json_ku64(&j, "bad_spans", t->bad);
    hview_problems_json(ss, &j);
    json_obj_end(&j);
    json_end(&j);
}

struct heap_opts {
    struct subopts common;
    bool by_site;
};

static int parse(int argc, char **argv, void **out)
{
    static const char *const flags[] = {"--by-site", NULL};
    struct heap_opts *o = xcalloc(1, sizeof *o);
    bool values[1] = {false};
    if (parse_flags("heap", argc, argv, flags, values, &o->common) < 0) {
        free(o);
        return -1;
    }
    o->by_site = values[0];
    if (o->by_site)
        o->common.needs = &sub_heap_profile;    /* the profile alone, not the heap */
    *out = o;
    return 0;
}

static int run(struct session *ss, void *opts)
{
    if (((const struct heap_opts *)opts)->by_site)
        return heapprof_by_site(ss);
    const struct heapsnap *h = session_heap(ss, "heap");
    if (!h)
        return EXIT_FAIL;
    struct heap_tally t;
    heap_tally(&ss->s, &t);
    struct memstats ms;
    memstats_compute(h, &ms);
    if (ss->json)
        json_heap(ss, h, &t, &ms);
    else
        text_heap(ss, h, &t, &ms);
    heap_tally_free(&t);
    return EXIT_OK;
}

const struct subcommand sub_heap = {
    .name = "heap",
    .synopsis = "[--by-site]",
    .help = "the heap by size class, with totals beside the runtime's statistics\n"
            "        (--by-site: the sampled bytes in use by allocation site)",
    .parse = parse,
    .run = run,
    .goroutines = SNAP_G_TABLE,
    .heap = HEAP_BITMAPS,
};
