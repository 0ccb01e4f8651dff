/*
 * procnotes.h — what the notes of a core record about a live process and
 * its threads, gathered when each is cheapest for the target: the process
 * (/proc/PID/stat, status, cmdline, auxv) before the stop; the threads'
 * floating-point and vector registers (ptrace) in it; their times and
 * signal masks (/proc/PID/task/TID/...) after it.
 */
#ifndef GOINSPECT_PROCNOTES_H
#define GOINSPECT_PROCNOTES_H

#include <stddef.h>
#include <sys/types.h>

#include "corewrite.h"
#include "fail.h"
#include "target.h"

/* The process; *auxv is allocated (p->auxv points to it). */
int procnotes_process(pid_t pid, struct cw_process *p, char **auxv, struct fail *f);

/* In the stop: t's threads with all their registers, the main thread
 * first. */
struct cw_thread *procnotes_threads(const struct target *t, size_t *n);

/* After the stop: each thread's times and signal masks (zeros for a
 * thread that has exited since). */
void procnotes_thread_times(pid_t pid, struct cw_thread *v, size_t n);

void procnotes_free(struct cw_thread *v, size_t n);

#endif
