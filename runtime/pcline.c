/*
 * pcline.c — the executable's pc-line table (dwarf/pctab.h), for the
 * runtime's crash dumps.
 *
 * pcline_init finds the section .gort_pctab in /proc/self/exe (a section
 * no segment loads: gortpctab adds it after the link), maps it read-only
 * and checks it whole (bounds, CRC); a missing or damaged table leaves
 * every lookup answering 0, and the dumps name frames by their symbols.
 * Lookups then only read the mapping.
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcline.h"
#include "pctab.h"

static struct {
    uint32_t state;             /* 0 not tried, 1 tried (table valid when ok) */
    bool ok;
    struct pctab t;
    uintptr_t bias;             /* load bias of the executable */
} tab;

static int exe_bias(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(uintptr_t *)data = info->dlpi_addr;
    return 1;           /* the first object is the executable */
}

static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
    return off <= INT64_MAX && pread(fd, buf, len, (off_t)off) == (ssize_t)len;
}

/* The header of the section named PCTAB_SECTION, from the file's section
 * headers and their string table. */
static bool find_section(int fd, uint64_t fsize, Elf64_Shdr *out)
{
    Elf64_Ehdr eh;
    if (!read_at(fd, &eh, sizeof eh, 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shstrndx >= eh.e_shnum || eh.e_shoff > fsize ||
        (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > fsize - eh.e_shoff)
        return false;
    Elf64_Shdr *sh = malloc((size_t)eh.e_shnum * sizeof *sh);
    char *names = NULL;
    bool found = false;
    if (!sh || !read_at(fd, sh, (size_t)eh.e_shnum * sizeof *sh, eh.e_shoff))
        goto out;
    const Elf64_Shdr *ns = &sh[eh.e_shstrndx];
    if (ns->sh_size == 0 || ns->sh_size > fsize || !(names = malloc(ns->sh_size)) ||
        !read_at(fd, names, ns->sh_size, ns->sh_offset))
        goto out;
    names[ns->sh_size - 1] = 0;
    for (unsigned i = 0; i < eh.e_shnum && !found; i++) {
        if (sh[i].sh_name < ns->sh_size && strcmp(names + sh[i].sh_name, PCTAB_SECTION) == 0 &&
            sh[i].sh_type == SHT_PROGBITS && sh[i].sh_offset <= fsize &&
            sh[i].sh_size <= fsize - sh[i].sh_offset) {
            *out = sh[i];
            found = true;
        }
    }
out:
    free(sh);
    free(names);
    return found;
}

/* Maps the section's bytes and checks them as a table. */
static void map_table(int fd, const Elf64_Shdr *sec)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = sec->sh_offset & ~(uint64_t)(page > 0 ? page - 1 : 4095);
    size_t len = (size_t)(sec->sh_offset - start + sec->sh_size);
    if (sec->sh_size == 0)
        return;
    uint8_t *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, (off_t)start);
    if (map == MAP_FAILED)
        return;
    if (pctab_open(&tab.t, map + (sec->sh_offset - start), (size_t)sec->sh_size) != PCTAB_OK) {
        munmap(map, len);
        return;
    }
    __atomic_store_n(&tab.ok, true, __ATOMIC_RELEASE);
}

void pcline_init(void)
{
    if (__atomic_exchange_n(&tab.state, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    dl_iterate_phdr(exe_bias, &tab.bias);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    Elf64_Shdr sec;
    if (fstat(fd, &st) == 0 && find_section(fd, (uint64_t)st.st_size, &sec))
        map_table(fd, &sec);
    close(fd);
}

int pcline_lookup(uintptr_t pc, struct pcline_frame *out, int max)
{
    if (!__atomic_load_n(&tab.ok, __ATOMIC_ACQUIRE) || pc < tab.bias)
        return 0;
    struct pctab_frame fr[PCTAB_MAX_DEPTH];
    int n = pctab_lookup(&tab.t, pc - tab.bias, fr, max < PCTAB_MAX_DEPTH ? max : PCTAB_MAX_DEPTH);
    if (n > 0 && !fr[0].file)
        return 0;       /* no line row here: the symbol names it better */
    for (int i = 0; i < n; i++)
        out[i] = (struct pcline_frame){fr[i].function ? fr[i].function : "??",
                                       fr[i].file ? fr[i].file : "??", fr[i].line};
    return n;
}

uintptr_t pcline_func_start(uintptr_t pc)
{
    if (!__atomic_load_n(&tab.ok, __ATOMIC_ACQUIRE) || pc < tab.bias)
        return 0;
    uint64_t start = pctab_func_start(&tab.t, pc - tab.bias);
    return start ? (uintptr_t)(start + tab.bias) : 0;
}
