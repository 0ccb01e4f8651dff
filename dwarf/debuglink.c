/*
 * debuglink.c — finding a binary's separate debug file the way gdb and
 * elfutils do: by GNU build-id under each debug directory
 * (DIR/.build-id/xx/rest.debug; the file must carry that build-id), then by
 * the .gnu_debuglink name in the binary's directory, in its .debug/
 * subdirectory and under each DIR + the binary's directory (the file must
 * have the recorded CRC-32), then from debuginfod (debuginfod.c).
 */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_DEBUG_DIR "/usr/lib/debug"

/* ---- The debug directories ------------------------------------------- */

bool debug_dirs_init(struct debug_dirs *d, const char *const *dirs)
{
    static const char *const defaults[] = { DEFAULT_DEBUG_DIR, NULL };
    size_t n = 0;

    if (!dirs)
        dirs = defaults;
    while (dirs[n])
        n++;
    d->n = 0;
    d->v = calloc(n + 1, sizeof *d->v);
    if (!d->v)
        return false;
    for (; d->n < n; d->n++)
        if (!(d->v[d->n] = strdup(dirs[d->n]))) {
            debug_dirs_free(d);
            return false;
        }
    return true;
}

void debug_dirs_free(struct debug_dirs *d)
{
    for (size_t i = 0; d->v && i < d->n; i++)
        free(d->v[i]);
    free(d->v);
    d->v = NULL;
    d->n = 0;
}

bool build_id_path(char *buf, size_t cap, const char *dir, const uint8_t *id, size_t len)
{
    if (len < 2)
        return false;
    int n = snprintf(buf, cap, "%s/.build-id/%02x/", dir, id[0]);
    for (size_t i = 1; i < len && n > 0 && (size_t)n < cap; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%02x", id[i]);
    if (n <= 0 || (size_t)n >= cap)
        return false;
    return snprintf(buf + n, cap - (size_t)n, ".debug") == 6;
}

/* ---- CRC-32 of .gnu_debuglink ------------------------------------------ */

static void crc_init(uint32_t table[256])
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

bool debuglink_file_crc(const char *path, uint32_t *out)
{
    uint8_t buf[1 << 14];
    uint32_t crc_table[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    crc_init(crc_table);
    uint32_t crc = 0xffffffffu;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            close(fd);
            return false;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            crc = crc_table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
    }
    close(fd);
    *out = crc ^ 0xffffffffu;
    return true;
}

/* ---- Candidates ---------------------------------------------------------- */

enum check { BY_BUILD_ID, BY_CRC };

static bool same_build_id(const struct elf_file *a, const struct elf_file *b)
{
    return a->build_id && b->build_id && a->build_id_len == b->build_id_len &&
           memcmp(a->build_id, b->build_id, a->build_id_len) == 0;
}

/* A .symtab with a symbol in it (what `objcopy --only-keep-debug` keeps of
 * a build without -g: gdb and elfutils name functions from it). */
static bool has_symbols(const struct elf_file *f)
{
    const struct gd_section *s = elf_file_section(f, ".symtab");
    return s && s->type == SHT_SYMTAB && s->size >= 2 * sizeof(Elf64_Sym);
}

/* Opens path into b->dbg when it is b->main's debug file (one with DWARF,
 * or with symbols).  A file that is
 * not there is passed over in silence; one that is there but does not match
 * is reported. */
static bool try_candidate(gd_binary *b, const struct stat *main_st, const char *path,
                          enum check check)
{
    struct stat st;
    struct gd_error e;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    if (st.st_dev == main_st->st_dev && st.st_ino == main_st->st_ino)
        return false;
    if (check == BY_CRC) {
        uint32_t crc;
        if (!debuglink_file_crc(path, &crc))
            return false;
        if (crc != b->main.debuglink_crc) {
            gd_warn(&b->warner, "%s: not the debug file of %s (its CRC-32 is %08x, the "
                    ".gnu_debuglink says %08x); not used", path, b->main.path, crc,
                    b->main.debuglink_crc);
            return false;
        }
    }
    if (elf_file_open(&b->dbg, path, &e) != GD_OK) {
        gd_warn(&b->warner, "%s; not used as the debug file of %s", e.msg, b->main.path);
        elf_file_close(&b->dbg);
        return false;
    }
    if (check == BY_BUILD_ID && !same_build_id(&b->dbg, &b->main)) {
        gd_warn(&b->warner, "%s: not the debug file of %s (%s build-id); not used", path,
                b->main.path, b->dbg.build_id ? "another" : "no");
        elf_file_close(&b->dbg);
        return false;
    }
    if (!elf_file_has_dwarf(&b->dbg) && !has_symbols(&b->dbg)) {
        gd_warn(&b->warner, "%s: has neither DWARF nor a symbol table; not used as the debug "
                "file of %s", path, b->main.path);
        elf_file_close(&b->dbg);
        return false;
    }
    b->has_dbg = true;
    return true;
}

/* The directory of the binary, symbolic links resolved (gdb's objfile
 * directory). */
static void binary_dir(const char *path, char *dir, size_t cap)
{
    char *real = realpath(path, NULL);
    const char *p = real ? real : path;
    const char *slash = strrchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : 1;
    if (len >= cap)
        len = cap - 1;
    memcpy(dir, slash ? p : ".", len);
    dir[len] = 0;
    free(real);
}

static bool by_build_id(gd_binary *b, const struct stat *main_st)
{
    char path[PATH_MAX * 2];
    for (size_t i = 0; i < b->debug_dirs.n; i++)
        if (build_id_path(path, sizeof path, b->debug_dirs.v[i], b->main.build_id,
                          b->main.build_id_len) &&
            try_candidate(b, main_st, path, BY_BUILD_ID))
            return true;
    return false;
}

static bool by_debuglink(gd_binary *b, const struct stat *main_st)
{
    const char *name = b->main.debuglink;
    char path[PATH_MAX * 3];
    char dir[PATH_MAX];

    if (!name || strchr(name, '/'))
        return false;
    binary_dir(b->main.path, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (try_candidate(b, main_st, path, BY_CRC))
        return true;
    snprintf(path, sizeof path, "%s/.debug/%s", dir, name);
    if (try_candidate(b, main_st, path, BY_CRC))
        return true;
    for (size_t i = 0; i < b->debug_dirs.n; i++) {
        snprintf(path, sizeof path, "%s%s%s/%s", b->debug_dirs.v[i], dir[0] == '/' ? "" : "/",
                 dir, name);
        if (try_candidate(b, main_st, path, BY_CRC))
            return true;
    }
    return false;
}

static bool from_debuginfod(gd_binary *b, const struct stat *main_st,
                            const struct gd_open_options *opts)
{
    if ((opts->flags & GD_OPEN_NO_DEBUGINFOD) || !b->main.build_id || !debuginfod_wanted())
        return false;
    char *path = debuginfod_fetch(b->main.path, b->main.build_id, b->main.build_id_len,
                                  &b->warner, opts->progress, opts->progress_ctx);
    if (!path)
        return false;
    bool ok = try_candidate(b, main_st, path, BY_BUILD_ID);
    free(path);
    return ok;
}

bool debug_file_find(gd_binary *b, const struct gd_open_options *opts)
{
    struct stat main_st;
    if (fstat(b->main.fd, &main_st) != 0)
        memset(&main_st, 0, sizeof main_st);
    return by_build_id(b, &main_st) || by_debuglink(b, &main_st) ||
           from_debuginfod(b, &main_st, opts);
}
