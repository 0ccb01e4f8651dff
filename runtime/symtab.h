/*
 * symtab.h — function names for pcs in this process (crash dumps).
 */
#ifndef GORT_SYMTAB_H
#define GORT_SYMTAB_H

#include <stdbool.h>
#include <stdint.h>

/* The function containing pc: its name and start address. */
bool symtab_lookup(uintptr_t pc, const char **name, uintptr_t *start);
/* The path of the executable or shared library holding pc, and the address
 * it is loaded at; false if none holds pc. */
bool symtab_module(uintptr_t pc, const char **path, uintptr_t *base);

/* The length of a symbol's source name: without the suffixes gcc gives
 * its clones (f.constprop.0, f.isra.0, f.part.0, f.cold). */
int symtab_source_len(const char *name);

#endif
