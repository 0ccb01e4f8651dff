/*
 * insp_names.c — names that are not plain ASCII, for goinspect's JSON.
 *
 *   insp_names
 *
 * Three threads outside the runtime, each named (PR_SET_NAME) with bytes the
 * test gives on the command line as hex: argv[1], argv[2], argv[3] (a name
 * that is not UTF-8, one with JSON's special characters, one in UTF-8), each
 * blocked in read(2); and two goroutines parked in functions whose names are
 * not ASCII: 待つ_é (UTF-8 in the source) and names_PLACEHOLDER_1234 (the
 * test overwrites those bytes in the binary with bytes that are not UTF-8).
 * The test also builds this file from a path that is not UTF-8 and runs it
 * under such a name.
 *
 * Prints "THREAD N tid=T" for each named thread, the facts of insp_common.h,
 * READY, and stays until killed.
 */
#include "insp_common.h"

#include <pthread.h>
#include <sys/prctl.h>

enum { NTHREADS = 3 };

static int quiet_pipe[2];           /* nobody writes */
static char names[NTHREADS][16];
static atomic_long tids[NTHREADS];
static gort_chan *never;

static struct who utf8_who = {"utf8_waiter", 0, 0, 0, 0};
static struct who patched_who = {"patched_waiter", 0, 0, 0, 0};

/* Hex digits to at most 15 bytes. */
static void unhex(const char *hex, char *out)
{
    size_t n = strlen(hex) / 2;
    if (n > 15)
        n = 15;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            FAIL("bad hex %s", hex);
        out[i] = (char)v;
    }
    out[n] = 0;
}

static void *named_thread(void *arg)
{
    long k = (long)(intptr_t)arg;
    char c;
    if (prctl(PR_SET_NAME, names[k], 0, 0, 0) != 0)
        FAIL("PR_SET_NAME: %s", strerror(errno));
    atomic_store(&tids[k], tid());
    if (read(quiet_pipe[0], &c, 1) >= 0)
        FAIL("read returned");
    return NULL;
}

static NOINLINE void 待つ_é(void *arg)
{
    volatile int64_t v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_chan_recv(never, (void *)&v); /* WAIT:utf8 */
    FAIL("utf8 waiter woke up");
}

static NOINLINE void names_PLACEHOLDER_1234(void *arg)
{
    volatile int64_t v = 0;
    ARRIVE((struct who *)arg, &v);
    gort_chan_recv(never, (void *)&v); /* WAIT:patched */
    FAIL("patched waiter woke up");
}

static int names_main(int argc, char **argv)
{
    if (argc != NTHREADS + 1)
        FAIL("usage: insp_names HEX HEX HEX");
    if (pipe(quiet_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));
    never = gort_chan_make(sizeof(int64_t), 0);
    for (long k = 0; k < NTHREADS; k++) {
        pthread_t t;
        unhex(argv[k + 1], names[k]);
        if (pthread_create(&t, NULL, named_thread, (void *)(intptr_t)k) != 0)
            FAIL("pthread_create");
    }
    for (int k = 0; k < NTHREADS; k++) {
        for (int i = 0; i < 10000 && !atomic_load(&tids[k]); i++)
            gort_sleep(MSEC(1));
        printf("THREAD %d tid=%ld\n", k, atomic_load(&tids[k]));
    }
    gort_go(待つ_é, &utf8_who);
    gort_go(names_PLACEHOLDER_1234, &patched_who);
    await_here(&utf8_who);
    await_here(&patched_who);
    progress_start(20);
    print_who(&utf8_who);
    print_who(&patched_who);
    return report_and_park();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return gort_main(names_main, argc, argv);
}
