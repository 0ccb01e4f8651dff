/*
 * session.h — one attach: the target, its descriptor, modules, the current
 * snapshot and the model built from it; and the subcommands that print
 * views of it (summary, goroutines, goroutine, threads, maps, ptr, heap,
 * spans, memstats), shared by `goinspect attach PID COMMAND` and the
 * interactive prompt.
 */
#ifndef GOINSPECT_SESSION_H
#define GOINSPECT_SESSION_H

#include <stdbool.h>
#include <sys/types.h>

#include "fail.h"
#include "goroutines.h"
#include "json.h"
#include "modules.h"
#include "output.h"
#include "rtdesc.h"
#include "snapshot.h"
#include "target.h"

struct session {
    const char *cmd;        /* "attach" or "core", for messages */
    bool json;              /* --json */
    struct target *t;
    struct rtdesc d;
    bool have_desc;
    struct modules mods;
    struct snap_options so;
    bool keep_stacks;       /* keep stack copies after unwinding (ptr, the prompt) */
    struct snapshot s;
    struct model m;
    bool have_snapshot;
    struct out out;         /* stdout */
    const struct gd_open_options *open_opts; /* binaries are opened with these
                                                (NULL: libgidwarf's defaults) */
};

/* Takes over the opened target t (closed by session_close, also after a
 * failure), finds and reads its runtime descriptor, and takes the first
 * snapshot (so->heap says how much of the heap it copies). */
int session_open(struct session *ss, struct target *t, const struct snap_options *so,
                 bool keep_stacks, struct fail *f);
/* A new snapshot (the prompt's refresh). */
int session_refresh(struct session *ss, struct fail *f);
void session_close(struct session *ss);

/* Options every subcommand takes. */
struct subopts {
    bool json;
    /* these arguments need copied what that subcommand needs (NULL: what
     * their own does) */
    const struct subcommand *needs;
};

struct subcommand {
    const char *name;
    const char *synopsis;   /* its arguments */
    const char *help;       /* one line */
    /* Parses argv (argv[0] is the name) into a malloc'ed options block
     * starting with struct subopts; on a usage error prints
     * "goinspect: NAME: WHY" and returns -1. */
    int (*parse)(int argc, char **argv, void **opts);
    /* Prints the view; returns an exit code. */
    int (*run)(struct session *ss, void *opts);
    bool needs_stacks;      /* uses stack memory after unwinding */
    int goroutines;         /* what of the goroutines it needs copied (enum snap_goroutines) */
    int heap;               /* how much of the heap it needs copied (enum heap_level) */
    bool memprof;           /* it needs the allocation profile copied */
};

extern const struct subcommand sub_summary, sub_goroutines, sub_goroutine, sub_threads, sub_maps,
    sub_ptr, sub_heap, sub_spans, sub_memstats, sub_heap_profile;
extern const struct subcommand *const subcommands[];
const struct subcommand *subcommand_find(const char *name);
/* Prints each subcommand's synopsis and help (usage and the prompt's help). */
void subcommands_help(void);

/* Runs one subcommand line (argv[0] is its name) on the session; returns
 * the exit code (2 for a usage error). */
int session_run(struct session *ss, int argc, char **argv);

struct global_opts;
/* Opens the target named by what (a pid, a core's path) with opts. */
typedef int (*target_open_fn)(const void *what, const void *opts, struct target **t,
                              struct fail *f);
/* The shared half of `attach` and `core` (subcommands.c): checks COMMAND
 * [ARGS] (argv[0..argc); none: summary, or the prompt when stdin is a
 * terminal), opens the target, takes the snapshot and runs it; returns the
 * exit code.  cmd names the command in messages. */
int session_command(const struct global_opts *g, bool json, struct snap_options *so,
                    const char *cmd, int argc, char **argv, target_open_fn open,
                    const void *what, const void *opts);

/* Helpers the subcommands share (attach.c). */
/* Prints the header line of a snapshot in text mode (nonstop notes,
 * warnings go to stderr). */
void session_notes(struct session *ss);
/* The heap of the snapshot, or NULL after printing why there is none
 * ("goinspect: CMD: ..." on stderr; the command then exits 1). */
const struct heapsnap *session_heap(struct session *ss, const char *cmd);
/* How the snapshot was taken, for the views' last line: "target paused
 * 215us", "target paused 0 (--nonstop)", "read from the core". */
void session_pause_text(struct session *ss, char *buf, size_t len);
/* The common JSON members of every view: pid, pause_ns, nonstop, ... */
void session_json_common(struct session *ss, struct json *j);
/* Writes a frame object {function, file, line, module[, pc, inlined]}. */
void json_frame(struct session *ss, struct json *j, const struct xframe *f, bool with_pc);
/* The same members without the braces (for objects that add their own). */
void json_frame_members(struct session *ss, struct json *j, const struct xframe *f, bool with_pc);
/* Parses argv[1..] as flags of the NULL-terminated list (each sets
 * values[i]) and --json; -1 after a usage error. */
int parse_flags(const char *cmd, int argc, char **argv, const char *const *flags, bool *values,
                struct subopts *common);
/* The parse of a subcommand that takes no argument but --json. */
int parse_plain(int argc, char **argv, void **out);
/* Parses a decimal count ("-n 10"); false when it is not one. */
bool parse_count(const char *s, long *out);
/* Prints a usage error "goinspect: CMD: fmt" (returns -1). */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The interactive prompt (repl.c). */
int repl_run(struct session *ss);

#endif
