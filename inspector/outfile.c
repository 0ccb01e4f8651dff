/*
 * outfile.c — a file named only when complete (outfile.h).
 */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MODE = 0600 };       /* a core holds the process's memory: the kernel's mode */

/* The partial file's name, for the signal handler. */
static char signal_path[4200];
static volatile sig_atomic_t signal_path_set;

void outfile_on_signal(void)
{
    if (signal_path_set)
        unlink(signal_path);
}

static void set_signal_path(const char *p)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    signal_path_set = 0;
    if (p)
        snprintf(signal_path, sizeof signal_path, "%s", p);
    signal_path_set = p != NULL;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int outfile_write(int fd, const void *p, size_t n, uint64_t off, struct fail *f)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, b, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail_set(f, "%s", w < 0 ? strerror(errno) : "short write");
        b += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int exists_fail(const struct outfile *o, struct fail *f)
{
    return fail_set(f, "%s: the file exists (goinspect gcore replaces a file only with --force)",
                    o->path);
}

/* What is at path now: nothing, a regular file (which only force may
 * replace), or something else. */
static int check_path(const struct outfile *o, struct fail *f)
{
    struct stat st;
    if (lstat(o->path, &st) < 0)
        return errno == ENOENT ? 0 : fail_set(f, "%s: %s", o->path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail_set(f, "%s: is a directory", o->path);
    if (!S_ISREG(st.st_mode))
        return fail_set(f, "%s: exists and is not a regular file", o->path);
    return o->force ? 0 : exists_fail(o, f);
}

int outfile_create(struct outfile *o, const char *path, bool force, struct fail *f)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->force = force;
    if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path)
        return fail_set(f, "%.80s...: the name is too long", path);
    if (check_path(o, f) < 0)
        return -1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    o->fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, MODE);
    if (o->fd >= 0)
        return 0;
    int e = errno;
    if (e != EOPNOTSUPP && e != EISDIR && e != EINVAL)
        return fail_set(f, "%s: %s", path, strerror(e));
    /* no O_TMPFILE here */
    o->partial = true;
    snprintf(o->partial_path, sizeof o->partial_path, "%s.partial.%d", path, (int)getpid());
    set_signal_path(o->partial_path);
    o->fd = open(o->partial_path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, MODE);
    if (o->fd < 0) {
        e = errno;
        set_signal_path(NULL);
        return fail_set(f, "%s: %s", o->partial_path, strerror(e));
    }
    return 0;
}

/* Links the nameless file as name. */
static int link_as(const struct outfile *o, const char *name)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", o->fd);
    return linkat(AT_FDCWD, self, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

static int commit_nameless(struct outfile *o, struct fail *f)
{
    if (link_as(o, o->path) == 0)
        return 0;
    if (errno != EEXIST || !o->force)
        return errno == EEXIST ? exists_fail(o, f) : fail_set(f, "%s: %s", o->path, strerror(errno));
    /* replace it in one step: link beside it, rename over it */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.new.%d", o->path, (int)getpid());
    set_signal_path(tmp);
    if (link_as(o, tmp) < 0 || rename(tmp, o->path) < 0) {
        int e = errno;
        unlink(tmp);
        set_signal_path(NULL);
        return fail_set(f, "%s: %s", o->path, strerror(e));
    }
    set_signal_path(NULL);
    return 0;
}

static int commit_partial(struct outfile *o, struct fail *f)
{
    if (!o->force) {
        /* not over a file made meanwhile */
        if (link(o->partial_path, o->path) == 0) {
            unlink(o->partial_path);
            set_signal_path(NULL);
            return 0;
        }
        if (errno == EEXIST)
            return exists_fail(o, f);
        /* a file system without hard links */
        struct stat st;
        if (lstat(o->path, &st) == 0)
            return exists_fail(o, f);
    }
    if (rename(o->partial_path, o->path) < 0)
        return fail_set(f, "%s: %s", o->path, strerror(errno));
    set_signal_path(NULL);
    return 0;
}

int outfile_commit(struct outfile *o, struct fail *f)
{
    int fd = o->fd;
    if (o->partial) {
        o->fd = -1;
        if (close(fd) < 0)
            return fail_set(f, "%s: %s", o->partial_path, strerror(errno));
        return commit_partial(o, f);
    }
    if (commit_nameless(o, f) < 0)
        return -1;
    o->fd = -1;
    if (close(fd) < 0) {
        /* its last bytes may not have been written */
        int e = errno;
        unlink(o->path);
        return fail_set(f, "%s: %s", o->path, strerror(e));
    }
    return 0;
}

void outfile_discard(struct outfile *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    if (o->partial) {
        unlink(o->partial_path);
        set_signal_path(NULL);
        o->partial = false;
    }
}
