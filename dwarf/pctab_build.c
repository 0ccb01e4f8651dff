/*
 * pctab_build.c — the pc-line table of a binary (pctab.h, docs/pctab.md)
 * from its DWARF index.
 *
 * The address space is cut where the index's intervals start (a line row
 * or the innermost function changes) and where a function symbol starts
 * or ends (a frame DWARF names only by its symbol changes there); at each
 * cut gd_lookup gives the frames, the same up to the next cut.  Each chain
 * becomes nodes, outermost first so that a parent has a lower id than its
 * callee, shared between chains that end alike; consecutive pieces with
 * the same innermost node become one row.
 */
#include <elf.h>
#include <stdlib.h>

#include "internal.h"
#include "pctab.h"

/* ---- A growable byte buffer ---------------------------------------------- */

struct out {
    VEC(uint8_t) b;
    bool oom;
};

static void put_bytes(struct out *o, const void *p, size_t n)
{
    if (o->oom || !VEC_RESERVE(o->b, n)) {
        o->oom = true;
        return;
    }
    memcpy(o->b.v + o->b.n, p, n);
    o->b.n += n;
}

static void put32(struct out *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put_bytes(o, b, 4);
}

static void put_uleb(struct out *o, uint32_t v)
{
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (v)
            b |= 0x80;
        put_bytes(o, &b, 1);
    } while (v);
}

static void align4(struct out *o)
{
    static const uint8_t zero[4];
    put_bytes(o, zero, (4 - o->b.n % 4) % 4);
}

/* ---- Interning: strings by content, nodes by value ------------------------- */

struct node {
    uint32_t name, file, word, parent1;
};

struct tables {
    struct out strs;
    uint32_t *str_slots;        /* offset + 1, 0 empty */
    size_t str_cap, nstrs;
    VEC(struct node) nodes;
    uint32_t *node_slots;       /* id + 1, 0 empty */
    size_t node_cap;
    bool oom;
};

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

/* Grows an open-addressing table of ids + 1 to twice its size. */
static bool rehash(uint32_t **slots, size_t *cap, uint64_t (*hash)(const struct tables *, uint32_t),
                   const struct tables *t)
{
    size_t ncap = *cap ? *cap * 2 : 1024;
    uint32_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < *cap; i++) {
        if (!(*slots)[i])
            continue;
        size_t j = hash(t, (*slots)[i] - 1) & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = (*slots)[i];
    }
    free(*slots);
    *slots = ns;
    *cap = ncap;
    return true;
}

static uint64_t str_hash(const struct tables *t, uint32_t off)
{
    const char *s = (const char *)t->strs.b.v + off;
    return hash_bytes(s, strlen(s), 0xcbf29ce484222325ull);
}

static uint32_t intern_str(struct tables *t, const char *s)
{
    if ((t->nstrs + 1) * 2 > t->str_cap && !rehash(&t->str_slots, &t->str_cap, str_hash, t)) {
        t->oom = true;
        return 0;
    }
    size_t len = strlen(s);
    size_t j = hash_bytes(s, len, 0xcbf29ce484222325ull) & (t->str_cap - 1);
    for (; t->str_slots[j]; j = (j + 1) & (t->str_cap - 1))
        if (strcmp((const char *)t->strs.b.v + t->str_slots[j] - 1, s) == 0)
            return t->str_slots[j] - 1;
    uint32_t off = (uint32_t)t->strs.b.n;
    put_bytes(&t->strs, s, len + 1);
    t->str_slots[j] = off + 1;
    t->nstrs++;
    return off;
}

static uint64_t node_hash(const struct tables *t, uint32_t id)
{
    return hash_bytes(&t->nodes.v[id], sizeof(struct node), 0xcbf29ce484222325ull);
}

static uint32_t intern_node(struct tables *t, struct node nd)
{
    if ((t->nodes.n + 1) * 2 > t->node_cap &&
        !rehash(&t->node_slots, &t->node_cap, node_hash, t)) {
        t->oom = true;
        return 0;
    }
    size_t j = hash_bytes(&nd, sizeof nd, 0xcbf29ce484222325ull) & (t->node_cap - 1);
    for (; t->node_slots[j]; j = (j + 1) & (t->node_cap - 1))
        if (memcmp(&t->nodes.v[t->node_slots[j] - 1], &nd, sizeof nd) == 0)
            return t->node_slots[j];
    if (!VEC_PUSH(t->nodes, nd)) {
        t->oom = true;
        return 0;
    }
    t->node_slots[j] = (uint32_t)t->nodes.n;
    return (uint32_t)t->nodes.n;
}

/* What a row says: the innermost function's node (id + 1; 0 when neither
 * a line row nor a DWARF function covers pc: it is then named by its
 * symbol), the file and line at pc (string 0 and line 0 without a line
 * row). */
struct at {
    uint32_t node1, file, line;
};

/* Each frame of pc becomes a node: its function and, for the frame it is
 * inlined into, the call site (that frame's file and line). */
static struct at chain_of(struct tables *t, const gd_binary *b, uint64_t pc)
{
    struct gd_frame fr[PCTAB_MAX_DEPTH];
    int n = gd_lookup(b, pc, GD_SYMBOLS_ADDR2LINE, fr, PCTAB_MAX_DEPTH);
    if (n > PCTAB_MAX_DEPTH)
        n = PCTAB_MAX_DEPTH;
    if (n <= 0 || (!fr[0].has_line && fr[0].func == GD_NO_FUNC))
        return (struct at){0, 0, 0};
    uint32_t parent1 = 0, file = 0, line = 0;
    for (int i = n - 1; i >= 0; i--) {
        const char *name = fr[i].linkage_name ? fr[i].linkage_name : fr[i].function;
        uint32_t word = (line & PCTAB_LINE_MASK) | (fr[i].inlined ? PCTAB_INLINED : 0) |
                        (fr[i].from_symbol ? PCTAB_FROM_SYMBOL : 0);
        struct node nd = {intern_str(t, name ? name : ""), file, word, parent1};
        parent1 = intern_node(t, nd);
        file = intern_str(t, fr[i].file && (i > 0 || fr[i].has_line) ? fr[i].file : "");
        line = fr[i].line & PCTAB_LINE_MASK;
    }
    return (struct at){parent1, file, line};
}

/* ---- Where the frames may change -------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool is_code_symbol(const struct gd_symbol *s)
{
    return s->type == STT_FUNC && s->shndx != SHN_UNDEF && s->size > 0 && !s->synthetic;
}

/* Interval starts and function symbol edges, sorted, without repeats. */
static uint64_t *cuts(const gd_binary *b, size_t *n)
{
    const struct gd_symbol *syms;
    size_t nsyms = gd_symbols(b, &syms), cap = b->ix.niv + 2 * nsyms, k = 0;
    uint64_t *v = malloc((cap ? cap : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < b->ix.niv; i++)
        v[k++] = b->ix.iv[i].addr;
    for (size_t i = 0; i < nsyms; i++) {
        if (is_code_symbol(&syms[i])) {
            v[k++] = syms[i].value;
            v[k++] = syms[i].value + syms[i].size;
        }
    }
    qsort(v, k, sizeof *v, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || v[i] != v[m - 1])
            v[m++] = v[i];
    *n = m;
    return v;
}

/* ---- Rows and function extents ----------------------------------------------- */

struct row {
    uint64_t addr;
    struct at at;
};

/* The rows, from the first with a line to the gap after the last. */
static struct row *build_rows(struct tables *t, const gd_binary *b, size_t *nrows)
{
    size_t ncut;
    uint64_t *cut = cuts(b, &ncut);
    struct row *rows = cut ? malloc((ncut + 1) * sizeof *rows) : NULL;
    size_t n = 0;
    if (!rows) {
        free(cut);
        t->oom = true;
        return NULL;
    }
    for (size_t i = 0; i < ncut; i++) {
        struct at at = chain_of(t, b, cut[i]);
        if ((n == 0 && at.node1 == 0) ||
            (n > 0 && memcmp(&rows[n - 1].at, &at, sizeof at) == 0))
            continue;
        rows[n++] = (struct row){cut[i], at};
    }
    if (n > 0 && rows[n - 1].at.node1 != 0) {   /* the index always ends with a gap */
        rows[n] = (struct row){rows[n - 1].addr + 1, {0, 0, 0}};
        n++;
    }
    free(cut);
    *nrows = n;
    return rows;
}

struct func {
    uint64_t start, size;
};

static int cmp_func(const void *a, const void *b)
{
    const struct func *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->size > y->size ? -1 : x->size < y->size;   /* the largest first */
}

/* Function symbol extents inside [base, base + 4 GiB), one per start. */
static struct func *build_funcs(const gd_binary *b, uint64_t base, size_t *nfuncs)
{
    const struct gd_symbol *syms;
    size_t nsyms = gd_symbols(b, &syms), n = 0;
    struct func *f = malloc((nsyms ? nsyms : 1) * sizeof *f);
    if (!f)
        return NULL;
    for (size_t i = 0; i < nsyms; i++) {
        const struct gd_symbol *s = &syms[i];
        if (is_code_symbol(s) && s->value >= base && s->value - base <= UINT32_MAX &&
            s->size <= UINT32_MAX)
            f[n++] = (struct func){s->value, s->size};
    }
    qsort(f, n, sizeof *f, cmp_func);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || f[i].start != f[m - 1].start)
            f[m++] = f[i];
    *nfuncs = m;
    return f;
}

/* ---- Writing ----------------------------------------------------------------- */

struct parts {
    const struct row *rows;
    size_t nrows;
    const struct func *funcs;
    size_t nfuncs;
    const struct tables *t;
};

static void put_header_field(struct out *o, size_t at, uint32_t v)
{
    if (o->oom)
        return;
    uint8_t *p = o->b.v + at;
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* The row stream into o, with the block index beside it in blocks. */
static void put_delta(struct out *o, uint32_t now, uint32_t before)
{
    int64_t d = (int64_t)now - (int64_t)before;
    put_uleb(o, (uint32_t)(d < 0 ? ((uint64_t)-d << 1) - 1 : (uint64_t)d << 1));   /* zigzag */
}

static void write_rows(struct out *o, struct out *blocks, const struct parts *p, uint64_t base)
{
    uint32_t prev_pc = 0;
    struct at prev = {0, 0, 0};
    for (size_t i = 0; i < p->nrows; i++) {
        uint32_t pc = (uint32_t)(p->rows[i].addr - base);
        const struct at *at = &p->rows[i].at;
        if (i % PCTAB_BLOCK_ROWS == 0) {
            put32(blocks, pc);
            put32(blocks, (uint32_t)o->b.n);
            prev_pc = pc;
            prev = (struct at){0, 0, 0};
        }
        put_uleb(o, pc - prev_pc);
        put_delta(o, at->node1, prev.node1);
        put_delta(o, at->file, prev.file);
        put_delta(o, at->line, prev.line);
        prev_pc = pc;
        prev = *at;
    }
}

static void write_table(struct out *o, const struct parts *p)
{
    uint64_t base = p->rows[0].addr;
    uint8_t header[PCTAB_HEADER_SIZE] = {0};
    memcpy(header, PCTAB_MAGIC, 8);
    put_bytes(o, header, sizeof header);
    put_header_field(o, 8, PCTAB_VERSION);
    put_header_field(o, 12, PCTAB_HEADER_SIZE);
    put_header_field(o, 24, (uint32_t)base);
    put_header_field(o, 28, (uint32_t)(base >> 32));
    put_header_field(o, 32, (uint32_t)(p->rows[p->nrows - 1].addr - base));

    struct out rows = {0}, blocks = {0};
    write_rows(&rows, &blocks, p, base);
    o->oom |= rows.oom || blocks.oom;
    put_header_field(o, 36, (uint32_t)(blocks.b.n / 8));
    put_header_field(o, 40, (uint32_t)o->b.n);
    put_bytes(o, blocks.b.v, blocks.b.n);
    put_header_field(o, 44, (uint32_t)o->b.n);
    put_header_field(o, 48, (uint32_t)rows.b.n);
    put_bytes(o, rows.b.v, rows.b.n);
    VEC_FREE(rows.b);
    VEC_FREE(blocks.b);
    align4(o);

    put_header_field(o, 52, (uint32_t)p->t->nodes.n);
    put_header_field(o, 56, (uint32_t)o->b.n);
    for (size_t i = 0; i < p->t->nodes.n; i++) {
        const struct node *nd = &p->t->nodes.v[i];
        put32(o, nd->name), put32(o, nd->file), put32(o, nd->word), put32(o, nd->parent1);
    }
    put_header_field(o, 60, (uint32_t)p->nfuncs);
    put_header_field(o, 64, (uint32_t)o->b.n);
    for (size_t i = 0; i < p->nfuncs; i++) {
        put32(o, (uint32_t)(p->funcs[i].start - base));
        put32(o, (uint32_t)p->funcs[i].size);
    }
    put_header_field(o, 68, (uint32_t)o->b.n);
    put_header_field(o, 72, (uint32_t)p->t->strs.b.n);
    put_bytes(o, p->t->strs.b.v, p->t->strs.b.n);
    align4(o);
    put_header_field(o, 16, (uint32_t)o->b.n);
    if (!o->oom)
        put_header_field(o, 20, pctab_crc32(0, o->b.v + 24, o->b.n - 24));
}

int gd_pctab_build(const gd_binary *b, void **out, size_t *len, struct gd_error *err)
{
    struct tables t = {0};
    struct out o = {0};
    size_t nrows = 0, nfuncs = 0;
    struct func *funcs = NULL;
    int rc = GD_OK;
    intern_str(&t, "");         /* offset 0: no name, no file */
    struct row *rows = build_rows(&t, b, &nrows);
    if (rows && nrows > 0)
        funcs = build_funcs(b, rows[0].addr, &nfuncs);
    if (!t.oom && rows && nrows == 0) {
        rc = gd_fail(err, GD_ENOTFOUND, "no line table covers any code (built without -g?)");
    } else if (!t.oom && rows && rows[nrows - 1].addr - rows[0].addr > UINT32_MAX) {
        rc = gd_fail(err, GD_EUNSUP, "the code spans more than 4 GiB");
    } else if (t.oom || t.strs.oom || !rows || !funcs) {
        rc = gd_fail(err, GD_ENOMEM, "out of memory building the pc-line table");
    } else {
        struct parts p = {rows, nrows, funcs, nfuncs, &t};
        write_table(&o, &p);
        if (o.oom || o.b.n > UINT32_MAX)
            rc = gd_fail(err, GD_ENOMEM, "out of memory building the pc-line table");
    }
    free(rows);
    free(funcs);
    free(t.str_slots);
    free(t.node_slots);
    VEC_FREE(t.nodes);
    VEC_FREE(t.strs.b);
    if (rc != GD_OK) {
        VEC_FREE(o.b);
        return rc;
    }
    *out = o.b.v;
    *len = o.b.n;
    return GD_OK;
}
