/*
 * cmd_heap_profile.c — `heap-profile [-o FILE]`: the runtime's allocation
 * profile, read through the descriptor from the process's memory (copied
 * in the snapshot's stop) or from a core, as a gzipped profile.proto for
 * `go tool pprof` (heapprof.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytebuf.h"
#include "command.h"
#include "heapprof.h"
#include "heapsnap.h"
#include "memprofsnap.h"
#include "outfile.h"
#include "stdstreams.h"

#define DEFAULT_OUT "heap-profile.pb.gz"

struct opts {
    struct subopts common;
    const char *out;
};

static int parse(int argc, char **argv, void **out)
{
    struct opts *o = xcalloc(1, sizeof *o);
    o->out = DEFAULT_OUT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                free(o);
                return usage_error("heap-profile", "-o wants a file name ('-' for standard "
                                                   "output)");
            }
            o->out = argv[++i];
        } else {
            free(o);
            return usage_error("heap-profile", "unexpected argument '%s' (usage: heap-profile "
                                               "[-o FILE])", argv[i]);
        }
    }
    *out = o;
    return 0;
}

static int write_file(const char *path, const struct bytebuf *b, struct fail *f)
{
    if (strcmp(path, "-") == 0) {
        stdout_flush();
        for (size_t off = 0; off < b->n;) {
            ssize_t w = write(1, b->p + off, b->n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return fail_set(f, "standard output: %s", strerror(w < 0 ? errno : EIO));
            off += (size_t)w;
        }
        return 0;
    }
    struct outfile of;
    if (outfile_create(&of, path, true, f) < 0)
        return -1;
    if (outfile_write(of.fd, b->p, b->n, 0, f) < 0 || outfile_commit(&of, f) < 0) {
        outfile_discard(&of);
        return fail_wrap(f, "%s", path);
    }
    return 0;
}

static int run(struct session *ss, void *opts)
{
    const struct opts *o = opts;
    const struct memprofsnap *m = session_memprof(ss, "heap-profile");
    if (!m)
        return EXIT_FAIL;
    session_notes(ss);
    struct heapprof hp;
    heapprof_build(ss, m, &hp);
    struct bytebuf b = {0};
    struct fail f;
    int rc = heapprof_pprof(&hp, ss->t->what, &b, &f);
    if (rc == 0)
        rc = write_file(o->out, &b, &f);
    if (rc < 0)
        die_msg("heap-profile: %s", f.msg);
    if (rc == 0) {
        char pause[64];
        session_pause_text(ss, pause, sizeof pause);
        fprintf(stderr, "goinspect: heap-profile: %llu samples in %llu stacks (1 per %lld bytes "
                        "allocated; %s); wrote %s\n", (unsigned long long)hp.samples,
                (unsigned long long)hp.buckets, (long long)hp.rate, pause,
                strcmp(o->out, "-") == 0 ? "standard output" : o->out);
    }
    bb_free(&b);
    heapprof_free(&hp);
    return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

const struct subcommand sub_heap_profile = {
    .name = "heap-profile",
    .synopsis = "[-o FILE]",
    .help = "the runtime's allocation profile as profile.proto for go tool pprof "
            "(default " DEFAULT_OUT ")",
    .parse = parse,
    .run = run,
    .goroutines = SNAP_G_NONE,
    .heap = HEAP_NONE,
    .memprof = true,
};
