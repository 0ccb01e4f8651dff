/*
 * rtdesc.h — the runtime descriptor (docs/metadata.md), read from the
 * target and indexed: structure fields by name, enumerations, roots.
 *
 * This is the only place that knows the descriptor's own layout (its header
 * and table entries, fixed by the contract); everything about the runtime's
 * structures is looked up here by name.  A name the runtime does not
 * publish is "absent" (rt_field.present false), never an error by itself.
 */
#ifndef GOINSPECT_RTDESC_H
#define GOINSPECT_RTDESC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fail.h"
#include "target.h"

#define RTDESC_SYMBOL "gort_runtime_descriptor"

/* A field of a runtime structure. */
struct rt_field {
    uint32_t offset, size;
    bool present;
};

struct rt_type {
    char *name;
    uint32_t size;
    uint32_t nfields;
    char **field_names;
    struct rt_field *fields;
};

struct rt_enum {
    char *name;
    uint32_t nvalues;
    char **values;
};

struct rt_root {
    char *name;
    uint64_t addr, size;
};

struct rtdesc {
    uint64_t addr;              /* where the descriptor is in the target */
    uint32_t version, size, ptr_size;
    char *runtime_version;
    uint64_t generation_addr;   /* address of the generation counter */
    struct rt_type *types;
    uint32_t ntypes;
    struct rt_enum *enums;
    uint32_t nenums;
    struct rt_root *roots;
    uint32_t nroots;
};

/* Reads the descriptor at addr (its tables are constant: this needs no
 * stop).  Fails on a bad magic, an unknown version or implausible sizes. */
int rtdesc_read(struct target *t, uint64_t addr, struct rtdesc *d, struct fail *f);
/* Whether the descriptor at addr, in a module loaded at bias, still holds
 * its link-time pointers: the dynamic loader has not relocated it yet (the
 * program is starting). */
bool rtdesc_unrelocated(struct target *t, uint64_t addr, uint64_t bias);
void rtdesc_free(struct rtdesc *d);

const struct rt_type *rtdesc_type(const struct rtdesc *d, const char *name);
/* The field name of type (absent when either is unknown). */
struct rt_field rtdesc_field(const struct rtdesc *d, const char *type, const char *name);
const struct rt_enum *rtdesc_enum(const struct rtdesc *d, const char *name);
/* values[v] of the enum, or NULL when out of range or unknown. */
const char *rtdesc_enum_name(const struct rtdesc *d, const char *name, uint64_t v);
/* Index of a value name in an enum, or -1. */
int rtdesc_enum_value(const struct rtdesc *d, const char *name, const char *value);
const struct rt_root *rtdesc_root(const struct rtdesc *d, const char *name);

/* The value of a field of a copied structure (little-endian, 1 to 8
 * bytes); 0 when the field is absent or lies outside the copy. */
static inline uint64_t rt_get(const void *obj, uint32_t objsize, struct rt_field fl)
{
    if (!fl.present || fl.offset > objsize || fl.size > objsize - fl.offset)
        return 0;
    const unsigned char *p = (const unsigned char *)obj + fl.offset;
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    switch (fl.size) {     /* the target is little-endian x86-64, as is goinspect */
    case 1: memcpy(&v8, p, 1); return v8;
    case 2: memcpy(&v16, p, 2); return v16;
    case 4: memcpy(&v32, p, 4); return v32;
    case 8: memcpy(&v64, p, 8); return v64;
    default: return 0;
    }
}

/* The field if it lies inside a structure of objsize bytes and is 1, 2, 4
 * or 8 bytes long, else absent: what rt_get_fit may read unchecked. */
static inline struct rt_field rt_field_fit(struct rt_field fl, uint32_t objsize)
{
    uint32_t sz = fl.size;
    if (!fl.present || (sz != 1 && sz != 2 && sz != 4 && sz != 8) || fl.offset > objsize ||
        sz > objsize - fl.offset)
        return (struct rt_field){0, 0, false};
    return fl;
}

/* The value of a field that rt_field_fit kept (0 when absent), without a
 * bounds check: for the decoders of many records. */
static inline uint64_t rt_get_fit(const void *obj, struct rt_field fl)
{
    const unsigned char *p = (const unsigned char *)obj + fl.offset;
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    switch (fl.size) {
    case 1: memcpy(&v8, p, 1); return v8;
    case 2: memcpy(&v16, p, 2); return v16;
    case 4: memcpy(&v32, p, 4); return v32;
    case 8: memcpy(&v64, p, 8); return v64;
    default: return 0;     /* absent */
    }
}

/* A signed field, sign-extended from its size. */
static inline int64_t rt_get_signed(const void *obj, uint32_t objsize, struct rt_field fl)
{
    uint64_t v = rt_get(obj, objsize, fl);
    if (fl.present && fl.size > 0 && fl.size < 8 && (v >> (fl.size * 8 - 1)) & 1)
        v |= ~0ull << (fl.size * 8);
    return (int64_t)v;
}

#endif
