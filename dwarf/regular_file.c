/*
 * regular_file.c — opening a file that must be an ordinary file, without
 * ever blocking: a FIFO's open(2) waits for a writer and a device's may
 * wait or act, so the type is checked with stat(2) before the open, the
 * open is non-blocking, and fstat(2) checks the file opened again (the
 * path may have been replaced in between).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static const char *kind_of(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    default: return "not a file of data";
    }
}

static int not_regular(const char *path, mode_t mode, struct gd_error *err)
{
    return gd_fail(err, GD_ENOTREG, "%s: is not an ordinary file (it is %s)", path,
                   kind_of(mode));
}

int regular_file_open(const char *path, uint64_t *size, struct gd_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return gd_fail(err, GD_ENOENT, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return not_regular(path, st.st_mode, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return gd_fail(err, GD_ENOENT, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return gd_fail(err, GD_ENOENT, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return not_regular(path, st.st_mode, err);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = (uint64_t)st.st_size;
    return fd;
}
