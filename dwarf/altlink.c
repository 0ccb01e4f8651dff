/*
 * altlink.c — finding the supplementary file of a file whose DWARF `dwz -m`
 * shared out with other files (Debian's -dbgsym packages, the .dwz/
 * directory under /usr/lib/debug).  The file names it in .gnu_debugaltlink
 * (a path, then the build-id the supplementary file has) or in DWARF 5's
 * .debug_sup (a path, then a checksum that the supplementary file's own
 * .debug_sup repeats).  Candidates, in gdb's order: the path as written
 * (a relative one from the real directory of the file holding the
 * section), DEBUG_DIR/.build-id/xx/rest.debug for the recorded id, and for a
 * path inside some .dwz/ directory the same name under DEBUG_DIR/.dwz/, for
 * each of the binary's debug directories in turn.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "internal.h"

#define ID_HEX (2 * 64 + 1)

static void hex(char out[ID_HEX], const uint8_t *id, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 2 < ID_HEX; i++, n += 2)
        snprintf(out + n, 3, "%02x", id[i]);
    out[n] = 0;
}

/* What identifies the candidate c as f's supplementary file. */
static bool id_of(const struct elf_file *f, const struct elf_file *c, const uint8_t **id,
                  size_t *len)
{
    *id = f->altlink_is_sup ? c->sup_checksum : c->build_id;
    *len = f->altlink_is_sup ? c->sup_checksum_len : c->build_id_len;
    return *id != NULL;
}

struct alt_try {
    const struct elf_file *f;
    struct elf_file *sup;
    char tried[2][PATH_MAX * 2];    /* the first two candidates, for the warning */
    char rejected[PATH_MAX * 2];    /* the first candidate with another id */
    char rejected_id[ID_HEX];       /* its id, "" when it has none */
};

static bool try_candidate(struct alt_try *t, const char *path)
{
    struct stat st;
    const uint8_t *id;
    size_t len;

    for (int i = 0; i < 2; i++) {
        if (!t->tried[i][0]) {
            snprintf(t->tried[i], sizeof t->tried[i], "%s", path);
            break;
        }
    }
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    if (elf_file_open_sup(t->sup, path, NULL) != GD_OK) {
        elf_file_close(t->sup);
        return false;
    }
    if (id_of(t->f, t->sup, &id, &len) && len == t->f->altlink_id_len &&
        memcmp(id, t->f->altlink_id, len) == 0)
        return true;
    if (!t->rejected[0]) {
        snprintf(t->rejected, sizeof t->rejected, "%s", path);
        if (id)
            hex(t->rejected_id, id, len);
    }
    elf_file_close(t->sup);
    return false;
}

/* The name as written; a relative one from the real directory of f. */
static bool named_path(const struct elf_file *f, char *out, size_t n)
{
    if (f->altlink[0] == '/')
        return (size_t)snprintf(out, n, "%s", f->altlink) < n;
    char *real = realpath(f->path, NULL);
    const char *p = real ? real : f->path;
    const char *slash = strrchr(p, '/');
    int len = slash ? (int)(slash - p) : 1;
    int w = snprintf(out, n, "%.*s/%s", len, slash ? p : ".", f->altlink);
    free(real);
    return w > 0 && (size_t)w < n;
}

/* DEBUG_DIR/.dwz/REST for a name .../.dwz/REST outside DEBUG_DIR. */
static bool dwz_dir_path(const struct elf_file *f, const char *debug_dir, char *out, size_t n)
{
    const char *p = strstr(f->altlink, "/.dwz/");
    if (!p)
        return false;
    size_t dl = strlen(debug_dir);
    if (f->altlink[0] == '/' && (size_t)(p - f->altlink) == dl &&
        strncmp(f->altlink, debug_dir, dl) == 0)
        return false;               /* the name itself, tried first */
    return (size_t)snprintf(out, n, "%s%s", debug_dir, p) < n;
}

static void warn_unused(const struct alt_try *t, const struct gd_warner *w)
{
    const struct elf_file *f = t->f;
    const char *section = f->altlink_is_sup ? ".debug_sup" : ".gnu_debugaltlink";
    const char *what = f->altlink_is_sup ? "checksum" : "build-id";
    const char *consequence = "the names and directories dwz moved there are unknown";
    char want[ID_HEX];

    hex(want, f->altlink_id, f->altlink_id_len);
    if (t->rejected[0] && t->rejected_id[0])
        gd_warn(w, "%s: supplementary debug file %s has %s %s, not the %s that %s records; "
                "not used: %s", f->path, t->rejected, what, t->rejected_id, want, section,
                consequence);
    else if (t->rejected[0])
        gd_warn(w, "%s: supplementary debug file %s has no %s (%s records %s); not used: %s",
                f->path, t->rejected, f->altlink_is_sup ? ".debug_sup checksum" : what,
                section, want, consequence);
    else
        gd_warn(w, "%s: supplementary debug file %s (%s %s, from %s) not found at %s%s%s: %s",
                f->path, f->altlink, what, want, section, t->tried[0],
                t->tried[1][0] ? " nor " : "", t->tried[1], consequence);
}

bool altlink_open(const struct elf_file *f, const struct debug_dirs *dirs, struct elf_file *sup,
                  const struct gd_warner *w)
{
    struct alt_try t = { f, sup, { "", "" }, "", "" };
    char path[PATH_MAX * 2];

    if (!f->altlink)
        return false;
    if (named_path(f, path, sizeof path) && try_candidate(&t, path))
        return true;
    for (size_t i = 0; i < dirs->n; i++)
        if (build_id_path(path, sizeof path, dirs->v[i], f->altlink_id, f->altlink_id_len) &&
            try_candidate(&t, path))
            return true;
    for (size_t i = 0; i < dirs->n; i++)
        if (dwz_dir_path(f, dirs->v[i], path, sizeof path) && try_candidate(&t, path))
            return true;
    warn_unused(&t, w);
    return false;
}
