/*
 * minsyms.c — gdb's minimal symbols: the table gdb 13 makes of one file's
 * ELF symbols (elfread.c's elf_symtab_read), and the symbol its
 * lookup_minimal_symbol_by_pc_section takes for an address (minsyms.c).
 *
 * The table: the .symtab symbols with a name in an allocated section
 * (neither FILE nor SECTION symbols, nor local `.L`/`$L` labels of code);
 * the .dynsym ones instead when the file has no .symtab; an undefined
 * function of .dynsym with a value, at its PLT stub; a name with a
 * version (memcpy@@GLIBC_2.14) once more without it, with no size; and
 * the PLT entries (plt.c).  A global (or weak) function symbol of a code
 * section is gdb's "text" kind; local ones, GNU ifuncs, PLT stubs and
 * data are others.  Sorted by address, then name (strcmp); of equal
 * address, section and name only one is kept.  Each is then named as gdb
 * prints it (gdb_print_name.c).
 *
 * The lookup, in the address's section: the last symbol at or before the
 * address (the last by name of several at one address), then backwards:
 * one of another kind is passed over for the text symbol just before it
 * at the same address with the same size; a zero-size one is remembered
 * (the first met) and passed over; a sized one that ends before the
 * address is passed over for the one before it when that one holds the
 * address.  The sized symbol reached names the address if it holds it;
 * else the zero-size one remembered, if any; else nothing does.
 */
#include <elf.h>
#include <stdlib.h>

#include "internal.h"

#define NONE UINT32_MAX

struct builder {
    const struct minsym_src *src;
    uint32_t *secmap;           /* own section index -> main's, NONE */
    struct msym *v;
    size_t n;
    char *names, *name_end;     /* names made so far */
};

static int by_address(const void *a, const void *b, void *ctx)
{
    const struct gd_section *secs = ctx;
    uint64_t x = secs[*(const uint32_t *)a].addr, y = secs[*(const uint32_t *)b].addr;
    return x < y ? -1 : x > y;
}

/* For each allocated section of the file the symbols come from, the main
 * file's section of the same name and address (gdb matches a separate
 * debug file's sections so), NONE if none: through the main file's
 * allocated sections by address, a few of one address compared by name. */
static bool map_sections(const struct minsym_src *src, uint32_t *map)
{
    const struct elf_file *own = src->own, *main = src->main;
    uint32_t *by_addr = malloc((main->nsecs + 1) * sizeof *by_addr);
    size_t n = 0;
    if (!by_addr)
        return false;
    for (size_t k = 1; k < main->nsecs; k++)
        if (main->secs[k].flags & SHF_ALLOC)
            by_addr[n++] = (uint32_t)k;
    qsort_r(by_addr, n, sizeof *by_addr, by_address, (void *)main->secs);
    for (size_t i = 0; i < own->nsecs; i++) {
        const struct gd_section *s = &own->secs[i];
        map[i] = own == main ? (uint32_t)i : NONE;
        if (own == main || !(s->flags & SHF_ALLOC))
            continue;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (main->secs[by_addr[mid]].addr < s->addr)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = lo; k < n && k - lo < 64 && main->secs[by_addr[k]].addr == s->addr; k++)
            if (strcmp(main->secs[by_addr[k]].name, s->name) == 0) {
                map[i] = by_addr[k];
                break;
            }
    }
    free(by_addr);
    return true;
}

static void push(struct builder *b, const struct gd_symbol *s, uint32_t shndx, bool text)
{
    struct msym *m = &b->v[b->n];
    m->sym = *s;
    m->sym.shndx = shndx;
    m->text = text;
    m->order = (uint32_t)b->n++;
}

/* The name of s once more without its version (what follows an @ that is
 * not the first character, unless it is @plt), with no size. */
static void push_unversioned(struct builder *b, const struct gd_symbol *s, uint32_t shndx,
                             bool text)
{
    const char *at = strchr(s->name, '@');
    if (!at || at == s->name || strcmp(at, "@plt") == 0)
        return;
    size_t len = (size_t)(at - s->name);
    memcpy(b->name_end, s->name, len);
    b->name_end[len] = 0;
    struct gd_symbol copy = *s;
    copy.name = b->name_end;
    copy.size = 0;
    copy.synthetic = true;
    b->name_end += len + 1;
    push(b, &copy, shndx, text);
}

static bool is_label(const char *name)
{
    return (name[0] == '.' && name[1] == 'L') || (name[0] == '$' && name[1] == 'L');
}

/* A symbol of .symtab, or of .dynsym of a file without .symtab. */
static void add_symbol(struct builder *b, const struct gd_symbol *s)
{
    const struct elf_file *own = b->src->own;
    bool global = (s->bind == STB_GLOBAL || s->bind == STB_WEAK || s->bind == STB_GNU_UNIQUE);
    if (!s->name[0] || s->type == STT_FILE || s->type == STT_SECTION)
        return;
    if (!global && s->bind != STB_LOCAL)
        return;
    if (s->shndx == SHN_UNDEF || s->shndx >= own->nsecs || b->secmap[s->shndx] == NONE)
        return;     /* undefined, absolute, common, or no section of the main file */
    const struct gd_section *sec = &own->secs[s->shndx];
    if (!(sec->flags & SHF_ALLOC))
        return;
    bool code = sec->flags & SHF_EXECINSTR;
    if (code && !global && is_label(s->name))
        return;
    bool text = code && global && s->type != STT_GNU_IFUNC;
    push(b, s, b->secmap[s->shndx], text);
    push_unversioned(b, s, b->secmap[s->shndx], text);
}

/* An undefined function of .dynsym whose value is its PLT stub's address
 * (a non-PIE executable's): at the stub, in the allocated section holding
 * it, which must be a .plt* one when the file has a .plt. */
static void add_stub(struct builder *b, const struct gd_symbol *s)
{
    const struct elf_file *own = b->src->own;
    if (s->value == 0 || !s->name[0])
        return;
    for (size_t i = 1; i < own->nsecs; i++) {
        const struct gd_section *sec = &own->secs[i];
        if (!(sec->flags & SHF_ALLOC) || s->value < sec->addr || s->value - sec->addr >= sec->size)
            continue;
        if (strncmp(sec->name, ".plt", 4) != 0 && elf_file_section(own, ".plt"))
            return;
        if (b->secmap[i] == NONE)
            return;
        struct gd_symbol stub = *s;
        stub.size = 0;
        push(b, &stub, b->secmap[i], false);
        return;
    }
}

static void add_plt(struct builder *b, const struct plt_names *plt)
{
    for (size_t i = 0; i < plt->v.n; i++) {
        const struct plt_entry *e = &plt->v.v[i];
        if (e->shndx >= b->src->own->nsecs || b->secmap[e->shndx] == NONE)
            continue;
        size_t len = strlen(plt->text.v + e->name_off);
        memcpy(b->name_end, plt->text.v + e->name_off, len + 1);
        struct gd_symbol s = { .name = b->name_end, .value = e->addr, .shndx = e->shndx,
                               .type = e->type, .bind = e->bind, .synthetic = true };
        b->name_end += len + 1;
        push(b, &s, b->secmap[e->shndx], e->bind != STB_LOCAL && e->type != STT_GNU_IFUNC);
    }
}

/* gdb's order; equal ones by size then origin, so that of symbols gdb
 * keeps one of, the sized one stays (the last). */
static int by_gdb_order(const void *a, const void *b)
{
    const struct msym *x = a, *y = b;
    if (x->sym.shndx != y->sym.shndx)
        return x->sym.shndx < y->sym.shndx ? -1 : 1;
    if (x->sym.value != y->sym.value)
        return x->sym.value < y->sym.value ? -1 : 1;
    int c = strcmp(x->sym.name, y->sym.name);
    if (c)
        return c;
    if (x->sym.size != y->sym.size)
        return x->sym.size < y->sym.size ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

/* Of a run with the same section, address and name, only the last. */
static size_t compact(struct msym *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && v[i].sym.shndx == v[i + 1].sym.shndx &&
            v[i].sym.value == v[i + 1].sym.value && strcmp(v[i].sym.name, v[i + 1].sym.name) == 0)
            continue;
        v[k++] = v[i];
    }
    return k;
}

static size_t name_bytes(const struct gd_symbol *v, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *at = strchr(v[i].name, '@');
        if (at)
            total += (size_t)(at - v[i].name) + 1;
    }
    return total;
}

/* Each symbol under the name gdb prints. */
static bool name_as_printed(struct minsyms *m)
{
    struct { char **v; size_t n, cap; } printed = { NULL, 0, 0 };
    bool ok = true;
    for (size_t i = 0; ok && i < m->n; i++) {
        char *p;
        int r = gdb_print_name(m->v[i].sym.name, &p);
        if (r > 0 && !(ok = VEC_PUSH(printed, p)))
            free(p);
        else if (r > 0)
            m->v[i].sym.name = p;
        ok = ok && r >= 0;
    }
    m->printed = printed.v;
    m->nprinted = printed.n;
    return ok;
}

bool minsyms_build(struct minsyms *m, const struct minsym_src *src)
{
    struct builder b = { src, NULL, NULL, 0, NULL, NULL };
    size_t nplt = src->plt ? src->plt->v.n : 0;
    size_t cap = 2 * src->nsymtab + 2 * src->ndynsym + nplt;
    size_t bytes = name_bytes(src->symtab, src->nsymtab) + name_bytes(src->dynsym, src->ndynsym) +
                   (src->plt ? src->plt->text.n : 0);

    memset(m, 0, sizeof *m);
    b.secmap = malloc((src->own->nsecs + 1) * sizeof *b.secmap);
    b.v = malloc((cap ? cap : 1) * sizeof *b.v);
    b.names = b.name_end = malloc(bytes ? bytes : 1);
    if (!b.secmap || !b.v || !b.names || !map_sections(src, b.secmap)) {
        free(b.secmap);
        free(b.v);
        free(b.names);
        return false;
    }
    for (size_t i = 0; i < src->nsymtab; i++)
        add_symbol(&b, &src->symtab[i]);
    for (size_t i = 0; i < src->ndynsym; i++) {
        const struct gd_symbol *s = &src->dynsym[i];
        if (s->shndx == SHN_UNDEF && s->type == STT_FUNC)
            add_stub(&b, s);
        else if (src->nsymtab == 0)
            add_symbol(&b, s);
    }
    if (src->plt)
        add_plt(&b, src->plt);
    free(b.secmap);
    qsort(b.v, b.n, sizeof *b.v, by_gdb_order);
    m->n = compact(b.v, b.n);
    m->v = b.v;
    m->names = b.names;
    m->prev_sized = malloc((m->n ? m->n : 1) * sizeof *m->prev_sized);
    if (!m->prev_sized || !name_as_printed(m)) {
        minsyms_free(m);
        return false;
    }
    for (size_t i = 0, last = NONE; i < m->n; i++) {
        if (m->v[i].sym.size)
            last = i;
        m->prev_sized[i] = (uint32_t)last;
    }
    return true;
}

void minsyms_free(struct minsyms *m)
{
    for (size_t i = 0; i < m->nprinted; i++)
        free(m->printed[i]);
    free(m->printed);
    free(m->v);
    free(m->prev_sized);
    free(m->names);
    memset(m, 0, sizeof *m);
}

/* The last entry at or before (shndx, addr), NONE if it is of another
 * section or there is none. */
static uint32_t last_at_or_before(const struct minsyms *m, uint32_t shndx, uint64_t addr)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct gd_symbol *s = &m->v[mid].sym;
        if (s->shndx < shndx || (s->shndx == shndx && s->value <= addr))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && m->v[lo - 1].sym.shndx == shndx ? (uint32_t)(lo - 1) : NONE;
}

static bool holds(const struct gd_symbol *s, uint64_t addr)
{
    return addr - s->value < s->size;
}

const struct gd_symbol *minsyms_at(const struct minsyms *m, uint32_t shndx, uint64_t addr)
{
    uint32_t hi = last_at_or_before(m, shndx, addr), zero = NONE;

    while (hi != NONE) {
        const struct msym *s = &m->v[hi];
        const struct msym *p = hi > 0 && m->v[hi - 1].sym.shndx == shndx ? &m->v[hi - 1] : NULL;
        if (p && !s->text && p->text && p->sym.size == s->sym.size &&
            p->sym.value == s->sym.value) {
            hi--;
            continue;
        }
        if (s->sym.size == 0) {
            if (zero == NONE)
                zero = hi;
            hi = hi > 0 ? m->prev_sized[hi - 1] : NONE;
            if (hi != NONE && m->v[hi].sym.shndx != shndx)
                hi = NONE;
            continue;
        }
        if (p && !holds(&s->sym, addr) && holds(&p->sym, addr)) {
            hi--;
            continue;
        }
        break;
    }
    if (hi == NONE || !holds(&m->v[hi].sym, addr))
        hi = zero;
    return hi != NONE ? &m->v[hi].sym : NULL;
}
