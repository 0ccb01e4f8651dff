/*
 * insp_fpcfa.c — parked goroutines whose outermost frame's call-frame
 * information puts the CFA at the frame pointer (tests/test_attach_precopy.py).
 *
 * N goroutines (argv[1], default 200) call fp_outer(), an assembly frame
 * whose CFA is rbp + 16, with rbp saved at CFA - 16 and no return address
 * (the outermost frame), which calls wait_here() with rbp set to its own
 * stack pointer ("IN <goid>": the rule is true) or, for every other one,
 * to the address of a global ("OUT <goid>": the CFA is outside the
 * goroutine's stack, and so is the saved rbp an unwinder reads there).
 * The two kinds have the same first pc, stack length and return addresses.
 * Prints one line for each, then "READY".
 */
#include "rt_common.h"

void fp_outer(void (*fn)(void *), void *arg, uintptr_t rbp);
__asm__(".text\n"
        ".globl fp_outer\n"
        ".type fp_outer, @function\n"
        "fp_outer:\n"
        ".cfi_startproc\n"
        "    push %rbp\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_rel_offset %rbp, 0\n"
        "    mov %rsp, %rbp\n"
        "    test %rdx, %rdx\n"
        "    cmovnz %rdx, %rbp\n"
        ".cfi_def_cfa %rbp, 16\n"
        ".cfi_undefined rip\n"
        "    mov %rdi, %rax\n"
        "    mov %rsi, %rdi\n"
        "    call *%rax\n"
        "    pop %rbp\n"
        "    ret\n"
        ".cfi_endproc\n"
        ".size fp_outer, .-fp_outer\n");

static gort_chan *never;
static atomic_int parked;
static uint64_t *ids;
static uint64_t somewhere[4];

static NOINLINE void wait_here(void *arg)
{
    int v;
    ids[(intptr_t)arg] = gort_goid();
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(never, &v); /* WAIT:here */
    atomic_fetch_add(&parked, 1);   /* never: no tail call */
}

static void worker(void *arg)
{
    intptr_t i = (intptr_t)arg;
    fp_outer(wait_here, arg, i % 2 ? (uintptr_t)&somewhere[2] : 0);
}

static int app(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    never = gort_chan_make(sizeof(int), 0);
    ids = calloc((size_t)n, sizeof *ids);
    for (intptr_t i = 0; i < n; i++)
        gort_go(worker, (void *)i);
    while (atomic_load(&parked) < n)
        gort_sleep(1000000);
    for (int i = 0; i < n; i++)
        printf("%s %llu\n", i % 2 ? "OUT" : "IN", (unsigned long long)ids[i]);
    printf("READY\n");
    fflush(stdout);
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(app, argc, argv);
}
