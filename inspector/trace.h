/*
 * trace.h — phase timings on stderr when GOINSPECT_TRACE is set: where an
 * attach spends its time (pre-copy, stop, copy, unwind, print...) and memory.
 */
#ifndef GOINSPECT_TRACE_H
#define GOINSPECT_TRACE_H

/* Prints the time since the previous mark, labelled, and the peak RSS so far. */
void trace_mark(const char *what);

#endif
