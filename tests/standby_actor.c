/* SPDX-License-Identifier: MIT */
/*
 * standby_actor.c - an actor made for a standby instance, for
 * test_standby (issue 15).
 *
 *   standby_actor [MODE [INIT_MS]]
 *
 * A standby first sleeps INIT_MS (default 0): its initialisation.
 * MODE "wait" (the default): a standby tries the calls that touch
 * persistent blocks and writes what they returned to $HR_SITE/probe.NAME
 * ("pmm_alloc pmm_free pmmAllocate hr_spawn hr_heap_open", each a code),
 * then waits in hr_standby_wait().  The live instance (started so, or
 * promoted) counts its run in the block sb.runs.NAME (key "KEEP") and
 * writes "PID HR_RESTARTS LISTEN_FDS LISTEN_PID-is-its-pid RUNS" to
 * $HR_SITE/live.NAME.  NAME is its HR_ACTOR.
 * MODE "notify": as "wait", and the live instance then says READY=1.
 * MODE "fd": as "wait", and the live instance then writes a newline to fd 5
 * (hr arun --ready-fd 5).
 * MODE "nowait": a program not made for standbys: it takes its block at
 * once, and exits 1 when that is refused.
 * MODE "ready": a standby that says READY=1 ($NOTIFY_SOCKET) at once,
 * without waiting.  MODE "readyfd": a standby that writes a newline to fd
 * 5 (hr arun --ready-fd 5) at once, without waiting.
 * SIGUSR1: a real SIGSEGV (a store through NULL); SIGUSR2: exit 3.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hotrestart/heap.h>
#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>
#include <pmm/chPmm.h>

static char name[48];

static void put(const char *file, const char *text)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s.%s", getenv("HR_SITE"), file, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) < 0 || rename(tmp, path) < 0)
        _exit(9);
    close(fd);
}

static void on_usr1(int sig)
{
    (void)sig;
    *(volatile int *)(uintptr_t)0 = 1; /* a real segmentation fault */
}

static void on_usr2(int sig)
{
    (void)sig;
    _exit(3);
}

static void notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof a.sun_path)
        return;
    strcpy(a.sun_path, path);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    sendto(s, "READY=1", 7, 0, (struct sockaddr *)&a, sizeof a);
    close(s);
}

/* What the calls on persistent blocks say in a standby. */
static void probe(void)
{
    pmm_bank *b;
    void *p;
    char text[256];
    PmmName pn = {"RAM", ""};
    VmAddr addr;
    hr_heap *h;
    snprintf(pn.name, sizeof pn.name, "sb.runs.%s", name);
    if (pmm_bank_open(&b, NULL, "RAM", 0) < 0)
        _exit(8);
    snprintf(text, sizeof text, "%d %d %d %d %d\n",
             pmm_alloc(b, pn.name, 4096, "KEEP", 5, 0, &p, NULL),
             pmm_free(b, pn.name),
             (int)pmmAllocate(&addr, &pn, 4096, "KEEP", 5),
             hr_spawn("sb.child", "/bin/true", (char *[]){"true", NULL}, NULL),
             hr_heap_open(&h, b, "sb.heap", 1 << 20, NULL, 0, 0));
    put("probe", text);
    pmm_bank_close(b);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "wait";
    const char *actor = getenv("HR_ACTOR");
    snprintf(name, sizeof name, "%s", actor ? actor : "none");
    long init_ms = argc > 2 ? atol(argv[2]) : 0;
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    if (init_ms > 0 && hr_is_standby())
        usleep((useconds_t)init_ms * 1000);
    if (hr_is_standby() && strcmp(mode, "ready") == 0) {
        notify_ready();
        for (;;)
            pause();
    }
    if (hr_is_standby() && strcmp(mode, "readyfd") == 0) {
        if (write(5, "\n", 1) != 1)
            return 5;
        for (;;)
            pause();
    }
    int notify = strcmp(mode, "notify") == 0;
    int fd5 = strcmp(mode, "fd") == 0 || strcmp(mode, "readyfd") == 0;
    if (hr_is_standby() && (strcmp(mode, "wait") == 0 || notify || fd5)) {
        probe();
        int r = hr_standby_wait();
        if (r < 0) {
            fprintf(stderr, "standby_actor: hr_standby_wait: %s\n",
                    pmm_strerror(r));
            return 4;
        }
    }
    PmmName pn = {"RAM", ""};
    int *runs;
    snprintf(pn.name, sizeof pn.name, "sb.runs.%s", name);
    if (pmmAllocate((VmAddr *)&runs, &pn, 4096, "KEEP", 5) != K_OK)
        return 1;
    ++*runs;
    const char *fds = getenv("LISTEN_FDS"), *lpid = getenv("LISTEN_PID");
    const char *restarts = getenv("HR_RESTARTS");
    char text[256];
    snprintf(text, sizeof text, "%d %s %s %d %d\n", (int)getpid(),
             restarts ? restarts : "-", fds ? fds : "0",
             lpid && atoi(lpid) == (int)getpid(), *runs);
    put("live", text);
    if (notify)
        notify_ready();
    if (fd5 && write(5, "\n", 1) != 1)
        return 5;
    for (;;)
        pause();
}
