/*
 * insp_races.c — targets that race goinspect's attach (tests/test_attach_races.py).
 *
 *   insp_races churn       threads that start and exit all the time: several
 *                          pthreads each create bursts of short-lived threads
 *                          and join them, in a tight loop; prints "CHURN N"
 *                          once N threads came and went
 *   insp_races exit        a watcher thread exits the program (status 3)
 *                          once a tracer has seized every thread (but not
 *                          stopped them yet), printing "EXITING" first
 *   insp_races exec        the same watcher calls execve on its own
 *                          executable instead, printing "EXECVE"; the new
 *                          image runs mode "execed"
 *   insp_races exec_last   its newest thread, the watcher ("WATCHER TID"),
 *                          calls execve once every other thread is seized
 *   insp_races execed      prints "EXECED", then runs as plain
 *   insp_races plain       only the goroutines every insp_* program has
 *   insp_races reexec [N]  prints "REEXEC N", runs about 20 ms, and execs
 *                          itself with N+1, for ever
 *   insp_races nodump      calls prctl(PR_SET_DUMPABLE, 0) and says
 *                          "DUMPABLE 0" (read back with PR_GET_DUMPABLE)
 *   insp_races crowd       2,000 threads waiting on a condition variable
 *                          (stopping them all makes a long pause)
 *
 * Except reexec, every mode prints the facts of insp_common.h, READY, and
 * TICK lines.
 */
#include "insp_common.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/prctl.h>

enum {
    NCHURN = 4,         /* threads that make short-lived ones */
    BURST = 32,         /* short-lived threads made, and ended, together */
    CROWD = 2000,       /* threads of mode crowd */
};

static atomic_long made;
static char self_exe[4096];

/* Waits for the rest of its burst, then exits with it: many threads exit
 * at once, as a server's workers do when a batch ends. */
static void *short_lived(void *arg)
{
    pthread_barrier_wait(arg);
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    pthread_barrier_t burst;
    pthread_barrier_init(&burst, NULL, BURST);
    for (;;) {
        pthread_t t[BURST];
        for (int i = 0; i < BURST; i++)
            if (pthread_create(&t[i], NULL, short_lived, &burst) != 0)
                FAIL("pthread_create failed");
        for (int i = 0; i < BURST; i++)
            pthread_join(t[i], NULL);
        atomic_fetch_add(&made, BURST);
    }
    return NULL;
}

static void start_thread(void *(*fn)(void *))
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, NULL) != 0)
        FAIL("pthread_create failed");
    pthread_detach(t);
}

static int mode_churn(void)
{
    for (int i = 0; i < NCHURN; i++)
        start_thread(churn);
    progress_start(20);
    while (atomic_load(&made) < 1000)
        gort_sleep(MSEC(1));
    printf("CHURN %ld\n", atomic_load(&made));
    return report_and_park();
}

/* The tracer of one of its threads, from /proc/self/task/TID/status. */
static long tracer_of(const char *tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "r");
    long tracer = 0;
    if (!f)
        return -1;                      /* gone */
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "TracerPid:", 10) == 0)
            tracer = strtol(line + 10, NULL, 10);
    fclose(f);
    return tracer;
}

/* Whether every thread of the program but one (0: none) is traced
 * (the caller's runs, so none is stopped yet). */
static bool all_traced(long but)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        FAIL("cannot open /proc/self/task");
    bool all = true;
    struct dirent *e;
    while (all && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strtol(e->d_name, NULL, 10) != but &&
            tracer_of(e->d_name) == 0)
            all = false;
    closedir(d);
    return all;
}

/* Returns once a tracer has seized every thread but one. */
static void await_tracer(long but)
{
    while (!all_traced(but)) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static void *exit_when_traced(void *arg)
{
    (void)arg;
    await_tracer(0);
    printf("EXITING\n");
    fflush(stdout);
    _exit(3);
}

/* Execs its own executable by name (so the new image keeps its comm). */
static void exec_self(const char *mode, const char *arg)
{
    char *argv[] = {self_exe, (char *)mode, (char *)arg, NULL};
    execv(self_exe, argv);
    FAIL("execv %s: %s", self_exe, strerror(errno));
}

static void *exec_when_traced(void *arg)
{
    (void)arg;
    await_tracer(0);
    printf("EXECVE\n");
    fflush(stdout);
    exec_self("execed", NULL);
    return NULL;
}

static atomic_long watcher_tid;

/* The newest thread: execs once every other thread is traced, that is
 * while the tracer is about to seize this one. */
static void *exec_before_seized(void *arg)
{
    (void)arg;
    atomic_store(&watcher_tid, tid());
    await_tracer(tid());
    printf("EXECVE\n");
    fflush(stdout);
    exec_self("execed", NULL);
    return NULL;
}

static int mode_exit(void)
{
    start_thread(exit_when_traced);
    progress_start(20);
    return report_and_park();
}

static int mode_exec(void)
{
    start_thread(exec_when_traced);
    progress_start(20);
    return report_and_park();
}

static int mode_exec_last(void)
{
    progress_start(20);
    start_thread(exec_before_seized);
    while (!atomic_load(&watcher_tid))
        gort_sleep(MSEC(1));
    printf("WATCHER %ld\n", atomic_load(&watcher_tid));
    return report_and_park();
}

static int mode_plain(void)
{
    progress_start(20);
    return report_and_park();
}

static int mode_execed(void)
{
    printf("EXECED\n");
    return mode_plain();
}

static int mode_nodump(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        FAIL("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
    printf("DUMPABLE %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    progress_start(20);
    return report_and_park();
}

static pthread_mutex_t crowd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t crowd_cv = PTHREAD_COND_INITIALIZER;

static void *crowd_member(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&crowd_mu);
    for (;;)
        pthread_cond_wait(&crowd_cv, &crowd_mu);
    return NULL;
}

/* Many threads, so that stopping them all takes a while. */
static int mode_crowd(void)
{
    pthread_attr_t small;
    pthread_attr_init(&small);
    pthread_attr_setstacksize(&small, 64 << 10);
    for (int i = 0; i < CROWD; i++) {
        pthread_t t;
        if (pthread_create(&t, &small, crowd_member, NULL) != 0)
            FAIL("pthread_create failed");
    }
    printf("CROWD %d\n", CROWD);
    progress_start(20);
    return report_and_park();
}

static long generation;

static int mode_reexec(void)
{
    printf("REEXEC %ld\n", generation);
    fflush(stdout);
    progress_start(5);
    gort_sleep(MSEC(20));
    char next[24];
    snprintf(next, sizeof next, "%ld", generation + 1);
    exec_self("reexec", next);
    return 1;
}

static const struct mode modes[] = {
    {"churn", mode_churn},
    {"exit", mode_exit},
    {"exec", mode_exec},
    {"exec_last", mode_exec_last},
    {"execed", mode_execed},
    {"plain", mode_plain},
    {"reexec", mode_reexec},
    {"nodump", mode_nodump},
    {"crowd", mode_crowd},
    {NULL, NULL},
};

static int races_main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n < 0)
        FAIL("readlink /proc/self/exe: %s", strerror(errno));
    self_exe[n] = 0;
    if (argc >= 3)
        generation = strtol(argv[2], NULL, 10);
    return run_mode(modes, argc, argv);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return gort_main(races_main, argc, argv);
}
