/*
 * gort.h — the public API of libgort, a Go-style runtime for C.
 *
 * A program hands its main function to gort_main(), which runs it as
 * goroutine 1 on an M:P:G scheduler.  Everything else here may be called
 * only from goroutines (that is, from code reached from gort_main's fn or
 * from a function started with gort_go).
 *
 * The names in this header are fixed: programs outside this repository use
 * them.  Build programs with build/bin/gortcc.
 */
#ifndef GORT_H
#define GORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Runtime and goroutines ------------------------------------------ */

/* Start the runtime, run fn(argc, argv) as goroutine 1 and return its result
 * once it returns.  Goroutines still alive at that point are abandoned (the
 * program usually exits right after), as when Go's main returns. */
int gort_main(int (*fn)(int, char **), int argc, char **argv);

/* Start fn(arg) in a new goroutine and return its id.  The runtime records
 * the calling PC and the calling goroutine ("created by ... in goroutine N"). */
uint64_t gort_go(void (*fn)(void *), void *arg);

void gort_yield(void);               /* let other goroutines run (runtime.Gosched) */
void gort_sleep(int64_t ns);         /* park for at least ns nanoseconds */
int64_t gort_nanotime(void);         /* monotonic clock, nanoseconds */
uint64_t gort_goid(void);            /* id of the calling goroutine */
int gort_numgoroutine(void);         /* goroutines that exist (not dead) */
int gort_maxprocs(int n);            /* set GOMAXPROCS when n > 0; returns the previous value */

/* Wire the calling goroutine to its OS thread (runtime.LockOSThread): the
 * goroutine runs only on this thread and the thread runs nothing else until
 * as many unlocks as locks have been made. */
void gort_lock_os_thread(void);
void gort_unlock_os_thread(void);

/* Bracket a system call that may block.  Between the two calls the
 * goroutine's processor is handed to another thread if the call blocks, so
 * other goroutines keep running.  Call nothing from this header in between.
 * A blocked call may return EINTR when the runtime signals the thread;
 * retry it. */
void gort_syscall_enter(void);
void gort_syscall_exit(void);

/* ---- Channels --------------------------------------------------------- */

typedef struct gort_chan gort_chan;

/* A channel of elements of elemsize bytes with a buffer of cap elements
 * (0: unbuffered).  A NULL channel blocks forever on send and receive, as a
 * nil channel in Go. */
gort_chan *gort_chan_make(size_t elemsize, size_t cap);

/* Copy elemsize bytes from *elem into the channel; blocks until a receiver
 * takes it or buffer space frees.  Sending on a closed channel panics. */
void gort_chan_send(gort_chan *c, const void *elem);

/* Receive into *elem (may be NULL to discard).  Returns true for a value
 * sent, false once the channel is closed and drained (*elem is zeroed). */
bool gort_chan_recv(gort_chan *c, void *elem);

/* Close the channel.  Closing a closed or NULL channel panics. */
void gort_chan_close(gort_chan *c);

size_t gort_chan_len(gort_chan *c);
size_t gort_chan_cap(gort_chan *c);

/* A channel that receives one int64_t (the gort_nanotime() at which it
 * fired) once ns nanoseconds have passed (time.After). */
gort_chan *gort_after(int64_t ns);

/* A channel that receives an int64_t every ns nanoseconds, dropping ticks a
 * slow receiver misses (time.Tick).  It is never stopped. */
gort_chan *gort_tick(int64_t ns);

/* ---- Select ----------------------------------------------------------- */

enum gort_select_dir {
    GORT_SELECT_SEND = 1,
    GORT_SELECT_RECV = 2,
};

typedef struct gort_select_case {
    gort_chan *chan;   /* NULL: the case is never ready */
    int dir;           /* GORT_SELECT_SEND or GORT_SELECT_RECV */
    void *elem;        /* value to send, or where to receive (may be NULL) */
    bool ok;           /* set for the chosen receive: false if closed and drained */
} gort_select_case;

/* Wait until one of the cases can proceed, perform it and return its index.
 * Ready cases are chosen uniformly at random.  With has_default and no case
 * ready, return -1 at once.  With no cases and no default, block forever. */
int gort_select(gort_select_case *cases, int ncases, bool has_default);

/* ---- Mutex, WaitGroup, Once (ready to use when zeroed) ---------------- */

typedef struct gort_mutex {
    int32_t state;
    uint32_t sema;
} gort_mutex;

void gort_mutex_lock(gort_mutex *m);
void gort_mutex_unlock(gort_mutex *m);   /* unlocking an unlocked mutex is fatal */
bool gort_mutex_trylock(gort_mutex *m);

typedef struct gort_waitgroup {
    uint64_t state;    /* counter in the high 32 bits, waiters in the low 32 */
    uint32_t sema;
} gort_waitgroup;

void gort_waitgroup_add(gort_waitgroup *wg, int64_t delta); /* negative counter panics */
void gort_waitgroup_done(gort_waitgroup *wg);
void gort_waitgroup_wait(gort_waitgroup *wg);

typedef struct gort_once {
    uint32_t done;
    gort_mutex m;
} gort_once;

/* Call fn exactly once across all callers; every caller returns after fn
 * has returned. */
void gort_once_do(gort_once *o, void (*fn)(void));

#ifdef __cplusplus
}
#endif

#endif /* GORT_H */
