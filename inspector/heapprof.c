/*
 * heapprof.c — the allocation profile's views: the profile.proto that
 * `heap-profile` writes (sample types alloc_objects, alloc_space,
 * inuse_objects, inuse_space as Go's heap profile has them, period
 * space/bytes = the sampling rate) and `heap --by-site`.
 *
 * Every figure is an estimate made from raw sample counts as Go's pprof
 * makes it (memprof_scale): a sample of an object of size s stands for
 * 1 / (1 - exp(-s / rate)) of them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "clock.h"
#include "command.h"
#include "heapprof.h"
#include "memprofsnap.h"
#include "textfmt.h"

const struct memprofsnap *session_memprof(struct session *ss, const char *cmd)
{
    const struct memprofsnap *m = ss->s.memprof;
    if (!m || !m->present) {
        die_msg("%s: %s: its runtime describes no allocation profile (descriptor version %u; "
                "libgort's has one from version 3)", cmd, ss->t->what, ss->d.version);
        return NULL;
    }
    if (m->error)
        fprintf(stderr, "goinspect: warning: %s\n", m->error);
    return m;
}

void heapprof_build(struct session *ss, const struct memprofsnap *m, struct heapprof *hp)
{
    memset(hp, 0, sizeof *hp);
    rec_init(&hp->rec, &ss->mods);
    snprintf(hp->rec.target, sizeof hp->rec.target, "%s", ss->t->what);
    hp->rate = m->rate;
    hp->buckets = m->n;
    struct rec_owner none;
    memset(&none, 0, sizeof none);
    for (size_t i = 0; i < m->n; i++) {
        const struct mp_bucket *b = &m->b[i];
        uint32_t e = rec_add(&hp->rec, m->pcs + b->first, b->nstk, &none, 0, false);
        if (e >= hp->capvalues) {
            size_t old = hp->capvalues;
            xgrow(&hp->values, &hp->capvalues, e + 1, sizeof *hp->values);
            memset(hp->values + old, 0, (hp->capvalues - old) * sizeof *hp->values);
        }
        uint64_t io = b->alloc_objects - b->free_objects, ib = b->alloc_bytes - b->free_bytes;
        if (b->free_objects > b->alloc_objects || b->free_bytes > b->alloc_bytes)
            io = ib = 0;                    /* a count read while it changed (--nonstop) */
        double *v = hp->values[e];
        v[HP_ALLOC_OBJECTS] += memprof_scale(b->alloc_objects, b->alloc_bytes, m->rate, false);
        v[HP_ALLOC_SPACE] += memprof_scale(b->alloc_objects, b->alloc_bytes, m->rate, true);
        v[HP_INUSE_OBJECTS] += memprof_scale(io, ib, m->rate, false);
        v[HP_INUSE_SPACE] += memprof_scale(io, ib, m->rate, true);
        hp->samples += b->alloc_objects;
    }
    rec_symbolize(&hp->rec);
}

void heapprof_free(struct heapprof *hp)
{
    rec_free(&hp->rec);
    free(hp->values);
    memset(hp, 0, sizeof *hp);
}

static void entry_values(const struct recording *r, size_t i, uint64_t *v, void *arg)
{
    (void)r;
    const struct heapprof *hp = arg;
    for (int k = 0; k < HP_NVALUES; k++)
        v[k] = (uint64_t)llround(hp->values[i][k]);
}

int heapprof_pprof(struct heapprof *hp, const char *target, struct bytebuf *out, struct fail *f)
{
    static const char *const types[HP_NVALUES][2] = {
        [HP_ALLOC_OBJECTS] = {"alloc_objects", "count"},
        [HP_ALLOC_SPACE] = {"alloc_space", "bytes"},
        [HP_INUSE_OBJECTS] = {"inuse_objects", "count"},
        [HP_INUSE_SPACE] = {"inuse_space", "bytes"},
    };
    char comment[4400];
    snprintf(comment, sizeof comment, "goinspect heap-profile %s (1 sample per %lld bytes "
             "allocated; %llu samples)", target, (long long)hp->rate,
             (unsigned long long)hp->samples);
    struct pprof_spec sp = {types, HP_NVALUES, {"space", "bytes"},
                            hp->rate > 0 ? (uint64_t)hp->rate : 0, "inuse_space", comment,
                            (int64_t)wall_ns(), 0, entry_values, hp};
    return pprof_write_spec(&hp->rec, &sp, out, f);
}

/* ---- heap --by-site ------------------------------------------------------------- */

struct site {
    const char *function, *file;    /* the symbol cache's strings */
    uint32_t line;
    const char *caller;             /* the function it is inlined into, or NULL */
    double v[HP_NVALUES];
};

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int by_place(const void *pa, const void *pb)
{
    const struct site *a = pa, *b = pb;
    int c = cmp_str(a->function, b->function);
    if (!c)
        c = cmp_str(a->file, b->file);
    if (!c)
        c = (a->line > b->line) - (a->line < b->line);
    if (!c)
        c = cmp_str(a->caller, b->caller);
    return c;
}

static int by_inuse(const void *pa, const void *pb)
{
    const struct site *a = pa, *b = pb;
    if (a->v[HP_INUSE_SPACE] != b->v[HP_INUSE_SPACE])
        return a->v[HP_INUSE_SPACE] < b->v[HP_INUSE_SPACE] ? 1 : -1;
    if (a->v[HP_ALLOC_SPACE] != b->v[HP_ALLOC_SPACE])
        return a->v[HP_ALLOC_SPACE] < b->v[HP_ALLOC_SPACE] ? 1 : -1;
    return by_place(pa, pb);
}

/* One site per distinct innermost frame of the buckets' first pcs (the
 * program's allocating call: the runtime's frames are not in the stacks),
 * largest in use first; *n of them. */
static struct site *sites_of(struct heapprof *hp, size_t *n)
{
    struct recording *r = &hp->rec;
    struct site *v = xcalloc(r->nentries + 1, sizeof *v);
    struct rec_frame *fr = NULL;
    size_t cap = 0, k = 0;
    for (size_t i = 0; i < r->nentries; i++) {
        const struct rec_stack *st = &r->stacks[r->entries[i].stack];
        struct site *s = &v[k++];
        if (st->n == 0) {
            s->function = "(no stack)";
        } else {
            size_t nf = rec_pc_frames(r, r->pcs[st->first], &fr, &cap, 0);
            s->function = fr[0].function;
            s->file = fr[0].file;
            s->line = fr[0].line;
            s->caller = nf > 1 && fr[0].inlined ? fr[1].function : NULL;
        }
        memcpy(s->v, hp->values[i], sizeof s->v);
    }
    free(fr);
    qsort(v, k, sizeof *v, by_place);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && by_place(&v[m - 1], &v[i]) == 0) {
            for (int j = 0; j < HP_NVALUES; j++)
                v[m - 1].v[j] += v[i].v[j];
        } else {
            v[m++] = v[i];
        }
    }
    qsort(v, m, sizeof *v, by_inuse);
    *n = m;
    return v;
}

static uint64_t rounded(double d)
{
    return d > 0 ? (uint64_t)llround(d) : 0;
}

static void text_sites(struct session *ss, struct heapprof *hp, const struct site *v, size_t n)
{
    struct out *o = &ss->out;
    session_notes(ss);
    double total[HP_NVALUES] = {0};
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < HP_NVALUES; j++)
            total[j] += v[i].v[j];
    outf(o, "%10s %6s %11s %10s %11s  %s\n", "INUSE", "SHARE", "INUSE_OBJS", "ALLOC",
         "ALLOC_OBJS", "SITE");
    for (size_t i = 0; i < n; i++) {
        char in[24], al[24];
        fmt_size(rounded(v[i].v[HP_INUSE_SPACE]), in, sizeof in);
        fmt_size(rounded(v[i].v[HP_ALLOC_SPACE]), al, sizeof al);
        double share = total[HP_INUSE_SPACE] > 0 ? 100 * v[i].v[HP_INUSE_SPACE] /
                                                          total[HP_INUSE_SPACE] : 0;
        outf(o, "%10s %5.1f%% %11llu %10s %11llu  %s", in, share,
             (unsigned long long)rounded(v[i].v[HP_INUSE_OBJECTS]), al,
             (unsigned long long)rounded(v[i].v[HP_ALLOC_OBJECTS]), v[i].function);
        if (v[i].caller)
            outf(o, " (inlined into %s)", v[i].caller);
        if (v[i].file)
            outf(o, " %s:%u", v[i].file, v[i].line);
        outf(o, "\n");
    }
    char in[24], al[24], pause[64];
    fmt_size(rounded(total[HP_INUSE_SPACE]), in, sizeof in);
    fmt_size(rounded(total[HP_ALLOC_SPACE]), al, sizeof al);
    session_pause_text(ss, pause, sizeof pause);
    if (hp->rate > 0)
        outf(o, "%s in use, %s allocated: estimates from %llu samples (1 per %lld bytes "
             "allocated) in %llu stacks; %s\n", in, al, (unsigned long long)hp->samples,
             (long long)hp->rate, (unsigned long long)hp->buckets, pause);
    else
        outf(o, "allocation sampling is off (GORT_MEMPROFILERATE=0): %llu samples kept from "
             "before; %s\n", (unsigned long long)hp->samples, pause);
}

static void json_sites(struct session *ss, struct heapprof *hp, const struct site *v, size_t n)
{
    struct json j;
    json_init(&j, &ss->out);
    json_obj(&j);
    session_json_common(ss, &j);
    json_ki64(&j, "rate", hp->rate);
    json_ku64(&j, "samples", hp->samples);
    json_ku64(&j, "stacks", hp->buckets);
    json_key(&j, "sites");
    json_arr(&j);
    for (size_t i = 0; i < n; i++) {
        json_obj(&j);
        json_kstr(&j, "function", v[i].function);
        json_kstr(&j, "file", v[i].file);
        json_ku64(&j, "line", v[i].line);
        json_kstr(&j, "inlined_into", v[i].caller);
        json_ku64(&j, "inuse_bytes", rounded(v[i].v[HP_INUSE_SPACE]));
        json_ku64(&j, "inuse_objects", rounded(v[i].v[HP_INUSE_OBJECTS]));
        json_ku64(&j, "alloc_bytes", rounded(v[i].v[HP_ALLOC_SPACE]));
        json_ku64(&j, "alloc_objects", rounded(v[i].v[HP_ALLOC_OBJECTS]));
        json_obj_end(&j);
    }
    json_arr_end(&j);
    const struct memprofsnap *m = ss->s.memprof;
    json_kstr(&j, "error", m ? m->error : NULL);
    json_obj_end(&j);
    json_end(&j);
}

int heapprof_by_site(struct session *ss)
{
    const struct memprofsnap *m = session_memprof(ss, "heap");
    if (!m)
        return EXIT_FAIL;
    struct heapprof hp;
    heapprof_build(ss, m, &hp);
    size_t n;
    struct site *v = sites_of(&hp, &n);
    if (ss->json)
        json_sites(ss, &hp, v, n);
    else
        text_sites(ss, &hp, v, n);
    free(v);
    heapprof_free(&hp);
    return EXIT_OK;
}
