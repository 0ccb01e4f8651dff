/*
 * atomics.h — the runtime's atomic operations, as thin inline wrappers over
 * the compiler's __atomic builtins (gcc and clang), on plain integer and
 * pointer fields so the structures keep fixed, documented layouts.
 */
#ifndef GORT_ATOMICS_H
#define GORT_ATOMICS_H

#include <stdbool.h>
#include <stdint.h>

#define ATOMIC_OPS(T, S)                                                           \
    static inline T load##S(const T *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); } \
    static inline T loadrelaxed##S(const T *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); } \
    static inline void store##S(T *p, T v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); } \
    static inline void storerelaxed##S(T *p, T v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); } \
    static inline T xadd##S(T *p, T d) { return __atomic_add_fetch(p, d, __ATOMIC_ACQ_REL); } \
    static inline T xchg##S(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL); } \
    static inline bool cas##S(T *p, T old, T new_)                                 \
    {                                                                              \
        return __atomic_compare_exchange_n(p, &old, new_, false, __ATOMIC_ACQ_REL, \
                                           __ATOMIC_ACQUIRE);                      \
    }

ATOMIC_OPS(uint8_t, 8)
ATOMIC_OPS(uint32_t, 32)
ATOMIC_OPS(uint64_t, 64)
ATOMIC_OPS(int32_t, _i32)
ATOMIC_OPS(int64_t, _i64)

#undef ATOMIC_OPS

static inline void *loadp(void *const *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void storep(void **p, void *v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline bool casp(void **p, void *old, void *new_)
{
    return __atomic_compare_exchange_n(p, &old, new_, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline void *xchgp(void **p, void *v) { return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL); }

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

#endif /* GORT_ATOMICS_H */
