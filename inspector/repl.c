/*
 * repl.c — the interactive prompt: the attach commands over one snapshot,
 * `refresh` for a new one, `help`, `quit`; line editing, history and
 * command completion from GNU readline.  The target runs while the prompt
 * waits: each snapshot stops it only for its copy.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "command.h"
#include "session.h"
#include "stdstreams.h"
#include "textfmt.h"

enum { MAX_ARGS = 64 };

/* Splits a line into words; "..." and '...' quote. */
static int split(char *line, char **argv)
{
    int n = 0;
    char *p = line;
    while (*p && n < MAX_ARGS - 1) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        char q = (*p == '"' || *p == '\'') ? *p++ : 0;
        argv[n++] = p;
        while (*p && (q ? *p != q : (*p != ' ' && *p != '\t')))
            p++;
        if (*p)
            *p++ = 0;
    }
    argv[n] = NULL;
    return n;
}

static void help(void)
{
    stdio_printf(stdout, "commands (on the current snapshot):\n");
    subcommands_help();
    stdio_printf(stdout, "  refresh\n        take a new snapshot\n"
                         "  help\n        this list\n"
                         "  quit\n        leave (also Ctrl-D); the process runs on\n"
                         "add --json to any command for JSON output\n");
}

/* The k-th word the prompt completes, NULL past the last. */
static const char *completion_word(int k)
{
    static const char *const extra[] = {"refresh", "help", "quit"};
    int nsub = 0;
    while (subcommands[nsub])
        nsub++;
    if (k < nsub)
        return subcommands[k]->name;
    k -= nsub;
    return k < 3 ? extra[k] : NULL;
}

static char *command_names(const char *text, int state)
{
    static int i;
    if (!state)
        i = 0;
    const char *w;
    while ((w = completion_word(i++)) != NULL)
        if (strncmp(w, text, strlen(text)) == 0)
            return strdup(w);
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    return start == 0 ? rl_completion_matches(text, command_names) : NULL;
}

/* Ctrl-C at the prompt drops the line being typed, as in a shell.  (While
 * a snapshot stops the process, the attach's own handler detaches and
 * exits instead.) */
static void on_interrupt(int sig)
{
    (void)sig;
    if (write(1, "\n", 1) < 0) {
        /* nothing to do */
    }
    rl_on_new_line();
    rl_replace_line("", 0);
    rl_redisplay();
}

int repl_run(struct session *ss)
{
    char pause[64];
    session_pause_text(ss, pause, sizeof pause);
    stdio_printf(stdout, "%s %s: %zu goroutines, %zu threads; %s.  Type help.\n",
                 ss->t->frozen ? "opened" : "attached to", ss->t->what, ss->s.ngs,
                 ss->t->nthreads, pause);
    rl_attempted_completion_function = complete;
    rl_catch_signals = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, &old);
    int rc = 0;
    /* a standard output that fails ends the prompt: nothing more can be shown */
    while (stdout_flush()) {
        char *line = readline("goinspect> ");
        if (!line) {
            stdio_printf(stdout, "\n");
            break;
        }
        char *argv[MAX_ARGS];
        char *copy = strdup(line);
        int argc = split(copy, argv);
        if (argc > 0)
            add_history(line);
        free(line);
        if (argc == 0) {
            free(copy);
            continue;
        }
        if (strcmp(argv[0], "quit") == 0 || strcmp(argv[0], "exit") == 0 ||
            strcmp(argv[0], "q") == 0) {
            free(copy);
            break;
        }
        if (strcmp(argv[0], "help") == 0) {
            help();
        } else if (strcmp(argv[0], "refresh") == 0) {
            struct fail f;
            if (session_refresh(ss, &f) < 0) {
                die_msg("refresh: %s", f.msg);
                if (!ss->have_snapshot) {
                    free(copy);
                    rc = 1;
                    break;
                }
            } else {
                session_pause_text(ss, pause, sizeof pause);
                stdio_printf(stdout, "new snapshot: %zu goroutines, %zu threads; %s\n",
                             ss->s.ngs, ss->t->nthreads, pause);
            }
        } else if (!subcommand_find(argv[0])) {
            die_msg("unknown command '%s' (type help)", argv[0]);
        } else {
            session_run(ss, argc, argv);
        }
        free(copy);
    }
    sigaction(SIGINT, &old, NULL);
    return rc;
}
