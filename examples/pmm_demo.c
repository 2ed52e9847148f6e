/* SPDX-License-Identifier: MIT */
/*
 * pmm_demo.c - a process keeps its state in a persistent block, is killed
 * with SIGKILL in the middle of its work, and a new process finds the state
 * exactly where the dead one left it, at the same address.
 *
 * Uses the ChorusOS interface (<pmm/chPmm.h>); the site is $HR_SITE.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pmm/chPmm.h>

struct state {
    long counter;          /* work done so far */
    char note[64];
};

static PmmName name = {"RAM", "demo.state"};
#define KEY "DEMO"

static struct state *attach(void)
{
    VmAddr addr;
    KnError r = pmmAllocate(&addr, &name, sizeof(struct state), KEY,
                            sizeof KEY);
    if (r != K_OK) {
        fprintf(stderr, "pmm_demo: pmmAllocate: %s\n", pmm_strerror(r));
        exit(1);
    }
    return (struct state *)addr;
}

int main(void)
{
    int ready[2];
    if (pipe(ready) < 0)
        return 1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) { /* the worker: counts until it is killed */
        struct state *st = attach();
        printf("[worker %d] block at %p, counter starts at %ld\n", getpid(),
               (void *)st, st->counter);
        snprintf(st->note, sizeof st->note, "written by pid %d", getpid());
        for (int i = 0; i < 1000; i++)
            st->counter++;
        fflush(stdout);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    if (read(ready[0], &c, 1) != 1)
        return 1;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    printf("[demo] worker %d killed by signal %d\n", pid,
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);

    fflush(stdout);
    pid = fork();
    if (pid == 0) { /* the restarted worker */
        struct state *st = attach();
        printf("[restarted %d] block at %p, counter %ld, note \"%s\"\n",
               getpid(), (void *)st, st->counter, st->note);
        int ok = st->counter == 1000;
        printf("[restarted %d] state %s\n", getpid(),
               ok ? "intact: hot restart worked" : "LOST");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (pmmFreeAll(KEY, sizeof KEY) != K_OK)
        ok = 0;
    printf("[demo] block freed with pmmFreeAll(\"%s\")\n", KEY);
    return ok ? 0 : 1;
}
