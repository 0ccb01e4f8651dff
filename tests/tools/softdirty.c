/* softdirty.so: LD_PRELOADed into goinspect by tests/test_gcore.py on a
 * kernel built without CONFIG_MEM_SOFT_DIRTY, it stands in for the
 * kernel's soft-dirty bits so that the pre-copy path of goinspect gcore
 * runs: in the pagemap entries goinspect reads (bit 55), the pages of the
 * ranges in $SOFTDIRTY_CLEAN ("lo-hi,lo-hi", hex) of the target were not
 * written since the clear, and every other page was.  For goinspect's own
 * test of the
 * bits (/proc/self/pagemap: clear, read, write, read), the first read
 * after a clear says clean and the next written.  PAGEMAP_SCAN fails with
 * ENOTTY, so that goinspect reads the entries.  The test that preloads it
 * lists only pages the target does not write. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define SOFT_DIRTY (1ull << 55)

enum { MAX_FDS = 64 };

static int target_fds[MAX_FDS], self_fds[MAX_FDS];
static int self_reads;

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (_IOC_TYPE(req) == 'f' && _IOC_NR(req) == 16) {     /* PAGEMAP_SCAN */
        errno = ENOTTY;
        return -1;
    }
    int (*real)(int, unsigned long, ...) = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    return real(fd, req, arg);
}

static void remember(int *set, int fd)
{
    for (int i = 0; i < MAX_FDS; i++)
        if (set[i] == 0) {
            set[i] = fd + 1;
            return;
        }
}

static int known(const int *set, int fd)
{
    for (int i = 0; i < MAX_FDS; i++)
        if (set[i] == fd + 1)
            return 1;
    return 0;
}

static void forget(int fd)
{
    for (int i = 0; i < MAX_FDS; i++) {
        if (target_fds[i] == fd + 1)
            target_fds[i] = 0;
        if (self_fds[i] == fd + 1)
            self_fds[i] = 0;
    }
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = va_arg(ap, int);
    va_end(ap);
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    int fd = real(path, flags, mode);
    size_t n = strlen(path);
    if (fd >= 0 && n > 8 && strcmp(path + n - 8, "/pagemap") == 0)
        remember(strcmp(path, "/proc/self/pagemap") == 0 ? self_fds : target_fds, fd);
    if (fd >= 0 && n > 11 && strcmp(path + n - 11, "/clear_refs") == 0)
        self_reads = 0;
    return fd;
}

int close(int fd)
{
    forget(fd);
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "close");
    return real(fd);
}

/* $SOFTDIRTY_CLEAN, parsed once. */
static uint64_t clean[16][2];
static int nclean = -1;

static int listed(uint64_t addr)
{
    if (nclean < 0) {
        nclean = 0;
        const char *s = getenv("SOFTDIRTY_CLEAN");
        while (s && *s && nclean < 16) {
            char *end;
            clean[nclean][0] = strtoull(s, &end, 16);
            clean[nclean][1] = *end == '-' ? strtoull(end + 1, &end, 16) : clean[nclean][0];
            nclean++;
            s = *end == ',' ? end + 1 : NULL;
        }
    }
    for (int i = 0; i < nclean; i++)
        if (clean[i][0] <= addr && addr < clean[i][1])
            return 1;
    return 0;
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
    ssize_t (*real)(int, void *, size_t, off_t) =
        (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
    ssize_t got = real(fd, buf, len, off);
    if (got <= 0)
        return got;
    uint64_t *e = buf;
    size_t n = (size_t)got / 8;
    if (known(self_fds, fd)) {
        int written = self_reads++ % 2;
        for (size_t i = 0; i < n; i++)
            e[i] = written ? e[i] | SOFT_DIRTY : e[i] & ~SOFT_DIRTY;
    } else if (known(target_fds, fd)) {
        for (size_t i = 0; i < n; i++) {
            uint64_t addr = ((uint64_t)off / 8 + i) * 4096;
            e[i] = listed(addr) ? e[i] & ~SOFT_DIRTY : e[i] | SOFT_DIRTY;
        }
    }
    return got;
}
