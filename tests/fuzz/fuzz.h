/* SPDX-License-Identifier: MIT */
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

static char fuzz_dir_name[64];

static inline void fuzz_dir_drop(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_name);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fuzz_dir_name);
}

/* An owner-only scratch directory on tmpfs, made once per process and
 * removed when it exits. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_name[0]) {
        snprintf(fuzz_dir_name, sizeof fuzz_dir_name, "/dev/shm/hrfuzz.XXXXXX");
        if (!mkdtemp(fuzz_dir_name))
            abort();
        atexit(fuzz_dir_drop);
    }
    return fuzz_dir_name;
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
