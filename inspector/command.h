/*
 * command.h — what main.c's dispatcher knows about a command.  Each command
 * lives in its own file and is listed in main.c's table.
 */
#ifndef GOINSPECT_COMMAND_H
#define GOINSPECT_COMMAND_H

#include <stdbool.h>
#include <sys/types.h>

#include "debuginfo.h"

/* Options given before the command name. */
struct global_opts {
    bool json;              /* --json: machine-readable output */
    struct dirlist debug_dirs; /* --debug-file-directory DIR... */
};

/* Exit codes of every command. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct command {
    const char *name;
    const char *args;       /* one-line argument synopsis */
    const char *summary;
    /* argv[0] is the command name; returns the exit code. */
    int (*run)(const struct global_opts *g, int argc, char **argv);
    void (*usage)(void);    /* prints the command's help to stdout */
};

extern const struct command cmd_symbolize;

/* A process id (a positive decimal number) from s (attach.c). */
bool parse_pid(const char *s, pid_t *pid);

/* Prints "goinspect: WHAT: WHY" to stderr (the message is printf-style). */
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
