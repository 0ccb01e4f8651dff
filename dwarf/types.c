/*
 * types.c — struct, union and enum layouts by name, read with libdwarf
 * (dwarf_init_path, the 20210528 API) on first use and cached.  Searches
 * the top level of every unit and its namespaces, then those of the
 * supplementary file (dwz -m), where shared types often are; a typedef is
 * followed to what it names; declarations are passed over.
 *
 * The supplementary file is opened with libdwarf too and tied to the main
 * one, so that dwarf_formstring reads DW_FORM_GNU_strp_alt and
 * DW_FORM_strp_sup from its .debug_str (untied, libdwarf returns a
 * placeholder string).  References into it (DW_FORM_GNU_ref_alt,
 * DW_FORM_ref_sup4/8) are followed here: libdwarf returns their offset as
 * if it were one of the main file (ref_alt) or cannot read them at all
 * (ref_sup), so the latter are read with units.c.
 */
#include <dwarf.h>
#include <libdwarf.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

struct cached {
    char *name;
    bool is_enum;
    struct gd_struct s;
    struct gd_enum e;
};

/* One file's DWARF as libdwarf reads it. */
struct tsrc {
    Dwarf_Debug dbg;
    const struct tsrc *sup;     /* where its references to another file go */
    const struct dw *dw;        /* its sections, for what libdwarf cannot read */
};

struct type_cache {
    struct tsrc main, sup;
    bool open_failed;
    VEC(struct cached *) items;
};

static void free_cached(struct cached *c)
{
    if (!c)
        return;
    if (c->is_enum) {
        for (size_t i = 0; i < c->e.nvalues; i++)
            free((char *)c->e.values[i].name);
        free((void *)c->e.values);
    } else {
        for (size_t i = 0; i < c->s.nmembers; i++)
            free((char *)c->s.members[i].name);
        free((void *)c->s.members);
    }
    free(c->name);
    free(c);
}

void types_free(struct type_cache *tc)
{
    if (!tc)
        return;
    for (size_t i = 0; i < tc->items.n; i++)
        free_cached(tc->items.v[i]);
    VEC_FREE(tc->items);
    Dwarf_Error e = 0;
    if (tc->main.dbg)
        dwarf_finish(tc->main.dbg, &e);
    if (tc->sup.dbg)
        dwarf_finish(tc->sup.dbg, &e);
    free(tc);
}

static void drop_error(Dwarf_Debug dbg, Dwarf_Error *e)
{
    if (*e) {
        dwarf_dealloc(dbg, *e, DW_DLA_ERROR);
        *e = 0;
    }
}

static bool die_udata(const struct tsrc *src, Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *out)
{
    Dwarf_Debug dbg = src->dbg;
    Dwarf_Attribute a = 0;
    Dwarf_Error e = 0;
    bool ok = false;
    if (dwarf_attr(die, at, &a, &e) == DW_DLV_OK) {
        Dwarf_Signed s;
        if (dwarf_formudata(a, out, &e) == DW_DLV_OK) {
            ok = true;
        } else {
            drop_error(dbg, &e);
            if (dwarf_formsdata(a, &s, &e) == DW_DLV_OK) {
                *out = (Dwarf_Unsigned)s;
                ok = true;
            }
        }
        dwarf_dealloc_attribute(a);
    }
    drop_error(dbg, &e);
    return ok;
}

static bool die_flag(const struct tsrc *src, Dwarf_Die die, Dwarf_Half at)
{
    Dwarf_Bool has = 0;
    Dwarf_Error e = 0;
    int rc = dwarf_hasattr(die, at, &has, &e);
    drop_error(src->dbg, &e);
    return rc == DW_DLV_OK && has;
}

static char *die_name(const struct tsrc *src, Dwarf_Die die)
{
    char *name = NULL;
    Dwarf_Error e = 0;
    if (dwarf_diename(die, &name, &e) != DW_DLV_OK) {
        drop_error(src->dbg, &e);
        return NULL;
    }
    return name;
}

/* The offset in the supplementary file that attribute at of die holds in
 * form DW_FORM_GNU_ref_alt (libdwarf reads it) or DW_FORM_ref_sup4/8
 * (units.c does). */
static bool sup_offset(const struct tsrc *src, Dwarf_Die die, Dwarf_Attribute a, Dwarf_Half at,
                       Dwarf_Half form, Dwarf_Off *off)
{
    Dwarf_Error e = 0;
    Dwarf_Off die_off, unit_off, unit_len;
    struct attr v;
    if (form == DW_FORM_GNU_ref_alt) {
        int rc = dwarf_global_formref(a, off, &e);
        drop_error(src->dbg, &e);
        return rc == DW_DLV_OK;
    }
    if (dwarf_dieoffset(die, &die_off, &e) != DW_DLV_OK ||
        dwarf_die_CU_offset_range(die, &unit_off, &unit_len, &e) != DW_DLV_OK) {
        drop_error(src->dbg, &e);
        return false;
    }
    if (!die_attr_find(src->dw, unit_off, die_off, at, &v) || v.form != form)
        return false;
    *off = v.u;
    return true;
}

/* The DIE an attribute such as DW_AT_type refers to, 0 if none; *to gets
 * the file it is in (src, or src->sup). */
static Dwarf_Die die_ref(const struct tsrc *src, Dwarf_Die die, Dwarf_Half at,
                         const struct tsrc **to)
{
    Dwarf_Attribute a = 0;
    Dwarf_Error e = 0;
    Dwarf_Off off;
    Dwarf_Half form = 0;
    Dwarf_Die out = 0;
    *to = src;
    if (dwarf_attr(die, at, &a, &e) != DW_DLV_OK) {
        drop_error(src->dbg, &e);
        return 0;
    }
    bool ok = dwarf_whatform(a, &form, &e) == DW_DLV_OK;
    drop_error(src->dbg, &e);
    if (ok && (form == DW_FORM_GNU_ref_alt || form == DW_FORM_ref_sup4 ||
               form == DW_FORM_ref_sup8)) {
        *to = src->sup;
        ok = src->sup && sup_offset(src, die, a, at, form, &off);
    } else if (ok) {
        ok = dwarf_global_formref(a, &off, &e) == DW_DLV_OK;
        drop_error(src->dbg, &e);
    }
    dwarf_dealloc_attribute(a);
    if (ok && dwarf_offdie_b((*to)->dbg, off, 1, &out, &e) != DW_DLV_OK)
        out = 0;
    if (ok)
        drop_error((*to)->dbg, &e);
    return out;
}

static Dwarf_Half die_tag(const struct tsrc *src, Dwarf_Die die)
{
    Dwarf_Half tag = 0;
    Dwarf_Error e = 0;
    if (dwarf_tag(die, &tag, &e) != DW_DLV_OK)
        tag = 0;
    drop_error(src->dbg, &e);
    return tag;
}

/* Calls fn(src, child, ctx) for each child of die until it returns true
 * (then returns true). */
static bool each_child(const struct tsrc *src, Dwarf_Die die,
                       bool (*fn)(const struct tsrc *, Dwarf_Die, void *), void *ctx)
{
    Dwarf_Debug dbg = src->dbg;
    Dwarf_Die ch = 0;
    Dwarf_Error e = 0;
    bool stop = false;
    if (dwarf_child(die, &ch, &e) != DW_DLV_OK)
        ch = 0;
    drop_error(dbg, &e);
    while (ch && !stop) {
        stop = fn(src, ch, ctx);
        Dwarf_Die next = 0;
        if (!stop && dwarf_siblingof_b(dbg, ch, 1, &next, &e) != DW_DLV_OK)
            next = 0;
        drop_error(dbg, &e);
        dwarf_dealloc_die(ch);
        ch = next;
    }
    return stop;
}

static bool count_subrange(const struct tsrc *src, Dwarf_Die c, void *ctx)
{
    uint64_t *n = ctx;
    Dwarf_Unsigned cnt, ub;
    if (die_tag(src, c) == DW_TAG_subrange_type) {
        if (die_udata(src, c, DW_AT_count, &cnt))
            *n *= cnt;
        else if (die_udata(src, c, DW_AT_upper_bound, &ub))
            *n *= ub + 1;
        else
            *n = 0;
    }
    return false;
}

/* Byte size of the type DIE, following qualifiers and typedefs; arrays are
 * element size times element counts. */
static uint64_t type_size(const struct tsrc *src, Dwarf_Die die, int depth)
{
    Dwarf_Unsigned sz;
    if (!die || depth > 32)
        return 0;
    if (die_udata(src, die, DW_AT_byte_size, &sz))
        return sz;
    Dwarf_Half tag = die_tag(src, die);
    if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type ||
        tag == DW_TAG_rvalue_reference_type || tag == DW_TAG_ptr_to_member_type)
        return 8;
    const struct tsrc *ts;
    Dwarf_Die t = die_ref(src, die, DW_AT_type, &ts);
    uint64_t inner = type_size(ts, t, depth + 1);
    if (tag == DW_TAG_array_type) {
        uint64_t n = 1;
        each_child(src, die, count_subrange, &n);
        inner *= n;
    }
    if (t)
        dwarf_dealloc_die(t);
    return inner;
}

/* DW_AT_data_member_location: a constant, or DWARF 2's DW_OP_plus_uconst. */
static bool member_offset(const struct tsrc *src, Dwarf_Die die, uint64_t *out)
{
    Dwarf_Unsigned v;
    if (die_udata(src, die, DW_AT_data_member_location, &v)) {
        *out = v;
        return true;
    }
    Dwarf_Attribute a = 0;
    Dwarf_Error e = 0;
    bool ok = false;
    if (dwarf_attr(die, DW_AT_data_member_location, &a, &e) == DW_DLV_OK) {
        Dwarf_Unsigned len;
        Dwarf_Ptr p;
        if (dwarf_formexprloc(a, &len, &p, &e) == DW_DLV_OK && len >= 2 &&
            ((uint8_t *)p)[0] == DW_OP_plus_uconst) {
            struct rd r = rd_make((uint8_t *)p + 1, (size_t)len - 1);
            *out = rd_uleb(&r);
            ok = !r.bad;
        }
        dwarf_dealloc_attribute(a);
    }
    drop_error(src->dbg, &e);
    return ok;
}

struct members {
    VEC(struct gd_member) m;
    VEC(struct gd_enumerator) e;
    bool failed;
};

static bool add_member(const struct tsrc *src, Dwarf_Die ch, void *ctx)
{
    struct members *ms = ctx;
    if (die_tag(src, ch) != DW_TAG_member)
        return false;
    struct gd_member mm = { 0 };
    char *n = die_name(src, ch);
    Dwarf_Unsigned bits, bitoff;
    member_offset(src, ch, &mm.offset);
    const struct tsrc *ts;
    Dwarf_Die t = die_ref(src, ch, DW_AT_type, &ts);
    mm.size = type_size(ts, t, 0);
    if (t)
        dwarf_dealloc_die(t);
    if (die_udata(src, ch, DW_AT_bit_size, &bits)) {
        mm.bit_size = (uint32_t)bits;
        if (die_udata(src, ch, DW_AT_data_bit_offset, &bitoff)) {
            mm.bit_offset = (uint32_t)bitoff;
            if (!die_flag(src, ch, DW_AT_data_member_location))
                mm.offset = bitoff / 8;
        }
    }
    mm.name = strdup(n ? n : "");
    if (!mm.name || !VEC_PUSH(ms->m, mm)) {
        free((char *)mm.name);
        ms->failed = true;
        return true;
    }
    return false;
}

static bool add_enumerator(const struct tsrc *src, Dwarf_Die ch, void *ctx)
{
    struct members *ms = ctx;
    if (die_tag(src, ch) != DW_TAG_enumerator)
        return false;
    struct gd_enumerator en = { 0 };
    char *n = die_name(src, ch);
    Dwarf_Unsigned val = 0;
    die_udata(src, ch, DW_AT_const_value, &val);
    en.value = (int64_t)val;
    en.name = strdup(n ? n : "");
    if (!en.name || !VEC_PUSH(ms->e, en)) {
        free((char *)en.name);
        ms->failed = true;
        return true;
    }
    return false;
}

static struct cached *read_type(const struct tsrc *src, Dwarf_Die die, const char *name,
                                bool is_enum)
{
    struct cached *c = calloc(1, sizeof *c);
    struct members ms = { { 0 }, { 0 }, false };

    if (c)
        c->is_enum = is_enum;
    if (!c || !(c->name = strdup(name)))
        goto fail;
    each_child(src, die, is_enum ? add_enumerator : add_member, &ms);
    if (ms.failed)
        goto fail;
    if (is_enum) {
        c->e.name = c->name;
        c->e.size = type_size(src, die, 0);
        c->e.values = ms.e.v;
        c->e.nvalues = ms.e.n;
    } else {
        c->s.name = c->name;
        c->s.size = type_size(src, die, 0);
        c->s.members = ms.m.v;
        c->s.nmembers = ms.m.n;
    }
    return c;
fail:
    for (size_t i = 0; i < ms.m.n; i++)
        free((char *)ms.m.v[i].name);
    for (size_t i = 0; i < ms.e.n; i++)
        free((char *)ms.e.v[i].name);
    VEC_FREE(ms.m);
    VEC_FREE(ms.e);
    free_cached(c);
    return NULL;
}

static bool wanted_tag(Dwarf_Half tag, bool want_enum)
{
    if (want_enum)
        return tag == DW_TAG_enumeration_type;
    return tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
           tag == DW_TAG_class_type;
}

struct search {
    const char *name;
    bool want_enum;
    int depth;
    struct cached *found;
};

/* Looks among the children of a unit (and inside namespaces). */
static bool search_child(const struct tsrc *src, Dwarf_Die ch, void *ctx)
{
    struct search *sr = ctx;
    Dwarf_Half tag = die_tag(src, ch);
    if (tag == DW_TAG_namespace && sr->depth < 8) {
        sr->depth++;
        each_child(src, ch, search_child, sr);
        sr->depth--;
        return sr->found != NULL;
    }
    if (!wanted_tag(tag, sr->want_enum) && tag != DW_TAG_typedef)
        return false;
    char *n = die_name(src, ch);
    if (!n || strcmp(n, sr->name) != 0 || die_flag(src, ch, DW_AT_declaration))
        return false;
    Dwarf_Die target = ch, t = 0;
    const struct tsrc *ts = src;
    if (tag == DW_TAG_typedef) {
        /* follow typedef chains to the struct or enum (perhaps into the
         * supplementary file) */
        for (int k = 0; k < 8; k++) {
            Dwarf_Die next = die_ref(ts, target, DW_AT_type, &ts);
            if (t)
                dwarf_dealloc_die(t);
            t = target = next;
            if (!next || die_tag(ts, next) != DW_TAG_typedef)
                break;
        }
    }
    if (target && wanted_tag(die_tag(ts, target), sr->want_enum) &&
        !die_flag(ts, target, DW_AT_declaration))
        sr->found = read_type(ts, target, sr->name, sr->want_enum);
    if (t)
        dwarf_dealloc_die(t);
    return sr->found != NULL;
}

/* Opens path with libdwarf into *dbg; an error message in err if not. */
static int open_dwarf(const char *path, Dwarf_Debug *dbg, struct gd_error *err)
{
    Dwarf_Error e = 0;
    int rc = dwarf_init_path(path, NULL, 0, DW_DLC_READ, DW_GROUPNUMBER_ANY, NULL, NULL, dbg,
                             NULL, 0, NULL, &e);
    if (rc == DW_DLV_OK)
        return GD_OK;
    *dbg = 0;
    int code = gd_fail(err, GD_EDWARF, "%s: libdwarf: %s", path,
                       rc == DW_DLV_ERROR ? dwarf_errmsg(e) : "no DWARF");
    if (e)
        dwarf_dealloc(0, e, DW_DLA_ERROR);
    return code;
}

/* The main file's DWARF, and its supplementary file's tied to it. */
static int open_sources(gd_binary *b, struct type_cache *tc, struct gd_error *err)
{
    int rc = open_dwarf(b->dwarf_src->path, &tc->main.dbg, err);
    if (rc != GD_OK)
        return rc;
    tc->main.dw = &b->dw;
    if (!b->has_sup)
        return GD_OK;
    struct gd_error e;
    Dwarf_Error de = 0;
    if (open_dwarf(b->sup.path, &tc->sup.dbg, &e) != GD_OK) {
        gd_warn(&b->warner, "%s; types kept there are not found", e.msg);
        return GD_OK;
    }
    if (dwarf_set_tied_dbg(tc->main.dbg, tc->sup.dbg, &de) != DW_DLV_OK) {
        drop_error(tc->main.dbg, &de);
        dwarf_finish(tc->sup.dbg, &de);
        tc->sup.dbg = 0;
        return GD_OK;
    }
    tc->sup.dw = &b->sup_dw;
    tc->main.sup = &tc->sup;
    return GD_OK;
}

/* Searches every unit of src for the type. */
static struct cached *search_units(const struct tsrc *src, const char *name, bool want_enum)
{
    Dwarf_Debug dbg = src->dbg;
    struct cached *found = NULL;
    for (;;) {
        Dwarf_Unsigned next = 0;
        Dwarf_Half ut = 0;
        Dwarf_Error e = 0;
        int rc = dwarf_next_cu_header_d(dbg, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                        &next, &ut, &e);
        if (rc != DW_DLV_OK) {
            drop_error(dbg, &e);
            break;      /* the iteration is reset for the next search */
        }
        if (found)
            continue;   /* run the header iteration to its end */
        Dwarf_Die cu = 0;
        if (dwarf_siblingof_b(dbg, NULL, 1, &cu, &e) == DW_DLV_OK) {
            struct search sr = { name, want_enum, 0, NULL };
            each_child(src, cu, search_child, &sr);
            found = sr.found;
            dwarf_dealloc_die(cu);
        }
        drop_error(dbg, &e);
    }
    return found;
}

static int find_type(gd_binary *b, const char *name, bool want_enum, struct cached **out,
                     struct gd_error *err)
{
    if (!b->types && !(b->types = calloc(1, sizeof *b->types)))
        return gd_fail(err, GD_ENOMEM, "out of memory");
    struct type_cache *tc = b->types;
    for (size_t i = 0; i < tc->items.n; i++) {
        if (tc->items.v[i]->is_enum == want_enum && strcmp(tc->items.v[i]->name, name) == 0) {
            *out = tc->items.v[i];
            return GD_OK;
        }
    }
    if (!b->info.has_dwarf)
        return gd_fail(err, GD_ENOTFOUND, "%s: no DWARF", b->info.path);
    if (!tc->main.dbg && !tc->open_failed) {
        int rc = open_sources(b, tc, err);
        if (rc != GD_OK) {
            tc->open_failed = true;
            return rc;
        }
    }
    if (!tc->main.dbg)
        return gd_fail(err, GD_EDWARF, "%s: libdwarf could not open the file", b->dwarf_src->path);

    struct cached *found = search_units(&tc->main, name, want_enum);
    if (!found && tc->main.sup)
        found = search_units(&tc->sup, name, want_enum);
    if (!found)
        return gd_fail(err, GD_ENOTFOUND, "%s %s: not found in the DWARF of %s",
                       want_enum ? "enum" : "struct", name, b->info.path);
    if (!VEC_PUSH(tc->items, found)) {
        free_cached(found);
        return gd_fail(err, GD_ENOMEM, "out of memory");
    }
    *out = found;
    return GD_OK;
}

int gd_struct_by_name(gd_binary *b, const char *name, const struct gd_struct **out,
                      struct gd_error *err)
{
    struct cached *c;
    int rc = find_type(b, name, false, &c, err);
    if (rc == GD_OK)
        *out = &c->s;
    return rc;
}

int gd_enum_by_name(gd_binary *b, const char *name, const struct gd_enum **out,
                    struct gd_error *err)
{
    struct cached *c;
    int rc = find_type(b, name, true, &c, err);
    if (rc == GD_OK)
        *out = &c->e;
    return rc;
}
