/*
 * blockprof.h — the block profile (blockprof.c): where goroutines waited
 * on channels, select, mutexes, waitgroups and semaphores, and how long.
 */
#ifndef GORT_BLOCKPROF_H
#define GORT_BLOCKPROF_H

#include <stdint.h>

struct ppbuf;

extern int64_t blockprof_rate;   /* nanoseconds; 0 off (gort_set_block_profile_rate) */

/* The current goroutine waited since t0 (nanotime) for reason. */
void blockprof_event(uint32_t reason, int64_t t0);

/* The profile so far as profile.proto; -1 with errno on failure. */
int blockprof_write(struct ppbuf *out);

#endif /* GORT_BLOCKPROF_H */
