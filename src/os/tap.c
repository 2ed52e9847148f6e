/* SPDX-License-Identifier: MIT */
/*
 * tap.c - the test's tap on the OS layer (os.h): one pointer, NULL outside
 * a test, read by the functions of every file of the layer that report
 * what they did (file.c: writes, punches, syncs, lengths; mem.c: msync).
 * A module of its own, under them all, so that they share it without
 * calling one another.
 */
#include "os.h"

void (*pmm__os_tap)(int what, int fd, const void *buf, size_t len,
                    uint64_t off);

void pmm__os_tap_call(int what, int fd, const void *buf, size_t len,
                      uint64_t off)
{
    void (*fn)(int, int, const void *, size_t, uint64_t) = pmm__os_tap;
    if (fn)
        fn(what, fd, buf, len, off);
}
