/*
 * pctab.h — the pc-line table: pc -> (function, file, line) with inline
 * chains, in a compact form a program can carry in its executable and read
 * without libdwarf (docs/pctab.md gives the format byte by byte).
 *
 * gortpctab builds it from a binary's DWARF (gd_pctab_build, gidwarf.h)
 * and adds it to the executable as the section PCTAB_SECTION.  This reader
 * is freestanding like cfi.c: the runtime compiles it in for its crash
 * dumps, libgidwarf for goinspect's fast path.  Opening checks every bound
 * and the CRC once; a lookup then allocates nothing, takes no lock, does
 * bounded work and still checks each index it follows, so a damaged table
 * gives "not found", never a fault.
 */
#ifndef GOINSPECT_PCTAB_H
#define GOINSPECT_PCTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCTAB_SECTION ".gort_pctab"
#define PCTAB_MAGIC "GORTPCT"           /* 8 bytes with its NUL */
#define PCTAB_VERSION 1u
#define PCTAB_HEADER_SIZE 80u
#define PCTAB_BLOCK_ROWS 16u            /* rows per block of the row stream */
#define PCTAB_LINE_MASK 0x0fffffffu     /* node word 2: the call line ... */
#define PCTAB_INLINED 0x80000000u       /*   an inlined call */
#define PCTAB_FROM_SYMBOL 0x40000000u   /*   named after the ELF symbol, not DWARF */
#define PCTAB_MAX_DEPTH 64              /* frames a chain may have */

/* An opened table: pointers into the bytes it was opened on. */
struct pctab {
    const uint8_t *data;
    uint32_t size;
    uint64_t base;              /* link-time address pc offsets count from */
    uint32_t code_size;
    const uint8_t *blocks;      /* nblocks x {pc_off, stream_off} */
    uint32_t nblocks;
    const uint8_t *rows;        /* the row stream */
    uint32_t rows_size;
    const uint8_t *nodes;       /* nnodes x {name, call_file, call_line|flags, parent+1} */
    uint32_t nnodes;
    const uint8_t *funcs;       /* nfuncs x {start_off, size} */
    uint32_t nfuncs;
    const char *strs;
    uint32_t strs_size;
};

/* One frame, innermost first; strings point into the table. */
struct pctab_frame {
    const char *function;       /* NULL when nothing names it */
    const char *file;           /* NULL when unknown (the innermost frame:
                                   no line row covers pc, but a DWARF
                                   function does) */
    uint32_t line;
    bool inlined;               /* its caller is the next frame */
    bool from_symbol;           /* DWARF knows no function: an ELF symbol's name */
};

enum pctab_status {
    PCTAB_OK = 0,
    PCTAB_ESHORT = -1,          /* shorter than its header or its size says */
    PCTAB_EMAGIC = -2,          /* not a pc-line table */
    PCTAB_EVERSION = -3,        /* a version this reader does not know */
    PCTAB_EBOUNDS = -4,         /* a part lies outside the table */
    PCTAB_ECRC = -5             /* the CRC does not match: damaged */
};

/* Checks the table at data (len bytes, at least 4-aligned) and fills t. */
int pctab_open(struct pctab *t, const void *data, size_t len);
/* A static description of a pctab_status. */
const char *pctab_strerror(int code);
/* The frames of link-time address pc, innermost first: fills out[0..max)
 * and returns how many there are (at most max); 0 when the table does not
 * cover pc. */
int pctab_lookup(const struct pctab *t, uint64_t pc, struct pctab_frame *out, int max);
/* The start of the function symbol whose extent holds pc, 0 if none. */
uint64_t pctab_func_start(const struct pctab *t, uint64_t pc);

/* CRC-32 (IEEE, as zlib's crc32) of len bytes, continuing crc (0 to start). */
uint32_t pctab_crc32(uint32_t crc, const void *data, size_t len);

#endif
