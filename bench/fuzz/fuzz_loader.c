/* libFuzzer target for libgidwarf's loader: the input is an ELF file.  It
 * is opened (sections, symbols, the DWARF index, the CFI tables), looked
 * up at addresses across its code, and unwound one step at each with
 * registers and memory taken from the input itself.  Built by run.sh with
 * clang -fsanitize=fuzzer,address; the test suite runs the seed corpus
 * (tests/fuzz-seeds) through the same build. */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gidwarf.h"
#include "input_file.h"

struct mem {
    const uint8_t *data;
    size_t size;
};

static bool read_input(void *ctx, uint64_t addr, void *buf, size_t len)
{
    const struct mem *m = ctx;
    if (addr >= m->size || len > m->size - addr)
        return false;
    memcpy(buf, m->data + addr, len);
    return true;
}

static void exercise(gd_binary *b, const uint8_t *data, size_t size)
{
    const struct gd_section *secs;
    size_t nsec = gd_sections(b, &secs);
    struct gd_frame frames[16];
    struct mem m = { data, size };
    int budget = 512;

    for (size_t i = 0; i < nsec && budget > 0; i++) {
        if (!(secs[i].flags & SHF_EXECINSTR) || secs[i].size == 0)
            continue;
        uint64_t step = secs[i].size / 64 + 1;
        for (uint64_t a = secs[i].addr; a - secs[i].addr < secs[i].size && budget > 0;
             a += step, budget--) {
            int n = gd_lookup(b, a, GD_SYMBOLS_GDB, frames, 16);
            for (int k = 0; k < n && k < 16; k++)
                if (frames[k].function)
                    (void)strlen(frames[k].function);
            struct gd_line line;
            if (gd_lookup_line(b, a, &line) == 0 && line.file)
                (void)strlen(line.file);
            for (int rule = GD_SYMBOLS_ADDR2LINE; rule <= GD_SYMBOLS_GDB; rule++) {
                const struct gd_symbol *s = gd_symbol_at(b, a, (enum gd_symbol_rule)rule);
                if (s)
                    (void)strlen(s->name);
            }
            gd_symbol_containing(b, a);

            struct cfi_regs in, out;
            memset(&in, 0, sizeof in);
            for (int r = 0; r < CFI_NREGS; r++)
                in.r[r] = (size / 2 + (uint64_t)r * 8) % (size ? size : 1);
            in.r[CFI_RA] = a;
            in.valid = (1u << CFI_NREGS) - 1;
            in.flags = CFI_PC_EXACT;
            gd_unwind_step(b, &in, read_input, &m, &out, NULL);
        }
    }
    size_t nf = gd_function_count(b);
    for (uint32_t id = 0; id < nf && id < 64; id++) {
        struct gd_function f;
        gd_function(b, id, &f);
    }
    uint64_t bias;
    gd_load_bias(b, 0x7f0000000000ull, 0, &bias);
    gd_symbol_by_name(b, "main");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = input_file("fuzz-elf", data, size, path);
    if (fd < 0)
        return 0;
    struct gd_open_options o = { .flags = GD_OPEN_NO_DEBUGLINK };
    gd_binary *b;
    if (gd_open(path, &o, &b, NULL) == 0) {
        exercise(b, data, size);
        gd_close(b);
    }
    close(fd);
    return 0;
}
