/*
 * debuglink.c — finding a binary's separate debug file the way gdb does:
 * by build-id under the debug directory (DIR/.build-id/xx/rest.debug),
 * then by the .gnu_debuglink name next to the binary, in its .debug/
 * subdirectory, and under DIR plus the binary's own directory.  A debuglink
 * candidate must match the recorded CRC-32.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

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

bool build_id_path(char *buf, size_t cap, const char *dir, const uint8_t *id, size_t len)
{
    if (!id || len < 2)
        return false;
    int n = snprintf(buf, cap, "%s/.build-id/%02x/", dir, id[0]);
    for (size_t i = 1; i < len && n > 0 && (size_t)n < cap - 8; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%02x", id[i]);
    if (n <= 0 || (size_t)n >= cap - 8)
        return false;
    memcpy(buf + n, ".debug", 7);
    return true;
}

bool debuglink_search(const struct elf_file *f, const char *debug_dir,
                      bool (*try_path)(void *ctx, const char *path, bool by_build_id),
                      void *ctx)
{
    char path[PATH_MAX * 2];
    char dir[PATH_MAX];

    if (!debug_dir)
        debug_dir = "/usr/lib/debug";

    if (build_id_path(path, sizeof path, debug_dir, f->build_id, f->build_id_len) &&
        try_path(ctx, path, true))
        return true;

    if (!f->debuglink || strchr(f->debuglink, '/'))
        return false;
    char *real = realpath(f->path, NULL);
    const char *p = real ? real : f->path;
    const char *slash = strrchr(p, '/');
    if (slash) {
        size_t len = (size_t)(slash - p);
        if (len >= sizeof dir)
            len = sizeof dir - 1;
        memcpy(dir, p, len);
        dir[len] = 0;
    } else {
        strcpy(dir, ".");
    }
    free(real);

    const char *fmts[] = { "%s/%s", "%s/.debug/%s" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, fmts[i], dir, f->debuglink);
        if (try_path(ctx, path, false))
            return true;
    }
    snprintf(path, sizeof path, "%s%s%s/%s", debug_dir, dir[0] == '/' ? "" : "/", dir,
             f->debuglink);
    return try_path(ctx, path, false);
}
