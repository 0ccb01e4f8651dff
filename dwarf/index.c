/*
 * index.c — turning what inline_tree.c collected into the lookup index:
 *
 *  - line rows: sequences sorted by start (longest first on ties), nested
 *    ones dropped and overlapping ones trimmed (binutils' sort_line_
 *    sequences), then flattened into one sorted array of row starts with an
 *    end marker after each sequence;
 *  - function intervals: the address space cut into pieces, each labelled
 *    with the innermost function there — the function whose range holding
 *    the address is smallest, the later DIE on ties (binutils' lookup_
 *    address_in_function_table) — by one sweep with a heap;
 *  - both merged into one sorted array of intervals, with a bucket table
 *    over the code's span that narrows a search to a few entries;
 *  - per function node, the 32-byte record a lookup reads (struct fhot),
 *    its name interned among the others'.
 */
#include <stdlib.h>

#include "internal.h"

static int cmp_seq(const void *a, const void *b)
{
    const struct lseq *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi > y->hi ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The two halves of the index before they are merged into intervals. */
struct halves {
    uint64_t *laddr;            /* line row starts */
    const struct lrow **lrow;   /* the row, NULL for "no line from here" */
    size_t nl;
    uint64_t *faddr;            /* function interval starts */
    uint32_t *fnode;
    size_t nf;
};

static void put_line(struct halves *ix, uint64_t addr, const struct lrow *r)
{
    if (ix->nl > 0 && ix->laddr[ix->nl - 1] >= addr) {
        if (ix->laddr[ix->nl - 1] > addr)
            return;
        ix->nl--;                   /* a later row at the same address wins */
    }
    ix->laddr[ix->nl] = addr;
    ix->lrow[ix->nl] = r;
    ix->nl++;
}

static bool build_lines(struct halves *ix, struct index_build *b)
{
    size_t cap = b->rows.n + b->seqs.n + 1;
    ix->laddr = malloc(cap * sizeof *ix->laddr);
    ix->lrow = malloc(cap * sizeof *ix->lrow);
    if (!ix->laddr || !ix->lrow)
        return false;
    gd_hint_huge(ix->laddr, cap * sizeof *ix->laddr);
    gd_hint_huge(ix->lrow, cap * sizeof *ix->lrow);
    if (b->seqs.n)          /* an empty line table: b->seqs.v is NULL */
        qsort(b->seqs.v, b->seqs.n, sizeof *b->seqs.v, cmp_seq);

    uint64_t last_hi = 0;
    bool have = false;
    for (size_t i = 0; i < b->seqs.n; i++) {
        const struct lseq *s = &b->seqs.v[i];
        uint64_t lo = s->lo, hi = s->hi;
        if (have && lo < last_hi) {
            if (hi <= last_hi)
                continue;           /* nested in the previous one */
            lo = last_hi;           /* overlapping: trimmed */
        }
        last_hi = hi;
        have = true;
        if (lo >= hi || s->n < 2)
            continue;
        const struct lrow *rows = &b->rows.v[s->first];
        size_t nrows = s->n - 1;    /* without the end row */
        /* The row in force at lo. */
        size_t a = 0, z = nrows;
        while (a < z) {
            size_t mid = a + (z - a) / 2;
            if (rows[mid].addr <= lo)
                a = mid + 1;
            else
                z = mid;
        }
        size_t k = a ? a - 1 : 0;
        put_line(ix, lo, &rows[k]);
        for (k++; k < nrows && rows[k].addr < hi; k++)
            put_line(ix, rows[k].addr, &rows[k]);
        put_line(ix, hi, NULL);
    }
    return true;
}

/* ---- Function intervals ------------------------------------------------ */

struct sweep {
    const struct frange *r;
    uint32_t *heap;
    size_t n;
};

/* Does range a take precedence over range b? */
static bool before(const struct sweep *s, uint32_t a, uint32_t b)
{
    uint64_t la = s->r[a].hi - s->r[a].lo, lb = s->r[b].hi - s->r[b].lo;
    if (la != lb)
        return la < lb;
    return s->r[a].node > s->r[b].node;
}

static void heap_push(struct sweep *s, uint32_t x)
{
    size_t i = s->n++;
    s->heap[i] = x;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(s, s->heap[i], s->heap[p]))
            break;
        uint32_t t = s->heap[i];
        s->heap[i] = s->heap[p];
        s->heap[p] = t;
        i = p;
    }
}

static void heap_pop(struct sweep *s)
{
    s->heap[0] = s->heap[--s->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && before(s, s->heap[l], s->heap[m]))
            m = l;
        if (r < s->n && before(s, s->heap[r], s->heap[m]))
            m = r;
        if (m == i)
            break;
        uint32_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static void put_func(struct halves *ix, uint64_t addr, uint32_t node)
{
    if (ix->nf > 0 && ix->faddr[ix->nf - 1] == addr)
        ix->nf--;
    if (ix->nf > 0 && ix->fnode[ix->nf - 1] == node)
        return;
    ix->faddr[ix->nf] = addr;
    ix->fnode[ix->nf] = node;
    ix->nf++;
}

/* Sorts ranges by lo, keeping equal ones in node order (they were added in
 * node order): an LSD radix sort on the 16-bit digits of lo that vary. */
static bool sort_ranges(struct frange *r, size_t n)
{
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (size_t i = 0; i < n; i++) {
        all_or |= r[i].lo;
        all_and &= r[i].lo;
    }
    uint64_t varies = all_or ^ all_and;
    struct frange *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return false;
    }
    struct frange *src = r, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 16) {
        if (!((varies >> shift) & 0xffff))
            continue;
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(src[i].lo >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].lo >> shift) & 0xffff]++] = src[i];
        struct frange *t = src;
        src = dst;
        dst = t;
    }
    if (src != r)
        memcpy(r, src, n * sizeof *r);
    free(tmp);
    free(count);
    return true;
}

static bool build_functions(struct halves *ix, struct index_build *b)
{
    size_t n = b->ranges.n;
    struct frange *r = b->ranges.v;
    struct sweep s = { r, malloc((n ? n : 1) * sizeof(uint32_t)), 0 };
    ix->faddr = malloc((2 * n + 1) * sizeof *ix->faddr);
    ix->fnode = malloc((2 * n + 1) * sizeof *ix->fnode);
    if (!s.heap || !ix->faddr || !ix->fnode) {
        free(s.heap);
        return false;
    }
    if (!sort_ranges(r, n)) {
        free(s.heap);
        return false;
    }
    size_t i = 0;
    uint64_t cur = 0;
    while (i < n || s.n > 0) {
        if (s.n == 0)
            cur = r[i].lo;
        while (i < n && r[i].lo <= cur)
            heap_push(&s, (uint32_t)i++);
        while (s.n > 0 && r[s.heap[0]].hi <= cur)
            heap_pop(&s);
        if (s.n == 0) {
            put_func(ix, cur, GD_NO_FUNC);
            continue;
        }
        put_func(ix, cur, r[s.heap[0]].node);
        uint64_t next = r[s.heap[0]].hi;
        if (i < n && r[i].lo < next)
            next = r[i].lo;
        cur = next;
    }
    free(s.heap);
    return true;
}

/* ---- Merging the halves ------------------------------------------------ */

static bool merge(struct dwarf_index *ix, const struct halves *h)
{
    ix->iv = gd_alloc_lines(h->nl + h->nf + 1, sizeof *ix->iv);
    if (!ix->iv)
        return false;
    size_t i = 0, j = 0, n = 0;
    const struct lrow *row = NULL;
    uint32_t node = GD_NO_FUNC;
    while (i < h->nl || j < h->nf) {
        uint64_t a = UINT64_MAX;
        if (i < h->nl)
            a = h->laddr[i];
        if (j < h->nf && h->faddr[j] < a)
            a = h->faddr[j];
        if (i < h->nl && h->laddr[i] == a)
            row = h->lrow[i++];
        if (j < h->nf && h->faddr[j] == a)
            node = h->fnode[j++];
        struct ival *v = &ix->iv[n++];
        memset(v, 0, sizeof *v);
        v->addr = a;
        v->node = node;
        if (row) {
            v->file = row->file;
            v->line = row->line;
            v->disc = row->disc;
            v->col = row->col;
            v->flags = row->flags & LROW_STMT;
        } else {
            v->file = GD_NOFILE;
            v->flags = LROW_END;
        }
    }
    ix->niv = n;
    ix->nrows = h->nl;
    return true;
}

/* ---- What lookups read of the nodes ------------------------------------ */

/* Nodes with the same name often point at the same string (one entry of
 * .debug_str, or the abstract DIE they all come from): a small cache by
 * address spares hashing it again. */
#define NAME_CACHE 4096

struct name_cache {
    const char *str[NAME_CACHE];
    uint32_t id[NAME_CACHE];
};

static uint32_t intern_name(struct strtab *names, struct name_cache *nc, const char *s)
{
    size_t slot = ((uintptr_t)s * 0x9e3779b97f4a7c15ull) >> 52;
    if (nc->str[slot] == s)
        return nc->id[slot];
    uint32_t id = strtab_intern(names, s, strlen(s));
    nc->str[slot] = s;
    nc->id[slot] = id;
    return id;
}

static bool build_hot(struct dwarf_index *ix)
{
    struct name_cache *nc = calloc(1, sizeof *nc);
    ix->hot = gd_alloc_lines(ix->nnodes, sizeof *ix->hot);
    if (!ix->hot || !nc) {
        free(nc);
        return false;
    }
    for (size_t i = 0; i < ix->nnodes; i++) {
        const struct fnode *fn = &ix->nodes[i];
        struct fhot *h = &ix->hot[i];
        const char *name = fn->linkage ? fn->linkage : fn->name;
        memset(h, 0, sizeof *h);
        if (name) {
            uint32_t id = intern_name(&ix->names, nc, name);
            if (id == UINT32_MAX) {
                free(nc);
                return false;
            }
            h->name = strtab_get(&ix->names, id);
            h->name_len = ix->names.lens[id];
        }
        h->inlined = fn->inlined && fn->parent != GD_NO_FUNC;
        h->parent = fn->inlined && fn->parent < i ? fn->parent : GD_NO_FUNC;
        h->call_file = fn->call_file;
        h->call_line = fn->call_line;
        h->call_col = fn->call_col;
    }
    free(nc);
    return true;
}

/* ---- Lookup accelerators ----------------------------------------------- */

static void accel_build(struct accel *a, const struct ival *v, size_t n, uint64_t lo, uint64_t hi)
{
    memset(a, 0, sizeof *a);
    if (n < 256 || hi <= lo || n > UINT32_MAX)
        return;
    /* up to four buckets per element: most buckets then hold at most one
     * element, and the search inside reads only the two that the lookup
     * prefetches (the peak memory is the index build's, not this) */
    unsigned shift = 0;
    while (shift < 63 && ((hi - lo) >> shift) > 4 * n)
        shift++;
    size_t nb = (size_t)((hi - lo) >> shift) + 2;
    a->first = gd_alloc_lines(nb, sizeof *a->first);
    if (!a->first)
        return;
    size_t i = 0;
    for (size_t b = 0; b < nb; b++) {
        uint64_t start = lo + ((uint64_t)b << shift);
        while (i < n && v[i].addr < start)
            i++;
        a->first[b] = (uint32_t)i;
    }
    a->base = lo;
    a->shift = shift;
    a->nb = nb;
}

void index_accelerate(struct dwarf_index *ix, uint64_t lo, uint64_t hi)
{
    accel_build(&ix->acc, ix->iv, ix->niv, lo, hi);
}

void index_free(struct dwarf_index *ix)
{
    free(ix->acc.first);
    free(ix->iv);
    free(ix->nodes);
    free(ix->hot);
    free(ix->vars);
    strtab_free(&ix->files);
    strtab_free(&ix->names);
    memset(ix, 0, sizeof *ix);
}

int index_build(struct dwarf_index *ix, const struct dw *dw, const struct gd_warner *w,
                struct gd_error *err)
{
    struct index_build b;
    struct halves h;
    int rc;

    memset(ix, 0, sizeof *ix);
    memset(&b, 0, sizeof b);
    memset(&h, 0, sizeof h);
    strtab_init(&ix->files);
    strtab_init(&ix->names);
    b.files = &ix->files;
    rc = inline_tree_build(&b, dw, w, err);
    if (rc == GD_OK && (!build_lines(&h, &b) || !build_functions(&h, &b) || !merge(ix, &h)))
        rc = gd_fail(err, GD_ENOMEM, "out of memory while building the index");
    free(h.laddr);
    free(h.lrow);
    free(h.faddr);
    free(h.fnode);
    if (rc == GD_OK) {
        ix->nodes = b.nodes.v;
        ix->nnodes = b.nodes.n;
        b.nodes.v = NULL;
        variables_sort(b.vars.v, b.vars.n);
        ix->vars = b.vars.v;
        ix->nvars = b.vars.n;
        b.vars.v = NULL;
        ix->units = b.good_units;
        ix->bad_units = b.bad_units;
        if (!build_hot(ix))
            rc = gd_fail(err, GD_ENOMEM, "out of memory while building the index");
    }
    VEC_FREE(b.vars);
    VEC_FREE(b.rows);
    VEC_FREE(b.seqs);
    VEC_FREE(b.nodes);
    VEC_FREE(b.ranges);
    VEC_FREE(b.units);
    VEC_FREE(b.sup_units);
    free(b.names);
    if (rc != GD_OK)
        index_free(ix);
    return rc;
}
