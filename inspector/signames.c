/*
 * signames.c — signal and si_code names (signames.h), from the kernel's
 * uapi asm-generic/siginfo.h.
 */
#include "signames.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

const char *signal_name(int sig, char *buf, unsigned cap)
{
    const char *abbrev = sig > 0 ? sigabbrev_np(sig) : NULL;
    if (abbrev)
        snprintf(buf, cap, "SIG%s", abbrev);
    else
        snprintf(buf, cap, "signal %d", sig);
    return buf;
}

struct code {
    int code;
    const char *name;
};

static const struct code generic[] = {
    {0, "SI_USER"}, {0x80, "SI_KERNEL"}, {-1, "SI_QUEUE"}, {-2, "SI_TIMER"},
    {-3, "SI_MESGQ"}, {-4, "SI_ASYNCIO"}, {-5, "SI_SIGIO"}, {-6, "SI_TKILL"},
    {0, NULL},
};
static const struct code segv[] = {
    {1, "SEGV_MAPERR"}, {2, "SEGV_ACCERR"}, {3, "SEGV_BNDERR"}, {4, "SEGV_PKUERR"},
    {0, NULL},
};
static const struct code bus[] = {
    {1, "BUS_ADRALN"}, {2, "BUS_ADRERR"}, {3, "BUS_OBJERR"}, {4, "BUS_MCEERR_AR"},
    {5, "BUS_MCEERR_AO"}, {0, NULL},
};
static const struct code fpe[] = {
    {1, "FPE_INTDIV"}, {2, "FPE_INTOVF"}, {3, "FPE_FLTDIV"}, {4, "FPE_FLTOVF"},
    {5, "FPE_FLTUND"}, {6, "FPE_FLTRES"}, {7, "FPE_FLTINV"}, {8, "FPE_FLTSUB"},
    {0, NULL},
};
static const struct code ill[] = {
    {1, "ILL_ILLOPC"}, {2, "ILL_ILLOPN"}, {3, "ILL_ILLADR"}, {4, "ILL_ILLTRP"},
    {5, "ILL_PRVOPC"}, {6, "ILL_PRVREG"}, {7, "ILL_COPROC"}, {8, "ILL_BADSTK"},
    {0, NULL},
};
static const struct code trap[] = {
    {1, "TRAP_BRKPT"}, {2, "TRAP_TRACE"}, {3, "TRAP_BRANCH"}, {4, "TRAP_HWBKPT"},
    {0, NULL},
};

static const struct code *specific(int sig)
{
    switch (sig) {
    case SIGSEGV: return segv;
    case SIGBUS: return bus;
    case SIGFPE: return fpe;
    case SIGILL: return ill;
    case SIGTRAP: return trap;
    default: return NULL;
    }
}

static const char *find(const struct code *t, int code)
{
    for (; t && t->name; t++)
        if (t->code == code)
            return t->name;
    return NULL;
}

const char *sigcode_name(int sig, int code)
{
    /* codes above 0 and below SI_KERNEL are the signal's own */
    if (code > 0 && code < 0x80)
        return find(specific(sig), code);
    return find(generic, code);
}

bool sigcode_has_addr(int sig, int code)
{
    return specific(sig) && code > 0 && code < 0x80;
}
