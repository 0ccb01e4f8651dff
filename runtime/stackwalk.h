/*
 * stackwalk.h — call stacks as arrays of pcs, for the profiles (cpuprof.c,
 * blockprof.c): the CFI engine over each module's .eh_frame, found in a
 * table of the modules taken beforehand, so a walk may run in a signal
 * handler (no loader lock, no allocation).
 */
#ifndef GORT_STACKWALK_H
#define GORT_STACKWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "cfi.h"

enum { STACKWALK_MAX = 64 };

/* Takes the table of loaded modules again (not async-signal-safe: call it
 * from ordinary code, before walks that may meet new modules). */
void stackwalk_refresh_modules(void);

/* Where the frames may be read: [lo, hi] read directly; checked reads
 * (process_vm_readv) where the bounds are not known. */
struct stackwalk_bounds {
    uintptr_t lo, hi;
    bool checked;
};

/* The pcs of the frames from start, innermost first, at most max; pcs[0]
 * is exact when start->flags has CFI_PC_EXACT, every other pc is a return
 * address.  Returns the number stored.  Async-signal-safe. */
int stackwalk_regs(const struct cfi_regs *start, const struct stackwalk_bounds *b,
                   uintptr_t *pcs, int max);

/* The current goroutine's stack from the caller of the function calling
 * this (skip more frames with skip), runtime frames above the first user
 * frame left out.  Returns the number of pcs (return addresses). */
int stackwalk_here(uintptr_t *pcs, int max, int skip);

/* Whether pc lies in the runtime's own code. */
bool stackwalk_in_runtime(uintptr_t pc);

#endif /* GORT_STACKWALK_H */
