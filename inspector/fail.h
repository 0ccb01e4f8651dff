/*
 * fail.h — error messages of the attach machinery, and allocation that
 * cannot fail.
 *
 * A function that can fail fills a struct fail with "WHAT: WHY" and returns
 * -1; the command prints it as "goinspect: WHAT: WHY".  Allocation failure
 * is fatal: xmalloc and friends print a message and exit, and exiting is
 * always safe for the target (the kernel detaches a tracer that exits).
 */
#ifndef GOINSPECT_FAIL_H
#define GOINSPECT_FAIL_H

#include <stddef.h>

struct fail {
    char msg[640];
};

/* Sets f's message (printf-style; f may be NULL) and returns -1. */
int fail_set(struct fail *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "WHAT: " to f's message and returns -1. */
int fail_wrap(struct fail *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Grows *p (an array of *cap elements of size esize) to hold at least need. */
void xgrow(void *pp, size_t *cap, size_t need, size_t esize);

#endif
