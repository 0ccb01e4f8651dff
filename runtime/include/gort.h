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

/* The API is exported whatever the includer's default visibility (the
 * runtime itself is built with hidden visibility). */
#pragma GCC visibility push(default)

/* ---- Runtime and goroutines ------------------------------------------ */

/* Start the runtime, run fn(argc, argv) as goroutine 1 and return its result
 * once it returns.  Goroutines still alive at that point are abandoned (the
 * program usually exits right after), as when Go's main returns. */
int gort_main(int (*fn)(int, char **), int argc, char **argv);

/* Start fn(arg) in a new goroutine and return its id.  The runtime records
 * the calling PC and the calling goroutine ("created by ... in goroutine N"). */
uint64_t gort_go(void (*fn)(void *), void *arg);

/* Print "panic: MESSAGE" (MESSAGE formatted as by printf) and the
 * traceback of the calling goroutine (every goroutine with
 * GORT_TRACEBACK=all), and exit with status 2, as an unrecovered Go panic
 * does; with GORT_TRACEBACK=crash, die by SIGABRT instead (a core). */
void gort_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

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

/* ---- Heap and garbage collector ------------------------------------------ */

/* Allocate n bytes of zeroed memory from the collected heap.  The block is
 * scanned for pointers (conservatively: any word that looks like a pointer
 * into a heap block keeps that block alive, interior pointers included) and
 * freed once nothing reachable points into it.  There is no free.  Memory
 * reachable only from malloc'd memory or from threads that are not
 * goroutines is not seen by the collector. */
void *gort_alloc(size_t n);

/* As gort_alloc, for memory that holds no pointers (never scanned). */
void *gort_alloc_noscan(size_t n);

/* Run a full collection and return once it is complete (runtime.GC). */
void gort_gc(void);

/* Run fn(obj) on the finalizer goroutine once obj is unreachable; obj must
 * be the start of a gort_alloc block.  The object stays alive until fn has
 * returned (and is freed by a later collection if fn did not store it).
 * fn == NULL removes the finalizer. */
void gort_set_finalizer(void *obj, void (*fn)(void *));

/* Keep p reachable up to this call (runtime.KeepAlive). */
void gort_keepalive(void *p);

/* Set the collection target percentage (GOGC); a negative value disables
 * collection.  Returns the previous setting.  Initial value: GORT_GC. */
int gort_set_gc_percent(int percent);

/* Memory statistics, named as Go's runtime.MemStats fields in snake_case. */
#define GORT_NUM_SIZE_CLASSES 68
typedef struct gort_memstats {
    uint64_t alloc;            /* bytes of allocated heap objects (= heap_alloc) */
    uint64_t total_alloc;      /* cumulative bytes allocated */
    uint64_t sys;              /* bytes obtained from the OS: heap_sys + stack_sys + gc_sys */
    uint64_t mallocs;          /* cumulative objects allocated */
    uint64_t frees;            /* cumulative objects freed */
    uint64_t heap_alloc;       /* bytes of allocated heap objects (unswept dead ones included) */
    uint64_t heap_sys;         /* heap_inuse + heap_idle */
    uint64_t heap_idle;        /* bytes in free and released spans */
    uint64_t heap_inuse;       /* bytes in in-use (object) spans */
    uint64_t heap_released;    /* bytes in spans returned to the OS */
    uint64_t heap_objects;     /* allocated objects: mallocs - frees */
    uint64_t stack_inuse;      /* bytes in goroutine stack spans */
    uint64_t stack_sys;        /* bytes of stack memory from the OS (= stack_inuse) */
    uint64_t gc_sys;           /* bytes of heap metadata (spans, bitmaps, tables) */
    uint64_t next_gc;          /* heap goal of the next collection */
    uint64_t last_gc;          /* end of the last collection, ns since 1970 */
    uint64_t pause_total_ns;   /* cumulative stop-the-world time */
    uint64_t pause_ns[256];    /* recent pauses, most recent at [(num_gc + 255) % 256] */
    uint64_t pause_end[256];   /* when each of those pauses ended, ns since 1970 */
    uint32_t num_gc;           /* completed collections */
    uint32_t num_forced_gc;    /* of which by gort_gc */
    double gc_cpu_fraction;    /* share of wall time spent collecting since start */
    struct {
        uint32_t size;         /* largest object size of the class */
        uint64_t mallocs;
        uint64_t frees;
    } by_size[GORT_NUM_SIZE_CLASSES];
} gort_memstats;

/* Fill *ms (briefly stops the world, as Go's ReadMemStats). */
void gort_read_memstats(gort_memstats *ms);

/* ---- Allocation profile (runtime.MemProfile) ----------------------------- */

/* One allocation is sampled per `bytes` allocated on average (Go's
 * runtime.MemProfileRate): 0 turns sampling off, 1 samples every
 * allocation.  Initial value: GORT_MEMPROFILERATE, else 524288.  Set it as
 * early as possible: other Ps take the new rate at their next sample. */
void gort_set_memprofile_rate(long bytes);
long gort_memprofile_rate(void);

/* One call stack's samples (Go's runtime.MemProfileRecord).  The counts
 * are raw sample counts, not estimates: to estimate the real figures, scale
 * each pair (objects, bytes) by 1 / (1 - exp(-(bytes / objects) / rate))
 * with the rate of gort_memprofile_rate() (Go's scaleHeapSample); in use
 * is alloc - free.  Frees are counted when the collector sweeps, so an
 * object freed since the last collection still counts as in use. */
typedef struct gort_memprofile_record {
    uint64_t alloc_objects;    /* sampled allocations */
    uint64_t alloc_bytes;      /* their bytes (object sizes as allocated) */
    uint64_t free_objects;     /* of those, freed */
    uint64_t free_bytes;
    int nstk;                  /* pcs in stk, at most 32 */
    const uintptr_t *stk;      /* return addresses, innermost (the allocating
                                  call's) first; runtime frames are left out */
} gort_memprofile_record;

/* Call fn(rec, arg) for every stack sampled so far, newest first, until fn
 * returns non-zero; return that value, or 0 once every record was seen.
 * *rec and its stk are valid during the call only.  A record's counts are
 * read consistently; records added meanwhile may be missed.  fn may
 * allocate and call anything here (a record's stack stays where it is). */
int gort_memprofile_foreach(int (*fn)(const gort_memprofile_record *rec, void *arg), void *arg);

/* ---- Pool (sync.Pool) --------------------------------------------------- */

/* A cache of reusable objects: per-P caches, and a victim cache that keeps
 * pooled objects for one more collection before they are dropped.  Declare
 * as `static gort_pool p = GORT_POOL_INIT(ctor);` (or zeroed: then get
 * returns NULL when empty).  Pooled objects must be gort_alloc memory. */
typedef struct gort_pool {
    void *(*new_fn)(void);
    void *local;               /* runtime-managed from here on */
    void *victim;
    uint32_t localsize;
    uint32_t victimsize;
    uint32_t registered;
    uint32_t reserved;
} gort_pool;

#define GORT_POOL_INIT(ctor) {.new_fn = (ctor)}

void *gort_pool_get(gort_pool *p);
void gort_pool_put(gort_pool *p, void *x);

/* ---- CPU and block profiles ------------------------------------------- */

/* Start a CPU profile: every thread running goroutines is sampled 100
 * times per second of the CPU it uses (SIGPROF from a timer on its CPU
 * clock; leave SIGPROF to the runtime while a profile runs).  0, or -1
 * with errno EBUSY when a profile already runs (gort_debug_serve's
 * /debug/pprof/profile included).  While it runs, system calls the
 * signal interrupts that SA_RESTART does not restart (nanosleep, poll,
 * ...) may fail with EINTR in goroutines, as in any program using SIGPROF. */
int gort_cpu_profile_start(int fd);

/* Stop it and write it to start's fd as profile.proto (go tool pprof reads
 * it); 0, or -1 with errno (EINVAL: none runs). */
int gort_cpu_profile_stop(void);

/* Record, from then on, one in every rate nanoseconds goroutines spend
 * waiting on channels, select, mutexes, waitgroups, once and semaphores
 * (Go's runtime.SetBlockProfileRate: 1 records every wait; 0, the
 * default, none). */
void gort_set_block_profile_rate(int64_t rate);

/* Write the block profile recorded so far to fd as profile.proto; 0, or
 * -1 with errno. */
int gort_write_block_profile(int fd);

/* ---- Debug endpoint (net/http/pprof) ------------------------------------ */

/* Serve the runtime's profiles over HTTP/1.1 at addr, "HOST:PORT" (HOST a
 * numeric IPv4 address, [IPv6], "localhost", or empty for every interface;
 * PORT 0 picks a free one), in Go's net/http/pprof layout: /debug/pprof/,
 * /debug/pprof/goroutine, heap, allocs, block, profile, and /debug/vars.
 * The server runs on a goroutine of its own, each request on another.  Returns 0 once the socket listens, -1 with errno set otherwise
 * (EBUSY: already serving).  NULL: the default, "127.0.0.1:6060" (loopback
 * only).  Anyone who can reach the address can read
 * every goroutine's stack and the memory statistics: see docs/runtime.md
 * before binding anything but loopback. */
int gort_debug_serve(const char *addr);
/* The port gort_debug_serve listens on, -1 before it does. */
int gort_debug_serve_port(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* GORT_H */
