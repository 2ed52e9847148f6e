/* SPDX-License-Identifier: MIT */
/*
 * ctl_raw.c - raw messages to a site's controller, for the tests that
 * attack it (see ctl_raw.h).  The reply is read as one hr_msg_hdr
 * (src/hr/proto.h); a longer one is cut, its header kept.
 */
#define _GNU_SOURCE
#include "ctl_raw.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"

int ctl_connect(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/control.sock",
             getenv("HR_SITE"));
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0, "connect: %s",
                 strerror(errno));
    return s;
}

int ctl_send_fd(const void *msg, size_t len, int fd)
{
    int s = ctl_connect();
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } c;
    memset(&c, 0, sizeof c);
    struct iovec iov = {(void *)msg, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        m.msg_control = c.buf;
        m.msg_controllen = sizeof c.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    cr_assert_eq(sendmsg(s, &m, MSG_NOSIGNAL), (ssize_t)len, "sendmsg: %s",
                 strerror(errno));
    struct hr_msg_hdr h;
    ssize_t n = recv(s, &h, sizeof h, 0);
    close(s);
    return n == (ssize_t)sizeof h ? h.arg : -EPIPE;
}
