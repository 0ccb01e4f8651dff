/*
 * inline_tree.c — one pass over .debug_info: for every compile unit, its
 * line program (lines.c) and its DIE tree, collecting each subprogram and
 * inlined subroutine with code as a function node (name, ranges, call
 * site, the function it is inlined into), and the variables of static
 * storage (variables.c).  Type subtrees are skipped.
 * Names reached through DW_AT_abstract_origin / DW_AT_specification are
 * resolved at the end, decoding the referenced DIE when the walk did not
 * pass it, in this file or in its supplementary file (dwz -m: abstract
 * origins by DW_FORM_GNU_ref_alt / DW_FORM_ref_sup4/8, and references from
 * one DIE of that file to another).  Partial units (dwz's) are walked for
 * their names but own no code and no line rows.  A unit that fails to
 * decode is rolled back and named in a warning; the other units stay.
 */
#include <dwarf.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define MAX_DEPTH 4096
#define MAX_ORIGIN_CHAIN 16
#define TAG_partial_unit 0x3c
#define TAG_skeleton_unit 0x4a

/* ---- Names of subprogram DIEs by offset ------------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static bool names_grow(struct index_build *b)
{
    size_t cap = b->namecap ? b->namecap * 2 : 4096;
    struct name_entry *v = calloc(cap, sizeof *v);
    if (!v)
        return false;
    for (size_t i = 0; i < b->namecap; i++) {
        if (!b->names[i].off)
            continue;
        size_t j = mix(b->names[i].off) & (cap - 1);
        while (v[j].off)
            j = (j + 1) & (cap - 1);
        v[j] = b->names[i];
    }
    free(b->names);
    b->names = v;
    b->namecap = cap;
    return true;
}

static bool names_put(struct index_build *b, const struct name_entry *e)
{
    if ((b->nnames + 1) * 2 > b->namecap && !names_grow(b))
        return false;
    size_t j = mix(e->off) & (b->namecap - 1);
    while (b->names[j].off && b->names[j].off != e->off)
        j = (j + 1) & (b->namecap - 1);
    if (!b->names[j].off)
        b->nnames++;
    b->names[j] = *e;
    return true;
}

static const struct name_entry *names_get(const struct index_build *b, uint64_t off)
{
    if (!b->namecap)
        return NULL;
    size_t j = mix(off) & (b->namecap - 1);
    while (b->names[j].off) {
        if (b->names[j].off == off)
            return &b->names[j];
        j = (j + 1) & (b->namecap - 1);
    }
    return NULL;
}

/* ---- Function node ranges, merged as binutils' arange_add merges ------ */

#define MAX_NODE_RANGES 4096

struct node_ranges {
    struct frange v[64];
    struct frange *heap;        /* when more than 64 */
    size_t n, cap;
    bool overflow;
};

static struct frange *nr_at(struct node_ranges *nr, size_t i)
{
    return nr->heap ? &nr->heap[i] : &nr->v[i];
}

/* Add [lo, hi): extend an existing range it touches, else insert it right
 * after the first one. */
static bool nr_add(void *ctx, uint64_t lo, uint64_t hi)
{
    struct node_ranges *nr = ctx;
    if (lo == hi)
        return true;
    if (hi < lo)
        return true;                /* malformed; ignored */
    for (size_t i = 0; i < nr->n; i++) {
        struct frange *r = nr_at(nr, i);
        if (lo == r->hi) {
            r->hi = hi;
            return true;
        }
        if (hi == r->lo) {
            r->lo = lo;
            return true;
        }
    }
    if (nr->n >= MAX_NODE_RANGES) {
        nr->overflow = true;
        return false;
    }
    if (nr->n == 64 && !nr->heap) {
        nr->heap = malloc(MAX_NODE_RANGES * sizeof *nr->heap);
        if (!nr->heap) {
            nr->overflow = true;
            return false;
        }
        memcpy(nr->heap, nr->v, sizeof nr->v);
    }
    size_t at = nr->n == 0 ? 0 : 1;
    for (size_t i = nr->n; i > at; i--)
        *nr_at(nr, i) = *nr_at(nr, i - 1);
    nr_at(nr, at)->lo = lo;
    nr_at(nr, at)->hi = hi;
    nr->n++;
    return true;
}

/* ---- The DIE walk of one unit ------------------------------------------ */

struct walk {
    struct index_build *b;
    const struct dw *dw;
    struct unit *u;
    const struct abbrev_table *t;
    struct linetab *lt;
};

static bool descends(uint16_t tag)
{
    switch (tag) {
    case DW_TAG_subprogram: case DW_TAG_inlined_subroutine: case DW_TAG_entry_point:
    case DW_TAG_lexical_block: case DW_TAG_try_block: case DW_TAG_catch_block:
    case DW_TAG_namespace: case DW_TAG_module:
        return true;
    default:
        return false;
    }
}

/* Reads a function DIE's attributes; adds a node when it has code or
 * children.  *node gets the node id or GD_NO_FUNC. */
static int function_die(struct walk *w, struct rd *r, uint64_t die_off, const struct abbrev *ab,
                        uint32_t enclosing, uint32_t *node, const char **why)
{
    const struct abbrev_attr *at = &w->t->attrs.v[ab->first];
    struct fnode fn = { 0 };
    struct attr low = { 0 }, high = { 0 }, ranges = { 0 };
    bool have_low = false, have_high = false, have_ranges = false, decl = false;
    uint64_t call_file = 0;
    bool have_call_file = false;

    fn.parent = GD_NO_FUNC;
    fn.call_file = GD_NOFILE;
    for (uint32_t i = 0; i < ab->nattrs; i++) {
        struct attr a;
        if (!form_read(r, w->u, at[i].form, at[i].implicit, &a)) {
            *why = "malformed attribute";
            return GD_EDWARF;
        }
        switch (at[i].name) {
        case DW_AT_name: fn.name = attr_string(w->dw, w->u, &a); break;
        case DW_AT_linkage_name: case DW_AT_MIPS_linkage_name:
            fn.linkage = attr_string(w->dw, w->u, &a);
            break;
        case DW_AT_abstract_origin: case DW_AT_specification:
            if (!attr_reference(w->u, &a, &fn.origin))
                fn.origin = 0;
            break;
        case DW_AT_low_pc: low = a; have_low = true; break;
        case DW_AT_high_pc: high = a; have_high = true; break;
        case DW_AT_ranges: ranges = a; have_ranges = true; break;
        case DW_AT_call_file:
            /* index 0 is a file in DWARF 5 and "none" before it */
            if (form_is_constant(a.form)) {
                call_file = a.u;
                have_call_file = true;
            }
            break;
        case DW_AT_call_line: if (form_is_constant(a.form)) fn.call_line = (uint32_t)a.u; break;
        case DW_AT_call_column: if (form_is_constant(a.form)) fn.call_col = (uint32_t)a.u; break;
        case DW_AT_declaration: decl = a.u != 0; break;
        default: break;
        }
    }
    if (ab->tag == DW_TAG_subprogram) {
        struct name_entry e = { die_off, fn.name, fn.linkage, fn.origin };
        if (!names_put(w->b, &e)) {
            *why = "out of memory";
            return GD_ENOMEM;
        }
    }
    *node = GD_NO_FUNC;
    if (decl)
        return GD_OK;

    struct node_ranges nr = { .n = 0 };
    uint64_t lo = 0, hi = 0;
    if (have_low && have_high && attr_address(w->dw, w->u, &low, &lo)) {
        if (form_is_constant(high.form))
            hi = lo + high.u;
        else if (!attr_address(w->dw, w->u, &high, &hi))
            hi = 0;
        if (hi != 0)
            nr_add(&nr, lo, hi);
    }
    if (have_ranges && !ranges_read(w->dw, w->u, &ranges, nr_add, &nr) && !nr.overflow) {
        free(nr.heap);
        *why = "malformed range list";
        return GD_EDWARF;
    }
    if (nr.n == 0 && !ab->children) {
        free(nr.heap);
        return GD_OK;
    }
    fn.inlined = ab->tag == DW_TAG_inlined_subroutine;
    if (fn.inlined) {
        fn.parent = enclosing;
        if (have_call_file)
            fn.call_file = linetab_file(w->lt, w->b->files, call_file);
    }
    fn.entry = nr.n ? nr_at(&nr, 0)->lo : 0;
    uint32_t id = (uint32_t)w->b->nodes.n;
    bool ok = VEC_PUSH(w->b->nodes, fn) && VEC_RESERVE(w->b->ranges, nr.n);
    for (size_t i = 0; ok && i < nr.n; i++) {
        struct frange fr = *nr_at(&nr, i);
        fr.node = id;
        w->b->ranges.v[w->b->ranges.n++] = fr;
    }
    free(nr.heap);
    if (!ok) {
        *why = "out of memory";
        return GD_ENOMEM;
    }
    *node = id;
    return GD_OK;
}

/* Walks the children of the unit DIE. */
static int walk_unit(struct walk *w, struct rd *r, const char **why)
{
    /* Per level: the function enclosing it, and whether it is skipped. */
    uint32_t *encl = malloc(MAX_DEPTH * sizeof *encl);
    bool *skip = malloc(MAX_DEPTH * sizeof *skip);
    size_t depth = 1;
    int rc = GD_OK;
    const uint8_t *info = w->dw->info.data;

    if (!encl || !skip) {
        free(encl);
        free(skip);
        *why = "out of memory";
        return GD_ENOMEM;
    }
    encl[0] = GD_NO_FUNC;
    skip[0] = false;
    while (depth > 0 && r->p < r->end) {
        uint64_t die_off = (uint64_t)(r->p - info);
        uint64_t code = rd_uleb(r);
        if (r->bad)
            break;
        if (code == 0) {
            depth--;
            continue;
        }
        const struct abbrev *ab = abbrev_find(w->t, code);
        if (!ab) {
            *why = "unknown abbreviation code";
            rc = GD_EDWARF;
            break;
        }
        bool skipping = skip[depth - 1];
        uint32_t node = encl[depth - 1];
        bool child_skip = true;
        if (!skipping && (ab->tag == DW_TAG_subprogram ||
                          ab->tag == DW_TAG_inlined_subroutine ||
                          ab->tag == DW_TAG_entry_point)) {
            uint32_t id;
            if ((rc = function_die(w, r, die_off, ab, encl[depth - 1], &id, why)) != GD_OK)
                break;
            if (id != GD_NO_FUNC)
                node = id;
            child_skip = false;
        } else if (!skipping && ab->tag == DW_TAG_variable) {
            struct var_walk vw = { w->dw, w->u, w->t, w->lt, w->b->files, &w->b->vars };
            if ((rc = variable_die(&vw, r, ab, why)) != GD_OK)
                break;
        } else if (!skipping && descends(ab->tag)) {
            if (!die_skip_attrs(r, w->u, w->t, ab)) {
                *why = "malformed attribute";
                rc = GD_EDWARF;
                break;
            }
            child_skip = false;
        } else if (ab->children && ab->sibling >= 0) {
            /* Jump over the subtree with DW_AT_sibling when it points
             * forward inside the unit. */
            const struct abbrev_attr *at = &w->t->attrs.v[ab->first];
            uint64_t sib = 0;
            bool have = false;
            for (uint32_t i = 0; i < ab->nattrs; i++) {
                struct attr a;
                if (!form_read(r, w->u, at[i].form, at[i].implicit, &a)) {
                    *why = "malformed attribute";
                    rc = GD_EDWARF;
                    goto out;
                }
                if ((int32_t)i == ab->sibling)
                    have = attr_reference(w->u, &a, &sib);
            }
            if (have && sib > die_off && sib < w->u->end && info + sib >= r->p) {
                r->p = info + sib;
                continue;
            }
        } else if (!die_skip_attrs(r, w->u, w->t, ab)) {
            *why = "malformed attribute";
            rc = GD_EDWARF;
            break;
        }
        if (ab->children) {
            if (depth >= MAX_DEPTH) {
                *why = "DIE tree nested too deep";
                rc = GD_EDWARF;
                break;
            }
            encl[depth] = node;
            skip[depth] = skipping || child_skip;
            depth++;
        }
    }
    if (rc == GD_OK && r->bad) {
        *why = "truncated DIE";
        rc = GD_EDWARF;
    }
out:
    free(encl);
    free(skip);
    return rc;
}

/* ---- Names through abstract origins ------------------------------------ */

/* The unit holding the DIE at off (DIE_SUP: of the supplementary file). */
static const struct unit *unit_of(const struct index_build *b, uint64_t off)
{
    const struct unit *v = (off & DIE_SUP) ? b->sup_units.v : b->units.v;
    size_t lo = 0, hi = (off & DIE_SUP) ? b->sup_units.n : b->units.n;
    off &= ~DIE_SUP;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].off <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct unit *u = &v[lo - 1];
    return off >= u->die_off && off < u->end ? u : NULL;
}

/* Decodes the names of the DIE at off (one the walk did not record). */
static bool decode_names(struct index_build *b, const struct dw *dw, struct abbrev_table *t,
                         uint64_t off, struct name_entry *e)
{
    const struct unit *u = unit_of(b, off);
    const char *why;
    if (u && u->in_sup)
        dw = dw->sup;
    if (!u || abbrev_table_load(t, dw, u, &why) != GD_OK)
        return false;
    struct rd r = rd_make(dw->info.data + (off & ~DIE_SUP), (size_t)(u->end - (off & ~DIE_SUP)));
    const struct abbrev *ab = abbrev_find(t, rd_uleb(&r));
    if (!ab)
        return false;
    memset(e, 0, sizeof *e);
    e->off = off;       /* with DIE_SUP, as the references to it */
    const struct abbrev_attr *at = &t->attrs.v[ab->first];
    for (uint32_t i = 0; i < ab->nattrs; i++) {
        struct attr a;
        if (!form_read(&r, u, at[i].form, at[i].implicit, &a))
            return false;
        switch (at[i].name) {
        case DW_AT_name: e->name = attr_string(dw, u, &a); break;
        case DW_AT_linkage_name: case DW_AT_MIPS_linkage_name:
            e->linkage = attr_string(dw, u, &a);
            break;
        case DW_AT_abstract_origin: case DW_AT_specification:
            if (!attr_reference(u, &a, &e->origin))
                e->origin = 0;
            break;
        default: break;
        }
    }
    return true;
}

static void resolve_names(struct index_build *b, const struct dw *dw)
{
    struct abbrev_table t = { 0 };
    for (size_t i = 0; i < b->nodes.n; i++) {
        struct fnode *fn = &b->nodes.v[i];
        uint64_t origin = fn->origin;
        for (int k = 0; k < MAX_ORIGIN_CHAIN && origin && (!fn->name || !fn->linkage); k++) {
            struct name_entry tmp;
            const struct name_entry *e = names_get(b, origin);
            if (!e) {
                if (!decode_names(b, dw, &t, origin, &tmp))
                    break;
                names_put(b, &tmp);
                e = &tmp;
            }
            if (!fn->name)
                fn->name = e->name;
            if (!fn->linkage)
                fn->linkage = e->linkage;
            origin = e->origin;
        }
    }
    abbrev_table_free(&t);
}

/* ---- Unit headers and unit DIEs ---------------------------------------- */

/* Reads the header, the abbreviations and the unit DIE of the unit at off
 * into u, t and *ab, leaving *r after the DIE's attributes; GD_ENOTFOUND for
 * a type or split unit (nothing to index). */
static int unit_begin(const struct dw *dw, uint64_t off, struct unit *u, uint64_t *next,
                      struct abbrev_table *t, struct rd *r, const struct abbrev **ab,
                      const char **why)
{
    int rc = unit_header(dw, off, u, next, why);
    if (rc == GD_OK && u->unit_type != 1 && u->unit_type != 3 && u->unit_type != 4)
        return GD_ENOTFOUND;
    if (rc == GD_OK)
        rc = abbrev_table_load(t, dw, u, why);
    if (rc != GD_OK)
        return rc;
    *r = rd_make(dw->info.data + u->die_off, (size_t)(u->end - u->die_off));
    *ab = abbrev_find(t, rd_uleb(r));
    if (!*ab || ((*ab)->tag != DW_TAG_compile_unit && (*ab)->tag != TAG_partial_unit &&
                 (*ab)->tag != TAG_skeleton_unit)) {
        *why = "the unit does not start with a compile unit DIE";
        return GD_EDWARF;
    }
    if (!unit_die_read(r, dw, u, t, *ab)) {
        *why = "malformed compile unit DIE";
        return GD_EDWARF;
    }
    return GD_OK;
}

/* ---- The supplementary file's units ------------------------------------ */

/* The headers and unit DIEs of the supplementary file, for the names that
 * references into it reach; a corrupt unit is left out with a warning. */
static int sup_units_read(struct index_build *b, const struct dw *sup, const struct gd_warner *w)
{
    struct abbrev_table t = { 0 };
    uint64_t off = 0, next;
    int rc = GD_OK;

    while (off < sup->info.size) {
        struct unit u;
        struct rd r;
        const struct abbrev *ab;
        const char *why = NULL;
        rc = unit_begin(sup, off, &u, &next, &t, &r, &ab, &why);
        if (rc == GD_ENOTFOUND) {
            off = next;
            rc = GD_OK;
            continue;
        }
        u.in_sup = true;
        if (rc == GD_OK && !VEC_PUSH(b->sup_units, u))
            rc = GD_ENOMEM;
        if (rc == GD_ENOMEM)
            break;
        if (rc != GD_OK) {
            gd_warn(w, "supplementary file: unit at offset 0x%llx: %s; skipped",
                    (unsigned long long)off, why ? why : "corrupt");
            rc = GD_OK;
            if (next <= off)
                break;
        }
        off = next;
    }
    abbrev_table_free(&t);
    return rc;
}

/* ---- All units ---------------------------------------------------------- */

int inline_tree_build(struct index_build *b, const struct dw *dw,
                      const struct gd_warner *w, struct gd_error *err)
{
    struct abbrev_table t = { 0 };
    struct linetab lt = { 0 };
    uint64_t off = 0, next;
    int rc = GD_OK;

    while (off < dw->info.size) {
        struct unit u;
        const char *why = NULL;
        size_t rows = b->rows.n, seqs = b->seqs.n, nodes = b->nodes.n, ranges = b->ranges.n;
        size_t vars = b->vars.n;

        struct rd r = { 0 };
        const struct abbrev *ab = NULL;
        rc = unit_begin(dw, off, &u, &next, &t, &r, &ab, &why);
        if (rc == GD_ENOTFOUND) {
            off = next;                 /* type and split units: nothing to index */
            rc = GD_OK;
            continue;
        }
        if (rc == GD_OK && !VEC_PUSH(b->units, u))
            rc = GD_ENOMEM;
        /* a partial unit's line table only names the files of its
         * declarations (and is often a compile unit's) */
        if (rc == GD_OK && u.has_stmt && dw->line.data && ab->tag != TAG_partial_unit)
            rc = lines_decode(b, dw, &u, &lt, &why);
        else
            lt.files.n = lt.dirs.n = lt.ids.n = 0;
        if (rc == GD_OK && ab->children && ab->tag != TAG_skeleton_unit) {
            struct walk wk = { b, dw, &b->units.v[b->units.n - 1], &t, &lt };
            rc = walk_unit(&wk, &r, &why);
        }
        if (rc == GD_ENOMEM)
            break;
        if (rc != GD_OK) {
            b->rows.n = rows;
            b->seqs.n = seqs;
            b->nodes.n = nodes;
            b->ranges.n = ranges;
            b->vars.n = vars;
            b->bad_units++;
            gd_warn(w, "compile unit at offset 0x%llx%s%s%s: %s; skipped",
                    (unsigned long long)off, u.name ? " (" : "", u.name ? u.name : "",
                    u.name ? ")" : "", why ? why : "corrupt");
            rc = GD_OK;
            if (next <= off)
                break;
        } else {
            b->good_units++;
        }
        off = next;
    }
    abbrev_table_free(&t);
    linetab_free(&lt);
    if (rc == GD_OK && dw->sup)
        rc = sup_units_read(b, dw->sup, w);
    if (rc == GD_ENOMEM)
        return gd_fail(err, GD_ENOMEM, "out of memory while indexing DWARF");
    resolve_names(b, dw);
    return GD_OK;
}
