/* SPDX-License-Identifier: MIT */
/*
 * listen.c - listening sockets: inherited (sd_listen_fds) or our own; the
 * descriptors the connections need (RLIMIT_NOFILE, raised as memcached
 * raises it); and the READY=1 of sd_notify, the other half of systemd's
 * conventions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

#define BACKLOG 1024

static int parse_uint(const char *s, unsigned long *v)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s < '0' || *s > '9')
        return -1;
    *v = strtoul(s, &end, 10);
    return errno || *end ? -1 : 0;
}

static int make_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

int mc_listen_inherited(int *fds, int max)
{
    unsigned long pid, n;
    const char *spid = getenv("LISTEN_PID"), *sn = getenv("LISTEN_FDS");
    if (!sn)
        return 0;
    if (parse_uint(spid, &pid) < 0 || parse_uint(sn, &n) < 0)
        return -EINVAL;
    if (pid != (unsigned long)getpid())
        return 0;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n > (unsigned long)max)
        return -EINVAL;
    for (int i = 0; i < (int)n; i++) {
        int fd = 3 + i, type, acc;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
            type != SOCK_STREAM)
            return -EBADF;
        len = sizeof acc;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc)
            return -EBADF;
        int r = make_nonblocking(fd);
        if (r < 0)
            return r;
        fds[i] = fd;
    }
    return (int)n;
}

int mc_listen_tcp(const char *addr, const char *port, int *fds, int max,
                  const char **why)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM}, *ai, *a;
    int r = getaddrinfo(addr, port, &hints, &ai), n = 0;
    if (r != 0) {
        *why = gai_strerror(r);
        return -EINVAL;
    }
    for (a = ai; a && n < max; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
                        SOCK_CLOEXEC, a->ai_protocol), on = 1;
        if (fd < 0) {
            r = -errno, *why = "socket";
            goto fail;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (a->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0) {
            r = -errno, *why = "bind";
            close(fd);
            goto fail;
        }
        if (listen(fd, BACKLOG) < 0) {
            r = -errno, *why = "listen";
            close(fd);
            goto fail;
        }
        fds[n++] = fd;
    }
    freeaddrinfo(ai);
    return n;
fail:
    freeaddrinfo(ai);
    while (n > 0)
        close(fds[--n]);
    return r;
}

int mc_listen_unix(const char *path, const char **why)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        *why = "path too long for a Unix socket";
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket";
        return -errno;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);          /* left by an earlier life of the server */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        *why = "bind";
        goto fail;
    }
    if (listen(fd, BACKLOG) < 0) {
        *why = "listen";
        goto fail;
    }
    return fd;
fail:;
    int r = -errno;
    close(fd);
    return r;
}

int mc_notify_ready(void)
{
    static const char msg[] = "READY=1";
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
        return -EINVAL;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = 0;    /* an abstract name */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    ssize_t r = sendto(fd, msg, sizeof msg - 1, MSG_NOSIGNAL,
                       (struct sockaddr *)&sa, len);
    int err = r < 0 ? -errno : 0;
    close(fd);
    return err;
}

int mc_files_fit(uint64_t need, uint64_t *cur, uint64_t *max)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    *cur = rl.rlim_cur;
    *max = rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    rl.rlim_cur = need;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        rl.rlim_max = need;     /* as memcached: a privileged process may */
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -errno;
    *cur = rl.rlim_cur;
    *max = rl.rlim_max;
    return 0;
}
