/*
 * heapprof.h — the runtime's allocation profile as goinspect shows it: a
 * recording of the buckets' stacks with their estimated figures (Go's
 * scaling of raw samples), written as profile.proto (`heap-profile`) or
 * tallied by allocation site (`heap --by-site`).
 */
#ifndef GOINSPECT_HEAPPROF_H
#define GOINSPECT_HEAPPROF_H

#include "recording.h"
#include "session.h"

/* Estimated figures, in pprof's heap sample order. */
enum { HP_ALLOC_OBJECTS, HP_ALLOC_SPACE, HP_INUSE_OBJECTS, HP_INUSE_SPACE, HP_NVALUES };

struct heapprof {
    struct recording rec;           /* one entry per distinct stack */
    double (*values)[HP_NVALUES];   /* per entry */
    size_t capvalues;
    int64_t rate;
    uint64_t samples, buckets;
};

/* The snapshot's allocation profile, or NULL after printing why there is
 * none ("goinspect: CMD: ..."; the command exits 1). */
const struct memprofsnap *session_memprof(struct session *ss, const char *cmd);
void heapprof_build(struct session *ss, const struct memprofsnap *m, struct heapprof *hp);
void heapprof_free(struct heapprof *hp);
/* profile.proto, gzipped. */
int heapprof_pprof(struct heapprof *hp, const char *target, struct bytebuf *out, struct fail *f);
/* `heap --by-site`: in-use bytes and objects by allocation site. */
int heapprof_by_site(struct session *ss);

#endif
