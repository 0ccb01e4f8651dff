/*
 * record.c — `goinspect record PID [-d SECONDS] [-r HZ] [-o FILE]
 * [-f pprof|folded|svg|json] [--idle] [--threads] [--nonstop]
 * [--mode perf|ptrace|nonstop]`: a sampling profiler of a running libgort
 * program, from outside it.
 *
 * The samples come from perf_event_open (perf_sampler.h), which never stops
 * the target; where it cannot be used, from a stop per sample or, with
 * --nonstop, from reading without stopping (ptrace_sampler.h).  Each sample
 * is unwound from its registers and its stack copy with the CFI unwinder,
 * given to its goroutine or thread (record_owner.h), and aggregated
 * (recording.h); the file is written at the end, also after Ctrl-C,
 * SIGTERM or the target's exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bytebuf.h"
#include "clock.h"
#include "command.h"
#include "goroutines.h"
#include "heapsnap.h"
#include "outfile.h"
#include "perf_sampler.h"
#include "ptrace_sampler.h"
#include "record_owner.h"
#include "recording.h"
#include "session.h"
#include "stdstreams.h"

enum rec_format { FMT_PPROF, FMT_FOLDED, FMT_SVG, FMT_JSON };
static const char *const format_names[] = {"pprof", "folded", "svg", "json"};
static const char *const format_ext[] = {"pb.gz", "folded", "svg", "json"};

#define STACK_BYTES 16384
#define REFRESH_NS 100000000        /* the G table is read again this often (perf) */
#define MISS_REFRESH_NS 5000000     /* or after a sample found no goroutine and the
                                       G table changed, at most this often */

struct rec_opts {
    pid_t pid;
    double seconds;         /* 0: until interrupted */
    unsigned hz;
    const char *out;
    enum rec_format format;
    bool idle, threads;
    bool mode_set;
    enum rec_mode mode;
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void usage(void)
{
    stdio_printf(stdout,
        "usage: goinspect [--debug-file-directory DIR]... record PID [-d SECONDS] [-r HZ]\n"
        "                 [-o FILE] [-f pprof|folded|svg|json] [--idle] [--threads]\n"
        "                 [--nonstop] [--mode perf|ptrace|nonstop]\n\n"
        "Samples every thread of process PID (a program linked with libgort) HZ times a\n"
        "second of its CPU time, unwinds and symbolizes each sample with its inlined\n"
        "frames, gives it to the goroutine that ran it, and writes a profile.\n\n"
        "  -d SECONDS   how long to record (default: until Ctrl-C or SIGTERM)\n"
        "  -r HZ        samples per second of each thread's CPU time (default 100)\n"
        "  -o FILE      where to write (default record-PID.EXT; '-' for stdout)\n"
        "  -f FORMAT    pprof (gzipped profile.proto, for go tool pprof; the default),\n"
        "               folded (flamegraph.pl's 'a;b;c N' lines), svg (a flame graph),\n"
        "               json (docs/json.md)\n"
        "  --idle       also sample parked goroutines: where they wait, over time\n"
        "  --threads    a frame of its own for each goroutine and thread (folded, svg)\n"
        "  --nonstop    never stop the process, even without perf_event_open: samples\n"
        "               then show only each running goroutine's start function\n"
        "  --mode MODE  perf (perf_event_open, never stops the process), ptrace (stops\n"
        "               it for each sample), nonstop (as --nonstop); the default is\n"
        "               perf, else ptrace where perf_event_open is not allowed\n\n"
        "Ctrl-C, SIGTERM and SIGHUP end the recording and write the file, as does the\n"
        "process's exit (the profile then ends there).  GOINSPECT_RECORD_NO_PERF=1 in\n"
        "the environment acts as if perf_event_open were not allowed (docs/commands.md).\n");
}

static int parse_number(const char *opt, const char *s, double lo, double hi, double *v)
{
    char *end;
    errno = 0;
    double d = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !(d >= lo && d <= hi)) {
        die_msg("record: %s wants a number from %g to %g, not '%s'", opt, lo, hi,
                s ? s : "");
        return -1;
    }
    *v = d;
    return 0;
}

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static int parse_value_opt(struct rec_opts *o, const char *opt, const char *v)
{
    double d;
    int k;
    if (strcmp(opt, "-d") == 0) {
        if (parse_number("-d", v, 0.001, 1e6, &d) < 0)
            return -1;
        o->seconds = d;
    } else if (strcmp(opt, "-r") == 0) {
        if (parse_number("-r", v, 1, 10000, &d) < 0)
            return -1;
        o->hz = (unsigned)d;
    } else if (strcmp(opt, "-o") == 0) {
        if (!v || !*v)
            return usage_error("record", "-o wants a file name");
        o->out = v;
    } else if (strcmp(opt, "-f") == 0) {
        if ((k = find_name(format_names, 4, v)) < 0)
            return usage_error("record", "-f wants pprof, folded, svg or json, not '%s'",
                               v ? v : "");
        o->format = (enum rec_format)k;
    } else {
        if ((k = find_name(rec_mode_names, 3, v)) < 0)
            return usage_error("record", "--mode wants perf, ptrace or nonstop, not '%s'",
                               v ? v : "");
        o->mode = (enum rec_mode)k;
        o->mode_set = true;
    }
    return 0;
}

/* 1: help was printed; 0: parsed; -1: a usage error. */
static int parse_args(int argc, char **argv, struct rec_opts *o)
{
    static const char *const with_value[] = {"-d", "-r", "-o", "-f", "--mode", NULL};
    bool have_pid = false;
    memset(o, 0, sizeof *o);
    o->hz = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 1;
        }
        int k = find_name(with_value, 5, a);
        if (k >= 0) {
            if (parse_value_opt(o, a, i + 1 < argc ? argv[++i] : NULL) < 0)
                return -1;
        } else if (strcmp(a, "--idle") == 0) {
            o->idle = true;
        } else if (strcmp(a, "--threads") == 0) {
            o->threads = true;
        } else if (strcmp(a, "--nonstop") == 0) {
            o->mode = REC_NONSTOP;
            o->mode_set = true;
        } else if (a[0] == '-') {
            return usage_error("record", "unknown option '%s' (see goinspect help record)", a);
        } else if (have_pid) {
            return usage_error("record", "unexpected argument '%s' (see goinspect help record)",
                               a);
        } else if (!parse_pid(a, &o->pid)) {
            return usage_error("record", "'%s' is not a process id", a);
        } else {
            have_pid = true;
        }
    }
    if (!have_pid)
        return usage_error("record", "which process? (usage: goinspect record PID [-d "
                                     "SECONDS] ...)");
    return 0;
}

/* ---- Recording -------------------------------------------------------------------- */

struct recorder {
    struct rec_opts o;
    struct session ss;
    struct recording rec;
    struct unwinder uw;
    struct gindex gx;
    struct perf_sampler *ps;
    uint64_t *pcs;
    int64_t last_refresh, start;
    bool gone;              /* the target exited */
    char gone_msg[4400];
    size_t refreshes;
    uint64_t generation;    /* the G table's generation counter at the last refresh */
    struct cpu_clocks clocks;   /* the threads' CPU time (snapshot modes) */
};

/* The runtime's G table generation counter (0 when unreadable). */
static uint64_t generation(struct recorder *rc)
{
    uint64_t g = 0;
    if (rc->ss.have_desc)
        target_read_u64(rc->ss.t, rc->ss.d.generation_addr, &g);
    return g;
}

/* Whether pid runs yet (not a zombie); only a missing /proc entry says
 * it is gone, not a failure to open it. */
static bool target_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno != ENOENT && errno != ESRCH;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* A new snapshot; false (and gone set) when the target is no more. */
static bool refresh(struct recorder *rc)
{
    struct fail f;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    /* a stop is short: a signal waits for the release, then ends the recording */
    sigprocmask(SIG_BLOCK, &block, &old);
    rc->generation = generation(rc);
    int r = session_refresh(&rc->ss, &f);
    sigprocmask(SIG_SETMASK, &old, NULL);
    rc->last_refresh = mono_ns();
    rc->refreshes++;
    if (r < 0) {
        rc->gx.n = 0;       /* it named goroutines of the snapshot just freed */
        if (!target_alive(rc->o.pid)) {     /* whatever the failed read took it for */
            rc->gone = true;
            snprintf(rc->gone_msg, sizeof rc->gone_msg, "%s exited", rc->ss.t->what);
        }
        return false;
    }
    gindex_build(&rc->gx, &rc->ss.s);
    return true;
}

static void on_perf_sample(void *ctx, const struct perf_sample *s)
{
    struct recorder *rc = ctx;
    if (!s->has_regs)
        return;
    struct cfi_regs regs;
    cfi_regs_from_thread(&s->regs, &regs);
    struct unwind_mem mem = {s->regs.rsp, s->regs.rsp + s->stack_len, s->stack, NULL};
    enum unwind_stop stop;
    int n = unwind_stack(&rc->uw, &regs, &mem, rc->pcs, NULL, MAX_FRAMES, &stop);
    if (stop == UNWIND_MEMORY)
        rc->rec.cut++;
    const struct snap_g *g = gindex_find(&rc->gx, &rc->ss.s, s->regs.rsp);
    if (!g && mono_ns() - rc->last_refresh > MISS_REFRESH_NS &&
        generation(rc) != rc->generation && refresh(rc))
        g = gindex_find(&rc->gx, &rc->ss.s, s->regs.rsp);
    char name[16];
    thread_name_of(rc->ss.t, s->tid, name);
    struct rec_owner o;
    if (g)
        owner_of_goroutine(&rc->ss.s, g, "running", s->tid, name, &o);
    else
        owner_of_thread(s->tid, name, &o);
    rec_add(&rc->rec, rc->pcs, (uint32_t)n, &o, s->period_ns, true);
}

static void progress(struct recorder *rc, int64_t now, bool last)
{
    static int64_t shown;
    if (!isatty(2) || (!last && now - shown < 250000000))
        return;
    shown = now;
    double secs = (double)(now - rc->start) / 1e9;
    fprintf(stderr, "\rgoinspect: record: %s: %llu samples, %.0f/s, %llu lost   %s",
            rc->rec.target, (unsigned long long)rc->rec.samples,
            secs > 0 ? (double)rc->rec.cpu_samples / secs : 0.0,
            (unsigned long long)rc->rec.lost, last ? "\n" : "");
}

static bool should_stop(struct recorder *rc, int64_t now)
{
    if (stop_signal || rc->gone)
        return true;
    if (rc->o.seconds > 0 && now - rc->start >= (int64_t)(rc->o.seconds * 1e9))
        return true;
    if (!target_alive(rc->o.pid)) {
        rc->gone = true;
        snprintf(rc->gone_msg, sizeof rc->gone_msg, "%s exited", rc->rec.target);
        return true;
    }
    return false;
}

/* With --idle, the parked goroutines are sampled between two reads of the
 * buffers: at HZ, or as often as the buffers are read (100 times a second)
 * when that is less, each sample standing for the time since the last. */
static void run_perf(struct recorder *rc)
{
    int64_t next_idle = rc->start, last_idle = rc->start;
    for (;;) {
        int64_t now = mono_ns();
        if (should_stop(rc, now))
            break;
        perf_sampler_read(rc->ps, 10, on_perf_sample, rc);
        now = mono_ns();
        if (rc->o.idle && now >= next_idle) {
            if (refresh(rc))
                sample_parked(&rc->ss, &rc->rec, (uint64_t)(now - last_idle));
            last_idle = now;
            next_idle += (int64_t)rc->rec.period_ns;
            if (next_idle < now)
                next_idle = now;
        } else if (now - rc->last_refresh >= REFRESH_NS) {
            refresh(rc);
            perf_sampler_follow(rc->ps);
        }
        rc->rec.lost = perf_sampler_lost(rc->ps);
        progress(rc, now, false);
    }
    perf_sampler_read(rc->ps, 0, on_perf_sample, rc);   /* what is left */
    rc->rec.lost = perf_sampler_lost(rc->ps);
    if (perf_sampler_missed(rc->ps))
        fprintf(stderr, "goinspect: warning: %zu threads of %s were not sampled: out of file "
                        "descriptors (an event per thread and CPU; raise ulimit -n)\n",
                perf_sampler_missed(rc->ps), rc->rec.target);
}

static void sleep_until(int64_t t)
{
    int64_t d = t - mono_ns();
    if (d > 0) {
        struct timespec ts = {(time_t)(d / 1000000000), (long)(d % 1000000000)};
        nanosleep(&ts, NULL);
    }
}

/* The interval to the next snapshot: the period, jittered by up to half of
 * it either way, so that ticks never keep in step with a program that
 * does its work in periods of its own (a fixed rate would then see the
 * same phase of it every time). */
static int64_t jittered(struct recorder *rc)
{
    static uint64_t x = 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t p = (int64_t)rc->rec.period_ns;
    return p / 2 + (int64_t)(x % (uint64_t)(p > 0 ? p : 1));
}

static void run_snapshots(struct recorder *rc)
{
    int64_t next = rc->start;
    for (;;) {
        int64_t now = mono_ns();
        if (should_stop(rc, now))
            break;
        sleep_until(next);
        if (stop_signal)
            break;
        if (refresh(rc)) {
            sample_running(&rc->ss, &rc->rec, &rc->clocks);
            if (rc->o.idle)
                sample_parked(&rc->ss, &rc->rec, rc->rec.period_ns);
        }
        now = mono_ns();
        next += jittered(rc);
        if (next < now)
            next = now;     /* behind: the rate achieved says so */
        progress(rc, now, false);
    }
}

/* ---- Setting up, writing -------------------------------------------------------- */

static int open_live(struct recorder *rc, const struct global_opts *g,
                     struct gd_open_options *oo, struct fail *f)
{
    struct live_options lo = {rc->o.mode != REC_PTRACE};
    struct target *t;
    if (target_live_open(rc->o.pid, &lo, &t, f) < 0)
        return -1;
    /* a stopped snapshot copies the running goroutines' stacks only with
     * every stack */
    bool stacks = rc->o.idle || rc->o.mode == REC_PTRACE;
    struct snap_options so = {.nonstop = rc->o.mode != REC_PTRACE,
                              .goroutines = stacks ? SNAP_G_STACKS : SNAP_G_TABLE,
                              .heap = HEAP_NONE};
    debuginfo_options(&g->debug_dirs, oo);
    rc->ss.open_opts = oo;
    rc->ss.cmd = "record";
    if (session_open(&rc->ss, t, &so, false, f) < 0)
        return -1;
    /* every binary opened now, not while samples wait in the buffers */
    for (size_t i = 0; i < rc->ss.mods.n; i++)
        module_binary(&rc->ss.mods, &rc->ss.mods.v[i]);
    return 0;
}

static const char *paranoid_text(void)
{
    static char buf[16];
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    strcpy(buf, "unknown");
    if (f) {
        if (fgets(buf, sizeof buf, f))
            buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
    return buf;
}

/* The perf sampler, or the fallback the mode allows (with a note). */
static int choose_mode(struct recorder *rc, struct fail *f)
{
    if (rc->o.mode_set && rc->o.mode != REC_PERF)
        return 0;
    struct fail pf;
    const char *deny = getenv("GOINSPECT_RECORD_NO_PERF");
    if (deny && *deny) {
        fail_set(&pf, "perf_event_open: not used (GOINSPECT_RECORD_NO_PERF is set)");
    } else if (perf_sampler_open(rc->o.pid, rc->rec.period_ns, STACK_BYTES, &rc->ps, &pf) == 0) {
        rc->o.mode = REC_PERF;
        return 0;
    }
    if (rc->o.mode_set)
        return fail_set(f, "%s", pf.msg);
    fprintf(stderr, "goinspect: note: %s (perf_event_paranoid is %s): sampling with a "
                    "ptrace stop per sample instead\n", pf.msg, paranoid_text());
    rc->o.mode = REC_PTRACE;
    return 1;
}

static void default_name(const struct rec_opts *o, char *buf, size_t len)
{
    if (o->out)
        snprintf(buf, len, "%s", o->out);
    else
        snprintf(buf, len, "record-%d.%s", (int)o->pid, format_ext[o->format]);
}

/* The file's bytes, through the output buffer: the JSON streamed, the
 * others built first. */
static int write_to(struct recorder *rc, int fd, struct fail *f)
{
    struct out o;
    out_init(&o, fd);
    int r = 0;
    if (rc->o.format == FMT_JSON) {
        record_json_write(&rc->rec, &o);
    } else {
        struct bytebuf b = {0};
        switch (rc->o.format) {
        case FMT_PPROF: r = pprof_write(&rc->rec, &b, f); break;
        case FMT_FOLDED: folded_write(&rc->rec, rc->o.threads, &b); break;
        default: flamegraph_svg_write(&rc->rec, rc->o.threads, &b); break;
        }
        if (r == 0)
            out_mem(&o, (const char *)b.p, b.n);
        bb_free(&b);
    }
    if (r == 0 && (!out_flush(&o) || o.failed))
        r = fail_set(f, "%s", strerror(o.err ? o.err : EIO));
    out_free(&o);
    return r;
}

static int write_profile(struct recorder *rc, const char *path, struct fail *f)
{
    if (strcmp(path, "-") == 0) {
        stdout_flush();
        return write_to(rc, 1, f) < 0 ? fail_wrap(f, "standard output") : 0;
    }
    struct outfile of;
    if (outfile_create(&of, path, true, f) < 0)
        return -1;
    if (write_to(rc, of.fd, f) < 0) {
        outfile_discard(&of);
        return fail_wrap(f, "%s", path);
    }
    if (outfile_commit(&of, f) < 0) {
        outfile_discard(&of);
        return -1;
    }
    return 0;
}

/* goinspect's own CPU time so far, in nanoseconds. */
static int64_t own_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void summary(struct recorder *rc, const char *path, int64_t cpu_ns)
{
    struct recording *r = &rc->rec;
    double secs = (double)r->duration_ns / 1e9;
    char parked[64] = "";
    if (rc->o.idle)
        snprintf(parked, sizeof parked, " (%llu of goroutines parked)",
                 (unsigned long long)(r->samples - r->cpu_samples));
    fprintf(stderr, "goinspect: record: %llu samples%s in %.2f s, %.1f/s on CPU (%u Hz "
                    "asked per thread), %llu lost, mode %s; goinspect used %.1f ms of CPU "
                    "(%.1f us a sample); wrote %s\n",
            (unsigned long long)r->samples, parked, secs,
            secs > 0 ? (double)r->cpu_samples / secs : 0.0, r->hz,
            (unsigned long long)r->lost, rec_mode_names[r->mode], (double)cpu_ns / 1e6,
            r->samples ? (double)cpu_ns / 1e3 / (double)r->samples : 0.0,
            strcmp(path, "-") == 0 ? "standard output" : path);
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int record(struct recorder *rc, const struct global_opts *g)
{
    struct gd_open_options oo;
    struct fail f;
    char path[4200];
    default_name(&rc->o, path, sizeof path);
    /* the target is checked first: its errors say more than perf_event_open's */
    int fell_back = 0;
    if (open_live(rc, g, &oo, &f) < 0 || (fell_back = choose_mode(rc, &f)) < 0) {
        die_msg("record: %s", f.msg);
        return EXIT_FAIL;
    }
    if (fell_back) {            /* the ptrace fallback stops it: opened again for that */
        session_close(&rc->ss);
        if (open_live(rc, g, &oo, &f) < 0) {
            die_msg("record: %s", f.msg);
            return EXIT_FAIL;
        }
    }
    struct recording *r = &rc->rec;
    snprintf(r->target, sizeof r->target, "%s", rc->ss.t->what);
    r->mods = &rc->ss.mods;
    r->mode = rc->o.mode;
    unwinder_init(&rc->uw, &rc->ss.mods);
    rc->pcs = xmalloc(MAX_FRAMES * sizeof *rc->pcs);
    gindex_build(&rc->gx, &rc->ss.s);
    rc->last_refresh = mono_ns();
    rc->generation = generation(rc);
    install_stop_handlers();
    int64_t cpu0 = own_cpu_ns();
    rc->start = mono_ns();
    r->start_wall_ns = (int64_t)wall_ns();
    if (rc->o.mode == REC_PERF)
        run_perf(rc);
    else
        run_snapshots(rc);
    r->duration_ns = mono_ns() - rc->start;
    r->truncated = rc->gone;
    int64_t cpu_ns = own_cpu_ns() - cpu0;
    progress(rc, mono_ns(), true);
    if (rc->gone)
        fprintf(stderr, "goinspect: record: %s after %.2f s: the profile is truncated there\n",
                rc->gone_msg, (double)r->duration_ns / 1e9);
    else if (stop_signal)
        fprintf(stderr, "goinspect: record: stopped by %s\n", strsignal(stop_signal));
    int rcode = EXIT_OK;
    if (write_profile(rc, path, &f) < 0) {
        die_msg("record: %s", f.msg);
        rcode = EXIT_FAIL;
    } else {
        summary(rc, path, cpu_ns);
    }
    return rcode;
}

static int run_record(const struct global_opts *g, int argc, char **argv)
{
    struct recorder *rc = xcalloc(1, sizeof *rc);
    int p = parse_args(argc, argv, &rc->o);
    if (p != 0) {
        free(rc);
        return p > 0 ? EXIT_OK : EXIT_USAGE;
    }
    rec_init(&rc->rec, NULL);
    out_init(&rc->ss.out, 1);
    rc->rec.pid = rc->o.pid;
    rc->rec.hz = rc->o.hz;
    rc->rec.period_ns = 1000000000ull / rc->o.hz;
    rc->rec.idle = rc->o.idle;
    int code = record(rc, g);
    perf_sampler_close(rc->ps);
    rec_free(&rc->rec);
    if (rc->uw.mods)
        unwinder_free(&rc->uw);
    gindex_free(&rc->gx);
    cpu_clocks_free(&rc->clocks);
    free(rc->pcs);
    session_close(&rc->ss);
    out_flush(&rc->ss.out);
    out_free(&rc->ss.out);
    free(rc);
    return code;
}

const struct command cmd_record = {
    .name = "record",
    .args = "PID [-d SECONDS] [-f FORMAT]",
    .summary = "a CPU profile of a running libgort program, by goroutine",
    .run = run_record,
    .usage = usage,
};
