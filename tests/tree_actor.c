/* SPDX-License-Identifier: MIT */
/*
 * tree_actor.c - an actor whose descendants shed what they can, for
 * test_trees: no library, only the sockets the controller holds for it
 * (sd_listen_fds: fds 3, 4... and $LISTEN_FDS).
 *
 *   tree_actor serve SITE [N]   accept on the N held sockets (default
 *                               $LISTEN_FDS) for ever, answering each
 *                               connection with this process's pid
 *   tree_actor escape SITE      start `setsid env -i tree_actor serve SITE
 *                               N` as its own child (a session of its own,
 *                               no environment at all, the held sockets
 *                               kept), as a shell actor running `setsid
 *                               env -i ./child &` would, then serve too
 *   tree_actor migrate SITE     the same, the child first moving itself
 *                               into the site's cgroup (named by the
 *                               site's file SITE/cgroup) out of its own,
 *                               as an actor may (the subtree is its
 *                               user's); exit 5 if it cannot
 *   tree_actor hold SITE        keep the first held socket only (the
 *                               others closed, as a program that serves
 *                               one of them may) and a dup() of it (as
 *                               Go's net.FileListener makes), accept
 *                               nothing until the file SITE/serve exists
 *                               (clients wait in the backlog), then
 *                               serve it
 * SITE is only a mark, by which the test finds every process of its site
 * whatever the process did to its environment.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void serve(int n)
{
    struct pollfd p[8];
    char line[32];
    if (n < 1 || n > 8)
        _exit(3);
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = 3 + i, .events = POLLIN};
    int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            int c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c < 0)
                continue;
            if (send(c, line, (size_t)len, MSG_NOSIGNAL) < 0)
                (void)0; /* the client left: its loss */
            close(c);
        }
    }
}

/* Move this process into the site's cgroup (the path in SITE/cgroup). */
static int into_site_cgroup(const char *site)
{
    char file[4300], cg[4200], line[32];
    snprintf(file, sizeof file, "%s/cgroup", site);
    FILE *f = fopen(file, "r");
    size_t k = f ? fread(cg, 1, sizeof cg - 1, f) : 0;
    if (f)
        fclose(f);
    cg[k] = 0;
    cg[strcspn(cg, "\n")] = 0;
    snprintf(file, sizeof file, "%s/cgroup.procs", cg);
    int fd = k ? open(file, O_WRONLY) : -1;
    int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
    int ok = fd >= 0 && write(fd, line, (size_t)len) == len;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *fds = getenv("LISTEN_FDS");
    int n = argc > 3 ? atoi(argv[3]) : fds ? atoi(fds) : 0;
    int migrate = strcmp(argv[1], "migrate") == 0;
    if (strcmp(argv[1], "escape") == 0 || migrate) {
        char count[16];
        snprintf(count, sizeof count, "%d", n);
        if (fork() == 0) {
            if (migrate && into_site_cgroup(argv[2]) != 0)
                _exit(5);
            /* argv[0]: the program's path (the actor itself runs from
             * the controller's copy of it) */
            execlp("setsid", "setsid", "env", "-i", argv[0], "serve", argv[2],
                   count, (char *)NULL);
            _exit(127);
        }
        serve(n);
    }
    if (strcmp(argv[1], "serve") == 0)
        serve(n);
    if (strcmp(argv[1], "hold") == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/serve", argv[2]);
        for (int fd = 4; fd < 3 + n; fd++)
            close(fd);
        if (fcntl(3, F_DUPFD, 20) < 0)
            _exit(4);
        while (access(path, F_OK) != 0)
            usleep(10000);
        serve(1);
    }
    return 2;
}
