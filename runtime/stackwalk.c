/*
 * stackwalk.c — call stacks as pcs (stackwalk.h).
 *
 * The modules' unwind tables are found once, through dl_iterate_phdr, and
 * kept in a fixed table; a walk only reads that table, so it can run in
 * the CPU profiler's signal handler, which may interrupt a thread holding
 * the loader's lock.  A module loaded after the last refresh is unwound by
 * frame pointers, where it has them.
 */
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "atomics.h"
#include "runtime.h"
#include "stackwalk.h"

void gort_savectx(struct gctx *out);   /* switch_amd64.S */
extern char __start_gort_text[], __stop_gort_text[];

enum { MAX_MODULES = 128 };

struct module {
    uintptr_t lo, hi;           /* the span of its PT_LOAD segments */
    bool has_eh;
    struct cfi_hdr hdr;
    struct cfi_section eh;
};

/* Written under modules_lock, then published by storing nmodules; a
 * refresh rebuilds the other table of the two, so a walk in progress
 * keeps a consistent one.  A pthread mutex, not a runtime lock: the
 * refresh waits for the loader's lock, which a thread suspended by a stop
 * of the world may hold, and a runtime lock would make this thread one
 * the stop waits for. */
static struct module tables[2][MAX_MODULES];
static struct module *modules;
static uint32_t nmodules;
static int which;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

bool stackwalk_in_runtime(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_gort_text && pc < (uintptr_t)__stop_gort_text;
}

struct collect {
    struct module *t;
    uint32_t n;
};

static int add_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct collect *c = data;
    if (c->n == MAX_MODULES)
        return 1;
    struct module *m = &c->t[c->n];
    memset(m, 0, sizeof *m);
    m->lo = UINTPTR_MAX;
    const ElfW(Phdr) *ehp = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD) {
            if (start < m->lo)
                m->lo = start;
            if (start + ph->p_memsz > m->hi)
                m->hi = start + ph->p_memsz;
        } else if (ph->p_type == PT_GNU_EH_FRAME) {
            ehp = ph;
        }
    }
    if (m->lo >= m->hi)
        return 0;
    c->n++;
    if (!ehp)
        return 0;
    uintptr_t hdr_addr = info->dlpi_addr + ehp->p_vaddr;
    if (cfi_hdr_parse((const uint8_t *)hdr_addr, ehp->p_memsz, hdr_addr, &m->hdr) != CFI_OK)
        return 0;
    /* .eh_frame runs at most to the end of the segment holding it. */
    uintptr_t eh_addr = m->hdr.eh_frame_addr, eh_end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && eh_addr >= start && eh_addr < start + ph->p_memsz)
            eh_end = start + ph->p_memsz;
    }
    if (!eh_end)
        return 0;
    m->eh = (struct cfi_section){(const uint8_t *)eh_addr, eh_end - eh_addr, eh_addr,
                                 CFI_EH_FRAME, 0, hdr_addr};
    m->has_eh = true;
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

static const struct module *module_at(uintptr_t pc)
{
    uint32_t n = load32(&nmodules);
    const struct module *t = loadp((void *const *)&modules);
    for (uint32_t i = 0; i < n; i++)
        if (pc >= t[i].lo && pc < t[i].hi)
            return &t[i];
    return NULL;
}

static bool read_frame(void *ctx, uint64_t addr, void *buf, size_t len)
{
    const struct stackwalk_bounds *b = ctx;
    if (addr < b->lo || addr > b->hi || len > b->hi - addr)
        return false;
    if (b->checked) {
        struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
        return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)len;
    }
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return true;
}

int stackwalk_regs(const struct cfi_regs *start, const struct stackwalk_bounds *b,
                   uintptr_t *pcs, int max)
{
    struct cfi_regs regs = *start;
    int n = 0;
    if (max <= 0)
        return 0;
    pcs[n++] = regs.r[CFI_RA];
    while (n < max) {
        uint64_t at = cfi_lookup_pc(&regs);
        const struct module *m = module_at(at);
        struct cfi_regs caller;
        struct cfi_fde fde;
        int rc;
        if (m && m->has_eh && cfi_hdr_lookup(&m->hdr, &m->eh, at, &fde) == CFI_OK)
            rc = cfi_step_fde(&fde, &regs, read_frame, (void *)b, &caller);
        else
            rc = cfi_step_fp(&regs, read_frame, (void *)b, &caller);
        if (rc != CFI_OK || !(caller.valid & (1u << CFI_RA)) || caller.r[CFI_RA] == 0)
            break;
        bool signal_frame = (caller.flags & CFI_PC_EXACT) != 0;
        if ((caller.r[CFI_RSP] <= regs.r[CFI_RSP] && !signal_frame) ||
            caller.r[CFI_RSP] > b->hi || caller.r[CFI_RSP] < b->lo)
            break;
        pcs[n++] = caller.r[CFI_RA];
        regs = caller;
    }
    return n;
}

int stackwalk_here(uintptr_t *pcs, int max, int skip)
{
    if (load32(&nmodules) == 0)
        stackwalk_refresh_modules();
    struct gctx here;
    gort_savectx(&here);
    struct cfi_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.r[CFI_RSP] = here.rsp;
    regs.r[CFI_RA] = here.rip;
    regs.r[CFI_RBP] = here.rbp;
    regs.r[CFI_RBX] = here.rbx;
    regs.r[CFI_R12] = here.r12;
    regs.r[CFI_R13] = here.r13;
    regs.r[CFI_R14] = here.r14;
    regs.r[CFI_R15] = here.r15;
    regs.valid = 1u << CFI_RSP | 1u << CFI_RA | 1u << CFI_RBP | 1u << CFI_RBX | 1u << CFI_R12 |
                 1u << CFI_R13 | 1u << CFI_R14 | 1u << CFI_R15;
    struct g *gp = getg_maybe();
    struct m *mp = getm();
    struct stackwalk_bounds b;
    if (gp && here.rsp >= gp->stacklo && here.rsp <= gp->stackhi)
        b = (struct stackwalk_bounds){here.rsp, gp->stackhi, false};
    else if (mp && here.rsp >= mp->stacklo && here.rsp <= mp->stackhi)
        b = (struct stackwalk_bounds){here.rsp, mp->stackhi, false};
    else
        b = (struct stackwalk_bounds){here.rsp, here.rsp + (8u << 20), true};
    uintptr_t all[STACKWALK_MAX];
    int n = stackwalk_regs(&regs, &b, all, STACKWALK_MAX);
    /* all[0] is in gort_savectx's caller (this function): drop it and skip
     * more, then the runtime frames above the first user frame. */
    int i = 1 + skip;
    while (i < n && stackwalk_in_runtime(all[i] - 1))
        i++;
    int k = 0;
    for (; i < n && k < max; i++)
        pcs[k++] = all[i];
    return k;
}
