/*
 * runtime.h — libgort's internal declarations: goroutines (G), OS threads
 * (M), processors (P), the scheduler, and the interfaces between the
 * runtime's modules.
 *
 * libgort is built with -fvisibility=hidden and its objects are linked into
 * one relocatable object whose hidden symbols are then made local, so these
 * internal names never clash with a program's own.  Only gort.h's API and
 * the descriptor are exported.
 */
#ifndef GORT_RUNTIME_H
#define GORT_RUNTIME_H

#pragma GCC visibility push(default)
#include "gort.h"
#pragma GCC visibility pop

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "atomics.h"
#include "lock.h"

#define NORETURN __attribute__((noreturn))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Goroutine states and wait reasons (names in descriptor.c) -------- */

enum gstatus {
    G_IDLE,       /* just allocated, not yet initialised */
    G_RUNNABLE,   /* on a run queue */
    G_RUNNING,    /* running on an M */
    G_SYSCALL,    /* in a system call bracketed by gort_syscall_enter/exit */
    G_WAITING,    /* parked; waitreason says why */
    G_DEAD,       /* exited; the slot is free for reuse */
    G_NSTATUS
};

enum waitreason {
    WR_NONE,
    WR_CHAN_RECV,
    WR_CHAN_SEND,
    WR_CHAN_RECV_NIL,
    WR_CHAN_SEND_NIL,
    WR_SELECT,
    WR_SELECT_NO_CASES,
    WR_SLEEP,
    WR_MUTEX,
    WR_WAITGROUP,
    WR_ONCE,
    WR_SEMACQUIRE,
    WR_GC,                    /* "garbage collection": waiting for a collection (gort_gc) */
    WR_FINALIZER,             /* "finalizer wait" */
    WR_GC_ASSIST,             /* "GC assist wait": allocation waits for the collector */
    WR_NREASONS
};

enum pstatus {
    P_IDLE,
    P_RUNNING,
    P_SYSCALL,
    P_GCSTOP,
    P_DEAD,
    P_NSTATUS
};

/* ---- Saved context ---------------------------------------------------- */

/* Written and read by gort_switch (switch_amd64.S): the state at the return
 * from the switch.  Field order is fixed by the assembly. */
struct gctx {
    uint64_t rsp;     /*  0 */
    uint64_t rip;     /*  8 */
    uint64_t rbp;     /* 16 */
    uint64_t rbx;     /* 24 */
    uint64_t r12;     /* 32 */
    uint64_t r13;     /* 40 */
    uint64_t r14;     /* 48 */
    uint64_t r15;     /* 56 */
    uint32_t mxcsr;   /* 64 */
    uint16_t fpucw;   /* 68 */
    uint16_t pad;
};

/* Save the current context into *from and resume *to.  Returns (into
 * *from's caller) when something switches back to from. */
void gort_switch(struct gctx *from, const struct gctx *to);
/* Save into *from, move to to's stack, call fn(arg) there, then resume to. */
void gort_switch_call(struct gctx *from, const struct gctx *to, void (*fn)(void *), void *arg);
/* First frame of every goroutine: calls goroutine_main; its CFI marks the
 * return address undefined (the end of the goroutine's stack). */
void gort_gostart(void);

/* ---- Wait queue entries ------------------------------------------------ */

/* A goroutine waiting on a channel or a semaphore (sudog.c). */
struct sudog {
    struct g *g;
    struct sudog *next, *prev;     /* channel wait queue / semaphore queue */
    void *elem;                    /* data to send, or where to receive */
    struct gort_chan *c;           /* channel (select) */
    struct sudog *waitlink;        /* select: the goroutine's other sudogs; sema: per-address queue */
    struct sudog *waittail;        /* sema: tail of the per-address queue */
    const void *addr;              /* sema: the semaphore's address */
    uint32_t ticket;               /* sema: handed off directly */
    bool isselect;
    bool success;                  /* woken by a value (true) or by close (false) */
};

struct waitq {
    struct sudog *first, *last;
};

/* sudog.c: waiting records, from per-P caches */
struct sudog *sudog_acquire(struct g *gp);   /* zeroed but for g */
void sudog_release(struct sudog *s);

/* ---- Timers -------------------------------------------------------------- */

struct timer {
    int64_t when;                          /* nanotime at which it fires */
    int64_t period;                        /* > 0: re-arm after firing */
    void (*f)(void *arg, int64_t now);     /* runs on the timer thread: must not block */
    void *arg;
    int32_t index;                         /* position in the heap, -1 when not queued */
};

/* ---- G: a goroutine ----------------------------------------------------- */

struct m;

struct g {
    /* The first fields are the ones the collector scans (the saved
     * registers, the start argument, what a waker passed): keep them
     * together at the front (gc_scan_prefix). */
    struct gctx ctx;          /* saved context (offset 0: used by assembly) */
    void *arg;
    void *param;              /* passed by the waker: the sudog that fired */
    uintptr_t stacklo;        /* stack bounds; 0 until first run */
    uintptr_t stackhi;
    struct m *m;              /* M running it */
    uint32_t status;          /* enum gstatus, atomic */
    uint32_t waitreason;      /* enum waitreason */
    struct g *schedlink;      /* run queue / free list link */
    uint64_t goid;
    int64_t waitsince;        /* nanotime when the wait began */
    uintptr_t startpc;        /* start function */
    uintptr_t gopc;           /* return address of the creating gort_go call */
    uint64_t parentgoid;
    void (*fn)(void *);
    struct m *lockedm;        /* wired by gort_lock_os_thread */
    uint32_t lockcount;
    uint32_t selectdone;      /* select: set by the waker that won the race */
    struct sudog *waiting;    /* select: sudogs of the cases being waited on */
    struct timer sleeptimer;  /* gort_sleep */
    struct span *stackspan;   /* the heap span holding the stack */
    bool system;              /* a runtime goroutine (finalizers) */
    uint32_t gcflag;          /* atomic: on the collector's list of goroutines to rescan */
    struct g *gclink;         /* that list */
    uint64_t *state;          /* its word of the state table (gtable.c) */
};

/* The goroutine state table (gtable.c; docs/metadata.md): a word per entry
 * of allgs, GSTATE_CHUNK words to a chunk. */
#define GSTATE_CHUNK 65536
#define GSTATE_MAX_CHUNKS 256
#define GSTATE_STATUS 0xffull           /* the status it goes to */
#define GSTATE_UNSETTLED 0x100ull       /* writes to the waiting G still to follow */
#define GSTATE_COUNT_SHIFT 9            /* its transitions, counted above */
extern uint64_t *gstate_chunks[GSTATE_MAX_CHUNKS];

/* The part of a G that may hold pointers into the heap. */
#define G_SCAN_END offsetof(struct g, stacklo)

/* ---- M: an OS thread ----------------------------------------------------- */

enum m_after {                /* what the scheduler does when a goroutine switches to g0 */
    AFTER_NONE,
    AFTER_PARK,               /* g parks: waitunlockf(g, waitlock) decides */
    AFTER_YIELD,              /* g yields: back on the global queue */
    AFTER_YIELD_LOCAL,        /* g yields to runnext: on the local queue */
    AFTER_EXIT,               /* g returned from its function */
    AFTER_EXITSYSCALL,        /* g left a syscall and found no P */
};

struct p;

struct m {
    int64_t id;
    int64_t procid;           /* tid */
    struct g *curg;
    struct p *p;
    struct p *nextp;          /* P handed to this M while it sleeps */
    struct p *oldp;           /* P it held when it entered a syscall */
    struct g *lockedg;
    uint32_t spinning;
    uint32_t blocked;
    struct m *alllink;
    struct m *schedlink;      /* idle list */
    uintptr_t stacklo;        /* the thread's own stack */
    uintptr_t stackhi;
    struct gctx g0ctx;        /* scheduler context on the thread's stack */
    struct note park;
    enum m_after after;
    bool (*waitunlockf)(struct g *gp, void *arg);
    void *waitlock;
    uint64_t rand;            /* per-M random state */
    pthread_t thread;
    int locks;                /* > 0 while holding runtime locks (not stoppable then) */
    bool dying;               /* printing a fatal error */
    uint32_t suspended;       /* the stop it obeys in the signal handler (signal_stop.c) */
    uint64_t sregs[23];       /* its registers then (ucontext gregs) */
    void *sigstack;           /* alternate signal stack */
    struct g *parked;         /* direct hand-off: the goroutine being parked */
};

/* ---- P: a processor ---------------------------------------------------- */

#define RUNQ_LEN 256

struct p {
    int32_t id;
    uint32_t status;          /* enum pstatus, atomic */
    struct m *m;
    uint32_t runqhead;        /* atomic */
    uint32_t runqtail;        /* atomic */
    struct g *runq[RUNQ_LEN];
    struct g *runnext;        /* atomic */
    uint32_t schedtick;
    uint32_t syscalltick;     /* atomic */
    struct p *link;           /* idle list */
    struct g *gfree;          /* dead Gs for reuse */
    int32_t ngfree;
    int32_t nstackcache;
    struct span *stackcache[16];
    struct mcache *mcache;    /* heap allocation cache */
    int32_t nsudog;
    struct sudog *sudogcache[64];
    uint32_t preempt;         /* sysmon: the running goroutine has had its turn */
    /* sysmon's view of this P */
    uint32_t sysmon_schedtick;
    uint32_t sysmon_syscalltick;
    int64_t sysmon_when;
};

/* ---- The scheduler's global state --------------------------------------- */

struct schedt {
    uint64_t goidgen;         /* atomic */
    int64_t mnext;            /* Ms created (the next M's id) */
    struct rtlock lock;
    struct m *midle;          /* idle Ms */
    int32_t nmidle;
    int32_t nmidlelocked;
    uint32_t nmspinning;      /* atomic */
    uint32_t npidle;          /* atomic */
    struct p *pidle;          /* idle Ps */
    struct {
        struct g *head, *tail;
    } runq;                   /* global run queue */
    int32_t runqsize;
    struct rtlock gflock;
    struct g *gfree;          /* global free list of dead Gs */
    int32_t ngfree;
    uint32_t gcwaiting;       /* atomic: stop the world in progress */
    uint32_t sysmonwait;      /* atomic: sysmon sleeping deeply */
    struct note sysmonnote;
    uint32_t main_done;       /* atomic: goroutine 1 returned */
    int32_t nsysg;            /* atomic: runtime goroutines (not counted by gort_numgoroutine) */
};

/* ---- Globals (defined where their module says) --------------------------- */

extern struct schedt sched;                 /* sched.c */
extern struct g **allgs;                    /* gtable.c */
extern uint64_t allglen;                    /* gtable.c */
extern struct m *allm;                      /* mthread.c */
extern struct p **allp;                     /* procs.c */
extern int32_t gomaxprocs;                  /* procs.c */
extern int32_t ncpu;                        /* env.c */
extern int64_t runtime_start;               /* start.c */
extern int64_t runtime_start_wall;          /* start.c: the same moment, walltime() */
extern size_t stack_size;                   /* stack.c */

/* ---- Current M and G ------------------------------------------------------ */

extern __thread struct m *tls_m __attribute__((tls_model("initial-exec")));

/* Read the current M.  A goroutine moves between threads whenever it
 * parks, so the compiler must not keep the thread pointer from before a
 * switch: the asm volatile forces a fresh %fs-relative load every time. */
static inline struct m *getm(void)
{
    struct m *m;
    __asm__ volatile("movq tls_m@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(m));
    return m;
}

/* The current goroutine; only for code that runs on a goroutine. */
static inline struct g *getg(void)
{
    return getm()->curg;
}

/* The current goroutine, or NULL on a thread that is not an M or on g0. */
static inline struct g *getg_maybe(void)
{
    struct m *m = getm();
    return m ? m->curg : NULL;
}

/* ---- Module interfaces ------------------------------------------------------ */

/* env.c — GORT_* environment */
struct debugvars {
    int64_t schedtrace_ms;    /* GORT_DEBUG=schedtrace=MS */
    int gctrace;              /* GORT_DEBUG=gctrace=1 (heap) */
    bool gcstoptheworld;      /* GORT_DEBUG=gcstoptheworld=1: never mark concurrently */
    bool gcconcurrent;        /* GORT_DEBUG=gcconcurrent=1: always, when the kernel can */
    int traceback;            /* GORT_TRACEBACK, a TB_ level */
};
/* GORT_TRACEBACK levels, as GOTRACEBACK's */
enum { TB_NONE, TB_SINGLE, TB_ALL, TB_SYSTEM, TB_CRASH };
extern struct debugvars debug;
void env_init(void);
int traceback_level(const char *s);

/* timeutil.c */
int64_t nanotime(void);
int64_t walltime(void);                     /* CLOCK_REALTIME, Unix nanoseconds */
int64_t coarse_nanotime(void);            /* same clock, tick resolution */
void osyield(void);
void usleep_ns(int64_t ns);

/* rand.c */
uint64_t fastrand64(void);
uint32_t fastrandn(uint32_t n);          /* uniform in [0, n) */

/* gtable.c — the all-G table and G allocation */
struct g *g_alloc(void);                 /* a dead G from the free lists, or a new one in allgs */
void g_free(struct p *pp, struct g *gp); /* gp is dead: keep it for reuse */
uint64_t g_newid(void);
void g_cache_flush(struct p *pp);        /* move a P's dead Gs to the global list */
void gtable_generation_begin(void);
void gtable_generation_end(void);

/* stack.c — goroutine stacks, in stack spans of the heap */
struct span;
void stack_init(void);
void stack_alloc(struct p *pp, struct g *gp);   /* sets gp's stack */
void stack_free(struct p *pp, struct g *gp);
void stack_check(struct g *gp);          /* fatal if gp overflowed its stack */
void stack_cache_flush(struct p *pp);
size_t stack_pool_trim(int64_t idle_since); /* free pooled stacks unused since then */
void stack_scrub(void);                 /* clear stale words below the caller's frame */

/* runq.c — run queues */
void runq_put(struct p *pp, struct g *gp, bool next);
struct g *runq_get(struct p *pp);
bool runq_empty(struct p *pp);
uint32_t runq_len(struct p *pp);
struct g *runq_steal(struct p *pp, struct p *victim, bool stealnext);
void globrunq_put(struct g *gp);         /* sched.lock held */
void globrunq_put_batch(struct g *head, struct g *tail, int32_t n); /* sched.lock held */
struct g *globrunq_get(struct p *pp, int32_t max); /* sched.lock held */

/* sched.c — the scheduler */
NORETURN void mstart_loop(struct m *m);
void park(uint32_t reason, bool (*unlockf)(struct g *, void *), void *lock);
void park_unlock(uint32_t reason, struct rtlock *l);   /* park, releasing l */
void ready(struct g *gp, bool next);
void ready_list(struct g *list);         /* many at once, linked by schedlink */
void yield_local(void);                  /* give the P to runnext */
bool casgstatus(struct g *gp, uint32_t old, uint32_t new_);
/* As casgstatus, for a park whose goroutine's context is saved after the
 * transition: its state word says so until gstate_settled(gp). */
bool casgstatus_unsettled(struct g *gp, uint32_t old, uint32_t new_);
void gstate_settled(struct g *gp);                     /* gtable.c */
void gstate_announce(struct g *gp, uint32_t new_, bool unsettled); /* gtable.c */
uint32_t readgstatus(struct g *gp);
void checkdead(void);                    /* sched.lock held */
bool gc_busy(void);                      /* mgc.c: a collection is running or asked for */
NORETURN void goexit(void);

/* mthread.c — Ms */
void m_new(struct p *pp, bool spinning, struct g *lockedg_unused);
void startm(struct p *pp, bool spinning);
void stopm(void);
void wakep(void);
void handoffp(struct p *pp);
void mput(struct m *m);                  /* sched.lock held */
struct m *mget(void);                    /* sched.lock held */
int32_t mcount(void);
void m_name_thread(struct m *m);
void m_name_pthread(pthread_t t, int64_t id);
/* Start a detached runtime thread (not an M) with the given name. */
void runtime_thread_start(const char *name, void *(*fn)(void *), void *arg, size_t stack_bytes);

/* procs.c — Ps and stopping the world */
void procs_init(int32_t n);
struct p *pidleget(void);                /* sched.lock held */
void pidleput(struct p *pp);             /* sched.lock held */
void acquirep(struct p *pp);
struct p *releasep(void);
enum stw_mode { STW_COOPERATIVE, STW_GC };
/* From a goroutine, or from the collector's thread (which has no P and
 * waits for the world lock).  False: on g0 and another stop holds it. */
bool stop_the_world(enum stw_mode mode);
void start_the_world(enum stw_mode mode);
extern struct rtlock worldsema;

/* lockosthread.c */
void stoplockedm(void);
void startlockedm(struct g *gp);

/* signal_stop.c — suspending threads that run goroutine code (collector) */
void sigstop_init(void);
void sigstop_m_init(struct m *m);
bool m_on_sigstack(const struct m *m, uintptr_t sp);   /* sp is on m's alternate signal stack */
void sigstop_begin(void);
bool sigstop_all_stopped(struct m *self, int iter);
void sigstop_end(void);
bool m_is_suspended(struct m *m);      /* stopped by the collector's signal now */

/* sysmon.c */
void sysmon_start(void);
void sysmon_wake(void);

/* timers.c */
void timers_start(void);
void timer_add(struct timer *t);
bool timer_del(struct timer *t);
bool timers_pending(void);

/* chan.c (used by select.c) */
struct gort_chan {
    struct rtlock lock;
    uint32_t closed;
    size_t qcount;            /* elements in the buffer */
    size_t dataqsiz;          /* buffer capacity */
    size_t elemsize;
    char *buf;
    size_t sendx, recvx;
    struct waitq recvq, sendq;
};
struct sudog *waitq_dequeue(struct waitq *q);
void waitq_enqueue(struct waitq *q, struct sudog *s);
void waitq_remove(struct waitq *q, struct sudog *s);
void chan_buf_put(struct gort_chan *c, const void *elem);
void chan_buf_take(struct gort_chan *c, void *elem);
struct g *chan_give(struct gort_chan *c, struct sudog *sg, const void *elem);
struct g *chan_take(struct gort_chan *c, struct sudog *sg, void *elem);
void *chan_slot(struct gort_chan *c, size_t i);
bool chan_send_nb(struct gort_chan *c, const void *elem);   /* from the timer thread */

/* sema.c — semaphores keyed by address (mutex, waitgroup) */
void semacquire(uint32_t *addr, bool lifo, uint32_t reason);
void semrelease(uint32_t *addr, bool handoff);

/* mutex.c */
void mutex_lock_reason(gort_mutex *m, uint32_t reason);

/* fatal.c — fatal errors with a dump of every goroutine (exit status 2) */
NORETURN void throw_(const char *msg);   /* "fatal error: msg" */
NORETURN void panic_(const char *msg);   /* "panic: msg" */
/* A report: report_begin claims it for this thread (false: this thread is
 * already printing one, which failed); sig is the signal the process will
 * die of, 0 for exit status 2.  report_end ends the process;
 * report_failed first says the report was cut short by what. */
bool report_begin(int sig);
NORETURN void report_end(void);
bool report_dying(void);    /* a report is under way: the process ends with it */
NORETURN void report_failed(const char *what);
NORETURN void die_by_signal(int sig);   /* its default action, whatever the program set */
void signal_default(int sig);           /* set sig's action to SIG_DFL */

/* print.c — output to fd 2, async-signal-safe (a printf subset, no %f) */
void print_str(const char *s);
void print_hold(bool on);   /* a report's thread: hold output to write whole lines (off: flush) */
struct ppbuf;
void print_to(struct ppbuf *buf);   /* this thread's output into buf (NULL: fd 2 again) */
void print_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* signal_fatal.c — reports of SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and
 * SIGABRT (those the program left at their default action) */
void sigfatal_init(void);

/* traceback.c — goroutine dumps, as GORT_TRACEBACK level (a TB_ value)
 * has them: the goroutine current (NULL: none) from registers regs (a
 * struct cfi_regs, dwarf/cfi.h: a signal's, CFI_PC_EXACT), then with
 * TB_ALL and above every other goroutine.  traceback_here: from the
 * caller's own registers (thread_too: the caller's thread first when it
 * runs no goroutine).  traceback_thread: a thread that runs no goroutine,
 * from a signal's registers. */
struct cfi_regs;
void traceback_goroutines(struct g *current, const struct cfi_regs *regs, int level);
void traceback_here(struct g *current, int level, bool thread_too);
void traceback_thread(long tid, const char *name, const struct cfi_regs *regs, int level);
/* From the signal handler, for a fault of the thread printing a report:
 * when it came while one goroutine (or thread) was dumped, says so and
 * goes on with the next (it does not return); else returns. */
void traceback_recover(const char *what, uintptr_t addr);
/* For the goroutine profile, with the world stopped (STW_GC, after
 * stackwalk_refresh_modules: the walks look modules up in its table, not
 * through the loader, whose lock a suspended thread may hold): fn gets
 * every goroutine but the dead and the runtime's own, with its stack as
 * pcs, innermost first (leaf_exact: pcs[0] is not a return address); none
 * for a goroutine running on a thread the stop did not suspend. */
void traceback_each_goroutine(void (*fn)(void *arg, struct g *gp, const uintptr_t *pcs, int n,
                                         bool leaf_exact),
                              void *arg);
/* A goroutine as a crash report prints it, from a copy of its G and its
 * stack as traceback_each_goroutine gave it (printed with the world
 * running again: symbols may take the loader's lock). */
void traceback_print_snapshot(const struct g *snap, uint32_t status, const uintptr_t *pcs, int n,
                              bool leaf_exact, int64_t now);

/* stack.c — the lowest address of gp's stack that may be read (above its
 * guard page, GORT_STACK_GUARD=1), and whether a fault at addr with stack
 * pointer sp is gp running off the bottom of its stack (the caller knows
 * sp is on no other stack of the thread). */
uintptr_t stack_readable_lo(const struct g *gp);
bool stack_overflowed(const struct g *gp, uintptr_t sp, uintptr_t addr);

#endif /* GORT_RUNTIME_H */
