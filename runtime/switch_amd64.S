/*
 * switch_amd64.S — goroutine context switch, goroutine start frame, and the
 * context capture at system-call entry (x86-64, System V ABI).
 *
 * A saved context (struct gctx in runtime.h) is the state at the *return*
 * from the routine that saved it: rsp as the caller sees it after the call,
 * rip the return address, and the callee-saved registers.  The word at
 * rsp-8 of every saved context holds rip (for a parked goroutine it is the
 * return address its call pushed; for a new goroutine the runtime writes
 * it), so switching in is "point rsp at that slot, restore, ret".  With that
 * invariant one CFI description -- CFA = rsp+8, return address at CFA-8,
 * callee-saved registers unchanged -- is true at every instruction of
 * gort_switch on whichever stack is current, and any CFI unwinder walks
 * through a thread stopped anywhere in it.
 */

#define CTX_RSP    0
#define CTX_RIP    8
#define CTX_RBP   16
#define CTX_RBX   24
#define CTX_R12   32
#define CTX_R13   40
#define CTX_R14   48
#define CTX_R15   56
#define CTX_MXCSR 64
#define CTX_FPUCW 68
#define CTX_SIZE  72

/* Save the context of the caller whose return address is at raoff(%rsp)
 * into the struct gctx at base.  Clobbers rax and rcx. */
.macro SAVE_CTX base, raoff
    movq \raoff(%rsp), %rax
    leaq \raoff+8(%rsp), %rcx
    movq %rcx, CTX_RSP(\base)
    movq %rax, CTX_RIP(\base)
    movq %rbp, CTX_RBP(\base)
    movq %rbx, CTX_RBX(\base)
    movq %r12, CTX_R12(\base)
    movq %r13, CTX_R13(\base)
    movq %r14, CTX_R14(\base)
    movq %r15, CTX_R15(\base)
    stmxcsr CTX_MXCSR(\base)
    fnstcw CTX_FPUCW(\base)
.endm

/* Load the callee-saved registers of the struct gctx at base (not rsp). */
.macro RESTORE_CTX base
    movq CTX_RBP(\base), %rbp
    movq CTX_RBX(\base), %rbx
    movq CTX_R12(\base), %r12
    movq CTX_R13(\base), %r13
    movq CTX_R14(\base), %r14
    movq CTX_R15(\base), %r15
    ldmxcsr CTX_MXCSR(\base)
    fldcw CTX_FPUCW(\base)
.endm

    .text

/* void gort_switch(struct gctx *from, const struct gctx *to) */
    .globl gort_switch
    .hidden gort_switch
    .type gort_switch, @function
    .p2align 4
gort_switch:
    .cfi_startproc
    SAVE_CTX %rdi, 0

    movq CTX_RSP(%rsi), %rax
    leaq -8(%rax), %rsp             /* to's return-address slot, in one step */
    RESTORE_CTX %rsi
    ret
    .cfi_endproc
    .size gort_switch, .-gort_switch

/* void gort_switch_call(struct gctx *from, const struct gctx *to,
 *                       void (*fn)(void *), void *arg)
 * Like gort_switch, but once on to's stack (below its saved stack pointer,
 * where nothing lives) call fn(arg) before resuming to.  The scheduler uses
 * it to hand the thread straight from a parking goroutine to the next one,
 * finishing the park (releasing the parked goroutine's lock) only after the
 * parked goroutine's context is saved.  While fn runs, the CFA is rsp+16,
 * so an unwinder sees fn called from to's frames. */
    .globl gort_switch_call
    .hidden gort_switch_call
    .type gort_switch_call, @function
    .p2align 4
gort_switch_call:
    .cfi_startproc
    movq %rdx, %r8                  /* fn and arg: SAVE_CTX clobbers rax and rcx */
    movq %rcx, %r9
    SAVE_CTX %rdi, 0
    movq %rsi, %rbx                 /* to: callee-saved across fn */
    movq %r9, %rdi                  /* arg */
    movq CTX_RSP(%rsi), %rax
    leaq -16(%rax), %rsp            /* aligned; to's return-address slot stays intact */
    .cfi_adjust_cfa_offset 8
    /* From here the frames above are to's, whose callee-saved registers
     * are in its context at rbx: DW_CFA_expression reg, DW_OP_breg3 off. */
    .cfi_escape 0x10, 0x06, 0x02, 0x73, CTX_RBP
    .cfi_escape 0x10, 0x03, 0x02, 0x73, CTX_RBX
    .cfi_escape 0x10, 0x0c, 0x02, 0x73, CTX_R12
    .cfi_escape 0x10, 0x0d, 0x02, 0x73, CTX_R13
    .cfi_escape 0x10, 0x0e, 0x02, 0x73, CTX_R14
    .cfi_escape 0x10, 0x0f, 0x02, 0x73, CTX_R15
    call *%r8
    addq $8, %rsp                   /* the return-address slot of 'to' */
    .cfi_adjust_cfa_offset -8
    movq %rbx, %rsi
    /* The same rules, now based on rsi (DW_OP_breg4), which the restore
     * below leaves alone. */
    .cfi_escape 0x10, 0x06, 0x02, 0x74, CTX_RBP
    .cfi_escape 0x10, 0x03, 0x02, 0x74, CTX_RBX
    .cfi_escape 0x10, 0x0c, 0x02, 0x74, CTX_R12
    .cfi_escape 0x10, 0x0d, 0x02, 0x74, CTX_R13
    .cfi_escape 0x10, 0x0e, 0x02, 0x74, CTX_R14
    .cfi_escape 0x10, 0x0f, 0x02, 0x74, CTX_R15
    RESTORE_CTX %rsi
    ret
    .cfi_endproc
    .size gort_switch_call, .-gort_switch_call

/* void gort_savectx(struct gctx *out): the caller's context, as gort_switch
 * would save it (used to unwind the current goroutine in crash dumps). */
    .globl gort_savectx
    .hidden gort_savectx
    .type gort_savectx, @function
    .p2align 4
gort_savectx:
    .cfi_startproc
    SAVE_CTX %rdi, 0
    ret
    .cfi_endproc
    .size gort_savectx, .-gort_savectx

/* The first frame of every goroutine.  Entered by gort_switch's ret with rsp
 * 16-byte aligned at the top of the goroutine's stack; there is no caller,
 * which the CFI says by marking the return address undefined. */
    .globl gort_gostart
    .hidden gort_gostart
    .type gort_gostart, @function
    .p2align 4
gort_gostart:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    call goroutine_main
    ud2
    .cfi_endproc
    .size gort_gostart, .-gort_gostart

/* void gort_syscall_enter(void)
 * Capture the caller's context (as gort_switch would) and hand it to
 * syscall_enter_ctx(), which stores it in the goroutine and gives up the P,
 * so that tools and the collector see the goroutine's stack from the point
 * where it entered the system call. */
    .globl gort_syscall_enter
    .type gort_syscall_enter, @function
    .p2align 4
gort_syscall_enter:
    .cfi_startproc
    /* CTX_SIZE is 8 mod 16: the call below sees an aligned stack. */
    subq $CTX_SIZE, %rsp
    .cfi_adjust_cfa_offset CTX_SIZE
    SAVE_CTX %rsp, CTX_SIZE
    movq %rsp, %rdi
    call syscall_enter_ctx
    addq $CTX_SIZE, %rsp
    .cfi_adjust_cfa_offset -CTX_SIZE
    ret
    .cfi_endproc
    .size gort_syscall_enter, .-gort_syscall_enter

    .section .note.GNU-stack,"",@progbits
