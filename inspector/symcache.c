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

static uint32_t add_entry(struct symcache *c, uint64_t key, struct sym_entry e)
{
    xgrow(&c->entries, &c->capentries, c->nentries + 1, sizeof *c->entries);
    uint32_t id = (uint32_t)c->nentries;
    c->entries[c->nentries++] = e;
    u64map_put(&c->index, key, id);
    return id;
}

static uint32_t module_index(const struct symcache *c, const struct module *m)
{
    return m ? (uint32_t)(m - c->mods->v) : SYM_NO_MODULE;
}

const struct sym_frame *symcache_lookup(struct symcache *c, uint64_t addr, uint32_t *n)
{
    uint32_t id;
    if (!u64map_get(&c->index, addr, &id)) {
        struct sym_entry e = {(uint32_t)c->nframes, 0};
        struct module *m = modules_find(c->mods, addr);
        gd_binary *b = m ? module_binary(c->mods, m) : NULL;
        uint32_t mod = module_index(c, m);
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
        id = add_entry(c, addr, e);
    }
    *n = c->entries[id].n;
    return &c->frames[c->entries[id].first];
}

/* Signal frames are kept under their address with this bit set (a user
 * space address never has it). */
#define SIGNAL_KEY (1ull << 62)

const struct sym_frame *symcache_signal(struct symcache *c, uint64_t addr)
{
    uint32_t id;
    if (!u64map_get(&c->index, addr | SIGNAL_KEY, &id)) {
        struct sym_frame f = {SIGNAL_FRAME_NAME, NULL, 0, false,
                              module_index(c, modules_find(c->mods, addr))};
        struct sym_entry e = {(uint32_t)c->nframes, 1};
        add_frame(c, &f);
        id = add_entry(c, addr | SIGNAL_KEY, e);
    }
    return &c->frames[c->entries[id].first];
}
