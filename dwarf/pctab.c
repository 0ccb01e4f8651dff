/*
 * pctab.c — reading the pc-line table of pctab.h (format: docs/pctab.md).
 *
 * A lookup is a binary search of the block index, the decoding of at most
 * PCTAB_BLOCK_ROWS rows of the row stream (the innermost function's node,
 * the file and the line at pc), then a walk up the node table to each
 * caller at the call site its callee's node records; parents always have
 * lower ids.  Bounded, and every offset is checked before it is read.
 */
#include "pctab.h"

#include <string.h>

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

uint32_t pctab_crc32(uint32_t crc, const void *data, size_t len)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* count entries of esize bytes at off lie inside the table's size. */
static bool part_fits(uint32_t size, uint32_t off, uint32_t count, uint32_t esize)
{
    return off >= PCTAB_HEADER_SIZE && off <= size && (uint64_t)count * esize <= size - off;
}

int pctab_open(struct pctab *t, const void *data, size_t len)
{
    const uint8_t *h = data;
    memset(t, 0, sizeof *t);
    if (len < PCTAB_HEADER_SIZE)
        return PCTAB_ESHORT;
    if (memcmp(h, PCTAB_MAGIC, 8) != 0)
        return PCTAB_EMAGIC;
    if (get32(h + 8) != PCTAB_VERSION || get32(h + 12) != PCTAB_HEADER_SIZE)
        return PCTAB_EVERSION;
    uint32_t size = get32(h + 16);
    if (size < PCTAB_HEADER_SIZE || size > len)
        return PCTAB_ESHORT;
    uint32_t nblocks = get32(h + 36), blocks = get32(h + 40);
    uint32_t rows = get32(h + 44), rows_size = get32(h + 48);
    uint32_t nnodes = get32(h + 52), nodes = get32(h + 56);
    uint32_t nfuncs = get32(h + 60), funcs = get32(h + 64);
    uint32_t strs = get32(h + 68), strs_size = get32(h + 72);
    if (!part_fits(size, blocks, nblocks, 8) || !part_fits(size, rows, rows_size, 1) ||
        !part_fits(size, nodes, nnodes, 16) || !part_fits(size, funcs, nfuncs, 8) ||
        !part_fits(size, strs, strs_size, 1) || strs_size == 0 || h[strs + strs_size - 1] != 0)
        return PCTAB_EBOUNDS;
    if (pctab_crc32(0, h + 24, size - 24) != get32(h + 20))
        return PCTAB_ECRC;
    *t = (struct pctab){h, size, get64(h + 24), get32(h + 32), h + blocks, nblocks,
                        h + rows, rows_size, h + nodes, nnodes, h + funcs, nfuncs,
                        (const char *)h + strs, strs_size};
    return PCTAB_OK;
}

const char *pctab_strerror(int code)
{
    switch (code) {
    case PCTAB_OK: return "no error";
    case PCTAB_ESHORT: return "truncated pc-line table";
    case PCTAB_EMAGIC: return "not a pc-line table (bad magic)";
    case PCTAB_EVERSION: return "pc-line table of an unknown version";
    case PCTAB_EBOUNDS: return "corrupt pc-line table (a part lies outside it)";
    case PCTAB_ECRC: return "corrupt pc-line table (CRC mismatch)";
    }
    return "unknown pc-line table error";
}

/* An unsigned LEB128 at *p, below end; false when it runs past end or
 * beyond 32 bits. */
static bool uleb(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; *p < end && shift < 35; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (uint32_t)v;
            return v <= UINT32_MAX;
        }
    }
    return false;
}

/* The last block whose first row starts at or before off. */
static bool find_block(const struct pctab *t, uint32_t off, uint32_t *blk)
{
    uint32_t lo = 0, hi = t->nblocks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (get32(t->blocks + 8 * (size_t)mid) <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    *blk = lo - 1;
    return lo > 0;
}

/* What a row of the stream says. */
struct row {
    uint32_t pc, node1, file, line;     /* node1 0: a gap */
};

static uint32_t unzigzag(uint32_t v)
{
    return (v >> 1) ^ -(v & 1);
}

/* The row holding off; false when none does or the stream is damaged. */
static bool find_row(const struct pctab *t, uint32_t off, struct row *out)
{
    uint32_t blk;
    if (!find_block(t, off, &blk))
        return false;
    const uint8_t *e = t->blocks + 8 * (size_t)blk;
    uint32_t start = get32(e + 4);
    uint32_t stop = blk + 1 < t->nblocks ? get32(e + 12) : t->rows_size;
    if (start > stop || stop > t->rows_size)
        return false;
    const uint8_t *p = t->rows + start, *end = t->rows + stop;
    struct row r = {get32(e), 0, 0, 0};
    bool found = false;
    for (unsigned i = 0; i < PCTAB_BLOCK_ROWS && p < end; i++) {
        uint32_t d[4];
        for (int k = 0; k < 4; k++)
            if (!uleb(&p, end, &d[k]))
                return false;
        r.pc += d[0];
        if (r.pc > off)
            break;
        r.node1 += unzigzag(d[1]);
        r.file += unzigzag(d[2]);
        r.line += unzigzag(d[3]);
        *out = r;
        found = true;
    }
    return found && out->node1 != 0;
}

/* The string at off; NULL for offset 0 (unknown) or past the strings. */
static const char *str_at(const struct pctab *t, uint32_t off)
{
    return off != 0 && off < t->strs_size ? t->strs + off : NULL;
}

int pctab_lookup(const struct pctab *t, uint64_t pc, struct pctab_frame *out, int max)
{
    struct row r;
    if (!t->data || pc < t->base || pc - t->base >= t->code_size ||
        !find_row(t, (uint32_t)(pc - t->base), &r))
        return 0;
    uint32_t id1 = r.node1, file = r.file, line = r.line;
    int n = 0;
    while (id1 != 0 && id1 <= t->nnodes && n < max && n < PCTAB_MAX_DEPTH) {
        const uint8_t *nd = t->nodes + 16 * (size_t)(id1 - 1);
        uint32_t word = get32(nd + 8), parent1 = get32(nd + 12);
        out[n++] = (struct pctab_frame){str_at(t, get32(nd)), str_at(t, file),
                                        line & PCTAB_LINE_MASK, (word & PCTAB_INLINED) != 0,
                                        (word & PCTAB_FROM_SYMBOL) != 0};
        if (parent1 >= id1)     /* parents have lower ids: a chain ends */
            break;
        file = get32(nd + 4);   /* the caller's frame is at this call site */
        line = word;
        id1 = parent1;
    }
    return n;
}

uint64_t pctab_func_start(const struct pctab *t, uint64_t pc)
{
    if (!t->data || pc < t->base || pc - t->base > UINT32_MAX)
        return 0;
    uint32_t off = (uint32_t)(pc - t->base), lo = 0, hi = t->nfuncs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (get32(t->funcs + 8 * (size_t)mid) <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    const uint8_t *f = t->funcs + 8 * (size_t)(lo - 1);
    uint32_t start = get32(f), size = get32(f + 4);
    return off - start < size ? t->base + start : 0;
}
