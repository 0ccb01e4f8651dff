/*
 * main.c — the goinspect command line: global options, then a command from
 * the table below.  Usage errors exit 2, other errors print
 * "goinspect: WHAT: WHY" and exit 1; so does a write error on standard
 * output, whatever the command (stdstreams.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "stdstreams.h"

#define GOINSPECT_VERSION "0.1.0"

extern const struct command cmd_attach, cmd_core, cmd_gcore, cmd_record;

static const struct command *const commands[] = {
    &cmd_attach,
    &cmd_core,
    &cmd_gcore,
    &cmd_record,
    &cmd_symbolize,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

void die_msg(const char *fmt, ...)
{
    va_list ap;
    stdout_flush();
    fputs("goinspect: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    stdio_printf(f, "usage: goinspect [--json] [--debug-file-directory DIR]... COMMAND [ARGS...]\n"
                    "       goinspect --help | --version | help COMMAND\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        stdio_printf(f, "  %-10s %-28s %s\n", commands[i]->name, commands[i]->args,
                     commands[i]->summary);
    stdio_printf(f, "\noptions:\n"
                    "  --json                      machine-readable output (docs/json.md)\n"
                    "  --debug-file-directory DIR  where separate debug files live, instead of\n"
                    "                              /usr/lib/debug (repeat for several; '' for none)\n");
}

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int dispatch(struct global_opts *g, int argc, char **argv)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        int took = dirlist_option(&g->debug_dirs, NULL, argc, argv, i);
        if (took < 0)
            return EXIT_USAGE;
        if (took > 0) {
            i += took - 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            g->json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            stdio_printf(stdout, "goinspect %s\n", GOINSPECT_VERSION);
            return EXIT_OK;
        } else {
            die_msg("unknown option '%s' (see goinspect --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 >= argc) {
            usage(stdout);
            return EXIT_OK;
        }
        const struct command *c = find(argv[i + 1]);
        if (!c) {
            die_msg("unknown command '%s' (see goinspect --help)", argv[i + 1]);
            return EXIT_USAGE;
        }
        c->usage();
        return EXIT_OK;
    }
    const struct command *c = find(argv[i]);
    if (!c) {
        die_msg("unknown command '%s' (see goinspect --help)", argv[i]);
        return EXIT_USAGE;
    }
    return c->run(g, argc - i, argv + i);
}

int main(int argc, char **argv)
{
    struct global_opts g = { false, { NULL, 0, 0, false } };
    std_streams_init();
    int rc = dispatch(&g, argc, argv);
    dirlist_free(&g.debug_dirs);
    return std_streams_finish(rc);
}
