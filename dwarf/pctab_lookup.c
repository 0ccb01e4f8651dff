/*
 * pctab_lookup.c — gd_lookup from a binary's pc-line table (pctab.h)
 * instead of its DWARF index, for a tool that wants its first answers
 * without building the index (GD_OPEN_PCTAB).
 *
 * The table holds gd_lookup's frames wherever a line row or a DWARF
 * function covers a pc; elsewhere gd_lookup names a pc by its symbol alone,
 * and so does this.  A frame the table says DWARF does not name is named
 * by the symbol at pc under the caller's rule, as gd_lookup names it.
 */
#include <elf.h>

#include "internal.h"

bool pctab_load(struct elf_file *f, struct pctab *t)
{
    const struct gd_section *s = elf_file_section(f, PCTAB_SECTION);
    struct gd_buf buf;
    struct gd_error err;
    return s && s->type == SHT_PROGBITS && elf_file_bytes(f, s, &buf, &err) == GD_OK &&
           pctab_open(t, buf.data, buf.size) == PCTAB_OK;
}

int pctab_frames(const gd_binary *b, uint64_t pc, enum gd_symbol_rule rule,
                 struct gd_frame *frames, int max)
{
    struct pctab_frame fr[PCTAB_MAX_DEPTH];
    int n = pctab_lookup(&b->pctab, pc, fr, PCTAB_MAX_DEPTH);
    if (n == 0) {
        const struct gd_symbol *s = gd_symbol_at(b, pc, rule);
        if (!s)
            return 0;
        if (max > 0)
            frames[0] = (struct gd_frame){.function = s->name, .from_symbol = true,
                                          .func = GD_NO_FUNC};
        return 1;
    }
    for (int i = 0; i < n && i < max; i++) {
        struct gd_frame *f = &frames[i];
        *f = (struct gd_frame){.function = fr[i].function, .file = fr[i].file,
                               .line = fr[i].line, .inlined = fr[i].inlined,
                               .has_line = i == 0 && fr[i].file, .func = GD_NO_FUNC};
        if (fr[i].from_symbol) {
            const struct gd_symbol *s = gd_symbol_at(b, pc, rule);
            f->function = s ? s->name : NULL;
            f->from_symbol = s != NULL;
        }
    }
    return n;
}
