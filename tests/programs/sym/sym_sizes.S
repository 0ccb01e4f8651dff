/* Symbols of every extent for the symbol-choice tests: sized, zero-size,
 * labels inside a sized function, a zero-size label at a sized function's
 * address (the linker's __start_SECTION is one), aliases at one address,
 * padding. */
        .text
        .globl  sized_a
        .type   sized_a, @function
        .globl  __start_sized_a         /* a zero-size label on a sized function */
__start_sized_a:
sized_a:
        nop
        nop
        ret
        .size   sized_a, .-sized_a
        .p2align 5
        .globl  zero_b
        .type   zero_b, @function
zero_b:
        nop
        nop
        ret
        .p2align 4
        .globl  sized_c
        .type   sized_c, @function
sized_c:
        nop
        .globl  label_in_c
label_in_c:
        nop
        nop
        ret
        .size   sized_c, .-sized_c
        .p2align 5
        .globl  alias_long
        .type   alias_long, @function
        .globl  alias_short
        .type   alias_short, @function
alias_long:
alias_short:
        nop
        nop
        nop
        nop
        ret
        .size   alias_short, 2
        .size   alias_long, 5
        .p2align 5
        .globl  main
        .type   main, @function
main:
        call    sized_a
        call    zero_b
        call    sized_c
        call    alias_long
        xor     %eax, %eax
        ret
        .size   main, .-main
        .p2align 5
        .section .note.GNU-stack,"",@progbits
