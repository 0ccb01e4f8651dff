/*
 * output.c — the buffered writer of output.h.
 */
#include "output.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdstreams.h"

#define OUT_CAP (64 * 1024)

static void failed(struct out *o, int err)
{
    o->failed = true;
    o->err = err;
    if (o->fd == STDOUT_FILENO)
        stdout_write_failed(err);
}

void out_init(struct out *o, int fd)
{
    o->fd = fd;
    o->buf = malloc(OUT_CAP);
    o->len = 0;
    o->cap = o->buf ? OUT_CAP : 0;
    o->failed = false;
    o->err = 0;
    if (!o->buf)
        failed(o, ENOMEM);
}

void out_free(struct out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->cap = o->len = 0;
}

/* A descriptor left non-blocking by whoever opened it: wait until it takes
 * more. */
static bool wait_writable(int fd)
{
    struct pollfd p = { fd, POLLOUT, 0 };
    return poll(&p, 1, -1) >= 0 || errno == EINTR;
}

bool out_flush(struct out *o)
{
    size_t off = 0;
    while (off < o->len && !o->failed) {
        ssize_t n = write(o->fd, o->buf + off, o->len - off);
        if (n < 0) {
            int e = errno;
            if (e == EINTR || ((e == EAGAIN || e == EWOULDBLOCK) && wait_writable(o->fd)))
                continue;
            failed(o, e);
            break;
        }
        off += (size_t)n;
    }
    o->len = 0;
    return !o->failed;
}

void out_mem_slow(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (n > o->cap - o->len) {
        out_flush(o);
        if (n > o->cap) {
            /* larger than the buffer: write it through */
            char *save = o->buf;
            o->buf = (char *)s;
            o->len = n;
            out_flush(o);
            o->buf = save;
            return;
        }
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

char *out_reserve_slow(struct out *o, size_t n)
{
    if (o->failed || !out_flush(o))
        return NULL;
    if (n > o->cap) {
        /* more than the buffer holds: grow it (a very long name) */
        char *b = realloc(o->buf, n);
        if (!b) {
            failed(o, ENOMEM);
            return NULL;
        }
        o->buf = b;
        o->cap = n;
    }
    return o->buf;
}

void out_u64(struct out *o, uint64_t v)
{
    char *p = out_reserve(o, 20);
    if (p)
        out_commit(o, put_u64(p, v));
}

void out_addr16(struct out *o, uint64_t v)
{
    char *p = out_reserve(o, 18);
    if (p)
        out_commit(o, put_addr16(p, v));
}

/* Length of the well-formed UTF-8 sequence at p (Unicode's table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 when none
 * starts there.  p is NUL-terminated, and NUL is no continuation byte, so
 * nothing past the terminator is read. */
size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;     /* range of the second byte */
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* A byte JSON cannot hold as it is: \" and \\, control characters as
 * \u00XX, and a byte of no well-formed UTF-8 sequence as \udcXX (PEP 383's
 * surrogateescape: U+DC80..U+DCFF). */
static void json_escape(struct out *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c == '"' || c == '\\') {
        char esc[2] = { '\\', (char)c };
        out_mem(o, esc, 2);
        return;
    }
    char esc[6] = { '\\', 'u', c < 0x80 ? '0' : 'd', c < 0x80 ? '0' : 'c', hex[c >> 4],
                    hex[c & 15] };
    out_mem(o, esc, 6);
}

void out_json_str(struct out *o, const char *s)
{
    if (!s) {
        out_mem(o, "null", 4);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    out_char(o, '"');
    while (*p) {
        /* a run of bytes written as they are */
        const unsigned char *run = p;
        for (;;) {
            unsigned char c = *p;
            size_t n;
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
                p++;
            else if (c >= 0x80 && (n = utf8_len(p)) > 0)
                p += n;
            else
                break;
        }
        out_mem(o, (const char *)run, (size_t)(p - run));
        if (*p)
            json_escape(o, *p++);
    }
    out_char(o, '"');
}
