/* SPDX-License-Identifier: MIT */
/*
 * upgrade.c - the client side of warm upgrades: hr_upgrade(),
 * hr_upgrade_group() (one request answered when the upgrade is over), and
 * the handover of client connections between an actor's instances
 * (hr_handover_requested/give/take), each one request on the control
 * socket, a connection passed with SCM_RIGHTS (daemon/upgrade.h,
 * daemon/handover.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "os/ctl.h"
#include "os/os.h"
#include "pmm/ident.h"
#include "proto.h"

/* A connection to site's controller whose receives wait for ever: an
 * upgrade lasts its timeout and the old instance's stop. */
static int connect_patient(const char *site, int *sock)
{
    char dir[4096], path[4200];
    int r = pmm_site_path(dir, sizeof dir, site);
    if (r < 0)
        return r;
    snprintf(path, sizeof path, "%s/" HR_SOCK_NAME, dir);
    int s = pmm__os_connect(path, 0);
    if (s < 0)
        return s == -ENOENT ? -ECONNREFUSED : s;
    *sock = s;
    return 0;
}

static int upgrade(const char *site, int group, const char *actor,
                   const char *path, char *const argv[], const hr_upgrade_opts *o)
{
    static const uint64_t zero[4];
    static char *const no_env[] = {NULL};
    char cwd[PATH_MAX];
    struct hr_upgrade_wire w = {.timeout_ms = HR_UPGRADE_TIMEOUT_MS};
    if (o && memcmp(o->reserved, zero, sizeof zero) != 0)
        return -EINVAL;
    if (o && o->why && o->why_cap)
        o->why[0] = 0;
    if (o && o->timeout_ms)
        w.timeout_ms = o->timeout_ms;
    w.flags = o ? o->flags : 0;
    if (!path || !argv || !argv[0] || !actor ||
        w.timeout_ms > HR_UPGRADE_TIMEOUT_LIMIT_MS ||
        (w.flags & ~(HR_UPGRADE_COLD | HR_UPGRADE_ALL_AT_ONCE)))
        return -EINVAL;
    int r = pmm__os_getcwd(cwd, sizeof cwd);
    char *buf = r < 0 ? NULL : malloc(HR_MSG_MAX);
    if (r < 0 || !buf)
        return r < 0 ? r : -ENOMEM;
    memcpy(buf, &w, sizeof w);
    int len = hr__strings_encode(buf + sizeof w, HR_MSG_MAX - sizeof w - 64,
                                 actor, cwd, argv, no_env);
    int fd = len < 0 ? len : pmm__os_open_fd(path, O_RDONLY, 0);
    if (fd >= 0) {
        int sock;
        r = connect_patient(site, &sock);
        if (r == 0)
            r = hr__call_on(sock, HR_REQ_UPGRADE, group, buf,
                            (uint32_t)(len + (int)sizeof w), &fd, 1,
                            o ? o->why : NULL, o ? o->why_cap : 0);
        pmm__os_close(fd);
    } else {
        r = fd;
        if (len >= 0 && o && o->why && o->why_cap) /* the file, not the site */
            snprintf(o->why, o->why_cap, "the program %s cannot be opened: %s",
                     path, pmm_strerror(fd));
    }
    free(buf);
    return r;
}

int hr_upgrade(const char *site, const char *actor, const char *path,
               char *const argv[], const hr_upgrade_opts *o)
{
    if (!actor || !*actor)
        return -EINVAL;
    return upgrade(site, -1, actor, path, argv, o);
}

int hr_upgrade_group(const char *site, int group, const char *path,
                     char *const argv[], const hr_upgrade_opts *o)
{
    if (group < 0)
        return -EINVAL;
    return upgrade(site, group, "", path, argv, o);
}

int hr_handover_requested(void)
{
    const char *site = pmm__ident_site();
    if (!site)
        return 0; /* no controller started it: none asks */
    return hr__call(site, HR_REQ_HANDOVER, HR_HANDOVER_ASK, NULL, 0, NULL, 0,
                    NULL, 0);
}

int hr_handover_give(int fd, const void *pending, size_t n)
{
    const char *site = pmm__ident_site();
    if (n > HR_HANDOVER_MAX || (n && !pending) || fd < 0)
        return -EINVAL;
    if (!site)
        return -EPERM;
    return hr__call(site, HR_REQ_HANDOVER, HR_HANDOVER_GIVE, pending,
                    (uint32_t)n, &fd, 1, NULL, 0);
}

int hr_handover_take(int *fd, void *buf, size_t *n)
{
    const char *site = pmm__ident_site();
    int s, rfds[HR_MSG_MAXFDS], nr = 0;
    struct hr_msg_hdr h;
    const char *p;
    if (!fd || !n || (*n && !buf))
        return -EFAULT;
    if (!site)
        return 0; /* no controller started it: nothing was given */
    uint32_t cap = *n > HR_HANDOVER_MAX ? HR_HANDOVER_MAX : (uint32_t)*n;
    int r = hr__connect(site, &s);
    if (r < 0)
        return r;
    char *msg = malloc(HR_MSG_MAX);
    if (!msg) {
        pmm__os_close(s);
        return -ENOMEM;
    }
    r = hr__msg_send(s, HR_REQ_HANDOVER, HR_HANDOVER_TAKE, &cap, sizeof cap,
                     NULL, 0);
    if (r == 0)
        r = hr__msg_recv(s, msg, &h, &p, rfds, &nr);
    if (r == 0) {
        r = h.type != HR_REPLY ? -EBADMSG : h.arg < 0 ? h.arg
            : nr != 1 || h.len > cap ? -EBADMSG : 1;
        if (r == 1) {
            if (h.len)
                memcpy(buf, p, h.len);
            *n = h.len;
            *fd = rfds[0];
        } else {
            for (int i = 0; i < nr; i++)
                pmm__os_close(rfds[i]);
        }
    }
    free(msg);
    pmm__os_close(s);
    return r == -ENOENT ? 0 : r;
}
