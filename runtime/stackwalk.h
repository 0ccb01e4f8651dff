/*
 * stackwalk.h — the runtime's unwinder (stackwalk.c): the CFI engine over
 * each module's .eh_frame, for the crash reports (traceback.c) and the
 * profiles' stacks (memprof.c, blockprof.c, cpuprof.c, the goroutine
 * profile).
 */
#ifndef GORT_STACKWALK_H
#define GORT_STACKWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "cfi.h"

struct gctx;

enum { STACKWALK_MAX = 64 };

/* Where a stack's frames may be read: [lo, hi], directly, or with checked
 * reads (process_vm_readv) where the bounds are not known for sure. */
struct stack_bounds {
    uintptr_t lo, hi;
    bool checked;
};

/* Reads len bytes at addr within the bounds ctx (a struct stack_bounds). */
bool stack_read(void *ctx, uint64_t addr, void *buf, size_t len);

/* The registers of a saved goroutine context, for a walk. */
struct cfi_regs regs_of_ctx(const struct gctx *ctx);

/* The registers of a signal's ucontext (gregs: uc_mcontext.gregs, or a copy
 * of it), pc exact: the interrupted instruction itself. */
struct cfi_regs regs_of_gregs(const void *gregs);

/* A hash of a stack's pcs, for the profiles' tables. */
uint64_t stack_hash(const uintptr_t *pcs, int n);

/* Unwind rows by return address (stackwalk_callers): a profile's samples
 * come back to the same call sites, and a row costs the table lookup and
 * the CFA program's run.  One user at a time. */
struct unwind_cache;
struct unwind_cache *unwind_cache_new(void);   /* zeroed, never freed */

/* The state of a walk, or of several: zero it first.  signal_safe: look
 * modules up only in the table stackwalk_refresh_modules took (for a
 * signal handler, which must not take the loader's lock). */
struct unwinder {
    bool signal_safe;
    struct unwind_cache *cache;      /* NULL: none */
    /* the last module looked up: a pc in the same segment reuses it */
    struct {
        uintptr_t lo, hi;
        bool mapped, found;
        struct cfi_hdr hdr;
        struct cfi_section eh;
    } last;
};

/* One frame up from regs within b: false at the end of the stack or where
 * the unwind fails or goes the wrong way (a corrupt stack). */
bool unwind_step(struct unwinder *u, const struct cfi_regs *regs, struct stack_bounds *b,
                 struct cfi_regs *caller);

/* The pcs of the frames from start, innermost first, at most max: pcs[0]
 * exact when start->flags has CFI_PC_EXACT, every other one a return
 * address.  Returns the number stored. */
int unwind_pcs(struct unwinder *u, const struct cfi_regs *start, struct stack_bounds *b,
               uintptr_t *pcs, int max);

/* Takes the table of loaded modules for signal-safe walks (not itself
 * async-signal-safe). */
void stackwalk_refresh_modules(void);

/* The return addresses of the calling goroutine's (or thread's) frames
 * above the runtime's own at the top of the stack, innermost first, at
 * most max; cache as for struct unwinder. */
int stackwalk_callers(uintptr_t *pcs, int max, struct unwind_cache *cache);

/* Whether pc lies in the runtime's own code. */
bool stackwalk_in_runtime(uintptr_t pc);

#endif /* GORT_STACKWALK_H */
