/*
 * rtbench.c — libgort on three scheduler workloads; rtbench.go is the same
 * program in Go.  Each run does one workload and prints its time:
 *
 *   rtbench spawn      1,000,000 goroutines that exit at once; goroutine 1
 *                      waits for them on a WaitGroup       -> "spawn SECONDS s"
 *   rtbench pingpong   1,000,000 round trips over two unbuffered
 *                      channels                            -> "pingpong NS ns"
 *   rtbench park       100,000 goroutines park on one channel; once all
 *                      have arrived, a close releases them and goroutine 1
 *                      waits for them on a WaitGroup       -> "park SECONDS s"
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <gort.h>

enum { SPAWN_N = 1000000, PINGPONG_N = 1000000, PARK_N = 100000 };

static gort_waitgroup wg;

static void exit_at_once(void *arg)
{
    (void)arg;
    gort_waitgroup_done(&wg);
}

static void bench_spawn(void)
{
    int64_t t0 = gort_nanotime();
    gort_waitgroup_add(&wg, SPAWN_N);
    for (int i = 0; i < SPAWN_N; i++)
        gort_go(exit_at_once, NULL);
    gort_waitgroup_wait(&wg);
    printf("spawn %.3f s\n", (double)(gort_nanotime() - t0) / 1e9);
}

static gort_chan *ping, *pong;

static void echo(void *arg)
{
    (void)arg;
    int64_t v;
    while (gort_chan_recv(ping, &v))
        gort_chan_send(pong, &v);
}

static void bench_pingpong(void)
{
    ping = gort_chan_make(sizeof(int64_t), 0);
    pong = gort_chan_make(sizeof(int64_t), 0);
    gort_go(echo, NULL);
    int64_t t0 = gort_nanotime();
    for (int64_t i = 0; i < PINGPONG_N; i++) {
        int64_t v = i;
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
    }
    printf("pingpong %.1f ns\n", (double)(gort_nanotime() - t0) / PINGPONG_N);
}

static gort_chan *gate;
static atomic_int arrived;

static void park_on_gate(void *arg)
{
    (void)arg;
    atomic_fetch_add(&arrived, 1);
    gort_chan_recv(gate, NULL);
    gort_waitgroup_done(&wg);
}

static void bench_park(void)
{
    gate = gort_chan_make(sizeof(int64_t), 0);
    int64_t t0 = gort_nanotime();
    gort_waitgroup_add(&wg, PARK_N);
    for (int i = 0; i < PARK_N; i++)
        gort_go(park_on_gate, NULL);
    while (atomic_load(&arrived) < PARK_N)
        gort_yield();
    gort_chan_close(gate);
    gort_waitgroup_wait(&wg);
    printf("park %.3f s\n", (double)(gort_nanotime() - t0) / 1e9);
}

static int bench_main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    if (strcmp(w, "spawn") == 0)
        bench_spawn();
    else if (strcmp(w, "pingpong") == 0)
        bench_pingpong();
    else if (strcmp(w, "park") == 0)
        bench_park();
    else {
        fprintf(stderr, "usage: rtbench spawn|pingpong|park\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    return gort_main(bench_main, argc, argv);
}
