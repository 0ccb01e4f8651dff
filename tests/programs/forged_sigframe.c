/*
 * forged_sigframe.c — a thread whose stack holds a forged signal frame that
 * leads the stack walk back to the frame it started from.
 *
 *   forged_sigframe
 *
 * The thread lays out what the kernel writes for a signal (the return
 * address of a handler into libc's sigreturn trampoline, then a ucontext)
 * with the interrupted rsp and rip of that very place, points its stack
 * pointer there and spins in a function that has no frame: unwinding it
 * gives the trampoline, and the trampoline's rules give the spinning
 * function at the same stack pointer again, for ever.  A walk must stop
 * (signal frames may switch stacks, never go down the same one).
 *
 * Prints "TID forged tid" and READY, and stays until killed.
 */
#include "rt_common.h"

#include <pthread.h>
#include <signal.h>

/* Spins; its call-frame information is that of a function's first
 * instruction: the return address at the stack pointer. */
extern char forged_spin[];
__asm__(".text\n"
        ".type forged_spin, @function\n"
        "forged_spin:\n"
        ".cfi_startproc\n"
        "1:\tpause\n"
        "\tjmp 1b\n"
        ".cfi_endproc\n"
        ".size forged_spin, .-forged_spin\n");

enum { OFF_RSP = 168, OFF_RIP = 176 };  /* in the kernel's rt_sigframe */

static atomic_long forged_tid;
static uint64_t restorer;

static void on_usr1(int sig)
{
    (void)sig;
}

/* libc's sigreturn trampoline, as sigaction() gives it to the kernel. */
static uint64_t trampoline(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGUSR1, NULL, &old) != 0 ||
        !old.sa_restorer)
        FAIL("no sa_restorer");
    return (uint64_t)old.sa_restorer;
}

static NOINLINE void *forge(void *arg)
{
    (void)arg;
    uint64_t buf[64] __attribute__((aligned(16)));
    uint64_t *f = &buf[1];      /* where a handler's return address would be */
    memset(buf, 0, sizeof buf);
    f[0] = restorer;
    f[OFF_RSP / 8] = (uint64_t)f;
    f[OFF_RIP / 8] = (uint64_t)forged_spin;
    atomic_store(&forged_tid, tid());
    __asm__ volatile("mov %0, %%rsp\n\tjmp forged_spin" : : "r"(f) : "memory");
    __builtin_unreachable();
}

static int forged_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    restorer = trampoline();
    pthread_t t;
    if (pthread_create(&t, NULL, forge, NULL) != 0)
        FAIL("pthread_create");
    while (!atomic_load(&forged_tid))
        gort_sleep(MSEC(1));
    printf("TID forged %ld\nREADY\n", atomic_load(&forged_tid));
    fflush(stdout);
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(forged_main, argc, argv);
}
