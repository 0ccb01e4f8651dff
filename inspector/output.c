/*
 * output.c — the buffered writer of output.h.
 */
#include "output.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdstreams.h"

#define OUT_CAP (64 * 1024)
#define OUT_WRITER_CAP (256 * 1024)    /* each of the two buffers with a writing
                                           thread: fewer hand-overs */

static void failed(struct out *o, int err)
{
    o->failed = true;
    o->err = err;
    if (o->fd == STDOUT_FILENO)
        stdout_write_failed(err);
}

void out_init(struct out *o, int fd)
{
    o->w = NULL;
    o->fd = fd;
    o->buf = malloc(OUT_CAP);
    o->len = 0;
    o->cap = o->buf ? OUT_CAP : 0;
    o->failed = false;
    o->err = 0;
    if (!o->buf)
        failed(o, ENOMEM);
}

static void writer_stop(struct out *o);

void out_free(struct out *o)
{
    if (o->w)
        writer_stop(o);
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

/* Writes buf[0..len) to fd; false on a failure, whose errno is in *err. */
static bool write_all(int fd, const char *buf, size_t len, int *err)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0) {
            int e = errno;
            if (e == EINTR || ((e == EAGAIN || e == EWOULDBLOCK) && wait_writable(fd)))
                continue;
            *err = e;
            return false;
        }
        off += (size_t)n;
    }
    return true;
}

/* ---- The writing thread --------------------------------------------------- */

struct out_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf;              /* the buffer the thread writes, or the spare one */
    size_t len, cap;
    bool busy;              /* buf[0..len) is being written */
    bool quit;
    int err;                /* the errno of a failed write, 0 if none */
};

static void *writer_main(void *arg)
{
    struct out *o = arg;
    struct out_writer *w = o->w;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy)
            break;
        pthread_mutex_unlock(&w->mu);
        int err = 0;
        /* after a failure nothing more is written, as out_flush does */
        if (!w->err && !write_all(o->fd, w->buf, w->len, &err))
            w->err = err;
        pthread_mutex_lock(&w->mu);
        w->busy = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until the thread has written what it was given; called with w->mu
 * held.  Its failure becomes o's. */
static void writer_wait(struct out *o)
{
    struct out_writer *w = o->w;
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->err && !o->failed)
        failed(o, w->err);
}

bool out_start_writer(struct out *o)
{
    struct out_writer *w = calloc(1, sizeof *w);
    char *big = NULL;
    if (!w || o->failed || !(w->buf = malloc(OUT_WRITER_CAP)) ||
        (o->cap < OUT_WRITER_CAP && !(big = realloc(o->buf, OUT_WRITER_CAP)))) {
        if (w)
            free(w->buf);
        free(w);
        return false;
    }
    if (big) {
        o->buf = big;
        o->cap = OUT_WRITER_CAP;
    }
    w->cap = OUT_WRITER_CAP;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    o->w = w;
    if (pthread_create(&w->thread, NULL, writer_main, o) != 0) {
        o->w = NULL;
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w->buf);
        free(w);
        return false;
    }
    return true;
}

/* out_flush with a writing thread: hands o's buffer over once the thread
 * is done with the other, which becomes o's. */
static bool writer_flush(struct out *o)
{
    struct out_writer *w = o->w;
    pthread_mutex_lock(&w->mu);
    writer_wait(o);
    if (o->len && !o->failed) {
        char *b = w->buf;
        size_t cap = w->cap;
        w->buf = o->buf;
        w->cap = o->cap;
        w->len = o->len;
        o->buf = b;
        o->cap = cap;
        w->busy = true;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    o->len = 0;
    return !o->failed;
}

/* Everything given written: back to synchronous writes. */
static void writer_stop(struct out *o)
{
    struct out_writer *w = o->w;
    writer_flush(o);
    pthread_mutex_lock(&w->mu);
    writer_wait(o);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->buf);
    free(w);
    o->w = NULL;
}

bool out_flush(struct out *o)
{
    if (o->w)
        return writer_flush(o);
    int err = 0;
    if (o->len && !o->failed && !write_all(o->fd, o->buf, o->len, &err))
        failed(o, err);
    o->len = 0;
    return !o->failed;
}

void out_mem_slow(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (n > o->cap - o->len) {
        out_flush(o);
        if (n > o->cap && o->w) {
            /* larger than the buffer: write it through after what the
             * thread has */
            pthread_mutex_lock(&o->w->mu);
            writer_wait(o);
            pthread_mutex_unlock(&o->w->mu);
            int err = 0;
            if (!o->failed && !write_all(o->fd, s, n, &err))
                failed(o, err);
            return;
        }
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
