/*
 * prof_block.c — known waits for the runtime's block profile
 * (tests/test_cpuprof.py).
 *
 * With gort_set_block_profile_rate(RATE), goroutines wait at three sites:
 * wait_recv receives from a channel whose sender sends every 20 ms,
 * wait_lock takes a mutex another goroutine holds for 30 ms at a time,
 * wait_group waits for a waitgroup a goroutine releases after 40 ms.  Each
 * site measures the time its call took and counts the calls; then the
 * profile is written to FILE and the truth printed:
 *     SITE NAME CALLS NS        NAME recv, lock, group
 *     DONE
 * Usage: prof_block FILE [RATE]   (RATE in ns, default 1: every wait)
 *        prof_block serve         the same, but the profile is left to the debug
 *                                 endpoint: PORT N first, then the truth, then it
 *                                 waits to be killed
 */
#include "rt_common.h"

#include <fcntl.h>

enum { ROUNDS = 10 };

static gort_chan *ch;
static gort_mutex mu;
static gort_waitgroup done_wg;
static int64_t rate = 1;

static NOINLINE int64_t wait_recv(void)
{
    int64_t t0 = mono_ns();
    int v;
    gort_chan_recv(ch, &v); /* LINE:recv */
    return mono_ns() - t0;
}

static NOINLINE int64_t wait_lock(void)
{
    int64_t t0 = mono_ns();
    gort_mutex_lock(&mu); /* LINE:lock */
    int64_t d = mono_ns() - t0;
    gort_mutex_unlock(&mu);
    return d;
}

static NOINLINE int64_t wait_group(gort_waitgroup *wg)
{
    int64_t t0 = mono_ns();
    gort_waitgroup_wait(wg); /* LINE:group */
    return mono_ns() - t0;
}

static void sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        gort_sleep(MSEC(20));
        gort_chan_send(ch, &i);
    }
    gort_waitgroup_done(&done_wg);
}

static void holder(void *arg)
{
    gort_chan *go = arg;
    for (int i = 0; i < ROUNDS; i++) {
        gort_mutex_lock(&mu);
        int v = i;
        gort_chan_send(go, &v);       /* the waiter may try now */
        gort_sleep(MSEC(30));
        gort_mutex_unlock(&mu);
        gort_sleep(MSEC(5));
    }
    gort_waitgroup_done(&done_wg);
}

static void releaser(void *arg)
{
    gort_sleep(MSEC(40));
    gort_waitgroup_done(arg);
}

struct site {
    const char *name;
    int calls;
    int64_t ns;
};

static struct site recv_site = {"recv", 0, 0}, lock_site = {"lock", 0, 0},
                   group_site = {"group", 0, 0};

static void recv_waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        recv_site.ns += wait_recv();
        recv_site.calls++;
    }
    gort_waitgroup_done(&done_wg);
}

static void lock_waiter(void *arg)
{
    gort_chan *go = arg;
    for (int i = 0; i < ROUNDS; i++) {
        int v;
        gort_chan_recv(go, &v);
        lock_site.ns += wait_lock();
        lock_site.calls++;
    }
    gort_waitgroup_done(&done_wg);
}

static void group_waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        gort_waitgroup wg = {0};
        gort_waitgroup_add(&wg, 1);
        gort_go(releaser, &wg);
        group_site.ns += wait_group(&wg);
        group_site.calls++;
    }
    gort_waitgroup_done(&done_wg);
}

static int prog(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: prof_block FILE [RATE]\n");
        return 2;
    }
    if (argc > 2)
        rate = atoll(argv[2]);
    bool serve = strcmp(argv[1], "serve") == 0;
    if (serve) {
        if (gort_debug_serve("127.0.0.1:0") != 0)
            FAIL("gort_debug_serve: %s", strerror(errno));
        printf("PORT %d\n", gort_debug_serve_port());
        fflush(stdout);
    }
    gort_set_block_profile_rate(rate);
    ch = gort_chan_make(sizeof(int), 0);
    gort_chan *go = gort_chan_make(sizeof(int), 0);
    gort_waitgroup_add(&done_wg, 5);
    gort_go(sender, NULL);
    gort_go(recv_waiter, NULL);
    gort_go(holder, go);
    gort_go(lock_waiter, go);
    gort_go(group_waiter, NULL);
    gort_waitgroup_wait(&done_wg);
    gort_set_block_profile_rate(0);      /* the truth is complete */
    if (serve)
        goto truth;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || gort_write_block_profile(fd) != 0)
        FAIL("writing %s: %s", argv[1], strerror(errno));
    close(fd);
truth:;
    struct site *sites[] = {&recv_site, &lock_site, &group_site};
    for (int i = 0; i < 3; i++)
        printf("SITE %s %d %lld\n", sites[i]->name, sites[i]->calls, (long long)sites[i]->ns);
    printf("DONE\n");
    fflush(stdout);
    while (serve)
        gort_sleep(SEC(1));
    return 0;
}

int main(int argc, char **argv) { return gort_main(prog, argc, argv); }
