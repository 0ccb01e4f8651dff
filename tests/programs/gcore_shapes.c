/*
 * gcore_shapes.c — a plain C process (no libgort) whose memory has every
 * shape a core file treats differently, for tests/test_gcore.py:
 *
 *   big          1 GiB of private anonymous memory; MIB MiB of it written,
 *                in blocks of 1 MiB every 16 MiB; the rest never touched
 *   zeros        64 pages written with zeros
 *   dontdump     16 written pages, then MADV_DONTDUMP
 *   shared       8 pages of shared anonymous memory, written
 *   memfd        8 pages of a memfd mapped shared, the first 2 written
 *   fileprivate  a file of 4 pages mapped private, page 1 written
 *   fileshared   the same file mapped shared, never written
 *   pasteof      a file of 1 page mapped private over 4 pages, page 0
 *                written: pages 1 to 3 lie past the end of the file
 *   guard        4 pages without access (PROT_NONE)
 *   fileread     the file of fileprivate mapped private again, not written
 *                (until SIGUSR1)
 *
 * Changes on a signal, each announced by a line, then "CHANGED" (also
 * appended to the file "changed", for a shell to wait on), after which it
 * waits for the next signal:
 *   SIGUSR1      page 2 of fileread is written ("FILL ...")
 *   SIGUSR2      zeros is unmapped ("UNMAP zeros"), and 16 pages mapped
 *                anew and written ("MAP later ...", "FILL ...")
 *   SIGHUP       the first page of big is written again, with another
 *                salt ("FILL ..."), and its second block dropped
 *                (MADV_DONTNEED: zeros again; "DROP 0xADDR LEN")
 *
 * A second thread waits for good on a condition variable.  Written memory
 * holds, in each 8-byte word, the word's address xor a salt.  Prints
 * "MAP name 0xADDR LEN" for each mapping, "FILL 0xADDR LEN 0xSALT" for
 * each written range, then READY, and sleeps until killed.  The files are
 * made in the working directory.
 *
 *   gcore_shapes [MIB]      (default 32, at most 64)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum { PAGE = 4096, MIB = 1 << 20 };

static void *map(const char *name, size_t len, int prot, int flags, int fd)
{
    void *p = mmap(NULL, len, prot, flags, fd, 0);
    if (p == MAP_FAILED) {
        perror(name);
        exit(1);
    }
    printf("MAP %s %p %zu\n", name, p, len);
    return p;
}

static void fill(void *at, size_t len, uint64_t salt)
{
    uint64_t *w = at;
    for (size_t i = 0; i < len / 8; i++)
        w[i] = (uint64_t)(uintptr_t)&w[i] ^ salt;
    printf("FILL %p %zu %#llx\n", at, len, (unsigned long long)salt);
}

static int file_of(const char *name, size_t len)
{
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char page[PAGE];
    memset(page, 'F', sizeof page);
    for (size_t at = 0; fd >= 0 && at < len; at += PAGE)
        if (write(fd, page, PAGE) != PAGE)
            exit(1);
    if (fd < 0) {
        perror(name);
        exit(1);
    }
    return fd;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;)
        pthread_cond_wait(&never, &mu);
    return NULL;
}

static char *big, *zeros, *fileread;

/* Takes SIGUSR1, SIGUSR2 and SIGHUP (blocked in every thread) one at a
 * time, by read(2) of a signalfd: the kernel restarts that read by itself
 * after a SIGSTOP and SIGCONT, where sigwait's system call fails with EINTR
 * and glibc writes errno, which would change the thread's memory between a
 * core of the stopped process and the kernel's own core after SIGCONT. */
static void *changer(void *arg)
{
    int sfd = signalfd(-1, arg, 0);
    if (sfd < 0)
        abort();
    for (;;) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
            continue;
        int sig = (int)si.ssi_signo;
        if (sig == SIGUSR1) {
            fill(fileread + 2 * PAGE, PAGE, 0xf2);
        } else if (sig == SIGHUP) {
            fill(big, PAGE, 0x5eed);
            madvise(big + 16 * MIB, MIB, MADV_DONTNEED);
            printf("DROP %p %d\n", (void *)(big + 16 * MIB), MIB);
        } else {
            munmap(zeros, 64 * PAGE);
            printf("UNMAP zeros\n");
            char *later = map("later", 16 * PAGE, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1);
            fill(later, 16 * PAGE, 0x1a7e);
        }
        printf("CHANGED\n");
        fflush(stdout);
        FILE *f = fopen("changed", "a");
        if (f) {
            fputs("CHANGED\n", f);
            fclose(f);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 32;
    if (mib > 64)
        mib = 64;
    const int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;

    big = map("big", 1024 * (size_t)MIB, rw, anon, -1);
    for (size_t i = 0; i < mib; i++)
        fill(big + i * 16 * MIB, MIB, 0x1000 + i);
    zeros = map("zeros", 64 * PAGE, rw, anon, -1);
    for (size_t i = 0; i < 64; i++)
        ((volatile char *)zeros)[i * PAGE] = 0;
    char *dd = map("dontdump", 16 * PAGE, rw, anon, -1);
    fill(dd, 16 * PAGE, 0xdd);
    madvise(dd, 16 * PAGE, MADV_DONTDUMP);
    char *sh = map("shared", 8 * PAGE, rw, MAP_SHARED | MAP_ANONYMOUS, -1);
    fill(sh, 8 * PAGE, 0x5a);
    int mfd = memfd_create("gcore-shapes", 0);
    if (mfd < 0 || ftruncate(mfd, 8 * PAGE) < 0)
        return 1;
    char *mf = map("memfd", 8 * PAGE, rw, MAP_SHARED, mfd);
    fill(mf, 2 * PAGE, 0x3fd);
    int ffd = file_of("shapes.data", 4 * PAGE);
    char *fp = map("fileprivate", 4 * PAGE, rw, MAP_PRIVATE, ffd);
    fill(fp + PAGE, PAGE, 0xf1);
    map("fileshared", 4 * PAGE, PROT_READ, MAP_SHARED, ffd);
    int efd = file_of("shapes.short", PAGE);
    char *pe = map("pasteof", 4 * PAGE, rw, MAP_PRIVATE, efd);
    fill(pe, PAGE, 0xe0f);
    map("guard", 4 * PAGE, PROT_NONE, anon, -1);
    fileread = map("fileread", 4 * PAGE, rw, MAP_PRIVATE, ffd);

    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t th;
    pthread_create(&th, NULL, waiter, NULL);
    pthread_create(&th, NULL, changer, &set);
    printf("READY\n");
    fflush(stdout);
    for (;;)
        pause();
}
