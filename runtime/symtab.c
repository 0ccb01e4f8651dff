/*
 * symtab.c — function names for the runtime's own crash dumps.
 *
 * The executable's .symtab (or .dynsym when stripped) is read from
 * /proc/self/exe the first time a dump needs it, which may be in a signal
 * handler: the file is mapped, the table is sorted in memory mapped for
 * it, nothing comes from the heap.  Pcs in shared libraries are named from
 * their dynamic symbols with dladdr (its lock is recursive: a thread that
 * faults holding it takes it again).  Every offset read from the file is
 * bounds-checked: a damaged binary yields "?" names, not a second crash.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "symtab.h"

struct fsym {
    uintptr_t addr;     /* run-time address */
    uintptr_t size;
    const char *name;
};

enum { MAX_SEGS = 16 };

static struct {
    bool loaded;
    struct fsym *syms;
    size_t n;
    uintptr_t bias;     /* load bias of the executable */
    struct { uintptr_t lo, hi; } segs[MAX_SEGS];   /* its PT_LOAD segments */
    int nsegs;
} exe;

static int find_exe_bias(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    exe.bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum && exe.nsegs < MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            exe.segs[exe.nsegs].lo = lo;
            exe.segs[exe.nsegs].hi = lo + ph->p_memsz;
            exe.nsegs++;
        }
    }
    return 1;           /* the first object is the executable */
}

/* The executable's segment holding pc, -1 if none: a symbol names only pcs
 * of its own segment (a zero-size one at the end of the code must not name
 * the libraries mapped above it). */
static int exe_segment(uintptr_t pc)
{
    for (int i = 0; i < exe.nsegs; i++)
        if (pc >= exe.segs[i].lo && pc < exe.segs[i].hi)
            return i;
    return -1;
}

/* Heap sort by address: in place, no allocation, no recursion. */
static void sift_down(struct fsym *a, size_t i, size_t n)
{
    for (;;) {
        size_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && a[l].addr > a[big].addr)
            big = l;
        if (r < n && a[r].addr > a[big].addr)
            big = r;
        if (big == i)
            return;
        struct fsym t = a[i];
        a[i] = a[big];
        a[big] = t;
        i = big;
    }
}

static void sort_fsyms(struct fsym *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end > 1; end--) {
        struct fsym t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sift_down(a, 0, end - 1);
    }
}

static bool in_file(size_t filesize, uint64_t off, uint64_t len)
{
    return off <= filesize && len <= filesize - off;
}

static void load_exe_symbols(void)
{
    exe.loaded = true;
    dl_iterate_phdr(find_exe_bias, NULL);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        close(fd);
        return;
    }
    size_t fsize = (size_t)st.st_size;
    const uint8_t *f = mmap(NULL, fsize, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED)
        return;
    const Elf64_Ehdr *eh = (const void *)f;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !in_file(fsize, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
        return;
    const Elf64_Shdr *sh = (const void *)(f + eh->e_shoff);
    const Elf64_Shdr *symsec = NULL;
    for (int pass = 0; pass < 2 && !symsec; pass++)
        for (unsigned i = 0; i < eh->e_shnum; i++)
            if (sh[i].sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM)) {
                symsec = &sh[i];
                break;
            }
    if (!symsec || symsec->sh_link >= eh->e_shnum || symsec->sh_entsize != sizeof(Elf64_Sym))
        return;
    const Elf64_Shdr *strsec = &sh[symsec->sh_link];
    if (!in_file(fsize, symsec->sh_offset, symsec->sh_size) ||
        !in_file(fsize, strsec->sh_offset, strsec->sh_size) || strsec->sh_size == 0)
        return;
    const Elf64_Sym *syms = (const void *)(f + symsec->sh_offset);
    size_t nsyms = symsec->sh_size / sizeof(Elf64_Sym);
    const char *strs = (const char *)(f + strsec->sh_offset);
    if (strs[strsec->sh_size - 1] != '\0')
        return;
    void *mem = mmap(NULL, nsyms * sizeof *exe.syms + 1, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return;
    exe.syms = mem;
    for (size_t i = 0; i < nsyms; i++) {
        const Elf64_Sym *s = &syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF || s->st_value == 0 ||
            s->st_name >= strsec->sh_size)
            continue;
        exe.syms[exe.n].addr = exe.bias + s->st_value;
        exe.syms[exe.n].size = s->st_size;
        exe.syms[exe.n].name = strs + s->st_name;
        exe.n++;
    }
    sort_fsyms(exe.syms, exe.n);
}

bool symtab_lookup(uintptr_t pc, const char **name, uintptr_t *start)
{
    if (!exe.loaded)
        load_exe_symbols();
    /* Last symbol at or below pc. */
    size_t lo = 0, hi = exe.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (exe.syms[mid].addr <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* a function names pc only within its size (a zero-size one up to the
     * next symbol): a pc past its end is not that function's, as gdb
     * says; dladdr applies the same rule to the libraries' symbols */
    if (lo > 0 && exe_segment(pc) >= 0) {
        const struct fsym *s = &exe.syms[lo - 1];
        if ((s->size == 0 && exe_segment(s->addr) == exe_segment(pc)) || pc - s->addr < s->size) {
            *name = s->name;
            *start = s->addr;
            return true;
        }
    }
    Dl_info info;
    if (dladdr((void *)pc, &info) && info.dli_sname && info.dli_saddr) {
        *name = info.dli_sname;
        *start = (uintptr_t)info.dli_saddr;
        return true;
    }
    return false;
}

bool symtab_module(uintptr_t pc, const char **path, uintptr_t *base)
{
    Dl_info info;
    if (!dladdr((void *)pc, &info) || !info.dli_fname || !info.dli_fname[0])
        return false;
    *path = info.dli_fname;
    *base = (uintptr_t)info.dli_fbase;
    return true;
}

int symtab_source_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot && dot != name ? (int)(dot - name) : (int)strlen(name);
}
