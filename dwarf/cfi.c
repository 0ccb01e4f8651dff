/*
 * cfi.c — DWARF call-frame information for x86-64 (see cfi.h).
 *
 * Freestanding: no allocation, no library calls but memcpy/memset, and every
 * loop bounded by the bytes it decodes.  Formats: DWARF 5 section 6.4
 * (.debug_frame), the LSB's .eh_frame and .eh_frame_hdr.
 */
#include "cfi.h"

#include <string.h>

/* DW_EH_PE_* pointer encodings */
#define PE_OMIT     0xff
#define PE_FORMAT   0x0f
#define PE_APPLY    0x70
#define PE_INDIRECT 0x80
#define PE_ABSPTR   0x00
#define PE_ULEB128  0x01
#define PE_UDATA2   0x02
#define PE_UDATA4   0x03
#define PE_UDATA8   0x04
#define PE_SLEB128  0x09
#define PE_SDATA2   0x0a
#define PE_SDATA4   0x0b
#define PE_SDATA8   0x0c
#define PE_PCREL    0x10
#define PE_TEXTREL  0x20
#define PE_DATAREL  0x30
#define PE_FUNCREL  0x40
#define PE_ALIGNED  0x50

/* Registers the SysV x86-64 ABI preserves across calls: without a rule they
 * keep their value in the caller. */
#define CALLEE_SAVED ((1u << CFI_RBX) | (1u << CFI_RBP) | (1u << CFI_R12) | \
                      (1u << CFI_R13) | (1u << CFI_R14) | (1u << CFI_R15))

#define EXPR_STACK 64
#define EXPR_STEPS 4096

const char *cfi_strerror(int status)
{
    switch (status) {
    case CFI_OK: return "success";
    case CFI_END: return "end of stack (return address undefined)";
    case CFI_ERR_NOT_FOUND: return "no FDE covers the address";
    case CFI_ERR_BAD: return "malformed call-frame information";
    case CFI_ERR_UNSUPPORTED: return "unsupported call-frame information";
    case CFI_ERR_MEMORY: return "cannot read target memory";
    case CFI_ERR_REGISTER: return "a needed register is unknown";
    case CFI_ERR_ARG: return "invalid argument";
    default: return "unknown CFI status";
    }
}

/* ---- Bounded little-endian cursor ------------------------------------ */

struct cur {
    const uint8_t *base;    /* byte 0 of the section */
    size_t pos;
    size_t end;             /* limit, an offset from base */
    bool bad;
};

static bool cur_need(struct cur *c, size_t n)
{
    if (c->bad || c->pos > c->end || n > c->end - c->pos) {
        c->bad = true;
        return false;
    }
    return true;
}

static uint64_t cur_uint(struct cur *c, size_t n)
{
    uint64_t v = 0;
    if (!cur_need(c, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)c->base[c->pos + i] << (8 * i);
    c->pos += n;
    return v;
}

static int64_t cur_sint(struct cur *c, size_t n)
{
    uint64_t v = cur_uint(c, n);
    if (n < 8 && (v >> (8 * n - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * n);
    return (int64_t)v;
}

static uint8_t cur_u8(struct cur *c)
{
    return (uint8_t)cur_uint(c, 1);
}

static uint64_t cur_uleb(struct cur *c)
{
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (!cur_need(c, 1))
            return 0;
        uint8_t b = c->base[c->pos++];
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
}

static int64_t cur_sleb(struct cur *c)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (!cur_need(c, 1))
            return 0;
        b = c->base[c->pos++];
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

static void cur_skip(struct cur *c, uint64_t n)
{
    if (n > SIZE_MAX || !cur_need(c, (size_t)n))
        return;
    c->pos += (size_t)n;
}

/* ---- Pointer encodings ----------------------------------------------- */

static int read_ptr(const struct cfi_section *sec, struct cur *c, uint8_t enc,
                    uint8_t addr_size, uint64_t funcbase,
                    cfi_read_fn read, void *ctx, uint64_t *out)
{
    uint64_t v = 0, base = 0;

    *out = 0;
    if (enc == PE_OMIT)
        return CFI_OK;
    if ((enc & PE_APPLY) == PE_ALIGNED) {
        uint64_t a = sec->addr + c->pos;
        uint64_t pad = (addr_size - (a % addr_size)) % addr_size;
        cur_skip(c, pad);
    }
    uint64_t field = sec->addr + c->pos;
    switch (enc & PE_FORMAT) {
    case PE_ABSPTR: v = cur_uint(c, addr_size); break;
    case PE_ULEB128: v = cur_uleb(c); break;
    case PE_UDATA2: v = cur_uint(c, 2); break;
    case PE_UDATA4: v = cur_uint(c, 4); break;
    case PE_UDATA8: v = cur_uint(c, 8); break;
    case PE_SLEB128: v = (uint64_t)cur_sleb(c); break;
    case PE_SDATA2: v = (uint64_t)cur_sint(c, 2); break;
    case PE_SDATA4: v = (uint64_t)cur_sint(c, 4); break;
    case PE_SDATA8: v = (uint64_t)cur_sint(c, 8); break;
    default: return CFI_ERR_BAD;
    }
    if (c->bad)
        return CFI_ERR_BAD;
    switch (enc & PE_APPLY) {
    case 0: case PE_ALIGNED: base = 0; break;
    case PE_PCREL: base = field; break;
    case PE_TEXTREL: base = sec->text_base; break;
    case PE_DATAREL: base = sec->data_base; break;
    case PE_FUNCREL: base = funcbase; break;
    default: return CFI_ERR_BAD;
    }
    v += base;
    if (enc & PE_INDIRECT) {
        uint8_t buf[8] = {0};
        if (!read || !read(ctx, v, buf, addr_size))
            return CFI_ERR_MEMORY;
        v = 0;
        for (unsigned i = 0; i < addr_size; i++)
            v |= (uint64_t)buf[i] << (8 * i);
    }
    *out = v;
    return CFI_OK;
}

int cfi_read_pointer(const struct cfi_section *sec, size_t *off, uint8_t enc,
                     uint8_t addr_size, cfi_read_fn read, void *ctx,
                     uint64_t *out)
{
    if (!sec || !off || !out || (addr_size != 4 && addr_size != 8))
        return CFI_ERR_ARG;
    struct cur c = { sec->data, *off, sec->size, false };
    int rc = read_ptr(sec, &c, enc, addr_size, 0, read, ctx, out);
    if (rc == CFI_OK)
        *off = c.pos;
    return rc;
}

/* Size in bytes of a fixed-size encoding, 0 for a variable-size one. */
static size_t enc_size(uint8_t enc, uint8_t addr_size)
{
    switch (enc & PE_FORMAT) {
    case PE_ABSPTR: return addr_size;
    case PE_UDATA2: case PE_SDATA2: return 2;
    case PE_UDATA4: case PE_SDATA4: return 4;
    case PE_UDATA8: case PE_SDATA8: return 8;
    default: return 0;
    }
}

/* ---- Entries --------------------------------------------------------- */

struct entry {
    size_t start;           /* offset of the length field */
    size_t id_pos;          /* offset of the CIE id / CIE pointer */
    size_t end;             /* one past the entry */
    uint64_t id;
    bool is64;
    bool terminator;
};

/* Reads an entry's length and id.  A zero length is the terminator. */
static int read_entry(const struct cfi_section *sec, size_t off, struct entry *e)
{
    struct cur c = { sec->data, off, sec->size, false };
    uint64_t len = cur_uint(&c, 4);

    memset(e, 0, sizeof *e);
    e->start = off;
    if (c.bad)
        return CFI_ERR_BAD;
    if (len == 0) {
        e->terminator = true;
        e->end = c.pos;
        return CFI_OK;
    }
    if (len == 0xffffffffu) {
        e->is64 = true;
        len = cur_uint(&c, 8);
    } else if (len >= 0xfffffff0u) {
        return CFI_ERR_BAD;
    }
    if (c.bad || len > sec->size - c.pos)
        return CFI_ERR_BAD;
    e->id_pos = c.pos;
    e->end = c.pos + (size_t)len;
    c.end = e->end;
    e->id = cur_uint(&c, e->is64 ? 8 : 4);
    return c.bad ? CFI_ERR_BAD : CFI_OK;
}

static bool entry_is_cie(const struct cfi_section *sec, const struct entry *e)
{
    if (sec->kind == CFI_EH_FRAME)
        return e->id == 0;
    return e->is64 ? e->id == ~(uint64_t)0 : e->id == 0xffffffffu;
}

int cfi_cie_decode(const struct cfi_section *sec, size_t off, struct cfi_cie *out)
{
    struct entry e;
    int rc;

    if (!sec || !out || !sec->data)
        return CFI_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (off >= sec->size)
        return CFI_ERR_BAD;
    if ((rc = read_entry(sec, off, &e)) != CFI_OK)
        return rc;
    if (e.terminator || !entry_is_cie(sec, &e))
        return CFI_ERR_BAD;

    struct cur c = { sec->data, e.id_pos + (e.is64 ? 8 : 4), e.end, false };
    out->offset = off;
    out->version = cur_u8(&c);
    if (out->version != 1 && out->version != 3 && out->version != 4)
        return CFI_ERR_UNSUPPORTED;
    size_t aug = c.pos;
    while (cur_need(&c, 1) && sec->data[c.pos] != 0)
        c.pos++;
    if (c.bad)
        return CFI_ERR_BAD;
    size_t aug_len = c.pos - aug;
    c.pos++;                                /* the NUL */
    out->addr_size = 8;
    if (out->version == 4) {
        out->addr_size = cur_u8(&c);
        uint8_t seg = cur_u8(&c);
        if (c.bad)
            return CFI_ERR_BAD;
        if ((out->addr_size != 4 && out->addr_size != 8) || seg != 0)
            return CFI_ERR_UNSUPPORTED;
    }
    out->code_align = cur_uleb(&c);
    out->data_align = cur_sleb(&c);
    out->ra_reg = out->version == 1 ? cur_u8(&c) : (uint32_t)cur_uleb(&c);
    out->fde_enc = PE_ABSPTR;
    out->lsda_enc = PE_OMIT;
    if (c.bad)
        return CFI_ERR_BAD;

    const uint8_t *a = sec->data + aug;
    if (aug_len > 0 && a[0] == 'z') {
        out->has_aug_data = true;
        uint64_t alen = cur_uleb(&c);
        if (c.bad || alen > c.end - c.pos)
            return CFI_ERR_BAD;
        size_t aend = c.pos + (size_t)alen;
        struct cur ac = { sec->data, c.pos, aend, false };
        for (size_t i = 1; i < aug_len && !ac.bad; i++) {
            if (a[i] == 'L') {
                out->lsda_enc = cur_u8(&ac);
            } else if (a[i] == 'R') {
                out->fde_enc = cur_u8(&ac);
            } else if (a[i] == 'P') {
                /* Skip the personality pointer: never dereferenced. */
                uint8_t penc = cur_u8(&ac);
                uint64_t ignored;
                if (!ac.bad && read_ptr(sec, &ac, penc & 0x7f, out->addr_size, 0,
                                        NULL, NULL, &ignored) != CFI_OK)
                    return CFI_ERR_BAD;
            } else if (a[i] == 'S') {
                out->signal_frame = true;
            } else if (a[i] == 'B' || a[i] == 'G') {
                /* AArch64 BTI / MTE markers carry no data */
            } else {
                break;          /* unknown: the length lets us skip the rest */
            }
        }
        if (ac.bad)
            return CFI_ERR_BAD;
        c.pos = aend;
    } else if (aug_len == 2 && a[0] == 'e' && a[1] == 'h') {
        cur_skip(&c, out->addr_size);       /* old GCC's "eh" data */
    } else if (aug_len > 0) {
        return CFI_ERR_UNSUPPORTED;
    }
    if (c.bad)
        return CFI_ERR_BAD;
    if ((out->fde_enc != PE_OMIT && enc_size(out->fde_enc, out->addr_size) == 0 &&
         (out->fde_enc & PE_FORMAT) != PE_ULEB128 && (out->fde_enc & PE_FORMAT) != PE_SLEB128))
        return CFI_ERR_BAD;
    out->insns = sec->data + c.pos;
    out->insns_len = e.end - c.pos;
    return CFI_OK;
}

/* Decodes the FDE of entry e (already read). */
static int decode_fde(const struct cfi_section *sec, const struct entry *e,
                      struct cfi_fde *out)
{
    size_t cie_off;
    int rc;

    memset(out, 0, sizeof *out);
    if (sec->kind == CFI_EH_FRAME) {
        if (e->id > e->id_pos)
            return CFI_ERR_BAD;
        cie_off = e->id_pos - (size_t)e->id;
    } else {
        if (e->id >= sec->size)
            return CFI_ERR_BAD;
        cie_off = (size_t)e->id;
    }
    if (cie_off == e->start)
        return CFI_ERR_BAD;
    if ((rc = cfi_cie_decode(sec, cie_off, &out->cie)) != CFI_OK)
        return rc;

    struct cur c = { sec->data, e->id_pos + (e->is64 ? 8 : 4), e->end, false };
    uint8_t enc = out->cie.fde_enc;
    if (enc == PE_OMIT)
        return CFI_ERR_BAD;
    rc = read_ptr(sec, &c, enc, out->cie.addr_size, 0, NULL, NULL, &out->pc_begin);
    if (rc != CFI_OK)
        return rc == CFI_ERR_MEMORY ? CFI_ERR_UNSUPPORTED : rc;
    uint64_t range;
    rc = read_ptr(sec, &c, enc & PE_FORMAT, out->cie.addr_size, 0, NULL, NULL, &range);
    if (rc != CFI_OK)
        return rc;
    out->pc_end = out->pc_begin + range;
    if (out->pc_end < out->pc_begin)
        return CFI_ERR_BAD;
    if (out->cie.has_aug_data)
        cur_skip(&c, cur_uleb(&c));
    if (c.bad)
        return CFI_ERR_BAD;
    out->insns = sec->data + c.pos;
    out->insns_len = e->end - c.pos;
    out->insns_addr = sec->addr + c.pos;
    out->offset = e->start;
    return CFI_OK;
}

int cfi_fde_decode(const struct cfi_section *sec, size_t off, struct cfi_fde *out)
{
    struct entry e;
    int rc;

    if (!sec || !out || !sec->data)
        return CFI_ERR_ARG;
    if (off >= sec->size)
        return CFI_ERR_BAD;
    if ((rc = read_entry(sec, off, &e)) != CFI_OK)
        return rc;
    if (e.terminator || entry_is_cie(sec, &e))
        return CFI_ERR_NOT_FOUND;
    return decode_fde(sec, &e, out);
}

void cfi_iter_init(struct cfi_iter *it, const struct cfi_section *sec)
{
    it->sec = sec;
    it->off = 0;
}

int cfi_iter_next(struct cfi_iter *it, struct cfi_fde *out)
{
    const struct cfi_section *sec = it->sec;

    if (!sec || !sec->data || !out)
        return CFI_ERR_ARG;
    while (it->off < sec->size) {
        struct entry e;
        int rc = read_entry(sec, it->off, &e);
        if (rc != CFI_OK) {
            it->off = sec->size;            /* cannot find the next entry */
            return rc;
        }
        if (e.terminator) {
            if (sec->kind == CFI_EH_FRAME) {
                it->off = sec->size;
                return CFI_END;
            }
            it->off = e.end;                /* padding in .debug_frame */
            continue;
        }
        it->off = e.end;
        if (entry_is_cie(sec, &e))
            continue;
        return decode_fde(sec, &e, out);
    }
    return CFI_END;
}

int cfi_find_fde_scan(const struct cfi_section *sec, uint64_t pc, struct cfi_fde *out)
{
    struct cfi_iter it;
    struct cfi_fde fde;
    int rc;

    if (!sec || !out)
        return CFI_ERR_ARG;
    cfi_iter_init(&it, sec);
    while ((rc = cfi_iter_next(&it, &fde)) != CFI_END) {
        if (rc == CFI_OK && pc >= fde.pc_begin && pc < fde.pc_end) {
            *out = fde;
            return CFI_OK;
        }
        if (rc != CFI_OK && it.off >= sec->size)
            break;
    }
    return CFI_ERR_NOT_FOUND;
}

/* ---- .eh_frame_hdr --------------------------------------------------- */

int cfi_hdr_parse(const uint8_t *data, size_t size, uint64_t addr, struct cfi_hdr *out)
{
    if (!data || !out)
        return CFI_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (size < 4 || data[0] != 1)
        return CFI_ERR_BAD;
    struct cfi_section s = { data, size, addr, CFI_EH_FRAME, 0, addr };
    struct cur c = { data, 4, size, false };
    int rc = read_ptr(&s, &c, data[1], 8, 0, NULL, NULL, &out->eh_frame_addr);
    if (rc != CFI_OK)
        return rc == CFI_ERR_MEMORY ? CFI_ERR_UNSUPPORTED : rc;
    if (data[2] != PE_OMIT) {
        rc = read_ptr(&s, &c, data[2], 8, 0, NULL, NULL, &out->fde_count);
        if (rc != CFI_OK)
            return rc == CFI_ERR_MEMORY ? CFI_ERR_UNSUPPORTED : rc;
    }
    out->data = data;
    out->size = size;
    out->addr = addr;
    out->table_enc = data[3];
    out->table = data + c.pos;
    size_t esz = enc_size(data[3], 8);
    if (data[3] == PE_OMIT || esz == 0 || (data[3] & PE_INDIRECT)) {
        out->fde_count = 0;                 /* no usable table: scan */
        return CFI_OK;
    }
    size_t room = size - c.pos;
    if (out->fde_count > room / (2 * esz))
        return CFI_ERR_BAD;
    return CFI_OK;
}

int cfi_hdr_lookup(const struct cfi_hdr *hdr, const struct cfi_section *eh,
                   uint64_t pc, struct cfi_fde *out)
{
    if (!hdr || !eh || !out)
        return CFI_ERR_ARG;
    if (hdr->fde_count == 0)
        return cfi_find_fde_scan(eh, pc, out);

    struct cfi_section s = { hdr->data, hdr->size, hdr->addr, CFI_EH_FRAME, 0, hdr->addr };
    size_t esz = enc_size(hdr->table_enc, 8);
    size_t tab = (size_t)(hdr->table - hdr->data);
    uint64_t lo = 0, hi = hdr->fde_count;
    uint64_t fde_addr = 0;
    bool found = false;

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        struct cur c = { hdr->data, tab + (size_t)mid * 2 * esz, hdr->size, false };
        uint64_t loc, fa;
        if (read_ptr(&s, &c, hdr->table_enc, 8, 0, NULL, NULL, &loc) != CFI_OK ||
            read_ptr(&s, &c, hdr->table_enc, 8, 0, NULL, NULL, &fa) != CFI_OK)
            return CFI_ERR_BAD;
        if (loc <= pc) {
            fde_addr = fa;
            found = true;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (!found || fde_addr < eh->addr || fde_addr - eh->addr >= eh->size)
        return CFI_ERR_NOT_FOUND;
    int rc = cfi_fde_decode(eh, (size_t)(fde_addr - eh->addr), out);
    if (rc != CFI_OK)
        return rc == CFI_ERR_NOT_FOUND ? CFI_ERR_BAD : rc;
    if (pc < out->pc_begin || pc >= out->pc_end)
        return CFI_ERR_NOT_FOUND;
    return CFI_OK;
}

/* ---- The CFA program ------------------------------------------------- */

/* The part of a row DW_CFA_remember_state saves. */
struct regstate {
    uint8_t cfa_kind;
    uint8_t cfa_reg;
    uint32_t cfa_expr_len;
    int64_t cfa_offset;
    const uint8_t *cfa_expr;
    struct cfi_rule rules[CFI_NREGS];
};

static void state_save(const struct cfi_row *row, struct regstate *s)
{
    s->cfa_kind = row->cfa_kind;
    s->cfa_reg = row->cfa_reg;
    s->cfa_expr_len = row->cfa_expr_len;
    s->cfa_offset = row->cfa_offset;
    s->cfa_expr = row->cfa_expr;
    memcpy(s->rules, row->rules, sizeof s->rules);
}

static void state_load(struct cfi_row *row, const struct regstate *s)
{
    row->cfa_kind = s->cfa_kind;
    row->cfa_reg = s->cfa_reg;
    row->cfa_expr_len = s->cfa_expr_len;
    row->cfa_offset = s->cfa_offset;
    row->cfa_expr = s->cfa_expr;
    memcpy(row->rules, s->rules, sizeof s->rules);
}

struct program {
    const struct cfi_fde *fde;
    const struct regstate *initial;     /* the CIE's rules; NULL while running it */
    struct regstate stack[CFI_STATE_DEPTH];
    unsigned depth;
    uint64_t pc;
};

/* A register number as stored in a rule; numbers past CFI_NREGS are kept
 * out of the table (their rules do not matter on x86-64). */
static struct cfi_rule *rule_for(struct cfi_row *row, uint64_t reg)
{
    return reg < CFI_NREGS ? &row->rules[reg] : NULL;
}

static void set_rule(struct cfi_row *row, uint64_t reg, uint8_t kind, int64_t off)
{
    struct cfi_rule *r = rule_for(row, reg);
    if (r) {
        memset(r, 0, sizeof *r);
        r->kind = kind;
        r->offset = off;
    }
}

/* Reads a DW_FORM_block-like operand: uleb length then bytes. */
static bool read_block(struct cur *c, const uint8_t **p, uint32_t *len)
{
    uint64_t n = cur_uleb(c);
    if (c->bad || n > c->end - c->pos || n > UINT32_MAX) {
        c->bad = true;
        return false;
    }
    *p = c->base + c->pos;
    *len = (uint32_t)n;
    c->pos += (size_t)n;
    return true;
}

/* Runs one CFA program (insns) against row.  Stops, setting row->end, when
 * the location would pass pc.  Returns CFI_OK or an error. */
static int run_program(struct program *pg, const uint8_t *insns, size_t len,
                       uint64_t insns_addr, struct cfi_row *row, bool *stopped)
{
    const struct cfi_cie *cie = &pg->fde->cie;
    /* A cursor whose base is insns; its section view maps pos 0 to insns_addr. */
    struct cfi_section isec = { insns, len, insns_addr, CFI_EH_FRAME, 0, 0 };
    struct cur c = { insns, 0, len, false };
    int64_t da = cie->data_align;
    uint64_t ca = cie->code_align;

    while (c.pos < c.end && !c.bad) {
        uint8_t op = cur_u8(&c);
        uint64_t reg = 0, delta = 0, newloc;
        bool advance = false;
        struct cfi_rule *r;

        switch (op & 0xc0) {
        case 0x40:
            delta = (uint64_t)(op & 0x3f) * ca;
            advance = true;
            break;
        case 0x80:
            set_rule(row, op & 0x3f, CFI_RULE_OFFSET, (int64_t)cur_uleb(&c) * da);
            break;
        case 0xc0:
            reg = op & 0x3f;
            if ((r = rule_for(row, reg)) != NULL) {
                if (pg->initial)
                    *r = pg->initial->rules[reg];
                else
                    memset(r, 0, sizeof *r);
            }
            break;
        default:
            switch (op) {
            case 0x00:                      /* DW_CFA_nop */
                break;
            case 0x01: {                    /* DW_CFA_set_loc */
                uint64_t loc;
                int rc = read_ptr(&isec, &c, cie->fde_enc, cie->addr_size, 0,
                                  NULL, NULL, &loc);
                if (rc != CFI_OK)
                    return rc == CFI_ERR_MEMORY ? CFI_ERR_UNSUPPORTED : rc;
                if (loc < row->loc)
                    return CFI_ERR_BAD;
                delta = loc - row->loc;
                advance = true;
                break;
            }
            case 0x02: delta = cur_uint(&c, 1) * ca; advance = true; break;
            case 0x03: delta = cur_uint(&c, 2) * ca; advance = true; break;
            case 0x04: delta = cur_uint(&c, 4) * ca; advance = true; break;
            case 0x05:                      /* DW_CFA_offset_extended */
                reg = cur_uleb(&c);
                set_rule(row, reg, CFI_RULE_OFFSET, (int64_t)cur_uleb(&c) * da);
                break;
            case 0x06:                      /* DW_CFA_restore_extended */
                reg = cur_uleb(&c);
                if ((r = rule_for(row, reg)) != NULL) {
                    if (pg->initial)
                        *r = pg->initial->rules[reg];
                    else
                        memset(r, 0, sizeof *r);
                }
                break;
            case 0x07:                      /* DW_CFA_undefined */
                set_rule(row, cur_uleb(&c), CFI_RULE_UNDEFINED, 0);
                break;
            case 0x08:                      /* DW_CFA_same_value */
                set_rule(row, cur_uleb(&c), CFI_RULE_SAME, 0);
                break;
            case 0x09: {                    /* DW_CFA_register */
                reg = cur_uleb(&c);
                uint64_t reg2 = cur_uleb(&c);
                if (reg2 >= CFI_NREGS) {
                    if (reg < CFI_NREGS)
                        set_rule(row, reg, CFI_RULE_UNDEFINED, 0);
                    break;
                }
                set_rule(row, reg, CFI_RULE_REGISTER, 0);
                if ((r = rule_for(row, reg)) != NULL)
                    r->reg = (uint8_t)reg2;
                break;
            }
            case 0x0a:                      /* DW_CFA_remember_state */
                if (pg->depth >= CFI_STATE_DEPTH)
                    return CFI_ERR_UNSUPPORTED;
                state_save(row, &pg->stack[pg->depth++]);
                break;
            case 0x0b:                      /* DW_CFA_restore_state */
                if (pg->depth == 0)
                    return CFI_ERR_BAD;
                state_load(row, &pg->stack[--pg->depth]);
                break;
            case 0x0c:                      /* DW_CFA_def_cfa */
                reg = cur_uleb(&c);
                row->cfa_kind = CFI_CFA_REG_OFFSET;
                row->cfa_reg = reg < CFI_NREGS ? (uint8_t)reg : 0xff;
                row->cfa_offset = (int64_t)cur_uleb(&c);
                break;
            case 0x0d:                      /* DW_CFA_def_cfa_register */
                reg = cur_uleb(&c);
                row->cfa_kind = CFI_CFA_REG_OFFSET;
                row->cfa_reg = reg < CFI_NREGS ? (uint8_t)reg : 0xff;
                break;
            case 0x0e:                      /* DW_CFA_def_cfa_offset */
                row->cfa_offset = (int64_t)cur_uleb(&c);
                break;
            case 0x0f:                      /* DW_CFA_def_cfa_expression */
                row->cfa_kind = CFI_CFA_EXPR;
                read_block(&c, &row->cfa_expr, &row->cfa_expr_len);
                break;
            case 0x10:                      /* DW_CFA_expression */
            case 0x16: {                    /* DW_CFA_val_expression */
                reg = cur_uleb(&c);
                const uint8_t *p = NULL;
                uint32_t n = 0;
                if (!read_block(&c, &p, &n))
                    break;
                set_rule(row, reg, op == 0x10 ? CFI_RULE_EXPR : CFI_RULE_VAL_EXPR, 0);
                if ((r = rule_for(row, reg)) != NULL) {
                    r->expr = p;
                    r->expr_len = n;
                }
                break;
            }
            case 0x11:                      /* DW_CFA_offset_extended_sf */
                reg = cur_uleb(&c);
                set_rule(row, reg, CFI_RULE_OFFSET, cur_sleb(&c) * da);
                break;
            case 0x12:                      /* DW_CFA_def_cfa_sf */
                reg = cur_uleb(&c);
                row->cfa_kind = CFI_CFA_REG_OFFSET;
                row->cfa_reg = reg < CFI_NREGS ? (uint8_t)reg : 0xff;
                row->cfa_offset = cur_sleb(&c) * da;
                break;
            case 0x13:                      /* DW_CFA_def_cfa_offset_sf */
                row->cfa_offset = cur_sleb(&c) * da;
                break;
            case 0x14:                      /* DW_CFA_val_offset */
                reg = cur_uleb(&c);
                set_rule(row, reg, CFI_RULE_VAL_OFFSET, (int64_t)cur_uleb(&c) * da);
                break;
            case 0x15:                      /* DW_CFA_val_offset_sf */
                reg = cur_uleb(&c);
                set_rule(row, reg, CFI_RULE_VAL_OFFSET, cur_sleb(&c) * da);
                break;
            case 0x2e:                      /* DW_CFA_GNU_args_size */
                (void)cur_uleb(&c);
                break;
            case 0x2f:                      /* DW_CFA_GNU_negative_offset_extended */
                reg = cur_uleb(&c);
                set_rule(row, reg, CFI_RULE_OFFSET, -((int64_t)cur_uleb(&c) * da));
                break;
            case 0x2d:                      /* DW_CFA_GNU_window_save (SPARC) */
                return CFI_ERR_UNSUPPORTED;
            default:
                return CFI_ERR_BAD;
            }
        }
        if (c.bad)
            return CFI_ERR_BAD;
        if (advance) {
            newloc = row->loc + delta;
            if (newloc < row->loc)
                return CFI_ERR_BAD;
            if (newloc > pg->pc) {
                row->end = newloc;
                *stopped = true;
                return CFI_OK;
            }
            row->loc = newloc;
        }
    }
    return c.bad ? CFI_ERR_BAD : CFI_OK;
}

int cfi_row_at(const struct cfi_fde *fde, uint64_t pc, struct cfi_row *row)
{
    struct program pg;
    struct regstate initial;
    bool stopped = false;
    int rc;

    if (!fde || !row)
        return CFI_ERR_ARG;
    if (pc < fde->pc_begin || pc >= fde->pc_end)
        return CFI_ERR_NOT_FOUND;
    if (fde->cie.ra_reg >= CFI_NREGS)
        return CFI_ERR_UNSUPPORTED;
    memset(row, 0, sizeof *row);
    row->loc = fde->pc_begin;
    row->end = fde->pc_end;
    row->ra_reg = fde->cie.ra_reg;
    row->signal_frame = fde->cie.signal_frame;
    row->cfa_reg = 0xff;

    pg.fde = fde;
    pg.initial = NULL;
    pg.depth = 0;
    pg.pc = pc;
    /* The CIE's initial instructions never advance in practice; if they
     * did, they would advance from pc_begin like the FDE's. */
    rc = run_program(&pg, fde->cie.insns, fde->cie.insns_len, 0, row, &stopped);
    if (rc != CFI_OK)
        return rc;
    state_save(row, &initial);
    if (!stopped) {
        pg.initial = &initial;
        pg.depth = 0;
        rc = run_program(&pg, fde->insns, fde->insns_len, fde->insns_addr, row, &stopped);
        if (rc != CFI_OK)
            return rc;
    }
    if (row->end > fde->pc_end)
        row->end = fde->pc_end;
    return CFI_OK;
}

/* ---- DWARF expressions ----------------------------------------------- */

struct eval {
    const struct cfi_regs *regs;
    cfi_read_fn read;
    void *ctx;
    uint64_t cfa;
    bool have_cfa;
};

static int read_mem(const struct eval *ev, uint64_t addr, size_t n, uint64_t *out)
{
    uint8_t buf[8] = {0};
    if (n == 0 || n > 8 || !ev->read || !ev->read(ev->ctx, addr, buf, n))
        return CFI_ERR_MEMORY;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)buf[i] << (8 * i);
    *out = v;
    return CFI_OK;
}

static int reg_value(const struct cfi_regs *regs, uint64_t reg, uint64_t *out)
{
    if (reg >= CFI_NREGS || !(regs->valid & (1u << reg)))
        return CFI_ERR_REGISTER;
    *out = regs->r[reg];
    return CFI_OK;
}

static int eval_expr(const struct eval *ev, const uint8_t *expr, uint32_t len,
                     bool push_cfa, uint64_t *result)
{
    uint64_t st[EXPR_STACK];
    unsigned sp = 0;
    struct cur c = { expr, 0, len, false };
    unsigned steps = 0;
    int rc;

#define NEED(n) do { if (sp < (n)) return CFI_ERR_BAD; } while (0)
#define PUSH(v) do { uint64_t pv_ = (v); if (sp >= EXPR_STACK) return CFI_ERR_UNSUPPORTED; st[sp] = pv_; sp++; } while (0)

    if (!expr && len)
        return CFI_ERR_BAD;
    if (push_cfa)
        PUSH(ev->cfa);
    while (c.pos < c.end) {
        if (++steps > EXPR_STEPS)
            return CFI_ERR_BAD;
        uint8_t op = cur_u8(&c);
        uint64_t a, b, v;
        if (op >= 0x30 && op <= 0x4f) {             /* DW_OP_lit0..31 */
            PUSH((uint64_t)(op - 0x30));
            continue;
        }
        if (op >= 0x70 && op <= 0x8f) {             /* DW_OP_breg0..31 */
            int64_t off = cur_sleb(&c);
            if (c.bad)
                return CFI_ERR_BAD;
            if ((rc = reg_value(ev->regs, op - 0x70u, &v)) != CFI_OK)
                return rc;
            PUSH(v + (uint64_t)off);
            continue;
        }
        switch (op) {
        case 0x03: PUSH(cur_uint(&c, 8)); break;            /* addr */
        case 0x06:                                          /* deref */
            NEED(1);
            if ((rc = read_mem(ev, st[sp - 1], 8, &st[sp - 1])) != CFI_OK)
                return rc;
            break;
        case 0x08: PUSH(cur_uint(&c, 1)); break;
        case 0x09: PUSH((uint64_t)cur_sint(&c, 1)); break;
        case 0x0a: PUSH(cur_uint(&c, 2)); break;
        case 0x0b: PUSH((uint64_t)cur_sint(&c, 2)); break;
        case 0x0c: PUSH(cur_uint(&c, 4)); break;
        case 0x0d: PUSH((uint64_t)cur_sint(&c, 4)); break;
        case 0x0e: PUSH(cur_uint(&c, 8)); break;
        case 0x0f: PUSH(cur_uint(&c, 8)); break;
        case 0x10: PUSH(cur_uleb(&c)); break;               /* constu */
        case 0x11: PUSH((uint64_t)cur_sleb(&c)); break;     /* consts */
        case 0x12: NEED(1); PUSH(st[sp - 1]); break;        /* dup */
        case 0x13: NEED(1); sp--; break;                    /* drop */
        case 0x14: NEED(2); PUSH(st[sp - 2]); break;        /* over */
        case 0x15: {                                        /* pick */
            uint8_t i = cur_u8(&c);
            NEED((unsigned)i + 1);
            PUSH(st[sp - 1 - i]);
            break;
        }
        case 0x16: NEED(2); v = st[sp - 1]; st[sp - 1] = st[sp - 2]; st[sp - 2] = v; break;
        case 0x17:                                          /* rot */
            NEED(3);
            v = st[sp - 1];
            st[sp - 1] = st[sp - 2];
            st[sp - 2] = st[sp - 3];
            st[sp - 3] = v;
            break;
        case 0x19: NEED(1); if ((int64_t)st[sp - 1] < 0) st[sp - 1] = 0 - st[sp - 1]; break;
        case 0x1f: NEED(1); st[sp - 1] = 0 - st[sp - 1]; break;     /* neg */
        case 0x20: NEED(1); st[sp - 1] = ~st[sp - 1]; break;        /* not */
        case 0x23: NEED(1); st[sp - 1] += cur_uleb(&c); break;      /* plus_uconst */
        case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e:
        case 0x21: case 0x22: case 0x24: case 0x25: case 0x26: case 0x27:
        case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x2e:
            NEED(2);
            b = st[--sp];
            a = st[sp - 1];
            switch (op) {
            case 0x1a: v = a & b; break;
            case 0x1b:                                      /* div (signed) */
                if (b == 0)
                    return CFI_ERR_BAD;
                if ((int64_t)b == -1)
                    v = 0 - a;
                else
                    v = (uint64_t)((int64_t)a / (int64_t)b);
                break;
            case 0x1c: v = a - b; break;
            case 0x1d:                                      /* mod */
                if (b == 0)
                    return CFI_ERR_BAD;
                v = a % b;
                break;
            case 0x1e: v = a * b; break;
            case 0x21: v = a | b; break;
            case 0x22: v = a + b; break;
            case 0x24: v = b >= 64 ? 0 : a << b; break;
            case 0x25: v = b >= 64 ? 0 : a >> b; break;
            case 0x26:                                      /* shra */
                if (b >= 64)
                    v = (int64_t)a < 0 ? ~(uint64_t)0 : 0;
                else
                    v = (int64_t)a < 0 ? ~(~a >> b) : a >> b;
                break;
            case 0x27: v = a ^ b; break;
            case 0x29: v = a == b; break;
            case 0x2a: v = (int64_t)a >= (int64_t)b; break;
            case 0x2b: v = (int64_t)a > (int64_t)b; break;
            case 0x2c: v = (int64_t)a <= (int64_t)b; break;
            case 0x2d: v = (int64_t)a < (int64_t)b; break;
            default: v = a != b; break;                     /* 0x2e ne */
            }
            st[sp - 1] = v;
            break;
        case 0x28:                                          /* bra */
        case 0x2f: {                                        /* skip */
            int64_t off = cur_sint(&c, 2);
            if (c.bad)
                return CFI_ERR_BAD;
            bool jump = true;
            if (op == 0x28) {
                NEED(1);
                jump = st[--sp] != 0;
            }
            if (jump) {
                int64_t to = (int64_t)c.pos + off;
                if (to < 0 || (uint64_t)to > len)
                    return CFI_ERR_BAD;
                c.pos = (size_t)to;
            }
            break;
        }
        case 0x92: {                                        /* bregx */
            uint64_t reg = cur_uleb(&c);
            int64_t off = cur_sleb(&c);
            if (c.bad)
                return CFI_ERR_BAD;
            if ((rc = reg_value(ev->regs, reg, &v)) != CFI_OK)
                return rc;
            PUSH(v + (uint64_t)off);
            break;
        }
        case 0x94: {                                        /* deref_size */
            uint8_t n = cur_u8(&c);
            NEED(1);
            if (n == 0 || n > 8)
                return CFI_ERR_BAD;
            if ((rc = read_mem(ev, st[sp - 1], n, &st[sp - 1])) != CFI_OK)
                return rc;
            break;
        }
        case 0x96: break;                                   /* nop */
        case 0x9c:                                          /* call_frame_cfa */
            if (!ev->have_cfa)
                return CFI_ERR_BAD;
            PUSH(ev->cfa);
            break;
        default:
            return CFI_ERR_UNSUPPORTED;
        }
        if (c.bad)
            return CFI_ERR_BAD;
    }
    if (c.bad || sp == 0)
        return CFI_ERR_BAD;
    *result = st[sp - 1];
    return CFI_OK;
#undef NEED
#undef PUSH
}

/* ---- Stepping -------------------------------------------------------- */

uint64_t cfi_lookup_pc(const struct cfi_regs *regs)
{
    uint64_t pc = regs->r[CFI_RA];
    return (regs->flags & CFI_PC_EXACT) || pc == 0 ? pc : pc - 1;
}

int cfi_step_row(const struct cfi_row *row, const struct cfi_regs *in,
                 cfi_read_fn read, void *ctx, struct cfi_regs *out)
{
    struct eval ev = { in, read, ctx, 0, false };
    struct cfi_regs res;
    int rc;

    if (!row || !in || !out)
        return CFI_ERR_ARG;
    if (row->ra_reg >= CFI_NREGS)
        return CFI_ERR_UNSUPPORTED;
    if (row->cfa_kind == CFI_CFA_EXPR) {
        if ((rc = eval_expr(&ev, row->cfa_expr, row->cfa_expr_len, false, &ev.cfa)) != CFI_OK)
            return rc;
    } else {
        uint64_t base;
        if ((rc = reg_value(in, row->cfa_reg, &base)) != CFI_OK)
            return row->cfa_reg == 0xff ? CFI_ERR_BAD : rc;
        ev.cfa = base + (uint64_t)row->cfa_offset;
    }
    ev.have_cfa = true;

    memset(&res, 0, sizeof res);
    bool ra_undefined = false;
    for (unsigned i = 0; i < CFI_NREGS; i++) {
        const struct cfi_rule *r = &row->rules[i];
        uint64_t v = 0, addr;
        bool have = false;

        switch (r->kind) {
        case CFI_RULE_UNSPECIFIED:
            if (i == CFI_RSP) {
                v = ev.cfa;
                have = true;
            } else if (i == row->ra_reg) {
                return CFI_ERR_BAD;         /* no rule for the return address */
            } else if ((CALLEE_SAVED >> i) & 1 && (in->valid >> i) & 1) {
                v = in->r[i];
                have = true;
            }
            break;
        case CFI_RULE_UNDEFINED:
            if (i == row->ra_reg)
                ra_undefined = true;
            break;
        case CFI_RULE_SAME:
            if ((in->valid >> i) & 1) {
                v = in->r[i];
                have = true;
            }
            break;
        case CFI_RULE_OFFSET:
            if ((rc = read_mem(&ev, ev.cfa + (uint64_t)r->offset, 8, &v)) != CFI_OK)
                return rc;
            have = true;
            break;
        case CFI_RULE_VAL_OFFSET:
            v = ev.cfa + (uint64_t)r->offset;
            have = true;
            break;
        case CFI_RULE_REGISTER:
            if ((rc = reg_value(in, r->reg, &v)) != CFI_OK)
                return rc;
            have = true;
            break;
        case CFI_RULE_EXPR:
            if ((rc = eval_expr(&ev, r->expr, r->expr_len, true, &addr)) != CFI_OK)
                return rc;
            if ((rc = read_mem(&ev, addr, 8, &v)) != CFI_OK)
                return rc;
            have = true;
            break;
        case CFI_RULE_VAL_EXPR:
            if ((rc = eval_expr(&ev, r->expr, r->expr_len, true, &v)) != CFI_OK)
                return rc;
            have = true;
            break;
        default:
            return CFI_ERR_BAD;
        }
        if (have) {
            res.r[i] = v;
            res.valid |= 1u << i;
        }
    }
    if (ra_undefined)
        return CFI_END;
    /* The caller's pc is the value of the return-address column. */
    if (row->ra_reg != CFI_RA) {
        if (!((res.valid >> row->ra_reg) & 1))
            return CFI_ERR_REGISTER;
        res.r[CFI_RA] = res.r[row->ra_reg];
        res.valid |= 1u << CFI_RA;
    }
    if (!((res.valid >> CFI_RA) & 1))
        return CFI_ERR_REGISTER;
    res.flags = row->signal_frame ? CFI_PC_EXACT : 0;
    *out = res;
    return CFI_OK;
}

int cfi_step_fde(const struct cfi_fde *fde, const struct cfi_regs *in,
                 cfi_read_fn read, void *ctx, struct cfi_regs *out)
{
    struct cfi_row row;
    int rc;

    if (!fde || !in || !out)
        return CFI_ERR_ARG;
    if (!((in->valid >> CFI_RA) & 1))
        return CFI_ERR_REGISTER;
    if ((rc = cfi_row_at(fde, cfi_lookup_pc(in), &row)) != CFI_OK)
        return rc;
    return cfi_step_row(&row, in, read, ctx, out);
}

int cfi_step_fp(const struct cfi_regs *in, cfi_read_fn read, void *ctx,
                struct cfi_regs *out)
{
    struct eval ev = { in, read, ctx, 0, false };
    uint64_t rbp, saved_rbp, ra;
    int rc;

    if (!in || !out)
        return CFI_ERR_ARG;
    if ((rc = reg_value(in, CFI_RBP, &rbp)) != CFI_OK)
        return rc;
    if (rbp == 0)
        return CFI_END;
    if ((rc = read_mem(&ev, rbp, 8, &saved_rbp)) != CFI_OK ||
        (rc = read_mem(&ev, rbp + 8, 8, &ra)) != CFI_OK)
        return rc;
    if (ra == 0)
        return CFI_END;
    memset(out, 0, sizeof *out);
    out->r[CFI_RBP] = saved_rbp;
    out->r[CFI_RSP] = rbp + 16;
    out->r[CFI_RA] = ra;
    out->valid = (1u << CFI_RBP) | (1u << CFI_RSP) | (1u << CFI_RA);
    return CFI_OK;
}
