/*
 * snapshot.h — what is copied from the target while it is stopped: the
 * all-G table, the Ms and Ps, the scheduler, every thread's registers and
 * the live part of every stack, and the mappings.  Everything after the
 * copy (unwinding, symbolizing, printing) works on this copy, with the
 * target already running again.
 *
 * To keep the pause short, the G table and the stacks of parked goroutines
 * are copied before the stop (the "pre-copy"), into the records the
 * snapshot keeps, with a hash of each G's bytes.  During the stop, when the
 * table of G pointers is as the pre-copy read it, every G is read again
 * and hashed (on two threads for a large table), but only a G whose bytes
 * changed is decoded afresh (its record replaces
 * the pre-copy's); an unchanged G keeps its record and, parked, its
 * pre-copied stack: its frames cannot have changed.  A changed goroutine
 * still parked in the same wait (same id, wait start and saved context)
 * keeps its pre-copied stack too.  When the table itself changed, it is
 * copied whole and matched with the pre-copy's records by those keys.
 * Every other stack is copied during the stop.
 *
 * With --nonstop nothing is stopped: the G table is copied between two
 * reads of the descriptor's generation counter, retried while they differ,
 * and the result is marked as possibly inconsistent.
 *
 * The heap (heapsnap.h) is copied in the same stop, as far as the command
 * needs it (snap_options.heap), and so is the allocation profile
 * (snap_options.memprof).
 */
#ifndef GOINSPECT_SNAPSHOT_H
#define GOINSPECT_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "fail.h"
#include "rtdesc.h"
#include "target.h"
#include "u64map.h"
#include "unwind.h"

enum {
    CTX_RSP, CTX_RIP, CTX_RBP, CTX_RBX, CTX_R12, CTX_R13, CTX_R14, CTX_R15, CTX_NREGS
};

/* Where a goroutine's stack is unwound from. */
enum snap_regs {
    REGS_NONE = 0,          /* no frames (never ran, or running without registers) */
    REGS_CTX,               /* its saved context */
    REGS_THREAD,            /* the registers of the thread running it */
    REGS_START,             /* never ran: it is at its start function */
};

/* What a goroutine is unwound from, kept only while it may be needed: its
 * saved context and the copy of its stack. */
struct snap_gregs {
    uint64_t ctx[CTX_NREGS];
    struct unwind_mem stack;/* the copied live part of its stack (data NULL: none) */
};

/* A goroutine (a live entry of the all-G table), or a table entry that
 * could not be read (error set, addr may be 0).  Kept compact: a process
 * may have millions. */
struct snap_g {
    uint64_t addr;
    uint64_t goid, parentgoid, startpc, gopc;
    uint64_t stacklo, stackhi;
    uint64_t m, lockedm;
    uint64_t stackspan;     /* the heap span of its stack (descriptor version 2), else 0 */
    int64_t waitsince;
    uint64_t park_key;      /* changes whenever a parked goroutine may have run: its state,
                               wait, stack bounds and saved context, mixed */
    uint32_t status, waitreason;
    uint32_t lockcount;
    uint32_t unwound;       /* parked: 1 + the id snap_options.pre_unwind gave its stack
                               before the stop (0: not unwound then) */
    int32_t thread;         /* index in target threads for REGS_THREAD, else -1 */
    uint8_t regs_from;      /* enum snap_regs */
    bool readable;          /* the G itself could be read */
    bool system;            /* a runtime goroutine (descriptor version 2's g.system) */
    bool stale;             /* snapshot.c's own: a newer copy of it replaces it */
    struct snap_gregs *regs;/* NULL for a bad entry, and once unwound before the stop */
    char *error;            /* what is wrong with this entry, or NULL */
};

/* The copy of g's stack, or NULL. */
static inline const struct unwind_mem *snap_g_stack(const struct snap_g *g)
{
    return g->regs && g->regs->stack.data ? &g->regs->stack : NULL;
}

struct snap_m {
    uint64_t addr;
    int64_t id, procid;
    uint64_t curg, p, lockedg;
    uint64_t stacklo, stackhi;
    uint32_t spinning, blocked;
    int32_t thread;         /* index in target threads, -1 */
};

struct snap_p {
    uint64_t addr;
    int64_t id;
    uint32_t status;
    uint64_t m;
    uint32_t runqhead, runqtail, schedtick, syscalltick;
    uint64_t runnext;
    uint64_t mcache;        /* its allocation cache (descriptor version 2), else 0 */
};

/* How much of the goroutines a command needs copied. */
enum snap_goroutines {
    SNAP_G_STACKS,          /* the G table and every stack (the default) */
    SNAP_G_TABLE,           /* the G table, no stack: the command shows none */
    SNAP_G_NONE,            /* neither: the command shows no goroutine */
};

#define SNAP_NOT_UNWOUND UINT32_MAX

/* Unwinds a parked goroutine from its saved context and the copy of its
 * stack at mem, which is dropped afterwards: an id for its stack, or
 * SNAP_NOT_UNWOUND to keep the copy and have it unwound after the stop. */
typedef uint32_t snap_unwind_fn(void *arg, const struct snap_g *g, const struct unwind_mem *mem);

struct snap_options {
    bool nonstop;
    bool no_precopy;        /* copy every stack during the stop */
    int goroutines;         /* enum snap_goroutines */
    int heap;               /* how much of the heap to copy (enum heap_level, heapsnap.h) */
    bool memprof;           /* copy the allocation profile (memprofsnap.h) */
    /* With it, the pre-copy reads the parked goroutines' stacks a batch at
     * a time and has each unwound at once instead of keeping the copies. */
    snap_unwind_fn *pre_unwind;
    void *pre_unwind_arg;
};

struct snap_arena;
struct snap_pool;
struct heapsnap;
struct memprofsnap;

struct snapshot {
    struct target *t;
    const struct rtdesc *d;
    /* gstatus values by name (-1 when the runtime has no such state) */
    int st_idle, st_runnable, st_running, st_syscall, st_waiting, st_dead;
    uint32_t nstatus;       /* values of enum gstatus */

    struct snap_g *gs;      /* live goroutines and bad entries, in table order */
    size_t ngs;
    uint64_t allglen;       /* entries in the all-G table */
    struct snap_m *ms;
    size_t nms;
    struct snap_p *ps;
    size_t nps;
    int32_t *thread_m;      /* per target thread: index in ms of the (first) M on it, -1 */
    struct u64map m_at, p_at;   /* an M's, a P's address to its index in ms, ps */
    int32_t gomaxprocs;
    uint64_t goidgen;
    int64_t runtime_start;
    uint64_t stack_size;
    int64_t sched_fields[8];/* see snap_sched_names */
    struct unwind_mem *thread_stacks;   /* per target thread (data NULL: none) */
    struct unwind_mem *interrupted_stacks; /* per target thread: the stack a handler on an
                                           alternate signal stack interrupted, chained
                                           after its thread_stacks entry (data NULL: none) */

    int64_t taken_ns;       /* CLOCK_MONOTONIC when the copy was made */
    uint64_t pause_ns;      /* how long the target was stopped (0: --nonstop) */
    unsigned stop_rounds;
    bool nonstop;
    bool inconsistent;      /* --nonstop could not get a stable copy */
    unsigned tries;         /* --nonstop: copies made */
    size_t stacks_copied, stacks_precopied, bytes_copied;
    size_t gs_reread;       /* Gs the stop read again after the pre-copy */
    char **warnings;        /* problems with the tables as a whole */
    size_t nwarnings;
    struct snap_arena *arena;
    struct snap_pool *pool; /* the goroutines' struct snap_gregs */
    size_t nhead;           /* gs[nhead..ngs) are in address order (before: bad table entries) */
    struct heapsnap *heap;  /* the heap (heapsnap.h), NULL when not copied */
    struct memprofsnap *memprof; /* the allocation profile, NULL when not copied */
};

extern const char *const snap_sched_names[8];

/* Copies the runtime's state from t (stopping it unless o->nonstop, and
 * always releasing it before returning). */
int snapshot_take(struct snapshot *s, struct target *t, const struct rtdesc *d,
                  const struct snap_options *o, struct fail *f);
/* Reads a table of n 64-bit words (pointers) at addr: at most max of them
 * (a larger n is corrupt), as many as can be read (*got), with a warning
 * about either (unless quiet) naming the table what. */
uint64_t *snap_read_table(struct snapshot *s, uint64_t addr, uint64_t n, uint64_t max,
                          const char *what, bool quiet, size_t *got);
/* Adds a problem with the runtime's tables as a whole. */
void snap_warn(struct snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees the goroutines' stack copies (after unwinding) to lower the peak
 * memory; the threads' stay. */
void snapshot_drop_stacks(struct snapshot *s);
void snapshot_free(struct snapshot *s);

/* The record of the G at addr among gs[from, to), which are in address
 * order (as s->gs[s->nhead, s->ngs) are), or NULL. */
struct snap_g *snap_find_g(struct snap_g *gs, size_t from, size_t to, uint64_t addr);
/* The M at addr (NULL: none), the P at addr (the last in the table when
 * a corrupt one names it twice), the M on target thread i. */
const struct snap_m *snap_m_at(const struct snapshot *s, uint64_t addr);
const struct snap_p *snap_p_at(const struct snapshot *s, uint64_t addr);
const struct snap_m *snap_m_of_thread(const struct snapshot *s, size_t i);

/* The state name of a goroutine ("waiting"...), "?" when unknown. */
const char *snap_status_name(const struct snapshot *s, uint32_t status);
/* Its wait reason, "" when none. */
const char *snap_waitreason_name(const struct snapshot *s, uint32_t reason);

#endif
