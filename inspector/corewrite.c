/*
 * corewrite.c — an ELF core file's headers and notes (corewrite.h).
 *
 * A note is a 12-byte header (namesz, descsz, type), the owner's name with
 * its NUL and the descriptor, each padded to 4 bytes.  More than 65534
 * program headers: e_phnum is PN_XNUM and section header 0's sh_info holds
 * the count, as the kernel writes it.
 */
#include "corewrite.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/user.h>
#include <unistd.h>

#include "corefile.h"
#include "outfile.h"
#include "pagemap.h"

/* A growing buffer of notes. */
struct notes {
    char *p;
    size_t len, cap;
};

static void put(struct notes *n, const void *src, size_t len)
{
    xgrow(&n->p, &n->cap, n->len + len + 4, 1);
    memcpy(n->p + n->len, src, len);
    n->len += len;
    while (n->len % 4)
        n->p[n->len++] = 0;
}

static void note(struct notes *n, const char *owner, uint32_t type, const void *desc, size_t len)
{
    uint32_t h[3] = {(uint32_t)strlen(owner) + 1, (uint32_t)len, type};
    put(n, h, sizeof h);
    put(n, owner, h[0]);
    put(n, desc, len);
}

static struct timeval tv_of(uint64_t us)
{
    return (struct timeval){(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
}

static void user_regs(const struct target_regs *r, struct user_regs_struct *u)
{
    *u = (struct user_regs_struct){
        .r15 = r->r15, .r14 = r->r14, .r13 = r->r13, .r12 = r->r12, .rbp = r->rbp,
        .rbx = r->rbx, .r11 = r->r11, .r10 = r->r10, .r9 = r->r9, .r8 = r->r8, .rax = r->rax,
        .rcx = r->rcx, .rdx = r->rdx, .rsi = r->rsi, .rdi = r->rdi, .orig_rax = r->orig_rax,
        .rip = r->rip, .cs = r->cs, .eflags = r->eflags, .rsp = r->rsp, .ss = r->ss,
        .fs_base = r->fs_base, .gs_base = r->gs_base, .ds = r->ds, .es = r->es, .fs = r->fs,
        .gs = r->gs,
    };
}

static void prstatus(struct notes *n, const struct cw_process *p, const struct cw_thread *t)
{
    struct elf_prstatus s;
    memset(&s, 0, sizeof s);
    s.pr_cursig = 0;                /* no signal: dumped alive */
    s.pr_sigpend = t->sigpend;
    s.pr_sighold = t->sighold;
    s.pr_pid = t->tid;
    s.pr_ppid = p->ppid;
    s.pr_pgrp = p->pgrp;
    s.pr_sid = p->sid;
    s.pr_utime = tv_of(t->utime_us);
    s.pr_stime = tv_of(t->stime_us);
    if (t->tid == p->pid) {
        s.pr_cutime = tv_of(p->cutime_us);
        s.pr_cstime = tv_of(p->cstime_us);
    }
    if (t->has_regs) {
        struct user_regs_struct u;
        user_regs(&t->regs, &u);
        memcpy(&s.pr_reg, &u, sizeof u);
    }
    s.pr_fpvalid = t->has_fp;
    note(n, "CORE", NT_PRSTATUS, &s, sizeof s);
}

static void thread_note(struct notes *n, const struct cw_thread *t)
{
    char d[17];
    d[0] = t->state;
    memset(d + 1, 0, 16);
    memcpy(d + 1, t->name, strnlen(t->name, 15));
    note(n, CORE_GOINSPECT_OWNER, CORE_NT_GOINSPECT_THREAD, d, sizeof d);
}

static void prpsinfo(struct notes *n, const struct cw_process *p)
{
    struct elf_prpsinfo s;
    memset(&s, 0, sizeof s);
    static const char states[] = "RSDTZW";
    const char *at = p->state ? strchr(states, p->state) : NULL;
    s.pr_state = at ? (char)(at - states) : 0;
    s.pr_sname = p->state ? p->state : '.';
    s.pr_zomb = p->state == 'Z';
    s.pr_nice = (char)p->nice;
    s.pr_flag = p->flags;
    s.pr_uid = p->uid;
    s.pr_gid = p->gid;
    s.pr_pid = p->pid;
    s.pr_ppid = p->ppid;
    s.pr_pgrp = p->pgrp;
    s.pr_sid = p->sid;
    memcpy(s.pr_fname, p->fname, strnlen(p->fname, sizeof s.pr_fname - 1));
    memcpy(s.pr_psargs, p->psargs, strnlen(p->psargs, sizeof s.pr_psargs - 1));
    note(n, "CORE", NT_PRPSINFO, &s, sizeof s);
}

static void file_note(struct notes *n, const struct cw_core *c)
{
    size_t len = 16 + c->nfiles * 24;
    for (size_t i = 0; i < c->nfiles; i++)
        len += strlen(c->files[i].name) + 1;
    char *d = xmalloc(len), *s = d + 16 + c->nfiles * 24;
    uint64_t head[2] = {c->nfiles, PM_PAGE};
    memcpy(d, head, sizeof head);
    for (size_t i = 0; i < c->nfiles; i++) {
        const struct cw_file *e = &c->files[i];
        uint64_t w[3] = {e->start, e->end, e->offset / PM_PAGE};
        memcpy(d + 16 + i * 24, w, sizeof w);
        size_t k = strlen(e->name) + 1;
        memcpy(s, e->name, k);
        s += k;
    }
    note(n, "CORE", NT_FILE, d, len);
    free(d);
}

static void process_notes(struct notes *n, const struct cw_core *c)
{
    const struct cw_process *p = c->proc;
    prpsinfo(n, p);
    char si[128];
    memset(si, 0, sizeof si);           /* si_signo 0: no signal */
    note(n, "CORE", NT_SIGINFO, si, sizeof si);
    note(n, "CORE", NT_AUXV, p->auxv, p->auxv_len);
    file_note(n, c);
    int64_t when[2] = {p->mono_ns, p->wall_ns};
    note(n, CORE_GOINSPECT_OWNER, CORE_NT_GOINSPECT_TIME, when, sizeof when);
}

static void all_notes(struct notes *n, const struct cw_core *c)
{
    for (size_t i = 0; i < c->nthreads; i++) {
        const struct cw_thread *t = &c->threads[i];
        prstatus(n, c->proc, t);
        thread_note(n, t);
        if (i == 0)
            process_notes(n, c);
        if (t->has_fp)
            note(n, "CORE", NT_FPREGSET, t->fp, sizeof t->fp);
        if (t->xstate)
            note(n, "LINUX", NT_X86_XSTATE, t->xstate, t->xstate_len);
    }
}

static void program_headers(const struct cw_core *c, Elf64_Phdr *ph, uint64_t notes_off,
                            uint64_t notes_len)
{
    ph[0] = (Elf64_Phdr){.p_type = PT_NOTE, .p_flags = PF_R, .p_offset = notes_off,
                         .p_filesz = notes_len, .p_align = 4};
    for (size_t i = 0; i < c->nsegs; i++) {
        const struct cw_segment *s = &c->segs[i];
        ph[i + 1] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = s->flags, .p_offset = s->offset,
                                 .p_vaddr = s->vaddr, .p_filesz = s->filesz,
                                 .p_memsz = s->memsz, .p_align = PM_PAGE};
    }
}

static void elf_header(Elf64_Ehdr *eh, uint64_t phoff, uint64_t nph, uint64_t shoff)
{
    memset(eh, 0, sizeof *eh);
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh->e_type = ET_CORE;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_phoff = phoff;
    eh->e_ehsize = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = nph < PN_XNUM ? (Elf64_Half)nph : PN_XNUM;
    if (shoff) {
        eh->e_shoff = shoff;
        eh->e_shentsize = sizeof(Elf64_Shdr);
        eh->e_shnum = 1;
    }
}

int corewrite_headers(int fd, const struct cw_core *c, uint64_t data_end, uint64_t *size,
                      struct fail *f)
{
    struct notes n = {NULL, 0, 0};
    all_notes(&n, c);
    uint64_t notes_off = (data_end + 7) & ~7ull;
    uint64_t phoff = (notes_off + n.len + 7) & ~7ull;
    uint64_t nph = c->nsegs + 1;
    Elf64_Phdr *ph = xcalloc(nph, sizeof *ph);
    program_headers(c, ph, notes_off, n.len);
    uint64_t shoff = nph >= PN_XNUM ? phoff + nph * sizeof *ph : 0;
    Elf64_Shdr sh0 = {.sh_type = SHT_NULL, .sh_info = (Elf64_Word)nph};
    Elf64_Ehdr eh;
    elf_header(&eh, phoff, nph, shoff);
    int rc = -1;
    if (outfile_write(fd, n.p, n.len, notes_off, f) == 0 &&
        outfile_write(fd, ph, nph * sizeof *ph, phoff, f) == 0 &&
        (!shoff || outfile_write(fd, &sh0, sizeof sh0, shoff, f) == 0) &&
        outfile_write(fd, &eh, sizeof eh, 0, f) == 0) {
        *size = shoff ? shoff + sizeof sh0 : phoff + nph * sizeof *ph;
        rc = 0;
    }
    free(ph);
    free(n.p);
    return rc;
}
