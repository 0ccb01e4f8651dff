/*
 * pcline.h — function, file, line and inline chain of a pc in this
 * process, from the pc-line table gortcc puts into the executable
 * (docs/pctab.md), for the runtime's crash dumps.
 */
#ifndef GORT_PCLINE_H
#define GORT_PCLINE_H

#include <stdint.h>

struct pcline_frame { const char *function; const char *file; unsigned line; };
/* The frames at PC, an address in this process, innermost first: the deepest
 * inlined call at PC's own line, then each function it was inlined into at its
 * call line, the last the real (out-of-line) function.  Returns how many were
 * filled (at most MAX); 0 when no table covers PC (the caller falls back to
 * symbol names).  Async-signal-safe once pcline_init() has run: no heap
 * allocation, no lock, bounded work, and a damaged table gives 0, never a fault. */
int pcline_lookup(uintptr_t pc, struct pcline_frame *out, int max);
void pcline_init(void);   /* called once at runtime start; finds and maps the table */
uintptr_t pcline_func_start(uintptr_t pc);   /* entry of the out-of-line function holding PC, 0 if unknown (for +0xOFFSET) */

#endif
