/*
 * perf_sampler.h — sampling every thread of a process with
 * perf_event_open, never stopping it: a software clock counting each
 * thread's own CPU time (task-clock) fires every period, and the kernel
 * copies the thread's user registers and the top of its user stack into a
 * ring buffer, as `perf record --call-graph dwarf` has it do.
 *
 * The clock counts the thread's time in the kernel too where that is
 * allowed (a sample in a system call has the registers and stack of the
 * user code that made it), else its user time only.
 *
 * Threads are followed: the events are inherited by every thread a sampled
 * thread creates, and perf_sampler_follow opens events for threads that
 * appeared otherwise.  A thread sampled through both (its own events and
 * inherited ones) is counted through its own.
 */
#ifndef GOINSPECT_PERF_SAMPLER_H
#define GOINSPECT_PERF_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fail.h"
#include "target.h"

/* One sample, valid during the callback. */
struct perf_sample {
    pid_t tid;
    uint64_t period_ns;     /* the CPU time it stands for */
    bool has_regs;          /* false: the thread was not in user code */
    struct target_regs regs;
    const uint8_t *stack;   /* a copy of [regs.rsp, regs.rsp + stack_len) */
    size_t stack_len;
};

typedef void (*perf_sample_fn)(void *ctx, const struct perf_sample *s);

struct perf_sampler;

/* Opens an event on every thread of pid, sampling each every period_ns of
 * its CPU time with stack_bytes of its stack.  Fails with the kernel's
 * reason (perf_event_paranoid, seccomp...): the caller falls back. */
int perf_sampler_open(pid_t pid, uint64_t period_ns, size_t stack_bytes,
                      struct perf_sampler **out, struct fail *f);
/* Opens events on threads of pid that have none (listed in /proc). */
void perf_sampler_follow(struct perf_sampler *ps);
/* Waits up to timeout_ms for samples and hands each to fn; returns how
 * many were handed. */
size_t perf_sampler_read(struct perf_sampler *ps, int timeout_ms, perf_sample_fn fn, void *ctx);
/* Samples the kernel dropped (its buffer was full). */
uint64_t perf_sampler_lost(const struct perf_sampler *ps);
size_t perf_sampler_threads(const struct perf_sampler *ps);
/* Threads that could not be sampled: goinspect ran out of file
 * descriptors (an event per thread and CPU). */
size_t perf_sampler_missed(const struct perf_sampler *ps);
void perf_sampler_close(struct perf_sampler *ps);

#endif
