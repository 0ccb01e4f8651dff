/*
 * dumpfilter.c — what a core holds of each mapping (dumpfilter.h).
 *
 * An entry of smaps is the mapping's maps line followed by "Key:  value"
 * lines; the rules read three of them: Anonymous and Swap (private memory
 * the process wrote: the kernel's "has an anon_vma") and VmFlags.
 */
#include "dumpfilter.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsearch.h"
#include "pagemap.h"

enum {
    F_ANON_PRIVATE = 1 << 0,
    F_ANON_SHARED = 1 << 1,
    F_MAPPED_PRIVATE = 1 << 2,
    F_MAPPED_SHARED = 1 << 3,
    F_ELF_HEADERS = 1 << 4,
    F_HUGETLB_PRIVATE = 1 << 5,
    F_HUGETLB_SHARED = 1 << 6,
};

static unsigned read_filter(pid_t pid)
{
    char path[64], *text;
    snprintf(path, sizeof path, "/proc/%d/coredump_filter", (int)pid);
    if (read_small_file(path, &text) < 0)
        return DUMP_FILTER_DEFAULT;
    char *end;
    unsigned long v = strtoul(text, &end, 16);
    free(text);
    return end == text ? DUMP_FILTER_DEFAULT : (unsigned)v;
}

static unsigned parse_vmflags(const char *s)
{
    unsigned v = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e - p == 2) {
            if (!strncmp(p, "dd", 2))
                v |= VMF_DONTDUMP;
            else if (!strncmp(p, "io", 2) || !strncmp(p, "pf", 2))
                v |= VMF_IO;
            else if (!strncmp(p, "ht", 2))
                v |= VMF_HUGETLB;
        }
        p = e;
    }
    return v;
}

/* A "Key:   value kB" line of an entry. */
static void key_line(struct dump_map *d, const char *line)
{
    if (!strncmp(line, "Anonymous:", 10) || !strncmp(line, "Swap:", 5)) {
        if (strtoull(strchr(line, ':') + 1, NULL, 10) > 0)
            d->written = true;
    } else if (!strncmp(line, "VmFlags:", 8)) {
        d->vmflags = parse_vmflags(line + 8);
    }
}

/* The kernel's special mappings, which every core holds whole (what
 * cannot be read of them, such as [vvar], is zeros). */
static bool is_special(const struct mapping *m)
{
    static const char *const names[] = {"[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]",
                                        "[uprobes]"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(m->path, names[i]) == 0)
            return true;
    return false;
}

/* Whether the mapping starts with an ELF header (the kernel reads the
 * same four bytes of memory). */
static bool elf_at(struct target *t, uint64_t addr)
{
    char magic[SELFMAG];
    return target_read(t, addr, magic, SELFMAG) == SELFMAG && memcmp(magic, ELFMAG, SELFMAG) == 0;
}

/* How many bytes from the start of d the core holds. */
static uint64_t dump_size(struct target *t, const struct dump_map *d, unsigned filter, bool all)
{
    const struct mapping *m = &d->m;
    uint64_t whole = m->end - m->start;
    if (is_special(m))
        return whole;
    if (!mapping_readable(m) || (d->vmflags & VMF_IO))
        return 0;
    if (all)
        return whole;
    if (d->vmflags & VMF_DONTDUMP)
        return 0;
    bool shared = m->perms[3] == 's';
    if (d->vmflags & VMF_HUGETLB)
        return filter & (shared ? F_HUGETLB_SHARED : F_HUGETLB_PRIVATE) ? whole : 0;
    if (shared)   /* memory of a deleted file (memfd, SysV, /dev/zero) is anonymous */
        return filter & (m->deleted ? F_ANON_SHARED : F_MAPPED_SHARED) ? whole : 0;
    if (d->written && (filter & F_ANON_PRIVATE))
        return whole;
    if (!d->file)
        return 0;
    if (filter & F_MAPPED_PRIVATE)
        return whole;
    if ((filter & F_ELF_HEADERS) && m->offset == 0 && elf_at(t, m->start))
        return whole < PM_PAGE ? whole : PM_PAGE;
    return 0;
}

void dump_map_decide(struct target *t, const struct dump_plan *p, struct dump_map *d)
{
    unsigned filter = p->filter;
    bool all = p->all;
    const struct mapping *m = &d->m;
    d->file = (m->inode != 0 || m->dev_major != 0 || m->dev_minor != 0) && m->path[0] &&
              m->path[0] != '[';
    d->special = is_special(m);
    d->dump_len = dump_size(t, d, filter, all);
    /* Memory that is no file's (or a deleted file's shared memory): a
     * page that holds nothing is zeros.  A file's page may be read from
     * the file whether it is in memory or not. */
    d->present_only = (!d->file && !d->special) || (m->perms[3] == 's' && m->deleted);
}

int dump_plan_read(struct target *t, bool all, struct dump_plan *p, struct fail *f)
{
    memset(p, 0, sizeof *p);
    p->all = all;
    p->filter = read_filter(t->pid);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)t->pid);
    if (read_small_file(path, &p->text) < 0) {
        p->text = NULL;
        return fail_set(f, "%s: %s", path, strerror(errno));
    }
    size_t cap = 0;
    struct dump_map *cur = NULL;
    char *save = NULL;
    for (char *line = strtok_r(p->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] >= 'A' && line[0] <= 'Z') {
            if (cur)
                key_line(cur, line);
            continue;
        }
        xgrow(&p->v, &cap, p->n + 1, sizeof *p->v);
        cur = &p->v[p->n];
        memset(cur, 0, sizeof *cur);
        char *name;
        if (!procmaps_line(line, &cur->m, &name)) {
            int rc = fail_set(f, "%s: unexpected line '%.80s'", path, line);
            dump_plan_free(p);
            return rc;
        }
        cur->m.path = name;
        p->n++;
    }
    for (size_t i = 0; i < p->n; i++)
        dump_map_decide(t, p, &p->v[i]);
    return 0;
}

void dump_plan_free(struct dump_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].copied);
    free(p->v);
    free(p->text);
    memset(p, 0, sizeof *p);
}

struct dump_map *dump_plan_match(struct dump_plan *p, const struct mapping *m)
{
    size_t i = bsearch_upto(p->v, p->n, sizeof *p->v,
                            offsetof(struct dump_map, m) + offsetof(struct mapping, start),
                            m->start);
    if (i == 0)
        return NULL;
    struct dump_map *d = &p->v[i - 1];
    const struct mapping *o = &d->m;
    bool same = o->start == m->start && o->end == m->end && !strcmp(o->perms, m->perms) &&
                o->offset == m->offset && o->inode == m->inode &&
                o->dev_major == m->dev_major && o->dev_minor == m->dev_minor &&
                o->deleted == m->deleted && !strcmp(o->path, m->path);
    return same ? d : NULL;
}

void dump_map_name(const struct mapping *m, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", m->path, m->deleted ? " (deleted)" : "");
}
