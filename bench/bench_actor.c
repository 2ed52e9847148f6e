/* SPDX-License-Identifier: MIT */
/*
 * bench_actor.c - the program restarted by restart_bench: it retrieves its
 * persistent block, counts the start, says "ready" (its pid, on the fifo
 * given as argument) and waits to be killed.
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <pmm/chPmm.h>

int main(int argc, char **argv)
{
    PmmName name = {"RAM", "bench.actor"};
    long *starts;
    if (argc < 2 ||
        pmmAllocate((VmAddr *)&starts, &name, 4096, "B", 2) != K_OK)
        return 1;
    ++*starts;
    int fd = open(argv[1], O_WRONLY);
    int pid = getpid();
    if (fd < 0 || write(fd, &pid, sizeof pid) != sizeof pid)
        return 1;
    close(fd);
    for (;;)
        pause();
}
