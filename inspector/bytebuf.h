/*
 * bytebuf.h — a growable byte buffer that the profile writers build their
 * files in (pprof.c, folded.c, flamegraph_svg.c, record_json.c) before
 * record.c writes it out whole.
 */
#ifndef GOINSPECT_BYTEBUF_H
#define GOINSPECT_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

struct bytebuf {
    uint8_t *p;
    size_t n, cap;
};

void bb_free(struct bytebuf *b);
void bb_add(struct bytebuf *b, const void *p, size_t n);
void bb_str(struct bytebuf *b, const char *s);
void bb_printf(struct bytebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as XML text: &, <, >, " and ' as entities, control bytes dropped, a
 * byte of no well-formed UTF-8 sequence as the text \xNN (XML holds
 * characters, not bytes). */
void bb_xml(struct bytebuf *b, const char *s);

#endif
