/*
 * profproto.c — the profile.proto encoder (profproto.h).
 *
 * The format is pprof's (github.com/google/pprof, proto/profile.proto):
 * a Profile message whose samples refer to locations by id, locations to
 * functions by id, and every string to an index in one string table
 * (index 0 the empty string).  Fields may come in any order, so samples,
 * locations and functions are encoded as they are added, each into a
 * buffer of its own, and pp_finish only concatenates them after the
 * header fields and the string table.  Interning (strings, one location
 * per distinct pc, one function per name and file) uses open-addressing
 * tables in mmap'd memory.
 */
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pcline.h"
#include "profproto.h"
#include "symtab.h"

/* ---- Buffers --------------------------------------------------------------- */

static void *map_bytes(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static size_t page_round(size_t n)
{
    size_t pg = 4096;
    return (n + pg - 1) & ~(pg - 1);
}

bool ppbuf_reserve(struct ppbuf *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->cap - b->len >= n)
        return true;
    size_t want = b->cap ? b->cap : 16384;
    while (want - b->len < n) {
        if (want > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        want *= 2;
    }
    want = page_round(want);
    void *p = b->data ? mremap(b->data, b->cap, want, MREMAP_MAYMOVE) : map_bytes(want);
    if (p == MAP_FAILED || p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = want;
    return true;
}

void ppbuf_put(struct ppbuf *b, const void *p, size_t n)
{
    if (n == 0 || !ppbuf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void ppbuf_putc(struct ppbuf *b, char c)
{
    ppbuf_put(b, &c, 1);
}

void ppbuf_puts(struct ppbuf *b, const char *s)
{
    ppbuf_put(b, s, strlen(s));
}

void ppbuf_free(struct ppbuf *b)
{
    if (b->data)
        munmap(b->data, b->cap);
    memset(b, 0, sizeof *b);
}

/* ---- Protocol buffer wire format ----------------------------------------------- */

enum { WT_VARINT = 0, WT_LEN = 2 };

static void put_varint(struct ppbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    ppbuf_put(b, tmp, (size_t)n);
}

static void put_tag(struct ppbuf *b, int field, int wt)
{
    put_varint(b, (uint64_t)field << 3 | (uint64_t)wt);
}

static void put_u64(struct ppbuf *b, int field, uint64_t v)
{
    put_tag(b, field, WT_VARINT);
    put_varint(b, v);
}

/* A field left out when zero (proto3's default). */
static void put_u64_opt(struct ppbuf *b, int field, uint64_t v)
{
    if (v)
        put_u64(b, field, v);
}

static void put_bytes(struct ppbuf *b, int field, const void *p, size_t n)
{
    put_tag(b, field, WT_LEN);
    put_varint(b, n);
    ppbuf_put(b, p, n);
}

/* ---- The builder ------------------------------------------------------------- */

/* A uint64 -> uint32 open-addressing table; key 0 marks an empty slot. */
struct u64map {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, n;
};

enum { MAX_TYPES = 8, MAX_MAPPINGS = 64, MAX_INLINE = 32 };

struct mapping {
    uintptr_t start, limit, offset;
    int64_t file;       /* string index */
};

struct pp_builder {
    struct ppbuf strbytes;      /* the strings, each followed by a NUL */
    struct ppbuf stroffs;       /* uint32 offset of string i, for comparisons */
    uint32_t nstr;
    struct u64map strmap;       /* hash -> string index (probing compares) */
    struct u64map locmap;       /* pc << 1 | exact -> location id */
    struct u64map funcmap;      /* name << 32 | file -> function id */
    uint32_t nloc, nfunc;
    struct ppbuf samples, locations, functions;
    struct ppbuf tmp, fbuf, line, lines, ids;   /* scratch */
    struct { int64_t type, unit; } types[MAX_TYPES];
    int ntypes;
    int64_t period_type, period_unit, period, default_type;
    int64_t time_nanos, duration_nanos;
    struct mapping maps[MAX_MAPPINGS];
    int nmaps;
    bool failed;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static bool map_init(struct u64map *m, size_t cap)
{
    m->keys = map_bytes(page_round(cap * sizeof *m->keys));
    m->vals = map_bytes(page_round(cap * sizeof *m->vals));
    m->cap = cap;
    m->n = 0;
    return m->keys && m->vals;
}

static void map_free(struct u64map *m)
{
    if (m->keys)
        munmap(m->keys, page_round(m->cap * sizeof *m->keys));
    if (m->vals)
        munmap(m->vals, page_round(m->cap * sizeof *m->vals));
}

static void map_put_slot(struct u64map *m, uint64_t key, uint32_t val)
{
    size_t i = mix(key) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->vals[i] = val;
}

/* Room for one more entry: grows at half full. */
static bool map_grow(struct u64map *m)
{
    if ((m->n + 1) * 2 <= m->cap)
        return true;
    struct u64map old = *m;
    if (!map_init(m, old.cap * 2)) {
        map_free(m);
        *m = old;
        return false;
    }
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            map_put_slot(m, old.keys[i], old.vals[i]);
    m->n = old.n;
    map_free(&old);
    return true;
}

/* The value for key (a plain-key table), 0 when absent. */
static uint32_t map_get(const struct u64map *m, uint64_t key)
{
    for (size_t i = mix(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key)
            return m->vals[i];
    return 0;
}

static const char *str_at(struct pp_builder *b, uint32_t id)
{
    uint32_t off;
    memcpy(&off, b->stroffs.data + (size_t)id * sizeof off, sizeof off);
    return (const char *)b->strbytes.data + off;
}

/* The string table index of s[0..len), added if new. */
static int64_t intern_n(struct pp_builder *b, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    h |= 1;
    struct u64map *m = &b->strmap;
    size_t i = mix(h) & (m->cap - 1);
    for (; m->keys[i]; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] != h)
            continue;
        const char *t = str_at(b, m->vals[i]);
        if (strncmp(t, s, len) == 0 && t[len] == 0)
            return m->vals[i];
    }
    if (!map_grow(m)) {
        b->failed = true;
        return 0;
    }
    uint32_t off = (uint32_t)b->strbytes.len, id = b->nstr++;
    ppbuf_put(&b->strbytes, s, len);
    ppbuf_putc(&b->strbytes, 0);
    ppbuf_put(&b->stroffs, &off, sizeof off);
    map_put_slot(m, h, id);
    m->n++;
    return id;
}

static int64_t intern(struct pp_builder *b, const char *s)
{
    return intern_n(b, s ? s : "", s ? strlen(s) : 0);
}

/* The executable segments of every loaded object, as pprof mappings. */
static int add_mappings(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct pp_builder *b = data;
    const char *name = info->dlpi_name;
    char exe[4096];
    if (!name || !name[0]) {
        if (b->nmaps > 0)
            return 0;   /* the vDSO and others without a name: no file to read */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        name = exe;
    }
    for (int i = 0; i < info->dlpi_phnum && b->nmaps < MAX_MAPPINGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        struct mapping *mp = &b->maps[b->nmaps++];
        mp->start = info->dlpi_addr + ph->p_vaddr;
        mp->limit = mp->start + ph->p_memsz;
        mp->offset = ph->p_offset;
        mp->file = intern(b, name);
    }
    return 0;
}

struct pp_builder *pp_new(void)
{
    struct pp_builder *b = map_bytes(page_round(sizeof *b));
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    if (!map_init(&b->strmap, 1024) || !map_init(&b->locmap, 1024) ||
        !map_init(&b->funcmap, 1024)) {
        struct ppbuf none = {0};
        pp_finish(b, &none);
        return NULL;
    }
    intern(b, "");
    dl_iterate_phdr(add_mappings, b);
    return b;
}

void pp_sample_type(struct pp_builder *b, const char *type, const char *unit)
{
    if (b->ntypes == MAX_TYPES) {
        b->failed = true;
        return;
    }
    b->types[b->ntypes].type = intern(b, type);
    b->types[b->ntypes].unit = intern(b, unit);
    b->ntypes++;
}

void pp_period(struct pp_builder *b, const char *type, const char *unit, int64_t period)
{
    b->period_type = intern(b, type);
    b->period_unit = intern(b, unit);
    b->period = period;
}

void pp_default_sample_type(struct pp_builder *b, const char *type)
{
    b->default_type = intern(b, type);
}

void pp_time(struct pp_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
    b->time_nanos = time_nanos;
    b->duration_nanos = duration_nanos;
}

/* The function id of (name, file), encoded the first time. */
static uint32_t function_id(struct pp_builder *b, int64_t name, int64_t file)
{
    uint64_t key = (uint64_t)name << 32 | (uint64_t)file;
    uint32_t id = map_get(&b->funcmap, key);
    if (id)
        return id;
    if (!map_grow(&b->funcmap)) {
        b->failed = true;
        return 0;
    }
    id = ++b->nfunc;
    map_put_slot(&b->funcmap, key, id);
    b->funcmap.n++;
    struct ppbuf *f = &b->fbuf;
    f->len = 0;
    put_u64(f, 1, id);
    put_u64_opt(f, 2, (uint64_t)name);
    put_u64_opt(f, 3, (uint64_t)name);
    put_u64_opt(f, 4, (uint64_t)file);
    put_bytes(&b->functions, 5, f->data, f->len);
    return id;
}

static void add_line(struct pp_builder *b, int64_t name, int64_t file, unsigned line)
{
    struct ppbuf *l = &b->line;
    l->len = 0;
    put_u64(l, 1, function_id(b, name, file));
    put_u64_opt(l, 2, line);
    put_bytes(&b->lines, 4, l->data, l->len);
}

/* The location id of pc, symbolized and encoded the first time. */
static uint32_t location_id(struct pp_builder *b, uintptr_t pc, bool exact)
{
    uint64_t key = (uint64_t)pc << 1 | exact;
    uint32_t id = map_get(&b->locmap, key);
    if (id)
        return id;
    if (!map_grow(&b->locmap)) {
        b->failed = true;
        return 0;
    }
    id = ++b->nloc;
    map_put_slot(&b->locmap, key, id);
    b->locmap.n++;

    uintptr_t at = exact ? pc : pc - 1;
    int mapping = 0;
    for (int i = 0; i < b->nmaps; i++)
        if (at >= b->maps[i].start && at < b->maps[i].limit)
            mapping = i + 1;
    b->lines.len = 0;
    struct pcline_frame fr[MAX_INLINE];
    int n = pcline_lookup(at, fr, MAX_INLINE);
    const char *name, *module;
    uintptr_t start, base;
    for (int i = 0; i < n; i++)
        add_line(b, intern(b, fr[i].function), intern(b, fr[i].file), fr[i].line);
    if (n <= 0 && symtab_lookup(at, &name, &start)) {
        int64_t file = symtab_module(at, &module, &base) ? intern(b, module) : 0;
        add_line(b, intern_n(b, name, (size_t)symtab_source_len(name)), file, 0);
    }
    b->tmp.len = 0;
    put_u64(&b->tmp, 1, id);
    put_u64_opt(&b->tmp, 2, (uint64_t)mapping);
    put_u64(&b->tmp, 3, at);
    ppbuf_put(&b->tmp, b->lines.data, b->lines.len);
    put_bytes(&b->locations, 4, b->tmp.data, b->tmp.len);
    return id;
}

void pp_add_sample(struct pp_builder *b, const uintptr_t *pcs, int npcs, bool leaf_exact,
                   const int64_t *values, const char *label_key, const char *label_str,
                   int64_t label_num)
{
    struct ppbuf *ids = &b->ids;
    ids->len = 0;
    for (int i = 0; i < npcs; i++)
        if (pcs[i]) {
            uint32_t loc = location_id(b, pcs[i], i == 0 && leaf_exact);
            put_varint(ids, loc);
        }
    int64_t key = label_key ? intern(b, label_key) : 0;
    int64_t str = label_key && label_str ? intern(b, label_str) : 0;
    b->tmp.len = 0;
    put_bytes(&b->tmp, 1, ids->data, ids->len);
    ids->len = 0;
    for (int i = 0; i < b->ntypes; i++)
        put_varint(ids, (uint64_t)values[i]);
    put_bytes(&b->tmp, 2, ids->data, ids->len);
    if (label_key) {
        ids->len = 0;
        put_u64(ids, 1, (uint64_t)key);
        if (label_str)
            put_u64(ids, 2, (uint64_t)str);
        else
            put_u64(ids, 3, (uint64_t)label_num);
        put_bytes(&b->tmp, 3, ids->data, ids->len);
    }
    put_bytes(&b->samples, 2, b->tmp.data, b->tmp.len);
}

static void put_value_type(struct pp_builder *b, struct ppbuf *out, int field, int64_t type,
                           int64_t unit)
{
    b->tmp.len = 0;
    put_u64_opt(&b->tmp, 1, (uint64_t)type);
    put_u64_opt(&b->tmp, 2, (uint64_t)unit);
    put_bytes(out, field, b->tmp.data, b->tmp.len);
}

int pp_finish(struct pp_builder *b, struct ppbuf *out)
{
    int rc = -1;
    if (b->failed || !b->strmap.keys || !b->locmap.keys || !b->funcmap.keys)
        goto done;
    for (int i = 0; i < b->ntypes; i++)
        put_value_type(b, out, 1, b->types[i].type, b->types[i].unit);
    ppbuf_put(out, b->samples.data, b->samples.len);
    for (int i = 0; i < b->nmaps; i++) {
        b->tmp.len = 0;
        put_u64(&b->tmp, 1, (uint64_t)i + 1);
        put_u64_opt(&b->tmp, 2, b->maps[i].start);
        put_u64_opt(&b->tmp, 3, b->maps[i].limit);
        put_u64_opt(&b->tmp, 4, b->maps[i].offset);
        put_u64_opt(&b->tmp, 5, (uint64_t)b->maps[i].file);
        for (int f = 7; f <= 10; f++)   /* has_functions .. has_inline_frames */
            put_u64(&b->tmp, f, 1);
        put_bytes(out, 3, b->tmp.data, b->tmp.len);
    }
    ppbuf_put(out, b->locations.data, b->locations.len);
    ppbuf_put(out, b->functions.data, b->functions.len);
    for (uint32_t i = 0; i < b->nstr; i++) {
        const char *s = str_at(b, i);
        put_bytes(out, 6, s, strlen(s));
    }
    put_u64_opt(out, 9, (uint64_t)b->time_nanos);
    put_u64_opt(out, 10, (uint64_t)b->duration_nanos);
    if (b->period_type || b->period_unit)
        put_value_type(b, out, 11, b->period_type, b->period_unit);
    put_u64_opt(out, 12, (uint64_t)b->period);
    put_u64_opt(out, 14, (uint64_t)b->default_type);
    struct ppbuf *all[] = {&b->strbytes, &b->stroffs, &b->samples, &b->locations, &b->functions,
                           &b->tmp, &b->fbuf, &b->line, &b->lines, &b->ids};
    rc = out->failed ? -1 : 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->failed)
            rc = -1;
done:
    ppbuf_free(&b->strbytes);
    ppbuf_free(&b->stroffs);
    ppbuf_free(&b->samples);
    ppbuf_free(&b->locations);
    ppbuf_free(&b->functions);
    ppbuf_free(&b->tmp);
    ppbuf_free(&b->fbuf);
    ppbuf_free(&b->line);
    ppbuf_free(&b->lines);
    ppbuf_free(&b->ids);
    map_free(&b->strmap);
    map_free(&b->locmap);
    map_free(&b->funcmap);
    munmap(b, page_round(sizeof *b));
    return rc;
}

int ppbuf_write_fd(const struct ppbuf *b, int fd)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}
