/* SPDX-License-Identifier: MIT */
/*
 * ctl_net.c - the controller's sockets behind the contract of ctl.h: Unix
 * stream and datagram sockets (owner-only, a stale file replaced), TCP
 * listeners, peer credentials, connect with a deadline, sendmsg/recvmsg.
 * Every descriptor non-blocking where ctl.h says so and close-on-exec;
 * keeps no state.
 */
#define _GNU_SOURCE
#include "ctl.h"
#include "retry.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
/* A non-blocking socket of type bound at path, owner-only (a stale file
 * there replaced), or -errno. */
static int bound_at(const char *path, int type)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", path) >=
        (int)sizeof a.sun_path)
        return -ENAMETOOLONG;
    int s = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    unlink(a.sun_path);
    mode_t old = umask(077);
    int r = bind(s, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (r == 0)
        r = chmod(a.sun_path, 0600);
    if (r < 0) {
        r = -errno;
        close(s);
        return r;
    }
    return s;
}

/* s, or -errno (s closed) when r failed. */
static int kept_if(int s, int r)
{
    if (r == 0)
        return s;
    r = -errno;
    close(s);
    return r;
}

int pmm__os_listen(const char *path, int backlog)
{
    int s = bound_at(path, SOCK_SEQPACKET);
    return s < 0 ? s : kept_if(s, listen(s, backlog));
}

int pmm__os_dgram_bind(const char *path)
{
    int on = 1, s = bound_at(path, SOCK_DGRAM);
    return s < 0 ? s : kept_if(s, setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on,
                                             sizeof on));
}

int pmm__os_recv_from_pid(int fd, char *buf, size_t cap, pid_t *pid)
{
    union {
        char space[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } c;
    struct iovec iov = {buf, cap - 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = c.space, .msg_controllen = sizeof c.space};
    int n = RETRY(recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
    if (n < 0)
        return n;
    buf[n] = 0;
    *pid = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(h), sizeof u);
            *pid = u.pid;
        } else if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
            /* descriptors sent along (FDSTORE=1) are not kept */
            int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(h) + i * sizeof f, sizeof f);
                close(f);
            }
        }
    }
    return n;
}

/* Whether something listens at the socket file path: 1 (a connection was
 * taken, or the backlog is full), 0 when nobody does (a stale file), or
 * -errno. */
static int someone_listens(const struct sockaddr_un *a)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    int r = RETRY(connect(s, (const struct sockaddr *)a, sizeof *a));
    close(s);
    if (r == 0 || r == -EAGAIN)
        return 1;
    return r == -ECONNREFUSED ? 0 : r;
}

/* A socket file where nobody listens any more is stale and replaced; one
 * where somebody listens is theirs (-EADDRINUSE), as a TCP port in use
 * is; a symbolic link is refused (-ELOOP): bind would not follow it; any
 * other file (a directory...) is no address in use but a mistake
 * (-ENOTSOCK, why saying so). */
static int listen_unix_stream(const char *path, int backlog, char *why,
                              size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct stat st;
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", path) >=
        (int)sizeof a.sun_path)
        return -ENAMETOOLONG;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode))
            return -ELOOP;
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(why, cap, "%s exists and is not a socket%s", path,
                     S_ISDIR(st.st_mode) ? " (a directory)" : "");
            return -ENOTSOCK;
        }
        int r = someone_listens(&a);
        if (r != 0)
            return r > 0 ? -EADDRINUSE : r;
        unlink(path);
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, backlog) < 0) {
        int r = -errno;
        close(s);
        return r;
    }
    return s;
}

/* The address of HOST:PORT, as listen_tcp binds it: the first one
 * getaddrinfo gives.  0 or -EINVAL; why (cap bytes, may be NULL) says
 * why a host lookup failed (gai_strerror's words). */
static int tcp_address(const char *hostport, struct sockaddr_storage *ss,
                       socklen_t *len, int *protocol, char *why, size_t cap)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    /* the port in decimal, 0 (the kernel's pick) to 65535: getaddrinfo
     * takes 99999 and wraps it */
    size_t digits = colon ? strspn(colon + 1, "0123456789") : 0;
    if (!colon || colon == hostport || !digits || digits > 5 || colon[1 + digits] ||
        atoi(colon + 1) > 65535 ||
        (size_t)(colon - hostport) >= sizeof host)
        return -EINVAL;
    const char *h = hostport;
    size_t hl = (size_t)(colon - hostport);
    if (h[0] == '[' && h[hl - 1] == ']')
        h++, hl -= 2;
    memcpy(host, h, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0) {
        if (why)
            snprintf(why, cap, "host %s: %s", host,
                     gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return -EINVAL;
    }
    int r = ai->ai_addrlen <= sizeof *ss ? 0 : -EINVAL;
    if (r == 0) {
        memcpy(ss, ai->ai_addr, ai->ai_addrlen);
        *len = ai->ai_addrlen;
        *protocol = ai->ai_protocol;
    }
    freeaddrinfo(ai);
    return r;
}

static int listen_tcp(const char *hostport, int backlog, char *why,
                      size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int proto, on = 1, r = tcp_address(hostport, &ss, &len, &proto, why, cap);
    if (r < 0)
        return r;
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, proto);
    if (s < 0)
        return -errno;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, backlog) < 0) {
        r = -errno;
        close(s);
        return r;
    }
    return s;
}

int pmm__os_listen_spec(const char *spec, int backlog, char *why, size_t cap)
{
    if (cap)
        why[0] = 0;
    if (strncmp(spec, "tcp:", 4) == 0)
        return listen_tcp(spec + 4, backlog, why, cap);
    if (strncmp(spec, "unix:", 5) == 0 && spec[5])
        return listen_unix_stream(spec + 5, backlog, why, cap);
    return -EINVAL;
}

int pmm__os_is_listening(int fd)
{
    int type = 0, on = 0;
    socklen_t l1 = sizeof type, l2 = sizeof on;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 &&
           type == SOCK_STREAM &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &l2) == 0 && on;
}

/* 1 when the bound address got (of length len) is the one spec names:
 * a unix path, or a TCP family, address and port (port 0, any port the
 * kernel picks, names none: no socket is that one). */
static int same_address(const struct sockaddr_storage *got, socklen_t len,
                        const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0) {
        const struct sockaddr_un *u = (const void *)got;
        return got->ss_family == AF_UNIX &&
               len > offsetof(struct sockaddr_un, sun_path) &&
               strncmp(u->sun_path, spec + 5, sizeof u->sun_path) == 0;
    }
    struct sockaddr_storage want;
    socklen_t wlen;
    int proto;
    if (strncmp(spec, "tcp:", 4) != 0 ||
        tcp_address(spec + 4, &want, &wlen, &proto, NULL, 0) < 0 ||
        want.ss_family != got->ss_family)
        return 0;
    if (want.ss_family == AF_INET) {
        const struct sockaddr_in *w = (const void *)&want, *g = (const void *)got;
        return w->sin_addr.s_addr == g->sin_addr.s_addr &&
               w->sin_port == g->sin_port;
    }
    if (want.ss_family == AF_INET6) {
        const struct sockaddr_in6 *w = (const void *)&want, *g = (const void *)got;
        return memcmp(&w->sin6_addr, &g->sin6_addr, sizeof w->sin6_addr) == 0 &&
               w->sin6_port == g->sin6_port;
    }
    return 0;
}

int pmm__os_listens_on(int fd, const char *spec)
{
    struct sockaddr_storage got;
    socklen_t len = sizeof got;
    memset(&got, 0, sizeof got);
    if (!pmm__os_is_listening(fd) ||
        getsockname(fd, (struct sockaddr *)&got, &len) < 0)
        return 0;
    return same_address(&got, len, spec);
}

int pmm__os_unlink_socket_of(int fd)
{
    struct sockaddr_un u;
    socklen_t len = sizeof u;
    struct stat st;
    memset(&u, 0, sizeof u);
    if (getsockname(fd, (struct sockaddr *)&u, &len) < 0)
        return -errno;
    if (u.sun_family != AF_UNIX || !u.sun_path[0] ||
        len <= offsetof(struct sockaddr_un, sun_path))
        return 0; /* TCP, or abstract: no file */
    u.sun_path[sizeof u.sun_path - 1] = 0;
    if (lstat(u.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    return ret(unlink(u.sun_path));
}

int pmm__os_accept(int fd)
{
    return RETRY(accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
}

int pmm__os_peer(int fd, uid_t *uid, pid_t *pid)
{
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
        return -errno;
    *uid = cred.uid;
    *pid = cred.pid;
    return 0;
}

int pmm__os_send_to(const char *addr, const void *msg, size_t len)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", addr) >=
        (int)sizeof a.sun_path)
        return -ENAMETOOLONG;
    /* a path is NUL-terminated inside sun_path; an abstract name is
     * exactly its bytes after the leading NUL, no more: the address's
     * length says where it ends (sd_notify(3)) */
    socklen_t alen = sizeof a;
    if (addr[0] == '@') {
        a.sun_path[0] = 0;
        alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                           strlen(addr));
    }
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    int r = ret(sendto(s, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&a,
                       alen));
    close(s);
    return r < 0 ? r : 0;
}

int pmm__os_connect(const char *path, int timeout_s)
{
    /* no snprintf: HR_EXIT_HDL() calls this from signal handlers */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof a.sun_path)
        return -ENAMETOOLONG;
    memcpy(a.sun_path, path, n + 1);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct timeval tv = {timeout_s, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        int r = -errno;
        close(s);
        return r;
    }
    return s;
}

int pmm__os_sendmsg(int fd, const struct msghdr *m)
{
    return RETRY(sendmsg(fd, m, MSG_NOSIGNAL));
}

int pmm__os_recvmsg(int fd, struct msghdr *m)
{
    return RETRY(recvmsg(fd, m, MSG_CMSG_CLOEXEC));
}

int pmm__os_sndbuf_for(int fd, size_t len)
{
    /* the kernel doubles what it is given (its own bookkeeping) and
     * wants the message plus a little under that */
    int want = len > (size_t)INT_MAX - 4096 ? INT_MAX : (int)len + 4096;
    return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) < 0 ? -errno : 0;
}
