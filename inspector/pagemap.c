/*
 * pagemap.c — pages that hold something, and pages written (pagemap.h).
 */
#include "pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* PAGEMAP_SCAN (Linux 6.7, linux/fs.h), missing from older headers. */
struct scan_region {
    uint64_t start, end, categories;
};

struct scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PAGEMAP_SCAN_IOCTL _IOWR('f', 16, struct scan_arg)
#define CAT_FILE (1ull << 2)
#define CAT_PRESENT (1ull << 3)
#define CAT_SWAPPED (1ull << 4)
#define CAT_PFNZERO (1ull << 5)
#define CAT_SOFT_DIRTY (1ull << 7)

/* A pagemap entry. */
#define E_PRESENT (1ull << 63)
#define E_SWAPPED (1ull << 62)
#define E_FILE (1ull << 61)
#define E_SOFT_DIRTY (1ull << 55)
#define E_PFN ((1ull << 55) - 1)

enum { SCAN_VEC = 4096, ENTRIES = 65536 };

/* Consecutive pages with the same flags, merged before they are handed on. */
struct runs {
    pagemap_fn fn;
    void *ctx;
    uint64_t start, end;
    unsigned flags;
};

static void run_add(struct runs *r, uint64_t start, uint64_t end, unsigned flags)
{
    if (r->end == start && r->flags == flags && r->end > r->start) {
        r->end = end;
        return;
    }
    if (r->end > r->start)
        r->fn(r->ctx, r->start, r->end, r->flags);
    r->start = start;
    r->end = end;
    r->flags = flags;
}

static void run_done(struct runs *r)
{
    if (r->end > r->start)
        r->fn(r->ctx, r->start, r->end, r->flags);
    r->start = r->end = 0;
}

static uint64_t self_entry(const volatile void *p)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t e = 0;
    if (fd >= 0) {
        if (pread(fd, &e, sizeof e, (off_t)((uintptr_t)p / PM_PAGE * 8)) != sizeof e)
            e = 0;
        close(fd);
    }
    return e;
}

/* The frame of the shared zero page, which a read of untouched anonymous
 * memory maps (visible with CAP_SYS_ADMIN only; else 0). */
static uint64_t zero_pfn(void)
{
    void *m = mmap(NULL, PM_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 0;
    volatile const char *p = m;
    (void)p[0];
    uint64_t e = self_entry(p);
    munmap(m, PM_PAGE);
    return (e & E_PRESENT) ? e & E_PFN : 0;
}

int pagemap_open(pid_t pid, struct pagemap *pm, struct fail *f)
{
    memset(pm, 0, sizeof *pm);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    pm->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (pm->fd < 0)
        return fail_set(f, "%s: %s", path, strerror(errno));
    pm->pid = pid;
    pm->zero_pfn = zero_pfn();
    return 0;
}

void pagemap_close(struct pagemap *pm)
{
    if (pm->fd >= 0)
        close(pm->fd);
    free(pm->entries);
    pm->fd = -1;
    pm->entries = NULL;
}

/* With PAGEMAP_SCAN; -1 with errno when it fails (*midway: after some
 * runs were handed on). */
static int scan_runs(struct pagemap *pm, uint64_t lo, uint64_t hi, unsigned want, struct runs *r,
                     bool *midway)
{
    struct scan_region *vec = (struct scan_region *)pm->entries;
    uint64_t at = lo;
    while (at < hi) {
        struct scan_arg a = {
            .size = sizeof a,
            .start = at,
            .end = hi,
            .vec = (uintptr_t)vec,
            .vec_len = SCAN_VEC,
            .category_inverted = CAT_PFNZERO,
            .category_mask = CAT_PFNZERO,
            .category_anyof_mask = CAT_PRESENT | CAT_SWAPPED,
            .return_mask = CAT_PRESENT | (want & PM_DIRTY ? CAT_SOFT_DIRTY : 0) |
                           (want & PM_FILE ? CAT_FILE : 0),
        };
        long n = ioctl(pm->fd, PAGEMAP_SCAN_IOCTL, &a);
        if (n < 0 && errno == EINTR)
            continue;
        *midway = at > lo;
        if (n < 0)
            return -1;
        for (long i = 0; i < n; i++)
            run_add(r, vec[i].start, vec[i].end,
                    (vec[i].categories & CAT_SOFT_DIRTY ? PM_DIRTY : 0) |
                        (vec[i].categories & CAT_FILE ? PM_FILE : 0));
        if (a.walk_end <= at) {
            errno = EIO;
            return -1;
        }
        at = a.walk_end;
    }
    return 0;
}

/* By reading the entries. */
static int read_runs(struct pagemap *pm, uint64_t lo, uint64_t hi, unsigned want,
                     struct runs *r, struct fail *f)
{
    uint64_t at = lo;
    while (at < hi) {
        uint64_t n = (hi - at) / PM_PAGE;
        if (n > ENTRIES)
            n = ENTRIES;
        ssize_t got = pread(pm->fd, pm->entries, n * 8, (off_t)(at / PM_PAGE * 8));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return fail_set(f, "/proc/%d/pagemap: %s", (int)pm->pid, strerror(errno));
        if (got < 8)
            break;                  /* past the process's address space: nothing */
        size_t k = (size_t)got / 8;
        for (size_t i = 0; i < k; i++) {
            uint64_t e = pm->entries[i];
            if (!(e & (E_PRESENT | E_SWAPPED)))
                continue;
            if ((e & E_PRESENT) && pm->zero_pfn && (e & E_PFN) == pm->zero_pfn)
                continue;
            uint64_t page = at + i * PM_PAGE;
            run_add(r, page, page + PM_PAGE,
                    ((e & E_SOFT_DIRTY ? PM_DIRTY : 0) | (e & E_FILE ? PM_FILE : 0)) & want);
        }
        at += k * PM_PAGE;
    }
    return 0;
}

int pagemap_runs(struct pagemap *pm, uint64_t lo, uint64_t hi, unsigned want, pagemap_fn fn,
                 void *ctx, struct fail *f)
{
    if (!pm->entries) {
        size_t need = ENTRIES * 8;
        if (need < SCAN_VEC * sizeof(struct scan_region))
            need = SCAN_VEC * sizeof(struct scan_region);
        pm->entries = xmalloc(need);
    }
    struct runs r = {fn, ctx, 0, 0, 0};
    if (!pm->no_scan) {
        bool midway = false;
        if (scan_runs(pm, lo, hi, want, &r, &midway) == 0) {
            run_done(&r);
            return 0;
        }
        /* an older kernel: no such ioctl, or not every category */
        if (midway || (errno != ENOTTY && errno != EINVAL && errno != EOPNOTSUPP))
            return fail_set(f, "/proc/%d/pagemap: %s", (int)pm->pid, strerror(errno));
        pm->no_scan = true;
    }
    int rc = read_runs(pm, lo, hi, want, &r, f);
    run_done(&r);
    return rc;
}

int softdirty_clear(pid_t pid, struct fail *f)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_set(f, "%s: %s", path, strerror(errno));
    ssize_t n = write(fd, "4", 1);
    int e = errno;
    close(fd);
    if (n != 1)
        return fail_set(f, "%s: %s", path, n < 0 ? strerror(e) : "short write");
    return 0;
}

bool softdirty_available(void)
{
    static int known = -1;
    if (known >= 0)
        return known;
    known = 0;
    void *m = mmap(NULL, PM_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    volatile char *p = m;
    p[0] = 1;
    if (softdirty_clear(getpid(), NULL) == 0) {
        uint64_t before = self_entry(p);
        p[0] = 2;
        uint64_t after = self_entry(p);
        known = (before & E_PRESENT) && !(before & E_SOFT_DIRTY) && (after & E_SOFT_DIRTY);
    }
    munmap(m, PM_PAGE);
    return known;
}
