/*
 * gcore.c — `goinspect [--json] gcore [-o FILE] [--all] [--force]
 * [--no-precopy] PID`: a core file of a live process (any process: it
 * need not link libgort), written with attach's snapshot-then-release
 * discipline.
 *
 * Before the stop: the plan of what the core holds (dumpfilter.h), the
 * process's facts for the notes, and, where the kernel keeps soft-dirty
 * bits, a copy of every page that holds something (coremem.h).  In the
 * stop: every thread's registers, the mappings again, and a copy of the
 * pages written since the pre-copy (or of every page, without soft-dirty
 * bits) into memory.  After the stop: the file is written, its headers and
 * notes last (corewrite.h), and given its name only when it is complete
 * (outfile.h).  The target is released on every path; goinspect
 * interrupted by a signal leaves it running and untraced, and no file.
 */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "command.h"
#include "coremem.h"
#include "corewrite.h"
#include "json.h"
#include "outfile.h"
#include "output.h"
#include "procnotes.h"
#include "stdstreams.h"
#include "textfmt.h"
#include "trace.h"
#include "tracees.h"

enum {
    PRECOPY_STAGE = 32 << 20,   /* the buffer of the pre-copy, and of the stop after it */
    MIN_STAGE = 8 << 20,
};

struct gcore_opts {
    pid_t pid;
    const char *out;
    bool all, force, no_precopy, json;
};

/* Everything one dump holds. */
struct dump {
    const struct gcore_opts *o;
    struct target *t;
    struct outfile out;
    bool out_open;
    struct coremem mem;
    struct pagemap pm;
    struct stager stage;
    struct copy_list copy;
    struct copy_stats precopy, stop;
    struct cw_process proc;
    char *auxv;
    struct cw_thread *threads;
    size_t nthreads;
    uint64_t size, allocated;
    size_t nsegs;
    int64_t t0;
};

static void usage(void)
{
    stdio_printf(stdout,
                 "usage: goinspect [--json] gcore [-o FILE] [--all] [--force] [--no-precopy] PID\n\n"
                 "Writes a core file of process PID (any process; goinspect core reads it, and so\n"
                 "do gdb and eu-stack), stopping it only while its memory is copied.  It holds\n"
                 "every thread's registers and the memory /proc/PID/coredump_filter selects, as\n"
                 "the kernel's core would; pages never touched are holes in a sparse file.\n\n"
                 "  -o FILE        the file to write (default: core.PID in this directory)\n"
                 "  --all          every readable mapping, whatever coredump_filter says\n"
                 "  --force        replace FILE if it exists (else that is an error)\n"
                 "  --no-precopy   copy every page during the stop, none before (a longer pause;\n"
                 "                 never touches the kernel's soft-dirty bits of PID)\n"
                 "  --json         machine-readable output (docs/json.md)\n");
}

/* 0, 1 to stop (help), or EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct gcore_opts *o)
{
    const char *pid = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) {
                die_msg("gcore: %s needs a file name", a);
                return EXIT_USAGE;
            }
            o->out = argv[++i];
        } else if (!strncmp(a, "--output=", 9)) {
            o->out = a + 9;
        } else if (!strcmp(a, "--all")) {
            o->all = true;
        } else if (!strcmp(a, "--force") || !strcmp(a, "-f")) {
            o->force = true;
        } else if (!strcmp(a, "--no-precopy")) {
            o->no_precopy = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 1;
        } else if (a[0] == '-' && a[1]) {
            die_msg("gcore: unknown option '%s' (see goinspect help gcore)", a);
            return EXIT_USAGE;
        } else if (pid) {
            die_msg("gcore: one process at a time ('%s' and '%s')", pid, a);
            return EXIT_USAGE;
        } else {
            pid = a;
        }
    }
    if (!pid) {
        die_msg("gcore: which process? (usage: goinspect gcore [-o FILE] PID)");
        return EXIT_USAGE;
    }
    if (!parse_pid(pid, &o->pid)) {
        die_msg("gcore: '%s' is not a process id", pid);
        return EXIT_USAGE;
    }
    if (o->out && !o->out[0]) {
        die_msg("gcore: -o needs a file name");
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- Signals ----------------------------------------------------------------- */

/* Outside the stop (tracees.h has the handlers during it): no file is
 * left behind, and the target was not stopped. */
static void on_signal(int sig)
{
    outfile_on_signal();
    const char *m = sig == SIGINT    ? "\ngoinspect: gcore: interrupted by SIGINT: no core written\n"
                    : sig == SIGTERM ? "\ngoinspect: gcore: interrupted by SIGTERM: no core written\n"
                    : sig == SIGHUP  ? "\ngoinspect: gcore: interrupted by SIGHUP: no core written\n"
                                     : "\ngoinspect: gcore: interrupted by SIGQUIT: no core written\n";
    if (write(2, m, strlen(m)) < 0) {
        /* nowhere else to say it */
    }
    _exit(1);
}

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
enum { NFATAL = sizeof fatal_signals / sizeof *fatal_signals };

/* Blocks (or unblocks) the fatal signals: from the moment the file has
 * its name, a signal no longer means "no core written"; it takes effect,
 * with its default action, once the result is printed. */
static void hold_signals(bool on)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NFATAL; i++)
        sigaddset(&set, fatal_signals[i]);
    sigprocmask(on ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static void guard_signals(bool on, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigfillset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    for (size_t i = 0; i < NFATAL; i++) {
        if (on)
            sigaction(fatal_signals[i], &sa, &old[i]);
        else
            sigaction(fatal_signals[i], &old[i], NULL);
    }
    tracees_on_fatal(on ? outfile_on_signal : NULL);
}

/* ---- The dump ---------------------------------------------------------------- */

static uint64_t mem_available(void)
{
    char *text;
    uint64_t kb = 0;
    if (read_small_file("/proc/meminfo", &text) >= 0) {
        const char *p = strstr(text, "MemAvailable:");
        if (p)
            kb = strtoull(p + 13, NULL, 10);
        free(text);
    }
    return kb * 1024;
}

/* The buffer the stop copies into: the pages it will copy, as far as
 * memory allows (the rest is written to the file during the stop). */
static int stage_size(struct dump *d, size_t *bytes, struct fail *f)
{
    uint64_t want = PRECOPY_STAGE;
    if (!d->mem.precopied) {
        if (coremem_resident(&d->mem, &d->pm, &want, f) < 0)
            return -1;
        want += want / 32 + MIN_STAGE;
    }
    uint64_t room = mem_available() / 2;
    if (want > room)
        want = room > MIN_STAGE ? room : MIN_STAGE;
    *bytes = (size_t)want;
    return 0;
}

/* A step before the stop failed: because the process exited (or called
 * execve) meanwhile, or for the reason in f. */
static int prepare_fail(struct dump *d, struct fail *f, const char *when)
{
    struct fail why;
    if (target_changed(d->t, &why) < 0) {
        *f = why;
        return -1;
    }
    return fail_wrap(f, "%s%s", d->t->what, when);
}

static int prepare(struct dump *d, struct fail *f)
{
    const struct gcore_opts *o = d->o;
    struct live_options lo = {false};
    if (target_live_open(o->pid, &lo, &d->t, f) < 0)
        return -1;
    char name[64];
    snprintf(name, sizeof name, "core.%d", (int)o->pid);
    if (outfile_create(&d->out, o->out ? o->out : name, o->force, f) < 0)
        return -1;
    d->out_open = true;
    if (coremem_plan(d->t, o->all, &d->mem, f) < 0 || pagemap_open(o->pid, &d->pm, f) < 0 ||
        procnotes_process(o->pid, &d->proc, &d->auxv, f) < 0)
        return prepare_fail(d, f, "");
    trace_mark("plan");
    if (!o->no_precopy && softdirty_available()) {
        stager_init(&d->stage, o->pid, PRECOPY_STAGE);
        int rc = softdirty_clear(o->pid, f) < 0 ? -1
                 : coremem_precopy(&d->mem, &d->pm, &d->stage, d->out.fd, &d->precopy, f);
        stager_free(&d->stage);
        if (rc < 0)
            return prepare_fail(d, f, ": before the stop");
    }
    size_t stage;
    if (stage_size(d, &stage, f) < 0)
        return prepare_fail(d, f, "");
    stager_init(&d->stage, o->pid, stage);
    trace_mark("buffer");
    return 0;
}

/* What the stop does; the caller releases the target. */
static int in_stop(struct dump *d, struct fail *f)
{
    struct target *t = d->t;
    d->proc.mono_ns = mono_ns();
    d->proc.wall_ns = (int64_t)wall_ns();
    trace_mark("stop");
    d->threads = procnotes_threads(t, &d->nthreads);
    trace_mark("registers");
    if (target_mappings(t, f) < 0 || coremem_settle(&d->mem, t, &d->pm, f) < 0)
        return -1;
    trace_mark("mappings");
    if (coremem_runs(&d->mem, &d->pm, &d->copy, f) < 0)
        return -1;
    trace_mark("pagemap");
    /* Into memory; what does not fit goes to the file now. */
    struct copy_pos pos = {0, 0};
    while (stager_fill(&d->stage, &d->copy, &pos) && !d->stage.err)
        if (stager_flush(&d->stage, &d->copy, d->out.fd, &d->stop, f) < 0)
            return fail_wrap(f, "%s", d->out.path);
    return 0;
}

static int stop_and_copy(struct dump *d, struct fail *f)
{
    struct target *t = d->t;
    if (target_stop(t, f) < 0)
        return -1;
    int rc = in_stop(d, f);
    trace_mark("copy");
    target_release(t);
    trace_mark("release");
    /* killed while stopped: whatever failed, that is why */
    if (t->exited || (rc == 0 && d->stage.err == ESRCH))
        return fail_set(f, "%s exited during the dump", t->what);
    if (rc < 0)
        return -1;
    if (d->stage.err)
        return fail_set(f, "%s: cannot read its memory: %s", t->what, strerror(d->stage.err));
    return 0;
}

/* The segments and mapped files of the notes, from the mappings at the
 * stop; names holds the files' names. */
static void segments(struct dump *d, struct cw_segment **segs, struct cw_file **files,
                     size_t *nfiles, char ***names)
{
    const struct coremem *m = &d->mem;
    *segs = xcalloc(m->nfinal + 1, sizeof **segs);
    *files = xcalloc(m->nfinal + 1, sizeof **files);
    *names = xcalloc(m->nfinal + 1, sizeof **names);
    *nfiles = 0;
    for (size_t i = 0; i < m->nfinal; i++) {
        const struct dump_map *x = m->final[i];
        const struct mapping *mp = &x->m;
        (*segs)[i] = (struct cw_segment){
            .vaddr = mp->start, .memsz = mp->end - mp->start,
            .offset = x->dump_len ? x->file_off : m->data_end, .filesz = x->dump_len,
            .flags = (mp->perms[0] == 'r' ? PF_R : 0) | (mp->perms[1] == 'w' ? PF_W : 0) |
                     (mp->perms[2] == 'x' ? PF_X : 0),
        };
        if (!x->file)
            continue;
        char name[4200];
        dump_map_name(mp, name, sizeof name);
        (*names)[*nfiles] = xstrdup(name);
        (*files)[*nfiles] = (struct cw_file){mp->start, mp->end, mp->offset, (*names)[*nfiles]};
        (*nfiles)++;
    }
    d->nsegs = m->nfinal;
}

static int write_headers(struct dump *d, struct fail *f)
{
    struct cw_segment *segs;
    struct cw_file *files;
    char **names;
    size_t nfiles;
    segments(d, &segs, &files, &nfiles, &names);
    struct cw_core c = {&d->proc, d->threads, d->nthreads, segs, d->nsegs, files, nfiles};
    int rc = corewrite_headers(d->out.fd, &c, d->mem.data_end, &d->size, f);
    for (size_t i = 0; i < nfiles; i++)
        free(names[i]);
    free(names);
    free(files);
    free(segs);
    return rc;
}

static int finish(struct dump *d, struct fail *f)
{
    int fd = d->out.fd;
    if (stager_flush(&d->stage, &d->copy, fd, &d->stop, f) < 0 ||
        copy_clear(fd, &d->mem.clear, f) < 0)
        return fail_wrap(f, "%s", d->out.path);
    trace_mark("write");
    procnotes_thread_times(d->o->pid, d->threads, d->nthreads);
    if (write_headers(d, f) < 0)
        return fail_wrap(f, "%s", d->out.path);
    struct stat st;
    d->allocated = fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
    hold_signals(true);
    if (outfile_commit(&d->out, f) < 0) {
        hold_signals(false);
        return -1;
    }
    d->out_open = false;
    trace_mark("headers");
    return 0;
}

static void dump_free(struct dump *d)
{
    if (d->out_open)
        outfile_discard(&d->out);
    stager_free(&d->stage);
    copy_list_free(&d->copy);
    pagemap_close(&d->pm);
    coremem_free(&d->mem);
    procnotes_free(d->threads, d->nthreads);
    free(d->auxv);
    if (d->t)
        target_close(d->t);
}

/* ---- Output ------------------------------------------------------------------ */

static void print_text(struct out *o, const struct dump *d)
{
    char size[32], alloc[32], pause[32];
    fmt_size(d->size, size, sizeof size);
    fmt_size(d->allocated, alloc, sizeof alloc);
    fmt_pause(d->t->pause_ns, pause, sizeof pause);
    outf(o, "wrote %s (%s, %s allocated) of %s: %zu thread%s, paused %s\n", d->out.path, size,
         alloc, d->t->what, d->nthreads, d->nthreads == 1 ? "" : "s", pause);
}

static void print_json(struct out *o, const struct dump *d)
{
    struct json j;
    json_init(&j, o);
    json_obj(&j);
    json_kstr(&j, "target", "process");
    json_ki64(&j, "pid", d->t->pid);
    json_kstr(&j, "name", d->t->name);
    json_kstr(&j, "exe", d->t->exe);
    json_kstr(&j, "file", d->out.path);
    json_ku64(&j, "size", d->size);
    json_ku64(&j, "allocated", d->allocated);
    json_ku64(&j, "threads", d->nthreads);
    json_ku64(&j, "segments", d->nsegs);
    json_ku64(&j, "pause_ns", d->t->pause_ns);
    json_kbool(&j, "precopy", d->mem.precopied);
    json_ku64(&j, "precopied_bytes", d->precopy.written);
    json_ku64(&j, "stop_copied_bytes", d->copy.bytes);
    json_ku64(&j, "elapsed_ns", (uint64_t)(mono_ns() - d->t0));
    json_obj_end(&j);
    json_end(&j);
}

static int run_gcore(const struct global_opts *g, int argc, char **argv)
{
    struct gcore_opts o = {0, NULL, false, false, false, g->json};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? EXIT_OK : rc;
    trace_mark("start");
    struct sigaction old[NFATAL];
    guard_signals(true, old);
    struct dump d;
    memset(&d, 0, sizeof d);
    d.o = &o;
    d.t0 = mono_ns();
    d.pm.fd = -1;
    struct fail f;
    if (prepare(&d, &f) < 0 || stop_and_copy(&d, &f) < 0 || finish(&d, &f) < 0) {
        dump_free(&d);
        guard_signals(false, old);
        die_msg("%s", f.msg);
        return EXIT_FAIL;
    }
    struct out out;
    out_init(&out, 1);
    if (o.json)
        print_json(&out, &d);
    else
        print_text(&out, &d);
    out_flush(&out);
    out_free(&out);
    dump_free(&d);
    guard_signals(false, old);
    hold_signals(false);
    return EXIT_OK;
}

const struct command cmd_gcore = {
    .name = "gcore",
    .args = "[-o FILE] [--all] PID",
    .summary = "write a core file of a running process, stopping it only to copy",
    .run = run_gcore,
    .usage = usage,
};
