/*
 * hview.c — how heap spans are shown (hview.h).
 */
#include "hview.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "textfmt.h"

static const char *const sweep_names[3] = {"unswept", "swept", "being swept"};

void hview_span_what(struct session *ss, const struct hspan *sp, char *buf, size_t len)
{
    const struct heapsnap *h = ss->s.heap;
    int st = sp->state;
    char sz[24];
    fmt_size(hspan_bytes(h, sp), sz, sizeof sz);
    if (hspan_large(h, sp)) {
        snprintf(buf, len, "a large object (%s)", sz);
    } else if (st == h->st_inuse) {
        snprintf(buf, len, "size class %u (%" PRIu32 " bytes): %" PRIu32 " of %" PRIu32
                 " objects", sp->sizeclass, sp->elemsize, sp->alloccount, sp->nelems);
    } else if (st == h->st_stack && sp->owner) {
        snprintf(buf, len, "the stack of goroutine %" PRIu64, sp->owner);
    } else if (st == h->st_stack) {
        snprintf(buf, len, "a goroutine stack, unused (cached for reuse)");
    } else if (st == h->st_free && sp->freed_at > 0 && ss->s.taken_ns > sp->freed_at) {
        char d[24];
        fmt_duration(ss->s.taken_ns - sp->freed_at, d, sizeof d);
        snprintf(buf, len, "free for %s", d);
    } else if (st == h->st_free) {
        snprintf(buf, len, "free");
    } else if (st == h->st_released) {
        snprintf(buf, len, "released to the OS");
    } else {
        snprintf(buf, len, "state %s", hspan_state_name(&ss->s, sp));
    }
}

void hview_span_flags(struct session *ss, const struct hspan *sp, char *buf, size_t len)
{
    const struct heapsnap *h = ss->s.heap;
    buf[0] = 0;
    if ((int)sp->state != h->st_inuse)
        return;
    if (sp->noscan)
        str_append(buf, len, " noscan");
    if (sp->needzero)
        str_append(buf, len, " needzero");
    if (sp->cached_by >= 0)
        str_append(buf, len, " cached-by-P%d", (int)sp->cached_by);
    int sw = hspan_sweep_state(h, sp);
    if (sw != 1)
        str_append(buf, len, " %s", sw ? "being-swept" : "unswept");
    int64_t set = hspan_bits_set(h, sp);
    if (set >= 0 && set != sp->alloccount)
        str_append(buf, len, " bitmap-has-%" PRId64, set);
    if (buf[0])     /* drop the leading space */
        memmove(buf, buf + 1, strlen(buf));
}

void hview_span_json(struct session *ss, struct json *j, const struct hspan *sp)
{
    const struct heapsnap *h = ss->s.heap;
    json_obj(j);
    json_ku64(j, "record", sp->addr);
    json_ku64(j, "index", sp->index);
    json_ku64(j, "base", sp->base);
    json_ku64(j, "end", sp->error ? sp->base : sp->base + hspan_bytes(h, sp));
    json_ku64(j, "npages", sp->npages);
    json_kstr(j, "state", hspan_state_name(&ss->s, sp));
    bool objects = (int)sp->state == h->st_inuse;
    json_key(j, "sizeclass");
    objects ? json_u64(j, sp->sizeclass) : json_null(j);
    json_key(j, "elemsize");
    objects ? json_u64(j, sp->elemsize) : json_null(j);
    json_kbool(j, "large", !sp->error && hspan_large(h, sp));
    json_kbool(j, "noscan", sp->noscan != 0);
    json_ku64(j, "nelems", sp->nelems);
    json_ku64(j, "alloccount", sp->alloccount);
    json_ku64(j, "freeindex", sp->freeindex);
    json_kbool(j, "needzero", sp->needzero != 0);
    json_kbool(j, "incache", sp->incache != 0);
    json_key(j, "cached_by");
    sp->cached_by >= 0 ? json_i64(j, sp->cached_by) : json_null(j);
    json_kstr(j, "sweep", objects ? sweep_names[hspan_sweep_state(h, sp)] : NULL);
    json_key(j, "allocated_bits");
    int64_t set = hspan_bits_set(h, sp);
    set >= 0 ? json_i64(j, set) : json_null(j);
    json_key(j, "goroutine");
    (int)sp->state == h->st_stack && sp->owner ? json_u64(j, sp->owner) : json_null(j);
    json_key(j, "freed_at");
    (int)sp->state == h->st_free && sp->freed_at > 0 ? json_i64(j, sp->freed_at)
                                                      : json_null(j);
    json_kstr(j, "error", hspan_error(h, sp));
    json_obj_end(j);
}

void hview_problems_text(struct session *ss)
{
    const struct heapsnap *h = ss->s.heap;
    for (size_t i = 0; i < h->nerrors; i++)
        outf(&ss->out, "error: %s\n", h->errors[i]);
}

void hview_problems_json(struct session *ss, struct json *j)
{
    const struct heapsnap *h = ss->s.heap;
    json_key(j, "errors");
    json_arr(j);
    for (size_t i = 0; i < h->nerrors; i++)
        json_str(j, h->errors[i]);
    json_arr_end(j);
}

void hview_run_problem_json(struct session *ss, struct json *j, const struct hrun *pages)
{
    json_key(j, "error");
    if (!pages) {
        json_null(j);
        return;
    }
    char why[400];
    heapsnap_run_problem(ss->s.heap, pages, why, sizeof why);
    json_str(j, why);
}
