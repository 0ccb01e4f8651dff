/*
 * symcache.h — pc to symbolized frames, cached: each distinct pc is looked
 * up once in its module (libgidwarf: line table and inline chain), so
 * 100,000 goroutines parked at the same few pcs cost a few lookups.
 */
#ifndef GOINSPECT_SYMCACHE_H
#define GOINSPECT_SYMCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "modules.h"
#include "u64map.h"

#define SYM_NO_MODULE UINT32_MAX
/* gdb's name for a signal frame (the sigreturn trampoline), with or without
 * the trampoline's own symbol (glibc's __restore_rt, a local symbol that
 * only libc's debug file has). */
#define SIGNAL_FRAME_NAME "<signal handler called>"

/* One frame of a pc, innermost first; strings live as long as the module. */
struct sym_frame {
    const char *function;   /* NULL when nothing is known */
    const char *file;       /* NULL when unknown */
    uint32_t line;          /* 0 when unknown */
    bool inlined;           /* an inlined call: its caller is the next frame */
    uint32_t module;        /* index in the modules, SYM_NO_MODULE */
};

struct symcache {
    struct modules *mods;
    struct u64map index;            /* lookup address -> entry */
    struct sym_entry {
        uint32_t first, n;
    } *entries;
    size_t nentries, capentries;
    struct sym_frame *frames;
    size_t nframes, capframes;
};

void symcache_init(struct symcache *c, struct modules *mods);
void symcache_free(struct symcache *c);
/* The frames of the code at addr (the exact address to look up: a return
 * address minus one).  Never empty: an unknown address gives one frame
 * with function NULL.  The pointer is valid until the next lookup. */
const struct sym_frame *symcache_lookup(struct symcache *c, uint64_t addr, uint32_t *n);
/* The one frame of a signal frame at addr: SIGNAL_FRAME_NAME, no file, in
 * addr's module.  Valid until the next lookup. */
const struct sym_frame *symcache_signal(struct symcache *c, uint64_t addr);

#endif
