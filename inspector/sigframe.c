/*
 * sigframe.c — finding the kernel's frame of a signal delivered on an
 * alternate signal stack (sigframe.h).
 *
 * Layout (the kernel's arch/x86/include/asm/sigframe.h and uapi
 * asm/sigcontext.h), from the frame's start, where the handler's return
 * address is:
 *
 *     0    pretcode                  the trampoline (sa_restorer)
 *     8    uc.uc_flags               UC_FP_XSTATE, UC_SIGCONTEXT_SS, ...
 *     16   uc.uc_link                0
 *     24   uc.uc_stack.ss_sp         the alternate stack, as sigaltstack set it
 *     32   uc.uc_stack.ss_flags      0, SS_ONSTACK, | SS_AUTODISARM
 *     40   uc.uc_stack.ss_size
 *     48   uc.uc_mcontext            r8 ... r15, rdi, rsi, rbp, rbx, rdx, rax, rcx,
 *     168    .rsp                    rsp, rip, eflags, cs/gs/fs/ss, err, trapno,
 *     176    .rip                    oldmask, cr2,
 *     232    .fpstate                the FPU state, further up the same stack, or 0
 */
#include "sigframe.h"

#include <string.h>

enum {
    OFF_LINK = 16, OFF_SS_SP = 24, OFF_SS_FLAGS = 32, OFF_SS_SIZE = 40, OFF_RSP = 168,
    OFF_RIP = 176, OFF_FPSTATE = 232, FRAME_MIN = 240,
    SS_ONSTACK_ = 1, MAX_ALTSTACK = 1 << 30,
};
#define SS_AUTODISARM_ (1u << 31)

static uint64_t word(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

/* Is the frame at addr (copied at p) the kernel's, delivered on the
 * alternate stack it records, with the thread's sp on that stack too? */
static bool is_altstack_frame(const uint8_t *p, uint64_t addr, uint64_t sp)
{
    if (word(p, OFF_LINK) != 0 || word(p, 8) > 0xff || word(p, 0) == 0 || word(p, OFF_RIP) == 0)
        return false;
    uint64_t lo = word(p, OFF_SS_SP), size = word(p, OFF_SS_SIZE);
    uint32_t flags;
    memcpy(&flags, p + OFF_SS_FLAGS, sizeof flags);
    if (size == 0 || size > MAX_ALTSTACK || lo > UINT64_MAX - size ||
        (flags & ~(SS_ONSTACK_ | SS_AUTODISARM_)) != 0)
        return false;
    uint64_t hi = lo + size, fp = word(p, OFF_FPSTATE);
    return addr >= lo && hi - addr >= FRAME_MIN && sp >= lo && sp < hi &&
           (fp == 0 || (fp > addr && fp < hi));
}

uint64_t sigframe_interrupted_sp(const struct unwind_mem *mem, uint64_t sp)
{
    uint64_t lo = mem->lo > sp ? mem->lo : sp;
    if (!mem->data || mem->hi < lo || mem->hi - lo < FRAME_MIN + 16)
        return 0;
    /* The kernel places the frame as a call would leave it: 8 below a
     * multiple of 16.  From the outermost (the highest) down: a signal
     * nested in the handler interrupted the alternate stack itself. */
    uint64_t top = ((mem->hi - FRAME_MIN) & ~15ull) - 8;
    for (uint64_t k = 0, n = (top - lo) / 16 + 1; k < n && top - 16 * k >= lo; k++) {
        uint64_t a = top - 16 * k;
        const uint8_t *p = mem->data + (a - mem->lo);
        if (!is_altstack_frame(p, a, sp))
            continue;
        uint64_t rsp = word(p, OFF_RSP), ss = word(p, OFF_SS_SP);
        if (rsp != 0 && (rsp < ss || rsp >= ss + word(p, OFF_SS_SIZE)))
            return rsp;
    }
    return 0;
}
