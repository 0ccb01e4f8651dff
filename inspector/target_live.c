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
 * Tasks come and go meanwhile.  A thread that exits between the listing
 * and its seize (the kernel answers ESRCH, or EPERM once its exit has
 * begun), or while goinspect waits for its stop, is simply not part of the
 * snapshot.  Every status is taken as it comes and the dead are reaped at
 * once, so that the target's exit or execve never waits for goinspect:
 * the leader's death (reported last) means the process exited; an
 * execve shows as PTRACE_EVENT_EXEC, or as a tracee that vanished without
 * a death (the old leader, and the old tid of the thread that called it).
 *
 * Memory: process_vm_readv, up to IOV_MAX ranges a call; /proc/PID/mem when
 * that system call is not available.
 *
 * Never leaving the target stopped: release() detaches every task, on every
 * path, and the signal handlers of tracees.h detach them when goinspect is
 * interrupted; should goinspect die anyway, the kernel detaches a dead
 * tracer's tasks and they run on.
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
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ptrace_access.h"
#include "tracees.h"

enum {
    MAX_ROUNDS = 1000,              /* task listings before giving up */
    STOP_TIMEOUT_MS = 5000,         /* a task that does not stop in this time */
    SETTLE_MS = 1000,               /* at release, for a task that never stopped */
    SEIZE_OPTIONS = PTRACE_O_TRACEEXEC,
    IOV_BATCH = 1024,               /* IOV_MAX on Linux */
};

struct image {
    uint64_t vdso, exe;
};

struct live {
    struct live_options o;
    int memfd;                      /* /proc/PID/mem, opened on first need */
    bool no_pvr;                    /* process_vm_readv is not usable */
    int64_t stop_t0;                /* when the first task was interrupted */
    bool doomed;                    /* a stopped task died: the process exits or execs */
    struct image image;             /* the program image opened */
    bool opened;                    /* image is set */
};

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

/* Is pid a kernel thread (PF_KTHREAD in the flags of /proc/PID/stat)? */
static bool kernel_thread(pid_t pid)
{
    char path[64], *text;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_small_file(path, &text) < 0)
        return false;
    const char *r = strrchr(text, ')');
    unsigned long flags = 0;
    bool ok = r && sscanf(r + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1;
    free(text);
    return ok && (flags & 0x00200000ul);
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

/* What tells one program image from the next: where its [vdso] and its
 * executable's first mapping start, which an execve places anew (address
 * space randomization). */
static struct image image_of(const struct procmaps *m, const char *exe)
{
    struct image im = {0, 0};
    for (size_t i = 0; i < m->n; i++) {
        if (!im.vdso && strcmp(m->v[i].path, "[vdso]") == 0)
            im.vdso = m->v[i].start;
        if (!im.exe && strcmp(m->v[i].path, exe) == 0)
            im.exe = m->v[i].start;
    }
    return im;
}

static bool same_image(struct image a, struct image b)
{
    return a.vdso == b.vdso && a.exe == b.exe;
}

enum presence { PRESENT, EXITED, EXECED };

/* Whether the process is still the one goinspect opened.  A main thread
 * that is a zombie while other threads live is an execve under way (the
 * caller of execve waits for the other threads to die, then takes the
 * main thread's place). */
static enum presence presence_now(struct target *t, bool *unmapped)
{
    struct live *lv = t->priv;
    char name[16], state;
    *unmapped = false;
    if (read_task_stat(t->pid, 0, name, &state) < 0 || state == 'X')
        return EXITED;
    if (state == 'Z')
        return status_field(t->pid, 0, "Threads") > 1 ? EXECED : EXITED;
    struct procmaps m;
    if (procmaps_read(t->pid, &m, NULL) < 0)
        return PRESENT;
    *unmapped = m.n == 0;
    bool same = m.n > 0 && same_image(image_of(&m, t->exe), lv->image);
    procmaps_free(&m);
    return same ? PRESENT : EXECED;
}

/* A process without mappings has lost its memory: an execve that has not
 * mapped the new image yet, or an exit (a SIGKILL) that has not made it a
 * zombie yet.  Which one shows within moments: asked again for up to
 * 50 ms. */
static enum presence presence(struct target *t)
{
    bool unmapped;
    enum presence p = presence_now(t, &unmapped);
    for (int i = 0; i < 25 && unmapped; i++) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        p = presence_now(t, &unmapped);
    }
    return p;
}

/* After a failed seize: the task is gone, or its exit has begun (the
 * kernel refuses to trace an exiting task, with EPERM). */
static bool task_exiting(pid_t pid, pid_t tid)
{
    char name[16], state;
    return read_task_stat(pid, tid, name, &state) < 0 || state == 'Z' || state == 'X';
}

static int exited_fail(struct target *t, struct fail *f)
{
    return fail_set(f, "PID %d (%s) exited during the snapshot", (int)t->pid, t->name);
}

static int exec_fail(struct target *t, struct fail *f)
{
    return fail_set(f, "PID %d (%s) called execve during the snapshot; attach again to inspect "
                       "the program it runs now", (int)t->pid, t->name);
}

/* The process slipped away: it exited, or runs another image. */
static int departed_fail(struct target *t, struct fail *f)
{
    return presence(t) == EXECED ? exec_fail(t, f) : exited_fail(t, f);
}

static int live_changed(struct target *t, struct fail *f)
{
    return presence(t) == PRESENT ? 0 : departed_fail(t, f);
}

/* A tracee died and was reaped: it is not part of the snapshot.  The
 * leader's death is reported last, once every other thread is gone: then
 * the whole process has exited.  A stopped task dies only of SIGKILL,
 * which takes the whole process, or of another thread's execve. */
static int task_died(struct target *t, pid_t tid, struct fail *f)
{
    struct live *lv = t->priv;
    ssize_t i = tracee_index(tid);
    if (i >= 0) {
        if (tracee_at((size_t)i)->stopped)
            lv->doomed = true;
        tracee_remove((size_t)i);
    }
    forget_thread(t, tid);
    return tid == t->pid ? exited_fail(t, f) : 0;
}

/* A tracee that is no longer ours though it never reported its death:
 * only an execve does that (it releases the old leader, and the thread
 * that calls it takes the leader's pid). */
static int task_vanished(struct target *t, pid_t tid, struct fail *f)
{
    ssize_t i = tracee_index(tid);
    if (i >= 0)
        tracee_remove((size_t)i);
    forget_thread(t, tid);
    return exec_fail(t, f);
}

/* What a wait status of tracee tid says. */
static int on_status(struct target *t, pid_t tid, int st, struct fail *f)
{
    if (WIFEXITED(st) || WIFSIGNALED(st))
        return task_died(t, tid, f);
    if (!WIFSTOPPED(st))
        return 0;
    ssize_t i = tracee_index(tid);
    /* A task can become ours under a new tid: the leader's, when the
     * thread that calls execve takes it. */
    struct tracee *tr = tracee_at(i >= 0 ? (size_t)i : tracee_add(tid));
    int event = (st >> 16) & 0xff;
    tr->stopped = true;
    tr->sig = event == 0 ? WSTOPSIG(st) : 0;    /* a signal-delivery stop: hand it back */
    return event == PTRACE_EVENT_EXEC ? exec_fail(t, f) : 0;
}

/* The statuses the reaper took while a seize waited, handled in order. */
static int take_reaped(struct target *t, struct fail *f)
{
    const struct taken_status *taken;
    size_t n = tracees_taken(&taken);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = on_status(t, taken[i].tid, taken[i].status, f);
    return rc;
}

/* Asks each tracee not seen stopped (and the leader, once the process is
 * doomed) whether it is still ours; returns 1 when a status was taken. */
static int check_tracees(struct target *t, struct fail *f)
{
    struct live *lv = t->priv;
    for (size_t i = 0; i < tracee_count(); i++) {
        struct tracee *tr = tracee_at(i);
        if (tr->stopped && !(lv->doomed && tr->tid == t->pid))
            continue;
        int st;
        pid_t tid = tr->tid, r = waitpid(tid, &st, __WALL | WNOHANG);
        if (r == tid)
            return on_status(t, tid, st, f) < 0 ? -1 : 1;
        if (r < 0 && errno == ECHILD)
            return task_vanished(t, tid, f) < 0 ? -1 : 1;
    }
    return 0;
}

static pid_t first_running(void)
{
    for (size_t i = 0; i < tracee_count(); i++)
        if (!tracee_at(i)->stopped)
            return tracee_at(i)->tid;
    return 0;
}

/* Waits until every tracee has stopped, taking every status that comes
 * (a task that dies is dropped at once, so that an exit or an execve in
 * the target never waits for goinspect).  Fails when the process exits
 * or calls execve, or when a task does not stop in time. */
static int wait_stops(struct target *t, struct fail *f)
{
    struct live *lv = t->priv;
    int64_t deadline = mono_ns() + (int64_t)STOP_TIMEOUT_MS * 1000000;
    long nap = 1000;
    for (;;) {
        int st;
        pid_t r = waitpid(-1, &st, __WALL | WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        int took = r > 0 ? (on_status(t, r, st, f) < 0 ? -1 : 1) : check_tracees(t, f);
        if (took < 0)
            return -1;
        if (took > 0) {
            nap = 1000;
            continue;
        }
        pid_t running = first_running();
        if (!running && !lv->doomed)
            return 0;
        if (mono_ns() > deadline) {
            if (!running)
                return departed_fail(t, f);
            char name[16], state = '?';
            read_task_stat(t->pid, running, name, &state);
            return fail_set(f, "PID %d (%s): thread %d did not stop within %d ms (state %c%s)",
                            (int)t->pid, t->name, (int)running, STOP_TIMEOUT_MS, state,
                            state == 'D' ? ": an uninterruptible wait" : "");
        }
        struct timespec ts = {0, nap};
        nanosleep(&ts, NULL);
        if (nap < 1000000)
            nap *= 2;
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
    r->gs_base = u.gs_base;
    r->orig_rax = u.orig_rax;
    r->cs = u.cs;
    r->ss = u.ss;
    r->ds = u.ds;
    r->es = u.es;
    r->fs = u.fs;
    r->gs = u.gs;
    r->full = true;
    th->has_regs = true;
}

/* Waits a little for the tasks of left[] to stop or die, detaching each
 * at its stop; reaps every task that died. */
static void settle(pid_t *left, size_t n)
{
    int64_t deadline = mono_ns() + (int64_t)SETTLE_MS * 1000000;
    for (;;) {
        int st;
        pid_t r = waitpid(-1, &st, __WALL | WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return;                         /* nothing is traced any more */
        if (r == 0) {
            if (n == 0 || mono_ns() > deadline)
                return;
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (WIFSTOPPED(st)) {
            int sig = (st >> 16) & 0xff ? 0 : WSTOPSIG(st);
            ptrace(PTRACE_DETACH, r, NULL, (void *)(intptr_t)sig);
        }
        for (size_t i = 0; i < n; i++)
            if (left[i] == r) {
                left[i] = left[--n];
                break;
            }
    }
}

/* Detaches every tracee.  One that cannot be detached now (it never
 * stopped, or it is the leader in another thread's body after an execve)
 * is interrupted, and detached at its stop; the dead are reaped. */
static bool detach_all(void)
{
    bool killed = false;
    pid_t *left = NULL;
    size_t nleft = 0, cap = 0;
    while (tracee_count() > 0) {
        size_t i = tracee_count() - 1;
        struct tracee tr = *tracee_at(i);
        if (ptrace(PTRACE_DETACH, tr.tid, NULL, (void *)(intptr_t)tr.sig) < 0) {
            /* A stopped task cannot go away on its own: only SIGKILL,
             * which takes the whole process, ends it. */
            if (errno == ESRCH && tr.stopped)
                killed = true;
            if (ptrace(PTRACE_INTERRUPT, tr.tid, NULL, NULL) == 0) {
                xgrow(&left, &cap, nleft + 1, sizeof *left);
                left[nleft++] = tr.tid;
            }
        }
        tracee_remove(i);
    }
    settle(left, nleft);
    free(left);
    return killed;
}

static void live_release(struct target *t)
{
    struct live *lv = t->priv;
    bool killed = detach_all();
    if (t->stopped)
        t->pause_ns = (uint64_t)(mono_ns() - lv->stop_t0);
    t->stopped = false;
    tracees_let_go();
    if (killed)
        t->exited = true;
}

/* Seizes tid: 1 when seized, 0 when it is gone or exiting (it is not part
 * of the snapshot), -1 with f filled. */
static int seize_task(struct target *t, pid_t tid, struct fail *f)
{
    if (tracee_seize(tid, SEIZE_OPTIONS) == 0)
        return 1;
    int e = errno;
    long tracer = status_field(t->pid, tid, "TracerPid");
    if (tracer > 0 && tracer != getpid())
        return traced_fail(t, (pid_t)tracer, f);
    if (e == ESRCH || task_exiting(t->pid, tid))
        return 0;
    if (e == EPERM || e == EACCES)
        return permission_fail(t, "attach", ACCESS_ATTACH, e, f);
    return fail_set(f, "PID %d (%s): cannot attach to thread %d: %s", (int)t->pid, t->name,
                    (int)tid, strerror(e));
}

/* Seizes every task of the listing not seized yet; returns how many. */
static int seize_new(struct target *t, const pid_t *tids, size_t n, size_t *cap,
                     struct fail *f)
{
    int nnew = 0;
    for (size_t i = 0; i < n; i++) {
        struct target_thread th;
        memset(&th, 0, sizeof th);
        th.tid = tids[i];
        if (tracee_index(th.tid) >= 0 || read_task_stat(t->pid, th.tid, th.name, &th.state) < 0)
            continue;
        int r = seize_task(t, th.tid, f);
        if (r < 0)
            return -1;
        if (r > 0) {
            tracee_add(th.tid);
            xgrow(&t->threads, cap, t->nthreads + 1, sizeof *t->threads);
            t->threads[t->nthreads++] = th;
            nnew++;
        }
        if (take_reaped(t, f) < 0)
            return -1;
    }
    return nnew;
}

/* Seizes, interrupts and waits for every task not seized yet; returns how
 * many were new, or -1. */
static int stop_round(struct target *t, size_t *cap, struct fail *f)
{
    struct live *lv = t->priv;
    pid_t *tids = NULL;
    size_t n = 0;
    if (task_ids(t->pid, &tids, &n) < 0) {
        int e = errno;
        free(tids);
        if (presence(t) != PRESENT)
            return departed_fail(t, f);
        return fail_set(f, "/proc/%d/task: %s", (int)t->pid, strerror(e));
    }
    int nnew = seize_new(t, tids, n, cap, f);
    free(tids);
    if (nnew < 0)
        return -1;
    if (nnew > 0 && !t->stopped) {
        lv->stop_t0 = mono_ns();
        t->stopped = true;
    }
    for (size_t i = 0; i < tracee_count(); i++)
        if (!tracee_at(i)->stopped)
            ptrace(PTRACE_INTERRUPT, tracee_at(i)->tid, NULL, NULL);
    return wait_stops(t, f) < 0 ? -1 : nnew;
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
    lv->doomed = false;
    tracees_hold(t->pid);
    for (;;) {
        int r = stop_round(t, &cap, f);
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
        return departed_fail(t, f);
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
    if (t->nthreads)        /* every task gone: t->threads is NULL */
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

/* (Re)reads the mappings; during a stop, they must still be those of the
 * image opened. */
static int live_mappings(struct target *t, struct fail *f)
{
    struct live *lv = t->priv;
    struct procmaps m;
    if (procmaps_read(t->pid, &m, f) < 0)
        return lv->opened && presence(t) != PRESENT ? departed_fail(t, f) : -1;
    struct image im = image_of(&m, t->exe);
    procmaps_free(&t->maps);
    t->maps = m;
    if (!lv->opened) {
        lv->image = im;
        lv->opened = true;
    } else if (!same_image(im, lv->image)) {
        return exec_fail(t, f);
    }
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

/* Does path name the mapped file: the same inode of the same device?  An
 * inode number alone is not enough: two file systems (two tmpfs mounts in
 * two mount namespaces) number their files alike. */
static bool same_file(const char *path, const struct file_ref *r)
{
    struct stat st;
    return stat(path, &st) == 0 && (uint64_t)st.st_ino == r->inode &&
           major(st.st_dev) == r->dev_major && minor(st.st_dev) == r->dev_minor;
}

/* The mapped file: by its path while that is still the file (same device
 * and inode),
 * through /proc/PID/root (another mount namespace), or as the mapping
 * itself in /proc/PID/map_files (also a deleted file). */
static size_t live_file_paths(struct target *t, const struct file_ref *r, char (*out)[4200])
{
    size_t n = 0;
    snprintf(out[n], sizeof out[n], "%s", r->path);
    n += same_file(out[n], r);
    snprintf(out[n], sizeof out[n], "/proc/%d/root%s", (int)t->pid, r->path);
    n += same_file(out[n], r);
    snprintf(out[n], sizeof out[n], "/proc/%d/map_files/%llx-%llx", (int)t->pid,
             (unsigned long long)r->start, (unsigned long long)r->end);
    n += same_file(out[n], r);
    return n;
}

static const struct target_ops live_ops = {
    .kind = "process",
    .stop = live_stop,
    .release = live_release,
    .read = live_read,
    .read_ranges = live_read_ranges,
    .threads = live_threads,
    .mappings = live_mappings,
    .changed = live_changed,
    .file_paths = live_file_paths,
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

/* Its main thread has exited: the whole process, or only that thread
 * while the others run (the main thread of a process in execve dies, and
 * the caller of execve then takes its place). */
static int zombie_fail(struct target *t, struct fail *f)
{
    char name[16], state;
    long threads = status_field(t->pid, 0, "Threads");
    if (read_task_stat(t->pid, 0, name, &state) == 0 && (threads > 1 || state != 'Z'))
        return fail_set(f, "PID %d (%s): its main thread has exited while other threads run: "
                           "an execve is under way (attach again), or the main thread called "
                           "pthread_exit, which goinspect does not support", (int)t->pid,
                        t->name);
    return fail_set(f, "PID %d (%s) is a zombie: it has exited and waits for its parent to "
                       "collect its status; there is nothing left to inspect", (int)t->pid,
                    t->name);
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
    snprintf(t->what, sizeof t->what, "PID %d (%s)", (int)pid, t->name);
    if (state == 'Z') {
        int rc = zombie_fail(t, f);
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
        else if (e == ENOENT && read_task_stat(pid, 0, t->name, &state) == 0 && state == 'Z')
            rc = zombie_fail(t, f);
        else if (e == ENOENT && kernel_thread(pid))
            rc = fail_set(f, "PID %d (%s) is a kernel thread: it has no program to inspect",
                          (int)pid, t->name);
        else if (e == ENOENT)     /* its memory is gone or being replaced */
            rc = fail_set(f, "PID %d (%s) has no executable just now: it is exiting, or an "
                             "execve is under way; attach again", (int)pid, t->name);
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
    if (t->maps.n == 0) {
        /* the old image is gone, the new one not mapped yet */
        int rc = fail_set(f, "PID %d (%s) has no mappings: an execve is under way; attach "
                             "again", (int)pid, t->name);
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
