/*
 * debuginfo.h — where goinspect looks for debug info, the same for every
 * command: the debug directories of the command line
 * (--debug-file-directory DIR, gdb's name; repeated, in order; '' for
 * none), and the options binaries are opened with — those directories,
 * libgidwarf's warnings and debuginfod's download progress on stderr.
 */
#ifndef GOINSPECT_DEBUGINFO_H
#define GOINSPECT_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>

#include "gidwarf.h"

#define DEBUG_DIR_OPTION "--debug-file-directory"

/* The debug directories given, NULL-terminated in v (v is NULL while none
 * was added). */
struct dirlist {
    const char **v;
    size_t n, cap;
    bool given;             /* the option was given (even as ''): the default
                               /usr/lib/debug is replaced */
};

/* Adds DIR (the empty string adds none but still replaces the default). */
void dirlist_add(struct dirlist *d, const char *dir);
/* Adds every directory of from, and its given. */
void dirlist_add_all(struct dirlist *d, const struct dirlist *from);
void dirlist_free(struct dirlist *d);

/* Is argv[i] --debug-file-directory DIR or --debug-file-directory=DIR?
 * Adds DIR and returns how many arguments it took (1 or 2); 0 when it is
 * another argument; -1 after "goinspect: CMD: ..." when DIR is missing. */
int dirlist_option(struct dirlist *d, const char *cmd, int argc, char **argv, int i);

/* Options to open binaries with: d's directories (the default when none
 * was given), warnings as "goinspect: warning: ..." and a progress line
 * for a debuginfod download that takes more than a second, on stderr.
 * oo refers to d: it is valid as long as d is unchanged. */
void debuginfo_options(const struct dirlist *d, struct gd_open_options *oo);

#endif
