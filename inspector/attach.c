/*
 * attach.c — `goinspect [--json] attach [--nonstop] PID [COMMAND [ARGS]]`:
 * its options; the subcommands run on the live process as session_command
 * (subcommands.c) runs them.
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

bool parse_pid(const char *s, pid_t *pid)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v <= 0 || v > INT_MAX)
        return false;
    *pid = (pid_t)v;
    return true;
}

static int open_live(const void *what, const void *opts, struct target **t, struct fail *f)
{
    return target_live_open(*(const pid_t *)what, opts, t, f);
}

static int run_attach(const struct global_opts *g, int argc, char **argv)
{
    struct snap_options so = {.goroutines = SNAP_G_STACKS, .heap = HEAP_NONE};
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

    struct live_options lo = {so.nonstop};
    return session_command(g, json, &so, "attach", argc - i, argv + i, open_live, &pid, &lo);
}

const struct command cmd_attach = {
    .name = "attach",
    .args = "PID [COMMAND [ARGS]]",
    .summary = "goroutines, threads and memory of a running libgort program",
    .run = run_attach,
    .usage = usage,
};
