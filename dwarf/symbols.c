/*
 * symbols.c — the ELF symbol tables: loading .symtab/.dynsym, the code
 * symbol that names an address as addr2line names it (binutils 2.40's
 * choice among the symbols of the address's section, with gdb's and
 * elfutils' extent: within its size, or up to the next symbol for a
 * zero-size one) or as gdb does (minsyms.c), the symbol containing a data
 * address, and lookup by name.
 */
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>

#include "internal.h"

/* Which STT_FILE symbol binutils attaches to each symbol: the last one seen
 * before it, for a local symbol, or for any symbol while no FILE symbol has
 * followed a non-FILE one (elf.c's elf_find_function). */
enum file_state { NOTHING_SEEN, SYMBOL_SEEN, FILE_AFTER_SYMBOL_SEEN };

static int load_table(struct elf_file *f, const struct gd_section *sec, bool dynamic,
                      struct gd_symbol **out, size_t *count, struct gd_error *err)
{
    Elf_Scn *scn = elf_getscn(f->elf, sec->index);
    GElf_Shdr sh;
    Elf_Data *d;

    *out = NULL;
    *count = 0;
    if (!scn || !gelf_getshdr(scn, &sh) || sec->type == SHT_NOBITS)
        return GD_OK;
    if (!(d = elf_getdata(scn, NULL)))
        return gd_fail(err, GD_EBADELF, "%s: %s: %s", f->path, sec->name, elf_errmsg(-1));
    size_t n = d->d_size / sizeof(Elf64_Sym);
    if (n <= 1)
        return GD_OK;
    struct gd_symbol *syms = calloc(n - 1, sizeof *syms);
    if (!syms)
        return gd_fail(err, GD_ENOMEM, "out of memory");

    const char *file = NULL;
    enum file_state state = NOTHING_SEEN;
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        GElf_Sym s;
        if (!gelf_getsym(d, (int)i, &s))
            break;
        struct gd_symbol *g = &syms[k++];
        const char *name = elf_strptr(f->elf, sh.sh_link, s.st_name);
        g->name = name ? name : "";
        g->value = s.st_value;
        g->size = s.st_size;
        g->shndx = s.st_shndx;
        g->type = GELF_ST_TYPE(s.st_info);
        g->bind = GELF_ST_BIND(s.st_info);
        g->visibility = GELF_ST_VISIBILITY(s.st_other);
        g->dynamic = dynamic;
        if (g->type == STT_FILE) {
            file = g->name;
            if (state == SYMBOL_SEEN)
                state = FILE_AFTER_SYMBOL_SEEN;
            continue;
        }
        if (state == NOTHING_SEEN)
            state = SYMBOL_SEEN;
        if (file && (g->bind == STB_LOCAL || state != FILE_AFTER_SYMBOL_SEEN))
            g->file = file;
    }
    *out = syms;
    *count = k;
    return GD_OK;
}

/* binutils' _bfd_elf_maybe_function_sym: could this symbol name code?  BFD
 * measures a symbol from the start of its section, as an unsigned offset:
 * one whose value lies before the start (the linker's __bss_start, before
 * .bss aligned up past it; __executable_start) never names an address of
 * the section. */
static bool maybe_code(const struct gd_symbol *s, const struct elf_file *f)
{
    if (s->type == STT_SECTION || s->type == STT_FILE || s->type == STT_OBJECT ||
        s->type == STT_TLS || s->type == STT_COMMON)
        return false;
    if (s->shndx == SHN_UNDEF || s->shndx >= f->nsecs || s->shndx >= SHN_LORESERVE)
        return false;
    if (s->value < f->secs[s->shndx].addr)
        return false;
    if (s->size == 0 && s->bind == STB_LOCAL && s->type == STT_NOTYPE &&
        s->visibility == STV_HIDDEN)
        return false;
    return true;
}

static int by_code(const void *a, const void *b, void *ctx)
{
    const struct gd_symbol *sort_syms = ctx;
    const struct gd_symbol *x = &sort_syms[*(const uint32_t *)a];
    const struct gd_symbol *y = &sort_syms[*(const uint32_t *)b];
    if (x->shndx != y->shndx)
        return x->shndx < y->shndx ? -1 : 1;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int by_value(const void *a, const void *b, void *ctx)
{
    const struct gd_symbol *sort_syms = ctx;
    const struct gd_symbol *x = &sort_syms[*(const uint32_t *)a];
    const struct gd_symbol *y = &sort_syms[*(const uint32_t *)b];
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int by_name(const void *a, const void *b, void *ctx)
{
    const struct gd_symbol *sort_syms = ctx;
    int c = strcmp(sort_syms[*(const uint32_t *)a].name, sort_syms[*(const uint32_t *)b].name);
    if (c)
        return c;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static uint32_t *sorted(const struct gd_symbol *syms, size_t n,
                        bool (*keep)(const struct gd_symbol *, const struct elf_file *),
                        const struct elf_file *f,
                        int (*cmp)(const void *, const void *, void *), size_t *count)
{
    uint32_t *v = malloc((n ? n : 1) * sizeof *v);
    size_t k = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!keep || keep(&syms[i], f))
            v[k++] = (uint32_t)i;
    qsort_r(v, k, sizeof *v, cmp, (void *)syms);
    *count = k;
    return v;
}

static bool sized_data_or_code(const struct gd_symbol *s, const struct elf_file *f)
{
    return s->size > 0 && s->shndx != SHN_UNDEF && s->shndx < f->nsecs &&
           (s->type == STT_FUNC || s->type == STT_GNU_IFUNC || s->type == STT_OBJECT ||
            s->type == STT_NOTYPE);
}

/* For each code symbol, the index (in code) of the last sized one at or
 * before it, UINT32_MAX if none. */
static uint32_t *prev_sized(const struct symtab *t)
{
    uint32_t *v = malloc((t->ncode ? t->ncode : 1) * sizeof *v);
    uint32_t last = UINT32_MAX;
    for (size_t i = 0; v && i < t->ncode; i++) {
        if (t->syms[t->code[i]].size != 0)
            last = (uint32_t)i;
        v[i] = last;
    }
    return v;
}

/* gdb's tables (minsyms.c): one of the file itself (its .symtab, else its
 * .dynsym, and its PLT entries), one of its separate debug file (its
 * .symtab) when the symbols come from there. */
static int load_minsyms(struct symtab *t, struct elf_file *f, struct elf_file *dbg,
                        struct gd_error *err)
{
    struct plt_names plt;
    if (!plt_names(f, &plt))
        return gd_fail(err, GD_ENOMEM, "out of memory");
    struct minsym_src own = { NULL, t->dyn, 0, t->ndyn, &plt, f, f };
    if (t->from_dynsym) {
        own.dynsym = t->syms;
        own.ndynsym = t->n;
    } else if (!t->from_dbg) {
        own.symtab = t->syms;
        own.nsymtab = t->n;
    }
    bool ok = minsyms_build(&t->gdb_own, &own);
    plt_names_free(&plt);
    if (ok && t->from_dbg) {
        struct minsym_src sep = { t->syms, NULL, t->n, 0, NULL, dbg, f };
        ok = minsyms_build(&t->gdb_dbg, &sep);
    }
    return ok ? GD_OK : gd_fail(err, GD_ENOMEM, "out of memory");
}

int symtab_load(struct symtab *t, struct elf_file *f, struct elf_file *dbg,
                struct gd_error *err)
{
    const struct gd_section *symtab = elf_file_section(f, ".symtab");
    const struct gd_section *dynsym = elf_file_section(f, ".dynsym");
    struct elf_file *src = f;
    int rc;

    memset(t, 0, sizeof *t);
    if ((!symtab || symtab->type != SHT_SYMTAB) && dbg) {
        const struct gd_section *s = elf_file_section(dbg, ".symtab");
        if (s && s->type == SHT_SYMTAB) {
            symtab = s;
            src = dbg;
        }
    }
    if (symtab && symtab->type == SHT_SYMTAB) {
        if ((rc = load_table(src, symtab, false, &t->syms, &t->n, err)) != GD_OK)
            return rc;
        if (dynsym && dynsym->type == SHT_DYNSYM &&
            (rc = load_table(f, dynsym, true, &t->dyn, &t->ndyn, err)) != GD_OK)
            return rc;
        t->from_dbg = src == dbg;
    } else if (dynsym && dynsym->type == SHT_DYNSYM) {
        if ((rc = load_table(f, dynsym, true, &t->syms, &t->n, err)) != GD_OK)
            return rc;
        t->from_dynsym = true;
    }
    size_t dummy;
    t->code = sorted(t->syms, t->n, maybe_code, src, by_code, &t->ncode);
    t->prev_sized = t->code ? prev_sized(t) : NULL;
    t->sized = sorted(t->syms, t->n, sized_data_or_code, src, by_value, &t->nsized);
    t->by_name = sorted(t->syms, t->n, NULL, NULL, by_name, &dummy);
    t->by_value = sorted(t->syms, t->n, NULL, NULL, by_value, &dummy);
    t->dyn_by_value = sorted(t->dyn, t->ndyn, NULL, NULL, by_value, &dummy);
    t->dyn_by_name = sorted(t->dyn, t->ndyn, NULL, NULL, by_name, &dummy);
    if (!t->code || !t->prev_sized || !t->sized || !t->by_name || !t->by_value ||
        !t->dyn_by_name || !t->dyn_by_value)
        return gd_fail(err, GD_ENOMEM, "out of memory");
    return load_minsyms(t, f, dbg, err);
}

void symtab_free(struct symtab *t)
{
    free(t->syms);
    free(t->dyn);
    free(t->code);
    free(t->prev_sized);
    free(t->sized);
    free(t->by_name);
    free(t->by_value);
    free(t->dyn_by_name);
    free(t->dyn_by_value);
    minsyms_free(&t->gdb_own);
    minsyms_free(&t->gdb_dbg);
    memset(t, 0, sizeof *t);
}

static bool is_func(const struct gd_symbol *s)
{
    return s->type == STT_FUNC || s->type == STT_GNU_IFUNC;
}

/* The best of the code symbols code[first..last] at one address that may
 * name addr: those whose size holds it when sized, the zero-size ones when
 * not; NULL if none qualifies.  binutils 2.40 (_bfd_elf_find_function)
 * takes the larger of two at one address, the first in the table of equal
 * ones, whatever their types and bindings. */
static const struct gd_symbol *best_at(const struct symtab *t, size_t first, size_t last,
                                       uint64_t addr, bool sized)
{
    const struct gd_symbol *best = NULL;
    for (size_t i = first; i <= last; i++) {
        const struct gd_symbol *s = &t->syms[t->code[i]];
        if (sized ? s->size == 0 || addr - s->value >= s->size : s->size != 0)
            continue;
        if (!best || s->size > best->size)
            best = s;
    }
    return best;
}

/* The first index of the run of code symbols that share code[i]'s section
 * and address (bounded: a few hundred aliases at most are looked at). */
static size_t run_start(const struct symtab *t, size_t i)
{
    const struct gd_symbol *s = &t->syms[t->code[i]];
    size_t first = i;
    while (first > 0 && i - first < 256) {
        const struct gd_symbol *p = &t->syms[t->code[first - 1]];
        if (p->shndx != s->shndx || p->value != s->value)
            break;
        first--;
    }
    return first;
}

/*
 * The symbol that names addr, as elfutils and llvm-symbolizer choose it.
 * The last code symbols at or before addr in its section (all those at one
 * address) name it when one of them has a size that reaches addr; when all
 * of them are zero-size, one of them does (a zero-size symbol reaches up to
 * the next symbol), unless a sized symbol before them reaches addr (labels
 * inside a function).  Otherwise nothing names addr: a pc past the end of
 * the nearest function is not that function's, nor a zero-size label's
 * that shares its address.
 */
const struct gd_symbol *symtab_at(const struct symtab *t, uint32_t shndx, uint64_t addr)
{
    size_t lo = 0, hi = t->ncode;

    /* Last candidate with (shndx, value) <= (shndx, addr). */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct gd_symbol *s = &t->syms[t->code[mid]];
        if (s->shndx < shndx || (s->shndx == shndx && s->value <= addr))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || t->syms[t->code[lo - 1]].shndx != shndx)
        return NULL;
    size_t last = lo - 1, first = run_start(t, last);
    const struct gd_symbol *s = best_at(t, first, last, addr, true);
    if (s)
        return s;
    /* sized symbols here, none reaching addr: a zero-size one beside them
     * (a section's __start_ label on its first function) does not either */
    for (size_t i = first; i <= last; i++)
        if (t->syms[t->code[i]].size != 0)
            return NULL;
    const struct gd_symbol *zero = best_at(t, first, last, addr, false);
    if (!zero)
        return NULL;
    uint32_t k = first > 0 ? t->prev_sized[first - 1] : UINT32_MAX;
    if (k != UINT32_MAX && t->syms[t->code[k]].shndx == shndx &&
        (s = best_at(t, run_start(t, k), k, addr, true)))
        return s;
    return zero;
}

/* gdb asks the file and its separate debug file; the symbol at the higher
 * address wins, the file's own at equal ones. */
const struct gd_symbol *symtab_gdb_at(const struct symtab *t, uint32_t shndx, uint64_t addr)
{
    const struct gd_symbol *own = minsyms_at(&t->gdb_own, shndx, addr);
    const struct gd_symbol *sep = minsyms_at(&t->gdb_dbg, shndx, addr);
    return sep && (!own || sep->value > own->value) ? sep : own;
}

/* binutils looks in the file's own table (.symtab, else .dynsym: never
 * the debug file's) and takes the first global one, else the last (it
 * keeps looking past local and weak ones for a global). */
const struct gd_symbol *symtab_starting_at(const struct symtab *t, uint32_t shndx, uint64_t addr)
{
    const struct gd_symbol *syms = t->from_dbg ? t->dyn : t->syms;
    const uint32_t *by_value = t->from_dbg ? t->dyn_by_value : t->by_value;
    size_t n = t->from_dbg ? t->ndyn : t->n, lo = 0, hi = n;
    const struct gd_symbol *found = NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (syms[by_value[mid]].value < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && syms[by_value[lo]].value == addr; lo++) {
        const struct gd_symbol *s = &syms[by_value[lo]];
        if (s->shndx != shndx || s->type == STT_SECTION)
            continue;
        found = s;
        if (s->bind == STB_GLOBAL)
            break;
    }
    return found;
}

const struct gd_symbol *symtab_containing(const struct symtab *t, uint64_t addr)
{
    size_t lo = 0, hi = t->nsized;
    const struct gd_symbol *best = NULL;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->syms[t->sized[mid]].value <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Look back a bounded distance: nested symbols are rare and close. */
    for (size_t i = lo, k = 0; i > 0 && k < 64; i--, k++) {
        const struct gd_symbol *s = &t->syms[t->sized[i - 1]];
        if (addr - s->value >= s->size)
            continue;
        if (!best || (is_func(s) && !is_func(best)) ||
            (is_func(s) == is_func(best) && s->size < best->size))
            best = s;
    }
    return best;
}

static const struct gd_symbol *find_name(const struct gd_symbol *syms, const uint32_t *idx,
                                         size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(syms[idx[mid]].name, name);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(syms[idx[lo]].name, name) == 0 ? &syms[idx[lo]] : NULL;
}

const struct gd_symbol *symtab_by_name(const struct symtab *t, const char *name)
{
    const struct gd_symbol *s = find_name(t->syms, t->by_name, t->n, name);
    if (!s || s->shndx == SHN_UNDEF) {
        const struct gd_symbol *d = find_name(t->dyn, t->dyn_by_name, t->ndyn, name);
        if (d && (!s || d->shndx != SHN_UNDEF))
            s = d;
    }
    return s;
}
