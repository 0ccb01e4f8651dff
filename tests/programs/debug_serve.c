/*
 * debug_serve.c — a program serving gort_debug_serve("127.0.0.1:0") with
 * goroutines parked at known places (tests/test_debug_serve.py).
 *
 *   debug_serve park N    N goroutines in each of wait_chan (chan receive),
 *                         wait_select (select), wait_mutex (a mutex main
 *                         holds) and wait_sleep (sleep), a heartbeat that
 *                         checks a channel round trip every 20 ms
 *   debug_serve many N    N goroutines in wait_chan only, no heartbeat (bench)
 *
 * It prints "PORT p", "PID p" and "READY goroutines=G", then answers
 * commands read from stdin, one a line:
 *   count      "COUNT n": gort_numgoroutine()
 *   beat       "BEAT n bad=B": heartbeats so far, and round trips that came
 *              back wrong
 *   memstats   "MEMSTATS k=v ...": gort_read_memstats, in Go's field names
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS 1000000LL

static gort_chan *never;        /* nobody sends on it */
static gort_mutex held;
static atomic_int parked;
static atomic_long beats, bad;

__attribute__((noinline)) static void wait_chan(void)
{
    int64_t v;
    atomic_fetch_add(&parked, 1);
    gort_chan_recv(never, &v);
    __asm__ volatile("");
}

__attribute__((noinline)) static void wait_select(void)
{
    gort_select_case cases[2] = {
        {.chan = never, .dir = GORT_SELECT_RECV},
        {.chan = NULL, .dir = GORT_SELECT_RECV},
    };
    atomic_fetch_add(&parked, 1);
    gort_select(cases, 2, false);
    __asm__ volatile("");
}

__attribute__((noinline)) static void wait_mutex(void)
{
    atomic_fetch_add(&parked, 1);
    gort_mutex_lock(&held);
    __asm__ volatile("");
}

__attribute__((noinline)) static void wait_sleep(void)
{
    atomic_fetch_add(&parked, 1);
    gort_sleep(3600 * 1000 * MS);
    __asm__ volatile("");
}

static void run_chan(void *a) { (void)a; wait_chan(); }
static void run_select(void *a) { (void)a; wait_select(); }
static void run_mutex(void *a) { (void)a; wait_mutex(); }
static void run_sleep(void *a) { (void)a; wait_sleep(); }

static gort_chan *ping, *pong;

static void echo(void *a)
{
    (void)a;
    int64_t v;
    while (gort_chan_recv(ping, &v)) {
        v *= 2;
        gort_chan_send(pong, &v);
    }
}

static void heartbeat(void *a)
{
    (void)a;
    for (int64_t i = 1;; i++) {
        gort_sleep(20 * MS);
        int64_t v = i, back = 0;
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &back);
        if (back != 2 * i)
            atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&beats, 1);
    }
}

static void print_memstats(void)
{
    static gort_memstats ms;
    gort_read_memstats(&ms);
    printf("MEMSTATS Alloc=%llu TotalAlloc=%llu Sys=%llu Mallocs=%llu Frees=%llu HeapAlloc=%llu "
           "HeapSys=%llu HeapIdle=%llu HeapInuse=%llu HeapReleased=%llu HeapObjects=%llu "
           "StackInuse=%llu StackSys=%llu GCSys=%llu NextGC=%llu LastGC=%llu PauseTotalNs=%llu "
           "NumGC=%u NumForcedGC=%u\n",
           (unsigned long long)ms.alloc, (unsigned long long)ms.total_alloc,
           (unsigned long long)ms.sys, (unsigned long long)ms.mallocs,
           (unsigned long long)ms.frees, (unsigned long long)ms.heap_alloc,
           (unsigned long long)ms.heap_sys, (unsigned long long)ms.heap_idle,
           (unsigned long long)ms.heap_inuse, (unsigned long long)ms.heap_released,
           (unsigned long long)ms.heap_objects, (unsigned long long)ms.stack_inuse,
           (unsigned long long)ms.stack_sys, (unsigned long long)ms.gc_sys,
           (unsigned long long)ms.next_gc, (unsigned long long)ms.last_gc,
           (unsigned long long)ms.pause_total_ns, ms.num_gc, ms.num_forced_gc);
}

/* One line of stdin, waited for as a system call. */
static bool read_line(char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        gort_syscall_enter();
        ssize_t k = read(0, buf + n, 1);
        gort_syscall_exit();
        if (k <= 0)
            return false;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = 0;
    return true;
}

static int main_fn(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: debug_serve park|many N\n");
        return 2;
    }
    bool many = strcmp(argv[1], "many") == 0;
    int n = atoi(argv[2]);
    never = gort_chan_make(sizeof(int64_t), 0);
    gort_mutex_lock(&held);
    int want = 0;
    for (int i = 0; i < n; i++) {
        gort_go(run_chan, NULL);
        want++;
        if (!many) {
            gort_go(run_select, NULL);
            gort_go(run_mutex, NULL);
            gort_go(run_sleep, NULL);
            want += 3;
        }
    }
    while (atomic_load(&parked) < want)
        gort_sleep(MS);
    if (gort_debug_serve("127.0.0.1:0") != 0) {
        perror("gort_debug_serve");
        return 1;
    }
    if (!many) {
        ping = gort_chan_make(sizeof(int64_t), 0);
        pong = gort_chan_make(sizeof(int64_t), 0);
        gort_go(echo, NULL);
        gort_go(heartbeat, NULL);
    }
    gort_sleep(50 * MS);        /* every goroutine at its place */
    printf("PORT %d\nPID %d\nREADY goroutines=%d\n", gort_debug_serve_port(), (int)getpid(),
           gort_numgoroutine());
    char line[128];
    while (read_line(line, sizeof line)) {
        if (strcmp(line, "count") == 0)
            printf("COUNT %d\n", gort_numgoroutine());
        else if (strcmp(line, "beat") == 0)
            printf("BEAT %ld bad=%ld\n", atomic_load(&beats), atomic_load(&bad));
        else if (strcmp(line, "memstats") == 0)
            print_memstats();
        else
            printf("UNKNOWN %s\n", line);
    }
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(main_fn, argc, argv);
}
