/*
 * tracees.c — the seized tasks and the signal handlers that guard them
 * (tracees.h).
 */
#include "tracees.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fail.h"

enum { REAP_PERIOD_US = 10000 };

/* The fatal-signal handler reads these; they change only with the fatal
 * signals blocked. */
static struct tracee *tab;
static volatile size_t ntab;
static size_t captab;
static pid_t held_pid;
static bool holding;
static void (*volatile fatal_hook)(void);

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static const int deferred_signals[] = {SIGTSTP, SIGTTIN, SIGTTOU};
enum { NFATAL = sizeof fatal_signals / sizeof *fatal_signals };
static struct sigaction old_fatal[NFATAL], old_alarm;
static sigset_t mask_before;

/* Written by the reaper, read by tracees_taken with SIGALRM blocked.  The
 * room grows before each seize to two statuses for every task held and
 * for the one being seized (a stop, and a death after it), so the reaper
 * always finds room for what its wait takes. */
static struct taken_status *taken;
static size_t taken_room;
static volatile sig_atomic_t ntaken;

static void block(const int *sigs, size_t n, int how, sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < n; i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(how, &set, old);
}

static void write_str(const char *s)
{
    if (write(2, s, strlen(s)) < 0) {
        /* nowhere else to report */
    }
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "SIGQUIT";
    }
}

/* Async-signal-safe: detach everything, say so, exit. */
static void on_fatal_signal(int sig)
{
    for (size_t i = 0; i < ntab; i++)
        ptrace(PTRACE_DETACH, tab[i].tid, NULL, (void *)(intptr_t)tab[i].sig);
    char num[24];
    int k = (int)sizeof num - 1;
    num[k] = 0;
    unsigned v = (unsigned)held_pid;
    do {
        num[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v && k > 0);
    write_str("\ngoinspect: interrupted by ");
    write_str(signal_name(sig));
    write_str(": detached from PID ");
    write_str(num + k);
    write_str(", which runs on\n");
    if (fatal_hook)
        fatal_hook();
    _exit(1);
}

/* A waitid result as waitpid's status word. */
static int status_of(const siginfo_t *si)
{
    switch (si->si_code) {
    case CLD_EXITED:
        return (si->si_status & 0xff) << 8;
    case CLD_KILLED:
        return si->si_status & 0x7f;
    case CLD_DUMPED:
        return (si->si_status & 0x7f) | 0x80;
    default:            /* CLD_TRAPPED, CLD_STOPPED: the signal and ptrace event */
        return (si->si_status << 8) | 0x7f;
    }
}

/* Async-signal-safe: reaps the tasks that died, and keeps whatever status
 * its wait takes for target_live.c. */
static void on_reap_timer(int sig)
{
    (void)sig;
    int saved = errno;
    /* A status it could not keep would be lost for good: with no room it
     * leaves the rest to the next wait. */
    while ((size_t)ntaken < taken_room) {
        siginfo_t si;
        si.si_pid = 0;
        if (waitid(P_ALL, 0, &si, WEXITED | __WALL | WNOHANG) < 0 || si.si_pid == 0)
            break;
        taken[ntaken] = (struct taken_status){si.si_pid, status_of(&si)};
        ntaken = ntaken + 1;
    }
    errno = saved;
}

static void set_timer(long us)
{
    struct itimerval it = {{0, us}, {0, us}};
    setitimer(ITIMER_REAL, &it, NULL);
}

void tracees_on_fatal(void (*fn)(void))
{
    fatal_hook = fn;
}

void tracees_hold(pid_t pid)
{
    if (holding)
        return;
    held_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigfillset(&sa.sa_mask);
    sa.sa_handler = on_fatal_signal;
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal_signals[i], &sa, &old_fatal[i]);
    sa.sa_handler = on_reap_timer;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, &old_alarm);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    for (size_t i = 0; i < sizeof deferred_signals / sizeof *deferred_signals; i++)
        sigaddset(&set, deferred_signals[i]);
    sigprocmask(SIG_BLOCK, &set, &mask_before);
    ntaken = 0;
    set_timer(REAP_PERIOD_US);
    holding = true;
}

void tracees_let_go(void)
{
    if (!holding)
        return;
    set_timer(0);
    /* A tick that came meanwhile is dropped, not left to the old action. */
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&alrm, NULL, &zero) == SIGALRM) {
    }
    sigaction(SIGALRM, &old_alarm, NULL);
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal_signals[i], &old_fatal[i], NULL);
    holding = false;
    /* A job-control stop that came during the hold takes effect here. */
    sigprocmask(SIG_SETMASK, &mask_before, NULL);
}

size_t tracee_count(void)
{
    return ntab;
}

struct tracee *tracee_at(size_t i)
{
    return &tab[i];
}

ssize_t tracee_index(pid_t tid)
{
    for (size_t i = 0; i < ntab; i++)
        if (tab[i].tid == tid)
            return (ssize_t)i;
    return -1;
}

size_t tracee_add(pid_t tid)
{
    sigset_t old;
    block(fatal_signals, NFATAL, SIG_BLOCK, &old);
    if (ntab == captab) {
        captab = captab ? captab * 2 : 64;
        tab = xrealloc(tab, captab * sizeof *tab);
    }
    tab[ntab] = (struct tracee){tid, 0, false};
    ntab = ntab + 1;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return ntab - 1;
}

void tracee_remove(size_t i)
{
    sigset_t old;
    block(fatal_signals, NFATAL, SIG_BLOCK, &old);
    tab[i] = tab[ntab - 1];
    ntab = ntab - 1;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int tracee_seize(pid_t tid, long options)
{
    static const int alarm_only[] = {SIGALRM};
    size_t need = 2 * (ntab + 1);
    if (taken_room < need) {
        taken_room = need + 64;
        taken = xrealloc(taken, taken_room * sizeof *taken);
    }
    block(alarm_only, 1, SIG_UNBLOCK, NULL);
    long r = ptrace(PTRACE_SEIZE, tid, NULL, (void *)options);
    int e = errno;
    block(alarm_only, 1, SIG_BLOCK, NULL);
    errno = e;
    return r < 0 ? -1 : 0;
}

size_t tracees_taken(const struct taken_status **out)
{
    size_t n = (size_t)ntaken;
    *out = taken;
    ntaken = 0;
    return n;
}
