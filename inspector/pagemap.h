/*
 * pagemap.h — which pages of a process hold something (present in memory
 * or swapped out), and which were written since a point in time (the
 * kernel's soft-dirty bits), from /proc/PID/pagemap.
 *
 * Two ways to ask: the PAGEMAP_SCAN ioctl (Linux 6.7), which lists runs of
 * pages by category, and reading the file's 8-byte entries (any kernel),
 * one per page: bit 63 present, 62 swapped, 61 a file page (or shared
 * anonymous memory), 55 soft-dirty, 0-54 the page frame (zero unless
 * goinspect has CAP_SYS_ADMIN).  Both give the same runs.
 *
 * Soft-dirty: writing "4" to /proc/PID/clear_refs clears every page's bit
 * and write-protects the page; the first write sets the bit again, and so
 * does every page that appears anew.  Kernels built without
 * CONFIG_MEM_SOFT_DIRTY accept the write and never set a bit, so
 * softdirty_available() tests the whole mechanism on a page of goinspect's
 * own first.
 */
#ifndef GOINSPECT_PAGEMAP_H
#define GOINSPECT_PAGEMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"

#define PM_PAGE 4096u

/* What a run of pages is. */
enum {
    PM_DIRTY = 1,           /* soft-dirty: written (or new) since the last clear */
    PM_FILE = 2,            /* a file's page (or shared memory), not private anonymous memory */
};

struct pagemap {
    int fd;
    pid_t pid;
    bool no_scan;           /* PAGEMAP_SCAN is not available: read entries */
    uint64_t zero_pfn;      /* the shared zero page's frame, 0 when unknown */
    uint64_t *entries;      /* buffer for reading entries */
};

/* Opens /proc/PID/pagemap. */
int pagemap_open(pid_t pid, struct pagemap *pm, struct fail *f);
void pagemap_close(struct pagemap *pm);

/* Called for each run [start, end) of pages that hold something (present
 * or swapped out; never the shared zero page, whose bytes are zeros), in
 * address order, with the run's PM_* flags. */
typedef void (*pagemap_fn)(void *ctx, uint64_t start, uint64_t end, unsigned flags);
/* Lists the runs of [lo, hi) (page-aligned), with the flags of want
 * (PM_*: the kernel's scan takes longer for each). */
int pagemap_runs(struct pagemap *pm, uint64_t lo, uint64_t hi, unsigned want, pagemap_fn fn,
                 void *ctx, struct fail *f);

/* Whether the kernel keeps soft-dirty bits (tested once, on a page of
 * goinspect's own). */
bool softdirty_available(void);
/* Clears the soft-dirty bits of every page of process pid. */
int softdirty_clear(pid_t pid, struct fail *f);

#endif
