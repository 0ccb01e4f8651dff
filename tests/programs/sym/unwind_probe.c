/* See unwind_probe.h.  Output, one line per walk:
 *   CHAIN <tag> <mode> <pc1> <pc2> ... END|STOP:<reason>
 * pc1 is probe's caller (the return address into it). */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfi.h"
#include "gidwarf.h"
#include "unwind_probe.h"

#define MAX_FRAMES 64

static bool read_self(void *ctx, uint64_t addr, void *buf, size_t len)
{
    (void)ctx;
    if (addr < 4096)
        return false;
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return true;
}

/* ---- mode "hdr": cfi.c + PT_GNU_EH_FRAME, as the runtime does ---- */

struct hdr_find {
    uint64_t pc;
    bool found;
    struct cfi_hdr hdr;
    uint64_t eh_end;        /* end of the mapping holding .eh_frame */
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct hdr_find *f = data;
    const ElfW(Phdr) *eh = NULL;
    bool inside = false;
    uint64_t end = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uint64_t lo = info->dlpi_addr + p->p_vaddr;
        if (p->p_type == PT_LOAD) {
            if (f->pc >= lo && f->pc < lo + p->p_memsz)
                inside = true;
            if (lo + p->p_memsz > end)
                end = lo + p->p_memsz;
        }
        if (p->p_type == PT_GNU_EH_FRAME)
            eh = p;
    }
    if (!inside || !eh)
        return 0;
    uint64_t a = info->dlpi_addr + eh->p_vaddr;
    if (cfi_hdr_parse((const uint8_t *)(uintptr_t)a, eh->p_memsz, a, &f->hdr) != CFI_OK)
        return 0;
    f->found = true;
    f->eh_end = end;
    return 1;
}

static int step_hdr(const struct cfi_regs *in, struct cfi_regs *out)
{
    struct hdr_find f = { .pc = cfi_lookup_pc(in) };
    struct cfi_fde fde;
    dl_iterate_phdr(phdr_cb, &f);
    if (f.found && f.hdr.eh_frame_addr < f.eh_end) {
        struct cfi_section eh = { (const uint8_t *)(uintptr_t)f.hdr.eh_frame_addr,
                                  (size_t)(f.eh_end - f.hdr.eh_frame_addr),
                                  f.hdr.eh_frame_addr, CFI_EH_FRAME, 0, f.hdr.addr };
        int rc = cfi_hdr_lookup(&f.hdr, &eh, f.pc, &fde);
        if (rc == CFI_OK)
            return cfi_step_fde(&fde, in, read_self, NULL, out);
        if (rc != CFI_ERR_NOT_FOUND)
            return rc;
    }
    return cfi_step_fp(in, read_self, NULL, out);
}

/* ---- mode "lib": libgidwarf on the mapped files ---- */

struct module {
    uint64_t lo, hi, bias;
    gd_binary *b;
};
static struct module mods[64];
static int nmods;

static void load_modules(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    if (!f)
        return;
    while (fgets(line, sizeof line, f) && nmods < 64) {
        unsigned long lo, hi, off;
        char perms[8], path[768] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %767[^\n]", &lo, &hi, perms, &off, path) < 4)
            continue;
        if (path[0] != '/' || perms[2] != 'x')
            continue;
        struct module *m = &mods[nmods];
        struct gd_open_options o = { .flags = GD_OPEN_NO_INDEX };
        if (gd_open(path, &o, &m->b, NULL) != 0)
            continue;
        if (gd_load_bias(m->b, lo, off, &m->bias) != 0) {
            gd_close(m->b);
            continue;
        }
        m->lo = lo;
        m->hi = hi;
        nmods++;
    }
    fclose(f);
}

static int step_lib(const struct cfi_regs *in, struct cfi_regs *out)
{
    uint64_t pc = cfi_lookup_pc(in);
    for (int i = 0; i < nmods; i++)
        if (pc >= mods[i].lo && pc < mods[i].hi)
            return gd_unwind_step_biased(mods[i].b, mods[i].bias, in, read_self, NULL, out, NULL);
    return cfi_step_fp(in, read_self, NULL, out);
}

/* ---- the walk ---- */

static void walk(const char *tag, const char *mode, const struct cfi_regs *start,
                 int (*step)(const struct cfi_regs *, struct cfi_regs *))
{
    struct cfi_regs cur = *start, next;
    printf("CHAIN %s %s", tag, mode);
    for (int i = 0; i < MAX_FRAMES; i++) {
        int rc = step(&cur, &next);
        if (rc == CFI_END) {
            printf(" END\n");
            return;
        }
        if (rc != CFI_OK) {
            printf(" STOP:%d\n", rc);
            return;
        }
        if (next.r[CFI_RSP] <= cur.r[CFI_RSP] && !(cur.flags & CFI_PC_EXACT) &&
            !(next.flags & CFI_PC_EXACT)) {
            printf(" STOP:loop\n");
            return;
        }
        printf(" %#llx", (unsigned long long)next.r[CFI_RA]);
        cur = next;
    }
    printf(" STOP:depth\n");
}

__attribute__((noinline)) void probe(const char *tag)
{
    struct cfi_regs r;
    uint64_t rip, rsp, rbp, rbx, r12, r13, r14, r15;
    __asm__ volatile("lea 0(%%rip), %0\n\t"
                     "mov %%rsp, %1\n\t"
                     "mov %%rbp, %2\n\t"
                     "mov %%rbx, %3\n\t"
                     "mov %%r12, %4\n\t"
                     "mov %%r13, %5\n\t"
                     "mov %%r14, %6\n\t"
                     "mov %%r15, %7\n\t"
                     : "=r"(rip), "=m"(rsp), "=m"(rbp), "=m"(rbx), "=m"(r12), "=m"(r13),
                       "=m"(r14), "=m"(r15));
    memset(&r, 0, sizeof r);
    r.r[CFI_RA] = rip;
    r.r[CFI_RSP] = rsp;
    r.r[CFI_RBP] = rbp;
    r.r[CFI_RBX] = rbx;
    r.r[CFI_R12] = r12;
    r.r[CFI_R13] = r13;
    r.r[CFI_R14] = r14;
    r.r[CFI_R15] = r15;
    r.valid = (1u << CFI_RA) | (1u << CFI_RSP) | (1u << CFI_RBP) | (1u << CFI_RBX) |
              (1u << CFI_R12) | (1u << CFI_R13) | (1u << CFI_R14) | (1u << CFI_R15);
    r.flags = CFI_PC_EXACT;
    if (!nmods)
        load_modules();
    walk(tag, "hdr", &r, step_hdr);
    walk(tag, "lib", &r, step_lib);
    fflush(stdout);
}
