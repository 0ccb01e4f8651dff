/*
 * insp_churn.c — a program that keeps creating short-lived threads (plain
 * pthreads, from a thread of its own), for attaching while threads appear
 * and vanish.  Prints "CHURN N" now and then (threads made so far), the
 * facts of insp_common.h, READY, and TICK lines.
 */
#include "insp_common.h"

#include <pthread.h>

static atomic_long made;

static void *short_lived(void *arg)
{
    volatile long x = (long)(intptr_t)arg;
    for (int i = 0; i < 1000; i++)
        x += i;
    return (void *)(intptr_t)x;
}

static void *churn(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            if (pthread_create(&t[i], NULL, short_lived, (void *)(intptr_t)i) != 0)
                FAIL("pthread_create failed");
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        atomic_fetch_add(&made, 4);
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int mode_run(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, churn, NULL) != 0)
        FAIL("pthread_create failed");
    progress_start(20);
    while (atomic_load(&made) < 100)
        gort_sleep(MSEC(1));
    printf("CHURN %ld\n", atomic_load(&made));
    return report_and_park();
}

static const struct mode modes[] = {
    {"run", mode_run},
    {NULL, NULL},
};

RT_MAIN(modes)
