/*
 * lines.c — decoding .debug_line (versions 2 to 5) straight into the
 * index's compact rows: one pass over the line program, no allocation per
 * row, file names built once per file index.  Rows follow binutils'
 * add_line_info: of consecutive rows at one address only the last is kept.
 */
#include <dwarf.h>
#include <stdlib.h>

#include "internal.h"

enum { LNCT_path = 1, LNCT_directory_index = 2 };

void linetab_free(struct linetab *lt)
{
    VEC_FREE(lt->dirs);
    VEC_FREE(lt->files);
    VEC_FREE(lt->ids);
}

static uint32_t intern_path(struct strtab *files, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    size_t n = la + (b ? lb + 1 : 0) + (c ? lc + 1 : 0);
    char stackbuf[1024];
    char *buf = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!buf)
        return GD_NOFILE;
    char *p = buf;
    memcpy(p, a, la);
    p += la;
    if (b) {
        *p++ = '/';
        memcpy(p, b, lb);
        p += lb;
    }
    if (c) {
        *p++ = '/';
        memcpy(p, c, lc);
        p += lc;
    }
    uint32_t id = strtab_intern(files, buf, n);
    if (buf != stackbuf)
        free(buf);
    return id == UINT32_MAX ? GD_NOFILE : id;
}

uint32_t linetab_file(struct linetab *lt, struct strtab *files, uint64_t idx)
{
    uint64_t i;
    if (lt->version >= 5) {
        i = idx;
    } else {
        if (idx == 0)
            return GD_NOFILE;
        i = idx - 1;
    }
    if (i >= lt->files.n)
        return GD_NOFILE;
    if (lt->ids.n != lt->files.n) {
        size_t old = lt->ids.n;
        if (!VEC_RESERVE(lt->ids, lt->files.n - old))
            return GD_NOFILE;
        for (size_t k = old; k < lt->files.n; k++)
            lt->ids.v[k] = UINT32_MAX - 1;          /* not computed yet */
        lt->ids.n = lt->files.n;
    }
    if (lt->ids.v[i] != UINT32_MAX - 1)
        return lt->ids.v[i];

    /* binutils' concat_filename: an absolute name as is; otherwise the
     * directory entry, and the compilation directory before it unless that
     * entry is absolute. */
    const struct lfile *f = &lt->files.v[i];
    uint32_t id;
    if (!f->name) {
        id = GD_NOFILE;
    } else if (f->name[0] == '/') {
        id = intern_path(files, f->name, NULL, NULL);
    } else {
        const char *subdir = NULL, *dir = NULL;
        uint64_t d = f->dir;
        if (lt->version >= 5) {
            if (d < lt->dirs.n)
                subdir = lt->dirs.v[d];
        } else if (d > 0 && d - 1 < lt->dirs.n) {
            subdir = lt->dirs.v[d - 1];
        }
        if (!subdir || subdir[0] != '/')
            dir = lt->comp_dir;
        if (!dir) {
            dir = subdir;
            subdir = NULL;
        }
        if (!dir)
            id = intern_path(files, f->name, NULL, NULL);
        else
            id = intern_path(files, dir, subdir, f->name);
    }
    lt->ids.v[i] = id;
    return id;
}

/* DWARF 5 directory / file entry tables. */
static bool read_entry_table(struct rd *r, const struct dw *dw, const struct unit *lu,
                             struct linetab *lt, bool files)
{
    uint8_t nfmt = rd_u8(r);
    uint64_t fmt[2 * 16];
    if (nfmt > 16)
        return false;
    for (unsigned i = 0; i < nfmt; i++) {
        fmt[2 * i] = rd_uleb(r);
        fmt[2 * i + 1] = rd_uleb(r);
    }
    uint64_t count = rd_uleb(r);
    if (r->bad || count > rd_left(r))
        return false;
    for (uint64_t k = 0; k < count; k++) {
        struct lfile f = { NULL, 0 };
        for (unsigned i = 0; i < nfmt; i++) {
            struct attr a;
            if (fmt[2 * i + 1] > 0xffff ||
                !form_read(r, lu, (uint16_t)fmt[2 * i + 1], 0, &a))
                return false;
            if (fmt[2 * i] == LNCT_path)
                f.name = attr_string(dw, lu, &a);
            else if (fmt[2 * i] == LNCT_directory_index && form_is_constant(a.form))
                f.dir = a.u;
        }
        if (files ? !VEC_PUSH(lt->files, f) : !VEC_PUSH(lt->dirs, f.name))
            return false;
    }
    return !r->bad;
}

/* DWARF 2-4 include_directories and file_names. */
static bool read_v4_tables(struct rd *r, struct linetab *lt)
{
    for (;;) {
        const char *d = rd_cstr(r);
        if (!d)
            return false;
        if (!*d)
            break;
        if (!VEC_PUSH(lt->dirs, d))
            return false;
    }
    for (;;) {
        const char *n = rd_cstr(r);
        if (!n)
            return false;
        if (!*n)
            break;
        struct lfile f = { n, rd_uleb(r) };
        rd_uleb(r);                 /* mtime */
        rd_uleb(r);                 /* length */
        if (r->bad || !VEC_PUSH(lt->files, f))
            return false;
    }
    return true;
}

static int by_row_addr(const void *a, const void *b)
{
    const struct lrow *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return 0;
}

int lines_decode(struct index_build *b, const struct dw *dw, const struct unit *u,
                 struct linetab *lt, const char **why)
{
    uint64_t off = u->stmt_list;

    lt->version = 0;
    lt->comp_dir = u->comp_dir;
    lt->dirs.n = lt->files.n = lt->ids.n = 0;
    if (off >= dw->line.size) {
        *why = "line table offset past the end of .debug_line";
        return GD_EDWARF;
    }
    struct rd r = rd_make(dw->line.data + off, dw->line.size - off);
    uint64_t len = rd_uint(&r, 4);
    uint8_t offsz = 4;
    if (len == 0xffffffffu) {
        len = rd_uint(&r, 8);
        offsz = 8;
    }
    if (r.bad || len > rd_left(&r)) {
        *why = "line table length past the end of .debug_line";
        return GD_EDWARF;
    }
    r.end = r.p + len;
    uint16_t version = (uint16_t)rd_uint(&r, 2);
    if (version < 2 || version > 5) {
        *why = "unsupported line table version";
        return GD_EDWARF;
    }
    lt->version = (uint8_t)version;
    uint8_t addr_size = u->addr_size;
    if (version >= 5) {
        addr_size = rd_u8(&r);
        rd_u8(&r);                  /* segment selector size */
    }
    uint64_t hlen = rd_uint(&r, offsz);
    if (r.bad || hlen > rd_left(&r)) {
        *why = "line table header length past its end";
        return GD_EDWARF;
    }
    const uint8_t *prog = r.p + hlen;
    uint8_t min_inst = rd_u8(&r);
    if (version >= 4)
        rd_u8(&r);                  /* maximum operations per instruction */
    bool default_stmt = rd_u8(&r) != 0;
    int8_t line_base = (int8_t)rd_u8(&r);
    uint8_t line_range = rd_u8(&r);
    uint8_t opcode_base = rd_u8(&r);
    const uint8_t *std_len = r.p;
    if (opcode_base > 0)
        rd_skip(&r, opcode_base - 1u);
    if (r.bad || line_range == 0 || opcode_base == 0) {
        *why = "bad line table header";
        return GD_EDWARF;
    }
    struct rd hr = r;
    hr.end = prog;
    if (version >= 5) {
        struct unit lu = *u;
        lu.offset_size = offsz;
        lu.addr_size = addr_size;
        lu.version = 5;
        if (!read_entry_table(&hr, dw, &lu, lt, false) ||
            !read_entry_table(&hr, dw, &lu, lt, true)) {
            *why = "bad line table file or directory entries";
            return GD_EDWARF;
        }
    } else if (!read_v4_tables(&hr, lt)) {
        *why = "bad line table file names";
        return GD_EDWARF;
    }
    r.p = prog;

    /* The state machine. */
    uint64_t addr = 0, file = 1;
    int64_t line = 1;
    uint32_t col = 0, disc = 0;
    bool is_stmt = default_stmt, open = false, sorted = true;
    uint32_t file_id = linetab_file(lt, b->files, file);
    size_t seq = 0;
    const uint64_t const_add = (uint64_t)min_inst * ((255u - opcode_base) / line_range);

#define EMIT(end)                                                               \
    do {                                                                        \
        if (!open) {                                                            \
            struct lseq s_ = { addr, addr, b->rows.n, 0, b->seqs.n };           \
            if (!VEC_PUSH(b->seqs, s_))                                         \
                goto nomem;                                                     \
            seq = b->seqs.n - 1;                                                \
            open = true;                                                        \
            sorted = true;                                                      \
        }                                                                       \
        struct lrow row_ = { addr, file_id, (uint32_t)line, disc,               \
                             (uint16_t)(col > 0xffff ? 0xffff : col),           \
                             (uint8_t)((is_stmt ? LROW_STMT : 0) | ((end) ? LROW_END : 0)) }; \
        struct lrow *last_ = b->rows.n > b->seqs.v[seq].first ?                 \
                             &b->rows.v[b->rows.n - 1] : NULL;                  \
        if (last_ && last_->addr == addr && (last_->flags & LROW_END) == ((end) ? LROW_END : 0)) \
            *last_ = row_;                                                      \
        else if (!VEC_PUSH(b->rows, row_))                                      \
            goto nomem;                                                         \
        else if (last_ && b->rows.v[b->rows.n - 2].addr > addr)                 \
            sorted = false;                                                     \
        disc = 0;                                                               \
    } while (0)

    while (r.p < r.end) {
        uint8_t op = *r.p++;
        if (op >= opcode_base) {
            unsigned adj = op - opcode_base;
            addr += (uint64_t)min_inst * (adj / line_range);
            line += line_base + (int)(adj % line_range);
            EMIT(false);
            continue;
        }
        switch (op) {
        case 0: {
            uint64_t elen = rd_uleb(&r);
            if (r.bad || elen == 0 || elen > rd_left(&r))
                goto bad;
            const uint8_t *next = r.p + elen;
            uint8_t sub = *r.p++;
            switch (sub) {
            case DW_LNE_end_sequence:
                EMIT(true);
                {
                    struct lseq *s = &b->seqs.v[seq];
                    s->n = b->rows.n - s->first;
                    if (!sorted)
                        qsort(&b->rows.v[s->first], s->n - 1, sizeof(struct lrow), by_row_addr);
                    s->lo = b->rows.v[s->first].addr;
                    s->hi = addr;
                }
                open = false;
                addr = 0;
                file = 1;
                file_id = linetab_file(lt, b->files, file);
                line = 1;
                col = 0;
                is_stmt = default_stmt;
                break;
            case DW_LNE_set_address:
                if (elen - 1 == 8 || elen - 1 == 4) {
                    struct rd ar = rd_make(r.p, (size_t)(elen - 1));
                    addr = rd_uint(&ar, (size_t)(elen - 1));
                }
                break;
            case DW_LNE_define_file: {
                struct rd fr = rd_make(r.p, (size_t)(next - r.p));
                struct lfile f;
                f.name = rd_cstr(&fr);
                f.dir = rd_uleb(&fr);
                if (!fr.bad && f.name && !VEC_PUSH(lt->files, f))
                    goto nomem;
                break;
            }
            case 4: {                               /* DW_LNE_set_discriminator */
                struct rd dr = rd_make(r.p, (size_t)(next - r.p));
                disc = (uint32_t)rd_uleb(&dr);
                break;
            }
            default:
                break;
            }
            r.p = next;
            break;
        }
        case DW_LNS_copy:
            EMIT(false);
            break;
        case DW_LNS_advance_pc:
            addr += (uint64_t)min_inst * rd_uleb(&r);
            break;
        case DW_LNS_advance_line:
            line += rd_sleb(&r);
            break;
        case DW_LNS_set_file:
            file = rd_uleb(&r);
            file_id = linetab_file(lt, b->files, file);
            break;
        case DW_LNS_set_column:
            col = (uint32_t)rd_uleb(&r);
            break;
        case DW_LNS_negate_stmt:
            is_stmt = !is_stmt;
            break;
        case DW_LNS_set_basic_block:
        case DW_LNS_set_prologue_end:
        case DW_LNS_set_epilogue_begin:
            break;
        case DW_LNS_const_add_pc:
            addr += const_add;
            break;
        case DW_LNS_fixed_advance_pc:
            addr += rd_uint(&r, 2);
            break;
        default:
            /* DW_LNS_set_isa and unknown opcodes: skip their operands */
            for (unsigned i = 0; i < std_len[op - 1]; i++)
                rd_uleb(&r);
            break;
        }
        if (r.bad)
            goto bad;
    }
#undef EMIT
    if (open) {
        /* A sequence without DW_LNE_end_sequence: its rows have no end;
         * drop them as binutils cannot look into them either. */
        b->rows.n = b->seqs.v[seq].first;
        b->seqs.n = seq;
    }
    return GD_OK;
bad:
    *why = "malformed line program";
    return GD_EDWARF;
nomem:
    *why = "out of memory";
    return GD_ENOMEM;
}
