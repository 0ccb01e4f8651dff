/*
 * input_file.h — a fuzz input as a file the code under test can open by
 * path: a memfd holding the bytes, named /proc/self/fd/N.
 */
#ifndef FUZZ_INPUT_FILE_H
#define FUZZ_INPUT_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data into a new memfd and its path into path; returns the fd
 * (close it when done), or -1. */
static int input_file(const char *name, const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create(name, 0);
    if (fd < 0)
        return -1;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
