/*
 * firstlookup.c — what a tool pays for its first pc lookup in a binary:
 * gd_open and one gd_lookup, with the DWARF index built (the default) and
 * with the pc-line table in its place (GD_OPEN_PCTAB).
 *
 *   firstlookup EXE [RUNS]
 *
 * Each way is run RUNS times (default 5), alternately; the best and the
 * median of each are printed, with the ratio of the medians.  The pc is the
 * middle of the largest function; both ways must give the same frames, and
 * the table must be there (run gortpctab on EXE first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gidwarf.h"

enum { MAX_FRAMES = 64, MAX_RUNS = 101 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int die(const char *what, const char *why)
{
    fprintf(stderr, "firstlookup: %s: %s\n", what, why);
    return 1;
}

/* The middle of the largest function symbol. */
static uint64_t probe_pc(const char *exe)
{
    gd_binary *b;
    struct gd_open_options oo = {.flags = GD_OPEN_NO_INDEX | GD_OPEN_NO_DEBUGINFOD};
    if (gd_open(exe, &oo, &b, NULL) != GD_OK)
        return 0;
    const struct gd_symbol *syms;
    size_t n = gd_symbols(b, &syms);
    uint64_t pc = 0, best = 0;
    for (size_t i = 0; i < n; i++)
        if (syms[i].type == 2 /* STT_FUNC */ && syms[i].size > best) {
            best = syms[i].size;
            pc = syms[i].value + syms[i].size / 2;
        }
    gd_close(b);
    return pc;
}

/* One first lookup: seconds from gd_open to the frames; the frames in fr. */
static double one(const char *exe, unsigned flags, uint64_t pc, char *out, size_t cap,
                  bool *table)
{
    struct gd_open_options oo = {.flags = flags | GD_OPEN_NO_DEBUGINFOD};
    gd_binary *b;
    struct gd_frame fr[MAX_FRAMES];
    double t0 = now();
    if (gd_open(exe, &oo, &b, NULL) != GD_OK)
        return -1;
    int n = gd_lookup(b, pc, GD_SYMBOLS_GDB, fr, MAX_FRAMES);
    double t = now() - t0;
    size_t k = 0;
    for (int i = 0; i < n && i < MAX_FRAMES && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s %s:%u; ",
                              fr[i].linkage_name ? fr[i].linkage_name : fr[i].function,
                              fr[i].file ? fr[i].file : "??", fr[i].line);
    *table = gd_info(b)->has_pctab;
    gd_close(b);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return fprintf(stderr, "usage: firstlookup EXE [RUNS]\n"), 2;
    int runs = argc == 3 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > MAX_RUNS)
        return die(argv[2], "RUNS must be 1 to 101");
    uint64_t pc = probe_pc(argv[1]);
    if (!pc)
        return die(argv[1], "no function symbol (or not an ELF file)");
    double t[2][MAX_RUNS];
    char frames[2][4096];
    for (int r = 0; r < runs; r++) {
        bool table[2];
        for (int w = 0; w < 2; w++) {
            t[w][r] = one(argv[1], w ? GD_OPEN_PCTAB : 0, pc, frames[w], sizeof frames[w],
                          &table[w]);
            if (t[w][r] < 0)
                return die(argv[1], "cannot be opened");
        }
        if (!table[1])
            return die(argv[1], "no valid .gort_pctab (run gortpctab on it)");
    }
    if (strcmp(frames[0], frames[1]) != 0)
        return fprintf(stderr, "firstlookup: the frames differ:\n  index: %s\n  table: %s\n",
                       frames[0], frames[1]), 1;
    qsort(t[0], (size_t)runs, sizeof(double), cmp_double);
    qsort(t[1], (size_t)runs, sizeof(double), cmp_double);
    printf("pc %#llx: %s\n", (unsigned long long)pc, frames[0]);
    printf("open + first lookup, DWARF index: best %.4f s, median %.4f s\n", t[0][0],
           t[0][runs / 2]);
    printf("open + first lookup, pc-line table: best %.4f s, median %.4f s\n", t[1][0],
           t[1][runs / 2]);
    printf("ratio (index / table, medians): %.1fx\n", t[0][runs / 2] / t[1][runs / 2]);
    return 0;
}
