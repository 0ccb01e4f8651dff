/*
 * traceback.c — the goroutine dump printed with fatal errors, in Go's
 * format:
 *
 *     goroutine 7 [chan receive, 2 minutes]:
 *     get_job(...)
 *             /src/prog.c:31
 *     worker(...)
 *             /src/prog.c:40 +0x4d
 *     created by main_fn in goroutine 1
 *             /src/prog.c:52 +0x85
 *
 * Functions, files, lines and inlined calls come from the pc-line table
 * gortcc adds to the executable (pcline.c); without one, a frame is named
 * by its symbol and its file is the executable or library holding it.
 *
 * Stacks are unwound in-process by the runtime's unwinder (stackwalk.c:
 * the CFI engine over each module's .eh_frame); every memory read stays
 * inside the goroutine's stack.  Runtime frames are hidden unless GORT_TRACEBACK=system, as Go
 * hides its runtime's.  A goroutine running on another thread cannot be
 * unwound safely and says so.
 */
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cfi.h"
#include "descriptor.h"
#include "pcline.h"
#include "runtime.h"
#include "stackwalk.h"
#include "symtab.h"

void gort_savectx(struct gctx *out);   /* switch_amd64.S */

enum { MAX_FRAMES = 100 };

/* ---- Printing --------------------------------------------------------------- */

enum { MAX_INLINE = 32 };

/* A line number, ? for 0 (code of no source line), as addr2line prints it. */
static void print_line(unsigned line)
{
    if (line)
        print_fmt("%u", line);
    else
        print_str("?");
}

/* The frames of pc from the pc-line table, looked up at `at` (pc - 1 for a
 * return address), each inlined call a frame of its own, innermost first,
 * as Go prints them: the offset from the function's entry on the
 * out-of-line frame only.  False when the table does not cover it. */
static bool print_table_frames(uintptr_t pc, uintptr_t at, bool show_offset)
{
    struct pcline_frame fr[MAX_INLINE];
    int n = pcline_lookup(at, fr, MAX_INLINE);
    if (n <= 0)
        return false;
    uintptr_t start = pcline_func_start(at);
    for (int i = 0; i < n; i++) {
        print_fmt("%s(...)\n\t%s:", fr[i].function, fr[i].file);
        print_line(fr[i].line);
        if (i == n - 1 && show_offset && start)
            print_fmt(" +%#lx", (unsigned long)(pc - start));
        print_str("\n");
    }
    return true;
}

/* The file holding pc: the executable's or a library's path, "??" if none. */
static const char *module_of(uintptr_t pc, uintptr_t *base)
{
    const char *path;
    if (symtab_module(pc, &path, base))
        return path;
    *base = 0;
    return "??";
}

/* Without a table (a binary not linked by gortcc, a library, a damaged
 * table): the symbol whose extent holds `at`, and the file it is in; a pc
 * no symbol names is ?, at its address in that file (for addr2line -e). */
static void print_func_line(uintptr_t pc, uintptr_t at, bool show_offset)
{
    const char *name;
    uintptr_t start, base;
    if (print_table_frames(pc, at, show_offset))
        return;
    const char *module = module_of(at, &base);
    if (symtab_lookup(at, &name, &start)) {
        print_fmt("%.*s(...)\n\t%s", symtab_source_len(name), name, module);
        if (show_offset)
            print_fmt(" +%#lx", (unsigned long)(pc - start));
        print_str("\n");
    } else {
        print_fmt("?(...)\n\t%s+%#lx pc=%#lx\n", module, (unsigned long)(pc - base),
                  (unsigned long)pc);
    }
}

static void print_frame(uintptr_t pc, bool exact, bool system)
{
    uintptr_t at = exact ? pc : pc - 1;
    if (system || !stackwalk_in_runtime(at))
        print_func_line(pc, at, true);
}

/* Each frame found by walk_stack: its pc, and whether that is exact (the
 * innermost frame's, a signal's) rather than a return address.  False
 * stops the walk. */
struct frame_sink {
    bool (*frame)(struct frame_sink *fs, uintptr_t pc, bool exact);
};

/* Unwinds from registers start (flags CFI_PC_EXACT: a signal's) within b,
 * giving fs each frame as it is found: a fault on the way (a corrupt
 * stack) leaves the frames before it given. */
static void walk_stack(const struct cfi_regs *start, struct stack_bounds *b,
                       struct frame_sink *fs, struct unwinder *u)
{
    struct cfi_regs regs = *start;
    if (!fs->frame(fs, regs.r[CFI_RA], (regs.flags & CFI_PC_EXACT) != 0))
        return;
    for (;;) {
        struct cfi_regs caller;
        if (!unwind_step(u, &regs, b, &caller))
            return;
        if (!fs->frame(fs, caller.r[CFI_RA], (caller.flags & CFI_PC_EXACT) != 0))
            return;
        regs = caller;
    }
}

struct print_sink {
    struct frame_sink fs;
    bool system;
    int n;
};

static bool print_one(struct frame_sink *fs, uintptr_t pc, bool exact)
{
    struct print_sink *ps = (struct print_sink *)fs;
    if (ps->n++ == MAX_FRAMES) {
        print_str("...additional frames elided...\n");
        return false;
    }
    print_frame(pc, exact, ps->system);
    return true;
}

static void print_stack(const struct cfi_regs *start, struct stack_bounds *b, bool system)
{
    struct print_sink ps = {{print_one}, system, 0};
    struct unwinder u;
    memset(&u, 0, sizeof u);
    walk_stack(start, b, &ps.fs, &u);
}

static void print_header(const struct g *gp, uint32_t status, int64_t now)
{
    print_fmt("goroutine %llu [", (unsigned long long)gp->goid);
    if (status == G_WAITING) {
        print_str(gp->waitreason < WR_NREASONS ? waitreason_names[gp->waitreason] : "?");
        int64_t mins = gp->waitsince ? (now - gp->waitsince) / 60000000000LL : 0;
        if (mins >= 1)
            print_fmt(", %lld minute%s", (long long)mins, mins == 1 ? "" : "s");
    } else {
        print_str(status < G_NSTATUS ? gstatus_names[status] : "?");
    }
    if (gp->lockedm)
        print_str(", locked to thread");
    print_str("]:\n");
}

/* created by F in goroutine N, then FILE:LINE +0xOFFSET, as Go prints it:
 * F the out-of-line function holding gopc - 1 (the offset is from its
 * entry), FILE:LINE the innermost frame's (the line of the call, in the
 * function inlined into F that made it, if any). */
static void print_created_by(const struct g *gp)
{
    if (gp->parentgoid == 0 || gp->gopc == 0)
        return;
    unsigned long long parent = (unsigned long long)gp->parentgoid;
    struct pcline_frame fr[MAX_INLINE];
    const char *name;
    uintptr_t start;
    int n = pcline_lookup(gp->gopc - 1, fr, MAX_INLINE);
    if (n > 0) {
        print_fmt("created by %s in goroutine %llu\n\t%s:", fr[n - 1].function, parent, fr[0].file);
        print_line(fr[0].line);
        start = pcline_func_start(gp->gopc - 1);
        if (start)
            print_fmt(" +%#lx", (unsigned long)(gp->gopc - start));
        print_str("\n");
    } else if (symtab_lookup(gp->gopc - 1, &name, &start)) {
        uintptr_t base;
        print_fmt("created by %.*s in goroutine %llu\n\t%s +%#lx\n", symtab_source_len(name), name,
                  parent, module_of(gp->gopc - 1, &base), (unsigned long)(gp->gopc - start));
    } else {
        print_fmt("created by ? in goroutine %llu\n", parent);
    }
}

/* A goroutine's frames from regs, read within its stack. */
static void goroutine_frames(struct g *gp, const struct cfi_regs *regs, bool system)
{
    uintptr_t sp = regs->r[CFI_RSP], lo = stack_readable_lo(gp);
    struct stack_bounds b = {sp, gp->stackhi, false};
    struct m *m = getm();
    if (m && m->curg == gp && m_on_sigstack(m, sp)) {
        /* A handler of the program's, on the alternate stack, failed: its
         * frames, the signal frame, then the goroutine's, read with checks
         * wherever they are. */
        b = (struct stack_bounds){0, UINTPTR_MAX - 1, true};
        print_stack(regs, &b, system);
        return;
    }
    if (sp > gp->stackhi || (sp < lo && !stack_overflowed(gp, sp, sp))) {
        print_fmt("\tsp=%#lx outside the goroutine's stack [%#lx, %#lx]\n", (unsigned long)sp,
                  (unsigned long)lo, (unsigned long)gp->stackhi);
        return;
    }
    /* Run off its stack: what lies below it (a guard page, memory the
     * frames overwrote, nothing) is read with checks. */
    b.checked = sp < lo;
    print_stack(regs, &b, system);
}

static void dump_goroutine(struct g *gp, struct g *current, const struct cfi_regs *curregs,
                           int64_t now, bool system)
{
    uint32_t status = readgstatus(gp);
    print_str("\n");
    print_header(gp, status, now);
    if (gp == current) {
        goroutine_frames(gp, curregs, system);
    } else if (status == G_RUNNING) {
        print_str("\tgoroutine running on other thread; stack unavailable\n");
    } else if (gp->stacklo == 0) {
        print_func_line(gp->startpc, gp->startpc, false);   /* never ran: at its start */
    } else {
        struct cfi_regs regs = regs_of_ctx(&gp->ctx);
        goroutine_frames(gp, &regs, system);
    }
    print_created_by(gp);
}

/* A fault while one goroutine is dumped (its stack or its G unreadable:
 * memory the program corrupted) ends that goroutine's dump with a line, and
 * the report goes on with the next: the signal handler, entered again on
 * the reporting thread, jumps back here (traceback_recover). */
static sigjmp_buf recover_buf;
static volatile sig_atomic_t recover_armed;
static const char *volatile fault_what;
static volatile uintptr_t fault_addr;

void traceback_recover(const char *what, uintptr_t addr)
{
    if (!recover_armed)
        return;
    recover_armed = 0;
    fault_what = what;
    fault_addr = addr;
    siglongjmp(recover_buf, 1);
}

static void dump_guarded(struct g *gp, struct g *current, const struct cfi_regs *regs,
                         int64_t now, bool system)
{
    if (sigsetjmp(recover_buf, 1)) {
        print_fmt("\t[%s at %#lx: the rest of this goroutine cannot be read]\n", fault_what,
                  (unsigned long)fault_addr);
        return;
    }
    recover_armed = 1;
    uint32_t s = readgstatus(gp);
    if (gp == current || !(s == G_DEAD || s == G_IDLE || (gp->system && !system)))
        dump_goroutine(gp, current, regs, now, system);
    recover_armed = 0;
}

void traceback_goroutines(struct g *current, const struct cfi_regs *regs, int level)
{
    bool system = level >= TB_SYSTEM;
    int64_t now = nanotime();
    if (level == TB_NONE)
        return;
    if (current)
        dump_guarded(current, current, regs, now, system);
    if (level < TB_ALL)
        return;
    uint64_t n = load64(&allglen);
    struct g **gs = loadp((void *const *)&allgs);
    for (uint64_t i = 0; i < n; i++)
        if (gs[i] != current)
            dump_guarded(gs[i], current, regs, now, system);
}

void traceback_here(struct g *current, int level, bool thread_too)
{
    struct gctx here;
    gort_savectx(&here);
    struct cfi_regs regs = regs_of_ctx(&here);
    if (!current && thread_too && level > TB_NONE) {
        char name[17] = "?";
        prctl(PR_GET_NAME, name, 0, 0, 0);
        traceback_thread(syscall(SYS_gettid), name, &regs, level);
    }
    traceback_goroutines(current, &regs, level);
}

void traceback_thread(long tid, const char *name, const struct cfi_regs *regs, int level)
{
    if (sigsetjmp(recover_buf, 1)) {
        print_fmt("\t[%s at %#lx: the rest of this thread cannot be read]\n", fault_what,
                  (unsigned long)fault_addr);
        return;
    }
    recover_armed = 1;
    /* The bounds of a thread's stack are not known here: its frames are
     * read up to 8 MiB above the stack pointer, each read checked. */
    uintptr_t sp = regs->r[CFI_RSP];
    struct stack_bounds b = {sp, sp + (8u << 20), true};
    print_fmt("\nthread %ld (%s) [not a goroutine]:\n", tid, name);
    print_stack(regs, &b, level >= TB_SYSTEM);
    recover_armed = 0;
}

/* ---- Stacks as pcs, for the goroutine profile ------------------------------ */

struct pcs_sink {
    struct frame_sink fs;
    uintptr_t pcs[MAX_FRAMES];
    int n;
    bool exact0;
};

static bool pcs_one(struct frame_sink *fs, uintptr_t pc, bool exact)
{
    struct pcs_sink *ps = (struct pcs_sink *)fs;
    if (ps->n == 0)
        ps->exact0 = exact;
    ps->pcs[ps->n++] = pc;
    return ps->n < MAX_FRAMES;
}

/* gp's frames into ps: gp the caller's own goroutine, one that is not
 * running (its saved context), or one running on a thread the stop of the
 * world suspended (the registers its signal saved), within its stack;
 * none when it runs elsewhere or its stack pointer is outside its stack. */
static void goroutine_pcs(struct g *gp, struct g *self, struct pcs_sink *ps, struct unwinder *u)
{
    struct cfi_regs regs;
    uint32_t status = readgstatus(gp);
    ps->n = 0;
    ps->exact0 = false;
    if (gp == self) {
        struct gctx here;
        gort_savectx(&here);
        regs = regs_of_ctx(&here);
    } else if (status == G_RUNNING) {
        if (!gp->m || !m_is_suspended(gp->m))
            return;
        regs = regs_of_gregs(gp->m->sregs);   /* a copy of its gregs */
    } else if (gp->stacklo == 0) {
        ps->pcs[ps->n++] = gp->startpc;    /* never ran: at its start */
        ps->exact0 = true;
        return;
    } else {
        regs = regs_of_ctx(&gp->ctx);
    }
    uintptr_t sp = regs.r[CFI_RSP];
    if (sp > gp->stackhi || sp < stack_readable_lo(gp))
        return;
    struct stack_bounds b = {sp, gp->stackhi, false};
    walk_stack(&regs, &b, &ps->fs, u);
}

void traceback_each_goroutine(void (*fn)(void *arg, struct g *gp, const uintptr_t *pcs, int n,
                                         bool leaf_exact),
                              void *arg)
{
    struct g *self = getg_maybe();
    struct pcs_sink ps;
    struct unwinder u;
    memset(&u, 0, sizeof u);
    u.signal_safe = true;
    ps.fs.frame = pcs_one;
    uint64_t n = load64(&allglen);
    struct g **gs = loadp((void *const *)&allgs);
    for (uint64_t i = 0; i < n; i++) {
        struct g *gp = gs[i];
        uint32_t s = readgstatus(gp);
        if (s == G_DEAD || s == G_IDLE || gp->system)
            continue;
        goroutine_pcs(gp, self, &ps, &u);
        fn(arg, gp, ps.pcs, ps.n, ps.exact0);
    }
}

void traceback_print_snapshot(const struct g *snap, uint32_t status, const uintptr_t *pcs, int n,
                              bool leaf_exact, int64_t now)
{
    print_header(snap, status, now);
    if (n == 0 && status == G_RUNNING)
        print_str("\tgoroutine running on other thread; stack unavailable\n");
    for (int i = 0; i < n; i++)
        print_frame(pcs[i], i == 0 && leaf_exact, false);
    if (n == MAX_FRAMES)
        print_str("...additional frames elided...\n");
    print_created_by(snap);
}
