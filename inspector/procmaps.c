/*
 * procmaps.c — parsing /proc/PID/maps.
 *
 *   55d0c1a00000-55d0c1a02000 r--p 00000000 08:01 1048602   /usr/bin/prog
 */
#include "procmaps.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bsearch.h"

#define DELETED_SUFFIX " (deleted)"

ssize_t read_small_file(const char *path, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t cap = 16384, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            free(buf);
            errno = e;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    *out = buf;
    return (ssize_t)len;
}

bool procmaps_line(char *line, struct mapping *m, char **path)
{
    char perms[8];
    unsigned long long start, end, off, inode;
    unsigned maj, min;
    int pos = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
               &inode, &pos) < 7 || end < start || strlen(perms) != 4)
        return false;
    m->start = start;
    m->end = end;
    m->offset = off;
    memcpy(m->perms, perms, 5);
    m->dev_major = maj;
    m->dev_minor = min;
    m->inode = inode;
    char *p = line + pos;
    size_t plen = strlen(p);
    m->deleted = false;
    if (plen > strlen(DELETED_SUFFIX) &&
        strcmp(p + plen - strlen(DELETED_SUFFIX), DELETED_SUFFIX) == 0) {
        p[plen - strlen(DELETED_SUFFIX)] = 0;
        m->deleted = true;
    }
    *path = p;
    return true;
}

int procmaps_parse(const char *text, size_t len, struct procmaps *out, struct fail *f)
{
    memset(out, 0, sizeof *out);
    out->strings = xmalloc(len + 1);
    memcpy(out->strings, text, len);
    out->strings[len] = 0;
    size_t cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(out->strings, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        struct mapping m;
        char *path;
        if (!procmaps_line(line, &m, &path)) {
            procmaps_free(out);
            return fail_set(f, "unexpected line in the maps: '%.80s'", line);
        }
        m.path = path;     /* points into strings */
        xgrow(&out->v, &cap, out->n + 1, sizeof *out->v);
        out->v[out->n++] = m;
    }
    for (size_t i = 1; i < out->n; i++)
        if (out->v[i].start < out->v[i - 1].end) {
            procmaps_free(out);
            return fail_set(f, "the maps are not sorted or overlap");
        }
    return 0;
}

int procmaps_read(pid_t pid, struct procmaps *out, struct fail *f)
{
    char path[64], *text;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    ssize_t n = read_small_file(path, &text);
    if (n < 0) {
        int e = errno;
        fail_set(f, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    int rc = procmaps_parse(text, (size_t)n, out, f);
    free(text);
    if (rc < 0)
        return fail_wrap(f, "%s", path);
    return 0;
}

void procmaps_free(struct procmaps *m)
{
    free(m->v);
    free(m->strings);
    memset(m, 0, sizeof *m);
}

const struct mapping *procmaps_find(const struct procmaps *m, uint64_t addr)
{
    size_t lo = bsearch_upto(m->v, m->n, sizeof *m->v, offsetof(struct mapping, end), addr);
    if (lo < m->n && m->v[lo].start <= addr && addr < m->v[lo].end)
        return &m->v[lo];
    return NULL;
}
