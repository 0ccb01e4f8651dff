/* Stops at known points for the CFI tests: probe() is called from a deep
 * call chain, from a signal handler (through the kernel's signal frame),
 * from a thread, from functions without CFI (frame-pointer fallback) and
 * from a function started on a stack of its own whose start frame marks
 * the return address undefined (as a goroutine's does). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unwind_probe.h"

void nocfi_outer(void (*fn)(void));                 /* unwind_nocfi.c */
void start_on_stack(void (*fn)(void), void *top);   /* unwind_asm.S */

static volatile int depth_sink;

__attribute__((noinline)) static void leaf_call(const char *tag)
{
    probe(tag);
    depth_sink++;
}

__attribute__((noinline)) static int level3(int x, const char *tag)
{
    char buf[64];
    memset(buf, x, sizeof buf);
    leaf_call(tag);
    return buf[x & 63] + 1;
}

__attribute__((noinline)) static int level2(int x, const char *tag)
{
    int r = level3(x + 1, tag);
    return r * 2 + depth_sink;
}

__attribute__((noinline)) static int level1(int x, const char *tag)
{
    return level2(x * 3, tag) + 1;
}

static void on_signal(int sig)
{
    (void)sig;
    probe("signal");
}

__attribute__((noinline)) static void raise_here(void)
{
    raise(SIGUSR1);
    depth_sink++;
}

static void *thread_main(void *arg)
{
    (void)arg;
    level1(5, "thread");
    return NULL;
}

static void nocfi_leaf(void)
{
    probe("nocfi");
}

static void on_own_stack(void)
{
    level1(2, "start");
    exit(0);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    if (!strcmp(what, "chain") || !strcmp(what, "all"))
        level1(1, "chain");
    if (!strcmp(what, "signal") || !strcmp(what, "all")) {
        signal(SIGUSR1, on_signal);
        raise_here();
    }
    if (!strcmp(what, "thread") || !strcmp(what, "all")) {
        pthread_t t;
        pthread_create(&t, NULL, thread_main, NULL);
        pthread_join(t, NULL);
    }
    if (!strcmp(what, "nocfi") || !strcmp(what, "all"))
        nocfi_outer(nocfi_leaf);
    if (!strcmp(what, "start") || !strcmp(what, "all")) {
        size_t sz = 256 * 1024;
        char *stack = malloc(sz);
        start_on_stack(on_own_stack, stack + sz);
    }
    return 0;
}
