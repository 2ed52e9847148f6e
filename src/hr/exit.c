/* SPDX-License-Identifier: MIT */
/*
 * exit.c - HR_EXIT_HDL()'s request, async-signal-safe.
 *
 * A service marks its exit as clean from its SIGTERM handler, just before
 * _exit(): the signal may have interrupted malloc() or stdio in the middle,
 * so this path calls nothing that is not async-signal-safe.  It allocates
 * nothing, formats nothing and reads no environment: the actor's site was
 * captured before main (src/pmm/ident.c), the control socket's path is put
 * together with memcpy() on the stack, and the request and its reply are
 * one fixed header each (proto.h) sent and received by system calls alone:
 * hr__bare_call(), which a standby's wait uses too (standby.c), for it
 * allocates nothing.
 * errno is as the caller left it when this returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <hotrestart/hr.h>

#include "os/ctl.h"
#include "os/os.h"
#include "pmm/ident.h"
#include "proto.h"

static int bare_connect(const char *site, int timeout_s)
{
    char path[sizeof ((struct sockaddr_un *)0)->sun_path];
    size_t n = strlen(site);
    if (n + 1 + sizeof HR_SOCK_NAME > sizeof path)
        return -ENAMETOOLONG;
    memcpy(path, site, n);
    path[n] = '/';
    memcpy(path + n + 1, HR_SOCK_NAME, sizeof HR_SOCK_NAME);
    int s = pmm__os_connect(path, timeout_s);
    return s == -ENOENT ? -ECONNREFUSED : s;
}

static int bare_reply(int s)
{
    struct hr_msg_hdr h;
    char text[128];
    struct iovec iov[2] = {{&h, sizeof h}, {text, sizeof text}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    int got = pmm__os_recvmsg(s, &m);
    if (got == 0)
        return -ECONNRESET; /* the controller went away */
    if (got < 0)
        return got;
    if ((size_t)got < sizeof h || h.magic != HR_MSG_MAGIC ||
        h.type != HR_REPLY || h.nfds != 0)
        return -EBADMSG;
    return h.arg;
}

int hr__bare_call(const char *site, uint16_t type, int timeout_s)
{
    int s = bare_connect(site, timeout_s);
    if (s < 0)
        return s;
    int r = hr__msg_send(s, type, 0, NULL, 0, NULL, 0);
    if (r == 0)
        r = bare_reply(s);
    pmm__os_close(s);
    return r;
}

int hr_exit_hdl(void)
{
    int saved = errno, r;
    const char *site = pmm__ident_site();
    /* Not started by a controller: no identity to use, and no need for
     * care (the controller will refuse it, -EPERM, if one runs). */
    if (!site)
        r = hr__call(NULL, HR_REQ_EXIT_HDL, 0, NULL, 0, NULL, 0, NULL, 0);
    else
        r = hr__bare_call(site, HR_REQ_EXIT_HDL, HR_CALL_TIMEOUT_S);
    errno = saved;
    return r;
}
