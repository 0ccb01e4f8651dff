/*
 * hview.h — how heap spans are shown, shared by the spans, heap, ptr and
 * maps commands: a span in words, its JSON object, and the list of the
 * bad span records.
 */
#ifndef GOINSPECT_HVIEW_H
#define GOINSPECT_HVIEW_H

#include <stddef.h>

#include "heapsnap.h"
#include "session.h"

/* What the span holds: "size class 5 (48 bytes, noscan): 120 of 170
 * objects", "a large object (96K)", "the stack of goroutine 7", "free for
 * 3s", "released to the OS". */
void hview_span_what(struct session *ss, const struct hspan *sp, char *buf, size_t len);
/* Its flags, space-separated: "noscan needzero cached-by-P0 unswept". */
void hview_span_flags(struct session *ss, const struct hspan *sp, char *buf, size_t len);
/* The span object of docs/json.md. */
void hview_span_json(struct session *ss, struct json *j, const struct hspan *sp);
/* Writes key "error": what is wrong with pages of no valid span, or null
 * (pages NULL). */
void hview_run_problem_json(struct session *ss, struct json *j, const struct hrun *pages);
/* The bad span records, one "error: ..." line each (text), or as a JSON
 * array of strings under key "errors".  (Problems with the heap as a whole,
 * such as an arena that cannot be read, are the snapshot's warnings.) */
void hview_problems_text(struct session *ss);
void hview_problems_json(struct session *ss, struct json *j);

#endif
