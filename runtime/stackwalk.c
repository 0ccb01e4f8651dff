/*
 * stackwalk.c — the runtime's unwinder (stackwalk.h).
 *
 * A pc's unwind table is found through its module's PT_GNU_EH_FRAME
 * segment: by dl_iterate_phdr, or, for a walk in a signal handler (the CPU
 * profiler's, which may interrupt a thread holding the loader's lock), in a
 * table of the modules taken beforehand; a module loaded after the table
 * was taken is unwound there by frame pointers, where it has them.  Every
 * memory read stays inside the stack's bounds.
 */
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "atomics.h"
#include "heap.h"
#include "runtime.h"
#include "stackwalk.h"

void gort_savectx(struct gctx *out);   /* switch_amd64.S */
extern char __start_gort_text[], __stop_gort_text[];

bool stackwalk_in_runtime(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text;
}

bool stack_read(void *ctx, uint64_t addr, void *buf, size_t len)
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

struct cfi_regs regs_of_ctx(const struct gctx *ctx)
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

struct cfi_regs regs_of_gregs(const void *gregs)
{
    static const struct {
        int cfi, greg;
    } map[] = {
        {CFI_RAX, REG_RAX}, {CFI_RDX, REG_RDX}, {CFI_RCX, REG_RCX}, {CFI_RBX, REG_RBX},
        {CFI_RSI, REG_RSI}, {CFI_RDI, REG_RDI}, {CFI_RBP, REG_RBP}, {CFI_RSP, REG_RSP},
        {CFI_R8, REG_R8},   {CFI_R9, REG_R9},   {CFI_R10, REG_R10}, {CFI_R11, REG_R11},
        {CFI_R12, REG_R12}, {CFI_R13, REG_R13}, {CFI_R14, REG_R14}, {CFI_R15, REG_R15},
        {CFI_RA, REG_RIP},
    };
    greg_t gr[NGREG];
    memcpy(gr, gregs, sizeof gr);
    struct cfi_regs regs;
    memset(&regs, 0, sizeof regs);
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        regs.r[map[i].cfi] = (uint64_t)gr[map[i].greg];
        regs.valid |= 1u << map[i].cfi;
    }
    regs.flags = CFI_PC_EXACT;
    return regs;
}

uint64_t stack_hash(const uintptr_t *pcs, int n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++) {
        h ^= pcs[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

/* ---- Modules --------------------------------------------------------------- */

typedef __typeof__(((struct unwinder *)0)->last) module_t;

/* A module's unwind table into *m, if it has one; m->lo, m->hi: the
 * segment holding pc (whole: the span of all its PT_LOAD segments). */
static void module_of_info(struct dl_phdr_info *info, uintptr_t pc, bool whole, module_t *m)
{
    const ElfW(Phdr) *ehp = NULL;
    m->lo = UINTPTR_MAX;
    m->hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            if (whole || (pc >= start && pc < start + ph->p_memsz)) {
                if (start < m->lo)
                    m->lo = start;
                if (start + ph->p_memsz > m->hi)
                    m->hi = start + ph->p_memsz;
            }
        } else if (ph->p_type == PT_GNU_EH_FRAME) {
            ehp = ph;
        }
    }
    m->mapped = m->lo < m->hi;
    m->found = false;
    if (!m->mapped || !ehp)
        return;
    uintptr_t hdr_addr = info->dlpi_addr + ehp->p_vaddr;
    if (cfi_hdr_parse((const uint8_t *)hdr_addr, ehp->p_memsz, hdr_addr, &m->hdr) != CFI_OK)
        return;
    /* .eh_frame runs at most to the end of the segment holding it. */
    uintptr_t eh_addr = m->hdr.eh_frame_addr, eh_end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && eh_addr >= start && eh_addr < start + ph->p_memsz)
            eh_end = start + ph->p_memsz;
    }
    if (!eh_end)
        return;
    m->eh = (struct cfi_section){(const uint8_t *)eh_addr, eh_end - eh_addr, eh_addr,
                                 CFI_EH_FRAME, 0, hdr_addr};
    m->found = true;
}

struct find {
    uintptr_t pc;
    module_t *m;
};

static int find_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct find *f = data;
    module_of_info(info, f->pc, false, f->m);
    return f->m->mapped;
}

enum { MAX_MODULES = 128 };

/* Written under modules_lock, then published by storing nmodules; a
 * refresh rebuilds the other table of the two, so a walk in progress keeps
 * a consistent one.  A pthread mutex, not a runtime lock: the refresh waits
 * for the loader's lock, which a thread suspended by a stop of the world
 * may hold, and a runtime lock would make this thread one the stop waits
 * for. */
static module_t tables[2][MAX_MODULES];
static module_t *modules;
static uint32_t nmodules;
static int which;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

struct collect {
    module_t *t;
    uint32_t n;
};

static int add_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct collect *c = data;
    if (c->n == MAX_MODULES)
        return 1;
    module_of_info(info, 0, true, &c->t[c->n]);
    if (c->t[c->n].mapped)
        c->n++;
    return 0;
}

void stackwalk_refresh_modules(void)
{
    pthread_mutex_lock(&modules_lock);
    struct collect c = {tables[which], 0};
    dl_iterate_phdr(add_module, &c);
    store32(&nmodules, 0);
    storep((void **)&modules, c.t);
    store32(&nmodules, c.n);
    which ^= 1;
    pthread_mutex_unlock(&modules_lock);
}

static void lookup_module(struct unwinder *u, uintptr_t pc)
{
    module_t *m = &u->last;
    if (m->mapped && pc >= m->lo && pc < m->hi)
        return;
    memset(m, 0, sizeof *m);
    if (!u->signal_safe) {
        struct find f = {pc, m};
        dl_iterate_phdr(find_module, &f);
        return;
    }
    uint32_t n = load32(&nmodules);
    const module_t *t = loadp((void *const *)&modules);
    for (uint32_t i = 0; i < n; i++)
        if (pc >= t[i].lo && pc < t[i].hi) {
            *m = t[i];
            return;
        }
}

/* ---- Stepping ---------------------------------------------------------------- */

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

/* A signal at a pc no module holds (a call through a NULL or stray function
 * pointer): the call has just pushed its return address, which the stack
 * pointer points to. */
static int step_just_called(const struct cfi_regs *in, struct stack_bounds *b,
                            struct cfi_regs *out)
{
    uint64_t ra;
    if (!stack_read(b, in->r[CFI_RSP], &ra, sizeof ra))
        return CFI_ERR_MEMORY;
    *out = *in;
    out->r[CFI_RA] = ra;
    out->r[CFI_RSP] = in->r[CFI_RSP] + 8;
    out->flags = 0;
    return CFI_OK;
}

bool unwind_step(struct unwinder *u, const struct cfi_regs *regs, struct stack_bounds *b,
                 struct cfi_regs *caller)
{
    uintptr_t pc = cfi_lookup_pc(regs);
    struct unwind_cache_entry *ce = NULL;
    int rc;
    if (u->cache && !(regs->flags & CFI_PC_EXACT)) {
        ce = &u->cache->e[(pc * 0x9e3779b97f4a7c15ull) >> (64 - UNWIND_CACHE_BITS)];
        if (ce->pc == pc) {
            rc = cfi_step_row(&ce->row, regs, stack_read, b, caller);
            goto check;
        }
    }
    lookup_module(u, pc);
    struct cfi_fde fde;
    if (u->last.found && cfi_hdr_lookup(&u->last.hdr, &u->last.eh, pc, &fde) == CFI_OK) {
        if (ce) {
            if (cfi_row_at(&fde, pc, &ce->row) != CFI_OK)
                return false;
            ce->pc = pc;
            rc = cfi_step_row(&ce->row, regs, stack_read, b, caller);
        } else {
            rc = cfi_step_fde(&fde, regs, stack_read, b, caller);
        }
    } else if (!u->last.mapped && (regs->flags & CFI_PC_EXACT)) {
        rc = step_just_called(regs, b, caller);
    } else {
        rc = cfi_step_fp(regs, stack_read, b, caller);
    }
check:
    if (rc != CFI_OK || !(caller->valid & (1u << CFI_RA)) || caller->r[CFI_RA] == 0)
        return false;
    /* Stacks grow down: a caller's frame is above its callee's, but for a
     * signal handler's, which may run on a stack of its own. */
    bool signal_frame = (caller->flags & CFI_PC_EXACT) != 0;
    return !((caller->r[CFI_RSP] <= regs->r[CFI_RSP] && !signal_frame) ||
             caller->r[CFI_RSP] > b->hi || caller->r[CFI_RSP] < b->lo);
}

int unwind_pcs(struct unwinder *u, const struct cfi_regs *start, struct stack_bounds *b,
               uintptr_t *pcs, int max)
{
    struct cfi_regs regs = *start;
    int n = 0;
    if (max <= 0)
        return 0;
    pcs[n++] = regs.r[CFI_RA];
    while (n < max) {
        struct cfi_regs caller;
        if (!unwind_step(u, &regs, b, &caller))
            break;
        pcs[n++] = caller.r[CFI_RA];
        regs = caller;
    }
    return n;
}

int stackwalk_callers(uintptr_t *pcs, int max, struct unwind_cache *cache)
{
    struct gctx here;
    gort_savectx(&here);
    struct cfi_regs regs = regs_of_ctx(&here);
    uintptr_t sp = regs.r[CFI_RSP];
    struct g *gp = getg_maybe();
    struct m *mp = getm();
    struct stack_bounds b = {sp, sp + (8u << 20), true};
    if (gp && sp <= gp->stackhi && sp >= stack_readable_lo(gp))
        b = (struct stack_bounds){sp, gp->stackhi, false};
    else if (mp && sp >= mp->stacklo && sp <= mp->stackhi)
        b = (struct stack_bounds){sp, mp->stackhi, false};
    struct unwinder u;
    memset(&u, 0, sizeof u);
    u.cache = cache;
    /* here.rip is in this function: its callers' frames follow, the
     * runtime's at the top of the stack left out */
    int n = 0;
    bool top = true;
    for (int depth = 1; depth < 100 && n < max; depth++) {
        struct cfi_regs caller;
        if (!unwind_step(&u, &regs, &b, &caller))
            break;
        uintptr_t ra = caller.r[CFI_RA];
        regs = caller;
        if (top && stackwalk_in_runtime(ra - 1))
            continue;
        top = false;
        pcs[n++] = ra;
    }
    return n;
}
