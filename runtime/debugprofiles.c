/*
 * debugprofiles.c — the debug endpoint's CPU and block profiles:
 * /debug/pprof/profile?seconds=N and /debug/pprof/block (debugserve.c's
 * route table), as Go's net/http/pprof serves them.
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
