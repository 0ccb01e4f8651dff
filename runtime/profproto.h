/*
 * profproto.h — building profiles in pprof's format (profile.proto) inside
 * the runtime, for the goroutine, heap, CPU and block profiles.
 *
 *     struct pp_builder *b = pp_new();
 *     pp_sample_type(b, "goroutine", "count");
 *     pp_period(b, "goroutine", "count", 1);
 *     pp_add_sample(b, pcs, n, false, &count, NULL, NULL, 0);
 *     struct ppbuf out = {0};
 *     if (pp_finish(b, &out) == 0) ... write out.data, out.len ...; ppbuf_free(&out);
 *
 * Locations are symbolized in the process by the pc-line table (pcline.c:
 * function, file, line, inline chain) and, without one, by symbol names
 * (symtab.c).  Memory comes from mmap, never from the collected heap nor
 * from malloc: a builder may be used with the world stopped, and uses
 * little stack (goroutine stacks are small).  A builder is used by one
 * goroutine at a time.
 */
#ifndef GORT_PROFPROTO_H
#define GORT_PROFPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer in mmap'd memory.  Zeroed: empty.  A failed
 * growth (out of memory) sets failed and drops later writes. */
struct ppbuf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
};
void ppbuf_put(struct ppbuf *b, const void *p, size_t n);
void ppbuf_putc(struct ppbuf *b, char c);
void ppbuf_puts(struct ppbuf *b, const char *s);
bool ppbuf_reserve(struct ppbuf *b, size_t n);   /* room for n more bytes */
void ppbuf_free(struct ppbuf *b);                /* back to zeroed */
/* Write all of b to fd (EINTR retried); 0, or -1 with errno. */
int ppbuf_write_fd(const struct ppbuf *b, int fd);

struct pp_builder;

/* NULL when out of memory. */
struct pp_builder *pp_new(void);
/* Each sample's values, in the order of these calls. */
void pp_sample_type(struct pp_builder *b, const char *type, const char *unit);
void pp_period(struct pp_builder *b, const char *type, const char *unit, int64_t period);
void pp_default_sample_type(struct pp_builder *b, const char *type);
void pp_time(struct pp_builder *b, int64_t time_nanos, int64_t duration_nanos);
/* A sample: its stack, innermost first (return addresses, looked up at
 * pc - 1, except pcs[0] when leaf_exact), one value per sample type, and a
 * label when label_key is not NULL: a string one when label_str is not
 * NULL, else the number label_num. */
void pp_add_sample(struct pp_builder *b, const uintptr_t *pcs, int npcs, bool leaf_exact,
                   const int64_t *values, const char *label_key, const char *label_str,
                   int64_t label_num);
/* Encode the profile (uncompressed profile.proto, which go tool pprof
 * reads as it is) into *out (appended) and free the builder.  0, or -1
 * when memory ran out on the way (*out then holds nothing usable). */
int pp_finish(struct pp_builder *b, struct ppbuf *out);

#endif
