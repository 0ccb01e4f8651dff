/*
 * debugprofiles.h — the debug endpoint's handlers of the profiles that
 * live outside debugserve.c (debugprofiles.c).
 */
#ifndef GORT_DEBUGPROFILES_H
#define GORT_DEBUGPROFILES_H

#include "httpd.h"

void debug_cpu_profile(const struct http_request *r, struct http_response *w);
void debug_block_profile(const struct http_request *r, struct http_response *w);

#endif
