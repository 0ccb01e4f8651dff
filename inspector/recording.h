/*
 * recording.h — the samples `goinspect record` collects, aggregated: each
 * distinct stack (pcs, innermost first, PC_EXACT-tagged as unwind.h makes
 * them) is kept once, each distinct owner (the goroutine or the thread a
 * sample belongs to) once, and each (stack, owner) pair has its counts.
 *
 * The writers (pprof.c, folded.c, flamegraph_svg.c, record_json.c) read a
 * finished recording through rec_frames, which symbolizes a stack with its
 * inlined frames through the symbol cache.
 */
#ifndef GOINSPECT_RECORDING_H
#define GOINSPECT_RECORDING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"
#include "modules.h"
#include "symcache.h"
#include "u64map.h"

/* Who a sample belongs to: a goroutine, or a thread that ran none. */
struct rec_owner {
    bool goroutine;
    uint64_t goid;
    uint64_t gopc;          /* where it was created (0: unknown, goroutine 1) */
    char status[24];        /* "running", "waiting", ... */
    char wait[48];          /* its wait reason, "" when none */
    pid_t tid;              /* the thread it ran on (0: parked) */
    char thread[16];        /* that thread's name */
};

struct rec_stack {
    uint32_t first, n;      /* in pcs */
};

/* One (stack, owner) pair and its counts. */
struct rec_entry {
    uint32_t stack, owner;
    uint64_t samples;
    uint64_t ns;            /* the time the samples stand for */
};

/* How the samples were taken. */
enum rec_mode { REC_PERF, REC_PTRACE, REC_NONSTOP };
extern const char *const rec_mode_names[3];

struct recording {
    pid_t pid;
    char target[4200];      /* "PID 42 (name)" */
    enum rec_mode mode;
    unsigned hz;
    uint64_t period_ns;
    bool idle;              /* parked goroutines sampled too */
    uint64_t *pcs;
    size_t npcs, cappcs;
    struct rec_stack *stacks;
    size_t nstacks, capstacks;
    struct u64map stack_index;      /* hash (probed on: hash + 1...) -> stack */
    struct rec_owner *owners;
    size_t nowners, capowners;
    struct u64map owner_index;      /* the same for owners */
    struct rec_entry *entries;
    size_t nentries, capentries;
    struct u64map entry_index;      /* stack << 32 | owner -> entry */
    uint64_t samples;       /* every sample kept (on CPU and parked) */
    uint64_t cpu_samples;   /* of those, on CPU */
    uint64_t lost;          /* samples the kernel could not deliver */
    uint64_t cut;           /* stacks cut short (the walk left the copied stack) */
    int64_t start_wall_ns;
    int64_t duration_ns;
    bool truncated;         /* the target exited before the end */
    struct modules *mods;
    struct symcache sc;     /* set up by rec_symbolize */
    bool symbolized;
    char owner_text[64];    /* rec_path's owner frame */
};

void rec_init(struct recording *r, struct modules *mods);
void rec_free(struct recording *r);
/* Adds one sample of stack pcs[0..n) owned by o, standing for ns; returns
 * the index of its entry. */
uint32_t rec_add(struct recording *r, const uint64_t *pcs, uint32_t n, const struct rec_owner *o,
                 uint64_t ns, bool on_cpu);

/* A symbolized frame of a stack: one per function, inlined calls their own. */
struct rec_frame {
    const char *function;   /* "??" when unknown */
    const char *file;       /* NULL when unknown */
    uint32_t line;
    bool inlined;           /* inlined into the next frame */
    uint64_t pc;            /* the pc of the stack it comes from (untagged) */
    bool exact;             /* pc is where the thread was (the innermost frame), not
                               a return address (whose line is that of pc - 1) */
    uint32_t pc_index;      /* which pc of the stack */
    uint32_t module;        /* index in mods, SYM_NO_MODULE */
};

/* Prepares symbolization (once the samples are in). */
void rec_symbolize(struct recording *r);
/* The frames of stack s, innermost first, into *out (grown); how many. */
size_t rec_frames(struct recording *r, uint32_t s, struct rec_frame **out, size_t *cap);
/* The frames of one pc of a stack (tagged as stored). */
size_t rec_pc_frames(struct recording *r, uint64_t v, struct rec_frame **out, size_t *cap,
                     size_t at);
/* The owner as a frame name: "goroutine 7", "thread 1234 (name)". */
void rec_owner_name(const struct rec_owner *o, char *buf, size_t len);
/* Where goroutine owner o was created, "function file:line"; false when
 * unknown (goroutine 1, a thread). */
bool rec_created_by(struct recording *r, const struct rec_owner *o, char *buf, size_t len);
/* The frames of entry e outermost first, as flame graphs stack them: its
 * owner's name first when with_owner, or when the stack has no frame at
 * all (the owner's name is valid until the next call). */
size_t rec_path(struct recording *r, const struct rec_entry *e, bool with_owner,
                struct rec_frame **out, size_t *cap);

/* ---- The writers: each fills a buffer with a whole file ------------------------ */

struct bytebuf;
/* profile.proto, gzipped (pprof.c); -1 when compressing fails. */
int pprof_write(struct recording *r, struct bytebuf *out, struct fail *f);
/* What else a profile.proto of r's stacks holds: its sample types and each
 * entry's values of them (a recording's are samples and CPU time; a heap
 * profile's its four counts), period, default type and comment. */
struct pprof_spec {
    const char *const (*sample_types)[2];   /* {type, unit} each */
    size_t ntypes;
    const char *period_type[2];
    uint64_t period;
    const char *default_type;
    const char *comment;
    int64_t time_ns, duration_ns;           /* duration 0: not written */
    /* entry i's ntypes values into v */
    void (*values)(const struct recording *r, size_t i, uint64_t *v, void *arg);
    void *arg;
};
int pprof_write_spec(struct recording *r, const struct pprof_spec *sp, struct bytebuf *out,
                     struct fail *f);
/* "a;b;c N" lines (folded.c). */
void folded_write(struct recording *r, bool with_owner, struct bytebuf *out);
/* A flame graph (flamegraph_svg.c). */
void flamegraph_svg_write(struct recording *r, bool with_owner, struct bytebuf *out);
struct out;
/* docs/json.md's record document, on o (record_json.c). */
void record_json_write(struct recording *r, struct out *o);

#endif
