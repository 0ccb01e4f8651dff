/*
 * record_json.c — a recording as JSON (docs/json.md, "record"), written
 * with json.h's writer (its strings as every goinspect document has them):
 * the recording's figures, then every distinct (stack, owner) pair with its
 * counts, its owner and its symbolized frames, most samples first.
 */
#include <stdlib.h>

#include "json.h"
#include "recording.h"

static void owner(struct json *j, struct recording *r, const struct rec_owner *o)
{
    char created[512];
    json_obj(j);
    json_kstr(j, "kind", o->goroutine ? "goroutine" : "thread");
    if (o->goroutine) {
        json_ku64(j, "goroutine", o->goid);
        json_kstr(j, "status", o->status);
        json_kstr(j, "wait_reason", o->wait[0] ? o->wait : NULL);
        json_kstr(j, "created_by", rec_created_by(r, o, created, sizeof created) ? created
                                                                                   : NULL);
    }
    json_key(j, "tid");
    o->tid ? json_i64(j, o->tid) : json_null(j);
    json_kstr(j, "thread", o->tid ? o->thread : NULL);
    json_obj_end(j);
}

static void frame(struct json *j, struct recording *r, const struct rec_frame *f)
{
    const struct module *m = f->module != SYM_NO_MODULE ? &r->mods->v[f->module] : NULL;
    json_obj(j);
    json_kstr(j, "function", f->function);
    json_kstr(j, "file", f->file);
    json_ku64(j, "line", f->line);
    json_kbool(j, "inlined", f->inlined);
    json_kstr(j, "module", m ? m->path : NULL);
    json_key(j, "offset");
    m ? json_u64(j, module_offset(m, f->pc)) : json_null(j);
    json_ku64(j, "pc", f->pc);
    json_kbool(j, "exact", f->exact);
    json_obj_end(j);
}

static int cmp_entry(const void *a, const void *b)
{
    const struct rec_entry *x = a, *y = b;
    return (x->samples < y->samples) - (x->samples > y->samples);
}

static void figures(struct json *j, const struct recording *r)
{
    json_ki64(j, "pid", r->pid);
    json_kstr(j, "target", r->target);
    json_kstr(j, "mode", rec_mode_names[r->mode]);
    json_ku64(j, "hz", r->hz);
    json_ku64(j, "period_ns", r->period_ns);
    json_kbool(j, "idle", r->idle);
    json_ki64(j, "start_time_ns", r->start_wall_ns);
    json_ki64(j, "duration_ns", r->duration_ns);
    json_kbool(j, "truncated", r->truncated);
    json_ku64(j, "samples", r->samples);
    json_ku64(j, "cpu_samples", r->cpu_samples);
    json_ku64(j, "lost", r->lost);
    json_ku64(j, "cut_stacks", r->cut);
}

void record_json_write(struct recording *r, struct out *o)
{
    struct json j;
    struct rec_frame *fr = NULL;
    size_t cap = 0;
    rec_symbolize(r);
    qsort(r->entries, r->nentries, sizeof *r->entries, cmp_entry);
    u64map_free(&r->entry_index);       /* the order changed: no more rec_add */
    u64map_init(&r->entry_index);
    json_init(&j, o);
    json_obj(&j);
    figures(&j, r);
    json_key(&j, "stacks");
    json_arr(&j);
    for (size_t i = 0; i < r->nentries; i++) {
        const struct rec_entry *e = &r->entries[i];
        json_obj(&j);
        json_ku64(&j, "samples", e->samples);
        json_ku64(&j, "ns", e->ns);
        json_key(&j, "owner");
        owner(&j, r, &r->owners[e->owner]);
        json_key(&j, "frames");
        json_arr(&j);
        size_t n = rec_frames(r, e->stack, &fr, &cap);
        for (size_t k = 0; k < n; k++)
            frame(&j, r, &fr[k]);
        json_arr_end(&j);
        json_obj_end(&j);
    }
    json_arr_end(&j);
    json_obj_end(&j);
    json_end(&j);
    free(fr);
}
