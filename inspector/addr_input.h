/*
 * addr_input.h — an address as binutils 2.40's addr2line reads one, from
 * its command line or from a line of its input: a hexadecimal number, or
 * SYMBOL[+OFFSET] looked up in the binary's symbol table.  The rule is
 * written out in docs/symbolize.md ("Addresses").
 */
#ifndef GOINSPECT_ADDR_INPUT_H
#define GOINSPECT_ADDR_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gidwarf.h"

/* The binary whose symbol table names are looked up in, and the indexes
 * of those names, built when a name is first looked up. */
struct addr_reader {
    const gd_binary *b;
    const struct gd_symbol *syms;
    size_t nsyms;
    uint32_t *by_name;          /* symbol indexes by name, then by index */
    struct demangled_name *demangled;   /* by demangled name, then by index */
    size_t ndemangled;
    bool demangled_built;
};

void addr_reader_init(struct addr_reader *r, const gd_binary *b);
void addr_reader_free(struct addr_reader *r);
/* The address s stands for (s is NUL-terminated; a line of input keeps
 * its newline). */
uint64_t addr_read(struct addr_reader *r, const char *s);

#endif
