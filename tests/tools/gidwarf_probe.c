/* gidwarf_probe COMMAND FILE [ARGS]: prints what libgidwarf's API says, for
 * the library tests to compare with readelf, nm, gdb and the target's own
 * output.
 *   info FILE               type, PIE, entry, build-id, index counts, PT_LOADs
 *   sym FILE NAME           value and size of a symbol
 *   struct FILE NAME        size, then each member: name offset size bits
 *   enum FILE NAME          size, then each enumerator: name value
 *   bias FILE START OFFSET  load bias of the mapping START of file OFFSET
 *   names FILE gdb|addr2line  for each hex address on stdin, the symbol that
 *                           names it by that rule (gd_symbol_at), as gdb's
 *                           `info symbol` writes it ("NAME", "NAME + 12"),
 *                           or "??"
 * GIDWARF_DEBUG_DIR in the environment is the one debug directory (gd_open's
 * debug_dirs; empty: none); without it, the default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gidwarf.h"

static int names(const gd_binary *b, const char *rule_name)
{
    enum gd_symbol_rule rule;
    char line[64];
    if (!strcmp(rule_name, "gdb"))
        rule = GD_SYMBOLS_GDB;
    else if (!strcmp(rule_name, "addr2line"))
        rule = GD_SYMBOLS_ADDR2LINE;
    else
        return 2;
    while (fgets(line, sizeof line, stdin)) {
        uint64_t addr = strtoull(line, NULL, 16);
        const struct gd_symbol *s = gd_symbol_at(b, addr, rule);
        if (!s)
            printf("??\n");
        else if (addr == s->value)
            printf("%s\n", s->name);
        else
            printf("%s + %llu\n", s->name, (unsigned long long)(addr - s->value));
    }
    return 0;
}

int main(int argc, char **argv)
{
    gd_binary *b;
    struct gd_error err;
    if (argc < 3)
        return 2;
    const char *dir = getenv("GIDWARF_DEBUG_DIR");
    const char *dirs[] = { dir && *dir ? dir : NULL, NULL };
    struct gd_open_options opts = { .debug_dirs = dir ? dirs : NULL };
    if (gd_open(argv[2], &opts, &b, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const char *cmd = argv[1];
    int rc = 0;
    if (!strcmp(cmd, "info")) {
        const struct gd_info *in = gd_info(b);
        printf("type %u\npie %d\nentry %#llx\nbuild_id ", in->type, in->pie,
               (unsigned long long)in->entry);
        for (size_t i = 0; i < in->build_id_len; i++)
            printf("%02x", in->build_id[i]);
        printf("\nhas_dwarf %d\nunits %zu\nfunctions %zu\nrows %zu\n", in->has_dwarf,
               in->compile_units, in->functions, in->line_rows);
        const struct gd_segment *segs;
        size_t n = gd_segments(b, &segs);
        for (size_t i = 0; i < n; i++)
            printf("LOAD %#llx %#llx %#llx %#llx %u\n", (unsigned long long)segs[i].offset,
                   (unsigned long long)segs[i].vaddr, (unsigned long long)segs[i].filesz,
                   (unsigned long long)segs[i].memsz, segs[i].flags);
    } else if (!strcmp(cmd, "sym") && argc > 3) {
        const struct gd_symbol *s = gd_symbol_by_name(b, argv[3]);
        if (s)
            printf("%#llx %llu\n", (unsigned long long)s->value, (unsigned long long)s->size);
        else
            rc = 1;
    } else if (!strcmp(cmd, "struct") && argc > 3) {
        const struct gd_struct *s;
        if (gd_struct_by_name(b, argv[3], &s, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
        } else {
            printf("size %llu\n", (unsigned long long)s->size);
            for (size_t i = 0; i < s->nmembers; i++)
                printf("member %s %llu %llu %u\n", s->members[i].name,
                       (unsigned long long)s->members[i].offset,
                       (unsigned long long)s->members[i].size, s->members[i].bit_size);
        }
    } else if (!strcmp(cmd, "enum") && argc > 3) {
        const struct gd_enum *e;
        if (gd_enum_by_name(b, argv[3], &e, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
        } else {
            printf("size %llu\n", (unsigned long long)e->size);
            for (size_t i = 0; i < e->nvalues; i++)
                printf("value %s %lld\n", e->values[i].name, (long long)e->values[i].value);
        }
    } else if (!strcmp(cmd, "bias") && argc > 4) {
        uint64_t bias;
        if (gd_load_bias(b, strtoull(argv[3], NULL, 0), strtoull(argv[4], NULL, 0), &bias))
            rc = 1;
        else
            printf("%#llx\n", (unsigned long long)bias);
    } else if (!strcmp(cmd, "names") && argc > 3) {
        rc = names(b, argv[3]);
    } else {
        rc = 2;
    }
    gd_close(b);
    return rc;
}
