/*
 * textfmt.c — text output helpers (textfmt.h).
 */
#include "textfmt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"

void outf(struct out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        out_mem(o, buf, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    out_mem(o, big, (size_t)n);
    free(big);
}

/* Two units of a duration: "850ms", "12s", "5m12s", "2h3m", "4d2h". */
static int duration_parts(int64_t ns, uint64_t v[2], const char *u[2])
{
    if (ns < 0)
        ns = 0;
    uint64_t s = (uint64_t)ns / 1000000000;
    if (s < 1) {
        v[0] = (uint64_t)ns / 1000000;
        u[0] = "ms";
        return 1;
    }
    if (s < 60) {
        v[0] = s;
        u[0] = "s";
        return 1;
    }
    static const uint64_t unit[3] = {60, 3600, 86400};
    static const char *const name[4] = {"s", "m", "h", "d"};
    int k = s < 3600 ? 0 : s < 86400 ? 1 : 2;
    v[0] = s / unit[k];
    v[1] = (s % unit[k]) / (k ? unit[k - 1] : 1);
    u[0] = name[k + 1];
    u[1] = name[k];
    return 2;
}

void fmt_duration(int64_t ns, char *buf, size_t len)
{
    uint64_t v[2];
    const char *u[2];
    int n = duration_parts(ns, v, u);
    if (n == 1)
        snprintf(buf, len, "%" PRIu64 "%s", v[0], u[0]);
    else
        snprintf(buf, len, "%" PRIu64 "%s%" PRIu64 "%s", v[0], u[0], v[1], u[1]);
}

void out_duration(struct out *o, int64_t ns)
{
    uint64_t v[2];
    const char *u[2];
    int n = duration_parts(ns, v, u);
    for (int i = 0; i < n; i++) {
        out_u64(o, v[i]);
        out_str(o, u[i]);
    }
}

void fmt_pause(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000000)
        snprintf(buf, len, "%" PRIu64 "us", ns / 1000);
    else
        snprintf(buf, len, "%.2fms", (double)ns / 1e6);
}

void fmt_size(uint64_t bytes, char *buf, size_t len)
{
    static const char units[] = "KMGTP";
    if (bytes < 1024) {
        snprintf(buf, len, "%" PRIu64 "B", bytes);
        return;
    }
    double v = (double)bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (v < 10 && v != (double)(uint64_t)v)
        snprintf(buf, len, "%.1f%c", v, units[u]);
    else
        snprintf(buf, len, "%.0f%c", v, units[u]);
}

void str_append(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}
