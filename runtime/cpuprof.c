/*
 * cpuprof.c — the CPU profile: every M gets a timer on its own CPU clock
 * (timer_create on the thread's pthread_getcpuclockid clock, SIGEV_THREAD_ID)
 * that sends that thread SIGPROF each 10 ms of CPU it uses (100 Hz).  The
 * handler unwinds the interrupted code (stackwalk.c: no locks, no
 * allocation) and appends a record to a buffer reserved with one atomic
 * add; the profile is built from the buffer when the profile stops.
 *
 * A record's weight is 1 plus the timer's overrun count: when several
 * periods expire before the signal is delivered (the kernel checks CPU
 * timers at its tick), they are all charged to the stack the signal finds.
 *
 * Only the Ms' threads are profiled: the runtime's timer and sysmon
 * threads and the program's own threads are not.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "atomics.h"
#include "cpuprof.h"
#include "lock.h"
#include "profproto.h"
#include "runtime.h"
#include "stackwalk.h"

enum {
    HZ = 100,
    PERIOD_NS = 1000000000 / HZ,
    BUF_BYTES = 64 << 20,          /* ~250,000 samples of 32 frames */
    MAX_TIMERS = 1024,
    MAX_WEIGHT = 1000,
};

struct record {
    uint32_t weight;
    uint32_t npcs;
    uint64_t goid;
    uintptr_t pcs[];
};

static struct {
    struct rtlock lock;            /* start, stop, the timers */
    uint32_t on;                   /* atomic: the handler records */
    uint32_t inhandler;            /* atomic: handlers running */
    uint8_t *buf;
    uint64_t used;                 /* atomic: bytes reserved in buf */
    uint64_t lost;                 /* atomic: samples that did not fit */
    int64_t start_wall, start_mono;
    int nt;
    struct {
        struct m *m;
        timer_t t;
    } timers[MAX_TIMERS];
    bool handler_installed;
    int fd;                        /* gort_cpu_profile_start's */
} prof;

static void on_sigprof(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    int saved = errno;
    if (!load32(&prof.on))
        goto out;
    xadd32(&prof.inhandler, 1);
    if (!load32(&prof.on))
        goto done;
    ucontext_t *uc = ucv;
    struct cfi_regs regs = regs_of_gregs(uc->uc_mcontext.gregs);
    uintptr_t sp = regs.r[CFI_RSP];
    struct m *mp = getm();
    struct g *gp = mp ? mp->curg : NULL;
    struct stack_bounds b;
    uint64_t goid = 0;
    if (gp && sp >= gp->stacklo && sp <= gp->stackhi) {
        b = (struct stack_bounds){sp, gp->stackhi, false};
        goid = gp->goid;
    } else if (mp && sp >= mp->stacklo && sp <= mp->stackhi) {
        b = (struct stack_bounds){sp, mp->stackhi, false};
    } else {
        b = (struct stack_bounds){sp, sp + (8u << 20), true};
    }
    uintptr_t pcs[STACKWALK_MAX];
    struct unwinder u;
    memset(&u, 0, sizeof u);
    u.signal_safe = true;
    int n = unwind_pcs(&u, &regs, &b, pcs, STACKWALK_MAX);
    uint64_t size = sizeof(struct record) + (uint64_t)n * sizeof(uintptr_t);
    uint64_t end = xadd64(&prof.used, size);
    if (end > BUF_BYTES) {
        xadd64(&prof.lost, 1);
        goto done;
    }
    struct record *r = (struct record *)(prof.buf + end - size);
    int over = si->si_overrun;
    r->weight = 1 + (uint32_t)(over < 0 ? 0 : over > MAX_WEIGHT ? MAX_WEIGHT : over);
    r->npcs = (uint32_t)n;
    r->goid = goid;
    memcpy(r->pcs, pcs, (size_t)n * sizeof(uintptr_t));
done:
    xadd32(&prof.inhandler, (uint32_t)-1);
out:
    errno = saved;
}

/* lock held */
static bool has_timer(const struct m *m)
{
    for (int i = 0; i < prof.nt; i++)
        if (prof.timers[i].m == m)
            return true;
    return false;
}

/* lock held; m's thread has started (procid set) */
static void arm_timer(struct m *m)
{
    if (has_timer(m) || prof.nt == MAX_TIMERS)
        return;
    clockid_t cid;
    if (pthread_getcpuclockid(m->thread, &cid) != 0)
        return;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGPROF;
    sev._sigev_un._tid = (pid_t)m->procid;
    timer_t t;
    if (timer_create(cid, &sev, &t) != 0)
        return;
    struct itimerspec its = {{0, PERIOD_NS}, {0, PERIOD_NS}};
    if (timer_settime(t, 0, &its, NULL) != 0) {
        timer_delete(t);
        return;
    }
    prof.timers[prof.nt].m = m;
    prof.timers[prof.nt].t = t;
    prof.nt++;
}

void cpuprof_m_started(struct m *m)
{
    if (!load32(&prof.on))
        return;
    lock_acquire(&prof.lock);
    if (load32(&prof.on))
        arm_timer(m);
    lock_release(&prof.lock);
}

int cpuprof_begin(void)
{
    stackwalk_refresh_modules();
    lock_acquire(&prof.lock);
    if (prof.buf) {
        lock_release(&prof.lock);
        errno = EBUSY;
        return -1;
    }
    void *buf = mmap(NULL, BUF_BYTES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (buf == MAP_FAILED) {
        lock_release(&prof.lock);
        errno = ENOMEM;
        return -1;
    }
    if (!prof.handler_installed) {
        /* Installed for good: a SIGPROF still pending when a profile
         * stops must not meet the default action (termination). */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigprof;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigfillset(&sa.sa_mask);
        if (sigaction(SIGPROF, &sa, NULL) != 0) {
            munmap(buf, BUF_BYTES);
            lock_release(&prof.lock);
            return -1;
        }
        prof.handler_installed = true;
    }
    prof.buf = buf;
    store64(&prof.used, 0);
    store64(&prof.lost, 0);
    prof.nt = 0;
    prof.start_wall = walltime();
    prof.start_mono = nanotime();
    store32(&prof.on, 1);
    for (struct m *m = loadp((void *const *)&allm); m; m = m->alllink)
        if (load64((const uint64_t *)&m->procid) != 0)
            arm_timer(m);
    lock_release(&prof.lock);
    return 0;
}

struct agg {
    uint64_t hash;
    struct record *r;          /* the first record of its stack and goroutine */
    int64_t count;
};

static uint64_t record_hash(const struct record *r)
{
    return (stack_hash(r->pcs, (int)r->npcs) ^ (r->goid * 0x9e3779b97f4a7c15ull)) | 1;
}

static bool same_stack(const struct record *a, const struct record *b)
{
    return a->goid == b->goid && a->npcs == b->npcs &&
           memcmp(a->pcs, b->pcs, a->npcs * sizeof(uintptr_t)) == 0;
}

/* Merges the records of one stack and goroutine and adds them to pb. */
static int build(struct pp_builder *pb, uint64_t used)
{
    size_t nrec = 0;
    for (uint64_t off = 0; off < used;) {
        struct record *r = (struct record *)(prof.buf + off);
        off += sizeof *r + r->npcs * sizeof(uintptr_t);
        nrec++;
    }
    size_t cap = 16;
    while (cap < 2 * nrec)
        cap *= 2;
    struct agg *t = calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (uint64_t off = 0; off < used;) {
        struct record *r = (struct record *)(prof.buf + off);
        off += sizeof *r + r->npcs * sizeof(uintptr_t);
        uint64_t h = record_hash(r);
        size_t i = h & (cap - 1);
        while (t[i].hash && !(t[i].hash == h && same_stack(t[i].r, r)))
            i = (i + 1) & (cap - 1);
        if (!t[i].hash) {
            t[i].hash = h;
            t[i].r = r;
        }
        t[i].count += r->weight;
    }
    for (size_t i = 0; i < cap; i++) {
        if (!t[i].hash)
            continue;
        struct record *r = t[i].r;
        int64_t v[2] = {t[i].count, t[i].count * PERIOD_NS};
        if (r->goid)
            pp_add_sample(pb, r->pcs, (int)r->npcs, true, v, "goroutine", NULL, (int64_t)r->goid);
        else
            pp_add_sample(pb, r->pcs, (int)r->npcs, true, v, NULL, NULL, 0);
    }
    free(t);
    return 0;
}

int cpuprof_end(struct ppbuf *out)
{
    lock_acquire(&prof.lock);
    if (!prof.buf || !load32(&prof.on)) {
        lock_release(&prof.lock);
        errno = EINVAL;
        return -1;
    }
    store32(&prof.on, 0);
    for (int i = 0; i < prof.nt; i++)
        timer_delete(prof.timers[i].t);
    prof.nt = 0;
    while (load32(&prof.inhandler))
        cpu_relax();
    /* Encoded outside the lock (which makes the M unstoppable); prof.buf
     * stays set meanwhile, so a new profile waits for this one. */
    lock_release(&prof.lock);
    int64_t duration = nanotime() - prof.start_mono;
    uint64_t used = load64(&prof.used);
    if (used > BUF_BYTES) {
        /* the last reservation may have overrun: keep whole records */
        uint64_t off = 0;
        while (off < BUF_BYTES) {
            struct record *r = (struct record *)(prof.buf + off);
            uint64_t size = sizeof *r + r->npcs * sizeof(uintptr_t);
            if (off + size > BUF_BYTES || r->weight == 0)
                break;
            off += size;
        }
        used = off;
    }
    struct pp_builder *pb = pp_new();
    int rc = -1;
    if (pb) {
        pp_sample_type(pb, "samples", "count");
        pp_sample_type(pb, "cpu", "nanoseconds");
        pp_period(pb, "cpu", "nanoseconds", PERIOD_NS);
        pp_time(pb, prof.start_wall, duration);
        rc = build(pb, used);
        struct ppbuf none = {0};
        if (pp_finish(pb, rc == 0 ? out : &none) != 0)
            rc = -1;
        ppbuf_free(&none);
    }
    lock_acquire(&prof.lock);
    munmap(prof.buf, BUF_BYTES);
    prof.buf = NULL;
    lock_release(&prof.lock);
    if (rc != 0)
        errno = ENOMEM;
    return rc;
}

int gort_cpu_profile_start(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (cpuprof_begin() != 0)
        return -1;
    prof.fd = fd;
    return 0;
}

int gort_cpu_profile_stop(void)
{
    int fd = prof.fd;
    struct ppbuf out = {0};
    if (!load32(&prof.on)) {
        errno = EINVAL;
        return -1;
    }
    if (cpuprof_end(&out) != 0)
        return -1;
    int rc = ppbuf_write_fd(&out, fd);
    ppbuf_free(&out);
    return rc;
}
