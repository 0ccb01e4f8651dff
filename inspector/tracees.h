/*
 * tracees.h — the tasks goinspect has seized, and what its signal handlers
 * do while it holds any (target_live.c stops and releases them).
 *
 * While tasks are held:
 *   - SIGINT, SIGTERM, SIGHUP and SIGQUIT detach every task, call the
 *     function given to tracees_on_fatal, and exit 1;
 *   - SIGTSTP, SIGTTIN and SIGTTOU are blocked, so goinspect cannot be
 *     stopped with its target in a tracing stop: they take effect as soon
 *     as the tasks are released (SIGSTOP cannot be blocked);
 *   - a 10 ms timer reaps the tasks that died while PTRACE_SEIZE waits.
 *     An execve in the target holds the process's credential lock while it
 *     waits for its other threads to be reaped, and PTRACE_SEIZE waits for
 *     that lock: without the reaper, goinspect and the execve would wait
 *     for each other for ever.  Its wait also takes the stops of tasks
 *     already seized (the kernel reports a tracee's stops to every wait,
 *     whatever WSTOPPED says): every status it takes is kept, in order, for
 *     target_live.c to handle as if its own wait had taken it.
 */
#ifndef GOINSPECT_TRACEES_H
#define GOINSPECT_TRACEES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tracee {
    pid_t tid;
    int sig;            /* signal to hand back at detach */
    bool stopped;       /* its stop was seen: it can be detached */
};

/* A function the fatal-signal handler calls before it exits (it must be
 * async-signal-safe): gcore removes its partial file.  NULL: none. */
void tracees_on_fatal(void (*fn)(void));

/* Start holding tasks of process pid (idempotent), and stop. */
void tracees_hold(pid_t pid);
void tracees_let_go(void);

size_t tracee_count(void);
struct tracee *tracee_at(size_t i);
ssize_t tracee_index(pid_t tid);
/* Adds tid (not stopped yet) and returns its index. */
size_t tracee_add(pid_t tid);
/* Removes entry i; the last entry takes its place. */
void tracee_remove(size_t i);

/* PTRACE_SEIZE with options, the reaper running while it waits; -1 with
 * errno when it fails. */
int tracee_seize(pid_t tid, long options);

/* A wait status the reaper took: the task and its status as waitpid
 * gives it (WIFEXITED, WIFSIGNALED, WIFSTOPPED and the ptrace event in
 * the high bits). */
struct taken_status {
    pid_t tid;
    int status;
};
/* Takes the statuses the reaper took since the last call: *taken points
 * to them (valid until the next tracee_seize).  None is ever dropped: a
 * stop the reaper took and lost would be a task that never reports its
 * stop. */
size_t tracees_taken(const struct taken_status **taken);

#endif
