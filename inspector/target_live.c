/*
 * target_live.c — the live-process backend of target.h, on ptrace.
 *
 * Stopping: every task of /proc/PID/task is seized (PTRACE_SEIZE does not
 * stop it) and then interrupted (PTRACE_INTERRUPT); waitpid(__WALL) sees
 * each stop.  The task list is read again until a round finds no new task,
 * so threads created while goinspect attaches are stopped too.  A task that
 * was in a signal-delivery stop keeps its signal, which is handed back at
 * detach.  The pause runs from the first interrupt to the last detach.
 *
 * Memory: process_vm_readv, up to IOV_MAX ranges a call; /proc/PID/mem when
 * that system call is not available.
 *
 * Never leaving the target stopped: release() detaches every task, on every
 * path; while tasks are seized, SIGINT, SIGTERM, SIGHUP and SIGQUIT detach
 * them and exit; and should goinspect die anyway, the kernel detaches a
 * dead tracer's tasks and they run on.
 */
#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ptrace_access.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

enum {
    MAX_ROUNDS = 1000,              /* task listings before giving up */
    STOP_TIMEOUT_MS = 5000,         /* a task that does not stop in this time */
    IOV_BATCH = 1024,               /* IOV_MAX on Linux */
};

struct live {
    struct live_options o;
    int memfd;                      /* /proc/PID/mem, opened on first need */
    bool no_pvr;                    /* process_vm_readv is not usable */
    int64_t stop_t0;                /* when the first task was interrupted */
};

/* ---- Seized tasks, as the signal handler sees them ----------------------- */

/* The handler reads these; they are changed only with the signals blocked. */
static pid_t *seized_tids;
static int *seized_sigs;            /* signal to hand back at detach */
static volatile size_t nseized;
static size_t capseized;
static pid_t seized_pid;
static struct sigaction old_actions[4];
static const int caught_signals[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static bool handlers_installed;

static void block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < 4; i++)
        sigaddset(&set, caught_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}

static void write_str(const char *s)
{
    if (write(2, s, strlen(s)) < 0) {
        /* nowhere else to report */
    }
}

/* Async-signal-safe: detach everything, say so, exit. */
static void on_fatal_signal(int sig)
{
    for (size_t i = 0; i < nseized; i++)
        ptrace(PTRACE_DETACH, seized_tids[i], NULL, (void *)(intptr_t)seized_sigs[i]);
    char num[24];
    int k = (int)sizeof num - 1;
    num[k] = 0;
    unsigned v = (unsigned)seized_pid;
    do {
        num[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k > 0);
    write_str("\ngoinspect: interrupted by ");
    write_str(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP"
                                                                                   : "SIGQUIT");
    write_str(": detached from PID ");
    write_str(num + k);
    write_str(", which runs on\n");
    _exit(1);
}

static void install_handlers(pid_t pid)
{
    if (handlers_installed)
        return;
    seized_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigfillset(&sa.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(caught_signals[i], &sa, &old_actions[i]);
    handlers_installed = true;
}

static void remove_handlers(void)
{
    if (!handlers_installed)
        return;
    for (int i = 0; i < 4; i++)
        sigaction(caught_signals[i], &old_actions[i], NULL);
    handlers_installed = false;
}

static void seized_add(pid_t tid)
{
    sigset_t old;
    block_signals(&old);
    if (nseized == capseized) {
        size_t cap = capseized ? capseized * 2 : 64;
        seized_tids = xrealloc(seized_tids, cap * sizeof *seized_tids);
        seized_sigs = xrealloc(seized_sigs, cap * sizeof *seized_sigs);
        capseized = cap;
    }
    seized_tids[nseized] = tid;
    seized_sigs[nseized] = 0;
    nseized = nseized + 1;
    restore_signals(&old);
}

static ssize_t seized_index(pid_t tid)
{
    for (size_t i = 0; i < nseized; i++)
        if (seized_tids[i] == tid)
            return (ssize_t)i;
    return -1;
}

static void seized_remove(size_t i)
{
    sigset_t old;
    block_signals(&old);
    seized_tids[i] = seized_tids[nseized - 1];
    seized_sigs[i] = seized_sigs[nseized - 1];
    nseized = nseized - 1;
    restore_signals(&old);
}

/* ---- /proc ------------------------------------------------------------------ */

/* comm and state of a task from /proc/PID/task/TID/stat ("tid (comm) S ..."). */
static int read_task_stat(pid_t pid, pid_t tid, char name[16], char *state)
{
    char path[64], *text;
    if (tid)
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_small_file(path, &text) < 0)
        return -1;
    char *l = strchr(text, '('), *r = strrchr(text, ')');
    if (!l || !r || r < l || r[1] != ' ' || !r[2]) {
        free(text);
        errno = EINVAL;
        return -1;
    }
    size_t n = (size_t)(r - l - 1);
    if (n > 15)
        n = 15;
    memcpy(name, l + 1, n);
    name[n] = 0;
    *state = r[2];
    free(text);
    return 0;
}

/* The value of "Key:" in /proc/PID/task/TID/status (or /proc/PID/status). */
static long status_field(pid_t pid, pid_t tid, const char *key)
{
    char path[64], *text;
    if (tid)
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_small_file(path, &text) < 0)
        return -1;
    long v = -1;
    size_t klen = strlen(key);
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    free(text);
    return v;
}

static void comm_of(pid_t pid, char name[16])
{
    char state;
    if (read_task_stat(pid, 0, name, &state) < 0)
        strcpy(name, "?");
}

static int traced_fail(struct target *t, pid_t tracer, struct fail *f)
{
    char tname[16];
    comm_of(tracer, tname);
    return fail_set(f, "PID %d (%s) is already traced by process %d (%s): a process has one "
                       "tracer at a time; detach that one first, or use --nonstop",
                    (int)t->pid, t->name, (int)tracer, tname);
}

/* "cannot WHAT: Operation not permitted (ptrace permissions: RULE)". */
static int permission_fail(struct target *t, const char *what, enum ptrace_access mode, int err,
                           struct fail *f)
{
    char why[400];
    ptrace_refusal(t->pid, mode, why, sizeof why);
    return fail_set(f, "PID %d (%s): cannot %s: %s (ptrace permissions: %s)", (int)t->pid,
                    t->name, what, strerror(err), why);
}

/* ---- Stopping ------------------------------------------------------------------ */

static int task_ids(pid_t pid, pid_t **out, size_t *n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    size_t cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        xgrow(out, &cap, *n + 1, sizeof **out);
        (*out)[(*n)++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return 0;
}

static int cmp_thread(const void *a, const void *b)
{
    const struct target_thread *x = a, *y = b;
    return (x->tid > y->tid) - (x->tid < y->tid);
}

struct target_thread *target_thread_by_tid(struct target *t, pid_t tid)
{
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].tid == tid)
            return &t->threads[i];
    return NULL;
}

static void forget_thread(struct target *t, pid_t tid)
{
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].tid == tid) {
            t->threads[i] = t->threads[--t->nthreads];
            return;
        }
}

enum wait_result { STOPPED, GONE, TIMEOUT };

/* Waits for tid's stop after PTRACE_INTERRUPT. */
static enum wait_result wait_stop(pid_t tid, int *sig)
{
    int64_t deadline = mono_ns() + (int64_t)STOP_TIMEOUT_MS * 1000000;
    long nap = 1000;
    *sig = 0;
    for (;;) {
        int st;
        pid_t r = waitpid(tid, &st, __WALL | WNOHANG);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return GONE;
        }
        if (r == 0) {
            if (mono_ns() > deadline)
                return TIMEOUT;
            struct timespec ts = {0, nap};
            nanosleep(&ts, NULL);
            if (nap < 1000000)
                nap *= 2;
            continue;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return GONE;
        if (WIFSTOPPED(st)) {
            int event = st >> 16;
            if (event == 0 && WSTOPSIG(st) != SIGTRAP)
                *sig = WSTOPSIG(st);     /* signal-delivery stop: hand it back */
            else if (event == 0)
                *sig = SIGTRAP;
            return STOPPED;
        }
    }
}

static void get_regs(struct target_thread *th)
{
    struct user_regs_struct u;
    if (ptrace(PTRACE_GETREGS, th->tid, NULL, &u) < 0) {
        th->has_regs = false;
        snprintf(th->regs_error, sizeof th->regs_error, "cannot read registers: %s",
                 strerror(errno));
        return;
    }
    struct target_regs *r = &th->regs;
    r->rip = u.rip;
    r->rsp = u.rsp;
    r->rbp = u.rbp;
    r->rbx = u.rbx;
    r->r12 = u.r12;
    r->r13 = u.r13;
    r->r14 = u.r14;
    r->r15 = u.r15;
    r->rax = u.rax;
    r->rcx = u.rcx;
    r->rdx = u.rdx;
    r->rsi = u.rsi;
    r->rdi = u.rdi;
    r->r8 = u.r8;
    r->r9 = u.r9;
    r->r10 = u.r10;
    r->r11 = u.r11;
    r->fs_base = u.fs_base;
    r->eflags = u.eflags;
    r->full = true;
    th->has_regs = true;
}

static bool process_gone(pid_t pid)
{
    char name[16], state;
    return read_task_stat(pid, 0, name, &state) < 0 || state == 'Z' || state == 'X';
}

static void live_release(struct target *t)
{
    struct live *lv = t->priv;
    if (!t->stopped && nseized == 0)
        return;
    bool esrch = false;
    while (nseized > 0) {
        size_t i = nseized - 1;
        if (ptrace(PTRACE_DETACH, seized_tids[i], NULL, (void *)(intptr_t)seized_sigs[i]) < 0 &&
            errno == ESRCH)
            esrch = true;
        seized_remove(i);
    }
    if (t->stopped)
        t->pause_ns = (uint64_t)(mono_ns() - lv->stop_t0);
    t->stopped = false;
    remove_handlers();
    /* A stopped task cannot go away on its own: only SIGKILL, which takes
     * the whole process, ends it. */
    if (esrch)
        t->exited = true;
}

/* Seizes, interrupts and waits for every task not seized yet; returns how
 * many were new, or -1. */
static int stop_round(struct target *t, bool first, size_t *cap, struct fail *f)
{
    struct live *lv = t->priv;
    pid_t *tids = NULL;
    size_t n = 0;
    if (task_ids(t->pid, &tids, &n) < 0) {
        int e = errno;
        free(tids);
        if (process_gone(t->pid))
            return fail_set(f, "PID %d (%s) exited during the snapshot", (int)t->pid, t->name);
        return fail_set(f, "/proc/%d/task: %s", (int)t->pid, strerror(e));
    }
    size_t first_new = nseized;
    for (size_t i = 0; i < n; i++) {
        pid_t tid = tids[i];
        if (seized_index(tid) >= 0)
            continue;
        struct target_thread th;
        memset(&th, 0, sizeof th);
        th.tid = tid;
        if (read_task_stat(t->pid, tid, th.name, &th.state) < 0)
            continue;                       /* gone already */
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
            int e = errno;
            if (e == ESRCH)
                continue;                   /* exited between the listing and now */
            free(tids);
            long tracer = status_field(t->pid, tid, "TracerPid");
            if (tracer > 0 && tracer != getpid())
                return traced_fail(t, (pid_t)tracer, f);
            if (e == EPERM || e == EACCES)
                return permission_fail(t, "attach", ACCESS_ATTACH, e, f);
            return fail_set(f, "PID %d (%s): cannot attach to thread %d: %s", (int)t->pid,
                            t->name, (int)tid, strerror(e));
        }
        seized_add(tid);
        xgrow(&t->threads, cap, t->nthreads + 1, sizeof *t->threads);
        t->threads[t->nthreads++] = th;
    }
    free(tids);
    if (first && nseized > first_new) {
        lv->stop_t0 = mono_ns();
        t->stopped = true;
    }
    for (size_t i = first_new; i < nseized; i++)
        ptrace(PTRACE_INTERRUPT, seized_tids[i], NULL, NULL);
    for (size_t i = first_new; i < nseized;) {
        int sig;
        pid_t tid = seized_tids[i];
        switch (wait_stop(tid, &sig)) {
        case STOPPED:
            seized_sigs[i] = sig;
            i++;
            break;
        case GONE:
            seized_remove(i);
            forget_thread(t, tid);
            if (tid == t->pid || process_gone(t->pid))
                return fail_set(f, "PID %d (%s) exited during the snapshot", (int)t->pid,
                                t->name);
            break;
        case TIMEOUT:
            return fail_set(f, "PID %d (%s): thread %d did not stop within %d ms (it may be "
                               "in an uninterruptible wait)", (int)t->pid, t->name, (int)tid,
                            STOP_TIMEOUT_MS);
        }
    }
    return (int)(nseized - first_new);
}

static int live_stop(struct target *t, struct fail *f)
{
    struct live *lv = t->priv;
    if (lv->o.nonstop)
        return t->ops->threads(t, f);
    size_t cap = 0;
    free(t->threads);
    t->threads = NULL;
    t->nthreads = 0;
    t->stop_rounds = 0;
    t->pause_ns = 0;
    t->exited = false;
    install_handlers(t->pid);
    for (;;) {
        int r = stop_round(t, t->stop_rounds == 0, &cap, f);
        if (r < 0) {
            live_release(t);
            return -1;
        }
        t->stop_rounds++;
        if (r == 0)
            break;
        if (t->stop_rounds >= MAX_ROUNDS) {
            live_release(t);
            return fail_set(f, "PID %d (%s): new threads kept appearing through %d rounds of "
                               "stopping", (int)t->pid, t->name, MAX_ROUNDS);
        }
    }
    if (t->nthreads == 0) {
        live_release(t);
        return fail_set(f, "PID %d (%s) exited during the snapshot", (int)t->pid, t->name);
    }
    qsort(t->threads, t->nthreads, sizeof *t->threads, cmp_thread);
    for (size_t i = 0; i < t->nthreads; i++)
        get_regs(&t->threads[i]);
    return 0;
}

/* Without stopping: the task list, and for a task blocked in a system call
 * the pc and sp the kernel shows in /proc/PID/task/TID/syscall. */
static int live_threads(struct target *t, struct fail *f)
{
    if (t->stopped)
        return 0;
    pid_t *tids = NULL;
    size_t n = 0, cap = 0;
    if (task_ids(t->pid, &tids, &n) < 0) {
        free(tids);
        return fail_set(f, "/proc/%d/task: %s", (int)t->pid, strerror(errno));
    }
    free(t->threads);
    t->threads = NULL;
    t->nthreads = 0;
    for (size_t i = 0; i < n; i++) {
        struct target_thread th;
        memset(&th, 0, sizeof th);
        th.tid = tids[i];
        if (read_task_stat(t->pid, th.tid, th.name, &th.state) < 0)
            continue;
        char path[80], *text;
        snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)t->pid, (int)th.tid);
        strcpy(th.regs_error, "not stopped (--nonstop)");
        if (read_small_file(path, &text) >= 0) {
            unsigned long long sp, pc;
            const char *last2 = NULL, *last = NULL;
            for (const char *p = text; *p; p++)
                if (*p == ' ') {
                    last2 = last;
                    last = p;
                }
            if (last2 && text[0] != 'r' && sscanf(last2, " %llx %llx", &sp, &pc) == 2) {
                th.regs.rsp = sp;
                th.regs.rip = pc;
                th.regs.full = false;
                th.has_regs = true;
            }
            free(text);
        }
        xgrow(&t->threads, &cap, t->nthreads + 1, sizeof *t->threads);
        t->threads[t->nthreads++] = th;
    }
    free(tids);
    qsort(t->threads, t->nthreads, sizeof *t->threads, cmp_thread);
    return 0;
}

/* ---- Memory ----------------------------------------------------------------------- */

static size_t mem_pread(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct live *lv = t->priv;
    if (lv->memfd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)t->pid);
        lv->memfd = open(path, O_RDONLY | O_CLOEXEC);
        if (lv->memfd < 0)
            return 0;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(lv->memfd, (char *)buf + got, len - got, (off_t)(addr + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static bool pvr_unusable(int e)
{
    return e == ENOSYS || e == EPERM;
}

static size_t live_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct live *lv = t->priv;
    if (len == 0 || addr + len < addr || addr > (uint64_t)INTPTR_MAX)
        return 0;
    if (!lv->no_pvr) {
        struct iovec l = {buf, len}, r = {(void *)(uintptr_t)addr, len};
        ssize_t n = process_vm_readv(t->pid, &l, 1, &r, 1, 0);
        if (n >= 0)
            return (size_t)n;
        if (!pvr_unusable(errno))
            return 0;
        lv->no_pvr = true;
    }
    return mem_pread(t, addr, buf, len);
}

static void live_read_ranges(struct target *t, struct target_range *rg, size_t n)
{
    struct live *lv = t->priv;
    struct iovec lv_[IOV_BATCH], rv[IOV_BATCH];
    size_t i = 0;
    while (i < n && !lv->no_pvr) {
        size_t k = 0;
        for (size_t j = i; j < n && k < IOV_BATCH; j++, k++) {
            rg[j].got = 0;
            lv_[k] = (struct iovec){rg[j].buf, rg[j].len};
            rv[k] = (struct iovec){(void *)(uintptr_t)rg[j].addr, rg[j].len};
        }
        ssize_t got = process_vm_readv(t->pid, lv_, k, rv, k, 0);
        if (got < 0) {
            if (pvr_unusable(errno)) {
                lv->no_pvr = true;
                break;
            }
            if (errno == ESRCH)
                return;
            got = 0;            /* the first range failed */
        }
        /* Ranges are filled in order; the first one not filled is the one
         * that failed; go on after it. */
        size_t left = (size_t)got, j = i;
        while (j < i + k && left >= rg[j].len) {
            rg[j].got = rg[j].len;
            left -= rg[j].len;
            j++;
        }
        if (j < i + k) {
            rg[j].got = left;
            j++;
        }
        i = j;
    }
    for (; i < n; i++)
        rg[i].got = live_read(t, rg[i].addr, rg[i].buf, rg[i].len);
}

static int live_mappings(struct target *t, struct fail *f)
{
    struct procmaps m;
    if (procmaps_read(t->pid, &m, f) < 0)
        return -1;
    procmaps_free(&t->maps);
    t->maps = m;
    return 0;
}

static void live_close(struct target *t)
{
    struct live *lv = t->priv;
    live_release(t);
    if (lv->memfd >= 0)
        close(lv->memfd);
    procmaps_free(&t->maps);
    free(t->threads);
    free(lv);
    free(t);
}

static const struct target_ops live_ops = {
    .kind = "process",
    .stop = live_stop,
    .release = live_release,
    .read = live_read,
    .read_ranges = live_read_ranges,
    .threads = live_threads,
    .mappings = live_mappings,
    .close = live_close,
};

/* ---- Opening -------------------------------------------------------------------- */

/* A path that opens the executable itself: its name when that is still the
 * same file, else /proc/PID/exe. */
static void exe_paths(struct target *t)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%d/exe", (int)t->pid);
    snprintf(t->exe_open, sizeof t->exe_open, "%s", proc);
    struct stat a, b;
    if (stat(proc, &a) == 0 && stat(t->exe, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        snprintf(t->exe_open, sizeof t->exe_open, "%s", t->exe);
}

int target_live_open(pid_t pid, const struct live_options *o, struct target **out,
                     struct fail *f)
{
    struct target *t = xcalloc(1, sizeof *t);
    struct live *lv = xcalloc(1, sizeof *lv);
    t->ops = &live_ops;
    t->pid = pid;
    t->priv = lv;
    lv->o = *o;
    lv->memfd = -1;
    char state;

    if (read_task_stat(pid, 0, t->name, &state) < 0 || state == 'X') {
        live_close(t);
        return fail_set(f, "PID %d: no such process", (int)pid);
    }
    if (state == 'Z') {
        int rc = fail_set(f, "PID %d (%s) is a zombie: it has exited and waits for its parent "
                             "to collect its status; there is nothing left to inspect",
                          (int)pid, t->name);
        live_close(t);
        return rc;
    }
    if (pid == getpid()) {
        live_close(t);
        return fail_set(f, "PID %d is goinspect itself", (int)pid);
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(proc, t->exe, sizeof t->exe - 1);
    if (n < 0) {
        int e = errno, rc;
        if (e == EACCES || e == EPERM)
            rc = permission_fail(t, "read its executable", ACCESS_READ, e, f);
        else if (e == ENOENT)
            rc = fail_set(f, "PID %d (%s) has no executable (a kernel thread?)", (int)pid,
                          t->name);
        else
            rc = fail_set(f, "%s: %s", proc, strerror(e));
        live_close(t);
        return rc;
    }
    t->exe[n] = 0;
    const char *del = " (deleted)";
    if ((size_t)n > strlen(del) && strcmp(t->exe + n - strlen(del), del) == 0)
        t->exe[n - strlen(del)] = 0;
    exe_paths(t);

    if (!o->nonstop) {
        long tracer = status_field(pid, 0, "TracerPid");
        if (tracer > 0 && tracer != getpid()) {
            int rc = traced_fail(t, (pid_t)tracer, f);
            live_close(t);
            return rc;
        }
    }
    if (live_mappings(t, f) < 0) {
        int e = errno;
        int rc = e == EACCES || e == EPERM
                     ? permission_fail(t, "read its mappings", ACCESS_READ, e, f)
                     : fail_wrap(f, "PID %d (%s)", (int)pid, t->name);
        live_close(t);
        return rc;
    }
    /* Can its memory be read? */
    for (size_t i = 0; i < t->maps.n; i++) {
        const struct mapping *m = &t->maps.v[i];
        if (!mapping_readable(m) || strcmp(m->path, "[vvar]") == 0 ||
            strcmp(m->path, "[vsyscall]") == 0)
            continue;
        char byte;
        struct iovec l = {&byte, 1}, r = {(void *)(uintptr_t)m->start, 1};
        if (process_vm_readv(pid, &l, 1, &r, 1, 0) < 0) {
            int e = errno;
            if (e == EPERM || e == EACCES) {
                int rc = permission_fail(t, "read its memory", ACCESS_ATTACH, e, f);
                live_close(t);
                return rc;
            }
            if (e == ENOSYS)
                lv->no_pvr = true;
        }
        break;
    }
    *out = t;
    return 0;
}
