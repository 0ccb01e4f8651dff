/*
 * cmd_memstats.c — `memstats`: the runtime's memory statistics, as
 * gort_read_memstats would return them, computed from the counters copied
 * out of the process's memory (every P's unflushed counts included), and
 * the collector's state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "command.h"
#include "heapstats.h"
#include "session.h"
#include "textfmt.h"

enum { RECENT_PAUSES = 8 };

/* One line: name, value, and the value as a size when it is bytes. */
static void line(struct out *o, const char *name, uint64_t v, bool bytes, const char *what)
{
    char sz[24] = "";
    if (bytes)
        fmt_size(v, sz, sizeof sz);
    outf(o, "%-16s %20" PRIu64 " %7s  %s\n", name, v, sz, what);
}

static void text_memstats(struct session *ss, const struct heapsnap *h, const struct memstats *ms)
{
    struct out *o = &ss->out;
    session_notes(ss);
    line(o, "alloc", ms->alloc, true, "bytes of allocated heap objects");
    line(o, "total_alloc", ms->total_alloc, true, "bytes allocated, cumulative");
    line(o, "sys", ms->sys, true, "bytes from the OS: heap_sys + stack_sys + gc_sys");
    line(o, "mallocs", ms->mallocs, false, "objects allocated, cumulative");
    line(o, "frees", ms->frees, false, "objects freed, cumulative");
    line(o, "heap_alloc", ms->heap_alloc, true, "bytes of allocated heap objects");
    line(o, "heap_sys", ms->heap_sys, true, "heap_inuse + heap_idle");
    line(o, "heap_idle", ms->heap_idle, true, "bytes in free and released spans");
    line(o, "heap_inuse", ms->heap_inuse, true, "bytes in spans of objects");
    line(o, "heap_released", ms->heap_released, true, "bytes returned to the OS");
    line(o, "heap_objects", ms->heap_objects, false, "allocated objects");
    line(o, "stack_inuse", ms->stack_inuse, true, "bytes in goroutine stack spans");
    line(o, "stack_sys", ms->stack_sys, true, "= stack_inuse");
    line(o, "gc_sys", ms->gc_sys, true, "bytes of heap metadata");
    line(o, "next_gc", ms->next_gc, true, "heap goal of the next collection");
    char ago[32] = "never";
    uint64_t now = wall_ns();
    if (ms->last_gc) {
        char d[24];
        fmt_duration(now > ms->last_gc ? (int64_t)(now - ms->last_gc) : 0, d, sizeof d);
        snprintf(ago, sizeof ago, "%s ago", d);
    }
    outf(o, "%-16s %20" PRIu64 " %7s  end of the last collection, ns since 1970 (%s)\n",
         "last_gc", ms->last_gc, "", ago);
    line(o, "pause_total_ns", ms->pause_total_ns, false, "stop-the-world time, cumulative");
    line(o, "num_gc", ms->num_gc, false, "collections");
    if (ms->has_num_forced_gc)
        line(o, "num_forced_gc", ms->num_forced_gc, false, "of which by gort_gc");
    else
        outf(o, "%-16s %20s %7s  not in the process's memory\n", "num_forced_gc", "-", "");
    if (ms->has_gc_cpu_fraction)
        outf(o, "%-16s %20.6f %7s  share of wall time spent collecting since start\n",
             "gc_cpu_fraction", ms->gc_cpu_fraction, "");
    else
        outf(o, "%-16s %20s %7s  not in the process's memory\n", "gc_cpu_fraction", "-", "");
    outf(o, "\nrecent pauses   ");
    for (uint64_t k = 0; k < RECENT_PAUSES && k < ms->num_gc && k < h->npause; k++) {
        char p[32];
        fmt_pause(h->pause_ns[(ms->num_gc - 1 - k) % h->npause], p, sizeof p);
        outf(o, " %s", p);
    }
    outf(o, "%s\n", ms->num_gc ? " (latest first)" : " none");
    outf(o, "collector        heap_live %" PRIu64 ", heap_marked %" PRIu64 ", GORT_GC %s%" PRId64
         ", %s, sweep generation %" PRIu64 "\n", h->heap_live, h->heap_marked,
         h->gc_percent < 0 ? "off " : "", h->gc_percent,
         h->gc_running ? "collecting" : "not collecting", h->sweepgen);
    outf(o, "unflushed        %" PRIu64 " objects, %" PRIu64 " bytes counted in P caches "
         "(included above)\n", ms->unflushed_mallocs, ms->unflushed_bytes);
    outf(o, "\nby_size  %5s %7s %12s %12s %12s\n", "CLASS", "SIZE", "MALLOCS", "FREES", "LIVE");
    for (uint32_t c = 1; c < h->nclasses; c++) {
        uint64_t m = memstats_class_mallocs(h, c), f = h->nsmallfree[c];
        if (m || f)
            outf(o, "         %5u %7u %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", c,
                 h->class_size[c], m, f, m - f);
    }
}

static void json_memstats(struct session *ss, const struct heapsnap *h, const struct memstats *ms)
{
    struct json j;
    json_init(&j, &ss->out);
    json_obj(&j);
    session_json_common(ss, &j);
    json_key(&j, "memstats");
    json_obj(&j);
    memstats_json_members(h, ms, &j);
    json_obj_end(&j);
    json_key(&j, "unflushed");
    json_obj(&j);
    json_ku64(&j, "mallocs", ms->unflushed_mallocs);
    json_ku64(&j, "bytes", ms->unflushed_bytes);
    json_obj_end(&j);
    json_key(&j, "gc");
    json_obj(&j);
    json_ku64(&j, "heap_live", h->heap_live);
    json_ku64(&j, "heap_marked", h->heap_marked);
    json_ku64(&j, "next_gc", h->next_gc);
    json_ki64(&j, "percent", h->gc_percent);
    json_kbool(&j, "running", h->gc_running != 0);
    json_ku64(&j, "sweepgen", h->sweepgen);
    json_obj_end(&j);
    json_obj_end(&j);
    json_end(&j);
}

static int run(struct session *ss, void *opts)
{
    (void)opts;
    const struct heapsnap *h = session_heap(ss, "memstats");
    if (!h)
        return EXIT_FAIL;
    struct memstats ms;
    memstats_compute(h, &ms);
    if (ss->json)
        json_memstats(ss, h, &ms);
    else
        text_memstats(ss, h, &ms);
    return EXIT_OK;
}

const struct subcommand sub_memstats = {
    .name = "memstats",
    .synopsis = "",
    .help = "the runtime's memory statistics, read from its memory",
    .parse = parse_plain,
    .run = run,
    .goroutines = SNAP_G_NONE,
    .heap = HEAP_COUNTS,
};
