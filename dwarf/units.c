/*
 * units.c — reading .debug_info: unit headers (DWARF 2-5), abbreviation
 * tables, attribute forms, and the indirections of DWARF 5 (.debug_str_offsets,
 * .debug_addr) and of dwz's supplementary files (strings and references
 * into another file's .debug_str and .debug_info).  Every read is bounded
 * by its section.
 */
#include <dwarf.h>
#include <stdlib.h>

#include "internal.h"

#ifndef DW_FORM_GNU_addr_index
#define DW_FORM_GNU_addr_index 0x1f01
#define DW_FORM_GNU_str_index 0x1f02
#endif
#ifndef DW_FORM_GNU_ref_alt
#define DW_FORM_GNU_ref_alt 0x1f20
#define DW_FORM_GNU_strp_alt 0x1f21
#endif

/* Forms and attributes newer than Debian's dwarf.h may know. */
enum {
    F_strx = 0x1a, F_addrx = 0x1b, F_ref_sup4 = 0x1c, F_strp_sup = 0x1d, F_data16 = 0x1e,
    F_line_strp = 0x1f, F_ref_sig8 = 0x20, F_implicit_const = 0x21, F_loclistx = 0x22,
    F_rnglistx = 0x23, F_ref_sup8 = 0x24, F_strx1 = 0x25, F_strx2 = 0x26, F_strx3 = 0x27,
    F_strx4 = 0x28, F_addrx1 = 0x29, F_addrx2 = 0x2a, F_addrx3 = 0x2b, F_addrx4 = 0x2c,
    A_str_offsets_base = 0x72, A_addr_base = 0x73, A_rnglists_base = 0x74,
    A_GNU_addr_base = 0x2133, A_GNU_ranges_base = 0x2132,
    UT_compile = 1, UT_type = 2, UT_partial = 3, UT_skeleton = 4, UT_split_compile = 5,
    UT_split_type = 6
};

int unit_header(const struct dw *dw, uint64_t off, struct unit *u, uint64_t *next,
                const char **why)
{
    memset(u, 0, sizeof *u);
    *next = dw->info.size;
    if (off >= dw->info.size) {
        *why = "unit offset past the end of .debug_info";
        return GD_EDWARF;
    }
    struct rd r = rd_make(dw->info.data + off, dw->info.size - off);
    uint64_t len = rd_uint(&r, 4);
    u->offset_size = 4;
    if (len == 0xffffffffu) {
        len = rd_uint(&r, 8);
        u->offset_size = 8;
    } else if (len >= 0xfffffff0u) {
        *why = "reserved unit length";
        return GD_EDWARF;
    }
    if (r.bad || len > rd_left(&r)) {
        *why = "unit length past the end of .debug_info";
        return GD_EDWARF;
    }
    u->off = off;
    u->end = (uint64_t)(r.p - dw->info.data) + len;
    *next = u->end;
    r.end = dw->info.data + u->end;
    u->version = (uint8_t)rd_uint(&r, 2);
    if (u->version < 2 || u->version > 5) {
        *why = "unsupported DWARF version";
        return GD_EDWARF;
    }
    if (u->version >= 5) {
        u->unit_type = rd_u8(&r);
        u->addr_size = rd_u8(&r);
        u->abbrev_off = rd_uint(&r, u->offset_size);
        switch (u->unit_type) {
        case UT_compile: case UT_partial: break;
        case UT_skeleton: case UT_split_compile: rd_skip(&r, 8); break;
        case UT_type: case UT_split_type: rd_skip(&r, 8 + (uint64_t)u->offset_size); break;
        default:
            *why = "unknown unit type";
            return GD_EDWARF;
        }
    } else {
        u->unit_type = UT_compile;
        u->abbrev_off = rd_uint(&r, u->offset_size);
        u->addr_size = rd_u8(&r);
    }
    if (r.bad) {
        *why = "truncated unit header";
        return GD_EDWARF;
    }
    if (u->addr_size != 4 && u->addr_size != 8) {
        *why = "unsupported address size";
        return GD_EDWARF;
    }
    u->die_off = (uint64_t)(r.p - dw->info.data);
    return GD_OK;
}

/* Byte size of a form's value in unit u, or -1 when it varies. */
static int form_size(uint16_t form, uint8_t offset_size, uint8_t addr_size, uint8_t version)
{
    switch (form) {
    case DW_FORM_addr: return addr_size;
    case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag: case F_strx1: case F_addrx1:
        return 1;
    case DW_FORM_data2: case DW_FORM_ref2: case F_strx2: case F_addrx2: return 2;
    case F_strx3: case F_addrx3: return 3;
    case DW_FORM_data4: case DW_FORM_ref4: case F_ref_sup4: case F_strx4: case F_addrx4:
        return 4;
    case DW_FORM_data8: case DW_FORM_ref8: case F_ref_sig8: case F_ref_sup8: return 8;
    case F_data16: return 16;
    case DW_FORM_strp: case DW_FORM_sec_offset: case F_line_strp: case F_strp_sup:
    case DW_FORM_GNU_ref_alt: case DW_FORM_GNU_strp_alt:
        return offset_size;
    case DW_FORM_ref_addr: return version <= 2 ? addr_size : offset_size;
    case DW_FORM_flag_present: case F_implicit_const: return 0;
    default: return -1;
    }
}

static bool form_known(uint16_t form)
{
    switch (form) {
    case DW_FORM_block2: case DW_FORM_block4: case DW_FORM_string: case DW_FORM_block:
    case DW_FORM_block1: case DW_FORM_sdata: case DW_FORM_udata: case DW_FORM_ref_udata:
    case DW_FORM_indirect: case DW_FORM_exprloc: case F_strx: case F_addrx:
    case F_loclistx: case F_rnglistx: case DW_FORM_GNU_addr_index: case DW_FORM_GNU_str_index:
        return true;
    default:
        return form_size(form, 4, 8, 4) >= 0;
    }
}

void abbrev_table_free(struct abbrev_table *t)
{
    VEC_FREE(t->abbrevs);
    VEC_FREE(t->attrs);
    free(t->direct);
    memset(t, 0, sizeof *t);
}

int abbrev_table_load(struct abbrev_table *t, const struct dw *dw, const struct unit *u,
                      const char **why)
{
    if (t->loaded && t->offset == u->abbrev_off && t->section == dw->abbrev.data &&
        t->offset_size == u->offset_size && t->addr_size == u->addr_size &&
        t->version == u->version)
        return GD_OK;
    t->abbrevs.n = 0;
    t->attrs.n = 0;
    t->loaded = false;
    if (u->abbrev_off >= dw->abbrev.size) {
        *why = "abbreviation offset past the end of .debug_abbrev";
        return GD_EDWARF;
    }
    struct rd r = rd_make(dw->abbrev.data + u->abbrev_off, dw->abbrev.size - u->abbrev_off);
    uint64_t maxcode = 0;
    for (;;) {
        uint64_t code = rd_uleb(&r);
        if (r.bad) {
            *why = "truncated abbreviation table";
            return GD_EDWARF;
        }
        if (code == 0)
            break;
        struct abbrev ab = { 0 };
        ab.code = code;
        ab.tag = (uint16_t)rd_uleb(&r);
        ab.children = rd_u8(&r) != 0;
        ab.sibling = -1;
        ab.first = (uint32_t)t->attrs.n;
        ab.fixed = 0;
        for (;;) {
            uint64_t name = rd_uleb(&r), form = rd_uleb(&r);
            int64_t implicit = 0;
            if (r.bad) {
                *why = "truncated abbreviation";
                return GD_EDWARF;
            }
            if (name == 0 && form == 0)
                break;
            if (form == F_implicit_const)
                implicit = rd_sleb(&r);
            if (form > 0xffff || name > 0xffff || !form_known((uint16_t)form)) {
                *why = "unknown attribute form";
                return GD_EDWARF;
            }
            struct abbrev_attr a = { (uint16_t)name, (uint16_t)form, implicit };
            if (!VEC_PUSH(t->attrs, a)) {
                *why = "out of memory";
                return GD_ENOMEM;
            }
            if (name == DW_AT_sibling)
                ab.sibling = (int32_t)ab.nattrs;
            ab.nattrs++;
            int sz = form_size((uint16_t)form, u->offset_size, u->addr_size, u->version);
            if (sz < 0 || ab.fixed < 0)
                ab.fixed = -1;
            else
                ab.fixed += sz;
        }
        if (!VEC_PUSH(t->abbrevs, ab)) {
            *why = "out of memory";
            return GD_ENOMEM;
        }
        if (code > maxcode)
            maxcode = code;
    }
    /* Codes are almost always dense from 1: index them directly. */
    size_t nd = maxcode < 4 * t->abbrevs.n + 64 ? (size_t)maxcode + 1 : 0;
    if (nd > t->ndirect) {
        free(t->direct);
        t->direct = malloc(nd * sizeof *t->direct);
        if (!t->direct) {
            t->ndirect = 0;
            *why = "out of memory";
            return GD_ENOMEM;
        }
    }
    if (nd)
        memset(t->direct, 0, nd * sizeof *t->direct);
    t->ndirect = nd;
    for (size_t i = 0; i < t->abbrevs.n && nd; i++)
        if (!t->direct[t->abbrevs.v[i].code])
            t->direct[t->abbrevs.v[i].code] = (uint32_t)i + 1;
    t->offset = u->abbrev_off;
    t->section = dw->abbrev.data;
    t->offset_size = u->offset_size;
    t->addr_size = u->addr_size;
    t->version = u->version;
    t->loaded = true;
    return GD_OK;
}

const struct abbrev *abbrev_find(const struct abbrev_table *t, uint64_t code)
{
    if (code < t->ndirect) {
        uint32_t i = t->direct[code];
        return i ? &t->abbrevs.v[i - 1] : NULL;
    }
    for (size_t i = 0; i < t->abbrevs.n; i++)
        if (t->abbrevs.v[i].code == code)
            return &t->abbrevs.v[i];
    return NULL;
}

bool form_is_constant(uint16_t form)
{
    switch (form) {
    case DW_FORM_data1: case DW_FORM_data2: case DW_FORM_data4: case DW_FORM_data8:
    case DW_FORM_sdata: case DW_FORM_udata: case F_implicit_const:
        return true;
    default:
        return false;
    }
}

bool form_read(struct rd *r, const struct unit *u, uint16_t form, int64_t implicit,
               struct attr *a)
{
    a->blk = NULL;
    a->len = 0;
    a->u = 0;
    for (int depth = 0; form == DW_FORM_indirect; depth++) {
        form = (uint16_t)rd_uleb(r);
        if (depth > 4 || r->bad)
            return false;
    }
    a->form = form;
    switch (form) {
    case DW_FORM_addr: a->u = rd_uint(r, u->addr_size); break;
    case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag: case F_strx1: case F_addrx1:
        a->u = rd_u8(r);
        break;
    case DW_FORM_data2: case DW_FORM_ref2: case F_strx2: case F_addrx2:
        a->u = rd_uint(r, 2);
        break;
    case F_strx3: case F_addrx3: a->u = rd_uint(r, 3); break;
    case DW_FORM_data4: case DW_FORM_ref4: case F_ref_sup4: case F_strx4: case F_addrx4:
        a->u = rd_uint(r, 4);
        break;
    case DW_FORM_data8: case DW_FORM_ref8: case F_ref_sig8: case F_ref_sup8:
        a->u = rd_uint(r, 8);
        break;
    case F_data16: a->blk = r->p; a->len = 16; rd_skip(r, 16); break;
    case DW_FORM_strp: case DW_FORM_sec_offset: case F_line_strp: case F_strp_sup:
    case DW_FORM_GNU_ref_alt: case DW_FORM_GNU_strp_alt:
        a->u = rd_uint(r, u->offset_size);
        break;
    case DW_FORM_ref_addr: a->u = rd_uint(r, u->version <= 2 ? u->addr_size : u->offset_size); break;
    case DW_FORM_flag_present: a->u = 1; break;
    case F_implicit_const: a->u = (uint64_t)implicit; break;
    case DW_FORM_sdata: a->u = (uint64_t)rd_sleb(r); break;
    case DW_FORM_udata: case DW_FORM_ref_udata: case F_strx: case F_addrx: case F_loclistx:
    case F_rnglistx: case DW_FORM_GNU_addr_index: case DW_FORM_GNU_str_index:
        a->u = rd_uleb(r);
        break;
    case DW_FORM_string: a->blk = (const uint8_t *)rd_cstr(r); break;
    case DW_FORM_block1: a->len = rd_u8(r); goto block;
    case DW_FORM_block2: a->len = rd_uint(r, 2); goto block;
    case DW_FORM_block4: a->len = rd_uint(r, 4); goto block;
    case DW_FORM_block: case DW_FORM_exprloc: a->len = rd_uleb(r); goto block;
    block:
        a->blk = r->p;
        rd_skip(r, a->len);
        break;
    default:
        return false;
    }
    return !r->bad;
}

bool die_skip_attrs(struct rd *r, const struct unit *u, const struct abbrev_table *t,
                    const struct abbrev *ab)
{
    if (ab->fixed >= 0) {
        rd_skip(r, (uint64_t)ab->fixed);
        return !r->bad;
    }
    const struct abbrev_attr *at = &t->attrs.v[ab->first];
    for (uint32_t i = 0; i < ab->nattrs; i++) {
        int sz = form_size(at[i].form, u->offset_size, u->addr_size, u->version);
        if (sz >= 0) {
            rd_skip(r, (uint64_t)sz);
            continue;
        }
        switch (at[i].form) {
        case DW_FORM_sdata: case DW_FORM_udata: case DW_FORM_ref_udata: case F_strx:
        case F_addrx: case F_loclistx: case F_rnglistx: case DW_FORM_GNU_addr_index:
        case DW_FORM_GNU_str_index: {
            /* a LEB128: skip to the byte without the continuation bit */
            const uint8_t *p = r->p;
            while (p < r->end && (*p & 0x80))
                p++;
            if (p >= r->end) {
                r->bad = true;
                return false;
            }
            r->p = p + 1;
            break;
        }
        default: {
            struct attr a;
            if (!form_read(r, u, at[i].form, at[i].implicit, &a))
                return false;
        }
        }
    }
    return !r->bad;
}

bool unit_die_read(struct rd *r, const struct dw *dw, struct unit *u,
                   const struct abbrev_table *t, const struct abbrev *ab)
{
    struct attr name = { 0 }, dir = { 0 };
    bool have_name = false, have_dir = false, have_str_base = false, have_addr_base = false;
    struct attr low = { 0 };
    bool have_low = false;
    const struct abbrev_attr *at = &t->attrs.v[ab->first];

    for (uint32_t i = 0; i < ab->nattrs; i++) {
        struct attr a;
        if (!form_read(r, u, at[i].form, at[i].implicit, &a))
            return false;
        a.name = at[i].name;
        switch (a.name) {
        case DW_AT_name: name = a; have_name = true; break;
        case DW_AT_comp_dir: dir = a; have_dir = true; break;
        case DW_AT_language: u->lang = (uint32_t)a.u; break;
        case DW_AT_stmt_list: u->stmt_list = a.u; u->has_stmt = true; break;
        case DW_AT_low_pc: low = a; have_low = true; break;
        case A_str_offsets_base: u->str_offsets_base = a.u; have_str_base = true; break;
        case A_addr_base: case A_GNU_addr_base: u->addr_base = a.u; have_addr_base = true; break;
        case A_rnglists_base: u->rnglists_base = a.u; u->has_rnglists_base = true; break;
        default: break;
        }
    }
    /* DWARF 5 bases default to just past the first contribution's header. */
    if (!have_str_base && u->version >= 5)
        u->str_offsets_base = u->offset_size == 8 ? 16 : 8;
    if (!have_addr_base && u->version >= 5)
        u->addr_base = u->offset_size == 8 ? 16 : 8;
    if (have_name)
        u->name = attr_string(dw, u, &name);
    if (have_dir)
        u->comp_dir = attr_string(dw, u, &dir);
    if (have_low)
        attr_address(dw, u, &low, &u->base_addr);
    return true;
}

const char *attr_string(const struct dw *dw, const struct unit *u, const struct attr *a)
{
    uint64_t off;
    switch (a->form) {
    case DW_FORM_string:
        return (const char *)a->blk;
    case DW_FORM_strp:
        return buf_str(&dw->str, a->u);
    case F_line_strp:
        return buf_str(&dw->line_str, a->u);
    case F_strx: case F_strx1: case F_strx2: case F_strx3: case F_strx4: {
        uint64_t pos = u->str_offsets_base + a->u * u->offset_size;
        if (a->u > dw->str_offsets.size || pos > dw->str_offsets.size ||
            dw->str_offsets.size - pos < u->offset_size)
            return NULL;
        struct rd r = rd_make(dw->str_offsets.data + pos, u->offset_size);
        off = rd_uint(&r, u->offset_size);
        return buf_str(&dw->str, off);
    }
    case DW_FORM_GNU_strp_alt: case F_strp_sup:
        return dw->sup ? buf_str(&dw->sup->str, a->u) : NULL;
    default:
        return NULL;        /* split-DWARF strings */
    }
}

bool attr_address(const struct dw *dw, const struct unit *u, const struct attr *a,
                  uint64_t *out)
{
    switch (a->form) {
    case DW_FORM_addr:
        *out = a->u;
        return true;
    case F_addrx: case F_addrx1: case F_addrx2: case F_addrx3: case F_addrx4:
    case DW_FORM_GNU_addr_index: {
        uint64_t pos = u->addr_base + a->u * u->addr_size;
        if (a->u > dw->addr.size || pos > dw->addr.size || dw->addr.size - pos < u->addr_size)
            return false;
        struct rd r = rd_make(dw->addr.data + pos, u->addr_size);
        *out = rd_uint(&r, u->addr_size);
        return true;
    }
    default:
        return false;
    }
}

bool attr_reference(const struct unit *u, const struct attr *a, uint64_t *out)
{
    uint64_t sup = u->in_sup ? DIE_SUP : 0;
    switch (a->form) {
    case DW_FORM_ref1: case DW_FORM_ref2: case DW_FORM_ref4: case DW_FORM_ref8:
    case DW_FORM_ref_udata:
        if (a->u >= u->end - u->off)
            return false;
        *out = (u->off + a->u) | sup;
        return true;
    case DW_FORM_ref_addr:
        if (a->u & DIE_SUP)
            return false;
        *out = a->u | sup;
        return true;
    case DW_FORM_GNU_ref_alt: case F_ref_sup4: case F_ref_sup8:
        /* a supplementary file has none of its own */
        if (u->in_sup || (a->u & DIE_SUP))
            return false;
        *out = a->u | DIE_SUP;
        return true;
    default:
        return false;
    }
}

bool die_attr_find(const struct dw *dw, uint64_t unit_off, uint64_t die_off, uint16_t name,
                   struct attr *out)
{
    struct unit u;
    struct abbrev_table t = { 0 };
    uint64_t next;
    const char *why;
    bool found = false;

    if (unit_header(dw, unit_off, &u, &next, &why) != GD_OK || die_off < u.die_off ||
        die_off >= u.end || abbrev_table_load(&t, dw, &u, &why) != GD_OK) {
        abbrev_table_free(&t);
        return false;
    }
    struct rd r = rd_make(dw->info.data + die_off, (size_t)(u.end - die_off));
    const struct abbrev *ab = abbrev_find(&t, rd_uleb(&r));
    const struct abbrev_attr *at = ab ? &t.attrs.v[ab->first] : NULL;
    for (uint32_t i = 0; ab && i < ab->nattrs && !found; i++) {
        if (!form_read(&r, &u, at[i].form, at[i].implicit, out))
            break;
        found = at[i].name == name;
    }
    out->name = name;
    abbrev_table_free(&t);
    return found;
}
