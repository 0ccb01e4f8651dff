/* libFuzzer target for goinspect's core file reader (inspector/corefile.c):
 * the input is a core file.  It is opened (headers, notes), and its memory
 * is read around every segment's edges, every mapped file and every
 * thread's stack pointer.  Built by run.sh with clang
 * -fsanitize=fuzzer,address; the test suite runs the seed corpus
 * (tests/fuzz-seeds/core-*) through the same build. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "corefile.h"
#include "input_file.h"

static void read_around(const struct corefile *c, uint64_t addr)
{
    char buf[256];
    for (int64_t d = -128; d <= 128; d += 64)
        corefile_read(c, addr + (uint64_t)d, buf, sizeof buf);
}

static void exercise(const struct corefile *c)
{
    for (size_t i = 0; i < c->nsegs && i < 256; i++) {
        read_around(c, c->segs[i].vaddr);
        read_around(c, c->segs[i].vaddr + c->segs[i].filesz);
        read_around(c, c->segs[i].vaddr + c->segs[i].memsz);
    }
    for (size_t i = 0; i < c->nthreads && i < 256; i++)
        read_around(c, c->threads[i].regs.rsp);
    for (size_t i = 0; i < c->nfiles && i < 256; i++) {
        const struct core_fmap *m = corefile_file_at(c, c->files[i].start);
        if (m)
            (void)strlen(m->path);
    }
    uint64_t v;
    if (corefile_auxv(c, 31 /* AT_EXECFN */, &v))
        read_around(c, v);
    (void)strlen(c->ps.fname);
    (void)strlen(c->ps.psargs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = input_file("fuzz-core", data, size, path);
    if (fd < 0)
        return 0;
    struct corefile c;
    struct fail f;
    if (corefile_open(path, &c, &f) == 0)
        exercise(&c);
    corefile_close(&c);
    close(fd);
    return 0;
}
