/*
 * memprofsnap.c — copying the allocation profile's bucket list: the header
 * (root "memprof"), then each bucket by its next pointer, every read
 * bounded (at most the table's count of buckets, memprof_max_stack pcs
 * each) so that a corrupt list ends the walk with a message, never a loop.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "memprofsnap.h"
#include "snapshot.h"
#include "u64map.h"

enum { MAX_BUCKETS = 1 << 20, MAX_STACK = 256, DEPTH_GUESS = 32 };

static void set_error(struct memprofsnap *m, const char *fmt, unsigned long long a)
{
    char buf[160];
    snprintf(buf, sizeof buf, fmt, a);
    free(m->error);
    m->error = xstrdup(buf);
}

void memprofsnap_copy(struct snapshot *s)
{
    const struct rtdesc *d = s->d;
    const struct rt_root *root = rtdesc_root(d, "memprof");
    const struct rt_type *ht = rtdesc_type(d, "memprof"), *bt = rtdesc_type(d, "memprof_bucket");
    if (!s->memprof)
        s->memprof = xcalloc(1, sizeof *s->memprof);
    struct memprofsnap *m = s->memprof;
    if (!root || !ht || !bt)
        return;                             /* before version 3: no table */
    m->present = true;
    uint32_t hsize = ht->size, bsize = bt->size;
    struct rt_field f_head = rt_field_fit(rtdesc_field(d, "memprof", "buckets"), hsize),
                    f_rate = rt_field_fit(rtdesc_field(d, "memprof", "rate"), hsize),
                    f_nsamples = rt_field_fit(rtdesc_field(d, "memprof", "nsamples"), hsize),
                    f_next = rt_field_fit(rtdesc_field(d, "memprof_bucket", "next"), bsize),
                    f_ao = rt_field_fit(rtdesc_field(d, "memprof_bucket", "alloc_objects"), bsize),
                    f_ab = rt_field_fit(rtdesc_field(d, "memprof_bucket", "alloc_bytes"), bsize),
                    f_fo = rt_field_fit(rtdesc_field(d, "memprof_bucket", "free_objects"), bsize),
                    f_fb = rt_field_fit(rtdesc_field(d, "memprof_bucket", "free_bytes"), bsize),
                    f_nstk = rt_field_fit(rtdesc_field(d, "memprof_bucket", "nstk"), bsize),
                    f_stk = rtdesc_field(d, "memprof_bucket", "stk");
    if (!f_head.present || !f_next.present || !f_nstk.present || !f_stk.present ||
        hsize > 4096 || bsize > 4096 || f_stk.offset > bsize) {
        m->error = xstrdup("the runtime describes an allocation profile this goinspect cannot "
                           "read");
        return;
    }
    uint8_t hdr[4096], bk[4096 + MAX_STACK * 8 + DEPTH_GUESS * 8];
    if (!target_read_full(s->t, root->addr, hdr, hsize)) {
        set_error(m, "the allocation profile's table at %#llx cannot be read",
                  (unsigned long long)root->addr);
        return;
    }
    m->rate = (int64_t)rt_get_fit(hdr, f_rate);
    m->nsamples = rt_get_fit(hdr, f_nsamples);
    /* The list holds nbuckets (one more while a bucket is being added):
     * a longer one loops. */
    struct rt_field f_nbuckets = rt_field_fit(rtdesc_field(d, "memprof", "nbuckets"), hsize);
    uint64_t limit = MAX_BUCKETS;
    if (f_nbuckets.present && rt_get_fit(hdr, f_nbuckets) < MAX_BUCKETS)
        limit = rt_get_fit(hdr, f_nbuckets) + 1;
    size_t cap = 0, cappcs = 0;
    struct u64map seen;             /* bucket addresses: a loop ends the walk */
    u64map_init(&seen);
    for (uint64_t addr = rt_get_fit(hdr, f_head); addr; addr = rt_get_fit(bk, f_next)) {
        uint32_t dummy;
        if (m->n == limit || u64map_get(&seen, addr, &dummy)) {
            set_error(m, "the allocation profile's bucket list loops or is longer than the %llu "
                         "buckets its table counts: the rest is left out",
                      (unsigned long long)limit - (limit < MAX_BUCKETS));
            break;
        }
        u64map_put(&seen, addr, 1);
        /* The bucket and a stack of the usual depth in one read. */
        size_t want = f_stk.offset + DEPTH_GUESS * 8, got = target_read(s->t, addr, bk, want);
        if (got < bsize) {
            set_error(m, "an allocation profile bucket at %#llx cannot be read: the rest of "
                         "the list is left out", (unsigned long long)addr);
            break;
        }
        uint64_t nstk = rt_get_fit(bk, f_nstk);
        if (nstk > MAX_STACK ||
            (f_stk.offset + nstk * 8 > got &&
             !target_read_full(s->t, addr + f_stk.offset, bk + f_stk.offset, nstk * 8))) {
            set_error(m, "the stack of the allocation profile bucket at %#llx is corrupt or "
                         "unreadable: the rest of the list is left out", (unsigned long long)addr);
            break;
        }
        xgrow(&m->b, &cap, m->n + 1, sizeof *m->b);
        xgrow(&m->pcs, &cappcs, m->npcs + nstk + 1, sizeof *m->pcs);
        struct mp_bucket *b = &m->b[m->n++];
        *b = (struct mp_bucket){rt_get_fit(bk, f_ao), rt_get_fit(bk, f_ab), rt_get_fit(bk, f_fo),
                                rt_get_fit(bk, f_fb), (uint32_t)m->npcs, (uint32_t)nstk};
        memcpy(m->pcs + m->npcs, bk + f_stk.offset, nstk * 8);
        m->npcs += nstk;
    }
    u64map_free(&seen);
}

void memprofsnap_free(struct memprofsnap *m)
{
    free(m->b);
    free(m->pcs);
    free(m->error);
    memset(m, 0, sizeof *m);
}

double memprof_scale(uint64_t count, uint64_t bytes, int64_t rate, bool want_bytes)
{
    if (count == 0)
        return 0;
    double v = want_bytes ? (double)bytes : (double)count;
    if (rate <= 1)
        return v;                           /* every allocation sampled */
    double avg = (double)bytes / (double)count;
    return v / (1 - exp(-avg / (double)rate));
}
