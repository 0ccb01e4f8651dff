/*
 * rtdesc.c — reading and indexing the runtime descriptor.
 *
 * The header's offsets and the table entries' layouts are the contract's
 * (docs/metadata.md, "Layout"); every count read from the target is
 * bounded, so a corrupt descriptor is an error message, never a huge
 * allocation or an endless loop.
 */
#include "rtdesc.h"

#include <stdlib.h>
#include <string.h>

/* Header offsets, fixed by the contract for every version. */
enum {
    HDR_MAGIC = 0, HDR_VERSION = 8, HDR_SIZE = 12, HDR_PTR_SIZE = 16, HDR_NTYPES = 20,
    HDR_NENUMS = 24, HDR_NROOTS = 28, HDR_TYPES = 32, HDR_ENUMS = 40, HDR_ROOTS = 48,
    HDR_RUNTIME_VERSION = 56, HDR_GENERATION = 64, HDR_MIN = 72, HDR_MAX = 4096,
    FIELD_ENTRY = 16, TYPE_ENTRY = 24, ENUM_ENTRY = 24, ROOT_ENTRY = 24,
};

/* Bounds on what a sane descriptor holds. */
enum { MAX_TYPES = 64, MAX_FIELDS = 1024, MAX_ENUMS = 64, MAX_VALUES = 4096, MAX_ROOTS = 512,
       MAX_STRING = 256 };

/* Versions whose names this reader knows (2 adds the heap: its absence in
 * version 1 is handled by name lookups). */
enum { VERSION_MIN = 1, VERSION_MAX = 4 };

static uint32_t u32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t u64_at(const uint8_t *p)
{
    return (uint64_t)u32_at(p) | (uint64_t)u32_at(p + 4) << 32;
}

/* A NUL-terminated string of at most MAX_STRING bytes at addr. */
static char *read_string(struct target *t, uint64_t addr, struct fail *f, const char *what)
{
    char buf[MAX_STRING + 1];
    size_t got = 0;
    if (addr) {
        got = target_read(t, addr, buf, MAX_STRING);
        size_t to_page = 4096 - (addr & 4095);
        if (got == 0 && to_page < MAX_STRING)   /* it may end before an unreadable page */
            got = target_read(t, addr, buf, to_page);
    }
    buf[got] = 0;
    if (strnlen(buf, got) == got) {
        fail_set(f, "runtime descriptor: %s at %#llx cannot be read", what,
                 (unsigned long long)addr);
        return NULL;
    }
    return xstrdup(buf);
}

static void *read_table(struct target *t, uint64_t addr, uint32_t n, uint32_t entry,
                        struct fail *f, const char *what)
{
    uint8_t *buf = xmalloc((size_t)n * entry);
    if (n && !target_read_full(t, addr, buf, (size_t)n * entry)) {
        free(buf);
        fail_set(f, "runtime descriptor: %s table at %#llx cannot be read", what,
                 (unsigned long long)addr);
        return NULL;
    }
    return buf;
}

static int read_types(struct target *t, struct rtdesc *d, uint64_t addr, struct fail *f)
{
    uint8_t *tab = read_table(t, addr, d->ntypes, TYPE_ENTRY, f, "type");
    if (!tab)
        return -1;
    d->types = xcalloc(d->ntypes, sizeof *d->types);
    int rc = 0;
    for (uint32_t i = 0; i < d->ntypes && rc == 0; i++) {
        const uint8_t *e = tab + (size_t)i * TYPE_ENTRY;
        struct rt_type *ty = &d->types[i];
        if (!(ty->name = read_string(t, u64_at(e), f, "a type name"))) {
            rc = -1;
            break;
        }
        ty->size = u32_at(e + 8);
        uint32_t nf = u32_at(e + 12);
        if (nf > MAX_FIELDS) {
            rc = fail_set(f, "runtime descriptor: type %s claims %u fields", ty->name, nf);
            break;
        }
        uint8_t *ft = read_table(t, u64_at(e + 16), nf, FIELD_ENTRY, f, "field");
        if (!ft) {
            rc = -1;
            break;
        }
        ty->field_names = xcalloc(nf, sizeof *ty->field_names);
        ty->fields = xcalloc(nf, sizeof *ty->fields);
        ty->nfields = nf;
        for (uint32_t k = 0; k < nf; k++) {
            const uint8_t *fe = ft + (size_t)k * FIELD_ENTRY;
            if (!(ty->field_names[k] = read_string(t, u64_at(fe), f, "a field name"))) {
                rc = -1;
                break;
            }
            ty->fields[k].offset = u32_at(fe + 8);
            ty->fields[k].size = u32_at(fe + 12);
            ty->fields[k].present = true;
            if ((uint64_t)ty->fields[k].offset + ty->fields[k].size > ty->size) {
                rc = fail_set(f, "runtime descriptor: field %s.%s lies outside its %u-byte "
                                 "structure", ty->name, ty->field_names[k], ty->size);
                break;
            }
        }
        free(ft);
    }
    free(tab);
    return rc;
}

static int read_enums(struct target *t, struct rtdesc *d, uint64_t addr, struct fail *f)
{
    uint8_t *tab = read_table(t, addr, d->nenums, ENUM_ENTRY, f, "enum");
    if (!tab)
        return -1;
    d->enums = xcalloc(d->nenums, sizeof *d->enums);
    int rc = 0;
    for (uint32_t i = 0; i < d->nenums && rc == 0; i++) {
        const uint8_t *e = tab + (size_t)i * ENUM_ENTRY;
        struct rt_enum *en = &d->enums[i];
        if (!(en->name = read_string(t, u64_at(e), f, "an enum name"))) {
            rc = -1;
            break;
        }
        uint32_t nv = u32_at(e + 8);
        if (nv > MAX_VALUES) {
            rc = fail_set(f, "runtime descriptor: enum %s claims %u values", en->name, nv);
            break;
        }
        uint8_t *vt = read_table(t, u64_at(e + 16), nv, 8, f, "enum value");
        if (!vt) {
            rc = -1;
            break;
        }
        en->values = xcalloc(nv, sizeof *en->values);
        en->nvalues = nv;
        for (uint32_t k = 0; k < nv; k++) {
            uint64_t sp = u64_at(vt + (size_t)k * 8);
            /* an unnamed value is allowed (a hole in the enum) */
            en->values[k] = sp ? read_string(t, sp, f, "an enum value") : xstrdup("");
            if (!en->values[k]) {
                rc = -1;
                break;
            }
        }
        free(vt);
    }
    free(tab);
    return rc;
}

static int read_roots(struct target *t, struct rtdesc *d, uint64_t addr, struct fail *f)
{
    uint8_t *tab = read_table(t, addr, d->nroots, ROOT_ENTRY, f, "root");
    if (!tab)
        return -1;
    d->roots = xcalloc(d->nroots, sizeof *d->roots);
    int rc = 0;
    for (uint32_t i = 0; i < d->nroots; i++) {
        const uint8_t *e = tab + (size_t)i * ROOT_ENTRY;
        if (!(d->roots[i].name = read_string(t, u64_at(e), f, "a root name"))) {
            rc = -1;
            break;
        }
        d->roots[i].addr = u64_at(e + 8);
        d->roots[i].size = u64_at(e + 16);
    }
    free(tab);
    return rc;
}

int rtdesc_read(struct target *t, uint64_t addr, struct rtdesc *d, struct fail *f)
{
    memset(d, 0, sizeof *d);
    uint8_t hdr[HDR_MIN];
    if (!target_read_full(t, addr, hdr, sizeof hdr))
        return fail_set(f, "runtime descriptor at %#llx cannot be read",
                        (unsigned long long)addr);
    if (memcmp(hdr + HDR_MAGIC, "GORTDESC", 8) != 0)
        return fail_set(f, "runtime descriptor at %#llx has a bad magic number",
                        (unsigned long long)addr);
    d->addr = addr;
    d->version = u32_at(hdr + HDR_VERSION);
    d->size = u32_at(hdr + HDR_SIZE);
    d->ptr_size = u32_at(hdr + HDR_PTR_SIZE);
    d->ntypes = u32_at(hdr + HDR_NTYPES);
    d->nenums = u32_at(hdr + HDR_NENUMS);
    d->nroots = u32_at(hdr + HDR_NROOTS);
    d->generation_addr = addr + HDR_GENERATION;
    if (d->version < VERSION_MIN || d->version > VERSION_MAX)
        return fail_set(f, "runtime descriptor version %u is not one this goinspect reads "
                           "(%d to %d)", d->version, VERSION_MIN, VERSION_MAX);
    if (d->size < HDR_MIN || d->size > HDR_MAX || d->ptr_size != 8)
        return fail_set(f, "runtime descriptor: implausible header (size %u, pointer size %u)",
                        d->size, d->ptr_size);
    if (d->ntypes > MAX_TYPES || d->nenums > MAX_ENUMS || d->nroots > MAX_ROOTS)
        return fail_set(f, "runtime descriptor: implausible counts (%u types, %u enums, "
                           "%u roots)", d->ntypes, d->nenums, d->nroots);
    if (!(d->runtime_version = read_string(t, u64_at(hdr + HDR_RUNTIME_VERSION), f,
                                           "the runtime version")) ||
        read_types(t, d, u64_at(hdr + HDR_TYPES), f) < 0 ||
        read_enums(t, d, u64_at(hdr + HDR_ENUMS), f) < 0 ||
        read_roots(t, d, u64_at(hdr + HDR_ROOTS), f) < 0) {
        rtdesc_free(d);
        return -1;
    }
    return 0;
}

bool rtdesc_unrelocated(struct target *t, uint64_t addr, uint64_t bias)
{
    uint8_t hdr[HDR_MIN];
    char byte;
    if (!bias || !target_read_full(t, addr, hdr, sizeof hdr))
        return false;
    uint64_t p = u64_at(hdr + HDR_RUNTIME_VERSION);
    return p && p < bias && target_read(t, p + bias, &byte, 1) == 1;
}

void rtdesc_free(struct rtdesc *d)
{
    for (uint32_t i = 0; d->types && i < d->ntypes; i++) {
        struct rt_type *ty = &d->types[i];
        for (uint32_t k = 0; ty->field_names && k < ty->nfields; k++)
            free(ty->field_names[k]);
        free(ty->field_names);
        free(ty->fields);
        free(ty->name);
    }
    for (uint32_t i = 0; d->enums && i < d->nenums; i++) {
        for (uint32_t k = 0; d->enums[i].values && k < d->enums[i].nvalues; k++)
            free(d->enums[i].values[k]);
        free(d->enums[i].values);
        free(d->enums[i].name);
    }
    for (uint32_t i = 0; d->roots && i < d->nroots; i++)
        free(d->roots[i].name);
    free(d->types);
    free(d->enums);
    free(d->roots);
    free(d->runtime_version);
    memset(d, 0, sizeof *d);
}

const struct rt_type *rtdesc_type(const struct rtdesc *d, const char *name)
{
    for (uint32_t i = 0; i < d->ntypes; i++)
        if (d->types[i].name && strcmp(d->types[i].name, name) == 0)
            return &d->types[i];
    return NULL;
}

struct rt_field rtdesc_field(const struct rtdesc *d, const char *type, const char *name)
{
    struct rt_field none = {0, 0, false};
    const struct rt_type *ty = rtdesc_type(d, type);
    if (!ty)
        return none;
    for (uint32_t k = 0; k < ty->nfields; k++)
        if (ty->field_names[k] && strcmp(ty->field_names[k], name) == 0)
            return ty->fields[k];
    return none;
}

const struct rt_enum *rtdesc_enum(const struct rtdesc *d, const char *name)
{
    for (uint32_t i = 0; i < d->nenums; i++)
        if (d->enums[i].name && strcmp(d->enums[i].name, name) == 0)
            return &d->enums[i];
    return NULL;
}

const char *rtdesc_enum_name(const struct rtdesc *d, const char *name, uint64_t v)
{
    const struct rt_enum *e = rtdesc_enum(d, name);
    return e && v < e->nvalues ? e->values[v] : NULL;
}

int rtdesc_enum_value(const struct rtdesc *d, const char *name, const char *value)
{
    const struct rt_enum *e = rtdesc_enum(d, name);
    for (uint32_t i = 0; e && i < e->nvalues; i++)
        if (strcmp(e->values[i], value) == 0)
            return (int)i;
    return -1;
}

const struct rt_root *rtdesc_root(const struct rtdesc *d, const char *name)
{
    for (uint32_t i = 0; i < d->nroots; i++)
        if (d->roots[i].name && strcmp(d->roots[i].name, name) == 0)
            return &d->roots[i];
    return NULL;
}
