/*
 * record_owner.h — which goroutine or thread a sample belongs to.
 *
 * A sample taken on a thread belongs to the goroutine whose stack holds the
 * thread's stack pointer (the goroutines' stack bounds come from the last
 * copy of the G table), else to the thread itself: a runtime thread, the
 * scheduler's own stack, or a thread the program made itself.
 */
#ifndef GOINSPECT_RECORD_OWNER_H
#define GOINSPECT_RECORD_OWNER_H

#include <stddef.h>
#include <stdint.h>

#include "recording.h"
#include "snapshot.h"

/* The goroutines' stacks of a snapshot, sorted by address. */
struct gindex {
    struct grange {
        uint64_t lo, hi;
        uint32_t g;         /* index in the snapshot's gs */
    } *v;
    size_t n, cap;
};

void gindex_build(struct gindex *x, const struct snapshot *s);
void gindex_free(struct gindex *x);
/* The goroutine whose stack holds sp, or NULL. */
const struct snap_g *gindex_find(const struct gindex *x, const struct snapshot *s, uint64_t sp);

/* Owner records.  status NULL: the goroutine's own state. */
void owner_of_goroutine(const struct snapshot *s, const struct snap_g *g, const char *status,
                        pid_t tid, const char *thread, struct rec_owner *o);
void owner_of_thread(pid_t tid, const char *thread, struct rec_owner *o);
/* The name of thread tid of t: from its last listing, else /proc ("?"). */
void thread_name_of(struct target *t, pid_t tid, char name[16]);

#endif
