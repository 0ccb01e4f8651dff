/*
 * memprofsnap.h — the runtime's allocation profile (docs/metadata.md, "The
 * allocation profile", descriptor version 3) copied from the target in the
 * snapshot's stop, or from a core: the rate and every bucket's raw counts
 * and stack.
 */
#ifndef GOINSPECT_MEMPROFSNAP_H
#define GOINSPECT_MEMPROFSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp_bucket {
    uint64_t alloc_objects, alloc_bytes, free_objects, free_bytes;   /* raw samples */
    uint32_t first, nstk;   /* its pcs in memprofsnap.pcs (return addresses) */
};

struct memprofsnap {
    bool present;           /* the runtime describes the table (version 3) */
    int64_t rate;           /* bytes per sample (0: off) */
    uint64_t nsamples;      /* the table's own count of samples */
    struct mp_bucket *b;
    size_t n;
    uint64_t *pcs;
    size_t npcs;
    char *error;            /* why the list could not be read whole (what was read is kept) */
};

struct snapshot;
/* Copies the table into s->memprof (the target stopped, or a core). */
void memprofsnap_copy(struct snapshot *s);
void memprofsnap_free(struct memprofsnap *m);

/* The estimate of the real objects or bytes that count raw samples of
 * `bytes` raw bytes stand for at rate (Go's scaleHeapSample). */
double memprof_scale(uint64_t count, uint64_t bytes, int64_t rate, bool want_bytes);

#endif
