/*
 * fatal.c — fatal errors: "panic: ..." for misuse a Go program would panic
 * on, "fatal error: ..." for unrecoverable runtime conditions.  Both print
 * the message, a dump of every goroutine, and exit with status 2; with
 * GORT_TRACEBACK=crash they die by SIGABRT instead, so that the kernel
 * writes a core file (as Go's GOTRACEBACK=crash).
 *
 * Output goes straight to fd 2 with write(2): stdio may be locked by the
 * goroutine that failed.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

void sched_freeze(void);   /* sched.c */

static uint32_t dying;

void print_str(const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(2, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

void print_fmt(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    print_str(buf);
}

static NORETURN void die_by_sigabrt(void);

static NORETURN void die(const char *prefix, const char *msg)
{
    static __thread int depth __attribute__((tls_model("initial-exec")));
    if (++depth > 1) {
        print_str("fatal error: fatal error while printing a fatal error\n");
        _exit(2);
    }
    if (xadd32(&dying, 1) != 1) {
        /* Another thread is already dying: let it finish the report. */
        for (;;)
            pause();
    }
    sched_freeze();
    struct m *m = getm();
    if (m)
        m->dying = true;
    print_str(prefix);
    print_str(msg);
    print_str("\n");
    traceback_all(getg_maybe());
    if (debug.traceback_crash)
        die_by_sigabrt();
    _exit(2);
}

/* The default action of SIGABRT, whatever the program set: a core. */
static NORETURN void die_by_sigabrt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGABRT, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGABRT);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(SIGABRT);
    _exit(2);
}

NORETURN void throw_(const char *msg)
{
    die("fatal error: ", msg);
}

NORETURN void panic_(const char *msg)
{
    die("panic: ", msg);
}
