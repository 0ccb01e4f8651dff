/*
 * debugprofiles.c — the debug endpoint's CPU, block and heap profiles:
 * /debug/pprof/profile?seconds=N, /debug/pprof/block, /debug/pprof/heap
 * and /debug/pprof/allocs (debugserve.c's route table), as Go's
 * net/http/pprof serves them.
 */
#include <errno.h>
#include <string.h>

#include "blockprof.h"
#include "cpuprof.h"
#include "debugprofiles.h"
#include "runtime.h"

enum { MAX_SECONDS = 3600 };

static void proto_response(struct http_response *w, struct ppbuf *p)
{
    http_status(w, 200, "application/octet-stream");
    http_write(w, p->data, p->len);
    ppbuf_free(p);
}

static void error_text(struct http_response *w, int status, const char *what)
{
    http_status(w, status, "text/plain; charset=utf-8");
    http_printf(w, "%s\n", what);
}

void debug_cpu_profile(const struct http_request *r, struct http_response *w)
{
    long sec = http_query_int(r, "seconds", 30);
    if (sec <= 0)
        sec = 30;        /* Go's default, for a missing or bad value too */
    if (sec > MAX_SECONDS) {
        error_text(w, 400, "profile duration exceeds the limit of 3600 seconds");
        return;
    }
    if (cpuprof_begin() != 0) {
        error_text(w, 500, errno == EBUSY
                               ? "Could not enable CPU profiling: cpu profiling already in use"
                               : "Could not enable CPU profiling");
        return;
    }
    gort_sleep((int64_t)sec * 1000000000);
    struct ppbuf out = {0};
    if (cpuprof_end(&out) != 0) {
        ppbuf_free(&out);
        error_text(w, 500, "Could not build the CPU profile: out of memory");
        return;
    }
    proto_response(w, &out);
}

void debug_block_profile(const struct http_request *r, struct http_response *w)
{
    (void)r;
    struct ppbuf out = {0};
    if (blockprof_write(&out) != 0) {
        ppbuf_free(&out);
        error_text(w, 500, "Could not build the block profile: out of memory");
        return;
    }
    proto_response(w, &out);
}

/* ---- /debug/pprof/heap and /allocs ------------------------------------------------ */

/* 1 - e^-x for x >= 0, without libm (programs need not link it): a short
 * series for small x, else e^-x by halving x until it is small. */
static double one_minus_exp_neg(double x)
{
    if (x < 1e-4)
        return x - x * x / 2 + x * x * x / 6;
    if (x > 700)
        return 1;
    int halvings = 0;
    double r = x;
    while (r > 0.01) {
        r /= 2;
        halvings++;
    }
    /* e^-r by its Taylor series (r <= 0.01: 8 terms are exact to 1e-20) */
    double term = 1, e = 1;
    for (int k = 1; k <= 8; k++) {
        term *= -r / k;
        e += term;
    }
    while (halvings-- > 0)
        e *= e;
    return 1 - e;
}

/* The number of objects and bytes a sampled count stands for (Go's
 * scaleHeapSample): a sample of an object of s bytes at rate R was taken
 * with probability 1 - e^(-s/R). */
static void scale_sample(uint64_t count, uint64_t size, int64_t rate, int64_t *c, int64_t *b)
{
    if (count == 0 || size == 0) {
        *c = *b = 0;
        return;
    }
    if (rate <= 1) {
        *c = (int64_t)count;
        *b = (int64_t)size;
        return;
    }
    double scale = 1 / one_minus_exp_neg((double)size / (double)count / (double)rate);
    *c = (int64_t)((double)count * scale);
    *b = (int64_t)((double)size * scale);
}

enum { ALLOC_OBJECTS, ALLOC_SPACE, INUSE_OBJECTS, INUSE_SPACE };

static void record_values(const gort_memprofile_record *rec, int64_t rate, int64_t v[4])
{
    scale_sample(rec->alloc_objects, rec->alloc_bytes, rate, &v[ALLOC_OBJECTS], &v[ALLOC_SPACE]);
    scale_sample(rec->alloc_objects - rec->free_objects, rec->alloc_bytes - rec->free_bytes, rate,
                 &v[INUSE_OBJECTS], &v[INUSE_SPACE]);
}

struct heap_walk {
    struct pp_builder *pb;
    struct http_response *w;
    int64_t rate;
    int64_t total[4];
    bool text_pass;           /* debug=1's second pass: the records */
};

static int heap_proto_one(const gort_memprofile_record *rec, void *arg)
{
    struct heap_walk *hw = arg;
    int64_t v[4];
    record_values(rec, hw->rate, v);
    pp_add_sample(hw->pb, rec->stk, rec->nstk, false, v, NULL, NULL, 0);
    return 0;
}

static int heap_text_one(const gort_memprofile_record *rec, void *arg)
{
    struct heap_walk *hw = arg;
    int64_t v[4];
    record_values(rec, hw->rate, v);
    if (!hw->text_pass) {
        for (int i = 0; i < 4; i++)
            hw->total[i] += v[i];
        return 0;
    }
    struct http_response *w = hw->w;
    http_printf(w, "%lld: %lld [%lld: %lld] @", (long long)v[INUSE_OBJECTS],
                (long long)v[INUSE_SPACE], (long long)v[ALLOC_OBJECTS], (long long)v[ALLOC_SPACE]);
    for (int i = 0; i < rec->nstk; i++)
        http_printf(w, " %#lx", (unsigned long)rec->stk[i]);
    http_printf(w, "\n");
    for (int i = 0; i < rec->nstk; i++)
        debug_text_frames(w, rec->stk[i], false);
    http_printf(w, "\n");
    return 0;
}

/* Go's legacy text form (debug=1): the totals, each stack's figures and
 * frames, then the memory statistics. */
static void heap_text(struct http_response *w, int64_t rate)
{
    struct heap_walk hw = {NULL, w, rate, {0}, false};
    gort_memprofile_foreach(heap_text_one, &hw);
    http_printf(w, "heap profile: %lld: %lld [%lld: %lld] @ heap/%lld\n",
                (long long)hw.total[INUSE_OBJECTS], (long long)hw.total[INUSE_SPACE],
                (long long)hw.total[ALLOC_OBJECTS], (long long)hw.total[ALLOC_SPACE],
                (long long)(2 * rate));
    hw.text_pass = true;
    gort_memprofile_foreach(heap_text_one, &hw);
    struct ppbuf tmp = {0};      /* 4 KiB and more: off the handler's stack */
    if (!ppbuf_reserve(&tmp, sizeof(gort_memstats))) {
        w->body.failed = true;
        return;
    }
    gort_memstats *ms = (gort_memstats *)(void *)tmp.data;
    gort_read_memstats(ms);
    struct memstat_field f[DEBUG_MEMSTAT_FIELDS];
    debug_memstat_fields(ms, f);
    http_printf(w, "\n# runtime.MemStats\n");
    for (size_t i = 0; i < DEBUG_MEMSTAT_FIELDS; i++)
        http_printf(w, "# %s = %llu\n", f[i].name, (unsigned long long)f[i].v);
    http_printf(w, "# NumGC = %u\n# NumForcedGC = %u\n", ms->num_gc, ms->num_forced_gc);
    ppbuf_free(&tmp);
}

static void heap_like(const struct http_request *r, struct http_response *w, bool allocs)
{
    if (http_query_int(r, "gc", 0) > 0)
        gort_gc();
    int64_t rate = gort_memprofile_rate();
    if (http_query_int(r, "debug", 0) > 0) {
        heap_text(w, rate);
        return;
    }
    struct pp_builder *pb = pp_new();
    if (!pb) {
        error_text(w, 500, "Could not build the heap profile: out of memory");
        return;
    }
    pp_sample_type(pb, "alloc_objects", "count");
    pp_sample_type(pb, "alloc_space", "bytes");
    pp_sample_type(pb, "inuse_objects", "count");
    pp_sample_type(pb, "inuse_space", "bytes");
    pp_default_sample_type(pb, allocs ? "alloc_space" : "inuse_space");
    pp_period(pb, "space", "bytes", rate);
    pp_time(pb, walltime(), 0);
    struct heap_walk hw = {pb, w, rate, {0}, false};
    gort_memprofile_foreach(heap_proto_one, &hw);
    struct ppbuf out = {0};
    if (pp_finish(pb, &out) != 0) {
        ppbuf_free(&out);
        error_text(w, 500, "Could not build the heap profile: out of memory");
        return;
    }
    proto_response(w, &out);
}

void debug_heap_profile(const struct http_request *r, struct http_response *w)
{
    heap_like(r, w, false);
}

void debug_allocs_profile(const struct http_request *r, struct http_response *w)
{
    heap_like(r, w, true);
}
