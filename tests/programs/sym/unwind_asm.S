/* start_on_stack(fn, top): switch to the stack ending at top and call fn
 * from a start frame whose CFI marks the return address undefined, the way
 * the runtime starts a goroutine (and glibc a thread): unwinders stop here. */
        .text
        .globl  start_on_stack
        .type   start_on_stack, @function
start_on_stack:
        .cfi_startproc
        mov     %rsi, %rsp
        and     $-16, %rsp
        xor     %ebp, %ebp
        jmp     stack_start
        .cfi_endproc
        .size   start_on_stack, .-start_on_stack

        .globl  stack_start
        .type   stack_start, @function
stack_start:
        .cfi_startproc
        .cfi_undefined rip
        call    *%rdi
        ud2
        .cfi_endproc
        .size   stack_start, .-stack_start

        .section .note.GNU-stack,"",@progbits
