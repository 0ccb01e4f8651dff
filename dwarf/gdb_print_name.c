/*
 * gdb_print_name.c — the name gdb 13 prints for a minimal symbol (in a
 * frame without debug info, or `info symbol`).
 *
 * gdb asks each language in turn to demangle a minimal symbol's name.
 * Names that are not C++, D, Rust or Go mangled reach the Ada decoder
 * last, and when it decodes one into a name that differs (GNAT's
 * encoding: "__" a dot, trailing clone numbers and compiler suffixes
 * dropped or bracketed...), the symbol becomes an Ada one and is printed
 * decoded.  So GCC's clones of C functions print as gdb prints them:
 * fputwc.cold as fputwc[cold], add_alias2.part.0 as add_alias2.part,
 * find_module.constprop.0 as find_module.constprop.  Names starting with
 * "_" (every mangled name among them), and names whose decoding holds an
 * uppercase letter, print as they are.
 *
 * The decoder below follows gdb's ada_decode with operators.  Its
 * Unnnn/Wnnnn character escapes are read as gdb reads them in the C
 * locale: only an ASCII character is decoded.
 */
#include <ctype.h>
#include <stdlib.h>

#include "internal.h"

struct text {                   /* a VEC */
    char *v;
    size_t n, cap;
};

static bool put(struct text *t, const char *s, size_t len)
{
    if (!VEC_RESERVE(*t, len + 1))
        return false;
    memcpy(t->v + t->n, s, len);
    t->n += len;
    t->v[t->n] = 0;
    return true;
}

static bool is_alpha(char c) { return isalpha((unsigned char)c); }
static bool is_digit(char c) { return isdigit((unsigned char)c); }
static bool is_alnum(char c) { return isalnum((unsigned char)c); }
static bool is_xdigit(char c) { return isxdigit((unsigned char)c); }
static bool is_lower_alnum(char c) { return is_digit(c) || islower((unsigned char)c); }

/* GNAT's operator functions ("Oadd" is "+"). */
static const char *const OPERATORS[][2] = {
    { "Oadd", "\"+\"" }, { "Osubtract", "\"-\"" }, { "Omultiply", "\"*\"" },
    { "Odivide", "\"/\"" }, { "Omod", "\"mod\"" }, { "Orem", "\"rem\"" },
    { "Oexpon", "\"**\"" }, { "Olt", "\"<\"" }, { "Ole", "\"<=\"" }, { "Ogt", "\">\"" },
    { "Oge", "\">=\"" }, { "Oeq", "\"=\"" }, { "One", "\"/=\"" }, { "Oand", "\"and\"" },
    { "Oor", "\"or\"" }, { "Oxor", "\"xor\"" }, { "Oconcat", "\"&\"" },
    { "Oabs", "\"abs\"" }, { "Onot", "\"not\"" },
};

/* A compiler's suffix (".cold"): letters after the last dot; its offset
 * (past the dot) with *len cut before the dot, else -1. */
static long compiler_suffix(const char *e, size_t *len)
{
    size_t k = *len - 1;
    while (k > 0 && is_alpha(e[k]))
        k--;
    if (k > 0 && e[k] == '.') {
        *len = k;
        return (long)k + 1;
    }
    return -1;
}

/* .N, $N, ___N, __N at the end. */
static void drop_trailing_digits(const char *e, size_t *len)
{
    if (*len < 2 || !is_digit(e[*len - 1]))
        return;
    size_t i = *len - 2;
    while (i > 0 && is_digit(e[i]))
        i--;
    if (e[i] == '.' || e[i] == '$')
        *len = i;
    else if (i >= 2 && strncmp(e + i - 2, "___", 3) == 0)
        *len = i - 2;
    else if (i >= 1 && strncmp(e + i - 1, "__", 2) == 0)
        *len = i - 1;
}

static bool ends_with(const char *e, size_t len, const char *s)
{
    size_t k = strlen(s);
    return len > k && strncmp(e + len - k, s, k) == 0;
}

/* The end of the name proper: the suffixes GNAT adds for protected
 * subprograms, ___X encodings, task bodies and numbered homonyms cut
 * off.  False when the name cannot be GNAT's (a ___ other than ___X). */
static bool name_end(const char *e, size_t *len)
{
    drop_trailing_digits(e, len);
    if (*len > 1 && e[*len - 1] == 'N' && is_lower_alnum(e[*len - 2]))
        (*len)--;
    const char *p = strstr(e, "___");
    if (p && (size_t)(p - e) + 3 < *len) {
        if (p[3] != 'X')
            return false;
        *len = (size_t)(p - e);
    }
    if (ends_with(e, *len, "TKB"))
        *len -= 3;
    if (ends_with(e, *len, "TB"))
        *len -= 2;
    if (ends_with(e, *len, "B"))
        *len -= 1;
    if (*len > 1 && is_digit(e[*len - 1])) {
        long i = (long)*len - 2;
        while ((i >= 0 && is_digit(e[i])) || (i >= 1 && e[i] == '_' && is_digit(e[i - 1])))
            i--;
        if (i > 1 && e[i] == '_' && e[i - 1] == '_')
            *len = (size_t)i - 1;
        else if (i >= 0 && e[i] == '$')
            *len = (size_t)i;
    }
    return true;
}

/* An operator name at e[i]: its decoded form appended, *i past it. */
static int take_operator(const char *e, size_t *i, struct text *out)
{
    for (size_t k = 0; k < sizeof OPERATORS / sizeof OPERATORS[0]; k++) {
        size_t n = strlen(OPERATORS[k][0]);
        if (strncmp(OPERATORS[k][0] + 1, e + *i + 1, n - 1) == 0 && !is_alnum(e[*i + n])) {
            *i += n;
            return put(out, OPERATORS[k][1], strlen(OPERATORS[k][1])) ? 1 : -1;
        }
    }
    return 0;
}

/* Unn, Wnnnn, WWnnnnnnnn: a character by its code (code 0: nothing); 0
 * when not one, or not ASCII, which the C locale cannot print. */
static int take_escape(const char *e, size_t *i, struct text *out)
{
    size_t digits = e[*i] == 'U' ? 2 : e[*i] == 'W' && e[*i + 1] == 'W' ? 8 : e[*i] == 'W' ? 4 : 0;
    size_t at = *i + (digits == 8 ? 2 : 1);
    unsigned long v = 0;
    if (!digits || !is_xdigit(e[at]))
        return 0;
    for (size_t k = 0; k < digits; k++) {
        char c = e[at + k];
        if (!is_xdigit(c))
            return 0;
        v = v * 16 + (unsigned long)(is_digit(c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10);
    }
    if (v >= 0x80)
        return 0;
    char c = (char)v;
    *i = at + digits;
    return !c || put(out, &c, 1) ? 1 : -1;
}

/* The sequences GNAT inserts inside a name: TK__ (a task), __B_nn__ (a
 * block), _Enn[bs] (an entry), N__ (a protected subprogram).  *i past
 * what is left out. */
static void skip_inserted(const char *e, size_t len, size_t *i)
{
    if (*i + 4 < len && strncmp(e + *i, "TK__", 4) == 0)
        *i += 2;
    if (len - *i > 5 && strncmp(e + *i, "__B_", 4) == 0 && is_digit(e[*i + 4])) {
        size_t k = *i + 5;
        while (k < len && is_digit(e[k]))
            k++;
        if (len - k > 2 && e[k] == '_' && e[k + 1] == '_')
            *i = k;
    }
    if (len - *i > 3 && e[*i] == '_' && e[*i + 1] == 'E' && is_digit(e[*i + 2])) {
        size_t k = *i + 3;
        while (k < len && is_digit(e[k]))
            k++;
        if (k < len && (e[k] == 'b' || e[k] == 's') && (k + 1 == len || e[k + 1] == '_'))
            *i = k + 1;
    }
    if (e[*i] == 'N' && e[*i + 1] == '_' && e[*i + 2] == '_') {
        size_t k = *i;
        while (k > 0 && is_lower_alnum(e[k - 1]))
            k--;
        if (k == 0 || (k > 1 && e[k - 1] == '_' && e[k - 2] == '_'))
            (*i)++;
    }
}

/* The decoding of e[0..len) into out: 1, 0 when e is no GNAT name, -1
 * when out of memory. */
static int decode(const char *e, size_t len, struct text *out)
{
    size_t i = 0;
    bool at_start = true;
    int r;

    while (i < len && !is_alpha(e[i]))
        if (!put(out, &e[i++], 1))
            return -1;
    while (i < len) {
        if (at_start && e[i] == 'O' && (r = take_operator(e, &i, out)) != 0) {
            if (r < 0)
                return -1;
            at_start = false;
            continue;
        }
        at_start = false;
        skip_inserted(e, len, &i);
        if ((e[i] == 'U' || e[i] == 'W') && (r = take_escape(e, &i, out)) != 0) {
            if (r < 0)
                return -1;
            continue;
        }
        if (e[i] == 'X' && i > 0 && is_alnum(e[i - 1])) {
            do
                i++;
            while (i < len && (e[i] == 'b' || e[i] == 'n'));
            if (i < len)
                return 0;
        } else if (i + 2 < len && e[i] == '_' && e[i + 1] == '_') {
            if (!put(out, ".", 1))
                return -1;
            at_start = true;
            i += 2;
        } else if (!put(out, &e[i++], 1)) {
            return -1;
        }
    }
    for (size_t k = 0; k < out->n; k++)
        if (isupper((unsigned char)out->v[k]) || out->v[k] == ' ')
            return 0;
    return 1;
}

int gdb_print_name(const char *linkage, char **out)
{
    struct text t = { NULL, 0, 0 };
    const char *e = linkage;
    *out = NULL;
    if (e[0] == '.')
        e++;
    if (strncmp(e, "_ada_", 5) == 0)
        e += 5;
    if (strncmp(e, "___ghost_", 9) == 0)
        e += 9;
    if (e[0] == '_' || e[0] == '<' || e[0] == 0)
        return 0;
    size_t len = strlen(e);
    long suffix = compiler_suffix(e, &len);
    int r = name_end(e, &len) ? decode(e, len, &t) : 0;
    if (r > 0 && suffix >= 0)
        r = put(&t, "[", 1) && put(&t, e + suffix, strlen(e + suffix)) && put(&t, "]", 1) ? 1 : -1;
    if (r > 0 && t.v && strcmp(t.v, linkage) != 0) {
        *out = t.v;
        return 1;
    }
    free(t.v);
    return r < 0 ? -1 : 0;
}
