/*
 * insp_lib_wait.c — the shared object of insp_lib_main.c: a goroutine of the
 * program waits inside it, so its frames must be symbolized from this
 * object's own symbols and DWARF, placed at its load address.
 */
#include <stdint.h>

#include <gort.h>

#ifdef __clang__
#define LIB_NOINLINE __attribute__((noinline))
#else
#define LIB_NOINLINE __attribute__((noinline, noipa))
#endif

LIB_NOINLINE int64_t lib_wait(gort_chan *c)
{
    volatile int64_t v = 0;
    gort_chan_recv(c, (void *)&v); /* WAIT:lib */
    return v + 1;
}

LIB_NOINLINE int64_t lib_outer(gort_chan *c)
{
    int64_t r = lib_wait(c); /* CALL:lib */
    return r * 2;
}
