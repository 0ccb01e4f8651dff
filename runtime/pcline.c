/*
 * pcline.c — the executable's pc-line table (dwarf/pctab.h), for the
 * runtime's crash dumps.
 *
 * pcline_init finds the section .gort_pctab in /proc/self/exe (a section
 * no segment loads: gortpctab adds it after the link), reads it into
 * read-only memory and checks it whole (bounds, CRC); a missing or damaged
 * table leaves every lookup answering 0, and the dumps name frames by
 * their symbols.  Lookups then only read that memory.
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

/* len bytes at file offset off, in as many reads as it takes. */
static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        if (off + done > INT64_MAX)
            return false;
        ssize_t k = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (k <= 0)
            return false;
        done += (size_t)k;
    }
    return true;
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

/* Reads the section's bytes into memory of its own and checks them as a
 * table.  A copy, not a mapping of the file: a file changed on disk while
 * the program runs (truncated, rewritten in place) cannot make a lookup
 * fault with SIGBUS. */
static void load_table(int fd, const Elf64_Shdr *sec)
{
    size_t len = (size_t)sec->sh_size;
    if (len == 0)
        return;
    uint8_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return;
    if (!read_at(fd, mem, len, sec->sh_offset) || mprotect(mem, len, PROT_READ) != 0 ||
        pctab_open(&tab.t, mem, len) != PCTAB_OK) {
        munmap(mem, len);
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
        load_table(fd, &sec);
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
