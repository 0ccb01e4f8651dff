/*
 * textfmt.h — text output helpers for the attach commands: printf onto the
 * buffered writer, durations and sizes the way people read them.
 */
#ifndef GOINSPECT_TEXTFMT_H
#define GOINSPECT_TEXTFMT_H

#include <stddef.h>
#include <stdint.h>

#include "output.h"

void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "850ms", "12s", "5m12s", "2h3m", "4d2h" */
void fmt_duration(int64_t ns, char *buf, size_t len);
/* The same, written straight to o (no formatting on the hot path). */
void out_duration(struct out *o, int64_t ns);
/* A pause, with more precision: "1.53ms", "420us" */
void fmt_pause(uint64_t ns, char *buf, size_t len);
/* "288B", "4.0K", "64K", "1.5M", "2.0G" */
void fmt_size(uint64_t bytes, char *buf, size_t len);
/* Appends to the NUL-terminated text in buf (of len bytes), truncating. */
void str_append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
