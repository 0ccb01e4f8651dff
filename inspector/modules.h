/*
 * modules.h — the executable and the shared objects of a target, found in
 * its mappings, each opened once with libgidwarf (on first need) and
 * placed by its load bias, so that any target address can be turned into
 * (binary, link-time address).
 */
#ifndef GOINSPECT_MODULES_H
#define GOINSPECT_MODULES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gidwarf.h"
#include "procmaps.h"

struct module {
    char *path;             /* as the mappings name it */
    char *open_path;        /* a path known to open this very file, or NULL */
    const char *base;       /* its last component */
    uint64_t inode;
    unsigned dev_major, dev_minor; /* the device of the inode, as the mappings say */
    uint64_t lo, hi;        /* from its lowest mapping's start to its highest's end */
    uint64_t map_start;     /* the mapping of its lowest file offset: where */
    uint64_t map_offset;    /*   and which offset (for the load bias) */
    bool is_exe;
    bool system;            /* a system library (libc, the dynamic loader...) */
    bool tried;             /* opening was attempted */
    gd_binary *bin;         /* NULL until opened, or when it cannot be */
    uint64_t bias;          /* target address = link-time address + bias */
    char *error;            /* why it could not be opened */
    uint8_t *image;         /* an ELF image with no file ([vdso]), copied from the
                               target and opened from memory; NULL for a file */
    size_t image_size;
};

struct target;

struct modules {
    struct target *t;       /* whose mappings these are */
    struct module *v;
    size_t n;
    struct modrange {       /* every file mapping, sorted */
        uint64_t start, end;
        uint32_t mod;
    } *ranges;
    size_t nranges;
    int exe;                /* index of the executable, -1 if not found */
    /* the runtime's code (descriptor roots text_start, text_end) */
    uint64_t rt_text_lo, rt_text_hi;
    const struct gd_open_options *open_opts; /* what binaries are opened with */
};

/* Builds the module list from the target's mappings (t->exe names the
 * executable, t->exe_open a path that opens it).  Binaries of prev (may be
 * NULL) with the same path, inode and placement are reused (prev is left
 * empty).  Each binary is opened with oo (NULL: libgidwarf's defaults),
 * which must outlive ms. */
void modules_build(struct modules *ms, struct target *t, struct modules *prev,
                   const struct gd_open_options *oo);
void modules_free(struct modules *ms);
/* Adds a module of no file at [start, end) whose ELF image (size bytes,
 * malloc'ed: ms takes it) was copied from there; name is its path. */
void modules_add_image(struct modules *ms, const char *name, uint64_t start, uint64_t end,
                       uint8_t *image, size_t size);

/* The module holding addr, or NULL. */
struct module *modules_find(struct modules *ms, uint64_t addr);
/* Opens m on first use; NULL (with m->error set) when it cannot be. */
gd_binary *module_binary(struct modules *ms, struct module *m);

/* addr as an address of m's file, as addr2line -e FILE takes it: minus its
 * load bias (from its lowest mapping when the file could not be opened). */
static inline uint64_t module_offset(const struct module *m, uint64_t addr)
{
    return addr - (m->bin ? m->bias : m->lo);
}

static inline bool in_runtime_text(const struct modules *ms, uint64_t pc)
{
    return pc >= ms->rt_text_lo && pc < ms->rt_text_hi;
}

#endif
