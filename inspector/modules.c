/*
 * modules.c — executable and shared objects from the mappings.
 *
 * A module is every mapping of one file (same path and inode).  It is
 * opened with libgidwarf the first time an address in it is looked up:
 * goroutines parked in the runtime never open libc.  The file is opened by
 * its path when that is still the mapped file (same device and inode),
 * else through
 * /proc/PID/root or /proc/PID/map_files (another mount namespace, a deleted
 * file).
 */
#include "modules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fail.h"

static bool is_system_path(const char *p)
{
    static const char *const dirs[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
                                       "/lib32/", "/usr/lib32/"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (strncmp(p, dirs[i], strlen(dirs[i])) == 0)
            return true;
    return false;
}

static int cmp_range(const void *a, const void *b)
{
    const struct modrange *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static bool file_mapping(const struct mapping *m)
{
    return m->path[0] == '/' && m->inode != 0;
}

void modules_build(struct modules *ms, const struct procmaps *maps, pid_t pid,
                   const char *exe_path, const char *exe_open, struct modules *prev,
                   const struct gd_open_options *oo)
{
    memset(ms, 0, sizeof *ms);
    ms->pid = pid;
    ms->open_opts = oo;
    ms->exe = -1;
    size_t cap = 0, rcap = 0;
    for (size_t i = 0; i < maps->n; i++) {
        const struct mapping *mp = &maps->v[i];
        if (!file_mapping(mp))
            continue;
        size_t k;
        for (k = 0; k < ms->n; k++)
            if (ms->v[k].inode == mp->inode && ms->v[k].dev_major == mp->dev_major &&
                ms->v[k].dev_minor == mp->dev_minor && strcmp(ms->v[k].path, mp->path) == 0)
                break;
        if (k == ms->n) {
            xgrow(&ms->v, &cap, ms->n + 1, sizeof *ms->v);
            struct module *m = &ms->v[ms->n++];
            memset(m, 0, sizeof *m);
            m->path = xstrdup(mp->path);
            const char *slash = strrchr(m->path, '/');
            m->base = slash ? slash + 1 : m->path;
            m->inode = mp->inode;
            m->dev_major = mp->dev_major;
            m->dev_minor = mp->dev_minor;
            m->lo = mp->start;
            m->hi = mp->end;
            m->map_start = mp->start;
            m->map_offset = mp->offset;
            m->is_exe = strcmp(mp->path, exe_path) == 0;
            m->system = !m->is_exe && is_system_path(m->path);
            if (m->is_exe && ms->exe < 0)
                ms->exe = (int)k;
        } else {
            struct module *m = &ms->v[k];
            if (mp->start < m->lo)
                m->lo = mp->start;
            if (mp->end > m->hi)
                m->hi = mp->end;
            if (mp->offset < m->map_offset) {
                m->map_offset = mp->offset;
                m->map_start = mp->start;
            }
        }
        xgrow(&ms->ranges, &rcap, ms->nranges + 1, sizeof *ms->ranges);
        ms->ranges[ms->nranges++] = (struct modrange){mp->start, mp->end, (uint32_t)k};
    }
    if (ms->nranges)        /* no file mapped (between two images in execve): NULL */
        qsort(ms->ranges, ms->nranges, sizeof *ms->ranges, cmp_range);
    if (ms->exe >= 0 && exe_open)
        ms->v[ms->exe].open_path = xstrdup(exe_open);
    for (size_t k = 0; prev && k < ms->n; k++)
        for (size_t j = 0; j < prev->n; j++) {
            struct module *a = &ms->v[k], *b = &prev->v[j];
            if (b->bin && a->inode == b->inode && a->map_start == b->map_start &&
                strcmp(a->path, b->path) == 0) {
                a->bin = b->bin;
                a->bias = b->bias;
                a->tried = true;
                b->bin = NULL;
            }
        }
    if (prev) {
        ms->rt_text_lo = prev->rt_text_lo;
        ms->rt_text_hi = prev->rt_text_hi;
        modules_free(prev);
    }
}

void modules_free(struct modules *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        if (ms->v[i].bin)
            gd_close(ms->v[i].bin);
        free(ms->v[i].path);
        free(ms->v[i].open_path);
        free(ms->v[i].error);
        free(ms->v[i].image);
    }
    free(ms->v);
    free(ms->ranges);
    memset(ms, 0, sizeof *ms);
    ms->exe = -1;
}

void modules_add_image(struct modules *ms, const char *name, uint64_t start, uint64_t end,
                       uint8_t *image, size_t size)
{
    ms->v = xrealloc(ms->v, (ms->n + 1) * sizeof *ms->v);
    struct module *m = &ms->v[ms->n];
    memset(m, 0, sizeof *m);
    m->path = xstrdup(name);
    m->base = m->path;
    m->lo = m->map_start = start;
    m->hi = end;
    m->system = true;           /* the kernel's code ([vdso]), as libc is the system's */
    m->image = image;
    m->image_size = size;
    ms->ranges = xrealloc(ms->ranges, (ms->nranges + 1) * sizeof *ms->ranges);
    ms->ranges[ms->nranges++] = (struct modrange){start, end, (uint32_t)ms->n};
    ms->n++;
    qsort(ms->ranges, ms->nranges, sizeof *ms->ranges, cmp_range);
}

struct module *modules_find(struct modules *ms, uint64_t addr)
{
    size_t lo = 0, hi = ms->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ms->ranges[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ms->nranges && ms->ranges[lo].start <= addr && addr < ms->ranges[lo].end)
        return &ms->v[ms->ranges[lo].mod];
    return NULL;
}

/* Does path name the mapped file: the same inode of the same device?  An
 * inode number alone is not enough: two file systems (two tmpfs mounts in
 * two mount namespaces) number their files alike. */
static bool same_file(const char *path, const struct module *m)
{
    struct stat st;
    return stat(path, &st) == 0 && (uint64_t)st.st_ino == m->inode &&
           major(st.st_dev) == m->dev_major && minor(st.st_dev) == m->dev_minor;
}

static bool try_open(const struct modules *ms, struct module *m, const char *path,
                     struct gd_error *err)
{
    if (!same_file(path, m))
        return false;
    return gd_open(path, ms->open_opts, &m->bin, err) == GD_OK;
}

static gd_binary *open_image(struct modules *ms, struct module *m)
{
    if (m->tried)
        return m->bin;
    m->tried = true;
    struct gd_error err = {0, ""};
    if (gd_open_image(m->path, m->image, m->image_size, ms->open_opts, &m->bin, &err) != GD_OK ||
        gd_load_bias(m->bin, m->map_start, 0, &m->bias) != GD_OK) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: its image has no loadable segment", m->path);
        m->error = xstrdup(err.msg[0] ? err.msg : msg);
        gd_close(m->bin);
        m->bin = NULL;
    }
    return m->bin;
}

gd_binary *module_binary(struct modules *ms, struct module *m)
{
    if (m->image)
        return open_image(ms, m);
    if (m->tried)
        return m->bin;
    m->tried = true;
    struct gd_error err = {0, ""};
    char alt[4200];
    bool ok = false;
    if (m->open_path)
        ok = try_open(ms, m, m->open_path, &err);
    if (!ok && !err.msg[0])
        ok = try_open(ms, m, m->path, &err);
    if (!ok && !err.msg[0]) {
        snprintf(alt, sizeof alt, "/proc/%d/root%s", (int)ms->pid, m->path);
        ok = try_open(ms, m, alt, &err);
    }
    if (!ok && !err.msg[0]) {
        /* map_files names each mapping: the one at map_start */
        alt[0] = 0;
        for (size_t i = 0; i < ms->nranges; i++)
            if (ms->ranges[i].start == m->map_start) {
                snprintf(alt, sizeof alt, "/proc/%d/map_files/%llx-%llx", (int)ms->pid,
                         (unsigned long long)ms->ranges[i].start,
                         (unsigned long long)ms->ranges[i].end);
                break;
            }
        ok = try_open(ms, m, alt, &err);
    }
    if (!ok) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: %s", m->path,
                 err.msg[0] ? err.msg : "the mapped file cannot be opened");
        m->error = xstrdup(msg);
        m->bin = NULL;
        return NULL;
    }
    if (gd_load_bias(m->bin, m->map_start, m->map_offset, &m->bias) != GD_OK)
        m->bias = 0;
    return m->bin;
}
