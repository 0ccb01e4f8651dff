/*
 * cfi.h — DWARF call-frame information for x86-64: CIE/FDE parsing, the
 * CFA-program interpreter and one unwinding step.
 *
 * Freestanding: this file and cfi.c use only <stdint.h>, <stddef.h>,
 * <stdbool.h> and <string.h>, never allocate and never call anything
 * outside themselves except the memory-read callback a caller passes.  Every
 * loop is bounded by the bytes it decodes, so corrupt input gives an error,
 * never a crash or a hang.  The runtime compiles cfi.c into itself to unwind
 * its own stacks in-process; libgidwarf uses it on sections read from files.
 *
 * Sections are given as bytes plus the address they are loaded at
 * (struct cfi_section), so pc-relative pointer encodings of .eh_frame decode
 * to addresses in the same address space as `addr`: pass the section's
 * sh_addr for a file (link-time addresses), or the run-time address when the
 * bytes are the loaded section itself.
 *
 * Typical use, in-process (dl_iterate_phdr gives the PT_GNU_EH_FRAME
 * segment, which is .eh_frame_hdr):
 *
 *     struct cfi_hdr hdr;
 *     cfi_hdr_parse(hdr_bytes, hdr_size, hdr_addr, &hdr);
 *     struct cfi_section eh = { (const uint8_t *)hdr.eh_frame_addr,
 *                               bytes_to_end_of_mapping, hdr.eh_frame_addr,
 *                               CFI_EH_FRAME, 0, hdr_addr };
 *     for (;;) {
 *         struct cfi_fde fde;
 *         if (cfi_hdr_lookup(&hdr, &eh, cfi_lookup_pc(&regs), &fde) != CFI_OK)
 *             rc = cfi_step_fp(&regs, read, ctx, &caller);   // fallback
 *         else
 *             rc = cfi_step_fde(&fde, &regs, read, ctx, &caller);
 *         if (rc != CFI_OK) break;        // CFI_END: clean end of the stack
 *         regs = caller;
 *     }
 *
 * Register numbers are DWARF's for x86-64: 0 rax, 1 rdx, 2 rcx, 3 rbx,
 * 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 the return address.  In a
 * struct cfi_regs, slot 16 holds the frame's pc.
 */
#ifndef GOINSPECT_CFI_H
#define GOINSPECT_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Registers ------------------------------------------------------- */

enum {
    CFI_RAX = 0, CFI_RDX = 1, CFI_RCX = 2, CFI_RBX = 3,
    CFI_RSI = 4, CFI_RDI = 5, CFI_RBP = 6, CFI_RSP = 7,
    CFI_R8 = 8, CFI_R9, CFI_R10, CFI_R11, CFI_R12, CFI_R13, CFI_R14, CFI_R15,
    CFI_RA = 16,            /* return-address column; in cfi_regs: the pc */
    CFI_NREGS = 17
};

/* cfi_regs.flags */
#define CFI_PC_EXACT 0x1u   /* r[CFI_RA] is the exact pc of this frame (the
                               innermost frame, or a frame interrupted by a
                               signal): look it up as is, not minus one */

/* The registers of one frame.  r[i] is meaningful only when bit i of valid
 * is set.  r[CFI_RA] is the frame's pc; r[CFI_RSP] its stack pointer. */
struct cfi_regs {
    uint64_t r[CFI_NREGS];
    uint32_t valid;         /* bit i: r[i] is known */
    uint32_t flags;         /* CFI_PC_EXACT */
};

/* Reads len bytes of target memory at addr into buf; returns false when the
 * memory cannot be read.  ctx is passed through unchanged. */
typedef bool (*cfi_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/* ---- Status codes ---------------------------------------------------- */

enum cfi_status {
    CFI_OK = 0,
    CFI_END = 1,                /* the return address is undefined: the
                                   outermost frame (a thread's or a
                                   goroutine's start) */
    CFI_ERR_NOT_FOUND = -1,     /* no FDE covers the pc */
    CFI_ERR_BAD = -2,           /* malformed CFI */
    CFI_ERR_UNSUPPORTED = -3,   /* valid CFI this engine does not handle */
    CFI_ERR_MEMORY = -4,        /* the read callback failed */
    CFI_ERR_REGISTER = -5,      /* a rule needs a register that is not valid */
    CFI_ERR_ARG = -6            /* invalid argument */
};

/* A static English description of a status code. */
const char *cfi_strerror(int status);

/* ---- Sections -------------------------------------------------------- */

enum cfi_kind {
    CFI_EH_FRAME = 0,       /* .eh_frame: CIE id 0, pc-relative CIE pointers */
    CFI_DEBUG_FRAME = 1     /* .debug_frame: CIE id ~0, section offsets */
};

struct cfi_section {
    const uint8_t *data;    /* the section's bytes */
    size_t size;            /* bytes readable at data */
    uint64_t addr;          /* address data[0] is loaded at (pcrel base) */
    int kind;               /* enum cfi_kind */
    uint64_t text_base;     /* base of DW_EH_PE_textrel (0 if unused) */
    uint64_t data_base;     /* base of DW_EH_PE_datarel (0 if unused) */
};

/* ---- CIEs and FDEs --------------------------------------------------- */

struct cfi_cie {
    const uint8_t *insns;   /* initial instructions */
    size_t insns_len;
    uint64_t code_align;
    int64_t data_align;
    uint32_t ra_reg;        /* return-address column (16 on x86-64) */
    uint8_t version;        /* 1, 3 or 4 */
    uint8_t addr_size;      /* 8 unless a version 4 CIE says otherwise */
    uint8_t fde_enc;        /* DW_EH_PE_* of FDE addresses ('R') */
    uint8_t lsda_enc;       /* DW_EH_PE_* of the LSDA ('L'), 0xff if none */
    bool has_aug_data;      /* 'z' */
    bool signal_frame;      /* 'S' */
    size_t offset;          /* offset of the CIE in its section */
};

struct cfi_fde {
    uint64_t pc_begin;      /* first pc covered */
    uint64_t pc_end;        /* one past the last */
    const uint8_t *insns;   /* the FDE's CFA program */
    size_t insns_len;
    uint64_t insns_addr;    /* address of insns[0] (DW_CFA_set_loc pcrel) */
    size_t offset;          /* offset of the FDE in its section */
    struct cfi_cie cie;
};

/* Decodes the CIE at section offset off. */
int cfi_cie_decode(const struct cfi_section *sec, size_t off, struct cfi_cie *out);

/* Decodes the FDE at section offset off (and its CIE).  CFI_ERR_NOT_FOUND if
 * the entry there is a CIE or the terminator. */
int cfi_fde_decode(const struct cfi_section *sec, size_t off, struct cfi_fde *out);

/* Walking a section entry by entry (CIEs are skipped). */
struct cfi_iter {
    const struct cfi_section *sec;
    size_t off;             /* next entry */
};
void cfi_iter_init(struct cfi_iter *it, const struct cfi_section *sec);
/* CFI_OK with *out filled, CFI_END at the end of the section (or its zero
 * terminator), or an error (the iteration cannot continue past it). */
int cfi_iter_next(struct cfi_iter *it, struct cfi_fde *out);

/* Linear scan for the FDE covering pc. */
int cfi_find_fde_scan(const struct cfi_section *sec, uint64_t pc, struct cfi_fde *out);

/* ---- .eh_frame_hdr ---------------------------------------------------- */

struct cfi_hdr {
    const uint8_t *data;    /* the .eh_frame_hdr bytes */
    size_t size;
    uint64_t addr;          /* their address */
    uint64_t eh_frame_addr; /* decoded eh_frame_ptr */
    uint64_t fde_count;     /* entries in the search table (0: none) */
    const uint8_t *table;   /* the table, (initial_loc, fde_addr) pairs */
    uint8_t table_enc;      /* DW_EH_PE_* of the table entries */
};

int cfi_hdr_parse(const uint8_t *data, size_t size, uint64_t addr, struct cfi_hdr *out);

/* Binary search of the header's table for pc, then decodes the FDE in eh
 * (whose addr must be hdr->eh_frame_addr's address space) and checks that it
 * covers pc.  Without a usable table (fde_count 0, or an encoding that is not
 * fixed-size), falls back to cfi_find_fde_scan. */
int cfi_hdr_lookup(const struct cfi_hdr *hdr, const struct cfi_section *eh,
                   uint64_t pc, struct cfi_fde *out);

/* ---- Rows and rules -------------------------------------------------- */

enum cfi_rule_kind {
    CFI_RULE_UNSPECIFIED = 0,   /* no rule given: callee-saved registers keep
                                   their value, others become unknown */
    CFI_RULE_UNDEFINED,         /* .cfi_undefined */
    CFI_RULE_SAME,              /* same value */
    CFI_RULE_OFFSET,            /* saved at CFA+offset */
    CFI_RULE_VAL_OFFSET,        /* value is CFA+offset */
    CFI_RULE_REGISTER,          /* saved in register reg */
    CFI_RULE_EXPR,              /* saved at the address expr computes */
    CFI_RULE_VAL_EXPR           /* value is what expr computes */
};

struct cfi_rule {
    uint8_t kind;               /* enum cfi_rule_kind */
    uint8_t reg;                /* CFI_RULE_REGISTER */
    uint32_t expr_len;
    int64_t offset;             /* CFI_RULE_OFFSET / VAL_OFFSET */
    const uint8_t *expr;        /* CFI_RULE_EXPR / VAL_EXPR: DW_OP bytes */
};

enum cfi_cfa_kind {
    CFI_CFA_REG_OFFSET = 0,     /* CFA = reg + offset */
    CFI_CFA_EXPR = 1            /* CFA = value of expr */
};

/* The unwinding rules in force at one pc. */
struct cfi_row {
    uint64_t loc;               /* first pc the row applies to */
    uint64_t end;               /* one past the last */
    uint8_t cfa_kind;           /* enum cfi_cfa_kind */
    uint8_t cfa_reg;
    int64_t cfa_offset;
    uint32_t cfa_expr_len;
    const uint8_t *cfa_expr;
    uint32_t ra_reg;            /* the CIE's return-address column */
    bool signal_frame;          /* the FDE's CIE has 'S' */
    struct cfi_rule rules[CFI_NREGS];
};

/* Runs the CIE's and the FDE's CFA programs up to pc (pc_begin <= pc <
 * pc_end) and gives the row in force there.  Uses about 5 KiB of stack
 * (DW_CFA_remember_state nests up to CFI_STATE_DEPTH deep). */
#define CFI_STATE_DEPTH 8
int cfi_row_at(const struct cfi_fde *fde, uint64_t pc, struct cfi_row *row);

/* ---- Unwinding ------------------------------------------------------- */

/* The pc to look up for a frame: r[CFI_RA] when CFI_PC_EXACT is set,
 * r[CFI_RA] - 1 otherwise (a return address points after the call). */
uint64_t cfi_lookup_pc(const struct cfi_regs *regs);

/* One step with a row: the caller's registers from the callee's.
 * out->r[CFI_RSP] is the CFA, out->r[CFI_RA] the caller's pc, and
 * out->flags has CFI_PC_EXACT when the row is a signal frame's.  Returns
 * CFI_END when the return address rule is undefined.  Expressions are
 * evaluated with a bounded stack and step count; they may use any DW_OP of
 * the common subset (constants, stack ops, arithmetic and logic, comparisons,
 * branches, breg/bregx, deref/deref_size, call_frame_cfa). */
int cfi_step_row(const struct cfi_row *row, const struct cfi_regs *in,
                 cfi_read_fn read, void *ctx, struct cfi_regs *out);

/* cfi_row_at(fde, cfi_lookup_pc(in)) then cfi_step_row. */
int cfi_step_fde(const struct cfi_fde *fde, const struct cfi_regs *in,
                 cfi_read_fn read, void *ctx, struct cfi_regs *out);

/* The frame-pointer fallback for a pc without an FDE: CFA = rbp + 16, the
 * caller's rbp at [rbp], its pc at [rbp + 8].  CFI_END when rbp or the
 * return address is 0 (the outermost frame of a thread clears rbp). */
int cfi_step_fp(const struct cfi_regs *in, cfi_read_fn read, void *ctx,
                struct cfi_regs *out);

/* ---- Pointer encodings (DW_EH_PE_*) --------------------------------- */

/* Decodes one DW_EH_PE-encoded pointer at data[*off] (the field's address is
 * sec->addr + *off) and advances *off.  Indirect pointers are resolved with
 * read (may be NULL: then indirect encodings fail).  Exposed for callers
 * that parse LSDAs or .eh_frame_hdr-like tables themselves. */
int cfi_read_pointer(const struct cfi_section *sec, size_t *off, uint8_t enc,
                     uint8_t addr_size, cfi_read_fn read, void *ctx,
                     uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif
