/*
 * bytebuf.c — the growable byte buffer (bytebuf.h).
 */
#include "bytebuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "output.h"

void bb_free(struct bytebuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void bb_add(struct bytebuf *b, const void *p, size_t n)
{
    xgrow(&b->p, &b->cap, b->n + n + 1, 1);
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

void bb_str(struct bytebuf *b, const char *s) { bb_add(b, s, strlen(s)); }

void bb_printf(struct bytebuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    xgrow(&b->p, &b->cap, b->n + (size_t)need + 1, 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->n, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

void bb_xml(struct bytebuf *b, const char *s)
{
    for (; *s; s++) {
        size_t n = (unsigned char)*s >= 0x80 ? utf8_len((const unsigned char *)s) : 0;
        if (n) {
            bb_add(b, s, n);
            s += n - 1;
            continue;
        }
        if ((unsigned char)*s >= 0x80) {
            bb_printf(b, "\\x%02x", (unsigned char)*s);
            continue;
        }
        switch (*s) {
        case '&': bb_str(b, "&amp;"); break;
        case '<': bb_str(b, "&lt;"); break;
        case '>': bb_str(b, "&gt;"); break;
        case '"': bb_str(b, "&quot;"); break;
        case '\'': bb_str(b, "&#39;"); break;
        default:
            if ((unsigned char)*s >= 0x20)
                bb_add(b, s, 1);
        }
    }
}
