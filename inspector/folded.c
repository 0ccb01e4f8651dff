/*
 * folded.c — Brendan Gregg's folded stacks: one line per distinct stack,
 * its frames outermost first joined by ';', a space and its sample count
 * (what flamegraph.pl and speedscope read).  Lines are sorted and equal
 * ones merged.
 */
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "recording.h"

struct line {
    char *text;
    uint64_t count;
};

static int cmp_line(const void *a, const void *b)
{
    return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

/* A frame's name with the separators of the format replaced. */
static void add_name(struct bytebuf *b, const char *s)
{
    for (; *s; s++)
        bb_add(b, *s == ';' || *s == '\n' ? "_" : s, 1);
}

void folded_write(struct recording *r, bool with_owner, struct bytebuf *out)
{
    struct line *lines = xcalloc(r->nentries + 1, sizeof *lines);
    struct rec_frame *fr = NULL;
    size_t cap = 0;
    rec_symbolize(r);
    for (size_t i = 0; i < r->nentries; i++) {
        struct bytebuf b = {0};
        size_t n = rec_path(r, &r->entries[i], with_owner, &fr, &cap);
        for (size_t k = 0; k < n; k++) {
            if (k)
                bb_add(&b, ";", 1);
            add_name(&b, fr[k].function);
        }
        bb_add(&b, "", 0);
        lines[i] = (struct line){(char *)b.p, r->entries[i].samples};
    }
    qsort(lines, r->nentries, sizeof *lines, cmp_line);
    for (size_t i = 0; i < r->nentries;) {
        uint64_t count = 0;
        size_t k = i;
        for (; k < r->nentries && strcmp(lines[k].text, lines[i].text) == 0; k++)
            count += lines[k].count;
        bb_printf(out, "%s %llu\n", lines[i].text, (unsigned long long)count);
        i = k;
    }
    for (size_t i = 0; i < r->nentries; i++)
        free(lines[i].text);
    free(lines);
    free(fr);
}
