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
 * Stacks are unwound in-process with the project's CFI engine
 * (dwarf/cfi.c) over each module's .eh_frame, found through its
 * PT_GNU_EH_FRAME segment; every memory read stays inside the goroutine's
 * stack.  Runtime frames are hidden unless GORT_TRACEBACK=system, as Go
 * hides its runtime's.  A goroutine running on another thread cannot be
 * unwound safely and says so.
 */
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cfi.h"
#include "descriptor.h"
#include "heap.h"
#include "pcline.h"
#include "runtime.h"
#include "symtab.h"

extern char __start_gort_text[], __stop_gort_text[];
void gort_savectx(struct gctx *out);   /* switch_amd64.S */

enum { MAX_FRAMES = 100 };

static bool in_runtime(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text;
}

/* ---- Finding a pc's unwind table ---------------------------------------- */

struct eh_lookup {
    uintptr_t pc;
    uintptr_t seg_lo, seg_hi;   /* the segment holding pc */
    bool mapped;        /* a module's segment holds pc */
    bool found;
    struct cfi_hdr hdr;
    struct cfi_section eh;
};

static int find_eh(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct eh_lookup *lk = data;
    const ElfW(Phdr) *ehp = NULL;
    bool contains = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && lk->pc >= start && lk->pc < start + ph->p_memsz) {
            contains = true;
            lk->seg_lo = start;
            lk->seg_hi = start + ph->p_memsz;
        }
        else if (ph->p_type == PT_GNU_EH_FRAME)
            ehp = ph;
    }
    if (!contains)
        return 0;
    lk->mapped = true;
    if (!ehp)
        return 1;
    uintptr_t hdr_addr = info->dlpi_addr + ehp->p_vaddr;
    if (cfi_hdr_parse((const uint8_t *)hdr_addr, ehp->p_memsz, hdr_addr, &lk->hdr) != CFI_OK)
        return 1;
    /* .eh_frame runs at most to the end of the segment that holds it. */
    uintptr_t eh_addr = lk->hdr.eh_frame_addr, eh_end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && eh_addr >= start && eh_addr < start + ph->p_memsz)
            eh_end = start + ph->p_memsz;
    }
    if (!eh_end)
        return 1;
    lk->eh = (struct cfi_section){(const uint8_t *)eh_addr, eh_end - eh_addr, eh_addr,
                                  CFI_EH_FRAME, 0, hdr_addr};
    lk->found = true;
    return 1;
}

/* ---- Unwinding ----------------------------------------------------------- */

/* Unwind rows by return address (traceback_callers): the profiler's
 * samples come back to the same call sites, and a row costs the table
 * lookup and the CFA programs' run. */
enum { UNWIND_CACHE_BITS = 8 };

struct unwind_cache_entry {
    uintptr_t pc;           /* the lookup pc (return address - 1); 0: empty */
    struct cfi_row row;
};

struct unwind_cache {
    struct unwind_cache_entry e[1u << UNWIND_CACHE_BITS];
};

struct unwind_cache *unwind_cache_new(void)
{
    return persistent_alloc(sizeof(struct unwind_cache));
}

/* Where the frames of a stack may be read: a goroutine's stack is mapped
 * as a whole, [lo, hi], and read directly; a thread's stack (bounds not
 * known) is read through process_vm_readv, which fails where a plain read
 * would fault. */
struct stack_bounds {
    uintptr_t lo, hi;
    bool checked;
};

static bool read_stack(void *ctx, uint64_t addr, void *buf, size_t len)
{
    struct stack_bounds *b = ctx;
    if (addr < b->lo || addr > b->hi || len > b->hi - addr)
        return false;
    if (b->checked) {
        struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
        return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
    }
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return true;
}

static struct cfi_regs regs_of_ctx(const struct gctx *ctx)
{
    struct cfi_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.r[CFI_RSP] = ctx->rsp;
    regs.r[CFI_RA] = ctx->rip;
    regs.r[CFI_RBP] = ctx->rbp;
    regs.r[CFI_RBX] = ctx->rbx;
    regs.r[CFI_R12] = ctx->r12;
    regs.r[CFI_R13] = ctx->r13;
    regs.r[CFI_R14] = ctx->r14;
    regs.r[CFI_R15] = ctx->r15;
    regs.valid = 1u << CFI_RSP | 1u << CFI_RA | 1u << CFI_RBP | 1u << CFI_RBX | 1u << CFI_R12 |
                 1u << CFI_R13 | 1u << CFI_R14 | 1u << CFI_R15;
    return regs;
}

/* ---- Printing --------------------------------------------------------------- */

/* The source name of a function: without the suffixes gcc gives its clones
 * (f.constprop.0, f.isra.0, f.part.0, f.cold). */
static int source_name_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot && dot != name ? (int)(dot - name) : (int)strlen(name);
}

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
        print_fmt("%.*s(...)\n\t%s", source_name_len(name), name, module);
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
    if (system || !in_runtime(at))
        print_func_line(pc, at, true);
}

/* A signal at a pc no module holds (a call through a NULL or stray function
 * pointer): the call has just pushed its return address, which the stack
 * pointer points to. */
static int step_just_called(const struct cfi_regs *in, struct stack_bounds *b,
                            struct cfi_regs *out)
{
    uint64_t ra;
    if (!read_stack(b, in->r[CFI_RSP], &ra, sizeof ra))
        return CFI_ERR_MEMORY;
    *out = *in;
    out->r[CFI_RA] = ra;
    out->r[CFI_RSP] = in->r[CFI_RSP] + 8;
    out->flags = 0;
    return CFI_OK;
}

/* One frame up from regs within b: false at the end of the stack or where
 * the unwind fails or goes the wrong way.  *last is the last lookup (pc 0:
 * none): a pc in the same segment reuses its unwind table.  With a cache,
 * a return address's row is looked up there first and kept there. */
static bool step_frame(const struct cfi_regs *regs, struct stack_bounds *b,
                       struct cfi_regs *caller, struct eh_lookup *last,
                       struct unwind_cache *cache)
{
    uintptr_t pc = cfi_lookup_pc(regs);
    struct unwind_cache_entry *ce = NULL;
    int rc;
    if (cache && !(regs->flags & CFI_PC_EXACT)) {
        ce = &cache->e[(pc * 0x9e3779b97f4a7c15ull) >> (64 - UNWIND_CACHE_BITS)];
        if (ce->pc == pc) {
            rc = cfi_step_row(&ce->row, regs, read_stack, b, caller);
            goto check;
        }
    }
    if (!(last->found && pc >= last->seg_lo && pc < last->seg_hi)) {
        *last = (struct eh_lookup){.pc = pc};
        dl_iterate_phdr(find_eh, last);
    }
    struct eh_lookup lk = *last;
    lk.pc = pc;
    struct cfi_fde fde;
    if (lk.found && cfi_hdr_lookup(&lk.hdr, &lk.eh, lk.pc, &fde) == CFI_OK) {
        if (ce) {
            if (cfi_row_at(&fde, pc, &ce->row) != CFI_OK)
                return false;
            ce->pc = pc;
            rc = cfi_step_row(&ce->row, regs, read_stack, b, caller);
        } else {
            rc = cfi_step_fde(&fde, regs, read_stack, b, caller);
        }
    } else if (!lk.mapped && (regs->flags & CFI_PC_EXACT)) {
        rc = step_just_called(regs, b, caller);
    } else {
        rc = cfi_step_fp(regs, read_stack, b, caller);
    }
check:
    if (rc != CFI_OK || !(caller->valid & (1u << CFI_RA)) || caller->r[CFI_RA] == 0)
        return false;
    /* Stacks grow down: a caller's frame is above its callee's, but
     * for a signal handler's, which may run on a stack of its own. */
    bool signal_frame = (caller->flags & CFI_PC_EXACT) != 0;
    return !((caller->r[CFI_RSP] <= regs->r[CFI_RSP] && !signal_frame) ||
             caller->r[CFI_RSP] > b->hi || caller->r[CFI_RSP] < b->lo);
}

/* Unwinds from registers start (flags CFI_PC_EXACT: a signal's) within b,
 * printing each frame as it is found: a fault on the way (a corrupt stack)
 * leaves the frames before it printed. */
static void print_stack(const struct cfi_regs *start, struct stack_bounds *b, bool system)
{
    struct cfi_regs regs = *start;
    struct eh_lookup last = {0};
    print_frame(regs.r[CFI_RA], (regs.flags & CFI_PC_EXACT) != 0, system);
    for (int n = 1;; n++) {
        if (n == MAX_FRAMES) {
            print_str("...additional frames elided...\n");
            return;
        }
        struct cfi_regs caller;
        if (!step_frame(&regs, b, &caller, &last, NULL))
            return;
        print_frame(caller.r[CFI_RA], (caller.flags & CFI_PC_EXACT) != 0, system);
        regs = caller;
    }
}

/* The return addresses of the calling goroutine's (or thread's) frames
 * above the runtime's own at the top of the stack, innermost first, at
 * most max of them: the allocation profile's stacks (memprof.c).  cache
 * (NULL: none), the caller's alone during the call, keeps the unwind rows
 * of return addresses seen before. */
int traceback_callers(uintptr_t *pcs, int max, struct unwind_cache *cache)
{
    struct gctx here;
    gort_savectx(&here);
    struct cfi_regs regs = regs_of_ctx(&here);
    uintptr_t sp = regs.r[CFI_RSP];
    struct g *gp = getg_maybe();
    struct stack_bounds b = {sp, sp + (8u << 20), true};
    if (gp && sp <= gp->stackhi && sp >= stack_readable_lo(gp))
        b = (struct stack_bounds){sp, gp->stackhi, false};
    int n = 0;
    bool top = true;
    struct eh_lookup last = {0};
    for (int depth = 1; depth < MAX_FRAMES && n < max; depth++) {
        struct cfi_regs caller;
        if (!step_frame(&regs, &b, &caller, &last, cache))
            break;
        uintptr_t ra = caller.r[CFI_RA];
        regs = caller;
        if (top && in_runtime(ra - 1))
            continue;
        top = false;
        pcs[n++] = ra;
    }
    return n;
}

static void print_header(struct g *gp, uint32_t status, int64_t now)
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
static void print_created_by(struct g *gp)
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
        print_fmt("created by %.*s in goroutine %llu\n\t%s +%#lx\n", source_name_len(name), name,
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
