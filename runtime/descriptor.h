/*
 * descriptor.h — the runtime descriptor: the layout of the runtime's
 * structures, its roots and enumerations, for debuggers (docs/metadata.md).
 */
#ifndef GORT_DESCRIPTOR_H
#define GORT_DESCRIPTOR_H

#include <stdint.h>

#define GORT_DESC_MAGIC "GORTDESC"
#define GORT_DESC_VERSION 4

struct gort_desc_field {
    const char *name;
    uint32_t offset;
    uint32_t size;
};

struct gort_desc_type {
    const char *name;
    uint32_t size;
    uint32_t nfields;
    const struct gort_desc_field *fields;
};

struct gort_desc_enum {
    const char *name;
    uint32_t nvalues;
    uint32_t reserved;
    const char *const *values;
};

struct gort_desc_root {
    const char *name;
    const void *addr;
    uint64_t size;
};

struct gort_descriptor {
    char magic[8];
    uint32_t version;
    uint32_t size;
    uint32_t ptr_size;
    uint32_t ntypes;
    uint32_t nenums;
    uint32_t nroots;
    const struct gort_desc_type *types;
    const struct gort_desc_enum *enums;
    const struct gort_desc_root *roots;
    const char *runtime_version;
    uint64_t generation;
};

#pragma GCC visibility push(default)
extern struct gort_descriptor gort_runtime_descriptor;
#pragma GCC visibility pop

/* Names of the runtime's enumerations (also used by the crash dump). */
extern const char *const gstatus_names[];
extern const char *const waitreason_names[];

#endif /* GORT_DESCRIPTOR_H */
