/* oldsystem.so: LD_PRELOADed into goinspect by tests/test_gcore.py, it
 * makes this machine look like one goinspect gcore must also work on: a
 * kernel without the PAGEMAP_SCAN ioctl (before Linux 6.7: ENOTTY, as
 * such a kernel answers) and a file system without O_TMPFILE (NFS, FUSE:
 * EOPNOTSUPP).  Everything else goes to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#define PAGEMAP_SCAN_NR 16      /* _IOWR('f', 16, struct pm_scan_arg) */

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (_IOC_TYPE(req) == 'f' && _IOC_NR(req) == PAGEMAP_SCAN_NR) {
        errno = ENOTTY;
        return -1;
    }
    int (*real)(int, unsigned long, ...) = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    return real(fd, req, arg);
}

/* goinspect opens its nameless file with open() */
int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = va_arg(ap, int);
    va_end(ap);
    if ((flags & O_TMPFILE) == O_TMPFILE) {
        errno = EOPNOTSUPP;
        return -1;
    }
    int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    return real(path, flags, mode);
}
