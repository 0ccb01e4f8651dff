/*
 * gdb_after_main.c — goroutines that outlive gort_main: the program's
 * function starts goroutines that park for good and returns, so gort_main
 * returns with them abandoned (as when Go's main returns), and main calls
 * after_main() before it exits.  For the gdb extension's tests, which stop
 * it there.  Prints "G ID KIND local=0xADDR tid=T" for each goroutine
 * (insp_common.h) and "RETURNING" before its function returns.
 */
#include "insp_common.h"

enum { NPARKED = 3 };

static gort_chan *never;
static struct who parked_who[NPARKED];

static void parked(void *arg)
{
    volatile int64_t v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_chan_recv(never, (void *)&v); /* WAIT:abandoned */
    FAIL("an abandoned goroutine woke up");
}

static int app(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    never = gort_chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < NPARKED; i++) {
        parked_who[i].kind = "abandoned";
        gort_go(parked, &parked_who[i]);
        await_here(&parked_who[i]);
    }
    gort_sleep(MSEC(20));           /* each one parks for good */
    for (int i = 0; i < NPARKED; i++)
        print_who(&parked_who[i]);
    printf("RETURNING\n");
    fflush(stdout);
    return 7;
}

NOINLINE void after_main(int rc);
NOINLINE void after_main(int rc)
{
    printf("AFTER MAIN %d\n", rc); /* AFTER:main */
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int rc = gort_main(app, argc, argv);
    after_main(rc);
    return 0;
}
