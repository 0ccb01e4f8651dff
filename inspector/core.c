/*
 * core.c — `goinspect [--json] core CORE [--exe EXE] [--sysroot DIR]
 * [COMMAND [ARGS]]`: every attach subcommand on a core file (the kernel's,
 * gdb's gcore's, goinspect's gcore's), through target_core.c.
 */
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "heapsnap.h"
#include "session.h"
#include "stdstreams.h"

static void usage(void)
{
    stdio_printf(stdout,
                 "usage: goinspect [--json] [--debug-file-directory DIR]... core CORE [--exe EXE]\n"
                 "                 [--sysroot DIR] [COMMAND [ARGS]]\n\n"
                 "Reads a core file of a program linked with libgort (written by the kernel,\n"
                 "by gdb's gcore or by goinspect gcore) and shows what attach shows of a live\n"
                 "process:\n\n");
    subcommands_help();
    stdio_printf(stdout,
                 "\nWith no COMMAND: summary, or an interactive prompt when stdin is a "
                 "terminal.\n\n"
                 "  --json          machine-readable output (docs/json.md)\n"
                 "  --exe EXE       the executable (default: the one the core names); it must\n"
                 "                  have the build-id the core recorded\n"
                 "  --sysroot DIR   find the core's files (executable, libraries) under DIR, as\n"
                 "                  gdb's set sysroot: for a core from another machine\n");
}

static int open_core(const void *what, const void *opts, struct target **t, struct fail *f)
{
    return target_core_open(what, opts, t, f);
}

/* The value of an option that takes one: "--exe X" or "--exe=X". */
static int option_value(int argc, char **argv, int i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (strncmp(argv[i], name, n) != 0)
        return 0;
    if (argv[i][n] == '=') {
        *out = argv[i] + n + 1;
        return 1;
    }
    if (argv[i][n] != 0)
        return 0;
    if (i + 1 >= argc) {
        die_msg("core: %s needs a value", name);
        return -1;
    }
    *out = argv[i + 1];
    return 2;
}

static int run_core(const struct global_opts *g, int argc, char **argv)
{
    struct snap_options so = {.goroutines = SNAP_G_STACKS, .heap = HEAP_NONE};
    struct core_options co = {NULL, NULL};
    const char *path = NULL;
    bool json = g->json;
    int i = 1;
    /* options before and after CORE; the first other word after it is COMMAND */
    while (i < argc) {
        int took;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            i++;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return EXIT_OK;
        } else if ((took = option_value(argc, argv, i, "--exe", &co.exe)) != 0 ||
                   (took = option_value(argc, argv, i, "--sysroot", &co.sysroot)) != 0) {
            if (took < 0)
                return EXIT_USAGE;
            i += took;
        } else if (strncmp(argv[i], DEBUG_DIR_OPTION, strlen(DEBUG_DIR_OPTION)) == 0) {
            die_msg("core: %s goes before the command: goinspect " DEBUG_DIR_OPTION
                    " DIR core CORE ...", argv[i]);
            return EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            die_msg("core: unknown option '%s' (see goinspect help core)", argv[i]);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i++];
        } else {
            break;
        }
    }
    if (!path) {
        die_msg("core: which core file? (usage: goinspect core CORE [COMMAND [ARGS]])");
        return EXIT_USAGE;
    }
    return session_command(g, json, &so, "core", argc - i, argv + i, open_core, path, &co);
}

const struct command cmd_core = {
    .name = "core",
    .args = "CORE [COMMAND [ARGS]]",
    .summary = "the same views of a core file (post mortem)",
    .run = run_core,
    .usage = usage,
};
