/*
 * insp_lib_main.c — a goroutine parked inside a shared object of the
 * program's own (insp_lib_wait.c, linked as a .so), for symbolization
 * across modules (mode run).  Prints the facts of insp_common.h, READY, TICK lines.
 */
#include "insp_common.h"

int64_t lib_outer(gort_chan *c);

static gort_chan *never;
static struct who lib_who = {"lib_waiter", 0, 0, 0, 0};

static void lib_waiter(void *arg)
{
    volatile int v = 0;
    ARRIVE((struct who *)arg, &v);
    int64_t r = lib_outer(never); /* CALL:lib_outer */
    FAIL("lib_waiter woke up %" PRId64 " %d", r, v);
}

static int mode_run(void)
{
    never = gort_chan_make(sizeof(int64_t), 0);
    gort_go(lib_waiter, &lib_who);
    await_here(&lib_who);
    progress_start(20);
    gort_sleep(MSEC(50));
    print_who(&lib_who);
    return report_and_park();
}

static const struct mode modes[] = {
    {"run", mode_run},
    {NULL, NULL},
};

RT_MAIN(modes)
