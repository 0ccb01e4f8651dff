/*
 * sysmon.c — the system monitor thread ("gort-sysmon").
 *
 * It runs without a P.  It retakes Ps from Ms blocked in system calls (so a
 * goroutine stuck in read() does not stop the others) and prints the
 * scheduler trace (GORT_DEBUG=schedtrace=MS), and returns heap pages that
 * stayed free for a while to the OS (the scavenger).  It polls every 20 us while
 * there is activity, backs off to 10 ms, and sleeps on a futex while every
 * P is idle, so an idle program uses no CPU.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "heap.h"

enum {
    SCAVENGE_AFTER_NS = 2000000000,          /* free spans unused this long go back to the OS */
    SCAVENGE_EVERY_NS = 500000000,
    SYSMON_MIN_NS = 20 * 1000,
    SYSMON_MAX_NS = 10 * 1000 * 1000,
    SYSCALL_RETAKE_NS = 10 * 1000 * 1000,   /* retake even when others are idle */
    PREEMPT_NS = 10 * 1000 * 1000,          /* a goroutine's turn before it is asked to yield */
};

void sysmon_wake(void)
{
    if (!load32(&sched.sysmonwait))
        return;
    lock_acquire(&sched.lock);
    if (sched.sysmonwait) {
        store32(&sched.sysmonwait, 0);
        note_wakeup(&sched.sysmonnote);
    }
    lock_release(&sched.lock);
}

/* Retake Ps blocked in system calls.  Returns how many were retaken. */
static int retake(int64_t now)
{
    int n = 0;
    for (int32_t i = 0; i < load_i32(&gomaxprocs); i++) {
        struct p *pp = allp[i];
        uint32_t st = load32(&pp->status);
        if (st == P_RUNNING) {
            /* The same goroutine for over 10 ms: ask it to yield at its
             * next allocation if anything else is waiting to run. */
            uint32_t t = load32(&pp->schedtick);
            if (pp->sysmon_schedtick != t) {
                pp->sysmon_schedtick = t;
                pp->sysmon_when = now;
            } else if (now - pp->sysmon_when >= PREEMPT_NS &&
                       (!runq_empty(pp) || load_i32(&sched.runqsize) > 0)) {
                store32(&pp->preempt, 1);
                pp->sysmon_when = now;
            }
            continue;
        }
        if (st != P_SYSCALL)
            continue;
        uint32_t tick = load32(&pp->syscalltick);
        if (pp->sysmon_syscalltick != tick) {
            /* A new system call since we last looked: give it a tick. */
            pp->sysmon_syscalltick = tick;
            pp->sysmon_when = now;
            continue;
        }
        /* Don't bother if there is nothing else to run and other Ms are
         * around to notice new work, unless the call has taken long. */
        if (runq_empty(pp) && load_i32(&sched.runqsize) == 0 &&
            load32(&sched.nmspinning) + load32(&sched.npidle) > 0 &&
            pp->sysmon_when + SYSCALL_RETAKE_NS > now)
            continue;
        if (cas32(&pp->status, P_SYSCALL, P_IDLE)) {
            n++;
            xadd32(&pp->syscalltick, 1);
            handoffp(pp);
        }
    }
    return n;
}

static void schedtrace(int64_t now)
{
    char line[4096];
    int len = 0;
    int32_t procs = load_i32(&gomaxprocs);
    lock_acquire(&sched.lock);
    len += snprintf(line + len, sizeof line - (size_t)len,
                    "SCHED %lldms: gomaxprocs=%d idleprocs=%u threads=%d spinningthreads=%u "
                    "idlethreads=%d runqueue=%d [",
                    (long long)((now - runtime_start) / 1000000), procs, load32(&sched.npidle),
                    mcount() + 1, load32(&sched.nmspinning), sched.nmidle + sched.nmidlelocked,
                    sched.runqsize);
    lock_release(&sched.lock);
    for (int32_t i = 0; i < procs && len < (int)sizeof line - 32; i++) {
        struct p *pp = allp[i];
        uint32_t q = runq_len(pp) + (loadp((void *const *)&pp->runnext) ? 1 : 0);
        len += snprintf(line + len, sizeof line - (size_t)len, i ? " %u" : "%u", q);
    }
    len += snprintf(line + len, sizeof line - (size_t)len, "]\n");
    print_str(line);
}

static void *sysmon(void *arg)
{
    (void)arg;
    int64_t trace_ns = debug.schedtrace_ms * 1000000;
    int64_t next_trace = runtime_start + trace_ns;
    int64_t delay = SYSMON_MIN_NS;
    int64_t last_scavenge = runtime_start;
    int idle = 0;
    for (;;) {
        if (idle == 0)
            delay = SYSMON_MIN_NS;
        else if (idle > 50)
            delay *= 2;
        if (delay > SYSMON_MAX_NS)
            delay = SYSMON_MAX_NS;
        int64_t now = nanotime();
        if (trace_ns > 0 && next_trace - now < delay)
            delay = next_trace - now > 0 ? next_trace - now : 0;
        usleep_ns(delay);
        now = nanotime();

        if (trace_ns <= 0 && (load32(&sched.gcwaiting) ||
                              load32(&sched.npidle) == (uint32_t)load_i32(&gomaxprocs))) {
            /* Going to sleep: first give idle memory back, since nothing
             * will run to do it later. */
            if (!load32(&gc.running)) {
                stack_pool_trim(now);
                mheap_scavenge(now);
            }
            lock_acquire(&sched.lock);
            if (sched.gcwaiting || load32(&sched.npidle) == (uint32_t)gomaxprocs) {
                store32(&sched.sysmonwait, 1);
                lock_release(&sched.lock);
                note_sleep(&sched.sysmonnote);
                note_clear(&sched.sysmonnote);
                idle = 0;
                continue;
            }
            lock_release(&sched.lock);
        }
        if (retake(now) > 0)
            idle = 0;
        else
            idle++;
        if (now - last_scavenge >= SCAVENGE_EVERY_NS && !load32(&gc.running)) {
            stack_pool_trim(now - SCAVENGE_AFTER_NS);
            mheap_scavenge(now - SCAVENGE_AFTER_NS);
            last_scavenge = now;
        }
        if (trace_ns > 0 && now >= next_trace) {
            schedtrace(now);
            next_trace += trace_ns;
            if (next_trace < now)
                next_trace = now + trace_ns;
        }
    }
    return NULL;
}

void sysmon_start(void)
{
    runtime_thread_start("gort-sysmon", sysmon, NULL, 256 * 1024);
}
