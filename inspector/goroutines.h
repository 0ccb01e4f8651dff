/*
 * goroutines.h — the runtime model built from a snapshot: every
 * goroutine's and thread's stack unwound and interned (goroutines parked at
 * the same place share one stack), frames symbolized through the cache,
 * and the views the commands print: the current, "user" and creation
 * frames of a goroutine, filters, and groups of identical stacks.
 */
#ifndef GOINSPECT_GOROUTINES_H
#define GOINSPECT_GOROUTINES_H

#include <stdbool.h>
#include <stdint.h>

#include "modules.h"
#include "snapshot.h"
#include "symcache.h"
#include "u64map.h"
#include "unwind.h"

#define NO_STACK UINT32_MAX
#define NOT_UNWOUND (UINT32_MAX - 1)
#define MAX_FRAMES 1024

/* A frame as shown: one per function, an inlined call a frame of its own. */
struct xframe {
    uint64_t pc;            /* the frame's pc: exact for the innermost frame of a stopped
                               thread, else a return address (its line is that of pc - 1) */
    bool exact;
    struct sym_frame sym;
    bool signal;            /* a signal frame: sym is SIGNAL_FRAME_NAME */
};

/* An interned stack: pcs (PC_EXACT-tagged) and why the walk stopped. */
struct gstack {
    uint32_t first, n;
    uint8_t stop;           /* enum unwind_stop */
    uint32_t next;          /* next stack with the same hash */
    uint64_t hash;
};

/* A parked goroutine's walk that stands for any other's with the same
 * first pc and stack copy length whose return addresses are the same at
 * the same offsets (model_unwind_parked). */
#define WALK_MEMO_FRAMES 32
#define WALK_MEMOS 64
struct walk_memo {
    bool valid;
    uint64_t rip, len;
    uint32_t id, n;
    uint32_t off[WALK_MEMO_FRAMES]; /* of frames 1..n-1: where the return address is, */
    uint64_t ra[WALK_MEMO_FRAMES];  /* from the first stack pointer, and what it is */
};

struct model {
    struct snapshot *s;
    struct modules *mods;
    struct symcache sc;
    struct unwinder uw;
    uint64_t *pcs;
    size_t npcs, cappcs;
    struct gstack *stacks;
    size_t nstacks, capstacks;
    struct u64map by_hash;
    uint32_t *g_stack;      /* per snapshot goroutine */
    uint32_t *thread_stack; /* per target thread, unwound on first use */
    uint32_t *order;        /* goroutine indexes by id, unreadable entries last */
    bool by_addr_sorted;    /* a G is found by address in s->gs itself (model_g_at) */
    struct u64map g_by_addr;/* else: G address -> goroutine index */
    struct stackinfo {      /* per stack, computed on first use */
        bool done, has_frames;
        int8_t match;       /* model_stack_mentions(match_text): -1 unknown */
        bool folded_done;
        uint32_t folded;    /* model_folded_stack */
        struct xframe top, user;
    } *info;
    size_t capinfo;
    char *match_text;
    struct walk_memo *memos;        /* WALK_MEMOS of them, by first pc and length */
    struct u64map string_index;     /* formatted text, cached by the views */
    char **strings;
    size_t nstrings, capstrings;
};

/* The registers to unwind from: a goroutine's saved context, a thread's. */
void cfi_regs_from_ctx(const struct snap_g *g, struct cfi_regs *r);
void cfi_regs_from_thread(const struct target_regs *t, struct cfi_regs *r);

/* Prepares a model on mods (which must outlive it), before the snapshot:
 * model_unwind_parked may then be the snapshot's pre_unwind. */
void model_init(struct model *m, struct modules *mods);
/* The snapshot's pre_unwind (snap_unwind_fn): unwinds a parked goroutine
 * from its saved context and the stack copy at mem; its stack's id, or
 * SNAP_NOT_UNWOUND when the walk reached a pc in no readable module. */
uint32_t model_unwind_parked(void *m, const struct snap_g *g, const struct unwind_mem *mem);
/* Unwinds every goroutine of s not unwound before the stop (their stack
 * ids are in snap_g.unwound), and prepares the threads'. */
void model_build(struct model *m, struct snapshot *s);
void model_free(struct model *m);

/* The stack of thread i (an index in the target's threads), unwound on
 * first use. */
uint32_t model_thread_stack(struct model *m, size_t i);
/* The symbolized frames of one pc of a stack (PC_EXACT, PC_SIGNAL-tagged):
 * its inline chain, innermost first, or the one frame of a signal frame.
 * Valid until the next lookup. */
const struct sym_frame *model_pc_syms(struct model *m, uint64_t v, uint32_t *n);
/* The frame shown for sym, one of the frames of tagged pc v. */
static inline struct xframe xframe_of(uint64_t v, const struct sym_frame *sym)
{
    return (struct xframe){pc_of(v), (v & PC_EXACT) != 0, *sym, (v & PC_SIGNAL) != 0};
}
/* The frames of a stack (expanded inline chains), into *out (grown as
 * needed); returns how many. */
size_t model_frames(struct model *m, uint32_t stack, struct xframe **out, size_t *cap);
/* The innermost and the first user frame of a stack (false when it has no
 * frame). */
bool model_top_user(struct model *m, uint32_t stack, struct xframe *top, struct xframe *user);
/* The stack without the runtime's own frames (those whose pc lies in the
 * runtime's text, the frames a crash dump hides), interned; the stack
 * itself when every frame is the runtime's. */
uint32_t model_folded_stack(struct model *m, uint32_t stack);
/* Where goroutine g was created (false for goroutine 1 or when unknown). */
bool model_created_by(struct model *m, const struct snap_g *g, struct xframe *out);
/* The goroutine with that id, or NULL. */
const struct snap_g *model_find_goid(const struct model *m, uint64_t goid);
/* The goroutine whose G is at addr, or NULL. */
const struct snap_g *model_g_at(const struct model *m, uint64_t addr);
/* Does any frame of the stack name a function or file containing text? */
bool model_stack_mentions(struct model *m, uint32_t stack, const char *text);
/* A frame as "function file:line" (or "function (module+0xoff)"). */
void xframe_format(const struct model *m, const struct xframe *f, char *buf, size_t len);

/* Text the views format once and reuse, by a key of theirs. */
const char *model_string(const struct model *m, uint64_t key);
const char *model_keep_string(struct model *m, uint64_t key, const char *str);

/* ---- Groups of goroutines with the same state and the same key ------------- */

/* What goroutines are grouped by, besides their state and wait reason
 * (Delve's goroutines -group): the frames of the stack with the runtime's
 * folded away (by function and line, not pc), the first user frame, the
 * creation site, the start function, or the whole stack (by pc). */
enum gkind { GK_STACK, GK_USER, GK_GO, GK_START, GK_FULL, GK_NKINDS };
extern const char *const gkind_names[GK_NKINDS];
#define GKIND_LIST "stack, user, go, start, full"
/* The kind named s, or -1. */
int gkind_parse(const char *s);

struct ggroup {
    uint32_t status, waitreason;
    uint32_t key;               /* a stack (GK_FULL), else the text of a folded stack
                                   or of a location */
    uint32_t stack;             /* the stack shown: folded (GK_STACK), whole (GK_FULL),
                                   the first member's otherwise */
    bool has_loc;               /* GK_USER, GK_GO, GK_START: loc is the key's frame */
    struct xframe loc;
    uint32_t count;
    const uint32_t *members;    /* goroutine indexes, by id */
};

struct ggroups {
    enum gkind kind;
    struct ggroup *v;
    size_t n;
    uint32_t *all;
};

/* Groups the goroutines sel[0..n) (indexes, in id order) by kind, largest
 * first. */
void model_group(struct model *m, const uint32_t *sel, size_t n, enum gkind kind,
                 struct ggroups *out);
void ggroups_free(struct ggroups *g);

#endif
