/*
 * vdso.h — the kernel's vdso as a module: an ELF image with no file,
 * mapped into every process ([vdso]; AT_SYSINFO_EHDR in the auxiliary
 * vector), where clock_gettime() and gettimeofday() run.  Its .dynsym
 * names the frames in it and its .eh_frame unwinds them, as gdb reads it.
 */
#ifndef GOINSPECT_VDSO_H
#define GOINSPECT_VDSO_H

#include "modules.h"
#include "target.h"

/* Adds the target's [vdso] mapping to ms as a module named "[vdso]", its
 * image copied from the target's memory (opened with libgidwarf on first
 * need).  Nothing when the target has no vdso or its image cannot be
 * read: addresses there stay in no module. */
void vdso_add(struct modules *ms, struct target *t);

#endif
