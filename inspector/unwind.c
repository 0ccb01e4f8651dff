/*
 * unwind.c — bounded CFI unwinding over snapshot memory (unwind.h).
 */
#include "unwind.h"

#include <stdlib.h>
#include <string.h>

#include "fail.h"

const char *const unwind_stop_names[UNWIND_NSTOPS] = {
    [UNWIND_END] = "end of stack",
    [UNWIND_ZERO] = "zero return address",
    [UNWIND_NO_MODULE] = "pc is in no mapped file",
    [UNWIND_NO_FILE] = "the file mapped at pc cannot be read",
    [UNWIND_BAD_CFI] = "unusable call-frame information",
    [UNWIND_MEMORY] = "read outside the stack",
    [UNWIND_NOT_UP] = "stack pointer did not move up",
    [UNWIND_LIMIT] = "too many frames",
};

/* Row cache codes besides row indexes. */
#define ROW_FP 0xffffffffu          /* no FDE: frame pointers */
#define ROW_NO_MODULE 0xfffffffeu
#define ROW_BAD 0xfffffffdu
#define ROW_NO_FILE 0xfffffffcu

void unwinder_init(struct unwinder *u, struct modules *mods)
{
    memset(u, 0, sizeof *u);
    u->mods = mods;
    u64map_init(&u->rows);
}

void unwinder_free(struct unwinder *u)
{
    u64map_free(&u->rows);
    free(u->rowv);
    free(u->fastv);
    memset(u, 0, sizeof *u);
}

/* The copy of [addr, addr + len) in one of the regions, or NULL. */
static const uint8_t *mem_at(const struct unwind_mem *m, uint64_t addr, size_t len)
{
    for (; m; m = m->next)
        if (addr >= m->lo && addr < m->hi && len <= m->hi - addr)
            return m->data + (addr - m->lo);
    return NULL;
}

static bool read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
    const uint8_t *p = mem_at(ctx, addr, len);
    if (p)
        memcpy(buf, p, len);
    return p != NULL;
}

#define CALLEE_SAVED ((1u << CFI_RBX) | (1u << CFI_RBP) | (1u << CFI_R12) | (1u << CFI_R13) | \
                      (1u << CFI_R14) | (1u << CFI_R15))

/* The fast form of a row, when it has the common shape; the same results
 * as cfi_step_row. */
static void make_fast(const struct cfi_row *row, struct fast_row *f)
{
    memset(f, 0, sizeof *f);
    if (row->cfa_kind != CFI_CFA_REG_OFFSET || row->cfa_reg >= CFI_NREGS ||
        row->ra_reg != CFI_RA || row->signal_frame)
        return;
    f->cfa_reg = row->cfa_reg;
    f->cfa_off = row->cfa_offset;
    for (unsigned i = 0; i < CFI_NREGS; i++) {
        const struct cfi_rule *r = &row->rules[i];
        switch (r->kind) {
        case CFI_RULE_UNSPECIFIED:
            if (i == CFI_RA)
                return;                 /* an error: left to the interpreter */
            if (i != CFI_RSP && ((CALLEE_SAVED >> i) & 1))
                f->keep |= 1u << i;
            break;
        case CFI_RULE_UNDEFINED:
            if (i == CFI_RA)
                f->ra_undefined = true;
            break;
        case CFI_RULE_SAME:
            if (i == CFI_RSP)
                return;
            f->keep |= 1u << i;
            break;
        case CFI_RULE_OFFSET:
            if (i == CFI_RSP)
                return;
            if (i == CFI_RA)
                f->rsp_ra = f->cfa_reg == CFI_RSP && r->offset == -8;
            f->load_reg[f->nload] = (uint8_t)i;
            f->load_off[f->nload] = r->offset;
            f->nload++;
            break;
        default:
            return;
        }
    }
    /* The outermost frame: the walk ends there, but whether it ends well
     * (the CFA's register known, the registers it loads in the copy) depends
     * on nothing but the offsets only when the CFA is the stack pointer's. */
    if (f->ra_undefined)
        f->rsp_ra = f->cfa_reg == CFI_RSP;
    f->usable = true;
}

static int step_fast(const struct fast_row *f, const struct cfi_regs *in,
                     const struct unwind_mem *mem, struct cfi_regs *out)
{
    if (!(in->valid & (1u << f->cfa_reg)))
        return CFI_ERR_REGISTER;
    uint64_t cfa = in->r[f->cfa_reg] + (uint64_t)f->cfa_off;
    uint32_t valid = in->valid & f->keep;
    for (unsigned i = 0; i < CFI_NREGS; i++)
        out->r[i] = (valid >> i) & 1 ? in->r[i] : 0;
    for (unsigned k = 0; k < f->nload; k++) {
        const uint8_t *p = mem_at(mem, cfa + (uint64_t)f->load_off[k], 8);
        if (!p)
            return CFI_ERR_MEMORY;
        memcpy(&out->r[f->load_reg[k]], p, 8);
        valid |= 1u << f->load_reg[k];
    }
    if (f->ra_undefined)
        return CFI_END;
    out->r[CFI_RSP] = cfa;
    valid |= 1u << CFI_RSP;
    if (!((valid >> CFI_RA) & 1))
        return CFI_ERR_REGISTER;
    out->valid = valid;
    out->flags = 0;
    return CFI_OK;
}

/* The row for lookup pc lpc (a target address), computed once. */
static uint32_t row_for(struct unwinder *u, uint64_t lpc)
{
    uint32_t v;
    if (u64map_get(&u->rows, lpc, &v))
        return v;
    struct module *m = modules_find(u->mods, lpc);
    gd_binary *b = m ? module_binary(u->mods, m) : NULL;
    if (!b) {
        v = m ? ROW_NO_FILE : ROW_NO_MODULE;
    } else {
        struct cfi_fde fde;
        uint64_t link = lpc - m->bias;
        int rc = gd_find_fde(b, link, &fde);
        if (rc == CFI_ERR_NOT_FOUND) {
            v = ROW_FP;
        } else if (rc != CFI_OK) {
            v = ROW_BAD;
        } else {
            xgrow(&u->rowv, &u->caprows, u->nrows + 1, sizeof *u->rowv);
            xgrow(&u->fastv, &u->capfast, u->nrows + 1, sizeof *u->fastv);
            if (cfi_row_at(&fde, link, &u->rowv[u->nrows]) == CFI_OK) {
                make_fast(&u->rowv[u->nrows], &u->fastv[u->nrows]);
                v = (uint32_t)u->nrows++;
            } else {
                v = ROW_BAD;
            }
        }
    }
    u64map_put(&u->rows, lpc, v);
    return v;
}

/* The index in mem's chain of the region holding sp (its top too: the
 * outermost frame's sp may be the stack's end), or NO_REGION. */
#define NO_REGION 31
static unsigned region_of(const struct unwind_mem *m, uint64_t sp)
{
    for (unsigned i = 0; m && i < NO_REGION; m = m->next, i++)
        if (m->data && sp >= m->lo && sp <= m->hi)
            return i;
    return NO_REGION;
}

/* May the walk go from a frame at sp to its caller's at csp?  Stacks grow
 * down: a caller's frame is above its callee's, on the same stack.  The
 * context a signal interrupted may be on another stack (the handler ran on
 * an alternate signal stack), but not on one the walk left before (*left,
 * a set of regions), so that the walk cannot go round in circles. */
static bool step_up(const struct unwind_mem *mem, uint64_t sp, uint64_t csp, bool signal,
                    uint32_t *left)
{
    unsigned r = region_of(mem, sp), cr = region_of(mem, csp);
    if (r != NO_REGION && cr == r)
        return csp > sp;
    if (!signal || (*left >> cr) & 1)
        return false;
    *left |= 1u << r;
    return true;
}

int unwind_stack(struct unwinder *u, const struct cfi_regs *regs, const struct unwind_mem *mem,
                 uint64_t *pcs, uint64_t *sps, int max, enum unwind_stop *stop)
{
    struct cfi_regs cur = *regs, caller;
    uint32_t left = 0;
    int n = 0;
    *stop = UNWIND_LIMIT;
    u->last_rsp_ra = true;
    while (n < max) {
        uint64_t pc = cur.r[CFI_RA];
        bool exact = cur.flags & CFI_PC_EXACT;
        if (pc == 0) {
            *stop = UNWIND_ZERO;
            break;
        }
        if (pc & (PC_EXACT | PC_SIGNAL)) {  /* not a user-space address: garbage */
            *stop = UNWIND_NO_MODULE;
            break;
        }
        uint32_t row = row_for(u, cfi_lookup_pc(&cur));
        /* a signal frame is where the handler returns to, the first byte
         * of the trampoline: named at its pc, not at pc - 1 */
        bool signal = row < u->nrows && u->rowv[row].signal_frame;
        pcs[n] = pc | (exact || signal ? PC_EXACT : 0) | (signal ? PC_SIGNAL : 0);
        if (sps)
            sps[n] = cur.r[CFI_RSP];
        n++;
        int rc;
        u->steps++;
        if (row == ROW_NO_MODULE || row == ROW_NO_FILE) {
            *stop = row == ROW_NO_FILE ? UNWIND_NO_FILE : UNWIND_NO_MODULE;
            break;
        }
        if (row == ROW_BAD) {
            *stop = UNWIND_BAD_CFI;
            break;
        }
        if (row == ROW_FP)
            rc = cfi_step_fp(&cur, read_mem, (void *)mem, &caller);
        else if (u->fastv[row].usable)
            rc = step_fast(&u->fastv[row], &cur, mem, &caller);
        else
            rc = cfi_step_row(&u->rowv[row], &cur, read_mem, (void *)mem, &caller);
        if (row >= u->nrows || !u->fastv[row].usable || !u->fastv[row].rsp_ra)
            u->last_rsp_ra = false;
        if (rc == CFI_END) {
            *stop = UNWIND_END;
            break;
        }
        if (rc != CFI_OK) {
            *stop = rc == CFI_ERR_MEMORY ? UNWIND_MEMORY : UNWIND_BAD_CFI;
            break;
        }
        if (!(caller.valid & (1u << CFI_RA))) {
            *stop = UNWIND_END;
            break;
        }
        if (!step_up(mem, cur.r[CFI_RSP], caller.r[CFI_RSP], signal, &left)) {
            *stop = UNWIND_NOT_UP;
            break;
        }
        cur = caller;
    }
    return n;
}
