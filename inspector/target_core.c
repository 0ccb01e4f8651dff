/*
 * target_core.c — the core-file backend of target.h.
 *
 * A core is a process stopped for good: stop and release do nothing, the
 * threads and their registers come from its NT_PRSTATUS notes, the
 * mappings from its PT_LOAD segments named by its NT_FILE note.  Memory is
 * read from the core's segments; memory the core omits (a file mapping the
 * dump filter left out, such as the executable's text, or the part of a
 * segment past its p_filesz) is read from the mapped file at the NT_FILE
 * offset, as elfutils does; memory in neither is unavailable (a short
 * read), never zeros.  The files are found under --sysroot when it is
 * given, else where the core names them; each must have the build-id the
 * core's memory holds (modules.c checks).
 */
#include "target.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corefile.h"
#include "signames.h"

#ifndef AT_ENTRY
#define AT_ENTRY 9
#endif
#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif
#ifndef AT_SYSINFO_EHDR
#define AT_SYSINFO_EHDR 33
#endif

struct mapped_file {            /* a file of NT_FILE, opened on first read */
    const char *path;           /* as the core names it */
    int fd;                     /* -1: not opened yet or cannot be */
    bool tried;
};

struct core {
    struct corefile c;
    struct core_options o;
    char *sysroot;
    char *exe_file;             /* --exe: the file to read the executable from */
    struct mapped_file *files;  /* one per distinct NT_FILE path */
    size_t nfiles;
    uint32_t *file_of;          /* per NT_FILE entry: index in files */
};

/* ---- Files ---------------------------------------------------------------------- */

/* Where the core's file path is on this machine: under the sysroot when
 * there is one. */
static void local_path(const struct core *k, const char *path, char *out, size_t cap)
{
    if (k->sysroot)
        snprintf(out, cap, "%s%s", k->sysroot, path);
    else
        snprintf(out, cap, "%s", path);
}

static bool regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static size_t core_file_paths(struct target *t, const struct file_ref *r, char (*out)[4200])
{
    const struct core *k = t->priv;
    size_t n = 0;
    if (k->exe_file && strcmp(r->path, t->exe) == 0)
        return 0;               /* --exe is the executable, or nothing is */
    local_path(k, r->path, out[n], sizeof out[n]);
    n += regular(out[n]);
    if (k->sysroot) {           /* a file the sysroot lacks, as this machine has it */
        snprintf(out[n], sizeof out[n], "%s", r->path);
        n += regular(out[n]);
    }
    return n;
}

static int file_fd(struct core *k, const char *exe_name, uint32_t i)
{
    struct mapped_file *mf = &k->files[i];
    if (!mf->tried) {
        mf->tried = true;
        char path[4200];
        if (k->exe_file && strcmp(mf->path, exe_name) == 0)
            snprintf(path, sizeof path, "%s", k->exe_file);
        else
            local_path(k, mf->path, path, sizeof path);
        if (regular(path))
            mf->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    }
    return mf->fd;
}

/* ---- Memory ----------------------------------------------------------------------- */

/* Bytes at addr that the mapped file holds (where the core has no copy):
 * up to the end of the NT_FILE entry and of the file. */
static size_t read_from_file(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct core *k = t->priv;
    const struct core_fmap *m = corefile_file_at(&k->c, addr);
    if (!m)
        return 0;
    int fd = file_fd(k, t->exe, k->file_of[m - k->c.files]);
    if (fd < 0)
        return 0;
    if (len > m->end - addr)
        len = (size_t)(m->end - addr);
    ssize_t n = pread(fd, buf, len, (off_t)(m->offset + (addr - m->start)));
    return n > 0 ? (size_t)n : 0;
}

static size_t core_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct core *k = t->priv;
    size_t done = 0;
    while (done < len) {
        uint64_t a = addr + done;
        size_t n = corefile_read(&k->c, a, (char *)buf + done, len - done);
        if (n == 0) {
            /* not in the core: its file, up to where the core resumes */
            size_t want = len - done;
            const struct core_seg *s = corefile_segment(&k->c, a);
            if (s && s->memsz - (a - s->vaddr) < want)
                want = (size_t)(s->memsz - (a - s->vaddr));
            n = read_from_file(t, a, (char *)buf + done, want);
        }
        if (n == 0)
            break;
        done += n;
    }
    return done;
}

static size_t core_read_own(struct target *t, uint64_t addr, void *buf, size_t len)
{
    struct core *k = t->priv;
    return corefile_read(&k->c, addr, buf, len);
}

static void core_read_ranges(struct target *t, struct target_range *r, size_t n)
{
    struct core *k = t->priv;
    for (size_t i = 0; i < n; i++)
        corefile_will_read(&k->c, r[i].addr, r[i].len);
    for (size_t i = 0; i < n; i++)
        r[i].got = core_read(t, r[i].addr, r[i].buf, r[i].len);
}

/* ---- Threads and mappings ---------------------------------------------------------- */

static int core_threads(struct target *t, struct fail *f)
{
    (void)f;
    struct core *k = t->priv;
    if (t->threads)
        return 0;
    t->nthreads = k->c.nthreads;
    t->threads = xcalloc(t->nthreads ? t->nthreads : 1, sizeof *t->threads);
    for (size_t i = 0; i < t->nthreads; i++) {
        const struct core_thread *ct = &k->c.threads[i];
        struct target_thread *th = &t->threads[i];
        th->tid = ct->tid;
        th->has_regs = true;
        th->regs = ct->regs;
        th->state = '-';        /* a core does not say */
        if (ct->tid == t->pid)
            snprintf(th->name, sizeof th->name, "%s", t->name);
        if (ct->name[0])
            snprintf(th->name, sizeof th->name, "%s", ct->name);
        if (ct->state)
            th->state = ct->state;
    }
    return 0;
}

/* A pseudo inode for a path: the module list tells files apart by (path,
 * inode), and a core records no inode. */
static uint64_t path_inode(const char *p)
{
    uint64_t h = 1469598103934665603ull;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h | 1;
}

static void add_mapping(struct procmaps *pm, size_t *cap, const struct mapping *m)
{
    xgrow(&pm->v, cap, pm->n + 1, sizeof *pm->v);
    pm->v[pm->n++] = *m;
}

static int cmp_mapping(const void *a, const void *b)
{
    const struct mapping *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* The mappings: each PT_LOAD is one (the kernel writes one per mapping),
 * named by the NT_FILE entry that starts there; NT_FILE entries no segment
 * covers (a producer that left them out) are added without permissions
 * they cannot tell.  [stack] and [vdso] are named by the main thread's
 * stack pointer and AT_SYSINFO_EHDR. */
static void build_maps(struct target *t, struct core *k)
{
    struct procmaps *pm = &t->maps;
    size_t cap = 0;
    uint64_t vdso = 0;
    corefile_auxv(&k->c, AT_SYSINFO_EHDR, &vdso);
    uint64_t sp = k->c.nthreads ? k->c.threads[0].regs.rsp : 0;
    for (size_t i = 0; i < k->c.nsegs; i++) {
        const struct core_seg *s = &k->c.segs[i];
        struct mapping m = {s->vaddr, s->vaddr + s->memsz, 0, "---p", 0, 0, 0, "", false};
        m.perms[0] = s->flags & PF_R ? 'r' : '-';
        m.perms[1] = s->flags & PF_W ? 'w' : '-';
        m.perms[2] = s->flags & PF_X ? 'x' : '-';
        const struct core_fmap *fm = corefile_file_at(&k->c, s->vaddr);
        if (fm && fm->start <= s->vaddr) {
            m.path = fm->path;
            m.offset = fm->offset + (s->vaddr - fm->start);
            m.inode = path_inode(fm->path);
            if (m.end > fm->end)
                m.end = fm->end;
        } else if (vdso == s->vaddr) {
            m.path = "[vdso]";
        } else if (sp - s->vaddr < s->memsz) {
            m.path = "[stack]";
        }
        add_mapping(pm, &cap, &m);
    }
    for (size_t i = 0; i < k->c.nfiles; i++) {
        const struct core_fmap *fm = &k->c.files[i];
        if (corefile_segment(&k->c, fm->start))
            continue;
        struct mapping m = {fm->start, fm->end, fm->offset, "r--p", 0, 0,
                            path_inode(fm->path), fm->path, false};
        add_mapping(pm, &cap, &m);
    }
    if (pm->n)
        qsort(pm->v, pm->n, sizeof *pm->v, cmp_mapping);
    /* overlapping entries (a producer's odd segments): keep the first */
    size_t w = 0;
    for (size_t i = 0; i < pm->n; i++)
        if (w == 0 || pm->v[i].start >= pm->v[w - 1].end)
            pm->v[w++] = pm->v[i];
    pm->n = w;
}

static int core_mappings(struct target *t, struct fail *f)
{
    (void)t;
    (void)f;
    return 0;               /* built at open; a core never changes */
}

/* ---- Stop, release, close ------------------------------------------------------------ */

static int core_stop(struct target *t, struct fail *f)
{
    t->stopped = true;
    t->pause_ns = 0;
    t->stop_rounds = 0;
    return core_threads(t, f);
}

static void core_release(struct target *t)
{
    t->stopped = false;
}

static void core_close(struct target *t)
{
    struct core *k = t->priv;
    for (size_t i = 0; i < k->nfiles; i++)
        if (k->files[i].fd >= 0)
            close(k->files[i].fd);
    free(k->files);
    free(k->file_of);
    free(k->sysroot);
    free(k->exe_file);
    corefile_close(&k->c);
    free(k);
    free(t->threads);
    free(t->maps.v);
    free(t);
}

static const struct target_ops core_ops = {
    .kind = "core",
    .stop = core_stop,
    .release = core_release,
    .read = core_read,
    .read_own = core_read_own,
    .read_ranges = core_read_ranges,
    .threads = core_threads,
    .mappings = core_mappings,
    .changed = NULL,
    .file_paths = core_file_paths,
    .close = core_close,
};

/* ---- Opening ---------------------------------------------------------------------- */

static void index_files(struct core *k)
{
    k->files = xcalloc(k->c.nfiles ? k->c.nfiles : 1, sizeof *k->files);
    k->file_of = xcalloc(k->c.nfiles ? k->c.nfiles : 1, sizeof *k->file_of);
    for (size_t i = 0; i < k->c.nfiles; i++) {
        size_t j;
        for (j = 0; j < k->nfiles; j++)
            if (strcmp(k->files[j].path, k->c.files[i].path) == 0)
                break;
        if (j == k->nfiles)
            k->files[k->nfiles++] = (struct mapped_file){k->c.files[i].path, -1, false};
        k->file_of[i] = (uint32_t)j;
    }
}

/* The executable, as the core names it: the NT_FILE entry that holds the
 * entry point (AT_ENTRY), else AT_EXECFN's string in its memory, else the
 * first word of the command line. */
static void exe_of(struct target *t, struct core *k)
{
    uint64_t v;
    const struct core_fmap *m;
    if (corefile_auxv(&k->c, AT_ENTRY, &v) && (m = corefile_file_at(&k->c, v))) {
        snprintf(t->exe, sizeof t->exe, "%s", m->path);
        return;
    }
    char buf[4096];
    size_t n;
    if (corefile_auxv(&k->c, AT_EXECFN, &v) &&
        (n = corefile_read(&k->c, v, buf, sizeof buf - 1)) > 0) {
        buf[n] = 0;
        if (strlen(buf) < n) {
            snprintf(t->exe, sizeof t->exe, "%s", buf);
            return;
        }
    }
    snprintf(t->exe, sizeof t->exe, "%.*s", (int)strcspn(k->c.ps.psargs, " "), k->c.ps.psargs);
}

/* How it ended: the first thread's (the kernel writes the thread that took
 * the signal first); a first thread taking no signal means a dump of a
 * live process (gdb's gcore, goinspect's), whatever its NT_SIGINFO says
 * (gdb records the SIGSTOP of its own attach). */
static void end_of(struct target *t, const struct core *k)
{
    const struct core_thread *th = &k->c.threads[0];
    const struct core_siginfo *si = th->si.valid ? &th->si : &k->c.siginfo;
    struct target_end *e = &t->end;
    e->tid = th->tid;
    if (th->cursig == 0) {
        e->alive = true;
        return;
    }
    e->known = true;
    e->signo = th->cursig;
    if (si->valid && si->signo == th->cursig) {
        e->has_code = true;
        e->code = si->code;
        e->has_addr = sigcode_has_addr(si->signo, si->code);
        e->addr = si->addr;
        e->sender = si->sender;
    }
}

int target_core_open(const char *path, const struct core_options *o, struct target **out,
                     struct fail *f)
{
    struct target *t = xcalloc(1, sizeof *t);
    struct core *k = xcalloc(1, sizeof *k);
    t->ops = &core_ops;
    t->priv = k;
    if (corefile_open(path, &k->c, f) < 0) {
        core_close(t);
        return -1;
    }
    if (o->sysroot && o->sysroot[0]) {
        k->sysroot = xstrdup(o->sysroot);
        size_t n = strlen(k->sysroot);
        while (n > 1 && k->sysroot[n - 1] == '/')
            k->sysroot[--n] = 0;
        if (strcmp(k->sysroot, "/") == 0)
            k->sysroot[0] = 0;
    }
    index_files(k);
    t->pid = k->c.has_prpsinfo ? k->c.ps.pid : k->c.threads[0].tid;
    snprintf(t->name, sizeof t->name, "%.15s", k->c.has_prpsinfo ? k->c.ps.fname : "?");
    snprintf(t->what, sizeof t->what, "core %.3000s (PID %d, %s)", path, (int)t->pid, t->name);
    exe_of(t, k);
    if (o->exe) {
        if (!regular(o->exe)) {
            fail_set(f, "--exe %s: %s", o->exe,
                     access(o->exe, F_OK) == 0 ? "is not an ordinary file" : strerror(ENOENT));
            core_close(t);
            return -1;
        }
        k->exe_file = xstrdup(o->exe);  /* reads of the executable's file go there */
        snprintf(t->exe_open, sizeof t->exe_open, "%s", o->exe);
    } else {
        char local[4200];
        local_path(k, t->exe, local, sizeof local);
        if (regular(local))
            snprintf(t->exe_open, sizeof t->exe_open, "%.4095s", local);
    }
    build_maps(t, k);
    core_threads(t, f);
    end_of(t, k);
    char *real = realpath(path, NULL);
    snprintf(t->core_path, sizeof t->core_path, "%s", real ? real : path);
    free(real);
    t->frozen = t->stopped = true;
    t->dumped_mono_ns = k->c.dumped_mono_ns;
    t->dumped_wall_ns = k->c.dumped_wall_ns ? k->c.dumped_wall_ns : k->c.mtime_ns;
    *out = t;
    return 0;
}
