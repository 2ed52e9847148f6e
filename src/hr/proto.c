/* SPDX-License-Identifier: MIT */
/*
 * proto.c - messages on the control socket, for the library and the
 * controller alike.  Nothing received is trusted: sizes, counts and strings
 * are checked before use.
 */
#define _GNU_SOURCE
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hotrestart/pmm.h>

#include "os/ctl.h"
#include "os/os.h"

int hr__msg_send(int sock, uint16_t type, int32_t arg, const void *payload,
                 uint32_t len, const int *fds, int nfds)
{
    struct hr_msg_hdr h = {HR_MSG_MAGIC, type, (uint16_t)nfds, arg, len};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)payload, len}};
    union {
        char buf[CMSG_SPACE(sizeof(int) * HR_MSG_MAXFDS)];
        struct cmsghdr align;
    } c;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (nfds < 0 || nfds > HR_MSG_MAXFDS || sizeof h + len > HR_MSG_MAX)
        return -EINVAL;
    if (nfds > 0) {
        memset(&c, 0, sizeof c);
        m.msg_control = c.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
    }
    int n = pmm__os_sendmsg(sock, &m);
    /* bigger than the socket's send buffer (a reply of a large site: the
     * default buffer holds about 208 KiB of the 256 KiB a message may
     * be): make it big enough, once */
    if (n == -EMSGSIZE && pmm__os_sndbuf_for(sock, sizeof h + len) == 0)
        n = pmm__os_sendmsg(sock, &m);
    if (n < 0)
        return n;
    return (size_t)n == sizeof h + len ? 0 : -EIO;
}

int hr__msg_recv(int sock, void *buf, struct hr_msg_hdr *hdr,
                 const char **payload, int *fds, int *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * HR_MSG_MAXFDS)];
        struct cmsghdr align;
    } c;
    struct iovec iov = {buf, HR_MSG_MAX};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
                       .msg_controllen = sizeof c.buf};
    *nfds = 0;
    int n = pmm__os_recvmsg(sock, &m);
    if (n < 0)
        return n;
    /* descriptors first, whatever the message: even an empty one (n == 0
     * on a SOCK_SEQPACKET socket) may carry some, and the caller closes
     * what it is given */
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *got = (int *)CMSG_DATA(cm);
        for (int i = 0; i < k; i++) {
            if (*nfds < HR_MSG_MAXFDS)
                fds[(*nfds)++] = got[i];
            else
                pmm__os_close(got[i]);
        }
    }
    if (n == 0 && *nfds == 0)
        return -ECONNRESET;
    memcpy(hdr, buf, (size_t)n < sizeof *hdr ? (size_t)n : sizeof *hdr);
    if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof *hdr ||
        hdr->magic != HR_MSG_MAGIC || hdr->len != (size_t)n - sizeof *hdr ||
        hdr->nfds != *nfds) {
        for (int i = 0; i < *nfds; i++)
            pmm__os_close(fds[i]);
        *nfds = 0;
        return -EBADMSG;
    }
    *payload = (const char *)buf + sizeof *hdr;
    return 0;
}

static int put(char *buf, size_t cap, size_t *at, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > cap - *at)
        return -E2BIG;
    memcpy(buf + *at, s, n);
    *at += n;
    return 0;
}

int hr__strings_encode(char *buf, size_t cap, const char *name, const char *cwd,
                       char *const argv[], char *const envp[])
{
    uint32_t argc = 0, envc = 0;
    size_t at = 8;
    while (argv && argv[argc])
        argc++;
    while (envp && envp[envc])
        envc++;
    if (cap < 8 || argc == 0 || argc > HR_MAX_ARGS || envc > HR_MAX_ARGS)
        return -E2BIG;
    memcpy(buf, &argc, 4);
    memcpy(buf + 4, &envc, 4);
    if ((name && put(buf, cap, &at, name)) || put(buf, cap, &at, cwd))
        return -E2BIG;
    for (uint32_t i = 0; i < argc; i++)
        if (put(buf, cap, &at, argv[i]))
            return -E2BIG;
    for (uint32_t i = 0; i < envc; i++)
        if (put(buf, cap, &at, envp[i]))
            return -E2BIG;
    return (int)at;
}

/* Next NUL-terminated string inside [*p, end). */
static const char *take(const char **p, const char *end)
{
    const char *s = *p, *z = memchr(s, 0, (size_t)(end - s));
    if (!z)
        return NULL;
    *p = z + 1;
    return s;
}

int hr__strings_decode(const char *p, uint32_t len, int with_name,
                       struct hr_strings *out)
{
    const char *end = p + len;
    if (len < 8)
        return -EBADMSG;
    memcpy(&out->argc, p, 4);
    memcpy(&out->envc, p + 4, 4);
    p += 8;
    if (out->argc == 0 || out->argc > HR_MAX_ARGS || out->envc > HR_MAX_ARGS)
        return -EBADMSG;
    out->name = NULL;
    if ((with_name && !(out->name = take(&p, end))) || !(out->cwd = take(&p, end)))
        return -EBADMSG;
    for (uint32_t i = 0; i < out->argc; i++)
        if (!(out->argv[i] = take(&p, end)))
            return -EBADMSG;
    for (uint32_t i = 0; i < out->envc; i++)
        if (!(out->envp[i] = take(&p, end)))
            return -EBADMSG;
    out->argv[out->argc] = NULL;
    out->envp[out->envc] = NULL;
    return p == end ? 0 : -EBADMSG;
}

int hr__connect(const char *site, int *sock)
{
    char dir[4096], path[4200];
    int r = pmm_site_path(dir, sizeof dir, site);
    if (r < 0)
        return r;
    snprintf(path, sizeof path, "%s/" HR_SOCK_NAME, dir);
    /* a controller that cannot answer (busy running the start-up file that
     * made this very call, say) costs the caller 30 s, not for ever */
    int s = pmm__os_connect(path, HR_CALL_TIMEOUT_S);
    if (s < 0) /* no socket file, or nobody behind it: no controller runs */
        return s == -ENOENT ? -ECONNREFUSED : s;
    *sock = s;
    return 0;
}

int hr__call(const char *site, uint16_t type, int32_t arg, const void *payload,
             uint32_t len, const int *fds, int nfds, char *reply, size_t cap)
{
    int s;
    int r = hr__connect(site, &s);
    return r < 0 ? r : hr__call_on(s, type, arg, payload, len, fds, nfds,
                                   reply, cap);
}

int hr__call_on(int s, uint16_t type, int32_t arg, const void *payload,
                uint32_t len, const int *fds, int nfds, char *reply, size_t cap)
{
    int rfds[HR_MSG_MAXFDS], nr, r;
    char *buf = malloc(HR_MSG_MAX);
    if (!buf) {
        pmm__os_close(s);
        return -ENOMEM;
    }
    struct hr_msg_hdr h;
    const char *p;
    r = hr__msg_send(s, type, arg, payload, len, fds, nfds);
    if (r == 0)
        r = hr__msg_recv(s, buf, &h, &p, rfds, &nr);
    if (r == 0) {
        for (int i = 0; i < nr; i++)
            pmm__os_close(rfds[i]);
        if (h.type != HR_REPLY)
            r = -EBADMSG;
        else
            r = h.arg;
        if (reply && cap) {
            size_t n = h.len < cap - 1 ? h.len : cap - 1;
            memcpy(reply, p, n);
            reply[n] = 0;
        }
    }
    free(buf);
    pmm__os_close(s);
    return r;
}
