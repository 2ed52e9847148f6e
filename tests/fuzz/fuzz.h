/*
 * fuzz.h - what the libFuzzer harnesses share: a private scratch directory
 * and whole-file writes.  Each harness is one process that libFuzzer calls
 * with one input at a time (LLVMFuzzerTestOneInput); whatever an input
 * makes must be undone before the next.
 */
#ifndef HR_FUZZ_H
#define HR_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* An owner-only scratch directory on tmpfs, made once per process. */
static inline const char *fuzz_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/hrfuzz.XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

/* Replace path's contents with data (mode 0600). */
static inline void fuzz_write(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
        abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
