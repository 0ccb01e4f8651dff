/*
 * attach.c — `goinspect [--json] attach [--nonstop] PID [COMMAND [ARGS]]`:
 * options, the snapshot, and dispatch to the subcommand (summary when none;
 * the interactive prompt when none and stdin is a terminal).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "heapsnap.h"
#include "session.h"
#include "stdstreams.h"
#include "trace.h"

const struct subcommand *const subcommands[] = {
    &sub_summary, &sub_goroutines, &sub_goroutine, &sub_threads, &sub_maps, &sub_ptr,
    &sub_heap, &sub_spans, &sub_memstats, NULL,
};

const struct subcommand *subcommand_find(const char *name)
{
    for (int i = 0; subcommands[i]; i++)
        if (strcmp(subcommands[i]->name, name) == 0)
            return subcommands[i];
    return NULL;
}

void subcommands_help(void)
{
    for (int i = 0; subcommands[i]; i++)
        stdio_printf(stdout, "  %s%s%s\n        %s\n", subcommands[i]->name,
                     subcommands[i]->synopsis[0] ? " " : "", subcommands[i]->synopsis,
                     subcommands[i]->help);
}

static void usage(void)
{
    stdio_printf(stdout,
                 "usage: goinspect [--json] [--debug-file-directory DIR]... attach [--nonstop] PID\n"
                 "                 [COMMAND [ARGS]]\n\n"
                 "Stops every thread of process PID (a program linked with libgort) just long\n"
                 "enough to copy the runtime's state, lets it run again, and shows:\n\n");
    subcommands_help();
    stdio_printf(stdout,
                 "\nWith no COMMAND: summary, or an interactive prompt when stdin is a "
                 "terminal.\n\n"
                 "  --json         machine-readable output (docs/json.md)\n"
                 "  --nonstop      never stop the process: read it while it runs (may be "
                 "inconsistent)\n"
                 "  --no-precopy   copy every stack during the stop, none before (a longer "
                 "pause)\n\n"
                 "Debug info is searched as gdb searches it (docs/guide.md): --debug-file-directory,\n"
                 "before the command, replaces /usr/lib/debug; DEBUGINFOD_URLS names debuginfod\n"
                 "servers to download it from.\n");
}

int session_run(struct session *ss, int argc, char **argv)
{
    const struct subcommand *sc = subcommand_find(argv[0]);
    if (!sc) {
        die_msg("attach: unknown command '%s' (see goinspect help attach)", argv[0]);
        return EXIT_USAGE;
    }
    void *opts = NULL;
    if (sc->parse(argc, argv, &opts) < 0)
        return EXIT_USAGE;
    bool json = ss->json;
    if (((struct subopts *)opts)->json)
        ss->json = true;
    int rc = sc->run(ss, opts);
    ss->json = json;
    out_flush(&ss->out);
    free(opts);
    return rc;
}

static bool parse_pid(const char *s, pid_t *pid)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v <= 0 || v > INT_MAX)
        return false;
    *pid = (pid_t)v;
    return true;
}

static int run_attach(const struct global_opts *g, int argc, char **argv)
{
    struct snap_options so = {false, false, SNAP_G_STACKS, HEAP_NONE};
    bool json = g->json;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--nonstop") == 0) {
            so.nonstop = true;
        } else if (strcmp(argv[i], "--no-precopy") == 0) {
            so.no_precopy = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return EXIT_OK;
        } else if (strncmp(argv[i], DEBUG_DIR_OPTION, strlen(DEBUG_DIR_OPTION)) == 0) {
            die_msg("attach: %s goes before the command: goinspect " DEBUG_DIR_OPTION
                    " DIR attach PID ...", argv[i]);
            return EXIT_USAGE;
        } else {
            die_msg("attach: unknown option '%s' (see goinspect help attach)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        die_msg("attach: which process? (usage: goinspect attach PID [COMMAND [ARGS]])");
        return EXIT_USAGE;
    }
    pid_t pid;
    if (!parse_pid(argv[i], &pid)) {
        die_msg("attach: '%s' is not a process id", argv[i]);
        return EXIT_USAGE;
    }
    i++;

    /* The subcommand's arguments are checked before anything is attached. */
    static char *summary_argv[] = {"summary", NULL};
    char **cargv = i < argc ? argv + i : summary_argv;
    int cargc = i < argc ? argc - i : 1;
    bool interactive = i >= argc && isatty(0);
    const struct subcommand *sc = subcommand_find(cargv[0]);
    if (!sc) {
        die_msg("attach: unknown command '%s' (see goinspect help attach)", cargv[0]);
        return EXIT_USAGE;
    }
    void *opts = NULL;
    if (!interactive) {
        if (sc->parse(cargc, cargv, &opts) < 0)
            return EXIT_USAGE;
        free(opts);
    }

    so.heap = interactive ? HEAP_BITMAPS : sc->heap;
    so.goroutines = interactive ? SNAP_G_STACKS : sc->goroutines;
    trace_mark("start");
    struct session ss;
    memset(&ss, 0, sizeof ss);
    ss.json = json;
    struct gd_open_options oo;
    debuginfo_options(&g->debug_dirs, &oo);
    ss.open_opts = &oo;
    out_init(&ss.out, 1);
    struct fail f;
    int rc;
    if (session_open(&ss, pid, &so, interactive || sc->needs_stacks, &f) < 0) {
        die_msg("%s", f.msg);
        rc = EXIT_FAIL;
    } else if (interactive) {
        rc = repl_run(&ss);
    } else {
        rc = session_run(&ss, cargc, cargv);
        trace_mark("print");
    }
    session_close(&ss);
    out_flush(&ss.out);
    out_free(&ss.out);
    return rc;
}

const struct command cmd_attach = {
    .name = "attach",
    .args = "PID [COMMAND [ARGS]]",
    .summary = "goroutines, threads and memory of a running libgort program",
    .run = run_attach,
    .usage = usage,
};
