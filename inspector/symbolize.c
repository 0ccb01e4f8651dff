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
 */
#include <dlfcn.h>
#include <elf.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "gidwarf.h"
#include "output.h"

#define MAX_FRAMES 256
#define LINE_MAX_BYTES 100      /* addr2line reads stdin with fgets(buf, 100) */

struct opts {
    const char *exe;
    const char *section;
    const char *debug_dir;
    bool addresses, functions, inlines, pretty, basenames, demangle, json, stats;
};

/* A frame as addr2line prints it. */
struct pframe {
    const char *name;           /* NULL: "??" */
    const char *file;           /* NULL: "??" */
    uint32_t line;              /* 0: "?" */
    uint32_t column;
    uint32_t disc;
    bool inlined;
};

struct ctx {
    struct opts o;
    gd_binary *b;
    const struct gd_section *section;   /* -j */
    const struct gd_section *last_sec;  /* the section of the previous address */
    struct out out;
    struct gd_frame frames[MAX_FRAMES];
    char *(*cxa_demangle)(const char *, char *, size_t *, int *);
    bool demangler_loaded;
};

static void usage(void)
{
    printf("usage: goinspect [--json] symbolize [-e EXE] [-a] [-f] [-i] [-p] [-s] [-C]\n"
           "                 [-j SECTION] [--debug-dir DIR] [--json] [ADDR...]\n\n"
           "Translates addresses of EXE (default a.out) into function names and source\n"
           "lines, as binutils' addr2line does and with the same output.  Without\n"
           "ADDR, reads addresses from standard input, one per line.\n\n"
           "  -e, --exe=EXE         the executable or shared object\n"
           "  -a, --addresses       print each address before its frames\n"
           "  -f, --functions       print function names\n"
           "  -i, --inlines         print the chain of inlined calls\n"
           "  -p, --pretty-print    one line per address\n"
           "  -s, --basenames       strip directories from file names\n"
           "  -C, --demangle        demangle C++ names\n"
           "  -j, --section=NAME    addresses are offsets into section NAME\n"
           "      --debug-dir=DIR   where separate debug files live (/usr/lib/debug)\n"
           "      --json            one JSON object per address\n"
           "      --stats           print the index's size and build time on stderr\n");
}

static void warn_cb(void *ctx, const char *msg)
{
    (void)ctx;
    fflush(stdout);
    fprintf(stderr, "goinspect: warning: %s\n", msg);
}

/* ---- Names ------------------------------------------------------------ */

static const char *demangled(struct ctx *c, const char *name, char **to_free)
{
    *to_free = NULL;
    if (!c->o.demangle || !name || strncmp(name, "_Z", 2) != 0)
        return name;
    if (!c->demangler_loaded) {
        c->demangler_loaded = true;
        void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
        if (h)
            *(void **)&c->cxa_demangle = dlsym(h, "__cxa_demangle");
    }
    if (!c->cxa_demangle)
        return name;
    int status = 0;
    char *d = c->cxa_demangle(name, NULL, NULL, &status);
    if (!d || status != 0) {
        free(d);
        return name;
    }
    *to_free = d;
    return d;
}

/* binutils prefers the linkage name of a DWARF function. */
static const char *frame_name(const struct gd_frame *f)
{
    return f->linkage_name ? f->linkage_name : f->function;
}

/* Resolves pc the way addr2line does; returns the number of frames, 0
 * when nothing is known (addr2line's "??" / "??:0"). */
static int resolve(struct ctx *c, uint64_t pc, struct pframe *pf)
{
    const struct gd_section *sec;
    if (c->section) {
        if (pc >= c->section->size)
            return 0;
        sec = c->section;
        pc += sec->addr;
    } else if (c->last_sec && pc >= c->last_sec->addr && pc - c->last_sec->addr < c->last_sec->size) {
        sec = c->last_sec;
    } else if (!(sec = gd_section_containing(c->b, pc))) {
        return 0;
    } else if (sec->flags & SHF_EXECINSTR) {
        c->last_sec = sec;      /* code sections do not overlap */
    }

    int n = gd_lookup(c->b, pc, c->frames, MAX_FRAMES);
    if (n > MAX_FRAMES)
        n = MAX_FRAMES;
    bool have_line = n > 0 && c->frames[0].has_line;
    if (n > 0 && c->frames[0].func != GD_NO_FUNC) {
        for (int i = 0; i < n; i++) {
            const struct gd_frame *f = &c->frames[i];
            pf[i].name = frame_name(f);
            pf[i].file = f->file;
            pf[i].line = f->line;
            pf[i].column = f->column;
            pf[i].disc = i == 0 ? f->discriminator : 0;
            pf[i].inlined = f->inlined;
        }
        if (!have_line) {
            pf[0].file = NULL;
            pf[0].line = 0;
        }
        return n;
    }
    /* No DWARF function here: the nearest preceding symbol of the section
     * names it (also in padding after a function); the line table, or the
     * symbol's STT_FILE, gives the file. */
    const struct gd_symbol *s = gd_symbol_nearest(c->b, pc);
    if (!have_line && !s)
        return 0;
    memset(&pf[0], 0, sizeof pf[0]);
    pf[0].name = s ? s->name : NULL;
    if (have_line) {
        pf[0].file = c->frames[0].file;
        pf[0].line = c->frames[0].line;
        pf[0].column = c->frames[0].column;
        pf[0].disc = c->frames[0].discriminator;
    } else {
        pf[0].file = s->file;
    }
    return 1;
}

/* ---- Printing ----------------------------------------------------------- */

static void print_text(struct ctx *c, const struct pframe *pf, int n)
{
    struct out *o = &c->out;
    if (n == 0) {
        if (c->o.functions)
            out_str(o, c->o.pretty ? "?? " : "??\n");
        out_str(o, "??:0\n");
        return;
    }
    if (!c->o.inlines)
        n = 1;
    for (int i = 0; i < n; i++) {
        if (c->o.functions) {
            char *tofree;
            const char *name = pf[i].name && *pf[i].name ? demangled(c, pf[i].name, &tofree)
                                                          : (tofree = NULL, "??");
            out_str(o, name);
            free(tofree);
            out_str(o, c->o.pretty ? " at " : "\n");
        }
        const char *file = pf[i].file;
        if (c->o.basenames && file) {
            const char *slash = strrchr(file, '/');
            if (slash)
                file = slash + 1;
        }
        out_str(o, file ? file : "??");
        out_char(o, ':');
        if (pf[i].line) {
            out_u64(o, pf[i].line);
            /* addr2line prints the innermost row's discriminator on every
             * line of the chain. */
            if (pf[0].disc) {
                out_str(o, " (discriminator ");
                out_u64(o, pf[0].disc);
                out_char(o, ')');
            }
        } else {
            out_char(o, '?');
        }
        out_char(o, '\n');
        if (c->o.pretty && i + 1 < n)
            out_str(o, " (inlined by) ");
    }
}

static void print_json(struct ctx *c, uint64_t addr, const struct pframe *pf, int n)
{
    struct out *o = &c->out;
    char hex[19];
    snprintf(hex, sizeof hex, "0x%016llx", (unsigned long long)addr);
    out_str(o, "{\"address\":\"");
    out_str(o, hex);
    out_str(o, "\",\"frames\":[");
    for (int i = 0; i < n; i++) {
        char *tofree;
        const char *name = pf[i].name && *pf[i].name ? demangled(c, pf[i].name, &tofree)
                                                      : (tofree = NULL, NULL);
        out_str(o, i ? ",{\"function\":" : "{\"function\":");
        out_json_str(o, name);
        free(tofree);
        out_str(o, ",\"file\":");
        out_json_str(o, pf[i].file);
        out_str(o, ",\"line\":");
        out_u64(o, pf[i].line);
        out_str(o, ",\"column\":");
        out_u64(o, pf[i].column);
        out_str(o, ",\"discriminator\":");
        out_u64(o, pf[i].disc);
        out_str(o, pf[i].inlined ? ",\"inlined\":true}" : ",\"inlined\":false}");
    }
    out_str(o, "]}\n");
}

/* How addr2line reads an address (measured against binutils 2.40): blanks,
 * then a '-' reads as 0, a '+' is skipped, and the rest is strtoul(…, 16)
 * (its own blanks and sign, optional 0x, saturating on overflow). */
static uint64_t scan_vma(const char *s)
{
    /* the common case, [0x]hex digits then a newline, without strtoull */
    const char *p = s + (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 2 : 0);
    uint64_t v = 0;
    int k = 0;
    for (; k < 16; k++, p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (*p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        v = v << 4 | d;
    }
    if (k > 0 && (*p == '\n' || *p == 0))
        return v;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    if (*s == '-')
        return 0;
    if (*s == '+')
        s++;
    return strtoull(s, NULL, 16);
}

static void symbolize_one(struct ctx *c, const char *text)
{
    struct pframe pf[MAX_FRAMES];
    uint64_t addr = scan_vma(text);
    int n = resolve(c, addr, pf);

    if (c->o.json) {
        print_json(c, addr, pf, n);
        return;
    }
    if (c->o.addresses) {
        out_addr16(&c->out, addr);
        out_str(&c->out, c->o.pretty ? ": " : "\n");
    }
    print_text(c, pf, n);
}

/* Reads stdin in pieces the way fgets(buf, 100, stdin) does (a longer line
 * is several addresses, as with addr2line), flushing the output whenever
 * the next read could block. */
static void symbolize_stdin(struct ctx *c)
{
    static char buf[1 << 16];
    size_t len = 0, pos = 0;
    bool eof = false;

    for (;;) {
        char piece[LINE_MAX_BYTES];
        size_t k = 0;
        bool got = false;
        while (!got) {
            if (pos == len) {
                if (eof)
                    break;
                out_flush(&c->out);
                ssize_t r = read(0, buf, sizeof buf);
                if (r <= 0) {
                    eof = true;
                    break;
                }
                len = (size_t)r;
                pos = 0;
            }
            char ch = buf[pos++];
            piece[k++] = ch;
            if (ch == '\n' || k == LINE_MAX_BYTES - 1)
                got = true;
        }
        if (k == 0)
            break;
        piece[k] = 0;
        symbolize_one(c, piece);
        if (c->out.failed)
            break;
    }
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
        { "stats", no_argument, NULL, OPT_STATS },
        { NULL, 0, NULL, 0 },
    };
    struct ctx *c = calloc(1, sizeof *c);
    int opt, rc = EXIT_OK;

    if (!c) {
        die_msg("symbolize: out of memory");
        return EXIT_FAIL;
    }
    c->o.exe = "a.out";
    c->o.json = g->json;
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
        case 'H': case 'h': usage(); free(c); return EXIT_OK;
        case 'V': case 'v': printf("goinspect symbolize (addr2line-compatible)\n"); free(c); return EXIT_OK;
        case OPT_JSON: c->o.json = true; break;
        case OPT_DEBUG_DIR: c->o.debug_dir = optarg; break;
        case OPT_STATS: c->o.stats = true; break;
        default:
            if (optopt && optopt < 256)
                die_msg("symbolize: invalid option -- '%c' (see goinspect help symbolize)", optopt);
            else
                die_msg("symbolize: invalid option '%s' (see goinspect help symbolize)",
                        argv[optind - 1]);
            free(c);
            return EXIT_USAGE;
        }
    }

    struct gd_open_options oo = { c->o.debug_dir, warn_cb, NULL, 0 };
    struct gd_error err;
    if (gd_open(c->o.exe, &oo, &c->b, &err) != 0) {
        die_msg("%s", err.msg);
        free(c);
        return EXIT_FAIL;
    }
    if (c->o.stats) {
        const struct gd_info *in = gd_info(c->b);
        fprintf(stderr, "%zu compile units (%zu skipped), %zu line rows, %zu functions, "
                "index built in %.3f s\n", in->compile_units, in->bad_units, in->line_rows,
                in->functions, in->index_seconds);
    }
    if (c->o.section && !(c->section = gd_section_by_name(c->b, c->o.section))) {
        die_msg("%s: cannot find section %s", c->o.exe, c->o.section);
        gd_close(c->b);
        free(c);
        return EXIT_FAIL;
    }
    out_init(&c->out, STDOUT_FILENO);
    if (optind < argc) {
        for (int i = optind; i < argc && !c->out.failed; i++)
            symbolize_one(c, argv[i]);
    } else {
        symbolize_stdin(c);
    }
    if (!out_flush(&c->out)) {
        die_msg("symbolize: write error on standard output");
        rc = EXIT_FAIL;
    }
    out_free(&c->out);
    gd_close(c->b);
    free(c);
    return rc;
}

const struct command cmd_symbolize = {
    "symbolize", "-e EXE [-afipsC] [ADDR...]",
    "addresses to functions, files and lines (addr2line)", run, usage,
};
