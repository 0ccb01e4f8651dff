/*
 * output.h — buffered output for commands that print a lot: formatting
 * without stdio's per-call overhead, JSON string escaping, and explicit
 * flushing (a co-process reader must see each answer before it blocks).
 *
 * Two ways to write: the out_* calls, each checking for room; or, for a
 * hot loop, out_reserve() of an upper bound, the put_* helpers on the
 * returned pointer (no checks), then out_commit() of where they ended.
 */
#ifndef GOINSPECT_OUTPUT_H
#define GOINSPECT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

struct out_writer;

struct out {
    int fd;
    char *buf;
    size_t len, cap;
    bool failed;            /* a write failed (EPIPE...), or out of memory */
    int err;                /* then the errno of that failure */
    struct out_writer *w;   /* the writing thread, NULL: writes are synchronous */
};

void out_init(struct out *o, int fd);
/* Writes what is buffered and waits for the writing thread, if any, to
 * end; a failure of its writes is then in o->failed (and reported as
 * out_flush reports it). */
void out_free(struct out *o);
/* From now on a thread of its own writes each flushed buffer while the
 * caller fills the next one (two buffers): out_flush hands the buffer over
 * and returns without waiting for the write, which still happens however
 * long the caller then blocks, so a co-process reader gets its answer.
 * The order of the output is kept.  A write failure shows in o->failed at
 * a later out_flush or at out_free.  False (and the output stays
 * synchronous) if the thread cannot be started. */
bool out_start_writer(struct out *o);
/* Writes what is buffered; false once a write has failed (a failure on
 * standard output is also reported to stdstreams.h). */
bool out_flush(struct out *o);
void out_mem_slow(struct out *o, const char *s, size_t n);
char *out_reserve_slow(struct out *o, size_t n);

/* ---- Unchecked formatting into a reserved buffer ----------------------- */

/* Copies n bytes; short strings without a call to memcpy (and without
 * reading past s + n). */
static inline char *put_mem(char *d, const char *s, size_t n)
{
    if (n > 64) {
        memcpy(d, s, n);
    } else if (n > 32) {
        /* source paths: two overlapping copies instead of a call */
        memcpy(d, s, 32);
        memcpy(d + n - 32, s + n - 32, 32);
    } else if (n >= 16) {
        memcpy(d, s, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n) {
        d[0] = s[0];
        d[n >> 1] = s[n >> 1];
        d[n - 1] = s[n - 1];
    }
    return d + n;
}

/* Decimal; writes at most 20 bytes. */
static inline char *put_u64(char *p, uint64_t v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    if (v < 10000) {
        /* four digits with leading zeros, shifted past the zeros (counted
         * as the '0' bytes before the first other one, at most three): no
         * loop, no branch */
        uint32_t x = (uint32_t)v, d = x * 5243 >> 19;      /* x / 100 */
        uint16_t hi, lo;
        memcpy(&hi, pairs + 2 * d, 2);
        memcpy(&lo, pairs + 2 * (x - 100 * d), 2);
        uint32_t w = (uint32_t)lo << 16 | hi;
        unsigned zeros = (unsigned)__builtin_ctz((w ^ 0x30303030u) | 1u << 24) / 8;
        w >>= 8 * zeros;
        memcpy(p, &w, 4);
        return p + 4 - zeros;
    }
    unsigned n = 5;
    for (uint64_t t = 100000; n < 20 && v >= t; t *= 10)
        n++;
    char *q = p + n;
    while (v >= 100) {
        q -= 2;
        memcpy(q, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, pairs + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    return p + n;
}

/* "0x" and 16 lowercase hex digits (18 bytes), as binutils prints a 64-bit
 * address: each nibble spread to a byte (most significant first), then
 * made ASCII, with SSE2 where there is SSE2. */
static inline char *put_addr16(char *p, uint64_t v)
{
    p[0] = '0';
    p[1] = 'x';
#if defined(__SSE2__) && defined(__x86_64__)
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i x = _mm_cvtsi64_si128((long long)__builtin_bswap64(v));
    __m128i nib = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(x, 4), low4),
                                    _mm_and_si128(x, low4));
    __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(nib, _mm_set1_epi8(9)),
                                    _mm_set1_epi8('a' - '0' - 10));
    _mm_storeu_si128((__m128i *)(p + 2),
                     _mm_add_epi8(_mm_add_epi8(nib, _mm_set1_epi8('0')), letters));
#else
    for (int half = 0; half < 2; half++) {
        uint64_t x = (uint32_t)(v >> (32 - 32 * half));
        x = (x | x << 16) & 0x0000ffff0000ffffull;
        x = (x | x << 8) & 0x00ff00ff00ff00ffull;
        x = (x | x << 4) & 0x0f0f0f0f0f0f0f0full;
        uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
        x = __builtin_bswap64(x + 0x3030303030303030ull + letters * ('a' - '0' - 10));
        memcpy(p + 2 + 8 * half, &x, 8);
    }
#endif
    return p + 18;
}

/* Room for n bytes at the end of the buffer (flushed first, or grown, when
 * there is not); NULL once output has failed. */
static inline char *out_reserve(struct out *o, size_t n)
{
    return n <= o->cap - o->len ? o->buf + o->len : out_reserve_slow(o, n);
}

/* What the put_* calls wrote up to end is part of the output. */
static inline void out_commit(struct out *o, char *end)
{
    o->len = (size_t)(end - o->buf);
}

/* ---- Checked writes ------------------------------------------------------ */

static inline void out_mem(struct out *o, const char *s, size_t n)
{
    if (n <= o->cap - o->len)
        o->len = (size_t)(put_mem(o->buf + o->len, s, n) - o->buf);
    else
        out_mem_slow(o, s, n);
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
/* A JSON string literal (with quotes), or null for NULL.  Well-formed UTF-8
 * is written as it is; '"', '\\' and control characters are escaped, and
 * each byte of no well-formed UTF-8 sequence is written as \udcXX (the
 * byte's value in XX; see docs/json.md). */
void out_json_str(struct out *o, const char *s);
/* The length of the well-formed UTF-8 sequence at p, 0 when there is none. */
size_t utf8_len(const unsigned char *p);

#endif
