/*
 * sigframe.h — the frame the kernel writes on a stack when it delivers a
 * signal (x86-64's struct rt_sigframe: the return address into the
 * sigreturn trampoline, then the ucontext with the interrupted registers).
 *
 * A handler that runs on an alternate signal stack (sigaltstack and
 * SA_ONSTACK: crash handlers, libgort's SIGURG handler) interrupted a
 * context on another stack, which a copy of the thread's stack from its
 * stack pointer does not hold.  Unwinding happens after the target is
 * released, so the snapshot must find that other stack while the target is
 * stopped, without call-frame information: from the kernel's frame itself,
 * recognized by its own consistency (its uc_stack describes an alternate
 * stack that holds both the frame and the thread's stack pointer).
 */
#ifndef GOINSPECT_SIGFRAME_H
#define GOINSPECT_SIGFRAME_H

#include <stdint.h>

#include "unwind.h"

/* The stack pointer of the context that a signal handler running on an
 * alternate signal stack interrupted on another stack, when mem (a
 * thread's stack copied from its stack pointer sp up) holds the kernel's
 * frame of that signal; 0 when it holds none. */
uint64_t sigframe_interrupted_sp(const struct unwind_mem *mem, uint64_t sp);

#endif
