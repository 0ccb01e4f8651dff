/*
 * mgcdirty.c — which heap pages were written while the collector marked
 * concurrently.
 *
 * The kernel keeps the record.  Every arena is registered with a
 * userfaultfd in asynchronous write-protect mode (Linux 6.7): arming
 * write-protects all of their pages, and the first write to a protected page
 * afterwards is resolved by the kernel on the spot (about a microsecond, no
 * thread of ours involved) and leaves the page unprotected: "written".
 * PAGEMAP_SCAN on /proc/self/pagemap lists the written pages of a range and
 * can protect them again in the same call, so the collector can rescan what
 * changed and still catch the writes that follow.  Pages never touched are
 * protected too (WP_UNPOPULATED), and writes the kernel makes on the
 * process's behalf (read(2) into a heap buffer) count as writes.
 *
 * Pages released with MADV_DONTNEED while written would come back as
 * unprotected holes, so the scavenger releases nothing while tracking is on
 * (dirty_tracking(), checked under the heap lock).
 *
 * Without these kernel features (an older kernel, a seccomp filter, no
 * userfaultfd), dirty_available() is false and every collection marks with
 * the world stopped.  The whole mechanism is checked once, at the first
 * use, on a probe page: protect, write, scan, expect exactly that page.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap.h"

/* Linux 6.7 interfaces, missing from older headers. */
#define FEATURE_WP_UNPOPULATED (1ull << 13)
#define FEATURE_WP_ASYNC (1ull << 15)

struct page_region {
    uint64_t start, end, categories;
};

struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define IOCTL_PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1ull << 0)
#define PM_SCAN_CHECK_WPASYNC (1ull << 1)
#define PAGE_IS_WRITTEN (1ull << 1)

enum { OS_PAGE = 4096, VEC_LEN = 1024 };

static struct {
    uint32_t state;            /* 0 untried, 1 available, 2 unavailable */
    int uffd;
    int pagemap;
    uint32_t tracking;         /* atomic: armed for a cycle (heap lock to set) */
} dt = {.uffd = -1, .pagemap = -1};

static bool uffd_register(uintptr_t base, size_t len)
{
    struct uffdio_register r = {.range = {.start = base, .len = len},
                                .mode = UFFDIO_REGISTER_MODE_WP};
    return ioctl(dt.uffd, UFFDIO_REGISTER, &r) == 0;
}

static bool uffd_protect(uintptr_t base, size_t len)
{
    struct uffdio_writeprotect wp = {.range = {.start = base, .len = len},
                                     .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    return ioctl(dt.uffd, UFFDIO_WRITEPROTECT, &wp) == 0;
}

/* List the written pages of [lo, hi) into vec[0..veclen) from the start; with
 * rearm, protect them again.  Returns the regions filled (or -1), and
 * where the walk stopped in *stop. */
static long pagemap_scan(struct page_region *vec, size_t veclen, uintptr_t lo, uintptr_t hi,
                         bool rearm, uintptr_t *stop)
{
    struct pm_scan_arg a = {
        .size = sizeof a,
        .flags = PM_SCAN_CHECK_WPASYNC | (rearm ? PM_SCAN_WP_MATCHING : 0),
        .start = lo,
        .end = hi,
        .vec = (uintptr_t)vec,
        .vec_len = veclen,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    long n = ioctl(dt.pagemap, IOCTL_PAGEMAP_SCAN, &a);
    *stop = n < 0 ? hi : (uintptr_t)a.walk_end;
    return n;
}

/* Protect a probe page, write it, and expect to find exactly it written. */
static bool self_test(void)
{
    void *m = mmap(NULL, 4 * OS_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    volatile uint8_t *p = m;
    uintptr_t lo = (uintptr_t)p, hi = lo + 4 * OS_PAGE, stop;
    struct page_region vec[4];
    bool ok = false;
    p[0] = p[OS_PAGE] = 1;                      /* pages 0 and 1 populated before arming */
    if (uffd_register(lo, hi - lo) && uffd_protect(lo, hi - lo)) {
        p[OS_PAGE] = p[0];                      /* reads page 0, writes page 1 */
        p[3 * OS_PAGE] = 1;                     /* unpopulated when armed */
        long n = pagemap_scan(vec, 4, lo, hi, true, &stop);
        ok = n == 2 && vec[0].start == lo + OS_PAGE && vec[0].end == lo + 2 * OS_PAGE &&
             vec[1].start == lo + 3 * OS_PAGE && vec[1].end == hi;
        if (ok) {
            /* Pages 1 and 3 are protected again: writing 0 and 3 shows those. */
            p[0] = 2;
            p[3 * OS_PAGE] = p[OS_PAGE];
            n = pagemap_scan(vec, 4, lo, hi, false, &stop);
            ok = n == 2 && vec[0].start == lo && vec[0].end == lo + OS_PAGE &&
                 vec[1].start == lo + 3 * OS_PAGE;
        }
    }
    munmap(m, hi - lo);                          /* also unregisters it */
    return ok;
}

static bool open_tracking(void)
{
    /* Faults are resolved by the kernel, so user-mode-only suffices (and is
     * allowed to unprivileged processes); kernels before 5.11 lack it. */
    dt.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (dt.uffd < 0 && errno == EINVAL)
        dt.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (dt.uffd < 0)
        return false;
    struct uffdio_api api = {.api = UFFD_API,
                             .features = FEATURE_WP_ASYNC | FEATURE_WP_UNPOPULATED};
    if (ioctl(dt.uffd, UFFDIO_API, &api) != 0)
        return false;
    dt.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (dt.pagemap < 0)
        return false;
    return self_test();
}

/* Heap lock held.  The first call decides; later arenas register in grow(). */
static bool available_locked(void)
{
    if (dt.state == 0) {
        bool ok = open_tracking();
        for (uint32_t i = 0; ok && i < mheap_.narenas; i++)
            ok = uffd_register(mheap_.arenas[i]->base, ARENA_BYTES);
        if (!ok) {
            if (dt.uffd >= 0)
                close(dt.uffd);         /* unregisters whatever was registered */
            if (dt.pagemap >= 0)
                close(dt.pagemap);
            dt.uffd = dt.pagemap = -1;
        }
        store32(&dt.state, ok ? 1 : 2);
    }
    return dt.state == 1;
}

bool dirty_available(void)
{
    uint32_t s = load32(&dt.state);
    if (s != 0)
        return s == 1;
    lock_acquire(&mheap_.lock);
    bool ok = available_locked();
    lock_release(&mheap_.lock);
    return ok;
}

/* False until tried; then whether the kernel can record writes. */
bool dirty_unavailable(void)
{
    return load32(&dt.state) == 2;
}

/* Heap lock held: a new arena.  Once tracking is in use every arena must be
 * tracked; one that cannot be ends concurrent marking for good. */
void dirty_arena_added(uintptr_t base)
{
    if (dt.state != 1)
        return;
    if (!uffd_register(base, ARENA_BYTES) ||
        (load32(&dt.tracking) && !uffd_protect(base, ARENA_BYTES))) {
        print_str("runtime: cannot track writes to a new arena: collections stop the world\n");
        store32(&dt.state, 2);
        store32(&dt.tracking, 0);
    }
}

bool dirty_tracking(void)
{
    return load32(&dt.tracking) != 0;
}

/* Write-protect every arena: from here on, writes are recorded.  Runs while
 * the program runs (about 13 ms per GiB of resident heap).  False if
 * tracking is unavailable or failed: the cycle stops the world instead. */
bool dirty_arm(void)
{
    lock_acquire(&mheap_.lock);
    if (!available_locked()) {
        lock_release(&mheap_.lock);
        return false;
    }
    /* From here grow() protects the arenas it adds, and the scavenger
     * (which runs under this lock) releases nothing. */
    store32(&dt.tracking, 1);
    uint32_t n = mheap_.narenas;
    lock_release(&mheap_.lock);
    for (uint32_t i = 0; i < n; i++) {
        if (!uffd_protect(mheap_.arenas[i]->base, ARENA_BYTES)) {
            dirty_disarm();
            return false;
        }
    }
    return load32(&dt.state) == 1;
}

void dirty_disarm(void)
{
    store32(&dt.tracking, 0);
}

/* Call fn for every run of pages of the arena at base written since arming
 * or since the last collection with rearm (which protects them again).
 * worker: which marking thread asks (each has its own buffer).  Returns
 * the number of pages, or -1 if the kernel refused (the caller must then
 * treat every page as written). */
long dirty_collect_arena(uint32_t worker, uintptr_t base, bool rearm,
                         void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx)
{
    static struct page_region *vecs[DIRTY_MAX_WORKERS];
    if (worker >= DIRTY_MAX_WORKERS)
        return -1;
    struct page_region *vec = vecs[worker];
    if (!vec) {
        vec = mmap(NULL, VEC_LEN * sizeof *vec, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (vec == MAP_FAILED)
            return -1;
        vecs[worker] = vec;
    }
    long pages = 0;
    uintptr_t lo = base, hi = base + ARENA_BYTES;
    while (lo < hi) {
        uintptr_t stop;
        long k = pagemap_scan(vec, VEC_LEN, lo, hi, rearm, &stop);
        if (k < 0)
            return -1;
        for (long j = 0; j < k; j++) {
            fn(ctx, vec[j].start, vec[j].end);
            pages += (long)((vec[j].end - vec[j].start) / OS_PAGE);
        }
        if (stop <= lo)
            return -1;
        lo = stop;
    }
    return pages;
}
