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

void out_json_str(struct out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        out_mem(o, "null", 4);
        return;
    }
    out_char(o, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            out_char(o, '\\');
            out_char(o, (char)c);
        } else if (c < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            out_mem(o, esc, 6);
        } else {
            out_char(o, (char)c);
        }
    }
    out_char(o, '"');
}
