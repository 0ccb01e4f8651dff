/*
 * gidwarf.h — libgidwarf: what one ELF binary knows about itself.
 *
 * Opens an ELF executable or shared object (and its separate debug file,
 * found as gdb finds it), reads its sections, symbols, segments and
 * build-id, and builds once an index of its DWARF (line tables, inline
 * trees) so that a pc lookup is two binary searches and allocates nothing.
 * Call-frame information (.eh_frame, .debug_frame) is indexed for the
 * unwinder step.  Struct and enum layouts are read from DWARF on demand.
 *
 * Addresses are link-time addresses of the binary (what its symbols and
 * DWARF say).  For a PIE or a shared object placed at a load address,
 * subtract the load bias (gd_load_bias) before a lookup and add it to what
 * comes back.
 *
 * A gd_binary is immutable after gd_open: lookups from several threads are
 * safe.  Errors: functions that can fail return a negative GD_E* code and,
 * when given one, fill a struct gd_error with a message.
 */
#ifndef GOINSPECT_GIDWARF_H
#define GOINSPECT_GIDWARF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ---------------------------------------------------------- */

enum gd_status {
    GD_OK = 0,
    GD_ENOENT = -1,     /* file not found / cannot be opened */
    GD_ENOTELF = -2,    /* not an ELF file */
    GD_EBADELF = -3,    /* truncated or corrupt ELF */
    GD_EUNSUP = -4,     /* an ELF this library does not handle (not x86-64 64-bit LE) */
    GD_ENOMEM = -5,
    GD_ENOTFOUND = -6,  /* the thing looked up does not exist */
    GD_EDWARF = -7,     /* corrupt DWARF */
    GD_ENOTREG = -8     /* not an ordinary file: a directory, a FIFO, a device... */
};

struct gd_error {
    int code;
    char msg[512];
};

/* ---- Opening --------------------------------------------------------- */

typedef struct gd_binary gd_binary;

/* Called for each non-fatal problem (a corrupt compile unit, an unreadable
 * section, a debug file that does not match...): the rest of the binary
 * still works. */
typedef void (*gd_warn_fn)(void *ctx, const char *msg);

/* A download of a separate debug file from a debuginfod server, as it goes:
 * reported now and then while it runs (libdebuginfod's progress calls,
 * about once a second while it waits), then once more with done set when
 * it is over, found or not; on the thread that called gd_open. */
struct gd_download {
    const char *path;           /* the binary it is for (as opened) */
    const uint8_t *build_id;    /* asked for by this build-id */
    size_t build_id_len;
    const char *url;            /* the URL being read, NULL until known */
    uint64_t received;          /* bytes so far, and */
    uint64_t total;             /*   in all: both 0 until a server answers */
    double seconds;             /* since the lookup began */
    bool done;
};
typedef void (*gd_progress_fn)(void *ctx, const struct gd_download *d);

struct gd_open_options {
    /* Where separate debug files live (gdb's debug-file-directory), in the
     * order they are searched: a NULL-terminated list.  NULL means the
     * default, "/usr/lib/debug"; an empty list (its first entry NULL)
     * means none.  The strings are copied. */
    const char *const *debug_dirs;
    gd_warn_fn warn;        /* NULL: warnings are dropped */
    void *warn_ctx;
    unsigned flags;         /* GD_OPEN_* */
    gd_progress_fn progress; /* NULL: downloads are not reported */
    void *progress_ctx;
};
#define GD_OPEN_NO_DEBUGLINK 0x1u   /* do not look for a separate debug file (nor a
                                       supplementary one) */
#define GD_OPEN_NO_INDEX     0x2u   /* skip the DWARF index (symbols, CFI only) */
#define GD_OPEN_NO_DEBUGINFOD 0x4u  /* never ask debuginfod, even with
                                       DEBUGINFOD_URLS set */
#define GD_OPEN_PCTAB        0x8u   /* when the file carries a valid pc-line
                                       table (section .gort_pctab, docs/pctab.md),
                                       build no DWARF index: gd_lookup answers
                                       from the table (no columns,
                                       discriminators nor function ids), the
                                       other lookups as without DWARF */

/* The separate debug file of a binary without DWARF of its own is searched
 * as gdb and elfutils search it: DIR/.build-id/xx/rest.debug for each debug
 * directory DIR (by GNU build-id; the file must carry the same build-id),
 * then the .gnu_debuglink name in the binary's directory, in its .debug/
 * subdirectory and under each DIR + the binary's directory (the file must
 * have the recorded CRC-32), then, when $DEBUGINFOD_URLS is set, the
 * debuginfod servers by build-id (elfutils' libdebuginfod, loaded at run
 * time; without it, one warning and no download). */

/* Opens path and builds its index.  opts may be NULL. */
int gd_open(const char *path, const struct gd_open_options *opts,
            gd_binary **out, struct gd_error *err);
/* The same for an ELF image held in memory (size bytes at image, copied:
 * the caller may free them), such as the vdso read from a process.  name
 * stands for a path in messages and gd_info; the separate debug file is
 * looked for by build-id only (and debuginfod), never by .gnu_debuglink,
 * whose search needs the file's directory. */
int gd_open_image(const char *name, const void *image, size_t size,
                  const struct gd_open_options *opts, gd_binary **out, struct gd_error *err);
void gd_close(gd_binary *b);

/* ---- ELF facts ------------------------------------------------------- */

struct gd_section {
    const char *name;
    uint64_t addr;
    uint64_t size;
    uint64_t offset;
    uint32_t type;          /* SHT_* */
    uint64_t flags;         /* SHF_* */
    uint32_t index;         /* section header index */
};

struct gd_segment {         /* a PT_LOAD program header */
    uint64_t vaddr;
    uint64_t memsz;
    uint64_t offset;
    uint64_t filesz;
    uint64_t align;
    uint32_t flags;         /* PF_R | PF_W | PF_X */
};

struct gd_info {
    const char *path;           /* as opened */
    const char *debug_path;     /* separate debug file used, or NULL */
    const char *sup_path;       /* supplementary debug file used (the one
                                   .gnu_debugaltlink or .debug_sup names:
                                   DWARF that dwz -m shared out), or NULL */
    uint16_t type;              /* ET_EXEC, ET_DYN */
    bool pie;                   /* ET_DYN with a PT_INTERP or DF_1_PIE */
    uint64_t entry;
    uint64_t min_vaddr;         /* lowest PT_LOAD p_vaddr, page-aligned down */
    const uint8_t *build_id;    /* NT_GNU_BUILD_ID bytes, or NULL */
    size_t build_id_len;
    bool has_dwarf;             /* .debug_info and .debug_line found */
    size_t compile_units;       /* compile units indexed */
    size_t bad_units;           /* compile units skipped as corrupt */
    size_t line_rows;           /* rows in the line index */
    size_t functions;           /* subprograms and inlined subroutines */
    double index_seconds;       /* time spent building the DWARF index */
    bool has_pctab;             /* gd_lookup answers from the pc-line table
                                   (GD_OPEN_PCTAB) */
};

const struct gd_info *gd_info(const gd_binary *b);
size_t gd_sections(const gd_binary *b, const struct gd_section **out);
const struct gd_section *gd_section_by_name(const gd_binary *b, const char *name);
/* The first SHF_ALLOC section (in header order) containing addr, as
 * binutils searches; NULL if none. */
const struct gd_section *gd_section_containing(const gd_binary *b, uint64_t addr);
size_t gd_segments(const gd_binary *b, const struct gd_segment **out);

/* Load bias of a mapping of this binary: map_start is where the mapping of
 * file offset map_offset begins (a line of /proc/PID/maps or an NT_FILE
 * entry).  GD_ENOTFOUND if no PT_LOAD segment maps that offset. */
int gd_load_bias(const gd_binary *b, uint64_t map_start, uint64_t map_offset,
                 uint64_t *bias);

/* ---- Symbols --------------------------------------------------------- */

struct gd_symbol {
    const char *name;
    uint64_t value;
    uint64_t size;
    const char *file;       /* the STT_FILE name binutils associates with
                               it (locals after a FILE symbol), or NULL */
    uint32_t shndx;         /* section index */
    uint8_t type;           /* STT_* */
    uint8_t bind;           /* STB_* */
    uint8_t visibility;     /* STV_* */
    bool dynamic;           /* from .dynsym */
    bool synthetic;         /* in no table: a PLT entry named after the
                               function it jumps to (SYM@plt), or a name
                               without its version (gdb's rule) */
};

/* The symbols of .symtab, or of .dynsym when there is no .symtab (the
 * separate debug file's .symtab is used when the binary is stripped). */
size_t gd_symbols(const gd_binary *b, const struct gd_symbol **out);
/* A function or object symbol whose [value, value+size) holds addr (the
 * smallest; functions first); NULL if none. */
const struct gd_symbol *gd_symbol_containing(const gd_binary *b, uint64_t addr);

/* Whose rule names an address from the symbol tables.  Both name an
 * address only within a symbol's extent (its st_size; a zero-size symbol
 * reaches up to the next one): an address past the end of the nearest
 * function (alignment padding, a stripped library's static functions) is
 * named by none.  They differ in which symbols there are and which of
 * several at one address is taken (docs/libgidwarf.md). */
enum gd_symbol_rule {
    /* binutils 2.40 addr2line: .symtab (else .dynsym) only; code symbols
     * of the address's section at or after the section's start; of those
     * at one address, the largest, the first in the table among equals;
     * when no symbol of the first section holding the address names it,
     * the next section holding it is asked. */
    GD_SYMBOLS_ADDR2LINE,
    /* gdb 13's minimal symbols: .symtab (.dynsym when there is none), the
     * separate debug file's .symtab, names without their @VERSION and the
     * PLT entries (SYM@plt, *ABS*+0xADDR@plt); at one address the last by
     * name, a global function before others of the same size; a sized
     * symbol holding the address before a zero-size one. */
    GD_SYMBOLS_GDB,
};

/* The symbol that names addr under rule; NULL when none does. */
const struct gd_symbol *gd_symbol_at(const gd_binary *b, uint64_t addr,
                                     enum gd_symbol_rule rule);
/* The same for an address of section sec only (addr2line -j). */
const struct gd_symbol *gd_symbol_in_section(const gd_binary *b, const struct gd_section *sec,
                                             uint64_t addr, enum gd_symbol_rule rule);
/* By name, in .symtab then .dynsym; NULL if absent. */
const struct gd_symbol *gd_symbol_by_name(const gd_binary *b, const char *name);

/* ---- PC lookup ------------------------------------------------------- */

#define GD_NO_FUNC UINT32_MAX

/* One frame of a pc, innermost first.  All strings live as long as the
 * gd_binary. */
struct gd_frame {
    const char *function;   /* DW_AT_name (through abstract origins), or the
                               ELF symbol that names pc (gd_symbol_at, by
                               the lookup's rule) when DWARF knows no
                               function here; NULL when nothing names it */
    const char *linkage_name; /* DW_AT_linkage_name, or NULL */
    const char *file;       /* source path (comp_dir/dir/name), NULL if unknown */
    uint32_t line;          /* 0 if unknown */
    uint32_t column;        /* 0 if unknown */
    uint32_t discriminator; /* of the line row (innermost frame only) */
    bool inlined;           /* an inlined call: its caller is the next frame */
    bool from_symbol;       /* function came from the ELF symbol table */
    bool has_line;          /* innermost frame: a line-table row covers pc */
    uint32_t func;          /* function id (gd_function), GD_NO_FUNC if none */
};

/* Fills frames[0..max) for pc and returns how many there are in all (may be
 * more than max; those past max are not written); 0 when nothing at all is
 * known about pc.  The innermost frame has the line table's file, line,
 * column and discriminator at pc; each outer frame of an inline chain is
 * reported at the call site (DW_AT_call_file/line/column of the frame inside
 * it), as `addr2line -i` does.  Where DWARF knows no function, the frame
 * is named by gd_symbol_at(b, pc, rule).  Never allocates. */
int gd_lookup(const gd_binary *b, uint64_t pc, enum gd_symbol_rule rule,
              struct gd_frame *frames, int max);

/* The line-table row covering pc (no function information). */
struct gd_line {
    const char *file;
    uint32_t line;
    uint32_t column;
    uint32_t discriminator;
    bool is_stmt;
    uint64_t addr;          /* start of the row */
};
int gd_lookup_line(const gd_binary *b, uint64_t pc, struct gd_line *out);
/* What addr2line answers for an address of a section that is not code
 * (sec, one that holds addr) where a symbol starts: the declaration
 * (DW_AT_decl_file and _line, in file and line) of the variable of static
 * storage at addr (a lone DW_OP_addr location) whose name that symbol's
 * contains, binutils' match (`buf.0` is a static `buf`); the symbol is the
 * section's first global one at addr, else its last.  GD_ENOTFOUND
 * otherwise. */
int gd_lookup_data(const gd_binary *b, const struct gd_section *sec, uint64_t addr,
                   struct gd_line *out);

/* A function node of the inline tree (a DW_TAG_subprogram or
 * DW_TAG_inlined_subroutine with code). */
struct gd_function {
    const char *name;
    const char *linkage_name;
    uint64_t entry;         /* low end of its first address range */
    uint32_t parent;        /* the function it is inlined into, GD_NO_FUNC */
    bool inlined;
    uint32_t call_line;     /* inlined: the call site */
    uint32_t call_column;
    const char *call_file;
};
size_t gd_function_count(const gd_binary *b);
int gd_function(const gd_binary *b, uint32_t id, struct gd_function *out);

/* ---- Many pcs at once ------------------------------------------------- */

#define GD_NO_FILE UINT32_MAX

/* A frame as gd_lookup_each reports it: gd_frame's facts in the form a
 * symbolizer prints them, with string lengths and, for source files, ids
 * (equal ids, equal paths) so that a caller can keep text per file. */
struct gd_sym_frame {
    const char *name;       /* the linkage name if any, else DW_AT_name (what
                               addr2line prints); the ELF symbol when
                               from_symbol; NULL when nothing is known */
    size_t name_len;
    const char *file;       /* NULL if unknown */
    size_t file_len;
    uint32_t file_id;       /* below gd_file_count(), or GD_NO_FILE (file
                               unknown, or not from DWARF) */
    uint32_t line, column, discriminator;
    uint32_t func;          /* function id, GD_NO_FUNC if none */
    bool inlined, from_symbol, has_line;
};

/* Called by gd_lookup_each with the frames of pcs[i]: n in all, as
 * gd_lookup counts them, of which the first max are filled. */
typedef void (*gd_frames_fn)(void *ctx, size_t i, const struct gd_sym_frame *frames, int n);

/* gd_lookup for each of pcs[0..n), in order: fn gets the frames of each in
 * frames[0..max) (the array is reused for the next pc).  The pcs are looked
 * up in groups whose memory reads overlap, so on a binary whose index does
 * not fit in the caches this is several times faster than a loop of
 * gd_lookup calls.  Never allocates. */
void gd_lookup_each(const gd_binary *b, const uint64_t *pcs, size_t n,
                    enum gd_symbol_rule rule, struct gd_sym_frame *frames, int max,
                    gd_frames_fn fn, void *ctx);
/* The number of distinct source paths of the index (file ids). */
size_t gd_file_count(const gd_binary *b);

/* ---- The pc-line table ------------------------------------------------ */

/* The pc-line table of b (dwarf/pctab.h, docs/pctab.md): what gd_lookup
 * answers under GD_SYMBOLS_ADDR2LINE at every pc that has a line row, in a
 * form a program can carry and read without libdwarf.  *out is malloc'ed
 * (free it), *len its size.  GD_ENOTFOUND when no line row covers any code,
 * GD_EUNSUP when the code spans more than 4 GiB. */
int gd_pctab_build(const gd_binary *b, void **out, size_t *len, struct gd_error *err);

/* ---- Call-frame information and unwinding ----------------------------- */

/* The FDE covering pc, from .eh_frame (through the sorted index libgidwarf
 * builds over it) or else .debug_frame. */
int gd_find_fde(const gd_binary *b, uint64_t pc, struct cfi_fde *out);

/* One unwinding step in the binary's link-time address space: the caller's
 * registers from the callee's, with CFI, or frame pointers when no FDE
 * covers the pc.  *used_fp tells which (may be NULL).  Returns CFI_OK,
 * CFI_END at the outermost frame, or a CFI_ERR_* code.  For a binary loaded
 * at a bias, use gd_unwind_step_biased. */
int gd_unwind_step(const gd_binary *b, const struct cfi_regs *in,
                   cfi_read_fn read, void *ctx, struct cfi_regs *out,
                   bool *used_fp);
/* The same for a binary whose link-time addresses are shifted by bias in
 * the target (pc and the result are target addresses). */
int gd_unwind_step_biased(const gd_binary *b, uint64_t bias,
                          const struct cfi_regs *in, cfi_read_fn read,
                          void *ctx, struct cfi_regs *out, bool *used_fp);

/* ---- Types ----------------------------------------------------------- */

struct gd_member {
    const char *name;
    uint64_t offset;        /* byte offset in the structure */
    uint64_t size;          /* byte size */
    uint32_t bit_size;      /* bit-field width, 0 if not a bit-field */
    uint32_t bit_offset;    /* DW_AT_data_bit_offset, for bit-fields */
};

struct gd_struct {
    const char *name;
    uint64_t size;
    size_t nmembers;
    const struct gd_member *members;
};

struct gd_enumerator {
    const char *name;
    int64_t value;
};

struct gd_enum {
    const char *name;
    uint64_t size;
    size_t nvalues;
    const struct gd_enumerator *values;
};

/* The first complete struct (or union) / enum type of that name (a typedef
 * of one is followed); read with libdwarf on first use and cached in b.
 * Not thread-safe against other type queries of the same b. */
int gd_struct_by_name(gd_binary *b, const char *name, const struct gd_struct **out,
                      struct gd_error *err);
int gd_enum_by_name(gd_binary *b, const char *name, const struct gd_enum **out,
                    struct gd_error *err);

/* A static description of a gd_status. */
const char *gd_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
