/*
 * error.c — error codes and messages, warnings, and the one growth helper
 * every array in the library uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

const char *gd_strerror(int code)
{
    switch (code) {
    case GD_OK: return "success";
    case GD_ENOENT: return "cannot open file";
    case GD_ENOTELF: return "not an ELF file";
    case GD_EBADELF: return "truncated or corrupt ELF file";
    case GD_EUNSUP: return "unsupported ELF file";
    case GD_ENOMEM: return "out of memory";
    case GD_ENOTFOUND: return "not found";
    case GD_EDWARF: return "corrupt DWARF";
    case GD_ENOTREG: return "not an ordinary file";
    default: return "unknown error";
    }
}

int gd_fail(struct gd_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void gd_warn(const struct gd_warner *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!w || !w->fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->fn(w->ctx, msg);
}

void gd_hint_huge(void *p, size_t bytes)
{
    /* Large index arrays are written once from end to end: transparent
     * huge pages take most of the page faults out of building them. */
    const uintptr_t huge = 2u << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
#ifdef MADV_HUGEPAGE
    if (p && hi > lo)
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)lo;
    (void)hi;
#endif
}

void *gd_alloc_lines(size_t n, size_t elem)
{
    if (n == 0)
        n = 1;
    if (n > (SIZE_MAX - 63) / elem)
        return NULL;
    size_t bytes = (n * elem + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (p && bytes >= (4u << 20))
        gd_hint_huge(p, bytes);
    return p;
}

bool gd_reserve(void **v, size_t *cap, size_t len, size_t n, size_t elem)
{
    if (n <= *cap - len)
        return true;
    if (n > (SIZE_MAX / elem) - len)
        return false;
    size_t want = len + n;
    size_t c = *cap ? *cap : 16;
    while (c < want)
        c = c > SIZE_MAX / 2 / elem ? want : c * 2;
    void *p = realloc(*v, c * elem);
    if (!p)
        return false;
    if (c * elem >= (4u << 20))
        gd_hint_huge(p, c * elem);
    *v = p;
    *cap = c;
    return true;
}
