/*
 * debugprofiles.h — the debug endpoint's handlers of the profiles that
 * live outside debugserve.c (debugprofiles.c).
 */
#ifndef GORT_DEBUGPROFILES_H
#define GORT_DEBUGPROFILES_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime.h"
#include "httpd.h"

void debug_cpu_profile(const struct http_request *r, struct http_response *w);
void debug_block_profile(const struct http_request *r, struct http_response *w);
void debug_heap_profile(const struct http_request *r, struct http_response *w);
void debug_allocs_profile(const struct http_request *r, struct http_response *w);

/* The "#\t0xPC\tFUNC+0xOFF\tFILE:LINE" lines of one pc in Go's legacy text
 * profiles, one per inlined call (debugserve.c). */
void debug_text_frames(struct http_response *w, uintptr_t pc, bool exact);

/* The memory statistics under Go's MemStats names, for /debug/vars and
 * the heap profile's text (debugserve.c). */
enum { DEBUG_MEMSTAT_FIELDS = 17 };
struct memstat_field {
    const char *name;
    uint64_t v;
};
void debug_memstat_fields(const gort_memstats *ms, struct memstat_field *f);

#endif
