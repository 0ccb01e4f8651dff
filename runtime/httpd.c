/*
 * httpd.c — the debug endpoint's HTTP/1.1 server: one goroutine, one
 * poll() loop over non-blocking sockets.
 *
 * Memory is bounded whatever clients do: at most HTTP_MAX_CONNS
 * connections (more are accepted and closed at once), each with a request
 * buffer of HTTP_MAX_REQUEST bytes; a request must be complete within
 * REQUEST_TIMEOUT of its connection's accept (a header that never ends, an
 * idle connection: closed), and its response sent within WRITE_TIMEOUT.
 * Every connection carries one request (Connection: close).  After the
 * response the connection is shut for writing and whatever the client
 * still sends is read and dropped for a while (LINGER), so that a request
 * answered early (an error) is not cut by a reset.
 *
 * poll() runs between gort_syscall_enter and gort_syscall_exit: while the
 * server waits, its P runs the program's goroutines; accept, recv and send
 * never block (non-blocking sockets).  Each complete request's handler runs
 * on a goroutine of its own (at most HTTP_MAX_CONNS at once, one per
 * connection), so a long one (a CPU profile of 30 seconds) holds up no
 * other request; it hands the rendered response back to the loop and
 * wakes it through an eventfd.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "runtime.h"

#define SEC 1000000000LL
static const int64_t REQUEST_TIMEOUT = 5 * SEC, WRITE_TIMEOUT = 30 * SEC, LINGER = 2 * SEC;

/* ---- Responses ------------------------------------------------------------------- */

void http_status(struct http_response *w, int status, const char *content_type)
{
    w->status = status;
    if (content_type)
        w->content_type = content_type;
}

void http_write(struct http_response *w, const void *p, size_t n)
{
    ppbuf_put(&w->body, p, n);
}

void http_printf(struct http_response *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !ppbuf_reserve(&w->body, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)w->body.data + w->body.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->body.len += (size_t)n;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* The whole response, headers and body (not for HEAD), into out. */
static void render(const struct http_response *w, bool head, struct ppbuf *out)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Content-Type-Options: nosniff\r\nConnection: close\r\n%s%s%s%s%s%s\r\n",
                     w->status, reason(w->status), w->content_type, w->body.len,
                     w->allow ? "Allow: " : "", w->allow ? w->allow : "", w->allow ? "\r\n" : "",
                     w->location ? "Location: " : "", w->location ? w->location : "",
                     w->location ? "\r\n" : "");
    ppbuf_put(out, hdr, (size_t)n);
    if (!head)
        ppbuf_put(out, w->body.data, w->body.len);
}

static void error_response(struct http_response *w, int status)
{
    http_status(w, status, "text/plain; charset=utf-8");
    w->body.len = 0;
    http_printf(w, "%d %s\n", status, reason(status));
}

/* ---- Parsing ---------------------------------------------------------------------- */

static bool is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) into out (NUL-terminated, at most n + 1 bytes);
 * plus: '+' is a space (a query).  False for a bad escape or a NUL. */
static bool decode(const char *s, size_t n, char *out, bool plus)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return false;
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
            if (c == 0)
                return false;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        out[k++] = (char)c;
    }
    out[k] = 0;
    return true;
}

/* The end of the line starting at p (its '\n'), NULL if none before end. */
static char *line_end(char *p, char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

int http_parse(char *buf, size_t len, bool full, struct http_request *r)
{
    char *end = buf + len, *p = buf;
    /* Complete when an empty line ends the headers. */
    char *hend = NULL;
    for (char *q = buf; (q = line_end(q, end)); q++) {
        char *next = q + 1;
        if (next < end && *next == '\n') {
            hend = next + 1;
            break;
        }
        if (next + 1 < end && next[0] == '\r' && next[1] == '\n') {
            hend = next + 2;
            break;
        }
        if (next >= end)
            break;
    }
    if (!hend) {
        if (!full)
            return 0;
        return line_end(buf, end) ? -431 : -414;
    }
    /* Request line: METHOD SP TARGET SP HTTP/1.x */
    char *eol = line_end(p, hend);
    char *lend = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    char *sp1 = memchr(p, ' ', (size_t)(lend - p));
    if (!sp1 || sp1 == p)
        return -400;
    for (char *c = p; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return -400;
    char *target = sp1 + 1;
    char *sp2 = memchr(target, ' ', (size_t)(lend - target));
    if (!sp2 || sp2 == target)
        return -400;
    for (char *c = target; c < sp2; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -400;
    char *version = sp2 + 1;
    if (lend - version != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
        (version[7] != '0' && version[7] != '1'))
        return -400;
    /* Header lines: NAME ":" VALUE, no folding. */
    for (char *h = eol + 1; h < hend;) {
        char *e = line_end(h, hend);
        char *he = e > h && e[-1] == '\r' ? e - 1 : e;
        if (he == h)
            break;      /* the empty line */
        char *colon = memchr(h, ':', (size_t)(he - h));
        if (!colon || colon == h)
            return -400;
        for (char *c = h; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return -400;
        for (char *c = colon + 1; c < he; c++)
            if ((unsigned char)*c < ' ' && *c != '\t')
                return -400;
        h = e + 1;
    }
    /* An absolute-form target (a proxy's) names the path after its host. */
    if (sp2 - target > 7 && strncasecmp(target, "http://", 7) == 0) {
        char *slash = memchr(target + 7, '/', (size_t)(sp2 - target - 7));
        if (!slash)
            return -400;
        target = slash;
    }
    if (*target != '/')
        return -400;
    *sp1 = 0;
    char *qm = memchr(target, '?', (size_t)(sp2 - target));
    *sp2 = 0;
    if (qm)
        *qm = 0;
    /* The decoded path is never longer: decode in place. */
    if (!decode(target, strlen(target), target, false))
        return -400;
    r->method = p;
    r->path = target;
    r->query = qm ? qm + 1 : "";
    return (int)(hend - buf);
}

const char *http_query_get(const struct http_request *r, const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    for (const char *q = r->query; *q;) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        size_t kn = eq ? (size_t)(eq - q) : n;
        if (kn == klen && memcmp(q, key, klen) == 0) {
            const char *v = eq ? eq + 1 : q + n;
            size_t vn = (size_t)(q + n - v);
            char tmp[256];
            if (vn >= sizeof tmp)
                vn = sizeof tmp - 1;
            if (!decode(v, vn, tmp, true))
                tmp[0] = 0;
            snprintf(buf, len, "%s", tmp);
            return buf;
        }
        q += n + (amp != NULL);
    }
    return NULL;
}

long http_query_int(const struct http_request *r, const char *key, long dflt)
{
    char v[32], *end;
    if (!http_query_get(r, key, v, sizeof v) || !v[0])
        return dflt;
    long n = strtol(v, &end, 10);
    return *end ? dflt : n;
}

/* ---- Listening -------------------------------------------------------------------- */

int httpd_listen(const char *addr, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon) {
        errno = EINVAL;
        return -1;
    }
    char host[64], *pend;
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= sizeof host) {
        errno = EINVAL;
        return -1;
    }
    memcpy(host, addr, hlen);
    host[hlen] = 0;
    long pnum = strtol(colon + 1, &pend, 10);
    if (!colon[1] || *pend || pnum < 0 || pnum > 65535) {
        errno = EINVAL;
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        host[hlen - 1] = 0;
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
            errno = EINVAL;
            return -1;
        }
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)pnum);
        sslen = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)pnum);
        if (strcmp(host, "localhost") == 0)
            s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (host[0] == 0)
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
            errno = EINVAL;
            return -1;
        }
        sslen = sizeof *s4;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* ---- Connections -------------------------------------------------------------- */

enum conn_state { C_FREE, C_READ, C_HANDLING, C_WRITE, C_LINGER };

struct conn {
    int fd;
    uint32_t state;             /* enum conn_state; C_HANDLING: the handler's goroutine owns out */
    uint32_t handled;           /* atomic: the handler is done, out holds the response */
    int64_t deadline;
    size_t inlen, outoff;
    struct ppbuf out;
    struct http_request req;    /* C_HANDLING: its parts point into in */
    http_dispatch dispatch;
    int wakefd;                 /* the loop's eventfd */
    char in[HTTP_MAX_REQUEST + 1];
};

static void conn_close(struct conn *c)
{
    close(c->fd);
    ppbuf_free(&c->out);
    c->state = C_FREE;
}

/* The response to a request into c->out: a parse error's (status), or
 * the handler's. */
static void conn_render(struct conn *c, int status)
{
    struct http_response w = {200, "text/plain; charset=utf-8", NULL, NULL, {0}};
    bool head = false;
    if (status) {
        error_response(&w, status);
    } else {
        head = strcmp(c->req.method, "HEAD") == 0;
        c->dispatch(&c->req, &w);
        if (w.body.failed)
            error_response(&w, 500);
    }
    render(&w, head, &c->out);
    ppbuf_free(&w.body);
}

static void conn_to_write(struct conn *c, int64_t now)
{
    c->outoff = 0;
    c->state = C_WRITE;
    c->deadline = now + WRITE_TIMEOUT;
    if (c->out.failed)
        conn_close(c);
}

/* The goroutine of one request. */
static void conn_handle(void *arg)
{
    struct conn *c = arg;
    conn_render(c, 0);
    __atomic_store_n(&c->handled, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    ssize_t n = write(c->wakefd, &one, sizeof one);
    (void)n;    /* the counter cannot overflow: at most HTTP_MAX_CONNS adds between reads */
}

/* A complete request (status 0: r) or a parse error (status). */
static void conn_respond(struct conn *c, int status, const struct http_request *r,
                         http_dispatch dispatch, int64_t now)
{
    if (status) {
        conn_render(c, status);
        conn_to_write(c, now);
        return;
    }
    c->req = *r;
    c->dispatch = dispatch;
    c->handled = 0;
    c->state = C_HANDLING;
    gort_go(conn_handle, c);
}

static void conn_read(struct conn *c, http_dispatch dispatch, int64_t now)
{
    if (c->state == C_LINGER) {
        ssize_t n;      /* dropped into the request buffer, which has served */
        while ((n = recv(c->fd, c->in, sizeof c->in, 0)) > 0)
            ;
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            conn_close(c);
        return;
    }
    ssize_t n = recv(c->fd, c->in + c->inlen, HTTP_MAX_REQUEST - c->inlen, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c);
        return;
    }
    if (n < 0)
        return;
    c->inlen += (size_t)n;
    struct http_request r;
    int rc = http_parse(c->in, c->inlen, c->inlen == HTTP_MAX_REQUEST, &r);
    if (rc > 0)
        conn_respond(c, 0, &r, dispatch, now);
    else if (rc < 0)
        conn_respond(c, -rc, NULL, dispatch, now);
}

static void conn_write(struct conn *c, int64_t now)
{
    while (c->outoff < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            conn_close(c);
            return;
        }
        c->outoff += (size_t)n;
    }
    ppbuf_free(&c->out);
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->deadline = now + LINGER;
}

static void accept_all(int lfd, struct conn *conns, int64_t now)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;     /* EAGAIN, or an error of that connection (ECONNABORTED...) */
        struct conn *c = NULL;
        for (int i = 0; i < HTTP_MAX_CONNS && !c; i++)
            if (conns[i].state == C_FREE)
                c = &conns[i];
        if (!c) {
            /* Full: no room to serve it; say so if the socket takes it. */
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n";
            ssize_t n = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(fd);
            continue;
        }
        c->fd = fd;
        c->state = C_READ;
        c->inlen = 0;
        c->deadline = now + REQUEST_TIMEOUT;
    }
}

void httpd_serve(int lfd, http_dispatch dispatch)
{
    size_t bytes = sizeof(struct conn) * HTTP_MAX_CONNS;
    struct conn *conns = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0);
    if (conns == MAP_FAILED)
        gort_panic("gort_debug_serve: no memory for connections");
    int wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakefd < 0)
        gort_panic("gort_debug_serve: no eventfd");
    for (int i = 0; i < HTTP_MAX_CONNS; i++)
        conns[i].wakefd = wakefd;
    struct pollfd pfd[HTTP_MAX_CONNS + 2];
    int who[HTTP_MAX_CONNS + 2];
    for (;;) {
        int64_t now = gort_nanotime(), wait = SEC;
        int n = 0;
        pfd[n++] = (struct pollfd){lfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){wakefd, POLLIN, 0};
        for (int i = 0; i < HTTP_MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (c->state == C_HANDLING && __atomic_load_n(&c->handled, __ATOMIC_ACQUIRE))
                conn_to_write(c, now);
            if (c->state == C_FREE || c->state == C_HANDLING)
                continue;
            if (c->deadline - now < wait)
                wait = c->deadline - now;
            who[n] = i;
            pfd[n++] = (struct pollfd){c->fd, (short)(c->state == C_WRITE ? POLLOUT : POLLIN), 0};
        }
        int ms = wait <= 0 ? 0 : (int)(wait / 1000000) + 1;
        gort_syscall_enter();
        int r = poll(pfd, (nfds_t)n, ms);
        gort_syscall_exit();
        if (r < 0 && errno != EINTR)
            gort_sleep(SEC / 10);   /* ENOMEM: try again shortly */
        now = gort_nanotime();
        if (r > 0 && (pfd[1].revents & POLLIN)) {
            uint64_t v;
            ssize_t rd = read(wakefd, &v, sizeof v);
            (void)rd;
        }
        for (int k = 2; k < n; k++) {
            struct conn *c = &conns[who[k]];
            if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (c->state == C_WRITE)
                    conn_close(c);      /* reset by the client */
                else
                    conn_read(c, dispatch, now);
            }
            if (c->state == C_WRITE)
                conn_write(c, now);
            if (c->state != C_FREE && c->state != C_HANDLING && now >= c->deadline)
                conn_close(c);
        }
        if (r > 0 && (pfd[0].revents & POLLIN))
            accept_all(lfd, conns, now);
    }
}
