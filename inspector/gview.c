/*
 * gview.c — showing a goroutine (gview.h).
 *
 *   Goroutine 17 - User: leaf /src/prog.c:23 - Current: park /src/runtime/sched.c:170 -
 *     Created by: main_fn /src/prog.c:40 in goroutine 1 [chan receive 2s]
 *
 * (one line).  Frames are numbered from the innermost, Delve's way:
 *
 *   0  0x000055d0c1a0b2c4 in park
 *       at /src/runtime/sched.c:170
 */
#include "gview.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textfmt.h"

static bool is_status(const struct snapshot *s, const struct snap_g *g, int st)
{
    (void)s;
    return st >= 0 && (int)g->status == st;
}

static const struct target_thread *g_thread(struct session *ss, const struct snap_g *g)
{
    if (g->thread >= 0)
        return &ss->t->threads[g->thread];
    const struct snap_m *m = g->m ? snap_m_at(&ss->s, g->m) : NULL;
    return m && m->thread >= 0 ? &ss->t->threads[m->thread] : NULL;
}

void gview_state(struct session *ss, const struct snap_g *g, struct out *o)
{
    const struct snapshot *s = &ss->s;
    const char *reason = snap_waitreason_name(s, g->waitreason);
    if (is_status(s, g, s->st_waiting) && reason[0]) {
        out_str(o, reason);
        if (g->waitsince > 0) {
            out_char(o, ' ');
            out_duration(o, s->taken_ns - g->waitsince);
        }
    } else {
        out_str(o, snap_status_name(s, g->status));
    }
    if (is_status(s, g, s->st_running) || is_status(s, g, s->st_syscall)) {
        const struct target_thread *th = g_thread(ss, g);
        if (th) {
            out_str(o, ", thread ");
            out_u64(o, (uint64_t)th->tid);
        }
    }
    if (g->lockedm)
        out_str(o, ", locked to thread");
}

/* Cache keys of the formatted parts of a line. */
#define KEY_FRAMES (1ull << 60)         /* | stack: "User: ... - Current: ..." */
#define KEY_CREATED (2ull << 60)        /* | gopc: "Created by: function file:line" */
#define KEY_STACK (3ull << 60)          /* | depth << 32 | stack: the frames */

static const char *frames_text(struct session *ss, uint32_t stack, bool running)
{
    struct model *m = &ss->m;
    uint64_t key = KEY_FRAMES | stack;
    const char *t = stack != NO_STACK ? model_string(m, key) : NULL;
    if (t)
        return t;
    struct xframe top, user;
    char a[1024], b[1024], line[2100];
    if (model_top_user(m, stack, &top, &user)) {
        xframe_format(m, &user, a, sizeof a);
        xframe_format(m, &top, b, sizeof b);
        snprintf(line, sizeof line, "User: %s - Current: %s", a, b);
    } else {
        snprintf(line, sizeof line, "User: ? - Current: %s",
                 running && ss->s.nonstop ? "? (running: no registers with --nonstop)"
                                          : "? (no stack)");
    }
    if (stack == NO_STACK)      /* not cached: it depends on the goroutine */
        return model_keep_string(m, KEY_FRAMES | (running ? 0xfffffffeull : 0xfffffffdull),
                                 line);
    return model_keep_string(m, key, line);
}

static const char *created_text(struct session *ss, const struct snap_g *g)
{
    struct model *m = &ss->m;
    struct xframe cr;
    if (!model_created_by(m, g, &cr))
        return NULL;
    uint64_t key = KEY_CREATED | g->gopc;
    const char *t = model_string(m, key);
    if (t)
        return t;
    char f[1024];
    xframe_format(m, &cr, f, sizeof f);
    return model_keep_string(m, key, f);
}

void gview_line(struct session *ss, uint32_t gi)
{
    const struct snap_g *g = &ss->s.gs[gi];
    struct out *o = &ss->out;
    if (!g->readable) {
        out_str(o, "  Goroutine ? - error: ");
        out_str(o, g->error ? g->error : "unreadable");
        out_char(o, '\n');
        return;
    }
    bool running = is_status(&ss->s, g, ss->s.st_running);
    out_str(o, running ? "* Goroutine " : "  Goroutine ");
    out_u64(o, g->goid);
    if (g->error) {
        out_str(o, " - error: ");
        out_str(o, g->error);
    } else {
        out_str(o, " - ");
        out_str(o, frames_text(ss, ss->m.g_stack[gi], running));
        out_str(o, " - Created by: ");
        const char *cr = created_text(ss, g);
        if (cr) {
            out_str(o, cr);
            out_str(o, " in goroutine ");
            out_u64(o, g->parentgoid);
        } else {
            out_char(o, '-');
        }
        const char *bad = gview_stack_error(ss, ss->m.g_stack[gi]);
        if (bad) {
            out_str(o, " - error: stack walk stopped: ");
            out_str(o, bad);
        }
    }
    out_str(o, " [");
    gview_state(ss, g, o);
    out_str(o, "]\n");
}

const char *gview_stack_error(struct session *ss, uint32_t stack)
{
    if (stack == NO_STACK)
        return NULL;
    int stop = ss->m.stacks[stack].stop;
    return stop == UNWIND_END || stop == UNWIND_ZERO ? NULL : unwind_stop_names[stop];
}

/* The text of a stack, rendered once per (stack, depth). */
static const char *stack_text(struct session *ss, uint32_t stack, long depth)
{
    uint64_t key = KEY_STACK | ((uint64_t)(depth + 1) & 0xfffffff) << 32 | stack;
    const char *t = model_string(&ss->m, key);
    if (t)
        return t;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return "";
    struct xframe *fr = NULL;
    size_t cap = 0, n = model_frames(&ss->m, stack, &fr, &cap);
    size_t shown = depth >= 0 && (size_t)depth < n ? (size_t)depth : n;
    for (size_t i = 0; i < shown; i++) {
        const struct xframe *x = &fr[i];
        /* gdb's "#3  <signal handler called>": no "in" */
        fprintf(f, "    %2zu  0x%016" PRIx64 " %s%s%s\n", i, x->pc, x->signal ? "" : "in ",
                x->sym.function ? x->sym.function : "??", x->sym.inlined ? " (inlined)" : "");
        if (x->sym.file) {
            fprintf(f, "            at %s:%" PRIu32 "\n", x->sym.file, x->sym.line);
        } else {
            char loc[512];
            xframe_format(&ss->m, x, loc, sizeof loc);
            const char *paren = strchr(loc, '(');
            fprintf(f, "            at %s\n", paren ? paren : loc);
        }
    }
    if (shown < n)
        fprintf(f, "        ...(%zu more frames)\n", n - shown);
    const char *end = gview_stack_error(ss, stack);
    if (end && shown == n)
        fprintf(f, "        (stack walk stopped after 0x%016" PRIx64 ": %s)\n",
                n ? fr[n - 1].pc : 0, end);
    free(fr);
    fclose(f);
    t = model_keep_string(&ss->m, key, buf);
    free(buf);
    return t;
}

void gview_stack(struct session *ss, uint32_t stack, long depth)
{
    if (stack != NO_STACK)
        out_str(&ss->out, stack_text(ss, stack, depth));
}

void gview_json_frames(struct session *ss, struct json *j, uint32_t stack, long depth)
{
    struct xframe *fr = NULL;
    size_t cap = 0, n = model_frames(&ss->m, stack, &fr, &cap);
    size_t shown = depth >= 0 && (size_t)depth < n ? (size_t)depth : n;
    json_arr(j);
    for (size_t i = 0; i < shown; i++)
        json_frame(ss, j, &fr[i], true);
    json_arr_end(j);
    free(fr);
}

void gview_json(struct session *ss, struct json *j, uint32_t gi, long depth)
{
    struct model *m = &ss->m;
    const struct snap_g *g = &ss->s.gs[gi];
    const struct snapshot *s = &ss->s;
    json_obj(j);
    if (!g->readable) {
        json_key(j, "id");
        json_null(j);
        json_ku64(j, "g", g->addr);
        json_kstr(j, "error", g->error);
        json_obj_end(j);
        return;
    }
    json_ku64(j, "id", g->goid);
    json_ku64(j, "g", g->addr);
    json_kstr(j, "status", snap_status_name(s, g->status));
    bool waiting = is_status(s, g, s->st_waiting);
    json_kstr(j, "wait_reason", waiting ? snap_waitreason_name(s, g->waitreason) : "");
    json_key(j, "wait_ns");
    if (waiting && g->waitsince > 0)
        json_i64(j, s->taken_ns - g->waitsince);
    else
        json_null(j);
    const struct target_thread *th = g_thread(ss, g);
    json_key(j, "thread");
    if (th && (is_status(s, g, s->st_running) || is_status(s, g, s->st_syscall)))
        json_i64(j, th->tid);
    else
        json_null(j);
    json_kbool(j, "locked", g->lockedm != 0);
    json_kbool(j, "system", g->system);
    json_ku64(j, "stack_lo", g->stacklo);
    json_ku64(j, "stack_hi", g->stackhi);
    uint32_t stack = m->g_stack[gi];
    struct xframe top, user, cr;
    bool have = !g->error && model_top_user(m, stack, &top, &user);
    json_key(j, "current");
    if (have)
        json_frame(ss, j, &top, false);
    else
        json_null(j);
    json_key(j, "user");
    if (have)
        json_frame(ss, j, &user, false);
    else
        json_null(j);
    json_key(j, "created_by");
    if (model_created_by(m, g, &cr)) {
        json_obj(j);
        json_frame_members(ss, j, &cr, false);
        json_ku64(j, "goroutine", g->parentgoid);
        json_obj_end(j);
    } else {
        json_null(j);
    }
    json_kstr(j, "error", g->error);
    json_kstr(j, "stack_error", g->error ? NULL : gview_stack_error(ss, stack));
    if (depth != 0) {
        json_key(j, "frames");
        if (g->error)
            gview_json_frames(ss, j, NO_STACK, depth);
        else
            gview_json_frames(ss, j, stack, depth);
    }
    json_obj_end(j);
}
