/*
 * insp_threads.c — a target with many OS threads, for goinspect attach.
 *
 *   insp_threads many NTHREADS NMS   NTHREADS plain pthreads (small stacks)
 *                                    blocked in read() on a pipe nobody
 *                                    writes, and NMS goroutines blocked in
 *                                    system calls on the same pipe: each
 *                                    holds an M (a runtime thread) of its own
 *
 * Prints "THREADS N" (the tasks in /proc/self/task once every blocked
 * thread is there), then READY, and stays until killed.
 */

#include "insp_common.h"

#include <dirent.h>
#include <pthread.h>

enum { PTHREAD_STACK = 64 * 1024 };

static int quiet_pipe[2];           /* nobody writes */
static atomic_int pthreads_in, goroutines_in;

static void block_in_read(void)
{
    char c;
    ssize_t n;
    do
        n = read(quiet_pipe[0], &c, 1);
    while (n < 0 && errno == EINTR);
    FAIL("read returned %zd", n);
}

static void *plain_thread(void *arg)
{
    (void)arg;
    atomic_fetch_add(&pthreads_in, 1);
    block_in_read();
    return NULL;
}

static void syscall_goroutine(void *arg)
{
    (void)arg;
    atomic_fetch_add(&goroutines_in, 1);
    gort_syscall_enter();
    block_in_read();
}

static int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        FAIL("/proc/self/task: %s", strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void start_pthreads(int n)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, PTHREAD_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < n; i++) {
        pthread_t t;
        int err = pthread_create(&t, &attr, plain_thread, NULL);
        if (err)
            FAIL("pthread_create %d: %s", i, strerror(err));
    }
    pthread_attr_destroy(&attr);
}

static int mode_many(int argc, char **argv)
{
    if (argc < 4)
        FAIL("usage: %s many NTHREADS NMS", argv[0]);
    int nthreads = atoi(argv[2]), nms = atoi(argv[3]);
    if (pipe(quiet_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));
    int before = count_tasks();
    start_pthreads(nthreads);
    for (int i = 0; i < nms; i++)
        gort_go(syscall_goroutine, NULL);
    await_count(&pthreads_in, nthreads);
    await_count(&goroutines_in, nms);
    /* every goroutine in a system call keeps its M: wait for those threads
     * (the runtime starts an M for each P it retakes) */
    int64_t deadline = mono_ns() + SEC(30);
    while (count_tasks() < before + nthreads + nms) {
        if (mono_ns() > deadline)
            FAIL("only %d threads of %d", count_tasks(), before + nthreads + nms);
        gort_sleep(MSEC(5));
    }
    gort_sleep(MSEC(50));       /* the last ones are in read() by now */
    printf("THREADS %d\n", count_tasks());
    main_park_forever(&main_who);
    return 0;
}

static int app_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "many") == 0)
        return mode_many(argc, argv);
    fprintf(stderr, "usage: %s many NTHREADS NMS\n", argv[0]);
    return 64;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return gort_main(app_main, argc, argv);
}
