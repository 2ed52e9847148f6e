/* SPDX-License-Identifier: MIT */
/*
 * orphan_actor.c - an actor that dies leaving orphans, for test_deploy's
 * controller running as PID 1: no library, only the environment the
 * controller gives.
 *
 *   orphan_actor N   while $HR_RESTARTS < N: fork a child that leaves the
 *                    session and ends by itself once orphaned, and a child
 *                    that exits at once leaving a grandchild of its own
 *                    (orphaned at once, ends by itself a moment later),
 *                    then SIGKILL itself.  Once $HR_RESTARTS >= N: write
 *                    $HR_SITE/orphan.done and sleep.
 * Every process it makes ends by itself: a zombie left among them can only
 * be one that nobody reaped.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *r = getenv("HR_RESTARTS"), *site = getenv("HR_SITE");
    long n = argc > 1 ? atol(argv[1]) : 100;
    if (!site)
        return 9;
    if ((r ? atol(r) : 0) >= n) {
        char path[4200];
        snprintf(path, sizeof path, "%s/orphan.done", site);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, r, 1) != 1)
            return 9;
        close(fd);
        for (;;)
            pause();
    }
    pid_t me = getpid();
    if (fork() == 0) { /* its own session: out of the actor's group */
        setsid();
        while (getppid() == me)
            usleep(1000);
        _exit(0); /* orphaned: ends, and its new parent must reap it */
    }
    pid_t mid = fork();
    if (mid == 0) {
        if (fork() == 0) {
            setsid();
            usleep(20000);
            _exit(0);
        }
        _exit(0); /* our zombie until we die, then its new parent's */
    }
    while (kill(mid, 0) == 0 && access("/proc/self", F_OK) == 0) {
        /* wait until the middle child has exited (a zombie answers 0 to
         * kill(2) too: look at its state instead) */
        char path[64], st[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)mid);
        int fd = open(path, O_RDONLY);
        ssize_t k = fd < 0 ? -1 : read(fd, st, sizeof st - 1);
        if (fd >= 0)
            close(fd);
        if (k <= 0)
            break;
        st[k] = 0;
        char *p = strrchr(st, ')');
        if (p && p[1] == ' ' && p[2] == 'Z')
            break;
        usleep(1000);
    }
    kill(getpid(), SIGKILL);
    return 9;
}
