/*
 * recording.c — aggregating and symbolizing samples (recording.h).
 */
#include "recording.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "unwind.h"

const char *const rec_mode_names[3] = {"perf", "ptrace", "nonstop"};

void rec_init(struct recording *r, struct modules *mods)
{
    memset(r, 0, sizeof *r);
    r->mods = mods;
    u64map_init(&r->stack_index);
    u64map_init(&r->owner_index);
    u64map_init(&r->entry_index);
}

void rec_free(struct recording *r)
{
    if (r->symbolized)
        symcache_free(&r->sc);
    u64map_free(&r->stack_index);
    u64map_free(&r->owner_index);
    u64map_free(&r->entry_index);
    free(r->pcs);
    free(r->stacks);
    free(r->owners);
    free(r->entries);
    memset(r, 0, sizeof *r);
}

static uint64_t hash_words(const uint64_t *w, size_t n, uint64_t seed)
{
    uint64_t h = u64_hash(seed ^ (n * 0x9e3779b97f4a7c15ull));
    for (size_t i = 0; i < n; i++)
        h = u64_hash(h ^ w[i]);
    return h;
}

static bool same_stack(const struct recording *r, uint32_t k, const uint64_t *pcs, uint32_t n)
{
    const struct rec_stack *s = &r->stacks[k];
    return s->n == n && (n == 0 || memcmp(r->pcs + s->first, pcs, n * sizeof *pcs) == 0);
}

static uint32_t stack_id(struct recording *r, const uint64_t *pcs, uint32_t n)
{
    uint64_t key = hash_words(pcs, n, 1);
    uint32_t k;
    for (; u64map_get(&r->stack_index, key, &k); key++)
        if (same_stack(r, k, pcs, n))
            return k;
    xgrow(&r->pcs, &r->cappcs, r->npcs + n + 1, sizeof *r->pcs);
    if (n)
        memcpy(r->pcs + r->npcs, pcs, n * sizeof *pcs);
    xgrow(&r->stacks, &r->capstacks, r->nstacks + 1, sizeof *r->stacks);
    k = (uint32_t)r->nstacks++;
    r->stacks[k] = (struct rec_stack){(uint32_t)r->npcs, n};
    r->npcs += n;
    u64map_put(&r->stack_index, key, k);
    return k;
}

static uint64_t owner_hash(const struct rec_owner *o)
{
    uint64_t w[4] = {o->goroutine, o->goid, o->gopc, (uint64_t)o->tid};
    uint64_t h = hash_words(w, 4, 2);
    for (const char *p = o->status; *p; p++)
        h = u64_hash(h ^ (unsigned char)*p);
    for (const char *p = o->wait; *p; p++)
        h = u64_hash(h ^ (unsigned char)*p);
    for (const char *p = o->thread; *p; p++)
        h = u64_hash(h ^ (unsigned char)*p);
    return h;
}

static bool same_owner(const struct rec_owner *a, const struct rec_owner *b)
{
    return a->goroutine == b->goroutine && a->goid == b->goid && a->gopc == b->gopc &&
           a->tid == b->tid && strcmp(a->status, b->status) == 0 &&
           strcmp(a->wait, b->wait) == 0 && strcmp(a->thread, b->thread) == 0;
}

static uint32_t owner_id(struct recording *r, const struct rec_owner *o)
{
    uint64_t key = owner_hash(o);
    uint32_t k;
    for (; u64map_get(&r->owner_index, key, &k); key++)
        if (same_owner(&r->owners[k], o))
            return k;
    xgrow(&r->owners, &r->capowners, r->nowners + 1, sizeof *r->owners);
    k = (uint32_t)r->nowners++;
    r->owners[k] = *o;
    u64map_put(&r->owner_index, key, k);
    return k;
}

uint32_t rec_add(struct recording *r, const uint64_t *pcs, uint32_t n, const struct rec_owner *o,
                 uint64_t ns, bool on_cpu)
{
    uint32_t s = stack_id(r, pcs, n), w = owner_id(r, o), e;
    uint64_t key = (uint64_t)s << 32 | w;
    if (!u64map_get(&r->entry_index, key, &e)) {
        xgrow(&r->entries, &r->capentries, r->nentries + 1, sizeof *r->entries);
        e = (uint32_t)r->nentries++;
        r->entries[e] = (struct rec_entry){s, w, 0, 0};
        u64map_put(&r->entry_index, key, e);
    }
    r->entries[e].samples++;
    r->entries[e].ns += ns;
    r->samples++;
    if (on_cpu)
        r->cpu_samples++;
    return e;
}

void rec_symbolize(struct recording *r)
{
    if (!r->symbolized)
        symcache_init(&r->sc, r->mods);
    r->symbolized = true;
}

size_t rec_pc_frames(struct recording *r, uint64_t v, struct rec_frame **out, size_t *cap,
                     size_t at)
{
    uint32_t n = 1;
    const struct sym_frame *sf = v & PC_SIGNAL ? symcache_signal(&r->sc, pc_of(v))
                                               : symcache_lookup(&r->sc, pc_lookup(v), &n);
    xgrow(out, cap, at + n, sizeof **out);
    for (uint32_t i = 0; i < n; i++)
        (*out)[at + i] = (struct rec_frame){sf[i].function ? sf[i].function : "??", sf[i].file,
                                            sf[i].line, sf[i].inlined, pc_of(v),
                                            (v & PC_EXACT) != 0, 0, sf[i].module};
    return at + n;
}

size_t rec_frames(struct recording *r, uint32_t s, struct rec_frame **out, size_t *cap)
{
    const struct rec_stack *st = &r->stacks[s];
    size_t n = 0;
    for (uint32_t i = 0; i < st->n; i++) {
        size_t before = n;
        n = rec_pc_frames(r, r->pcs[st->first + i], out, cap, n);
        for (size_t k = before; k < n; k++)
            (*out)[k].pc_index = i;
    }
    return n;
}

void rec_owner_name(const struct rec_owner *o, char *buf, size_t len)
{
    if (o->goroutine)
        snprintf(buf, len, "goroutine %llu", (unsigned long long)o->goid);
    else
        snprintf(buf, len, "thread %d (%s)", (int)o->tid, o->thread);
}

size_t rec_path(struct recording *r, const struct rec_entry *e, bool with_owner,
                struct rec_frame **out, size_t *cap)
{
    size_t n = rec_frames(r, e->stack, out, cap);
    for (size_t i = 0; i < n / 2; i++) {
        struct rec_frame x = (*out)[i];
        (*out)[i] = (*out)[n - 1 - i];
        (*out)[n - 1 - i] = x;
    }
    if (!with_owner && n > 0)
        return n;
    rec_owner_name(&r->owners[e->owner], r->owner_text, sizeof r->owner_text);
    xgrow(out, cap, n + 1, sizeof **out);
    memmove(*out + 1, *out, n * sizeof **out);
    (*out)[0] = (struct rec_frame){r->owner_text, NULL, 0, false, 0, false, 0, SYM_NO_MODULE};
    return n + 1;
}

bool rec_created_by(struct recording *r, const struct rec_owner *o, char *buf, size_t len)
{
    if (!o->goroutine || !o->gopc)
        return false;
    uint32_t n;
    const struct sym_frame *sf = symcache_lookup(&r->sc, o->gopc - 1, &n);
    if (!sf[0].function)
        snprintf(buf, len, "?? (%#llx)", (unsigned long long)o->gopc);
    else if (sf[0].file)
        snprintf(buf, len, "%s %s:%u", sf[0].function, sf[0].file, sf[0].line);
    else
        snprintf(buf, len, "%s", sf[0].function);
    return true;
}
