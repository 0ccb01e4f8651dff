/*
 * gview.h — how a goroutine is shown, shared by the goroutines, goroutine
 * and summary commands: the one-line form (Delve's), the stack, and the
 * JSON object.
 */
#ifndef GOINSPECT_GVIEW_H
#define GOINSPECT_GVIEW_H

#include <stdint.h>

#include "session.h"

/* "chan receive 2s", "running, thread 42", "syscall", with ", locked to
 * thread". */
void gview_state(struct session *ss, const struct snap_g *g, struct out *o);
/* One line: id, user, current and creation frames, state. */
void gview_line(struct session *ss, uint32_t gi);
/* The frames of a stack, Delve's -t form, at most depth (< 0: all). */
void gview_stack(struct session *ss, uint32_t stack, long depth);
/* Why a walk ended early, or NULL when it reached the stack's end. */
const char *gview_stack_error(struct session *ss, uint32_t stack);
/* The JSON object of goroutine gi; frames when depth != 0 (< 0: all). */
void gview_json(struct session *ss, struct json *j, uint32_t gi, long depth);
/* Frames of a stack as a JSON array (at most depth, < 0: all). */
void gview_json_frames(struct session *ss, struct json *j, uint32_t stack, long depth);

#endif
