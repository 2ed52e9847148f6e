/* SPDX-License-Identifier: MIT */
/*
 * bench_actor.c - the program restarted by restart_bench: it initialises
 * (INIT_MS milliseconds of sleep, 0 by default: the stand-in for a real
 * service's start-up), waits to be promoted when it is a standby instance
 * (hr_standby_wait returns at once otherwise), retrieves its persistent
 * block, counts the start, says "ready" (its pid, on the fifo given as
 * argument) and waits to be killed.
 *
 *   bench_actor FIFO [INIT_MS]
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <pmm/chPmm.h>

int main(int argc, char **argv)
{
    PmmName name = {"RAM", "bench.actor"};
    long *starts;
    long init_ms = argc > 2 ? atol(argv[2]) : 0;
    if (argc < 2)
        return 1;
    if (init_ms > 0) {
        struct timespec t = {init_ms / 1000, (init_ms % 1000) * 1000000};
        nanosleep(&t, NULL);
    }
    if (hr_standby_wait() < 0)
        return 1;
    if (pmmAllocate((VmAddr *)&starts, &name, 4096, "B", 2) != K_OK)
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
