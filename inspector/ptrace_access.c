/*
 * ptrace_access.c — why access to a process was refused (ptrace_access.h).
 */
#include "ptrace_access.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "procmaps.h"

enum { CAP_SYS_PTRACE_BIT = 19 };

/* Real, effective, saved and filesystem ids, from a "Uid:" or "Gid:" line. */
struct ids {
    long real, eff, saved, fs;
};

struct creds {
    struct ids uid, gid;
    unsigned long long cap_eff;
    bool known;
};

static const char *field(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; *line;) {
        if (strncmp(line, key, klen) == 0)
            return line + klen;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return NULL;
}

static bool parse_ids(const char *text, const char *key, struct ids *v)
{
    const char *p = field(text, key);
    return p && sscanf(p, "%ld %ld %ld %ld", &v->real, &v->eff, &v->saved, &v->fs) == 4;
}

static struct creds read_creds(const char *status_path)
{
    struct creds c;
    memset(&c, 0, sizeof c);
    char *text;
    if (read_small_file(status_path, &text) < 0)
        return c;
    const char *cap = field(text, "CapEff:");
    c.known = parse_ids(text, "Uid:", &c.uid) && parse_ids(text, "Gid:", &c.gid) && cap &&
              sscanf(cap, "%llx", &c.cap_eff) == 1;
    free(text);
    return c;
}

static bool same_ids(const struct ids *v)
{
    return v->real == v->eff && v->eff == v->saved;
}

static bool ids_match(long caller, const struct ids *target)
{
    return caller == target->real && caller == target->eff && caller == target->saved;
}

/* The kernel owns the files of a process that is not dumpable by root. */
static bool not_dumpable(pid_t pid, const struct creds *target)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (stat(path, &st) < 0)
        return false;
    return (long)st.st_uid != target->uid.eff || (long)st.st_gid != target->gid.eff;
}

static long yama_scope(void)
{
    char *text;
    if (read_small_file("/proc/sys/kernel/yama/ptrace_scope", &text) < 0)
        return -1;
    long scope = strtol(text, NULL, 10);
    free(text);
    return scope;
}

static void uid_refusal(const struct creds *t, long uid, long gid, char *why, size_t n)
{
    if (!same_ids(&t->uid) || !same_ids(&t->gid))
        snprintf(why, n, "the process runs with uids %ld/%ld/%ld and gids %ld/%ld/%ld "
                         "(real/effective/saved: it changed its credentials, as a set-user-ID "
                         "program does) and goinspect as uid %ld, gid %ld; ptrace needs all six "
                         "to be goinspect's own, or root (CAP_SYS_PTRACE)",
                 t->uid.real, t->uid.eff, t->uid.saved, t->gid.real, t->gid.eff, t->gid.saved,
                 uid, gid);
    else if (t->uid.real != uid)
        snprintf(why, n, "the process belongs to uid %ld and goinspect runs as uid %ld; a "
                         "process can be traced by its own user or by root (CAP_SYS_PTRACE)",
                 t->uid.real, uid);
    else
        snprintf(why, n, "the process runs as gid %ld and goinspect as gid %ld; a process can "
                         "be traced by a tracer of its own user and group, or by root "
                         "(CAP_SYS_PTRACE)", t->gid.real, gid);
}

/* Yama's rule, when it is the one that refuses; false when it allows. */
static bool yama_refusal(bool cap, char *why, size_t n)
{
    switch (yama_scope()) {
    case 1:
        if (cap)
            return false;
        snprintf(why, n, "kernel.yama.ptrace_scope is 1, so only a parent process may trace, "
                         "unless the tracer has CAP_SYS_PTRACE; run goinspect as root, or see "
                         "docs/guide.md");
        return true;
    case 2:
        if (cap)
            return false;
        snprintf(why, n, "kernel.yama.ptrace_scope is 2, so only a tracer with CAP_SYS_PTRACE "
                         "may attach; run goinspect as root");
        return true;
    case 3:
        snprintf(why, n, "kernel.yama.ptrace_scope is 3, so no process may be traced until the "
                         "next boot");
        return true;
    default:
        return false;
    }
}

void ptrace_refusal(pid_t pid, enum ptrace_access mode, char *why, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    struct creds self = read_creds("/proc/self/status"), t = read_creds(path);
    if (!self.known || !t.known) {
        snprintf(why, n, "its credentials cannot be read from %s", path);
        return;
    }
    bool cap = self.cap_eff >> CAP_SYS_PTRACE_BIT & 1;
    long uid = mode == ACCESS_ATTACH ? self.uid.real : self.uid.fs;
    long gid = mode == ACCESS_ATTACH ? self.gid.real : self.gid.fs;
    if (!cap && !(ids_match(uid, &t.uid) && ids_match(gid, &t.gid))) {
        uid_refusal(&t, uid, gid, why, n);
        return;
    }
    if (!cap && not_dumpable(pid, &t)) {
        snprintf(why, n, "the process is not dumpable (it called prctl(PR_SET_DUMPABLE, 0) "
                         "or changed its credentials): only a tracer with CAP_SYS_PTRACE, such "
                         "as root, may trace it, although it runs as goinspect's own uid %ld",
                 uid);
        return;
    }
    if (mode == ACCESS_ATTACH && yama_refusal(cap, why, n))
        return;
    snprintf(why, n, "%s, so a security module (SELinux, AppArmor) or a user namespace "
                     "refused it; see the audit log",
             cap ? "goinspect has CAP_SYS_PTRACE"
                 : "the uid, gid and dumpable rules and Yama allow it");
}
