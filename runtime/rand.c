/*
 * rand.c — fast non-cryptographic randomness (wyrand) for scheduling
 * decisions: select's case order and work-stealing victims.  Per-M state,
 * with a shared atomic state for threads that are not Ms.
 */
#include "runtime.h"

static uint64_t global_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t wymix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)(r >> 64) ^ (uint64_t)r;
}

uint64_t fastrand64(void)
{
    struct m *m = getm();
    uint64_t s;
    if (m) {
        m->rand += 0xa0761d6478bd642full;
        s = m->rand;
    } else {
        s = xadd64(&global_state, 0xa0761d6478bd642full);
    }
    return wymix(s, s ^ 0xe7037ed1a0b428dbull);
}

uint32_t fastrandn(uint32_t n)
{
    /* Lemire's multiply-shift reduction: uniform enough for n << 2^32. */
    return (uint32_t)(((uint64_t)(uint32_t)fastrand64() * n) >> 32);
}
