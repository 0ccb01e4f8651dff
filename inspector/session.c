/*
 * session.c — opening a target, finding its runtime, taking snapshots
 * (session.h), and what the subcommands share.
 */
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "heapsnap.h"
#include "textfmt.h"
#include "trace.h"
#include "vdso.h"

/* Finds the descriptor's symbol: in the executable, else in a shared object
 * of the program's own (libgort may be linked into one). */
static int find_descriptor(struct session *ss, uint64_t *addr, uint64_t *bias, struct fail *f)
{
    struct modules *ms = &ss->mods;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < ms->n; i++) {
            struct module *m = &ms->v[i];
            if ((pass == 0) != m->is_exe || m->system)
                continue;
            gd_binary *b = module_binary(ms, m);
            if (!b) {
                if (m->is_exe)
                    return fail_set(f, "%s: %s", ss->t->what,
                                    m->error ? m->error : "its executable cannot be opened");
                continue;
            }
            const struct gd_symbol *s = gd_symbol_by_name(b, RTDESC_SYMBOL);
            if (s && s->value) {
                *addr = s->value + m->bias;
                *bias = m->bias;
                return 0;
            }
        }
    return fail_set(f, "%s does not link libgort: no runtime descriptor", ss->t->what);
}

static int snapshot_and_model(struct session *ss, struct fail *f)
{
    /* Unless the stacks are kept, the parked goroutines' stacks are unwound
     * as the pre-copy reads them, and their copies dropped at once. */
    model_init(&ss->m, &ss->mods);
    struct snap_options so = ss->so;
    if (!ss->keep_stacks) {
        so.pre_unwind = model_unwind_parked;
        so.pre_unwind_arg = &ss->m;
    }
    if (snapshot_take(&ss->s, ss->t, &ss->d, &so, f) < 0) {
        model_free(&ss->m);
        return -1;
    }
    struct modules prev = ss->mods;
    modules_build(&ss->mods, ss->t, &prev, ss->open_opts);
    vdso_add(&ss->mods, ss->t);
    model_build(&ss->m, &ss->s);
    trace_mark("unwind");
    if (!ss->keep_stacks)
        snapshot_drop_stacks(&ss->s);
    ss->have_snapshot = true;
    return 0;
}

/* A failure to read the process, explained by its exit or execve when
 * either happened meanwhile. */
static int read_failed(struct session *ss, struct fail *f)
{
    target_changed(ss->t, f);
    return -1;
}

int session_open(struct session *ss, struct target *t, const struct snap_options *so,
                 bool keep_stacks, struct fail *f)
{
    ss->so = *so;
    ss->keep_stacks = keep_stacks;
    ss->t = t;
    modules_build(&ss->mods, ss->t, NULL, ss->open_opts);
    uint64_t addr = 0, bias = 0;
    if (ss->mods.n == 0)        /* says itself what read_failed would find */
        return fail_set(f, "%s has no file mapped, not even its executable (it may be "
                           "between two programs in execve, or exiting)", ss->t->what);
    if (find_descriptor(ss, &addr, &bias, f) < 0)
        return read_failed(ss, f);
    trace_mark("open, find the descriptor");
    if (rtdesc_read(ss->t, addr, &ss->d, f) < 0) {
        if (rtdesc_unrelocated(ss->t, addr, bias))
            fail_set(f, "%s is still starting: its dynamic loader has not relocated the "
                        "runtime descriptor yet; attach again", ss->t->what);
        else
            fail_wrap(f, "%s", ss->t->what);
        return read_failed(ss, f);
    }
    ss->have_desc = true;
    const struct rt_root *lo_ = rtdesc_root(&ss->d, "text_start");
    const struct rt_root *hi_ = rtdesc_root(&ss->d, "text_end");
    if (lo_ && hi_ && lo_->addr < hi_->addr) {
        ss->mods.rt_text_lo = lo_->addr;
        ss->mods.rt_text_hi = hi_->addr;
    }
    return snapshot_and_model(ss, f) < 0 ? read_failed(ss, f) : 0;
}

int session_refresh(struct session *ss, struct fail *f)
{
    if (ss->have_snapshot) {
        model_free(&ss->m);
        snapshot_free(&ss->s);
        ss->have_snapshot = false;
    }
    return snapshot_and_model(ss, f) < 0 ? read_failed(ss, f) : 0;
}

void session_close(struct session *ss)
{
    if (ss->have_snapshot) {
        model_free(&ss->m);
        snapshot_free(&ss->s);
    }
    modules_free(&ss->mods);
    if (ss->have_desc)
        rtdesc_free(&ss->d);
    if (ss->t)
        target_close(ss->t);
    ss->t = NULL;
    ss->have_snapshot = ss->have_desc = false;
}

/* ---- Shared by the subcommands ------------------------------------------------- */

void session_notes(struct session *ss)
{
    const struct snapshot *s = &ss->s;
    out_flush(&ss->out);
    for (size_t i = 0; i < s->nwarnings; i++)
        fprintf(stderr, "goinspect: warning: %s\n", s->warnings[i]);
    if (s->nonstop)
        fprintf(stderr, "goinspect: note: --nonstop: PID %d was read while it ran; goroutines "
                        "may have moved while being read%s\n", (int)ss->t->pid,
                s->inconsistent ? ", and the goroutine table changed during every read: it may "
                                  "be inconsistent" : "");
    if (s->heap && s->heap->changing)
        fprintf(stderr, "goinspect: note: %s\n",
                s->nonstop ? "--nonstop: the heap's span table changed during every read: it "
                             "may be inconsistent"
                           : "the process stopped while its heap's span table was changing: "
                             "the span being changed may show as an error");
}

const struct heapsnap *session_heap(struct session *ss, const char *cmd)
{
    const struct heapsnap *h = ss->s.heap;
    if (h && h->described)
        return h;
    if (h && rtdesc_root(&ss->d, "mheap")) {
        session_notes(ss);      /* the warnings say why */
        die_msg("%s: %s: its heap cannot be read", cmd, ss->t->what);
        return NULL;
    }
    die_msg("%s: %s: its runtime does not describe its heap (descriptor version %u)",
            cmd, ss->t->what, ss->d.version);
    return NULL;
}

void session_pause_text(struct session *ss, char *buf, size_t len)
{
    char p[32];
    fmt_pause(ss->s.pause_ns, p, sizeof p);
    if (ss->t->frozen)
        snprintf(buf, len, "read from the core");
    else
        snprintf(buf, len, "target paused %s", ss->s.nonstop ? "0 (--nonstop)" : p);
}

void session_json_common(struct session *ss, struct json *j)
{
    const struct snapshot *s = &ss->s;
    json_kstr(j, "target", ss->t->ops->kind);
    json_kstr(j, "core", ss->t->frozen ? ss->t->core_path : NULL);
    json_ki64(j, "pid", ss->t->pid);
    json_ku64(j, "pause_ns", s->pause_ns);
    json_kbool(j, "nonstop", s->nonstop);
    json_kbool(j, "inconsistent", s->inconsistent);
    json_kbool(j, "heap_inconsistent", s->heap && s->heap->changing);
    json_key(j, "warnings");
    json_arr(j);
    for (size_t i = 0; i < s->nwarnings; i++)
        json_str(j, s->warnings[i]);
    json_arr_end(j);
}

void json_frame_members(struct session *ss, struct json *j, const struct xframe *f, bool with_pc)
{
    json_kstr(j, "function", f->sym.function);
    json_kstr(j, "file", f->sym.file);
    json_ku64(j, "line", f->sym.line);
    const struct module *m = f->sym.module != SYM_NO_MODULE ? &ss->mods.v[f->sym.module] : NULL;
    json_kstr(j, "module", m ? m->path : NULL);
    json_key(j, "offset");
    m ? json_u64(j, module_offset(m, f->pc)) : json_null(j);
    if (with_pc) {
        json_ku64(j, "pc", f->pc);
        json_kbool(j, "exact", f->exact);
        json_kbool(j, "inlined", f->sym.inlined);
        json_kbool(j, "signal", f->signal);
    }
}

void json_frame(struct session *ss, struct json *j, const struct xframe *f, bool with_pc)
{
    json_obj(j);
    json_frame_members(ss, j, f, with_pc);
    json_obj_end(j);
}

bool parse_count(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0)
        return false;
    *out = v;
    return true;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    die_msg("%s: %s", cmd, buf);
    return -1;
}

int parse_plain(int argc, char **argv, void **out)
{
    struct subopts *o = xcalloc(1, sizeof *o);
    if (parse_flags(argv[0], argc, argv, NULL, NULL, o) < 0) {
        free(o);
        return -1;
    }
    *out = o;
    return 0;
}

int parse_flags(const char *cmd, int argc, char **argv, const char *const *flags, bool *values,
                struct subopts *common)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            common->json = true;
            continue;
        }
        int k = 0;
        while (flags && flags[k] && strcmp(flags[k], argv[i]) != 0)
            k++;
        if (!flags || !flags[k])
            return usage_error(cmd, "unknown argument '%s' (see goinspect help attach)", argv[i]);
        values[k] = true;
    }
    return 0;
}
