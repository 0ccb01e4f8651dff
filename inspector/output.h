/*
 * output.h — buffered output for commands that print a lot: formatting
 * without stdio's per-call overhead, JSON string escaping, and explicit
 * flushing (a co-process reader must see each answer before it blocks).
 */
#ifndef GOINSPECT_OUTPUT_H
#define GOINSPECT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct out {
    int fd;
    char *buf;
    size_t len, cap;
    bool failed;            /* a write failed (EPIPE...) */
};

void out_init(struct out *o, int fd);
void out_free(struct out *o);
bool out_flush(struct out *o);
void out_mem_slow(struct out *o, const char *s, size_t n);

static inline void out_mem(struct out *o, const char *s, size_t n)
{
    if (n <= o->cap - o->len) {
        memcpy(o->buf + o->len, s, n);
        o->len += n;
    } else {
        out_mem_slow(o, s, n);
    }
}

static inline void out_str(struct out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static inline void out_char(struct out *o, char c)
{
    if (o->len < o->cap)
        o->buf[o->len++] = c;
    else
        out_mem_slow(o, &c, 1);
}

void out_u64(struct out *o, uint64_t v);
/* "0x" and 16 lowercase hex digits, as binutils prints a 64-bit address. */
void out_addr16(struct out *o, uint64_t v);
/* A JSON string literal (with quotes), or null for NULL. */
void out_json_str(struct out *o, const char *s);

#endif
