/*
 * target.h — the one interface every backend implements: a live process
 * (target_live.c, ptrace) today, a core file later.  Commands and the
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

/* One range of a bulk read. */
struct target_range {
    uint64_t addr;
    void *buf;
    size_t len;
    size_t got;             /* filled in: bytes read from addr (len unless it failed) */
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
    /* Read many ranges, setting each one's got. */
    void (*read_ranges)(struct target *t, struct target_range *r, size_t n);
    /* (Re)list the threads: names, states, and registers when stopped. */
    int (*threads)(struct target *t, struct fail *f);
    /* (Re)read the mappings. */
    int (*mappings)(struct target *t, struct fail *f);
    /* When reading it failed: -1 with the reason in f if the target is no
     * longer what was opened (a live process exited or called execve
     * meanwhile), else 0.  A core never changes (NULL). */
    int (*changed)(struct target *t, struct fail *f);
    void (*close)(struct target *t);
};

struct target {
    const struct target_ops *ops;
    pid_t pid;              /* the process (or the one the core came from) */
    char name[16];          /* its comm */
    char exe[4096];         /* path of its executable as the system names it */
    char exe_open[4096];    /* a path that opens that very file */
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

#endif
