/*
 * outfile.h — a file that appears under its name only once it is complete:
 * the core that goinspect gcore writes.
 *
 * It is written without a name (O_TMPFILE) and linked into its directory
 * at the end, so that a dump that fails, or goinspect killed by any
 * signal, leaves nothing behind.  Where the file system has no O_TMPFILE
 * (NFS, FUSE...), it is written as NAME.partial.PID and renamed at the
 * end; that file is removed on a failure and by outfile_on_signal().
 *
 * An existing file is never replaced unless asked (force); then it is
 * replaced in one rename, so it stays whole until the new file is.
 */
#ifndef GOINSPECT_OUTFILE_H
#define GOINSPECT_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fail.h"

struct outfile {
    int fd;
    bool force;
    bool partial;           /* written as partial_path, not without a name */
    char path[4096];        /* its name once complete */
    char partial_path[4200];
};

/* Creates the file that will be path.  Fails when path exists (unless
 * force) or is not a regular file, or its directory cannot be written. */
int outfile_create(struct outfile *o, const char *path, bool force, struct fail *f);
/* Gives the complete file its name and closes it. */
int outfile_commit(struct outfile *o, struct fail *f);
/* Removes the incomplete file. */
void outfile_discard(struct outfile *o);

/* Writes n bytes at offset off of fd; fails with the write's error. */
int outfile_write(int fd, const void *p, size_t n, uint64_t off, struct fail *f);

/* Async-signal-safe, for a fatal signal: removes the partial file, if the
 * file being written has a name. */
void outfile_on_signal(void);

#endif
