/*
 * sock.c - the control socket, behind os.h.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int pmm__os_unix_connect(const char *path, int timeout_s, int *fd)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct timeval tv = {timeout_s, 0};
    int s, r;
    if (strlen(path) >= sizeof a.sun_path)
        return -ENAMETOOLONG;
    strcpy(a.sun_path, path);
    if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        goto fail;
    /* not retried on EINTR: the connection goes on in the background */
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        goto fail;
    *fd = s;
    return 0;
fail:
    r = -errno;
    close(s);
    return r;
}

ssize_t pmm__os_sendmsg(int fd, const struct msghdr *m, int flags)
{
    ssize_t n;
    do
        n = sendmsg(fd, m, flags);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t pmm__os_recvmsg(int fd, struct msghdr *m, int flags)
{
    ssize_t n;
    do
        n = recvmsg(fd, m, flags);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}
