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
#include "heap.h"

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
    FIELD(g, stackspan, "stackspan"),
    FIELD(g, system, "system"),
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
    FIELD(p, mcache, "mcache"),
};

static const struct gort_desc_field span_fields[] = {
    FIELD(span, base, "base"),
    FIELD(span, npages, "npages"),
    FIELD(span, state, "state"),
    FIELD(span, spanclass, "spanclass"),
    FIELD(span, sizeclass, "sizeclass"),
    FIELD(span, noscan, "noscan"),
    FIELD(span, needzero, "needzero"),
    FIELD(span, incache, "incache"),
    FIELD(span, elemsize, "elemsize"),
    FIELD(span, nelems, "nelems"),
    FIELD(span, alloccount, "alloccount"),
    FIELD(span, freeindex, "freeindex"),
    FIELD(span, sweepgen, "sweepgen"),
    FIELD(span, allocbits, "allocbits"),
    FIELD(span, markbits, "markbits"),
    FIELD(span, owner, "owner"),
    FIELD(span, freed_at, "freed_at"),
};

static const struct gort_desc_field arena_fields[] = {
    FIELD(arena, base, "base"),
    FIELD(arena, spans, "spans"),
};

static const struct gort_desc_field mheap_fields[] = {
    FIELD(mheap, arenas, "arenas"),
    FIELD(mheap, narenas, "narenas"),
    FIELD(mheap, allspans, "allspans"),
    FIELD(mheap, nspans, "nspans"),
    FIELD(mheap, sweepgen, "sweepgen"),
    FIELD(mheap, generation, "generation"),
    FIELD(mheap, pages_inuse, "pages_inuse"),
    FIELD(mheap, pages_stack, "pages_stack"),
    FIELD(mheap, pages_free, "pages_free"),
    FIELD(mheap, pages_released, "pages_released"),
    FIELD(mheap, sys_bytes, "sys_bytes"),
    FIELD(mheap, nsmallfree, "nsmallfree"),
};

static const struct gort_desc_field mcache_fields[] = {
    FIELD(mcache, alloc, "alloc"),
    FIELD(mcache, local_nsmallalloc, "local_nsmallalloc"),
    FIELD(mcache, local_nlargealloc, "local_nlargealloc"),
    FIELD(mcache, local_largealloc, "local_largealloc"),
};

static const struct gort_desc_field gcstate_fields[] = {
    FIELD(gcstate, heap_live, "heap_live"),
    FIELD(gcstate, heap_marked, "heap_marked"),
    FIELD(gcstate, next_gc, "next_gc"),
    FIELD(gcstate, percent, "percent"),
    FIELD(gcstate, running, "running"),
    FIELD(gcstate, num_gc, "num_gc"),
    FIELD(gcstate, num_forced_gc, "num_forced_gc"),
    FIELD(gcstate, total_ns, "total_ns"),
    FIELD(gcstate, pause_total_ns, "pause_total_ns"),
    FIELD(gcstate, pause_ns, "pause_ns"),
    FIELD(gcstate, pause_end, "pause_end"),
    FIELD(gcstate, last_gc, "last_gc"),
    FIELD(gcstate, trigger, "trigger"),
    FIELD(gcstate, marking, "marking"),
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

static const struct gort_desc_field memprof_fields[] = {
    FIELD(memprof_table, buckets, "buckets"),
    FIELD(memprof_table, nbuckets, "nbuckets"),
    FIELD(memprof_table, rate, "rate"),
    FIELD(memprof_table, nsamples, "nsamples"),
};

static const struct gort_desc_field memprof_bucket_fields[] = {
    FIELD(memprof_bucket, next, "next"),
    FIELD(memprof_bucket, alloc_objects, "alloc_objects"),
    FIELD(memprof_bucket, alloc_bytes, "alloc_bytes"),
    FIELD(memprof_bucket, free_objects, "free_objects"),
    FIELD(memprof_bucket, free_bytes, "free_bytes"),
    FIELD(memprof_bucket, nstk, "nstk"),
    {"stk", offsetof(struct memprof_bucket, stk), 0},   /* nstk pcs follow: size 0 */
};

#define TYPE(name, T, fields) {name, sizeof(struct T), ARRAY_LEN(fields), fields}

static const struct gort_desc_type types[] = {
    TYPE("g", g, g_fields),
    TYPE("m", m, m_fields),
    TYPE("p", p, p_fields),
    TYPE("sched", schedt, sched_fields),
    TYPE("span", span, span_fields),
    TYPE("arena", arena, arena_fields),
    TYPE("mheap", mheap, mheap_fields),
    TYPE("mcache", mcache, mcache_fields),
    TYPE("gcstate", gcstate, gcstate_fields),
    TYPE("memprof", memprof_table, memprof_fields),
    TYPE("memprof_bucket", memprof_bucket, memprof_bucket_fields),
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
    [WR_GC] = "garbage collection",
    [WR_FINALIZER] = "finalizer wait",
    [WR_GC_ASSIST] = "GC assist wait",
};

static const char *const pstatus_names[P_NSTATUS] = {
    [P_IDLE] = "idle",
    [P_RUNNING] = "running",
    [P_SYSCALL] = "syscall",
    [P_GCSTOP] = "gcstop",
    [P_DEAD] = "dead",
};

static const char *const spanstate_names[SPAN_NSTATES] = {
    [SPAN_DEAD] = "dead",
    [SPAN_INUSE] = "inuse",
    [SPAN_STACK] = "stack",
    [SPAN_FREE] = "free",
    [SPAN_RELEASED] = "released",
};

static const struct gort_desc_enum enums[] = {
    {"gstatus", G_NSTATUS, 0, gstatus_names},
    {"waitreason", WR_NREASONS, 0, waitreason_names},
    {"pstatus", P_NSTATUS, 0, pstatus_names},
    {"spanstate", SPAN_NSTATES, 0, spanstate_names},
};

static const uint64_t page_size = PAGE_SIZE, arena_bytes = ARENA_BYTES;
static const uint64_t memprof_max_stack = MEMPROF_MAX_STACK;
static const uint64_t gstate_chunk = GSTATE_CHUNK;

void gort_gostart(void);

static const struct gort_desc_root roots[] = {
    {"allgs", &allgs, sizeof allgs},
    {"allglen", &allglen, sizeof allglen},
    {"allm", &allm, sizeof allm},
    {"allp", &allp, sizeof allp},
    {"gomaxprocs", &gomaxprocs, sizeof gomaxprocs},
    {"sched", &sched, sizeof sched},
    {"runtime_start", &runtime_start, sizeof runtime_start},
    {"runtime_start_wall", &runtime_start_wall, sizeof runtime_start_wall},
    {"stack_size", &stack_size, sizeof stack_size},
    {"text_start", __start_gort_text, 0},
    {"text_end", __stop_gort_text, 0},
    {"gostart", (const void *)gort_gostart, 1},
    /* version 2: the heap */
    {"mheap", &mheap_, sizeof mheap_},
    {"gc", &gc, sizeof gc},
    {"page_size", &page_size, sizeof page_size},
    {"arena_bytes", &arena_bytes, sizeof arena_bytes},
    {"class_to_size", class_to_size_table, sizeof class_to_size_table},
    {"class_to_npages", class_to_npages_table, sizeof class_to_npages_table},
    {"nsmallalloc", mstats_nsmallalloc, sizeof mstats_nsmallalloc},
    {"nlargealloc", &mstats_nlargealloc, sizeof mstats_nlargealloc},
    {"largealloc_bytes", &mstats_largealloc_bytes, sizeof mstats_largealloc_bytes},
    {"nlargefree", &mstats_nlargefree, sizeof mstats_nlargefree},
    {"largefree_bytes", &mstats_largefree_bytes, sizeof mstats_largefree_bytes},
    {"persistent_bytes", &persistent_bytes, sizeof persistent_bytes},
    /* version 3: the allocation profile */
    {"memprof", &memprof, sizeof memprof},
    {"memprof_max_stack", &memprof_max_stack, sizeof memprof_max_stack},
    /* version 4: the goroutine state table */
    {"gstate_chunks", gstate_chunks, sizeof gstate_chunks},
    {"gstate_chunk", &gstate_chunk, sizeof gstate_chunk},
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
