/*
 * debuginfod.c — a separate debug file by build-id from the debuginfod
 * servers named in $DEBUGINFOD_URLS, through elfutils' client library
 * (libdebuginfod).  The library is loaded with dlopen the first time it is
 * needed, so that libgidwarf builds, links and runs without it; it keeps
 * its own cache of what it downloaded ($DEBUGINFOD_CACHE_PATH, else
 * $XDG_CACHE_HOME/debuginfod_client or ~/.cache/debuginfod_client) and
 * reads its other settings from the environment (DEBUGINFOD_TIMEOUT...).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define DEBUGINFOD_LIBRARY "libdebuginfod.so.1"

typedef struct debuginfod_client client;
typedef int (*client_progress_fn)(client *c, long a, long b);

/* The functions of libdebuginfod used here. */
struct client_api {
    client *(*begin)(void);
    int (*find_debuginfo)(client *c, const unsigned char *id, int len, char **path);
    void (*set_progressfn)(client *c, client_progress_fn fn);
    void (*set_user_data)(client *c, void *data);
    void *(*get_user_data)(client *c);
    const char *(*get_url)(client *c);
    void (*end)(client *c);
};

#if defined(__has_include)
#if __has_include(<elfutils/debuginfod.h>)
/* Where the header is installed, the types above are checked against it. */
#include <elfutils/debuginfod.h>
#define SAME_TYPE(fn, member) \
    _Static_assert(_Generic(&fn, __typeof__(((struct client_api *)0)->member): 1, default: 0), \
                   #fn " is declared otherwise in elfutils/debuginfod.h")
SAME_TYPE(debuginfod_begin, begin);
SAME_TYPE(debuginfod_find_debuginfo, find_debuginfo);
SAME_TYPE(debuginfod_set_progressfn, set_progressfn);
SAME_TYPE(debuginfod_set_user_data, set_user_data);
SAME_TYPE(debuginfod_get_user_data, get_user_data);
SAME_TYPE(debuginfod_get_url, get_url);
SAME_TYPE(debuginfod_end, end);
#endif
#endif

static struct client_api api;
static bool api_loaded;
static char api_error[256];
static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static atomic_flag api_error_told = ATOMIC_FLAG_INIT;

static void api_load(void)
{
    const struct { const char *name; void **slot; } syms[] = {
        { "debuginfod_begin", (void **)&api.begin },
        { "debuginfod_find_debuginfo", (void **)&api.find_debuginfo },
        { "debuginfod_set_progressfn", (void **)&api.set_progressfn },
        { "debuginfod_set_user_data", (void **)&api.set_user_data },
        { "debuginfod_get_user_data", (void **)&api.get_user_data },
        { "debuginfod_get_url", (void **)&api.get_url },
        { "debuginfod_end", (void **)&api.end },
    };
    void *h = dlopen(DEBUGINFOD_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(api_error, sizeof api_error, "%s", why ? why : "cannot be loaded");
        return;
    }
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
            snprintf(api_error, sizeof api_error, "%s has no %s", DEBUGINFOD_LIBRARY,
                     syms[i].name);
            dlclose(h);
            return;
        }
    api_loaded = true;
}

/* Is the client library there?  Says why not once per process. */
static bool api_ready(const struct gd_warner *w)
{
    pthread_once(&api_once, api_load);
    if (!api_loaded && !atomic_flag_test_and_set(&api_error_told))
        gd_warn(w, "DEBUGINFOD_URLS is set but elfutils' %s cannot be loaded (%s): no debug "
                "info is downloaded (Debian installs it with the libdebuginfod1 package)",
                DEBUGINFOD_LIBRARY, api_error);
    return api_loaded;
}

bool debuginfod_wanted(void)
{
    const char *urls = getenv("DEBUGINFOD_URLS");
    return urls && urls[strspn(urls, " \t\n")] != 0;
}

/* ---- One lookup -------------------------------------------------------- */

struct fetch {
    struct gd_download dl;
    double t0;
    gd_progress_fn fn;
    void *ctx;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* libdebuginfod's progress call: about once a second while it waits, more
 * often while data comes.  Until a server is chosen a counts calls and b is
 * 0; then a is the bytes received and b their total (when known). */
static int on_progress(client *c, long a, long b)
{
    struct fetch *ft = api.get_user_data(c);
    bool sized = b > 0;
    ft->dl.received = sized && a > 0 ? (uint64_t)a : 0;
    ft->dl.total = sized ? (uint64_t)b : 0;
    ft->dl.url = api.get_url(c);
    ft->dl.seconds = now() - ft->t0;
    ft->fn(ft->ctx, &ft->dl);
    return 0;
}

static const char *why_not(int rc)
{
    if (rc == -ENOENT)
        return "no server has it";
    if (rc == -ENOSYS)
        return "no server named";
    return strerror(-rc);
}

char *debuginfod_fetch(const char *path, const uint8_t *id, size_t len,
                       const struct gd_warner *w, gd_progress_fn progress, void *progress_ctx)
{
    if (!api_ready(w))
        return NULL;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    client *c = api.begin();
    if (!c) {
        gd_warn(w, "no debug info for %s from DEBUGINFOD_URLS (%s): %s", base,
                getenv("DEBUGINFOD_URLS"), strerror(errno));
        return NULL;
    }
    struct fetch ft = { { path, id, len, NULL, 0, 0, 0, false }, now(), progress, progress_ctx };
    if (progress) {
        api.set_user_data(c, &ft);
        api.set_progressfn(c, on_progress);
    }
    char *found = NULL;
    int fd = api.find_debuginfo(c, id, (int)len, &found);
    if (progress) {
        ft.dl.url = api.get_url(c);
        ft.dl.seconds = now() - ft.t0;
        ft.dl.done = true;
        progress(progress_ctx, &ft.dl);
    }
    if (fd < 0)
        gd_warn(w, "no debug info for %s from DEBUGINFOD_URLS (%s): %s", base,
                getenv("DEBUGINFOD_URLS"), why_not(fd));
    else
        close(fd);
    api.end(c);
    if (fd >= 0 && !found)
        gd_warn(w, "no debug info for %s from DEBUGINFOD_URLS (%s): its file in the cache "
                "is not named", base, getenv("DEBUGINFOD_URLS"));
    return fd >= 0 ? found : NULL;
}
