/* SPDX-License-Identifier: MIT */
/*
 * upgrade_actor.c - a small server for test_upgrade (issue 26): state in
 * a persistent block, a held listening socket, persistent client
 * connections, and, asked to, its connections handed over to its next
 * instance.
 *
 *   upgrade_actor VERSION MODE [handover]
 *
 * It serves the held socket (fd 3, sd_listen_fds) with lines: "get"
 * answers "VERSION COUNT PID" and counts one in the block upg.count
 * (pmmAllocate, key "KEEP": the state every version shares); "pending"
 * answers "pending N", the bytes of unfinished lines it holds, over every
 * connection.  A standby (hr upgrade starts the new version as one)
 * initialises, then waits in hr_standby_wait() before it touches the
 * block.  Once it has its state it takes the connections a previous
 * instance handed over (with their pending bytes), then says READY=1.
 * MODE "serve": as above.  "exit": exits 3 at once (a version that
 * fails at start); "segv": dies of SIGSEGV at once; "hang": never ends
 * its initialisation (never waits as a standby).  "never": promoted, it hangs before it takes its
 * state and never says it is ready.  "notake": as "serve", without
 * taking the connections handed over.  "flood": gives /dev/null with
 * 1 KiB of pending bytes again and again until the controller refuses,
 * says on stdout how many it took and why it stopped, then waits.
 * "givebad": prints what hr_handover_give() answers for a descriptor
 * that is not open (999) and exits 0 (run by hand, as an actor: HR_ACTOR).
 * On SIGTERM it hands every connection over with its pending bytes when
 * "handover" is given and the controller asks (hr_handover_requested),
 * then exits 0; else it closes them and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <pmm/chPmm.h>

#define MAXC 64

static struct {
    int fd;
    size_t len;
    char buf[4096];
} cl[MAXC];
static int ncl;
static volatile sig_atomic_t term;
static const char *version;
static unsigned *count;

static void on_term(int sig)
{
    (void)sig;
    term = 1;
}

static void notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof a.sun_path)
        return;
    strcpy(a.sun_path, path);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sendto(s, "READY=1", 7, 0, (struct sockaddr *)&a, sizeof a);
    close(s);
}

static void add(int fd, const char *bytes, size_t n)
{
    if (ncl == MAXC || n > sizeof cl[0].buf) {
        close(fd);
        return;
    }
    cl[ncl].fd = fd;
    memcpy(cl[ncl].buf, bytes, n);
    cl[ncl++].len = n;
}

static void drop(int i)
{
    close(cl[i].fd);
    cl[i] = cl[--ncl];
}

/* Answer client i's complete lines; 0, or -1 when it is gone. */
static int answer(int i)
{
    char *nl, reply[128];
    while ((nl = memchr(cl[i].buf, '\n', cl[i].len))) {
        *nl = 0;
        if (strcmp(cl[i].buf, "get") == 0) {
            snprintf(reply, sizeof reply, "%s %u %d\n", version, ++*count,
                     (int)getpid());
        } else if (strcmp(cl[i].buf, "pending") == 0) {
            size_t n = 0; /* over the other connections */
            for (int k = 0; k < ncl; k++)
                n += k == i ? 0 : cl[k].len;
            snprintf(reply, sizeof reply, "pending %zu\n", n);
        } else {
            snprintf(reply, sizeof reply, "error\n");
        }
        size_t used = (size_t)(nl - cl[i].buf) + 1;
        memmove(cl[i].buf, nl + 1, cl[i].len - used);
        cl[i].len -= used;
        if (write(cl[i].fd, reply, strlen(reply)) < 0)
            return -1;
    }
    return 0;
}

/* SIGTERM: hand the connections over when asked, else close them. */
static void stop(int handover)
{
    int asked = handover ? hr_handover_requested() : 0;
    for (int i = 0; i < ncl; i++) {
        if (asked == 1 && hr_handover_give(cl[i].fd, cl[i].buf, cl[i].len) != 0)
            _exit(7);
        close(cl[i].fd);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    static char pending[HR_HANDOVER_MAX];
    struct sigaction sa = {.sa_handler = on_term};
    sigset_t block, none;
    if (argc < 3)
        return 2;
    version = argv[1];
    int handover = argc > 3 && strcmp(argv[3], "handover") == 0;
    if (strcmp(argv[2], "exit") == 0)
        return 3;
    if (strcmp(argv[2], "segv") == 0)
        raise(SIGSEGV);
    if (strcmp(argv[2], "hang") == 0)
        for (;;)
            pause(); /* its initialisation never ends */
    if (strcmp(argv[2], "givebad") == 0) {
        printf("%d\n", hr_handover_give(999, NULL, 0));
        return 0;
    }
    if (strcmp(argv[2], "flood") == 0) {
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC), r = 0;
        long gave = 0;
        while (null >= 0 && gave < 100000 &&
               (r = hr_handover_give(null, pending, 1024)) == 0)
            gave++;
        printf("flood: %ld given, then %d (%s)\n", gave, r, strerror(-r));
        fflush(stdout);
        for (;;)
            pause();
    }
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &none);
    sigaction(SIGTERM, &sa, NULL);
    if (hr_standby_wait() != 0) /* initialised: wait to be promoted */
        return 4;
    if (strcmp(argv[2], "never") == 0)
        for (;;)
            pause(); /* stuck before it takes its state: never ready */
    PmmName name = {.medium = "RAM", .name = "upg.count"};
    VmAddr at = 0;
    if (pmmAllocate(&at, &name, sizeof *count, "KEEP", 5) != K_OK)
        return 5;
    count = (unsigned *)at;
    size_t n = sizeof pending;
    int fd, r = 0;
    while (strcmp(argv[2], "notake") != 0 &&
           (r = hr_handover_take(&fd, pending, &n)) == 1) {
        add(fd, pending, n);
        if (answer(ncl - 1) < 0)
            drop(ncl - 1);
        n = sizeof pending;
    }
    if (r < 0)
        return 6;
    notify_ready();
    for (;;) {
        struct pollfd p[MAXC + 1] = {{.fd = 3, .events = POLLIN}};
        for (int i = 0; i < ncl; i++)
            p[i + 1] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
        int k = ppoll(p, (nfds_t)ncl + 1, NULL, &none);
        if (term)
            stop(handover);
        if (k < 0)
            continue;
        for (int i = ncl - 1; i >= 0; i--) {
            if (!p[i + 1].revents)
                continue;
            ssize_t got = read(cl[i].fd, cl[i].buf + cl[i].len,
                               sizeof cl[i].buf - cl[i].len);
            if (got <= 0 || (cl[i].len += (size_t)got, answer(i) < 0))
                drop(i);
        }
        if (p[0].revents && (fd = accept4(3, NULL, NULL, SOCK_CLOEXEC)) >= 0)
            add(fd, "", 0);
    }
}
