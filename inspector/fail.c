/*
 * fail.c — error messages and allocation (fail.h).
 */
#include "fail.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fail_set(struct fail *f, const char *fmt, ...)
{
    if (f) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg, sizeof f->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int fail_wrap(struct fail *f, const char *fmt, ...)
{
    if (f) {
        char old[sizeof f->msg];
        memcpy(old, f->msg, sizeof old);
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(f->msg, sizeof f->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof f->msg)
            snprintf(f->msg + n, sizeof f->msg - (size_t)n, ": %s", old);
    }
    return -1;
}

static void out_of_memory(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof msg, "goinspect: out of memory (%zu bytes)\n", n);
    if (write(2, msg, (size_t)len) < 0) {
        /* nothing more to say */
    }
    _exit(1);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

void xgrow(void *pp, size_t *cap, size_t need, size_t esize)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void **p = pp;
    *p = xrealloc(*p, c * esize);
    *cap = c;
}
