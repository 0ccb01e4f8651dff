/*
 * procnotes.c — facts of a live process for a core's notes (procnotes.h).
 */
#include "procnotes.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include "procmaps.h"

enum { XSTATE_MAX = 64 << 10 };

static uint64_t ticks_us(unsigned long long ticks)
{
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? ticks * 1000000ull / (unsigned long long)hz : 0;
}

/* The fields after "(comm)" of a stat file. */
static char *stat_rest(const char *path, char **text)
{
    if (read_small_file(path, text) < 0)
        return NULL;
    char *r = strrchr(*text, ')');
    if (!r || r[1] != ' ') {
        free(*text);
        return NULL;
    }
    return r + 2;
}

/* The value of "Key:" in a status file, or NULL. */
static const char *status_value(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *l = text; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, k) && l[k] == ':')
            return l + k + 1;
    return NULL;
}

/* The command line, its NULs as spaces, truncated as the kernel does. */
static void psargs(pid_t pid, char *out, size_t len)
{
    char path[64], *text;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    out[0] = 0;
    ssize_t n = read_small_file(path, &text);
    if (n < 0)
        return;
    size_t k = (size_t)n < len - 1 ? (size_t)n : len - 1;
    for (size_t i = 0; i < k; i++)
        out[i] = text[i] ? text[i] : ' ';
    out[k] = 0;
    free(text);
}

int procnotes_process(pid_t pid, struct cw_process *p, char **auxv, struct fail *f)
{
    memset(p, 0, sizeof *p);
    p->pid = pid;
    char path[64], *text;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *rest = stat_rest(path, &text);
    if (!rest)
        return fail_set(f, "%s: %s", path, strerror(errno ? errno : EINVAL));
    unsigned long long flags = 0, ut = 0, st = 0, cut = 0, cst = 0;
    char state = 0;
    if (sscanf(rest, "%c %d %d %d %*d %*d %llu %*u %*u %*u %*u %llu %llu %llu %llu %*d %d",
               &state, &p->ppid, &p->pgrp, &p->sid, &flags, &ut, &st, &cut, &cst,
               &p->nice) != 10) {
        free(text);
        return fail_set(f, "%s: unexpected contents", path);
    }
    char *l = strchr(text, '(');
    if (l && l < rest) {
        size_t k = (size_t)(rest - 2 - (l + 1));
        memcpy(p->fname, l + 1, k < 15 ? k : 15);
    }
    free(text);
    p->state = state;
    p->flags = flags;
    p->cutime_us = ticks_us(cut);
    p->cstime_us = ticks_us(cst);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_small_file(path, &text) >= 0) {
        const char *u = status_value(text, "Uid"), *g = status_value(text, "Gid");
        p->uid = u ? (uint32_t)strtoul(u, NULL, 10) : 0;
        p->gid = g ? (uint32_t)strtoul(g, NULL, 10) : 0;
        free(text);
    }
    psargs(pid, p->psargs, sizeof p->psargs);
    snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
    ssize_t n = read_small_file(path, auxv);
    if (n < 0)
        return fail_set(f, "%s: %s", path, strerror(errno));
    p->auxv = *auxv;
    p->auxv_len = (size_t)n;
    return 0;
}

/* Floating-point and vector registers of a stopped thread. */
static void vector_regs(struct cw_thread *c, void *scratch)
{
    struct user_fpregs_struct fp;
    if (ptrace(PTRACE_GETFPREGS, c->tid, NULL, &fp) == 0) {
        memcpy(c->fp, &fp, sizeof c->fp);
        c->has_fp = true;
    }
    struct iovec iov = {scratch, XSTATE_MAX};
    if (ptrace(PTRACE_GETREGSET, c->tid, (void *)(uintptr_t)NT_X86_XSTATE, &iov) == 0 &&
        iov.iov_len > 0) {
        c->xstate = xmalloc(iov.iov_len);
        memcpy(c->xstate, scratch, iov.iov_len);
        c->xstate_len = iov.iov_len;
    }
}

struct cw_thread *procnotes_threads(const struct target *t, size_t *n)
{
    struct cw_thread *v = xcalloc(t->nthreads ? t->nthreads : 1, sizeof *v);
    void *scratch = xmalloc(XSTATE_MAX);
    size_t k = 0;
    /* the main thread first, the others by tid */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < t->nthreads; i++) {
            const struct target_thread *th = &t->threads[i];
            if ((th->tid == t->pid) != (pass == 0))
                continue;
            struct cw_thread *c = &v[k++];
            c->tid = th->tid;
            memcpy(c->name, th->name, sizeof c->name);
            c->state = th->state;
            c->has_regs = th->has_regs && th->regs.full;
            c->regs = th->regs;
            vector_regs(c, scratch);
        }
    free(scratch);
    *n = k;
    return v;
}

static uint64_t hex_value(const char *text, const char *key)
{
    const char *v = status_value(text, key);
    return v ? strtoull(v, NULL, 16) : 0;
}

void procnotes_thread_times(pid_t pid, struct cw_thread *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cw_thread *c = &v[i];
        char path[80], *text;
        /* the main thread's times are the whole process's, as the kernel
         * writes them */
        if (c->tid == pid)
            snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        else
            snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)c->tid);
        char *rest = stat_rest(path, &text);
        if (rest) {
            unsigned long long ut, st;
            if (sscanf(rest, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                       &st) == 2) {
                c->utime_us = ticks_us(ut);
                c->stime_us = ticks_us(st);
            }
            free(text);
        }
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)c->tid);
        if (read_small_file(path, &text) >= 0) {
            c->sigpend = hex_value(text, "SigPnd");
            c->sighold = hex_value(text, "SigBlk");
            free(text);
        }
    }
}

void procnotes_free(struct cw_thread *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].xstate);
    free(v);
}
