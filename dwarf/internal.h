/*
 * internal.h — what libgidwarf's files share: errors, growable arrays, the
 * bounded DWARF byte reader, string interning, and the structures of one
 * opened binary.  Not installed.
 */
#ifndef GIDWARF_INTERNAL_H
#define GIDWARF_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gidwarf.h"
#include "pctab.h"

/* ---- Errors and warnings (error.c) ----------------------------------- */

int gd_fail(struct gd_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct gd_warner {
    gd_warn_fn fn;
    void *ctx;
};
void gd_warn(const struct gd_warner *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Opening files (regular_file.c) ---------------------------------- */

/* Opens path for reading when it is an ordinary file (never blocking on a
 * FIFO or a device, nor opening one): the descriptor, and the file's size
 * in *size; a negative GD_E* code otherwise (GD_ENOTREG: another type). */
int regular_file_open(const char *path, uint64_t *size, struct gd_error *err);

/* ---- Growable arrays (error.c) --------------------------------------- */

/* Makes room for n more elements of size elem in *v (capacity *cap, *len
 * in use); false when out of memory. */
bool gd_reserve(void **v, size_t *cap, size_t len, size_t n, size_t elem);
/* Asks for transparent huge pages over a large block (a hint only). */
void gd_hint_huge(void *p, size_t bytes);
/* An array that lookups read: aligned to a cache line (so that records of
 * 32 bytes never straddle two), huge pages asked for when large; NULL when
 * out of memory.  Freed with free(). */
void *gd_alloc_lines(size_t n, size_t elem);

#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_RESERVE(vec, more) \
    gd_reserve((void **)&(vec).v, &(vec).cap, (vec).n, (more), sizeof *(vec).v)
#define VEC_PUSH(vec, x) \
    (VEC_RESERVE(vec, 1) ? ((vec).v[(vec).n++] = (x), true) : false)
#define VEC_FREE(vec) do { free((vec).v); (vec).v = NULL; (vec).n = (vec).cap = 0; } while (0)

/* ---- Section bytes --------------------------------------------------- */

struct gd_buf {
    const uint8_t *data;
    size_t size;
};

/* ---- The bounded DWARF reader (little-endian) ------------------------ */

struct rd {
    const uint8_t *p;
    const uint8_t *end;
    bool bad;
};

static inline struct rd rd_make(const uint8_t *p, size_t n)
{
    struct rd r = { p, p + n, false };
    return r;
}

static inline size_t rd_left(const struct rd *r)
{
    return r->bad ? 0 : (size_t)(r->end - r->p);
}

static inline bool rd_need(struct rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        r->p = r->end;
        return false;
    }
    return true;
}

static inline uint64_t rd_uint(struct rd *r, size_t n)
{
    uint64_t v = 0;
    if (!rd_need(r, n))
        return 0;
    switch (n) {
    case 1: v = r->p[0]; break;
    case 2: { uint16_t x; memcpy(&x, r->p, 2); v = x; break; }
    case 4: { uint32_t x; memcpy(&x, r->p, 4); v = x; break; }
    case 8: memcpy(&v, r->p, 8); break;
    default:
        for (size_t i = 0; i < n; i++)
            v |= (uint64_t)r->p[i] << (8 * i);
    }
    r->p += n;
    return v;
}

static inline uint8_t rd_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return *r->p++;
}

static inline uint64_t rd_uleb(struct rd *r)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
        shift += 7;
    }
    r->bad = true;
    return 0;
}

static inline int64_t rd_sleb(struct rd *r)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << shift;
            return (int64_t)v;
        }
    }
    r->bad = true;
    return 0;
}

static inline void rd_skip(struct rd *r, uint64_t n)
{
    if (rd_need(r, n > SIZE_MAX ? SIZE_MAX : (size_t)n))
        r->p += n;
}

/* A NUL-terminated string in the reader; NULL (and bad) if unterminated. */
static inline const char *rd_cstr(struct rd *r)
{
    const uint8_t *s = r->p;
    const uint8_t *z = r->bad ? NULL : memchr(s, 0, (size_t)(r->end - s));
    if (!z) {
        r->bad = true;
        r->p = r->end;
        return NULL;
    }
    r->p = z + 1;
    return (const char *)s;
}

/* The NUL-terminated string at offset off of a string section. */
static inline const char *buf_str(const struct gd_buf *b, uint64_t off)
{
    if (!b->data || off >= b->size)
        return NULL;
    const char *s = (const char *)b->data + off;
    return memchr(s, 0, b->size - (size_t)off) ? s : NULL;
}

/* ---- String interning (strtab.c) ------------------------------------- */

/* Copies of strings, each stored once; pointers stay valid until
 * strtab_free.  Ids are dense from 0. */
struct strtab {
    char **chunks;
    size_t nchunks, chunkcap;
    size_t used;            /* bytes used in the last chunk */
    const char **strs;      /* id -> string */
    uint32_t *lens;
    size_t n, cap;
    uint32_t *slots;        /* open addressing: id + 1, 0 empty */
    size_t nslots;
};

void strtab_init(struct strtab *t);
void strtab_free(struct strtab *t);
/* Id of s[0..len), adding it if new; UINT32_MAX when out of memory. */
uint32_t strtab_intern(struct strtab *t, const char *s, size_t len);
static inline const char *strtab_get(const struct strtab *t, uint32_t id)
{
    return id < t->n ? t->strs[id] : NULL;
}

/* ---- One ELF file (elf_file.c) --------------------------------------- */

struct elf_file {
    char *path;
    int fd;
    struct Elf *elf;
    uint64_t file_size;
    uint16_t type;              /* ET_* */
    uint64_t entry;
    bool has_interp;
    bool df1_pie;
    struct gd_section *secs;    /* index = section header index */
    size_t nsecs;
    struct gd_segment *segs;    /* PT_LOAD only */
    size_t nsegs;
    const uint8_t *build_id;
    size_t build_id_len;
    const char *debuglink;      /* .gnu_debuglink file name, or NULL */
    uint32_t debuglink_crc;
    /* The supplementary file that holds DWARF shared out by `dwz -m`:
     * named by .gnu_debugaltlink (then altlink_id is the build-id it must
     * have) or by DWARF 5's .debug_sup (then it is the checksum its own
     * .debug_sup must have). */
    const char *altlink;        /* NULL: none */
    const uint8_t *altlink_id;
    size_t altlink_id_len;
    bool altlink_is_sup;        /* from .debug_sup */
    const uint8_t *sup_checksum; /* this file is a supplementary file: the
                                   checksum of its own .debug_sup, else NULL */
    size_t sup_checksum_len;
};

int elf_file_open(struct elf_file *f, const char *path, struct gd_error *err);
/* The same for a file already open (f owns fd from now on, and closes it),
 * called name in messages. */
int elf_file_open_fd(struct elf_file *f, int fd, const char *name, struct gd_error *err);
/* The same for a supplementary file (any ELF type: dwz writes ET_REL). */
int elf_file_open_sup(struct elf_file *f, const char *path, struct gd_error *err);
void elf_file_close(struct elf_file *f);
const struct gd_section *elf_file_section(const struct elf_file *f, const char *name);
/* A DWARF section by name (".debug_info"), or its .zdebug_ form; NULL when
 * absent, empty or SHT_NOBITS (as in a stripped file). */
const struct gd_section *elf_file_debug_section(const struct elf_file *f, const char *name);
/* Does f have DWARF of its own (a .debug_info with bytes)? */
bool elf_file_has_dwarf(const struct elf_file *f);
/* The bytes of a section (decompressed if SHF_COMPRESSED or .zdebug);
 * empty for SHT_NOBITS.  The bytes live as long as f. */
int elf_file_bytes(struct elf_file *f, const struct gd_section *s, struct gd_buf *out,
                   struct gd_error *err);

/* ---- Separate debug files (debuglink.c, debuginfod.c) ---------------- */

/* The debug directories a binary was opened with (a copy of
 * gd_open_options.debug_dirs, the default filled in), in search order.
 * Every search for a file of debug info looks in them. */
struct debug_dirs {
    char **v;
    size_t n;
};
/* Copies dirs (NULL: the default list); false when out of memory. */
bool debug_dirs_init(struct debug_dirs *d, const char *const *dirs);
void debug_dirs_free(struct debug_dirs *d);

/* DIR/.build-id/xx/rest.debug for a build-id (gdb's layout) into buf;
 * false when it does not fit or the build-id is shorter than 2 bytes. */
bool build_id_path(char *buf, size_t cap, const char *dir, const uint8_t *id, size_t len);
/* The CRC-32 .gnu_debuglink uses, of a whole file; false if unreadable. */
bool debuglink_file_crc(const char *path, uint32_t *crc);

/* Finds and opens b->main's separate debug file into b->dbg, in the order
 * gidwarf.h describes, with b->debug_dirs; each candidate that exists but
 * does not match is reported through b->warner.  False when none is found. */
bool debug_file_find(gd_binary *b, const struct gd_open_options *opts);

/* Is debuginfod asked at all ($DEBUGINFOD_URLS set and not blank)? */
bool debuginfod_wanted(void);
/* Asks the debuginfod servers for the debug file of build-id id (of the
 * binary at path, named in messages); the path of the file in
 * libdebuginfod's cache (malloc'ed), or NULL after a warning through w
 * (no server has it, none answers, libdebuginfod is missing: that one
 * once per process).  progress (may be NULL) follows the download. */
char *debuginfod_fetch(const char *path, const uint8_t *id, size_t len,
                       const struct gd_warner *w, gd_progress_fn progress, void *progress_ctx);

/* ---- Supplementary files (altlink.c) --------------------------------- */

/* Opens into *sup the supplementary file f names (f->altlink), found as
 * gdb finds it: the name as written (a relative one from the directory of
 * f), then by the recorded id under each of dirs as
 * .build-id/xx/rest.debug, then under each DIR/.dwz/ for a name in some
 * other .dwz/ directory.  A candidate is used only when its build-id (or
 * .debug_sup checksum) is the recorded one.  False after a warning through
 * w when none is. */
bool altlink_open(const struct elf_file *f, const struct debug_dirs *dirs, struct elf_file *sup,
                  const struct gd_warner *w);

/* ---- PLT entries (plt.c) ---------------------------------------------- */

struct plt_entry {
    uint64_t addr;
    uint32_t shndx;             /* its PLT section */
    size_t name_off;            /* its name in plt_names.text */
    uint8_t type, bind;         /* of the symbol it jumps to (STT_FUNC for
                                   *ABS*), for gdb's text/other kind */
};

struct plt_names {
    VEC(struct plt_entry) v;
    VEC(char) text;             /* the names, NUL-terminated */
};

/* The PLT entries of f (x86-64) named as BFD names them, in section order
 * (.plt, .plt.got, .plt.sec, .plt.bnd); none for a file without them.
 * False when out of memory. */
bool plt_names(struct elf_file *f, struct plt_names *out);
void plt_names_free(struct plt_names *p);

/* ---- How gdb prints a minimal symbol's name (gdb_print_name.c) ----------- */

/* 1 with *out (malloc'ed) when gdb 13 prints the minimal symbol linkage
 * under another name (decoded as an Ada name: foo.cold is foo[cold]); 0
 * when as it is; -1 when out of memory. */
int gdb_print_name(const char *linkage, char **out);

/* ---- gdb's minimal symbols (minsyms.c) ----------------------------------- */

struct msym {
    struct gd_symbol sym;       /* shndx: a section of the main file */
    bool text;                  /* gdb's mst_text: a global function */
    uint32_t order;             /* while built: where it came from */
};

/* The minimal symbols gdb makes of one file (an objfile), in gdb's order:
 * by section, address, then name. */
struct minsyms {
    struct msym *v;
    size_t n;
    uint32_t *prev_sized;       /* per entry: the last one at or before it
                                   with a size, UINT32_MAX if none */
    char *names;                /* the names made here (no version, @plt) */
    char **printed;             /* the names gdb prints otherwise (Ada) */
    size_t nprinted;
};

/* The symbols gdb reads from one file.  symtab[0..nsymtab) are its .symtab
 * (none when stripped), dynsym[0..ndynsym) its .dynsym; plt its PLT entries
 * (may be NULL); own is the file the symbols' shndx refer to, main the file
 * whose section indices the table is keyed by (the same file, or the one a
 * separate debug file is for). */
struct minsym_src {
    const struct gd_symbol *symtab, *dynsym;
    size_t nsymtab, ndynsym;
    const struct plt_names *plt;
    const struct elf_file *own, *main;
};
bool minsyms_build(struct minsyms *m, const struct minsym_src *src);
void minsyms_free(struct minsyms *m);
/* The symbol gdb's lookup_minimal_symbol_by_pc_section takes for addr in
 * section shndx of this one file; NULL if none. */
const struct gd_symbol *minsyms_at(const struct minsyms *m, uint32_t shndx, uint64_t addr);

/* ---- Symbols (symbols.c) --------------------------------------------- */

struct symtab {
    struct gd_symbol *syms;     /* table order, without the null symbol */
    size_t n;
    struct gd_symbol *dyn;      /* .dynsym when syms came from .symtab */
    size_t ndyn;
    uint32_t *code;             /* code-symbol candidates by (shndx, value, order) */
    uint32_t *prev_sized;       /* per code entry: the last sized one at or before it */
    size_t ncode;
    uint32_t *sized;            /* FUNC/OBJECT symbols with a size, by value */
    size_t nsized;
    uint32_t *by_name;          /* syms by name */
    uint32_t *by_value;         /* syms by value, then table order */
    uint32_t *dyn_by_name;
    uint32_t *dyn_by_value;
    bool from_dynsym;           /* syms are f's .dynsym (no .symtab anywhere) */
    bool from_dbg;              /* syms are the debug file's .symtab */
    struct minsyms gdb_own;     /* gdb's table of the file itself */
    struct minsyms gdb_dbg;     /*   and of its debug file (when from_dbg) */
};

/* Reads .symtab of f (or of dbg when f has none), else .dynsym of f, and
 * builds gdb's tables of both. */
int symtab_load(struct symtab *t, struct elf_file *f, struct elf_file *dbg,
                struct gd_error *err);
void symtab_free(struct symtab *t);
/* The symbol of section shndx that names addr: addr2line's choice
 * (symtab_at), gdb's (symtab_gdb_at). */
const struct gd_symbol *symtab_at(const struct symtab *t, uint32_t shndx, uint64_t addr);
const struct gd_symbol *symtab_gdb_at(const struct symtab *t, uint32_t shndx, uint64_t addr);
/* The symbol of section shndx starting at addr that binutils looks a data
 * address up by (any type but SECTION, of the file's own table); NULL if
 * none. */
const struct gd_symbol *symtab_starting_at(const struct symtab *t, uint32_t shndx, uint64_t addr);
const struct gd_symbol *symtab_containing(const struct symtab *t, uint64_t addr);
const struct gd_symbol *symtab_by_name(const struct symtab *t, const char *name);

/* ---- DWARF: sections, units, abbreviations, forms (units.c) ---------- */

struct dw {
    struct gd_buf info, abbrev, line, str, line_str, str_offsets, addr, ranges, rnglists;
    const struct dw *sup;       /* the supplementary file's sections
                                   (DW_FORM_GNU_strp_alt, _ref_alt, _strp_sup,
                                   _ref_sup4/8 point there), NULL if none */
};

/* Marks an offset into the supplementary file's .debug_info (a DIE in the
 * main file's .debug_info never has this bit). */
#define DIE_SUP (UINT64_C(1) << 63)

struct abbrev_attr {
    uint16_t name;
    uint16_t form;
    int64_t implicit;           /* DW_FORM_implicit_const */
};

struct abbrev {
    uint64_t code;
    uint16_t tag;
    bool children;
    int32_t sibling;            /* index of DW_AT_sibling among its attributes, or -1 */
    uint32_t first;             /* into abbrev_table.attrs */
    uint32_t nattrs;
    int32_t fixed;              /* bytes of all attribute values when each has a
                                   fixed size in this unit, else -1 */
};

struct abbrev_table {
    VEC(struct abbrev) abbrevs;
    VEC(struct abbrev_attr) attrs;
    uint32_t *direct;           /* code -> index + 1, for codes < ndirect */
    size_t ndirect;
    uint64_t offset;            /* in .debug_abbrev */
    const uint8_t *section;     /* that .debug_abbrev (main or supplementary) */
    uint8_t offset_size, addr_size, version;
    bool loaded;
};

struct unit {
    uint64_t off;               /* header, in .debug_info */
    uint64_t end;               /* one past the unit */
    uint64_t die_off;           /* first DIE */
    uint8_t version;
    uint8_t unit_type;          /* DW_UT_* (v2-4: compile) */
    uint8_t addr_size;
    uint8_t offset_size;
    uint64_t abbrev_off;
    uint64_t str_offsets_base;
    uint64_t addr_base;
    uint64_t rnglists_base;
    bool has_rnglists_base;
    uint64_t base_addr;         /* the unit DIE's DW_AT_low_pc */
    uint64_t stmt_list;
    bool has_stmt;
    const char *name;
    const char *comp_dir;
    uint32_t lang;
    bool in_sup;                /* a unit of the supplementary file */
};

struct attr {
    uint16_t name;
    uint16_t form;              /* after DW_FORM_indirect */
    uint64_t u;                 /* constant, offset, index, reference, address */
    const uint8_t *blk;         /* string / block bytes */
    uint64_t len;               /* block length */
};

/* Reads the header of the unit at off; *next gets the following unit's
 * offset whenever the length field itself was readable (so a corrupt unit
 * can be skipped). */
int unit_header(const struct dw *dw, uint64_t off, struct unit *u, uint64_t *next,
                const char **why);
int abbrev_table_load(struct abbrev_table *t, const struct dw *dw, const struct unit *u,
                      const char **why);
void abbrev_table_free(struct abbrev_table *t);
const struct abbrev *abbrev_find(const struct abbrev_table *t, uint64_t code);
/* Reads one attribute value of the given form; false on malformed data. */
bool form_read(struct rd *r, const struct unit *u, uint16_t form, int64_t implicit,
               struct attr *a);
/* Skips the attributes of a DIE with abbreviation ab. */
bool die_skip_attrs(struct rd *r, const struct unit *u, const struct abbrev_table *t,
                    const struct abbrev *ab);
/* Reads the attributes of the unit DIE into u (name, comp_dir, language,
 * low_pc, stmt_list and the DWARF 5 bases); leaves r after them. */
bool unit_die_read(struct rd *r, const struct dw *dw, struct unit *u,
                   const struct abbrev_table *t, const struct abbrev *ab);
const char *attr_string(const struct dw *dw, const struct unit *u, const struct attr *a);
bool attr_address(const struct dw *dw, const struct unit *u, const struct attr *a,
                  uint64_t *out);
/* A reference as an absolute .debug_info offset, with DIE_SUP when it
 * points into the supplementary file (a reference from one of its units,
 * or DW_FORM_GNU_ref_alt / DW_FORM_ref_sup4/8); false for type signatures. */
bool attr_reference(const struct unit *u, const struct attr *a, uint64_t *out);
/* The value of attribute name of the DIE at die_off, in the unit whose
 * header is at unit_off; false when it has none or the DWARF is bad. */
bool die_attr_find(const struct dw *dw, uint64_t unit_off, uint64_t die_off, uint16_t name,
                   struct attr *out);
bool form_is_constant(uint16_t form);

/* ---- DWARF: address ranges (ranges.c) -------------------------------- */

typedef bool (*range_fn)(void *ctx, uint64_t lo, uint64_t hi);
/* Calls fn for each range of DW_AT_ranges value a (.debug_ranges for
 * DWARF 2-4, .debug_rnglists for 5, rnglistx through rnglists_base).
 * Returns false on malformed data; stops early if fn returns false. */
bool ranges_read(const struct dw *dw, const struct unit *u, const struct attr *a,
                 range_fn fn, void *ctx);

/* ---- The index under construction (lines.c, inline_tree.c, index.c) -- */

#define GD_NOFILE UINT32_MAX
#define LROW_STMT 0x1
#define LROW_END 0x2

struct lrow {                   /* one line-table row */
    uint64_t addr;
    uint32_t file;              /* global file id, GD_NOFILE */
    uint32_t line;
    uint32_t disc;
    uint16_t col;
    uint8_t flags;              /* LROW_* */
};

struct lseq {                   /* one sequence of rows, ended by LROW_END */
    uint64_t lo, hi;
    size_t first, n;            /* rows[first .. first+n), the end row last */
    size_t order;               /* position in .debug_line order */
};

struct fnode {                  /* a subprogram or inlined subroutine */
    const char *name;
    const char *linkage;
    uint64_t origin;            /* DW_AT_abstract_origin / specification, 0 none */
    uint64_t entry;             /* low end of its first range (after merging) */
    uint32_t parent;            /* inlined: enclosing function, else GD_NO_FUNC */
    uint32_t call_file;
    uint32_t call_line;
    uint32_t call_col;
    bool inlined;
};

struct frange {
    uint64_t lo, hi;
    uint32_t node;
};

struct name_entry {             /* a subprogram DIE's names, by offset */
    uint64_t off;               /* 0: empty slot */
    const char *name;
    const char *linkage;
    uint64_t origin;
};

/* A variable of static storage (variables.c). */
struct dvar {
    uint64_t addr;
    const char *name;
    uint32_t file;              /* its declaration's */
    uint32_t line;
    uint32_t order;             /* DIE order, while sorted */
};

struct index_build {
    struct dvarvec { struct dvar *v; size_t n, cap; } vars;
    VEC(struct lrow) rows;
    VEC(struct lseq) seqs;
    VEC(struct fnode) nodes;
    VEC(struct frange) ranges;
    VEC(struct unit) units;
    VEC(struct unit) sup_units; /* of the supplementary file, by offset */
    struct name_entry *names;   /* open addressing; keys carry DIE_SUP */
    size_t nnames, namecap;
    struct strtab *files;
    size_t good_units, bad_units;
};

struct lfile {
    const char *name;
    uint64_t dir;
};

/* The file table of one line program. */
struct linetab {
    uint8_t version;
    const char *comp_dir;
    VEC(const char *) dirs;
    VEC(struct lfile) files;
    VEC(uint32_t) ids;          /* file index -> global id, filled on first use */
};

void linetab_free(struct linetab *lt);
/* The global file id of file index idx (DWARF 5: from 0, earlier: from 1),
 * built as binutils builds the name; GD_NOFILE when invalid. */
uint32_t linetab_file(struct linetab *lt, struct strtab *files, uint64_t idx);
/* Decodes the line program of unit u into b's rows and sequences, and its
 * file table into lt. */
int lines_decode(struct index_build *b, const struct dw *dw, const struct unit *u,
                 struct linetab *lt, const char **why);

/* What variable_die needs of the walk of a unit. */
struct var_walk {
    const struct dw *dw;
    const struct unit *u;
    const struct abbrev_table *t;
    struct linetab *lt;
    struct strtab *files;
    struct dvarvec *vars;
};
/* Reads a DW_TAG_variable DIE's attributes (r past them); keeps it in
 * w->vars when it is one binutils can name a data address after. */
int variable_die(const struct var_walk *w, struct rd *r, const struct abbrev *ab,
                 const char **why);
/* Sorts variables by address, DIE order among equal ones. */
void variables_sort(struct dvar *v, size_t n);
/* The first variable at addr whose name symbol contains; NULL if none. */
const struct dvar *variables_find(const struct dvar *v, size_t n, uint64_t addr,
                                  const char *symbol);

/* Walks the DIEs of every unit: line tables, subprograms and inlined
 * subroutines with their ranges, variables of static storage; corrupt
 * units are warned about and skipped. */
int inline_tree_build(struct index_build *b, const struct dw *dw,
                      const struct gd_warner *w, struct gd_error *err);

/* ---- The finished DWARF index (index.c) ------------------------------ */

/* One interval of the address space, up to the next one's addr: the line
 * row and the innermost function in force there.  32 bytes, so that a
 * lookup reads both from one cache line. */
struct ival {
    uint64_t addr;
    uint32_t node;              /* innermost function, GD_NO_FUNC */
    uint32_t file;              /* GD_NOFILE */
    uint32_t line;
    uint32_t disc;
    uint16_t col;
    uint8_t flags;              /* LROW_STMT; LROW_END: no line row here */
    uint8_t pad[5];
};

/* What a lookup reads of a function node, in one 32-byte record per node
 * (the cold rest stays in struct fnode): the name addr2line prints,
 * interned with the other names so that the names of a lookup share a few
 * cache lines, and the call site and caller of an inlined call. */
struct fhot {
    const char *name;           /* linkage name, else name; NULL */
    uint32_t name_len;
    uint32_t parent;            /* the caller of an inlined call (always a lower
                                   id, so a chain ends), else GD_NO_FUNC */
    uint32_t call_file;
    uint32_t call_line;
    uint32_t call_col;
    bool inlined;               /* gd_frame.inlined */
};

/* Buckets over [base, base + (nb - 1) << shift): first[b] is the first
 * element >= the bucket's start, so a search looks at one bucket only. */
struct accel {
    uint64_t base;
    unsigned shift;
    uint32_t *first;
    size_t nb;
};

struct dwarf_index {
    struct ival *iv;            /* sorted by addr */
    size_t niv;
    size_t nrows;               /* line rows that went into it */
    struct fnode *nodes;
    struct fhot *hot;           /* one per node */
    size_t nnodes;
    struct strtab files;
    struct strtab names;        /* of the hot records */
    struct dvar *vars;          /* by address */
    size_t nvars;
    size_t units, bad_units;
    struct accel acc;
};

int index_build(struct dwarf_index *ix, const struct dw *dw, const struct gd_warner *w,
                struct gd_error *err);
/* Adds bucket accelerators for lookups in [lo, hi) (the code's span). */
void index_accelerate(struct dwarf_index *ix, uint64_t lo, uint64_t hi);
void index_free(struct dwarf_index *ix);

/* index_find in two steps, for a caller that overlaps the memory accesses
 * of several lookups: the bucket of pc (NULL: the whole array is searched),
 * whose two entries bound the search, then the search itself. */
static inline const uint32_t *index_bucket(const struct dwarf_index *ix, uint64_t pc)
{
    const struct accel *a = &ix->acc;
    if (a->nb && pc >= a->base && ((pc - a->base) >> a->shift) + 1 < a->nb)
        return &a->first[(pc - a->base) >> a->shift];
    return NULL;
}

/* The interval holding pc, or NULL. */
static inline const struct ival *index_search(const struct dwarf_index *ix,
                                              const uint32_t *bucket, uint64_t pc)
{
    size_t lo = bucket ? bucket[0] : 0, hi = bucket ? bucket[1] : ix->niv;
    if (!ix->iv)
        return NULL;    /* no intervals at all */
    /* the first interval after pc, in [lo, hi]: a search without branches
     * on the addresses, which are unpredictable (the halving keeps the
     * answer in [base, base + len]) */
    const struct ival *base = ix->iv + lo;
    size_t len = hi - lo;
    if (len) {
        while (len > 1) {
            size_t half = len / 2;
            base += half & -(size_t)(base[half - 1].addr <= pc);
            len -= half;
        }
        base += base->addr <= pc;
    }
    return base > ix->iv ? base - 1 : NULL;
}

static inline const struct ival *index_find(const struct dwarf_index *ix, uint64_t pc)
{
    return index_search(ix, index_bucket(ix, pc), pc);
}

/* ---- Call-frame information (frames.c) ------------------------------- */

struct fde_ref {
    uint64_t lo, hi;
    size_t off;                 /* FDE offset in its section */
};

struct frames {
    struct cfi_section eh, debug;
    struct fde_ref *eh_fdes, *debug_fdes;
    size_t neh, ndebug;
};

int frames_load(struct frames *fr, struct gd_binary *b, const struct gd_warner *w,
                struct gd_error *err);
void frames_free(struct frames *fr);

/* ---- Types (types.c) ------------------------------------------------- */

struct type_cache;
void types_free(struct type_cache *tc);

/* ---- The pc-line table in place of the index (pctab_lookup.c) --------- */

/* Opens f's pc-line table into *t; false when it has none or it is damaged. */
bool pctab_load(struct elf_file *f, struct pctab *t);
/* gd_lookup from the table. */
int pctab_frames(const gd_binary *b, uint64_t pc, enum gd_symbol_rule rule,
                 struct gd_frame *frames, int max);

/* ---- One opened binary (binary.c) ------------------------------------ */

struct gd_binary {
    struct elf_file main;
    struct elf_file dbg;        /* the separate debug file, when found */
    bool has_dbg;
    struct elf_file *dwarf_src; /* the file the DWARF sections come from */
    struct debug_dirs debug_dirs; /* where its debug files are searched */
    struct elf_file sup;        /* its supplementary file (dwz -m), when found */
    bool has_sup;
    struct symtab syms;
    struct dw dw;
    struct dw sup_dw;           /* dw.sup points here when has_sup */
    struct dwarf_index ix;
    struct pctab pctab;         /* when info.has_pctab (pctab_lookup.c) */
    struct frames frames;
    struct gd_info info;
    struct type_cache *types;
    struct gd_warner warner;
};

#endif
