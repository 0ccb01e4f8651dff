/*
 * target.h — the one interface every backend implements: a live process
 * (target_live.c, ptrace) and a core file (target_core.c).  Commands and the
 * runtime model see a target only through these operations, so they never
 * know which backend they look at.
 *
 * A target gives: memory (single reads and bulk reads of many ranges), its
 * threads with their registers, its mappings, and stop/release (a live
 * process is stopped for the copy and released after; a core is always
 * "stopped").  Addresses are the target's.
 */
#ifndef GOINSPECT_TARGET_H
#define GOINSPECT_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"
#include "procmaps.h"

/* The registers of one thread (general-purpose, x86-64). */
struct target_regs {
    uint64_t rip, rsp, rbp, rbx, r12, r13, r14, r15;
    uint64_t rax, rcx, rdx, rsi, rdi, r8, r9, r10, r11;
    uint64_t fs_base, eflags;
    uint64_t gs_base, orig_rax, cs, ss, ds, es, fs, gs;   /* for writing cores */
    bool full;              /* false: only rip and rsp are known */
};

struct target_thread {
    pid_t tid;
    char name[16];          /* comm */
    char state;             /* kernel state letter (R, S, D, T...) before the stop */
    bool has_regs;
    struct target_regs regs;
    char regs_error[96];    /* why there are no registers */
};

/* A file mapped into the target, as the module list knows it. */
struct file_ref {
    const char *path;       /* as the mappings name it */
    uint64_t inode;
    unsigned dev_major, dev_minor; /* the inode's device */
    uint64_t start, end;    /* one of its mappings */
};

enum { TARGET_MAX_PATHS = 4 };

/* One range of a bulk read. */
struct target_range {
    uint64_t addr;
    void *buf;
    size_t len;
    size_t got;             /* filled in: bytes read from addr (len unless it failed) */
};

/* How a frozen target's process ended, as a core records it (NT_SIGINFO,
 * pr_cursig). */
struct target_end {
    bool known;             /* the core records a signal */
    bool alive;             /* it was dumped alive (gcore) and ended by nothing */
    int signo, code;        /* the signal, its si_code (when has_code) */
    bool has_code;
    bool has_addr;
    uint64_t addr;          /* the fault address (SIGSEGV, SIGBUS, ...) */
    pid_t sender;           /* who sent it, for a signal from a process */
    pid_t tid;              /* the thread that took it */
};

struct target;

struct target_ops {
    const char *kind;       /* "process", "core" */
    /* Stop the target for a consistent copy (live: seize and interrupt
     * every thread, until no new thread appears) and read every thread's
     * registers.  A core needs nothing. */
    int (*stop)(struct target *t, struct fail *f);
    /* Let it run again; safe to call when it is not stopped. */
    void (*release)(struct target *t);
    /* Read up to len bytes at addr; returns how many were read (short or 0
     * where memory is not readable). */
    size_t (*read)(struct target *t, uint64_t addr, void *buf, size_t len);
    /* As read, but only memory the target holds itself: a core's recorded
     * bytes, never those of its mapped files (NULL: read). */
    size_t (*read_own)(struct target *t, uint64_t addr, void *buf, size_t len);
    /* Read many ranges, setting each one's got. */
    void (*read_ranges)(struct target *t, struct target_range *r, size_t n);
    /* (Re)list the threads: names, states, and registers when stopped. */
    int (*threads)(struct target *t, struct fail *f);
    /* (Re)read the mappings. */
    int (*mappings)(struct target *t, struct fail *f);
    /* Paths that open the file of a mapping, as this target sees it (a
     * live process's file even in another mount namespace, or deleted; a
     * core's from the sysroot), best first, into out[0..TARGET_MAX_PATHS):
     * how many. */
    size_t (*file_paths)(struct target *t, const struct file_ref *r,
                         char (*out)[4200]);
    /* When reading it failed: -1 with the reason in f if the target is no
     * longer what was opened (a live process exited or called execve
     * meanwhile), else 0.  A core never changes (NULL). */
    int (*changed)(struct target *t, struct fail *f);
    void (*close)(struct target *t);
};

struct target {
    const struct target_ops *ops;
    pid_t pid;              /* the process (or the one the core came from) */
    char what[4200];        /* how messages name it: "PID 42 (name)", or
                               "core FILE (PID 42, name)" */
    char name[16];          /* its comm */
    char exe[4096];         /* path of its executable as the system names it */
    char exe_open[4096];    /* a path that opens that very file */
    bool frozen;            /* never changes (a core): no stop, no pre-copy */
    int64_t dumped_mono_ns; /* frozen: when it was dumped, CLOCK_MONOTONIC (0: unknown) */
    int64_t dumped_wall_ns; /* frozen: the same, CLOCK_REALTIME (0: unknown) */
    char core_path[4096];   /* frozen: the core file */
    struct target_end end;  /* frozen: how it ended */
    bool stopped;
    bool exited;            /* it died while stopped (seen at release) */
    uint64_t pause_ns;      /* time the target spent stopped, last stop */
    unsigned stop_rounds;   /* thread listings until no new thread appeared */
    struct target_thread *threads;
    size_t nthreads;
    struct procmaps maps;
    void *priv;             /* backend state */
};

static inline int target_stop(struct target *t, struct fail *f) { return t->ops->stop(t, f); }
static inline void target_release(struct target *t) { t->ops->release(t); }
static inline size_t target_read(struct target *t, uint64_t a, void *b, size_t n)
{
    return t->ops->read(t, a, b, n);
}
static inline size_t target_read_own(struct target *t, uint64_t a, void *b, size_t n)
{
    return (t->ops->read_own ? t->ops->read_own : t->ops->read)(t, a, b, n);
}
static inline void target_read_ranges(struct target *t, struct target_range *r, size_t n)
{
    t->ops->read_ranges(t, r, n);
}
static inline int target_threads(struct target *t, struct fail *f) { return t->ops->threads(t, f); }
static inline int target_mappings(struct target *t, struct fail *f) { return t->ops->mappings(t, f); }
static inline int target_changed(struct target *t, struct fail *f)
{
    return t->ops->changed ? t->ops->changed(t, f) : 0;
}
static inline void target_close(struct target *t) { t->ops->close(t); }
static inline size_t target_file_paths(struct target *t, const struct file_ref *r,
                                       char (*out)[4200])
{
    return t->ops->file_paths(t, r, out);
}

/* Reads exactly n bytes or returns false. */
bool target_read_full(struct target *t, uint64_t addr, void *buf, size_t n);
bool target_read_u64(struct target *t, uint64_t addr, uint64_t *v);

/* The thread with that tid, or NULL. */
struct target_thread *target_thread_by_tid(struct target *t, pid_t tid);

/* ---- The live backend (target_live.c) ------------------------------------ */

struct live_options {
    bool nonstop;           /* never stop: stop() only lists threads */
};

/* Opens process pid: checks that it exists, is not a zombie and can be
 * read, and names it; nothing is stopped yet.  Fails with messages such as
 * "PID 42: no such process". */
int target_live_open(pid_t pid, const struct live_options *o, struct target **out,
                     struct fail *f);

/* ---- The core file backend (target_core.c) -------------------------------- */

struct core_options {
    const char *exe;        /* the executable (NULL: the one the core names) */
    const char *sysroot;    /* where the core's files are (NULL: /) */
};

/* Opens a core file: its notes, its memory and the files it maps (the
 * executable and libraries, read where the core omits their memory).
 * Fails with messages such as "core: CORE: not a core file". */
int target_core_open(const char *path, const struct core_options *o, struct target **out,
                     struct fail *f);

#endif
