/*
 * corewrite.h — the headers and notes of an ELF core file, in the kernel's
 * formats (fs/binfmt_elf.c), for goinspect gcore.  The memory is written
 * elsewhere (pagecopy.h) at the offsets the segments give; the notes and
 * the program headers go after it, at the end of the file, and the ELF
 * header at its start.
 *
 * Notes, for each thread, the main thread first: NT_PRSTATUS (its
 * registers; pr_cursig 0: a process dumped alive), goinspect's
 * NT_GOINSPECT_THREAD (its state and name, corefile.h), then after the
 * first thread's only NT_PRPSINFO, NT_SIGINFO (si_signo 0: no signal),
 * NT_AUXV, NT_FILE and NT_GOINSPECT_TIME; then the thread's NT_FPREGSET and
 * NT_X86_XSTATE (its floating-point and vector registers).  The order is
 * the kernel's, goinspect's own notes between.
 */
#ifndef GOINSPECT_COREWRITE_H
#define GOINSPECT_COREWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"
#include "target.h"

struct cw_thread {
    pid_t tid;
    char name[16];
    char state;                 /* before the stop */
    bool has_regs;
    struct target_regs regs;
    bool has_fp;
    unsigned char fp[512];      /* struct user_fpregs_struct */
    unsigned char *xstate;      /* the XSAVE area (NULL: none) */
    size_t xstate_len;
    uint64_t sigpend, sighold;  /* pending and blocked signals */
    uint64_t utime_us, stime_us;
};

struct cw_process {
    pid_t pid, ppid, pgrp, sid;
    uint32_t uid, gid;
    char state;                 /* its main thread's, before the stop */
    int nice;
    uint64_t flags;             /* the kernel's task flags (/proc/PID/stat) */
    char fname[16];             /* comm */
    char psargs[80];            /* the command line, NUL-terminated */
    uint64_t cutime_us, cstime_us;
    const void *auxv;
    size_t auxv_len;
    int64_t mono_ns, wall_ns;   /* when it was stopped */
};

struct cw_segment {             /* a PT_LOAD */
    uint64_t vaddr, memsz, offset, filesz;
    uint32_t flags;             /* PF_R, PF_W, PF_X */
};

struct cw_file {                /* an NT_FILE entry */
    uint64_t start, end, offset;
    const char *name;
};

struct cw_core {
    const struct cw_process *proc;
    const struct cw_thread *threads;  /* the main thread first */
    size_t nthreads;
    const struct cw_segment *segs;    /* by address */
    size_t nsegs;
    const struct cw_file *files;      /* by address */
    size_t nfiles;
};

/* Writes the notes and program headers from data_end on and the ELF
 * header at 0; *size is then the file's size. */
int corewrite_headers(int fd, const struct cw_core *c, uint64_t data_end, uint64_t *size,
                      struct fail *f);

#endif
