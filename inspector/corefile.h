/*
 * corefile.h — an ELF core file as the kernel, gdb's gcore and goinspect's
 * gcore write it: its memory segments (PT_LOAD) and its notes (PT_NOTE):
 * each thread's registers (NT_PRSTATUS), the process (NT_PRPSINFO), the
 * signal that ended it (NT_SIGINFO), the auxiliary vector (NT_AUXV) and the
 * files mapped into it (NT_FILE).
 *
 * The file is never loaded whole: its headers and notes are read once,
 * memory is read with pread when asked for, so a reader of a core of many
 * GiB uses memory in proportion to its notes, not to its size.  Every size
 * and offset read from the file is checked against the file.
 */
#ifndef GOINSPECT_COREFILE_H
#define GOINSPECT_COREFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"
#include "target.h"

/* Note types (linux/elf.h). */
#define CORE_NT_PRSTATUS 1
#define CORE_NT_PRPSINFO 3
#define CORE_NT_AUXV 6
#define CORE_NT_SIGINFO 0x53494749
#define CORE_NT_FILE 0x46494c45
/* goinspect's own note (owner "GOINSPECT"), after a thread's NT_PRSTATUS:
 * what a kernel core does not keep of a thread: its state letter (1 byte)
 * and its name (comm, 16 bytes, NUL-padded).  The types are none of the
 * kernel's: BFD (gdb) reads a note of any owner by its type alone, and
 * would take a type 1 for an NT_PRSTATUS, a 2 for an NT_FPREGSET. */
#define CORE_NT_GOINSPECT_THREAD 0x47490001
/* ... and once: when it was written, CLOCK_MONOTONIC then CLOCK_REALTIME
 * nanoseconds (8 bytes each). */
#define CORE_NT_GOINSPECT_TIME 0x47490002
#define CORE_GOINSPECT_OWNER "GOINSPECT"

struct core_seg {               /* a PT_LOAD program header */
    uint64_t vaddr, memsz;      /* the memory it describes */
    uint64_t offset, filesz;    /* the part the file holds (filesz <= memsz) */
    uint32_t flags;             /* PF_R | PF_W | PF_X */
};

struct core_siginfo {           /* from NT_SIGINFO (siginfo_t) */
    bool valid;
    int signo, code, err;
    uint64_t addr;              /* si_addr: the fault address of SIGSEGV, SIGBUS,
                                   SIGFPE, SIGILL, SIGTRAP */
    pid_t sender;               /* si_pid, for a signal sent by kill (code <= 0) */
};

struct core_thread {
    pid_t tid;
    char name[16];              /* from goinspect's NT_GOINSPECT_THREAD note, else "" */
    char state;                 /* likewise: its kernel state letter, else 0 */
    int cursig;                 /* pr_cursig: the signal it was taking */
    struct target_regs regs;
    struct core_siginfo si;     /* an NT_SIGINFO that followed its NT_PRSTATUS */
};

struct core_fmap {              /* an NT_FILE entry */
    uint64_t start, end;
    uint64_t offset;            /* file offset of start, in bytes */
    const char *path;
};

struct corefile {
    int fd;
    char *path;
    uint64_t size;              /* of the file */
    int64_t mtime_ns;           /* its modification time (Unix ns): when it was written */
    int64_t dumped_mono_ns, dumped_wall_ns; /* NT_GOINSPECT_TIME, else 0 */
    bool truncated;             /* some segment ends past the end of the file */
    struct core_seg *segs;      /* sorted by vaddr */
    size_t nsegs;
    struct core_thread *threads; /* in note order: the first took the signal */
    size_t nthreads;
    struct core_fmap *files;    /* sorted by start */
    size_t nfiles;
    uint64_t page_size;         /* NT_FILE's, else 4096 */
    bool has_prpsinfo;
    struct {
        pid_t pid, ppid;
        uint32_t uid, gid;
        char state;             /* pr_sname: 'R', 'S', ... */
        char fname[17];         /* comm */
        char psargs[81];        /* the command line, truncated */
    } ps;
    struct core_siginfo siginfo; /* the process's: the first NT_SIGINFO */
    const uint64_t *auxv;       /* (type, value) pairs, into notes */
    size_t nauxv;
    char *notes;                /* every PT_NOTE's bytes */
    size_t notes_len;
    char *strings;              /* NT_FILE paths */
};

/* Opens a core file and reads its headers and notes.  Fails with a message
 * that says what is wrong: not a regular file, not ELF, not a core, not an
 * x86-64 one, truncated headers or notes, a note that runs past its
 * segment, no thread.  Whether it succeeds or fails, corefile_close frees
 * what it read. */
int corefile_open(const char *path, struct corefile *c, struct fail *f);
void corefile_close(struct corefile *c);

/* The segment whose memory [vaddr, vaddr+memsz) holds addr, or NULL. */
const struct core_seg *corefile_segment(const struct corefile *c, uint64_t addr);
/* Reads up to len bytes at addr from the file's part of the segments and
 * returns how many were read: it stops at the first byte the file does
 * not hold (no segment, or past a segment's filesz). */
size_t corefile_read(const struct corefile *c, uint64_t addr, void *buf, size_t len);
/* Tells the kernel that the file's bytes for [addr, addr+len) will be read
 * soon (POSIX_FADV_WILLNEED), so that many scattered reads of a core that
 * is not in the page cache go to the disk together, not one by one. */
void corefile_will_read(const struct corefile *c, uint64_t addr, size_t len);
/* The NT_FILE entry whose range holds addr, or NULL. */
const struct core_fmap *corefile_file_at(const struct corefile *c, uint64_t addr);
/* The value of an auxiliary vector entry (AT_*); false if absent. */
bool corefile_auxv(const struct corefile *c, uint64_t type, uint64_t *value);

#endif
