/*
 * lookup.c — pc to frames: the interval holding pc (a bucket, then a short
 * binary search), then the chain of inlined calls from the innermost
 * function outwards, each outer frame at the call site of the one inside
 * it; one pc at a time, or many with their memory reads overlapped.
 * Nothing is allocated.
 */
#include <gelf.h>

#include "internal.h"

int gd_lookup_line(const gd_binary *b, uint64_t pc, struct gd_line *out)
{
    const struct ival *v = index_find(&b->ix, pc);
    if (!v || (v->flags & LROW_END))
        return GD_ENOTFOUND;
    /* the row starts where the intervals of the same row began */
    const struct ival *first = v;
    while (first > b->ix.iv && !(first[-1].flags & LROW_END) && first[-1].file == v->file &&
           first[-1].line == v->line && first[-1].col == v->col && first[-1].disc == v->disc &&
           v - first < 64)
        first--;
    out->file = strtab_get(&b->ix.files, v->file);
    out->line = v->line;
    out->column = v->col;
    out->discriminator = v->disc;
    out->is_stmt = v->flags & LROW_STMT;
    out->addr = first->addr;
    return GD_OK;
}

int gd_lookup_data(const gd_binary *b, const struct gd_section *sec, uint64_t addr,
                   struct gd_line *out)
{
    if (!b->ix.nvars || (sec->flags & SHF_EXECINSTR))
        return GD_ENOTFOUND;
    const struct gd_symbol *s = symtab_starting_at(&b->syms, sec->index, addr);
    const struct dvar *v = s ? variables_find(b->ix.vars, b->ix.nvars, addr, s->name) : NULL;
    if (!v)
        return GD_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->file = strtab_get(&b->ix.files, v->file);
    out->line = v->line;
    out->addr = v->addr;
    return GD_OK;
}

/* The frames of a pc, innermost first: the function of its interval at
 * the interval's line row, then each caller at the call site of the frame
 * inside it.  gd_lookup and gd_lookup_each walk this and each reports it in
 * its own form. */
struct chain {
    const struct fhot *hot;     /* the index's */
    uint32_t node;              /* the frame's function, GD_NO_FUNC (then the
                                   only frame) */
    uint32_t file, line, col, disc;
    bool has_line;              /* the innermost frame, at a line row */
};

static inline void chain_start(struct chain *c, const struct dwarf_index *ix,
                               const struct ival *v)
{
    const struct ival *li = v && !(v->flags & LROW_END) ? v : NULL;
    c->hot = ix->hot;
    c->node = v ? v->node : GD_NO_FUNC;
    c->file = li ? li->file : GD_NOFILE;
    c->line = li ? li->line : 0;
    c->col = li ? li->col : 0;
    c->disc = li ? li->disc : 0;
    c->has_line = li != NULL;
}

/* To the caller of an inlined frame; false at the outermost (parents have
 * lower ids, so a chain ends). */
static inline bool chain_next(struct chain *c)
{
    if (c->node == GD_NO_FUNC)
        return false;
    const struct fhot *h = &c->hot[c->node];
    if (h->parent == GD_NO_FUNC)
        return false;
    c->node = h->parent;
    c->file = h->call_file;
    c->line = h->call_line;
    c->col = h->call_col;
    c->disc = 0;
    c->has_line = false;
    return true;
}

/* Where DWARF knows no function, the frame is named after the ELF symbol
 * that names pc by rule (gd_symbol_at): *s, NULL if none.  False when
 * nothing at all is known. */
static bool chain_known(const gd_binary *b, const struct chain *c, uint64_t pc,
                        enum gd_symbol_rule rule, const struct gd_symbol **s)
{
    *s = NULL;
    return c->node != GD_NO_FUNC || (*s = gd_symbol_at(b, pc, rule)) || c->has_line;
}

static void put_frame(struct gd_frame *f, const struct dwarf_index *ix, const struct chain *c,
                      const struct gd_symbol *s)
{
    memset(f, 0, sizeof *f);
    if (c->node == GD_NO_FUNC) {
        f->function = s ? s->name : NULL;
        f->from_symbol = s != NULL;
    } else {
        const struct fnode *fn = &ix->nodes[c->node];
        f->function = fn->name ? fn->name : fn->linkage;
        f->linkage_name = fn->linkage;
        f->inlined = c->hot[c->node].inlined;
    }
    f->file = strtab_get(&ix->files, c->file);
    f->line = c->line;
    f->column = c->col;
    f->discriminator = c->disc;
    f->has_line = c->has_line;
    f->func = c->node;
}

int gd_lookup(const gd_binary *b, uint64_t pc, enum gd_symbol_rule rule,
              struct gd_frame *frames, int max)
{
    struct chain c;
    const struct gd_symbol *s;
    int n = 0;

    if (b->info.has_pctab)
        return pctab_frames(b, pc, rule, frames, max);
    chain_start(&c, &b->ix, index_find(&b->ix, pc));
    if (!chain_known(b, &c, pc, rule, &s))
        return 0;
    do {
        if (n < max)
            put_frame(&frames[n], &b->ix, &c, s);
        n++;
    } while (chain_next(&c));
    return n;
}

/* ---- Many pcs at once --------------------------------------------------- */

static void put_sym_frame(struct gd_sym_frame *f, const struct strtab *files,
                          const struct chain *c, const struct gd_symbol *s)
{
    if (c->node == GD_NO_FUNC) {
        f->name = s ? s->name : NULL;
        f->name_len = s ? strlen(s->name) : 0;
        f->inlined = false;
        f->from_symbol = s != NULL;
    } else {
        const struct fhot *h = &c->hot[c->node];
        f->name = h->name;
        f->name_len = h->name_len;
        f->inlined = h->inlined;
        f->from_symbol = false;
    }
    if (c->file < files->n) {
        f->file = files->strs[c->file];
        f->file_len = files->lens[c->file];
        f->file_id = c->file;
    } else {
        f->file = NULL;
        f->file_len = 0;
        f->file_id = GD_NO_FILE;
    }
    f->line = c->line;
    f->column = c->col;
    f->discriminator = c->disc;
    f->has_line = c->has_line;
    f->func = c->node;
}

/* gd_lookup in the form of gd_lookup_each, for pc in interval v. */
static int sym_frames(const gd_binary *b, uint64_t pc, const struct ival *v,
                      enum gd_symbol_rule rule, struct gd_sym_frame *frames, int max)
{
    struct chain c;
    const struct gd_symbol *s;
    int n = 0;

    chain_start(&c, &b->ix, v);
    if (!chain_known(b, &c, pc, rule, &s))
        return 0;
    do {
        if (n < max)
            put_sym_frame(&frames[n], &b->ix.files, &c, s);
        n++;
    } while (chain_next(&c));
    return n;
}

/* gd_lookup_each takes the pcs in groups and each step of a lookup for the
 * whole group before the next step: the buckets are fetched, then the
 * intervals they point to, then the innermost nodes, then CALLERS levels
 * of the nodes they are inlined into.  The memory reads of a group
 * overlap, and by the time a pc is reported what it reads has arrived. */
#define GROUP 32
#define CALLERS 2

static inline void prefetch(const void *p)
{
    __builtin_prefetch(p, 0, 3);
}

void gd_lookup_each(const gd_binary *b, const uint64_t *pcs, size_t n,
                    enum gd_symbol_rule rule, struct gd_sym_frame *frames, int max,
                    gd_frames_fn fn, void *ctx)
{
    const struct dwarf_index *ix = &b->ix;
    const uint32_t *bucket[GROUP];
    const struct ival *v[GROUP];
    uint32_t node[GROUP];

    for (size_t g = 0; g < n; g += GROUP) {
        const uint64_t *pc = pcs + g;
        size_t m = n - g < GROUP ? n - g : GROUP;
        for (size_t i = 0; i < m; i++) {
            bucket[i] = index_bucket(ix, pc[i]);
            if (bucket[i]) {
                prefetch(bucket[i]);
                /* its end, when that is on the next line */
                if (((uintptr_t)(bucket[i] + 1) & 63) == 0)
                    prefetch(bucket[i] + 1);
            }
        }
        for (size_t i = 0; i < m; i++) {
            if (bucket[i]) {
                uint32_t lo = bucket[i][0], hi = bucket[i][1];
                prefetch(&ix->iv[lo ? lo - 1 : 0]);
                prefetch(&ix->iv[hi ? hi - 1 : 0]);
            }
        }
        for (size_t i = 0; i < m; i++) {
            v[i] = index_search(ix, bucket[i], pc[i]);
            node[i] = v[i] ? v[i]->node : GD_NO_FUNC;
            if (node[i] != GD_NO_FUNC)
                prefetch(&ix->hot[node[i]]);
        }
        /* each level's record has arrived: its name is fetched with the
         * record of its caller */
        for (int k = 0; k < CALLERS; k++) {
            for (size_t i = 0; i < m; i++) {
                if (node[i] == GD_NO_FUNC)
                    continue;
                const struct fhot *h = &ix->hot[node[i]];
                prefetch(h->name);
                if ((node[i] = h->parent) != GD_NO_FUNC)
                    prefetch(&ix->hot[node[i]]);
            }
        }
        for (size_t i = 0; i < m; i++)
            fn(ctx, g + i, frames, sym_frames(b, pc[i], v[i], rule, frames, max));
    }
}

size_t gd_file_count(const gd_binary *b)
{
    return b->ix.files.n;
}

size_t gd_function_count(const gd_binary *b)
{
    return b->ix.nnodes;
}

int gd_function(const gd_binary *b, uint32_t id, struct gd_function *out)
{
    if (id >= b->ix.nnodes)
        return GD_ENOTFOUND;
    const struct fnode *fn = &b->ix.nodes[id];
    out->name = fn->name ? fn->name : fn->linkage;
    out->linkage_name = fn->linkage;
    out->entry = fn->entry;
    out->parent = fn->inlined ? fn->parent : GD_NO_FUNC;
    out->inlined = fn->inlined && fn->parent != GD_NO_FUNC;
    out->call_line = fn->call_line;
    out->call_column = fn->call_col;
    out->call_file = strtab_get(&b->ix.files, fn->call_file);
    return GD_OK;
}
