/*
 * variables.c — the variables of static storage, as binutils keeps them
 * to answer for a data address: addr2line, asked for an address of a
 * section that is not code where a symbol starts, names the declaration
 * (DW_AT_decl_file, DW_AT_decl_line) of the variable at that address whose
 * name the symbol's contains (a static `buf` is the symbol `buf.0`).
 *
 * A variable counts when its DW_AT_location is a lone DW_OP_addr and it
 * has a name and a file; its attributes are read in order, a
 * DW_AT_specification bringing those of the declaration it refers to
 * (its DW_AT_name unless one is known, its linkage name, file and line),
 * later attributes replacing them.  Declarations are looked up in the
 * same unit only.
 */
#include <dwarf.h>
#include <stdlib.h>

#include "internal.h"

#define MAX_SPEC_CHAIN 100

struct fields {
    const char *name;
    uint64_t file;
    bool has_file;
    uint32_t line;
};

static void spec_fields(const struct var_walk *w, uint64_t off, struct fields *f, int depth);

/* The attributes one DIE gives a variable: from its specification first
 * when it has one (abstract: the declaration's own name only replaces
 * none). */
static bool apply(const struct var_walk *w, const struct attr *a, struct fields *f,
                  bool declaration, int depth)
{
    uint64_t ref;
    switch (a->name) {
    case DW_AT_name:
        if (!declaration || !f->name)
            f->name = attr_string(w->dw, w->u, a) ? attr_string(w->dw, w->u, a) : f->name;
        return false;
    case DW_AT_linkage_name: case DW_AT_MIPS_linkage_name:
        if (declaration && attr_string(w->dw, w->u, a))
            f->name = attr_string(w->dw, w->u, a);
        return false;
    case DW_AT_specification:
        if (attr_reference(w->u, a, &ref) && depth < MAX_SPEC_CHAIN)
            spec_fields(w, ref, f, depth + 1);
        return false;
    case DW_AT_decl_file:
        if (form_is_constant(a->form)) {
            f->file = a->u;
            f->has_file = true;
        }
        return false;
    case DW_AT_decl_line:
        if (form_is_constant(a->form))
            f->line = (uint32_t)a->u;
        return false;
    default:
        return true;
    }
}

/* The declaration at off, if it is a DIE of this unit. */
static void spec_fields(const struct var_walk *w, uint64_t off, struct fields *f, int depth)
{
    if (off < w->u->die_off || off >= w->u->end)
        return;
    struct rd r = rd_make(w->dw->info.data + off, (size_t)(w->u->end - off));
    const struct abbrev *ab = abbrev_find(w->t, rd_uleb(&r));
    const struct abbrev_attr *at = ab ? &w->t->attrs.v[ab->first] : NULL;
    for (uint32_t i = 0; ab && i < ab->nattrs; i++) {
        struct attr a;
        if (!form_read(&r, w->u, at[i].form, at[i].implicit, &a))
            return;
        a.name = at[i].name;
        apply(w, &a, f, true, depth);
    }
}

/* A lone DW_OP_addr: the address. */
static bool static_address(const struct unit *u, const struct attr *a, uint64_t *addr)
{
    switch (a->form) {
    case DW_FORM_block: case DW_FORM_block1: case DW_FORM_block2: case DW_FORM_block4:
    case DW_FORM_exprloc:
        break;
    default:
        return false;
    }
    if (!a->blk || a->len != (uint64_t)u->addr_size + 1 || a->blk[0] != DW_OP_addr)
        return false;
    struct rd r = rd_make(a->blk + 1, u->addr_size);
    *addr = rd_uint(&r, u->addr_size);
    return true;
}

int variable_die(const struct var_walk *w, struct rd *r, const struct abbrev *ab,
                 const char **why)
{
    const struct abbrev_attr *at = &w->t->attrs.v[ab->first];
    struct fields f = { NULL, 0, false, 0 };
    uint64_t addr = 0;
    bool located = false;

    for (uint32_t i = 0; i < ab->nattrs; i++) {
        struct attr a;
        if (!form_read(r, w->u, at[i].form, at[i].implicit, &a)) {
            *why = "malformed attribute";
            return GD_EDWARF;
        }
        a.name = at[i].name;
        if (apply(w, &a, &f, false, 0) && a.name == DW_AT_location)
            located = static_address(w->u, &a, &addr);
    }
    if (!located || !f.name || !f.has_file)
        return GD_OK;
    uint32_t file = linetab_file(w->lt, w->files, f.file);
    if (file == GD_NOFILE)
        file = strtab_intern(w->files, "<unknown>", 9);
    struct dvar v = { addr, f.name, file, f.line, 0 };
    if (file == UINT32_MAX || !VEC_PUSH(*w->vars, v)) {
        *why = "out of memory";
        return GD_ENOMEM;
    }
    return GD_OK;
}

static int by_addr(const void *a, const void *b)
{
    const struct dvar *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void variables_sort(struct dvar *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i].order = (uint32_t)i;
    if (n > 1)
        qsort(v, n, sizeof *v, by_addr);
}

const struct dvar *variables_find(const struct dvar *v, size_t n, uint64_t addr,
                                  const char *symbol)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && v[lo].addr == addr; lo++)
        if (strstr(symbol, v[lo].name))
            return &v[lo];
    return NULL;
}
