/*
 * pagecopy.h — copying runs of a process's pages into a core file.
 *
 * A run is target memory and the place in the file its bytes go.  The runs
 * are read into a staging buffer (mapped and faulted in beforehand, so the
 * read costs only the copy) by a few threads at once, each with
 * process_vm_readv of up to 1024 pieces a call; then the buffer is written
 * at the runs' places, where pages of zeros are left as holes: the file is
 * sparse.  Reading and writing are separate steps so that a stopped target
 * waits for the reading only.
 *
 * A page that cannot be read (a file mapping past the end of its file) is
 * zeros; any other failure (the process is gone, reading is refused) stops
 * the reading.
 */
#ifndef GOINSPECT_PAGECOPY_H
#define GOINSPECT_PAGECOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"

struct copy_run {
    uint64_t addr, len;     /* target memory, whole pages */
    uint64_t file_off;      /* where its bytes go */
    bool over;              /* the file may hold other bytes there: zeros are
                               written, not left as a hole */
    uint32_t tag;           /* the caller's */
};

struct copy_list {
    struct copy_run *v;
    size_t n, cap;
    uint64_t bytes;
};

/* Appends a run, merged with the last one when it continues it. */
void copy_list_add(struct copy_list *l, uint64_t addr, uint64_t len, uint64_t file_off, bool over,
                   uint32_t tag);
void copy_list_free(struct copy_list *l);

/* A piece of a run in the buffer. */
struct copy_seg {
    size_t run;
    uint64_t at;            /* its offset in the run */
    size_t len;
    size_t good;            /* bytes from its start that were read (the rest, or
                               pages of it, could not be) */
    size_t buf_off;
};

struct stager {
    pid_t pid;
    char *buf;
    size_t cap, used;
    bool heap;              /* buf is from malloc, not mmap */
    struct copy_seg *segs;
    size_t nsegs, segcap;
    unsigned threads;
    int err;                /* why reading stopped: ESRCH (the process is gone), EPERM...;
                               0: it did not */
};

/* Where the next fill starts in a list. */
struct copy_pos {
    size_t run;
    uint64_t at;
};

/* A buffer of about bytes (at least a few MiB), faulted in now. */
void stager_init(struct stager *s, pid_t pid, size_t bytes);
void stager_free(struct stager *s);

/* Reads runs of l from pos on into the buffer until it is full or l
 * ends, and moves pos past them; returns whether runs remain.  s->err
 * says whether the reading failed. */
bool stager_fill(struct stager *s, const struct copy_list *l, struct copy_pos *pos);

struct copy_stats {
    uint64_t written;       /* bytes written */
    uint64_t holes;         /* bytes of zeros left as holes */
};

/* Writes what the last fill read into fd; fails with the write's error
 * ("No space left on device"). */
int stager_flush(struct stager *s, const struct copy_list *l, int fd, struct copy_stats *st,
                 struct fail *f);

/* Makes the places of l (file_off, len) in fd read as zeros: holes where
 * the file system can punch them. */
int copy_clear(int fd, const struct copy_list *l, struct fail *f);

#endif
