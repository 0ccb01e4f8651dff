/*
 * pagecopy.c — runs of pages into a core file (pagecopy.h).
 */
#include "pagecopy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "outfile.h"
#include "pagemap.h"

enum {
    SEG_MAX = 4 << 20,          /* a piece of a run, so that threads share long runs */
    IOV_BATCH = 1024,           /* IOV_MAX */
    MAX_THREADS = 4,
    MIN_BUFFER = 8 << 20,
    WRITE_MAX = 64 << 20,       /* bytes of one pwrite */
};

void copy_list_add(struct copy_list *l, uint64_t addr, uint64_t len, uint64_t file_off, bool over,
                   uint32_t tag)
{
    if (len == 0)
        return;
    l->bytes += len;
    if (l->n > 0) {
        struct copy_run *r = &l->v[l->n - 1];
        if (r->addr + r->len == addr && r->file_off + r->len == file_off && r->over == over &&
            r->tag == tag) {
            r->len += len;
            return;
        }
    }
    xgrow(&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (struct copy_run){addr, len, file_off, over, tag};
}

void copy_list_free(struct copy_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- The buffer ----------------------------------------------------------------- */

void stager_init(struct stager *s, pid_t pid, size_t bytes)
{
    memset(s, 0, sizeof *s);
    s->pid = pid;
    if (bytes < MIN_BUFFER)
        bytes = MIN_BUFFER;
    bytes = (bytes + PM_PAGE - 1) / PM_PAGE * PM_PAGE;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    if (m == MAP_FAILED) {
        bytes = MIN_BUFFER;
        m = xmalloc(bytes);             /* exits with a message when there is no memory */
        memset(m, 0, bytes);
        s->heap = true;
    }
    s->buf = m;
    s->cap = bytes;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (unsigned)cpus;
}

void stager_free(struct stager *s)
{
    if (s->heap)
        free(s->buf);
    else if (s->buf)
        munmap(s->buf, s->cap);
    free(s->segs);
    memset(s, 0, sizeof *s);
}

/* ---- Reading ---------------------------------------------------------------- */

struct worker {
    struct stager *s;
    const struct copy_list *l;
    size_t first, end;          /* its segments */
    pthread_t thread;
    bool started;
    int err;                    /* why it stopped reading (0: it did not) */
};

static void *seg_local(struct stager *s, const struct copy_seg *g, size_t from)
{
    return s->buf + g->buf_off + from;
}

static uint64_t seg_remote(const struct copy_list *l, const struct copy_seg *g, size_t from)
{
    return l->v[g->run].addr + g->at + from;
}

/* The rest of a segment from byte from on, page by page: a page that
 * cannot be read is zeros. */
/* A read that failed: for a page that cannot be read (EFAULT, EIO), go
 * on; else (the process is gone, reading is not allowed) stop. */
static bool fatal(int e)
{
    return e != EFAULT && e != EIO;
}

static void read_slowly(struct stager *s, const struct copy_list *l, struct copy_seg *g,
                        size_t from, int *err)
{
    g->good = from;
    bool hole = false;
    for (size_t at = from; at < g->len; at += PM_PAGE) {
        size_t n = g->len - at < PM_PAGE ? g->len - at : PM_PAGE;
        struct iovec lv = {seg_local(s, g, at), n};
        struct iovec rv = {(void *)(uintptr_t)seg_remote(l, g, at), n};
        ssize_t got = process_vm_readv(s->pid, &lv, 1, &rv, 1, 0);
        if (got < 0 && fatal(errno)) {
            *err = errno;
            return;
        }
        if (got != (ssize_t)n) {
            memset(lv.iov_base, 0, n);
            hole = true;
        } else if (!hole) {
            g->good = at + n;
        }
    }
}

static void read_segments(struct stager *s, const struct copy_list *l, size_t i, size_t end,
                          int *err)
{
    struct iovec lv[IOV_BATCH], rv[IOV_BATCH];
    while (i < end && !*err) {
        size_t k = 0;
        for (size_t j = i; j < end && k < IOV_BATCH; j++, k++) {
            struct copy_seg *g = &s->segs[j];
            lv[k] = (struct iovec){seg_local(s, g, 0), g->len};
            rv[k] = (struct iovec){(void *)(uintptr_t)seg_remote(l, g, 0), g->len};
        }
        ssize_t got = process_vm_readv(s->pid, lv, k, rv, k, 0);
        if (got < 0 && fatal(errno)) {
            *err = errno;
            return;
        }
        /* Pieces are filled in order: the first short one is where a page
         * could not be read. */
        size_t left = got < 0 ? 0 : (size_t)got, j = i;
        while (j < i + k && left >= s->segs[j].len) {
            s->segs[j].good = s->segs[j].len;
            left -= s->segs[j].len;
            j++;
        }
        if (j < i + k) {
            read_slowly(s, l, &s->segs[j], left / PM_PAGE * PM_PAGE, err);
            j++;
        }
        i = j;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    read_segments(w->s, w->l, w->first, w->end, &w->err);
    return NULL;
}

/* Cuts the runs from pos on into segments that fill the buffer. */
static void cut_segments(struct stager *s, const struct copy_list *l, struct copy_pos *pos)
{
    s->nsegs = 0;
    s->used = 0;
    while (pos->run < l->n && s->used < s->cap) {
        const struct copy_run *r = &l->v[pos->run];
        size_t n = r->len - pos->at;
        if (n > SEG_MAX)
            n = SEG_MAX;
        if (n > s->cap - s->used)
            n = s->cap - s->used;
        xgrow(&s->segs, &s->segcap, s->nsegs + 1, sizeof *s->segs);
        s->segs[s->nsegs++] = (struct copy_seg){pos->run, pos->at, n, 0, s->used};
        s->used += n;
        pos->at += n;
        if (pos->at == r->len) {
            pos->run++;
            pos->at = 0;
        }
    }
}

bool stager_fill(struct stager *s, const struct copy_list *l, struct copy_pos *pos)
{
    cut_segments(s, l, pos);
    struct worker w[MAX_THREADS];
    unsigned nw = s->threads;
    if (nw > s->nsegs)
        nw = s->nsegs ? (unsigned)s->nsegs : 1;
    /* Each worker takes about the same number of bytes. */
    size_t j = 0;
    for (unsigned k = 0; k < nw; k++) {
        w[k] = (struct worker){s, l, j, j, 0, false, 0};
        size_t upto = (size_t)((uint64_t)s->used * (k + 1) / nw);
        while (j < s->nsegs && (k == nw - 1 || s->segs[j].buf_off < upto))
            j++;
        w[k].end = j;
    }
    /* The workers take no signal: goinspect's handlers run on this thread,
     * the one that traces the target. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned k = 1; k < nw; k++)
        w[k].started = w[k].first < w[k].end &&
                       pthread_create(&w[k].thread, NULL, worker_main, &w[k]) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    read_segments(s, l, w[0].first, w[0].end, &w[0].err);
    for (unsigned k = 1; k < nw; k++) {
        if (w[k].started)
            pthread_join(w[k].thread, NULL);
        else
            read_segments(s, l, w[k].first, w[k].end, &w[k].err);
    }
    for (unsigned k = 0; k < nw && !s->err; k++)
        s->err = w[k].err;
    return pos->run < l->n;
}

/* ---- Writing ---------------------------------------------------------------- */

static bool zero_page(const char *p, size_t n)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t acc = 0;
    for (size_t i = 0; i < n / 8; i++)
        acc |= w[i];
    return acc == 0;
}

/* Bytes of the buffer waiting to be written together. */
struct pending {
    size_t buf_off, len;
    uint64_t file_off;
};

static int pending_out(struct stager *s, struct pending *p, int fd, struct copy_stats *st,
                       struct fail *f)
{
    if (p->len == 0)
        return 0;
    if (outfile_write(fd, s->buf + p->buf_off, p->len, p->file_off, f) < 0)
        return -1;
    st->written += p->len;
    p->len = 0;
    return 0;
}

int stager_flush(struct stager *s, const struct copy_list *l, int fd, struct copy_stats *st,
                 struct fail *f)
{
    struct pending p = {0, 0, 0};
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct copy_seg *g = &s->segs[i];
        const struct copy_run *r = &l->v[g->run];
        for (size_t at = 0; at < g->len; at += PM_PAGE) {
            size_t n = g->len - at < PM_PAGE ? g->len - at : PM_PAGE;
            size_t b = g->buf_off + at;
            uint64_t o = r->file_off + g->at + at;
            if (!r->over && zero_page(s->buf + b, n)) {
                st->holes += n;
                continue;
            }
            if (p.len && (p.buf_off + p.len != b || p.file_off + p.len != o || p.len >= WRITE_MAX))
                if (pending_out(s, &p, fd, st, f) < 0)
                    return -1;
            if (p.len == 0)
                p = (struct pending){b, 0, o};
            p.len += n;
        }
    }
    return pending_out(s, &p, fd, st, f);
}

int copy_clear(int fd, const struct copy_list *l, struct fail *f)
{
    static const char zeros[PM_PAGE];
    for (size_t i = 0; i < l->n; i++) {
        const struct copy_run *r = &l->v[i];
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->file_off,
                      (off_t)r->len) == 0)
            continue;
        for (uint64_t at = 0; at < r->len; at += PM_PAGE)
            if (outfile_write(fd, zeros, r->len - at < PM_PAGE ? r->len - at : PM_PAGE,
                              r->file_off + at, f) < 0)
                return -1;
    }
    return 0;
}
