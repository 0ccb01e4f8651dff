/*
 * signal_fatal.c — the report of a fatal signal, in Go's form:
 *
 *     panic: runtime error: integer divide by zero
 *     [signal SIGFPE: floating-point exception code=0x1 addr=0x401136 pc=0x401136]
 *
 *     goroutine 1 [running]:
 *     F(...)
 *             /src/prog.c:4
 *     realmain(...)
 *             /src/prog.c:9 +0x16
 *
 * SIGSEGV and SIGBUS at an address below 4096 are a nil pointer
 * dereference, elsewhere "unexpected fault address" and "fatal error:
 * fault"; a fault at the bottom of a goroutine's stack is a stack
 * overflow; SIGFPE is the division error its code says.  SIGILL, SIGTRAP,
 * SIGABRT and a fault signal sent by a process (kill) are reported as Go
 * reports a signal it does not turn into a panic: "SIGILL: illegal
 * instruction", then PC, m and sigcode.  The traceback starts at the
 * interrupted instruction, from the signal's registers.  A signal on a
 * thread that runs no goroutine (one the program made, a runtime thread
 * in its own code) is said to be so, with that thread's frames.
 *
 * Handlers are installed only for the signals the program left at their
 * default action, and run on the thread's alternate signal stack (every M
 * has one, signal_stop.c; so has the thread that called gort_main), so that
 * a fault on a stack's guard page gets its report too.  After the report
 * the process dies by the same signal with its default action (a core where
 * ulimit -c allows): a fault the kernel raised is left to happen again, on
 * return to the faulting instruction, so that a core shows the thread where
 * it failed; any other signal is raised again.  With GORT_TRACEBACK=crash
 * it dies by SIGABRT.
 */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "cfi.h"
#include "runtime.h"
#include "stackwalk.h"

enum { MAIN_SIGSTACK_BYTES = 64 * 1024, NIL_PAGE = 4096 };

static const struct {
    int sig;
    const char *name;   /* as Go's signal table names it */
} fatal_signals[] = {
    {SIGSEGV, "SIGSEGV: segmentation violation"},
    {SIGBUS, "SIGBUS: bus error"},
    {SIGFPE, "SIGFPE: floating-point exception"},
    {SIGILL, "SIGILL: illegal instruction"},
    {SIGTRAP, "SIGTRAP: trace trap"},
    {SIGABRT, "SIGABRT: abort"},
};
enum { NFATAL = sizeof fatal_signals / sizeof *fatal_signals };

static const char *signal_name(int sig)
{
    for (int i = 0; i < NFATAL; i++)
        if (fatal_signals[i].sig == sig)
            return fatal_signals[i].name;
    return "signal";
}

static void print_signal_line(int sig, const siginfo_t *si, uintptr_t pc)
{
    print_fmt("[signal %s code=%#x addr=%#lx pc=%#lx]\n", signal_name(sig), (unsigned)si->si_code,
              (unsigned long)si->si_addr, (unsigned long)pc);
}

/* The first lines of the report: what failed. */
static void print_cause(int sig, const siginfo_t *si, uintptr_t pc, struct m *m,
                        struct g *overflowed, uintptr_t sp)
{
    uintptr_t addr = (uintptr_t)si->si_addr;
    bool from_kernel = si->si_code > 0;     /* not sent by kill, tgkill, sigqueue */
    if (overflowed) {
        print_fmt("runtime: goroutine stack exceeds %zu-byte limit\n"
                  "runtime: sp=%#lx stack=[%#lx, %#lx]\nfatal error: stack overflow\n",
                  (size_t)(overflowed->stackhi - overflowed->stacklo), (unsigned long)sp,
                  (unsigned long)overflowed->stacklo, (unsigned long)overflowed->stackhi);
        print_signal_line(sig, si, pc);
        return;
    }
    if (from_kernel && (sig == SIGSEGV || sig == SIGBUS)) {
        if (addr < NIL_PAGE)
            print_str("panic: runtime error: invalid memory address or nil pointer dereference\n");
        else
            print_fmt("unexpected fault address %#lx\nfatal error: fault\n", (unsigned long)addr);
        print_signal_line(sig, si, pc);
        return;
    }
    if (from_kernel && sig == SIGFPE) {
        const char *what = si->si_code == FPE_INTDIV   ? "integer divide by zero"
                           : si->si_code == FPE_INTOVF ? "integer overflow"
                                                       : "floating point error";
        print_fmt("panic: runtime error: %s\n", what);
        print_signal_line(sig, si, pc);
        return;
    }
    print_fmt("%s\nPC=%#lx m=%lld sigcode=%d\n", signal_name(sig), (unsigned long)pc,
              m ? (long long)m->id : -1LL, si->si_code);
}

static void refault_deadline(int sig);

static void on_fatal_signal(int sig, siginfo_t *si, void *ucv)
{
    const ucontext_t *uc = ucv;
    if (!report_begin(sig)) {   /* this thread faulted printing its report */
        traceback_recover(signal_name(sig), (uintptr_t)si->si_addr);
        report_failed(signal_name(sig));
    }
    struct cfi_regs regs = regs_of_gregs(uc->uc_mcontext.gregs);
    uintptr_t pc = (uintptr_t)regs.r[CFI_RA], sp = (uintptr_t)regs.r[CFI_RSP];
    struct m *m = getm();
    struct g *gp = m ? m->curg : NULL;
    bool on_thread_stack = m && m->stacklo && sp >= m->stacklo && sp <= m->stackhi;
    struct g *overflowed =
        gp && !on_thread_stack && stack_overflowed(gp, sp, (uintptr_t)si->si_addr) ? gp : NULL;
    bool on_goroutine = gp && gp->stacklo &&
                        ((sp >= stack_readable_lo(gp) && sp <= gp->stackhi) || m_on_sigstack(m, sp));
    print_cause(sig, si, pc, m, overflowed, sp);
    int level = debug.traceback;
    if (!on_goroutine && !overflowed && level == TB_SINGLE)
        level = TB_ALL;     /* no goroutine failed: show them all, as Go does */
    if (on_goroutine || overflowed) {
        traceback_goroutines(gp, &regs, level);
    } else {
        char name[17] = "?";
        prctl(PR_GET_NAME, name, 0, 0, 0);
        long tid = syscall(SYS_gettid);
        print_fmt("signal arrived on thread %ld (%s), which runs no goroutine\n", tid, name);
        if (level > TB_NONE)
            traceback_thread(tid, name, &regs, level);
        traceback_goroutines(NULL, &regs, level);
    }
    /* A fault the instruction makes again: returning to it with the
     * default action lets the kernel end the process there, so that a
     * core holds the thread as it failed, not inside this handler. */
    if (level < TB_CRASH && si->si_code > 0 && sig != SIGTRAP && sig != SIGABRT) {
        print_hold(false);
        signal_default(sig);
        refault_deadline(sig);
        return;
    }
    report_end();
}

/* A signal whose code says the kernel raised it for the instruction may
 * still have been queued by the process itself (rt_tgsigqueueinfo), and
 * then returning to the instruction does not fault again: if the process
 * still lives 200 ms later, the signal is raised. */
static int refault_sig;

static void on_refault_timeout(int sig)
{
    (void)sig;
    die_by_signal(refault_sig);
}

static void refault_deadline(int sig)
{
    refault_sig = sig;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_refault_timeout;
    sigfillset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    struct itimerval it = {{0, 0}, {0, 200000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

void sigfatal_init(void)
{
    /* The thread that called gort_main gets an alternate stack too. */
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
        void *p = mmap(NULL, MAIN_SIGSTACK_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            stack_t ss = {.ss_sp = p, .ss_size = MAIN_SIGSTACK_BYTES, .ss_flags = 0};
            sigaltstack(&ss, NULL);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal_signal;
    /* Everything else waits while the report is printed; a fault in the
     * report itself comes back here (and ends it) instead of killing the
     * process silently, as a blocked fault would. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigfillset(&sa.sa_mask);
    for (int i = 0; i < NFATAL; i++)
        sigdelset(&sa.sa_mask, fatal_signals[i].sig);
    for (int i = 0; i < NFATAL; i++) {
        struct sigaction cur;
        if (sigaction(fatal_signals[i].sig, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
            cur.sa_handler == SIG_DFL)
            sigaction(fatal_signals[i].sig, &sa, NULL);
    }
}
