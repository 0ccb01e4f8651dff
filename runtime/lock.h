/*
 * lock.h — the runtime's own locks and one-shot wakeups, on futexes.
 *
 * struct rtlock guards short critical sections inside the runtime (never
 * held across a goroutine switch).  struct note lets one thread sleep until
 * another wakes it, once per note_clear.
 */
#ifndef GORT_LOCK_H
#define GORT_LOCK_H

#include <stdbool.h>
#include <stdint.h>

struct rtlock {
    uint32_t key;             /* 0 unlocked, 1 locked, 2 locked with sleepers */
};

struct note {
    uint32_t key;             /* 0 clear, 1 woken */
};

void lock_acquire(struct rtlock *l);
void lock_release(struct rtlock *l);
bool lock_try(struct rtlock *l);

void note_clear(struct note *n);
void note_sleep(struct note *n);
/* Sleep until woken or until the absolute nanotime deadline; true if woken. */
bool note_sleep_until(struct note *n, int64_t deadline);
void note_wakeup(struct note *n);

/* Raw futex operations (private to the process). */
void futex_wait(uint32_t *addr, uint32_t val, int64_t timeout_ns); /* timeout < 0: forever */
void futex_wake(uint32_t *addr, int n);

#endif /* GORT_LOCK_H */
