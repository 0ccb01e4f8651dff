/*
 * rt_lockos.c — gort_lock_os_thread wires a goroutine to its thread.
 *
 *   rt_lockos pin
 *
 * A locked goroutine parks and resumes many ways (yield, sleep, channel
 * operations) and records the thread it runs on each time; other goroutines
 * record theirs while it is locked.  The test checks that the locked one
 * stayed on one thread and that no other goroutine ran there meanwhile.
 */
#include "rt_common.h"

enum { MAXT = 64 };

struct tidset {
    long t[MAXT];
    int n;
};

static void tidset_add(struct tidset *s, long t)
{
    for (int i = 0; i < s->n; i++)
        if (s->t[i] == t)
            return;
    if (s->n < MAXT)
        s->t[s->n++] = t;
}

static void tidset_print(const char *key, const struct tidset *s)
{
    printf("%s", key);
    for (int i = 0; i < s->n; i++)
        printf(" %ld", s->t[i]);
    printf("\n");
}

static void print_comm(const char *key, long t)
{
    char path[64], name[32] = "?";
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", t);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = 0;
        fclose(f);
    }
    printf("%s %s\n", key, name);
}

static atomic_int pinned;          /* 1 while the locked goroutine is locked */
static atomic_int stop_churn;
static struct tidset others;       /* threads others ran on while pinned */
static gort_mutex others_mu;
static gort_chan *ping, *pong;

/* Let the goroutine park and resume in every way the runtime offers. */
static void churn_step(int i)
{
    int64_t v = i;
    switch (i % 4) {
    case 0: gort_yield(); break;
    case 1: gort_sleep(300000); break;
    case 2:
        gort_chan_send(ping, &v);
        gort_chan_recv(pong, &v);
        break;
    case 3: gort_select(NULL, 0, true); gort_yield(); break;
    }
}

/* Called by goroutines other than the locked one. */
static void note_other_thread(void)
{
    long t = tid();   /* first the thread, then whether it is pinned */
    if (atomic_load(&pinned)) {
        gort_mutex_lock(&others_mu);
        tidset_add(&others, t);
        gort_mutex_unlock(&others_mu);
    }
}

static void echo(void *arg)
{
    (void)arg;
    int64_t v;
    while (gort_chan_recv(ping, &v)) {
        note_other_thread();
        gort_chan_send(pong, &v);
    }
}

static void churn(void *arg)
{
    gort_waitgroup *wg = arg;
    for (int i = 0; !atomic_load(&stop_churn); i++) {
        note_other_thread();
        if (i % 2)
            gort_yield();
        else
            gort_sleep(200000);
    }
    gort_waitgroup_done(wg);
}

/* Lock (twice, nested), move around, unlock once (still locked), move
 * around, unlock.  Records every thread it ran on. */
static void locked_work(const char *who)
{
    struct tidset seen = {.n = 0};
    gort_lock_os_thread();
    gort_lock_os_thread();
    long t0 = tid();
    atomic_store(&pinned, 1);
    for (int i = 0; i < 80; i++) {
        churn_step(i);
        tidset_add(&seen, tid());
        if (i == 40)
            gort_unlock_os_thread();
    }
    atomic_store(&pinned, 0);
    gort_unlock_os_thread();
    char key[64];
    snprintf(key, sizeof key, "%s_tid %ld", who, t0);
    printf("%s\n", key);
    snprintf(key, sizeof key, "%s_comm", who);
    print_comm(key, t0);
    snprintf(key, sizeof key, "%s_seen", who);
    tidset_print(key, &seen);
}

static void locked_goroutine(void *arg)
{
    gort_waitgroup *wg = arg;
    locked_work("locked");
    gort_waitgroup_done(wg);
}

static int mode_pin(void)
{
    ping = gort_chan_make(sizeof(int64_t), 0);
    pong = gort_chan_make(sizeof(int64_t), 0);
    gort_go(echo, NULL);
    printf("pid %ld\n", (long)getpid());

    for (int round = 0; round < 2; round++) {
        gort_waitgroup churners = {0}, done = {0};
        others.n = 0;
        atomic_store(&stop_churn, 0);
        gort_waitgroup_add(&churners, 4);
        for (int i = 0; i < 4; i++)
            gort_go(churn, &churners);
        if (round == 0) {
            /* a goroutine of its own */
            gort_waitgroup_add(&done, 1);
            gort_go(locked_goroutine, &done);
            gort_waitgroup_wait(&done);
            tidset_print("locked_others", &others);
        } else {
            /* goroutine 1 itself */
            locked_work("main");
            tidset_print("main_others", &others);
        }
        atomic_store(&stop_churn, 1);
        gort_waitgroup_wait(&churners);
    }
    return 0;
}

static const struct mode modes[] = {
    {"pin", mode_pin},
    {NULL, NULL},
};

RT_MAIN(modes)
