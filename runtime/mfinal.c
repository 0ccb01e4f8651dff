/*
 * mfinal.c — finalizers.
 *
 * gort_set_finalizer(obj, fn) records fn for an object (the base address of
 * a gort_alloc block) in a hash table outside the heap; the table does not
 * keep objects alive.  After each mark, for the finalizable objects left
 * unmarked: first everything they reference is marked (so an object
 * reachable from another finalizable object keeps its finalizer for a later
 * cycle, as in Go), then each one still unmarked is marked itself, its
 * entry removed and its finalizer queued.  The finalizer goroutine
 * (waiting with reason "finalizer wait") runs queued finalizers one at a
 * time; the object stays alive until its finalizer has run and it becomes
 * unreachable again.  Each finalizer runs exactly once.
 */
#include <string.h>
#include <sys/mman.h>

#include "heap.h"

struct finentry {
    uintptr_t obj;                      /* 0: empty; 1: deleted */
    void (*fn)(void *);
};

struct finrec {
    struct finrec *next;
    uintptr_t obj;
    void (*fn)(void *);
};

static struct {
    struct rtlock lock;
    struct finentry *tab;
    size_t cap, used, live;             /* used counts deleted slots too */
    /* queued finalizers, oldest first */
    struct finrec *head, *tail, *free;
    struct g *fing;                     /* the finalizer goroutine */
    uint32_t fing_waiting;
    /* marking scratch: unreachable finalizable objects of this cycle */
    uintptr_t *pending;
    size_t npending, cappending;
} fin;

enum { DELETED = 1 };

static size_t hash(uintptr_t p, size_t cap)
{
    return (size_t)((p >> 3) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static void *big_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw_oom(bytes);
    return p;
}

static struct finentry *lookup(uintptr_t obj)
{
    if (!fin.cap)
        return NULL;
    for (size_t i = hash(obj, fin.cap);; i = (i + 1) & (fin.cap - 1)) {
        if (fin.tab[i].obj == obj)
            return &fin.tab[i];
        if (fin.tab[i].obj == 0)
            return NULL;
    }
}

static void insert_raw(struct finentry *tab, size_t cap, uintptr_t obj, void (*fn)(void *))
{
    size_t i = hash(obj, cap);
    while (tab[i].obj > DELETED)
        i = (i + 1) & (cap - 1);
    tab[i].obj = obj;
    tab[i].fn = fn;
}

static void grow_table(void)
{
    size_t cap = fin.cap ? fin.cap * 2 : 1024;
    if (fin.live * 4 < fin.cap)
        cap = fin.cap;                 /* mostly deleted slots: rehash in place size */
    struct finentry *tab = big_alloc(cap * sizeof *tab);
    for (size_t i = 0; i < fin.cap; i++)
        if (fin.tab[i].obj > DELETED)
            insert_raw(tab, cap, fin.tab[i].obj, fin.tab[i].fn);
    if (fin.tab)
        munmap(fin.tab, fin.cap * sizeof *fin.tab);
    fin.tab = tab;
    fin.cap = cap;
    fin.used = fin.live;
}

static void remove_entry(struct finentry *e)
{
    e->obj = DELETED;
    e->fn = NULL;
    fin.live--;
}

static void fing_loop(void *arg);

void gort_set_finalizer(void *obj, void (*fn)(void *))
{
    uintptr_t p = (uintptr_t)obj;
    if (!p)
        throw_("runtime.SetFinalizer: first argument is nil");
    struct span *s = span_of(p);
    if (!s || s->state != SPAN_INUSE)
        throw_("runtime.SetFinalizer: pointer not in allocated block");
    uint32_t idx = s->sizeclass ? span_objindex(s, p) : 0;
    if (idx >= s->nelems || s->base + (uintptr_t)idx * s->elemsize != p)
        throw_("runtime.SetFinalizer: pointer not at beginning of allocated block");
    lock_acquire(&fin.lock);
    struct finentry *e = lookup(p);
    if (!fn) {
        if (e)
            remove_entry(e);
        lock_release(&fin.lock);
        return;
    }
    if (e) {
        lock_release(&fin.lock);
        throw_("runtime.SetFinalizer: finalizer already set");
    }
    if ((fin.used + 1) * 4 > fin.cap * 3)
        grow_table();
    insert_raw(fin.tab, fin.cap, p, fn);
    fin.used++;
    fin.live++;
    bool start = !fin.fing;
    if (start)
        fin.fing = (struct g *)1;      /* claimed; set for real below */
    lock_release(&fin.lock);
    if (start)
        gort_go(fing_loop, NULL);
}

/* ---- During the cycle (world stopped) --------------------------------------------- */

static void pending_add(uintptr_t p)
{
    if (fin.npending == fin.cappending) {
        size_t cap = fin.cappending ? fin.cappending * 2 : 1024;
        uintptr_t *a = big_alloc(cap * sizeof *a);
        if (fin.npending)
            memcpy(a, fin.pending, fin.npending * sizeof *a);
        if (fin.pending)
            munmap(fin.pending, fin.cappending * sizeof *a);
        fin.pending = a;
        fin.cappending = cap;
    }
    fin.pending[fin.npending++] = p;
}

static void queue(uintptr_t obj, void (*fn)(void *))
{
    struct finrec *r = fin.free;
    if (r)
        fin.free = r->next;
    else
        r = persistent_alloc(sizeof *r);
    r->next = NULL;
    r->obj = obj;
    r->fn = fn;
    if (fin.tail)
        fin.tail->next = r;
    else
        fin.head = r;
    fin.tail = r;
}

bool gc_is_marked(uintptr_t p);   /* mgcmark.c */

void finalizers_mark(void)
{
    if (fin.live == 0)
        return;
    fin.npending = 0;
    for (size_t i = 0; i < fin.cap; i++)
        if (fin.tab[i].obj > DELETED && !gc_is_marked(fin.tab[i].obj))
            pending_add(fin.tab[i].obj);
    if (fin.npending == 0)
        return;
    /* What unreachable finalizable objects reference stays alive. */
    for (size_t i = 0; i < fin.npending; i++) {
        struct span *s = span_of(fin.pending[i]);
        if (!s->noscan)
            gc_mark_range(fin.pending[i], fin.pending[i] + s->elemsize);
    }
    gc_drain();
    /* Those still unmarked are kept for their finalizer, which is queued. */
    for (size_t i = 0; i < fin.npending; i++) {
        uintptr_t p = fin.pending[i];
        if (gc_is_marked(p))
            continue;
        struct finentry *e = lookup(p);
        queue(p, e->fn);
        remove_entry(e);
        gc_mark_object_root(p);
    }
    gc_drain();
}

/* Queued finalizers' objects are roots. */
void finalizers_scan_roots_with(void (*mark)(void *ctx, uintptr_t p), void *ctx)
{
    for (struct finrec *r = fin.head; r; r = r->next)
        mark(ctx, r->obj);
}

/* ---- The finalizer goroutine -------------------------------------------------------- */

void finalizers_wake(void)
{
    lock_acquire(&fin.lock);
    struct g *gp = fin.head && fin.fing_waiting ? fin.fing : NULL;
    if (gp)
        fin.fing_waiting = 0;
    lock_release(&fin.lock);
    if (gp)
        ready(gp, false);
}

/* Run the finalizer of r (taken off the queue) in a frame of its own: the
 * object's address then lives only in this frame and in fn's, so once they
 * return no register or stack slot of the finalizer goroutine still holds
 * it (which would keep the object alive, conservatively, one cycle more).
 * The caller must not load it either: it could sit in a callee-saved
 * register until the goroutine next parks, and be scanned from there. */
__attribute__((noinline)) static void run_finalizer(struct finrec *r)
{
    void *obj = (void *)r->obj;
    void (*fn)(void *) = r->fn;
    r->obj = 0;
    fn(obj);
    gort_keepalive(obj);       /* alive until fn returns */
}

static void fing_loop(void *arg)
{
    (void)arg;
    struct g *self = getg();
    self->system = true;
    xadd_i32(&sched.nsysg, 1);
    lock_acquire(&fin.lock);
    fin.fing = self;
    for (;;) {
        struct finrec *r = fin.head;
        if (!r) {
            fin.fing_waiting = 1;
            /* The finalizers just run left their objects' addresses below
             * this frame, where park's frames are about to sit. */
            stack_scrub();
            park_unlock(WR_FINALIZER, &fin.lock);
            lock_acquire(&fin.lock);
            continue;
        }
        fin.head = r->next;
        if (!fin.head)
            fin.tail = NULL;
        lock_release(&fin.lock);
        run_finalizer(r);          /* r is off the queue: only this loop has it */
        lock_acquire(&fin.lock);
        r->next = fin.free;
        fin.free = r;
    }
}
