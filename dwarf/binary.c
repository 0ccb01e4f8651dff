/*
 * binary.c — opening a binary: the ELF file, its separate debug file and
 * supplementary file, the symbol tables, the DWARF sections and the index,
 * the CFI tables; and the
 * accessors of what was read (sections, segments, load bias, symbols).
 */
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int load_dwarf_sections(struct elf_file *f, struct dw *dw, const struct gd_warner *w,
                               struct gd_error *err)
{
    static const struct { const char *name; size_t off; } secs[] = {
        { ".debug_info", offsetof(struct dw, info) },
        { ".debug_abbrev", offsetof(struct dw, abbrev) },
        { ".debug_line", offsetof(struct dw, line) },
        { ".debug_str", offsetof(struct dw, str) },
        { ".debug_line_str", offsetof(struct dw, line_str) },
        { ".debug_str_offsets", offsetof(struct dw, str_offsets) },
        { ".debug_addr", offsetof(struct dw, addr) },
        { ".debug_ranges", offsetof(struct dw, ranges) },
        { ".debug_rnglists", offsetof(struct dw, rnglists) },
    };
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        const struct gd_section *s = elf_file_debug_section(f, secs[i].name);
        struct gd_buf *buf = (struct gd_buf *)((char *)dw + secs[i].off);
        struct gd_error e;
        if (!s)
            continue;
        if (elf_file_bytes(f, s, buf, &e) != GD_OK) {
            if (i < 3)
                return gd_fail(err, GD_EDWARF, "%s", e.msg);
            gd_warn(w, "%s", e.msg);
        }
    }
    return GD_OK;
}

/* The supplementary file of the DWARF's file (dwz -m), when it names one:
 * without it the index still has everything but what dwz moved there. */
static void open_sup(gd_binary *b, const struct gd_open_options *opts)
{
    struct gd_error e;
    if (!b->dwarf_src->altlink || (opts->flags & GD_OPEN_NO_DEBUGLINK) ||
        !altlink_open(b->dwarf_src, &b->debug_dirs, &b->sup, &b->warner))
        return;
    if (load_dwarf_sections(&b->sup, &b->sup_dw, &b->warner, &e) != GD_OK) {
        gd_warn(&b->warner, "%s; the supplementary debug file is not used", e.msg);
        memset(&b->sup_dw, 0, sizeof b->sup_dw);
        elf_file_close(&b->sup);
        return;
    }
    b->has_sup = true;
    b->dw.sup = &b->sup_dw;
}

static gd_binary *new_binary(const struct gd_open_options *opts)
{
    gd_binary *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->main.fd = b->dbg.fd = b->sup.fd = -1;
    b->warner.fn = opts->warn;
    b->warner.ctx = opts->warn_ctx;
    return b;
}

static int open_rest(gd_binary *b, const struct gd_open_options *opts, gd_binary **out,
                     struct gd_error *err);

int gd_open(const char *path, const struct gd_open_options *opts, gd_binary **out,
            struct gd_error *err)
{
    static const struct gd_open_options none = { 0 };
    int rc;

    *out = NULL;
    if (!opts)
        opts = &none;
    gd_binary *b = new_binary(opts);
    if (!b)
        return gd_fail(err, GD_ENOMEM, "out of memory");
    if ((rc = elf_file_open(&b->main, path, err)) != GD_OK) {
        gd_close(b);
        return rc;
    }
    return open_rest(b, opts, out, err);
}

/* The image is written to a memory file (memfd) that libelf reads as it
 * reads any file. */
int gd_open_image(const char *name, const void *image, size_t size,
                  const struct gd_open_options *opts, gd_binary **out, struct gd_error *err)
{
    static const struct gd_open_options none = { 0 };
    int rc;

    *out = NULL;
    if (!opts)
        opts = &none;
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return gd_fail(err, GD_ENOENT, "%s: a memory file: %s", name, strerror(errno));
    for (size_t done = 0; done < size;) {
        ssize_t k = write(fd, (const char *)image + done, size - done);
        if (k <= 0) {
            int e = k < 0 ? errno : ENOSPC;
            close(fd);
            return gd_fail(err, GD_ENOMEM, "%s: a memory file: %s", name, strerror(e));
        }
        done += (size_t)k;
    }
    gd_binary *b = new_binary(opts);
    if (!b) {
        close(fd);
        return gd_fail(err, GD_ENOMEM, "out of memory");
    }
    if ((rc = elf_file_open_fd(&b->main, fd, name, err)) != GD_OK) {
        gd_close(b);
        return rc;
    }
    b->main.debuglink = NULL;   /* relative to a directory the image has none of */
    return open_rest(b, opts, out, err);
}

/* Everything after the main file is read: the debug files, symbols, the
 * index and the CFI.  Closes b on failure. */
static int open_rest(gd_binary *b, const struct gd_open_options *opts, gd_binary **out,
                     struct gd_error *err)
{
    int rc;
    b->dwarf_src = &b->main;
    if (!debug_dirs_init(&b->debug_dirs, opts->debug_dirs)) {
        rc = gd_fail(err, GD_ENOMEM, "out of memory");
        goto fail;
    }
    if (!elf_file_has_dwarf(&b->main) && !(opts->flags & GD_OPEN_NO_DEBUGLINK) &&
        debug_file_find(b, opts))
        b->dwarf_src = &b->dbg;
    if ((rc = symtab_load(&b->syms, &b->main, b->has_dbg ? &b->dbg : NULL, err)) != GD_OK)
        goto fail;

    struct gd_info *in = &b->info;
    in->path = b->main.path;
    in->debug_path = b->has_dbg ? b->dbg.path : NULL;
    in->type = b->main.type;
    in->pie = b->main.type == ET_DYN && (b->main.has_interp || b->main.df1_pie);
    in->entry = b->main.entry;
    in->build_id = b->main.build_id;
    in->build_id_len = b->main.build_id_len;
    in->min_vaddr = UINT64_MAX;
    for (size_t i = 0; i < b->main.nsegs; i++) {
        uint64_t a = b->main.segs[i].vaddr & ~(uint64_t)0xfff;
        if (a < in->min_vaddr)
            in->min_vaddr = a;
    }
    if (in->min_vaddr == UINT64_MAX)
        in->min_vaddr = 0;

    if ((opts->flags & GD_OPEN_PCTAB) && !(opts->flags & GD_OPEN_NO_INDEX))
        in->has_pctab = pctab_load(&b->main, &b->pctab);
    if (elf_file_has_dwarf(b->dwarf_src) && !(opts->flags & (GD_OPEN_NO_INDEX)) &&
        !in->has_pctab) {
        double t0 = now();
        if ((rc = load_dwarf_sections(b->dwarf_src, &b->dw, &b->warner, err)) != GD_OK)
            goto fail;
        open_sup(b, opts);
        in->sup_path = b->has_sup ? b->sup.path : NULL;
        in->has_dwarf = b->dw.info.data && b->dw.abbrev.data;
        if (in->has_dwarf && (rc = index_build(&b->ix, &b->dw, &b->warner, err)) != GD_OK)
            goto fail;
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t i = 1; i < b->main.nsecs; i++) {
            const struct gd_section *s = &b->main.secs[i];
            if ((s->flags & SHF_EXECINSTR) && (s->flags & SHF_ALLOC) && s->size) {
                if (s->addr < lo)
                    lo = s->addr;
                if (s->addr + s->size > hi)
                    hi = s->addr + s->size;
            }
        }
        if (lo < hi)
            index_accelerate(&b->ix, lo, hi);
        in->index_seconds = now() - t0;
        in->compile_units = b->ix.units;
        in->bad_units = b->ix.bad_units;
        in->line_rows = b->ix.nrows;
        in->functions = b->ix.nnodes;
    }
    if ((rc = frames_load(&b->frames, b, &b->warner, err)) != GD_OK)
        goto fail;
    *out = b;
    return GD_OK;
fail:
    gd_close(b);
    return rc;
}

void gd_close(gd_binary *b)
{
    if (!b)
        return;
    types_free(b->types);
    frames_free(&b->frames);
    index_free(&b->ix);
    symtab_free(&b->syms);
    elf_file_close(&b->sup);
    elf_file_close(&b->dbg);
    elf_file_close(&b->main);
    debug_dirs_free(&b->debug_dirs);
    free(b);
}

const struct gd_info *gd_info(const gd_binary *b)
{
    return &b->info;
}

size_t gd_sections(const gd_binary *b, const struct gd_section **out)
{
    *out = b->main.secs;
    return b->main.nsecs;
}

const struct gd_section *gd_section_by_name(const gd_binary *b, const char *name)
{
    return elf_file_section(&b->main, name);
}

const struct gd_section *gd_section_containing(const gd_binary *b, uint64_t addr)
{
    for (size_t i = 1; i < b->main.nsecs; i++) {
        const struct gd_section *s = &b->main.secs[i];
        if ((s->flags & SHF_ALLOC) && addr >= s->addr && addr - s->addr < s->size)
            return s;
    }
    return NULL;
}

size_t gd_segments(const gd_binary *b, const struct gd_segment **out)
{
    *out = b->main.segs;
    return b->main.nsegs;
}

int gd_load_bias(const gd_binary *b, uint64_t map_start, uint64_t map_offset, uint64_t *bias)
{
    for (size_t i = 0; i < b->main.nsegs; i++) {
        const struct gd_segment *s = &b->main.segs[i];
        uint64_t page_off = s->offset & ~(uint64_t)0xfff;
        if (map_offset >= page_off && map_offset < s->offset + (s->filesz ? s->filesz : 1)) {
            uint64_t vaddr = s->vaddr - (s->offset - map_offset);
            *bias = map_start - vaddr;
            return GD_OK;
        }
    }
    return GD_ENOTFOUND;
}

size_t gd_symbols(const gd_binary *b, const struct gd_symbol **out)
{
    *out = b->syms.syms;
    return b->syms.n;
}

const struct gd_symbol *gd_symbol_containing(const gd_binary *b, uint64_t addr)
{
    return symtab_containing(&b->syms, addr);
}

/* The section gdb finds addr in (find_pc_section): the first allocated one
 * holding it, .tbss aside (it takes no addresses of its own). */
static const struct gd_section *gdb_section(const gd_binary *b, uint64_t addr)
{
    for (size_t i = 1; i < b->main.nsecs; i++) {
        const struct gd_section *s = &b->main.secs[i];
        if ((s->flags & SHF_ALLOC) && addr >= s->addr && addr - s->addr < s->size &&
            !((s->flags & SHF_TLS) && s->type == SHT_NOBITS))
            return s;
    }
    return NULL;
}

/* addr2line asks each allocated section holding addr, in header order,
 * until one has a symbol for it (.tbss has none: the section its
 * addresses overlap is asked next). */
const struct gd_symbol *gd_symbol_at(const gd_binary *b, uint64_t addr, enum gd_symbol_rule rule)
{
    if (rule == GD_SYMBOLS_GDB) {
        const struct gd_section *s = gdb_section(b, addr);
        return s ? symtab_gdb_at(&b->syms, s->index, addr) : NULL;
    }
    for (size_t i = 1; i < b->main.nsecs; i++) {
        const struct gd_section *s = &b->main.secs[i];
        const struct gd_symbol *sym;
        if ((s->flags & SHF_ALLOC) && addr >= s->addr && addr - s->addr < s->size &&
            (sym = symtab_at(&b->syms, s->index, addr)))
            return sym;
    }
    return NULL;
}

const struct gd_symbol *gd_symbol_in_section(const gd_binary *b, const struct gd_section *sec,
                                             uint64_t addr, enum gd_symbol_rule rule)
{
    if (addr < sec->addr || addr - sec->addr >= sec->size)
        return NULL;
    return rule == GD_SYMBOLS_GDB ? symtab_gdb_at(&b->syms, sec->index, addr)
                                  : symtab_at(&b->syms, sec->index, addr);
}

const struct gd_symbol *gd_symbol_by_name(const gd_binary *b, const char *name)
{
    return symtab_by_name(&b->syms, name);
}
