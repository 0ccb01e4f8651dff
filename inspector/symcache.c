/*
 * symcache.c — the pc to frames cache of symcache.h.
 */
#include "symcache.h"

#include <stdlib.h>
#include <string.h>

#include "fail.h"

enum { MAX_INLINE = 64 };

void symcache_init(struct symcache *c, struct modules *mods)
{
    memset(c, 0, sizeof *c);
    c->mods = mods;
    u64map_init(&c->index);
}

void symcache_free(struct symcache *c)
{
    u64map_free(&c->index);
    free(c->entries);
    free(c->frames);
    memset(c, 0, sizeof *c);
}

static void add_frame(struct symcache *c, const struct sym_frame *f)
{
    xgrow(&c->frames, &c->capframes, c->nframes + 1, sizeof *c->frames);
    c->frames[c->nframes++] = *f;
}

const struct sym_frame *symcache_lookup(struct symcache *c, uint64_t addr, uint32_t *n)
{
    uint32_t id;
    if (!u64map_get(&c->index, addr, &id)) {
        struct sym_entry e = {(uint32_t)c->nframes, 0};
        struct module *m = modules_find(c->mods, addr);
        gd_binary *b = m ? module_binary(c->mods, m) : NULL;
        uint32_t mod = m ? (uint32_t)(m - c->mods->v) : SYM_NO_MODULE;
        if (b) {
            struct gd_frame gf[MAX_INLINE];
            /* named as gdb names frames: its minimal symbols where DWARF
             * knows no function */
            int k = gd_lookup(b, addr - m->bias, GD_SYMBOLS_GDB, gf, MAX_INLINE);
            if (k > MAX_INLINE)
                k = MAX_INLINE;
            for (int i = 0; i < k; i++) {
                /* the linkage name when there is one, as addr2line and gdb
                 * name the function (glibc's __GI___libc_read) */
                const char *name = gf[i].linkage_name ? gf[i].linkage_name : gf[i].function;
                struct sym_frame f = {name, gf[i].file, gf[i].line, gf[i].inlined, mod};
                add_frame(c, &f);
            }
            e.n = (uint32_t)(k > 0 ? k : 0);
        }
        if (e.n == 0) {
            /* nothing names it: no module, or neither a DWARF function nor
             * a symbol whose extent holds it (printed ?? (module+offset)) */
            struct sym_frame f = {NULL, NULL, 0, false, mod};
            add_frame(c, &f);
            e.n = 1;
        }
        xgrow(&c->entries, &c->capentries, c->nentries + 1, sizeof *c->entries);
        id = (uint32_t)c->nentries;
        c->entries[c->nentries++] = e;
        u64map_put(&c->index, addr, id);
    }
    *n = c->entries[id].n;
    return &c->frames[c->entries[id].first];
}
