/*
 * print.c — the runtime's own output to fd 2, usable from a signal handler.
 *
 * print_fmt formats by itself, in a buffer on the stack: no stdio (its
 * locks may be held by the thread that failed), no heap, no locale.  It
 * knows the conversions the runtime's messages use: %s %.*s %c %d %i %u %x
 * with the l, ll and z sizes, the # flag, %p and %%; no width, no other
 * flag.  Anything else is printed as given and takes no argument (so the
 * arguments after it are taken wrong: use none).  Long output is written
 * in pieces, never cut.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "profproto.h"
#include "runtime.h"

static void write_fd2(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(2, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* While a report is printed, its thread's output is held in a buffer and
 * written a run of whole lines at a time, so that what other threads write
 * meanwhile comes between the report's lines, never inside one. */
static __thread bool holding __attribute__((tls_model("initial-exec")));
static char held[8192];
static size_t nheld;

static void flush_lines(bool all)
{
    size_t n = nheld;
    if (!all) {
        while (n > 0 && held[n - 1] != '\n')
            n--;
        if (n == 0)
            n = nheld;      /* one line longer than the buffer: cut it */
    }
    write_fd2(held, n);
    memmove(held, held + n, nheld - n);
    nheld -= n;
}

/* A thread's output redirected into a buffer (print_to): the goroutine
 * dumps of the debug endpoint. */
static __thread struct ppbuf *sink __attribute__((tls_model("initial-exec")));

void print_to(struct ppbuf *buf)
{
    sink = buf;
}

static void write_all(const char *s, size_t len)
{
    if (sink) {
        ppbuf_put(sink, s, len);
        return;
    }
    if (!holding) {
        write_fd2(s, len);
        return;
    }
    while (len > 0) {
        if (nheld == sizeof held)
            flush_lines(false);
        size_t k = sizeof held - nheld;
        if (k > len)
            k = len;
        memcpy(held + nheld, s, k);
        nheld += k;
        s += k;
        len -= k;
    }
}

void print_hold(bool on)
{
    if (holding && !on)
        flush_lines(true);
    holding = on;
}

void print_str(const char *s)
{
    write_all(s, strlen(s));
}

struct pbuf {
    char b[512];
    size_t n;
};

static void put(struct pbuf *p, const char *s, size_t len)
{
    while (len > 0) {
        if (p->n == sizeof p->b) {
            write_all(p->b, p->n);
            p->n = 0;
        }
        size_t k = sizeof p->b - p->n;
        if (k > len)
            k = len;
        memcpy(p->b + p->n, s, k);
        p->n += k;
        s += k;
        len -= k;
    }
}

static void put_uint(struct pbuf *p, unsigned long long v, unsigned base, bool alt)
{
    char d[24];
    int k = (int)sizeof d;
    do {
        d[--k] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (alt)
        put(p, "0x", 2);
    put(p, d + k, sizeof d - (size_t)k);
}

void print_fmt(const char *fmt, ...)
{
    struct pbuf p;
    p.n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *c = fmt; *c; c++) {
        if (*c != '%') {
            const char *e = strchr(c, '%');
            size_t len = e ? (size_t)(e - c) : strlen(c);
            put(&p, c, len);
            c += len - 1;
            continue;
        }
        const char *start = c++;
        bool alt = false;
        int prec = -1, size = 0;       /* size: 1 l, 2 ll, 3 z */
        if (*c == '#') {
            alt = true;
            c++;
        }
        if (c[0] == '.' && c[1] == '*') {
            prec = va_arg(ap, int);
            c += 2;
        }
        if (*c == 'z') {
            size = 3;
            c++;
        } else if (c[0] == 'l' && c[1] == 'l') {
            size = 2;
            c += 2;
        } else if (*c == 'l') {
            size = 1;
            c++;
        }
        switch (*c) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t len = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
            put(&p, s, len);
            break;
        }
        case 'c': {
            char ch = (char)va_arg(ap, int);
            put(&p, &ch, 1);
            break;
        }
        case 'd':
        case 'i': {
            long long v = size == 2 ? va_arg(ap, long long)
                        : size == 1 ? va_arg(ap, long)
                        : size == 3 ? (long long)va_arg(ap, ssize_t) : va_arg(ap, int);
            if (v < 0)
                put(&p, "-", 1);
            put_uint(&p, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, 10, false);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = size == 2 ? va_arg(ap, unsigned long long)
                                 : size == 1 ? va_arg(ap, unsigned long)
                                 : size == 3 ? va_arg(ap, size_t) : va_arg(ap, unsigned);
            put_uint(&p, v, *c == 'x' ? 16 : 10, alt && *c == 'x');
            break;
        }
        case 'p':
            put_uint(&p, (uintptr_t)va_arg(ap, void *), 16, true);
            break;
        case '%':
            put(&p, "%", 1);
            break;
        default:        /* not known here: as written */
            if (!*c)
                c--;
            put(&p, start, (size_t)(c - start + 1));
            break;
        }
    }
    va_end(ap);
    write_all(p.b, p.n);
}
