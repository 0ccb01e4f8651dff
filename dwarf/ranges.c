/*
 * ranges.c — DW_AT_ranges: range lists of .debug_ranges (DWARF 2-4, base
 * address selection entries) and .debug_rnglists (DWARF 5 DW_RLE_*
 * entries, reached by offset or by DW_FORM_rnglistx through
 * DW_AT_rnglists_base).  Bounded by the section's bytes.
 */
#include <dwarf.h>

#include "internal.h"

enum {
    RLE_end_of_list = 0, RLE_base_addressx = 1, RLE_startx_endx = 2, RLE_startx_length = 3,
    RLE_offset_pair = 4, RLE_base_address = 5, RLE_start_end = 6, RLE_start_length = 7,
    FORM_rnglistx = 0x23, FORM_addrx = 0x1b
};

static bool debug_ranges(const struct dw *dw, const struct unit *u, uint64_t off,
                         range_fn fn, void *ctx)
{
    if (off >= dw->ranges.size)
        return false;
    struct rd r = rd_make(dw->ranges.data + off, dw->ranges.size - off);
    uint64_t base = u->base_addr;
    uint64_t maxaddr = u->addr_size == 8 ? ~(uint64_t)0 : 0xffffffffu;

    while (rd_left(&r) > 0) {
        uint64_t lo = rd_uint(&r, u->addr_size), hi = rd_uint(&r, u->addr_size);
        if (r.bad)
            return false;
        if (lo == 0 && hi == 0)
            return true;
        if (lo == maxaddr) {
            base = hi;
            continue;
        }
        if (!fn(ctx, base + lo, base + hi))
            return true;
    }
    return false;
}

static bool indexed_addr(const struct dw *dw, const struct unit *u, uint64_t idx, uint64_t *out)
{
    struct attr a = { 0 };
    a.form = FORM_addrx;
    a.u = idx;
    return attr_address(dw, u, &a, out);
}

static bool debug_rnglists(const struct dw *dw, const struct unit *u, uint64_t off,
                           range_fn fn, void *ctx)
{
    if (off >= dw->rnglists.size)
        return false;
    struct rd r = rd_make(dw->rnglists.data + off, dw->rnglists.size - off);
    uint64_t base = u->base_addr;

    while (rd_left(&r) > 0) {
        uint8_t kind = rd_u8(&r);
        uint64_t lo, hi;
        switch (kind) {
        case RLE_end_of_list:
            return !r.bad;
        case RLE_base_addressx:
            if (!indexed_addr(dw, u, rd_uleb(&r), &base))
                return false;
            continue;
        case RLE_startx_endx:
            if (!indexed_addr(dw, u, rd_uleb(&r), &lo) || !indexed_addr(dw, u, rd_uleb(&r), &hi))
                return false;
            break;
        case RLE_startx_length:
            if (!indexed_addr(dw, u, rd_uleb(&r), &lo))
                return false;
            hi = lo + rd_uleb(&r);
            break;
        case RLE_offset_pair:
            lo = base + rd_uleb(&r);
            hi = base + rd_uleb(&r);
            break;
        case RLE_base_address:
            base = rd_uint(&r, u->addr_size);
            continue;
        case RLE_start_end:
            lo = rd_uint(&r, u->addr_size);
            hi = rd_uint(&r, u->addr_size);
            break;
        case RLE_start_length:
            lo = rd_uint(&r, u->addr_size);
            hi = lo + rd_uleb(&r);
            break;
        default:
            return false;
        }
        if (r.bad)
            return false;
        if (!fn(ctx, lo, hi))
            return true;
    }
    return false;
}

bool ranges_read(const struct dw *dw, const struct unit *u, const struct attr *a,
                 range_fn fn, void *ctx)
{
    if (a->form == FORM_rnglistx) {
        /* The offsets table that follows the list header at rnglists_base. */
        uint64_t base = u->has_rnglists_base ? u->rnglists_base
                                             : (u->offset_size == 8 ? 20 : 12);
        uint64_t pos = base + a->u * u->offset_size;
        if (a->u > dw->rnglists.size || pos > dw->rnglists.size ||
            dw->rnglists.size - pos < u->offset_size)
            return false;
        struct rd r = rd_make(dw->rnglists.data + pos, u->offset_size);
        return debug_rnglists(dw, u, base + rd_uint(&r, u->offset_size), fn, ctx);
    }
    if (a->form != DW_FORM_sec_offset && !form_is_constant(a->form))
        return false;
    if (u->version >= 5) {
        /* In a DWARF 5 unit with DW_AT_rnglists_base, offsets of
         * DW_FORM_sec_offset are still section offsets. */
        return debug_rnglists(dw, u, a->u, fn, ctx);
    }
    return debug_ranges(dw, u, a->u, fn, ctx);
}
