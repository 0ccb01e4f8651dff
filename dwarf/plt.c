/*
 * plt.c — names for the entries of an x86-64 binary's procedure linkage
 * tables, made as BFD makes its synthetic symbols (what objdump and gdb
 * show): each entry's indirect jump reads a GOT slot, and the dynamic
 * relocation of that slot names the entry SYM@plt, or *ABS*+0xADDR@plt
 * for an IRELATIVE one, which has no symbol.
 *
 * The sections are looked at in BFD's order, .plt, .plt.got, .plt.sec,
 * .plt.bnd; the layout of a section is told by its first entry:
 *   lazy .plt:   PLT0 (pushq GOT+8; jmpq *GOT+16), then 16-byte entries
 *                starting `jmpq *slot(%rip)`; IBT and BND lazy entries
 *                (push, jmp PLT0) have no jump of their own and name none:
 *                their .plt.sec entries are named
 *   non-lazy:    `ff 25` (8 bytes), `f2 ff 25` (bnd, 8), `f3 0f 1e fa
 *                f2 ff 25` or `f3 0f 1e fa ff 25` (endbr64, 16)
 * Every entry of a section is read at the offset its first entry has.  A
 * relocation names one entry only, the first that reaches its slot.
 */
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

struct reloc {
    uint64_t offset;            /* the GOT slot */
    uint32_t type;
    uint32_t sym;
    int64_t addend;
    bool used;
};

struct relocs {                 /* a VEC */
    struct reloc *v;
    size_t n, cap;
};

struct layout {
    size_t stride;              /* bytes per entry */
    size_t first;               /* the first entry's offset */
    size_t disp;                /* offset of the jump's disp32 in an entry */
};

static const uint8_t ENDBR64[] = { 0xf3, 0x0f, 0x1e, 0xfa };

static bool starts(const uint8_t *p, size_t n, const uint8_t *want, size_t k)
{
    return n >= k && memcmp(p, want, k) == 0;
}

/* The entry layout of a PLT section from its bytes; false when it is none
 * BFD knows, or a lazy one whose entries do not jump through their slots
 * (IBT and BND: a .plt.sec does).  Only .plt can be lazy. */
static bool plt_layout(const uint8_t *p, size_t n, bool may_be_lazy, struct layout *l)
{
    static const uint8_t push_got[] = { 0xff, 0x35 }, jmp[] = { 0xff, 0x25 },
                         bnd_jmp[] = { 0xf2, 0xff, 0x25 },
                         ibt_push[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x68 };
    if (may_be_lazy && n >= 32 && starts(p, n, push_got, 2)) {
        if (starts(p + 6, n - 6, bnd_jmp, 3))
            return false;
        if (starts(p + 6, n - 6, jmp, 2)) {
            *l = (struct layout){ 16, 16, 2 };
            return !starts(p + 16, n - 16, ibt_push, 5);
        }
    }
    if (starts(p, n, jmp, 2) && n >= 8)
        *l = (struct layout){ 8, 0, 2 };
    else if (starts(p, n, bnd_jmp, 3) && n >= 8)
        *l = (struct layout){ 8, 0, 3 };
    else if (starts(p, n, ENDBR64, 4) && starts(p + 4, n - 4, bnd_jmp, 3) && n >= 16)
        *l = (struct layout){ 16, 0, 7 };
    else if (starts(p, n, ENDBR64, 4) && starts(p + 4, n - 4, jmp, 2) && n >= 16)
        *l = (struct layout){ 16, 0, 6 };
    else
        return false;
    return true;
}

static int by_offset(const void *a, const void *b)
{
    const struct reloc *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Every relocation of the sections that relocate against .dynsym. */
static bool read_relocs(Elf *elf, size_t dynsym, struct relocs *out)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;
        if (!gelf_getshdr(scn, &sh) || sh.sh_link != dynsym ||
            (sh.sh_type != SHT_RELA && sh.sh_type != SHT_REL) || !(d = elf_getdata(scn, NULL)))
            continue;
        bool rela = sh.sh_type == SHT_RELA;
        size_t n = d->d_size / (rela ? sizeof(Elf64_Rela) : sizeof(Elf64_Rel));
        for (size_t i = 0; i < n; i++) {
            GElf_Rela r = { 0 };
            GElf_Rel rl;
            if (rela ? !gelf_getrela(d, (int)i, &r) : !gelf_getrel(d, (int)i, &rl))
                break;
            if (!rela) {
                r.r_offset = rl.r_offset;
                r.r_info = rl.r_info;
            }
            struct reloc x = { r.r_offset, (uint32_t)GELF_R_TYPE(r.r_info),
                               (uint32_t)GELF_R_SYM(r.r_info), r.r_addend, false };
            if (!VEC_PUSH(*out, x))
                return false;
        }
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_offset);
    return true;
}

static struct reloc *reloc_at(struct reloc *v, size_t n, uint64_t slot)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].offset < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && v[lo].offset == slot; lo++)
        if (!v[lo].used)
            return &v[lo];
    return NULL;
}

static bool plt_reloc_type(uint32_t type)
{
    return type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT ||
           type == R_X86_64_IRELATIVE;
}

struct plt_ctx {
    Elf *elf;
    Elf_Data *dynsym;
    size_t dynstr;
    struct relocs relocs;
    struct plt_names *out;
};

/* The name of the entry whose slot r relocates, "NAME[+0xADDEND]@plt",
 * appended to out->text; its symbol's type and binding in *sym. */
static bool name_entry(struct plt_ctx *c, const struct reloc *r, GElf_Sym *sym, size_t *off)
{
    char addend[24] = "";
    const char *name = "*ABS*";
    memset(sym, 0, sizeof *sym);
    sym->st_info = GELF_ST_INFO(STB_GLOBAL, STT_FUNC);
    if (r->sym != 0) {
        const char *s = gelf_getsym(c->dynsym, (int)r->sym, sym)
                            ? elf_strptr(c->elf, c->dynstr, sym->st_name) : NULL;
        name = s ? s : "";
    }
    if (r->addend != 0)
        snprintf(addend, sizeof addend, "+0x%llx", (unsigned long long)r->addend);
    size_t len = strlen(name), alen = strlen(addend);
    *off = c->out->text.n;
    if (!VEC_RESERVE(c->out->text, len + alen + sizeof "@plt"))
        return false;
    char *p = c->out->text.v + c->out->text.n;
    memcpy(p, name, len);
    memcpy(p + len, addend, alen);
    memcpy(p + len + alen, "@plt", sizeof "@plt");
    c->out->text.n += len + alen + sizeof "@plt";
    return true;
}

static bool add_entry(struct plt_ctx *c, const struct gd_section *sec, uint64_t addr,
                      struct reloc *r)
{
    GElf_Sym sym;
    size_t off;
    if (!name_entry(c, r, &sym, &off))
        return false;
    r->used = true;
    uint8_t bind = GELF_ST_BIND(sym.st_info) == STB_LOCAL ? STB_LOCAL : STB_GLOBAL;
    uint8_t type = GELF_ST_TYPE(sym.st_info) == STT_GNU_IFUNC ? STT_GNU_IFUNC : STT_FUNC;
    struct plt_entry e = { addr, sec->index, off, type, bind };
    return VEC_PUSH(c->out->v, e);
}

static bool scan_section(struct plt_ctx *c, struct elf_file *f, const struct gd_section *sec,
                         bool may_be_lazy)
{
    struct gd_buf bytes;
    struct gd_error e;
    struct layout l;
    if (elf_file_bytes(f, sec, &bytes, &e) != GD_OK || !bytes.data ||
        !plt_layout(bytes.data, bytes.size, may_be_lazy, &l))
        return true;
    for (size_t off = l.first; off + l.stride <= bytes.size; off += l.stride) {
        int32_t disp;
        memcpy(&disp, bytes.data + off + l.disp, 4);
        uint64_t slot = sec->addr + off + l.disp + 4 + (uint64_t)(int64_t)disp;
        struct reloc *r = reloc_at(c->relocs.v, c->relocs.n, slot);
        if (r && plt_reloc_type(r->type) && !add_entry(c, sec, sec->addr + off, r))
            return false;
    }
    return true;
}

bool plt_names(struct elf_file *f, struct plt_names *out)
{
    static const char *const names[] = { ".plt", ".plt.got", ".plt.sec", ".plt.bnd" };
    GElf_Ehdr eh;
    memset(out, 0, sizeof *out);
    if (!gelf_getehdr(f->elf, &eh) || eh.e_machine != EM_X86_64)
        return true;
    const struct gd_section *dynsym = elf_file_section(f, ".dynsym");
    if (!dynsym || dynsym->type != SHT_DYNSYM)
        return true;
    Elf_Scn *scn = elf_getscn(f->elf, dynsym->index);
    GElf_Shdr sh;
    struct plt_ctx c = { f->elf, NULL, 0, { 0 }, out };
    if (!scn || !gelf_getshdr(scn, &sh) || !(c.dynsym = elf_getdata(scn, NULL)) ||
        c.dynsym->d_size < 2 * sizeof(Elf64_Sym))
        return true;
    c.dynstr = sh.sh_link;
    bool ok = read_relocs(f->elf, dynsym->index, &c.relocs);
    for (size_t i = 0; ok && c.relocs.n && i < sizeof names / sizeof names[0]; i++) {
        const struct gd_section *sec = elf_file_section(f, names[i]);
        if (sec && sec->type == SHT_PROGBITS && sec->size)
            ok = scan_section(&c, f, sec, i == 0);
    }
    VEC_FREE(c.relocs);
    if (!ok)
        plt_names_free(out);
    return ok;
}

void plt_names_free(struct plt_names *p)
{
    VEC_FREE(p->v);
    VEC_FREE(p->text);
}
