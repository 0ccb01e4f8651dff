/*
 * gortpctab — the post-link step of gortcc: builds the pc-line table of an
 * executable from its DWARF (libgidwarf) and adds it to the file as the
 * section .gort_pctab (replacing one already there), with objcopy.
 *
 *   gortpctab EXE            add the table to EXE, in place
 *   gortpctab -o OUT EXE     write the table alone to OUT
 *   gortpctab -a EXE ADDR... look link-time addresses up in EXE's table and
 *                            print them as addr2line -a -f -i does
 *
 * The runtime reads the section from /proc/self/exe for its crash dumps;
 * goinspect reads it instead of building the DWARF index.  Exit status: 0,
 * 1 on an error, 2 on a usage error, 3 when EXE has no DWARF to build a
 * table from (gortcc then leaves it without one).
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gidwarf.h"
#include "pctab.h"

extern char **environ;

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "gortpctab: %s: %s\n", what, why);
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: gortpctab [-o TABLE] EXECUTABLE\n"
                    "       gortpctab -a EXECUTABLE ADDRESS...\n");
    return 2;
}

/* The bytes of exe's section PCTAB_SECTION, malloc'ed into *out. */
static int read_table(const char *exe, uint8_t **out, size_t *len)
{
    struct gd_open_options oo = {.flags = GD_OPEN_NO_DEBUGLINK | GD_OPEN_NO_DEBUGINFOD |
                                          GD_OPEN_NO_INDEX};
    struct gd_error err = {0, ""};
    gd_binary *b;
    if (gd_open(exe, &oo, &b, &err) != GD_OK)
        return fail(exe, err.msg);
    const struct gd_section *sec = gd_section_by_name(b, PCTAB_SECTION);
    uint64_t off = sec ? sec->offset : 0, size = sec ? sec->size : 0;
    gd_close(b);
    if (!sec)
        return fail(exe, "no " PCTAB_SECTION " section (not linked by gortcc?)");
    FILE *f = fopen(exe, "rb");
    *out = malloc(size ? size : 1);
    *len = size;
    bool ok = f && *out && fseeko(f, (off_t)off, SEEK_SET) == 0 && fread(*out, 1, size, f) == size;
    if (f)
        fclose(f);
    if (!ok) {
        free(*out);
        return fail(exe, "cannot read the " PCTAB_SECTION " section");
    }
    return 0;
}

/* Each address as addr2line -a -f -i prints it: the address, then per
 * frame the function and FILE:LINE (FILE:? for line 0); ?? and ??:0 when
 * the table does not cover it. */
static int lookup_addresses(const char *exe, char **addrs, int n)
{
    uint8_t *data;
    size_t len;
    if (read_table(exe, &data, &len) != 0)
        return 1;
    struct pctab t;
    int rc = pctab_open(&t, data, len);
    if (rc != PCTAB_OK) {
        free(data);
        return fail(exe, pctab_strerror(rc));
    }
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        uint64_t pc = strtoull(addrs[i], &end, 16);
        if (errno || end == addrs[i] || *end) {
            free(data);
            return fail(addrs[i], "not a hexadecimal address");
        }
        struct pctab_frame fr[PCTAB_MAX_DEPTH];
        int k = pctab_lookup(&t, pc, fr, PCTAB_MAX_DEPTH);
        printf("0x%016llx\n", (unsigned long long)pc);
        if (k == 0)
            printf("??\n??:0\n");
        for (int j = 0; j < k; j++) {
            const char *fn = fr[j].function ? fr[j].function : "??";
            if (!fr[j].file)
                printf("%s\n??:0\n", fn);
            else if (fr[j].line)
                printf("%s\n%s:%u\n", fn, fr[j].file, fr[j].line);
            else
                printf("%s\n%s:?\n", fn, fr[j].file);
        }
    }
    free(data);
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail(path, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0 || !ok)
        return fail(path, strerror(errno));
    return 0;
}

/* Runs objcopy to put the table file into exe as the section. */
static int add_section(const char *exe, const char *table, bool replace)
{
    char *arg;
    if (asprintf(&arg, "%s=%s", PCTAB_SECTION, table) < 0)
        return fail(exe, "out of memory");
    char flags[64];
    snprintf(flags, sizeof flags, "%s=readonly", PCTAB_SECTION);
    char *argv[] = {"objcopy", replace ? "--update-section" : "--add-section", arg,
                    "--set-section-flags", flags, (char *)exe, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "objcopy", NULL, NULL, argv, environ);
    free(arg);
    if (rc != 0)
        return fail("objcopy", strerror(rc));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return fail("objcopy", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return fail(exe, "objcopy could not add the section (its message is above)");
    return 0;
}

static int add_to_exe(const char *exe, const void *data, size_t len, bool replace)
{
    char *tmp;
    if (asprintf(&tmp, "%s.pctab.XXXXXX", exe) < 0)
        return fail(exe, "out of memory");
    int fd = mkstemp(tmp);
    int rc = fd < 0 ? fail(tmp, strerror(errno)) : 0;
    if (fd >= 0) {
        close(fd);
        rc = write_file(tmp, data, len);
        if (rc == 0)
            rc = add_section(exe, tmp, replace);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    bool lookup = false;
    int opt;
    while ((opt = getopt(argc, argv, "ao:")) != -1) {
        if (opt == 'a')
            lookup = true;
        else if (opt == 'o')
            out = optarg;
        else
            return usage();
    }
    if (lookup && optind + 1 < argc && !out)
        return lookup_addresses(argv[optind], argv + optind + 1, argc - optind - 1);
    if (lookup || optind + 1 != argc)
        return usage();
    const char *exe = argv[optind];

    struct gd_open_options oo = {.flags = GD_OPEN_NO_DEBUGLINK | GD_OPEN_NO_DEBUGINFOD};
    struct gd_error err = {0, ""};
    gd_binary *b;
    if (gd_open(exe, &oo, &b, &err) != GD_OK)
        return fail(exe, err.msg);
    if (!gd_info(b)->has_dwarf) {
        gd_close(b);
        fail(exe, "no DWARF line tables (build with -g)");
        return 3;
    }
    bool replace = gd_section_by_name(b, PCTAB_SECTION) != NULL;
    void *table;
    size_t len;
    int rc = gd_pctab_build(b, &table, &len, &err);
    gd_close(b);
    if (rc != GD_OK) {
        fail(exe, err.msg);
        return rc == GD_ENOTFOUND ? 3 : 1;
    }
    rc = out ? write_file(out, table, len) : add_to_exe(exe, table, len, replace);
    free(table);
    return rc;
}
