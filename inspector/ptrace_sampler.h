/*
 * ptrace_sampler.h — samples taken from snapshots (snapshot.h), for where
 * perf_event_open cannot be used and for --idle.
 *
 * The ptrace fallback stops the target for every sample, py-spy's way: a
 * snapshot of the G table and of every thread's registers and stack, taken
 * with PTRACE_INTERRUPT (target_live.c) and released at once; each thread
 * that was on a CPU when it was stopped is a sample, unwound from its
 * registers.  On a CPU means runnable (state R) and with more CPU time
 * than at the last sample (/proc/PID/task/TID/schedstat): a thread that
 * waits for a CPU is runnable too (on a machine busier than its CPUs such
 * samples count time spent waiting for one), and a thread woken only by
 * the stop itself uses little.  With --nonstop nothing is stopped and no thread's registers
 * are known: a thread on a CPU is a sample of the goroutine its M runs, at
 * that goroutine's start function only.
 */
#ifndef GOINSPECT_PTRACE_SAMPLER_H
#define GOINSPECT_PTRACE_SAMPLER_H

#include "recording.h"
#include "session.h"

/* The CPU time each thread had at the last sample. */
struct cpu_clocks {
    struct cpu_clock {
        pid_t tid;
        uint64_t ns;
    } *v;
    size_t n, cap;
};
void cpu_clocks_free(struct cpu_clocks *c);

/* Adds a sample, standing for r->period_ns, of every thread of the
 * session's snapshot that was on a CPU (the first call only notes the
 * threads' CPU times). */
void sample_running(struct session *ss, struct recording *r, struct cpu_clocks *c);
/* Adds a sample of every parked goroutine of the snapshot (but the
 * runtime's own): where it waits, standing for ns (the time since the
 * last such sample). */
void sample_parked(struct session *ss, struct recording *r, uint64_t ns);

#endif
