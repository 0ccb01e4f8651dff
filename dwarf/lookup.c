/*
 * lookup.c — pc to frames: a binary search in the line rows, one in the
 * function intervals, then the chain of inlined calls from the innermost
 * function outwards, each outer frame at the call site of the one inside
 * it.  Nothing is allocated.
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

/* The innermost frame's line: the row of interval li, if any. */
static void set_line(struct gd_frame *f, const struct dwarf_index *ix, const struct ival *li)
{
    if (!li)
        return;
    f->file = strtab_get(&ix->files, li->file);
    f->line = li->line;
    f->column = li->col;
    f->discriminator = li->disc;
    f->has_line = true;
}

int gd_lookup(const gd_binary *b, uint64_t pc, struct gd_frame *frames, int max)
{
    const struct dwarf_index *ix = &b->ix;
    const struct ival *v = index_find(ix, pc);
    const struct ival *li = v && !(v->flags & LROW_END) ? v : NULL;
    uint32_t node = v ? v->node : GD_NO_FUNC;
    int n = 0;

    if (max < 0)
        max = 0;
    if (node == GD_NO_FUNC) {
        const struct gd_symbol *s = symtab_containing(&b->syms, pc);
        if (!li && !s)
            return 0;
        if (max > 0) {
            struct gd_frame *f = &frames[0];
            memset(f, 0, sizeof *f);
            f->function = s ? s->name : NULL;
            f->from_symbol = s != NULL;
            f->func = GD_NO_FUNC;
            set_line(f, ix, li);
        }
        return 1;
    }

    /* The innermost frame, at the line row; then each caller at the call
     * site of the frame inside it.  The chain is bounded by the node count
     * (parents always come earlier in DIE order, so it cannot loop). */
    uint32_t cur = node, prev = GD_NO_FUNC;
    for (size_t guard = 0; cur != GD_NO_FUNC && guard <= ix->nnodes; guard++) {
        const struct fnode *fn = &ix->nodes[cur];
        if (n < max) {
            struct gd_frame *f = &frames[n];
            memset(f, 0, sizeof *f);
            f->function = fn->name ? fn->name : fn->linkage;
            f->linkage_name = fn->linkage;
            f->func = cur;
            f->inlined = fn->inlined && fn->parent != GD_NO_FUNC;
            if (n == 0) {
                set_line(f, ix, li);
            } else {
                const struct fnode *inner = &ix->nodes[prev];
                f->file = strtab_get(&ix->files, inner->call_file);
                f->line = inner->call_line;
                f->column = inner->call_col;
            }
        }
        n++;
        if (!fn->inlined || fn->parent >= cur)
            break;
        prev = cur;
        cur = fn->parent;
    }
    return n;
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
