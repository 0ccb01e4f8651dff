/*
 * symbolize.c — `goinspect symbolize`: binutils addr2line's interface and
 * output on libgidwarf's index.
 *
 *   goinspect symbolize -e EXE [-a] [-f] [-i] [-p] [-s] [-C] [-j SECTION] [ADDR...]
 *
 * The same flags and byte-for-byte the same text as addr2line (see
 * docs/symbolize.md for the few documented differences); with no ADDR,
 * addresses are read from stdin and each answer is flushed before the next
 * read can block, so it works as a co-process.  --json prints one object
 * per address.
 *
 * Addresses are answered in batches — the ones a read of stdin completed,
 * or the arguments — through gd_lookup_each, which overlaps the memory
 * reads of neighbouring lookups; the text is built in the output buffer
 * with known string lengths and no printf, and written by a thread of its
 * own (out_start_writer) while the next batch is answered.
 */
#include <elf.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_input.h"
#include "command.h"
#include "demangle.h"
#include "gidwarf.h"
#include "output.h"
#include "stdstreams.h"

#define MAX_FRAMES 256
#define LINE_MAX_BYTES 100      /* addr2line reads stdin with fgets(buf, 100) */
#define BATCH 4096              /* addresses looked up together */
#define IN_CAP (1 << 16)        /* bytes of stdin read at once */
#define LINE_TAIL 64            /* bytes after a frame's name and file: separators,
                                   line, discriminator */

struct opts {
    const char *exe;
    const char *section;
    struct dirlist debug_dirs;
    bool addresses, functions, inlines, pretty, basenames, demangle, json, stats;
};

struct ctx {
    struct opts o;
    gd_binary *b;
    const struct gd_section *section;   /* -j */
    const struct gd_section *last_sec;  /* the section of the previous address */
    struct out out;
    struct addr_reader reader;          /* how an address is read */
    /* a batch: the addresses as read, what is looked up, and whether the
     * address is in a section at all */
    uint64_t addrs[BATCH];
    uint64_t pcs[BATCH];
    bool in_section[BATCH];
    struct gd_sym_frame frames[MAX_FRAMES];
    uint32_t *base_off;                 /* -s: file id -> offset of the basename + 1 */
    bool afi;                           /* -a -f -i as text, no -p, -C, -s */
};

static void usage(void)
{
    stdio_printf(stdout,
           "usage: goinspect [--json] symbolize [-e EXE] [-a] [-f] [-i] [-p] [-s] [-C]\n"
           "                 [-j SECTION] [--debug-file-directory DIR]... [--json] [ADDR...]\n\n"
           "Translates addresses of EXE (default a.out) into function names and source\n"
           "lines, as binutils' addr2line does and with the same output.  Without\n"
           "ADDR, reads addresses from standard input, one per line.  An address is\n"
           "hexadecimal or SYMBOL[+OFFSET], read as addr2line reads it.\n\n"
           "  -e, --exe=EXE         the executable or shared object\n"
           "  -a, --addresses       print each address before its frames\n"
           "  -f, --functions       print function names\n"
           "  -i, --inlines         print the chain of inlined calls\n"
           "  -p, --pretty-print    one line per address\n"
           "  -s, --basenames       strip directories from file names\n"
           "  -C, --demangle        demangle C++ names\n"
           "  -j, --section=NAME    addresses are offsets into section NAME\n"
           "      --debug-file-directory=DIR\n"
           "                        where separate debug files live, instead of\n"
           "                        /usr/lib/debug (repeat for several; '' for none;\n"
           "                        also --debug-dir=DIR)\n"
           "      --json            one JSON object per address\n"
           "      --stats           print the index's size and build time, and the debug\n"
           "                        files used, on stderr\n");
}

/* ---- Names ------------------------------------------------------------ */

static const char *demangled(struct ctx *c, const char *name, char **to_free)
{
    *to_free = NULL;
    if (!c->o.demangle || !name || strncmp(name, "_Z", 2) != 0)
        return name;
    char *d = demangle_cxx(name);
    if (!d)
        return name;
    *to_free = d;
    return d;
}

/* The name printed for a frame, demangled with -C: NULL for none. */
static inline const char *frame_name(struct ctx *c, const struct gd_sym_frame *f, size_t *len,
                                     char **to_free)
{
    *to_free = NULL;
    *len = 0;
    if (!f->name || !*f->name)
        return NULL;
    *len = f->name_len;
    if (!c->o.demangle)
        return f->name;
    const char *d = demangled(c, f->name, to_free);
    if (*to_free)
        *len = strlen(d);
    return d;
}

/* The file printed for a frame (its basename with -s), NULL when unknown. */
static inline const char *frame_file(struct ctx *c, const struct gd_sym_frame *f, size_t *len)
{
    const char *file = f->file;
    *len = f->file_len;
    if (!c->o.basenames || !file)
        return file;
    size_t off;
    if (c->base_off && f->file_id != GD_NO_FILE && c->base_off[f->file_id]) {
        off = c->base_off[f->file_id] - 1;
    } else {
        const char *slash = strrchr(file, '/');
        off = slash ? (size_t)(slash + 1 - file) : 0;
        if (c->base_off && f->file_id != GD_NO_FILE)
            c->base_off[f->file_id] = (uint32_t)off + 1;
    }
    *len -= off;
    return file + off;
}

/* ---- Where an answer comes from ---------------------------------------- */

/* The pc to look up for an address as read, and whether it is in a
 * section at all (addr2line answers "??" otherwise). */
static uint64_t locate(struct ctx *c, uint64_t addr, bool *found)
{
    const struct gd_section *sec;
    *found = true;
    if (c->section) {
        *found = addr < c->section->size;
        return addr + c->section->addr;
    }
    if (c->last_sec && addr >= c->last_sec->addr && addr - c->last_sec->addr < c->last_sec->size)
        return addr;
    if (!(sec = gd_section_containing(c->b, addr)))
        *found = false;
    else if (sec->flags & SHF_EXECINSTR)
        c->last_sec = sec;      /* code sections do not overlap */
    return addr;
}

/* A frame named after symbol s (NULL: none), at the line of row (NULL:
 * none). */
static int symbol_frame(const struct gd_symbol *s, const struct gd_sym_frame *row,
                        const struct gd_line *decl, struct gd_sym_frame *out)
{
    memset(out, 0, sizeof *out);
    out->func = GD_NO_FUNC;
    out->file_id = GD_NO_FILE;
    if (s) {
        out->name = s->name;
        out->name_len = strlen(s->name);
    }
    if (decl) {
        out->file = decl->file;
        out->file_len = decl->file ? strlen(decl->file) : 0;
        out->line = decl->line;
    } else if (row) {
        out->file = row->file;
        out->file_len = row->file_len;
        out->file_id = row->file_id;
        out->line = row->line;
        out->column = row->column;
        out->discriminator = row->discriminator;
    } else if (s && s->file) {
        out->file = s->file;
        out->file_len = strlen(s->file);
    }
    return 1;
}

/* Without a DWARF function at pc, addr2line asks each allocated section
 * holding it in turn (only the -j one with -j), and the first that answers
 * gives the answer: at an address of a data section where a symbol starts,
 * the declaration of the variable there (gd_lookup_data); with a line row
 * at pc, that line; else the symbol addr2line takes in the section
 * (gd_symbol_in_section), when one's extent holds pc (not after a function
 * pc lies past, such as padding, where binutils' addr2line would still
 * name the function).  Without a line row, the symbol's STT_FILE gives the
 * file.  row is the line-table frame, or NULL. */
static int by_symbol(struct ctx *c, uint64_t pc, const struct gd_sym_frame *row,
                     struct gd_sym_frame *out)
{
    const struct gd_section *secs;
    size_t n = gd_sections(c->b, &secs);
    if (row && !row->has_line)
        row = NULL;
    for (size_t i = 1; i < n || c->section; i++) {
        const struct gd_section *sec = c->section ? c->section : &secs[i];
        struct gd_line decl;
        if (!(sec->flags & SHF_ALLOC) || pc < sec->addr || pc - sec->addr >= sec->size) {
            if (c->section)
                break;
            continue;
        }
        const struct gd_symbol *s = gd_symbol_in_section(c->b, sec, pc, GD_SYMBOLS_ADDR2LINE);
        if (gd_lookup_data(c->b, sec, pc, &decl) == GD_OK)
            return symbol_frame(s, NULL, &decl, out);
        if (row || s)
            return symbol_frame(s, row, NULL, out);
        if (c->section)
            break;
    }
    return 0;
}

/* ---- Printing ----------------------------------------------------------- */

/* ":LINE (discriminator D)\n", or ":?\n" without a line; at most 40 bytes. */
static inline char *put_line(char *p, uint32_t line, uint32_t disc)
{
    *p++ = ':';
    if (line) {
        p = put_u64(p, line);
        if (disc) {
            p = put_mem(p, " (discriminator ", 16);
            p = put_u64(p, disc);
            *p++ = ')';
        }
    } else {
        *p++ = '?';
    }
    *p++ = '\n';
    return p;
}

/* The text of an answer with -C or -s: the names and files may be made
 * here, a reservation for each frame. */
static void print_text(struct ctx *c, const struct gd_sym_frame *f, int n)
{
    struct out *o = &c->out;
    const bool functions = c->o.functions, pretty = c->o.pretty;
    if (n == 0) {
        if (functions)
            out_str(o, pretty ? "?? " : "??\n");
        out_str(o, "??:0\n");
        return;
    }
    if (!c->o.inlines)
        n = 1;
    /* addr2line prints the innermost row's discriminator on every line of
     * the chain */
    const uint32_t disc = f[0].discriminator;
    for (int i = 0; i < n; i++) {
        const struct gd_sym_frame *fr = &f[i];
        size_t name_len, file_len;
        char *tofree;
        const char *name = frame_name(c, fr, &name_len, &tofree);
        const char *file = frame_file(c, fr, &file_len);
        if (!name_len) {
            name = "??";
            name_len = 2;
        }
        if (!file) {
            file = "??";
            file_len = 2;
        }
        char *p = out_reserve(o, name_len + file_len + LINE_TAIL);
        if (p && functions) {
            p = put_mem(p, name, name_len);
            p = pretty ? put_mem(p, " at ", 4) : put_mem(p, "\n", 1);
        }
        free(tofree);
        if (!p)
            return;
        p = put_line(put_mem(p, file, file_len), fr->line, disc);
        if (pretty && i + 1 < n)
            p = put_mem(p, " (inlined by) ", 14);
        out_commit(o, p);
    }
}

/* The whole text of an answer without -C and -s (the names and files as
 * the index has them), in one reservation.  Inlined into answer twice:
 * with the flags of -a -f -i as constants, and with the options' flags. */
static inline __attribute__((always_inline)) void
print_plain(struct out *o, uint64_t addr, const struct gd_sym_frame *f, int n, bool addresses,
            bool functions, bool inlines, bool pretty)
{
    if (!inlines && n > 1)
        n = 1;
    size_t need = 32;           /* the address, and the answer without frames */
    for (int i = 0; i < n; i++)
        need += f[i].name_len + f[i].file_len + LINE_TAIL;
    char *p = out_reserve(o, need);
    if (!p)
        return;
    if (addresses)
        p = pretty ? put_mem(put_addr16(p, addr), ": ", 2) : put_mem(put_addr16(p, addr), "\n", 1);
    if (n == 0) {
        if (functions)
            p = put_mem(p, pretty ? "?? " : "??\n", 3);
        out_commit(o, put_mem(p, "??:0\n", 5));
        return;
    }
    const uint32_t disc = f[0].discriminator;
    for (int i = 0; i < n; i++) {
        const struct gd_sym_frame *fr = &f[i];
        if (functions) {
            p = fr->name_len ? put_mem(p, fr->name, fr->name_len) : put_mem(p, "??", 2);
            p = pretty ? put_mem(p, " at ", 4) : put_mem(p, "\n", 1);
        }
        p = fr->file ? put_mem(p, fr->file, fr->file_len) : put_mem(p, "??", 2);
        p = put_line(p, fr->line, disc);
        if (pretty && i + 1 < n)
            p = put_mem(p, " (inlined by) ", 14);
    }
    out_commit(o, p);
}

static void print_json(struct ctx *c, uint64_t addr, const struct gd_sym_frame *f, int n)
{
    struct out *o = &c->out;
    out_str(o, "{\"address\":\"");
    out_addr16(o, addr);
    out_str(o, "\",\"frames\":[");
    for (int i = 0; i < n; i++) {
        char *tofree;
        size_t len;
        out_str(o, i ? ",{\"function\":" : "{\"function\":");
        out_json_str(o, frame_name(c, &f[i], &len, &tofree));
        free(tofree);
        out_str(o, ",\"file\":");
        out_json_str(o, f[i].file);
        out_str(o, ",\"line\":");
        out_u64(o, f[i].line);
        out_str(o, ",\"column\":");
        out_u64(o, f[i].column);
        out_str(o, ",\"discriminator\":");
        out_u64(o, f[i].discriminator);
        out_str(o, f[i].inlined ? ",\"inlined\":true}" : ",\"inlined\":false}");
    }
    out_str(o, "]}\n");
}

/* gd_lookup_each's callback: the answer for address i of the batch. */
static void answer(void *ctx, size_t i, const struct gd_sym_frame *frames, int n)
{
    struct ctx *c = ctx;
    struct gd_sym_frame sym;

    if (n > MAX_FRAMES)
        n = MAX_FRAMES;
    if (!c->in_section[i]) {
        n = 0;
    } else if (n == 0 || frames[0].func == GD_NO_FUNC) {
        n = by_symbol(c, c->pcs[i], n ? &frames[0] : NULL, &sym);
        frames = &sym;
    }
    if (c->o.json) {
        print_json(c, c->addrs[i], frames, n);
    } else if (c->o.demangle || c->o.basenames) {
        if (c->o.addresses) {
            char *p = out_reserve(&c->out, 20);
            if (!p)
                return;
            p = put_addr16(p, c->addrs[i]);
            out_commit(&c->out, c->o.pretty ? put_mem(p, ": ", 2) : put_mem(p, "\n", 1));
        }
        print_text(c, frames, n);
    } else if (c->afi) {
        print_plain(&c->out, c->addrs[i], frames, n, true, true, true, false);
    } else {
        print_plain(&c->out, c->addrs[i], frames, n, c->o.addresses, c->o.functions,
                    c->o.inlines, c->o.pretty);
    }
}

/* Answers c->addrs[0..n), in order. */
static void symbolize_batch(struct ctx *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c->pcs[i] = locate(c, c->addrs[i], &c->in_section[i]);
    gd_lookup_each(c->b, c->pcs, n, GD_SYMBOLS_ADDR2LINE, c->frames, MAX_FRAMES, answer, c);
}

/* ---- Reading addresses --------------------------------------------------- */

/* The hex digits that start p[0..8) (all 8 bytes are read): how many,
 * and their value in *v.  Eight bytes at once: each byte is classified as
 * a digit or a letter a-f/A-F by carry-free range checks on its low 7 bits
 * (bytes of 0x80 and up are neither), turned into its nibble, and the
 * nibbles are gathered pairwise into a number. */
static inline __attribute__((always_inline)) unsigned hex_word(const char *p, uint64_t *v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t ascii = ~x & high;
    uint64_t x7 = x & ~high, l7 = (x | 0x2020202020202020ull) & ~high;
    uint64_t digit = (x7 + ones * (0x80 - '0')) & (ones * (0x80 + '9') - x7) & ascii;
    uint64_t letter = (l7 + ones * (0x80 - 'a')) & (ones * (0x80 + 'f') - l7) & ascii;
    uint64_t other = ~(digit | letter) & high;
    unsigned k = other ? (unsigned)__builtin_ctzll(other) / 8 : 8;
    uint64_t t = (x & 0x0f0f0f0f0f0f0f0full) + (letter >> 7) * 9;
    t = (t << 4 | t >> 8) & 0x00ff00ff00ff00ffull;
    t = (t << 8 | t >> 16) & 0x0000ffff0000ffffull;
    t = (t << 16 | t >> 32) & 0xffffffffull;
    *v = t >> (4 * (8 - k));
    return k;
}

/* The next address of s[0..avail) as fgets(buf, 100) pieces the input (a
 * longer line is several pieces): the bytes it takes, 0 when the piece is
 * not complete yet (more input may follow unless eof).  s[avail] must be a
 * NUL, and the 7 bytes after it readable. */
static size_t next_piece(struct addr_reader *r, const char *s, size_t avail, bool eof,
                         uint64_t *addr)
{
    if (avail == 0)
        return 0;
    /* the common case, [0x]hex digits then a newline (which addr_read
     * reads as hex too) */
    const char *p = s + (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 2 : 0);
    uint64_t v, w;
    unsigned k = hex_word(p, &v);
    if (k == 8) {
        unsigned k2 = hex_word(p + 8, &w);
        v = v << (4 * k2) | w;
        k += k2;
    }
    if (k > 0 && p[k] == '\n') {
        *addr = v;
        return (size_t)(p + k + 1 - s);
    }
    size_t lim = avail < LINE_MAX_BYTES - 1 ? avail : LINE_MAX_BYTES - 1;
    const char *nl = memchr(s, '\n', lim);
    if (!nl && lim < LINE_MAX_BYTES - 1 && !eof)
        return 0;
    size_t len = nl ? (size_t)(nl + 1 - s) : lim;
    char piece[LINE_MAX_BYTES];
    memcpy(piece, s, len);
    piece[len] = 0;
    *addr = addr_read(r, piece);
    return len;
}

/* Reads stdin in large blocks, answering every address they complete
 * before the next read; the output is flushed whenever that read could
 * block, so a co-process reader gets each answer. */
static void symbolize_stdin(struct ctx *c)
{
    static char buf[IN_CAP + 32];      /* a NUL after the data, and room to read past it */
    size_t len = 0, pos = 0;
    bool eof = false;

    buf[0] = 0;
    for (;;) {
        size_t n = 0, used;
        while (n < BATCH &&
               (used = next_piece(&c->reader, buf + pos, len - pos, eof, &c->addrs[n])) > 0) {
            pos += used;
            n++;
        }
        if (n > 0) {
            symbolize_batch(c, n);
            if (c->out.failed)
                return;
            continue;
        }
        if (eof)
            return;
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        pos = 0;
        out_flush(&c->out);
        ssize_t r = read(0, buf + len, IN_CAP - len);
        if (r <= 0)
            eof = true;
        else
            len += (size_t)r;
        buf[len] = 0;
    }
}

/* The addresses given as arguments, in batches. */
static void symbolize_args(struct ctx *c, char **args, int n)
{
    for (int i = 0; i < n && !c->out.failed; i += BATCH) {
        int k = n - i < BATCH ? n - i : BATCH;
        for (int j = 0; j < k; j++)
            c->addrs[j] = addr_read(&c->reader, args[i + j]);
        symbolize_batch(c, (size_t)k);
    }
}

/* The end of run before the binary is opened. */
static int options_done(struct ctx *c, int rc)
{
    dirlist_free(&c->o.debug_dirs);
    free(c);
    return rc;
}

static int run(const struct global_opts *g, int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_DEBUG_DIR, OPT_STATS };
    static const struct option longopts[] = {
        { "addresses", no_argument, NULL, 'a' },
        { "target", required_argument, NULL, 'b' },
        { "demangle", optional_argument, NULL, 'C' },
        { "exe", required_argument, NULL, 'e' },
        { "functions", no_argument, NULL, 'f' },
        { "inlines", no_argument, NULL, 'i' },
        { "section", required_argument, NULL, 'j' },
        { "pretty-print", no_argument, NULL, 'p' },
        { "basenames", no_argument, NULL, 's' },
        { "recurse-limit", no_argument, NULL, 'R' },
        { "no-recurse-limit", no_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'v' },
        { "json", no_argument, NULL, OPT_JSON },
        { "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
        { "debug-file-directory", required_argument, NULL, OPT_DEBUG_DIR },
        { "stats", no_argument, NULL, OPT_STATS },
        { NULL, 0, NULL, 0 },
    };
    struct ctx *c = calloc(1, sizeof *c);
    int opt;

    if (!c) {
        die_msg("symbolize: out of memory");
        return EXIT_FAIL;
    }
    c->o.exe = "a.out";
    c->o.json = g->json;
    dirlist_add_all(&c->o.debug_dirs, &g->debug_dirs);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "ab:Ce:rRsfHhij:pVv", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a': c->o.addresses = true; break;
        case 'b': break;                        /* one target format: ELF */
        case 'C': c->o.demangle = true; break;
        case 'e': c->o.exe = optarg; break;
        case 'f': c->o.functions = true; break;
        case 'i': c->o.inlines = true; break;
        case 'j': c->o.section = optarg; break;
        case 'p': c->o.pretty = true; break;
        case 's': c->o.basenames = true; break;
        case 'r': case 'R': break;              /* demangler recursion limit */
        case 'H': case 'h': usage(); return options_done(c, EXIT_OK);
        case 'V': case 'v':
            stdio_printf(stdout, "goinspect symbolize (addr2line-compatible)\n");
            return options_done(c, EXIT_OK);
        case OPT_JSON: c->o.json = true; break;
        case OPT_DEBUG_DIR: dirlist_add(&c->o.debug_dirs, optarg); break;
        case OPT_STATS: c->o.stats = true; break;
        default:
            if (optopt && optopt < 256)
                die_msg("symbolize: invalid option -- '%c' (see goinspect help symbolize)", optopt);
            else
                die_msg("symbolize: invalid option '%s' (see goinspect help symbolize)",
                        argv[optind - 1]);
            return options_done(c, EXIT_USAGE);
        }
    }

    struct gd_open_options oo;
    struct gd_error err;
    debuginfo_options(&c->o.debug_dirs, &oo);
    int opened = gd_open(c->o.exe, &oo, &c->b, &err);
    dirlist_free(&c->o.debug_dirs);
    if (opened != 0) {
        /* addr2line: "'FILE' is not an ordinary file" (gd_open never opens one) */
        die_msg("%s%s", err.code == GD_ENOTREG ? "symbolize: " : "", err.msg);
        free(c);
        return EXIT_FAIL;
    }
    c->afi = c->o.addresses && c->o.functions && c->o.inlines && !c->o.pretty &&
             !c->o.demangle && !c->o.basenames && !c->o.json;
    if (c->o.stats) {
        const struct gd_info *in = gd_info(c->b);
        fprintf(stderr, "%zu compile units (%zu skipped), %zu line rows, %zu functions, "
                "index built in %.3f s\n", in->compile_units, in->bad_units, in->line_rows,
                in->functions, in->index_seconds);
        if (in->debug_path)
            fprintf(stderr, "separate debug file: %s\n", in->debug_path);
        if (in->sup_path)
            fprintf(stderr, "supplementary debug file: %s\n", in->sup_path);
    }
    if (c->o.section && !(c->section = gd_section_by_name(c->b, c->o.section))) {
        die_msg("%s: cannot find section %s", c->o.exe, c->o.section);
        gd_close(c->b);
        free(c);
        return EXIT_FAIL;
    }
    if (c->o.basenames)
        c->base_off = calloc(gd_file_count(c->b) + 1, sizeof *c->base_off);
    out_init(&c->out, STDOUT_FILENO);
    /* the writes (a third of the time per address into a file) on a
     * thread of their own, beside the lookups and the formatting */
    out_start_writer(&c->out);
    addr_reader_init(&c->reader, c->b);
    if (optind < argc)
        symbolize_args(c, argv + optind, argc - optind);
    else
        symbolize_stdin(c);
    out_flush(&c->out);     /* main reports a write error */
    out_free(&c->out);
    addr_reader_free(&c->reader);
    free(c->base_off);
    gd_close(c->b);
    free(c);
    return EXIT_OK;
}

const struct command cmd_symbolize = {
    "symbolize", "-e EXE [-afipsC] [ADDR...]",
    "addresses to functions, files and lines (addr2line)", run, usage,
};
