/*
 * stdstreams.c — the standard streams of the process (stdstreams.h).
 */
#include "stdstreams.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "command.h"

static int stdout_error;        /* errno of the first failed write, 0: none */

void std_streams_init(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        /* the lowest free descriptor: fd itself */
        int got = open("/dev/null", O_RDONLY);
        if (got < 0)
            got = open("/", O_RDONLY | O_DIRECTORY);
        if (got >= 0 && got != fd)
            close(got);
    }
}

void stdout_write_failed(int err)
{
    if (!stdout_error)
        stdout_error = err ? err : EIO;
}

bool stdout_has_failed(void)
{
    return stdout_error != 0;
}

void stdio_printf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    int err = errno;
    va_end(ap);
    if (f == stdout && (n < 0 || ferror(stdout)))
        stdout_write_failed(err);
}

bool stdout_flush(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        stdout_write_failed(errno);
    return !stdout_error;
}

int std_streams_finish(int rc)
{
    if (stdout_flush())
        return rc;
    die_msg("write error on standard output: %s", strerror(stdout_error));
    return rc ? rc : EXIT_FAIL;
}
