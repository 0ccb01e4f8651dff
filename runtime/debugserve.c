/*
 * debugserve.c — gort_debug_serve: Go's net/http/pprof and expvar pages
 * served by the runtime (the HTTP layer is httpd.c).
 *
 *   /debug/pprof/            an HTML index of the profiles, with counts
 *   /debug/pprof/goroutine   profile.proto; ?debug=1 grouped text, ?debug=2
 *                            every goroutine in the crash reports' form
 *   /debug/vars              {"cmdline": [...], "memstats": {...}} as expvar
 *
 * Every other profile is one entry of the route table below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debugprofiles.h"
#include "httpd.h"
#include "pcline.h"
#include "profproto.h"
#include "runtime.h"
#include "stackwalk.h"
#include "symtab.h"

/* ---- The goroutine profile ------------------------------------------------------ */

/* One goroutine's stack, as collected with the world stopped: n pcs follow. */
struct gstack {
    uint32_t n;
    uint32_t exact;     /* pcs[0] is exact, not a return address */
    uintptr_t pcs[];
};

struct collect {
    struct ppbuf stacks;        /* struct gstack records */
    size_t count;
};

static void collect_one(void *arg, struct g *gp, const uintptr_t *pcs, int n, bool exact)
{
    (void)gp;
    struct collect *c = arg;
    struct gstack h = {(uint32_t)n, exact};
    ppbuf_put(&c->stacks, &h, sizeof h);
    ppbuf_put(&c->stacks, pcs, (size_t)n * sizeof *pcs);
    c->count++;
}

/* A group of goroutines with the same stack. */
struct group {
    const struct gstack *s;
    int64_t count;
};

static int cmp_stack(const void *a, const void *b)
{
    const struct gstack *x = ((const struct group *)a)->s, *y = ((const struct group *)b)->s;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    if (x->exact != y->exact)
        return x->exact < y->exact ? -1 : 1;
    return memcmp(x->pcs, y->pcs, x->n * sizeof x->pcs[0]);
}

static int cmp_count(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return cmp_stack(a, b);
}

/* Every goroutine's stack, grouped: *ngroups groups in *out (mmap'd, by
 * count, largest first), their records in c->stacks.  False: no memory. */
static bool goroutine_groups(struct collect *c, struct ppbuf *groups, size_t *ngroups)
{
    stackwalk_refresh_modules();
    stop_the_world(STW_GC);
    traceback_each_goroutine(collect_one, c);
    start_the_world(STW_GC);
    if (c->stacks.failed || !ppbuf_reserve(groups, (c->count + 1) * sizeof(struct group)))
        return false;
    struct group *g = (struct group *)groups->data;
    size_t off = 0;
    for (size_t i = 0; i < c->count; i++) {
        const struct gstack *s = (const struct gstack *)(c->stacks.data + off);
        g[i] = (struct group){s, 1};
        off += sizeof *s + s->n * sizeof s->pcs[0];
    }
    qsort(g, c->count, sizeof *g, cmp_stack);
    size_t k = 0;
    for (size_t i = 0; i < c->count; i++) {
        if (k > 0 && cmp_stack(&g[k - 1], &g[i]) == 0)
            g[k - 1].count++;
        else
            g[k++] = g[i];
    }
    qsort(g, k, sizeof *g, cmp_count);
    *ngroups = k;
    return true;
}

/* The "#\t0xPC\tFUNC+0xOFF\tFILE:LINE" lines of one pc, as Go's
 * printStackRecord: one per inlined call, innermost first. */
void debug_text_frames(struct http_response *w, uintptr_t pc, bool exact)
{
    uintptr_t at = exact ? pc : pc - 1;
    struct pcline_frame fr[32];
    int n = pcline_lookup(at, fr, 32);
    uintptr_t start = n > 0 ? pcline_func_start(at) : 0;
    for (int i = 0; i < n; i++)
        http_printf(w, "#\t%#lx\t%s+%#lx\t%s:%u\n", (unsigned long)at, fr[i].function,
                    (unsigned long)(start ? at - start : 0), fr[i].file, fr[i].line);
    if (n > 0)
        return;
    const char *name, *module;
    uintptr_t base;
    if (symtab_lookup(at, &name, &start)) {
        if (!symtab_module(at, &module, &base))
            module = "??";
        http_printf(w, "#\t%#lx\t%.*s+%#lx\t%s:0\n", (unsigned long)at, symtab_source_len(name),
                    name, (unsigned long)(at - start), module);
    } else {
        http_printf(w, "#\t%#lx\n", (unsigned long)at);
    }
}

static void goroutine_text(struct http_response *w, struct collect *c, struct group *g, size_t k)
{
    http_printf(w, "goroutine profile: total %zu\n", c->count);
    for (size_t i = 0; i < k; i++) {
        http_printf(w, "%lld @", (long long)g[i].count);
        for (uint32_t j = 0; j < g[i].s->n; j++)
            http_printf(w, " %#lx", (unsigned long)g[i].s->pcs[j]);
        http_write(w, "\n", 1);
        for (uint32_t j = 0; j < g[i].s->n; j++)
            debug_text_frames(w, g[i].s->pcs[j], j == 0 && g[i].s->exact);
        http_write(w, "\n", 1);
    }
}

static void goroutine_proto(struct http_response *w, struct group *g, size_t k)
{
    struct pp_builder *b = pp_new();
    if (!b) {
        w->body.failed = true;
        return;
    }
    pp_sample_type(b, "goroutine", "count");
    pp_period(b, "goroutine", "count", 1);
    pp_time(b, walltime(), 0);
    for (size_t i = 0; i < k; i++)
        pp_add_sample(b, g[i].s->pcs, (int)g[i].s->n, g[i].s->exact, &g[i].count, NULL, NULL, 0);
    if (pp_finish(b, &w->body) != 0)
        w->body.failed = true;
    http_status(w, 200, "application/octet-stream");
}

/* One goroutine for debug=2: a copy of its G, its status, its stack. */
struct gsnap {
    struct g g;
    uint32_t status;
    uint32_t n;
    bool exact;
    uintptr_t pcs[];
};

struct snaps {
    struct ppbuf buf;           /* struct gsnap records */
    struct g *self;
    size_t self_off;            /* the caller's own record */
};

static void snap_one(void *arg, struct g *gp, const uintptr_t *pcs, int n, bool exact)
{
    struct snaps *ss = arg;
    if (gp == ss->self)
        ss->self_off = ss->buf.len;
    struct gsnap h;
    memset(&h, 0, sizeof h);
    h.g = *gp;
    h.status = readgstatus(gp);
    h.n = (uint32_t)n;
    h.exact = exact;
    ppbuf_put(&ss->buf, &h, sizeof h);
    ppbuf_put(&ss->buf, pcs, (size_t)n * sizeof *pcs);
}

static size_t snap_size(const struct gsnap *s)
{
    return sizeof *s + s->n * sizeof s->pcs[0];
}

/* Every goroutine's traceback, as a crash report with GORT_TRACEBACK=all
 * prints it (Go's debug=2 is its crash form too), the caller's first: the
 * stacks are taken with the world stopped, and printed (symbolized) once
 * it runs again. */
static void goroutine_dump(struct http_response *w)
{
    struct snaps ss = {{0}, getg(), 0};
    stackwalk_refresh_modules();
    stop_the_world(STW_GC);
    traceback_each_goroutine(snap_one, &ss);
    start_the_world(STW_GC);
    if (ss.buf.failed || ss.buf.len == 0) {
        w->body.failed = true;
        ppbuf_free(&ss.buf);
        return;
    }
    struct ppbuf out = {0};
    int64_t now = nanotime();
    print_to(&out);
    const struct gsnap *self = (const struct gsnap *)(ss.buf.data + ss.self_off);
    traceback_print_snapshot(&self->g, self->status, self->pcs, (int)self->n, self->exact, now);
    for (size_t off = 0; off < ss.buf.len;) {
        const struct gsnap *s = (const struct gsnap *)(ss.buf.data + off);
        if (off != ss.self_off) {
            print_str("\n");
            traceback_print_snapshot(&s->g, s->status, s->pcs, (int)s->n, s->exact, now);
        }
        off += snap_size(s);
    }
    print_to(NULL);
    http_write(w, out.data, out.len);
    w->body.failed |= out.failed;
    ppbuf_free(&out);
    ppbuf_free(&ss.buf);
}

static void goroutine_handler(const struct http_request *r, struct http_response *w)
{
    long debug = http_query_int(r, "debug", 0);
    if (debug >= 2) {
        goroutine_dump(w);
        return;
    }
    struct collect c = {{0}, 0};
    struct ppbuf groups = {0};
    size_t k = 0;
    if (!goroutine_groups(&c, &groups, &k))
        w->body.failed = true;
    else if (debug == 1)
        goroutine_text(w, &c, (struct group *)groups.data, k);
    else
        goroutine_proto(w, (struct group *)groups.data, k);
    ppbuf_free(&groups);
    ppbuf_free(&c.stacks);
}

/* ---- /debug/vars ----------------------------------------------------------------- */

static void json_string(struct http_response *w, const char *s, size_t n)
{
    http_write(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            http_printf(w, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            http_printf(w, "\\u%04x", ch);
        else
            http_write(w, &s[i], 1);
    }
    http_write(w, "\"", 1);
}

/* The command line from /proc/self/cmdline, as a JSON array. */
static void cmdline_json(struct http_response *w)
{
    /* off the handler's small stack; requests run at once, each its own */
    enum { MAX = 8192 };
    struct ppbuf tmp = {0};
    if (!ppbuf_reserve(&tmp, MAX)) {
        w->body.failed = true;
        return;
    }
    char *buf = (char *)tmp.data;
    size_t len = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n;
        while (len < MAX && (n = read(fd, buf + len, MAX - len)) > 0)
            len += (size_t)n;
        close(fd);
    }
    http_write(w, "[", 1);
    for (size_t i = 0; i < len;) {
        size_t n = strnlen(buf + i, len - i);
        if (i > 0)
            http_write(w, ", ", 2);
        json_string(w, buf + i, n);
        i += n + 1;
    }
    http_write(w, "]", 1);
    ppbuf_free(&tmp);
}

static void u64_array(struct http_response *w, const char *name, const uint64_t *v, int n)
{
    http_printf(w, "\"%s\": [", name);
    for (int i = 0; i < n; i++)
        http_printf(w, "%s%llu", i ? ", " : "", (unsigned long long)v[i]);
    http_write(w, "], ", 3);
}

void debug_memstat_fields(const gort_memstats *ms, struct memstat_field *f)
{
    const struct memstat_field all[DEBUG_MEMSTAT_FIELDS] = {
        {"Alloc", ms->alloc}, {"TotalAlloc", ms->total_alloc}, {"Sys", ms->sys},
        {"Mallocs", ms->mallocs}, {"Frees", ms->frees}, {"HeapAlloc", ms->heap_alloc},
        {"HeapSys", ms->heap_sys}, {"HeapIdle", ms->heap_idle}, {"HeapInuse", ms->heap_inuse},
        {"HeapReleased", ms->heap_released}, {"HeapObjects", ms->heap_objects},
        {"StackInuse", ms->stack_inuse}, {"StackSys", ms->stack_sys}, {"GCSys", ms->gc_sys},
        {"NextGC", ms->next_gc}, {"LastGC", ms->last_gc}, {"PauseTotalNs", ms->pause_total_ns},
    };
    memcpy(f, all, sizeof all);
}

static void vars_handler(const struct http_request *r, struct http_response *w)
{
    (void)r;
    /* 4 KiB and more: off the handler's small stack */
    struct ppbuf tmp = {0};
    if (!ppbuf_reserve(&tmp, sizeof(gort_memstats))) {
        w->body.failed = true;
        return;
    }
    gort_memstats *msp = (gort_memstats *)(void *)tmp.data;
    gort_read_memstats(msp);
    http_status(w, 200, "application/json; charset=utf-8");
    http_write(w, "{\n\"cmdline\": ", 13);
    cmdline_json(w);
    http_write(w, ",\n\"memstats\": {", 15);
    struct memstat_field f[DEBUG_MEMSTAT_FIELDS];
    debug_memstat_fields(msp, f);
    for (size_t i = 0; i < DEBUG_MEMSTAT_FIELDS; i++)
        http_printf(w, "\"%s\": %llu, ", f[i].name, (unsigned long long)f[i].v);
    u64_array(w, "PauseNs", msp->pause_ns, 256);
    u64_array(w, "PauseEnd", msp->pause_end, 256);
    http_printf(w, "\"NumGC\": %u, \"NumForcedGC\": %u, \"GCCPUFraction\": %.17g, \"BySize\": [",
                msp->num_gc, msp->num_forced_gc, msp->gc_cpu_fraction);
    for (int i = 0; i < GORT_NUM_SIZE_CLASSES; i++)
        http_printf(w, "%s{\"Size\": %u, \"Mallocs\": %llu, \"Frees\": %llu}", i ? ", " : "",
                    msp->by_size[i].size, (unsigned long long)msp->by_size[i].mallocs,
                    (unsigned long long)msp->by_size[i].frees);
    http_write(w, "]}\n}\n", 5);
    ppbuf_free(&tmp);
}

/* ---- Routes ------------------------------------------------------------------------ */

static void index_handler(const struct http_request *r, struct http_response *w);

/* The routes: exact paths.  count: the index's Count column (NULL: none
 * shown). */
struct debug_route {
    const char *path;
    const char *name;           /* on the index; NULL: not a profile */
    http_dispatch handler;
    int (*count)(void);
    const char *about;
};

static const struct debug_route routes[] = {
    {"/debug/pprof/", NULL, index_handler, NULL, NULL},
    {"/debug/pprof/allocs", "allocs", debug_allocs_profile, NULL,
     "A sampling of all past memory allocations"},
    {"/debug/pprof/block", "block", debug_block_profile, NULL,
     "Stack traces that led to blocking on synchronization primitives"},
    {"/debug/pprof/goroutine", "goroutine", goroutine_handler, gort_numgoroutine,
     "Stack traces of all current goroutines. Use debug=2 as a query parameter to export in "
     "the same format as an unrecovered panic."},
    {"/debug/pprof/heap", "heap", debug_heap_profile, NULL,
     "A sampling of memory allocations of live objects. You can specify the gc GET parameter "
     "to run GC before taking the heap sample."},
    {"/debug/pprof/profile", "profile", debug_cpu_profile, NULL,
     "CPU profile. You can specify the duration in the seconds GET parameter. After you get "
     "the profile file, use the go tool pprof command to investigate the profile."},
    {"/debug/vars", NULL, vars_handler, NULL, NULL},
};
enum { NROUTES = sizeof routes / sizeof routes[0] };

static void index_handler(const struct http_request *r, struct http_response *w)
{
    (void)r;
    http_status(w, 200, "text/html; charset=utf-8");
    http_printf(w, "<!DOCTYPE html>\n<html>\n<head>\n<title>/debug/pprof/</title>\n"
                   "<style>.profile-name{display:inline-block; width:6rem;}</style>\n</head>\n"
                   "<body>\n/debug/pprof/\n<br>\n<p>Set debug=1 as a query parameter to "
                   "export in legacy text format</p>\n<br>\nTypes of profiles available:\n"
                   "<table>\n<thead><td>Count</td><td>Profile</td></thead>\n");
    for (int i = 0; i < NROUTES; i++) {
        const struct debug_route *rt = &routes[i];
        if (!rt->name)
            continue;
        http_write(w, "<tr><td>", 8);
        if (rt->count)
            http_printf(w, "%d", rt->count());
        http_printf(w, "</td><td><a href='%s?debug=1'>%s</a></td></tr>\n", rt->name, rt->name);
    }
    http_printf(w, "</table>\n<a href='goroutine?debug=2'>full goroutine stack dump</a>\n<br>\n"
                   "<a href='/debug/vars'>/debug/vars</a> (memory statistics)\n<br>\n"
                   "<p>\nProfile Descriptions:\n<ul>\n");
    for (int i = 0; i < NROUTES; i++)
        if (routes[i].name)
            http_printf(w, "<li><div class=profile-name>%s: </div> %s</li>\n", routes[i].name,
                        routes[i].about);
    http_printf(w, "</ul>\n</p>\n</body>\n</html>\n");
}

static void dispatch(const struct http_request *r, struct http_response *w)
{
    if (strncmp(r->path, "/debug/", 7) != 0) {
        http_status(w, 404, NULL);
        http_printf(w, "404 page not found\n");
        return;
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        http_status(w, 405, NULL);
        w->allow = "GET, HEAD";
        http_printf(w, "405 method not allowed\n");
        return;
    }
    if (strcmp(r->path, "/debug/pprof") == 0) {
        http_status(w, 301, NULL);      /* as Go's ServeMux for a subtree without its slash */
        w->location = "/debug/pprof/";
        http_printf(w, "Moved Permanently: /debug/pprof/\n");
        return;
    }
    for (int i = 0; i < NROUTES; i++)
        if (strcmp(r->path, routes[i].path) == 0) {
            routes[i].handler(r, w);
            return;
        }
    http_status(w, 404, NULL);
    if (strncmp(r->path, "/debug/pprof/", 13) == 0)
        http_printf(w, "Unknown profile\n");
    else
        http_printf(w, "404 page not found\n");
}

/* ---- Starting ------------------------------------------------------------------------ */

static int serve_fd = -1, serve_port = -1;

static void serve_main(void *arg)
{
    (void)arg;
    httpd_serve(serve_fd, dispatch);
}

int gort_debug_serve(const char *addr)
{
    if (!addr)
        addr = "127.0.0.1:6060";    /* the default: loopback only */
    if (__atomic_load_n(&serve_fd, __ATOMIC_ACQUIRE) >= 0) {
        errno = EBUSY;  /* one endpoint per process */
        return -1;
    }
    int port, fd = httpd_listen(addr, &port);
    if (fd < 0)
        return -1;
    int none = -1;
    if (!__atomic_compare_exchange_n(&serve_fd, &none, fd, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        close(fd);
        errno = EBUSY;
        return -1;
    }
    __atomic_store_n(&serve_port, port, __ATOMIC_RELEASE);
    gort_go(serve_main, NULL);
    return 0;
}

int gort_debug_serve_port(void)
{
    return __atomic_load_n(&serve_port, __ATOMIC_ACQUIRE);
}
