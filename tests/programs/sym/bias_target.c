/* Prints where main and a function of a shared object are at run time,
 * then waits for stdin to close: the load-bias tests compare these with
 * what libgidwarf computes from /proc/PID/maps. */
#include <stdio.h>

int lib_entry(int x);

int main(void)
{
    printf("main %p lib_entry %p\n", (void *)main, (void *)lib_entry);
    fflush(stdout);
    int c;
    while ((c = getchar()) != EOF)
        ;
    return lib_entry(1) == 12345;
}
