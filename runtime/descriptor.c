/*
 * descriptor.c — the runtime descriptor (docs/metadata.md) and the
 * .debug_gdb_scripts entry that makes gdb load the goinspect extension.
 *
 * Tools find `gort_runtime_descriptor` by symbol and from then on address
 * every structure field by name, so nothing here is ever hard-coded in a
 * tool.  Add fields freely; change a name's meaning only with a version
 * bump.
 */
#include <stddef.h>

#include "descriptor.h"
#include "runtime.h"

extern char __start_gort_text[], __stop_gort_text[];

#define FIELD(T, member, name) {name, offsetof(struct T, member), sizeof(((struct T *)0)->member)}

static const struct gort_desc_field g_fields[] = {
    FIELD(g, goid, "goid"),
    FIELD(g, status, "status"),
    FIELD(g, waitreason, "waitreason"),
    FIELD(g, waitsince, "waitsince"),
    FIELD(g, startpc, "startpc"),
    FIELD(g, gopc, "gopc"),
    FIELD(g, parentgoid, "parentgoid"),
    FIELD(g, ctx.rsp, "ctx.rsp"),
    FIELD(g, ctx.rip, "ctx.rip"),
    FIELD(g, ctx.rbp, "ctx.rbp"),
    FIELD(g, ctx.rbx, "ctx.rbx"),
    FIELD(g, ctx.r12, "ctx.r12"),
    FIELD(g, ctx.r13, "ctx.r13"),
    FIELD(g, ctx.r14, "ctx.r14"),
    FIELD(g, ctx.r15, "ctx.r15"),
    FIELD(g, stacklo, "stacklo"),
    FIELD(g, stackhi, "stackhi"),
    FIELD(g, m, "m"),
    FIELD(g, lockedm, "lockedm"),
    FIELD(g, lockcount, "lockcount"),
    FIELD(g, schedlink, "schedlink"),
};

static const struct gort_desc_field m_fields[] = {
    FIELD(m, id, "id"),
    FIELD(m, procid, "procid"),
    FIELD(m, curg, "curg"),
    FIELD(m, p, "p"),
    FIELD(m, lockedg, "lockedg"),
    FIELD(m, spinning, "spinning"),
    FIELD(m, blocked, "blocked"),
    FIELD(m, alllink, "alllink"),
    FIELD(m, stacklo, "stacklo"),
    FIELD(m, stackhi, "stackhi"),
};

static const struct gort_desc_field p_fields[] = {
    FIELD(p, id, "id"),
    FIELD(p, status, "status"),
    FIELD(p, m, "m"),
    FIELD(p, runqhead, "runqhead"),
    FIELD(p, runqtail, "runqtail"),
    FIELD(p, runq, "runq"),
    FIELD(p, runnext, "runnext"),
    FIELD(p, schedtick, "schedtick"),
    FIELD(p, syscalltick, "syscalltick"),
};

static const struct gort_desc_field sched_fields[] = {
    FIELD(schedt, goidgen, "goidgen"),
    FIELD(schedt, mnext, "mnext"),
    FIELD(schedt, nmidle, "nmidle"),
    FIELD(schedt, nmidlelocked, "nmidlelocked"),
    FIELD(schedt, nmspinning, "nmspinning"),
    FIELD(schedt, npidle, "npidle"),
    FIELD(schedt, runqsize, "runqsize"),
    FIELD(schedt, runq.head, "runq.head"),
};

#define TYPE(name, T, fields) {name, sizeof(struct T), ARRAY_LEN(fields), fields}

static const struct gort_desc_type types[] = {
    TYPE("g", g, g_fields),
    TYPE("m", m, m_fields),
    TYPE("p", p, p_fields),
    TYPE("sched", schedt, sched_fields),
};

const char *const gstatus_names[G_NSTATUS] = {
    [G_IDLE] = "idle",
    [G_RUNNABLE] = "runnable",
    [G_RUNNING] = "running",
    [G_SYSCALL] = "syscall",
    [G_WAITING] = "waiting",
    [G_DEAD] = "dead",
};

const char *const waitreason_names[WR_NREASONS] = {
    [WR_NONE] = "",
    [WR_CHAN_RECV] = "chan receive",
    [WR_CHAN_SEND] = "chan send",
    [WR_CHAN_RECV_NIL] = "chan receive (nil chan)",
    [WR_CHAN_SEND_NIL] = "chan send (nil chan)",
    [WR_SELECT] = "select",
    [WR_SELECT_NO_CASES] = "select (no cases)",
    [WR_SLEEP] = "sleep",
    [WR_MUTEX] = "sync.Mutex.Lock",
    [WR_WAITGROUP] = "sync.WaitGroup.Wait",
    [WR_ONCE] = "sync.Once.Do",
    [WR_SEMACQUIRE] = "semacquire",
};

static const char *const pstatus_names[P_NSTATUS] = {
    [P_IDLE] = "idle",
    [P_RUNNING] = "running",
    [P_SYSCALL] = "syscall",
    [P_GCSTOP] = "gcstop",
    [P_DEAD] = "dead",
};

static const struct gort_desc_enum enums[] = {
    {"gstatus", G_NSTATUS, 0, gstatus_names},
    {"waitreason", WR_NREASONS, 0, waitreason_names},
    {"pstatus", P_NSTATUS, 0, pstatus_names},
};

void gort_gostart(void);

static const struct gort_desc_root roots[] = {
    {"allgs", &allgs, sizeof allgs},
    {"allglen", &allglen, sizeof allglen},
    {"allm", &allm, sizeof allm},
    {"allp", &allp, sizeof allp},
    {"gomaxprocs", &gomaxprocs, sizeof gomaxprocs},
    {"sched", &sched, sizeof sched},
    {"runtime_start", &runtime_start, sizeof runtime_start},
    {"stack_size", &stack_size, sizeof stack_size},
    {"text_start", __start_gort_text, 0},
    {"text_end", __stop_gort_text, 0},
    {"gostart", (const void *)gort_gostart, 1},
};

struct gort_descriptor gort_runtime_descriptor = {
    .magic = GORT_DESC_MAGIC,
    .version = GORT_DESC_VERSION,
    .size = sizeof(struct gort_descriptor),
    .ptr_size = sizeof(void *),
    .ntypes = ARRAY_LEN(types),
    .nenums = ARRAY_LEN(enums),
    .nroots = ARRAY_LEN(roots),
    .types = types,
    .enums = enums,
    .roots = roots,
    .runtime_version = "gort 0.1.0",
    .generation = 0,
};

/* gdb's auto-load: an inline Python script (kind 4 in .debug_gdb_scripts)
 * that puts the extension's directory on sys.path and loads it.  gdb runs
 * it only for binaries under its auto-load safe-path (docs/metadata.md). */
#define GDB_SCRIPT_LINE(s) ".ascii \"" s "\\n\"\n"
__asm__(".pushsection .debug_gdb_scripts, \"MS\", @progbits, 1\n"
        ".byte 4\n"
        GDB_SCRIPT_LINE("gdb.inlined-script.gort")
        GDB_SCRIPT_LINE("import os, sys")
        GDB_SCRIPT_LINE("for _d in ('" GORT_GDB_DIR "', '" GORT_SHARE_GDB_DIR "'):")
        GDB_SCRIPT_LINE("    if os.path.isfile(os.path.join(_d, 'gortgdb', '__init__.py')):")
        GDB_SCRIPT_LINE("        if _d not in sys.path:")
        GDB_SCRIPT_LINE("            sys.path.insert(0, _d)")
        GDB_SCRIPT_LINE("        import gortgdb")
        GDB_SCRIPT_LINE("        gortgdb.register(gdb.current_objfile())")
        GDB_SCRIPT_LINE("        break")
        ".byte 0\n"
        ".popsection\n");
