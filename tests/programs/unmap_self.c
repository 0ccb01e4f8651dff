/*
 * unmap_self.c — a process with no file mapped at all, as one is for a
 * moment between two images in execve, but for as long as it lives: it
 * copies a little code to an anonymous page, jumps there, unmaps every
 * mapping of a file (its executable, libc, the loader), prints READY
 * with write(2) and waits in pause(2) forever.  A plain C program, without
 * libgort.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* The code run from the anonymous page: munmap each (start, length) of the
 * table that follows it, write "READY\n", then pause forever.  Position
 * independent: the table and the text are found relative to rip. */
extern const char stub_start[], stub_table[], stub_end[];
__asm__(".text\n"
        "stub_start:\n"
        "  lea stub_table(%rip), %rbx\n"
        "1: mov (%rbx), %rdi\n"
        "  test %rdi, %rdi\n"
        "  jz 2f\n"
        "  mov 8(%rbx), %rsi\n"
        "  mov $11, %eax\n"                 /* munmap */
        "  syscall\n"
        "  add $16, %rbx\n"
        "  jmp 1b\n"
        "2: mov $1, %eax\n"                 /* write(1, "READY\n", 6) */
        "  mov $1, %edi\n"
        "  lea ready(%rip), %rsi\n"
        "  mov $6, %edx\n"
        "  syscall\n"
        "3: mov $34, %eax\n"                /* pause */
        "  syscall\n"
        "  jmp 3b\n"
        "ready: .ascii \"READY\\n\"\n"
        "  .balign 16\n"
        "stub_table:\n"
        "  .zero 16 * 64\n"
        "stub_end:\n");

int main(void)
{
    size_t code = (size_t)(stub_table - stub_start), size = (size_t)(stub_end - stub_start);
    char *page = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (page == MAP_FAILED)
        return 1;
    memcpy(page, stub_start, code);
    uint64_t *table = (uint64_t *)(page + code);
    size_t n = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    while (maps && fgets(line, sizeof line, maps) && n < 63) {
        unsigned long lo, hi, ino;
        int path = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %lu %n", &lo, &hi, &ino, &path) >= 3 && ino &&
            line[path] == '/') {
            table[2 * n] = lo;
            table[2 * n + 1] = hi - lo;
            n++;
        }
    }
    if (!maps)
        return 1;
    fclose(maps);
    table[2 * n] = 0;
    fflush(stdout);
    ((void (*)(void))page)();
    return 1;
}
