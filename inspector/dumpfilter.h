/*
 * dumpfilter.h — which mappings of a live process a core holds, and how
 * much of each, by the kernel's rules (vma_dump_size in fs/coredump.c)
 * and the bits of /proc/PID/coredump_filter, from /proc/PID/smaps.
 *
 * coredump_filter bits (core(5)): 0 private anonymous memory, 1 shared
 * anonymous memory, 2 private file mappings, 3 shared file mappings, 4 the
 * first page of each ELF file mapped (its headers, with the build-id), 5
 * private huge pages, 6 shared huge pages.  The default is 0x33.  A
 * private file mapping that was written to (the data of a library) is
 * private anonymous memory by these rules; memory marked MADV_DONTDUMP,
 * device memory, [vvar] and [vsyscall] are never dumped, [vdso] always.
 * With --all: every readable mapping whole, whatever the filter and
 * MADV_DONTDUMP say.
 */
#ifndef GOINSPECT_DUMPFILTER_H
#define GOINSPECT_DUMPFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fail.h"
#include "procmaps.h"
#include "target.h"

#define DUMP_FILTER_DEFAULT 0x33u

/* smaps' VmFlags that the rules look at. */
enum {
    VMF_DONTDUMP = 1,       /* dd: MADV_DONTDUMP */
    VMF_IO = 2,             /* io, pf: device memory */
    VMF_HUGETLB = 4,        /* ht: hugetlbfs pages */
};

struct dump_map {
    struct mapping m;       /* its line of the maps (path points into the plan) */
    bool file;              /* backed by a file: listed in NT_FILE */
    bool special;           /* one of the kernel's ([vdso], [vvar], [vsyscall]...) */
    bool written;           /* private memory that was written (Anonymous or Swap > 0) */
    unsigned vmflags;       /* VMF_* */
    uint64_t dump_len;      /* bytes from m.start the core holds: 0, a page, or all */
    bool present_only;      /* anonymous memory: only its pages that hold something
                               are read, the others are zeros (holes in the file) */
    uint64_t file_off;      /* where those bytes go in the core */
    uint8_t *copied;        /* bitmap: pages copied before the stop (NULL: none) */
};

struct dump_plan {
    struct dump_map *v;     /* sorted by start */
    size_t n;
    unsigned filter;        /* the coredump_filter bits */
    bool all;               /* --all */
    char *text;             /* the smaps text the paths point into */
};

/* Reads the mappings of t's process with what the rules need
 * (/proc/PID/smaps, /proc/PID/coredump_filter) and decides each one. */
int dump_plan_read(struct target *t, bool all, struct dump_plan *p, struct fail *f);
void dump_plan_free(struct dump_plan *p);

/* Decides (again) how much of d the core holds. */
void dump_map_decide(struct target *t, const struct dump_plan *p, struct dump_map *d);

/* The entry of p for mapping m if p has one with the same range, rights,
 * file and offset; else NULL. */
struct dump_map *dump_plan_match(struct dump_plan *p, const struct mapping *m);

/* A mapping's name as the kernel writes it in NT_FILE (with " (deleted)"
 * for a deleted file), into buf. */
void dump_map_name(const struct mapping *m, char *buf, size_t len);

#endif
