/*
 * pprof.c — a recording as profile.proto (the format of pprof, package
 * perftools.profiles), gzipped: what `go tool pprof` and every pprof viewer
 * read.
 *
 * The message fields written, by number:
 *   Profile  1 sample_type  2 sample  3 mapping  4 location  5 function
 *            6 string_table  9 time_nanos  10 duration_nanos  11 period_type
 *            12 period  13 comment  14 default_sample_type
 *   ValueType 1 type  2 unit            Sample 1 location_id  2 value  3 label
 *   Label    1 key  2 str  3 num        Line   1 function_id  2 line
 *   Mapping  1 id  2 memory_start  3 memory_limit  4 file_offset  5 filename
 *            7 has_functions  8 has_filenames  9 has_line_numbers
 *            10 has_inline_frames
 *   Location 1 id  2 mapping_id  3 address  4 line
 *   Function 1 id  2 name  3 system_name  4 filename
 * Strings are indexes in string_table, whose first entry is "".  A location
 * is one pc; its lines are the pc's inline chain, innermost first, as the
 * format has inlined calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bytebuf.h"
#include "recording.h"
#include "unwind.h"

/* ---- Protocol buffer encoding ------------------------------------------------- */

static void varint(struct bytebuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    bb_add(b, tmp, n);
}

static void field_u64(struct bytebuf *b, unsigned field, uint64_t v)
{
    varint(b, (uint64_t)field << 3);
    varint(b, v);
}

static void field_bytes(struct bytebuf *b, unsigned field, const void *p, size_t n)
{
    varint(b, (uint64_t)field << 3 | 2);
    varint(b, n);
    bb_add(b, p, n);
}

/* A nested message built in sub, appended as field and emptied. */
static void field_msg(struct bytebuf *b, unsigned field, struct bytebuf *sub)
{
    field_bytes(b, field, sub->p, sub->n);
    sub->n = 0;
}

/* ---- Tables: strings, functions, mappings, locations --------------------------- */

struct strtab {
    char **v;
    size_t n, cap;
    struct u64map index;    /* hash (probed on) -> index */
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 0x84222325cbf29ce4ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static uint64_t str_id(struct strtab *t, const char *s)
{
    if (!s)
        s = "";
    uint64_t key = str_hash(s);
    uint32_t k;
    for (; u64map_get(&t->index, key, &k); key++)
        if (strcmp(t->v[k], s) == 0)
            return k;
    xgrow(&t->v, &t->cap, t->n + 1, sizeof *t->v);
    t->v[t->n] = xstrdup(s);
    u64map_put(&t->index, key, (uint32_t)t->n);
    return t->n++;
}

struct tables {
    struct strtab str;
    struct u64map func_index;   /* hash of (name, file) -> function id */
    uint64_t (*funcs)[2];       /* per function id - 1: name, file string ids */
    size_t nfuncs, capfuncs;
    struct u64map loc_index;    /* tagged pc -> location id */
    struct bytebuf locs, fns;   /* the encoded Location and Function messages */
    uint32_t *map_of_module;    /* module index -> mapping id (0: not yet) */
    struct bytebuf maps;
    uint32_t nmaps;
};

static uint64_t function_id(struct tables *t, const char *name, const char *file)
{
    uint64_t sn = str_id(&t->str, name), sf = str_id(&t->str, file);
    uint64_t key = u64_hash(sn << 32 ^ sf);
    uint32_t k;
    for (; u64map_get(&t->func_index, key, &k); key++)
        if (t->funcs[k - 1][0] == sn && t->funcs[k - 1][1] == sf)
            return k;
    xgrow(&t->funcs, &t->capfuncs, t->nfuncs + 1, sizeof *t->funcs);
    t->funcs[t->nfuncs][0] = sn;
    t->funcs[t->nfuncs][1] = sf;
    k = (uint32_t)++t->nfuncs;
    u64map_put(&t->func_index, key, k);
    struct bytebuf m = {0};
    field_u64(&m, 1, k);
    field_u64(&m, 2, sn);
    field_u64(&m, 3, sn);
    field_u64(&m, 4, sf);
    field_msg(&t->fns, 5, &m);
    bb_free(&m);
    return k;
}

static uint64_t mapping_id(struct tables *t, struct recording *r, uint32_t mod)
{
    if (mod == SYM_NO_MODULE || mod >= r->mods->n)
        return 0;
    if (t->map_of_module[mod])
        return t->map_of_module[mod];
    const struct module *m = &r->mods->v[mod];
    uint32_t id = ++t->nmaps;
    t->map_of_module[mod] = id;
    struct bytebuf b = {0};
    field_u64(&b, 1, id);
    field_u64(&b, 2, m->map_start);
    field_u64(&b, 3, m->hi);
    field_u64(&b, 4, m->map_offset);
    field_u64(&b, 5, str_id(&t->str, m->path));
    for (unsigned f = 7; f <= 10; f++)
        field_u64(&b, f, m->bin != NULL);
    field_msg(&t->maps, 3, &b);
    bb_free(&b);
    return id;
}

static uint64_t location_id(struct tables *t, struct recording *r, uint64_t v,
                            struct rec_frame **fr, size_t *cap)
{
    uint32_t k;
    if (u64map_get(&t->loc_index, v, &k))
        return k;
    k = (uint32_t)t->loc_index.n + 1;
    u64map_put(&t->loc_index, v, k);
    size_t n = rec_pc_frames(r, v, fr, cap, 0);
    struct bytebuf b = {0}, line = {0};
    field_u64(&b, 1, k);
    uint64_t mid = mapping_id(t, r, (*fr)[0].module);
    if (mid)
        field_u64(&b, 2, mid);
    field_u64(&b, 3, v & PC_SIGNAL ? pc_of(v) : pc_lookup(v));
    for (size_t i = 0; i < n; i++) {
        field_u64(&line, 1, function_id(t, (*fr)[i].function, (*fr)[i].file));
        field_u64(&line, 2, (*fr)[i].line);
        field_msg(&b, 4, &line);
    }
    field_msg(&t->locs, 4, &b);
    bb_free(&b);
    bb_free(&line);
    return k;
}

/* The location of a sample with no frame (a thread not stopped, with
 * --nonstop): a function named after its owner, as the flame graphs show
 * it (go tool pprof drops a sample without a location). */
static uint64_t owner_location(struct tables *t, const struct rec_owner *o)
{
    char name[64];
    rec_owner_name(o, name, sizeof name);
    uint64_t fid = function_id(t, name, NULL), key = fid | 1ull << 63;
    uint32_t k;
    if (u64map_get(&t->loc_index, key, &k))
        return k;
    k = (uint32_t)t->loc_index.n + 1;
    u64map_put(&t->loc_index, key, k);
    struct bytebuf b = {0}, line = {0};
    field_u64(&b, 1, k);
    field_u64(&line, 1, fid);
    field_msg(&b, 4, &line);
    field_msg(&t->locs, 4, &b);
    bb_free(&b);
    bb_free(&line);
    return k;
}

/* ---- The profile ---------------------------------------------------------------- */

static void value_type(struct bytebuf *out, unsigned field, struct tables *t, const char *type,
                       const char *unit)
{
    struct bytebuf b = {0};
    field_u64(&b, 1, str_id(&t->str, type));
    field_u64(&b, 2, str_id(&t->str, unit));
    field_msg(out, field, &b);
    bb_free(&b);
}

static void label_str(struct bytebuf *s, struct tables *t, const char *key, const char *v)
{
    struct bytebuf b = {0};
    field_u64(&b, 1, str_id(&t->str, key));
    field_u64(&b, 2, str_id(&t->str, v));
    field_msg(s, 3, &b);
    bb_free(&b);
}

static void label_num(struct bytebuf *s, struct tables *t, const char *key, uint64_t v)
{
    struct bytebuf b = {0};
    field_u64(&b, 1, str_id(&t->str, key));
    field_u64(&b, 3, v);
    field_msg(s, 3, &b);
    bb_free(&b);
}

static void owner_labels(struct bytebuf *s, struct tables *t, struct recording *r,
                         const struct rec_owner *o)
{
    char num[24];
    if (o->goroutine) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)o->goid);
        label_str(s, t, "goroutine", num);
        label_str(s, t, "status", o->status);
        if (o->wait[0])
            label_str(s, t, "wait_reason", o->wait);
        char created[512];
        if (rec_created_by(r, o, created, sizeof created))
            label_str(s, t, "created_by", created);
    }
    if (o->tid) {
        label_num(s, t, "tid", (uint64_t)o->tid);
        label_str(s, t, "thread", o->thread);
    }
}

static void encode(struct recording *r, const struct pprof_spec *sp, struct bytebuf *out)
{
    struct tables t;
    memset(&t, 0, sizeof t);
    u64map_init(&t.str.index);
    u64map_init(&t.func_index);
    u64map_init(&t.loc_index);
    t.map_of_module = xcalloc(r->mods->n + 1, sizeof *t.map_of_module);
    str_id(&t.str, "");
    struct rec_frame *fr = NULL;
    size_t cap = 0;
    for (size_t k = 0; k < sp->ntypes; k++)
        value_type(out, 1, &t, sp->sample_types[k][0], sp->sample_types[k][1]);
    struct bytebuf s = {0}, ids = {0};
    uint64_t *v = xcalloc(sp->ntypes ? sp->ntypes : 1, sizeof *v);
    for (size_t i = 0; i < r->nentries; i++) {
        const struct rec_entry *e = &r->entries[i];
        const struct rec_stack *st = &r->stacks[e->stack];
        for (uint32_t k = 0; k < st->n; k++)
            varint(&ids, location_id(&t, r, r->pcs[st->first + k], &fr, &cap));
        if (st->n == 0)
            varint(&ids, owner_location(&t, &r->owners[e->owner]));
        field_bytes(&s, 1, ids.p, ids.n);
        ids.n = 0;
        sp->values(r, i, v, sp->arg);
        for (size_t k = 0; k < sp->ntypes; k++)
            varint(&ids, v[k]);
        field_bytes(&s, 2, ids.p, ids.n);
        ids.n = 0;
        owner_labels(&s, &t, r, &r->owners[e->owner]);
        field_msg(out, 2, &s);
    }
    free(v);
    bb_add(out, t.maps.p, t.maps.n);
    bb_add(out, t.locs.p, t.locs.n);
    bb_add(out, t.fns.p, t.fns.n);
    uint64_t comment_id = str_id(&t.str, sp->comment);
    uint64_t default_id = str_id(&t.str, sp->default_type);
    value_type(&ids, 11, &t, sp->period_type[0], sp->period_type[1]);   /* strings first */
    for (size_t i = 0; i < t.str.n; i++)
        field_bytes(out, 6, t.str.v[i], strlen(t.str.v[i]));
    field_u64(out, 9, (uint64_t)sp->time_ns);
    if (sp->duration_ns)
        field_u64(out, 10, (uint64_t)sp->duration_ns);
    bb_add(out, ids.p, ids.n);
    field_u64(out, 12, sp->period);
    field_u64(out, 13, comment_id);
    field_u64(out, 14, default_id);
    for (size_t i = 0; i < t.str.n; i++)
        free(t.str.v[i]);
    free(t.str.v);
    u64map_free(&t.str.index);
    u64map_free(&t.func_index);
    u64map_free(&t.loc_index);
    free(t.funcs);
    free(t.map_of_module);
    bb_free(&t.locs);
    bb_free(&t.fns);
    bb_free(&t.maps);
    bb_free(&s);
    bb_free(&ids);
    free(fr);
}

static int gzip_into(const struct bytebuf *in, struct bytebuf *out, struct fail *f)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fail_set(f, "zlib: cannot start compressing");
    uLong bound = deflateBound(&z, (uLong)in->n);
    xgrow(&out->p, &out->cap, out->n + bound + 1, 1);
    z.next_in = in->p ? in->p : (Bytef *)"";
    z.avail_in = (uInt)in->n;
    z.next_out = out->p + out->n;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    out->n += bound - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : fail_set(f, "zlib: compressing failed (%d)", rc);
}

int pprof_write_spec(struct recording *r, const struct pprof_spec *sp, struct bytebuf *out,
                     struct fail *f)
{
    struct bytebuf raw = {0};
    rec_symbolize(r);
    encode(r, sp, &raw);
    int rc = gzip_into(&raw, out, f);
    bb_free(&raw);
    return rc;
}

/* A recording's values: its samples and the CPU time they stand for. */
static void cpu_values(const struct recording *r, size_t i, uint64_t *v, void *arg)
{
    (void)arg;
    v[0] = r->entries[i].samples;
    v[1] = r->entries[i].ns;
}

int pprof_write(struct recording *r, struct bytebuf *out, struct fail *f)
{
    static const char *const types[][2] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
    char comment[4400];
    snprintf(comment, sizeof comment, "goinspect record %s (%s sampling at %u Hz)", r->target,
             rec_mode_names[r->mode], r->hz);
    struct pprof_spec sp = {types, 2, {"cpu", "nanoseconds"}, r->period_ns, "cpu", comment,
                            r->start_wall_ns, r->duration_ns, cpu_values, NULL};
    return pprof_write_spec(r, &sp, out, f);
}
