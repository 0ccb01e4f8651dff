/*
 * gcore_churn.c — memory that changes all the time, for tests/test_gcore.py:
 * a core of it is of one moment only if the process was stopped while
 * all of it was copied.
 *
 * A thread writes the generation number g into the first word of each of
 * PAGES pages, in order, then starts again with g + 1, without pause.  At
 * any moment the pages hold g in a prefix and g - 1 after it; a copy made
 * while the thread runs holds older generations after newer ones, or
 * skips one.  Prints "CHURN 0xADDR PAGES", then READY, and runs until
 * killed.
 *
 *   gcore_churn [PAGES]       (default 16384: 64 MiB)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

enum { PAGE = 4096 };

static volatile uint64_t *pages;
static size_t npages;

static void *writer(void *arg)
{
    (void)arg;
    for (uint64_t g = 1;; g++)
        for (size_t i = 0; i < npages; i++)
            pages[i * (PAGE / 8)] = g;
    return NULL;
}

int main(int argc, char **argv)
{
    npages = argc > 1 ? (size_t)atol(argv[1]) : 16384;
    void *m = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                   0);
    if (m == MAP_FAILED)
        return 1;
    pages = m;
    pthread_t th;
    pthread_create(&th, NULL, writer, NULL);
    while (pages[(npages - 1) * (PAGE / 8)] == 0)
        usleep(1000);
    printf("CHURN %p %zu\nREADY\n", m, npages);
    fflush(stdout);
    for (;;)
        pause();
}
