/*
 * thread_places.c — a libgort program whose plain threads wait in places a
 * debugger names in its own way, for the tests of tests/placeslib.py.
 *
 *   thread_places aliases          a thread blocked in write() on a full pipe,
 *                               one in select() with no descriptors
 *   thread_places vdso             a thread calling clock_gettime() without end
 *                               (its pc is in the vdso most of the time)
 *   thread_places nanotime         a goroutine calling gort_nanotime() without
 *                               end (printed as "GOID nanotime ID")
 *   thread_places plt GOT PLT      a thread looping in the PLT stub of getppid:
 *                               the GOT slot at offset GOT is made to point
 *                               at the stub itself (offset PLT)
 *   thread_places sigframe         a thread blocked in read() inside a signal
 *                               handler that interrupted pause()
 *   thread_places altstack         the same with the handler on an alternate
 *                               signal stack (sigaltstack, SA_ONSTACK)
 *   thread_places signals N        N threads in pause() and one that sends them
 *                               SIGUSR1 (caught) every 20 us
 *   thread_places lib PATH FUNC    a thread calling FUNC of the library PATH
 *                               (dlopen) that never returns
 *
 * Prints "TID KIND tid" for each thread of interest, then READY, and stays
 * until killed.
 */
#include "rt_common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>

extern char __executable_start[];

static atomic_int arrived;
static int quiet_pipe[2];       /* nobody writes */
static int full_pipe[2];        /* nobody reads */

struct place {
    const char *kind;
    void *(*fn)(void *);
    void *arg;
    atomic_long tid;
};

static void arrive(struct place *p)
{
    atomic_store(&p->tid, tid());
    atomic_fetch_add(&arrived, 1);
}

static NOINLINE void *write_forever(void *arg)
{
    static char buf[1 << 16];
    arrive(arg);
    for (;;)
        if (write(full_pipe[1], buf, sizeof buf) < 0)
            FAIL("write: %s", strerror(errno));
    return NULL;
}

static NOINLINE void *select_forever(void *arg)
{
    arrive(arg);
    for (;;)
        select(0, NULL, NULL, NULL, NULL);
    return NULL;
}

static NOINLINE void *vdso_spin(void *arg)
{
    struct timespec ts;
    arrive(arg);
    for (;;)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return NULL;
}

static atomic_ulong nanotime_goid;
static volatile int64_t nanotime_sink;

static NOINLINE void nanotime_spin(void *arg)
{
    arrive(arg);
    atomic_store(&nanotime_goid, gort_goid());
    for (;;)
        nanotime_sink += gort_nanotime();
}

static unsigned long got_off, plt_off;

static NOINLINE void *plt_loop(void *arg)
{
    unsigned long *slot = (unsigned long *)(__executable_start + got_off);
    if (mprotect((void *)((unsigned long)slot & ~4095UL), 4096, PROT_READ | PROT_WRITE) != 0)
        FAIL("mprotect: %s", strerror(errno));
    *slot = (unsigned long)(__executable_start + plt_off);
    arrive(arg);
    getppid();          /* jumps to its own PLT stub for good */
    FAIL("getppid returned");
    return NULL;
}

static NOINLINE void wait_in_handler(int sig)
{
    char c;
    (void)sig;
    for (;;)
        if (read(quiet_pipe[0], &c, 1) >= 0)
            FAIL("read returned");
}

static NOINLINE void *pause_forever(void *arg)
{
    arrive(arg);
    for (;;)
        pause();
    return NULL;
}

static NOINLINE void *altstack_pause_forever(void *arg)
{
    static char altstack[256 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        FAIL("sigaltstack: %s", strerror(errno));
    arrive(arg);
    for (;;)
        pause();
    return NULL;
}

static void on_usr1(int sig)
{
    (void)sig;
}

static long *storm_tids;
static int storm_n;

static NOINLINE void *send_storm(void *arg)
{
    unsigned r = 1;
    arrive(arg);
    for (;;) {
        r = r * 1103515245u + 12345u;
        syscall(SYS_tgkill, getpid(), (pid_t)storm_tids[(r >> 8) % (unsigned)storm_n], SIGUSR1);
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void (*lib_fn)(void);

static NOINLINE void *call_lib(void *arg)
{
    arrive(arg);
    lib_fn();
    FAIL("the library function returned");
    return NULL;
}

static void start_place(struct place *p)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    if (pthread_create(&t, &a, p->fn, p->arg ? p->arg : p) != 0)
        FAIL("pthread_create");
    pthread_attr_destroy(&a);
}

static void await_arrivals(int n)
{
    for (int i = 0; i < 10000 && atomic_load(&arrived) < n; i++)
        gort_sleep(MSEC(1));
    if (atomic_load(&arrived) < n)
        FAIL("only %d of %d threads arrived", atomic_load(&arrived), n);
}

static void report(struct place *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("TID %s %ld\n", v[i].kind, atomic_load(&v[i].tid));
}

static int run_places(struct place *v, int n)
{
    for (int i = 0; i < n; i++)
        start_place(&v[i]);
    await_arrivals(n);
    report(v, n);
    return 0;
}

static int signals_mode(int n)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    struct place *v = calloc((size_t)n + 1, sizeof *v);
    storm_tids = calloc((size_t)n, sizeof *storm_tids);
    storm_n = n;
    for (int i = 0; i < n; i++) {
        v[i] = (struct place){"pause", pause_forever, NULL, 0};
        start_place(&v[i]);
    }
    await_arrivals(n);
    for (int i = 0; i < n; i++)
        storm_tids[i] = atomic_load(&v[i].tid);
    v[n] = (struct place){"sender", send_storm, NULL, 0};
    start_place(&v[n]);
    await_arrivals(n + 1);
    report(&v[n], 1);
    return 0;
}

static int sigframe_mode(bool altstack)
{
    static struct place p = {"sigframe", pause_forever, NULL, 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wait_in_handler;
    if (altstack) {
        p.fn = altstack_pause_forever;
        sa.sa_flags = SA_ONSTACK;
    }
    sigaction(SIGUSR2, &sa, NULL);
    run_places(&p, 1);
    /* the thread is in pause() or about to be: either way the handler runs */
    syscall(SYS_tgkill, getpid(), (pid_t)atomic_load(&p.tid), SIGUSR2);
    for (int i = 0; i < 10000; i++) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%ld/wchan", atomic_load(&p.tid));
        FILE *f = fopen(path, "r");
        size_t k = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[k] = 0;
        /* blocked in the pipe's read, inside the handler */
        if (strstr(buf, "pipe_read"))
            return 0;
        gort_sleep(MSEC(1));
    }
    FAIL("the handler never blocked in read");
}

static int places_main(int argc, char **argv)
{
    if (pipe(quiet_pipe) != 0 || pipe(full_pipe) != 0)
        FAIL("pipe: %s", strerror(errno));
    const char *mode = argc > 1 ? argv[1] : "";
    int rc = -1;
    if (strcmp(mode, "aliases") == 0) {
        static struct place v[] = {{"write", write_forever, NULL, 0},
                                   {"select", select_forever, NULL, 0}};
        rc = run_places(v, 2);
    } else if (strcmp(mode, "vdso") == 0) {
        static struct place v[] = {{"vdso", vdso_spin, NULL, 0}};
        rc = run_places(v, 1);
    } else if (strcmp(mode, "nanotime") == 0) {
        static struct place p = {"nanotime", NULL, NULL, 0};
        gort_go(nanotime_spin, &p);
        await_arrivals(1);
        while (!atomic_load(&nanotime_goid))
            gort_yield();
        report(&p, 1);
        printf("GOID nanotime %lu\n", atomic_load(&nanotime_goid));
        rc = 0;
    } else if (strcmp(mode, "plt") == 0 && argc > 3) {
        static struct place v[] = {{"plt", plt_loop, NULL, 0}};
        got_off = strtoul(argv[2], NULL, 0);
        plt_off = strtoul(argv[3], NULL, 0);
        rc = run_places(v, 1);
    } else if (strcmp(mode, "sigframe") == 0 || strcmp(mode, "altstack") == 0) {
        rc = sigframe_mode(strcmp(mode, "altstack") == 0);
    } else if (strcmp(mode, "signals") == 0 && argc > 2) {
        rc = signals_mode(atoi(argv[2]));
    } else if (strcmp(mode, "lib") == 0 && argc > 3) {
        void *h = dlopen(argv[2], RTLD_NOW);
        if (!h)
            FAIL("dlopen: %s", dlerror());
        *(void **)&lib_fn = dlsym(h, argv[3]);
        if (!lib_fn)
            FAIL("dlsym %s: %s", argv[3], dlerror());
        static struct place v[] = {{"lib", call_lib, NULL, 0}};
        rc = run_places(v, 1);
    }
    if (rc < 0) {
        fprintf(stderr, "usage: thread_places aliases|vdso|nanotime|plt GOT PLT|sigframe|altstack|signals N|"
                        "lib PATH FUNC\n");
        exit(2);
    }
    printf("READY\n");
    fflush(stdout);
    sleep_forever();
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(places_main, argc, argv);
}
