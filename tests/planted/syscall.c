/* SPDX-License-Identifier: MIT */
/*
 * syscall.c - an object that makes system calls of its own, for
 * the test that the banned-symbol check refuses it (tests/CMakeLists.txt).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>

int hrtest_planted(const char *path, int pid)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? fd : kill(pid, 0);
}
