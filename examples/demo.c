/*
 * demo.c — a small order-processing service on libgort, to look into.
 *
 * An order source feeds a pipeline (parse -> price) over channels; priced
 * orders go to a pool of workers; a collector keeps per-customer totals in
 * a mutex-guarded map.  Timers drive it (gort_tick) and bound its waits
 * (gort_after).  Around it sit goroutines that are stuck, each in its own
 * way, so an inspector shows every wait reason the runtime has: a channel
 * receive and send, nil channels, a select, an empty select, a sleep, a
 * mutex, a wait group, a once, and a blocking read in a system call.
 *
 * Runs until killed.  Build: gortcc -O2 -o demo demo.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gort.h>

#define MSEC(n) ((int64_t)(n) * 1000000)

/* ---- the service ---------------------------------------------------- */

struct order {
    uint64_t id;
    int customer;
    int quantity;
    int64_t cents;
};

enum { CUSTOMERS = 8, WORKERS = 4 };
static const char *const customer_names[CUSTOMERS] = {
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka",
};

static gort_chan *raw_orders, *parsed_orders, *priced_orders, *results;

/* customer -> (orders, cents), guarded by totals_lock */
static struct {
    gort_mutex lock;
    uint64_t orders[CUSTOMERS];
    int64_t cents[CUSTOMERS];
} totals;

/* Stage 0: an order every 50 ms. */
static void order_source(void *arg)
{
    (void)arg;
    gort_chan *tick = gort_tick(MSEC(50));
    uint64_t next = 1;
    for (;;) {
        gort_chan_recv(tick, NULL);
        struct order o = {.id = next, .customer = (int)(next * 7 % CUSTOMERS),
                          .quantity = (int)(next % 5) + 1};
        next++;
        gort_chan_send(raw_orders, &o);
    }
}

/* Stage 1: reject empty orders. */
static void parse_stage(void *arg)
{
    (void)arg;
    struct order o;
    while (gort_chan_recv(raw_orders, &o))
        if (o.quantity > 0)
            gort_chan_send(parsed_orders, &o);
}

/* Stage 2: price them. */
static void price_stage(void *arg)
{
    (void)arg;
    struct order o;
    while (gort_chan_recv(parsed_orders, &o)) {
        o.cents = (int64_t)o.quantity * (199 + 100 * o.customer);
        gort_chan_send(priced_orders, &o);
    }
}

/* The worker pool: "fulfil" each order. */
static void worker(void *arg)
{
    (void)arg;
    struct order o;
    while (gort_chan_recv(priced_orders, &o)) {
        uint64_t h = o.id;
        for (int i = 0; i < 1000; i++)
            h = h * 6364136223846793005ull + 1442695040888963407ull;
        if (h == 0)
            o.cents++;
        gort_chan_send(results, &o);
    }
}

/* Totals per customer; wakes at least once a second even with no orders. */
static void collector(void *arg)
{
    (void)arg;
    for (;;) {
        struct order o;
        gort_select_case cs[] = {
            {.chan = results, .dir = GORT_SELECT_RECV, .elem = &o},
            {.chan = gort_after(MSEC(1000)), .dir = GORT_SELECT_RECV, .elem = NULL},
        };
        if (gort_select(cs, 2, false) != 0)
            continue;
        gort_mutex_lock(&totals.lock);
        totals.orders[o.customer]++;
        totals.cents[o.customer] += o.cents;
        gort_mutex_unlock(&totals.lock);
    }
}

/* A summary line every 10 s. */
static void reporter(void *arg)
{
    (void)arg;
    for (;;) {
        gort_sleep(MSEC(10000));
        uint64_t n = 0;
        int64_t cents = 0;
        int best = 0;
        gort_mutex_lock(&totals.lock);
        for (int c = 0; c < CUSTOMERS; c++) {
            n += totals.orders[c];
            cents += totals.cents[c];
            if (totals.cents[c] > totals.cents[best])
                best = c;
        }
        gort_mutex_unlock(&totals.lock);
        printf("demo: %" PRIu64 " orders, %" PRId64 ".%02" PRId64 " total, top customer %s, "
               "%d goroutines\n",
               n, cents / 100, cents % 100, customer_names[best], gort_numgoroutine());
    }
}

/* ---- the stuck ones, one per wait reason -------------------------------- */

static gort_chan *quit;             /* never closed */
static gort_chan *audit_log;        /* full, never drained */
static gort_chan *admin_commands;   /* nobody sends */
static gort_chan *config_source;    /* nobody sends */
static gort_chan *warmup_source;    /* nobody sends */
static gort_mutex config_lock;
static gort_waitgroup batch;
static gort_once cache_once;
static int admin_pipe[2];           /* nobody writes */

/* chan receive */
static void shutdown_listener(void *arg)
{
    (void)arg;
    gort_chan_recv(quit, NULL);
    printf("demo: shutting down\n");
}

/* chan send */
static void audit_writer(void *arg)
{
    (void)arg;
    int64_t entry = 2;
    gort_chan_send(audit_log, &entry);
    printf("demo: audit log drained\n");
}

/* chan receive (nil chan): a feature switched off has no channel */
static void disabled_feature(void *arg)
{
    gort_chan *events = arg;
    gort_chan_recv(events, NULL);
    printf("demo: feature enabled\n");
}

/* chan send (nil chan): no metrics sink configured */
static void metrics_push(void *arg)
{
    gort_chan *sink = arg;
    int64_t sample = 1;
    gort_chan_send(sink, &sample);
    printf("demo: metrics pushed\n");
}

/* select */
static void admin_console(void *arg)
{
    (void)arg;
    int64_t cmd;
    gort_select_case cs[] = {
        {.chan = admin_commands, .dir = GORT_SELECT_RECV, .elem = &cmd},
        {.chan = quit, .dir = GORT_SELECT_RECV, .elem = NULL},
    };
    int i = gort_select(cs, 2, false);
    printf("demo: admin console woke (case %d)\n", i);
}

/* select (no cases) */
static void keepalive(void *arg)
{
    (void)arg;
    gort_select(NULL, 0, false);
    printf("demo: keepalive returned\n");
}

/* sleep */
static void janitor(void *arg)
{
    (void)arg;
    for (;;)
        gort_sleep(MSEC(3600) * 1000);
}

/* holds config_lock while waiting for a configuration that never comes */
static void config_reloader(void *arg)
{
    (void)arg;
    gort_mutex_lock(&config_lock);
    gort_chan_recv(config_source, NULL);
    gort_mutex_unlock(&config_lock);
}

/* sync.Mutex.Lock */
static void report_builder(void *arg)
{
    (void)arg;
    gort_mutex_lock(&config_lock);
    printf("demo: report built\n");
    gort_mutex_unlock(&config_lock);
}

/* sync.WaitGroup.Wait: a batch of one job that never finishes */
static void batch_waiter(void *arg)
{
    (void)arg;
    gort_waitgroup_wait(&batch);
    printf("demo: batch done\n");
}

static void warm_cache(void)
{
    gort_chan_recv(warmup_source, NULL);
}

/* the first user of the cache warms it (and waits for the source) */
static void cache_warmer(void *arg)
{
    (void)arg;
    gort_once_do(&cache_once, warm_cache);
    printf("demo: cache warm\n");
}

/* sync.Once.Do: later users wait for the warm-up */
static void lazy_client(void *arg)
{
    (void)arg;
    gort_once_do(&cache_once, warm_cache);
    printf("demo: client served\n");
}

/* syscall: a blocking read, bracketed so the processor is handed off */
static void pipe_reader(void *arg)
{
    (void)arg;
    char buf[64];
    ssize_t n;
    gort_syscall_enter();
    do
        n = read(admin_pipe[0], buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    gort_syscall_exit();
    printf("demo: read %zd bytes\n", n);
}

/* ---- start-up -------------------------------------------------------- */

struct start {
    const char *what;
    void (*fn)(void *);
    void *arg;
};

static uint64_t start(const struct start *s)
{
    uint64_t id = gort_go(s->fn, s->arg);
    printf("  goroutine %-4" PRIu64 " %s\n", id, s->what);
    return id;
}

static int demo_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("demo: pid %ld, GOMAXPROCS %d\n", (long)getpid(), gort_maxprocs(0));

    raw_orders = gort_chan_make(sizeof(struct order), 16);
    parsed_orders = gort_chan_make(sizeof(struct order), 0);
    priced_orders = gort_chan_make(sizeof(struct order), 8);
    results = gort_chan_make(sizeof(struct order), 0);
    quit = gort_chan_make(sizeof(int64_t), 0);
    audit_log = gort_chan_make(sizeof(int64_t), 1);
    int64_t first = 1;
    gort_chan_send(audit_log, &first);
    admin_commands = gort_chan_make(sizeof(int64_t), 0);
    config_source = gort_chan_make(sizeof(int64_t), 0);
    warmup_source = gort_chan_make(sizeof(int64_t), 0);
    gort_waitgroup_add(&batch, 1);
    if (pipe(admin_pipe) != 0) {
        perror("demo: pipe");
        return 1;
    }

    static const struct start service[] = {
        {"order source (ticks every 50 ms)", order_source, NULL},
        {"pipeline stage: parse", parse_stage, NULL},
        {"pipeline stage: price", price_stage, NULL},
        {"collector (mutex-guarded totals, 1 s timeout)", collector, NULL},
        {"reporter (sleeps 10 s between reports)", reporter, NULL},
    };
    printf("demo: started the service:\n");
    for (size_t i = 0; i < sizeof service / sizeof service[0]; i++)
        start(&service[i]);
    for (int i = 0; i < WORKERS; i++)
        start(&(struct start){"worker", worker, NULL});

    static const struct start stuck[] = {
        {"shutdown listener       [chan receive]", shutdown_listener, NULL},
        {"audit writer            [chan send]", audit_writer, NULL},
        {"disabled feature        [chan receive (nil chan)]", disabled_feature, NULL},
        {"metrics push            [chan send (nil chan)]", metrics_push, NULL},
        {"admin console           [select]", admin_console, NULL},
        {"keepalive               [select (no cases)]", keepalive, NULL},
        {"janitor                 [sleep]", janitor, NULL},
        {"config reloader         [chan receive, holding config_lock]", config_reloader, NULL},
    };
    printf("demo: started goroutines that wait:\n");
    for (size_t i = 0; i < sizeof stuck / sizeof stuck[0]; i++)
        start(&stuck[i]);
    gort_sleep(MSEC(20));    /* config_lock is held by now */
    start(&(struct start){"report builder          [sync.Mutex.Lock]", report_builder, NULL});
    start(&(struct start){"batch waiter            [sync.WaitGroup.Wait]", batch_waiter, NULL});
    start(&(struct start){"cache warmer            [chan receive, inside once]", cache_warmer,
                          NULL});
    gort_sleep(MSEC(20));    /* the warm-up is under way */
    start(&(struct start){"lazy client             [sync.Once.Do]", lazy_client, NULL});
    start(&(struct start){"pipe reader             [syscall: read]", pipe_reader, NULL});
    printf("demo: goroutine 1 waits for shutdown [chan receive]; kill %ld to stop\n",
           (long)getpid());
    fflush(stdout);

    gort_chan_recv(quit, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    return gort_main(demo_main, argc, argv);
}
