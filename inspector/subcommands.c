/*
 * subcommands.c — what `attach` and `core` share: the table of subcommands,
 * running one on a session, and session_command, which checks the
 * subcommand's arguments, opens the target, takes the snapshot and runs
 * the subcommand (summary when none; the interactive prompt when none and
 * stdin is a terminal).
 */
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
    &sub_heap, &sub_spans, &sub_memstats, &sub_heap_profile, NULL,
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

int session_run(struct session *ss, int argc, char **argv)
{
    const struct subcommand *sc = subcommand_find(argv[0]);
    if (!sc) {
        die_msg("%s: unknown command '%s' (see goinspect help %s)", ss->cmd, argv[0], ss->cmd);
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

int session_command(const struct global_opts *g, bool json, struct snap_options *so,
                    const char *cmd, int argc, char **argv, target_open_fn open,
                    const void *what, const void *opts)
{
    /* The subcommand's arguments are checked before anything is opened. */
    static char *summary_argv[] = {"summary", NULL};
    char **cargv = argc > 0 ? argv : summary_argv;
    int cargc = argc > 0 ? argc : 1;
    bool interactive = argc == 0 && isatty(0);
    const struct subcommand *sc = subcommand_find(cargv[0]);
    if (!sc) {
        die_msg("%s: unknown command '%s' (see goinspect help %s)", cmd, cargv[0], cmd);
        return EXIT_USAGE;
    }
    void *sopts = NULL;
    const struct subcommand *need = sc;
    if (!interactive) {
        if (sc->parse(cargc, cargv, &sopts) < 0)
            return EXIT_USAGE;
        if (((struct subopts *)sopts)->needs)
            need = ((struct subopts *)sopts)->needs;
        free(sopts);
    }

    so->heap = interactive ? HEAP_BITMAPS : need->heap;
    so->memprof = interactive || need->memprof;
    so->goroutines = interactive ? SNAP_G_STACKS : need->goroutines;
    trace_mark("start");
    struct session ss;
    memset(&ss, 0, sizeof ss);
    ss.json = json;
    ss.cmd = cmd;
    struct gd_open_options oo;
    debuginfo_options(&g->debug_dirs, &oo);
    oo.flags |= GD_OPEN_PCTAB;      /* frames from the pc-line table when there is one */
    ss.open_opts = &oo;
    out_init(&ss.out, 1);
    struct fail f;
    struct target *t = NULL;
    int rc;
    if (open(what, opts, &t, &f) < 0 ||
        session_open(&ss, t, so, interactive || sc->needs_stacks, &f) < 0) {
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
