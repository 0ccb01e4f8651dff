/*
 * record_json.c — a recording as JSON (docs/json.md, "record"): the
 * recording's figures, then every distinct (stack, owner) pair with its
 * counts, its owner and its symbolized frames, most samples first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "recording.h"

static void jstr(struct bytebuf *b, const char *s)
{
    if (!s) {
        bb_str(b, "null");
        return;
    }
    bb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            bb_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            bb_printf(b, "\\u%04x", *p);
        else
            bb_add(b, p, 1);
    }
    bb_add(b, "\"", 1);
}

static void owner(struct bytebuf *b, struct recording *r, const struct rec_owner *o)
{
    char created[512];
    bb_printf(b, "{\"kind\": \"%s\"", o->goroutine ? "goroutine" : "thread");
    if (o->goroutine) {
        bb_printf(b, ", \"goroutine\": %llu, \"status\": ", (unsigned long long)o->goid);
        jstr(b, o->status);
        bb_str(b, ", \"wait_reason\": ");
        jstr(b, o->wait[0] ? o->wait : NULL);
        bb_str(b, ", \"created_by\": ");
        jstr(b, rec_created_by(r, o, created, sizeof created) ? created : NULL);
    }
    bb_str(b, ", \"tid\": ");
    o->tid ? bb_printf(b, "%d", (int)o->tid) : bb_str(b, "null");
    bb_str(b, ", \"thread\": ");
    jstr(b, o->tid ? o->thread : NULL);
    bb_str(b, "}");
}

static void frame(struct bytebuf *b, struct recording *r, const struct rec_frame *f)
{
    bb_str(b, "{\"function\": ");
    jstr(b, f->function);
    bb_str(b, ", \"file\": ");
    jstr(b, f->file);
    bb_printf(b, ", \"line\": %u, \"inlined\": %s, \"module\": ", f->line,
              f->inlined ? "true" : "false");
    const struct module *m = f->module != SYM_NO_MODULE ? &r->mods->v[f->module] : NULL;
    jstr(b, m ? m->path : NULL);
    bb_str(b, ", \"offset\": ");
    m ? bb_printf(b, "%llu", (unsigned long long)module_offset(m, f->pc)) : bb_str(b, "null");
    bb_printf(b, ", \"pc\": %llu, \"exact\": %s}", (unsigned long long)f->pc,
              f->exact ? "true" : "false");
}

static int cmp_entry(const void *a, const void *b)
{
    const struct rec_entry *x = a, *y = b;
    return (x->samples < y->samples) - (x->samples > y->samples);
}

void record_json_write(struct recording *r, struct bytebuf *b)
{
    rec_symbolize(r);
    qsort(r->entries, r->nentries, sizeof *r->entries, cmp_entry);
    u64map_free(&r->entry_index);       /* the order changed: no more rec_add */
    u64map_init(&r->entry_index);
    bb_printf(b, "{\"pid\": %d, \"target\": ", (int)r->pid);
    jstr(b, r->target);
    bb_printf(b, ", \"mode\": \"%s\", \"hz\": %u, \"period_ns\": %llu, \"idle\": %s, "
                 "\"start_time_ns\": %lld, \"duration_ns\": %lld, \"truncated\": %s, "
                 "\"samples\": %llu, \"cpu_samples\": %llu, \"lost\": %llu, "
                 "\"cut_stacks\": %llu,\n \"stacks\": [",
              rec_mode_names[r->mode], r->hz, (unsigned long long)r->period_ns,
              r->idle ? "true" : "false", (long long)r->start_wall_ns,
              (long long)r->duration_ns, r->truncated ? "true" : "false",
              (unsigned long long)r->samples, (unsigned long long)r->cpu_samples,
              (unsigned long long)r->lost, (unsigned long long)r->cut);
    struct rec_frame *fr = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < r->nentries; i++) {
        const struct rec_entry *e = &r->entries[i];
        bb_printf(b, "%s\n  {\"samples\": %llu, \"ns\": %llu, \"owner\": ", i ? "," : "",
                  (unsigned long long)e->samples, (unsigned long long)e->ns);
        owner(b, r, &r->owners[e->owner]);
        bb_str(b, ",\n   \"frames\": [");
        size_t n = rec_frames(r, e->stack, &fr, &cap);
        for (size_t k = 0; k < n; k++) {
            bb_str(b, k ? ",\n    " : "\n    ");
            frame(b, r, &fr[k]);
        }
        bb_str(b, "]}");
    }
    bb_str(b, "\n]}\n");
    free(fr);
}
