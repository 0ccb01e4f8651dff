/*
 * coremem.h — the memory of a core that goinspect gcore writes: where
 * each mapping's bytes go in the file, and which pages are copied before
 * the stop and which during it.
 *
 * Layout: the mappings' dumped bytes one after another in address order,
 * from the first page of the file on, as the kernel lays them out; a page
 * that holds nothing is a hole.  The plan (dumpfilter.h) is made before
 * the stop; in the stop, a mapping that is still the same keeps its place,
 * and a new or changed one goes after the others.
 *
 * With soft-dirty bits (pagemap.h), every page that holds something is
 * copied before the stop, and the stop copies only the pages written or
 * added since, and clears those that hold nothing any more.  Without them
 * the stop copies every page.
 */
#ifndef GOINSPECT_COREMEM_H
#define GOINSPECT_COREMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dumpfilter.h"
#include "fail.h"
#include "pagecopy.h"
#include "pagemap.h"
#include "target.h"

struct coremem {
    struct dump_plan plan;      /* made before the stop */
    struct dump_plan fresh;     /* made in the stop, if the mappings changed */
    struct dump_map **final;    /* the mappings at the stop */
    size_t nfinal;
    uint64_t data_end;          /* where the memory ends in the file */
    bool precopied;
    struct copy_list clear;     /* places in the file to clear (file_off, len) */
};

/* Makes the plan and lays it out. */
int coremem_plan(struct target *t, bool all, struct coremem *c, struct fail *f);
void coremem_free(struct coremem *c);

/* The bytes of the plan's pages that hold something now. */
int coremem_resident(struct coremem *c, struct pagemap *pm, uint64_t *bytes, struct fail *f);

/* Before the stop, soft-dirty bits cleared: copies every page of the plan
 * that holds something into fd. */
int coremem_precopy(struct coremem *c, struct pagemap *pm, struct stager *s, int fd,
                    struct copy_stats *st, struct fail *f);

/* In the stop: the mappings now (t->maps, just read) against the plan. */
int coremem_settle(struct coremem *c, struct target *t, struct pagemap *pm, struct fail *f);

/* In the stop: the pages to copy now; and into c->clear, the places in
 * the file to clear (pages copied before that hold nothing now). */
int coremem_runs(struct coremem *c, struct pagemap *pm, struct copy_list *copy, struct fail *f);

#endif
