/*
 * insp_desc.h — the runtime descriptor as the test programs read it about
 * themselves (docs/metadata.md, "Layout"): structure fields and roots by
 * name, for the programs that damage their own runtime tables the way a
 * memory bug would.  Include insp_common.h first.
 */
#ifndef INSP_DESC_H
#define INSP_DESC_H

/* The descriptor's documented layout. */
struct desc_field { const char *name; uint32_t offset, size; };
struct desc_type { const char *name; uint32_t size, nfields; const struct desc_field *fields; };
struct desc_root { const char *name; uint64_t addr, size; };
struct descriptor {
    char magic[8];
    uint32_t version, size, ptr_size, ntypes, nenums, nroots;
    const struct desc_type *types;
    const void *enums;
    const struct desc_root *roots;
    const char *runtime_version;
    uint64_t generation;
};
extern struct descriptor gort_runtime_descriptor;

static inline const struct desc_type *desc_type(const char *type)
{
    const struct descriptor *d = &gort_runtime_descriptor;
    for (uint32_t i = 0; i < d->ntypes; i++)
        if (strcmp(d->types[i].name, type) == 0)
            return &d->types[i];
    FAIL("no type %s", type);
}

/* The offset of field name of type. */
static inline uint32_t desc_field(const char *type, const char *name)
{
    const struct desc_type *t = desc_type(type);
    for (uint32_t k = 0; k < t->nfields; k++)
        if (strcmp(t->fields[k].name, name) == 0)
            return t->fields[k].offset;
    FAIL("no field %s.%s", type, name);
}

/* The address of a root. */
static inline uint64_t desc_root(const char *name)
{
    const struct descriptor *d = &gort_runtime_descriptor;
    for (uint32_t i = 0; i < d->nroots; i++)
        if (strcmp(d->roots[i].name, name) == 0)
            return d->roots[i].addr;
    FAIL("no root %s", name);
}

#endif
