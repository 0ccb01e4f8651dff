/*
 * debuginfo.c — the debug directories of the command line and what the
 * user is told while debug info is searched (debuginfo.h).
 */
#include "debuginfo.h"
#include "stdstreams.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "fail.h"

/* A debuginfod download is reported once it has taken this long. */
#define PROGRESS_AFTER_SECONDS 1.0
/* Build-id bytes shown in the progress line. */
#define PROGRESS_ID_BYTES 6

void dirlist_add(struct dirlist *d, const char *dir)
{
    d->given = true;
    if (!*dir)
        return;
    xgrow(&d->v, &d->cap, d->n + 2, sizeof *d->v);
    d->v[d->n++] = dir;
    d->v[d->n] = NULL;
}

void dirlist_add_all(struct dirlist *d, const struct dirlist *from)
{
    for (size_t i = 0; i < from->n; i++)
        dirlist_add(d, from->v[i]);
    d->given |= from->given;
}

void dirlist_free(struct dirlist *d)
{
    free(d->v);
    memset(d, 0, sizeof *d);
}

int dirlist_option(struct dirlist *d, const char *cmd, int argc, char **argv, int i)
{
    size_t len = strlen(DEBUG_DIR_OPTION);
    if (strncmp(argv[i], DEBUG_DIR_OPTION, len) != 0)
        return 0;
    if (argv[i][len] == '=') {
        dirlist_add(d, argv[i] + len + 1);
        return 1;
    }
    if (argv[i][len] != 0)
        return 0;
    if (i + 1 >= argc) {
        die_msg("%s%s" DEBUG_DIR_OPTION " needs a directory ('' for none)", cmd ? cmd : "",
                cmd ? ": " : "");
        return -1;
    }
    dirlist_add(d, argv[i + 1]);
    return 2;
}

static void warn(void *ctx, const char *msg)
{
    (void)ctx;
    stdout_flush();
    fprintf(stderr, "goinspect: warning: %s\n", msg);
}

/* ---- The download progress line ------------------------------------------ */

static bool progress_shown;

static void format_size(char *buf, size_t cap, uint64_t bytes)
{
    if (bytes < 1000)
        snprintf(buf, cap, "%" PRIu64 " B", bytes);
    else if (bytes < 1000 * 1000)
        snprintf(buf, cap, "%.1f kB", (double)bytes / 1e3);
    else
        snprintf(buf, cap, "%.1f MB", (double)bytes / 1e6);
}

static void progress_print(const struct gd_download *d, bool tty)
{
    const char *base = strrchr(d->path, '/') ? strrchr(d->path, '/') + 1 : d->path;
    char id[2 * PROGRESS_ID_BYTES + 4] = "";
    for (size_t i = 0; i < d->build_id_len && i < PROGRESS_ID_BYTES; i++)
        snprintf(id + 2 * i, sizeof id - 2 * i, "%02x", d->build_id[i]);
    if (d->build_id_len > PROGRESS_ID_BYTES)
        strcat(id, "...");
    char size[64] = "", got[24], all[24];
    if (d->total) {
        format_size(got, sizeof got, d->received);
        format_size(all, sizeof all, d->total);
        snprintf(size, sizeof size, ": %s of %s", got, all);
    }
    fprintf(stderr, "%sgoinspect: downloading debug info for %s (build-id %s) from debuginfod%s%s",
            tty ? "\r" : "", base, id, size, tty ? "\033[K" : "\n");
    fflush(stderr);
}

/* After a second, one line; on a terminal it is rewritten in place as the
 * download goes on, and ended when it is over. */
static void on_download(void *ctx, const struct gd_download *d)
{
    (void)ctx;
    bool tty = isatty(STDERR_FILENO);
    if (d->done) {
        if (progress_shown && tty)
            fputc('\n', stderr);
        progress_shown = false;
        return;
    }
    if (d->seconds < PROGRESS_AFTER_SECONDS || (progress_shown && !tty))
        return;
    progress_print(d, tty);
    progress_shown = true;
}

void debuginfo_options(const struct dirlist *d, struct gd_open_options *oo)
{
    static const char *const none[] = { NULL };
    memset(oo, 0, sizeof *oo);
    oo->debug_dirs = !d->given ? NULL : d->n ? d->v : none;
    oo->warn = warn;
    oo->progress = on_download;
}
