/*
 * memprof.h — allocation sampling (memprof.c): the bucket table tools read
 * through the runtime descriptor (docs/metadata.md, "The heap profile").
 */
#ifndef GORT_MEMPROF_H
#define GORT_MEMPROF_H

#include <stdint.h>

#define MEMPROF_MAX_STACK 32
#define MEMPROF_DEFAULT_RATE 524288

/* One call stack's samples.  Counts are raw (not scaled by the rate) and
 * only grow; a reader takes alloc - free as in use.  A bucket is complete
 * before it is published (release store of memprof.buckets), and never
 * freed or moved; its counts change under memprof.lock. */
struct memprof_bucket {
    struct memprof_bucket *next;      /* every bucket, newest first */
    struct memprof_bucket *hnext;     /* hash chain */
    uint64_t hash;
    uint64_t alloc_objects;
    uint64_t alloc_bytes;
    uint64_t free_objects;
    uint64_t free_bytes;
    uint32_t nstk;                    /* pcs in stk */
    uint32_t reserved;
    uintptr_t stk[];                  /* return addresses, innermost first */
};

/* The table's header: a root of the descriptor ("memprof"). */
struct memprof_table {
    struct memprof_bucket *buckets;   /* release-stored head of the bucket list */
    uint64_t nbuckets;                /* buckets on the list (stored after the head) */
    int64_t rate;                     /* bytes per sample now (0: off) */
    uint64_t nsamples;                /* samples taken, all buckets */
};

extern struct memprof_table memprof;

/* The bytes to allocate before the next sample, per P (in its mcache) and
 * for threads without one (under the world lock). */
struct memprof_countdown {
    int64_t next;                     /* below zero: sample (memprof_alloc) */
    uint32_t armed;                   /* next was drawn at the current rate */
};
extern struct memprof_countdown memprof_nop_countdown;

struct span;
/* cd->next went below zero: maybe sample p (see memprof_count). */
void memprof_alloc(struct memprof_countdown *cd, struct span *s, void *p, uint64_t size);
/* s (claimed for sweeping, mark bits final) has sampled objects: count
 * those left unmarked as freed. */
void memprof_sweep(struct span *s);
void memprof_init(void);              /* env_init: GORT_MEMPROFILERATE */

/* Count the size bytes of object p, just allocated from span s by a thread
 * that cannot be stopped meanwhile (m->locks or the world lock held): the
 * allocation fast path's whole cost of profiling. */
static inline void memprof_count(struct memprof_countdown *cd, struct span *s, void *p,
                                 uint64_t size)
{
    cd->next -= (int64_t)size;
    if (__builtin_expect(cd->next < 0, 0))
        memprof_alloc(cd, s, p, size);
}

#endif /* GORT_MEMPROF_H */
