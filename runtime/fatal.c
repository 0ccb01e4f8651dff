/*
 * fatal.c — how the program ends when it fails: "panic: ..." for a
 * gort_panic and for misuse a Go program would panic on, "fatal error:
 * ..." for unrecoverable runtime conditions, and the report of a fatal
 * signal (signal_fatal.c).  Each prints its message and a traceback
 * (GORT_TRACEBACK, env.c) and ends the process: exit status 2 after a panic
 * or a fatal error, death by the signal after a signal, and with
 * GORT_TRACEBACK=crash death by SIGABRT, so that the kernel writes a core
 * file (as Go's GOTRACEBACK=crash).
 *
 * One thread prints a report: a thread that fails while another reports
 * waits for the process to end.  A failure while printing (a fault in the
 * traceback of a corrupt goroutine) ends the report with a line saying so.
 * Output goes straight to fd 2 (print.c): stdio may be locked by the
 * goroutine that failed.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pcline.h"
#include "runtime.h"

void sched_freeze(void);   /* sched.c */

static uint32_t dying;              /* a report is under way */
static int dying_signal;            /* what the report is about: 0 for a panic or fatal error */
static __thread int reporting __attribute__((tls_model("initial-exec")));

bool report_begin(int sig)
{
    if (reporting)
        return false;       /* this thread failed while it printed the report */
    if (xadd32(&dying, 1) != 1) {
        /* Another thread is already reporting: let it finish. */
        for (;;)
            pause();
    }
    reporting = 1;
    dying_signal = sig;
    print_to(NULL);     /* a report goes to fd 2, even from a dump to a buffer */
    print_hold(true);
    sched_freeze();
    struct m *m = getm();
    if (m)
        m->dying = true;
    return true;
}

void signal_default(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
}

NORETURN void die_by_signal(int sig)
{
    signal_default(sig);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    syscall(SYS_tgkill, (long)getpid(), (long)syscall(SYS_gettid), (long)sig);
    _exit(2);
}

bool report_dying(void)
{
    return load32(&dying) != 0;
}

NORETURN void report_end(void)
{
    print_hold(false);
    if (debug.traceback >= TB_CRASH)
        die_by_signal(SIGABRT);
    if (dying_signal)
        die_by_signal(dying_signal);
    _exit(2);
}

NORETURN void report_failed(const char *what)
{
    print_fmt("\n[%s while printing the report: it ends here]\n", what);
    report_end();
}

/* min_level: the least the report shows (every goroutine for the
 * runtime's own fatal errors); user: a panic of the program's, whose
 * thread is shown even when it runs no goroutine. */
static NORETURN void die(const char *prefix, const char *msg, int min_level, bool user)
{
    if (!report_begin(0))
        report_failed("a fatal error");
    print_str(prefix);
    print_str(msg);
    print_str("\n");
    int level = debug.traceback;
    if (level != TB_NONE && level < min_level)
        level = min_level;
    traceback_here(getg_maybe(), level, user || level >= TB_SYSTEM);
    report_end();
}

NORETURN void throw_(const char *msg)
{
    die("fatal error: ", msg, TB_ALL, false);
}

NORETURN void panic_(const char *msg)
{
    die("panic: ", msg, TB_ALL, false);
}

void gort_panic(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pcline_init();      /* a panic before gort_main: its table too (once) */
    die("panic: ", msg, TB_NONE, true);
}
