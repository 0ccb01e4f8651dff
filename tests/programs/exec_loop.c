/*
 * exec_loop.c — a process that calls execve on itself, again and again (a
 * plain C program, without libgort).  Attached at the wrong moment, it is
 * between two images: the old one is gone, the new one not mapped yet.
 */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    (void)argc;
    execv("/proc/self/exe", argv);
    perror("execv");
    return 1;
}
