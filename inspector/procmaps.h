/*
 * procmaps.h — a process's mappings, as /proc/PID/maps lists them (a core
 * file's backend builds the same list from its program headers and NT_FILE
 * note).
 */
#ifndef GOINSPECT_PROCMAPS_H
#define GOINSPECT_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"

struct mapping {
    uint64_t start, end;    /* [start, end) */
    uint64_t offset;        /* file offset of start */
    char perms[5];          /* "r-xp" */
    unsigned dev_major, dev_minor;
    uint64_t inode;
    const char *path;       /* "" when anonymous; "[heap]", "[stack]", ... */
    bool deleted;           /* the file was deleted: path ends in " (deleted)" (stripped) */
};

struct procmaps {
    struct mapping *v;      /* sorted by start */
    size_t n;
    char *strings;          /* storage of the paths */
};

/* Parses one line of a maps file (or a mapping's first line in smaps),
 * cutting " (deleted)" off its path, which stays in line. */
bool procmaps_line(char *line, struct mapping *m, char **path);
/* Parses the text of a maps file. */
int procmaps_parse(const char *text, size_t len, struct procmaps *out, struct fail *f);
/* Reads and parses /proc/PID/maps. */
int procmaps_read(pid_t pid, struct procmaps *out, struct fail *f);
void procmaps_free(struct procmaps *m);
/* The mapping that contains addr, or NULL. */
const struct mapping *procmaps_find(const struct procmaps *m, uint64_t addr);
static inline bool mapping_readable(const struct mapping *m) { return m->perms[0] == 'r'; }

/* Reads a whole (small) file such as /proc/PID/maps into a NUL-terminated
 * buffer; returns its length or -1 with errno set. */
ssize_t read_small_file(const char *path, char **out);

#endif
