/*
 * signames.h — the names of signals and of their si_code values, as the
 * kernel's siginfo defines them ("SIGSEGV", "SEGV_MAPERR").
 */
#ifndef GOINSPECT_SIGNAMES_H
#define GOINSPECT_SIGNAMES_H

#include <stdbool.h>

/* "SIGSEGV"; "signal 42" (in buf) for one without a name. */
const char *signal_name(int sig, char *buf, unsigned cap);
/* "SEGV_MAPERR", "SI_USER", ...; NULL when the code has no name. */
const char *sigcode_name(int sig, int code);
/* Does si_addr of this signal hold a fault address (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGTRAP raised by the kernel)? */
bool sigcode_has_addr(int sig, int code);

#endif
