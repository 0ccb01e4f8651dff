/*
 * stdstreams.h — the standard streams of the goinspect process: the three
 * descriptors kept open, and write errors on standard output.
 *
 * A descriptor 0, 1 or 2 that goinspect was started without is opened on
 * /dev/null for reading, so no file goinspect opens later becomes its
 * standard output, and a write to a closed standard output fails (EBADF)
 * as it would have.  Output reaches descriptor 1 two ways, output.h's
 * buffered writer and stdio (help, usage, the prompt); the first error of
 * either is kept and reported once, when the command has finished and the
 * target is released, as "goinspect: write error on standard output: WHY".
 */
#ifndef GOINSPECT_STDSTREAMS_H
#define GOINSPECT_STDSTREAMS_H

#include <stdbool.h>
#include <stdio.h>

/* Opens /dev/null on each of descriptors 0, 1, 2 that is closed. */
void std_streams_init(void);

/* A write to standard output failed with errno err (the first one counts). */
void stdout_write_failed(int err);
/* Whether a write to standard output has failed. */
bool stdout_has_failed(void);

/* fprintf, noting a failure when f is stdout. */
void stdio_printf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fflush(stdout), noting a failure; false once standard output failed. */
bool stdout_flush(void);

/* Flushes standard output and reports its write error, if any, on stderr;
 * returns the exit code: rc, or 1 after a write error when rc is 0. */
int std_streams_finish(int rc);

#endif
