/* cfidump FILE [SECTION]: every FDE of .eh_frame (or SECTION) and its rows,
 * in the notation of `readelf --debug-dump=frames-interp`, for the CFI
 * tests.  Uses dwarf/cfi.c alone (plus libelf to find the section):
 *
 *   FDE <pc_begin> <pc_end>
 *   <loc> cfa=<rsp+8|exp> <reg>=<u|s|c-16|v+8|r12|exp|vexp> ...
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfi.h"

static const char *regname(unsigned r)
{
    static const char *n[] = { "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8",
                               "r9", "r10", "r11", "r12", "r13", "r14", "r15", "ra" };
    return r < 17 ? n[r] : "?";
}

static void rule(const struct cfi_rule *r, char *buf, size_t n)
{
    switch (r->kind) {
    case CFI_RULE_UNSPECIFIED: case CFI_RULE_UNDEFINED: snprintf(buf, n, "u"); break;
    case CFI_RULE_SAME: snprintf(buf, n, "s"); break;
    case CFI_RULE_OFFSET: snprintf(buf, n, "c%+lld", (long long)r->offset); break;
    case CFI_RULE_VAL_OFFSET: snprintf(buf, n, "v%+lld", (long long)r->offset); break;
    case CFI_RULE_REGISTER: snprintf(buf, n, "%s", regname(r->reg)); break;
    case CFI_RULE_EXPR: snprintf(buf, n, "exp"); break;
    case CFI_RULE_VAL_EXPR: snprintf(buf, n, "vexp"); break;
    default: snprintf(buf, n, "?");
    }
}

int main(int argc, char **argv)
{
    const char *want = argc > 2 ? argv[2] : ".eh_frame";
    if (argc < 2)
        return 2;
    elf_version(EV_CURRENT);
    int fd = open(argv[1], O_RDONLY);
    Elf *e = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
    size_t shstr;
    if (!e || elf_getshdrstrndx(e, &shstr) != 0) {
        fprintf(stderr, "cfidump: cannot read %s\n", argv[1]);
        return 1;
    }
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        gelf_getshdr(scn, &sh);
        if (strcmp(elf_strptr(e, shstr, sh.sh_name), want) != 0)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        struct cfi_section sec = { d->d_buf, d->d_size, sh.sh_addr,
                                   strcmp(want, ".debug_frame") == 0 ? CFI_DEBUG_FRAME
                                                                     : CFI_EH_FRAME, 0, 0 };
        struct cfi_iter it;
        struct cfi_fde fde;
        int rc;
        cfi_iter_init(&it, &sec);
        while ((rc = cfi_iter_next(&it, &fde)) != CFI_END) {
            if (rc != CFI_OK) {
                printf("ERROR %d at %#zx\n", rc, it.off);
                continue;
            }
            printf("FDE %llx %llx\n", (unsigned long long)fde.pc_begin,
                   (unsigned long long)fde.pc_end);
            for (uint64_t pc = fde.pc_begin; pc < fde.pc_end;) {
                struct cfi_row row;
                if ((rc = cfi_row_at(&fde, pc, &row)) != CFI_OK) {
                    printf("ROWERROR %d\n", rc);
                    break;
                }
                printf("%llx cfa=", (unsigned long long)row.loc);
                if (row.cfa_kind == CFI_CFA_EXPR)
                    printf("exp");
                else
                    printf("%s%+lld", regname(row.cfa_reg), (long long)row.cfa_offset);
                for (unsigned r = 0; r < CFI_NREGS; r++) {
                    char buf[32];
                    if (row.rules[r].kind == CFI_RULE_UNSPECIFIED)
                        continue;
                    rule(&row.rules[r], buf, sizeof buf);
                    printf(" %s=%s", regname(r), buf);
                }
                printf("\n");
                if (row.end <= pc)
                    break;
                pc = row.end;
            }
        }
    }
    elf_end(e);
    close(fd);
    return 0;
}
