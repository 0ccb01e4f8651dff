/*
 * addr_input.c — addresses as addr2line reads them (addr_input.h).
 *
 * Measured against binutils 2.40 and read in its source (addr2line.c's
 * is_symbol and lookup_symbol, bfd_scan_vma, which is strtoul there): after
 * blanks, a string that starts with a digit, or ends there, is a hex
 * number; so is one that starts with a letter a-f/A-F and has no '+'
 * anywhere.  Anything else is SYMBOL[+OFFSET]: SYMBOL runs to a blank or a
 * '+', and after blanks a '+' brings OFFSET, read as strtoul(..., 0) reads
 * (0x hex, 0 octal, else decimal, a sign allowed).  The address is the
 * value of the first symbol of the table with that name, else of the first
 * whose demangled name it is, plus OFFSET; 0 when there is none (OFFSET
 * dropped too).
 */
#include "addr_input.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "demangle.h"

struct demangled_name {
    char *name;
    uint32_t index;             /* in the symbol table */
};

void addr_reader_init(struct addr_reader *r, const gd_binary *b)
{
    memset(r, 0, sizeof *r);
    r->b = b;
}

void addr_reader_free(struct addr_reader *r)
{
    for (size_t i = 0; i < r->ndemangled; i++)
        free(r->demangled[i].name);
    free(r->demangled);
    free(r->by_name);
    memset(r, 0, sizeof *r);
}

/* ---- Numbers ------------------------------------------------------------ */

/* isspace in the C locale (and libiberty's ISSPACE). */
static bool is_blank(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'z' ? c - 'a' + 10 : 99;
}

/* strtoul(s, NULL, base) for base 16 or 0, as C11 7.22.1.4 and glibc have
 * it: blanks, a sign, a 0x/0X that a hex digit follows (base 16; base 0
 * then reads hex, after another leading 0 octal, else decimal), the
 * digits; saturated at 2^64 - 1 when they overflow (the sign ignored then),
 * negated modulo 2^64 after a '-'; 0 without digits. */
static uint64_t scan_unsigned(const char *s, int base)
{
    while (is_blank(*s))
        s++;
    bool minus = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (s[0] == '0' && (s[1] | 0x20) == 'x' && digit_value(s[2]) < 16) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    uint64_t v = 0;
    bool overflow = false;
    for (int d; (d = digit_value(*s)) < base; s++) {
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            overflow = true;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (overflow)
        return UINT64_MAX;
    return minus ? (uint64_t)0 - v : v;
}

/* ---- Names -------------------------------------------------------------- */

static int by_name(const void *a, const void *b, void *syms)
{
    const struct gd_symbol *sym = syms;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = strcmp(sym[x].name, sym[y].name);
    return c ? c : (x > y) - (x < y);
}

static int by_demangled(const void *a, const void *b)
{
    const struct demangled_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Compares the first len bytes of name to a NUL-terminated s. */
static int name_cmp(const char *name, size_t len, const char *s)
{
    int c = strncmp(name, s, len);
    return c ? c : (s[len] ? -1 : 0);
}

static bool build_names(struct addr_reader *r)
{
    r->nsyms = gd_symbols(r->b, &r->syms);
    r->by_name = malloc((r->nsyms ? r->nsyms : 1) * sizeof *r->by_name);
    if (!r->by_name)
        return false;
    for (size_t i = 0; i < r->nsyms; i++)
        r->by_name[i] = (uint32_t)i;
    qsort_r(r->by_name, r->nsyms, sizeof *r->by_name, by_name, (void *)r->syms);
    return true;
}

static void build_demangled(struct addr_reader *r)
{
    r->demangled_built = true;
    r->demangled = malloc((r->nsyms ? r->nsyms : 1) * sizeof *r->demangled);
    if (!r->demangled)
        return;
    for (size_t i = 0; i < r->nsyms; i++) {
        char *d = demangle_symbol(r->syms[i].name);
        if (d)
            r->demangled[r->ndemangled++] = (struct demangled_name){d, (uint32_t)i};
    }
    qsort(r->demangled, r->ndemangled, sizeof *r->demangled, by_demangled);
}

/* The first symbol of the table named name[0..len), by its name, else by
 * its demangled name; NULL if none. */
static const struct gd_symbol *find_symbol(struct addr_reader *r, const char *name, size_t len)
{
    if (!r->by_name && !build_names(r))
        return NULL;
    size_t lo = 0, hi = r->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(name, len, r->syms[r->by_name[mid]].name) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->nsyms && name_cmp(name, len, r->syms[r->by_name[lo]].name) == 0)
        return &r->syms[r->by_name[lo]];
    if (!r->demangled_built)
        build_demangled(r);
    lo = 0;
    hi = r->ndemangled;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_cmp(name, len, r->demangled[mid].name) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->ndemangled && name_cmp(name, len, r->demangled[lo].name) == 0)
        return &r->syms[r->demangled[lo].index];
    return NULL;
}

/* ---- Addresses ---------------------------------------------------------- */

uint64_t addr_read(struct addr_reader *r, const char *s)
{
    const char *p = s;
    while (is_blank(*p))
        p++;
    bool hex_letter = (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f';
    if (!*p || (*p >= '0' && *p <= '9') || (hex_letter && !strchr(p, '+')))
        return scan_unsigned(s, 16);
    const char *name = p;
    while (*p && !is_blank(*p) && *p != '+')
        p++;
    size_t len = (size_t)(p - name);
    while (is_blank(*p))
        p++;
    uint64_t offset = *p == '+' ? scan_unsigned(p + 1, 0) : 0;
    const struct gd_symbol *sym = find_symbol(r, name, len);
    return sym ? sym->value + offset : 0;
}
