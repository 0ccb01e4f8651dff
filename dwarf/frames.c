/*
 * frames.c — call-frame information of a binary: a sorted FDE index over
 * .eh_frame and .debug_frame (built with cfi.c's iterator), FDE lookup by
 * pc, and the unwinder step (CFI, frame pointers when no FDE covers the pc).
 */
#include <gelf.h>
#include <stdlib.h>

#include "internal.h"

static int cmp_fde(const void *a, const void *b)
{
    const struct fde_ref *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int index_section(struct cfi_section *sec, struct fde_ref **out, size_t *n,
                         const char *what, const struct gd_warner *w)
{
    struct cfi_iter it;
    struct cfi_fde fde;
    VEC(struct fde_ref) v = { 0 };
    int rc;
    size_t bad = 0;

    cfi_iter_init(&it, sec);
    while ((rc = cfi_iter_next(&it, &fde)) != CFI_END) {
        if (rc != CFI_OK) {
            bad++;
            if (it.off >= sec->size)
                break;
            continue;
        }
        if (fde.pc_begin == fde.pc_end)
            continue;
        struct fde_ref r = { fde.pc_begin, fde.pc_end, fde.offset };
        if (!VEC_PUSH(v, r)) {
            VEC_FREE(v);
            return GD_ENOMEM;
        }
    }
    if (bad)
        gd_warn(w, "%s: %zu malformed or unsupported CFI entries skipped", what, bad);
    if (v.n)
        qsort(v.v, v.n, sizeof *v.v, cmp_fde);
    *out = v.v;
    *n = v.n;
    return GD_OK;
}

static bool section_view(struct elf_file *f, const char *name, struct cfi_section *out,
                         int kind, const struct gd_warner *w)
{
    const struct gd_section *s = elf_file_section(f, name);
    struct gd_buf buf;
    struct gd_error e;

    memset(out, 0, sizeof *out);
    if (!s || s->type == SHT_NOBITS || s->size == 0)
        return false;
    if (elf_file_bytes(f, s, &buf, &e) != GD_OK) {
        gd_warn(w, "%s", e.msg);
        return false;
    }
    out->data = buf.data;
    out->size = buf.size;
    out->addr = s->addr;
    out->kind = kind;
    const struct gd_section *got = elf_file_section(f, ".got");
    out->data_base = got ? got->addr : 0;
    return buf.data != NULL;
}

int frames_load(struct frames *fr, struct gd_binary *b, const struct gd_warner *w,
                struct gd_error *err)
{
    memset(fr, 0, sizeof *fr);
    if (section_view(&b->main, ".eh_frame", &fr->eh, CFI_EH_FRAME, w) &&
        index_section(&fr->eh, &fr->eh_fdes, &fr->neh, ".eh_frame", w) != GD_OK)
        return gd_fail(err, GD_ENOMEM, "out of memory");
    struct elf_file *src = b->dwarf_src;
    if ((section_view(src, ".debug_frame", &fr->debug, CFI_DEBUG_FRAME, w) ||
         (src != &b->main &&
          section_view(&b->main, ".debug_frame", &fr->debug, CFI_DEBUG_FRAME, w))) &&
        index_section(&fr->debug, &fr->debug_fdes, &fr->ndebug, ".debug_frame", w) != GD_OK)
        return gd_fail(err, GD_ENOMEM, "out of memory");
    return GD_OK;
}

void frames_free(struct frames *fr)
{
    free(fr->eh_fdes);
    free(fr->debug_fdes);
    memset(fr, 0, sizeof *fr);
}

static int find_in(const struct cfi_section *sec, const struct fde_ref *v, size_t n,
                   uint64_t pc, struct cfi_fde *out)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* FDEs do not overlap in practice; look back a little in case they do. */
    for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++) {
        if (pc < v[i - 1].hi)
            return cfi_fde_decode(sec, v[i - 1].off, out);
    }
    return CFI_ERR_NOT_FOUND;
}

int gd_find_fde(const gd_binary *b, uint64_t pc, struct cfi_fde *out)
{
    const struct frames *fr = &b->frames;
    int rc = find_in(&fr->eh, fr->eh_fdes, fr->neh, pc, out);
    if (rc == CFI_ERR_NOT_FOUND)
        rc = find_in(&fr->debug, fr->debug_fdes, fr->ndebug, pc, out);
    return rc;
}

int gd_unwind_step_biased(const gd_binary *b, uint64_t bias, const struct cfi_regs *in,
                          cfi_read_fn read, void *ctx, struct cfi_regs *out, bool *used_fp)
{
    struct cfi_fde fde;
    struct cfi_row row;

    if (used_fp)
        *used_fp = false;
    if (!in || !out)
        return CFI_ERR_ARG;
    if (!((in->valid >> CFI_RA) & 1))
        return CFI_ERR_REGISTER;
    uint64_t pc = cfi_lookup_pc(in) - bias;
    int rc = gd_find_fde(b, pc, &fde);
    if (rc == CFI_OK) {
        rc = cfi_row_at(&fde, pc, &row);
        if (rc == CFI_OK)
            return cfi_step_row(&row, in, read, ctx, out);
        return rc;
    }
    if (rc != CFI_ERR_NOT_FOUND)
        return rc;
    if (used_fp)
        *used_fp = true;
    return cfi_step_fp(in, read, ctx, out);
}

int gd_unwind_step(const gd_binary *b, const struct cfi_regs *in, cfi_read_fn read,
                   void *ctx, struct cfi_regs *out, bool *used_fp)
{
    return gd_unwind_step_biased(b, 0, in, read, ctx, out, used_fp);
}
