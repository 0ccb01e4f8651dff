/*
 * httpd.h — the small HTTP/1.1 server under gort_debug_serve: requests
 * parsed from a bounded buffer, one response per connection.
 */
#ifndef GORT_HTTPD_H
#define GORT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "profproto.h"

enum {
    HTTP_MAX_REQUEST = 8192,     /* request line and headers, bytes */
    HTTP_MAX_CONNS = 64,         /* connections served at once; more are accepted and closed */
};

struct http_request {
    const char *method;
    const char *path;           /* percent-decoded, without the query */
    const char *query;          /* after '?', undecoded; "" if none */
};

/* The decoded value of key in the query into buf (cut to len - 1 bytes);
 * NULL when the query has no such key. */
const char *http_query_get(const struct http_request *r, const char *key, char *buf, size_t len);
/* Its value as a decimal number; dflt when absent or not a number. */
long http_query_int(const struct http_request *r, const char *key, long dflt);

/* What a handler answers: status 200 and text/plain unless it says
 * otherwise; the body is held until the handler returns and then sent with
 * its length (the connection then closes). */
struct http_response {
    int status;
    const char *content_type;
    const char *allow;          /* an Allow header (405) */
    const char *location;       /* a Location header (301) */
    struct ppbuf body;
};
void http_status(struct http_response *w, int status, const char *content_type);
void http_write(struct http_response *w, const void *p, size_t n);
void http_printf(struct http_response *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef void (*http_dispatch)(const struct http_request *r, struct http_response *w);

/* A listening socket for "HOST:PORT" (HOST a numeric IPv4 or [IPv6]
 * address, "localhost", or empty for every interface); its port in *port.
 * -1 with errno set on failure. */
int httpd_listen(const char *addr, int *port);
/* Serve connections of the listening socket fd on the calling goroutine,
 * forever; every blocking wait is a system call bracketed by
 * gort_syscall_enter/exit, so the goroutine's P goes to others meanwhile. */
void httpd_serve(int fd, http_dispatch dispatch) __attribute__((noreturn));

/* Exposed for tests of the parser: parse a request of len bytes in buf
 * (modified: NULs end its parts).  >0: the request is complete, 0: more
 * bytes are needed, else minus the status of the error (400, 414, 431). */
int http_parse(char *buf, size_t len, bool full, struct http_request *r);

#endif
