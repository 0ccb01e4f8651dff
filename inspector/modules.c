/*
 * modules.c — executable and shared objects from the mappings.
 *
 * A module is every mapping of one file (same path and inode).  It is
 * opened with libgidwarf the first time an address in it is looked up:
 * goroutines parked in the runtime never open libc.  The target says which
 * paths open the mapped file (a live process's own file, by device and inode,
 * in another mount namespace or deleted; a core's from the sysroot); the file opened must
 * have the GNU build-id that the target's memory holds in the module's
 * first page (its ELF header and notes), when that page can be read.
 */
#include "modules.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "target.h"

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

void modules_build(struct modules *ms, struct target *t, struct modules *prev,
                   const struct gd_open_options *oo)
{
    const struct procmaps *maps = &t->maps;
    const char *exe_path = t->exe, *exe_open = t->exe_open[0] ? t->exe_open : NULL;
    memset(ms, 0, sizeof *ms);
    ms->t = t;
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

/* The GNU build-id in an ELF header at addr of the target's own memory
 * (the first page of a module, which the kernel's cores keep too; not the
 * file's page a core reader would fall back on): its notes, when they lie
 * in that page.  0 when there is none to be read. */
static size_t build_id_in_memory(struct target *t, uint64_t addr, uint8_t *id, size_t cap)
{
    enum { PAGE = 4096 };
    uint8_t page[PAGE];
    if (target_read_own(t, addr, page, PAGE) != PAGE)
        return 0;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)page;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
        eh->e_phoff > PAGE || eh->e_phnum > (PAGE - eh->e_phoff) / sizeof(Elf64_Phdr))
        return 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, page + eh->e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_NOTE || ph.p_offset > PAGE || ph.p_filesz > PAGE - ph.p_offset)
            continue;
        for (uint64_t off = ph.p_offset; off + 12 <= ph.p_offset + ph.p_filesz;) {
            Elf64_Nhdr nh;
            memcpy(&nh, page + off, sizeof nh);
            uint64_t name = off + 12, desc = name + ((nh.n_namesz + 3ull) & ~3ull);
            uint64_t next = desc + ((nh.n_descsz + 3ull) & ~3ull);
            if (next > ph.p_offset + ph.p_filesz)
                break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                memcmp(page + name, "GNU", 4) == 0 && nh.n_descsz <= cap) {
                memcpy(id, page + desc, nh.n_descsz);
                return nh.n_descsz;
            }
            off = next;
        }
    }
    return 0;
}

static void hex(char *out, const uint8_t *id, size_t n)
{
    for (size_t i = 0; i < n && i < 64; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
    out[2 * (n < 64 ? n : 64)] = 0;
}

/* Opens path for m; false with why in err (its own message, or the
 * build-id that differs from the one in memory). */
static bool try_open(struct modules *ms, struct module *m, const char *path, char *err,
                     size_t cap)
{
    struct gd_error e = {0, ""};
    if (gd_open(path, ms->open_opts, &m->bin, &e) != GD_OK) {
        snprintf(err, cap, "%s", e.msg);
        return false;
    }
    uint8_t want[64];
    size_t n = m->map_offset == 0 ? build_id_in_memory(ms->t, m->map_start, want, sizeof want) : 0;
    const struct gd_info *in = gd_info(m->bin);
    if (n && (in->build_id_len != n || memcmp(in->build_id, want, n) != 0)) {
        char a[130], b[130];
        hex(a, in->build_id, in->build_id_len);
        hex(b, want, n);
        snprintf(err, cap, "%.400s has build-id %s, but the process mapped a file with "
                 "build-id %s: not the same file", path, in->build_id ? a : "(none)", b);
        gd_close(m->bin);
        m->bin = NULL;
        return false;
    }
    return true;
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
    char err[800] = "", paths[TARGET_MAX_PATHS][4200];
    size_t n = 0;
    if (m->open_path)
        snprintf(paths[n++], sizeof paths[0], "%s", m->open_path);
    uint64_t end = m->map_start;
    for (size_t i = 0; i < ms->nranges; i++)
        if (ms->ranges[i].start == m->map_start)
            end = ms->ranges[i].end;
    struct file_ref r = {m->path, m->inode, m->dev_major, m->dev_minor, m->map_start, end};
    char more[TARGET_MAX_PATHS][4200];
    size_t k = target_file_paths(ms->t, &r, more);
    for (size_t i = 0; i < k && n < TARGET_MAX_PATHS; i++)
        memcpy(paths[n++], more[i], sizeof paths[0]);
    bool ok = false;
    for (size_t i = 0; i < n && !ok; i++)
        ok = try_open(ms, m, paths[i], err, sizeof err);
    if (!ok) {
        char msg[1100];
        snprintf(msg, sizeof msg, "%.200s: %s", m->path,
                 err[0] ? err : "the mapped file cannot be opened");
        m->error = xstrdup(msg);
        m->bin = NULL;
        return NULL;
    }
    if (gd_load_bias(m->bin, m->map_start, m->map_offset, &m->bias) != GD_OK)
        m->bias = 0;
    return m->bin;
}
