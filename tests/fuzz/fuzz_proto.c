/* SPDX-License-Identifier: MIT */
/*
 * fuzz_proto.c - the control protocol's decoder: one message, as a peer
 * would send it on the controller's socket, received with hr__msg_recv()
 * and, when it passes, its string list decoded as the controller does.
 *
 * Byte 0 of the input: bits 0-2, descriptors passed with it (up to 7, more
 * than the protocol takes); bit 3, decode with a name (SPAWN).  The rest is
 * the message.  No descriptor may be left behind: the harness aborts if
 * the lowest free descriptor moved, an empty message included (the
 * receive path once kept what came with one).
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "hr/proto.h"

static int sv[2] = {-1, -1}, devnull = -1;
static void *buf;

/* Raw, not through hr__msg_send(): any bytes, and more descriptors than
 * the protocol allows. */
static void send_msg(const uint8_t *msg, size_t len, int nfds)
{
    union {
        char b[CMSG_SPACE(sizeof(int) * 7)];
        struct cmsghdr h;
    } c = {.h = {.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds),
                 .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS}};
    for (int i = 0; i < nfds; i++)
        memcpy(CMSG_DATA(&c.h) + sizeof(int) * (size_t)i, &devnull,
               sizeof(int));
    struct iovec iov = {(void *)msg, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = nfds ? c.b : NULL,
                       .msg_controllen =
                           nfds ? CMSG_SPACE(sizeof(int) * (size_t)nfds) : 0};
    if (sendmsg(sv[0], &m, 0) != (ssize_t)len)
        abort();
}

static int lowest_free_fd(void)
{
    int fd = dup(0);
    close(fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sv[0] < 0) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
            (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
            !(buf = malloc(HR_MSG_MAX)))
            abort();
        int big = 1 << 20;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    }
    if (size == 0)
        return 0;
    int nfds = data[0] & 7, with_name = (data[0] >> 3) & 1;
    data++, size--;
    int before = lowest_free_fd();
    send_msg(data, size, nfds);
    struct hr_msg_hdr h;
    const char *payload;
    int fds[HR_MSG_MAXFDS], n = 0;
    int r = hr__msg_recv(sv[1], buf, &h, &payload, fds, &n);
    if (r == 0) {
        struct hr_strings s;
        if (n > HR_MSG_MAXFDS)
            abort();
        for (int i = 0; i < n; i++)
            close(fds[i]);
        hr__strings_decode(payload, h.len, with_name, &s);
    }
    if (lowest_free_fd() != before)
        abort(); /* a passed descriptor was kept */
    return 0;
}
