/*
 * perf_sampler.c — per-thread task-clock events with user registers and
 * user stack copies, read from their ring buffers (perf_sampler.h).
 */
#include "perf_sampler.h"

#include <asm/perf_regs.h>
#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "u64map.h"

/* The registers asked for, in the order the kernel writes them (by bit). */
#define REG(r) (1ull << PERF_REG_X86_##r)
#define REGS_MASK                                                                           \
    (REG(AX) | REG(BX) | REG(CX) | REG(DX) | REG(SI) | REG(DI) | REG(BP) | REG(SP) | REG(IP) | \
     REG(R8) | REG(R9) | REG(R10) | REG(R11) | REG(R12) | REG(R13) | REG(R14) | REG(R15))
#define NREGS 17

#define SAMPLE_TYPE (PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_PERIOD | \
                     PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

/* The kernel maps no buffer of an inherited event that follows a task on
 * every CPU, so an event is opened per (thread, CPU), and the events of one
 * CPU write to one buffer. */
struct ring {
    int cpu;
    int fd;                 /* the event whose buffer it is */
    struct perf_event_mmap_page *meta;
    uint8_t *data;
    size_t data_size;       /* a power of two */
    size_t map_len;
};

struct perf_sampler {
    pid_t pid;
    uint64_t period_ns;
    size_t stack_bytes;
    size_t pages;           /* data pages per ring */
    bool user_only;         /* not allowed to sample the kernel's time */
    struct ring *rings;     /* per CPU that can be sampled */
    size_t nrings;
    int *fds;               /* every event */
    size_t nfds, capfds;
    struct u64map event_tid;/* event id -> the thread it was opened on */
    struct u64map opened;   /* tid -> 1: it has events of its own */
    struct u64map counted;  /* tid -> the thread whose events count its samples */
    uint64_t lost;
    size_t missed;          /* threads that got no event: out of file descriptors */
    size_t max_fds;         /* events it may open, leaving goinspect descriptors of its own */
    uint8_t *rec;           /* one record, unwrapped */
    size_t reccap;
};

static int open_event(pid_t tid, int cpu, const struct perf_sampler *ps)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.sample_period = ps->period_ns;
    a.sample_type = SAMPLE_TYPE;
    a.sample_regs_user = REGS_MASK;
    a.sample_stack_user = (uint32_t)ps->stack_bytes;
    a.exclude_kernel = ps->user_only;
    a.exclude_hv = 1;
    a.inherit = 1;
    return (int)syscall(SYS_perf_event_open, &a, tid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Maps the ring of event fd; where the locked memory allowed
 * (perf_event_mlock_kb) is short, with fewer pages. */
static int map_ring(struct perf_sampler *ps, struct ring *r, int fd, struct fail *f)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len;
    void *m;
    for (;;) {
        len = (ps->pages + 1) * page;
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED || errno != EPERM || ps->pages <= 8)
            break;
        ps->pages /= 2;
    }
    if (m == MAP_FAILED)
        return fail_set(f, "mapping a sample buffer: %s", strerror(errno));
    r->fd = fd;
    r->meta = m;
    r->data = (uint8_t *)m + page;
    r->data_size = ps->pages * page;
    r->map_len = len;
    return 0;
}

/* The events of thread tid, one per CPU, each writing to its CPU's ring. */
static int add_thread(struct perf_sampler *ps, pid_t tid, struct fail *f)
{
    size_t added = 0;
    for (size_t c = 0; c < ps->nrings; c++) {
        struct ring *r = &ps->rings[c];
        int fd = open_event(tid, r->cpu, ps);
        if (fd < 0 && (errno == EACCES || errno == EPERM) && !ps->user_only) {
            ps->user_only = true;       /* perf_event_paranoid: user time only */
            fd = open_event(tid, r->cpu, ps);
        }
        if (fd < 0) {
            int e = errno;
            if (added > 0)
                continue;
            fail_set(f, "perf_event_open on thread %d: %s", (int)tid, strerror(e));
            errno = e;      /* open_new tells running out of descriptors by it */
            return -1;
        }
        if (r->fd < 0 ? map_ring(ps, r, fd, f) < 0
                      : ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) < 0 &&
                            fail_set(f, "sharing a sample buffer: %s", strerror(errno))) {
            close(fd);
            return -1;
        }
        uint64_t id;
        if (ioctl(fd, PERF_EVENT_IOC_ID, &id) == 0)
            u64map_put(&ps->event_tid, id, (uint32_t)tid);
        xgrow(&ps->fds, &ps->capfds, ps->nfds + 1, sizeof *ps->fds);
        ps->fds[ps->nfds++] = fd;
        added++;
    }
    u64map_put(&ps->opened, (uint64_t)tid, 1);
    return 0;
}

static size_t list_tasks(pid_t pid, pid_t **out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    size_t n = 0, cap = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
            xgrow(out, &cap, n + 1, sizeof **out);
            (*out)[n++] = (pid_t)atoi(e->d_name);
        }
    closedir(d);
    return n;
}

/* Opens events for listed threads without any; how many threads got
 * them, -1 when the very first fails (f says why). */
static int open_new(struct perf_sampler *ps, struct fail *f)
{
    pid_t *tids = NULL;
    size_t n = list_tasks(ps->pid, &tids);
    int opened = 0;
    uint32_t k;
    for (size_t i = 0; i < n; i++) {
        if (u64map_get(&ps->opened, (uint64_t)tids[i], &k))
            continue;
        if (ps->nfds > 0 && ps->nfds + ps->nrings > ps->max_fds) {
            ps->missed++;
            u64map_put(&ps->opened, (uint64_t)tids[i], 1);  /* not tried again */
            continue;
        }
        if (add_thread(ps, tids[i], f) == 0) {
            opened++;
        } else if (ps->nfds == 0) {
            free(tids);
            return -1;
        } else if (errno == EMFILE || errno == ENFILE) {
            ps->missed++;
            u64map_put(&ps->opened, (uint64_t)tids[i], 1);  /* not tried again */
        }
        /* else: the thread exited meanwhile */
    }
    free(tids);
    if (ps->nfds == 0)
        return fail_set(f, "PID %d has no threads left", (int)ps->pid);
    return opened;
}

/* The CPUs: one ring each (mapped with its first event). */
static void make_rings(struct perf_sampler *ps)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    if (n < 1)
        n = 1;
    ps->rings = xcalloc((size_t)n, sizeof *ps->rings);
    for (long c = 0; c < n; c++) {
        char path[80];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/online", c);
        FILE *fp = fopen(path, "r");
        int online = 1;
        if (fp) {               /* no file: it cannot be taken offline */
            if (fscanf(fp, "%d", &online) != 1)
                online = 1;
            fclose(fp);
        }
        if (online)
            ps->rings[ps->nrings++] = (struct ring){(int)c, -1, NULL, NULL, 0, 0};
    }
}

/* Descriptors kept for goinspect's own files (/proc, binaries, the output). */
#define OWN_FDS 64

/* An event per thread and CPU: as many file descriptors as allowed; how
 * many events may be opened. */
static size_t raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024 - OWN_FDS;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > OWN_FDS * 2 ? (size_t)(rl.rlim_cur - OWN_FDS) : (size_t)rl.rlim_cur / 4;
}

int perf_sampler_open(pid_t pid, uint64_t period_ns, size_t stack_bytes,
                      struct perf_sampler **out, struct fail *f)
{
    struct perf_sampler *ps = xcalloc(1, sizeof *ps);
    ps->max_fds = raise_fd_limit();
    ps->pid = pid;
    ps->period_ns = period_ns;
    ps->stack_bytes = stack_bytes & ~(size_t)7;
    /* room for 100 ms of samples of a busy CPU: the buffers are read every 10 */
    size_t need = (size_t)(1e8 / (double)period_ns * (double)(stack_bytes + 256));
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (ps->pages = 64; ps->pages * page < need && ps->pages < 1024; ps->pages *= 2)
        ;
    u64map_init(&ps->event_tid);
    u64map_init(&ps->opened);
    u64map_init(&ps->counted);
    make_rings(ps);
    for (int round = 0; round < 100; round++) {
        int r = open_new(ps, f);
        if (r < 0) {
            perf_sampler_close(ps);
            return -1;
        }
        if (r == 0)
            break;
    }
    *out = ps;
    return 0;
}

void perf_sampler_follow(struct perf_sampler *ps)
{
    struct fail f;
    open_new(ps, &f);
}

uint64_t perf_sampler_lost(const struct perf_sampler *ps) { return ps->lost; }
size_t perf_sampler_threads(const struct perf_sampler *ps) { return ps->opened.n; }
size_t perf_sampler_missed(const struct perf_sampler *ps) { return ps->missed; }

/* The next record of ring r unwrapped into ps->rec, or NULL. */
static const struct perf_event_header *next_record(struct perf_sampler *ps, struct ring *r,
                                                   uint64_t *tail, uint64_t head)
{
    if (*tail + sizeof(struct perf_event_header) > head)
        return NULL;
    size_t mask = r->data_size - 1;
    struct perf_event_header h;
    for (size_t i = 0; i < sizeof h; i++)
        ((uint8_t *)&h)[i] = r->data[(*tail + i) & mask];
    if (h.size < sizeof h || *tail + h.size > head)
        return NULL;
    xgrow(&ps->rec, &ps->reccap, h.size, 1);
    size_t off = *tail & mask, first = r->data_size - off < h.size ? r->data_size - off : h.size;
    memcpy(ps->rec, r->data + off, first);
    memcpy(ps->rec + first, r->data, h.size - first);
    *tail += h.size;
    return (const struct perf_event_header *)ps->rec;
}

static void regs_of(const uint64_t *v, struct target_regs *r)
{
    memset(r, 0, sizeof *r);
    r->rax = v[0]; r->rbx = v[1]; r->rcx = v[2]; r->rdx = v[3];
    r->rsi = v[4]; r->rdi = v[5]; r->rbp = v[6]; r->rsp = v[7]; r->rip = v[8];
    r->r8 = v[9]; r->r9 = v[10]; r->r10 = v[11]; r->r11 = v[12];
    r->r12 = v[13]; r->r13 = v[14]; r->r14 = v[15]; r->r15 = v[16];
    r->full = true;
}

/* Decodes a PERF_RECORD_SAMPLE laid out as SAMPLE_TYPE says: pid, tid,
 * period, the user registers' ABI and values, the stack's size, bytes and
 * dynamic size, after the event's id.  False when it is malformed. */
static bool decode_sample(const uint8_t *p, const uint8_t *end, struct perf_sample *s,
                          uint64_t *id)
{
    uint32_t ids[2];
    uint64_t abi, size, regs[NREGS];
    memset(s, 0, sizeof *s);
    if (end - p < 32)
        return false;
    memcpy(id, p, 8);
    memcpy(ids, p + 8, 8);
    memcpy(&s->period_ns, p + 16, 8);
    memcpy(&abi, p + 24, 8);
    s->tid = (pid_t)ids[1];
    p += 32;
    if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
        if (end - p < (long)sizeof regs)
            return false;
        memcpy(regs, p, sizeof regs);
        p += sizeof regs;
        regs_of(regs, &s->regs);
        s->has_regs = true;
    }
    if (end - p < 8)
        return false;
    memcpy(&size, p, 8);
    p += 8;
    if (size == 0)
        return true;
    if ((uint64_t)(end - p) < size + 8)
        return false;
    uint64_t dyn;
    memcpy(&dyn, p + size, 8);
    s->stack = p;
    s->stack_len = dyn < size ? dyn : size;
    return true;
}

/* Whether a sample of thread tid that came from the events opened on
 * thread via counts: a thread followed both ways (its own events, and
 * events inherited from its creator's) is counted through its own; one
 * followed through two creators' events through the first seen. */
static bool counts(struct perf_sampler *ps, pid_t tid, uint32_t via)
{
    uint32_t k;
    if (u64map_get(&ps->opened, (uint64_t)tid, &k))
        return via == (uint32_t)tid;
    if (!u64map_get(&ps->counted, (uint64_t)tid, &k)) {
        k = via;
        u64map_put(&ps->counted, (uint64_t)tid, k);
    }
    return k == via;
}

static size_t drain(struct perf_sampler *ps, struct ring *r, perf_sample_fn fn, void *ctx)
{
    if (r->fd < 0)
        return 0;
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = r->meta->data_tail;
    size_t handed = 0;
    const struct perf_event_header *h;
    while ((h = next_record(ps, r, &tail, head)) != NULL) {
        const uint8_t *body = (const uint8_t *)(h + 1), *end = (const uint8_t *)h + h->size;
        if (h->type == PERF_RECORD_LOST && end - body >= 16) {
            uint64_t lost;
            memcpy(&lost, body + 8, 8);
            ps->lost += lost;
            continue;
        }
        struct perf_sample s;
        uint64_t id;
        uint32_t via;
        if (h->type != PERF_RECORD_SAMPLE || !decode_sample(body, end, &s, &id) ||
            !u64map_get(&ps->event_tid, id, &via) || !counts(ps, s.tid, via))
            continue;
        fn(ctx, &s);
        handed++;
    }
    __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
    return handed;
}

/* The buffers are read on a timer, not polled: the event of a thread that
 * exited reports POLLHUP for ever. */
size_t perf_sampler_read(struct perf_sampler *ps, int timeout_ms, perf_sample_fn fn, void *ctx)
{
    if (timeout_ms > 0) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    size_t handed = 0;
    for (size_t i = 0; i < ps->nrings; i++)
        handed += drain(ps, &ps->rings[i], fn, ctx);
    return handed;
}

void perf_sampler_close(struct perf_sampler *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->nrings; i++)
        if (ps->rings[i].meta)
            munmap(ps->rings[i].meta, ps->rings[i].map_len);
    for (size_t i = 0; i < ps->nfds; i++)
        close(ps->fds[i]);
    u64map_free(&ps->event_tid);
    u64map_free(&ps->opened);
    u64map_free(&ps->counted);
    free(ps->rings);
    free(ps->fds);
    free(ps->rec);
    free(ps);
}
