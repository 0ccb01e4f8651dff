/* Built with -fno-asynchronous-unwind-tables -fno-unwind-tables and frame
 * pointers: these functions have no FDE, so unwinding through them falls
 * back to the frame-pointer chain. */
__attribute__((noinline)) static void nocfi_inner(void (*fn)(void))
{
    fn();
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void nocfi_outer(void (*fn)(void))
{
    nocfi_inner(fn);
    __asm__ volatile("" ::: "memory");
}
