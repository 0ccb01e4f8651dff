/*
 * timecrash.c — times a program's crash report: runs PROGRAM ARGS..., waits
 * for its READY line, writes a byte to its stdin (which makes it fail) and
 * reads its stderr to the end; prints
 *
 *     SECONDS BYTES LINES HOW
 *
 * the time from the byte to the program's end (its report written, the
 * process reaped), the report's size, and how it ended (signal NAME or
 * exit N).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: timecrash PROGRAM [ARG...]\n");
        return 2;
    }
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err)) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    FILE *o = fdopen(out[0], "r");
    char line[256];
    while (fgets(line, sizeof line, o) && strcmp(line, "READY\n") != 0) {
    }
    if (feof(o)) {
        fprintf(stderr, "timecrash: %s ended before READY\n", argv[1]);
        return 1;
    }
    double t0 = now();
    if (write(in[1], "x", 1) != 1) {
        perror("write");
        return 1;
    }
    static char buf[1 << 16];
    long bytes = 0, lines = 0;
    ssize_t n;
    while ((n = read(err[0], buf, sizeof buf)) > 0) {
        bytes += n;
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    }
    int st;
    waitpid(pid, &st, 0);
    double t1 = now();
    char how[64];
    if (WIFSIGNALED(st))
        snprintf(how, sizeof how, "signal_%s", sigabbrev_np(WTERMSIG(st)));
    else
        snprintf(how, sizeof how, "exit_%d", WEXITSTATUS(st));
    printf("%.4f %ld %ld %s\n", t1 - t0, bytes, lines, how);
    return 0;
}
