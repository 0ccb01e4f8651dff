/*
 * unwind.h — walking a goroutine's or a thread's stack over memory copied
 * in the snapshot, with libgidwarf's CFI (frame pointers where a pc has no
 * FDE).
 *
 * Every read stays inside the copied regions, which never extend past the
 * stacks' bounds; each step must move the stack pointer up the same stack,
 * but for a step across a signal frame, which may go to another stack
 * (never back to one the walk has left); the walk is bounded in frames.  The unwinding row of each distinct pc is computed
 * once and cached, so a step is a hash lookup and a few loads.
 */
#ifndef GOINSPECT_UNWIND_H
#define GOINSPECT_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#include "cfi.h"
#include "modules.h"
#include "u64map.h"

/* A frame's pc as stored in a stack: a return address (look up pc - 1)
 * unless PC_EXACT is set (the innermost frame of a stopped thread, a
 * signal frame and the frame it interrupted, a goroutine that never ran).
 * PC_SIGNAL: a signal frame, the sigreturn trampoline a handler returns
 * to (its CIE has the 'S' augmentation), which gdb shows as
 * `<signal handler called>`. */
#define PC_EXACT (1ull << 63)
#define PC_SIGNAL (1ull << 62)
static inline uint64_t pc_of(uint64_t v) { return v & ~(PC_EXACT | PC_SIGNAL); }
static inline uint64_t pc_lookup(uint64_t v) { return v & PC_EXACT ? pc_of(v) : v - 1; }

/* Copied target memory: [lo, hi), then the regions chained after it (the
 * stack that a handler running on an alternate signal stack interrupted). */
struct unwind_mem {
    uint64_t lo, hi;
    const uint8_t *data;
    const struct unwind_mem *next;
};

/* Why a walk ended. */
enum unwind_stop {
    UNWIND_END = 0,         /* the outermost frame: the return address is undefined */
    UNWIND_ZERO,            /* a zero return address (a thread's outermost frame) */
    UNWIND_NO_MODULE,       /* a pc in no mapped file */
    UNWIND_NO_FILE,         /* a pc in a mapped file that cannot be read */
    UNWIND_BAD_CFI,         /* the pc's CFI cannot be used */
    UNWIND_MEMORY,          /* a read outside the copied stack */
    UNWIND_NOT_UP,          /* the stack pointer did not move up */
    UNWIND_LIMIT,           /* too many frames */
    UNWIND_NSTOPS
};
extern const char *const unwind_stop_names[UNWIND_NSTOPS];

/* A row in the common shape (CFA = register + offset, registers saved at
 * CFA + offset or unchanged), stepped without the general interpreter. */
struct fast_row {
    bool usable;
    bool ra_undefined;
    bool rsp_ra;            /* CFA = RSP + offset, the return address at CFA - 8 (or
                               none: the outermost frame) */
    uint8_t cfa_reg;
    uint8_t nload;
    uint32_t keep;          /* registers the caller has as the callee had them */
    int64_t cfa_off;
    uint8_t load_reg[CFI_NREGS];
    int64_t load_off[CFI_NREGS];
};

struct unwinder {
    struct modules *mods;
    struct u64map rows;     /* lookup pc -> row index or a ROW_* code */
    struct cfi_row *rowv;
    struct fast_row *fastv;
    size_t nrows, caprows, capfast;
    uint64_t steps;         /* statistics */
    /* Whether the last walk stepped only through rsp_ra rows: its pcs then
     * follow from its first pc and the return addresses at CFA - 8 of each
     * frame, at the same offsets from its first stack pointer. */
    bool last_rsp_ra;
};

void unwinder_init(struct unwinder *u, struct modules *mods);
void unwinder_free(struct unwinder *u);

/* Walks from regs (pc in r[CFI_RA], CFI_PC_EXACT in flags for an exact
 * pc).  Fills pcs[0..n) (PC_EXACT-tagged) and, when sps is not NULL, each
 * frame's stack pointer; returns n and sets *stop. */
int unwind_stack(struct unwinder *u, const struct cfi_regs *regs, const struct unwind_mem *mem,
                 uint64_t *pcs, uint64_t *sps, int max, enum unwind_stop *stop);

#endif
