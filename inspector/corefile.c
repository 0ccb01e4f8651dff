/*
 * corefile.c — reading an ELF core file (corefile.h).
 *
 * Layouts (x86-64 Linux, as the kernel's binfmt_elf writes them):
 *   NT_PRSTATUS  struct elf_prstatus: pr_cursig (short) at 12, pr_pid at 32,
 *                pr_reg (struct user_regs_struct) at 112;
 *   NT_PRPSINFO  struct elf_prpsinfo: pr_sname at 1, pr_uid at 16, pr_gid at
 *                20, pr_pid at 24, pr_ppid at 28, pr_fname[16] at 40,
 *                pr_psargs[80] at 56;
 *   NT_SIGINFO   siginfo_t: si_signo, si_errno, si_code, then si_addr (or
 *                si_pid for a signal sent by a process) at 16;
 *   NT_AUXV      (type, value) pairs of 8 bytes;
 *   NT_FILE      count, page size, count x (start, end, offset in pages),
 *                then count NUL-terminated paths.
 * A note is a 12-byte header (namesz, descsz, type), the name and the
 * descriptor, each padded to 4 bytes.
 */
#include "corefile.h"
#include "bsearch.h"
#include "signames.h"

#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <unistd.h>

enum {
    PRSTATUS_REG = 112,
    PRSTATUS_MIN = PRSTATUS_REG + (int)sizeof(struct user_regs_struct),
    PRPSINFO_MIN = 136,
    SIGINFO_MIN = 24,
    NOTES_MAX = 1 << 30,        /* more than any real process's notes */
};

static uint64_t get64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t get32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static bool pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return true;
}

/* ---- Notes --------------------------------------------------------------------- */

static void regs_from(struct target_regs *r, const char *desc)
{
    struct user_regs_struct u;
    memcpy(&u, desc + PRSTATUS_REG, sizeof u);
    *r = (struct target_regs){
        .rip = u.rip, .rsp = u.rsp, .rbp = u.rbp, .rbx = u.rbx, .r12 = u.r12, .r13 = u.r13,
        .r14 = u.r14, .r15 = u.r15, .rax = u.rax, .rcx = u.rcx, .rdx = u.rdx, .rsi = u.rsi,
        .rdi = u.rdi, .r8 = u.r8, .r9 = u.r9, .r10 = u.r10, .r11 = u.r11,
        .fs_base = u.fs_base, .eflags = u.eflags, .gs_base = u.gs_base, .orig_rax = u.orig_rax,
        .cs = u.cs, .ss = u.ss, .ds = u.ds, .es = u.es, .fs = u.fs, .gs = u.gs, .full = true,
    };
}

static void siginfo_from(struct core_siginfo *si, const char *desc)
{
    si->valid = true;
    si->signo = (int)get32(desc);
    si->err = (int)get32(desc + 4);
    si->code = (int)get32(desc + 8);
    si->addr = 0;
    si->sender = 0;
    if (si->code <= 0)                          /* SI_USER, SI_TKILL, SI_QUEUE... */
        si->sender = (pid_t)get32(desc + 16);
    else if (sigcode_has_addr(si->signo, si->code))
        si->addr = get64(desc + 16);
}

static int note_file(struct corefile *c, const char *desc, uint64_t size, struct fail *f)
{
    if (size < 16)
        return fail_set(f, "%s: its NT_FILE note is %llu bytes, too short", c->path,
                        (unsigned long long)size);
    uint64_t count = get64(desc), page = get64(desc + 8);
    if (count > (size - 16) / 24)
        return fail_set(f, "%s: its NT_FILE note lists %llu files in %llu bytes", c->path,
                        (unsigned long long)count, (unsigned long long)size);
    if (page == 0 || (page & (page - 1)) || page > (1u << 30))
        return fail_set(f, "%s: its NT_FILE note has a page size of %llu", c->path,
                        (unsigned long long)page);
    const char *names = desc + 16 + count * 24, *end = desc + size;
    c->strings = xmalloc((size_t)(end - names) + 1);
    memcpy(c->strings, names, (size_t)(end - names));
    c->strings[end - names] = 0;
    c->files = xcalloc(count ? count : 1, sizeof *c->files);
    c->page_size = page;
    const char *s = c->strings;
    for (uint64_t i = 0; i < count; i++) {
        const char *e = s + strlen(s);
        if (e >= c->strings + (end - names))
            return fail_set(f, "%s: its NT_FILE note names %llu of its %llu files", c->path,
                            (unsigned long long)i, (unsigned long long)count);
        const char *t = desc + 16 + i * 24;
        struct core_fmap *m = &c->files[c->nfiles++];
        m->start = get64(t);
        m->end = get64(t + 8);
        m->offset = get64(t + 16) * page;
        m->path = s;
        s = e + 1;
    }
    return 0;
}

static int note(struct corefile *c, uint32_t type, const char *name, uint32_t namesz,
                const char *desc, uint32_t size, bool *siginfo_for_thread, struct fail *f)
{
    if (namesz == sizeof CORE_GOINSPECT_OWNER &&
        memcmp(name, CORE_GOINSPECT_OWNER, namesz) == 0) {
        if (type == CORE_NT_GOINSPECT_TIME && size >= 16) {
            c->dumped_mono_ns = (int64_t)get64(desc);
            c->dumped_wall_ns = (int64_t)get64(desc + 8);
        }
        if (type == CORE_NT_GOINSPECT_THREAD && size >= 17 && c->nthreads > 0) {
            struct core_thread *th = &c->threads[c->nthreads - 1];
            th->state = desc[0];
            memcpy(th->name, desc + 1, 15);
            th->name[15] = 0;
        }
        return 0;
    }
    if (namesz < 4 || memcmp(name, "CORE", 4) != 0)
        return 0;                               /* LINUX (xstate...), GNU, other owners */
    switch (type) {
    case CORE_NT_PRSTATUS: {
        if (size < PRSTATUS_MIN)
            return fail_set(f, "%s: an NT_PRSTATUS note of %u bytes, too short", c->path, size);
        c->threads = xrealloc(c->threads, (c->nthreads + 1) * sizeof *c->threads);
        struct core_thread *th = &c->threads[c->nthreads++];
        memset(th, 0, sizeof *th);
        th->tid = (pid_t)get32(desc + 32);
        int16_t cursig;
        memcpy(&cursig, desc + 12, 2);
        th->cursig = cursig;
        regs_from(&th->regs, desc);
        *siginfo_for_thread = true;
        return 0;
    }
    case CORE_NT_PRPSINFO:
        if (size < PRPSINFO_MIN)
            return fail_set(f, "%s: an NT_PRPSINFO note of %u bytes, too short", c->path, size);
        c->has_prpsinfo = true;
        c->ps.state = desc[1];
        c->ps.uid = get32(desc + 16);
        c->ps.gid = get32(desc + 20);
        c->ps.pid = (pid_t)get32(desc + 24);
        c->ps.ppid = (pid_t)get32(desc + 28);
        memcpy(c->ps.fname, desc + 40, 16);
        c->ps.fname[16] = 0;
        memcpy(c->ps.psargs, desc + 56, 80);
        c->ps.psargs[80] = 0;
        return 0;
    case CORE_NT_SIGINFO:
        if (size < SIGINFO_MIN)
            return fail_set(f, "%s: an NT_SIGINFO note of %u bytes, too short", c->path, size);
        if (!c->siginfo.valid)
            siginfo_from(&c->siginfo, desc);
        if (*siginfo_for_thread && c->nthreads > 0)
            siginfo_from(&c->threads[c->nthreads - 1].si, desc);
        *siginfo_for_thread = false;
        return 0;
    case CORE_NT_AUXV:
        if (!c->auxv) {
            uint64_t *v = xmalloc(size / 16 * 16 + 16);
            memcpy(v, desc, size / 16 * 16);
            c->auxv = v;
            c->nauxv = size / 16;
        }
        return 0;
    case CORE_NT_FILE:
        return c->files ? 0 : note_file(c, desc, size, f);
    default:
        return 0;
    }
}

/* Walks the notes of one PT_NOTE segment, notes[0..len). */
static int walk_notes(struct corefile *c, const char *notes, size_t len, uint64_t file_off,
                      struct fail *f)
{
    bool for_thread = false;
    size_t off = 0;
    while (len - off >= 12) {
        uint32_t namesz = get32(notes + off), descsz = get32(notes + off + 4);
        uint32_t type = get32(notes + off + 8);
        uint64_t name_pad = ((uint64_t)namesz + 3) & ~3ull, desc_pad = ((uint64_t)descsz + 3) & ~3ull;
        if (name_pad > len - off - 12 || descsz > len - off - 12 - name_pad)
            return fail_set(f, "%s: the note at file offset %#llx runs past the end of its "
                               "segment (%u + %u bytes in %zu)", c->path,
                            (unsigned long long)(file_off + off), namesz, descsz, len - off - 12);
        const char *name = notes + off + 12, *desc = name + name_pad;
        if (note(c, type, name, namesz, desc, descsz, &for_thread, f) < 0)
            return -1;
        off += 12 + name_pad + (desc_pad <= len - off - 12 - name_pad ? desc_pad : descsz);
    }
    return 0;
}

/* ---- Headers ------------------------------------------------------------------- */

static int cmp_seg(const void *a, const void *b)
{
    const struct core_seg *x = a, *y = b;
    return (x->vaddr > y->vaddr) - (x->vaddr < y->vaddr);
}

static int cmp_fmap(const void *a, const void *b)
{
    const struct core_fmap *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static int check_ehdr(const struct corefile *c, const Elf64_Ehdr *eh, struct fail *f)
{
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return fail_set(f, "%s: not an ELF file", c->path);
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
        eh->e_machine != EM_X86_64)
        return fail_set(f, "%s: not an x86-64 core file (only those are read)", c->path);
    if (eh->e_type != ET_CORE)
        return fail_set(f, "%s: not a core file (ELF type %u%s)", c->path, eh->e_type,
                        eh->e_type == ET_EXEC || eh->e_type == ET_DYN
                            ? ", an executable or shared object: give the core as CORE and "
                              "this file as --exe"
                            : "");
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return fail_set(f, "%s: program headers of %u bytes (not %zu)", c->path,
                        eh->e_phentsize, sizeof(Elf64_Phdr));
    return 0;
}

/* The number of program headers (PN_XNUM: in section header 0's sh_info). */
static int phnum_of(const struct corefile *c, const Elf64_Ehdr *eh, uint64_t *n, struct fail *f)
{
    *n = eh->e_phnum;
    if (eh->e_phnum != PN_XNUM)
        return 0;
    Elf64_Shdr sh0;
    if (eh->e_shoff == 0 || eh->e_shoff > c->size || c->size - eh->e_shoff < sizeof sh0 ||
        !pread_full(c->fd, &sh0, sizeof sh0, eh->e_shoff))
        return fail_set(f, "%s: more than 65534 program headers, and no section header that "
                           "counts them", c->path);
    *n = sh0.sh_info;
    return 0;
}

/* The PT_LOAD segments (clamped to the file: what a truncated core lacks is
 * unavailable) and the total size of the notes. */
static int load_segments(struct corefile *c, const Elf64_Phdr *ph, uint64_t n,
                         uint64_t *notes_len, struct fail *f)
{
    c->segs = xcalloc(n, sizeof *c->segs);
    *notes_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (ph[i].p_type == PT_NOTE) {
            if (ph[i].p_offset > c->size || ph[i].p_filesz > c->size - ph[i].p_offset)
                return fail_set(f, "%s: truncated: its notes end at %#llx, past the end of the "
                                   "file (%llu bytes)", c->path,
                                (unsigned long long)(ph[i].p_offset + ph[i].p_filesz),
                                (unsigned long long)c->size);
            *notes_len += ph[i].p_filesz;
        } else if (ph[i].p_type == PT_LOAD && ph[i].p_memsz > 0) {
            struct core_seg *s = &c->segs[c->nsegs++];
            s->vaddr = ph[i].p_vaddr;
            s->memsz = ph[i].p_memsz;
            s->offset = ph[i].p_offset;
            s->filesz = ph[i].p_filesz < ph[i].p_memsz ? ph[i].p_filesz : ph[i].p_memsz;
            s->flags = ph[i].p_flags;
            if (s->vaddr + s->memsz < s->vaddr)
                s->memsz = -s->vaddr;           /* wraps: up to the top */
            if (s->offset > c->size || s->filesz > c->size - s->offset) {
                c->truncated = true;
                s->filesz = s->offset > c->size ? 0 : c->size - s->offset;
            }
        }
    }
    if (*notes_len > NOTES_MAX)
        return fail_set(f, "%s: %llu bytes of notes, more than a process has", c->path,
                        (unsigned long long)*notes_len);
    return 0;
}

static int load_notes(struct corefile *c, const Elf64_Phdr *ph, uint64_t n, uint64_t len,
                      struct fail *f)
{
    c->notes = xmalloc(len + 1);
    for (uint64_t i = 0; i < n; i++) {
        if (ph[i].p_type != PT_NOTE || ph[i].p_filesz == 0)
            continue;
        char *p = c->notes + c->notes_len;
        if (!pread_full(c->fd, p, ph[i].p_filesz, ph[i].p_offset))
            return fail_set(f, "%s: cannot read its notes: %s", c->path, strerror(errno));
        c->notes_len += ph[i].p_filesz;
        if (walk_notes(c, p, ph[i].p_filesz, ph[i].p_offset, f) < 0)
            return -1;
    }
    return 0;
}

static int read_phdrs(struct corefile *c, const Elf64_Ehdr *eh, struct fail *f)
{
    uint64_t n, notes_len;
    if (phnum_of(c, eh, &n, f) < 0)
        return -1;
    if (n == 0)
        return fail_set(f, "%s: a core file without program headers", c->path);
    if (eh->e_phoff > c->size || n > (c->size - eh->e_phoff) / sizeof(Elf64_Phdr))
        return fail_set(f, "%s: truncated: its %llu program headers end past the end of the "
                           "file (%llu bytes)", c->path, (unsigned long long)n,
                        (unsigned long long)c->size);
    Elf64_Phdr *ph = xmalloc(n * sizeof *ph);
    int rc = -1;
    if (!pread_full(c->fd, ph, n * sizeof *ph, eh->e_phoff))
        fail_set(f, "%s: cannot read its program headers: %s", c->path, strerror(errno));
    else if (load_segments(c, ph, n, &notes_len, f) == 0 && load_notes(c, ph, n, notes_len, f) == 0)
        rc = 0;
    free(ph);
    if (rc == 0) {
        qsort(c->segs, c->nsegs, sizeof *c->segs, cmp_seg);
        if (c->nfiles)
            qsort(c->files, c->nfiles, sizeof *c->files, cmp_fmap);
    }
    return rc;
}

int corefile_open(const char *path, struct corefile *c, struct fail *f)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->path = xstrdup(path);
    c->page_size = 4096;
    struct stat st;
    if (stat(path, &st) < 0)
        return fail_set(f, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail_set(f, "%s: is not an ordinary file", path);
    c->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (c->fd < 0)
        return fail_set(f, "%s: %s", path, strerror(errno));
    if (fstat(c->fd, &st) < 0 || !S_ISREG(st.st_mode))
        return fail_set(f, "%s: is not an ordinary file", path);
    c->size = (uint64_t)st.st_size;
    c->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    Elf64_Ehdr eh;
    if (c->size == 0)
        return fail_set(f, "%s: an empty file, not a core file", path);
    if (c->size < sizeof eh || !pread_full(c->fd, &eh, sizeof eh, 0))
        return fail_set(f, "%s: %s", path,
                        c->size >= SELFMAG && pread_full(c->fd, &eh, SELFMAG, 0) &&
                                memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0
                            ? "truncated: shorter than an ELF header"
                            : "not an ELF file");
    if (check_ehdr(c, &eh, f) < 0 || read_phdrs(c, &eh, f) < 0)
        return -1;
    if (c->nthreads == 0)
        return fail_set(f, "%s: a core file without threads (no NT_PRSTATUS note)", path);
    return 0;
}

void corefile_close(struct corefile *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c->segs);
    free(c->threads);
    free(c->files);
    free((void *)c->auxv);
    free(c->notes);
    free(c->strings);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* ---- Memory ----------------------------------------------------------------------- */

const struct core_seg *corefile_segment(const struct corefile *c, uint64_t addr)
{
    size_t lo = bsearch_upto(c->segs, c->nsegs, sizeof *c->segs, offsetof(struct core_seg, vaddr),
                             addr);
    if (lo == 0)
        return NULL;
    const struct core_seg *s = &c->segs[lo - 1];
    return addr - s->vaddr < s->memsz ? s : NULL;
}

size_t corefile_read(const struct corefile *c, uint64_t addr, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        const struct core_seg *s = corefile_segment(c, addr + done);
        if (!s)
            break;
        uint64_t in = addr + done - s->vaddr;
        if (in >= s->filesz)
            break;
        size_t n = len - done;
        if (n > s->filesz - in)
            n = (size_t)(s->filesz - in);
        ssize_t r = pread(c->fd, (char *)buf + done, n, (off_t)(s->offset + in));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    return done;
}

void corefile_will_read(const struct corefile *c, uint64_t addr, size_t len)
{
    const struct core_seg *s = corefile_segment(c, addr);
    uint64_t in = s ? addr - s->vaddr : 0;
    if (!s || in >= s->filesz)
        return;
    if (len > s->filesz - in)
        len = (size_t)(s->filesz - in);
    (void)posix_fadvise(c->fd, (off_t)(s->offset + in), (off_t)len, POSIX_FADV_WILLNEED);
}

const struct core_fmap *corefile_file_at(const struct corefile *c, uint64_t addr)
{
    size_t lo = bsearch_upto(c->files, c->nfiles, sizeof *c->files,
                             offsetof(struct core_fmap, start), addr);
    return lo > 0 && addr < c->files[lo - 1].end ? &c->files[lo - 1] : NULL;
}

bool corefile_auxv(const struct corefile *c, uint64_t type, uint64_t *value)
{
    for (size_t i = 0; i < c->nauxv; i++)
        if (c->auxv[2 * i] == type) {
            *value = c->auxv[2 * i + 1];
            return true;
        }
    return false;
}
